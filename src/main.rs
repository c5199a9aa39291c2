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

/// mimalloc, not the system allocator: explore campaigns are mostly small
/// allocations (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// A scenario file (.ron), or Kubernetes manifests (.yaml files or a
    /// folder). Without one, the GUI opens the built-in lesson.
    scenario: Option<PathBuf>,
    /// More manifest files or folders.
    #[arg(value_name = "MORE")]
    more: Vec<PathBuf>,
    /// With manifests that declare no Node: this many nodes (default 3).
    #[arg(long, value_name = "N")]
    nodes: Option<u32>,
    /// With manifests that declare no Node: spread over this many zones (default 3).
    #[arg(long, value_name = "Z")]
    zones: Option<u32>,
    /// The --state-out format: `json` (the snapshot) or `k8s` (API objects).
    #[arg(long, value_name = "FORMAT", default_value = "json")]
    format: String,
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
    /// An earlier instant of the run: with --screenshot, the simulated second
    /// to capture (default 30); with --headless, the instant --state-out
    /// snapshots (the run still goes on to its end or --until).
    #[arg(long, value_name = "SECONDS")]
    at: Option<f64>,
    /// GUI: with --quit-after, print frame time statistics on exit, with
    /// an empty window's (measured first, for 8 s) and the ratio.
    #[arg(long)]
    fps: bool,
    /// The empty window --fps measures against (run by --fps itself).
    #[arg(long, hide = true)]
    fps_empty: bool,
    /// GUI: scale of the whole interface (projectors: 1.5 or 2).
    #[arg(long, value_name = "FACTOR")]
    ui_scale: Option<f32>,
    /// GUI: start a what-if branch from main, doing COMMAND (as written in
    /// a scenario's `do:`) at SECONDS, as a click would. Repeatable.
    #[arg(long, value_name = "SECONDS:COMMAND")]
    act: Vec<String>,
    /// GUI: open the compare view (the last branch against main).
    #[arg(long)]
    compare: bool,
    /// GUI: presentation mode: the cluster fills the (fullscreen) window, a
    /// large strip carries the caption or question; `p` toggles it.
    #[arg(long)]
    present: bool,
    /// GUI: exit after this many wall-clock seconds (benchmarks, CI).
    #[arg(long, value_name = "SECONDS")]
    quit_after: Option<f64>,
    /// GUI: colours for this run: `dark` or `light` (projectors in a lit
    /// room). Without it, the theme last chosen in the View menu.
    #[arg(long, value_name = "dark|light")]
    theme: Option<String>,
    /// GUI: play the lesson and write a lecture deck into DIR: a PNG of
    /// the window at each question and after each answer, and index.md.
    #[arg(long, value_name = "DIR")]
    slides: Option<PathBuf>,
    /// GUI: record the window to an animated GIF, at a steady 10 frames a
    /// second, from --from to --to (simulated seconds) at --speed.
    #[arg(long, value_name = "OUT.gif")]
    record: Option<PathBuf>,
    /// With --record: the simulated second to start at (default 0).
    #[arg(long, value_name = "SECONDS")]
    from: Option<f64>,
    /// With --record: the simulated second to stop at (default: the
    /// lesson's end, or when the window is closed).
    #[arg(long, value_name = "SECONDS")]
    to: Option<f64>,
    /// GUI: simulated seconds per second, at the start; with --record, of
    /// the animation (default 10).
    #[arg(long, value_name = "X")]
    speed: Option<f64>,
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
    /// Run kubectl commands from stdin, one per line, against a scenario or manifests.
    Shell {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long, value_name = "N")]
        nodes: Option<u32>,
        #[arg(long, value_name = "Z")]
        zones: Option<u32>,
    },
    /// Write the RON scenario equivalent to Kubernetes manifests (steps empty).
    Import {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The scenario file to write (default: stdout).
        #[arg(short, long, value_name = "FILE.ron")]
        output: Option<PathBuf>,
        #[arg(long, value_name = "N")]
        nodes: Option<u32>,
        #[arg(long, value_name = "Z")]
        zones: Option<u32>,
    },
    /// Seeded fault campaigns on a scenario: find, shrink and save what breaks.
    Explore(statefulset_sim::explore::cli::ExploreArgs),
    /// Play two scenarios headless; print where their event logs first
    /// diverge and an outcome table. Exit 0: same, 1: diverged, 2: bad input.
    Diff {
        a: PathBuf,
        b: PathBuf,
        /// Override both scenarios' random seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Stop both at this simulated second.
        #[arg(long, value_name = "SECONDS")]
        until: Option<f64>,
    },
    /// Draw an event log as a swimlane diagram (SVG, for slides and reviews).
    Timeline(statefulset_sim::timeline::TimelineArgs),
    /// Write each lesson's student handout and answer key (Markdown) and a
    /// Moodle quiz of all their questions (GIFT) into a folder.
    Handout(statefulset_sim::handout::HandoutArgs),
}

fn load(cli: &Cli, path: &Path) -> Result<Loaded, ExitCode> {
    let mut paths = vec![path.to_path_buf()];
    paths.extend(cli.more.iter().cloned());
    statefulset_sim::shell::load_cli(&paths, cli.nodes, cli.zones).map_err(ExitCode::from)
}

/// Loads one scenario or manifest file with the default cluster size.
fn load_one(path: &Path) -> Result<Loaded, ExitCode> {
    statefulset_sim::shell::load_cli(&[path.to_path_buf()], None, None).map_err(ExitCode::from)
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

/// Refuses an output path that is the scenario file itself.
fn refuse_clobber(path: &Path, input: &Path) -> Result<(), ExitCode> {
    if let (Ok(a), Ok(b)) = (path.canonicalize(), input.canonicalize())
        && a == b
    {
        eprintln!(
            "error: refusing to overwrite the scenario file {} with output",
            input.display()
        );
        return Err(ExitCode::from(2));
    }
    Ok(())
}

/// Writes a file without ever clobbering the scenario it came from.
fn write_out(path: &Path, input: &Path, text: &str) -> Result<(), ExitCode> {
    refuse_clobber(path, input)?;
    statefulset_sim::scenario::save::write_atomic(path, text).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

/// A headless run whose event log streams to `out` as it goes (through a
/// temporary file beside it, renamed when the run ends, so a failed run never
/// leaves a half-written log in the place of an earlier one).
fn run_streaming(
    loaded: Loaded,
    seed: Option<u64>,
    until: Option<u64>,
    at: Option<u64>,
    out: &Path,
    input: &Path,
) -> Result<headless::Run, ExitCode> {
    refuse_clobber(out, input)?;
    let fail = |e: std::io::Error| {
        eprintln!("error: cannot write {}: {e}", out.display());
        ExitCode::from(2)
    };
    // `--events-out /dev/null` (or a FIFO) is written to, never replaced.
    let dest = statefulset_sim::scenario::save::Destination::of(out);
    let tmp = dest.staging(statefulset_sim::scenario::save::partial);
    let file = std::fs::File::create(&tmp).map_err(fail)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
    let output = headless::Output {
        events: Some(&mut w),
        progress: true,
        at_ms: at,
        observe: None,
    };
    let run = headless::run_with(loaded, seed, until, output).map_err(fail)?;
    use std::io::Write;
    w.flush().map_err(fail)?;
    drop(w);
    dest.commit(&tmp).map_err(fail)?;
    Ok(run)
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
        Some(Cmd::Shell {
            inputs,
            nodes,
            zones,
        }) => {
            return Ok(ExitCode::from(statefulset_sim::shell::cli(
                inputs, *nodes, *zones,
            )));
        }
        Some(Cmd::Import {
            inputs,
            output,
            nodes,
            zones,
        }) => {
            let code = statefulset_sim::shell::import(inputs, output.as_deref(), *nodes, *zones);
            return Ok(ExitCode::from(code));
        }
        Some(Cmd::Explore(a)) => return Ok(ExitCode::from(statefulset_sim::explore::cli::run(a))),
        Some(Cmd::Timeline(a)) => return Ok(ExitCode::from(statefulset_sim::timeline::cli(a))),
        Some(Cmd::Handout(a)) => return Ok(ExitCode::from(statefulset_sim::handout::cli(a))),
        Some(Cmd::Diff { a, b, seed, until }) => {
            let until = until.map(|u| seconds_to_ms(u, "--until")).transpose()?;
            let (la, lb) = (load_one(a)?, load_one(b)?);
            let (text, diverged) = statefulset_sim::diff::report(
                &statefulset_sim::diff::play(la, *seed, until),
                &statefulset_sim::diff::play(lb, *seed, until),
            );
            out!("{}", text.trim_end());
            return Ok(ExitCode::from(diverged as u8));
        }
        None => {}
    }
    if cli.headless {
        let Some(path) = &cli.scenario else {
            eprintln!("error: --headless needs a scenario file");
            return Err(ExitCode::from(2));
        };
        let loaded = load(&cli, path)?;
        let until = cli.until.map(|u| seconds_to_ms(u, "--until")).transpose()?;
        let at = cli.at.map(|a| seconds_to_ms(a, "--at")).transpose()?;
        if let (Some(a), Some(u)) = (at, until)
            && a > u
        {
            eprintln!("error: --at must not be after --until");
            return Err(ExitCode::from(2));
        }
        let mut run = match &cli.events_out {
            Some(out) => run_streaming(loaded, cli.seed, until, at, out, path)?,
            None => headless::run_with(
                loaded,
                cli.seed,
                until,
                headless::Output {
                    progress: true,
                    at_ms: at,
                    ..Default::default()
                },
            )
            .map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::from(2)
            })?,
        };
        let at_state = run.at_state.take();
        if let Some(out) = &cli.state_out {
            let json = match (at, at_state) {
                (None, _) => statefulset_sim::shell::state_out(&mut run, &cli.format)
                    .map_err(ExitCode::from)?,
                (Some(_), _) if cli.format != "json" => {
                    eprintln!(
                        "error: --at writes the simulator's own snapshot: use it with --format json"
                    );
                    return Err(ExitCode::from(2));
                }
                (Some(_), Some(json)) => json,
                (Some(a), None) => {
                    eprintln!(
                        "error: --at {}: the run ended at {:.3} s, before that instant",
                        a as f64 / 1000.0,
                        run.now_ms() as f64 / 1000.0
                    );
                    return Err(ExitCode::from(2));
                }
            };
            write_out(out, path, &json)?;
        }
        out!("{}", headless::summary(&mut run).trim_end());
        let code = ExitCode::from(run.exit_code() as u8);
        // The process ends here: the system takes the world back at once,
        // where dropping it object by object took 0.15 s at 10,000 replicas.
        std::mem::forget(run);
        return Ok(code);
    }
    gui(cli)
}

#[cfg(feature = "gui")]
fn gui(cli: Cli) -> Result<ExitCode, ExitCode> {
    use statefulset_sim::gui::fps;
    if cli.fps_empty {
        let code = fps::run_empty(cli.quit_after.unwrap_or(fps::EMPTY_S));
        return Ok(ExitCode::from(code as u8));
    }
    let loaded = match &cli.scenario {
        Some(p) => load(&cli, p)?,
        None => statefulset_sim::scenario::built_in_lesson(),
    };
    let at = seconds_to_ms(cli.at.unwrap_or(30.0), "--at")?;
    if let Some(s) = cli.speed
        && !(s.is_finite() && (0.01..=10_000.0).contains(&s))
    {
        eprintln!("error: --speed must be between 0.01 and 10000, got {s}");
        return Err(ExitCode::from(2));
    }
    let record = record_plan(&cli)?;
    let open_at_ms = match (&cli.screenshot, cli.at, &record) {
        (_, _, Some((_, plan))) => Some(plan.from_ms),
        (None, Some(a), _) => Some(seconds_to_ms(a, "--at")?),
        _ => None,
    };
    let play_to_ms = cli.until.map(|u| seconds_to_ms(u, "--until")).transpose()?;
    if let Some(d) = &cli.slides
        && let Err(e) = std::fs::create_dir_all(d)
    {
        eprintln!("error: --slides: cannot create {}: {e}", d.display());
        return Err(ExitCode::from(2));
    }
    let mut acts = Vec::new();
    for a in &cli.act {
        acts.push(parse_act(a)?);
    }
    let opts = statefulset_sim::gui::GuiOptions {
        seed: cli.seed,
        screenshot: cli.screenshot.clone(),
        screenshot_at_ms: at,
        fps: cli.fps,
        ui_scale: cli.ui_scale.unwrap_or(1.0).clamp(0.5, 4.0),
        quit_after_s: cli.quit_after,
        play_to_ms,
        open_at_ms,
        acts,
        compare: cli.compare,
        slides: cli.slides.clone(),
        fps_empty_ms: if cli.fps && cli.quit_after.is_some() {
            fps::measure_empty_window()
                .inspect_err(|e| eprintln!("warning: --fps: {e}"))
                .ok()
        } else {
            None
        },
        record,
        speed: cli.speed,
        theme: cli
            .theme
            .as_deref()
            .map(statefulset_sim::gui::settings::ThemeKind::parse)
            .transpose()
            .map_err(|e| {
                eprintln!("error: --theme: {e}");
                ExitCode::from(2)
            })?,
        present: cli.present,
    };
    Ok(ExitCode::from(statefulset_sim::run_gui(loaded, opts) as u8))
}

/// `--record OUT.gif` with `--from`, `--to`, `--speed`, checked.
#[cfg(feature = "gui")]
fn record_plan(
    cli: &Cli,
) -> Result<Option<(PathBuf, statefulset_sim::gui::record::RecordPlan)>, ExitCode> {
    let bad = |why: String| {
        eprintln!("error: {why}");
        ExitCode::from(2)
    };
    let Some(out) = &cli.record else {
        if cli.from.is_some() || cli.to.is_some() {
            return Err(bad(
                "--from and --to choose what --record records; give --record OUT.gif".into(),
            ));
        }
        return Ok(None);
    };
    if !out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gif"))
    {
        return Err(bad(format!(
            "--record {}: only animated GIF is written; name the file OUT.gif",
            out.display()
        )));
    }
    if cli.screenshot.is_some() || cli.slides.is_some() || cli.at.is_some() {
        return Err(bad(
            "--record cannot be combined with --screenshot, --slides or --at (use --from)".into(),
        ));
    }
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(d) = dir
        && !d.is_dir()
    {
        return Err(bad(format!("--record: there is no folder {}", d.display())));
    }
    let from = seconds_to_ms(cli.from.unwrap_or(0.0), "--from")?;
    let to = cli.to.map(|t| seconds_to_ms(t, "--to")).transpose()?;
    let speed = cli
        .speed
        .unwrap_or(statefulset_sim::gui::record::DEFAULT_SPEED);
    let plan = statefulset_sim::gui::record::RecordPlan::new(from, to, speed).map_err(bad)?;
    Ok(Some((out.clone(), plan)))
}

/// `--act 400:ForceDeletePod(pod: "web-1")`: an instant and a command.
#[cfg(feature = "gui")]
fn parse_act(text: &str) -> Result<(u64, statefulset_sim::sim::SimCommand), ExitCode> {
    let bad = |why: String| {
        eprintln!(
            "error: --act {text}: {why}; expected SECONDS:COMMAND, e.g. 400:ForceDeletePod(pod: \"web-1\")"
        );
        ExitCode::from(2)
    };
    let (secs, cmd) = text
        .split_once(':')
        .ok_or_else(|| bad("no ':' after the seconds".into()))?;
    let secs: f64 = secs
        .trim()
        .parse()
        .map_err(|_| bad(format!("{secs:?} is not a number of seconds")))?;
    let t = seconds_to_ms(secs, "--act")?;
    let cmd = statefulset_sim::scenario::load::ron_options()
        .from_str(cmd)
        .map_err(|e| bad(format!("not a command: {}", e.code)))?;
    Ok((t, cmd))
}

#[cfg(not(feature = "gui"))]
fn gui(_cli: Cli) -> Result<ExitCode, ExitCode> {
    eprintln!("error: this build has no GUI (built without the `gui` feature); use --headless");
    Err(ExitCode::from(2))
}
