//! `statefulset-sim explore`: campaigns find what breaks, shrink it, and
//! write a scenario that fails the same way when replayed.

use statefulset_sim::explore::fault::FaultKind;
use statefulset_sim::explore::{Campaign, Finding, Options, Property};
use statefulset_sim::headless;
use statefulset_sim::scenario::{load_file, load_str};
use std::path::Path;
use std::time::Instant;

fn lesson(name: &str) -> statefulset_sim::scenario::Loaded {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    load_file(&p).expect("shipped lesson loads")
}

fn all_but(skip: &[FaultKind]) -> Vec<FaultKind> {
    FaultKind::ALL
        .into_iter()
        .filter(|k| !skip.contains(k))
        .collect()
}

fn finding(report: &statefulset_sim::explore::Report, p: Property) -> Finding {
    report
        .findings
        .iter()
        .find(|f| f.property == p)
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no {p:?} found in {} runs; failures: {:?}",
                report.runs, report.failed
            )
        })
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("explore-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir can be created");
    dir.join(name)
}

/// The split-brain lesson's cluster (mysql, 3 replicas, 3 nodes), its
/// steps dropped: the campaign must find the split brain by itself.
fn split_brain_campaign(kinds: Vec<FaultKind>, runs: u32, planted_bug: bool) -> Campaign {
    Campaign::new(
        &lesson("11-split-brain.ron"),
        Options {
            runs,
            seed: 1,
            kinds,
            cluster_only: true,
            planted_bug,
            ..Options::default()
        },
    )
}

#[test]
fn a_force_delete_campaign_finds_a_second_live_identity_and_shrinks_it_to_three_steps() {
    let c = split_brain_campaign(FaultKind::ALL.to_vec(), 150, false);
    let r = c.explore(&mut |_, _| {});
    let f = finding(&r, Property::OneProcessPerIdentity);
    assert!(
        f.shrunk.len() <= 3,
        "shrunk to {} steps: {:?}",
        f.shrunk.len(),
        f.shrunk
    );
    assert!(f.shrunk.len() < f.original.len() || f.original.len() <= 3);
    assert!(
        f.message.contains("split brain") && f.message.contains("mysql-"),
        "{}",
        f.message
    );
    assert!(
        f.shrunk
            .iter()
            .any(|x| x.kind() == Some(FaultKind::ForceDelete)
                || x.kind() == Some(FaultKind::DeleteNode)
                || x.kind() == Some(FaultKind::OutOfService)),
        "a split brain needs something that force-deletes: {:?}",
        f.shrunk
    );
}

#[test]
fn the_written_scenario_reproduces_the_failure_byte_for_byte() {
    let c = split_brain_campaign(
        vec![
            FaultKind::Partition,
            FaultKind::ForceDelete,
            FaultKind::Recover,
        ],
        60,
        false,
    );
    let r = c.explore(&mut |_, _| {});
    let f = finding(&r, Property::OneProcessPerIdentity);
    let path = temp_path("split-brain.ron");
    std::fs::write(&path, &f.text).expect("written");
    // The file loads like any lesson, and fails the same way.
    let replay = c.replay(&path, &f).expect("the written scenario loads");
    assert_eq!(
        replay.first().map(|(p, _)| p),
        Some(Property::OneProcessPerIdentity)
    );
    // Twice from the file: the same log, byte for byte, and the same
    // failed expectation, the run's last check of safety.
    let run = |p: &Path| headless::run(load_file(p).expect("loads"), None, None);
    let (a, b) = (run(&path), run(&path));
    assert_eq!(a.events_jsonl(), b.events_jsonl());
    assert_eq!(a.exit_code(), 1);
    assert!(
        a.failures
            .iter()
            .any(|(_, m)| m.contains("NoInvariantBroken") && m.contains("split brain")),
        "{:?}",
        a.failures
    );
    // And the same as the campaign's own run of the text.
    let same = c.play(
        load_str(&path.display().to_string(), f.text.as_bytes()).expect("loads"),
        &c.assemble(&f.shrunk).1,
        true,
    );
    assert_eq!(same.events, a.log().events.len() as u64);
}

#[test]
fn without_force_delete_partition_and_delete_claim_no_safety_property_fails_in_2000_runs() {
    let start = Instant::now();
    let c = split_brain_campaign(
        all_but(&[
            FaultKind::ForceDelete,
            FaultKind::Partition,
            FaultKind::DeleteClaim,
        ]),
        2000,
        false,
    );
    let mut r = c.explore(&mut |_, _| {});
    eprintln!(
        "2000 runs in {:.1} s ({:.0} runs/s)",
        start.elapsed().as_secs_f64(),
        2000.0 / r.run_time.as_secs_f64()
    );
    r.failed.remove(&Property::ConvergesAfterHealing);
    r.failed.remove(&Property::ScenarioExpectations);
    assert!(
        r.failed.is_empty(),
        "safety failed: {:?}",
        r.findings
            .iter()
            .map(|f| (&f.message, &f.shrunk))
            .collect::<Vec<_>>()
    );
    assert_eq!(r.runs, 2000);
    // The campaign reached the states that matter.
    let runs_with = |k| r.coverage.kinds.get(&k).map_or(0, |x| x.0);
    assert!(runs_with(FaultKind::Fail) > 200 && runs_with(FaultKind::DeleteNode) > 100);
}

#[test]
fn a_planted_bug_that_skips_the_at_most_one_check_is_found_and_shrunk() {
    let c = split_brain_campaign(
        all_but(&[
            FaultKind::ForceDelete,
            FaultKind::Partition,
            FaultKind::DeleteClaim,
        ]),
        300,
        true,
    );
    let r = c.explore(&mut |_, _| {});
    let f = finding(&r, Property::OneProcessPerIdentity);
    assert!(f.shrunk.len() <= 3, "{:?}", f.shrunk);
    assert!(f.message.contains("split brain"), "{}", f.message);
}

#[test]
fn an_acknowledged_write_lost_on_the_mysql_model_is_found_and_shrunk() {
    let c = Campaign::new(
        &lesson("07-mysql.ron"),
        Options {
            runs: 300,
            seed: 1,
            kinds: vec![
                FaultKind::Write,
                FaultKind::DeleteClaim,
                FaultKind::DeletePod,
                FaultKind::Crash,
                FaultKind::Fail,
                FaultKind::Recover,
            ],
            cluster_only: true,
            ..Options::default()
        },
    );
    let r = c.explore(&mut |_, _| {});
    let f = finding(&r, Property::NoAcknowledgedWriteLost);
    assert!(f.shrunk.len() <= 3, "{:?}", f.shrunk);
    assert!(
        f.shrunk
            .iter()
            .any(|x| x.kind() == Some(FaultKind::DeleteClaim))
            && f.shrunk.iter().any(|x| x.kind() == Some(FaultKind::Write)),
        "{:?}",
        f.shrunk
    );
    assert!(
        f.message
            .contains("acknowledged rows are not on the primary's volume"),
        "{}",
        f.message
    );
    let path = temp_path("write-lost.ron");
    std::fs::write(&path, &f.text).expect("written");
    let run = headless::run(load_file(&path).expect("loads"), None, None);
    assert!(
        run.failures.iter().any(|(_, m)| m.contains("NoWriteLost")),
        "{:?}",
        run.failures
    );
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_statefulset-sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn explore_exits_1_with_the_shrunk_scenario_path_0_when_nothing_fails_2_on_bad_input() {
    let dir = temp_path("cli-out");
    let dir_s = dir.display().to_string();
    let (code, out, _) = cli(&[
        "explore",
        "scenarios/11-split-brain.ron",
        "--cluster-only",
        "--runs",
        "40",
        "--faults",
        "partition,force-delete",
        "--out",
        &dir_s,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED safety: one running process per identity"),
        "{out}"
    );
    assert!(
        out.contains("replayed from the file: fails the same way"),
        "{out}"
    );
    let written = out
        .lines()
        .find_map(|l| l.strip_prefix("Written to "))
        .expect("the path is printed");
    assert!(Path::new(written).exists());
    let (code, out, _) = cli(&[
        "explore",
        "scenarios/00-sandbox.ron",
        "--runs",
        "5",
        "--faults",
        "cordon",
        "--out",
        &dir_s,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("No property failed") && out.contains("cordon"),
        "{out}"
    );
    let (code, _, err) = cli(&["explore", "scenarios/00-sandbox.ron", "--faults", "meteor"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown fault kind \"meteor\""), "{err}");
    let (code, _, err) = cli(&["explore", "no-such.ron"]);
    assert_eq!(code, 2, "{err}");
}

/// One campaign run played by hand.
struct Played {
    log: String,
    end_ms: u64,
    failures: Vec<(usize, String)>,
    /// Database ticks run late.
    deferred_ticks: u64,
    /// Database-only passes run.
    database_only_passes: u64,
}

/// Plays `seed`'s run with steady database ticks deferred (as `explore`
/// plays it) or not (as a lesson), and database-only passes allowed or not.
fn play_run(c: &Campaign, seed: u64, defer: bool, database_only: bool) -> Played {
    use statefulset_sim::scenario::{self, Loaded};
    use statefulset_sim::sim::{
        DatabaseOnlyPasses, SimClock, database::Databases, event::EventLog,
    };
    let (s, _) = c.assemble(&c.draw(seed));
    let loaded = Loaded {
        file: c.file.clone(),
        step_pos: vec![(1, 1); s.steps.len()],
        scenario: s,
        warnings: Vec::new(),
    };
    let mut app = scenario::core_app();
    let world = app.world_mut();
    world.resource_mut::<DatabaseOnlyPasses>().allowed = database_only;
    scenario::install(world, loaded, None, false);
    if defer {
        scenario::run::defer_steady_ticks(world);
    }
    let failures = scenario::run::play_script(world);
    Played {
        log: world.resource::<EventLog>().to_jsonl(),
        end_ms: world.resource::<SimClock>().now_ms,
        failures,
        deferred_ticks: world.resource::<Databases>().deferred_ticks,
        database_only_passes: world.resource::<DatabaseOnlyPasses>().run,
    }
}

/// The lessons the two comparisons below play campaigns on (and whether
/// only their cluster): both database lessons (lesson 7 with its own steps,
/// which wait on rows and lag), the sandbox and the local volumes lesson.
const COMPARED: [(&str, bool); 4] = [
    ("11-split-brain.ron", true),
    ("07-mysql.ron", false),
    ("00-sandbox.ron", false),
    ("12-local-volumes.ron", true),
];

/// Plays `seeds` of every fault kind on each lesson of `COMPARED`, twice as
/// `pair` says, and checks the two give the same log, end and failures.
/// Returns the second plays.
fn compare_runs(seeds: u64, pair: &dyn Fn(&Campaign, u64) -> (Played, Played)) -> Vec<Played> {
    let mut second = Vec::new();
    for (file, cluster_only) in COMPARED {
        let c = Campaign::new(
            &lesson(file),
            Options {
                cluster_only,
                ..Options::default()
            },
        );
        for seed in 1..=seeds {
            let (a, b) = pair(&c, seed);
            assert!(a.log == b.log, "{file} seed {seed}: the logs differ");
            assert_eq!(
                (a.end_ms, &a.failures),
                (b.end_ms, &b.failures),
                "{file} seed {seed}"
            );
            second.push(b);
        }
    }
    second
}

#[test]
fn deferring_steady_database_ticks_changes_no_run_of_a_campaign() {
    // The same log, end and failures, tick by tick or not.
    let late = compare_runs(25, &|c, seed| {
        let every_second = play_run(c, seed, false, true);
        assert_eq!(every_second.deferred_ticks, 0, "off unless asked");
        (every_second, play_run(c, seed, true, true))
    });
    let deferred: u64 = late.iter().map(|p| p.deferred_ticks).sum();
    assert!(deferred > 10_000, "only {deferred} ticks were deferred");
}

#[test]
fn database_only_passes_change_no_run_of_a_campaign() {
    // A pass that changed only the database's own rows, states and events
    // is confirmed by running the database alone: the same log, end and
    // failures as confirming it with every system, with steady ticks
    // deferred (as explore plays) and not (as a lesson).
    let fast = compare_runs(30, &|c, seed| {
        let defer = seed % 2 == 0;
        let full = play_run(c, seed, defer, false);
        assert_eq!(full.database_only_passes, 0, "off when not allowed");
        (full, play_run(c, seed, defer, true))
    });
    let skipped: u64 = fast.iter().map(|p| p.database_only_passes).sum();
    assert!(skipped > 1_000, "only {skipped} database-only passes");
}

#[test]
fn a_campaign_on_two_threads_reports_exactly_what_one_thread_reports() {
    // Runs finish in any order on several threads; the report takes them
    // in seed order, so the tallies, first seeds, coverage and the shrunk
    // scenarios written are the same.
    let report = |jobs: usize| {
        let mut seen = Vec::new();
        let mut c = split_brain_campaign(FaultKind::ALL.to_vec(), 40, false);
        c.opts.jobs = jobs;
        let r = c.explore(&mut |done, failing| seen.push((done, failing)));
        (r, seen)
    };
    let (one, progress_one) = report(1);
    let (two, progress_two) = report(2);
    assert!(!one.failed.is_empty(), "the campaign should find something");
    assert_eq!(progress_one, progress_two, "progress counts in seed order");
    assert_eq!(format!("{:?}", one.failed), format!("{:?}", two.failed));
    assert_eq!(format!("{:?}", one.coverage), format!("{:?}", two.coverage));
    let texts = |r: &statefulset_sim::explore::Report| {
        r.findings
            .iter()
            .map(|f| f.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&one), texts(&two));
}
