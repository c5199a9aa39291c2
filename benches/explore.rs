//! Benchmark of `statefulset-sim explore`: runs per second on the sandbox,
//! one at a time and as a campaign on one thread and on every core (target
//! ≥ 500 runs/s), on lesson 7 (the MySQL lesson) and on lesson 12 (local
//! volumes), their steps included, and the time to shrink a 20-fault
//! failure (target < 10 s). Run it without the GUI:
//! `cargo bench --no-default-features --bench explore`.

use criterion::{Criterion, criterion_group, criterion_main};
use statefulset_sim::explore::fault::FaultKind;
use statefulset_sim::explore::{Campaign, Options, Property};
use statefulset_sim::scenario::load_file;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

/// The allocator the `statefulset-sim` binary uses (src/main.rs), so the
/// figures are those of `statefulset-sim explore`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn campaign(lesson: &str, opts: Options) -> Campaign {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(lesson);
    Campaign::new(&load_file(&p).expect("shipped lesson loads"), opts)
}

/// Runs per second over `runs` seeded runs (drawing, playing, checking).
fn runs_per_second(c: &Campaign, runs: u64) -> f64 {
    let t = Instant::now();
    let mut events = 0;
    for seed in 0..runs {
        events += black_box(c.run(&c.draw(seed))).events;
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!("  {runs} runs, {events} events in {secs:.2} s");
    runs as f64 / secs
}

/// A run of exactly 20 faults that splits mysql's brain, and its shrink time.
fn shrink_twenty(c: &Campaign) {
    for seed in 0..5000 {
        let faults = c.draw(seed);
        if faults.len() != 20 {
            continue;
        }
        let out = c.run(&faults);
        if out.first().map(|(p, _)| p) != Some(Property::OneProcessPerIdentity) {
            continue;
        }
        let t = Instant::now();
        let f = c.shrink(Property::OneProcessPerIdentity, seed, faults);
        eprintln!(
            "shrink a 20-fault split brain (seed {seed}): to {} fault(s) in {} runs, {:.2} s (target < 10 s)",
            f.shrunk.len(),
            f.shrink_runs,
            t.elapsed().as_secs_f64()
        );
        return;
    }
    eprintln!("no 20-fault split brain among 5000 seeds");
}

fn bench(cr: &mut Criterion) {
    let sandbox = campaign("00-sandbox.ron", Options::default());
    eprintln!("sandbox, all fault kinds, up to 6 faults:");
    let rate = runs_per_second(&sandbox, 2000);
    eprintln!("sandbox: {rate:.0} runs/s (target >= 500)");
    // A whole campaign (draw, play, check, tally; nothing fails on the
    // sandbox) on one thread and on one per core: what `explore` does.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for jobs in [1, cores] {
        let c = campaign(
            "00-sandbox.ron",
            Options {
                runs: 2000,
                jobs,
                ..Options::default()
            },
        );
        let t = Instant::now();
        let r = c.explore(&mut |_, _| {});
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "sandbox campaign, {} runs on {jobs} thread(s): {secs:.2} s, {:.0} runs/s (target >= 500)",
            r.runs,
            r.runs as f64 / secs
        );
    }
    let mysql = campaign("07-mysql.ron", Options::default());
    eprintln!("lesson 7 (its steps, then faults):");
    let rate = runs_per_second(&mysql, 500);
    eprintln!("lesson 7: {rate:.0} runs/s");
    let local = campaign("12-local-volumes.ron", Options::default());
    eprintln!("lesson 12 (its steps, then faults):");
    let rate = runs_per_second(&local, 500);
    eprintln!("lesson 12: {rate:.0} runs/s");
    let split = campaign(
        "11-split-brain.ron",
        Options {
            cluster_only: true,
            max_faults: 20,
            until_s: 20.0 * 400.0,
            kinds: FaultKind::ALL.to_vec(),
            ..Options::default()
        },
    );
    shrink_twenty(&split);
    let mut g = cr.benchmark_group("explore");
    g.sample_size(20);
    let faults = sandbox.draw(7);
    g.bench_function("one_sandbox_run", |b| {
        b.iter(|| black_box(sandbox.run(&faults)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
