//! The visual language: colours by state and the caption texts under each
//! thing. Pure functions, so what a student reads is unit-tested.

use super::scene::{AttachLook, LinkKind, LinkView, NodeView, PodView, VolumeView};
use super::theme::{PodState, Theme};
use crate::sim::model::{Condition, Machine};
use crate::sim::model::{OwnerKind, PodPhase};
use crate::sim::units;

/// An sRGB colour, 0..1, without depending on a renderer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgb(pub f32, pub f32, pub f32);

/// Text smaller than this on screen (logical pixels) is an unreadable smear:
/// it is not drawn until the user zooms in far enough to read it. Pod and
/// node names are the largest text, so they are the last to go.
pub const MIN_TEXT_PX: f32 = 6.0;

/// Whether text of `font_px` world units is drawn at a zoom of
/// `world_per_px` world units per screen pixel.
pub fn text_readable(font_px: f32, world_per_px: f32) -> bool {
    font_px >= MIN_TEXT_PX * world_per_px
}

/// A pod card's fill: its state's colour (see [`PodState`]), tinted for
/// the theme.
pub fn pod_colour(p: &PodView, theme: &Theme) -> Rgb {
    theme.card_fill(PodState::of(p))
}

/// The status line of a pod card: phase, readiness, revision.
pub fn pod_status_line(p: &PodView) -> String {
    if p.stray {
        return "NO API object".into();
    }
    if p.unowned {
        return pod_status_unowned(p);
    }
    // kubectl's STATUS word where it says more than the phase
    // (CrashLoopBackOff, ImagePullBackOff, Init:1/2, Evicted).
    let status_word = |phase_word: &str| p.status != phase_word && !p.status.is_empty();
    let (long, short): (&str, &str) = match p.phase {
        PodPhase::Running if p.ready => ("Running, Ready", "Ready"),
        PodPhase::Running if status_word("Running") => (&p.status, &p.status),
        PodPhase::Running => ("Running, NOT Ready", "NOT Ready"),
        PodPhase::ContainerCreating if status_word("ContainerCreating") => (&p.status, &p.status),
        PodPhase::ContainerCreating => ("ContainerCreating", "Creating"),
        PodPhase::Pending => ("Pending", "Pending"),
        PodPhase::Terminating => ("Terminating", "Terminating"),
        PodPhase::Failed => (&p.status, &p.status),
        PodPhase::Succeeded => ("Succeeded", "Succeeded"),
        PodPhase::Absent => ("Absent", "Absent"),
    };
    // The RESTARTS column, when there were any: "Ready, restarts 1".
    let base_short = short;
    let (long_r, short_r);
    let (long, short) = match p.restarts {
        0 => (long, short),
        n => {
            long_r = format!("{long}, restarts {n}");
            short_r = format!("{short}, restarts {n}");
            (long_r.as_str(), short_r.as_str())
        }
    };
    let Some(r) = p
        .revision
        .filter(|_| p.owner_kind == OwnerKind::StatefulSet)
    else {
        return long.to_string();
    };
    // The longest wording that fits the card (about 25 characters).
    let old = if p.updated {
        ["", ""]
    } else {
        [" (old)", " old"]
    };
    for word in [long, short] {
        for o in old {
            let s = format!("{word}, rev {r}{o}");
            if s.chars().count() <= STATUS_MAX {
                return s;
            }
        }
    }
    // Restarts matter more than the revision number.
    if p.restarts > 0 && short.chars().count() <= STATUS_MAX {
        return short.to_string();
    }
    format!("{base_short} r{r}{}", old[1])
}

/// The status line of a pod no controller owns (orphaned by
/// `--cascade=orphan`): its readiness and that it has no owner.
fn pod_status_unowned(p: &PodView) -> String {
    let state = match p.phase {
        PodPhase::Running if p.ready => "Ready",
        PodPhase::Running => "NOT Ready",
        PodPhase::Terminating => "Terminating",
        other => other.name(),
    };
    format!("{state}, no owner")
}

/// Characters that fit on a card's status line.
pub const STATUS_MAX: usize = 25;

/// The third line: the database role, else why it waits, else its DNS name.
pub fn pod_caption(p: &PodView) -> String {
    if let Some(w) = &p.waiting {
        return w.clone();
    }
    if let Some(db) = &p.db {
        return if db.primary {
            format!("PRIMARY  server-id {}", db.server_id)
        } else {
            format!("{}  lag {} rows", db.state, db.lag_rows)
        };
    }
    match (&p.dns, p.owner_kind) {
        (Some(d), _) => d.split(".svc").next().unwrap_or(d).to_string(),
        (None, OwnerKind::Deployment) => format!("Deployment {} (no stable name)", p.owner),
        (None, OwnerKind::StatefulSet) => "not in DNS (not Ready)".to_string(),
    }
}

/// A node is drawn as failed when the control plane no longer sees it Ready.
pub fn node_failed(n: &NodeView) -> bool {
    n.ready != Condition::True || n.machine != Machine::Up
}

/// "Ready" or "NotReady (Unknown) 1m20s".
pub fn node_condition_line(n: &NodeView) -> String {
    match n.ready {
        Condition::True => "Ready".to_string(),
        Condition::False => format!("NotReady for {}", units::duration(n.ready_for_ms)),
        Condition::Unknown => format!("Unknown for {}", units::duration(n.ready_for_ms)),
    }
}

/// What is really true of the machine (the teacher's view; the control plane
/// cannot see this).
pub fn node_truth_line(n: &NodeView) -> String {
    let t = units::duration(n.machine_for_ms);
    let mut s = match n.machine {
        Machine::Up => String::new(),
        Machine::Dead => format!("MACHINE DEAD {t} ago"),
        Machine::Partitioned => format!("CUT OFF {t}, still running"),
    };
    if n.cordoned {
        if !s.is_empty() {
            s.push_str("  ");
        }
        s.push_str("cordoned");
    }
    s
}

/// "unreachable (NoSchedule, NoExecute)": taints grouped by key.
pub fn node_taint_line(n: &NodeView) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for t in &n.taints {
        let t = t.replace("node.kubernetes.io/", "");
        let (key, effect) = t
            .rsplit_once(':')
            .map_or((t.clone(), String::new()), |(k, e)| {
                (k.to_string(), e.to_string())
            });
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(effect),
            None => groups.push((key, vec![effect])),
        }
    }
    groups
        .iter()
        .map(|(k, e)| format!("{k} ({})", e.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Shortens a caption for a card: the part before the first colon if that
/// is long enough to say something, then at most `max` characters.
pub fn short(s: &str, max: usize) -> String {
    let head = match s.split_once(": ") {
        Some((h, _)) if h.len() >= 20 => h,
        _ => s,
    };
    if head.chars().count() <= max {
        head.to_string()
    } else {
        let cut: String = head.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// A volume chip's colour: teal attached, amber moving, red blocked or split.
pub fn volume_colour(v: &VolumeView, theme: &Theme) -> Rgb {
    match volume_look(v) {
        VolumeLook::Error => theme.vol_error,
        VolumeLook::Attached => theme.vol_attached,
        VolumeLook::Moving => theme.vol_moving,
        VolumeLook::Loose => theme.vol_loose,
    }
}

/// What a volume chip says at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeLook {
    Attached,
    Moving,
    Loose,
    /// On two nodes, fenced, diverged, or blocked (Multi-Attach).
    Error,
}

pub fn volume_look(v: &VolumeView) -> VolumeLook {
    if v.diverged
        || v.attached.len() > 1
        || v.attached
            .iter()
            .any(|(_, l)| *l == AttachLook::StillMounted)
    {
        return VolumeLook::Error;
    }
    if v.waiting.is_some() {
        return VolumeLook::Error;
    }
    match v.attached.first().map(|(_, l)| l) {
        Some(AttachLook::Attached) => VolumeLook::Attached,
        Some(AttachLook::Attaching) | Some(AttachLook::Detaching) => VolumeLook::Moving,
        _ => VolumeLook::Loose,
    }
}

/// "www-web-1  1,234 rows  @node-b".
pub fn volume_label(v: &VolumeView) -> String {
    let mut s = v.claim.clone();
    if !v.claim_exists {
        s = format!("{} (claim deleted)", v.name);
    }
    if let Some(r) = v.rows {
        s.push_str(&format!("  {} rows", thousands(r)));
    }
    if v.diverged {
        s.push_str("  DIVERGED");
    }
    // A fenced mount is no attachment: the storage API took the disk away.
    let (fenced, live): (Vec<_>, Vec<_>) = v
        .attached
        .iter()
        .partition(|(_, l)| *l == AttachLook::StillMounted);
    for (node, _) in &fenced {
        s.push_str(&format!("  fenced on {node}"));
    }
    match live.as_slice() {
        [] if !fenced.is_empty() => {}
        // Shared file storage has no attach step: "detached" would mislead.
        [] if v.shared => s.push_str("  (shared)"),
        // Nor is a local disk ever attached: it is in its node.
        [] if v.local => {}
        [] => s.push_str("  (detached)"),
        [(_, AttachLook::Attached)] => {}
        [(_, l)] => s.push_str(&format!("  ({})", attach_word(l))),
        many => s.push_str(&format!("  on {} nodes!", many.len())),
    }
    s
}

fn attach_word(l: &AttachLook) -> &'static str {
    match l {
        AttachLook::Attaching => "attaching",
        AttachLook::Attached => "on",
        AttachLook::Detaching => "detaching",
        AttachLook::StillMounted => "fenced mount",
    }
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn link_colour(l: &LinkView, theme: &Theme) -> Rgb {
    match l.kind {
        LinkKind::Replicating => theme.link_ok,
        LinkKind::Connecting => theme.link_connecting,
        LinkKind::Cloning => theme.link_clone,
        LinkKind::Broken => theme.link_broken,
    }
}

pub fn link_label(l: &LinkView) -> String {
    match l.kind {
        LinkKind::Cloning => format!("clone from {}", l.from),
        LinkKind::Connecting => format!(
            "connecting to {}.{}",
            l.from,
            l.from.rsplit_once('-').map_or("", |x| x.0)
        ),
        LinkKind::Replicating => format!("lag {} rows / {:.1}s", l.lag_rows, l.lag_secs),
        LinkKind::Broken => "BROKEN: primary unreachable, retry 10s".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_text_is_hidden_only_when_zoomed_out_past_reading() {
        // At 1:1 every label is drawn, down to the 13-px captions.
        assert!(text_readable(13.0, 1.0));
        // A 200-pod cluster fit into the window (about 3.5 world units per
        // pixel): pod names (28) stay, the 14-px status lines go.
        assert!(text_readable(28.0, 3.5));
        assert!(!text_readable(14.0, 3.5));
        // Zooming back in brings them back.
        assert!(text_readable(14.0, 2.0));
    }
    use crate::view::scene::DbView;

    fn pod(phase: PodPhase, ready: bool) -> PodView {
        PodView {
            key: "pod/web-1".into(),
            name: "web-1".into(),
            owner_kind: OwnerKind::StatefulSet,
            owner: "web".into(),
            node: Some("node-b".into()),
            phase,
            ready,
            status: match (phase, ready) {
                (PodPhase::ContainerCreating, _) => "ContainerCreating".into(),
                (p, _) => p.name().into(),
            },
            restarts: 0,
            revision: Some(2),
            updated: true,
            image: "nginx".into(),
            waiting: None,
            stray: false,
            unowned: false,
            claims: vec!["www-web-1".into()],
            dns: Some("web-1.web.default.svc.cluster.local".into()),
            ip: None,
            db: None,
        }
    }

    #[test]
    fn an_orphaned_pod_card_says_it_has_no_owner() {
        let mut p = pod(PodPhase::Running, true);
        p.unowned = true;
        assert_eq!(pod_status_line(&p), "Ready, no owner");
        assert!(pod_status_line(&p).chars().count() <= STATUS_MAX);
        assert_eq!(PodState::of(&p), PodState::Ready, "not a split brain");
    }

    #[test]
    fn a_card_shows_kubectls_status_word_and_the_restarts() {
        let mut p = pod(PodPhase::Running, false);
        p.status = "CrashLoopBackOff".into();
        p.restarts = 2;
        assert_eq!(pod_status_line(&p), "CrashLoopBackOff r2");
        let mut p = pod(PodPhase::Running, false);
        p.restarts = 1;
        assert_eq!(pod_status_line(&p), "NOT Ready, restarts 1");
        let mut p = pod(PodPhase::Running, true);
        p.restarts = 1;
        assert_eq!(pod_status_line(&p), "Ready, restarts 1, rev 2");
        let mut p = pod(PodPhase::ContainerCreating, false);
        p.status = "Init:1/2".into();
        assert_eq!(pod_status_line(&p), "Init:1/2, rev 2");
    }

    #[test]
    fn each_pod_state_has_its_colour_and_crash_loops_are_not_merely_unready() {
        let st = |p: &PodView| PodState::of(p);
        assert_eq!(st(&pod(PodPhase::Running, true)), PodState::Ready);
        assert_eq!(st(&pod(PodPhase::Running, false)), PodState::NotReady);
        assert_eq!(
            st(&pod(PodPhase::Terminating, false)),
            PodState::Terminating
        );
        assert_eq!(st(&pod(PodPhase::Failed, false)), PodState::CrashLoop);
        assert_eq!(st(&pod(PodPhase::Pending, false)), PodState::Pending);
        assert_eq!(
            st(&pod(PodPhase::ContainerCreating, false)),
            PodState::Creating
        );
        let mut c = pod(PodPhase::Running, false);
        c.status = "CrashLoopBackOff".into();
        assert_eq!(st(&c), PodState::CrashLoop);
        let mut o = pod(PodPhase::Running, true);
        o.stray = true;
        assert_eq!(st(&o), PodState::SplitBrain);
        for t in [&super::super::theme::DARK, &super::super::theme::LIGHT] {
            assert_eq!(pod_colour(&o, t), t.card_fill(PodState::SplitBrain));
            assert_ne!(pod_colour(&o, t), pod_colour(&c, t));
        }
        assert_eq!(pod_status_line(&o), "NO API object");
    }

    #[test]
    fn caption_prefers_the_waiting_reason_then_the_dns_name() {
        let mut p = pod(PodPhase::Running, true);
        assert_eq!(pod_caption(&p), "web-1.web.default");
        p.waiting = Some("Multi-Attach error for volume pv-www-web-1".into());
        assert_eq!(
            pod_caption(&p),
            "Multi-Attach error for volume pv-www-web-1"
        );
        let mut d = pod(PodPhase::Running, true);
        d.owner_kind = OwnerKind::Deployment;
        d.owner = "api".into();
        d.dns = None;
        assert_eq!(pod_caption(&d), "Deployment api (no stable name)");
        let mut m = pod(PodPhase::Running, true);
        m.db = Some(DbView {
            primary: false,
            server_id: 101,
            state: "replicating".into(),
            lag_rows: 7,
        });
        assert_eq!(pod_caption(&m), "replicating  lag 7 rows");
        assert_eq!(pod_status_line(&m), "Running, Ready, rev 2");
        let mut c = pod(PodPhase::ContainerCreating, false);
        c.updated = false;
        assert_eq!(pod_status_line(&c), "Creating, rev 2 (old)");
        let mut nr = pod(PodPhase::Running, false);
        nr.updated = false;
        assert_eq!(pod_status_line(&nr), "NOT Ready, rev 2 (old)");
    }

    #[test]
    fn a_dead_node_says_so_and_for_how_long() {
        let n = NodeView {
            name: "node-b".into(),
            zone: "z".into(),
            ready: Condition::Unknown,
            ready_for_ms: 80_000,
            machine: Machine::Dead,
            machine_for_ms: 130_000,
            taints: vec!["node.kubernetes.io/unreachable:NoExecute".into()],
            cordoned: false,
        };
        assert!(node_failed(&n));
        assert_eq!(node_condition_line(&n), "Unknown for 1m20s");
        assert_eq!(node_truth_line(&n), "MACHINE DEAD 2m10s ago");
        assert_eq!(node_taint_line(&n), "unreachable (NoExecute)");
        let mut n2 = n.clone();
        n2.taints
            .insert(0, "node.kubernetes.io/unreachable:NoSchedule".into());
        assert_eq!(node_taint_line(&n2), "unreachable (NoSchedule, NoExecute)");
        assert_eq!(
            short(
                "Multi-Attach error for volume pv-www-web-1: still attached to node-c",
                54
            ),
            "Multi-Attach error for volume pv-www-web-1"
        );
    }

    #[test]
    fn a_volume_on_two_nodes_is_red_and_says_so() {
        let mut v = VolumeView {
            name: "pv-www-web-0".into(),
            claim: "www-web-0".into(),
            claim_exists: true,
            pod: Some("web-0".into()),
            attached: vec![("node-a".into(), AttachLook::Attached)],
            shared: false,
            local: false,
            rows: Some(12345),
            diverged: false,
            affinity: None,
            waiting: None,
        };
        assert_eq!(volume_look(&v), VolumeLook::Attached);
        assert_eq!(volume_label(&v), "www-web-0  12,345 rows");
        // Shared file storage is never attached: it does not read "detached".
        let loose = VolumeView {
            attached: vec![],
            shared: true,
            local: false,
            ..v.clone()
        };
        assert_eq!(volume_label(&loose), "www-web-0  12,345 rows  (shared)");
        v.attached.push(("node-b".into(), AttachLook::StillMounted));
        assert_eq!(volume_look(&v), VolumeLook::Error);
        assert!(
            volume_label(&v).ends_with("fenced on node-b"),
            "{}",
            volume_label(&v)
        );
        v.attached.push(("node-c".into(), AttachLook::Attached));
        assert!(volume_label(&v).ends_with("on 2 nodes!"));
    }
}
