//! Adoption: a StatefulSet takes over the pods and ControllerRevisions its
//! selector matches that have no controller, before its reconcile pass sees
//! its pods (stateful_set.go `getPodsForStatefulSet` → ControllerRefManager
//! `ClaimPods`; `adoptOrphanRevisions`). Orphans come only from a set deleted
//! with `--cascade=orphan` (command/workload.rs `orphan_set`), so the pass
//! does nothing until there is one. docs/semantics.md §2.15 orphan-and-adopt.

use super::statefulset::StatefulSets;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use crate::sim::{SimSchedule, SimSystems};
use bevy::prelude::*;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Orphaned>().add_systems(
        SimSchedule,
        adopt_orphans
            .in_set(SimSystems::Controllers)
            .after(super::disruption::run_drains)
            .before(StatefulSets),
    );
}

/// What a set sees of an orphan pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanPod {
    pub name: String,
    /// The workload its labels (and name) say it belongs to.
    pub owner: Owner,
    /// It has a deletionTimestamp.
    pub terminating: bool,
}

/// Whether a live (not deleting) StatefulSet named `set` adopts `pod`: the
/// pod belongs to it by its labels and name (the selector matches and
/// `isMemberOf`: the pod is named `<set>-<ordinal>`), and it is not being
/// deleted (`ClaimObject` ignores an object with a deletionTimestamp). A
/// pod out of the set's ordinal range is adopted too; the set's pass then
/// condemns it like any pod of its own.
pub fn adopts(set: &str, set_deleting: bool, pod: &OrphanPod) -> bool {
    !set_deleting
        && !pod.terminating
        && pod.owner.kind == OwnerKind::StatefulSet
        && pod.owner.name == set
        && pod
            .name
            .strip_prefix(set)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|o| o.parse::<u32>().is_ok())
}

type OrphanQuery<'w, 's> =
    Query<'w, 's, (Entity, &'static Pod, &'static mut PodStatus), Without<PodOf>>;

fn adopt_orphans(
    mut cluster: Cluster,
    mut orphaned: ResMut<Orphaned>,
    mut sets: Query<(&StatefulSet, &mut SetStatus)>,
    mut pods: OrphanQuery,
    mut claims: Query<&mut ClaimStatus>,
) {
    if orphaned.is_empty() {
        return;
    }
    adopt_revisions(&mut cluster, &mut orphaned, &mut sets);
    // Pods that went away, or were adopted, leave the list.
    orphaned.pods.retain(|&e| pods.contains(e));
    let mut list: Vec<(String, Entity)> = orphaned
        .pods
        .iter()
        .filter_map(|&e| pods.get(e).ok().map(|(_, p, _)| (p.name.clone(), e)))
        .collect();
    list.sort();
    for (name, pe) in list {
        let Ok((_, pod, mut st)) = pods.get_mut(pe) else {
            continue;
        };
        let orphan = OrphanPod {
            name: name.clone(),
            owner: pod.owner.clone(),
            terminating: st.terminating(),
        };
        let Some(&set_e) = cluster.index.sets.get(&pod.owner.name) else {
            continue;
        };
        let Ok((set, _)) = sets.get(set_e) else {
            continue;
        };
        if !adopts(&set.spec.name, set.deleting, &orphan) {
            continue;
        }
        let revision = pod.revision.clone();
        own_claims(&mut cluster, &mut claims, &set.spec, pod);
        cluster.commands.entity(pe).insert(PodOf(set_e));
        // The set's pass sees the pod as changed (its index takes it in).
        cluster.journal.pods.note(pe);
        st.set_changed();
        orphaned.pods.retain(|&e| e != pe);
        cluster.emit(
            SimEvent::new(
                EventKind::PodAdopted,
                format!("pod/{name}"),
                format!(
                    "statefulset/{} adopted it: its selector matches and the pod had no controller (ClaimPods sets the ownerReference); the pod is not restarted",
                    set.spec.name
                ),
            )
            .revision(revision),
        );
    }
}

/// The adopting set's pass makes an in-range replica's claims match the
/// retention policy (processReplica → `ClaimsMatchRetentionPolicy`,
/// `UpdatePodClaimForRetentionPolicy`): under whenDeleted: Delete the set
/// owns them again. Done here, as the pod is adopted.
fn own_claims(
    cluster: &mut Cluster,
    claims: &mut Query<&mut ClaimStatus>,
    spec: &StatefulSetSpec,
    pod: &Pod,
) {
    let ordinal = pod.ordinal.unwrap_or(0);
    let in_range = ordinal >= spec.ordinals_start && ordinal < spec.end_ordinal();
    let (set_owns, _) = super::reconcile::wanted_claim_owners(spec, !in_range);
    if !in_range || !set_owns {
        return;
    }
    for name in &pod.claims {
        let Some(&ce) = cluster.index.claims.get(name) else {
            continue;
        };
        let Ok(mut cs) = claims.get_mut(ce) else {
            continue;
        };
        let owned = cs
            .owner_refs
            .iter()
            .any(|r| r.kind == OwnerRefKind::StatefulSet && r.name == spec.name);
        if owned || cs.deleting.is_some() {
            continue;
        }
        cluster.journal.claims.note(ce);
        cs.owner_refs.push(OwnerRef {
            kind: OwnerRefKind::StatefulSet,
            name: spec.name.clone(),
            uid: String::new(),
        });
        cluster.touch();
    }
}

/// `adoptOrphanRevisions`: a live set takes the orphaned ControllerRevisions
/// of its name into its history (before its pass computes its revisions).
fn adopt_revisions(
    cluster: &mut Cluster,
    orphaned: &mut Orphaned,
    sets: &mut Query<(&StatefulSet, &mut SetStatus)>,
) {
    let names: Vec<String> = orphaned.revisions.keys().cloned().collect();
    for name in names {
        let Some(&set_e) = cluster.index.sets.get(&name) else {
            continue;
        };
        let Ok((set, mut st)) = sets.get_mut(set_e) else {
            continue;
        };
        if set.deleting {
            continue;
        }
        let Some(revs) = orphaned.revisions.remove(&name) else {
            continue;
        };
        for r in revs {
            if st.revision(&r.name).is_none() {
                st.revisions.push(r);
            }
        }
        cluster.touch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, set: &str, terminating: bool) -> OrphanPod {
        OrphanPod {
            name: name.into(),
            owner: Owner::set(set),
            terminating,
        }
    }

    #[test]
    fn a_set_adopts_the_orphan_pods_its_selector_and_name_match() {
        assert!(adopts("web", false, &pod("web-0", "web", false)));
        assert!(
            adopts("web", false, &pod("web-7", "web", false)),
            "out of range too"
        );
        assert!(
            !adopts("web", false, &pod("db-0", "db", false)),
            "another selector"
        );
        assert!(
            !adopts("web", false, &pod("web-x", "web", false)),
            "not <set>-<ordinal>"
        );
        let d = OrphanPod {
            owner: Owner::deployment("web"),
            ..pod("web-0", "web", false)
        };
        assert!(!adopts("web", false, &d), "a Deployment's pod");
    }

    #[test]
    fn a_terminating_orphan_or_a_deleting_set_adopts_nothing() {
        assert!(!adopts("web", false, &pod("web-0", "web", true)));
        assert!(!adopts("web", true, &pod("web-0", "web", false)));
    }
}
