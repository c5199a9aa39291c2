//! podAntiAffinity in manifests: each term of a workload's pod template is
//! read, and once every workload is read its label selector is resolved to
//! the workload whose pod labels it matches (the simulator's terms select a
//! workload, docs/semantics.md §5.8a).

use super::convert::Doc;
use super::yaml::Pos;
use super::{Manifests, Warning};
use crate::scenario::Diagnostic;
use crate::sim::model::{AntiAffinity, TOPOLOGY_HOSTNAME, TOPOLOGY_ZONE, WorkloadSpec};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// A term read, its selector not yet matched to a workload.
#[derive(Debug, Clone)]
pub(super) struct PendingTerm {
    workload: String,
    file: String,
    pos: Pos,
    /// The term, its `set` to fill in.
    term: AntiAffinity,
    /// Every (key, allowed values) must hold of a pod's labels.
    selector: Vec<(String, Vec<String>)>,
    /// The selector as written, for messages ("app In [zk]").
    written: String,
}

const BASE: &str = "spec.template.spec.affinity.podAntiAffinity";

/// The selector as requirements, or why it cannot be simulated.
fn requirements(s: &LabelSelector) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out: Vec<(String, Vec<String>)> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), vec![v.clone()]))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        if e.operator != "In" {
            return Err(format!(
                "matchExpressions operator {} is not simulated (In is)",
                e.operator
            ));
        }
        out.push((e.key.clone(), e.values.clone().unwrap_or_default()));
    }
    Ok(out)
}

fn describe(req: &[(String, Vec<String>)]) -> String {
    req.iter()
        .map(|(k, v)| format!("{k} In [{}]", v.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the pod template's podAntiAffinity terms of workload `d.name`.
pub(super) fn read(
    d: &Doc,
    t: &core::PodTemplateSpec,
    m: &mut Manifests,
) -> Result<(), Diagnostic> {
    let Some(anti) = t
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref())
    else {
        return Ok(());
    };
    let required = anti
        .required_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .map(|t| (None, t, "requiredDuringSchedulingIgnoredDuringExecution"));
    let preferred = anti
        .preferred_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .map(|w| {
            (
                Some(w.weight),
                &w.pod_affinity_term,
                "preferredDuringSchedulingIgnoredDuringExecution",
            )
        });
    for (weight, term, list) in required.chain(preferred) {
        let path = format!("{BASE}.{list}");
        let key = term.topology_key.clone();
        if key != TOPOLOGY_HOSTNAME && key != TOPOLOGY_ZONE {
            return Err(d.err(
                &path,
                format!(
                    "topologyKey {key:?} is not simulated: nodes carry {TOPOLOGY_HOSTNAME} and {TOPOLOGY_ZONE}"
                ),
            ));
        }
        let selector = term
            .label_selector
            .as_ref()
            .map(requirements)
            .transpose()
            .map_err(|e| d.err(&path, e))?
            .unwrap_or_default();
        let term = match weight {
            None => AntiAffinity::Required {
                topology_key: key,
                set: None,
            },
            Some(w) => {
                if !(1..=100).contains(&w) {
                    return Err(d.err(&path, format!("weight {w}: expected 1 to 100")));
                }
                AntiAffinity::Preferred {
                    weight: w as u32,
                    topology_key: key,
                    set: None,
                }
            }
        };
        m.pending_anti.push(PendingTerm {
            workload: d.name.clone(),
            file: d.file.to_string(),
            pos: d.pos(&path),
            written: describe(&selector),
            term,
            selector,
        });
    }
    Ok(())
}

fn matches(selector: &[(String, Vec<String>)], labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, vs)| labels.get(k).is_some_and(|v| vs.contains(v)))
}

/// Gives each term the workload its selector matches; a term that matches
/// no workload's pods keeps nothing away, and is dropped with a warning.
pub(super) fn resolve(m: &mut Manifests) -> Result<(), Diagnostic> {
    for p in std::mem::take(&mut m.pending_anti) {
        let found: Vec<String> = m
            .labels
            .iter()
            .filter(|(_, labels)| matches(&p.selector, labels))
            .map(|(n, _)| n.clone())
            .collect();
        let target = match found.as_slice() {
            [one] => one.clone(),
            [] => {
                m.warnings.push(Warning {
                    file: p.file.clone(),
                    pos: p.pos,
                    message: format!(
                        "{}: its podAntiAffinity selector ({}) matches the pod labels of no workload in these manifests: it keeps nothing away",
                        p.workload, p.written
                    ),
                });
                continue;
            }
            many => {
                return Err(Diagnostic {
                    file: p.file.clone(),
                    line: p.pos.line,
                    col: p.pos.col,
                    message: format!(
                        "{}: its podAntiAffinity selector ({}) matches the pods of several workloads ({}); the simulator needs it to select one",
                        p.workload,
                        p.written,
                        many.join(", ")
                    ),
                });
            }
        };
        let set = (target != p.workload).then_some(target);
        let mut term = p.term;
        match &mut term {
            AntiAffinity::Required { set: s, .. } | AntiAffinity::Preferred { set: s, .. } => {
                *s = set
            }
        }
        for w in &mut m.workloads {
            let template = match w {
                WorkloadSpec::StatefulSet(s) if s.name == p.workload => &mut s.template,
                WorkloadSpec::Deployment(d) if d.name == p.workload => &mut d.template,
                _ => continue,
            };
            template.anti_affinity.push(term.clone());
        }
    }
    Ok(())
}
