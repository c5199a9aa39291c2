//! The scenario file format (docs/scenario-format.md): cluster, workloads and steps.

use crate::sim::SimCommand;
use crate::sim::model::{NodeSpec, PodPhase, StorageClassSpec, WorkloadSpec};
use serde::{Deserialize, Serialize};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub cluster: ClusterSpec,
    #[serde(default)]
    pub workloads: Vec<WorkloadSpec>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    #[serde(default)]
    pub storage_classes: Vec<StorageClassSpec>,
    #[serde(default)]
    pub broken_images: Vec<String>,
}

/// One step: a trigger (`at`, `after` or `when`) and one of `do`, `expect`,
/// `note`, `pause`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub at: Option<f64>,
    #[serde(default)]
    pub after: Option<f64>,
    #[serde(default)]
    pub when: Option<Check>,
    #[serde(default)]
    pub timeout: Option<f64>,
    #[serde(default, rename = "do")]
    pub command: Option<SimCommand>,
    #[serde(default)]
    pub expect: Option<Check>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub pause: Option<String>,
}

impl Step {
    /// A lesson that expects an invariant breach (the split-brain lessons)
    /// says so with `expect: InvariantBroken` or `when: InvariantBroken`.
    pub fn expects_breach(&self) -> bool {
        matches!(self.expect, Some(Check::InvariantBroken))
            || matches!(self.when, Some(Check::InvariantBroken))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub enum RevisionWord {
    Current,
    Update,
}

/// `Current`, `Update`, or a revision name / hash.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RevisionRef {
    Word(RevisionWord),
    Hash(String),
}

/// An event to look for in `EventOrder`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventRef {
    pub kind: String,
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    /// The event's `detail` (e.g. a clone's source, or "skipped").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An expectation (`expect`) or a condition (`when`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Check {
    PodPhase {
        pod: String,
        phase: PodPhase,
    },
    PodReady {
        pod: String,
        ready: bool,
    },
    PodOnNode {
        pod: String,
        node: Option<String>,
    },
    PodRevision {
        pod: String,
        revision: RevisionRef,
    },
    ClaimExists {
        claim: String,
        exists: bool,
    },
    VolumeAttached {
        claim: String,
        node: Option<String>,
    },
    SetStatus {
        set: String,
        #[serde(default)]
        replicas: Option<u32>,
        #[serde(default)]
        ready: Option<u32>,
        #[serde(default)]
        available: Option<u32>,
        #[serde(default)]
        current: Option<u32>,
        #[serde(default)]
        updated: Option<u32>,
    },
    EventOrder(Vec<EventRef>),
    /// At least one event of this kind (optionally for this object) was logged.
    EventSeen(EventRef),
    ReplicaLag {
        pod: String,
        max_rows: u64,
    },
    RowsOn {
        pod: String,
        rows: u64,
    },
    NoInvariantBroken,
    /// At least one invariant breach was reported (the split-brain lesson).
    InvariantBroken,
    /// Exactly `count` pods of the set are Running and Ready.
    Ready {
        set: String,
        count: u32,
    },
    /// Writes refused so far by the database of `set` (at least `min`).
    WritesFailed {
        #[serde(default)]
        set: Option<String>,
        min: u64,
    },
}

impl Check {
    pub fn name(&self) -> String {
        let s = format!("{self:?}");
        s.split([' ', '(', '{'])
            .next()
            .unwrap_or_default()
            .to_string()
    }
    pub fn describe(&self) -> String {
        ron::ser::to_string(self).unwrap_or_else(|_| self.name())
    }
}
