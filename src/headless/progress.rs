//! The headless runner's progress bar: simulated time reached and events per
//! second, on stderr, for runs that take more than a second on a terminal.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// A run shorter than this shows no bar at all.
const SHOW_AFTER: Duration = Duration::from_secs(1);
/// How often the bar's text is redrawn.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// The bar of one run; inert when not asked for or stderr is not a terminal.
pub struct Progress {
    enabled: bool,
    start: Instant,
    last: Instant,
    /// The simulated instant the run stops at (`--until`), if known.
    until_ms: Option<u64>,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(asked: bool, until_ms: Option<u64>) -> Self {
        let now = Instant::now();
        Progress {
            enabled: asked && std::io::stderr().is_terminal(),
            start: now,
            last: now,
            until_ms,
            bar: None,
        }
    }

    /// Called after each simulated instant: `now_ms` reached, `events` so far.
    pub fn tick(&mut self, now_ms: u64, events: usize) {
        if !self.enabled {
            return;
        }
        let t = Instant::now();
        if t.duration_since(self.last) < REDRAW_EVERY {
            return;
        }
        self.last = t;
        let elapsed = t.duration_since(self.start);
        if elapsed < SHOW_AFTER {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| new_bar(self.until_ms));
        bar.set_position(now_ms / 1000);
        bar.set_message(message(now_ms, events, elapsed));
    }

    /// Clears the bar (the summary follows on stdout).
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn new_bar(until_ms: Option<u64>) -> ProgressBar {
    match until_ms {
        Some(u) => {
            let bar = ProgressBar::new(u / 1000);
            let style = ProgressStyle::with_template("{bar:30} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar
        }
    }
}

/// "simulated 1h23m05s, 120000 events, 45000 events/s".
fn message(now_ms: u64, events: usize, elapsed: Duration) -> String {
    let rate = events as f64 / elapsed.as_secs_f64().max(1e-9);
    format!(
        "simulated {}, {events} events, {rate:.0} events/s",
        crate::sim::units::clock(now_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_simulated_time_and_event_rate() {
        let m = message(3_723_000, 90_000, Duration::from_secs(2));
        assert!(m.contains("45000 events/s"), "{m}");
        assert!(m.contains("90000 events"), "{m}");
        assert!(m.starts_with("simulated "), "{m}");
    }

    #[test]
    fn no_bar_when_not_asked() {
        let mut p = Progress::new(false, None);
        p.tick(1000, 10);
        assert!(p.bar.is_none());
    }
}
