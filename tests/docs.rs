//! The reference in docs/scenario-format.md is kept in step with the code:
//! every event kind, command, expectation/condition, enum word and field
//! the code accepts or writes must be named in it (in backticks).
//!
//! The lists come from the code itself, not from hand-written copies: serde's
//! derived `Deserialize` hands the full list of variants to
//! `Deserializer::deserialize_enum` (and of fields to `deserialize_struct`),
//! so a tiny deserializer that records them and stops is enough.

use serde::Deserialize;
use serde::de::{self, Visitor};
use statefulset_sim::scenario::format::{ClusterSpec, EventRef, RevisionWord, Scenario, Step};
use statefulset_sim::scenario::{Check, load_str};
use statefulset_sim::sim::SimCommand;
use statefulset_sim::sim::event::{ALL_KINDS, EventKind, SimEvent};
use statefulset_sim::sim::model::{
    AntiAffinity, BindingMode, ClaimTemplate, DatabaseSpec, DeploymentSpec, DisruptionBudgetSpec,
    NodeSpec, PodManagement, PodPhase, PodTemplate, Retention, RetentionAction, StatefulSetSpec,
    StorageClassSpec, StorageKind, UnhealthyPodEvictionPolicy, UpdateStrategy, WorkloadSpec,
};
use std::fmt;

const DOC: &str = "docs/scenario-format.md";

/// What the capturing deserializer was asked for: the names a derived
/// `Deserialize` passes in, or anything else (an error).
#[derive(Debug)]
enum Captured {
    Names(&'static [&'static str]),
    Other(String),
}

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Captured {}

impl de::Error for Captured {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Captured::Other(msg.to_string())
    }
}

/// A deserializer that records the variant list of an enum or the field list
/// of a struct and fails with it.
struct Capture;

impl<'de> de::Deserializer<'de> for Capture {
    type Error = Captured;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Captured> {
        Err(Captured::Other("not an enum or a struct".into()))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Captured> {
        Err(Captured::Names(variants))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Captured> {
        Err(Captured::Names(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

/// The variant names of enum `T` (or the field names of struct `T`).
fn names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    match T::deserialize(Capture) {
        Err(Captured::Names(n)) => n,
        Err(Captured::Other(e)) => panic!("no names captured: {e}"),
        Ok(_) => panic!("the capturing deserializer produced a value"),
    }
}

fn doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {DOC}: {e}"))
}

/// Fails listing every name of `what` that the doc does not mention as `Name`.
fn assert_documented(doc: &str, what: &str, names: &[&str]) {
    assert!(!names.is_empty(), "{what}: no names captured");
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !doc.contains(&format!("`{n}`")) && !doc.contains(&format!("`{n}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "{DOC} does not name these {what} (write them in backticks, e.g. `{}`): {missing:?}",
        missing[0]
    );
}

#[test]
fn every_event_kind_is_documented() {
    assert_documented(&doc(), "event kinds", names::<EventKind>());
}

#[test]
fn every_command_is_documented() {
    assert_documented(&doc(), "commands (`do:`)", names::<SimCommand>());
}

#[test]
fn every_expectation_and_condition_is_documented() {
    assert_documented(
        &doc(),
        "expectations / conditions (`expect:` / `when:`)",
        names::<Check>(),
    );
}

#[test]
fn every_enum_word_of_the_format_is_documented() {
    let doc = doc();
    for (what, n) in [
        ("workload kinds", names::<WorkloadSpec>()),
        ("pod phases", names::<PodPhase>()),
        ("storage kinds", names::<StorageKind>()),
        ("binding modes", names::<BindingMode>()),
        ("pod management policies", names::<PodManagement>()),
        ("update strategies", names::<UpdateStrategy>()),
        ("retention actions", names::<RetentionAction>()),
        ("databases", names::<DatabaseSpec>()),
        ("revision words", names::<RevisionWord>()),
        (
            "unhealthy pod eviction policies",
            names::<UnhealthyPodEvictionPolicy>(),
        ),
        ("pod anti-affinity terms", names::<AntiAffinity>()),
    ] {
        assert_documented(&doc, what, n);
    }
}

#[test]
fn every_field_of_the_scenario_format_is_documented() {
    let doc = doc();
    for (what, n) in [
        ("scenario fields", names::<Scenario>()),
        ("cluster fields", names::<ClusterSpec>()),
        ("step fields", names::<Step>()),
        ("node fields", names::<NodeSpec>()),
        ("storage class fields", names::<StorageClassSpec>()),
        ("pod template fields", names::<PodTemplate>()),
        ("StatefulSet fields", names::<StatefulSetSpec>()),
        ("Deployment fields", names::<DeploymentSpec>()),
        ("claim template fields", names::<ClaimTemplate>()),
        ("retention fields", names::<Retention>()),
        ("event reference fields", names::<EventRef>()),
        ("disruption budget fields", names::<DisruptionBudgetSpec>()),
    ] {
        assert_documented(&doc, what, n);
    }
}

#[test]
fn eventkinds_list_of_all_kinds_is_complete() {
    let declared: Vec<String> = names::<EventKind>().iter().map(|s| s.to_string()).collect();
    let listed: Vec<String> = ALL_KINDS.iter().map(|k| k.name().to_string()).collect();
    assert_eq!(
        listed, declared,
        "ALL_KINDS (src/sim/event.rs) must list every EventKind, in declaration order"
    );
}

/// Every key of a JSON value, at any depth.
fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                keys(x, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[test]
fn every_field_of_the_event_log_and_the_snapshot_is_documented() {
    let doc = doc();
    let ev = SimEvent::new(EventKind::PodCreated, "pod/web-0", "why")
        .node("node-a")
        .volume("pv-www-web-0")
        .revision("web-abc")
        .detail("d");
    let line: serde_json::Value =
        serde_json::from_str(&ev.to_json_line()).expect("an event line is JSON");
    let mut k = Vec::new();
    keys(&line, &mut k);
    assert_documented(
        &doc,
        "event log fields",
        &k.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    // A run with every kind of object, so every list of the snapshot has an entry.
    let text = r#"(
        name: "every object",
        cluster: (nodes: [(name: "node-a"), (name: "node-b")]),
        workloads: [
            StatefulSet((name: "db", replicas: 2, template: (image: "mysql:8"),
                         claims: [(name: "data")], database: Some(Mysql(write_rate: 5.0)))),
            Deployment((name: "api", replicas: 1, template: (image: "api:1"))),
        ],
        steps: [(at: 30.0, do: DeleteClaim(claim: "data-db-1")), (at: 31.0, do: Scale(set: "db", replicas: 1))],
    )"#;
    let loaded = load_str("every.ron", text.as_bytes()).unwrap_or_else(|d| panic!("{d}"));
    let mut run = statefulset_sim::headless::run(loaded, None, Some(120_000));
    let snap: serde_json::Value =
        serde_json::from_str(&run.snapshot_json()).expect("the snapshot is JSON");
    let mut k = Vec::new();
    keys(&snap, &mut k);
    k.sort();
    k.dedup();
    assert_documented(
        &doc,
        "snapshot fields",
        &k.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

#[test]
fn a_bad_scenario_points_at_the_projects_own_format_reference() {
    let text = r#"(name: "x", cluster: (nodes: [(name: "node-a")]), typo: 1)"#;
    let e = match load_str("bad.ron", text.as_bytes()) {
        Ok(_) => panic!("an unknown field was accepted"),
        Err(d) => d.to_string(),
    };
    assert!(e.contains("typo"), "{e}");
    assert!(
        e.contains(DOC),
        "the error should point at {DOC}, the project's own reference: {e}"
    );
    assert!(!e.contains("CONTRACT.md"), "{e}");
}

/// The test names a "Tests:" paragraph of docs/semantics.md cites, with the
/// section they are cited in.
fn cited_tests(semantics: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut in_tests = false;
    for line in semantics.lines() {
        if line.starts_with("### ") {
            section = line.trim_start_matches("### ").to_string();
        }
        if line.starts_with("- Tests:") {
            in_tests = true;
        } else if line.starts_with("- ") || line.trim().is_empty() || line.starts_with('#') {
            in_tests = false;
        }
        if !in_tests {
            continue;
        }
        for (i, part) in line.split('`').enumerate() {
            let is_code = i % 2 == 1;
            let looks_like_test = part.contains('_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if is_code && looks_like_test {
                out.push((section.clone(), part.to_string()));
            }
        }
    }
    out
}

/// Every `fn name` defined in the Rust files under `dir`.
fn defined_fns(dir: &std::path::Path, out: &mut std::collections::BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            defined_fns(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            for piece in text.split("fn ").skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        }
    }
}

#[test]
fn every_test_the_semantics_doc_cites_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let semantics =
        std::fs::read_to_string(root.join("docs/semantics.md")).expect("docs/semantics.md exists");
    let mut fns = std::collections::BTreeSet::new();
    defined_fns(&root.join("src"), &mut fns);
    defined_fns(&root.join("tests"), &mut fns);
    let cited = cited_tests(&semantics);
    assert!(cited.len() > 40, "too few cited tests found: {cited:?}");
    let missing: Vec<String> = cited
        .iter()
        .filter(|(_, t)| !fns.contains(t))
        .map(|(s, t)| format!("{s}: {t}"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/semantics.md cites tests that do not exist (renamed or removed?):\n{}",
        missing.join("\n")
    );
}
