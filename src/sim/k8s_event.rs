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

    /// The kubelet starts pulling an image. (images/image_manager.go
    /// `pullImage`: "Pulling image %q".)
    pub fn pulling(pod: &str, image: &str) -> Self {
        K8sRecord::normal(
            "Pulling",
            format!("pod/{pod}"),
            format!("Pulling image {}", quote(image)),
        )
    }

    /// The image was pulled. The simulator models no pull time and no image
    /// size: both read 0. (image_manager.go `pullImage`: "Successfully
    /// pulled image %q in %v (%v including waiting). Image size: %v bytes.")
    pub fn pulled(pod: &str, image: &str) -> Self {
        K8sRecord::normal(
            "Pulled",
            format!("pod/{pod}"),
            format!(
                "Successfully pulled image {} in 0s (0s including waiting). Image size: 0 bytes.",
                quote(image)
            ),
        )
    }

    /// The image is on the node and the policy is IfNotPresent: no pull.
    /// With the KubeletEnsureSecretPulledImages gate on, the kubelet has also
    /// checked the pod may use it. (image_manager.go `EnsureImageExists`.)
    pub fn already_present(pod: &str, image: &str, ensure_secret_gate: bool) -> Self {
        let access = if ensure_secret_gate {
            " and can be accessed by the pod"
        } else {
            ""
        };
        K8sRecord::normal(
            "Pulled",
            format!("pod/{pod}"),
            format!(
                "Container image {} already present on machine{access}",
                quote(image)
            ),
        )
    }

    /// The registry has no such image: the runtime's error, as containerd
    /// words a tag that does not exist, after the kubelet's prefix.
    /// (image_manager.go `pullImage`: "Failed to pull image %q: %v".)
    pub fn failed_to_pull(pod: &str, image: &str) -> Self {
        let r = quote(&normalized_reference(image));
        K8sRecord::warning(
            "Failed",
            format!("pod/{pod}"),
            format!(
                "Failed to pull image {}: rpc error: code = NotFound desc = failed to pull and unpack image {r}: failed to resolve reference {r}: {}: not found",
                quote(image),
                normalized_reference(image)
            ),
        )
    }

    /// The container could not be started because of its image: the error
    /// `EnsureImageExists` returned (`ErrImagePull` or `ImagePullBackOff`).
    /// (kuberuntime_container.go `startContainer`: "Error: %v".)
    pub fn start_error(pod: &str, error: &str) -> Self {
        K8sRecord::warning("Failed", format!("pod/{pod}"), format!("Error: {error}"))
    }

    /// The kubelet will not pull again before the image back-off has passed.
    /// (image_manager.go `pullImage`: Normal `BackOff`, "Back-off pulling
    /// image %q".)
    pub fn pull_back_off(pod: &str, image: &str) -> Self {
        K8sRecord::normal(
            "BackOff",
            format!("pod/{pod}"),
            format!("Back-off pulling image {}", quote(image)),
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

/// Go's %q of a plain string (image names need no escapes but quotes).
fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// An image reference as the container runtime spells it in errors, fully
/// qualified (distribution/reference `ParseNormalizedNamed` + `TagNameOnly`):
/// `nginx:1.25` → `docker.io/library/nginx:1.25`, `app/web` →
/// `docker.io/app/web:latest`, `registry.example:5000/app:2` unchanged.
pub fn normalized_reference(image: &str) -> String {
    let domain_given = image
        .split_once('/')
        .is_some_and(|(d, _)| d.contains('.') || d.contains(':') || d == "localhost");
    let mut r = if domain_given {
        image.to_string()
    } else if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    };
    let last = r.rsplit('/').next().unwrap_or("");
    if !last.contains(':') && !r.contains('@') {
        r.push_str(":latest");
    }
    r
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
    fn image_pull_records_read_as_the_kubelet_writes_them() {
        let r = K8sRecord::pulling("web-0", "nginx:1.25");
        assert_eq!((r.kind, r.reason.as_str()), (K8sType::Normal, "Pulling"));
        assert_eq!(r.message, "Pulling image \"nginx:1.25\"");
        let r = K8sRecord::already_present("web-0", "nginx:1.25", true);
        assert_eq!(
            r.message,
            "Container image \"nginx:1.25\" already present on machine and can be accessed by the pod"
        );
        let r = K8sRecord::already_present("web-0", "nginx:1.25", false);
        assert_eq!(
            r.message,
            "Container image \"nginx:1.25\" already present on machine"
        );
        let r = K8sRecord::failed_to_pull("web-2", "nginx:1.27-typo");
        assert_eq!(r.kind, K8sType::Warning);
        assert_eq!(
            r.message,
            "Failed to pull image \"nginx:1.27-typo\": rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/nginx:1.27-typo\": failed to resolve reference \"docker.io/library/nginx:1.27-typo\": docker.io/library/nginx:1.27-typo: not found"
        );
        assert_eq!(
            K8sRecord::start_error("web-2", "ImagePullBackOff").message,
            "Error: ImagePullBackOff"
        );
        let r = K8sRecord::pull_back_off("web-2", "nginx:1.27-typo");
        assert_eq!((r.kind, r.reason.as_str()), (K8sType::Normal, "BackOff"));
        assert_eq!(r.message, "Back-off pulling image \"nginx:1.27-typo\"");
        assert_eq!(normalized_reference("app/web"), "docker.io/app/web:latest");
        assert_eq!(
            normalized_reference("registry.example:5000/app:2"),
            "registry.example:5000/app:2"
        );
    }

    #[test]
    fn the_container_is_named_after_its_image() {
        assert_eq!(container_name("nginx:1.25"), "nginx");
        assert_eq!(container_name("registry.k8s.io/mysql:8.0"), "mysql");
        assert_eq!(container_name("app"), "app");
    }
}
