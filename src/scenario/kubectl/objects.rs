//! Objects out: the simulated cluster as Kubernetes API objects (k8s-openapi
//! types) with the status a real cluster would show, for `kubectl get -o
//! yaml|json` and `--state-out --format k8s`. Simulated time 0 is
//! 2026-01-01T00:00:00Z.

use crate::sim::controllers::disruption::{BudgetStatus, PodFacts, budget_status};
use crate::sim::model::*;
use crate::sim::read::{ClaimRead, Cluster, NodeRead, PodRead, SetRead, VolumeRead};
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::policy::v1 as policy;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Unix seconds of simulated time 0.
pub const EPOCH_UNIX_S: i64 = 1_767_225_600;

/// A simulated instant as an API timestamp.
pub fn time(ms: u64) -> Option<Time> {
    k8s_openapi::jiff::Timestamp::from_second(EPOCH_UNIX_S + (ms / 1000) as i64)
        .ok()
        .map(Time)
}

fn meta(name: &str, created_ms: u64) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some("default".into()),
        creation_timestamp: time(created_ms),
        ..Default::default()
    }
}

fn requests(cpu_millis: u32, memory_mib: u32) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(format!("{cpu_millis}m"))),
        ("memory".to_string(), Quantity(format!("{memory_mib}Mi"))),
    ])
}

fn container(name: &str, t: &PodTemplate) -> core::Container {
    core::Container {
        name: name.to_string(),
        image: Some(t.image.clone()),
        resources: Some(core::ResourceRequirements {
            requests: Some(requests(t.cpu_millis, t.memory_mib)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn app_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), name.to_string())])
}

fn pod_template(owner: &str, t: &PodTemplate) -> core::PodTemplateSpec {
    core::PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(app_labels(owner)),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![container(owner, t)],
            termination_grace_period_seconds: Some(t.grace_seconds as i64),
            ..Default::default()
        }),
    }
}

fn condition(type_: &str, ok: bool, at_ms: u64) -> core::PodCondition {
    core::PodCondition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        last_transition_time: time(at_ms),
        ..Default::default()
    }
}

/// A pod with spec and status: phase, conditions, container state.
pub fn pod(p: &PodRead) -> core::Pod {
    let (pod, st) = (&p.pod, &p.status);
    let mut m = meta(&pod.name, pod.created_ms);
    m.uid = Some(pod.uid.clone());
    let mut labels = app_labels(&pod.owner.name);
    let owner_kind = match pod.owner.kind {
        OwnerKind::StatefulSet => {
            labels.insert(
                "statefulset.kubernetes.io/pod-name".into(),
                pod.name.clone(),
            );
            labels.insert("controller-revision-hash".into(), pod.revision.clone());
            ("apps/v1", "StatefulSet", pod.owner.name.clone())
        }
        OwnerKind::Deployment => {
            labels.insert("pod-template-hash".into(), pod.revision.clone());
            (
                "apps/v1",
                "ReplicaSet",
                format!("{}-{}", pod.owner.name, pod.revision),
            )
        }
    };
    m.labels = Some(labels);
    // An orphan (its set deleted with --cascade=orphan) has no owner.
    m.owner_references = (!p.orphaned).then(|| {
        vec![OwnerReference {
            api_version: owner_kind.0.into(),
            kind: owner_kind.1.into(),
            name: owner_kind.2,
            controller: Some(true),
            block_owner_deletion: Some(true),
            ..Default::default()
        }]
    });
    m.deletion_timestamp = st.deletion_ms.and_then(time);
    m.deletion_grace_period_seconds = st.deletion_ms.map(|_| pod.template.grace_seconds as i64);
    let phase = match st.phase {
        PodPhase::Running => "Running",
        PodPhase::Succeeded => "Succeeded",
        PodPhase::Failed => "Failed",
        _ => "Pending",
    };
    let running = st.phase == PodPhase::Running;
    let state = if running {
        core::ContainerState {
            running: Some(core::ContainerStateRunning {
                started_at: time(pod.created_ms),
            }),
            ..Default::default()
        }
    } else if st.terminal() {
        core::ContainerState {
            terminated: Some(core::ContainerStateTerminated {
                exit_code: if st.phase == PodPhase::Failed { 1 } else { 0 },
                reason: Some(
                    if st.phase == PodPhase::Failed {
                        "Error"
                    } else {
                        "Completed"
                    }
                    .into(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else {
        let reason = match &st.waiting {
            Some(w) if w.starts_with("ErrImagePull") => "ErrImagePull",
            _ => "ContainerCreating",
        };
        core::ContainerState {
            waiting: Some(core::ContainerStateWaiting {
                reason: Some(reason.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    let scheduled = st.node.is_some();
    let since = st.ready_since_ms.unwrap_or(pod.created_ms);
    let spec = core::PodSpec {
        containers: vec![container(&pod.owner.name, &pod.template)],
        node_name: st.node.clone(),
        hostname: pod.ordinal.map(|_| pod.name.clone()),
        termination_grace_period_seconds: Some(pod.template.grace_seconds as i64),
        ..Default::default()
    };
    let status = core::PodStatus {
        phase: Some(phase.into()),
        conditions: Some(vec![
            condition("PodScheduled", scheduled, pod.created_ms),
            condition("Initialized", scheduled, pod.created_ms),
            condition("ContainersReady", st.ready, since),
            condition("Ready", st.ready, since),
        ]),
        container_statuses: scheduled.then(|| {
            vec![core::ContainerStatus {
                name: pod.owner.name.clone(),
                image: pod.template.image.clone(),
                ready: st.ready,
                restart_count: st.restarts as i32,
                started: Some(running),
                state: Some(state),
                ..Default::default()
            }]
        }),
        start_time: scheduled.then(|| time(pod.created_ms)).flatten(),
        pod_ip: st.ip.clone(),
        pod_ips: st.ip.clone().map(|ip| vec![core::PodIP { ip }]),
        ..Default::default()
    };
    core::Pod {
        metadata: m,
        spec: Some(spec),
        status: Some(status),
    }
}

fn int_or_string(v: &IntOrPercent) -> IntOrString {
    match v {
        IntOrPercent::Int(n) => IntOrString::Int(*n as i32),
        IntOrPercent::Percent(s) => IntOrString::String(s.clone()),
    }
}

fn claim_template(c: &ClaimTemplate, default_class: &str) -> core::PersistentVolumeClaim {
    core::PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(c.name.clone()),
            ..Default::default()
        },
        spec: Some(core::PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: Some(
                c.storage_class
                    .clone()
                    .unwrap_or_else(|| default_class.to_string()),
            ),
            resources: Some(core::VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(format!("{}Gi", c.size_gib)),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

/// A StatefulSet with its status block.
pub fn stateful_set(s: &SetRead, default_class: &str) -> apps::StatefulSet {
    let (spec, st) = (&s.set.spec, &s.status);
    let mut m = meta(&spec.name, s.set.created_ms);
    m.generation = Some(st.generation.max(1) as i64);
    m.deletion_timestamp = None;
    let update_strategy = match &spec.update_strategy {
        UpdateStrategy::OnDelete => apps::StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        },
        UpdateStrategy::RollingUpdate {
            partition,
            max_unavailable,
        } => apps::StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(apps::RollingUpdateStatefulSetStrategy {
                partition: Some(*partition as i32),
                max_unavailable: Some(int_or_string(max_unavailable)),
            }),
        },
    };
    let action = |a: RetentionAction| match a {
        RetentionAction::Retain => "Retain".to_string(),
        RetentionAction::Delete => "Delete".to_string(),
    };
    apps::StatefulSet {
        metadata: m,
        spec: apps::StatefulSetSpec {
            replicas: Some(spec.replicas as i32),
            service_name: Some(spec.service_name().to_string()),
            selector: LabelSelector {
                match_labels: Some(app_labels(&spec.name)),
                ..Default::default()
            },
            pod_management_policy: Some(match spec.pod_management {
                PodManagement::OrderedReady => "OrderedReady".into(),
                PodManagement::Parallel => "Parallel".into(),
            }),
            update_strategy: Some(update_strategy),
            min_ready_seconds: Some(spec.min_ready_seconds as i32),
            ordinals: Some(apps::StatefulSetOrdinals {
                start: Some(spec.ordinals_start as i32),
            }),
            persistent_volume_claim_retention_policy: Some(
                apps::StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(action(spec.retention.when_deleted)),
                    when_scaled: Some(action(spec.retention.when_scaled)),
                },
            ),
            revision_history_limit: Some(spec.revision_history_limit as i32),
            template: pod_template(&spec.name, &spec.template),
            volume_claim_templates: (!spec.claims.is_empty()).then(|| {
                spec.claims
                    .iter()
                    .map(|c| claim_template(c, default_class))
                    .collect()
            }),
        },
        status: Some(apps::StatefulSetStatus {
            replicas: st.replicas as i32,
            ready_replicas: Some(st.ready as i32),
            current_replicas: Some(st.current as i32),
            updated_replicas: Some(st.updated as i32),
            available_replicas: Some(st.available as i32),
            current_revision: Some(st.current_revision.clone()),
            update_revision: Some(st.update_revision.clone()),
            collision_count: Some(0),
            observed_generation: Some(st.observed_generation.max(1) as i64),
            conditions: None,
        }),
    }
}

/// A Deployment with its status block.
pub fn deployment(d: &crate::sim::read::DeploymentRead) -> apps::Deployment {
    let spec = &d.deployment.spec;
    apps::Deployment {
        metadata: meta(&spec.name, d.deployment.created_ms),
        spec: apps::DeploymentSpec {
            replicas: Some(spec.replicas as i32),
            selector: LabelSelector {
                match_labels: Some(app_labels(&spec.name)),
                ..Default::default()
            },
            strategy: Some(apps::DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_surge: Some(int_or_string(&spec.max_surge)),
                    max_unavailable: Some(int_or_string(&spec.max_unavailable)),
                }),
            }),
            template: pod_template(&spec.name, &spec.template),
            ..Default::default()
        },
        status: Some(apps::DeploymentStatus {
            replicas: Some(d.status.replicas as i32),
            ready_replicas: Some(d.status.ready as i32),
            updated_replicas: Some(d.status.updated as i32),
            available_replicas: Some(d.status.ready as i32),
            ..Default::default()
        }),
    }
}

/// A claim and its binding.
pub fn claim(c: &ClaimRead) -> core::PersistentVolumeClaim {
    let mut m = meta(&c.claim.name, c.claim.created_ms);
    if c.status.deleting.is_some() {
        m.finalizers = Some(vec!["kubernetes.io/pvc-protection".into()]);
    }
    let bound = c.status.volume.is_some();
    let gib = |n: u32| BTreeMap::from([("storage".to_string(), Quantity(format!("{n}Gi")))]);
    let size = gib(c.claim.size_gib);
    let capacity = gib(c.status.capacity_gib(c.claim.size_gib));
    // An expansion under way: its condition (pvc.status.conditions).
    let conditions = c.status.resize.map(|r| {
        let (kind, message) = match r.stage {
            ResizeStage::Controller { .. } => ("Resizing", None),
            ResizeStage::FileSystem { .. } => (
                "FileSystemResizePending",
                Some(
                    "Waiting for user to (re-)start a pod to finish file system resize of volume on node."
                        .to_string(),
                ),
            ),
        };
        vec![core::PersistentVolumeClaimCondition {
            type_: kind.into(),
            status: "True".into(),
            message,
            ..Default::default()
        }]
    });
    core::PersistentVolumeClaim {
        metadata: m,
        spec: Some(core::PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: Some(c.claim.class.clone()),
            volume_name: c.status.volume.clone(),
            resources: Some(core::VolumeResourceRequirements {
                requests: Some(size.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: Some(core::PersistentVolumeClaimStatus {
            phase: Some(if bound { "Bound" } else { "Pending" }.into()),
            access_modes: bound.then(|| vec!["ReadWriteOnce".into()]),
            capacity: bound.then_some(capacity),
            conditions,
            ..Default::default()
        }),
    }
}

/// A volume: its claim, where it may attach, its phase.
pub fn volume(v: &VolumeRead, claim_exists: bool) -> core::PersistentVolume {
    let vol = &v.volume;
    let key_values = match &vol.affinity {
        Affinity::Anywhere => None,
        Affinity::Zone(z) => Some(("topology.kubernetes.io/zone", z.clone())),
        Affinity::Node(n) => Some(("kubernetes.io/hostname", n.clone())),
    };
    let node_affinity = key_values.map(|(k, v)| core::VolumeNodeAffinity {
        required: Some(core::NodeSelector {
            node_selector_terms: vec![core::NodeSelectorTerm {
                match_expressions: Some(vec![core::NodeSelectorRequirement {
                    key: k.into(),
                    operator: "In".into(),
                    values: Some(vec![v]),
                }]),
                ..Default::default()
            }],
        }),
    });
    core::PersistentVolume {
        metadata: ObjectMeta {
            name: Some(vol.name.clone()),
            ..Default::default()
        },
        spec: Some(core::PersistentVolumeSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            capacity: Some(BTreeMap::from([(
                "storage".to_string(),
                Quantity(format!("{}Gi", vol.size_gib)),
            )])),
            claim_ref: Some(core::ObjectReference {
                kind: Some("PersistentVolumeClaim".into()),
                namespace: Some("default".into()),
                name: Some(vol.claim.clone()),
                ..Default::default()
            }),
            persistent_volume_reclaim_policy: Some("Delete".into()),
            node_affinity,
            ..Default::default()
        }),
        status: Some(core::PersistentVolumeStatus {
            phase: Some(if claim_exists { "Bound" } else { "Released" }.into()),
            ..Default::default()
        }),
    }
}

/// A node: its zone label, capacity, Ready condition, taints, cordon.
pub fn node(n: &NodeRead) -> core::Node {
    let (node, st) = (&n.node, &n.state);
    let mut m = meta(&node.name, 0);
    m.namespace = None;
    m.labels = Some(BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), node.name.clone()),
        ("topology.kubernetes.io/zone".to_string(), node.zone.clone()),
    ]));
    let res = requests(node.cpu_millis, node.memory_mib);
    let (status, reason) = match st.ready {
        Condition::True => ("True", "KubeletReady"),
        Condition::False => ("False", "KubeletNotReady"),
        Condition::Unknown => ("Unknown", "NodeStatusUnknown"),
    };
    core::Node {
        metadata: m,
        spec: Some(core::NodeSpec {
            unschedulable: st.cordoned.then_some(true),
            taints: (!st.taints.is_empty()).then(|| {
                st.taints
                    .iter()
                    .map(|t| core::Taint {
                        key: t.key.clone(),
                        value: (t.key == TAINT_OUT_OF_SERVICE).then(|| "nodeshutdown".to_string()),
                        effect: t.effect.name().into(),
                        time_added: time(t.added_ms),
                    })
                    .collect()
            }),
            ..Default::default()
        }),
        status: Some(core::NodeStatus {
            capacity: Some(res.clone()),
            allocatable: Some(res),
            conditions: Some(vec![core::NodeCondition {
                type_: "Ready".into(),
                status: status.into(),
                reason: Some(reason.into()),
                last_heartbeat_time: time(st.last_heartbeat_ms),
                last_transition_time: time(st.ready_since_ms),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

/// A budget and its status now.
pub fn budget(b: &DisruptionBudgetSpec, c: &Cluster) -> policy::PodDisruptionBudget {
    let st = budget_status_in(b, c);
    policy::PodDisruptionBudget {
        metadata: meta(&b.name, 0),
        spec: Some(policy::PodDisruptionBudgetSpec {
            min_available: b.min_available.as_ref().map(int_or_string),
            max_unavailable: b.max_unavailable.as_ref().map(int_or_string),
            selector: Some(LabelSelector {
                match_labels: Some(app_labels(&b.set)),
                ..Default::default()
            }),
            unhealthy_pod_eviction_policy: Some(match b.unhealthy_pod_eviction_policy {
                UnhealthyPodEvictionPolicy::IfHealthyBudget => "IfHealthyBudget".into(),
                UnhealthyPodEvictionPolicy::AlwaysAllow => "AlwaysAllow".into(),
            }),
        }),
        status: Some(policy::PodDisruptionBudgetStatus {
            current_healthy: Some(st.current_healthy as i32),
            desired_healthy: Some(st.desired_healthy as i32),
            disruptions_allowed: Some(st.disruptions_allowed as i32),
            expected_pods: Some(st.expected_pods as i32),
            observed_generation: Some(1),
            ..Default::default()
        }),
    }
}

/// A budget's status computed from the read model.
pub fn budget_status_in(b: &DisruptionBudgetSpec, c: &Cluster) -> BudgetStatus {
    let pods: Vec<PodFacts> = c
        .pods
        .iter()
        .filter(|p| p.pod.owner.name == b.set)
        .map(|p| PodFacts::of(&p.status))
        .collect();
    let scale = c
        .sets
        .iter()
        .find(|s| s.set.spec.name == b.set)
        .map(|s| s.set.spec.replicas)
        .or_else(|| {
            c.deployments
                .iter()
                .find(|d| d.deployment.spec.name == b.set)
                .map(|d| d.deployment.spec.replicas)
        })
        .unwrap_or(0);
    budget_status(b, scale, &pods)
}

/// Every object of the cluster as one `v1/List`, in a stable order:
/// nodes, StatefulSets, Deployments, pods, claims, volumes, budgets.
pub fn all(
    c: &Cluster,
    budgets: &[DisruptionBudgetSpec],
    default_class: &str,
) -> serde_json::Value {
    let mut items: Vec<serde_json::Value> = Vec::new();
    let mut push = |v: Result<serde_json::Value, serde_json::Error>| {
        if let Ok(v) = v {
            items.push(v);
        }
    };
    for n in &c.nodes {
        push(serde_json::to_value(node(n)));
    }
    for s in &c.sets {
        push(serde_json::to_value(stateful_set(s, default_class)));
    }
    for d in &c.deployments {
        push(serde_json::to_value(deployment(d)));
    }
    for p in &c.pods {
        push(serde_json::to_value(pod(p)));
    }
    for cl in &c.claims {
        push(serde_json::to_value(claim(cl)));
    }
    for v in &c.volumes {
        let exists = c.claims.iter().any(|cl| cl.claim.name == v.volume.claim);
        push(serde_json::to_value(volume(v, exists)));
    }
    for b in budgets {
        push(serde_json::to_value(budget(b, c)));
    }
    list(items)
}

/// A `v1/List` of items.
pub fn list(items: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}})
}
