//! `statefulset-sim handout`: every lesson's student handout lists its
//! questions in order and no answer, the answer key has every answer, the
//! Moodle quiz parses as GIFT and says the same as the lessons, and each
//! multiple-choice question's correct choice is what the run then shows.

mod common;

use common::lesson_files;
use statefulset_sim::handout;
use statefulset_sim::headless;
use statefulset_sim::scenario::load_file;
use statefulset_sim::sim::event::EventKind;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ss-handout-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// One question of a GIFT file, as Moodle reads it.
#[derive(Debug, Default)]
struct GiftQuestion {
    category: String,
    title: String,
    text: String,
    right: Vec<String>,
    wrong: Vec<String>,
    feedback: Option<String>,
}

/// Reads up to an unescaped `stop` (not included), unescaping; returns the
/// text and the rest after `stop`.
fn until<'a>(s: &'a str, stop: &str) -> Result<(String, &'a str), String> {
    let mut out = String::new();
    let mut it = s.char_indices();
    while let Some((i, c)) = it.next() {
        if c == '\\' {
            match it.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, e)) if "\\~=#{}:".contains(e) => out.push(e),
                other => return Err(format!("bad escape \\{other:?} in {s:?}")),
            }
        } else if s[i..].starts_with(stop) {
            return Ok((out, &s[i + stop.len()..]));
        } else if "{}=~#".contains(c) || (c == ':' && stop != "::") {
            return Err(format!("unescaped {c:?} before {stop:?} in {s:?}"));
        } else {
            out.push(c);
        }
    }
    Err(format!("no {stop:?} in {s:?}"))
}

/// A strict reader of the GIFT this project writes: comments, categories,
/// and `::title::text {…}` questions separated by blank lines, whose body
/// holds `=right`, `~wrong` and `####feedback`, every special character
/// escaped.
fn parse_gift(text: &str) -> Result<Vec<GiftQuestion>, String> {
    let mut out = Vec::new();
    let mut category = String::new();
    for block in text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        if block.starts_with("//") {
            continue;
        }
        if let Some(c) = block.strip_prefix("$CATEGORY: ") {
            category = c.to_string();
            continue;
        }
        let rest = block
            .strip_prefix("::")
            .ok_or_else(|| format!("a question must start with ::title:: : {block}"))?;
        let (title, rest) = until(rest, "::")?;
        let (text, rest) = until(rest, "{")?;
        let (body, rest) = until_raw_close(rest)?;
        if !rest.trim().is_empty() {
            return Err(format!("text after the answers: {rest:?}"));
        }
        let mut q = GiftQuestion {
            category: category.clone(),
            title,
            text: text.trim().to_string(),
            ..Default::default()
        };
        for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let item = |rest: &str| until(&format!("{rest}\u{0}"), "\u{0}").map(|(t, _)| t);
            if let Some(f) = line.strip_prefix("####") {
                q.feedback = Some(item(f)?);
            } else if let Some(r) = line.strip_prefix('=') {
                q.right.push(item(r)?);
            } else if let Some(w) = line.strip_prefix('~') {
                q.wrong.push(item(w)?);
            } else {
                return Err(format!(
                    "an answer line must start with =, ~ or ####: {line}"
                ));
            }
        }
        out.push(q);
    }
    Ok(out)
}

/// The raw body up to the first unescaped `}`, escapes kept (each line is
/// unescaped on its own).
fn until_raw_close(s: &str) -> Result<(String, &str), String> {
    let mut it = s.char_indices();
    while let Some((i, c)) = it.next() {
        match c {
            '\\' => {
                it.next();
            }
            '}' => return Ok((s[..i].to_string(), &s[i + 1..])),
            '{' => return Err(format!("unescaped {{ in {s:?}")),
            _ => {}
        }
    }
    Err(format!("no closing }} in {s:?}"))
}

#[test]
fn the_handouts_keys_and_moodle_quiz_say_what_the_lessons_say() {
    let dir = out_dir("all");
    let written = handout::write_all(&root().join("scenarios"), &dir).expect("writes");
    let gift = std::fs::read_to_string(dir.join("quiz.gift")).expect("quiz.gift");
    let parsed = parse_gift(&gift).unwrap_or_else(|e| panic!("quiz.gift does not parse: {e}"));
    let mut in_gift = parsed.iter();
    let mut lessons_with_questions = 0;
    let mut multiple_choice = 0;
    for f in lesson_files() {
        let loaded = load_file(&f).expect("loads");
        let stem = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let quiz = handout::lesson_quiz(&loaded, &stem);
        let handout_path = dir.join(format!("{stem}-handout.md"));
        if quiz.questions.is_empty() {
            assert!(
                !handout_path.exists(),
                "{stem} has no questions, so no handout"
            );
            continue;
        }
        lessons_with_questions += 1;
        assert!(written.contains(&handout_path));
        let h = std::fs::read_to_string(&handout_path).expect("handout");
        let key = std::fs::read_to_string(dir.join(format!("{stem}-answers.md"))).expect("key");
        // The questions in order, each with room to answer, and no answer.
        let mut at = 0;
        for (k, q) in quiz.questions.iter().enumerate() {
            let head = format!("## Question {}\n\n{}\n", k + 1, q.text);
            let found = h[at..]
                .find(&head)
                .unwrap_or_else(|| panic!("{stem}: question {} missing or out of order", k + 1));
            at += found + head.len();
            let answer = q.answer.as_deref().expect("every question has an answer");
            assert!(!h.contains(answer), "{stem}: the handout prints an answer");
            assert!(key.contains(answer), "{stem}: the key lacks an answer");
            for (i, c) in q.choices.iter().enumerate() {
                let letter = (b'A' + i as u8) as char;
                assert!(
                    h.contains(&format!("- [ ] **{letter}.** {c}\n")),
                    "{stem}: choice {c}"
                );
            }
            if let Some(i) = q.correct {
                multiple_choice += 1;
                assert!(key.contains(&format!(
                    "**Correct choice: {}.**",
                    (b'A' + i as u8) as char
                )));
            }
            // The same question in the quiz, in the same order.
            let g = in_gift
                .next()
                .unwrap_or_else(|| panic!("{stem}: quiz ends early"));
            assert_eq!(g.category, format!("statefulset-sim/{stem}"));
            assert_eq!(g.title, format!("{} Q{}", quiz.title, k + 1));
            assert_eq!(g.text, q.text);
            assert_eq!(g.feedback.as_deref(), Some(answer));
            match q.correct {
                Some(i) => {
                    assert_eq!(g.right, vec![q.choices[i].clone()], "{stem} Q{}", k + 1);
                    assert_eq!(g.wrong.len(), q.choices.len() - 1);
                }
                None => assert!(g.right.is_empty() && g.wrong.is_empty(), "an essay"),
            }
        }
        assert!(
            h.matches("______").count() >= quiz.questions.len(),
            "room to answer"
        );
    }
    assert!(
        in_gift.next().is_none(),
        "the quiz has questions no lesson asks"
    );
    assert!(lessons_with_questions >= 12, "{lessons_with_questions}");
    assert!(
        multiple_choice >= 4,
        "only {multiple_choice} multiple-choice questions"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_gift_reader_refuses_what_moodle_would_misread() {
    assert!(parse_gift("::t::a: b {}").is_err(), "an unescaped colon");
    assert!(
        parse_gift("::t::q {\n=a\n~b = c\n}").is_err(),
        "an unescaped ="
    );
    let q = parse_gift("$CATEGORY: x\n\n::t\\: 1::q? {\n\t=a\\~b\n\t~c\n\t####why\\: d\n}")
        .expect("parses");
    assert_eq!(q[0].title, "t: 1");
    assert_eq!(q[0].right, vec!["a~b"]);
    assert_eq!(q[0].feedback.as_deref(), Some("why: d"));
}

/// The step index of a lesson step's event ("scenario/step-7": 6).
fn step_of(object: &str) -> Option<usize> {
    object
        .strip_prefix("scenario/step-")?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

#[test]
fn every_multiple_choice_answer_is_what_the_run_then_shows() {
    // A choice question's correct choice is in its written answer, and the
    // run bears it out: the expectations between the question and the next
    // one (there is at least one) all pass.
    let mut checked = 0;
    for f in lesson_files() {
        let loaded = load_file(&f).expect("loads");
        let steps = &loaded.scenario.steps;
        let run = headless::run(loaded.clone(), None, None);
        let result = |i: usize| {
            run.log().events.iter().find_map(|e| match e.kind {
                EventKind::ExpectationPassed if step_of(&e.object) == Some(i) => Some(true),
                EventKind::ExpectationFailed if step_of(&e.object) == Some(i) => Some(false),
                _ => None,
            })
        };
        for (i, s) in steps.iter().enumerate() {
            let Some(c) = s.correct_choice() else {
                continue;
            };
            let choice = &s.choices.as_ref().expect("choices")[c];
            let answer = s.answer.as_deref().unwrap_or_default();
            assert!(
                answer.to_lowercase().contains(&choice.to_lowercase()),
                "{}: the answer to \"{}\" does not say its correct choice \"{choice}\"",
                f.display(),
                s.pause.as_deref().unwrap_or_default()
            );
            let next = (i + 1..steps.len())
                .find(|j| steps[*j].pause.is_some())
                .unwrap_or(steps.len());
            let expects: Vec<usize> = (i + 1..next)
                .filter(|j| steps[*j].expect.is_some())
                .collect();
            assert!(
                !expects.is_empty(),
                "{}: nothing checks the answer",
                f.display()
            );
            for j in expects {
                assert_eq!(
                    result(j),
                    Some(true),
                    "{}: step {} after the choice",
                    f.display(),
                    j + 1
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} multiple-choice questions");
}
