//! Verbs on nodes, as turmoil's `Sim` has crash, partition and repair: fail
//! (the machine dies), partition (cut off, still running), recover, delete,
//! add, taint or untaint out-of-service, cordon or uncordon.

use super::{Ctx, add_node};
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::*;
use crate::sim::validate;
use bevy::prelude::*;

type NodeArg = Option<String>;

/// The machine dies: its containers stop, its kubelet goes silent.
pub(super) fn fail(cx: &mut Ctx, node: &NodeArg, of: &NodeArg) -> Result<(), String> {
    let (name, ne) = cx.node(node, of)?;
    let now = cx.now;
    let mut ns = node_state(cx, ne)?;
    if ns.machine == Machine::Dead {
        return Err(format!("{name} is already down"));
    }
    set_machine(&mut ns, Machine::Dead, now);
    let stopped = stop_processes(cx.world, ne);
    cx.emit(
        SimEvent::new(
            EventKind::NodeFailed,
            format!("node/{name}"),
            format!(
                "{name} died: its containers ({}) stopped and its kubelet no longer posts status. The API still shows its pods Running until the node controller notices",
                if stopped.is_empty() { "none".to_string() } else { stopped.join(", ") }
            ),
        )
        .node(name),
    );
    Ok(())
}

/// The machine is cut off from the control plane but keeps running.
pub(super) fn partition(cx: &mut Ctx, node: &NodeArg, of: &NodeArg) -> Result<(), String> {
    let (name, ne) = cx.node(node, of)?;
    let now = cx.now;
    let mut ns = node_state(cx, ne)?;
    // A machine that is off cannot be "cut off but still running":
    // partitioning it would bring its (stopped) containers' volumes
    // back as if still mounted.
    if ns.machine != Machine::Up {
        return Err(format!(
            "{name} is {} already; RecoverNode it first",
            if ns.machine == Machine::Dead {
                "down"
            } else {
                "cut off"
            }
        ));
    }
    set_machine(&mut ns, Machine::Partitioned, now);
    cx.emit(
        SimEvent::new(
            EventKind::NodePartitioned,
            format!("node/{name}"),
            format!("{name} is cut off from the control plane: its containers keep running and keep their volumes, but nothing it does is seen"),
        )
        .node(name),
    );
    Ok(())
}

/// The machine goes down (or away): its last heartbeat is the one due before now.
fn set_machine(ns: &mut NodeState, machine: Machine, now: u64) {
    ns.last_heartbeat_ms = ns.heartbeat_at(now);
    ns.machine = machine;
    ns.machine_since_ms = now;
}

/// Stops every process on node `ne`; returns their pods' names, sorted.
fn stop_processes(world: &mut World, ne: Entity) -> Vec<String> {
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
    names
}

/// The machine boots again or is reachable again.
pub(super) fn recover(cx: &mut Ctx, node: &NodeArg, of: &NodeArg) -> Result<(), String> {
    let (name, ne) = cx.node(node, of)?;
    let now = cx.now;
    let mut ns = node_state(cx, ne)?;
    if ns.machine == Machine::Up {
        return Err(format!("{name} is already up"));
    }
    let was = ns.machine;
    ns.machine = Machine::Up;
    ns.machine_since_ms = now;
    ns.last_heartbeat_ms = now;
    cx.emit(
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
    Ok(())
}

/// `kubectl delete node`: the object goes; pod GC deals with its pods.
pub(super) fn delete(cx: &mut Ctx, node: &NodeArg, of: &NodeArg) -> Result<(), String> {
    let (name, ne) = cx.node(node, of)?;
    cx.world.resource_mut::<Index>().nodes.remove(&name);
    cx.world.resource_mut::<Index>().network.remove_node(&name);
    cx.world.despawn(ne);
    cx.emit(
        SimEvent::new(
            EventKind::NodeDeleted,
            format!("node/{name}"),
            format!("node object {name} deleted (kubectl delete node): pod GC will force-delete its pods after a 40s quarantine"),
        )
        .node(name),
    );
    Ok(())
}

/// A new node joins (by default with 4 CPUs and 8 GiB).
pub(super) fn add(
    cx: &mut Ctx,
    name: &str,
    zone: &str,
    cpu_millis: Option<u32>,
    memory_mib: Option<u32>,
) -> Result<(), String> {
    let spec = NodeSpec {
        name: name.to_string(),
        zone: zone.to_string(),
        cpu_millis: cpu_millis.unwrap_or(NodeSpec::DEFAULT_CPU_MILLIS),
        memory_mib: memory_mib.unwrap_or(NodeSpec::DEFAULT_MEMORY_MIB),
    };
    validate::dns_label("node name", name)?;
    validate::dns_label("zone", zone)?;
    validate::node_capacity(name, spec.cpu_millis, spec.memory_mib)?;
    if cx.index().nodes.contains_key(name) {
        return Err(format!("a node named {name} exists already"));
    }
    validate::node_count(cx.index().nodes.len() + 1)?;
    add_node(cx.world, &spec);
    cx.emit(
        SimEvent::new(
            EventKind::NodeAdded,
            format!("node/{name}"),
            format!("{name} joins in {zone}"),
        )
        .node(name.to_string()),
    );
    Ok(())
}

/// node.kubernetes.io/out-of-service=nodeshutdown:NoExecute: the user says
/// the machine is shut down.
pub(super) fn taint_out_of_service(
    cx: &mut Ctx,
    node: &NodeArg,
    of: &NodeArg,
) -> Result<(), String> {
    let (name, ne) = cx.node(node, of)?;
    let now = cx.now;
    let mut ns = node_state(cx, ne)?;
    if ns.has_taint(TAINT_OUT_OF_SERVICE) {
        return Err(format!("{name} has the out-of-service taint already"));
    }
    ns.taints.push(Taint {
        key: TAINT_OUT_OF_SERVICE.into(),
        effect: TaintEffect::NoExecute,
        added_ms: now,
    });
    let ready = ns.ready == Condition::True;
    cx.emit(
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
    Ok(())
}

/// Removes the out-of-service taint.
pub(super) fn untaint_out_of_service(
    cx: &mut Ctx,
    node: &NodeArg,
    of: &NodeArg,
) -> Result<(), String> {
    let (name, ne) = cx.node(node, of)?;
    node_state(cx, ne)?
        .taints
        .retain(|t| t.key != TAINT_OUT_OF_SERVICE);
    cx.emit(
        SimEvent::new(
            EventKind::NodeUntainted,
            format!("node/{name}"),
            format!("{TAINT_OUT_OF_SERVICE} removed"),
        )
        .node(name),
    );
    Ok(())
}

/// `kubectl cordon` / `uncordon`: whether new pods may be scheduled here.
pub(super) fn set_cordoned(
    cx: &mut Ctx,
    node: &NodeArg,
    of: &NodeArg,
    cordon: bool,
) -> Result<(), String> {
    let (name, ne) = cx.node(node, of)?;
    node_state(cx, ne)?.cordoned = cordon;
    let (kind, why) = if cordon {
        (
            EventKind::NodeCordoned,
            "cordoned: no new pods are scheduled here; running pods stay",
        )
    } else {
        (EventKind::NodeUncordoned, "uncordoned: schedulable again")
    };
    cx.emit(SimEvent::new(kind, format!("node/{name}"), why).node(name));
    Ok(())
}

fn node_state<'a>(cx: &'a mut Ctx, ne: Entity) -> Result<Mut<'a, NodeState>, String> {
    cx.world
        .get_mut::<NodeState>(ne)
        .ok_or_else(|| "node is gone".into())
}
