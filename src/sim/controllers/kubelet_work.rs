//! What one node's kubelet remembers of its pods and containers between
//! passes, so that a pass syncs only the pods whose inputs changed or whose
//! own deadline is due (upstream's pod workers: `podWorkers.UpdatePod` hands
//! one pod's update to its worker, and `Kubelet.getPodsToSync` picks the pods
//! whose work queue time has come; pkg/kubelet/pod_workers.go, kubelet.go).
//!
//! Book-keeping only: which pods and containers are on the node, each
//! container's place in the node's order, the uid lookups, each item's
//! deadline, and the pods and containers to look at again next pass. The
//! kubelet (kubelet.rs) decides what is looked at and applies it.

use bevy::ecs::entity::{Entity, EntityHashMap, EntityHashSet};
use bevy::platform::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};

/// One node's memory of its pods and containers (see the module doc).
#[derive(Default, Debug)]
pub(super) struct NodeWork {
    /// Pod → the key of its uid.
    pods: EntityHashMap<u64>,
    /// Container → (its rank in the node's order, the key of its pod's uid).
    procs: EntityHashMap<(u64, u64)>,
    next_rank: u64,
    pods_by_uid: HashMap<u64, Vec<Entity>>,
    /// Containers by their pod's uid key, in rank order.
    procs_by_uid: HashMap<u64, Vec<(u64, Entity)>>,
    /// Each item's deadline (pod or container), and the same ordered by time.
    timer_of: EntityHashMap<u64>,
    timers: BTreeSet<(u64, Entity)>,
    /// Pods that acted last pass (their own writes are not seen as changes).
    pub resync: EntityHashSet,
    /// Containers written last pass by the kubelet itself.
    pub retick: EntityHashSet,
    /// Pods whose start waits on storage.
    pub waiting: EntityHashSet,
    /// Uids whose last pod left the node: their containers are orphans now.
    lost_uids: Vec<u64>,
    /// Uids whose container went away: their pods act next.
    gone_uids: Vec<u64>,
    /// A container came or went since the volumes were last reported.
    pub procs_changed: bool,
    /// Each container's volumes, and how many containers use each volume:
    /// its keys are the node's volumesInUse.
    proc_volumes: EntityHashMap<Vec<String>>,
    volume_users: BTreeMap<String, u32>,
    /// Volumes that came into use or went out of use since the last report.
    volumes_touched: BTreeSet<String>,
}

impl NodeWork {
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn proc_count(&self) -> usize {
        self.procs.len()
    }

    pub fn has_pod(&self, e: Entity) -> bool {
        self.pods.contains_key(&e)
    }

    pub fn has_proc(&self, e: Entity) -> bool {
        self.procs.contains_key(&e)
    }

    pub fn add_pod(&mut self, e: Entity, uid: u64) {
        if self.pods.insert(e, uid).is_none() {
            self.pods_by_uid.entry(uid).or_default().push(e);
        }
    }

    /// Containers are added in the node's order: each gets the next rank.
    pub fn add_proc(&mut self, e: Entity, uid: u64, volumes: &[String]) {
        if self.procs.contains_key(&e) {
            return;
        }
        for v in volumes {
            let users = self.volume_users.entry(v.clone()).or_insert(0);
            *users += 1;
            if *users == 1 {
                self.volumes_touched.insert(v.clone());
            }
        }
        self.proc_volumes.insert(e, volumes.to_vec());
        let rank = self.next_rank;
        self.next_rank += 1;
        self.procs.insert(e, (rank, uid));
        self.procs_by_uid.entry(uid).or_default().push((rank, e));
        self.procs_changed = true;
    }

    /// Forgets a pod that went away.
    pub fn drop_pod(&mut self, e: Entity) {
        let Some(uid) = self.pods.remove(&e) else {
            return;
        };
        if let Some(v) = self.pods_by_uid.get_mut(&uid) {
            v.retain(|&x| x != e);
            if v.is_empty() {
                self.pods_by_uid.remove(&uid);
                self.lost_uids.push(uid);
            }
        }
        self.forget_item(e);
        self.resync.remove(&e);
        self.waiting.remove(&e);
    }

    /// Forgets a container that went away.
    pub fn drop_proc(&mut self, e: Entity) {
        let Some((_, uid)) = self.procs.remove(&e) else {
            return;
        };
        if let Some(v) = self.procs_by_uid.get_mut(&uid) {
            v.retain(|&(_, x)| x != e);
            if v.is_empty() {
                self.procs_by_uid.remove(&uid);
            }
        }
        self.forget_item(e);
        self.retick.remove(&e);
        self.gone_uids.push(uid);
        self.procs_changed = true;
        for v in self.proc_volumes.remove(&e).unwrap_or_default() {
            if let Some(users) = self.volume_users.get_mut(&v) {
                *users -= 1;
                if *users == 0 {
                    self.volume_users.remove(&v);
                    self.volumes_touched.insert(v);
                }
            }
        }
    }

    /// The volumes some container of the node uses, in name order.
    pub fn volumes_in_use(&self) -> impl Iterator<Item = &str> {
        self.volume_users.keys().map(String::as_str)
    }

    /// The volumes that came into use or went out of use since the last
    /// call, each with whether it is in use now.
    pub fn take_volumes_touched(&mut self) -> Vec<(String, bool)> {
        std::mem::take(&mut self.volumes_touched)
            .into_iter()
            .map(|v| {
                let used = self.volume_users.contains_key(&v);
                (v, used)
            })
            .collect()
    }

    fn forget_item(&mut self, e: Entity) {
        if let Some(t) = self.timer_of.remove(&e) {
            self.timers.remove(&(t, e));
        }
    }

    /// Clears an item's deadline (before it is looked at again).
    pub fn clear_timer(&mut self, e: Entity) {
        self.forget_item(e);
    }

    /// Lowers an item's deadline to `t`.
    pub fn lower_timer(&mut self, e: Entity, t: u64) {
        match self.timer_of.get(&e) {
            Some(&old) if old <= t => {}
            Some(&old) => {
                self.timers.remove(&(old, e));
                self.timers.insert((t, e));
                self.timer_of.insert(e, t);
            }
            None => {
                self.timers.insert((t, e));
                self.timer_of.insert(e, t);
            }
        }
    }

    /// The items whose deadline has come.
    pub fn due(&self, now: u64) -> impl Iterator<Item = Entity> + '_ {
        self.timers
            .iter()
            .take_while(move |&&(t, _)| t <= now)
            .map(|&(_, e)| e)
    }

    /// The earliest deadline of any item.
    pub fn first_deadline(&self) -> Option<u64> {
        self.timers.first().map(|&(t, _)| t)
    }

    /// A container's rank in the node's order.
    pub fn rank(&self, e: Entity) -> Option<u64> {
        self.procs.get(&e).map(|&(r, _)| r)
    }

    pub fn proc_uid(&self, e: Entity) -> Option<u64> {
        self.procs.get(&e).map(|&(_, u)| u)
    }

    /// The containers of a uid key, in the node's order.
    pub fn procs_of(&self, uid: u64) -> impl Iterator<Item = Entity> + '_ {
        self.procs_by_uid
            .get(&uid)
            .into_iter()
            .flatten()
            .map(|&(_, e)| e)
    }

    /// The pods of a uid key.
    pub fn pods_of(&self, uid: u64) -> impl Iterator<Item = Entity> + '_ {
        self.pods_by_uid.get(&uid).into_iter().flatten().copied()
    }

    /// The pods by uid key (what the orphan check looks a container up in).
    pub fn pods_by_uid(&self) -> &HashMap<u64, Vec<Entity>> {
        &self.pods_by_uid
    }

    /// Uids whose last pod left since the last call.
    pub fn take_lost_uids(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.lost_uids)
    }

    /// Uids whose container went away since the last call.
    pub fn take_gone_uids(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.gone_uids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(i: u32) -> Entity {
        // Tests pass small constants; only u32::MAX is not a valid index.
        Entity::from_raw_u32(i).expect("a valid index")
    }

    #[test]
    fn deadlines_come_due_in_time_order_and_a_lowered_one_replaces_the_old() {
        let mut w = NodeWork::default();
        w.lower_timer(e(1), 500);
        w.lower_timer(e(2), 300);
        w.lower_timer(e(1), 200);
        w.lower_timer(e(2), 900); // not lower: kept at 300
        assert_eq!(w.first_deadline(), Some(200));
        assert_eq!(w.due(300).collect::<Vec<_>>(), vec![e(1), e(2)]);
        w.clear_timer(e(1));
        assert_eq!(w.due(1000).collect::<Vec<_>>(), vec![e(2)]);
    }

    #[test]
    fn a_uid_whose_last_pod_left_is_reported_once_and_its_container_stays() {
        let mut w = NodeWork::default();
        w.add_pod(e(1), 7);
        w.add_proc(e(10), 7, &[]);
        w.lower_timer(e(1), 100);
        w.drop_pod(e(1));
        assert_eq!(w.take_lost_uids(), vec![7]);
        assert!(w.take_lost_uids().is_empty());
        assert_eq!(w.procs_of(7).collect::<Vec<_>>(), vec![e(10)]);
        assert_eq!(w.first_deadline(), None, "a pod that left has no deadline");
    }

    #[test]
    fn containers_keep_the_node_order_they_were_added_in() {
        let mut w = NodeWork::default();
        w.add_proc(e(5), 1, &[]);
        w.add_proc(e(3), 1, &[]);
        w.add_proc(e(4), 2, &[]);
        assert!(w.rank(e(5)) < w.rank(e(3)));
        assert_eq!(w.procs_of(1).collect::<Vec<_>>(), vec![e(5), e(3)]);
        w.drop_proc(e(5));
        assert_eq!(w.procs_of(1).collect::<Vec<_>>(), vec![e(3)]);
        assert_eq!(w.take_gone_uids(), vec![1]);
        assert!(w.procs_changed);
    }

    #[test]
    fn a_volume_is_in_use_while_any_container_uses_it() {
        let mut w = NodeWork::default();
        let vols = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        w.add_proc(e(1), 1, &vols(&["www-web-2"]));
        w.add_proc(e(2), 1, &vols(&["www-web-2", "www-web-10"]));
        assert_eq!(
            w.volumes_in_use().collect::<Vec<_>>(),
            ["www-web-10", "www-web-2"]
        );
        w.take_volumes_touched();
        w.drop_proc(e(1));
        assert!(
            w.take_volumes_touched().is_empty(),
            "web-2 is still used by e(2)"
        );
        w.drop_proc(e(2));
        assert_eq!(
            w.take_volumes_touched(),
            vec![
                ("www-web-10".to_string(), false),
                ("www-web-2".to_string(), false)
            ]
        );
        assert_eq!(w.volumes_in_use().count(), 0);
    }
}
