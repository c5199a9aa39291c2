//! The cluster's objects as ECS components: nodes, pods, claims, volumes,
//! workloads, and the relationships that link them.

pub mod gone;
pub mod journal;
mod network;
mod node;
mod pod;
mod spec;
mod storage;
mod workload;

pub use network::PodNetwork;
pub use node::*;
pub use pod::*;
pub use spec::*;
pub use storage::*;
pub use workload::*;

use bevy::platform::hash::FixedHasher;
use bevy::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// Name → entity lookups, kept by the code that spawns and despawns objects.
/// Hashed for fast lookups; they can only be walked in name order
/// (`NameMap::sorted`), so no output ever depends on hash order.
#[derive(Resource, Default, Debug)]
pub struct Index {
    pub nodes: NameMap<Entity>,
    pub pods: NameMap<Entity>,
    pub claims: NameMap<Entity>,
    pub volumes: NameMap<Entity>,
    pub sets: NameMap<Entity>,
    pub deployments: NameMap<Entity>,
    /// Volume name → node name → attachment entity.
    attachments: NameMap<BTreeMap<String, Entity>>,
    /// Pod name → the node it was last scheduled on (for `of:` in node commands).
    pub last_node_of: NameMap<String>,
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
    /// Node pod ranges and pod addresses (§1.7 pod-ips).
    pub network: PodNetwork,
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
    /// The attachment of `volume` to `node`, if the control plane has one.
    pub fn attachment(&self, volume: &str, node: &str) -> Option<Entity> {
        self.attachments.get(volume)?.get(node).copied()
    }
    pub fn has_attachment(&self, volume: &str, node: &str) -> bool {
        self.attachment(volume, node).is_some()
    }
    pub fn insert_attachment(&mut self, volume: &str, node: &str, e: Entity) {
        match self.attachments.get_mut(volume) {
            Some(m) => _ = m.insert(node.to_string(), e),
            None => {
                let mut m = BTreeMap::new();
                m.insert(node.to_string(), e);
                self.attachments.insert(volume.to_string(), m);
            }
        }
    }
    pub fn remove_attachment(&mut self, volume: &str, node: &str) {
        if let Some(m) = self.attachments.get_mut(volume) {
            m.remove(node);
            if m.is_empty() {
                self.attachments.remove(volume);
            }
        }
    }
    /// The attachments of one volume, by node name.
    pub fn attachments_of(&self, volume: &str) -> impl Iterator<Item = (&String, &Entity)> {
        self.attachments
            .get(volume)
            .into_iter()
            .flat_map(|m| m.iter())
    }
}

/// A map from names, hashed with a fixed hasher for fast lookups. It has no
/// unordered walk: `sorted` gives the entries in name order.
#[derive(Debug, Clone)]
pub struct NameMap<V>(HashMap<String, V, FixedHasher>);

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap(HashMap::with_hasher(FixedHasher))
    }
}

impl<V> NameMap<V> {
    pub fn get(&self, name: &str) -> Option<&V> {
        self.0.get(name)
    }
    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.0.get_mut(name)
    }
    pub fn contains_key(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
    pub fn insert(&mut self, name: String, v: V) -> Option<V> {
        self.0.insert(name, v)
    }
    pub fn remove(&mut self, name: &str) -> Option<V> {
        self.0.remove(name)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Every entry, in name order.
    pub fn sorted(&self) -> Vec<(&String, &V)> {
        let mut v: Vec<(&String, &V)> = self.0.iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }
}

/// Upper bounds on sizes so absurd input fails clearly instead of exhausting memory.
pub mod limits {
    pub const MAX_NODES: usize = 500;
    pub const MAX_REPLICAS: u32 = 10_000;
    pub const MAX_WORKLOADS: usize = 100;
    pub const MAX_CLAIM_TEMPLATES: usize = 8;
    /// GiB one claim may request (64 TiB).
    pub const MAX_CLAIM_GIB: u32 = 65_536;
    pub const MAX_STEPS: usize = 10_000;
    pub const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
    pub const MAX_FILE_BYTES: u64 = 1 << 20;
    pub const MAX_NAME_LEN: usize = 63;
    pub const MAX_WRITE_RATE: f64 = 10_000.0;
    pub const MAX_WRITE_ROWS: u64 = 10_000_000;
    /// Crashes one `CrashPod` may ask for.
    pub const MAX_CRASHES: u32 = 100;
    /// Bytes of one string in a scenario or manifest (a note, an image):
    /// the longest lesson text is under 400.
    pub const MAX_STRING_BYTES: usize = 4096;
    /// Levels of nesting of brackets (RON) or blocks (YAML): a scenario
    /// needs about 6, a Kubernetes manifest about 12. A deeper input is
    /// refused before it can exhaust the parser's stack.
    pub const MAX_NESTING: usize = 32;
    /// Bytes of one kubectl command line.
    pub const MAX_LINE_BYTES: usize = 4096;
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
