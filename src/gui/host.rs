//! The simulation inside the GUI: its own World (the same core the headless
//! runner drives), and the playback clock that decides how far simulated
//! time advances each frame. Pause, speed and step change how far the
//! simulation is advanced, never what it does.

use crate::scenario::{self, Loaded};
use crate::sim::{self, PauseRequest, SimClock, SimCommand};
use bevy::prelude::*;

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
}

impl SimHost {
    /// Builds a fresh core world and installs the scenario in lesson mode.
    pub fn new(loaded: Loaded, seed: Option<u64>) -> Self {
        let mut app = crate::scenario::core_app();
        let mut world = std::mem::take(app.world_mut());
        let name = loaded.scenario.name.clone();
        let file = loaded.file.clone();
        let summary = loaded.scenario.summary.clone();
        scenario::install(&mut world, loaded, seed, true);
        SimHost {
            world,
            name,
            file,
            summary,
            last_error: None,
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

    /// Sends a command from the UI and applies it at once (also when paused).
    pub fn send(&mut self, cmd: SimCommand) {
        let before = self.world.resource::<sim::EventLog>().events.len();
        // Says which action was refused. `SimCommand::describe` is the
        // command in words (issue 11 turns it from RON into a sentence).
        let what = cmd.describe();
        self.world.write_message(cmd);
        sim::settle_all(&mut self.world);
        self.last_error = self.world.resource::<sim::EventLog>().events[before..]
            .iter()
            .find(|e| e.kind == sim::EventKind::CommandRejected)
            .map(|e| format!("{what}: {}", e.reason));
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
}

impl Default for Playback {
    fn default() -> Self {
        Playback {
            paused: false,
            speed: 1.0,
            target_ms: 0.0,
            question: None,
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
    /// Play/pause; on a lesson question, "continue".
    pub fn toggle(&mut self, host: &mut SimHost) {
        if self.question.is_some() {
            self.resume(host);
        } else {
            self.paused = !self.paused;
        }
    }
    /// Answers the lesson's question and lets the clock run.
    pub fn resume(&mut self, host: &mut SimHost) {
        self.question = None;
        host.world.resource_mut::<PauseRequest>().0 = None;
        self.paused = false;
        self.run_to(host, host.now_ms());
    }
    /// Advances the simulation to `t` (ms), stopping at a lesson pause.
    pub fn run_to(&mut self, host: &mut SimHost, t: u64) {
        if !sim::advance_to(&mut host.world, t) {
            self.question = host.world.resource::<PauseRequest>().0.clone();
            self.paused = true;
            self.target_ms = host.now_ms() as f64;
        } else {
            self.target_ms = self.target_ms.max(t as f64);
        }
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
        if self.question.is_some() {
            return;
        }
        if let Some(t) = sim::next_wake(&host.world) {
            self.run_to(host, t);
        }
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Playback>()
        .add_systems(Update, drive.in_set(super::GuiSystems::Drive));
}

/// Each frame: advance simulated time by wall time × speed.
pub fn drive(time: Res<Time>, mut host: ResMut<SimHost>, mut pb: ResMut<Playback>) {
    if pb.question.is_none()
        && let Some(q) = host.world.resource::<PauseRequest>().0.clone()
    {
        pb.question = Some(q);
        pb.paused = true;
    }
    if pb.paused {
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
