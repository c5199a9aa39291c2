//! The node lifecycle controller and taint-based eviction: a node that stops
//! heartbeating is marked Ready=Unknown after the 50 s grace period, tainted
//! unreachable (NoSchedule + NoExecute), its pods marked not Ready; pods
//! tolerate the NoExecute taint for 300 s, then are evicted gracefully.
//! (pkg/controller/nodelifecycle, pkg/controller/tainteviction.)

use crate::sim::event::{EventKind, EventLog, SimEvent};
use crate::sim::model::*;
use crate::sim::{SimClock, SimSystems, Wake, ops};
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

fn monitor_nodes(
    clock: Res<SimClock>,
    mut wake: ResMut<Wake>,
    mut log: ResMut<EventLog>,
    mut nodes: Query<(&Node, &mut NodeState, Option<&NodePods>)>,
    mut pods: Query<(&Pod, &mut PodStatus)>,
) {
    let now = clock.now_ms;
    let mut list: Vec<_> = nodes.iter_mut().collect();
    list.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (node, mut ns, node_pods) in list {
        let hb = ns.heartbeat_at(now);
        let fresh = ns.machine == Machine::Up;
        if ns.ready == Condition::True && !fresh {
            // Ready=Unknown once the grace period has passed, seen at a monitor tick.
            let due = next_monitor_tick(hb + NODE_MONITOR_GRACE_MS + 1);
            if now < due {
                wake.at(due);
                continue;
            }
            ns.ready = Condition::Unknown;
            ns.ready_since_ms = now;
            log.emit(
                now,
                SimEvent::new(
                    EventKind::NodeNotReady,
                    format!("node/{}", node.name),
                    format!(
                        "{} stopped posting status: no heartbeat for {}s (node-monitor-grace-period 50s); Ready=Unknown. The control plane cannot tell a crash from a network partition",
                        node.name,
                        (now - hb) / 1000
                    ),
                )
                .node(node.name.clone()),
            );
            for effect in [TaintEffect::NoSchedule, TaintEffect::NoExecute] {
                if ns.taint(TAINT_UNREACHABLE, effect).is_none() {
                    ns.taints.push(Taint {
                        key: TAINT_UNREACHABLE.into(),
                        effect,
                        added_ms: now,
                    });
                    log.emit(
                        now,
                        SimEvent::new(
                            EventKind::NodeTainted,
                            format!("node/{}", node.name),
                            format!(
                                "{TAINT_UNREACHABLE}:{effect:?}: {}",
                                match effect {
                                    TaintEffect::NoSchedule => "no new pods are scheduled here",
                                    TaintEffect::NoExecute =>
                                        "pods here are evicted once their 300s toleration runs out",
                                }
                            ),
                        )
                        .node(node.name.clone()),
                    );
                }
            }
            // MarkPodsNotReady.
            let mut ents: Vec<Entity> =
                node_pods.map(|p| p.entities().to_vec()).unwrap_or_default();
            ents.sort_by_key(|&e| pods.get(e).map(|(p, _)| p.seq).unwrap_or(0));
            for e in ents {
                let Ok((p, mut s)) = pods.get_mut(e) else {
                    continue;
                };
                if s.ready {
                    s.ready = false;
                    s.ready_since_ms = None;
                    let dns = p
                        .dns
                        .as_deref()
                        .map(|d| format!("; {d} no longer resolves"))
                        .unwrap_or_default();
                    log.emit(
                        now,
                        SimEvent::new(
                            EventKind::PodNotReady,
                            format!("pod/{}", p.name),
                            format!("{} is unreachable: its pods are marked not Ready and leave the endpoints{dns}", node.name),
                        )
                        .node(node.name.clone()),
                    );
                }
            }
        } else if ns.ready != Condition::True && fresh {
            ns.ready = Condition::True;
            ns.ready_since_ms = now;
            let before = ns.taints.len();
            ns.taints
                .retain(|t| t.key != TAINT_UNREACHABLE && t.key != TAINT_NOT_READY);
            log.emit(
                now,
                SimEvent::new(
                    EventKind::NodeReady,
                    format!("node/{}", node.name),
                    format!("{} posts status again: Ready=True", node.name),
                )
                .node(node.name.clone()),
            );
            if ns.taints.len() != before {
                log.emit(
                    now,
                    SimEvent::new(
                        EventKind::NodeUntainted,
                        format!("node/{}", node.name),
                        format!("{TAINT_UNREACHABLE} removed"),
                    )
                    .node(node.name.clone()),
                );
            }
        }
    }
}

/// Taint-based eviction: NoExecute taints evict pods that do not tolerate
/// them (out-of-service: at once) or once their tolerationSeconds run out
/// (unreachable / not-ready: the default 300 s).
fn evict_from_tainted_nodes(
    clock: Res<SimClock>,
    mut wake: ResMut<Wake>,
    mut log: ResMut<EventLog>,
    nodes: Query<(&Node, &NodeState, Option<&NodePods>)>,
    mut pods: Query<(&Pod, &mut PodStatus)>,
) {
    let now = clock.now_ms;
    let mut list: Vec<_> = nodes
        .iter()
        .filter(|(_, s, _)| s.taints.iter().any(|t| t.effect == TaintEffect::NoExecute))
        .collect();
    list.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (node, ns, node_pods) in list {
        let oos = ns.taint(TAINT_OUT_OF_SERVICE, TaintEffect::NoExecute);
        let unreachable = ns
            .taint(TAINT_UNREACHABLE, TaintEffect::NoExecute)
            .or(ns.taint(TAINT_NOT_READY, TaintEffect::NoExecute));
        let (due, why) = match (oos, unreachable) {
            (Some(t), _) => (
                t.added_ms,
                format!(
                    "{} has the {TAINT_OUT_OF_SERVICE} taint, which no pod tolerates: evicted at once",
                    node.name
                ),
            ),
            (None, Some(t)) => (
                t.added_ms + DEFAULT_TOLERATION_MS,
                format!(
                    "{} has been unreachable for 300s (tolerationSeconds of {TAINT_UNREACHABLE}): evicted",
                    node.name
                ),
            ),
            (None, None) => continue,
        };
        if now < due {
            wake.at(due);
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
            log.emit(
                now,
                SimEvent::new(
                    EventKind::PodEvicted,
                    format!("pod/{}", p.name),
                    why.clone(),
                )
                .node(node.name.clone()),
            );
            let follow = if ns.kubelet_connected() {
                "graceful deletion".to_string()
            } else if oos.is_some() && ns.ready != Condition::True {
                format!(
                    "graceful deletion; {} cannot confirm it, but pod GC force-deletes terminating pods on an out-of-service node at its next run (every 20s)",
                    node.name
                )
            } else {
                format!(
                    "graceful deletion; {} cannot confirm it, so the pod stays Terminating",
                    node.name
                )
            };
            ops::request_deletion(now, p, &mut s, &mut log, follow);
        }
    }
}
