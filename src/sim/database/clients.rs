//! The database's clients: rows fall due at each tick (the write rate) and on
//! command, and go to whatever answers at the primary's stable name; while
//! nothing does they are refused and counted. Clients across a partition keep
//! writing to an old primary that still runs there (split brain).

use super::servers::{Pass, ServerInfo};
use super::{DbQueries, DbState, HISTORY_CAP, ReplState, VolumeData};
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::ops::Cluster;
use bevy::prelude::Entity;

/// Takes the lag figures, the rows due now and the writes of one pass, then
/// notes the primary's position.
pub(super) fn serve(cluster: &mut Cluster, q: &mut DbQueries, pass: &Pass, db: &mut DbState) {
    let new_second = pass.tick && pass.now > db.last_tick_ms;
    // Lag figures, taken at each tick before its writes and applies: the
    // largest lag of the second that just ended. Only while the primary
    // answers (MySQL reports Seconds_Behind_Source as NULL while the source
    // is unreachable), over replicating replicas.
    if new_second && pass.alive.is_some() {
        let positions = replicating_positions(q, pass);
        record_lag(db, positions, pass.now);
    }
    let target = pool_target(
        db.pool,
        pass.alive.map(|a| (a, pass.infos[a].entity)),
        pass.endpoint,
    );
    db.pool = target.map(|t| pass.infos[t].entity);
    let due = due_writes(db, pass.now, new_second);
    if due > 0 {
        write(cluster, q, pass, db, due, target);
    }
    if let Some(ep) = pass.alive()
        && let Some(v) = ep.volume
        && let Ok(d) = q.data.get(v)
    {
        db.primary_pos = d.max_seq();
    }
}

/// Where the clients' writes go: over the pooled connections while the
/// server they are open to still runs (`alive`, as index and entity), even
/// if its readiness blipped and DNS no longer has it; otherwise through a new
/// connection to whatever the primary's name resolves to (`endpoint`).
pub(super) fn pool_target(
    pool: Option<Entity>,
    alive: Option<(usize, Entity)>,
    endpoint: Option<usize>,
) -> Option<usize> {
    match (pool, alive) {
        (Some(p), Some((i, e))) if p == e => Some(i),
        _ => endpoint,
    }
}

/// Positions of the replicas replicating now on running, reachable servers.
fn replicating_positions(q: &DbQueries, pass: &Pass) -> Vec<u64> {
    pass.infos
        .iter()
        .filter(|i| i.ordinal != pass.start() && i.running && i.connected)
        .filter_map(|i| match q.procs.get(i.entity) {
            Ok((_, _, Some(srv))) if srv.state == ReplState::Replicating => Some(srv.position),
            _ => None,
        })
        .collect()
}

/// Raises the largest lag seen (rows and Seconds_Behind_Source) to that of
/// replicas at `positions`.
pub(super) fn record_lag(db: &mut DbState, positions: Vec<u64>, now: u64) {
    for pos in positions {
        db.max_lag_rows = db.max_lag_rows.max(db.primary_pos.saturating_sub(pos));
        db.max_lag_ms = db.max_lag_ms.max(db.lag_ms(pos, now));
    }
}

/// The rows due now: explicit writes, plus at the first pass of a new second
/// the write rate's share of the time since the last tick (fractions carry
/// over). Starts the new second: the primary's position is remembered, since
/// replicas apply one tick behind.
pub(super) fn due_writes(db: &mut DbState, now: u64, new_second: bool) -> u64 {
    let mut due = std::mem::take(&mut db.pending_writes);
    if new_second {
        let dt = (now - db.last_tick_ms) as f64 / 1000.0;
        db.carry += db.write_rate * dt;
        let whole = db.carry.floor();
        db.carry -= whole;
        due += whole as u64;
        db.last_tick_ms = now;
        db.primary_pos_prev = db.primary_pos;
    }
    due
}

/// Sends `due` rows to the primary's name, and to any old primary still
/// running across a partition.
fn write(
    cluster: &mut Cluster,
    q: &mut DbQueries,
    pass: &Pass,
    db: &mut DbState,
    due: u64,
    target: Option<usize>,
) {
    if let Some(ep) = target.and_then(|t| pass.infos.get(t))
        && let Some(v) = ep.volume
        && let Ok(mut d) = q.data.get_mut(v)
        && let Ok((_, _, Some(srv))) = q.procs.get(ep.entity)
    {
        primary_write(db, &mut d, srv.writer, due, pass.now);
    }
    let set = || format!("statefulset/{}", pass.spec.name);
    let (dns, primary) = (|| pass.primary_dns(), &pass.primary_name);
    match note_outcome(db, due, target.is_some()) {
        Outcome::Written => {}
        Outcome::Resumed => cluster.emit(SimEvent::new(
            EventKind::WritesResumed,
            set(),
            format!(
                "{} resolves again: writes go to {primary} ({} refused meanwhile)",
                dns(),
                db.failed
            ),
        )),
        Outcome::Refused => cluster.emit(SimEvent::new(
            EventKind::WritesFailed,
            set(),
            format!(
                "writes to {} fail ({}): they are refused and counted, never silently dropped",
                dns(),
                pass.endpoint_why(q)
            ),
        )),
        Outcome::StillRefused => cluster.touch(),
    }
    for (n, i) in pass.infos.iter().enumerate() {
        if i.ordinal != pass.start() || !i.partitioned || !i.running || target == Some(n) {
            continue;
        }
        if i.fenced {
            fenced_writes_fail(cluster, q, i);
            continue;
        }
        if let Some(v) = i.volume
            && let Ok(mut d) = q.data.get_mut(v)
            && let Ok((_, _, Some(srv))) = q.procs.get(i.entity)
        {
            cut_off_write(&mut d, srv.base, srv.writer, due);
        }
    }
}

/// An old primary across a partition whose disk was force-detached under it:
/// the clients still reaching it get I/O errors (logged once per server).
fn fenced_writes_fail(cluster: &mut Cluster, q: &mut DbQueries, i: &ServerInfo) {
    let Ok((_, _, Some(mut srv))) = q.procs.get_mut(i.entity) else {
        return;
    };
    if srv.io_errors {
        return;
    }
    srv.io_errors = true;
    cluster.emit(
        SimEvent::new(
            EventKind::WritesFailed,
            format!("pod/{}", i.pod),
            format!(
                "the old {} on {} still runs and clients across the partition still reach it, but its disk was force-detached at the storage API: the mount is fenced, every write fails with an I/O error, and nothing it accepted after that reaches the disk",
                i.pod, i.node
            ),
        )
        .node(i.node.clone()),
    );
}

/// Appends `due` rows after the volume's last row through `writer`, and
/// remembers when (the binlog timestamps behind Seconds_Behind_Source).
pub(super) fn primary_write(db: &mut DbState, d: &mut VolumeData, writer: u32, due: u64, now: u64) {
    let from = d.max_seq() + 1;
    let to = from + due - 1;
    d.append(writer, from, to);
    db.acknowledge(writer, from, to);
    db.written += due;
    db.primary_pos = to;
    if db.history.back().is_some_and(|&(last, _)| last >= to) {
        db.history_unsorted = true;
    }
    db.history.push_back((to, now));
    if db.history.len() > HISTORY_CAP {
        db.history.pop_front();
    }
}

/// An old primary cut off by a partition writes `due` rows after its own
/// last row: the numbers clash with the new primary's (divergence).
pub(super) fn cut_off_write(d: &mut VolumeData, base: u64, writer: u32, due: u64) {
    let mine = d
        .lineage(base, writer)
        .last()
        .map_or(base, |r| r.to.max(base));
    d.append(writer, mine + 1, mine + due);
}

/// What the clients saw of a batch of writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Written,
    /// Written after a spell of refusals.
    Resumed,
    /// The first refusal of a spell.
    Refused,
    StillRefused,
}

/// Counts a batch of `due` rows against the primary's name being `up` or not.
pub(super) fn note_outcome(db: &mut DbState, due: u64, up: bool) -> Outcome {
    if up {
        if db.failing {
            db.failing = false;
            return Outcome::Resumed;
        }
        return Outcome::Written;
    }
    db.failed += due;
    if db.failing {
        return Outcome::StillRefused;
    }
    db.failing = true;
    Outcome::Refused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_client_connections_survive_a_readiness_blip_but_not_a_crash() {
        let server = Entity::from_raw_u32(7).expect("7 is a valid index");
        let restarted = Entity::from_raw_u32(8).expect("8 is a valid index");
        // Not Ready (no DNS endpoint), but the pool's server still runs.
        assert_eq!(pool_target(Some(server), Some((0, server)), None), Some(0));
        // No pool yet: a new connection needs the DNS record.
        assert_eq!(pool_target(None, Some((0, server)), None), None);
        // The container crashed and restarted: the old connections broke;
        // new ones go through DNS once it is Ready again.
        assert_eq!(pool_target(Some(server), Some((0, restarted)), None), None);
        assert_eq!(
            pool_target(Some(server), Some((0, restarted)), Some(0)),
            Some(0)
        );
    }

    #[test]
    fn write_rate_carries_fractions_of_a_row_to_the_next_tick() {
        let mut db = DbState {
            write_rate: 0.5,
            ..Default::default()
        };
        assert_eq!(due_writes(&mut db, 1_000, true), 0);
        assert_eq!(due_writes(&mut db, 2_000, true), 1);
        assert_eq!(due_writes(&mut db, 4_000, true), 1);
        assert_eq!(db.last_tick_ms, 4_000);
    }

    #[test]
    fn explicit_writes_are_due_at_once_between_ticks() {
        let mut db = DbState {
            write_rate: 10.0,
            pending_writes: 7,
            ..Default::default()
        };
        assert_eq!(due_writes(&mut db, 500, false), 7);
        assert_eq!(db.pending_writes, 0);
        assert_eq!(db.last_tick_ms, 0, "not a new second");
    }

    #[test]
    fn new_second_remembers_the_primary_position_replicas_apply_up_to() {
        let mut db = DbState {
            primary_pos: 42,
            ..Default::default()
        };
        due_writes(&mut db, 1_000, true);
        assert_eq!(db.primary_pos_prev, 42);
    }

    #[test]
    fn writes_fail_while_primary_not_ready() {
        let mut db = DbState::default();
        assert_eq!(note_outcome(&mut db, 3, false), Outcome::Refused);
        assert_eq!(note_outcome(&mut db, 2, false), Outcome::StillRefused);
        assert_eq!(db.failed, 5, "refused writes are counted, never dropped");
        assert_eq!(note_outcome(&mut db, 1, true), Outcome::Resumed);
        assert_eq!(note_outcome(&mut db, 1, true), Outcome::Written);
        assert_eq!(db.failed, 5);
    }

    #[test]
    fn primary_appends_after_its_last_row_and_remembers_when() {
        let mut db = DbState::default();
        let mut d = VolumeData::default();
        primary_write(&mut db, &mut d, 0, 3, 1_000);
        primary_write(&mut db, &mut d, 0, 2, 2_000);
        assert_eq!((d.rows(), d.ranges.len()), (5, 1));
        assert_eq!((db.written, db.primary_pos), (5, 5));
        assert_eq!(db.history, [(3, 1_000), (5, 2_000)]);
        assert_eq!(db.lag_ms(3, 2_500), 500, "row 4 was written at 2s");
    }

    #[test]
    fn lag_counts_from_the_first_batch_past_the_replica_in_the_order_written() {
        let mut db = DbState::default();
        let mut d = VolumeData::default();
        primary_write(&mut db, &mut d, 0, 5, 1_000);
        primary_write(&mut db, &mut d, 0, 5, 2_000);
        assert!(!db.history_unsorted);
        assert_eq!(db.lag_ms(5, 3_000), 1_000, "row 6 was written at 2s");
        assert_eq!(db.lag_ms(0, 3_000), 2_000, "row 1 was written at 1s");
        // A new primary on an empty volume numbers from 1 again.
        let mut fresh = VolumeData::default();
        primary_write(&mut db, &mut fresh, 1, 3, 4_000);
        primary_write(&mut db, &mut fresh, 1, 9, 5_000);
        assert!(db.history_unsorted);
        assert_eq!(
            db.lag_ms(7, 6_000),
            4_000,
            "the first batch past row 7 in the order written is rows 6-10, at 2s"
        );
    }

    use crate::sim::database::RowRange;

    #[test]
    fn acknowledged_writes_are_lost_when_the_primary_volume_lacks_them() {
        let mut db = DbState::default();
        let mut d = VolumeData::default();
        primary_write(&mut db, &mut d, 0, 3, 1_000);
        primary_write(&mut db, &mut d, 0, 2, 2_000);
        assert_eq!(
            db.acked,
            [RowRange {
                writer: 0,
                from: 1,
                to: 5
            }]
        );
        assert!(
            db.lost_from(&d).is_empty(),
            "every acknowledged row is there"
        );
        // The claim was deleted and recreated: a new, empty volume, where a
        // new primary (writer 1) starts numbering again.
        let mut fresh = VolumeData::default();
        primary_write(&mut db, &mut fresh, 1, 2, 3_000);
        assert_eq!(
            db.lost_from(&fresh),
            [RowRange {
                writer: 0,
                from: 1,
                to: 5
            }]
        );
        // Rows of the same numbers by another writer do not count.
        let mut other = VolumeData::default();
        other.append(2, 1, 7);
        assert_eq!(db.lost_from(&other).len(), 2);
    }

    #[test]
    fn cut_off_old_primary_writes_rows_numbered_after_its_own() {
        // Rows 1..=10 from writer 0 (the old primary); a new primary wrote
        // 11..=12 as writer 1, replicated here. The old one goes on from 11.
        let mut d = VolumeData::default();
        d.append(0, 1, 10);
        d.append(1, 11, 12);
        cut_off_write(&mut d, 0, 0, 3);
        assert_eq!(
            d.ranges.last().map(|r| (r.writer, r.from, r.to)),
            Some((0, 11, 13))
        );
    }

    #[test]
    fn lag_figures_keep_the_largest_lag_seen() {
        let mut db = DbState {
            primary_pos: 10,
            ..Default::default()
        };
        db.history.push_back((10, 1_000));
        record_lag(&mut db, vec![10, 4], 3_000);
        record_lag(&mut db, vec![9], 3_000);
        assert_eq!((db.max_lag_rows, db.max_lag_ms), (6, 2_000));
    }
}
