//! Navigation for a teacher: the intro card holds the clock at t = 0, the
//! next / previous caption-or-question keys, the list of questions that
//! goes straight to one (forward by playing, back by a rewind), and
//! `kubectl get pods -o wide` for the instant on screen.

#![cfg(feature = "gui")]

use statefulset_sim::gui::host::{Playback, SimHost};
use statefulset_sim::scenario::load_file;
use statefulset_sim::sim::event::{EventKind, EventLog};
use statefulset_sim::ui::lesson;
use std::path::PathBuf;

fn host(file: &str) -> SimHost {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    SimHost::new(load_file(&path).expect("lesson loads"), None)
}

fn cues_so_far(host: &SimHost) -> usize {
    host.world
        .resource::<EventLog>()
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Note | EventKind::Pause))
        .count()
}

#[test]
fn a_lesson_opens_on_its_goal_with_the_clock_held_at_zero() {
    let mut h = host("02-ordered-scaling.ron");
    let mut pb = Playback::default();
    assert!(pb.intro, "the intro card is up");
    assert_eq!(h.now_ms(), 0);
    pb.toggle(&mut h);
    assert!(!pb.intro && !pb.paused, "space starts the lesson");
}

#[test]
fn next_caption_plays_on_to_the_next_caption_or_question_and_stops_there() {
    let mut h = host("02-ordered-scaling.ron");
    let mut pb = Playback::default();
    let before = cues_so_far(&h);
    lesson::next_cue(&mut h, &mut pb);
    assert!(cues_so_far(&h) > before, "a caption or question appeared");
    let log = h.world.resource::<EventLog>();
    let last = log
        .events
        .iter()
        .rfind(|e| matches!(e.kind, EventKind::Note | EventKind::Pause))
        .expect("a cue");
    assert_eq!(last.t_ms, h.now_ms(), "stopped at the caption's instant");
    assert!(pb.paused && !pb.intro);
    // On: the next one is the first question, held open.
    lesson::next_cue(&mut h, &mut pb);
    assert!(pb.question.is_some(), "stopped at the question");
}

#[test]
fn previous_caption_goes_back_to_the_one_before() {
    let mut h = host("02-ordered-scaling.ron");
    let mut pb = Playback::default();
    lesson::next_cue(&mut h, &mut pb);
    let first = h.now_ms();
    lesson::next_cue(&mut h, &mut pb);
    let second = h.now_ms();
    assert!(second > first);
    lesson::next_cue(&mut h, &mut pb);
    lesson::previous_cue(&mut h, &mut pb);
    assert_eq!(h.now_ms(), second, "back to the cue before the one shown");
    lesson::previous_cue(&mut h, &mut pb);
    assert_eq!(h.now_ms(), first);
}

#[test]
fn the_question_list_goes_forward_to_a_question_and_back_to_an_earlier_one() {
    let mut h = host("02-ordered-scaling.ron");
    let mut pb = Playback::default();
    let qs = lesson::questions(&h.loaded);
    assert!(qs.len() >= 3);
    lesson::go_to_question(&mut h, &mut pb, qs[2].step);
    assert_eq!(lesson::open_question(&h.world), Some(qs[2].step));
    assert_eq!(pb.question.as_deref(), Some(qs[2].text.as_str()));
    let asked = lesson::asked(&h.world);
    let t1 = asked
        .iter()
        .find(|(s, _)| *s == qs[0].step)
        .map(|(_, t)| *t)
        .expect("the first question was asked on the way");
    lesson::go_to_question(&mut h, &mut pb, qs[0].step);
    assert_eq!(h.now_ms(), t1, "rewound to the instant it was asked");
    assert_eq!(lesson::open_question(&h.world), Some(qs[0].step));
    assert_eq!(pb.question.as_deref(), Some(qs[0].text.as_str()));
}

#[test]
fn kubectl_get_pods_wide_prints_the_columns_and_rows_kubectl_prints() {
    let mut h = host("01-identity-vs-deployment.ron");
    let mut pb = Playback::default();
    let first = lesson::questions(&h.loaded)[0].step;
    lesson::go_to_question(&mut h, &mut pb, first);
    let c = statefulset_sim::sim::read::read(&mut h.world);
    let out = lesson::kubectl_get_pods_wide(&c);
    let mut lines = out.lines();
    let head = lines.next().expect("a header");
    let cols: Vec<&str> = head
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cols,
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 6, "three web and three api pods:\n{out}");
    let web0 = rows
        .iter()
        .find(|r| r[0] == "web-0")
        .expect("web-0 is listed");
    assert_eq!(&web0[1..4], ["1/1", "Running", "0"], "{out}");
    assert!(
        web0[5].starts_with("10.244."),
        "its address from its node's pod range: {out}"
    );
    assert!(web0[6].starts_with("node-"), "its node: {out}");
    // Sorted by name, as the API lists them.
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn lessons_run_each_scripted_action_kubectl_can_do_as_its_kubectl_command() {
    // What kubectl can do (scenario-format §10) is a `Kubectl("…")` step in
    // the lessons, so the class sees the command; what no kubectl command
    // does (a machine dying, a probe failing) stays a scenario command.
    let kubectl_can = [
        "Scale(",
        "SetImage(",
        "SetPartition(",
        "SetMaxUnavailable(",
        "DeletePod(",
        "ForceDeletePod(",
        "DeleteClaim(",
        "ExpandClaim(",
        "DeleteSet(",
        "DeleteNode(",
        "CordonNode(",
        "UncordonNode(",
        "TaintOutOfService(",
        "UntaintOutOfService(",
        "DrainNode(",
        "EvictPod(",
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut found = Vec::new();
    let mut kubectl_steps = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("reads");
        kubectl_steps += text.matches("do: Kubectl(").count();
        for (n, line) in text.lines().enumerate() {
            for c in kubectl_can {
                if line.contains(&format!("do: {c}")) {
                    found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "use Kubectl(\"…\") for:\n{}",
        found.join("\n")
    );
    assert!(kubectl_steps >= 40, "only {kubectl_steps} kubectl steps");
}

#[test]
fn the_command_behind_a_scripted_action_is_on_screen_until_the_next_caption() {
    let mut h = host("02-ordered-scaling.ron");
    let loaded = h.loaded.clone();
    for _ in 0..600 {
        if h.advance(h.now_ms() + 1000, false) == statefulset_sim::sim::Advance::Paused {
            h.answer();
        }
        let shown = lesson::current_commands(h.world.resource::<EventLog>());
        if shown.is_empty() {
            continue;
        }
        assert_eq!(
            shown,
            vec!["$ kubectl scale statefulset/web --replicas=5".to_string()]
        );
        let texts = lesson::screen_texts(&mut h.world, &loaded);
        assert!(texts.iter().any(|t| t == &shown[0]), "{texts:?}");
        // The next caption replaces it.
        while h.world.resource::<EventLog>().events.last().map(|e| e.kind) != Some(EventKind::Note)
        {
            if h.advance(h.now_ms() + 1000, false) == statefulset_sim::sim::Advance::Paused {
                h.answer();
            }
        }
        assert!(lesson::current_commands(h.world.resource::<EventLog>()).is_empty());
        return;
    }
    panic!("lesson 2 never ran its kubectl scale");
}
