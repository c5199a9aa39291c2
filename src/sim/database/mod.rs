//! The replicated database (docs/semantics.md, "the replicated database"): a
//! MySQL-style primary at the set's lowest ordinal (`ordinals.start`, 0 unless
//! set) and read-only replicas that clone from pod N−1 and then replicate from
//! the primary through its stable name. Data lives on the volume.
//!
//! One pass per database, in set-name order: gather its servers and find the
//! primary behind the name (`servers`), give new servers their role, take the
//! clients' writes (`clients`), step each replica (`replication`); then look
//! for volumes written by two servers with one identity (`divergence`).

mod clients;
mod divergence;
mod replication;
mod report;
mod servers;
mod state;

pub use report::*;
pub use state::*;

use super::event::EventLog;
use super::model::*;
use super::ops::Cluster;
use super::{SimClock, SimSystems};
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;

/// Database time step.
pub const DB_TICK_MS: u64 = 1_000;
/// Replicas retry a lost primary this often.
pub const RETRY_MS: u64 = 10_000;
/// Clone speed (rows per second) and fixed overhead.
pub const CLONE_ROWS_PER_S: u64 = 500;
/// The fixed part of a clone's duration, whatever its size.
pub const CLONE_BASE_MS: u64 = 2_000;
/// Write batches remembered for lag in seconds (oldest dropped first).
pub const HISTORY_CAP: usize = 100_000;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Databases>()
        .init_resource::<SteadyTicks>()
        .add_systems(
            super::SimSchedule,
            (
                // Before commands: a deferred tick runs on the world as it
                // stood at its second, before anything of the new instant.
                catch_up_deferred_ticks.before(SimSystems::ApplyCommands),
                run_databases.in_set(SimSystems::Database),
            ),
        );
}

/// Whether a database in a steady state may leave its ticks to be run later.
///
/// A database ticks every second while its clients write or a replica lags.
/// In a steady state (see `steady`) a tick only moves rows: the clients'
/// rows land where they landed before (or are refused and counted, as
/// before), caught-up replicas apply them, the lag figures grow. It logs no
/// event and changes nothing another system reads (controllers read only
/// `Process::hold_ready`, which no such tick changes). With `skip` on, such
/// a database asks for no pass at its next second; the first pass of the
/// next instant the cluster needs runs the skipped ticks first, each at its
/// own second and in order, with the same arithmetic. The event log and
/// every later state are those of ticking every second. Only an observer
/// reading rows, lag or refused writes between those instants would see a
/// difference (the GUI's panels, a snapshot of an instant in between, a
/// scenario step waiting on rows): off by default, turned on by
/// `statefulset-sim explore` once no step waiting on database progress is
/// left.
#[derive(Resource, Debug, Default)]
pub struct SteadyTicks {
    pub skip: bool,
}

/// Called when a StatefulSet with a database is created.
pub fn register_database(world: &mut World, set: &str, spec: &DatabaseSpec) {
    let DatabaseSpec::Mysql { write_rate } = spec;
    let now = world.resource::<SimClock>().now_ms;
    world.resource_mut::<Databases>().dbs.insert(
        set.to_string(),
        DbState {
            write_rate: *write_rate,
            last_tick_ms: now,
            ..Default::default()
        },
    );
}

fn pick_db<'a>(dbs: &'a mut Databases, set: Option<&str>) -> Result<&'a mut DbState, String> {
    match set {
        Some(s) => dbs
            .dbs
            .get_mut(s)
            .ok_or_else(|| format!("{s} runs no database")),
        None => {
            if dbs.dbs.len() > 1 {
                return Err("several databases: say which with set: \"NAME\"".into());
            }
            dbs.dbs
                .values_mut()
                .next()
                .ok_or_else(|| "no StatefulSet runs a database".into())
        }
    }
}

/// The `Write` command: `rows` rows written at once by clients of `set`'s
/// database (the only one when `set` is None).
pub fn command_write(world: &mut World, set: Option<&str>, rows: u64) -> Result<(), String> {
    if rows > limits::MAX_WRITE_ROWS {
        return Err(format!("at most {} rows at once", limits::MAX_WRITE_ROWS));
    }
    let mut dbs = world.resource_mut::<Databases>();
    pick_db(&mut dbs, set)?.pending_writes += rows;
    world.resource_mut::<EventLog>().touch();
    Ok(())
}

/// The `SetWriteRate` command: clients of `set`'s database write `rate` rows
/// per second from now on.
pub fn command_rate(world: &mut World, set: Option<&str>, rate: f64) -> Result<(), String> {
    if !(0.0..=limits::MAX_WRITE_RATE).contains(&rate) || !rate.is_finite() {
        return Err(format!(
            "the write rate must be between 0 and {}",
            limits::MAX_WRITE_RATE
        ));
    }
    let mut dbs = world.resource_mut::<Databases>();
    pick_db(&mut dbs, set)?.write_rate = rate;
    world.resource_mut::<EventLog>().touch();
    Ok(())
}

/// What the database pass reads and writes besides the `Cluster`.
#[derive(SystemParam)]
struct DbQueries<'w, 's> {
    pods: Query<'w, 's, (&'static Pod, &'static PodStatus)>,
    procs: Query<'w, 's, (Entity, &'static mut Process, Option<&'static mut DbServer>)>,
    nodes: Query<'w, 's, &'static NodeState>,
    data: Query<'w, 's, &'static mut VolumeData>,
    /// Attachments: a fenced one (force-detached under a live mount) makes
    /// its node's server fail its writes.
    attachments: Query<'w, 's, &'static Attachment>,
}

/// Runs every database one step: its servers, its clients' writes, its
/// replicas; then reports diverged volumes and asks for the next tick while
/// anything moves (a steady database under `SteadyTicks` defers it).
fn run_databases(
    mut cluster: Cluster,
    mut dbs: ResMut<Databases>,
    steady: Res<SteadyTicks>,
    sets: Query<&StatefulSet>,
    mut q: DbQueries,
) {
    if dbs.dbs.is_empty() {
        return;
    }
    let run = DbRun::start(&mut cluster);
    let now = cluster.now();
    let tick = now.is_multiple_of(DB_TICK_MS);
    let names: Vec<String> = dbs.dbs.keys().cloned().collect();
    let mut need_ticks = false;
    for set_name in names {
        let Some(set) = cluster
            .index
            .sets
            .get(&set_name)
            .and_then(|&e| sets.get(e).ok())
        else {
            continue;
        };
        let next = run_database(&mut cluster, &mut dbs, &mut q, &set.spec, now, tick);
        let defer = next == NextTick::Steady && steady.skip;
        if let Some(db) = dbs.dbs.get_mut(&set_name) {
            db.deferred = defer;
        }
        need_ticks |= next != NextTick::None && !defer;
    }
    divergence::report(&mut cluster, &dbs, &mut q.data);
    if need_ticks {
        cluster.wake_at((now / DB_TICK_MS + 1) * DB_TICK_MS);
    }
    run.end(&mut cluster);
}

/// Runs the ticks each deferred database skipped (see `SteadyTicks`), at
/// their seconds, up to the current instant (excluded: its own tick, if it
/// is one, runs in the database pass), or until it would have stopped
/// ticking.
fn catch_up_deferred_ticks(
    mut cluster: Cluster,
    mut dbs: ResMut<Databases>,
    sets: Query<&StatefulSet>,
    mut q: DbQueries,
) {
    let run = DbRun::start(&mut cluster);
    let now = cluster.now();
    let deferred: Vec<String> = dbs
        .dbs
        .iter()
        .filter(|(_, d)| d.deferred)
        .map(|(n, _)| n.clone())
        .collect();
    for set_name in deferred {
        let Some(set) = cluster
            .index
            .sets
            .get(&set_name)
            .and_then(|&e| sets.get(e).ok())
        else {
            continue;
        };
        let (events, activity) = (cluster.log.total(), cluster.log.activity);
        // Nothing but rows changed since the last pass: the servers, the
        // primary's name and the pods are as they were, so they are
        // gathered once for all the skipped seconds.
        let mut pass: Option<servers::Pass> = None;
        while let Some(last) = dbs.dbs.get(&set_name).map(|d| d.last_tick_ms) {
            let s = (last / DB_TICK_MS + 1) * DB_TICK_MS;
            if s >= now {
                break;
            }
            let pass = match &mut pass {
                Some(p) => {
                    p.now = s;
                    p
                }
                None => pass.insert(servers::gather(&cluster, &q, &set.spec, s, true)),
            };
            dbs.deferred_ticks += 1;
            let next = step_database(&mut cluster, &mut dbs, &mut q, pass);
            debug_assert!(next != NextTick::Needed, "a steady tick left it unsteady");
            if next == NextTick::None {
                break;
            }
        }
        // A steady tick logs nothing (`steady` makes sure); what it changed
        // needs no other system's reaction, so it starts no extra pass.
        debug_assert_eq!(
            cluster.log.total(),
            events,
            "a deferred tick logged an event"
        );
        cluster.log.activity = activity;
    }
    run.end(&mut cluster);
}

/// A database system's run, as `sim::settle` sees it: the deadlines it asks
/// for are the database's, and what it changed is the database's own
/// (`EventLog::internal`) unless it wrote a watched component (a server's
/// `Process`: its readiness hold, its init containers), which the journal
/// notes. Its rows, replication states and positions, counts and events are
/// read by no other system of the pass.
struct DbRun {
    activity: u64,
    noted: usize,
}

impl DbRun {
    fn start(cluster: &mut Cluster) -> Self {
        cluster.clock.wake.database_running(true);
        DbRun {
            activity: cluster.log.activity,
            noted: cluster.journal.noted(),
        }
    }
    fn end(self, cluster: &mut Cluster) {
        cluster.clock.wake.database_running(false);
        if cluster.journal.noted() == self.noted {
            cluster.log.internal += cluster.log.activity - self.activity;
        }
    }
}

/// Whether a database needs its next tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NextTick {
    /// Idle: clients do not write, replicas are caught up.
    None,
    /// It needs it, and the tick may change what others see.
    Needed,
    /// It needs it, and it is steady: it may be deferred.
    Steady,
}

/// One database's step at `now` (a tick when `tick`).
fn run_database(
    cluster: &mut Cluster,
    dbs: &mut Databases,
    q: &mut DbQueries,
    spec: &StatefulSetSpec,
    now: u64,
    tick: bool,
) -> NextTick {
    let pass = servers::gather(cluster, q, spec, now, tick);
    step_database(cluster, dbs, q, &pass)
}

/// One database's step over what `pass` gathered.
fn step_database(
    cluster: &mut Cluster,
    dbs: &mut Databases,
    q: &mut DbQueries,
    pass: &servers::Pass,
) -> NextTick {
    servers::start_new(cluster, dbs, q, pass);
    let Some(mut db) = dbs.dbs.get_mut(&pass.spec.name).map(std::mem::take) else {
        return NextTick::None;
    };
    clients::serve(cluster, q, pass, &mut db);
    replication::step_replicas(cluster, q, pass, &db);
    let lagging = pass.infos.iter().any(|i| {
        q.procs
            .get(i.entity)
            .ok()
            .and_then(|(_, _, s)| s.map(|s| !s.primary && s.position < db.primary_pos))
            .unwrap_or(false)
    });
    let next = if !keeps_ticking(&db, lagging) {
        NextTick::None
    } else if steady(&steady_facts(pass, q, &db)) {
        NextTick::Steady
    } else {
        NextTick::Needed
    };
    if let Some(slot) = dbs.dbs.get_mut(&pass.spec.name) {
        *slot = db;
    }
    next
}

/// What decides whether a database's next ticks are steady, gathered after
/// its pass.
#[derive(Debug, Clone, Copy, Default)]
struct SteadyFacts {
    /// Its clients write at a rate.
    writes: bool,
    /// Their writes reach a server (the clients' pool or the primary's name).
    target: bool,
    /// They were being refused (the next write that lands is logged).
    failing: bool,
    /// A server of the primary's ordinal cut off by a partition runs and is
    /// not the clients' target: clients across the partition write to it,
    /// and its rows may diverge.
    cut_off_primary: bool,
    /// Every running replicating replica can pull from the primary's log,
    /// has applied all the primary had at the last tick, and holds no row
    /// past its position (its next rows append cleanly).
    replicas_in_step: bool,
}

/// Steady: until something else in the cluster changes, each tick only
/// moves rows. The clients' writes land where they landed (or are refused,
/// as they were: no WritesResumed or WritesFailed to log), no cut-off old
/// primary takes writes (no divergence to find), and every replica either
/// replicates in step (it stays caught up: `Converged` keeps its answer) or
/// waits for something with its own deadline (a clone, a retry) or for a
/// change elsewhere.
fn steady(f: &SteadyFacts) -> bool {
    let outcome_settled = !f.writes || f.target != f.failing;
    outcome_settled && !f.cut_off_primary && f.replicas_in_step
}

fn steady_facts(pass: &servers::Pass, q: &DbQueries, db: &DbState) -> SteadyFacts {
    let target = pass.infos.iter().position(|i| Some(i.entity) == db.pool);
    let cut_off_primary =
        pass.infos.iter().enumerate().any(|(n, i)| {
            i.ordinal == pass.start() && i.partitioned && i.running && Some(n) != target
        });
    let primary_log = pass.alive().is_some_and(|ep| {
        ep.volume.is_some() && matches!(q.procs.get(ep.entity), Ok((_, _, Some(_))))
    });
    let replicas_in_step = pass
        .infos
        .iter()
        .filter(|i| i.ordinal != pass.start() && i.running)
        .all(|i| match q.procs.get(i.entity) {
            Ok((_, _, Some(srv))) if srv.state == ReplState::Replicating => {
                let last_row = i
                    .volume
                    .and_then(|v| q.data.get(v).ok())
                    .map(|d| d.max_seq());
                primary_log
                    && i.connected
                    && srv.position >= db.primary_pos_prev
                    && last_row.is_some_and(|r| r <= srv.position)
            }
            _ => true,
        });
    SteadyFacts {
        writes: db.write_rate > 0.0,
        target: target.is_some(),
        failing: db.failing,
        cut_off_primary,
        replicas_in_step,
    }
}

/// A database needs its next tick while clients write, a replica lags, or the
/// primary moved during the last tick (replicas apply one tick behind).
fn keeps_ticking(db: &DbState, lagging: bool) -> bool {
    db.write_rate > 0.0 || lagging || db.primary_pos_prev != db.primary_pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_defers_only_ticks_that_just_move_rows() {
        let base = SteadyFacts {
            writes: true,
            target: true,
            failing: false,
            cut_off_primary: false,
            replicas_in_step: true,
        };
        assert!(steady(&base), "writes land, replicas apply them");
        let resumes = SteadyFacts {
            failing: true,
            ..base
        };
        assert!(
            !steady(&resumes),
            "the next write that lands logs WritesResumed"
        );
        let refused = SteadyFacts {
            target: false,
            failing: true,
            ..base
        };
        assert!(steady(&refused), "refused and counted, as before");
        let first_refusal = SteadyFacts {
            target: false,
            ..base
        };
        assert!(
            !steady(&first_refusal),
            "the first refusal logs WritesFailed"
        );
        let cut_off = SteadyFacts {
            cut_off_primary: true,
            ..base
        };
        assert!(!steady(&cut_off), "an old primary's rows may diverge");
        let catching_up = SteadyFacts {
            replicas_in_step: false,
            ..base
        };
        assert!(
            !steady(&catching_up),
            "a replica catching up changes Converged"
        );
        let no_clients = SteadyFacts {
            writes: false,
            target: false,
            ..base
        };
        assert!(steady(&no_clients));
    }

    #[test]
    fn an_idle_caught_up_database_stops_ticking() {
        let mut db = DbState::default();
        assert!(!keeps_ticking(&db, false));
        assert!(keeps_ticking(&db, true), "a lagging replica still applies");
        db.primary_pos = 5;
        assert!(keeps_ticking(&db, false), "replicas apply one tick behind");
        db.primary_pos_prev = 5;
        db.write_rate = 0.5;
        assert!(keeps_ticking(&db, false), "clients write");
    }
}
