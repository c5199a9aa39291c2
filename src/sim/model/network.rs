//! Pod addresses: each node's pod range (the node IPAM controller's
//! 10.244.N.0/24 from the cluster's 10.244.0.0/16) and each pod's IP, handed
//! out from its node's range the way the host-local IPAM plugin does
//! (docs/semantics.md §1.7 pod-ips).

use std::collections::{BTreeMap, BTreeSet};

/// How many /24 pod ranges the cluster range 10.244.0.0/16 holds.
const NODE_RANGES: u32 = 256;
/// host-local's defaults in a /24: the gateway is .1 and never handed out,
/// the range ends at .254 (.255 is the broadcast address).
const GATEWAY: u8 = 1;
const RANGE_END: u8 = 254;

/// One node's pod range and host-local's record of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NodeRange {
    /// N in 10.244.N.0/24.
    index: u32,
    /// The last address reserved (host-local's lastReservedIP): the next
    /// search starts after it, round-robin.
    last: Option<u8>,
    /// Addresses in use (the last octet).
    used: BTreeSet<u8>,
}

/// The cluster's pod network: node ranges and pod addresses.
#[derive(Debug, Clone, Default)]
pub struct PodNetwork {
    /// Node name → its range.
    nodes: BTreeMap<String, NodeRange>,
    /// The range allocator's next candidate (cidrset `nextCandidate`).
    next_range: u32,
    /// Ranges held by a node.
    ranges_used: BTreeSet<u32>,
    /// Pod uid → (node, its range, last octet) of its address. The range
    /// tells a re-added node of the same name from the one the pod was on.
    pods: BTreeMap<String, (String, u32, u8)>,
}

impl PodNetwork {
    /// A new node gets the next free /24 after the last one handed out
    /// (cidrset `AllocateNext`: round-robin from `nextCandidate`, so a range
    /// freed by a deleted node is not reused at once).
    pub fn add_node(&mut self, node: &str) {
        self.remove_node(node);
        let Some(index) = (0..NODE_RANGES)
            .map(|i| (self.next_range + i) % NODE_RANGES)
            .find(|i| !self.ranges_used.contains(i))
        else {
            // More than 256 nodes: the simulator's limit is lower (limits::MAX_NODES
            // is checked against nodes at once, not against ranges), so the
            // node simply gets no range and its pods no address.
            return;
        };
        self.next_range = (index + 1) % NODE_RANGES;
        self.ranges_used.insert(index);
        self.nodes.insert(
            node.to_string(),
            NodeRange {
                index,
                ..NodeRange::default()
            },
        );
    }

    /// A deleted node's range goes back to the pool (`ReleaseCIDR`).
    pub fn remove_node(&mut self, node: &str) {
        if let Some(r) = self.nodes.remove(node) {
            self.ranges_used.remove(&r.index);
        }
    }

    /// The node's pod range, e.g. `10.244.2.0/24`.
    pub fn node_range(&self, node: &str) -> Option<String> {
        self.nodes
            .get(node)
            .map(|r| format!("10.244.{}.0/24", r.index))
    }

    /// The pod sandbox's address on `node`: host-local's `Get`, starting
    /// after the last address reserved, skipping the gateway and addresses
    /// in use, wrapping from .254 to .2. None when the range is full (or
    /// the node has none).
    pub fn allocate(&mut self, node: &str, pod_uid: &str) -> Option<String> {
        let r = self.nodes.get_mut(node)?;
        let start = r.last.unwrap_or(GATEWAY);
        let octet = (1..=u32::from(RANGE_END))
            .map(|i| ((u32::from(start) - 1 + i) % u32::from(RANGE_END) + 1) as u8)
            .find(|o| *o != GATEWAY && !r.used.contains(o))?;
        r.used.insert(octet);
        r.last = Some(octet);
        let index = r.index;
        self.release(pod_uid);
        self.pods
            .insert(pod_uid.to_string(), (node.to_string(), index, octet));
        Some(format!("10.244.{index}.{octet}"))
    }

    /// The pod is gone: its address returns to its node's pool (CNI DEL).
    pub fn release(&mut self, pod_uid: &str) {
        if let Some((node, index, octet)) = self.pods.remove(pod_uid)
            && let Some(r) = self.nodes.get_mut(&node)
            && r.index == index
        {
            r.used.remove(&octet);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_get_pod_ranges_in_order_and_a_freed_range_is_not_reused_at_once() {
        let mut n = PodNetwork::default();
        for name in ["a", "b", "c"] {
            n.add_node(name);
        }
        assert_eq!(n.node_range("a").as_deref(), Some("10.244.0.0/24"));
        assert_eq!(n.node_range("c").as_deref(), Some("10.244.2.0/24"));
        n.remove_node("b");
        assert_eq!(n.node_range("b"), None);
        n.add_node("d");
        assert_eq!(
            n.node_range("d").as_deref(),
            Some("10.244.3.0/24"),
            "the allocator moves on from its next candidate"
        );
    }

    #[test]
    fn pod_ips_come_round_robin_from_the_node_range_skipping_the_gateway() {
        let mut n = PodNetwork::default();
        n.add_node("a");
        n.add_node("b");
        assert_eq!(n.allocate("b", "u1").as_deref(), Some("10.244.1.2"));
        assert_eq!(n.allocate("b", "u2").as_deref(), Some("10.244.1.3"));
        n.release("u1");
        // Round-robin: a recreated pod does not get the address just freed.
        assert_eq!(n.allocate("b", "u3").as_deref(), Some("10.244.1.4"));
        assert_eq!(n.allocate("a", "u4").as_deref(), Some("10.244.0.2"));
        assert_eq!(n.allocate("nowhere", "u5"), None);
    }

    #[test]
    fn pod_ips_wrap_after_254_and_a_full_range_gives_none() {
        let mut n = PodNetwork::default();
        n.add_node("a");
        for i in 0..253 {
            assert!(n.allocate("a", &format!("u{i}")).is_some());
        }
        assert_eq!(n.allocate("a", "full"), None, ".2 to .254 all in use");
        n.release("u5");
        assert_eq!(
            n.allocate("a", "again").as_deref(),
            Some("10.244.0.7"),
            "wraps past .254 and the gateway to the free address"
        );
    }
}
