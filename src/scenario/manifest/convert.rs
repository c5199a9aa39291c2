//! From Kubernetes objects (k8s-openapi types) to the simulator's specs:
//! each honoured field to its place in the scenario model, each value the
//! simulator cannot take to an error at the line and column it was written.

use super::yaml::{Node, Pos};
use super::{Manifests, Warning};
use crate::scenario::Diagnostic;
use crate::sim::model::*;
use crate::sim::validate;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// One document being converted: where it is, for errors and warnings.
pub(super) struct Doc<'a> {
    pub file: &'a str,
    pub node: &'a Node,
    pub kind: String,
    pub name: String,
}

impl Doc<'_> {
    /// An error at the key `path` (dotted) of this document.
    pub fn err(&self, path: &str, message: String) -> Diagnostic {
        let pos = self.pos(path);
        Diagnostic {
            file: self.file.to_string(),
            line: pos.line,
            col: pos.col,
            message: format!("{} {}: {message}", self.kind, self.name),
        }
    }
    /// Where the key at `path` was written (or its nearest written parent).
    pub fn pos(&self, path: &str) -> Pos {
        let mut node = self.node;
        let mut pos = node.pos;
        for k in path.split('.') {
            pos = node.key_pos(k);
            match node.get(k) {
                Some(n) => node = n,
                None => break,
            }
        }
        pos
    }
    pub fn warn(&self, path: &str, message: String) -> Warning {
        Warning {
            file: self.file.to_string(),
            pos: self.pos(path),
            message,
        }
    }
}

fn non_negative(d: &Doc, path: &str, v: Option<i32>, default: u32) -> Result<u32, Diagnostic> {
    match v {
        None => Ok(default),
        Some(n) => {
            u32::try_from(n).map_err(|_| d.err(path, format!("{path} is {n}, expected 0 or more")))
        }
    }
}

fn int_or_percent(d: &Doc, path: &str, v: &IntOrString) -> Result<IntOrPercent, Diagnostic> {
    let out = match v {
        IntOrString::Int(n) => IntOrPercent::Int(
            u32::try_from(*n)
                .map_err(|_| d.err(path, format!("{path} is {n}, expected 0 or more")))?,
        ),
        IntOrString::String(s) => IntOrPercent::Percent(s.clone()),
    };
    validate::int_or_percent(path, &out).map_err(|m| d.err(path, m))?;
    Ok(out)
}

/// CPU in millicores from a quantity: `500m`, `1`, `0.5`, `2`.
pub fn cpu_millis(q: &str) -> Option<u32> {
    let q = q.trim();
    let v = match q.strip_suffix('m') {
        Some(m) => m.parse::<f64>().ok()?,
        None => q.parse::<f64>().ok()? * 1000.0,
    };
    (v >= 0.0 && v <= u32::MAX as f64).then(|| v.ceil() as u32)
}

/// A quantity in bytes: `256Mi`, `1Gi`, `512M`, `1e9`, `1000`.
pub fn bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    const UNITS: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, mult) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            return n
                .parse::<f64>()
                .ok()
                .filter(|v| *v >= 0.0)
                .map(|v| v * mult);
        }
    }
    q.parse::<f64>().ok().filter(|v| *v >= 0.0)
}

/// Memory in MiB (rounded up) from a quantity.
pub fn memory_mib(q: &str) -> Option<u32> {
    bytes(q).map(|b| (b / 1048576.0).ceil().min(u32::MAX as f64) as u32)
}

/// When the readiness probe first passes after the container starts: the
/// prober skips results before initialDelaySeconds and probes every
/// periodSeconds from the start (pkg/kubelet/prober/worker.go, doProbe), so
/// at the first period tick at or after the delay. No probe: Ready at once.
pub fn first_ready_seconds(initial_delay: i32, period: i32) -> f64 {
    let delay = initial_delay.max(0) as f64;
    let period = if period > 0 { period as f64 } else { 10.0 };
    (delay / period).ceil() * period
}

/// The pod template: the first container is the one simulated; requests
/// add up over all containers, as the scheduler counts them.
fn template(
    d: &Doc,
    t: &core::PodTemplateSpec,
    out: &mut Vec<Warning>,
) -> Result<PodTemplate, Diagnostic> {
    let base = "spec.template.spec";
    let Some(spec) = &t.spec else {
        return Err(d.err(
            "spec.template",
            "spec.template.spec is required (the pod's containers)".into(),
        ));
    };
    let Some(first) = spec.containers.first() else {
        return Err(d.err(
            base,
            "spec.template.spec.containers is empty: a pod needs a container".into(),
        ));
    };
    let image = first.image.clone().unwrap_or_default();
    if image.trim().is_empty() {
        return Err(d.err(
            &format!("{base}.containers"),
            "the first container has no image".into(),
        ));
    }
    if spec.containers.len() > 1 {
        out.push(d.warn(
            &format!("{base}.containers"),
            format!(
                "{} {}: only the first container ({}) is simulated; the others count for scheduling only",
                d.kind, d.name, first.name
            ),
        ));
    }
    let mut pt = PodTemplate::with_image(&image);
    let (mut cpu, mut mem) = (0u32, 0u32);
    for c in &spec.containers {
        let req = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        if let Some(q) = req.and_then(|r| r.get("cpu")) {
            cpu = cpu.saturating_add(cpu_millis(&q.0).ok_or_else(|| {
                d.err(base, format!("container {}: resources.requests.cpu {:?} is not a CPU quantity (e.g. 500m)", c.name, q.0))
            })?);
        }
        if let Some(q) = req.and_then(|r| r.get("memory")) {
            mem = mem.saturating_add(memory_mib(&q.0).ok_or_else(|| {
                d.err(base, format!("container {}: resources.requests.memory {:?} is not a memory quantity (e.g. 256Mi)", c.name, q.0))
            })?);
        }
    }
    pt.cpu_millis = cpu;
    pt.memory_mib = mem;
    pt.ready_seconds = match &first.readiness_probe {
        Some(p) => first_ready_seconds(
            p.initial_delay_seconds.unwrap_or(0),
            p.period_seconds.unwrap_or(10),
        ),
        None => 0.0,
    };
    if let Some(g) = spec.termination_grace_period_seconds {
        if g < 0 {
            return Err(d.err(
                base,
                format!("terminationGracePeriodSeconds is {g}, expected 0 or more"),
            ));
        }
        pt.grace_seconds = g as f64;
    }
    pt.toleration_seconds =
        toleration_seconds(d, spec.tolerations.as_deref().unwrap_or_default(), out);
    if !validate::seconds(pt.grace_seconds) {
        return Err(d.err(base, "terminationGracePeriodSeconds is too large".into()));
    }
    Ok(pt)
}

/// How long the pod tolerates an unreachable or not-ready node: the
/// smallest tolerationSeconds of its tolerations of those NoExecute taints
/// (getMinTolerationTime); one without tolerationSeconds tolerates them
/// forever (here: the 7 days a run lasts at most). Tolerations of other
/// taints are warned about: the simulator's nodes carry only these taints
/// and out-of-service.
fn toleration_seconds(d: &Doc, list: &[core::Toleration], out: &mut Vec<Warning>) -> Option<u64> {
    let path = "spec.template.spec.tolerations";
    let mut min: Option<u64> = None;
    for t in list {
        let key = t.key.as_deref().unwrap_or("");
        let matches_key = (key.is_empty() && t.operator.as_deref() == Some("Exists"))
            || key == TAINT_UNREACHABLE
            || key == TAINT_NOT_READY;
        let no_execute = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == "NoExecute");
        if !(matches_key && no_execute) {
            out.push(d.warn(
                path,
                format!(
                    "{} {}: the toleration of {key:?} is not simulated",
                    d.kind, d.name
                ),
            ));
            continue;
        }
        let secs = t
            .toleration_seconds
            .map_or(limits::MAX_SECONDS as u64, |s| {
                s.clamp(0, limits::MAX_SECONDS as i64) as u64
            });
        min = Some(min.map_or(secs, |m| m.min(secs)));
    }
    min
}

/// A claim template's size in GiB, rounded up (at least 1).
fn size_gib(d: &Doc, c: &core::PersistentVolumeClaim) -> Result<u32, Diagnostic> {
    let q = c
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"));
    match q {
        None => Ok(1),
        Some(q) => bytes(&q.0)
            .map(|b| ((b / 1073741824.0).ceil() as u32).max(1))
            .ok_or_else(|| {
                d.err(
                    "spec.volumeClaimTemplates",
                    format!("storage request {:?} is not a size (e.g. 1Gi)", q.0),
                )
            }),
    }
}

fn claims(
    d: &Doc,
    s: &apps::StatefulSetSpec,
    out: &mut Vec<Warning>,
) -> Result<Vec<ClaimTemplate>, Diagnostic> {
    let path = "spec.volumeClaimTemplates";
    let mut list = Vec::new();
    for c in s.volume_claim_templates.iter().flatten() {
        let name = c.metadata.name.clone().unwrap_or_default();
        validate::dns_label("volume claim template name", &name).map_err(|m| d.err(path, m))?;
        let modes = c
            .spec
            .as_ref()
            .and_then(|s| s.access_modes.clone())
            .unwrap_or_default();
        if let Some(m) = modes.iter().find(|m| !m.starts_with("ReadWriteOnce")) {
            out.push(d.warn(
                path,
                format!(
                    "{} {}: claim {name}: accessMode {m} is simulated as ReadWriteOnce",
                    d.kind, d.name
                ),
            ));
        }
        list.push(ClaimTemplate {
            name,
            storage_class: c.spec.as_ref().and_then(|s| s.storage_class_name.clone()),
            size_gib: size_gib(d, c)?,
        });
    }
    if list.len() > limits::MAX_CLAIM_TEMPLATES {
        return Err(d.err(
            path,
            format!(
                "at most {} volume claim templates",
                limits::MAX_CLAIM_TEMPLATES
            ),
        ));
    }
    Ok(list)
}

fn update_strategy(d: &Doc, s: &apps::StatefulSetSpec) -> Result<UpdateStrategy, Diagnostic> {
    let path = "spec.updateStrategy";
    let Some(u) = &s.update_strategy else {
        return Ok(UpdateStrategy::default());
    };
    match u.type_.as_deref() {
        Some("OnDelete") => Ok(UpdateStrategy::OnDelete),
        None | Some("RollingUpdate") => {
            let ru = u.rolling_update.as_ref();
            let partition = non_negative(
                d,
                "spec.updateStrategy.rollingUpdate.partition",
                ru.and_then(|r| r.partition),
                0,
            )?;
            let max_unavailable = match ru.and_then(|r| r.max_unavailable.as_ref()) {
                Some(v) => {
                    int_or_percent(d, "spec.updateStrategy.rollingUpdate.maxUnavailable", v)?
                }
                None => IntOrPercent::Int(1),
            };
            Ok(UpdateStrategy::RollingUpdate {
                partition,
                max_unavailable,
            })
        }
        Some(other) => Err(d.err(
            path,
            format!("updateStrategy.type {other:?}: expected RollingUpdate or OnDelete"),
        )),
    }
}

fn retention_action(
    d: &Doc,
    path: &str,
    v: Option<&String>,
) -> Result<RetentionAction, Diagnostic> {
    match v.map(String::as_str) {
        None | Some("Retain") => Ok(RetentionAction::Retain),
        Some("Delete") => Ok(RetentionAction::Delete),
        Some(o) => Err(d.err(path, format!("{o:?}: expected Retain or Delete"))),
    }
}

/// Whether the simulator runs its MySQL model on this set: the image is MySQL's.
fn is_mysql(image: &str) -> bool {
    let repo = image.split([':', '@']).next().unwrap_or("");
    repo.rsplit('/').next() == Some("mysql")
}

pub(super) fn stateful_set(
    d: &Doc,
    s: &apps::StatefulSet,
    m: &mut Manifests,
) -> Result<(), Diagnostic> {
    let spec = &s.spec;
    let replicas = non_negative(d, "spec.replicas", spec.replicas, 1)?;
    validate::replicas(replicas).map_err(|e| d.err("spec.replicas", e))?;
    let pod_management = match spec.pod_management_policy.as_deref() {
        None | Some("OrderedReady") => PodManagement::OrderedReady,
        Some("Parallel") => PodManagement::Parallel,
        Some(o) => {
            return Err(d.err(
                "spec.podManagementPolicy",
                format!("{o:?}: expected OrderedReady or Parallel"),
            ));
        }
    };
    if let Some(svc) = &spec.service_name {
        validate::dns_label("serviceName", svc).map_err(|e| d.err("spec.serviceName", e))?;
    }
    let policy = spec.persistent_volume_claim_retention_policy.as_ref();
    let retention = Retention {
        when_deleted: retention_action(
            d,
            "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
            policy.and_then(|p| p.when_deleted.as_ref()),
        )?,
        when_scaled: retention_action(
            d,
            "spec.persistentVolumeClaimRetentionPolicy.whenScaled",
            policy.and_then(|p| p.when_scaled.as_ref()),
        )?,
    };
    let ordinals_start = non_negative(
        d,
        "spec.ordinals.start",
        spec.ordinals.as_ref().and_then(|o| o.start),
        0,
    )?;
    if ordinals_start > validate::MAX_ORDINALS_START {
        return Err(d.err(
            "spec.ordinals.start",
            format!("ordinals.start is at most {}", validate::MAX_ORDINALS_START),
        ));
    }
    let template = template(d, &spec.template, &mut m.warnings)?;
    super::affinity::read(d, &spec.template, m)?;
    let claims = claims(d, spec, &mut m.warnings)?;
    let database = (is_mysql(&template.image) && !claims.is_empty())
        .then_some(DatabaseSpec::Mysql { write_rate: 0.0 });
    m.add_labels(&d.name, template_labels(&spec.template));
    m.workloads.push(WorkloadSpec::StatefulSet(StatefulSetSpec {
        name: d.name.clone(),
        service: spec.service_name.clone(),
        replicas,
        pod_management,
        update_strategy: update_strategy(d, spec)?,
        min_ready_seconds: non_negative(d, "spec.minReadySeconds", spec.min_ready_seconds, 0)?,
        ordinals_start,
        retention,
        revision_history_limit: non_negative(
            d,
            "spec.revisionHistoryLimit",
            spec.revision_history_limit,
            10,
        )?,
        template,
        claims,
        database,
    }));
    Ok(())
}

fn template_labels(t: &core::PodTemplateSpec) -> BTreeMap<String, String> {
    t.metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

pub(super) fn deployment(
    d: &Doc,
    s: &apps::Deployment,
    m: &mut Manifests,
) -> Result<(), Diagnostic> {
    let spec = &s.spec;
    let replicas = non_negative(d, "spec.replicas", spec.replicas, 1)?;
    validate::replicas(replicas).map_err(|e| d.err("spec.replicas", e))?;
    let strategy = spec.strategy.as_ref();
    if let Some(t) = strategy
        .and_then(|s| s.type_.as_deref())
        .filter(|t| *t != "RollingUpdate")
    {
        m.warnings.push(d.warn(
            "spec.strategy.type",
            format!(
                "{} {}: strategy {t} is not simulated; a RollingUpdate is",
                d.kind, d.name
            ),
        ));
    }
    let ru = strategy.and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrPercent::Percent("25%".into());
    let max_surge = match ru.and_then(|r| r.max_surge.as_ref()) {
        Some(v) => int_or_percent(d, "spec.strategy.rollingUpdate.maxSurge", v)?,
        None => quarter.clone(),
    };
    let max_unavailable = match ru.and_then(|r| r.max_unavailable.as_ref()) {
        Some(v) => int_or_percent(d, "spec.strategy.rollingUpdate.maxUnavailable", v)?,
        None => quarter,
    };
    let template = template(d, &spec.template, &mut m.warnings)?;
    super::affinity::read(d, &spec.template, m)?;
    m.add_labels(&d.name, template_labels(&spec.template));
    m.workloads.push(WorkloadSpec::Deployment(DeploymentSpec {
        name: d.name.clone(),
        replicas,
        template,
        max_surge,
        max_unavailable,
    }));
    Ok(())
}

/// The kind of disk a provisioner makes: local disks (one node), zonal
/// block disks (one zone), or network storage (anywhere).
pub fn storage_kind(provisioner: &str) -> StorageKind {
    const LOCAL: [&str; 3] = [
        "kubernetes.io/no-provisioner",
        "rancher.io/local-path",
        "local.csi",
    ];
    const ZONAL: [&str; 8] = [
        "kubernetes.io/gce-pd",
        "pd.csi.storage.gke.io",
        "kubernetes.io/aws-ebs",
        "ebs.csi.aws.com",
        "kubernetes.io/azure-disk",
        "disk.csi.azure.com",
        "kubernetes.io/cinder",
        "cinder.csi.openstack.org",
    ];
    if LOCAL.iter().any(|p| provisioner.starts_with(p)) {
        StorageKind::Local
    } else if ZONAL.contains(&provisioner) {
        StorageKind::Zonal
    } else {
        StorageKind::Network
    }
}

pub(super) fn storage_class(
    d: &Doc,
    s: &k8s_openapi::api::storage::v1::StorageClass,
    m: &mut Manifests,
) -> Result<(), Diagnostic> {
    // The API server defaults volumeBindingMode to Immediate.
    let binding = match s.volume_binding_mode.as_deref() {
        None | Some("Immediate") => BindingMode::Immediate,
        Some("WaitForFirstConsumer") => BindingMode::WaitForFirstConsumer,
        Some(o) => {
            return Err(d.err(
                "volumeBindingMode",
                format!("{o:?}: expected Immediate or WaitForFirstConsumer"),
            ));
        }
    };
    let default = s
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
        .is_some_and(|v| v == "true");
    let spec = StorageClassSpec {
        name: d.name.clone(),
        kind: storage_kind(&s.provisioner),
        binding,
        allow_volume_expansion: s.allow_volume_expansion.unwrap_or(false),
    };
    // The simulator's default class is the first one.
    if default {
        m.classes.insert(0, spec);
    } else {
        m.classes.push(spec);
    }
    Ok(())
}

pub(super) fn node(d: &Doc, n: &core::Node, m: &mut Manifests) -> Result<(), Diagnostic> {
    let labels = n.metadata.labels.clone().unwrap_or_default();
    let zone = labels
        .get("topology.kubernetes.io/zone")
        .or(labels.get("failure-domain.beta.kubernetes.io/zone"))
        .cloned()
        .unwrap_or_else(|| "zone-1".into());
    validate::dns_label("zone", &zone).map_err(|e| d.err("metadata.labels", e))?;
    let status = n.status.as_ref();
    let res = status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
    let cpu = match res.and_then(|r| r.get("cpu")) {
        Some(q) => cpu_millis(&q.0)
            .ok_or_else(|| d.err("status", format!("cpu {:?} is not a CPU quantity", q.0)))?,
        None => NodeSpec::DEFAULT_CPU_MILLIS,
    };
    let mem = match res.and_then(|r| r.get("memory")) {
        Some(q) => memory_mib(&q.0).ok_or_else(|| {
            d.err(
                "status",
                format!("memory {:?} is not a memory quantity", q.0),
            )
        })?,
        None => NodeSpec::DEFAULT_MEMORY_MIB,
    };
    validate::node_capacity(&d.name, cpu, mem).map_err(|e| d.err("status", e))?;
    m.nodes.push(NodeSpec {
        name: d.name.clone(),
        zone,
        cpu_millis: cpu,
        memory_mib: mem,
    });
    Ok(())
}

pub(super) fn disruption_budget(
    d: &Doc,
    p: &k8s_openapi::api::policy::v1::PodDisruptionBudget,
    m: &mut Manifests,
) -> Result<(), Diagnostic> {
    let Some(spec) = &p.spec else {
        return Err(d.err("spec", "spec is required".into()));
    };
    let min_available = spec
        .min_available
        .as_ref()
        .map(|v| int_or_percent(d, "spec.minAvailable", v))
        .transpose()?;
    let max_unavailable = spec
        .max_unavailable
        .as_ref()
        .map(|v| int_or_percent(d, "spec.maxUnavailable", v))
        .transpose()?;
    if min_available.is_some() && max_unavailable.is_some() {
        return Err(d.err(
            "spec.maxUnavailable",
            "minAvailable and maxUnavailable cannot both be set".into(),
        ));
    }
    let policy = match spec.unhealthy_pod_eviction_policy.as_deref() {
        None | Some("IfHealthyBudget") => UnhealthyPodEvictionPolicy::IfHealthyBudget,
        Some("AlwaysAllow") => UnhealthyPodEvictionPolicy::AlwaysAllow,
        Some(o) => {
            return Err(d.err(
                "spec.unhealthyPodEvictionPolicy",
                format!("{o:?}: expected IfHealthyBudget or AlwaysAllow"),
            ));
        }
    };
    let selector: BTreeMap<String, String> = spec
        .selector
        .as_ref()
        .and_then(|s| s.match_labels.clone())
        .unwrap_or_default();
    if spec
        .selector
        .as_ref()
        .is_some_and(|s| s.match_expressions.is_some())
    {
        m.warnings.push(d.warn(
            "spec.selector",
            format!(
                "{} {}: selector.matchExpressions are not simulated; matchLabels are",
                d.kind, d.name
            ),
        ));
    }
    m.push_budget(
        d.file,
        d.pos("spec.selector"),
        selector,
        DisruptionBudgetSpec {
            name: d.name.clone(),
            set: String::new(),
            min_available,
            max_unavailable,
            unhealthy_pod_eviction_policy: policy,
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(cpu_millis("500m"), Some(500));
        assert_eq!(cpu_millis("0.5"), Some(500));
        assert_eq!(cpu_millis("2"), Some(2000));
        assert_eq!(cpu_millis("x"), None);
        assert_eq!(memory_mib("256Mi"), Some(256));
        assert_eq!(memory_mib("1Gi"), Some(1024));
        assert_eq!(memory_mib("1G"), Some(954));
        assert_eq!(bytes("10Gi"), Some(10.0 * 1073741824.0));
    }

    #[test]
    fn readiness_probe_passes_at_the_first_period_tick_after_the_initial_delay() {
        assert_eq!(first_ready_seconds(5, 2), 6.0);
        assert_eq!(first_ready_seconds(0, 10), 0.0);
        assert_eq!(first_ready_seconds(10, 10), 10.0);
        assert_eq!(first_ready_seconds(1, 0), 10.0);
    }

    #[test]
    fn provisioners_map_to_local_zonal_or_network_disks() {
        assert_eq!(
            storage_kind("kubernetes.io/no-provisioner"),
            StorageKind::Local
        );
        assert_eq!(storage_kind("ebs.csi.aws.com"), StorageKind::Zonal);
        assert_eq!(storage_kind("nfs.csi.k8s.io"), StorageKind::Network);
        assert!(is_mysql("mysql:5.7"));
        assert!(is_mysql("docker.io/library/mysql:8"));
        assert!(!is_mysql("nginx:1.25"));
    }
}
