//! The headless runner's streamed event log: what `--events-out FILE` writes
//! as the run goes is byte for byte the log of the same run kept in memory,
//! every lesson's expectations (which read the log) still hold, and the run
//! keeps only the events a check may look for.

mod common;

use common::lesson_files;
use statefulset_sim::headless::{self, Output};
use statefulset_sim::scenario::load_file;
use std::path::Path;

fn streamed(path: &Path) -> (Vec<u8>, headless::Run) {
    let loaded = load_file(path).expect("lesson loads");
    let mut bytes = Vec::new();
    let out = Output {
        events: Some(&mut bytes),
        ..Default::default()
    };
    let run = headless::run_with(loaded, None, None, out).expect("writing to memory cannot fail");
    (bytes, run)
}

#[test]
fn a_streamed_log_is_byte_identical_to_the_log_kept_in_memory() {
    for path in lesson_files() {
        let kept = headless::run(load_file(&path).expect("lesson loads"), None, None);
        let (bytes, run) = streamed(&path);
        assert_eq!(
            String::from_utf8(bytes).expect("the log is UTF-8"),
            kept.events_jsonl(),
            "{}",
            path.display()
        );
        assert_eq!(run.failures, kept.failures, "{}", path.display());
        assert_eq!(run.log().total(), kept.log().events.len());
    }
}

#[test]
fn a_streamed_run_keeps_only_the_events_its_checks_look_for() {
    // Lesson 8 checks the order of a few event kinds: the rest of its log
    // leaves memory as it is written.
    let path = Path::new("scenarios/08-node-failure.ron");
    let (_, run) = streamed(path);
    let log = run.log();
    assert!(log.streamed > 0);
    assert!(
        log.events.len() < log.total() / 2,
        "{} of {} kept",
        log.events.len(),
        log.total()
    );
    let summary_events = {
        let mut r = run;
        headless::summary(&mut r)
    };
    let kept = headless::run(load_file(path).expect("lesson loads"), None, None);
    assert!(
        summary_events.contains(&format!("{} events", kept.log().events.len())),
        "the summary counts every event, streamed or kept: {summary_events}"
    );
}

#[test]
fn events_out_writes_the_whole_log_and_leaves_no_partial_file() {
    let dir = std::env::temp_dir().join(format!("ss-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("events.jsonl");
    let path = Path::new("scenarios/04-rolling-update-partition.ron");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_statefulset-sim"))
        .arg(path)
        .args(["--headless", "--events-out"])
        .arg(&out)
        .output()
        .expect("the binary runs");
    assert!(status.status.success(), "{status:?}");
    let written = std::fs::read_to_string(&out).expect("the log was written");
    let kept = headless::run(load_file(path).expect("lesson loads"), None, None);
    assert_eq!(written, kept.events_jsonl());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("temp dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A FIFO at `path` (Unix's `mkfifo`), or None where there is none.
fn make_fifo(path: &Path) -> Option<()> {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .ok()?
        .success();
    ok.then_some(())
}

#[test]
fn events_out_to_a_fifo_or_dev_null_writes_into_it_and_never_replaces_it() {
    use std::os::unix::fs::FileTypeExt;
    // `--events-out /dev/null` once renamed a regular file over /dev/null
    // (as root, it can): every later reader of /dev/null then read old
    // logs. A FIFO shows the same path without touching the machine: the
    // log must come through it, and it must still be a FIFO afterwards.
    let dir = std::env::temp_dir().join(format!("ss-stream-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let fifo = dir.join("events.fifo");
    if make_fifo(&fifo).is_none() {
        eprintln!("SKIPPED: no mkfifo here");
        return;
    }
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).expect("reads the FIFO"))
    };
    let path = Path::new("scenarios/04-rolling-update-partition.ron");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_statefulset-sim"))
        .arg(path)
        .args(["--headless", "--events-out"])
        .arg(&fifo)
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{out:?}");
    // Checked before the reader is joined: had the FIFO been replaced, no
    // one would ever write to it and the reader would wait for ever.
    let kind = std::fs::symlink_metadata(&fifo)
        .expect("still there")
        .file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced by {kind:?}");
    let read = reader.join().expect("the reader ends");
    let kept = headless::run(load_file(path).expect("lesson loads"), None, None);
    assert_eq!(read, kept.events_jsonl());
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("temp dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "nothing else written beside it: {names:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
