//! Names, not IPs (docs/semantics.md §1.7 pod-ips): pods get addresses from
//! their node's pod range, a recreated pod gets a new one under the same
//! name, and the headless service's records list only Running and Ready pods.

mod common;
use common::*;
use statefulset_sim::sim::snapshot::take;

/// (ip, dns, node) of a pod in the run's final snapshot.
fn addr(
    r: &mut statefulset_sim::headless::Run,
    pod: &str,
) -> (Option<String>, Option<String>, Option<String>) {
    let snap = take(r.world());
    let p = snap
        .pods
        .iter()
        .find(|p| p.name == pod)
        .unwrap_or_else(|| panic!("{pod} exists"));
    (p.ip.clone(), p.dns.clone(), p.node.clone())
}

const READY3: &str = r#"(when: Ready(set: "web", count: 3), timeout: 120.0, note: "ready")"#;

#[test]
fn pod_ips_come_from_the_node_range_and_change_when_the_pod_is_recreated() {
    let mut before = run(&set_scenario("replicas: 3", READY3));
    assert_no_failures(&before);
    let (ip0, dns0, node0) = addr(&mut before, "web-1");
    let ip0 = ip0.expect("a running pod has an address");
    // The nodes got 10.244.0.0/24, .1.0/24, .2.0/24 in the order they were declared.
    let range = match node0.as_deref() {
        Some("node-a") => "10.244.0.",
        Some("node-b") => "10.244.1.",
        Some("node-c") => "10.244.2.",
        other => panic!("web-1 on {other:?}"),
    };
    assert!(
        ip0.starts_with(range),
        "{ip0} is in its node's range {range}0/24"
    );
    assert!(
        !ip0.ends_with(".1") && !ip0.ends_with(".0"),
        "not the gateway: {ip0}"
    );

    let mut after = run(&set_scenario(
        "replicas: 3",
        &format!(
            r#"{READY3}, (after: 1.0, do: DeletePod(pod: "web-1")), (when: PodReady(pod: "web-1", ready: false), timeout: 60.0, note: "gone"), {READY3}"#
        ),
    ));
    assert_no_failures(&after);
    let (ip1, dns1, node1) = addr(&mut after, "web-1");
    assert_eq!(
        node1, node0,
        "recreated on the same node (its volume is there)"
    );
    assert_eq!(dns1, dns0, "same name: web-1.web.default.svc.cluster.local");
    assert!(dns1.is_some_and(|d| d == "web-1.web.default.svc.cluster.local"));
    let ip1 = ip1.expect("the new pod has an address");
    assert_ne!(
        ip1, ip0,
        "a new pod, a new address: clients must use the name"
    );
    assert!(ip1.starts_with(range));
}

#[test]
fn headless_service_records_list_only_running_and_ready_pods() {
    let mut r = run(&set_scenario(
        "replicas: 3",
        &format!(
            r#"{READY3}, (after: 1.0, do: BreakReadiness(pod: "web-2")), (when: PodReady(pod: "web-2", ready: false), timeout: 60.0, note: "not ready")"#
        ),
    ));
    assert_no_failures(&r);
    let (ip, dns, _) = addr(&mut r, "web-2");
    assert!(ip.is_some(), "a not-Ready pod keeps its address");
    assert_eq!(dns, None, "but the headless service does not list it");
    let (_, dns0, _) = addr(&mut r, "web-0");
    assert!(dns0.is_some(), "a Ready pod is listed");

    // A pod that has not started has no address and no record.
    let mut early = run_until(&set_scenario("replicas: 1", ""), 1);
    let (ip, dns, _) = addr(&mut early, "web-0");
    assert_eq!((ip, dns), (None, None));
}
