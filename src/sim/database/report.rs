//! Read-only views of the databases for the scenario player, the snapshot and
//! the headless report: rows on a pod's volume, a replica's lag, and each
//! database's figures.

use super::{Databases, DbServer, VolumeData};
use crate::sim::SimClock;
use crate::sim::model::*;
use bevy::prelude::*;

/// Rows stored on the first volume of a pod.
pub fn rows_on(world: &World, pod: &str) -> Option<u64> {
    let index = world.resource::<Index>();
    let pe = *index.pods.get(pod)?;
    let claim = world.get::<Pod>(pe)?.claims.first()?.clone();
    let ce = *index.claims.get(&claim)?;
    let v = world.get::<ClaimStatus>(ce)?.volume.clone()?;
    let ve = *index.volumes.get(&v)?;
    Some(world.get::<VolumeData>(ve)?.rows())
}

/// Replica lag in rows: the primary's last row minus the replica's position.
pub fn replica_lag(world: &World, pod: &str) -> Option<u64> {
    replica_lag_both(world, pod).map(|(rows, _)| rows)
}

/// Replica lag in seconds behind the primary (Seconds_Behind_Source).
pub fn replica_lag_seconds(world: &World, pod: &str) -> Option<f64> {
    replica_lag_both(world, pod).map(|(_, ms)| ms as f64 / 1000.0)
}

/// (rows behind, ms behind) of the server running for `pod`.
fn replica_lag_both(world: &World, pod: &str) -> Option<(u64, u64)> {
    let now = world.resource::<SimClock>().now_ms;
    let index = world.resource::<Index>();
    let pe = *index.pods.get(pod)?;
    let p = world.get::<Pod>(pe)?;
    let db = world
        .resource::<Databases>()
        .dbs
        .get(&p.owner.name)?
        .clone();
    let uid = p.uid.clone();
    let mut q = world.try_query::<(&Process, &DbServer)>()?;
    let (_, srv) = q.iter(world).find(|(pr, _)| pr.pod_uid == uid)?;
    if srv.primary {
        return Some((0, 0));
    }
    Some((
        db.primary_pos.saturating_sub(srv.position),
        db.lag_ms(srv.position, now),
    ))
}

/// One database's figures, for the snapshot and the headless report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DbSnap {
    pub name: String,
    pub write_rate: f64,
    pub written: u64,
    pub failed: u64,
    pub primary_position: u64,
    pub max_lag_rows: u64,
    pub max_lag_seconds: f64,
    pub servers: Vec<DbServerSnap>,
    /// The tutorial's Service for reads (`mysql-read`), which balances
    /// reads over every Ready pod of the set, primary and replicas.
    pub read_service: String,
    /// Its endpoints now: the Ready, not Terminating pods, by name.
    pub read_endpoints: Vec<String>,
}

/// One server's replication figures, for the snapshot.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DbServerSnap {
    pub pod: String,
    pub node: String,
    pub server_id: u32,
    pub state: String,
    pub position: u64,
    pub lag_rows: u64,
    pub lag_seconds: f64,
}
