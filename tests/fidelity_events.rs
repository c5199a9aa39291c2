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

/// (t in seconds, kind, k8s message) of a pod's image lines.
fn image_lines(r: &Run, pod: &str) -> Vec<(u64, EventKind, String)> {
    r.log()
        .events
        .iter()
        .filter(|e| e.object == pod)
        .filter(|e| {
            matches!(
                e.kind,
                ImagePulling | ImagePulled | ImagePullError | ImagePullFailed | ImagePullBackOff
            )
        })
        .map(|e| (e.t_ms / 1000, e.kind, record(e).3.to_string()))
        .collect()
}

#[test]
fn the_first_start_on_a_node_pulls_and_the_next_finds_the_image_present() {
    // One node: web-0 pulls nginx:1; web-1, later on the same node, finds it.
    let text = r#"(name: "t", seed: 3, cluster: (nodes: [(name: "node-a")]),
        workloads: [StatefulSet((name: "web", replicas: 2, template: (image: "nginx:1"), claims: [(name: "www")]))],
        steps: [(when: Ready(set: "web", count: 2), timeout: 120.0, note: "up")])"#;
    let r = run(text);
    assert_no_failures(&r);
    let web0 = image_lines(&r, "pod/web-0");
    let kinds: Vec<EventKind> = web0.iter().map(|l| l.1).collect();
    assert_eq!(kinds, [ImagePulling, ImagePulled]);
    assert_eq!(web0[0].2, "Pulling image \"nginx:1\"");
    assert_eq!(
        web0[1].2,
        "Successfully pulled image \"nginx:1\" in 0s (0s including waiting). Image size: 0 bytes."
    );
    let web1 = image_lines(&r, "pod/web-1");
    assert_eq!(
        web1.iter().map(|l| (l.1, l.2.as_str())).collect::<Vec<_>>(),
        [(
            ImagePulled,
            "Container image \"nginx:1\" already present on machine and can be accessed by the pod"
        )]
    );
    // The pull comes right before the container starts: no time added.
    let pulled = one(&r, ImagePulled, "pod/web-0").t_ms;
    let started = one(&r, PodStarted, "pod/web-0").t_ms;
    assert_eq!(started - pulled, 2_000, "start_seconds after the pull");
}

#[test]
fn a_broken_image_alternates_err_image_pull_and_image_pull_back_off_with_growing_retries() {
    let text = r#"(name: "t", seed: 3, cluster: (nodes: [(name: "node-a")], broken_images: ["nginx:typo"]),
        workloads: [StatefulSet((name: "web", replicas: 1, template: (image: "nginx:typo"), claims: [(name: "www")]))],
        steps: [(when: PodStatus(pod: "web-0", status: "ErrImagePull"), timeout: 60.0, note: "stuck"),
                (after: 0.5, expect: PodStatus(pod: "web-0", status: "ErrImagePull")),
                (after: 1.0, expect: PodStatus(pod: "web-0", status: "ImagePullBackOff")),
                (after: 10.0, expect: PodStatus(pod: "web-0", status: "ErrImagePull")),
                (after: 10.0, expect: PodStatus(pod: "web-0", status: "ImagePullBackOff")),
                (after: 300.0, note: "later")])"#;
    let r = run(text);
    assert_no_failures(&r);
    let lines = image_lines(&r, "pod/web-0");
    let t0 = lines[0].0;
    let pulls: Vec<u64> = lines
        .iter()
        .filter(|l| l.1 == ImagePulling)
        .map(|l| l.0 - t0)
        .collect();
    assert_eq!(
        &pulls[..6],
        [0, 11, 31, 71, 151, 311],
        "10 s, 20 s, 40 s … windows"
    );
    assert!(
        pulls.windows(2).skip(5).all(|w| w[1] - w[0] == 300),
        "then every 300 s: {pulls:?}"
    );
    // The stuck pod does not keep the finished run going: it ends about
    // 10 minutes after the last step, not at the 7-day cap.
    assert!(*pulls.last().unwrap() < 1_000, "{pulls:?}");
    let first: Vec<(EventKind, &str)> = lines[..5].iter().map(|l| (l.1, l.2.as_str())).collect();
    assert_eq!(first[0], (ImagePulling, "Pulling image \"nginx:typo\""));
    assert_eq!(first[1].0, ImagePullError);
    assert!(
        first[1]
            .1
            .starts_with("Failed to pull image \"nginx:typo\": rpc error: code = NotFound")
    );
    assert_eq!(first[2], (ImagePullFailed, "Error: ErrImagePull"));
    assert_eq!(
        first[3],
        (ImagePullBackOff, "Back-off pulling image \"nginx:typo\"")
    );
    assert_eq!(first[4], (ImagePullFailed, "Error: ImagePullBackOff"));
    assert_eq!(lines[3].0 - t0, 1, "the PLEG resync a second later");
    // The BackOff record is Normal; the Failed ones Warning.
    let back_off = one(&r, ImagePullBackOff, "pod/web-0");
    assert_eq!(record(back_off).0, K8sType::Normal);
    // One BackOff per window: each failed pull's window is announced once
    // (the last one perhaps not, if the run ended first).
    let announced = with_kind(&r, ImagePullBackOff, "pod/web-0").len();
    assert!(
        announced + 1 >= pulls.len() && announced <= pulls.len(),
        "{announced}"
    );
}

#[test]
fn a_latest_image_is_pulled_at_every_start() {
    let text = r#"(name: "t", seed: 3, cluster: (nodes: [(name: "node-a")]),
        workloads: [StatefulSet((name: "web", replicas: 2, template: (image: "nginx:latest"), claims: [(name: "www")]))],
        steps: [(when: Ready(set: "web", count: 2), timeout: 120.0, note: "up")])"#;
    let r = run(text);
    assert_no_failures(&r);
    for pod in ["pod/web-0", "pod/web-1"] {
        let kinds: Vec<EventKind> = image_lines(&r, pod).iter().map(|l| l.1).collect();
        assert_eq!(kinds, [ImagePulling, ImagePulled], "{pod}: Always pulls");
    }
}

#[test]
fn before_1_35_the_pulled_record_does_not_mention_access() {
    let text = r#"(name: "t", seed: 3, cluster: (kubernetes_version: "1.34", nodes: [(name: "node-a")]),
        workloads: [StatefulSet((name: "web", replicas: 2, template: (image: "nginx:1"), claims: [(name: "www")]))],
        steps: [(when: Ready(set: "web", count: 2), timeout: 120.0, note: "up")])"#;
    let r = run(text);
    assert_no_failures(&r);
    let web1 = image_lines(&r, "pod/web-1");
    assert_eq!(
        web1[0].2,
        "Container image \"nginx:1\" already present on machine"
    );
}
