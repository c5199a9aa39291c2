//! `statefulset-sim timeline`: lesson 9's event log drawn as a swimlane SVG
//! that parses as XML, with a lane for every node, pod and volume the log
//! names and the markers a reader of an incident review looks for; bad input
//! exits 2 with the file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_statefulset-sim"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ss-timeline-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs a lesson headless with --events-out, then `timeline` on its log.
fn lesson_svg(lesson: &str, dir: &Path) -> (String, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let log = dir.join("events.jsonl");
    let svg = dir.join("out.svg");
    let status = bin()
        .arg(root.join("scenarios").join(lesson))
        .arg("--headless")
        .arg("--events-out")
        .arg(&log)
        .output()
        .expect("runs");
    assert!(status.status.success(), "{status:?}");
    let out = bin()
        .arg("timeline")
        .arg(&log)
        .arg("-o")
        .arg(&svg)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    (
        std::fs::read_to_string(&log).expect("log"),
        std::fs::read_to_string(&svg).expect("svg"),
    )
}

/// The names of the pods, nodes and volumes the log mentions.
fn named_in_log(log: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let object = v["object"].as_str().unwrap_or("");
        for (prefix, kind) in [("pod/", "pod"), ("node/", "node"), ("pv/", "volume")] {
            if let Some(n) = object.strip_prefix(prefix) {
                out.insert((kind.to_string(), n.to_string()));
            }
        }
        if let Some(n) = v["node"].as_str() {
            out.insert(("node".to_string(), n.to_string()));
        }
        if let Some(n) = v["volume"].as_str() {
            out.insert(("volume".to_string(), n.to_string()));
        }
    }
    out
}

fn lanes(doc: &roxmltree::Document) -> BTreeSet<(String, String)> {
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("lane"))
        .map(|n| {
            (
                n.attribute("data-kind").unwrap_or("").to_string(),
                n.attribute("data-name").unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The tooltips (`<title>`) of the markers on one lane.
fn marker_titles(doc: &roxmltree::Document, lane: &str) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("lane") && n.attribute("data-name") == Some(lane))
        .flat_map(|l| l.descendants())
        .filter(|n| n.attribute("class") == Some("marker"))
        .filter_map(|m| m.children().find(|c| c.has_tag_name("title")))
        .filter_map(|t| t.text().map(String::from))
        .collect()
}

#[test]
fn lesson_8_timeline_has_a_lane_for_every_pod_node_and_volume_and_the_failure() {
    let dir = scratch("l7");
    let (log, svg) = lesson_svg("08-node-failure.ron", &dir);
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("1600"), "sized for a slide");
    let want = named_in_log(&log);
    assert!(
        want.iter().any(|(k, _)| k == "volume"),
        "the log names volumes"
    );
    assert_eq!(lanes(&doc), want, "one lane per pod, node and volume");
    // The failed machine is a shaded span, labelled with its times.
    let span = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("span"))
        .expect("a shaded span for the dead node");
    let node = span.attribute("data-node").expect("names its node");
    assert!(log.contains(&format!(
        "\"kind\":\"NodeFailed\",\"object\":\"node/{node}\""
    )));
    assert_eq!(span.attribute("data-state"), Some("machine down"));
    // web-1 was evicted: its marker carries the event's reason and record.
    let titles = marker_titles(&doc, "web-1");
    let evicted = titles
        .iter()
        .find(|t| t.contains("PodEvicted"))
        .expect("an eviction marker on web-1");
    assert!(evicted.contains("TaintManagerEviction"), "{evicted}");
    assert!(evicted.contains(':'), "with its time");
    // web-1 ends the lesson Terminating: its last bar says so.
    let last_state = doc
        .descendants()
        .filter(|n| {
            n.attribute("class") == Some("lane") && n.attribute("data-name") == Some("web-1")
        })
        .flat_map(|l| l.descendants())
        .filter(|n| n.attribute("class") == Some("bar"))
        .filter_map(|b| b.attribute("data-state"))
        .next_back();
    assert_eq!(last_state, Some("Terminating"));
    // Every marker and bar has a tooltip.
    for g in doc
        .descendants()
        .filter(|n| matches!(n.attribute("class"), Some("marker" | "bar")))
    {
        assert!(g.children().any(|c| c.has_tag_name("title")));
    }
}

#[test]
fn lesson_9_timeline_shows_the_force_delete_and_force_detach_of_mysql_1s_volume() {
    let dir = scratch("l9");
    let lesson = std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
        .expect("scenarios")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("09-"))
        .expect("lesson 9");
    let (_, svg) = lesson_svg(&lesson, &dir);
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    let marks: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("marker"))
        .map(|m| {
            let lane = m
                .parent()
                .and_then(|l| l.attribute("data-name"))
                .unwrap_or("");
            (
                lane.to_string(),
                m.attribute("data-mark").unwrap_or("").to_string(),
            )
        })
        .collect();
    let has = |lane: &str, mark: &str| marks.contains(&(lane.to_string(), mark.to_string()));
    assert!(has("mysql-1", "ForceDeleted"), "{marks:?}");
    assert!(has("pv-data-mysql-1", "MultiAttach"), "{marks:?}");
    assert!(has("pv-data-mysql-1", "ForceDetached"), "{marks:?}");
    let attaches = marks
        .iter()
        .filter(|(lane, m)| lane == "pv-data-mysql-1" && m == "Attached")
        .count();
    assert_eq!(attaches, 2, "attached to the old node, then the new one");
}

#[test]
fn bad_input_exits_2_naming_the_file_and_line() {
    let dir = scratch("bad");
    let log = dir.join("bad.jsonl");
    std::fs::write(
        &log,
        "{\"t_ms\":0,\"kind\":\"PodCreated\",\"object\":\"pod/a\",\"node\":null,\"reason\":\"r\"}\nnot json\n",
    )
    .expect("write");
    let out = dir.join("o.svg");
    let r = bin()
        .arg("timeline")
        .arg(&log)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("runs");
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("bad.jsonl:2:"), "{err}");
    assert!(err.contains("expected a JSON object"), "{err}");
    assert!(!out.exists(), "no output on bad input");
    let r = bin()
        .arg("timeline")
        .arg(dir.join("missing.jsonl"))
        .arg("-o")
        .arg(&out)
        .output()
        .expect("runs");
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("cannot read"));
}
