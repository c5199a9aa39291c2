//! The scheduler: binds pending pods to nodes that fit (resources, cordon,
//! NoSchedule taints, volume topology), spreading a workload's pods across
//! zones and nodes with a stable tie-break. Unschedulable pods stay Pending
//! with the scheduler's reason.

use crate::sim::event::{EventKind, EventLog, SimEvent};
use crate::sim::model::*;
use crate::sim::{SimClock, SimSystems};
use bevy::platform::hash::FixedHasher;
use bevy::prelude::*;
use std::collections::{BTreeMap, HashMap};

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        crate::sim::SimSchedule,
        schedule_pods.in_set(SimSystems::Scheduler),
    );
}

struct NodeInfo {
    entity: Entity,
    name: String,
    zone: String,
    cpu_free: i64,
    mem_free: i64,
    schedulable: Result<(), &'static str>,
    taint: Option<String>,
    /// Pods per owner on this node.
    owners: BTreeMap<Owner, u32>,
    pods: u32,
    cpu_total: i64,
}

#[allow(clippy::too_many_arguments)]
fn schedule_pods(
    clock: Res<SimClock>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut commands: Commands,
    nodes: Query<(Entity, &Node, &NodeState)>,
    mut pods: Query<(Entity, &Pod, &mut PodStatus)>,
    mut claims: Query<&mut ClaimStatus>,
    volumes: Query<&Volume>,
) {
    let now = clock.now_ms;
    let mut pending: Vec<(u64, Entity)> = pods
        .iter()
        .filter(|(_, _, s)| s.node.is_none() && s.deletion_ms.is_none() && !s.terminal())
        .map(|(e, p, _)| (p.seq, e))
        .collect();
    if pending.is_empty() {
        return;
    }
    pending.sort();

    let mut infos: Vec<NodeInfo> = nodes
        .iter()
        .map(|(e, n, s)| {
            let schedulable = if s.cordoned {
                Err("were unschedulable (cordoned)")
            } else {
                Ok(())
            };
            let taint = s
                .taints
                .iter()
                .find(|t| t.effect == TaintEffect::NoSchedule || t.key == TAINT_OUT_OF_SERVICE)
                .map(|t| t.key.clone());
            NodeInfo {
                entity: e,
                name: n.name.clone(),
                zone: n.zone.clone(),
                cpu_free: n.cpu_millis as i64,
                mem_free: n.memory_mib as i64,
                schedulable,
                taint,
                owners: BTreeMap::new(),
                pods: 0,
                cpu_total: n.cpu_millis as i64,
            }
        })
        .collect();
    infos.sort_by(|a, b| a.name.cmp(&b.name));
    let pos: HashMap<String, usize, FixedHasher> = infos
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i))
        .collect();
    for (_, p, s) in pods.iter() {
        if let Some(n) = &s.node
            && let Some(&i) = pos.get(n)
            && !s.terminal()
        {
            let info = &mut infos[i];
            info.cpu_free -= p.template.cpu_millis as i64;
            info.mem_free -= p.template.memory_mib as i64;
            match info.owners.get_mut(&p.owner) {
                Some(c) => *c += 1,
                None => _ = info.owners.insert(p.owner.clone(), 1),
            }
            info.pods += 1;
        }
    }

    for (_, pod_e) in pending {
        let Ok((_, pod, mut st)) = pods.get_mut(pod_e) else {
            continue;
        };
        // Volume topology of already-bound claims.
        let mut affinities: Vec<Affinity> = Vec::new();
        let mut missing_claim = None;
        for c in &pod.claims {
            match index.claims.get(c).and_then(|&e| claims.get(e).ok()) {
                None => missing_claim = Some(c.clone()),
                Some(cs) => {
                    if let Some(v) = &cs.volume
                        && let Some(vol) = index.volumes.get(v).and_then(|&e| volumes.get(e).ok())
                    {
                        affinities.push(vol.affinity.clone());
                    }
                }
            }
        }
        let mut fails: BTreeMap<String, u32> = BTreeMap::new();
        let mut best: Option<(usize, (u32, u32, i64, usize))> = None;
        if let Some(c) = &missing_claim {
            fails.insert(
                format!("persistentvolumeclaim \"{c}\" not found"),
                infos.len() as u32,
            );
        } else {
            for (i, n) in infos.iter().enumerate() {
                let why: Option<String> = if let Err(e) = n.schedulable {
                    Some(format!("node(s) {e}"))
                } else if let Some(t) = &n.taint {
                    Some(format!("node(s) had untolerated taint {{{t}}}"))
                } else if affinities.iter().any(|a| !a.allows(&n.name, &n.zone)) {
                    Some("node(s) had volume node affinity conflict".into())
                } else if n.cpu_free < pod.template.cpu_millis as i64 {
                    Some("Insufficient cpu".into())
                } else if n.mem_free < pod.template.memory_mib as i64 {
                    Some("Insufficient memory".into())
                } else {
                    None
                };
                if let Some(w) = why {
                    *fails.entry(w).or_default() += 1;
                    continue;
                }
                // Score: fewest pods of this owner in the zone, then on the
                // node, then least allocated, then node name (stable).
                let zone_count: u32 = infos
                    .iter()
                    .filter(|m| m.zone == n.zone)
                    .map(|m| m.owners.get(&pod.owner).copied().unwrap_or(0))
                    .sum();
                let node_count = n.owners.get(&pod.owner).copied().unwrap_or(0);
                let used = (n.cpu_total - n.cpu_free) * 1000 / n.cpu_total.max(1);
                let key = (zone_count, node_count, used, i);
                if best.as_ref().is_none_or(|(_, k)| key < *k) {
                    best = Some((i, key));
                }
            }
        }
        match best {
            Some((i, _)) => {
                let n = &mut infos[i];
                n.cpu_free -= pod.template.cpu_millis as i64;
                n.mem_free -= pod.template.memory_mib as i64;
                *n.owners.entry(pod.owner.clone()).or_default() += 1;
                n.pods += 1;
                st.node = Some(n.name.clone());
                st.phase = PodPhase::ContainerCreating;
                st.waiting = None;
                commands.entity(pod_e).insert(ScheduledOn(n.entity));
                index.last_node_of.insert(pod.name.clone(), n.name.clone());
                // WaitForFirstConsumer: the first scheduling decides where the volume goes.
                for c in &pod.claims {
                    if let Some(mut cs) = index.claims.get(c).and_then(|&e| claims.get_mut(e).ok())
                        && cs.volume.is_none()
                        && cs.selected_node.is_none()
                    {
                        cs.selected_node = Some(n.name.clone());
                    }
                }
                let mut reason = format!("assigned to {} ({})", n.name, n.zone);
                if !affinities.is_empty() && affinities.iter().any(|a| *a != Affinity::Anywhere) {
                    reason.push_str(": its volume can only be used there");
                } else {
                    reason.push_str(": fits; spread across zones first, then the node with fewest pods of its workload");
                }
                log.emit(
                    now,
                    SimEvent::new(EventKind::PodScheduled, format!("pod/{}", pod.name), reason)
                        .node(n.name.clone()),
                );
            }
            None => {
                let parts: Vec<String> = fails.iter().map(|(w, c)| format!("{c} {w}")).collect();
                let mut msg = format!(
                    "0/{} nodes are available: {}",
                    infos.len(),
                    parts.join(", ")
                );
                // VolumeBinding filter (checkBoundClaims): a bound PV's node
                // affinity pins the pod; say where, so the wait is explained.
                if fails.contains_key("node(s) had volume node affinity conflict") {
                    let pins: Vec<String> = affinities
                        .iter()
                        .filter_map(|a| match a {
                            Affinity::Anywhere => None,
                            Affinity::Node(n) if !pos.contains_key(n) => Some(format!(
                                "its local volume lives on {n}, which no longer exists"
                            )),
                            Affinity::Node(n) => {
                                Some(format!("its local volume can only be used on {n}"))
                            }
                            Affinity::Zone(z) => {
                                Some(format!("its zonal volume can only be used in {z}"))
                            }
                        })
                        .collect();
                    if !pins.is_empty() {
                        msg.push_str(&format!("; {}", pins.join("; ")));
                    }
                }
                if st.waiting.as_deref() != Some(msg.as_str()) {
                    st.waiting = Some(msg.clone());
                    log.emit(
                        now,
                        SimEvent::new(
                            EventKind::PodUnschedulable,
                            format!("pod/{}", pod.name),
                            msg,
                        ),
                    );
                }
            }
        }
    }
}
