//! The view model: a plain snapshot of what the world view draws, extracted
//! from the simulation world each frame. Pure data, so layout, colours and
//! captions are testable without a window.

use crate::sim::SimClock;
use crate::sim::model::Node;
use crate::sim::model::{
    AttachState, Attachment, Claim, ClaimStatus, MAX_WAIT_FOR_UNMOUNT_MS, Volume, VolumeStatus,
};
use crate::sim::model::{Condition, Machine, NodeState};
use crate::sim::model::{Deployment, DeploymentStatus, SetStatus, StatefulSet};
use crate::sim::model::{OwnerKind, Pod, PodPhase, PodStatus, Process, ProcessStage};
use crate::sim::database::{Databases, DbServer, ReplState, VolumeData};
use bevy::prelude::*;
use std::collections::BTreeMap;

/// What the control plane believes about a node, and what is really true.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub name: String,
    pub zone: String,
    pub ready: Condition,
    /// How long the Ready condition has had its value (ms).
    pub ready_for_ms: u64,
    pub machine: Machine,
    pub machine_for_ms: u64,
    pub taints: Vec<String>,
    pub cordoned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PodView {
    /// Stable key for animation: a StatefulSet pod's identity is its name (so
    /// web-1 moves when rescheduled); a Deployment pod is its own uid.
    pub key: String,
    pub name: String,
    pub owner_kind: OwnerKind,
    pub owner: String,
    pub node: Option<String>,
    pub phase: PodPhase,
    pub ready: bool,
    /// Revision number (1, 2, …) and whether it is the set's update revision.
    pub revision: Option<u64>,
    pub updated: bool,
    pub image: String,
    pub waiting: Option<String>,
    /// A process still running with no API object (split brain).
    pub orphan: bool,
    pub claims: Vec<String>,
    pub dns: Option<String>,
    pub db: Option<DbView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DbView {
    pub primary: bool,
    pub server_id: u32,
    pub state: String,
    pub lag_rows: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttachLook {
    Attaching,
    Attached,
    Detaching,
    /// The control plane forgot it, the partitioned machine still mounts it.
    StillMounted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeView {
    pub name: String,
    pub claim: String,
    pub claim_exists: bool,
    /// The pod (by name) whose claim this is, if that pod exists.
    pub pod: Option<String>,
    pub attached: Vec<(String, AttachLook)>,
    pub rows: Option<u64>,
    pub diverged: bool,
    pub affinity: Option<String>,
    /// Why it is not where its pod wants it, with a live countdown.
    pub waiting: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LinkKind {
    Cloning,
    Connecting,
    Replicating,
    Broken,
}

/// Data flowing from `from` (the source) to `to` (a replica).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkView {
    pub from: String,
    pub to: String,
    pub kind: LinkKind,
    pub lag_rows: u64,
    pub lag_secs: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SetView {
    pub name: String,
    pub deployment: bool,
    pub replicas: u32,
    pub ready: u32,
    pub current: u32,
    pub updated: u32,
    pub current_revision: String,
    pub update_revision: String,
    pub blocked: Option<String>,
    pub image: String,
    pub service: String,
    pub writes: Option<(u64, u64, f64)>,
    /// The clients' writes to the primary are failing right now.
    pub writes_failing: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scene {
    pub now_ms: u64,
    pub nodes: Vec<NodeView>,
    pub pods: Vec<PodView>,
    pub volumes: Vec<VolumeView>,
    pub links: Vec<LinkView>,
    pub sets: Vec<SetView>,
}

impl Scene {
    pub fn pod(&self, name: &str) -> Option<&PodView> {
        self.pods.iter().find(|p| p.name == name && !p.orphan)
    }
    pub fn node(&self, name: &str) -> Option<&NodeView> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

fn short_duration(ms: u64) -> String {
    crate::sim::controllers::attach_detach::fmt_duration(ms)
}

/// Reads the simulation world into a Scene. Read-only.
pub fn extract(world: &mut World) -> Scene {
    let now = world.resource::<SimClock>().now_ms;
    let mut scene = Scene {
        now_ms: now,
        ..default()
    };

    let mut q = world.query::<(&Node, &NodeState)>();
    for (n, s) in q.iter(world) {
        scene.nodes.push(NodeView {
            name: n.name.clone(),
            zone: n.zone.clone(),
            ready: s.ready,
            ready_for_ms: now.saturating_sub(s.ready_since_ms),
            machine: s.machine,
            machine_for_ms: now.saturating_sub(s.machine_since_ms),
            taints: s.taints.iter().map(|t| t.describe()).collect(),
            cordoned: s.cordoned,
        });
    }
    scene
        .nodes
        .sort_by(|a, b| (&a.zone, &a.name).cmp(&(&b.zone, &b.name)));

    // Revisions per set: name → (number, is update revision).
    let mut revs: BTreeMap<String, (u64, bool)> = BTreeMap::new();
    let mut q = world.query::<(&StatefulSet, &SetStatus)>();
    for (s, st) in q.iter(world) {
        for r in &st.revisions {
            revs.insert(r.name.clone(), (r.number, r.name == st.update_revision));
        }
        let dbs = world.resource::<Databases>();
        let writes = dbs
            .dbs
            .get(&s.spec.name)
            .map(|d| (d.written, d.failed, d.write_rate));
        let writes_failing = dbs.dbs.get(&s.spec.name).is_some_and(|d| d.failing);
        scene.sets.push(SetView {
            name: s.spec.name.clone(),
            deployment: false,
            replicas: s.spec.replicas,
            ready: st.ready,
            current: st.current,
            updated: st.updated,
            current_revision: st.current_revision.clone(),
            update_revision: st.update_revision.clone(),
            blocked: st.blocked.clone(),
            image: s.spec.template.image.clone(),
            service: s.spec.service_name().to_string(),
            writes,
            writes_failing,
        });
    }
    let mut q = world.query::<(&Deployment, &DeploymentStatus)>();
    for (d, st) in q.iter(world) {
        scene.sets.push(SetView {
            name: d.spec.name.clone(),
            deployment: true,
            replicas: d.spec.replicas,
            ready: st.ready,
            current: st.replicas,
            updated: st.updated,
            current_revision: String::new(),
            update_revision: String::new(),
            blocked: st.blocked.clone(),
            image: d.spec.template.image.clone(),
            service: String::new(),
            writes: None,
            writes_failing: false,
        });
    }
    scene
        .sets
        .sort_by(|a, b| (a.deployment, &a.name).cmp(&(b.deployment, &b.name)));

    // Database servers by pod uid.
    let dbs = world.resource::<Databases>().dbs.clone();
    let mut servers: BTreeMap<String, (DbServer, String, bool)> = BTreeMap::new();
    let mut live_uids: Vec<(String, String, String, bool, Option<u32>, OwnerKind, String)> =
        Vec::new();
    let mut q = world.query::<(&Process, Option<&DbServer>)>();
    for (p, db) in q.iter(world) {
        let running = !matches!(p.stage, ProcessStage::Stopping { .. });
        if let Some(db) = db {
            servers.insert(p.pod_uid.clone(), (db.clone(), p.pod.clone(), running));
        }
        live_uids.push((
            p.pod_uid.clone(),
            p.pod.clone(),
            p.node.clone(),
            running,
            p.ordinal,
            p.owner.kind,
            p.owner.name.clone(),
        ));
    }

    let mut pod_uids = Vec::new();
    let mut q = world.query::<(&Pod, &PodStatus)>();
    for (p, s) in q.iter(world) {
        pod_uids.push(p.uid.clone());
        let (revision, updated) = match revs.get(&p.revision) {
            Some(&(n, u)) => (Some(n), u),
            None => (None, false),
        };
        let db = servers
            .get(&p.uid)
            .map(|(srv, _, _)| db_view(srv, &dbs, &p.owner.name));
        scene.pods.push(PodView {
            key: match p.owner.kind {
                OwnerKind::StatefulSet => format!("pod/{}", p.name),
                OwnerKind::Deployment => format!("pod/{}", p.uid),
            },
            name: p.name.clone(),
            owner_kind: p.owner.kind,
            owner: p.owner.name.clone(),
            node: s.node.clone(),
            phase: s.shown_phase(),
            ready: s.ready,
            revision,
            updated,
            image: p.template.image.clone(),
            waiting: s.waiting.clone(),
            orphan: false,
            claims: p.claims.clone(),
            dns: if s.ready { p.dns.clone() } else { None },
            db,
        });
    }
    // Processes that outlived their API object (force delete on a partition).
    for (uid, pod, node, running, ordinal, kind, owner) in live_uids {
        if pod_uids.contains(&uid) || !running {
            continue;
        }
        let _ = ordinal;
        let db = servers
            .get(&uid)
            .map(|(srv, _, _)| db_view(srv, &dbs, &owner));
        scene.pods.push(PodView {
            key: format!("proc/{uid}"),
            name: pod.clone(),
            owner_kind: kind,
            owner,
            node: Some(node),
            phase: PodPhase::Running,
            ready: false,
            revision: None,
            updated: false,
            image: String::new(),
            waiting: Some("force-deleted, process still running".into()),
            orphan: true,
            claims: Vec::new(),
            dns: None,
            db,
        });
    }
    scene.pods.sort_by(|a, b| {
        (
            a.owner_kind != OwnerKind::StatefulSet,
            &a.owner,
            &a.name,
            a.orphan,
        )
            .cmp(&(
                b.owner_kind != OwnerKind::StatefulSet,
                &b.owner,
                &b.name,
                b.orphan,
            ))
    });

    // Volumes.
    let mut claim_pod: BTreeMap<String, String> = BTreeMap::new();
    for p in &scene.pods {
        if !p.orphan {
            for c in &p.claims {
                claim_pod.insert(c.clone(), p.name.clone());
            }
        }
    }
    let mut claims_alive: Vec<String> = Vec::new();
    // Claims of database sets show their row count even when empty.
    let mut claim_db: Vec<String> = Vec::new();
    let mut q = world.query::<(&Claim, &ClaimStatus)>();
    for (c, _) in q.iter(world) {
        claims_alive.push(c.name.clone());
        if c.set.as_ref().is_some_and(|s| dbs.contains_key(s)) {
            claim_db.push(c.name.clone());
        }
    }
    let node_bad: BTreeMap<String, bool> = scene
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.ready != Condition::True))
        .collect();
    let mut q = world.query::<(Entity, &Volume, &VolumeStatus, Option<&VolumeData>)>();
    let vols: Vec<(Entity, Volume, VolumeStatus, Option<VolumeData>)> = q
        .iter(world)
        .map(|(e, v, s, d)| (e, v.clone(), s.clone(), d.cloned()))
        .collect();
    let mut aq = world.query::<&Attachment>();
    let atts: Vec<Attachment> = aq.iter(world).cloned().collect();
    for (_, v, vs, data) in vols {
        let mut attached = Vec::new();
        let mut countdown = None;
        for a in atts.iter().filter(|a| a.volume == v.name) {
            let look = if a.forgotten {
                AttachLook::StillMounted
            } else {
                match a.state {
                    AttachState::Attaching { .. } => AttachLook::Attaching,
                    AttachState::Attached => AttachLook::Attached,
                    AttachState::Detaching { .. } => AttachLook::Detaching,
                }
            };
            if let Some(since) = a.detach_requested_ms
                && node_bad.get(&a.node).copied().unwrap_or(false)
                && !a.forgotten
            {
                let left = (since + MAX_WAIT_FOR_UNMOUNT_MS).saturating_sub(now);
                countdown = Some(format!(
                    "still attached to {}: force-detach in {}",
                    a.node,
                    short_duration(left)
                ));
            }
            attached.push((a.node.clone(), look));
        }
        attached.sort_by(|a, b| a.0.cmp(&b.0));
        let waiting = match (countdown, &vs.attach_error) {
            (Some(c), _) => Some(c),
            (None, Some(e)) => Some(e.clone()),
            _ => None,
        };
        scene.volumes.push(VolumeView {
            name: v.name.clone(),
            claim: v.claim.clone(),
            claim_exists: claims_alive.contains(&v.claim),
            pod: claim_pod.get(&v.claim).cloned(),
            attached,
            rows: data
                .as_ref()
                .map(|d| d.rows())
                .filter(|&r| r > 0 || claim_db.contains(&v.claim)),
            diverged: data.as_ref().is_some_and(|d| d.diverged),
            affinity: v.affinity.describe(),
            waiting,
        });
    }
    scene.volumes.sort_by(|a, b| a.name.cmp(&b.name));

    // Replication links.
    for p in scene.pods.clone() {
        let Some(db) = &p.db else { continue };
        if db.primary {
            continue;
        }
        let srv = servers
            .values()
            .find(|(_, pod, _)| *pod == p.name)
            .map(|(s, ..)| s.clone());
        let Some(srv) = srv else { continue };
        let rate = dbs.get(&p.owner).map_or(0.0, |d| d.write_rate);
        let primary = format!("{}-0", p.owner);
        let (from, kind) = match &srv.state {
            ReplState::Cloning { source, .. } => (source.clone(), LinkKind::Cloning),
            ReplState::Connecting => (primary, LinkKind::Connecting),
            ReplState::Replicating => (primary, LinkKind::Replicating),
            ReplState::Broken { .. } => (primary, LinkKind::Broken),
            _ => continue,
        };
        scene.links.push(LinkView {
            from,
            to: p.name.clone(),
            kind,
            lag_rows: db.lag_rows,
            lag_secs: if rate > 0.0 {
                db.lag_rows as f64 / rate
            } else {
                0.0
            },
        });
    }
    scene
}

fn db_view(
    srv: &DbServer,
    dbs: &BTreeMap<String, crate::sim::database::DbState>,
    set: &str,
) -> DbView {
    let primary_pos = dbs.get(set).map_or(0, |d| d.primary_pos);
    let state = match &srv.state {
        ReplState::Primary => "primary (read-write)".to_string(),
        ReplState::WaitingForCloneSource => "waiting for a clone source".to_string(),
        ReplState::Cloning { source, .. } => format!("cloning from {source}"),
        ReplState::Connecting => "connecting".to_string(),
        ReplState::Replicating => "replica".to_string(),
        ReplState::Broken { .. } => "BROKEN, retrying".to_string(),
    };
    DbView {
        primary: srv.primary,
        server_id: srv.server_id,
        state,
        lag_rows: if srv.primary {
            0
        } else {
            primary_pos.saturating_sub(srv.position)
        },
    }
}
