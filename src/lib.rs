//! statefulset-sim: a simulator and visualizer of Kubernetes StatefulSet
//! semantics on Bevy ECS. This is the plugin list: the deterministic core
//! (`sim`), scenarios, the headless runner, and (feature `gui`) the GUI's
//! host, the world view and the panels.
//!
//! The layers, each importing only the ones before it:
//! `sim` ← `scenario` ← `headless` / `gui` (the host) ← `view` ← `ui`.
//! Only this file, at the top, puts the GUI's layers together.

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

/// The GUI: opens the window and runs until it is closed. Returns the exit
/// code. The one place the GUI's layers are put together.
#[cfg(feature = "gui")]
pub fn run_gui(loaded: scenario::Loaded, opts: gui::GuiOptions) -> i32 {
    if let Err(e) = gui::check_display() {
        eprintln!("{e}");
        return 2;
    }
    let (host, playback) = gui::start(loaded, &opts);
    let screenshot = opts.screenshot.is_some();
    let mut app = App::new();
    app.add_plugins(gui::window_plugins(&opts, gui::window_title(&host)))
        .add_plugins(bevy_egui::EguiPlugin::default())
        .insert_resource(host)
        .insert_resource(playback)
        .insert_resource(opts)
        .add_plugins((gui::plugin, view::plugin, ui::plugin));
    // A screenshot shows everything where it belongs: no glide, no fade.
    app.world_mut().resource_mut::<view::ViewSettings>().animate = !screenshot;
    match app.run() {
        AppExit::Success => 0,
        AppExit::Error(c) => c.get() as i32,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The layers, lowest first; a file may name only its own layer's
    /// modules and lower ones (`headless` and `gui` share a rank and do not
    /// name each other).
    const LAYERS: [(&str, u8); 6] = [
        ("sim", 0),
        ("scenario", 1),
        ("headless", 2),
        ("gui", 2),
        ("view", 3),
        ("ui", 4),
    ];

    fn rank(module: &str) -> Option<u8> {
        LAYERS.iter().find(|(m, _)| *m == module).map(|l| l.1)
    }

    /// Every `crate::module` a source text names.
    fn named(text: &str) -> Vec<&str> {
        text.match_indices("crate::")
            .map(|(i, _)| {
                let rest = &text[i + "crate::".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect()
    }

    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn no_module_imports_a_layer_above_its_own() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        let mut wrong = Vec::new();
        for f in &all {
            let rel = f.strip_prefix(&src).unwrap_or(f);
            let top = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .unwrap_or("")
                .trim_end_matches(".rs");
            let Some(own) = rank(top) else { continue };
            let text = std::fs::read_to_string(f).unwrap_or_default();
            for m in named(&text) {
                if m != top && rank(m).is_some_and(|r| r >= own) {
                    wrong.push(format!("{} names crate::{m}", rel.display()));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports against the layers:\n{}",
            wrong.join("\n")
        );
        assert!(all.len() > 20, "found the sources: {}", all.len());
    }
}
