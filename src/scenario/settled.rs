//! The checks a fault campaign ends with (`statefulset-sim explore`), usable
//! in any scenario: `Converged` (the set has settled after healing, or says
//! where it is stuck) and `NoWriteLost` (a final read of the database).

use crate::sim::database::{Databases, DbServer, ReplState, final_read};
use crate::sim::model::*;
use bevy::prelude::*;

/// `Converged(set)`: every replica Running and Ready, currentRevision =
/// updateRevision with every replica updated, and, with a database, every
/// replica replicating and caught up; otherwise where it is stuck.
pub fn converged(world: &World, set: &str) -> Result<(), String> {
    let index = world.resource::<Index>();
    let Some(&se) = index.sets.get(set) else {
        return Err(format!("{set} does not exist"));
    };
    let (Some(s), Some(st)) = (world.get::<StatefulSet>(se), world.get::<SetStatus>(se)) else {
        return Err(format!("{set} does not exist"));
    };
    let spec = &s.spec;
    let want = spec.replicas;
    let mut stuck = Vec::new();
    if st.ready != want || st.replicas != want {
        stuck.push(format!("{} of {want} replicas Ready", st.ready));
    }
    if st.current_revision != st.update_revision || st.updated != want {
        stuck.push(format!(
            "rollout not complete: {} of {want} at {}",
            st.updated, st.update_revision
        ));
    }
    if let Some(p) = first_stuck_pod(world, spec) {
        stuck.push(p);
    }
    if let Some(b) = &st.blocked {
        stuck.push(format!("the controller says: {b}"));
    }
    if stuck.is_empty() {
        stuck.extend(replicas_behind(world, set));
    }
    if stuck.is_empty() {
        Ok(())
    } else {
        Err(format!("{set} is stuck: {}", stuck.join("; ")))
    }
}

/// The first ordinal in range that is not Running and Ready, and why.
fn first_stuck_pod(world: &World, spec: &StatefulSetSpec) -> Option<String> {
    let index = world.resource::<Index>();
    for ord in spec.ordinals_start..spec.end_ordinal() {
        let name = spec.pod_name(ord);
        let Some(st) = index
            .pods
            .get(&name)
            .and_then(|&e| world.get::<PodStatus>(e))
        else {
            return Some(format!("{name} does not exist"));
        };
        if !st.running_and_ready() || st.terminating() {
            let phase = st.shown_phase().name();
            let on = st
                .node
                .as_deref()
                .map(|n| format!(" on {n}"))
                .unwrap_or_default();
            let why = st
                .waiting
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            let ready = if st.ready { "" } else { ", not Ready" };
            return Some(format!("{name} is {phase}{ready}{on}{why}"));
        }
    }
    None
}

/// Replicas of the set's database not replicating, or behind the primary's
/// position at the last tick (replicas apply one tick behind).
fn replicas_behind(world: &World, set: &str) -> Vec<String> {
    let Some(target) = world
        .resource::<Databases>()
        .dbs
        .get(set)
        .map(|d| d.primary_pos_prev)
    else {
        return Vec::new();
    };
    let Some(mut q) = world.try_query::<(&Process, &DbServer)>() else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = q
        .iter(world)
        .filter(|(_, s)| s.set == set && !s.primary)
        .filter_map(|(p, s)| match &s.state {
            ReplState::Replicating if s.position >= target => None,
            ReplState::Replicating => Some((
                p.pod.clone(),
                format!(
                    "{} is {} rows behind the primary",
                    p.pod,
                    target - s.position
                ),
            )),
            other => Some((p.pod.clone(), format!("{} is {}", p.pod, other.label()))),
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, m)| m).collect()
}

/// `NoWriteLost(set)`: the final read finds every acknowledged row.
pub fn no_write_lost(world: &World, set: Option<&str>) -> Result<(), String> {
    let name = match set {
        Some(s) => s.to_string(),
        None => match world.resource::<Databases>().dbs.keys().next() {
            Some(s) => s.clone(),
            None => return Err("no database".into()),
        },
    };
    let Some(read) = final_read(world, &name) else {
        return Err(format!("{name} runs no database"));
    };
    let lost = read.lost_rows();
    if lost == 0 {
        return Ok(());
    }
    let dbs = world.resource::<Databases>();
    let ranges: Vec<String> = read
        .lost
        .iter()
        .take(3)
        .map(|r| {
            let rows = if r.from == r.to {
                format!("row {}", r.from)
            } else {
                format!("rows {}-{}", r.from, r.to)
            };
            format!("{rows} written through {}", dbs.writer_label(r.writer))
        })
        .collect();
    let more = if read.lost.len() > 3 { ", …" } else { "" };
    let why = read.missing.map(|m| format!(" ({m})")).unwrap_or_default();
    Err(format!(
        "{lost} of {} acknowledged rows are not on the primary's volume (claim {}{why}): {}{more}",
        read.acked_rows,
        read.claim,
        ranges.join(", ")
    ))
}
