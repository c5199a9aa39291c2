//! Pod anti-affinity, as the scheduler's InterPodAffinity plugin applies it
//! (docs/semantics.md §5.8a): a pure function of the pending pod's terms and
//! how many pods of each workload every node holds. Required terms filter
//! nodes out; preferred terms make nodes score lower.

use crate::sim::model::{AntiAffinity, Owner, TOPOLOGY_ZONE};
use std::collections::BTreeMap;

/// The filter's reason when the incoming pod's own required anti-affinity
/// rules out a node (interpodaffinity `ErrReasonAntiAffinityRulesNotMatch`).
pub(super) const ANTI_AFFINITY_REASON: &str = "node(s) didn't match pod anti-affinity rules";

/// One node as anti-affinity sees it: its zone and its pods per owner.
#[derive(Clone, Copy)]
pub(super) struct Place<'a> {
    pub zone: &'a str,
    pub owners: &'a BTreeMap<Owner, u32>,
}

/// The pending pod's anti-affinity against the pods on every node,
/// computed once per pod (PreFilter) and asked per node (Filter, Score).
pub(super) struct AntiAffinityView<'a> {
    terms: &'a [AntiAffinity],
    own: &'a Owner,
    /// Per term: matching pods per zone (zone terms only).
    per_zone: Vec<BTreeMap<&'a str, u32>>,
}

/// Whether `o` is a pod the term selects: the pods of the named workload,
/// or of the pod's own one.
fn selects(term: &AntiAffinity, own: &Owner, o: &Owner) -> bool {
    match term.set() {
        Some(name) => o.name == name,
        None => o == own,
    }
}

fn matching(term: &AntiAffinity, own: &Owner, owners: &BTreeMap<Owner, u32>) -> u32 {
    owners
        .iter()
        .filter(|(o, _)| selects(term, own, o))
        .map(|(_, n)| n)
        .sum()
}

impl<'a> AntiAffinityView<'a> {
    /// PreFilter: counts, per zone term, the selected pods in every zone.
    pub fn new(
        terms: &'a [AntiAffinity],
        own: &'a Owner,
        places: impl Iterator<Item = Place<'a>> + Clone,
    ) -> Self {
        let per_zone = terms
            .iter()
            .map(|t| {
                let mut m: BTreeMap<&str, u32> = BTreeMap::new();
                if t.topology_key() == TOPOLOGY_ZONE {
                    for p in places.clone() {
                        *m.entry(p.zone).or_default() += matching(t, own, p.owners);
                    }
                }
                m
            })
            .collect();
        AntiAffinityView {
            terms,
            own,
            per_zone,
        }
    }

    /// Selected pods in the term's domain around `place`: on the node for
    /// `kubernetes.io/hostname`, in its zone for the zone key.
    fn in_domain(&self, i: usize, place: &Place) -> u32 {
        let t = &self.terms[i];
        if t.topology_key() == TOPOLOGY_ZONE {
            self.per_zone[i].get(place.zone).copied().unwrap_or(0)
        } else {
            matching(t, self.own, place.owners)
        }
    }

    /// Filter: the reason the node is ruled out, if a required term finds a
    /// selected pod in its domain (satisfyPodAntiAffinity).
    pub fn misfit(&self, place: &Place) -> Option<&'static str> {
        let broken = self.terms.iter().enumerate().any(|(i, t)| {
            matches!(t, AntiAffinity::Required { .. }) && self.in_domain(i, place) > 0
        });
        broken.then_some(ANTI_AFFINITY_REASON)
    }

    /// Score: the weight of every preferred term times the selected pods in
    /// its domain; lower is better (the plugin subtracts it from the score).
    pub fn penalty(&self, place: &Place) -> u32 {
        self.terms
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t {
                AntiAffinity::Preferred { weight, .. } => Some(weight * self.in_domain(i, place)),
                AntiAffinity::Required { .. } => None,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::TOPOLOGY_HOSTNAME;

    fn required(key: &str) -> AntiAffinity {
        AntiAffinity::Required {
            topology_key: key.into(),
            set: None,
        }
    }

    fn owners(list: &[(&Owner, u32)]) -> BTreeMap<Owner, u32> {
        list.iter().map(|(o, n)| ((*o).clone(), *n)).collect()
    }

    #[test]
    fn required_anti_affinity_by_hostname_rules_out_nodes_holding_a_pod_of_the_set() {
        let zk = Owner::set("zk");
        let web = Owner::set("web");
        let a = owners(&[(&zk, 1)]);
        let b = owners(&[(&web, 2)]);
        let places = [
            Place {
                zone: "z1",
                owners: &a,
            },
            Place {
                zone: "z1",
                owners: &b,
            },
        ];
        let terms = [required(TOPOLOGY_HOSTNAME)];
        let v = AntiAffinityView::new(&terms, &zk, places.iter().copied());
        assert_eq!(v.misfit(&places[0]), Some(ANTI_AFFINITY_REASON));
        assert_eq!(
            v.misfit(&places[1]),
            None,
            "other workloads' pods do not count"
        );
        // A term naming another workload selects its pods.
        let other = [AntiAffinity::Required {
            topology_key: TOPOLOGY_HOSTNAME.into(),
            set: Some("web".into()),
        }];
        let v = AntiAffinityView::new(&other, &zk, places.iter().copied());
        assert_eq!(v.misfit(&places[0]), None);
        assert_eq!(v.misfit(&places[1]), Some(ANTI_AFFINITY_REASON));
    }

    #[test]
    fn required_anti_affinity_by_zone_rules_out_every_node_of_the_zone() {
        let zk = Owner::set("zk");
        let a = owners(&[(&zk, 1)]);
        let empty = BTreeMap::new();
        let places = [
            Place {
                zone: "z1",
                owners: &a,
            },
            Place {
                zone: "z1",
                owners: &empty,
            },
            Place {
                zone: "z2",
                owners: &empty,
            },
        ];
        let terms = [required(TOPOLOGY_ZONE)];
        let v = AntiAffinityView::new(&terms, &zk, places.iter().copied());
        assert!(v.misfit(&places[1]).is_some(), "same zone as zk's pod");
        assert_eq!(v.misfit(&places[2]), None);
    }

    #[test]
    fn preferred_anti_affinity_scores_by_weight_times_matching_pods() {
        let zk = Owner::set("zk");
        let one = owners(&[(&zk, 1)]);
        let two = owners(&[(&zk, 2)]);
        let places = [
            Place {
                zone: "z1",
                owners: &one,
            },
            Place {
                zone: "z2",
                owners: &two,
            },
        ];
        let terms = [AntiAffinity::Preferred {
            weight: 50,
            topology_key: TOPOLOGY_HOSTNAME.into(),
            set: None,
        }];
        let v = AntiAffinityView::new(&terms, &zk, places.iter().copied());
        assert_eq!(v.penalty(&places[0]), 50);
        assert_eq!(v.penalty(&places[1]), 100);
        assert_eq!(v.misfit(&places[1]), None, "preferred never filters");
    }
}
