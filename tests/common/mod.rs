//! Helpers shared by the integration tests: run a scenario snippet headless
//! and look at its event log.

// Each test crate compiles its own copy of this module and uses only some of
// the helpers; every helper is used by at least one crate.
#![allow(dead_code)]

use statefulset_sim::headless::{self, Run};
use statefulset_sim::scenario::load_str;
use statefulset_sim::sim::event::{EventKind, SimEvent};

/// Every lesson in `scenarios/` (the `.ron` files), in name order.
pub fn lesson_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}

/// A cluster of three nodes in two zones, as RON, for snippets.
pub const NODES3: &str = r#"nodes: [(name: "node-a", zone: "zone-1"), (name: "node-b", zone: "zone-1"), (name: "node-c", zone: "zone-2")]"#;

/// With `SIM_DUMP_DIR` set, every run's event log is written there, named by
/// a hash of its scenario text: two builds can then be compared with `diff -r`
/// (a change meant only to be faster must leave every log byte-identical).
pub fn dump_log(text: &str, tag: &str, jsonl: &str) {
    if let Some(dir) = std::env::var_os("SIM_DUMP_DIR") {
        let h = statefulset_sim::sim::event::fnv1a64(text.as_bytes());
        let path = std::path::Path::new(&dir).join(format!("{tag}-{h:016x}.jsonl"));
        std::fs::create_dir_all(&dir).expect("SIM_DUMP_DIR can be created");
        std::fs::write(path, jsonl).expect("SIM_DUMP_DIR is writable");
    }
}

/// Runs scenario text headless to the end.
pub fn run(text: &str) -> Run {
    let loaded = load_str("test.ron", text.as_bytes())
        .unwrap_or_else(|d| panic!("scenario does not load: {d}"));
    let r = headless::run(loaded, None, None);
    dump_log(text, "run", &r.events_jsonl());
    r
}

/// Runs scenario text headless until a simulated second.
pub fn run_until(text: &str, secs: u64) -> Run {
    let loaded = load_str("test.ron", text.as_bytes())
        .unwrap_or_else(|d| panic!("scenario does not load: {d}"));
    let r = headless::run(loaded, None, Some(secs * 1000));
    dump_log(&format!("{text}{secs}"), "until", &r.events_jsonl());
    r
}

/// A scenario with one StatefulSet (fields given as RON) and steps.
pub fn set_scenario(set_fields: &str, steps: &str) -> String {
    let template = if set_fields.contains("template:") {
        ""
    } else {
        r#"template: (image: "nginx:1"), "#
    };
    format!(
        r#"(name: "t", seed: 3, cluster: ({NODES3}), workloads: [StatefulSet((name: "web", {template}claims: [(name: "www")], {set_fields}))], steps: [{steps}])"#
    )
}

pub fn events(run: &Run, kind: EventKind) -> Vec<&SimEvent> {
    run.log().events.iter().filter(|e| e.kind == kind).collect()
}

pub fn objects(run: &Run, kind: EventKind) -> Vec<String> {
    events(run, kind).iter().map(|e| e.object.clone()).collect()
}

/// The time (ms) of the first event of this kind for this object.
pub fn time_of(run: &Run, kind: EventKind, object: &str) -> Option<u64> {
    run.log()
        .events
        .iter()
        .find(|e| e.kind == kind && e.object == object)
        .map(|e| e.t_ms)
}

pub fn times_of(run: &Run, kind: EventKind, object: &str) -> Vec<u64> {
    run.log()
        .events
        .iter()
        .filter(|e| e.kind == kind && e.object == object)
        .map(|e| e.t_ms)
        .collect()
}

pub fn assert_no_failures(run: &Run) {
    assert!(
        run.failures.is_empty(),
        "scenario expectations failed: {:#?}",
        run.failures
    );
}
