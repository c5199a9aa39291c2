//! The headless runner: plays a scenario to the end (or `--until`), skipping
//! idle time, and reports a kubectl-style table and every failed expectation.

use crate::scenario::{self, Lesson, Loaded, StepResult};
use crate::sim::event::{EventKind, EventLog};
use crate::sim::model::*;
use crate::sim::{SimClock, snapshot, units};
use bevy::prelude::*;

pub use crate::scenario::run::{HARD_CAP_MS, QUIET_MS};

/// A finished headless run.
pub struct Run {
    pub app: App,
    /// Failed expectations and steps that never fired: (step index, message).
    pub failures: Vec<(usize, String)>,
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

/// Runs a loaded scenario headless.
pub fn run(loaded: Loaded, seed: Option<u64>, until_ms: Option<u64>) -> Run {
    let mut app = crate::scenario::core_app();
    let world = app.world_mut();
    scenario::install(world, loaded, seed, false);
    let failures = scenario::run::play(world, until_ms);
    Run { app, failures }
}

/// A `kubectl get pods -o wide`-style table of the pods now.
pub fn pods_table(world: &mut World) -> String {
    let now = world.resource::<SimClock>().now_ms;
    let mut rows: Vec<(String, [String; 6])> = world
        .query::<(&Pod, &PodStatus)>()
        .iter(world)
        .map(|(p, s)| {
            let status = match (&s.waiting, s.shown_phase()) {
                (Some(w), PodPhase::ContainerCreating | PodPhase::Pending)
                    if w.starts_with("ErrImagePull") =>
                {
                    "ErrImagePull".to_string()
                }
                (_, ph) => ph.name().to_string(),
            };
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
    let events = world.resource::<EventLog>().events.len();
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
