//! The attach/detach controller: a ReadWriteOnce volume is attached to the
//! node of the pod that uses it, and to one node only. A volume still mounted
//! on a node that stopped reporting is force-detached only after 6 minutes
//! (maxWaitForUnmountDuration), or at once if the node carries the
//! out-of-service taint. (pkg/controller/volume/attachdetach/reconciler.)
//!
//! The system works out which volumes' inputs changed (the desired state: the
//! pods that want each volume, kept incrementally), then for each of them asks
//! `attachment_step` what to do with every attachment (the actual state) and
//! `attach_step` where to attach (the desired state), and applies the answers.

use crate::sim::SimSystems;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::K8sRecord;
use crate::sim::model::gone::{RemovedPods, Tally, take_gone};
use crate::sim::model::journal::{Journal, Trail, candidates, debug_same};
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use crate::sim::units;
use bevy::ecs::entity::{EntityHashMap, EntityHashSet};
use bevy::ecs::system::SystemParam;
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

// ---------------------------------------------------------------------------
// The rules: pure functions of what the controller sees.

/// What the controller knows of the node an attachment is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NodeView {
    machine: Machine,
    /// Its kubelet reports (its volumesInUse is current).
    connected: bool,
    /// Its last report lists the volume as mounted.
    mounted: bool,
    /// NotReady with the out-of-service taint (non-graceful node shutdown).
    out_of_service: bool,
}

impl NodeView {
    fn of(ns: &NodeState, volume: &str) -> Self {
        NodeView {
            machine: ns.machine,
            connected: ns.kubelet_connected(),
            mounted: ns.volumes_in_use.iter().any(|x| x == volume),
            out_of_service: ns.has_taint(TAINT_OUT_OF_SERVICE) && ns.ready != Condition::True,
        }
    }
}

/// What the controller does with one existing attachment this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AttStep {
    Nothing,
    /// An attach or detach in progress completes at this instant.
    Wait(u64),
    /// The attach completed: VolumeAttached.
    FinishAttach,
    /// The detach completed: the attachment is removed (VolumeDetached).
    FinishDetach,
    /// A forgotten attachment the machine no longer has: removed silently.
    Drop,
    /// A pod on its node wants it again: a pending detach is called off.
    CancelDetach,
    /// Detach now (`reason`: why it is forced, logged when it completes).
    StartDetach {
        reason: Option<String>,
    },
    /// Still mounted on a node that does not want it: wait for the unmount
    /// until `deadline` (`record`: the wait starts now).
    AwaitUnmount {
        record: bool,
        deadline: u64,
    },
    /// maxWaitForUnmountDuration is over: force-detach. On a node that was
    /// only cut off the machine keeps a fenced mount: the attachment is kept
    /// as `forgotten` (no longer attached) until the machine unmounts it.
    ForceDetach {
        partitioned: bool,
    },
}

/// The actual-state half of the reconciler (reconciler.reconcile): finish
/// attaches and detaches, and detach what no pod on its node wants, waiting
/// for the unmount up to maxWaitForUnmountDuration unless the node is
/// out of service. `node` is None when the node object was deleted.
fn attachment_step(a: &Attachment, node: Option<NodeView>, wanted_here: bool, now: u64) -> AttStep {
    match a.state {
        AttachState::Attaching { until_ms } if now < until_ms => AttStep::Wait(until_ms),
        AttachState::Attaching { .. } => AttStep::FinishAttach,
        AttachState::Detaching { until_ms } if now < until_ms => AttStep::Wait(until_ms),
        AttachState::Detaching { .. } => AttStep::FinishDetach,
        AttachState::Attached if a.forgotten => {
            // The control plane let go of it; it disappears once the machine
            // really unmounts it (dead, or kubelet back and done).
            let gone =
                node.is_none_or(|n| n.machine == Machine::Dead || (n.connected && !n.mounted));
            if gone {
                AttStep::Drop
            } else {
                AttStep::Nothing
            }
        }
        AttachState::Attached if wanted_here => match a.detach_requested_ms {
            Some(_) => AttStep::CancelDetach,
            None => AttStep::Nothing,
        },
        AttachState::Attached => unwanted_step(a, node, now),
    }
}

/// An attached volume no pod on its node wants any more.
fn unwanted_step(a: &Attachment, node: Option<NodeView>, now: u64) -> AttStep {
    // A deleted node's last report is all we have: still mounted.
    let mounted = node.is_none_or(|n| n.mounted);
    if node.is_some_and(|n| n.out_of_service) {
        let reason = format!(
            "force-detached from {}: it has the out-of-service taint (non-graceful node shutdown), so there is no 6-minute wait",
            a.node
        );
        return AttStep::StartDetach {
            reason: Some(reason),
        };
    }
    if !mounted {
        return AttStep::StartDetach { reason: None };
    }
    let since = a.detach_requested_ms.unwrap_or(now);
    let deadline = since + MAX_WAIT_FOR_UNMOUNT_MS;
    if now < deadline {
        return AttStep::AwaitUnmount {
            record: a.detach_requested_ms.is_none(),
            deadline,
        };
    }
    AttStep::ForceDetach {
        partitioned: node.is_some_and(|n| n.machine == Machine::Partitioned),
    }
}

/// Why a volume was force-detached from `node` after maxWaitForUnmountDuration.
/// The detach happens at the storage API, so a node that was only cut off
/// keeps a mount whose I/O now fails: the disk is fenced, never attached to
/// two nodes at once (operation_generator.go `GenerateDetachVolumeFunc` →
/// the volume plugin's `Detach`).
fn force_detach_reason(node: &str, partitioned: bool) -> String {
    if partitioned {
        format!(
            "force-detached from {node} after 6m0s (maxWaitForUnmountDuration) at the storage API; {node} was only cut off: its process still has the disk mounted, but the mount is fenced and every write there fails with an I/O error"
        )
    } else {
        format!(
            "force-detached from {node} after 6m0s (maxWaitForUnmountDuration): the node never reported it unmounted"
        )
    }
}

/// The attachment of the volume to the wanting pod's node, as the index has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mine {
    None,
    /// A live attachment there.
    Live,
    /// One the control plane forgot (the machine still has it mounted), or
    /// one created earlier in this pass.
    NotLive,
}

/// Where a wanted volume is attached: nowhere else (attach), already there,
/// or held by another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttachStep {
    /// Nothing to attach here.
    Skip,
    /// reconciler.attachDesiredVolumes: while an operation is pending on the
    /// volume (here its detach from another node), no attach is tried and no
    /// Multi-Attach error reported; the pod just waits for it.
    WaitForDetach,
    /// Still attached to another node: Multi-Attach error (ReadWriteOnce).
    MultiAttach,
    /// Attach it to the wanting pod's node.
    Attach,
}

/// `other_detaching`: whether another node holds a live attachment, and if
/// so whether it is being detached.
fn attach_step(mine: Mine, other_detaching: Option<bool>) -> AttachStep {
    match (mine, other_detaching) {
        (Mine::Live, _) => AttachStep::Skip,
        (_, Some(true)) => AttachStep::WaitForDetach,
        (_, Some(false)) => AttachStep::MultiAttach,
        (Mine::NotLive, None) => AttachStep::Skip,
        (Mine::None, None) => AttachStep::Attach,
    }
}

/// The Multi-Attach error for `volume` wanted on `node` while attached to
/// `other`: the message (which the volume's status keeps) and the logged
/// text, with the force-detach countdown and why the other node is stuck.
/// `other_ready` is None when the other node object was deleted.
fn multi_attach_error(
    volume: &str,
    node: &str,
    other: &Attachment,
    other_ready: Option<bool>,
    now: u64,
) -> (String, String) {
    let why_stuck = match other_ready {
        None => " (its node object was deleted; the unmount was never confirmed)",
        Some(false) => " (unreachable: it cannot confirm the unmount)",
        Some(true) => "",
    };
    let countdown = match other.detach_requested_ms {
        Some(s) => format!(
            "; force-detach in {}",
            units::duration((s + MAX_WAIT_FOR_UNMOUNT_MS).saturating_sub(now))
        ),
        None => String::new(),
    };
    let msg = format!(
        "Multi-Attach error for volume {volume}: still attached to {} and it can't be attached to {node} (ReadWriteOnce)",
        other.node
    );
    let logged = format!("{msg}{countdown}{why_stuck}");
    (msg, logged)
}

/// A Multi-Attach error is reported once per volume and node, for as long as
/// pods on that node want the volume (reconciler.go `attachDesiredVolumes`:
/// `if !volumeToAttach.MultiAttachErrorReported { reportMultiAttachError;
/// SetMultiAttachError }`).
fn multi_attach_due(status: &VolumeStatus, node: &str) -> bool {
    !status.multi_attach_reported.iter().any(|n| n == node)
}

/// The steady state: attached where its one pod runs, nothing pending (the
/// passes over the volume would change nothing).
fn is_steady(
    want: &[(&str, &str)],
    atts: &[Entity],
    only: Option<&Attachment>,
    status: &VolumeStatus,
) -> bool {
    let ([(node, _)], [_], Some(a)) = (want, atts, only) else {
        return false;
    };
    status.attach_error.is_none()
        && a.state == AttachState::Attached
        && !a.forgotten
        && a.node == *node
        && a.detach_requested_ms.is_none()
}

// ---------------------------------------------------------------------------
// Memory between passes: the desired state, kept incrementally.

/// Volume name → the (node, pod, pod entity) of the pods that want it.
type Wants = HashMap<String, Vec<(String, String, Entity)>>;

/// What the controller remembers between passes, so that a pass looks only at
/// the volumes whose inputs changed: the pods that want them, their
/// attachments and those attachments' nodes, and the clock. A volume whose
/// inputs did not change and whose deadlines are not due would see nothing to do.
#[derive(Default)]
struct AttachMemory {
    ran: bool,
    /// How far `RemovedPods` has been read (pods that went away).
    removed_cursor: usize,
    /// Claims, attachments, nodes, volumes counted last pass: one appearing
    /// or going makes the next pass a full one.
    claims: Tally,
    attachments: Tally,
    nodes: Tally,
    volumes: Tally,
    /// Per node name: what its volumes' passes read of its state, and its
    /// volumesInUse, as last seen.
    node_seen: HashMap<String, (NodeSeen, Vec<String>)>,
    /// The desired state: the pods (not terminated) that mount each volume,
    /// in the order a walk over all pods meets them.
    wants: Wants,
    /// Per pod: the node and the volumes it wants attached there.
    pod_wants: EntityHashMap<(String, Vec<String>)>,
    /// Attachment → its volume and node.
    att_volume: EntityHashMap<(Entity, String)>,
    /// Node → the attachments on it (those of `att_volume`).
    node_atts: HashMap<String, Vec<Entity>>,
    /// Per volume: the earliest deadline it asked to be woken at, and whether
    /// its last pass did something (its own writes are not seen as changes).
    volume_memory: EntityHashMap<(Option<u64>, bool)>,
    /// How far each trail of the journal has been read.
    cursors: Cursors,
}

/// Positions in the journal's trails (model/journal.rs).
#[derive(Default)]
struct Cursors {
    pods: usize,
    claims: usize,
    new_claims: usize,
    atts: usize,
    new_atts: usize,
    atts_gone: usize,
    volumes: usize,
}

/// What appeared and changed since the last pass, read from the journal
/// (each list what the `Added`/`Changed` query would yield, as a set).
struct Fresh {
    new_claims: usize,
    new_volumes: Vec<Entity>,
    new_atts: Vec<Entity>,
}

impl AttachMemory {
    /// Remembers attachment `e` of volume `v` on `node`.
    fn note_attachment(&mut self, e: Entity, v: Entity, node: &str) {
        if self.att_volume.insert(e, (v, node.to_string())).is_none() {
            self.node_atts.entry(node.to_string()).or_default().push(e);
        }
    }
}

/// Pod `e` no longer wants `vols`: they are touched.
fn unwant(wants: &mut Wants, e: Entity, vols: &[String], touched: &mut Vec<String>) {
    for v in vols {
        if let Some(w) = wants.get_mut(v) {
            w.retain(|x| x.2 != e);
        }
        touched.push(v.clone());
    }
}

// ---------------------------------------------------------------------------
// Gather and apply.

/// The pods and claims that make the desired state, and what changed among them.
#[derive(SystemParam)]
struct Desired<'w, 's> {
    pods: Query<'w, 's, (Entity, &'static Pod, &'static PodStatus)>,
    changed_pods: Query<'w, 's, Entity, (With<Pod>, Changed<PodStatus>)>,
    removed_pods: Res<'w, RemovedPods>,
    claims: Query<'w, 's, &'static ClaimStatus>,
    claims_of: Query<'w, 's, &'static Claim>,
    changed_claims: Query<'w, 's, Entity, Changed<ClaimStatus>>,
    new_claims: Query<'w, 's, (), Added<ClaimStatus>>,
}

impl Desired<'_, '_> {
    /// The node and volumes a pod wants attached: none unless it is scheduled
    /// and not terminated. A pod whose node object was deleted still wants
    /// them there until pod GC deletes the pod: the desired state refuses to
    /// drop a node that still has volumes (desired_state_of_world.go
    /// `DeleteNode`), so the detach clock starts only then.
    fn pod_wants(&self, p: &Pod, s: &PodStatus, index: &Index) -> (String, Vec<String>) {
        let none = (String::new(), Vec::new());
        if p.claims.is_empty() || s.terminal() {
            return none;
        }
        let Some(n) = &s.node else { return none };
        let vols = p
            .claims
            .iter()
            .filter_map(|c| {
                index
                    .claims
                    .get(c)
                    .and_then(|&e| self.claims.get(e).ok())
                    .and_then(|cs| cs.volume.clone())
            })
            .collect();
        (n.clone(), vols)
    }
}

type VolumeQuery<'w, 's> = Query<
    'w,
    's,
    (
        Entity,
        &'static Volume,
        &'static mut VolumeStatus,
        Option<&'static VolumeAttachments>,
    ),
>;
type AttachmentQuery<'w, 's> =
    Query<'w, 's, (Entity, &'static mut Attachment, &'static AttachmentOf)>;

/// The volumes, their attachments and the attachments' nodes: the actual state.
#[derive(SystemParam)]
struct Actual<'w, 's> {
    volumes: VolumeQuery<'w, 's>,
    new_volumes: Query<'w, 's, Entity, Added<Volume>>,
    atts: AttachmentQuery<'w, 's>,
    new_atts: Query<'w, 's, (Entity, &'static AttachmentOf), Added<AttachmentOf>>,
    nodes: Query<'w, 's, &'static NodeState>,
    changed_nodes: Query<'w, 's, (&'static Node, Ref<'static, NodeState>), Changed<NodeState>>,
    new_nodes: Query<'w, 's, (), Added<NodeState>>,
}

fn reconcile_attachments(
    mut cluster: Cluster,
    desired: Desired,
    mut actual: Actual,
    mut mem: Local<AttachMemory>,
) {
    let mem = &mut *mem;
    // Something went away if there are fewer than before plus the new ones.
    // (Every tally is recorded: no short-circuit.)
    let pods_gone: Vec<Entity> = desired.removed_pods.since(&mut mem.removed_cursor).to_vec();
    let fresh = Fresh::read(&cluster.journal, &mut mem.cursors, &desired, &actual);
    let claims_gone = mem
        .claims
        .went_away(desired.claims.iter().len(), fresh.new_claims);
    let atts_gone = mem
        .attachments
        .went_away(actual.atts.iter().len(), fresh.new_atts.len());
    let nodes_gone = mem
        .nodes
        .went_away(actual.nodes.iter().len(), actual.new_nodes.iter().count());
    let volumes_gone = mem
        .volumes
        .went_away(actual.volumes.iter().len(), fresh.new_volumes.len());
    let mut full = !mem.ran || nodes_gone || claims_gone || volumes_gone;
    mem.ran = true;
    // Read every pass, so that what is remembered of the nodes is current.
    let node_volumes = changed_node_volumes(mem, &actual, &cluster.index);

    // Volumes whose inputs changed, in name order.
    let mut dirty: Vec<(String, Entity)> = Vec::new();
    if !full {
        let changed = Changes {
            pods_gone,
            node_volumes,
            atts_gone,
            fresh,
        };
        full = changed.dirty_volumes(&mut cluster, mem, &desired, &mut actual, &mut dirty);
    } else {
        // The trails read by the incremental pass are moved past too.
        let j = &cluster.journal;
        let c = &mut mem.cursors;
        for (t, cur) in [
            (&j.pods, &mut c.pods),
            (&j.claims, &mut c.claims),
            (&j.atts, &mut c.atts),
            (&j.atts_gone, &mut c.atts_gone),
        ] {
            t.since(cur);
        }
    }
    if full {
        rebuild_wants(mem, &desired, &actual, &cluster.index);
        dirty = actual
            .volumes
            .iter()
            .map(|(e, v, ..)| (v.name.clone(), e))
            .collect();
        dirty.sort_unstable();
    }

    for (vname, ve) in &dirty {
        let (vname, ve) = (vname.as_str(), *ve);
        let activity_before = cluster.log.activity;
        let want: Vec<(&str, &str)> = mem
            .wants
            .get(vname)
            .map(|w| w.iter().map(|(n, p, _)| (n.as_str(), p.as_str())).collect())
            .unwrap_or_default();
        let mut pass = VolumePass {
            ve,
            name: vname,
            want,
            deadline: None,
        };
        pass.reconcile(&mut cluster, &mut actual);
        let active = cluster.log.activity != activity_before;
        if pass.deadline.is_some() || active {
            mem.volume_memory.insert(ve, (pass.deadline, active));
        } else {
            mem.volume_memory.remove(&ve);
        }
    }
}

/// What a volume's pass reads of a node's state besides volumesInUse
/// (`NodeView`, and a node's readiness in a Multi-Attach message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NodeSeen {
    machine: Machine,
    ready: Condition,
    out_of_service_taint: bool,
}

impl NodeSeen {
    fn of(ns: &NodeState) -> Self {
        NodeSeen {
            machine: ns.machine,
            ready: ns.ready,
            out_of_service_taint: ns.has_taint(TAINT_OUT_OF_SERVICE),
        }
    }
}

/// The volumes whose node's state changed in a way their pass reads: every
/// volume attached to a node that is new or whose machine, readiness or
/// out-of-service taint changed; only the volumes that entered or left
/// volumesInUse when nothing else changed (a kubelet reports it each time a
/// container comes or goes, and the other volumes on the node read nothing
/// new). Updates what is remembered of each changed node.
fn changed_node_volumes(mem: &mut AttachMemory, actual: &Actual, index: &Index) -> Vec<Entity> {
    let mut out = Vec::new();
    for (node, ns) in actual.changed_nodes.iter() {
        let seen = NodeSeen::of(&ns);
        match mem.node_seen.get_mut(&node.name) {
            Some((was, in_use)) if *was == seen && !ns.is_added() => {
                // Only volumes entering or leaving the node's list; the kept
                // copy takes the same few edits (sorted, as the kubelet's).
                let moved: Vec<String> = sorted_difference(in_use, &ns.volumes_in_use)
                    .into_iter()
                    .map(String::from)
                    .collect();
                for v in moved {
                    if let Some(&e) = index.volumes.get(&v) {
                        out.push(e);
                    }
                    match in_use.binary_search(&v) {
                        Ok(i) => {
                            in_use.remove(i);
                        }
                        Err(i) => in_use.insert(i, v),
                    }
                }
                debug_assert_eq!(*in_use, ns.volumes_in_use);
            }
            kept => {
                for ae in mem.node_atts.get(&node.name).into_iter().flatten() {
                    if let Some((v, _)) = mem.att_volume.get(ae) {
                        out.push(*v);
                    }
                }
                match kept {
                    Some(kept) => {
                        kept.0 = seen;
                        // Reuses the kept names' buffers.
                        kept.1.clone_from(&ns.volumes_in_use);
                    }
                    None => {
                        mem.node_seen
                            .insert(node.name.clone(), (seen, ns.volumes_in_use.clone()));
                    }
                }
            }
        }
    }
    out
}

/// The names in exactly one of the two lists, in name order: one merge. Both
/// are volumesInUse lists, which the kubelet keeps sorted and without
/// duplicates (it inserts and removes by binary search), and copies of them.
fn sorted_difference<'a>(a: &'a [String], b: &'a [String]) -> Vec<&'a str> {
    debug_assert!(
        a.windows(2).all(|w| w[0] < w[1]) && b.windows(2).all(|w| w[0] < w[1]),
        "volumesInUse is not sorted"
    );
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    loop {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => (i, j) = (i + 1, j + 1),
            (Some(x), Some(y)) if x < y => {
                out.push(x.as_str());
                i += 1;
            }
            (Some(x), None) => {
                out.push(x.as_str());
                i += 1;
            }
            (_, Some(y)) => {
                out.push(y.as_str());
                j += 1;
            }
            (None, None) => return out,
        }
    }
}

/// The full pass: the desired state recomputed from every pod, in query order
/// (which orders the pods wanting one volume), and every volume looked at.
fn rebuild_wants(mem: &mut AttachMemory, desired: &Desired, actual: &Actual, index: &Index) {
    mem.wants.clear();
    mem.pod_wants.clear();
    mem.att_volume.clear();
    mem.node_atts.clear();
    for (e, a, of) in actual.atts.iter() {
        mem.note_attachment(e, of.0, &a.node);
    }
    for (e, p, s) in desired.pods.iter() {
        let w = desired.pod_wants(p, s, index);
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
}

/// What went away since the last pass, for the incremental pass.
struct Changes {
    /// Pods despawned since the last pass.
    pods_gone: Vec<Entity>,
    /// Volumes whose node's state changed in a way their pass reads.
    node_volumes: Vec<Entity>,
    atts_gone: bool,
    fresh: Fresh,
}

impl Fresh {
    /// Claims, volumes and attachments added since the last pass, from the
    /// journal (debug builds check them against the `Added` queries).
    fn read(j: &Journal, c: &mut Cursors, desired: &Desired, actual: &Actual) -> Fresh {
        let new_claims = fresh(&j.claims, &mut c.new_claims, |e| {
            desired.new_claims.contains(e)
        })
        .unwrap_or_else(|| desired.new_claims.iter().count());
        let new_volumes = read_added(&j.volumes, &mut c.volumes, &actual.new_volumes);
        let new_atts: Vec<Entity> = match candidates(&j.atts, &mut c.new_atts) {
            Some(v) => v
                .into_iter()
                .filter(|&e| actual.new_atts.contains(e))
                .collect(),
            None => actual.new_atts.iter().map(|(e, _)| e).collect(),
        };
        debug_same("new attachments", &new_atts, || {
            actual.new_atts.iter().map(|(e, _)| e).collect()
        });
        Fresh {
            new_claims,
            new_volumes,
            new_atts,
        }
    }
}

/// How many of the entities noted since `cursor` match; None if the reader
/// fell behind.
fn fresh(trail: &Trail, cursor: &mut usize, matches: impl Fn(Entity) -> bool) -> Option<usize> {
    let n = candidates(trail, cursor)?
        .into_iter()
        .filter(|&e| matches(e))
        .count();
    Some(n)
}

/// The entities `q` (an `Added` or `Changed` query) yields, found through
/// the journal.
fn read_added<F: bevy::ecs::query::QueryFilter>(
    trail: &Trail,
    cursor: &mut usize,
    q: &Query<Entity, F>,
) -> Vec<Entity> {
    let found: Vec<Entity> = match candidates(trail, cursor) {
        Some(v) => v.into_iter().filter(|&e| q.contains(e)).collect(),
        None => q.iter().collect(),
    };
    debug_same(std::any::type_name::<F>(), &found, || q.iter().collect());
    found
}

impl Changes {
    /// The incremental pass: updates the desired state from the pods and
    /// claims that changed, and collects the volumes whose inputs changed or
    /// whose deadline is due into `dirty`. Returns true if a full pass is
    /// needed after all.
    fn dirty_volumes(
        &self,
        cluster: &mut Cluster,
        mem: &mut AttachMemory,
        desired: &Desired,
        actual: &mut Actual,
        dirty: &mut Vec<(String, Entity)>,
    ) -> bool {
        let now = cluster.now();
        let (touched, full) = self.update_wants(mem, desired, &cluster.journal, &cluster.index);
        let mut vol_entities: Vec<Entity> = touched
            .iter()
            .filter_map(|v| cluster.index.volumes.get(v).copied())
            .collect();
        // Attachments that changed (`is_changed` reads what `Changed<_>` would).
        vol_entities.extend(changed_attachments(
            &cluster.journal,
            &mut mem.cursors,
            actual,
        ));
        for &e in &self.fresh.new_atts {
            if let Ok((_, a, of)) = actual.atts.get(e) {
                mem.note_attachment(e, of.0, &a.node);
            }
        }
        // Attachments that went away: their volumes.
        let gone = cluster.journal.atts_gone.since(&mut mem.cursors.atts_gone);
        if self.atts_gone {
            let q = &actual.atts;
            let gone: Vec<(Entity, (Entity, String))> = match gone {
                Some(list) => list
                    .iter()
                    .filter(|&&e| !q.contains(e))
                    .filter_map(|&e| mem.att_volume.remove(&e).map(|x| (e, x)))
                    .collect(),
                None => take_gone(&mut mem.att_volume, |e| q.contains(e)),
            };
            for (e, (v, node)) in gone {
                if let Some(on_node) = mem.node_atts.get_mut(&node) {
                    on_node.retain(|&x| x != e);
                }
                vol_entities.push(v);
            }
            debug_assert!(
                mem.att_volume.keys().all(|&e| q.contains(e)),
                "an attachment that went away is still remembered"
            );
        }
        vol_entities.extend(self.fresh.new_volumes.iter().copied());
        vol_entities.extend(self.node_volumes.iter().copied());
        for (&ve, &(deadline, active)) in &mem.volume_memory {
            if active || deadline.is_some_and(|d| d <= now) {
                vol_entities.push(ve);
            } else if let Some(d) = deadline {
                cluster.wake_at(d);
            }
        }
        let mut seen = EntityHashSet::default();
        vol_entities.retain(|&e| seen.insert(e));
        // By name (then entity): the order of a full pass. Sorting what
        // changed, rather than keeping every volume in order, keeps a pass
        // that creates one volume from costing the number of volumes.
        *dirty = vol_entities
            .iter()
            .filter_map(|&e| {
                actual
                    .volumes
                    .get(e)
                    .ok()
                    .map(|(_, v, ..)| (v.name.clone(), e))
            })
            .collect();
        dirty.sort_unstable();
        full
    }

    /// Updates the desired state from pods whose status changed, pods of
    /// claims that changed (a claim bound to its volume) and pods that went
    /// away. Returns the volumes touched, and whether a full pass is needed:
    /// claims of no StatefulSet are not tied to a pod by name, and the order
    /// of several pods wanting one volume is that of a full walk.
    fn update_wants(
        &self,
        mem: &mut AttachMemory,
        desired: &Desired,
        journal: &Journal,
        index: &Index,
    ) -> (Vec<String>, bool) {
        let mut full = false;
        let mut touched: Vec<String> = Vec::new();
        let mut recompute: Vec<Entity> =
            read_added(&journal.pods, &mut mem.cursors.pods, &desired.changed_pods);
        // Pods that went away: what they wanted is wanted no more.
        for &e in &self.pods_gone {
            if let Some((_, vols)) = mem.pod_wants.remove(&e) {
                unwant(&mut mem.wants, e, &vols, &mut touched);
            }
        }
        let changed_claims = read_added(
            &journal.claims,
            &mut mem.cursors.claims,
            &desired.changed_claims,
        );
        for c in changed_claims
            .iter()
            .filter_map(|&e| desired.claims_of.get(e).ok())
        {
            let (Some(set), Some(o)) = (&c.set, c.ordinal) else {
                full = true;
                continue;
            };
            if let Some(&pe) = index.pods.get(&format!("{set}-{o}"))
                && desired
                    .pods
                    .get(pe)
                    .is_ok_and(|(_, p, _)| p.claims.contains(&c.name))
            {
                recompute.push(pe);
            }
        }
        recompute.sort_unstable();
        recompute.dedup();
        for (e, p, s) in recompute.iter().filter_map(|&e| desired.pods.get(e).ok()) {
            let new = desired.pod_wants(p, s, index);
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
                full |= w.len() > 1;
                touched.push(v.clone());
            }
            mem.pod_wants.insert(e, new);
        }
        (touched, full)
    }
}

/// The volumes of the attachments that changed since the last pass, found
/// through the journal (`is_changed` reads what `Changed<_>` would).
fn changed_attachments(j: &Journal, c: &mut Cursors, actual: &mut Actual) -> Vec<Entity> {
    let changed: Vec<Entity> = match candidates(&j.atts, &mut c.atts) {
        Some(v) => v
            .into_iter()
            .filter(|&e| actual.atts.get_mut(e).is_ok_and(|(_, a, _)| a.is_changed()))
            .collect(),
        None => actual
            .atts
            .iter_mut()
            .filter(|(_, a, _)| a.is_changed())
            .map(|(e, ..)| e)
            .collect(),
    };
    debug_same("changed attachments", &changed, || {
        actual
            .atts
            .iter_mut()
            .filter(|(_, a, _)| a.is_changed())
            .map(|(e, ..)| e)
            .collect()
    });
    changed
        .into_iter()
        .filter_map(|e| actual.atts.get(e).ok().map(|(_, _, of)| of.0))
        .collect()
}

/// The attachments of the volume in a pass, and the nodes they are on.
struct Held<'a, 'w, 's> {
    atts: &'a AttachmentQuery<'w, 's>,
    nodes: &'a Query<'w, 's, &'static NodeState>,
    entities: &'a [Entity],
}

/// One volume's pass: the actual state first, then the desired state.
struct VolumePass<'a> {
    ve: Entity,
    name: &'a str,
    /// The (node, pod) of the pods that want it.
    want: Vec<(&'a str, &'a str)>,
    /// The earliest future instant it asked to be woken at.
    deadline: Option<u64>,
}

impl VolumePass<'_> {
    fn wake(&mut self, cluster: &mut Cluster, t: u64) {
        cluster.clock.wake.at_noting(t, &mut self.deadline);
    }

    fn reconcile(&mut self, cluster: &mut Cluster, actual: &mut Actual) {
        let Ok((_, vol, mut vs, va)) = actual.volumes.get_mut(self.ve) else {
            return;
        };
        cluster.journal.volumes.note(self.ve);
        if !vol.kind.needs_attach() {
            // Shared file storage is mounted, never attached; a local disk is
            // in its node already (its plugin has no attacher): nothing to do.
            return;
        }
        let att_entities: &[Entity] = va.map_or(&[], |a| a.entities());
        // A node no pod wants the volume on any more may report again later.
        if !vs.multi_attach_reported.is_empty() {
            let want = &self.want;
            let before = vs.multi_attach_reported.len();
            vs.multi_attach_reported
                .retain(|n| want.iter().any(|(w, _)| w == n));
            if vs.multi_attach_reported.len() != before {
                cluster.touch();
            }
        }
        if self.want.is_empty() && att_entities.is_empty() {
            if vs.attach_error.is_some() {
                vs.attach_error = None;
                cluster.touch();
            }
            return;
        }
        let only = att_entities
            .first()
            .and_then(|&e| actual.atts.get(e).ok())
            .map(|(_, a, _)| a);
        if is_steady(&self.want, att_entities, only, &vs) {
            return;
        }
        for &ae in att_entities {
            self.settle_attachment(cluster, &mut actual.atts, &actual.nodes, ae);
        }
        let mut error: Option<String> = None;
        for i in 0..self.want.len() {
            let (node, pod) = self.want[i];
            let held = Held {
                atts: &actual.atts,
                nodes: &actual.nodes,
                entities: att_entities,
            };
            if let Some(msg) = self.attach_wanted(cluster, &held, &mut vs, node, pod) {
                error = Some(msg);
            }
        }
        if vs.attach_error != error {
            vs.attach_error = error;
            cluster.touch();
        }
    }

    /// The actual state: finish attaches and detaches, start detaches.
    fn settle_attachment(
        &mut self,
        cluster: &mut Cluster,
        atts: &mut AttachmentQuery,
        nodes: &Query<&NodeState>,
        ae: Entity,
    ) {
        let Ok((_, mut a, _)) = atts.get_mut(ae) else {
            return;
        };
        cluster.journal.atts.note(ae);
        let node = cluster
            .index
            .nodes
            .get(&a.node)
            .and_then(|&e| nodes.get(e).ok())
            .map(|ns| NodeView::of(ns, self.name));
        let wanted_here = self.want.iter().any(|(n, _)| *n == a.node);
        let step = attachment_step(&a, node, wanted_here, cluster.now());
        self.apply(cluster, &mut a, ae, step);
    }

    /// An event about this volume on `node`.
    fn event(&self, kind: EventKind, node: &str, reason: String) -> SimEvent {
        SimEvent::new(kind, format!("pv/{}", self.name), reason)
            .node(node.to_string())
            .volume(self.name.to_string())
    }

    /// The attachment is gone for the control plane (and the index).
    fn remove(&self, cluster: &mut Cluster, ae: Entity, node: &str) {
        cluster.index.remove_attachment(self.name, node);
        cluster.commands.entity(ae).despawn();
    }

    fn apply(&mut self, cluster: &mut Cluster, a: &mut Mut<Attachment>, ae: Entity, step: AttStep) {
        let now = cluster.now();
        match step {
            AttStep::Nothing => {}
            AttStep::Wait(t) => self.wake(cluster, t),
            AttStep::FinishAttach => {
                a.state = AttachState::Attached;
                let why = format!("attached to {} (ReadWriteOnce: one node at a time)", a.node);
                cluster.emit(self.event(EventKind::VolumeAttached, &a.node, why));
            }
            AttStep::FinishDetach => {
                self.remove(cluster, ae, &a.node);
                let ev = match a.detach_reason.take() {
                    Some(r) => self
                        .event(EventKind::VolumeDetached, &a.node, r)
                        .detail("force"),
                    None => {
                        let why = format!("detached from {}", a.node);
                        self.event(EventKind::VolumeDetached, &a.node, why)
                    }
                };
                cluster.emit(ev);
            }
            AttStep::Drop => {
                self.remove(cluster, ae, &a.node);
                cluster.touch();
            }
            AttStep::CancelDetach => {
                a.detach_requested_ms = None;
                cluster.touch();
            }
            AttStep::StartDetach { reason } => {
                a.state = AttachState::Detaching {
                    until_ms: now + DETACH_MS,
                };
                if reason.is_some() {
                    a.detach_reason = reason;
                }
                self.wake(cluster, now + DETACH_MS);
                cluster.touch();
            }
            AttStep::AwaitUnmount { record, deadline } => {
                if record {
                    a.detach_requested_ms = Some(now);
                    cluster.touch();
                } else {
                    // Reading the request time has always gone through a
                    // mutable borrow, which marks the attachment changed; kept
                    // so that the passes that follow are the same.
                    a.set_changed();
                }
                self.wake(cluster, deadline);
            }
            AttStep::ForceDetach { partitioned } => {
                a.set_changed();
                let why = force_detach_reason(&a.node, partitioned);
                cluster.emit(
                    self.event(EventKind::VolumeDetached, &a.node, why)
                        .detail("force"),
                );
                if partitioned {
                    a.forgotten = true;
                } else {
                    self.remove(cluster, ae, &a.node);
                }
            }
        }
    }

    /// The desired state: attach where wanted, one node only. Returns the
    /// Multi-Attach error if the volume is held by another node.
    fn attach_wanted(
        &mut self,
        cluster: &mut Cluster,
        held: &Held,
        vs: &mut Mut<VolumeStatus>,
        node: &str,
        pod: &str,
    ) -> Option<String> {
        let now = cluster.now();
        let vname = self.name;
        let index = &cluster.index;
        if !index.nodes.contains_key(node) {
            // A deleted node is kept in the desired state only for what is
            // attached there already; nothing new is attached to it.
            return None;
        }
        let mine = match index.attachment(vname, node) {
            None => Mine::None,
            Some(e) if held.atts.get(e).is_ok_and(|(_, a, _)| !a.forgotten) => Mine::Live,
            Some(_) => Mine::NotLive,
        };
        let other = held
            .entities
            .iter()
            .filter_map(|&e| held.atts.get(e).ok().map(|(_, a, _)| a))
            .find(|a| !a.forgotten && a.node != node && index.has_attachment(vname, &a.node));
        let other_detaching = other.map(|o| matches!(o.state, AttachState::Detaching { .. }));
        match attach_step(mine, other_detaching) {
            AttachStep::Skip | AttachStep::WaitForDetach => None,
            AttachStep::MultiAttach => {
                let o = other?;
                let other_ready = index
                    .nodes
                    .get(&o.node)
                    .and_then(|&e| held.nodes.get(e).ok())
                    .map(|ns| ns.ready == Condition::True);
                let (msg, logged) = multi_attach_error(vname, node, o, other_ready, now);
                if multi_attach_due(vs, node) {
                    vs.multi_attach_reported.push(node.to_string());
                    let used_by: Vec<&str> = self
                        .want
                        .iter()
                        .filter(|(n, _)| *n != node)
                        .map(|(_, p)| *p)
                        .collect();
                    cluster.emit(
                        SimEvent::new(
                            EventKind::VolumeMultiAttachError,
                            format!("pod/{pod}"),
                            logged,
                        )
                        .node(node)
                        .volume(vname.to_string())
                        .k8s(K8sRecord::multi_attach(pod, vname, &used_by)),
                    );
                }
                Some(msg)
            }
            AttachStep::Attach => {
                let attachment = Attachment {
                    volume: vname.to_string(),
                    node: node.to_string(),
                    state: AttachState::Attaching {
                        until_ms: now + ATTACH_MS,
                    },
                    detach_requested_ms: None,
                    forgotten: false,
                    detach_reason: None,
                };
                let ae = cluster
                    .commands
                    .spawn((attachment, AttachmentOf(self.ve)))
                    .id();
                cluster.index.insert_attachment(vname, node, ae);
                self.wake(cluster, now + ATTACH_MS);
                cluster.touch();
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_entering_or_leaving_volumes_in_use_is_the_only_one_touched() {
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let b = v(&["data-web-1", "data-web-2", "data-web-3"]);
        let a = v(&["data-web-1", "data-web-3", "data-web-4"]);
        assert_eq!(sorted_difference(&b, &a), vec!["data-web-2", "data-web-4"]);
        assert!(sorted_difference(&b, &b).is_empty());
        assert_eq!(
            sorted_difference(&a, &[]),
            vec!["data-web-1", "data-web-3", "data-web-4"]
        );
    }

    fn attached(node: &str) -> Attachment {
        Attachment {
            volume: "data-web-0".into(),
            node: node.into(),
            state: AttachState::Attached,
            detach_requested_ms: None,
            forgotten: false,
            detach_reason: None,
        }
    }

    fn node(machine: Machine, mounted: bool) -> NodeView {
        NodeView {
            machine,
            connected: machine == Machine::Up,
            mounted,
            out_of_service: false,
        }
    }

    #[test]
    fn rwo_volume_waits_six_minutes_before_force_detach() {
        let mut a = attached("n1");
        let cut_off = Some(node(Machine::Dead, true));
        let step = attachment_step(&a, cut_off, false, 1_000);
        assert_eq!(
            step,
            AttStep::AwaitUnmount {
                record: true,
                deadline: 1_000 + MAX_WAIT_FOR_UNMOUNT_MS
            }
        );
        a.detach_requested_ms = Some(1_000);
        let almost = 1_000 + MAX_WAIT_FOR_UNMOUNT_MS - 1;
        assert!(matches!(
            attachment_step(&a, cut_off, false, almost),
            AttStep::AwaitUnmount { record: false, .. }
        ));
        let due = 1_000 + MAX_WAIT_FOR_UNMOUNT_MS;
        assert_eq!(
            attachment_step(&a, cut_off, false, due),
            AttStep::ForceDetach { partitioned: false }
        );
    }

    #[test]
    fn force_detach_from_a_partitioned_node_only_forgets_the_attachment() {
        let mut a = attached("n1");
        a.detach_requested_ms = Some(0);
        let step = attachment_step(
            &a,
            Some(node(Machine::Partitioned, true)),
            false,
            MAX_WAIT_FOR_UNMOUNT_MS,
        );
        assert_eq!(step, AttStep::ForceDetach { partitioned: true });
    }

    #[test]
    fn a_deleted_node_counts_as_still_mounted() {
        let step = attachment_step(&attached("n1"), None, false, 0);
        assert!(matches!(step, AttStep::AwaitUnmount { record: true, .. }));
    }

    #[test]
    fn out_of_service_taint_force_detaches_at_once() {
        let mut n = node(Machine::Dead, true);
        n.out_of_service = true;
        let AttStep::StartDetach { reason: Some(r) } =
            attachment_step(&attached("n1"), Some(n), false, 0)
        else {
            panic!("expected a forced detach");
        };
        assert!(r.contains("out-of-service"));
    }

    #[test]
    fn a_volume_reported_unmounted_detaches_without_waiting() {
        let step = attachment_step(&attached("n1"), Some(node(Machine::Up, false)), false, 0);
        assert_eq!(step, AttStep::StartDetach { reason: None });
    }

    #[test]
    fn a_pod_wanting_it_again_calls_off_the_pending_detach() {
        let mut a = attached("n1");
        let n = Some(node(Machine::Up, true));
        assert_eq!(attachment_step(&a, n, true, 0), AttStep::Nothing);
        a.detach_requested_ms = Some(0);
        assert_eq!(attachment_step(&a, n, true, 0), AttStep::CancelDetach);
    }

    #[test]
    fn a_forgotten_attachment_goes_once_the_machine_unmounts_or_dies() {
        let mut a = attached("n1");
        a.forgotten = true;
        assert_eq!(
            attachment_step(&a, Some(node(Machine::Partitioned, true)), false, 0),
            AttStep::Nothing
        );
        assert_eq!(
            attachment_step(&a, Some(node(Machine::Up, true)), false, 0),
            AttStep::Nothing
        );
        assert_eq!(
            attachment_step(&a, Some(node(Machine::Up, false)), false, 0),
            AttStep::Drop
        );
        assert_eq!(
            attachment_step(&a, Some(node(Machine::Dead, true)), false, 0),
            AttStep::Drop
        );
        assert_eq!(attachment_step(&a, None, false, 0), AttStep::Drop);
    }

    #[test]
    fn attach_and_detach_finish_at_their_deadlines() {
        let mut a = attached("n1");
        a.state = AttachState::Attaching { until_ms: 10 };
        assert_eq!(attachment_step(&a, None, true, 9), AttStep::Wait(10));
        assert_eq!(attachment_step(&a, None, true, 10), AttStep::FinishAttach);
        a.state = AttachState::Detaching { until_ms: 10 };
        assert_eq!(attachment_step(&a, None, false, 9), AttStep::Wait(10));
        assert_eq!(attachment_step(&a, None, false, 10), AttStep::FinishDetach);
    }

    #[test]
    fn a_volume_is_attached_to_one_node_only() {
        assert_eq!(attach_step(Mine::None, None), AttachStep::Attach);
        assert_eq!(attach_step(Mine::Live, Some(false)), AttachStep::Skip);
        assert_eq!(
            attach_step(Mine::None, Some(false)),
            AttachStep::MultiAttach
        );
        assert_eq!(attach_step(Mine::NotLive, None), AttachStep::Skip);
    }

    #[test]
    fn a_pod_waits_silently_while_the_other_node_detaches() {
        assert_eq!(
            attach_step(Mine::None, Some(true)),
            AttachStep::WaitForDetach
        );
        assert_eq!(
            attach_step(Mine::NotLive, Some(true)),
            AttachStep::WaitForDetach
        );
    }

    #[test]
    fn multi_attach_error_shows_the_countdown_and_why_the_node_is_stuck() {
        let mut other = attached("n1");
        other.detach_requested_ms = Some(0);
        let (msg, logged) = multi_attach_error("v", "n2", &other, Some(false), 108_000);
        assert_eq!(
            msg,
            "Multi-Attach error for volume v: still attached to n1 and it can't be attached to n2 (ReadWriteOnce)"
        );
        assert_eq!(
            logged,
            format!("{msg}; force-detach in 4m12s (unreachable: it cannot confirm the unmount)")
        );
        other.detach_requested_ms = None;
        let (_, logged) = multi_attach_error("v", "n2", &other, None, 0);
        assert!(logged.ends_with(
            "(ReadWriteOnce) (its node object was deleted; the unmount was never confirmed)"
        ));
    }

    #[test]
    fn multi_attach_error_is_recorded_once_per_volume_and_node() {
        let mut vs = VolumeStatus::default();
        assert!(multi_attach_due(&vs, "n2"), "new error");
        vs.multi_attach_reported.push("n2".into());
        assert!(!multi_attach_due(&vs, "n2"), "not repeated");
        assert!(multi_attach_due(&vs, "n3"), "another node reports its own");
    }
}
