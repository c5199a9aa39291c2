//! The cluster's objects as ECS components: nodes, pods, claims, volumes,
//! workloads, and the relationships that link them.

mod node;
mod pod;
mod spec;
mod storage;
mod workload;

pub use node::*;
pub use pod::*;
pub use spec::*;
pub use storage::*;
pub use workload::*;

use bevy::prelude::*;
use std::collections::BTreeMap;

/// Name → entity lookups, kept by the code that spawns and despawns objects.
/// BTreeMaps so every walk over them is in name order (determinism).
#[derive(Resource, Default, Debug)]
pub struct Index {
    pub nodes: BTreeMap<String, Entity>,
    pub pods: BTreeMap<String, Entity>,
    pub claims: BTreeMap<String, Entity>,
    pub volumes: BTreeMap<String, Entity>,
    pub sets: BTreeMap<String, Entity>,
    pub deployments: BTreeMap<String, Entity>,
    /// (volume name, node name) → attachment entity.
    pub attachments: BTreeMap<(String, String), Entity>,
    /// Pod name → the node it was last scheduled on (for `of:` in node commands).
    pub last_node_of: BTreeMap<String, String>,
    /// Claims that existed once and were deleted (for the snapshot's `exists: false`).
    pub deleted_claims: BTreeMap<String, DeletedClaim>,
    /// Volumes whose claim is gone, to delete once detached.
    pub released: Vec<String>,
    /// Storage classes by name.
    pub classes: BTreeMap<String, StorageClassSpec>,
    /// The class claims get when their template names none (the first declared).
    pub default_class: String,
    /// Images that never pull.
    pub broken_images: Vec<String>,
    /// Monotonic counter for creation order and unique names.
    pub seq: u64,
    /// Bumped whenever `deleted_claims` changes, so the invariant check can
    /// tell cheaply that it has nothing new to look at.
    pub deleted_claims_gen: u64,
}

/// A claim that is gone, remembered for the snapshot and the Retain invariant.
#[derive(Debug, Clone)]
pub struct DeletedClaim {
    pub by_user: bool,
    pub by_policy: bool,
    pub t_ms: u64,
}

impl Index {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// Upper bounds on sizes so absurd input fails clearly instead of exhausting memory.
pub mod limits {
    pub const MAX_NODES: usize = 500;
    pub const MAX_REPLICAS: u32 = 5_000;
    pub const MAX_WORKLOADS: usize = 100;
    pub const MAX_CLAIM_TEMPLATES: usize = 8;
    pub const MAX_STEPS: usize = 10_000;
    pub const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
    pub const MAX_FILE_BYTES: u64 = 1 << 20;
    pub const MAX_NAME_LEN: usize = 63;
    pub const MAX_WRITE_RATE: f64 = 10_000.0;
    pub const MAX_WRITE_ROWS: u64 = 10_000_000;
}

/// Checks a DNS-1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric.
pub fn valid_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= limits::MAX_NAME_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
