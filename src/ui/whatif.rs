//! What if? The branches panel (a tree of explorations: switch, rename,
//! delete), "Save branch as…", the rewind's progress, and the compare view:
//! two branches side by side at one shared clock, each drawn as a simple
//! picture of nodes and pods (a second World replayed headless), with the
//! first divergence of their logs and the outcome table.

use crate::gui::host::{Playback, REWIND_BUDGET, SimHost};
use crate::scenario::outcome::{self, Outcome, Tracker};
use crate::scenario::tape::Replay;
use crate::sim::event::SimEvent;
use crate::sim::units::clock;
use crate::view::scene::{self, Scene};
use crate::view::style;
use bevy_egui::egui;

/// The panels' own state for what-if exploration.
#[derive(Debug, Default)]
pub struct WhatIf {
    /// "Save branch as…" is open, with the path typed so far.
    pub save: Option<String>,
    /// The outcome of the last save, shown under the path.
    pub saved: Option<Result<String, String>>,
    /// The branch being renamed (its id) and the name typed so far.
    pub rename: Option<(u32, String)>,
    pub compare: Option<Compare>,
    /// `--compare` has opened the compare view once.
    pub compare_opened: bool,
}

/// Two branches side by side.
#[derive(Debug)]
pub struct Compare {
    /// Branch ids.
    pub a: u32,
    pub b: u32,
    /// The shared clock.
    pub t_ms: u64,
    computed: Option<Computed>,
    divergence: Option<Divergence>,
}

/// What was computed for (a, b, t): the two scenes, logs and outcomes.
type Computed = ((u32, u32, u64), Box<[Side; 2]>);
/// The first divergence over both branches' whole runs, for (a, b): its
/// instant and the two events in words.
type Divergence = ((u32, u32), Option<(u64, String, String)>);

#[derive(Debug)]
struct Side {
    scene: Scene,
    events: Vec<SimEvent>,
    outcome: Outcome,
}

fn to_colour(c: style::Rgb) -> egui::Color32 {
    egui::Color32::from_rgb(
        (c.0 * 255.0).round() as u8,
        (c.1 * 255.0).round() as u8,
        (c.2 * 255.0).round() as u8,
    )
}

/// The default file name of a saved branch: beside the lesson, named after
/// the branch.
pub fn default_save_path(host: &SimHost) -> String {
    let stem = std::path::Path::new(&host.file)
        .file_stem()
        .map_or("scenario".into(), |s| s.to_string_lossy().to_string());
    let branch: String = host
        .branches
        .current()
        .name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let branch = branch
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let branch: String = branch.chars().take(40).collect();
    format!("scenarios/{stem}-{}.ron", branch.trim_end_matches('-'))
}

/// The branches as a tree; click one to show it at the same instant.
pub fn branches_panel(ui: &mut egui::Ui, host: &mut SimHost, pb: &mut Playback, st: &mut WhatIf) {
    egui::CollapsingHeader::new(egui::RichText::new("What if? Branches").strong())
        .default_open(true)
        .show(ui, |ui| {
            ui.label(
                egui::RichText::new(
                    "Drag the timeline back (or press [ ) and act: a new branch starts there.",
                )
                .small()
                .italics(),
            );
            let mut switch = None;
            let mut delete = None;
            let mut renamed: Option<(u32, String)> = None;
            for (i, depth) in host.branches.tree() {
                let b = &host.branches.list[i];
                let current = i == host.branches.current;
                ui.horizontal(|ui| {
                    ui.add_space(16.0 * depth as f32);
                    if let Some((id, name)) = &mut st.rename
                        && *id == b.id
                    {
                        let r = ui.add(egui::TextEdit::singleline(name).desired_width(180.0));
                        if r.lost_focus() || ui.button("OK").clicked() {
                            renamed = st.rename.take();
                        }
                        return;
                    }
                    let text = egui::RichText::new(format!(
                        "{} {}",
                        if current { "▶" } else { "•" },
                        b.name
                    ));
                    let text = if current { text.strong() } else { text };
                    let hover = if b.parent.is_some() {
                        format!("forked at {} by: {}", clock(b.fork_ms), b.forked_by)
                    } else {
                        "the lesson as written, with what was done before any rewind".into()
                    };
                    if ui
                        .selectable_label(current, text)
                        .on_hover_text(hover)
                        .clicked()
                    {
                        switch = Some(i);
                    }
                    if ui.small_button("rename").clicked() {
                        st.rename = Some((b.id, b.name.clone()));
                    }
                    if b.parent.is_some() && ui.small_button("delete").clicked() {
                        delete = Some(b.id);
                    }
                });
            }
            if let Some((id, name)) = renamed
                && let Some(j) = host.branches.index_of(id)
                && !name.trim().is_empty()
            {
                host.branches.list[j].name = name.trim().to_string();
            }
            if let Some(i) = switch.filter(|i| *i != host.branches.current) {
                host.switch_to(i);
                pb.after_rewind(host);
            }
            if let Some(id) = delete
                && let Ok(Some(show)) = host.branches.delete(id)
            {
                host.switch_to(show);
                pb.after_rewind(host);
            }
            ui.horizontal(|ui| {
                if ui.button("Save branch as… (Ctrl+S)").clicked() {
                    open_save(host, st);
                }
                if host.branches.list.len() > 1 && ui.button("Compare…").clicked() {
                    open_compare(host, st);
                }
            });
        });
}

/// Opens "Save branch as…" with a default path.
pub fn open_save(host: &SimHost, st: &mut WhatIf) {
    st.save = Some(default_save_path(host));
    st.saved = None;
}

/// Opens the compare view: the current branch against its parent (or the
/// first other branch), at the current instant.
pub fn open_compare(host: &SimHost, st: &mut WhatIf) {
    let cur = host.branches.current();
    let other = cur
        .parent
        .or_else(|| {
            host.branches
                .list
                .iter()
                .map(|b| b.id)
                .find(|id| *id != cur.id)
        })
        .unwrap_or(cur.id);
    st.compare = Some(Compare {
        a: other,
        b: cur.id,
        t_ms: host.now_ms(),
        computed: None,
        divergence: None,
    });
}

/// The "Save branch as…" window.
pub fn save_window(ctx: &egui::Context, host: &SimHost, st: &mut WhatIf) {
    let Some(path) = &mut st.save else {
        return;
    };
    let b = host.branches.current();
    let actions = b
        .tape
        .iter()
        .filter(|e| matches!(e.input, crate::scenario::tape::Input::Command(_)))
        .count();
    let about = format!(
        "Branch \"{}\": the lesson with its {actions} action(s) inserted as steps.",
        b.name
    );
    let asked = super::save_dialog::show(
        ctx,
        "Save branch as scenario",
        &about,
        path,
        st.saved.as_ref(),
    );
    if let Some(p) = asked.save {
        st.saved = Some(
            crate::scenario::save::save_branch(&p, &host.loaded, &b.tape, &b.name, host.seed)
                .map(|()| format!("Saved {}: open it to play this branch again.", p.display())),
        );
    }
    if !asked.open {
        st.save = None;
    }
}

/// While a long rewind runs: a progress bar over the world.
pub fn rewind_progress(ctx: &egui::Context, host: &SimHost) {
    let Some(rw) = &host.rewinding else {
        return;
    };
    if rw.started.elapsed() < REWIND_BUDGET {
        return;
    }
    egui::Window::new("Rewinding")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| {
            ui.label(format!(
                "Replaying from the start to {}…",
                clock(rw.replay.target_ms)
            ));
            ui.add(
                egui::ProgressBar::new(rw.replay.progress())
                    .desired_width(320.0)
                    .show_percentage(),
            );
        });
}

/// Replays branch `id` to `t` headless (a second World), watching its outcome.
fn replay_side(host: &SimHost, id: u32, t: u64) -> Option<Side> {
    let b = &host.branches.list[host.branches.index_of(id)?];
    let mut r = Replay::start(host.loaded.clone(), host.seed, true, t);
    let mut tracker = Tracker::default();
    r.run(&b.tape, &mut |w| tracker.observe(w));
    let outcome = tracker.finish(&mut r.world);
    Some(Side {
        scene: scene::extract(&mut r.world),
        events: r.world.resource::<crate::sim::EventLog>().events.clone(),
        outcome,
    })
}

/// The first divergence of two branches over both their runs.
fn divergence(host: &SimHost, a: u32, b: u32) -> Option<(u64, String, String)> {
    let reach = |id| {
        host.branches
            .index_of(id)
            .map_or(0, |i| host.branches.list[i].reached_ms)
    };
    let end = reach(a).max(reach(b));
    let (x, y) = (replay_side(host, a, end)?, replay_side(host, b, end)?);
    let (_, ea, eb) = outcome::first_divergence(&x.events, &y.events)?;
    let words = |e: Option<&SimEvent>| {
        e.map_or("(no more events)".to_string(), |e| {
            format!("{} {}: {}", e.kind.name(), e.object, e.reason)
        })
    };
    Some((outcome::divergence_ms(ea, eb), words(ea), words(eb)))
}

/// The compare view, over the world.
pub fn compare_window(ctx: &egui::Context, host: &SimHost, st: &mut WhatIf, scale: f32) {
    let Some(cmp) = &mut st.compare else {
        return;
    };
    if host.branches.index_of(cmp.a).is_none() || host.branches.index_of(cmp.b).is_none() {
        st.compare = None;
        return;
    }
    if cmp.divergence.as_ref().map(|d| d.0) != Some((cmp.a, cmp.b)) {
        cmp.divergence = Some(((cmp.a, cmp.b), divergence(host, cmp.a, cmp.b)));
    }
    let key = (cmp.a, cmp.b, cmp.t_ms);
    if cmp.computed.as_ref().map(|c| c.0) != Some(key)
        && let (Some(x), Some(y)) = (
            replay_side(host, cmp.a, cmp.t_ms),
            replay_side(host, cmp.b, cmp.t_ms),
        )
    {
        cmp.computed = Some((key, Box::new([x, y])));
    }
    let mut open = true;
    let end = [cmp.a, cmp.b]
        .iter()
        .filter_map(|id| host.branches.index_of(*id))
        .map(|i| host.branches.list[i].reached_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let screen = ctx.viewport_rect();
    egui::Window::new("Compare branches")
        .open(&mut open)
        .collapsible(false)
        .default_size(egui::vec2(screen.width() * 0.8, screen.height() * 0.8))
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                ui.label(
                    egui::RichText::new(format!("t = {}", clock(cmp.t_ms)))
                        .strong()
                        .monospace()
                        .size(22.0 * scale),
                );
                let mut secs = cmp.t_ms as f64 / 1000.0;
                let r = ui.add(
                    egui::Slider::new(&mut secs, 0.0..=end as f64 / 1000.0)
                        .text("shared clock (s)"),
                );
                if r.changed() {
                    cmp.t_ms = crate::sim::units::secs_to_ms(secs);
                }
                if let Some((_, Some((t, _, _)))) = &cmp.divergence
                    && ui.button("Go to the divergence").clicked()
                {
                    cmp.t_ms = *t;
                }
            });
            match &cmp.divergence {
                Some((_, Some((t, ea, eb)))) => {
                    ui.label(
                        egui::RichText::new(format!("First divergence at {}", clock(*t)))
                            .color(egui::Color32::from_rgb(255, 196, 90))
                            .strong(),
                    );
                    ui.label(egui::RichText::new(format!("A: {ea}")).small());
                    ui.label(egui::RichText::new(format!("B: {eb}")).small());
                }
                _ => {
                    ui.label("The two branches' event logs are the same.");
                }
            }
            let div_t = cmp
                .divergence
                .as_ref()
                .and_then(|d| d.1.as_ref())
                .map(|d| d.0);
            let names = [cmp.a, cmp.b].map(|id| {
                host.branches
                    .index_of(id)
                    .map_or(String::new(), |i| host.branches.list[i].name.clone())
            });
            let Some((_, sides)) = &cmp.computed else {
                return;
            };
            let half = (ui.available_width() - 12.0) / 2.0;
            let height = (ui.available_height() * 0.42).max(160.0);
            ui.horizontal(|ui| {
                for (k, side) in sides.iter().enumerate() {
                    ui.vertical(|ui| {
                        ui.set_width(half);
                        ui.label(
                            egui::RichText::new(format!("{}: {}", ["A", "B"][k], names[k]))
                                .strong(),
                        );
                        mini_timeline(ui, &side.events, end, cmp.t_ms, div_t, half);
                        draw_world(ui, &side.scene, egui::vec2(half, height), scale);
                    });
                }
            });
            ui.separator();
            let rows = outcome::table(&sides[0].outcome, &sides[1].outcome);
            egui::ScrollArea::vertical()
                .id_salt("outcome")
                .show(ui, |ui| {
                    egui::Grid::new("outcome_table")
                        .striped(true)
                        .show(ui, |ui| {
                            ui.label("");
                            ui.label(egui::RichText::new("A").strong());
                            ui.label(egui::RichText::new("B").strong());
                            ui.end_row();
                            for (l, a, b) in &rows {
                                let heading = a.is_empty() && b.is_empty();
                                let l = egui::RichText::new(l.trim_start());
                                ui.label(if heading { l.strong() } else { l });
                                let differ = a != b;
                                for c in [a, b] {
                                    let t = egui::RichText::new(c).monospace();
                                    ui.label(if differ {
                                        t.color(egui::Color32::from_rgb(255, 196, 90))
                                    } else {
                                        t
                                    });
                                }
                                ui.end_row();
                            }
                        });
                });
        });
    if !open {
        st.compare = None;
    }
}

/// A strip of a run's events with the shared clock and the divergence.
fn mini_timeline(
    ui: &mut egui::Ui,
    events: &[SimEvent],
    end: u64,
    now: u64,
    div: Option<u64>,
    w: f32,
) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(w, 22.0), egui::Sense::hover());
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 3.0, egui::Color32::from_rgb(22, 26, 32));
    let x = |t: u64| rect.left() + rect.width() * (t as f32 / end as f32).min(1.0);
    for e in events {
        let c =
            super::events::category_colour(super::events::category(e), super::theme::of(ui.ctx()));
        p.line_segment(
            [
                egui::pos2(x(e.t_ms), rect.top() + 3.0),
                egui::pos2(x(e.t_ms), rect.bottom() - 3.0),
            ],
            egui::Stroke::new(1.0, c),
        );
    }
    if let Some(d) = div {
        let xd = x(d);
        p.line_segment(
            [egui::pos2(xd, rect.top()), egui::pos2(xd, rect.bottom())],
            egui::Stroke::new(3.0, egui::Color32::from_rgb(255, 120, 40)),
        );
    }
    let xn = x(now);
    p.line_segment(
        [egui::pos2(xn, rect.top()), egui::pos2(xn, rect.bottom())],
        egui::Stroke::new(2.0, egui::Color32::YELLOW),
    );
}

/// A simple drawing of a world: a column per node (red when it failed),
/// a card per pod in its phase's colour, unscheduled pods in a last column.
fn draw_world(ui: &mut egui::Ui, scene: &Scene, size: egui::Vec2, scale: f32) {
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let p = ui.painter_at(rect);
    let th = super::theme::of(ui.ctx());
    p.rect_filled(rect, 4.0, to_colour(th.bg));
    let mut columns: Vec<(String, bool, Vec<&scene::PodView>)> = scene
        .nodes
        .iter()
        .map(|n| (n.name.clone(), style::node_failed(n), Vec::new()))
        .collect();
    let mut pending = Vec::new();
    for pod in &scene.pods {
        match columns.iter_mut().find(|c| Some(&c.0) == pod.node.as_ref()) {
            Some(c) => c.2.push(pod),
            None => pending.push(pod),
        }
    }
    if !pending.is_empty() {
        columns.push(("no node".into(), false, pending));
    }
    let n = columns.len().max(1) as f32;
    let gap = 6.0;
    let col_w = (rect.width() - gap * (n + 1.0)) / n;
    let font = (14.0 * scale).min(col_w / 6.0).max(8.0);
    let card_h = font * 2.4;
    for (i, (name, failed, pods)) in columns.iter().enumerate() {
        let x0 = rect.left() + gap + i as f32 * (col_w + gap);
        let col = egui::Rect::from_min_size(
            egui::pos2(x0, rect.top() + gap),
            egui::vec2(col_w, rect.height() - 2.0 * gap),
        );
        let (fill, stroke) = if *failed {
            (to_colour(th.node_bad), to_colour(th.node_bad_border))
        } else {
            (to_colour(th.node), to_colour(th.node_border))
        };
        p.rect_filled(col, 4.0, fill);
        p.rect_stroke(
            col,
            4.0,
            egui::Stroke::new(1.5, stroke),
            egui::StrokeKind::Inside,
        );
        p.text(
            egui::pos2(col.center().x, col.top() + 4.0),
            egui::Align2::CENTER_TOP,
            if *failed {
                format!("{name} (failed)")
            } else {
                name.clone()
            },
            egui::FontId::proportional(font),
            to_colour(if *failed { th.node_bad_text } else { th.text }),
        );
        for (k, pod) in pods.iter().enumerate() {
            let y = col.top() + font * 1.8 + k as f32 * (card_h + 4.0);
            if y + card_h > col.bottom() {
                break;
            }
            let card = egui::Rect::from_min_size(
                egui::pos2(col.left() + 4.0, y),
                egui::vec2(col.width() - 8.0, card_h),
            );
            let state = crate::view::theme::PodState::of(pod);
            p.rect_filled(card, 3.0, to_colour(th.card_fill(state)));
            p.rect_stroke(
                card,
                3.0,
                egui::Stroke::new(2.0, to_colour(state.colour())),
                egui::StrokeKind::Inside,
            );
            p.text(
                egui::pos2(card.left() + 4.0, card.center().y),
                egui::Align2::LEFT_CENTER,
                format!("{} {}", pod.name, pod.phase.name()),
                egui::FontId::proportional(font),
                to_colour(th.card_text),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_saved_branch_is_named_after_its_lesson_and_branch() {
        let l = crate::scenario::built_in_lesson();
        let mut host = crate::gui::host::SimHost::new(l, None);
        host.branches.list[0].name = "Force-delete pod web-1 at 6m40.0s".into();
        assert_eq!(
            super::default_save_path(&host),
            "scenarios/00-sandbox-force-delete-pod-web-1-at-6m40-0s.ron"
        );
    }
}
