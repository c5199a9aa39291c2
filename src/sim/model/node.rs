//! Node components: the machine's real state and the control plane's view of it.

use bevy::prelude::*;

/// What the machine is really doing; the control plane cannot see this directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// Running and connected.
    Up,
    /// Powered off / crashed: no processes, no kubelet.
    Dead,
    /// Cut off from the control plane: kubelet and containers keep running.
    Partitioned,
}

/// The node's Ready condition as the control plane records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    True,
    False,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaintEffect {
    NoSchedule,
    NoExecute,
}

impl TaintEffect {
    /// The effect as the API spells it.
    pub const fn name(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub effect: TaintEffect,
    pub added_ms: u64,
}

impl Taint {
    pub fn describe(&self) -> String {
        format!("{}:{}", self.key, self.effect.name())
    }
}

pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// A node object (identity and capacity).
#[derive(Component, Debug, Clone)]
pub struct Node {
    pub name: String,
    pub zone: String,
    pub cpu_millis: u32,
    pub memory_mib: u32,
    /// Order of creation, for stable layout.
    pub seq: u64,
}

/// The node's state: real machine state, and the control plane's view.
#[derive(Component, Debug, Clone)]
pub struct NodeState {
    pub machine: Machine,
    /// When the machine last changed state (failure, partition, recovery).
    pub machine_since_ms: u64,
    pub ready: Condition,
    pub ready_since_ms: u64,
    /// Last heartbeat (lease renewal) the control plane received.
    pub last_heartbeat_ms: u64,
    pub taints: Vec<Taint>,
    pub cordoned: bool,
    /// Volumes the kubelet last reported as mounted (node.status.volumesInUse);
    /// stale while the node is unreachable.
    pub volumes_in_use: Vec<String>,
    /// Images the container runtime holds on this machine, sorted: pulled
    /// once, they stay on its disk across reboots (no image GC modelled).
    pub images: Vec<String>,
}

/// Heartbeat period (node lease renewal interval).
pub const HEARTBEAT_MS: u64 = 10_000;
/// node-monitor-grace-period.
pub const NODE_MONITOR_GRACE_MS: u64 = 50_000;
/// node-monitor-period.
pub const NODE_MONITOR_PERIOD_MS: u64 = 5_000;
/// Default tolerationSeconds for unreachable / not-ready NoExecute taints.
pub const DEFAULT_TOLERATION_MS: u64 = 300_000;

impl NodeState {
    pub fn new(now: u64) -> Self {
        NodeState {
            machine: Machine::Up,
            machine_since_ms: now,
            ready: Condition::True,
            ready_since_ms: now,
            last_heartbeat_ms: now,
            taints: Vec::new(),
            cordoned: false,
            volumes_in_use: Vec::new(),
            images: Vec::new(),
        }
    }
    pub fn has_taint(&self, key: &str) -> bool {
        self.taints.iter().any(|t| t.key == key)
    }
    pub fn taint(&self, key: &str, effect: TaintEffect) -> Option<&Taint> {
        self.taints
            .iter()
            .find(|t| t.key == key && t.effect == effect)
    }
    /// The kubelet can talk to the API server.
    pub fn kubelet_connected(&self) -> bool {
        self.machine == Machine::Up
    }
    /// The last heartbeat the control plane would have seen by `now`: every
    /// HEARTBEAT_MS while the machine is up, none after it fails or is cut off.
    pub fn heartbeat_at(&self, now: u64) -> u64 {
        match self.machine {
            Machine::Up => {
                let since = self.machine_since_ms.max(self.last_heartbeat_ms);
                if now <= since {
                    since
                } else {
                    since + (now - since) / HEARTBEAT_MS * HEARTBEAT_MS
                }
            }
            _ => self.last_heartbeat_ms,
        }
    }
    pub fn condition_label(&self) -> &'static str {
        match self.ready {
            Condition::True => "Ready",
            Condition::False => "NotReady",
            Condition::Unknown => "NotReady (Unknown)",
        }
    }
}
