//! Playing an installed scenario to its end without a window, skipping idle
//! time, and collecting its failures: the loop behind the headless runner
//! and the fault campaigns of `statefulset-sim explore`.

use super::{Lesson, StepResult};
use crate::sim::event::EventLog;
use crate::sim::{PauseRequest, SimClock, Wake, settle_all};
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

fn run_loop(world: &mut World, until_ms: Option<u64>, script_only: bool) -> Vec<(usize, String)> {
    let cap = until_ms.unwrap_or(HARD_CAP_MS).min(HARD_CAP_MS);
    loop {
        settle_all(world);
        world.resource_mut::<PauseRequest>().0 = None;
        let next = world.resource::<Wake>().next_ms;
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
        world.resource_mut::<SimClock>().now_ms = next;
    }
    if let Some(u) = until_ms {
        let mut clock = world.resource_mut::<SimClock>();
        clock.now_ms = clock.now_ms.max(u.min(HARD_CAP_MS));
    }
    failures(world, until_ms.is_none())
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
