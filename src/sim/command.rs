//! SimCommand: the single input path into the simulation. Scenario steps and
//! the UI both send these; nothing else changes the cluster from outside.

use super::event::{EventKind, EventLog, SimEvent};
use super::model::*;
use super::{SimClock, SimSystems, ops};
use bevy::ecs::message::MessageCursor;
use bevy::prelude::*;
use serde::{Deserialize, Serialize};

/// A command, as written in a scenario's `do:` or sent by the UI.
#[derive(Message, Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum SimCommand {
    /// Set spec.replicas of a StatefulSet or Deployment.
    Scale {
        set: String,
        replicas: u32,
    },
    /// Change the pod template's image (a new revision).
    SetImage {
        set: String,
        image: String,
    },
    SetPartition {
        set: String,
        partition: u32,
    },
    SetMaxUnavailable {
        set: String,
        value: IntOrPercent,
    },
    /// `kubectl delete pod`: graceful deletion.
    DeletePod {
        pod: String,
    },
    /// `kubectl delete pod --force --grace-period=0`.
    ForceDeletePod {
        pod: String,
    },
    BreakReadiness {
        pod: String,
    },
    RestoreReadiness {
        pod: String,
    },
    /// The container exits: phase Failed.
    CrashPod {
        pod: String,
    },
    /// The machine dies.
    FailNode {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        of: Option<String>,
    },
    /// The machine is cut off from the control plane but keeps running.
    PartitionNode {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        of: Option<String>,
    },
    RecoverNode {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        of: Option<String>,
    },
    /// `kubectl delete node`.
    DeleteNode {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        of: Option<String>,
    },
    AddNode {
        name: String,
        #[serde(default = "default_zone")]
        zone: String,
        #[serde(default)]
        cpu_millis: Option<u32>,
        #[serde(default)]
        memory_mib: Option<u32>,
    },
    /// node.kubernetes.io/out-of-service=nodeshutdown:NoExecute.
    TaintOutOfService {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        of: Option<String>,
    },
    /// Removes the out-of-service taint.
    UntaintOutOfService {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        of: Option<String>,
    },
    CordonNode {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        of: Option<String>,
    },
    UncordonNode {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        of: Option<String>,
    },
    DeleteClaim {
        claim: String,
    },
    /// Deletes a StatefulSet (or Deployment) by name.
    DeleteSet {
        set: String,
    },
    /// Clients write this many rows to the primary now.
    Write {
        rows: u64,
        #[serde(default)]
        set: Option<String>,
    },
    /// Clients write continuously at this rate.
    SetWriteRate {
        per_second: f64,
        #[serde(default)]
        set: Option<String>,
    },
}

fn default_zone() -> String {
    "zone-1".into()
}

impl SimCommand {
    /// The node reference of a node command: (`node`, `of`).
    pub fn node_ref(&self) -> Option<(&Option<String>, &Option<String>)> {
        use SimCommand::*;
        match self {
            FailNode { node, of }
            | PartitionNode { node, of }
            | RecoverNode { node, of }
            | DeleteNode { node, of }
            | TaintOutOfService { node, of }
            | UntaintOutOfService { node, of }
            | CordonNode { node, of }
            | UncordonNode { node, of } => Some((node, of)),
            _ => None,
        }
    }
    /// The name of the command, as written in a scenario.
    pub fn name(&self) -> String {
        let s = format!("{self:?}");
        s.split([' ', '(', '{'])
            .next()
            .unwrap_or_default()
            .to_string()
    }
    /// A short human description for the log and UI.
    pub fn describe(&self) -> String {
        ron::ser::to_string(self).unwrap_or_else(|_| self.name())
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        super::SimSchedule,
        apply_commands.in_set(SimSystems::ApplyCommands),
    );
}

fn apply_commands(world: &mut World, mut cursor: Local<MessageCursor<SimCommand>>) {
    let cmds: Vec<SimCommand> = cursor
        .read(world.resource::<Messages<SimCommand>>())
        .cloned()
        .collect();
    for c in cmds {
        if let Err(why) = apply(world, &c) {
            let now = world.resource::<SimClock>().now_ms;
            world.resource_mut::<EventLog>().emit(
                now,
                SimEvent::new(
                    EventKind::CommandRejected,
                    "command",
                    format!("{}: {why}", c.describe()),
                ),
            );
        }
    }
}

fn emit(world: &mut World, ev: SimEvent) {
    let now = world.resource::<SimClock>().now_ms;
    world.resource_mut::<EventLog>().emit(now, ev);
}

fn resolve_node(
    world: &World,
    node: &Option<String>,
    of: &Option<String>,
) -> Result<(String, Entity), String> {
    let index = world.resource::<Index>();
    let name = match (node, of) {
        (Some(n), _) => n.clone(),
        (None, Some(p)) => index
            .last_node_of
            .get(p)
            .cloned()
            .ok_or_else(|| format!("pod {p} has not been scheduled on any node yet"))?,
        (None, None) => return Err("give node: \"NAME\" or of: \"POD\"".into()),
    };
    let e = index
        .nodes
        .get(&name)
        .copied()
        .ok_or_else(|| format!("no node named {name}"))?;
    Ok((name, e))
}

fn pod_entity(world: &World, pod: &str) -> Result<Entity, String> {
    world
        .resource::<Index>()
        .pods
        .get(pod)
        .copied()
        .ok_or_else(|| format!("no pod named {pod}"))
}

/// Applies one command to the world.
pub fn apply(world: &mut World, cmd: &SimCommand) -> Result<(), String> {
    let now = world.resource::<SimClock>().now_ms;
    use SimCommand::*;
    match cmd {
        Scale { set, replicas } => {
            if *replicas > limits::MAX_REPLICAS {
                return Err(format!("at most {} replicas", limits::MAX_REPLICAS));
            }
            if let Some(&e) = world.resource::<Index>().sets.get(set) {
                let mut s = world.get_mut::<StatefulSet>(e).ok_or("set is gone")?;
                let old = std::mem::replace(&mut s.spec.replicas, *replicas);
                emit(
                    world,
                    SimEvent::new(
                        EventKind::SetScaled,
                        format!("statefulset/{set}"),
                        format!("spec.replicas {old} → {replicas}"),
                    ),
                );
            } else if let Some(&e) = world.resource::<Index>().deployments.get(set) {
                let mut d = world.get_mut::<Deployment>(e).ok_or("deployment is gone")?;
                let old = std::mem::replace(&mut d.spec.replicas, *replicas);
                emit(
                    world,
                    SimEvent::new(
                        EventKind::DeploymentScaled,
                        format!("deployment/{set}"),
                        format!("spec.replicas {old} → {replicas}"),
                    ),
                );
            } else {
                return Err(format!("no StatefulSet or Deployment named {set}"));
            }
        }
        SetImage { set, image } => {
            if let Some(&e) = world.resource::<Index>().sets.get(set) {
                let mut s = world.get_mut::<StatefulSet>(e).ok_or("set is gone")?;
                let old = std::mem::replace(&mut s.spec.template.image, image.clone());
                emit(
                    world,
                    SimEvent::new(
                        EventKind::SetUpdated,
                        format!("statefulset/{set}"),
                        format!(
                            "template image {old} → {image}: the template hash, so the update revision, changes"
                        ),
                    ),
                );
            } else if let Some(&e) = world.resource::<Index>().deployments.get(set) {
                let mut d = world.get_mut::<Deployment>(e).ok_or("deployment is gone")?;
                d.spec.template.image = image.clone();
                world.resource_mut::<EventLog>().touch();
            } else {
                return Err(format!("no StatefulSet or Deployment named {set}"));
            }
        }
        SetPartition { set, partition } => {
            let e = *world
                .resource::<Index>()
                .sets
                .get(set)
                .ok_or(format!("no StatefulSet named {set}"))?;
            let mut s = world.get_mut::<StatefulSet>(e).ok_or("set is gone")?;
            match &mut s.spec.update_strategy {
                UpdateStrategy::RollingUpdate { partition: p, .. } => *p = *partition,
                UpdateStrategy::OnDelete => {
                    return Err("the set uses OnDelete: there is no partition".into());
                }
            }
            emit(
                world,
                SimEvent::new(
                    EventKind::SetUpdated,
                    format!("statefulset/{set}"),
                    format!("partition → {partition}: only ordinals ≥ {partition} are updated"),
                ),
            );
        }
        SetMaxUnavailable { set, value } => {
            if !value.is_valid() {
                return Err(format!(
                    "{} is not a count or a percentage like \"50%\"",
                    value.describe()
                ));
            }
            let e = *world
                .resource::<Index>()
                .sets
                .get(set)
                .ok_or(format!("no StatefulSet named {set}"))?;
            let mut s = world.get_mut::<StatefulSet>(e).ok_or("set is gone")?;
            match &mut s.spec.update_strategy {
                UpdateStrategy::RollingUpdate {
                    max_unavailable, ..
                } => *max_unavailable = value.clone(),
                UpdateStrategy::OnDelete => return Err("the set uses OnDelete".into()),
            }
            emit(
                world,
                SimEvent::new(
                    EventKind::SetUpdated,
                    format!("statefulset/{set}"),
                    format!("maxUnavailable → {}", value.describe()),
                ),
            );
        }
        DeletePod { pod } => {
            let e = pod_entity(world, pod)?;
            let pod_c = world.get::<Pod>(e).cloned().ok_or("pod is gone")?;
            world.resource_scope(|world, mut log: Mut<EventLog>| {
                if let Some(mut st) = world.get_mut::<PodStatus>(e) {
                    ops::request_deletion(
                        now,
                        &pod_c,
                        &mut st,
                        &mut log,
                        "deleted by the user (kubectl delete pod): graceful deletion",
                    );
                }
            });
        }
        ForceDeletePod { pod } => {
            let e = pod_entity(world, pod)?;
            let pod_c = world.get::<Pod>(e).cloned().ok_or("pod is gone")?;
            let node = world.get::<PodStatus>(e).and_then(|s| s.node.clone());
            let reason = match &node {
                Some(n) => format!(
                    "force-deleted by the user (--force --grace-period=0): the object is removed without waiting for {n}'s kubelet to confirm the container stopped"
                ),
                None => "force-deleted by the user (--force --grace-period=0)".to_string(),
            };
            world.resource_scope(|world, mut index: Mut<Index>| {
                world.resource_scope(|world, mut log: Mut<EventLog>| {
                    let mut commands = world.commands();
                    ops::force_delete_pod(
                        now,
                        e,
                        &pod_c,
                        node,
                        &mut commands,
                        &mut index,
                        &mut log,
                        reason,
                    );
                });
            });
            world.flush();
        }
        BreakReadiness { pod } | RestoreReadiness { pod } => {
            let e = pod_entity(world, pod)?;
            let broken = matches!(cmd, BreakReadiness { .. });
            if let Some(mut st) = world.get_mut::<PodStatus>(e) {
                st.readiness_broken = broken;
            }
            world.resource_mut::<EventLog>().touch();
        }
        CrashPod { pod } => {
            let e = pod_entity(world, pod)?;
            let (uid, node) = {
                let p = world.get::<Pod>(e).ok_or("pod is gone")?;
                let s = world.get::<PodStatus>(e).ok_or("pod is gone")?;
                (p.uid.clone(), s.node.clone())
            };
            let node = node.ok_or(format!("{pod} is not running on a node"))?;
            let ne = world
                .resource::<Index>()
                .nodes
                .get(&node)
                .copied()
                .ok_or("its node is gone")?;
            let connected = world
                .get::<NodeState>(ne)
                .is_some_and(|s| s.kubelet_connected());
            let procs: Vec<Entity> = world
                .get::<NodeProcesses>(ne)
                .map(|p| p.entities().to_vec())
                .unwrap_or_default()
                .into_iter()
                .filter(|&pe| world.get::<Process>(pe).is_some_and(|p| p.pod_uid == uid))
                .collect();
            if procs.is_empty() {
                return Err(format!("{pod} has no running container"));
            }
            for pe in procs {
                world.despawn(pe);
            }
            if connected {
                if let Some(mut st) = world.get_mut::<PodStatus>(e) {
                    st.phase = PodPhase::Failed;
                    st.ready = false;
                    st.ready_since_ms = None;
                }
                emit(
                    world,
                    SimEvent::new(
                        EventKind::PodFailed,
                        format!("pod/{pod}"),
                        "the container exited with an error: phase Failed",
                    )
                    .node(node),
                );
            } else {
                emit(
                    world,
                    SimEvent::new(
                        EventKind::ProcessStopped,
                        format!("pod/{pod}"),
                        format!("the container crashed on {node}, which cannot report it"),
                    )
                    .node(node),
                );
            }
        }
        FailNode { node, of } | PartitionNode { node, of } => {
            let (name, ne) = resolve_node(world, node, of)?;
            let dead = matches!(cmd, FailNode { .. });
            let mut ns = world.get_mut::<NodeState>(ne).ok_or("node is gone")?;
            if dead && ns.machine == Machine::Dead {
                return Err(format!("{name} is already down"));
            }
            // A machine that is off cannot be "cut off but still running":
            // partitioning it would bring its (stopped) containers' volumes
            // back as if still mounted.
            if !dead && ns.machine != Machine::Up {
                return Err(format!(
                    "{name} is {} already; RecoverNode it first",
                    if ns.machine == Machine::Dead {
                        "down"
                    } else {
                        "cut off"
                    }
                ));
            }
            ns.last_heartbeat_ms = ns.heartbeat_at(now);
            ns.machine = if dead {
                Machine::Dead
            } else {
                Machine::Partitioned
            };
            ns.machine_since_ms = now;
            if dead {
                let procs: Vec<Entity> = world
                    .get::<NodeProcesses>(ne)
                    .map(|p| p.entities().to_vec())
                    .unwrap_or_default();
                let mut names: Vec<String> = procs
                    .iter()
                    .filter_map(|&p| world.get::<Process>(p).map(|p| p.pod.clone()))
                    .collect();
                names.sort();
                for p in procs {
                    world.despawn(p);
                }
                emit(
                    world,
                    SimEvent::new(
                        EventKind::NodeFailed,
                        format!("node/{name}"),
                        format!(
                            "{name} died: its containers ({}) stopped and its kubelet no longer posts status. The API still shows its pods Running until the node controller notices",
                            if names.is_empty() { "none".to_string() } else { names.join(", ") }
                        ),
                    )
                    .node(name),
                );
            } else {
                emit(
                    world,
                    SimEvent::new(
                        EventKind::NodePartitioned,
                        format!("node/{name}"),
                        format!("{name} is cut off from the control plane: its containers keep running and keep their volumes, but nothing it does is seen"),
                    )
                    .node(name),
                );
            }
        }
        RecoverNode { node, of } => {
            let (name, ne) = resolve_node(world, node, of)?;
            let mut ns = world.get_mut::<NodeState>(ne).ok_or("node is gone")?;
            if ns.machine == Machine::Up {
                return Err(format!("{name} is already up"));
            }
            let was = ns.machine;
            ns.machine = Machine::Up;
            ns.machine_since_ms = now;
            ns.last_heartbeat_ms = now;
            emit(
                world,
                SimEvent::new(
                    EventKind::NodeRecovered,
                    format!("node/{name}"),
                    match was {
                        Machine::Dead => format!("{name} boots again: its kubelet reports in, confirms the deletion of Terminating pods and restarts the rest"),
                        _ => format!("{name} is reachable again: its kubelet catches up with what the API server decided"),
                    },
                )
                .node(name),
            );
        }
        DeleteNode { node, of } => {
            let (name, ne) = resolve_node(world, node, of)?;
            world.resource_mut::<Index>().nodes.remove(&name);
            world.despawn(ne);
            emit(
                world,
                SimEvent::new(
                    EventKind::NodeDeleted,
                    format!("node/{name}"),
                    format!("node object {name} deleted (kubectl delete node): pod GC will force-delete its pods after a 40s quarantine"),
                )
                .node(name),
            );
        }
        AddNode {
            name,
            zone,
            cpu_millis,
            memory_mib,
        } => {
            if !valid_dns_label(name) {
                return Err(format!("{name:?} is not a valid node name"));
            }
            if world.resource::<Index>().nodes.contains_key(name) {
                return Err(format!("a node named {name} exists already"));
            }
            if world.resource::<Index>().nodes.len() >= limits::MAX_NODES {
                return Err(format!("at most {} nodes", limits::MAX_NODES));
            }
            let spec = NodeSpec {
                name: name.clone(),
                zone: zone.clone(),
                cpu_millis: cpu_millis.unwrap_or(4000),
                memory_mib: memory_mib.unwrap_or(8192),
            };
            add_node(world, &spec);
            emit(
                world,
                SimEvent::new(
                    EventKind::NodeAdded,
                    format!("node/{name}"),
                    format!("{name} joins in {zone}"),
                )
                .node(name.clone()),
            );
        }
        TaintOutOfService { node, of } => {
            let (name, ne) = resolve_node(world, node, of)?;
            let mut ns = world.get_mut::<NodeState>(ne).ok_or("node is gone")?;
            if ns.has_taint(TAINT_OUT_OF_SERVICE) {
                return Err(format!("{name} has the out-of-service taint already"));
            }
            ns.taints.push(Taint {
                key: TAINT_OUT_OF_SERVICE.into(),
                effect: TaintEffect::NoExecute,
                added_ms: now,
            });
            let ready = ns.ready == Condition::True;
            emit(
                world,
                SimEvent::new(
                    EventKind::NodeTainted,
                    format!("node/{name}"),
                    format!(
                        "{TAINT_OUT_OF_SERVICE}=nodeshutdown:NoExecute: the user declares {name} shut down{}",
                        if ready { " (it only takes effect while the node is NotReady)" } else { ": its pods are force-deleted and its volumes detached at once" }
                    ),
                )
                .node(name),
            );
        }
        UntaintOutOfService { node, of } => {
            let (name, ne) = resolve_node(world, node, of)?;
            let mut ns = world.get_mut::<NodeState>(ne).ok_or("node is gone")?;
            ns.taints.retain(|t| t.key != TAINT_OUT_OF_SERVICE);
            emit(
                world,
                SimEvent::new(
                    EventKind::NodeUntainted,
                    format!("node/{name}"),
                    format!("{TAINT_OUT_OF_SERVICE} removed"),
                )
                .node(name),
            );
        }
        CordonNode { node, of } | UncordonNode { node, of } => {
            let (name, ne) = resolve_node(world, node, of)?;
            let cordon = matches!(cmd, CordonNode { .. });
            world
                .get_mut::<NodeState>(ne)
                .ok_or("node is gone")?
                .cordoned = cordon;
            let (kind, why) = if cordon {
                (
                    EventKind::NodeCordoned,
                    "cordoned: no new pods are scheduled here; running pods stay",
                )
            } else {
                (EventKind::NodeUncordoned, "uncordoned: schedulable again")
            };
            emit(
                world,
                SimEvent::new(kind, format!("node/{name}"), why).node(name),
            );
        }
        DeleteClaim { claim } => {
            let e = *world
                .resource::<Index>()
                .claims
                .get(claim)
                .ok_or(format!("no claim named {claim}"))?;
            let mut cs = world.get_mut::<ClaimStatus>(e).ok_or("claim is gone")?;
            if cs.deleting.is_some() {
                return Err(format!("{claim} is being deleted already"));
            }
            cs.deleting = Some(DeletionCause::User);
            cs.deleting_reason = Some("deleted by the user (kubectl delete pvc)".into());
            world.resource_mut::<EventLog>().touch();
        }
        DeleteSet { set } => {
            if let Some(&e) = world.resource::<Index>().sets.get(set) {
                world
                    .get_mut::<StatefulSet>(e)
                    .ok_or("set is gone")?
                    .deleting = true;
                emit(
                    world,
                    SimEvent::new(
                        EventKind::SetDeleted,
                        format!("statefulset/{set}"),
                        "deleted by the user: its pods go, its claims follow whenDeleted",
                    ),
                );
            } else if let Some(&e) = world.resource::<Index>().deployments.get(set) {
                world
                    .get_mut::<Deployment>(e)
                    .ok_or("deployment is gone")?
                    .deleting = true;
                world.resource_mut::<EventLog>().touch();
            } else {
                return Err(format!("no StatefulSet or Deployment named {set}"));
            }
        }
        Write { rows, set } => super::database::command_write(world, set.as_deref(), *rows)?,
        SetWriteRate { per_second, set } => {
            super::database::command_rate(world, set.as_deref(), *per_second)?
        }
    }
    Ok(())
}

/// Adds a node object and its machine.
pub fn add_node(world: &mut World, spec: &NodeSpec) -> Entity {
    let now = world.resource::<SimClock>().now_ms;
    let seq = world.resource_mut::<Index>().next_seq();
    let e = world
        .spawn((
            Node {
                name: spec.name.clone(),
                zone: spec.zone.clone(),
                cpu_millis: spec.cpu_millis,
                memory_mib: spec.memory_mib,
                seq,
            },
            NodeState::new(now),
        ))
        .id();
    world
        .resource_mut::<Index>()
        .nodes
        .insert(spec.name.clone(), e);
    world.resource_mut::<EventLog>().touch();
    e
}

/// Creates a workload object (the controllers then create its pods).
pub fn add_workload(world: &mut World, spec: &WorkloadSpec) -> Entity {
    let now = world.resource::<SimClock>().now_ms;
    let seq = world.resource_mut::<Index>().next_seq();
    let e = match spec {
        WorkloadSpec::StatefulSet(s) => {
            let e = world
                .spawn((
                    StatefulSet {
                        spec: s.clone(),
                        created_ms: now,
                        seq,
                        deleting: false,
                    },
                    SetStatus::default(),
                ))
                .id();
            world.resource_mut::<Index>().sets.insert(s.name.clone(), e);
            if let Some(db) = &s.database {
                super::database::register_database(world, &s.name, db);
            }
            e
        }
        WorkloadSpec::Deployment(d) => {
            let e = world
                .spawn((
                    Deployment {
                        spec: d.clone(),
                        created_ms: now,
                        seq,
                        deleting: false,
                    },
                    DeploymentStatus::default(),
                ))
                .id();
            world
                .resource_mut::<Index>()
                .deployments
                .insert(d.name.clone(), e);
            e
        }
    };
    world.resource_mut::<EventLog>().touch();
    e
}
