//! `--fps`: the GUI's frame time, honestly measured. The same command first
//! opens an empty window (same size, same present mode, a camera and
//! nothing to draw: no world, no panels) in a child process for a few
//! seconds, then the real one; it prints both and their ratio. The ratio is
//! what our code costs, whatever the renderer (a software one under Xvfb
//! takes as long for an empty window as a GPU does for a full one).

use bevy::prelude::*;
use bevy::window::{PresentMode, WindowResolution};

/// The child's line that carries the empty window's median (ms).
const EMPTY_LINE: &str = "empty window frame time median ms: ";
/// The first second of a window is start-up (shader compilation, font
/// atlases) and is not measured.
pub const WARM_UP_S: f64 = 1.0;
/// How long the empty window is measured (wall seconds, start-up included).
pub const EMPTY_S: f64 = 8.0;

/// Frame time statistics (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameTimes {
    pub frames: usize,
    pub median: f32,
    pub p95: f32,
    pub worst: f32,
}

impl FrameTimes {
    /// From the frame times measured, in any order; None without any.
    pub fn of(frames_ms: &[f32]) -> Option<Self> {
        let mut v = frames_ms.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let last = v.len().checked_sub(1)?;
        Some(FrameTimes {
            frames: v.len(),
            median: v[v.len() / 2],
            p95: v[(v.len() * 95 / 100).min(last)],
            worst: v[last],
        })
    }
}

/// What `--fps` prints: the window's frame times, an empty window's median
/// when it was measured, and the ratio of the two medians.
pub fn report(
    t: &FrameTimes,
    empty_ms: Option<f32>,
    nodes: usize,
    pods: usize,
    theme: &str,
) -> String {
    let mut s = format!(
        "fps: {} frames, {nodes} nodes, {pods} pods, {theme} theme; frame time median {:.1} ms ({:.0} fps), p95 {:.1} ms, worst {:.1} ms",
        t.frames,
        t.median,
        1000.0 / t.median,
        t.p95,
        t.worst
    );
    match empty_ms {
        Some(e) if e > 0.0 => s.push_str(&format!(
            "\nfps: an empty window takes {e:.1} ms a frame here: this window costs {:.2}× an empty one",
            t.median / e
        )),
        _ => s.push_str("\nfps: the empty window could not be measured; no ratio"),
    }
    s
}

/// The empty window's median, from the child's output.
pub fn parse_empty(stdout: &str) -> Option<f32> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(EMPTY_LINE))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs this program again as an empty window for `EMPTY_S` seconds and
/// reads its median frame time.
pub fn measure_empty_window() -> Result<f32, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .args(["--fps-empty", "--quit-after", &EMPTY_S.to_string()])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_empty(&text).ok_or_else(|| {
        let err = String::from_utf8_lossy(&out.stderr);
        format!(
            "the empty window printed no frame time ({}): {}",
            out.status,
            err.lines().last().unwrap_or("")
        )
    })
}

#[derive(Resource, Default)]
struct Measured {
    wall: f64,
    frames: Vec<f32>,
    quit_after: f64,
    done: bool,
}

/// The empty window (`--fps-empty`, hidden): a camera, nothing drawn;
/// prints its median frame time and exits after `quit_after_s`.
pub fn run_empty(quit_after_s: f64) -> i32 {
    if let Err(e) = super::check_display() {
        eprintln!("{e}");
        return 2;
    }
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title: "statefulset-sim: an empty window (frame time baseline)".into(),
            resolution: WindowResolution::new(1600, 900),
            present_mode: PresentMode::AutoNoVsync,
            ..default()
        }),
        ..default()
    }))
    .insert_resource(Measured {
        quit_after: quit_after_s,
        ..default()
    })
    .insert_resource(super::redraw_settings(true))
    .add_systems(Startup, |mut commands: Commands| {
        commands.spawn(Camera2d);
    })
    .add_systems(Update, measure_empty);
    match app.run() {
        AppExit::Success => 0,
        AppExit::Error(c) => c.get() as i32,
    }
}

/// Wall-clock frame times, as `frame_stats` measures the real window.
fn measure_empty(time: Res<Time<Real>>, mut m: ResMut<Measured>, mut exit: MessageWriter<AppExit>) {
    let dt = time.delta_secs();
    m.wall += dt as f64;
    if m.wall > WARM_UP_S {
        m.frames.push(dt * 1000.0);
    }
    if m.wall >= m.quit_after && !m.done {
        m.done = true;
        match FrameTimes::of(&m.frames) {
            Some(t) => println!("{EMPTY_LINE}{:.3}", t.median),
            None => eprintln!("error: no frame measured"),
        }
        exit.write(AppExit::Success);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_time_statistics_are_the_median_95th_percentile_and_worst() {
        let v: Vec<f32> = (1..=100).rev().map(|i| i as f32).collect();
        let t = FrameTimes::of(&v).unwrap();
        assert_eq!(
            (t.frames, t.median, t.p95, t.worst),
            (100, 51.0, 96.0, 100.0)
        );
        assert_eq!(FrameTimes::of(&[]), None);
    }

    #[test]
    fn fps_reports_the_ratio_to_an_empty_window() {
        let t = FrameTimes::of(&[20.0, 22.0, 24.0]).unwrap();
        let r = report(&t, Some(11.0), 10, 50, "light");
        assert!(r.contains("10 nodes, 50 pods, light theme"), "{r}");
        assert!(r.contains("median 22.0 ms"), "{r}");
        assert!(
            r.contains("an empty window takes 11.0 ms") && r.contains("costs 2.00×"),
            "{r}"
        );
        let r = report(&t, None, 10, 50, "dark");
        assert!(r.contains("no ratio"), "{r}");
        assert_eq!(
            parse_empty("noise\nempty window frame time median ms: 12.5\n"),
            Some(12.5)
        );
        assert_eq!(parse_empty("nothing"), None);
    }
}
