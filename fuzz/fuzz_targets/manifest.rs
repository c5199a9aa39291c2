//! Fuzz target: the YAML manifest importer (`read_bytes`), then the import
//! the way `statefulset-sim import` does it: the scenario the manifests stand
//! for is validated and written as RON, and that RON must load again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use statefulset_sim::scenario::load::from_scenario;
use statefulset_sim::scenario::load_str;
use statefulset_sim::scenario::manifest::{self, ClusterShape};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = manifest::read_bytes("fuzz.yaml", data) else {
        return;
    };
    let s = manifest::scenario_of(&m, "fuzz", ClusterShape::default());
    let Ok(loaded) = from_scenario("fuzz.yaml", s, Vec::new()) else {
        return;
    };
    let ron = manifest::to_ron(&loaded).expect("an imported scenario serializes");
    if let Err(d) = load_str("imported.ron", ron.as_bytes()) {
        panic!("the imported scenario does not load: {d}\n{ron}");
    }
});
