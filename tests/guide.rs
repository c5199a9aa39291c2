//! The teaching guide cannot drift from the lessons: in
//! docs/teaching-guide.md each lesson's goal, length, short version (the
//! waits to skip), wall-clock plan, questions (with the instant each is
//! asked, its choices and its `answer:`) and what the lesson simplifies sit
//! between `<!-- generated: FILE -->` and `<!-- end generated -->`, and are
//! exactly what this test generates from the scenario file and a headless
//! run. Each lesson's handwritten **Prerequisites:** names only lessons
//! before it. After changing a lesson, regenerate with
//! `UPDATE_GUIDE=1 cargo test --test guide` and review the diff.

mod common;

use common::lesson_files;
use statefulset_sim::headless;
use statefulset_sim::scenario::{Loaded, load_file};
use statefulset_sim::sim::event::{EventKind, SimEvent};
use statefulset_sim::sim::model::StorageKind;
use std::path::{Path, PathBuf};

const GUIDE: &str = "docs/teaching-guide.md";
const END: &str = "<!-- end generated -->";
/// A gap between two captions or questions this long is a wait worth
/// skipping in the short version.
const LONG_WAIT_MS: u64 = 60_000;
/// The discussion a question takes in class (the guide's rule of thumb).
const DISCUSSION_MS: u64 = 180_000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// "2m05s", "45s": a time in the lesson, as the guide prints it.
fn mmss(ms: u64) -> String {
    let s = (ms + 500) / 1000;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The step index of a lesson step's event ("scenario/step-7": 6).
fn step_of(e: &SimEvent) -> Option<usize> {
    e.object
        .strip_prefix("scenario/step-")?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

/// The generated part of a lesson's section: from the file and a run.
fn generated(loaded: &Loaded) -> String {
    let run = headless::run(loaded.clone(), None, None);
    let steps: Vec<&SimEvent> = run
        .log()
        .events
        .iter()
        .filter(|e| step_of(e).is_some())
        .collect();
    let end = steps.iter().map(|e| e.t_ms).max().unwrap_or(0);
    let cues: Vec<&&SimEvent> = steps
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Note | EventKind::Pause))
        .collect();
    let questions: Vec<(u64, usize)> = cues
        .iter()
        .filter(|e| e.kind == EventKind::Pause)
        .filter_map(|e| Some((e.t_ms, step_of(e)?)))
        .collect();
    let mut out = String::new();
    out.push_str(&format!("**Goal:** {}\n\n", loaded.scenario.summary));
    out.push_str(&format!(
        "**Length:** the story runs {} of simulated time (at 1×, as long on the wall clock), with {} question{}.",
        mmss(end),
        questions.len(),
        if questions.len() == 1 { "" } else { "s" }
    ));
    // The short version: waits between one cue and the next to skip.
    let (short, skips) = short_and_skips(end, &cues);
    if skips.is_empty() {
        out.push_str(" No wait is longer than a minute: play it at 1×.\n\n");
    } else {
        let waits: Vec<String> = skips
            .iter()
            .map(|(a, b)| format!("{} to {}", mmss(*a), mmss(*b)))
            .collect();
        out.push_str(&format!(
            "\n\n**Short version:** skip the wait{} from {} with PageDown (next caption or question): about {} at 1× instead of {}.\n\n",
            if skips.len() == 1 { "" } else { "s" },
            waits.join(", "),
            mmss(short),
            mmss(end)
        ));
    }
    let talk = DISCUSSION_MS * questions.len() as u64;
    if !questions.is_empty() {
        out.push_str(&format!(
            "**Wall clock:** at 1× the lesson plays {}{}, plus about {} of discussion ({} per question): plan about {} of class time. At 4× the played part takes {}.\n\n",
            mmss(short),
            if skips.is_empty() { "" } else { " (the short version)" },
            mmss(talk),
            mmss(DISCUSSION_MS),
            mmss(short + talk),
            mmss(short / 4)
        ));
    }
    for (k, (t, step)) in questions.iter().enumerate() {
        let s = &loaded.scenario.steps[*step];
        let choices = match (&s.choices, s.correct_choice()) {
            (Some(cs), Some(right)) => {
                let listed: Vec<String> = cs
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        format!("{}. {c}", statefulset_sim::scenario::Step::choice_letter(i))
                    })
                    .collect();
                format!(
                    "Choices: {} (correct: {}).\n",
                    listed.join(" · "),
                    statefulset_sim::scenario::Step::choice_letter(right)
                )
            }
            _ => String::new(),
        };
        out.push_str(&format!(
            "**Q{} ({}): \"{}\"**\n{choices}{}\n\n",
            k + 1,
            mmss(*t),
            s.pause.as_deref().unwrap_or_default(),
            s.answer.as_deref().unwrap_or("(no answer written)")
        ));
    }
    out.push_str("> **What this simulator simplifies here.**\n");
    for line in simplifications(loaded) {
        out.push_str(&format!("> - {line}\n"));
    }
    out.push('\n');
    out
}

/// How long the short version plays (the waits of a minute or more
/// skipped), and the waits skipped.
fn short_and_skips(end: u64, cues: &[&&SimEvent]) -> (u64, Vec<(u64, u64)>) {
    let mut last = 0;
    let mut skips = Vec::new();
    for e in cues {
        if e.t_ms.saturating_sub(last) >= LONG_WAIT_MS {
            skips.push((last, e.t_ms));
        }
        last = e.t_ms;
    }
    let skipped: u64 = skips.iter().map(|(a, b)| b - a).sum();
    (end.saturating_sub(skipped), skips)
}

/// What this lesson shows in a simpler form than a real cluster, from what
/// the lesson uses: its commands, storage, database and manifests.
fn simplifications(loaded: &Loaded) -> Vec<String> {
    let s = &loaded.scenario;
    let commands: Vec<String> = s
        .steps
        .iter()
        .filter_map(|st| st.command.as_ref().map(|c| format!("{c:?}")))
        .collect();
    let uses = |name: &str| commands.iter().any(|c| c.starts_with(name));
    let text = format!("{:?} {:?}", s.cluster, s.workloads);
    let mut out = vec![
        "Pods are placed by the simulator's own scheduler (a node that fits, spreading by zone then by node), not by kube-scheduler's scoring plugins.".to_string(),
    ];
    if uses("FailNode") || uses("PartitionNode") {
        out.push("Node timing is exact: the node turns NotReady 50 s after its last heartbeat and pods are evicted 300 s later, to the second; a real cluster adds a few seconds of jitter.".to_string());
    }
    let kubectl = |words: &str| {
        commands
            .iter()
            .any(|c| c.starts_with("Kubectl") && c.contains(words))
    };
    // Only network and zonal disks attach: a lesson on local or shared
    // volumes alone has no attach or detach to simplify.
    let classes = &s.cluster.storage_classes;
    let attaches = classes.is_empty()
        || classes
            .iter()
            .any(|c| matches!(c.kind, StorageKind::Network | StorageKind::Zonal));
    if attaches && (kubectl("--force") || kubectl("delete node") || kubectl("out-of-service")) {
        out.push("Volumes attach in 3 s and detach in 2 s; the forced detach comes after exactly 6 minutes (maxWaitForUnmountDuration).".to_string());
    }
    if kubectl("patch pvc") {
        out.push("A claim expands in fixed times (the volume in 5 s, the file system in 2 s) and never fails; real resizers take longer and can fail.".to_string());
    }
    if text.contains("Local") {
        out.push("Local volumes are provisioned on demand here; real static local PersistentVolumes must be created beforehand, one per disk.".to_string());
    }
    if text.contains("Mysql") {
        out.push("The database is a model of the tutorial's MySQL: rows are counted, not stored; clones and replication run at fixed speeds.".to_string());
    }
    if text.contains("broken_images: [\"") || uses("SetImage") {
        out.push("Images are pulled instantly or fail at once (a name listed as broken); there is no registry or download time.".to_string());
    }
    if !s.manifests.is_empty() || uses("Kubectl") {
        out.push("kubectl is a subset (docs/scenario-format.md §10): the commands and fields the simulator models, printed as kubectl prints them.".to_string());
    }
    out
}

fn marker(file: &Path) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().to_string());
    format!(
        "<!-- generated: {} (UPDATE_GUIDE=1 cargo test --test guide) -->",
        name.unwrap_or_default()
    )
}

#[test]
fn the_teaching_guide_gives_each_lesson_its_questions_answers_and_times_as_the_lessons_do() {
    let path = root().join(GUIDE);
    let mut guide = std::fs::read_to_string(&path).expect("the guide exists");
    let update = std::env::var_os("UPDATE_GUIDE").is_some();
    let mut problems = Vec::new();
    for f in lesson_files() {
        let loaded = load_file(&f).expect("lesson loads");
        let open = marker(&f);
        let Some(start) = guide.find(&open) else {
            problems.push(format!("{GUIDE} has no `{open}` section"));
            continue;
        };
        let body = start + open.len() + 1;
        let Some(len) = guide[body..].find(END) else {
            problems.push(format!("{GUIDE}: `{open}` is not closed by `{END}`"));
            continue;
        };
        let want = generated(&loaded);
        if guide[body..body + len] != want {
            if update {
                guide.replace_range(body..body + len, &want);
            } else {
                problems.push(format!(
                    "{}: the guide says\n{}\nbut the lesson gives\n{}",
                    f.display(),
                    &guide[body..body + len],
                    want
                ));
            }
        }
    }
    if update {
        std::fs::write(&path, &guide).expect("the guide is writable");
    }
    assert!(
        problems.is_empty(),
        "the teaching guide differs from the lessons (regenerate with UPDATE_GUIDE=1 cargo test --test guide):\n{}",
        problems.join("\n\n")
    );
}

/// The lesson numbers a prerequisites line names ("lessons 7 to 10",
/// "lessons 3, 8 and 9", "lesson 1"): every number after the word lesson(s)
/// up to the end of the sentence.
fn lessons_named(line: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in line.split("lesson").skip(1) {
        let sentence = part.split(['.', ';', '(']).next().unwrap_or_default();
        out.extend(
            sentence
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u32>().ok()),
        );
    }
    out
}

#[test]
fn every_lesson_in_the_guide_names_its_prerequisites_and_they_come_before_it() {
    let guide = std::fs::read_to_string(root().join(GUIDE)).expect("the guide exists");
    let mut problems = Vec::new();
    for f in lesson_files() {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let Ok(number) = name[..2].parse::<u32>() else {
            continue;
        };
        let Some(at) = guide.find(&marker(&f)) else {
            problems.push(format!("{name}: no section in the guide"));
            continue;
        };
        // The prerequisites line sits between the section's heading and its
        // generated part.
        let head = guide[..at].rfind("\n## ").unwrap_or(0);
        let Some(pre) = guide[head..at].find("**Prerequisites:**") else {
            problems.push(format!("{name}: no **Prerequisites:** line"));
            continue;
        };
        let line = guide[head + pre..at]
            .split("\n\n")
            .next()
            .unwrap_or_default();
        for n in lessons_named(line) {
            if n >= number {
                problems.push(format!(
                    "{name}: its prerequisites name lesson {n}, which comes later: {line}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_prerequisites_line_is_read_for_every_lesson_it_names() {
    assert_eq!(
        lessons_named("**Prerequisites:** lessons 7 to 10 (lesson 7 for the MySQL words)."),
        vec![7, 10, 7]
    );
    assert_eq!(
        lessons_named("lessons 3, 8 and 9; what a PVC is"),
        vec![3, 8, 9]
    );
    assert_eq!(lessons_named("none: open it any time."), Vec::<u32>::new());
}
