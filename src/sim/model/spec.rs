//! Declarative specs (what a scenario file or a user asks for): nodes, storage
//! classes, pod templates, StatefulSets and Deployments, with upstream defaults.

use crate::sim::units::secs_to_ms;
use serde::{Deserialize, Serialize};

fn zone_default() -> String {
    "zone-1".into()
}
fn cpu_node_default() -> u32 {
    NodeSpec::DEFAULT_CPU_MILLIS
}
fn mem_node_default() -> u32 {
    NodeSpec::DEFAULT_MEMORY_MIB
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

impl NodeSpec {
    /// CPU of a node that declares none: 4 cores.
    pub const DEFAULT_CPU_MILLIS: u32 = 4000;
    /// Memory of a node that declares none: 8 GiB.
    pub const DEFAULT_MEMORY_MIB: u32 = 8192;
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
    /// Shared file storage (NFS-like, ReadWriteMany): mounted on any node at
    /// once, no attach step, no fencing.
    Shared,
}

impl StorageKind {
    /// Block storage: attached to one node at a time (ReadWriteOnce), and
    /// fenced when force-detached.
    pub fn is_block(self) -> bool {
        !matches!(self, StorageKind::Shared)
    }

    /// Attached to a node by the attach/detach controller before a pod can
    /// mount it (docs/semantics.md §5.7a local-volumes-are-not-attached):
    /// network and zonal disks. A local disk is already in its node, and
    /// shared file storage is mounted directly; neither is ever attached,
    /// detached, force-detached or refused with a Multi-Attach error.
    pub fn needs_attach(self) -> bool {
        matches!(self, StorageKind::Network | StorageKind::Zonal)
    }
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
    /// allowVolumeExpansion: its claims may be expanded (upstream default
    /// false). docs/semantics.md §4.7 claim-expansion.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_volume_expansion: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
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
    /// tolerationSeconds of the pod's tolerations of the unreachable and
    /// not-ready NoExecute taints (None: the 300 s the API server adds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<u64>,
    /// affinity.podAntiAffinity: keep this pod away from the pods of a
    /// workload in the same node or zone (docs/semantics.md §5.8a). Left out
    /// of the template's JSON when empty, so templates without it hash as
    /// before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anti_affinity: Vec<AntiAffinity>,
}

/// The topology keys a pod anti-affinity term may name.
pub const TOPOLOGY_HOSTNAME: &str = "kubernetes.io/hostname";
pub const TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";

/// One podAntiAffinity term. Its label selector is resolved to a workload:
/// the pods it keeps away from are those of `set` (by name; default: the
/// pod's own workload), in the same topology domain (`topology_key`:
/// `kubernetes.io/hostname`, one node; `topology.kubernetes.io/zone`, one zone).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub enum AntiAffinity {
    /// requiredDuringSchedulingIgnoredDuringExecution: a node whose domain
    /// holds such a pod is not a fit.
    Required {
        topology_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        set: Option<String>,
    },
    /// preferredDuringSchedulingIgnoredDuringExecution: a node whose domain
    /// holds such pods scores lower, by `weight` (1-100) per pod.
    Preferred {
        weight: u32,
        topology_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        set: Option<String>,
    },
}

impl AntiAffinity {
    pub fn topology_key(&self) -> &str {
        match self {
            AntiAffinity::Required { topology_key, .. }
            | AntiAffinity::Preferred { topology_key, .. } => topology_key,
        }
    }
    /// The workload whose pods the term selects, if not the pod's own.
    pub fn set(&self) -> Option<&str> {
        match self {
            AntiAffinity::Required { set, .. } | AntiAffinity::Preferred { set, .. } => {
                set.as_deref()
            }
        }
    }
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
            toleration_seconds: None,
            anti_affinity: Vec::new(),
        }
    }
    /// How long the pod tolerates an unreachable or not-ready node.
    pub fn toleration_ms(&self) -> u64 {
        self.toleration_seconds
            .map_or(super::node::DEFAULT_TOLERATION_MS, |s| {
                s.saturating_mul(1000)
            })
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

/// The alphabet of Kubernetes generated names (k8s.io/apimachinery/pkg/util/rand):
/// no vowels and no confusable digits, so no words and no look-alikes.
pub const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Spells `hash` in `NAME_ALPHABET`, `len` characters, lowest digit first
/// (as rand.SafeEncodeString spells a template hash).
pub fn hash_name(mut hash: u64, len: usize) -> String {
    let base = NAME_ALPHABET.len() as u64;
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(NAME_ALPHABET[(hash % base) as usize] as char);
        hash /= base;
    }
    s
}

impl PodTemplate {
    /// The template's hash as a name of `len` characters: the suffix of a
    /// ControllerRevision name (10) or a pod-template-hash (9). Only the
    /// template counts (docs/semantics.md §3), hashed from its JSON form.
    pub fn hash_name(&self, len: usize) -> String {
        // Controllers ask for the same few templates' hashes at every pass:
        // the last ones asked on this thread are remembered (a pure
        // function's memo: what it returns does not change).
        thread_local! {
            static LAST: std::cell::RefCell<Vec<(PodTemplate, u64)>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        const KEPT: usize = 8;
        let remembered = LAST.with_borrow(|last| {
            last.iter()
                .find(|(t, _)| t.identical(self))
                .map(|&(_, h)| h)
        });
        let hash = remembered.unwrap_or_else(|| {
            let h = self.json_hash();
            LAST.with_borrow_mut(|last| {
                if last.len() == KEPT {
                    last.remove(0);
                }
                last.push((self.clone(), h));
            });
            h
        });
        hash_name(hash, len)
    }

    /// The hash of the template's JSON form, worked out afresh.
    fn json_hash(&self) -> u64 {
        let json = serde_json::to_string(self).unwrap_or_default();
        crate::sim::event::fnv1a64(json.as_bytes())
    }

    /// Whether the two templates hash alike: every field equal, numbers bit
    /// for bit (`-0.0` and `0.0` are equal but written differently).
    fn identical(&self, o: &PodTemplate) -> bool {
        let PodTemplate {
            image,
            start_seconds,
            ready_seconds,
            stop_seconds,
            grace_seconds,
            cpu_millis,
            memory_mib,
            toleration_seconds,
            anti_affinity,
        } = self;
        *image == o.image
            && start_seconds.to_bits() == o.start_seconds.to_bits()
            && ready_seconds.to_bits() == o.ready_seconds.to_bits()
            && stop_seconds.to_bits() == o.stop_seconds.to_bits()
            && grace_seconds.to_bits() == o.grace_seconds.to_bits()
            && *cpu_millis == o.cpu_millis
            && *memory_mib == o.memory_mib
            && *toleration_seconds == o.toleration_seconds
            && *anti_affinity == o.anti_affinity
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
    /// The value against `total` (intstr.GetScaledValueFromIntOrPercent): a
    /// count as is, a percentage of `total` rounded up or down. A malformed
    /// percentage (refused by validation) counts as 0%.
    pub fn scaled(&self, total: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Int(n) => *n,
            IntOrPercent::Percent(_) => {
                let x = self.percent().unwrap_or(0) as u64 * total as u64;
                (if round_up { x.div_ceil(100) } else { x / 100 }) as u32
            }
        }
    }
    /// Scaled value, rounded down (intstr.GetScaledValueFromIntOrPercent with
    /// roundUp=false), at least 1 (getStatefulSetMaxUnavailable).
    pub fn scaled_at_least_one(&self, total: u32) -> u32 {
        self.scaled(total, false).max(1)
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

/// unhealthyPodEvictionPolicy of a PodDisruptionBudget: may a pod that is
/// Running but not Ready be evicted when the budget has no room?
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum UnhealthyPodEvictionPolicy {
    /// Only while the budget is healthy (currentHealthy >= desiredHealthy).
    #[default]
    IfHealthyBudget,
    /// Always: an unhealthy pod never holds up a drain.
    AlwaysAllow,
}

/// A PodDisruptionBudget over the pods of one workload (its selector,
/// resolved to the workload whose pods it matches).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DisruptionBudgetSpec {
    pub name: String,
    /// The StatefulSet or Deployment whose pods it covers.
    pub set: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrPercent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrPercent>,
    #[serde(default)]
    pub unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_name_spells_lowest_digit_first_in_the_kubernetes_alphabet() {
        assert_eq!(hash_name(0, 3), "bbb");
        assert_eq!(hash_name(1, 3), "cbb");
        assert_eq!(hash_name(27, 3), "bcb");
    }

    #[test]
    fn percentages_scale_rounding_up_or_down_and_counts_stay() {
        let p = IntOrPercent::Percent("25%".into());
        assert_eq!(p.scaled(10, true), 3);
        assert_eq!(p.scaled(10, false), 2);
        assert_eq!(IntOrPercent::Int(4).scaled(10, true), 4);
        assert_eq!(
            IntOrPercent::Percent("0%".into()).scaled_at_least_one(10),
            1
        );
    }

    #[test]
    fn template_hash_name_depends_on_the_template_only() {
        let a = PodTemplate::with_image("nginx:1");
        let b = PodTemplate::with_image("nginx:2");
        assert_eq!(a.hash_name(10), a.clone().hash_name(10));
        assert_ne!(a.hash_name(10), b.hash_name(10));
        // The shorter form is a prefix of the longer: one hash, two lengths.
        assert!(a.hash_name(10).starts_with(&a.hash_name(9)));
    }

    /// The hash written from the template's JSON, with nothing remembered.
    fn fresh_hash(t: &PodTemplate, len: usize) -> String {
        hash_name(t.json_hash(), len)
    }

    #[test]
    fn a_remembered_template_hash_is_the_hash_of_the_template_asked() {
        let zero = PodTemplate {
            start_seconds: 0.0,
            ..PodTemplate::with_image("nginx:1")
        };
        let minus_zero = PodTemplate {
            start_seconds: -0.0,
            ..zero.clone()
        };
        // Equal as numbers, written differently: two revisions.
        assert_eq!(zero.hash_name(10), fresh_hash(&zero, 10));
        assert_eq!(minus_zero.hash_name(10), fresh_hash(&minus_zero, 10));
        assert_ne!(zero.hash_name(10), minus_zero.hash_name(10));
        // More templates than are remembered, asked twice round.
        let many: Vec<PodTemplate> = (0..20)
            .map(|i| PodTemplate::with_image(&format!("app:{i}")))
            .collect();
        for _ in 0..2 {
            for t in &many {
                assert_eq!(t.hash_name(9), fresh_hash(t, 9));
                assert_eq!(t.hash_name(10), fresh_hash(t, 10));
            }
        }
    }
}
