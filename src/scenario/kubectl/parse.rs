//! The kubectl subset's parser: one line (`kubectl scale sts/web
//! --replicas=5`) to a `Kubectl` command, or an error that reads like
//! kubectl's. Used by the scenario step, the shell and the GUI command line.

use crate::sim::model::limits;
use std::collections::BTreeMap;

/// The object kinds the subset knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pod,
    StatefulSet,
    Deployment,
    Claim,
    Volume,
    Node,
    Event,
    Budget,
}

impl Kind {
    /// The kind from any of kubectl's spellings (`pods`, `po`, `sts`, …).
    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.to_ascii_lowercase();
        let s = s.split('.').next().unwrap_or("");
        Some(match s {
            "pod" | "pods" | "po" => Kind::Pod,
            "statefulset" | "statefulsets" | "sts" => Kind::StatefulSet,
            "deployment" | "deployments" | "deploy" => Kind::Deployment,
            "pvc" | "persistentvolumeclaim" | "persistentvolumeclaims" => Kind::Claim,
            "pv" | "persistentvolume" | "persistentvolumes" => Kind::Volume,
            "node" | "nodes" | "no" => Kind::Node,
            "event" | "events" | "ev" => Kind::Event,
            "pdb" | "poddisruptionbudget" | "poddisruptionbudgets" => Kind::Budget,
            _ => return None,
        })
    }
    /// The plural resource name kubectl's messages use (`pods "web-9" not found`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::StatefulSet => "statefulsets.apps",
            Kind::Deployment => "deployments.apps",
            Kind::Claim => "persistentvolumeclaims",
            Kind::Volume => "persistentvolumes",
            Kind::Node => "nodes",
            Kind::Event => "events",
            Kind::Budget => "poddisruptionbudgets.policy",
        }
    }
    /// The `kind.group` prefix of kubectl's success lines (`statefulset.apps/web`).
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::StatefulSet => "statefulset.apps",
            Kind::Deployment => "deployment.apps",
            Kind::Claim => "persistentvolumeclaim",
            Kind::Volume => "persistentvolume",
            Kind::Node => "node",
            Kind::Event => "event",
            Kind::Budget => "poddisruptionbudget.policy",
        }
    }
}

/// `-o` of `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    #[default]
    Table,
    Wide,
    Yaml,
    Json,
    Name,
}

/// The taint `kubectl taint` can add or remove: the simulator models only
/// the out-of-service taint.
pub const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute";

/// A parsed kubectl command.
#[derive(Debug, Clone, PartialEq)]
pub enum Kubectl {
    Get {
        kind: Kind,
        name: Option<String>,
        output: Output,
    },
    Describe {
        kind: Kind,
        name: String,
    },
    Scale {
        kind: Kind,
        name: String,
        replicas: u32,
    },
    SetImage {
        kind: Kind,
        name: String,
        container: String,
        image: String,
    },
    Patch {
        kind: Kind,
        name: String,
        patch: serde_json::Value,
    },
    RolloutStatus {
        kind: Kind,
        name: String,
    },
    RolloutHistory {
        kind: Kind,
        name: String,
    },
    RolloutUndo {
        kind: Kind,
        name: String,
        to_revision: Option<u64>,
    },
    Delete {
        kind: Kind,
        name: String,
        force: bool,
        /// `--cascade=orphan`: the dependents are left without an owner.
        orphan: bool,
    },
    Cordon(String),
    Uncordon(String),
    Drain(String),
    /// Adds (`remove: false`) or removes the out-of-service taint.
    Taint {
        node: String,
        remove: bool,
    },
    Apply {
        file: String,
    },
    /// Shell only: advance the clock.
    Sleep {
        ms: u64,
    },
    /// Shell only: advance the clock until the pod is Ready (or Deleted).
    Wait {
        condition: WaitFor,
        kind: Kind,
        name: String,
        timeout_ms: u64,
    },
}

impl Kubectl {
    /// A command that only prints (get, describe, rollout status / history):
    /// it changes nothing, so the GUI neither records nor logs it.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Kubectl::Get { .. }
                | Kubectl::Describe { .. }
                | Kubectl::RolloutStatus { .. }
                | Kubectl::RolloutHistory { .. }
        )
    }
}

/// What `kubectl wait --for=` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    Ready,
    Delete,
}

/// Splits a command line as a shell would: spaces separate words, single
/// and double quotes group them, a backslash escapes the next character.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => match chars.next() {
                Some(n) => cur.push(n),
                None => return Err("error: the line ends with a backslash".into()),
            },
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err("error: unterminated quote".into());
    }
    if has || !cur.is_empty() {
        words.push(cur);
    }
    Ok(words)
}

/// Flags that take a value (`--replicas=5` or `--replicas 5`).
const VALUE_FLAGS: &[&str] = &[
    "-o",
    "--output",
    "--replicas",
    "-p",
    "--patch",
    "--type",
    "-f",
    "--filename",
    "--grace-period",
    "--cascade",
    "--for",
    "--timeout",
    "--to-revision",
    "-n",
    "--namespace",
];
/// Flags that stand alone.
const BOOL_FLAGS: &[&str] = &[
    "--force",
    "--ignore-daemonsets",
    "--delete-emptydir-data",
    "--now",
    "--wait",
];

struct Args {
    words: Vec<String>,
    flags: BTreeMap<String, String>,
}

impl Args {
    fn flag(&self, f: &str) -> Option<&str> {
        self.flags.get(f).map(String::as_str)
    }
    fn has(&self, f: &str) -> bool {
        self.flags.contains_key(f)
    }
}

fn unknown_flag(f: &str) -> String {
    format!(
        "error: unknown flag: {f}\nSee 'kubectl --help' for the commands and flags the simulator knows."
    )
}

fn parse_args(words: &[String]) -> Result<Args, String> {
    let mut args = Args {
        words: Vec::new(),
        flags: BTreeMap::new(),
    };
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w.starts_with('-') && w.len() > 1 {
            let (name, inline) = match w.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (w.clone(), None),
            };
            let name = match name.as_str() {
                "--output" => "-o".to_string(),
                "--patch" => "-p".to_string(),
                "--filename" => "-f".to_string(),
                "--namespace" => "-n".to_string(),
                _ => name,
            };
            if VALUE_FLAGS.contains(&name.as_str()) {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        words
                            .get(i)
                            .cloned()
                            .ok_or_else(|| format!("error: flag needs an argument: {name}"))?
                    }
                };
                args.flags.insert(name, v);
            } else if BOOL_FLAGS.contains(&name.as_str()) {
                let v = inline.unwrap_or_else(|| "true".into());
                if v != "true" && v != "false" {
                    return Err(format!(
                        "error: invalid argument {v:?} for {name}: expected true or false"
                    ));
                }
                if v == "true" {
                    args.flags.insert(name, v);
                }
            } else {
                return Err(unknown_flag(&name));
            }
        } else {
            args.words.push(w.clone());
        }
        i += 1;
    }
    if let Some(ns) = args.flag("-n")
        && ns != "default"
    {
        return Err(format!(
            "Error from server (NotFound): namespaces \"{ns}\" not found (the simulator has one namespace, default)"
        ));
    }
    Ok(args)
}

/// `TYPE NAME` or `TYPE/NAME` from the words at `i`.
fn kind_and_name(words: &[String], what: &str) -> Result<(Kind, String), String> {
    let first = words
        .first()
        .ok_or_else(|| format!("error: you must specify the type of resource to {what}"))?;
    let (kind_s, name) = match first.split_once('/') {
        Some((k, n)) => (k.to_string(), Some(n.to_string())),
        None => (first.clone(), words.get(1).cloned()),
    };
    let kind = Kind::parse(&kind_s)
        .ok_or_else(|| format!("error: the server doesn't have a resource type \"{kind_s}\""))?;
    let name = name.filter(|n| !n.is_empty()).ok_or_else(|| {
        format!("error: resource name may not be empty (kubectl {what} {kind_s} NAME)")
    })?;
    let used = if first.contains('/') { 1 } else { 2 };
    if words.len() > used {
        return Err(format!("error: unexpected argument {:?}", words[used]));
    }
    Ok((kind, name))
}

fn only(kind: Kind, allowed: &[Kind], verb: &str) -> Result<(), String> {
    if allowed.contains(&kind) {
        Ok(())
    } else {
        Err(format!(
            "error: the simulator cannot {verb} {}",
            kind.plural().split('.').next().unwrap_or("")
        ))
    }
}

/// A duration as kubectl and `sleep` write it: `30s`, `2m`, `1h`, `1m30s`, `45`.
pub fn duration_ms(s: &str) -> Option<u64> {
    if let Ok(n) = s.parse::<f64>() {
        return (0.0..=604_800.0)
            .contains(&n)
            .then(|| (n * 1000.0).round() as u64);
    }
    let mut total = 0f64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
        } else {
            let n: f64 = num.parse().ok()?;
            num.clear();
            total += n * match c {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                _ => return None,
            };
        }
    }
    if !num.is_empty() {
        return None;
    }
    (total <= 604_800.0).then(|| (total * 1000.0).round() as u64)
}

/// Parses one command line (with or without the leading `kubectl`).
pub fn parse(line: &str) -> Result<Kubectl, String> {
    if line.len() > limits::MAX_LINE_BYTES {
        return Err(format!(
            "error: the line is {} bytes; a kubectl line is at most {} bytes",
            line.len(),
            limits::MAX_LINE_BYTES
        ));
    }
    let mut words = split(line.trim())?;
    if words.first().map(String::as_str) == Some("kubectl") {
        words.remove(0);
    }
    let Some(verb) = words.first().cloned() else {
        return Err("error: no command given (try: kubectl get pods)".into());
    };
    let rest = &words[1..];
    if verb == "sleep" {
        let d = rest
            .first()
            .ok_or("error: sleep needs a duration (sleep 30s)")?;
        let ms = duration_ms(d)
            .ok_or_else(|| format!("error: invalid duration {d:?} (e.g. 30s, 2m)"))?;
        return Ok(Kubectl::Sleep { ms });
    }
    const VERBS: [&str; 14] = [
        "get", "describe", "scale", "set", "patch", "rollout", "delete", "cordon", "uncordon",
        "drain", "taint", "apply", "wait", "sleep",
    ];
    if !VERBS.contains(&verb.as_str()) {
        return Err(format!(
            "error: unknown command {verb:?} for \"kubectl\"; the simulator knows get, describe, scale, set image, patch, rollout, delete, cordon, uncordon, drain, taint, apply, wait and sleep"
        ));
    }
    let args = parse_args(rest)?;
    let w = &args.words;
    match verb.as_str() {
        "get" => {
            let first = w
                .first()
                .ok_or("error: you must specify the type of resource to get")?;
            let (kind_s, name) = match first.split_once('/') {
                Some((k, n)) => (k.to_string(), Some(n.to_string())),
                None => (first.clone(), w.get(1).cloned()),
            };
            let kind = Kind::parse(&kind_s).ok_or_else(|| {
                format!("error: the server doesn't have a resource type \"{kind_s}\"")
            })?;
            let output = match args.flag("-o") {
                None => Output::Table,
                Some("wide") => Output::Wide,
                Some("yaml") => Output::Yaml,
                Some("json") => Output::Json,
                Some("name") => Output::Name,
                Some(o) => {
                    return Err(format!(
                        "error: unable to match a printer suitable for the output format {o:?}, allowed formats are: json,name,wide,yaml"
                    ));
                }
            };
            Ok(Kubectl::Get { kind, name, output })
        }
        "describe" => {
            let (kind, name) = kind_and_name(w, "describe")?;
            only(
                kind,
                &[
                    Kind::Pod,
                    Kind::StatefulSet,
                    Kind::Node,
                    Kind::Claim,
                    Kind::Deployment,
                    Kind::Budget,
                ],
                "describe",
            )?;
            Ok(Kubectl::Describe { kind, name })
        }
        "scale" => {
            let (kind, name) = kind_and_name(w, "scale")?;
            only(kind, &[Kind::StatefulSet, Kind::Deployment], "scale")?;
            let r = args
                .flag("--replicas")
                .ok_or("error: required flag(s) \"replicas\" not set")?;
            let replicas = r.parse().map_err(|_| {
                format!("error: invalid argument {r:?} for \"--replicas\" flag: expected a count")
            })?;
            Ok(Kubectl::Scale {
                kind,
                name,
                replicas,
            })
        }
        "set" => {
            if w.first().map(String::as_str) != Some("image") {
                return Err("error: the simulator supports only `kubectl set image`".into());
            }
            let (target, pairs): (Vec<&String>, Vec<&String>) =
                w[1..].iter().partition(|x| !x.contains('='));
            let (kind, name) = kind_and_name(
                &target.into_iter().cloned().collect::<Vec<_>>(),
                "set image",
            )?;
            only(
                kind,
                &[Kind::StatefulSet, Kind::Deployment],
                "set the image of",
            )?;
            let [pair] = pairs.as_slice() else {
                return Err("error: give one CONTAINER=IMAGE (e.g. nginx=nginx:1.26)".into());
            };
            let (container, image) = pair.split_once('=').unwrap_or(("", ""));
            if image.trim().is_empty() {
                return Err("error: the image is empty".into());
            }
            Ok(Kubectl::SetImage {
                kind,
                name,
                container: container.into(),
                image: image.into(),
            })
        }
        "patch" => {
            let (kind, name) = kind_and_name(w, "patch")?;
            only(
                kind,
                &[Kind::StatefulSet, Kind::Deployment, Kind::Claim],
                "patch",
            )?;
            if let Some(t) = args.flag("--type")
                && t != "merge"
                && t != "strategic"
            {
                return Err(format!(
                    "error: --type {t}: the simulator applies merge patches only"
                ));
            }
            let p = args.flag("-p").ok_or("error: must specify -p to patch")?;
            let patch: serde_json::Value = serde_json::from_str(p)
                .map_err(|e| format!("error: unable to parse {p:?}: {e}"))?;
            if !patch.is_object() {
                return Err("error: the patch must be a JSON object".into());
            }
            Ok(Kubectl::Patch { kind, name, patch })
        }
        "rollout" => {
            let sub = w
                .first()
                .ok_or("error: rollout needs status, history or undo")?;
            let (kind, name) = kind_and_name(&w[1..], &format!("rollout {sub}"))?;
            only(kind, &[Kind::StatefulSet, Kind::Deployment], "roll out")?;
            match sub.as_str() {
                "status" => Ok(Kubectl::RolloutStatus { kind, name }),
                "history" => Ok(Kubectl::RolloutHistory { kind, name }),
                "undo" => {
                    let to_revision = match args.flag("--to-revision") {
                        Some(r) => Some(
                            r.parse()
                                .map_err(|_| format!("error: invalid --to-revision {r:?}"))?,
                        ),
                        None => None,
                    };
                    Ok(Kubectl::RolloutUndo {
                        kind,
                        name,
                        to_revision,
                    })
                }
                o => Err(format!(
                    "error: the simulator supports rollout status, history and undo, not {o:?}"
                )),
            }
        }
        "delete" => {
            let (kind, name) = kind_and_name(w, "delete")?;
            only(
                kind,
                &[
                    Kind::Pod,
                    Kind::Claim,
                    Kind::StatefulSet,
                    Kind::Deployment,
                    Kind::Node,
                ],
                "delete",
            )?;
            let orphan = match args.flag("--cascade") {
                None | Some("background" | "foreground" | "true") => false,
                Some("orphan" | "false") => true,
                Some(c) => {
                    return Err(format!(
                        "error: invalid cascade value ({c}). Must be \"background\", \"foreground\", or \"orphan\"."
                    ));
                }
            };
            if orphan && kind != Kind::StatefulSet {
                return Err(
                    "error: --cascade=orphan is simulated for StatefulSets only (their pods and claims are left running, without an owner)".into(),
                );
            }
            let grace = args.flag("--grace-period");
            let force = args.has("--force");
            match (force, grace) {
                (true, Some("0")) => {}
                (true, _) => {
                    return Err("error: --force needs --grace-period=0 in the simulator (an immediate deletion)".into());
                }
                (false, Some(g)) if g != "-1" => {
                    return Err(format!(
                        "error: --grace-period={g} is not simulated: the pod's terminationGracePeriodSeconds applies (or use --grace-period=0 --force)"
                    ));
                }
                _ => {}
            }
            if force && kind != Kind::Pod {
                return Err("error: --force applies to pods only in the simulator".into());
            }
            Ok(Kubectl::Delete {
                kind,
                name,
                force,
                orphan,
            })
        }
        "cordon" | "uncordon" | "drain" => {
            let [node] = w.as_slice() else {
                return Err(format!("error: {verb} needs one NODE"));
            };
            let node = node.strip_prefix("node/").unwrap_or(node).to_string();
            Ok(match verb.as_str() {
                "cordon" => Kubectl::Cordon(node),
                "uncordon" => Kubectl::Uncordon(node),
                _ => Kubectl::Drain(node),
            })
        }
        "taint" => {
            let [kind_s, node, taint] = w.as_slice() else {
                return Err(format!(
                    "error: usage: kubectl taint nodes NODE {OUT_OF_SERVICE}[-]"
                ));
            };
            if Kind::parse(kind_s) != Some(Kind::Node) {
                return Err("error: the simulator taints nodes only".into());
            }
            let (taint, remove) = match taint.strip_suffix('-') {
                Some(t) => (t, true),
                None => (taint.as_str(), false),
            };
            let key = taint.split(['=', ':']).next().unwrap_or("");
            let ok = if remove {
                taint == OUT_OF_SERVICE
                    || key == "node.kubernetes.io/out-of-service"
                    || taint == "node.kubernetes.io/out-of-service:NoExecute"
            } else {
                taint == OUT_OF_SERVICE
            };
            if !ok {
                return Err(format!(
                    "error: the simulator models one taint a user sets: {OUT_OF_SERVICE}"
                ));
            }
            Ok(Kubectl::Taint {
                node: node.clone(),
                remove,
            })
        }
        "apply" => {
            if !w.is_empty() {
                return Err(format!(
                    "error: unexpected argument {:?} (kubectl apply -f FILE)",
                    w[0]
                ));
            }
            let file = args.flag("-f").ok_or("error: must specify -f FILE")?;
            Ok(Kubectl::Apply { file: file.into() })
        }
        "wait" => {
            let cond = args
                .flag("--for")
                .ok_or("error: wait needs --for=condition=Ready or --for=delete")?;
            let condition = match cond {
                "condition=Ready" | "condition=ready" | "condition=Ready=true" => WaitFor::Ready,
                "delete" => WaitFor::Delete,
                o => {
                    return Err(format!(
                        "error: the simulator waits for condition=Ready or delete, not {o:?}"
                    ));
                }
            };
            let (kind, name) = kind_and_name(w, "wait for")?;
            only(kind, &[Kind::Pod], "wait for")?;
            let timeout_ms = match args.flag("--timeout") {
                Some(t) => {
                    duration_ms(t).ok_or_else(|| format!("error: invalid --timeout {t:?}"))?
                }
                None => 30_000,
            };
            Ok(Kubectl::Wait {
                condition,
                kind,
                name,
                timeout_ms,
            })
        }
        v => Err(format!(
            "error: unknown command {v:?} for \"kubectl\"; the simulator knows get, describe, scale, set image, patch, rollout, delete, cordon, uncordon, drain, taint, apply, wait and sleep"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split(r#"patch sts web -p '{"spec":{"replicas":2}}'"#).unwrap(),
            vec!["patch", "sts", "web", "-p", r#"{"spec":{"replicas":2}}"#]
        );
        assert!(split("get 'pods").is_err());
    }

    #[test]
    fn type_slash_name_and_type_name_are_the_same() {
        let a = parse("kubectl scale statefulset/web --replicas=5").unwrap();
        let b = parse("scale sts web --replicas 5").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a,
            Kubectl::Scale {
                kind: Kind::StatefulSet,
                name: "web".into(),
                replicas: 5
            }
        );
    }

    #[test]
    fn unknown_verbs_and_flags_are_errors() {
        assert!(
            parse("exec web-0 -- ls")
                .unwrap_err()
                .contains("unknown command \"exec\"")
        );
        assert!(
            parse("get pods --watch")
                .unwrap_err()
                .contains("unknown flag: --watch")
        );
        assert!(
            parse("get pods -o custom-columns=X")
                .unwrap_err()
                .contains("unable to match a printer")
        );
        assert!(
            parse("delete deployment web --cascade=orphan")
                .unwrap_err()
                .contains("StatefulSets only")
        );
        assert!(
            parse("delete statefulset web --cascade=sometimes")
                .unwrap_err()
                .contains("invalid cascade value")
        );
        assert!(
            parse("taint nodes node-a foo=bar:NoSchedule")
                .unwrap_err()
                .contains("one taint")
        );
    }

    #[test]
    fn durations_read_as_kubectl_writes_them() {
        assert_eq!(duration_ms("30s"), Some(30_000));
        assert_eq!(duration_ms("1m30s"), Some(90_000));
        assert_eq!(duration_ms("2"), Some(2_000));
        assert_eq!(duration_ms("soon"), None);
    }

    #[test]
    fn cascade_orphan_deletes_a_statefulset_and_leaves_its_pods() {
        for line in [
            "delete statefulset web --cascade=orphan",
            "delete sts/web --cascade orphan",
            "delete statefulset web --cascade=false",
        ] {
            assert_eq!(
                parse(line).unwrap(),
                Kubectl::Delete {
                    kind: Kind::StatefulSet,
                    name: "web".into(),
                    force: false,
                    orphan: true
                },
                "{line}"
            );
        }
        assert!(matches!(
            parse("delete statefulset web --cascade=foreground").unwrap(),
            Kubectl::Delete { orphan: false, .. }
        ));
    }

    #[test]
    fn force_delete_needs_grace_period_zero() {
        assert_eq!(
            parse("delete pod web-1 --grace-period=0 --force").unwrap(),
            Kubectl::Delete {
                kind: Kind::Pod,
                name: "web-1".into(),
                force: true,
                orphan: false
            }
        );
        assert!(parse("delete pod web-1 --force").is_err());
    }
}
