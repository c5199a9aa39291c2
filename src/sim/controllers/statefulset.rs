//! The StatefulSet controller system: gathers what the reconcile pass needs,
//! keeps the revision history, applies the pass's actions and the status.

use super::reconcile::{self, Action, ObservedClaim, ObservedPod};
use crate::sim::event::{EventKind, EventLog, SimEvent, fnv1a64};
use crate::sim::model::*;
use crate::sim::{SimClock, SimRng, SimSystems, Wake, ops};
use bevy::ecs::entity::{EntityHashMap, EntityHashSet};
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

/// The revision name of a template: `<set>-<hash>`, as a ControllerRevision
/// name is (hash of spec.template only, docs/semantics.md §3).
pub fn revision_name(set: &str, template: &PodTemplate) -> String {
    let json = serde_json::to_string(template).unwrap_or_default();
    let mut h = fnv1a64(json.as_bytes());
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut s = String::with_capacity(10);
    for _ in 0..10 {
        s.push(ALPHA[(h % ALPHA.len() as u64) as usize] as char);
        h /= ALPHA.len() as u64;
    }
    format!("{set}-{s}")
}

/// Records the template's revision: new, or an earlier one reused (rollback).
/// Returns the update revision name.
fn sync_revisions(now: u64, set: &StatefulSet, st: &mut SetStatus, log: &mut EventLog) -> String {
    let spec = &set.spec;
    let name = revision_name(&spec.name, &spec.template);
    if st.update_revision == name {
        return name;
    }
    let max = st.revisions.iter().map(|r| r.number).max().unwrap_or(0);
    if let Some(r) = st.revisions.iter_mut().find(|r| r.name == name) {
        r.number = max + 1;
        log.emit(
            now,
            SimEvent::new(
                EventKind::SetUpdated,
                format!("statefulset/{}", spec.name),
                format!(
                    "the template equals earlier revision {name}: it is reused (a rollback makes no new revision)"
                ),
            )
            .revision(name.clone()),
        );
    } else {
        st.revisions.push(Revision {
            name: name.clone(),
            template: spec.template.clone(),
            number: max + 1,
        });
        log.emit(
            now,
            SimEvent::new(
                EventKind::RevisionCreated,
                format!("statefulset/{}", spec.name),
                format!(
                    "template hash gives a new ControllerRevision {name} (revision {}, image {})",
                    max + 1,
                    spec.template.image
                ),
            )
            .revision(name.clone()),
        );
    }
    if st.current_revision.is_empty() {
        st.current_revision = name.clone();
    }
    st.update_revision = name.clone();
    // revisionHistoryLimit: drop the oldest revisions no one uses.
    let limit = spec.revision_history_limit as usize + 2;
    while st.revisions.len() > limit {
        let keep = [st.current_revision.clone(), st.update_revision.clone()];
        let Some(pos) = st
            .revisions
            .iter()
            .enumerate()
            .filter(|(_, r)| !keep.contains(&r.name))
            .min_by_key(|(_, r)| r.number)
            .map(|(i, _)| i)
        else {
            break;
        };
        st.revisions.remove(pos);
    }
    log.touch();
    name
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
    counts: (usize, usize),
    sets: EntityHashMap<SetMemory>,
}

struct SetMemory {
    pods: usize,
    /// Its pods in ordinal order, kept while no pod comes or goes.
    by_ordinal: Vec<Entity>,
    wake: Option<u64>,
    /// It had terminating pods (whose node's state goes into the reasons).
    terminating: bool,
    /// Its last pass wrote something its next pass reads.
    active: bool,
}

#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn statefulset_controller(
    clock: Res<SimClock>,
    mut wake: ResMut<Wake>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut rng: ResMut<SimRng>,
    mut commands: Commands,
    mut sets: Query<(Entity, &StatefulSet, &mut SetStatus, Option<&OwnedPods>)>,
    mut pod_q: ParamSet<(
        Query<&PodOf, Changed<PodStatus>>,
        Query<(&Pod, &mut PodStatus)>,
    )>,
    mut claim_q: ParamSet<(
        Query<(), Changed<ClaimStatus>>,
        Query<(&Claim, &mut ClaimStatus)>,
    )>,
    nodes: Query<&NodeState>,
    changed_sets: Query<Entity, Changed<StatefulSet>>,
    new_pods: Query<&PodOf, Added<Pod>>,
    changed_nodes: Query<(), Changed<NodeState>>,
    new_nodes: Query<(), Added<NodeState>>,
    mut mem: Local<SetsMemory>,
) {
    let now = clock.now_ms;
    // What changed since the last pass.
    let counts = (claim_q.p1().iter().len(), nodes.iter().len());
    let claims_changed = counts.0 != mem.counts.0 || !claim_q.p0().is_empty();
    let nodes_changed =
        counts.1 != mem.counts.1 + new_nodes.iter().count() || !changed_nodes.is_empty();
    mem.counts = counts;
    let changed_sets: EntityHashSet = changed_sets.iter().collect();
    let mut dirty = changed_sets.clone();
    dirty.extend(pod_q.p0().iter().map(|of| of.0));
    let sets_with_new_pods: EntityHashSet = new_pods.iter().map(|of| of.0).collect();
    let mut pods = pod_q.p1();
    let mut claims = claim_q.p1();

    let mut order: Vec<(String, Entity)> = sets
        .iter()
        .map(|(e, s, _, _)| (s.spec.name.clone(), e))
        .collect();
    order.sort();
    for (_, set_e) in order {
        let Ok((_, set, mut st, owned)) = sets.get_mut(set_e) else {
            continue;
        };
        let n_pods = owned.map_or(0, |o| o.len());
        if !claims_changed
            && !dirty.contains(&set_e)
            && let Some(m) = mem.sets.get(&set_e)
            && !m.active
            && m.pods == n_pods
            && !(nodes_changed && m.terminating)
            && m.wake.is_none_or(|w| w > now)
        {
            if let Some(w) = m.wake {
                wake.at(w);
            }
            continue;
        }
        // Writes of this pass that its next pass reads (its own writes are not
        // seen as changes): deletions it requested, and a new current revision.
        // Pods and claims it creates are seen as new.
        let mut own_writes = false;
        let spec = &set.spec;
        // The revision name hashes the template: only worth redoing when the
        // set changed (otherwise it is the update revision already recorded).
        let update_rev = if changed_sets.contains(&set_e) || !mem.sets.contains_key(&set_e) {
            sync_revisions(now, set, &mut st, &mut log)
        } else {
            st.update_revision.clone()
        };
        let current_rev = st.current_revision.clone();

        // Gather pods (by ordinal) and this set's claims.
        let mut pod_entities: Vec<Entity> = match mem.sets.remove(&set_e) {
            Some(m) if m.pods == n_pods && !sets_with_new_pods.contains(&set_e) => m.by_ordinal,
            _ => {
                let mut v: Vec<(u32, Entity)> = owned
                    .map_or(&[][..], |o| o.entities())
                    .iter()
                    .filter_map(|&e| pods.get(e).ok().map(|(p, _)| (p.ordinal.unwrap_or(0), e)))
                    .collect();
                v.sort_by_key(|x| x.0);
                v.into_iter().map(|x| x.1).collect()
            }
        };
        let mut observed: Vec<ObservedPod> = Vec::with_capacity(pod_entities.len());
        for &e in &pod_entities {
            if let Ok((p, s)) = pods.get(e) {
                observed.push(ObservedPod {
                    name: Cow::Borrowed(p.name.as_str()),
                    ordinal: p.ordinal.unwrap_or(0),
                    revision: Cow::Borrowed(p.revision.as_str()),
                    status: s,
                    node_problem: if s.terminating() {
                        node_problem(s, &index, &nodes)
                    } else {
                        None
                    },
                });
            }
        }
        // In ordinal order already (the order is rebuilt when pods come or go).
        debug_assert!(observed.is_sorted_by_key(|p| p.ordinal));
        let any_terminating = observed.iter().any(|p| p.status.terminating());
        let mut observed_claims: BTreeMap<String, ObservedClaim> = BTreeMap::new();
        let scan_all = spec.retention.when_scaled == RetentionAction::Delete || set.deleting;
        if scan_all {
            for (c, cs) in claims.iter() {
                if c.set.as_deref() == Some(spec.name.as_str()) {
                    observed_claims.insert(
                        c.name.clone(),
                        ObservedClaim {
                            ordinal: c.ordinal,
                            deleting: cs.deleting.is_some(),
                        },
                    );
                }
            }
        } else {
            // Without whenScaled=Delete or set deletion, the pass looks only at
            // the claims of in-range ordinals whose pod is missing or still
            // Pending/ContainerCreating (processReplica), so only those are read.
            let (start, end) = (spec.ordinals_start, spec.end_ordinal());
            let mut need = vec![true; end.saturating_sub(start) as usize];
            for p in &observed {
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
            // An OrderedReady pass stops at the first of them at the latest.
            let monotonic = spec.pod_management == PodManagement::OrderedReady;
            let ords = (start..end)
                .filter(|o| need[(o - start) as usize])
                .take(if monotonic { 1 } else { usize::MAX });
            for o in ords {
                for ct in &spec.claims {
                    let name = spec.claim_name(&ct.name, o);
                    if let Some(&ce) = index.claims.get(&name)
                        && let Ok((_, cs)) = claims.get(ce)
                    {
                        observed_claims.insert(
                            name,
                            ObservedClaim {
                                ordinal: Some(o),
                                deleting: cs.deleting.is_some(),
                            },
                        );
                    }
                }
            }
        }

        let out = reconcile::reconcile(&reconcile::Input {
            spec,
            deleting: set.deleting,
            current_revision: &current_rev,
            update_revision: &update_rev,
            pods: &observed,
            claims: &observed_claims,
            now,
        });
        let pods_left = observed.len();
        drop(observed);
        if let Some(w) = out.wake_ms {
            wake.at(w);
        }

        for action in out.actions {
            match action {
                Action::CreateClaim {
                    name,
                    template,
                    ordinal,
                    reason,
                } => {
                    let ct = spec.claims.iter().find(|c| c.name == template);
                    let class = ct
                        .and_then(|c| c.storage_class.clone())
                        .unwrap_or_else(|| index.default_class.clone());
                    if !st.claims_made.contains(&name) {
                        st.claims_made.push(name.clone());
                    }
                    ops::create_claim(
                        now,
                        Claim {
                            name,
                            set: Some(spec.name.clone()),
                            ordinal: Some(ordinal),
                            template,
                            class,
                            size_gib: ct.map_or(1, |c| c.size_gib),
                            created_ms: now,
                        },
                        &mut commands,
                        &mut index,
                        &mut log,
                        reason,
                    );
                }
                Action::CreatePod {
                    ordinal,
                    revision,
                    reason,
                } => {
                    let name = spec.pod_name(ordinal);
                    let template = st
                        .revision(&revision)
                        .map(|r| r.template.clone())
                        .unwrap_or_else(|| spec.template.clone());
                    let seq = index.next_seq();
                    let pod = Pod {
                        name: name.clone(),
                        uid: rng.uid(),
                        owner: Owner::set(&spec.name),
                        ordinal: Some(ordinal),
                        revision: revision.clone(),
                        template,
                        claims: spec
                            .claims
                            .iter()
                            .map(|c| spec.claim_name(&c.name, ordinal))
                            .collect(),
                        created_ms: now,
                        seq,
                        dns: Some(format!(
                            "{name}.{}.default.svc.cluster.local",
                            spec.service_name()
                        )),
                    };
                    let e = commands.spawn((pod, PodStatus::new(), PodOf(set_e))).id();
                    index.pods.insert(name.clone(), e);
                    log.emit(
                        now,
                        SimEvent::new(EventKind::PodCreated, format!("pod/{name}"), reason)
                            .revision(revision),
                    );
                }
                Action::DeletePod {
                    name,
                    cause: _,
                    reason,
                } => {
                    let Some(&pe) = index.pods.get(&name) else {
                        continue;
                    };
                    let Ok((p, mut ps)) = pods.get_mut(pe) else {
                        continue;
                    };
                    ops::request_deletion(now, p, &mut ps, &mut log, reason);
                    own_writes = true;
                }
                Action::DeleteClaim {
                    name,
                    when_deleted,
                    reason,
                } => {
                    let Some(&ce) = index.claims.get(&name) else {
                        continue;
                    };
                    let Ok((_, mut cs)) = claims.get_mut(ce) else {
                        continue;
                    };
                    if cs.deleting.is_none() {
                        own_writes = true;
                        cs.deleting = Some(if when_deleted {
                            DeletionCause::RetentionWhenDeleted
                        } else {
                            DeletionCause::RetentionWhenScaled
                        });
                        cs.deleting_reason = Some(reason);
                        log.touch();
                    }
                }
            }
        }

        // Status.
        let s = &out.status;
        let (r, rd, av, cu, up) = (s.replicas, s.ready, s.available, s.current, s.updated);
        if (st.replicas, st.ready, st.available, st.current, st.updated) != (r, rd, av, cu, up) {
            (st.replicas, st.ready, st.available, st.current, st.updated) = (r, rd, av, cu, up);
            log.touch();
        }
        if s.rollout_complete && st.current_revision != st.update_revision {
            let upd = st.update_revision.clone();
            let from = std::mem::replace(&mut st.current_revision, upd);
            own_writes = true;
            log.emit(
                now,
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
            if let Some(why) = &out.blocked {
                log.emit(
                    now,
                    SimEvent::new(
                        EventKind::SetBlocked,
                        format!("statefulset/{}", spec.name),
                        why.clone(),
                    ),
                );
            } else {
                log.touch();
            }
            st.blocked = out.blocked.clone();
        }
        if set.deleting && pods_left == 0 {
            index.sets.remove(&spec.name);
            commands.entity(set_e).despawn();
            log.emit(
                now,
                SimEvent::new(
                    EventKind::SetDeleted,
                    format!("statefulset/{}", spec.name),
                    "all its pods are gone; claims follow whenDeleted",
                ),
            );
        }
        mem.sets.insert(
            set_e,
            SetMemory {
                pods: n_pods,
                by_ordinal: std::mem::take(&mut pod_entities),
                wake: out.wake_ms.filter(|&w| w > now),
                terminating: any_terminating,
                active: own_writes,
            },
        );
    }
}
