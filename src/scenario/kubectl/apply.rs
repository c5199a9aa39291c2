//! `kubectl apply -f FILE`: creates the workloads, budgets, nodes and
//! storage classes a manifest declares, or changes an existing workload's
//! mutable fields (replicas, image, update strategy), refusing changes to
//! fields the API server forbids changing.

use super::parse::Kind;
use crate::scenario::manifest;
use crate::sim::SimCommand;
use crate::sim::controllers::disruption::DisruptionBudgets;
use crate::sim::model::*;
use crate::sim::read::Cluster;
use bevy::prelude::*;
use std::path::PathBuf;

/// Applies the manifests in `file`; the lines kubectl prints.
pub fn apply(world: &mut World, c: &Cluster, file: &str) -> Result<String, String> {
    let m = manifest::read_paths(&[PathBuf::from(file)]).map_err(|d| format!("error: {d}"))?;
    within_limits(c, &m)?;
    let mut out: Vec<String> = m.warnings.iter().map(|w| format!("Warning: {w}")).collect();
    for w in &m.workloads {
        out.push(workload(world, c, w)?);
    }
    for n in &m.nodes {
        if c.node(&n.name).is_some() {
            out.push(format!("node/{} unchanged", n.name));
        } else {
            crate::sim::command::add_node(world, n);
            out.push(format!("node/{} created", n.name));
        }
    }
    for sc in &m.classes {
        let mut index = world.resource_mut::<Index>();
        if index.classes.contains_key(&sc.name) {
            out.push(format!("storageclass.storage.k8s.io/{} unchanged", sc.name));
        } else {
            index.classes.insert(sc.name.clone(), sc.clone());
            out.push(format!("storageclass.storage.k8s.io/{} created", sc.name));
        }
    }
    for b in &m.budgets {
        let mut budgets = world.resource_mut::<DisruptionBudgets>();
        match budgets.0.iter_mut().find(|x| x.name == b.name) {
            Some(x) if x == b => {
                out.push(format!("poddisruptionbudget.policy/{} unchanged", b.name))
            }
            Some(x) => {
                *x = b.clone();
                out.push(format!("poddisruptionbudget.policy/{} configured", b.name));
            }
            None => {
                budgets.0.push(b.clone());
                out.push(format!("poddisruptionbudget.policy/{} created", b.name));
            }
        }
    }
    for s in &m.services {
        out.push(format!("service/{s} unchanged"));
    }
    world.resource_mut::<crate::sim::EventLog>().touch();
    Ok(out.join("\n"))
}

/// The cluster after `m` is applied stays within the limits a scenario
/// file has (nodes, workloads): applying the same manifest again and again
/// under new names must not grow a world without bound.
fn within_limits(c: &Cluster, m: &manifest::Manifests) -> Result<(), String> {
    let new_nodes = m.nodes.iter().filter(|n| c.node(&n.name).is_none()).count();
    crate::sim::validate::node_count(c.nodes.len() + new_nodes)
        .map_err(|e| format!("error: {e}"))?;
    let exists = |name: &str| {
        c.sets.iter().any(|s| s.set.spec.name == name)
            || c.deployments.iter().any(|d| d.deployment.spec.name == name)
    };
    let new_workloads = m.workloads.iter().filter(|w| !exists(w.name())).count();
    let workloads = c.sets.len() + c.deployments.len() + new_workloads;
    if workloads > limits::MAX_WORKLOADS {
        return Err(format!(
            "error: {workloads} workloads; at most {} are supported",
            limits::MAX_WORKLOADS
        ));
    }
    Ok(())
}

fn workload(world: &mut World, c: &Cluster, w: &WorkloadSpec) -> Result<String, String> {
    let name = w.name().to_string();
    let (kind, current): (Kind, Option<WorkloadSpec>) = match w {
        WorkloadSpec::StatefulSet(_) => (
            Kind::StatefulSet,
            c.sets
                .iter()
                .find(|s| s.set.spec.name == name)
                .map(|s| WorkloadSpec::StatefulSet(s.set.spec.clone())),
        ),
        WorkloadSpec::Deployment(_) => (
            Kind::Deployment,
            c.deployments
                .iter()
                .find(|d| d.deployment.spec.name == name)
                .map(|d| WorkloadSpec::Deployment(d.deployment.spec.clone())),
        ),
    };
    let Some(current) = current else {
        crate::sim::command::add_workload(world, w);
        return Ok(format!("{}/{name} created", kind.singular()));
    };
    let cmds = changes(&current, w)?;
    if cmds.is_empty() {
        return Ok(format!("{}/{name} unchanged", kind.singular()));
    }
    for cmd in cmds {
        crate::sim::command::apply(world, &cmd).map_err(|e| format!("error: {e}"))?;
    }
    Ok(format!("{}/{name} configured", kind.singular()))
}

/// The commands that turn `old` into `new`, or the API server's refusal.
pub fn changes(old: &WorkloadSpec, new: &WorkloadSpec) -> Result<Vec<SimCommand>, String> {
    let mut out = Vec::new();
    match (old, new) {
        (WorkloadSpec::StatefulSet(a), WorkloadSpec::StatefulSet(b)) => {
            let frozen = a.service != b.service
                || a.pod_management != b.pod_management
                || a.claims != b.claims
                || a.revision_history_limit != b.revision_history_limit;
            if frozen {
                return Err(format!(
                    "The StatefulSet \"{}\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                    a.name
                ));
            }
            let other = a.min_ready_seconds != b.min_ready_seconds
                || a.ordinals_start != b.ordinals_start
                || a.retention != b.retention
                || template_without_image(&a.template) != template_without_image(&b.template);
            if other {
                return Err(format!(
                    "error: the simulator can change replicas, image, partition and maxUnavailable of the running StatefulSet {}; delete and re-create it for other changes",
                    a.name
                ));
            }
            match (&a.update_strategy, &b.update_strategy) {
                (
                    UpdateStrategy::RollingUpdate {
                        partition: p1,
                        max_unavailable: m1,
                    },
                    UpdateStrategy::RollingUpdate {
                        partition: p2,
                        max_unavailable: m2,
                    },
                ) => {
                    if p1 != p2 {
                        out.push(SimCommand::SetPartition {
                            set: a.name.clone(),
                            partition: *p2,
                        });
                    }
                    if m1 != m2 {
                        out.push(SimCommand::SetMaxUnavailable {
                            set: a.name.clone(),
                            value: m2.clone(),
                        });
                    }
                }
                (x, y) if x != y => {
                    return Err(format!(
                        "error: the simulator cannot switch {} between RollingUpdate and OnDelete",
                        a.name
                    ));
                }
                _ => {}
            }
            push_common(
                &mut out,
                &a.name,
                a.replicas,
                b.replicas,
                &a.template,
                &b.template,
            );
        }
        (WorkloadSpec::Deployment(a), WorkloadSpec::Deployment(b)) => {
            if template_without_image(&a.template) != template_without_image(&b.template)
                || a.max_surge != b.max_surge
                || a.max_unavailable != b.max_unavailable
            {
                return Err(format!(
                    "error: the simulator can change replicas and image of the running Deployment {}",
                    a.name
                ));
            }
            push_common(
                &mut out,
                &a.name,
                a.replicas,
                b.replicas,
                &a.template,
                &b.template,
            );
        }
        _ => return Err("error: a StatefulSet and a Deployment share a name".into()),
    }
    Ok(out)
}

fn push_common(
    out: &mut Vec<SimCommand>,
    name: &str,
    r1: u32,
    r2: u32,
    t1: &PodTemplate,
    t2: &PodTemplate,
) {
    if t1.image != t2.image {
        out.push(SimCommand::SetImage {
            set: name.into(),
            image: t2.image.clone(),
        });
    }
    if r1 != r2 {
        out.push(SimCommand::Scale {
            set: name.into(),
            replicas: r2,
        });
    }
}

fn template_without_image(t: &PodTemplate) -> PodTemplate {
    PodTemplate {
        image: String::new(),
        ..t.clone()
    }
}
