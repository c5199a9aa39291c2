//! `statefulset-sim shell`: kubectl commands read from stdin, one per line,
//! against a simulated cluster whose clock moves only when told (`sleep
//! 30s`, `wait --for=condition=Ready pod/web-2 --timeout=120s`, and the
//! commands that block in kubectl: `drain`, `rollout status`).

use crate::scenario::kubectl::{self, Kind, Kubectl, WaitFor};
use crate::scenario::run::HARD_CAP_MS;
use crate::scenario::{self, Loaded};
use crate::sim::event::EventLog;
use crate::sim::{SimClock, advance_to, next_wake, settle_all};
use bevy::prelude::*;
use std::io::{BufRead, Write};

/// How long `drain` and `rollout status` wait at most (kubectl waits
/// forever by default; a script should not).
pub const BLOCKING_LIMIT_MS: u64 = 3_600_000;

/// A shell session: the cluster and its clock.
pub struct Shell {
    pub app: App,
    /// Some command failed (kubectl would have exited 1).
    pub failed: bool,
}

impl Shell {
    /// The cluster of `loaded` at time 0, settled.
    pub fn new(loaded: Loaded) -> Self {
        let mut app = scenario::core_app();
        let world = app.world_mut();
        scenario::install(world, loaded, None, false);
        settle_all(world);
        Shell { app, failed: false }
    }

    fn world(&mut self) -> &mut World {
        self.app.world_mut()
    }

    fn now(&mut self) -> u64 {
        self.world().resource::<SimClock>().now_ms
    }

    /// Advances the clock until `done` holds or `deadline` passes; true if it held.
    /// The clock never passes `HARD_CAP_MS`, the longest a run may simulate.
    fn run_until(&mut self, deadline: u64, mut done: impl FnMut(&mut World) -> bool) -> bool {
        let deadline = deadline.min(HARD_CAP_MS);
        loop {
            let world = self.world();
            settle_all(world);
            if done(world) {
                return true;
            }
            match next_wake(world) {
                Some(t) if t <= deadline => {
                    advance_to(world, t);
                }
                _ => {
                    advance_to(world, deadline);
                    return done(world);
                }
            }
        }
    }

    /// Runs one line; returns (stdout, stderr) text.
    pub fn line(&mut self, line: &str) -> (String, String) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return (String::new(), String::new());
        }
        let cmd = match kubectl::parse(line) {
            Ok(c) => c,
            Err(e) => return self.fail(e),
        };
        match &cmd {
            Kubectl::Sleep { ms } => {
                let t = self.now() + ms;
                if t > HARD_CAP_MS {
                    return self.fail(format!(
                        "error: sleeping {} would take the simulated clock past 7 days ({} s), the longest a run may simulate",
                        crate::sim::units::clock(*ms),
                        HARD_CAP_MS / 1000
                    ));
                }
                advance_to(self.world(), t);
                (String::new(), String::new())
            }
            Kubectl::Wait {
                condition,
                kind,
                name,
                timeout_ms,
            } => self.wait(*condition, *kind, name, *timeout_ms),
            Kubectl::Drain(node) => self.drain(&cmd, node),
            Kubectl::RolloutStatus { kind, name } => self.rollout_status(&cmd, *kind, name),
            _ => match kubectl::run(self.world(), &cmd) {
                Ok(out) => {
                    settle_all(self.world());
                    (out, String::new())
                }
                Err(e) => self.fail(e),
            },
        }
    }

    fn fail(&mut self, e: String) -> (String, String) {
        self.failed = true;
        (String::new(), e)
    }

    fn wait(&mut self, cond: WaitFor, kind: Kind, name: &str, timeout: u64) -> (String, String) {
        let deadline = self.now() + timeout;
        let pod = name.to_string();
        let held = self.run_until(deadline, |w| {
            let c = crate::sim::read::read(w);
            match cond {
                WaitFor::Ready => c
                    .pod(&pod)
                    .is_some_and(|p| p.status.ready && !p.status.terminating()),
                WaitFor::Delete => c.pod(&pod).is_none(),
            }
        });
        let what = kind.plural();
        if held {
            let word = match cond {
                WaitFor::Ready => "condition met",
                WaitFor::Delete => "deleted",
            };
            (format!("pod/{name} {word}"), String::new())
        } else {
            self.fail(format!(
                "error: timed out waiting for the condition on {what}/{name}"
            ))
        }
    }

    fn drain(&mut self, cmd: &Kubectl, node: &str) -> (String, String) {
        let first = self.world().resource::<EventLog>().events.len();
        let out = match kubectl::run(self.world(), cmd) {
            Ok(o) => o,
            Err(e) => return self.fail(e),
        };
        let mut lines = vec![out];
        let mut errs = Vec::new();
        let deadline = self.now() + BLOCKING_LIMIT_MS;
        let node_s = node.to_string();
        let mut seen = first;
        let mut evicted = Vec::new();
        let done = self.run_until(deadline, |w| {
            let events = &w.resource::<EventLog>().events;
            let new = &events[seen..];
            seen = events.len();
            let progress = kubectl::drain_progress(new, &node_s, &mut evicted);
            let over = progress.iter().any(|l| l.ends_with(" drained"));
            for l in progress {
                if l.starts_with("error") {
                    errs.push(l);
                } else {
                    lines.push(l);
                }
            }
            over
        });
        if !done {
            self.failed = true;
            errs.push(format!(
                "error: unable to drain node \"{node}\" within {}s of simulated time",
                BLOCKING_LIMIT_MS / 1000
            ));
        }
        interleave(lines, errs)
    }

    fn rollout_status(&mut self, cmd: &Kubectl, kind: Kind, name: &str) -> (String, String) {
        if let Err(e) = kubectl::run(self.world(), cmd) {
            return self.fail(e);
        }
        let deadline = self.now() + BLOCKING_LIMIT_MS;
        let mut lines: Vec<String> = Vec::new();
        let name_s = name.to_string();
        let done = self.run_until(deadline, |w| {
            let c = crate::sim::read::read(w);
            match kubectl::rollout_status(&c, kind, &name_s) {
                Ok((line, done)) => {
                    if lines.last() != Some(&line) {
                        lines.push(line);
                    }
                    done
                }
                Err(_) => true,
            }
        });
        if !done {
            self.failed = true;
            return (
                lines.join("\n"),
                "error: timed out waiting for the rollout".into(),
            );
        }
        (lines.join("\n"), String::new())
    }
}

/// kubectl prints refusals on stderr and progress on stdout; a transcript
/// reads them in order of the simulation, so both go out as they came.
fn interleave(out: Vec<String>, err: Vec<String>) -> (String, String) {
    (out.join("\n"), err.join("\n"))
}

/// Runs a whole script; exit code 0 if every command succeeded, else 1.
pub fn run(loaded: Loaded, input: impl BufRead, out: &mut impl Write, err: &mut impl Write) -> i32 {
    let mut shell = Shell::new(loaded);
    for line in input.lines() {
        let Ok(line) = line else { break };
        let (o, e) = shell.line(&line);
        if !o.is_empty() {
            let _ = writeln!(out, "{o}");
        }
        if !e.is_empty() {
            let _ = writeln!(err, "{e}");
        }
    }
    i32::from(shell.failed)
}

/// The cluster shape from `--nodes` / `--zones` (each at least 1).
fn shape(
    nodes: Option<u32>,
    zones: Option<u32>,
) -> Result<crate::scenario::manifest::ClusterShape, u8> {
    let d = crate::scenario::manifest::ClusterShape::default();
    let s = crate::scenario::manifest::ClusterShape {
        nodes: nodes.unwrap_or(d.nodes),
        zones: zones.unwrap_or(d.zones),
    };
    if s.nodes == 0 || s.nodes as usize > crate::sim::model::limits::MAX_NODES || s.zones == 0 {
        eprintln!(
            "error: --nodes must be 1 to {} and --zones at least 1",
            crate::sim::model::limits::MAX_NODES
        );
        return Err(2);
    }
    Ok(s)
}

/// Loads what the command line names (a RON scenario, or manifests),
/// printing manifest warnings; an error is printed and is exit code 2.
pub fn load_cli(
    paths: &[std::path::PathBuf],
    nodes: Option<u32>,
    zones: Option<u32>,
) -> Result<Loaded, u8> {
    let shape = shape(nodes, zones)?;
    match crate::scenario::manifest::load_input(paths, shape) {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("{w}");
            }
            Ok(l)
        }
        Err(d) => {
            eprintln!("{d}");
            Err(2)
        }
    }
}

/// `statefulset-sim shell INPUT...`: exit 0, 1 (a command failed) or 2 (bad input).
pub fn cli(paths: &[std::path::PathBuf], nodes: Option<u32>, zones: Option<u32>) -> u8 {
    let loaded = match load_cli(paths, nodes, zones) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let stdin = std::io::stdin();
    let code = run(
        loaded,
        stdin.lock(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    code as u8
}

/// `statefulset-sim import MANIFESTS... [-o FILE.ron]`.
pub fn import(
    paths: &[std::path::PathBuf],
    output: Option<&std::path::Path>,
    nodes: Option<u32>,
    zones: Option<u32>,
) -> u8 {
    let loaded = match load_cli(paths, nodes, zones) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let text = match crate::scenario::manifest::to_ron(&loaded) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    match output {
        None => {
            print!("{text}");
            0
        }
        Some(p)
            if paths
                .iter()
                .any(|i| i.canonicalize().ok() == p.canonicalize().ok() && p.exists()) =>
        {
            eprintln!("error: refusing to overwrite the input {}", p.display());
            2
        }
        Some(p) => match crate::scenario::save::write_atomic(p, &text) {
            Ok(()) => {
                eprintln!("wrote {}", p.display());
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        },
    }
}

/// The `--state-out` text: the snapshot (`json`) or every object as API
/// objects in a `v1/List` (`k8s`).
pub fn state_out(run: &mut crate::headless::Run, format: &str) -> Result<String, u8> {
    match format {
        "json" => Ok(run.snapshot_json()),
        "k8s" => {
            let world = run.world();
            let c = crate::sim::read::read(world);
            let budgets = world
                .resource::<crate::sim::controllers::disruption::DisruptionBudgets>()
                .0
                .clone();
            let class = world
                .resource::<crate::sim::model::Index>()
                .default_class
                .clone();
            let list = kubectl::objects::all(&c, &budgets, &class);
            serde_json::to_string_pretty(&list).map_err(|e| {
                eprintln!("error: {e}");
                2
            })
        }
        other => {
            eprintln!("error: --format {other:?}: expected json or k8s");
            Err(2)
        }
    }
}
