//! The inspector: any selected object described the way `kubectl describe`
//! would show it, plus its recent events. Pure text from the world, so it is
//! unit-tested without a window.

use crate::sim::event::EventLog;
use crate::sim::model::{Attachment, Claim, ClaimStatus, Volume};
use crate::sim::model::{Machine, Node, NodeState};
use crate::sim::model::{OwnerKind, Pod, PodStatus};
use crate::sim::database::VolumeData;
use crate::view::scene;
use bevy::prelude::*;
use std::fmt::Write;

/// Describes "pod/<name or uid>", "proc/<uid>", "node/<name>" or "pv/<name>".
pub fn describe(world: &mut World, key: &str) -> String {
    let mut out = if let Some(p) = key.strip_prefix("pod/") {
        describe_pod(world, p)
    } else if let Some(uid) = key.strip_prefix("proc/") {
        describe_orphan(world, uid)
    } else if let Some(n) = key.strip_prefix("node/") {
        describe_node(world, n)
    } else if let Some(v) = key.strip_prefix("pv/") {
        describe_volume(world, v)
    } else {
        None
    }
    .unwrap_or_else(|| format!("{key}: no longer exists"));
    // Recent events about it.
    let obj_name = key.split_once('/').map_or(key, |x| x.1);
    let log = world.resource::<EventLog>();
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

fn describe_pod(world: &mut World, name_or_uid: &str) -> Option<String> {
    let mut q = world.query::<(&Pod, &PodStatus)>();
    let (p, s) = q
        .iter(world)
        .find(|(p, _)| p.name == name_or_uid || p.uid == name_or_uid)?;
    let (p, s) = (p.clone(), s.clone());
    let sc = scene::extract(world);
    let view = sc.pods.iter().find(|v| v.name == p.name && !v.orphan);
    let mut o = String::new();
    let _ = writeln!(o, "Name:          {}", p.name);
    let _ = writeln!(o, "Namespace:     default");
    let _ = writeln!(o, "UID:           {}", p.uid);
    match p.owner.kind {
        OwnerKind::StatefulSet => {
            let _ = writeln!(o, "Labels:        app={}", p.owner.name);
            if let Some(ord) = p.ordinal {
                let _ = writeln!(o, "               apps.kubernetes.io/pod-index={ord}");
            }
            let _ = writeln!(o, "               controller-revision-hash={}", p.revision);
            let _ = writeln!(
                o,
                "               statefulset.kubernetes.io/pod-name={}",
                p.name
            );
            let _ = writeln!(o, "Controlled By: StatefulSet/{}", p.owner.name);
        }
        OwnerKind::Deployment => {
            let hash = p.revision.rsplit('-').next().unwrap_or(&p.revision);
            let _ = writeln!(o, "Labels:        app={}", p.owner.name);
            let _ = writeln!(o, "               pod-template-hash={hash}");
            let _ = writeln!(o, "Controlled By: ReplicaSet/{}-{hash}", p.owner.name);
        }
    }
    let _ = writeln!(
        o,
        "Node:          {}",
        s.node.as_deref().unwrap_or("<none>")
    );
    let status = if s.terminating() {
        "Terminating".to_string()
    } else {
        format!("{:?}", s.phase)
    };
    let _ = writeln!(o, "Status:        {status}");
    let _ = writeln!(o, "Ready:         {}", s.ready);
    if let Some(w) = &s.waiting {
        let _ = writeln!(o, "Waiting:       {w}");
    }
    let _ = writeln!(o, "Image:         {}", p.template.image);
    let _ = writeln!(o, "Restarts:      {}", s.restarts);
    match (&p.dns, s.ready) {
        (Some(d), true) => {
            let _ = writeln!(o, "DNS:           {d}");
        }
        (Some(d), false) => {
            let _ = writeln!(o, "DNS:           {d} (no address: not Ready)");
        }
        (None, _) => {
            let _ = writeln!(
                o,
                "DNS:           <none> (Deployment pods have no stable name)"
            );
        }
    }
    if !p.claims.is_empty() {
        let _ = writeln!(o, "Volumes:");
        for c in &p.claims {
            let vol = sc.volumes.iter().find(|v| v.claim == *c);
            let _ = writeln!(
                o,
                "  {c}: PersistentVolumeClaim -> {}",
                vol.map_or("<not bound>".to_string(), |v| v.name.clone())
            );
        }
    }
    if let Some(db) = view.and_then(|v| v.db.as_ref()) {
        let _ = writeln!(
            o,
            "Database:      {} (server-id {}), lag {} rows",
            db.state, db.server_id, db.lag_rows
        );
    }
    Some(o)
}

fn describe_orphan(world: &mut World, uid: &str) -> Option<String> {
    let sc = scene::extract(world);
    let v = sc.pods.iter().find(|v| v.key == format!("proc/{uid}"))?;
    Some(format!(
        "Process:       {} (uid {uid})\nNode:          {}\nAPI object:    DELETED (force delete)\n\nThe control plane has forgotten this pod, but its node was only cut off,\nnot dead: the container still runs and still writes to its volume.\nA second {} may now run elsewhere: split brain.\n",
        v.name,
        v.node.as_deref().unwrap_or("?"),
        v.name
    ))
}

fn describe_node(world: &mut World, name: &str) -> Option<String> {
    let mut q = world.query::<(&Node, &NodeState)>();
    let (n, s) = q.iter(world).find(|(n, _)| n.name == name)?;
    let (n, s) = (n.clone(), s.clone());
    let now = world.resource::<crate::sim::SimClock>().now_ms;
    let mut o = String::new();
    let _ = writeln!(o, "Name:          {}", n.name);
    let _ = writeln!(o, "Labels:        topology.kubernetes.io/zone={}", n.zone);
    let _ = writeln!(
        o,
        "Capacity:      cpu {}m, memory {}Mi",
        n.cpu_millis, n.memory_mib
    );
    let _ = writeln!(o, "Unschedulable: {}", s.cordoned);
    let _ = writeln!(
        o,
        "Conditions:    Ready={:?} since {}",
        s.ready,
        super::clock(s.ready_since_ms)
    );
    let _ = writeln!(
        o,
        "Last heartbeat: {}",
        super::clock(s.heartbeat_at(now).min(now))
    );
    if s.taints.is_empty() {
        let _ = writeln!(o, "Taints:        <none>");
    }
    for (i, t) in s.taints.iter().enumerate() {
        let _ = writeln!(
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
    let _ = writeln!(
        o,
        "Machine:       {truth}   (what is really true; the control plane cannot see it)"
    );
    let mut pq = world.query::<(&Pod, &PodStatus)>();
    let mut pods: Vec<String> = pq
        .iter(world)
        .filter(|(_, st)| st.node.as_deref() == Some(name))
        .map(|(p, _)| p.name.clone())
        .collect();
    pods.sort();
    let _ = writeln!(
        o,
        "Pods:          {}",
        if pods.is_empty() {
            "<none>".to_string()
        } else {
            pods.join(", ")
        }
    );
    let mut aq = world.query::<&Attachment>();
    let mut vols: Vec<String> = aq
        .iter(world)
        .filter(|a| a.node == name)
        .map(|a| a.volume.clone())
        .collect();
    vols.sort();
    let _ = writeln!(
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

fn describe_volume(world: &mut World, name: &str) -> Option<String> {
    let mut q = world.query::<(&Volume, Option<&VolumeData>)>();
    let (v, d) = q.iter(world).find(|(v, _)| v.name == name)?;
    let (v, rows, diverged) = (
        v.clone(),
        d.map(|d| d.rows()),
        d.is_some_and(|d| d.diverged),
    );
    let mut o = String::new();
    let _ = writeln!(o, "Name:          {}", v.name);
    let _ = writeln!(o, "Claim:         default/{}", v.claim);
    let _ = writeln!(
        o,
        "Kind:          {:?}, {} GiB, ReadWriteOnce",
        v.kind, v.size_gib
    );
    let _ = writeln!(
        o,
        "Node affinity: {}",
        v.affinity
            .describe()
            .unwrap_or_else(|| "<none> (attachable anywhere)".into())
    );
    let mut cq = world.query::<(&Claim, &ClaimStatus)>();
    let claim_there = cq.iter(world).any(|(c, _)| c.name == v.claim);
    let _ = writeln!(o, "Claim exists:  {claim_there}");
    let mut aq = world.query::<&Attachment>();
    let atts: Vec<String> = aq
        .iter(world)
        .filter(|a| a.volume == name)
        .map(|a| {
            format!(
                "{} ({:?}{})",
                a.node,
                a.state,
                if a.forgotten {
                    ", forgotten by the control plane"
                } else {
                    ""
                }
            )
        })
        .collect();
    let _ = writeln!(
        o,
        "Attached to:   {}",
        if atts.is_empty() {
            "<none>".to_string()
        } else {
            atts.join(", ")
        }
    );
    if let Some(r) = rows {
        let _ = writeln!(
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
