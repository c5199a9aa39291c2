//! Pod anti-affinity in the scheduler (docs/semantics.md §5.8a): required
//! terms leave a pod Pending when every node holds one of its set's pods,
//! preferred terms only rank nodes, and a manifest's selector is resolved to
//! the workload whose pods it matches.

mod common;
use common::*;
use statefulset_sim::scenario::manifest;
use statefulset_sim::sim::event::EventKind::*;
use statefulset_sim::sim::model::*;

fn two_nodes(anti: &str, replicas: u32) -> String {
    format!(
        r#"(name: "t", seed: 3, cluster: (nodes: [(name: "node-a", zone: "zone-1"), (name: "node-b", zone: "zone-2")]),
        workloads: [StatefulSet((name: "web", replicas: {replicas}, pod_management: Parallel,
            template: (image: "nginx:1", anti_affinity: [{anti}])))],
        steps: [(at: 60.0, note: "settled")])"#
    )
}

#[test]
fn a_drained_node_pod_stays_pending_under_required_anti_affinity() {
    let r = run(&two_nodes(
        r#"Required(topology_key: "kubernetes.io/hostname")"#,
        3,
    ));
    let scheduled = events(&r, PodScheduled);
    assert_eq!(scheduled.len(), 2, "one pod per node");
    let nodes: Vec<_> = scheduled.iter().map(|e| e.node.clone()).collect();
    assert_ne!(nodes[0], nodes[1], "never two on one node");
    let un = events(&r, PodUnschedulable);
    assert_eq!(un.len(), 1, "{un:?}");
    assert_eq!(
        un[0].reason,
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules"
    );
    let k8s = un[0].k8s.as_ref().expect("a FailedScheduling event");
    assert!(
        k8s.message
            .contains("2 No preemption victims found for incoming pod"),
        "anti-affinity is Unschedulable, not Unresolvable: {}",
        k8s.message
    );
    // By zone: the two nodes are in different zones, so the same holds.
    let z = run(&two_nodes(
        r#"Required(topology_key: "topology.kubernetes.io/zone")"#,
        3,
    ));
    assert_eq!(events(&z, PodScheduled).len(), 2);
}

#[test]
fn preferred_anti_affinity_spreads_pods_but_still_schedules_them() {
    let r = run(&two_nodes(
        r#"Preferred(weight: 100, topology_key: "kubernetes.io/hostname")"#,
        3,
    ));
    assert_eq!(
        events(&r, PodScheduled).len(),
        3,
        "a preference never blocks"
    );
    assert!(events(&r, PodUnschedulable).is_empty());
}

#[test]
fn bad_anti_affinity_is_refused_with_where_and_what() {
    let text = two_nodes(r#"Required(topology_key: "rack")"#, 1);
    let Err(err) = statefulset_sim::scenario::load_str("t.ron", text.as_bytes()) else {
        panic!("an unknown topology key must be refused");
    };
    let msg = err.to_string();
    assert!(msg.contains("t.ron:"), "{msg}");
    assert!(
        msg.contains("topology_key \"rack\": expected \"kubernetes.io/hostname\""),
        "{msg}"
    );
}

const MANIFEST: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchExpressions:
              - key: app
                operator: In
                values: [web]
            topologyKey: kubernetes.io/hostname
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 50
            podAffinityTerm:
              labelSelector:
                matchLabels:
                  app: db
              topologyKey: topology.kubernetes.io/zone
      containers:
      - name: nginx
        image: nginx:1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: db
spec:
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: db:1
"#;

#[test]
fn manifest_anti_affinity_resolves_its_selector_to_the_workload() {
    let dir = std::env::temp_dir().join(format!("ss-affinity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("web.yaml");
    std::fs::write(&path, MANIFEST).expect("written");
    let m = manifest::read_paths(std::slice::from_ref(&path)).expect("reads");
    let _ = std::fs::remove_dir_all(&dir);
    let web = m
        .workloads
        .iter()
        .find_map(|w| match w {
            WorkloadSpec::StatefulSet(s) => Some(s),
            _ => None,
        })
        .expect("the StatefulSet");
    assert_eq!(
        web.template.anti_affinity,
        [
            AntiAffinity::Required {
                topology_key: TOPOLOGY_HOSTNAME.into(),
                set: None
            },
            AntiAffinity::Preferred {
                weight: 50,
                topology_key: TOPOLOGY_ZONE.into(),
                set: Some("db".into())
            },
        ]
    );
    let w: Vec<String> = m.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        !w.iter().any(|w| w.contains("affinity")),
        "honoured, not ignored: {w:?}"
    );
}
