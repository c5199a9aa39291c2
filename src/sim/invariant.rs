//! Invariants checked after every pass: at most one running process per
//! StatefulSet identity, a ReadWriteOnce volume attached to at most one node,
//! no claim lost under Retain. A breach is logged (never a panic): the split
//! brain lesson needs to show one.

use super::SimSystems;
use super::event::{EventKind, SimEvent};
use super::model::gone::{Tally, gone};
use super::model::journal::{Journal, Trail, candidates, debug_same};
use super::model::*;
use super::ops::Cluster;
use bevy::ecs::entity::EntityHashMap;
use bevy::ecs::system::SystemParam;
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
    /// Drops those of `gone` (entities that went away) that no longer exist.
    fn forget(&mut self, gone: &[Entity], exists: impl Fn(Entity) -> bool) {
        for &e in gone {
            if !exists(e) {
                self.remove(e);
            }
        }
    }
    /// Drops entities for which `exists` is false.
    fn prune(&mut self, exists: impl Fn(Entity) -> bool) {
        for e in gone(self.of.keys().copied(), |&e| exists(e)) {
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
    procs: Tally,
    atts: Tally,
    identities: Groups<(String, u32)>,
    attached: Groups<String>,
    /// Sets, claims made and the deleted-claims generation last checked.
    retain_seen: (usize, usize, u64),
    /// How far the journal's trails have been read: processes, attachments,
    /// and those that went away.
    cursors: [usize; 4],
}

/// What the checks read: processes, attachments and sets, and which of them
/// changed since the last pass.
#[derive(SystemParam)]
struct Watched<'w, 's> {
    procs: Query<'w, 's, &'static Process>,
    atts: Query<'w, 's, &'static Attachment>,
    sets: Query<'w, 's, (&'static StatefulSet, &'static SetStatus)>,
    new_procs: Query<'w, 's, (Entity, &'static Process), Added<Process>>,
    changed_atts: Query<'w, 's, (Entity, &'static Attachment), Changed<Attachment>>,
    changed_sets: Query<'w, 's, (), Changed<StatefulSet>>,
    new_atts: Query<'w, 's, (), Added<Attachment>>,
}

/// A breach found now: its key, its object and why.
type Found = BTreeMap<String, (String, String)>;

fn check_invariants(
    mut cluster: Cluster,
    mut inv: ResMut<Invariants>,
    w: Watched,
    mut seen: Local<Seen>,
) {
    if !update_seen(
        &mut seen,
        &w,
        &cluster.journal,
        cluster.index.deleted_claims_gen,
    ) {
        return;
    }
    let mut found = crowd_breaches(&seen);
    for (set, st) in w.sets.iter() {
        retain_breaches(
            &set.spec,
            &st.claims_made,
            &cluster.index.deleted_claims,
            &mut found,
        );
    }
    for ev in report(&mut inv, &found) {
        cluster.emit(ev);
    }
}

/// Brings `seen` up to date with what changed; returns whether anything the
/// checks read did. The checks read only which processes exist (owner,
/// ordinal and node never change), attachment states, the sets' retention
/// policy and claims, and deleted claims: when none of those changed,
/// neither did the result.
fn update_seen(seen: &mut Seen, w: &Watched, j: &Journal, deleted_claims_gen: u64) -> bool {
    let counts = (w.procs.iter().len(), w.atts.iter().len());
    let retain_seen = (
        w.sets.iter().len(),
        w.sets.iter().map(|(_, st)| st.claims_made.len()).sum(),
        deleted_claims_gen,
    );
    let first = !seen.ran;
    seen.ran = true;
    let mut changed = first || retain_seen != seen.retain_seen || !w.changed_sets.is_empty();
    seen.retain_seen = retain_seen;
    let [procs_c, atts_c, procs_gone_c, atts_gone_c] = &mut seen.cursors;
    let new_procs = noted(
        &j.procs,
        procs_c,
        |e| w.new_procs.contains(e),
        || w.new_procs.iter().map(|(e, _)| e).collect(),
    );
    let atts = noted(
        &j.atts,
        atts_c,
        |e| w.changed_atts.contains(e),
        || w.changed_atts.iter().map(|(e, _)| e).collect(),
    );
    let procs_gone = j.procs_gone.since(procs_gone_c);
    let atts_gone = j.atts_gone.since(atts_gone_c);
    let mut added_procs = 0;
    for (e, p) in new_procs.iter().filter_map(|&e| w.new_procs.get(e).ok()) {
        added_procs += 1;
        changed = true;
        if p.owner.kind == OwnerKind::StatefulSet
            && let Some(o) = p.ordinal
        {
            seen.identities
                .insert(e, (p.owner.name.clone(), o), p.node.clone());
        }
    }
    let added_atts = atts.iter().filter(|&&e| w.new_atts.contains(e)).count();
    for (e, a) in atts.iter().filter_map(|&e| w.changed_atts.get(e).ok()) {
        changed = true;
        // A fenced attachment (`forgotten`) is detached at the storage API.
        if a.state == AttachState::Attached && !a.forgotten {
            seen.attached.insert(e, a.volume.clone(), a.node.clone());
        } else {
            seen.attached.remove(e);
        }
    }
    // Fewer entities than last pass plus the added ones: some went away.
    let procs_went = seen.procs.went_away(counts.0, added_procs);
    if first || procs_went {
        changed = true;
        match procs_gone {
            Some(gone) if !first => seen.identities.forget(gone, |e| w.procs.contains(e)),
            _ => seen.identities.prune(|e| w.procs.contains(e)),
        }
        debug_assert!(seen.identities.of.keys().all(|&e| w.procs.contains(e)));
    }
    let atts_went = seen.atts.went_away(counts.1, added_atts);
    if first || atts_went {
        changed = true;
        match atts_gone {
            Some(gone) if !first => seen.attached.forget(gone, |e| w.atts.contains(e)),
            _ => seen.attached.prune(|e| w.atts.contains(e)),
        }
        debug_assert!(seen.attached.of.keys().all(|&e| w.atts.contains(e)));
    }
    changed
}

/// The entities noted in `trail` since `cursor` that `matches` (the walk
/// `all` when the reader fell behind; debug builds compare the two).
fn noted(
    trail: &Trail,
    cursor: &mut usize,
    matches: impl Fn(Entity) -> bool,
    all: impl Fn() -> Vec<Entity>,
) -> Vec<Entity> {
    let found = match candidates(trail, cursor) {
        Some(v) => v.into_iter().filter(|&e| matches(e)).collect(),
        None => all(),
    };
    debug_same("processes or attachments", &found, all);
    found
}

/// Split brain (two processes of one identity) and ReadWriteOnce volumes
/// attached to two nodes.
fn crowd_breaches(seen: &Seen) -> Found {
    let mut found = Found::new();
    for ((set, o), nodes) in seen.identities.crowds() {
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
    for (v, nodes) in seen.attached.crowds() {
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
    found
}

/// A claim of a set whose policy is Retain (both ways) deleted by anything
/// but the user.
fn retain_breaches(
    spec: &StatefulSetSpec,
    claims_made: &BTreeSet<String>,
    deleted: &BTreeMap<String, DeletedClaim>,
    found: &mut Found,
) {
    // No deleted claim (the usual case): nothing to look up for each claim.
    if deleted.is_empty()
        || spec.retention.when_scaled != RetentionAction::Retain
        || spec.retention.when_deleted != RetentionAction::Retain
    {
        return;
    }
    for c in claims_made {
        if let Some(d) = deleted.get(c)
            && !d.by_user
        {
            found.insert(
                format!("retain/{c}"),
                (
                    format!("pvc/{c}"),
                    format!(
                        "claim {c} of statefulset/{} was deleted although its policy is Retain",
                        spec.name
                    ),
                ),
            );
        }
    }
}

/// Records the breaches found now against those in force: a new one is
/// InvariantBroken, one no longer found is InvariantRestored.
fn report(inv: &mut Invariants, found: &Found) -> Vec<SimEvent> {
    let mut events = Vec::new();
    for (k, (obj, why)) in found {
        if !inv.broken.contains_key(k) {
            inv.broken.insert(k.clone(), why.clone());
            inv.total += 1;
            events.push(SimEvent::new(
                EventKind::InvariantBroken,
                obj.clone(),
                why.clone(),
            ));
        }
    }
    // Breaches in force last pass and not found now are restored.
    for k in gone(inv.broken.keys().cloned(), |k| found.contains_key(k)) {
        inv.broken.remove(&k);
        let obj = k
            .replacen("identity/", "pod/", 1)
            .replacen("rwo/", "pv/", 1);
        events.push(SimEvent::new(
            EventKind::InvariantRestored,
            obj,
            format!("{k} holds again"),
        ));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_processes_of_one_identity_are_split_brain_until_one_goes() {
        let mut world = World::new();
        let (a, b) = (world.spawn_empty().id(), world.spawn_empty().id());
        let mut seen = Seen::default();
        seen.identities.insert(a, ("db".into(), 0), "node-a".into());
        assert!(crowd_breaches(&seen).is_empty());
        seen.identities.insert(b, ("db".into(), 0), "node-b".into());
        let found = crowd_breaches(&seen);
        assert_eq!(
            found["identity/db-0"].1,
            "split brain: 2 containers of db-0 run at once (on node-a and node-b): one identity, two processes writing"
        );
        seen.identities.prune(|x| x != a);
        assert!(crowd_breaches(&seen).is_empty());
    }

    #[test]
    fn a_breach_is_reported_once_and_restored_when_it_no_longer_holds() {
        let mut inv = Invariants::default();
        let mut found = Found::new();
        found.insert(
            "rwo/pv-a".into(),
            ("pv/pv-a".into(), "attached twice".into()),
        );
        let kinds = |evs: Vec<SimEvent>| {
            evs.into_iter()
                .map(|e| (e.kind, e.object))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(report(&mut inv, &found)),
            [(EventKind::InvariantBroken, "pv/pv-a".to_string())]
        );
        assert!(report(&mut inv, &found).is_empty(), "reported once");
        assert_eq!(
            kinds(report(&mut inv, &Found::new())),
            [(EventKind::InvariantRestored, "pv/pv-a".to_string())]
        );
        assert_eq!(inv.total, 1);
    }
}
