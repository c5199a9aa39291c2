//! The attach/detach controller: a ReadWriteOnce volume is attached to the
//! node of the pod that uses it, and to one node only. A volume still mounted
//! on a node that stopped reporting is force-detached only after 6 minutes
//! (maxWaitForUnmountDuration), or at once if the node carries the
//! out-of-service taint. (pkg/controller/volume/attachdetach/reconciler.)

use crate::sim::event::{EventKind, EventLog, SimEvent};
use crate::sim::model::*;
use crate::sim::{SimClock, SimSystems, Wake};
use bevy::prelude::*;
use std::collections::BTreeMap;

/// The attach/detach controller's system set, so binding can run before it.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttachDetach;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        crate::sim::SimSchedule,
        reconcile_attachments
            .in_set(SimSystems::Volumes)
            .in_set(AttachDetach),
    );
}

/// "4m12s".
pub fn fmt_duration(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[allow(clippy::too_many_arguments)]
fn reconcile_attachments(
    clock: Res<SimClock>,
    mut wake: ResMut<Wake>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut commands: Commands,
    pods: Query<(&Pod, &PodStatus)>,
    claims: Query<&ClaimStatus>,
    mut volumes: Query<(
        Entity,
        &Volume,
        &mut VolumeStatus,
        Option<&VolumeAttachments>,
    )>,
    mut atts: Query<&mut Attachment>,
    nodes: Query<&NodeState>,
    new_volumes: Query<(), Added<Volume>>,
    mut order: Local<Vec<(String, Entity)>>,
) {
    let now = clock.now_ms;
    // Desired state: volume → nodes of the pods (not terminated) that mount it,
    // for nodes that exist.
    let mut desired: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (p, s) in pods.iter() {
        if p.claims.is_empty() || s.terminal() {
            continue;
        }
        let Some(n) = &s.node else { continue };
        if !index.nodes.contains_key(n) {
            continue;
        }
        for c in &p.claims {
            if let Some(v) = index
                .claims
                .get(c)
                .and_then(|&e| claims.get(e).ok())
                .and_then(|cs| cs.volume.as_deref())
            {
                desired
                    .entry(v)
                    .or_default()
                    .push((n.as_str(), p.name.as_str()));
            }
        }
    }

    // Volumes in name order, rebuilt only when volumes come or go.
    if order.len() != volumes.iter().len() || !new_volumes.is_empty() {
        order.clear();
        order.extend(volumes.iter().map(|(e, v, ..)| (v.name.clone(), e)));
        order.sort();
    }
    for (vname, ve) in order.iter() {
        let (vname, ve) = (vname.as_str(), *ve);
        let Ok((_, _vol, mut vs, va)) = volumes.get_mut(ve) else {
            continue;
        };
        let want: Vec<(&str, &str)> = desired.remove(vname).unwrap_or_default();
        let att_entities: &[Entity] = va.map_or(&[], |a| a.entities());
        if want.is_empty() && att_entities.is_empty() {
            if vs.attach_error.is_some() {
                vs.attach_error = None;
                log.touch();
            }
            continue;
        }
        // The steady state: attached where its one pod runs, nothing pending.
        // (The passes below would change nothing.)
        if let ([(node, _)], [ae]) = (want.as_slice(), att_entities)
            && vs.attach_error.is_none()
            && let Ok(a) = atts.get(*ae)
            && a.state == AttachState::Attached
            && !a.forgotten
            && a.node == *node
            && a.detach_requested_ms.is_none()
        {
            continue;
        }

        // Actual state first: finish attaches and detaches, start detaches.
        for &ae in att_entities {
            let Ok(mut a) = atts.get_mut(ae) else {
                continue;
            };
            let ns = index.nodes.get(&a.node).and_then(|&e| nodes.get(e).ok());
            match a.state {
                AttachState::Attaching { until_ms } => {
                    if now >= until_ms {
                        a.state = AttachState::Attached;
                        log.emit(
                            now,
                            SimEvent::new(
                                EventKind::VolumeAttached,
                                format!("pv/{vname}"),
                                format!(
                                    "attached to {} (ReadWriteOnce: one node at a time)",
                                    a.node
                                ),
                            )
                            .node(a.node.clone())
                            .volume(vname.to_string()),
                        );
                    } else {
                        wake.at(until_ms);
                    }
                }
                AttachState::Detaching { until_ms } => {
                    if now >= until_ms {
                        index.remove_attachment(vname, &a.node);
                        commands.entity(ae).despawn();
                        let (reason, forced) = match a.detach_reason.take() {
                            Some(r) => (r, true),
                            None => (format!("detached from {}", a.node), false),
                        };
                        let mut ev =
                            SimEvent::new(EventKind::VolumeDetached, format!("pv/{vname}"), reason)
                                .node(a.node.clone())
                                .volume(vname.to_string());
                        if forced {
                            ev = ev.detail("force");
                        }
                        log.emit(now, ev);
                    } else {
                        wake.at(until_ms);
                    }
                }
                AttachState::Attached if a.forgotten => {
                    // The control plane let go of it; it disappears once the
                    // machine really unmounts it (dead, or kubelet back and done).
                    let gone = match ns {
                        None => true,
                        Some(ns) => {
                            ns.machine == Machine::Dead
                                || (ns.kubelet_connected()
                                    && !ns.volumes_in_use.iter().any(|x| x == vname))
                        }
                    };
                    if gone {
                        index.remove_attachment(vname, &a.node);
                        commands.entity(ae).despawn();
                        log.touch();
                    }
                }
                AttachState::Attached => {
                    if want.iter().any(|(n, _)| *n == a.node) {
                        if a.detach_requested_ms.is_some() {
                            a.detach_requested_ms = None;
                            log.touch();
                        }
                        continue;
                    }
                    let (mounted, out_of_service, machine) = match ns {
                        // A deleted node's last report is all we have.
                        None => (true, false, None),
                        Some(ns) => (
                            ns.volumes_in_use.iter().any(|x| x == vname),
                            ns.has_taint(TAINT_OUT_OF_SERVICE) && ns.ready != Condition::True,
                            Some(ns.machine),
                        ),
                    };
                    if out_of_service {
                        a.state = AttachState::Detaching {
                            until_ms: now + DETACH_MS,
                        };
                        a.detach_reason = Some(format!(
                            "force-detached from {}: it has the out-of-service taint (non-graceful node shutdown), so there is no 6-minute wait",
                            a.node
                        ));
                        wake.at(now + DETACH_MS);
                        log.touch();
                        continue;
                    }
                    if !mounted {
                        a.state = AttachState::Detaching {
                            until_ms: now + DETACH_MS,
                        };
                        wake.at(now + DETACH_MS);
                        log.touch();
                        continue;
                    }
                    let since = *a.detach_requested_ms.get_or_insert_with(|| {
                        log.touch();
                        now
                    });
                    let deadline = since + MAX_WAIT_FOR_UNMOUNT_MS;
                    if now < deadline {
                        wake.at(deadline);
                        continue;
                    }
                    // maxWaitForUnmountDuration is over: force-detach.
                    let partitioned = machine == Some(Machine::Partitioned);
                    let reason = if partitioned {
                        format!(
                            "force-detached from {} after 6m0s (maxWaitForUnmountDuration); the node was only cut off and still has it mounted",
                            a.node
                        )
                    } else {
                        format!(
                            "force-detached from {} after 6m0s (maxWaitForUnmountDuration): the node never reported it unmounted",
                            a.node
                        )
                    };
                    log.emit(
                        now,
                        SimEvent::new(EventKind::VolumeDetached, format!("pv/{vname}"), reason)
                            .node(a.node.clone())
                            .volume(vname.to_string())
                            .detail("force"),
                    );
                    if partitioned {
                        a.forgotten = true;
                    } else {
                        index.remove_attachment(vname, &a.node);
                        commands.entity(ae).despawn();
                    }
                }
            }
        }

        // Then attach where wanted, one node only.
        let mut error: Option<String> = None;
        for &(node, pod) in &want {
            let mine = index.attachment(vname, node);
            if mine.is_some_and(|e| atts.get(e).is_ok_and(|a| !a.forgotten)) {
                continue;
            }
            let other = att_entities
                .iter()
                .filter_map(|&e| atts.get(e).ok())
                .find(|a| !a.forgotten && a.node != node && index.has_attachment(vname, &a.node));
            if let Some(o) = other
                && matches!(o.state, AttachState::Detaching { .. })
            {
                // reconciler.attachDesiredVolumes: while an operation is pending
                // on the volume (here its detach), no attach is tried and no
                // Multi-Attach error reported; the pod just waits for it.
                continue;
            }
            if let Some(o) = other {
                let why_stuck = match index.nodes.get(&o.node).and_then(|&e| nodes.get(e).ok()) {
                    None => " (its node object was deleted; the unmount was never confirmed)",
                    Some(ns) if ns.ready != Condition::True => {
                        " (unreachable: it cannot confirm the unmount)"
                    }
                    Some(_) => "",
                };
                let countdown = match o.detach_requested_ms {
                    Some(s) => format!(
                        "; force-detach in {}",
                        fmt_duration((s + MAX_WAIT_FOR_UNMOUNT_MS).saturating_sub(now))
                    ),
                    None => String::new(),
                };
                let msg = format!(
                    "Multi-Attach error for volume {vname}: still attached to {} and it can't be attached to {node} (ReadWriteOnce)",
                    o.node
                );
                let repeat = vs.attach_error_logged_ms + MULTI_ATTACH_REPEAT_MS;
                if vs.attach_error.as_deref() != Some(msg.as_str()) || now >= repeat {
                    vs.attach_error_logged_ms = now;
                    wake.at(now + MULTI_ATTACH_REPEAT_MS);
                    log.emit(
                        now,
                        SimEvent::new(
                            EventKind::VolumeMultiAttachError,
                            format!("pod/{pod}"),
                            format!("{msg}{countdown}{why_stuck}"),
                        )
                        .node(node)
                        .volume(vname.to_string()),
                    );
                } else {
                    wake.at(repeat);
                }
                error = Some(msg);
                continue;
            }
            if mine.is_some() {
                // A forgotten attachment to this same node: the machine still
                // has it; nothing to attach.
                continue;
            }
            let ae = commands
                .spawn((
                    Attachment {
                        volume: vname.to_string(),
                        node: node.to_string(),
                        state: AttachState::Attaching {
                            until_ms: now + ATTACH_MS,
                        },
                        detach_requested_ms: None,
                        forgotten: false,
                        detach_reason: None,
                    },
                    AttachmentOf(ve),
                ))
                .id();
            index.insert_attachment(vname, node, ae);
            wake.at(now + ATTACH_MS);
            log.touch();
        }
        if vs.attach_error != error {
            vs.attach_error = error;
            log.touch();
        }
    }
}
