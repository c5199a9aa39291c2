//! The StatefulSet controller system: gathers what the reconcile pass needs,
//! keeps the revision history, lets the pure pass decide (over the sparse
//! view of the set, `statefulset_sparse.rs`, kept up to date by
//! `statefulset_view.rs`; over every pod, `reconcile.rs`, where the sparse
//! pass does not apply), and applies its actions and the status.

use super::reconcile::{self, Action, ObservedClaim, ObservedPod, Outcome};
use super::statefulset_sparse as sparse;
use super::statefulset_view::{Basis, SetView};
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::K8sRecord;
use crate::sim::model::gone::{RemovedPods, Tally};
use crate::sim::model::journal::{Journal, candidates};
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use crate::sim::{SimRng, SimSystems};
use bevy::ecs::entity::{EntityHashMap, EntityHashSet};
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The StatefulSet controller's system set.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatefulSets;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        crate::sim::SimSchedule,
        statefulset_controller
            .in_set(SimSystems::Controllers)
            .in_set(StatefulSets),
    );
}

/// A planted bug, for testing that `statefulset-sim explore` finds and
/// shrinks a controller bug (tests/explore.rs); no scenario or CLI flag sets
/// it. While the resource says true, the controller force-deletes a
/// terminating pod instead of waiting for its object to go: it skips the
/// at-most-one-pod-per-identity rule.
#[doc(hidden)]
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct PlantedBugSkipAtMostOne(pub bool);

/// How soon a set retries creating a pod whose name another pod holds.
const NAME_TAKEN_RETRY_MS: u64 = 1_000;

/// Characters of template hash in a ControllerRevision name.
const REVISION_HASH_LEN: usize = 10;

/// The revision name of a template: `<set>-<hash>`, as a ControllerRevision
/// name is (hash of spec.template only, docs/semantics.md §3).
pub fn revision_name(set: &str, template: &PodTemplate) -> String {
    format!("{set}-{}", template.hash_name(REVISION_HASH_LEN))
}

/// Records the template's revision: new, or an earlier one reused (rollback).
/// Returns the update revision name.
fn sync_revisions(cluster: &mut Cluster, set: &StatefulSet, st: &mut SetStatus) -> String {
    let spec = &set.spec;
    let name = revision_name(&spec.name, &spec.template);
    if st.update_revision == name {
        return name;
    }
    let obj = format!("statefulset/{}", spec.name);
    // The template equals the newest revision: it is the update revision,
    // with no new number. Only a set that adopted an orphaned history starts
    // so (getStatefulSetRevisions: an equal revision immediately prior).
    let newest = st.revisions.iter().max_by_key(|r| r.number);
    let adopted = newest.filter(|r| r.name == name && st.update_revision.is_empty());
    if let Some(r) = adopted {
        let number = r.number;
        cluster.emit(
            SimEvent::new(
                EventKind::RevisionAdopted,
                obj,
                format!(
                    "the template equals the adopted ControllerRevision {name} (revision {number}): it is the update and current revision, so pods at it are not replaced"
                ),
            )
            .revision(name.clone()),
        );
        if st.current_revision.is_empty() {
            st.current_revision = name.clone();
        }
        st.update_revision = name.clone();
        return name;
    }
    let number = st.revisions.iter().map(|r| r.number).max().unwrap_or(0) + 1;
    let event = if let Some(r) = st.revisions.iter_mut().find(|r| r.name == name) {
        r.number = number;
        SimEvent::new(
            EventKind::SetUpdated,
            obj,
            format!(
                "the template equals earlier revision {name}: it is reused (a rollback makes no new revision)"
            ),
        )
    } else {
        st.revisions.push(Revision {
            name: name.clone(),
            template: spec.template.clone(),
            number,
        });
        SimEvent::new(
            EventKind::RevisionCreated,
            obj,
            format!(
                "template hash gives a new ControllerRevision {name} (revision {number}, image {})",
                spec.template.image
            ),
        )
    };
    cluster.emit(event.revision(name.clone()));
    if st.current_revision.is_empty() {
        st.current_revision = name.clone();
    }
    st.update_revision = name.clone();
    let keep = [st.current_revision.clone(), st.update_revision.clone()];
    trim_revision_history(
        &mut st.revisions,
        spec.revision_history_limit as usize + 2,
        &keep,
    );
    cluster.touch();
    name
}

/// revisionHistoryLimit: drops the oldest revisions (lowest number) that are
/// not in `keep` (the current and update revisions) until at most `limit`
/// remain.
fn trim_revision_history(revisions: &mut Vec<Revision>, limit: usize, keep: &[String]) {
    while revisions.len() > limit {
        let Some(pos) = revisions
            .iter()
            .enumerate()
            .filter(|(_, r)| !keep.contains(&r.name))
            .min_by_key(|(_, r)| r.number)
            .map(|(i, _)| i)
        else {
            break;
        };
        revisions.remove(pos);
    }
}

/// Why a terminating pod's deletion is not being confirmed: its node is
/// unreachable or gone (docs/semantics.md §5: the identity is released only by the
/// kubelet, node deletion + pod GC, a force delete, or the out-of-service taint).
fn node_problem(s: &PodStatus, index: &Index, nodes: &Query<&NodeState>) -> Option<String> {
    let n = s.node.as_deref()?;
    match index.nodes.get(n).and_then(|&e| nodes.get(e).ok()) {
        None => Some(format!(
            "node {n} was deleted; pod GC force-deletes the pod after its 40s quarantine"
        )),
        Some(ns) if ns.ready != Condition::True => Some(format!(
            "{n} is unreachable; the controller cannot tell a crash from a partition, so it waits for {n}'s kubelet to confirm (other ways out: delete the node, force-delete the pod, or taint {n} out-of-service)"
        )),
        Some(_) => None,
    }
}

/// What the controller remembers of each set between passes. A pass is a
/// function of the set, its pods, its claims, the nodes of its terminating
/// pods and the clock (through minReadySeconds, whose instants it asks to be
/// woken at): when none of those changed, the pass would do nothing.
#[derive(Default)]
struct SetsMemory {
    /// Claims and nodes counted last pass.
    claims: Tally,
    nodes: Tally,
    /// How far `RemovedPods` has been read.
    removed_cursor: usize,
    /// How far the journal's pod and claim trails have been read.
    pods_cursor: usize,
    claims_cursor: usize,
    sets: EntityHashMap<SetMemory>,
}

struct SetMemory {
    pods: usize,
    /// Its pods indexed for the sparse pass, kept from the pods that change.
    view: Option<SetView>,
    wake: Option<u64>,
    /// It had terminating pods (whose node's state goes into the reasons).
    terminating: bool,
    /// Its last pass wrote something its next pass reads.
    active: bool,
}

/// What changed since the last pass, across all sets.
struct Seen {
    claims_changed: bool,
    nodes_changed: bool,
    /// Sets whose object changed (spec or deletion).
    changed_sets: EntityHashSet,
    /// Sets whose object or one of whose pods changed.
    dirty: EntityHashSet,
    /// Per set, its pods that changed or are new since the last pass.
    changed_pods: EntityHashMap<Vec<Entity>>,
}

/// The rule for skipping a set: its pass would do nothing when no claim, no
/// pod of it and not the set changed, it did not write what it reads, no pod
/// came or went, no node changed while it had terminating pods, and none of
/// its minReadySeconds instants is due.
fn pass_needed(
    seen: &Seen,
    dirty: bool,
    memory: Option<&SetMemory>,
    n_pods: usize,
    now: u64,
) -> bool {
    let Some(m) = memory else {
        return true;
    };
    seen.claims_changed
        || dirty
        || m.active
        || m.pods != n_pods
        || (seen.nodes_changed && m.terminating)
        || m.wake.is_some_and(|w| w <= now)
}

type SetItem = (
    Entity,
    &'static StatefulSet,
    &'static mut SetStatus,
    Option<&'static OwnedPods>,
);
type PodItem = (&'static Pod, &'static mut PodStatus);
type ClaimItem = (&'static Claim, &'static mut ClaimStatus);
/// Pods whose status changed (first), and all pods (second).
type PodQueries<'w, 's> = ParamSet<
    'w,
    's,
    (
        Query<'static, 'static, (Entity, &'static PodOf), Changed<PodStatus>>,
        Query<'static, 'static, PodItem>,
    ),
>;
/// Whether any claim's status changed (first), and all claims (second).
type ClaimQueries<'w, 's> = ParamSet<
    'w,
    's,
    (
        Query<'static, 'static, (), Changed<ClaimStatus>>,
        Query<'static, 'static, ClaimItem>,
    ),
>;

/// The other things the controller watches for changes.
#[derive(SystemParam)]
struct Watch<'w, 's> {
    nodes: Query<'w, 's, &'static NodeState>,
    changed_sets: Query<'w, 's, Entity, Changed<StatefulSet>>,
    new_pods: Query<'w, 's, (Entity, &'static PodOf), Added<Pod>>,
    removed_pods: Res<'w, RemovedPods>,
    changed_nodes: Query<'w, 's, (), Changed<NodeState>>,
    new_nodes: Query<'w, 's, (), Added<NodeState>>,
    /// The test-only planted bug (`PlantedBugSkipAtMostOne`), if switched on.
    planted: Option<Res<'w, PlantedBugSkipAtMostOne>>,
    /// The release and feature gates: which rolling-update path runs.
    version: Res<'w, crate::sim::version::ClusterVersion>,
}

impl Watch<'_, '_> {
    /// What changed since the last pass; updates the counts in `mem`.
    fn seen(
        &self,
        journal: &Journal,
        pod_q: &mut PodQueries,
        claim_q: &mut ClaimQueries,
        mem: &mut SetsMemory,
    ) -> Seen {
        // The tallies are updated first, whatever the rest says.
        let claims_counted = mem.claims.changed(claim_q.p1().iter().len());
        let claims_changed = {
            let q = claim_q.p0();
            let any = match candidates(&journal.claims, &mut mem.claims_cursor) {
                Some(v) => v.into_iter().any(|e| q.contains(e)),
                None => !q.is_empty(),
            };
            debug_assert_eq!(any, !q.is_empty(), "the journal of claims differs");
            claims_counted || any
        };
        let nodes_changed = mem
            .nodes
            .went_away(self.nodes.iter().len(), self.new_nodes.iter().count())
            || !self.changed_nodes.is_empty();
        let changed_sets: EntityHashSet = self.changed_sets.iter().collect();
        let mut dirty = changed_sets.clone();
        let mut changed_pods: EntityHashMap<Vec<Entity>> = EntityHashMap::default();
        for (e, of) in self.changed_pods(journal, pod_q, mem) {
            dirty.insert(of);
            changed_pods.entry(of).or_default().push(e);
        }
        // Pods that went away leave the sets' indexes (whichever holds them).
        for &e in self.removed_pods.since(&mut mem.removed_cursor) {
            for m in mem.sets.values_mut() {
                if let Some(v) = &mut m.view {
                    v.remove(e);
                }
            }
        }
        Seen {
            claims_changed,
            nodes_changed,
            changed_sets,
            dirty,
            changed_pods,
        }
    }

    /// The pods whose status changed or that are new, with their set, found
    /// through the journal (debug builds compare them with the walk).
    fn changed_pods(
        &self,
        journal: &Journal,
        pod_q: &mut PodQueries,
        mem: &mut SetsMemory,
    ) -> Vec<(Entity, Entity)> {
        let q = pod_q.p0();
        let of = |e: Entity| -> Option<(Entity, Entity)> {
            let (_, of) = q.get(e).or_else(|_| self.new_pods.get(e)).ok()?;
            Some((e, of.0))
        };
        let walk = || -> Vec<(Entity, Entity)> {
            let mut v: Vec<(Entity, Entity)> = q
                .iter()
                .chain(self.new_pods.iter())
                .map(|(e, of)| (e, of.0))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let Some(noted) = candidates(&journal.pods, &mut mem.pods_cursor) else {
            return walk();
        };
        let found: Vec<(Entity, Entity)> = noted.into_iter().filter_map(of).collect();
        if cfg!(debug_assertions) {
            let mut sorted = found.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, walk(), "the journal of pods differs from a walk");
        }
        found
    }
}

fn statefulset_controller(
    mut cluster: Cluster,
    mut rng: ResMut<SimRng>,
    mut sets: Query<SetItem>,
    mut pod_q: PodQueries,
    mut claim_q: ClaimQueries,
    watch: Watch,
    mut mem: Local<SetsMemory>,
) {
    let now = cluster.now();
    let seen = watch.seen(&cluster.journal, &mut pod_q, &mut claim_q, &mut mem);
    let mut order: Vec<(String, Entity)> = sets
        .iter()
        .map(|(e, s, _, _)| (s.spec.name.clone(), e))
        .collect();
    order.sort();
    let mut pass = Pass {
        cluster: &mut cluster,
        rng: &mut rng,
        pods: &mut pod_q.p1(),
        claims: &mut claim_q.p1(),
        nodes: &watch.nodes,
        now,
        planted: watch.planted.as_ref().is_some_and(|p| p.0),
        update_path: watch.version.update_path(),
        touched: Vec::new(),
    };
    for (_, set_e) in order {
        let Ok((_, set, mut st, owned)) = sets.get_mut(set_e) else {
            continue;
        };
        let n_pods = owned.map_or(0, |o| o.len());
        // The set's index follows its changed pods even when its pass is
        // skipped (those changes are not seen again).
        if let Some(view) = mem.sets.get_mut(&set_e).and_then(|m| m.view.as_mut())
            && let Some(changed) = seen.changed_pods.get(&set_e)
        {
            for &e in changed {
                pass.index_pod(view, &set.spec, e);
            }
        }
        let memory = mem.sets.get(&set_e);
        if !pass_needed(&seen, seen.dirty.contains(&set_e), memory, n_pods, now) {
            if let Some(w) = memory.and_then(|m| m.wake) {
                pass.cluster.wake_at(w);
            }
            continue;
        }
        let prev = mem.sets.remove(&set_e);
        let next = pass.sync_set(set_e, set, &mut st, owned, &seen, prev);
        mem.sets.insert(set_e, next);
    }
}

/// One set's pass: what it reads and writes besides the set itself.
struct Pass<'a, 'w, 's, 'q> {
    cluster: &'a mut Cluster<'w, 's>,
    rng: &'a mut SimRng,
    pods: &'a mut Query<'q, 'q, PodItem>,
    claims: &'a mut Query<'q, 'q, ClaimItem>,
    nodes: &'a Query<'q, 'q, &'static NodeState>,
    now: u64,
    /// `PlantedBugSkipAtMostOne`.
    planted: bool,
    /// The release's rolling-update path (`ClusterVersion::update_path`).
    update_path: crate::sim::version::UpdatePath,
    /// Pods this set's pass wrote to (which it does not see as changes).
    touched: Vec<Entity>,
}

/// What one set's decision saw besides its outcome.
struct Decision {
    out: Outcome,
    pods_left: usize,
    any_terminating: bool,
}

impl Pass<'_, '_, '_, '_> {
    /// Gathers, decides and applies for one set; returns what to remember.
    fn sync_set(
        &mut self,
        set_e: Entity,
        set: &StatefulSet,
        st: &mut SetStatus,
        owned: Option<&OwnedPods>,
        seen: &Seen,
        prev: Option<SetMemory>,
    ) -> SetMemory {
        let n_pods = owned.map_or(0, |o| o.len());
        // The revision name hashes the template: only worth redoing when the
        // set changed (otherwise it is the update revision already recorded).
        let update_rev = if seen.changed_sets.contains(&set_e) || prev.is_none() {
            sync_revisions(self.cluster, set, st)
        } else {
            st.update_revision.clone()
        };
        let spec = &set.spec;
        let basis = Basis {
            start: spec.ordinals_start,
            end: spec.end_ordinal(),
            min_ready_ms: spec.min_ready_seconds as u64 * 1000,
            update_revision: update_rev.clone(),
        };
        let mut view = match prev.and_then(|m| m.view) {
            Some(v) if v.basis == basis => v,
            _ => self.build_view(basis, spec, owned),
        };
        // Only time turns a pod quiet (minReadySeconds): the others are
        // looked at again every pass.
        let loud: Vec<Entity> = view.loud().collect();
        for e in loud {
            self.index_pod(&mut view, spec, e);
        }
        debug_assert_eq!(
            view,
            self.build_view(view.basis.clone(), spec, owned),
            "the index of statefulset/{} differs from one built from its pods",
            spec.name
        );
        let Decision {
            mut out,
            pods_left,
            any_terminating,
        } = if self.planted {
            let by_ordinal = pods_by_ordinal(owned, self.pods);
            self.planted_skip_at_most_one(&by_ordinal);
            self.decide(set, &st.current_revision, &update_rev, &by_ordinal)
        } else {
            self.decide_sparse(set, &st.current_revision, &update_rev, &view, owned)
        };
        if let Some(w) = out.wake_ms {
            self.cluster.wake_at(w);
        }
        // Writes of this pass that its next pass reads (its own writes are not
        // seen as changes): deletions it requested, and a new current revision.
        // Pods and claims it creates are seen as new.
        let mut own_writes = false;
        for action in std::mem::take(&mut out.actions) {
            own_writes |= self.apply_action(set_e, &set.spec, st, action);
        }
        own_writes |= self.apply_status(&set.spec, st, &out);
        if set.deleting && pods_left == 0 {
            self.remove_set(set_e, &set.spec.name);
        }
        // Its own writes to pods (deletions) are not seen as changes.
        for e in std::mem::take(&mut self.touched) {
            self.index_pod(&mut view, spec, e);
        }
        SetMemory {
            pods: n_pods,
            view: Some(view),
            wake: out.wake_ms.filter(|&w| w > self.now),
            terminating: any_terminating,
            active: own_writes,
        }
    }

    /// Puts pod `e` in the set's index as it is now.
    fn index_pod(&self, view: &mut SetView, spec: &StatefulSetSpec, e: Entity) {
        match self.pods.get(e) {
            Ok((p, s)) => {
                let o = p.ordinal.unwrap_or(0);
                view.put(e, o, &p.revision, sparse::is_quiet(spec, o, s, self.now));
            }
            Err(_) => view.remove(e),
        }
    }

    /// The set's index built from all its pods.
    fn build_view(
        &self,
        basis: Basis,
        spec: &StatefulSetSpec,
        owned: Option<&OwnedPods>,
    ) -> SetView {
        let mut view = SetView::new(basis);
        for &e in owned.map_or(&[][..], |o| o.entities()) {
            self.index_pod(&mut view, spec, e);
        }
        view
    }

    /// Runs the sparse pass over the set's index, or the full pass where the
    /// sparse one does not apply. Debug builds run both and compare them.
    fn decide_sparse(
        &self,
        set: &StatefulSet,
        current_rev: &str,
        update_rev: &str,
        view: &SetView,
        owned: Option<&OwnedPods>,
    ) -> Decision {
        let full = || {
            self.decide(
                set,
                current_rev,
                update_rev,
                &pods_by_ordinal(owned, self.pods),
            )
        };
        let spec = &set.spec;
        if !sparse::applies(spec, set.deleting) || view.ordinals_shared() {
            return full();
        }
        let loud_pods: Vec<Entity> = view.loud().collect();
        let loud = observe_pods(&loud_pods, &*self.pods, &self.cluster.index, self.nodes);
        let top_pods = view.outdated_top(
            spec.ordinals_start + sparse::partition_index(spec),
            sparse::outdated_needed(spec),
        );
        let outdated_top = observe_pods(&top_pods, &*self.pods, &self.cluster.index, self.nodes);
        let missing = view.missing(sparse::missing_needed(spec));
        let ordinals = claim_ordinals_sparse(spec, &loud, &missing);
        let claims = read_claims(spec, &ordinals, &*self.claims, &self.cluster.index);
        // A claim owned by a pod is checked against every pod's uid.
        if claims.values().any(|c| c.owner_pod_uid.is_some()) {
            return full();
        }
        let (quiet, quiet_current, quiet_updated) = view.quiet_counts(current_rev);
        let out = sparse::reconcile(
            &reconcile::Input {
                spec,
                deleting: set.deleting,
                current_revision: current_rev,
                update_revision: update_rev,
                pods: &loud,
                claims: &claims,
                now: self.now,
                update_path: self.update_path,
            },
            &sparse::View {
                loud: &loud,
                missing: &missing,
                outdated_top: &outdated_top,
                quiet,
                quiet_current,
                quiet_updated,
            },
        );
        let decision = Decision {
            out,
            pods_left: view.len(),
            any_terminating: loud.iter().any(|p| p.status.terminating()),
        };
        #[cfg(debug_assertions)]
        {
            let oracle = full();
            assert_eq!(
                format!(
                    "{:?}",
                    (&oracle.out, oracle.pods_left, oracle.any_terminating)
                ),
                format!(
                    "{:?}",
                    (&decision.out, decision.pods_left, decision.any_terminating)
                ),
                "the sparse pass of statefulset/{} differs from the full pass",
                spec.name
            );
        }
        decision
    }

    /// Observes the set's pods and claims and runs the pure reconcile pass.
    fn decide(
        &self,
        set: &StatefulSet,
        current_rev: &str,
        update_rev: &str,
        by_ordinal: &[Entity],
    ) -> Decision {
        let observed = observe_pods(by_ordinal, &*self.pods, &self.cluster.index, self.nodes);
        // In ordinal order already (the order is rebuilt when pods come or go).
        debug_assert!(observed.is_sorted_by_key(|p| p.ordinal));
        let claims = observe_claims(set, &observed, &*self.claims, &self.cluster.index);
        let out = reconcile::reconcile(&reconcile::Input {
            spec: &set.spec,
            deleting: set.deleting,
            current_revision: current_rev,
            update_revision: update_rev,
            pods: &observed,
            claims: &claims,
            now: self.now,
            update_path: self.update_path,
        });
        Decision {
            out,
            pods_left: observed.len(),
            any_terminating: observed.iter().any(|p| p.status.terminating()),
        }
    }

    /// Applies one action; returns whether it wrote something the next pass
    /// reads without seeing it change.
    fn apply_action(
        &mut self,
        set_e: Entity,
        spec: &StatefulSetSpec,
        st: &mut SetStatus,
        action: Action,
    ) -> bool {
        match action {
            Action::CreateClaim {
                name,
                template,
                ordinal,
                reason,
            } => self.create_claim(spec, st, name, template, ordinal, reason),
            Action::CreatePod {
                ordinal,
                revision,
                reason,
            } => return self.create_pod(set_e, spec, st, ordinal, revision, reason),
            Action::DeletePod { name, reason, .. } => return self.delete_pod(&name, reason),
            Action::DeleteClaim {
                name,
                when_deleted,
                reason,
            } => return self.delete_claim(&name, when_deleted, reason),
            Action::SetClaimOwners { name, set, pod } => {
                return self.set_claim_owners(&spec.name, &name, set, pod);
            }
        }
        false
    }

    fn create_claim(
        &mut self,
        spec: &StatefulSetSpec,
        st: &mut SetStatus,
        name: String,
        template: String,
        ordinal: u32,
        reason: String,
    ) {
        let ct = spec.claims.iter().find(|c| c.name == template);
        let class = ct
            .and_then(|c| c.storage_class.clone())
            .unwrap_or_else(|| self.cluster.index.default_class.clone());
        if !st.claims_made.contains(&name) {
            st.claims_made.insert(name.clone());
        }
        // createPersistentVolumeClaims sets the policy's owners on a new
        // claim; its pod does not exist yet, so that is at most the set.
        let (set_owns, _) = reconcile::wanted_claim_owners(spec, false);
        let owner_refs = claim_owner_refs(&spec.name, set_owns, None);
        let claim = Claim {
            name,
            set: Some(spec.name.clone()),
            ordinal: Some(ordinal),
            template,
            class,
            size_gib: ct.map_or(1, |c| c.size_gib),
            created_ms: self.now,
        };
        self.cluster.create_claim(claim, owner_refs, reason);
    }

    fn create_pod(
        &mut self,
        set_e: Entity,
        spec: &StatefulSetSpec,
        st: &SetStatus,
        ordinal: u32,
        revision: String,
        reason: String,
    ) -> bool {
        // The name is taken by a pod that is not the set's (an orphan being
        // deleted, which the set does not adopt): the create would fail with
        // AlreadyExists; the set's next pass, a second later, tries again.
        if self
            .cluster
            .index
            .pods
            .contains_key(&spec.pod_name(ordinal))
        {
            self.cluster.wake_at(self.now + NAME_TAKEN_RETRY_MS);
            return true;
        }
        let template = st
            .revision(&revision)
            .map(|r| r.template.clone())
            .unwrap_or_else(|| spec.template.clone());
        let seq = self.cluster.index.next_seq();
        let pod = set_pod(
            spec,
            ordinal,
            revision.clone(),
            template,
            self.rng.uid(),
            seq,
            self.now,
        );
        let name = pod.name.clone();
        let e = self
            .cluster
            .commands
            .spawn((pod, PodStatus::new(), PodOf(set_e)))
            .id();
        self.cluster.index.pods.insert(name.clone(), e);
        self.cluster.emit(
            SimEvent::new(EventKind::PodCreated, format!("pod/{name}"), reason)
                .revision(revision)
                .k8s(K8sRecord::stateful_pod("create", &spec.name, &name)),
        );
        false
    }

    /// The planted bug: terminating pods are force-deleted at once, so the
    /// next pass replaces them while their containers may still run.
    fn planted_skip_at_most_one(&mut self, by_ordinal: &[Entity]) {
        for &e in by_ordinal {
            if let Ok((p, s)) = self.pods.get(e)
                && s.terminating()
            {
                let (pod, node) = (p.clone(), s.node.clone());
                self.cluster.force_delete_pod(
                    e,
                    &pod,
                    node,
                    "planted bug: the controller does not wait for a terminating pod to go",
                );
            }
        }
    }

    /// Graceful deletion; an own write when the pod exists.
    fn delete_pod(&mut self, name: &str, reason: String) -> bool {
        let Some(&pe) = self.cluster.index.pods.get(name) else {
            return false;
        };
        let Ok((p, mut ps)) = self.pods.get_mut(pe) else {
            return false;
        };
        self.cluster.journal.pods.note(pe);
        self.touched.push(pe);
        let set = p.owner.name.clone();
        let record = K8sRecord::stateful_pod("delete", &set, &p.name);
        self.cluster
            .request_deletion_recorded(p, &mut ps, reason, Some(record));
        true
    }

    /// The claim's ownerReferences become the set and/or the pod; an own write.
    fn set_claim_owners(
        &mut self,
        set_name: &str,
        name: &str,
        set: bool,
        pod: Option<(String, String)>,
    ) -> bool {
        let Some(&ce) = self.cluster.index.claims.get(name) else {
            return false;
        };
        let Ok((_, mut cs)) = self.claims.get_mut(ce) else {
            return false;
        };
        self.cluster.journal.claims.note(ce);
        cs.owner_refs = claim_owner_refs(set_name, set, pod);
        self.cluster.touch();
        true
    }

    /// whenScaled / whenDeleted = Delete; an own write when newly marked.
    fn delete_claim(&mut self, name: &str, when_deleted: bool, reason: String) -> bool {
        let Some(&ce) = self.cluster.index.claims.get(name) else {
            return false;
        };
        let Ok((_, mut cs)) = self.claims.get_mut(ce) else {
            return false;
        };
        self.cluster.journal.claims.note(ce);
        if cs.deleting.is_some() {
            return false;
        }
        cs.deleting = Some(if when_deleted {
            DeletionCause::RetentionWhenDeleted
        } else {
            DeletionCause::RetentionWhenScaled
        });
        cs.deleting_reason = Some(reason);
        self.cluster.touch();
        true
    }

    /// Writes the status block, the rollout's completion and why the set is
    /// blocked; returns whether the current revision moved (an own write).
    fn apply_status(&mut self, spec: &StatefulSetSpec, st: &mut SetStatus, out: &Outcome) -> bool {
        let s = &out.status;
        let counts = (s.replicas, s.ready, s.available, s.current, s.updated);
        if (st.replicas, st.ready, st.available, st.current, st.updated) != counts {
            (st.replicas, st.ready, st.available, st.current, st.updated) = counts;
            self.cluster.touch();
        }
        let mut own_writes = false;
        if s.rollout_complete && st.current_revision != st.update_revision {
            let from = std::mem::replace(&mut st.current_revision, st.update_revision.clone());
            own_writes = true;
            self.cluster.emit(
                SimEvent::new(
                    EventKind::RolloutComplete,
                    format!("statefulset/{}", spec.name),
                    format!(
                        "all {} pods run {} and are Ready: currentRevision moves from {from}",
                        s.replicas, st.update_revision
                    ),
                )
                .revision(st.update_revision.clone()),
            );
        }
        if out.blocked != st.blocked {
            match &out.blocked {
                Some(why) => self.cluster.emit(SimEvent::new(
                    EventKind::SetBlocked,
                    format!("statefulset/{}", spec.name),
                    why.clone(),
                )),
                None => self.cluster.touch(),
            }
            st.blocked = out.blocked.clone();
        }
        own_writes
    }

    /// A deleted set whose pods are all gone goes too.
    fn remove_set(&mut self, set_e: Entity, name: &str) {
        self.cluster.index.sets.remove(name);
        self.cluster.commands.entity(set_e).despawn();
        self.cluster.emit(SimEvent::new(
            EventKind::SetDeleted,
            format!("statefulset/{name}"),
            "all its pods are gone; claims follow whenDeleted",
        ));
    }
}

/// The set's pods in ordinal order.
fn pods_by_ordinal(owned: Option<&OwnedPods>, pods: &Query<PodItem>) -> Vec<Entity> {
    let mut v: Vec<(u32, Entity)> = owned
        .map_or(&[][..], |o| o.entities())
        .iter()
        .filter_map(|&e| pods.get(e).ok().map(|(p, _)| (p.ordinal.unwrap_or(0), e)))
        .collect();
    v.sort_by_key(|x| x.0);
    v.into_iter().map(|x| x.1).collect()
}

/// ownerReferences of a claim: the set (its uid is not modelled) and/or a pod.
fn claim_owner_refs(set_name: &str, set: bool, pod: Option<(String, String)>) -> Vec<OwnerRef> {
    let mut refs = Vec::new();
    if set {
        refs.push(OwnerRef {
            kind: OwnerRefKind::StatefulSet,
            name: set_name.to_string(),
            uid: String::new(),
        });
    }
    if let Some((name, uid)) = pod {
        refs.push(OwnerRef {
            kind: OwnerRefKind::Pod,
            name,
            uid,
        });
    }
    refs
}

/// What the reconcile pass sees of the set's pods, in the given order.
fn observe_pods<'a>(
    by_ordinal: &[Entity],
    pods: &'a Query<PodItem>,
    index: &Index,
    nodes: &Query<&NodeState>,
) -> Vec<ObservedPod<'a>> {
    by_ordinal
        .iter()
        .filter_map(|&e| pods.get(e).ok())
        .map(|(p, s)| ObservedPod {
            name: Cow::Borrowed(p.name.as_str()),
            uid: Cow::Borrowed(p.uid.as_str()),
            ordinal: p.ordinal.unwrap_or(0),
            revision: Cow::Borrowed(p.revision.as_str()),
            status: s,
            node_problem: if s.terminating() {
                node_problem(s, index, nodes)
            } else {
                None
            },
        })
        .collect()
}

/// What the reconcile pass sees of the set's claims: all of them when it may
/// delete some (whenScaled=Delete or the set is being deleted), otherwise
/// only those it may create (see `claim_ordinals_to_read`).
fn observe_claims(
    set: &StatefulSet,
    observed: &[ObservedPod],
    claims: &Query<ClaimItem>,
    index: &Index,
) -> BTreeMap<String, ObservedClaim> {
    let spec = &set.spec;
    let mut out = BTreeMap::new();
    if spec.retention.when_scaled == RetentionAction::Delete || set.deleting {
        for (c, cs) in claims.iter() {
            if c.set.as_deref() == Some(spec.name.as_str()) {
                out.insert(c.name.clone(), observed_claim(cs, c.ordinal));
            }
        }
        return out;
    }
    read_claims(spec, &claim_ordinals_to_read(spec, observed), claims, index)
}

/// What the pass sees of one claim.
fn observed_claim(cs: &ClaimStatus, ordinal: Option<u32>) -> ObservedClaim {
    ObservedClaim {
        ordinal,
        deleting: cs.deleting.is_some(),
        owner_pod_uid: cs
            .owner_refs
            .iter()
            .find(|r| r.kind == OwnerRefKind::Pod)
            .map(|r| r.uid.clone()),
        owned_by_set: cs
            .owner_refs
            .iter()
            .any(|r| r.kind == OwnerRefKind::StatefulSet),
    }
}

/// The claims of the given ordinals that exist.
fn read_claims(
    spec: &StatefulSetSpec,
    ordinals: &[u32],
    claims: &Query<ClaimItem>,
    index: &Index,
) -> BTreeMap<String, ObservedClaim> {
    let mut out = BTreeMap::new();
    for &o in ordinals {
        for ct in &spec.claims {
            let name = spec.claim_name(&ct.name, o);
            if let Some(&ce) = index.claims.get(&name)
                && let Ok((_, cs)) = claims.get(ce)
            {
                out.insert(name, observed_claim(cs, Some(o)));
            }
        }
    }
    out
}

/// `claim_ordinals_to_read` over the sparse view: the missing ordinals and
/// the in-range pods still Pending/ContainerCreating (a quiet pod is
/// Running), ascending; the first only under OrderedReady.
fn claim_ordinals_sparse(
    spec: &StatefulSetSpec,
    loud: &[ObservedPod],
    missing: &[u32],
) -> Vec<u32> {
    let (start, end) = (spec.ordinals_start, spec.end_ordinal());
    let mut need: Vec<u32> = missing.to_vec();
    need.extend(
        loud.iter()
            .filter(|p| {
                p.ordinal >= start
                    && p.ordinal < end
                    && matches!(
                        p.status.phase,
                        PodPhase::Pending | PodPhase::ContainerCreating
                    )
            })
            .map(|p| p.ordinal),
    );
    need.sort_unstable();
    need.dedup();
    if spec.pod_management == PodManagement::OrderedReady {
        need.truncate(1);
    }
    need
}

/// Without whenScaled=Delete or set deletion, the pass looks only at the
/// claims of in-range ordinals whose pod is missing or still
/// Pending/ContainerCreating (processReplica); an OrderedReady pass stops at
/// the first of them at the latest.
fn claim_ordinals_to_read(spec: &StatefulSetSpec, observed: &[ObservedPod]) -> Vec<u32> {
    let (start, end) = (spec.ordinals_start, spec.end_ordinal());
    let mut need = vec![true; end.saturating_sub(start) as usize];
    for p in observed {
        if p.ordinal >= start
            && p.ordinal < end
            && !matches!(
                p.status.phase,
                PodPhase::Pending | PodPhase::ContainerCreating
            )
        {
            need[(p.ordinal - start) as usize] = false;
        }
    }
    let monotonic = spec.pod_management == PodManagement::OrderedReady;
    (start..end)
        .filter(|o| need[(o - start) as usize])
        .take(if monotonic { 1 } else { usize::MAX })
        .collect()
}

/// A StatefulSet's pod for `ordinal`: its stable name, claims and DNS name.
fn set_pod(
    spec: &StatefulSetSpec,
    ordinal: u32,
    revision: String,
    template: PodTemplate,
    uid: String,
    seq: u64,
    now: u64,
) -> Pod {
    let name = spec.pod_name(ordinal);
    Pod {
        dns: Some(format!(
            "{name}.{}.default.svc.cluster.local",
            spec.service_name()
        )),
        name,
        uid,
        owner: Owner::set(&spec.name),
        ordinal: Some(ordinal),
        revision,
        template,
        claims: spec
            .claims
            .iter()
            .map(|c| spec.claim_name(&c.name, ordinal))
            .collect(),
        created_ms: now,
        seq,
        // The MySQL tutorial's pods run init-mysql and clone-mysql first.
        init_containers: if spec.database.is_some() { 2 } else { 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(claims_changed: bool, nodes_changed: bool) -> Seen {
        Seen {
            claims_changed,
            nodes_changed,
            changed_sets: EntityHashSet::default(),
            dirty: EntityHashSet::default(),
            changed_pods: EntityHashMap::default(),
        }
    }

    fn memory(pods: usize, wake: Option<u64>, terminating: bool, active: bool) -> SetMemory {
        SetMemory {
            pods,
            view: None,
            wake,
            terminating,
            active,
        }
    }

    #[test]
    fn a_set_is_skipped_only_when_nothing_it_reads_changed() {
        let quiet = memory(3, None, false, false);
        assert!(!pass_needed(
            &seen(false, false),
            false,
            Some(&quiet),
            3,
            1000
        ));
        // Never seen, changed, a claim changed, a pod came or went.
        assert!(pass_needed(&seen(false, false), false, None, 3, 1000));
        assert!(pass_needed(
            &seen(false, false),
            true,
            Some(&quiet),
            3,
            1000
        ));
        assert!(pass_needed(
            &seen(true, false),
            false,
            Some(&quiet),
            3,
            1000
        ));
        assert!(pass_needed(
            &seen(false, false),
            false,
            Some(&quiet),
            2,
            1000
        ));
    }

    #[test]
    fn a_set_that_wrote_what_it_reads_runs_again() {
        let active = memory(3, None, false, true);
        assert!(pass_needed(
            &seen(false, false),
            false,
            Some(&active),
            3,
            1000
        ));
    }

    #[test]
    fn node_changes_matter_only_to_sets_with_terminating_pods() {
        let calm = memory(3, None, false, false);
        let terminating = memory(3, None, true, false);
        assert!(!pass_needed(
            &seen(false, true),
            false,
            Some(&calm),
            3,
            1000
        ));
        assert!(pass_needed(
            &seen(false, true),
            false,
            Some(&terminating),
            3,
            1000
        ));
    }

    #[test]
    fn a_set_runs_when_its_min_ready_instant_is_due() {
        let waiting = memory(3, Some(2000), false, false);
        assert!(!pass_needed(
            &seen(false, false),
            false,
            Some(&waiting),
            3,
            1999
        ));
        assert!(pass_needed(
            &seen(false, false),
            false,
            Some(&waiting),
            3,
            2000
        ));
    }

    fn revision(name: &str, number: u64) -> Revision {
        Revision {
            name: name.into(),
            template: PodTemplate::with_image(name),
            number,
        }
    }

    #[test]
    fn revision_history_drops_the_oldest_unused_revisions_first() {
        let mut revs = vec![
            revision("r1", 1),
            revision("r2", 2),
            revision("r3", 3),
            revision("r4", 4),
        ];
        // r1 is still current: r2 goes first, then r3.
        trim_revision_history(&mut revs, 2, &["r1".into(), "r4".into()]);
        let names: Vec<_> = revs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["r1", "r4"]);
    }

    #[test]
    fn revision_history_keeps_current_and_update_over_the_limit() {
        let mut revs = vec![revision("r1", 1), revision("r2", 2)];
        trim_revision_history(&mut revs, 0, &["r1".into(), "r2".into()]);
        assert_eq!(revs.len(), 2);
    }

    /// The reconcile tests' set, without claims.
    fn spec(replicas: u32, pm: PodManagement) -> StatefulSetSpec {
        StatefulSetSpec {
            claims: Vec::new(),
            ..super::super::reconcile::tests::spec(replicas, pm)
        }
    }

    fn pod(ordinal: u32, status: &PodStatus) -> ObservedPod<'_> {
        ObservedPod {
            name: Cow::Owned(format!("web-{ordinal}")),
            uid: Cow::Owned(format!("uid-{ordinal}")),
            ordinal,
            revision: Cow::Borrowed("r1"),
            status,
            node_problem: None,
        }
    }

    #[test]
    fn claims_are_read_for_missing_and_pending_replicas_only() {
        let mut running = PodStatus::new();
        running.phase = PodPhase::Running;
        let pending = PodStatus::new();
        let pods = [pod(0, &running), pod(1, &pending), pod(9, &running)];
        let s = spec(4, PodManagement::Parallel);
        assert_eq!(claim_ordinals_to_read(&s, &pods), [1, 2, 3]);
    }

    #[test]
    fn ordered_ready_reads_the_claims_of_the_first_such_replica_only() {
        let mut running = PodStatus::new();
        running.phase = PodPhase::Running;
        let pods = [pod(0, &running)];
        let s = spec(4, PodManagement::OrderedReady);
        assert_eq!(claim_ordinals_to_read(&s, &pods), [1]);
    }

    #[test]
    fn revision_names_are_the_set_and_ten_characters_of_template_hash() {
        let t = PodTemplate::with_image("nginx:1");
        let name = revision_name("web", &t);
        assert_eq!(name.len(), "web-".len() + 10);
        assert!(name.starts_with("web-"));
        assert_eq!(name, revision_name("web", &t.clone()));
    }
}
