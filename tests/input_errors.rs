//! Bad input gets a clear error with file, line and column, never a panic.

use statefulset_sim::scenario::load_str;

fn err(text: &str) -> String {
    match load_str("bad.ron", text.as_bytes()) {
        Ok(_) => panic!("accepted bad input:\n{text}"),
        Err(d) => d.to_string(),
    }
}

const GOOD_CLUSTER: &str = r#"cluster: (nodes: [(name: "node-a")])"#;

#[test]
fn malformed_ron_points_at_line_and_column() {
    let e = err("(\n  name: \"x\",\n  cluster: (nodes: [(name: \"a\"]),\n)");
    assert!(e.starts_with("bad.ron:3:"), "{e}");
}

#[test]
fn unknown_field_is_an_error_not_ignored() {
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, workloads: [StatefulSet((name: \"web\", replica: 3, template: (image: \"i\")))])"
    ));
    assert!(e.contains("bad.ron:1:") && e.contains("replica"), "{e}");
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, steps: [(at: 1.0, do: Scale(set: \"web\", replicas: 1, typo: 1))])"
    ));
    assert!(e.contains("typo"), "{e}");
}

#[test]
fn unknown_names_are_reported_where_they_are_used() {
    let text = format!(
        "(name: \"x\", {GOOD_CLUSTER},\n workloads: [StatefulSet((name: \"web\", template: (image: \"i\")))],\n steps: [\n  (at: 1.0, do: FailNode(node: \"node-z\")),\n])"
    );
    let e = err(&text);
    assert!(
        e.starts_with("bad.ron:4:") && e.contains("unknown node \"node-z\""),
        "{e}"
    );
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, workloads: [StatefulSet((name: \"web\", template: (image: \"i\")))], steps: [(at: 1.0, do: Scale(set: \"db\", replicas: 1))])"
    ));
    assert!(e.contains("unknown workload \"db\""), "{e}");
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, workloads: [StatefulSet((name: \"web\", template: (image: \"i\"), claims: [(name: \"d\", storage_class: \"fast\")]))])"
    ));
    assert!(e.contains("unknown storage class \"fast\""), "{e}");
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, workloads: [StatefulSet((name: \"web\", template: (image: \"i\")))], steps: [(at: 1.0, expect: PodPhase(pod: \"db-0\", phase: Running))])"
    ));
    assert!(e.contains("unknown pod \"db-0\""), "{e}");
}

#[test]
fn negative_and_absurd_numbers_are_refused() {
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, workloads: [StatefulSet((name: \"web\", replicas: -3, template: (image: \"i\")))])"
    ));
    assert!(e.contains("bad.ron:1:"), "{e}");
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, workloads: [StatefulSet((name: \"web\", replicas: 1000000000, template: (image: \"i\")))])"
    ));
    assert!(e.contains("at most"), "{e}");
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, steps: [(at: -5.0, note: \"n\")])"
    ));
    assert!(e.contains("`at` must be between 0"), "{e}");
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, steps: [(after: 1e300, note: \"n\")])"
    ));
    assert!(e.contains("`after` must be between 0"), "{e}");
}

#[test]
fn duplicates_are_refused() {
    let e = err("(name: \"x\", cluster: (nodes: [(name: \"a\"), (name: \"a\")]))");
    assert!(e.contains("declared twice"), "{e}");
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, workloads: [StatefulSet((name: \"w\", template: (image: \"i\"))), Deployment((name: \"w\", template: (image: \"i\")))])"
    ));
    assert!(e.contains("declared twice"), "{e}");
}

#[test]
fn empty_and_binary_files_are_refused() {
    assert!(err("").contains("empty"));
    assert!(err("   // only a comment\n").contains("empty"));
    match load_str("bin.ron", &[0x89, 0x50, 0x4e, 0x47, 0, 1, 2]) {
        Err(d) => assert!(d.message.contains("binary"), "{d}"),
        Ok(_) => panic!("binary accepted"),
    }
    match load_str("latin1.ron", b"(name: \"caf\xe9\")") {
        Err(d) => assert!(d.message.contains("UTF-8"), "{d}"),
        Ok(_) => panic!("invalid UTF-8 accepted"),
    }
}

#[test]
fn steps_must_have_one_action_and_one_trigger() {
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, steps: [(at: 1.0, note: \"a\", pause: \"b\")])"
    ));
    assert!(e.contains("exactly one of"), "{e}");
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, steps: [(at: 1.0, after: 2.0, note: \"a\")])"
    ));
    assert!(e.contains("only one of"), "{e}");
}

#[test]
fn random_garbage_never_panics() {
    // A cheap fuzz: mutate a valid scenario byte by byte.
    let good = std::fs::read("scenarios/00-sandbox.ron").expect("sandbox scenario");
    let mut seed: u64 = 12345;
    for _ in 0..400 {
        let mut b = good.clone();
        for _ in 0..3 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (seed >> 33) as usize % b.len();
            b[i] = (seed >> 20) as u8;
        }
        let _ = load_str("fuzz.ron", &b);
    }
}

#[test]
fn an_unknown_feature_gate_is_a_load_error_with_line_and_column() {
    let text = "(\n  name: \"x\",\n  cluster: (\n    nodes: [(name: \"node-a\")],\n    feature_gates: {\"MaxUnavailableStatefulSet\": true, \"MaxUnavailableStatefulSets\": true},\n  ),\n)";
    let e = err(text);
    assert!(e.starts_with("bad.ron:5:56:"), "{e}");
    assert!(
        e.contains("unknown feature gate \"MaxUnavailableStatefulSets\"")
            && e.contains("MaxUnavailableStatefulSet"),
        "{e}"
    );
}

#[test]
fn an_unsupported_kubernetes_version_is_a_load_error_with_line_and_column() {
    for (v, what) in [
        ("1.30", "not supported"),
        ("1.38.0", "not supported"),
        ("one.thirty", "not a version"),
    ] {
        let text = format!(
            "(\n  name: \"x\",\n  cluster: (nodes: [(name: \"node-a\")],\n    kubernetes_version: \"{v}\"),\n)"
        );
        let e = err(&text);
        assert!(e.starts_with("bad.ron:4:5:") && e.contains(what), "{e}");
    }
}

#[test]
fn crash_times_must_be_between_1_and_100() {
    for times in [0, 101] {
        let text = format!(
            "(name: \"x\", {GOOD_CLUSTER},\n workloads: [StatefulSet((name: \"web\", template: (image: \"i\")))],\n steps: [\n  (at: 1.0, do: CrashPod(pod: \"web-0\", times: {times})),\n])"
        );
        let e = err(&text);
        assert!(
            e.starts_with("bad.ron:4:") && e.contains("times must be between 1 and 100"),
            "{e}"
        );
    }
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, workloads: [StatefulSet((name: \"web\", template: (image: \"i\")))], steps: [(at: 1.0, do: KubeletEvict(pod: \"db-0\"))])"
    ));
    assert!(e.contains("unknown pod \"db-0\""), "{e}");
}

#[test]
fn a_multiple_choice_question_without_its_correct_choice_is_refused() {
    let q = |extra: &str| {
        format!(
            "(name: \"x\", {GOOD_CLUSTER},\n steps: [\n  (at: 1.0, pause: \"Which pod goes first?\", {extra}),\n])"
        )
    };
    let e = err(&q(r#"choices: ["web-0", "web-4"]"#));
    assert!(
        e.starts_with("bad.ron:3:") && e.contains("without `correct`"),
        "{e}"
    );
    let e = err(&q(r#"choices: ["web-0", "web-4"], correct: "web-2""#));
    assert!(
        e.contains("\"web-2\"") && e.contains("not one of the choices"),
        "{e}"
    );
    let e = err(&q(r#"choices: ["web-0"], correct: "web-0""#));
    assert!(e.contains("2 to 4"), "{e}");
    let e = err(&q(r#"choices: ["a", "a"], correct: "a""#));
    assert!(e.contains("twice"), "{e}");
    let e = err(&format!(
        "(name: \"x\", {GOOD_CLUSTER}, steps: [(at: 1.0, note: \"n\", choices: [\"a\", \"b\"], correct: \"a\")])"
    ));
    assert!(e.contains("go with a `pause`"), "{e}");
    assert!(
        load_str(
            "ok.ron",
            q(r#"choices: ["web-0", "web-4"], correct: "web-4""#).as_bytes()
        )
        .is_ok()
    );
}
