//! The "save to a file" window shared by "Save branch as…" and "Export
//! SVG…": what will be written, a path field (Enter or Save), and the last
//! save's outcome in the theme's good or bad colour.

use bevy_egui::egui;

/// What the user did with the window this frame.
pub struct Asked {
    /// Save to this path (Enter in the field, or the Save button).
    pub save: Option<std::path::PathBuf>,
    /// The window is still open (its close button not pressed).
    pub open: bool,
}

/// Shows the window: `about` says what will be saved; `path` is the field,
/// kept between frames so nothing typed is lost; `outcome` the last save's
/// message.
pub fn show(
    ctx: &egui::Context,
    title: &str,
    about: &str,
    path: &mut String,
    outcome: Option<&Result<String, String>>,
) -> Asked {
    let mut open = true;
    let mut save = false;
    egui::Window::new(title)
        .open(&mut open)
        .collapsible(false)
        .show(ctx, |ui| {
            ui.label(about);
            ui.horizontal(|ui| {
                ui.label("file");
                let r = ui.add(egui::TextEdit::singleline(path).desired_width(420.0));
                if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    save = true;
                }
                if ui.button("Save").clicked() {
                    save = true;
                }
            });
            let th = super::theme::of(ui.ctx());
            let (text, colour) = match outcome {
                Some(Ok(m)) => (m, th.good),
                Some(Err(m)) => (m, th.bad),
                None => return,
            };
            ui.label(egui::RichText::new(text).color(super::theme::c32(colour)));
        });
    Asked {
        save: save.then(|| std::path::PathBuf::from(path.trim())),
        open,
    }
}
