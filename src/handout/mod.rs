//! `statefulset-sim handout scenarios/ -o DIR`: for each lesson with
//! questions, a student handout (the questions in order, with space to
//! answer, and the A/B/C/D choices of a multiple-choice one) and a separate
//! answer key, in Markdown; and every lesson's questions as one Moodle quiz
//! in GIFT format (`quiz.gift`: a multiple-choice question with its correct
//! choice, an open one as an essay; the written answer as feedback).

use crate::scenario::{Loaded, format::Step, load_file};
use std::path::{Path, PathBuf};

/// The `handout` subcommand's arguments.
#[derive(clap::Args, Debug)]
pub struct HandoutArgs {
    /// A folder of lessons (`*.ron`), or one lesson file.
    pub lessons: PathBuf,
    /// The folder to write into (created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
}

/// One question of a lesson, as the handout prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    pub answer: Option<String>,
    /// Empty: an open question.
    pub choices: Vec<String>,
    /// The correct choice's index (with `choices`).
    pub correct: Option<usize>,
}

/// A lesson's questions, with what names the lesson.
#[derive(Debug, Clone, PartialEq)]
pub struct LessonQuiz {
    /// The file name without `.ron` ("02-ordered-scaling"): names the files.
    pub stem: String,
    pub title: String,
    pub goal: String,
    pub questions: Vec<Question>,
}

/// A lesson's questions (its `pause` steps), in order.
pub fn lesson_quiz(loaded: &Loaded, stem: &str) -> LessonQuiz {
    let questions = loaded
        .scenario
        .steps
        .iter()
        .filter_map(|s: &Step| {
            Some(Question {
                text: s.pause.clone()?,
                answer: s.answer.clone(),
                choices: s.choices.clone().unwrap_or_default(),
                correct: s.correct_choice(),
            })
        })
        .collect();
    LessonQuiz {
        stem: stem.to_string(),
        title: loaded.scenario.name.clone(),
        goal: loaded.scenario.summary.clone(),
        questions,
    }
}

/// Lines to write an open answer on.
const ANSWER_LINES: usize = 4;
const RULE: &str = "______________________________________________________________________";

/// The student handout: the lesson's title and goal, then each question in
/// order with its choices (a box to tick) and lines to answer on. No answer
/// is printed.
pub fn handout_md(l: &LessonQuiz) -> String {
    let mut out = format!("# {}\n\n*{}*\n\nName: {}\n\n", l.title, l.goal, &RULE[..40]);
    out.push_str("Before each answer is shown, write down what you predict, and why.\n\n");
    for (k, q) in l.questions.iter().enumerate() {
        out.push_str(&format!("## Question {}\n\n{}\n\n", k + 1, q.text));
        for (i, c) in q.choices.iter().enumerate() {
            out.push_str(&format!("- [ ] **{}.** {c}\n", Step::choice_letter(i)));
        }
        let lines = if q.choices.is_empty() {
            ANSWER_LINES
        } else {
            out.push_str("\nWhy?\n");
            2
        };
        out.push('\n');
        for _ in 0..lines {
            out.push_str(RULE);
            out.push_str("\n\n");
        }
    }
    out
}

/// The answer key: each question with its correct choice and its answer.
pub fn answers_md(l: &LessonQuiz) -> String {
    let mut out = format!("# {}: answer key\n\n*{}*\n\n", l.title, l.goal);
    for (k, q) in l.questions.iter().enumerate() {
        out.push_str(&format!("## Question {}\n\n{}\n\n", k + 1, q.text));
        if let Some(i) = q.correct {
            out.push_str(&format!(
                "**Correct choice: {}.** {}\n\n",
                Step::choice_letter(i),
                q.choices[i]
            ));
        }
        out.push_str(&format!(
            "**Answer:** {}\n\n",
            q.answer
                .as_deref()
                .unwrap_or("(no answer written in the lesson)")
        ));
    }
    out
}

/// A text escaped for GIFT: its special characters `~ = # { } :` and the
/// backslash get a backslash; a line break becomes `\n`.
pub fn gift_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '~' | '=' | '#' | '{' | '}' | ':' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

/// Every lesson's questions as a Moodle GIFT quiz: a category per lesson;
/// a multiple-choice question lists its choices (`=` the correct one, `~`
/// the others), an open one is an essay (`{}`); the written answer is the
/// general feedback (`####`).
pub fn gift(lessons: &[LessonQuiz]) -> String {
    let mut out =
        String::from("// statefulset-sim lessons: questions for a Moodle quiz (GIFT format).\n\n");
    for l in lessons.iter().filter(|l| !l.questions.is_empty()) {
        out.push_str(&format!("$CATEGORY: statefulset-sim/{}\n\n", l.stem));
        for (k, q) in l.questions.iter().enumerate() {
            let title = gift_escape(&format!("{} Q{}", l.title, k + 1));
            let mut body = String::new();
            for (i, c) in q.choices.iter().enumerate() {
                let mark = if q.correct == Some(i) { '=' } else { '~' };
                body.push_str(&format!("\n\t{mark}{}", gift_escape(c)));
            }
            if let Some(a) = &q.answer {
                body.push_str(&format!("\n\t####{}", gift_escape(a)));
            }
            if !body.is_empty() {
                body.push('\n');
            }
            out.push_str(&format!(
                "::{title}::{} {{{body}}}\n\n",
                gift_escape(&q.text)
            ));
        }
    }
    out
}

/// The lesson files of `input`: a folder's `*.ron` in name order, or the
/// one file.
fn lesson_files(input: &Path) -> Result<Vec<PathBuf>, String> {
    if input.is_file() {
        return Ok(vec![input.to_path_buf()]);
    }
    let rd = std::fs::read_dir(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no lessons (*.ron) in it", input.display()));
    }
    Ok(files)
}

/// Loads the lessons and writes the handouts, answer keys and quiz into
/// `out`; returns the files written.
pub fn write_all(input: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let mut lessons = Vec::new();
    for f in lesson_files(input)? {
        let loaded = load_file(&f).map_err(|d| d.to_string())?;
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        lessons.push(lesson_quiz(&loaded, &stem));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut written = Vec::new();
    let mut put = |name: String, text: String| -> Result<(), String> {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
        Ok(())
    };
    for l in lessons.iter().filter(|l| !l.questions.is_empty()) {
        put(format!("{}-handout.md", l.stem), handout_md(l))?;
        put(format!("{}-answers.md", l.stem), answers_md(l))?;
    }
    put("quiz.gift".to_string(), gift(&lessons))?;
    Ok(written)
}

/// Runs the subcommand: prints the files written; returns the exit code,
/// 0, or 2 on a lesson that does not load or a file that cannot be written
/// (said on stderr).
pub fn cli(args: &HandoutArgs) -> u8 {
    match write_all(&args.lessons, &args.out) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            0
        }
        Err(msg) => {
            eprintln!("{msg}");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gift_escapes_its_special_characters() {
        assert_eq!(
            gift_escape("Predict: a=b ~c #d {e} \\f"),
            "Predict\\: a\\=b \\~c \\#d \\{e\\} \\\\f"
        );
    }

    #[test]
    fn the_student_handout_never_prints_an_answer() {
        let l = LessonQuiz {
            stem: "02-x".into(),
            title: "2. X".into(),
            goal: "Why?".into(),
            questions: vec![Question {
                text: "Which pod goes first?".into(),
                answer: Some("web-4, the highest ordinal.".into()),
                choices: vec!["web-0".into(), "web-4".into()],
                correct: Some(1),
            }],
        };
        let h = handout_md(&l);
        assert!(h.contains("- [ ] **A.** web-0") && h.contains("- [ ] **B.** web-4"));
        assert!(!h.contains("highest ordinal") && !h.contains("Correct"));
        let a = answers_md(&l);
        assert!(a.contains("**Correct choice: B.** web-4") && a.contains("highest ordinal"));
    }
}
