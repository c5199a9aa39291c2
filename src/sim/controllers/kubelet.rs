//! The kubelet of every node: starts containers once volumes are attached and
//! the image is pulled, reports readiness, stops containers of deleted pods and
//! confirms their deletion, kills leftover containers, reports mounted volumes.
//! A partitioned machine's containers keep running; a dead machine has none.

use crate::sim::event::{EventKind, EventLog, SimEvent};
use crate::sim::model::*;
use crate::sim::{SimClock, SimSystems, Wake, ops};
use bevy::ecs::entity::{EntityHashMap, EntityHashSet};
use bevy::prelude::*;

/// The kubelets' system set (node lifecycle and pod GC run after it).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kubelets;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        crate::sim::SimSchedule,
        (delete_unscheduled_pods, kubelet)
            .chain()
            .in_set(SimSystems::Nodes)
            .in_set(Kubelets),
    );
}

/// A pod that was never bound to a node has no kubelet to wait for: the API
/// server deletes it at once.
fn delete_unscheduled_pods(
    clock: Res<SimClock>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut commands: Commands,
    pods: Query<(Entity, &Pod, &PodStatus)>,
) {
    let mut gone: Vec<(&str, Entity, &Pod)> = pods
        .iter()
        .filter(|(_, _, s)| s.deletion_ms.is_some() && s.node.is_none())
        .map(|(e, p, _)| (p.name.as_str(), e, p))
        .collect();
    gone.sort_by_key(|g| g.0);
    for (_, e, p) in gone {
        ops::remove_pod(
            clock.now_ms,
            e,
            p,
            None,
            &mut commands,
            &mut index,
            &mut log,
            "never scheduled to a node, so no kubelet has to confirm: deleted at once",
        );
    }
}

/// Whether all the pod's volumes are attached to `node`; otherwise why not.
fn volumes_ready(
    pod: &Pod,
    node: &str,
    index: &Index,
    claims: &Query<&ClaimStatus>,
    volumes: &Query<&VolumeStatus>,
    attachments: &Query<&Attachment>,
) -> Result<Vec<String>, String> {
    let mut vols = Vec::new();
    for c in &pod.claims {
        let Some(cs) = index.claims.get(c).and_then(|&e| claims.get(e).ok()) else {
            return Err(format!("persistentvolumeclaim {c} not found"));
        };
        let Some(v) = &cs.volume else {
            return Err(format!("waiting for claim {c} to be bound to a volume"));
        };
        let attached = index
            .attachment(v, node)
            .and_then(|e| attachments.get(e).ok())
            .is_some_and(|a| a.state == AttachState::Attached && !a.forgotten);
        if !attached {
            let err = index
                .volumes
                .get(v)
                .and_then(|&e| volumes.get(e).ok())
                .and_then(|s| s.attach_error.clone());
            return Err(
                err.unwrap_or_else(|| format!("waiting for volume {v} to attach to {node}"))
            );
        }
        vols.push(v.clone());
    }
    Ok(vols)
}

/// What the kubelets remember between passes, so that a node on which
/// nothing changed is not walked again: a kubelet acts on its pods, its
/// processes, its node's state, volume attachment and the clock, and a pass
/// over unchanged inputs before its next deadline would do nothing.
#[derive(Default)]
struct KubeletMemory {
    nodes: EntityHashMap<NodeMemory>,
    /// Attachments, claims and volumes counted last pass (one gone changes
    /// what a waiting pod waits for).
    counts: (usize, usize, usize),
    /// Nodes in name order.
    order: Vec<(String, Entity)>,
}

#[derive(Default, Clone, Copy)]
struct NodeMemory {
    pods: usize,
    procs: usize,
    /// The earliest future instant this node's kubelet asked to be woken at.
    deadline: Option<u64>,
    /// Its last pass did something (its own writes are not seen as changes).
    active: bool,
    /// It has pods waiting to start, which look at claims, volumes and
    /// attachments anywhere.
    waiting: bool,
}

/// A quick key for a uid: its first 8 bytes (uids are random); a match is
/// always confirmed by comparing the whole uid.
fn uid_key(uid: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = uid.len().min(8);
    b[..n].copy_from_slice(&uid.as_bytes()[..n]);
    u64::from_le_bytes(b)
}

#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn kubelet(
    clock: Res<SimClock>,
    mut wake: ResMut<Wake>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut commands: Commands,
    mut node_q: ParamSet<(
        Query<Entity, Changed<NodeState>>,
        Query<(
            Entity,
            &Node,
            &mut NodeState,
            Option<&NodePods>,
            Option<&NodeProcesses>,
        )>,
    )>,
    mut pod_q: ParamSet<(
        Query<&ScheduledOn, Changed<PodStatus>>,
        Query<(&Pod, &mut PodStatus)>,
    )>,
    mut proc_q: ParamSet<(Query<&RunsOn, Changed<Process>>, Query<&mut Process>)>,
    claims: Query<&ClaimStatus>,
    volumes: Query<&VolumeStatus>,
    attachments: Query<&Attachment>,
    changed_atts: Query<&Attachment, Changed<Attachment>>,
    changed_claims: Query<(), Changed<ClaimStatus>>,
    changed_volumes: Query<(), Changed<VolumeStatus>>,
    (new_attachments, new_nodes): (Query<(), Added<Attachment>>, Query<(), Added<Node>>),
    mut mem: Local<KubeletMemory>,
) {
    let now = clock.now_ms;
    // Nodes with something new since the last pass. A claim, volume or
    // attachment changing anywhere matters to nodes with pods waiting to start.
    let counts = (
        attachments.iter().len(),
        claims.iter().len(),
        volumes.iter().len(),
    );
    let storage_changed = counts.0 != mem.counts.0 + new_attachments.iter().count()
        || (counts.1, counts.2) != (mem.counts.1, mem.counts.2)
        || !changed_claims.is_empty()
        || !changed_volumes.is_empty();
    mem.counts = counts;
    let mut dirty: EntityHashSet = EntityHashSet::default();
    dirty.extend(node_q.p0().iter());
    dirty.extend(pod_q.p0().iter().map(|s| s.0));
    dirty.extend(proc_q.p0().iter().map(|r| r.0));
    dirty.extend(
        changed_atts
            .iter()
            .filter_map(|a| index.nodes.get(&a.node).copied()),
    );
    let mut nodes = node_q.p1();
    let mut pods = pod_q.p1();
    let mut procs = proc_q.p1();

    if mem.order.len() != nodes.iter().len() || !new_nodes.is_empty() {
        mem.order = nodes.iter().map(|(e, n, ..)| (n.name.clone(), e)).collect();
        mem.order.sort();
    }
    for i in 0..mem.order.len() {
        let node_e = mem.order[i].1;
        let Ok((_, _, _, node_pods, node_procs)) = nodes.get(node_e) else {
            continue;
        };
        let n_pods = node_pods.map_or(0, |p| p.len());
        let n_procs = node_procs.map_or(0, |p| p.len());
        if !dirty.contains(&node_e)
            && let Some(m) = mem.nodes.get(&node_e)
            && !(storage_changed && m.waiting)
            && !m.active
            && (m.pods, m.procs) == (n_pods, n_procs)
            && m.deadline.is_none_or(|d| d > now)
        {
            if let Some(d) = m.deadline {
                wake.at(d);
            }
            continue;
        }
        // Only a node that is walked needs its name copied.
        let node_name = mem.order[i].0.clone();
        let activity_before = log.activity;
        let mut deadline: Option<u64> = None;
        let mut waiting_pods = false;
        'node: {
            let Ok((_, _, mut ns, node_pods, node_procs)) = nodes.get_mut(node_e) else {
                break 'node;
            };
            let proc_entities: Vec<Entity> = node_procs
                .map(|p| p.entities().to_vec())
                .unwrap_or_default();

            // Local process life goes on whether or not the API server is reachable.
            for &pe in &proc_entities {
                let Ok(mut p) = procs.get_mut(pe) else {
                    continue;
                };
                match p.stage {
                    ProcessStage::Starting { until_ms } if ns.machine != Machine::Dead => {
                        if now >= until_ms {
                            p.stage = ProcessStage::Running;
                            p.ready_at_ms = now;
                            log.touch();
                        } else {
                            wake.at_noting(until_ms, &mut deadline);
                        }
                    }
                    ProcessStage::Stopping { until_ms } => {
                        if now >= until_ms {
                            commands.entity(pe).despawn();
                            log.touch();
                        } else {
                            wake.at_noting(until_ms, &mut deadline);
                        }
                    }
                    _ => {}
                }
            }
            if !ns.kubelet_connected() {
                break 'node;
            }
            // Heartbeats: NodeState::heartbeat_at derives the last one from
            // the machine's state, so they need no write here.

            let mut pod_entities: Vec<Entity> =
                node_pods.map(|p| p.entities().to_vec()).unwrap_or_default();
            pod_entities.sort_by_key(|&e| pods.get(e).map(|(p, _)| p.seq).unwrap_or(0));
            // Processes by a hash of their pod's uid (checked in full on a match).
            let proc_uids: Vec<(u64, Entity)> = proc_entities
                .iter()
                .filter_map(|&e| procs.get(e).ok().map(|p| (uid_key(&p.pod_uid), e)))
                .collect();
            let mut known_uids: Vec<(u64, Entity)> = Vec::with_capacity(pod_entities.len());
            for pod_e in pod_entities {
                let Ok((pod, mut st)) = pods.get_mut(pod_e) else {
                    continue;
                };
                let uid_hash = uid_key(&pod.uid);
                known_uids.push((uid_hash, pod_e));
                let proc_e = proc_uids
                    .iter()
                    .filter(|(h, _)| *h == uid_hash)
                    .map(|&(_, e)| e)
                    .find(|&e| procs.get(e).is_ok_and(|p| p.pod_uid == pod.uid));

                if st.deletion_ms.is_some() {
                    match proc_e {
                        Some(pe) => {
                            let Ok(mut p) = procs.get_mut(pe) else {
                                continue;
                            };
                            if !matches!(p.stage, ProcessStage::Stopping { .. }) {
                                let until = now + pod.template.stop_ms();
                                p.stage = ProcessStage::Stopping { until_ms: until };
                                wake.at_noting(until, &mut deadline);
                                if st.ready {
                                    st.ready = false;
                                    st.ready_since_ms = None;
                                }
                                log.touch();
                            }
                        }
                        None => {
                            let reason = format!(
                                "the kubelet on {node_name} saw the container stop and confirmed the deletion; the name {} is free again",
                                pod.name
                            );
                            ops::remove_pod(
                                now,
                                pod_e,
                                pod,
                                Some(node_name.clone()),
                                &mut commands,
                                &mut index,
                                &mut log,
                                reason,
                            );
                        }
                    }
                    continue;
                }
                if st.terminal() {
                    if let Some(pe) = proc_e {
                        commands.entity(pe).despawn();
                        log.touch();
                    }
                    continue;
                }
                match proc_e {
                    Some(pe) => {
                        let Ok(mut p) = procs.get_mut(pe) else {
                            continue;
                        };
                        match p.stage {
                            ProcessStage::Running => {
                                if st.phase != PodPhase::Running {
                                    st.phase = PodPhase::Running;
                                    st.waiting = None;
                                    p.ready_at_ms = now + pod.template.ready_ms();
                                    log.emit(
                                        now,
                                        SimEvent::new(
                                            EventKind::PodStarted,
                                            format!("pod/{}", pod.name),
                                            format!(
                                                "container {} started on {node_name}",
                                                pod.template.image
                                            ),
                                        )
                                        .node(node_name.clone()),
                                    );
                                }
                                let want_ready =
                                    !st.readiness_broken && !p.hold_ready && now >= p.ready_at_ms;
                                if !want_ready && !st.readiness_broken && !p.hold_ready {
                                    wake.at_noting(p.ready_at_ms, &mut deadline);
                                }
                                if want_ready && !st.ready {
                                    st.ready = true;
                                    st.ready_since_ms = Some(now);
                                    let reason = match &pod.dns {
                                        Some(d) => {
                                            format!(
                                                "readiness probe passed; {d} now resolves to it"
                                            )
                                        }
                                        None => "readiness probe passed; the pod receives traffic"
                                            .to_string(),
                                    };
                                    log.emit(
                                        now,
                                        SimEvent::new(
                                            EventKind::PodReady,
                                            format!("pod/{}", pod.name),
                                            reason,
                                        )
                                        .node(node_name.clone()),
                                    );
                                } else if !want_ready && st.ready {
                                    st.ready = false;
                                    st.ready_since_ms = None;
                                    log.emit(
                                    now,
                                    SimEvent::new(
                                        EventKind::PodNotReady,
                                        format!("pod/{}", pod.name),
                                        "readiness probe failing: removed from the service's endpoints and DNS",
                                    )
                                    .node(node_name.clone()),
                                );
                                }
                            }
                            ProcessStage::Starting { .. } => {}
                            ProcessStage::Stopping { .. } => {}
                        }
                    }
                    None => {
                        // No container yet: volumes, then the image, then start.
                        waiting_pods = true;
                        let waiting = match volumes_ready(
                            pod,
                            &node_name,
                            &index,
                            &claims,
                            &volumes,
                            &attachments,
                        ) {
                            Err(w) => Some(w),
                            Ok(vols) => {
                                if index.broken_images.contains(&pod.template.image) {
                                    Some(format!(
                                        "ErrImagePull: image {} cannot be pulled (ImagePullBackOff)",
                                        pod.template.image
                                    ))
                                } else {
                                    let until = now + pod.template.start_ms();
                                    commands.spawn((
                                        Process {
                                            pod: pod.name.clone(),
                                            pod_uid: pod.uid.clone(),
                                            owner: pod.owner.clone(),
                                            ordinal: pod.ordinal,
                                            node: node_name.clone(),
                                            stage: ProcessStage::Starting { until_ms: until },
                                            started_ms: now,
                                            ready_at_ms: u64::MAX,
                                            volumes: vols,
                                            image: pod.template.image.clone(),
                                            hold_ready: false,
                                        },
                                        RunsOn(node_e),
                                    ));
                                    wake.at_noting(until, &mut deadline);
                                    if st.phase == PodPhase::Running {
                                        // The container is gone (machine reboot): restart it.
                                        st.restarts += 1;
                                        st.phase = PodPhase::ContainerCreating;
                                        st.ready = false;
                                        st.ready_since_ms = None;
                                    }
                                    log.touch();
                                    None
                                }
                            }
                        };
                        if st.phase == PodPhase::Pending {
                            st.phase = PodPhase::ContainerCreating;
                            log.touch();
                        }
                        if st.waiting != waiting {
                            if let Some(w) = &waiting
                                && w.starts_with("ErrImagePull")
                            {
                                log.emit(
                                    now,
                                    SimEvent::new(
                                        EventKind::ImagePullFailed,
                                        format!("pod/{}", pod.name),
                                        w.clone(),
                                    )
                                    .node(node_name.clone()),
                                );
                            }
                            st.waiting = waiting;
                            log.touch();
                        }
                    }
                }
            }

            // Containers whose pod object is gone (force-deleted while the node
            // was cut off): the kubelet kills them once it can see the API again.
            for &pe in &proc_entities {
                let Ok(mut p) = procs.get_mut(pe) else {
                    continue;
                };
                let h = uid_key(&p.pod_uid);
                let known = known_uids.iter().any(|&(kh, pe)| {
                    kh == h && pods.get(pe).is_ok_and(|(q, _)| q.uid == p.pod_uid)
                });
                if known || matches!(p.stage, ProcessStage::Stopping { .. }) {
                    continue;
                }
                let until = now + 2_000;
                p.stage = ProcessStage::Stopping { until_ms: until };
                wake.at_noting(until, &mut deadline);
                log.emit(
                now,
                SimEvent::new(
                    EventKind::ProcessStopped,
                    format!("pod/{}", p.pod),
                    format!(
                        "the kubelet on {node_name} found a container of {} (uid {}) whose pod object no longer exists and kills it",
                        p.pod,
                        &p.pod_uid[..8.min(p.pod_uid.len())]
                    ),
                )
                .node(node_name.clone()),
            );
            }

            // node.status.volumesInUse.
            let mut in_use: Vec<&str> = proc_entities
                .iter()
                .filter_map(|&e| procs.get(e).ok())
                .flat_map(|p| p.volumes.iter().map(String::as_str))
                .collect();
            in_use.sort_unstable();
            in_use.dedup();
            if !in_use.iter().eq(ns.volumes_in_use.iter()) {
                ns.volumes_in_use = in_use.into_iter().map(String::from).collect();
                log.touch();
            }
        }
        mem.nodes.insert(
            node_e,
            NodeMemory {
                pods: n_pods,
                procs: n_procs,
                deadline,
                active: log.activity != activity_before,
                waiting: waiting_pods,
            },
        );
    }
}
