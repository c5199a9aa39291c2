//! Benchmark of the headless core: a 1,000-replica OrderedReady scale-up
//! followed by a full rolling update, run to completion. Prints events/s and
//! the process's peak memory after the runs. Run it without the GUI:
//! `cargo bench --no-default-features --bench scale_and_rollout`.

use criterion::{Criterion, criterion_group, criterion_main};
use statefulset_sim::headless;
use statefulset_sim::scenario::load_str;
use std::hint::black_box;

fn scenario(replicas: u32) -> String {
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

fn run(text: &str) -> usize {
    let loaded = load_str("bench.ron", text.as_bytes()).expect("bench scenario loads");
    let r = headless::run(loaded, None, None);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    r.log().events.len()
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn bench(c: &mut Criterion) {
    // The target case (< 1 s): five runs, reported by their median and
    // extremes (criterion's default sampling would repeat it ~100 times).
    let text = scenario(1000);
    let mut times = Vec::new();
    let mut events = 0;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        events = run(&text);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let secs = times[times.len() / 2];
    eprintln!(
        "1000 replicas, median of {} runs: {events} events in {secs:.3} s = {:.0} events/s (fastest {:.3} s, slowest {:.3} s)",
        times.len(),
        events as f64 / secs,
        times[0],
        times[times.len() - 1]
    );
    if let Some(m) = peak_rss_mib() {
        eprintln!("peak memory (VmHWM) after the 1000-replica run: {m:.1} MiB");
    }
    // Smaller sizes sampled properly, to show how the cost grows.
    let mut g = c.benchmark_group("scale_up_then_rolling_update");
    g.sample_size(10);
    for n in [50u32, 100, 200] {
        let text = scenario(n);
        g.bench_function(format!("{n}_replicas"), |b| {
            b.iter(|| black_box(run(&text)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
