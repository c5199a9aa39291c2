//! The scenario player: fires steps in order when due (`at`, `after`, `when`),
//! sends their commands, checks their expectations, shows notes and pauses.

use super::format::*;
use super::load::Loaded;
use crate::sim::database::{Databases, replica_lag, rows_on};
use crate::sim::event::{EventKind, EventLog, SimEvent};
use crate::sim::invariant::Invariants;
use crate::sim::model::*;
use crate::sim::units::secs_to_ms;
use crate::sim::{AfterSettle, PauseRequest, SimClock, SimCommand};
use bevy::prelude::*;

/// What became of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepResult {
    Pending,
    Done { t_ms: u64 },
    Passed { t_ms: u64 },
    Failed { t_ms: u64, message: String },
}

/// The scenario being played.
#[derive(Resource, Debug, Clone)]
pub struct Lesson {
    pub loaded: Loaded,
    pub cursor: usize,
    /// When the current step was armed (the previous one fired).
    pub armed_ms: u64,
    pub results: Vec<StepResult>,
    /// GUI: pauses stop the clock. Headless: they are logged only.
    pub interactive: bool,
}

impl Lesson {
    pub fn new(loaded: Loaded, interactive: bool) -> Self {
        let n = loaded.scenario.steps.len();
        Lesson {
            loaded,
            cursor: 0,
            armed_ms: 0,
            results: vec![StepResult::Pending; n],
            interactive,
        }
    }
    pub fn finished(&self) -> bool {
        self.cursor >= self.loaded.scenario.steps.len()
    }
    pub fn failures(&self) -> Vec<(usize, String)> {
        self.results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r {
                StepResult::Failed { message, .. } => Some((i, message.clone())),
                _ => None,
            })
            .collect()
    }
    /// "step 4 (line 31)".
    pub fn step_label(&self, i: usize) -> String {
        let (l, _) = self.loaded.step_pos.get(i).copied().unwrap_or((0, 0));
        format!("step {} ({}:{})", i + 1, self.loaded.file, l)
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(AfterSettle, play_steps);
}

fn play_steps(world: &mut World) {
    let Some(mut lesson) = world.remove_resource::<Lesson>() else {
        return;
    };
    let now = world.resource::<SimClock>().now_ms;
    loop {
        if lesson.cursor >= lesson.loaded.scenario.steps.len() {
            break;
        }
        if world.resource::<PauseRequest>().0.is_some() {
            break;
        }
        let i = lesson.cursor;
        let step = lesson.loaded.scenario.steps[i].clone();
        let label = lesson.step_label(i);
        // Is it due?
        let due = if let Some(at) = step.at {
            let t = secs_to_ms(at).max(lesson.armed_ms);
            if now < t {
                world.resource_mut::<SimClock>().wake.at(t);
                false
            } else {
                true
            }
        } else if let Some(when) = &step.when {
            match eval(world, when) {
                Ok(()) => true,
                Err(actual) => {
                    if let Some(to) = step.timeout {
                        let deadline = lesson.armed_ms + secs_to_ms(to);
                        if now >= deadline {
                            let message = format!(
                                "{label}: `when: {}` did not hold within {to}s (now: {actual})",
                                when.as_written()
                            );
                            world.resource_mut::<EventLog>().emit(
                                now,
                                SimEvent::new(
                                    EventKind::ExpectationFailed,
                                    format!("scenario/step-{}", i + 1),
                                    message.clone(),
                                ),
                            );
                            lesson.results[i] = StepResult::Failed { t_ms: now, message };
                            lesson.cursor += 1;
                            lesson.armed_ms = now;
                            continue;
                        }
                        world.resource_mut::<SimClock>().wake.at(deadline);
                    }
                    false
                }
            }
        } else {
            let t = lesson.armed_ms + secs_to_ms(step.after.unwrap_or(0.0));
            if now < t {
                world.resource_mut::<SimClock>().wake.at(t);
                false
            } else {
                true
            }
        };
        if !due {
            break;
        }
        lesson.cursor += 1;
        lesson.armed_ms = now;
        let obj = format!("scenario/step-{}", i + 1);
        if let Some(crate::sim::SimCommand::Kubectl(line)) = &step.command {
            let _ = run_kubectl_step(world, line);
            lesson.results[i] = StepResult::Done { t_ms: now };
            break;
        } else if let Some(cmd) = &step.command {
            world.write_message(cmd.clone());
            world.resource_mut::<EventLog>().touch();
            lesson.results[i] = StepResult::Done { t_ms: now };
            // Let the cluster react before the next step is looked at.
            break;
        } else if let Some(chk) = &step.expect {
            match eval(world, chk) {
                Ok(()) => {
                    world.resource_mut::<EventLog>().emit(
                        now,
                        SimEvent::new(
                            EventKind::ExpectationPassed,
                            obj,
                            format!("{label}: {} holds", chk.as_written()),
                        ),
                    );
                    lesson.results[i] = StepResult::Passed { t_ms: now };
                }
                Err(actual) => {
                    let message = format!("{label}: expected {}, but {actual}", chk.as_written());
                    world.resource_mut::<EventLog>().emit(
                        now,
                        SimEvent::new(EventKind::ExpectationFailed, obj, message.clone()),
                    );
                    lesson.results[i] = StepResult::Failed { t_ms: now, message };
                }
            }
        } else if let Some(note) = &step.note {
            world
                .resource_mut::<EventLog>()
                .emit(now, SimEvent::new(EventKind::Note, obj, note.clone()));
            lesson.results[i] = StepResult::Done { t_ms: now };
        } else if let Some(q) = &step.pause {
            world
                .resource_mut::<EventLog>()
                .emit(now, SimEvent::new(EventKind::Pause, obj, q.clone()));
            lesson.results[i] = StepResult::Done { t_ms: now };
            if lesson.interactive {
                world.resource_mut::<PauseRequest>().0 = Some(q.clone());
                break;
            }
        }
    }
    world.insert_resource(lesson);
}

/// A `Kubectl("…")` step, or a line typed in the GUI's command line: the
/// line runs through the kubectl parser now; what kubectl prints is logged
/// (`KubectlRan`, object `kubectl`: the same whether a scenario step or the
/// GUI ran it, so a saved branch replays to the same log), an error is a
/// `CommandRejected`. Returns what kubectl printed (Ok) or its error (Err).
pub fn run_kubectl_step(world: &mut World, line: &str) -> Result<String, String> {
    let now = world.resource::<crate::sim::SimClock>().now_ms;
    let result = super::kubectl::run_line(world, line);
    let ev = match &result {
        Ok(out) => SimEvent::new(
            EventKind::KubectlRan,
            "kubectl",
            format!("kubectl {line}: {}", out.trim_end().replace('\n', " | ")),
        ),
        Err(e) => SimEvent::new(
            EventKind::CommandRejected,
            "command",
            format!("kubectl {line}: {}", e.trim_end().replace('\n', " | ")),
        ),
    };
    world.resource_mut::<EventLog>().emit(now, ev);
    result
}

/// `PodPhase(phase: P)`: P is the pod's STATUS column as kubectl shows it,
/// or its API phase while it is not being deleted. `ContainerCreating` also
/// matches a pod on a node whose container waits to start for another reason
/// (ErrImagePull, ImagePullBackOff, Init:…), as it did before the status
/// column existed. `Absent`: no such pod.
pub fn phase_matches(phase: PodPhase, st: Option<&PodStatus>, now: u64) -> bool {
    let Some(st) = st else {
        return phase == PodPhase::Absent;
    };
    if st.status_column(now) == phase.name() {
        return true;
    }
    if st.terminating() {
        return false;
    }
    phase == st.api_phase() || (phase == PodPhase::ContainerCreating && st.phase == phase)
}

fn pod_of<'w>(world: &'w World, name: &str) -> Option<(&'w Pod, &'w PodStatus)> {
    let e = *world.resource::<Index>().pods.get(name)?;
    Some((world.get::<Pod>(e)?, world.get::<PodStatus>(e)?))
}

/// Checks an expectation or condition now: Ok if it holds, else what is true instead.
pub fn eval(world: &mut World, chk: &Check) -> Result<(), String> {
    match chk {
        Check::PodPhase { pod, phase } => {
            let now = world.resource::<SimClock>().now_ms;
            let st = pod_of(world, pod).map(|(_, s)| s);
            if phase_matches(*phase, st, now) {
                Ok(())
            } else {
                Err(match st {
                    None => format!("{pod} does not exist"),
                    Some(s) => format!(
                        "{pod} shows {} (phase {})",
                        s.status_column(now),
                        s.api_phase().name()
                    ),
                })
            }
        }
        Check::PodStatus { pod, status } => {
            let now = world.resource::<SimClock>().now_ms;
            match pod_of(world, pod).map(|(_, s)| s.status_column(now)) {
                Some(got) if got == *status => Ok(()),
                Some(got) => Err(format!("{pod} shows {got}")),
                None => Err(format!("{pod} does not exist")),
            }
        }
        Check::PodRestarts { pod, min } => match pod_of(world, pod).map(|(_, s)| s.restarts) {
            Some(n) if n >= *min => Ok(()),
            Some(n) => Err(format!("{pod} was restarted {n} times")),
            None => Err(format!("{pod} does not exist")),
        },
        Check::PodReady { pod, ready } => {
            let got = pod_of(world, pod).map(|(_, s)| s.ready);
            match got {
                Some(r) if r == *ready => Ok(()),
                Some(r) => Err(format!(
                    "{pod} is {}",
                    if r { "Ready" } else { "not Ready" }
                )),
                None => Err(format!("{pod} does not exist")),
            }
        }
        Check::PodOnNode { pod, node } => {
            let got = pod_of(world, pod).map(|(_, s)| s.node.clone());
            match got {
                Some(n) if n == *node => Ok(()),
                Some(n) => Err(format!("{pod} is on {}", n.as_deref().unwrap_or("no node"))),
                None => Err(format!("{pod} does not exist")),
            }
        }
        Check::PodRevision { pod, revision } => {
            let Some((p, _)) = pod_of(world, pod) else {
                return Err(format!("{pod} does not exist"));
            };
            let rev = p.revision.clone();
            let set = p.owner.name.clone();
            let st = world
                .resource::<Index>()
                .sets
                .get(&set)
                .and_then(|&e| world.get::<SetStatus>(e));
            let want = match revision {
                RevisionRef::Word(RevisionWord::Current) => {
                    st.map(|s| s.current_revision.clone()).unwrap_or_default()
                }
                RevisionRef::Word(RevisionWord::Update) => {
                    st.map(|s| s.update_revision.clone()).unwrap_or_default()
                }
                RevisionRef::Hash(h) => h.clone(),
            };
            if rev == want || rev.ends_with(&format!("-{want}")) {
                Ok(())
            } else {
                Err(format!("{pod} runs revision {rev} (wanted {want})"))
            }
        }
        Check::ClaimExists { claim, exists } => {
            let got = world.resource::<Index>().claims.contains_key(claim);
            if got == *exists {
                Ok(())
            } else {
                Err(format!(
                    "{claim} {}",
                    if got { "exists" } else { "does not exist" }
                ))
            }
        }
        Check::VolumeAttached { claim, node } => {
            let index = world.resource::<Index>();
            let vol = index
                .claims
                .get(claim)
                .and_then(|&e| world.get::<ClaimStatus>(e))
                .and_then(|s| s.volume.clone());
            let Some(v) = vol else {
                return Err(format!("{claim} has no volume"));
            };
            let mut attached: Vec<String> = index
                .attachments_of(&v)
                .filter_map(|(_, &e)| world.get::<Attachment>(e))
                .filter(|a| a.state == AttachState::Attached && !a.forgotten)
                .map(|a| a.node.clone())
                .collect();
            attached.sort();
            let ok = match node {
                None => attached.is_empty(),
                Some(n) => attached.contains(n),
            };
            if ok {
                Ok(())
            } else if attached.is_empty() {
                Err(format!("{v} is not attached"))
            } else {
                Err(format!("{v} is attached to {}", attached.join(", ")))
            }
        }
        Check::SetStatus {
            set,
            replicas,
            ready,
            available,
            current,
            updated,
        } => {
            let index = world.resource::<Index>();
            if let Some(st) = index.sets.get(set).and_then(|&e| world.get::<SetStatus>(e)) {
                let got = [
                    ("replicas", st.replicas, replicas),
                    ("ready", st.ready, ready),
                    ("available", st.available, available),
                    ("current", st.current, current),
                    ("updated", st.updated, updated),
                ];
                let bad: Vec<String> = got
                    .iter()
                    .filter(|(_, g, w)| w.is_some_and(|w| w != *g))
                    .map(|(n, g, _)| format!("{n}={g}"))
                    .collect();
                if bad.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{set} has {}", bad.join(", ")))
                }
            } else if let Some(st) = index
                .deployments
                .get(set)
                .and_then(|&e| world.get::<DeploymentStatus>(e))
            {
                let got = [
                    ("replicas", st.replicas, replicas),
                    ("ready", st.ready, ready),
                    ("updated", st.updated, updated),
                ];
                let bad: Vec<String> = got
                    .iter()
                    .filter(|(_, g, w)| w.is_some_and(|w| w != *g))
                    .map(|(n, g, _)| format!("{n}={g}"))
                    .collect();
                if bad.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{set} has {}", bad.join(", ")))
                }
            } else {
                Err(format!("{set} does not exist"))
            }
        }
        Check::EventOrder(refs) => {
            let log = world.resource::<EventLog>();
            let mut it = log.events.iter();
            for (k, r) in refs.iter().enumerate() {
                if !it.any(|e| matches(e, r)) {
                    return Err(format!(
                        "event {} ({} {}) was not found after the ones before it",
                        k + 1,
                        r.kind,
                        r.object.as_deref().unwrap_or("")
                    ));
                }
            }
            Ok(())
        }
        Check::EventSeen(r) => {
            if world
                .resource::<EventLog>()
                .events
                .iter()
                .any(|e| matches(e, r))
            {
                Ok(())
            } else {
                Err(format!(
                    "no {} {} event so far",
                    r.kind,
                    r.object.as_deref().unwrap_or("")
                ))
            }
        }
        Check::ReplicaLag { pod, max_rows } => match replica_lag(world, pod) {
            Some(l) if l <= *max_rows => Ok(()),
            Some(l) => Err(format!("{pod} is {l} rows behind")),
            None => Err(format!("{pod} runs no database server")),
        },
        Check::RowsOn { pod, rows } => match rows_on(world, pod) {
            Some(r) if r == *rows => Ok(()),
            Some(r) => Err(format!("{pod}'s volume holds {r} rows")),
            None => Err(format!("{pod} has no volume")),
        },
        Check::NoInvariantBroken => {
            let inv = world.resource::<Invariants>();
            if inv.total == 0 {
                Ok(())
            } else {
                // The first breach says which invariant and where.
                let first = world
                    .resource::<EventLog>()
                    .events
                    .iter()
                    .find(|e| e.kind == EventKind::InvariantBroken)
                    .map(|e| format!(", the first: {}", e.reason))
                    .unwrap_or_default();
                Err(format!(
                    "{} invariant breach(es) were reported{first}",
                    inv.total
                ))
            }
        }
        Check::InvariantBroken => {
            if world.resource::<Invariants>().total > 0 {
                Ok(())
            } else {
                Err("no invariant breach was reported".into())
            }
        }
        Check::Ready { set, count } => {
            let index = world.resource::<Index>();
            let got = index
                .sets
                .get(set)
                .and_then(|&e| world.get::<SetStatus>(e))
                .map(|s| s.ready)
                .or_else(|| {
                    index
                        .deployments
                        .get(set)
                        .and_then(|&e| world.get::<DeploymentStatus>(e))
                        .map(|s| s.ready)
                });
            match got {
                Some(g) if g == *count => Ok(()),
                Some(g) => Err(format!("{set} has {g} Ready")),
                None => Err(format!("{set} does not exist")),
            }
        }
        Check::WritesFailed { set, min } => {
            let dbs = world.resource::<Databases>();
            let db = match set {
                Some(s) => dbs.dbs.get(s),
                None => dbs.dbs.values().next(),
            };
            match db {
                Some(d) if d.failed >= *min => Ok(()),
                Some(d) => Err(format!("{} writes failed", d.failed)),
                None => Err("no database".into()),
            }
        }
        Check::Converged { set } => super::settled::converged(world, set),
        Check::NoWriteLost { set } => super::settled::no_write_lost(world, set.as_deref()),
    }
}

fn matches(e: &SimEvent, r: &EventRef) -> bool {
    e.kind.name() == r.kind
        && r.object.as_ref().is_none_or(|o| *o == e.object)
        && r.node.as_ref().is_none_or(|n| e.node.as_ref() == Some(n))
        && r.detail
            .as_ref()
            .is_none_or(|d| e.detail.as_ref() == Some(d))
}

/// Sends a command from outside a scenario (the UI).
pub fn send(world: &mut World, cmd: SimCommand) {
    world.write_message(cmd);
}
