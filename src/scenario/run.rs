//! Playing an installed scenario to its end without a window, skipping idle
//! time, and collecting its failures: the loop behind the headless runner
//! and the fault campaigns of `statefulset-sim explore`.

use super::format::Check;
use super::{Lesson, StepResult};
use crate::sim::database::SteadyTicks;
use crate::sim::event::EventLog;
use crate::sim::{PauseRequest, SimClock, settle_all};
use bevy::prelude::*;

/// Once the last step has run, stop after this long without an event.
pub const QUIET_MS: u64 = 600_000;
/// Never simulate past this.
pub const HARD_CAP_MS: u64 = 7 * 24 * 3600 * 1000;

/// Plays the installed scenario to the end (or `until_ms`) and returns its
/// failures: failed expectations and steps that never fired, as (step
/// index, message), in step order.
pub fn play(world: &mut World, until_ms: Option<u64>) -> Vec<(usize, String)> {
    run_loop(world, until_ms, false)
}

/// Plays the installed scenario until its last step has fired (no quiet
/// tail after it: a fault campaign's runs end with their checks) and
/// returns its failures as `play` does.
pub fn play_script(world: &mut World) -> Vec<(usize, String)> {
    run_loop(world, None, true)
}

/// From this step on (an index), the databases may defer their steady
/// ticks: see [`defer_steady_ticks`].
#[derive(Resource, Debug, Clone, Copy)]
struct DeferTicksFrom(usize);

/// Lets the databases of the installed scenario defer their steady ticks
/// ([`SteadyTicks`]) once the last step that waits on database progress
/// (`when:` rows, lag, refused writes, a final read) has fired: until then
/// they tick every second so that such a step fires at the same second.
/// Nothing else a run reports changes: the same log, the same verdicts.
pub fn defer_steady_ticks(world: &mut World) {
    let from = world
        .resource::<Lesson>()
        .loaded
        .scenario
        .steps
        .iter()
        .rposition(|s| s.when.as_ref().is_some_and(reads_database_progress))
        .map_or(0, |i| i + 1);
    world.insert_resource(DeferTicksFrom(from));
}

/// Whether a check's answer can change at a database tick that logs nothing:
/// rows, lag and refused writes move then. `Converged` asks only whether the
/// replicas replicate in step, which a steady tick keeps as it is.
pub fn reads_database_progress(c: &Check) -> bool {
    match c {
        Check::ReplicaLag { .. }
        | Check::RowsOn { .. }
        | Check::WritesFailed { .. }
        | Check::NoWriteLost { .. } => true,
        Check::PodPhase { .. }
        | Check::PodReady { .. }
        | Check::PodOnNode { .. }
        | Check::PodRevision { .. }
        | Check::ClaimExists { .. }
        | Check::VolumeAttached { .. }
        | Check::SetStatus { .. }
        | Check::EventOrder(_)
        | Check::EventSeen(_)
        | Check::NoInvariantBroken
        | Check::InvariantBroken
        | Check::Ready { .. }
        | Check::Converged { .. }
        | Check::PodStatus { .. }
        | Check::PodRestarts { .. } => false,
    }
}

/// Turns deferring on once the run is past the steps that forbid it (it
/// never turns off again: the database decides at its next pass).
fn update_deferring(world: &mut World) {
    let Some(DeferTicksFrom(from)) = world.get_resource::<DeferTicksFrom>().copied() else {
        return;
    };
    if world.resource::<Lesson>().cursor >= from {
        world.resource_mut::<SteadyTicks>().skip = true;
    }
}

fn run_loop(world: &mut World, until_ms: Option<u64>, script_only: bool) -> Vec<(usize, String)> {
    match drive(world, until_ms, script_only, Hooks::default()) {
        Ok(()) => {}
        // Only a hook can fail, and there is none.
        Err(_) => unreachable!("a run without hooks does no I/O"),
    }
    failures(world, until_ms.is_none())
}

/// Called after each settled instant; an error ends the run.
pub type SettledHook<'a> = &'a mut dyn FnMut(&mut World) -> std::io::Result<()>;
/// Called before the clock jumps to the next due instant (given).
pub type JumpHook<'a> = &'a mut dyn FnMut(&mut World, u64);

/// What a caller of [`drive`] does as the run goes: the headless runner
/// streams the log, shows progress and takes an earlier instant's snapshot.
#[derive(Default)]
pub struct Hooks<'a> {
    /// After each settled instant (a failure ends the run).
    pub settled: Option<SettledHook<'a>>,
    /// Before the clock jumps to the next due instant (given).
    pub before_jump: Option<JumpHook<'a>>,
}

/// The run loop: settles each due instant and jumps to the next, until the
/// script has run (`script_only`), `until_ms`, nothing is due any more, or
/// (without `until_ms`) the steps are done and nothing happened for
/// `QUIET_MS`; with `until_ms`, the clock ends there.
pub fn drive(
    world: &mut World,
    until_ms: Option<u64>,
    script_only: bool,
    mut hooks: Hooks,
) -> std::io::Result<()> {
    let cap = until_ms.unwrap_or(HARD_CAP_MS).min(HARD_CAP_MS);
    loop {
        settle_all(world);
        world.resource_mut::<PauseRequest>().0 = None;
        update_deferring(world);
        if let Some(settled) = hooks.settled.as_deref_mut() {
            settled(world)?;
        }
        let next = world.resource::<SimClock>().wake.next_ms;
        let done = world.resource::<Lesson>().finished();
        if script_only && done {
            break;
        }
        let Some(next) = next else { break };
        if next > cap {
            break;
        }
        if until_ms.is_none() && done {
            let last_event = world.resource::<EventLog>().last_ms().unwrap_or(0);
            if next.saturating_sub(last_event) > QUIET_MS {
                break;
            }
        }
        if let Some(before_jump) = hooks.before_jump.as_deref_mut() {
            before_jump(world, next);
        }
        world.resource_mut::<SimClock>().now_ms = next;
    }
    if let Some(u) = until_ms {
        let mut clock = world.resource_mut::<SimClock>();
        clock.now_ms = clock.now_ms.max(u.min(HARD_CAP_MS));
    }
    Ok(())
}

/// The failures so far; with `to_the_end`, steps still pending count too.
pub fn failures(world: &mut World, to_the_end: bool) -> Vec<(usize, String)> {
    let lesson = world.resource::<Lesson>().clone();
    let mut failures = lesson.failures();
    for (i, r) in lesson.results.iter().enumerate() {
        if *r == StepResult::Pending && to_the_end {
            let step = &lesson.loaded.scenario.steps[i];
            let why = match &step.when {
                Some(w) => {
                    let actual = super::player::eval(world, w).err().unwrap_or_default();
                    format!("`when: {}` never held ({actual})", w.as_written())
                }
                None => "it was never reached".to_string(),
            };
            failures.push((i, format!("{}: never fired: {why}", lesson.step_label(i))));
        }
    }
    failures.sort_by_key(|f| f.0);
    failures
}
