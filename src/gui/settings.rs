//! The user's settings that outlive a run (today: the theme), kept in the
//! user's config directory as `statefulset-sim/settings.ron`. A missing file
//! means defaults; a bad one is a warning and defaults, never a failure.
//! Written to a temporary file and renamed, so a crash mid-write cannot
//! leave half a file.

use bevy::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The window's colours: `dark` for a dark room or a screen, `light` for a
/// projector in a lit room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeKind {
    #[default]
    Dark,
    Light,
}

impl ThemeKind {
    /// The word used by `--theme` and the settings file.
    pub fn name(self) -> &'static str {
        match self {
            ThemeKind::Dark => "dark",
            ThemeKind::Light => "light",
        }
    }

    /// Parses `--theme`'s value.
    pub fn parse(word: &str) -> Result<Self, String> {
        match word {
            "dark" => Ok(ThemeKind::Dark),
            "light" => Ok(ThemeKind::Light),
            other => Err(format!(
                "unknown theme {other:?}; expected `dark` or `light`"
            )),
        }
    }
}

/// What is remembered between runs.
#[derive(Resource, Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub theme: ThemeKind,
}

/// `$XDG_CONFIG_HOME/statefulset-sim/settings.ron`, else
/// `$HOME/.config/...` (the XDG base directory rule; on Windows
/// `%APPDATA%`). `None` when the environment names no home at all.
pub fn default_path() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        var("APPDATA")
    } else {
        var("XDG_CONFIG_HOME").or_else(|| var("HOME").map(|h| h.join(".config")))
    }?;
    Some(base.join("statefulset-sim").join("settings.ron"))
}

/// Reads the settings: defaults when there is no file; defaults and a
/// warning (to print) when the file cannot be read or understood.
pub fn load(path: &Path) -> (Settings, Option<String>) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Settings::default(), None),
        Err(e) => {
            return (
                Settings::default(),
                Some(format!(
                    "warning: cannot read {}: {e}; using defaults",
                    path.display()
                )),
            );
        }
    };
    match ron::from_str::<Settings>(&text) {
        Ok(s) => (s, None),
        Err(e) => (
            Settings::default(),
            Some(format!(
                "warning: {}:{}:{}: {}; using default settings",
                path.display(),
                e.span.start.line,
                e.span.start.col,
                e.code
            )),
        ),
    }
}

/// Writes the settings atomically: a temporary file beside it, then a rename.
pub fn save(path: &Path, s: &Settings) -> Result<(), String> {
    let text = ron::ser::to_string_pretty(s, ron::ser::PrettyConfig::default())
        .map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    crate::scenario::save::write_atomic(path, text + "\n")
}

/// Where the settings live this run (none: nothing is remembered).
#[derive(Resource, Debug, Clone, Default)]
pub struct SettingsFile(pub Option<PathBuf>);

impl SettingsFile {
    /// Saves, printing a warning when that fails: losing a preference is
    /// no reason to stop a lesson.
    pub fn store(&self, s: &Settings) {
        if let Some(p) = &self.0
            && let Err(e) = save(p, s)
        {
            eprintln!("warning: cannot save settings: {e}");
        }
    }
}

/// This run's settings: the remembered ones (a warning printed if they
/// cannot be read), with `--theme` over them for this run only.
pub fn for_this_run(theme: Option<ThemeKind>) -> (Settings, SettingsFile) {
    let file = SettingsFile(default_path());
    let (mut s, warning) = match &file.0 {
        Some(p) => load(p),
        None => (Settings::default(), None),
    };
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    if let Some(t) = theme {
        s.theme = t;
    }
    (s, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ss-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn the_theme_is_remembered_between_runs() {
        let p = temp_dir("roundtrip").join("statefulset-sim/settings.ron");
        assert_eq!(load(&p), (Settings::default(), None));
        let s = Settings {
            theme: ThemeKind::Light,
        };
        save(&p, &s).unwrap();
        assert_eq!(load(&p), (s, None));
        assert!(!p.with_extension("ron.tmp").exists());
    }

    #[test]
    fn a_bad_settings_file_is_a_warning_and_defaults() {
        let d = temp_dir("bad");
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("settings.ron");
        std::fs::write(&p, "(theme: \"purple\")").unwrap();
        let (s, warning) = load(&p);
        assert_eq!(s, Settings::default());
        let w = warning.unwrap();
        assert!(
            w.starts_with("warning: ") && w.contains("settings.ron:1:"),
            "{w}"
        );
    }

    #[test]
    fn the_theme_flag_takes_dark_or_light_only() {
        assert_eq!(ThemeKind::parse("light"), Ok(ThemeKind::Light));
        assert_eq!(ThemeKind::parse("dark"), Ok(ThemeKind::Dark));
        assert!(
            ThemeKind::parse("blue")
                .unwrap_err()
                .contains("`dark` or `light`")
        );
    }
}
