//! The one set of input checks, shared by the scenario loader and by commands
//! at run time: limits, DNS labels, int-or-percent values, node references and
//! the shapes of pod and claim names. Pure functions; each returns the message
//! a user reads (the loader adds where, e.g. "step 3: ").

use crate::sim::model::{IntOrPercent, limits, valid_dns_label};

/// The DNS-1123 label rule, spelled out for messages.
const DNS_LABEL_RULE: &str = "lower-case letters, digits, '-', at most 63";

/// Longest workload name: pod and claim names add a suffix to it.
pub const MAX_WORKLOAD_NAME_LEN: usize = 50;

/// Largest `ordinals_start` a StatefulSet may ask for.
pub const MAX_ORDINALS_START: u32 = 1_000_000;

/// A node's declared capacity bounds: (cpu_millis, memory_mib).
pub const MAX_NODE_CPU_MILLIS: u32 = 1_000_000;
pub const MAX_NODE_MEMORY_MIB: u32 = 16_000_000;

/// `what` (e.g. "node name") must be a DNS label.
pub fn dns_label(what: &str, s: &str) -> Result<(), String> {
    if valid_dns_label(s) {
        Ok(())
    } else {
        Err(format!(
            "{what} {s:?} is not a DNS label ({DNS_LABEL_RULE})"
        ))
    }
}

/// A workload's name: a DNS label short enough for its pods' and claims' names.
pub fn workload_name(name: &str) -> Result<(), String> {
    if valid_dns_label(name) && name.len() <= MAX_WORKLOAD_NAME_LEN {
        Ok(())
    } else {
        Err(format!(
            "workload name {name:?} is not a DNS label of at most {MAX_WORKLOAD_NAME_LEN} characters"
        ))
    }
}

/// spec.replicas of one workload.
pub fn replicas(n: u32) -> Result<(), String> {
    if n <= limits::MAX_REPLICAS {
        Ok(())
    } else {
        Err(format!(
            "{n} replicas; at most {} are supported",
            limits::MAX_REPLICAS
        ))
    }
}

/// A claim's storage request in GiB (an expansion's new size).
pub fn claim_size(gib: u32) -> Result<(), String> {
    if (1..=limits::MAX_CLAIM_GIB).contains(&gib) {
        Ok(())
    } else {
        Err(format!(
            "a claim of {gib}Gi; sizes from 1Gi to {}Gi are supported",
            limits::MAX_CLAIM_GIB
        ))
    }
}

/// The number of nodes a cluster would have.
pub fn node_count(n: usize) -> Result<(), String> {
    if n <= limits::MAX_NODES {
        Ok(())
    } else {
        Err(format!(
            "{n} nodes; at most {} are supported",
            limits::MAX_NODES
        ))
    }
}

/// A node's capacity: neither zero nor absurd.
pub fn node_capacity(node: &str, cpu_millis: u32, memory_mib: u32) -> Result<(), String> {
    if (1..=MAX_NODE_CPU_MILLIS).contains(&cpu_millis)
        && (1..=MAX_NODE_MEMORY_MIB).contains(&memory_mib)
    {
        Ok(())
    } else {
        Err(format!(
            "node {node} has capacity out of range (cpu_millis 1..={MAX_NODE_CPU_MILLIS}, memory_mib 1..={MAX_NODE_MEMORY_MIB})"
        ))
    }
}

/// An int-or-percent field (`field` names it): a count, or "0%" to "100%".
pub fn int_or_percent(field: &str, v: &IntOrPercent) -> Result<(), String> {
    if v.is_valid() {
        Ok(())
    } else {
        Err(format!(
            "{field} {:?} is not a count or a percentage like \"50%\"",
            v.describe()
        ))
    }
}

/// A container image reference: not blank.
pub fn image(image: &str) -> Result<(), String> {
    if image.trim().is_empty() {
        Err("the image is empty".into())
    } else {
        Ok(())
    }
}

/// A duration or instant in seconds: finite, not negative, at most a week.
pub fn seconds(v: f64) -> bool {
    (0.0..=limits::MAX_SECONDS).contains(&v)
}

/// Rows written at once by a `Write` command.
pub fn write_rows(rows: u64) -> Result<(), String> {
    if rows <= limits::MAX_WRITE_ROWS {
        Ok(())
    } else {
        Err(format!("at most {} rows at once", limits::MAX_WRITE_ROWS))
    }
}

/// A continuous write rate, rows per second.
pub fn write_rate(per_second: f64) -> Result<(), String> {
    if per_second.is_finite() && (0.0..=limits::MAX_WRITE_RATE).contains(&per_second) {
        Ok(())
    } else {
        Err(format!(
            "the write rate must be between 0 and {}",
            limits::MAX_WRITE_RATE
        ))
    }
}

/// How many times a `CrashPod` crashes the container: 1 to MAX_CRASHES.
pub fn crash_times(times: u32) -> Result<(), String> {
    if (1..=limits::MAX_CRASHES).contains(&times) {
        Ok(())
    } else {
        Err(format!(
            "times must be between 1 and {}",
            limits::MAX_CRASHES
        ))
    }
}

/// How a node command names its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRef<'a> {
    /// `node: "NAME"`.
    Name(&'a str),
    /// `of: "POD"`: the node the pod was last scheduled on.
    Of(&'a str),
}

/// A node command's (`node`, `of`): exactly one of them. `command` names the
/// command for the message.
pub fn node_ref<'a>(
    command: &str,
    node: &'a Option<String>,
    of: &'a Option<String>,
) -> Result<NodeRef<'a>, String> {
    match (node, of) {
        (Some(n), None) => Ok(NodeRef::Name(n)),
        (None, Some(p)) => Ok(NodeRef::Of(p)),
        (Some(_), Some(_)) => Err("give `node` or `of`, not both".into()),
        (None, None) => Err(format!("{command} needs `node: \"NAME\"` or `of: \"POD\"`")),
    }
}

/// The ordinal of `pod` if it is named as a pod of StatefulSet `set`
/// (`<set>-<ordinal>`).
pub fn set_pod_ordinal(set: &str, pod: &str) -> Option<u32> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

/// Whether `pod` is named as a pod of Deployment `deployment` (`<deployment>-…`).
pub fn is_deployment_pod(deployment: &str, pod: &str) -> bool {
    pod.strip_prefix(deployment)
        .is_some_and(|rest| rest.starts_with('-'))
}

/// The ordinal of `claim` if it is named as claim template `template`'s claim
/// for a pod of `set` (`<template>-<set>-<ordinal>`).
pub fn set_claim_ordinal(template: &str, set: &str, claim: &str) -> Option<u32> {
    let rest = claim.strip_prefix(template)?.strip_prefix('-')?;
    set_pod_ordinal(set, rest)
}

/// A pod anti-affinity term: a topology key nodes carry, a weight of 1 to
/// 100 (as the API server's validation requires).
pub fn anti_affinity(t: &crate::sim::model::AntiAffinity) -> Result<(), String> {
    use crate::sim::model::{AntiAffinity, TOPOLOGY_HOSTNAME, TOPOLOGY_ZONE};
    let key = t.topology_key();
    if key != TOPOLOGY_HOSTNAME && key != TOPOLOGY_ZONE {
        return Err(format!(
            "topology_key {key:?}: expected {TOPOLOGY_HOSTNAME:?} or {TOPOLOGY_ZONE:?}"
        ));
    }
    if let AntiAffinity::Preferred { weight, .. } = t
        && !(1..=100).contains(weight)
    {
        return Err(format!("weight {weight}: expected 1 to 100"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_label_refuses_upper_case_and_edge_dashes() {
        assert!(dns_label("node name", "node-a").is_ok());
        for bad in ["Node", "-a", "a-", "", "a_b", &"a".repeat(64)] {
            let e = dns_label("node name", bad).unwrap_err();
            assert!(
                e.starts_with("node name") && e.contains("not a DNS label"),
                "{e}"
            );
        }
    }

    #[test]
    fn workload_name_is_at_most_fifty_characters() {
        assert!(workload_name(&"w".repeat(50)).is_ok());
        assert!(workload_name(&"w".repeat(51)).is_err());
    }

    #[test]
    fn replicas_and_nodes_are_limited() {
        assert!(replicas(limits::MAX_REPLICAS).is_ok());
        assert!(
            replicas(limits::MAX_REPLICAS + 1)
                .unwrap_err()
                .contains("at most")
        );
        assert!(node_count(limits::MAX_NODES).is_ok());
        assert!(node_count(limits::MAX_NODES + 1).is_err());
    }

    #[test]
    fn node_capacity_is_neither_zero_nor_absurd() {
        assert!(node_capacity("a", 4000, 8192).is_ok());
        assert!(node_capacity("a", 0, 8192).is_err());
        assert!(node_capacity("a", 4000, MAX_NODE_MEMORY_MIB + 1).is_err());
    }

    #[test]
    fn int_or_percent_is_a_count_or_at_most_a_hundred_percent() {
        assert!(int_or_percent("max_unavailable", &IntOrPercent::Int(7)).is_ok());
        assert!(int_or_percent("max_unavailable", &IntOrPercent::Percent("50%".into())).is_ok());
        for bad in ["150%", "half", "50"] {
            let e =
                int_or_percent("max_unavailable", &IntOrPercent::Percent(bad.into())).unwrap_err();
            assert!(e.contains("is not a count or a percentage"), "{e}");
        }
    }

    #[test]
    fn seconds_are_finite_non_negative_and_at_most_a_week() {
        assert!(seconds(0.0) && seconds(limits::MAX_SECONDS));
        assert!(!seconds(-1.0) && !seconds(f64::NAN) && !seconds(1e300));
    }

    #[test]
    fn write_limits_bound_rows_and_rate() {
        assert!(write_rows(limits::MAX_WRITE_ROWS).is_ok());
        assert!(write_rows(limits::MAX_WRITE_ROWS + 1).is_err());
        assert!(write_rate(0.0).is_ok() && write_rate(2.5).is_ok());
        assert!(write_rate(-1.0).is_err() && write_rate(f64::INFINITY).is_err());
    }

    #[test]
    fn node_ref_needs_exactly_one_of_node_and_of() {
        let (n, p) = (Some("a".to_string()), Some("web-0".to_string()));
        assert_eq!(node_ref("FailNode", &n, &None), Ok(NodeRef::Name("a")));
        assert_eq!(node_ref("FailNode", &None, &p), Ok(NodeRef::Of("web-0")));
        assert!(
            node_ref("FailNode", &n, &p)
                .unwrap_err()
                .contains("not both")
        );
        assert!(
            node_ref("FailNode", &None, &None)
                .unwrap_err()
                .starts_with("FailNode needs")
        );
    }

    #[test]
    fn pod_and_claim_names_follow_the_statefulset_pattern() {
        assert_eq!(set_pod_ordinal("web", "web-2"), Some(2));
        assert_eq!(set_pod_ordinal("web", "web-x"), None);
        assert_eq!(set_pod_ordinal("web", "webs-2"), None);
        assert!(is_deployment_pod("api", "api-7f9c-xkq2z"));
        assert!(!is_deployment_pod("api", "apis-1"));
        assert_eq!(set_claim_ordinal("www", "web", "www-web-0"), Some(0));
        assert_eq!(set_claim_ordinal("www", "web", "data-web-0"), None);
    }
}
