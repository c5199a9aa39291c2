//! Units: the one place simulated time is converted and written for people.
//! Seconds from scenario files become integer milliseconds here, and
//! milliseconds become text here, in one of three forms, each for a reason:
//! `duration` (a countdown or how long a state has lasted, in event reasons
//! and captions), `age` (kubectl's AGE column) and `clock` (the simulated
//! time of day, to a tenth of a second).

/// Converts non-negative seconds to integer milliseconds (rounded); anything
/// else (negative, NaN, infinite) is 0.
pub fn secs_to_ms(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1000.0).round() as u64
    } else {
        0
    }
}

/// How long something lasts or is left: "45s", "5m07s". Rounded *up* to the
/// second, so a countdown shows "1s" until it is over, never "0s" early.
/// Event reasons use this text: changing it changes every event log.
pub fn duration(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// An object's age as `kubectl get` prints it (apimachinery's
/// `duration.HumanDuration`, which kubectl's printers use): seconds up to
/// 2 minutes, "5m12s" up to 10 minutes, whole minutes up to 3 hours, "3h5m"
/// up to 8 hours, then hours, days, years. Rounded *down* (an object is 59s
/// old until it is a minute old). The headless report's tables, kubectl's
/// `get` and the window's `kubectl get pods -o wide` use it.
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    let (m, h) = (s / 60, s / 3600);
    let d = h / 24;
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => with_rest(m, "m", s % 60, "s"),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 => with_rest(h, "h", m % 60, "m"),
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => with_rest(d, "d", h % 24, "h"),
        _ if h < 24 * 365 * 2 => format!("{d}d"),
        _ if h < 24 * 365 * 8 => with_rest(d / 365, "y", d % 365, "d"),
        _ => format!("{}y", d / 365),
    }
}

/// "5m12s", or "5m" when the smaller unit is zero.
fn with_rest(big: u64, b: &str, small: u64, s: &str) -> String {
    if small == 0 {
        format!("{big}{b}")
    } else {
        format!("{big}{b}{small}{s}")
    }
}

/// A point on the simulated clock to a tenth of a second: "12.3s",
/// "5m02.0s", "1h05m09.5s".
pub fn clock(ms: u64) -> String {
    let s = ms as f64 / 1000.0;
    if s >= 3600.0 {
        format!(
            "{}h{:02}m{:04.1}s",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64,
            s % 60.0
        )
    } else if s >= 60.0 {
        format!("{}m{:04.1}s", (s / 60.0) as u64, s % 60.0)
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_rounded_milliseconds_and_nonsense_becomes_zero() {
        assert_eq!(secs_to_ms(1.5), 1500);
        assert_eq!(secs_to_ms(0.0004), 0);
        assert_eq!(secs_to_ms(0.0006), 1);
        assert_eq!(secs_to_ms(-3.0), 0);
        assert_eq!(secs_to_ms(f64::NAN), 0);
        assert_eq!(secs_to_ms(f64::INFINITY), 0);
    }

    #[test]
    fn a_duration_rounds_up_so_a_countdown_never_reads_zero_early() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(1), "1s");
        assert_eq!(duration(45_000), "45s");
        assert_eq!(duration(59_001), "1m00s");
        assert_eq!(duration(307_000), "5m07s");
        assert_eq!(duration(360_000), "6m00s");
        assert_eq!(duration(7_200_000), "120m00s");
    }

    #[test]
    fn an_age_rounds_down_like_kubectl() {
        assert_eq!(age(999), "0s");
        assert_eq!(age(45_900), "45s");
        assert_eq!(age(119_999), "119s");
        assert_eq!(age(120_000), "2m");
        assert_eq!(age(312_000), "5m12s");
        assert_eq!(age(600_000), "10m");
        assert_eq!(age(750_000), "12m");
        assert_eq!(age(7_500_000), "125m");
        assert_eq!(age(3 * 3_600_000), "3h");
        assert_eq!(age(3 * 3_600_000 + 300_000), "3h5m");
        assert_eq!(age(30 * 3_600_000), "30h");
        assert_eq!(age(50 * 3_600_000), "2d2h");
        assert_eq!(age(400 * 86_400_000), "400d");
    }

    #[test]
    fn the_clock_shows_tenths_with_minutes_and_hours_when_needed() {
        assert_eq!(clock(0), "0.0s");
        assert_eq!(clock(12_340), "12.3s");
        assert_eq!(clock(302_000), "5m02.0s");
        assert_eq!(clock(3_909_500), "1h05m09.5s");
    }
}
