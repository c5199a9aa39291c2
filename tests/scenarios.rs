//! Every scenario in `scenarios/` runs headless with all expectations holding
//! and no invariant broken, and runs are deterministic (a golden event log
//! in `tests/golden/`).

mod common;

use common::lesson_files;
use statefulset_sim::headless;
use statefulset_sim::scenario::{Loaded, load_file, load_str};
use statefulset_sim::sim::EventLog;
use statefulset_sim::sim::controllers::kubelet::KubeletFullWalk;
use statefulset_sim::sim::event::EventKind;
use std::path::PathBuf;

#[test]
fn every_lesson_runs_headless_with_its_story_holding() {
    let files = lesson_files();
    assert!(
        files.len() >= 4,
        "expected the lesson library in scenarios/, found {}",
        files.len()
    );
    let mut problems = Vec::new();
    for f in &files {
        let loaded = match load_file(f) {
            Ok(l) => l,
            Err(d) => {
                problems.push(format!("{}: does not load: {d}", f.display()));
                continue;
            }
        };
        let deliberate_breach = loaded.scenario.steps.iter().any(|s| s.expects_breach());
        let run = headless::run(loaded, None, None);
        common::dump_log(&f.display().to_string(), "lesson", &run.events_jsonl());
        for (step, msg) in &run.failures {
            problems.push(format!("{} step {step}: {msg}", f.display()));
        }
        let breaches = common::events(&run, EventKind::InvariantBroken).len();
        if breaches > 0 && !deliberate_breach {
            problems.push(format!(
                "{}: {breaches} InvariantBroken events",
                f.display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "lessons whose story no longer holds:\n{}",
        problems.join("\n")
    );
}

/// The golden test: the rolling-update lesson's event log, byte for byte,
/// kept in this file. After a deliberate behaviour change, rewrite it with
/// `UPDATE_GOLDEN=1 cargo test --test scenarios` and review the diff.
const GOLDEN_04: &str = "tests/golden/04-rolling-update-partition.jsonl";

/// How many differing lines a golden mismatch prints.
const SHOWN_DIFFS: usize = 5;

#[test]
fn same_scenario_and_seed_give_a_byte_identical_event_log_and_snapshot() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("scenarios/04-rolling-update-partition.ron");
    let mut a = headless::run(load_file(&path).expect("loads"), None, None);
    let mut b = headless::run(load_file(&path).expect("loads"), None, None);
    let (la, lb) = (a.events_jsonl(), b.events_jsonl());
    assert!(la.len() > 1000, "the log should hold the whole story");
    assert_eq!(la, lb, "two runs of one scenario differ");
    assert_eq!(a.snapshot_json(), b.snapshot_json(), "two snapshots differ");
    // Step labels name the file by its full path; store the log as if the
    // checkout lived at "." so the golden file holds in every worktree.
    let got = la.replace(concat!(env!("CARGO_MANIFEST_DIR"), "/"), "./");
    let golden = root.join(GOLDEN_04);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &got).expect("golden file is writable");
        eprintln!("UPDATE_GOLDEN: rewrote {GOLDEN_04}");
        return;
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|e| panic!("{GOLDEN_04}: {e} (create it with UPDATE_GOLDEN=1)"));
    if let Some(report) = first_differences(&expected, &got, SHOWN_DIFFS) {
        panic!(
            "the event log of lesson 04 differs from {GOLDEN_04}:\n{report}\n\
             If the change is deliberate, rewrite the file with \
             `UPDATE_GOLDEN=1 cargo test --test scenarios` and review its diff."
        );
    }
}

/// The first `max` lines where two texts differ, each as its 1-based line
/// number with the expected and the actual line; `None` if they are equal.
fn first_differences(expected: &str, got: &str, max: usize) -> Option<String> {
    if expected == got {
        return None;
    }
    let (e, g): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    let mut out = Vec::new();
    for i in 0..e.len().max(g.len()) {
        let (x, y) = (e.get(i), g.get(i));
        if x != y {
            let show = |l: Option<&&str>| l.map_or("<end of log>".to_string(), |l| l.to_string());
            out.push(format!(
                "line {}:\n  expected: {}\n  got:      {}",
                i + 1,
                show(x),
                show(y)
            ));
            if out.len() == max {
                break;
            }
        }
    }
    if out.is_empty() {
        out.push("the lines agree; only the final newline differs".to_string());
    }
    out.push(format!("({} lines expected, {} got)", e.len(), g.len()));
    Some(out.join("\n"))
}

#[test]
fn a_golden_mismatch_names_the_first_differing_lines() {
    let report = first_differences("a\nb\nc\n", "a\nB\nc\nd\n", 5).expect("they differ");
    assert_eq!(
        report,
        "line 2:\n  expected: b\n  got:      B\n\
         line 4:\n  expected: <end of log>\n  got:      d\n\
         (3 lines expected, 4 got)"
    );
    assert_eq!(first_differences("a\n", "a\n", 5), None);
}

#[test]
fn a_different_seed_changes_deployment_names_but_not_statefulset_names() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/01-identity-vs-deployment.ron");
    let a = headless::run(load_file(&path).expect("loads"), Some(1), None);
    let b = headless::run(load_file(&path).expect("loads"), Some(2), None);
    let names = |r: &headless::Run, prefix: &str| -> Vec<String> {
        let mut v: Vec<String> = common::objects(r, EventKind::PodCreated)
            .into_iter()
            .filter(|o| o.starts_with(prefix))
            .collect();
        v.sort();
        v
    };
    assert_ne!(
        names(&a, "pod/api-"),
        names(&b, "pod/api-"),
        "Deployment pod names come from the seeded RNG"
    );
    assert_eq!(
        names(&a, "pod/web-"),
        names(&b, "pod/web-"),
        "StatefulSet names are identities, not random"
    );
}

/// A run's event log with the kubelet syncing only the pods whose inputs
/// changed (as it does), or walking every pod of a changed node (`full`).
fn kubelet_log(loaded: Loaded, seed: Option<u64>, full: bool) -> String {
    let mut app = statefulset_sim::scenario::core_app();
    let world = app.world_mut();
    world.insert_resource(KubeletFullWalk(full));
    statefulset_sim::scenario::install(world, loaded, seed, false);
    statefulset_sim::scenario::run::drive(world, None, false, Default::default())
        .expect("no stream to fail");
    world.resource::<EventLog>().to_jsonl()
}

/// The kubelet's per-pod work (a speed-up, src/sim/controllers/kubelet_work.rs)
/// changes nothing a user sees: every lesson, on two seeds, and a rollout
/// through a node failure, a partition and a force delete log exactly what
/// a kubelet walking every pod of each changed node logs.
#[test]
fn a_kubelet_syncing_only_changed_pods_logs_exactly_what_a_full_walk_logs() {
    let mut cases: Vec<(String, Loaded)> = lesson_files()
        .iter()
        .map(|f| (f.display().to_string(), load_file(f).expect("lesson loads")))
        .collect();
    let churn = r#"(name: "churn", seed: 3,
        cluster: (nodes: [(name: "n1", zone: "a"), (name: "n2", zone: "a"), (name: "n3", zone: "b"), (name: "n4", zone: "b")]),
        workloads: [
            StatefulSet((name: "web", replicas: 12, pod_management: Parallel,
                update_strategy: RollingUpdate(max_unavailable: 2),
                template: (image: "nginx:1"), claims: [(name: "www")])),
            Deployment((name: "api", replicas: 4, template: (image: "api:1"))),
        ],
        steps: [
            (at: 30.0, do: SetImage(set: "web", image: "nginx:2")),
            (at: 34.0, do: FailNode(node: "n2")),
            (at: 40.0, do: PartitionNode(node: "n3")),
            (at: 45.0, do: ForceDeletePod(pod: "web-5")),
            (at: 47.0, do: CrashPod(pod: "web-9", times: 2)),
            (at: 48.0, do: BreakReadiness(pod: "web-10")),
            (at: 50.0, do: DeletePod(pod: "web-7")),
            (at: 120.0, do: RecoverNode(node: "n3")),
            (at: 400.0, do: RecoverNode(node: "n2")),
            (at: 420.0, do: SetImage(set: "web", image: "nginx:404")),
            (at: 500.0, do: Scale(set: "web", replicas: 5)),
        ])"#;
    cases.push((
        "churn".into(),
        load_str("churn.ron", churn.as_bytes()).expect("churn loads"),
    ));
    let mut differ = Vec::new();
    for (name, loaded) in cases {
        for seed in [None, Some(1)] {
            let per_pod = kubelet_log(loaded.clone(), seed, false);
            let full = kubelet_log(loaded.clone(), seed, true);
            if let Some(d) = first_differences(&full, &per_pod, 3) {
                differ.push(format!("{name} (seed {seed:?}):\n{d}"));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "logs that differ:\n{}",
        differ.join("\n")
    );
}
