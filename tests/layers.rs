//! The layering rule of docs/architecture.md, checked on the source text: a
//! module imports only from layers below it (sim ← scenario ← headless/gui ←
//! view ← ui), so there is no import cycle between them.

use std::path::{Path, PathBuf};

/// The layer of each top-level module: a module may use modules of a lower
/// layer, and of its own module, but nothing above it or beside it.
const LAYERS: &[(&str, u32)] = &[
    ("sim", 0),
    ("scenario", 1),
    ("headless", 2),
    ("shell", 3),
    ("explore", 2),
    // `statefulset-sim timeline`: reads an event log, draws SVG; headless.
    ("timeline", 2),
    // `statefulset-sim handout`: reads lessons, writes Markdown and GIFT.
    ("handout", 2),
    // `statefulset-sim diff` plays its two runs with the headless runner.
    ("diff", 3),
    ("gui", 2),
    ("view", 3),
    ("ui", 4),
];

fn layer_of(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a source file belongs to (`src/sim/model/pod.rs` →
/// `sim`, `src/headless.rs` → `headless`); `None` for lib.rs and main.rs,
/// which sit above every layer.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// Every `crate::<module>` a file names, with its line number.
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let mut refs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            refs.push((n + 1, name));
        }
    }
    refs
}

/// The imports that break the layering, as "file:line: a imports b".
fn upward_imports(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for f in files {
        let Some(module) = module_of(src, &f) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            bad.push(format!(
                "{}: module `{module}` has no layer in LAYERS",
                f.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for (line, target) in crate_refs(&text) {
            let Some(theirs) = layer_of(&target) else {
                continue;
            };
            if target != module && theirs >= own {
                bad.push(format!("{}:{line}: {module} imports {target}", f.display()));
            }
        }
    }
    bad
}

#[test]
fn no_module_imports_a_layer_above_or_beside_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = upward_imports(&src);
    assert!(
        bad.is_empty(),
        "imports against the layering (sim ← scenario ← headless/gui ← view ← ui):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_layer_check_finds_an_upward_import() {
    let dir = std::env::temp_dir().join(format!("layers-test-{}", std::process::id()));
    let sim = dir.join("sim");
    std::fs::create_dir_all(&sim).expect("temp dir can be created");
    std::fs::write(
        sim.join("mod.rs"),
        "use crate::view::style;\nuse crate::sim::model;\n",
    )
    .expect("temp file can be written");
    std::fs::write(dir.join("lib.rs"), "use crate::ui;\n").expect("temp file can be written");
    let bad = upward_imports(&dir);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].ends_with(":1: sim imports view"), "{bad:?}");
}
