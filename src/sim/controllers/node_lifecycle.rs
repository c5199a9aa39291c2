//! The node lifecycle controller and taint-based eviction: a node that stops
//! heartbeating is marked Ready=Unknown after the grace period (40 s up to
//! 1.31, 50 s from 1.32), tainted unreachable NoSchedule at once and
//! NoExecute through its zone's rate-limited queue (stopped when the zone,
//! or every zone, is disrupted: zone_disruption.rs), its pods marked not
//! Ready; pods tolerate the NoExecute taint for 300 s, then are evicted
//! gracefully. (pkg/controller/nodelifecycle, pkg/controller/tainteviction.)

use crate::sim::SimSystems;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::K8sRecord;
use crate::sim::model::gone::Tally;
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use bevy::prelude::*;
use std::collections::BTreeMap;

use super::zone_disruption::{
    Disruption, EVICTION_PERIOD_MS, LARGE_CLUSTER_THRESHOLD, ZoneCount, ZoneState, Zones,
};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Zones>();
    app.add_systems(
        crate::sim::SimSchedule,
        (monitor_nodes, evict_from_tainted_nodes)
            .chain()
            .in_set(SimSystems::Nodes)
            .in_set(NodeLifecycle)
            .after(super::kubelet::Kubelets),
    );
}

/// The node lifecycle controller's systems (pod GC runs after them).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeLifecycle;

/// The first monitor tick (every node-monitor-period) at or after `t`.
fn next_monitor_tick(t: u64) -> u64 {
    t.div_ceil(NODE_MONITOR_PERIOD_MS) * NODE_MONITOR_PERIOD_MS
}

/// What the node lifecycle controller does about one node this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeStep {
    Nothing,
    /// Heartbeats stopped, but the grace period is not over at the next
    /// monitor tick before this instant.
    WaitUntil(u64),
    /// No heartbeat for the grace period: Ready=Unknown, tainted
    /// unreachable, its pods marked not Ready.
    MarkUnknown,
    /// It posts status again: Ready=True, the unreachable taints removed.
    MarkReady,
}

/// monitorNodeHealth (pkg/controller/nodelifecycle): a node whose machine
/// stopped heartbeating becomes Ready=Unknown once node-monitor-grace-period
/// (`grace_ms`, 40 s up to 1.31 and 50 s from 1.32) has passed, seen at a node-monitor-period tick; one heartbeating again is
/// Ready at once.
fn node_step(ns: &NodeState, now: u64, grace_ms: u64) -> NodeStep {
    let fresh = ns.machine == Machine::Up;
    if ns.ready == Condition::True && !fresh {
        let due = next_monitor_tick(ns.heartbeat_at(now) + grace_ms + 1);
        if now < due {
            NodeStep::WaitUntil(due)
        } else {
            NodeStep::MarkUnknown
        }
    } else if ns.ready != Condition::True && fresh {
        NodeStep::MarkReady
    } else {
        NodeStep::Nothing
    }
}

/// One node as the node lifecycle controller's systems see it.
type NodeItem<'a> = (&'a Node, Mut<'a, NodeState>, Option<&'a NodePods>);

/// monitorNodeHealth: each node's condition (and its pods' readiness), then
/// handleDisruption over the zones, then the zones' rate-limited NoExecute
/// tainting (doNoExecuteTaintingPass).
/// What the monitor remembers between passes: whether its last pass found
/// nothing to do that time alone could change, and the nodes it counted.
#[derive(Default)]
struct MonitorMemory {
    idle: bool,
    nodes: Tally,
}

/// A monitor pass over nodes whose state did not change since an idle pass
/// (every node `Nothing`, no zone changed state, no node queued for
/// tainting) would be idle again: its steps read only the nodes' states and
/// the zones, and none of them waits on the clock.
fn can_skip(m: &MonitorMemory, node_gone: bool, nodes_changed: bool) -> bool {
    m.idle && !node_gone && !nodes_changed
}

fn monitor_nodes(
    mut cluster: Cluster,
    version: Res<crate::sim::version::ClusterVersion>,
    mut zones: ResMut<Zones>,
    mut nodes: Query<(&Node, &mut NodeState, Option<&NodePods>)>,
    mut pods: Query<(&Pod, &mut PodStatus)>,
    mut mem: Local<MonitorMemory>,
) {
    let now = cluster.now();
    let grace = version.node_monitor_grace_ms();
    let changed = nodes.iter_mut().any(|(_, ns, _)| ns.is_changed());
    // Nodes only appear changed: a count below the last one is one gone.
    let gone = mem.nodes.changed(nodes.iter().len());
    if can_skip(&mem, gone, changed) {
        return;
    }
    let activity_before = cluster.log.activity;
    let mut list: Vec<NodeItem> = nodes.iter_mut().collect();
    list.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let mut idle = true;
    for (node, ns, node_pods) in list.iter_mut() {
        let step = node_step(ns, now, grace);
        idle &= step == NodeStep::Nothing;
        match step {
            NodeStep::Nothing => {}
            NodeStep::WaitUntil(due) => cluster.wake_at(due),
            NodeStep::MarkUnknown => {
                mark_unknown(&mut cluster, node, ns, (grace, version.version));
                mark_pods_not_ready(&mut cluster, node, *node_pods, &mut pods);
            }
            NodeStep::MarkReady => {
                mark_ready(&mut cluster, node, ns);
                if let Some(z) = zones.zones.get_mut(&node.zone) {
                    z.dequeue(&node.name);
                }
            }
        }
    }
    let counts = zone_counts(&list);
    for change in zones.handle_disruption(&counts, cluster.now()) {
        idle = false;
        log_disruption(&mut cluster, &change);
        if change == Disruption::Entered {
            untaint_all(&mut cluster, &mut list);
        }
    }
    queue_for_tainting(&mut zones, &list, now);
    taint_queued_nodes(&mut cluster, &mut zones, &mut list);
    idle &= zones.zones.values().all(|z| z.queue.is_empty());
    mem.idle = idle && cluster.log.activity == activity_before;
}

/// Ready and not-Ready nodes per zone.
fn zone_counts(list: &[NodeItem]) -> BTreeMap<String, ZoneCount> {
    let mut counts: BTreeMap<String, ZoneCount> = BTreeMap::new();
    for (node, ns, _) in list {
        let c = counts.entry(node.zone.clone()).or_default();
        if ns.ready == Condition::True {
            c.ready += 1;
        } else {
            c.not_ready += 1;
        }
    }
    counts
}

/// The NoExecute taint the node's Ready condition calls for (unreachable
/// for Unknown, not-ready for False), None when it is Ready.
fn no_execute_key(ns: &NodeState) -> Option<&'static str> {
    match ns.ready {
        Condition::True => None,
        Condition::Unknown => Some(TAINT_UNREACHABLE),
        Condition::False => Some(TAINT_NOT_READY),
    }
}

/// Whether `t` is one of the node controller's NoExecute taints.
fn is_controller_no_execute(t: &Taint) -> bool {
    t.effect == TaintEffect::NoExecute && (t.key == TAINT_UNREACHABLE || t.key == TAINT_NOT_READY)
}

/// processTaintBaseEviction → markNodeForTainting: a node that is not Ready
/// and lacks its NoExecute taint waits in its zone's queue.
fn queue_for_tainting(zones: &mut Zones, list: &[NodeItem], now: u64) {
    for (node, ns, _) in list {
        let Some(key) = no_execute_key(ns) else {
            continue;
        };
        if ns.taint(key, TaintEffect::NoExecute).is_none()
            && let Some(z) = zones.zones.get_mut(&node.zone)
        {
            z.enqueue(&node.name, now);
        }
    }
}

/// doNoExecuteTaintingPass: in each zone, queued nodes get their NoExecute
/// taint while the zone's limiter has a token (one every 10 s normally,
/// none in a disrupted zone); a node that is Ready again, or gone, leaves
/// the queue (it still took a token, as in RateLimitedTimedQueue.Try).
fn taint_queued_nodes(cluster: &mut Cluster, zones: &mut Zones, list: &mut [NodeItem]) {
    let now = cluster.now();
    for (zone_name, zone) in zones.zones.iter_mut() {
        while let Some((queued_at, name)) = zone.queue.first().cloned() {
            if !zone.limiter.try_accept(now) {
                if let Some(t) = zone.limiter.next_token() {
                    cluster.wake_at(t);
                }
                break;
            }
            zone.queue.remove(0);
            let Some((node, ns, _)) = list.iter_mut().find(|(n, _, _)| n.name == name) else {
                continue;
            };
            let Some(key) = no_execute_key(ns) else {
                continue;
            };
            let waited = now - queued_at;
            let why = if waited > 0 {
                format!(
                    "; added {}s after it was queued: NoExecute taints in {zone_name} are rate-limited to one node every {}s (--node-eviction-rate 0.1)",
                    waited / 1000,
                    EVICTION_PERIOD_MS / 1000
                )
            } else {
                String::new()
            };
            add_no_execute_taint(cluster, node, ns, key, &why);
        }
    }
}

/// Adds the NoExecute taint `key`; the opposite one goes (unreachable and
/// not-ready are mutually exclusive, SwapNodeControllerTaint).
fn add_no_execute_taint(
    cluster: &mut Cluster,
    node: &Node,
    ns: &mut NodeState,
    key: &str,
    why: &str,
) {
    ns.taints.retain(|t| !is_controller_no_execute(t));
    ns.taints.push(Taint {
        key: key.into(),
        effect: TaintEffect::NoExecute,
        added_ms: cluster.now(),
    });
    cluster.emit(
        SimEvent::new(
            EventKind::NodeTainted,
            format!("node/{}", node.name),
            format!(
                "{key}:NoExecute: pods here are evicted once their 300s toleration runs out{why}"
            ),
        )
        .node(node.name.clone()),
    );
}

/// Full disruption (markNodeAsReachable on every node): the unreachable and
/// not-ready NoExecute taints are removed, so no pod is evicted.
fn untaint_all(cluster: &mut Cluster, list: &mut [NodeItem]) {
    for (node, ns, _) in list.iter_mut() {
        let before = ns.taints.len();
        ns.taints.retain(|t| !is_controller_no_execute(t));
        if ns.taints.len() != before {
            cluster.emit(
                SimEvent::new(
                    EventKind::NodeUntainted,
                    format!("node/{}", node.name),
                    "NoExecute taint removed: all Nodes are not-Ready, so the node lifecycle controller blames itself or the network rather than the nodes, and evicts nothing",
                )
                .node(node.name.clone()),
            );
        }
    }
}

/// Logs a zone or cluster disruption change with its reason.
fn log_disruption(cluster: &mut Cluster, change: &Disruption) {
    let ev = match change {
        Disruption::Entered => SimEvent::new(
            EventKind::FullDisruptionStarted,
            "controller/node-lifecycle",
            "all Nodes are not-Ready: every zone is fully disrupted, so the node lifecycle controller enters master disruption mode: it stops adding NoExecute taints and removes the ones it added (no pod is evicted while this lasts)",
        ),
        Disruption::Exited(zs) => {
            let states: Vec<String> = zs
                .iter()
                .map(|(z, s)| format!("{z} {}", s.name()))
                .collect();
            SimEvent::new(
                EventKind::FullDisruptionEnded,
                "controller/node-lifecycle",
                format!(
                    "some Nodes are Ready again: exiting master disruption mode ({}); NoExecute tainting resumes at each zone's rate, the first taint after {}s",
                    states.join(", "),
                    EVICTION_PERIOD_MS / 1000
                ),
            )
        }
        Disruption::Zone {
            zone,
            from,
            to,
            count,
            rate,
        } => SimEvent::new(
            EventKind::ZoneStateChanged,
            format!("zone/{zone}"),
            zone_reason(zone, *from, *to, *count, rate),
        ),
    };
    cluster.emit(ev);
}

/// Why a zone changed state, in words.
fn zone_reason(zone: &str, from: ZoneState, to: ZoneState, c: ZoneCount, rate: &str) -> String {
    let what = match to {
        ZoneState::PartialDisruption if rate == "stopped" => format!(
            "more than 2 and at least 55% (--unhealthy-zone-threshold) of its nodes are NotReady in a zone of at most {LARGE_CLUSTER_THRESHOLD} nodes (--large-cluster-size-threshold): NoExecute tainting in {zone} stops"
        ),
        ZoneState::PartialDisruption => format!(
            "more than 2 and at least 55% (--unhealthy-zone-threshold) of its nodes are NotReady in a zone of more than {LARGE_CLUSTER_THRESHOLD} nodes: NoExecute tainting slows to {rate} (--secondary-node-eviction-rate 0.01)"
        ),
        ZoneState::FullDisruption => format!(
            "none of its nodes is Ready, but other zones have Ready nodes: NoExecute tainting goes on at {rate}"
        ),
        _ => format!("NoExecute tainting at {rate}"),
    };
    format!(
        "{zone}: {} → {}: {} of {} nodes NotReady; {what}",
        from.name(),
        to.name(),
        c.not_ready,
        c.total()
    )
}

/// Ready=Unknown, and the unreachable NoSchedule taint at once
/// (doNoScheduleTaintingPass); the NoExecute taint goes through the zone's
/// rate-limited queue.
/// `grace`: the node-monitor grace period and the release it belongs to.
fn mark_unknown(
    cluster: &mut Cluster,
    node: &Node,
    ns: &mut NodeState,
    (grace_ms, release): (u64, crate::sim::version::KubeVersion),
) {
    let now = cluster.now();
    let hb = ns.heartbeat_at(now);
    ns.ready = Condition::Unknown;
    ns.ready_since_ms = now;
    let event = |kind, reason: String| {
        SimEvent::new(kind, format!("node/{}", node.name), reason).node(node.name.clone())
    };
    cluster.emit(event(
        EventKind::NodeNotReady,
        format!(
            "{} stopped posting status: no heartbeat for {}s (node-monitor-grace-period {}s in Kubernetes {}.{}); Ready=Unknown. The control plane cannot tell a crash from a network partition",
            node.name,
            (now - hb) / 1000,
            grace_ms / 1000,
            release.major,
            release.minor
        ),
    ));
    if ns
        .taint(TAINT_UNREACHABLE, TaintEffect::NoSchedule)
        .is_none()
    {
        ns.taints.push(Taint {
            key: TAINT_UNREACHABLE.into(),
            effect: TaintEffect::NoSchedule,
            added_ms: now,
        });
        cluster.emit(event(
            EventKind::NodeTainted,
            format!("{TAINT_UNREACHABLE}:NoSchedule: no new pods are scheduled here"),
        ));
    }
}

/// MarkPodsNotReady: the pods of an unreachable node leave the endpoints.
fn mark_pods_not_ready(
    cluster: &mut Cluster,
    node: &Node,
    node_pods: Option<&NodePods>,
    pods: &mut Query<(&Pod, &mut PodStatus)>,
) {
    let mut ents: Vec<Entity> = node_pods.map(|p| p.entities().to_vec()).unwrap_or_default();
    ents.sort_by_key(|&e| pods.get(e).map(|(p, _)| p.seq).unwrap_or(0));
    for e in ents {
        let Ok((p, mut s)) = pods.get_mut(e) else {
            continue;
        };
        cluster.journal.pods.note(e);
        if !s.ready {
            continue;
        }
        s.ready = false;
        s.ready_since_ms = None;
        let dns = p
            .dns
            .as_deref()
            .map(|d| format!("; {d} no longer resolves"))
            .unwrap_or_default();
        cluster.emit(
            SimEvent::new(
                EventKind::PodNotReady,
                format!("pod/{}", p.name),
                format!(
                    "{} is unreachable: its pods are marked not Ready and leave the endpoints{dns}",
                    node.name
                ),
            )
            .node(node.name.clone())
            .k8s(K8sRecord::pod_node_not_ready(&p.name)),
        );
    }
}

/// Ready=True again, and the unreachable / not-ready taints removed.
fn mark_ready(cluster: &mut Cluster, node: &Node, ns: &mut NodeState) {
    ns.ready = Condition::True;
    ns.ready_since_ms = cluster.now();
    let before = ns.taints.len();
    ns.taints
        .retain(|t| t.key != TAINT_UNREACHABLE && t.key != TAINT_NOT_READY);
    let event = |kind, reason: String| {
        SimEvent::new(kind, format!("node/{}", node.name), reason).node(node.name.clone())
    };
    cluster.emit(event(
        EventKind::NodeReady,
        format!("{} posts status again: Ready=True", node.name),
    ));
    if ns.taints.len() != before {
        cluster.emit(event(
            EventKind::NodeUntainted,
            format!("{TAINT_UNREACHABLE} removed"),
        ));
    }
}

/// When the NoExecute taints of a node (its state `ns`) evict a pod that
/// tolerates the unreachable and not-ready taints for `toleration_ms`, and
/// which taint does: an out-of-service taint (which no pod tolerates) at
/// once, an unreachable or not-ready one once the tolerationSeconds run out
/// (by default 300 s).
/// (pkg/controller/tainteviction: processPodOnNode, getMinTolerationTime.)
fn eviction_due(ns: &NodeState, toleration_ms: u64) -> Option<(u64, Eviction)> {
    if let Some(t) = ns.taint(TAINT_OUT_OF_SERVICE, TaintEffect::NoExecute) {
        return Some((t.added_ms, Eviction::OutOfService));
    }
    let t = ns
        .taint(TAINT_UNREACHABLE, TaintEffect::NoExecute)
        .or(ns.taint(TAINT_NOT_READY, TaintEffect::NoExecute))?;
    Some((
        t.added_ms + toleration_ms,
        Eviction::Unreachable { toleration_ms },
    ))
}

/// Which taint evicts a pod (its reason is written only for the pods
/// evicted: the controller looks at every pod on a tainted node each pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eviction {
    OutOfService,
    Unreachable { toleration_ms: u64 },
}

impl Eviction {
    /// Why a pod on `node` is evicted, as its event says.
    fn why(self, node: &str) -> String {
        match self {
            Eviction::OutOfService => format!(
                "{node} has the {TAINT_OUT_OF_SERVICE} taint, which no pod tolerates: evicted at once"
            ),
            Eviction::Unreachable { toleration_ms } => format!(
                "{node} has been unreachable for {}s (tolerationSeconds of {TAINT_UNREACHABLE}): evicted",
                toleration_ms / 1000
            ),
        }
    }
}

/// What becomes of an evicted pod: a graceful deletion, which only a
/// reachable kubelet can confirm; on an out-of-service node pod GC
/// force-deletes it instead.
fn after_eviction(node: &str, ns: &NodeState) -> String {
    if ns.kubelet_connected() {
        "graceful deletion".to_string()
    } else if ns
        .taint(TAINT_OUT_OF_SERVICE, TaintEffect::NoExecute)
        .is_some()
        && ns.ready != Condition::True
    {
        format!(
            "graceful deletion; {node} cannot confirm it, but pod GC force-deletes terminating pods on an out-of-service node at its next run (every 20s)"
        )
    } else {
        format!("graceful deletion; {node} cannot confirm it, so the pod stays Terminating")
    }
}

/// Taint-based eviction: NoExecute taints evict pods that do not tolerate
/// them (out-of-service: at once) or once their tolerationSeconds run out
/// (unreachable / not-ready: the default 300 s).
fn evict_from_tainted_nodes(
    mut cluster: Cluster,
    nodes: Query<(&Node, &NodeState, Option<&NodePods>)>,
    mut pods: Query<(&Pod, &mut PodStatus)>,
) {
    let now = cluster.now();
    let mut list: Vec<_> = nodes
        .iter()
        .filter(|(_, s, _)| s.taints.iter().any(|t| t.effect == TaintEffect::NoExecute))
        .collect();
    list.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (node, ns, node_pods) in list {
        // The node's default deadline is a wake-up even with no pod left to
        // evict, as before tolerations were per pod (the runs' clocks stay
        // as they were).
        if let Some((due, _)) = eviction_due(ns, DEFAULT_TOLERATION_MS)
            && now < due
        {
            cluster.wake_at(due);
        }
        let mut ents: Vec<Entity> = node_pods.map(|p| p.entities().to_vec()).unwrap_or_default();
        ents.sort_by_key(|&e| pods.get(e).map(|(p, _)| p.seq).unwrap_or(0));
        for e in ents {
            let Ok((p, mut s)) = pods.get_mut(e) else {
                continue;
            };
            cluster.journal.pods.note(e);
            if s.terminating() {
                continue;
            }
            let Some((due, why)) = eviction_due(ns, p.template.toleration_ms()) else {
                break;
            };
            if now < due {
                cluster.wake_at(due);
                continue;
            }
            cluster.emit(
                SimEvent::new(
                    EventKind::PodEvicted,
                    format!("pod/{}", p.name),
                    why.why(&node.name),
                )
                .node(node.name.clone()),
            );
            cluster.request_deletion(p, &mut s, after_eviction(&node.name, ns));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitor_skips_only_after_an_idle_pass_with_no_node_changed() {
        let idle = MonitorMemory {
            idle: true,
            nodes: Tally::default(),
        };
        assert!(can_skip(&idle, false, false));
        assert!(!can_skip(&idle, false, true), "a node changed");
        assert!(!can_skip(&idle, true, false), "a node went away");
        let busy = MonitorMemory {
            idle: false,
            nodes: Tally::default(),
        };
        assert!(
            !can_skip(&busy, false, false),
            "its last pass waits or acted"
        );
    }

    fn lost(machine: Machine, since: u64) -> NodeState {
        let mut ns = NodeState::new(0);
        ns.machine = machine;
        ns.machine_since_ms = since;
        ns.last_heartbeat_ms = since;
        ns
    }

    #[test]
    fn a_silent_node_becomes_unknown_after_the_grace_period_at_a_monitor_tick() {
        let ns = lost(Machine::Dead, 12_000);
        // Grace ends at 62s; the next 5s tick after it is 65s.
        assert_eq!(node_step(&ns, 20_000, 50_000), NodeStep::WaitUntil(65_000));
        assert_eq!(node_step(&ns, 64_999, 50_000), NodeStep::WaitUntil(65_000));
        assert_eq!(node_step(&ns, 65_000, 50_000), NodeStep::MarkUnknown);
    }

    #[test]
    fn a_partitioned_node_looks_the_same_as_a_dead_one() {
        let dead = lost(Machine::Dead, 12_000);
        let cut = lost(Machine::Partitioned, 12_000);
        assert_eq!(
            node_step(&dead, 65_000, 50_000),
            node_step(&cut, 65_000, 50_000)
        );
    }

    #[test]
    fn a_node_heartbeating_again_is_ready_at_once() {
        let mut ns = lost(Machine::Up, 100_000);
        ns.ready = Condition::Unknown;
        assert_eq!(node_step(&ns, 100_000, 50_000), NodeStep::MarkReady);
        ns.ready = Condition::True;
        assert_eq!(node_step(&ns, 100_000, 50_000), NodeStep::Nothing);
    }

    fn tainted(key: &str, added_ms: u64) -> NodeState {
        let mut ns = lost(Machine::Dead, 0);
        ns.ready = Condition::Unknown;
        ns.taints.push(Taint {
            key: key.into(),
            effect: TaintEffect::NoExecute,
            added_ms,
        });
        ns
    }

    #[test]
    fn pods_tolerate_the_unreachable_taint_for_300s() {
        let unreachable = Eviction::Unreachable {
            toleration_ms: DEFAULT_TOLERATION_MS,
        };
        assert_eq!(
            eviction_due(&tainted(TAINT_UNREACHABLE, 70_000), DEFAULT_TOLERATION_MS),
            Some((370_000, unreachable))
        );
        assert!(
            unreachable
                .why("n1")
                .starts_with("n1 has been unreachable for 300s")
        );
        assert_eq!(
            eviction_due(&tainted(TAINT_NOT_READY, 70_000), DEFAULT_TOLERATION_MS),
            Some((370_000, unreachable))
        );
    }

    #[test]
    fn toleration_seconds_shorten_the_wait_before_eviction() {
        let unreachable = Eviction::Unreachable {
            toleration_ms: 30_000,
        };
        assert_eq!(
            eviction_due(&tainted(TAINT_UNREACHABLE, 70_000), 30_000),
            Some((100_000, unreachable))
        );
        assert!(
            unreachable
                .why("n1")
                .starts_with("n1 has been unreachable for 30s")
        );
    }

    #[test]
    fn no_pod_tolerates_the_out_of_service_taint() {
        let mut ns = tainted(TAINT_UNREACHABLE, 70_000);
        ns.taints.push(Taint {
            key: TAINT_OUT_OF_SERVICE.into(),
            effect: TaintEffect::NoExecute,
            added_ms: 90_000,
        });
        assert_eq!(
            eviction_due(&ns, DEFAULT_TOLERATION_MS),
            Some((90_000, Eviction::OutOfService))
        );
        assert!(
            Eviction::OutOfService
                .why("n1")
                .ends_with("evicted at once")
        );
        assert!(after_eviction("n1", &ns).contains("pod GC force-deletes"));
    }

    #[test]
    fn an_evicted_pod_on_an_unreachable_node_stays_terminating() {
        let ns = tainted(TAINT_UNREACHABLE, 0);
        assert!(after_eviction("n1", &ns).ends_with("so the pod stays Terminating"));
        assert_eq!(
            after_eviction("n1", &NodeState::new(0)),
            "graceful deletion"
        );
    }
}
