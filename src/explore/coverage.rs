//! What a campaign reached: how many runs exercised each fault kind, and
//! "sometimes" facts read from each run's event log (a force delete while
//! the node was alive, a Multi-Attach wait, a rollout during a node
//! failure, a write refused), so a user can see whether the interesting
//! states were reached at all.

use super::fault::{Fault, FaultKind};
use crate::sim::event::{EventKind, SimEvent};
use std::collections::BTreeMap;

/// A fact that may hold in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fact {
    ForceDeleteOnLiveNode,
    ForceDeleteOnCutOffNode,
    MultiAttachWait,
    ForceDetach,
    RolloutDuringNodeFailure,
    WriteRefused,
    PodEvicted,
    SetBlocked,
    CommandRefused,
    InvariantBroken,
    DataDiverged,
}

impl Fact {
    /// Every fact, in report order.
    pub const ALL: [Fact; 11] = [
        Fact::ForceDeleteOnLiveNode,
        Fact::ForceDeleteOnCutOffNode,
        Fact::MultiAttachWait,
        Fact::ForceDetach,
        Fact::RolloutDuringNodeFailure,
        Fact::WriteRefused,
        Fact::PodEvicted,
        Fact::SetBlocked,
        Fact::CommandRefused,
        Fact::InvariantBroken,
        Fact::DataDiverged,
    ];

    /// The fact in words.
    pub fn words(self) -> &'static str {
        match self {
            Fact::ForceDeleteOnLiveNode => {
                "a StatefulSet pod force-deleted while its node was alive (up or cut off)"
            }
            Fact::ForceDeleteOnCutOffNode => "  of which, while its node was cut off",
            Fact::MultiAttachWait => "a Multi-Attach wait",
            Fact::ForceDetach => "a volume force-detached",
            Fact::RolloutDuringNodeFailure => "a rollout while a node was down or cut off",
            Fact::WriteRefused => "a database write refused",
            Fact::PodEvicted => "a pod evicted",
            Fact::SetBlocked => "a StatefulSet blocked",
            Fact::CommandRefused => "a fault refused (nothing to act on)",
            Fact::InvariantBroken => "an invariant breach",
            Fact::DataDiverged => "diverged data (two writers, one identity)",
        }
    }
}

/// The machine under a node, as the event log tells it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Machine {
    Up,
    Dead,
    CutOff,
    Gone,
}

/// Facts read from an event log as it grows (the randomized test reads it
/// after every instant; a campaign once at the end of a run).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// StatefulSet names: `pod/<set>-<ordinal>` carries an identity.
    sets: Vec<String>,
    machines: BTreeMap<String, Machine>,
    found: std::collections::BTreeSet<Fact>,
}

impl Facts {
    /// A reader for a cluster with these StatefulSets.
    pub fn new(sets: Vec<String>) -> Facts {
        Facts {
            sets,
            ..Default::default()
        }
    }

    /// Whether `fact` has held so far.
    pub fn has(&self, fact: Fact) -> bool {
        self.found.contains(&fact)
    }

    /// The facts that held so far, in report order.
    pub fn found(&self) -> Vec<Fact> {
        self.found.iter().copied().collect()
    }

    /// `pod/<set>-<ordinal>` of one of the sets.
    fn is_set_pod(&self, object: &str) -> bool {
        let Some((set, ord)) = object.strip_prefix("pod/").and_then(|p| p.rsplit_once('-')) else {
            return false;
        };
        ord.parse::<u32>().is_ok() && self.sets.iter().any(|s| s == set)
    }

    /// Reads the events logged since the last call.
    pub fn observe(&mut self, events: &[SimEvent]) {
        for e in events {
            let node = e.node.clone().unwrap_or_default();
            let named = e
                .object
                .strip_prefix("node/")
                .map_or(node.clone(), String::from);
            match e.kind {
                EventKind::NodeFailed => _ = self.machines.insert(named, Machine::Dead),
                EventKind::NodePartitioned => _ = self.machines.insert(named, Machine::CutOff),
                EventKind::NodeRecovered => _ = self.machines.insert(named, Machine::Up),
                EventKind::NodeDeleted => _ = self.machines.insert(named, Machine::Gone),
                EventKind::PodForceDeleted if self.is_set_pod(&e.object) => {
                    // Cut off: the old container runs on. Up: the kubelet
                    // kills the orphan with a 2 s grace, and a replacement
                    // on the same node may start meanwhile.
                    match self.machines.get(&node).copied().unwrap_or(Machine::Up) {
                        Machine::CutOff => {
                            self.found.insert(Fact::ForceDeleteOnLiveNode);
                            _ = self.found.insert(Fact::ForceDeleteOnCutOffNode)
                        }
                        Machine::Up => _ = self.found.insert(Fact::ForceDeleteOnLiveNode),
                        Machine::Dead | Machine::Gone => {}
                    }
                }
                EventKind::VolumeMultiAttachError => _ = self.found.insert(Fact::MultiAttachWait),
                EventKind::VolumeDetached if e.detail.as_deref() == Some("force") => {
                    _ = self.found.insert(Fact::ForceDetach)
                }
                EventKind::SetUpdated | EventKind::RevisionCreated
                    if self
                        .machines
                        .values()
                        .any(|m| matches!(m, Machine::Dead | Machine::CutOff)) =>
                {
                    _ = self.found.insert(Fact::RolloutDuringNodeFailure)
                }
                EventKind::WritesFailed => _ = self.found.insert(Fact::WriteRefused),
                EventKind::PodEvicted => _ = self.found.insert(Fact::PodEvicted),
                EventKind::SetBlocked => _ = self.found.insert(Fact::SetBlocked),
                EventKind::CommandRejected => _ = self.found.insert(Fact::CommandRefused),
                EventKind::InvariantBroken => _ = self.found.insert(Fact::InvariantBroken),
                EventKind::DataDiverged => _ = self.found.insert(Fact::DataDiverged),
                _ => {}
            }
        }
    }
}

/// The facts that held in a whole event log of a cluster with these sets.
pub fn facts(sets: &[String], events: &[SimEvent]) -> Vec<Fact> {
    let mut f = Facts::new(sets.to_vec());
    f.observe(events);
    f.found()
}

/// Counts over a campaign.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    pub runs: u32,
    /// Runs that drew at least one fault of the kind, and faults drawn.
    pub kinds: BTreeMap<FaultKind, (u32, u32)>,
    /// Runs in which each fact held.
    pub facts: BTreeMap<Fact, u32>,
    pub events: u64,
    pub simulated_ms: u64,
}

impl Coverage {
    /// Adds one run: its faults, facts, events and simulated time.
    pub fn add(&mut self, faults: &[Fault], facts: &[Fact], events: u64, simulated_ms: u64) {
        self.runs += 1;
        self.events += events;
        self.simulated_ms += simulated_ms;
        let mut seen = std::collections::BTreeSet::new();
        for k in faults.iter().filter_map(Fault::kind) {
            let e = self.kinds.entry(k).or_default();
            e.1 += 1;
            if seen.insert(k) {
                e.0 += 1;
            }
        }
        for f in facts {
            *self.facts.entry(*f).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(events: &[SimEvent]) -> Vec<Fact> {
        super::facts(&["web".to_string()], events)
    }

    fn ev(kind: EventKind, object: &str, node: Option<&str>) -> SimEvent {
        let mut e = SimEvent::new(kind, object.to_string(), "");
        e.node = node.map(String::from);
        e
    }

    #[test]
    fn a_force_delete_counts_as_risky_only_while_the_node_is_alive() {
        let cut = [
            ev(EventKind::NodePartitioned, "node/node-a", Some("node-a")),
            ev(EventKind::PodForceDeleted, "pod/web-0", Some("node-a")),
        ];
        assert_eq!(
            facts(&cut),
            [Fact::ForceDeleteOnLiveNode, Fact::ForceDeleteOnCutOffNode]
        );
        let dead = [
            ev(EventKind::NodeFailed, "node/node-a", Some("node-a")),
            ev(EventKind::PodForceDeleted, "pod/web-0", Some("node-a")),
        ];
        assert!(facts(&dead).is_empty());
        let up = [ev(EventKind::PodForceDeleted, "pod/web-0", Some("node-b"))];
        assert_eq!(facts(&up), [Fact::ForceDeleteOnLiveNode]);
        let deployment_pod = [ev(
            EventKind::PodForceDeleted,
            "pod/api-7c9d-12345",
            Some("node-b"),
        )];
        assert!(
            facts(&deployment_pod).is_empty(),
            "no identity, no split brain"
        );
    }

    #[test]
    fn a_rollout_counts_as_during_a_failure_only_while_a_node_is_down() {
        let during = [
            ev(EventKind::NodeFailed, "node/node-a", Some("node-a")),
            ev(EventKind::SetUpdated, "statefulset/web", None),
        ];
        assert_eq!(facts(&during), [Fact::RolloutDuringNodeFailure]);
        let after = [
            ev(EventKind::NodeFailed, "node/node-a", Some("node-a")),
            ev(EventKind::NodeRecovered, "node/node-a", Some("node-a")),
            ev(EventKind::SetUpdated, "statefulset/web", None),
        ];
        assert!(facts(&after).is_empty());
    }
}
