//! Fuzz target: the RON scenario loader and validator (`load_str`), the door
//! of `run`, `check`, `diff` and the GUI's file argument. Any input must
//! load or give a diagnostic; a panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use statefulset_sim::scenario::load_str;

fuzz_target!(|data: &[u8]| {
    if let Err(d) = load_str("fuzz.ron", data) {
        // A diagnostic points inside the file (1-based line and column).
        assert!(
            d.line >= 1 && d.col >= 1,
            "diagnostic outside the file: {d}"
        );
    }
});
