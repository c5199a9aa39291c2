//! Pod components (the API object and its status) and Process (a container
//! really running on a machine, which can outlive its API object).

use super::spec::PodTemplate;
use bevy::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OwnerKind {
    StatefulSet,
    Deployment,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    pub kind: OwnerKind,
    pub name: String,
}

impl Owner {
    pub fn set(name: &str) -> Self {
        Owner {
            kind: OwnerKind::StatefulSet,
            name: name.into(),
        }
    }
    pub fn deployment(name: &str) -> Self {
        Owner {
            kind: OwnerKind::Deployment,
            name: name.into(),
        }
    }
    pub fn object(&self) -> String {
        match self.kind {
            OwnerKind::StatefulSet => format!("statefulset/{}", self.name),
            OwnerKind::Deployment => format!("deployment/{}", self.name),
        }
    }
}

/// Pod phase as `kubectl get pods` shows it. `Terminating` and `Absent` are
/// derived (deletion timestamp set / no object) and never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PodPhase {
    Pending,
    ContainerCreating,
    Running,
    Succeeded,
    Failed,
    Terminating,
    Absent,
}

impl PodPhase {
    /// The phase as `kubectl get pods` and the event log spell it.
    pub const fn name(self) -> &'static str {
        match self {
            PodPhase::Pending => "Pending",
            PodPhase::ContainerCreating => "ContainerCreating",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Succeeded",
            PodPhase::Failed => "Failed",
            PodPhase::Terminating => "Terminating",
            PodPhase::Absent => "Absent",
        }
    }
    /// The API phase (pod.status.phase): Pending, Running, Succeeded or
    /// Failed. `ContainerCreating` is a Pending pod bound to a node whose
    /// container has not started; `Terminating` and `Absent` are never stored.
    pub const fn api(self) -> PodPhase {
        match self {
            PodPhase::ContainerCreating => PodPhase::Pending,
            other => other,
        }
    }
}

/// The kubelet's initial restart back-off (backOffPeriod in pkg/kubelet/kubelet.go).
pub const RESTART_BACKOFF_INITIAL_MS: u64 = 10_000;
/// MaxContainerBackOff (pkg/kubelet/kubelet.go): the back-off never exceeds 5 minutes.
pub const RESTART_BACKOFF_MAX_MS: u64 = 300_000;
/// The kubelet's image pull back-off (imageBackOffPeriod, MaxImageBackOff
/// in pkg/kubelet/kubelet.go): 10 s, doubling, at most 300 s.
pub const IMAGE_BACKOFF_INITIAL_MS: u64 = 10_000;
pub const IMAGE_BACKOFF_MAX_MS: u64 = 300_000;
/// The pod worker retries a sync that failed after backOffPeriod
/// (pkg/kubelet/kubelet.go, pod_workers.go `completeWork`).
pub const POD_SYNC_RETRY_MS: u64 = 10_000;

/// imagePullPolicy as the API server defaults it (pkg/apis/core/v1/defaults.go
/// `SetDefaults_Container`): `Always` when the tag is `latest` (an image with
/// no tag and no digest has tag `latest`), `IfNotPresent` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
}

impl PullPolicy {
    /// The default policy for `image` (parsers.ParseImageName's tag).
    pub fn default_for(image: &str) -> PullPolicy {
        let (name, digest) = match image.split_once('@') {
            Some((n, _)) => (n, true),
            None => (image, false),
        };
        // The tag follows the last ':' after the last '/' (a registry's
        // port is before a '/').
        let last = name.rsplit('/').next().unwrap_or(name);
        let tag = last.split_once(':').map(|(_, t)| t);
        match (tag, digest) {
            (Some("latest"), _) | (None, false) => PullPolicy::Always,
            _ => PullPolicy::IfNotPresent,
        }
    }
}

/// One entry of the kubelet's image pull back-off, keyed by the pod's uid
/// and image (image_manager.go `pullImage`: `backOffKey`), and when the pod
/// is next synced after a failed start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullBackOff {
    /// The current window; 0 while there is no entry.
    pub backoff_ms: u64,
    /// When the entry last moved on (the last failed pull).
    pub last_update_ms: u64,
    /// The pod worker's next sync of a pod whose start failed.
    pub next_sync_ms: Option<u64>,
    /// The end of the window whose BackOff the kubelet announced.
    pub announced_until: Option<u64>,
    /// The last start attempt found the pull in back-off (the container
    /// waits with reason ImagePullBackOff rather than ErrImagePull).
    pub backing_off: bool,
}

impl PullBackOff {
    fn expired(&self, now: u64) -> bool {
        now.saturating_sub(self.last_update_ms) > 2 * IMAGE_BACKOFF_MAX_MS
    }
    /// flowcontrol `IsInBackOffSinceUpdate`: less than the window has passed
    /// since the last failed pull (and the entry has not expired).
    pub fn in_back_off(&self, now: u64) -> bool {
        self.backoff_ms > 0
            && !self.expired(now)
            && now.saturating_sub(self.last_update_ms) < self.backoff_ms
    }
    /// flowcontrol `Next`: 10 s for a new or expired entry, else doubled, at
    /// most 300 s.
    pub fn next(&self, now: u64) -> u64 {
        if self.backoff_ms == 0 || self.expired(now) {
            IMAGE_BACKOFF_INITIAL_MS
        } else {
            (self.backoff_ms * 2).min(IMAGE_BACKOFF_MAX_MS)
        }
    }
}

/// The kubelet's restart back-off for a pod's container: one entry of
/// client-go's flowcontrol.Backoff, keyed by the container
/// (kuberuntime_manager.go doBackOff).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestartBackOff {
    /// The current back-off window; 0 while there is no entry.
    pub backoff_ms: u64,
    /// When the entry last moved on (lastUpdate): the last restart.
    pub last_update_ms: u64,
    /// When the container exited, while it waits to be restarted.
    pub exited_ms: Option<u64>,
    /// The end of the wait the kubelet last announced (one BackOff event
    /// per wait).
    pub waiting_until: Option<u64>,
}

/// What the kubelet does with an exited container now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Still in back-off (CrashLoopBackOff) until then.
    Wait { until_ms: u64 },
    /// Start a new container now; the back-off becomes `backoff_ms`.
    Now { backoff_ms: u64 },
}

impl RestartBackOff {
    /// doBackOff: in back-off while less than the window has passed since
    /// the container finished (IsInBackOffSince); otherwise restart and move
    /// the window on (Next): 10 s for a new entry or one not touched for
    /// 2 × 5 min (hasExpired), else doubled, at most 5 min. So the first
    /// restart is immediate, then the waits are 10 s, 20 s, 40 s … 300 s.
    pub fn decide(&self, exited_ms: u64, now: u64) -> Restart {
        let expired = exited_ms.saturating_sub(self.last_update_ms) > 2 * RESTART_BACKOFF_MAX_MS;
        let entry = self.backoff_ms > 0 && !expired;
        if entry && now.saturating_sub(exited_ms) < self.backoff_ms {
            return Restart::Wait {
                until_ms: exited_ms + self.backoff_ms,
            };
        }
        let backoff_ms = if entry {
            (self.backoff_ms * 2).min(RESTART_BACKOFF_MAX_MS)
        } else {
            RESTART_BACKOFF_INITIAL_MS
        };
        Restart::Now { backoff_ms }
    }
    /// The container waits in CrashLoopBackOff now.
    pub fn waiting(&self, now: u64) -> bool {
        matches!(
            self.exited_ms.map(|e| self.decide(e, now)),
            Some(Restart::Wait { .. })
        )
    }
}

/// The pod API object: identity and spec.
#[derive(Component, Debug, Clone)]
pub struct Pod {
    pub name: String,
    pub uid: String,
    pub owner: Owner,
    pub ordinal: Option<u32>,
    /// controller-revision-hash (StatefulSet) or pod-template-hash (Deployment).
    pub revision: String,
    pub template: PodTemplate,
    /// Claims this pod mounts (StatefulSet pods only).
    pub claims: Vec<String>,
    pub created_ms: u64,
    pub seq: u64,
    /// DNS name through the headless service, for StatefulSet pods.
    pub dns: Option<String>,
    /// How many init containers run before the main container (2 for the
    /// MySQL tutorial's pods: init-mysql, clone-mysql; 0 otherwise).
    pub init_containers: u32,
}

/// The pod's status as the API server holds it.
#[derive(Component, Debug, Clone)]
pub struct PodStatus {
    /// Stored phase: Pending, ContainerCreating, Running, Succeeded or Failed.
    pub phase: PodPhase,
    pub ready: bool,
    pub ready_since_ms: Option<u64>,
    /// spec.nodeName once scheduled.
    pub node: Option<String>,
    /// metadata.deletionTimestamp.
    pub deletion_ms: Option<u64>,
    /// Why the pod is waiting (scheduling, volumes, image), for captions.
    pub waiting: Option<String>,
    /// The readiness probe is failing on purpose (BreakReadiness).
    pub readiness_broken: bool,
    pub restarts: u32,
    /// The kubelet's image pull back-off for this pod's image.
    pub pull: PullBackOff,
    /// pod.status.reason: `Evicted` after a kubelet eviction.
    pub reason: Option<String>,
    /// Init container `i` of `n` is running (the pod is still Pending).
    pub init: Option<(u32, u32)>,
    /// The container's restart back-off (restartPolicy Always).
    pub backoff: RestartBackOff,
    /// The container crashes this many more times, each time it has started
    /// (`CrashPod(times: N)`).
    pub crashes_left: u32,
    /// status.podIP: the address its sandbox got from its node's range
    /// when the kubelet first started it (§1.7 pod-ips).
    pub ip: Option<String>,
}

impl PodStatus {
    pub fn new() -> Self {
        PodStatus {
            phase: PodPhase::Pending,
            ready: false,
            ready_since_ms: None,
            node: None,
            deletion_ms: None,
            waiting: None,
            readiness_broken: false,
            restarts: 0,
            pull: PullBackOff::default(),
            reason: None,
            init: None,
            backoff: RestartBackOff::default(),
            crashes_left: 0,
            ip: None,
        }
    }
    /// The API phase (pod.status.phase).
    pub fn api_phase(&self) -> PodPhase {
        self.phase.api()
    }
    /// The STATUS column of `kubectl get pods`, derived as printPod
    /// (pkg/printers/internalversion/printers.go) does: the phase, or the
    /// pod's reason; an init container's progress; the container's waiting
    /// reason; Terminating for a pod being deleted that has not finished.
    pub fn status_column(&self, now: u64) -> String {
        let mut reason = match &self.reason {
            Some(r) => r.clone(),
            None => self.api_phase().name().to_string(),
        };
        if let Some((i, n)) = self.init {
            reason = format!("Init:{i}/{n}");
        } else if let Some(w) = self.waiting_reason(now) {
            reason = w.to_string();
        }
        if self.deletion_ms.is_some() && !self.terminal() {
            reason = "Terminating".to_string();
        }
        reason
    }
    /// The container's state.waiting.reason, if it waits.
    fn waiting_reason(&self, now: u64) -> Option<&'static str> {
        // A finished pod's containers are never restarted.
        if self.terminal() {
            return None;
        }
        if self.backoff.waiting(now) {
            return Some("CrashLoopBackOff");
        }
        if self.phase != PodPhase::ContainerCreating {
            return None;
        }
        // The reason the kubelet's last start attempt returned
        // (ErrImagePull, or ImagePullBackOff while in back-off).
        let image = self
            .waiting
            .as_deref()
            .is_some_and(|w| w.starts_with("ErrImagePull"));
        Some(match (image, self.pull.backing_off) {
            (true, true) => "ImagePullBackOff",
            (true, false) => "ErrImagePull",
            (false, _) => "ContainerCreating",
        })
    }
    /// Ready and not being deleted: in the service's endpoints and DNS
    /// (the endpoints controller leaves out pods with a deletion timestamp).
    pub fn serving(&self) -> bool {
        self.ready && self.deletion_ms.is_none()
    }
    /// The address the headless service's DNS record gives for this pod:
    /// its IP while it is in the endpoints as ready (ShouldPodBeInEndpoints:
    /// not terminal, has an IP, no deletion timestamp; and Ready, since
    /// publishNotReadyAddresses is false). §1.3 stable-dns, §1.7 pod-ips.
    pub fn dns_address(&self) -> Option<&str> {
        if self.terminal() || !self.serving() {
            return None;
        }
        self.ip.as_deref()
    }
    /// The container exited with an error at `now` (restartPolicy Always):
    /// not Ready; the kubelet restarts it after its back-off. The phase stays
    /// Running (getPhase counts a waiting container that terminated before as
    /// stopped, and all stopped under Always is Running).
    pub fn container_exited(&mut self, now: u64) {
        self.ready = false;
        self.ready_since_ms = None;
        self.backoff.exited_ms = Some(now);
    }
    /// The phase as kubectl shows it.
    pub fn shown_phase(&self) -> PodPhase {
        if self.deletion_ms.is_some() {
            PodPhase::Terminating
        } else {
            self.phase
        }
    }
    pub fn terminating(&self) -> bool {
        self.deletion_ms.is_some()
    }
    pub fn terminal(&self) -> bool {
        matches!(self.phase, PodPhase::Failed | PodPhase::Succeeded)
    }
    /// isRunningAndReady (stateful_set_utils.go).
    pub fn running_and_ready(&self) -> bool {
        self.phase == PodPhase::Running && self.ready
    }
    /// isRunningAndAvailable: ready for at least minReadySeconds.
    pub fn available(&self, now: u64, min_ready_ms: u64) -> bool {
        self.running_and_ready()
            && self
                .ready_since_ms
                .is_some_and(|s| min_ready_ms == 0 || now >= s + min_ready_ms)
    }
    /// isUnavailable (stateful_set_utils.go): not available, or Terminating.
    /// A Terminating pod stays Ready until its containers exit, so upstream
    /// counts it as unavailable explicitly.
    pub fn unavailable(&self, now: u64, min_ready_ms: u64) -> bool {
        !self.available(now, min_ready_ms) || self.terminating()
    }
}

impl Default for PodStatus {
    fn default() -> Self {
        Self::new()
    }
}

/// Pod → the workload that owns it.
#[derive(Component, Debug)]
#[relationship(relationship_target = OwnedPods)]
pub struct PodOf(pub Entity);

/// Workload → its pods (kept by Bevy from `PodOf`).
#[derive(Component, Debug, Default)]
#[relationship_target(relationship = PodOf)]
pub struct OwnedPods(Vec<Entity>);

impl OwnedPods {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// Pod → the node it is bound to. Removed by Bevy if the node object is
/// deleted, while `PodStatus::node` keeps the name: that is how pod GC finds
/// pods bound to a node that no longer exists.
#[derive(Component, Debug)]
#[relationship(relationship_target = NodePods)]
pub struct ScheduledOn(pub Entity);

#[derive(Component, Debug, Default)]
#[relationship_target(relationship = ScheduledOn)]
pub struct NodePods(Vec<Entity>);

impl NodePods {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessStage {
    /// The container is being started.
    Starting {
        until_ms: u64,
    },
    Running,
    /// SIGTERM sent; exits at `until_ms`.
    Stopping {
        until_ms: u64,
    },
}

/// A container really running on a machine. It belongs to the machine, not to
/// the API: it keeps running on a partitioned node after its pod object is
/// force-deleted, which is how split brain happens.
#[derive(Component, Debug, Clone)]
pub struct Process {
    pub pod: String,
    pub pod_uid: String,
    pub owner: Owner,
    pub ordinal: Option<u32>,
    pub node: String,
    pub stage: ProcessStage,
    pub started_ms: u64,
    /// When the readiness probe first passes.
    pub ready_at_ms: u64,
    /// Volumes this process has mounted.
    pub volumes: Vec<String>,
    pub image: String,
    /// The application is not ready to serve yet (a replica still cloning).
    pub hold_ready: bool,
    /// The pod's init container with this index still runs (the tutorial's
    /// init-mysql and clone-mysql): the main container has not started.
    pub init: Option<u32>,
    /// The kubelet has reported this container started (PodStarted).
    pub reported: bool,
}

impl Process {
    pub fn running(&self) -> bool {
        matches!(self.stage, ProcessStage::Running)
    }
}

/// Process → the node (machine) it runs on.
#[derive(Component, Debug)]
#[relationship(relationship_target = NodeProcesses)]
pub struct RunsOn(pub Entity);

#[derive(Component, Debug, Default)]
#[relationship_target(relationship = RunsOn, linked_spawn)]
pub struct NodeProcesses(Vec<Entity>);

impl NodeProcesses {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_column_is_derived_like_kubectl_print_pod() {
        let mut st = PodStatus::new();
        assert_eq!(st.status_column(0), "Pending", "not scheduled");
        st.phase = PodPhase::ContainerCreating;
        assert_eq!(st.api_phase(), PodPhase::Pending);
        assert_eq!(st.status_column(0), "ContainerCreating");
        st.init = Some((1, 2));
        assert_eq!(st.status_column(0), "Init:1/2");
        st.init = None;
        st.waiting = Some("ErrImagePull: image x cannot be pulled".into());
        assert_eq!(st.status_column(0), "ErrImagePull");
        st.pull.backing_off = true;
        assert_eq!(st.status_column(10_000), "ImagePullBackOff");
        st.pull.backing_off = false;
        st.waiting = None;
        st.phase = PodPhase::Running;
        assert_eq!(st.status_column(0), "Running");
        // Crashed at 5 s while its back-off is 20 s: CrashLoopBackOff until 25 s.
        st.backoff = RestartBackOff {
            backoff_ms: 20_000,
            last_update_ms: 0,
            exited_ms: Some(5_000),
            waiting_until: None,
        };
        assert_eq!(st.status_column(6_000), "CrashLoopBackOff");
        assert_eq!(st.api_phase(), PodPhase::Running);
        assert_eq!(st.status_column(25_000), "Running");
        st.deletion_ms = Some(7_000);
        assert_eq!(st.status_column(8_000), "Terminating");
        st.deletion_ms = None;
        st.phase = PodPhase::Failed;
        st.reason = Some("Evicted".into());
        assert_eq!(st.status_column(0), "Evicted");
        st.deletion_ms = Some(1);
        assert_eq!(
            st.status_column(0),
            "Evicted",
            "a finished pod is not Terminating"
        );
    }

    #[test]
    fn image_pull_policy_defaults_to_always_for_latest_and_if_not_present_otherwise() {
        use PullPolicy::*;
        assert_eq!(PullPolicy::default_for("nginx:1.25"), IfNotPresent);
        assert_eq!(PullPolicy::default_for("nginx:latest"), Always);
        assert_eq!(PullPolicy::default_for("nginx"), Always, "no tag is latest");
        assert_eq!(PullPolicy::default_for("registry:5000/app"), Always);
        assert_eq!(PullPolicy::default_for("registry:5000/app:2"), IfNotPresent);
        assert_eq!(PullPolicy::default_for("app@sha256:abc"), IfNotPresent);
    }

    #[test]
    fn image_pull_back_off_doubles_from_10s_to_at_most_300s() {
        let mut b = PullBackOff::default();
        assert!(!b.in_back_off(0), "no entry before the first failure");
        let mut windows = Vec::new();
        let mut t = 0;
        for _ in 0..7 {
            let w = b.next(t);
            windows.push(w / 1000);
            b.backoff_ms = w;
            b.last_update_ms = t;
            assert!(b.in_back_off(t + w - 1));
            assert!(!b.in_back_off(t + w), "the window has passed");
            t += w;
        }
        assert_eq!(windows, [10, 20, 40, 80, 160, 300, 300]);
        // An entry not moved on for more than 2 × 300 s starts over.
        assert_eq!(b.next(t + 600_001), 10_000);
    }

    #[test]
    fn terminating_pod_is_unavailable_though_ready() {
        let mut st = PodStatus {
            phase: PodPhase::Running,
            ready: true,
            ready_since_ms: Some(0),
            ..PodStatus::new()
        };
        assert!(!st.unavailable(1_000, 0));
        st.deletion_ms = Some(500);
        assert!(
            st.available(1_000, 0),
            "still Ready and available as a status count"
        );
        assert!(st.unavailable(1_000, 0), "isUnavailable: Terminating");
        assert!(!st.serving(), "out of endpoints and DNS");
    }
}
