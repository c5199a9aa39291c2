//! Scenarios: the RON format, loading with diagnostics, installing a
//! scenario's cluster and workloads, and the step player.

pub mod format;
pub mod kubectl;
pub mod load;
pub mod manifest;
pub mod outcome;
pub mod player;
pub mod run;
pub mod save;
pub mod settled;
pub mod tape;

pub use format::{Check, Scenario, Step};
pub use load::{Diagnostic, Loaded, load_file, load_str};
pub use player::{Lesson, StepResult};

use crate::sim::command::{add_node, add_workload};
use crate::sim::model::Index;
use crate::sim::{SimRng, settle_all};
use bevy::prelude::*;

/// Where the built-in lesson came from (it is compiled in).
pub const BUILT_IN_FILE: &str = "scenarios/00-sandbox.ron";

/// The built-in lesson: the sandbox the GUI opens when no file is given.
pub fn built_in_lesson() -> Loaded {
    const TEXT: &str = include_str!("../../scenarios/00-sandbox.ron");
    match load_str(BUILT_IN_FILE, TEXT.as_bytes()) {
        Ok(l) => l,
        // The built-in file is checked by the test suite (tests/scenarios.rs
        // loads every file in scenarios/, and `the_built_in_lesson_loads`
        // below); this cannot fail in a tested build.
        Err(d) => panic!("built-in lesson is invalid: {d}"),
    }
}

/// The headless app: the simulation core and the scenario player, no
/// window. The headless runner and the GUI's host both drive one.
pub fn core_app() -> App {
    let mut app = App::empty();
    app.add_plugins((crate::sim::plugin, plugin));
    app
}

/// The scenario plugin (the player).
pub fn plugin(app: &mut App) {
    app.add_plugins(player::plugin);
}

/// Builds the scenario's cluster and workloads into a fresh world and arms
/// its steps. `seed` overrides the scenario's.
pub fn install(world: &mut World, loaded: Loaded, seed: Option<u64>, interactive: bool) {
    let s = loaded.scenario.clone();
    world.insert_resource(SimRng::new(seed.unwrap_or(s.seed)));
    world.insert_resource(kubectl::apply::ScenarioFile(loaded.file.clone()));
    {
        let mut index = world.resource_mut::<Index>();
        for c in &s.cluster.storage_classes {
            index.classes.insert(c.name.clone(), c.clone());
        }
        if index.classes.is_empty() {
            index.classes.insert(
                "standard".into(),
                crate::sim::model::StorageClassSpec {
                    name: "standard".into(),
                    kind: crate::sim::model::StorageKind::Network,
                    binding: crate::sim::model::BindingMode::WaitForFirstConsumer,
                    allow_volume_expansion: false,
                },
            );
        }
        index.default_class = s
            .cluster
            .storage_classes
            .first()
            .map_or_else(|| "standard".to_string(), |c| c.name.clone());
        index.broken_images = s.cluster.broken_images.clone();
    }
    // The loader has checked the version and gates; a scenario built in
    // code that names a bad one runs on the defaults.
    let version = crate::sim::version::ClusterVersion::resolve(
        s.cluster.kubernetes_version.as_deref(),
        &s.cluster.feature_gates,
    )
    .unwrap_or_default();
    world.insert_resource(version);
    for n in &s.cluster.nodes {
        add_node(world, n);
    }
    for w in &s.workloads {
        add_workload(world, w);
    }
    world.insert_resource(crate::sim::controllers::disruption::DisruptionBudgets(
        s.disruption_budgets.clone(),
    ));
    world.insert_resource(Lesson::new(loaded, interactive));
    settle_all(world);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_lesson_loads() {
        let l = super::built_in_lesson();
        assert_eq!(l.file, super::BUILT_IN_FILE);
        assert!(!l.scenario.name.is_empty());
    }
}
