//! Claim expansion after the request grew (`kubectl patch pvc`): the CSI
//! external resizer expands the volume, then the kubelet of a node where a
//! pod uses the claim grows its file system online, and the claim's
//! capacity becomes the new size (docs/semantics.md §4.7 claim-expansion).
//! The system gathers the claims under way, `resize_step` decides, the
//! system applies.

use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::K8sRecord;
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use crate::sim::{SimSchedule, SimSystems};
use bevy::prelude::*;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<ClaimResizes>().add_systems(
        SimSchedule,
        resize_claims
            .in_set(SimSystems::Volumes)
            .after(super::attach_detach::AttachDetach),
    );
}

/// What happens to one claim's expansion now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResizeStep {
    /// Nothing yet; look again at the instant, if any.
    Wait(Option<u64>),
    /// The external resizer is done: the volume has the new size; the file
    /// system must be grown on a node (FileSystemResizeRequired).
    VolumeExpanded,
    /// A kubelet mounts it: it finishes NodeExpandVolume at the instant.
    FileSystemStarts(u64),
    /// The file system is grown: capacity is the new size.
    Done,
}

/// The next step of an expansion at `now`. `mounted_on`: the node of a pod
/// that uses the claim, whose kubelet is up (a Ready node), if any
/// (the kubelet's volume manager expands a mounted volume online:
/// operation_generator.go `nodeExpandVolume`).
pub fn resize_step(stage: ResizeStage, mounted_on: Option<&str>, now: u64) -> ResizeStep {
    match stage {
        ResizeStage::Controller { until_ms } if now >= until_ms => ResizeStep::VolumeExpanded,
        ResizeStage::Controller { until_ms } => ResizeStep::Wait(Some(until_ms)),
        ResizeStage::FileSystem { until_ms: Some(t) } if now >= t => ResizeStep::Done,
        ResizeStage::FileSystem { until_ms: Some(t) } => ResizeStep::Wait(Some(t)),
        ResizeStage::FileSystem { until_ms: None } => match mounted_on {
            Some(_) => ResizeStep::FileSystemStarts(now + RESIZE_FILE_SYSTEM_MS),
            None => ResizeStep::Wait(None),
        },
    }
}

type ClaimItem = (&'static Claim, &'static mut ClaimStatus);

fn resize_claims(
    mut cluster: Cluster,
    mut resizes: ResMut<ClaimResizes>,
    mut claims: Query<ClaimItem>,
    pods: Query<(&Pod, &PodStatus)>,
    nodes: Query<&NodeState>,
    mut volumes: Query<&mut Volume>,
) {
    if resizes.0.is_empty() {
        return;
    }
    resizes
        .0
        .retain(|&e| claims.get(e).is_ok_and(|(_, s)| s.resize.is_some()));
    let mut list: Vec<(String, Entity)> = resizes
        .0
        .iter()
        .filter_map(|&e| claims.get(e).ok().map(|(c, _)| (c.name.clone(), e)))
        .collect();
    list.sort();
    let now = cluster.now();
    for (name, ce) in list {
        let Ok((claim, cs)) = claims.get(ce) else {
            continue;
        };
        let Some(resize) = cs.resize else {
            continue;
        };
        let mounted = mounted_on(&cluster, &name, &pods, &nodes);
        let step = resize_step(resize.stage, mounted.as_deref(), now);
        let (size, volume) = (claim.size_gib, cs.volume.clone().unwrap_or_default());
        match step {
            ResizeStep::Wait(t) => {
                if let Some(t) = t {
                    cluster.wake_at(t);
                }
                continue;
            }
            ResizeStep::VolumeExpanded => {
                set_volume_size(&cluster, &mut volumes, &volume, size);
                // A kubelet that mounts it starts growing the file system
                // at once.
                let until_ms = mounted.as_ref().map(|_| now + RESIZE_FILE_SYSTEM_MS);
                set_stage(
                    &mut cluster,
                    &mut claims,
                    ce,
                    Some(ResizeStage::FileSystem { until_ms }),
                );
                if let Some(t) = until_ms {
                    cluster.wake_at(t);
                }
                cluster.emit(
                    SimEvent::new(
                        EventKind::FileSystemResizePending,
                        format!("pvc/{name}"),
                        format!(
                            "volume {volume} is now {size}Gi; its file system must be grown by the kubelet of a node where a pod uses the claim (condition FileSystemResizePending)"
                        ),
                    )
                    .volume(volume.clone())
                    .k8s(K8sRecord::normal(
                        "FileSystemResizeRequired",
                        format!("persistentvolumeclaim/{name}"),
                        "Require file system resize of volume on node",
                    )),
                );
            }
            ResizeStep::FileSystemStarts(t) => {
                set_stage(
                    &mut cluster,
                    &mut claims,
                    ce,
                    Some(ResizeStage::FileSystem { until_ms: Some(t) }),
                );
                cluster.wake_at(t);
            }
            ResizeStep::Done => {
                set_stage(&mut cluster, &mut claims, ce, None);
                let node = mounted.unwrap_or_default();
                let message = format!(
                    "MountVolume.NodeExpandVolume succeeded for volume \"{volume}\" {node}"
                );
                cluster.emit(
                    SimEvent::new(
                        EventKind::FileSystemResized,
                        format!("pvc/{name}"),
                        format!(
                            "the kubelet on {node} grew the file system online (no restart): the claim's capacity is {size}Gi"
                        ),
                    )
                    .node(node.clone())
                    .volume(volume.clone())
                    .k8s(K8sRecord::normal(
                        "FileSystemResizeSuccessful",
                        format!("persistentvolumeclaim/{name}"),
                        message,
                    )),
                );
            }
        }
    }
}

/// The node of the first pod (by name) that uses claim `name`, is bound to
/// a node and not finished, where the kubelet is up (Ready).
fn mounted_on(
    cluster: &Cluster,
    name: &str,
    pods: &Query<(&Pod, &PodStatus)>,
    nodes: &Query<&NodeState>,
) -> Option<String> {
    let mut users: Vec<(&str, &str)> = pods
        .iter()
        .filter(|(p, s)| p.claims.iter().any(|c| c == name) && !s.terminal())
        .filter_map(|(p, s)| s.node.as_deref().map(|n| (p.name.as_str(), n)))
        .collect();
    users.sort();
    users
        .into_iter()
        .map(|(_, n)| n)
        .find(|n| {
            cluster
                .index
                .nodes
                .get(n)
                .and_then(|&e| nodes.get(e).ok())
                .is_some_and(|ns| ns.ready == Condition::True)
        })
        .map(str::to_string)
}

/// The PV's capacity becomes the new size.
fn set_volume_size(cluster: &Cluster, volumes: &mut Query<&mut Volume>, volume: &str, size: u32) {
    if let Some(&ve) = cluster.index.volumes.get(volume)
        && let Ok(mut v) = volumes.get_mut(ve)
    {
        v.size_gib = size;
    }
}

/// Moves the expansion to `stage` (None: finished), noting the write.
fn set_stage(
    cluster: &mut Cluster,
    claims: &mut Query<ClaimItem>,
    ce: Entity,
    stage: Option<ResizeStage>,
) {
    cluster.journal.claims.note(ce);
    if let Ok((_, mut cs)) = claims.get_mut(ce) {
        cs.resize = match (cs.resize, stage) {
            (Some(r), Some(stage)) => Some(ClaimResize { stage, ..r }),
            _ => None,
        };
    }
    cluster.touch();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resizer_expands_the_volume_then_a_kubelet_that_mounts_it_grows_the_file_system() {
        let c = ResizeStage::Controller { until_ms: 5_000 };
        assert_eq!(resize_step(c, None, 4_999), ResizeStep::Wait(Some(5_000)));
        assert_eq!(resize_step(c, None, 5_000), ResizeStep::VolumeExpanded);
        let fs = ResizeStage::FileSystem { until_ms: None };
        assert_eq!(
            resize_step(fs, None, 6_000),
            ResizeStep::Wait(None),
            "pending until a pod mounts it"
        );
        assert_eq!(
            resize_step(fs, Some("node-a"), 6_000),
            ResizeStep::FileSystemStarts(6_000 + RESIZE_FILE_SYSTEM_MS)
        );
        let going = ResizeStage::FileSystem {
            until_ms: Some(8_000),
        };
        assert_eq!(resize_step(going, Some("node-a"), 8_000), ResizeStep::Done);
    }
}
