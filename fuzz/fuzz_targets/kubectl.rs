//! Fuzz target: kubectl lines typed at a small running cluster (the
//! `shell` subcommand and the GUI console): each line is parsed, applied,
//! and the world settled (`sleep` and `wait` move the clock). At most 16
//! lines per input, so one input stays a short session.
#![no_main]

use libfuzzer_sys::fuzz_target;
use statefulset_sim::scenario::{Loaded, load_str};
use statefulset_sim::shell::Shell;
use std::sync::OnceLock;

/// Three nodes in two zones, a StatefulSet with claims, a Deployment and a
/// budget: every kind kubectl can name.
const CLUSTER: &str = r#"(
    name: "fuzz",
    cluster: (nodes: [(name: "node-a", zone: "z1"), (name: "node-b", zone: "z1"), (name: "node-c", zone: "z2")]),
    workloads: [
        StatefulSet((name: "web", replicas: 3, template: (image: "nginx:1"), claims: [(name: "data")])),
        Deployment((name: "api", replicas: 2, template: (image: "api:1"))),
    ],
    disruption_budgets: [(name: "web-pdb", set: "web", min_available: 2)],
)"#;

fn cluster() -> &'static Loaded {
    static L: OnceLock<Loaded> = OnceLock::new();
    L.get_or_init(|| load_str("fuzz.ron", CLUSTER.as_bytes()).expect("the fuzz cluster loads"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut sh = Shell::new(cluster().clone());
    for line in text.lines().take(16) {
        let _ = sh.line(line);
    }
});
