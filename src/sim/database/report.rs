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

/// What a final read of a database finds: the rows its primary acknowledged
/// and those of them its volume (the claim of ordinal `ordinals.start`'s
/// first template, where the primary keeps its data) no longer holds.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalRead {
    pub acked_rows: u64,
    pub lost: Vec<super::RowRange>,
    /// The primary's claim.
    pub claim: String,
    /// Why the whole data is missing (no claim, no volume), if it is.
    pub missing: Option<String>,
}

impl FinalRead {
    /// How many acknowledged rows are lost.
    pub fn lost_rows(&self) -> u64 {
        self.lost.iter().map(|r| r.len()).sum()
    }
}

/// The final read of the database of StatefulSet `set` (None when it runs no
/// database).
pub fn final_read(world: &World, set: &str) -> Option<FinalRead> {
    let db = world.resource::<Databases>().dbs.get(set)?;
    let index = world.resource::<Index>();
    let spec = &world.get::<StatefulSet>(*index.sets.get(set)?)?.spec;
    let claim = spec.claim_name(&spec.claims.first()?.name, spec.ordinals_start);
    let acked_rows = db.acked.iter().map(|r| r.len()).sum();
    let volume = index
        .claims
        .get(&claim)
        .and_then(|&ce| world.get::<ClaimStatus>(ce))
        .and_then(|cs| cs.volume.clone());
    let data = volume
        .as_ref()
        .and_then(|v| index.volumes.get(v))
        .and_then(|&ve| world.get::<VolumeData>(ve));
    let (lost, missing) = match (data, &volume) {
        (Some(d), _) => (db.lost_from(d), None),
        (None, Some(v)) => (db.acked.clone(), Some(format!("volume {v} is gone"))),
        (None, None) => (
            db.acked.clone(),
            Some(format!("claim {claim} has no volume")),
        ),
    };
    Some(FinalRead {
        acked_rows,
        lost,
        claim,
        missing,
    })
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
