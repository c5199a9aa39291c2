//! Limits on everything an input can ask for: an input just over each limit
//! gets a clear error naming the limit (file:line:col where there is a
//! file) and, from the command line, exit 2; just at the limit it loads.
//! A crash a fuzz target finds (fuzz/, README "Fuzzing") gets its
//! regression test here, with its input.

use statefulset_sim::scenario::load_str;
use statefulset_sim::scenario::manifest;
use statefulset_sim::shell::Shell;
use statefulset_sim::sim::model::limits;
use std::path::PathBuf;
use std::process::Command;

const NODE: &str = r#"cluster: (nodes: [(name: "node-a")])"#;

fn ok(text: &str) {
    if let Err(d) = load_str("ok.ron", text.as_bytes()) {
        panic!("refused input at a limit: {d}");
    }
}

/// A temporary directory for this test (removed by the caller).
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ss-limits-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// `statefulset-sim ARGS`: (exit code, stderr).
fn cli(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_statefulset-sim"))
        .args(args)
        .output()
        .expect("runs the binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `check` on `text` written to a file: exit 2 and the message, which must
/// start with the file's name and a line and column.
fn check_refuses(tag: &str, text: &str) -> String {
    let dir = temp_dir(tag);
    let f = dir.join("over.ron");
    std::fs::write(&f, text).expect("writes");
    let (code, stderr) = cli(&["check", f.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "{stderr}");
    let prefix = format!("{}:", f.display());
    assert!(stderr.starts_with(&prefix), "{stderr}");
    stderr
}

fn web(replicas: u32) -> String {
    format!(
        r#"(name: "x", {NODE}, workloads: [StatefulSet((name: "web", replicas: {replicas}, template: (image: "i")))])"#
    )
}

#[test]
fn replicas_over_the_limit_are_refused_with_exit_2() {
    ok(&web(limits::MAX_REPLICAS));
    let e = check_refuses("replicas", &web(limits::MAX_REPLICAS + 1));
    assert!(e.contains("10001 replicas; at most 10000"), "{e}");
}

#[test]
fn nodes_over_the_limit_are_refused_with_exit_2() {
    let nodes = |n: usize| {
        let list: Vec<String> = (0..n).map(|i| format!("(name: \"n{i}\")")).collect();
        format!("(name: \"x\", cluster: (nodes: [{}]))", list.join(", "))
    };
    ok(&nodes(limits::MAX_NODES));
    let e = check_refuses("nodes", &nodes(limits::MAX_NODES + 1));
    assert!(e.contains("501 nodes; at most 500"), "{e}");
}

#[test]
fn steps_over_the_limit_are_refused_with_exit_2() {
    let steps = |n: usize| {
        format!(
            "(name: \"x\", {NODE}, steps: [{}])",
            "(after: 1.0, note: \"n\"),".repeat(n)
        )
    };
    ok(&steps(limits::MAX_STEPS));
    let e = check_refuses("steps", &steps(limits::MAX_STEPS + 1));
    assert!(e.contains("10001 steps; at most 10000"), "{e}");
}

#[test]
fn workloads_over_the_limit_are_refused_with_exit_2() {
    let sets = |n: usize| {
        let list: Vec<String> = (0..n)
            .map(|i| format!("Deployment((name: \"d{i}\", replicas: 1, template: (image: \"i\")))"))
            .collect();
        format!("(name: \"x\", {NODE}, workloads: [{}])", list.join(", "))
    };
    ok(&sets(limits::MAX_WORKLOADS));
    let e = check_refuses("workloads", &sets(limits::MAX_WORKLOADS + 1));
    assert!(e.contains("at most 100 workloads"), "{e}");
}

#[test]
fn a_string_over_the_limit_is_refused_where_it_starts() {
    let note = |n: usize| {
        format!(
            "(name: \"x\", {NODE},\n steps: [(after: 1.0, note: \"{}\")])",
            "a".repeat(n)
        )
    };
    ok(&note(limits::MAX_STRING_BYTES));
    let e = check_refuses("string", &note(limits::MAX_STRING_BYTES + 1));
    assert!(
        e.contains(":2:29: error: this string is 4097 bytes; strings are at most 4096 bytes"),
        "{e}"
    );
}

#[test]
fn nesting_far_beyond_the_format_is_refused_where_it_starts_not_by_a_stack_overflow() {
    // The format's types nest about 6 deep, so brackets where they do not
    // belong are refused at the first one; RON's own depth limit
    // (`MAX_NESTING`) stands behind that.
    let deep = |n: usize| {
        format!(
            "(name: \"x\", {NODE},\n workloads: {}{})",
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    for n in [limits::MAX_NESTING + 1, 100_000] {
        let e = check_refuses("nesting", &deep(n));
        assert!(e.contains(":2:"), "{e}");
    }
}

#[test]
fn simulated_time_over_the_limit_is_refused_with_exit_2() {
    let at = |s: f64| format!("(name: \"x\", {NODE}, steps: [(at: {s:.1}, note: \"n\")])");
    ok(&at(limits::MAX_SECONDS));
    let e = check_refuses("time", &at(limits::MAX_SECONDS + 1.0));
    assert!(e.contains("`at` must be between 0"), "{e}");
    let dir = temp_dir("until");
    let f = dir.join("ok.ron");
    std::fs::write(&f, at(1.0)).expect("writes");
    let (code, stderr) = cli(&[
        f.to_str().expect("utf-8"),
        "--headless",
        "--until",
        "604801",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--until") && stderr.contains("604800"),
        "{stderr}"
    );
}

#[test]
fn a_write_rate_over_the_limit_is_refused_with_exit_2() {
    let rate = |r: f64| {
        format!(
            "(name: \"x\", {NODE}, workloads: [StatefulSet((name: \"db\", template: (image: \"i\"), claims: [(name: \"d\")]))],\n steps: [(at: 1.0, do: SetWriteRate(per_second: {r:.1}))])"
        )
    };
    ok(&rate(limits::MAX_WRITE_RATE));
    let e = check_refuses("rate", &rate(limits::MAX_WRITE_RATE + 1.0));
    assert!(
        e.contains(":2:") && e.contains("between 0 and 10000"),
        "{e}"
    );
}

#[test]
fn a_file_over_the_limit_is_refused_even_when_it_never_ends() {
    let big = format!("(name: \"x\", {NODE}) //{}", "x".repeat(1 << 20));
    let e = check_refuses("size", &big);
    assert!(
        e.contains("scenario files are at most 1048576 bytes"),
        "{e}"
    );
    // A device reports no size and never ends: read up to the limit only.
    let (code, stderr) = cli(&["check", "/dev/zero"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("/dev/zero:1:1: error:") && stderr.contains("at most 1048576 bytes"),
        "{stderr}"
    );
    // The same for a manifest (a link named like one, to the device).
    let dir = temp_dir("zero");
    let link = dir.join("zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &link).expect("links");
    let (code, stderr) = cli(&["import", link.to_str().expect("utf-8")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("manifest files are at most 1048576 bytes"),
        "{stderr}"
    );
}

#[test]
fn diff_refuses_a_scenario_over_a_limit_with_exit_2() {
    let dir = temp_dir("diff");
    let a = dir.join("a.ron");
    let b = dir.join("b.ron");
    std::fs::write(&a, web(1)).expect("writes");
    std::fs::write(&b, web(limits::MAX_REPLICAS + 1)).expect("writes");
    let (code, stderr) = cli(&[
        "diff",
        a.to_str().expect("utf-8"),
        b.to_str().expect("utf-8"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("b.ron:1:") && stderr.contains("at most 10000"),
        "{stderr}"
    );
}

const WEB_YAML: &str = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  serviceName: web\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: IMAGE\n";

fn manifest_err(yaml: &str) -> String {
    match manifest::read_bytes("bad.yaml", yaml.as_bytes()) {
        Ok(_) => panic!("accepted a manifest over a limit"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn a_manifest_string_over_the_limit_is_refused_where_it_is() {
    let with = |n: usize| WEB_YAML.replace("IMAGE", &"i".repeat(n));
    assert!(manifest::read_bytes("ok.yaml", with(limits::MAX_STRING_BYTES).as_bytes()).is_ok());
    let e = manifest_err(&with(limits::MAX_STRING_BYTES + 1));
    assert!(
        e.starts_with("bad.yaml:18:") && e.contains("strings are at most 4096 bytes"),
        "{e}"
    );
}

#[test]
fn manifest_nesting_over_the_limit_is_refused_with_exit_2() {
    let deep = |n: usize| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {}1{}\n",
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let e = manifest_err(&deep(limits::MAX_NESTING + 1));
    assert!(
        e.starts_with("bad.yaml:") && e.contains("nested more than 32 levels deep"),
        "{e}"
    );
    let e = manifest_err(&deep(100_000));
    assert!(e.contains("nested more than 32 levels deep"), "{e}");
    let dir = temp_dir("yaml");
    let f = dir.join("deep.yaml");
    std::fs::write(&f, deep(limits::MAX_NESTING + 1)).expect("writes");
    let (code, stderr) = cli(&["import", f.to_str().expect("utf-8")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("deep.yaml:") && stderr.contains("nested more than 32"),
        "{stderr}"
    );
}

fn shell(nodes: usize) -> Shell {
    let list: Vec<String> = (0..nodes).map(|i| format!("(name: \"n{i}\")")).collect();
    let text = format!(
        "(name: \"x\", cluster: (nodes: [{}]), workloads: [StatefulSet((name: \"web\", replicas: 1, template: (image: \"i\")))])",
        list.join(", ")
    );
    Shell::new(load_str("s.ron", text.as_bytes()).expect("loads"))
}

#[test]
fn a_kubectl_line_over_the_limit_is_refused() {
    let mut sh = shell(1);
    let pad = |n: usize| format!("get pods{}", " ".repeat(n - 8));
    let (out, e) = sh.line(&format!("{}x", pad(limits::MAX_LINE_BYTES)));
    assert!(
        out.is_empty()
            && e.contains("the line is 4097 bytes; a kubectl line is at most 4096 bytes"),
        "{e}"
    );
    // Leading and trailing blanks are trimmed before the line is read.
    let (out, e) = sh.line(&format!("x{}", pad(limits::MAX_LINE_BYTES - 1)));
    assert!(out.is_empty() && e.contains("unknown command"), "{e}");
}

#[test]
fn kubectl_apply_over_the_node_limit_applies_nothing() {
    let dir = temp_dir("apply");
    let f = dir.join("nodes.yaml");
    let doc = |name: &str| format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n");
    std::fs::write(&f, format!("{}---\n{}", doc("extra-1"), doc("extra-2"))).expect("writes");
    let mut sh = shell(limits::MAX_NODES - 1);
    let (out, e) = sh.line(&format!("apply -f {}", f.display()));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.is_empty() && e.contains("501 nodes; at most 500"),
        "{out}{e}"
    );
    let (out, _) = sh.line("get node extra-1");
    assert!(!out.contains("extra-1"), "nothing applied: {out}");
}

#[test]
fn the_shell_clock_stops_at_the_limit_of_a_run() {
    let mut sh = shell(1);
    let (_, e) = sh.line("sleep 168h");
    assert!(e.is_empty(), "7 days is allowed: {e}");
    let (_, e) = sh.line("sleep 1s");
    assert!(
        e.contains("past 7 days (604800 s), the longest a run may simulate"),
        "{e}"
    );
}
