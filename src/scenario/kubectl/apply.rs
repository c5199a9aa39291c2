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
use crate::sim::version::{ClusterVersion, KubeVersion};
use bevy::prelude::*;
use std::path::PathBuf;

/// Where `apply -f FILE` reads: FILE itself, or, when that does not exist
/// and FILE is relative, FILE next to the running scenario file (so that a
/// lesson's `Kubectl("apply -f manifests/x.yaml")` works from any directory,
/// as its `manifests:` do).
pub fn resolve(file: &str, scenario_file: Option<&str>) -> PathBuf {
    let p = PathBuf::from(file);
    if p.exists() || p.is_absolute() {
        return p;
    }
    scenario_file
        .and_then(|f| std::path::Path::new(f).parent())
        .map(|dir| dir.join(file))
        .filter(|q| q.exists())
        .unwrap_or(p)
}

/// The file of the scenario running, for `apply -f` of a relative path.
#[derive(Resource, Debug, Clone)]
pub struct ScenarioFile(pub String);

/// Applies the manifests in `file`; the lines kubectl prints.
pub fn apply(world: &mut World, c: &Cluster, file: &str) -> Result<String, String> {
    let scenario = world.get_resource::<ScenarioFile>().map(|f| f.0.clone());
    let path = resolve(file, scenario.as_deref());
    let m = manifest::read_paths(&[path]).map_err(|d| format!("error: {d}"))?;
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
    let version = world.resource::<ClusterVersion>().clone();
    let cmds = changes(&current, w, &version)?;
    if cmds.is_empty() {
        return Ok(format!("{}/{name} unchanged", kind.singular()));
    }
    for cmd in cmds {
        crate::sim::command::apply(world, &cmd).map_err(|e| format!("error: {e}"))?;
    }
    Ok(format!("{}/{name} configured", kind.singular()))
}

/// The fields of a StatefulSet's spec an update may change, as
/// `ValidateStatefulSetUpdate` (pkg/apis/apps/validation/validation.go) lists
/// them in its refusal. Releases before 1.35 also forbid changing
/// `revisionHistoryLimit` (docs/semantics.md §1.5 immutable-fields).
fn updatable_fields(version: &ClusterVersion) -> &'static str {
    if revision_history_limit_mutable(version) {
        "'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds'"
    } else {
        "'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds'"
    }
}

/// Whether the API server accepts a change of `revisionHistoryLimit` (from
/// 1.35; docs/semantics.md §1.5).
fn revision_history_limit_mutable(version: &ClusterVersion) -> bool {
    version.version.minor_release() >= KubeVersion::new(1, 35, 0)
}

/// The API server's refusal of an update that changes a field it forbids
/// changing (volumeClaimTemplates, serviceName, podManagementPolicy…), as
/// `kubectl apply` prints it: the Invalid error of `ValidateStatefulSetUpdate`.
pub fn forbidden_update(name: &str, version: &ClusterVersion) -> String {
    format!(
        "The StatefulSet \"{name}\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than {} are forbidden",
        updatable_fields(version)
    )
}

/// The commands that turn `old` into `new`, or the API server's refusal.
pub fn changes(
    old: &WorkloadSpec,
    new: &WorkloadSpec,
    version: &ClusterVersion,
) -> Result<Vec<SimCommand>, String> {
    let mut out = Vec::new();
    match (old, new) {
        (WorkloadSpec::StatefulSet(a), WorkloadSpec::StatefulSet(b)) => {
            // No release the simulator models lets volumeClaimTemplates
            // change: KEP-4650 (StatefulSetUpdateVolumeClaimTemplate) has
            // no feature gate in 1.31-1.37.
            let frozen = a.service != b.service
                || a.pod_management != b.pod_management
                || a.claims != b.claims
                || (a.revision_history_limit != b.revision_history_limit
                    && !revision_history_limit_mutable(version));
            if frozen {
                return Err(forbidden_update(&a.name, version));
            }
            // Allowed by the API server, but not modelled as a change of a
            // running set: the simulator's own limit, said as such.
            let other = a.min_ready_seconds != b.min_ready_seconds
                || a.revision_history_limit != b.revision_history_limit
                || a.ordinals_start != b.ordinals_start
                || a.retention != b.retention
                || template_without_image(&a.template) != template_without_image(&b.template);
            if other {
                return Err(format!(
                    "error: the API server accepts this change, but the simulator changes only replicas, image, partition and maxUnavailable of a running StatefulSet ({}); delete and re-create it for other changes",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(claims: &str, extra: &str) -> WorkloadSpec {
        let ron = format!(
            "(name: \"web\", template: (image: \"nginx:1.25\"), claims: [{claims}]{extra})"
        );
        WorkloadSpec::StatefulSet(ron::from_str(&ron).expect("a valid set"))
    }

    fn version(v: &str) -> ClusterVersion {
        ClusterVersion::resolve(Some(v), &Default::default()).expect("a modelled release")
    }

    #[test]
    fn editing_volume_claim_templates_is_forbidden_with_the_api_servers_message() {
        let old = set("(name: \"www\", size_gib: 10)", "");
        let bigger = set("(name: \"www\", size_gib: 20)", "");
        for v in ["1.31", "1.34", "1.35", "1.37"] {
            let err = changes(&old, &bigger, &version(v)).unwrap_err();
            assert!(
                err.starts_with("The StatefulSet \"web\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy'"),
                "{v}: {err}"
            );
            assert!(
                err.ends_with(
                    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
                ),
                "{err}"
            );
        }
        // serviceName and podManagementPolicy are frozen too.
        let svc = set(
            "(name: \"www\", size_gib: 10)",
            ", service: Some(\"nginx\")",
        );
        assert!(
            changes(&old, &svc, &version("1.37"))
                .unwrap_err()
                .contains("Forbidden")
        );
        let par = set(
            "(name: \"www\", size_gib: 10)",
            ", pod_management: Parallel",
        );
        assert!(
            changes(&old, &par, &version("1.37"))
                .unwrap_err()
                .contains("Forbidden")
        );
    }

    #[test]
    fn revision_history_limit_is_forbidden_before_1_35_and_updatable_from_it() {
        let old = set("", "");
        let new = set("", ", revision_history_limit: 3");
        let before = changes(&old, &new, &version("1.34")).unwrap_err();
        assert!(before.contains("Forbidden") && !before.contains("'revisionHistoryLimit'"));
        let from = changes(&old, &new, &version("1.35")).unwrap_err();
        assert!(
            !from.contains("Forbidden") && from.contains("the API server accepts this change"),
            "accepted upstream, a limit of the simulator: {from}"
        );
        assert!(forbidden_update("web", &version("1.35")).contains("'revisionHistoryLimit'"));
    }

    #[test]
    fn changes_upstream_allows_but_the_simulator_cannot_make_say_so() {
        let old = set("", "");
        let new = set("", ", min_ready_seconds: 10");
        let err = changes(&old, &new, &version("1.37")).unwrap_err();
        assert!(
            err.starts_with("error: the API server accepts this change"),
            "{err}"
        );
    }
}
