//! The replicated database (SEMANTICS §6): a MySQL-style primary at ordinal 0
//! and read-only replicas that clone from pod N−1 and then replicate from the
//! primary through its stable name. Data lives on the volume.

use super::event::{EventKind, EventLog, SimEvent};
use super::model::*;
use super::{SimClock, SimSystems, Wake};
use bevy::prelude::*;
use std::collections::{BTreeMap, VecDeque};

/// Database time step.
pub const DB_TICK_MS: u64 = 1_000;
/// Replicas retry a lost primary this often.
pub const RETRY_MS: u64 = 10_000;
/// Clone speed (rows per second) and fixed overhead.
pub const CLONE_ROWS_PER_S: u64 = 500;
pub const CLONE_BASE_MS: u64 = 2_000;
/// Write batches remembered for lag in seconds (oldest dropped first).
pub const HISTORY_CAP: usize = 100_000;

/// A run of consecutive rows written through one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRange {
    pub writer: u32,
    pub from: u64,
    pub to: u64,
}

impl RowRange {
    pub fn len(&self) -> u64 {
        self.to + 1 - self.from
    }
    pub fn is_empty(&self) -> bool {
        self.to < self.from
    }
}

/// The rows stored on a volume (its transaction log).
#[derive(Component, Debug, Clone, Default)]
pub struct VolumeData {
    pub ranges: Vec<RowRange>,
    /// Divergence already reported.
    pub diverged: bool,
}

impl VolumeData {
    pub fn rows(&self) -> u64 {
        self.ranges.iter().map(|r| r.len()).sum()
    }
    pub fn max_seq(&self) -> u64 {
        self.ranges.iter().map(|r| r.to).max().unwrap_or(0)
    }
    /// Appends rows `from..=to` by `writer`, merging with the last range.
    pub fn append(&mut self, writer: u32, from: u64, to: u64) {
        if to < from {
            return;
        }
        if let Some(last) = self.ranges.last_mut()
            && last.writer == writer
            && last.to + 1 == from
        {
            last.to = to;
            return;
        }
        self.ranges.push(RowRange { writer, from, to });
    }
    /// The rows a server sees: the common history up to `base`, then its own.
    pub fn lineage(&self, base: u64, writer: u32) -> Vec<RowRange> {
        let mut out = Vec::new();
        for r in &self.ranges {
            if r.from <= base {
                out.push(RowRange {
                    writer: r.writer,
                    from: r.from,
                    to: r.to.min(base),
                });
            }
            if r.writer == writer && r.to > base {
                out.push(RowRange {
                    writer,
                    from: r.from.max(base + 1),
                    to: r.to,
                });
            }
        }
        out
    }
}

/// A database server's replication state, on its Process.
#[derive(Component, Debug, Clone)]
pub struct DbServer {
    pub set: String,
    pub server_id: u32,
    pub primary: bool,
    /// Writer id of this server's own writes.
    pub writer: u32,
    /// The volume's last row when this server started.
    pub base: u64,
    pub state: ReplState,
    /// Last row applied (replicas) or written (primary).
    pub position: u64,
    pub last_change_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplState {
    Primary,
    WaitingForCloneSource,
    Cloning { source: String, until_ms: u64 },
    Connecting,
    Replicating,
    Broken { since_ms: u64, retry_ms: u64 },
}

/// Per database (one per StatefulSet with `database`).
#[derive(Debug, Clone, Default)]
pub struct DbState {
    pub write_rate: f64,
    pub carry: f64,
    pub written: u64,
    pub failed: u64,
    pub failing: bool,
    /// Primary position at the previous tick (replicas apply up to it: lag).
    pub primary_pos_prev: u64,
    pub primary_pos: u64,
    pub pending_writes: u64,
    pub last_tick_ms: u64,
    /// (last row of a write batch, when it was written): the primary's
    /// binlog timestamps, for Seconds_Behind_Source.
    pub history: VecDeque<(u64, u64)>,
    /// Largest replica lag seen at a database tick (replicas past their clone).
    pub max_lag_rows: u64,
    pub max_lag_ms: u64,
}

impl DbState {
    /// Seconds_Behind_Source in ms: how long ago the oldest row a replica at
    /// `position` has not applied was written on the primary (0 if caught up).
    pub fn lag_ms(&self, position: u64, now: u64) -> u64 {
        if position >= self.primary_pos {
            return 0;
        }
        self.history
            .iter()
            .find(|(seq, _)| *seq > position)
            .map_or(0, |(_, t)| now.saturating_sub(*t))
    }
}

impl ReplState {
    /// A short label for the snapshot and the UI.
    pub fn label(&self) -> String {
        match self {
            ReplState::Primary => "primary".into(),
            ReplState::WaitingForCloneSource => "waiting for clone source".into(),
            ReplState::Cloning { source, .. } => format!("cloning from {source}"),
            ReplState::Connecting => "connecting".into(),
            ReplState::Replicating => "replicating".into(),
            ReplState::Broken { .. } => "replication broken, retrying".into(),
        }
    }
}

#[derive(Resource, Debug, Default)]
pub struct Databases {
    pub dbs: BTreeMap<String, DbState>,
    /// Writer labels ("mysql-0 on node-a").
    pub writers: Vec<String>,
}

impl Databases {
    pub fn writer_label(&self, w: u32) -> &str {
        self.writers
            .get(w as usize)
            .map(|s| s.as_str())
            .unwrap_or("?")
    }
}

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

pub fn command_write(world: &mut World, set: Option<&str>, rows: u64) -> Result<(), String> {
    if rows > limits::MAX_WRITE_ROWS {
        return Err(format!("at most {} rows at once", limits::MAX_WRITE_ROWS));
    }
    let mut dbs = world.resource_mut::<Databases>();
    pick_db(&mut dbs, set)?.pending_writes += rows;
    world.resource_mut::<EventLog>().touch();
    Ok(())
}

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

struct ProcInfo {
    entity: Entity,
    pod: String,
    uid: String,
    ordinal: u32,
    node: String,
    running: bool,
    connected: bool,
    partitioned: bool,
    volume: Option<Entity>,
}

#[allow(clippy::too_many_arguments)]
fn run_databases(
    clock: Res<SimClock>,
    mut wake: ResMut<Wake>,
    mut log: ResMut<EventLog>,
    mut dbs: ResMut<Databases>,
    index: Res<Index>,
    mut commands: Commands,
    sets: Query<&StatefulSet>,
    pods: Query<(&Pod, &PodStatus)>,
    mut procs: Query<(Entity, &mut Process, Option<&mut DbServer>)>,
    nodes: Query<&NodeState>,
    mut data: Query<&mut VolumeData>,
) {
    let now = clock.now_ms;
    if dbs.dbs.is_empty() {
        return;
    }
    let names: Vec<String> = dbs.dbs.keys().cloned().collect();
    let tick = now % DB_TICK_MS == 0;
    let mut need_ticks = false;
    for set_name in names {
        let Some(&se) = index.sets.get(&set_name) else {
            continue;
        };
        let Ok(set) = sets.get(se) else { continue };
        let start = set.spec.ordinals_start;
        let svc = set.spec.service_name().to_string();
        let primary_name = set.spec.pod_name(start);
        let primary_dns = format!("{primary_name}.{svc}");

        // Servers of this set, in a stable order.
        let mut infos: Vec<ProcInfo> = procs
            .iter()
            .filter(|(_, p, _)| p.owner.kind == OwnerKind::StatefulSet && p.owner.name == set_name)
            .map(|(e, p, _)| {
                let ns = index.nodes.get(&p.node).and_then(|&n| nodes.get(n).ok());
                ProcInfo {
                    entity: e,
                    pod: p.pod.clone(),
                    uid: p.pod_uid.clone(),
                    ordinal: p.ordinal.unwrap_or(0),
                    node: p.node.clone(),
                    running: p.running(),
                    connected: ns.is_some_and(|n| n.kubelet_connected()),
                    partitioned: ns.is_some_and(|n| n.machine == Machine::Partitioned),
                    volume: p
                        .volumes
                        .first()
                        .and_then(|v| index.volumes.get(v).copied()),
                }
            })
            .collect();
        infos.sort_by(|a, b| (a.ordinal, &a.node, &a.uid).cmp(&(b.ordinal, &b.node, &b.uid)));

        // The primary behind the DNS name: mysql-0's API pod, Ready, its
        // container running on a reachable node.
        let api_primary = index
            .pods
            .get(&primary_name)
            .and_then(|&e| pods.get(e).ok());
        let endpoint: Option<&ProcInfo> = api_primary.and_then(|(p, s)| {
            if !s.ready || s.terminating() {
                return None;
            }
            infos
                .iter()
                .find(|i| i.uid == p.uid && i.running && i.connected)
        });
        let endpoint_why = match api_primary {
            None => format!("{primary_name} does not exist, so the name has no address"),
            // The API still lists it Ready (endpoints and DNS keep its IP) but
            // its container or node is gone: connections time out.
            Some((_, s)) if s.ready && !s.terminating() => format!(
                "the name still points at {primary_name}, shown Ready, but nothing answers there: its container or node is down and the control plane has not noticed yet"
            ),
            Some((_, s)) => {
                format!(
                    "{primary_name} is {}, so the name has no address",
                    crate::sim::ops::describe_state(s, now, 0)
                )
            }
        };

        // New servers: give them their role.
        for i in &infos {
            let Ok((_, mut p, server)) = procs.get_mut(i.entity) else {
                continue;
            };
            if server.is_some() {
                continue;
            }
            let base = i
                .volume
                .and_then(|v| data.get(v).ok())
                .map_or(0, |d| d.max_seq());
            let writer = dbs.writers.len() as u32;
            dbs.writers.push(format!("{} on {}", i.pod, i.node));
            let primary = i.ordinal == start;
            let state = if primary {
                ReplState::Primary
            } else if base == 0 {
                p.hold_ready = true;
                ReplState::WaitingForCloneSource
            } else {
                log.emit(
                    now,
                    SimEvent::new(
                        EventKind::CloneFinished,
                        format!("pod/{}", i.pod),
                        format!("clone skipped: its volume already holds data up to row {base}; it resumes from there"),
                    )
                    .node(i.node.clone())
                    .detail("skipped"),
                );
                ReplState::Connecting
            };
            commands.entity(i.entity).insert(DbServer {
                set: set_name.clone(),
                server_id: 100 + i.ordinal,
                primary,
                writer,
                base,
                state,
                position: base,
                last_change_ms: now,
            });
            log.touch();
        }

        let db = dbs
            .dbs
            .get_mut(&set_name)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut db = db;
        // Lag figures, taken at each tick before its writes and applies: the
        // largest lag of the second that just ended. Only while the primary
        // answers (MySQL reports Seconds_Behind_Source as NULL while the source
        // is unreachable), over replicating replicas.
        if tick && now > db.last_tick_ms && endpoint.is_some() {
            for i in infos
                .iter()
                .filter(|i| i.ordinal != start && i.running && i.connected)
            {
                let Ok((_, _, Some(srv))) = procs.get(i.entity) else {
                    continue;
                };
                if srv.state == ReplState::Replicating {
                    db.max_lag_rows = db
                        .max_lag_rows
                        .max(db.primary_pos.saturating_sub(srv.position));
                    db.max_lag_ms = db.max_lag_ms.max(db.lag_ms(srv.position, now));
                }
            }
        }
        // Writes (each tick at the write rate, plus explicit writes now).
        let mut due = std::mem::take(&mut db.pending_writes);
        if tick && now > db.last_tick_ms {
            let dt = (now - db.last_tick_ms) as f64 / 1000.0;
            db.carry += db.write_rate * dt;
            let whole = db.carry.floor();
            db.carry -= whole;
            due += whole as u64;
            db.last_tick_ms = now;
            db.primary_pos_prev = db.primary_pos;
        }
        if due > 0 {
            match endpoint {
                Some(ep) => {
                    if let Some(v) = ep.volume
                        && let Ok(mut d) = data.get_mut(v)
                        && let Ok((_, _, Some(srv))) = procs.get(ep.entity)
                    {
                        let from = d.max_seq() + 1;
                        d.append(srv.writer, from, from + due - 1);
                        db.written += due;
                        db.primary_pos = from + due - 1;
                        db.history.push_back((from + due - 1, now));
                        if db.history.len() > HISTORY_CAP {
                            db.history.pop_front();
                        }
                    }
                    if db.failing {
                        db.failing = false;
                        log.emit(
                            now,
                            SimEvent::new(
                                EventKind::WritesResumed,
                                format!("statefulset/{set_name}"),
                                format!("{primary_dns} resolves again: writes go to {primary_name} ({} refused meanwhile)", db.failed),
                            ),
                        );
                    }
                }
                None => {
                    db.failed += due;
                    if !db.failing {
                        db.failing = true;
                        log.emit(
                            now,
                            SimEvent::new(
                                EventKind::WritesFailed,
                                format!("statefulset/{set_name}"),
                                format!("writes to {primary_dns} fail ({endpoint_why}): they are refused and counted, never silently dropped"),
                            ),
                        );
                    } else {
                        log.touch();
                    }
                }
            }
            // Clients on the far side of a partition keep writing to an old
            // primary that still runs there (split brain).
            for i in infos
                .iter()
                .filter(|i| i.ordinal == start && i.partitioned && i.running)
            {
                if endpoint.is_some_and(|ep| ep.entity == i.entity) {
                    continue;
                }
                if let Some(v) = i.volume
                    && let Ok(mut d) = data.get_mut(v)
                    && let Ok((_, _, Some(srv))) = procs.get(i.entity)
                {
                    let mine = d
                        .lineage(srv.base, srv.writer)
                        .last()
                        .map_or(srv.base, |r| r.to.max(srv.base));
                    d.append(srv.writer, mine + 1, mine + due);
                }
            }
        }
        if let Some(ep) = endpoint
            && let Some(v) = ep.volume
            && let Ok(d) = data.get(v)
        {
            db.primary_pos = d.max_seq();
        }

        // Replicas.
        let primary_writer = endpoint
            .and_then(|ep| procs.get(ep.entity).ok())
            .and_then(|(_, _, s)| s.map(|s| (s.base, s.writer)));
        let primary_volume = endpoint.and_then(|ep| ep.volume);
        for i in infos.iter().filter(|i| i.ordinal != start) {
            let Ok((_, mut p, Some(mut srv))) = procs.get_mut(i.entity) else {
                continue;
            };
            if !i.connected && !i.partitioned {
                continue;
            }
            match srv.state.clone() {
                ReplState::WaitingForCloneSource => {
                    let src = set.spec.pod_name(i.ordinal - 1);
                    let ok = index
                        .pods
                        .get(&src)
                        .and_then(|&e| pods.get(e).ok())
                        .is_some_and(|(_, s)| s.running_and_ready());
                    let src_rows = infos
                        .iter()
                        .find(|j| j.pod == src && j.running)
                        .and_then(|j| j.volume)
                        .and_then(|v| data.get(v).ok())
                        .map(|d| d.rows());
                    if ok && let Some(rows) = src_rows {
                        let until = now + CLONE_BASE_MS + rows * 1000 / CLONE_ROWS_PER_S;
                        srv.state = ReplState::Cloning {
                            source: src.clone(),
                            until_ms: until,
                        };
                        log.emit(
                            now,
                            SimEvent::new(
                                EventKind::CloneStarted,
                                format!("pod/{}", i.pod),
                                format!(
                                    "empty volume: cloning from {src} (pod N−1, Ready thanks to OrderedReady); {rows} rows now, about {:.1}s",
                                    (until - now) as f64 / 1000.0
                                ),
                            )
                            .node(i.node.clone())
                            .detail(src),
                        );
                    }
                }
                ReplState::Cloning { source, until_ms } => {
                    if now < until_ms {
                        wake.at(until_ms);
                        continue;
                    }
                    let src_data = infos
                        .iter()
                        .find(|j| j.pod == source)
                        .and_then(|j| j.volume)
                        .and_then(|v| data.get(v).ok())
                        .map(|d| d.ranges.clone());
                    let Some(ranges) = src_data else {
                        srv.state = ReplState::WaitingForCloneSource;
                        log.touch();
                        continue;
                    };
                    let mut copied = 0;
                    if let Some(v) = i.volume
                        && let Ok(mut d) = data.get_mut(v)
                    {
                        d.ranges = ranges;
                        copied = d.rows();
                        srv.position = d.max_seq();
                        srv.base = srv.position;
                    }
                    srv.state = ReplState::Connecting;
                    p.hold_ready = false;
                    log.emit(
                        now,
                        SimEvent::new(
                            EventKind::CloneFinished,
                            format!("pod/{}", i.pod),
                            format!(
                                "cloned {copied} rows from {source} (the copy is consistent as of its end); replication will start from row {}",
                                srv.position
                            ),
                        )
                        .node(i.node.clone())
                        .detail(source),
                    );
                }
                ReplState::Connecting | ReplState::Broken { .. } => {
                    if let ReplState::Broken { retry_ms, .. } = srv.state
                        && now < retry_ms
                    {
                        wake.at(retry_ms);
                        continue;
                    }
                    if endpoint.is_some() && i.connected {
                        srv.state = ReplState::Replicating;
                        log.emit(
                            now,
                            SimEvent::new(
                                EventKind::ReplicationStarted,
                                format!("pod/{}", i.pod),
                                format!(
                                    "server-id {} replicates from {primary_dns} (the primary's stable name) from row {}{}",
                                    srv.server_id,
                                    srv.position,
                                    match db.primary_pos.saturating_sub(srv.position) {
                                        0 => String::new(),
                                        n => format!(", {n} rows behind: it catches up"),
                                    }
                                ),
                            )
                            .node(i.node.clone())
                            .detail(primary_dns.clone()),
                        );
                    } else if let ReplState::Broken { since_ms, .. } = srv.state {
                        srv.state = ReplState::Broken {
                            since_ms,
                            retry_ms: now + RETRY_MS,
                        };
                        wake.at(now + RETRY_MS);
                        log.touch();
                    } else {
                        srv.state = ReplState::Broken {
                            since_ms: now,
                            retry_ms: now + RETRY_MS,
                        };
                        wake.at(now + RETRY_MS);
                        log.touch();
                    }
                }
                ReplState::Replicating => {
                    if endpoint.is_none() || !i.connected {
                        srv.state = ReplState::Broken {
                            since_ms: now,
                            retry_ms: now + RETRY_MS,
                        };
                        wake.at(now + RETRY_MS);
                        log.emit(
                            now,
                            SimEvent::new(
                                EventKind::ReplicationBroken,
                                format!("pod/{}", i.pod),
                                format!("lost {primary_dns} ({endpoint_why}); still serving stale reads, retrying every 10s"),
                            )
                            .node(i.node.clone()),
                        );
                        continue;
                    }
                    if !tick {
                        continue;
                    }
                    // Asynchronous: apply what the primary had one tick ago.
                    let target = db.primary_pos_prev.max(srv.position).min(db.primary_pos);
                    if target > srv.position
                        && let (Some((base, writer)), Some(pv), Some(v)) =
                            (primary_writer, primary_volume, i.volume)
                    {
                        let rows: Vec<RowRange> = data
                            .get(pv)
                            .map(|d| d.lineage(base, writer))
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|r| r.to > srv.position)
                            .map(|r| RowRange {
                                writer: r.writer,
                                from: r.from.max(srv.position + 1),
                                to: r.to.min(target),
                            })
                            .filter(|r| !r.is_empty())
                            .collect();
                        if let Ok(mut d) = data.get_mut(v) {
                            for r in rows {
                                d.append(r.writer, r.from, r.to);
                            }
                        }
                        srv.position = target;
                        log.touch();
                    }
                }
                ReplState::Primary => {}
            }
            let _ = &mut p;
        }
        // Keep ticking while anything moves.
        let lagging = infos.iter().any(|i| {
            procs
                .get(i.entity)
                .ok()
                .and_then(|(_, _, s)| s.map(|s| !s.primary && s.position < db.primary_pos))
                .unwrap_or(false)
        });
        if db.write_rate > 0.0 || lagging || db.primary_pos_prev != db.primary_pos {
            need_ticks = true;
        }
        if let Some(slot) = dbs.dbs.get_mut(&set_name) {
            *slot = db;
        }
    }
    // Divergence: a volume holding rows written through two servers after a common point.
    let vols = index.volumes.sorted();
    for (vname, &ve) in vols {
        let Ok(mut d) = data.get_mut(ve) else {
            continue;
        };
        if d.diverged {
            continue;
        }
        let mut by_writer: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        for r in &d.ranges {
            let e = by_writer.entry(r.writer).or_insert((u64::MAX, 0));
            e.0 = e.0.min(r.from);
            e.1 += r.len();
        }
        let overlapping = d.ranges.iter().enumerate().any(|(i, a)| {
            d.ranges[i + 1..]
                .iter()
                .any(|b| a.writer != b.writer && a.from <= b.to && b.from <= a.to)
        });
        if overlapping {
            d.diverged = true;
            let parts: Vec<String> = by_writer
                .iter()
                .map(|(w, (_, n))| format!("{n} rows through {}", dbs.writer_label(*w)))
                .collect();
            log.emit(
                now,
                SimEvent::new(
                    EventKind::DataDiverged,
                    format!("pv/{vname}"),
                    format!("two servers with one identity wrote conflicting rows with the same numbers: {}", parts.join(", ")),
                )
                .volume(vname.clone()),
            );
        }
    }
    if need_ticks {
        wake.at((now / DB_TICK_MS + 1) * DB_TICK_MS);
    }
}

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
}

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

/// Every database now, sorted by set name; servers by pod then node.
pub fn db_snapshots(world: &mut World) -> Vec<DbSnap> {
    let now = world.resource::<SimClock>().now_ms;
    let mut servers: Vec<(String, DbServerSnap)> = world
        .query::<(&Process, &DbServer)>()
        .iter(world)
        .map(|(p, s)| {
            (
                s.set.clone(),
                DbServerSnap {
                    pod: p.pod.clone(),
                    node: p.node.clone(),
                    server_id: s.server_id,
                    state: s.state.label(),
                    position: s.position,
                    lag_rows: 0,
                    lag_seconds: 0.0,
                },
            )
        })
        .collect();
    servers.sort_by(|a, b| (&a.1.pod, &a.1.node).cmp(&(&b.1.pod, &b.1.node)));
    let dbs = world.resource::<Databases>();
    dbs.dbs
        .iter()
        .map(|(name, db)| DbSnap {
            name: name.clone(),
            write_rate: db.write_rate,
            written: db.written,
            failed: db.failed,
            primary_position: db.primary_pos,
            max_lag_rows: db.max_lag_rows,
            max_lag_seconds: db.max_lag_ms as f64 / 1000.0,
            servers: servers
                .iter()
                .filter(|(set, _)| set == name)
                .map(|(_, s)| {
                    let mut s = s.clone();
                    if s.state != "primary" {
                        s.lag_rows = db.primary_pos.saturating_sub(s.position);
                        s.lag_seconds = db.lag_ms(s.position, now) as f64 / 1000.0;
                    }
                    s
                })
                .collect(),
        })
        .collect()
}
