//! statefulset-sim: a simulator and visualizer of Kubernetes StatefulSet
//! semantics on Bevy ECS. This is the plugin list: the deterministic core
//! (`sim`), scenarios, the headless runner, and (feature `gui`) the view and UI.

pub mod headless;
pub mod scenario;
pub mod sim;

#[cfg(feature = "gui")]
pub mod gui;
#[cfg(feature = "gui")]
pub mod ui;
#[cfg(feature = "gui")]
pub mod view;

use bevy::prelude::*;

/// The headless app: the simulation core and the scenario player, no window.
pub fn core_app() -> App {
    let mut app = App::empty();
    app.add_plugins((sim::plugin, scenario::plugin));
    app
}
