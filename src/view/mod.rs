//! The 2D world view (GUI only): reads the simulation into a Scene each
//! frame, lays it out, draws it, and lets the user pan, zoom and pick. It
//! never changes the simulation.

pub mod camera;
pub mod draw;
pub mod fonts;
pub mod icons;
pub mod layout;
pub mod scene;
pub mod style;
pub mod theme;

use crate::gui::GuiSystems;
use crate::gui::host::{Playback, SimHost};
use crate::gui::settings::Settings;
use bevy::gizmos::config::{GizmoConfig, GizmoConfigGroup, GizmoLineConfig, GizmoLineJoint};
use bevy::prelude::*;

/// This frame's view model and layout.
#[derive(Resource, Default)]
pub struct CurrentScene {
    pub scene: scene::Scene,
    pub layout: layout::Layout,
}

/// How the view behaves.
#[derive(Resource, Debug)]
pub struct ViewSettings {
    /// Glide and fade (off for screenshots: everything where it belongs).
    pub animate: bool,
    /// Phase of the dots flowing along replication links, 0..1.
    pub dot_phase: f32,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings {
            animate: true,
            dot_phase: 0.0,
        }
    }
}

/// What the user clicked: "pod/web-1", "pod/<uid>", "proc/<uid>", "pv/…", "node/…".
#[derive(Resource, Debug, Default)]
pub struct Selection(pub Option<String>);

/// The world view: its systems run in `GuiSystems::{Extract, Draw, Camera,
/// TextDetail}`, whose order the GUI's host layer sets.
pub fn plugin(app: &mut App) {
    app.init_resource::<CurrentScene>()
        .init_resource::<ViewSettings>()
        .init_resource::<Selection>()
        .init_resource::<draw::Drawn>()
        .init_resource::<Settings>()
        .insert_resource(ClearColor(draw::colour(theme::DARK.bg)))
        .insert_gizmo_config(
            IconGizmos,
            GizmoConfig {
                line: GizmoLineConfig {
                    width: 3.0,
                    joints: GizmoLineJoint::Miter,
                    ..default()
                },
                ..default()
            },
        )
        .add_systems(
            PostUpdate,
            (follow_theme, extract).chain().in_set(GuiSystems::Extract),
        )
        .add_systems(
            PostUpdate,
            (draw::sync, draw::animate, draw::lines, draw::icons)
                .chain()
                .in_set(GuiSystems::Draw),
        )
        .add_systems(PostUpdate, draw::text_lod.in_set(GuiSystems::TextDetail))
        .add_plugins((camera::plugin, fonts::plugin));
}

/// Icons are drawn with heavier lines than the links (3 pixels): they must
/// read on a washed-out projector.
#[derive(Default, Reflect, GizmoConfigGroup)]
pub struct IconGizmos;

/// The window's clear colour follows the theme.
fn follow_theme(user: Res<Settings>, mut clear: ResMut<ClearColor>) {
    if user.is_changed() {
        clear.0 = draw::colour(theme::theme(user.theme).bg);
    }
}

/// Reads the simulation into the view model: at once when something
/// happened, otherwise at most ten times a second (clocks and countdowns).
fn extract(
    mut host: ResMut<SimHost>,
    mut current: ResMut<CurrentScene>,
    playback: Res<Playback>,
    time: Res<Time>,
    mut settings: ResMut<ViewSettings>,
    mut last: Local<(u64, u64, f32)>,
) {
    if !playback.paused {
        settings.dot_phase = (settings.dot_phase + time.delta_secs() * 0.6).fract();
    }
    let activity = host.world.resource::<crate::sim::EventLog>().activity;
    let now = host.now_ms();
    last.2 += time.delta_secs();
    // While playing, clocks and countdowns refresh ten times a second; a
    // step taken while paused shows at once.
    let due = activity != last.0
        || (now != last.1 && (last.2 >= 0.1 || playback.paused))
        || current.layout.bounds.w == 0.0;
    if !due {
        return;
    }
    *last = (activity, now, 0.0);
    let scene = scene::extract(&mut host.world);
    if scene != current.scene {
        current.layout = layout::layout(&scene);
        current.scene = scene;
    }
}
