//! The StatefulSet reconcile pass over a sparse view of the set: the pods the
//! pass must look at, the missing ordinals and counts of the quiet pods, so a
//! pass costs what is going on rather than the size of the set. It decides
//! exactly what `reconcile::reconcile` decides over every pod (the property
//! test at the end holds it to that); the controller keeps the view up to
//! date from the pods that changed (`statefulset.rs`, `SetView`).
//!
//! A quiet pod is in range, Running, Ready and available (minReadySeconds
//! over), and not terminating. Every rule of the pass leaves such a pod alone
//! but for three: the status counts it (by revision), the rolling update
//! deletes the highest outdated ones (at most maxUnavailable a pass), and an
//! outdated one anywhere at or above the partition means the update is not
//! done. So the view carries the counts and the highest outdated quiet pods.

use super::reconcile::{
    Action, DeleteCause, Input, ObservedPod, Outcome, ReplicaStatus, UpdatePath,
    collect_orphaned_claims, complete_rolling_update, create_replica, next_availability,
    scale_down_reason, unavailable_state,
};
use crate::sim::model::{
    IntOrPercent, PodManagement, PodPhase, PodStatus, RetentionAction, StatefulSetSpec,
    UpdateStrategy,
};

/// Whether the pass may leave a pod out of its view (see the module comment).
pub fn is_quiet(spec: &StatefulSetSpec, ordinal: u32, s: &PodStatus, now: u64) -> bool {
    ordinal >= spec.ordinals_start
        && ordinal < spec.end_ordinal()
        && !s.terminating()
        && s.phase == PodPhase::Running
        && s.available(now, spec.min_ready_seconds as u64 * 1000)
}

/// Whether the sparse pass can stand for the full one: not while the set is
/// being deleted, nor under whenScaled=Delete (claim ownership is checked
/// against every pod).
pub fn applies(spec: &StatefulSetSpec, deleting: bool) -> bool {
    !deleting && spec.retention.when_scaled != RetentionAction::Delete
}

/// Index (ordinal − start) of the partition: outdated pods at or above it
/// are updated. 0 under OnDelete (nothing is updated there).
pub fn partition_index(spec: &StatefulSetSpec) -> u32 {
    match &spec.update_strategy {
        UpdateStrategy::RollingUpdate { partition, .. } => *partition,
        UpdateStrategy::OnDelete => 0,
    }
}

/// How many of the lowest missing ordinals the view must carry. Parallel:
/// all (a pass creates every missing replica). OrderedReady: the first. A
/// pass there goes through the ordinals in order and stops at the first
/// missing one (it creates it, or its claim is stale, and either way
/// `create_replica` stops the pass), so it never looks past it; and
/// `what_waits` asks, for a pod below it, for the first missing ordinal
/// above that pod: the same one. Carrying them all made every pass of an
/// OrderedReady scale-up cost the number of replicas still to create.
pub fn missing_needed(spec: &StatefulSetSpec) -> usize {
    match spec.pod_management {
        PodManagement::OrderedReady => 1,
        PodManagement::Parallel => usize::MAX,
    }
}

/// How many of the highest outdated quiet pods the view must carry: the most
/// a pass can delete (maxUnavailable; one for the legacy path).
pub fn outdated_needed(spec: &StatefulSetSpec) -> usize {
    match &spec.update_strategy {
        UpdateStrategy::RollingUpdate {
            max_unavailable, ..
        } => max_unavailable.scaled_at_least_one(spec.replicas) as usize,
        UpdateStrategy::OnDelete => 1,
    }
}

/// The sparse view of one set.
pub struct View<'a> {
    /// The pods that are not quiet, in ordinal order (in range or condemned);
    /// `Input::pods` is this list.
    pub loud: &'a [ObservedPod<'a>],
    /// In-range ordinals with no pod, ascending.
    pub missing: &'a [u32],
    /// The highest quiet pods at or above the partition whose revision is
    /// not the update revision (at least `outdated_needed` of them when
    /// there are that many), ascending.
    pub outdated_top: &'a [ObservedPod<'a>],
    /// Quiet pods: all of them, those of the current revision and those of
    /// the update revision.
    pub quiet: u32,
    pub quiet_current: u32,
    pub quiet_updated: u32,
}

/// An in-range ordinal the pass looks at.
#[derive(Clone, Copy)]
enum Slot<'p> {
    Pod(&'p ObservedPod<'p>),
    Missing,
    /// A quiet pod of an older revision.
    Outdated(&'p ObservedPod<'p>),
}

impl<'p> Slot<'p> {
    fn pod(self) -> Option<&'p ObservedPod<'p>> {
        match self {
            Slot::Pod(p) | Slot::Outdated(p) => Some(p),
            Slot::Missing => None,
        }
    }
}

/// The view and what the pass derives from it once.
struct Sparse<'p> {
    view: &'p View<'p>,
    /// In-range slots by index (ordinal − start), ascending.
    slots: Vec<(usize, Slot<'p>)>,
    /// Out-of-range pods, highest ordinal first.
    condemned: Vec<&'p ObservedPod<'p>>,
}

/// One reconcile pass over the sparse view: what `reconcile::reconcile`
/// decides over every pod.
pub fn reconcile(inp: &Input, view: &View) -> Outcome {
    let sp = Sparse::new(inp, view);
    let mut out = Outcome::default();
    pass(inp, &sp, &mut out);
    complete_rolling_update(inp, &mut out.status, &out.actions);
    out
}

impl<'p> Sparse<'p> {
    fn new(inp: &Input, view: &'p View<'p>) -> Self {
        let spec = inp.spec;
        let (start, end) = (spec.ordinals_start, spec.end_ordinal());
        let mut slots: Vec<(usize, Slot)> = Vec::new();
        let mut condemned = Vec::new();
        for p in view.loud {
            if p.ordinal >= start && p.ordinal < end {
                slots.push(((p.ordinal - start) as usize, Slot::Pod(p)));
            } else {
                condemned.push(p);
            }
        }
        slots.extend(
            view.missing
                .iter()
                .map(|&o| ((o - start) as usize, Slot::Missing)),
        );
        slots.extend(
            view.outdated_top
                .iter()
                .map(|p| ((p.ordinal - start) as usize, Slot::Outdated(p))),
        );
        slots.sort_by_key(|s| s.0);
        condemned.sort_by_key(|p| std::cmp::Reverse(p.ordinal));
        Sparse {
            view,
            slots,
            condemned,
        }
    }

    /// `outdated_exists`: an outdated pod at or above the partition.
    fn outdated_exists(&self, inp: &Input) -> bool {
        let UpdateStrategy::RollingUpdate { partition, .. } = &inp.spec.update_strategy else {
            return false;
        };
        !self.view.outdated_top.is_empty()
            || self.slots.iter().any(|(i, s)| {
                *i >= *partition as usize
                    && matches!(s, Slot::Pod(p) if p.revision != inp.update_revision)
            })
    }

    /// The first missing index after `i`.
    fn missing_after(&self, inp: &Input, i: usize) -> Option<usize> {
        let start = inp.spec.ordinals_start;
        let m = self.view.missing;
        let at = m.partition_point(|&o| ((o - start) as usize) <= i);
        m.get(at).map(|&o| (o - start) as usize)
    }
}

fn pass(inp: &Input, sp: &Sparse, out: &mut Outcome) {
    out.status = replica_status(inp, sp);
    out.wake_ms = next_availability(inp);
    // No claim of the view names a pod as owner (the controller makes sure),
    // so this adds nothing; kept so the two passes read alike.
    collect_orphaned_claims(inp, out);
    if process_replicas(inp, sp, out) || process_condemned(inp, sp, out) {
        return;
    }
    let UpdateStrategy::RollingUpdate {
        partition,
        max_unavailable,
    } = &inp.spec.update_strategy
    else {
        return;
    };
    match inp.update_path {
        UpdatePath::Legacy => legacy_rolling_update(inp, sp, *partition, out),
        UpdatePath::Budget if inp.spec.pod_management == PodManagement::Parallel => {
            parallel_budget_update(inp, sp, *partition, max_unavailable, out)
        }
        UpdatePath::Budget | UpdatePath::BudgetCountingOldPods => {
            budget_update(inp, sp, *partition, max_unavailable, out)
        }
    }
}

/// computeReplicaStatus: the pods looked at, plus the quiet ones (Ready,
/// available, not terminating).
fn replica_status(inp: &Input, sp: &Sparse) -> ReplicaStatus {
    let v = sp.view;
    let mut s = ReplicaStatus {
        replicas: v.quiet,
        ready: v.quiet,
        available: v.quiet,
        current: v.quiet_current,
        updated: v.quiet_updated,
        rollout_complete: false,
    };
    for p in v.loud {
        s.replicas += 1;
        if p.status.running_and_ready() {
            s.ready += 1;
            if inp.available(p) {
                s.available += 1;
            }
        }
        if !p.status.terminating() {
            if p.revision == inp.current_revision {
                s.current += 1;
            }
            if p.revision == inp.update_revision {
                s.updated += 1;
            }
        }
    }
    s
}

/// The slow-start batch (1, 2, 4, … up to 500 replicas) of in-range index `i`.
pub fn batch_of(i: usize) -> usize {
    let (mut start, mut size, mut number) = (0usize, 1usize, 1usize);
    while i >= start + size {
        start += size;
        size = (size * 2).min(500);
        number += 1;
    }
    number
}

/// processReplica over the in-range ordinals the pass looks at (a quiet pod
/// asks for nothing). Returns true when an OrderedReady pass stops.
fn process_replicas(inp: &Input, sp: &Sparse, out: &mut Outcome) -> bool {
    let monotonic = inp.spec.pod_management == PodManagement::OrderedReady;
    for &(i, slot) in &sp.slots {
        // OrderedReady counts no batches: every creation is batch 1.
        let batch = if monotonic { 1 } else { batch_of(i) };
        let stop = match slot {
            Slot::Missing => create_replica(inp, i, batch, out),
            Slot::Pod(p) => process_replica(inp, sp, i, p, out),
            Slot::Outdated(_) => false,
        };
        if monotonic && stop {
            return true;
        }
    }
    false
}

/// processReplica for a present in-range pod (`reconcile::process_replica`).
fn process_replica(inp: &Input, sp: &Sparse, i: usize, p: &ObservedPod, out: &mut Outcome) -> bool {
    let spec = inp.spec;
    let monotonic = spec.pod_management == PodManagement::OrderedReady;
    let ord = spec.ordinals_start + i as u32;
    if super::reconcile::delete_terminal_or_create_claims(inp, ord, p, out) {
        return true;
    }
    if p.status.terminating() {
        return wait_for_terminating(inp, sp, i, p, out);
    }
    if monotonic && (!p.status.running_and_ready() || !inp.available(p)) {
        wait_for_unhealthy(inp, sp, i, p, out);
        return true;
    }
    false
}

/// `reconcile::wait_for_terminating`.
fn wait_for_terminating(
    inp: &Input,
    sp: &Sparse,
    i: usize,
    p: &ObservedPod,
    out: &mut Outcome,
) -> bool {
    let node = p
        .node_problem
        .as_deref()
        .map(|n| format!(": {n}"))
        .unwrap_or_default();
    let waiting = match what_waits(inp, sp, i) {
        Some(w) if inp.spec.pod_management == PodManagement::OrderedReady => format!("; {w}"),
        _ => String::new(),
    };
    let why = format!(
        "{} is Terminating and is not replaced while its object exists (at most one pod per identity){node}{waiting}",
        p.name
    );
    if inp.spec.pod_management == PodManagement::OrderedReady {
        out.blocked = Some(why);
        return true;
    }
    if out.blocked.is_none() {
        out.blocked = Some(why);
    }
    false
}

/// `reconcile::wait_for_unhealthy`.
fn wait_for_unhealthy(inp: &Input, sp: &Sparse, i: usize, p: &ObservedPod, out: &mut Outcome) {
    let spec = inp.spec;
    let Some(what) = what_waits(inp, sp, i) else {
        return;
    };
    let mut why = format!("{what}: {} is {} (OrderedReady)", p.name, inp.state(p));
    let updatable = match &spec.update_strategy {
        UpdateStrategy::RollingUpdate { partition, .. } => {
            p.ordinal >= spec.ordinals_start + *partition
        }
        UpdateStrategy::OnDelete => false,
    };
    if updatable && p.revision != inp.update_revision && !p.status.ready {
        why.push_str(&format!(
            "; {} itself runs outdated revision {}, but the update phase never runs while it is not Ready: delete it by hand (kubernetes#67250)",
            p.name, p.revision
        ));
    }
    out.blocked = Some(why);
}

/// `reconcile::what_waits`.
fn what_waits(inp: &Input, sp: &Sparse, i: usize) -> Option<String> {
    let spec = inp.spec;
    if let Some(j) = sp.missing_after(inp, i) {
        return Some(format!(
            "{} not created",
            spec.pod_name(spec.ordinals_start + j as u32)
        ));
    }
    if let Some(c) = sp.condemned.first() {
        return Some(format!("{} not deleted (scale-down)", c.name));
    }
    if sp.outdated_exists(inp) {
        return Some("rolling update paused".to_string());
    }
    None
}

/// `reconcile::process_condemned`.
fn process_condemned(inp: &Input, sp: &Sparse, out: &mut Outcome) -> bool {
    let spec = inp.spec;
    let monotonic = spec.pod_management == PodManagement::OrderedReady;
    let condemned = &sp.condemned;
    let first_unhealthy: Option<&ObservedPod> = sp
        .slots
        .iter()
        .filter_map(|(_, s)| s.pod())
        .chain(condemned.iter().rev().copied())
        .find(|p| !inp.healthy(p));
    for p in condemned {
        if p.status.terminating() {
            if monotonic {
                if condemned.len() > 1 || sp.outdated_exists(inp) {
                    out.blocked = Some(format!(
                        "scale-down waits: {} is Terminating (OrderedReady removes one pod at a time, highest ordinal first)",
                        p.name
                    ));
                }
                return true;
            }
            continue;
        }
        let is_first = first_unhealthy.is_some_and(|f| f.name == p.name);
        if monotonic && (!p.status.running_and_ready() || !inp.available(p)) && !is_first {
            let f = first_unhealthy.map(|f| f.name.clone()).unwrap_or_default();
            out.blocked = Some(format!(
                "{} not deleted (scale-down): it is {} and {} is the first unhealthy pod (OrderedReady)",
                p.name,
                inp.state(p),
                f
            ));
            return true;
        }
        out.actions.push(Action::DeletePod {
            name: p.name.to_string(),
            cause: DeleteCause::ScaleDown,
            reason: scale_down_reason(spec, &p.name, monotonic),
        });
        if monotonic {
            return true;
        }
    }
    false
}

/// `reconcile::legacy_rolling_update`: from the highest ordinal down, the
/// first slot that is not a quiet updated pod decides.
fn legacy_rolling_update(inp: &Input, sp: &Sparse, partition: u32, out: &mut Outcome) {
    for &(i, slot) in sp.slots.iter().rev() {
        if i < partition as usize {
            break;
        }
        let p = slot.pod();
        if let Some(p) = p
            && p.revision != inp.update_revision
            && !p.status.terminating()
        {
            let unready = match unavailable_state(inp, i, Some(p)) {
                Some(state) => format!("; it is deleted although {state}"),
                None => String::new(),
            };
            out.actions.push(Action::DeletePod {
                name: p.name.to_string(),
                cause: DeleteCause::Update,
                reason: format!(
                    "rolling update: {} runs revision {}, the update revision is {} (one pod at a time, highest ordinal first, down to partition {}: MaxUnavailableStatefulSet is off){unready}",
                    p.name, p.revision, inp.update_revision, partition
                ),
            });
            return;
        }
        if let Some(state) = unavailable_state(inp, i, p) {
            if sp.outdated_exists(inp) {
                out.blocked = Some(format!(
                    "rolling update waits: {state}; MaxUnavailableStatefulSet is off, so the update goes one pod at a time and waits for each updated pod to be available"
                ));
            }
            return;
        }
    }
}

/// Why each unavailable in-range pod is (quiet pods are available).
fn unavailable(inp: &Input, sp: &Sparse) -> Vec<String> {
    sp.slots
        .iter()
        .filter_map(|&(i, s)| unavailable_state(inp, i, s.pod()))
        .collect()
}

/// Why a rolling update waits for its budget: the unavailable pods, named.
fn budget_waits(inp: &Input, sp: &Sparse, max: u32) -> String {
    let unavailable = unavailable(inp, sp);
    format!(
        "rolling update waits: {} unavailable ({}) and maxUnavailable is {}",
        unavailable.len(),
        unavailable.join(", "),
        max
    )
}

/// How many in-range slots are unavailable: `unavailable(..).len()` without
/// writing why, which only a blocked pass says (a Parallel scale-up has
/// thousands of them at every pass).
fn unavailable_count(inp: &Input, sp: &Sparse) -> u32 {
    sp.slots
        .iter()
        .filter(|&&(_, s)| super::reconcile::is_unavailable(inp, s.pod()))
        .count() as u32
}

/// `reconcile::old_unavailable`: outdated, not terminating, unavailable.
fn old_unavailable<'p>(
    inp: &'p Input,
    sp: &'p Sparse<'p>,
) -> impl Iterator<Item = &'p ObservedPod<'p>> {
    sp.slots.iter().filter_map(|(_, s)| s.pod()).filter(|p| {
        p.revision != inp.update_revision && !p.status.terminating() && !inp.available(p)
    })
}

/// `reconcile::budget_update`.
fn budget_update(
    inp: &Input,
    sp: &Sparse,
    partition: u32,
    max_unavailable: &IntOrPercent,
    out: &mut Outcome,
) {
    let max = max_unavailable.scaled_at_least_one(inp.spec.replicas);
    let n_unavailable = unavailable_count(inp, sp);
    let outdated = sp.outdated_exists(inp);
    if n_unavailable >= max {
        if outdated {
            let mut why = budget_waits(inp, sp, max);
            if inp.spec.pod_management == PodManagement::Parallel
                && old_unavailable(inp, sp).next().is_some()
            {
                why.push_str("; an unavailable pod of the old revision counts against the budget, so it is never replaced (kubernetes#137409, fixed in 1.37)");
            }
            out.blocked = Some(why);
        }
        return;
    }
    let budget = max - n_unavailable;
    delete_outdated(inp, sp, partition, budget, |_| true, max, out);
}

/// `reconcile::delete_outdated`, over the slots from the highest down.
fn delete_outdated(
    inp: &Input,
    sp: &Sparse,
    partition: u32,
    mut budget: u32,
    pick: impl Fn(&ObservedPod) -> bool,
    max: u32,
    out: &mut Outcome,
) {
    for &(i, slot) in sp.slots.iter().rev() {
        if budget == 0 || i < partition as usize {
            break;
        }
        let Some(p) = slot.pod() else { continue };
        if p.revision != inp.update_revision && !p.status.terminating() && pick(p) {
            let unready = if inp.available(p) {
                String::new()
            } else {
                format!("; it is {} already", inp.state(p))
            };
            out.actions.push(Action::DeletePod {
                name: p.name.to_string(),
                cause: DeleteCause::Update,
                reason: format!(
                    "rolling update: {} runs revision {}, the update revision is {} (highest ordinal at or above partition {} first, maxUnavailable {}){unready}",
                    p.name, p.revision, inp.update_revision, partition, max
                ),
            });
            budget -= 1;
        }
    }
}

/// `reconcile::parallel_budget_update`.
fn parallel_budget_update(
    inp: &Input,
    sp: &Sparse,
    partition: u32,
    max_unavailable: &IntOrPercent,
    out: &mut Outcome,
) {
    let max = max_unavailable.scaled_at_least_one(inp.spec.replicas);
    let n_unavailable = unavailable_count(inp, sp);
    let needing_update = old_unavailable(inp, sp).count();
    if n_unavailable >= max && needing_update == 0 {
        if sp.outdated_exists(inp) {
            out.blocked = Some(budget_waits(inp, sp, max));
        }
        return;
    }
    delete_outdated(inp, sp, partition, max, |p| !inp.available(p), max, out);
    let budget = max.saturating_sub(n_unavailable);
    delete_outdated(inp, sp, partition, budget, |p| inp.available(p), max, out);
    if out.actions.is_empty() && sp.outdated_exists(inp) {
        out.blocked = Some(budget_waits(inp, sp, max));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::controllers::reconcile::{self, ObservedClaim};
    use crate::sim::controllers::statefulset_view::{Basis, SetView};
    use bevy::ecs::entity::Entity;
    use proptest::prelude::*;
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    /// One pod of a generated case: (ordinal, revision, phase, ready,
    /// ready since, terminating).
    type PodCase = (u32, usize, usize, bool, u64, bool);

    fn status(c: &PodCase, now: u64) -> PodStatus {
        let phases = [
            PodPhase::Pending,
            PodPhase::ContainerCreating,
            PodPhase::Running,
            PodPhase::Running,
            PodPhase::Running,
            PodPhase::Failed,
            PodPhase::Succeeded,
        ];
        let mut s = PodStatus::new();
        s.phase = phases[c.2 % phases.len()];
        s.ready = c.3 && s.phase == PodPhase::Running;
        s.ready_since_ms = s.ready.then_some(c.4 % (now + 1));
        s.deletion_ms = c.5.then_some(1);
        s
    }

    #[allow(clippy::too_many_arguments)]
    fn spec(
        replicas: u32,
        parallel: bool,
        start: u32,
        on_delete: bool,
        partition: u32,
        max_unavailable: u32,
        min_ready: bool,
    ) -> StatefulSetSpec {
        let pm = if parallel {
            PodManagement::Parallel
        } else {
            PodManagement::OrderedReady
        };
        let mut s = reconcile::tests::spec(replicas, pm);
        s.ordinals_start = start;
        s.min_ready_seconds = if min_ready { 10 } else { 0 };
        s.update_strategy = if on_delete {
            UpdateStrategy::OnDelete
        } else {
            UpdateStrategy::RollingUpdate {
                partition,
                max_unavailable: IntOrPercent::Int(max_unavailable),
            }
        };
        s
    }

    fn input<'a>(
        spec: &'a StatefulSetSpec,
        claims: &'a BTreeMap<String, ObservedClaim>,
        pods: &'a [ObservedPod<'a>],
        update_revision: &'a str,
        now: u64,
        update_path: UpdatePath,
    ) -> reconcile::Input<'a> {
        reconcile::Input {
            spec,
            deleting: false,
            current_revision: "r1",
            update_revision,
            pods,
            claims,
            now,
            update_path,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Whatever the set and its pods, the pass over the sparse view (built
        /// by the controller's index) decides what the pass over every pod
        /// decides: the same actions with the same reasons, status, blocked
        /// message and wake-up.
        #[test]
        fn the_sparse_pass_decides_what_the_full_pass_decides(
            shape in (0u32..9, proptest::bool::ANY, 0u32..3, proptest::bool::weighted(0.15), 0u32..4, 1u32..4, proptest::bool::ANY),
            ordinals in proptest::collection::btree_set(0u32..13, 0..12),
            cases in proptest::collection::vec((0usize..3, 0usize..7, proptest::bool::weighted(0.7), 0u64..40_000, proptest::bool::weighted(0.15)), 13),
            claims in proptest::collection::btree_map(0u32..13, proptest::bool::weighted(0.2), 0..8),
            (now, updating, path) in (0u64..40_000, proptest::bool::ANY, 0usize..3),
        ) {
            let (replicas, parallel, start, on_delete, partition, max_unavailable, min_ready) = shape;
            let spec = spec(replicas, parallel, start, on_delete, partition, max_unavailable, min_ready);
            let revisions = ["r1", "r2", "r3"];
            let update_revision = if updating { "r2" } else { "r1" };
            let pods: Vec<PodCase> = ordinals
                .iter()
                .map(|&o| {
                    let c = cases[o as usize];
                    (o, c.0, c.1, c.2, c.3, c.4)
                })
                .collect();
            let statuses: Vec<PodStatus> = pods.iter().map(|c| status(c, now)).collect();
            let observed: Vec<ObservedPod> = pods
                .iter()
                .zip(&statuses)
                .map(|(c, s)| ObservedPod {
                    name: Cow::Owned(spec.pod_name(c.0)),
                    uid: Cow::Owned(format!("uid-{}", c.0)),
                    ordinal: c.0,
                    revision: Cow::Borrowed(revisions[c.1]),
                    status: s,
                    node_problem: None,
                })
                .collect();
            let claims: BTreeMap<String, ObservedClaim> = claims
                .iter()
                .map(|(&o, &deleting)| {
                    (
                        spec.claim_name("www", o),
                        ObservedClaim {
                            ordinal: Some(o),
                            deleting,
                            ..Default::default()
                        },
                    )
                })
                .collect();
            let update_path = [UpdatePath::Legacy, UpdatePath::BudgetCountingOldPods, UpdatePath::Budget][path];
            let full = reconcile::reconcile(&input(&spec, &claims, &observed, update_revision, now, update_path));

            // The view as the controller's index gives it.
            let mut view = SetView::new(Basis {
                start: spec.ordinals_start,
                end: spec.end_ordinal(),
                min_ready_ms: spec.min_ready_seconds as u64 * 1000,
                update_revision: update_revision.to_string(),
            });
            let entity = |i: usize| Entity::from_raw_u32(i as u32 + 1).unwrap_or(Entity::PLACEHOLDER);
            for (i, p) in observed.iter().enumerate() {
                view.put(entity(i), p.ordinal, &p.revision, is_quiet(&spec, p.ordinal, p.status, now));
            }
            let pick = |es: Vec<Entity>| -> Vec<ObservedPod> {
                es.iter()
                    .filter_map(|&e| (0..observed.len()).find(|&i| entity(i) == e))
                    .map(|i| observed[i].clone())
                    .collect()
            };
            let loud = pick(view.loud().collect());
            let top = pick(view.outdated_top(
                spec.ordinals_start + partition_index(&spec),
                outdated_needed(&spec),
            ));
            let missing = view.missing(missing_needed(&spec));
            let (quiet, quiet_current, quiet_updated) = view.quiet_counts("r1");
            let sparse = reconcile(
                &input(&spec, &claims, &loud, update_revision, now, update_path),
                &View {
                    loud: &loud,
                    missing: &missing,
                    outdated_top: &top,
                    quiet,
                    quiet_current,
                    quiet_updated,
                },
            );
            prop_assert_eq!(format!("{:?}", sparse), format!("{:?}", full));
        }
    }

    #[test]
    fn slow_start_batches_double_up_to_five_hundred() {
        assert_eq!(batch_of(0), 1);
        assert_eq!((batch_of(1), batch_of(2), batch_of(3)), (2, 2, 3));
        // 1 + 2 + … + 256 = 511 replicas in the first nine batches, then 500 each.
        assert_eq!((batch_of(510), batch_of(511)), (9, 10));
        assert_eq!((batch_of(1010), batch_of(1011)), (10, 11));
    }
}
