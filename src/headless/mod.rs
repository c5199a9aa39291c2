//! The headless runner: plays a scenario to the end (or `--until`), skipping
//! idle time, and reports a kubectl-style table and every failed expectation.

use crate::scenario::{self, Lesson, Loaded, StepResult};
use crate::sim::event::{EventKind, EventLog};
use crate::sim::model::*;
use crate::sim::{SimClock, snapshot, units};
use bevy::prelude::*;

mod progress;

pub use crate::scenario::run::{HARD_CAP_MS, QUIET_MS};

/// A finished headless run.
pub struct Run {
    pub app: App,
    /// Failed expectations and steps that never fired: (step index, message).
    pub failures: Vec<(usize, String)>,
    /// The snapshot (JSON) of the instant `Output::at_ms` asked for, or None
    /// (not asked, or the run ended before it).
    pub at_state: Option<String>,
}

impl Run {
    pub fn world(&mut self) -> &mut World {
        self.app.world_mut()
    }
    pub fn log(&self) -> &EventLog {
        self.app.world().resource::<EventLog>()
    }
    pub fn now_ms(&self) -> u64 {
        self.app.world().resource::<SimClock>().now_ms
    }
    /// 0 if every expectation held, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.failures.is_empty() { 0 } else { 1 }
    }
    pub fn events_jsonl(&self) -> String {
        self.log().to_jsonl()
    }
    pub fn snapshot_json(&mut self) -> String {
        snapshot::to_json(self.app.world_mut())
    }
}

/// Runs a loaded scenario headless, keeping the whole event log in memory.
pub fn run(loaded: Loaded, seed: Option<u64>, until_ms: Option<u64>) -> Run {
    match run_with(loaded, seed, until_ms, Output::default()) {
        Ok(run) => run,
        // Only writing a streamed log can fail, and nothing is streamed here.
        Err(_) => unreachable!("a run without a stream does no I/O"),
    }
}

/// The snapshot (JSON) of `world` as it stands at `at_ms`, a later instant at
/// which nothing was due: the clock is set there only while reading.
fn snapshot_at(world: &mut World, at_ms: u64) -> String {
    let now = std::mem::replace(&mut world.resource_mut::<SimClock>().now_ms, at_ms);
    let json = snapshot::to_json(world);
    world.resource_mut::<SimClock>().now_ms = now;
    json
}

/// Where a headless run sends its event log as it goes, and whether it
/// shows its progress.
#[derive(Default)]
pub struct Output<'a> {
    /// Write the event log here (JSON Lines) as the run goes, keeping in
    /// memory only the events a scenario check may look for. The bytes are
    /// exactly [`Run::events_jsonl`] of the same run without a stream.
    pub events: Option<&'a mut dyn std::io::Write>,
    /// Show a progress bar on stderr, if it is a terminal and the run takes
    /// more than a second.
    pub progress: bool,
    /// Also take the state snapshot (JSON) of this earlier instant of the
    /// same run (`--at` with `--state-out`): [`Run::at_state`].
    pub at_ms: Option<u64>,
    /// Called after each settled instant (`diff` compares two runs with it).
    pub observe: Option<&'a mut dyn FnMut(&World)>,
}

/// Runs a loaded scenario headless, streaming its log and showing progress
/// as `out` asks. Fails only when writing the stream fails.
pub fn run_with(
    loaded: Loaded,
    seed: Option<u64>,
    until_ms: Option<u64>,
    mut out: Output,
) -> std::io::Result<Run> {
    let mut app = crate::scenario::core_app();
    let world = app.world_mut();
    let keep = kinds_kept(&loaded);
    let keep = |e: &crate::sim::event::SimEvent| keep.contains(e.kind.name());
    let mut progress = progress::Progress::new(out.progress, until_ms);
    scenario::install(world, loaded, seed, false);
    let mut at_snapshot = None;
    let at_ms = out.at_ms;
    let (events, observe) = (&mut out.events, &mut out.observe);
    let mut settled = |world: &mut World| -> std::io::Result<()> {
        if let Some(w) = events.as_deref_mut() {
            world.resource_mut::<EventLog>().stream_to(w, &keep)?;
        }
        let now = world.resource::<SimClock>().now_ms;
        progress.tick(now, world.resource::<EventLog>().total());
        if let Some(observe) = observe.as_deref_mut() {
            observe(world);
        }
        Ok(())
    };
    // The requested instant lies before the next due one: the world stands
    // there as it is now.
    let mut before_jump = |world: &mut World, next: u64| {
        if let Some(a) = at_ms.filter(|a| *a < next && at_snapshot.is_none()) {
            at_snapshot = Some(snapshot_at(world, a));
        }
    };
    let hooks = scenario::run::Hooks {
        settled: Some(&mut settled),
        before_jump: Some(&mut before_jump),
    };
    scenario::run::drive(world, until_ms, false, hooks)?;
    progress.finish();
    let end = world.resource::<SimClock>().now_ms;
    if let Some(a) = out.at_ms.filter(|a| *a <= end && at_snapshot.is_none()) {
        at_snapshot = Some(snapshot_at(world, a));
    }
    let failures = crate::scenario::run::failures(world, until_ms.is_none());
    Ok(Run {
        app,
        failures,
        at_state: at_snapshot,
    })
}

/// The event kinds a streamed run keeps in memory: those the scenario's
/// checks look for, and breaches (the summary counts them).
fn kinds_kept(loaded: &Loaded) -> std::collections::BTreeSet<String> {
    let mut kinds =
        std::collections::BTreeSet::from([EventKind::InvariantBroken.name().to_string()]);
    for step in &loaded.scenario.steps {
        for check in step.when.iter().chain(&step.expect) {
            kinds.extend(check.kinds_in_log().into_iter().map(str::to_string));
        }
    }
    kinds
}

/// A `kubectl get pods -o wide`-style table of the pods now.
pub fn pods_table(world: &mut World) -> String {
    let now = world.resource::<SimClock>().now_ms;
    let mut rows: Vec<(String, [String; 6])> = world
        .query::<(&Pod, &PodStatus)>()
        .iter(world)
        .map(|(p, s)| {
            let status = s.status_column(now);
            (
                p.name.clone(),
                [
                    p.name.clone(),
                    format!("{}/1", s.ready as u8),
                    status,
                    s.restarts.to_string(),
                    units::age(now.saturating_sub(p.created_ms)),
                    s.node.clone().unwrap_or_else(|| "<none>".into()),
                ],
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"];
    let mut widths = header.map(|h| h.len());
    for (_, r) in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i] + 3))
            .collect::<String>()
            .trim_end()
            .to_string()
    };
    let mut out = line(&header.map(String::from));
    out.push('\n');
    for (_, r) in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// The end-of-run report.
pub fn summary(run: &mut Run) -> String {
    let now = run.now_ms();
    let world = run.world();
    let lesson = world.resource::<Lesson>().clone();
    let events = world.resource::<EventLog>().total();
    let breaches = world
        .resource::<EventLog>()
        .count(EventKind::InvariantBroken);
    let mut out = format!(
        "{} — simulated {:.1}s, {} events{}\n\n",
        lesson.loaded.scenario.name,
        now as f64 / 1000.0,
        events,
        if breaches > 0 {
            format!(", {breaches} invariant breach(es)")
        } else {
            String::new()
        }
    );
    out.push_str(&format!(
        "{}\n\n",
        world
            .resource::<crate::sim::version::ClusterVersion>()
            .describe()
    ));
    out.push_str(&pods_table(world));
    let cluster = crate::sim::read::read(world);
    for db in snapshot::database_snaps(&cluster) {
        out.push_str(&format!(
            "\nDatabase {}: {} rows written, {} writes refused; max replica lag {} rows / {:.1}s\n",
            db.name, db.written, db.failed, db.max_lag_rows, db.max_lag_seconds
        ));
    }
    let passed = lesson
        .results
        .iter()
        .filter(|r| matches!(r, StepResult::Passed { .. }))
        .count();
    let expects = lesson
        .loaded
        .scenario
        .steps
        .iter()
        .filter(|s| s.expect.is_some())
        .count();
    out.push_str(&format!("\nExpectations: {passed} of {expects} passed\n"));
    for (_, f) in &run.failures {
        out.push_str(&format!("FAILED {f}\n"));
    }
    out
}
