//! Running a parsed kubectl command against the simulated cluster: its
//! effect (through the same `SimCommand`s the scenario and the GUI send) and
//! the text kubectl would print.

use super::objects;
use super::parse::{Kind, Kubectl, Output};
use super::print;
use crate::sim::SimCommand;
use crate::sim::controllers::disruption::DisruptionBudgets;
use crate::sim::model::*;
use crate::sim::read::{self, Cluster};
use bevy::prelude::*;

/// `Error from server (NotFound): pods "web-9" not found`.
pub fn not_found(kind: Kind, name: &str) -> String {
    format!(
        "Error from server (NotFound): {} \"{name}\" not found",
        kind.plural()
    )
}

fn exists(c: &Cluster, budgets: &[DisruptionBudgetSpec], kind: Kind, name: &str) -> bool {
    match kind {
        Kind::Pod => c.pod(name).is_some(),
        Kind::StatefulSet => c.sets.iter().any(|s| s.set.spec.name == name),
        Kind::Deployment => c.deployments.iter().any(|d| d.deployment.spec.name == name),
        Kind::Claim => c.claims.iter().any(|cl| cl.claim.name == name),
        Kind::Volume => c.volume(name).is_some(),
        Kind::Node => c.node(name).is_some(),
        Kind::Budget => budgets.iter().any(|b| b.name == name),
        Kind::Event => false,
    }
}

fn require(
    c: &Cluster,
    budgets: &[DisruptionBudgetSpec],
    kind: Kind,
    name: &str,
) -> Result<(), String> {
    if exists(c, budgets, kind, name) {
        Ok(())
    } else {
        Err(not_found(kind, name))
    }
}

/// Applies `cmd` now; an error is the reason the simulation refused it.
fn send(world: &mut World, cmd: SimCommand) -> Result<(), String> {
    crate::sim::command::apply(world, &cmd).map_err(|e| format!("error: {e}"))
}

fn node(name: &str) -> Option<String> {
    Some(name.to_string())
}

/// Runs one command (not `sleep` or `wait`, which move the clock: the shell
/// runs those). Ok: what kubectl prints on stdout; Err: on stderr.
pub fn run(world: &mut World, cmd: &Kubectl) -> Result<String, String> {
    let c = read::read(world);
    let budgets = world.resource::<DisruptionBudgets>().0.clone();
    let default_class = world.resource::<Index>().default_class.clone();
    match cmd {
        Kubectl::Get { kind, name, output } => {
            if let Some(n) = name {
                require(&c, &budgets, *kind, n)?;
            }
            let events = world.resource::<crate::sim::EventLog>().events.clone();
            print::get(&c, &budgets, &default_class, &events, *kind, name.as_deref(), *output)
        }
        Kubectl::Describe { kind, name } => {
            require(&c, &budgets, *kind, name)?;
            let events = world.resource::<crate::sim::EventLog>().events.clone();
            Ok(print::describe(&c, &budgets, &events, *kind, name))
        }
        Kubectl::Scale { kind, name, replicas } => {
            require(&c, &budgets, *kind, name)?;
            send(world, SimCommand::Scale { set: name.clone(), replicas: *replicas })?;
            Ok(format!("{}/{name} scaled", kind.singular()))
        }
        Kubectl::SetImage { kind, name, container, image } => {
            require(&c, &budgets, *kind, name)?;
            let current = template_of(&c, name).map(|t| t.image.clone()).unwrap_or_default();
            if container != name && !container.is_empty() && container != "*" {
                return Err(format!(
                    "error: unable to find container named \"{container}\" (the simulated pod's container is named {name})"
                ));
            }
            if current == *image {
                return Ok(String::new());
            }
            send(world, SimCommand::SetImage { set: name.clone(), image: image.clone() })?;
            Ok(format!("{}/{name} image updated", kind.singular()))
        }
        Kubectl::Patch { kind, name, patch } if *kind == Kind::Claim => {
            require(&c, &budgets, *kind, name)?;
            patch_claim(world, &c, name, patch)
        }
        Kubectl::Patch { kind, name, patch } => {
            require(&c, &budgets, *kind, name)?;
            let cmds = super::patch::commands(*kind, name, patch)?;
            if cmds.is_empty() {
                return Ok(format!("{}/{name} patched (no change)", kind.singular()));
            }
            for cmd in cmds {
                send(world, cmd)?;
            }
            Ok(format!("{}/{name} patched", kind.singular()))
        }
        Kubectl::RolloutStatus { kind, name } => {
            require(&c, &budgets, *kind, name)?;
            rollout_status(&c, *kind, name).map(|(s, _)| s)
        }
        Kubectl::RolloutHistory { kind, name } => {
            require(&c, &budgets, *kind, name)?;
            Ok(print::rollout_history(&c, *kind, name))
        }
        Kubectl::RolloutUndo { kind, name, to_revision } => {
            require(&c, &budgets, *kind, name)?;
            let image = undo_image(&c, *kind, name, *to_revision)?;
            send(world, SimCommand::SetImage { set: name.clone(), image })?;
            Ok(format!("{}/{name} rolled back", kind.singular()))
        }
        Kubectl::Delete {
            kind,
            name,
            force,
            orphan,
        } => delete(world, &c, &budgets, *kind, name, (*force, *orphan)),
        Kubectl::Cordon(n) | Kubectl::Uncordon(n) => {
            require(&c, &budgets, Kind::Node, n)?;
            let cordon = matches!(cmd, Kubectl::Cordon(_));
            let was = c.node(n).is_some_and(|x| x.state.cordoned);
            let word = if cordon { "cordoned" } else { "uncordoned" };
            if was == cordon {
                return Ok(format!("node/{n} already {word}"));
            }
            let sc = if cordon {
                SimCommand::CordonNode { node: node(n), of: None }
            } else {
                SimCommand::UncordonNode { node: node(n), of: None }
            };
            send(world, sc)?;
            Ok(format!("node/{n} {word}"))
        }
        Kubectl::Drain(n) => {
            require(&c, &budgets, Kind::Node, n)?;
            let was = c.node(n).is_some_and(|x| x.state.cordoned);
            send(world, SimCommand::DrainNode { node: node(n), of: None })?;
            let mut out = if was {
                format!("node/{n} already cordoned")
            } else {
                format!("node/{n} cordoned")
            };
            for p in c.pods.iter().filter(|p| p.status.node.as_deref() == Some(n)) {
                out.push_str(&format!("\nevicting pod default/{}", p.pod.name));
            }
            Ok(out)
        }
        Kubectl::Taint { node: n, remove } => {
            require(&c, &budgets, Kind::Node, n)?;
            let has = c.node(n).is_some_and(|x| x.state.has_taint(TAINT_OUT_OF_SERVICE));
            if *remove {
                if !has {
                    return Err(format!("error: taint \"{TAINT_OUT_OF_SERVICE}\" not found"));
                }
                send(world, SimCommand::UntaintOutOfService { node: node(n), of: None })?;
                Ok(format!("node/{n} untainted"))
            } else {
                if has {
                    return Err(format!(
                        "error: node {n} already has {TAINT_OUT_OF_SERVICE} taint(s) with same effect(s) and --overwrite is false"
                    ));
                }
                send(world, SimCommand::TaintOutOfService { node: node(n), of: None })?;
                Ok(format!("node/{n} tainted"))
            }
        }
        Kubectl::Apply { file } => super::apply::apply(world, &c, file),
        Kubectl::Sleep { .. } | Kubectl::Wait { .. } => Err(
            "error: sleep and wait move the clock: they work in `statefulset-sim shell`; in a scenario use `after:` or `when:`".into(),
        ),
    }
}

/// `kubectl patch pvc`: the API server's refusal is printed as kubectl
/// prints it (Invalid or Forbidden), not as a simulator error.
fn patch_claim(
    world: &mut World,
    c: &Cluster,
    name: &str,
    patch: &serde_json::Value,
) -> Result<String, String> {
    let what = Kind::Claim.singular();
    let current = c.claims.iter().find(|cl| cl.claim.name == name);
    let mut changed = false;
    for cmd in super::patch::commands(Kind::Claim, name, patch)? {
        if let SimCommand::ExpandClaim { size_gib, .. } = &cmd {
            changed |= current.is_some_and(|cl| cl.claim.size_gib != *size_gib);
        }
        crate::sim::command::apply(world, &cmd)?;
    }
    Ok(if changed {
        format!("{what}/{name} patched")
    } else {
        format!("{what}/{name} patched (no change)")
    })
}

fn template_of<'a>(c: &'a Cluster, name: &str) -> Option<&'a PodTemplate> {
    c.sets
        .iter()
        .find(|s| s.set.spec.name == name)
        .map(|s| &s.set.spec.template)
        .or_else(|| {
            c.deployments
                .iter()
                .find(|d| d.deployment.spec.name == name)
                .map(|d| &d.deployment.spec.template)
        })
}

fn delete(
    world: &mut World,
    c: &Cluster,
    budgets: &[DisruptionBudgetSpec],
    kind: Kind,
    name: &str,
    (force, orphan): (bool, bool),
) -> Result<String, String> {
    require(c, budgets, kind, name)?;
    let what = kind.singular();
    match kind {
        Kind::Pod if force => {
            send(world, SimCommand::ForceDeletePod { pod: name.into() })?;
            Ok(format!(
                "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\npod \"{name}\" force deleted"
            ))
        }
        Kind::Pod => {
            let already = c.pod(name).is_some_and(|p| p.status.terminating());
            if !already {
                send(world, SimCommand::DeletePod { pod: name.into() })?;
            }
            Ok(format!("pod \"{name}\" deleted"))
        }
        Kind::Claim => {
            send(world, SimCommand::DeleteClaim { claim: name.into() })?;
            Ok(format!("{what} \"{name}\" deleted"))
        }
        Kind::StatefulSet | Kind::Deployment => {
            send(
                world,
                SimCommand::DeleteSet {
                    set: name.into(),
                    orphan,
                },
            )?;
            Ok(format!("{what} \"{name}\" deleted"))
        }
        Kind::Node => {
            send(
                world,
                SimCommand::DeleteNode {
                    node: node(name),
                    of: None,
                },
            )?;
            Ok(format!("node \"{name}\" deleted"))
        }
        _ => Err(format!(
            "error: the simulator cannot delete {}",
            kind.plural()
        )),
    }
}

/// `kubectl rollout status`: the line kubectl prints now, and whether the
/// rollout is done (kubectl's StatefulSetStatusViewer / DeploymentStatusViewer).
pub fn rollout_status(c: &Cluster, kind: Kind, name: &str) -> Result<(String, bool), String> {
    if kind == Kind::Deployment {
        let d = c
            .deployments
            .iter()
            .find(|d| d.deployment.spec.name == name)
            .ok_or_else(|| not_found(kind, name))?;
        let want = d.deployment.spec.replicas;
        let st = &d.status;
        if st.updated < want {
            return Ok((
                format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {} out of {want} new replicas have been updated...",
                    st.updated
                ),
                false,
            ));
        }
        if st.replicas > st.updated {
            return Ok((
                format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
                    st.replicas - st.updated
                ),
                false,
            ));
        }
        if st.ready < st.updated {
            return Ok((
                format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {} of {} updated replicas are available...",
                    st.ready, st.updated
                ),
                false,
            ));
        }
        return Ok((
            format!("deployment \"{name}\" successfully rolled out"),
            true,
        ));
    }
    let s = c
        .sets
        .iter()
        .find(|s| s.set.spec.name == name)
        .ok_or_else(|| not_found(kind, name))?;
    let (spec, st) = (&s.set.spec, &s.status);
    let UpdateStrategy::RollingUpdate { partition, .. } = &spec.update_strategy else {
        return Err(
            "error: rollout status is only available for RollingUpdate strategy type".into(),
        );
    };
    if st.ready < spec.replicas {
        return Ok((
            format!(
                "Waiting for {} pods to be ready...",
                spec.replicas - st.ready
            ),
            false,
        ));
    }
    let want = spec.replicas.saturating_sub(*partition);
    if st.updated < want {
        return Ok((
            format!(
                "Waiting for partitioned roll out to finish: {} out of {want} new pods have been updated...",
                st.updated
            ),
            false,
        ));
    }
    Ok((
        format!(
            "partitioned roll out complete: {} new pods have been updated...",
            st.updated
        ),
        true,
    ))
}

/// The image of the revision `rollout undo` goes back to: the one before
/// the newest, or `--to-revision`.
fn undo_image(c: &Cluster, kind: Kind, name: &str, to: Option<u64>) -> Result<String, String> {
    if kind != Kind::StatefulSet {
        return Err("error: the simulator can undo StatefulSet rollouts only".into());
    }
    let s = c
        .sets
        .iter()
        .find(|s| s.set.spec.name == name)
        .ok_or_else(|| not_found(kind, name))?;
    let mut revs: Vec<&Revision> = s.status.revisions.iter().collect();
    revs.sort_by_key(|r| r.number);
    let target =
        match to {
            Some(n) => revs.iter().find(|r| r.number == n).ok_or_else(|| {
                format!("error: unable to find specified revision {n} in history")
            })?,
            None => revs.iter().rev().nth(1).ok_or(
                "error: no rollout history found for statefulset.apps/".to_string() + name,
            )?,
        };
    Ok(target.template.image.clone())
}

/// Every object name of `kind`, for tab completion.
pub fn names(world: &mut World, kind: Kind) -> Vec<String> {
    let c = read::read(world);
    let budgets = world.resource::<DisruptionBudgets>().0.clone();
    super::exec_names(&c, &budgets, kind)
}

/// The YAML of an object (k8s-openapi serialised), or JSON.
pub fn render(value: &serde_json::Value, output: Output) -> Result<String, String> {
    match output {
        Output::Json => serde_json::to_string_pretty(value).map_err(|e| format!("error: {e}")),
        _ => serde_saphyr::to_string(value).map_err(|e| format!("error: {e}")),
    }
}

/// The object `kind/name` as the API would return it.
pub fn object(
    c: &Cluster,
    budgets: &[DisruptionBudgetSpec],
    default_class: &str,
    kind: Kind,
    name: &str,
) -> Option<serde_json::Value> {
    let v = match kind {
        Kind::Pod => serde_json::to_value(objects::pod(c.pod(name)?)),
        Kind::StatefulSet => serde_json::to_value(objects::stateful_set(
            c.sets.iter().find(|s| s.set.spec.name == name)?,
            default_class,
        )),
        Kind::Deployment => serde_json::to_value(objects::deployment(
            c.deployments
                .iter()
                .find(|d| d.deployment.spec.name == name)?,
        )),
        Kind::Claim => serde_json::to_value(objects::claim(
            c.claims.iter().find(|cl| cl.claim.name == name)?,
        )),
        Kind::Volume => {
            let v = c.volume(name)?;
            let exists = c.claims.iter().any(|cl| cl.claim.name == v.volume.claim);
            serde_json::to_value(objects::volume(v, exists))
        }
        Kind::Node => serde_json::to_value(objects::node(c.node(name)?)),
        Kind::Budget => {
            serde_json::to_value(objects::budget(budgets.iter().find(|b| b.name == name)?, c))
        }
        Kind::Event => return None,
    };
    v.ok()
}
