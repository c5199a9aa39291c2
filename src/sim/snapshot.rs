//! The state snapshot (`--state-out`): nodes, pods, claims, volumes and sets,
//! each list sorted by name, in the contract's field names. It is the read
//! model (`read.rs`) written out; the GUI reads the same model.

use super::database::{DbServerSnap, DbSnap};
use super::model::{Condition, Machine, PodPhase};
use super::read::{Cluster, DeploymentRead, NodeRead, PodRead, SetRead, VolumeRead};
use bevy::prelude::*;
use serde::Serialize;

#[derive(Serialize)]
pub struct Snapshot {
    pub t_ms: u64,
    pub nodes: Vec<NodeSnap>,
    pub pods: Vec<PodSnap>,
    pub claims: Vec<ClaimSnap>,
    pub volumes: Vec<VolumeSnap>,
    pub sets: Vec<SetSnap>,
    pub deployments: Vec<DeploymentSnap>,
    /// The replicated databases (SEMANTICS §6): written/refused writes and lag.
    pub databases: Vec<DbSnap>,
}

#[derive(Serialize)]
pub struct NodeSnap {
    pub name: String,
    pub zone: String,
    pub ready: bool,
    pub reachable: bool,
    pub taints: Vec<String>,
    pub cordoned: bool,
    pub condition: String,
}

#[derive(Serialize)]
pub struct PodSnap {
    pub name: String,
    pub owner: String,
    /// No controller owns it (its set was deleted with `--cascade=orphan`);
    /// `owner` is then the workload its labels name. Left out when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub orphaned: bool,
    pub ordinal: Option<u32>,
    /// The API phase: Pending, Running, Succeeded or Failed.
    pub phase: PodPhase,
    /// The STATUS column of `kubectl get pods` (ContainerCreating,
    /// CrashLoopBackOff, Init:1/2, Terminating, …).
    pub status: String,
    /// How many times the kubelet restarted its container in place.
    pub restarts: u32,
    pub ready: bool,
    pub node: Option<String>,
    pub revision: String,
    pub terminating: bool,
    pub uid: String,
    pub dns: Option<String>,
    pub waiting: Option<String>,
    /// status.podIP: from its node's pod range, new for every new pod.
    pub ip: Option<String>,
}

#[derive(Serialize)]
pub struct ClaimSnap {
    pub name: String,
    pub volume: Option<String>,
    pub pod: Option<String>,
    pub exists: bool,
}

#[derive(Serialize)]
pub struct VolumeSnap {
    pub name: String,
    pub claim: String,
    pub attached_to: Option<String>,
    /// Every node that has it attached, including one the control plane
    /// force-detached but that still mounts it.
    pub attached_nodes: Vec<String>,
    pub node_affinity: Option<String>,
    pub rows: u64,
}

#[derive(Serialize)]
pub struct SetSnap {
    pub name: String,
    pub replicas: u32,
    pub ready: u32,
    pub available: u32,
    pub current: u32,
    pub updated: u32,
    pub current_revision: String,
    pub update_revision: String,
}

#[derive(Serialize)]
pub struct DeploymentSnap {
    pub name: String,
    pub replicas: u32,
    pub ready: u32,
    pub updated: u32,
}

/// Takes the snapshot of the world now.
pub fn take(world: &mut World) -> Snapshot {
    from_read(&super::read::read(world))
}

/// The snapshot of a read of the cluster: the read model in the contract's
/// field names.
pub fn from_read(c: &Cluster) -> Snapshot {
    Snapshot {
        t_ms: c.now_ms,
        nodes: c.nodes.iter().map(node_snap).collect(),
        pods: c.pods.iter().map(|p| pod_snap(p, c.now_ms)).collect(),
        claims: claim_snaps(c),
        volumes: c.volumes.iter().map(volume_snap).collect(),
        sets: c.sets.iter().map(set_snap).collect(),
        deployments: c.deployments.iter().map(deployment_snap).collect(),
        databases: database_snaps(c),
    }
}

fn node_snap(n: &NodeRead) -> NodeSnap {
    NodeSnap {
        name: n.node.name.clone(),
        zone: n.node.zone.clone(),
        ready: n.state.ready == Condition::True,
        reachable: n.state.machine == Machine::Up,
        taints: n.state.taints.iter().map(|t| t.describe()).collect(),
        cordoned: n.state.cordoned,
        condition: n.state.condition_label().to_string(),
    }
}

fn pod_snap(
    PodRead {
        pod: p,
        status: s,
        orphaned,
    }: &PodRead,
    now: u64,
) -> PodSnap {
    PodSnap {
        name: p.name.clone(),
        owner: p.owner.object(),
        orphaned: *orphaned,
        ordinal: p.ordinal,
        phase: s.api_phase(),
        status: s.status_column(now),
        restarts: s.restarts,
        ready: s.ready,
        node: s.node.clone(),
        revision: p.revision.clone(),
        terminating: s.terminating(),
        uid: p.uid.clone(),
        dns: p.dns.clone().filter(|_| s.dns_address().is_some()),
        waiting: s.waiting.clone(),
        ip: s.ip.clone(),
    }
}

/// Live claims and deleted ones (`exists: false`), by name.
fn claim_snaps(c: &Cluster) -> Vec<ClaimSnap> {
    let mut claims: Vec<ClaimSnap> = c
        .claims
        .iter()
        .map(|cl| ClaimSnap {
            name: cl.claim.name.clone(),
            volume: cl.status.volume.clone(),
            pod: cl.pod.clone(),
            exists: true,
        })
        .collect();
    claims.extend(c.deleted_claims.iter().map(|name| ClaimSnap {
        name: name.clone(),
        volume: None,
        pod: None,
        exists: false,
    }));
    // Stable: a live claim comes before a deleted one of the same name.
    claims.sort_by(|a, b| a.name.cmp(&b.name));
    claims
}

fn volume_snap(v: &VolumeRead) -> VolumeSnap {
    VolumeSnap {
        name: v.volume.name.clone(),
        claim: v.volume.claim.clone(),
        attached_to: v.attached_to(),
        attached_nodes: v.attached_nodes(),
        node_affinity: v.volume.affinity.describe(),
        rows: v.rows.unwrap_or(0),
    }
}

fn set_snap(SetRead { set: s, status: st }: &SetRead) -> SetSnap {
    SetSnap {
        name: s.spec.name.clone(),
        replicas: st.replicas,
        ready: st.ready,
        available: st.available,
        current: st.current,
        updated: st.updated,
        current_revision: st.current_revision.clone(),
        update_revision: st.update_revision.clone(),
    }
}

fn deployment_snap(d: &DeploymentRead) -> DeploymentSnap {
    DeploymentSnap {
        name: d.deployment.spec.name.clone(),
        replicas: d.status.replicas,
        ready: d.status.ready,
        updated: d.status.updated,
    }
}

/// Every database, by set name; its servers by pod then node.
pub fn database_snaps(c: &Cluster) -> Vec<DbSnap> {
    c.databases
        .iter()
        .map(|db| (db, c.read_service(&db.set)))
        .map(|(db, (read_service, read_endpoints))| DbSnap {
            read_service,
            read_endpoints,
            name: db.set.clone(),
            write_rate: db.write_rate,
            written: db.written,
            failed: db.failed,
            primary_position: db.primary_position,
            max_lag_rows: db.max_lag_rows,
            max_lag_seconds: db.max_lag_ms as f64 / 1000.0,
            servers: c
                .servers(&db.set)
                .map(|(p, s)| DbServerSnap {
                    pod: p.process.pod.clone(),
                    node: p.process.node.clone(),
                    server_id: s.server.server_id,
                    state: s.state.clone(),
                    position: s.server.position,
                    lag_rows: s.lag_rows,
                    lag_seconds: s.lag_ms as f64 / 1000.0,
                })
                .collect(),
        })
        .collect()
}

/// The snapshot as pretty JSON.
pub fn to_json(world: &mut World) -> String {
    serde_json::to_string_pretty(&take(world)).unwrap_or_default()
}
