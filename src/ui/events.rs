//! The event log panel (filterable) and the timeline of events over
//! simulated time.

use super::UiState;
use crate::scenario::Lesson;
use crate::sim::event::{EventKind, EventLog, SimEvent};
use crate::sim::k8s_event;
use crate::view::Selection;
use bevy::prelude::*;
use bevy_egui::egui;

/// Event categories for filters and timeline colours.
pub const CATEGORIES: [&str; 6] = [
    "Pods",
    "Storage",
    "Nodes",
    "Workloads",
    "Database",
    "Lesson",
];

/// Which category an event belongs to (index into CATEGORIES).
pub fn category(e: &SimEvent) -> usize {
    let k = e.kind.name();
    if matches!(e.kind, EventKind::InvariantBroken) {
        return 2;
    }
    if k.starts_with("Node") {
        2
    } else if k.starts_with("Volume") || k.starts_with("Claim") {
        1
    } else if k.starts_with("Replication")
        || k.starts_with("Clone")
        || k.starts_with("Writes")
        || k.starts_with("Data")
    {
        4
    } else if e.object.starts_with("scenario/") || k.starts_with("Expectation") {
        5
    } else if e.object.starts_with("statefulset/") || e.object.starts_with("deployment/") {
        3
    } else {
        0
    }
}

/// A category's colour in the theme (a text colour: it passes the
/// theme's contrast test on the panel background).
pub fn category_colour(c: usize, th: &crate::view::theme::Theme) -> egui::Color32 {
    super::theme::c32(match c {
        0 => th.good,
        1 => th.info,
        2 => th.bad,
        3 => th.warn,
        4 => th.accent,
        _ => th.text,
    })
}

/// Whether an event concerns the selected object ("pod/web-1", "node/…").
pub fn concerns(e: &SimEvent, sel: &str) -> bool {
    if let Some(n) = sel.strip_prefix("node/") {
        return e.object == sel || e.node.as_deref() == Some(n);
    }
    e.object == sel
        || e.volume
            .as_deref()
            .is_some_and(|v| sel.strip_prefix("pv/") == Some(v))
}

/// An event's time in the log's column: the simulated clock, right-aligned.
fn stamp(ms: u64) -> String {
    format!("{:>8}", super::clock(ms))
}

pub fn event_log(ui: &mut egui::Ui, world: &World, st: &mut UiState, selected: Option<&str>) {
    ui.heading("Events");
    ui.horizontal_wrapped(|ui| {
        for (i, c) in CATEGORIES.iter().enumerate() {
            ui.checkbox(
                &mut st.categories[i],
                egui::RichText::new(*c).color(category_colour(i, super::theme::of(ui.ctx()))),
            );
        }
    });
    ui.horizontal(|ui| {
        ui.label("filter");
        ui.text_edit_singleline(&mut st.filter);
    });
    if selected.is_some() {
        ui.checkbox(&mut st.only_selected, "only the selected object");
    }
    let log = world.resource::<EventLog>();
    let lesson = world.get_resource::<Lesson>();
    let filter = st.filter.to_lowercase();
    let shown: Vec<&SimEvent> = log
        .events
        .iter()
        .filter(|e| st.categories[category(e)])
        .filter(|e| !st.only_selected || selected.is_none_or(|s| concerns(e, s)))
        .filter(|e| {
            filter.is_empty()
                || e.kind.name().to_lowercase().contains(&filter)
                || e.object.contains(&filter)
                || e.reason.to_lowercase().contains(&filter)
        })
        .collect();
    let start = shown.len().saturating_sub(300);
    egui::ScrollArea::vertical()
        .id_salt("events")
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for e in &shown[start..] {
                let c = category_colour(category(e), super::theme::of(ui.ctx()));
                ui.horizontal_wrapped(|ui| {
                    ui.label(egui::RichText::new(stamp(e.t_ms)).monospace().weak());
                    ui.label(egui::RichText::new(e.kind.name()).color(c).strong());
                    ui.label(egui::RichText::new(&e.object).monospace());
                    // Which lines Kubernetes itself records, and which only
                    // the simulator explains.
                    if e.k8s.is_some() {
                        ui.label(egui::RichText::new("k8s").small().strong())
                            .on_hover_text("Kubernetes records this event too");
                    } else {
                        ui.label(egui::RichText::new("sim").small().weak())
                            .on_hover_text("only the simulator logs this");
                    }
                })
                .response
                .on_hover_text(displayed(e, lesson));
                ui.label(egui::RichText::new(displayed(e, lesson)).small());
                if let Some(k) = &e.k8s {
                    ui.label(
                        egui::RichText::new(k8s_line(k))
                            .small()
                            .monospace()
                            .color(super::theme::c32(super::theme::of(ui.ctx()).info)),
                    );
                }
            }
        });
}

/// A strip of ticks, one per event, over simulated time; hover for details,
/// click an event to select its object. The cursor (yellow) is the clock:
/// drag it (or click elsewhere on the strip) to see another instant, which
/// is returned. `reached` is how far the branch has been played (the part
/// after the clock is shaded); `forks` are marked where branches fork.
pub fn timeline(
    ui: &mut egui::Ui,
    world: &World,
    now: u64,
    reached: u64,
    forks: &[(u64, String)],
    sel: &mut Selection,
) -> Option<u64> {
    let log = world.resource::<EventLog>();
    let (rect, resp) = ui.allocate_exact_size(ui.available_size(), egui::Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    let th = super::theme::of(ui.ctx());
    let c32 = super::theme::c32;
    painter.rect_filled(rect, 4.0, c32(th.lane));
    let span = now.max(reached).max(60_000) as f32;
    let x_of = |t: u64| rect.left() + 8.0 + (rect.width() - 16.0) * (t as f32 / span);
    let t_of = |x: f32| {
        let f = ((x - rect.left() - 8.0) / (rect.width() - 16.0)).clamp(0.0, 1.0);
        (f * span).round() as u64
    };
    // The branch's known future (played before a rewind): shaded, and
    // said in words, since a class cannot see a subtle shade.
    if reached > now {
        let r = egui::Rect::from_min_max(
            egui::pos2(x_of(now), rect.top()),
            egui::pos2(x_of(reached), rect.bottom()),
        );
        painter.rect_filled(r, 0.0, c32(th.widget_hover));
        painter.text(
            egui::pos2(r.left() + 8.0, rect.center().y),
            egui::Align2::LEFT_CENTER,
            "rewound: play on to re-run this future, or act to start a branch",
            egui::FontId::proportional(13.0),
            c32(th.text),
        );
    }
    let rows = CATEGORIES.len() as f32;
    let row_h = (rect.height() - 16.0) / rows;
    // Minute marks.
    let step = if span > 1_200_000.0 {
        300_000
    } else if span > 300_000.0 {
        60_000
    } else {
        10_000
    };
    let mut t = 0;
    while t as f32 <= span {
        let x = x_of(t);
        painter.line_segment(
            [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
            egui::Stroke::new(1.0, c32(th.widget_active)),
        );
        painter.text(
            egui::pos2(x + 2.0, rect.bottom() - 2.0),
            egui::Align2::LEFT_BOTTOM,
            super::clock(t),
            egui::FontId::proportional(11.0),
            c32(th.text_dim),
        );
        t += step;
    }
    let mut hovered: Option<&SimEvent> = None;
    let hover = resp.hover_pos();
    // One tick per category and pixel column: a long run has tens of
    // thousands of events, and ticks in the same column look like one.
    let cols = rect.width().max(1.0) as usize + 1;
    let mut ticked = vec![false; cols * CATEGORIES.len()];
    for e in &log.events {
        let c = category(e);
        let x = x_of(e.t_ms);
        let y0 = rect.top() + 4.0 + c as f32 * row_h;
        let col = ((x - rect.left()).max(0.0) as usize).min(cols - 1);
        if !std::mem::replace(&mut ticked[c * cols + col], true) {
            painter.line_segment(
                [egui::pos2(x, y0), egui::pos2(x, y0 + row_h - 2.0)],
                egui::Stroke::new(2.0, category_colour(c, th)),
            );
        }
        if let Some(h) = hover
            && (h.x - x).abs() < 3.0
            && h.y >= y0
            && h.y <= y0 + row_h
        {
            hovered = Some(e);
        }
    }
    for (t, name) in forks {
        let x = x_of(*t);
        let c = c32(th.info);
        painter.add(egui::Shape::convex_polygon(
            vec![
                egui::pos2(x - 9.0, rect.top()),
                egui::pos2(x + 9.0, rect.top()),
                egui::pos2(x, rect.top() + 14.0),
            ],
            c,
            egui::Stroke::NONE,
        ));
        painter.line_segment(
            [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
            egui::Stroke::new(2.0, c),
        );
        painter.text(
            egui::pos2(x + 11.0, rect.top() + 1.0),
            egui::Align2::LEFT_TOP,
            format!("fork: {}", crate::view::style::short(name, 40)),
            egui::FontId::proportional(12.0),
            c,
        );
        if let Some(h) = hover
            && (h.x - x).abs() < 6.0
            && h.y < rect.top() + 12.0
        {
            resp.clone()
                .on_hover_text_at_pointer(format!("branch fork at {}: {name}", super::clock(*t)));
        }
    }
    let xn = x_of(now);
    painter.line_segment(
        [egui::pos2(xn, rect.top()), egui::pos2(xn, rect.bottom())],
        egui::Stroke::new(2.0, c32(th.selection)),
    );
    // Dragging moves the clock; so does a click away from any event.
    let seek = if resp.dragged() || (resp.clicked() && hovered.is_none()) {
        resp.interact_pointer_pos().map(|p| t_of(p.x))
    } else {
        None
    };
    if let Some(e) = hovered {
        let text = format!(
            "{}  {}  {}\n{}",
            stamp(e.t_ms),
            e.kind.name(),
            e.object,
            displayed(e, world.get_resource::<Lesson>())
        );
        resp.clone().on_hover_text_at_pointer(text);
        if resp.clicked()
            && (e.object.starts_with("pod/")
                || e.object.starts_with("node/")
                || e.object.starts_with("pv/"))
        {
            sel.0 = Some(e.object.clone());
        }
    }
    seek
}

/// Every line the event log panel can show, as it shows them (the giveaway
/// test reads them all: a filter or a scroll could bring any into view).
pub fn log_lines(world: &World) -> Vec<String> {
    let lesson = world.get_resource::<Lesson>();
    let mut out = Vec::new();
    for e in &world.resource::<EventLog>().events {
        out.push(format!("{} {} {}", stamp(e.t_ms), e.kind.name(), e.object));
        out.push(displayed(e, lesson).into_owned());
        if let Some(k) = &e.k8s {
            out.push(k8s_line(k));
        }
    }
    out
}

/// A Kubernetes record as `kubectl get events` prints it:
/// "Normal  SuccessfulCreate  statefulset/web  create Pod web-0 …".
fn k8s_line(k: &k8s_event::K8sRecord) -> String {
    let kind = match k.kind {
        k8s_event::K8sType::Normal => "Normal",
        k8s_event::K8sType::Warning => "Warning",
    };
    format!("{kind}  {}  {}  {}", k.reason, k.object, k.message)
}

/// A reason as the panel shows it. A lesson step's reason quotes its check
/// as written in the file (RON); the panel says it in words. (The embedded
/// DejaVu fonts draw its arrows and "≥".)
fn displayed<'a>(e: &'a SimEvent, lesson: Option<&Lesson>) -> std::borrow::Cow<'a, str> {
    let step = e
        .object
        .strip_prefix("scenario/step-")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| lesson?.loaded.scenario.steps.get(n.checked_sub(1)?));
    match step {
        Some(step) => step.in_words(&e.reason).into(),
        None => e.reason.as_str().into(),
    }
}
