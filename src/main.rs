//! The `statefulset-sim` command line: parse arguments, pick the GUI or the
//! headless runner, run.

use clap::{Parser, Subcommand};

/// println! that does not panic when stdout is closed early (`| head`).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}
use statefulset_sim::headless;
use statefulset_sim::scenario::{self, Loaded};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Simulate and see how Kubernetes StatefulSets behave.
#[derive(Parser, Debug)]
#[command(
    name = "statefulset-sim",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// A scenario file (.ron). Without one, the GUI opens the built-in lesson.
    scenario: Option<PathBuf>,
    /// Run without a window and report.
    #[arg(long)]
    headless: bool,
    /// Override the scenario's random seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop at this simulated second.
    #[arg(long, value_name = "SECONDS")]
    until: Option<f64>,
    /// Write the event log (JSON Lines) here.
    #[arg(long, value_name = "FILE")]
    events_out: Option<PathBuf>,
    /// Write the final state snapshot (JSON) here.
    #[arg(long, value_name = "FILE")]
    state_out: Option<PathBuf>,
    /// GUI: run to `--at` simulated seconds, save a PNG of the window, exit.
    #[arg(long, value_name = "OUT.png")]
    screenshot: Option<PathBuf>,
    /// With --screenshot: the simulated second to capture.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    at: f64,
    /// GUI: print frame time statistics on exit.
    #[arg(long)]
    fps: bool,
    /// GUI: scale of the whole interface (projectors: 1.5 or 2).
    #[arg(long, value_name = "FACTOR")]
    ui_scale: Option<f32>,
    /// GUI: exit after this many wall-clock seconds (benchmarks, CI).
    #[arg(long, value_name = "SECONDS")]
    quit_after: Option<f64>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Parse and validate scenario files only.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the lessons in a folder (default: scenarios/) with their summaries.
    List { dir: Option<PathBuf> },
    /// Seeded fault campaigns on a scenario: find, shrink and save what breaks.
    Explore(statefulset_sim::explore::cli::ExploreArgs),
}

fn load(path: &Path) -> Result<Loaded, ExitCode> {
    scenario::load_file(path).map_err(|d| {
        eprintln!("{d}");
        ExitCode::from(2)
    })
}

fn seconds_to_ms(s: f64, what: &str) -> Result<u64, ExitCode> {
    if !(0.0..=statefulset_sim::sim::model::limits::MAX_SECONDS).contains(&s) {
        eprintln!(
            "error: {what} must be between 0 and {} seconds, got {s}",
            statefulset_sim::sim::model::limits::MAX_SECONDS
        );
        return Err(ExitCode::from(2));
    }
    Ok(statefulset_sim::sim::units::secs_to_ms(s))
}

/// Writes a file without ever clobbering the scenario it came from.
fn write_out(path: &Path, input: &Path, text: &str) -> Result<(), ExitCode> {
    if let (Ok(a), Ok(b)) = (path.canonicalize(), input.canonicalize())
        && a == b
    {
        eprintln!(
            "error: refusing to overwrite the scenario file {} with output",
            input.display()
        );
        return Err(ExitCode::from(2));
    }
    std::fs::write(path, text).map_err(|e| {
        eprintln!("error: cannot write {}: {e}", path.display());
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(c) | Err(c) => c,
    }
}

fn run(cli: Cli) -> Result<ExitCode, ExitCode> {
    match &cli.command {
        Some(Cmd::Check { files }) => {
            let mut bad = 0;
            for f in files {
                match scenario::load_file(f) {
                    Ok(l) => out!(
                        "{}: ok ({}, {} steps)",
                        f.display(),
                        l.scenario.name,
                        l.scenario.steps.len()
                    ),
                    Err(d) => {
                        eprintln!("{d}");
                        bad += 1;
                    }
                }
            }
            return Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            });
        }
        Some(Cmd::List { dir }) => {
            let dir = dir.clone().unwrap_or_else(|| PathBuf::from("scenarios"));
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| {
                    eprintln!("error: cannot read {}: {e}", dir.display());
                    ExitCode::from(2)
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "ron"))
                .collect();
            files.sort();
            for f in files {
                match scenario::load_file(&f) {
                    Ok(l) => out!(
                        "{:<40} {}\n{:<40} {}",
                        f.display(),
                        l.scenario.name,
                        "",
                        l.scenario.summary
                    ),
                    Err(d) => out!("{:<40} (invalid: {})", f.display(), d.message),
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Some(Cmd::Explore(a)) => return Ok(ExitCode::from(statefulset_sim::explore::cli::run(a))),
        None => {}
    }
    if cli.headless {
        let Some(path) = &cli.scenario else {
            eprintln!("error: --headless needs a scenario file");
            return Err(ExitCode::from(2));
        };
        let loaded = load(path)?;
        let until = cli.until.map(|u| seconds_to_ms(u, "--until")).transpose()?;
        let mut run = headless::run(loaded, cli.seed, until);
        if let Some(out) = &cli.events_out {
            write_out(out, path, &run.events_jsonl())?;
        }
        if let Some(out) = &cli.state_out {
            let json = run.snapshot_json();
            write_out(out, path, &json)?;
        }
        out!("{}", headless::summary(&mut run).trim_end());
        return Ok(ExitCode::from(run.exit_code() as u8));
    }
    gui(cli)
}

#[cfg(feature = "gui")]
fn gui(cli: Cli) -> Result<ExitCode, ExitCode> {
    let loaded = match &cli.scenario {
        Some(p) => load(p)?,
        None => statefulset_sim::scenario::built_in_lesson(),
    };
    let at = seconds_to_ms(cli.at, "--at")?;
    let opts = statefulset_sim::gui::GuiOptions {
        seed: cli.seed,
        screenshot: cli.screenshot.clone(),
        screenshot_at_ms: at,
        fps: cli.fps,
        ui_scale: cli.ui_scale.unwrap_or(1.0).clamp(0.5, 4.0),
        quit_after_s: cli.quit_after,
    };
    Ok(ExitCode::from(statefulset_sim::run_gui(loaded, opts) as u8))
}

#[cfg(not(feature = "gui"))]
fn gui(_cli: Cli) -> Result<ExitCode, ExitCode> {
    eprintln!("error: this build has no GUI (built without the `gui` feature); use --headless");
    Err(ExitCode::from(2))
}
