//! No giveaways: at every question of every lesson, nothing on screen (the
//! lesson's goal, its captions, the checked expectations, the workloads
//! panel, the cluster's cards and countdowns, the event log, the question
//! itself) states the question's `answer:`. The texts come from the
//! functions the panels draw them with (`ui::lesson::screen_texts`), at the
//! instant the GUI holds the clock for the class.

#![cfg(feature = "gui")]

mod common;

use common::lesson_files;
use statefulset_sim::gui::host::SimHost;
use statefulset_sim::scenario::load_file;
use statefulset_sim::sim::Advance;
use statefulset_sim::ui::lesson;

/// How far (simulated) a lesson is played looking for its next question.
const SEARCH_MS: u64 = 3 * 3_600_000;

#[test]
fn every_question_of_every_lesson_has_an_answer_for_the_presenter() {
    let mut missing = Vec::new();
    for f in lesson_files() {
        let loaded = load_file(&f).expect("lesson loads");
        for q in lesson::questions(&loaded) {
            if q.answer.as_deref().is_none_or(|a| a.trim().is_empty()) {
                missing.push(format!("{}: \"{}\"", f.display(), q.text));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "questions without an `answer:`:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_text_on_screen_at_a_question_gives_away_its_answer() {
    let mut problems = Vec::new();
    let mut asked = 0;
    for f in lesson_files() {
        let loaded = load_file(&f).expect("lesson loads");
        let questions = lesson::questions(&loaded);
        let mut host = SimHost::new(loaded.clone(), None);
        let mut seen = 0;
        while seen < questions.len() && host.advance(SEARCH_MS, false) == Advance::Paused {
            let step = lesson::open_question(&host.world).expect("a question is open");
            let q = questions
                .iter()
                .find(|q| q.step == step)
                .expect("the open question is one of the lesson's");
            seen += 1;
            let texts = lesson::screen_texts(&mut host.world, &loaded);
            let answer = q.answer.clone().unwrap_or_default();
            // A phrase the question itself offers ("together or one by
            // one?") is one of its options, not its answer given away.
            let asked = lesson::normalise(&q.text);
            for phrase in lesson::answer_phrases(&answer)
                .into_iter()
                .filter(|p| !asked.contains(p.as_str()))
            {
                for t in texts
                    .iter()
                    .filter(|t| lesson::normalise(t).contains(&phrase))
                {
                    problems.push(format!(
                        "{} at \"{}\": \"{phrase}\" is on screen in: {t}",
                        f.display(),
                        q.text
                    ));
                }
            }
            host.answer();
        }
        assert_eq!(
            seen,
            questions.len(),
            "{}: only {seen} of its {} questions were asked",
            f.display(),
            questions.len()
        );
        asked += seen;
    }
    assert!(asked >= 25, "only {asked} questions in the lessons");
    assert!(
        problems.is_empty(),
        "answers on screen while their question is open:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_giveaway_check_catches_a_caption_that_states_the_answer() {
    // Lesson 4 as it was: the caption one line before the first question
    // said which pod would be updated.
    let text = r#"(name: "t", summary: "How does a partition work?", seed: 4,
        cluster: (nodes: [(name: "node-a", zone: "z"), (name: "node-b", zone: "z")]),
        workloads: [StatefulSet((name: "web", replicas: 2,
            update_strategy: RollingUpdate(partition: 1),
            template: (image: "nginx:1.25"), claims: [(name: "www")]))],
        steps: [
            (when: Ready(set: "web", count: 2), timeout: 120.0, note: "The partition is 1: only web-1 may be updated."),
            (after: 1.0, pause: "Predict: which pods will run nginx:1.27?", answer: "Only web-1: ordinals at or above the partition."),
        ])"#;
    let loaded = statefulset_sim::scenario::load_str("t.ron", text.as_bytes()).expect("loads");
    let mut host = SimHost::new(loaded.clone(), None);
    assert_eq!(host.advance(SEARCH_MS, false), Advance::Paused);
    let texts = lesson::screen_texts(&mut host.world, &loaded);
    let phrases = lesson::answer_phrases("Only web-1: ordinals at or above the partition.");
    assert!(
        texts
            .iter()
            .any(|t| phrases.iter().any(|p| lesson::normalise(t).contains(p))),
        "the caption states the answer, and the check should see it: {texts:?}"
    );
}
