//! Volume binding and provisioning: claims get a volume at once (Immediate) or
//! where their first pod is scheduled (WaitForFirstConsumer); deleted claims
//! wait while a pod uses them (pvc-protection) and take their volume with them
//! (reclaim policy Delete).

use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::journal::{Journal, candidates};
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use crate::sim::{SimRng, SimSystems};
use bevy::ecs::entity::EntityHashMap;
use bevy::prelude::*;
use rand::Rng;
use std::collections::BTreeSet;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        crate::sim::SimSchedule,
        (provision_volumes, finalize_claims, delete_released_volumes)
            .chain()
            .in_set(SimSystems::Volumes)
            .before(super::attach_detach::AttachDetach),
    );
}

fn class_of(index: &Index, name: &str) -> StorageClassSpec {
    index
        .classes
        .get(name)
        .cloned()
        .unwrap_or(StorageClassSpec {
            name: name.into(),
            kind: StorageKind::Network,
            binding: BindingMode::WaitForFirstConsumer,
            allow_volume_expansion: false,
        })
}

type ClaimQuery<'w, 's> = Query<'w, 's, (Entity, &'static Claim, &'static mut ClaimStatus)>;

/// The claims in one state, in name order, kept from the claims the journal
/// says were written or added, so that a pass looks at those and not at
/// every claim (a claim is written when its state changes).
#[derive(Default)]
struct ClaimsIn {
    cursor: usize,
    names: EntityHashMap<String>,
    set: BTreeSet<(String, Entity)>,
}

impl ClaimsIn {
    /// The claims for which `is_in` holds now, in name order.
    fn update(
        &mut self,
        journal: &Journal,
        claims: &ClaimQuery,
        is_in: impl Fn(&ClaimStatus) -> bool,
    ) -> Vec<(String, Entity)> {
        match candidates(&journal.claims, &mut self.cursor) {
            Some(noted) => {
                for e in noted {
                    let now_in = claims.get(e).ok().filter(|(_, _, s)| is_in(s));
                    self.put(e, now_in.map(|(_, c, _)| c.name.clone()));
                }
            }
            None => {
                self.names.clear();
                self.set.clear();
                for (e, c, s) in claims.iter() {
                    if is_in(s) {
                        self.put(e, Some(c.name.clone()));
                    }
                }
            }
        }
        let found: Vec<(String, Entity)> = self.set.iter().cloned().collect();
        if cfg!(debug_assertions) {
            let mut walked: Vec<(String, Entity)> = claims
                .iter()
                .filter(|(_, _, s)| is_in(s))
                .map(|(e, c, _)| (c.name.clone(), e))
                .collect();
            walked.sort();
            assert_eq!(found, walked, "the claims kept from the journal differ");
        }
        found
    }

    /// Claim `e` is in the state (with its name) or not.
    fn put(&mut self, e: Entity, name: Option<String>) {
        if let Some(old) = self.names.remove(&e) {
            self.set.remove(&(old, e));
        }
        if let Some(n) = name {
            self.set.insert((n.clone(), e));
            self.names.insert(e, n);
        }
    }
}

fn provision_volumes(
    mut cluster: Cluster,
    mut rng: ResMut<SimRng>,
    mut claims: ClaimQuery,
    nodes: Query<&Node>,
    mut unbound: Local<ClaimsIn>,
) {
    let todo = unbound.update(&cluster.journal, &claims, |s| {
        s.volume.is_none() && s.deleting.is_none()
    });
    if todo.is_empty() {
        return;
    }
    let mut node_list: Vec<(String, String)> = nodes
        .iter()
        .map(|n| (n.name.clone(), n.zone.clone()))
        .collect();
    node_list.sort();
    for (_, ce) in todo {
        let Ok((_, claim, mut cs)) = claims.get_mut(ce) else {
            continue;
        };
        let class = class_of(&cluster.index, &claim.class);
        // Immediate binding picks a place before any pod exists.
        let pick = |n: usize| rng.0.random_range(0..n);
        let Some(place) = placement(&class, cs.selected_node.as_deref(), &node_list, pick) else {
            continue;
        };
        cluster.journal.claims.note(ce);
        let (vname, ve) = provision(&mut cluster, claim, &class, place);
        cluster.commands.entity(ce).insert(BoundTo(ve));
        cs.volume = Some(vname.clone());
        cluster.emit(
            SimEvent::new(
                EventKind::ClaimBound,
                format!("pvc/{}", claim.name),
                format!("bound to {vname}"),
            )
            .volume(vname),
        );
    }
}

/// Where a claim's volume goes: the node (and its zone) it was provisioned
/// for, and the node affinity that results.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placement {
    node: Option<(String, String)>,
    affinity: Affinity,
}

/// Where to provision a claim's volume, or None to wait: WaitForFirstConsumer
/// waits for the scheduler's choice (`selected`); Immediate picks a random
/// node (`pick(n)` in `0..n`) before any pod exists. Network storage goes
/// anywhere; zonal and local storage need a node that exists.
fn placement(
    class: &StorageClassSpec,
    selected: Option<&str>,
    nodes: &[(String, String)],
    pick: impl FnOnce(usize) -> usize,
) -> Option<Placement> {
    let node: Option<(String, String)> = match (class.binding, selected) {
        (BindingMode::WaitForFirstConsumer, None) => return None,
        (_, Some(n)) => nodes.iter().find(|(name, _)| name == n).cloned(),
        (BindingMode::Immediate, None) if nodes.is_empty() => None,
        (BindingMode::Immediate, None) => nodes.get(pick(nodes.len())).cloned(),
    };
    let affinity = match (class.kind, &node) {
        (StorageKind::Network | StorageKind::Shared, _) => Affinity::Anywhere,
        (StorageKind::Zonal, Some((_, z))) => Affinity::Zone(z.clone()),
        (StorageKind::Local, Some((n, _))) => Affinity::Node(n.clone()),
        (_, None) => return None,
    };
    Some(Placement { node, affinity })
}

/// Creates the claim's volume (with no data yet) and logs where it lives.
/// Returns its name and entity.
fn provision(
    cluster: &mut Cluster,
    claim: &Claim,
    class: &StorageClassSpec,
    place: Placement,
) -> (String, Entity) {
    let mut vname = format!("pv-{}", claim.name);
    if cluster.index.volumes.contains_key(&vname) {
        vname = format!("pv-{}-{}", claim.name, cluster.index.next_seq());
    }
    let ve = cluster
        .commands
        .spawn((
            Volume {
                name: vname.clone(),
                claim: claim.name.clone(),
                kind: class.kind,
                affinity: place.affinity.clone(),
                size_gib: claim.size_gib,
            },
            VolumeStatus::default(),
            crate::sim::database::VolumeData::default(),
        ))
        .id();
    cluster.index.volumes.insert(vname.clone(), ve);
    cluster.emit(
        SimEvent::new(
            EventKind::VolumeProvisioned,
            format!("pv/{vname}"),
            provisioned_reason(class.kind, &place.affinity, class.binding),
        )
        .volume(vname.clone())
        .node_opt(place.node.map(|t| t.0)),
    );
    (vname, ve)
}

/// "a local disk on node-a: only that node can use it (binding mode Immediate)".
fn provisioned_reason(kind: StorageKind, affinity: &Affinity, binding: BindingMode) -> String {
    let place = match affinity {
        Affinity::Anywhere if kind == StorageKind::Shared => {
            "shared file storage (NFS-like, ReadWriteMany): mounted on any number of nodes at once, no attach step and no fencing".to_string()
        }
        Affinity::Anywhere => "network storage, attachable on any node".to_string(),
        Affinity::Zone(z) => format!("a zonal disk in {z}: only nodes of that zone can use it"),
        Affinity::Node(n) => format!("a local disk on {n}: only that node can use it"),
    };
    let why = match binding {
        BindingMode::Immediate => "binding mode Immediate",
        BindingMode::WaitForFirstConsumer => {
            "WaitForFirstConsumer: placed where its first pod was scheduled"
        }
    };
    format!("{place} ({why})")
}

/// Deleted claims go once no pod uses them (kubernetes.io/pvc-protection);
/// their volume is released.
fn finalize_claims(
    mut cluster: Cluster,
    mut claims: ClaimQuery,
    pods: Query<(&Pod, &PodStatus)>,
    mut deleted: Local<ClaimsIn>,
) {
    let now = cluster.now();
    let deleting = deleted.update(&cluster.journal, &claims, |s| s.deleting.is_some());
    if deleting.is_empty() {
        return;
    }
    for (name, ce) in deleting {
        let Ok((_, _, mut cs)) = claims.get_mut(ce) else {
            continue;
        };
        let user = pods
            .iter()
            .filter(|(p, s)| p.claims.contains(&name) && !s.terminal())
            .map(|(p, _)| p.name.clone())
            .min();
        let reason = cs
            .deleting_reason
            .clone()
            .unwrap_or_else(|| "deleted".into());
        if let Some(user) = user {
            if !cs.terminating_logged {
                cluster.journal.claims.note(ce);
                cs.terminating_logged = true;
                cluster.emit(SimEvent::new(
                    EventKind::ClaimTerminating,
                    format!("pvc/{name}"),
                    format!("{reason}; kept while {user} uses it (kubernetes.io/pvc-protection)"),
                ));
            }
            continue;
        }
        let cause = cs.deleting.unwrap_or(DeletionCause::User);
        let index = &mut cluster.index;
        index.claims.remove(&name);
        index.deleted_claims_gen += 1;
        index.deleted_claims.insert(
            name.clone(),
            DeletedClaim {
                by_user: cause == DeletionCause::User,
                by_policy: cause != DeletionCause::User,
                t_ms: now,
            },
        );
        if let Some(v) = &cs.volume {
            index.released.push(v.clone());
        }
        cluster.commands.entity(ce).despawn();
        cluster.emit(
            SimEvent::new(EventKind::ClaimDeleted, format!("pvc/{name}"), reason)
                .volume(cs.volume.clone().unwrap_or_default()),
        );
    }
}

/// Released volumes (claim gone) are deleted with their data once detached
/// (reclaim policy Delete, the default for dynamic provisioning).
fn delete_released_volumes(mut cluster: Cluster, attachments: Query<&VolumeAttachments>) {
    if cluster.index.released.is_empty() {
        return;
    }
    let released = std::mem::take(&mut cluster.index.released);
    for v in released {
        let Some(&ve) = cluster.index.volumes.get(&v) else {
            continue;
        };
        if attachments.get(ve).is_ok_and(|a| !a.entities().is_empty()) {
            cluster.index.released.push(v);
            continue;
        }
        cluster.index.volumes.remove(&v);
        cluster.commands.entity(ve).despawn();
        cluster.emit(
            SimEvent::new(
                EventKind::VolumeDeleted,
                format!("pv/{v}"),
                "its claim is gone and the reclaim policy is Delete: the data is gone too",
            )
            .volume(v.clone()),
        );
    }
}
