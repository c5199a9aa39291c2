//! Integration tests of the replicated database (docs/semantics.md §6, the upstream
//! "Run a Replicated Stateful Application" tutorial): each runs a scenario
//! headless and asserts on the event log, the snapshot and the expectations.

mod common;
use common::*;
use serde_json::Value;
use statefulset_sim::headless::Run;
use statefulset_sim::sim::database::{CLONE_BASE_MS, CLONE_ROWS_PER_S, RETRY_MS};
use statefulset_sim::sim::event::EventKind::*;

/// A scenario with one MySQL StatefulSet `mysql` (service `service`) and steps.
fn mysql_with(service: &str, replicas: u32, write_rate: f64, extra: &str, steps: &str) -> String {
    format!(
        r#"(name: "db", seed: 5, cluster: ({NODES3}), workloads: [StatefulSet((name: "mysql", service: "{service}", replicas: {replicas}, template: (image: "mysql:8.0"), claims: [(name: "data", size_gib: 10)], database: Some(Mysql(write_rate: {write_rate})){extra}))], steps: [{steps}])"#
    )
}

fn mysql(replicas: u32, write_rate: f64, steps: &str) -> String {
    mysql_with("mysql", replicas, write_rate, "", steps)
}

/// The scenario with a shared (NFS-like) storage class as its default.
fn shared_storage(text: &str) -> String {
    text.replacen(
        "cluster: (",
        r#"cluster: (storage_classes: [(name: "nfs", kind: Shared)], "#,
        1,
    )
}

fn snapshot(r: &mut Run) -> Value {
    serde_json::from_str(&r.snapshot_json()).expect("snapshot is JSON")
}

/// Rows on the volume bound to each claim `data-mysql-N`, from the snapshot.
fn rows_by_claim(snap: &Value) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = snap["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .map(|v| {
            (
                v["claim"].as_str().unwrap_or_default().to_string(),
                v["rows"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    v.sort();
    v
}

fn db(snap: &Value) -> &Value {
    &snap["databases"][0]
}

fn details(r: &Run, kind: statefulset_sim::sim::event::EventKind) -> Vec<(String, String)> {
    events(r, kind)
        .iter()
        .map(|e| (e.object.clone(), e.detail.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn each_new_replica_clones_from_the_previous_ordinal_in_order() {
    let r = run(&mysql(
        3,
        10.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: SetWriteRate(per_second: 0.0))"#,
    ));
    let pair = |o: &str, d: &str| (o.to_string(), d.to_string());
    assert_eq!(
        details(&r, CloneStarted),
        [
            pair("pod/mysql-1", "mysql-0"),
            pair("pod/mysql-2", "mysql-1")
        ]
    );
    assert_eq!(
        details(&r, CloneFinished),
        [
            pair("pod/mysql-1", "mysql-0"),
            pair("pod/mysql-2", "mysql-1")
        ]
    );
    // The primary never clones.
    assert!(time_of(&r, CloneStarted, "pod/mysql-0").is_none());
    // mysql-2 clones only after mysql-1 finished its clone and became Ready
    // (OrderedReady guarantees the source is Ready).
    let ready1 = time_of(&r, PodReady, "pod/mysql-1").unwrap();
    let fin1 = time_of(&r, CloneFinished, "pod/mysql-1").unwrap();
    let start2 = time_of(&r, CloneStarted, "pod/mysql-2").unwrap();
    assert!(
        fin1 <= ready1 && ready1 <= start2,
        "clone1 done {fin1}, mysql-1 Ready {ready1}, clone2 start {start2}"
    );
    // A cloning replica is not Ready: its readiness waits for the clone.
    let start1 = time_of(&r, CloneStarted, "pod/mysql-1").unwrap();
    assert!(ready1 >= fin1 && start1 < fin1);
}

#[test]
fn clone_time_is_proportional_to_the_data_on_the_source() {
    // One replica cloned from a primary holding `rows` rows (no continuous load).
    let clone_ms = |rows: u64| {
        let r = run(&mysql(
            1,
            0.0,
            &format!(
                r#"(when: Ready(set: "mysql", count: 1), timeout: 120.0, do: Write(rows: {rows})),
                   (after: 1.0, do: Scale(set: "mysql", replicas: 2)),
                   (when: Ready(set: "mysql", count: 2), timeout: 300.0, expect: RowsOn(pod: "mysql-1", rows: {rows}))"#
            ),
        ));
        assert_no_failures(&r);
        let s = time_of(&r, CloneStarted, "pod/mysql-1").unwrap();
        let f = time_of(&r, CloneFinished, "pod/mysql-1").unwrap();
        f - s
    };
    let (small, big) = (clone_ms(0), clone_ms(10_000));
    assert_eq!(small, CLONE_BASE_MS);
    assert_eq!(
        big - small,
        10_000 * 1000 / CLONE_ROWS_PER_S,
        "10 000 more rows take 20 s more"
    );
}

#[test]
fn replicas_always_replicate_from_the_primary_stable_name() {
    // Service "db": the name is mysql-0.db, whatever pod N−1 a replica cloned from.
    let r = run(&mysql_with(
        "db",
        3,
        5.0,
        "",
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: Scale(set: "mysql", replicas: 4)),
           (when: Ready(set: "mysql", count: 4), timeout: 300.0, do: DeletePod(pod: "mysql-0")),
           (after: 60.0, do: SetWriteRate(per_second: 0.0))"#,
    ));
    let started = events(&r, ReplicationStarted);
    let mut who: Vec<&str> = started.iter().map(|e| e.object.as_str()).collect();
    who.sort();
    who.dedup();
    assert_eq!(
        who,
        ["pod/mysql-1", "pod/mysql-2", "pod/mysql-3"],
        "the primary never replicates"
    );
    assert!(
        started.len() >= 6,
        "each replica starts once, then reconnects after mysql-0 returns: {}",
        started.len()
    );
    for e in started {
        assert_eq!(e.detail.as_deref(), Some("mysql-0.db"), "{e:?}");
        assert!(e.reason.contains("mysql-0.db"), "{}", e.reason);
    }
}

#[test]
fn rows_are_equal_on_every_volume_once_writes_stop_and_lag_drains() {
    let mut r = run(&mysql(
        3,
        20.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, note: "load runs"),
           (after: 30.5, expect: WritesFailed(min: 1)),
           (after: 0.0, do: SetWriteRate(per_second: 0.0)),
           (after: 5.0, expect: ReplicaLag(pod: "mysql-1", max_rows: 0)),
           (after: 0.0, expect: ReplicaLag(pod: "mysql-2", max_rows: 0))"#,
    ));
    assert_no_failures(&r);
    let snap = snapshot(&mut r);
    let written = db(&snap)["written"].as_u64().unwrap();
    assert!(written > 500, "the load wrote {written} rows");
    let rows = rows_by_claim(&snap);
    assert_eq!(rows.len(), 3);
    for (claim, n) in &rows {
        assert_eq!(
            *n, written,
            "{claim} holds {n} rows, the primary accepted {written}"
        );
    }
    // Asynchronous replication: some lag was seen while writes flowed.
    assert!(db(&snap)["max_lag_rows"].as_u64().unwrap() > 0);
    assert!(db(&snap)["max_lag_seconds"].as_f64().unwrap() > 0.0);
    for s in db(&snap)["servers"].as_array().unwrap() {
        assert_eq!(s["lag_rows"], 0, "{s}");
    }
}

#[test]
fn replica_lag_expectation_fails_while_a_replica_is_behind_and_rows_on_checks_exactly() {
    // Write 1000 rows at once: the replicas apply them a tick later.
    let r = run(&mysql(
        2,
        0.0,
        r#"(when: Ready(set: "mysql", count: 2), timeout: 300.0, do: Write(rows: 1000)),
           (after: 0.0, expect: ReplicaLag(pod: "mysql-1", max_rows: 0)),
           (after: 0.0, expect: RowsOn(pod: "mysql-0", rows: 1000)),
           (after: 0.0, expect: RowsOn(pod: "mysql-1", rows: 999)),
           (after: 5.0, expect: ReplicaLag(pod: "mysql-1", max_rows: 0)),
           (after: 0.0, expect: RowsOn(pod: "mysql-1", rows: 1000))"#,
    ));
    let failed: Vec<usize> = r.failures.iter().map(|f| f.0).collect();
    assert_eq!(failed, [1, 3], "{:#?}", r.failures);
    assert!(
        r.failures[0].1.contains("1000 rows behind"),
        "{}",
        r.failures[0].1
    );
    assert!(
        r.failures[1].1.contains("holds 0 rows"),
        "{}",
        r.failures[1].1
    );
}

#[test]
fn set_write_rate_controls_the_continuous_load() {
    let mut r = run(&mysql(
        1,
        0.0,
        r#"(when: Ready(set: "mysql", count: 1), timeout: 120.0, do: SetWriteRate(per_second: 2.5)),
           (after: 10.0, do: SetWriteRate(per_second: 0.0)),
           (after: 30.0, expect: RowsOn(pod: "mysql-0", rows: 25))"#,
    ));
    assert_no_failures(&r);
    let snap = snapshot(&mut r);
    assert_eq!(db(&snap)["written"], 25);
    assert_eq!(
        db(&snap)["failed"],
        0,
        "rate 0 until the primary was Ready: nothing refused"
    );
}

#[test]
fn no_row_is_lost_across_deletion_rescheduling_and_scale_down_and_up() {
    let mut r = run(&mysql(
        3,
        10.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: DeletePod(pod: "mysql-2")),
           (when: PodStatus(pod: "mysql-2", status: "Running"), timeout: 120.0, note: "a new mysql-2 runs (a Terminating pod stays Ready, so Ready(count: 3) would not wait)"),
           (when: Ready(set: "mysql", count: 3), timeout: 120.0, do: CordonNode(of: "mysql-1")),
           (after: 0.0, do: DeletePod(pod: "mysql-1")),
           (when: PodStatus(pod: "mysql-1", status: "Running"), timeout: 120.0, note: "a new mysql-1 runs"),
           (when: Ready(set: "mysql", count: 3), timeout: 120.0, do: Scale(set: "mysql", replicas: 1)),
           (when: SetStatus(set: "mysql", replicas: 1), timeout: 120.0, do: Write(rows: 500)),
           (after: 20.0, do: Scale(set: "mysql", replicas: 3)),
           (when: Ready(set: "mysql", count: 3), timeout: 300.0, do: SetWriteRate(per_second: 0.0)),
           (after: 5.0, expect: ReplicaLag(pod: "mysql-2", max_rows: 0))"#,
    ));
    assert_no_failures(&r);
    // mysql-1 moved to another node (the old one is cordoned) with its claim.
    let nodes: Vec<String> = events(&r, PodScheduled)
        .iter()
        .filter(|e| e.object == "pod/mysql-1")
        .filter_map(|e| e.node.clone())
        .collect();
    assert!(
        nodes.len() >= 2 && nodes[0] != nodes[1],
        "mysql-1 was not rescheduled elsewhere: {nodes:?}"
    );
    // Each replica cloned once; every later pod resumed from its own data.
    assert_eq!(events(&r, CloneStarted).len(), 2);
    let skipped: Vec<String> = events(&r, CloneFinished)
        .iter()
        .filter(|e| e.detail.as_deref() == Some("skipped"))
        .map(|e| e.object.clone())
        .collect();
    assert_eq!(
        skipped,
        ["pod/mysql-2", "pod/mysql-1", "pod/mysql-1", "pod/mysql-2"]
    );
    assert!(
        objects(&r, ClaimCreated).len() == 3 && objects(&r, ClaimDeleted).is_empty(),
        "Retain keeps the claims"
    );
    let snap = snapshot(&mut r);
    let written = db(&snap)["written"].as_u64().unwrap();
    assert!(written > 500);
    for (claim, n) in rows_by_claim(&snap) {
        assert_eq!(n, written, "{claim}");
    }
}

#[test]
fn a_replica_with_data_skips_the_clone_and_resumes_from_its_own_position() {
    let r = run(&mysql(
        3,
        0.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: Write(rows: 100)),
           (after: 5.0, do: Scale(set: "mysql", replicas: 2)),
           (when: SetStatus(set: "mysql", replicas: 2), timeout: 120.0, do: Write(rows: 40)),
           (after: 5.0, do: Scale(set: "mysql", replicas: 3)),
           (when: Ready(set: "mysql", count: 3), timeout: 120.0, note: "back"),
           (after: 5.0, expect: RowsOn(pod: "mysql-2", rows: 140))"#,
    ));
    assert_no_failures(&r);
    let back = *times_of(&r, PodCreated, "pod/mysql-2").last().unwrap();
    let e = events(&r, CloneFinished)
        .into_iter()
        .find(|e| e.object == "pod/mysql-2" && e.t_ms > back)
        .expect("CloneFinished after return");
    assert_eq!(e.detail.as_deref(), Some("skipped"));
    assert!(e.reason.contains("row 100"), "{}", e.reason);
    let rs = events(&r, ReplicationStarted)
        .into_iter()
        .find(|e| e.object == "pod/mysql-2" && e.t_ms > back)
        .expect("replicates again");
    assert!(
        rs.reason.contains("from row 100"),
        "resumes from its stored position: {}",
        rs.reason
    );
    assert_eq!(
        times_of(&r, CloneStarted, "pod/mysql-2").len(),
        1,
        "cloned once, the first time only"
    );
}

#[test]
fn writes_are_refused_and_counted_while_the_primary_has_crashed() {
    let mut r = run(&mysql(
        3,
        0.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: Write(rows: 100)),
           (after: 3.0, do: CrashPod(pod: "mysql-0")),
           (after: 0.0, do: Write(rows: 50)),
           (after: 0.0, expect: WritesFailed(min: 50)),
           (when: PodReady(pod: "mysql-0", ready: true), timeout: 120.0, do: Write(rows: 7)),
           (after: 30.0, expect: RowsOn(pod: "mysql-2", rows: 107))"#,
    ));
    assert_no_failures(&r);
    let snap = snapshot(&mut r);
    assert_eq!(db(&snap)["failed"], 50);
    assert_eq!(
        db(&snap)["written"],
        107,
        "refused writes are not stored anywhere"
    );
    let wf = events(&r, WritesFailed);
    assert_eq!(wf.len(), 1);
    assert!(
        wf[0].reason.contains("mysql-0.mysql") && wf[0].reason.contains("refused"),
        "{}",
        wf[0].reason
    );
    let resumed = events(&r, WritesResumed);
    assert_eq!(resumed.len(), 1);
    assert!(
        resumed[0].reason.contains("50 refused"),
        "{}",
        resumed[0].reason
    );
    for (_, n) in rows_by_claim(&snap) {
        assert_eq!(n, 107);
    }
}

#[test]
fn replicas_retry_a_lost_primary_every_10s_and_catch_up_when_it_returns() {
    for cmd in ["CrashPod", "DeletePod"] {
        let r = run(&mysql(
            3,
            10.0,
            &format!(
                r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: {cmd}(pod: "mysql-0")),
                   (after: 60.0, do: SetWriteRate(per_second: 0.0)),
                   (after: 15.0, expect: ReplicaLag(pod: "mysql-1", max_rows: 0)),
                   (after: 0.0, expect: ReplicaLag(pod: "mysql-2", max_rows: 0))"#
            ),
        ));
        assert_no_failures(&r);
        let back = *times_of(&r, PodReady, "pod/mysql-0").last().unwrap();
        for pod in ["pod/mysql-1", "pod/mysql-2"] {
            let broken = times_of(&r, ReplicationBroken, pod);
            assert_eq!(broken.len(), 1, "{cmd}: {pod} {broken:?}");
            let again = *times_of(&r, ReplicationStarted, pod).last().unwrap();
            assert!(
                again >= back,
                "{cmd}: {pod} reconnected at {again}, before mysql-0 was back at {back}"
            );
            assert_eq!(
                (again - broken[0]) % RETRY_MS,
                0,
                "{cmd}: retries fall every 10 s after the break"
            );
            assert!(
                again - back < RETRY_MS,
                "{cmd}: the first retry after mysql-0 returns succeeds"
            );
        }
        assert!(
            events(&r, ReplicationBroken)
                .iter()
                .all(|e| e.reason.contains("retrying every 10s"))
        );
        // The load ran from t=0: writes also failed before mysql-0 first came up.
        let first_up = time_of(&r, PodReady, "pod/mysql-2").unwrap();
        let after = |k| {
            events(&r, k)
                .into_iter()
                .filter(|e| e.t_ms > first_up)
                .count()
        };
        assert_eq!(after(WritesFailed), 1, "{cmd}");
        assert_eq!(after(WritesResumed), 1, "{cmd}");
    }
}

#[test]
fn primary_node_failure_makes_no_failover_and_the_primary_returns_with_its_data() {
    let mut r = run(&mysql(
        3,
        10.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: FailNode(of: "mysql-0")),
           (after: 420.0, expect: PodPhase(pod: "mysql-0", phase: Terminating)),
           (after: 0.0, do: RecoverNode(of: "mysql-0")),
           (when: PodReady(pod: "mysql-0", ready: true), timeout: 120.0, note: "back"),
           (after: 30.0, do: SetWriteRate(per_second: 0.0)),
           (after: 15.0, expect: ReplicaLag(pod: "mysql-2", max_rows: 0))"#,
    ));
    assert_no_failures(&r);
    // No election: nobody else ever becomes a source, only mysql-0.mysql is named.
    assert!(
        events(&r, ReplicationStarted)
            .iter()
            .all(|e| e.detail.as_deref() == Some("mysql-0.mysql"))
    );
    assert_eq!(
        times_of(&r, PodCreated, "pod/mysql-0").len(),
        2,
        "one replacement, only after the node came back"
    );
    let snap = snapshot(&mut r);
    let failed = db(&snap)["failed"].as_u64().unwrap();
    assert!(
        failed >= 4200,
        "about 7 minutes of refused writes at 10/s, got {failed}"
    );
    let failed_at = time_of(&r, NodeFailed, "node/node-a")
        .or(time_of(&r, NodeFailed, "node/node-b"))
        .or(time_of(&r, NodeFailed, "node/node-c"))
        .unwrap();
    let wf: Vec<_> = events(&r, WritesFailed)
        .into_iter()
        .filter(|e| e.t_ms >= failed_at)
        .collect();
    assert!(
        wf[0].t_ms - failed_at <= 1000,
        "the next write already fails"
    );
    assert!(
        wf[0].reason.contains("nothing answers"),
        "before the node controller notices, the name still points at the dead pod: {}",
        wf[0].reason
    );
    let written = db(&snap)["written"].as_u64().unwrap();
    for (claim, n) in rows_by_claim(&snap) {
        assert_eq!(n, written, "{claim}");
    }
}

#[test]
fn split_brain_on_block_storage_fences_the_old_primary_so_its_writes_fail_and_nothing_diverges() {
    let r = run(&mysql(
        2,
        10.0,
        r#"(when: Ready(set: "mysql", count: 2), timeout: 300.0, do: PartitionNode(of: "mysql-0")),
           (after: 60.0, do: ForceDeletePod(pod: "mysql-0")),
           (when: PodReady(pod: "mysql-0", ready: true), timeout: 600.0, note: "a second mysql-0"),
           (after: 30.0, do: SetWriteRate(per_second: 0.0)),
           (after: 0.0, expect: InvariantBroken)"#,
    ));
    assert_no_failures(&r);
    let fence = events(&r, VolumeDetached)
        .into_iter()
        .find(|e| e.detail.as_deref() == Some("force"))
        .expect("the force-detach")
        .t_ms;
    let io = events(&r, WritesFailed)
        .into_iter()
        .find(|e| e.object == "pod/mysql-0")
        .expect("the old primary's writes fail");
    assert!(
        (fence..=fence + 1_000).contains(&io.t_ms),
        "from the first write after its disk is fenced at {fence}: {}",
        io.t_ms
    );
    assert!(io.reason.contains("I/O error"), "{}", io.reason);
    assert!(events(&r, DataDiverged).is_empty());
}

#[test]
fn split_brain_on_shared_storage_makes_histories_diverge() {
    // The first declared class is the default: NFS-like shared storage.
    let mut r = run(&shared_storage(&mysql(
        2,
        10.0,
        r#"(when: Ready(set: "mysql", count: 2), timeout: 300.0, do: PartitionNode(of: "mysql-0")),
           (after: 60.0, do: ForceDeletePod(pod: "mysql-0")),
           (when: PodReady(pod: "mysql-0", ready: true), timeout: 600.0, note: "a second mysql-0"),
           (after: 30.0, do: SetWriteRate(per_second: 0.0)),
           (after: 0.0, expect: InvariantBroken)"#,
    )));
    assert_no_failures(&r);
    // Shared storage has no attach step: no Multi-Attach wait at all.
    assert!(events(&r, VolumeMultiAttachError).is_empty());
    let div = events(&r, DataDiverged);
    assert_eq!(div.len(), 1, "{div:?}");
    let reason = &div[0].reason;
    assert!(
        reason.matches("through mysql-0 on node-").count() == 2,
        "names both servers of one identity: {reason}"
    );
    // The replica follows the new primary: the old primary's later rows exist
    // on its copy only.
    let snap = snapshot(&mut r);
    let rows = rows_by_claim(&snap);
    assert_ne!(rows[0].1, rows[1].1, "the two copies differ: {rows:?}");
}

#[test]
fn snapshot_reports_rows_per_volume_and_database_figures() {
    let mut r = run(&mysql(
        2,
        0.0,
        r#"(when: Ready(set: "mysql", count: 2), timeout: 300.0, do: Write(rows: 42)), (after: 5.0, note: "done")"#,
    ));
    assert_no_failures(&r);
    let snap = snapshot(&mut r);
    assert_eq!(
        rows_by_claim(&snap),
        [
            ("data-mysql-0".to_string(), 42),
            ("data-mysql-1".to_string(), 42)
        ]
    );
    let servers = db(&snap)["servers"].as_array().unwrap();
    let ids: Vec<(String, u64, String)> = servers
        .iter()
        .map(|s| {
            (
                s["pod"].as_str().unwrap().to_string(),
                s["server_id"].as_u64().unwrap(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            ("mysql-0".into(), 100, "primary".into()),
            ("mysql-1".into(), 101, "replicating".into())
        ]
    );
}

#[test]
fn database_commands_are_rejected_without_a_database() {
    let r = run(&set_scenario(
        "replicas: 1",
        r#"(when: Ready(set: "web", count: 1), timeout: 60.0, do: Write(rows: 5)), (after: 0.0, do: SetWriteRate(per_second: 3.0))"#,
    ));
    let rejected = events(&r, CommandRejected);
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected
            .iter()
            .all(|e| e.reason.contains("no StatefulSet runs a database"))
    );
}

#[test]
fn with_ordinals_start_1_the_primary_is_mysql_1_and_replicas_clone_down_from_it() {
    // ordinals.start: 1 names the pods mysql-1, mysql-2, mysql-3: the primary
    // is the lowest ordinal, mysql-1, and its stable name mysql-1.mysql.
    let mut r = run(&mysql_with(
        "mysql",
        3,
        10.0,
        ", ordinals_start: 1",
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, note: "load runs"),
           (after: 10.0, do: SetWriteRate(per_second: 0.0)),
           (after: 5.0, expect: ReplicaLag(pod: "mysql-2", max_rows: 0)),
           (after: 0.0, expect: ReplicaLag(pod: "mysql-3", max_rows: 0))"#,
    ));
    assert_no_failures(&r);
    let pair = |o: &str, d: &str| (o.to_string(), d.to_string());
    assert_eq!(
        details(&r, CloneStarted),
        [
            pair("pod/mysql-2", "mysql-1"),
            pair("pod/mysql-3", "mysql-2")
        ]
    );
    // Writes fail only until mysql-1 is Ready; then it takes them.
    let ready = time_of(&r, PodReady, "pod/mysql-1").unwrap();
    assert!(events(&r, WritesFailed).iter().all(|e| e.t_ms < ready));
    let resumed = events(&r, WritesResumed);
    assert_eq!(resumed.len(), 1);
    assert!(
        resumed[0].reason.contains("writes go to mysql-1"),
        "{}",
        resumed[0].reason
    );
    let started = events(&r, ReplicationStarted);
    assert_eq!(started.len(), 2);
    for e in started {
        assert_eq!(e.detail.as_deref(), Some("mysql-1.mysql"), "{e:?}");
    }
    let snap = snapshot(&mut r);
    let written = db(&snap)["written"].as_u64().unwrap();
    assert!(written >= 100, "the load wrote {written} rows");
    let states: Vec<(String, String)> = db(&snap)["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["pod"].as_str().unwrap_or_default().to_string(),
                s["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            pair("mysql-1", "primary"),
            pair("mysql-2", "replicating"),
            pair("mysql-3", "replicating")
        ]
    );
    for (claim, n) in rows_by_claim(&snap) {
        assert_eq!(n, written, "{claim}");
    }
}

#[test]
fn a_cloning_replica_is_pending_in_its_init_container_not_running() {
    // 2,000 rows on mysql-0: mysql-1's clone takes 2 s + 4 s.
    let r = run(&mysql(
        2,
        0.0,
        r#"(when: PodReady(pod: "mysql-0", ready: true), timeout: 60.0, do: Write(rows: 2000)),
           (when: EventSeen((kind: "CloneStarted", object: "pod/mysql-1")), timeout: 60.0, expect: PodStatus(pod: "mysql-1", status: "Init:1/2")),
           (after: 0.0, expect: PodPhase(pod: "mysql-1", phase: Pending)),
           (after: 1.0, expect: PodStatus(pod: "mysql-1", status: "Init:1/2")),
           (when: Ready(set: "mysql", count: 2), timeout: 60.0, expect: RowsOn(pod: "mysql-1", rows: 2000))"#,
    ));
    assert_no_failures(&r);
    let clone_done = time_of(&r, CloneFinished, "pod/mysql-1").unwrap();
    let started = time_of(&r, PodStarted, "pod/mysql-1").unwrap();
    assert_eq!(
        started, clone_done,
        "mysqld (the main container) starts when clone-mysql exits"
    );
}

#[test]
fn a_replica_whose_volume_was_initialised_skips_the_clone_even_with_no_rows() {
    // No row is ever written: data-mysql-2 holds a data directory but 0 rows.
    let r = run(&mysql(
        3,
        0.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: Scale(set: "mysql", replicas: 2)),
           (when: SetStatus(set: "mysql", replicas: 2), timeout: 120.0, do: Scale(set: "mysql", replicas: 3)),
           (when: Ready(set: "mysql", count: 3), timeout: 120.0, expect: EventSeen((kind: "CloneFinished", object: "pod/mysql-2", detail: "skipped")))"#,
    ));
    assert_no_failures(&r);
    assert_eq!(
        times_of(&r, CloneStarted, "pod/mysql-2").len(),
        1,
        "cloned the first time only, although the volume holds no rows"
    );
}

#[test]
fn a_readiness_blip_on_the_primary_keeps_replication_and_pooled_writes_but_new_lookups_fail() {
    let mut r = run(&mysql(
        3,
        0.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: SetWriteRate(per_second: 10.0)),
           (after: 5.0, do: BreakReadiness(pod: "mysql-0")),
           (after: 20.0, expect: PodReady(pod: "mysql-0", ready: false)),
           (after: 0.0, expect: WritesFailed(min: 0)),
           (after: 0.0, do: RestoreReadiness(pod: "mysql-0")),
           (after: 5.0, do: SetWriteRate(per_second: 0.0)),
           (after: 5.0, expect: ReplicaLag(pod: "mysql-2", max_rows: 0))"#,
    ));
    assert_no_failures(&r);
    assert!(
        events(&r, ReplicationBroken).is_empty(),
        "established replication survives the blip"
    );
    assert!(
        events(&r, WritesFailed).is_empty(),
        "the clients' pooled connections survive the blip"
    );
    let snap = snapshot(&mut r);
    assert_eq!(db(&snap)["failed"], 0);
}

#[test]
fn a_replica_that_starts_during_a_primary_readiness_blip_cannot_connect_until_it_passes() {
    // A new connection needs the DNS record, which a not-Ready primary lacks.
    let r = run(&mysql(
        2,
        0.0,
        r#"(when: Ready(set: "mysql", count: 2), timeout: 300.0, do: BreakReadiness(pod: "mysql-0")),
           (after: 1.0, do: CrashPod(pod: "mysql-1")),
           (after: 30.0, do: RestoreReadiness(pod: "mysql-0")),
           (when: PodReady(pod: "mysql-1", ready: true), timeout: 60.0, expect: NoInvariantBroken)"#,
    ));
    assert_no_failures(&r);
    let restored = *times_of(&r, PodReady, "pod/mysql-0").last().unwrap();
    let again = *times_of(&r, ReplicationStarted, "pod/mysql-1")
        .last()
        .unwrap();
    assert!(
        again >= restored,
        "mysql-1 reconnected at {again}, before mysql-0 had its DNS record back at {restored}"
    );
}

#[test]
fn the_mysql_read_service_balances_over_ready_pods_only() {
    let mut r = run(&mysql(
        3,
        0.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: BreakReadiness(pod: "mysql-2")),
           (after: 5.0, expect: PodReady(pod: "mysql-2", ready: false))"#,
    ));
    assert_no_failures(&r);
    let snap = snapshot(&mut r);
    assert_eq!(db(&snap)["read_service"], "mysql-read");
    assert_eq!(
        db(&snap)["read_endpoints"],
        serde_json::json!(["mysql-0", "mysql-1"]),
        "the tutorial's Break the Readiness probe: mysql-2 leaves mysql-read"
    );
}

#[test]
fn the_primary_crash_restarts_mysql_0_in_place_and_replication_resumes() {
    let mut r = run(&mysql(
        3,
        10.0,
        r#"(when: Ready(set: "mysql", count: 3), timeout: 300.0, do: CrashPod(pod: "mysql-0")),
           (after: 1.0, expect: WritesFailed(min: 1)),
           (when: PodReady(pod: "mysql-0", ready: true), timeout: 60.0, expect: PodRestarts(pod: "mysql-0", min: 1)),
           (after: 15.0, do: SetWriteRate(per_second: 0.0)),
           (after: 5.0, expect: ReplicaLag(pod: "mysql-2", max_rows: 0))"#,
    ));
    assert_no_failures(&r);
    assert_eq!(
        times_of(&r, PodCreated, "pod/mysql-0").len(),
        1,
        "same pod object"
    );
    assert_eq!(times_of(&r, ContainerRestarted, "pod/mysql-0").len(), 1);
    assert!(!times_of(&r, ReplicationBroken, "pod/mysql-1").is_empty());
    let snap = snapshot(&mut r);
    for (_, n) in rows_by_claim(&snap) {
        assert_eq!(n, db(&snap)["written"].as_u64().unwrap());
    }
}
