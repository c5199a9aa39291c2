//! The controllers: one file each, as in kube-controller-manager, plus the
//! kubelet and the scheduler.

pub mod adoption;
mod affinity;
pub mod attach_detach;
pub mod deployment;
pub mod disruption;
pub mod kubelet;
mod kubelet_work;
pub mod node_lifecycle;
pub mod pod_gc;
pub mod reconcile;
pub mod scheduler;
pub mod statefulset;
mod statefulset_sparse;
mod statefulset_view;
pub mod volume_binding;
pub mod volume_resize;
pub mod zone_disruption;

use crate::sim::model::gone::{RemovedPods, record_removed_pod};
use bevy::prelude::*;

pub(super) fn plugin(app: &mut App) {
    // The log of despawned pods the controllers' memories read.
    app.init_resource::<RemovedPods>()
        .add_observer(record_removed_pod);
    // What was written, added and removed, for the controllers' passes.
    crate::sim::model::journal::plugin(app);
    app.add_plugins((
        kubelet::plugin,
        node_lifecycle::plugin,
        pod_gc::plugin,
        statefulset::plugin,
        adoption::plugin,
        deployment::plugin,
        scheduler::plugin,
        volume_binding::plugin,
        volume_resize::plugin,
        attach_detach::plugin,
        disruption::plugin,
    ));
}
