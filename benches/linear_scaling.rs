//! Benchmark of how the headless core's cost grows with a StatefulSet's size:
//! a scale-up then a full rolling update (100 nodes, one template change,
//! maxUnavailable 1), Parallel at 1,000 / 2,000 / 5,000 / 10,000 replicas and
//! OrderedReady at 1,000 / 2,000 / 5,000. Prints, per size, the wall time,
//! the time per replica and its ratio to the 1,000-replica case (constant
//! when the cost grows linearly), events per second and the process's peak
//! memory after the run (VmHWM). The log is streamed to nowhere, as
//! `--events-out` streams it to a file, so memory is the world's own.
//!
//! `cargo bench --no-default-features --bench linear_scaling`
//! (`SCALING_MAX=2000` stops at that size, for a quick look).

use criterion::{Criterion, criterion_group, criterion_main};
use statefulset_sim::headless::{self, Output};
use statefulset_sim::scenario::load_str;
use std::hint::black_box;
use std::time::Instant;

fn scenario(replicas: u32, policy: &str) -> String {
    let nodes: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"(name: "node-{i:03}", zone: "zone-{}", cpu_millis: 640000, memory_mib: 2621440)"#,
                i % 3
            )
        })
        .collect();
    format!(
        r#"(name: "scaling", seed: 1, cluster: (nodes: [{}]),
            workloads: [StatefulSet((name: "web", replicas: {replicas}, pod_management: {policy},
                update_strategy: RollingUpdate(max_unavailable: 1),
                template: (image: "nginx:1"), claims: [(name: "www")]))],
            steps: [
                (when: Ready(set: "web", count: {replicas}), timeout: 600000.0, do: SetImage(set: "web", image: "nginx:2")),
                (when: SetStatus(set: "web", updated: {replicas}, ready: {replicas}), timeout: 600000.0, expect: NoInvariantBroken),
            ])"#,
        nodes.join(", ")
    )
}

/// One run, its log streamed away; returns the number of events.
fn run(text: &str) -> usize {
    let loaded = load_str("scaling.ron", text.as_bytes()).expect("bench scenario loads");
    let mut sink = std::io::sink();
    let out = Output {
        events: Some(&mut sink),
        ..Default::default()
    };
    let r = headless::run_with(loaded, None, None, out).expect("a sink cannot fail");
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    r.log().total()
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Times each size (the median of five runs up to 2,000 replicas, of three
/// above) and prints how the cost per replica grows.
fn table(policy: &str, sizes: &[u32]) {
    let max: u32 = std::env::var("SCALING_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u32::MAX);
    eprintln!("{policy}: scale-up then a full rolling update, 100 nodes");
    eprintln!("  replicas  seconds  us/replica  vs 1000  events/s  peak MiB");
    let mut base: Option<f64> = None;
    for &n in sizes.iter().filter(|&&n| n <= max) {
        let text = scenario(n, policy);
        let runs = if n <= 2000 { 5 } else { 3 };
        let mut times = Vec::new();
        let mut events = 0;
        for _ in 0..runs {
            let t = Instant::now();
            events = run(&text);
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let secs = times[times.len() / 2];
        let per = secs / n as f64 * 1e6;
        let ratio = per / *base.get_or_insert(per);
        eprintln!(
            "  {n:>8}  {secs:>7.3}  {per:>10.1}  {ratio:>6.2}x  {:>8.0}  {:>8.1}",
            events as f64 / secs,
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
}

fn bench(c: &mut Criterion) {
    table("Parallel", &[1000, 2000, 5000, 10000]);
    table("OrderedReady", &[1000, 2000, 5000]);
    // The 1,000-replica case sampled properly, for run-to-run comparison.
    let mut g = c.benchmark_group("scale_up_then_rolling_update");
    g.sample_size(10);
    for policy in ["Parallel", "OrderedReady"] {
        let text = scenario(1000, policy);
        g.bench_function(format!("{policy}_1000_replicas"), |b| {
            b.iter(|| black_box(run(&text)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
