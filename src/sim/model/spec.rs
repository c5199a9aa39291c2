//! Declarative specs (what a scenario file or a user asks for): nodes, storage
//! classes, pod templates, StatefulSets and Deployments, with upstream defaults.

use serde::{Deserialize, Serialize};

fn zone_default() -> String {
    "zone-1".into()
}
fn cpu_node_default() -> u32 {
    4000
}
fn mem_node_default() -> u32 {
    8192
}

/// A node as declared in the cluster section.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub name: String,
    #[serde(default = "zone_default")]
    pub zone: String,
    #[serde(default = "cpu_node_default")]
    pub cpu_millis: u32,
    #[serde(default = "mem_node_default")]
    pub memory_mib: u32,
}

/// Where a storage class's volumes can be attached.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum StorageKind {
    /// Network storage: attachable on any node.
    Network,
    /// Zonal disk: any node of its zone.
    Zonal,
    /// Local disk: one node only.
    Local,
}

/// When a claim gets its volume.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum BindingMode {
    Immediate,
    WaitForFirstConsumer,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageClassSpec {
    pub name: String,
    #[serde(default = "kind_default")]
    pub kind: StorageKind,
    #[serde(default = "binding_default")]
    pub binding: BindingMode,
}
fn kind_default() -> StorageKind {
    StorageKind::Network
}
fn binding_default() -> BindingMode {
    BindingMode::WaitForFirstConsumer
}

fn start_default() -> f64 {
    2.0
}
fn ready_default() -> f64 {
    1.0
}
fn stop_default() -> f64 {
    2.0
}
fn grace_default() -> f64 {
    30.0
}
fn cpu_pod_default() -> u32 {
    100
}
fn mem_pod_default() -> u32 {
    128
}

/// The pod template. Its hash is the revision (docs/semantics.md §3).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PodTemplate {
    pub image: String,
    /// Seconds from "volumes ready" to the container running.
    #[serde(default = "start_default")]
    pub start_seconds: f64,
    /// Seconds from running to the readiness probe passing.
    #[serde(default = "ready_default")]
    pub ready_seconds: f64,
    /// Seconds the process takes to exit after SIGTERM (capped by the grace period).
    #[serde(default = "stop_default")]
    pub stop_seconds: f64,
    /// terminationGracePeriodSeconds (upstream default 30).
    #[serde(default = "grace_default")]
    pub grace_seconds: f64,
    #[serde(default = "cpu_pod_default")]
    pub cpu_millis: u32,
    #[serde(default = "mem_pod_default")]
    pub memory_mib: u32,
}

impl PodTemplate {
    pub fn with_image(image: &str) -> Self {
        PodTemplate {
            image: image.into(),
            start_seconds: start_default(),
            ready_seconds: ready_default(),
            stop_seconds: stop_default(),
            grace_seconds: grace_default(),
            cpu_millis: cpu_pod_default(),
            memory_mib: mem_pod_default(),
        }
    }
    pub fn start_ms(&self) -> u64 {
        secs_to_ms(self.start_seconds)
    }
    pub fn ready_ms(&self) -> u64 {
        secs_to_ms(self.ready_seconds)
    }
    /// How long a graceful stop takes: the app's exit time, at most the grace period.
    pub fn stop_ms(&self) -> u64 {
        secs_to_ms(self.stop_seconds.min(self.grace_seconds))
    }
}

/// Converts non-negative seconds to integer milliseconds (rounded).
pub fn secs_to_ms(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1000.0).round() as u64
    } else {
        0
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum PodManagement {
    #[default]
    OrderedReady,
    Parallel,
}

/// An int or a percentage string such as "50%".
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum IntOrPercent {
    Int(u32),
    Percent(String),
}

impl Default for IntOrPercent {
    fn default() -> Self {
        IntOrPercent::Int(1)
    }
}

impl IntOrPercent {
    /// Parses the percent form; None when malformed.
    pub fn percent(&self) -> Option<u32> {
        match self {
            IntOrPercent::Int(_) => None,
            IntOrPercent::Percent(s) => s.strip_suffix('%')?.trim().parse().ok(),
        }
    }
    pub fn is_valid(&self) -> bool {
        match self {
            IntOrPercent::Int(_) => true,
            IntOrPercent::Percent(_) => self.percent().is_some_and(|p| p <= 100),
        }
    }
    /// Scaled value, rounded down (intstr.GetScaledValueFromIntOrPercent with
    /// roundUp=false), at least 1 (getStatefulSetMaxUnavailable).
    pub fn scaled_at_least_one(&self, total: u32) -> u32 {
        let v = match self {
            IntOrPercent::Int(n) => *n,
            IntOrPercent::Percent(_) => {
                (self.percent().unwrap_or(0) as u64 * total as u64 / 100) as u32
            }
        };
        v.max(1)
    }
    pub fn describe(&self) -> String {
        match self {
            IntOrPercent::Int(n) => n.to_string(),
            IntOrPercent::Percent(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub enum UpdateStrategy {
    RollingUpdate {
        #[serde(default)]
        partition: u32,
        #[serde(default)]
        max_unavailable: IntOrPercent,
    },
    OnDelete,
}

impl Default for UpdateStrategy {
    fn default() -> Self {
        UpdateStrategy::RollingUpdate {
            partition: 0,
            max_unavailable: IntOrPercent::Int(1),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum RetentionAction {
    #[default]
    Retain,
    Delete,
}

/// persistentVolumeClaimRetentionPolicy.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    #[serde(default)]
    pub when_deleted: RetentionAction,
    #[serde(default)]
    pub when_scaled: RetentionAction,
}

/// A volumeClaimTemplate.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClaimTemplate {
    pub name: String,
    #[serde(default)]
    pub storage_class: Option<String>,
    #[serde(default = "size_default")]
    pub size_gib: u32,
}
fn size_default() -> u32 {
    1
}

/// The application a StatefulSet runs, beyond "a process".
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub enum DatabaseSpec {
    /// A MySQL-style primary (ordinal 0) and read-only replicas.
    Mysql {
        #[serde(default)]
        write_rate: f64,
    },
}

fn one() -> u32 {
    1
}
fn history_default() -> u32 {
    10
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatefulSetSpec {
    pub name: String,
    /// serviceName: the headless service that gives pods their DNS names.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default = "one")]
    pub replicas: u32,
    #[serde(default)]
    pub pod_management: PodManagement,
    #[serde(default)]
    pub update_strategy: UpdateStrategy,
    #[serde(default)]
    pub min_ready_seconds: u32,
    #[serde(default)]
    pub ordinals_start: u32,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default = "history_default")]
    pub revision_history_limit: u32,
    pub template: PodTemplate,
    #[serde(default)]
    pub claims: Vec<ClaimTemplate>,
    #[serde(default)]
    pub database: Option<DatabaseSpec>,
}

impl StatefulSetSpec {
    pub fn service_name(&self) -> &str {
        self.service.as_deref().unwrap_or(&self.name)
    }
    pub fn pod_name(&self, ordinal: u32) -> String {
        format!("{}-{}", self.name, ordinal)
    }
    pub fn claim_name(&self, template: &str, ordinal: u32) -> String {
        format!("{}-{}-{}", template, self.name, ordinal)
    }
    pub fn end_ordinal(&self) -> u32 {
        self.ordinals_start + self.replicas
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSpec {
    pub name: String,
    #[serde(default = "one")]
    pub replicas: u32,
    pub template: PodTemplate,
    /// RollingUpdate maxSurge (default 25%).
    #[serde(default = "quarter")]
    pub max_surge: IntOrPercent,
    /// RollingUpdate maxUnavailable (default 25%).
    #[serde(default = "quarter")]
    pub max_unavailable: IntOrPercent,
}
fn quarter() -> IntOrPercent {
    IntOrPercent::Percent("25%".into())
}

/// A workload in the scenario's `workloads` list.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub enum WorkloadSpec {
    StatefulSet(StatefulSetSpec),
    Deployment(DeploymentSpec),
}

impl WorkloadSpec {
    pub fn name(&self) -> &str {
        match self {
            WorkloadSpec::StatefulSet(s) => &s.name,
            WorkloadSpec::Deployment(d) => &d.name,
        }
    }
}
