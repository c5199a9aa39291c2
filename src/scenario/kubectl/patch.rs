//! `kubectl patch -p JSON`: a JSON merge patch on the fields the simulator
//! can change (replicas, the rolling update's partition and maxUnavailable,
//! the container image; a claim's storage request), turned into the
//! `SimCommand`s that change them.

use super::parse::Kind;
use crate::sim::SimCommand;
use crate::sim::model::IntOrPercent;
use serde_json::Value;

const PATCHABLE: &str = "spec.replicas, spec.updateStrategy.rollingUpdate.partition, spec.updateStrategy.rollingUpdate.maxUnavailable and spec.template.spec.containers[].image";

fn cannot(path: &str) -> String {
    format!("error: the simulator cannot patch {path}; it patches {PATCHABLE}")
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a serde_json::Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("error: {path} must be an object in the patch"))
}

/// What a merge patch of a claim may change.
const CLAIM_PATCHABLE: &str = "spec.resources.requests.storage";

fn cannot_claim(path: &str) -> String {
    format!("error: the simulator cannot patch {path} of a claim; it patches {CLAIM_PATCHABLE}")
}

/// A claim's patch: `{"spec":{"resources":{"requests":{"storage":"20Gi"}}}}`
/// expands it (`ExpandClaim`, the size rounded up to GiB).
fn claim_commands(name: &str, patch: &Value) -> Result<Vec<SimCommand>, String> {
    let mut at = patch;
    for (key, path) in [
        ("spec", "the patch"),
        ("resources", "spec"),
        ("requests", "spec.resources"),
        ("storage", "spec.resources.requests"),
    ] {
        let obj = object(at, path)?;
        if let Some(k) = obj.keys().find(|k| *k != key) {
            let full = if path == "the patch" {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            return Err(cannot_claim(&full));
        }
        at = obj.get(key).ok_or_else(|| cannot_claim(path))?;
    }
    let q = at
        .as_str()
        .ok_or("error: spec.resources.requests.storage must be a quantity such as \"20Gi\"")?;
    let bytes = crate::scenario::manifest::bytes(q)
        .filter(|b| *b > 0.0)
        .ok_or_else(|| {
            format!("error: quantities must match the regular expression (e.g. 20Gi): {q:?}")
        })?;
    let gib = (bytes / 1073741824.0).ceil();
    if gib > f64::from(crate::sim::model::limits::MAX_CLAIM_GIB) {
        return Err(format!(
            "error: {q} is more than the simulator's largest claim"
        ));
    }
    Ok(vec![SimCommand::ExpandClaim {
        claim: name.into(),
        size_gib: gib as u32,
    }])
}

/// The commands a merge patch on `kind/name` stands for.
pub fn commands(kind: Kind, name: &str, patch: &Value) -> Result<Vec<SimCommand>, String> {
    if kind == Kind::Claim {
        return claim_commands(name, patch);
    }
    let mut out = Vec::new();
    for (k, v) in object(patch, "the patch")? {
        if k != "spec" {
            return Err(cannot(k));
        }
        for (k, v) in object(v, "spec")? {
            match k.as_str() {
                "replicas" => {
                    let n = v
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or("error: spec.replicas must be a count")?;
                    out.push(SimCommand::Scale {
                        set: name.into(),
                        replicas: n,
                    });
                }
                "updateStrategy" if kind == Kind::StatefulSet => {
                    update_strategy(name, v, &mut out)?
                }
                "template" => out.push(image(name, v)?),
                other => return Err(cannot(&format!("spec.{other}"))),
            }
        }
    }
    Ok(out)
}

fn update_strategy(name: &str, v: &Value, out: &mut Vec<SimCommand>) -> Result<(), String> {
    for (k, v) in object(v, "spec.updateStrategy")? {
        if k == "type" {
            return Err(cannot("spec.updateStrategy.type"));
        }
        if k != "rollingUpdate" {
            return Err(cannot(&format!("spec.updateStrategy.{k}")));
        }
        for (k, v) in object(v, "spec.updateStrategy.rollingUpdate")? {
            match (k.as_str(), v) {
                ("partition", v) => {
                    let p = v
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or("error: partition must be a count")?;
                    out.push(SimCommand::SetPartition {
                        set: name.into(),
                        partition: p,
                    });
                }
                ("maxUnavailable", Value::Number(n)) => {
                    let n = n
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or("error: maxUnavailable must be a count or a percentage")?;
                    out.push(SimCommand::SetMaxUnavailable {
                        set: name.into(),
                        value: IntOrPercent::Int(n),
                    });
                }
                ("maxUnavailable", Value::String(s)) => {
                    out.push(SimCommand::SetMaxUnavailable {
                        set: name.into(),
                        value: IntOrPercent::Percent(s.clone()),
                    });
                }
                (k, _) => return Err(cannot(&format!("spec.updateStrategy.rollingUpdate.{k}"))),
            }
        }
    }
    Ok(())
}

fn image(name: &str, template: &Value) -> Result<SimCommand, String> {
    let spec = object(template, "spec.template")?;
    if let Some(k) = spec.keys().find(|k| *k != "spec") {
        return Err(cannot(&format!("spec.template.{k}")));
    }
    let v = spec.get("spec").ok_or_else(|| cannot("spec.template"))?;
    let containers = object(v, "spec.template.spec")?;
    for k in containers.keys() {
        if k != "containers" {
            return Err(cannot(&format!("spec.template.spec.{k}")));
        }
    }
    let list = containers
        .get("containers")
        .and_then(Value::as_array)
        .ok_or("error: spec.template.spec.containers must be a list")?;
    let [one] = list.as_slice() else {
        return Err("error: the simulated pod has one container: patch one".into());
    };
    for k in object(one, "a container")?.keys() {
        if k != "name" && k != "image" {
            return Err(cannot(&format!("spec.template.spec.containers[].{k}")));
        }
    }
    if let Some(n) = one.get("name").and_then(Value::as_str)
        && n != name
    {
        return Err(format!(
            "error: no container named {n} (the simulated container is named {name})"
        ));
    }
    let img = one
        .get("image")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or("error: the container's image must be a non-empty string")?;
    Ok(SimCommand::SetImage {
        set: name.into(),
        image: img.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_patch_of_its_storage_request_expands_it() {
        let p: Value =
            serde_json::from_str(r#"{"spec":{"resources":{"requests":{"storage":"20Gi"}}}}"#)
                .unwrap();
        assert_eq!(
            commands(Kind::Claim, "www-web-0", &p).unwrap(),
            vec![SimCommand::ExpandClaim {
                claim: "www-web-0".into(),
                size_gib: 20
            }]
        );
        let other: Value = serde_json::from_str(r#"{"spec":{"storageClassName":"fast"}}"#).unwrap();
        assert!(
            commands(Kind::Claim, "www-web-0", &other)
                .unwrap_err()
                .contains("cannot patch spec.storageClassName")
        );
    }
}
