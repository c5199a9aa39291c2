//! "Export SVG…" (the timeline panel and the File menu): the swimlane
//! diagram of the run on screen, as `statefulset-sim timeline` draws it from
//! an event log, written to a file the user can edit before saving (a name
//! after the lesson and branch, in the folder the program was started
//! from), with a confirmation in plain words.

use crate::gui::host::SimHost;
use crate::sim::event::EventLog;
use bevy_egui::egui;
use std::path::{Path, PathBuf};

/// The "Export SVG…" window's state.
#[derive(Debug, Default)]
pub struct Export {
    /// Open, with the path typed so far.
    pub path: Option<String>,
    /// The outcome of the last export, shown under the path.
    pub result: Option<Result<String, String>>,
}

/// Letters and digits kept, anything else one '-'.
fn slug(text: &str) -> String {
    let s: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s = s
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    s.chars()
        .take(40)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// The default file: the lesson's name, the branch's when it is not the
/// main one, in the current folder ("08-node-failure-timeline.svg").
pub fn default_path(host: &SimHost) -> String {
    let stem = Path::new(&host.file)
        .file_stem()
        .map_or("scenario".into(), |s| slug(&s.to_string_lossy()));
    let stem = if stem.is_empty() {
        "scenario".into()
    } else {
        stem
    };
    if host.branches.current == 0 {
        format!("{stem}-timeline.svg")
    } else {
        format!(
            "{stem}-{}-timeline.svg",
            slug(&host.branches.current().name)
        )
    }
}

/// Opens the window with the default path.
pub fn open(host: &SimHost, st: &mut Export) {
    st.path = Some(default_path(host));
    st.result = None;
}

/// Writes the timeline SVG of the branch on screen (its events up to now)
/// to `path`; returns the confirmation to show.
pub fn export_svg(host: &SimHost, path: &Path) -> Result<String, String> {
    if path.as_os_str().is_empty() {
        return Err("Type a file name first.".into());
    }
    let log = host.world.resource::<EventLog>();
    let branch = &host.branches.current().name;
    let title = format!(
        "{} ({branch}, up to {})",
        host.name,
        crate::sim::units::clock(host.now_ms())
    );
    let svg = crate::timeline::render_jsonl(&log.to_jsonl(), &title)
        .map_err(|e| format!("Could not draw the timeline: {}", e.message))?;
    crate::timeline::write_atomically(path, &svg)
        .map_err(|e| format!("Could not write {}: {e}.", path.display()))?;
    let shown = std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| PathBuf::from(path));
    Ok(format!(
        "Saved the timeline ({} events, up to {}) to {}. Open it in a web browser or put it on a slide.",
        log.events.len(),
        crate::sim::units::clock(host.now_ms()),
        shown.display()
    ))
}

/// The small button at the timeline's left; true when clicked.
pub fn button(ui: &mut egui::Ui) -> bool {
    ui.button("Export SVG…")
        .on_hover_text("Save this timeline as a diagram (SVG) for slides and incident reviews")
        .clicked()
}

/// The "Export SVG…" window.
pub fn window(ctx: &egui::Context, host: &SimHost, st: &mut Export) {
    let Some(path) = &mut st.path else {
        return;
    };
    let about = format!(
        "A swimlane diagram of \"{}\" on branch \"{}\", from the start to now: one lane per node, pod and volume.",
        host.name,
        host.branches.current().name
    );
    let asked = super::save_dialog::show(
        ctx,
        "Export the timeline as SVG",
        &about,
        path,
        st.result.as_ref(),
    );
    if let Some(p) = asked.save {
        st.result = Some(export_svg(host, &p));
    }
    if !asked.open {
        st.path = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson8() -> SimHost {
        let l = crate::scenario::load_file(Path::new("scenarios/08-node-failure.ron")).unwrap();
        SimHost::new(l, None)
    }

    #[test]
    fn the_exported_timeline_is_named_after_the_lesson_and_branch() {
        let mut host = lesson8();
        assert_eq!(default_path(&host), "08-node-failure-timeline.svg");
        host.branches.list[0].name = "Force-delete pod web-1 at 6m40.0s".into();
        host.branches.list.push(host.branches.list[0].clone());
        host.branches.current = 1;
        assert_eq!(
            default_path(&host),
            "08-node-failure-force-delete-pod-web-1-at-6m40-0s-timeline.svg"
        );
    }

    #[test]
    fn export_svg_writes_the_timeline_of_the_run_on_screen_and_says_where() {
        let mut host = lesson8();
        while host.advance(300_000, false) == crate::sim::Advance::Paused {
            host.answer();
        }
        let dir = std::env::temp_dir().join(format!("sts-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("t.svg");
        let msg = export_svg(&host, &out).unwrap();
        assert!(msg.starts_with("Saved the timeline ("), "{msg}");
        assert!(
            msg.contains("up to 5m") && msg.contains(&out.display().to_string()),
            "{msg}"
        );
        let svg = std::fs::read_to_string(&out).unwrap();
        roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
        // The pods and nodes of the run have lanes; the title names the
        // lesson and the instant.
        assert!(
            svg.contains("web-1") && svg.contains("8. Node failure"),
            "no lanes or title"
        );
        assert!(!dir.join("t.svg.partial").exists());
        let err = export_svg(&host, &dir.join("no-such-folder/t.svg")).unwrap_err();
        assert!(err.starts_with("Could not write "), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
