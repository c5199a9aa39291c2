//! The lesson as the class sees it: the goal (an intro card before t = 0,
//! collapsed during play), the captions, the question docked below the
//! cluster, the presenter's note after each reveal, the list of questions to
//! jump to, `kubectl get pods -o wide` at the current instant, and every
//! text the screen shows at an instant (`screen_texts`, which the giveaway
//! test reads: the panels draw from the same functions).

use crate::gui::host::{Playback, SimHost};
use crate::scenario::Loaded;
use crate::scenario::player::{Lesson, StepResult};
use crate::sim::event::{EventKind, EventLog};
use crate::sim::{PauseRequest, read, units};
use bevy::prelude::*;
use bevy_egui::egui;

/// The caption boxes' fill (the class reads white on it).
const CAPTION_FILL: egui::Color32 = egui::Color32::from_rgb(30, 50, 80);

/// The kubectl commands the lesson ran since its current caption (its
/// `Kubectl("…")` steps, or lines typed in the command line), as typed:
/// "$ kubectl scale statefulset/web --replicas=5". The class sees the
/// command behind each scripted action.
pub fn current_commands(log: &EventLog) -> Vec<String> {
    let since = log
        .events
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::Note)
        .map_or(0, |e| e.t_ms);
    log.events
        .iter()
        .filter(|e| e.kind == EventKind::KubectlRan && e.t_ms >= since)
        .filter_map(|e| {
            e.reason
                .split_once(": ")
                .map(|(line, _)| format!("$ {line}"))
        })
        .collect()
}

/// One of the lesson's questions (a `pause` step).
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// Index of its step in the scenario.
    pub step: usize,
    pub text: String,
    pub answer: Option<String>,
}

/// The lesson's questions, in order.
pub fn questions(loaded: &Loaded) -> Vec<Question> {
    loaded
        .scenario
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.pause.as_ref().map(|q| Question {
                step: i,
                text: q.clone(),
                answer: s.answer.clone(),
            })
        })
        .collect()
}

/// The step index of a lesson step's event object ("scenario/step-7": 6).
fn step_of(object: &str) -> Option<usize> {
    object
        .strip_prefix("scenario/step-")?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

/// The questions asked so far in this world: (step index, instant asked).
pub fn asked(world: &World) -> Vec<(usize, u64)> {
    world
        .resource::<EventLog>()
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Pause)
        .filter_map(|e| Some((step_of(&e.object)?, e.t_ms)))
        .collect()
}

/// The question open now (the clock held for the class), by step index.
pub fn open_question(world: &World) -> Option<usize> {
    world.resource::<PauseRequest>().0.as_ref()?;
    asked(world).last().map(|(s, _)| *s)
}

/// The presenter's note after a reveal: the last answered question and its
/// answer (none while a question is open, or before the first one).
pub fn revealed(world: &World, loaded: &Loaded) -> Option<(String, String)> {
    if world.resource::<PauseRequest>().0.is_some() {
        return None;
    }
    let (step, _) = *asked(world).last()?;
    let s = loaded.scenario.steps.get(step)?;
    let answer = s.answer.clone()?;
    // A multiple-choice question: the correct letter first, as the class
    // voted with it.
    let answer = match (s.correct_choice(), &s.correct) {
        (Some(i), Some(c)) => correct_first(crate::scenario::Step::choice_letter(i), c, &answer),
        _ => answer,
    };
    Some((s.pause.clone()?, answer))
}

/// "Correct: B. <choice>. <answer>", the choice said once: an answer that
/// already opens with the choice's words is not preceded by them again.
fn correct_first(letter: char, choice: &str, answer: &str) -> String {
    // The giveaway check's normaliser: lower case, punctuation as spaces.
    let (c, a) = (normalise(choice), normalise(answer));
    if !c.is_empty() && (a == c || a.starts_with(&format!("{c} "))) {
        format!("Correct: {letter}. {answer}")
    } else {
        format!("Correct: {letter}. {choice}. {answer}")
    }
}

/// The open question's choices, lettered for a show of hands ("A", "web-0"):
/// empty for an open question. All are shown alike, so they give nothing
/// away (the giveaway test reads the question, not its choices).
pub fn open_choices(world: &World, loaded: &Loaded) -> Vec<(char, String)> {
    let Some(step) = open_question(world) else {
        return Vec::new();
    };
    loaded
        .scenario
        .steps
        .get(step)
        .and_then(|s| s.choices.clone())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| (crate::scenario::Step::choice_letter(i), c))
        .collect()
}

/// The expectations as the panel lists them: only those already checked,
/// in words with their mark, so a list of checks to come cannot tell the
/// class what is about to happen; and how many are still to come.
pub fn expectation_lines(lesson: &Lesson) -> (Vec<(bool, String, Option<String>)>, usize) {
    let mut shown = Vec::new();
    let mut pending = 0;
    for (i, r) in lesson.results.iter().enumerate() {
        let step = &lesson.loaded.scenario.steps[i];
        let Some(c) = &step.expect else {
            continue;
        };
        match r {
            StepResult::Pending => pending += 1,
            StepResult::Failed { message, .. } => {
                shown.push((false, c.describe(), Some(step.in_words(message))))
            }
            _ => shown.push((true, c.describe(), None)),
        }
    }
    (shown, pending)
}

/// `kubectl get pods -o wide` at this instant: every pod object (a process
/// with no object does not show: kubectl only sees the API), sorted by name
/// as the API lists them, in aligned columns. The IP column reads `<none>`
/// for a pod not started yet, as kubectl prints a pod without one. RESTARTS is the count only (kubectl adds "(2m ago)").
pub fn kubectl_get_pods_wide(c: &read::Cluster) -> String {
    let mut rows: Vec<[String; 9]> = c
        .pods
        .iter()
        .map(|p| {
            let ready = if p.status.ready { "1/1" } else { "0/1" };
            [
                p.pod.name.clone(),
                ready.to_string(),
                p.status.status_column(c.now_ms),
                p.status.restarts.to_string(),
                crate::sim::units::age(c.now_ms.saturating_sub(p.pod.created_ms)),
                p.status.ip.clone().unwrap_or_else(|| "<none>".to_string()),
                p.status
                    .node
                    .clone()
                    .unwrap_or_else(|| "<none>".to_string()),
                "<none>".to_string(),
                "<none>".to_string(),
            ]
        })
        .collect();
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    let head = [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    .map(String::from);
    let all: Vec<&[String; 9]> = std::iter::once(&head).chain(rows.iter()).collect();
    let widths: Vec<usize> = (0..9)
        .map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in all {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i < 8 {
                // kubectl's tabwriter: padding 3 after the widest cell.
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if c.pods.is_empty() {
        return "No resources found in default namespace.\n".to_string();
    }
    out
}

/// Every text on screen at this instant, outside the inspector and hover
/// tips (nothing is selected or hovered while a class discusses a
/// question): the lesson panel (title, goal, captions, presenter note,
/// checked expectations), the workloads panel, the cluster's cards and
/// countdowns, the event log, and the question. Each comes from the function
/// the panel draws it with.
pub fn screen_texts(world: &mut World, loaded: &Loaded) -> Vec<String> {
    let mut out = vec![
        loaded.scenario.name.clone(),
        loaded.scenario.summary.clone(),
    ];
    out.extend(
        world
            .resource::<EventLog>()
            .current_captions()
            .into_iter()
            .map(String::from),
    );
    out.extend(current_commands(world.resource::<EventLog>()));
    if let Some((q, a)) = revealed(world, loaded) {
        out.push(q);
        out.push(a);
    }
    if let Some(l) = world.get_resource::<Lesson>() {
        let (lines, _) = expectation_lines(l);
        for (_, what, why) in lines {
            out.push(what);
            out.extend(why);
        }
    }
    if let Some(q) = world.resource::<PauseRequest>().0.clone() {
        out.push(q);
    }
    let scene = crate::view::scene::extract(world);
    for s in &scene.sets {
        out.extend(super::actions::set_lines(s));
        for p in scene.pods.iter().filter(|p| p.owner == s.name && !p.stray) {
            out.push(super::actions::dns_line(p, s));
        }
    }
    let layout = crate::view::layout::layout(&scene);
    // The texts are the same in every theme; only their colours differ.
    let th = crate::view::theme::theme(crate::gui::settings::ThemeKind::Dark);
    for (_, part) in crate::view::draw::parts(&scene, &layout, th) {
        if let crate::view::draw::Part::Text { text, .. } = part {
            out.push(text);
        }
    }
    out.extend(super::events::log_lines(world));
    out
}

/// Lower case, letters and digits only, without the articles "a", "an"
/// and "the", words separated by one space: how the giveaway test compares
/// an answer with the screen ("the highest ordinal first" and "highest
/// ordinal first" say the same).
pub fn normalise(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The parts of an answer that must not be on screen before it is
/// revealed: the whole answer, and each of its sentences and clauses
/// (split at ". ", ": ", "; ", ", ", "? ", "! ") that say something: three
/// words or more once normalised, at least one of them a plain word. A
/// clause made only of names ("mysql-0.mysql", "web-4 web-3") is how the
/// screen labels things, not a statement: the cards print those names all
/// the time, so matching them would flag every screen.
pub fn answer_phrases(answer: &str) -> Vec<String> {
    let mut out = vec![normalise(answer)];
    let mut parts = vec![answer.to_string()];
    for sep in [". ", ": ", "; ", ", ", "? ", "! "] {
        parts = parts
            .iter()
            .flat_map(|p| p.split(sep).map(String::from).collect::<Vec<_>>())
            .collect();
    }
    for p in parts {
        let n = normalise(&p);
        if n.split(' ').count() >= 3 && says_something(&p) && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Whether a clause has a plain word (letters only, not an article) beside
/// its names: "only web-1" does, "mysql-0.mysql" does not.
fn says_something(clause: &str) -> bool {
    clause
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .any(|w| {
            !w.is_empty()
                && w.chars().all(char::is_alphabetic)
                && !matches!(w.to_lowercase().as_str(), "a" | "an" | "the")
        })
}

/// The lesson panel: the title, the goal (open before t = 0, a collapsed
/// header during play), the captions, the presenter's note after a reveal,
/// and the expectations checked so far.
pub fn lesson_panel(ui: &mut egui::Ui, host: &SimHost) {
    ui.heading(&host.name);
    if !host.summary.is_empty() {
        egui::CollapsingHeader::new("Goal")
            .id_salt(("goal", host.now_ms() == 0))
            .default_open(host.now_ms() == 0)
            .show(ui, |ui| {
                ui.label(egui::RichText::new(&host.summary).italics());
            });
    }
    let log = host.world.resource::<EventLog>();
    for c in log.current_captions() {
        caption_box(ui, c, 20.0);
    }
    for k in current_commands(log) {
        ui.label(egui::RichText::new(k).monospace().size(15.0));
    }
    if let Some((q, a)) = revealed(&host.world, &host.loaded) {
        presenter_note(ui, &q, &a);
    }
    let Some(lesson) = host.world.get_resource::<Lesson>() else {
        return;
    };
    expectations(ui, lesson);
}

/// A caption in its blue box.
pub fn caption_box(ui: &mut egui::Ui, text: &str, size: f32) {
    egui::Frame::new()
        .fill(CAPTION_FILL)
        .inner_margin(8.0)
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.label(
                egui::RichText::new(text)
                    .size(size)
                    .color(egui::Color32::WHITE),
            );
        });
}

/// The answer to the question just revealed, for the presenter.
fn presenter_note(ui: &mut egui::Ui, q: &str, a: &str) {
    egui::CollapsingHeader::new(egui::RichText::new("Answer (presenter note)").small())
        .id_salt(("answer", q))
        .default_open(true)
        .show(ui, |ui| {
            ui.label(egui::RichText::new(q).small().italics());
            let good = super::theme::c32(super::theme::of(ui.ctx()).good);
            ui.label(egui::RichText::new(a).color(good));
        });
}

/// The expectations checked so far; the rest is a count.
pub fn expectations(ui: &mut egui::Ui, lesson: &Lesson) {
    let (lines, pending) = expectation_lines(lesson);
    if lines.is_empty() && pending == 0 {
        return;
    }
    egui::CollapsingHeader::new(format!("Expectations ({})", lines.len() + pending))
        .default_open(true)
        .show(ui, |ui| {
            for (ok, what, why) in lines {
                let th = super::theme::of(ui.ctx());
                let (mark, colour) = if ok {
                    ("✔", super::theme::c32(th.good))
                } else {
                    ("✘", super::theme::c32(th.bad))
                };
                let resp = ui.horizontal_wrapped(|ui| {
                    ui.label(egui::RichText::new(mark).color(colour).strong());
                    ui.label(egui::RichText::new(&what).small());
                });
                if let Some(why) = why {
                    resp.response.on_hover_text(why);
                }
            }
            if pending > 0 {
                ui.label(
                    egui::RichText::new(format!("… {pending} still to be checked"))
                        .small()
                        .weak(),
                );
            }
        });
}

/// The intro card before t = 0: the lesson's title and goal, and how to
/// start. The clock waits for it.
pub fn intro_card(ctx: &egui::Context, host: &mut SimHost, pb: &mut Playback, scale: f32) {
    egui::Window::new("intro")
        .title_bar(false)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .frame(
            egui::Frame::window(&ctx.global_style())
                .fill(super::theme::c32(super::theme::of(ctx).question_bg)),
        )
        .show(ctx, |ui| {
            ui.set_max_width(760.0 * scale);
            ui.label(
                egui::RichText::new(&host.name)
                    .size(34.0 * scale)
                    .strong()
                    .color(super::theme::c32(super::theme::of(ui.ctx()).question_text)),
            );
            ui.add_space(10.0 * scale);
            ui.label(
                egui::RichText::new(&host.summary)
                    .size(24.0 * scale)
                    .color(super::theme::c32(super::theme::of(ui.ctx()).question_text)),
            );
            ui.add_space(14.0 * scale);
            let n = questions(&host.loaded).len();
            if n > 0 {
                ui.label(
                    egui::RichText::new(format!("{n} questions to predict on the way."))
                        .size(18.0 * scale)
                        .weak(),
                );
            }
            if ui
                .button(egui::RichText::new("Start ▶  (space)").size(22.0 * scale))
                .clicked()
            {
                pb.start(host);
            }
        });
}

/// The open question, docked in a strip below the cluster (the world's
/// free space ends above it), with the button that reveals the answer.
/// Returns the strip's height.
pub fn question_strip(
    ui: &mut egui::Ui,
    host: &mut SimHost,
    pb: &mut Playback,
    q: &str,
    size: f32,
) -> f32 {
    egui::Panel::bottom("question")
        .frame(
            egui::Frame::side_top_panel(&ui.ctx().global_style())
                .fill(super::theme::c32(super::theme::of(ui.ctx()).question_bg))
                .inner_margin(egui::Margin::symmetric(16, 10)),
        )
        .show(ui, |ui| {
            // One row: the question, and the button that reveals its answer
            // at the right (the height is the cluster's).
            let text = super::theme::c32(super::theme::of(ui.ctx()).question_text);
            ui.horizontal(|ui| {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .button(egui::RichText::new("Reveal ▶  (space)").size(size * 0.6))
                        .clicked()
                    {
                        pb.resume(host);
                    }
                    ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                        ui.add(
                            egui::Label::new(
                                egui::RichText::new(q).size(size).strong().color(text),
                            )
                            .wrap(),
                        );
                    });
                });
            });
            // Multiple choice: the letters large, side by side, for a show
            // of hands.
            let choices = open_choices(&host.world, &host.loaded);
            if !choices.is_empty() {
                ui.add_space(size * 0.2);
                ui.horizontal_wrapped(|ui| {
                    ui.spacing_mut().item_spacing.x = size * 1.2;
                    for (letter, c) in choices {
                        ui.label(
                            egui::RichText::new(format!("{letter}  {c}"))
                                .size(size * 0.9)
                                .color(text),
                        );
                    }
                });
            }
        })
        .response
        .rect
        .height()
}

/// Presentation mode's caption strip below the cluster: the current
/// captions, large. Returns its height.
pub fn caption_strip(ui: &mut egui::Ui, captions: &[String], size: f32) -> f32 {
    if captions.is_empty() {
        return 0.0;
    }
    egui::Panel::bottom("captions")
        .frame(
            egui::Frame::side_top_panel(&ui.ctx().global_style())
                .fill(CAPTION_FILL)
                .inner_margin(egui::Margin::symmetric(16, 10)),
        )
        .show(ui, |ui| {
            for c in captions {
                let t = egui::RichText::new(c)
                    .size(size)
                    .color(egui::Color32::WHITE);
                // The kubectl command behind a scripted action, as typed.
                ui.label(if c.starts_with("$ kubectl") {
                    t.monospace()
                } else {
                    t
                });
            }
        })
        .response
        .rect
        .height()
}

/// The lesson's questions, each a button that goes straight to it: back
/// (a rewind, with the question open again) or on (played, answering the
/// ones before it as a class would).
pub fn questions_window(
    ctx: &egui::Context,
    open: &mut bool,
    host: &mut SimHost,
    pb: &mut Playback,
) {
    let list = questions(&host.loaded);
    let asked = asked(&host.world);
    let current = open_question(&host.world);
    let mut go: Option<usize> = None;
    egui::Window::new("Questions")
        .open(open)
        .default_width(520.0)
        .show(ctx, |ui| {
            if list.is_empty() {
                ui.label("This lesson asks no questions.");
            }
            for (k, q) in list.iter().enumerate() {
                let when = asked
                    .iter()
                    .find(|(s, _)| *s == q.step)
                    .map_or("later".to_string(), |(_, t)| units::clock(*t));
                let text = format!("{}. {}  ({when})", k + 1, q.text);
                if ui.selectable_label(current == Some(q.step), text).clicked() {
                    go = Some(q.step);
                }
            }
        });
    if let Some(step) = go {
        go_to_question(host, pb, step);
    }
}

/// Shows the question of step `step`: rewound to it when it was asked
/// before now, else played on to it.
pub fn go_to_question(host: &mut SimHost, pb: &mut Playback, step: usize) {
    pb.intro = false;
    if let Some((_, t)) = asked(&host.world).into_iter().find(|(s, _)| *s == step) {
        host.rewind_to(t);
        host.finish_rewind();
        pb.after_rewind(host);
        return;
    }
    pb.play_to_question(host, step);
}

/// The instants of the captions and questions so far (ascending, each once).
pub fn cue_instants(world: &World) -> Vec<u64> {
    let mut ts: Vec<u64> = world
        .resource::<EventLog>()
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Note | EventKind::Pause))
        .map(|e| e.t_ms)
        .collect();
    ts.dedup();
    ts
}

/// Back to the previous caption or question: the latest cue before the one
/// on screen now.
pub fn previous_cue(host: &mut SimHost, pb: &mut Playback) {
    let now = host.now_ms();
    let cues = cue_instants(&host.world);
    // The cue on screen is the last at or before now; go to the one before it.
    let shown = cues.iter().rposition(|t| *t <= now);
    let target = match shown {
        Some(i) if i > 0 => cues[i - 1],
        _ => 0,
    };
    pb.seek(host, target);
}

/// On to the next caption or question (a question open now is answered
/// first, as "continue" would).
pub fn next_cue(host: &mut SimHost, pb: &mut Playback) {
    pb.intro = false;
    if pb.question.is_some() {
        pb.resume(host);
    }
    pb.play_to_next_cue(host);
}

/// `kubectl get pods -o wide`, printed for this instant.
pub fn kubectl_window(ctx: &egui::Context, open: &mut bool, host: &mut SimHost, scale: f32) {
    let c = read::read(&mut host.world);
    let text = kubectl_get_pods_wide(&c);
    egui::Window::new("$ kubectl get pods -o wide")
        .open(open)
        .default_width(900.0 * scale)
        .show(ctx, |ui| {
            ui.label(
                egui::RichText::new(format!("at t = {}", units::clock(c.now_ms)))
                    .small()
                    .weak(),
            );
            egui::ScrollArea::both().show(ui, |ui| {
                ui.label(egui::RichText::new(text).monospace().size(16.0 * scale));
            });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_presenter_note_says_the_correct_choice_once() {
        assert_eq!(
            correct_first('B', "No", "No: par-1 is replaced first, then par-0."),
            "Correct: B. No: par-1 is replaced first, then par-0."
        );
        assert_eq!(
            correct_first('A', "web-0", "Web-0, then web-1."),
            "Correct: A. Web-0, then web-1."
        );
        // Only whole words count: "No" does not open "Not until…".
        assert_eq!(
            correct_first('C', "No", "Not until web-0 is Ready."),
            "Correct: C. No. Not until web-0 is Ready."
        );
        assert_eq!(
            correct_first('A', "It waits", "The StatefulSet waits."),
            "Correct: A. It waits. The StatefulSet waits."
        );
    }

    #[test]
    fn an_answer_is_compared_whole_and_by_its_clauses() {
        let p = answer_phrases("One by one: web-1 first. Then web-2; no, the highest first.");
        assert!(p.contains(&"one by one web 1 first then web 2 no highest first".to_string()));
        assert!(p.contains(&"web 1 first".to_string()));
        assert!(p.contains(&"then web 2".to_string()));
        assert!(
            !p.contains(&"no".to_string()),
            "too short to compare: {p:?}"
        );
        assert!(
            !p.contains(&"highest first".to_string()),
            "too short: {p:?}"
        );
        assert_eq!(
            normalise("The Web-1.web  IS, a Ready!"),
            "web 1 web is ready"
        );
    }

    #[test]
    fn a_clause_of_names_alone_is_not_a_giveaway() {
        let names =
            answer_phrases("mysql-1 clones mysql-0's data, mysql-0.mysql. The web-4 web-3.");
        assert!(
            !names.contains(&"mysql 0 mysql".to_string()),
            "a name alone states nothing: {names:?}"
        );
        assert!(
            !names.contains(&"web 4 web 3".to_string()),
            "names alone state nothing: {names:?}"
        );
        assert!(names.contains(&"mysql 1 clones mysql 0 s data".to_string()));
    }
}
