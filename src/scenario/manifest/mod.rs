//! Kubernetes manifests in: multi-document YAML files (or folders of them)
//! with StatefulSets, Deployments, Services, StorageClasses, claims,
//! PodDisruptionBudgets and Nodes, read with the API's own types
//! (k8s-openapi) and turned into a scenario. Fields the simulator does not
//! model are warned about once; misspelt keys are warned about where they
//! were written; anything it cannot take is an error at `file:line:col`.

mod affinity;
mod convert;
pub mod fields;
pub mod yaml;

use crate::scenario::{Diagnostic, Loaded, Scenario};
use crate::sim::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use yaml::{Node, Pos, Value};

pub use convert::{bytes, cpu_millis, first_ready_seconds, memory_mib, storage_kind};

/// A warning about a manifest: a field ignored or misspelt.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub file: String,
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: warning: {}",
            self.file, self.pos.line, self.pos.col, self.message
        )
    }
}

/// The cluster to simulate when the manifests declare no Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterShape {
    pub nodes: u32,
    pub zones: u32,
}

impl Default for ClusterShape {
    /// Three nodes in three zones.
    fn default() -> Self {
        ClusterShape { nodes: 3, zones: 3 }
    }
}

impl ClusterShape {
    /// `node-a`… in `zone-1`…, round robin over the zones.
    pub fn nodes(&self) -> Vec<NodeSpec> {
        (0..self.nodes)
            .map(|i| NodeSpec {
                name: if self.nodes <= 26 {
                    format!("node-{}", (b'a' + i as u8) as char)
                } else {
                    format!("node-{}", i + 1)
                },
                zone: format!("zone-{}", i % self.zones.max(1) + 1),
                cpu_millis: NodeSpec::DEFAULT_CPU_MILLIS,
                memory_mib: NodeSpec::DEFAULT_MEMORY_MIB,
            })
            .collect()
    }
}

/// What a set of manifests declares, in the simulator's terms.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    pub nodes: Vec<NodeSpec>,
    pub classes: Vec<StorageClassSpec>,
    pub workloads: Vec<WorkloadSpec>,
    pub budgets: Vec<DisruptionBudgetSpec>,
    /// Service names (headless or not), as declared.
    pub services: Vec<String>,
    pub warnings: Vec<Warning>,
    /// Each workload's pod template labels, to resolve PDB selectors.
    labels: Vec<(String, BTreeMap<String, String>)>,
    /// PDBs waiting for their selector to be resolved.
    pending_budgets: Vec<PendingBudget>,
    /// (kind, path) pairs already warned about, so each is said once.
    said: BTreeSet<(String, String)>,
    /// podAntiAffinity terms waiting for their selector to be resolved.
    pending_anti: Vec<affinity::PendingTerm>,
}

/// A PodDisruptionBudget read, its selector not yet matched to a workload.
#[derive(Debug, Clone)]
struct PendingBudget {
    file: String,
    /// Where its selector was written.
    pos: Pos,
    match_labels: BTreeMap<String, String>,
    spec: DisruptionBudgetSpec,
}

impl Manifests {
    /// Remembers a workload's pod template labels (PDB selectors match them).
    fn add_labels(&mut self, workload: &str, labels: BTreeMap<String, String>) {
        self.labels.push((workload.to_string(), labels));
    }
    /// A budget to resolve once every workload is read.
    fn push_budget(
        &mut self,
        file: &str,
        pos: Pos,
        match_labels: BTreeMap<String, String>,
        spec: DisruptionBudgetSpec,
    ) {
        self.pending_budgets.push(PendingBudget {
            file: file.to_string(),
            pos,
            match_labels,
            spec,
        });
    }
}

/// Is this path a manifest (YAML/JSON) rather than a RON scenario?
pub fn is_manifest_path(p: &Path) -> bool {
    p.is_dir()
        || p.extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
}

/// The files a path stands for: itself, or a folder's `*.yaml`, `*.yml`
/// and `*.json` files in name order.
fn expand(path: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let diag = |m: String| Diagnostic {
        file: path.display().to_string(),
        line: 1,
        col: 1,
        message: m,
    };
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| diag(format!("cannot read the folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.is_dir() && is_manifest_path(p))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(diag(
            "the folder holds no .yaml, .yml or .json manifest".into(),
        ));
    }
    Ok(files)
}

/// Reads manifests from files and folders.
pub fn read_paths(paths: &[PathBuf]) -> Result<Manifests, Diagnostic> {
    let mut m = Manifests::default();
    for p in paths {
        for f in expand(p)? {
            read_file(&f, &mut m)?;
        }
    }
    resolve_budgets(&mut m)?;
    affinity::resolve(&mut m)?;
    Ok(m)
}

fn read_file(path: &Path, m: &mut Manifests) -> Result<(), Diagnostic> {
    let file = path.display().to_string();
    let bytes = crate::scenario::load::read_bounded(path, "manifest files")?;
    read_str(&file, &bytes, m)
}

/// Reads one file's manifests from `bytes`, budgets resolved against the
/// workloads they select: what `read_paths` does for a single file.
pub fn read_bytes(file: &str, bytes: &[u8]) -> Result<Manifests, Diagnostic> {
    let mut m = Manifests::default();
    read_str(file, bytes, &mut m)?;
    resolve_budgets(&mut m)?;
    Ok(m)
}

/// Reads the manifests in `bytes` (one file's text) into `m`.
pub fn read_str(file: &str, bytes: &[u8], m: &mut Manifests) -> Result<(), Diagnostic> {
    let at = |pos: Pos, message: String| Diagnostic {
        file: file.to_string(),
        line: pos.line,
        col: pos.col,
        message,
    };
    let start = Pos { line: 1, col: 1 };
    if bytes.contains(&0) {
        return Err(at(
            start,
            "this is a binary file, not a YAML manifest".into(),
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| at(start, "the file is not valid UTF-8 text".into()))?;
    let docs = yaml::parse_documents(text)
        .map_err(|e| at(e.pos, format!("invalid YAML: {}", e.message)))?;
    if docs.is_empty() {
        return Err(at(
            start,
            "the file holds no Kubernetes object (expected apiVersion, kind, metadata, spec)"
                .into(),
        ));
    }
    for doc in &docs {
        read_doc(file, doc, m)?;
    }
    Ok(())
}

/// A scalar field of the document, required.
fn required(file: &str, doc: &Node, path: &str) -> Result<String, Diagnostic> {
    let parent = path.rsplit_once('.').map_or(Some(doc), |(p, _)| doc.at(p));
    let pos = parent.map_or(doc.pos, |n| n.pos);
    let at = |message: String| Diagnostic {
        file: file.to_string(),
        line: pos.line,
        col: pos.col,
        message,
    };
    if !matches!(doc.value, Value::Map(_)) {
        return Err(at(
            "expected a Kubernetes object (a mapping with apiVersion, kind, metadata)".into(),
        ));
    }
    match doc.at(path) {
        Some(n) => n
            .text()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| at(format!("{path} must be a non-empty string"))),
        None => Err(at(format!("{path} is required"))),
    }
}

/// Kinds read but not simulated (a warning, not an error: real manifests
/// ship them beside the workload).
const NOT_SIMULATED_KINDS: &[&str] = &[
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Namespace",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "Ingress",
    "NetworkPolicy",
    "HorizontalPodAutoscaler",
    "PersistentVolumeClaim",
    "PersistentVolume",
];

fn read_doc(file: &str, doc: &Node, m: &mut Manifests) -> Result<(), Diagnostic> {
    let kind = required(file, doc, "kind")?;
    required(file, doc, "apiVersion")?;
    let name = required(file, doc, "metadata.name")?;
    let d = convert::Doc {
        file,
        node: doc,
        kind: kind.clone(),
        name: name.clone(),
    };
    let dns = match kind.as_str() {
        "StatefulSet" | "Deployment" => crate::sim::validate::workload_name(&name),
        _ => crate::sim::validate::dns_label("name", &name),
    };
    if !NOT_SIMULATED_KINDS.contains(&kind.as_str()) {
        dns.map_err(|e| d.err("metadata.name", e))?;
    }
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, policy::v1 as policy};
    match kind.as_str() {
        "StatefulSet" => convert::stateful_set(&d, &typed::<apps::StatefulSet>(&d, m)?, m),
        "Deployment" => convert::deployment(&d, &typed::<apps::Deployment>(&d, m)?, m),
        "StorageClass" => convert::storage_class(
            &d,
            &typed::<k8s_openapi::api::storage::v1::StorageClass>(&d, m)?,
            m,
        ),
        "Node" => convert::node(&d, &typed::<core::Node>(&d, m)?, m),
        "PodDisruptionBudget" => {
            convert::disruption_budget(&d, &typed::<policy::PodDisruptionBudget>(&d, m)?, m)
        }
        "Service" => {
            typed::<core::Service>(&d, m)?;
            m.services.push(name);
            Ok(())
        }
        k if NOT_SIMULATED_KINDS.contains(&k) => {
            let msg = if k == "PersistentVolumeClaim" {
                format!(
                    "ignored: PersistentVolumeClaim {name} (not simulated: claims are made from a StatefulSet's volumeClaimTemplates)"
                )
            } else {
                format!("ignored: {k} {name} (not simulated)")
            };
            m.warnings.push(d.warn("kind", msg));
            Ok(())
        }
        k => Err(d.err(
            "kind",
            format!(
                "kind {k} is not simulated; expected StatefulSet, Deployment, Service, StorageClass, PersistentVolumeClaim, PodDisruptionBudget or Node"
            ),
        )),
    }
}

/// Reads the document as its k8s-openapi type: a type error is an error at
/// its position; unknown keys and fields the simulator ignores are warnings.
fn typed<T: serde::de::DeserializeOwned>(
    d: &convert::Doc,
    m: &mut Manifests,
) -> Result<T, Diagnostic> {
    let (t, unknown) = yaml::from_node::<T>(d.node).map_err(|e| {
        let pos = e.pos.unwrap_or(d.node.pos);
        let at = if e.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", e.path)
        };
        Diagnostic {
            file: d.file.to_string(),
            line: pos.line,
            col: pos.col,
            message: format!("{} {}: {at}{}", d.kind, d.name, e.message),
        }
    })?;
    let mut skip = BTreeSet::new();
    for u in unknown {
        let hint = u
            .suggestion
            .map(|s| format!(" (did you mean {s}?)"))
            .unwrap_or_default();
        m.warnings.push(Warning {
            file: d.file.to_string(),
            pos: u.pos,
            message: format!(
                "{} {}: unknown field {}{hint}; it is ignored",
                d.kind, d.name, u.path
            ),
        });
        skip.insert(strip_indices(&u.path));
    }
    ignored_fields(d, d.node, "", &skip, m);
    Ok(t)
}

/// `spec.containers[0].image` → `spec.containers.image`.
fn strip_indices(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Warns once per (kind, path) about each field set in the document that
/// the simulator does not model.
fn ignored_fields(
    d: &convert::Doc,
    node: &Node,
    path: &str,
    skip: &BTreeSet<String>,
    m: &mut Manifests,
) {
    match &node.value {
        Value::Seq(items) => {
            for item in items {
                ignored_fields(d, item, path, skip, m);
            }
        }
        Value::Map(entries) => {
            for (k, pos, v) in entries {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if v.value == Value::Null || skip.contains(&p) {
                    continue;
                }
                match fields::honoured(&d.kind, &p) {
                    Some(true) => {}
                    Some(false) => ignored_fields(d, v, &p, skip, m),
                    None => {
                        if m.said.insert((d.kind.clone(), p.clone())) {
                            m.warnings.push(Warning {
                                file: d.file.to_string(),
                                pos: *pos,
                                message: format!(
                                    "ignored: {} {}: {p} (not simulated)",
                                    d.kind, d.name
                                ),
                            });
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Each PDB covers the workload whose pod template labels its selector
/// matches (matchLabels ⊆ labels).
fn resolve_budgets(m: &mut Manifests) -> Result<(), Diagnostic> {
    for p in std::mem::take(&mut m.pending_budgets) {
        let (pos, file, selector, mut spec) = (p.pos, p.file, p.match_labels, p.spec);
        let matches: Vec<&String> = m
            .labels
            .iter()
            .filter(|(_, labels)| {
                !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .map(|(n, _)| n)
            .collect();
        let at = |message: String| Diagnostic {
            file: file.clone(),
            line: pos.line,
            col: pos.col,
            message,
        };
        match matches.as_slice() {
            [one] => {
                spec.set = (*one).clone();
                m.budgets.push(spec);
            }
            [] => {
                return Err(at(format!(
                    "PodDisruptionBudget {}: its selector matches the pods of no StatefulSet or Deployment in these manifests",
                    spec.name
                )));
            }
            many => {
                return Err(at(format!(
                    "PodDisruptionBudget {}: its selector matches the pods of several workloads ({}); the simulator needs it to select one",
                    spec.name,
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The scenario the manifests stand for: their objects on their nodes (or
/// `shape`'s default cluster), no steps.
pub fn scenario_of(m: &Manifests, name: &str, shape: ClusterShape) -> Scenario {
    Scenario {
        name: name.to_string(),
        cluster: crate::scenario::format::ClusterSpec {
            nodes: if m.nodes.is_empty() {
                shape.nodes()
            } else {
                m.nodes.clone()
            },
            storage_classes: m.classes.clone(),
            ..Default::default()
        },
        workloads: m.workloads.clone(),
        disruption_budgets: m.budgets.clone(),
        ..Default::default()
    }
}

/// Loads manifests as a scenario (warnings are in `Loaded::warnings`).
pub fn load(paths: &[PathBuf], shape: ClusterShape) -> Result<Loaded, Diagnostic> {
    let m = read_paths(paths)?;
    let first = paths
        .first()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let name = paths.first().and_then(|p| p.file_stem()).map_or_else(
        || "manifests".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let scenario = scenario_of(&m, &name, shape);
    crate::scenario::load::from_scenario(
        &first,
        scenario,
        m.warnings.iter().map(|w| w.to_string()).collect(),
    )
}

/// Loads what the command line names: one RON scenario, or manifests.
pub fn load_input(paths: &[PathBuf], shape: ClusterShape) -> Result<Loaded, Diagnostic> {
    match paths {
        [one] if !is_manifest_path(one) => crate::scenario::load_file(one),
        _ => load(paths, shape),
    }
}

/// The RON scenario equivalent to the manifests (`import`), steps empty.
pub fn to_ron(loaded: &Loaded) -> Result<String, String> {
    let config = ron::ser::PrettyConfig::new()
        .struct_names(false)
        .indentor("    ".to_string());
    let body = ron::ser::to_string_pretty(&loaded.scenario, config).map_err(|e| e.to_string())?;
    Ok(format!(
        "// Imported from {} by `statefulset-sim import`: add steps to the `steps` list.\n{body}\n",
        loaded.file
    ))
}
