//! The kubelet of every node: starts containers once volumes are attached and
//! the image is pulled, reports readiness, stops containers of deleted pods and
//! confirms their deletion, kills leftover containers, reports mounted volumes.
//! A partitioned machine's containers keep running; a dead machine has none.
//!
//! The system gathers which nodes have something new, walks those in name
//! order, and for each container and pod asks a pure rule (`process_tick`,
//! `pod_step`, `readiness`, `start_plan`, `is_orphan`) what to do, then applies it.

use super::kubelet_work::NodeWork;
use crate::sim::SimSystems;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::{K8sRecord, container_name};
use crate::sim::model::gone::{RemovedPods, Tally};
use crate::sim::model::journal::{Journal, Trail, candidates, debug_same};
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use bevy::ecs::entity::{EntityHashMap, EntityHashSet};
use bevy::ecs::system::SystemParam;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;

/// The kubelets' system set (node lifecycle and pod GC run after it).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kubelets;

pub(super) fn plugin(app: &mut App) {
    // A check aid: SIM_KUBELET_FULL_WALK=1 makes every event log comparable
    // with the one a kubelet walking every pod of a changed node writes.
    if std::env::var_os("SIM_KUBELET_FULL_WALK").is_some_and(|v| v == "1") {
        app.insert_resource(KubeletFullWalk(true));
    }
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
///
/// Only a pod whose status was written since the last pass can newly be
/// such a pod (its deletion is a write), so the journal's pod trail is read
/// rather than every pod.
fn delete_unscheduled_pods(
    mut cluster: Cluster,
    pods: Query<(Entity, &Pod, &PodStatus)>,
    mut cursor: Local<usize>,
) {
    let doomed = |s: &PodStatus| s.deletion_ms.is_some() && s.node.is_none();
    let walk = || -> Vec<Entity> {
        pods.iter()
            .filter(|(_, _, s)| doomed(s))
            .map(|(e, _, _)| e)
            .collect()
    };
    let found: Vec<Entity> = match candidates(&cluster.journal.pods, &mut cursor) {
        Some(v) => v
            .into_iter()
            .filter(|&e| pods.get(e).is_ok_and(|(_, _, s)| doomed(s)))
            .collect(),
        None => walk(),
    };
    debug_same("unscheduled pods being deleted", &found, walk);
    let mut unbound: Vec<(&str, Entity, &Pod)> = found
        .into_iter()
        .filter_map(|e| pods.get(e).ok())
        .map(|(e, p, _)| (p.name.as_str(), e, p))
        .collect();
    unbound.sort_by_key(|g| g.0);
    for (_, e, p) in unbound {
        cluster.remove_pod(
            e,
            p,
            None,
            "never scheduled to a node, so no kubelet has to confirm: deleted at once",
        );
    }
}

// ---------------------------------------------------------------------------
// The rules: pure functions of what a kubelet sees.

/// What local process life does to one container this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcessTick {
    Nothing,
    /// It finished starting: it runs now.
    Started,
    /// It finished stopping: the process is gone.
    Exited,
    /// Its start or stop completes at this instant.
    Until(u64),
}

/// Containers start and stop on the machine whether or not the API server is
/// reachable; on a dead machine nothing finishes starting.
fn process_tick(stage: ProcessStage, machine: Machine, now: u64) -> ProcessTick {
    match stage {
        ProcessStage::Starting { until_ms } if machine != Machine::Dead => {
            if now >= until_ms {
                ProcessTick::Started
            } else {
                ProcessTick::Until(until_ms)
            }
        }
        ProcessStage::Stopping { until_ms } => {
            if now >= until_ms {
                ProcessTick::Exited
            } else {
                ProcessTick::Until(until_ms)
            }
        }
        _ => ProcessTick::Nothing,
    }
}

/// The container of a pod as its kubelet sees it.
#[derive(Debug, Clone, Copy)]
struct Container {
    stage: ProcessStage,
    ready_at_ms: u64,
    hold_ready: bool,
    /// The kubelet has reported this container started.
    reported: bool,
    /// An init container of the pod still runs (index).
    init: Option<u32>,
}

/// A pod as its kubelet sees it: the status fields its rules read, the
/// template's timings, and its container if one exists.
#[derive(Debug, Clone, Copy)]
struct PodView {
    deleting: bool,
    terminal: bool,
    ready: bool,
    readiness_broken: bool,
    stop_ms: u64,
    ready_ms: u64,
    container: Option<Container>,
    /// When the container exited, while it waits to be restarted.
    exited_ms: Option<u64>,
    backoff: RestartBackOff,
    /// The container crashes again each time it starts, this many times.
    crashes_left: u32,
}

impl PodView {
    fn of(pod: &Pod, st: &PodStatus, container: Option<Container>) -> Self {
        PodView {
            deleting: st.deletion_ms.is_some(),
            terminal: st.terminal(),
            ready: st.ready,
            readiness_broken: st.readiness_broken,
            stop_ms: pod.template.stop_ms(),
            ready_ms: pod.template.ready_ms(),
            container,
            exited_ms: st.backoff.exited_ms,
            backoff: st.backoff,
            crashes_left: st.crashes_left,
        }
    }
}

/// What the kubelet does for one of its pods this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodStep {
    /// Nothing: the container is starting or already stopping, or a finished
    /// pod has none.
    Nothing,
    /// The pod is being deleted and its container runs: SIGTERM; it exits at
    /// `until_ms` and the pod leaves the endpoints at once.
    Stop { until_ms: u64 },
    /// The pod is being deleted and its container is gone: the kubelet
    /// confirms the deletion and the pod's name is free again.
    ConfirmDeletion,
    /// A finished (Succeeded/Failed) pod's container is removed.
    RemoveContainer,
    /// The container runs: report that it started, and its readiness.
    Report(Readiness),
    /// No container yet: create one if volumes and image allow.
    Create,
    /// The container exited (restartPolicy Always) and its back-off has not
    /// passed: CrashLoopBackOff until then.
    BackOff { until_ms: u64 },
    /// The container exited and its back-off has passed: start a new one
    /// in the same pod; the back-off becomes `backoff_ms`.
    Restart { backoff_ms: u64 },
    /// The container just started and crashes again (`CrashPod(times: N)`).
    Crash,
    /// Init container `i` runs: the pod stays Pending (Init:i/n).
    Initializing(u32),
}

/// The kubelet's sync of one pod (syncPod / syncTerminatingPod in
/// pkg/kubelet/kubelet.go): deletion first, then finished pods, then the
/// container's state.
fn pod_step(v: &PodView, now: u64) -> PodStep {
    match (v.deleting, v.terminal, v.container) {
        (true, _, None) => PodStep::ConfirmDeletion,
        (true, _, Some(c)) => match c.stage {
            ProcessStage::Stopping { .. } => PodStep::Nothing,
            _ => PodStep::Stop {
                until_ms: now + v.stop_ms,
            },
        },
        (false, true, Some(_)) => PodStep::RemoveContainer,
        (false, true, None) => PodStep::Nothing,
        (false, false, None) => match v.exited_ms {
            // computePodActions restarts an exited container under
            // restartPolicy Always; doBackOff decides when.
            Some(exited) => match v.backoff.decide(exited, now) {
                Restart::Wait { until_ms } => PodStep::BackOff { until_ms },
                Restart::Now { backoff_ms } => PodStep::Restart { backoff_ms },
            },
            None => PodStep::Create,
        },
        (false, false, Some(c)) => match (c.stage, c.init) {
            (ProcessStage::Stopping { .. }, _) => PodStep::Nothing,
            (_, Some(i)) => PodStep::Initializing(i),
            (ProcessStage::Running, None) if v.crashes_left > 0 => PodStep::Crash,
            (ProcessStage::Running, None) => PodStep::Report(readiness(v, &c, now)),
            _ => PodStep::Nothing,
        },
    }
}

/// What the kubelet reports about a running container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Readiness {
    /// The container was just seen running: the pod is Running, and its
    /// readiness probe first passes at this instant.
    started_ready_at: Option<u64>,
    /// Wake then: the probe will pass.
    wake: Option<u64>,
    /// The pod becomes Ready (true) or not Ready (false).
    change: Option<bool>,
}

/// The readiness probe passes from `ready_at_ms` on, unless it is broken on
/// purpose or the application holds it back (a replica still cloning).
fn readiness(v: &PodView, c: &Container, now: u64) -> Readiness {
    // A container not yet reported (new, or restarted in place) is probed
    // from now on: its readiness probe first passes ready_ms later.
    let started_ready_at = (!c.reported).then_some(now + v.ready_ms);
    let ready_at = started_ready_at.unwrap_or(c.ready_at_ms);
    let probe_can_pass = !v.readiness_broken && !c.hold_ready;
    let passes = probe_can_pass && now >= ready_at;
    let change = match (passes, v.ready) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    };
    Readiness {
        started_ready_at,
        wake: (probe_can_pass && !passes).then_some(ready_at),
        change,
    }
}

/// genericPlegRelistPeriod (pkg/kubelet/kubelet.go): the PLEG sees a new
/// pod sandbox within a second and syncs the pod again.
const PLEG_RELIST_MS: u64 = 1_000;

/// What the kubelet's image step of a container start does
/// (images/image_manager.go `EnsureImageExists`, `pullImage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageStep {
    /// The pod's start failed before and its worker syncs it again only then.
    Wait { until_ms: u64 },
    /// IfNotPresent and the image is on the node: no pull (Pulled).
    Present,
    /// Pulling, and it succeeds (Pulling, Pulled).
    Pulled,
    /// Pulling, and the registry has no such image (Pulling, Failed,
    /// "Error: ErrImagePull"): the back-off window becomes `backoff_ms`.
    Failed { backoff_ms: u64 },
    /// Still in the back-off window ending at `end_ms` (BackOff, "Error:
    /// ImagePullBackOff"); the worker's next sync is at `next_sync_ms`.
    BackOff { end_ms: u64, next_sync_ms: u64 },
}

/// The image step for a pod whose volumes are ready: the policy and the
/// node's images decide whether to pull (the presence check comes before
/// the back-off); a pull in back-off is refused; a broken image fails.
fn image_step(
    policy: PullPolicy,
    present: bool,
    broken: bool,
    b: &PullBackOff,
    now: u64,
) -> ImageStep {
    if let Some(t) = b.next_sync_ms.filter(|&t| now < t) {
        return ImageStep::Wait { until_ms: t };
    }
    if policy == PullPolicy::IfNotPresent && present {
        return ImageStep::Present;
    }
    if b.in_back_off(now) {
        let end_ms = b.last_update_ms + b.backoff_ms;
        // After a failed sync the pod worker syncs again every
        // POD_SYNC_RETRY_MS: the first of those at or after the window's end
        // pulls again.
        let syncs = (end_ms - now).div_ceil(POD_SYNC_RETRY_MS).max(1);
        return ImageStep::BackOff {
            end_ms,
            next_sync_ms: now + syncs * POD_SYNC_RETRY_MS,
        };
    }
    if broken {
        ImageStep::Failed {
            backoff_ms: b.next(now),
        }
    } else {
        ImageStep::Pulled
    }
}

/// The event lines of one pod's image step on one node, each with the
/// record the kubelet writes (k8s_event.rs).
struct PullLines<'a> {
    pod: &'a str,
    image: &'a str,
    node: &'a str,
    policy: PullPolicy,
}

impl PullLines<'_> {
    fn ev(&self, kind: EventKind, why: String, r: K8sRecord) -> SimEvent {
        SimEvent::new(kind, format!("pod/{}", self.pod), why)
            .node(self.node.to_string())
            .k8s(r)
    }
    fn how(&self) -> &'static str {
        match self.policy {
            PullPolicy::Always => "imagePullPolicy Always (tag latest): pulled at every start",
            PullPolicy::IfNotPresent => "imagePullPolicy IfNotPresent",
        }
    }
    fn present(&self, ensure_secret_gate: bool) -> SimEvent {
        let why = format!(
            "image {} is already on {} ({}): no pull",
            self.image,
            self.node,
            self.how()
        );
        let r = K8sRecord::already_present(self.pod, self.image, ensure_secret_gate);
        self.ev(EventKind::ImagePulled, why, r)
    }
    fn pulling(&self) -> SimEvent {
        let why = format!(
            "the kubelet on {} pulls image {} ({})",
            self.node,
            self.image,
            self.how()
        );
        self.ev(
            EventKind::ImagePulling,
            why,
            K8sRecord::pulling(self.pod, self.image),
        )
    }
    fn pulled(&self) -> SimEvent {
        let why = format!(
            "image {} is now on {} (pull time not modelled)",
            self.image, self.node
        );
        self.ev(
            EventKind::ImagePulled,
            why,
            K8sRecord::pulled(self.pod, self.image),
        )
    }
    fn failed(&self, backoff_ms: u64) -> [SimEvent; 3] {
        let why = format!(
            "ErrImagePull: image {} cannot be pulled; the kubelet will not try again for {} s (image back-off: 10 s, doubling, at most 300 s)",
            self.image,
            backoff_ms / 1000
        );
        [
            self.pulling(),
            self.ev(
                EventKind::ImagePullError,
                format!("the registry has no image {}: the pull fails", self.image),
                K8sRecord::failed_to_pull(self.pod, self.image),
            ),
            self.ev(
                EventKind::ImagePullFailed,
                why,
                K8sRecord::start_error(self.pod, "ErrImagePull"),
            ),
        ]
    }
    fn backed_off(&self, end_ms: u64, backoff_ms: u64) -> [SimEvent; 2] {
        let why = format!(
            "the kubelet on {} does not pull {} again before {} s: its image back-off ({} s) has not passed (ImagePullBackOff)",
            self.node,
            self.image,
            end_ms / 1000,
            backoff_ms / 1000
        );
        [
            self.ev(
                EventKind::ImagePullBackOff,
                why.clone(),
                K8sRecord::pull_back_off(self.pod, self.image),
            ),
            self.ev(
                EventKind::ImagePullFailed,
                why,
                K8sRecord::start_error(self.pod, "ImagePullBackOff"),
            ),
        ]
    }
}

/// Logs `ev` now, as a repeat of a steady state when `repeat`.
fn emit_maybe_repeat(cluster: &mut Cluster, ev: SimEvent, repeat: bool) {
    let now = cluster.now();
    if repeat {
        cluster.log.emit_repeat(now, ev);
    } else {
        cluster.log.emit(now, ev);
    }
}

/// A container whose pod object no longer exists (force-deleted while the
/// node was cut off) is killed once the kubelet sees the API again, unless
/// it is already stopping.
fn is_orphan(pod_known: bool, stage: ProcessStage) -> bool {
    !pod_known && !matches!(stage, ProcessStage::Stopping { .. })
}

/// node.status.volumesInUse: the volumes the node's containers mount, sorted.
fn volumes_in_use<'a>(procs: impl Iterator<Item = &'a Process>) -> Vec<&'a str> {
    let mut in_use: Vec<&str> = procs
        .flat_map(|p| p.volumes.iter().map(String::as_str))
        .collect();
    in_use.sort_unstable();
    in_use.dedup();
    in_use
}

// ---------------------------------------------------------------------------
// Memory between passes.

/// What the kubelets remember between passes, so that a node on which
/// nothing changed is not walked again: a kubelet acts on its pods, its
/// processes, its node's state, volume attachment and the clock, and a pass
/// over unchanged inputs before its next deadline would do nothing.
#[derive(Default)]
struct KubeletMemory {
    nodes: EntityHashMap<NodeMemory>,
    /// Attachments, claims and volumes counted last pass (one gone changes
    /// what a waiting pod waits for).
    attachments: Tally,
    claims: Tally,
    volumes: Tally,
    /// Nodes in name order.
    order: Vec<(String, Entity)>,
    /// How far each trail of the journal has been read.
    cursors: Cursors,
    /// Per connected node: its pods and containers (kubelet_work.rs).
    works: EntityHashMap<NodeWork>,
    /// Each pod and container of `works` → its node.
    node_of: EntityHashMap<Entity>,
}

/// Set to walk every pod of a node whenever anything on it changed, as the
/// kubelet did before it kept per-pod work (tests compare the two logs).
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct KubeletFullWalk(pub bool);

/// Positions in the journal's trails (model/journal.rs).
#[derive(Default)]
struct Cursors {
    pods: usize,
    procs: usize,
    atts: usize,
    new_atts: usize,
    claims: usize,
    volumes: usize,
    removed_pods: usize,
    procs_gone: usize,
}

#[derive(Default, Clone, Copy, Debug)]
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

/// A kubelet whose node saw no change (`dirty`), whose pod and process counts
/// (`seen`) are as last time, whose last pass did nothing, and whose deadline
/// is not due would do nothing: it is skipped. Storage changing anywhere
/// matters only to a node with pods waiting to start.
fn can_skip(
    m: &NodeMemory,
    dirty: bool,
    storage_changed: bool,
    seen: (usize, usize),
    now: u64,
) -> bool {
    let something_new =
        dirty || m.active || (storage_changed && m.waiting) || (m.pods, m.procs) != seen;
    !something_new && m.deadline.is_none_or(|d| d > now)
}

/// A quick key for a uid: its first 8 bytes (uids are random); a match is
/// always confirmed by comparing the whole uid.
fn uid_key(uid: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = uid.len().min(8);
    b[..n].copy_from_slice(&uid.as_bytes()[..n]);
    u64::from_le_bytes(b)
}

// ---------------------------------------------------------------------------
// Gather and apply.

type NodeQuery<'w, 's> = Query<
    'w,
    's,
    (
        Entity,
        &'static Node,
        &'static mut NodeState,
        Option<&'static NodePods>,
        Option<&'static NodeProcesses>,
    ),
>;
type PodQuery<'w, 's> = Query<
    'w,
    's,
    (
        &'static Pod,
        &'static mut PodStatus,
        Option<&'static ScheduledOn>,
    ),
>;
type ProcQuery<'w, 's> = Query<'w, 's, (&'static mut Process, Option<&'static RunsOn>)>;

/// The nodes, their pods and the processes on their machines.
#[derive(SystemParam)]
struct Machines<'w, 's> {
    nodes: NodeQuery<'w, 's>,
    pods: PodQuery<'w, 's>,
    procs: ProcQuery<'w, 's>,
    new_nodes: Query<'w, 's, (), Added<Node>>,
}

/// The storage objects a waiting pod looks at, and what changed among them.
#[derive(SystemParam)]
struct Storage<'w, 's> {
    claims: Query<'w, 's, &'static ClaimStatus>,
    volumes: Query<'w, 's, &'static VolumeStatus>,
    volume_specs: Query<'w, 's, &'static Volume>,
    attachments: Query<'w, 's, &'static Attachment>,
    changed_attachments: Query<'w, 's, &'static Attachment, Changed<Attachment>>,
    changed_claims: Query<'w, 's, (), Changed<ClaimStatus>>,
    changed_volumes: Query<'w, 's, (), Changed<VolumeStatus>>,
    new_attachments: Query<'w, 's, (), Added<Attachment>>,
}

impl Storage<'_, '_> {
    /// Whether all the pod's volumes are attached to `node`; otherwise why not.
    fn volumes_ready(&self, pod: &Pod, node: &str, index: &Index) -> Result<Vec<String>, String> {
        let mut vols = Vec::new();
        for c in &pod.claims {
            let Some(cs) = index.claims.get(c).and_then(|&e| self.claims.get(e).ok()) else {
                return Err(format!("persistentvolumeclaim {c} not found"));
            };
            let Some(v) = &cs.volume else {
                return Err(format!("waiting for claim {c} to be bound to a volume"));
            };
            let shared = index
                .volumes
                .get(v)
                .and_then(|&e| self.volume_specs.get(e).ok())
                .is_some_and(|vol| !vol.kind.needs_attach());
            if shared {
                // Shared file storage and local disks are mounted directly:
                // no attach step.
                vols.push(v.clone());
                continue;
            }
            let attached = index
                .attachment(v, node)
                .and_then(|e| self.attachments.get(e).ok())
                .is_some_and(|a| a.state == AttachState::Attached && !a.forgotten);
            if !attached {
                let err = index
                    .volumes
                    .get(v)
                    .and_then(|&e| self.volumes.get(e).ok())
                    .and_then(|s| s.attach_error.clone());
                return Err(
                    err.unwrap_or_else(|| format!("waiting for volume {v} to attach to {node}"))
                );
            }
            vols.push(v.clone());
        }
        Ok(vols)
    }
}

fn kubelet(
    mut cluster: Cluster,
    mut m: Machines,
    storage: Storage,
    removed: Res<RemovedPods>,
    full_walk: Option<Res<KubeletFullWalk>>,
    version: Res<crate::sim::version::ClusterVersion>,
    mut mem: Local<KubeletMemory>,
) {
    let now = cluster.now();
    let ensure_secret_pulled_images =
        version.enabled(crate::sim::version::FeatureGate::KubeletEnsureSecretPulledImages);
    let storage_changed = storage_changed(&mut mem, &storage, &cluster.journal);
    let (dirty, mut dirt) = dirty_nodes(&mut m, &storage, &cluster, &mut mem.cursors);
    forget_gone(&mut mem, &removed, &cluster.journal);
    if dirt.is_none() || full_walk.is_some_and(|f| f.0) {
        // A reader fell behind (or per-pod work is switched off): every
        // node walked this pass is walked in full.
        mem.works.clear();
        mem.node_of.clear();
    }
    if mem.order.len() != m.nodes.iter().len() || !m.new_nodes.is_empty() {
        mem.order = m
            .nodes
            .iter()
            .map(|(e, n, ..)| (n.name.clone(), e))
            .collect();
        mem.order.sort();
    }
    for i in 0..mem.order.len() {
        let node_e = mem.order[i].1;
        let Ok((_, _, _, node_pods, node_procs)) = m.nodes.get(node_e) else {
            continue;
        };
        let seen = (
            node_pods.map_or(0, |p| p.len()),
            node_procs.map_or(0, |p| p.len()),
        );
        if let Some(nm) = mem.nodes.get(&node_e)
            && can_skip(nm, dirty.contains(&node_e), storage_changed, seen, now)
        {
            if let Some(d) = nm.deadline {
                cluster.wake_at(d);
            }
            continue;
        }
        let activity_before = cluster.log.activity;
        let mut pass = NodePass {
            node_e,
            // Only a node that is walked needs its name copied.
            name: mem.order[i].0.clone(),
            deadline: None,
            item_deadline: None,
            waiting: false,
            ensure_secret_pulled_images,
        };
        let node_dirt = dirt
            .as_mut()
            .and_then(|d| d.remove(&node_e))
            .unwrap_or_default();
        let work = match mem.works.remove(&node_e) {
            Some(w) if !node_dirt.node => Some(w),
            _ => None,
        };
        let work = pass.run(
            &mut cluster,
            &mut m,
            &storage,
            work,
            &node_dirt,
            storage_changed,
            &mut mem.node_of,
        );
        let (deadline, waiting) = match &work {
            Some(w) => {
                debug_assert!(
                    pass.deadline
                        .is_none_or(|d| w.first_deadline().is_some_and(|f| f <= d)),
                    "a wake of {} was not kept as some pod's or container's deadline",
                    pass.name
                );
                (w.first_deadline(), !w.waiting.is_empty())
            }
            None => (pass.deadline, pass.waiting),
        };
        if let Some(d) = deadline {
            cluster.wake_at(d);
        }
        let memory = NodeMemory {
            pods: seen.0,
            procs: seen.1,
            deadline,
            active: cluster.log.activity != activity_before,
            waiting,
        };
        mem.nodes.insert(node_e, memory);
        if let Some(w) = work {
            mem.works.insert(node_e, w);
        }
    }
}

/// Pods and containers that went away since the last pass leave their
/// node's work (and the uids they leave behind are looked at next).
fn forget_gone(mem: &mut KubeletMemory, removed: &RemovedPods, journal: &Journal) {
    let KubeletMemory {
        works,
        node_of,
        cursors,
        ..
    } = mem;
    for &e in removed.since(&mut cursors.removed_pods) {
        if let Some(n) = node_of.remove(&e)
            && let Some(w) = works.get_mut(&n)
        {
            w.drop_pod(e);
        }
    }
    match journal.procs_gone.since(&mut cursors.procs_gone) {
        Some(gone) => {
            for &e in gone {
                if let Some(n) = node_of.remove(&e)
                    && let Some(w) = works.get_mut(&n)
                {
                    w.drop_proc(e);
                }
            }
        }
        None => {
            works.clear();
            node_of.clear();
        }
    }
}

/// Whether a claim, volume or attachment appeared, changed or went away since
/// the last pass (all three counts are recorded).
fn storage_changed(mem: &mut KubeletMemory, storage: &Storage, j: &Journal) -> bool {
    let c = &mut mem.cursors;
    let new_atts = matching(&j.atts, &mut c.new_atts, |e| {
        storage.new_attachments.contains(e)
    });
    let new_atts = new_atts.map_or_else(|| storage.new_attachments.iter().count(), |v| v.len());
    let atts_gone = mem
        .attachments
        .went_away(storage.attachments.iter().len(), new_atts);
    let claims_counted = mem.claims.changed(storage.claims.iter().len());
    let volumes_counted = mem.volumes.changed(storage.volumes.iter().len());
    let claims = matching(&j.claims, &mut c.claims, |e| {
        storage.changed_claims.contains(e)
    });
    let volumes = matching(&j.volumes, &mut c.volumes, |e| {
        storage.changed_volumes.contains(e)
    });
    let claims_changed =
        claims.map_or_else(|| !storage.changed_claims.is_empty(), |v| !v.is_empty());
    let volumes_changed =
        volumes.map_or_else(|| !storage.changed_volumes.is_empty(), |v| !v.is_empty());
    debug_assert_eq!(claims_changed, !storage.changed_claims.is_empty());
    debug_assert_eq!(volumes_changed, !storage.changed_volumes.is_empty());
    atts_gone || claims_counted || volumes_counted || claims_changed || volumes_changed
}

/// The entities noted in `trail` since `cursor` that `matches`; None if the
/// reader fell behind.
fn matching(
    trail: &Trail,
    cursor: &mut usize,
    mut matches: impl FnMut(Entity) -> bool,
) -> Option<Vec<Entity>> {
    let v = candidates(trail, cursor)?;
    Some(v.into_iter().filter(|&e| matches(e)).collect())
}

/// Nodes with something new since the last pass: their state, a pod's status,
/// a process, or an attachment to them changed. The pods, processes and
/// attachments come from the journal; `is_changed` on the mutable queries
/// reads the same ticks as a `Changed<_>` filter, and marks nothing.
fn dirty_nodes(
    m: &mut Machines,
    storage: &Storage,
    cluster: &Cluster,
    c: &mut Cursors,
) -> (EntityHashSet, Option<EntityHashMap<NodeDirt>>) {
    let (j, index) = (&cluster.journal, &cluster.index);
    let mut dirty = EntityHashSet::default();
    dirty.extend(
        m.nodes
            .iter_mut()
            .filter(|(_, _, ns, ..)| ns.is_changed())
            .map(|(e, ..)| e),
    );
    let mut per_node: EntityHashMap<NodeDirt> = dirty
        .iter()
        .map(|&n| {
            let d = NodeDirt {
                node: true,
                ..default()
            };
            (n, d)
        })
        .collect();
    let pods = matching(&j.pods, &mut c.pods, |e| {
        m.pods.get_mut(e).is_ok_and(|(_, st, _)| st.is_changed())
    });
    let procs = matching(&j.procs, &mut c.procs, |e| {
        m.procs.get_mut(e).is_ok_and(|(p, _)| p.is_changed())
    });
    let atts = matching(&j.atts, &mut c.atts, |e| {
        storage.changed_attachments.contains(e)
    });
    let from_journal = match (pods, procs, atts) {
        (Some(pods), Some(procs), Some(atts)) => {
            let mut d = dirty.clone();
            add_dirty(&mut d, m, storage, index, [&pods, &procs, &atts]);
            route_dirt(&mut per_node, m, storage, index, [&pods, &procs, &atts]);
            Some(d)
        }
        _ => None,
    };
    match from_journal {
        Some(d) => {
            if cfg!(debug_assertions) {
                let walked = walk_dirty(dirty, m, storage, index);
                assert!(d == walked, "the journal's dirty nodes differ from a walk");
            }
            (d, Some(per_node))
        }
        None => (walk_dirty(dirty, m, storage, index), None),
    }
}

/// What changed on one node since its kubelet's last pass.
#[derive(Default, Debug)]
struct NodeDirt {
    /// The node's own state (machine, connection, taints...).
    node: bool,
    /// Pods whose status another system wrote.
    pods: Vec<Entity>,
    /// Containers another system wrote, or new ones.
    procs: Vec<Entity>,
    /// An attachment to this node changed.
    atts: bool,
}

/// Sorts the journal's changed pods, containers and attachments by node.
fn route_dirt(
    per_node: &mut EntityHashMap<NodeDirt>,
    m: &Machines,
    storage: &Storage,
    index: &Index,
    [pods, procs, atts]: [&[Entity]; 3],
) {
    for &e in pods {
        if let Ok((_, _, Some(on))) = m.pods.get(e) {
            per_node.entry(on.0).or_default().pods.push(e);
        }
    }
    for &e in procs {
        if let Ok((_, Some(on))) = m.procs.get(e) {
            per_node.entry(on.0).or_default().procs.push(e);
        }
    }
    for a in atts.iter().filter_map(|&e| storage.attachments.get(e).ok()) {
        if let Some(&n) = index.nodes.get(&a.node) {
            per_node.entry(n).or_default().atts = true;
        }
    }
}

/// The walk over every pod, process and attachment that the journal spares
/// (a reader that fell behind, and the debug builds' check).
fn walk_dirty(
    mut dirty: EntityHashSet,
    m: &mut Machines,
    storage: &Storage,
    index: &Index,
) -> EntityHashSet {
    dirty.extend(
        m.pods
            .iter_mut()
            .filter(|(_, st, _)| st.is_changed())
            .filter_map(|(_, _, on)| on.map(|on| on.0)),
    );
    dirty.extend(
        m.procs
            .iter_mut()
            .filter(|(p, _)| p.is_changed())
            .filter_map(|(_, on)| on.map(|on| on.0)),
    );
    dirty.extend(
        storage
            .changed_attachments
            .iter()
            .filter_map(|a| index.nodes.get(&a.node).copied()),
    );
    dirty
}

/// Adds the nodes of changed pods, processes and attachments.
fn add_dirty(
    dirty: &mut EntityHashSet,
    m: &Machines,
    storage: &Storage,
    index: &Index,
    [pods, procs, atts]: [&[Entity]; 3],
) {
    dirty.extend(
        pods.iter()
            .filter_map(|&e| m.pods.get(e).ok().and_then(|(_, _, on)| on.map(|on| on.0))),
    );
    dirty.extend(
        procs
            .iter()
            .filter_map(|&e| m.procs.get(e).ok().and_then(|(_, on)| on.map(|on| on.0))),
    );
    dirty.extend(
        atts.iter()
            .filter_map(|&e| storage.attachments.get(e).ok())
            .filter_map(|a| index.nodes.get(&a.node).copied()),
    );
}

/// The pods and containers of a node whose inputs changed since the last
/// pass, or whose deadline is due: the only ones whose sync could do
/// something (a pod whose inputs are as last time asks for what it asked).
fn changed_items(
    now: u64,
    w: &mut NodeWork,
    dirt: &NodeDirt,
    storage_changed: bool,
    new_pods: Vec<Entity>,
    new_procs: Vec<Entity>,
) -> Looked {
    let changed_procs: Vec<Entity> = dirt
        .procs
        .iter()
        .copied()
        .filter(|&e| w.has_proc(e))
        .chain(new_procs)
        .collect();
    let due: Vec<Entity> = w.due(now).collect();
    let mut ticks: Vec<Entity> = changed_procs.clone();
    ticks.extend(w.retick.drain());
    ticks.extend(due.iter().copied().filter(|&e| w.has_proc(e)));
    let by_rank = |w: &NodeWork, v: &mut Vec<Entity>| {
        v.sort_unstable_by_key(|&e| (w.rank(e), e));
        v.dedup();
    };
    by_rank(w, &mut ticks);
    let mut pods: Vec<Entity> = dirt
        .pods
        .iter()
        .copied()
        .filter(|&e| w.has_pod(e))
        .collect();
    pods.extend(new_pods);
    pods.extend(w.resync.iter().copied());
    pods.extend(due.iter().copied().filter(|&e| w.has_pod(e)));
    if storage_changed || dirt.atts {
        pods.extend(w.waiting.iter().copied());
    }
    let mut uids: Vec<u64> = changed_procs
        .iter()
        .filter_map(|&e| w.proc_uid(e))
        .collect();
    uids.extend(w.take_gone_uids());
    for uid in uids {
        pods.extend(w.pods_of(uid));
    }
    let mut orphans = changed_procs;
    for uid in w.take_lost_uids() {
        orphans.extend(w.procs_of(uid));
    }
    by_rank(w, &mut orphans);
    Looked {
        ticks,
        pods,
        orphans,
        report: false,
    }
}

/// Adds the node's pods and containers that `w` does not hold yet (the
/// containers in the node's order, which gives their rank); returns them.
fn admit(
    w: &mut NodeWork,
    m: &Machines,
    pod_list: &[Entity],
    proc_list: &[Entity],
    node_of: &mut EntityHashMap<Entity>,
    node_e: Entity,
) -> (Vec<Entity>, Vec<Entity>) {
    let (mut new_pods, mut new_procs) = (Vec::new(), Vec::new());
    if w.pod_count() != pod_list.len() {
        for &e in unknown_tail(pod_list, w.pod_count()) {
            if !w.has_pod(e)
                && let Ok((pod, ..)) = m.pods.get(e)
            {
                w.add_pod(e, uid_key(&pod.uid));
                node_of.insert(e, node_e);
                new_pods.push(e);
            }
        }
    }
    if w.proc_count() != proc_list.len() {
        for &e in unknown_tail(proc_list, w.proc_count()) {
            if !w.has_proc(e)
                && let Ok((p, _)) = m.procs.get(e)
            {
                w.add_proc(e, uid_key(&p.pod_uid), &p.volumes);
                node_of.insert(e, node_e);
                new_procs.push(e);
            }
        }
    }
    (new_pods, new_procs)
}

/// The entries of a node's list its work does not hold yet: the last ones. A
/// pod is bound to a node once (`ScheduledOn` is never moved) and a container
/// runs on one node for its life, so the node's lists only grow at the end,
/// and a removal (a despawn, which `forget_gone` has taken out of the work
/// already) keeps the order. Looking at the tail only keeps a node's new pod
/// from costing the node's pod count. Were that ever not so, the counts
/// would still differ after admitting and the node would be walked in full;
/// debug builds check the members at every pass.
fn unknown_tail(list: &[Entity], known: usize) -> &[Entity] {
    &list[known.min(list.len())..]
}

/// Debug builds: the work holds exactly the node's pods and containers.
fn debug_same_members(w: &NodeWork, pod_list: &[Entity], proc_list: &[Entity]) {
    assert_eq!(
        w.pod_count(),
        pod_list.len(),
        "the kubelet's pods differ from the node's"
    );
    assert_eq!(
        w.proc_count(),
        proc_list.len(),
        "the kubelet's containers differ from the node's"
    );
    assert!(
        pod_list.iter().all(|&e| w.has_pod(e)),
        "a pod of the node is not in the kubelet's work"
    );
    assert!(
        proc_list.iter().all(|&e| w.has_proc(e)),
        "a container of the node is not in the kubelet's work"
    );
}

/// What syncing one pod wrote.
#[derive(Default)]
struct Wrote {
    /// The pod's status.
    pod: bool,
    /// Its container.
    proc: Option<Entity>,
}

/// One kubelet's pass over its node, and what it notes for the memory.
struct NodePass {
    node_e: Entity,
    name: String,
    /// The earliest future instant it asked to be woken at.
    deadline: Option<u64>,
    /// The same, for the pod or container being looked at.
    item_deadline: Option<u64>,
    /// It has pods waiting to start (a node walked while cut off).
    waiting: bool,
    /// The KubeletEnsureSecretPulledImages gate is on.
    ensure_secret_pulled_images: bool,
}

/// The pods and containers one pass looks at, each list in the order a
/// walk over the whole node meets them.
struct Looked {
    ticks: Vec<Entity>,
    pods: Vec<Entity>,
    orphans: Vec<Entity>,
    report: bool,
}

impl NodePass {
    fn wake(&mut self, cluster: &mut Cluster, t: u64) {
        cluster.clock.wake.at_noting(t, &mut self.deadline);
        if t > cluster.now() {
            self.item_deadline = Some(self.item_deadline.map_or(t, |d| d.min(t)));
        }
    }

    /// The node's pass. A kubelet that can see the API server looks at the
    /// pods and containers whose inputs changed or whose deadline is due
    /// (all of them when `work` is None, or when it no longer matches the
    /// node), and returns its work for the next pass; one cut off only
    /// lets its containers' local life go on.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        cluster: &mut Cluster,
        m: &mut Machines,
        storage: &Storage,
        work: Option<NodeWork>,
        dirt: &NodeDirt,
        storage_changed: bool,
        node_of: &mut EntityHashMap<Entity>,
    ) -> Option<NodeWork> {
        let Ok((_, _, ns, node_pods, node_procs)) = m.nodes.get(self.node_e) else {
            return None;
        };
        let (machine, connected) = (ns.machine, ns.kubelet_connected());
        let proc_list: &[Entity] = node_procs.map_or(&[], |p| p.entities());
        let pod_list: &[Entity] = node_pods.map_or(&[], |p| p.entities());
        if !connected {
            // Local process life goes on whether or not the API server is
            // reachable; the next connected pass walks the node in full.
            for &pe in proc_list {
                self.item_deadline = None;
                self.tick_process(cluster, &mut m.procs, pe, machine);
            }
            return None;
        }
        let (mut w, looked) = match work {
            Some(mut w) => {
                let (new_pods, new_procs) =
                    admit(&mut w, m, pod_list, proc_list, node_of, self.node_e);
                if w.pod_count() == pod_list.len() && w.proc_count() == proc_list.len() {
                    let looked = changed_items(
                        cluster.now(),
                        &mut w,
                        dirt,
                        storage_changed,
                        new_pods,
                        new_procs,
                    );
                    (w, looked)
                } else {
                    self.everything(m, pod_list, proc_list, node_of)
                }
            }
            None => self.everything(m, pod_list, proc_list, node_of),
        };
        if cfg!(debug_assertions) {
            debug_same_members(&w, pod_list, proc_list);
        }
        // Heartbeats: NodeState::heartbeat_at derives the last one from the
        // machine's state, so they need no write here.
        let (mut started, mut exited) = (Vec::new(), Vec::new());
        for &pe in &looked.ticks {
            w.clear_timer(pe);
            self.item_deadline = None;
            let tick = self.tick_process(cluster, &mut m.procs, pe, machine);
            if let Some(t) = self.item_deadline {
                w.lower_timer(pe, t);
            }
            match (tick, w.proc_uid(pe)) {
                (ProcessTick::Started, Some(uid)) => started.push(uid),
                (ProcessTick::Exited, Some(uid)) => exited.push(uid),
                _ => {}
            }
        }
        let mut pods = looked.pods;
        for uid in started {
            pods.extend(w.pods_of(uid));
        }
        let mut seen = EntityHashSet::default();
        pods.retain(|&e| seen.insert(e));
        // Creation order; the sort is stable, so a full walk keeps the
        // node's order among equals, as it always did.
        pods.sort_by_key(|&e| m.pods.get(e).map(|(p, ..)| p.seq).unwrap_or(0));
        for pod_e in pods {
            w.clear_timer(pod_e);
            w.resync.remove(&pod_e);
            self.item_deadline = None;
            self.waiting = false;
            let before = cluster.log.activity;
            let wrote = self.sync_pod(cluster, m, storage, &w, pod_e);
            if let Some(t) = self.item_deadline {
                w.lower_timer(pod_e, t);
            }
            if self.waiting {
                w.waiting.insert(pod_e);
            } else {
                w.waiting.remove(&pod_e);
            }
            if wrote.pod || cluster.log.activity != before {
                w.resync.insert(pod_e);
            }
            if let Some(pe) = wrote.proc {
                w.retick.insert(pe);
            }
        }
        // A container that exited is gone next pass: its pod acts then.
        for uid in exited {
            let pods: Vec<Entity> = w.pods_of(uid).collect();
            w.resync.extend(pods);
        }
        for &pe in &looked.orphans {
            self.item_deadline = None;
            if self.kill_if_orphan(cluster, m, pe, w.pods_by_uid()) {
                w.retick.insert(pe);
            }
            if let Some(t) = self.item_deadline {
                w.lower_timer(pe, t);
            }
        }
        if looked.report {
            w.procs_changed = false;
            w.take_volumes_touched();
            self.report_volumes_in_use(cluster, m);
        } else if w.procs_changed {
            w.procs_changed = false;
            self.report_volumes_changed(cluster, m, &mut w);
        }
        Some(w)
    }

    /// A walk over the whole node: its work is built anew, and every pod and
    /// container is looked at.
    fn everything(
        &mut self,
        m: &Machines,
        pod_list: &[Entity],
        proc_list: &[Entity],
        node_of: &mut EntityHashMap<Entity>,
    ) -> (NodeWork, Looked) {
        let mut w = NodeWork::default();
        admit(&mut w, m, pod_list, proc_list, node_of, self.node_e);
        let looked = Looked {
            ticks: proc_list.to_vec(),
            pods: pod_list.to_vec(),
            orphans: proc_list.to_vec(),
            report: true,
        };
        (w, looked)
    }

    /// Local process life for one container; returns what happened.
    fn tick_process(
        &mut self,
        cluster: &mut Cluster,
        procs: &mut ProcQuery,
        pe: Entity,
        machine: Machine,
    ) -> ProcessTick {
        let Ok((mut p, _)) = procs.get_mut(pe) else {
            return ProcessTick::Nothing;
        };
        let now = cluster.now();
        let tick = process_tick(p.stage, machine, now);
        match tick {
            ProcessTick::Nothing => {}
            ProcessTick::Started => {
                // The one write here (reading the process marks nothing).
                cluster.journal.procs.note(pe);
                p.stage = ProcessStage::Running;
                p.ready_at_ms = now;
                cluster.touch();
            }
            ProcessTick::Exited => {
                cluster.commands.entity(pe).despawn();
                cluster.touch();
            }
            ProcessTick::Until(t) => self.wake(cluster, t),
        }
        tick
    }

    /// Syncs one pod with its container (the first of its uid in the node's
    /// order), and says what it wrote.
    fn sync_pod(
        &mut self,
        cluster: &mut Cluster,
        m: &mut Machines,
        storage: &Storage,
        w: &NodeWork,
        pod_e: Entity,
    ) -> Wrote {
        let Ok((pod, st, _)) = m.pods.get(pod_e) else {
            return Wrote::default();
        };
        let found = w.procs_of(uid_key(&pod.uid)).find_map(|e| {
            m.procs
                .get(e)
                .ok()
                .filter(|(p, _)| p.pod_uid == pod.uid)
                .map(|(p, _)| (e, p))
        });
        let container = found.map(|(_, p)| Container {
            stage: p.stage,
            ready_at_ms: p.ready_at_ms,
            hold_ready: p.hold_ready,
            reported: p.reported,
            init: p.init,
        });
        let step = pod_step(&PodView::of(pod, st, container), cluster.now());
        let proc_e = found.map(|(e, _)| e);
        self.apply(cluster, m, storage, pod_e, proc_e, step)
    }

    fn apply(
        &mut self,
        cluster: &mut Cluster,
        m: &mut Machines,
        storage: &Storage,
        pod_e: Entity,
        proc_e: Option<Entity>,
        step: PodStep,
    ) -> Wrote {
        let Ok((pod, mut st, _)) = m.pods.get_mut(pod_e) else {
            return Wrote::default();
        };
        let mut proc = proc_e
            .and_then(|pe| m.procs.get_mut(pe).ok())
            .map(|(p, _)| p);
        match (step, proc.as_mut()) {
            (PodStep::Stop { until_ms }, Some(p)) => {
                // SIGTERM. The Ready condition stays as it is until the
                // container exits; the pod leaves the endpoints and DNS at
                // once because it has a deletion timestamp (`serving`).
                p.stage = ProcessStage::Stopping { until_ms };
                self.wake(cluster, until_ms);
                let why = format!(
                    "the kubelet on {} sends SIGTERM to {}'s container; it exits after {}s (terminationGracePeriodSeconds {}s)",
                    self.name,
                    pod.name,
                    (until_ms - cluster.now()) / 1000,
                    pod.template.grace_seconds
                );
                let container = container_name(&pod.template.image);
                cluster.emit(
                    SimEvent::new(
                        EventKind::ContainerStopping,
                        format!("pod/{}", pod.name),
                        why,
                    )
                    .node(self.name.clone())
                    .k8s(K8sRecord::killing(&pod.name, container)),
                );
            }
            (PodStep::ConfirmDeletion, _) => {
                let reason = format!(
                    "the kubelet on {} saw the container stop and confirmed the deletion; the name {} is free again",
                    self.name, pod.name
                );
                cluster.remove_pod(pod_e, pod, Some(self.name.clone()), reason);
            }
            (PodStep::RemoveContainer, _) => {
                if let Some(pe) = proc_e {
                    cluster.commands.entity(pe).despawn();
                    cluster.touch();
                }
            }
            (PodStep::Report(r), Some(p)) => self.report(cluster, pod, &mut st, p, r),
            (PodStep::Create, _) => {
                self.waiting = true;
                let plan = storage
                    .volumes_ready(pod, &self.name, &cluster.index)
                    .and_then(|vols| {
                        self.ensure_image(cluster, &mut m.nodes, pod, &mut st)
                            .map(|()| vols)
                    });
                self.create(cluster, pod, &mut st, plan);
            }
            (PodStep::BackOff { until_ms }, _) => self.back_off(cluster, pod, &mut st, until_ms),
            (PodStep::Restart { backoff_ms }, _) => {
                self.restart(cluster, &mut m.nodes, pod, &mut st, backoff_ms, storage)
            }
            (PodStep::Crash, Some(_)) => {
                if let Some(pe) = proc_e {
                    cluster.commands.entity(pe).despawn();
                }
                st.crashes_left -= 1;
                st.container_exited(cluster.now());
                let why = format!(
                    "the container exited with an error again right after it started ({} more crash{} to come); restartPolicy Always: the kubelet on {} restarts it after its back-off",
                    st.crashes_left,
                    if st.crashes_left == 1 { "" } else { "es" },
                    self.name
                );
                cluster.emit(
                    SimEvent::new(EventKind::ProcessStopped, format!("pod/{}", pod.name), why)
                        .node(self.name.clone()),
                );
            }
            (PodStep::Initializing(i), _) => {
                let init = Some((i, pod.init_containers.max(i + 1)));
                if st.init != init {
                    st.init = init;
                    cluster.touch();
                }
            }
            _ => {}
        }
        // Only a write is noted: readers keep the entries whose component
        // changed, so a pod or process looked at and left alone is noise.
        let mut wrote = Wrote::default();
        if st.is_changed() {
            cluster.journal.pods.note(pod_e);
            wrote.pod = true;
        }
        if let (Some(pe), Some(p)) = (proc_e, &proc)
            && p.is_changed()
        {
            cluster.journal.procs.note(pe);
            wrote.proc = Some(pe);
        }
        wrote
    }

    /// The exited container waits out its back-off (CrashLoopBackOff): said
    /// once per wait, woken when it ends.
    fn back_off(&mut self, cluster: &mut Cluster, pod: &Pod, st: &mut Mut<PodStatus>, until: u64) {
        self.wake(cluster, until);
        if st.backoff.waiting_until == Some(until) {
            return;
        }
        st.backoff.waiting_until = Some(until);
        let wait = until.saturating_sub(st.backoff.exited_ms.unwrap_or(until));
        let why = format!(
            "Back-off restarting failed container: {} waits {} s before restart {} (CrashLoopBackOff; the wait doubles after each crash, at most 5 min)",
            pod.name,
            wait / 1000,
            st.restarts + 1
        );
        cluster.emit(
            SimEvent::new(EventKind::BackOff, format!("pod/{}", pod.name), why)
                .node(self.name.clone())
                .k8s(K8sRecord::back_off(
                    &pod.name,
                    &pod.uid,
                    container_name(&pod.template.image),
                )),
        );
    }

    /// A new container in the same pod object: same uid, same node, same
    /// volumes; init containers do not run again. The phase stays Running.
    fn restart(
        &mut self,
        cluster: &mut Cluster,
        nodes: &mut NodeQuery,
        pod: &Pod,
        st: &mut Mut<PodStatus>,
        backoff_ms: u64,
        storage: &Storage,
    ) {
        let Ok(vols) = storage.volumes_ready(pod, &self.name, &cluster.index) else {
            // Its volumes went away meanwhile: wait like a new pod.
            self.waiting = true;
            return;
        };
        // startContainer ensures the image for every new container.
        if let Err(w) = self.ensure_image(cluster, nodes, pod, st) {
            self.waiting = true;
            if st.waiting.as_ref() != Some(&w) {
                st.waiting = Some(w);
            }
            return;
        }
        let now = cluster.now();
        let until = now + pod.template.start_ms();
        self.spawn_process(cluster, pod, vols, until, None);
        st.restarts += 1;
        st.backoff = RestartBackOff {
            backoff_ms,
            last_update_ms: now,
            exited_ms: None,
            waiting_until: None,
        };
        let why = format!(
            "restart {}: the kubelet on {} starts a new container in the same pod (same uid {}, same node, same volumes); the StatefulSet controller takes no part",
            st.restarts,
            self.name,
            &pod.uid[..8.min(pod.uid.len())]
        );
        cluster.emit(
            SimEvent::new(
                EventKind::ContainerRestarted,
                format!("pod/{}", pod.name),
                why,
            )
            .node(self.name.clone()),
        );
    }

    /// The image step of a container start: records what the kubelet does
    /// (Pulling, Pulled, Failed, BackOff) and keeps the node's images and
    /// the pod's pull back-off. Ok when the image is on the node; otherwise
    /// why the pod waits (`ErrImagePull: …` or `ImagePullBackOff: …`).
    fn ensure_image(
        &mut self,
        cluster: &mut Cluster,
        nodes: &mut NodeQuery,
        pod: &Pod,
        st: &mut Mut<PodStatus>,
    ) -> Result<(), String> {
        let image = pod.template.image.as_str();
        let present = nodes
            .get(self.node_e)
            .is_ok_and(|(_, _, ns, ..)| ns.images.iter().any(|i| i == image));
        let broken = cluster.index.broken_images.iter().any(|i| i == image);
        let policy = PullPolicy::default_for(image);
        let node = self.name.clone();
        let lines = PullLines {
            pod: &pod.name,
            image,
            node: &node,
            policy,
        };
        match image_step(policy, present, broken, &st.pull, cluster.now()) {
            ImageStep::Wait { until_ms } => {
                self.wake(cluster, until_ms);
                Err(st.waiting.clone().unwrap_or_default())
            }
            ImageStep::Present => {
                cluster.emit(lines.present(self.ensure_secret_pulled_images));
                Ok(())
            }
            ImageStep::Pulled => {
                cluster.emit(lines.pulling());
                cluster.emit(lines.pulled());
                if let Ok((_, _, mut ns, ..)) = nodes.get_mut(self.node_e)
                    && let Err(at) = ns.images.binary_search_by(|i| i.as_str().cmp(image))
                {
                    ns.images.insert(at, image.to_string());
                }
                if st.pull != PullBackOff::default() {
                    st.pull = PullBackOff::default();
                }
                Ok(())
            }
            ImageStep::Failed { backoff_ms } => {
                let now = cluster.now();
                // A retry of a pull that failed before repeats a steady state.
                let repeat = st.pull.backoff_ms > 0;
                // A new pod sandbox is seen by the PLEG within a second;
                // later failed syncs are retried after the worker's back-off.
                let first = st.pull.next_sync_ms.is_none();
                let next_sync = now
                    + if first {
                        PLEG_RELIST_MS
                    } else {
                        POD_SYNC_RETRY_MS
                    };
                st.pull = PullBackOff {
                    backoff_ms,
                    last_update_ms: now,
                    next_sync_ms: Some(next_sync),
                    announced_until: None,
                    backing_off: false,
                };
                self.wake(cluster, next_sync);
                for line in lines.failed(backoff_ms) {
                    emit_maybe_repeat(cluster, line, repeat);
                }
                Err(format!("ErrImagePull: image {image} cannot be pulled"))
            }
            ImageStep::BackOff {
                end_ms,
                next_sync_ms,
            } => {
                st.pull.next_sync_ms = Some(next_sync_ms);
                st.pull.backing_off = true;
                self.wake(cluster, next_sync_ms);
                // One BackOff per window (upstream repeats it at every sync).
                if st.pull.announced_until != Some(end_ms) {
                    st.pull.announced_until = Some(end_ms);
                    let repeat = st.pull.backoff_ms > IMAGE_BACKOFF_INITIAL_MS;
                    for line in lines.backed_off(end_ms, st.pull.backoff_ms) {
                        emit_maybe_repeat(cluster, line, repeat);
                    }
                }
                // The same words as after the failed pull: what the pod
                // waits for has not changed (STATUS tells the two apart).
                Err(format!("ErrImagePull: image {image} cannot be pulled"))
            }
        }
    }

    /// Spawns a container process of `pod` on this node, starting until `until`.
    fn spawn_process(
        &mut self,
        cluster: &mut Cluster,
        pod: &Pod,
        volumes: Vec<String>,
        until: u64,
        init: Option<u32>,
    ) {
        cluster.commands.spawn((
            Process {
                pod: pod.name.clone(),
                pod_uid: pod.uid.clone(),
                owner: pod.owner.clone(),
                ordinal: pod.ordinal,
                node: self.name.clone(),
                stage: ProcessStage::Starting { until_ms: until },
                started_ms: cluster.now(),
                ready_at_ms: u64::MAX,
                volumes,
                image: pod.template.image.clone(),
                hold_ready: false,
                init,
                reported: false,
            },
            RunsOn(self.node_e),
        ));
        self.wake(cluster, until);
    }

    /// A running container: the pod is Running, and Ready while its probe passes.
    // `Mut`s, not `&mut` targets: a write marks the component changed, and
    // only real changes may do that (other controllers skip unchanged pods).
    fn report(
        &mut self,
        cluster: &mut Cluster,
        pod: &Pod,
        st: &mut Mut<PodStatus>,
        p: &mut Mut<Process>,
        r: Readiness,
    ) {
        let now = cluster.now();
        if let Some(t) = r.wake {
            self.wake(cluster, t);
        }
        let event = |kind, reason: String| {
            SimEvent::new(kind, format!("pod/{}", pod.name), reason).node(self.name.clone())
        };
        if let Some(at) = r.started_ready_at {
            st.phase = PodPhase::Running;
            st.waiting = None;
            st.init = None;
            p.ready_at_ms = at;
            p.reported = true;
            let why = match st.restarts {
                0 => format!("container {} started on {}", pod.template.image, self.name),
                n => format!(
                    "container {} started again on {} (restart {n}, same pod)",
                    pod.template.image, self.name
                ),
            };
            let container = container_name(&pod.template.image);
            cluster.emit(
                event(EventKind::PodStarted, why).k8s(K8sRecord::started(&pod.name, container)),
            );
        }
        match r.change {
            Some(true) => {
                st.ready = true;
                st.ready_since_ms = Some(now);
                let reason = match &pod.dns {
                    Some(d) => format!("readiness probe passed; {d} now resolves to it"),
                    None => "readiness probe passed; the pod receives traffic".to_string(),
                };
                cluster.emit(event(EventKind::PodReady, reason));
            }
            Some(false) => {
                st.ready = false;
                st.ready_since_ms = None;
                let why = "readiness probe failing: removed from the service's endpoints and DNS";
                cluster.emit(event(EventKind::PodNotReady, why.to_string()));
            }
            None => {}
        }
    }

    /// No container yet: start one per `plan`, or record why the pod waits.
    fn create(
        &mut self,
        cluster: &mut Cluster,
        pod: &Pod,
        st: &mut Mut<PodStatus>,
        plan: Result<Vec<String>, String>,
    ) {
        let now = cluster.now();
        let waiting = match plan {
            Err(w) => Some(w),
            Ok(vols) => {
                let until = now + pod.template.start_ms();
                // A new pod sandbox runs its init containers first.
                let init = (pod.init_containers > 0).then_some(0);
                self.spawn_process(cluster, pod, vols, until, init);
                if st.ip.is_none() {
                    // The sandbox's network: an address from the node's
                    // range (docs/semantics.md §1.7 pod-ips).
                    st.ip = cluster.index.network.allocate(&self.name, &pod.uid);
                }
                if st.phase == PodPhase::Running {
                    // The container is gone (machine reboot): restart it.
                    st.restarts += 1;
                    st.phase = PodPhase::ContainerCreating;
                    st.ready = false;
                    st.ready_since_ms = None;
                }
                cluster.touch();
                None
            }
        };
        if st.phase == PodPhase::Pending {
            st.phase = PodPhase::ContainerCreating;
            cluster.touch();
        }
        // Init containers are reported from the start (waiting:
        // PodInitializing), so kubectl shows Init:0/n, not ContainerCreating.
        if pod.init_containers > 0 && st.init.is_none() && st.phase == PodPhase::ContainerCreating {
            st.init = Some((0, pod.init_containers));
            cluster.touch();
        }
        if st.waiting != waiting {
            st.waiting = waiting;
            cluster.touch();
        }
    }

    /// Containers whose pod object is gone (force-deleted while the node was
    /// cut off): the kubelet kills them once it can see the API again.
    fn kill_if_orphan(
        &mut self,
        cluster: &mut Cluster,
        m: &mut Machines,
        pe: Entity,
        known: &HashMap<u64, Vec<Entity>>,
    ) -> bool {
        let Ok((mut p, _)) = m.procs.get_mut(pe) else {
            return false;
        };
        let h = uid_key(&p.pod_uid);
        let pod_known = known
            .get(&h)
            .into_iter()
            .flatten()
            .any(|&e| m.pods.get(e).is_ok_and(|(q, ..)| q.uid == p.pod_uid));
        if !is_orphan(pod_known, p.stage) {
            return false;
        }
        // Only now is the process written (reading it marks nothing).
        cluster.journal.procs.note(pe);
        let until = cluster.now() + 2_000;
        p.stage = ProcessStage::Stopping { until_ms: until };
        self.wake(cluster, until);
        let reason = format!(
            "the kubelet on {} found a container of {} (uid {}) whose pod object no longer exists and kills it",
            self.name,
            p.pod,
            &p.pod_uid[..8.min(p.pod_uid.len())]
        );
        // killContainer restores the pod from the container's labels and
        // records Killing on it, though the object is gone.
        let record = K8sRecord::killing(&p.pod, container_name(&p.image));
        cluster.emit(
            SimEvent::new(EventKind::ProcessStopped, format!("pod/{}", p.pod), reason)
                .node(self.name.clone())
                .k8s(record),
        );
        true
    }

    /// node.status.volumesInUse after containers came or went: only the
    /// volumes that came into use or went out of use are looked up, and the
    /// list is written only when one of them changes it.
    fn report_volumes_changed(
        &mut self,
        cluster: &mut Cluster,
        m: &mut Machines,
        w: &mut NodeWork,
    ) {
        let touched = w.take_volumes_touched();
        let Ok((_, _, mut ns, ..)) = m.nodes.get_mut(self.node_e) else {
            return;
        };
        let mut wrote = false;
        for (v, used) in touched {
            match (ns.volumes_in_use.binary_search(&v), used) {
                (Err(i), true) => {
                    ns.volumes_in_use.insert(i, v);
                    wrote = true;
                }
                (Ok(i), false) => {
                    ns.volumes_in_use.remove(i);
                    wrote = true;
                }
                _ => {}
            }
        }
        if wrote {
            cluster.touch();
        }
        debug_assert!(
            w.volumes_in_use()
                .eq(ns.volumes_in_use.iter().map(String::as_str)),
            "volumesInUse of {} differs from its containers' volumes",
            self.name
        );
    }

    /// node.status.volumesInUse, written only when it changed.
    fn report_volumes_in_use(&mut self, cluster: &mut Cluster, m: &mut Machines) {
        let Ok((_, _, _, _, node_procs)) = m.nodes.get(self.node_e) else {
            return;
        };
        let in_use = volumes_in_use(
            node_procs
                .map_or(&[][..], |p| p.entities())
                .iter()
                .filter_map(|&e| m.procs.get(e).ok().map(|(p, _)| p)),
        );
        let Ok((_, _, mut ns, ..)) = m.nodes.get_mut(self.node_e) else {
            return;
        };
        if !in_use.iter().eq(ns.volumes_in_use.iter()) {
            ns.volumes_in_use = in_use.into_iter().map(String::from).collect();
            cluster.touch();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(ready_at_ms: u64) -> Container {
        Container {
            stage: ProcessStage::Running,
            ready_at_ms,
            hold_ready: false,
            reported: true,
            init: None,
        }
    }

    fn view(container: Option<Container>) -> PodView {
        PodView {
            deleting: false,
            terminal: false,
            ready: false,
            readiness_broken: false,
            stop_ms: 5_000,
            ready_ms: 2_000,
            container,
            exited_ms: None,
            backoff: RestartBackOff::default(),
            crashes_left: 0,
        }
    }

    #[test]
    fn crash_restarts_the_container_in_place_at_once_the_first_time() {
        // The container exited at 1 s; no back-off entry yet: restart now,
        // and the back-off becomes 10 s.
        let mut v = view(None);
        v.exited_ms = Some(1_000);
        assert_eq!(pod_step(&v, 1_000), PodStep::Restart { backoff_ms: 10_000 });
        // A pod being deleted is not restarted: its deletion is confirmed.
        v.deleting = true;
        assert_eq!(pod_step(&v, 1_000), PodStep::ConfirmDeletion);
    }

    #[test]
    fn crash_loop_back_off_doubles_from_10s_to_at_most_5_minutes() {
        // Each crash happens as the restarted container starts (start time
        // left out): the waits before each restart.
        let mut b = RestartBackOff::default();
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..9 {
            let exited = now;
            let restart_at = match b.decide(exited, now) {
                Restart::Now { .. } => now,
                Restart::Wait { until_ms } => until_ms,
            };
            let Restart::Now { backoff_ms } = b.decide(exited, restart_at) else {
                panic!("the wait is over at {restart_at}");
            };
            waits.push((restart_at - exited) / 1000);
            b.backoff_ms = backoff_ms;
            b.last_update_ms = restart_at;
            now = restart_at;
        }
        assert_eq!(waits, vec![0, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn back_off_resets_after_10_minutes_of_running() {
        let b = RestartBackOff {
            backoff_ms: 300_000,
            last_update_ms: 0,
            exited_ms: None,
            waiting_until: None,
        };
        // Crashed 9 minutes after the last restart: still 5 min back-off.
        assert_eq!(
            b.decide(540_000, 540_000),
            Restart::Wait { until_ms: 840_000 }
        );
        // Ran more than 2 × 5 min: the entry has expired, restart at once.
        assert_eq!(
            b.decide(600_001, 600_001),
            Restart::Now { backoff_ms: 10_000 }
        );
    }

    #[test]
    fn an_exited_container_waits_in_crash_loop_back_off() {
        let mut v = view(None);
        v.exited_ms = Some(5_000);
        v.backoff = RestartBackOff {
            backoff_ms: 20_000,
            last_update_ms: 1_000,
            exited_ms: Some(5_000),
            waiting_until: None,
        };
        assert_eq!(pod_step(&v, 5_000), PodStep::BackOff { until_ms: 25_000 });
        assert_eq!(
            pod_step(&v, 25_000),
            PodStep::Restart { backoff_ms: 40_000 }
        );
    }

    #[test]
    fn a_crash_looping_container_crashes_as_it_starts() {
        let mut v = view(Some(running(0)));
        v.crashes_left = 2;
        assert_eq!(pod_step(&v, 0), PodStep::Crash);
        v.crashes_left = 0;
        assert!(matches!(pod_step(&v, 0), PodStep::Report(_)));
    }

    #[test]
    fn a_pod_stays_pending_while_an_init_container_runs() {
        let c = Container {
            init: Some(1),
            reported: false,
            ..running(0)
        };
        assert_eq!(pod_step(&view(Some(c)), 0), PodStep::Initializing(1));
    }

    #[test]
    fn kubelet_confirms_deletion_only_once_the_container_is_gone() {
        let mut v = view(Some(running(0)));
        v.deleting = true;
        assert_eq!(pod_step(&v, 100), PodStep::Stop { until_ms: 5_100 });
        v.container = Some(Container {
            stage: ProcessStage::Stopping { until_ms: 5_100 },
            ..running(0)
        });
        assert_eq!(pod_step(&v, 200), PodStep::Nothing, "SIGTERM is sent once");
        v.container = None;
        assert_eq!(pod_step(&v, 5_100), PodStep::ConfirmDeletion);
    }

    #[test]
    fn kubelet_confirms_deletion_only_when_reachable() {
        // The pod sync runs only when the kubelet can reach the API server.
        let mut ns = NodeState::new(0);
        assert!(ns.kubelet_connected());
        ns.machine = Machine::Partitioned;
        assert!(!ns.kubelet_connected());
        ns.machine = Machine::Dead;
        assert!(!ns.kubelet_connected());
    }

    #[test]
    fn kubelet_removes_the_leftover_container_of_a_finished_pod() {
        let mut v = view(Some(running(0)));
        v.terminal = true;
        assert_eq!(pod_step(&v, 0), PodStep::RemoveContainer);
        v.container = None;
        assert_eq!(pod_step(&v, 0), PodStep::Nothing);
    }

    #[test]
    fn kubelet_creates_a_container_for_a_pod_without_one() {
        assert_eq!(pod_step(&view(None), 0), PodStep::Create);
        let starting = Container {
            stage: ProcessStage::Starting { until_ms: 10 },
            ..running(0)
        };
        assert_eq!(pod_step(&view(Some(starting)), 0), PodStep::Nothing);
    }

    #[test]
    fn a_container_seen_running_makes_the_pod_running_and_ready_after_ready_seconds() {
        let v = view(Some(running(0)));
        let fresh = Container {
            reported: false,
            ..running(0)
        };
        // A new or restarted container: probed from now on.
        let r = readiness(&v, &fresh, 1_000);
        assert_eq!(r.started_ready_at, Some(3_000));
        assert_eq!(r.wake, Some(3_000));
        assert_eq!(r.change, None);
        let r = readiness(&v, &running(3_000), 3_000);
        assert_eq!(
            (r.started_ready_at, r.wake, r.change),
            (None, None, Some(true))
        );
    }

    #[test]
    fn a_broken_probe_makes_a_ready_pod_not_ready_and_sets_no_wake() {
        let mut v = view(Some(running(0)));
        v.ready = true;
        v.readiness_broken = true;
        let r = readiness(&v, &running(0), 10_000);
        assert_eq!((r.wake, r.change), (None, Some(false)));
    }

    #[test]
    fn held_readiness_waits_without_a_deadline() {
        let held = Container {
            hold_ready: true,
            ..running(0)
        };
        let r = readiness(&view(Some(held)), &held, 10_000);
        assert_eq!((r.wake, r.change), (None, None));
    }

    #[test]
    fn an_image_already_on_the_node_is_not_pulled_under_if_not_present() {
        let none = PullBackOff::default();
        let step = |policy, present| image_step(policy, present, false, &none, 0);
        assert_eq!(step(PullPolicy::IfNotPresent, true), ImageStep::Present);
        assert_eq!(step(PullPolicy::IfNotPresent, false), ImageStep::Pulled);
        assert_eq!(
            step(PullPolicy::Always, true),
            ImageStep::Pulled,
            "Always pulls even when present"
        );
        // The presence check comes before the back-off and the registry.
        let failing = PullBackOff {
            backoff_ms: 20_000,
            last_update_ms: 0,
            ..none
        };
        assert_eq!(
            image_step(PullPolicy::IfNotPresent, true, true, &failing, 1),
            ImageStep::Present
        );
    }

    #[test]
    fn a_failed_pull_backs_off_and_is_retried_at_the_next_sync_after_the_window() {
        let none = PullBackOff::default();
        let broken =
            |b: &PullBackOff, now| image_step(PullPolicy::IfNotPresent, false, true, b, now);
        assert_eq!(broken(&none, 0), ImageStep::Failed { backoff_ms: 10_000 });
        // Failed at 0 with a 10 s window; the PLEG resync at 1 s is in it.
        let b = PullBackOff {
            backoff_ms: 10_000,
            last_update_ms: 0,
            next_sync_ms: Some(1_000),
            announced_until: None,
            backing_off: false,
        };
        assert_eq!(broken(&b, 500), ImageStep::Wait { until_ms: 1_000 });
        assert_eq!(
            broken(&b, 1_000),
            ImageStep::BackOff {
                end_ms: 10_000,
                next_sync_ms: 11_000
            }
        );
        // At 11 s the window has passed: pull again, and the window doubles.
        let b = PullBackOff {
            next_sync_ms: Some(11_000),
            ..b
        };
        assert_eq!(broken(&b, 11_000), ImageStep::Failed { backoff_ms: 20_000 });
        // Failed at 11 s with 20 s: in back-off at 21 s, pulls at 31 s.
        let b = PullBackOff {
            backoff_ms: 20_000,
            last_update_ms: 11_000,
            next_sync_ms: Some(21_000),
            announced_until: None,
            backing_off: false,
        };
        assert_eq!(
            broken(&b, 21_000),
            ImageStep::BackOff {
                end_ms: 31_000,
                next_sync_ms: 31_000
            }
        );
    }

    #[test]
    fn nothing_finishes_starting_on_a_dead_machine_but_stops_complete() {
        let starting = ProcessStage::Starting { until_ms: 10 };
        assert_eq!(
            process_tick(starting, Machine::Dead, 20),
            ProcessTick::Nothing
        );
        assert_eq!(
            process_tick(starting, Machine::Partitioned, 20),
            ProcessTick::Started
        );
        assert_eq!(
            process_tick(starting, Machine::Up, 5),
            ProcessTick::Until(10)
        );
        let stopping = ProcessStage::Stopping { until_ms: 10 };
        assert_eq!(
            process_tick(stopping, Machine::Dead, 10),
            ProcessTick::Exited
        );
        assert_eq!(
            process_tick(ProcessStage::Running, Machine::Up, 10),
            ProcessTick::Nothing
        );
    }

    #[test]
    fn kubelet_kills_containers_whose_pod_object_is_gone() {
        assert!(is_orphan(false, ProcessStage::Running));
        assert!(!is_orphan(true, ProcessStage::Running));
        assert!(!is_orphan(false, ProcessStage::Stopping { until_ms: 1 }));
    }

    #[test]
    fn volumes_in_use_are_sorted_without_duplicates() {
        let p = |vols: &[&str]| Process {
            pod: "p".into(),
            pod_uid: "u".into(),
            owner: Owner::set("s"),
            ordinal: None,
            node: "n".into(),
            stage: ProcessStage::Running,
            started_ms: 0,
            ready_at_ms: 0,
            volumes: vols.iter().map(|v| v.to_string()).collect(),
            image: "i".into(),
            hold_ready: false,
            init: None,
            reported: false,
        };
        let procs = [p(&["b", "a"]), p(&["a"])];
        assert_eq!(volumes_in_use(procs.iter()), vec!["a", "b"]);
    }

    #[test]
    fn kubelet_skips_an_unchanged_node_until_its_deadline() {
        let m = NodeMemory {
            pods: 1,
            procs: 1,
            deadline: Some(100),
            active: false,
            waiting: true,
        };
        assert!(can_skip(&m, false, false, (1, 1), 99));
        assert!(!can_skip(&m, false, false, (1, 1), 100), "deadline due");
        assert!(!can_skip(&m, true, false, (1, 1), 0), "its node changed");
        assert!(!can_skip(&m, false, false, (2, 1), 0), "a pod appeared");
        assert!(
            !can_skip(&m, false, true, (1, 1), 0),
            "storage changed, pods wait"
        );
        let busy = NodeMemory { active: true, ..m };
        assert!(
            !can_skip(&busy, false, false, (1, 1), 0),
            "its last pass did something"
        );
        let idle = NodeMemory {
            waiting: false,
            ..m
        };
        assert!(
            can_skip(&idle, false, true, (1, 1), 0),
            "storage does not concern it"
        );
    }
}
