//! Integration tests of the StatefulSet controller: each runs a scenario
//! headless and asserts on the event log and the final state.

mod common;
use common::*;
use statefulset_sim::sim::event::EventKind::*;

#[test]
fn ordered_ready_scale_up_creates_each_pod_after_the_previous_is_ready() {
    let r = run(&set_scenario("replicas: 3", ""));
    assert_eq!(
        objects(&r, PodCreated),
        ["pod/web-0", "pod/web-1", "pod/web-2"]
    );
    for i in 0..2 {
        let ready = time_of(&r, PodReady, &format!("pod/web-{i}")).unwrap();
        let next = time_of(&r, PodCreated, &format!("pod/web-{}", i + 1)).unwrap();
        assert!(
            next >= ready,
            "web-{} created at {next} before web-{i} was Ready at {ready}",
            i + 1
        );
    }
    // Each claim is created before its pod.
    for i in 0..3 {
        let c = time_of(&r, ClaimCreated, &format!("pvc/www-web-{i}")).unwrap();
        let p = time_of(&r, PodCreated, &format!("pod/web-{i}")).unwrap();
        assert!(c <= p);
        let ci = r
            .log()
            .events
            .iter()
            .position(|e| e.kind == ClaimCreated && e.object == format!("pvc/www-web-{i}"))
            .unwrap();
        let pi = r
            .log()
            .events
            .iter()
            .position(|e| e.kind == PodCreated && e.object == format!("pod/web-{i}"))
            .unwrap();
        assert!(ci < pi, "claim logged after its pod");
    }
}

#[test]
fn ordered_ready_halts_on_a_pod_that_never_becomes_ready() {
    let r = run_until(
        &set_scenario(
            "replicas: 1",
            r#"(when: PodPhase(pod: "web-0", phase: Running), do: BreakReadiness(pod: "web-0")), (after: 0.0, do: Scale(set: "web", replicas: 3))"#,
        ),
        600,
    );
    assert_eq!(
        objects(&r, PodCreated),
        ["pod/web-0"],
        "web-1 must not be created while web-0 is not Ready"
    );
    let blocked = events(&r, SetBlocked);
    assert!(
        blocked
            .iter()
            .any(|e| e.reason.contains("web-1 not created") && e.reason.contains("web-0")),
        "{blocked:?}"
    );
    // Logged when the reason changes, not every pass.
    assert!(
        blocked.len() <= 3,
        "SetBlocked logged {} times",
        blocked.len()
    );
}

#[test]
fn scale_down_removes_the_highest_ordinal_first_one_at_a_time() {
    let r = run(&set_scenario(
        "replicas: 4",
        r#"(when: Ready(set: "web", count: 4), do: Scale(set: "web", replicas: 1))"#,
    ));
    assert_eq!(
        objects(&r, PodTerminating),
        ["pod/web-3", "pod/web-2", "pod/web-1"]
    );
    // The next deletion starts only after the previous pod is gone.
    let gone3 = time_of(&r, PodDeleted, "pod/web-3").unwrap();
    let term2 = time_of(&r, PodTerminating, "pod/web-2").unwrap();
    assert!(term2 >= gone3);
    // Retain: the claims stay.
    assert!(objects(&r, ClaimDeleted).is_empty());
}

#[test]
fn parallel_creates_all_pods_at_once_without_waiting() {
    let r = run(&set_scenario("replicas: 5, pod_management: Parallel", ""));
    let times: Vec<u64> = (0..5)
        .map(|i| time_of(&r, PodCreated, &format!("pod/web-{i}")).unwrap())
        .collect();
    assert!(times.iter().all(|&t| t == times[0]), "{times:?}");
    assert!(
        events(&r, PodCreated)
            .iter()
            .any(|e| e.reason.contains("slow-start batch 3"))
    );
}

#[test]
fn parallel_scale_down_deletes_all_condemned_at_once() {
    let r = run(&set_scenario(
        "replicas: 4, pod_management: Parallel",
        r#"(when: Ready(set: "web", count: 4), do: Scale(set: "web", replicas: 1))"#,
    ));
    let t: Vec<u64> = ["pod/web-3", "pod/web-2", "pod/web-1"]
        .iter()
        .map(|p| time_of(&r, PodTerminating, p).unwrap())
        .collect();
    assert!(t.iter().all(|&x| x == t[0]));
}

#[test]
fn failed_pod_is_recreated_with_the_same_name_and_claim() {
    let mut r = run(&set_scenario(
        "replicas: 2",
        r#"(when: Ready(set: "web", count: 2), do: KubeletEvict(pod: "web-1")),
           (when: Ready(set: "web", count: 2), timeout: 60.0, expect: PodPhase(pod: "web-1", phase: Running))"#,
    ));
    assert_no_failures(&r);
    assert_eq!(times_of(&r, PodCreated, "pod/web-1").len(), 2);
    assert_eq!(
        times_of(&r, ClaimCreated, "pvc/www-web-1").len(),
        1,
        "the claim is reused, not re-created"
    );
    let failed = time_of(&r, PodFailed, "pod/web-1").unwrap();
    let deleted = time_of(&r, PodDeleted, "pod/web-1").unwrap();
    assert!(deleted >= failed);
    let snap: serde_json::Value = serde_json::from_str(&r.snapshot_json()).unwrap();
    let claims = snap["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 2);
}

#[test]
fn claims_are_reused_after_scale_down_and_up() {
    let r = run(&set_scenario(
        "replicas: 3",
        r#"(when: Ready(set: "web", count: 3), do: Scale(set: "web", replicas: 1)),
           (when: SetStatus(set: "web", replicas: 1), do: Scale(set: "web", replicas: 3)),
           (when: Ready(set: "web", count: 3), timeout: 120.0, expect: ClaimExists(claim: "www-web-2", exists: true))"#,
    ));
    assert_no_failures(&r);
    assert_eq!(objects(&r, ClaimCreated).len(), 3);
    assert_eq!(objects(&r, VolumeProvisioned).len(), 3);
    assert!(
        events(&r, PodCreated).iter().any(
            |e| e.object == "pod/web-2" && e.reason.contains("reuses existing claim www-web-2")
        )
    );
}

#[test]
fn when_scaled_delete_removes_claims_of_scaled_down_pods_only() {
    let r = run(&set_scenario(
        "replicas: 3, retention: (when_scaled: Delete, when_deleted: Retain)",
        r#"(when: Ready(set: "web", count: 3), do: Scale(set: "web", replicas: 1)),
           (when: SetStatus(set: "web", replicas: 1), do: KubeletEvict(pod: "web-0")),
           (when: Ready(set: "web", count: 1), timeout: 60.0, expect: ClaimExists(claim: "www-web-0", exists: true))"#,
    ));
    assert_no_failures(&r);
    let mut deleted = objects(&r, ClaimDeleted);
    deleted.sort();
    assert_eq!(deleted, ["pvc/www-web-1", "pvc/www-web-2"]);
    assert!(
        events(&r, ClaimDeleted)
            .iter()
            .all(|e| e.reason.contains("whenScaled=Delete"))
    );
    assert_eq!(objects(&r, VolumeDeleted).len(), 2);
}

#[test]
fn when_deleted_delete_removes_all_claims_with_the_set_and_retain_keeps_them() {
    let r = run(&set_scenario(
        "replicas: 2, retention: (when_deleted: Delete)",
        r#"(when: Ready(set: "web", count: 2), do: DeleteSet(set: "web"))"#,
    ));
    assert_eq!(objects(&r, ClaimDeleted).len(), 2);
    let r = run(&set_scenario(
        "replicas: 2",
        r#"(when: Ready(set: "web", count: 2), do: DeleteSet(set: "web"))"#,
    ));
    assert!(objects(&r, ClaimDeleted).is_empty());
    assert_eq!(objects(&r, PodDeleted).len(), 2);
}

#[test]
fn ordinals_start_names_pods_from_the_start_ordinal() {
    let r = run(&set_scenario("replicas: 2, ordinals_start: 5", ""));
    assert_eq!(objects(&r, PodCreated), ["pod/web-5", "pod/web-6"]);
    assert!(objects(&r, ClaimCreated).contains(&"pvc/www-web-5".to_string()));
}

#[test]
fn rolling_update_replaces_pods_from_the_highest_ordinal_down() {
    let r = run(&set_scenario(
        "replicas: 3",
        r#"(when: Ready(set: "web", count: 3), do: SetImage(set: "web", image: "nginx:2")),
           (when: SetStatus(set: "web", updated: 3, ready: 3), timeout: 300.0, expect: PodRevision(pod: "web-0", revision: Update))"#,
    ));
    assert_no_failures(&r);
    assert_eq!(
        objects(&r, PodTerminating),
        ["pod/web-2", "pod/web-1", "pod/web-0"]
    );
    // Each waits for the previous replacement to be Ready.
    let t_ready2 = times_of(&r, PodReady, "pod/web-2")[1];
    let t_term1 = time_of(&r, PodTerminating, "pod/web-1").unwrap();
    assert!(t_term1 >= t_ready2);
    assert_eq!(objects(&r, RolloutComplete).len(), 1);
    // completeRollingUpdate: only once the last replacement (web-0) is Ready.
    let t_ready0 = *times_of(&r, PodReady, "pod/web-0").last().unwrap();
    assert!(time_of(&r, RolloutComplete, "statefulset/web").unwrap() >= t_ready0);
}

#[test]
fn partition_canary_updates_only_ordinals_at_or_above_it() {
    let r = run(&set_scenario(
        "replicas: 3, update_strategy: RollingUpdate(partition: 2)",
        r#"(when: Ready(set: "web", count: 3), do: SetImage(set: "web", image: "nginx:2")),
           (when: PodRevision(pod: "web-2", revision: Update), timeout: 120.0, do: DeletePod(pod: "web-0")),
           (after: 60.0, expect: PodRevision(pod: "web-0", revision: Current)),
           (after: 0.0, expect: PodRevision(pod: "web-1", revision: Current)),
           (after: 0.0, expect: SetStatus(set: "web", current: 2, updated: 1))"#,
    ));
    assert_no_failures(&r);
    assert_eq!(objects(&r, PodTerminating), ["pod/web-2", "pod/web-0"]);
    assert!(objects(&r, RolloutComplete).is_empty());
}

#[test]
fn on_delete_updates_only_pods_the_user_deletes() {
    let r = run(&set_scenario(
        "replicas: 3, update_strategy: OnDelete",
        r#"(when: Ready(set: "web", count: 3), do: SetImage(set: "web", image: "nginx:2")),
           (after: 120.0, expect: SetStatus(set: "web", updated: 0)),
           (after: 0.0, do: DeletePod(pod: "web-1")),
           (after: 60.0, expect: PodRevision(pod: "web-1", revision: Update)),
           (after: 0.0, expect: PodRevision(pod: "web-2", revision: Current))"#,
    ));
    assert_no_failures(&r);
    assert_eq!(objects(&r, PodTerminating), ["pod/web-1"]);
}

#[test]
fn max_unavailable_deletes_a_batch_at_a_time() {
    let r = run(&set_scenario(
        "replicas: 5, pod_management: Parallel, update_strategy: RollingUpdate(partition: 0, max_unavailable: 2)",
        r#"(when: Ready(set: "web", count: 5), do: SetImage(set: "web", image: "nginx:2")),
           (when: SetStatus(set: "web", updated: 5, ready: 5), timeout: 300.0, expect: NoInvariantBroken)"#,
    ));
    assert_no_failures(&r);
    let t4 = time_of(&r, PodTerminating, "pod/web-4").unwrap();
    let t3 = time_of(&r, PodTerminating, "pod/web-3").unwrap();
    let t2 = time_of(&r, PodTerminating, "pod/web-2").unwrap();
    assert_eq!(t4, t3, "two pods go at once with maxUnavailable 2");
    assert!(t2 > t3);
}

#[test]
fn min_ready_seconds_delays_the_next_pod() {
    let r = run(&set_scenario("replicas: 2, min_ready_seconds: 10", ""));
    let ready0 = time_of(&r, PodReady, "pod/web-0").unwrap();
    let created1 = time_of(&r, PodCreated, "pod/web-1").unwrap();
    assert_eq!(created1, ready0 + 10_000);
}

#[test]
fn stuck_rollout_revert_does_nothing_until_the_stuck_pod_is_deleted() {
    // kubernetes#67250.
    let text = format!(
        r#"(name: "t", cluster: ({NODES3}, broken_images: ["nginx:typo"]), workloads: [StatefulSet((name: "web", replicas: 3, template: (image: "nginx:1"), claims: [(name: "www")]))], steps: [
            (when: Ready(set: "web", count: 3), do: SetImage(set: "web", image: "nginx:typo")),
            (after: 60.0, do: SetImage(set: "web", image: "nginx:1")),
            (after: 600.0, expect: PodPhase(pod: "web-2", phase: ContainerCreating)),
            (after: 0.0, expect: PodPhase(pod: "web-1", phase: Running)),
            (after: 0.0, do: DeletePod(pod: "web-2")),
            (when: Ready(set: "web", count: 3), timeout: 120.0, expect: PodRevision(pod: "web-2", revision: Current)),
        ])"#
    );
    let r = run(&text);
    assert_no_failures(&r);
    assert_eq!(objects(&r, PodTerminating), ["pod/web-2", "pod/web-2"]);
    assert!(
        events(&r, SetBlocked)
            .iter()
            .any(|e| e.object == "statefulset/web" && e.reason.contains("web-2"))
    );
    assert!(
        events(&r, ImagePullFailed)
            .iter()
            .any(|e| e.object == "pod/web-2")
    );
}

#[test]
fn reverting_the_template_reuses_the_earlier_revision() {
    let r = run(&set_scenario(
        "replicas: 2",
        r#"(when: Ready(set: "web", count: 2), do: SetImage(set: "web", image: "nginx:2")),
           (when: SetStatus(set: "web", updated: 2, ready: 2), timeout: 200.0, do: SetImage(set: "web", image: "nginx:1")),
           (when: SetStatus(set: "web", updated: 2, ready: 2), timeout: 200.0, expect: PodRevision(pod: "web-0", revision: Update))"#,
    ));
    assert_no_failures(&r);
    let created: Vec<String> = events(&r, RevisionCreated)
        .iter()
        .map(|e| e.revision.clone().unwrap())
        .collect();
    assert_eq!(
        created.len(),
        2,
        "a rollback makes no new revision: {created:?}"
    );
    let complete: Vec<String> = events(&r, RolloutComplete)
        .iter()
        .map(|e| e.revision.clone().unwrap())
        .collect();
    assert_eq!(complete, [created[1].clone(), created[0].clone()]);
}

#[test]
fn terminating_pod_is_not_replaced_until_it_is_gone() {
    let r = run(&set_scenario(
        "replicas: 2, template: (image: \"nginx:1\", stop_seconds: 20.0)",
        r#"(when: Ready(set: "web", count: 2), do: DeletePod(pod: "web-1"))"#,
    ));
    let deleted = time_of(&r, PodDeleted, "pod/web-1").unwrap();
    let term = time_of(&r, PodTerminating, "pod/web-1").unwrap();
    assert_eq!(deleted - term, 20_000);
    let recreated = times_of(&r, PodCreated, "pod/web-1")[1];
    assert!(recreated >= deleted);
}

#[test]
fn after_a_revert_the_block_reason_names_the_stuck_outdated_pod_and_kubernetes_67250() {
    let text = format!(
        r#"(name: "t", cluster: ({NODES3}, broken_images: ["nginx:typo"]), workloads: [StatefulSet((name: "web", replicas: 2, template: (image: "nginx:1"), claims: [(name: "www")]))], steps: [
            (when: Ready(set: "web", count: 2), do: SetImage(set: "web", image: "nginx:typo")),
            (after: 30.0, do: SetImage(set: "web", image: "nginx:1")),
            (after: 30.0, expect: PodReady(pod: "web-1", ready: false)),
        ])"#
    );
    let r = run(&text);
    assert_no_failures(&r);
    let reverted = events(&r, SetUpdated).last().unwrap().t_ms;
    let after: Vec<_> = events(&r, SetBlocked)
        .into_iter()
        .filter(|e| e.t_ms >= reverted)
        .collect();
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(
        after[0]
            .reason
            .contains("web-1 itself runs outdated revision")
            && after[0].reason.contains("kubernetes#67250"),
        "{}",
        after[0].reason
    );
    // Before the revert the stuck pod runs the update revision: no such hint.
    assert!(
        events(&r, SetBlocked)
            .iter()
            .filter(|e| e.t_ms < reverted)
            .all(|e| !e.reason.contains("67250"))
    );
}

/// The snapshot's entry for one pod.
fn pod_snap(r: &mut statefulset_sim::headless::Run, pod: &str) -> serde_json::Value {
    let snap: serde_json::Value = serde_json::from_str(&r.snapshot_json()).unwrap();
    snap["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == pod)
        .cloned()
        .unwrap_or_else(|| panic!("{pod} is in the snapshot"))
}

#[test]
fn crash_restarts_the_container_in_place_keeping_uid_and_node() {
    let steps = r#"(when: Ready(set: "web", count: 2), do: CrashPod(pod: "web-1")),
           (after: 0.0, expect: PodStatus(pod: "web-1", status: "Running")),
           (after: 0.0, expect: PodReady(pod: "web-1", ready: false)),
           (when: PodReady(pod: "web-1", ready: true), timeout: 60.0, expect: PodRestarts(pod: "web-1", min: 1))"#;
    let mut before = run_until(&set_scenario("replicas: 2", ""), 60);
    let mut r = run(&set_scenario("replicas: 2", steps));
    assert_no_failures(&r);
    // Same pod object: created once, never deleted, no Failed phase.
    assert_eq!(times_of(&r, PodCreated, "pod/web-1").len(), 1);
    assert!(time_of(&r, PodFailed, "pod/web-1").is_none());
    assert!(time_of(&r, PodTerminating, "pod/web-1").is_none());
    let crashed = time_of(&r, ProcessStopped, "pod/web-1").unwrap();
    let restarted = time_of(&r, ContainerRestarted, "pod/web-1").unwrap();
    assert_eq!(restarted, crashed, "the first restart is immediate");
    assert!(
        events(&r, ContainerRestarted)[0]
            .reason
            .contains("the StatefulSet controller takes no part")
    );
    let (old, new) = (pod_snap(&mut before, "web-1"), pod_snap(&mut r, "web-1"));
    assert_eq!(new["uid"], old["uid"], "same uid");
    assert_eq!(new["node"], old["node"], "same node");
    assert_eq!(new["restarts"], 1);
    assert_eq!(new["phase"], "Running");
    assert_eq!(new["status"], "Running");
}

#[test]
fn crash_loop_backs_off_10_then_20_then_40_seconds_shown_as_crash_loop_back_off() {
    let mut r = run(&set_scenario(
        "replicas: 1",
        r#"(when: Ready(set: "web", count: 1), do: CrashPod(pod: "web-0", times: 4)),
           (after: 5.0, expect: PodStatus(pod: "web-0", status: "CrashLoopBackOff")),
           (after: 0.0, expect: PodPhase(pod: "web-0", phase: Running)),
           (when: PodReady(pod: "web-0", ready: true), timeout: 300.0, expect: PodRestarts(pod: "web-0", min: 4))"#,
    ));
    assert_no_failures(&r);
    let crashes = times_of(&r, ProcessStopped, "pod/web-0");
    let restarts = times_of(&r, ContainerRestarted, "pod/web-0");
    assert_eq!(crashes.len(), 4);
    assert_eq!(restarts.len(), 4);
    let waits: Vec<u64> = crashes
        .iter()
        .zip(&restarts)
        .map(|(c, r)| (r - c) / 1000)
        .collect();
    assert_eq!(waits, [0, 10, 20, 40], "kubelet restart back-off");
    assert_eq!(
        times_of(&r, BackOff, "pod/web-0").len(),
        3,
        "one BackOff per wait"
    );
    // The controller never replaced it.
    assert_eq!(times_of(&r, PodCreated, "pod/web-0").len(), 1);
    // Each wait carries the kubelet's own record, as `kubectl describe` shows it.
    let uid = pod_snap(&mut r, "web-0")["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let rec = events(&r, BackOff)[0]
        .k8s
        .clone()
        .expect("BackOff has a k8s record");
    assert_eq!(
        (rec.reason.as_str(), rec.message.as_str()),
        (
            "BackOff",
            format!("Back-off restarting failed container nginx in pod web-0_default({uid})")
                .as_str()
        )
    );
    assert_eq!(pod_snap(&mut r, "web-0")["restarts"], 4);
}

#[test]
fn kubelet_evict_fails_the_pod_and_the_controller_deletes_and_recreates_it() {
    let r = run(&set_scenario(
        "replicas: 2",
        r#"(when: Ready(set: "web", count: 2), do: KubeletEvict(pod: "web-1")),
           (when: Ready(set: "web", count: 2), timeout: 60.0, expect: PodRestarts(pod: "web-1", min: 0))"#,
    ));
    assert_no_failures(&r);
    // Failed (reason Evicted): the controller deletes it in the same instant,
    // and its kubelet has no container left to stop.
    let failed = time_of(&r, PodFailed, "pod/web-1").unwrap();
    assert!(
        events(&r, PodFailed)[0]
            .reason
            .contains("phase Failed, reason Evicted")
    );
    let rec = events(&r, PodFailed)[0]
        .k8s
        .clone()
        .expect("Evicted has a k8s record");
    assert_eq!(rec.reason, "Evicted");
    assert!(
        rec.message
            .starts_with("The node was low on resource: memory.")
    );
    assert!(
        events(&r, PodTerminating)
            .iter()
            .any(|e| e.object == "pod/web-1" && e.reason.contains("is Failed"))
    );
    let deleted = time_of(&r, PodDeleted, "pod/web-1").unwrap();
    assert!(deleted >= failed);
    assert_eq!(
        times_of(&r, PodCreated, "pod/web-1").len(),
        2,
        "a new pod object"
    );
    assert!(time_of(&r, ContainerRestarted, "pod/web-1").is_none());
}

#[test]
fn status_column_shows_container_creating_then_running_and_terminating_on_delete() {
    let mut r = run_until(
        &set_scenario(
            "replicas: 1",
            r#"(at: 0.5, expect: PodStatus(pod: "web-0", status: "ContainerCreating")),
               (at: 0.5, expect: PodPhase(pod: "web-0", phase: Pending)),
               (when: Ready(set: "web", count: 1), do: DeletePod(pod: "web-0")),
               (after: 0.0, expect: PodStatus(pod: "web-0", status: "Terminating"))"#,
        ),
        600,
    );
    assert_no_failures(&r);
    assert_eq!(pod_snap(&mut r, "web-0")["status"], "Running");
}

#[test]
fn terminating_pod_stays_ready_until_its_container_exits_but_leaves_dns() {
    // web-0 is Ready at 6 s and deleted then; its container takes 10 s to
    // stop. At 12 s it is still Terminating.
    let text = set_scenario(
        "replicas: 1, template: (image: \"nginx:1\", stop_seconds: 10.0)",
        r#"(when: Ready(set: "web", count: 1), do: DeletePod(pod: "web-0")),
           (after: 5.0, expect: PodReady(pod: "web-0", ready: true)),
           (after: 0.0, expect: PodStatus(pod: "web-0", status: "Terminating"))"#,
    );
    let mut r = run_until(&text, 12);
    assert_no_failures(&r);
    let web0 = pod_snap(&mut r, "web-0");
    assert_eq!(web0["terminating"], true);
    assert_eq!(web0["ready"], true, "Ready until its container exits");
    assert_eq!(
        web0["dns"],
        serde_json::Value::Null,
        "out of DNS: Terminating"
    );
    // Once the container has exited the deletion is confirmed, 10 s after SIGTERM.
    let r = run(&text);
    let t = time_of(&r, PodTerminating, "pod/web-0").unwrap();
    assert_eq!(time_of(&r, PodDeleted, "pod/web-0"), Some(t + 10_000));
}

#[test]
fn terminating_pod_counts_as_unavailable_for_max_unavailable() {
    // web-2 is Terminating (slow to stop) and still Ready: the update of
    // web-1 must wait, since maxUnavailable 1 is used up by web-2.
    let r = run(&set_scenario(
        "replicas: 3, pod_management: Parallel, template: (image: \"nginx:1\", stop_seconds: 20.0), update_strategy: RollingUpdate(partition: 0, max_unavailable: 1)",
        r#"(when: Ready(set: "web", count: 3), do: SetImage(set: "web", image: "nginx:2"))"#,
    ));
    assert_no_failures(&r);
    let t2 = time_of(&r, PodTerminating, "pod/web-2").unwrap();
    let t1 = time_of(&r, PodTerminating, "pod/web-1").unwrap();
    assert!(
        t1 >= t2 + 20_000,
        "web-1 deleted at {t1}, while web-2 (Terminating since {t2}) was still Ready"
    );
}

/// The StatefulSet Basics tutorial's web, as a manifest in a temporary
/// folder (`name` keeps tests apart), its claim template asking `gib` GiB.
fn web_manifest(name: &str, gib: u32) -> String {
    let dir = std::env::temp_dir().join(format!("ss-orphan-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let f = dir.join(format!("web-{gib}.yaml"));
    let text = format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  serviceName: nginx\n  replicas: 3\n  selector:\n    matchLabels: {{app: nginx}}\n  template:\n    metadata:\n      labels: {{app: nginx}}\n    spec:\n      containers: [{{name: nginx, image: 'registry.k8s.io/nginx-slim:0.7'}}]\n  volumeClaimTemplates:\n  - metadata: {{name: www}}\n    spec:\n      accessModes: [ReadWriteOnce]\n      storageClassName: ssd\n      resources: {{requests: {{storage: {gib}Gi}}}}\n"
    );
    std::fs::write(&f, text).expect("the manifest is written");
    f.display().to_string()
}

const SSD: &str = r#"storage_classes: [(name: "ssd", allow_volume_expansion: true)]"#;

#[test]
fn orphan_delete_leaves_the_pods_running_and_keeps_the_claims() {
    let mut r = run(&set_scenario(
        "replicas: 2, retention: (when_deleted: Delete)",
        r#"(when: Ready(set: "web", count: 2), do: Kubectl("delete statefulset web --cascade=orphan")),
           (after: 60.0, expect: PodPhase(pod: "web-0", phase: Running)),
           (after: 0.0, expect: PodReady(pod: "web-1", ready: true)),
           (after: 0.0, expect: ClaimExists(claim: "www-web-0", exists: true)),
           (after: 0.0, do: Kubectl("delete pod web-1")),
           (after: 60.0, expect: PodPhase(pod: "web-1", phase: Absent))"#,
    ));
    assert_no_failures(&r);
    assert_eq!(objects(&r, PodOrphaned), ["pod/web-0", "pod/web-1"]);
    let deleted = events(&r, SetDeleted);
    assert_eq!(deleted.len(), 1, "one SetDeleted: the object goes at once");
    assert!(
        deleted[0]
            .reason
            .contains("its 2 pods, 2 claims and 1 ControllerRevision")
    );
    // whenDeleted: Delete does not delete them: the set's ownerReference is
    // removed instead.
    assert!(objects(&r, ClaimDeleted).is_empty());
    // The orphan deleted by hand is not recreated: no controller.
    assert_eq!(objects(&r, PodCreated), ["pod/web-0", "pod/web-1"]);
    let c = statefulset_sim::sim::read::read(r.world());
    assert!(c.sets.is_empty());
    assert!(c.pods.iter().all(|p| p.orphaned));
    assert!(c.claims.iter().all(|cl| cl.status.owner_refs.is_empty()));
}

#[test]
fn a_new_set_with_the_same_selector_adopts_the_orphans_without_restarting_them() {
    let m = web_manifest("adopt", 10);
    let text = format!(
        r#"(name: "t", seed: 3, cluster: ({NODES3}, {SSD}), manifests: ["{m}"], steps: [
            (when: Ready(set: "web", count: 3), timeout: 120.0, do: Kubectl("delete statefulset web --cascade=orphan")),
            (after: 10.0, do: Kubectl("apply -f {m}")),
            (after: 30.0, expect: SetStatus(set: "web", replicas: 3, ready: 3, current: 3, updated: 3)),
        ])"#
    );
    let mut r = run(&text);
    assert_no_failures(&r);
    assert_eq!(
        objects(&r, PodAdopted),
        ["pod/web-0", "pod/web-1", "pod/web-2"]
    );
    assert_eq!(objects(&r, RevisionAdopted), ["statefulset/web"]);
    assert_eq!(objects(&r, PodCreated).len(), 3, "no pod was created again");
    assert!(
        objects(&r, PodTerminating).is_empty(),
        "no pod was replaced"
    );
    assert_eq!(
        objects(&r, RevisionCreated).len(),
        1,
        "the new set reuses the adopted revision"
    );
    let c = statefulset_sim::sim::read::read(r.world());
    assert!(c.pods.iter().all(|p| !p.orphaned));
    let s = &c.sets[0].status;
    assert_eq!(s.current_revision, s.update_revision);
}

#[test]
fn expanding_a_claim_grows_it_online_without_restarting_its_pod() {
    let text = format!(
        r#"(name: "t", seed: 3, cluster: ({NODES3}, {SSD}), workloads: [StatefulSet((name: "web", replicas: 1, template: (image: "nginx:1"), claims: [(name: "www", storage_class: "ssd", size_gib: 10)]))], steps: [
            (when: Ready(set: "web", count: 1), do: Kubectl("patch pvc www-web-0 -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"20Gi\"}}}}}}}}'")),
            (when: EventSeen((kind: "FileSystemResized", object: "pvc/www-web-0")), timeout: 30.0, expect: PodReady(pod: "web-0", ready: true)),
        ])"#
    );
    let mut r = run(&text);
    assert_no_failures(&r);
    let resizing = time_of(&r, ClaimResizing, "pvc/www-web-0").unwrap();
    let pending = time_of(&r, FileSystemResizePending, "pvc/www-web-0").unwrap();
    let done = time_of(&r, FileSystemResized, "pvc/www-web-0").unwrap();
    assert_eq!(pending - resizing, 5_000, "the external resizer takes 5 s");
    assert_eq!(
        done - pending,
        2_000,
        "the kubelet grows the file system in 2 s"
    );
    let reasons: Vec<String> = [ClaimResizing, FileSystemResizePending, FileSystemResized]
        .iter()
        .map(|k| events(&r, *k)[0].k8s.as_ref().unwrap().reason.clone())
        .collect();
    assert_eq!(
        reasons,
        [
            "Resizing",
            "FileSystemResizeRequired",
            "FileSystemResizeSuccessful"
        ]
    );
    assert!(objects(&r, PodTerminating).is_empty(), "no restart");
    let c = statefulset_sim::sim::read::read(r.world());
    let cl = &c.claims[0];
    assert_eq!(cl.status.capacity_gib(cl.claim.size_gib), 20);
    assert_eq!(c.volumes[0].volume.size_gib, 20);
}

#[test]
fn expansion_is_refused_when_the_class_does_not_allow_it_or_the_claim_would_shrink() {
    // `standard` (the default) does not allow expansion; `ssd` does.
    let text = format!(
        r#"(name: "t", seed: 3, cluster: ({NODES3}, storage_classes: [(name: "standard"), (name: "ssd", allow_volume_expansion: true)]), workloads: [StatefulSet((name: "web", replicas: 1, template: (image: "nginx:1"), claims: [(name: "www", size_gib: 10), (name: "data", storage_class: "ssd", size_gib: 10)]))], steps: [
            (when: Ready(set: "web", count: 1), do: Kubectl("patch pvc www-web-0 -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"20Gi\"}}}}}}}}'")),
            (after: 1.0, do: Kubectl("patch pvc data-web-0 -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"5Gi\"}}}}}}}}'")),
            (after: 1.0, do: ExpandClaim(claim: "data-web-0", size_gib: 10)),
        ])"#
    );
    let r = run(&text);
    let rejected: Vec<&str> = events(&r, CommandRejected)
        .iter()
        .map(|e| e.reason.as_str())
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected[0].ends_with("Error from server (Forbidden): persistentvolumeclaims \"www-web-0\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"),
        "{}",
        rejected[0]
    );
    assert!(
        rejected[1].ends_with("The PersistentVolumeClaim \"data-web-0\" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"),
        "{}",
        rejected[1]
    );
    // The same size again changes nothing.
    assert!(objects(&r, ClaimResizing).is_empty());
}
