//! The panels' side of the themes: egui's fonts (the embedded DejaVu pair
//! first, egui's own fonts as fallback for the media symbols ⏸ ⏭ that
//! DejaVu lacks), egui's visuals in the theme's colours, the theme switch
//! in the View menu, the icons painted in panels, and the help overlay's
//! legend of pod states.

use crate::gui::settings::{Settings, SettingsFile, ThemeKind};
use crate::view::fonts;
use crate::view::icons::{self, Icon};
use crate::view::style::Rgb;
use crate::view::theme::{self, PodState, Theme};
use bevy_egui::egui;
use std::sync::Arc;

/// egui's colour of a theme colour.
pub fn c32(c: Rgb) -> egui::Color32 {
    let b = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    egui::Color32::from_rgb(b(c.0), b(c.1), b(c.2))
}

/// The fonts the panels use: DejaVu Sans (proportional) and DejaVu Sans
/// Mono first, then egui's built-in fonts for anything DejaVu lacks.
pub fn font_definitions() -> egui::FontDefinitions {
    let mut defs = egui::FontDefinitions::default();
    for (name, bytes, family) in [
        ("DejaVuSans", fonts::SANS, egui::FontFamily::Proportional),
        ("DejaVuSansMono", fonts::MONO, egui::FontFamily::Monospace),
    ] {
        defs.font_data.insert(
            name.to_owned(),
            Arc::new(egui::FontData::from_static(bytes)),
        );
        defs.families
            .entry(family)
            .or_default()
            .insert(0, name.to_owned());
    }
    defs
}

/// Where the panels find this frame's theme (set by [`apply`]).
fn theme_id() -> egui::Id {
    egui::Id::new("statefulset-sim theme")
}

/// The theme the panels are drawn in.
pub fn of(ctx: &egui::Context) -> &'static Theme {
    theme::theme(ctx.data(|d| d.get_temp::<ThemeKind>(theme_id()).unwrap_or_default()))
}

/// egui's visuals in the theme's colours.
pub fn visuals(th: &Theme) -> egui::Visuals {
    let mut v = match th.kind {
        ThemeKind::Dark => egui::Visuals::dark(),
        ThemeKind::Light => egui::Visuals::light(),
    };
    let stroke = |c: Rgb| egui::Stroke::new(1.0, c32(c));
    v.panel_fill = c32(th.bg);
    v.window_fill = c32(th.bg);
    v.extreme_bg_color = c32(th.bg);
    v.faint_bg_color = c32(th.lane);
    v.code_bg_color = c32(th.lane);
    v.weak_text_color = Some(c32(th.text_dim));
    v.warn_fg_color = c32(th.warn);
    v.error_fg_color = c32(th.bad);
    v.hyperlink_color = c32(th.info);
    v.window_stroke = stroke(th.node_border);
    v.selection.bg_fill = c32(th.selection_bg());
    v.selection.stroke = stroke(th.text);
    let w = &mut v.widgets;
    w.noninteractive.fg_stroke = stroke(th.text);
    w.noninteractive.bg_stroke = stroke(th.node_border);
    for (state, fill) in [
        (&mut w.inactive, th.widget),
        (&mut w.hovered, th.widget_hover),
        (&mut w.active, th.widget_active),
        (&mut w.open, th.widget_hover),
    ] {
        state.fg_stroke = egui::Stroke::new(state.fg_stroke.width, c32(th.text));
        state.bg_fill = c32(fill);
        state.weak_bg_fill = c32(fill);
    }
    v
}

/// Sets the panels' fonts once and their visuals for the theme.
pub fn apply(ctx: &egui::Context, th: &Theme, first: bool) {
    if first {
        ctx.set_fonts(font_definitions());
    }
    ctx.data_mut(|d| d.insert_temp(theme_id(), th.kind));
    ctx.set_visuals(visuals(th));
}

/// The View menu: the theme switch. A new choice is remembered for the
/// next run (and only then is `user` written, so that the world and the
/// panels are restyled once, not every frame).
pub fn view_menu(
    ui: &mut egui::Ui,
    user: &mut bevy::prelude::ResMut<Settings>,
    file: &SettingsFile,
) {
    let mut picked = None;
    ui.menu_button("View", |ui| {
        for kind in [ThemeKind::Dark, ThemeKind::Light] {
            let label = match kind {
                ThemeKind::Dark => "Dark theme (screens)",
                ThemeKind::Light => "Light theme (projectors)",
            };
            if ui.radio(user.theme == kind, label).clicked() && user.theme != kind {
                picked = Some(kind);
                ui.close();
            }
        }
    });
    if let Some(kind) = picked {
        user.theme = kind;
        file.store(user);
    }
}

/// Paints an icon in `rect` (the icons' y grows up; egui's down).
pub fn paint_icon(painter: &egui::Painter, icon: Icon, rect: egui::Rect, colour: egui::Color32) {
    let c = rect.center();
    let half = rect.width().min(rect.height()) / 2.0;
    let width = (half / 5.0).clamp(1.5, 3.0);
    for stroke in icons::strokes(icon) {
        let pts: Vec<egui::Pos2> = stroke
            .into_iter()
            .map(|(x, y)| egui::pos2(c.x + x * half, c.y - y * half))
            .collect();
        painter.add(egui::Shape::line(pts, egui::Stroke::new(width, colour)));
    }
}

/// An icon as a widget of `size` points.
pub fn icon(ui: &mut egui::Ui, icon: Icon, size: f32, colour: egui::Color32) -> egui::Response {
    let (rect, resp) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
    paint_icon(ui.painter(), icon, rect.shrink(1.0), colour);
    resp
}

/// The icon of a selected object ("node/…", "pv/…", a pod).
pub fn icon_of_selection(sel: &str) -> Icon {
    if sel.starts_with("node/") {
        Icon::Node
    } else if sel.starts_with("pv/") {
        Icon::Volume
    } else if sel.starts_with("proc/") {
        Icon::SplitBrain
    } else {
        Icon::Pod
    }
}

/// A pod card in miniature: the state's tinted fill, its frame and icon.
fn state_swatch(ui: &mut egui::Ui, th: &Theme, s: PodState, size: f32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(size * 1.6, size), egui::Sense::hover());
    let p = ui.painter();
    p.rect_filled(rect, 2.0, c32(th.card_fill(s)));
    p.rect_stroke(
        rect,
        2.0,
        egui::Stroke::new(3.0, c32(s.colour())),
        egui::StrokeKind::Inside,
    );
    let icon_rect = egui::Rect::from_center_size(rect.center(), egui::vec2(size, size) * 0.62);
    paint_icon(p, s.icon(), icon_rect, c32(th.card_text));
}

/// The help overlay's legend: every pod state by colour, icon and words,
/// then the world's other signs.
pub fn legend(ui: &mut egui::Ui) {
    let th = of(ui.ctx());
    let size = 26.0;
    ui.heading("Pod states");
    egui::Grid::new("legend-states")
        .striped(true)
        .show(ui, |ui| {
            for s in theme::STATES {
                let (name, what) = s.label();
                state_swatch(ui, th, s, size);
                ui.label(egui::RichText::new(name).strong());
                ui.label(what);
                ui.end_row();
            }
        });
    ui.add_space(6.0);
    ui.heading("Signs");
    egui::Grid::new("legend-signs")
        .striped(true)
        .show(ui, |ui| {
            for (i, what) in [
                (
                    Icon::Node,
                    "a node (a failed one shows the warning sign, struck through)",
                ),
                (Icon::Pod, "pods waiting for a node"),
                (Icon::Volume, "a volume (persistent disk)"),
                (Icon::Database, "the pod's database server and its role"),
                (
                    Icon::Lock,
                    "a volume held by another node (Multi-Attach, fenced)",
                ),
                (Icon::Warning, "a failed node, a diverged or blocked volume"),
            ] {
                icon(ui, i, size * 0.8, c32(th.text));
                ui.label(what);
                ui.end_row();
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The characters a font maps, by its cmap (via `skrifa`, the font
    /// reader egui itself is built on).
    fn covers(bytes: &[u8], ch: char) -> bool {
        use skrifa::MetadataProvider;
        skrifa::FontRef::new(bytes)
            .map(|f| f.charmap().map(ch).is_some_and(|g| g.to_u32() != 0))
            .unwrap_or(false)
    }

    /// Every non-ASCII character in the code (outside comments) and the
    /// lesson files under `dirs`: what the window can be asked to draw.
    fn symbols_used(dirs: &[&str]) -> Vec<(char, String)> {
        fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            if p.is_dir() {
                for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                    walk(&e.path(), out);
                }
            } else if p.extension().is_some_and(|x| x == "rs" || x == "ron") {
                out.push(p.to_path_buf());
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for d in dirs {
            walk(&root.join(d), &mut files);
        }
        files.sort();
        let mut out: Vec<(char, String)> = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for line in text.lines() {
                let t = line.trim_start();
                if t.starts_with("//") {
                    continue;
                }
                // A trailing comment is prose too (a `//` inside a string
                // ends a line's code early: that only skips text).
                let code = t.split(" // ").next().unwrap_or(t);
                for ch in code.chars().filter(|c| !c.is_ascii()) {
                    if !out.iter().any(|(c, _)| *c == ch) {
                        out.push((ch, f.display().to_string()));
                    }
                }
            }
        }
        out
    }

    /// The symbols the issue names, and the box-drawing set.
    fn required() -> Vec<char> {
        let mut v: Vec<char> = "→≥✔✘⟲⏸▶⏭…−×—•".chars().collect();
        v.extend('\u{2500}'..='\u{257f}');
        v
    }

    #[test]
    fn the_embedded_fonts_draw_every_symbol_the_window_uses() {
        let defs = font_definitions();
        let used = symbols_used(&[
            "src/ui",
            "src/view",
            "src/gui",
            "src/sim",
            "src/scenario",
            "scenarios",
        ]);
        assert!(
            used.iter().any(|(c, _)| *c == '→'),
            "the scan finds nothing"
        );
        let mut all: Vec<(char, String)> = used.clone();
        all.extend(required().into_iter().map(|c| (c, "required".to_string())));
        for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
            let chain = &defs.families[&family];
            assert!(chain[0].starts_with("DejaVu"), "{family:?}: {chain:?}");
            for (ch, from) in &all {
                let found = chain
                    .iter()
                    .any(|name| covers(&defs.font_data[name].font, *ch));
                assert!(
                    found,
                    "{family:?} cannot draw {ch:?} (U+{:04X}) used in {from}",
                    *ch as u32
                );
            }
        }
        // The world's text has no fallback: DejaVu Sans alone draws what
        // the world view and the simulation's words can hold.
        let world = symbols_used(&["src/view", "src/sim", "src/scenario", "scenarios"]);
        for (ch, from) in world.iter().chain(
            "→≥✔✘⟲▶"
                .chars()
                .map(|c| (c, "required".to_string()))
                .collect::<Vec<_>>()
                .iter(),
        ) {
            assert!(
                covers(fonts::SANS, *ch),
                "DejaVu Sans lacks {ch:?} (U+{:04X}), used in {from}",
                *ch as u32
            );
        }
    }

    #[test]
    fn the_media_symbols_dejavu_lacks_come_from_egui_fonts() {
        // A font check that can fail: DejaVu really has no pause sign, so
        // it must come from the fallback.
        assert!(!covers(fonts::SANS, '⏸'));
        assert!(covers(fonts::SANS, '→') && covers(fonts::MONO, '≥'));
    }
}
