//! Operations several controllers share, bundled in the `Cluster` system
//! parameter: the clock, the wake-up deadline, the event log, the name index
//! and `Commands`, with methods for asking for a pod's graceful deletion,
//! removing or force-deleting a pod object, and creating a claim.

use super::SimClock;
use super::event::{EventKind, EventLog, SimEvent};
use super::k8s_event::K8sRecord;
use super::model::journal::Journal;
use super::model::*;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;

/// What every controller system repeats: the clock, the next wake-up, the
/// event log, the name index and `Commands`. Systems take `mut cluster: Cluster`
/// instead of five parameters, and call `cluster.request_deletion(..)` etc.
#[derive(SystemParam)]
pub struct Cluster<'w, 's> {
    /// The clock and the next wake-up.
    pub clock: ResMut<'w, SimClock>,
    pub log: ResMut<'w, EventLog>,
    pub index: ResMut<'w, Index>,
    pub commands: Commands<'w, 's>,
    /// Which watched components were written: a system notes each entity
    /// whose `Mut<PodStatus>`, `Mut<Process>`, `Mut<Attachment>`,
    /// `Mut<ClaimStatus>` or `Mut<VolumeStatus>` it takes (model/journal.rs).
    pub journal: ResMut<'w, Journal>,
}

impl Cluster<'_, '_> {
    /// The current simulated instant in milliseconds.
    pub fn now(&self) -> u64 {
        self.clock.now_ms
    }
    /// Logs an event at the current instant.
    pub fn emit(&mut self, ev: SimEvent) {
        let now = self.clock.now_ms;
        self.log.emit(now, ev);
    }
    /// Records a state change that has no event of its own.
    pub fn touch(&mut self) {
        self.log.touch();
    }
    /// Asks for a pass at `t` (ignored unless in the future).
    pub fn wake_at(&mut self, t: u64) {
        self.clock.wake.at(t);
    }
    /// Sets the pod's deletionTimestamp (graceful deletion) and logs why.
    /// Returns false if it was already terminating.
    pub fn request_deletion(
        &mut self,
        pod: &Pod,
        st: &mut PodStatus,
        reason: impl Into<String>,
    ) -> bool {
        self.request_deletion_recorded(pod, st, reason, None)
    }
    /// `request_deletion` by a controller that records a Kubernetes event
    /// for it (SuccessfulDelete on the StatefulSet or ReplicaSet).
    pub fn request_deletion_recorded(
        &mut self,
        pod: &Pod,
        st: &mut PodStatus,
        reason: impl Into<String>,
        record: Option<K8sRecord>,
    ) -> bool {
        if st.deletion_ms.is_some() {
            return false;
        }
        st.deletion_ms = Some(self.clock.now_ms);
        let mut ev = SimEvent::new(
            EventKind::PodTerminating,
            format!("pod/{}", pod.name),
            reason,
        )
        .node_opt(st.node.clone())
        .revision(pod.revision.clone());
        ev.k8s = record;
        self.emit(ev);
        true
    }
    /// Removes the pod object once deletion is confirmed (PodDeleted).
    pub fn remove_pod(
        &mut self,
        entity: Entity,
        pod: &Pod,
        node: Option<String>,
        reason: impl Into<String>,
    ) {
        self.despawn_pod(entity, pod, node, EventKind::PodDeleted, reason);
    }
    /// Removes the pod object at once, whatever its kubelet is doing
    /// (PodForceDeleted). A process on a machine the control plane cannot
    /// reach keeps running.
    pub fn force_delete_pod(
        &mut self,
        entity: Entity,
        pod: &Pod,
        node: Option<String>,
        reason: impl Into<String>,
    ) {
        self.despawn_pod(entity, pod, node, EventKind::PodForceDeleted, reason);
    }
    /// Unindexes and despawns the pod object and logs `kind`.
    fn despawn_pod(
        &mut self,
        entity: Entity,
        pod: &Pod,
        node: Option<String>,
        kind: EventKind,
        reason: impl Into<String>,
    ) {
        if self.index.pods.get(&pod.name) == Some(&entity) {
            self.index.pods.remove(&pod.name);
        }
        // Its sandbox's address goes back to the node's pool (§1.7 pod-ips).
        self.index.network.release(&pod.uid);
        self.commands.entity(entity).despawn();
        self.emit(SimEvent::new(kind, format!("pod/{}", pod.name), reason).node_opt(node));
    }
    /// Spawns a claim object, indexes it and logs it.
    pub fn create_claim(
        &mut self,
        claim: Claim,
        owner_refs: Vec<OwnerRef>,
        reason: impl Into<String>,
    ) -> Entity {
        let name = claim.name.clone();
        let (set, ordinal) = (claim.set.clone(), claim.ordinal);
        let status = ClaimStatus {
            owner_refs,
            ..Default::default()
        };
        let e = self.commands.spawn((claim, status)).id();
        self.index.claims.insert(name.clone(), e);
        if self.index.deleted_claims.remove(&name).is_some() {
            self.index.deleted_claims_gen += 1;
        }
        let mut ev = SimEvent::new(EventKind::ClaimCreated, format!("pvc/{name}"), reason);
        if let (Some(set), Some(ordinal)) = (&set, ordinal) {
            let pod = format!("{set}-{ordinal}");
            ev = ev.k8s(K8sRecord::stateful_claim("create", set, &name, &pod));
        }
        self.emit(ev);
        e
    }
}

/// Describes a pod's state for "why" captions: "Pending (0/3 nodes …)".
pub fn describe_state(st: &PodStatus, now: u64, min_ready_ms: u64) -> String {
    let base = if st.terminating() {
        "Terminating".to_string()
    } else {
        match st.phase {
            PodPhase::Running if st.backoff.waiting(now) => format!(
                "Running but not Ready: its container crashed and waits to restart (CrashLoopBackOff, {} restarts)",
                st.restarts
            ),
            PodPhase::Running if !st.ready => "Running but not Ready".to_string(),
            _ if st.init.is_some() => format!("Pending ({})", st.status_column(now)),
            PodPhase::Running if !st.available(now, min_ready_ms) => format!(
                "Ready for less than minReadySeconds={}",
                min_ready_ms / 1000
            ),
            p => p.name().to_string(),
        }
    };
    match &st.waiting {
        Some(w) => format!("{base} ({w})"),
        None => base,
    }
}
