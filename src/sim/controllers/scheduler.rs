//! The scheduler: binds pending pods to nodes that fit (resources, cordon,
//! NoSchedule taints, volume topology), spreading a workload's pods across
//! zones and nodes with a stable tie-break. Unschedulable pods stay Pending
//! with the scheduler's reason.
//!
//! One pass: take the nodes' free room and pods per owner from the usage kept
//! between passes (`Usage`, updated from the pods that changed or went away,
//! never by walking every pod), then for each pending pod in creation order:
//! gather its volumes' topology, choose a node (`choose_node`, pure), and bind
//! it there or say why not.

use super::affinity::{ANTI_AFFINITY_REASON, AntiAffinityView, Place};
use crate::sim::SimSystems;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::K8sRecord;
use crate::sim::model::gone::RemovedPods;
use crate::sim::model::journal::{candidates, debug_same};
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use bevy::ecs::entity::EntityHashMap;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        crate::sim::SimSchedule,
        schedule_pods.in_set(SimSystems::Scheduler),
    );
}

/// A node as the scheduler sees it: room left and pods per owner. It borrows
/// the node and its usage, built for every node at each pass with a pending
/// pod: the pods per owner are copied only for a node that takes a pod.
struct NodeInfo<'a> {
    entity: Entity,
    name: &'a str,
    zone: &'a str,
    cpu_free: i64,
    mem_free: i64,
    /// Why the node takes no new pods (cordoned), if it does not.
    unschedulable: Option<&'static str>,
    /// A NoSchedule (or out-of-service) taint no pod tolerates.
    taint: Option<&'a str>,
    /// Pods per owner on this node.
    owners: Cow<'a, BTreeMap<Owner, u32>>,
    cpu_total: i64,
}

impl NodeInfo<'_> {
    /// Counts a pod against the node's room and its owner's spread.
    fn take(&mut self, template: &PodTemplate, owner: &Owner) {
        self.cpu_free -= template.cpu_millis as i64;
        self.mem_free -= template.memory_mib as i64;
        // The owner is cloned only for its first pod on the node.
        let owners = self.owners.to_mut();
        match owners.get_mut(owner) {
            Some(n) => *n += 1,
            None => {
                owners.insert(owner.clone(), 1);
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
    /// Its podAntiAffinity terms (controllers/affinity.rs).
    anti: &'a [AntiAffinity],
}

/// What one pod counts for in the scheduler's memory: the room it holds on a
/// node, and its place in the queue of pods waiting to be scheduled.
#[derive(Debug, Clone, PartialEq)]
struct Track {
    /// (node, cpu, memory, owner) while it is bound and not terminated.
    on: Option<(String, i64, i64, Owner)>,
    /// Its creation sequence number while it waits to be scheduled.
    pending: Option<u64>,
}

impl Track {
    /// What a pod counts for, from its object and status: the rule a walk
    /// over every pod applied before the memory was kept.
    fn of(p: &Pod, s: &PodStatus) -> Track {
        let on = match &s.node {
            Some(n) if !s.terminal() => Some((
                n.clone(),
                p.template.cpu_millis as i64,
                p.template.memory_mib as i64,
                p.owner.clone(),
            )),
            _ => None,
        };
        let waiting = s.node.is_none() && s.deletion_ms.is_none() && !s.terminal();
        Track {
            on,
            pending: waiting.then_some(p.seq),
        }
    }
}

/// The room the pods bound to one node take (by node name: a pod may still
/// name a node that was deleted).
#[derive(Debug, Default, Clone, PartialEq)]
struct Usage {
    cpu: i64,
    mem: i64,
    /// Pods per owner; an owner with none is not listed.
    owners: BTreeMap<Owner, u32>,
}

/// What the scheduler remembers between passes, so that a pass costs what
/// changed rather than a walk over every pod: the room taken per node and the
/// queue of pending pods. It is kept from the pods whose status changed
/// (`Changed<PodStatus>`, new pods included), the pods that went away
/// (`RemovedPods`) and the scheduler's own binds, which it does not see as
/// changes.
#[derive(Default)]
struct SchedMemory {
    /// How far `RemovedPods` has been read.
    removed_cursor: usize,
    /// How far the journal's pod trail has been read.
    journal_cursor: usize,
    /// Pods that count for something.
    pods: EntityHashMap<Track>,
    usage: HashMap<String, Usage>,
    /// (creation sequence, pod): the scheduling order.
    pending: BTreeSet<(u64, Entity)>,
}

impl SchedMemory {
    /// Forgets what pod `e` counted for.
    fn forget(&mut self, e: Entity) {
        let Some(t) = self.pods.remove(&e) else {
            return;
        };
        if let Some((node, cpu, mem, owner)) = t.on
            && let Some(u) = self.usage.get_mut(&node)
        {
            u.cpu -= cpu;
            u.mem -= mem;
            if let Some(n) = u.owners.get_mut(&owner) {
                *n -= 1;
                if *n == 0 {
                    u.owners.remove(&owner);
                }
            }
            // Every pod has one owner: no owner left means no pod left.
            if u.owners.is_empty() {
                self.usage.remove(&node);
            }
        }
        if let Some(seq) = t.pending {
            self.pending.remove(&(seq, e));
        }
    }

    /// Counts pod `e` as `t` says.
    fn count(&mut self, e: Entity, t: Track) {
        if let Some((node, cpu, mem, owner)) = &t.on {
            let u = self.usage.entry(node.clone()).or_default();
            u.cpu += cpu;
            u.mem += mem;
            *u.owners.entry(owner.clone()).or_default() += 1;
        }
        if let Some(seq) = t.pending {
            self.pending.insert((seq, e));
        }
        if t.on.is_some() || t.pending.is_some() {
            self.pods.insert(e, t);
        }
    }

    /// Pod `e` now counts as `t` says.
    fn update(&mut self, e: Entity, t: Track) {
        let unchanged = match self.pods.get(&e) {
            Some(old) => *old == t,
            None => t.on.is_none() && t.pending.is_none(),
        };
        if !unchanged {
            self.forget(e);
            self.count(e, t);
        }
    }

    /// The memory a walk over every pod would build (the oracle of the
    /// incremental one; debug builds compare them every pass).
    fn rebuilt<'a>(pods: impl Iterator<Item = (Entity, &'a Pod, &'a PodStatus)>) -> SchedMemory {
        let mut m = SchedMemory::default();
        for (e, p, s) in pods {
            m.count(e, Track::of(p, s));
        }
        m
    }

    /// Whether two memories count the same (the cursor aside).
    fn same_counts(&self, other: &SchedMemory) -> bool {
        self.pods == other.pods && self.usage == other.usage && self.pending == other.pending
    }
}

/// Pods whose status changed since the last pass (first), and all pods.
type PodQueries<'w, 's> = ParamSet<
    'w,
    's,
    (
        Query<'static, 'static, Entity, (With<Pod>, Changed<PodStatus>)>,
        Query<'static, 'static, (Entity, &'static Pod, &'static mut PodStatus)>,
    ),
>;

fn schedule_pods(
    mut cluster: Cluster,
    nodes: Query<(Entity, &Node, &NodeState)>,
    mut pod_q: PodQueries,
    mut claims: Query<&mut ClaimStatus>,
    volumes: Query<&Volume>,
    removed: Res<RemovedPods>,
    mut mem: Local<SchedMemory>,
) {
    let mem = &mut *mem;
    for &e in removed.since(&mut mem.removed_cursor) {
        mem.forget(e);
    }
    let changed = {
        let q = pod_q.p0();
        let found: Vec<Entity> = match candidates(&cluster.journal.pods, &mut mem.journal_cursor) {
            Some(v) => v.into_iter().filter(|&e| q.contains(e)).collect(),
            None => q.iter().collect(),
        };
        debug_same("pods whose status changed", &found, || q.iter().collect());
        found
    };
    let mut pods = pod_q.p1();
    for e in changed {
        if let Ok((_, p, s)) = pods.get(e) {
            mem.update(e, Track::of(p, s));
        }
    }
    debug_assert!(
        mem.same_counts(&SchedMemory::rebuilt(pods.iter())),
        "the scheduler's incremental memory differs from a walk over every pod"
    );
    if mem.pending.is_empty() {
        return;
    }
    let pending: Vec<(u64, Entity)> = mem.pending.iter().copied().collect();
    let mut infos = node_infos(&nodes, &mem.usage);
    let mut bound = Vec::new();
    for (_, pod_e) in pending {
        let Ok((_, pod, mut st)) = pods.get_mut(pod_e) else {
            continue;
        };
        cluster.journal.pods.note(pod_e);
        if schedule_one(
            &mut cluster,
            &mut claims,
            &volumes,
            &mut infos,
            pod_e,
            pod,
            &mut st,
        ) {
            bound.push(pod_e);
        }
    }
    // Its own binds are not seen as changes next pass: counted here.
    for e in bound {
        if let Ok((_, p, s)) = pods.get(e) {
            mem.update(e, Track::of(p, s));
        }
    }
}

/// Schedules one pending pod: binds it to the chosen node (true), or says
/// why no node fits.
fn schedule_one(
    cluster: &mut Cluster,
    claims: &mut Query<&mut ClaimStatus>,
    volumes: &Query<&Volume>,
    infos: &mut [NodeInfo],
    pod_e: Entity,
    pod: &Pod,
    st: &mut PodStatus,
) -> bool {
    let (affinities, missing_claim) = volume_topology(pod, &cluster.index, claims, volumes);
    let req = Request {
        cpu: pod.template.cpu_millis as i64,
        mem: pod.template.memory_mib as i64,
        owner: &pod.owner,
        affinities: &affinities,
        anti: &pod.template.anti_affinity,
    };
    let fails = match &missing_claim {
        Some(c) => BTreeMap::from([(
            format!("persistentvolumeclaim \"{c}\" not found"),
            infos.len() as u32,
        )]),
        None => match choose_node(infos, &req) {
            (Some(i), ruled_out) => {
                let why = bound_reason(&infos[i], &affinities, req.anti, &ruled_out);
                bind(cluster, claims, pod_e, pod, st, &mut infos[i], why);
                return true;
            }
            (None, fails) => fails,
        },
    };
    let msg = unschedulable_message(infos, &fails, &affinities);
    if st.waiting.as_deref() != Some(msg.as_str()) {
        st.waiting = Some(msg.clone());
        let record = match &missing_claim {
            Some(c) => K8sRecord::failed_scheduling_prefilter(
                &pod.name,
                infos.len(),
                &format!("persistentvolumeclaim \"{c}\" not found"),
            ),
            None => K8sRecord::failed_scheduling(&pod.name, infos.len(), &fit_histogram(&fails)),
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
    false
}

/// Every node, by name, with the room its bound pods leave.
fn node_infos<'a>(
    nodes: &'a Query<(Entity, &Node, &NodeState)>,
    usage: &'a HashMap<String, Usage>,
) -> Vec<NodeInfo<'a>> {
    let mut infos: Vec<NodeInfo> = nodes
        .iter()
        .map(|(e, n, s)| {
            let used = usage.get(&n.name);
            NodeInfo {
                entity: e,
                name: &n.name,
                zone: &n.zone,
                cpu_free: n.cpu_millis as i64 - used.map_or(0, |u| u.cpu),
                mem_free: n.memory_mib as i64 - used.map_or(0, |u| u.mem),
                unschedulable: s.cordoned.then_some("were unschedulable (cordoned)"),
                taint: s
                    .taints
                    .iter()
                    .find(|t| t.effect == TaintEffect::NoSchedule || t.key == TAINT_OUT_OF_SERVICE)
                    .map(|t| t.key.as_str()),
                owners: used
                    .map_or_else(|| Cow::Owned(BTreeMap::new()), |u| Cow::Borrowed(&u.owners)),
                cpu_total: n.cpu_millis as i64,
            }
        })
        .collect();
    infos.sort_by(|a, b| a.name.cmp(b.name));
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
    } else if let Some(t) = n.taint {
        Some(format!("node(s) had untolerated taint {{{t}}}"))
    } else if req.affinities.iter().any(|a| !a.allows(n.name, n.zone)) {
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
            // InterPodAffinity's anti-affinity failure is Unschedulable too.
            let helps = ours.starts_with("Insufficient") || ours == ANTI_AFFINITY_REASON;
            (n, upstream, helps)
        })
        .collect()
}

/// How a fitting node ranks, lowest first: preferred anti-affinity
/// penalty, the owner's pods in its zone, on it, its allocation, its index.
type Rank = (u32, u32, u32, i64, usize);

/// A node as anti-affinity sees it.
fn place<'a>(n: &'a NodeInfo<'_>) -> Place<'a> {
    Place {
        zone: n.zone,
        owners: &n.owners,
    }
}

/// The node for the pod: among those that fit (and its required
/// anti-affinity allows), the lowest preferred anti-affinity penalty, then
/// the fewest pods of its owner in the zone, then on the node, then the
/// least allocated, then the first by name (stable). With it, how many
/// nodes failed for each reason.
fn choose_node(infos: &[NodeInfo], req: &Request) -> (Option<usize>, BTreeMap<String, u32>) {
    let mut fails: BTreeMap<String, u32> = BTreeMap::new();
    let mut best: Option<(usize, Rank)> = None;
    let anti = AntiAffinityView::new(req.anti, req.owner, infos.iter().map(place));
    // The owner's pods per zone, counted once rather than once per node.
    let mut per_zone: BTreeMap<&str, u32> = BTreeMap::new();
    for m in infos {
        *per_zone.entry(m.zone).or_default() += m.owners.get(req.owner).copied().unwrap_or(0);
    }
    for (i, n) in infos.iter().enumerate() {
        // InterPodAffinity filters after the other plugins.
        let why = misfit(n, req).or_else(|| anti.misfit(&place(n)).map(String::from));
        if let Some(w) = why {
            *fails.entry(w).or_default() += 1;
            continue;
        }
        let zone_count = per_zone.get(n.zone).copied().unwrap_or(0);
        let node_count = n.owners.get(req.owner).copied().unwrap_or(0);
        let used = (n.cpu_total - n.cpu_free) * 1000 / n.cpu_total.max(1);
        let key = (anti.penalty(&place(n)), zone_count, node_count, used, i);
        if best.as_ref().is_none_or(|(_, k)| key < *k) {
            best = Some((i, key));
        }
    }
    (best.map(|(i, _)| i), fails)
}

/// Why the pod went to `n`: its volume pins it there, or it fits and ranks
/// first; nodes that pod anti-affinity ruled out are named, since they are
/// why a pod lands where its spreading alone would not put it.
fn bound_reason(
    n: &NodeInfo,
    affinities: &[Affinity],
    anti: &[AntiAffinity],
    ruled_out: &BTreeMap<String, u32>,
) -> String {
    let mut reason = format!("assigned to {} ({})", n.name, n.zone);
    if affinities.iter().any(|a| *a != Affinity::Anywhere) {
        reason.push_str(": its volume can only be used there");
        return reason;
    }
    reason.push_str(": fits");
    if let Some(c) = ruled_out.get(ANTI_AFFINITY_REASON) {
        reason.push_str(&format!(" ({c} other {ANTI_AFFINITY_REASON})"));
    }
    let preferred = anti
        .iter()
        .any(|a| matches!(a, AntiAffinity::Preferred { .. }));
    reason.push_str(if preferred {
        "; fewest pods its preferred anti-affinity avoids, then spread across zones, then the node with fewest pods of its workload"
    } else {
        "; spread across zones first, then the node with fewest pods of its workload"
    });
    reason
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
    reason: String,
) {
    n.take(&pod.template, &pod.owner);
    st.node = Some(n.name.to_string());
    st.phase = PodPhase::ContainerCreating;
    st.waiting = None;
    cluster.commands.entity(pod_e).insert(ScheduledOn(n.entity));
    cluster
        .index
        .last_node_of
        .insert(pod.name.clone(), n.name.to_string());
    // WaitForFirstConsumer: the first scheduling decides where the volume goes.
    for c in &pod.claims {
        let ce = cluster.index.claims.get(c).copied();
        if let Some(ce) = ce {
            cluster.journal.claims.note(ce);
        }
        if let Some(mut cs) = ce.and_then(|e| claims.get_mut(e).ok())
            && cs.volume.is_none()
            && cs.selected_node.is_none()
        {
            cs.selected_node = Some(n.name.to_string());
        }
    }
    cluster.emit(
        SimEvent::new(EventKind::PodScheduled, format!("pod/{}", pod.name), reason)
            .node(n.name.to_string()),
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

    fn node<'a>(name: &'a str, zone: &'a str) -> NodeInfo<'a> {
        NodeInfo {
            entity: Entity::PLACEHOLDER,
            name,
            zone,
            cpu_free: 1000,
            mem_free: 1000,
            unschedulable: None,
            taint: None,
            owners: Cow::Owned(BTreeMap::new()),
            cpu_total: 1000,
        }
    }

    fn req<'a>(owner: &'a Owner, affinities: &'a [Affinity]) -> Request<'a> {
        Request {
            cpu: 100,
            mem: 100,
            owner,
            affinities,
            anti: &[],
        }
    }

    /// The chosen node, or how many nodes failed for each reason.
    fn choose(infos: &[NodeInfo], req: &Request) -> Result<usize, BTreeMap<String, u32>> {
        match choose_node(infos, req) {
            (Some(i), _) => Ok(i),
            (None, fails) => Err(fails),
        }
    }

    #[test]
    fn a_pod_placed_past_anti_affinity_says_which_nodes_it_ruled_out() {
        let web = Owner::set("web");
        let mut infos = vec![node("a", "z"), node("b", "z"), node("c", "z")];
        infos[0].owners.to_mut().insert(web.clone(), 1);
        infos[1].owners.to_mut().insert(web.clone(), 1);
        let anti = [AntiAffinity::Required {
            topology_key: "kubernetes.io/hostname".into(),
            set: None,
        }];
        let r = Request {
            anti: &anti,
            ..req(&web, &[])
        };
        let (chosen, ruled_out) = choose_node(&infos, &r);
        assert_eq!(chosen, Some(2));
        assert_eq!(
            bound_reason(&infos[2], &[], &anti, &ruled_out),
            "assigned to c (z): fits (2 other node(s) didn't match pod anti-affinity rules); spread across zones first, then the node with fewest pods of its workload"
        );
        // Without anti-affinity nothing is ruled out, and nothing is said.
        let (_, none) = choose_node(&infos, &req(&web, &[]));
        assert_eq!(
            bound_reason(&infos[2], &[], &[], &none),
            "assigned to c (z): fits; spread across zones first, then the node with fewest pods of its workload"
        );
    }

    #[test]
    fn pods_spread_across_zones_first_then_nodes_then_least_allocated() {
        let web = Owner::set("web");
        let mut infos = vec![node("a1", "a"), node("a2", "a"), node("b1", "b")];
        infos[0].owners.to_mut().insert(web.clone(), 1);
        // a2 is empty, but zone a already holds a web pod: b1 wins.
        assert_eq!(choose(&infos, &req(&web, &[])), Ok(2));
        infos[2].owners.to_mut().insert(web.clone(), 1);
        // Zones even: the emptier node of zone a.
        assert_eq!(choose(&infos, &req(&web, &[])), Ok(1));
        // Other owners' pods do not count against the spread, only their room.
        let api = Owner::set("api");
        infos[0].owners.to_mut().clear();
        infos[2].owners.to_mut().clear();
        infos[0].cpu_free = 500;
        assert_eq!(choose(&infos, &req(&api, &[])), Ok(1), "least allocated");
    }

    #[test]
    fn unfit_nodes_are_counted_by_reason() {
        let web = Owner::set("web");
        let mut infos = vec![node("a", "z"), node("b", "z"), node("c", "z")];
        infos[0].unschedulable = Some("were unschedulable (cordoned)");
        infos[1].taint = Some("node.kubernetes.io/unreachable");
        infos[2].cpu_free = 50;
        let fails = choose(&infos, &req(&web, &[])).err().unwrap_or_default();
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
        assert_eq!(choose(&infos, &req(&web, &pinned)).ok(), None);
        let fails = choose(&infos, &req(&web, &pinned))
            .err()
            .unwrap_or_default();
        assert_eq!(
            unschedulable_message(&infos, &fails, &pinned),
            "0/1 nodes are available: 1 node(s) had volume node affinity conflict; its local volume lives on b, which no longer exists"
        );
        let zonal = [Affinity::Zone("z".into())];
        assert_eq!(choose(&infos, &req(&web, &zonal)), Ok(0));
    }

    fn test_pod(i: u32, owner: &str) -> Pod {
        Pod {
            name: format!("{owner}-{i}"),
            uid: String::new(),
            owner: Owner::set(owner),
            ordinal: Some(i),
            revision: String::new(),
            template: PodTemplate::with_image("nginx:1"),
            claims: Vec::new(),
            created_ms: 0,
            seq: u64::from(i),
            dns: None,
            init_containers: 0,
        }
    }

    proptest::proptest! {
        /// Whatever the pods go through (bound, moved, terminated, deleted,
        /// gone), the room and the queue kept from their changes are those a
        /// walk over every pod finds.
        #[test]
        fn the_room_kept_per_node_equals_a_walk_over_every_pod(
            ops in proptest::collection::vec(
                (0usize..6, 0u8..4, proptest::bool::ANY, proptest::bool::ANY, proptest::bool::weighted(0.2)),
                0..80,
            )
        ) {
            let pods: Vec<Pod> = (0..6)
                .map(|i| test_pod(i, if i % 2 == 0 { "web" } else { "db" }))
                .collect();
            let entities: Vec<Entity> = (1..=6)
                .filter_map(Entity::from_raw_u32)
                .collect();
            let mut states: Vec<Option<PodStatus>> = vec![None; 6];
            let mut mem = SchedMemory::default();
            for (i, node, terminal, deleting, gone) in ops {
                if gone {
                    states[i] = None;
                    mem.forget(entities[i]);
                } else {
                    let mut s = PodStatus::new();
                    s.node = (node > 0).then(|| format!("n{node}"));
                    if terminal {
                        s.phase = PodPhase::Failed;
                    }
                    if deleting {
                        s.deletion_ms = Some(1);
                    }
                    mem.update(entities[i], Track::of(&pods[i], &s));
                    states[i] = Some(s);
                }
                let walk = SchedMemory::rebuilt(
                    (0..6).filter_map(|j| states[j].as_ref().map(|s| (entities[j], &pods[j], s))),
                );
                proptest::prop_assert!(mem.same_counts(&walk));
            }
        }
    }
}
