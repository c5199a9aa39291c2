//! One run's scenario: the base scenario's cluster, workloads and steps, the
//! drawn faults (each with a note saying what it does), healing, and the
//! checks every run ends with; and that scenario as a runnable RON file.

use super::fault::{Fault, Targets, do_step, heal};
use crate::scenario::format::{Check, Scenario, Step};
use crate::sim::SimCommand;

/// Seconds after the last fault before everything is healed: past the
/// 300 s eviction and the 6-minute force detach, so faults play out.
pub const HEAL_AFTER_S: f64 = 420.0;
/// Seconds the set has to converge after healing (the liveness bound).
pub const LIVENESS_S: f64 = 900.0;
/// Seconds the cluster has to come up before the first fault.
const SETUP_S: f64 = 600.0;

/// What each step of a run's scenario is for, by step index.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    /// Steps before the first fault (the base scenario's, or the setup).
    pub before_faults: usize,
    /// `Converged(set)` steps.
    pub converge: Vec<usize>,
    /// The `NoInvariantBroken` step (none when the scenario expects a breach).
    pub safety: Option<usize>,
    /// `NoWriteLost(set)` steps.
    pub writes: Vec<usize>,
}

/// The base scenario a campaign runs on, and what its faults aim at.
#[derive(Debug, Clone)]
pub struct Base {
    pub scenario: Scenario,
    pub targets: Targets,
    /// The scenario itself expects an invariant breach (a split-brain
    /// lesson): breaches are then not a failure.
    pub expects_breach: bool,
}

impl Base {
    /// A base from a scenario; `cluster_only` drops its steps.
    pub fn new(mut scenario: Scenario, cluster_only: bool) -> Base {
        if cluster_only {
            scenario.steps.clear();
        }
        let mut targets = Targets::of(&scenario);
        // Sets the scenario deletes are not there to check at the end.
        let deleted: Vec<String> = scenario
            .steps
            .iter()
            .filter_map(|s| match &s.command {
                Some(SimCommand::DeleteSet { set, .. }) => Some(set.clone()),
                _ => None,
            })
            .collect();
        targets.sets.retain(|s| !deleted.contains(&s.name));
        let expects_breach = scenario.steps.iter().any(Step::expects_breach);
        Base {
            scenario,
            targets,
            expects_breach,
        }
    }

    /// The run's scenario for these faults, and what its steps are for.
    pub fn assemble(
        &self,
        faults: &[Fault],
        note: &dyn Fn(usize, &Fault) -> String,
    ) -> (Scenario, Roles) {
        let mut s = self.scenario.clone();
        let mut roles = Roles::default();
        if s.steps.is_empty() {
            for t in self.targets.sets.iter().filter(|t| t.replicas > 0) {
                s.steps.push(Step {
                    when: Some(Check::Ready {
                        set: t.name.clone(),
                        count: t.replicas,
                    }),
                    timeout: Some(SETUP_S),
                    note: Some(format!("{} is up: {} replicas Ready.", t.name, t.replicas)),
                    ..Default::default()
                });
            }
        }
        roles.before_faults = s.steps.len();
        for (i, f) in faults.iter().enumerate() {
            s.steps.push(do_step(f.after_s, f.cmd.clone()));
            s.steps.push(note_step(note(i, f)));
        }
        let heals = heal(&self.targets, faults);
        s.steps.push(Step {
            after: Some(if faults.is_empty() { 0.0 } else { HEAL_AFTER_S }),
            note: Some(heal_note(&heals)),
            ..Default::default()
        });
        for h in heals {
            s.steps.push(do_step(0.0, h));
        }
        for t in &self.targets.sets {
            roles.converge.push(s.steps.len());
            let c = Check::Converged {
                set: t.name.clone(),
            };
            s.steps.push(Step {
                when: Some(c.clone()),
                timeout: Some(LIVENESS_S),
                expect: Some(c),
                ..Default::default()
            });
        }
        if !self.expects_breach {
            roles.safety = Some(s.steps.len());
            s.steps.push(Step {
                after: Some(0.0),
                expect: Some(Check::NoInvariantBroken),
                ..Default::default()
            });
        }
        for t in self.targets.sets.iter().filter(|t| t.database) {
            roles.writes.push(s.steps.len());
            s.steps.push(Step {
                after: Some(0.0),
                expect: Some(Check::NoWriteLost {
                    set: Some(t.name.clone()),
                }),
                ..Default::default()
            });
        }
        (s, roles)
    }
}

fn note_step(text: String) -> Step {
    Step {
        after: Some(0.0),
        note: Some(text),
        ..Default::default()
    }
}

fn heal_note(heals: &[SimCommand]) -> String {
    if heals.is_empty() {
        return "Nothing to heal. From now on the set must converge: every replica Ready, the rollout complete, replicas caught up.".into();
    }
    format!(
        "Heal everything ({} command(s): recover nodes, add deleted ones back, remove taints and cordons, restore readiness). From now on the set must converge within {LIVENESS_S:.0} s: every replica Ready, the rollout complete, replicas caught up.",
        heals.len()
    )
}

/// RON of a value, `Some` left implicit as scenario files write it.
fn ron<T: serde::Serialize>(v: &T) -> String {
    crate::scenario::load::ron_options()
        .to_string(v)
        .unwrap_or_default()
}

/// RON of a value, pretty-printed with four-space indents.
fn ron_pretty<T: serde::Serialize>(v: &T) -> String {
    let cfg = ron::ser::PrettyConfig::new().indentor("    ".to_string());
    crate::scenario::load::ron_options()
        .to_string_pretty(v, cfg)
        .unwrap_or_default()
}

/// One step on one line, with only the fields it sets.
fn step_line(st: &Step) -> String {
    let mut parts = Vec::new();
    if let Some(v) = st.at {
        parts.push(format!("at: {}", ron(&v)));
    }
    if let Some(v) = st.after {
        parts.push(format!("after: {}", ron(&v)));
    }
    if let Some(v) = &st.when {
        parts.push(format!("when: {}", ron(v)));
    }
    if let Some(v) = st.timeout {
        parts.push(format!("timeout: {}", ron(&v)));
    }
    if let Some(v) = &st.command {
        parts.push(format!("do: {}", ron(v)));
    }
    if let Some(v) = &st.expect {
        parts.push(format!("expect: {}", ron(v)));
    }
    if let Some(v) = &st.note {
        parts.push(format!("note: {}", ron(v)));
    }
    if let Some(v) = &st.pause {
        parts.push(format!("pause: {}", ron(v)));
    }
    format!("({})", parts.join(", "))
}

/// Indents every line after the first by `pad`.
fn indent(text: &str, pad: &str) -> String {
    text.lines().collect::<Vec<_>>().join(&format!("\n{pad}"))
}

/// The scenario as a RON file, `header` lines first as `//` comments.
pub fn to_ron(s: &Scenario, header: &[String]) -> String {
    let mut out = String::new();
    for h in header {
        for line in h.lines() {
            out.push_str(&format!("// {line}\n").replace("//  \n", "//\n"));
        }
    }
    out.push_str("(\n");
    out.push_str(&format!("    name: {},\n", ron(&s.name)));
    out.push_str(&format!("    summary: {},\n", ron(&s.summary)));
    out.push_str(&format!("    seed: {},\n", s.seed));
    out.push_str(&format!(
        "    cluster: {},\n",
        indent(&ron_pretty(&s.cluster), "    ")
    ));
    out.push_str(&format!(
        "    workloads: {},\n",
        indent(&ron_pretty(&s.workloads), "    ")
    ));
    out.push_str("    steps: [\n");
    for st in &s.steps {
        out.push_str(&format!("        {},\n", step_line(st)));
    }
    out.push_str("    ],\n)\n");
    out
}
