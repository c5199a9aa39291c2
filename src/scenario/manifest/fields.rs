//! Which fields of each kind the simulator honours. A field set in a
//! manifest that is not listed here is reported once as "ignored (not
//! simulated)", so that nobody believes the simulation models it.

/// Fields every object may carry without a warning (they name the object
/// or only label it).
const COMMON: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.labels",
    "metadata.annotations",
];

/// A pod template's honoured fields, below `spec.template.` of a workload.
const POD_TEMPLATE: &[&str] = &[
    "metadata.labels",
    "metadata.annotations",
    "spec.terminationGracePeriodSeconds",
    "spec.tolerations",
    // Resolved to workloads by their pod labels (convert.rs `anti_affinity`).
    "spec.affinity.podAntiAffinity",
    "spec.containers.name",
    "spec.containers.image",
    "spec.containers.ports",
    "spec.containers.volumeMounts",
    "spec.containers.resources.requests.cpu",
    "spec.containers.resources.requests.memory",
    "spec.containers.readinessProbe.initialDelaySeconds",
    "spec.containers.readinessProbe.periodSeconds",
    // The probe's action is what passes or fails; the simulator decides
    // that (BreakReadiness), so any action is accepted.
    "spec.containers.readinessProbe.exec",
    "spec.containers.readinessProbe.httpGet",
    "spec.containers.readinessProbe.tcpSocket",
    "spec.containers.readinessProbe.grpc",
];

const STATEFUL_SET: &[&str] = &[
    "spec.replicas",
    "spec.serviceName",
    "spec.selector",
    "spec.podManagementPolicy",
    "spec.updateStrategy.type",
    "spec.updateStrategy.rollingUpdate.partition",
    "spec.updateStrategy.rollingUpdate.maxUnavailable",
    "spec.minReadySeconds",
    "spec.ordinals.start",
    "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
    "spec.persistentVolumeClaimRetentionPolicy.whenScaled",
    "spec.revisionHistoryLimit",
    "spec.volumeClaimTemplates.metadata.name",
    "spec.volumeClaimTemplates.spec.storageClassName",
    "spec.volumeClaimTemplates.spec.accessModes",
    "spec.volumeClaimTemplates.spec.resources.requests.storage",
];

const DEPLOYMENT: &[&str] = &[
    "spec.replicas",
    "spec.selector",
    "spec.strategy.type",
    "spec.strategy.rollingUpdate.maxSurge",
    "spec.strategy.rollingUpdate.maxUnavailable",
];

const SERVICE: &[&str] = &["spec.clusterIP", "spec.ports", "spec.selector", "spec.type"];

const STORAGE_CLASS: &[&str] = &[
    "provisioner",
    "volumeBindingMode",
    "allowVolumeExpansion",
    "allowedTopologies",
    "parameters",
    "reclaimPolicy",
];

const NODE: &[&str] = &[
    "status.capacity.cpu",
    "status.capacity.memory",
    "status.allocatable.cpu",
    "status.allocatable.memory",
];

const PDB: &[&str] = &[
    "spec.minAvailable",
    "spec.maxUnavailable",
    "spec.selector",
    "spec.unhealthyPodEvictionPolicy",
];

/// Is the field at `path` (indices removed: `spec.template.spec.containers.image`)
/// honoured for `kind`? `Some(true)`: yes; `Some(false)`: something below
/// it is (look deeper); `None`: not simulated.
pub fn honoured(kind: &str, path: &str) -> Option<bool> {
    let own: &[&str] = match kind {
        "StatefulSet" => STATEFUL_SET,
        "Deployment" => DEPLOYMENT,
        "Service" => SERVICE,
        "StorageClass" => STORAGE_CLASS,
        "Node" => NODE,
        "PodDisruptionBudget" => PDB,
        _ => &[],
    };
    let template = matches!(kind, "StatefulSet" | "Deployment");
    let in_template = POD_TEMPLATE
        .iter()
        .filter(|_| template)
        .map(|f| format!("spec.template.{f}"));
    let all = COMMON
        .iter()
        .chain(own)
        .map(|f| f.to_string())
        .chain(in_template);
    let mut deeper = false;
    for f in all {
        if f == path {
            return Some(true);
        }
        if f.starts_with(path) && f[path.len()..].starts_with('.') {
            deeper = true;
        }
    }
    deeper.then_some(false)
}

#[cfg(test)]
mod tests {
    use super::honoured;

    #[test]
    fn template_fields_are_honoured_below_spec_template() {
        assert_eq!(
            honoured("StatefulSet", "spec.template.spec.containers.image"),
            Some(true)
        );
        assert_eq!(honoured("StatefulSet", "spec.template.spec"), Some(false));
        assert_eq!(
            honoured("StatefulSet", "spec.template.spec.affinity"),
            Some(false),
            "podAntiAffinity is, below it"
        );
        assert_eq!(
            honoured("StatefulSet", "spec.template.spec.affinity.nodeAffinity"),
            None
        );
        assert_eq!(
            honoured("Service", "spec.template.spec.containers.image"),
            None
        );
        assert_eq!(honoured("Node", "metadata.labels"), Some(true));
    }
}
