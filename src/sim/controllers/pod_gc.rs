//! Pod garbage collection (pkg/controller/podgc): every 20 s it force-deletes
//! pods bound to a node that no longer exists (after a 40 s quarantine), and
//! terminating pods on a NotReady node with the out-of-service taint.

use crate::sim::event::EventLog;
use crate::sim::model::*;
use crate::sim::{SimClock, SimSystems, Wake, ops};
use bevy::prelude::*;
use std::collections::BTreeMap;

/// gcCheckPeriod.
pub const GC_PERIOD_MS: u64 = 20_000;
/// The quarantine before pods of a vanished node are deleted.
pub const QUARANTINE_MS: u64 = 40_000;

/// When pod GC first saw each missing node.
#[derive(Resource, Default, Debug)]
pub struct PodGcState {
    pub missing_since: BTreeMap<String, u64>,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<PodGcState>().add_systems(
        crate::sim::SimSchedule,
        collect_pods
            .in_set(SimSystems::Nodes)
            .after(super::node_lifecycle::NodeLifecycle),
    );
}

#[allow(clippy::too_many_arguments)]
fn collect_pods(
    clock: Res<SimClock>,
    mut wake: ResMut<Wake>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut gc: ResMut<PodGcState>,
    mut commands: Commands,
    pods: Query<(Entity, &Pod, &PodStatus)>,
    nodes: Query<&NodeState>,
    new_nodes: Query<(), Added<NodeState>>,
    mut last: Local<(bool, usize)>,
) {
    let now = clock.now_ms;
    // Pods are only ever bound to nodes that exist: orphans can appear only
    // when a node goes away. Without that, an orphan left from before, or a
    // NotReady node tainted out-of-service, there is nothing to collect.
    let node_count = nodes.iter().len();
    let node_gone = node_count != last.1 + new_nodes.iter().count();
    let oos_node = nodes
        .iter()
        .any(|ns| ns.has_taint(TAINT_OUT_OF_SERVICE) && ns.ready != Condition::True);
    let had_orphans = last.0;
    last.1 = node_count;
    if !node_gone && !oos_node && !had_orphans {
        if !gc.missing_since.is_empty() {
            gc.missing_since.clear();
        }
        return;
    }
    let tick = now % GC_PERIOD_MS == 0;
    let next_tick = (now / GC_PERIOD_MS + 1) * GC_PERIOD_MS;
    let mut orphans: Vec<(u64, Entity, &Pod, String)> = Vec::new();
    let mut oos: Vec<(u64, Entity, &Pod, String)> = Vec::new();
    for (e, p, s) in pods.iter() {
        let Some(n) = &s.node else { continue };
        match index.nodes.get(n).and_then(|&ne| nodes.get(ne).ok()) {
            None => orphans.push((p.seq, e, p, n.clone())),
            Some(ns) => {
                if s.terminating()
                    && ns.has_taint(TAINT_OUT_OF_SERVICE)
                    && ns.ready != Condition::True
                {
                    oos.push((p.seq, e, p, n.clone()));
                }
            }
        }
    }
    last.0 = !orphans.is_empty();
    if orphans.is_empty() && oos.is_empty() {
        if !gc.missing_since.is_empty() {
            gc.missing_since.clear();
        }
        return;
    }
    if !tick {
        wake.at(next_tick);
        return;
    }
    orphans.sort_by_key(|o| o.0);
    oos.sort_by_key(|o| o.0);
    for (_, e, p, n) in orphans {
        let since = *gc.missing_since.entry(n.clone()).or_insert(now);
        if now < since + QUARANTINE_MS {
            wake.at(since + QUARANTINE_MS);
            continue;
        }
        let reason = format!(
            "pod GC: node {n} no longer exists (first seen missing {}s ago; the 40s quarantine is over); the name {} is released",
            (now - since) / 1000,
            p.name
        );
        ops::force_delete_pod(
            now,
            e,
            p,
            Some(n),
            &mut commands,
            &mut index,
            &mut log,
            reason,
        );
    }
    for (_, e, p, n) in oos {
        let reason = format!(
            "pod GC: {n} is NotReady and tainted {TAINT_OUT_OF_SERVICE} (non-graceful shutdown): terminating pods are force-deleted"
        );
        ops::force_delete_pod(
            now,
            e,
            p,
            Some(n),
            &mut commands,
            &mut index,
            &mut log,
            reason,
        );
    }
    wake.at(next_tick);
}
