//! Scenarios: the RON format, loading with diagnostics, installing a
//! scenario's cluster and workloads, and the step player.

pub mod format;
pub mod load;
pub mod player;

pub use format::{Check, Scenario, Step};
pub use load::{Diagnostic, Loaded, load_file, load_str};
pub use player::{Lesson, StepResult};

use crate::sim::command::{add_node, add_workload};
use crate::sim::model::Index;
use crate::sim::{SimRng, settle_all};
use bevy::prelude::*;

/// The scenario plugin (the player).
pub fn plugin(app: &mut App) {
    app.add_plugins(player::plugin);
}

/// Builds the scenario's cluster and workloads into a fresh world and arms
/// its steps. `seed` overrides the scenario's.
pub fn install(world: &mut World, loaded: Loaded, seed: Option<u64>, interactive: bool) {
    let s = loaded.scenario.clone();
    world.insert_resource(SimRng::new(seed.unwrap_or(s.seed)));
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
    for n in &s.cluster.nodes {
        add_node(world, n);
    }
    for w in &s.workloads {
        add_workload(world, w);
    }
    world.insert_resource(Lesson::new(loaded, interactive));
    settle_all(world);
}
