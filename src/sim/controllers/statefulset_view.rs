//! The StatefulSet controller's index of one set's pods, kept between passes
//! from the pods that changed, so that a pass builds the sparse view
//! (`statefulset_sparse.rs`) in time proportional to what is going on: which
//! pods are quiet (and of which revision), which are not, and which in-range
//! ordinals have no pod.
//!
//! How it stays correct: a pod's entry is a function of the pod (ordinal,
//! revision, status), the set's spec (range, minReadySeconds, update
//! revision: the `Basis`) and the clock. The entry is recomputed whenever its
//! inputs may have moved: the pod changed (`Changed<PodStatus>`, which new
//! pods are too), the controller wrote to it itself (a write a system does
//! not see as a change), the pod went away (`RemovedPods`), or, for a pod
//! that is not quiet, at every pass (only time turns a pod quiet: a Ready pod
//! becomes available once minReadySeconds are over; nothing but a status
//! change turns a quiet pod back). A new basis rebuilds the whole index.
//! Debug builds compare the index with one built from scratch every pass.

use bevy::ecs::entity::{Entity, EntityHashMap};
use bevy::platform::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};

/// What the entries were computed against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    /// The in-range ordinals: start..end.
    pub start: u32,
    pub end: u32,
    pub min_ready_ms: u64,
    pub update_revision: String,
}

/// One pod's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    ordinal: u32,
    revision: String,
    quiet: bool,
}

/// One set's pods, indexed for the sparse pass.
#[derive(Debug, Clone, PartialEq)]
pub struct SetView {
    pub basis: Basis,
    pods: EntityHashMap<Entry>,
    /// Pods per ordinal (more than one only in a broken state).
    per_ordinal: BTreeMap<u32, u32>,
    /// Ordinals held by more than one pod.
    shared_ordinals: usize,
    /// Pods that are not quiet, by (ordinal, entity).
    loud: BTreeSet<(u32, Entity)>,
    /// Quiet pods whose revision is not the update revision.
    outdated: BTreeSet<(u32, Entity)>,
    /// Quiet pods per revision.
    quiet_revisions: HashMap<String, u32>,
    quiet: u32,
    /// In-range ordinals with no pod.
    missing: BTreeSet<u32>,
}

impl SetView {
    /// An empty index: every in-range ordinal missing.
    pub fn new(basis: Basis) -> Self {
        SetView {
            missing: (basis.start..basis.end).collect(),
            basis,
            pods: EntityHashMap::default(),
            per_ordinal: BTreeMap::new(),
            shared_ordinals: 0,
            loud: BTreeSet::new(),
            outdated: BTreeSet::new(),
            quiet_revisions: HashMap::default(),
            quiet: 0,
        }
    }

    /// Pod `e` (at `ordinal`, of `revision`) is now quiet or not.
    pub fn put(&mut self, e: Entity, ordinal: u32, revision: &str, quiet: bool) {
        if let Some(old) = self.pods.get(&e)
            && old.ordinal == ordinal
            && old.quiet == quiet
            && old.revision == revision
        {
            return;
        }
        self.remove(e);
        let in_range = ordinal >= self.basis.start && ordinal < self.basis.end;
        let n = self.per_ordinal.entry(ordinal).or_default();
        *n += 1;
        if *n == 2 {
            self.shared_ordinals += 1;
        }
        if in_range {
            self.missing.remove(&ordinal);
        }
        if quiet {
            self.quiet += 1;
            *self
                .quiet_revisions
                .entry(revision.to_string())
                .or_default() += 1;
            if revision != self.basis.update_revision {
                self.outdated.insert((ordinal, e));
            }
        } else {
            self.loud.insert((ordinal, e));
        }
        self.pods.insert(
            e,
            Entry {
                ordinal,
                revision: revision.to_string(),
                quiet,
            },
        );
    }

    /// Pod `e` is gone.
    pub fn remove(&mut self, e: Entity) {
        let Some(old) = self.pods.remove(&e) else {
            return;
        };
        let o = old.ordinal;
        if let Some(n) = self.per_ordinal.get_mut(&o) {
            *n -= 1;
            if *n == 1 {
                self.shared_ordinals -= 1;
            }
            if *n == 0 {
                self.per_ordinal.remove(&o);
                if o >= self.basis.start && o < self.basis.end {
                    self.missing.insert(o);
                }
            }
        }
        if old.quiet {
            self.quiet -= 1;
            if let Some(n) = self.quiet_revisions.get_mut(&old.revision) {
                *n -= 1;
                if *n == 0 {
                    self.quiet_revisions.remove(&old.revision);
                }
            }
            self.outdated.remove(&(o, e));
        } else {
            self.loud.remove(&(o, e));
        }
    }

    /// Whether two pods share an ordinal (the sparse pass assumes not).
    pub fn ordinals_shared(&self) -> bool {
        self.shared_ordinals > 0
    }

    /// How many pods it holds.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// The pods that are not quiet, in ordinal order.
    pub fn loud(&self) -> impl Iterator<Item = Entity> + '_ {
        self.loud.iter().map(|&(_, e)| e)
    }

    /// The first `k` in-range ordinals with no pod, ascending.
    pub fn missing(&self, k: usize) -> Vec<u32> {
        self.missing.iter().take(k).copied().collect()
    }

    /// The `k` highest quiet outdated pods at or above `from` (an ordinal),
    /// ascending.
    pub fn outdated_top(&self, from: u32, k: usize) -> Vec<Entity> {
        let mut top: Vec<Entity> = self
            .outdated
            .iter()
            .rev()
            .take_while(|&&(o, _)| o >= from)
            .take(k)
            .map(|&(_, e)| e)
            .collect();
        top.reverse();
        top
    }

    /// Quiet pods: all, of revision `current`, of the update revision.
    pub fn quiet_counts(&self, current: &str) -> (u32, u32, u32) {
        let of = |r: &str| self.quiet_revisions.get(r).copied().unwrap_or(0);
        (self.quiet, of(current), of(&self.basis.update_revision))
    }
}
