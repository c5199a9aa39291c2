//! Loading a scenario file with diagnostics: syntax errors from RON and
//! semantic errors (unknown names, absurd sizes), each with file:line:col.

use super::format::*;
use crate::sim::SimCommand;
use crate::sim::event::EventKind;
use crate::sim::model::NodeSpec;
use crate::sim::model::{WorkloadSpec, limits};
use crate::sim::validate;
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

/// A problem with an input file, pointing at where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// A parsed and validated scenario, with where its steps start in the file.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub file: String,
    pub scenario: Scenario,
    /// (line, col) of each step.
    pub step_pos: Vec<(usize, usize)>,
    /// Warnings about its manifests (`file:line:col: warning: …`), to show
    /// before the run.
    pub warnings: Vec<String>,
}

/// RON options of the format: `node: "x"` may stand for `node: Some("x")`.
/// Nesting deeper than `limits::MAX_NESTING` is refused (RON's own limit,
/// set lower, so that no input exhausts the parser's stack).
pub fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .with_recursion_limit(limits::MAX_NESTING)
}

/// Reads at most `limits::MAX_FILE_BYTES` of a file: the size a file
/// reports is not trusted, since a device or a pipe (`/dev/zero`,
/// `<(yes)`) reports none and never ends. `what` names the kind of file in
/// the error ("scenario files").
pub fn read_bounded(path: &Path, what: &str) -> Result<Vec<u8>, Diagnostic> {
    use std::io::Read;
    let diag = |m: String| Diagnostic {
        file: path.display().to_string(),
        line: 1,
        col: 1,
        message: m,
    };
    let cap = limits::MAX_FILE_BYTES;
    let meta = std::fs::metadata(path).map_err(|e| diag(format!("cannot read the file: {e}")))?;
    if meta.is_dir() {
        return Err(diag(format!("is a directory, expected one of the {what}")));
    }
    let too_big = |n: u64| {
        diag(format!(
            "the file is {n} bytes or more; {what} are at most {cap} bytes"
        ))
    };
    if meta.len() > cap {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| diag(format!("cannot read the file: {e}")))?;
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| diag(format!("cannot read the file: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The first string literal longer than `limits::MAX_STRING_BYTES` in RON
/// text (outside comments): its byte offset and length.
fn overlong_string(text: &str) -> Option<(usize, usize)> {
    let clean = strip_comments(text);
    let b = clean.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            // An unterminated string is the RON parser's to report.
            let len = i.min(b.len()) - start - 1;
            if i < b.len() && len > limits::MAX_STRING_BYTES {
                return Some((start, len));
            }
        }
        i += 1;
    }
    None
}

/// Reads and validates a scenario file.
pub fn load_file(path: &Path) -> Result<Loaded, Diagnostic> {
    let file = path.display().to_string();
    let diag = |m: String| Diagnostic {
        file: file.clone(),
        line: 1,
        col: 1,
        message: m,
    };
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(diag(
            "is a directory, expected a scenario file (.ron)".into(),
        ));
    }
    let bytes = read_bounded(path, "scenario files")?;
    load_str(&file, &bytes)
}

/// Parses and validates scenario text (bytes, so binary input is caught).
pub fn load_str(file: &str, bytes: &[u8]) -> Result<Loaded, Diagnostic> {
    let at = |line: usize, col: usize, m: String| Diagnostic {
        file: file.to_string(),
        line,
        col,
        message: m,
    };
    if bytes.contains(&0) {
        return Err(at(1, 1, "this is a binary file, not a RON scenario".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (l, c) = line_col(
            &String::from_utf8_lossy(&bytes[..e.valid_up_to()]),
            e.valid_up_to(),
        );
        at(l, c, "the file is not valid UTF-8 text".into())
    })?;
    if strip_comments(text).trim().is_empty() {
        return Err(at(1, 1, "the file is empty: expected a scenario `(name: \"…\", cluster: (…), workloads: […], steps: […])`".into()));
    }
    if let Some((start, len)) = overlong_string(text) {
        let (l, c) = line_col(text, start);
        return Err(at(
            l,
            c,
            format!(
                "this string is {len} bytes; strings are at most {} bytes",
                limits::MAX_STRING_BYTES
            ),
        ));
    }
    let scenario: Scenario = ron_options().from_str(text).map_err(|e| {
        let message = match e.code {
            ron::Error::ExceededRecursionLimit => format!(
                "brackets nested more than {} levels deep; a scenario nests at most {} levels",
                limits::MAX_NESTING,
                limits::MAX_NESTING
            ),
            code => format!("{code} (see docs/scenario-format.md for the scenario format)"),
        };
        at(e.span.start.line, e.span.start.col, message)
    })?;
    let steps = list_items(text, &["steps"]);
    let step_pos: Vec<(usize, usize)> = (0..scenario.steps.len())
        .map(|i| steps.get(i).map_or((1, 1), |&(s, _)| line_col(text, s)))
        .collect();
    let mut loaded = Loaded {
        file: file.to_string(),
        scenario,
        step_pos,
        warnings: Vec::new(),
    };
    add_manifests(&mut loaded, text)?;
    validate(&loaded, text)?;
    Ok(loaded)
}

/// Adds the objects of the manifests a scenario names (`manifests: […]`,
/// relative to the scenario file) to its cluster and workloads.
fn add_manifests(loaded: &mut Loaded, text: &str) -> Result<(), Diagnostic> {
    if loaded.scenario.manifests.is_empty() {
        return Ok(());
    }
    let dir = Path::new(&loaded.file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let paths: Vec<std::path::PathBuf> = loaded
        .scenario
        .manifests
        .iter()
        .map(|m| dir.join(m))
        .collect();
    for (p, name) in paths.iter().zip(&loaded.scenario.manifests) {
        if !p.exists() {
            let c = Checker {
                file: &loaded.file,
                text,
            };
            return Err(c.err(
                None,
                &format!("\"{name}\""),
                format!("manifest {} does not exist", p.display()),
            ));
        }
    }
    let m = super::manifest::read_paths(&paths)?;
    let s = &mut loaded.scenario;
    s.cluster.nodes.extend(m.nodes.iter().cloned());
    s.cluster.storage_classes.extend(m.classes.iter().cloned());
    s.workloads.extend(m.workloads.iter().cloned());
    s.disruption_budgets.extend(m.budgets.iter().cloned());
    loaded
        .warnings
        .extend(m.warnings.iter().map(|w| w.to_string()));
    Ok(())
}

/// A scenario built in memory (from manifests), validated as a file would be.
pub fn from_scenario(
    file: &str,
    scenario: Scenario,
    warnings: Vec<String>,
) -> Result<Loaded, Diagnostic> {
    let loaded = Loaded {
        file: file.to_string(),
        step_pos: vec![(1, 1); scenario.steps.len()],
        scenario,
        warnings,
    };
    validate(&loaded, "")?;
    Ok(loaded)
}

/// (line, col), 1-based, of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The text with comments blanked out (same length, so offsets still hold).
fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        if in_str {
            if b[i] == b'\\' {
                i += 2;
                continue;
            }
            if b[i] == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if b[i] == b'"' {
            in_str = true;
            i += 1;
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                out[i] = b' ';
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out[i] = b' ';
                    out[i + 1] = b' ';
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out[i] = b' ';
                    out[i + 1] = b' ';
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] != b'\n' {
                        out[i] = b' ';
                    }
                    i += 1;
                }
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

/// Byte ranges of the items of the list at `path` (e.g. ["cluster", "nodes"]),
/// found by scanning brackets outside strings and comments.
pub fn list_items(text: &str, path: &[&str]) -> Vec<(usize, usize)> {
    let clean = strip_comments(text);
    let b = clean.as_bytes();
    // Find each key in turn at the next nesting level.
    let mut from = 0usize;
    let mut depth_needed = 1usize;
    let mut list_start = None;
    for (k, key) in path.iter().enumerate() {
        let Some(pos) = find_key(b, key, from, depth_needed) else {
            return Vec::new();
        };
        // Skip to the ':' then to the opening bracket.
        let mut i = pos + key.len();
        while i < b.len() && b[i] != b':' {
            i += 1;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if k + 1 == path.len() {
            if b.get(i) == Some(&b'[') {
                list_start = Some(i);
            }
        } else {
            from = i;
            depth_needed += 1;
        }
    }
    let Some(open) = list_start else {
        return Vec::new();
    };
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut in_str = false;
    let mut cur: Option<usize> = None;
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                if depth == 1 && cur.is_none() {
                    cur = Some(i);
                }
            }
            b'(' | b'[' | b'{' => {
                if depth == 1 && cur.is_none() {
                    cur = Some(i);
                }
                depth += 1;
            }
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    if let Some(s) = cur.take() {
                        items.push((s, i));
                    }
                    break;
                }
            }
            b',' if depth == 1 => {
                if let Some(s) = cur.take() {
                    items.push((s, i));
                }
            }
            c if depth == 1 && !c.is_ascii_whitespace() && cur.is_none() => cur = Some(i),
            _ => {}
        }
        i += 1;
    }
    items
}

/// Offset of `key` followed by ':' at bracket depth `depth`, from `from`.
fn find_key(b: &[u8], key: &str, from: usize, depth: usize) -> Option<usize> {
    let kb = key.as_bytes();
    let mut in_str = false;
    let mut i = from;
    // Depth is counted from `from`, whose enclosing level is depth-1.
    let base = depth - 1;
    let mut level = base;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'(' | b'[' | b'{' => level += 1,
            b')' | b']' | b'}' => {
                if level == base {
                    return None;
                }
                level -= 1;
            }
            _ => {
                if level == depth
                    && b[i..].starts_with(kb)
                    && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
                {
                    let mut j = i + kb.len();
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if b.get(j) == Some(&b':') {
                        return Some(i);
                    }
                }
            }
        }
        i += 1;
    }
    None
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    /// An error at the first occurrence of `needle` inside `range`, else at its start.
    fn err(&self, range: Option<(usize, usize)>, needle: &str, msg: String) -> Diagnostic {
        let (s, e) = range.unwrap_or((0, self.text.len()));
        let off = self.text[s..e.min(self.text.len())]
            .find(needle)
            .map_or(s, |p| s + p);
        let (line, col) = line_col(self.text, off);
        Diagnostic {
            file: self.file.to_string(),
            line,
            col,
            message: msg,
        }
    }
}

/// A kubectl step parses, and is not one that moves the clock.
fn check_kubectl(line: &str, scenario_file: &str) -> Result<(), String> {
    use super::kubectl::Kubectl as K;
    match super::kubectl::parse(line) {
        Ok(K::Sleep { .. }) => Err("`sleep` moves the clock: in a scenario use `after:`".into()),
        Ok(K::Wait { .. }) => Err("`wait` moves the clock: in a scenario use `when:`".into()),
        Ok(K::Apply { file })
            if !super::kubectl::apply::resolve(&file, Some(scenario_file)).exists() =>
        {
            Err(format!(
                "kubectl apply -f {file}: no such file (a relative path is looked up in the current directory, then next to the scenario)"
            ))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "kubectl {line:?}: {}",
            e.trim_start_matches("error: ")
        )),
    }
}

/// PodDisruptionBudgets: a DNS name, unique, over a declared workload, with
/// at most one of minAvailable and maxUnavailable, each a count or percentage.
fn validate_budgets(
    c: &Checker,
    s: &Scenario,
    sets: &BTreeSet<String>,
    deployments: &BTreeSet<String>,
) -> Result<(), Diagnostic> {
    let items = list_items(c.text, &["disruption_budgets"]);
    let mut names = BTreeSet::new();
    for (i, b) in s.disruption_budgets.iter().enumerate() {
        let r = items.get(i).copied();
        let quoted = format!("\"{}\"", b.name);
        validate::dns_label("disruption budget name", &b.name).map_err(|m| c.err(r, &quoted, m))?;
        if !names.insert(b.name.clone()) {
            return Err(c.err(
                r,
                &quoted,
                format!("disruption budget {} is declared twice", b.name),
            ));
        }
        if !sets.contains(&b.set) && !deployments.contains(&b.set) {
            return Err(c.err(
                r,
                "set",
                format!("disruption budget {}: no workload named {}", b.name, b.set),
            ));
        }
        if b.min_available.is_some() && b.max_unavailable.is_some() {
            return Err(c.err(
                r,
                "max_unavailable",
                format!(
                    "disruption budget {}: give min_available or max_unavailable, not both",
                    b.name
                ),
            ));
        }
        for (field, v) in [
            ("min_available", &b.min_available),
            ("max_unavailable", &b.max_unavailable),
        ] {
            if let Some(v) = v {
                validate::int_or_percent(field, v)
                    .map_err(|m| c.err(r, field, format!("disruption budget {}: {m}", b.name)))?;
            }
        }
    }
    Ok(())
}

/// Semantic checks: names, references, sizes, step shape.
fn validate(l: &Loaded, text: &str) -> Result<(), Diagnostic> {
    let c = Checker {
        file: &l.file,
        text,
    };
    let s = &l.scenario;
    let whole = Some((0, text.len()));
    if s.name.trim().is_empty() {
        return Err(c.err(
            whole,
            "name",
            "the scenario needs a non-empty `name`".into(),
        ));
    }
    // Cluster.
    let node_items = list_items(text, &["cluster", "nodes"]);
    if s.cluster.nodes.is_empty() {
        return Err(c.err(
            whole,
            "cluster",
            "cluster.nodes is empty: a cluster needs at least one node".into(),
        ));
    }
    validate::node_count(s.cluster.nodes.len()).map_err(|m| c.err(whole, "nodes", m))?;
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    for (i, n) in s.cluster.nodes.iter().enumerate() {
        let r = node_items.get(i).copied();
        validate::dns_label("node name", &n.name)
            .map_err(|m| c.err(r, &format!("\"{}\"", n.name), m))?;
        validate::dns_label("zone", &n.zone)
            .map_err(|m| c.err(r, &format!("\"{}\"", n.zone), m))?;
        validate::node_capacity(&n.name, n.cpu_millis, n.memory_mib)
            .map_err(|m| c.err(r, "cpu_millis", m))?;
        if !nodes.insert(n.name.clone()) {
            return Err(c.err(
                r,
                &format!("\"{}\"", n.name),
                format!("node {} is declared twice", n.name),
            ));
        }
    }
    crate::sim::version::ClusterVersion::resolve(
        s.cluster.kubernetes_version.as_deref(),
        &s.cluster.feature_gates,
    )
    .map_err(|e| match e {
        crate::sim::version::VersionError::Version(m) => c.err(whole, "kubernetes_version", m),
        crate::sim::version::VersionError::Gate(name, m) => {
            let from = strip_comments(text).find("feature_gates").unwrap_or(0);
            c.err(Some((from, text.len())), &format!("\"{name}\""), m)
        }
    })?;
    let mut classes: BTreeSet<String> = BTreeSet::new();
    for sc in &s.cluster.storage_classes {
        validate::dns_label("storage class name", &sc.name)
            .map_err(|m| c.err(whole, &format!("\"{}\"", sc.name), m))?;
        if !classes.insert(sc.name.clone()) {
            return Err(c.err(
                whole,
                &format!("\"{}\"", sc.name),
                format!("storage class {} is declared twice", sc.name),
            ));
        }
    }
    if classes.is_empty() {
        classes.insert("standard".into());
    }
    // Workloads.
    let wl_items = list_items(text, &["workloads"]);
    if s.workloads.len() > limits::MAX_WORKLOADS {
        return Err(c.err(
            whole,
            "workloads",
            format!("at most {} workloads", limits::MAX_WORKLOADS),
        ));
    }
    let mut sets: BTreeSet<String> = BTreeSet::new();
    let mut deployments: BTreeSet<String> = BTreeSet::new();
    let mut claim_patterns: Vec<(String, String)> = Vec::new();
    let mut total_replicas: u64 = 0;
    for (i, w) in s.workloads.iter().enumerate() {
        let r = wl_items.get(i).copied();
        let name = w.name();
        validate::workload_name(name).map_err(|m| c.err(r, &format!("\"{name}\""), m))?;
        if sets.contains(name) || deployments.contains(name) {
            return Err(c.err(
                r,
                &format!("\"{name}\""),
                format!("a workload named {name} is declared twice"),
            ));
        }
        let (replicas, template) = match w {
            WorkloadSpec::StatefulSet(ss) => (ss.replicas, &ss.template),
            WorkloadSpec::Deployment(d) => (d.replicas, &d.template),
        };
        validate::replicas(replicas).map_err(|m| c.err(r, "replicas", format!("{name}: {m}")))?;
        total_replicas += replicas as u64;
        if template.image.trim().is_empty() {
            return Err(c.err(r, "image", format!("{name}: template.image is empty")));
        }
        for (field, v) in [
            ("start_seconds", template.start_seconds),
            ("ready_seconds", template.ready_seconds),
            ("stop_seconds", template.stop_seconds),
            ("grace_seconds", template.grace_seconds),
            (
                "toleration_seconds",
                template.toleration_seconds.map_or(0.0, |t| t as f64),
            ),
        ] {
            if !validate::seconds(v) {
                return Err(c.err(
                    r,
                    field,
                    format!(
                        "{name}: template.{field} must be between 0 and {} seconds, got {v}",
                        limits::MAX_SECONDS
                    ),
                ));
            }
        }
        for t in &template.anti_affinity {
            validate::anti_affinity(t).map_err(|m| {
                c.err(
                    r,
                    "anti_affinity",
                    format!("{name}: template.anti_affinity: {m}"),
                )
            })?;
            if let Some(other) = t.set()
                && !s.workloads.iter().any(|w| w.name() == other)
            {
                return Err(c.err(
                    r,
                    "anti_affinity",
                    format!(
                        "{name}: template.anti_affinity names set {other:?}, which is not declared"
                    ),
                ));
            }
        }
        match w {
            WorkloadSpec::StatefulSet(ss) => {
                sets.insert(name.to_string());
                if ss.ordinals_start > validate::MAX_ORDINALS_START {
                    return Err(c.err(
                        r,
                        "ordinals_start",
                        format!(
                            "{name}: ordinals_start is at most {}",
                            validate::MAX_ORDINALS_START
                        ),
                    ));
                }
                if ss.min_ready_seconds as f64 > limits::MAX_SECONDS {
                    return Err(c.err(
                        r,
                        "min_ready_seconds",
                        format!("{name}: min_ready_seconds is too large"),
                    ));
                }
                if let Some(svc) = &ss.service {
                    validate::dns_label("service", svc)
                        .map_err(|m| c.err(r, "service", format!("{name}: {m}")))?;
                }
                if let crate::sim::model::UpdateStrategy::RollingUpdate {
                    max_unavailable, ..
                } = &ss.update_strategy
                {
                    validate::int_or_percent("max_unavailable", max_unavailable)
                        .map_err(|m| c.err(r, "max_unavailable", format!("{name}: {m}")))?;
                }
                if ss.claims.len() > limits::MAX_CLAIM_TEMPLATES {
                    return Err(c.err(
                        r,
                        "claims",
                        format!(
                            "{name}: at most {} claim templates",
                            limits::MAX_CLAIM_TEMPLATES
                        ),
                    ));
                }
                let mut seen = BTreeSet::new();
                for ct in &ss.claims {
                    validate::dns_label("claim template name", &ct.name).map_err(|m| {
                        c.err(r, &format!("\"{}\"", ct.name), format!("{name}: {m}"))
                    })?;
                    if !seen.insert(ct.name.clone()) {
                        return Err(c.err(
                            r,
                            &format!("\"{}\"", ct.name),
                            format!("{name}: claim template {} is declared twice", ct.name),
                        ));
                    }
                    if let Some(sc) = &ct.storage_class
                        && !classes.contains(sc)
                    {
                        return Err(c.err(
                            r,
                            &format!("\"{sc}\""),
                            format!(
                                "{name}: unknown storage class {sc:?} (declared: {})",
                                classes.iter().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                    claim_patterns.push((ct.name.clone(), ss.name.clone()));
                }
                if let Some(crate::sim::model::DatabaseSpec::Mysql { write_rate }) = &ss.database {
                    validate::write_rate(*write_rate)
                        .map_err(|m| c.err(r, "write_rate", format!("{name}: {m}")))?;
                }
                if ss.database.is_some() && ss.claims.is_empty() {
                    return Err(c.err(
                        r,
                        "database",
                        format!("{name}: a database needs a claim template for its data"),
                    ));
                }
            }
            WorkloadSpec::Deployment(d) => {
                deployments.insert(name.to_string());
                for (field, v) in [
                    ("max_surge", &d.max_surge),
                    ("max_unavailable", &d.max_unavailable),
                ] {
                    validate::int_or_percent(field, v)
                        .map_err(|m| c.err(r, field, format!("{name}: {m}")))?;
                }
            }
        }
    }
    if total_replicas > 2 * limits::MAX_REPLICAS as u64 {
        return Err(c.err(
            whole,
            "workloads",
            format!(
                "{total_replicas} replicas in all; at most {}",
                2 * limits::MAX_REPLICAS
            ),
        ));
    }
    validate_budgets(&c, s, &sets, &deployments)?;
    // Steps.
    if s.steps.len() > limits::MAX_STEPS {
        return Err(c.err(
            whole,
            "steps",
            format!("{} steps; at most {}", s.steps.len(), limits::MAX_STEPS),
        ));
    }
    let step_items = list_items(text, &["steps"]);
    let known_pod = |p: &str| -> bool {
        sets.iter()
            .any(|s| validate::set_pod_ordinal(s, p).is_some())
            || deployments
                .iter()
                .any(|d| validate::is_deployment_pod(d, p))
    };
    let known_claim = |cl: &str| -> bool {
        claim_patterns
            .iter()
            .any(|(template, set)| validate::set_claim_ordinal(template, set, cl).is_some())
    };
    for (i, st) in s.steps.iter().enumerate() {
        let r = step_items.get(i).copied();
        let n = i + 1;
        let triggers = st.at.is_some() as u8 + st.after.is_some() as u8 + st.when.is_some() as u8;
        if triggers > 1 {
            return Err(c.err(
                r,
                "",
                format!("step {n}: give only one of `at`, `after`, `when`"),
            ));
        }
        let actions = st.command.is_some() as u8
            + st.expect.is_some() as u8
            + st.note.is_some() as u8
            + st.pause.is_some() as u8;
        if actions != 1 {
            return Err(c.err(r, "", format!("step {n}: give exactly one of `do`, `expect`, `note`, `pause` (found {actions})")));
        }
        if st.answer.is_some() && st.pause.is_none() {
            return Err(c.err(
                r,
                "answer",
                format!("step {n}: `answer` goes with a `pause` (the question it answers)"),
            ));
        }
        if let Some(msg) = choices_problem(st) {
            return Err(c.err(r, "choices", format!("step {n}: {msg}")));
        }
        for (field, v) in [("at", st.at), ("after", st.after), ("timeout", st.timeout)] {
            if let Some(v) = v
                && !validate::seconds(v)
            {
                return Err(c.err(
                    r,
                    field,
                    format!(
                        "step {n}: `{field}` must be between 0 and {} seconds, got {v}",
                        limits::MAX_SECONDS
                    ),
                ));
            }
        }
        if st.timeout.is_some() && st.when.is_none() {
            return Err(c.err(
                r,
                "timeout",
                format!("step {n}: `timeout` goes with `when`"),
            ));
        }
        let check_pod = |p: &str| -> Result<(), Diagnostic> {
            if known_pod(p) {
                Ok(())
            } else {
                Err(c.err(r, &format!("\"{p}\""), format!("step {n}: unknown pod {p:?}: pods are named <statefulset>-<ordinal> or <deployment>-…")))
            }
        };
        let check_set = |x: &str, deploy_ok: bool| -> Result<(), Diagnostic> {
            if sets.contains(x) || (deploy_ok && deployments.contains(x)) {
                Ok(())
            } else {
                Err(c.err(
                    r,
                    &format!("\"{x}\""),
                    format!(
                        "step {n}: unknown {} {x:?}",
                        if deploy_ok { "workload" } else { "StatefulSet" }
                    ),
                ))
            }
        };
        let check_claim = |x: &str| -> Result<(), Diagnostic> {
            if known_claim(x) {
                Ok(())
            } else {
                Err(c.err(r, &format!("\"{x}\""), format!("step {n}: unknown claim {x:?}: claims are named <template>-<statefulset>-<ordinal>")))
            }
        };
        // A step's error, at the first `needle` in the step.
        let step_err = |needle: &str, m: String| c.err(r, needle, format!("step {n}: {m}"));
        if let Some(cmd) = &st.command {
            if let Some((node, of)) = cmd.node_ref() {
                let node_ref = validate::node_ref(cmd.name(), node, of).map_err(|m| {
                    let at = if node.is_some() { "of" } else { cmd.name() };
                    c.err(r, at, format!("step {n}: {m}"))
                })?;
                match node_ref {
                    validate::NodeRef::Name(x) => {
                        if !nodes.contains(x) {
                            return Err(c.err(
                                r,
                                &format!("\"{x}\""),
                                format!(
                                    "step {n}: unknown node {x:?} (nodes: {})",
                                    nodes.iter().cloned().collect::<Vec<_>>().join(", ")
                                ),
                            ));
                        }
                    }
                    validate::NodeRef::Of(p) => check_pod(p)?,
                }
            }
            use SimCommand::*;
            match cmd {
                Scale { set, replicas } => {
                    check_set(set, true)?;
                    validate::replicas(*replicas).map_err(|m| step_err("replicas", m))?;
                }
                SetImage { set, image } => {
                    check_set(set, true)?;
                    validate::image(image).map_err(|m| step_err("image", m))?;
                }
                SetPartition { set, .. } => check_set(set, false)?,
                SetMaxUnavailable { set, value } => {
                    check_set(set, false)?;
                    validate::int_or_percent("max_unavailable", value)
                        .map_err(|m| step_err("value", m))?;
                }
                DeletePod { pod }
                | ForceDeletePod { pod }
                | BreakReadiness { pod }
                | RestoreReadiness { pod }
                | EvictPod { pod }
                | KubeletEvict { pod } => check_pod(pod)?,
                Kubectl(line) => check_kubectl(line, c.file).map_err(|m| step_err("Kubectl", m))?,
                CrashPod { pod, times } => {
                    check_pod(pod)?;
                    validate::crash_times(*times).map_err(|m| step_err("times", m))?;
                }
                AddNode {
                    name,
                    zone,
                    cpu_millis,
                    memory_mib,
                } => {
                    let quoted = format!("\"{name}\"");
                    validate::dns_label("node name", name).map_err(|m| step_err(&quoted, m))?;
                    validate::dns_label("zone", zone)
                        .map_err(|m| step_err(&format!("\"{zone}\""), m))?;
                    validate::node_capacity(
                        name,
                        cpu_millis.unwrap_or(NodeSpec::DEFAULT_CPU_MILLIS),
                        memory_mib.unwrap_or(NodeSpec::DEFAULT_MEMORY_MIB),
                    )
                    .map_err(|m| step_err("cpu_millis", m))?;
                    nodes.insert(name.clone());
                }
                DeleteClaim { claim } => check_claim(claim)?,
                ExpandClaim { claim, size_gib } => {
                    check_claim(claim)?;
                    validate::claim_size(*size_gib).map_err(|m| step_err("size_gib", m))?;
                }
                DeleteSet { set, .. } => check_set(set, true)?,
                Write { rows, set } => {
                    if let Some(x) = set {
                        check_set(x, false)?;
                    }
                    validate::write_rows(*rows).map_err(|m| step_err("rows", m))?;
                }
                SetWriteRate { per_second, set } => {
                    if let Some(x) = set {
                        check_set(x, false)?;
                    }
                    validate::write_rate(*per_second).map_err(|m| step_err("per_second", m))?;
                }
                _ => {}
            }
        }
        for chk in [&st.when, &st.expect].into_iter().flatten() {
            match chk {
                Check::PodPhase { pod, .. }
                | Check::PodStatus { pod, .. }
                | Check::PodRestarts { pod, .. }
                | Check::PodReady { pod, .. }
                | Check::PodRevision { pod, .. }
                | Check::ReplicaLag { pod, .. }
                | Check::RowsOn { pod, .. } => check_pod(pod)?,
                Check::PodOnNode { pod, node } => {
                    check_pod(pod)?;
                    if let Some(x) = node
                        && !nodes.contains(x)
                    {
                        return Err(c.err(
                            r,
                            &format!("\"{x}\""),
                            format!("step {n}: unknown node {x:?}"),
                        ));
                    }
                }
                Check::ClaimExists { claim, .. } => check_claim(claim)?,
                Check::VolumeAttached { claim, node } => {
                    check_claim(claim)?;
                    if let Some(x) = node
                        && !nodes.contains(x)
                    {
                        return Err(c.err(
                            r,
                            &format!("\"{x}\""),
                            format!("step {n}: unknown node {x:?}"),
                        ));
                    }
                }
                Check::SetStatus { set, .. } => check_set(set, true)?,
                Check::Ready { set, .. } => check_set(set, true)?,
                Check::WritesFailed { set: Some(x), .. } => check_set(x, false)?,
                Check::Converged { set } | Check::NoWriteLost { set: Some(set) } => {
                    check_set(set, false)?
                }
                Check::EventOrder(refs) => {
                    for e in refs {
                        if EventKind::parse(&e.kind).is_none() {
                            return Err(c.err(
                                r,
                                &e.kind,
                                format!("step {n}: unknown event kind {:?}", e.kind),
                            ));
                        }
                    }
                }
                Check::EventSeen(e) if EventKind::parse(&e.kind).is_none() => {
                    return Err(c.err(
                        r,
                        &e.kind,
                        format!("step {n}: unknown event kind {:?}", e.kind),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// What is wrong with a step's multiple choice, if anything: `choices` and
/// `correct` go with a `pause`, 2 to 4 different, non-empty choices (A to D
/// for a show of hands), and `correct` names one of them.
fn choices_problem(st: &Step) -> Option<String> {
    let Some(choices) = &st.choices else {
        return st
            .correct
            .as_ref()
            .map(|_| "`correct` goes with `choices`".to_string());
    };
    if st.pause.is_none() {
        return Some("`choices` go with a `pause` (the question they answer)".to_string());
    }
    if !(2..=4).contains(&choices.len()) {
        return Some(format!(
            "`choices` needs 2 to 4 choices (A to D), got {}",
            choices.len()
        ));
    }
    if choices.iter().any(|c| c.trim().is_empty()) {
        return Some("a choice is empty".to_string());
    }
    for (i, c) in choices.iter().enumerate() {
        if choices[..i].contains(c) {
            return Some(format!("the choice \"{c}\" is given twice"));
        }
    }
    match &st.correct {
        None => Some(format!(
            "`choices` without `correct`: add `correct: \"…\"`, one of {}",
            quoted(choices)
        )),
        Some(want) if !choices.contains(want) => Some(format!(
            "`correct: \"{want}\"` is not one of the choices {}",
            quoted(choices)
        )),
        Some(_) => None,
    }
}

/// `"a", "b", "c"`: choices as a message lists them.
fn quoted(choices: &[String]) -> String {
    choices
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
