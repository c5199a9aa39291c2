//! SimCommand: the single input path into the simulation. Scenario steps and
//! the UI both send these; nothing else changes the cluster from outside.
//! `apply` dispatches each command, one line each, to a small verb in the
//! file of the object it acts on (workload, pod, node, storage, database).

mod database;
mod disruption;
mod node;
mod pod;
mod storage;
mod workload;

use super::event::{EventKind, EventLog, SimEvent};
use super::model::*;
use super::ops::Cluster;
use super::validate;
use super::{SimClock, SimSystems};
use bevy::ecs::message::MessageCursor;
use bevy::ecs::system::SystemState;
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
    /// The container exits with an error; the kubelet restarts it in place
    /// (restartPolicy Always). With `times: N` it crashes again each time
    /// it starts, N crashes in all, so the back-off shows.
    CrashPod {
        pod: String,
        #[serde(default = "one")]
        times: u32,
    },
    /// The kubelet evicts the pod under node pressure: containers killed,
    /// phase Failed, reason Evicted. The StatefulSet controller then deletes
    /// and recreates it.
    KubeletEvict {
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
    /// Grows a claim's storage request (`kubectl patch pvc`): the volume and
    /// then its file system are expanded, if its class allows it.
    ExpandClaim {
        claim: String,
        size_gib: u32,
    },
    /// Deletes a StatefulSet (or Deployment) by name. `orphan: true`
    /// (`kubectl delete --cascade=orphan`, StatefulSets only): its pods and
    /// claims are left running, without an owner.
    DeleteSet {
        set: String,
        #[serde(default, skip_serializing_if = "is_false")]
        orphan: bool,
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
    /// `kubectl drain`: cordon the node and evict its pods through the
    /// eviction API (honouring PodDisruptionBudgets), retrying every 5 s.
    DrainNode {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        of: Option<String>,
    },
    /// The eviction API on one pod (honouring its PodDisruptionBudget).
    EvictPod {
        pod: String,
    },
    /// A kubectl command line (`Kubectl("scale sts/web --replicas=5")`):
    /// the scenario player and the GUI run it through the kubectl parser
    /// (src/scenario/kubectl), which sends the commands above.
    Kubectl(String),
}

fn one() -> u32 {
    1
}

fn is_false(b: &bool) -> bool {
    !*b
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
            | UncordonNode { node, of }
            | DrainNode { node, of } => Some((node, of)),
            _ => None,
        }
    }
    /// The name of the command, as written in a scenario.
    pub fn name(&self) -> &'static str {
        use SimCommand::*;
        match self {
            Scale { .. } => "Scale",
            SetImage { .. } => "SetImage",
            SetPartition { .. } => "SetPartition",
            SetMaxUnavailable { .. } => "SetMaxUnavailable",
            DeletePod { .. } => "DeletePod",
            ForceDeletePod { .. } => "ForceDeletePod",
            BreakReadiness { .. } => "BreakReadiness",
            RestoreReadiness { .. } => "RestoreReadiness",
            CrashPod { .. } => "CrashPod",
            KubeletEvict { .. } => "KubeletEvict",
            FailNode { .. } => "FailNode",
            PartitionNode { .. } => "PartitionNode",
            RecoverNode { .. } => "RecoverNode",
            DeleteNode { .. } => "DeleteNode",
            AddNode { .. } => "AddNode",
            TaintOutOfService { .. } => "TaintOutOfService",
            UntaintOutOfService { .. } => "UntaintOutOfService",
            CordonNode { .. } => "CordonNode",
            UncordonNode { .. } => "UncordonNode",
            DeleteClaim { .. } => "DeleteClaim",
            ExpandClaim { .. } => "ExpandClaim",
            DeleteSet { .. } => "DeleteSet",
            Write { .. } => "Write",
            SetWriteRate { .. } => "SetWriteRate",
            DrainNode { .. } => "DrainNode",
            EvictPod { .. } => "EvictPod",
            Kubectl(_) => "Kubectl",
        }
    }
    /// A sentence saying what the command does, for people: "Scale web to 5
    /// replicas", "Force-delete pod web-1", "Fail web-1's node".
    pub fn describe(&self) -> String {
        use SimCommand::*;
        match self {
            Scale { set, replicas: 1 } => format!("Scale {set} to 1 replica"),
            Scale { set, replicas } => format!("Scale {set} to {replicas} replicas"),
            SetImage { set, image } => format!("Set {set}'s image to {image}"),
            SetPartition { set, partition } => format!("Set {set}'s partition to {partition}"),
            SetMaxUnavailable { set, value } => {
                format!("Set {set}'s maxUnavailable to {}", value.describe())
            }
            DeletePod { pod } => format!("Delete pod {pod}"),
            ForceDeletePod { pod } => format!("Force-delete pod {pod}"),
            BreakReadiness { pod } => format!("Make {pod}'s readiness probe fail"),
            RestoreReadiness { pod } => format!("Make {pod}'s readiness probe pass again"),
            CrashPod { pod, times: 1 } => format!("Crash {pod}'s container"),
            CrashPod { pod, times } => format!("Crash {pod}'s container {times} times in a row"),
            KubeletEvict { pod } => format!("Have the kubelet evict {pod} under node pressure"),
            FailNode { node, of } => format!("Fail {}", node_words(node, of)),
            PartitionNode { node, of } => {
                format!("Cut {} off from the control plane", node_words(node, of))
            }
            RecoverNode { node, of } => format!("Recover {}", node_words(node, of)),
            DeleteNode { node, of } => format!("Delete {}", node_words(node, of)),
            AddNode { name, zone, .. } => format!("Add node {name} in {zone}"),
            TaintOutOfService { node, of } => {
                format!("Taint {} out-of-service", node_words(node, of))
            }
            UntaintOutOfService { node, of } => format!(
                "Remove the out-of-service taint from {}",
                node_words(node, of)
            ),
            CordonNode { node, of } => format!("Cordon {}", node_words(node, of)),
            UncordonNode { node, of } => format!("Uncordon {}", node_words(node, of)),
            DeleteClaim { claim } => format!("Delete claim {claim}"),
            ExpandClaim { claim, size_gib } => format!("Expand claim {claim} to {size_gib}Gi"),
            DeleteSet { set, orphan: false } => format!("Delete {set}"),
            DeleteSet { set, orphan: true } => {
                format!("Delete {set} and leave its pods running without an owner")
            }
            Write { rows, set } => format!("Write {rows} rows{}", on_set(" to", set)),
            SetWriteRate { per_second, set } => format!(
                "Set the write rate to {per_second} rows/s{}",
                on_set(" on", set)
            ),
            DrainNode { node, of } => format!("Drain {}", node_words(node, of)),
            EvictPod { pod } => format!("Evict pod {pod}"),
            Kubectl(line) => format!("kubectl {line}"),
        }
    }
    /// The command as written in a scenario (RON), as the event log quotes it.
    pub fn to_ron(&self) -> String {
        ron::ser::to_string(self).unwrap_or_else(|_| self.name().to_string())
    }
}

/// "node-a", or "web-1's node" for `of:`.
fn node_words(node: &Option<String>, of: &Option<String>) -> String {
    match (node, of) {
        (Some(n), _) => n.clone(),
        (None, Some(p)) => format!("{p}'s node"),
        (None, None) => "a node".into(),
    }
}

/// " to mysql" when the command names its database's set.
fn on_set(prep: &str, set: &Option<String>) -> String {
    set.as_ref()
        .map(|s| format!("{prep} {s}"))
        .unwrap_or_default()
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
                    format!("{}: {why}", c.to_ron()),
                ),
            );
        }
    }
}

/// Applies one command to the world: one verb per command.
pub fn apply(world: &mut World, cmd: &SimCommand) -> Result<(), String> {
    let cx = &mut Ctx::new(world, cmd.name());
    use SimCommand::*;
    match cmd {
        Scale { set, replicas } => workload::scale(cx, set, *replicas),
        SetImage { set, image } => workload::set_image(cx, set, image),
        SetPartition { set, partition } => workload::set_partition(cx, set, *partition),
        SetMaxUnavailable { set, value } => workload::set_max_unavailable(cx, set, value),
        DeleteSet { set, orphan } => workload::delete(cx, set, *orphan),
        DeletePod { pod } => pod::delete(cx, pod),
        ForceDeletePod { pod } => pod::force_delete(cx, pod),
        BreakReadiness { pod } => pod::set_readiness_broken(cx, pod, true),
        RestoreReadiness { pod } => pod::set_readiness_broken(cx, pod, false),
        CrashPod { pod, times } => pod::crash(cx, pod, *times),
        KubeletEvict { pod } => pod::kubelet_evict(cx, pod),
        FailNode { node, of } => node::fail(cx, node, of),
        PartitionNode { node, of } => node::partition(cx, node, of),
        RecoverNode { node, of } => node::recover(cx, node, of),
        DeleteNode { node, of } => node::delete(cx, node, of),
        AddNode {
            name,
            zone,
            cpu_millis,
            memory_mib,
        } => node::add(cx, name, zone, *cpu_millis, *memory_mib),
        TaintOutOfService { node, of } => node::taint_out_of_service(cx, node, of),
        UntaintOutOfService { node, of } => node::untaint_out_of_service(cx, node, of),
        CordonNode { node, of } => node::set_cordoned(cx, node, of, true),
        UncordonNode { node, of } => node::set_cordoned(cx, node, of, false),
        DeleteClaim { claim } => storage::delete_claim(cx, claim),
        ExpandClaim { claim, size_gib } => storage::expand_claim(cx, claim, *size_gib),
        Write { rows, set } => database::write(cx, set.as_deref(), *rows),
        SetWriteRate { per_second, set } => database::set_rate(cx, set.as_deref(), *per_second),
        DrainNode { node, of } => disruption::drain(cx, node, of),
        EvictPod { pod } => disruption::evict(cx, pod),
        // The core does not parse kubectl: the scenario layer runs it.
        Kubectl(_) => Err("kubectl lines are run by the scenario player or the GUI's command line, not sent as commands".into()),
    }
}

/// What a verb works with: the world, the instant, and the command's name.
struct Ctx<'w> {
    world: &'w mut World,
    now: u64,
    command: &'static str,
}

impl<'w> Ctx<'w> {
    fn new(world: &'w mut World, command: &'static str) -> Self {
        let now = world.resource::<SimClock>().now_ms;
        Ctx {
            world,
            now,
            command,
        }
    }
    /// Logs an event at the current instant.
    fn emit(&mut self, ev: SimEvent) {
        self.world.resource_mut::<EventLog>().emit(self.now, ev);
    }
    /// Records a state change that has no event of its own.
    fn touch(&mut self) {
        self.world.resource_mut::<EventLog>().touch();
    }
    fn index(&self) -> &Index {
        self.world.resource::<Index>()
    }
    /// The pod named `pod`.
    fn pod(&self, pod: &str) -> Result<Entity, String> {
        self.index()
            .pods
            .get(pod)
            .copied()
            .ok_or_else(|| format!("no pod named {pod}"))
    }
    /// The node a node command names, by `node:` or by `of:` (the node the
    /// pod was last scheduled on).
    fn node(&self, node: &Option<String>, of: &Option<String>) -> Result<(String, Entity), String> {
        let index = self.index();
        let name = match validate::node_ref(self.command, node, of)? {
            validate::NodeRef::Name(n) => n.to_string(),
            validate::NodeRef::Of(p) => index
                .last_node_of
                .get(p)
                .cloned()
                .ok_or_else(|| format!("pod {p} has not been scheduled on any node yet"))?,
        };
        let e = index
            .nodes
            .get(&name)
            .copied()
            .ok_or_else(|| format!("no node named {name}"))?;
        Ok((name, e))
    }
    /// Runs `f` with the shared cluster operations and the pods, as a system
    /// would, then applies the `Commands` it queued.
    fn with_cluster<R>(
        &mut self,
        f: impl FnOnce(&mut Cluster, &mut Query<(&Pod, &mut PodStatus)>) -> R,
    ) -> Result<R, String> {
        let mut state: SystemState<(Cluster, Query<(&Pod, &mut PodStatus)>)> =
            SystemState::new(self.world);
        let (mut cluster, mut pods) = state
            .get_mut(self.world)
            .map_err(|e| format!("the cluster is not set up: {e}"))?;
        let r = f(&mut cluster, &mut pods);
        state.apply(self.world);
        Ok(r)
    }
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
    let mut index = world.resource_mut::<Index>();
    index.nodes.insert(spec.name.clone(), e);
    // The node IPAM controller gives the new node its pod range.
    index.network.add_node(&spec.name);
    world.resource_mut::<EventLog>().touch();
    e
}

/// Creates a workload object (the controllers then create its pods).
pub fn add_workload(world: &mut World, spec: &WorkloadSpec) -> Entity {
    let now = world.resource::<SimClock>().now_ms;
    let seq = world.resource_mut::<Index>().next_seq();
    let e = match spec {
        WorkloadSpec::StatefulSet(s) => {
            let mut spec = s.clone();
            let dropped = world
                .resource::<crate::sim::version::ClusterVersion>()
                .drop_disabled_fields(&mut spec);
            if let Some(reason) = dropped {
                world.resource_mut::<EventLog>().emit(
                    now,
                    SimEvent::new(
                        EventKind::FieldDropped,
                        format!("statefulset/{}", s.name),
                        reason,
                    ),
                );
            }
            let e = world
                .spawn((
                    StatefulSet {
                        spec,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<SimCommand> {
        use SimCommand::*;
        let node = || Some("node-a".to_string());
        vec![
            Scale {
                set: "web".into(),
                replicas: 5,
            },
            SetImage {
                set: "web".into(),
                image: "nginx:2".into(),
            },
            SetPartition {
                set: "web".into(),
                partition: 2,
            },
            SetMaxUnavailable {
                set: "web".into(),
                value: IntOrPercent::Int(2),
            },
            DeletePod {
                pod: "web-1".into(),
            },
            ForceDeletePod {
                pod: "web-1".into(),
            },
            BreakReadiness {
                pod: "web-1".into(),
            },
            RestoreReadiness {
                pod: "web-1".into(),
            },
            CrashPod {
                pod: "web-1".into(),
                times: 1,
            },
            FailNode {
                node: None,
                of: Some("web-1".into()),
            },
            PartitionNode {
                node: node(),
                of: None,
            },
            RecoverNode {
                node: node(),
                of: None,
            },
            DeleteNode {
                node: node(),
                of: None,
            },
            AddNode {
                name: "node-e".into(),
                zone: "zone-1".into(),
                cpu_millis: None,
                memory_mib: None,
            },
            TaintOutOfService {
                node: node(),
                of: None,
            },
            UntaintOutOfService {
                node: node(),
                of: None,
            },
            CordonNode {
                node: node(),
                of: None,
            },
            UncordonNode {
                node: node(),
                of: None,
            },
            DeleteClaim {
                claim: "www-web-0".into(),
            },
            DeleteSet {
                set: "web".into(),
                orphan: false,
            },
            Write {
                rows: 100,
                set: None,
            },
            SetWriteRate {
                per_second: 2.5,
                set: Some("mysql".into()),
            },
            KubeletEvict {
                pod: "web-1".into(),
            },
        ]
    }

    #[test]
    fn a_command_is_named_as_a_scenario_writes_it() {
        for c in examples() {
            assert!(
                c.to_ron().starts_with(c.name()),
                "{} vs {}",
                c.name(),
                c.to_ron()
            );
        }
    }

    #[test]
    fn a_command_describes_itself_in_a_sentence() {
        let said: Vec<String> = examples().iter().map(SimCommand::describe).collect();
        assert_eq!(said[0], "Scale web to 5 replicas");
        assert_eq!(said[5], "Force-delete pod web-1");
        assert_eq!(said[9], "Fail web-1's node");
        for s in &said {
            assert!(!s.contains('(') && !s.contains('{'), "not a sentence: {s}");
        }
    }
}
