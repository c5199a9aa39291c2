//! `--record OUT.gif --from S --to S --speed X`: an animation of the window
//! at a steady frame rate. The program holds the clock: it shows an instant,
//! captures the window, moves simulated time on by `speed / RECORD_FPS`
//! seconds and captures again, however long the renderer takes, so the
//! animation plays the run at `speed`× without a jerk. A lesson's question
//! is one frame held for `QUESTION_HOLD_CS`, then answered (the class's
//! "continue" is given by the program). Frames go to an encoder thread that
//! writes them as they come (`record_gif`); the file is finished at `--to`,
//! at the lesson's end, or when the window is closed.

use super::host::{Playback, SimHost};
use super::record_gif::{GifWriter, Written};
use crate::scenario::player::Lesson;
use bevy::prelude::*;
use bevy::render::view::window::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Frames per second of the animation: GIF counts delays in hundredths of
/// a second, so 10 fps is exactly 10 each.
pub const RECORD_FPS: u32 = 10;
/// The default speed of a recording: a lesson's minutes in tens of seconds.
pub const DEFAULT_SPEED: f64 = 10.0;
/// At most this many frames (five minutes of animation, a few hundred MB of
/// window pictures to encode): a longer stretch asks for a higher speed.
pub const MAX_FRAMES: u64 = 3000;
/// How long (hundredths of a second) a question stays on screen.
pub const QUESTION_HOLD_CS: u16 = 300;
/// Frames to let the window settle (fonts, egui's layout) before the first
/// capture, and after each step of the clock (the view follows the world
/// one frame later).
const SETTLE_FIRST: u32 = 12;
const SETTLE_STEP: u32 = 1;
/// Frames waiting for the encoder before a capture blocks the window.
const QUEUE: usize = 4;

/// Which stretch of the run is recorded, and how fast it plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordPlan {
    pub from_ms: u64,
    /// Without one: to the lesson's end, or until the window is closed.
    pub to_ms: Option<u64>,
    /// Simulated seconds per second of animation.
    pub speed: f64,
}

impl RecordPlan {
    /// Checks the plan; says in words what is wrong with it.
    pub fn new(from_ms: u64, to_ms: Option<u64>, speed: f64) -> Result<Self, String> {
        if !(speed.is_finite() && (0.01..=10_000.0).contains(&speed)) {
            return Err(format!(
                "--speed must be between 0.01 and 10000, got {speed}"
            ));
        }
        if let Some(to) = to_ms
            && to <= from_ms
        {
            return Err("--to must be after --from".into());
        }
        let plan = RecordPlan {
            from_ms,
            to_ms,
            speed,
        };
        if let Some(n) = plan.frame_count()
            && n > MAX_FRAMES
        {
            return Err(format!(
                "from {} to {} at {speed}× is {n} frames at {RECORD_FPS} per second; at most {MAX_FRAMES}: raise --speed or shorten the stretch",
                crate::sim::units::clock(from_ms),
                crate::sim::units::clock(to_ms.unwrap_or(0)),
            ));
        }
        Ok(plan)
    }

    /// Simulated milliseconds between two frames (at least one).
    pub fn step_ms(&self) -> u64 {
        ((self.speed * 1000.0 / RECORD_FPS as f64).round() as u64).max(1)
    }

    /// The instant of frame `k` (counting from 0 at `--from`).
    pub fn instant(&self, k: u64) -> u64 {
        self.from_ms + k * self.step_ms()
    }

    /// How many frames of the steady clock `--from`..=`--to` holds (one
    /// more per lesson question on the way), when there is a `--to`.
    pub fn frame_count(&self) -> Option<u64> {
        self.to_ms
            .map(|to| (to - self.from_ms) / self.step_ms() + 1)
    }

    /// Whether frame `k` is past the end.
    pub fn past_end(&self, k: u64) -> bool {
        self.to_ms.is_some_and(|to| self.instant(k) > to) || k >= MAX_FRAMES
    }
}

/// A captured window on its way to the encoder: RGBA pixels, width,
/// height, and how long it is shown (hundredths of a second).
type Captured = (Vec<u8>, u32, u32, u16);

/// The encoder on its own thread: frames in, the finished file out.
struct Encoder {
    tx: Option<SyncSender<Captured>>,
    thread: Option<JoinHandle<Result<Written, String>>>,
}

impl Encoder {
    fn start(out: &Path) -> Self {
        let (tx, rx) = sync_channel::<Captured>(QUEUE);
        let mut gif = GifWriter::new(out);
        let thread = std::thread::spawn(move || {
            let mut error = None;
            for (rgba, w, h, delay) in rx {
                if error.is_none()
                    && let Err(e) = gif.push(&rgba, w, h, delay)
                {
                    error = Some(e);
                }
            }
            match error {
                Some(e) => Err(e),
                None => gif.finish(),
            }
        });
        Encoder {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    fn send(&self, rgba: Vec<u8>, w: u32, h: u32, delay: u16) -> Result<(), String> {
        let tx = self.tx.as_ref().ok_or("the recording has ended")?;
        tx.send((rgba, w, h, delay))
            .map_err(|_| "the encoder stopped".to_string())
    }

    /// Waits for the frames under way and finishes the file.
    fn finish(&mut self) -> Option<Result<Written, String>> {
        drop(self.tx.take());
        let thread = self.thread.take()?;
        Some(
            thread
                .join()
                .unwrap_or_else(|_| Err("the encoder failed".into())),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// Wait this many frames, then capture.
    Settle(u32),
    /// A capture is on its way.
    Capturing,
    /// Finished (or failed); nothing more to do.
    Done,
}

/// The recording under way.
#[derive(Resource)]
pub struct Recording {
    pub out: PathBuf,
    pub plan: RecordPlan,
    encoder: Encoder,
    stage: Stage,
    /// The next frame of the steady clock.
    k: u64,
    /// The frame being captured shows a question.
    question: bool,
    captured: bool,
    failed: Option<String>,
}

impl Recording {
    /// Starts the encoder; the window is already at `plan.from_ms`.
    pub fn new(out: PathBuf, plan: RecordPlan) -> Self {
        Recording {
            encoder: Encoder::start(&out),
            out,
            plan,
            stage: Stage::Settle(SETTLE_FIRST),
            k: 0,
            question: false,
            captured: false,
            failed: None,
        }
    }

    /// Finishes the file and says so (once); true when all went well.
    pub fn finish(&mut self) -> bool {
        self.stage = Stage::Done;
        let Some(result) = self.encoder.finish() else {
            return self.failed.is_none();
        };
        match (self.failed.take(), result) {
            (Some(e), _) | (None, Err(e)) => {
                eprintln!("error: --record {}: {e}", self.out.display());
                false
            }
            (None, Ok(w)) => {
                println!(
                    "recorded {} frames ({}×{}, an animation of {:.1} s at {} frames a second, {} KB) to {}",
                    w.frames,
                    w.width,
                    w.height,
                    w.duration_cs as f64 / 100.0,
                    RECORD_FPS,
                    w.bytes.div_ceil(1024),
                    self.out.display()
                );
                true
            }
        }
    }
}

impl Drop for Recording {
    /// The app ends some other way than by `--to` or a closed window: the
    /// frames so far are still written.
    fn drop(&mut self) {
        if self.stage != Stage::Done {
            self.finish();
        }
    }
}

/// Holds the clock, captures a frame, steps the clock; at the end of the
/// stretch finishes the file and exits.
pub fn drive_record(
    mut commands: Commands,
    rec: Option<ResMut<Recording>>,
    mut host: ResMut<SimHost>,
    mut pb: ResMut<Playback>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(mut rec) = rec else {
        return;
    };
    pb.paused = true;
    if rec.failed.is_some() {
        rec.finish();
        exit.write(AppExit::error());
        return;
    }
    match rec.stage {
        Stage::Done => {}
        Stage::Settle(0) => {
            rec.captured = false;
            rec.question = pb.question.is_some();
            rec.stage = Stage::Capturing;
            commands
                .spawn(Screenshot::primary_window())
                .observe(on_capture);
        }
        Stage::Settle(n) => rec.stage = Stage::Settle(n - 1),
        Stage::Capturing => {
            if !rec.captured {
                return;
            }
            if rec.question {
                // The question was shown and held: answer it; the clock
                // goes on to the next instant of the steady grid.
                pb.resume(&mut host);
                pb.paused = true;
            } else {
                rec.k += 1;
            }
            let lesson_over = host
                .world
                .get_resource::<Lesson>()
                .is_some_and(Lesson::finished);
            if rec.plan.past_end(rec.k) || (rec.plan.to_ms.is_none() && lesson_over) {
                let ok = rec.finish();
                exit.write(if ok {
                    AppExit::Success
                } else {
                    AppExit::error()
                });
                return;
            }
            let t = rec.plan.instant(rec.k);
            if host.now_ms() < t {
                pb.run_to(&mut host, t);
            }
            rec.stage = Stage::Settle(SETTLE_STEP);
        }
    }
}

/// A captured window goes to the encoder.
fn on_capture(shot: On<ScreenshotCaptured>, mut rec: ResMut<Recording>) {
    let delay = if rec.question {
        QUESTION_HOLD_CS
    } else {
        (100 / RECORD_FPS) as u16
    };
    let sent = shot
        .image
        .clone()
        .try_into_dynamic()
        .map_err(|e| e.to_string())
        .and_then(|img| {
            let img = img.to_rgba8();
            let (w, h) = img.dimensions();
            rec.encoder.send(img.into_raw(), w, h, delay)
        });
    match sent {
        Ok(()) => rec.captured = true,
        Err(e) => rec.failed = Some(e),
    }
}

/// The window is closing (or the app ends for another reason): what was
/// recorded is finished and kept.
pub fn finish_on_exit(rec: Option<ResMut<Recording>>, mut exits: MessageReader<AppExit>) {
    if exits.read().next().is_none() {
        return;
    }
    if let Some(mut rec) = rec
        && rec.stage != Stage::Done
    {
        rec.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_has_one_frame_per_step_of_simulated_time() {
        // 10× at 10 frames per second: a simulated second per frame.
        let p = RecordPlan::new(60_000, Some(80_000), 10.0).unwrap();
        assert_eq!(p.step_ms(), 1000);
        assert_eq!(p.frame_count(), Some(21));
        assert_eq!(p.instant(0), 60_000);
        assert_eq!(p.instant(20), 80_000);
        assert!(!p.past_end(20) && p.past_end(21));
        // A stretch that is not a whole number of steps ends before `to`.
        let p = RecordPlan::new(0, Some(2_550), 1.0).unwrap();
        assert_eq!((p.step_ms(), p.frame_count()), (100, Some(26)));
    }

    #[test]
    fn a_recording_plan_that_cannot_be_made_says_why() {
        assert!(
            RecordPlan::new(5_000, Some(5_000), 10.0)
                .unwrap_err()
                .contains("--to must be after --from")
        );
        assert!(
            RecordPlan::new(0, None, 0.0)
                .unwrap_err()
                .contains("--speed")
        );
        assert!(RecordPlan::new(0, None, f64::NAN).is_err());
        let long = RecordPlan::new(0, Some(3_600_000), 1.0).unwrap_err();
        assert!(
            long.contains("36001 frames") && long.contains("raise --speed"),
            "{long}"
        );
        // Without an end, the frame limit still stops it.
        let open = RecordPlan::new(0, None, 10.0).unwrap();
        assert!(open.past_end(MAX_FRAMES) && !open.past_end(MAX_FRAMES - 1));
    }
}
