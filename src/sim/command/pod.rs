//! Verbs on pods: delete (graceful or forced), break or restore readiness,
//! crash the container, evict it from its node.

use super::Ctx;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::journal::Journal;
use crate::sim::model::*;
use bevy::prelude::*;

/// Notes in the journal that the pod's status is written.
fn note_pod(world: &mut World, e: Entity) {
    world.resource_mut::<Journal>().pods.note(e);
}

/// `kubectl delete pod`: graceful deletion.
pub(super) fn delete(cx: &mut Ctx, pod: &str) -> Result<(), String> {
    let e = cx.pod(pod)?;
    cx.world.get::<Pod>(e).ok_or("pod is gone")?;
    cx.with_cluster(|cluster, pods| {
        if let Ok((p, mut st)) = pods.get_mut(e) {
            cluster.journal.pods.note(e);
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
    note_pod(cx.world, e);
    if let Some(mut st) = cx.world.get_mut::<PodStatus>(e) {
        st.readiness_broken = broken;
    }
    cx.touch();
    Ok(())
}

/// The container exits with an error (exit code 1). restartPolicy Always:
/// the kubelet restarts it in place after its back-off (same pod object,
/// uid and node); the StatefulSet controller takes no part. With `times`
/// above 1, each new container crashes again as it starts. A kubelet cut off
/// from the API cannot report it.
pub(super) fn crash(cx: &mut Ctx, pod: &str, times: u32) -> Result<(), String> {
    let (e, node, connected, procs) = running_container(cx, pod)?;
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
    let now = cx.now;
    note_pod(cx.world, e);
    let was_ready = {
        let mut st = cx.world.get_mut::<PodStatus>(e).ok_or("pod is gone")?;
        let was_ready = st.ready;
        st.container_exited(now);
        st.crashes_left = times.saturating_sub(1);
        was_ready
    };
    let more = match times {
        1 => String::new(),
        n => format!("; it will crash {} more times as it starts", n - 1),
    };
    cx.emit(
        SimEvent::new(
            EventKind::ProcessStopped,
            format!("pod/{pod}"),
            format!(
                "the container exited with an error (exit code 1); restartPolicy Always: the kubelet on {node} restarts it in place (same pod, same uid, same node), the phase stays Running and the StatefulSet controller takes no part{more}"
            ),
        )
        .node(node.clone()),
    );
    if was_ready {
        cx.emit(
            SimEvent::new(
                EventKind::PodNotReady,
                format!("pod/{pod}"),
                "its container exited: not Ready, removed from the service's endpoints and DNS",
            )
            .node(node),
        );
    }
    Ok(())
}

/// Node-pressure eviction by the kubelet (eviction_manager.go): it kills the
/// pod's containers at once, sets phase Failed and reason Evicted. The pod
/// object stays; the StatefulSet controller deletes a Failed pod and creates
/// it again (processReplica: isFailed).
pub(super) fn kubelet_evict(cx: &mut Ctx, pod: &str) -> Result<(), String> {
    let (e, node, connected, procs) = running_container(cx, pod)?;
    if !connected {
        return Err(format!("the kubelet on {node} cannot reach the API server"));
    }
    for pe in procs {
        cx.world.despawn(pe);
    }
    note_pod(cx.world, e);
    if let Some(mut st) = cx.world.get_mut::<PodStatus>(e) {
        st.phase = PodPhase::Failed;
        st.reason = Some("Evicted".to_string());
        st.ready = false;
        st.ready_since_ms = None;
        st.init = None;
        st.backoff.exited_ms = None;
    }
    cx.emit(
        SimEvent::new(
            EventKind::PodFailed,
            format!("pod/{pod}"),
            format!(
                "the kubelet on {node} evicted it under node pressure (memory): containers killed, phase Failed, reason Evicted; a Failed pod is never restarted in place"
            ),
        )
        .node(node)
        .k8s(crate::sim::k8s_event::K8sRecord::evicted(pod)),
    );
    Ok(())
}

/// The pod `pod`'s entity, its node, whether that node's kubelet reaches the
/// API, and its container processes (at least one).
fn running_container(cx: &Ctx, pod: &str) -> Result<(Entity, String, bool, Vec<Entity>), String> {
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
    Ok((e, node, connected, procs))
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
