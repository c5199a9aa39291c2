//! The attach/detach controller: a ReadWriteOnce volume is attached to the
//! node of the pod that uses it, and to one node only. A volume still mounted
//! on a node that stopped reporting is force-detached only after 6 minutes
//! (maxWaitForUnmountDuration), or at once if the node carries the
//! out-of-service taint. (pkg/controller/volume/attachdetach/reconciler.)

use crate::sim::event::{EventKind, EventLog, SimEvent};
use crate::sim::model::*;
use crate::sim::{SimClock, SimSystems, Wake};
use bevy::ecs::entity::EntityHashMap;
use bevy::prelude::*;
use std::collections::HashMap;

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

/// What the controller remembers between passes, so that a pass looks only at
/// the volumes whose inputs changed: the pods that want them, their
/// attachments and those attachments' nodes, and the clock. A volume whose
/// inputs did not change and whose deadlines are not due would see nothing to do.
#[derive(Default)]
struct AttachMemory {
    ran: bool,
    /// Pods, claims, attachments, nodes, volumes counted last pass: one
    /// appearing or going makes the next pass a full one.
    counts: (usize, usize, usize, usize, usize),
    /// Volumes in name order.
    order: Vec<(String, Entity)>,
    /// The desired state: volume name → (node, pod) of the pods (not
    /// terminated) that mount it, in the order a walk over all pods meets them.
    wants: HashMap<String, Vec<(String, String, Entity)>>,
    /// Per pod: the node and the volumes it wants attached there.
    pod_wants: EntityHashMap<(String, Vec<String>)>,
    /// Attachment → its volume.
    att_volume: EntityHashMap<Entity>,
    /// Per volume: the earliest deadline it asked to be woken at, and whether
    /// its last pass did something (its own writes are not seen as changes).
    volume_memory: EntityHashMap<(Option<u64>, bool)>,
}

/// The node and volumes a pod wants attached: none unless it is scheduled to
/// a node that exists and is not terminated.
fn pod_wants(
    p: &Pod,
    s: &PodStatus,
    index: &Index,
    claims: &Query<&ClaimStatus>,
) -> (String, Vec<String>) {
    let none = (String::new(), Vec::new());
    if p.claims.is_empty() || s.terminal() {
        return none;
    }
    let Some(n) = &s.node else { return none };
    if !index.nodes.contains_key(n) {
        return none;
    }
    let vols = p
        .claims
        .iter()
        .filter_map(|c| {
            index
                .claims
                .get(c)
                .and_then(|&e| claims.get(e).ok())
                .and_then(|cs| cs.volume.clone())
        })
        .collect();
    (n.clone(), vols)
}

/// Removes and returns the entries whose entity no longer exists.
fn take_gone<V>(map: &mut EntityHashMap<V>, exists: impl Fn(Entity) -> bool) -> Vec<(Entity, V)> {
    let gone: Vec<Entity> = map.keys().copied().filter(|&e| !exists(e)).collect();
    gone.into_iter()
        .filter_map(|e| map.remove(&e).map(|v| (e, v)))
        .collect()
}

/// Pod `e` no longer wants `vols`: they are touched.
fn unwant(
    wants: &mut HashMap<String, Vec<(String, String, Entity)>>,
    e: Entity,
    vols: &[String],
    touched: &mut Vec<String>,
) {
    for v in vols {
        if let Some(w) = wants.get_mut(v) {
            w.retain(|x| x.2 != e);
        }
        touched.push(v.clone());
    }
}

#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn reconcile_attachments(
    clock: Res<SimClock>,
    mut wake: ResMut<Wake>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut commands: Commands,
    pods: Query<(Entity, &Pod, &PodStatus)>,
    changed_pods: Query<(Entity, &Pod, &PodStatus), Changed<PodStatus>>,
    claims: Query<&ClaimStatus>,
    changed_claims: Query<&Claim, Changed<ClaimStatus>>,
    mut volumes: Query<(
        Entity,
        &Volume,
        &mut VolumeStatus,
        Option<&VolumeAttachments>,
    )>,
    mut att_q: ParamSet<(
        Query<&AttachmentOf, Changed<Attachment>>,
        Query<(Entity, &Attachment, &AttachmentOf)>,
        Query<&mut Attachment>,
    )>,
    nodes: Query<&NodeState>,
    changed_nodes: Query<&Node, Changed<NodeState>>,
    new_volumes: Query<Entity, Added<Volume>>,
    added: (
        Query<(), Added<PodStatus>>,
        Query<(Entity, &AttachmentOf), Added<AttachmentOf>>,
        Query<(), Added<NodeState>>,
        Query<(), Added<ClaimStatus>>,
    ),
    mut mem: Local<AttachMemory>,
) {
    let now = clock.now_ms;
    let mem = &mut *mem;
    let counts = (
        pods.iter().len(),
        claims.iter().len(),
        att_q.p1().iter().len(),
        nodes.iter().len(),
        volumes.iter().len(),
    );
    // Something went away if there are fewer than before plus the new ones.
    let c = mem.counts;
    let pods_gone = counts.0 != c.0 + added.0.iter().count();
    let atts_gone = counts.2 != c.2 + added.1.iter().count();
    let mut full = !mem.ran
        || counts.3 != c.3 + added.2.iter().count()
        || counts.1 != c.1 + added.3.iter().count()
        || counts.4 != c.4 + new_volumes.iter().count();
    mem.ran = true;
    mem.counts = counts;

    // Volumes in name order: new ones are put in their place, and the list
    // is rebuilt when one went away.
    if mem.order.len() + new_volumes.iter().count() != counts.4 {
        mem.order.clear();
        mem.order
            .extend(volumes.iter().map(|(e, v, ..)| (v.name.clone(), e)));
        mem.order.sort();
    } else {
        for ve in new_volumes.iter() {
            if let Ok((_, v, ..)) = volumes.get(ve) {
                let key = (v.name.clone(), ve);
                if let Err(i) = mem.order.binary_search(&key) {
                    mem.order.insert(i, key);
                }
            }
        }
    }
    let order = &mem.order;
    let place = |e: Entity| -> Option<usize> {
        let (_, v, ..) = volumes.get(e).ok()?;
        order
            .binary_search_by(|(n, x)| (n.as_str(), *x).cmp(&(v.name.as_str(), e)))
            .ok()
    };

    // Volumes whose inputs changed, by their place in name order.
    let mut dirty: Vec<usize> = Vec::new();
    if !full {
        let mut touched: Vec<String> = Vec::new();
        // Pods whose status changed, and the pods of claims that changed
        // (a claim bound to its volume); claims of no StatefulSet are not
        // tied to a pod by name, so they make the pass a full one.
        let mut recompute: Vec<Entity> = changed_pods.iter().map(|(e, ..)| e).collect();
        // Pods that went away: what they wanted is wanted no more.
        if pods_gone {
            for (e, (_, vols)) in take_gone(&mut mem.pod_wants, |e| pods.contains(e)) {
                unwant(&mut mem.wants, e, &vols, &mut touched);
            }
        }
        for c in changed_claims.iter() {
            match (&c.set, c.ordinal) {
                (Some(set), Some(o)) => {
                    if let Some(&pe) = index.pods.get(&format!("{set}-{o}"))
                        && pods
                            .get(pe)
                            .is_ok_and(|(_, p, _)| p.claims.contains(&c.name))
                    {
                        recompute.push(pe);
                    }
                }
                _ => full = true,
            }
        }
        recompute.sort_unstable();
        recompute.dedup();
        for (e, p, s) in recompute.iter().filter_map(|&e| pods.get(e).ok()) {
            let new = pod_wants(p, s, &index, &claims);
            let old = mem.pod_wants.get(&e);
            if old == Some(&new) || (old.is_none() && new.1.is_empty()) {
                continue;
            }
            if let Some((_, vols)) = old {
                unwant(&mut mem.wants, e, vols, &mut touched);
            }
            for v in &new.1 {
                let w = mem.wants.entry(v.clone()).or_default();
                w.push((new.0.clone(), p.name.clone(), e));
                if w.len() > 1 {
                    // Several pods want it: their order is the order of a
                    // full walk over the pods, which only a full pass gives.
                    full = true;
                }
                touched.push(v.clone());
            }
            mem.pod_wants.insert(e, new);
        }
        let mut vol_entities: Vec<Entity> = touched
            .iter()
            .filter_map(|v| index.volumes.get(v).copied())
            .collect();
        vol_entities.extend(att_q.p0().iter().map(|a| a.0));
        // Attachments that went away: their volumes.
        for (e, of) in added.1.iter() {
            mem.att_volume.insert(e, of.0);
        }
        if atts_gone {
            let q = att_q.p1();
            for (_, v) in take_gone(&mut mem.att_volume, |e| q.contains(e)) {
                vol_entities.push(v);
            }
        }
        vol_entities.extend(new_volumes.iter());
        let changed: Vec<&str> = changed_nodes.iter().map(|n| n.name.as_str()).collect();
        if !changed.is_empty() {
            vol_entities.extend(
                att_q
                    .p1()
                    .iter()
                    .filter(|(_, a, _)| changed.contains(&a.node.as_str()))
                    .map(|(_, _, of)| of.0),
            );
        }
        for (&ve, &(deadline, active)) in &mem.volume_memory {
            if active || deadline.is_some_and(|d| d <= now) {
                vol_entities.push(ve);
            } else if let Some(d) = deadline {
                wake.at(d);
            }
        }
        dirty = vol_entities.iter().filter_map(|&e| place(e)).collect();
        dirty.sort_unstable();
        dirty.dedup();
    }
    if full {
        mem.wants.clear();
        mem.pod_wants.clear();
        mem.att_volume = att_q.p1().iter().map(|(e, _, of)| (e, of.0)).collect();
        for (e, p, s) in pods.iter() {
            let w = pod_wants(p, s, &index, &claims);
            for v in &w.1 {
                mem.wants
                    .entry(v.clone())
                    .or_default()
                    .push((w.0.clone(), p.name.clone(), e));
            }
            if !w.1.is_empty() {
                mem.pod_wants.insert(e, w);
            }
        }
        mem.volume_memory.clear();
        dirty = (0..mem.order.len()).collect();
    }

    let mut atts = att_q.p2();
    for i in dirty {
        let (vname, ve) = (mem.order[i].0.as_str(), mem.order[i].1);
        let activity_before = log.activity;
        let mut vol_deadline: Option<u64> = None;
        'volume: {
            let Ok((_, _vol, mut vs, va)) = volumes.get_mut(ve) else {
                break 'volume;
            };
            let want: Vec<(&str, &str)> = mem
                .wants
                .get(vname)
                .map(|w| w.iter().map(|(n, p, _)| (n.as_str(), p.as_str())).collect())
                .unwrap_or_default();
            let att_entities: &[Entity] = va.map_or(&[], |a| a.entities());
            if want.is_empty() && att_entities.is_empty() {
                if vs.attach_error.is_some() {
                    vs.attach_error = None;
                    log.touch();
                }
                break 'volume;
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
                break 'volume;
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
                            wake.at_noting(until_ms, &mut vol_deadline);
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
                            let mut ev = SimEvent::new(
                                EventKind::VolumeDetached,
                                format!("pv/{vname}"),
                                reason,
                            )
                            .node(a.node.clone())
                            .volume(vname.to_string());
                            if forced {
                                ev = ev.detail("force");
                            }
                            log.emit(now, ev);
                        } else {
                            wake.at_noting(until_ms, &mut vol_deadline);
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
                            wake.at_noting(now + DETACH_MS, &mut vol_deadline);
                            log.touch();
                            continue;
                        }
                        if !mounted {
                            a.state = AttachState::Detaching {
                                until_ms: now + DETACH_MS,
                            };
                            wake.at_noting(now + DETACH_MS, &mut vol_deadline);
                            log.touch();
                            continue;
                        }
                        let since = *a.detach_requested_ms.get_or_insert_with(|| {
                            log.touch();
                            now
                        });
                        let deadline = since + MAX_WAIT_FOR_UNMOUNT_MS;
                        if now < deadline {
                            wake.at_noting(deadline, &mut vol_deadline);
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
                    .find(|a| {
                        !a.forgotten && a.node != node && index.has_attachment(vname, &a.node)
                    });
                if let Some(o) = other
                    && matches!(o.state, AttachState::Detaching { .. })
                {
                    // reconciler.attachDesiredVolumes: while an operation is pending
                    // on the volume (here its detach), no attach is tried and no
                    // Multi-Attach error reported; the pod just waits for it.
                    continue;
                }
                if let Some(o) = other {
                    let why_stuck = match index.nodes.get(&o.node).and_then(|&e| nodes.get(e).ok())
                    {
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
                        wake.at_noting(now + MULTI_ATTACH_REPEAT_MS, &mut vol_deadline);
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
                        wake.at_noting(repeat, &mut vol_deadline);
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
                wake.at_noting(now + ATTACH_MS, &mut vol_deadline);
                log.touch();
            }
            if vs.attach_error != error {
                vs.attach_error = error;
                log.touch();
            }
        }
        let active = log.activity != activity_before;
        if vol_deadline.is_some() || active {
            mem.volume_memory.insert(ve, (vol_deadline, active));
        } else {
            mem.volume_memory.remove(&ve);
        }
    }
}
