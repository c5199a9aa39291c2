//! Volume binding and provisioning: claims get a volume at once (Immediate) or
//! where their first pod is scheduled (WaitForFirstConsumer); deleted claims
//! wait while a pod uses them (pvc-protection) and take their volume with them
//! (reclaim policy Delete).

use crate::sim::event::{EventKind, EventLog, SimEvent};
use crate::sim::model::*;
use crate::sim::{SimClock, SimRng, SimSystems};
use bevy::prelude::*;
use rand::Rng;

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
        })
}

#[allow(clippy::too_many_arguments)]
fn provision_volumes(
    clock: Res<SimClock>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut rng: ResMut<SimRng>,
    mut commands: Commands,
    mut claims: Query<(Entity, &Claim, &mut ClaimStatus)>,
    nodes: Query<&Node>,
) {
    let now = clock.now_ms;
    let mut todo: Vec<(String, Entity)> = claims
        .iter()
        .filter(|(_, _, s)| s.volume.is_none() && s.deleting.is_none())
        .map(|(e, c, _)| (c.name.clone(), e))
        .collect();
    if todo.is_empty() {
        return;
    }
    todo.sort();
    let mut node_list: Vec<(String, String)> = nodes
        .iter()
        .map(|n| (n.name.clone(), n.zone.clone()))
        .collect();
    node_list.sort();
    for (_, ce) in todo {
        let Ok((_, claim, mut cs)) = claims.get_mut(ce) else {
            continue;
        };
        let class = class_of(&index, &claim.class);
        let target: Option<(String, String)> = match (class.binding, &cs.selected_node) {
            (BindingMode::WaitForFirstConsumer, None) => continue,
            (_, Some(n)) => node_list.iter().find(|(name, _)| name == n).cloned(),
            (BindingMode::Immediate, None) => {
                if node_list.is_empty() {
                    None
                } else {
                    // Immediate binding picks a place before any pod exists.
                    let i = rng.0.random_range(0..node_list.len());
                    Some(node_list[i].clone())
                }
            }
        };
        let affinity = match (class.kind, &target) {
            (StorageKind::Network, _) => Affinity::Anywhere,
            (StorageKind::Zonal, Some((_, z))) => Affinity::Zone(z.clone()),
            (StorageKind::Local, Some((n, _))) => Affinity::Node(n.clone()),
            (_, None) => continue,
        };
        let mut vname = format!("pv-{}", claim.name);
        if index.volumes.contains_key(&vname) {
            vname = format!("pv-{}-{}", claim.name, index.next_seq());
        }
        let ve = commands
            .spawn((
                Volume {
                    name: vname.clone(),
                    claim: claim.name.clone(),
                    kind: class.kind,
                    affinity: affinity.clone(),
                    size_gib: claim.size_gib,
                },
                VolumeStatus::default(),
                crate::sim::database::VolumeData::default(),
            ))
            .id();
        index.volumes.insert(vname.clone(), ve);
        commands.entity(ce).insert(BoundTo(ve));
        cs.volume = Some(vname.clone());
        let place = match &affinity {
            Affinity::Anywhere => "network storage, attachable on any node".to_string(),
            Affinity::Zone(z) => format!("a zonal disk in {z}: only nodes of that zone can use it"),
            Affinity::Node(n) => format!("a local disk on {n}: only that node can use it"),
        };
        let why = match class.binding {
            BindingMode::Immediate => "binding mode Immediate",
            BindingMode::WaitForFirstConsumer => {
                "WaitForFirstConsumer: placed where its first pod was scheduled"
            }
        };
        log.emit(
            now,
            SimEvent::new(
                EventKind::VolumeProvisioned,
                format!("pv/{vname}"),
                format!("{place} ({why})"),
            )
            .volume(vname.clone())
            .node_opt(target.map(|t| t.0)),
        );
        log.emit(
            now,
            SimEvent::new(
                EventKind::ClaimBound,
                format!("pvc/{}", claim.name),
                format!("bound to {vname}"),
            )
            .volume(vname),
        );
    }
}

fn finalize_claims(
    clock: Res<SimClock>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut commands: Commands,
    mut claims: Query<(Entity, &Claim, &mut ClaimStatus)>,
    pods: Query<(&Pod, &PodStatus)>,
) {
    let now = clock.now_ms;
    let mut deleting: Vec<(String, Entity)> = claims
        .iter()
        .filter(|(_, _, s)| s.deleting.is_some())
        .map(|(e, c, _)| (c.name.clone(), e))
        .collect();
    if deleting.is_empty() {
        return;
    }
    deleting.sort();
    for (name, ce) in deleting {
        let Ok((_, claim, mut cs)) = claims.get_mut(ce) else {
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
                cs.terminating_logged = true;
                log.emit(
                    now,
                    SimEvent::new(
                        EventKind::ClaimTerminating,
                        format!("pvc/{name}"),
                        format!(
                            "{reason}; kept while {user} uses it (kubernetes.io/pvc-protection)"
                        ),
                    ),
                );
            }
            continue;
        }
        let cause = cs.deleting.unwrap_or(DeletionCause::User);
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
        commands.entity(ce).despawn();
        log.emit(
            now,
            SimEvent::new(EventKind::ClaimDeleted, format!("pvc/{name}"), reason)
                .volume(cs.volume.clone().unwrap_or_default()),
        );
        let _ = claim;
    }
}

/// Released volumes (claim gone) are deleted with their data once detached
/// (reclaim policy Delete, the default for dynamic provisioning).
fn delete_released_volumes(
    clock: Res<SimClock>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut commands: Commands,
    attachments: Query<&VolumeAttachments>,
) {
    if index.released.is_empty() {
        return;
    }
    let released = std::mem::take(&mut index.released);
    for v in released {
        let Some(&ve) = index.volumes.get(&v) else {
            continue;
        };
        if attachments.get(ve).is_ok_and(|a| !a.entities().is_empty()) {
            index.released.push(v);
            continue;
        }
        index.volumes.remove(&v);
        commands.entity(ve).despawn();
        log.emit(
            clock.now_ms,
            SimEvent::new(
                EventKind::VolumeDeleted,
                format!("pv/{v}"),
                "its claim is gone and the reclaim policy is Delete: the data is gone too",
            )
            .volume(v.clone()),
        );
    }
}
