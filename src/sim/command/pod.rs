//! Verbs on pods: delete (graceful or forced), break or restore readiness,
//! crash the container.

use super::Ctx;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::*;
use bevy::prelude::*;

/// `kubectl delete pod`: graceful deletion.
pub(super) fn delete(cx: &mut Ctx, pod: &str) -> Result<(), String> {
    let e = cx.pod(pod)?;
    cx.world.get::<Pod>(e).ok_or("pod is gone")?;
    cx.with_cluster(|cluster, pods| {
        if let Ok((p, mut st)) = pods.get_mut(e) {
            cluster.request_deletion(
                p,
                &mut st,
                "deleted by the user (kubectl delete pod): graceful deletion",
            );
        }
    })
}

/// `kubectl delete pod --force --grace-period=0`: the object goes at once.
pub(super) fn force_delete(cx: &mut Ctx, pod: &str) -> Result<(), String> {
    let e = cx.pod(pod)?;
    let pod_c = cx.world.get::<Pod>(e).cloned().ok_or("pod is gone")?;
    let node = cx.world.get::<PodStatus>(e).and_then(|s| s.node.clone());
    let reason = match &node {
        Some(n) => format!(
            "force-deleted by the user (--force --grace-period=0): the object is removed without waiting for {n}'s kubelet to confirm the container stopped"
        ),
        None => "force-deleted by the user (--force --grace-period=0)".to_string(),
    };
    cx.with_cluster(|cluster, _| cluster.force_delete_pod(e, &pod_c, node, reason))
}

/// The readiness probe starts failing (`broken`) or passes again.
pub(super) fn set_readiness_broken(cx: &mut Ctx, pod: &str, broken: bool) -> Result<(), String> {
    let e = cx.pod(pod)?;
    if let Some(mut st) = cx.world.get_mut::<PodStatus>(e) {
        st.readiness_broken = broken;
    }
    cx.touch();
    Ok(())
}

/// The container exits with an error. Its kubelet reports phase Failed, if
/// it can reach the control plane.
pub(super) fn crash(cx: &mut Ctx, pod: &str) -> Result<(), String> {
    let e = cx.pod(pod)?;
    let (uid, node) = {
        let p = cx.world.get::<Pod>(e).ok_or("pod is gone")?;
        let s = cx.world.get::<PodStatus>(e).ok_or("pod is gone")?;
        (p.uid.clone(), s.node.clone())
    };
    let node = node.ok_or(format!("{pod} is not running on a node"))?;
    let ne = cx
        .index()
        .nodes
        .get(&node)
        .copied()
        .ok_or("its node is gone")?;
    let connected = cx
        .world
        .get::<NodeState>(ne)
        .is_some_and(|s| s.kubelet_connected());
    let procs = processes_of(cx.world, ne, &uid);
    if procs.is_empty() {
        return Err(format!("{pod} has no running container"));
    }
    for pe in procs {
        cx.world.despawn(pe);
    }
    if !connected {
        cx.emit(
            SimEvent::new(
                EventKind::ProcessStopped,
                format!("pod/{pod}"),
                format!("the container crashed on {node}, which cannot report it"),
            )
            .node(node),
        );
        return Ok(());
    }
    if let Some(mut st) = cx.world.get_mut::<PodStatus>(e) {
        st.phase = PodPhase::Failed;
        st.ready = false;
        st.ready_since_ms = None;
    }
    cx.emit(
        SimEvent::new(
            EventKind::PodFailed,
            format!("pod/{pod}"),
            "the container exited with an error: phase Failed",
        )
        .node(node),
    );
    Ok(())
}

/// The processes of the pod with `uid` on node `ne`, in the node's order.
fn processes_of(world: &World, ne: Entity, uid: &str) -> Vec<Entity> {
    world
        .get::<NodeProcesses>(ne)
        .map(|p| p.entities().to_vec())
        .unwrap_or_default()
        .into_iter()
        .filter(|&pe| world.get::<Process>(pe).is_some_and(|p| p.pod_uid == uid))
        .collect()
}
