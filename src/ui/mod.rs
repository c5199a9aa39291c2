//! The egui panels (GUI only): controls and clock on top, the lesson and
//! workloads on the left, the inspector and event log on the right, the
//! timeline at the bottom, and the lesson's questions over the world.
//! Everything the user does goes to the simulation as a `SimCommand`.

pub mod actions;
pub mod events;
pub mod export;
pub mod inspector;
pub mod keys;
pub mod kubectl;
pub mod lesson;
pub mod save_dialog;
pub mod theme;
pub mod whatif;

use crate::gui::host::{Playback, SimHost};
use crate::gui::{GuiOptions, GuiSystems};
use crate::view::camera::{CameraControl, WorldViewport};
use crate::view::{CurrentScene, Selection};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use std::path::PathBuf;

/// UI-only state: filters, text fields, what is open.
#[derive(Resource, Debug)]
pub struct UiState {
    pub help: bool,
    pub filter: String,
    pub only_selected: bool,
    pub categories: [bool; events::CATEGORIES.len()],
    pub image: String,
    pub lessons: Vec<(PathBuf, String, String)>,
    pub load_error: Option<String>,
    pub styled: bool,
    pub whatif: whatif::WhatIf,
    /// The kubectl command line (kept across lesson switches).
    pub kubectl: kubectl::CommandLine,
    /// Presentation mode (`--present`, `p`): the cluster fills the window.
    pub present: bool,
    /// In presentation mode: the event log (`e`) and the lesson panel with
    /// its expectations (`x`) are shown.
    pub show_events: bool,
    pub show_lesson: bool,
    /// The list of the lesson's questions (`q`).
    pub questions_open: bool,
    /// `kubectl get pods -o wide` for the current instant (`k`).
    pub kubectl_open: bool,
    /// "Export SVG…" of the timeline.
    pub export: export::Export,
}

/// What the panels and the keyboard both drive: the simulation host, the
/// playback clock, the selection, the camera and the panels' own state.
#[derive(bevy::ecs::system::SystemParam)]
pub struct Controls<'w> {
    pub host: ResMut<'w, SimHost>,
    pub pb: ResMut<'w, Playback>,
    pub sel: ResMut<'w, Selection>,
    pub cam: ResMut<'w, CameraControl>,
    pub st: ResMut<'w, UiState>,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            help: false,
            filter: String::new(),
            only_selected: false,
            categories: [true; events::CATEGORIES.len()],
            image: String::new(),
            lessons: find_lessons(),
            load_error: None,
            styled: false,
            whatif: whatif::WhatIf::default(),
            kubectl: kubectl::CommandLine::default(),
            present: false,
            show_events: false,
            show_lesson: false,
            questions_open: false,
            kubectl_open: false,
            export: export::Export::default(),
        }
    }
}

/// The lessons in ./scenarios, with their names and summaries.
pub fn find_lessons() -> Vec<(PathBuf, String, String)> {
    let Ok(rd) = std::fs::read_dir("scenarios") else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|f| {
            crate::scenario::load_file(&f)
                .ok()
                .map(|l| (f, l.scenario.name, l.scenario.summary))
        })
        .collect()
}

pub fn plugin(app: &mut App) {
    app.init_resource::<UiState>()
        .add_systems(
            PreUpdate,
            drop_unchanged_modifiers
                .after(bevy_egui::EguiPreUpdateSet::ProcessInput)
                .before(bevy_egui::EguiPreUpdateSet::BeginPass),
        )
        .add_systems(EguiPrimaryContextPass, panels)
        .add_systems(Update, keys::keyboard.in_set(GuiSystems::Input));
}

/// bevy_egui 0.42 reports the keyboard modifiers as changed on every frame,
/// and egui answers each such report with an immediate repaint, so the
/// window could never rest while paused. Only real changes are passed on
/// (egui keeps the last modifiers it was told of).
fn drop_unchanged_modifiers(
    mut inputs: Query<&mut bevy_egui::EguiInput>,
    mut last: Local<Option<egui::Modifiers>>,
) {
    for mut input in &mut inputs {
        input.0.events.retain(|e| match e {
            egui::Event::ModifiersChanged(m) => {
                let changed = *last != Some(*m);
                *last = Some(*m);
                changed
            }
            _ => true,
        });
    }
}

/// The simulated clock as the panels show it ("5m12.3s").
pub use crate::sim::units::clock;

/// A side or top panel's frame, filled only when the world's drawing reaches
/// under it (zoomed or panned there); otherwise the clear colour shows, which
/// is the same colour, and the renderer skips the fill.
fn panel_frame(ctx: &egui::Context, covered: bool) -> egui::Frame {
    let f = egui::Frame::side_top_panel(&ctx.global_style());
    if covered {
        f
    } else {
        f.fill(egui::Color32::TRANSPARENT)
    }
}

fn apply_style(ctx: &egui::Context, scale: f32, th: &crate::view::theme::Theme, first: bool) {
    use egui::{FontId, TextStyle};
    // The panels' background is the world's: the window is cleared to it,
    // so a panel is painted only when the world reaches under it (see
    // `panel_frame`).
    theme::apply(ctx, th, first);
    // No anti-aliasing fringe around widgets and lines: it doubles the
    // triangles egui sends, and edges are axis-aligned (text is unaffected).
    ctx.tessellation_options_mut(|o| o.feathering = false);
    let mut style = (*ctx.global_style()).clone();
    style.text_styles = [
        (TextStyle::Heading, FontId::proportional(24.0 * scale)),
        (TextStyle::Body, FontId::proportional(17.0 * scale)),
        (TextStyle::Button, FontId::proportional(17.0 * scale)),
        (TextStyle::Monospace, FontId::monospace(14.0 * scale)),
        (TextStyle::Small, FontId::proportional(13.0 * scale)),
    ]
    .into();
    style.spacing.item_spacing = egui::vec2(8.0, 6.0);
    style.spacing.button_padding = egui::vec2(8.0, 4.0);
    ctx.set_global_style(style);
}

fn panels(
    mut contexts: EguiContexts,
    controls: Controls,
    current: Res<CurrentScene>,
    mut vp: ResMut<WorldViewport>,
    world_on_screen: Res<crate::view::camera::WorldOnScreen>,
    mut window: Single<&mut Window, With<PrimaryWindow>>,
    (opts, mut user, settings_file): (
        Res<GuiOptions>,
        ResMut<crate::gui::settings::Settings>,
        Res<crate::gui::settings::SettingsFile>,
    ),
) -> Result {
    let Controls {
        mut host,
        mut pb,
        mut sel,
        mut cam,
        st: mut ui_state,
    } = controls;
    let ctx = contexts.ctx_mut()?;
    if !ui_state.styled || user.is_changed() {
        let th = crate::view::theme::theme(user.theme);
        apply_style(ctx, opts.ui_scale, th, !ui_state.styled);
        ui_state.styled = true;
        ui_state.present = opts.present;
    }
    let present = ui_state.present;
    set_fullscreen(&mut window, present);
    let mut root = egui::Ui::new(
        ctx.clone(),
        "root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );

    let win = Vec2::new(window.width(), window.height());
    let [cover_left, cover_right, cover_top, cover_bottom] = vp.covered(world_on_screen.0, win);

    // Top: clock and playback.
    let top = egui::Panel::top("controls")
        .frame(panel_frame(ctx, cover_top))
        .show(&mut root, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(
                    egui::RichText::new(format!("t = {}", clock(host.now_ms())))
                        .size(26.0 * opts.ui_scale)
                        .strong()
                        .monospace(),
                );
                ui.separator();
                let play = if pb.paused { "▶ Play" } else { "⏸ Pause" };
                if ui.button(play).on_hover_text("space").clicked() {
                    pb.toggle(&mut host);
                }
                if ui
                    .button("+1s")
                    .on_hover_text(". (one simulated second)")
                    .clicked()
                {
                    pb.step(&mut host);
                }
                if ui.button("⏭ next event").on_hover_text("n").clicked() {
                    pb.skip_to_next_event(&mut host);
                }
                ui.label("speed");
                if ui.button("−").on_hover_text("-").clicked() {
                    pb.slower();
                }
                ui.label(
                    egui::RichText::new(format!("{}×", pb.speed))
                        .strong()
                        .monospace(),
                );
                if ui.button("+").on_hover_text("+").clicked() {
                    pb.faster();
                }
                ui.separator();
                if ui.button("◀ caption").on_hover_text("PageUp").clicked() {
                    lesson::previous_cue(&mut host, &mut pb);
                }
                if ui.button("caption ▶").on_hover_text("PageDown").clicked() {
                    lesson::next_cue(&mut host, &mut pb);
                }
                if ui.button("Questions").on_hover_text("q").clicked() {
                    ui_state.questions_open = !ui_state.questions_open;
                }
                if ui
                    .button("kubectl")
                    .on_hover_text("k: kubectl get pods -o wide")
                    .clicked()
                {
                    ui_state.kubectl_open = !ui_state.kubectl_open;
                }
                let label = if present {
                    "Leave presentation"
                } else {
                    "Present"
                };
                if ui.button(label).on_hover_text("p").clicked() {
                    ui_state.present = !present;
                }
                if present {
                    ui.separator();
                    ui.label(egui::RichText::new(&host.name).strong());
                    return;
                }
                ui.separator();
                lesson_picker(
                    ui,
                    &mut host,
                    &mut pb,
                    &mut sel,
                    &mut ui_state,
                    &mut cam,
                    &opts,
                );
                ui.menu_button("File", |ui| {
                    if ui.button("Save branch as… (Ctrl+S)").clicked() {
                        whatif::open_save(&host, &mut ui_state.whatif);
                        ui.close();
                    }
                    if ui.button("Compare branches…").clicked() {
                        whatif::open_compare(&host, &mut ui_state.whatif);
                        ui.close();
                    }
                    if ui.button("Export timeline as SVG…").clicked() {
                        export::open(&host, &mut ui_state.export);
                        ui.close();
                    }
                });
                theme::view_menu(ui, &mut user, &settings_file);
                if ui.button("Fit view").on_hover_text("Home").clicked() {
                    cam.reset();
                }
                if ui.button("? Help").on_hover_text("h").clicked() {
                    ui_state.help = !ui_state.help;
                }
            });
        })
        .response
        .rect
        .height();

    // Bottom: the timeline (not in presentation mode), and above it the
    // open question, docked: the world's free space ends above it.
    let mut bottom = 0.0;
    if !present {
        bottom += egui::Panel::bottom("timeline")
            .frame(panel_frame(ctx, cover_bottom))
            .exact_size(70.0 * opts.ui_scale)
            .show(&mut root, |ui| {
                let forks = host.branches.fork_marks();
                let reached = host.branches.current().reached_ms;
                let seek = ui
                    .horizontal(|ui| {
                        if export::button(ui) {
                            export::open(&host, &mut ui_state.export);
                        }
                        events::timeline(ui, &host.world, host.now_ms(), reached, &forks, &mut sel)
                    })
                    .inner;
                // While dragging, a new instant only when the cursor moved.
                if let Some(t) = seek
                    && t != host.now_ms()
                {
                    pb.seek(&mut host, t);
                }
            })
            .response
            .rect
            .height();
    }
    let strip = if present { 32.0 } else { 26.0 } * opts.ui_scale;
    if let Some(q) = pb.question.clone() {
        bottom += lesson::question_strip(&mut root, &mut host, &mut pb, &q, strip);
    } else if present {
        let log = host.world.resource::<crate::sim::EventLog>();
        let caps: Vec<String> = log
            .current_captions()
            .into_iter()
            .map(String::from)
            .chain(lesson::current_commands(log))
            .collect();
        bottom += lesson::caption_strip(&mut root, &caps, strip * 0.85);
    }

    // Above the timeline: the kubectl command line (in presentation mode
    // with the lesson panel, `x`: the class needs the height for the cluster).
    let bottom = if present && !ui_state.show_lesson {
        bottom
    } else {
        bottom
            + egui::Panel::bottom("kubectl")
                .frame(panel_frame(ctx, cover_bottom))
                .show(&mut root, |ui| {
                    kubectl::command_line(ui, &mut host, &mut ui_state.kubectl)
                })
                .response
                .rect
                .height()
    };

    // Left: the lesson, the workloads, actions.
    let left = if present && !ui_state.show_lesson {
        0.0
    } else {
        egui::Panel::left("lesson")
            .frame(panel_frame(ctx, cover_left))
            .default_size(330.0 * side_scale(opts.ui_scale))
            .resizable(true)
            .show(&mut root, |ui| {
                egui::ScrollArea::vertical().id_salt("left").show(ui, |ui| {
                    lesson::lesson_panel(ui, &host);
                    ui.separator();
                    whatif::branches_panel(ui, &mut host, &mut pb, &mut ui_state.whatif);
                    ui.separator();
                    actions::workloads_panel(
                        ui,
                        &mut host,
                        &current.scene,
                        &mut ui_state,
                        &mut sel,
                    );
                });
            })
            .response
            .rect
            .width()
    };

    // Right: the inspector and the event log.
    let right = if present && !ui_state.show_events && sel.0.is_none() {
        0.0
    } else {
        egui::Panel::right("inspector")
            .frame(panel_frame(ctx, cover_right))
            .default_size(400.0 * side_scale(opts.ui_scale))
            .resizable(true)
            .show(&mut root, |ui| {
                if let Some(s) = sel.0.clone() {
                    ui.horizontal(|ui| {
                        let th = theme::of(ui.ctx());
                        let size = 22.0 * opts.ui_scale;
                        let icon = theme::icon_of_selection(&s);
                        theme::icon(ui, icon, size, theme::c32(th.text));
                        ui.heading("Inspector");
                    });
                    actions::selection_actions(ui, &mut host, &s, &current.scene);
                    let text = inspector::describe(&mut host.world, &s);
                    egui::ScrollArea::vertical()
                        .id_salt("inspect")
                        .max_height(ui.available_height() * 0.55)
                        .show(ui, |ui| {
                            ui.label(egui::RichText::new(text).monospace());
                        });
                    if ui.button("Close (Esc)").clicked() {
                        sel.0 = None;
                    }
                    ui.separator();
                } else {
                    ui.label(
                        egui::RichText::new(
                            "Click a node, pod or volume to inspect it and act on it.",
                        )
                        .italics(),
                    );
                    ui.separator();
                }
                events::event_log(ui, &host.world, &mut ui_state, sel.0.as_deref());
            })
            .response
            .rect
            .width()
    };

    *vp = WorldViewport {
        left,
        right,
        top,
        bottom,
        max_zoom: world_max_zoom(present, opts.ui_scale),
    };

    if pb.intro && pb.question.is_none() {
        lesson::intro_card(ctx, &mut host, &mut pb, opts.ui_scale);
    }
    if ui_state.questions_open {
        let mut open = true;
        lesson::questions_window(ctx, &mut open, &mut host, &mut pb);
        ui_state.questions_open = open;
    }
    if ui_state.kubectl_open {
        let mut open = true;
        lesson::kubectl_window(ctx, &mut open, &mut host, opts.ui_scale);
        ui_state.kubectl_open = open;
    }
    if ui_state.help {
        keys::help_window(ctx, &mut ui_state.help);
    }
    if opts.compare && !ui_state.whatif.compare_opened {
        ui_state.whatif.compare_opened = true;
        whatif::open_compare(&host, &mut ui_state.whatif);
    }
    whatif::save_window(ctx, &host, &mut ui_state.whatif);
    export::window(ctx, &host, &mut ui_state.export);
    whatif::compare_window(ctx, &host, &mut ui_state.whatif, opts.ui_scale);
    whatif::rewind_progress(ctx, &host);
    if let Some(e) = ui_state.load_error.clone() {
        let mut open = true;
        egui::Window::new("Cannot open that lesson")
            .open(&mut open)
            .show(ctx, |ui| {
                ui.label(egui::RichText::new(e).monospace());
            });
        if !open {
            ui_state.load_error = None;
        }
    }
    let title = crate::gui::window_title(&host);
    if window.title != title {
        window.title = title;
    }
    Ok(())
}

/// How far the camera may magnify the world to fill its space: 1.25× at
/// the normal scale; `--ui-scale` enlarges the world as much as the panels,
/// and presentation mode lets the cluster fill the window.
pub fn world_max_zoom(present: bool, ui_scale: f32) -> f32 {
    let base = 1.25 * ui_scale.max(1.0);
    if present { base.max(3.0) } else { base }
}

/// How much wider than at scale 1 the side panels open: not at all above
/// 1, so that a larger `--ui-scale` leaves the world its space (the text
/// wraps; the panels can be dragged wider).
fn side_scale(ui_scale: f32) -> f32 {
    ui_scale.min(1.0)
}

/// Presentation mode is fullscreen; leaving it gives the window back.
fn set_fullscreen(window: &mut Window, present: bool) {
    use bevy::window::{MonitorSelection, WindowMode};
    let want = if present {
        WindowMode::BorderlessFullscreen(MonitorSelection::Current)
    } else {
        WindowMode::Windowed
    };
    if window.mode != want {
        window.mode = want;
    }
}

fn lesson_picker(
    ui: &mut egui::Ui,
    host: &mut SimHost,
    pb: &mut Playback,
    sel: &mut Selection,
    st: &mut UiState,
    cam: &mut CameraControl,
    opts: &GuiOptions,
) {
    let mut pick: Option<Option<PathBuf>> = None;
    let title = format!("Lesson: {}", host.name);
    // A long lesson name is cut with "…" to the room left in the bar (the
    // whole name is on hover and in the side panel), so the bar keeps one
    // row on a projector's narrower window.
    let width = (ui.available_width() - 12.0).clamp(160.0, 340.0);
    egui::ComboBox::from_id_salt("lesson")
        .selected_text(&title)
        .width(width)
        .truncate()
        .show_ui(ui, |ui| {
            if ui.selectable_label(false, "Sandbox (built in)").clicked() {
                pick = Some(None);
            }
            for (path, name, summary) in &st.lessons {
                if ui
                    .selectable_label(host.file == path.display().to_string(), name)
                    .on_hover_text(summary)
                    .clicked()
                {
                    pick = Some(Some(path.clone()));
                }
            }
        })
        .response
        .on_hover_text(title);
    if ui.button("⟲ Restart").clicked() {
        let f = PathBuf::from(&host.file);
        pick = Some(if f.exists() { Some(f) } else { None });
    }
    if let Some(choice) = pick {
        let loaded = match choice {
            None => Ok(crate::scenario::built_in_lesson()),
            Some(p) => crate::scenario::load_file(&p),
        };
        match loaded {
            Ok(l) => {
                *host = SimHost::new(l, opts.seed);
                *pb = Playback::default();
                sel.0 = None;
                cam.reset();
            }
            Err(d) => st.load_error = Some(d.to_string()),
        }
    }
}
