//! The simulation inside the GUI: its own World (the same core the headless
//! runner drives), and the playback clock that decides how far simulated
//! time advances each frame. Pause, speed and step change how far the
//! simulation is advanced, never what it does.

use super::branches::{Branches, Recorded};
use crate::scenario::Loaded;
use crate::scenario::tape::{self, Entry, Input, Replay};
use crate::sim::{self, Advance, PauseRequest, SimClock, SimCommand};
use bevy::prelude::*;
use std::time::{Duration, Instant};

/// A rewind may hold a frame this long; a longer one goes on over the next
/// frames with a progress bar.
pub const REWIND_BUDGET: Duration = Duration::from_millis(200);
/// How much of each later frame a long rewind takes.
const REWIND_SLICE: Duration = Duration::from_millis(40);

/// A rewind under way (a replay from t = 0 of the current branch).
pub struct Rewinding {
    pub replay: Replay,
    pub started: Instant,
}

/// The simulated cluster shown in the window.
#[derive(Resource)]
pub struct SimHost {
    pub world: World,
    /// The scenario's name, for the title bar.
    pub name: String,
    pub file: String,
    pub summary: String,
    /// What the last command from the UI was refused for, shown to the user.
    pub last_error: Option<String>,
    /// The scenario and seed every replay starts from.
    pub loaded: Loaded,
    pub seed: Option<u64>,
    /// The what-if branches; the world shows the current one.
    pub branches: Branches,
    /// How many entries of the current branch's tape the world has had.
    pub tape_next: usize,
    pub rewinding: Option<Rewinding>,
}

impl SimHost {
    /// Builds a fresh core world and installs the scenario in lesson mode.
    pub fn new(loaded: Loaded, seed: Option<u64>) -> Self {
        let name = loaded.scenario.name.clone();
        let file = loaded.file.clone();
        let summary = loaded.scenario.summary.clone();
        SimHost {
            world: tape::fresh_world(loaded.clone(), seed, true),
            name,
            file,
            summary,
            last_error: None,
            loaded,
            seed,
            branches: Branches::default(),
            tape_next: 0,
            rewinding: None,
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.world.resource::<SimClock>().now_ms
    }

    /// How many entities have a `C` (nodes, pods) now.
    pub fn count<C: Component>(&self) -> usize {
        self.world
            .try_query::<&C>()
            .map_or(0, |mut q| q.iter(&self.world).count())
    }

    /// Records an input on the tape (forking a branch when given at a past
    /// instant) and gives it to the world: the one path of every action.
    fn give(&mut self, input: Input) -> Recorded {
        self.finish_rewind();
        let entry = Entry::now(&self.world, input.clone());
        let r = self.branches.record(entry, &mut self.tape_next);
        tape::apply(&mut self.world, &input);
        r
    }

    /// Sends a command from the UI and applies it at once (also when paused).
    pub fn send(&mut self, cmd: SimCommand) -> Recorded {
        let before = self.world.resource::<sim::EventLog>().events.len();
        // Says which action was refused. `SimCommand::describe` is the
        // command in words (issue 11 turns it from RON into a sentence).
        let what = cmd.describe();
        let r = self.give(Input::Command(cmd));
        self.last_error = self.world.resource::<sim::EventLog>().events[before..]
            .iter()
            .find(|e| e.kind == sim::EventKind::CommandRejected)
            .map(|e| format!("{what}: {}", e.reason));
        r
    }

    /// A line typed in the GUI's kubectl command line; returns what kubectl
    /// prints. A reading command (get, describe, rollout status / history)
    /// only prints. A command that changes the cluster is an action like
    /// any click: recorded on the tape (a branch when typed at a past
    /// instant), logged as a `Kubectl` step logs it, and saved in a branch
    /// as a `Kubectl("…")` step.
    pub fn kubectl(&mut self, line: &str) -> String {
        use crate::scenario::kubectl::{self, Kubectl};
        self.finish_rewind();
        let result = match kubectl::parse(line) {
            Err(e) => Err(e),
            Ok(Kubectl::Sleep { .. } | Kubectl::Wait { .. }) => Err(
                "error: in the window, time runs with the play controls (space, +1s); sleep and wait are for `statefulset-sim shell`".to_string(),
            ),
            Ok(cmd) if cmd.is_read_only() => kubectl::run(&mut self.world, &cmd),
            Ok(_) => {
                let input = Input::Command(SimCommand::Kubectl(line.to_string()));
                let entry = Entry::now(&self.world, input);
                self.branches.record(entry, &mut self.tape_next);
                let out = crate::scenario::player::run_kubectl_step(&mut self.world, line);
                sim::settle_all(&mut self.world);
                out
            }
        };
        result.unwrap_or_else(|e| e)
    }

    /// The answer to the lesson's open question.
    pub fn answer(&mut self) {
        self.give(Input::Answer);
    }

    /// Advances to `t` on the current branch, giving its recorded inputs on
    /// the way (those at `t` too when `inclusive`).
    pub fn advance(&mut self, t: u64, inclusive: bool) -> Advance {
        self.finish_rewind();
        let tape = &self.branches.current().tape;
        let r = tape::run_to(
            &mut self.world,
            tape,
            &mut self.tape_next,
            t,
            inclusive,
            &mut |_| true,
        );
        self.branches.reached(self.now_ms());
        r
    }

    /// Shows the current branch at `t`, replayed from t = 0. Done at once if
    /// it takes at most `REWIND_BUDGET`, else over the next frames.
    pub fn rewind_to(&mut self, t: u64) {
        let mut replay = Replay::start(self.loaded.clone(), self.seed, true, t);
        let started = Instant::now();
        let tape = self.branches.current().tape.clone();
        let r = replay.run(&tape, &mut |_| started.elapsed() < REWIND_BUDGET);
        self.rewinding = Some(Rewinding { replay, started });
        if r != Advance::Stopped {
            self.finish_rewind();
        }
    }

    /// Goes on with a long rewind for a slice of this frame. True when done.
    pub fn poll_rewind(&mut self) -> bool {
        let Some(rw) = &mut self.rewinding else {
            return true;
        };
        let start = Instant::now();
        let tape = &self.branches.list[self.branches.current].tape;
        if rw.replay.run(tape, &mut |_| start.elapsed() < REWIND_SLICE) == Advance::Stopped {
            return false;
        }
        self.finish_rewind();
        true
    }

    /// Completes a rewind under way at once and shows its world.
    pub fn finish_rewind(&mut self) {
        let Some(mut rw) = self.rewinding.take() else {
            return;
        };
        let tape = self.branches.current().tape.clone();
        rw.replay.run(&tape, &mut |_| true);
        self.world = rw.replay.world;
        self.tape_next = rw.replay.next;
        self.last_error = None;
    }

    /// Shows branch `index` at the current instant.
    pub fn switch_to(&mut self, index: usize) {
        if index < self.branches.list.len() {
            let now = self.now_ms();
            self.branches.current = index;
            self.rewind_to(now);
        }
    }

    /// The instant of the last event before now (Left / `[`), or 0.
    pub fn previous_event_ms(&self) -> u64 {
        let now = self.now_ms();
        self.world
            .resource::<sim::EventLog>()
            .events
            .iter()
            .rev()
            .map(|e| e.t_ms)
            .find(|t| *t < now)
            .unwrap_or(0)
    }

    /// The next instant something is due or the branch does something.
    pub fn next_event_ms(&self) -> Option<u64> {
        let entry = self
            .branches
            .current()
            .tape
            .get(self.tape_next)
            .map(|e| e.t_ms);
        match (sim::next_wake(&self.world), entry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The playback speeds offered, from slow motion to "fast forward".
pub const SPEEDS: [f64; 12] = [
    0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
];

#[derive(Resource, Debug)]
pub struct Playback {
    pub paused: bool,
    pub speed: f64,
    /// Simulated time (ms, fractional) the clock is heading to.
    pub target_ms: f64,
    /// A lesson's "predict, then reveal" question, holding the clock.
    pub question: Option<String>,
    /// The lesson's intro card (its goal) is up: the clock waits at t = 0.
    pub intro: bool,
}

impl Default for Playback {
    fn default() -> Self {
        Playback {
            paused: false,
            speed: 1.0,
            target_ms: 0.0,
            question: None,
            intro: true,
        }
    }
}

impl Playback {
    pub fn faster(&mut self) {
        self.speed = SPEEDS
            .iter()
            .copied()
            .find(|&s| s > self.speed)
            .unwrap_or(self.speed);
    }
    pub fn slower(&mut self) {
        self.speed = SPEEDS
            .iter()
            .rev()
            .copied()
            .find(|&s| s < self.speed)
            .unwrap_or(self.speed);
    }
    /// Closes the intro card and starts the clock.
    pub fn start(&mut self, host: &mut SimHost) {
        self.intro = false;
        self.paused = false;
        self.target_ms = host.now_ms() as f64;
    }
    /// Play/pause; on a lesson question, "continue"; on the intro, start.
    pub fn toggle(&mut self, host: &mut SimHost) {
        if self.intro {
            self.start(host);
        } else if self.question.is_some() {
            self.resume(host);
        } else {
            self.paused = !self.paused;
        }
    }
    /// Answers the lesson's question and lets the clock run.
    pub fn resume(&mut self, host: &mut SimHost) {
        self.question = None;
        host.answer();
        self.paused = false;
        self.run_to(host, host.now_ms());
    }
    /// Advances the simulation to `t` (ms), stopping at a lesson pause.
    pub fn run_to(&mut self, host: &mut SimHost, t: u64) {
        self.run(host, t, false);
    }
    fn run(&mut self, host: &mut SimHost, t: u64, inclusive: bool) {
        if host.advance(t, inclusive) == Advance::Paused {
            self.question = host.world.resource::<PauseRequest>().0.clone();
            self.paused = true;
            self.target_ms = host.now_ms() as f64;
        } else {
            self.target_ms = self.target_ms.max(t as f64);
        }
    }
    /// Shows the current branch at `t` (earlier or later than now), paused.
    pub fn seek(&mut self, host: &mut SimHost, t: u64) {
        self.paused = true;
        if t < host.now_ms() {
            host.rewind_to(t);
            self.after_rewind(host);
        } else if self.question.is_none() {
            self.run_to(host, t);
        }
    }
    /// The clock and the question follow a rewound world.
    pub fn after_rewind(&mut self, host: &SimHost) {
        self.question = host.world.resource::<PauseRequest>().0.clone();
        self.paused = true;
        self.target_ms = host.now_ms() as f64;
    }
    /// Back to the previous instant at which something happened.
    pub fn step_back(&mut self, host: &mut SimHost) {
        let t = host.previous_event_ms();
        self.seek(host, t);
    }
    /// One simulated second forward.
    pub fn step(&mut self, host: &mut SimHost) {
        self.paused = true;
        if self.question.is_none() {
            let t = host.now_ms() + 1000;
            self.run_to(host, t);
        }
    }
    /// Jumps to the next instant at which something happens.
    pub fn skip_to_next_event(&mut self, host: &mut SimHost) {
        self.intro = false;
        if self.question.is_some() {
            return;
        }
        if let Some(t) = host.next_event_ms() {
            self.run(host, t, true);
        }
    }
    /// Plays on, event by event, to the next caption or question (paused
    /// there), or to the end of what is scheduled.
    pub fn play_to_next_cue(&mut self, host: &mut SimHost) {
        self.intro = false;
        self.paused = true;
        let from = host.world.resource::<sim::EventLog>().events.len();
        let cue = |host: &SimHost| {
            host.world.resource::<sim::EventLog>().events[from..]
                .iter()
                .any(|e| matches!(e.kind, sim::EventKind::Note | sim::EventKind::Pause))
        };
        // Bounded: a lesson's cues are minutes apart, events a second or so.
        for _ in 0..CUE_SEARCH_EVENTS {
            if self.question.is_some() || cue(host) {
                break;
            }
            let Some(t) = host.next_event_ms() else {
                break;
            };
            self.run(host, t, true);
        }
        self.target_ms = host.now_ms() as f64;
    }
    /// Plays on to the question of step `step` (answering the ones before
    /// it, as a class pressing "continue" would), and holds it open.
    pub fn play_to_question(&mut self, host: &mut SimHost, step: usize) {
        self.intro = false;
        if self.question.is_some() {
            self.question = None;
            host.answer();
        }
        let limit = host.now_ms() + QUESTION_SEARCH_MS;
        while host.advance(limit, false) == Advance::Paused {
            let at = host
                .world
                .get_resource::<crate::scenario::Lesson>()
                .map(|l| l.cursor.saturating_sub(1));
            if at == Some(step) {
                break;
            }
            host.answer();
        }
        self.after_rewind(host);
    }
}

/// How many events "next caption" plays through at most.
const CUE_SEARCH_EVENTS: usize = 20_000;
/// How far ahead (simulated) a question is looked for.
const QUESTION_SEARCH_MS: u64 = 3_600_000;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Playback>()
        .add_systems(Update, drive.in_set(super::GuiSystems::Drive));
}

/// Each frame: advance simulated time by wall time × speed.
pub fn drive(time: Res<Time>, mut host: ResMut<SimHost>, mut pb: ResMut<Playback>) {
    if host.rewinding.is_some() {
        if host.poll_rewind() {
            pb.after_rewind(&host);
        }
        return;
    }
    if pb.question.is_none()
        && let Some(q) = host.world.resource::<PauseRequest>().0.clone()
    {
        pb.question = Some(q);
        pb.paused = true;
    }
    if pb.paused || pb.intro {
        pb.target_ms = host.now_ms() as f64;
        return;
    }
    // At most a quarter second of wall time per frame, so a stall does not
    // turn into a jump.
    let dt = time.delta_secs_f64().min(0.25);
    pb.target_ms += dt * 1000.0 * pb.speed;
    let t = pb.target_ms as u64;
    pb.run_to(&mut host, t);
}
