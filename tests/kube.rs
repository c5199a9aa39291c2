//! Speaking Kubernetes: the upstream documentation's own manifests load and
//! behave like the equivalent RON scenarios; each kubectl verb's effect and
//! output; errors per kind; PodDisruptionBudgets and drain; objects out.

mod common;

use statefulset_sim::headless;
use statefulset_sim::scenario::manifest::{self, ClusterShape};
use statefulset_sim::scenario::{Loaded, load_str};
use statefulset_sim::shell::Shell;
use statefulset_sim::sim::event::EventKind;
use statefulset_sim::sim::model::*;
use std::path::PathBuf;

fn path(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests")
        .join(p)
}

fn load(p: &str) -> Loaded {
    manifest::load(&[path(p)], ClusterShape::default()).unwrap_or_else(|d| panic!("{d}"))
}

/// The default cluster of a manifest without nodes, as RON.
const DEFAULT_NODES: &str = r#"nodes: [(name: "node-a", zone: "zone-1"), (name: "node-b", zone: "zone-2"), (name: "node-c", zone: "zone-3")]"#;

/// Runs both to `secs` and compares their event logs.
fn same_behaviour(from_yaml: Loaded, ron: &str, secs: u64) {
    let from_ron = load_str("equivalent.ron", ron.as_bytes()).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(from_yaml.scenario.workloads, from_ron.scenario.workloads);
    assert_eq!(from_yaml.scenario.cluster, from_ron.scenario.cluster);
    assert_eq!(
        from_yaml.scenario.disruption_budgets,
        from_ron.scenario.disruption_budgets
    );
    let a = headless::run(from_yaml, None, Some(secs * 1000));
    let b = headless::run(from_ron, None, Some(secs * 1000));
    assert!(a.log().events.len() > 10, "too little happened");
    assert_eq!(a.events_jsonl(), b.events_jsonl());
}

#[test]
fn the_web_manifest_of_the_statefulset_basics_tutorial_runs_like_its_ron_scenario() {
    let y = load("web.yaml");
    assert!(y.warnings.is_empty(), "{:?}", y.warnings);
    let ron = format!(
        r#"(name: "web", cluster: ({DEFAULT_NODES}), workloads: [StatefulSet((name: "web", service: "nginx", replicas: 2,
            template: (image: "registry.k8s.io/nginx-slim:0.7", ready_seconds: 0.0, cpu_millis: 0, memory_mib: 0),
            claims: [(name: "www", size_gib: 1)]))])"#
    );
    same_behaviour(y, &ron, 120);
}

#[test]
fn the_mysql_tutorial_manifests_run_like_their_ron_scenario() {
    let y = load("mysql");
    let w = y.warnings.join("\n");
    assert!(
        w.contains("ignored: ConfigMap mysql (not simulated)"),
        "{w}"
    );
    assert!(
        w.contains("spec.template.spec.initContainers (not simulated)"),
        "{w}"
    );
    assert!(
        w.contains("only the first container (mysql) is simulated"),
        "{w}"
    );
    // Each ignored field is listed once, though two containers set it.
    assert_eq!(w.matches("containers.volumeMounts").count(), 0, "{w}");
    assert_eq!(
        w.matches("spec.template.spec.containers.command").count(),
        1,
        "{w}"
    );
    let ron = format!(
        r#"(name: "mysql", cluster: ({DEFAULT_NODES}), workloads: [StatefulSet((name: "mysql", service: "mysql", replicas: 3,
            template: (image: "mysql:5.7", ready_seconds: 6.0, cpu_millis: 600, memory_mib: 1124),
            claims: [(name: "data", size_gib: 10)], database: Some(Mysql(write_rate: 0.0))))])"#
    );
    same_behaviour(y, &ron, 300);
}

#[test]
fn the_zookeeper_tutorial_manifest_runs_like_its_ron_scenario_with_its_budget() {
    let y = load("zookeeper.yaml");
    let w = y.warnings.join("\n");
    assert!(
        // The manifest's pods are labelled app.kubernetes.io/name=zk, its
        // anti-affinity selects app=zk: no pod, so it keeps nothing away.
        w.contains("zk: its podAntiAffinity selector (app In [zk]) matches the pod labels of no workload in these manifests: it keeps nothing away"),
        "{w}"
    );
    let ron = format!(
        r#"(name: "zookeeper", cluster: ({DEFAULT_NODES}), workloads: [StatefulSet((name: "zk", service: "zk-hs", replicas: 3,
            template: (image: "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", ready_seconds: 10.0, cpu_millis: 500, memory_mib: 1024),
            claims: [(name: "datadir", size_gib: 10)]))],
            disruption_budgets: [(name: "zk-pdb", set: "zk", max_unavailable: 1)])"#
    );
    same_behaviour(y, &ron, 300);
}

fn yaml_err(text: &str) -> String {
    let mut m = manifest::Manifests::default();
    match manifest::read_str("bad.yaml", text.as_bytes(), &mut m) {
        Ok(()) => panic!("accepted bad input:\n{text}"),
        Err(d) => d.to_string(),
    }
}

const SET_HEAD: &str = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\n";

#[test]
fn manifest_errors_point_at_file_line_and_column() {
    let e = yaml_err("apiVersion: v1\nkind: [Service\n");
    assert!(
        e.starts_with("bad.yaml:") && e.contains("invalid YAML"),
        "{e}"
    );
    let e = yaml_err("- just\n- a list\n");
    assert!(
        e.starts_with("bad.yaml:1:1: error: expected a Kubernetes object"),
        "{e}"
    );
    let e = yaml_err("apiVersion: v1\nmetadata:\n  name: x\n");
    assert!(e.contains("kind is required"), "{e}");
    let e = yaml_err("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n");
    assert!(
        e.starts_with("bad.yaml:2:1: error: Pod x: kind Pod is not simulated"),
        "{e}"
    );
    let e = yaml_err(&format!("{SET_HEAD}spec:\n  replicas: three\n"));
    assert!(
        e.starts_with("bad.yaml:6:13: error: StatefulSet web: spec.replicas:"),
        "{e}"
    );
    let e = yaml_err(&format!(
        "{SET_HEAD}spec:\n  podManagementPolicy: Sometimes\n  selector: {{}}\n  template:\n    spec:\n      containers: [{{name: a, image: b}}]\n"
    ));
    assert!(
        e.starts_with("bad.yaml:6:3: error:") && e.contains("expected OrderedReady or Parallel"),
        "{e}"
    );
    let e = yaml_err(&format!(
        "{SET_HEAD}spec:\n  replicas: -1\n  selector: {{}}\n  template: {{}}\n"
    ));
    assert!(e.contains("spec.replicas is -1, expected 0 or more"), "{e}");
    let e = yaml_err(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: Web_1\nspec:\n  selector: {}\n  template: {}\n",
    );
    assert!(
        e.starts_with("bad.yaml:4:3: error:") && e.contains("Web_1"),
        "{e}"
    );
    let e = yaml_err(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: p\nspec:\n  minAvailable: 1\n  maxUnavailable: 1\n",
    );
    assert!(e.contains("cannot both be set"), "{e}");
}

#[test]
fn a_budget_that_selects_no_workload_is_an_error() {
    let dir = std::env::temp_dir().join(format!("kube-pdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("pdb.yaml");
    std::fs::write(
        &f,
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: p\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: nothing\n",
    )
    .unwrap();
    let e = manifest::load(&[f], ClusterShape::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            ":7:3: error: PodDisruptionBudget p: its selector matches the pods of no StatefulSet"
        ),
        "{e}"
    );
}

#[test]
fn a_misspelt_field_is_a_warning_with_line_and_column_and_the_field_it_resembles() {
    let text = format!(
        "{SET_HEAD}spec:\n  podManagmentPolicy: Parallel\n  selector: {{}}\n  template:\n    spec:\n      containers: [{{name: a, image: b}}]\n"
    );
    let mut m = manifest::Manifests::default();
    manifest::read_str("typo.yaml", text.as_bytes(), &mut m).unwrap();
    let w: Vec<String> = m.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        vec![
            "typo.yaml:6:3: warning: StatefulSet web: unknown field spec.podManagmentPolicy (did you mean podManagementPolicy?); it is ignored"
        ]
    );
}

#[test]
fn a_manifest_without_nodes_gets_the_cluster_shape_asked_for() {
    let l = manifest::load(&[path("web.yaml")], ClusterShape { nodes: 5, zones: 2 }).unwrap();
    let zones: Vec<&str> = l
        .scenario
        .cluster
        .nodes
        .iter()
        .map(|n| n.zone.as_str())
        .collect();
    assert_eq!(zones, ["zone-1", "zone-2", "zone-1", "zone-2", "zone-1"]);
    assert_eq!(l.scenario.cluster.nodes[4].name, "node-e");
}

#[test]
fn a_manifest_toleration_of_the_unreachable_taint_shortens_the_eviction() {
    let dir = std::env::temp_dir().join(format!("kube-tol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("tol.yaml");
    std::fs::write(
        &f,
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      tolerations:\n      - key: node.kubernetes.io/unreachable\n        operator: Exists\n        effect: NoExecute\n        tolerationSeconds: 30\n      containers: [{name: web, image: 'nginx:1'}]\n",
    )
    .unwrap();
    let mut l = manifest::load(&[f], ClusterShape::default()).unwrap_or_else(|d| panic!("{d}"));
    let WorkloadSpec::StatefulSet(s) = &l.scenario.workloads[0] else {
        panic!()
    };
    assert_eq!(s.template.toleration_seconds, Some(30));
    l.scenario.steps = load_str(
        "s.ron",
        br#"(name: "s", cluster: (nodes: [(name: "n")]), workloads: [StatefulSet((name: "web", template: (image: "i")))],
            steps: [(at: 20.0, do: FailNode(of: "web-0"))])"#,
    )
    .unwrap()
    .scenario
    .steps;
    l.step_pos = vec![(1, 1)];
    let run = headless::run(l, None, Some(400_000));
    let not_ready = common::events(&run, EventKind::NodeNotReady)[0].t_ms;
    let evicted = common::events(&run, EventKind::PodEvicted)[0];
    assert_eq!(evicted.t_ms, not_ready + 30_000);
    assert!(
        evicted.reason.contains("unreachable for 30s"),
        "{}",
        evicted.reason
    );
}

#[test]
fn import_writes_a_ron_scenario_that_loads_to_the_same_scenario() {
    let y = load("zookeeper.yaml");
    let ron = manifest::to_ron(&y).unwrap();
    assert!(ron.contains("steps: []"), "{ron}");
    let back = load_str("imported.ron", ron.as_bytes()).unwrap_or_else(|d| panic!("{d}\n{ron}"));
    assert_eq!(back.scenario, y.scenario);
}

#[test]
fn a_ron_scenario_can_name_manifests_for_its_workloads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/manifests");
    let text = r#"(name: "m", manifests: ["web.yaml"], cluster: (nodes: [(name: "n1")]),
        steps: [(when: Ready(set: "web", count: 2), timeout: 60.0, expect: PodOnNode(pod: "web-1", node: "n1"))])"#;
    let l = load_str(dir.join("scenario.ron").to_str().unwrap(), text.as_bytes())
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(l.scenario.workloads.len(), 1);
    let run = headless::run(l, None, None);
    assert_eq!(run.exit_code(), 0, "{:?}", run.failures);
}

// ---------------------------------------------------------------- kubectl

fn shell(p: &str) -> Shell {
    Shell::new(load(p))
}

/// Runs a line: stdout, and panics on stderr.
fn ok(sh: &mut Shell, line: &str) -> String {
    let (o, e) = sh.line(line);
    assert!(e.is_empty(), "{line}: {e}");
    o
}

fn err(sh: &mut Shell, line: &str) -> String {
    let before = sh
        .app
        .world()
        .resource::<statefulset_sim::sim::EventLog>()
        .events
        .len();
    let (o, e) = sh.line(line);
    assert!(!e.is_empty(), "{line} succeeded: {o}");
    let after = sh
        .app
        .world()
        .resource::<statefulset_sim::sim::EventLog>()
        .events
        .len();
    assert_eq!(before, after, "{line} failed but changed the cluster");
    e
}

fn ready_web(sh: &mut Shell, n: u32) {
    for i in 0..n {
        ok(
            sh,
            &format!("wait --for=condition=Ready pod/web-{i} --timeout=120s"),
        );
    }
}

#[test]
fn get_prints_tables_like_kubectl() {
    let mut sh = shell("web.yaml");
    ready_web(&mut sh, 2);
    let pods = ok(&mut sh, "kubectl get pods");
    let lines: Vec<&str> = pods.lines().collect();
    assert!(
        lines[0].starts_with("NAME    READY   STATUS    RESTARTS   AGE"),
        "{pods}"
    );
    assert!(
        lines[1].starts_with("web-0   1/1     Running   0"),
        "{pods}"
    );
    assert!(
        ok(&mut sh, "get pods -o wide")
            .lines()
            .next()
            .unwrap()
            .ends_with("NODE")
    );
    assert!(ok(&mut sh, "get sts").contains("web    2/2"));
    assert!(ok(&mut sh, "get pvc").contains("www-web-0   Bound"));
    assert!(ok(&mut sh, "get nodes").contains("node-a   Ready"));
    assert!(ok(&mut sh, "get events").contains("PodScheduled"));
    assert_eq!(ok(&mut sh, "get pods -o name"), "pod/web-0\npod/web-1");
    assert_eq!(
        ok(&mut sh, "get pdb"),
        "No resources found in default namespace."
    );
    assert_eq!(
        err(&mut sh, "get pod web-9"),
        "Error from server (NotFound): pods \"web-9\" not found"
    );
}

#[test]
fn describe_shows_the_object_and_its_events() {
    let mut sh = shell("web.yaml");
    ready_web(&mut sh, 2);
    let d = ok(&mut sh, "describe pod web-1");
    assert!(d.contains("Controlled By:    StatefulSet/web"), "{d}");
    assert!(d.contains("Events:\n  Type    Reason"), "{d}");
    assert!(d.contains("PodReady"), "{d}");
    assert!(
        ok(&mut sh, "describe statefulset web").contains("Replicas:         2 desired | 2 total")
    );
    assert!(ok(&mut sh, "describe pvc www-web-0").contains("Used By:          web-0"));
    assert!(ok(&mut sh, "describe node node-a").contains("Unschedulable:    false"));
}

#[test]
fn scale_changes_replicas_and_says_scaled() {
    let mut sh = shell("web.yaml");
    assert_eq!(
        ok(&mut sh, "scale statefulset/web --replicas=3"),
        "statefulset.apps/web scaled"
    );
    ready_web(&mut sh, 3);
    assert_eq!(
        err(&mut sh, "scale statefulset/nope --replicas=3"),
        "Error from server (NotFound): statefulsets.apps \"nope\" not found"
    );
    assert!(
        err(&mut sh, "scale statefulset/web").contains("required flag(s) \"replicas\" not set")
    );
}

#[test]
fn set_image_rolls_out_and_rollout_status_waits_for_it() {
    let mut sh = shell("web.yaml");
    ready_web(&mut sh, 2);
    assert_eq!(
        ok(
            &mut sh,
            "set image statefulset/web web=registry.k8s.io/nginx-slim:0.8"
        ),
        "statefulset.apps/web image updated"
    );
    let s = ok(&mut sh, "rollout status statefulset/web");
    assert!(
        s.ends_with("partitioned roll out complete: 2 new pods have been updated..."),
        "{s}"
    );
    let y = ok(&mut sh, "get pod web-0 -o yaml");
    assert!(y.contains("registry.k8s.io/nginx-slim:0.8"), "{y}");
    let h = ok(&mut sh, "rollout history sts/web");
    assert!(
        h.contains("REVISION   CHANGE-CAUSE\n1          <none>\n2          <none>"),
        "{h}"
    );
    assert_eq!(
        ok(&mut sh, "rollout undo sts/web"),
        "statefulset.apps/web rolled back"
    );
    ok(&mut sh, "rollout status sts/web");
    assert!(ok(&mut sh, "get pod web-1 -o yaml").contains("nginx-slim:0.7"));
}

#[test]
fn patch_sets_the_partition_with_a_merge_patch() {
    let mut sh = shell("web.yaml");
    ready_web(&mut sh, 2);
    let p = r#"patch statefulset web -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":1}}}}'"#;
    assert_eq!(ok(&mut sh, p), "statefulset.apps/web patched");
    ok(&mut sh, "set image sts/web web=nginx:2");
    let s = ok(&mut sh, "rollout status sts/web");
    assert!(
        s.ends_with("partitioned roll out complete: 1 new pods have been updated..."),
        "{s}"
    );
    assert!(ok(&mut sh, "get pod web-0 -o yaml").contains("nginx-slim:0.7"));
    assert!(ok(&mut sh, "get pod web-1 -o yaml").contains("image: nginx:2"));
    let e = err(
        &mut sh,
        r#"patch sts web -p '{"spec":{"serviceName":"x"}}'"#,
    );
    assert!(e.contains("cannot patch spec.serviceName"), "{e}");
}

#[test]
fn delete_pod_graceful_and_forced() {
    let mut sh = shell("web.yaml");
    ready_web(&mut sh, 2);
    assert_eq!(ok(&mut sh, "delete pod web-1"), "pod \"web-1\" deleted");
    ready_web(&mut sh, 2);
    let f = ok(&mut sh, "delete pod web-0 --grace-period=0 --force");
    assert_eq!(
        f,
        "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\npod \"web-0\" force deleted"
    );
    assert!(err(&mut sh, "delete pod web-0 --force").contains("--grace-period=0"));
}

#[test]
fn delete_pvc_and_statefulset() {
    let mut sh = shell("web.yaml");
    ready_web(&mut sh, 2);
    let e = err(&mut sh, "delete deployment web --cascade=orphan");
    assert!(e.contains("StatefulSets only"), "{e}");
    assert_eq!(
        ok(&mut sh, "delete statefulset web"),
        "statefulset.apps \"web\" deleted"
    );
    ok(&mut sh, "wait --for=delete pod/web-0 --timeout=60s");
    assert_eq!(
        ok(&mut sh, "delete pvc www-web-0"),
        "persistentvolumeclaim \"www-web-0\" deleted"
    );
    ok(&mut sh, "sleep 30s");
    assert!(!ok(&mut sh, "get pvc").contains("www-web-0"));
}

#[test]
fn delete_statefulset_cascade_orphan_keeps_the_pods_and_apply_adopts_them() {
    let mut sh = shell("web.yaml");
    ready_web(&mut sh, 2);
    assert_eq!(
        ok(&mut sh, "delete statefulset web --cascade=orphan"),
        "statefulset.apps \"web\" deleted"
    );
    assert!(ok(&mut sh, "get sts").contains("No resources found"));
    ok(&mut sh, "sleep 30s");
    let pods = ok(&mut sh, "get pods");
    assert!(pods.contains("web-0") && pods.contains("web-1"), "{pods}");
    let yaml = ok(&mut sh, "get pod web-0 -o yaml");
    assert!(
        !yaml.contains("ownerReferences"),
        "an orphan has no owner: {yaml}"
    );
    assert!(!ok(&mut sh, "describe pod web-0").contains("Controlled By"));
    let again = format!("apply -f {}", path("web.yaml").display());
    assert!(ok(&mut sh, &again).contains("statefulset.apps/web created"));
    ok(&mut sh, "sleep 5s");
    let yaml = ok(&mut sh, "get pod web-0 -o yaml");
    assert!(yaml.contains("ownerReferences"), "adopted: {yaml}");
    assert!(ok(&mut sh, "get pods").contains("web-1"));
    assert!(ok(&mut sh, "describe pod web-1").contains("Controlled By:    StatefulSet/web"));
}

#[test]
fn cordon_uncordon_and_taint_say_what_they_did() {
    let mut sh = shell("web.yaml");
    assert_eq!(ok(&mut sh, "cordon node-a"), "node/node-a cordoned");
    assert_eq!(ok(&mut sh, "cordon node-a"), "node/node-a already cordoned");
    assert!(ok(&mut sh, "get nodes").contains("node-a   Ready,SchedulingDisabled"));
    assert_eq!(
        ok(&mut sh, "uncordon node/node-a"),
        "node/node-a uncordoned"
    );
    let t = "taint nodes node-b node.kubernetes.io/out-of-service=nodeshutdown:NoExecute";
    assert_eq!(ok(&mut sh, t), "node/node-b tainted");
    assert!(ok(&mut sh, "describe node node-b").contains("out-of-service=nodeshutdown:NoExecute"));
    assert_eq!(ok(&mut sh, &format!("{t}-")), "node/node-b untainted");
    assert!(err(&mut sh, "taint nodes node-b dedicated=db:NoSchedule").contains("one taint"));
}

#[test]
fn apply_creates_then_configures_then_leaves_unchanged() {
    let dir = std::env::temp_dir().join(format!("kube-apply-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("api.yaml");
    let deploy = |replicas: u32| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: api}}\n  template:\n    metadata:\n      labels: {{app: api}}\n    spec:\n      containers: [{{name: api, image: 'api:1'}}]\n"
        )
    };
    std::fs::write(&f, deploy(2)).unwrap();
    let mut sh = shell("web.yaml");
    let cmd = format!("apply -f {}", f.display());
    assert_eq!(ok(&mut sh, &cmd), "deployment.apps/api created");
    assert_eq!(ok(&mut sh, &cmd), "deployment.apps/api unchanged");
    std::fs::write(&f, deploy(3)).unwrap();
    assert_eq!(ok(&mut sh, &cmd), "deployment.apps/api configured");
    ok(&mut sh, "sleep 30s");
    assert!(ok(&mut sh, "get deploy").contains("api    3/3"));
    let web = path("web.yaml");
    let changed = std::fs::read_to_string(&web)
        .unwrap()
        .replace("serviceName: \"nginx\"", "serviceName: \"other\"");
    let g = dir.join("web2.yaml");
    std::fs::write(&g, changed).unwrap();
    let e = err(&mut sh, &format!("apply -f {}", g.display()));
    assert!(
        e.contains("Forbidden: updates to statefulset spec for fields other than"),
        "{e}"
    );
}

#[test]
fn unsupported_verbs_and_flags_are_clear_errors_that_change_nothing() {
    let mut sh = shell("web.yaml");
    assert!(err(&mut sh, "exec web-0 -- ls").contains("unknown command \"exec\""));
    assert!(err(&mut sh, "get pods --watch").contains("unknown flag: --watch"));
    assert!(err(&mut sh, "get widgets").contains("doesn't have a resource type \"widgets\""));
    assert!(
        err(&mut sh, "get pods -n kube-system").contains("namespaces \"kube-system\" not found")
    );
    // A wait that times out is an error too, but it lets the clock run (as
    // kubectl's does), so the cluster may move on meanwhile.
    let (_, e) = sh.line("wait --for=condition=Ready pod/web-5 --timeout=5s");
    assert!(e.contains("timed out"), "{e}");
}

#[test]
fn get_statefulset_yaml_round_trips_through_k8s_openapi() {
    let mut sh = shell("web.yaml");
    ready_web(&mut sh, 2);
    let y = ok(&mut sh, "get statefulset web -o yaml");
    let s: k8s_openapi::api::apps::v1::StatefulSet =
        serde_saphyr::from_str(&y).unwrap_or_else(|e| panic!("{e}\n{y}"));
    let st = s.status.expect("a status");
    assert_eq!(st.replicas, 2);
    assert_eq!(st.ready_replicas, Some(2));
    assert_eq!(st.current_revision, st.update_revision);
    assert!(st.current_revision.unwrap().starts_with("web-"));
    assert_eq!(s.spec.service_name.as_deref(), Some("nginx"));
    let j = ok(&mut sh, "get pod web-0 -o json");
    let p: k8s_openapi::api::core::v1::Pod = serde_json::from_str(&j).unwrap();
    let ps = p.status.unwrap();
    assert_eq!(ps.phase.as_deref(), Some("Running"));
    let cs = &ps.container_statuses.unwrap()[0];
    assert!(cs.ready && cs.state.as_ref().unwrap().running.is_some());
}

#[test]
fn state_out_in_k8s_format_lists_api_objects() {
    let l = load("zookeeper.yaml");
    let mut run = headless::run(l, None, Some(200_000));
    let text = statefulset_sim::shell::state_out(&mut run, "k8s").unwrap();
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    let items = list["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for k in [
        "Node",
        "StatefulSet",
        "Pod",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "PodDisruptionBudget",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?}");
    }
    let pdb = items
        .iter()
        .find(|i| i["kind"] == "PodDisruptionBudget")
        .unwrap();
    assert_eq!(pdb["status"]["disruptionsAllowed"], 1);
    let sts: k8s_openapi::api::apps::v1::StatefulSet = serde_json::from_value(
        items
            .iter()
            .find(|i| i["kind"] == "StatefulSet")
            .unwrap()
            .clone(),
    )
    .unwrap();
    assert_eq!(sts.status.unwrap().updated_replicas, Some(3));
}

// ---------------------------------------------------------------- drain and budgets

/// web: 3 replicas on node-a alone; node-b joins once they are Ready.
fn drain_scenario(budget: &str, steps: &str) -> String {
    format!(
        r#"(name: "drain", cluster: (nodes: [(name: "node-a")]),
        workloads: [StatefulSet((name: "web", replicas: 3, template: (image: "nginx:1")))],
        disruption_budgets: [{budget}],
        steps: [
            (when: Ready(set: "web", count: 3), timeout: 60.0, do: AddNode(name: "node-b")),
            {steps}
        ])"#
    )
}

#[test]
fn drain_blocked_by_a_budget_evicts_one_pod_at_a_time_waiting_for_the_replacement() {
    let text = drain_scenario(
        r#"(name: "web-pdb", set: "web", min_available: 2)"#,
        r#"(after: 1.0, do: DrainNode(node: "node-a")),
           (when: EventSeen((kind: "NodeDrained")), timeout: 600.0, note: "drained"),
           (when: Ready(set: "web", count: 3), timeout: 60.0, note: "all Ready on node-b")"#,
    );
    let run = common::run(&text);
    assert_eq!(run.exit_code(), 0, "{:?}", run.failures);
    let ev = &run.log().events;
    let evictions: Vec<u64> = ev
        .iter()
        .filter(|e| {
            e.kind == EventKind::PodTerminating && e.reason.contains("kubectl drain node-a")
        })
        .map(|e| e.t_ms)
        .collect();
    assert_eq!(evictions.len(), 3, "one eviction per pod");
    assert!(ev.iter().any(|e| e.kind == EventKind::EvictionBlocked
        && e.reason.starts_with("Cannot evict pod as it would violate the pod's disruption budget. The disruption budget web-pdb needs 2 healthy pods and has 2 currently")));
    // Between two evictions, a replacement became Ready on node-b.
    for w in evictions.windows(2) {
        assert!(
            ev.iter().any(|e| e.kind == EventKind::PodReady
                && e.t_ms > w[0]
                && e.t_ms <= w[1]
                && e.node.as_deref() == Some("node-b")),
            "no replacement Ready between evictions at {} and {}",
            w[0],
            w[1]
        );
    }
    // At no instant after the start were fewer than 2 pods Ready.
    let mut ready = std::collections::BTreeSet::new();
    for e in ev {
        match e.kind {
            EventKind::PodReady => {
                ready.insert(e.object.clone());
            }
            EventKind::PodNotReady | EventKind::PodTerminating | EventKind::PodDeleted => {
                ready.remove(&e.object);
            }
            _ => {}
        }
        if e.t_ms > evictions[0] {
            assert!(ready.len() >= 2, "budget violated at {}: {ready:?}", e.t_ms);
        }
    }
    assert!(
        ev.iter()
            .any(|e| e.kind == EventKind::NodeDrained && e.object == "node/node-a")
    );
}

#[test]
fn drain_without_a_budget_evicts_every_pod_at_once() {
    let text = r#"(name: "drain", cluster: (nodes: [(name: "node-a")]),
        workloads: [StatefulSet((name: "web", replicas: 3, template: (image: "nginx:1")))],
        steps: [
            (when: Ready(set: "web", count: 3), timeout: 60.0, do: AddNode(name: "node-b")),
            (after: 1.0, do: DrainNode(node: "node-a")),
        ])"#;
    let run = common::run(text);
    let ev = &run.log().events;
    let evictions: Vec<u64> = ev
        .iter()
        .filter(|e| {
            e.kind == EventKind::PodTerminating && e.reason.contains("kubectl drain node-a")
        })
        .map(|e| e.t_ms)
        .collect();
    assert_eq!(evictions.len(), 3);
    assert!(
        evictions.iter().all(|t| *t == evictions[0]),
        "{evictions:?}"
    );
    assert!(!ev.iter().any(|e| e.kind == EventKind::EvictionBlocked));
}

#[test]
fn evict_pod_honours_the_budget() {
    let text = drain_scenario(
        r#"(name: "web-pdb", set: "web", max_unavailable: 0)"#,
        r#"(after: 1.0, do: EvictPod(pod: "web-1")),
           (after: 1.0, expect: PodPhase(pod: "web-1", phase: Running)),
           (after: 0.0, expect: EventSeen((kind: "CommandRejected")))"#,
    );
    let run = common::run(&text);
    assert_eq!(run.exit_code(), 0, "{:?}", run.failures);
    let rejected = common::events(&run, EventKind::CommandRejected);
    assert!(
        rejected[0].reason.contains("Cannot evict pod"),
        "{}",
        rejected[0].reason
    );
}

#[test]
fn kubectl_drain_in_the_shell_prints_what_kubectl_prints() {
    let text = drain_scenario(r#"(name: "web-pdb", set: "web", min_available: 2)"#, "");
    let l = load_str("drain.ron", text.as_bytes()).unwrap_or_else(|d| panic!("{d}"));
    let mut sh = Shell::new(l);
    ok(
        &mut sh,
        "wait --for=condition=Ready pod/web-2 --timeout=60s",
    );
    ok(&mut sh, "sleep 1s");
    let (out, errs) = sh.line("kubectl drain node-a --ignore-daemonsets --delete-emptydir-data");
    assert!(
        out.starts_with("node/node-a cordoned\nevicting pod default/web-0"),
        "{out}"
    );
    assert!(
        out.contains("pod/web-0 evicted") && out.ends_with("node/node-a drained"),
        "{out}"
    );
    assert!(
        errs.contains("error when evicting pods/\"web-1\" -n \"default\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."),
        "{errs}"
    );
    // The drain is over when the last evicted pod is gone; its replacement
    // on node-b becomes Ready a little later, and the budget allows one again.
    for p in ["web-0", "web-1", "web-2"] {
        ok(
            &mut sh,
            &format!("wait --for=condition=Ready pod/{p} --timeout=120s"),
        );
    }
    let pdb = ok(&mut sh, "get pdb web-pdb");
    let row: Vec<&str> = pdb
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(row[..4], ["web-pdb", "2", "N/A", "1"], "{pdb}");
}

#[test]
fn a_kubectl_step_runs_in_a_scenario_and_logs_what_kubectl_printed() {
    let text = r#"(name: "k", cluster: (nodes: [(name: "node-a")]),
        workloads: [StatefulSet((name: "web", replicas: 1, template: (image: "nginx:1")))],
        steps: [
            (at: 5.0, do: Kubectl("scale statefulset/web --replicas=2")),
            (when: Ready(set: "web", count: 2), timeout: 60.0, do: Kubectl("get pod web-9")),
            (after: 0.0, expect: EventSeen((kind: "KubectlRan", object: "kubectl"))),
        ])"#;
    let run = common::run(text);
    assert_eq!(run.exit_code(), 0, "{:?}", run.failures);
    let ran = common::events(&run, EventKind::KubectlRan);
    assert_eq!(
        ran[0].reason,
        "kubectl scale statefulset/web --replicas=2: statefulset.apps/web scaled"
    );
    let rejected = common::events(&run, EventKind::CommandRejected);
    assert!(
        rejected[0]
            .reason
            .contains("Error from server (NotFound): pods \"web-9\" not found")
    );
}

#[test]
fn a_kubectl_step_that_does_not_parse_is_a_load_error_at_its_step() {
    let text = "(name: \"k\", cluster: (nodes: [(name: \"node-a\")]),\n steps: [\n  (at: 1.0, do: Kubectl(\"frobnicate pods\")),\n])";
    let e = load_str("k.ron", text.as_bytes()).unwrap_err().to_string();
    assert!(
        e.starts_with("k.ron:3:") && e.contains("unknown command \"frobnicate\""),
        "{e}"
    );
    let text = "(name: \"k\", cluster: (nodes: [(name: \"node-a\")]),\n steps: [\n  (at: 1.0, do: Kubectl(\"sleep 5s\")),\n])";
    let e = load_str("k.ron", text.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("use `after:`"), "{e}");
}

#[test]
fn the_cli_reads_manifests_and_the_shell_reads_stdin() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_statefulset-sim");
    let out = Command::new(bin)
        .args([
            path("web.yaml").to_str().unwrap(),
            "--headless",
            "--until",
            "60",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("web-1"));
    let mut child = Command::new(bin)
        .args(["shell", path("web.yaml").to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"wait --for=condition=Ready pod/web-1 --timeout=60s\nscale sts web --replicas=3\nget pod web-7\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        "pod/web-1 condition met\nstatefulset.apps/web scaled\n"
    );
    assert_eq!(out.status.code(), Some(1));
    let bad = std::env::temp_dir().join(format!("kube-bad-{}.yaml", std::process::id()));
    std::fs::write(
        &bad,
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  replicas: many\n",
    )
    .unwrap();
    let out = Command::new(bin)
        .args([bad.to_str().unwrap(), "--headless"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains(":6:13: error: StatefulSet web: spec.replicas:"),
        "{e}"
    );
}
