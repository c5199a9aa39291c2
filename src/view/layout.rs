//! Where everything goes: node columns grouped by zone, pod cards stacked in
//! their node's column with their volumes beneath, a lane for pods not yet
//! scheduled, and a shelf for volumes no pod is using; the lane and the
//! shelf only while they hold something, so the nodes get their room. Pure:
//! Scene in, rectangles out (y grows downwards here; the drawing flips it).

use super::scene::Scene;
use crate::sim::model::OwnerKind;
use std::collections::BTreeMap;

pub const COL_W: f32 = 250.0;
pub const COL_GAP: f32 = 24.0;
pub const ZONE_GAP: f32 = 48.0;
pub const NODE_HEADER_H: f32 = 130.0;
pub const POD_H: f32 = 92.0;
pub const DEPLOY_POD_H: f32 = 64.0;
pub const VOL_H: f32 = 30.0;
pub const SLOT_GAP: f32 = 14.0;
pub const PAD: f32 = 10.0;
pub const LANE_H: f32 = 110.0;
/// Above the columns when no lane is: the zone bands' labels.
pub const ZONE_LABEL_H: f32 = 34.0;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Rect { x, y, w, h }
    }
    pub fn center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x && x <= self.x + self.w && y >= self.y && y <= self.y + self.h
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Node columns (whole column) by node name.
    pub nodes: BTreeMap<String, Rect>,
    /// Pod cards by pod key.
    pub pods: BTreeMap<String, Rect>,
    /// Volume chips by volume name.
    pub volumes: BTreeMap<String, Rect>,
    /// Zone bands (label, rect) behind their node columns.
    pub zones: Vec<(String, Rect)>,
    /// The lane of pods waiting for a node (zero height when none waits).
    pub pending: Rect,
    /// The shelf of volumes no pod is using (zero height when there are none).
    pub shelf: Rect,
    pub bounds: Rect,
}

impl Layout {
    /// What is under a point: "pod/<key>", "pv/<name>" or "node/<name>".
    pub fn hit(&self, x: f32, y: f32) -> Option<String> {
        if let Some((k, _)) = self.pods.iter().find(|(_, r)| r.contains(x, y)) {
            return Some(k.clone());
        }
        if let Some((k, _)) = self.volumes.iter().find(|(_, r)| r.contains(x, y)) {
            return Some(format!("pv/{k}"));
        }
        self.nodes
            .iter()
            .find(|(_, r)| r.contains(x, y))
            .map(|(k, _)| format!("node/{k}"))
    }
}

fn pod_height(kind: OwnerKind) -> f32 {
    match kind {
        OwnerKind::StatefulSet => POD_H,
        OwnerKind::Deployment => DEPLOY_POD_H,
    }
}

/// Lays the scene out. Deterministic: same scene, same rectangles. Columns
/// keep their place as pods come and go (nodes are sorted by zone and name,
/// pods by workload and name), so nothing jumps.
pub fn layout(scene: &Scene) -> Layout {
    let mut out = Layout::default();
    let any_pending = scene.pods.iter().any(|p| p.node.is_none());
    // Room for the zone labels above the columns, and the lane above them
    // when a pod waits for a node.
    let top = if any_pending {
        LANE_H + PAD * 2.0
    } else {
        ZONE_LABEL_H + PAD
    };

    // Volumes drawn in a node column: attached (or still mounted) there,
    // unless their pod runs on that node (then they sit under the pod).
    let pod_node: BTreeMap<&str, Option<&str>> = scene
        .pods
        .iter()
        .filter(|p| !p.stray)
        .map(|p| (p.name.as_str(), p.node.as_deref()))
        .collect();
    let vol_home = |v: &super::scene::VolumeView| -> Option<String> {
        let wanted = v
            .pod
            .as_deref()
            .and_then(|p| pod_node.get(p).copied().flatten());
        // Attached somewhere its pod is not: drawn in that node's column.
        v.attached
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| Some(*n) != wanted)
            .map(str::to_string)
    };
    let mut stray: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in &scene.volumes {
        if let Some(n) = vol_home(v) {
            stray.entry(n).or_default().push(v.name.clone());
        }
    }
    // Pods' own volumes: by claim.
    let vol_of_claim: BTreeMap<&str, &str> = scene
        .volumes
        .iter()
        .map(|v| (v.claim.as_str(), v.name.as_str()))
        .collect();

    let mut x = PAD;
    let mut zone: Option<(String, f32)> = None;
    let mut max_h: f32 = 0.0;
    let close_zone = |out: &mut Layout, zone: &Option<(String, f32)>, x_end: f32| {
        if let Some((z, x0)) = zone {
            out.zones.push((
                z.clone(),
                Rect::new(*x0 - PAD, top - 34.0, x_end - *x0 + PAD, 0.0),
            ));
        }
    };
    for n in &scene.nodes {
        if zone.as_ref().is_none_or(|(z, _)| *z != n.zone) {
            if zone.is_some() {
                close_zone(&mut out, &zone, x - COL_GAP + PAD);
                x += ZONE_GAP - COL_GAP;
            }
            zone = Some((n.zone.clone(), x));
        }
        let mut y = top + NODE_HEADER_H + PAD;
        for p in scene
            .pods
            .iter()
            .filter(|p| p.node.as_deref() == Some(n.name.as_str()))
        {
            let h = pod_height(p.owner_kind);
            out.pods
                .insert(p.key.clone(), Rect::new(x + PAD, y, COL_W - 2.0 * PAD, h));
            y += h;
            for c in &p.claims {
                if let Some(v) = vol_of_claim.get(c.as_str()) {
                    if !stray.values().any(|s| s.iter().any(|x| x == v)) {
                        out.volumes.insert(
                            v.to_string(),
                            Rect::new(x + PAD + 12.0, y + 4.0, COL_W - 2.0 * PAD - 12.0, VOL_H),
                        );
                    }
                    y += VOL_H + 4.0;
                }
            }
            y += SLOT_GAP;
        }
        for v in stray.get(&n.name).into_iter().flatten() {
            out.volumes.insert(
                v.clone(),
                Rect::new(x + PAD + 12.0, y + 4.0, COL_W - 2.0 * PAD - 12.0, VOL_H),
            );
            y += VOL_H + 8.0;
        }
        let h = (y - top).max(NODE_HEADER_H + 3.0 * (POD_H + VOL_H + SLOT_GAP));
        out.nodes
            .insert(n.name.clone(), Rect::new(x, top, COL_W, h));
        max_h = max_h.max(h);
        x += COL_W + COL_GAP;
    }
    close_zone(&mut out, &zone, x - COL_GAP + PAD);
    let width = (x - COL_GAP + PAD).max(COL_W * 2.0);
    for (_, r) in &mut out.zones {
        r.h = max_h + 34.0 + PAD;
    }
    for r in out.nodes.values_mut() {
        r.h = max_h;
    }

    // Pending lane (top): pods with no node.
    if any_pending {
        out.pending = Rect::new(0.0, 0.0, width, LANE_H);
    }
    let mut px = PAD * 2.0 + 150.0;
    for p in scene.pods.iter().filter(|p| p.node.is_none()) {
        out.pods.insert(
            p.key.clone(),
            Rect::new(px, PAD + 8.0, COL_W - 2.0 * PAD, pod_height(p.owner_kind)),
        );
        px += COL_W;
    }
    // Shelf (bottom): volumes not placed yet (no pod on a node, not attached).
    let shelf_y = top + max_h + PAD * 2.0;
    let mut sx = PAD * 2.0 + 150.0;
    let mut sy = shelf_y + PAD;
    let mut shelved = 0;
    for v in &scene.volumes {
        if out.volumes.contains_key(&v.name) {
            continue;
        }
        shelved += 1;
        out.volumes
            .insert(v.name.clone(), Rect::new(sx, sy, COL_W - 2.0 * PAD, VOL_H));
        sx += COL_W;
        if sx + COL_W > width.max(4.0 * COL_W) {
            sx = PAD * 2.0 + 150.0;
            sy += VOL_H + 8.0;
        }
    }
    let w = width.max(px).max(sx);
    if shelved == 0 {
        out.bounds = Rect::new(0.0, 0.0, w, shelf_y);
        return out;
    }
    let shelf_h = (sy + VOL_H + PAD - shelf_y).max(VOL_H + 2.0 * PAD);
    out.shelf = Rect::new(0.0, shelf_y, w, shelf_h);
    out.bounds = Rect::new(0.0, 0.0, w, shelf_y + shelf_h);
    out
}
