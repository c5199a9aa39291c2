//! Fuzz target: saved branches (time travel). The input is a scenario, then
//! after a NUL byte a few (delay, action) byte pairs: the scenario is run as
//! the GUI runs it, each of its own step commands is taken again as a user
//! action at the instant the pair says, and the branch is saved as the
//! GUI's "Save branch" does. Loading the saved file is the door: it must
//! load (a branch that cannot be reopened is a lost branch).
#![no_main]

use libfuzzer_sys::fuzz_target;
use statefulset_sim::scenario::load_str;
use statefulset_sim::scenario::save::branch_text;
use statefulset_sim::scenario::tape::{self, Entry, Input};
use statefulset_sim::sim::{Advance, SimClock};

fuzz_target!(|data: &[u8]| {
    let (text, pairs) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(loaded) = load_str("fuzz.ron", text) else {
        return;
    };
    let Ok(original) = std::str::from_utf8(text) else {
        return;
    };
    let actions: Vec<_> = loaded
        .scenario
        .steps
        .iter()
        .filter_map(|s| s.command.clone())
        .collect();
    if actions.is_empty() || loaded.scenario.steps.is_empty() {
        return;
    }
    let mut world = tape::fresh_world(loaded.clone(), None, true);
    let mut tape: Vec<Entry> = Vec::new();
    for pair in pairs.chunks_exact(2).take(4) {
        let now = world.resource::<SimClock>().now_ms;
        let target = now + u64::from(pair[0]) * 5_000;
        // Questions on the way are answered, as a user clicks "Continue".
        for _ in 0..64 {
            match tape::run_to(&mut world, &[], &mut 0, target, false, &mut |_| true) {
                Advance::Paused => {
                    let e = Entry::now(&world, Input::Answer);
                    tape::apply(&mut world, &e.input);
                    tape.push(e);
                }
                _ => break,
            }
        }
        let action = actions[usize::from(pair[1]) % actions.len()].clone();
        let e = Entry::now(&world, Input::Command(action));
        tape::apply(&mut world, &e.input);
        tape.push(e);
    }
    let Ok(saved) = branch_text(original, &loaded, &tape, "fuzz", None) else {
        return;
    };
    if let Err(d) = load_str("saved.ron", saved.as_bytes()) {
        panic!("a saved branch does not load: {d}\n{saved}");
    }
});
