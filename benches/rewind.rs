//! Benchmark of the rewind (a replay from t = 0 of the scenario and its
//! tape, docs/architecture.md "The tape and the rewind"): to random instants
//! of every lesson, median and worst (target: under 50 ms, so scrubbing the
//! timeline feels live), and in a 1,000-pod run (target: under 2 s). Run it
//! without the GUI: `cargo bench --no-default-features --bench rewind`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statefulset_sim::headless;
use statefulset_sim::scenario::tape::{self, Entry, Input};
use statefulset_sim::scenario::{Loaded, load_file, load_str};
use statefulset_sim::sim::{self, Advance};
use std::time::Instant;

/// The lesson played to its end as the window plays it, each question
/// answered at once: the tape a rewind replays.
fn answers(loaded: &Loaded, end: u64) -> Vec<Entry> {
    let mut w = tape::fresh_world(loaded.clone(), None, true);
    let mut tape = Vec::new();
    while sim::advance_until(&mut w, end, &mut |_| true) == Advance::Paused {
        let e = Entry::now(&w, Input::Answer);
        tape::apply(&mut w, &e.input);
        tape.push(e);
    }
    tape
}

/// Seconds per rewind to each of `n` random instants of the run.
fn rewinds(loaded: &Loaded, end: u64, n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let tape = answers(loaded, end);
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let t = rng.random_range(0..=end);
            let start = Instant::now();
            let (w, _) = tape::rewind(loaded.clone(), None, true, &tape, t);
            std::hint::black_box(w);
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

fn big(replicas: u32) -> String {
    let nodes: Vec<String> = (0..50)
        .map(|i| {
            format!(
                r#"(name: "node-{i:02}", zone: "zone-{}", cpu_millis: 64000, memory_mib: 262144)"#,
                i % 3
            )
        })
        .collect();
    format!(
        r#"(name: "bench", seed: 1, cluster: (nodes: [{}]),
            workloads: [StatefulSet((name: "web", replicas: {replicas}, template: (image: "nginx:1"), claims: [(name: "www")]))],
            steps: [
                (when: Ready(set: "web", count: {replicas}), timeout: 100000.0, do: SetImage(set: "web", image: "nginx:2")),
                (when: SetStatus(set: "web", updated: {replicas}, ready: {replicas}), timeout: 100000.0, expect: NoInvariantBroken),
            ])"#,
        nodes.join(", ")
    )
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut files: Vec<_> = std::fs::read_dir("scenarios")
        .expect("run from the crate root")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let loaded = load_file(&f).expect("lessons load");
        let end = headless::run(loaded.clone(), None, None).now_ms();
        let t = rewinds(&loaded, end, 20, &mut rng);
        eprintln!(
            "rewind {:<40} median {:6.1} ms, worst {:6.1} ms (run of {:.0} s)",
            f.file_name()
                .map_or(String::new(), |n| n.to_string_lossy().to_string()),
            t[t.len() / 2] * 1000.0,
            t[t.len() - 1] * 1000.0,
            end as f64 / 1000.0
        );
        all.extend(t);
    }
    all.sort_by(f64::total_cmp);
    eprintln!(
        "rewind, all lessons ({} rewinds): median {:.1} ms, worst {:.1} ms (target < 50 ms)",
        all.len(),
        all[all.len() / 2] * 1000.0,
        all[all.len() - 1] * 1000.0
    );
    let loaded = load_str("bench.ron", big(1000).as_bytes()).expect("bench scenario loads");
    let end = headless::run(loaded.clone(), None, None).now_ms();
    let t = rewinds(&loaded, end, 5, &mut rng);
    eprintln!(
        "rewind, 1000 pods ({:.0} s run, 5 random instants): median {:.2} s, worst {:.2} s (target < 2 s)",
        end as f64 / 1000.0,
        t[t.len() / 2],
        t[t.len() - 1]
    );
}
