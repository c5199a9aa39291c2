//! Integration tests of node failure (docs/semantics.md §5): node lifecycle timing,
//! taint-based eviction, the four ways an identity is released, volume
//! force-detach, topology pinning, and the split brain a force delete on a
//! partitioned node causes. Each runs a scenario headless and asserts on the
//! event log.

mod common;
use common::*;
use statefulset_sim::headless::Run;
use statefulset_sim::sim::event::EventKind::{self, *};
use statefulset_sim::sim::event::SimEvent;

/// The node named in the first event of this kind.
fn node_in(r: &Run, kind: EventKind) -> String {
    events(r, kind)
        .first()
        .and_then(|e| e.node.clone())
        .unwrap_or_else(|| panic!("no {kind:?} event"))
}

fn first(r: &Run, kind: EventKind, object: &str) -> u64 {
    time_of(r, kind, object).unwrap_or_else(|| panic!("no {kind:?} for {object}"))
}

fn with_kind<'a>(r: &'a Run, kind: EventKind, object: &str) -> Vec<&'a SimEvent> {
    events(r, kind)
        .into_iter()
        .filter(|e| e.object == object)
        .collect()
}

/// web (3 replicas, claim www) on NODES3, web-1's node fails once all are Ready,
/// then `steps`.
fn fail_web1(how: &str, steps: &str) -> String {
    set_scenario(
        "replicas: 3",
        &format!(r#"(when: Ready(set: "web", count: 3), do: {how}(of: "web-1")), {steps}"#),
    )
}

#[test]
fn node_is_marked_not_ready_about_50s_after_it_stops_heartbeating() {
    let r = run_until(&fail_web1("FailNode", ""), 200);
    let node = node_in(&r, NodeFailed);
    let failed = first(&r, NodeFailed, &format!("node/{node}"));
    let not_ready = first(&r, NodeNotReady, &format!("node/{node}"));
    // Last heartbeat ≤ 10 s before the failure, grace 50 s, monitor every 5 s.
    let d = not_ready - failed;
    assert!(
        (40_000..=55_000).contains(&d),
        "NotReady {d} ms after the failure"
    );
    assert_eq!(not_ready % 5_000, 0, "seen at a node-monitor-period tick");
    let taints: Vec<&str> = events(&r, NodeTainted)
        .iter()
        .filter(|e| e.t_ms == not_ready)
        .map(|e| e.reason.as_str())
        .collect();
    assert!(
        taints
            .iter()
            .any(|t| t.starts_with("node.kubernetes.io/unreachable:NoSchedule")),
        "{taints:?}"
    );
    assert!(
        taints
            .iter()
            .any(|t| t.starts_with("node.kubernetes.io/unreachable:NoExecute")),
        "{taints:?}"
    );
    // Its pods leave DNS at that moment, the others do not.
    assert_eq!(time_of(&r, PodNotReady, "pod/web-1"), Some(not_ready));
    assert!(time_of(&r, PodNotReady, "pod/web-0").is_none());
    // No eviction yet within the toleration.
    assert!(events(&r, PodEvicted).is_empty());
}

#[test]
fn pods_on_an_unreachable_node_are_evicted_after_the_300s_toleration() {
    let r = run_until(&fail_web1("FailNode", ""), 600);
    let node = node_in(&r, NodeFailed);
    let failed = first(&r, NodeFailed, &format!("node/{node}"));
    let not_ready = first(&r, NodeNotReady, &format!("node/{node}"));
    let evicted = first(&r, PodEvicted, "pod/web-1");
    assert_eq!(
        evicted - not_ready,
        300_000,
        "tolerationSeconds 300 counts from the taint"
    );
    assert!(
        (340_000..=355_000).contains(&(evicted - failed)),
        "evicted {} s after the failure",
        (evicted - failed) / 1000
    );
    assert_eq!(
        first(&r, PodTerminating, "pod/web-1"),
        evicted,
        "graceful eviction sets the deletionTimestamp"
    );
    assert!(
        with_kind(&r, PodTerminating, "pod/web-1")[0]
            .reason
            .contains("cannot confirm")
    );
    // Only pods of that node.
    assert_eq!(objects(&r, PodEvicted), ["pod/web-1"]);
}

#[test]
fn statefulset_pod_on_a_dead_node_is_not_replaced_while_unreachable_for_20_minutes() {
    let text = fail_web1(
        "FailNode",
        r#"(after: 1200.0, expect: PodPhase(pod: "web-1", phase: Terminating)),
           (after: 0.0, expect: SetStatus(set: "web", ready: 2)),
           (after: 0.0, expect: NoInvariantBroken)"#,
    );
    let r = run_until(&text, 1300);
    assert_no_failures(&r);
    let node = node_in(&r, NodeFailed);
    assert_eq!(
        times_of(&r, PodCreated, "pod/web-1").len(),
        1,
        "no second web-1 while the first exists"
    );
    assert!(events(&r, PodDeleted).is_empty() && events(&r, PodForceDeleted).is_empty());
    let blocked = events(&r, SetBlocked);
    let why = blocked
        .iter()
        .find(|e| e.reason.contains("web-1 is Terminating"))
        .expect("a SetBlocked for web-1");
    assert!(
        why.reason.contains(&format!(
            "{node} is unreachable; the controller cannot tell a crash from a partition"
        )),
        "{}",
        why.reason
    );
}

#[test]
fn recovering_the_node_lets_its_kubelet_confirm_the_deletion() {
    let text = fail_web1(
        "FailNode",
        r#"(when: PodPhase(pod: "web-1", phase: Terminating), timeout: 400.0, do: RecoverNode(of: "web-1")),
           (when: Ready(set: "web", count: 3), timeout: 60.0, expect: NoInvariantBroken)"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let node = node_in(&r, NodeFailed);
    let recovered = first(&r, NodeRecovered, &format!("node/{node}"));
    let deleted = with_kind(&r, PodDeleted, "pod/web-1");
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].t_ms, recovered,
        "confirmed as soon as the kubelet reports in"
    );
    assert!(
        deleted[0].reason.contains("kubelet"),
        "{}",
        deleted[0].reason
    );
    assert!(events(&r, PodForceDeleted).is_empty());
    assert_eq!(times_of(&r, PodCreated, "pod/web-1")[1], recovered);
    assert!(events(&r, NodeReady).iter().any(|e| e.t_ms == recovered));
}

#[test]
fn deleting_the_node_lets_pod_gc_force_delete_after_the_40s_quarantine() {
    let text = fail_web1(
        "FailNode",
        r#"(when: PodPhase(pod: "web-1", phase: Terminating), timeout: 400.0, do: DeleteNode(of: "web-1")),
           (when: Ready(set: "web", count: 3), timeout: 600.0, expect: NoInvariantBroken)"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let node = node_in(&r, NodeFailed);
    let deleted = first(&r, NodeDeleted, &format!("node/{node}"));
    let gc = with_kind(&r, PodForceDeleted, "pod/web-1");
    assert_eq!(gc.len(), 1);
    assert!(gc[0].reason.starts_with("pod GC"), "{}", gc[0].reason);
    // First seen at the next 20 s GC tick, deleted 40 s later.
    let first_tick = (deleted / 20_000 + 1) * 20_000;
    assert_eq!(gc[0].t_ms, first_tick + 40_000, "node deleted at {deleted}");
    let blocked = events(&r, SetBlocked);
    assert!(
        blocked
            .iter()
            .any(|e| e.t_ms == deleted && e.reason.contains(&format!("node {node} was deleted"))),
        "{blocked:?}"
    );
    assert_eq!(
        times_of(&r, PodCreated, "pod/web-1")[1],
        gc[0].t_ms,
        "the name is released and reused at once"
    );
}

#[test]
fn force_deleting_the_pod_releases_the_identity_at_once() {
    let text = fail_web1(
        "FailNode",
        r#"(when: PodPhase(pod: "web-1", phase: Terminating), timeout: 400.0, do: ForceDeletePod(pod: "web-1")),
           (when: Ready(set: "web", count: 3), timeout: 600.0, expect: NoInvariantBroken)"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let fd = first(&r, PodForceDeleted, "pod/web-1");
    assert_eq!(times_of(&r, PodCreated, "pod/web-1")[1], fd);
    assert!(
        events(&r, InvariantBroken).is_empty(),
        "the node is dead: only one process of web-1 exists"
    );
}

#[test]
fn volume_is_force_detached_6_minutes_after_the_force_delete_with_multi_attach_errors_meanwhile() {
    let text = fail_web1(
        "FailNode",
        r#"(when: PodPhase(pod: "web-1", phase: Terminating), timeout: 400.0, do: ForceDeletePod(pod: "web-1")),
           (after: 300.0, expect: PodPhase(pod: "web-1", phase: ContainerCreating)),
           (when: Ready(set: "web", count: 3), timeout: 120.0, expect: NoInvariantBroken)"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let old = node_in(&r, NodeFailed);
    let fd = first(&r, PodForceDeleted, "pod/web-1");
    let errs = with_kind(&r, VolumeMultiAttachError, "pod/web-1");
    assert_eq!(errs[0].t_ms, fd);
    assert!(
        errs[0].reason.contains(&format!("still attached to {old}")),
        "{}",
        errs[0].reason
    );
    assert!(
        errs[0].reason.contains("force-detach in 6m00s"),
        "{}",
        errs[0].reason
    );
    assert_eq!(
        errs.len(),
        1,
        "recorded once per volume and node, as upstream does"
    );
    let detach = events(&r, VolumeDetached)
        .into_iter()
        .find(|e| {
            e.volume.as_deref() == Some("pv-www-web-1") && e.detail.as_deref() == Some("force")
        })
        .expect("a force-detach");
    assert_eq!(detach.t_ms, fd + 360_000, "maxWaitForUnmountDuration");
    assert_eq!(detach.node.as_deref(), Some(old.as_str()));
    assert!(errs.iter().all(|e| e.t_ms < detach.t_ms));
    let attach = events(&r, VolumeAttached)
        .into_iter()
        .rfind(|e| e.volume.as_deref() == Some("pv-www-web-1"))
        .expect("reattached");
    assert!(attach.t_ms > detach.t_ms && attach.t_ms <= detach.t_ms + 5_000);
    assert_ne!(attach.node.as_deref(), Some(old.as_str()));
    let new_node = with_kind(&r, PodScheduled, "pod/web-1")
        .last()
        .and_then(|e| e.node.clone());
    assert_eq!(attach.node, new_node, "the volume follows the pod");
}

#[test]
fn out_of_service_taint_on_a_not_ready_node_force_deletes_and_detaches_at_once() {
    let text = fail_web1(
        "FailNode",
        r#"(when: PodReady(pod: "web-1", ready: false), timeout: 120.0, do: TaintOutOfService(of: "web-1")),
           (when: Ready(set: "web", count: 3), timeout: 60.0, expect: NoInvariantBroken)"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let node = node_in(&r, NodeFailed);
    let tainted = events(&r, NodeTainted)
        .into_iter()
        .find(|e| e.reason.starts_with("node.kubernetes.io/out-of-service"))
        .expect("the taint")
        .t_ms;
    assert_eq!(
        first(&r, PodEvicted, "pod/web-1"),
        tainted,
        "no pod tolerates out-of-service"
    );
    let fd = with_kind(&r, PodForceDeleted, "pod/web-1");
    assert_eq!(fd.len(), 1);
    assert!(fd[0].t_ms - tainted <= 20_000, "pod GC runs every 20 s");
    assert!(fd[0].reason.contains("out-of-service"), "{}", fd[0].reason);
    let detach = events(&r, VolumeDetached)
        .into_iter()
        .find(|e| {
            e.volume.as_deref() == Some("pv-www-web-1") && e.node.as_deref() == Some(node.as_str())
        })
        .expect("detached from the dead node");
    // Detach starts at once; the detach itself takes DETACH_MS (2 s).
    assert!(
        detach.t_ms - fd[0].t_ms <= 2_000,
        "no 6-minute wait: {} vs {}",
        detach.t_ms,
        fd[0].t_ms
    );
    assert!(
        detach.reason.contains("out-of-service"),
        "{}",
        detach.reason
    );
    assert!(
        events(&r, VolumeMultiAttachError).is_empty(),
        "nothing waits on the old attachment"
    );
    let ready = *times_of(&r, PodReady, "pod/web-1").last().unwrap();
    assert!(
        ready - tainted < 40_000,
        "web-1 is back {} s after the taint",
        (ready - tainted) / 1000
    );
}

#[test]
fn local_volume_pins_the_pod_to_its_node_until_the_node_returns() {
    let text = format!(
        r#"(name: "t", seed: 3, cluster: ({NODES3}, storage_classes: [(name: "local", kind: Local)]),
            workloads: [StatefulSet((name: "web", replicas: 3, template: (image: "nginx:1"), claims: [(name: "www")]))],
            steps: [
              (when: Ready(set: "web", count: 3), do: FailNode(of: "web-1")),
              (when: PodPhase(pod: "web-1", phase: Terminating), timeout: 400.0, do: ForceDeletePod(pod: "web-1")),
              (after: 600.0, expect: PodPhase(pod: "web-1", phase: Pending)),
              (after: 0.0, do: RecoverNode(of: "web-1")),
              (when: Ready(set: "web", count: 3), timeout: 60.0, expect: NoInvariantBroken),
            ])"#
    );
    let r = run(&text);
    assert_no_failures(&r);
    let node = node_in(&r, NodeFailed);
    let un = with_kind(&r, PodUnschedulable, "pod/web-1");
    assert!(!un.is_empty());
    assert!(
        un[0].reason.contains("volume node affinity conflict"),
        "{}",
        un[0].reason
    );
    assert!(
        un[0]
            .reason
            .contains(&format!("its local volume can only be used on {node}")),
        "{}",
        un[0].reason
    );
    let scheduled = with_kind(&r, PodScheduled, "pod/web-1");
    assert_eq!(scheduled.len(), 2);
    assert_eq!(
        scheduled[1].node.as_deref(),
        Some(node.as_str()),
        "back on its node"
    );
    assert_eq!(
        scheduled[1].t_ms,
        first(&r, NodeRecovered, &format!("node/{node}"))
    );
}

/// §5.7a: a local disk is in its node; its plugin has no attacher, so the
/// attach/detach controller skips it. No attach, no detach, no Multi-Attach
/// error and no force-detach countdown, even after a force delete on a dead
/// node; the pod mounts it directly once it is on that node.
#[test]
fn local_volumes_are_not_attached_or_detached() {
    let text = format!(
        r#"(name: "t", seed: 3, cluster: ({NODES3}, storage_classes: [(name: "local", kind: Local)]),
            workloads: [StatefulSet((name: "web", replicas: 3, template: (image: "nginx:1"), claims: [(name: "www")]))],
            steps: [
              (when: Ready(set: "web", count: 3), do: FailNode(of: "web-1")),
              (when: PodReady(pod: "web-1", ready: false), timeout: 120.0, do: ForceDeletePod(pod: "web-1")),
              (after: 420.0, expect: PodPhase(pod: "web-1", phase: Pending)),
              (after: 0.0, do: RecoverNode(of: "web-1")),
              (when: Ready(set: "web", count: 3), timeout: 60.0, expect: NoInvariantBroken),
            ])"#
    );
    let r = run(&text);
    assert_no_failures(&r);
    for kind in [VolumeAttached, VolumeDetached, VolumeMultiAttachError] {
        assert!(
            events(&r, kind).is_empty(),
            "a local volume is never attached or detached, but the log has {kind:?}: {:?}",
            events(&r, kind).first().map(|e| &e.reason)
        );
    }
    // Mounted directly: web-1 is Ready again within seconds of its node's return.
    let back = first(
        &r,
        NodeRecovered,
        &format!("node/{}", node_in(&r, NodeFailed)),
    );
    let ready = times_of(&r, PodReady, "pod/web-1");
    let last = *ready.last().expect("web-1 is Ready again");
    assert!(
        last >= back && last - back < 30_000,
        "Ready {}s after the node returned",
        (last - back) / 1000
    );
}

#[test]
fn zonal_volume_pins_the_pod_to_its_zone() {
    let text = r#"(name: "t", seed: 3,
        cluster: (nodes: [(name: "node-a", zone: "zone-1"), (name: "node-b", zone: "zone-1"), (name: "node-c", zone: "zone-2"), (name: "node-d", zone: "zone-2")],
                  storage_classes: [(name: "zonal", kind: Zonal)]),
        workloads: [StatefulSet((name: "web", replicas: 3, template: (image: "nginx:1"), claims: [(name: "www")]))],
        steps: [
          (when: Ready(set: "web", count: 3), do: FailNode(of: "web-1")),
          (when: PodPhase(pod: "web-1", phase: Terminating), timeout: 400.0, do: ForceDeletePod(pod: "web-1")),
          (when: Ready(set: "web", count: 3), timeout: 600.0, expect: NoInvariantBroken),
        ])"#;
    let r = run(text);
    assert_no_failures(&r);
    let zone = |n: &str| {
        if n == "node-a" || n == "node-b" {
            "zone-1"
        } else {
            "zone-2"
        }
    };
    let old = node_in(&r, NodeFailed);
    let scheduled = with_kind(&r, PodScheduled, "pod/web-1");
    let new = scheduled.last().and_then(|e| e.node.clone()).unwrap();
    assert_ne!(new, old);
    assert_eq!(
        zone(&new),
        zone(&old),
        "the zonal disk can only be used in {}",
        zone(&old)
    );
    assert!(
        scheduled
            .last()
            .unwrap()
            .reason
            .contains("its volume can only be used there")
    );
}

#[test]
fn a_partition_shorter_than_the_grace_period_goes_unnoticed() {
    let r = run(&fail_web1(
        "PartitionNode",
        r#"(after: 30.0, do: RecoverNode(of: "web-1"))"#,
    ));
    assert!(events(&r, NodeNotReady).is_empty());
    assert!(events(&r, PodNotReady).is_empty());
}

#[test]
fn a_partition_shorter_than_the_toleration_heals_without_eviction() {
    let text = fail_web1(
        "PartitionNode",
        r#"(after: 200.0, do: RecoverNode(of: "web-1")),
           (when: Ready(set: "web", count: 3), timeout: 30.0, expect: NoInvariantBroken)"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let node = node_in(&r, NodePartitioned);
    assert!(time_of(&r, NodeNotReady, &format!("node/{node}")).is_some());
    assert!(events(&r, PodEvicted).is_empty());
    assert!(events(&r, PodTerminating).is_empty());
    assert_eq!(
        times_of(&r, PodCreated, "pod/web-1").len(),
        1,
        "the same pod object throughout"
    );
    assert!(
        events(&r, ProcessStopped).is_empty(),
        "its container never stopped"
    );
    let back = first(&r, NodeRecovered, &format!("node/{node}"));
    assert_eq!(
        *times_of(&r, PodReady, "pod/web-1").last().unwrap(),
        back,
        "Ready again when the kubelet reports"
    );
}

#[test]
fn deployment_pod_is_replaced_at_once_under_a_new_name_when_evicted() {
    let text = format!(
        r#"(name: "t", seed: 3, cluster: ({NODES3}),
            workloads: [StatefulSet((name: "web", replicas: 3, template: (image: "nginx:1"), claims: [(name: "www")])),
                        Deployment((name: "api", replicas: 3, template: (image: "api:1")))],
            steps: [(when: Ready(set: "web", count: 3), do: FailNode(of: "web-1")),
                    (after: 1200.0, expect: PodPhase(pod: "web-1", phase: Terminating))])"#
    );
    let r = run_until(&text, 1500);
    assert_no_failures(&r);
    let node = node_in(&r, NodeFailed);
    let evicted: Vec<&SimEvent> = events(&r, PodEvicted);
    let api_evicted: Vec<&&SimEvent> = evicted
        .iter()
        .filter(|e| e.object.starts_with("pod/api-"))
        .collect();
    assert_eq!(api_evicted.len(), 1, "one api pod was on {node}");
    let t = api_evicted[0].t_ms;
    let created_then: Vec<String> = events(&r, PodCreated)
        .iter()
        .filter(|e| e.t_ms == t && e.object.starts_with("pod/api-"))
        .map(|e| e.object.clone())
        .collect();
    assert_eq!(created_then.len(), 1, "replaced in the same instant");
    assert_ne!(
        created_then[0], api_evicted[0].object,
        "under a new random name"
    );
    let before: Vec<String> = events(&r, PodCreated)
        .iter()
        .filter(|e| e.t_ms < t)
        .map(|e| e.object.clone())
        .collect();
    assert!(!before.contains(&created_then[0]));
    // The StatefulSet pod, evicted at the same moment, is not replaced.
    assert_eq!(first(&r, PodEvicted, "pod/web-1"), t);
    assert_eq!(times_of(&r, PodCreated, "pod/web-1").len(), 1);
}

#[test]
fn force_deleting_a_pod_on_a_partitioned_node_is_reported_as_split_brain() {
    // No volume: the second web-1 starts at once while the first keeps running.
    let text = format!(
        r#"(name: "t", seed: 3, cluster: ({NODES3}),
            workloads: [StatefulSet((name: "web", replicas: 3, template: (image: "nginx:1")))],
            steps: [(when: Ready(set: "web", count: 3), do: PartitionNode(of: "web-1")),
                    (after: 60.0, do: ForceDeletePod(pod: "web-1")),
                    (when: InvariantBroken, timeout: 30.0, note: "split brain")])"#
    );
    let r = run(&text);
    assert_no_failures(&r);
    let fd = first(&r, PodForceDeleted, "pod/web-1");
    let broken = with_kind(&r, InvariantBroken, "pod/web-1");
    assert_eq!(broken.len(), 1);
    assert!(
        broken[0].t_ms - fd <= 10_000,
        "as soon as the second container starts"
    );
    assert!(
        broken[0].reason.contains("split brain"),
        "{}",
        broken[0].reason
    );
    // Both processes exist: the old one is killed only when the partition heals.
    assert!(events(&r, ProcessStopped).is_empty());
}
