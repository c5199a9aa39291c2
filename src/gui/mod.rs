//! The GUI (feature `gui`): a window with the 2D world view and the egui
//! panels, over the same simulation core the headless runner drives.
//! Also `--screenshot` (run to a simulated second, save a PNG, exit) and
//! `--fps` (frame time statistics).

pub mod host;

use crate::scenario::{self, Loaded};
use bevy::prelude::*;
use bevy::render::view::window::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::{PresentMode, WindowResolution};
use bevy::winit::{UpdateMode, WinitSettings};
use host::{Playback, SimHost};
use std::path::PathBuf;

/// GUI options from the command line.
#[derive(Resource, Debug, Clone)]
pub struct GuiOptions {
    pub seed: Option<u64>,
    pub screenshot: Option<PathBuf>,
    pub screenshot_at_ms: u64,
    pub fps: bool,
    pub ui_scale: f32,
    pub quit_after_s: Option<f64>,
}

/// The built-in lesson shown when no file is given.
pub fn default_lesson() -> Loaded {
    const TEXT: &str = include_str!("../../scenarios/00-sandbox.ron");
    match scenario::load_str("scenarios/00-sandbox.ron", TEXT.as_bytes()) {
        Ok(l) => l,
        // The built-in file is checked by the test suite (tests/scenarios.rs
        // loads every file in scenarios/); this cannot fail in a tested build.
        Err(d) => panic!("built-in lesson is invalid: {d}"),
    }
}

pub fn window_title(host: &SimHost) -> String {
    format!("statefulset-sim: {} ({})", host.name, host.file)
}

/// Opens the window and runs until it is closed. Returns the exit code.
pub fn run(loaded: Loaded, opts: GuiOptions) -> i32 {
    // Without a display the windowing library would panic; say what is wrong.
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        eprintln!(
            "error: no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set).\n\
             Run it from a desktop session, under Xvfb (`xvfb-run statefulset-sim ...`),\n\
             or headless: `statefulset-sim SCENARIO.ron --headless`."
        );
        return 2;
    }
    let mut host = SimHost::new(loaded, opts.seed);
    let mut playback = Playback::default();
    let mut settings = crate::view::ViewSettings::default();
    if opts.screenshot.is_some() {
        // Run straight to the requested instant, answering every lesson
        // pause on the way; then hold the clock there.
        let at = opts.screenshot_at_ms;
        while !crate::sim::advance_to(&mut host.world, at) {
            let q = host
                .world
                .resource_mut::<crate::sim::PauseRequest>()
                .0
                .take();
            // A question asked at exactly this instant stays on screen.
            if host.now_ms() == at {
                playback.question = q;
                break;
            }
        }
        playback.paused = true;
        playback.target_ms = at as f64;
        settings.animate = false;
    }
    let title = window_title(&host);
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title,
            resolution: WindowResolution::new(1600, 900),
            present_mode: if opts.fps {
                PresentMode::AutoNoVsync
            } else {
                PresentMode::AutoVsync
            },
            ..default()
        }),
        ..default()
    }))
    .add_plugins(bevy_egui::EguiPlugin::default())
    .insert_resource(host)
    .insert_resource(playback)
    .insert_resource(settings)
    .insert_resource(opts.clone())
    .add_plugins((host::plugin, crate::view::plugin, crate::ui::plugin))
    .init_resource::<FrameStats>()
    .add_systems(Update, (frame_stats, screenshot_when_ready))
    .add_systems(Last, redraw_policy);
    let code = match app.run() {
        AppExit::Success => 0,
        AppExit::Error(c) => c.get() as i32,
    };
    code
}

/// How often the window redraws. While the clock runs, something glides or
/// fades, or a screenshot or frame-time run is on, it redraws continuously;
/// paused and still (a class discussing a question) it redraws only on input
/// or twice a second, so a laptop without a GPU is not kept at full load.
pub fn redraw_settings(busy: bool) -> WinitSettings {
    use std::time::Duration;
    if busy {
        WinitSettings {
            focused_mode: UpdateMode::Continuous,
            unfocused_mode: UpdateMode::reactive_low_power(Duration::from_secs_f64(1.0 / 60.0)),
        }
    } else {
        let idle = UpdateMode::reactive_low_power(Duration::from_millis(500));
        WinitSettings {
            focused_mode: idle,
            unfocused_mode: idle,
        }
    }
}

fn redraw_policy(
    pb: Res<Playback>,
    opts: Res<GuiOptions>,
    animating: Res<crate::view::draw::Animating>,
    mut winit: ResMut<WinitSettings>,
) {
    let busy = !pb.paused || animating.0 || opts.screenshot.is_some() || opts.fps;
    let want = redraw_settings(busy);
    if winit.focused_mode != want.focused_mode || winit.unfocused_mode != want.unfocused_mode {
        *winit = want;
    }
}

/// Frame times for `--fps` and the wall-clock limit of `--quit-after`.
#[derive(Resource, Default)]
struct FrameStats {
    frames: Vec<f32>,
    wall: f64,
    reported: bool,
}

fn frame_stats(
    time: Res<Time>,
    opts: Res<GuiOptions>,
    mut stats: ResMut<FrameStats>,
    current: Res<crate::view::CurrentScene>,
    mut exit: MessageWriter<AppExit>,
) {
    let dt = time.delta_secs();
    stats.wall += dt as f64;
    // The first second is start-up (shader compilation, font atlases).
    if stats.wall > 1.0 {
        stats.frames.push(dt * 1000.0);
    }
    if let Some(q) = opts.quit_after_s
        && stats.wall >= q
        && !stats.reported
    {
        stats.reported = true;
        if opts.fps {
            let mut v = stats.frames.clone();
            v.sort_by(|a, b| a.total_cmp(b));
            if v.is_empty() {
                println!("fps: no frames measured");
            } else {
                let med = v[v.len() / 2];
                let p95 = v[(v.len() * 95 / 100).min(v.len() - 1)];
                let worst = v[v.len() - 1];
                println!(
                    "fps: {} frames, {} nodes, {} pods; frame time median {med:.1} ms ({:.0} fps), p95 {p95:.1} ms, worst {worst:.1} ms",
                    v.len(),
                    current.scene.nodes.len(),
                    current.scene.pods.len(),
                    1000.0 / med
                );
            }
        }
        exit.write(AppExit::Success);
    }
}

/// With `--screenshot`: wait for the first frames to render, capture, exit.
fn screenshot_when_ready(mut commands: Commands, opts: Res<GuiOptions>, mut frames: Local<u32>) {
    let Some(path) = opts.screenshot.clone() else {
        return;
    };
    *frames += 1;
    // Software rendering needs a few frames for fonts and egui to settle.
    if *frames != 30 {
        return;
    }
    commands.spawn(Screenshot::primary_window()).observe(
        move |shot: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
            let result = shot
                .image
                .clone()
                .try_into_dynamic()
                .map_err(|e| e.to_string())
                .and_then(|img| img.to_rgb8().save(&path).map_err(|e| e.to_string()));
            match result {
                Ok(()) => {
                    println!("saved {}", path.display());
                    exit.write(AppExit::Success);
                }
                Err(e) => {
                    eprintln!("error: cannot save screenshot {}: {e}", path.display());
                    exit.write(AppExit::error());
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_still_window_stops_redrawing_continuously() {
        assert_eq!(redraw_settings(true).focused_mode, UpdateMode::Continuous);
        let idle = redraw_settings(false);
        assert!(matches!(idle.focused_mode, UpdateMode::Reactive { .. }));
        assert!(matches!(idle.unfocused_mode, UpdateMode::Reactive { .. }));
    }
}
