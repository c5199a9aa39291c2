//! The `explore` subcommand: flags, a progress bar on a terminal, the
//! summary table, the shrunk scenarios written to `--out`, the exit code.

use super::coverage::Fact;
use super::fault::{Fault, FaultKind};
use super::{Campaign, Options, Property, Report};
use crate::scenario;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// `statefulset-sim explore SCENARIO [flags]`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExploreArgs {
    /// The scenario to break (.ron).
    pub scenario: PathBuf,
    /// How many runs.
    #[arg(long, default_value_t = 200)]
    pub runs: u32,
    /// The first run's seed; run i uses SEED + i (printed for each failure,
    /// so `--seed S --runs 1` replays one run).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The fault kinds to draw from, comma-separated (default: all).
    #[arg(long, value_delimiter = ',', value_name = "KIND,...")]
    pub faults: Option<Vec<String>>,
    /// At most this many faults per run.
    #[arg(long, default_value_t = 6, value_name = "K")]
    pub max_faults: usize,
    /// Faults fall within this many simulated seconds after the scenario's
    /// own steps.
    #[arg(long, default_value_t = 1800.0, value_name = "SECONDS")]
    pub until: f64,
    /// Where to write the shrunk scenarios.
    #[arg(long, default_value = "explore-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Use only the scenario's cluster and workloads, not its steps.
    #[arg(long)]
    pub cluster_only: bool,
    /// Runs played at once (threads); default: one per core. The results
    /// are the same for any number.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Most faults per run.
const MAX_FAULTS: usize = 100;
/// Most runs per campaign.
const MAX_RUNS: u32 = 10_000_000;
/// Most worker threads.
const MAX_JOBS: usize = 256;

/// The options the flags ask for, or what is wrong with them.
pub fn options(a: &ExploreArgs) -> Result<Options, String> {
    let kinds = match &a.faults {
        None => FaultKind::ALL.to_vec(),
        Some(names) => {
            let mut kinds = Vec::new();
            for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
                let Some(k) = FaultKind::parse(n) else {
                    let all: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                    return Err(format!(
                        "--faults: unknown fault kind {n:?}; expected some of {}",
                        all.join(", ")
                    ));
                };
                if !kinds.contains(&k) {
                    kinds.push(k);
                }
            }
            if kinds.is_empty() {
                return Err("--faults: name at least one fault kind".into());
            }
            kinds
        }
    };
    if !(1..=MAX_FAULTS).contains(&a.max_faults) {
        return Err(format!(
            "--max-faults must be between 1 and {MAX_FAULTS}, got {}",
            a.max_faults
        ));
    }
    if !(1..=MAX_RUNS).contains(&a.runs) {
        return Err(format!(
            "--runs must be between 1 and {MAX_RUNS}, got {}",
            a.runs
        ));
    }
    let max_s = crate::sim::model::limits::MAX_SECONDS;
    if !(1.0..=max_s).contains(&a.until) {
        return Err(format!(
            "--until must be between 1 and {max_s} seconds, got {}",
            a.until
        ));
    }
    let jobs = match a.jobs {
        Some(n) if !(1..=MAX_JOBS).contains(&n) => {
            return Err(format!("--jobs must be between 1 and {MAX_JOBS}, got {n}"));
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    Ok(Options {
        jobs,
        runs: a.runs,
        seed: a.seed,
        kinds,
        max_faults: a.max_faults,
        until_s: a.until,
        cluster_only: a.cluster_only,
        ..Options::default()
    })
}

/// Runs the subcommand; returns the exit code: 0 no property failed, 1 a
/// failure found (its shrunk scenario written), 2 bad input.
pub fn run(a: &ExploreArgs) -> u8 {
    let opts = match options(a) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let loaded = match scenario::load_file(&a.scenario) {
        Ok(l) => l,
        Err(d) => {
            eprintln!("{d}");
            return 2;
        }
    };
    let campaign = Campaign::new(&loaded, opts);
    let bar = progress_bar(campaign.opts.runs as u64);
    let report = campaign.explore(&mut |done, failing| {
        bar.set_position(done as u64);
        if failing > 0 {
            bar.set_message(format!("{failing} failing"));
        }
    });
    bar.finish_and_clear();
    let mut out = summary(&campaign, &report);
    let mut written = Vec::new();
    if !report.findings.is_empty()
        && let Err(e) = std::fs::create_dir_all(&a.out)
    {
        eprintln!("error: cannot create {}: {e}", a.out.display());
        return 2;
    }
    for f in &report.findings {
        let stem = a
            .scenario
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().to_string());
        let path = a
            .out
            .join(format!("{stem}-{}-seed{}.ron", f.property.slug(), f.seed));
        if let Err(e) = crate::scenario::save::write_atomic(&path, &f.text) {
            eprintln!("error: {e}");
            return 2;
        }
        out.push_str(&finding_text(f, &path));
        // The file must fail the same way when replayed on its own.
        match campaign.replay(&path, f) {
            Ok(o) if o.first().is_some_and(|(p, _)| p == f.property) => {
                out.push_str("  replayed from the file: fails the same way\n")
            }
            Ok(_) => {
                out.push_str("  WARNING: replayed from the file, it does not fail the same way\n")
            }
            Err(e) => out.push_str(&format!("  WARNING: the written file does not load: {e}\n")),
        }
        written.push(path);
    }
    let _ = writeln!(std::io::stdout().lock(), "{}", out.trim_end());
    if written.is_empty() { 0 } else { 1 }
}

/// A bar on a terminal; hidden when stderr is not one (CI, pipes).
fn progress_bar(runs: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(runs);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "explore {bar:40} {pos}/{len} runs, {per_sec}, eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The end-of-campaign report: properties, fault kinds, "sometimes" facts.
pub fn summary(c: &Campaign, r: &Report) -> String {
    let kinds: Vec<&str> = c.opts.kinds.iter().map(|k| k.name()).collect();
    let mut out = format!(
        "explore {} — {} runs (seeds {}..={}), up to {} faults each within {:.0} s: {}\n",
        c.file,
        r.runs,
        c.opts.seed,
        c.opts.seed.wrapping_add(r.runs.saturating_sub(1) as u64),
        c.opts.max_faults,
        c.opts.until_s,
        kinds.join(", ")
    );
    let rate = r.runs as f64 / secs(r.run_time).max(1e-9);
    out.push_str(&format!(
        "{:.1} s, {rate:.0} runs/s; {} events, {:.1} simulated hours\n\n",
        secs(r.run_time),
        r.coverage.events,
        r.coverage.simulated_ms as f64 / 3.6e6
    ));
    out.push_str(&format!(
        "{:<44} {:>12}   {}\n",
        "PROPERTY", "FAILED RUNS", "FIRST SEED"
    ));
    for p in Property::ALL {
        if p == Property::NoAcknowledgedWriteLost && !c.base.targets.sets.iter().any(|s| s.database)
        {
            continue;
        }
        if matches!(
            p,
            Property::OneProcessPerIdentity
                | Property::VolumeOnOneNode
                | Property::ClaimKeptUnderRetain
                | Property::ControllersSettle
        ) && c.base.expects_breach
        {
            out.push_str(&format!(
                "{:<44} {:>12}\n",
                p.words(),
                "not checked (the scenario expects a breach)"
            ));
            continue;
        }
        let t = r.failed.get(&p).cloned().unwrap_or_default();
        let seed = t.first_seed.map_or(String::new(), |s| s.to_string());
        out.push_str(&format!("{:<44} {:>12}   {seed}\n", p.words(), t.runs));
    }
    out.push_str(&format!(
        "\n{:<44} {:>12}   {}\n",
        "FAULT KIND", "RUNS", "FAULTS"
    ));
    for k in &c.opts.kinds {
        let (runs, n) = r.coverage.kinds.get(k).copied().unwrap_or_default();
        out.push_str(&format!("{:<44} {runs:>12}   {n}\n", k.name()));
    }
    out.push_str(&format!(
        "\n{:<72} {:>6}\n",
        "SOMETIMES (runs in which it happened)", "RUNS"
    ));
    for f in Fact::ALL {
        let n = r.coverage.facts.get(&f).copied().unwrap_or(0);
        out.push_str(&format!("{:<72} {n:>6}\n", f.words()));
    }
    if r.findings.is_empty() {
        out.push_str("\nNo property failed.\n");
    }
    out
}

/// One fault in words: "after 30 s: PartitionNode node-a".
pub fn fault_line(f: &Fault) -> String {
    let cmd = crate::scenario::load::ron_options()
        .to_string(&f.cmd)
        .unwrap_or_default();
    // `of` is never set by the generator: leave it out.
    format!("after {:.0} s: {}", f.after_s, cmd.replace(",of:None", ""))
}

fn finding_text(f: &super::Finding, path: &std::path::Path) -> String {
    let mut out = format!(
        "\nFAILED {} (run seed {}): {}\nShrunk from {} to {} fault(s) in {} runs ({:.1} s):\n",
        f.property.words(),
        f.seed,
        f.message,
        f.original.len(),
        f.shrunk.len(),
        f.shrink_runs,
        secs(f.shrink_time)
    );
    for (i, x) in f.shrunk.iter().enumerate() {
        out.push_str(&format!("  {}. {}\n", i + 1, fault_line(x)));
    }
    out.push_str(&format!(
        "Written to {p}\n  replay: statefulset-sim {p} --headless\n",
        p = path.display()
    ));
    out
}
