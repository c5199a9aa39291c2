//! The read model: one owned, sorted copy of the cluster as it is now, and
//! the facts derived from it (who a database's primary is, how a replica's
//! replication reads, how far it lags). The JSON snapshot, the GUI's world
//! view and its inspector all read the cluster through this, so they cannot
//! disagree. Reading never changes the world.

use super::SimClock;
use super::database::{Databases, DbServer, ReplState, VolumeData};
use super::model::*;
use bevy::prelude::*;

/// The whole cluster now. Every list is sorted by name (processes by pod,
/// then node), never in `Query` order, so readers are deterministic.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub now_ms: u64,
    pub nodes: Vec<NodeRead>,
    pub pods: Vec<PodRead>,
    /// Every container process, also one whose pod object is gone (a force
    /// delete on a partitioned node).
    pub processes: Vec<ProcRead>,
    pub claims: Vec<ClaimRead>,
    /// Claims that existed once and were deleted.
    pub deleted_claims: Vec<String>,
    pub volumes: Vec<VolumeRead>,
    pub sets: Vec<SetRead>,
    pub deployments: Vec<DeploymentRead>,
    /// The replicated databases, by set name.
    pub databases: Vec<DbRead>,
    /// The release and feature gates the cluster runs.
    pub version: super::version::ClusterVersion,
}

#[derive(Debug, Clone)]
pub struct NodeRead {
    pub node: Node,
    pub state: NodeState,
}

#[derive(Debug, Clone)]
pub struct PodRead {
    pub pod: Pod,
    pub status: PodStatus,
    /// No controller owns it: its StatefulSet was deleted with
    /// `--cascade=orphan` and no set has adopted it yet (no `PodOf`).
    pub orphaned: bool,
}

/// A container process and, for a database pod, its server.
#[derive(Debug, Clone)]
pub struct ProcRead {
    pub process: Process,
    pub db: Option<ServerRead>,
}

impl ProcRead {
    /// Still running or starting: not being stopped.
    pub fn alive(&self) -> bool {
        !matches!(self.process.stage, ProcessStage::Stopping { .. })
    }
}

/// A database server as people and the snapshot see it.
#[derive(Debug, Clone)]
pub struct ServerRead {
    pub server: DbServer,
    /// Its replication state in words: the one wording of the snapshot,
    /// the world view and the inspector.
    pub state: String,
    /// Rows behind the primary (0 for the primary itself).
    pub lag_rows: u64,
    /// Seconds_Behind_Source in ms (0 for the primary itself).
    pub lag_ms: u64,
}

#[derive(Debug, Clone)]
pub struct ClaimRead {
    pub claim: Claim,
    pub status: ClaimStatus,
    /// The pod (first by name) whose spec uses this claim.
    pub pod: Option<String>,
}

#[derive(Debug, Clone)]
pub struct VolumeRead {
    pub volume: Volume,
    pub status: VolumeStatus,
    /// Rows of data stored, if the volume holds a database's data.
    pub rows: Option<u64>,
    pub diverged: bool,
    /// Its attachments, by node name.
    pub attachments: Vec<Attachment>,
}

impl VolumeRead {
    /// Every node it is attached to, also one the control plane
    /// force-detached but that still mounts it, by name.
    pub fn attached_nodes(&self) -> Vec<String> {
        self.attachments
            .iter()
            .filter(|a| a.state == AttachState::Attached)
            .map(|a| a.node.clone())
            .collect()
    }
    /// The node the control plane believes it is attached to.
    pub fn attached_to(&self) -> Option<String> {
        self.attachments
            .iter()
            .filter(|a| a.state == AttachState::Attached && !a.forgotten)
            .map(|a| a.node.clone())
            .min()
    }
}

#[derive(Debug, Clone)]
pub struct SetRead {
    pub set: StatefulSet,
    pub status: SetStatus,
}

#[derive(Debug, Clone)]
pub struct DeploymentRead {
    pub deployment: Deployment,
    pub status: DeploymentStatus,
}

/// One replicated database (one per StatefulSet with `database`).
#[derive(Debug, Clone)]
pub struct DbRead {
    /// The StatefulSet's name.
    pub set: String,
    /// The primary's pod: the set's first ordinal (`ordinals.start`), the
    /// name the clients connect to.
    pub primary: String,
    pub write_rate: f64,
    pub written: u64,
    pub failed: u64,
    /// The clients' writes are failing right now.
    pub failing: bool,
    pub primary_position: u64,
    pub max_lag_rows: u64,
    pub max_lag_ms: u64,
}

impl Cluster {
    pub fn pod(&self, name: &str) -> Option<&PodRead> {
        self.pods.iter().find(|p| p.pod.name == name)
    }
    pub fn node(&self, name: &str) -> Option<&NodeRead> {
        self.nodes.iter().find(|n| n.node.name == name)
    }
    pub fn volume(&self, name: &str) -> Option<&VolumeRead> {
        self.volumes.iter().find(|v| v.volume.name == name)
    }
    pub fn database(&self, set: &str) -> Option<&DbRead> {
        self.databases.iter().find(|d| d.set == set)
    }
    /// The tutorial's read Service of a database's set (`mysql-read`: a
    /// ClusterIP Service selecting every pod of the set) and its endpoints:
    /// the pods that are Ready and not Terminating, by name.
    pub fn read_service(&self, set: &str) -> (String, Vec<String>) {
        let service = self
            .sets
            .iter()
            .find(|s| s.set.spec.name == set)
            .map_or_else(
                || set.to_string(),
                |s| s.set.spec.service_name().to_string(),
            );
        let endpoints = self
            .pods
            .iter()
            .filter(|p| {
                p.pod.owner.kind == OwnerKind::StatefulSet
                    && p.pod.owner.name == set
                    && p.status.serving()
            })
            .map(|p| p.pod.name.clone())
            .collect();
        (format!("{service}-read"), endpoints)
    }
    /// The database server of a pod (by uid), preferring a live process to
    /// one that is stopping.
    pub fn server(&self, pod_uid: &str) -> Option<&ServerRead> {
        let mut of_pod = self
            .processes
            .iter()
            .filter(|p| p.process.pod_uid == pod_uid && p.db.is_some());
        let first = of_pod.clone().next();
        of_pod
            .find(|p| p.alive())
            .or(first)
            .and_then(|p| p.db.as_ref())
    }
    /// Processes still running whose pod object is gone (force-deleted on a
    /// node that was only cut off): one per pod uid.
    pub fn stray_processes(&self) -> Vec<&ProcRead> {
        let mut out: Vec<&ProcRead> = Vec::new();
        for p in &self.processes {
            let uid = &p.process.pod_uid;
            if p.alive()
                && !self.pods.iter().any(|a| a.pod.uid == *uid)
                && !out.iter().any(|o| o.process.pod_uid == *uid)
            {
                out.push(p);
            }
        }
        out
    }
    /// The servers of one database, by pod then node.
    pub fn servers<'a>(
        &'a self,
        set: &'a str,
    ) -> impl Iterator<Item = (&'a ProcRead, &'a ServerRead)> {
        self.processes
            .iter()
            .filter_map(|p| p.db.as_ref().map(|s| (p, s)))
            .filter(move |(_, s)| s.server.set == set)
    }
}

/// Reads the cluster now.
pub fn read(world: &mut World) -> Cluster {
    let now_ms = world.resource::<SimClock>().now_ms;
    let mut nodes: Vec<NodeRead> = world
        .query::<(&Node, &NodeState)>()
        .iter(world)
        .map(|(n, s)| NodeRead {
            node: n.clone(),
            state: s.clone(),
        })
        .collect();
    nodes.sort_by(|a, b| a.node.name.cmp(&b.node.name));
    let mut pods: Vec<PodRead> = world
        .query::<(&Pod, &PodStatus, Has<PodOf>)>()
        .iter(world)
        .map(|(p, s, owned)| PodRead {
            pod: p.clone(),
            status: s.clone(),
            orphaned: !owned,
        })
        .collect();
    pods.sort_by(|a, b| a.pod.name.cmp(&b.pod.name));
    let claims = read_claims(world, &pods);
    let deleted_claims = world
        .resource::<Index>()
        .deleted_claims
        .keys()
        .cloned()
        .collect();
    let volumes = read_volumes(world);
    let mut sets: Vec<SetRead> = world
        .query::<(&StatefulSet, &SetStatus)>()
        .iter(world)
        .map(|(s, st)| SetRead {
            set: s.clone(),
            status: st.clone(),
        })
        .collect();
    sets.sort_by(|a, b| a.set.spec.name.cmp(&b.set.spec.name));
    let mut deployments: Vec<DeploymentRead> = world
        .query::<(&Deployment, &DeploymentStatus)>()
        .iter(world)
        .map(|(d, st)| DeploymentRead {
            deployment: d.clone(),
            status: st.clone(),
        })
        .collect();
    deployments.sort_by(|a, b| a.deployment.spec.name.cmp(&b.deployment.spec.name));
    let databases = read_databases(world, &sets);
    let processes = read_processes(world, now_ms);
    let version = world.resource::<super::version::ClusterVersion>().clone();
    Cluster {
        now_ms,
        nodes,
        pods,
        processes,
        claims,
        deleted_claims,
        volumes,
        sets,
        deployments,
        databases,
        version,
    }
}

fn read_claims(world: &mut World, pods: &[PodRead]) -> Vec<ClaimRead> {
    // Pods are in name order: each claim's first user by name.
    let mut user: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for p in pods {
        for c in &p.pod.claims {
            user.entry(c.as_str()).or_insert(p.pod.name.as_str());
        }
    }
    let mut claims: Vec<ClaimRead> = world
        .query::<(&Claim, &ClaimStatus)>()
        .iter(world)
        .map(|(c, s)| ClaimRead {
            claim: c.clone(),
            status: s.clone(),
            pod: user.get(c.name.as_str()).map(|p| p.to_string()),
        })
        .collect();
    claims.sort_by(|a, b| a.claim.name.cmp(&b.claim.name));
    claims
}

fn read_volumes(world: &mut World) -> Vec<VolumeRead> {
    let mut atts: Vec<Attachment> = world.query::<&Attachment>().iter(world).cloned().collect();
    atts.sort_by(|a, b| (&a.volume, &a.node).cmp(&(&b.volume, &b.node)));
    // Each volume's attachments, in node order.
    let mut of_volume: std::collections::HashMap<String, Vec<Attachment>> =
        std::collections::HashMap::new();
    for a in atts {
        of_volume.entry(a.volume.clone()).or_default().push(a);
    }
    let mut volumes: Vec<VolumeRead> = world
        .query::<(&Volume, Option<&VolumeStatus>, Option<&VolumeData>)>()
        .iter(world)
        .map(|(v, s, d)| VolumeRead {
            volume: v.clone(),
            status: s.cloned().unwrap_or_default(),
            rows: d.map(|d| d.rows()),
            diverged: d.is_some_and(|d| d.diverged),
            attachments: of_volume.get(&v.name).cloned().unwrap_or_default(),
        })
        .collect();
    volumes.sort_by(|a, b| a.volume.name.cmp(&b.volume.name));
    volumes
}

fn read_databases(world: &World, sets: &[SetRead]) -> Vec<DbRead> {
    world
        .resource::<Databases>()
        .dbs
        .iter()
        .map(|(name, db)| DbRead {
            set: name.clone(),
            primary: primary_pod(name, sets),
            write_rate: db.write_rate,
            written: db.written,
            failed: db.failed,
            failing: db.failing,
            primary_position: db.primary_pos,
            max_lag_rows: db.max_lag_rows,
            max_lag_ms: db.max_lag_ms,
        })
        .collect()
}

/// The pod a database's primary runs in: the set's first ordinal, which is
/// `ordinals.start`, not always 0 (the database picks it the same way).
pub fn primary_pod(set: &str, sets: &[SetRead]) -> String {
    match sets.iter().find(|s| s.set.spec.name == set) {
        Some(s) => s.set.spec.pod_name(s.set.spec.ordinals_start),
        None => format!("{set}-0"),
    }
}

/// Processes by pod then node (a stable sort: equal keys keep the order
/// the world holds them in, as the snapshot always had).
fn read_processes(world: &mut World, now: u64) -> Vec<ProcRead> {
    let mut procs: Vec<(Process, Option<DbServer>)> = world
        .query::<(&Process, Option<&DbServer>)>()
        .iter(world)
        .map(|(p, s)| (p.clone(), s.cloned()))
        .collect();
    procs.sort_by(|a, b| (&a.0.pod, &a.0.node).cmp(&(&b.0.pod, &b.0.node)));
    let dbs = &world.resource::<Databases>().dbs;
    procs
        .into_iter()
        .map(|(process, s)| ProcRead {
            process,
            db: s.map(|s| {
                let (lag_rows, lag_ms) = match dbs.get(&s.set) {
                    Some(db) if s.state != ReplState::Primary => (
                        db.primary_pos.saturating_sub(s.position),
                        db.lag_ms(s.position, now),
                    ),
                    _ => (0, 0),
                };
                ServerRead {
                    state: s.state.label(),
                    server: s,
                    lag_rows,
                    lag_ms,
                }
            }),
        })
        .collect()
}
