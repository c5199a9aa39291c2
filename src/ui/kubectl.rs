//! The kubectl command line (GUI): a text field at the bottom with history
//! (↑/↓; the line being typed is kept as a draft while browsing) and Tab
//! completion of verbs, kinds and object names. Commands run through the
//! same kubectl parser as the `Kubectl("…")` step and the shell; one that
//! changes the cluster is recorded like a click (`SimHost::kubectl`).

use crate::gui::host::SimHost;
use bevy_egui::egui;

/// Lines of output kept under the field.
const OUTPUT_LINES: usize = 12;

/// The command line's state: what is typed, the history, the last output.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CommandLine {
    pub input: String,
    pub history: Vec<String>,
    /// While browsing the history: the entry shown, and the draft typed before.
    browsing: Option<(usize, String)>,
    pub output: Vec<String>,
    /// The completions offered by the last Tab.
    pub candidates: Vec<String>,
}

impl CommandLine {
    /// ↑: the previous history entry (the current line is kept as a draft).
    pub fn up(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let i = match &self.browsing {
            None => {
                self.browsing = Some((self.history.len() - 1, self.input.clone()));
                self.history.len() - 1
            }
            Some((i, draft)) => {
                let i = i.saturating_sub(1);
                self.browsing = Some((i, draft.clone()));
                i
            }
        };
        self.input = self.history[i].clone();
    }

    /// ↓: the next entry, and past the newest the draft comes back.
    pub fn down(&mut self) {
        let Some((i, draft)) = self.browsing.clone() else {
            return;
        };
        if i + 1 < self.history.len() {
            self.browsing = Some((i + 1, draft));
            self.input = self.history[i + 1].clone();
        } else {
            self.browsing = None;
            self.input = draft;
        }
    }

    /// Enter: the line to run (None if blank); it joins the history.
    pub fn submit(&mut self) -> Option<String> {
        let line = self.input.trim().to_string();
        self.browsing = None;
        self.candidates.clear();
        if line.is_empty() {
            return None;
        }
        if self.history.last() != Some(&line) {
            self.history.push(line.clone());
        }
        self.input.clear();
        Some(line)
    }

    /// Adds a command and what it printed to the output.
    pub fn print(&mut self, line: &str, text: &str) {
        self.output.push(format!("$ kubectl {line}"));
        self.output.extend(text.lines().map(String::from));
        let extra = self.output.len().saturating_sub(OUTPUT_LINES * 4);
        self.output.drain(..extra);
    }
}

/// The command line, at the bottom of the window.
pub fn command_line(ui: &mut egui::Ui, host: &mut SimHost, cl: &mut CommandLine) {
    egui::ScrollArea::vertical()
        .id_salt("kubectl-out")
        .max_height(140.0)
        .stick_to_bottom(true)
        .show(ui, |ui| {
            for l in cl.output.iter().rev().take(OUTPUT_LINES).rev() {
                ui.label(egui::RichText::new(l).monospace());
            }
        });
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("kubectl").monospace().strong());
        let id = egui::Id::new("kubectl-line");
        let edit = egui::TextEdit::singleline(&mut cl.input)
            .id(id)
            .lock_focus(true)
            .hint_text("get pods   (Tab completes, ↑/↓ history)")
            .desired_width(f32::INFINITY)
            .font(egui::TextStyle::Monospace);
        let resp = ui.add(edit);
        if resp.has_focus() {
            let (tab, up, down) = ui.input_mut(|i| {
                (
                    i.consume_key(egui::Modifiers::NONE, egui::Key::Tab),
                    i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowUp),
                    i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowDown),
                )
            });
            if tab {
                let (line, candidates) =
                    crate::scenario::kubectl::complete(&mut host.world, &cl.input);
                cl.input = line;
                cl.candidates = if candidates.len() > 1 {
                    candidates
                } else {
                    Vec::new()
                };
                move_cursor_to_end(ui, id, cl.input.chars().count());
            }
            if up {
                cl.up();
                move_cursor_to_end(ui, id, cl.input.chars().count());
            }
            if down {
                cl.down();
                move_cursor_to_end(ui, id, cl.input.chars().count());
            }
        }
        if resp.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            if let Some(line) = cl.submit() {
                let text = host.kubectl(&line);
                cl.print(&line, &text);
            }
            resp.request_focus();
        }
    });
    if !cl.candidates.is_empty() {
        ui.label(
            egui::RichText::new(cl.candidates.join("  "))
                .small()
                .italics(),
        );
    }
}

fn move_cursor_to_end(ui: &egui::Ui, id: egui::Id, chars: usize) {
    if let Some(mut state) = egui::TextEdit::load_state(ui.ctx(), id) {
        let c = egui::text::CCursor::new(chars);
        state
            .cursor
            .set_char_range(Some(egui::text::CCursorRange::one(c)));
        state.store(ui.ctx(), id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_typed_command_survives_browsing_the_history() {
        let mut cl = CommandLine {
            input: "get pods".into(),
            ..Default::default()
        };
        assert_eq!(cl.submit().as_deref(), Some("get pods"));
        cl.input = "scale sts/web --replicas=5".into();
        cl.submit();
        cl.input = "describe pod we".into();
        cl.up();
        assert_eq!(cl.input, "scale sts/web --replicas=5");
        cl.up();
        assert_eq!(cl.input, "get pods");
        cl.up();
        assert_eq!(cl.input, "get pods");
        cl.down();
        cl.down();
        assert_eq!(cl.input, "describe pod we");
        assert_eq!(cl.history.len(), 2);
    }

    #[test]
    fn a_blank_line_runs_nothing_and_a_repeat_is_kept_once() {
        let mut cl = CommandLine {
            input: "  ".into(),
            ..Default::default()
        };
        assert_eq!(cl.submit(), None);
        cl.input = "get pods".into();
        cl.submit();
        cl.input = "get pods".into();
        cl.submit();
        assert_eq!(cl.history, vec!["get pods"]);
    }
}
