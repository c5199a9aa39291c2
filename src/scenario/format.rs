//! The scenario file format (docs/scenario-format.md): cluster, workloads and steps.

use crate::sim::SimCommand;
use crate::sim::model::{DisruptionBudgetSpec, NodeSpec, PodPhase, StorageClassSpec, WorkloadSpec};
use serde::{Deserialize, Serialize};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub cluster: ClusterSpec,
    #[serde(default)]
    pub workloads: Vec<WorkloadSpec>,
    /// PodDisruptionBudgets over the workloads' pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disruption_budgets: Vec<DisruptionBudgetSpec>,
    /// Kubernetes manifest files (or folders) whose objects are added to
    /// `cluster` and `workloads`, relative to the scenario file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    #[serde(default)]
    pub storage_classes: Vec<StorageClassSpec>,
    #[serde(default)]
    pub broken_images: Vec<String>,
    /// The Kubernetes release, "MAJOR.MINOR" or "MAJOR.MINOR.PATCH"; None:
    /// the newest modelled (sim::version::NEWEST).
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    /// Feature gates set against the release's defaults, by name.
    #[serde(default)]
    pub feature_gates: std::collections::BTreeMap<String, bool>,
}

/// One step: a trigger (`at`, `after` or `when`) and one of `do`, `expect`,
/// `note`, `pause`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub at: Option<f64>,
    #[serde(default)]
    pub after: Option<f64>,
    #[serde(default)]
    pub when: Option<Check>,
    #[serde(default)]
    pub timeout: Option<f64>,
    #[serde(default, rename = "do")]
    pub command: Option<SimCommand>,
    #[serde(default)]
    pub expect: Option<Check>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub pause: Option<String>,
    /// With `pause` only: the answer, for the presenter. Shown after the
    /// class has answered (the reveal) and printed in the teaching guide;
    /// never on screen while the question is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// With `pause` only: the question as multiple choice (2 to 4 options,
    /// shown as A, B, C, D for a show of hands; exported to the handout and
    /// to Moodle's GIFT format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    /// With `choices` only: the correct one, written as in `choices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<String>,
}

impl Step {
    /// The letter of a choice shown to the class: A, B, C, D.
    pub fn choice_letter(i: usize) -> char {
        (b'A' + (i % 26) as u8) as char
    }

    /// The correct choice's index, when the question is multiple choice.
    pub fn correct_choice(&self) -> Option<usize> {
        let want = self.correct.as_ref()?;
        self.choices.as_ref()?.iter().position(|c| c == want)
    }
}

impl Step {
    /// A lesson that expects an invariant breach (the split-brain lessons)
    /// says so with `expect: InvariantBroken` or `when: InvariantBroken`.
    pub fn expects_breach(&self) -> bool {
        matches!(self.expect, Some(Check::InvariantBroken))
            || matches!(self.when, Some(Check::InvariantBroken))
    }

    /// A text about this step (an event reason, a failure message) with its
    /// checks in words instead of as written: the log quotes a check in RON
    /// (`PodReady(pod:"web-1",ready:true)`), people read "web-1 is Ready".
    pub fn in_words(&self, text: &str) -> String {
        let mut out = text.to_string();
        for c in [&self.expect, &self.when].into_iter().flatten() {
            let (ron, words) = (c.as_written(), c.describe());
            out = out
                .replace(&format!("{ron} holds"), &format!("{words}, as expected"))
                .replace(&format!("`when: {ron}`"), &format!("\"{words}\""))
                .replace(&ron, &words);
        }
        out
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub enum RevisionWord {
    Current,
    Update,
}

/// `Current`, `Update`, or a revision name / hash.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RevisionRef {
    Word(RevisionWord),
    Hash(String),
}

/// An event to look for in `EventOrder`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventRef {
    pub kind: String,
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    /// The event's `detail` (e.g. a clone's source, or "skipped").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An expectation (`expect`) or a condition (`when`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Check {
    PodPhase {
        pod: String,
        phase: PodPhase,
    },
    PodReady {
        pod: String,
        ready: bool,
    },
    PodOnNode {
        pod: String,
        node: Option<String>,
    },
    PodRevision {
        pod: String,
        revision: RevisionRef,
    },
    ClaimExists {
        claim: String,
        exists: bool,
    },
    VolumeAttached {
        claim: String,
        node: Option<String>,
    },
    SetStatus {
        set: String,
        #[serde(default)]
        replicas: Option<u32>,
        #[serde(default)]
        ready: Option<u32>,
        #[serde(default)]
        available: Option<u32>,
        #[serde(default)]
        current: Option<u32>,
        #[serde(default)]
        updated: Option<u32>,
    },
    EventOrder(Vec<EventRef>),
    /// At least one event of this kind (optionally for this object) was logged.
    EventSeen(EventRef),
    ReplicaLag {
        pod: String,
        max_rows: u64,
    },
    RowsOn {
        pod: String,
        rows: u64,
    },
    NoInvariantBroken,
    /// At least one invariant breach was reported (the split-brain lesson).
    InvariantBroken,
    /// Exactly `count` pods of the set are Running and Ready.
    Ready {
        set: String,
        count: u32,
    },
    /// Writes refused so far by the database of `set` (at least `min`).
    WritesFailed {
        #[serde(default)]
        set: Option<String>,
        min: u64,
    },
    /// The StatefulSet has settled: every replica Running and Ready, the
    /// rollout complete (currentRevision = updateRevision), and, with a
    /// database, every replica replicating and caught up with the primary.
    Converged {
        set: String,
    },
    /// Every write the database's primary acknowledged is on the primary's
    /// volume (a final read, Jepsen's set-full check).
    NoWriteLost {
        #[serde(default)]
        set: Option<String>,
    },
    /// The pod's STATUS column, as `kubectl get pods` shows it, is exactly
    /// `status` ("CrashLoopBackOff", "Init:1/2", "ImagePullBackOff", …).
    PodStatus {
        pod: String,
        status: String,
    },
    /// The kubelet restarted the pod's container at least `min` times.
    PodRestarts {
        pod: String,
        min: u32,
    },
}

impl Check {
    /// The check's name as written in a scenario (`PodReady`, `EventOrder`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Check::PodPhase { .. } => "PodPhase",
            Check::PodReady { .. } => "PodReady",
            Check::PodOnNode { .. } => "PodOnNode",
            Check::PodRevision { .. } => "PodRevision",
            Check::ClaimExists { .. } => "ClaimExists",
            Check::VolumeAttached { .. } => "VolumeAttached",
            Check::SetStatus { .. } => "SetStatus",
            Check::EventOrder(_) => "EventOrder",
            Check::EventSeen(_) => "EventSeen",
            Check::ReplicaLag { .. } => "ReplicaLag",
            Check::RowsOn { .. } => "RowsOn",
            Check::NoInvariantBroken => "NoInvariantBroken",
            Check::InvariantBroken => "InvariantBroken",
            Check::Ready { .. } => "Ready",
            Check::WritesFailed { .. } => "WritesFailed",
            Check::Converged { .. } => "Converged",
            Check::NoWriteLost { .. } => "NoWriteLost",
            Check::PodStatus { .. } => "PodStatus",
            Check::PodRestarts { .. } => "PodRestarts",
        }
    }

    /// The event kinds this check looks for in the event log, by name. A
    /// headless run that streams its log to a file keeps only events of
    /// these kinds (and breaches) in memory, so a check that reads the log
    /// must list what it reads here (the match has no catch-all on purpose).
    pub fn kinds_in_log(&self) -> Vec<&str> {
        match self {
            Check::EventOrder(refs) => refs.iter().map(|r| r.kind.as_str()).collect(),
            Check::EventSeen(r) => vec![r.kind.as_str()],
            Check::PodPhase { .. }
            | Check::PodStatus { .. }
            | Check::PodRestarts { .. }
            | Check::PodReady { .. }
            | Check::PodOnNode { .. }
            | Check::PodRevision { .. }
            | Check::ClaimExists { .. }
            | Check::VolumeAttached { .. }
            | Check::SetStatus { .. }
            | Check::ReplicaLag { .. }
            | Check::RowsOn { .. }
            | Check::Ready { .. }
            | Check::WritesFailed { .. }
            // These read the world's state, not the log.
            | Check::Converged { .. }
            | Check::NoWriteLost { .. }
            // Breaches are counted by the invariant checker, not the log.
            | Check::NoInvariantBroken
            | Check::InvariantBroken => Vec::new(),
        }
    }

    /// The check as written in the scenario file (RON). The event log's
    /// `ExpectationPassed` / `ExpectationFailed` reasons quote it this way,
    /// so that a log line can be matched back to its step exactly.
    pub fn as_written(&self) -> String {
        ron::ser::to_string(self).unwrap_or_else(|_| self.name().to_string())
    }

    /// The check as a sentence for people: "web-1 is Ready", "api has 3
    /// replicas, 3 ready", "in order: NodeFailed, web-1 evicted".
    pub fn describe(&self) -> String {
        match self {
            Check::PodPhase { pod, phase } => match phase {
                PodPhase::Absent => format!("{pod} does not exist"),
                p => format!("{pod} is {}", p.name()),
            },
            Check::PodStatus { pod, status } => format!("{pod} shows {status}"),
            Check::PodRestarts { pod, min: 1 } => format!("{pod} was restarted"),
            Check::PodRestarts { pod, min } => {
                format!("{pod} was restarted at least {min} times")
            }
            Check::PodReady { pod, ready: true } => format!("{pod} is Ready"),
            Check::PodReady { pod, ready: false } => format!("{pod} is not Ready"),
            Check::PodOnNode { pod, node: Some(n) } => format!("{pod} is on {n}"),
            Check::PodOnNode { pod, node: None } => format!("{pod} is on no node"),
            Check::PodRevision { pod, revision } => match revision {
                RevisionRef::Word(RevisionWord::Current) => {
                    format!("{pod} runs the current revision")
                }
                RevisionRef::Word(RevisionWord::Update) => {
                    format!("{pod} runs the update revision")
                }
                RevisionRef::Hash(h) => format!("{pod} runs revision {h}"),
            },
            Check::ClaimExists {
                claim,
                exists: true,
            } => format!("claim {claim} exists"),
            Check::ClaimExists {
                claim,
                exists: false,
            } => format!("claim {claim} is gone"),
            Check::VolumeAttached {
                claim,
                node: Some(n),
            } => format!("the volume of {claim} is attached to {n}"),
            Check::VolumeAttached { claim, node: None } => {
                format!("the volume of {claim} is attached nowhere")
            }
            Check::SetStatus {
                set,
                replicas,
                ready,
                available,
                current,
                updated,
            } => {
                let counts: Vec<String> = [
                    (replicas, "replicas"),
                    (ready, "ready"),
                    (available, "available"),
                    (current, "current"),
                    (updated, "updated"),
                ]
                .iter()
                .filter_map(|(n, what)| n.map(|n| format!("{n} {what}")))
                .collect();
                if counts.is_empty() {
                    format!("{set} exists")
                } else {
                    format!("{set} has {}", counts.join(", "))
                }
            }
            Check::EventOrder(refs) => {
                let each: Vec<String> = refs.iter().map(EventRef::describe).collect();
                format!("in order: {}", each.join(", "))
            }
            Check::EventSeen(r) => format!("seen: {}", r.describe()),
            Check::ReplicaLag { pod, max_rows } => {
                format!("{pod} is at most {max_rows} rows behind its primary")
            }
            Check::RowsOn { pod, rows } => format!("{pod}'s volume holds {rows} rows"),
            Check::NoInvariantBroken => "no invariant was broken".to_string(),
            Check::InvariantBroken => "an invariant was broken".to_string(),
            Check::Ready { set, count } => {
                format!("exactly {count} pods of {set} are Running and Ready")
            }
            Check::WritesFailed { set: Some(s), min } => {
                format!("at least {min} writes to {s} were refused")
            }
            Check::WritesFailed { set: None, min } => {
                format!("at least {min} writes were refused")
            }
            Check::Converged { set } => {
                format!("{set} has converged (all Ready, rollout complete, replicas caught up)")
            }
            Check::NoWriteLost { set: Some(s) } => {
                format!("every write {s}'s primary acknowledged is on its volume")
            }
            Check::NoWriteLost { set: None } => {
                "every write the primary acknowledged is on its volume".to_string()
            }
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The object kinds of `object: "pod/web-1"` and the prefix their event
/// kinds share, so that `PodEvicted` of `pod/web-1` reads "web-1 evicted".
const KIND_PREFIXES: [(&str, &str); 6] = [
    ("pod", "Pod"),
    ("pvc", "Claim"),
    ("pv", "Volume"),
    ("node", "Node"),
    ("statefulset", "Set"),
    ("deployment", "Deployment"),
];

/// Words that are Kubernetes states, kept as kubectl writes them.
const STATE_WORDS: [&str; 6] = [
    "Ready",
    "NotReady",
    "Terminating",
    "Running",
    "Pending",
    "Unschedulable",
];

/// "ForceDeleted" → "force deleted".
fn camel_to_words(s: &str) -> String {
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(ch.to_lowercase());
    }
    out
}

impl EventRef {
    /// The event as words: "NodeFailed", "web-1 evicted", "web-1 Terminating",
    /// "web blocked", "mysql-1 clone started (mysql-0)", "NodeFailed on node-b".
    pub fn describe(&self) -> String {
        let mut s = match self.object.as_deref().and_then(|o| o.split_once('/')) {
            Some((kind, name)) => {
                let prefix = KIND_PREFIXES
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map_or("", |(_, p)| *p);
                let rest = self
                    .kind
                    .strip_prefix(prefix)
                    .filter(|r| !r.is_empty())
                    .unwrap_or(&self.kind);
                if STATE_WORDS.contains(&rest) {
                    format!("{name} {rest}")
                } else {
                    format!("{name} {}", camel_to_words(rest))
                }
            }
            None => self.kind.clone(),
        };
        if let Some(n) = &self.node {
            s.push_str(&format!(" on {n}"));
        }
        if let Some(d) = &self.detail {
            s.push_str(&format!(" ({d})"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, object: Option<&str>) -> EventRef {
        EventRef {
            kind: kind.into(),
            object: object.map(String::from),
            node: None,
            detail: None,
        }
    }

    #[test]
    fn an_event_order_reads_as_a_sentence_of_events() {
        let c = Check::EventOrder(vec![
            ev("NodeFailed", None),
            ev("NodeNotReady", None),
            ev("PodEvicted", Some("pod/web-1")),
            ev("PodTerminating", Some("pod/web-1")),
        ]);
        assert_eq!(
            c.describe(),
            "in order: NodeFailed, NodeNotReady, web-1 evicted, web-1 Terminating"
        );
    }

    #[test]
    fn an_event_names_its_object_node_and_detail() {
        assert_eq!(
            ev("SetBlocked", Some("statefulset/web")).describe(),
            "web blocked"
        );
        assert_eq!(
            ev("PodForceDeleted", Some("pod/web-1")).describe(),
            "web-1 force deleted"
        );
        assert_eq!(
            ev("ImagePullFailed", Some("pod/web-2")).describe(),
            "web-2 image pull failed"
        );
        let mut r = ev("CloneStarted", Some("pod/mysql-2"));
        r.node = Some("node-b".into());
        r.detail = Some("mysql-1".into());
        assert_eq!(r.describe(), "mysql-2 clone started on node-b (mysql-1)");
        assert_eq!(
            Check::EventSeen(ev("RolloutComplete", Some("statefulset/web"))).describe(),
            "seen: web rollout complete"
        );
    }

    #[test]
    fn a_set_status_names_only_the_counts_it_checks() {
        let c = Check::SetStatus {
            set: "api".into(),
            replicas: Some(3),
            ready: Some(3),
            available: None,
            current: None,
            updated: None,
        };
        assert_eq!(c.describe(), "api has 3 replicas, 3 ready");
        assert_eq!(c.to_string(), c.describe());
    }

    #[test]
    fn pod_checks_read_like_kubectl_states() {
        let ready = Check::PodReady {
            pod: "web-1".into(),
            ready: true,
        };
        assert_eq!(ready.describe(), "web-1 is Ready");
        let gone = Check::PodPhase {
            pod: "web-1".into(),
            phase: PodPhase::Absent,
        };
        assert_eq!(gone.describe(), "web-1 does not exist");
        let running = Check::PodPhase {
            pod: "web-1".into(),
            phase: PodPhase::Running,
        };
        assert_eq!(running.describe(), "web-1 is Running");
        let rev = Check::PodRevision {
            pod: "web-2".into(),
            revision: RevisionRef::Word(RevisionWord::Update),
        };
        assert_eq!(rev.describe(), "web-2 runs the update revision");
    }

    #[test]
    fn no_description_is_ron_or_debug_text() {
        let all = [
            Check::ClaimExists {
                claim: "data-web-1".into(),
                exists: false,
            },
            Check::VolumeAttached {
                claim: "data-web-1".into(),
                node: Some("node-b".into()),
            },
            Check::ReplicaLag {
                pod: "mysql-1".into(),
                max_rows: 10,
            },
            Check::RowsOn {
                pod: "mysql-1".into(),
                rows: 500,
            },
            Check::NoInvariantBroken,
            Check::InvariantBroken,
            Check::Ready {
                set: "web".into(),
                count: 3,
            },
            Check::WritesFailed { set: None, min: 1 },
        ];
        for c in all {
            let d = c.describe();
            assert!(!d.contains(['(', '{', ':', '"']), "{d}");
            assert!(!d.contains("Some") && !d.contains("None"), "{d}");
        }
    }

    #[test]
    fn a_step_message_quotes_its_check_in_words() {
        let step = Step {
            expect: Some(Check::PodReady {
                pod: "web-1".into(),
                ready: true,
            }),
            ..Default::default()
        };
        assert_eq!(
            step.in_words(r#"step 3 (x.ron:9): PodReady(pod:"web-1",ready:true) holds"#),
            "step 3 (x.ron:9): web-1 is Ready, as expected"
        );
        assert_eq!(
            step.in_words(r#"expected PodReady(pod:"web-1",ready:true), but it is not"#),
            "expected web-1 is Ready, but it is not"
        );
    }

    #[test]
    fn the_name_is_the_variant_as_written_and_as_written_is_ron() {
        let c = Check::PodReady {
            pod: "web-1".into(),
            ready: true,
        };
        assert_eq!(c.name(), "PodReady");
        assert_eq!(c.as_written(), r#"PodReady(pod:"web-1",ready:true)"#);
        assert_eq!(Check::NoInvariantBroken.name(), "NoInvariantBroken");
    }
}
