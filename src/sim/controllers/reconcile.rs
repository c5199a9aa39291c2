//! The StatefulSet reconcile pass as a pure function: (spec, observed pods and
//! claims, now) → actions with reasons. Follows `updateStatefulSet` in
//! pkg/controller/statefulset/stateful_set_control.go.

use crate::sim::model::{
    PodManagement, PodPhase, PodStatus, RetentionAction, StatefulSetSpec, UpdateStrategy,
};
pub use crate::sim::version::UpdatePath;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// What the controller sees of one pod.
#[derive(Debug, Clone)]
pub struct ObservedPod<'a> {
    pub name: Cow<'a, str>,
    /// metadata.uid: a claim's ownerReference names the pod by it.
    pub uid: Cow<'a, str>,
    pub ordinal: u32,
    pub revision: Cow<'a, str>,
    pub status: &'a PodStatus,
    /// Why the pod's node cannot confirm a deletion (unreachable or deleted),
    /// for the "why is it not replaced" reason; None when the node is fine.
    pub node_problem: Option<String>,
}

/// What the controller sees of one claim of this set.
#[derive(Debug, Clone, Default)]
pub struct ObservedClaim {
    pub ordinal: Option<u32>,
    /// Deletion has been requested (the claim is terminating).
    pub deleting: bool,
    /// The uid of the pod its ownerReference names, if any (whenScaled=Delete).
    pub owner_pod_uid: Option<String>,
    /// It has an ownerReference to the set (whenDeleted=Delete).
    pub owned_by_set: bool,
}

/// Why the controller deletes a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteCause {
    /// Phase Failed or Succeeded: recreated with the same name and claim.
    Terminal,
    /// Out of range after a scale-down.
    ScaleDown,
    /// Outdated revision during a rolling update.
    Update,
    /// The set itself is being deleted.
    SetDeleted,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateClaim {
        name: String,
        template: String,
        ordinal: u32,
        reason: String,
    },
    CreatePod {
        ordinal: u32,
        revision: String,
        reason: String,
    },
    DeletePod {
        name: String,
        cause: DeleteCause,
        reason: String,
    },
    /// whenScaled / whenDeleted = Delete.
    DeleteClaim {
        name: String,
        when_deleted: bool,
        reason: String,
    },
    /// Sets the claim's ownerReferences to the retention policy's: the set
    /// (`set`), and/or the pod `pod` = (name, uid) it belongs to.
    SetClaimOwners {
        name: String,
        set: bool,
        pod: Option<(String, String)>,
    },
}

/// The status block computed from the observed pods (computeReplicaStatus).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaStatus {
    pub replicas: u32,
    pub ready: u32,
    pub available: u32,
    pub current: u32,
    pub updated: u32,
    /// completeRollingUpdate: the rollout is done, current := update.
    pub rollout_complete: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub actions: Vec<Action>,
    /// The pass stopped with something left waiting, and why.
    pub blocked: Option<String>,
    pub status: ReplicaStatus,
    /// The earliest future instant at which a pod becomes available (minReadySeconds).
    pub wake_ms: Option<u64>,
}

/// Inputs of one pass.
pub struct Input<'a> {
    pub spec: &'a StatefulSetSpec,
    pub deleting: bool,
    pub current_revision: &'a str,
    pub update_revision: &'a str,
    pub pods: &'a [ObservedPod<'a>],
    /// Claims of this set by name.
    pub claims: &'a BTreeMap<String, ObservedClaim>,
    pub now: u64,
    /// How RollingUpdate picks pods: the release and its
    /// MaxUnavailableStatefulSet gate decide (docs/semantics.md §3.9).
    pub update_path: UpdatePath,
}

impl Input<'_> {
    fn min_ready_ms(&self) -> u64 {
        self.spec.min_ready_seconds as u64 * 1000
    }
    pub(super) fn healthy(&self, p: &ObservedPod) -> bool {
        // isHealthy: running and ready and not terminating.
        p.status.running_and_ready() && !p.status.terminating()
    }
    pub(super) fn available(&self, p: &ObservedPod) -> bool {
        p.status.available(self.now, self.min_ready_ms())
    }
    pub(super) fn state(&self, p: &ObservedPod) -> String {
        crate::sim::ops::describe_state(p.status, self.now, self.min_ready_ms())
    }
    /// newVersionedStatefulSetPod / isCurrentRevisionNeeded: pods below the
    /// partition come back at the current revision.
    fn revision_for(&self, ordinal: u32) -> &str {
        match &self.spec.update_strategy {
            UpdateStrategy::RollingUpdate { partition, .. }
                if ordinal < self.spec.ordinals_start + partition =>
            {
                self.current_revision
            }
            _ => self.update_revision,
        }
    }
}

/// One reconcile pass of one StatefulSet.
pub fn reconcile(inp: &Input) -> Outcome {
    let mut out = reconcile_pass(inp);
    complete_rolling_update(inp, &mut out.status, &out.actions);
    out
}

fn reconcile_pass(inp: &Input) -> Outcome {
    let mut out = Outcome::default();
    // 1. Sort pods into in-range replicas and condemned (highest ordinal first).
    let (replicas, condemned) = split_replicas(inp);
    out.status = replica_status(inp, &replicas, &condemned);
    out.wake_ms = next_availability(inp);

    if inp.deleting {
        delete_everything(inp, &mut out);
        return out;
    }
    // Ownership first, as updateStatefulSet does for the condemned pods.
    update_claim_owners(inp, &mut out);
    collect_orphaned_claims(inp, &mut out);
    // 2. In-range ordinals, ascending (processReplica).
    if process_replicas(inp, &replicas, &mut out) {
        return out;
    }
    // 3. Condemned pods, highest ordinal first (processCondemned).
    if process_condemned(inp, &replicas, &condemned, &mut out) {
        return out;
    }
    // 5. Updates, only if the pass was not stopped.
    let UpdateStrategy::RollingUpdate {
        partition,
        max_unavailable,
    } = &inp.spec.update_strategy
    else {
        // OnDelete: pods are updated only when users delete them.
        return out;
    };
    rolling_update(inp, &replicas, *partition, max_unavailable, &mut out);
    out
}

/// In-range replicas by index (None where missing), and the condemned pods
/// (out of range), highest ordinal first.
fn split_replicas<'p>(
    inp: &'p Input,
) -> (Vec<Option<&'p ObservedPod<'p>>>, Vec<&'p ObservedPod<'p>>) {
    let spec = inp.spec;
    let (start, end) = (spec.ordinals_start, spec.end_ordinal());
    let mut replicas: Vec<Option<&ObservedPod>> = vec![None; spec.replicas as usize];
    let mut condemned: Vec<&ObservedPod> = Vec::new();
    for p in inp.pods {
        if p.ordinal >= start && p.ordinal < end {
            replicas[(p.ordinal - start) as usize] = Some(p);
        } else {
            condemned.push(p);
        }
    }
    condemned.sort_by_key(|p| std::cmp::Reverse(p.ordinal));
    (replicas, condemned)
}

/// The earliest future instant at which a Ready pod becomes available
/// (minReadySeconds after it became Ready).
pub(super) fn next_availability(inp: &Input) -> Option<u64> {
    let mut wake: Option<u64> = None;
    for p in inp.pods {
        if p.status.running_and_ready()
            && let Some(s) = p.status.ready_since_ms
        {
            let at = s + inp.min_ready_ms();
            if at > inp.now {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
        }
    }
    wake
}

/// The set is being deleted: the garbage collector removes every pod at once
/// (background cascading deletion), not in order, and whenDeleted=Delete
/// claims with them.
fn delete_everything(inp: &Input, out: &mut Outcome) {
    let spec = inp.spec;
    for p in inp.pods {
        if !p.status.terminating() {
            out.actions.push(Action::DeletePod {
                name: p.name.to_string(),
                cause: DeleteCause::SetDeleted,
                reason: format!(
                    "statefulset/{} was deleted: the garbage collector deletes its pods",
                    spec.name
                ),
            });
        }
    }
    if spec.retention.when_deleted == RetentionAction::Delete {
        for (name, c) in inp.claims {
            if !c.deleting {
                out.actions.push(Action::DeleteClaim {
                    name: name.clone(),
                    when_deleted: true,
                    reason: format!(
                        "persistentVolumeClaimRetentionPolicy.whenDeleted=Delete: statefulset/{} was deleted",
                        spec.name
                    ),
                });
            }
        }
    }
}

/// The ownerReferences the retention policy wants on a claim of `pod`:
/// (the set, the pod). A condemned pod (out of range) owns its claims under
/// whenScaled=Delete; otherwise the set owns them under whenDeleted=Delete.
/// (stateful_set_utils.go `claimOwnerMatchesSetAndPod`,
/// `updateClaimOwnerRefForSetAndPod`.)
pub fn wanted_claim_owners(spec: &StatefulSetSpec, scaled_down: bool) -> (bool, bool) {
    let scaled = spec.retention.when_scaled == RetentionAction::Delete;
    let deleted = spec.retention.when_deleted == RetentionAction::Delete;
    (deleted && !(scaled && scaled_down), scaled && scaled_down)
}

/// whenScaled=Delete: the claims of every condemned pod (even a terminating
/// one) get the pod as owner; the claims of an in-range pod that is not
/// terminating lose it (a scale-up before the pod was deleted). A
/// terminating in-range pod is left alone: processReplica returns before
/// fixing its claims. (stateful_set_control.go `updateStatefulSet`, the
/// condemned loop; `processReplica`, `ClaimsMatchRetentionPolicy`.)
fn update_claim_owners(inp: &Input, out: &mut Outcome) {
    let spec = inp.spec;
    if spec.retention.when_scaled != RetentionAction::Delete {
        return;
    }
    let (start, end) = (spec.ordinals_start, spec.end_ordinal());
    for p in inp.pods {
        let scaled_down = p.ordinal < start || p.ordinal >= end;
        if !scaled_down && p.status.terminating() {
            continue;
        }
        let (set, pod) = wanted_claim_owners(spec, scaled_down);
        let pod_uid = pod.then(|| p.uid.to_string());
        for ct in &spec.claims {
            let name = spec.claim_name(&ct.name, p.ordinal);
            let Some(c) = inp.claims.get(&name) else {
                continue;
            };
            if c.deleting || (c.owned_by_set == set && c.owner_pod_uid == pod_uid) {
                continue;
            }
            out.actions.push(Action::SetClaimOwners {
                name,
                set,
                pod: pod_uid.clone().map(|u| (p.name.to_string(), u)),
            });
        }
    }
}

/// The garbage collector: a claim owned only by a pod that no longer exists
/// (no pod with that uid) is deleted. With whenScaled=Delete this is how the
/// claims of a scaled-down ordinal go once its pod is gone, even if the set
/// was scaled up again meanwhile (kubernetes.io garbage collection; upstream
/// test `TestStaleOwnerRefOnScaleup`).
pub(super) fn collect_orphaned_claims(inp: &Input, out: &mut Outcome) {
    for (name, c) in inp.claims {
        let Some(uid) = &c.owner_pod_uid else {
            continue;
        };
        if c.deleting || c.owned_by_set || inp.pods.iter().any(|p| p.uid == uid.as_str()) {
            continue;
        }
        let pod = c.ordinal.map(|o| inp.spec.pod_name(o)).unwrap_or_default();
        out.actions.push(Action::DeleteClaim {
            name: name.clone(),
            when_deleted: false,
            reason: format!(
                "garbage collector: its owner, pod {pod} (uid {}), is gone (persistentVolumeClaimRetentionPolicy.whenScaled=Delete made the condemned pod its owner)",
                &uid[..8.min(uid.len())]
            ),
        });
    }
}

/// Slow-start batches of a Parallel pass (slowStartBatch): 1, 2, 4, … up to
/// 500. Every batch succeeds here, so a Parallel pass reaches them all.
struct SlowStart {
    size: usize,
    left: usize,
    number: usize,
}

impl SlowStart {
    fn new() -> Self {
        SlowStart {
            size: 1,
            left: 1,
            number: 1,
        }
    }
    /// Counts one replica into the current batch.
    fn count_one(&mut self) {
        self.left -= 1;
        if self.left == 0 {
            self.size = (self.size * 2).min(500);
            self.left = self.size;
            self.number += 1;
        }
    }
}

/// processReplica for each in-range ordinal, ascending. Returns true when an
/// OrderedReady pass stops.
fn process_replicas(inp: &Input, replicas: &[Option<&ObservedPod>], out: &mut Outcome) -> bool {
    let monotonic = inp.spec.pod_management == PodManagement::OrderedReady;
    let mut batch = SlowStart::new();
    for i in 0..replicas.len() {
        let stop = process_replica(inp, replicas, i, batch.number, out);
        if !monotonic {
            batch.count_one();
        }
        if monotonic && stop {
            return true;
        }
    }
    false
}

/// processCondemned: out-of-range pods, highest ordinal first. Returns true
/// when the pass stops.
fn process_condemned(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    condemned: &[&ObservedPod],
    out: &mut Outcome,
) -> bool {
    let spec = inp.spec;
    let monotonic = spec.pod_management == PodManagement::OrderedReady;
    // The first unhealthy pod: in-range ascending, then condemned ascending.
    let first_unhealthy: Option<&ObservedPod> = replicas
        .iter()
        .flatten()
        .copied()
        .chain(condemned.iter().rev().copied())
        .find(|p| !inp.healthy(p));
    for p in condemned {
        if p.status.terminating() {
            if monotonic {
                if condemned.len() > 1 || outdated_exists(inp, replicas) {
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

pub(super) fn scale_down_reason(spec: &StatefulSetSpec, pod: &str, monotonic: bool) -> String {
    if monotonic {
        format!(
            "scale-down to {}: {pod} has the highest ordinal (OrderedReady deletes one at a time, highest first)",
            spec.replicas
        )
    } else {
        format!(
            "scale-down to {}: {pod} is out of range (Parallel deletes without waiting)",
            spec.replicas
        )
    }
}

/// processReplica's first steps for a present pod, shared by the full and
/// the sparse pass: a terminal pod is deleted so it is recreated (true: this
/// replica is done for the pass); a Pending pod gets its missing claims
/// (createMissingPersistentVolumeClaims).
pub(super) fn delete_terminal_or_create_claims(
    inp: &Input,
    ord: u32,
    p: &ObservedPod,
    out: &mut Outcome,
) -> bool {
    let spec = inp.spec;
    if p.status.terminal() {
        if !p.status.terminating() {
            out.actions.push(Action::DeletePod {
                name: p.name.to_string(),
                cause: DeleteCause::Terminal,
                reason: format!(
                    "{} is {}: deleted so it is recreated with the same name and claim",
                    p.name,
                    p.status.phase.name()
                ),
            });
        }
        return true;
    }
    if matches!(
        p.status.phase,
        PodPhase::Pending | PodPhase::ContainerCreating
    ) {
        // createMissingPersistentVolumeClaims for pending pods.
        for ct in &spec.claims {
            let cname = spec.claim_name(&ct.name, ord);
            if !inp.claims.contains_key(&cname) {
                out.actions.push(Action::CreateClaim {
                    name: cname,
                    template: ct.name.clone(),
                    ordinal: ord,
                    reason: format!("{} is Pending and its claim is missing", p.name),
                });
            }
        }
    }
    false
}

/// processReplica for in-range replica `i`. Returns true when an
/// OrderedReady pass must stop here.
fn process_replica(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    i: usize,
    batch_no: usize,
    out: &mut Outcome,
) -> bool {
    let spec = inp.spec;
    let monotonic = spec.pod_management == PodManagement::OrderedReady;
    let ord = spec.ordinals_start + i as u32;
    let Some(p) = replicas[i] else {
        return create_replica(inp, i, batch_no, out);
    };
    if delete_terminal_or_create_claims(inp, ord, p, out) {
        return true;
    }
    if p.status.terminating() {
        return wait_for_terminating(inp, replicas, i, p, out);
    }
    if monotonic && (!p.status.running_and_ready() || !inp.available(p)) {
        wait_for_unhealthy(inp, replicas, i, p, out);
        return true;
    }
    false
}

/// A missing replica: its claims first (unless one is still being deleted),
/// then the pod. Returns true when an OrderedReady pass stops here.
pub(super) fn create_replica(inp: &Input, i: usize, batch_no: usize, out: &mut Outcome) -> bool {
    let spec = inp.spec;
    let monotonic = spec.pod_management == PodManagement::OrderedReady;
    let ord = spec.ordinals_start + i as u32;
    let name = spec.pod_name(ord);
    if let Some((cname, why)) = spec.claims.iter().find_map(|ct| {
        let cname = spec.claim_name(&ct.name, ord);
        let why = stale_claim(spec, inp.claims.get(&cname)?)?;
        Some((cname, why))
    }) {
        // PodClaimIsStale: no more work this round.
        if monotonic {
            out.blocked = Some(format!("{name} not created: its claim {cname} {why}"));
            return true;
        }
        return false;
    }
    let mut reused = Vec::new();
    for ct in &spec.claims {
        let cname = spec.claim_name(&ct.name, ord);
        if inp.claims.contains_key(&cname) {
            reused.push(cname);
        } else {
            out.actions.push(Action::CreateClaim {
                name: cname.clone(),
                template: ct.name.clone(),
                ordinal: ord,
                reason: format!(
                    "volumeClaimTemplate {} for {name}: claims are created before their pod and never deleted with it",
                    ct.name
                ),
            });
        }
    }
    let mut reason = create_reason(spec, i, batch_no);
    if !reused.is_empty() {
        reason.push_str(&format!(
            "; reuses existing claim {} (stable storage)",
            reused.join(", ")
        ));
    }
    out.actions.push(Action::CreatePod {
        ordinal: ord,
        revision: inp.revision_for(ord).to_string(),
        reason,
    });
    monotonic
}

/// Why a claim blocks the creation of its (missing) pod, if it does: it is
/// being deleted, or under whenScaled=Delete it still names an earlier pod
/// as owner, which the new pod (with a new uid) cannot match. (stateful_pod_control.go
/// `PodClaimIsStale`, `hasStaleOwnerRef`.)
fn stale_claim(spec: &StatefulSetSpec, c: &ObservedClaim) -> Option<String> {
    if c.deleting {
        return Some("is still being deleted (stale claim)".into());
    }
    if spec.retention.when_scaled == RetentionAction::Retain {
        return None;
    }
    let uid = c.owner_pod_uid.as_ref()?;
    Some(format!(
        "is still owned by the earlier pod (uid {}): the garbage collector deletes it and a new, empty claim is made (stale claim, whenScaled=Delete)",
        &uid[..8.min(uid.len())]
    ))
}

/// Why replica `i` is created now.
fn create_reason(spec: &StatefulSetSpec, i: usize, batch_no: usize) -> String {
    let ord = spec.ordinals_start + i as u32;
    let name = spec.pod_name(ord);
    if spec.pod_management == PodManagement::Parallel {
        format!("{name} created in slow-start batch {batch_no} (Parallel: no waiting)")
    } else if i == 0 {
        format!("{name} is ordinal {ord}, the first (OrderedReady creates in order)")
    } else {
        format!(
            "{} is Running and Ready, so {name} comes next (OrderedReady)",
            spec.pod_name(ord - 1)
        )
    }
}

/// A terminating replica is not replaced while its object exists, whatever
/// the policy. Returns true when an OrderedReady pass stops here.
fn wait_for_terminating(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    i: usize,
    p: &ObservedPod,
    out: &mut Outcome,
) -> bool {
    // processReplica (stateful_set_control.go) only sees isTerminating; the
    // node part says why the deletion is not confirmed.
    let node = p
        .node_problem
        .as_deref()
        .map(|n| format!(": {n}"))
        .unwrap_or_default();
    let why = format!(
        "{} is Terminating and is not replaced while its object exists (at most one pod per identity){node}{}",
        p.name,
        waiting_part(inp, replicas, i)
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

/// An OrderedReady pass stops at a replica that is not Running and Ready (or
/// not yet available): says what waits for it.
fn wait_for_unhealthy(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    i: usize,
    p: &ObservedPod,
    out: &mut Outcome,
) {
    let spec = inp.spec;
    let Some(what) = what_waits(inp, replicas, i) else {
        return;
    };
    let mut why = format!("{what}: {} is {} (OrderedReady)", p.name, inp.state(p));
    // kubernetes#67250: the blocking pod is itself outdated, but the
    // pass stops here, before the update phase (updateStatefulSet
    // returns while a replica is unhealthy), so nothing replaces it.
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

/// "; web-2 waits" style suffix for a terminating pod's message.
fn waiting_part(inp: &Input, replicas: &[Option<&ObservedPod>], i: usize) -> String {
    match what_waits(inp, replicas, i) {
        Some(w) if inp.spec.pod_management == PodManagement::OrderedReady => format!("; {w}"),
        _ => String::new(),
    }
}

/// What an OrderedReady pass stopped at replica `i` leaves undone.
fn what_waits(inp: &Input, replicas: &[Option<&ObservedPod>], i: usize) -> Option<String> {
    let spec = inp.spec;
    if let Some(j) = (i + 1..replicas.len()).find(|&j| replicas[j].is_none()) {
        return Some(format!(
            "{} not created",
            spec.pod_name(spec.ordinals_start + j as u32)
        ));
    }
    let condemned = inp
        .pods
        .iter()
        .filter(|p| p.ordinal < spec.ordinals_start || p.ordinal >= spec.end_ordinal())
        .max_by_key(|p| p.ordinal);
    if let Some(c) = condemned {
        return Some(format!("{} not deleted (scale-down)", c.name));
    }
    if outdated_exists(inp, replicas) {
        return Some("rolling update paused".to_string());
    }
    None
}

fn outdated_exists(inp: &Input, replicas: &[Option<&ObservedPod>]) -> bool {
    let partition = match &inp.spec.update_strategy {
        UpdateStrategy::RollingUpdate { partition, .. } => *partition as usize,
        UpdateStrategy::OnDelete => return false,
    };
    replicas
        .iter()
        .enumerate()
        .any(|(i, p)| i >= partition && p.is_some_and(|p| p.revision != inp.update_revision))
}

/// The rolling update phase, by the release's update path.
fn rolling_update(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    partition: u32,
    max_unavailable: &crate::sim::model::IntOrPercent,
    out: &mut Outcome,
) {
    match inp.update_path {
        UpdatePath::Legacy => legacy_rolling_update(inp, replicas, partition, out),
        UpdatePath::Budget if inp.spec.pod_management == PodManagement::Parallel => {
            parallel_budget_update(inp, replicas, partition, max_unavailable, out)
        }
        UpdatePath::Budget | UpdatePath::BudgetCountingOldPods => {
            budget_update(inp, replicas, partition, max_unavailable, out)
        }
    }
}

/// Whether the pod at an in-range index counts as unavailable
/// (isUnavailable): a missing one does, and a Terminating one, though it
/// stays Ready.
pub(super) fn is_unavailable(inp: &Input, p: Option<&ObservedPod>) -> bool {
    p.is_none_or(|p| p.status.unavailable(inp.now, inp.min_ready_ms()))
}

/// Why a pod is unavailable, or None when it is available (isUnavailable).
pub(super) fn unavailable_state(inp: &Input, i: usize, p: Option<&ObservedPod>) -> Option<String> {
    if !is_unavailable(inp, p) {
        return None;
    }
    match p {
        Some(p) => Some(format!("{} is {}", p.name, inp.state(p))),
        None => Some(format!(
            "{} is missing",
            inp.spec.pod_name(inp.spec.ordinals_start + i as u32)
        )),
    }
}

/// MaxUnavailableStatefulSet off: the loop at the end of `updateStatefulSet`
/// (stateful_set_control.go). From the highest ordinal down to the
/// partition: the first outdated pod that is not terminating is deleted,
/// available or not, and the pass ends; an updated pod that is not
/// available stops it. Ordinals below the partition are not looked at.
fn legacy_rolling_update(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    partition: u32,
    out: &mut Outcome,
) {
    for i in (partition as usize..replicas.len()).rev() {
        if let Some(p) = replicas[i]
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
        if let Some(state) = unavailable_state(inp, i, replicas[i]) {
            if outdated_exists(inp, replicas) {
                out.blocked = Some(format!(
                    "rolling update waits: {state}; MaxUnavailableStatefulSet is off, so the update goes one pod at a time and waits for each updated pod to be available"
                ));
            }
            return;
        }
    }
}

/// MaxUnavailableStatefulSet on: `updateStatefulSetAfterInvariantEstablished`
/// (stateful_set_control.go). Unavailable pods are counted over every
/// in-range ordinal; up to (maxUnavailable − unavailable) outdated pods at
/// or above the partition are deleted, highest ordinal first. Before 1.37
/// (and under OrderedReady after) an unavailable pod of the old revision
/// counts against the budget like any other (kubernetes#137409).
fn budget_update(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    partition: u32,
    max_unavailable: &crate::sim::model::IntOrPercent,
    out: &mut Outcome,
) {
    let max = max_unavailable.scaled_at_least_one(inp.spec.replicas);
    let unavailable: Vec<String> = (0..replicas.len())
        .filter_map(|i| unavailable_state(inp, i, replicas[i]))
        .collect();
    let outdated = outdated_exists(inp, replicas);
    if unavailable.len() as u32 >= max {
        if outdated {
            let mut why = format!(
                "rolling update waits: {} unavailable ({}) and maxUnavailable is {}",
                unavailable.len(),
                unavailable.join(", "),
                max
            );
            if inp.spec.pod_management == PodManagement::Parallel
                && old_unavailable(inp, replicas).next().is_some()
            {
                why.push_str("; an unavailable pod of the old revision counts against the budget, so it is never replaced (kubernetes#137409, fixed in 1.37)");
            }
            out.blocked = Some(why);
        }
        return;
    }
    let budget = max - unavailable.len() as u32;
    delete_outdated(inp, replicas, partition, budget, |_| true, max, out);
}

/// Outdated, not terminating, unavailable pods at any in-range ordinal:
/// `unavailablePodsNeedingUpdate` of kubernetes#137666.
fn old_unavailable<'p>(
    inp: &'p Input,
    replicas: &'p [Option<&'p ObservedPod<'p>>],
) -> impl Iterator<Item = &'p ObservedPod<'p>> {
    replicas.iter().flatten().copied().filter(|p| {
        p.revision != inp.update_revision && !p.status.terminating() && !inp.available(p)
    })
}

/// Deletes up to `budget` outdated, non-terminating pods at or above the
/// partition that `pick` accepts, highest ordinal first.
fn delete_outdated(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    partition: u32,
    mut budget: u32,
    pick: impl Fn(&ObservedPod) -> bool,
    max: u32,
    out: &mut Outcome,
) {
    for i in (partition as usize..replicas.len()).rev() {
        if budget == 0 {
            break;
        }
        let Some(p) = replicas[i] else { continue };
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

/// MaxUnavailableStatefulSet on, Parallel, from 1.37 (kubernetes#137666):
/// outdated pods that are already unavailable are replaced first (phase 1,
/// at most maxUnavailable a pass) and do not stop the update; then the
/// budget left over the unavailable count goes to available outdated pods
/// (phase 2).
fn parallel_budget_update(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    partition: u32,
    max_unavailable: &crate::sim::model::IntOrPercent,
    out: &mut Outcome,
) {
    let max = max_unavailable.scaled_at_least_one(inp.spec.replicas);
    let unavailable: Vec<String> = (0..replicas.len())
        .filter_map(|i| unavailable_state(inp, i, replicas[i]))
        .collect();
    let needing_update = old_unavailable(inp, replicas).count();
    if unavailable.len() as u32 >= max && needing_update == 0 {
        if outdated_exists(inp, replicas) {
            out.blocked = Some(format!(
                "rolling update waits: {} unavailable ({}) and maxUnavailable is {}",
                unavailable.len(),
                unavailable.join(", "),
                max
            ));
        }
        return;
    }
    delete_outdated(
        inp,
        replicas,
        partition,
        max,
        |p| !inp.available(p),
        max,
        out,
    );
    let budget = max.saturating_sub(unavailable.len() as u32);
    delete_outdated(
        inp,
        replicas,
        partition,
        budget,
        |p| inp.available(p),
        max,
        out,
    );
    if out.actions.is_empty() && outdated_exists(inp, replicas) {
        out.blocked = Some(format!(
            "rolling update waits: {} unavailable ({}) and maxUnavailable is {}",
            unavailable.len(),
            unavailable.join(", "),
            max
        ));
    }
}

/// computeReplicaStatus + completeRollingUpdate.
fn replica_status(
    inp: &Input,
    replicas: &[Option<&ObservedPod>],
    condemned: &[&ObservedPod],
) -> ReplicaStatus {
    let mut s = ReplicaStatus::default();
    for p in replicas
        .iter()
        .flatten()
        .copied()
        .chain(condemned.iter().copied())
    {
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

/// Pods created in this pass count in the status as upstream's
/// processReplica does (status.Replicas++ on create); then
/// completeRollingUpdate: complete when updated = ready = replicas.
pub(super) fn complete_rolling_update(inp: &Input, s: &mut ReplicaStatus, actions: &[Action]) {
    for a in actions {
        if let Action::CreatePod { revision, .. } = a {
            s.replicas += 1;
            if revision == inp.current_revision {
                s.current += 1;
            }
            if revision == inp.update_revision {
                s.updated += 1;
            }
        }
    }
    if matches!(
        inp.spec.update_strategy,
        UpdateStrategy::RollingUpdate { .. }
    ) && s.updated == s.replicas
        && s.ready == s.replicas
    {
        s.rollout_complete = true;
        s.current = s.updated;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::sim::model::{ClaimTemplate, PodTemplate, Retention};

    /// A set "web" with one claim template "www": the specs the controller
    /// tests start from too.
    pub(in crate::sim::controllers) fn spec(replicas: u32, pm: PodManagement) -> StatefulSetSpec {
        StatefulSetSpec {
            name: "web".into(),
            service: None,
            replicas,
            pod_management: pm,
            update_strategy: UpdateStrategy::default(),
            min_ready_seconds: 0,
            ordinals_start: 0,
            retention: Retention::default(),
            revision_history_limit: 10,
            template: PodTemplate::with_image("nginx:1"),
            claims: vec![ClaimTemplate {
                name: "www".into(),
                storage_class: None,
                size_gib: 1,
            }],
            database: None,
        }
    }

    fn pod(ord: u32, rev: &str, phase: PodPhase, ready: bool) -> ObservedPod<'_> {
        let mut status = PodStatus::new();
        status.phase = phase;
        status.ready = ready;
        status.ready_since_ms = ready.then_some(0);
        ObservedPod {
            name: Cow::Owned(format!("web-{ord}")),
            uid: Cow::Owned(format!("uid-web-{ord}")),
            ordinal: ord,
            revision: Cow::Owned(rev.to_string()),
            status: Box::leak(Box::new(status)),
            node_problem: None,
        }
    }

    fn run<'a>(
        spec: &'a StatefulSetSpec,
        pods: &'a [ObservedPod<'a>],
        cur: &'a str,
        upd: &'a str,
    ) -> Outcome {
        let claims: BTreeMap<String, ObservedClaim> = pods
            .iter()
            .map(|p| {
                (
                    format!("www-web-{}", p.ordinal),
                    ObservedClaim {
                        ordinal: Some(p.ordinal),
                        ..Default::default()
                    },
                )
            })
            .collect();
        reconcile(&Input {
            spec,
            deleting: false,
            current_revision: cur,
            update_revision: upd,
            pods,
            claims: &claims,
            now: 100_000,
            update_path: UpdatePath::default(),
        })
    }

    #[test]
    fn ordered_ready_creates_only_the_first_missing_pod_and_its_claim_first() {
        let s = spec(3, PodManagement::OrderedReady);
        let out = run(&s, &[], "r1", "r1");
        assert_eq!(out.actions.len(), 2);
        assert!(matches!(&out.actions[0], Action::CreateClaim { name, .. } if name == "www-web-0"));
        assert!(matches!(
            &out.actions[1],
            Action::CreatePod { ordinal: 0, .. }
        ));
    }

    #[test]
    fn ordered_ready_waits_for_unready_predecessor() {
        let s = spec(3, PodManagement::OrderedReady);
        let out = run(&s, &[pod(0, "r1", PodPhase::Running, false)], "r1", "r1");
        assert!(out.actions.is_empty());
        let why = out.blocked.expect("blocked");
        assert!(
            why.contains("web-1 not created") && why.contains("web-0"),
            "{why}"
        );
    }

    #[test]
    fn parallel_creates_all_missing_pods_in_one_pass() {
        let s = spec(4, PodManagement::Parallel);
        let out = run(&s, &[pod(0, "r1", PodPhase::Pending, false)], "r1", "r1");
        let created: Vec<u32> = out
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::CreatePod { ordinal, .. } => Some(*ordinal),
                _ => None,
            })
            .collect();
        assert_eq!(created, vec![1, 2, 3]);
    }

    #[test]
    fn lower_missing_ordinal_is_recreated_even_when_higher_is_unhealthy() {
        let s = spec(3, PodManagement::OrderedReady);
        let pods = [
            pod(1, "r1", PodPhase::Running, true),
            pod(2, "r1", PodPhase::Pending, false),
        ];
        let out = run(&s, &pods, "r1", "r1");
        assert!(
            out.actions
                .iter()
                .any(|a| matches!(a, Action::CreatePod { ordinal: 0, .. }))
        );
    }

    #[test]
    fn scale_down_deletes_highest_first_one_at_a_time() {
        let s = spec(1, PodManagement::OrderedReady);
        let pods = [
            pod(0, "r1", PodPhase::Running, true),
            pod(1, "r1", PodPhase::Running, true),
            pod(2, "r1", PodPhase::Running, true),
        ];
        let out = run(&s, &pods, "r1", "r1");
        assert_eq!(out.actions.len(), 1);
        assert!(
            matches!(&out.actions[0], Action::DeletePod { name, cause: DeleteCause::ScaleDown, .. } if name == "web-2")
        );
    }

    #[test]
    fn scale_down_waits_while_an_in_range_pod_is_unhealthy() {
        let s = spec(1, PodManagement::OrderedReady);
        let pods = [
            pod(0, "r1", PodPhase::Running, false),
            pod(1, "r1", PodPhase::Running, true),
        ];
        let out = run(&s, &pods, "r1", "r1");
        assert!(out.actions.is_empty());
        assert!(out.blocked.unwrap().contains("web-1 not deleted"));
    }

    #[test]
    fn failed_pod_is_deleted_for_recreation() {
        let s = spec(2, PodManagement::OrderedReady);
        let pods = [
            pod(0, "r1", PodPhase::Failed, false),
            pod(1, "r1", PodPhase::Running, true),
        ];
        let out = run(&s, &pods, "r1", "r1");
        assert!(
            matches!(&out.actions[0], Action::DeletePod { name, cause: DeleteCause::Terminal, .. } if name == "web-0")
        );
    }

    #[test]
    fn rolling_update_deletes_highest_outdated_at_or_above_partition() {
        let mut s = spec(3, PodManagement::OrderedReady);
        s.update_strategy = UpdateStrategy::RollingUpdate {
            partition: 1,
            max_unavailable: Default::default(),
        };
        let pods = [
            pod(0, "r1", PodPhase::Running, true),
            pod(1, "r1", PodPhase::Running, true),
            pod(2, "r1", PodPhase::Running, true),
        ];
        let out = run(&s, &pods, "r1", "r2");
        assert_eq!(out.actions.len(), 1);
        assert!(
            matches!(&out.actions[0], Action::DeletePod { name, cause: DeleteCause::Update, .. } if name == "web-2")
        );
        // With web-2 updated, web-1 is next; web-0 (below the partition) never is.
        let pods = [
            pod(0, "r1", PodPhase::Running, true),
            pod(1, "r1", PodPhase::Running, true),
            pod(2, "r2", PodPhase::Running, true),
        ];
        let out = run(&s, &pods, "r1", "r2");
        assert!(matches!(&out.actions[0], Action::DeletePod { name, .. } if name == "web-1"));
        let pods = [
            pod(0, "r1", PodPhase::Running, true),
            pod(1, "r2", PodPhase::Running, true),
            pod(2, "r2", PodPhase::Running, true),
        ];
        assert!(run(&s, &pods, "r1", "r2").actions.is_empty());
    }

    #[test]
    fn pod_below_partition_comes_back_at_current_revision() {
        let mut s = spec(3, PodManagement::OrderedReady);
        s.update_strategy = UpdateStrategy::RollingUpdate {
            partition: 2,
            max_unavailable: Default::default(),
        };
        let pods = [
            pod(1, "r1", PodPhase::Running, true),
            pod(2, "r2", PodPhase::Running, true),
        ];
        let out = run(&s, &pods, "r1", "r2");
        assert!(out.actions.iter().any(
            |a| matches!(a, Action::CreatePod { ordinal: 0, revision, .. } if revision == "r1")
        ));
    }

    #[test]
    fn max_unavailable_percent_rounds_down_and_deletes_a_batch() {
        let mut s = spec(10, PodManagement::Parallel);
        s.update_strategy = UpdateStrategy::RollingUpdate {
            partition: 0,
            max_unavailable: crate::sim::model::IntOrPercent::Percent("35%".into()),
        };
        let pods: Vec<_> = (0..10)
            .map(|o| pod(o, "r1", PodPhase::Running, true))
            .collect();
        let out = run(&s, &pods, "r1", "r2");
        let deleted: Vec<_> = out
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::DeletePod { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, vec!["web-9", "web-8", "web-7"]);
    }

    #[test]
    fn rollout_complete_when_all_updated_and_ready() {
        let s = spec(2, PodManagement::OrderedReady);
        let pods = [
            pod(0, "r2", PodPhase::Running, true),
            pod(1, "r2", PodPhase::Running, true),
        ];
        let out = run(&s, &pods, "r1", "r2");
        assert!(out.status.rollout_complete);
        assert_eq!(out.status.current, 2);
    }

    #[test]
    fn on_delete_never_deletes_for_update() {
        let mut s = spec(2, PodManagement::OrderedReady);
        s.update_strategy = UpdateStrategy::OnDelete;
        let pods = [
            pod(0, "r1", PodPhase::Running, true),
            pod(1, "r1", PodPhase::Running, true),
        ];
        assert!(run(&s, &pods, "r1", "r2").actions.is_empty());
    }

    #[test]
    fn terminating_pod_is_never_replaced() {
        let s = spec(2, PodManagement::Parallel);
        let mut p = pod(1, "r1", PodPhase::Running, true);
        let mut st = p.status.clone();
        st.deletion_ms = Some(1);
        p.status = Box::leak(Box::new(st));
        let out = run(&s, &[pod(0, "r1", PodPhase::Running, true), p], "r1", "r1");
        assert!(
            !out.actions
                .iter()
                .any(|a| matches!(a, Action::CreatePod { .. }))
        );
        assert!(out.blocked.unwrap().contains("not replaced"));
    }

    #[test]
    fn ordinals_start_shifts_names_and_partition() {
        let mut s = spec(2, PodManagement::OrderedReady);
        s.ordinals_start = 5;
        let out = run(&s, &[], "r1", "r1");
        assert!(matches!(
            &out.actions[1],
            Action::CreatePod { ordinal: 5, .. }
        ));
    }

    #[test]
    fn parallel_slow_start_batches_double_in_size() {
        let mut batch = SlowStart::new();
        let mut numbers = Vec::new();
        for _ in 0..8 {
            numbers.push(batch.number);
            batch.count_one();
        }
        assert_eq!(numbers, [1, 2, 2, 3, 3, 3, 3, 4]);
    }

    #[test]
    fn parallel_creation_reasons_name_the_slow_start_batch() {
        let s = spec(3, PodManagement::Parallel);
        let out = run(&s, &[], "r1", "r1");
        let reasons: Vec<&str> = out
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::CreatePod { reason, .. } => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        assert!(reasons[0].contains("batch 1") && reasons[1].contains("batch 2"));
        assert!(reasons[2].contains("batch 2"), "{reasons:?}");
    }

    #[test]
    fn the_pass_wakes_when_a_ready_pod_reaches_min_ready_seconds() {
        let mut s = spec(1, PodManagement::OrderedReady);
        s.min_ready_seconds = 200;
        // Ready since 0, now is 100 s: available at 200 s.
        let out = run(&s, &[pod(0, "r1", PodPhase::Running, true)], "r1", "r1");
        assert_eq!(out.wake_ms, Some(200_000));
        s.min_ready_seconds = 50;
        let out = run(&s, &[pod(0, "r1", PodPhase::Running, true)], "r1", "r1");
        assert_eq!(out.wake_ms, None);
    }

    #[test]
    fn a_stale_claim_stops_an_ordered_ready_pass_before_creating_the_pod() {
        let s = spec(1, PodManagement::OrderedReady);
        let claims = BTreeMap::from([(
            "www-web-0".to_string(),
            ObservedClaim {
                ordinal: Some(0),
                deleting: true,
                ..Default::default()
            },
        )]);
        let out = reconcile(&Input {
            spec: &s,
            deleting: false,
            current_revision: "r1",
            update_revision: "r1",
            pods: &[],
            claims: &claims,
            now: 0,
            update_path: UpdatePath::default(),
        });
        assert!(out.actions.is_empty());
        assert!(out.blocked.unwrap().contains("stale claim"));
    }

    #[test]
    fn set_deletion_deletes_every_pod_at_once() {
        let s = spec(3, PodManagement::OrderedReady);
        let pods = [
            pod(0, "r1", PodPhase::Running, true),
            pod(1, "r1", PodPhase::Running, true),
        ];
        let claims = BTreeMap::new();
        let out = reconcile(&Input {
            spec: &s,
            deleting: true,
            current_revision: "r1",
            update_revision: "r1",
            pods: &pods,
            claims: &claims,
            now: 0,
            update_path: UpdatePath::default(),
        });
        assert_eq!(out.actions.len(), 2);
        assert!(out.actions.iter().all(|a| matches!(
            a,
            Action::DeletePod {
                cause: DeleteCause::SetDeleted,
                ..
            }
        )));
    }

    /// Runs a pass over `pods` with the given claims of "www".
    fn run_claims(
        spec: &StatefulSetSpec,
        pods: &[ObservedPod],
        claims: Vec<(u32, ObservedClaim)>,
    ) -> Outcome {
        let claims: BTreeMap<String, ObservedClaim> = claims
            .into_iter()
            .map(|(o, c)| {
                (
                    format!("www-web-{o}"),
                    ObservedClaim {
                        ordinal: Some(o),
                        ..c
                    },
                )
            })
            .collect();
        reconcile(&Input {
            spec,
            deleting: false,
            current_revision: "r1",
            update_revision: "r1",
            pods,
            claims: &claims,
            now: 100_000,
            update_path: UpdatePath::default(),
        })
    }

    fn when_scaled_delete(replicas: u32) -> StatefulSetSpec {
        let mut s = spec(replicas, PodManagement::OrderedReady);
        s.retention.when_scaled = RetentionAction::Delete;
        s
    }

    #[test]
    fn when_scaled_delete_makes_the_condemned_pod_own_its_claim() {
        let s = when_scaled_delete(2);
        let pods: Vec<_> = (0..3)
            .map(|o| pod(o, "r1", PodPhase::Running, true))
            .collect();
        let claims = (0..3).map(|o| (o, ObservedClaim::default())).collect();
        let out = run_claims(&s, &pods, claims);
        assert_eq!(
            out.actions[0],
            Action::SetClaimOwners {
                name: "www-web-2".into(),
                set: false,
                pod: Some(("web-2".into(), "uid-web-2".into())),
            }
        );
        assert!(
            out.actions
                .iter()
                .any(|a| matches!(a, Action::DeletePod { name, .. } if name == "web-2"))
        );
    }

    #[test]
    fn scale_up_while_the_condemned_pod_terminates_leaves_its_ownership_alone() {
        let s = when_scaled_delete(3);
        let mut pods: Vec<_> = (0..3)
            .map(|o| pod(o, "r1", PodPhase::Running, true))
            .collect();
        let mut st = PodStatus::new();
        st.phase = PodPhase::Running;
        st.deletion_ms = Some(1);
        pods[2].status = Box::leak(Box::new(st));
        let owned = ObservedClaim {
            owner_pod_uid: Some("uid-web-2".into()),
            ..Default::default()
        };
        let claims = vec![
            (0, ObservedClaim::default()),
            (1, ObservedClaim::default()),
            (2, owned),
        ];
        let out = run_claims(&s, &pods, claims);
        assert!(
            !out.actions.iter().any(|a| matches!(
                a,
                Action::SetClaimOwners { .. } | Action::DeleteClaim { .. }
            )),
            "{:?}",
            out.actions
        );
    }

    #[test]
    fn scale_up_before_the_pod_is_deleted_takes_the_claim_back_from_it() {
        let s = when_scaled_delete(3);
        let pods: Vec<_> = (0..3)
            .map(|o| pod(o, "r1", PodPhase::Running, true))
            .collect();
        let owned = ObservedClaim {
            owner_pod_uid: Some("uid-web-2".into()),
            ..Default::default()
        };
        let claims = vec![
            (0, ObservedClaim::default()),
            (1, ObservedClaim::default()),
            (2, owned),
        ];
        let out = run_claims(&s, &pods, claims);
        assert_eq!(
            out.actions,
            vec![Action::SetClaimOwners {
                name: "www-web-2".into(),
                set: false,
                pod: None,
            }]
        );
    }

    #[test]
    fn a_claim_owned_by_a_gone_pod_is_garbage_collected_and_its_ordinal_waits_for_a_new_claim() {
        let s = when_scaled_delete(3);
        let pods: Vec<_> = (0..2)
            .map(|o| pod(o, "r1", PodPhase::Running, true))
            .collect();
        let owned = ObservedClaim {
            owner_pod_uid: Some("uid-web-2".into()),
            ..Default::default()
        };
        let claims = vec![
            (0, ObservedClaim::default()),
            (1, ObservedClaim::default()),
            (2, owned),
        ];
        let out = run_claims(&s, &pods, claims);
        assert!(
            matches!(&out.actions[..], [Action::DeleteClaim { name, when_deleted: false, .. }] if name == "www-web-2"),
            "{:?}",
            out.actions
        );
        let blocked = out.blocked.expect("web-2 waits");
        assert!(
            blocked.contains("still owned by the earlier pod"),
            "{blocked}"
        );
    }

    #[test]
    fn when_deleted_delete_claims_are_owned_by_the_set_until_condemned() {
        let mut s = when_scaled_delete(2);
        s.retention.when_deleted = RetentionAction::Delete;
        assert_eq!(wanted_claim_owners(&s, false), (true, false));
        assert_eq!(wanted_claim_owners(&s, true), (false, true));
        s.retention.when_scaled = RetentionAction::Retain;
        assert_eq!(wanted_claim_owners(&s, true), (true, false));
    }
}
