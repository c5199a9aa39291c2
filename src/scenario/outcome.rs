//! What a run came to, for putting two runs side by side (`statefulset-sim
//! diff`, the GUI's compare view): when each pod was last Ready, each set's
//! ready replicas and revisions, the database's writes, invariant breaches
//! and the time to recover; and the first instant two event logs diverge.

use crate::sim::database::Databases;
use crate::sim::event::{EventKind, EventLog, SimEvent};
use crate::sim::model::*;
use crate::sim::{SimClock, units};
use bevy::prelude::*;
use std::collections::BTreeMap;

/// A set's or Deployment's figures at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct SetOutcome {
    pub name: String,
    pub replicas: u32,
    pub ready: u32,
    /// StatefulSets: the current and the update revision.
    pub revisions: Option<(String, String)>,
}

/// A database's writes at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct DbOutcome {
    pub name: String,
    pub acknowledged: u64,
    pub refused: u64,
    /// Acknowledged rows the current primary does not hold.
    pub lost: u64,
}

/// The outcome of a run up to an instant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    pub until_ms: u64,
    /// Per pod: the last instant it was Ready (None: never), and whether it
    /// is Ready at the end.
    pub pods: BTreeMap<String, (Option<u64>, bool)>,
    pub sets: Vec<SetOutcome>,
    pub dbs: Vec<DbOutcome>,
    pub breaches: usize,
    /// The first instant, after every workload had been whole (all replicas
    /// Ready), that one was not.
    pub degraded_ms: Option<u64>,
    /// The last instant every workload became whole again after that.
    pub recovered_ms: Option<u64>,
    /// Still not whole at the end.
    pub degraded_at_end: bool,
}

/// Watches a run instant by instant (pass `observe` as `keep_going` to
/// `sim::advance_until` or `tape::run_to`), then reads its outcome.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Per pod: the last instant it was Ready (the instant it stopped
    /// being Ready, or the latest one seen while it still is).
    last_ready: BTreeMap<String, u64>,
    ready_now: std::collections::BTreeSet<String>,
    was_whole: bool,
    degraded_ms: Option<u64>,
    recovered_ms: Option<u64>,
    degraded_now: bool,
}

/// Whether every StatefulSet and Deployment has all its replicas Ready.
fn whole(world: &World) -> bool {
    let sets = world
        .try_query::<(&StatefulSet, &SetStatus)>()
        .is_none_or(|mut q| {
            q.iter(world)
                .all(|(s, st)| s.deleting || st.ready >= s.spec.replicas)
        });
    let deps = world
        .try_query::<(&Deployment, &DeploymentStatus)>()
        .is_none_or(|mut q| {
            q.iter(world)
                .all(|(d, st)| d.deleting || st.ready >= d.spec.replicas)
        });
    sets && deps
}

impl Tracker {
    /// Notes the settled instant `world` is at. Always true (go on).
    pub fn observe(&mut self, world: &World) -> bool {
        let now = world.resource::<SimClock>().now_ms;
        let ready: std::collections::BTreeSet<String> = world
            .try_query::<(&Pod, &PodStatus)>()
            .map(|mut q| {
                q.iter(world)
                    .filter(|(_, s)| s.ready)
                    .map(|(p, _)| p.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        // Ready up to this instant: those still Ready, and those that have
        // just stopped being Ready (or are gone).
        for name in ready.iter().chain(self.ready_now.difference(&ready)) {
            self.last_ready.insert(name.clone(), now);
        }
        self.ready_now = ready;
        let whole = whole(world);
        if whole {
            if self.degraded_now {
                self.recovered_ms = Some(now);
            }
            self.degraded_now = false;
            self.was_whole = true;
        } else if self.was_whole && !self.degraded_now {
            self.degraded_now = true;
            self.degraded_ms = self.degraded_ms.or(Some(now));
        }
        true
    }

    /// The outcome of the run `world` is at.
    pub fn finish(mut self, world: &mut World) -> Outcome {
        self.observe(world);
        let now = world.resource::<SimClock>().now_ms;
        let mut pods: BTreeMap<String, (Option<u64>, bool)> = self
            .last_ready
            .iter()
            .map(|(n, t)| (n.clone(), (Some(*t), false)))
            .collect();
        let mut q = world.query::<(&Pod, &PodStatus)>();
        for (p, s) in q.iter(world) {
            let e = pods.entry(p.name.clone()).or_insert((None, false));
            e.1 = s.ready;
        }
        let mut sets: Vec<SetOutcome> = world
            .query::<(&StatefulSet, &SetStatus)>()
            .iter(world)
            .map(|(s, st)| SetOutcome {
                name: s.spec.name.clone(),
                replicas: s.spec.replicas,
                ready: st.ready,
                revisions: Some((st.current_revision.clone(), st.update_revision.clone())),
            })
            .collect();
        sets.extend(
            world
                .query::<(&Deployment, &DeploymentStatus)>()
                .iter(world)
                .map(|(d, st)| SetOutcome {
                    name: d.spec.name.clone(),
                    replicas: d.spec.replicas,
                    ready: st.ready,
                    revisions: None,
                }),
        );
        sets.sort_by(|a, b| a.name.cmp(&b.name));
        let dbs = world
            .get_resource::<Databases>()
            .map(|d| {
                d.dbs
                    .iter()
                    .map(|(name, db)| DbOutcome {
                        name: name.clone(),
                        acknowledged: db.written,
                        refused: db.failed,
                        lost: db.written.saturating_sub(db.primary_pos),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Outcome {
            until_ms: now,
            pods,
            sets,
            dbs,
            breaches: world
                .resource::<EventLog>()
                .count(EventKind::InvariantBroken),
            degraded_ms: self.degraded_ms,
            recovered_ms: self.recovered_ms,
            degraded_at_end: self.degraded_now,
        }
    }
}

impl Outcome {
    /// "1m30.0s (from 6m40.0s to 8m10.0s)", "not recovered (degraded since
    /// 6m40.0s)", "never degraded".
    pub fn time_to_recover(&self) -> String {
        match (self.degraded_ms, self.recovered_ms) {
            (None, _) => "never degraded".into(),
            (Some(d), _) if self.degraded_at_end => {
                format!("not recovered (degraded since {})", units::clock(d))
            }
            (Some(d), Some(r)) => format!(
                "{} (from {} to {})",
                units::clock(r.saturating_sub(d)),
                units::clock(d),
                units::clock(r)
            ),
            (Some(d), None) => format!("degraded at {}", units::clock(d)),
        }
    }
}

/// The outcome table of two runs: (row label, A's cell, B's cell). A row
/// with empty cells is a heading.
pub fn table(a: &Outcome, b: &Outcome) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    let head = |rows: &mut Vec<(String, String, String)>, t: &str| {
        rows.push((t.to_string(), String::new(), String::new()))
    };
    head(&mut rows, "Pods: last Ready");
    let mut names: Vec<&String> = a.pods.keys().chain(b.pods.keys()).collect();
    names.sort();
    names.dedup();
    let pod_cell = |o: &Outcome, n: &str| match o.pods.get(n) {
        None => "-".to_string(),
        Some((_, true)) => "Ready now".to_string(),
        Some((Some(t), false)) => units::clock(*t),
        Some((None, false)) => "never".to_string(),
    };
    for n in names {
        rows.push((format!("  {n}"), pod_cell(a, n), pod_cell(b, n)));
    }
    head(&mut rows, "Workloads: ready / replicas, revisions");
    let mut sets: Vec<&String> = a.sets.iter().chain(&b.sets).map(|s| &s.name).collect();
    sets.sort();
    sets.dedup();
    let set_cell = |o: &Outcome, n: &str| match o.sets.iter().find(|s| s.name == n) {
        None => "-".to_string(),
        Some(s) => match &s.revisions {
            Some((c, u)) if c == u => format!("{}/{}, revision {c}", s.ready, s.replicas),
            Some((c, u)) => format!("{}/{}, revisions {c} -> {u}", s.ready, s.replicas),
            None => format!("{}/{}", s.ready, s.replicas),
        },
    };
    for n in sets {
        rows.push((format!("  {n}"), set_cell(a, n), set_cell(b, n)));
    }
    let mut dbs: Vec<&String> = a.dbs.iter().chain(&b.dbs).map(|d| &d.name).collect();
    dbs.sort();
    dbs.dedup();
    for n in dbs {
        head(&mut rows, &format!("Database {n}: writes"));
        let get = |o: &Outcome, f: fn(&DbOutcome) -> u64| {
            o.dbs
                .iter()
                .find(|d| &d.name == n)
                .map_or("-".to_string(), |d| f(d).to_string())
        };
        rows.push((
            "  acknowledged".into(),
            get(a, |d| d.acknowledged),
            get(b, |d| d.acknowledged),
        ));
        rows.push((
            "  refused".into(),
            get(a, |d| d.refused),
            get(b, |d| d.refused),
        ));
        rows.push(("  lost".into(), get(a, |d| d.lost), get(b, |d| d.lost)));
    }
    rows.push((
        "Invariant breaches".into(),
        a.breaches.to_string(),
        b.breaches.to_string(),
    ));
    rows.push((
        "Time to recover".into(),
        a.time_to_recover(),
        b.time_to_recover(),
    ));
    rows
}

/// The table as aligned text (the `diff` command's output).
pub fn table_text(names: (&str, &str), rows: &[(String, String, String)]) -> String {
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0) + 2;
    let w1 = rows
        .iter()
        .map(|r| r.1.chars().count())
        .chain([names.0.chars().count()])
        .max()
        .unwrap_or(0)
        + 3;
    let mut out = format!("{:w0$}{:w1$}{}\n", "", names.0, names.1);
    for (l, a, b) in rows {
        let line = format!("{l:w0$}{a:w1$}{b}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An event as two runs are compared: a scenario step's own events are
/// compared by what they say, not by the step's number or its place in its
/// file (a branch saved as a scenario has its actions inserted as steps,
/// which renumbers the steps after them), nor by the length of a timeout
/// (an action inserted during a wait splits it: the saved file waits the
/// rest, to the same deadline, and the event's instant already says when).
pub fn comparable(e: &SimEvent) -> SimEvent {
    let mut e = e.clone();
    if e.object.starts_with("scenario/step-") {
        e.object = "scenario/step".into();
        if let Some(rest) = e.reason.strip_prefix("step ")
            && let Some(i) = rest.find("): ")
        {
            e.reason = rest[i + 3..].to_string();
        }
        e.reason = without_timeout_length(&e.reason);
    }
    e
}

/// "did not hold within 400s (now: …)" as "did not hold within the timeout
/// (now: …)".
fn without_timeout_length(reason: &str) -> String {
    const AT: &str = " within ";
    let Some(i) = reason.find(AT) else {
        return reason.to_string();
    };
    let rest = &reason[i + AT.len()..];
    let digits = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    if digits == 0 || !rest[digits..].starts_with('s') {
        return reason.to_string();
    }
    format!("{} within the timeout{}", &reason[..i], &rest[digits + 1..])
}

/// Where two event logs first differ: the index, and the two events there
/// (None where one log has ended). None when they are the same.
pub fn first_divergence<'a>(
    a: &'a [SimEvent],
    b: &'a [SimEvent],
) -> Option<(usize, Option<&'a SimEvent>, Option<&'a SimEvent>)> {
    let n = a.len().max(b.len());
    (0..n).find_map(|i| {
        let (x, y) = (a.get(i), b.get(i));
        let same = match (x, y) {
            (Some(x), Some(y)) => comparable(x) == comparable(y),
            _ => false,
        };
        (!same).then_some((i, x, y))
    })
}

/// The instant of a divergence: the earlier of its two events.
pub fn divergence_ms(x: Option<&SimEvent>, y: Option<&SimEvent>) -> u64 {
    match (x, y) {
        (Some(x), Some(y)) => x.t_ms.min(y.t_ms),
        (Some(e), None) | (None, Some(e)) => e.t_ms,
        (None, None) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: u64, kind: EventKind, object: &str, reason: &str) -> SimEvent {
        let mut e = SimEvent::new(kind, object, reason);
        e.t_ms = t;
        e
    }

    #[test]
    fn a_wait_split_by_an_inserted_action_fails_at_the_same_deadline_without_diverging() {
        let a = [ev(
            580_000,
            EventKind::ExpectationFailed,
            "scenario/step-15",
            "step 15 (a.ron:49): `when: PodReady` did not hold within 400s (now: mysql-1 is not Ready)",
        )];
        let b = [ev(
            580_000,
            EventKind::ExpectationFailed,
            "scenario/step-17",
            "step 17 (b.ron:53): `when: PodReady` did not hold within 130s (now: mysql-1 is not Ready)",
        )];
        assert_eq!(first_divergence(&a, &b), None);
        let mut later = b.clone();
        later[0].t_ms = 590_000;
        assert!(
            first_divergence(&a, &later).is_some(),
            "another deadline diverges"
        );
        let mut other = b.clone();
        other[0].reason = other[0].reason.replace("mysql-1", "mysql-2");
        assert!(
            first_divergence(&a, &other).is_some(),
            "another pod diverges"
        );
    }

    #[test]
    fn step_numbers_and_files_do_not_make_two_logs_diverge() {
        let a = [ev(
            5,
            EventKind::ExpectationPassed,
            "scenario/step-3",
            "step 3 (a.ron:9): web-1 is Ready holds",
        )];
        let b = [ev(
            5,
            EventKind::ExpectationPassed,
            "scenario/step-4",
            "step 4 (b.ron:12): web-1 is Ready holds",
        )];
        assert_eq!(first_divergence(&a, &b), None);
    }

    #[test]
    fn the_first_differing_event_is_the_divergence_and_its_instant_the_earlier() {
        let a = [
            ev(1, EventKind::PodReady, "pod/web-0", "ready"),
            ev(9, EventKind::PodReady, "pod/web-1", "ready"),
        ];
        let b = [
            ev(1, EventKind::PodReady, "pod/web-0", "ready"),
            ev(7, EventKind::PodForceDeleted, "pod/web-1", "forced"),
        ];
        let (i, x, y) = first_divergence(&a, &b).expect("they differ");
        assert_eq!(i, 1);
        assert_eq!(divergence_ms(x, y), 7);
        // A log that stops early diverges where it stops.
        let (i, x, y) = first_divergence(&a, &a[..1]).expect("one is shorter");
        assert_eq!((i, y), (1, None));
        assert_eq!(divergence_ms(x, y), 9);
    }

    #[test]
    fn time_to_recover_runs_from_the_first_degradation_to_the_last_recovery() {
        let mut o = Outcome::default();
        assert_eq!(o.time_to_recover(), "never degraded");
        o.degraded_ms = Some(400_000);
        o.recovered_ms = Some(490_000);
        assert_eq!(
            o.time_to_recover(),
            format!(
                "{} (from {} to {})",
                units::clock(90_000),
                units::clock(400_000),
                units::clock(490_000)
            )
        );
        o.degraded_at_end = true;
        assert!(o.time_to_recover().starts_with("not recovered"));
    }
}
