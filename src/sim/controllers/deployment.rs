//! The Deployment controller with ReplicaSet semantics: pods get random-suffix
//! names, are created all at once, are replaced as soon as they are marked for
//! deletion, and any pod may be picked on scale-down. No per-pod claims. A
//! template change rolls out through a new ReplicaSet (maxSurge/maxUnavailable).
//! (pkg/controller/replicaset, pkg/controller/deployment/rolling.go.)

use crate::sim::event::{EventKind, EventLog, SimEvent, fnv1a64};
use crate::sim::model::*;
use crate::sim::{SimClock, SimRng, SimSystems, ops};
use bevy::prelude::*;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        crate::sim::SimSchedule,
        deployment_controller
            .in_set(SimSystems::Controllers)
            .after(super::statefulset::StatefulSets),
    );
}

/// pod-template-hash.
pub fn template_hash(template: &PodTemplate) -> String {
    let json = serde_json::to_string(template).unwrap_or_default();
    let mut h = fnv1a64(json.as_bytes());
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut s = String::new();
    for _ in 0..9 {
        s.push(ALPHA[(h % ALPHA.len() as u64) as usize] as char);
        h /= ALPHA.len() as u64;
    }
    s
}

/// getPodsToDelete ranking (controller.ActivePodsWithRanks): the pod that is
/// cheapest to lose goes first: unscheduled < scheduled, Pending < Running,
/// not ready < ready, ready more recently first, newer first.
fn deletion_rank(
    p: &Pod,
    s: &PodStatus,
) -> (u8, u8, u8, std::cmp::Reverse<u64>, std::cmp::Reverse<u64>) {
    (
        s.node.is_some() as u8,
        match s.phase {
            PodPhase::Pending => 0,
            PodPhase::ContainerCreating => 1,
            _ => 2,
        },
        s.ready as u8,
        std::cmp::Reverse(s.ready_since_ms.unwrap_or(0)),
        std::cmp::Reverse(p.seq),
    )
}

#[allow(clippy::too_many_arguments)]
fn deployment_controller(
    clock: Res<SimClock>,
    mut log: ResMut<EventLog>,
    mut index: ResMut<Index>,
    mut rng: ResMut<SimRng>,
    mut commands: Commands,
    mut deps: Query<(
        Entity,
        &Deployment,
        &mut DeploymentStatus,
        Option<&OwnedPods>,
    )>,
    mut pods: Query<(&Pod, &mut PodStatus)>,
) {
    let now = clock.now_ms;
    let mut order: Vec<(String, Entity)> = deps
        .iter()
        .map(|(e, d, ..)| (d.spec.name.clone(), e))
        .collect();
    order.sort();
    for (_, de) in order {
        let Ok((_, dep, mut st, owned)) = deps.get_mut(de) else {
            continue;
        };
        let spec = &dep.spec;
        let obj = format!("deployment/{}", spec.name);
        let mut ents: Vec<Entity> = owned.map(|o| o.entities().to_vec()).unwrap_or_default();
        ents.sort_by_key(|&e| pods.get(e).map(|(p, _)| p.seq).unwrap_or(0));

        if dep.deleting {
            for &e in &ents {
                if let Ok((p, mut s)) = pods.get_mut(e) {
                    ops::request_deletion(
                        now,
                        p,
                        &mut s,
                        &mut log,
                        format!("{obj} was deleted: the garbage collector deletes its pods"),
                    );
                }
            }
            if ents.is_empty() {
                index.deployments.remove(&spec.name);
                commands.entity(de).despawn();
                log.touch();
            }
            continue;
        }

        // The ReplicaSet for the current template.
        let hash = template_hash(&spec.template);
        if !st.replica_sets.iter().any(|r| r.hash == hash) {
            let first = st.replica_sets.is_empty();
            st.replica_sets.push(ReplicaSet {
                hash: hash.clone(),
                template: spec.template.clone(),
                replicas: if first { spec.replicas } else { 0 },
            });
            if !first {
                log.emit(
                    now,
                    SimEvent::new(
                        EventKind::DeploymentUpdated,
                        obj.clone(),
                        format!(
                            "template changed: new ReplicaSet {}-{hash} (image {})",
                            spec.name, spec.template.image
                        ),
                    )
                    .revision(hash.clone()),
                );
            }
        }
        // Move the new ReplicaSet to the end (newest).
        if let Some(i) = st.replica_sets.iter().position(|r| r.hash == hash)
            && i + 1 != st.replica_sets.len()
        {
            let r = st.replica_sets.remove(i);
            st.replica_sets.push(r);
        }

        // Observed pods per ReplicaSet: active = not terminating and not terminal.
        let active_of = |h: &str, pods: &Query<(&Pod, &mut PodStatus)>| -> Vec<Entity> {
            ents.iter()
                .copied()
                .filter(|&e| {
                    pods.get(e)
                        .is_ok_and(|(p, s)| p.revision == h && !s.terminating() && !s.terminal())
                })
                .collect()
        };
        let available_of = |h: &str, pods: &Query<(&Pod, &mut PodStatus)>| -> u32 {
            ents.iter()
                .filter(|&&e| {
                    pods.get(e).is_ok_and(|(p, s)| {
                        p.revision == h && !s.terminating() && s.running_and_ready()
                    })
                })
                .count() as u32
        };

        // Rolling update between ReplicaSets (rolling.go), when more than one.
        let n = st.replica_sets.len();
        if n > 1 {
            let want = spec.replicas;
            let surge = match &spec.max_surge {
                IntOrPercent::Int(v) => *v,
                p @ IntOrPercent::Percent(_) => {
                    (p.percent().unwrap_or(0) as u64 * want as u64).div_ceil(100) as u32
                }
            };
            let unavail = match &spec.max_unavailable {
                IntOrPercent::Int(v) => *v,
                p @ IntOrPercent::Percent(_) => {
                    (p.percent().unwrap_or(0) as u64 * want as u64 / 100) as u32
                }
            };
            let unavail = if surge == 0 && unavail == 0 {
                1
            } else {
                unavail
            };
            let total: u32 = st.replica_sets.iter().map(|r| r.replicas).sum();
            let new_rs = st.replica_sets[n - 1].replicas;
            if new_rs < want {
                let allowed = (want + surge).saturating_sub(total);
                st.replica_sets[n - 1].replicas += allowed.min(want - new_rs);
            }
            let new_available = available_of(&hash, &pods);
            let total: u32 = st.replica_sets.iter().map(|r| r.replicas).sum();
            let min_available = want.saturating_sub(unavail);
            let new_unavailable = st.replica_sets[n - 1]
                .replicas
                .saturating_sub(new_available);
            let mut can_scale_down = total
                .saturating_sub(min_available)
                .saturating_sub(new_unavailable);
            for r in st.replica_sets[..n - 1].iter_mut() {
                let d = r.replicas.min(can_scale_down);
                r.replicas -= d;
                can_scale_down -= d;
            }
            st.replica_sets.retain(|r| r.replicas > 0 || r.hash == hash);
        } else if st.replica_sets[0].replicas != spec.replicas {
            st.replica_sets[0].replicas = spec.replicas;
        }

        // Each ReplicaSet converges its active pods to its replica count.
        let rss = st.replica_sets.clone();
        for rs in &rss {
            let active = active_of(&rs.hash, &pods);
            let have = active.len() as u32;
            if have < rs.replicas {
                for _ in have..rs.replicas {
                    let name = format!("{}-{}-{}", spec.name, rs.hash, rng.suffix(5));
                    let seq = index.next_seq();
                    let pod = Pod {
                        name: name.clone(),
                        uid: rng.uid(),
                        owner: Owner::deployment(&spec.name),
                        ordinal: None,
                        revision: rs.hash.clone(),
                        template: rs.template.clone(),
                        claims: Vec::new(),
                        created_ms: now,
                        seq,
                        dns: None,
                    };
                    let e = commands.spawn((pod, PodStatus::new(), PodOf(de))).id();
                    index.pods.insert(name.clone(), e);
                    log.emit(
                        now,
                        SimEvent::new(
                            EventKind::PodCreated,
                            format!("pod/{name}"),
                            format!(
                                "ReplicaSet {}-{} has {have} active of {} wanted: a new pod with a new random name (a Deployment does not wait, and terminating pods do not count)",
                                spec.name, rs.hash, rs.replicas
                            ),
                        )
                        .revision(rs.hash.clone()),
                    );
                }
            } else if have > rs.replicas {
                let mut ranked: Vec<Entity> = active;
                ranked.sort_by_key(|&e| pods.get(e).map(|(p, s)| deletion_rank(p, s)).ok());
                for &e in ranked.iter().take((have - rs.replicas) as usize) {
                    if let Ok((p, mut s)) = pods.get_mut(e) {
                        ops::request_deletion(
                            now,
                            p,
                            &mut s,
                            &mut log,
                            format!(
                                "ReplicaSet {}-{} has {have} pods for {} wanted: it removes whichever pod is cheapest to lose (not ready, newest), not the highest name",
                                spec.name, rs.hash, rs.replicas
                            ),
                        );
                    }
                }
            }
        }
        // Status.
        let mut replicas = 0;
        let mut ready = 0;
        let mut updated = 0;
        for &e in &ents {
            if let Ok((p, s)) = pods.get(e)
                && !s.terminating()
                && !s.terminal()
            {
                replicas += 1;
                ready += s.running_and_ready() as u32;
                updated += (p.revision == hash) as u32;
            }
        }
        if (st.replicas, st.ready, st.updated) != (replicas, ready, updated) {
            (st.replicas, st.ready, st.updated) = (replicas, ready, updated);
            log.touch();
        }
    }
}
