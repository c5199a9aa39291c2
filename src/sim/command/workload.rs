//! Verbs on workloads (StatefulSets and Deployments): scale, change the
//! image, the partition or maxUnavailable, delete.

use super::Ctx;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::*;
use crate::sim::validate;
use bevy::prelude::*;

/// The workload a command names.
enum Workload {
    Set(Entity),
    Deployment(Entity),
}

fn workload(cx: &Ctx, name: &str) -> Result<Workload, String> {
    let index = cx.index();
    if let Some(&e) = index.sets.get(name) {
        Ok(Workload::Set(e))
    } else if let Some(&e) = index.deployments.get(name) {
        Ok(Workload::Deployment(e))
    } else {
        Err(format!("no StatefulSet or Deployment named {name}"))
    }
}

/// The StatefulSet a command names (not a Deployment).
fn statefulset<'a>(cx: &'a mut Ctx, name: &str) -> Result<Mut<'a, StatefulSet>, String> {
    let e = *cx
        .index()
        .sets
        .get(name)
        .ok_or(format!("no StatefulSet named {name}"))?;
    set_object(cx, e)
}

fn set_object<'a>(cx: &'a mut Ctx, e: Entity) -> Result<Mut<'a, StatefulSet>, String> {
    cx.world
        .get_mut::<StatefulSet>(e)
        .ok_or_else(|| "set is gone".into())
}

fn deployment<'a>(cx: &'a mut Ctx, e: Entity) -> Result<Mut<'a, Deployment>, String> {
    cx.world
        .get_mut::<Deployment>(e)
        .ok_or_else(|| "deployment is gone".into())
}

/// `kubectl scale`: spec.replicas.
pub(super) fn scale(cx: &mut Ctx, name: &str, replicas: u32) -> Result<(), String> {
    validate::replicas(replicas)?;
    let (kind, obj, old) = match workload(cx, name)? {
        Workload::Set(e) => {
            let mut s = set_object(cx, e)?;
            let old = std::mem::replace(&mut s.spec.replicas, replicas);
            (EventKind::SetScaled, format!("statefulset/{name}"), old)
        }
        Workload::Deployment(e) => {
            let mut d = deployment(cx, e)?;
            let old = std::mem::replace(&mut d.spec.replicas, replicas);
            (
                EventKind::DeploymentScaled,
                format!("deployment/{name}"),
                old,
            )
        }
    };
    cx.emit(SimEvent::new(
        kind,
        obj,
        format!("spec.replicas {old} → {replicas}"),
    ));
    Ok(())
}

/// A new template image: a new revision (the controllers roll it out).
pub(super) fn set_image(cx: &mut Ctx, name: &str, image: &str) -> Result<(), String> {
    validate::image(image)?;
    match workload(cx, name)? {
        Workload::Set(e) => {
            let mut s = set_object(cx, e)?;
            let old = std::mem::replace(&mut s.spec.template.image, image.to_string());
            cx.emit(SimEvent::new(
                EventKind::SetUpdated,
                format!("statefulset/{name}"),
                format!(
                    "template image {old} → {image}: the template hash, so the update revision, changes"
                ),
            ));
        }
        Workload::Deployment(e) => {
            deployment(cx, e)?.spec.template.image = image.to_string();
            cx.touch();
        }
    }
    Ok(())
}

/// The rolling update's partition: only ordinals at or above it are updated.
pub(super) fn set_partition(cx: &mut Ctx, name: &str, partition: u32) -> Result<(), String> {
    match &mut statefulset(cx, name)?.spec.update_strategy {
        UpdateStrategy::RollingUpdate { partition: p, .. } => *p = partition,
        UpdateStrategy::OnDelete => {
            return Err("the set uses OnDelete: there is no partition".into());
        }
    }
    cx.emit(SimEvent::new(
        EventKind::SetUpdated,
        format!("statefulset/{name}"),
        format!("partition → {partition}: only ordinals ≥ {partition} are updated"),
    ));
    Ok(())
}

/// The rolling update's maxUnavailable.
pub(super) fn set_max_unavailable(
    cx: &mut Ctx,
    name: &str,
    value: &IntOrPercent,
) -> Result<(), String> {
    validate::int_or_percent("max_unavailable", value)?;
    let version = cx.world.resource::<crate::sim::version::ClusterVersion>();
    if !version.enabled(crate::sim::version::FeatureGate::MaxUnavailableStatefulSet) {
        // The update is accepted, but the API server drops the field.
        let reason = version.max_unavailable_dropped(value);
        if let UpdateStrategy::OnDelete = statefulset(cx, name)?.spec.update_strategy {
            return Err("the set uses OnDelete".into());
        }
        cx.emit(SimEvent::new(
            EventKind::FieldDropped,
            format!("statefulset/{name}"),
            reason,
        ));
        return Ok(());
    }
    match &mut statefulset(cx, name)?.spec.update_strategy {
        UpdateStrategy::RollingUpdate {
            max_unavailable, ..
        } => *max_unavailable = value.clone(),
        UpdateStrategy::OnDelete => return Err("the set uses OnDelete".into()),
    }
    cx.emit(SimEvent::new(
        EventKind::SetUpdated,
        format!("statefulset/{name}"),
        format!("maxUnavailable → {}", value.describe()),
    ));
    Ok(())
}

/// `kubectl delete`: the controller then removes its pods. With `orphan`
/// (`--cascade=orphan`) the pods and claims stay (`orphan_set`).
pub(super) fn delete(cx: &mut Ctx, name: &str, orphan: bool) -> Result<(), String> {
    match workload(cx, name)? {
        Workload::Set(e) if orphan => orphan_set(cx, name, e),
        Workload::Set(e) => {
            set_object(cx, e)?.deleting = true;
            cx.emit(SimEvent::new(
                EventKind::SetDeleted,
                format!("statefulset/{name}"),
                "deleted by the user: its pods go, its claims follow whenDeleted",
            ));
            Ok(())
        }
        Workload::Deployment(_) if orphan => Err(format!(
            "--cascade=orphan is simulated for StatefulSets only; {name} is a Deployment"
        )),
        Workload::Deployment(e) => {
            deployment(cx, e)?.deleting = true;
            cx.touch();
            Ok(())
        }
    }
}

/// `kubectl delete statefulset NAME --cascade=orphan`: the API server sets
/// the orphan finalizer; the garbage collector removes the set's
/// ownerReference from every dependent (its pods, the claims it owns under
/// whenDeleted: Delete, its ControllerRevisions), then the finalizer, and
/// the object goes (garbagecollector.go `orphanDependents`). Nothing is
/// stopped: the pods run on with no controller. All of it at once here.
fn orphan_set(cx: &mut Ctx, name: &str, e: Entity) -> Result<(), String> {
    if set_object(cx, e)?.deleting {
        return Err(format!(
            "statefulset {name} is already being deleted with its pods"
        ));
    }
    let mut pods: Vec<(String, Entity)> = cx
        .world
        .get::<OwnedPods>(e)
        .map(|o| o.entities().to_vec())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|pe| cx.world.get::<Pod>(pe).map(|p| (p.name.clone(), pe)))
        .collect();
    pods.sort();
    for (pod, pe) in &pods {
        cx.world.entity_mut(*pe).remove::<PodOf>();
        cx.world
            .resource_mut::<crate::sim::model::journal::Journal>()
            .pods
            .note(*pe);
        cx.world.get_resource_or_init::<Orphaned>().pods.push(*pe);
        cx.emit(SimEvent::new(
            EventKind::PodOrphaned,
            format!("pod/{pod}"),
            format!(
                "the garbage collector removed its ownerReference to statefulset/{name} (deleted with --cascade=orphan): it keeps running, with no controller; nothing recreates it if it goes"
            ),
        ));
    }
    let claims = release_claims(cx, name);
    let revisions = cx
        .world
        .get_mut::<SetStatus>(e)
        .map(|mut st| std::mem::take(&mut st.revisions))
        .unwrap_or_default();
    let n_revisions = revisions.len();
    cx.world
        .get_resource_or_init::<Orphaned>()
        .revisions
        .insert(name.to_string(), revisions);
    cx.world.resource_mut::<Index>().sets.remove(name);
    cx.world.despawn(e);
    cx.emit(SimEvent::new(
        EventKind::SetDeleted,
        format!("statefulset/{name}"),
        format!(
            "deleted with --cascade=orphan: the garbage collector removed the ownerReferences to it from {} (the orphan finalizer), then the object went; nothing was stopped",
            orphaned_words(pods.len(), claims, n_revisions)
        ),
    ));
    Ok(())
}

/// "its 3 pods, 3 claims and 1 ControllerRevision": what an orphan deletion
/// left without an owner.
fn orphaned_words(pods: usize, claims: usize, revisions: usize) -> String {
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    let mut parts = vec![n(pods, "pod", "pods")];
    if claims > 0 {
        parts.push(n(claims, "claim", "claims"));
    }
    parts.push(n(revisions, "ControllerRevision", "ControllerRevisions"));
    let last = parts.pop().unwrap_or_default();
    format!("its {} and {last}", parts.join(", "))
}

/// Removes the ownerReference to StatefulSet `set` from every claim that
/// has one (whenDeleted: Delete): the claims are kept. Returns how many.
fn release_claims(cx: &mut Ctx, set: &str) -> usize {
    let mut owned: Vec<(String, Entity)> = cx
        .world
        .query::<(Entity, &Claim, &ClaimStatus)>()
        .iter(cx.world)
        .filter(|(_, _, cs)| {
            cs.owner_refs
                .iter()
                .any(|r| r.kind == OwnerRefKind::StatefulSet && r.name == set)
        })
        .map(|(ce, c, _)| (c.name.clone(), ce))
        .collect();
    owned.sort();
    for (_, ce) in &owned {
        cx.world
            .resource_mut::<crate::sim::model::journal::Journal>()
            .claims
            .note(*ce);
        if let Some(mut cs) = cx.world.get_mut::<ClaimStatus>(*ce) {
            cs.owner_refs
                .retain(|r| !(r.kind == OwnerRefKind::StatefulSet && r.name == set));
        }
    }
    owned.len()
}
