//! Pod garbage collection (pkg/controller/podgc): every 20 s it force-deletes
//! pods bound to a node that no longer exists (after a 40 s quarantine), and
//! terminating pods on a NotReady node with the out-of-service taint.

use crate::sim::SimSystems;
use crate::sim::model::gone::Tally;
use crate::sim::model::*;
use crate::sim::ops::Cluster;
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

/// Why pod GC would collect a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collect {
    /// Bound to a node that no longer exists (gcOrphaned).
    Orphan,
    /// Terminating on a NotReady node with the out-of-service taint
    /// (gcTerminating).
    OutOfService,
}

/// A NotReady node with the out-of-service taint (non-graceful shutdown).
fn out_of_service(ns: &NodeState) -> bool {
    ns.has_taint(TAINT_OUT_OF_SERVICE) && ns.ready != Condition::True
}

/// Whether pod GC collects a pod bound to a node whose state is `node`
/// (None: the node object is gone).
fn collects(node: Option<&NodeState>, terminating: bool) -> Option<Collect> {
    match node {
        None => Some(Collect::Orphan),
        Some(ns) if terminating && out_of_service(ns) => Some(Collect::OutOfService),
        Some(_) => None,
    }
}

/// Pod GC runs every gcCheckPeriod: Ok at a run, else the next run.
fn gc_run(now: u64) -> Result<(), u64> {
    if now.is_multiple_of(GC_PERIOD_MS) {
        Ok(())
    } else {
        Err(next_gc_run(now))
    }
}

/// The first run after `now`.
fn next_gc_run(now: u64) -> u64 {
    (now / GC_PERIOD_MS + 1) * GC_PERIOD_MS
}

/// An orphan is deleted once its node has been missing for the quarantine:
/// Ok then, else the instant the quarantine ends.
fn quarantine_over(missing_since: u64, now: u64) -> Result<(), u64> {
    let end = missing_since + QUARANTINE_MS;
    if now < end { Err(end) } else { Ok(()) }
}

/// What pod GC remembers between passes.
#[derive(Default)]
struct GcMemory {
    /// Nodes counted last pass (pods can be orphaned only when one goes).
    nodes: Tally,
    /// The last pass found orphans.
    had_orphans: bool,
}

/// A pod to collect: (creation order, entity, pod, its node's name).
type Candidate<'a> = (u64, Entity, &'a Pod, String);

fn collect_pods(
    mut cluster: Cluster,
    mut gc: ResMut<PodGcState>,
    pods: Query<(Entity, &Pod, &PodStatus)>,
    nodes: Query<&NodeState>,
    new_nodes: Query<(), Added<NodeState>>,
    mut mem: Local<GcMemory>,
) {
    let now = cluster.now();
    // Pods are only ever bound to nodes that exist: orphans can appear only
    // when a node goes away. Without that, an orphan left from before, or a
    // NotReady node tainted out-of-service, there is nothing to collect.
    let node_gone = mem
        .nodes
        .went_away(nodes.iter().len(), new_nodes.iter().count());
    let oos_node = nodes.iter().any(out_of_service);
    if !node_gone && !oos_node && !mem.had_orphans {
        forget_missing(&mut gc);
        return;
    }
    let mut orphans: Vec<Candidate> = Vec::new();
    let mut oos: Vec<Candidate> = Vec::new();
    for (e, p, s) in pods.iter() {
        let Some(n) = &s.node else { continue };
        let ns = cluster
            .index
            .nodes
            .get(n)
            .and_then(|&ne| nodes.get(ne).ok());
        match collects(ns, s.terminating()) {
            Some(Collect::Orphan) => orphans.push((p.seq, e, p, n.clone())),
            Some(Collect::OutOfService) => oos.push((p.seq, e, p, n.clone())),
            None => {}
        }
    }
    mem.had_orphans = !orphans.is_empty();
    if orphans.is_empty() && oos.is_empty() {
        forget_missing(&mut gc);
        return;
    }
    if let Err(next) = gc_run(now) {
        cluster.wake_at(next);
        return;
    }
    orphans.sort_by_key(|o| o.0);
    oos.sort_by_key(|o| o.0);
    delete_orphans(&mut cluster, &mut gc, orphans);
    for (_, e, p, n) in oos {
        let reason = format!(
            "pod GC: {n} is NotReady and tainted {TAINT_OUT_OF_SERVICE} (non-graceful shutdown): terminating pods are force-deleted"
        );
        cluster.force_delete_pod(e, p, Some(n), reason);
    }
    cluster.wake_at(next_gc_run(now));
}

/// Nothing to collect: no node is remembered as missing.
fn forget_missing(gc: &mut ResMut<PodGcState>) {
    // Checked first so that the resource is not marked changed for nothing.
    if !gc.missing_since.is_empty() {
        gc.missing_since.clear();
    }
}

/// Force-deletes the pods of missing nodes whose quarantine is over.
fn delete_orphans(cluster: &mut Cluster, gc: &mut ResMut<PodGcState>, orphans: Vec<Candidate>) {
    let now = cluster.now();
    for (_, e, p, n) in orphans {
        let since = *gc.missing_since.entry(n.clone()).or_insert(now);
        if let Err(end) = quarantine_over(since, now) {
            cluster.wake_at(end);
            continue;
        }
        let reason = format!(
            "pod GC: node {n} no longer exists (first seen missing {}s ago; the 40s quarantine is over); the name {} is released",
            (now - since) / 1000,
            p.name
        );
        cluster.force_delete_pod(e, p, Some(n), reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_gc_runs_every_20_seconds() {
        assert_eq!(gc_run(40_000), Ok(()));
        assert_eq!(gc_run(40_001), Err(60_000));
        assert_eq!(next_gc_run(40_000), 60_000);
    }

    #[test]
    fn orphans_are_deleted_after_the_40s_quarantine() {
        assert_eq!(quarantine_over(20_000, 40_000), Err(60_000));
        assert_eq!(quarantine_over(20_000, 60_000), Ok(()));
    }

    #[test]
    fn pods_of_a_deleted_node_are_orphans() {
        assert_eq!(collects(None, false), Some(Collect::Orphan));
        assert_eq!(collects(None, true), Some(Collect::Orphan));
    }

    #[test]
    fn only_terminating_pods_on_a_notready_out_of_service_node_are_collected() {
        let mut ns = NodeState::new(0);
        ns.taints.push(Taint {
            key: TAINT_OUT_OF_SERVICE.into(),
            effect: TaintEffect::NoExecute,
            added_ms: 0,
        });
        assert_eq!(collects(Some(&ns), true), None, "still Ready");
        ns.ready = Condition::Unknown;
        assert_eq!(collects(Some(&ns), true), Some(Collect::OutOfService));
        assert_eq!(collects(Some(&ns), false), None, "not terminating");
    }
}
