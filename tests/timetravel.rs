//! Time travel: a rewind shows exactly the world a run had at that instant;
//! a branch saved as a scenario plays back with the same log; `diff` finds
//! where two runs part; `--at` with `--state-out` snapshots a past instant.

mod common;

use common::lesson_files;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statefulset_sim::headless;
use statefulset_sim::scenario::tape::{self, Entry, Input};
use statefulset_sim::scenario::{Loaded, load_file};
use statefulset_sim::sim::{self, Advance, EventLog, snapshot};
use std::path::Path;
use std::process::Command;

fn load(p: &Path) -> Loaded {
    load_file(p).unwrap_or_else(|d| panic!("{d}"))
}

/// What a world shows: its snapshot and its whole event log.
fn picture(world: &mut bevy::prelude::World) -> (String, String) {
    (
        snapshot::to_json(world),
        world.resource::<EventLog>().to_jsonl(),
    )
}

#[test]
fn rewinding_every_lesson_to_random_instants_shows_the_world_it_had_then() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for path in lesson_files() {
        let loaded = load(&path);
        let end = headless::run(loaded.clone(), None, None).now_ms();
        let mut instants: Vec<u64> = (0..20).map(|_| rng.random_range(0..=end)).collect();
        instants.sort();
        // The straight run, as the window plays it: frames of varying
        // length, every question answered at once (the answers on the tape).
        let mut world = tape::fresh_world(loaded.clone(), None, true);
        let mut tape: Vec<Entry> = Vec::new();
        let mut pictures = Vec::new();
        for &t in &instants {
            loop {
                let now = world.resource::<sim::SimClock>().now_ms;
                let frame = (now + rng.random_range(1..20_000)).min(t);
                match sim::advance_until(&mut world, frame, &mut |_| true) {
                    Advance::Paused if world.resource::<sim::SimClock>().now_ms == t => break,
                    Advance::Paused => {
                        let e = Entry::now(&world, Input::Answer);
                        tape::apply(&mut world, &e.input);
                        tape.push(e);
                    }
                    _ if frame == t => break,
                    _ => {}
                }
            }
            pictures.push((t, picture(&mut world)));
        }
        for (t, (snap, log)) in pictures {
            let (mut w, _) = tape::rewind(loaded.clone(), None, true, &tape, t);
            let (snap2, log2) = picture(&mut w);
            assert!(
                log2 == log,
                "{}: rewound to {t} ms, the event log differs",
                path.display()
            );
            assert!(
                snap2 == snap,
                "{}: rewound to {t} ms, the snapshot differs",
                path.display()
            );
        }
    }
}

#[test]
fn at_with_state_out_snapshots_a_past_instant_of_the_same_run() {
    let bin = env!("CARGO_BIN_EXE_statefulset-sim");
    let dir = std::env::temp_dir().join(format!("ss-at-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lesson = "scenarios/08-node-failure.ron";
    let at = dir.join("at.json");
    let until = dir.join("until.json");
    let out = Command::new(bin)
        .args([lesson, "--headless", "--until", "900", "--at", "123.4"])
        .arg("--state-out")
        .arg(&at)
        .output()
        .expect("runs");
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    let out = Command::new(bin)
        .args([lesson, "--headless", "--until", "123.4"])
        .arg("--state-out")
        .arg(&until)
        .output()
        .expect("runs");
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    let a = std::fs::read_to_string(&at).expect("--at wrote the snapshot");
    let u = std::fs::read_to_string(&until).expect("--until wrote the snapshot");
    assert!(a.contains("\"now_ms\": 123400") || a.contains("123400"));
    assert_eq!(
        a, u,
        "the instant's snapshot is the one a run stopped there has"
    );
    // After --until it is an error.
    let out = Command::new(bin)
        .args([lesson, "--headless", "--until", "100", "--at", "200"])
        .arg("--state-out")
        .arg(&at)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn diff_says_same_diverged_or_bad_input_by_its_exit_code() {
    let bin = env!("CARGO_BIN_EXE_statefulset-sim");
    let dir = std::env::temp_dir().join(format!("ss-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let a = "scenarios/08-node-failure.ron";
    // The lesson with one more action: force-delete web-1 at 200.5 s.
    let text = std::fs::read_to_string(a).expect("reads the lesson");
    let loaded = load(Path::new(a));
    let entry = Entry {
        t_ms: 200_500,
        input: Input::Command(sim::SimCommand::ForceDeletePod {
            pod: "web-1".into(),
        }),
        cursor: 0,
        armed_ms: 0,
    };
    // Where the player stands at 200.5 s.
    let (w, _) = tape::rewind(loaded.clone(), None, false, &[], 200_500);
    let lesson = w.resource::<statefulset_sim::scenario::Lesson>();
    let entry = Entry {
        cursor: lesson.cursor,
        armed_ms: lesson.armed_ms,
        ..entry
    };
    let b_text = statefulset_sim::scenario::save::branch_text(&text, &loaded, &[entry], "x", None)
        .expect("the branch saves");
    let b = dir.join("b.ron");
    std::fs::write(&b, b_text).expect("writes");
    let run = |x: &str, y: &Path| {
        Command::new(bin)
            .args(["diff", x])
            .arg(y)
            .args(["--until", "900"])
            .output()
            .expect("runs")
    };
    let same = run(a, Path::new(a));
    assert_eq!(same.status.code(), Some(0), "{same:?}");
    assert!(String::from_utf8_lossy(&same.stdout).contains("No divergence"));
    let diverged = run(a, &b);
    let text = String::from_utf8_lossy(&diverged.stdout);
    assert_eq!(diverged.status.code(), Some(1), "{text}");
    assert!(
        text.contains("First divergence at 3m20.5s (200.500 s)"),
        "{text}"
    );
    assert!(text.contains("PodForceDeleted pod/web-1"), "{text}");
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, "(name: ").expect("writes");
    let out = run(a, &bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.ron:1:"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A branch explored in the window (through `SimHost::send`, the path of
/// every button), saved as a scenario, plays back headless with the same
/// events.
#[cfg(feature = "gui")]
#[test]
fn a_branch_saved_as_a_scenario_replays_headless_with_the_same_log() {
    use statefulset_sim::gui::host::{Playback, SimHost};
    use statefulset_sim::scenario::outcome;
    use statefulset_sim::sim::SimCommand;
    let lesson = Path::new("scenarios/09-ways-out-force-delete.ron");
    let mut host = SimHost::new(load(lesson), None);
    let mut pb = Playback::default();
    let answer_all = |host: &mut SimHost, pb: &mut Playback, t: u64| {
        pb.run_to(host, t);
        while pb.question.is_some() {
            pb.resume(host);
            pb.run_to(host, t);
        }
    };
    answer_all(&mut host, &mut pb, 900_000);
    // Back to 6:40 and another way out: taint the node out-of-service.
    pb.seek(&mut host, 400_000);
    host.finish_rewind();
    pb.after_rewind(&host);
    assert_eq!(host.now_ms(), 400_000);
    host.send(SimCommand::TaintOutOfService {
        node: None,
        of: Some("mysql-1".into()),
    });
    assert_eq!(host.branches.list.len(), 2, "acting in the past forks");
    answer_all(&mut host, &mut pb, 450_000);
    host.send(SimCommand::Write {
        rows: 100,
        set: Some("mysql".into()),
    });
    answer_all(&mut host, &mut pb, 900_000);
    let branch_log = host.world.resource::<EventLog>().events.clone();
    let dir = std::env::temp_dir().join(format!("ss-branch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let saved = dir.join("what-if.ron");
    let b = host.branches.current();
    statefulset_sim::scenario::save::save_branch(&saved, &host.loaded, &b.tape, &b.name, None)
        .expect("saves");
    let text = std::fs::read_to_string(&saved).expect("reads");
    assert!(text.contains("// What if: Taint mysql-1's node out-of-service at"));
    // Headless: every event of the cluster the same, byte for byte; the
    // lesson's own steps say the same at the same instants (their numbers
    // and file name are the saved file's).
    let run = headless::run(load(&saved), None, Some(900_000));
    let saved_log = &run.log().events;
    assert_eq!(
        outcome::first_divergence(&branch_log, saved_log),
        None,
        "the saved branch replays the branch"
    );
    let cluster = |l: &[sim::SimEvent]| -> String {
        l.iter()
            .filter(|e| !e.object.starts_with("scenario/"))
            .map(|e| e.to_json_line() + "\n")
            .collect()
    };
    assert_eq!(cluster(&branch_log), cluster(saved_log));
    // And the window playing the saved file logs exactly what headless does.
    let mut again = SimHost::new(load(&saved), None);
    let mut pb = Playback::default();
    answer_all(&mut again, &mut pb, 900_000);
    assert_eq!(
        again.world.resource::<EventLog>().to_jsonl(),
        run.events_jsonl(),
        "GUI and headless play the saved branch byte-identically"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_kubectl_line_typed_in_the_past_forks_a_branch_and_saves_as_a_kubectl_step() {
    use statefulset_sim::gui::host::{Playback, SimHost};
    let lesson = Path::new("scenarios/09-ways-out-force-delete.ron");
    let mut host = SimHost::new(load(lesson), None);
    let mut pb = Playback::default();
    let answer_all = |host: &mut SimHost, pb: &mut Playback, t: u64| {
        pb.run_to(host, t);
        while pb.question.is_some() {
            pb.resume(host);
            pb.run_to(host, t);
        }
    };
    answer_all(&mut host, &mut pb, 600_000);
    pb.seek(&mut host, 100_000);
    host.finish_rewind();
    pb.after_rewind(&host);
    let printed = host.kubectl("get pods");
    assert!(printed.starts_with("NAME"), "get prints a table: {printed}");
    assert_eq!(
        host.branches.list.len(),
        1,
        "reading the cluster forks nothing"
    );
    let printed = host.kubectl("scale statefulset/mysql --replicas=4");
    assert_eq!(printed.trim_end(), "statefulset.apps/mysql scaled");
    assert_eq!(host.branches.list.len(), 2, "changing it in the past forks");
    answer_all(&mut host, &mut pb, 600_000);
    // (mysql-3 is never made here: OrderedReady waits for the pod on the
    // dead node, which is the lesson's point.)
    let branch_log = host.world.resource::<EventLog>().events.clone();
    let ran = branch_log
        .iter()
        .find(|e| e.kind == sim::EventKind::KubectlRan)
        .expect("the scale is logged");
    assert_eq!(ran.t_ms, 100_000);
    assert_eq!(
        ran.reason,
        "kubectl scale statefulset/mysql --replicas=4: statefulset.apps/mysql scaled"
    );
    let dir = std::env::temp_dir().join(format!("ss-kubectl-branch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let saved = dir.join("scaled.ron");
    let b = host.branches.current();
    statefulset_sim::scenario::save::save_branch(&saved, &host.loaded, &b.tape, &b.name, None)
        .expect("saves");
    let text = std::fs::read_to_string(&saved).expect("reads");
    assert!(
        text.contains(r#"do: Kubectl("scale statefulset/mysql --replicas=4")"#),
        "{text}"
    );
    let run = headless::run(load(&saved), None, Some(600_000));
    let cluster = |l: &[sim::SimEvent]| -> String {
        l.iter()
            .filter(|e| !e.object.starts_with("scenario/"))
            .map(|e| e.to_json_line() + "\n")
            .collect()
    };
    assert_eq!(cluster(&branch_log), cluster(&run.log().events));
    let _ = std::fs::remove_dir_all(&dir);
}
