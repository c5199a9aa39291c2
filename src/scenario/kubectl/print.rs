//! kubectl's printers: `get` tables (and `-o wide|yaml|json|name`),
//! `describe` with its Events section, `rollout history`.

use super::exec::{object, render};
use super::objects::{self, budget_status_in};
use super::parse::{Kind, Output};
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::*;
use crate::sim::read::{Cluster, PodRead};
use crate::sim::units::age;

/// Columns padded as kubectl's `get` pads them (3 spaces between).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    padded_table(header, rows, 3)
}

/// Columns with `pad` spaces between (`describe` uses 2).
fn padded_table(header: &[&str], rows: &[Vec<String>], pad: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i] + pad))
            .collect::<String>()
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.to_vec())];
    for r in rows {
        out.push(line(r.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}

/// STATUS of `kubectl get pods`.
pub fn pod_status(p: &PodRead) -> String {
    match (&p.status.waiting, p.status.shown_phase()) {
        (Some(w), PodPhase::ContainerCreating | PodPhase::Pending)
            if w.starts_with("ErrImagePull") =>
        {
            "ErrImagePull".into()
        }
        (_, PodPhase::Failed) => "Error".into(),
        (_, PodPhase::Succeeded) => "Completed".into(),
        (_, ph) => ph.name().into(),
    }
}

fn node_status(n: &crate::sim::read::NodeRead) -> String {
    let mut s = match n.state.ready {
        Condition::True => "Ready".to_string(),
        _ => "NotReady".to_string(),
    };
    if n.state.cordoned {
        s.push_str(",SchedulingDisabled");
    }
    s
}

/// `kubectl get KIND [NAME] [-o …]`.
pub fn get(
    c: &Cluster,
    budgets: &[DisruptionBudgetSpec],
    default_class: &str,
    events: &[SimEvent],
    kind: Kind,
    name: Option<&str>,
    output: Output,
) -> Result<String, String> {
    let now = c.now_ms;
    if matches!(output, Output::Yaml | Output::Json) {
        if kind == Kind::Event {
            return Err("error: -o yaml|json is not available for events in the simulator".into());
        }
        let value = match name {
            Some(n) => object(c, budgets, default_class, kind, n)
                .ok_or_else(|| super::exec::not_found(kind, n))?,
            None => objects::list(
                super::exec_names(c, budgets, kind)
                    .iter()
                    .filter_map(|n| object(c, budgets, default_class, kind, n))
                    .collect(),
            ),
        };
        return render(&value, output).map(|s| s.trim_end().to_string());
    }
    let wide = output == Output::Wide;
    let keep = |n: &str| name.is_none_or(|x| x == n);
    let (header, rows): (Vec<&str>, Vec<Vec<String>>) = match kind {
        Kind::Pod => {
            let mut h = vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
            if wide {
                // printPod's wide columns: IP, then NODE.
                h.extend(["IP", "NODE"]);
            }
            let rows = c
                .pods
                .iter()
                .filter(|p| keep(&p.pod.name))
                .map(|p| {
                    let mut r = vec![
                        p.pod.name.clone(),
                        format!("{}/1", p.status.ready as u8),
                        pod_status(p),
                        p.status.restarts.to_string(),
                        age(now.saturating_sub(p.pod.created_ms)),
                    ];
                    if wide {
                        r.push(p.status.ip.clone().unwrap_or_else(|| "<none>".into()));
                        r.push(p.status.node.clone().unwrap_or_else(|| "<none>".into()));
                    }
                    r
                })
                .collect();
            (h, rows)
        }
        Kind::StatefulSet => {
            let mut h = vec!["NAME", "READY", "AGE"];
            if wide {
                h.extend(["CONTAINERS", "IMAGES"]);
            }
            let rows = c
                .sets
                .iter()
                .filter(|s| keep(&s.set.spec.name))
                .map(|s| {
                    let mut r = vec![
                        s.set.spec.name.clone(),
                        format!("{}/{}", s.status.ready, s.set.spec.replicas),
                        age(now.saturating_sub(s.set.created_ms)),
                    ];
                    if wide {
                        r.extend([s.set.spec.name.clone(), s.set.spec.template.image.clone()]);
                    }
                    r
                })
                .collect();
            (h, rows)
        }
        Kind::Deployment => (
            vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            c.deployments
                .iter()
                .filter(|d| keep(&d.deployment.spec.name))
                .map(|d| {
                    vec![
                        d.deployment.spec.name.clone(),
                        format!("{}/{}", d.status.ready, d.deployment.spec.replicas),
                        d.status.updated.to_string(),
                        d.status.ready.to_string(),
                        age(now.saturating_sub(d.deployment.created_ms)),
                    ]
                })
                .collect(),
        ),
        Kind::Claim => (
            vec![
                "NAME",
                "STATUS",
                "VOLUME",
                "CAPACITY",
                "ACCESS MODES",
                "STORAGECLASS",
                "AGE",
            ],
            c.claims
                .iter()
                .filter(|cl| keep(&cl.claim.name))
                .map(|cl| {
                    let bound = cl.status.volume.is_some();
                    vec![
                        cl.claim.name.clone(),
                        if cl.status.deleting.is_some() {
                            "Terminating".into()
                        } else if bound {
                            "Bound".into()
                        } else {
                            "Pending".into()
                        },
                        cl.status.volume.clone().unwrap_or_default(),
                        if bound {
                            format!("{}Gi", cl.status.capacity_gib(cl.claim.size_gib))
                        } else {
                            String::new()
                        },
                        if bound { "RWO".into() } else { String::new() },
                        cl.claim.class.clone(),
                        age(now.saturating_sub(cl.claim.created_ms)),
                    ]
                })
                .collect(),
        ),
        Kind::Volume => (
            vec![
                "NAME",
                "CAPACITY",
                "ACCESS MODES",
                "RECLAIM POLICY",
                "STATUS",
                "CLAIM",
                "STORAGECLASS",
            ],
            c.volumes
                .iter()
                .filter(|v| keep(&v.volume.name))
                .map(|v| {
                    let exists = c.claims.iter().find(|cl| cl.claim.name == v.volume.claim);
                    vec![
                        v.volume.name.clone(),
                        format!("{}Gi", v.volume.size_gib),
                        "RWO".into(),
                        "Delete".into(),
                        if exists.is_some() {
                            "Bound"
                        } else {
                            "Released"
                        }
                        .into(),
                        format!("default/{}", v.volume.claim),
                        exists.map(|cl| cl.claim.class.clone()).unwrap_or_default(),
                    ]
                })
                .collect(),
        ),
        Kind::Node => {
            let mut h = vec!["NAME", "STATUS", "ROLES", "AGE"];
            if wide {
                h.push("ZONE");
            }
            let rows = c
                .nodes
                .iter()
                .filter(|n| keep(&n.node.name))
                .map(|n| {
                    let mut r = vec![
                        n.node.name.clone(),
                        node_status(n),
                        "<none>".into(),
                        age(now),
                    ];
                    if wide {
                        r.push(n.node.zone.clone());
                    }
                    r
                })
                .collect();
            (h, rows)
        }
        Kind::Budget => (
            vec![
                "NAME",
                "MIN AVAILABLE",
                "MAX UNAVAILABLE",
                "ALLOWED DISRUPTIONS",
                "AGE",
            ],
            budgets
                .iter()
                .filter(|b| keep(&b.name))
                .map(|b| {
                    vec![
                        b.name.clone(),
                        b.min_available
                            .as_ref()
                            .map_or("N/A".into(), |v| v.describe()),
                        b.max_unavailable
                            .as_ref()
                            .map_or("N/A".into(), |v| v.describe()),
                        budget_status_in(b, c).disruptions_allowed.to_string(),
                        age(now),
                    ]
                })
                .collect(),
        ),
        Kind::Event => (
            vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
            events
                .iter()
                .filter(|e| is_object_event(e))
                .map(|e| {
                    vec![
                        age(now.saturating_sub(e.t_ms)),
                        event_type(e.kind).into(),
                        e.kind.name().into(),
                        e.object.clone(),
                        e.reason.clone(),
                    ]
                })
                .collect(),
        ),
    };
    if output == Output::Name {
        return Ok(rows
            .iter()
            .map(|r| format!("{}/{}", kind.singular(), r[0]))
            .collect::<Vec<_>>()
            .join("\n"));
    }
    if rows.is_empty() {
        return Ok("No resources found in default namespace.".into());
    }
    Ok(table(&header, &rows))
}

/// Events about cluster objects (not the scenario's own bookkeeping).
fn is_object_event(e: &SimEvent) -> bool {
    !e.object.starts_with("scenario/")
        && e.object != "command"
        && !e.object.starts_with("simulation/")
}

/// `Normal` or `Warning`, as the component that reports it would say.
pub fn event_type(k: EventKind) -> &'static str {
    use EventKind::*;
    match k {
        PodUnschedulable
        | PodNotReady
        | PodFailed
        | PodEvicted
        | ImagePullFailed
        | ProcessStopped
        | VolumeMultiAttachError
        | NodeNotReady
        | SetBlocked
        | ReplicationBroken
        | WritesFailed
        | DataDiverged
        | InvariantBroken
        | EvictionBlocked => "Warning",
        _ => "Normal",
    }
}

/// The component that reports an event (describe's From column).
fn event_source(k: EventKind) -> &'static str {
    use EventKind::*;
    match k {
        PodScheduled | PodUnschedulable => "default-scheduler",
        PodStarted | PodReady | PodNotReady | PodFailed | ImagePullFailed | PodDeleted
        | ProcessStopped => "kubelet",
        PodCreated | SetBlocked | SetScaled | SetUpdated | RevisionCreated | RolloutComplete
        | ClaimCreated => "statefulset-controller",
        PodEvicted | NodeNotReady | NodeReady | NodeTainted | NodeUntainted => "node-controller",
        PodForceDeleted => "pod-garbage-collector",
        VolumeAttached | VolumeDetached | VolumeMultiAttachError => "attachdetach-controller",
        ClaimBound | VolumeProvisioned | VolumeDeleted | ClaimDeleted | ClaimTerminating => {
            "persistentvolume-controller"
        }
        DeploymentScaled | DeploymentUpdated => "deployment-controller",
        EvictionBlocked | NodeDrained => "kubectl-drain",
        PodAdopted | RevisionAdopted => "statefulset-controller",
        PodOrphaned => "garbage-collector",
        ClaimResizing | FileSystemResizePending => "external-resizer",
        FileSystemResized => "kubelet",
        _ => "statefulset-sim",
    }
}

/// The Events section of `kubectl describe`.
fn events_section(events: &[SimEvent], object: &str, now: u64) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .filter(|e| e.object == object)
        .map(|e| {
            vec![
                event_type(e.kind).into(),
                e.kind.name().into(),
                age(now.saturating_sub(e.t_ms)),
                event_source(e.kind).into(),
                e.reason.clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "Events:            <none>".into();
    }
    let mut t = vec![vec![
        "----".to_string(),
        "------".into(),
        "----".into(),
        "----".into(),
        "-------".into(),
    ]];
    t.extend(rows);
    let body = padded_table(&["Type", "Reason", "Age", "From", "Message"], &t, 2);
    let indented: Vec<String> = body.lines().map(|l| format!("  {l}")).collect();
    format!("Events:\n{}", indented.join("\n"))
}

fn field(out: &mut Vec<String>, key: &str, value: impl std::fmt::Display) {
    out.push(format!("{:<18}{value}", format!("{key}:")));
}

/// `kubectl describe KIND NAME` (the object exists).
pub fn describe(
    c: &Cluster,
    budgets: &[DisruptionBudgetSpec],
    events: &[SimEvent],
    kind: Kind,
    name: &str,
) -> String {
    let now = c.now_ms;
    let mut out = Vec::new();
    let object = match kind {
        Kind::Pod => {
            if let Some(p) = c.pod(name) {
                field(&mut out, "Name", name);
                field(&mut out, "Namespace", "default");
                field(
                    &mut out,
                    "Node",
                    p.status.node.as_deref().unwrap_or("<none>"),
                );
                field(&mut out, "Status", pod_status(p));
                // kubectl describe leaves the line out for a pod with no
                // controller (an orphan).
                if !p.orphaned {
                    field(
                        &mut out,
                        "Controlled By",
                        match p.pod.owner.kind {
                            OwnerKind::StatefulSet => {
                                format!("StatefulSet/{}", p.pod.owner.name)
                            }
                            OwnerKind::Deployment => {
                                format!("ReplicaSet/{}-{}", p.pod.owner.name, p.pod.revision)
                            }
                        },
                    );
                }
                field(&mut out, "Revision", &p.pod.revision);
                out.push("Containers:".into());
                out.push(format!("  {}:", p.pod.owner.name));
                out.push(format!("    Image:          {}", p.pod.template.image));
                out.push(format!("    Ready:          {}", p.status.ready));
                out.push(format!("    Restart Count:  {}", p.status.restarts));
                out.push("Conditions:".into());
                out.push("  Type              Status".into());
                out.push(format!(
                    "  PodScheduled      {}",
                    if p.status.node.is_some() {
                        "True"
                    } else {
                        "False"
                    }
                ));
                out.push(format!(
                    "  Ready             {}",
                    if p.status.ready { "True" } else { "False" }
                ));
                if !p.pod.claims.is_empty() {
                    out.push("Volumes:".into());
                    for cl in &p.pod.claims {
                        out.push(format!(
                            "  {cl}:\n    Type:       PersistentVolumeClaim\n    ClaimName:  {cl}"
                        ));
                    }
                }
            }
            format!("pod/{name}")
        }
        Kind::StatefulSet => {
            if let Some(s) = c.sets.iter().find(|s| s.set.spec.name == name) {
                let (spec, st) = (&s.set.spec, &s.status);
                field(&mut out, "Name", name);
                field(&mut out, "Namespace", "default");
                field(
                    &mut out,
                    "Replicas",
                    format!("{} desired | {} total", spec.replicas, st.replicas),
                );
                field(
                    &mut out,
                    "Update Strategy",
                    match &spec.update_strategy {
                        UpdateStrategy::OnDelete => "OnDelete".to_string(),
                        UpdateStrategy::RollingUpdate { partition, .. } => {
                            format!("RollingUpdate\n  Partition:      {partition}")
                        }
                    },
                );
                field(
                    &mut out,
                    "Pods Status",
                    format!(
                        "{} Running / {} Waiting / {} Succeeded / {} Failed",
                        c.pods
                            .iter()
                            .filter(
                                |p| p.pod.owner.name == name && p.status.phase == PodPhase::Running
                            )
                            .count(),
                        c.pods
                            .iter()
                            .filter(|p| p.pod.owner.name == name
                                && matches!(
                                    p.status.phase,
                                    PodPhase::Pending | PodPhase::ContainerCreating
                                ))
                            .count(),
                        c.pods
                            .iter()
                            .filter(|p| p.pod.owner.name == name
                                && p.status.phase == PodPhase::Succeeded)
                            .count(),
                        c.pods
                            .iter()
                            .filter(
                                |p| p.pod.owner.name == name && p.status.phase == PodPhase::Failed
                            )
                            .count(),
                    ),
                );
                out.push("Pod Template:".into());
                out.push(format!("  Image:          {}", spec.template.image));
                if !spec.claims.is_empty() {
                    out.push("Volume Claims:".into());
                    for cl in &spec.claims {
                        out.push(format!("  Name:          {}\n  StorageClass:  {}\n  Capacity:      {}Gi\n  Access Modes:  [ReadWriteOnce]", cl.name, cl.storage_class.as_deref().unwrap_or("<default>"), cl.size_gib));
                    }
                }
            }
            format!("statefulset/{name}")
        }
        Kind::Deployment => {
            if let Some(d) = c
                .deployments
                .iter()
                .find(|d| d.deployment.spec.name == name)
            {
                field(&mut out, "Name", name);
                field(&mut out, "Namespace", "default");
                field(
                    &mut out,
                    "Replicas",
                    format!(
                        "{} desired | {} updated | {} total | {} available",
                        d.deployment.spec.replicas,
                        d.status.updated,
                        d.status.replicas,
                        d.status.ready
                    ),
                );
                field(&mut out, "StrategyType", "RollingUpdate");
                out.push(format!(
                    "Pod Template:\n  Image:          {}",
                    d.deployment.spec.template.image
                ));
            }
            format!("deployment/{name}")
        }
        Kind::Node => {
            if let Some(n) = c.node(name) {
                field(&mut out, "Name", name);
                field(
                    &mut out,
                    "Labels",
                    format!("topology.kubernetes.io/zone={}", n.node.zone),
                );
                let taints: Vec<String> = n
                    .state
                    .taints
                    .iter()
                    .map(|t| {
                        if t.key == TAINT_OUT_OF_SERVICE {
                            format!("{}=nodeshutdown:{}", t.key, t.effect.name())
                        } else {
                            t.describe()
                        }
                    })
                    .collect();
                field(
                    &mut out,
                    "Taints",
                    if taints.is_empty() {
                        "<none>".into()
                    } else {
                        taints.join("\n                  ")
                    },
                );
                field(&mut out, "Unschedulable", n.state.cordoned);
                out.push("Conditions:".into());
                out.push(format!(
                    "  Type   Status\n  Ready  {}",
                    match n.state.ready {
                        Condition::True => "True",
                        Condition::False => "False",
                        Condition::Unknown => "Unknown",
                    }
                ));
                out.push("Capacity:".into());
                out.push(format!(
                    "  cpu:     {}m\n  memory:  {}Mi",
                    n.node.cpu_millis, n.node.memory_mib
                ));
                let pods: Vec<&PodRead> = c
                    .pods
                    .iter()
                    .filter(|p| p.status.node.as_deref() == Some(name) && !p.status.terminal())
                    .collect();
                out.push(format!(
                    "Non-terminated Pods:          ({} in total)",
                    pods.len()
                ));
                for p in pods {
                    out.push(format!(
                        "  default    {:<20}{}m",
                        p.pod.name, p.pod.template.cpu_millis
                    ));
                }
            }
            format!("node/{name}")
        }
        Kind::Claim => {
            if let Some(cl) = c.claims.iter().find(|cl| cl.claim.name == name) {
                field(&mut out, "Name", name);
                field(&mut out, "Namespace", "default");
                field(&mut out, "StorageClass", &cl.claim.class);
                field(
                    &mut out,
                    "Status",
                    if cl.status.deleting.is_some() {
                        "Terminating"
                    } else if cl.status.volume.is_some() {
                        "Bound"
                    } else {
                        "Pending"
                    },
                );
                field(
                    &mut out,
                    "Volume",
                    cl.status.volume.as_deref().unwrap_or(""),
                );
                field(
                    &mut out,
                    "Capacity",
                    format!("{}Gi", cl.status.capacity_gib(cl.claim.size_gib)),
                );
                field(&mut out, "Access Modes", "RWO");
                // The conditions of an expansion under way (kubectl
                // describe's Conditions table, shortened to one line).
                if let Some(r) = cl.status.resize {
                    let condition = match r.stage {
                        ResizeStage::Controller { .. } => "Resizing",
                        ResizeStage::FileSystem { .. } => "FileSystemResizePending",
                    };
                    field(&mut out, "Conditions", format!("{condition}=True"));
                }
                field(&mut out, "Used By", cl.pod.as_deref().unwrap_or("<none>"));
            }
            format!("pvc/{name}")
        }
        Kind::Budget => {
            if let Some(b) = budgets.iter().find(|b| b.name == name) {
                let st = budget_status_in(b, c);
                field(&mut out, "Name", name);
                field(&mut out, "Namespace", "default");
                if let Some(m) = &b.min_available {
                    field(&mut out, "Min available", m.describe());
                }
                if let Some(m) = &b.max_unavailable {
                    field(&mut out, "Max unavailable", m.describe());
                }
                field(&mut out, "Selector", format!("app={}", b.set));
                out.push("Status:".into());
                out.push(format!("    Allowed disruptions:  {}\n    Current:              {}\n    Desired:              {}\n    Total:                {}", st.disruptions_allowed, st.current_healthy, st.desired_healthy, st.expected_pods));
            }
            format!("poddisruptionbudget/{name}")
        }
        Kind::Volume | Kind::Event => String::new(),
    };
    out.push(events_section(events, &object, now));
    out.join("\n")
}

/// `kubectl rollout history`.
pub fn rollout_history(c: &Cluster, kind: Kind, name: &str) -> String {
    let mut numbers: Vec<u64> = match kind {
        Kind::StatefulSet => c
            .sets
            .iter()
            .find(|s| s.set.spec.name == name)
            .map(|s| s.status.revisions.iter().map(|r| r.number).collect())
            .unwrap_or_default(),
        _ => c
            .deployments
            .iter()
            .find(|d| d.deployment.spec.name == name)
            .map(|d| (1..=d.status.replica_sets.len() as u64).collect())
            .unwrap_or_default(),
    };
    numbers.sort();
    let rows: Vec<Vec<String>> = numbers
        .iter()
        .map(|n| vec![n.to_string(), "<none>".into()])
        .collect();
    format!(
        "{}/{name}\n{}",
        kind.singular(),
        table(&["REVISION", "CHANGE-CAUSE"], &rows)
    )
}
