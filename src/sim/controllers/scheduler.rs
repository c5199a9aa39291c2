//! The scheduler: binds pending pods to nodes that fit (resources, cordon,
//! NoSchedule taints, volume topology), spreading a workload's pods across
//! zones and nodes with a stable tie-break. Unschedulable pods stay Pending
//! with the scheduler's reason.
//!
//! One pass: gather the nodes' free room and pods per owner, then for each
//! pending pod in creation order: gather its volumes' topology, choose a node
//! (`choose_node`, pure), and bind it there or say why not.

use crate::sim::SimSystems;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::K8sRecord;
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use bevy::prelude::*;
use std::collections::BTreeMap;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        crate::sim::SimSchedule,
        schedule_pods.in_set(SimSystems::Scheduler),
    );
}

/// A node as the scheduler sees it: room left and pods per owner.
struct NodeInfo {
    entity: Entity,
    name: String,
    zone: String,
    cpu_free: i64,
    mem_free: i64,
    /// Why the node takes no new pods (cordoned), if it does not.
    unschedulable: Option<&'static str>,
    /// A NoSchedule (or out-of-service) taint no pod tolerates.
    taint: Option<String>,
    /// Pods per owner on this node.
    owners: BTreeMap<Owner, u32>,
    cpu_total: i64,
}

impl NodeInfo {
    /// Counts a pod against the node's room and its owner's spread.
    fn take(&mut self, template: &PodTemplate, owner: &Owner) {
        self.cpu_free -= template.cpu_millis as i64;
        self.mem_free -= template.memory_mib as i64;
        // The owner is cloned only for its first pod on the node.
        match self.owners.get_mut(owner) {
            Some(n) => *n += 1,
            None => {
                self.owners.insert(owner.clone(), 1);
            }
        }
    }
}

/// What a pending pod asks of a node.
struct Request<'a> {
    cpu: i64,
    mem: i64,
    owner: &'a Owner,
    /// Node affinity of the volumes its claims are bound to.
    affinities: &'a [Affinity],
}

fn schedule_pods(
    mut cluster: Cluster,
    nodes: Query<(Entity, &Node, &NodeState)>,
    mut pods: Query<(Entity, &Pod, &mut PodStatus)>,
    mut claims: Query<&mut ClaimStatus>,
    volumes: Query<&Volume>,
) {
    let mut pending: Vec<(u64, Entity)> = pods
        .iter()
        .filter(|(_, _, s)| s.node.is_none() && s.deletion_ms.is_none() && !s.terminal())
        .map(|(e, p, _)| (p.seq, e))
        .collect();
    if pending.is_empty() {
        return;
    }
    pending.sort();
    let mut infos = node_infos(&nodes, &pods);
    for (_, pod_e) in pending {
        let Ok((_, pod, mut st)) = pods.get_mut(pod_e) else {
            continue;
        };
        let (affinities, missing_claim) = volume_topology(pod, &cluster.index, &claims, &volumes);
        let req = Request {
            cpu: pod.template.cpu_millis as i64,
            mem: pod.template.memory_mib as i64,
            owner: &pod.owner,
            affinities: &affinities,
        };
        let fails = match &missing_claim {
            Some(c) => BTreeMap::from([(
                format!("persistentvolumeclaim \"{c}\" not found"),
                infos.len() as u32,
            )]),
            None => match choose_node(&infos, &req) {
                Ok(i) => {
                    bind(
                        &mut cluster,
                        &mut claims,
                        pod_e,
                        pod,
                        &mut st,
                        &mut infos[i],
                        &affinities,
                    );
                    continue;
                }
                Err(fails) => fails,
            },
        };
        let msg = unschedulable_message(&infos, &fails, &affinities);
        if st.waiting.as_deref() != Some(msg.as_str()) {
            st.waiting = Some(msg.clone());
            let record = match &missing_claim {
                Some(c) => K8sRecord::failed_scheduling_prefilter(
                    &pod.name,
                    infos.len(),
                    &format!("persistentvolumeclaim \"{c}\" not found"),
                ),
                None => {
                    K8sRecord::failed_scheduling(&pod.name, infos.len(), &fit_histogram(&fails))
                }
            };
            cluster.emit(
                SimEvent::new(
                    EventKind::PodUnschedulable,
                    format!("pod/{}", pod.name),
                    msg,
                )
                .k8s(record),
            );
        }
    }
}

/// Every node, by name, with the room its bound pods leave.
fn node_infos(
    nodes: &Query<(Entity, &Node, &NodeState)>,
    pods: &Query<(Entity, &Pod, &mut PodStatus)>,
) -> Vec<NodeInfo> {
    let mut infos: Vec<NodeInfo> = nodes
        .iter()
        .map(|(e, n, s)| NodeInfo {
            entity: e,
            name: n.name.clone(),
            zone: n.zone.clone(),
            cpu_free: n.cpu_millis as i64,
            mem_free: n.memory_mib as i64,
            unschedulable: s.cordoned.then_some("were unschedulable (cordoned)"),
            taint: s
                .taints
                .iter()
                .find(|t| t.effect == TaintEffect::NoSchedule || t.key == TAINT_OUT_OF_SERVICE)
                .map(|t| t.key.clone()),
            owners: BTreeMap::new(),
            cpu_total: n.cpu_millis as i64,
        })
        .collect();
    infos.sort_by(|a, b| a.name.cmp(&b.name));
    let pos: BTreeMap<&str, usize> = infos
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut taken: Vec<(usize, &Pod)> = Vec::new();
    for (_, p, s) in pods.iter() {
        if let Some(n) = &s.node
            && let Some(&i) = pos.get(n.as_str())
            && !s.terminal()
        {
            taken.push((i, p));
        }
    }
    for (i, p) in taken {
        infos[i].take(&p.template, &p.owner);
    }
    infos
}

/// The node affinities of the volumes bound to the pod's claims, and a claim
/// of the pod that does not exist (the last one), if any.
fn volume_topology(
    pod: &Pod,
    index: &Index,
    claims: &Query<&mut ClaimStatus>,
    volumes: &Query<&Volume>,
) -> (Vec<Affinity>, Option<String>) {
    let mut affinities = Vec::new();
    let mut missing = None;
    for c in &pod.claims {
        match index.claims.get(c).and_then(|&e| claims.get(e).ok()) {
            None => missing = Some(c.clone()),
            Some(cs) => {
                if let Some(v) = &cs.volume
                    && let Some(vol) = index.volumes.get(v).and_then(|&e| volumes.get(e).ok())
                {
                    affinities.push(vol.affinity.clone());
                }
            }
        }
    }
    (affinities, missing)
}

/// Why `n` cannot take the pod, in the scheduler's words; None if it fits.
fn misfit(n: &NodeInfo, req: &Request) -> Option<String> {
    if let Some(e) = n.unschedulable {
        Some(format!("node(s) {e}"))
    } else if let Some(t) = &n.taint {
        Some(format!("node(s) had untolerated taint {{{t}}}"))
    } else if req.affinities.iter().any(|a| !a.allows(&n.name, &n.zone)) {
        Some("node(s) had volume node affinity conflict".into())
    } else if n.cpu_free < req.cpu {
        Some("Insufficient cpu".into())
    } else if n.mem_free < req.mem {
        Some("Insufficient memory".into())
    } else {
        None
    }
}

/// The filter reasons as the upstream plugins word them, with their node
/// counts, and whether preemption could help on those nodes (only a
/// resource shortage is `Unschedulable`; cordon, taints and volume affinity
/// are `UnschedulableAndUnresolvable`). (plugins nodeunschedulable
/// `ErrReasonUnschedulable`, tainttoleration `Filter`, volumebinding
/// `ErrReasonNodeConflict`, noderesources `Fit`.)
fn fit_histogram(fails: &BTreeMap<String, u32>) -> Vec<(u32, String, bool)> {
    fails
        .iter()
        .map(|(ours, &n)| {
            let upstream = if ours.starts_with("node(s) were unschedulable") {
                "node(s) were unschedulable".to_string()
            } else if let Some(key) = ours
                .strip_prefix("node(s) had untolerated taint {")
                .and_then(|k| k.strip_suffix('}'))
            {
                // "{key: value}"; the simulator's taints have no value.
                format!("node(s) had untolerated taint {{{key}: }}")
            } else {
                ours.clone()
            };
            (n, upstream, ours.starts_with("Insufficient"))
        })
        .collect()
}

/// The node for the pod: among those that fit, the fewest pods of its owner
/// in the zone, then on the node, then the least allocated, then the first
/// by name (stable). Otherwise how many nodes failed for each reason.
fn choose_node(infos: &[NodeInfo], req: &Request) -> Result<usize, BTreeMap<String, u32>> {
    let mut fails: BTreeMap<String, u32> = BTreeMap::new();
    let mut best: Option<(usize, (u32, u32, i64, usize))> = None;
    // The owner's pods per zone, counted once rather than once per node.
    let mut per_zone: BTreeMap<&str, u32> = BTreeMap::new();
    for m in infos {
        *per_zone.entry(m.zone.as_str()).or_default() +=
            m.owners.get(req.owner).copied().unwrap_or(0);
    }
    for (i, n) in infos.iter().enumerate() {
        if let Some(w) = misfit(n, req) {
            *fails.entry(w).or_default() += 1;
            continue;
        }
        let zone_count = per_zone.get(n.zone.as_str()).copied().unwrap_or(0);
        let node_count = n.owners.get(req.owner).copied().unwrap_or(0);
        let used = (n.cpu_total - n.cpu_free) * 1000 / n.cpu_total.max(1);
        let key = (zone_count, node_count, used, i);
        if best.as_ref().is_none_or(|(_, k)| key < *k) {
            best = Some((i, key));
        }
    }
    best.map(|(i, _)| i).ok_or(fails)
}

/// Binds the pod to the node; WaitForFirstConsumer claims learn where their
/// volume goes.
fn bind(
    cluster: &mut Cluster,
    claims: &mut Query<&mut ClaimStatus>,
    pod_e: Entity,
    pod: &Pod,
    st: &mut PodStatus,
    n: &mut NodeInfo,
    affinities: &[Affinity],
) {
    n.take(&pod.template, &pod.owner);
    st.node = Some(n.name.clone());
    st.phase = PodPhase::ContainerCreating;
    st.waiting = None;
    cluster.commands.entity(pod_e).insert(ScheduledOn(n.entity));
    cluster
        .index
        .last_node_of
        .insert(pod.name.clone(), n.name.clone());
    // WaitForFirstConsumer: the first scheduling decides where the volume goes.
    for c in &pod.claims {
        if let Some(mut cs) = cluster
            .index
            .claims
            .get(c)
            .and_then(|&e| claims.get_mut(e).ok())
            && cs.volume.is_none()
            && cs.selected_node.is_none()
        {
            cs.selected_node = Some(n.name.clone());
        }
    }
    let mut reason = format!("assigned to {} ({})", n.name, n.zone);
    if affinities.iter().any(|a| *a != Affinity::Anywhere) {
        reason.push_str(": its volume can only be used there");
    } else {
        reason.push_str(
            ": fits; spread across zones first, then the node with fewest pods of its workload",
        );
    }
    cluster.emit(
        SimEvent::new(EventKind::PodScheduled, format!("pod/{}", pod.name), reason)
            .node(n.name.clone()),
    );
}

/// "0/3 nodes are available: 1 Insufficient cpu, 2 …", and where a bound
/// volume pins the pod when that is why.
fn unschedulable_message(
    infos: &[NodeInfo],
    fails: &BTreeMap<String, u32>,
    affinities: &[Affinity],
) -> String {
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
                Affinity::Node(n) if !infos.iter().any(|i| i.name == *n) => Some(format!(
                    "its local volume lives on {n}, which no longer exists"
                )),
                Affinity::Node(n) => Some(format!("its local volume can only be used on {n}")),
                Affinity::Zone(z) => Some(format!("its zonal volume can only be used in {z}")),
            })
            .collect();
        if !pins.is_empty() {
            msg.push_str(&format!("; {}", pins.join("; ")));
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, zone: &str) -> NodeInfo {
        NodeInfo {
            entity: Entity::PLACEHOLDER,
            name: name.into(),
            zone: zone.into(),
            cpu_free: 1000,
            mem_free: 1000,
            unschedulable: None,
            taint: None,
            owners: BTreeMap::new(),
            cpu_total: 1000,
        }
    }

    fn req<'a>(owner: &'a Owner, affinities: &'a [Affinity]) -> Request<'a> {
        Request {
            cpu: 100,
            mem: 100,
            owner,
            affinities,
        }
    }

    #[test]
    fn pods_spread_across_zones_first_then_nodes_then_least_allocated() {
        let web = Owner::set("web");
        let mut infos = vec![node("a1", "a"), node("a2", "a"), node("b1", "b")];
        infos[0].owners.insert(web.clone(), 1);
        // a2 is empty, but zone a already holds a web pod: b1 wins.
        assert_eq!(choose_node(&infos, &req(&web, &[])), Ok(2));
        infos[2].owners.insert(web.clone(), 1);
        // Zones even: the emptier node of zone a.
        assert_eq!(choose_node(&infos, &req(&web, &[])), Ok(1));
        // Other owners' pods do not count against the spread, only their room.
        let api = Owner::set("api");
        infos[0].owners.clear();
        infos[2].owners.clear();
        infos[0].cpu_free = 500;
        assert_eq!(
            choose_node(&infos, &req(&api, &[])),
            Ok(1),
            "least allocated"
        );
    }

    #[test]
    fn unfit_nodes_are_counted_by_reason() {
        let web = Owner::set("web");
        let mut infos = vec![node("a", "z"), node("b", "z"), node("c", "z")];
        infos[0].unschedulable = Some("were unschedulable (cordoned)");
        infos[1].taint = Some("node.kubernetes.io/unreachable".into());
        infos[2].cpu_free = 50;
        let fails = choose_node(&infos, &req(&web, &[]))
            .err()
            .unwrap_or_default();
        assert_eq!(
            unschedulable_message(&infos, &fails, &[]),
            "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable}, 1 node(s) were unschedulable (cordoned)"
        );
    }

    #[test]
    fn a_bound_local_volume_pins_the_pod_to_its_node_even_when_the_node_is_gone() {
        let web = Owner::set("web");
        let infos = vec![node("a", "z")];
        let pinned = [Affinity::Node("b".into())];
        assert_eq!(choose_node(&infos, &req(&web, &pinned)).ok(), None);
        let fails = choose_node(&infos, &req(&web, &pinned))
            .err()
            .unwrap_or_default();
        assert_eq!(
            unschedulable_message(&infos, &fails, &pinned),
            "0/1 nodes are available: 1 node(s) had volume node affinity conflict; its local volume lives on b, which no longer exists"
        );
        let zonal = [Affinity::Zone("z".into())];
        assert_eq!(choose_node(&infos, &req(&web, &zonal)), Ok(0));
    }
}
