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
    app.init_resource::<Databases>().add_systems(
        super::SimSchedule,
        run_databases.in_set(SimSystems::Database),
    );
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
/// anything moves.
fn run_databases(
    mut cluster: Cluster,
    mut dbs: ResMut<Databases>,
    sets: Query<&StatefulSet>,
    mut q: DbQueries,
) {
    if dbs.dbs.is_empty() {
        return;
    }
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
        need_ticks |= run_database(&mut cluster, &mut dbs, &mut q, &set.spec, tick);
    }
    divergence::report(&mut cluster, &dbs, &mut q.data);
    if need_ticks {
        cluster.wake_at((now / DB_TICK_MS + 1) * DB_TICK_MS);
    }
}

/// One database's step. Returns whether it needs the next tick.
fn run_database(
    cluster: &mut Cluster,
    dbs: &mut Databases,
    q: &mut DbQueries,
    spec: &StatefulSetSpec,
    tick: bool,
) -> bool {
    let pass = servers::gather(cluster, q, spec, tick);
    servers::start_new(cluster, dbs, q, &pass);
    let Some(mut db) = dbs.dbs.get_mut(&spec.name).map(std::mem::take) else {
        return false;
    };
    clients::serve(cluster, q, &pass, &mut db);
    replication::step_replicas(cluster, q, &pass, &db);
    let lagging = pass.infos.iter().any(|i| {
        q.procs
            .get(i.entity)
            .ok()
            .and_then(|(_, _, s)| s.map(|s| !s.primary && s.position < db.primary_pos))
            .unwrap_or(false)
    });
    let need_ticks = keeps_ticking(&db, lagging);
    if let Some(slot) = dbs.dbs.get_mut(&spec.name) {
        *slot = db;
    }
    need_ticks
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
