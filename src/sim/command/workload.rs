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

/// `kubectl delete`: the controller then removes its pods.
pub(super) fn delete(cx: &mut Ctx, name: &str) -> Result<(), String> {
    match workload(cx, name)? {
        Workload::Set(e) => {
            set_object(cx, e)?.deleting = true;
            cx.emit(SimEvent::new(
                EventKind::SetDeleted,
                format!("statefulset/{name}"),
                "deleted by the user: its pods go, its claims follow whenDeleted",
            ));
        }
        Workload::Deployment(e) => {
            deployment(cx, e)?.deleting = true;
            cx.touch();
        }
    }
    Ok(())
}
