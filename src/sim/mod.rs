//! The deterministic simulation core: its own schedule and clock, the model,
//! the controllers, and the driver that advances simulated time. Nothing here
//! imports render, window or egui code.

pub mod command;
pub mod controllers;
pub mod database;
pub mod event;
pub mod invariant;
pub mod k8s_event;
pub mod model;
pub mod ops;
pub mod read;
pub mod snapshot;
pub mod units;
pub mod validate;
pub mod version;

use bevy::ecs::schedule::{
    LogLevel, ScheduleBuildSettings, ScheduleConfigs, ScheduleLabel, SingleThreadedExecutor,
};
use bevy::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use command::SimCommand;
pub use event::{EventKind, EventLog, SimEvent};

/// The schedule that runs one controller pass at the current simulated instant.
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimSchedule;

/// Runs after each instant has settled: scenario steps fire here, so they
/// always see a settled cluster.
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
pub struct AfterSettle;

/// The order of one pass. Chained once, here; feature files only say `.in_set(..)`.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimSystems {
    /// Scenario steps fire and expectations are checked.
    Scenario,
    /// SimCommands from scenarios and the UI are applied.
    ApplyCommands,
    /// Kubelets, node lifecycle, pod GC: what nodes do and what is decided about them.
    Nodes,
    /// StatefulSet and Deployment controllers.
    Controllers,
    Scheduler,
    /// Volume binding/provisioning and attach/detach.
    Volumes,
    /// The replicated database.
    Database,
    /// Invariant checks.
    Observe,
}

impl SimSystems {
    /// The sets of a pass, in their order.
    const PASS: [SimSystems; 8] = [
        SimSystems::Scenario,
        SimSystems::ApplyCommands,
        SimSystems::Nodes,
        SimSystems::Controllers,
        SimSystems::Scheduler,
        SimSystems::Volumes,
        SimSystems::Database,
        SimSystems::Observe,
    ];
    /// Whether the set runs in a database-only pass (see `settle`): the
    /// database's systems and the invariant checks after them.
    fn in_database_only_pass(self) -> bool {
        matches!(self, SimSystems::Database | SimSystems::Observe)
    }
}

/// The simulated clock in integer milliseconds: the only time the core
/// reads, and the next instant something is due. One resource, not two: every
/// controller system takes both (through `Cluster`), and each resource a
/// system fetches costs it a lookup.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct SimClock {
    pub now_ms: u64,
    pub wake: Wake,
}

/// The earliest future instant at which something is due. Reset before each
/// pass; systems lower it to their next deadline.
#[derive(Debug, Default, Clone, Copy)]
pub struct Wake {
    pub next_ms: Option<u64>,
    now_ms: u64,
    /// The deadlines asked for this pass by systems other than the
    /// database's: a database-only pass keeps them (see `settle`).
    others_ms: Option<u64>,
    /// The database's systems are running: their deadlines are not others'.
    in_database: bool,
    /// This pass runs only the database's systems and the invariant checks
    /// (see `settle`).
    database_only: bool,
}

impl Wake {
    /// Asks for a pass at `t`. Times not in the future are ignored: what is due
    /// now is handled in the current pass.
    pub fn at(&mut self, t: u64) {
        if t > self.now_ms {
            self.next_ms = Some(self.next_ms.map_or(t, |n| n.min(t)));
            if !self.in_database {
                self.others_ms = Some(self.others_ms.map_or(t, |n| n.min(t)));
            }
        }
    }
    /// `at(t)`, also lowering `earliest` to `t` when it is in the future: a
    /// controller that skips unchanged objects remembers their deadlines so.
    pub fn at_noting(&mut self, t: u64, earliest: &mut Option<u64>) {
        self.at(t);
        if t > self.now_ms {
            *earliest = Some(earliest.map_or(t, |d| d.min(t)));
        }
    }
    /// Starts a pass at `now`. A full pass forgets every deadline (each
    /// system asks again); a database-only pass keeps the other systems'
    /// deadlines of the pass before, which they would ask for again.
    fn start_pass(&mut self, now: u64, database_only: bool) {
        if !database_only {
            self.others_ms = None;
        }
        self.next_ms = self.others_ms;
        self.now_ms = now;
        self.database_only = database_only;
    }
    /// Marks the start (true) or end (false) of a database system's run.
    fn database_running(&mut self, running: bool) {
        self.in_database = running;
    }
}

/// The run's one random number generator, seeded from the scenario.
#[derive(Resource)]
pub struct SimRng(pub ChaCha8Rng);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng(ChaCha8Rng::seed_from_u64(seed))
    }
    /// A Kubernetes-style random suffix (the alphabet of k8s.io/apimachinery/pkg/util/rand).
    pub fn suffix(&mut self, n: usize) -> String {
        use rand::Rng;
        const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n)
            .map(|_| ALPHA[self.0.random_range(0..ALPHA.len())] as char)
            .collect()
    }
    /// A UUID-shaped uid.
    pub fn uid(&mut self) -> String {
        use rand::Rng;
        let b: [u8; 16] = self.0.random();
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

/// Set by a lesson's `pause` step in interactive mode; the GUI stops the clock.
#[derive(Resource, Debug, Default)]
pub struct PauseRequest(pub Option<String>);

/// The core plugin: schedule, clock, model and every controller.
pub fn plugin(app: &mut App) {
    let mut schedule = Schedule::new(SimSchedule);
    schedule.set_executor(SingleThreadedExecutor::new());
    // Two systems touching the same data in no set order is an error, found
    // by every debug build (every `cargo test`); a release build skips the
    // search (about 1.5% of an explore run, which builds its schedule anew).
    schedule.set_build_settings(ScheduleBuildSettings {
        ambiguity_detection: if cfg!(debug_assertions) {
            LogLevel::Error
        } else {
            LogLevel::Ignore
        },
        ..default()
    });
    // The sets chained in pass order, as a tuple of them would be.
    schedule.configure_sets(
        ScheduleConfigs::Configs {
            configs: SimSystems::PASS
                .into_iter()
                .map(|s| s.into_configs())
                .collect(),
            collective_conditions: Vec::new(),
            metadata: default(),
        }
        .chain(),
    );
    for set in SimSystems::PASS {
        if !set.in_database_only_pass() {
            schedule.configure_sets(set.run_if(full_pass));
        }
    }
    app.add_schedule(schedule);
    // One system (the scenario player) runs here after every settled
    // instant: the multi-threaded default would spawn a task for it each time.
    let mut after = Schedule::new(AfterSettle);
    after.set_executor(SingleThreadedExecutor::new());
    app.add_schedule(after);
    app.init_resource::<SimClock>()
        .init_resource::<EventLog>()
        .init_resource::<model::Index>()
        .init_resource::<PauseRequest>()
        .init_resource::<DatabaseOnlyPasses>()
        .init_resource::<version::ClusterVersion>()
        .insert_resource(SimRng::new(0))
        .add_message::<SimCommand>();
    app.add_plugins((
        command::plugin,
        controllers::plugin,
        database::plugin,
        invariant::plugin,
    ));
}

/// Database-only passes (see `settle`): allowed unless a test compares a
/// run without them; how many were run.
#[derive(Resource, Debug)]
pub struct DatabaseOnlyPasses {
    pub allowed: bool,
    pub run: u64,
}

impl Default for DatabaseOnlyPasses {
    fn default() -> Self {
        DatabaseOnlyPasses {
            allowed: true,
            run: 0,
        }
    }
}

/// Whether this pass runs every system (see `settle`).
fn full_pass(clock: Res<SimClock>) -> bool {
    !clock.wake.database_only
}

/// Passes at one instant before we call it a livelock.
const MAX_PASSES: usize = 200;

/// Runs passes at the current instant until one changes nothing.
/// Returns the number of passes run.
///
/// A pass whose only changes were the database's own (its rows, replication
/// states, counts and events: [`EventLog::internal`]), which no other system
/// reads, is followed by a database-only pass: the database's systems and
/// the invariant checks run, the rest are skipped. Run again, they would
/// see what they saw and do what they did (nothing, and ask for the same
/// deadlines, which the pass keeps), so the instant ends the same, event for
/// event, as with a full pass; a replica pulling the second's rows costs the
/// database alone. A database-only pass that changes more than that is
/// followed by a full pass.
pub fn settle(world: &mut World) -> usize {
    // The schedule is taken out of the world once for all the passes of
    // the instant, not once per pass (no system runs a schedule).
    let allowed = world.resource::<DatabaseOnlyPasses>().allowed;
    let mut database_only_passes = 0;
    let passes = world.schedule_scope(SimSchedule, |world, schedule| {
        let mut database_only = false;
        for i in 0..MAX_PASSES {
            database_only_passes += u64::from(database_only);
            let log = world.resource::<EventLog>();
            let (before, internal_before) = (log.activity, log.internal);
            {
                let clock = world.resource_mut::<SimClock>().into_inner();
                clock.wake.start_pass(clock.now_ms, database_only);
            }
            // Every reader of the journal runs in a full pass (see
            // `Trail::compact`); a database-only pass leaves it be.
            if !database_only {
                world.resource_mut::<model::journal::Journal>().compact();
            }
            schedule.run(world);
            world.resource_mut::<Messages<SimCommand>>().update();
            let log = world.resource::<EventLog>();
            if log.activity == before {
                return Some(i + 1);
            }
            database_only = allowed && log.activity - before == log.internal - internal_before;
        }
        None
    });
    world.resource_mut::<DatabaseOnlyPasses>().run += database_only_passes;
    if let Some(n) = passes {
        return n;
    }
    let now = world.resource::<SimClock>().now_ms;
    world.resource_mut::<EventLog>().emit(
        now,
        SimEvent::new(
            EventKind::InvariantBroken,
            "simulation/core",
            format!("the controllers did not settle after {MAX_PASSES} passes at one instant"),
        ),
    );
    MAX_PASSES
}

/// Settles the instant, lets scenario steps fire, and settles again until
/// neither changes anything.
pub fn settle_all(world: &mut World) {
    for _ in 0..MAX_PASSES {
        settle(world);
        let before = world.resource::<EventLog>().activity;
        world.run_schedule(AfterSettle);
        if world.resource::<EventLog>().activity == before {
            return;
        }
    }
}

/// Advances simulated time to `target_ms`, running every due instant on the
/// way and skipping the idle time between them. Stops early (returning false)
/// when a lesson asks to pause.
pub fn advance_to(world: &mut World, target_ms: u64) -> bool {
    advance_until(world, target_ms, &mut |_| true) == Advance::Reached
}

/// How far `advance_until` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// The clock is at the target.
    Reached,
    /// A lesson asked to pause (at the current instant).
    Paused,
    /// `keep_going` said stop; the clock is at the next due instant, not yet
    /// settled. Calling again goes on exactly as if it had not stopped.
    Stopped,
}

/// `advance_to`, asking `keep_going` after each settled instant whether to go
/// on: a rewind in the GUI spreads a long replay over frames this way (the
/// caller decides with its wall clock; the core never reads one), and the
/// outcome of a run is observed instant by instant.
pub fn advance_until(
    world: &mut World,
    target_ms: u64,
    keep_going: &mut dyn FnMut(&World) -> bool,
) -> Advance {
    loop {
        settle_all(world);
        if world.resource::<PauseRequest>().0.is_some() {
            return Advance::Paused;
        }
        let next = world.resource::<SimClock>().wake.next_ms;
        let go_on = keep_going(world);
        match next {
            Some(t) if t <= target_ms => {
                world.resource_mut::<SimClock>().now_ms = t;
                if !go_on {
                    return Advance::Stopped;
                }
            }
            _ => break,
        }
    }
    let mut clock = world.resource_mut::<SimClock>();
    clock.now_ms = clock.now_ms.max(target_ms);
    Advance::Reached
}

/// The next instant something is due, if any.
pub fn next_wake(world: &World) -> Option<u64> {
    world.resource::<SimClock>().wake.next_ms
}
