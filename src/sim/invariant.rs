//! Invariants checked after every pass: at most one running process per
//! StatefulSet identity, a ReadWriteOnce volume attached to at most one node,
//! no claim lost under Retain. A breach is logged (never a panic): the split
//! brain lesson needs to show one.

use super::event::{EventKind, EventLog, SimEvent};
use super::model::*;
use super::{SimClock, SimSystems};
use bevy::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Breaches in force now, by key.
#[derive(Resource, Debug, Default)]
pub struct Invariants {
    pub broken: BTreeMap<String, String>,
    /// How many breaches were ever reported.
    pub total: u32,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Invariants>().add_systems(
        super::SimSchedule,
        check_invariants.in_set(SimSystems::Observe),
    );
}

/// What the last check saw, to skip passes in which nothing it looks at changed.
#[derive(Default)]
struct LastSeen {
    ran: bool,
    procs: usize,
    atts: usize,
    sets: usize,
    claims_made: usize,
    deleted_claims_gen: u64,
}

#[allow(clippy::too_many_arguments)]
fn check_invariants(
    clock: Res<SimClock>,
    mut log: ResMut<EventLog>,
    mut inv: ResMut<Invariants>,
    index: Res<Index>,
    procs: Query<&Process>,
    atts: Query<&Attachment>,
    sets: Query<(&StatefulSet, &SetStatus)>,
    new_procs: Query<(), Added<Process>>,
    changed_atts: Query<(), Changed<Attachment>>,
    changed_sets: Query<(), Changed<StatefulSet>>,
    mut last: Local<LastSeen>,
) {
    // The checks read only which processes exist (owner, ordinal and node
    // never change), attachment states, the sets' retention policy and claims,
    // and deleted claims: when none of those changed, neither did the result.
    let seen = LastSeen {
        ran: true,
        procs: procs.iter().len(),
        atts: atts.iter().len(),
        sets: sets.iter().len(),
        claims_made: sets.iter().map(|(_, st)| st.claims_made.len()).sum(),
        deleted_claims_gen: index.deleted_claims_gen,
    };
    let same = last.ran
        && (
            last.procs,
            last.atts,
            last.sets,
            last.claims_made,
            last.deleted_claims_gen,
        ) == (
            seen.procs,
            seen.atts,
            seen.sets,
            seen.claims_made,
            seen.deleted_claims_gen,
        );
    if same && new_procs.is_empty() && changed_atts.is_empty() && changed_sets.is_empty() {
        return;
    }
    *last = seen;
    let now = clock.now_ms;
    let mut found: BTreeMap<String, (String, String)> = BTreeMap::new();

    let mut per_identity: BTreeMap<(&str, u32), Vec<&str>> = BTreeMap::new();
    for p in procs.iter() {
        if p.owner.kind == OwnerKind::StatefulSet
            && let Some(o) = p.ordinal
        {
            per_identity
                .entry((p.owner.name.as_str(), o))
                .or_default()
                .push(p.node.as_str());
        }
    }
    for ((set, o), mut nodes) in per_identity {
        if nodes.len() > 1 {
            nodes.sort();
            let pod = format!("{set}-{o}");
            found.insert(
                format!("identity/{pod}"),
                (
                    format!("pod/{pod}"),
                    format!(
                        "split brain: {} containers of {pod} run at once (on {}): one identity, two processes writing",
                        nodes.len(),
                        nodes.join(" and ")
                    ),
                ),
            );
        }
    }

    let mut per_volume: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in atts.iter() {
        if a.state == AttachState::Attached {
            per_volume
                .entry(a.volume.as_str())
                .or_default()
                .push(a.node.as_str());
        }
    }
    for (v, mut nodes) in per_volume {
        if nodes.len() > 1 {
            nodes.sort();
            found.insert(
                format!("rwo/{v}"),
                (
                    format!("pv/{v}"),
                    format!(
                        "ReadWriteOnce volume {v} is attached to {} nodes at once: {}",
                        nodes.len(),
                        nodes.join(", ")
                    ),
                ),
            );
        }
    }

    for (set, st) in sets.iter() {
        if set.spec.retention.when_scaled != RetentionAction::Retain
            || set.spec.retention.when_deleted != RetentionAction::Retain
        {
            continue;
        }
        for c in &st.claims_made {
            if let Some(d) = index.deleted_claims.get(c)
                && !d.by_user
            {
                found.insert(
                    format!("retain/{c}"),
                    (
                        format!("pvc/{c}"),
                        format!(
                            "claim {c} of statefulset/{} was deleted although its policy is Retain",
                            set.spec.name
                        ),
                    ),
                );
            }
        }
    }

    let keys: BTreeSet<String> = found.keys().cloned().collect();
    for (k, (obj, why)) in &found {
        if !inv.broken.contains_key(k) {
            inv.broken.insert(k.clone(), why.clone());
            inv.total += 1;
            log.emit(
                now,
                SimEvent::new(EventKind::InvariantBroken, obj.clone(), why.clone()),
            );
        }
    }
    let gone: Vec<String> = inv
        .broken
        .keys()
        .filter(|k| !keys.contains(*k))
        .cloned()
        .collect();
    for k in gone {
        inv.broken.remove(&k);
        let obj = found.get(&k).map(|f| f.0.clone()).unwrap_or_else(|| {
            k.replacen("identity/", "pod/", 1)
                .replacen("rwo/", "pv/", 1)
        });
        log.emit(
            now,
            SimEvent::new(
                EventKind::InvariantRestored,
                obj,
                format!("{k} holds again"),
            ),
        );
    }
}
