//! The node lifecycle controller and taint-based eviction: a node that stops
//! heartbeating is marked Ready=Unknown after the 50 s grace period, tainted
//! unreachable (NoSchedule + NoExecute), its pods marked not Ready; pods
//! tolerate the NoExecute taint for 300 s, then are evicted gracefully.
//! (pkg/controller/nodelifecycle, pkg/controller/tainteviction.)

use crate::sim::SimSystems;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::K8sRecord;
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use bevy::prelude::*;

pub(super) fn plugin(app: &mut App) {
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
/// has passed, seen at a node-monitor-period tick; one heartbeating again is
/// Ready at once.
fn node_step(ns: &NodeState, now: u64) -> NodeStep {
    let fresh = ns.machine == Machine::Up;
    if ns.ready == Condition::True && !fresh {
        let due = next_monitor_tick(ns.heartbeat_at(now) + NODE_MONITOR_GRACE_MS + 1);
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

fn monitor_nodes(
    mut cluster: Cluster,
    mut nodes: Query<(&Node, &mut NodeState, Option<&NodePods>)>,
    mut pods: Query<(&Pod, &mut PodStatus)>,
) {
    let now = cluster.now();
    let mut list: Vec<_> = nodes.iter_mut().collect();
    list.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (node, mut ns, node_pods) in list {
        match node_step(&ns, now) {
            NodeStep::Nothing => {}
            NodeStep::WaitUntil(due) => cluster.wake_at(due),
            NodeStep::MarkUnknown => {
                mark_unknown(&mut cluster, node, &mut ns);
                mark_pods_not_ready(&mut cluster, node, node_pods, &mut pods);
            }
            NodeStep::MarkReady => mark_ready(&mut cluster, node, &mut ns),
        }
    }
}

/// Ready=Unknown, and the unreachable NoSchedule and NoExecute taints.
fn mark_unknown(cluster: &mut Cluster, node: &Node, ns: &mut NodeState) {
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
            "{} stopped posting status: no heartbeat for {}s (node-monitor-grace-period 50s); Ready=Unknown. The control plane cannot tell a crash from a network partition",
            node.name,
            (now - hb) / 1000
        ),
    ));
    for effect in [TaintEffect::NoSchedule, TaintEffect::NoExecute] {
        if ns.taint(TAINT_UNREACHABLE, effect).is_some() {
            continue;
        }
        ns.taints.push(Taint {
            key: TAINT_UNREACHABLE.into(),
            effect,
            added_ms: now,
        });
        let what = match effect {
            TaintEffect::NoSchedule => "no new pods are scheduled here",
            TaintEffect::NoExecute => "pods here are evicted once their 300s toleration runs out",
        };
        cluster.emit(event(
            EventKind::NodeTainted,
            format!("{TAINT_UNREACHABLE}:{}: {what}", effect.name()),
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

/// When the NoExecute taints of `node` evict its pods, and why: an
/// out-of-service taint (which no pod tolerates) at once, an unreachable or
/// not-ready one once the default tolerationSeconds (300 s) run out.
/// (pkg/controller/tainteviction.)
fn eviction_due(node: &str, ns: &NodeState) -> Option<(u64, String)> {
    if let Some(t) = ns.taint(TAINT_OUT_OF_SERVICE, TaintEffect::NoExecute) {
        let why = format!(
            "{node} has the {TAINT_OUT_OF_SERVICE} taint, which no pod tolerates: evicted at once"
        );
        return Some((t.added_ms, why));
    }
    let t = ns
        .taint(TAINT_UNREACHABLE, TaintEffect::NoExecute)
        .or(ns.taint(TAINT_NOT_READY, TaintEffect::NoExecute))?;
    let why = format!(
        "{node} has been unreachable for 300s (tolerationSeconds of {TAINT_UNREACHABLE}): evicted"
    );
    Some((t.added_ms + DEFAULT_TOLERATION_MS, why))
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
        let Some((due, why)) = eviction_due(&node.name, ns) else {
            continue;
        };
        if now < due {
            cluster.wake_at(due);
            continue;
        }
        let mut ents: Vec<Entity> = node_pods.map(|p| p.entities().to_vec()).unwrap_or_default();
        ents.sort_by_key(|&e| pods.get(e).map(|(p, _)| p.seq).unwrap_or(0));
        for e in ents {
            let Ok((p, mut s)) = pods.get_mut(e) else {
                continue;
            };
            if s.terminating() {
                continue;
            }
            cluster.emit(
                SimEvent::new(
                    EventKind::PodEvicted,
                    format!("pod/{}", p.name),
                    why.clone(),
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
        assert_eq!(node_step(&ns, 20_000), NodeStep::WaitUntil(65_000));
        assert_eq!(node_step(&ns, 64_999), NodeStep::WaitUntil(65_000));
        assert_eq!(node_step(&ns, 65_000), NodeStep::MarkUnknown);
    }

    #[test]
    fn a_partitioned_node_looks_the_same_as_a_dead_one() {
        let dead = lost(Machine::Dead, 12_000);
        let cut = lost(Machine::Partitioned, 12_000);
        assert_eq!(node_step(&dead, 65_000), node_step(&cut, 65_000));
    }

    #[test]
    fn a_node_heartbeating_again_is_ready_at_once() {
        let mut ns = lost(Machine::Up, 100_000);
        ns.ready = Condition::Unknown;
        assert_eq!(node_step(&ns, 100_000), NodeStep::MarkReady);
        ns.ready = Condition::True;
        assert_eq!(node_step(&ns, 100_000), NodeStep::Nothing);
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
        let (due, why) = eviction_due("n1", &tainted(TAINT_UNREACHABLE, 70_000)).unwrap();
        assert_eq!(due, 370_000);
        assert!(why.starts_with("n1 has been unreachable for 300s"));
        let (due, _) = eviction_due("n1", &tainted(TAINT_NOT_READY, 70_000)).unwrap();
        assert_eq!(due, 370_000);
    }

    #[test]
    fn no_pod_tolerates_the_out_of_service_taint() {
        let mut ns = tainted(TAINT_UNREACHABLE, 70_000);
        ns.taints.push(Taint {
            key: TAINT_OUT_OF_SERVICE.into(),
            effect: TaintEffect::NoExecute,
            added_ms: 90_000,
        });
        let (due, why) = eviction_due("n1", &ns).unwrap();
        assert_eq!(due, 90_000);
        assert!(why.ends_with("evicted at once"));
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
