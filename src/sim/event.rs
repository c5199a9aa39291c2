//! SimEvent: what happened in the simulated cluster and why, and the ordered log of them.

use super::k8s_event::{K8sRecord, k8s_record};
use bevy::prelude::*;
use serde::Serialize;

/// Defines `EventKind`, `ALL_KINDS` and `EventKind::name` from one list, so
/// the list of all kinds and the names cannot drift from the enum.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $kind:ident,)*) => {
        /// Kinds of events. The names are part of the public interface (docs/scenario-format.md).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
        pub enum EventKind {
            $($(#[$doc])* $kind,)*
        }

        /// Every kind, for validation of scenario references.
        pub const ALL_KINDS: &[EventKind] = &[$(EventKind::$kind,)*];

        impl EventKind {
            /// The name as written in the event log (the variant name).
            pub const fn name(self) -> &'static str {
                match self {
                    $(EventKind::$kind => stringify!($kind),)*
                }
            }
        }
    };
}

event_kinds! {
    PodCreated,
    PodScheduled,
    PodUnschedulable,
    PodStarted,
    PodReady,
    PodNotReady,
    PodTerminating,
    PodDeleted,
    PodForceDeleted,
    PodFailed,
    PodEvicted,
    /// The kubelet could not pull the image (ErrImagePull / ImagePullBackOff).
    ImagePullFailed,
    /// A container process stopped on its node (crash, machine death, kill).
    ProcessStopped,
    ClaimCreated,
    ClaimBound,
    ClaimDeleted,
    /// A claim was asked to be deleted but is still in use (pvc-protection).
    ClaimTerminating,
    VolumeProvisioned,
    VolumeDeleted,
    VolumeAttached,
    VolumeDetached,
    VolumeMultiAttachError,
    NodeNotReady,
    NodeReady,
    NodeTainted,
    NodeUntainted,
    NodeDeleted,
    NodeAdded,
    NodeFailed,
    NodePartitioned,
    NodeRecovered,
    NodeCordoned,
    NodeUncordoned,
    /// A zone's disruption state changed (Normal, PartialDisruption,
    /// FullDisruption): its NoExecute tainting rate changes with it.
    ZoneStateChanged,
    /// Every node of every zone is NotReady: evictions stop, taints removed.
    FullDisruptionStarted,
    /// Some node is Ready again after a full disruption.
    FullDisruptionEnded,
    /// The API server dropped a field whose feature gate is off.
    FieldDropped,
    SetBlocked,
    SetScaled,
    SetUpdated,
    SetDeleted,
    RevisionCreated,
    RolloutComplete,
    DeploymentScaled,
    DeploymentUpdated,
    ReplicationStarted,
    ReplicationBroken,
    CloneStarted,
    CloneFinished,
    WritesFailed,
    WritesResumed,
    DataDiverged,
    InvariantBroken,
    InvariantRestored,
    ExpectationFailed,
    ExpectationPassed,
    CommandRejected,
    Note,
    Pause,
    /// The eviction API refused to evict a pod (its PodDisruptionBudget).
    EvictionBlocked,
    /// A `kubectl drain` finished: every pod it evicted is gone.
    NodeDrained,
    /// A kubectl step ran: the command and what kubectl printed.
    KubectlRan,
    /// The kubelet started a new container in the same pod after its
    /// container exited (restartPolicy Always).
    ContainerRestarted,
    /// The kubelet waits before restarting an exited container
    /// (CrashLoopBackOff).
    BackOff,
    /// The kubelet sent SIGTERM to a deleted pod's container (Killing).
    ContainerStopping,
    /// The kubelet starts pulling the container's image (Pulling).
    ImagePulling,
    /// The image is on the node: just pulled, or already present (Pulled).
    ImagePulled,
    /// The registry refused the pull ("Failed to pull image").
    ImagePullError,
    /// The kubelet does not pull again until the image back-off has passed
    /// ("Back-off pulling image"; STATUS ImagePullBackOff).
    ImagePullBackOff,
    /// The garbage collector removed a pod's ownerReference to its deleted
    /// StatefulSet (`kubectl delete --cascade=orphan`): it runs on, unowned.
    PodOrphaned,
    /// A StatefulSet adopted a pod its selector matches that had no
    /// controller (ControllerRefManager `ClaimPods`).
    PodAdopted,
    /// A new StatefulSet's template equals the newest ControllerRevision it
    /// adopted: that revision stays the update and current revision.
    RevisionAdopted,
    /// The external resizer expands a claim's volume (Resizing).
    ClaimResizing,
    /// The volume is expanded; its file system must be grown on the node
    /// (FileSystemResizeRequired, condition FileSystemResizePending).
    FileSystemResizePending,
    /// The kubelet grew the file system: the claim's capacity is the new
    /// size (FileSystemResizeSuccessful).
    FileSystemResized,
}

impl EventKind {
    /// Parses a kind from its log name.
    pub fn parse(s: &str) -> Option<EventKind> {
        ALL_KINDS.iter().copied().find(|k| k.name() == s)
    }
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimEvent {
    pub t_ms: u64,
    pub kind: EventKind,
    /// `pod/web-1`, `node/node-a`, `pvc/www-web-1`, `pv/pv-…`, `statefulset/web`, …
    pub object: String,
    pub node: Option<String>,
    /// A human sentence naming the rule or the wait.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The event as Kubernetes itself records it, for events it records
    /// (k8s_event.rs); None for what only the simulator logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s: Option<K8sRecord>,
}

impl SimEvent {
    pub fn new(kind: EventKind, object: impl Into<String>, reason: impl Into<String>) -> Self {
        SimEvent {
            t_ms: 0,
            kind,
            object: object.into(),
            node: None,
            reason: reason.into(),
            volume: None,
            revision: None,
            detail: None,
            k8s: None,
        }
    }
    pub fn node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }
    pub fn node_opt(mut self, node: Option<String>) -> Self {
        self.node = node;
        self
    }
    pub fn volume(mut self, v: impl Into<String>) -> Self {
        self.volume = Some(v.into());
        self
    }
    pub fn revision(mut self, r: impl Into<String>) -> Self {
        self.revision = Some(r.into());
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    /// Attaches the Kubernetes record (for an emitter that knows more than
    /// the line's fields; otherwise `k8s_record` derives it when logged).
    pub fn k8s(mut self, r: K8sRecord) -> Self {
        self.k8s = Some(r);
        self
    }

    /// The JSON Lines form: a single line, fields in contract order.
    pub fn to_json_line(&self) -> String {
        // Serialization of plain strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The ordered event log of a run, plus an activity counter the driver uses
/// to tell when a simulated instant has settled.
///
/// A headless run that streams its log to a file moves events out with
/// [`EventLog::stream_to`]: `events` then holds only the ones a scenario
/// check may still look for, and `streamed` counts the rest.
#[derive(Resource, Default, Debug)]
pub struct EventLog {
    pub events: Vec<SimEvent>,
    /// Bumped by every state change, logged or not.
    pub activity: u64,
    /// The part of `activity` that only the database's own systems read:
    /// what a database system changed besides a watched component (its
    /// rows, replication state, counts and events; see `sim::settle`).
    pub internal: u64,
    /// Events written out by a streaming writer and no longer in `events`.
    pub streamed: usize,
    /// How many of `events` (from the front) were written out already but
    /// kept, because a check may look for them.
    written: usize,
    /// The instant of the last event logged, wherever it is now.
    last_ms: Option<u64>,
}

impl EventLog {
    /// The captions a lesson shows now: every note (`Note` event) of the
    /// latest instant that had one, in the order logged, so none is hidden
    /// by the next. The window's caption strip and `--slides` both read it.
    pub fn current_captions(&self) -> Vec<&str> {
        let mut notes = self
            .events
            .iter()
            .rev()
            .filter(|e| e.kind == EventKind::Note);
        let Some(last) = notes.next() else {
            return Vec::new();
        };
        // Events are logged in time order: the notes of `last`'s instant
        // are the ones just before it.
        let mut out: Vec<&str> = std::iter::once(last)
            .chain(notes.take_while(|e| e.t_ms == last.t_ms))
            .map(|e| e.reason.as_str())
            .collect();
        out.reverse();
        out
    }

    /// Appends an event stamped with `now`.
    pub fn emit(&mut self, now: u64, mut ev: SimEvent) {
        ev.t_ms = now;
        self.last_ms = Some(now);
        if ev.k8s.is_none() {
            ev.k8s = k8s_record(&ev);
        }
        self.events.push(ev);
        self.activity += 1;
    }
    /// Appends an event that repeats a steady state (a kubelet retrying a
    /// pull that keeps failing): logged like any other, but not news for
    /// "nothing happened for a while" ([`EventLog::last_ms`] stays), so a
    /// run whose only activity is such retries can still end quietly.
    pub fn emit_repeat(&mut self, now: u64, ev: SimEvent) {
        let last = self.last_ms;
        self.emit(now, ev);
        self.last_ms = last;
    }
    /// Records a state change that has no event of its own.
    pub fn touch(&mut self) {
        self.activity += 1;
    }
    /// How many events of this kind are in memory (all of them unless the
    /// log is streamed and the kind is not kept).
    pub fn count(&self, kind: EventKind) -> usize {
        self.events.iter().filter(|e| e.kind == kind).count()
    }
    /// Every event logged so far, streamed out or not.
    pub fn total(&self) -> usize {
        self.streamed + self.events.len()
    }
    /// The instant of the last event logged (repeats of a steady state,
    /// [`EventLog::emit_repeat`], left out).
    pub fn last_ms(&self) -> Option<u64> {
        self.last_ms
    }

    /// Writes the events logged since the last call as JSON Lines and drops
    /// from memory those `keep` does not want (the ones no check can match).
    /// The lines written over all calls are exactly [`EventLog::to_jsonl`]'s.
    pub fn stream_to(
        &mut self,
        out: &mut dyn std::io::Write,
        keep: &dyn Fn(&SimEvent) -> bool,
    ) -> std::io::Result<()> {
        let mut line = Vec::new();
        for e in &self.events[self.written..] {
            line.clear();
            // Serialization of plain strings and integers cannot fail.
            serde_json::to_writer(&mut line, e).map_err(std::io::Error::other)?;
            line.push(b'\n');
            out.write_all(&line)?;
        }
        // Only the new events are looked at: the kept ones stay as they are.
        let new = self.events.split_off(self.written);
        let count = new.len();
        self.events.extend(new.into_iter().filter(|e| keep(e)));
        self.streamed += count - (self.events.len() - self.written);
        self.written = self.events.len();
        Ok(())
    }

    /// The whole log as JSON Lines.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            out.push_str(&e.to_json_line());
            out.push('\n');
        }
        out
    }
}

/// FNV-1a 64-bit: a tiny stable hash for golden tests and revision names.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_captions_shown_are_every_note_of_the_latest_instant_that_had_one() {
        let mut log = EventLog::default();
        assert!(log.current_captions().is_empty());
        let note = |r: &str| SimEvent::new(EventKind::Note, "lesson", r);
        log.emit(1_000, note("first"));
        log.emit(5_000, note("second"));
        log.emit(
            5_000,
            SimEvent::new(EventKind::PodReady, "pod/web-0", "ready"),
        );
        log.emit(5_000, note("third"));
        log.emit(
            9_000,
            SimEvent::new(EventKind::PodReady, "pod/web-1", "ready"),
        );
        // A later event that is not a note hides nothing.
        assert_eq!(log.current_captions(), ["second", "third"]);
        log.emit(12_000, note("fourth"));
        assert_eq!(log.current_captions(), ["fourth"]);
    }
}
