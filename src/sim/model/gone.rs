//! "What went away since the last pass": the one helper for controllers that
//! remember something between passes (a count, or a map keyed by entity or
//! name) and must find out what disappeared, since `Added` and `Changed` only
//! show what appeared or changed.

use super::Pod;
use bevy::ecs::entity::{Entity, EntityHashMap};
use bevy::prelude::{On, Remove, ResMut, Resource};

/// A count of objects remembered from the last pass. Objects that appear are
/// seen through `Added`; only the count shows that one disappeared.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally(usize);

impl Tally {
    /// Records this pass's count `now`, of which `added` are new since the last
    /// pass; true if any went away (fewer than last time plus the new ones).
    pub fn went_away(&mut self, now: usize, added: usize) -> bool {
        let gone = now != self.0 + added;
        self.0 = now;
        gone
    }
    /// Records this pass's count `now`; true if it differs from the last one
    /// (for objects whose arrivals are not counted separately).
    pub fn changed(&mut self, now: usize) -> bool {
        let changed = now != self.0;
        self.0 = now;
        changed
    }
}

/// The remembered keys for which `still_here` is false, in key order (never
/// in the hash order of the map they came from).
pub fn gone<K: Ord + Clone>(
    remembered: impl IntoIterator<Item = K>,
    still_here: impl Fn(&K) -> bool,
) -> Vec<K> {
    let mut out: Vec<K> = remembered.into_iter().filter(|k| !still_here(k)).collect();
    out.sort();
    out
}

/// Removes from `map` the entries whose entity no longer exists, and returns
/// them in entity order.
pub fn take_gone<V>(
    map: &mut EntityHashMap<V>,
    exists: impl Fn(Entity) -> bool,
) -> Vec<(Entity, V)> {
    gone(map.keys().copied(), |&e| exists(e))
        .into_iter()
        .filter_map(|e| map.remove(&e).map(|v| (e, v)))
        .collect()
}

/// Every pod despawned so far, in the order they went: an append-only log
/// that a controller keeping something per pod reads from its own cursor, so
/// it learns which pods went without walking the ones that stayed. (Bevy's
/// `RemovedComponents` is cleared by the app's frame, which the simulation's
/// passes do not follow; an observer sees every despawn, whoever does it.)
#[derive(Resource, Default, Debug)]
pub struct RemovedPods {
    log: Vec<Entity>,
}

impl RemovedPods {
    /// The pods removed since `cursor`; moves `cursor` past them.
    pub fn since(&self, cursor: &mut usize) -> &[Entity] {
        let from = (*cursor).min(self.log.len());
        *cursor = self.log.len();
        &self.log[from..]
    }
}

/// The observer that fills `RemovedPods`: a pod's `Pod` component is removed
/// only when the pod is despawned.
pub fn record_removed_pod(ev: On<Remove, Pod>, mut removed: ResMut<RemovedPods>) {
    removed.log.push(ev.entity);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_below_last_plus_new_means_something_went_away() {
        let mut t = Tally::default();
        assert!(!t.went_away(3, 3), "three new ones, none gone");
        assert!(!t.went_away(4, 1));
        // One new, and the count stayed: one went away.
        assert!(t.went_away(4, 1));
        assert!(!t.went_away(4, 0));
        assert!(t.went_away(2, 0));
    }

    #[test]
    fn a_changed_count_is_reported_once() {
        let mut t = Tally::default();
        assert!(t.changed(2));
        assert!(!t.changed(2));
        assert!(t.changed(1));
        assert!(!t.changed(1));
    }

    #[test]
    fn gone_keys_come_in_key_order() {
        let still = ["b", "d"];
        let g = gone(["e", "d", "a", "b", "c"], |k| still.contains(k));
        assert_eq!(g, vec!["a", "c", "e"]);
    }

    #[test]
    fn take_gone_removes_and_returns_entries_of_despawned_entities() {
        let [a, b, c] = [1, 2, 3].map(Entity::from_raw_u32).map(Option::unwrap);
        let mut map: EntityHashMap<&str> = EntityHashMap::default();
        map.insert(c, "c");
        map.insert(a, "a");
        map.insert(b, "b");
        let gone = take_gone(&mut map, |e| e == b);
        // In entity order (whatever `Entity`'s `Ord` is), never hash order.
        let mut expected = vec![(a, "a"), (c, "c")];
        expected.sort();
        assert_eq!(gone, expected);
        assert_eq!(map.len(), 1);
        assert!(map.contains_key(&b));
        assert!(take_gone(&mut map, |_| true).is_empty());
    }

    fn pod(name: &str) -> Pod {
        Pod {
            name: name.into(),
            uid: String::new(),
            owner: super::super::Owner::set("web"),
            ordinal: None,
            revision: String::new(),
            template: super::super::PodTemplate::with_image("nginx:1"),
            claims: Vec::new(),
            created_ms: 0,
            seq: 0,
            dns: None,
            init_containers: 0,
        }
    }

    #[test]
    fn every_despawned_pod_is_read_once_by_each_reader() {
        let mut world = bevy::prelude::World::new();
        world.init_resource::<RemovedPods>();
        world.add_observer(record_removed_pod);
        let a = world.spawn(pod("a")).id();
        let b = world.spawn(pod("b")).id();
        let other = world.spawn_empty().id();
        world.despawn(b);
        world.despawn(other);
        let (mut first, mut second) = (0, 0);
        let log = world.resource::<RemovedPods>();
        assert_eq!(log.since(&mut first), [b], "only pods are logged");
        assert!(log.since(&mut first).is_empty(), "read once");
        world.despawn(a);
        let log = world.resource::<RemovedPods>();
        assert_eq!(log.since(&mut first), [a]);
        assert_eq!(
            log.since(&mut second),
            [b, a],
            "each reader has its own cursor"
        );
    }
}
