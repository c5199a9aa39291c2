//! The inspector: any selected object described the way `kubectl describe`
//! would show it, plus its recent events. Pure text from the read model
//! (`sim::read`, which the world view and the snapshot read too), so it is
//! unit-tested without a window.

use crate::sim::event::EventLog;
use crate::sim::model::{AttachState, Condition, Machine, OwnerKind, ResizeStage, StorageKind};
use crate::sim::read::{self, Cluster};
use bevy::prelude::*;

/// Appends one formatted line to a `String` (which cannot fail, unlike
/// `writeln!`'s general case).
macro_rules! out {
    ($o:expr, $($arg:tt)*) => {{
        $o.push_str(&format!($($arg)*));
        $o.push('\n');
    }};
}

/// Describes "pod/<name or uid>", "proc/<uid>", "node/<name>" or "pv/<name>".
pub fn describe(world: &mut World, key: &str) -> String {
    let c = read::read(world);
    describe_read(&c, world.resource::<EventLog>(), key)
}

/// Describes an object of a read of the cluster, with its recent events.
pub fn describe_read(c: &Cluster, log: &EventLog, key: &str) -> String {
    let mut out = if let Some(p) = key.strip_prefix("pod/") {
        describe_pod(c, p)
    } else if let Some(uid) = key.strip_prefix("proc/") {
        describe_stray(c, uid)
    } else if let Some(n) = key.strip_prefix("node/") {
        describe_node(c, n)
    } else if let Some(v) = key.strip_prefix("pv/") {
        describe_volume(c, v)
    } else {
        None
    }
    .unwrap_or_else(|| format!("{key}: no longer exists"));
    // Recent events about it.
    let obj_name = key.split_once('/').map_or(key, |x| x.1);
    let recent: Vec<String> = log
        .events
        .iter()
        .filter(|e| {
            e.object.split_once('/').is_some_and(|(_, n)| n == obj_name)
                || (key.starts_with("node/")
                    && e.node.as_deref() == Some(obj_name)
                    && e.object.starts_with("node/"))
        })
        .rev()
        .take(8)
        .map(|e| {
            format!(
                "  {:>7}  {:<22} {}",
                super::clock(e.t_ms),
                e.kind.name(),
                e.reason
            )
        })
        .collect();
    out.push_str("Events:\n");
    if recent.is_empty() {
        out.push_str("  <none>\n");
    }
    for r in recent.into_iter().rev() {
        out.push_str(&r);
        out.push('\n');
    }
    out
}

fn describe_pod(c: &Cluster, name_or_uid: &str) -> Option<String> {
    let read::PodRead {
        pod: p,
        status: s,
        orphaned,
    } = c
        .pods
        .iter()
        .find(|p| p.pod.name == name_or_uid || p.pod.uid == name_or_uid)?;
    let mut o = String::new();
    out!(o, "Name:          {}", p.name);
    out!(o, "Namespace:     default");
    out!(o, "UID:           {}", p.uid);
    match p.owner.kind {
        OwnerKind::StatefulSet => {
            out!(o, "Labels:        app={}", p.owner.name);
            if let Some(ord) = p.ordinal {
                out!(o, "               apps.kubernetes.io/pod-index={ord}");
            }
            out!(o, "               controller-revision-hash={}", p.revision);
            out!(
                o,
                "               statefulset.kubernetes.io/pod-name={}",
                p.name
            );
            if *orphaned {
                out!(
                    o,
                    "Controlled By: nothing (orphaned: statefulset {} was deleted with --cascade=orphan; a new set named {} adopts it)",
                    p.owner.name,
                    p.owner.name
                );
            } else {
                out!(o, "Controlled By: StatefulSet/{}", p.owner.name);
            }
        }
        OwnerKind::Deployment => {
            let hash = p.revision.rsplit('-').next().unwrap_or(&p.revision);
            out!(o, "Labels:        app={}", p.owner.name);
            out!(o, "               pod-template-hash={hash}");
            out!(o, "Controlled By: ReplicaSet/{}-{hash}", p.owner.name);
        }
    }
    out!(
        o,
        "Node:          {}",
        s.node.as_deref().unwrap_or("<none>")
    );
    // As `kubectl describe pod` (the API phase) and `kubectl get pods`
    // (the STATUS column) show them.
    out!(o, "Status:        {}", s.api_phase().name());
    out!(o, "STATUS column: {}", s.status_column(c.now_ms));
    if let Some(r) = &s.reason {
        out!(o, "Reason:        {r}");
    }
    out!(o, "Ready:         {}", s.ready);
    if let Some(w) = &s.waiting {
        out!(o, "Waiting:       {w}");
    }
    out!(o, "Image:         {}", p.template.image);
    out!(o, "Restarts:      {}", s.restarts);
    out!(o, "IP:            {}", s.ip.as_deref().unwrap_or("<none>"));
    match (&p.dns, s.dns_address()) {
        (Some(d), Some(ip)) => {
            out!(o, "DNS:           {d} → {ip}");
        }
        (Some(d), None) => {
            out!(
                o,
                "DNS:           {d} (no address: not Ready, or Terminating)"
            );
        }
        (None, _) => {
            out!(
                o,
                "DNS:           <none> (Deployment pods have no stable name)"
            );
        }
    }
    if !p.claims.is_empty() {
        out!(o, "Volumes:");
        for claim in &p.claims {
            let vol = c.volumes.iter().find(|v| v.volume.claim == *claim);
            out!(
                o,
                "  {claim}: PersistentVolumeClaim → {}",
                vol.map_or("<not bound>".to_string(), |v| v.volume.name.clone())
            );
        }
    }
    if let Some(db) = c.server(&p.uid) {
        out!(
            o,
            "Database:      {} (server-id {}), lag {} rows",
            db.state,
            db.server.server_id,
            db.lag_rows
        );
    }
    Some(o)
}

fn describe_stray(c: &Cluster, uid: &str) -> Option<String> {
    let strays = c.stray_processes();
    let v = &strays.iter().find(|p| p.process.pod_uid == uid)?.process;
    Some(format!(
        "Process:       {} (uid {uid})\nNode:          {}\nAPI object:    DELETED (force delete)\n\nThe control plane has forgotten this pod, but its node was only cut off,\nnot dead: the container still runs and still writes to its volume.\nA second {} may now run elsewhere: split brain.\n",
        v.pod, v.node, v.pod
    ))
}

fn describe_node(c: &Cluster, name: &str) -> Option<String> {
    let read::NodeRead { node: n, state: s } = c.node(name)?;
    let now = c.now_ms;
    let mut o = String::new();
    out!(o, "Name:          {}", n.name);
    out!(o, "Labels:        topology.kubernetes.io/zone={}", n.zone);
    out!(
        o,
        "Capacity:      cpu {}m, memory {}Mi",
        n.cpu_millis,
        n.memory_mib
    );
    out!(o, "Unschedulable: {}", s.cordoned);
    out!(
        o,
        "Kubelet Version: v{}   (cluster: {})",
        c.version.version,
        c.version.describe()
    );
    out!(
        o,
        "Conditions:    Ready={} since {}",
        condition_word(s.ready),
        super::clock(s.ready_since_ms)
    );
    out!(
        o,
        "Last heartbeat: {}",
        super::clock(s.heartbeat_at(now).min(now))
    );
    if s.taints.is_empty() {
        out!(o, "Taints:        <none>");
    }
    for (i, t) in s.taints.iter().enumerate() {
        out!(
            o,
            "{}{}",
            if i == 0 {
                "Taints:        "
            } else {
                "               "
            },
            t.describe()
        );
    }
    let truth = match s.machine {
        Machine::Up => "running, connected",
        Machine::Dead => "DEAD (power off): its containers have stopped",
        Machine::Partitioned => {
            "PARTITIONED: cut off from the control plane, its containers keep running"
        }
    };
    out!(
        o,
        "Machine:       {truth}   (what is really true; the control plane cannot see it)"
    );
    let pods: Vec<String> = c
        .pods
        .iter()
        .filter(|p| p.status.node.as_deref() == Some(name))
        .map(|p| p.pod.name.clone())
        .collect();
    out!(
        o,
        "Pods:          {}",
        if pods.is_empty() {
            "<none>".to_string()
        } else {
            pods.join(", ")
        }
    );
    let vols: Vec<String> = c
        .volumes
        .iter()
        .filter(|v| v.attachments.iter().any(|a| a.node == name))
        .map(|v| v.volume.name.clone())
        .collect();
    out!(
        o,
        "Volumes attached: {}",
        if vols.is_empty() {
            "<none>".to_string()
        } else {
            vols.join(", ")
        }
    );
    Some(o)
}

fn describe_volume(c: &Cluster, name: &str) -> Option<String> {
    let vr = c.volume(name)?;
    let (v, rows, diverged) = (&vr.volume, vr.rows, vr.diverged);
    let mut o = String::new();
    out!(o, "Name:          {}", v.name);
    out!(o, "Claim:         default/{}", v.claim);
    out!(
        o,
        "Kind:          {}, {} GiB, {}",
        storage_word(v.kind),
        v.size_gib,
        if v.kind.is_block() {
            "ReadWriteOnce"
        } else {
            "ReadWriteMany"
        }
    );
    out!(
        o,
        "Node affinity: {}",
        v.affinity
            .describe()
            .unwrap_or_else(|| "<none> (attachable anywhere)".into())
    );
    let claim = c.claims.iter().find(|cl| cl.claim.name == v.claim);
    out!(o, "Claim exists:  {}", claim.is_some());
    if let Some(cl) = claim {
        // metadata.ownerReferences: who the garbage collector deletes it after.
        let owners: Vec<String> = cl.status.owner_refs.iter().map(|r| r.describe()).collect();
        out!(
            o,
            "Claim owners:  {}",
            if owners.is_empty() {
                "<none> (kept until deleted by hand)".to_string()
            } else {
                format!("{} (deleted with it)", owners.join(", "))
            }
        );
        out!(
            o,
            "Claim size:    requests {} GiB, capacity {} GiB",
            cl.claim.size_gib,
            cl.status.capacity_gib(cl.claim.size_gib)
        );
        if let Some(r) = cl.status.resize {
            out!(
                o,
                "Expansion:     {}",
                match r.stage {
                    ResizeStage::Controller { .. } =>
                        "the external resizer expands the volume (Resizing)",
                    ResizeStage::FileSystem { until_ms: Some(_) } =>
                        "the kubelet grows the file system online (FileSystemResizePending)",
                    ResizeStage::FileSystem { until_ms: None } =>
                        "waits for a pod using the claim to grow its file system (FileSystemResizePending)",
                }
            );
        }
    }
    let atts: Vec<String> = vr
        .attachments
        .iter()
        .map(|a| {
            format!(
                "{} ({}{})",
                a.node,
                attach_word(a.state),
                if a.forgotten {
                    ", force-detached: the stale mount there is fenced (I/O errors)"
                } else {
                    ""
                }
            )
        })
        .collect();
    out!(
        o,
        "Attached to:   {}",
        if atts.is_empty() {
            "<none>".to_string()
        } else {
            atts.join(", ")
        }
    );
    if let Some(r) = rows {
        out!(
            o,
            "Data:          {r} rows{}",
            if diverged {
                " (DIVERGED from another copy)"
            } else {
                ""
            }
        );
    }
    Some(o)
}

/// A node condition's status as `kubectl describe node` prints it.
fn condition_word(c: Condition) -> &'static str {
    match c {
        Condition::True => "True",
        Condition::False => "False",
        Condition::Unknown => "Unknown",
    }
}

/// Where a volume can be attached, in words.
fn storage_word(k: StorageKind) -> &'static str {
    match k {
        StorageKind::Network => "network storage (attachable on any node)",
        StorageKind::Zonal => "zonal disk (any node of its zone)",
        StorageKind::Local => "local disk (one node only)",
        StorageKind::Shared => "shared file storage (ReadWriteMany: any nodes at once, no fencing)",
    }
}

/// An attachment's state, with its deadline left out (the countdown shows
/// on the volume in the world view).
fn attach_word(s: AttachState) -> &'static str {
    match s {
        AttachState::Attaching { .. } => "attaching",
        AttachState::Attached => "attached",
        AttachState::Detaching { .. } => "detaching",
    }
}

#[cfg(test)]
mod tests {
    use super::describe;
    use crate::headless;
    use crate::scenario::load_str;

    const TEXT: &str = r#"(name: "t", seed: 1,
        cluster: (nodes: [(name: "node-a", zone: "zone-1"), (name: "node-b", zone: "zone-1")]),
        workloads: [StatefulSet((name: "web", replicas: 2, template: (image: "nginx:1"),
            claims: [(name: "www")]))])"#;

    fn run() -> headless::Run {
        let loaded = load_str("t.ron", TEXT.as_bytes()).expect("loads");
        headless::run(loaded, None, Some(60_000))
    }

    #[test]
    fn a_pod_reads_like_kubectl_describe_with_words_not_debug_text() {
        let mut r = run();
        let text = describe(r.world(), "pod/web-1");
        assert!(text.contains("Status:        Running\n"), "{text}");
        assert!(text.contains("Ready:         true\n"), "{text}");
        assert!(
            text.contains("www-web-1: PersistentVolumeClaim → pv-"),
            "{text}"
        );
        assert!(text.contains("Events:\n"), "{text}");
    }

    #[test]
    fn a_node_and_a_volume_name_their_states_in_words() {
        let mut r = run();
        let node = describe(r.world(), "node/node-a");
        assert!(node.contains("Conditions:    Ready=True since"), "{node}");
        let pv = describe(r.world(), "pv/pv-www-web-0");
        assert!(pv.contains("Kind:          network storage"), "{pv}");
        assert!(pv.contains("(attached)"), "{pv}");
        assert!(
            !pv.contains("(Attached") && !pv.contains("Network,"),
            "{pv}"
        );
    }

    #[test]
    fn a_node_shows_the_kubernetes_release_the_cluster_runs() {
        let mut r = run();
        let node = describe(r.world(), "node/node-a");
        assert!(
            node.contains("Kubelet Version: v1.37.0   (cluster: Kubernetes 1.37.0 (default); feature gates: MaxUnavailableStatefulSet on"),
            "{node}"
        );
    }

    #[test]
    fn a_volume_shows_its_claims_owner_references_under_when_scaled_delete() {
        let text = TEXT.replace(
            "claims: [(name: \"www\")]",
            "claims: [(name: \"www\")], retention: (when_deleted: Retain, when_scaled: Delete)",
        ) + "";
        let text = text.replacen(
            "workloads:",
            r#"steps: [(after: 30.0, do: Scale(set: "web", replicas: 1))], workloads:"#,
            1,
        );
        let loaded = load_str("t.ron", text.as_bytes()).expect("loads");
        let mut r = headless::run(loaded, None, Some(31_000));
        let pv = describe(r.world(), "pv/pv-www-web-1");
        assert!(pv.contains("Claim owners:  Pod web-1 (uid "), "{pv}");
        let pv = describe(r.world(), "pv/pv-www-web-0");
        assert!(pv.contains("Claim owners:  <none>"), "{pv}");
    }

    #[test]
    fn a_gone_object_says_so() {
        let mut r = run();
        assert!(describe(r.world(), "pod/web-9").starts_with("pod/web-9: no longer exists"));
    }
}
