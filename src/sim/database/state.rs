//! The database's data: rows on a volume, each server's replication state, and
//! each database's write counters and lag figures.

use bevy::prelude::*;
use std::collections::{BTreeMap, VecDeque};

/// A run of consecutive rows written through one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRange {
    pub writer: u32,
    pub from: u64,
    pub to: u64,
}

impl RowRange {
    /// How many rows the range holds.
    pub fn len(&self) -> u64 {
        self.to + 1 - self.from
    }
    /// True when `to` is below `from` (a range clipped to nothing).
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
    /// A MySQL server once created its data directory here (the tutorial's
    /// clone-mysql checks for /var/lib/mysql/mysql, not for rows).
    pub initialized: bool,
}

impl VolumeData {
    /// How many rows the volume holds.
    pub fn rows(&self) -> u64 {
        self.ranges.iter().map(|r| r.len()).sum()
    }
    /// The highest row number stored (0 when empty).
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
    /// Its writes fail with I/O errors (its disk was fenced); logged once.
    pub io_errors: bool,
}

/// Where a server is in its life: the primary, or a replica waiting for its
/// clone source, cloning, connecting to the primary, replicating, or broken.
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
    /// binlog timestamps, for Seconds_Behind_Source. Pushed only by the
    /// primary's writes, which keep `history_unsorted` up to date.
    pub history: VecDeque<(u64, u64)>,
    /// A batch's last row was not above the one before (a new primary on an
    /// empty volume numbers from 1 again): `lag_ms` must scan the history.
    pub history_unsorted: bool,
    /// Largest replica lag seen at a database tick (replicas past their clone).
    pub max_lag_rows: u64,
    pub max_lag_ms: u64,
    /// The server the clients' connection pool is connected to: pooled
    /// connections stay open while that server runs, DNS record or not.
    pub pool: Option<Entity>,
    /// Rows the primary acknowledged to its clients, by writer, in runs:
    /// what a final read must find on the primary's volume (Jepsen's
    /// set-full check). Writes across a partition to a cut-off old primary
    /// are not counted here: those clients never reached the primary's name.
    pub acked: Vec<RowRange>,
    /// Its steady ticks since `last_tick_ms` were not run at their seconds
    /// (see [`super::SteadyTicks`]): the next pass runs them first.
    pub deferred: bool,
}

impl DbState {
    /// Records rows `from..=to` acknowledged through `writer`.
    pub fn acknowledge(&mut self, writer: u32, from: u64, to: u64) {
        if to < from {
            return;
        }
        if let Some(last) = self.acked.last_mut()
            && last.writer == writer
            && last.to + 1 == from
        {
            last.to = to;
            return;
        }
        self.acked.push(RowRange { writer, from, to });
    }
    /// The acknowledged rows that `data` does not hold (by writer and number).
    pub fn lost_from(&self, data: &VolumeData) -> Vec<RowRange> {
        let mut lost = Vec::new();
        for a in &self.acked {
            let mut next = a.from;
            // The volume's ranges of this writer, in order, cover `a` or not.
            let mut mine: Vec<&RowRange> = data
                .ranges
                .iter()
                .filter(|r| r.writer == a.writer && r.to >= a.from && r.from <= a.to)
                .collect();
            mine.sort_by_key(|r| r.from);
            for r in mine {
                if r.from > next {
                    lost.push(RowRange {
                        writer: a.writer,
                        from: next,
                        to: r.from - 1,
                    });
                }
                next = next.max(r.to + 1);
            }
            if next <= a.to {
                lost.push(RowRange {
                    writer: a.writer,
                    from: next,
                    to: a.to,
                });
            }
        }
        lost
    }
}

impl DbState {
    /// Seconds_Behind_Source in ms: how long ago the oldest row a replica at
    /// `position` has not applied was written on the primary (0 if caught up).
    pub fn lag_ms(&self, position: u64, now: u64) -> u64 {
        if position >= self.primary_pos {
            return 0;
        }
        // The first batch past `position`, in the order written: while the
        // rows only grow, a binary search finds the same one.
        let first = if self.history_unsorted {
            self.history.iter().find(|(seq, _)| *seq > position)
        } else {
            let i = self.history.partition_point(|(seq, _)| *seq <= position);
            self.history.get(i)
        };
        first.map_or(0, |(_, t)| now.saturating_sub(*t))
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

/// Every database by StatefulSet name, and the labels of every writer ever.
#[derive(Resource, Debug, Default)]
pub struct Databases {
    pub dbs: BTreeMap<String, DbState>,
    /// Writer labels ("mysql-0 on node-a").
    pub writers: Vec<String>,
    /// Steady ticks run late, at a later instant (see `SteadyTicks`).
    pub deferred_ticks: u64,
}

impl Databases {
    /// "mysql-0 on node-a": the server a writer id stands for.
    pub fn writer_label(&self, w: u32) -> &str {
        self.writers
            .get(w as usize)
            .map(|s| s.as_str())
            .unwrap_or("?")
    }
}
