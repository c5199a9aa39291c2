//! A kubectl subset, one parser for three places: the `Kubectl("…")`
//! scenario step, `statefulset-sim shell` and the GUI's command line. Each
//! command acts through the simulation's own commands and prints what
//! kubectl would print.

pub mod apply;
pub mod exec;
pub mod objects;
pub mod parse;
mod patch;
pub mod print;

pub use exec::{names, rollout_status, run};
pub use parse::{Kind, Kubectl, Output, WaitFor, parse};

use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::DisruptionBudgetSpec;
use crate::sim::read::Cluster;
use bevy::prelude::*;

/// Every object name of `kind` in a read of the cluster.
pub(crate) fn exec_names(c: &Cluster, budgets: &[DisruptionBudgetSpec], kind: Kind) -> Vec<String> {
    match kind {
        Kind::Pod => c.pods.iter().map(|p| p.pod.name.clone()).collect(),
        Kind::StatefulSet => c.sets.iter().map(|s| s.set.spec.name.clone()).collect(),
        Kind::Deployment => c
            .deployments
            .iter()
            .map(|d| d.deployment.spec.name.clone())
            .collect(),
        Kind::Claim => c.claims.iter().map(|cl| cl.claim.name.clone()).collect(),
        Kind::Volume => c.volumes.iter().map(|v| v.volume.name.clone()).collect(),
        Kind::Node => c.nodes.iter().map(|n| n.node.name.clone()).collect(),
        Kind::Budget => budgets.iter().map(|b| b.name.clone()).collect(),
        Kind::Event => Vec::new(),
    }
}

/// Parses and runs one line (not `sleep`/`wait`): kubectl's stdout, or its
/// error text.
pub fn run_line(world: &mut World, line: &str) -> Result<String, String> {
    let cmd = parse(line)?;
    run(world, &cmd)
}

/// The verbs, for completing the first word.
const VERBS: &[&str] = &[
    "get", "describe", "scale", "set", "patch", "rollout", "delete", "cordon", "uncordon", "drain",
    "taint", "apply", "wait", "sleep",
];

/// Tab completion: the line with its last word completed (as far as the
/// candidates agree), and the candidates. Object names come from the cluster.
pub fn complete(world: &mut World, line: &str) -> (String, Vec<String>) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let ends_in_space = line.ends_with(' ') || line.is_empty();
    let last = if ends_in_space {
        ""
    } else {
        words.last().copied().unwrap_or("")
    };
    let before: Vec<&str> = if ends_in_space {
        words.clone()
    } else {
        words[..words.len().saturating_sub(1)].to_vec()
    };
    let before: Vec<&str> = before.into_iter().filter(|w| *w != "kubectl").collect();
    let candidates: Vec<String> = if before.is_empty() {
        VERBS.iter().map(|v| v.to_string()).collect()
    } else if let Some((kind_s, partial)) = last.split_once('/') {
        let Some(kind) = Kind::parse(kind_s) else {
            return (line.to_string(), Vec::new());
        };
        names(world, kind)
            .into_iter()
            .filter(|n| n.starts_with(partial))
            .map(|n| format!("{kind_s}/{n}"))
            .collect()
    } else {
        let verb = before[0];
        let node_verb = matches!(verb, "cordon" | "uncordon" | "drain");
        let kind = if node_verb {
            Some(Kind::Node)
        } else {
            before.get(1).and_then(|k| Kind::parse(k))
        };
        let list: Vec<String> = match kind {
            Some(k) if before.len() >= 2 || node_verb => names(world, k),
            _ => [
                "pods",
                "statefulsets",
                "deployments",
                "pvc",
                "pv",
                "nodes",
                "events",
                "pdb",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        };
        list
    };
    let matching: Vec<String> = candidates
        .into_iter()
        .filter(|c| c.starts_with(last))
        .collect();
    let Some(first) = matching.first() else {
        return (line.to_string(), matching);
    };
    let common = matching.iter().fold(first.clone(), |acc, c| {
        acc.chars()
            .zip(c.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect()
    });
    let head = &line[..line.len() - last.len()];
    let mut completed = format!("{head}{common}");
    if matching.len() == 1 {
        completed.push(' ');
    }
    (completed, matching)
}

/// What `kubectl drain` prints while it runs, from the events logged since:
/// refused evictions, evicted pods gone, the node drained.
pub fn drain_progress(events: &[SimEvent], node: &str, evicted: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for e in events {
        let pod = e.object.strip_prefix("pod/");
        match (e.kind, pod) {
            (EventKind::EvictionBlocked, Some(p)) if e.node.as_deref() == Some(node) => {
                let msg = e
                    .reason
                    .split(" (kubectl drain")
                    .next()
                    .unwrap_or(&e.reason);
                let first = msg.split(". ").next().unwrap_or(msg);
                out.push(format!(
                    "error when evicting pods/\"{p}\" -n \"default\" (will retry after 5s): {}",
                    if first.ends_with('.') {
                        first.to_string()
                    } else {
                        format!("{first}.")
                    }
                ));
            }
            (EventKind::PodTerminating, Some(p))
                if e.reason.contains(&format!("kubectl drain {node}")) =>
            {
                evicted.push(p.to_string());
            }
            (EventKind::PodDeleted | EventKind::PodForceDeleted, Some(p))
                if evicted.iter().any(|x| x == p) =>
            {
                evicted.retain(|x| x != p);
                out.push(format!("pod/{p} evicted"));
            }
            (EventKind::NodeDrained, _) if e.object == format!("node/{node}") => {
                out.push(format!("node/{node} drained"));
            }
            _ => {}
        }
    }
    out
}
