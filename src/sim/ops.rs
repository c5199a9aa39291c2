//! Operations several controllers share: asking for a pod's graceful deletion,
//! removing or force-deleting a pod object, and creating objects with their
//! index entries.

use super::event::{EventKind, EventLog, SimEvent};
use super::model::*;
use bevy::prelude::*;

/// Sets the pod's deletionTimestamp (graceful deletion) and logs why.
/// Returns false if it was already terminating.
pub fn request_deletion(
    now: u64,
    pod: &Pod,
    st: &mut PodStatus,
    log: &mut EventLog,
    reason: impl Into<String>,
) -> bool {
    if st.deletion_ms.is_some() {
        return false;
    }
    st.deletion_ms = Some(now);
    log.emit(
        now,
        SimEvent::new(
            EventKind::PodTerminating,
            format!("pod/{}", pod.name),
            reason,
        )
        .node_opt(st.node.clone())
        .revision(pod.revision.clone()),
    );
    true
}

/// Removes the pod object once deletion is confirmed (PodDeleted).
pub fn remove_pod(
    now: u64,
    entity: Entity,
    pod: &Pod,
    node: Option<String>,
    commands: &mut Commands,
    index: &mut Index,
    log: &mut EventLog,
    reason: impl Into<String>,
) {
    if index.pods.get(&pod.name) == Some(&entity) {
        index.pods.remove(&pod.name);
    }
    commands.entity(entity).despawn();
    log.emit(
        now,
        SimEvent::new(EventKind::PodDeleted, format!("pod/{}", pod.name), reason).node_opt(node),
    );
}

/// Removes the pod object at once, whatever its kubelet is doing (PodForceDeleted).
/// A process on a machine the control plane cannot reach keeps running.
pub fn force_delete_pod(
    now: u64,
    entity: Entity,
    pod: &Pod,
    node: Option<String>,
    commands: &mut Commands,
    index: &mut Index,
    log: &mut EventLog,
    reason: impl Into<String>,
) {
    if index.pods.get(&pod.name) == Some(&entity) {
        index.pods.remove(&pod.name);
    }
    commands.entity(entity).despawn();
    log.emit(
        now,
        SimEvent::new(
            EventKind::PodForceDeleted,
            format!("pod/{}", pod.name),
            reason,
        )
        .node_opt(node),
    );
}

/// Describes a pod's state for "why" captions: "Pending (0/3 nodes …)".
pub fn describe_state(st: &PodStatus, now: u64, min_ready_ms: u64) -> String {
    let base = if st.terminating() {
        "Terminating".to_string()
    } else {
        match st.phase {
            PodPhase::Running if !st.ready => "Running but not Ready".to_string(),
            PodPhase::Running if !st.available(now, min_ready_ms) => format!(
                "Ready for less than minReadySeconds={}",
                min_ready_ms / 1000
            ),
            p => format!("{p:?}"),
        }
    };
    match &st.waiting {
        Some(w) => format!("{base} ({w})"),
        None => base,
    }
}

/// Spawns a claim object and logs it.
pub fn create_claim(
    now: u64,
    claim: Claim,
    commands: &mut Commands,
    index: &mut Index,
    log: &mut EventLog,
    reason: impl Into<String>,
) -> Entity {
    let name = claim.name.clone();
    let e = commands.spawn((claim, ClaimStatus::default())).id();
    index.claims.insert(name.clone(), e);
    if index.deleted_claims.remove(&name).is_some() {
        index.deleted_claims_gen += 1;
    }
    log.emit(
        now,
        SimEvent::new(EventKind::ClaimCreated, format!("pvc/{name}"), reason),
    );
    e
}
