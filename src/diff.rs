//! `statefulset-sim diff A.ron B.ron [--seed N] [--until S]`: plays two
//! scenarios headless, prints the first instant their event logs diverge
//! (with the two events there) and an outcome table of both runs. Exit 0:
//! the same; 1: they diverged; 2: bad input.

use crate::headless;
use crate::scenario::Loaded;
use crate::scenario::outcome::{self, Outcome, Tracker};
use crate::sim::event::SimEvent;
use crate::sim::units;
use bevy::prelude::World;

/// One of the two runs.
pub struct Side {
    pub file: String,
    pub events: Vec<SimEvent>,
    pub outcome: Outcome,
}

/// Plays one scenario headless (as `--headless` does), watching its outcome.
pub fn play(loaded: Loaded, seed: Option<u64>, until_ms: Option<u64>) -> Side {
    let file = loaded.file.clone();
    let mut tracker = Tracker::default();
    let mut observe = |w: &World| {
        tracker.observe(w);
    };
    let out = headless::Output {
        observe: Some(&mut observe),
        ..Default::default()
    };
    let Ok(mut run) = headless::run_with(loaded, seed, until_ms, out) else {
        unreachable!("a run without a stream does no I/O");
    };
    let events = run.log().events.clone();
    let outcome = tracker.finish(run.world());
    Side {
        file,
        events,
        outcome,
    }
}

/// An instant to the millisecond: "1m40.5s (100.500 s)".
fn exact(ms: u64) -> String {
    format!("{} ({}.{:03} s)", units::clock(ms), ms / 1000, ms % 1000)
}

/// An event on one line: "6m40.0s PodForceDeleted pod/web-1: reason".
fn line(e: Option<&SimEvent>) -> String {
    match e {
        Some(e) => format!(
            "{} {} {}: {}",
            units::clock(e.t_ms),
            e.kind.name(),
            e.object,
            e.reason
        ),
        None => "(no more events: the run ended)".to_string(),
    }
}

/// The report of two runs, and whether they diverged.
pub fn report(a: &Side, b: &Side) -> (String, bool) {
    let mut out = String::new();
    for (tag, s) in [("A", a), ("B", b)] {
        out.push_str(&format!(
            "{tag}: {} (simulated {}, {} events)\n",
            s.file,
            units::clock(s.outcome.until_ms),
            s.events.len()
        ));
    }
    let div = outcome::first_divergence(&a.events, &b.events);
    match div {
        Some((i, x, y)) => {
            out.push_str(&format!(
                "\nFirst divergence at {} (event {} of the log):\n  A: {}\n  B: {}\n",
                exact(outcome::divergence_ms(x, y)),
                i + 1,
                line(x),
                line(y)
            ));
        }
        None => out.push_str(&format!(
            "\nNo divergence: the two event logs are the same ({} events).\n",
            a.events.len()
        )),
    }
    out.push('\n');
    let rows = outcome::table(&a.outcome, &b.outcome);
    out.push_str(&outcome::table_text(("A", "B"), &rows));
    (out, div.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    fn scenario(extra: &str) -> String {
        format!(
            r#"(name: "t", seed: 3,
            cluster: (nodes: [(name: "node-a", zone: "z"), (name: "node-b", zone: "z")]),
            workloads: [StatefulSet((name: "web", replicas: 2, template: (image: "nginx:1"), claims: [(name: "www")]))],
            steps: [(at: 60.0, note: "one minute"), {extra}])"#
        )
    }

    fn side(text: &str, file: &str) -> Side {
        play(
            load_str(file, text.as_bytes()).expect("loads"),
            None,
            Some(300_000),
        )
    }

    #[test]
    fn two_runs_differing_by_one_action_diverge_at_that_instant() {
        let a = side(&scenario(""), "a.ron");
        let b = side(
            &scenario(r#"(at: 100.5, do: DeletePod(pod: "web-1"))"#),
            "b.ron",
        );
        let (text, diverged) = report(&a, &b);
        assert!(diverged);
        let (_, x, y) = outcome::first_divergence(&a.events, &b.events).expect("diverged");
        assert_eq!(outcome::divergence_ms(x, y), 100_500);
        assert!(
            text.contains("First divergence at 1m40.5s (100.500 s)"),
            "{text}"
        );
        assert!(text.contains("PodTerminating pod/web-1"), "{text}");
    }

    #[test]
    fn a_pods_last_ready_is_the_instant_it_stopped_being_ready() {
        let b = side(
            &scenario(r#"(at: 100.5, do: FailNode(of: "web-1"))"#),
            "b.ron",
        );
        let (last, ready) = b.outcome.pods["web-1"];
        assert!(!ready, "web-1's node is dead");
        let last = last.expect("web-1 was Ready before");
        // Ready until the node controller marked it not Ready, after the
        // machine died: not the last instant something else happened before.
        let not_ready = b
            .events
            .iter()
            .find(|e| e.kind == crate::sim::EventKind::PodNotReady && e.object == "pod/web-1")
            .expect("web-1 was marked not Ready");
        assert_eq!(last, not_ready.t_ms);
        assert!(b.outcome.time_to_recover().starts_with("not recovered"));
    }

    #[test]
    fn a_scenario_against_itself_does_not_diverge() {
        let a = side(&scenario(""), "a.ron");
        let b = side(&scenario(""), "b.ron");
        let (text, diverged) = report(&a, &b);
        assert!(!diverged, "{text}");
        assert!(text.contains("No divergence"));
        assert!(text.contains("Time to recover"));
    }
}
