//! statefulset-sim: a simulator and visualizer of Kubernetes StatefulSet
//! semantics on Bevy ECS. This is the plugin list: the deterministic core
//! (`sim`), scenarios, the headless runner, and (feature `gui`) the GUI's
//! host, the world view and the panels.
//!
//! The layers, each importing only the ones before it:
//! `sim` ← `scenario` ← `headless` / `gui` (the host) ← `view` ← `ui`.
//! Only this file, at the top, puts the GUI's layers together.

pub mod diff;
pub mod explore;
pub mod handout;
pub mod headless;
pub mod scenario;
pub mod shell;
pub mod sim;
pub mod timeline;

#[cfg(feature = "gui")]
pub mod gui;
#[cfg(feature = "gui")]
pub mod ui;
#[cfg(feature = "gui")]
pub mod view;

#[cfg(feature = "gui")]
use bevy::prelude::*;

pub use scenario::core_app;

/// The GUI: opens the window and runs until it is closed. Returns the exit
/// code. The one place the GUI's layers are put together.
#[cfg(feature = "gui")]
pub fn run_gui(loaded: scenario::Loaded, opts: gui::GuiOptions) -> i32 {
    if let Err(e) = gui::check_display() {
        eprintln!("{e}");
        return 2;
    }
    let (host, playback) = gui::start(loaded, &opts);
    let screenshot = opts.screenshot.is_some() || opts.slides.is_some() || opts.record.is_some();
    let slides = opts.slides.clone().map(gui::slides::SlideShow::new);
    let recording = opts
        .record
        .clone()
        .map(|(out, plan)| gui::record::Recording::new(out, plan));
    let (user, settings_file) = gui::settings::for_this_run(opts.theme);
    let mut app = App::new();
    app.add_plugins(gui::window_plugins(&opts, gui::window_title(&host)))
        .add_plugins(bevy_egui::EguiPlugin::default())
        .insert_resource(host)
        .insert_resource(playback)
        .insert_resource(opts)
        .insert_resource(user)
        .insert_resource(settings_file)
        .add_plugins((gui::plugin, view::plugin, ui::plugin));
    if let Some(s) = slides {
        app.insert_resource(s);
    }
    if let Some(r) = recording {
        app.insert_resource(r);
    }
    // A screenshot (and each frame of a recording, on its steady clock)
    // shows everything where it belongs: no glide, no fade.
    app.world_mut().resource_mut::<view::ViewSettings>().animate = !screenshot;
    match app.run() {
        AppExit::Success => 0,
        AppExit::Error(c) => c.get() as i32,
    }
}
