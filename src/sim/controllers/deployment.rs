//! The Deployment controller with ReplicaSet semantics: pods get random-suffix
//! names, are created all at once, are replaced as soon as they are marked for
//! deletion, and any pod may be picked on scale-down. No per-pod claims. A
//! template change rolls out through a new ReplicaSet (maxSurge/maxUnavailable).
//! (pkg/controller/replicaset, pkg/controller/deployment/rolling.go.)

use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::K8sRecord;
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use crate::sim::{SimRng, SimSystems};
use bevy::prelude::*;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        crate::sim::SimSchedule,
        deployment_controller
            .in_set(SimSystems::Controllers)
            .after(super::statefulset::StatefulSets),
    );
}

/// Characters of a pod-template-hash.
const POD_TEMPLATE_HASH_LEN: usize = 9;

/// pod-template-hash.
pub fn template_hash(template: &PodTemplate) -> String {
    template.hash_name(POD_TEMPLATE_HASH_LEN)
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

type DeploymentItem = (
    Entity,
    &'static Deployment,
    &'static mut DeploymentStatus,
    Option<&'static OwnedPods>,
);
type PodItem = (&'static Pod, &'static mut PodStatus);

fn deployment_controller(
    mut cluster: Cluster,
    mut rng: ResMut<SimRng>,
    mut deps: Query<DeploymentItem>,
    mut pods: Query<PodItem>,
) {
    let mut order: Vec<(String, Entity)> = deps
        .iter()
        .map(|(e, d, ..)| (d.spec.name.clone(), e))
        .collect();
    order.sort();
    for (_, de) in order {
        let Ok((_, dep, mut st, owned)) = deps.get_mut(de) else {
            continue;
        };
        let mut ents: Vec<Entity> = owned.map(|o| o.entities().to_vec()).unwrap_or_default();
        ents.sort_by_key(|&e| pods.get(e).map(|(p, _)| p.seq).unwrap_or(0));
        let mut pass = Pass {
            cluster: &mut cluster,
            rng: &mut rng,
            pods: &mut pods,
            de,
            spec: &dep.spec,
            ents: &ents,
        };
        if dep.deleting {
            pass.delete();
            continue;
        }
        let hash = pass.sync_replica_sets(&mut st);
        for rs in st.replica_sets.clone() {
            pass.converge(&rs);
        }
        pass.update_status(&mut st, &hash);
    }
}

/// One Deployment's pass.
struct Pass<'a, 'w, 's, 'pw, 'ps> {
    cluster: &'a mut Cluster<'w, 's>,
    rng: &'a mut SimRng,
    pods: &'a mut Query<'pw, 'ps, PodItem>,
    de: Entity,
    spec: &'a DeploymentSpec,
    /// Its pods, oldest first.
    ents: &'a [Entity],
}

impl Pass<'_, '_, '_, '_, '_> {
    fn obj(&self) -> String {
        format!("deployment/{}", self.spec.name)
    }

    /// The Deployment is being deleted: the garbage collector deletes its
    /// pods; the object goes once they are gone.
    fn delete(&mut self) {
        let reason = format!(
            "{} was deleted: the garbage collector deletes its pods",
            self.obj()
        );
        for &e in self.ents {
            if let Ok((p, mut s)) = self.pods.get_mut(e) {
                self.cluster.journal.pods.note(e);
                self.cluster.request_deletion(p, &mut s, reason.clone());
            }
        }
        if self.ents.is_empty() {
            self.cluster.index.deployments.remove(&self.spec.name);
            self.cluster.commands.entity(self.de).despawn();
            self.cluster.touch();
        }
    }

    /// The ReplicaSet of the current template exists and is the newest; the
    /// replica counts follow the rolling update. Returns its hash.
    fn sync_replica_sets(&mut self, st: &mut DeploymentStatus) -> String {
        let spec = self.spec;
        let hash = template_hash(&spec.template);
        if !st.replica_sets.iter().any(|r| r.hash == hash) {
            let first = st.replica_sets.is_empty();
            st.replica_sets.push(ReplicaSet {
                hash: hash.clone(),
                template: spec.template.clone(),
                replicas: if first { spec.replicas } else { 0 },
            });
            if !first {
                self.cluster.emit(
                    SimEvent::new(
                        EventKind::DeploymentUpdated,
                        self.obj(),
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
        if st.replica_sets.len() > 1 {
            let new_available = self.count(&hash, |s| s.running_and_ready());
            roll(&mut st.replica_sets, spec, new_available);
        } else if st.replica_sets[0].replicas != spec.replicas {
            st.replica_sets[0].replicas = spec.replicas;
        }
        hash
    }

    /// Pods of ReplicaSet `hash` that are not terminating and pass `f`.
    fn count(&self, hash: &str, f: impl Fn(&PodStatus) -> bool) -> u32 {
        self.ents
            .iter()
            .filter(|&&e| {
                self.pods
                    .get(e)
                    .is_ok_and(|(p, s)| p.revision == hash && !s.terminating() && f(s))
            })
            .count() as u32
    }

    /// Active pods of ReplicaSet `hash`: not terminating and not terminal.
    fn active(&self, hash: &str) -> Vec<Entity> {
        self.ents
            .iter()
            .copied()
            .filter(|&e| {
                self.pods
                    .get(e)
                    .is_ok_and(|(p, s)| p.revision == hash && !s.terminating() && !s.terminal())
            })
            .collect()
    }

    /// A ReplicaSet converges its active pods to its replica count.
    fn converge(&mut self, rs: &ReplicaSet) {
        let active = self.active(&rs.hash);
        let have = active.len() as u32;
        if have < rs.replicas {
            for _ in have..rs.replicas {
                self.create_pod(rs, have);
            }
        } else if have > rs.replicas {
            let mut ranked = active;
            ranked.sort_by_key(|&e| self.pods.get(e).map(|(p, s)| deletion_rank(p, s)).ok());
            let reason = format!(
                "ReplicaSet {}-{} has {have} pods for {} wanted: it removes whichever pod is cheapest to lose (not ready, newest), not the highest name",
                self.spec.name, rs.hash, rs.replicas
            );
            let rs_name = format!("{}-{}", self.spec.name, rs.hash);
            for &e in ranked.iter().take((have - rs.replicas) as usize) {
                if let Ok((p, mut s)) = self.pods.get_mut(e) {
                    self.cluster.journal.pods.note(e);
                    let record = K8sRecord::replica_set_deleted(&rs_name, &p.name);
                    self.cluster
                        .request_deletion_recorded(p, &mut s, reason.clone(), Some(record));
                }
            }
        }
    }

    fn create_pod(&mut self, rs: &ReplicaSet, have: u32) {
        let spec = self.spec;
        let name = format!("{}-{}-{}", spec.name, rs.hash, self.rng.suffix(5));
        let seq = self.cluster.index.next_seq();
        let pod = Pod {
            name: name.clone(),
            uid: self.rng.uid(),
            owner: Owner::deployment(&spec.name),
            ordinal: None,
            revision: rs.hash.clone(),
            template: rs.template.clone(),
            claims: Vec::new(),
            created_ms: self.cluster.now(),
            seq,
            dns: None,
            init_containers: 0,
        };
        let e = self
            .cluster
            .commands
            .spawn((pod, PodStatus::new(), PodOf(self.de)))
            .id();
        self.cluster.index.pods.insert(name.clone(), e);
        self.cluster.emit(
            SimEvent::new(
                EventKind::PodCreated,
                format!("pod/{name}"),
                format!(
                    "ReplicaSet {}-{} has {have} active of {} wanted: a new pod with a new random name (a Deployment does not wait, and terminating pods do not count)",
                    spec.name, rs.hash, rs.replicas
                ),
            )
            .revision(rs.hash.clone())
            .k8s(K8sRecord::replica_set_created(
                &format!("{}-{}", spec.name, rs.hash),
                &name,
            )),
        );
    }

    /// status.replicas, readyReplicas, updatedReplicas of the active pods.
    fn update_status(&mut self, st: &mut DeploymentStatus, hash: &str) {
        let (mut replicas, mut ready, mut updated) = (0, 0, 0);
        for &e in self.ents {
            if let Ok((p, s)) = self.pods.get(e)
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
            self.cluster.touch();
        }
    }
}

/// The rolling update between ReplicaSets (rolling.go), the newest last: the
/// new one grows within spec.replicas + maxSurge (rounded up), the old ones
/// shrink, oldest first, as far as spec.replicas − maxUnavailable (rounded
/// down; at least one of the two is non-zero) available pods allow. Old
/// ReplicaSets at zero are dropped.
fn roll(rss: &mut Vec<ReplicaSet>, spec: &DeploymentSpec, new_available: u32) {
    let n = rss.len();
    let want = spec.replicas;
    let surge = spec.max_surge.scaled(want, true);
    let unavail = match spec.max_unavailable.scaled(want, false) {
        0 if surge == 0 => 1,
        u => u,
    };
    let total: u32 = rss.iter().map(|r| r.replicas).sum();
    let new_rs = rss[n - 1].replicas;
    if new_rs < want {
        let allowed = (want + surge).saturating_sub(total);
        rss[n - 1].replicas += allowed.min(want - new_rs);
    }
    let total: u32 = rss.iter().map(|r| r.replicas).sum();
    let min_available = want.saturating_sub(unavail);
    let new_unavailable = rss[n - 1].replicas.saturating_sub(new_available);
    let mut can_scale_down = total
        .saturating_sub(min_available)
        .saturating_sub(new_unavailable);
    for r in rss[..n - 1].iter_mut() {
        let d = r.replicas.min(can_scale_down);
        r.replicas -= d;
        can_scale_down -= d;
    }
    let newest = rss[n - 1].hash.clone();
    rss.retain(|r| r.replicas > 0 || r.hash == newest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(replicas: u32, surge: IntOrPercent, unavailable: IntOrPercent) -> DeploymentSpec {
        DeploymentSpec {
            name: "api".into(),
            replicas,
            template: PodTemplate::with_image("api:2"),
            max_surge: surge,
            max_unavailable: unavailable,
        }
    }

    fn rs(hash: &str, replicas: u32) -> ReplicaSet {
        ReplicaSet {
            hash: hash.into(),
            template: PodTemplate::with_image(hash),
            replicas,
        }
    }

    fn counts(rss: &[ReplicaSet]) -> Vec<(String, u32)> {
        rss.iter().map(|r| (r.hash.clone(), r.replicas)).collect()
    }

    #[test]
    fn rolling_update_surges_the_new_replica_set_within_max_surge() {
        let pct = |s: &str| IntOrPercent::Percent(s.into());
        let s = spec(4, pct("25%"), pct("25%"));
        let mut rss = vec![rs("old", 4), rs("new", 0)];
        roll(&mut rss, &s, 0);
        // 25% of 4 = 1 extra pod; 25% unavailable lets one old pod go.
        assert_eq!(counts(&rss), [("old".into(), 3), ("new".into(), 1)]);
    }

    #[test]
    fn old_replica_sets_shrink_only_as_new_pods_become_available() {
        let s = spec(2, IntOrPercent::Int(1), IntOrPercent::Int(0));
        let mut rss = vec![rs("old", 2), rs("new", 1)];
        roll(&mut rss, &s, 0);
        assert_eq!(counts(&rss), [("old".into(), 2), ("new".into(), 1)]);
        roll(&mut rss, &s, 1);
        assert_eq!(counts(&rss), [("old".into(), 1), ("new".into(), 1)]);
    }

    #[test]
    fn zero_surge_and_zero_unavailable_still_lets_one_pod_go() {
        let s = spec(3, IntOrPercent::Int(0), IntOrPercent::Int(0));
        let mut rss = vec![rs("old", 3), rs("new", 0)];
        roll(&mut rss, &s, 0);
        assert_eq!(counts(&rss), [("old".into(), 2), ("new".into(), 0)]);
    }

    #[test]
    fn empty_old_replica_sets_are_dropped_but_the_new_one_stays() {
        let s = spec(0, IntOrPercent::Int(1), IntOrPercent::Int(1));
        let mut rss = vec![rs("old", 0), rs("new", 0)];
        roll(&mut rss, &s, 0);
        assert_eq!(counts(&rss), [("new".into(), 0)]);
    }
}
