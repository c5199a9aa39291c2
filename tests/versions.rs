//! Kubernetes versions and feature gates (docs/semantics.md §3.9, §5.1, §9)
//! and zone disruption in the node lifecycle controller (§5.11): the same
//! scenario under different releases, run headless.

mod common;

use common::*;
use statefulset_sim::sim::event::EventKind::{self, *};

/// A scenario on three nodes in two zones, with `cluster_extra` added to
/// `cluster` (e.g. the version), one set "web" and steps.
fn scenario(cluster_extra: &str, set_fields: &str, steps: &str) -> String {
    format!(
        r#"(name: "t", seed: 3, cluster: ({NODES3}, broken_images: ["nginx:typo"], {cluster_extra}), workloads: [StatefulSet((name: "web", template: (image: "nginx:1"), claims: [(name: "www")], {set_fields}))], steps: [{steps}])"#
    )
}

/// The instants at which each pod was marked for deletion by the update.
fn update_deletions(r: &statefulset_sim::headless::Run) -> Vec<(u64, String)> {
    events(r, PodTerminating)
        .iter()
        .filter(|e| e.reason.starts_with("rolling update"))
        .map(|e| (e.t_ms, e.object.clone()))
        .collect()
}

/// The most pods terminating for the update at one instant.
fn widest_batch(r: &statefulset_sim::headless::Run) -> usize {
    let d = update_deletions(r);
    d.iter()
        .map(|(t, _)| d.iter().filter(|(u, _)| u == t).count())
        .max()
        .unwrap_or(0)
}

const ROLLOUT: &str = r#"(when: Ready(set: "web", count: 4), timeout: 120.0, do: SetImage(set: "web", image: "nginx:2")),
    (when: SetStatus(set: "web", updated: 4, ready: 4), timeout: 300.0, expect: EventSeen((kind: "RolloutComplete")))"#;
const PARALLEL_MU2: &str = "replicas: 4, pod_management: Parallel, update_strategy: RollingUpdate(partition: 0, max_unavailable: 2)";

#[test]
fn the_same_rollout_under_1_34_and_under_1_35_with_the_gate_on_gives_the_two_update_paths() {
    let legacy = run(&scenario(
        r#"kubernetes_version: "1.34""#,
        PARALLEL_MU2,
        ROLLOUT,
    ));
    assert_no_failures(&legacy);
    assert_eq!(widest_batch(&legacy), 1, "{:?}", update_deletions(&legacy));
    let dropped = events(&legacy, FieldDropped);
    assert_eq!(dropped.len(), 1);
    assert!(
        dropped[0].reason.contains("maxUnavailable (2)"),
        "{}",
        dropped[0].reason
    );

    let budget = run(&scenario(
        r#"kubernetes_version: "1.35", feature_gates: {"MaxUnavailableStatefulSet": true}"#,
        PARALLEL_MU2,
        ROLLOUT,
    ));
    assert_no_failures(&budget);
    assert_eq!(widest_batch(&budget), 2, "{:?}", update_deletions(&budget));
    assert!(events(&budget, FieldDropped).is_empty());
}

#[test]
fn legacy_update_path_goes_highest_ordinal_first_and_waits_for_each_updated_pod() {
    let r = run(&scenario(
        r#"kubernetes_version: "1.33""#,
        PARALLEL_MU2,
        ROLLOUT,
    ));
    assert_no_failures(&r);
    let order: Vec<String> = update_deletions(&r).into_iter().map(|(_, o)| o).collect();
    assert_eq!(order, ["pod/web-3", "pod/web-2", "pod/web-1", "pod/web-0"]);
    // Each deletion waits until the pod replaced before it is Ready.
    let d = update_deletions(&r);
    for w in d.windows(2) {
        let ready = time_of_after(&r, PodReady, &w[0].1, w[0].0);
        assert!(ready.is_some_and(|t| t <= w[1].0), "{w:?}");
    }
}

/// The first event of `kind` for `object` at or after `t`.
fn time_of_after(
    r: &statefulset_sim::headless::Run,
    kind: EventKind,
    object: &str,
    t: u64,
) -> Option<u64> {
    times_of(r, kind, object).into_iter().find(|&u| u >= t)
}

/// A Parallel set rolled out to a broken image, then reverted.
fn broken_then_reverted(cluster_extra: &str) -> statefulset_sim::headless::Run {
    run_until(
        &scenario(
            cluster_extra,
            "replicas: 3, pod_management: Parallel",
            r#"(when: Ready(set: "web", count: 3), timeout: 120.0, do: SetImage(set: "web", image: "nginx:typo")),
               (after: 30.0, do: SetImage(set: "web", image: "nginx:1"))"#,
        ),
        400,
    )
}

fn ready_count(r: &mut statefulset_sim::headless::Run) -> usize {
    let snap: serde_json::Value = serde_json::from_str(&r.snapshot_json()).unwrap();
    snap["pods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ready"] == true)
        .count()
}

#[test]
fn under_the_legacy_path_a_parallel_set_with_a_broken_image_heals_once_the_template_is_reverted() {
    let mut r = broken_then_reverted(r#"kubernetes_version: "1.34""#);
    let broken = events(&r, ImagePullFailed);
    assert!(!broken.is_empty(), "the broken image was tried");
    let redeleted: Vec<_> = update_deletions(&r)
        .into_iter()
        .filter(|(_, o)| o == "pod/web-2")
        .collect();
    assert_eq!(
        redeleted.len(),
        2,
        "web-2 replaced by the broken image, then back"
    );
    assert!(
        events(&r, PodTerminating)
            .iter()
            .any(|e| e.object == "pod/web-2" && e.reason.contains("deleted although"))
    );
    assert_eq!(ready_count(&mut r), 3);
}

#[test]
fn under_1_35_with_the_gate_on_a_broken_parallel_set_stays_stuck_after_the_revert_kubernetes_137409()
 {
    let mut r = broken_then_reverted(r#"kubernetes_version: "1.35.0""#);
    assert_eq!(ready_count(&mut r), 2);
    let blocked = events(&r, SetBlocked);
    assert!(
        blocked
            .iter()
            .any(|e| e.reason.contains("kubernetes#137409")),
        "{blocked:?}"
    );
    // 1.35.4 turned the gate off by default again: the legacy path heals it.
    let mut r = broken_then_reverted(r#"kubernetes_version: "1.35.4""#);
    assert_eq!(ready_count(&mut r), 3);
}

#[test]
fn from_1_37_the_budget_path_replaces_old_unavailable_pods_first_under_parallel() {
    let mut r = broken_then_reverted(r#"kubernetes_version: "1.37""#);
    assert_eq!(ready_count(&mut r), 3);
    assert!(
        events(&r, PodTerminating)
            .iter()
            .any(|e| e.object == "pod/web-2" && e.reason.contains("already"))
    );
}

/// A Parallel set with partition 1 whose web-0 is not Ready when the image
/// changes.
fn unready_below_partition(cluster_extra: &str) -> statefulset_sim::headless::Run {
    run(&scenario(
        cluster_extra,
        "replicas: 3, pod_management: Parallel, update_strategy: RollingUpdate(partition: 1)",
        r#"(when: Ready(set: "web", count: 3), timeout: 120.0, do: BreakReadiness(pod: "web-0")),
           (after: 5.0, do: SetImage(set: "web", image: "nginx:2")),
           (after: 120.0, note: "done")"#,
    ))
}

#[test]
fn under_the_legacy_path_one_unready_pod_below_the_partition_does_not_block_the_update() {
    let r = unready_below_partition(r#"kubernetes_version: "1.34""#);
    let order: Vec<String> = update_deletions(&r).into_iter().map(|(_, o)| o).collect();
    assert_eq!(order, ["pod/web-2", "pod/web-1"]);
    // With the budget, web-0 (unavailable) uses up maxUnavailable 1.
    let r = unready_below_partition(r#"kubernetes_version: "1.37""#);
    assert!(update_deletions(&r).is_empty());
    assert!(
        events(&r, SetBlocked)
            .iter()
            .any(|e| e.reason.contains("web-0 is"))
    );
}

#[test]
fn set_max_unavailable_is_dropped_while_the_gate_is_off() {
    let r = run(&scenario(
        r#"kubernetes_version: "1.37", feature_gates: {"MaxUnavailableStatefulSet": false}"#,
        "replicas: 2",
        r#"(at: 1.0, do: SetMaxUnavailable(set: "web", value: 2))"#,
    ));
    let dropped = events(&r, FieldDropped);
    assert_eq!(dropped.len(), 1);
    assert!(
        dropped[0].reason.contains("set by the scenario"),
        "{}",
        dropped[0].reason
    );
    assert!(
        !events(&r, SetUpdated)
            .iter()
            .any(|e| e.reason.contains("maxUnavailable"))
    );
}

/// When node-a's NotReady came, seconds after it failed.
fn not_ready_after_failure(cluster_extra: &str) -> u64 {
    let r = run_until(
        &scenario(
            cluster_extra,
            "replicas: 1",
            r#"(at: 33.0, do: FailNode(node: "node-a"))"#,
        ),
        200,
    );
    let failed = time_of(&r, NodeFailed, "node/node-a").unwrap();
    time_of(&r, NodeNotReady, "node/node-a").unwrap() - failed
}

#[test]
fn node_monitor_grace_period_is_40s_up_to_1_31_and_50s_from_1_32() {
    // The last heartbeat was at 30 s: Unknown at the first 5 s tick after
    // heartbeat + grace.
    assert_eq!(
        not_ready_after_failure(r#"kubernetes_version: "1.31""#),
        42_000
    );
    assert_eq!(
        not_ready_after_failure(r#"kubernetes_version: "1.32""#),
        52_000
    );
    assert_eq!(not_ready_after_failure(""), 52_000);
}

/// Five nodes in zone-1 and one in zone-2, one pod of "web" on each.
fn six_nodes(steps: &str, until: u64) -> statefulset_sim::headless::Run {
    let nodes = (1..=5)
        .map(|i| format!(r#"(name: "n{i}", zone: "zone-1")"#))
        .chain([r#"(name: "m1", zone: "zone-2")"#.to_string()])
        .collect::<Vec<_>>()
        .join(", ");
    run_until(
        &format!(
            r#"(name: "t", seed: 3, cluster: (nodes: [{nodes}]), workloads: [StatefulSet((name: "web", replicas: 6, pod_management: Parallel, template: (image: "nginx:1"), claims: [(name: "www")]))], steps: [{steps}])"#
        ),
        until,
    )
}

#[test]
fn full_disruption_evicts_nothing_for_10_minutes() {
    let r = run_until(
        &scenario(
            "",
            "replicas: 3",
            r#"(when: Ready(set: "web", count: 3), timeout: 120.0, do: FailNode(node: "node-a")),
               (after: 0.0, do: FailNode(node: "node-b")),
               (after: 0.0, do: FailNode(node: "node-c"))"#,
        ),
        900,
    );
    assert_eq!(events(&r, NodeNotReady).len(), 3);
    let started = events(&r, FullDisruptionStarted);
    assert_eq!(started.len(), 1);
    assert!(started[0].reason.starts_with("all Nodes are not-Ready"));
    assert!(
        events(&r, PodEvicted).is_empty(),
        "{:?}",
        events(&r, PodEvicted)
    );
    assert!(
        !events(&r, NodeTainted)
            .iter()
            .any(|e| e.reason.contains("NoExecute")),
    );
    assert!(r.now_ms() >= started[0].t_ms + 600_000);
}

#[test]
fn full_disruption_removes_the_no_execute_taints_already_added() {
    let r = run_until(
        &scenario(
            "",
            "replicas: 3",
            r#"(when: Ready(set: "web", count: 3), timeout: 120.0, do: FailNode(node: "node-a")),
               (after: 100.0, do: FailNode(node: "node-b")),
               (after: 0.0, do: FailNode(node: "node-c"))"#,
        ),
        800,
    );
    let untainted = events(&r, NodeUntainted);
    assert!(
        untainted
            .iter()
            .any(|e| e.object == "node/node-a" && e.reason.contains("all Nodes are not-Ready")),
        "{untainted:?}"
    );
    assert!(events(&r, PodEvicted).is_empty());
}

#[test]
fn leaving_full_disruption_resumes_tainting_10s_later() {
    let r = run_until(
        &scenario(
            "",
            "replicas: 3",
            r#"(when: Ready(set: "web", count: 3), timeout: 120.0, do: FailNode(node: "node-a")),
               (after: 0.0, do: FailNode(node: "node-b")),
               (after: 0.0, do: FailNode(node: "node-c")),
               (after: 200.0, do: RecoverNode(node: "node-c"))"#,
        ),
        900,
    );
    let ended = events(&r, FullDisruptionEnded);
    assert_eq!(ended.len(), 1);
    let t = ended[0].t_ms;
    let no_exec: Vec<(u64, String)> = events(&r, NodeTainted)
        .iter()
        .filter(|e| e.reason.contains("NoExecute"))
        .map(|e| (e.t_ms, e.object.clone()))
        .collect();
    // zone-1 (node-a, node-b): one taint every 10 s, the first 10 s after.
    assert_eq!(
        no_exec,
        [
            (t + 10_000, "node/node-a".to_string()),
            (t + 20_000, "node/node-b".to_string())
        ]
    );
    assert!(!events(&r, PodEvicted).is_empty());
}

#[test]
fn normal_tainting_is_rate_limited_to_one_node_every_10s_per_zone() {
    let r = six_nodes(
        r#"(when: Ready(set: "web", count: 6), timeout: 120.0, do: FailNode(node: "n1")),
           (after: 0.0, do: FailNode(node: "n2")),
           (after: 0.0, do: FailNode(node: "m1"))"#,
        300,
    );
    let no_exec: Vec<(u64, String)> = events(&r, NodeTainted)
        .iter()
        .filter(|e| e.reason.contains("NoExecute"))
        .map(|e| (e.t_ms, e.object.clone()))
        .collect();
    assert_eq!(no_exec.len(), 3, "{no_exec:?}");
    let t0 = no_exec[0].0;
    // n1 and m1 (different zones) at once, n2 10 s later.
    assert!(no_exec.contains(&(t0, "node/n1".into())));
    assert!(no_exec.contains(&(t0, "node/m1".into())));
    assert!(no_exec.contains(&(t0 + 10_000, "node/n2".into())));
}

#[test]
fn a_partially_disrupted_zone_of_up_to_50_nodes_stops_tainting() {
    let r = six_nodes(
        r#"(when: Ready(set: "web", count: 6), timeout: 120.0, do: FailNode(node: "n1")),
           (after: 0.0, do: FailNode(node: "n2")),
           (after: 0.0, do: FailNode(node: "n3"))"#,
        900,
    );
    let changed = events(&r, ZoneStateChanged);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].object, "zone/zone-1");
    assert!(changed[0].reason.contains("PartialDisruption"));
    assert!(changed[0].reason.contains("stops"));
    assert!(
        !events(&r, NodeTainted)
            .iter()
            .any(|e| e.reason.contains("NoExecute"))
    );
    assert!(events(&r, PodEvicted).is_empty());
}
