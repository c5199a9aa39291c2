//! `--slides DIR`: plays a lesson in the window and writes a lecture deck:
//! one PNG of the window at each question (as it is asked, the question
//! on screen) and one after each reveal (when the lesson's next caption
//! appears), plus `DIR/index.md` naming the slides in order with their
//! captions. The class's "continue" is given by the program.

use super::host::{Playback, SimHost};
use crate::scenario::player::Lesson;
use crate::sim::event::{EventKind, EventLog};
use bevy::prelude::*;
use bevy::render::view::window::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::PathBuf;

/// Frames to let the window settle (fonts, egui's layout) before a capture.
const SETTLE_FRAMES: u32 = 12;
/// After a reveal, how far (simulated ms) to look for the next caption.
const ANSWER_HORIZON_MS: u64 = 600_000;

/// One slide of the deck.
#[derive(Debug, Clone, PartialEq)]
pub struct Slide {
    pub file: String,
    pub question: bool,
    pub t_ms: u64,
    pub caption: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// Play on to the next question (or the end).
    Seek,
    /// Wait this many frames, then capture.
    Settle(u32),
    /// The capture is on its way.
    Capturing,
    /// Written; exit.
    Done,
}

/// The deck being made.
#[derive(Resource, Debug)]
pub struct SlideShow {
    pub dir: PathBuf,
    pub slides: Vec<Slide>,
    stage: Stage,
    /// The slide the next capture is for.
    next: Option<Slide>,
    captured: bool,
    failed: Option<String>,
}

impl SlideShow {
    pub fn new(dir: PathBuf) -> Self {
        SlideShow {
            dir,
            slides: Vec::new(),
            stage: Stage::Seek,
            next: None,
            captured: false,
            failed: None,
        }
    }
}

fn note_count(host: &SimHost) -> usize {
    host.world
        .resource::<EventLog>()
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Note)
        .count()
}

fn finished(host: &SimHost) -> bool {
    host.world
        .get_resource::<Lesson>()
        .is_none_or(Lesson::finished)
}

/// The deck's index: the lesson's title and summary, then each slide, its
/// picture and its caption, in order.
pub fn index_md(title: &str, summary: &str, slides: &[Slide]) -> String {
    let mut s = format!("# {title}\n\n{summary}\n");
    for (i, sl) in slides.iter().enumerate() {
        let what = if sl.question { "Question" } else { "Answer" };
        s.push_str(&format!(
            "\n## {}. {what} (t = {})\n\n![{what} at {}]({})\n\n{}\n",
            i + 1,
            crate::sim::units::clock(sl.t_ms),
            crate::sim::units::clock(sl.t_ms),
            sl.file,
            sl.caption
        ));
    }
    s
}

/// Plays to the next question, captures, reveals, plays to the answer's
/// caption, captures, and so on; writes the index and exits at the end.
pub fn drive_slides(
    mut commands: Commands,
    show: Option<ResMut<SlideShow>>,
    mut host: ResMut<SimHost>,
    mut pb: ResMut<Playback>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(mut show) = show else {
        return;
    };
    pb.paused = true;
    if let Some(e) = show.failed.take() {
        eprintln!("error: --slides: {e}");
        show.stage = Stage::Done;
        exit.write(AppExit::error());
        return;
    }
    match show.stage {
        Stage::Done => {}
        Stage::Seek => {
            let asked = pb.question.is_some();
            if !asked {
                // On to the next question, a stretch at a time.
                let mut t = host.now_ms();
                let last = crate::sim::units::secs_to_ms(crate::sim::model::limits::MAX_SECONDS);
                while pb.question.is_none() && !finished(&host) && t < last {
                    t += 60_000;
                    pb.run_to(&mut host, t);
                }
            }
            if let Some(q) = pb.question.clone() {
                let n = show.slides.len() + 1;
                show.next = Some(Slide {
                    file: format!("{n:02}-question.png"),
                    question: true,
                    t_ms: host.now_ms(),
                    caption: q,
                });
                show.stage = Stage::Settle(SETTLE_FRAMES);
            } else {
                let title = host.name.clone();
                let summary = host.summary.clone();
                let path = show.dir.join("index.md");
                let index = index_md(&title, &summary, &show.slides);
                match crate::scenario::save::write_atomic(&path, index) {
                    Ok(()) => {
                        println!("wrote {} slides and {}", show.slides.len(), path.display());
                        exit.write(AppExit::Success);
                    }
                    Err(e) => {
                        eprintln!("error: cannot write {}: {e}", path.display());
                        exit.write(AppExit::error());
                    }
                }
                show.stage = Stage::Done;
            }
        }
        Stage::Settle(0) => {
            let Some(slide) = show.next.clone() else {
                show.stage = Stage::Seek;
                return;
            };
            let path = show.dir.join(&slide.file);
            show.captured = false;
            show.stage = Stage::Capturing;
            commands.spawn(Screenshot::primary_window()).observe(
                move |shot: On<ScreenshotCaptured>, mut show: ResMut<SlideShow>| {
                    match super::save_png(&shot.image, &path) {
                        Ok(()) => show.captured = true,
                        Err(e) => show.failed = Some(format!("{}: {e}", path.display())),
                    }
                },
            );
        }
        Stage::Settle(n) => show.stage = Stage::Settle(n - 1),
        Stage::Capturing => {
            if !show.captured {
                return;
            }
            let Some(slide) = show.next.take() else {
                show.stage = Stage::Seek;
                return;
            };
            let was_question = slide.question;
            show.slides.push(slide);
            if !was_question {
                show.stage = Stage::Seek;
                return;
            }
            // Reveal, then play on until the lesson's next caption (or its
            // next question, or its end).
            let notes = note_count(&host);
            pb.resume(&mut host);
            pb.paused = true;
            let start = host.now_ms();
            let mut t = start;
            while note_count(&host) == notes
                && pb.question.is_none()
                && !finished(&host)
                && t < start + ANSWER_HORIZON_MS
            {
                t += 1000;
                pb.run_to(&mut host, t);
            }
            let n = show.slides.len() + 1;
            show.next = Some(Slide {
                file: format!("{n:02}-answer.png"),
                question: false,
                t_ms: host.now_ms(),
                caption: host
                    .world
                    .resource::<EventLog>()
                    .current_captions()
                    .join(" "),
            });
            show.stage = Stage::Settle(SETTLE_FRAMES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_names_every_slide_in_order_with_its_caption() {
        let slides = vec![
            Slide {
                file: "01-question.png".into(),
                question: true,
                t_ms: 65_000,
                caption: "Predict: what happens?".into(),
            },
            Slide {
                file: "02-answer.png".into(),
                question: false,
                t_ms: 120_000,
                caption: "It waits.".into(),
            },
        ];
        let md = index_md("7. Node failure", "A node dies.", &slides);
        assert!(md.starts_with("# 7. Node failure\n\nA node dies.\n"));
        let q = md.find("## 1. Question (t = ").unwrap();
        let a = md.find("## 2. Answer (t = ").unwrap();
        assert!(q < a);
        assert!(md.contains("(01-question.png)") && md.contains("(02-answer.png)"));
        assert!(md.contains("\n\nPredict: what happens?\n") && md.contains("\n\nIt waits.\n"));
    }
}
