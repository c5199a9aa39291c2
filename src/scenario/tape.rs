//! The tape of a run: every input from outside the scenario (an action from
//! the UI, the answer to a lesson's pause) with its simulated instant. The
//! scenario's own steps need no recording: the player fires them again, at
//! the same instants, because the core is deterministic. So the scenario,
//! the seed and the tape reproduce a run exactly, and a rewind is a replay
//! from t = 0 (docs/architecture.md, "The tape and the rewind").

use super::{Lesson, Loaded};
use crate::sim::{self, Advance, PauseRequest, SimClock, SimCommand, units};
use bevy::prelude::*;

/// An input that changes a run's future and is not in its scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// An action from the UI: the same command a scenario step would send.
    Command(SimCommand),
    /// "Continue" on a lesson's question.
    Answer,
}

/// One input at its instant, with where the scenario's player stood then
/// (a saved branch inserts the action as a step at that place).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub t_ms: u64,
    pub input: Input,
    /// How many of the scenario's steps had fired.
    pub cursor: usize,
    /// When the next step was armed (its `after:` counts from here).
    pub armed_ms: u64,
}

impl Entry {
    /// `input`, given to `world` at its current instant.
    pub fn now(world: &World, input: Input) -> Entry {
        let (cursor, armed_ms) = world
            .get_resource::<Lesson>()
            .map_or((0, 0), |l| (l.cursor, l.armed_ms));
        Entry {
            t_ms: world.resource::<SimClock>().now_ms,
            input,
            cursor,
            armed_ms,
        }
    }

    /// What was done, in words: "Force-delete pod web-1 at 6m40.0s".
    pub fn describe(&self) -> String {
        let what = match &self.input {
            Input::Command(c) => c.describe(),
            Input::Answer => "Continue the lesson".to_string(),
        };
        format!("{what} at {}", units::clock(self.t_ms))
    }
}

/// Applies one input now, exactly as the GUI does on a click ("send": the
/// command is written and the instant settled) or on "continue".
pub fn apply(world: &mut World, input: &Input) {
    match input {
        Input::Command(SimCommand::Kubectl(line)) => {
            // A kubectl line from the GUI runs as a scenario's `Kubectl`
            // step does, so a saved branch replays it to the same log.
            let _ = super::player::run_kubectl_step(world, line);
            sim::settle_all(world);
        }
        Input::Command(c) => {
            world.write_message(c.clone());
            sim::settle_all(world);
        }
        Input::Answer => world.resource_mut::<PauseRequest>().0 = None,
    }
}

fn now_of(world: &World) -> u64 {
    world.resource::<SimClock>().now_ms
}

/// Runs `world` to `target_ms`, giving it the tape's entries from `*next`
/// on at their instants: the ones before `target_ms`, and when `inclusive`
/// the ones at it too. Without them, the world stands at `target_ms` as it
/// was when the run first reached it (a question asked then is still open).
/// `keep_going` is asked after each settled instant (see
/// `sim::advance_until`); `Stopped` can be resumed by calling again.
pub fn run_to(
    world: &mut World,
    tape: &[Entry],
    next: &mut usize,
    target_ms: u64,
    inclusive: bool,
    keep_going: &mut dyn FnMut(&World) -> bool,
) -> Advance {
    loop {
        let due = tape
            .get(*next)
            .filter(|e| e.t_ms < target_ms || (inclusive && e.t_ms == target_ms));
        let goal = due.map_or(target_ms, |e| e.t_ms);
        match sim::advance_until(world, goal, keep_going) {
            Advance::Stopped => return Advance::Stopped,
            // A recorded answer (or an action taken while the question was
            // open) at this instant: the run goes on as it did.
            Advance::Paused => match due {
                Some(e) if e.t_ms <= now_of(world) => {
                    apply(world, &e.input);
                    *next += 1;
                }
                _ => return Advance::Paused,
            },
            Advance::Reached => match due {
                Some(e) => {
                    apply(world, &e.input);
                    *next += 1;
                }
                None => return Advance::Reached,
            },
        }
    }
}

/// A fresh world with the scenario installed at t = 0: where every replay
/// starts. `interactive`: a lesson's pauses stop the clock (the GUI).
pub fn fresh_world(loaded: Loaded, seed: Option<u64>, interactive: bool) -> World {
    let mut app = super::core_app();
    let mut world = std::mem::take(app.world_mut());
    super::install(&mut world, loaded, seed, interactive);
    world
}

/// A replay from t = 0 to an instant (a rewind), which may be spread over
/// several calls (the GUI shows its progress meanwhile).
pub struct Replay {
    pub world: World,
    /// The next tape entry to give.
    pub next: usize,
    pub target_ms: u64,
}

impl Replay {
    pub fn start(loaded: Loaded, seed: Option<u64>, interactive: bool, target_ms: u64) -> Self {
        Replay {
            world: fresh_world(loaded, seed, interactive),
            next: 0,
            target_ms,
        }
    }

    /// Goes on replaying until done (`Reached` or `Paused` at the target) or
    /// `keep_going` says stop (`Stopped`).
    pub fn run(&mut self, tape: &[Entry], keep_going: &mut dyn FnMut(&World) -> bool) -> Advance {
        // A question asked before the target that the tape has no answer
        // for cannot happen in a recorded run; it stops the replay there,
        // as it stopped the run.
        run_to(
            &mut self.world,
            tape,
            &mut self.next,
            self.target_ms,
            false,
            keep_going,
        )
    }

    /// How far it has come, 0 to 1.
    pub fn progress(&self) -> f32 {
        if self.target_ms == 0 {
            return 1.0;
        }
        (now_of(&self.world) as f64 / self.target_ms as f64).min(1.0) as f32
    }
}

/// The world of a run at `t_ms`, replayed at once from t = 0: the rewind.
/// Returns it with the index of the first tape entry not yet given.
pub fn rewind(
    loaded: Loaded,
    seed: Option<u64>,
    interactive: bool,
    tape: &[Entry],
    t_ms: u64,
) -> (World, usize) {
    let mut r = Replay::start(loaded, seed, interactive, t_ms);
    r.run(tape, &mut |_| true);
    (r.world, r.next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;
    use crate::sim::EventLog;

    const TEXT: &str = r#"(name: "t", seed: 3,
        cluster: (nodes: [(name: "node-a", zone: "z"), (name: "node-b", zone: "z")]),
        workloads: [StatefulSet((name: "web", replicas: 2, template: (image: "nginx:1"), claims: [(name: "www")]))],
        steps: [(at: 60.0, pause: "What now?"), (after: 30.0, note: "half a minute later")])"#;

    fn loaded() -> Loaded {
        load_str("t.ron", TEXT.as_bytes()).expect("test scenario loads")
    }

    fn log(world: &World) -> String {
        world.resource::<EventLog>().to_jsonl()
    }

    #[test]
    fn a_rewind_shows_the_instant_as_first_reached_with_its_question_open() {
        // The run: to the pause at 60 s, an action while it is open, continue.
        let mut w = fresh_world(loaded(), None, true);
        assert!(!sim::advance_to(&mut w, 120_000));
        let mut tape = vec![Entry::now(
            &w,
            Input::Command(SimCommand::DeletePod {
                pod: "web-1".into(),
            }),
        )];
        apply(&mut w, &tape[0].input);
        tape.push(Entry::now(&w, Input::Answer));
        apply(&mut w, &Input::Answer);
        assert!(sim::advance_to(&mut w, 120_000));
        // Rewound to 60 s: the question is open, the action not yet taken.
        let (at60, next) = rewind(loaded(), None, true, &tape, 60_000);
        assert_eq!(next, 0);
        assert!(at60.resource::<PauseRequest>().0.is_some());
        // Rewound to 120 s: the same world as the run's, event for event.
        let (at120, next) = rewind(loaded(), None, true, &tape, 120_000);
        assert_eq!(next, 2);
        assert_eq!(log(&at120), log(&w));
    }
}
