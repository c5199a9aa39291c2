//! Benchmark of the headless core: a 1,000-replica OrderedReady scale-up
//! followed by a full rolling update, run to completion. Prints events/s and
//! the process's peak memory after the runs.

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
    // The target case, measured once (a run takes long enough that
    // criterion's repeated sampling would take many minutes).
    let text = scenario(1000);
    let t = std::time::Instant::now();
    let events = run(&text);
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "1000 replicas, one run: {events} events in {secs:.3} s = {:.0} events/s",
        events as f64 / secs
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
