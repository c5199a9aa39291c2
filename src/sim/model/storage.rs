//! Storage components: persistent volume claims, volumes, and attachments of
//! volumes to nodes.

use super::spec::StorageKind;
use bevy::prelude::*;

/// A PersistentVolumeClaim.
#[derive(Component, Debug, Clone)]
pub struct Claim {
    pub name: String,
    /// The StatefulSet whose template made it, and the ordinal.
    pub set: Option<String>,
    pub ordinal: Option<u32>,
    pub template: String,
    pub class: String,
    pub size_gib: u32,
    pub created_ms: u64,
}

#[derive(Component, Debug, Clone, Default)]
pub struct ClaimStatus {
    /// Name of the bound volume.
    pub volume: Option<String>,
    /// WaitForFirstConsumer: the node the scheduler picked for the first pod.
    pub selected_node: Option<String>,
    /// Deletion requested; kept while a pod uses it (kubernetes.io/pvc-protection).
    pub deleting: Option<DeletionCause>,
    /// Why, for the log line when it is finally removed.
    pub deleting_reason: Option<String>,
    /// ClaimTerminating already logged for this deletion.
    pub terminating_logged: bool,
    /// metadata.ownerReferences: the StatefulSet (whenDeleted=Delete) or the
    /// condemned pod (whenScaled=Delete); the garbage collector deletes the
    /// claim once its owner is gone (docs/semantics.md §4.1).
    pub owner_refs: Vec<OwnerRef>,
    /// An expansion in progress: `Claim::size_gib` is the new request,
    /// status.capacity is still the old size (§4.7 claim-expansion).
    pub resize: Option<ClaimResize>,
}

/// A claim expansion: the external resizer grows the volume, then the
/// kubelet of a node that mounts it grows the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimResize {
    /// status.capacity until the file system is grown.
    pub from_gib: u32,
    pub stage: ResizeStage,
}

/// Where a claim expansion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeStage {
    /// The external resizer expands the volume (ControllerExpandVolume)
    /// until then (condition Resizing).
    Controller { until_ms: u64 },
    /// The volume is bigger; the file system waits for a kubelet that mounts
    /// it (condition FileSystemResizePending). `until_ms`: when the kubelet
    /// of a node where a pod uses it finishes NodeExpandVolume.
    FileSystem { until_ms: Option<u64> },
}

/// How long the external resizer's ControllerExpandVolume takes.
pub const RESIZE_CONTROLLER_MS: u64 = 5_000;
/// How long the kubelet's online NodeExpandVolume (resize2fs) takes.
pub const RESIZE_FILE_SYSTEM_MS: u64 = 2_000;

impl ClaimStatus {
    /// status.capacity in GiB of a claim requesting `requested` GiB: the old
    /// size while an expansion is under way. Meaningful once bound.
    pub fn capacity_gib(&self, requested: u32) -> u32 {
        self.resize.map_or(requested, |r| r.from_gib)
    }
}

/// Claims with an expansion under way, for the resize pass (empty: it does
/// nothing).
#[derive(Resource, Debug, Default, Clone)]
pub struct ClaimResizes(pub Vec<Entity>);

/// Kind of the object an ownerReference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerRefKind {
    StatefulSet,
    Pod,
}

/// One metadata.ownerReferences entry: the owner's kind, name and uid (a
/// pod's uid tells the pod that owned the claim from a later one with the
/// same name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    pub kind: OwnerRefKind,
    pub name: String,
    pub uid: String,
}

impl OwnerRef {
    /// "Pod web-2 (uid 1a2b3c4d)", as an inspector shows it.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            OwnerRefKind::StatefulSet => "StatefulSet",
            OwnerRefKind::Pod => "Pod",
        };
        let uid = &self.uid[..8.min(self.uid.len())];
        if uid.is_empty() {
            format!("{kind} {}", self.name)
        } else {
            format!("{kind} {} (uid {uid})", self.name)
        }
    }
}

/// Why a claim is being deleted, for the Retain invariant and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionCause {
    User,
    RetentionWhenScaled,
    RetentionWhenDeleted,
}

/// Where a volume can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Affinity {
    Anywhere,
    Zone(String),
    Node(String),
}

impl Affinity {
    pub fn describe(&self) -> Option<String> {
        match self {
            Affinity::Anywhere => None,
            Affinity::Zone(z) => Some(format!("zone={z}")),
            Affinity::Node(n) => Some(format!("node={n}")),
        }
    }
    pub fn allows(&self, node: &str, zone: &str) -> bool {
        match self {
            Affinity::Anywhere => true,
            Affinity::Zone(z) => z == zone,
            Affinity::Node(n) => n == node,
        }
    }
}

/// A PersistentVolume (ReadWriteOnce). Its data lives here, not in the pod.
#[derive(Component, Debug, Clone)]
pub struct Volume {
    pub name: String,
    pub claim: String,
    pub kind: StorageKind,
    pub affinity: Affinity,
    pub size_gib: u32,
}

/// Claim → its bound volume.
#[derive(Component, Debug)]
#[relationship(relationship_target = BoundClaim)]
pub struct BoundTo(pub Entity);

/// Volume → the claim bound to it.
#[derive(Component, Debug)]
#[relationship_target(relationship = BoundTo)]
pub struct BoundClaim(Entity);

impl BoundClaim {
    pub fn claim(&self) -> Entity {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachState {
    Attaching { until_ms: u64 },
    Attached,
    Detaching { until_ms: u64 },
}

/// Time to attach and detach a volume.
pub const ATTACH_MS: u64 = 3_000;
pub const DETACH_MS: u64 = 2_000;
/// maxWaitForUnmountDuration of the attach/detach controller.
pub const MAX_WAIT_FOR_UNMOUNT_MS: u64 = 360_000;

/// A VolumeAttachment: this volume on this node.
#[derive(Component, Debug, Clone)]
pub struct Attachment {
    pub volume: String,
    pub node: String,
    pub state: AttachState,
    /// When the controller first wanted it detached (for the 6-minute force-detach).
    pub detach_requested_ms: Option<u64>,
    /// Force-detached at the storage API while the machine, only cut off,
    /// still has it mounted: the mount is fenced (its I/O fails) and the
    /// volume can be attached elsewhere. Kept until the machine unmounts it,
    /// so the stale mount can be shown; it is not an attachment any more.
    pub forgotten: bool,
    /// Why a detach was started early (out-of-service), logged when it completes.
    pub detach_reason: Option<String>,
}

/// Attachment → its volume.
#[derive(Component, Debug)]
#[relationship(relationship_target = VolumeAttachments)]
pub struct AttachmentOf(pub Entity);

#[derive(Component, Debug, Default)]
#[relationship_target(relationship = AttachmentOf, linked_spawn)]
pub struct VolumeAttachments(Vec<Entity>);

impl VolumeAttachments {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// What the attach/detach controller reports about a volume.
#[derive(Component, Debug, Clone, Default)]
pub struct VolumeStatus {
    /// Why the volume cannot be attached where it is wanted (Multi-Attach).
    pub attach_error: Option<String>,
    /// The nodes a Multi-Attach error was already reported for: it is
    /// recorded once per volume and node while pods there want it
    /// (reconciler `MultiAttachErrorReported`).
    pub multi_attach_reported: Vec<String>,
}
