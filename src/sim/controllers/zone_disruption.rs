//! Zone disruption in the node lifecycle controller, as pure decisions: each
//! zone's state (Normal / PartialDisruption / FullDisruption), the
//! rate-limited queue that adds NoExecute taints one node at a time per
//! zone, and the cluster-wide mode entered when every node is not Ready.
//! Follows pkg/controller/nodelifecycle/node_lifecycle_controller.go
//! (`handleDisruption`, `ComputeZoneState`, `setLimiterInZone`,
//! `ReducedQPSFunc`, `HealthyQPSFunc`, `doNoExecuteTaintingPass`) and
//! scheduler/rate_limited_queue.go (`Try`, `SwapLimiter`).

use bevy::prelude::*;
use std::collections::BTreeMap;

/// `--node-eviction-rate` 0.1 per second: one NoExecute taint every 10 s per zone.
pub const EVICTION_PERIOD_MS: u64 = 10_000;
/// `--secondary-node-eviction-rate` 0.01 per second, for large disrupted zones.
pub const SECONDARY_EVICTION_PERIOD_MS: u64 = 100_000;
/// `--large-cluster-size-threshold`: a zone of more nodes keeps tainting
/// (slowly) when partially disrupted.
pub const LARGE_CLUSTER_THRESHOLD: usize = 50;
/// `--unhealthy-zone-threshold` 0.55.
pub const UNHEALTHY_ZONE_THRESHOLD: f32 = 0.55;

/// A zone's state (`ZoneState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    /// Seen for the first time; becomes Normal without a word.
    Initial,
    Normal,
    PartialDisruption,
    FullDisruption,
}

impl ZoneState {
    pub const fn name(self) -> &'static str {
        match self {
            ZoneState::Initial => "Initial",
            ZoneState::Normal => "Normal",
            ZoneState::PartialDisruption => "PartialDisruption",
            ZoneState::FullDisruption => "FullDisruption",
        }
    }
}

/// How many nodes of a zone are Ready and how many are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZoneCount {
    pub ready: usize,
    pub not_ready: usize,
}

impl ZoneCount {
    pub fn total(self) -> usize {
        self.ready + self.not_ready
    }
}

/// ComputeZoneState: no Ready node → FullDisruption; more than 2 not Ready
/// and at least 55 % of the zone → PartialDisruption; else Normal.
pub fn compute_zone_state(c: ZoneCount) -> ZoneState {
    if c.ready == 0 && c.not_ready > 0 {
        ZoneState::FullDisruption
    } else if c.not_ready > 2
        && (c.not_ready as f32) / (c.total() as f32) >= UNHEALTHY_ZONE_THRESHOLD
    {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// A zone's tainting rate limiter: a token bucket of burst 1, or one that
/// never lets anything through (rate 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    Never,
    /// One token every `period_ms`; the next one is there at `ready_at`.
    Bucket {
        period_ms: u64,
        ready_at: u64,
    },
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::Bucket {
            period_ms: EVICTION_PERIOD_MS,
            ready_at: 0,
        }
    }
}

impl Limiter {
    /// TryAccept: takes the token if there is one.
    pub fn try_accept(&mut self, now: u64) -> bool {
        match self {
            Limiter::Never => false,
            Limiter::Bucket {
                period_ms,
                ready_at,
            } => {
                if now < *ready_at {
                    return false;
                }
                *ready_at = now + *period_ms;
                true
            }
        }
    }

    /// When the next token comes, if ever.
    pub fn next_token(&self) -> Option<u64> {
        match self {
            Limiter::Never => None,
            Limiter::Bucket { ready_at, .. } => Some(*ready_at),
        }
    }

    fn period(&self) -> Option<u64> {
        match self {
            Limiter::Never => None,
            Limiter::Bucket { period_ms, .. } => Some(*period_ms),
        }
    }

    /// SwapLimiter: nothing if the rate is the same; rate 0 never lets
    /// anything through; a new bucket starts full, unless the old limiter
    /// had no token now, in which case it starts drained.
    pub fn swap(&mut self, period: Option<u64>, now: u64) {
        if self.period() == period {
            return;
        }
        *self = match period {
            None => Limiter::Never,
            Some(p) => {
                let drained = !self.try_accept(now);
                Limiter::Bucket {
                    period_ms: p,
                    ready_at: if drained { now + p } else { 0 },
                }
            }
        };
    }

    /// The rate in words.
    pub fn words(&self) -> String {
        match self.period() {
            None => "stopped".to_string(),
            Some(p) => format!("one node every {}s", p / 1000),
        }
    }
}

/// setLimiterInZone: the tainting rate of a zone in `state` with `size`
/// nodes (None: stopped). Partial disruption stops it in a zone of up to 50
/// nodes (ReducedQPSFunc); full disruption of one zone keeps the normal rate
/// (HealthyQPSFunc).
pub fn zone_rate(state: ZoneState, size: usize) -> Option<u64> {
    match state {
        ZoneState::PartialDisruption if size > LARGE_CLUSTER_THRESHOLD => {
            Some(SECONDARY_EVICTION_PERIOD_MS)
        }
        ZoneState::PartialDisruption => None,
        _ => Some(EVICTION_PERIOD_MS),
    }
}

/// One zone: its state, its tainting limiter and queue.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    pub state: Option<ZoneState>,
    pub limiter: Limiter,
    /// Nodes waiting for their NoExecute taint: (when queued, name), oldest first.
    pub queue: Vec<(u64, String)>,
}

impl Zone {
    fn state(&self) -> ZoneState {
        self.state.unwrap_or(ZoneState::Initial)
    }
    /// markNodeForTainting: queues a node once.
    pub fn enqueue(&mut self, node: &str, now: u64) {
        if !self.queue.iter().any(|(_, n)| n == node) {
            self.queue.push((now, node.to_string()));
        }
    }
    /// markNodeAsReachable: the node leaves the queue.
    pub fn dequeue(&mut self, node: &str) {
        self.queue.retain(|(_, n)| n != node);
    }
}

/// The zones the node lifecycle controller knows, by name.
#[derive(Resource, Debug, Default)]
pub struct Zones {
    pub zones: BTreeMap<String, Zone>,
}

/// What `handle_disruption` changed, for the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Disruption {
    /// Every zone is fully disrupted: all Nodes are not-Ready. Tainting
    /// stops everywhere and the NoExecute taints are removed.
    Entered,
    /// Some node is Ready again: each zone gets the rate of its new state.
    Exited(Vec<(String, ZoneState)>),
    /// A zone changed state (not counting Initial → Normal).
    Zone {
        zone: String,
        from: ZoneState,
        to: ZoneState,
        count: ZoneCount,
        rate: String,
    },
}

impl Zones {
    /// handleDisruption: the new zone states from this pass's Ready counts,
    /// and what changed. Zones with no node left are forgotten.
    pub fn handle_disruption(
        &mut self,
        counts: &BTreeMap<String, ZoneCount>,
        now: u64,
    ) -> Vec<Disruption> {
        // A new zone starts Initial (addPodEvictorForNewZone), before the
        // states are compared.
        self.zones.retain(|z, _| counts.contains_key(z));
        for z in counts.keys() {
            self.zones.entry(z.clone()).or_default();
        }
        let new: BTreeMap<&String, ZoneState> = counts
            .iter()
            .map(|(z, &c)| (z, compute_zone_state(c)))
            .collect();
        let all_are = new.values().all(|&s| s == ZoneState::FullDisruption);
        let all_were = self
            .zones
            .values()
            .all(|z| z.state() == ZoneState::FullDisruption);
        if all_are && all_were {
            return Vec::new();
        }
        if all_are {
            for z in self.zones.values_mut() {
                z.limiter.swap(None, now);
                z.state = Some(ZoneState::FullDisruption);
                z.queue.clear();
            }
            return vec![Disruption::Entered];
        }
        let mut out = Vec::new();
        let mut exited = Vec::new();
        for (name, zone) in self.zones.iter_mut() {
            let to = new[name];
            let from = zone.state();
            if from == to && !all_were {
                continue;
            }
            zone.limiter.swap(zone_rate(to, counts[name].total()), now);
            zone.state = Some(to);
            if all_were {
                exited.push((name.clone(), to));
            } else if !(from == ZoneState::Initial && to == ZoneState::Normal) {
                out.push(Disruption::Zone {
                    zone: name.clone(),
                    from,
                    to,
                    count: counts[name],
                    rate: zone.limiter.words(),
                });
            }
        }
        if all_were && !exited.is_empty() {
            out.push(Disruption::Exited(exited));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(ready: usize, not_ready: usize) -> ZoneCount {
        ZoneCount { ready, not_ready }
    }

    #[test]
    fn a_zone_with_no_ready_node_is_fully_disrupted() {
        assert_eq!(compute_zone_state(count(0, 1)), ZoneState::FullDisruption);
        assert_eq!(compute_zone_state(count(1, 1)), ZoneState::Normal);
    }

    #[test]
    fn partial_disruption_needs_more_than_2_not_ready_making_at_least_55_percent() {
        // 2 of 3 is 67 % but only 2 nodes: Normal.
        assert_eq!(compute_zone_state(count(1, 2)), ZoneState::Normal);
        assert_eq!(
            compute_zone_state(count(2, 3)),
            ZoneState::PartialDisruption
        );
        // 11 of 20 is exactly 55 %.
        assert_eq!(
            compute_zone_state(count(9, 11)),
            ZoneState::PartialDisruption
        );
        assert_eq!(compute_zone_state(count(10, 10)), ZoneState::Normal);
    }

    #[test]
    fn tainting_is_rate_limited_to_one_node_every_10s_per_zone() {
        let mut l = Limiter::default();
        assert!(l.try_accept(5_000));
        assert!(!l.try_accept(5_000));
        assert!(!l.try_accept(14_999));
        assert_eq!(l.next_token(), Some(15_000));
        assert!(l.try_accept(15_000));
    }

    #[test]
    fn a_partially_disrupted_zone_stops_tainting_unless_it_has_more_than_50_nodes() {
        assert_eq!(zone_rate(ZoneState::PartialDisruption, 10), None);
        assert_eq!(
            zone_rate(ZoneState::PartialDisruption, 51),
            Some(SECONDARY_EVICTION_PERIOD_MS)
        );
        assert_eq!(
            zone_rate(ZoneState::FullDisruption, 3),
            Some(EVICTION_PERIOD_MS)
        );
    }

    #[test]
    fn a_swapped_in_limiter_starts_drained_when_the_old_one_had_no_token() {
        let mut l = Limiter::Never;
        l.swap(Some(EVICTION_PERIOD_MS), 100_000);
        assert_eq!(l.next_token(), Some(110_000));
        let mut l = Limiter::default();
        l.swap(Some(SECONDARY_EVICTION_PERIOD_MS), 100_000);
        assert_eq!(l.next_token(), Some(0));
    }

    fn counts(c: &[(&str, usize, usize)]) -> BTreeMap<String, ZoneCount> {
        c.iter()
            .map(|(z, r, n)| (z.to_string(), count(*r, *n)))
            .collect()
    }

    #[test]
    fn full_disruption_stops_every_zone_and_is_left_when_a_node_is_ready() {
        let mut zones = Zones::default();
        assert!(
            zones
                .handle_disruption(&counts(&[("a", 2, 0), ("b", 1, 0)]), 0)
                .is_empty()
        );
        zones.zones.get_mut("a").unwrap().enqueue("n1", 0);
        let d = zones.handle_disruption(&counts(&[("a", 0, 2), ("b", 0, 1)]), 60_000);
        assert_eq!(d, vec![Disruption::Entered]);
        assert!(zones.zones.values().all(|z| z.limiter == Limiter::Never));
        assert!(zones.zones["a"].queue.is_empty());
        // Nothing more while it lasts.
        assert!(
            zones
                .handle_disruption(&counts(&[("a", 0, 2), ("b", 0, 1)]), 65_000)
                .is_empty()
        );
        let d = zones.handle_disruption(&counts(&[("a", 0, 2), ("b", 1, 0)]), 700_000);
        assert_eq!(
            d,
            vec![Disruption::Exited(vec![
                ("a".into(), ZoneState::FullDisruption),
                ("b".into(), ZoneState::Normal)
            ])]
        );
        // Drained: the first taint comes 10 s later.
        assert_eq!(zones.zones["a"].limiter.next_token(), Some(710_000));
    }

    #[test]
    fn a_zone_change_is_reported_with_its_new_rate() {
        let mut zones = Zones::default();
        zones.handle_disruption(&counts(&[("a", 4, 0), ("b", 1, 0)]), 0);
        let d = zones.handle_disruption(&counts(&[("a", 1, 3), ("b", 1, 0)]), 60_000);
        assert!(
            matches!(&d[..], [Disruption::Zone { zone, to: ZoneState::PartialDisruption, rate, .. }] if zone == "a" && rate == "stopped"),
            "{d:?}"
        );
    }
}
