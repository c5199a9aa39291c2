//! Invariants checked after every pass: at most one running process per
//! StatefulSet identity, a ReadWriteOnce volume attached to at most one node,
//! no claim lost under Retain. A breach is logged (never a panic): the split
//! brain lesson needs to show one.

use super::event::{EventKind, EventLog, SimEvent};
use super::model::*;
use super::{SimClock, SimSystems};
use bevy::ecs::entity::EntityHashMap;
use bevy::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Breaches in force now, by key.
#[derive(Resource, Debug, Default)]
pub struct Invariants {
    pub broken: BTreeMap<String, String>,
    /// How many breaches were ever reported.
    pub total: u32,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Invariants>().add_systems(
        super::SimSchedule,
        check_invariants.in_set(SimSystems::Observe),
    );
}

/// Groups of entities by key, remembering which groups hold more than one:
/// kept up to date as entities come and go, so a check costs what changed.
struct Groups<K: Ord + Clone + std::hash::Hash + Eq> {
    /// Entity → its key and node.
    of: EntityHashMap<(K, String)>,
    /// Key → the nodes of its entities.
    by_key: HashMap<K, Vec<(Entity, String)>>,
    /// Keys with more than one entity.
    crowded: BTreeSet<K>,
}

impl<K: Ord + Clone + std::hash::Hash + Eq> Default for Groups<K> {
    fn default() -> Self {
        Groups {
            of: EntityHashMap::default(),
            by_key: HashMap::new(),
            crowded: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Clone + std::hash::Hash + Eq> Groups<K> {
    fn insert(&mut self, e: Entity, key: K, node: String) {
        self.remove(e);
        let g = self.by_key.entry(key.clone()).or_default();
        g.push((e, node.clone()));
        if g.len() > 1 {
            self.crowded.insert(key.clone());
        }
        self.of.insert(e, (key, node));
    }
    fn remove(&mut self, e: Entity) {
        let Some((key, _)) = self.of.remove(&e) else {
            return;
        };
        if let Some(g) = self.by_key.get_mut(&key) {
            g.retain(|(x, _)| *x != e);
            if g.len() < 2 {
                self.crowded.remove(&key);
            }
            if g.is_empty() {
                self.by_key.remove(&key);
            }
        }
    }
    /// Drops entities for which `exists` is false.
    fn prune(&mut self, exists: impl Fn(Entity) -> bool) {
        let gone: Vec<Entity> = self.of.keys().copied().filter(|&e| !exists(e)).collect();
        for e in gone {
            self.remove(e);
        }
    }
    /// The crowded keys with their nodes, sorted.
    fn crowds(&self) -> impl Iterator<Item = (&K, Vec<&str>)> {
        self.crowded.iter().map(|k| {
            let mut nodes: Vec<&str> = self.by_key[k].iter().map(|(_, n)| n.as_str()).collect();
            nodes.sort_unstable();
            (k, nodes)
        })
    }
}

/// What the check keeps between passes: the StatefulSet processes by
/// identity and the attached volumes by volume, updated from what changed.
#[derive(Default)]
struct Seen {
    ran: bool,
    /// Processes and attachments counted last pass.
    counts: (usize, usize),
    identities: Groups<(String, u32)>,
    attached: Groups<String>,
    /// Sets, claims made and the deleted-claims generation last checked.
    retain_seen: (usize, usize, u64),
}

#[allow(clippy::too_many_arguments)]
fn check_invariants(
    clock: Res<SimClock>,
    mut log: ResMut<EventLog>,
    mut inv: ResMut<Invariants>,
    index: Res<Index>,
    procs: Query<&Process>,
    atts: Query<&Attachment>,
    sets: Query<(&StatefulSet, &SetStatus)>,
    new_procs: Query<(Entity, &Process), Added<Process>>,
    changed_atts: Query<(Entity, &Attachment), Changed<Attachment>>,
    changed_sets: Query<(), Changed<StatefulSet>>,
    new_atts: Query<(), Added<Attachment>>,
    mut seen: Local<Seen>,
) {
    // The checks read only which processes exist (owner, ordinal and node
    // never change), attachment states, the sets' retention policy and claims,
    // and deleted claims: when none of those changed, neither did the result.
    let counts = (procs.iter().len(), atts.iter().len());
    let retain_seen = (
        sets.iter().len(),
        sets.iter().map(|(_, st)| st.claims_made.len()).sum(),
        index.deleted_claims_gen,
    );
    let first = !seen.ran;
    seen.ran = true;
    let mut changed = first || retain_seen != seen.retain_seen || !changed_sets.is_empty();
    seen.retain_seen = retain_seen;
    let mut added_procs = 0;
    for (e, p) in new_procs.iter() {
        added_procs += 1;
        changed = true;
        if p.owner.kind == OwnerKind::StatefulSet
            && let Some(o) = p.ordinal
        {
            seen.identities
                .insert(e, (p.owner.name.clone(), o), p.node.clone());
        }
    }
    let added_atts = new_atts.iter().count();
    for (e, a) in changed_atts.iter() {
        changed = true;
        if a.state == AttachState::Attached {
            seen.attached.insert(e, a.volume.clone(), a.node.clone());
        } else {
            seen.attached.remove(e);
        }
    }
    if first || counts.0 != seen.counts.0 + added_procs {
        changed = true;
        seen.identities.prune(|e| procs.contains(e));
    }
    if first || counts.1 != seen.counts.1 + added_atts {
        changed = true;
        seen.attached.prune(|e| atts.contains(e));
    }
    seen.counts = counts;
    if !changed {
        return;
    }
    let now = clock.now_ms;
    let mut found: BTreeMap<String, (String, String)> = BTreeMap::new();

    for ((set, o), nodes) in seen.identities.crowds() {
        {
            let pod = format!("{set}-{o}");
            found.insert(
                format!("identity/{pod}"),
                (
                    format!("pod/{pod}"),
                    format!(
                        "split brain: {} containers of {pod} run at once (on {}): one identity, two processes writing",
                        nodes.len(),
                        nodes.join(" and ")
                    ),
                ),
            );
        }
    }

    for (v, nodes) in seen.attached.crowds() {
        {
            found.insert(
                format!("rwo/{v}"),
                (
                    format!("pv/{v}"),
                    format!(
                        "ReadWriteOnce volume {v} is attached to {} nodes at once: {}",
                        nodes.len(),
                        nodes.join(", ")
                    ),
                ),
            );
        }
    }

    for (set, st) in sets.iter() {
        if set.spec.retention.when_scaled != RetentionAction::Retain
            || set.spec.retention.when_deleted != RetentionAction::Retain
        {
            continue;
        }
        for c in &st.claims_made {
            if let Some(d) = index.deleted_claims.get(c)
                && !d.by_user
            {
                found.insert(
                    format!("retain/{c}"),
                    (
                        format!("pvc/{c}"),
                        format!(
                            "claim {c} of statefulset/{} was deleted although its policy is Retain",
                            set.spec.name
                        ),
                    ),
                );
            }
        }
    }

    let keys: BTreeSet<String> = found.keys().cloned().collect();
    for (k, (obj, why)) in &found {
        if !inv.broken.contains_key(k) {
            inv.broken.insert(k.clone(), why.clone());
            inv.total += 1;
            log.emit(
                now,
                SimEvent::new(EventKind::InvariantBroken, obj.clone(), why.clone()),
            );
        }
    }
    let gone: Vec<String> = inv
        .broken
        .keys()
        .filter(|k| !keys.contains(*k))
        .cloned()
        .collect();
    for k in gone {
        inv.broken.remove(&k);
        let obj = found.get(&k).map(|f| f.0.clone()).unwrap_or_else(|| {
            k.replacen("identity/", "pod/", 1)
                .replacen("rwo/", "pv/", 1)
        });
        log.emit(
            now,
            SimEvent::new(
                EventKind::InvariantRestored,
                obj,
                format!("{k} holds again"),
            ),
        );
    }
}
