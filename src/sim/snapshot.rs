//! The state snapshot (`--state-out`): nodes, pods, claims, volumes and sets,
//! each list sorted by name, in the contract's field names.

use super::SimClock;
use super::model::*;
use super::database::VolumeData;
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
    /// The replicated databases (docs/semantics.md §6): written/refused writes and lag.
    pub databases: Vec<super::database::DbSnap>,
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
    pub ordinal: Option<u32>,
    pub phase: PodPhase,
    pub ready: bool,
    pub node: Option<String>,
    pub revision: String,
    pub terminating: bool,
    pub uid: String,
    pub dns: Option<String>,
    pub waiting: Option<String>,
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
    let t_ms = world.resource::<SimClock>().now_ms;
    let mut nodes: Vec<NodeSnap> = world
        .query::<(&Node, &NodeState)>()
        .iter(world)
        .map(|(n, s)| NodeSnap {
            name: n.name.clone(),
            zone: n.zone.clone(),
            ready: s.ready == Condition::True,
            reachable: s.machine == Machine::Up,
            taints: s.taints.iter().map(|t| t.describe()).collect(),
            cordoned: s.cordoned,
            condition: s.condition_label().to_string(),
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut pods: Vec<PodSnap> = world
        .query::<(&Pod, &PodStatus)>()
        .iter(world)
        .map(|(p, s)| PodSnap {
            name: p.name.clone(),
            owner: p.owner.object(),
            ordinal: p.ordinal,
            phase: s.shown_phase(),
            ready: s.ready,
            node: s.node.clone(),
            revision: p.revision.clone(),
            terminating: s.terminating(),
            uid: p.uid.clone(),
            dns: p.dns.clone().filter(|_| s.ready),
            waiting: s.waiting.clone(),
        })
        .collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    let users: Vec<(String, String)> = pods
        .iter()
        .flat_map(|p| {
            let e = world.resource::<Index>().pods.get(&p.name).copied();
            e.and_then(|e| world.get::<Pod>(e))
                .map(|pod| {
                    pod.claims
                        .iter()
                        .map(|c| (c.clone(), pod.name.clone()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    let mut claims: Vec<ClaimSnap> = world
        .query::<(&Claim, &ClaimStatus)>()
        .iter(world)
        .map(|(c, s)| ClaimSnap {
            name: c.name.clone(),
            volume: s.volume.clone(),
            pod: users
                .iter()
                .find(|(cl, _)| *cl == c.name)
                .map(|(_, p)| p.clone()),
            exists: true,
        })
        .collect();
    for (name, _) in world.resource::<Index>().deleted_claims.iter() {
        claims.push(ClaimSnap {
            name: name.clone(),
            volume: None,
            pod: None,
            exists: false,
        });
    }
    claims.sort_by(|a, b| a.name.cmp(&b.name));
    let atts: Vec<Attachment> = world.query::<&Attachment>().iter(world).cloned().collect();
    let mut volumes: Vec<VolumeSnap> = world
        .query::<(&Volume, Option<&VolumeData>)>()
        .iter(world)
        .map(|(v, d)| {
            let mut all: Vec<String> = atts
                .iter()
                .filter(|a| a.volume == v.name && a.state == AttachState::Attached)
                .map(|a| a.node.clone())
                .collect();
            all.sort();
            let cp = atts
                .iter()
                .filter(|a| a.volume == v.name && a.state == AttachState::Attached && !a.forgotten)
                .map(|a| a.node.clone())
                .min();
            VolumeSnap {
                name: v.name.clone(),
                claim: v.claim.clone(),
                attached_to: cp,
                attached_nodes: all,
                node_affinity: v.affinity.describe(),
                rows: d.map_or(0, |d| d.rows()),
            }
        })
        .collect();
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut sets: Vec<SetSnap> = world
        .query::<(&StatefulSet, &SetStatus)>()
        .iter(world)
        .map(|(s, st)| SetSnap {
            name: s.spec.name.clone(),
            replicas: st.replicas,
            ready: st.ready,
            available: st.available,
            current: st.current,
            updated: st.updated,
            current_revision: st.current_revision.clone(),
            update_revision: st.update_revision.clone(),
        })
        .collect();
    sets.sort_by(|a, b| a.name.cmp(&b.name));
    let mut deployments: Vec<DeploymentSnap> = world
        .query::<(&Deployment, &DeploymentStatus)>()
        .iter(world)
        .map(|(d, st)| DeploymentSnap {
            name: d.spec.name.clone(),
            replicas: st.replicas,
            ready: st.ready,
            updated: st.updated,
        })
        .collect();
    deployments.sort_by(|a, b| a.name.cmp(&b.name));
    let databases = super::database::db_snapshots(world);
    Snapshot {
        t_ms,
        nodes,
        pods,
        claims,
        volumes,
        sets,
        deployments,
        databases,
    }
}

/// The snapshot as pretty JSON.
pub fn to_json(world: &mut World) -> String {
    serde_json::to_string_pretty(&take(world)).unwrap_or_default()
}
