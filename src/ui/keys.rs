//! Keyboard shortcuts and the help overlay that lists them, beside the
//! legend of pod states and signs.

use super::Controls;
use bevy::prelude::*;
use bevy_egui::egui;
use bevy_egui::input::EguiWantsInput;

/// The shortcuts, as shown in the help overlay and the README.
pub const SHORTCUTS: [(&str, &str); 18] = [
    ("space", "play / pause; on a lesson question: continue"),
    (".", "step one simulated second"),
    ("n", "skip to the next event"),
    (
        "Left or [",
        "rewind to the previous event (acting there starts a branch)",
    ),
    ("Right or ]", "forward to the next event"),
    ("PageDown", "on to the next caption or question"),
    ("PageUp", "back to the previous caption or question"),
    ("q", "the lesson's questions: click one to go to it"),
    ("k", "kubectl get pods -o wide, now"),
    ("p", "presentation mode (cluster fills the screen)"),
    (
        "e / x",
        "presentation mode: events / lesson and expectations",
    ),
    ("Ctrl+S", "save this branch as a scenario file"),
    ("+ / -", "faster / slower (0.25× to 1000×)"),
    ("h or F1", "this help"),
    ("Home", "fit the cluster in view"),
    ("Esc", "clear the selection"),
    ("mouse wheel / drag", "zoom / pan"),
    ("click", "inspect a node, pod or volume"),
];

pub fn keyboard(keys: Res<ButtonInput<KeyCode>>, egui: Res<EguiWantsInput>, controls: Controls) {
    let Controls {
        mut host,
        mut pb,
        mut sel,
        mut cam,
        mut st,
    } = controls;
    if egui.wants_any_keyboard_input() {
        return;
    }
    if keys.just_pressed(KeyCode::Space) {
        pb.toggle(&mut host);
    }
    if keys.just_pressed(KeyCode::Period) {
        pb.step(&mut host);
    }
    if keys.just_pressed(KeyCode::KeyN)
        || keys.just_pressed(KeyCode::ArrowRight)
        || keys.just_pressed(KeyCode::BracketRight)
    {
        pb.skip_to_next_event(&mut host);
    }
    if keys.just_pressed(KeyCode::ArrowLeft) || keys.just_pressed(KeyCode::BracketLeft) {
        pb.step_back(&mut host);
    }
    let ctrl = keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]);
    if ctrl && keys.just_pressed(KeyCode::KeyS) {
        super::whatif::open_save(&host, &mut st.whatif);
    }
    if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
        pb.faster();
    }
    if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
        pb.slower();
    }
    if keys.just_pressed(KeyCode::KeyH) || keys.just_pressed(KeyCode::F1) {
        st.help = !st.help;
    }
    if keys.just_pressed(KeyCode::PageDown) {
        super::lesson::next_cue(&mut host, &mut pb);
    }
    if keys.just_pressed(KeyCode::PageUp) {
        super::lesson::previous_cue(&mut host, &mut pb);
    }
    if keys.just_pressed(KeyCode::KeyQ) {
        st.questions_open = !st.questions_open;
    }
    if keys.just_pressed(KeyCode::KeyK) {
        st.kubectl_open = !st.kubectl_open;
    }
    if keys.just_pressed(KeyCode::KeyP) {
        st.present = !st.present;
    }
    if keys.just_pressed(KeyCode::KeyE) {
        st.show_events = !st.show_events;
    }
    if keys.just_pressed(KeyCode::KeyX) {
        st.show_lesson = !st.show_lesson;
    }
    if keys.just_pressed(KeyCode::Home) {
        cam.reset();
    }
    if keys.just_pressed(KeyCode::Escape) {
        sel.0 = None;
    }
}

pub fn help_window(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Help: keys, mouse and legend")
        .open(open)
        .collapsible(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| {
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.heading("Keyboard and mouse");
                    egui::Grid::new("keys").striped(true).show(ui, |ui| {
                        for (k, what) in SHORTCUTS {
                            ui.label(egui::RichText::new(k).monospace().strong());
                            ui.label(what);
                            ui.end_row();
                        }
                    });
                });
                ui.separator();
                ui.vertical(super::theme::legend);
            });
        });
}
