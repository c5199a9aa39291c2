//! The view model: a plain snapshot of what the world view draws, built
//! from the read model (`sim::read`, which the JSON snapshot and the
//! inspector read too) each frame. Pure data, so layout, colours and
//! captions are testable without a window.

use crate::sim::database::ReplState;
use crate::sim::model::{AttachState, Attachment, MAX_WAIT_FOR_UNMOUNT_MS};
use crate::sim::model::{Condition, Machine};
use crate::sim::model::{OwnerKind, PodPhase};
use crate::sim::read::{self, Cluster, NodeRead, PodRead, ServerRead, SetRead};
use crate::sim::units;
use bevy::prelude::*;
use std::collections::BTreeMap;

/// What the control plane believes about a node, and what is really true.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub name: String,
    pub zone: String,
    pub ready: Condition,
    /// How long the Ready condition has had its value (ms).
    pub ready_for_ms: u64,
    pub machine: Machine,
    pub machine_for_ms: u64,
    pub taints: Vec<String>,
    pub cordoned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PodView {
    /// Stable key for animation: a StatefulSet pod's identity is its name (so
    /// web-1 moves when rescheduled); a Deployment pod is its own uid.
    pub key: String,
    pub name: String,
    pub owner_kind: OwnerKind,
    pub owner: String,
    pub node: Option<String>,
    pub phase: PodPhase,
    pub ready: bool,
    /// The STATUS column as `kubectl get pods` shows it.
    pub status: String,
    /// Container restarts by the kubelet.
    pub restarts: u32,
    /// Revision number (1, 2, …) and whether it is the set's update revision.
    pub revision: Option<u64>,
    pub updated: bool,
    pub image: String,
    pub waiting: Option<String>,
    /// A stray process: still running with no API object (a force delete
    /// on a partitioned node; split brain). Not a Kubernetes "orphan".
    pub stray: bool,
    /// An API pod with no controller: its StatefulSet was deleted with
    /// `--cascade=orphan` (Kubernetes calls it orphaned) and no set has
    /// adopted it yet.
    pub unowned: bool,
    pub claims: Vec<String>,
    /// The DNS name, while the headless service's record lists the pod.
    pub dns: Option<String>,
    /// status.podIP (docs/semantics.md §1.7 pod-ips).
    pub ip: Option<String>,
    pub db: Option<DbView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DbView {
    pub primary: bool,
    pub server_id: u32,
    pub state: String,
    pub lag_rows: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttachLook {
    Attaching,
    Attached,
    Detaching,
    /// The control plane forgot it, the partitioned machine still mounts it.
    StillMounted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeView {
    pub name: String,
    pub claim: String,
    pub claim_exists: bool,
    /// The pod (by name) whose claim this is, if that pod exists.
    pub pod: Option<String>,
    pub attached: Vec<(String, AttachLook)>,
    /// Shared file storage (NFS-like): mounted where used, never attached.
    pub shared: bool,
    /// A local disk: in its node, never attached or detached.
    pub local: bool,
    pub rows: Option<u64>,
    pub diverged: bool,
    pub affinity: Option<String>,
    /// Why it is not where its pod wants it, with a live countdown.
    pub waiting: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LinkKind {
    Cloning,
    Connecting,
    Replicating,
    Broken,
}

/// Data flowing from `from` (the source) to `to` (a replica).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkView {
    pub from: String,
    pub to: String,
    pub kind: LinkKind,
    pub lag_rows: u64,
    pub lag_secs: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SetView {
    pub name: String,
    pub deployment: bool,
    pub replicas: u32,
    pub ready: u32,
    pub current: u32,
    pub updated: u32,
    pub current_revision: String,
    pub update_revision: String,
    pub blocked: Option<String>,
    pub image: String,
    pub service: String,
    pub writes: Option<(u64, u64, f64)>,
    /// A database's primary pod (its first ordinal), where clients write.
    pub primary: Option<String>,
    /// The clients' writes to the primary are failing right now.
    pub writes_failing: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scene {
    pub now_ms: u64,
    pub nodes: Vec<NodeView>,
    pub pods: Vec<PodView>,
    pub volumes: Vec<VolumeView>,
    pub links: Vec<LinkView>,
    pub sets: Vec<SetView>,
}

impl Scene {
    pub fn pod(&self, name: &str) -> Option<&PodView> {
        self.pods.iter().find(|p| p.name == name && !p.stray)
    }
    pub fn node(&self, name: &str) -> Option<&NodeView> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// Reads the simulation world into a Scene. Read-only.
pub fn extract(world: &mut World) -> Scene {
    from_read(&read::read(world))
}

/// The scene of a read of the cluster (the read model the snapshot and the
/// inspector share).
pub fn from_read(c: &Cluster) -> Scene {
    let now = c.now_ms;
    let mut scene = Scene {
        now_ms: now,
        nodes: c.nodes.iter().map(|n| node_view(n, now)).collect(),
        ..default()
    };
    scene
        .nodes
        .sort_by(|a, b| (&a.zone, &a.name).cmp(&(&b.zone, &b.name)));
    scene.sets = set_views(c);
    scene.pods = pod_views(c);
    scene.volumes = volume_views(c, &scene);
    scene.links = link_views(c);
    scene
}

fn node_view(n: &NodeRead, now: u64) -> NodeView {
    let s = &n.state;
    NodeView {
        name: n.node.name.clone(),
        zone: n.node.zone.clone(),
        ready: s.ready,
        ready_for_ms: now.saturating_sub(s.ready_since_ms),
        machine: s.machine,
        machine_for_ms: now.saturating_sub(s.machine_since_ms),
        taints: s.taints.iter().map(|t| t.describe()).collect(),
        cordoned: s.cordoned,
    }
}

/// StatefulSets first, then Deployments, each by name.
fn set_views(c: &Cluster) -> Vec<SetView> {
    let mut sets: Vec<SetView> = c
        .sets
        .iter()
        .map(|SetRead { set: s, status: st }| {
            let db = c.database(&s.spec.name);
            SetView {
                name: s.spec.name.clone(),
                deployment: false,
                replicas: s.spec.replicas,
                ready: st.ready,
                current: st.current,
                updated: st.updated,
                current_revision: st.current_revision.clone(),
                update_revision: st.update_revision.clone(),
                blocked: st.blocked.clone(),
                image: s.spec.template.image.clone(),
                service: s.spec.service_name().to_string(),
                writes: db.map(|d| (d.written, d.failed, d.write_rate)),
                primary: db.map(|d| d.primary.clone()),
                writes_failing: db.is_some_and(|d| d.failing),
            }
        })
        .collect();
    sets.extend(c.deployments.iter().map(|d| SetView {
        name: d.deployment.spec.name.clone(),
        deployment: true,
        replicas: d.deployment.spec.replicas,
        ready: d.status.ready,
        current: d.status.replicas,
        updated: d.status.updated,
        current_revision: String::new(),
        update_revision: String::new(),
        blocked: d.status.blocked.clone(),
        image: d.deployment.spec.template.image.clone(),
        service: String::new(),
        writes: None,
        primary: None,
        writes_failing: false,
    }));
    sets
}

/// API pods, then processes that outlived their API object (a force delete
/// on a partition); StatefulSet pods first, by owner, name, stray processes last.
fn pod_views(c: &Cluster) -> Vec<PodView> {
    // Revisions per set: name → (number, is update revision).
    let mut revs: BTreeMap<&str, (u64, bool)> = BTreeMap::new();
    for s in &c.sets {
        for r in &s.status.revisions {
            revs.insert(&r.name, (r.number, r.name == s.status.update_revision));
        }
    }
    let mut pods: Vec<PodView> = c
        .pods
        .iter()
        .map(
            |PodRead {
                 pod: p,
                 status: s,
                 orphaned,
             }| {
                let (revision, updated) = match revs.get(p.revision.as_str()) {
                    Some(&(n, u)) => (Some(n), u),
                    None => (None, false),
                };
                PodView {
                    key: match p.owner.kind {
                        OwnerKind::StatefulSet => format!("pod/{}", p.name),
                        OwnerKind::Deployment => format!("pod/{}", p.uid),
                    },
                    name: p.name.clone(),
                    owner_kind: p.owner.kind,
                    owner: p.owner.name.clone(),
                    node: s.node.clone(),
                    phase: s.shown_phase(),
                    ready: s.ready,
                    status: s.status_column(c.now_ms),
                    restarts: s.restarts,
                    revision,
                    updated,
                    image: p.template.image.clone(),
                    waiting: s.waiting.clone(),
                    stray: false,
                    unowned: *orphaned,
                    claims: p.claims.clone(),
                    dns: s.dns_address().and(p.dns.clone()),
                    ip: s.ip.clone(),
                    db: c.server(&p.uid).map(db_view),
                }
            },
        )
        .collect();
    for pr in c.stray_processes() {
        let p = &pr.process;
        pods.push(PodView {
            key: format!("proc/{}", p.pod_uid),
            name: p.pod.clone(),
            owner_kind: p.owner.kind,
            owner: p.owner.name.clone(),
            node: Some(p.node.clone()),
            phase: PodPhase::Running,
            ready: false,
            status: "Running".into(),
            restarts: 0,
            revision: None,
            updated: false,
            image: String::new(),
            waiting: Some("force-deleted, process still running".into()),
            stray: true,
            unowned: false,
            claims: Vec::new(),
            dns: None,
            ip: None,
            db: c.server(&p.pod_uid).map(db_view),
        });
    }
    pods.sort_by(|a, b| {
        (
            a.owner_kind != OwnerKind::StatefulSet,
            &a.owner,
            &a.name,
            a.stray,
        )
            .cmp(&(
                b.owner_kind != OwnerKind::StatefulSet,
                &b.owner,
                &b.name,
                b.stray,
            ))
    });
    pods
}

fn volume_views(c: &Cluster, scene: &Scene) -> Vec<VolumeView> {
    let now = c.now_ms;
    let mut claim_pod: BTreeMap<&str, &str> = BTreeMap::new();
    for p in scene.pods.iter().filter(|p| !p.stray) {
        for cl in &p.claims {
            claim_pod.insert(cl, &p.name);
        }
    }
    let node_bad = |n: &str| scene.node(n).is_some_and(|n| n.ready != Condition::True);
    c.volumes
        .iter()
        .map(|v| {
            let claim = c.claims.iter().find(|cl| cl.claim.name == v.volume.claim);
            // Claims of database sets show their row count even when empty.
            let of_db = claim
                .and_then(|cl| cl.claim.set.as_deref())
                .is_some_and(|s| c.database(s).is_some());
            let mut countdown = None;
            let attached = v
                .attachments
                .iter()
                .map(|a| {
                    if let Some(since) = a.detach_requested_ms
                        && node_bad(&a.node)
                        && !a.forgotten
                    {
                        let left = (since + MAX_WAIT_FOR_UNMOUNT_MS).saturating_sub(now);
                        countdown = Some(format!(
                            "still attached to {}: force-detach in {}",
                            a.node,
                            units::duration(left)
                        ));
                    }
                    (a.node.clone(), attach_look(a))
                })
                .collect();
            VolumeView {
                name: v.volume.name.clone(),
                claim: v.volume.claim.clone(),
                claim_exists: claim.is_some(),
                pod: claim_pod
                    .get(v.volume.claim.as_str())
                    .map(|p| p.to_string()),
                attached,
                shared: !v.volume.kind.is_block(),
                local: v.volume.kind == crate::sim::model::StorageKind::Local,
                rows: v.rows.filter(|&r| r > 0 || of_db),
                diverged: v.diverged,
                affinity: v.volume.affinity.describe(),
                waiting: countdown.or_else(|| v.status.attach_error.clone()),
            }
        })
        .collect()
}

fn attach_look(a: &Attachment) -> AttachLook {
    if a.forgotten {
        return AttachLook::StillMounted;
    }
    match a.state {
        AttachState::Attaching { .. } => AttachLook::Attaching,
        AttachState::Attached => AttachLook::Attached,
        AttachState::Detaching { .. } => AttachLook::Detaching,
    }
}

/// Replication links: from the source (a clone's source, else the primary)
/// to each replica pod.
fn link_views(c: &Cluster) -> Vec<LinkView> {
    let mut links = Vec::new();
    for p in &c.pods {
        let (Some(db), Some(s)) = (c.database(&p.pod.owner.name), c.server(&p.pod.uid)) else {
            continue;
        };
        if s.server.primary {
            continue;
        }
        let (from, kind) = match &s.server.state {
            ReplState::Cloning { source, .. } => (source.clone(), LinkKind::Cloning),
            ReplState::Connecting => (db.primary.clone(), LinkKind::Connecting),
            ReplState::Replicating => (db.primary.clone(), LinkKind::Replicating),
            ReplState::Broken { .. } => (db.primary.clone(), LinkKind::Broken),
            _ => continue,
        };
        links.push(LinkView {
            from,
            to: p.pod.name.clone(),
            kind,
            lag_rows: s.lag_rows,
            lag_secs: if db.write_rate > 0.0 {
                s.lag_rows as f64 / db.write_rate
            } else {
                0.0
            },
        });
    }
    links
}

fn db_view(s: &ServerRead) -> DbView {
    DbView {
        primary: s.server.primary,
        server_id: s.server.server_id,
        state: s.state.clone(),
        lag_rows: s.lag_rows,
    }
}
