//! Pod components (the API object and its status) and Process (a container
//! really running on a machine, which can outlive its API object).

use super::spec::PodTemplate;
use bevy::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OwnerKind {
    StatefulSet,
    Deployment,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    pub kind: OwnerKind,
    pub name: String,
}

impl Owner {
    pub fn set(name: &str) -> Self {
        Owner {
            kind: OwnerKind::StatefulSet,
            name: name.into(),
        }
    }
    pub fn deployment(name: &str) -> Self {
        Owner {
            kind: OwnerKind::Deployment,
            name: name.into(),
        }
    }
    pub fn object(&self) -> String {
        match self.kind {
            OwnerKind::StatefulSet => format!("statefulset/{}", self.name),
            OwnerKind::Deployment => format!("deployment/{}", self.name),
        }
    }
}

/// Pod phase as `kubectl get pods` shows it. `Terminating` and `Absent` are
/// derived (deletion timestamp set / no object) and never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PodPhase {
    Pending,
    ContainerCreating,
    Running,
    Succeeded,
    Failed,
    Terminating,
    Absent,
}

impl PodPhase {
    /// The phase as `kubectl get pods` and the event log spell it.
    pub const fn name(self) -> &'static str {
        match self {
            PodPhase::Pending => "Pending",
            PodPhase::ContainerCreating => "ContainerCreating",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Succeeded",
            PodPhase::Failed => "Failed",
            PodPhase::Terminating => "Terminating",
            PodPhase::Absent => "Absent",
        }
    }
}

/// The pod API object: identity and spec.
#[derive(Component, Debug, Clone)]
pub struct Pod {
    pub name: String,
    pub uid: String,
    pub owner: Owner,
    pub ordinal: Option<u32>,
    /// controller-revision-hash (StatefulSet) or pod-template-hash (Deployment).
    pub revision: String,
    pub template: PodTemplate,
    /// Claims this pod mounts (StatefulSet pods only).
    pub claims: Vec<String>,
    pub created_ms: u64,
    pub seq: u64,
    /// DNS name through the headless service, for StatefulSet pods.
    pub dns: Option<String>,
}

/// The pod's status as the API server holds it.
#[derive(Component, Debug, Clone)]
pub struct PodStatus {
    /// Stored phase: Pending, ContainerCreating, Running, Succeeded or Failed.
    pub phase: PodPhase,
    pub ready: bool,
    pub ready_since_ms: Option<u64>,
    /// spec.nodeName once scheduled.
    pub node: Option<String>,
    /// metadata.deletionTimestamp.
    pub deletion_ms: Option<u64>,
    /// Why the pod is waiting (scheduling, volumes, image), for captions.
    pub waiting: Option<String>,
    /// The readiness probe is failing on purpose (BreakReadiness).
    pub readiness_broken: bool,
    pub restarts: u32,
    /// The moment the kubelet may retry a failed image pull.
    pub pull_retry_ms: Option<u64>,
    pub pull_backoff_ms: u64,
}

impl PodStatus {
    pub fn new() -> Self {
        PodStatus {
            phase: PodPhase::Pending,
            ready: false,
            ready_since_ms: None,
            node: None,
            deletion_ms: None,
            waiting: None,
            readiness_broken: false,
            restarts: 0,
            pull_retry_ms: None,
            pull_backoff_ms: 0,
        }
    }
    /// The phase as kubectl shows it.
    pub fn shown_phase(&self) -> PodPhase {
        if self.deletion_ms.is_some() {
            PodPhase::Terminating
        } else {
            self.phase
        }
    }
    pub fn terminating(&self) -> bool {
        self.deletion_ms.is_some()
    }
    pub fn terminal(&self) -> bool {
        matches!(self.phase, PodPhase::Failed | PodPhase::Succeeded)
    }
    /// isRunningAndReady (stateful_set_utils.go).
    pub fn running_and_ready(&self) -> bool {
        self.phase == PodPhase::Running && self.ready
    }
    /// isRunningAndAvailable: ready for at least minReadySeconds.
    pub fn available(&self, now: u64, min_ready_ms: u64) -> bool {
        self.running_and_ready()
            && self
                .ready_since_ms
                .is_some_and(|s| min_ready_ms == 0 || now >= s + min_ready_ms)
    }
}

impl Default for PodStatus {
    fn default() -> Self {
        Self::new()
    }
}

/// Pod → the workload that owns it.
#[derive(Component, Debug)]
#[relationship(relationship_target = OwnedPods)]
pub struct PodOf(pub Entity);

/// Workload → its pods (kept by Bevy from `PodOf`).
#[derive(Component, Debug, Default)]
#[relationship_target(relationship = PodOf)]
pub struct OwnedPods(Vec<Entity>);

impl OwnedPods {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// Pod → the node it is bound to. Removed by Bevy if the node object is
/// deleted, while `PodStatus::node` keeps the name: that is how pod GC finds
/// pods bound to a node that no longer exists.
#[derive(Component, Debug)]
#[relationship(relationship_target = NodePods)]
pub struct ScheduledOn(pub Entity);

#[derive(Component, Debug, Default)]
#[relationship_target(relationship = ScheduledOn)]
pub struct NodePods(Vec<Entity>);

impl NodePods {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessStage {
    /// The container is being started.
    Starting {
        until_ms: u64,
    },
    Running,
    /// SIGTERM sent; exits at `until_ms`.
    Stopping {
        until_ms: u64,
    },
}

/// A container really running on a machine. It belongs to the machine, not to
/// the API: it keeps running on a partitioned node after its pod object is
/// force-deleted, which is how split brain happens.
#[derive(Component, Debug, Clone)]
pub struct Process {
    pub pod: String,
    pub pod_uid: String,
    pub owner: Owner,
    pub ordinal: Option<u32>,
    pub node: String,
    pub stage: ProcessStage,
    pub started_ms: u64,
    /// When the readiness probe first passes.
    pub ready_at_ms: u64,
    /// Volumes this process has mounted.
    pub volumes: Vec<String>,
    pub image: String,
    /// The application is not ready to serve yet (a replica still cloning).
    pub hold_ready: bool,
}

impl Process {
    pub fn running(&self) -> bool {
        matches!(self.stage, ProcessStage::Running)
    }
}

/// Process → the node (machine) it runs on.
#[derive(Component, Debug)]
#[relationship(relationship_target = NodeProcesses)]
pub struct RunsOn(pub Entity);

#[derive(Component, Debug, Default)]
#[relationship_target(relationship = RunsOn, linked_spawn)]
pub struct NodeProcesses(Vec<Entity>);

impl NodeProcesses {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}
