//! Every scenario in `scenarios/` runs headless with all expectations holding
//! and no invariant broken, and runs are deterministic (golden hash).

mod common;

use statefulset_sim::headless;
use statefulset_sim::scenario::load_file;
use statefulset_sim::sim::event::{EventKind, fnv1a64};
use std::path::PathBuf;

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_lesson_runs_headless_with_its_story_holding() {
    let files = scenario_files();
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

/// The golden test: the rolling-update lesson's event log, byte for byte.
/// If a deliberate behaviour change moves this hash, check the new log by
/// eye (`--events-out`) and update the constant in the same commit.
const GOLDEN_04: u64 = 10713636821942092703;

#[test]
fn same_scenario_and_seed_give_a_byte_identical_event_log_and_snapshot() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/04-rolling-update-partition.ron");
    let mut a = headless::run(load_file(&path).expect("loads"), None, None);
    let mut b = headless::run(load_file(&path).expect("loads"), None, None);
    let (la, lb) = (a.events_jsonl(), b.events_jsonl());
    assert!(la.len() > 1000, "the log should hold the whole story");
    assert_eq!(la, lb, "two runs of one scenario differ");
    assert_eq!(a.snapshot_json(), b.snapshot_json(), "two snapshots differ");
    // Step labels name the file by its full path; hash the log as if the
    // checkout lived at "." so the golden value holds in every worktree.
    let portable = la.replace(concat!(env!("CARGO_MANIFEST_DIR"), "/"), "./");
    assert_eq!(
        fnv1a64(portable.as_bytes()),
        GOLDEN_04,
        "event log of 04 changed; see the comment on GOLDEN_04"
    );
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
