//! Integration tests of the second fidelity pass (docs/semantics.md §4.1,
//! §5.5–§5.7, §10): the records Kubernetes writes beside our events, claims
//! under whenScaled=Delete, storage fencing against split brain, shared
//! storage, and the detach clock after DeleteNode. Each runs a scenario
//! headless and asserts on the event log.

mod common;
use common::*;
use statefulset_sim::headless::Run;
use statefulset_sim::sim::event::EventKind::{self, *};
use statefulset_sim::sim::event::SimEvent;
use statefulset_sim::sim::k8s_event::K8sType;

fn one<'a>(r: &'a Run, kind: EventKind, object: &str) -> &'a SimEvent {
    events(r, kind)
        .into_iter()
        .find(|e| e.object == object)
        .unwrap_or_else(|| panic!("no {kind:?} for {object}"))
}

fn with_kind<'a>(r: &'a Run, kind: EventKind, object: &str) -> Vec<&'a SimEvent> {
    events(r, kind)
        .into_iter()
        .filter(|e| e.object == object)
        .collect()
}

/// (type, reason, object, message) of an event's Kubernetes record.
fn record(e: &SimEvent) -> (K8sType, &str, &str, &str) {
    let k = e
        .k8s
        .as_ref()
        .unwrap_or_else(|| panic!("no k8s record on {e:?}"));
    (k.kind, &k.reason, &k.object, &k.message)
}

#[test]
fn events_kubernetes_records_carry_its_type_reason_object_and_message() {
    let r = run(&set_scenario(
        "replicas: 2",
        r#"(when: Ready(set: "web", count: 2), timeout: 120.0, do: Scale(set: "web", replicas: 1)),
           (after: 30.0, note: "done")"#,
    ));
    assert_no_failures(&r);
    let created = one(&r, PodCreated, "pod/web-0");
    assert_eq!(
        record(created),
        (
            K8sType::Normal,
            "SuccessfulCreate",
            "statefulset/web",
            "create Pod web-0 in StatefulSet web successful"
        )
    );
    let claim = one(&r, ClaimCreated, "pvc/www-web-0");
    assert_eq!(
        record(claim).3,
        "create Claim www-web-0 Pod web-0 in StatefulSet web success"
    );
    let scheduled = one(&r, PodScheduled, "pod/web-0");
    let node = scheduled.node.clone().expect("a node");
    assert_eq!(
        record(scheduled),
        (
            K8sType::Normal,
            "Scheduled",
            "pod/web-0",
            format!("Successfully assigned default/web-0 to {node}").as_str()
        )
    );
    let deleted = one(&r, PodTerminating, "pod/web-1");
    assert_eq!(
        record(deleted).1..=record(deleted).3,
        "SuccessfulDelete"..="delete Pod web-1 in StatefulSet web successful"
    );
    let killing = one(&r, ContainerStopping, "pod/web-1");
    assert_eq!(
        record(killing),
        (
            K8sType::Normal,
            "Killing",
            "pod/web-1",
            "Stopping container nginx"
        )
    );
    // Sim-only events carry none, and the JSON line says which is which.
    assert!(events(&r, SetBlocked).iter().all(|e| e.k8s.is_none()));
    let line = created.to_json_line();
    assert!(
        line.ends_with(r#""k8s":{"type":"Normal","reason":"SuccessfulCreate","object":"statefulset/web","message":"create Pod web-0 in StatefulSet web successful"}}"#),
        "{line}"
    );
}

#[test]
fn multi_attach_is_recorded_once_per_volume_and_node() {
    let text = set_scenario(
        "replicas: 3",
        r#"(when: Ready(set: "web", count: 3), do: FailNode(of: "web-1")),
           (when: PodPhase(pod: "web-1", phase: Terminating), timeout: 400.0, do: ForceDeletePod(pod: "web-1")),
           (when: Ready(set: "web", count: 3), timeout: 600.0, expect: NoInvariantBroken)"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let errs = with_kind(&r, VolumeMultiAttachError, "pod/web-1");
    assert_eq!(
        errs.len(),
        1,
        "one record for 6 minutes of waiting: {errs:?}"
    );
    assert!(
        errs[0].reason.contains("force-detach in 6m00s"),
        "{}",
        errs[0].reason
    );
    assert_eq!(
        record(errs[0]),
        (
            K8sType::Warning,
            "FailedAttachVolume",
            "pod/web-1",
            "Multi-Attach error for volume \"pv-www-web-1\" Volume is already exclusively attached to one node and can't be attached to another"
        )
    );
    let evicted = one(&r, PodEvicted, "pod/web-1");
    assert_eq!(record(evicted).3, "Marking for deletion Pod default/web-1");
    let not_ready = events(&r, NodeNotReady)[0];
    assert_eq!(
        record(not_ready).3,
        format!(
            "Node {} status is now: NodeNotReady",
            not_ready.node.as_deref().unwrap_or("")
        )
    );
}

#[test]
fn when_scaled_delete_with_a_quick_scale_up_gives_the_pod_a_new_empty_claim() {
    // web-2 takes 20 s to stop: the scale-up comes while it is Terminating.
    let text = set_scenario(
        r#"replicas: 3, template: (image: "nginx:1", stop_seconds: 20.0), retention: (when_deleted: Retain, when_scaled: Delete)"#,
        r#"(when: Ready(set: "web", count: 3), timeout: 120.0, do: Scale(set: "web", replicas: 2)),
           (after: 5.0, expect: PodPhase(pod: "web-2", phase: Terminating)),
           (after: 0.0, do: Scale(set: "web", replicas: 3)),
           (when: Ready(set: "web", count: 3), timeout: 120.0, note: "back to 3")"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let gone = one(&r, PodDeleted, "pod/web-2").t_ms;
    let collected = one(&r, ClaimDeleted, "pvc/www-web-2");
    assert_eq!(
        collected.t_ms, gone,
        "the garbage collector follows the owner pod"
    );
    let made = times_of(&r, ClaimCreated, "pvc/www-web-2");
    assert_eq!(made.len(), 2, "a new claim: {made:?}");
    assert!(made[1] >= gone);
    let recreated = times_of(&r, PodCreated, "pod/web-2");
    assert_eq!(recreated.len(), 2);
    assert!(recreated[1] >= made[1], "the pod waits for its new claim");
    let blocked = events(&r, SetBlocked);
    assert!(
        blocked
            .iter()
            .any(|e| e.reason.contains("still owned by the earlier pod")),
        "{blocked:?}"
    );
    // A new claim binds a new, empty volume: the old one was deleted with its data.
    let vols: Vec<String> = events(&r, VolumeProvisioned)
        .iter()
        .map(|e| e.object.clone())
        .filter(|o| o.starts_with("pv/pv-www-web-2"))
        .collect();
    assert_eq!(vols.len(), 2, "{vols:?}");
    assert_ne!(vols[0], vols[1]);
    assert!(time_of(&r, VolumeDeleted, &vols[0]).is_some());
}

#[test]
fn force_detach_fences_block_storage_so_the_volume_is_never_attached_to_two_nodes() {
    let text = set_scenario(
        "replicas: 3",
        r#"(when: Ready(set: "web", count: 3), do: PartitionNode(of: "web-1")),
           (after: 60.0, do: ForceDeletePod(pod: "web-1")),
           (after: 300.0, expect: NoInvariantBroken),
           (when: InvariantBroken, timeout: 120.0, note: "split brain"),
           (after: 60.0, do: RecoverNode(node: "node-c"))"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let fd = one(&r, PodForceDeleted, "pod/web-1").t_ms;
    let force = events(&r, VolumeDetached)
        .into_iter()
        .find(|e| e.detail.as_deref() == Some("force"))
        .expect("the 6-minute force-detach");
    assert_eq!(force.t_ms, fd + 360_000);
    assert!(force.reason.contains("fenced"), "{}", force.reason);
    // Two processes of one identity, but one disk attachment only.
    assert!(one(&r, InvariantBroken, "pod/web-1").t_ms > force.t_ms);
    assert!(with_kind(&r, InvariantBroken, "pv/pv-www-web-1").is_empty());
    let back = one(&r, NodeRecovered, "node/node-c").t_ms;
    let killed = one(&r, ProcessStopped, "pod/web-1");
    assert_eq!(killed.t_ms, back);
    assert_eq!(record(killed).1, "Killing");
}

#[test]
fn after_delete_node_the_detach_clock_starts_when_pod_gc_deletes_the_pod() {
    let text = set_scenario(
        "replicas: 3",
        r#"(when: Ready(set: "web", count: 3), do: FailNode(of: "web-1")),
           (when: PodPhase(pod: "web-1", phase: Terminating), timeout: 400.0, do: DeleteNode(of: "web-1")),
           (when: Ready(set: "web", count: 3), timeout: 600.0, expect: NoInvariantBroken)"#,
    );
    let r = run(&text);
    assert_no_failures(&r);
    let node_gone = events(&r, NodeDeleted)[0].t_ms;
    let gc = one(&r, PodForceDeleted, "pod/web-1").t_ms;
    assert!(gc >= node_gone + 40_000, "pod GC's quarantine");
    let force = events(&r, VolumeDetached)
        .into_iter()
        .find(|e| e.detail.as_deref() == Some("force"))
        .expect("a force-detach");
    assert_eq!(
        force.t_ms,
        gc + 360_000,
        "6 minutes from pod GC ({gc}), not from the node's deletion ({node_gone})"
    );
}
