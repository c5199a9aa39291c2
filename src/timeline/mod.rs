//! `statefulset-sim timeline EVENTS.jsonl -o OUT.svg`: a swimlane diagram of
//! a run's event log, headless, as standalone SVG sized for a slide (the
//! picture for an incident review). Reads the log (parse.rs), works out
//! lanes, bars, spans and markers (model.rs), draws them (svg.rs).

pub mod model;
pub mod parse;
pub mod svg;

use std::path::{Path, PathBuf};

/// Renders a whole event log (JSON Lines) as SVG; `title` names it.
pub fn render_jsonl(text: &str, title: &str) -> Result<String, parse::ParseError> {
    let lines = parse::parse(text)?;
    Ok(svg::render(&model::build(&lines), title))
}

/// The `timeline` subcommand's arguments.
#[derive(clap::Args, Debug)]
pub struct TimelineArgs {
    /// An event log, as `--events-out` writes it (JSON Lines).
    pub events: PathBuf,
    /// Where to write the SVG.
    #[arg(short = 'o', long = "out", value_name = "OUT.svg")]
    pub out: PathBuf,
}

/// Runs the subcommand; returns the exit code: 0, or 2 on bad input or a
/// file that cannot be read or written (said on stderr).
pub fn cli(args: &TimelineArgs) -> u8 {
    match render_file(&args.events, &args.out) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("{msg}");
            2
        }
    }
}

/// Reads `input`, writes the SVG to `out` through a temporary file beside
/// it (renamed when complete, so a failure never leaves half a file).
pub fn render_file(input: &Path, out: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(input)
        .map_err(|e| format!("error: cannot read {}: {e}", input.display()))?;
    let title = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let svg = render_jsonl(&text, &title).map_err(|e| {
        format!(
            "{}:{}:{}: error: {}",
            input.display(),
            e.line,
            e.col,
            e.message
        )
    })?;
    crate::scenario::save::write_atomic(out, &svg).map_err(|e| format!("error: {e}"))
}

/// Writes `text` to `out` atomically (a temporary file beside it, renamed
/// when complete), as every user file is written: the GUI's "Export SVG…".
pub fn write_atomically(out: &Path, text: &str) -> Result<(), String> {
    crate::scenario::save::write_atomic(out, text)
}
