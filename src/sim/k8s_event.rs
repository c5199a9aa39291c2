//! The events Kubernetes itself records (what `kubectl get events` and
//! `kubectl describe` show), carried beside the simulator's own explanation:
//! for each logged `SimEvent`, the record upstream would write, if any.
//!
//! Two ways a line gets its record: `k8s_record` derives it from the line's
//! kind and fields (one row per kind), and an emitter that knows more than the
//! line says (the owning StatefulSet, the container's name, the scheduler's
//! filter results) attaches one with `SimEvent::k8s`, built by a constructor
//! here. Every message format below is copied from the upstream function named
//! beside it (docs/semantics.md §10).

use super::event::{EventKind, SimEvent};
use serde::Serialize;

/// `type` of a Kubernetes Event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum K8sType {
    Normal,
    Warning,
}

/// One Kubernetes Event as the API records it: type, reason, the object it
/// is attached to (`involvedObject`, written `kind/name`) and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct K8sRecord {
    #[serde(rename = "type")]
    pub kind: K8sType,
    pub reason: String,
    pub object: String,
    pub message: String,
}

/// The namespace every simulated object lives in.
const NAMESPACE: &str = "default";

impl K8sRecord {
    /// A Normal event.
    pub fn normal(reason: &str, object: impl Into<String>, message: impl Into<String>) -> Self {
        K8sRecord {
            kind: K8sType::Normal,
            reason: reason.into(),
            object: object.into(),
            message: message.into(),
        }
    }
    /// A Warning event.
    pub fn warning(reason: &str, object: impl Into<String>, message: impl Into<String>) -> Self {
        K8sRecord {
            kind: K8sType::Warning,
            reason: reason.into(),
            object: object.into(),
            message: message.into(),
        }
    }

    /// The StatefulSet controller created or deleted one of its pods
    /// (`verb` "create" / "delete"): SuccessfulCreate / SuccessfulDelete on
    /// the set. (stateful_pod_control.go `recordPodEvent`.)
    pub fn stateful_pod(verb: &str, set: &str, pod: &str) -> Self {
        K8sRecord::normal(
            &format!("Successful{}", title(verb)),
            format!("statefulset/{set}"),
            format!("{verb} Pod {pod} in StatefulSet {set} successful"),
        )
    }

    /// The StatefulSet controller created a claim for a pod: SuccessfulCreate
    /// on the set. (stateful_pod_control.go `recordClaimEvent`.)
    pub fn stateful_claim(verb: &str, set: &str, claim: &str, pod: &str) -> Self {
        K8sRecord::normal(
            &format!("Successful{}", title(verb)),
            format!("statefulset/{set}"),
            format!("{verb} Claim {claim} Pod {pod} in StatefulSet {set} success"),
        )
    }

    /// A ReplicaSet created a pod. (controller_utils.go
    /// `RealPodControl.createPods`: "Created pod: %v".)
    pub fn replica_set_created(replica_set: &str, pod: &str) -> Self {
        K8sRecord::normal(
            "SuccessfulCreate",
            format!("replicaset/{replica_set}"),
            format!("Created pod: {pod}"),
        )
    }

    /// A ReplicaSet deleted a pod. (controller_utils.go
    /// `RealPodControl.DeletePod`: "Deleted pod: %v".)
    pub fn replica_set_deleted(replica_set: &str, pod: &str) -> Self {
        K8sRecord::normal(
            "SuccessfulDelete",
            format!("replicaset/{replica_set}"),
            format!("Deleted pod: {pod}"),
        )
    }

    /// No node fits: the scheduler's FitError, then the DefaultPreemption
    /// PostFilter's verdict on the same nodes: "0/3 nodes are available:
    /// 1 Insufficient cpu, 2 node(s) were unschedulable. preemption: 0/3 nodes
    /// are available: 1 No preemption victims found for incoming pod, 2
    /// Preemption is not helpful for scheduling." `histogram`: each filter
    /// reason in upstream's words, how many nodes gave it, and whether
    /// evicting lower-priority pods could help there (Unschedulable rather
    /// than UnschedulableAndUnresolvable; every simulated pod has priority 0,
    /// so there are never victims). (pkg/scheduler/framework/types.go
    /// `FitError.Error`, `sortReasonsHistogram`;
    /// pkg/scheduler/framework/preemption/preemption.go.)
    pub fn failed_scheduling(pod: &str, nodes: usize, histogram: &[(u32, String, bool)]) -> Self {
        let mut parts: Vec<String> = histogram
            .iter()
            .map(|(n, r, _)| format!("{n} {r}"))
            .collect();
        parts.sort();
        let (helps, not): (Vec<_>, Vec<_>) = histogram.iter().partition(|h| h.2);
        let count = |v: &[&(u32, String, bool)]| v.iter().map(|h| h.0).sum::<u32>();
        let mut pre: Vec<String> = Vec::new();
        if !helps.is_empty() {
            pre.push(format!(
                "{} No preemption victims found for incoming pod",
                count(&helps)
            ));
        }
        if !not.is_empty() {
            pre.push(format!(
                "{} Preemption is not helpful for scheduling",
                count(&not)
            ));
        }
        pre.sort();
        K8sRecord::warning(
            "FailedScheduling",
            format!("pod/{pod}"),
            format!(
                "0/{nodes} nodes are available: {}. preemption: 0/{nodes} nodes are available: {}.",
                parts.join(", "),
                pre.join(", ")
            ),
        )
    }

    /// The scheduler's PreFilter refused the pod before looking at nodes
    /// (its claim does not exist): "0/3 nodes are available: <why>." and
    /// preemption cannot help on any node.
    pub fn failed_scheduling_prefilter(pod: &str, nodes: usize, why: &str) -> Self {
        K8sRecord::warning(
            "FailedScheduling",
            format!("pod/{pod}"),
            format!(
                "0/{nodes} nodes are available: {why}. preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling."
            ),
        )
    }

    /// A ReadWriteOnce volume wanted on a node while attached to another:
    /// FailedAttachVolume on the pod, recorded once per volume and node.
    /// `used_by`: pods that still want it on the other node; none when the
    /// pod there is already gone. (attachdetach/reconciler/reconciler.go
    /// `reportMultiAttachError`; operationexecutor `generateVolumeMsg`.)
    pub fn multi_attach(pod: &str, volume: &str, used_by: &[&str]) -> Self {
        let suffix = if used_by.is_empty() {
            "Volume is already exclusively attached to one node and can't be attached to another"
                .to_string()
        } else {
            format!("Volume is already used by pod(s) {}", used_by.join(", "))
        };
        K8sRecord::warning(
            "FailedAttachVolume",
            format!("pod/{pod}"),
            format!("Multi-Attach error for volume \"{volume}\" {suffix}"),
        )
    }

    /// The node lifecycle controller marked a pod of an unreachable node not
    /// Ready. (pkg/controller/util/node/controller_utils.go `MarkPodsNotReady`.)
    pub fn pod_node_not_ready(pod: &str) -> Self {
        K8sRecord::warning("NodeNotReady", format!("pod/{pod}"), "Node is not ready")
    }

    /// The kubelet sends SIGTERM to a container (graceful deletion, or a
    /// container whose pod object is gone). (kuberuntime_container.go
    /// `killContainer`: "Stopping container %s".)
    pub fn killing(pod: &str, container: &str) -> Self {
        K8sRecord::normal(
            "Killing",
            format!("pod/{pod}"),
            format!("Stopping container {container}"),
        )
    }

    /// The kubelet waits before restarting a container that exited
    /// (CrashLoopBackOff). (kuberuntime_manager.go `doBackOff`: "Back-off
    /// restarting failed container %s in pod %s", the pod as `format.Pod`
    /// writes it: name_namespace(uid).)
    pub fn back_off(pod: &str, uid: &str, container: &str) -> Self {
        K8sRecord::warning(
            "BackOff",
            format!("pod/{pod}"),
            format!(
                "Back-off restarting failed container {container} in pod {pod}_{NAMESPACE}({uid})"
            ),
        )
    }

    /// Node-pressure eviction by the kubelet. (eviction/helpers.go: `Reason`
    /// "Evicted", `nodeLowMessageFmt` "The node was low on resource: %v. ";
    /// the simulator models memory pressure without threshold figures.)
    pub fn evicted(pod: &str) -> Self {
        K8sRecord::warning(
            "Evicted",
            format!("pod/{pod}"),
            "The node was low on resource: memory. ",
        )
    }

    /// The kubelet started a container. (kuberuntime_container.go
    /// `startContainer`: "Started container %v".)
    pub fn started(pod: &str, container: &str) -> Self {
        K8sRecord::normal(
            "Started",
            format!("pod/{pod}"),
            format!("Started container {container}"),
        )
    }
}

/// The name of the one container of a simulated pod: the image's repository
/// name (`nginx:1.25` → `nginx`, `registry/app/mysql:8.0` → `mysql`), as the
/// tutorials name their containers.
pub fn container_name(image: &str) -> &str {
    let repo = image.rsplit('/').next().unwrap_or(image);
    repo.split([':', '@']).next().unwrap_or(repo)
}

/// strings.Title of a one-word verb: "create" → "Create".
fn title(verb: &str) -> String {
    let mut c = verb.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The name after `kind/` in an object reference (`pod/web-0` → `web-0`).
fn name_of(object: &str) -> &str {
    object.split_once('/').map_or(object, |(_, n)| n)
}

/// The record Kubernetes writes for `ev`, when it can be told from the line's
/// kind and fields alone; None for events only the simulator logs and for
/// those whose emitter attaches the record itself. New kinds add a row here.
pub fn k8s_record(ev: &SimEvent) -> Option<K8sRecord> {
    let name = name_of(&ev.object);
    let node = ev.node.as_deref().unwrap_or("");
    let node_status = |status: &str| {
        // pkg/controller/util/node `RecordNodeStatusChange`; the kubelet's
        // `recordNodeStatusEvent` writes the same "status is now" message.
        K8sRecord::normal(
            status,
            ev.object.clone(),
            format!("Node {name} status is now: {status}"),
        )
    };
    // node_lifecycle_controller.go `RecordNodeEvent`: "Node %s event: %s".
    let node_event = |reason: &str, what: String| {
        K8sRecord::normal(
            reason,
            ev.object.clone(),
            format!("Node {name} event: {what}"),
        )
    };
    Some(match ev.kind {
        // schedule_one.go `finishBinding`.
        EventKind::PodScheduled => K8sRecord::normal(
            "Scheduled",
            ev.object.clone(),
            format!("Successfully assigned {NAMESPACE}/{name} to {node}"),
        ),
        // tainteviction/taint_eviction.go `emitPodDeletionEvent`.
        EventKind::PodEvicted => K8sRecord::normal(
            "TaintManagerEviction",
            ev.object.clone(),
            format!("Marking for deletion Pod {NAMESPACE}/{name}"),
        ),
        // kuberuntime_container.go `startContainer`: the pull error, as
        // `EnsureImageExists` returns it (ErrImagePull).
        EventKind::ImagePullFailed => {
            K8sRecord::warning("Failed", ev.object.clone(), "Error: ErrImagePull")
        }
        // node_lifecycle_controller.go `monitorNodeHealth`.
        EventKind::NodeNotReady => node_status("NodeNotReady"),
        // kubelet nodestatus `ReadyCondition` (the kubelet records it).
        EventKind::NodeReady => node_status("NodeReady"),
        // kubelet nodestatus `RecordNodeSchedulableEvent`.
        EventKind::NodeCordoned => node_status("NodeNotSchedulable"),
        EventKind::NodeUncordoned => node_status("NodeSchedulable"),
        // node_lifecycle_controller.go (node added / deleted handlers).
        EventKind::NodeAdded => node_event(
            "RegisteredNode",
            format!("Registered Node {name} in Controller"),
        ),
        EventKind::NodeDeleted => node_event(
            "RemovingNode",
            format!("Removing Node {name} from Controller"),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statefulset_pod_and_claim_events_read_as_upstream_records_them() {
        let r = K8sRecord::stateful_pod("create", "web", "web-0");
        assert_eq!(r.reason, "SuccessfulCreate");
        assert_eq!(r.object, "statefulset/web");
        assert_eq!(r.message, "create Pod web-0 in StatefulSet web successful");
        let r = K8sRecord::stateful_claim("create", "web", "www-web-0", "web-0");
        assert_eq!(
            r.message,
            "create Claim www-web-0 Pod web-0 in StatefulSet web success"
        );
        let r = K8sRecord::stateful_pod("delete", "web", "web-2");
        assert_eq!(r.reason, "SuccessfulDelete");
        assert_eq!(r.message, "delete Pod web-2 in StatefulSet web successful");
    }

    #[test]
    fn scheduled_and_eviction_records_name_the_namespace() {
        let ev = SimEvent::new(EventKind::PodScheduled, "pod/web-0", "x").node("node-a");
        let r = k8s_record(&ev).expect("Scheduled");
        assert_eq!(r.message, "Successfully assigned default/web-0 to node-a");
        let ev = SimEvent::new(EventKind::PodEvicted, "pod/web-1", "x");
        let r = k8s_record(&ev).expect("TaintManagerEviction");
        assert_eq!(r.reason, "TaintManagerEviction");
        assert_eq!(r.message, "Marking for deletion Pod default/web-1");
    }

    #[test]
    fn multi_attach_record_says_exclusively_attached_once_the_old_pod_is_gone() {
        let r = K8sRecord::multi_attach("web-1", "pv-www-web-1", &[]);
        assert_eq!(r.kind, K8sType::Warning);
        assert_eq!(
            r.message,
            "Multi-Attach error for volume \"pv-www-web-1\" Volume is already exclusively attached to one node and can't be attached to another"
        );
        let r = K8sRecord::multi_attach("b", "v", &["a"]);
        assert_eq!(
            r.message,
            "Multi-Attach error for volume \"v\" Volume is already used by pod(s) a"
        );
    }

    #[test]
    fn failed_scheduling_sorts_the_reasons_as_upstream() {
        let r = K8sRecord::failed_scheduling(
            "web-2",
            3,
            &[
                (2, "node(s) were unschedulable".into(), false),
                (1, "Insufficient cpu".into(), true),
            ],
        );
        assert_eq!(
            r.message,
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn sim_only_events_have_no_kubernetes_record() {
        for kind in [
            EventKind::SetBlocked,
            EventKind::CloneStarted,
            EventKind::RolloutComplete,
        ] {
            assert_eq!(
                k8s_record(&SimEvent::new(kind, "statefulset/web", "x")),
                None
            );
        }
    }

    #[test]
    fn the_container_is_named_after_its_image() {
        assert_eq!(container_name("nginx:1.25"), "nginx");
        assert_eq!(container_name("registry.k8s.io/mysql:8.0"), "mysql");
        assert_eq!(container_name("app"), "app");
    }
}
