//! Replicas: a replica with an empty volume clones from pod N−1 once that pod
//! is Ready (OrderedReady guarantees it), then connects to the primary through
//! its stable name and applies the primary's rows one tick behind
//! (asynchronous replication); while the primary does not answer it retries
//! every RETRY_MS and keeps serving stale reads.

use super::servers::{Pass, ServerInfo};
use super::{
    CLONE_BASE_MS, CLONE_ROWS_PER_S, DbQueries, DbState, RETRY_MS, ReplState, RowRange, VolumeData,
};
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use bevy::prelude::*;

/// What a replica's clone source looks like now.
#[derive(Debug, Clone, Default)]
pub(super) struct SourceFacts {
    pub name: String,
    /// Running and Ready in the API.
    pub ready: bool,
    /// Rows on the volume of its running server, if one runs.
    pub rows: Option<u64>,
    /// Some server of it still has its volume's data to copy.
    pub has_data: bool,
}

/// Everything a replica's next step depends on.
#[derive(Debug, Clone, Default)]
pub(super) struct ReplicaFacts {
    pub now: u64,
    /// A database tick (replicas apply rows only then).
    pub tick: bool,
    /// The replica's node is up.
    pub connected: bool,
    /// The replica's node is cut off but still runs.
    pub partitioned: bool,
    /// Something answers at the primary's stable name (new connections).
    pub primary_up: bool,
    /// The primary's server runs and is reachable, Ready or not: an
    /// established replication connection keeps working.
    pub primary_alive: bool,
    pub primary_pos_prev: u64,
    pub primary_pos: u64,
    /// The primary's log and this replica's volume are both known.
    pub can_pull: bool,
    /// The pod it clones from, while it waits for it or clones.
    pub source: Option<SourceFacts>,
}

/// A replica's next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    Nothing,
    /// Nothing until then.
    WaitUntil(u64),
    StartClone {
        source: String,
        until_ms: u64,
        rows: u64,
    },
    /// The source's data went away mid-clone: wait for a source again.
    SourceLost,
    FinishClone {
        source: String,
    },
    StartReplicating,
    /// Still no primary: try again in RETRY_MS, broken since `since_ms`.
    Retry {
        since_ms: u64,
    },
    /// The primary stopped answering while replicating.
    LostPrimary,
    /// Apply the primary's rows up to `target`.
    Pull {
        target: u64,
    },
}

/// The pod a replica clones from: pod N−1 while it waits, the one it started
/// cloning from while it clones.
pub(super) fn clone_source(
    state: &ReplState,
    ordinal: u32,
    spec: &StatefulSetSpec,
) -> Option<String> {
    match state {
        ReplState::WaitingForCloneSource => ordinal.checked_sub(1).map(|o| spec.pod_name(o)),
        ReplState::Cloning { source, .. } => Some(source.clone()),
        _ => None,
    }
}

/// The replication state machine: a replica's next step from its state, its
/// position and the facts around it.
pub(super) fn next_step(state: &ReplState, position: u64, f: &ReplicaFacts) -> Step {
    // A replica on a machine that is down does nothing.
    if !f.connected && !f.partitioned {
        return Step::Nothing;
    }
    let source = f.source.as_ref();
    match state {
        ReplState::WaitingForCloneSource => match source {
            Some(s) if s.ready && s.rows.is_some() => {
                let rows = s.rows.unwrap_or(0);
                Step::StartClone {
                    source: s.name.clone(),
                    until_ms: f.now + CLONE_BASE_MS + rows * 1000 / CLONE_ROWS_PER_S,
                    rows,
                }
            }
            _ => Step::Nothing,
        },
        ReplState::Cloning { until_ms, .. } if f.now < *until_ms => Step::WaitUntil(*until_ms),
        ReplState::Cloning { source: name, .. } => match source {
            Some(s) if s.has_data => Step::FinishClone {
                source: name.clone(),
            },
            _ => Step::SourceLost,
        },
        ReplState::Broken { retry_ms, .. } if f.now < *retry_ms => Step::WaitUntil(*retry_ms),
        ReplState::Connecting | ReplState::Broken { .. } if f.primary_up && f.connected => {
            Step::StartReplicating
        }
        ReplState::Broken { since_ms, .. } => Step::Retry {
            since_ms: *since_ms,
        },
        ReplState::Connecting => Step::Retry { since_ms: f.now },
        // An open connection survives a readiness blip (DNS drops the name
        // for new lookups only); it breaks when the server goes.
        ReplState::Replicating if !f.primary_alive || !f.connected => Step::LostPrimary,
        ReplState::Replicating if !f.tick => Step::Nothing,
        ReplState::Replicating => {
            // Asynchronous: apply what the primary had one tick ago.
            let target = f.primary_pos_prev.max(position).min(f.primary_pos);
            if target > position && f.can_pull {
                Step::Pull { target }
            } else {
                Step::Nothing
            }
        }
        ReplState::Primary => Step::Nothing,
    }
}

/// The primary's rows a replica at `position` applies to reach `target`:
/// the primary's lineage (common history, then its own writes) past
/// `position`, cut at `target`.
pub(super) fn rows_to_pull(
    primary: &VolumeData,
    base: u64,
    writer: u32,
    position: u64,
    target: u64,
) -> Vec<RowRange> {
    primary
        .lineage(base, writer)
        .into_iter()
        .filter(|r| r.to > position)
        .map(|r| RowRange {
            writer: r.writer,
            from: r.from.max(position + 1),
            to: r.to.min(target),
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// The primary's log: its server's base and writer id, and its volume.
#[derive(Clone, Copy)]
struct PrimaryLog {
    base: u64,
    writer: u32,
    volume: Entity,
}

/// Steps every replica of the database once, in order.
pub(super) fn step_replicas(cluster: &mut Cluster, q: &mut DbQueries, pass: &Pass, db: &DbState) {
    let primary = pass.alive().and_then(|ep| {
        let (base, writer) = match q.procs.get(ep.entity) {
            Ok((_, _, Some(s))) => (s.base, s.writer),
            _ => return None,
        };
        ep.volume.map(|volume| PrimaryLog {
            base,
            writer,
            volume,
        })
    });
    for i in pass.infos.iter().filter(|i| i.ordinal != pass.start()) {
        let Ok((_, _, Some(srv))) = q.procs.get(i.entity) else {
            continue;
        };
        // Waiting for a clone source and cloning happen in the init
        // container clone-mysql; everything else needs mysqld running.
        let in_init = matches!(
            srv.state,
            ReplState::WaitingForCloneSource | ReplState::Cloning { .. }
        );
        if !i.running && !in_init {
            continue;
        }
        let source = clone_source(&srv.state, i.ordinal, pass.spec)
            .map(|name| source_facts(name, cluster, q, pass));
        let facts = ReplicaFacts {
            now: pass.now,
            tick: pass.tick,
            connected: i.connected,
            partitioned: i.partitioned,
            primary_up: pass.endpoint.is_some(),
            primary_alive: pass.alive.is_some(),
            primary_pos_prev: db.primary_pos_prev,
            primary_pos: db.primary_pos,
            can_pull: primary.is_some() && i.volume.is_some(),
            source,
        };
        let step = next_step(&srv.state, srv.position, &facts);
        apply_step(cluster, q, pass, db, i, step, primary);
    }
}

/// Gathers what `name`, a clone source, looks like now.
fn source_facts(name: String, cluster: &Cluster, q: &DbQueries, pass: &Pass) -> SourceFacts {
    let ready = cluster
        .index
        .pods
        .get(&name)
        .and_then(|&e| q.pods.get(e).ok())
        .is_some_and(|(_, s)| s.running_and_ready());
    let rows = pass
        .infos
        .iter()
        .find(|j| j.pod == name && j.running)
        .and_then(|j| j.volume)
        .and_then(|v| q.data.get(v).ok())
        .map(|d| d.rows());
    let has_data = source_ranges(&name, q, pass).is_some();
    SourceFacts {
        name,
        ready,
        rows,
        has_data,
    }
}

/// The rows of the first server of `source` (running or not) to copy.
fn source_ranges(source: &str, q: &DbQueries, pass: &Pass) -> Option<Vec<RowRange>> {
    pass.infos
        .iter()
        .find(|j| j.pod == source)
        .and_then(|j| j.volume)
        .and_then(|v| q.data.get(v).ok())
        .map(|d| d.ranges.clone())
}

/// Carries out a replica's step.
fn apply_step(
    cluster: &mut Cluster,
    q: &mut DbQueries,
    pass: &Pass,
    db: &DbState,
    i: &ServerInfo,
    step: Step,
    primary: Option<PrimaryLog>,
) {
    let now = pass.now;
    let retry_ms = now + RETRY_MS;
    match step {
        Step::Nothing => {}
        Step::WaitUntil(t) => cluster.wake_at(t),
        Step::StartClone {
            source,
            until_ms,
            rows,
        } => {
            let ev = clone_started(i, &source, rows, until_ms - now);
            set_state(q, i, ReplState::Cloning { source, until_ms });
            cluster.emit(ev);
        }
        Step::SourceLost => {
            set_state(q, i, ReplState::WaitingForCloneSource);
            cluster.touch();
        }
        Step::FinishClone { source } => finish_clone(cluster, q, pass, i, source),
        Step::StartReplicating => start_replicating(cluster, q, pass, db, i),
        Step::Retry { since_ms } => {
            set_state(q, i, ReplState::Broken { since_ms, retry_ms });
            cluster.wake_at(retry_ms);
            cluster.touch();
        }
        Step::LostPrimary => {
            let since_ms = now;
            set_state(q, i, ReplState::Broken { since_ms, retry_ms });
            cluster.wake_at(retry_ms);
            cluster.emit(
                SimEvent::new(
                    EventKind::ReplicationBroken,
                    format!("pod/{}", i.pod),
                    match pass.alive {
                        // The server it was connected to is gone.
                        None => format!(
                            "lost {}: its connection broke, no server of {} answers now ({}); still serving stale reads, retrying every 10s",
                            pass.primary_dns(), pass.primary_name, pass.endpoint_why(q)
                        ),
                        Some(_) => format!(
                            "lost {} ({}); still serving stale reads, retrying every 10s",
                            pass.primary_dns(), pass.endpoint_why(q)
                        ),
                    },
                )
                .node(i.node.clone()),
            );
        }
        Step::Pull { target } => pull(cluster, q, i, target, primary),
    }
}

fn set_state(q: &mut DbQueries, i: &ServerInfo, state: ReplState) {
    if let Ok((_, _, Some(mut srv))) = q.procs.get_mut(i.entity) {
        srv.state = state;
    }
}

/// Copies the source's rows onto the replica's volume; replication will start
/// from the copy's last row. The replica may turn Ready now.
fn finish_clone(
    cluster: &mut Cluster,
    q: &mut DbQueries,
    pass: &Pass,
    i: &ServerInfo,
    source: String,
) {
    let ranges = source_ranges(&source, q, pass);
    let Ok((_, mut p, Some(mut srv))) = q.procs.get_mut(i.entity) else {
        return;
    };
    cluster.journal.procs.note(i.entity);
    let Some(ranges) = ranges else {
        srv.state = ReplState::WaitingForCloneSource;
        cluster.touch();
        return;
    };
    let mut copied = 0;
    if let Some(v) = i.volume
        && let Ok(mut d) = q.data.get_mut(v)
    {
        d.ranges = ranges;
        copied = d.rows();
        srv.position = d.max_seq();
        srv.base = srv.position;
    }
    srv.state = ReplState::Connecting;
    p.hold_ready = false;
    // clone-mysql exits: the main container (mysqld) starts now.
    p.init = None;
    if let Some(v) = i.volume
        && let Ok(mut d) = q.data.get_mut(v)
    {
        d.initialized = true;
    }
    cluster.emit(
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

fn start_replicating(
    cluster: &mut Cluster,
    q: &mut DbQueries,
    pass: &Pass,
    db: &DbState,
    i: &ServerInfo,
) {
    let Ok((_, _, Some(mut srv))) = q.procs.get_mut(i.entity) else {
        return;
    };
    srv.state = ReplState::Replicating;
    let behind = match db.primary_pos.saturating_sub(srv.position) {
        0 => String::new(),
        n => format!(", {n} rows behind: it catches up"),
    };
    cluster.emit(
        SimEvent::new(
            EventKind::ReplicationStarted,
            format!("pod/{}", i.pod),
            format!(
                "server-id {} replicates from {} (the primary's stable name) from row {}{behind}",
                srv.server_id,
                pass.primary_dns(),
                srv.position
            ),
        )
        .node(i.node.clone())
        .detail(pass.primary_dns()),
    );
}

/// Applies the primary's rows up to `target` on the replica's volume.
fn pull(
    cluster: &mut Cluster,
    q: &mut DbQueries,
    i: &ServerInfo,
    target: u64,
    primary: Option<PrimaryLog>,
) {
    let (Some(log), Some(v)) = (primary, i.volume) else {
        return;
    };
    let Ok((_, _, Some(mut srv))) = q.procs.get_mut(i.entity) else {
        return;
    };
    let rows = q
        .data
        .get(log.volume)
        .map(|d| rows_to_pull(d, log.base, log.writer, srv.position, target))
        .unwrap_or_default();
    if let Ok(mut d) = q.data.get_mut(v) {
        for r in rows {
            d.append(r.writer, r.from, r.to);
        }
    }
    srv.position = target;
    cluster.touch();
}

fn clone_started(i: &ServerInfo, source: &str, rows: u64, takes_ms: u64) -> SimEvent {
    SimEvent::new(
        EventKind::CloneStarted,
        format!("pod/{}", i.pod),
        format!(
            "empty volume: cloning from {source} (pod N−1, Ready thanks to OrderedReady); {rows} rows now, about {:.1}s",
            takes_ms as f64 / 1000.0
        ),
    )
    .node(i.node.clone())
    .detail(source.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ReplicaFacts {
        ReplicaFacts {
            now: 5_000,
            tick: true,
            connected: true,
            primary_up: true,
            primary_alive: true,
            can_pull: true,
            ..Default::default()
        }
    }

    fn source(ready: bool, rows: Option<u64>) -> Option<SourceFacts> {
        Some(SourceFacts {
            name: "mysql-1".into(),
            ready,
            rows,
            has_data: rows.is_some(),
        })
    }

    #[test]
    fn replica_clones_from_previous_ordinal_unless_volume_has_data() {
        use super::super::servers::{Role, initial_role};
        let spec = StatefulSetSpec {
            name: "mysql".into(),
            service: None,
            replicas: 3,
            pod_management: PodManagement::default(),
            update_strategy: UpdateStrategy::default(),
            min_ready_seconds: 0,
            ordinals_start: 0,
            retention: Retention::default(),
            revision_history_limit: 10,
            template: PodTemplate::with_image("mysql:8.0"),
            claims: vec![],
            database: None,
        };
        let waiting = ReplState::WaitingForCloneSource;
        assert_eq!(clone_source(&waiting, 2, &spec).as_deref(), Some("mysql-1"));
        assert_eq!(initial_role(2, 0, false), Role::CloneFirst);
        assert_eq!(
            initial_role(2, 0, true),
            Role::Resume,
            "data on the volume: no clone"
        );
        let cloning = ReplState::Cloning {
            source: "mysql-0".into(),
            until_ms: 0,
        };
        assert_eq!(clone_source(&cloning, 2, &spec).as_deref(), Some("mysql-0"));
        assert_eq!(clone_source(&ReplState::Replicating, 2, &spec), None);
    }

    #[test]
    fn replica_waits_until_its_clone_source_is_ready() {
        let mut f = facts();
        f.source = source(false, Some(100));
        assert_eq!(
            next_step(&ReplState::WaitingForCloneSource, 0, &f),
            Step::Nothing
        );
        f.source = source(true, None);
        assert_eq!(
            next_step(&ReplState::WaitingForCloneSource, 0, &f),
            Step::Nothing,
            "no running server"
        );
    }

    #[test]
    fn clone_takes_a_fixed_overhead_plus_rows_at_clone_speed() {
        let mut f = facts();
        f.source = source(true, Some(1_000));
        assert_eq!(
            next_step(&ReplState::WaitingForCloneSource, 0, &f),
            Step::StartClone {
                source: "mysql-1".into(),
                until_ms: 5_000 + CLONE_BASE_MS + 1_000 * 1000 / CLONE_ROWS_PER_S,
                rows: 1_000
            }
        );
    }

    #[test]
    fn clone_finishes_at_its_deadline_or_starts_over_if_the_source_data_is_gone() {
        let cloning = ReplState::Cloning {
            source: "mysql-1".into(),
            until_ms: 6_000,
        };
        let mut f = facts();
        f.source = source(true, Some(10));
        assert_eq!(next_step(&cloning, 0, &f), Step::WaitUntil(6_000));
        f.now = 6_000;
        assert_eq!(
            next_step(&cloning, 0, &f),
            Step::FinishClone {
                source: "mysql-1".into()
            }
        );
        f.source = source(true, None);
        assert_eq!(next_step(&cloning, 0, &f), Step::SourceLost);
    }

    #[test]
    fn replica_on_a_machine_that_is_down_does_nothing() {
        let mut f = facts();
        f.connected = false;
        assert_eq!(next_step(&ReplState::Connecting, 0, &f), Step::Nothing);
        f.partitioned = true;
        assert_eq!(
            next_step(&ReplState::Connecting, 0, &f),
            Step::Retry { since_ms: 5_000 },
            "a cut-off replica still runs"
        );
    }

    #[test]
    fn replication_starts_when_the_primary_name_answers_and_retries_every_10s_until_then() {
        let mut f = facts();
        assert_eq!(
            next_step(&ReplState::Connecting, 0, &f),
            Step::StartReplicating
        );
        f.primary_up = false;
        assert_eq!(
            next_step(&ReplState::Connecting, 0, &f),
            Step::Retry { since_ms: 5_000 }
        );
        let broken = ReplState::Broken {
            since_ms: 1_000,
            retry_ms: 11_000,
        };
        assert_eq!(next_step(&broken, 0, &f), Step::WaitUntil(11_000));
        f.now = 11_000;
        assert_eq!(
            next_step(&broken, 0, &f),
            Step::Retry { since_ms: 1_000 },
            "broken since the first failure"
        );
        f.primary_up = true;
        assert_eq!(next_step(&broken, 0, &f), Step::StartReplicating);
    }

    #[test]
    fn replication_breaks_when_the_primary_stops_answering() {
        let mut f = facts();
        f.primary_up = false;
        f.primary_alive = false;
        assert_eq!(next_step(&ReplState::Replicating, 0, &f), Step::LostPrimary);
    }

    #[test]
    fn a_readiness_blip_on_the_primary_keeps_established_replication_but_refuses_new_connections() {
        // DNS has no record (not Ready), but the server still runs.
        let mut f = facts();
        f.primary_up = false;
        f.primary_alive = true;
        f.primary_pos = 4;
        f.primary_pos_prev = 4;
        assert_eq!(
            next_step(&ReplState::Replicating, 0, &f),
            Step::Pull { target: 4 },
            "the open connection keeps replicating"
        );
        assert_eq!(
            next_step(&ReplState::Connecting, 0, &f),
            Step::Retry { since_ms: 5_000 },
            "a new connection needs the DNS record"
        );
    }

    #[test]
    fn replica_applies_what_the_primary_had_one_tick_ago() {
        let mut f = facts();
        f.primary_pos_prev = 8;
        f.primary_pos = 12;
        assert_eq!(
            next_step(&ReplState::Replicating, 3, &f),
            Step::Pull { target: 8 }
        );
        assert_eq!(
            next_step(&ReplState::Replicating, 8, &f),
            Step::Nothing,
            "caught up with last tick"
        );
        f.tick = false;
        assert_eq!(
            next_step(&ReplState::Replicating, 3, &f),
            Step::Nothing,
            "only at ticks"
        );
    }

    #[test]
    fn replica_pulls_the_primary_lineage_past_its_position_up_to_the_target() {
        // Common history 1..=10 (writer 0), then the primary's own rows
        // 11..=20 (writer 1, base 10); writer 2's rows are another lineage.
        let mut d = VolumeData::default();
        d.append(0, 1, 10);
        d.append(2, 11, 14);
        d.append(1, 15, 20);
        let rows = rows_to_pull(&d, 10, 1, 8, 17);
        let got: Vec<(u32, u64, u64)> = rows.iter().map(|r| (r.writer, r.from, r.to)).collect();
        assert_eq!(got, [(0, 9, 10), (1, 15, 17)]);
    }
}
