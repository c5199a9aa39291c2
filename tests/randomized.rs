//! Randomized node-failure sequences, as a proptest property over command
//! sequences: scale / fail / partition / recover / delete / force-delete /
//! delete-node / add-node / out-of-service on a 4-node cluster with one
//! StatefulSet and one Deployment. A failure shrinks (fewer, simpler
//! commands) to a minimal sequence, printed as a scenario file that
//! `statefulset-sim FILE --headless` replays.
//!
//! After every simulated instant the test looks at the model itself:
//! - a sequence with no force delete of a StatefulSet pod whose node is alive
//!   (partitioned, or up: the kubelet kills the orphan with a 2 s grace and a
//!   replacement on the same node may start meanwhile), by the user or by pod
//!   GC under the out-of-service taint, never reports an InvariantBroken;
//! - whenever two processes of one StatefulSet identity exist at once, or a
//!   ReadWriteOnce volume is attached to two nodes, the breach is reported.
//!
//! Every command is valid wherever shrinking leaves it (a node is named by
//! its position among the nodes that exist at that point), so shrinking
//! needs no preconditions.

mod common;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use statefulset_sim::explore::coverage::{Fact, Facts};
use statefulset_sim::scenario::{self, Lesson, load_str};
use statefulset_sim::sim::event::{EventKind, EventLog};
use statefulset_sim::sim::invariant::Invariants;
use statefulset_sim::sim::model::*;
use statefulset_sim::sim::{SimClock, settle_all};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

/// Sequences per run (`PROPTEST_CASES` overrides).
const SEQUENCES: u32 = 3000;
/// The generator's seed (`PROPTEST_RNG_SEED` overrides): CI runs the same
/// sequences every time.
const SEED: u64 = 0x0005_eed0_f5e7;
/// Commands per sequence, after the StatefulSet is first Ready. Shrinking
/// stops at the minimum; below it, commands shrink to `Wait`.
const COMMANDS: std::ops::RangeInclusive<usize> = 3..=9;
/// Delays between commands, seconds: around the kubelet's grace periods, the
/// node monitor's 40 s and the 300 s eviction.
const DELAYS_S: [f64; 7] = [2.0, 10.0, 30.0, 60.0, 120.0, 330.0, 400.0];
/// Simulated time after the last step before a sequence ends.
const TAIL_MS: u64 = 900_000;
/// A failing sequence is shrunk for at most this long.
const SHRINK_MS: u32 = 300_000;
/// The nodes every sequence starts with.
const NODES: [&str; 4] = ["node-a", "node-b", "node-c", "node-d"];
/// `NodeRef::Nth` picks uniformly: this is a multiple of every possible node
/// count (4 to 13: the first four plus up to nine added).
const NTH: usize = 360_360;

/// Names a node: the `n % count`-th of the nodes named so far (a deleted one
/// still may be), or the node StatefulSet pod `web-N` was last scheduled to
/// (resolved when the command runs).
#[derive(Clone, Debug)]
enum NodeRef {
    Nth(usize),
    Of(u32),
}

/// One command of a sequence; shrinking prefers the earlier variants.
#[derive(Clone, Debug)]
enum Cmd {
    /// Time passes; nothing is done (what other commands shrink to).
    Wait,
    ScaleWeb(u32),
    ScaleApi(u32),
    DeletePod(u32),
    RecoverNode(NodeRef),
    FailNode(NodeRef),
    PartitionNode(NodeRef),
    ForceDeletePod(u32),
    DeleteNode(NodeRef),
    /// Adds `node-eK`, K counting the AddNodes so far.
    AddNode {
        zone: u32,
    },
    TaintOutOfService(NodeRef),
}

/// A command and how long after the previous step it runs.
#[derive(Clone, Debug)]
struct Step {
    after_s: f64,
    cmd: Cmd,
}

/// A whole generated case: the scenario's knobs and its commands.
#[derive(Clone, Debug)]
struct Sequence {
    parallel: bool,
    seed: u64,
    steps: Vec<Step>,
}

fn node_ref() -> impl Strategy<Value = NodeRef> + Clone {
    prop_oneof![
        (0..NTH).prop_map(NodeRef::Nth),
        (0..4u32).prop_map(NodeRef::Of)
    ]
}

/// The command mix: node failures and their repairs dominate.
fn step() -> impl Strategy<Value = Step> {
    let cmd = prop_oneof![
        1 => Just(Cmd::Wait),
        10 => (0..5u32).prop_map(Cmd::ScaleWeb),
        4 => (0..4u32).prop_map(Cmd::ScaleApi),
        7 => (0..4u32).prop_map(Cmd::DeletePod),
        16 => node_ref().prop_map(Cmd::RecoverNode),
        14 => node_ref().prop_map(Cmd::FailNode),
        14 => node_ref().prop_map(Cmd::PartitionNode),
        12 => (0..4u32).prop_map(Cmd::ForceDeletePod),
        7 => node_ref().prop_map(Cmd::DeleteNode),
        7 => (1..=2u32).prop_map(|zone| Cmd::AddNode { zone }),
        9 => node_ref().prop_map(Cmd::TaintOutOfService),
    ];
    (select(DELAYS_S.to_vec()), cmd).prop_map(|(after_s, cmd)| Step { after_s, cmd })
}

fn sequence() -> impl Strategy<Value = Sequence> {
    (prop::bool::weighted(0.3), 0..1000u64, vec(step(), COMMANDS)).prop_map(
        |(parallel, seed, steps)| Sequence {
            parallel,
            seed,
            steps,
        },
    )
}

/// The `do:` or `note:` part of a step; `nodes` are the names so far.
fn step_body(cmd: &Cmd, nodes: &mut Vec<String>) -> String {
    let node = |r: &NodeRef| match r {
        NodeRef::Nth(n) => format!(r#"node: "{}""#, nodes[n % nodes.len()]),
        NodeRef::Of(i) => format!(r#"of: "web-{i}""#),
    };
    let body = match cmd {
        Cmd::Wait => return r#"note: "wait""#.to_string(),
        Cmd::ScaleWeb(n) => format!(r#"Scale(set: "web", replicas: {n})"#),
        Cmd::ScaleApi(n) => format!(r#"Scale(set: "api", replicas: {n})"#),
        Cmd::DeletePod(i) => format!(r#"DeletePod(pod: "web-{i}")"#),
        Cmd::RecoverNode(r) => format!("RecoverNode({})", node(r)),
        Cmd::FailNode(r) => format!("FailNode({})", node(r)),
        Cmd::PartitionNode(r) => format!("PartitionNode({})", node(r)),
        Cmd::ForceDeletePod(i) => format!(r#"ForceDeletePod(pod: "web-{i}")"#),
        Cmd::DeleteNode(r) => format!("DeleteNode({})", node(r)),
        Cmd::TaintOutOfService(r) => format!("TaintOutOfService({})", node(r)),
        Cmd::AddNode { zone } => {
            let name = format!("node-e{}", nodes.len() + 1 - NODES.len());
            let add = format!(r#"AddNode(name: "{name}", zone: "zone-{zone}")"#);
            nodes.push(name);
            add
        }
    };
    format!("do: {body}")
}

/// The sequence as a scenario file: wait for the set, then the commands.
fn scenario_text(seq: &Sequence) -> String {
    let mut nodes: Vec<String> = NODES.map(String::from).to_vec();
    let mut lines =
        vec![r#"(when: Ready(set: "web", count: 3), timeout: 120.0, note: "go")"#.to_string()];
    for s in &seq.steps {
        let body = step_body(&s.cmd, &mut nodes);
        lines.push(format!("(after: {:.1}, {body})", s.after_s));
    }
    let pm = if seq.parallel {
        "Parallel"
    } else {
        "OrderedReady"
    };
    format!(
        r#"(name: "random", seed: {seed},
            cluster: (nodes: [(name: "node-a", zone: "zone-1"), (name: "node-b", zone: "zone-1"),
                              (name: "node-c", zone: "zone-2"), (name: "node-d", zone: "zone-2")]),
            workloads: [StatefulSet((name: "web", replicas: 3, pod_management: {pm}, template: (image: "nginx:1"), claims: [(name: "www")])),
                        Deployment((name: "api", replicas: 2, template: (image: "api:1")))],
            steps: [{steps}])"#,
        seed = seq.seed,
        steps = lines.join(",\n")
    )
}

/// What one sequence did, summed over the run to show the generator's reach.
#[derive(Default)]
struct Totals {
    sequences: u64,
    instants: u64,
    events: u64,
    /// Sequences that force-deleted a pod whose node was alive (up or
    /// partitioned).
    risky: u64,
    /// Of those, ones where the node was partitioned.
    partitioned: u64,
    /// Sequences that reported a breach.
    broken: u64,
    partitioned_broken: u64,
}

/// Two processes of one identity, or one RWO volume attached to two nodes, now.
fn breaches_in_model(world: &mut bevy::prelude::World) -> Vec<String> {
    let mut per_identity: BTreeMap<(String, u32), u32> = BTreeMap::new();
    for p in world.query::<&Process>().iter(world) {
        if p.owner.kind == OwnerKind::StatefulSet
            && let Some(o) = p.ordinal
        {
            *per_identity.entry((p.owner.name.clone(), o)).or_default() += 1;
        }
    }
    let mut out: Vec<String> = per_identity
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((s, o), _)| format!("identity/{s}-{o}"))
        .collect();
    let mut per_volume: BTreeMap<String, u32> = BTreeMap::new();
    for a in world.query::<&Attachment>().iter(world) {
        // A fenced mount (`forgotten`) was detached at the storage API.
        if a.state == AttachState::Attached && !a.forgotten {
            *per_volume.entry(a.volume.clone()).or_default() += 1;
        }
    }
    out.extend(
        per_volume
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(v, _)| format!("rwo/{v}")),
    );
    out
}

/// Plays one sequence, checking the invariants after every instant.
fn run_sequence(text: &str, totals: &mut Totals) -> Result<(), String> {
    let loaded = load_str("random.ron", text.as_bytes())
        .map_err(|d| format!("generated scenario does not load: {d}"))?;
    let mut app = statefulset_sim::core_app();
    let world = app.world_mut();
    scenario::install(world, loaded, None, false);
    let mut instants = 0u64;
    let mut seen_events = 0usize;
    // Force deletes of a pod whose node was alive (up or cut off), read
    // from the log as the explorer's coverage reads it.
    let mut force = Facts::new(vec!["web".to_string()]);
    loop {
        settle_all(world);
        instants += 1;
        let log = world.resource::<EventLog>();
        force.observe(&log.events[seen_events..]);
        seen_events = log.events.len();
        // Every breach present in the model is reported.
        let in_model = breaches_in_model(world);
        let inv = world.resource::<Invariants>();
        if let Some(b) = in_model.iter().find(|b| !inv.broken.contains_key(*b)) {
            return Err(format!("breach {b} in the model but not reported"));
        }
        if !force.has(Fact::ForceDeleteOnLiveNode) && inv.total > 0 {
            return Err(format!(
                "InvariantBroken without a force delete of a pod whose node is alive\n{}",
                tail(world)
            ));
        }
        let next = world.resource::<SimClock>().wake.next_ms;
        let Some(next) = next else { break };
        let lesson = world.resource::<Lesson>();
        if lesson.finished() && next > lesson.armed_ms + TAIL_MS {
            break;
        }
        world.resource_mut::<SimClock>().now_ms = next;
    }
    let log = world.resource::<EventLog>();
    common::dump_log(text, "random", &log.to_jsonl());
    let broken = log.count(EventKind::InvariantBroken) > 0;
    totals.sequences += 1;
    totals.instants += instants;
    totals.events += log.events.len() as u64;
    let partitioned = force.has(Fact::ForceDeleteOnCutOffNode);
    totals.risky += force.has(Fact::ForceDeleteOnLiveNode) as u64;
    totals.partitioned += partitioned as u64;
    totals.broken += broken as u64;
    totals.partitioned_broken += (partitioned && broken) as u64;
    Ok(())
}

fn tail(world: &bevy::prelude::World) -> String {
    let ev = &world.resource::<EventLog>().events;
    ev[ev.len().saturating_sub(40)..]
        .iter()
        .map(|e| e.to_json_line())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fixed cases and seed unless proptest's environment variables say otherwise.
fn config() -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = SEQUENCES;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config.failure_persistence = None;
    config.max_shrink_time = SHRINK_MS;
    config
}

#[test]
fn invariants_hold_unless_a_pod_is_force_deleted_while_its_node_is_alive_and_every_breach_is_reported()
 {
    let start = Instant::now();
    let config = config();
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let totals = RefCell::new(Totals::default());
    let result = runner.run(&sequence(), |seq| {
        run_sequence(&scenario_text(&seq), &mut totals.borrow_mut()).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, seq)) => panic!(
            "{why}\nminimal failing sequence ({} commands), as a scenario file:\n{}",
            seq.steps.len(),
            scenario_text(&seq)
        ),
        Err(TestError::Abort(why)) => panic!("proptest gave up: {why}"),
    }
    let t = totals.into_inner();
    eprintln!(
        "randomized: {} sequences, {} simulated instants, {} events; {} force-deleted a pod on a live node ({} on a partitioned one), {} reported a breach ({} after a partition); {:.1}s",
        t.sequences,
        t.instants,
        t.events,
        t.risky,
        t.partitioned,
        t.broken,
        t.partitioned_broken,
        start.elapsed().as_secs_f64()
    );
    assert!(t.broken <= t.risky);
    if cases < SEQUENCES {
        return;
    }
    // The generator must exercise both kinds of sequence.
    assert!(
        t.partitioned >= 20,
        "only {} force deletes on a partitioned node: the generator is too tame",
        t.partitioned
    );
    assert!(
        t.partitioned_broken >= 5,
        "a partitioned force delete never produced a split brain: {}",
        t.partitioned_broken
    );
}
