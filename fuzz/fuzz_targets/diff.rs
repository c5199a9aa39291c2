//! Fuzz target: `diff` of two scenarios (the input split at its first NUL
//! byte), each played 10 simulated minutes. With one valid scenario, it is
//! diffed against itself, and a same-seed run must not diverge: the core is
//! deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use statefulset_sim::diff;
use statefulset_sim::scenario::load_str;

const UNTIL_MS: u64 = 600_000;

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let Ok(a) = load_str("a.ron", a) else {
        return;
    };
    let (b, same) = match load_str("b.ron", b) {
        Ok(b) => {
            let same = b.scenario == a.scenario;
            (b, same)
        }
        Err(_) => (a.clone(), true),
    };
    let sa = diff::play(a, None, Some(UNTIL_MS));
    let sb = diff::play(b, None, Some(UNTIL_MS));
    let (text, diverged) = diff::report(&sa, &sb);
    assert!(
        !(same && diverged),
        "a scenario diverged from itself:\n{text}"
    );
});
