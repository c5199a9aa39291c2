//! The GUI's host layer (feature `gui`): the simulation in its own World
//! (`host`), the order of the GUI's systems (`GuiSystems`), the window and
//! its redraw policy, `--screenshot` and `--fps`. The world view (`view`)
//! and the panels (`ui`) sit above it and read it; it imports neither
//! (the app that puts them together is `crate::run_gui`).

pub mod branches;
pub mod fps;
pub mod host;
pub mod record;
pub mod record_gif;
pub mod settings;
pub mod slides;

use crate::scenario::Loaded;
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
    /// `--until`: play main this far first (answering the lesson's
    /// questions), so that `--at` shows an earlier instant of it.
    pub play_to_ms: Option<u64>,
    /// `--at` without `--screenshot`: open the run at this instant.
    pub open_at_ms: Option<u64>,
    /// `--act S:COMMAND`: each starts a branch from main, acting at S as
    /// a click would.
    pub acts: Vec<(u64, crate::sim::SimCommand)>,
    /// `--compare`: open the compare view (the last branch against main).
    pub compare: bool,
    /// `--theme`: this run's theme, over the remembered one (not saved).
    pub theme: Option<settings::ThemeKind>,
    /// `--slides DIR`: write the lesson's question and answer slides there.
    pub slides: Option<PathBuf>,
    /// `--record OUT.gif` with the stretch (`--from`, `--to`) and `--speed`.
    pub record: Option<(PathBuf, record::RecordPlan)>,
    /// `--speed`: the playback speed at the start.
    pub speed: Option<f64>,
    /// `--fps`: an empty window's median frame time (ms), measured first.
    pub fps_empty_ms: Option<f32>,
    /// `--present`: presentation mode (the cluster fills the window, a large
    /// caption strip, events and expectations behind keys).
    pub present: bool,
}

impl GuiOptions {
    /// Whether the lesson opens on its intro card (its goal, before t = 0):
    /// not when asked to open or capture a later instant, or to explore
    /// branches.
    pub fn opens_on_intro(&self) -> bool {
        self.acts.is_empty()
            && self.play_to_ms.is_none()
            && self.open_at_ms.unwrap_or(0) == 0
            && (self.screenshot.is_none() || self.screenshot_at_ms == 0)
    }
}

/// The title bar: the lesson's name, its file and the Kubernetes release.
pub fn window_title(host: &SimHost) -> String {
    let version = host.world.resource::<crate::sim::version::ClusterVersion>();
    format!(
        "statefulset-sim: {} ({}) — {}",
        host.name,
        host.file,
        version.title()
    )
}

/// The order of the GUI's per-frame work: the one ordering enum of the
/// GUI, configured once, here. The view and the panels only say
/// `.in_set(GuiSystems::..)`; nobody names another file's system.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuiSystems {
    /// `Update`: advance the simulation by wall time × speed.
    Drive,
    /// `Update`: keyboard shortcuts. After the clock's step, so a key that
    /// resumes play does not also apply the (possibly long) time the window
    /// rested while paused.
    Input,
    /// `Update`: frame statistics, the wall-clock limit, the screenshot.
    Report,
    /// `PostUpdate`: read the simulation into the scene and lay it out.
    Extract,
    /// `PostUpdate`: sprites and texts follow the scene; glide and fade.
    Draw,
    /// `PostUpdate`: pan, zoom and fit the world into the free space.
    Camera,
    /// `PostUpdate`: hide texts too small to read at this zoom.
    TextDetail,
}

/// The host layer of the GUI: the simulation host and playback, the
/// order of the GUI's systems, the window's redraw policy, `--fps`,
/// `--quit-after` and `--screenshot`.
pub fn plugin(app: &mut App) {
    use GuiSystems::*;
    app.configure_sets(Update, (Drive, Input, Report).chain())
        .configure_sets(
            PostUpdate,
            (Extract, Draw, Camera, TextDetail)
                .chain()
                .before(bevy::transform::TransformSystems::Propagate),
        )
        .configure_sets(
            PostUpdate,
            TextDetail.before(bevy::camera::visibility::VisibilitySystems::VisibilityPropagate),
        )
        .add_plugins(host::plugin)
        .init_resource::<Animating>()
        .init_resource::<FrameStats>()
        .add_systems(
            Update,
            (
                frame_stats,
                screenshot_when_ready,
                slides::drive_slides,
                record::drive_record,
            )
                .in_set(GuiSystems::Report),
        )
        .add_systems(Last, (redraw_policy, record::finish_on_exit));
}

/// Refuses to start without a display: the windowing library would panic;
/// this says what is wrong and what to do instead.
pub fn check_display() -> Result<(), String> {
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return Err(
            "error: no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set).\n\
             Run it from a desktop session, under Xvfb (`xvfb-run statefulset-sim ...`),\n\
             or headless: `statefulset-sim SCENARIO.ron --headless`."
                .to_string(),
        );
    }
    Ok(())
}

/// Plays the current branch to `t`, answering the lesson's questions on the
/// way (as a class pressing "continue"), except one asked at `t` itself
/// when `keep_last` (it stays on screen).
fn play_answering(host: &mut SimHost, t: u64, keep_last: bool) {
    while host.advance(t, false) == crate::sim::Advance::Paused {
        if keep_last && host.now_ms() == t {
            break;
        }
        host.answer();
    }
}

/// The simulation and its playback at the start. With `--screenshot`, run
/// straight to the requested instant, answering every lesson pause on the
/// way, and hold the clock there. With `--act`, explore the branches first
/// (main played to the end of everything asked, then each action from main
/// at its instant, through the same path as a click); with `--at`, show
/// the last branch at that instant (a rewind when it is earlier).
pub fn start(loaded: Loaded, opts: &GuiOptions) -> (SimHost, Playback) {
    let mut host = SimHost::new(loaded, opts.seed);
    // The intro card shows the lesson's goal before t = 0; a run opened
    // elsewhere (or exploring branches) starts without it.
    let mut playback = Playback {
        intro: opts.opens_on_intro(),
        ..Default::default()
    };
    if let Some(s) = opts.speed {
        playback.speed = s;
    }
    let at = opts
        .open_at_ms
        .or(opts.screenshot.is_some().then_some(opts.screenshot_at_ms));
    let end = opts.acts.iter().map(|a| a.0).chain(opts.play_to_ms).max();
    if let Some(end) = end {
        let end = end.max(at.unwrap_or(0));
        play_answering(&mut host, end, false);
        for (t, cmd) in &opts.acts {
            host.switch_to(0);
            host.rewind_to(*t);
            host.send(cmd.clone());
            play_answering(&mut host, end, false);
        }
    }
    if let Some(at) = at {
        if at < host.now_ms() {
            host.rewind_to(at);
            host.finish_rewind();
            playback.after_rewind(&host);
        } else {
            play_answering(&mut host, at, true);
            playback.after_rewind(&host);
        }
        playback.target_ms = at as f64;
    }
    (host, playback)
}

/// The window and the default plugins.
pub fn window_plugins(opts: &GuiOptions, title: String) -> impl PluginGroup {
    DefaultPlugins.set(WindowPlugin {
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
    })
}

/// Whether something on screen still glides or fades (the view sets it),
/// so the window keeps redrawing.
#[derive(Resource, Debug, Default, PartialEq, Eq)]
pub struct Animating(pub bool);

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
    animating: Res<Animating>,
    mut winit: ResMut<WinitSettings>,
) {
    let busy = !pb.paused
        || animating.0
        || opts.screenshot.is_some()
        || opts.fps
        || opts.slides.is_some()
        || opts.record.is_some();
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

/// Frame times are wall-clock (`Time<Real>`): the default clock clamps a
/// frame to 250 ms, which would hide how slow a slow frame is.
fn frame_stats(
    time: Res<Time<Real>>,
    opts: Res<GuiOptions>,
    mut stats: ResMut<FrameStats>,
    host: Res<SimHost>,
    user: Res<settings::Settings>,
    mut exit: MessageWriter<AppExit>,
) {
    let dt = time.delta_secs();
    stats.wall += dt as f64;
    // The first second is start-up (shader compilation, font atlases).
    if stats.wall > fps::WARM_UP_S {
        stats.frames.push(dt * 1000.0);
    }
    if let Some(q) = opts.quit_after_s
        && stats.wall >= q
        && !stats.reported
    {
        stats.reported = true;
        if opts.fps {
            match fps::FrameTimes::of(&stats.frames) {
                None => println!("fps: no frames measured"),
                Some(t) => println!(
                    "{}",
                    fps::report(
                        &t,
                        opts.fps_empty_ms,
                        host.count::<crate::sim::model::Node>(),
                        host.count::<crate::sim::model::Pod>(),
                        user.theme.name(),
                    )
                ),
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
        move |shot: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| match save_png(
            &shot.image,
            &path,
        ) {
            Ok(()) => {
                println!("saved {}", path.display());
                exit.write(AppExit::Success);
            }
            Err(e) => {
                eprintln!("error: cannot save screenshot {}: {e}", path.display());
                exit.write(AppExit::error());
            }
        },
    );
}

/// Saves a captured window as an RGB PNG, replacing `path` atomically: the
/// one capture-to-file step of `--screenshot` and `--slides`.
pub(crate) fn save_png(image: &Image, path: &std::path::Path) -> Result<(), String> {
    let img = image
        .clone()
        .try_into_dynamic()
        .map_err(|e| e.to_string())?;
    crate::scenario::save::replace_atomically(path, |tmp| {
        img.to_rgb8().save(tmp).map_err(|e| e.to_string())
    })
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
