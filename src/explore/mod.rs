//! `statefulset-sim explore`: seeded fault campaigns on a scenario. Each run
//! draws a fault sequence from its own seed, plays it on top of the
//! scenario, heals everything, and checks safety (every instant, through the
//! simulation's invariants), a final read of each database, liveness after
//! healing, and the scenario's own expectations. A failing run is shrunk by
//! delta debugging and written out as a runnable scenario.

pub mod cli;
pub mod coverage;
pub mod fault;
pub mod plan;
pub mod shrink;

use crate::scenario::{self, Loaded};
use crate::sim::SimClock;
use crate::sim::controllers::statefulset::PlantedBugSkipAtMostOne;
use crate::sim::event::{EventKind, EventLog};
use coverage::{Coverage, facts};
use fault::{Fault, FaultKind};
use plan::{Base, Roles};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A property a run can fail, in the order of precedence: a run that fails
/// several is reported under the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// At most one running process per StatefulSet identity.
    OneProcessPerIdentity,
    /// A ReadWriteOnce volume attached to at most one node.
    VolumeOnOneNode,
    /// No claim lost under a Retain policy.
    ClaimKeptUnderRetain,
    /// The controllers settle at every instant.
    ControllersSettle,
    /// Every acknowledged write is on the primary's volume at the end.
    NoAcknowledgedWriteLost,
    /// After healing, the set converges within the bound.
    ConvergesAfterHealing,
    /// The scenario's own expectations.
    ScenarioExpectations,
}

impl Property {
    /// Every property, in report order.
    pub const ALL: [Property; 7] = [
        Property::OneProcessPerIdentity,
        Property::VolumeOnOneNode,
        Property::ClaimKeptUnderRetain,
        Property::ControllersSettle,
        Property::NoAcknowledgedWriteLost,
        Property::ConvergesAfterHealing,
        Property::ScenarioExpectations,
    ];

    /// The property in words, for the summary table.
    pub fn words(self) -> &'static str {
        match self {
            Property::OneProcessPerIdentity => "safety: one running process per identity",
            Property::VolumeOnOneNode => "safety: RWO volume attached to one node",
            Property::ClaimKeptUnderRetain => "safety: no claim lost under Retain",
            Property::ControllersSettle => "safety: controllers settle",
            Property::NoAcknowledgedWriteLost => "safety: no acknowledged write lost",
            Property::ConvergesAfterHealing => "liveness: converges after healing",
            Property::ScenarioExpectations => "the scenario's expectations",
        }
    }

    /// A short name for file names.
    pub fn slug(self) -> &'static str {
        match self {
            Property::OneProcessPerIdentity => "split-brain",
            Property::VolumeOnOneNode => "double-attach",
            Property::ClaimKeptUnderRetain => "claim-lost",
            Property::ControllersSettle => "livelock",
            Property::NoAcknowledgedWriteLost => "write-lost",
            Property::ConvergesAfterHealing => "stuck",
            Property::ScenarioExpectations => "expectation",
        }
    }

    /// What a failure of the property teaches, for the written scenario.
    pub fn lesson(self) -> &'static str {
        match self {
            Property::OneProcessPerIdentity => {
                "A force delete (by an operator, or by pod GC after a node is deleted or tainted out-of-service) releases a pod's identity without the kubelet confirming that its container stopped. If the machine is only cut off, or still up, a second container with the same identity starts while the first runs on: split brain. This is a failure of the operations, not of Kubernetes: only force-delete when you know the machine is off."
            }
            Property::VolumeOnOneNode => {
                "A ReadWriteOnce volume ended up attached to two nodes: the attach/detach controller force-detached it (after 6 minutes, or at once under the out-of-service taint) while the old machine still had it mounted."
            }
            Property::ClaimKeptUnderRetain => {
                "A claim was deleted although the StatefulSet's retention policy is Retain."
            }
            Property::ControllersSettle => {
                "The controllers did not settle at one instant (a livelock)."
            }
            Property::NoAcknowledgedWriteLost => {
                "Rows the primary acknowledged to its clients are gone from its volume: the primary's claim, and with it the volume and its data, was deleted, and the primary came back on a new, empty volume. Nothing in Kubernetes protects data from a claim deletion; backups and the Retain policy do."
            }
            Property::ConvergesAfterHealing => {
                "After every fault was healed the StatefulSet did not converge. Some states need an operator: a rollout stuck on a broken pod waits for that pod to be deleted (OrderedReady), a pod whose local volume was on a deleted node waits for its claim to be deleted."
            }
            Property::ScenarioExpectations => {
                "An expectation the scenario states did not hold under these faults."
            }
        }
    }
}

/// A campaign's settings (the `explore` flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// Runs; run `i` uses seed `seed + i`.
    pub runs: u32,
    pub seed: u64,
    pub kinds: Vec<FaultKind>,
    pub max_faults: usize,
    /// Faults fall within this many seconds after the scenario's steps.
    pub until_s: f64,
    /// Use only the scenario's cluster and workloads, not its steps.
    pub cluster_only: bool,
    /// Runs a shrink may spend per failure.
    pub shrink_budget: u32,
    /// Worker threads: runs are independent, so a campaign plays several
    /// at once. The report is the same for any number (each run's result
    /// is taken in seed order).
    pub jobs: usize,
    /// Test only: the StatefulSet controller skips its at-most-one check.
    #[doc(hidden)]
    pub planted_bug: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runs: 200,
            seed: 1,
            kinds: FaultKind::ALL.to_vec(),
            max_faults: 6,
            until_s: 1800.0,
            cluster_only: false,
            shrink_budget: 600,
            jobs: 1,
            planted_bug: false,
        }
    }
}

/// What one run found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Each property it failed, with the first message saying how.
    pub failed: BTreeMap<Property, String>,
    pub events: u64,
    pub simulated_ms: u64,
    pub facts: Vec<coverage::Fact>,
}

impl Outcome {
    /// The property it is reported under (the first that failed).
    pub fn first(&self) -> Option<(Property, &String)> {
        self.failed.iter().next().map(|(p, m)| (*p, m))
    }
}

/// A campaign over one scenario.
pub struct Campaign {
    pub base: Base,
    pub file: String,
    pub opts: Options,
}

/// A failure found, shrunk and rendered as a scenario file.
#[derive(Debug, Clone)]
pub struct Finding {
    pub property: Property,
    /// The run's seed (`--seed` with `--runs 1` replays it).
    pub seed: u64,
    /// How it failed, in the shrunk run.
    pub message: String,
    pub original: Vec<Fault>,
    pub shrunk: Vec<Fault>,
    pub shrink_runs: u32,
    pub shrink_time: Duration,
    /// The shrunk run as a scenario file.
    pub text: String,
}

/// Failures of one property over a campaign.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub runs: u32,
    pub first_seed: Option<u64>,
}

/// A campaign's results.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub runs: u32,
    pub failed: BTreeMap<Property, Tally>,
    pub coverage: Coverage,
    pub findings: Vec<Finding>,
    pub run_time: Duration,
}

impl Campaign {
    /// A campaign on a loaded scenario.
    pub fn new(loaded: &Loaded, opts: Options) -> Campaign {
        Campaign {
            base: Base::new(loaded.scenario.clone(), opts.cluster_only),
            file: loaded.file.clone(),
            opts,
        }
    }

    fn set_names(&self) -> Vec<String> {
        self.base
            .targets
            .sets
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// The faults of the run with this seed.
    pub fn draw(&self, seed: u64) -> Vec<Fault> {
        fault::draw(
            &self.base.targets,
            &self.opts.kinds,
            self.opts.max_faults,
            self.opts.until_s,
            seed,
        )
    }

    /// The note after fault `i`: what it does.
    fn note(i: usize, f: &Fault) -> String {
        let what = f.kind().map_or("", FaultKind::explain);
        format!("Fault {}: {what}.", i + 1)
    }

    /// The run's scenario for these faults.
    pub fn assemble(&self, faults: &[Fault]) -> (crate::scenario::Scenario, Roles) {
        self.base.assemble(faults, &Campaign::note)
    }

    /// Plays these faults on the scenario and checks every property.
    pub fn run(&self, faults: &[Fault]) -> Outcome {
        let (s, roles) = self.assemble(faults);
        let loaded = Loaded {
            file: self.file.clone(),
            step_pos: vec![(1, 1); s.steps.len()],
            scenario: s,
            warnings: Vec::new(),
        };
        self.play(loaded, &roles, false)
    }

    /// Plays a loaded run scenario and classifies its failures: until its
    /// checks are done, or, `as_headless`, on to the quiet end the headless
    /// runner stops at (the same event log as `statefulset-sim FILE
    /// --headless`).
    pub fn play(&self, loaded: Loaded, roles: &Roles, as_headless: bool) -> Outcome {
        let mut app = scenario::core_app();
        let world = app.world_mut();
        if self.opts.planted_bug {
            world.insert_resource(PlantedBugSkipAtMostOne(true));
        }
        scenario::install(world, loaded, None, false);
        let failures = if as_headless {
            scenario::run::play(world, None)
        } else {
            scenario::run::defer_steady_ticks(world);
            scenario::run::play_script(world)
        };
        let log = world.resource::<EventLog>();
        let mut out = Outcome {
            events: log.events.len() as u64,
            simulated_ms: world.resource::<SimClock>().now_ms,
            facts: facts(&self.set_names(), &log.events),
            ..Default::default()
        };
        classify(&mut out, log, roles, &failures);
        out
    }

    /// Plays a written finding from its file, as `statefulset-sim FILE
    /// --headless` does, and classifies it the way the campaign did.
    pub fn replay(&self, path: &std::path::Path, f: &Finding) -> Result<Outcome, String> {
        let loaded = scenario::load_file(path).map_err(|d| d.to_string())?;
        let (_, roles) = self.assemble(&f.shrunk);
        Ok(self.play(loaded, &roles, true))
    }

    /// Runs the campaign; `progress` hears after each run (runs done,
    /// failing runs so far).
    pub fn explore(&self, progress: &mut dyn FnMut(u32, u32)) -> Report {
        let started = Instant::now();
        let mut report = Report::default();
        let mut first: BTreeMap<Property, (u64, Vec<Fault>)> = BTreeMap::new();
        let mut failing = 0;
        let mut i = 0;
        self.each_run(&mut |seed, faults, out| {
            report
                .coverage
                .add(&faults, &out.facts, out.events, out.simulated_ms);
            if let Some((p, _)) = out.first() {
                failing += 1;
                let t = report.failed.entry(p).or_default();
                t.runs += 1;
                t.first_seed.get_or_insert(seed);
                first.entry(p).or_insert((seed, faults));
            }
            report.runs += 1;
            i += 1;
            progress(i, failing);
        });
        report.run_time = started.elapsed();
        // Each property's first failure is shrunk on its own thread.
        let first: Vec<_> = first.into_iter().collect();
        for chunk in first.chunks(self.opts.jobs.max(1)) {
            let found: Vec<Finding> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|(p, (seed, faults))| {
                        scope.spawn(move || self.shrink(*p, *seed, faults.clone()))
                    })
                    .collect();
                handles.into_iter().map(join).collect()
            });
            report.findings.extend(found);
        }
        report
    }

    /// Plays every run of the campaign on `opts.jobs` threads and hands each
    /// (seed, faults, outcome) to `take` in seed order, as it would come
    /// from one thread.
    fn each_run(&self, take: &mut dyn FnMut(u64, Vec<Fault>, Outcome)) {
        let runs = self.opts.runs;
        let seed_of = |i: u32| self.opts.seed.wrapping_add(i as u64);
        let jobs = self.opts.jobs.clamp(1, runs.max(1) as usize);
        if jobs == 1 {
            for i in 0..runs {
                let faults = self.draw(seed_of(i));
                let out = self.run(&faults);
                take(seed_of(i), faults, out);
            }
            return;
        }
        use std::sync::atomic::{AtomicU32, Ordering};
        let next = AtomicU32::new(0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..jobs)
                .map(|_| {
                    let tx = tx.clone();
                    let next = &next;
                    scope.spawn(move || {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= runs {
                                break;
                            }
                            let faults = self.draw(seed_of(i));
                            let out = self.run(&faults);
                            if tx.send((i, faults, out)).is_err() {
                                break;
                            }
                        }
                    })
                })
                .collect();
            drop(tx);
            // Results arrive in any order; they are taken in seed order.
            let mut waiting = BTreeMap::new();
            let mut due = 0;
            for (i, faults, out) in rx {
                waiting.insert(i, (faults, out));
                while let Some((faults, out)) = waiting.remove(&due) {
                    take(seed_of(due), faults, out);
                    due += 1;
                }
            }
            workers.into_iter().for_each(join);
        });
    }

    /// Shrinks a failing run of `property` and renders it as a scenario.
    pub fn shrink(&self, property: Property, seed: u64, faults: Vec<Fault>) -> Finding {
        let started = Instant::now();
        let mut fails = |f: &[Fault]| self.run(f).first().is_some_and(|(p, _)| p == property);
        let targets = &self.base.targets;
        let simpler = |f: &Fault| fault::simpler(targets, f);
        let shrunk = shrink::Shrinker::new(&mut fails, &simpler, self.opts.shrink_budget)
            .shrink(faults.clone());
        let message = self
            .run(&shrunk.faults)
            .failed
            .remove(&property)
            .unwrap_or_default();
        let mut finding = Finding {
            property,
            seed,
            message,
            original: faults,
            shrunk: shrunk.faults,
            shrink_runs: shrunk.runs,
            shrink_time: started.elapsed(),
            text: String::new(),
        };
        finding.text = self.render(&finding);
        finding
    }

    /// The shrunk run as a scenario file, with comments and a summary that
    /// say what failed and what it teaches.
    pub fn render(&self, f: &Finding) -> String {
        let (mut s, _) = self.assemble(&f.shrunk);
        let base = &self.base.scenario.name;
        s.name = format!("{base}: explore found \"{}\"", f.property.words());
        s.summary = format!(
            "Found by statefulset-sim explore (run seed {}) and shrunk from {} to {} fault(s). {} What failed: {}",
            f.seed,
            f.original.len(),
            f.shrunk.len(),
            f.property.lesson(),
            f.message
        );
        let header = vec![
            format!(
                "Found by `statefulset-sim explore {} --seed {} --runs 1{}`,",
                self.file,
                f.seed,
                if self.opts.cluster_only {
                    " --cluster-only"
                } else {
                    ""
                }
            ),
            format!(
                "shrunk by delta debugging from {} to {} fault(s) in {} runs.",
                f.original.len(),
                f.shrunk.len(),
                f.shrink_runs
            ),
            format!("Property that fails: {}.", f.property.words()),
            format!("How: {}", f.message),
            "The last steps heal every fault and check what every explore run checks;".into(),
            "the one that fails is the finding. Replay: statefulset-sim THIS_FILE --headless"
                .into(),
        ];
        plan::to_ron(&s, &header)
    }
}

/// A worker's result; a worker's panic is the campaign's (a bug in the
/// simulator, reported as one thread would report it).
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Sorts a run's failures into properties.
fn classify(out: &mut Outcome, log: &EventLog, roles: &Roles, failures: &[(usize, String)]) {
    for (i, msg) in failures {
        let p = if Some(*i) == roles.safety {
            // Which invariant: the breaches logged, each under its own
            // property (a split brain often brings a double attach).
            for e in log
                .events
                .iter()
                .filter(|e| e.kind == EventKind::InvariantBroken)
            {
                let p = match e.object.split_once('/').map(|(k, _)| k) {
                    Some("pod") => Property::OneProcessPerIdentity,
                    Some("pv") => Property::VolumeOnOneNode,
                    Some("pvc") => Property::ClaimKeptUnderRetain,
                    _ => Property::ControllersSettle,
                };
                out.failed.entry(p).or_insert_with(|| e.reason.clone());
            }
            continue;
        } else if roles.writes.contains(i) {
            Property::NoAcknowledgedWriteLost
        } else if roles.converge.contains(i) {
            Property::ConvergesAfterHealing
        } else {
            Property::ScenarioExpectations
        };
        out.failed.entry(p).or_insert_with(|| msg.clone());
    }
}
