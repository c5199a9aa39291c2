//! Workload components: StatefulSets with their revision history and status,
//! and Deployments with their ReplicaSets.

use super::spec::{DeploymentSpec, PodTemplate, StatefulSetSpec};
use bevy::prelude::*;

/// A ControllerRevision: a template snapshot and its name.
#[derive(Debug, Clone)]
pub struct Revision {
    pub name: String,
    pub template: PodTemplate,
    /// Revision number; bumped when an old revision is reused (rollback).
    pub number: u64,
}

#[derive(Component, Debug, Clone)]
pub struct StatefulSet {
    pub spec: StatefulSetSpec,
    pub created_ms: u64,
    pub seq: u64,
    /// metadata.deletionTimestamp: the set is being deleted.
    pub deleting: bool,
}

/// The set's status block and controller bookkeeping.
#[derive(Component, Debug, Clone, Default)]
pub struct SetStatus {
    pub replicas: u32,
    pub ready: u32,
    pub available: u32,
    pub current: u32,
    pub updated: u32,
    pub current_revision: String,
    pub update_revision: String,
    pub observed_generation: u64,
    pub generation: u64,
    pub revisions: Vec<Revision>,
    /// Last SetBlocked reason logged (logged again only when it changes).
    pub blocked: Option<String>,
    /// Rollout completion already announced for this update revision.
    pub rollout_announced: Option<String>,
    /// The claims the controller ever created (for the Retain invariant). A
    /// set, not a list: each new claim asks whether it is already there.
    pub claims_made: std::collections::BTreeSet<String>,
}

impl SetStatus {
    pub fn revision(&self, name: &str) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.name == name)
    }
}

/// A ReplicaSet of a Deployment, one per template hash.
#[derive(Debug, Clone)]
pub struct ReplicaSet {
    pub hash: String,
    pub template: PodTemplate,
    pub replicas: u32,
}

#[derive(Component, Debug, Clone)]
pub struct Deployment {
    pub spec: DeploymentSpec,
    pub created_ms: u64,
    pub seq: u64,
    pub deleting: bool,
}

#[derive(Component, Debug, Clone, Default)]
pub struct DeploymentStatus {
    pub replica_sets: Vec<ReplicaSet>,
    pub replicas: u32,
    pub ready: u32,
    pub updated: u32,
    pub blocked: Option<String>,
}

/// What a StatefulSet deleted with `--cascade=orphan` left behind: its pods,
/// which run on with no controller, and its ControllerRevisions, by the
/// set's name (which stands for its selector). A later set with that name
/// adopts both (docs/semantics.md §2.15 orphan-and-adopt).
#[derive(Resource, Debug, Default, Clone)]
pub struct Orphaned {
    /// Pods with no ownerReference, in the order they were orphaned.
    pub pods: Vec<Entity>,
    /// ControllerRevisions with no ownerReference, by the set's name.
    pub revisions: std::collections::BTreeMap<String, Vec<Revision>>,
}

impl Orphaned {
    /// Nothing waits to be adopted.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty() && self.revisions.is_empty()
    }
}
