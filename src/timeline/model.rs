//! From event lines to what the chart shows: one lane per node, pod identity
//! and volume, each with state bars over time and markers at key events, plus
//! the spans when a machine was down or cut off. Pure: no drawing here.

use super::parse::Line;

/// What a lane stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LaneKind {
    Node,
    Pod,
    Volume,
}

impl LaneKind {
    pub fn name(self) -> &'static str {
        match self {
            LaneKind::Node => "node",
            LaneKind::Pod => "pod",
            LaneKind::Volume => "volume",
        }
    }
}

/// A state a bar shows. Each has a colour, a pattern and a word (svg.rs), so
/// colour is never the only cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Created, not yet on a node.
    Pending,
    /// On a node, its container not running yet (volumes, image).
    Creating,
    /// Container running, not Ready.
    Running,
    Ready,
    /// Deletion requested, not yet confirmed.
    Terminating,
    /// The image cannot be pulled (ErrImagePull / ImagePullBackOff).
    ImagePull,
    /// The container waits to be restarted (CrashLoopBackOff).
    CrashLoop,
    Failed,
    /// Volume attached to a node.
    Attached,
    /// A machine is dead.
    MachineDown,
    /// A machine runs but cannot reach the control plane.
    Partitioned,
    /// The control plane sees the node NotReady.
    NotReady,
}

impl State {
    /// The word shown on the bar and in the legend.
    pub fn word(self) -> &'static str {
        match self {
            State::Pending => "Pending",
            State::Creating => "ContainerCreating",
            State::Running => "Running, not Ready",
            State::Ready => "Ready",
            State::Terminating => "Terminating",
            State::ImagePull => "ImagePullBackOff",
            State::CrashLoop => "CrashLoopBackOff",
            State::Failed => "Failed",
            State::Attached => "attached",
            State::MachineDown => "machine down",
            State::Partitioned => "partitioned",
            State::NotReady => "NotReady",
        }
    }
}

/// A state from one instant to another on a lane. `row` 0 is the lane's
/// full height; node lanes put the machine (1) above the API's view (2).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub from_ms: u64,
    pub to_ms: u64,
    pub state: State,
    /// Shown in the bar when it fits (e.g. the node a pod runs on).
    pub label: String,
    pub row: u8,
}

/// The shape of a marker, by what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Created,
    Scheduled,
    Evicted,
    ForceDeleted,
    Deleted,
    Attached,
    Detached,
    ForceDetached,
    MultiAttach,
    Clone,
    ReplicationBroken,
    Restarted,
    NodeEvent,
}

/// A key event on a lane: its time, shape, a short label and the tooltip
/// (the event's reason and its Kubernetes record).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub t_ms: u64,
    pub mark: Mark,
    /// Drawn beside the marker for the rare events a reader looks for;
    /// empty for frequent ones (the tooltip still tells).
    pub label: String,
    pub tooltip: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub kind: LaneKind,
    pub name: String,
    pub bars: Vec<Bar>,
    pub markers: Vec<Marker>,
}

/// A machine down or cut off, shaded across the whole chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub from_ms: u64,
    pub to_ms: u64,
    pub node: String,
    pub state: State,
    /// Still so when the log ends (`to_ms` is then the log's end).
    pub ongoing: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// Nodes, then pods, then volumes; each group in name order (web-2
    /// before web-10).
    pub lanes: Vec<Lane>,
    pub spans: Vec<Span>,
    pub end_ms: u64,
}

/// Minutes and seconds of simulated time: 75 000 ms → "1:15".
pub fn mmss(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A lane being built: its open bars by row.
struct Building {
    lane: Lane,
    open: Vec<(u8, u64, State, String)>,
}

impl Building {
    fn new(kind: LaneKind, name: &str) -> Self {
        Building {
            lane: Lane {
                kind,
                name: name.to_string(),
                bars: Vec::new(),
                markers: Vec::new(),
            },
            open: Vec::new(),
        }
    }
    fn close(&mut self, row: u8, t: u64) {
        if let Some(i) = self.open.iter().position(|o| o.0 == row) {
            let (row, from, state, label) = self.open.remove(i);
            if t > from {
                self.lane.bars.push(Bar {
                    from_ms: from,
                    to_ms: t,
                    state,
                    label,
                    row,
                });
            }
        }
    }
    /// Closes the row's bar and opens `state` there, unless it is already so.
    fn set(&mut self, row: u8, t: u64, state: State, label: &str) {
        if self
            .open
            .iter()
            .any(|o| o.0 == row && o.2 == state && o.3 == label)
        {
            return;
        }
        self.close(row, t);
        self.open.push((row, t, state, label.to_string()));
    }
    fn state(&self, row: u8) -> Option<State> {
        self.open.iter().find(|o| o.0 == row).map(|o| o.2)
    }
    fn mark(&mut self, e: &Line, mark: Mark, label: &str) {
        self.lane.markers.push(Marker {
            t_ms: e.t_ms,
            mark,
            label: label.to_string(),
            tooltip: tooltip(e),
        });
    }
}

/// "5:48 PodEvicted pod/web-1: <reason> — Kubernetes: Normal TaintManagerEviction: <message>".
fn tooltip(e: &Line) -> String {
    let mut s = format!("{} {} {}: {}", mmss(e.t_ms), e.kind, e.object, e.reason);
    if let Some(k) = &e.k8s {
        s.push_str(&format!(
            " — Kubernetes records {} {}: {}",
            k.kind, k.reason, k.message
        ));
    }
    s
}

fn name_after<'a>(object: &'a str, prefix: &str) -> Option<&'a str> {
    object.strip_prefix(prefix)
}

/// Sort key putting `web-2` before `web-10`.
fn natural_key(name: &str) -> (String, u64, String) {
    let digits: String = name
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let stem = &name[..name.len() - digits.len()];
    (
        stem.to_string(),
        digits.parse().unwrap_or(0),
        name.to_string(),
    )
}

/// Lanes, keyed by kind and name, kept in first-seen order until the end.
#[derive(Default)]
struct Lanes {
    all: Vec<Building>,
}

impl Lanes {
    fn get(&mut self, kind: LaneKind, name: &str) -> &mut Building {
        let i = match self
            .all
            .iter()
            .position(|b| b.lane.kind == kind && b.lane.name == name)
        {
            Some(i) => i,
            None => {
                self.all.push(Building::new(kind, name));
                self.all.len() - 1
            }
        };
        &mut self.all[i]
    }
}

/// Builds the timeline of a log.
pub fn build(lines: &[Line]) -> Timeline {
    let mut lanes = Lanes::default();
    let mut spans: Vec<Span> = Vec::new();
    let end_ms = lines.iter().map(|e| e.t_ms).max().unwrap_or(0);
    for e in lines {
        // Every node named anywhere gets a lane.
        if let Some(n) = &e.node {
            lanes.get(LaneKind::Node, n);
        }
        if let Some(pod) = name_after(&e.object, "pod/") {
            pod_event(lanes.get(LaneKind::Pod, pod), e);
        }
        if let Some(node) = name_after(&e.object, "node/") {
            node_event(lanes.get(LaneKind::Node, node), e, &mut spans);
        }
        let volume = e
            .volume
            .as_deref()
            .or_else(|| name_after(&e.object, "pv/"))
            .map(|v| v.strip_prefix("pv/").unwrap_or(v));
        if let Some(v) = volume {
            volume_event(lanes.get(LaneKind::Volume, v), e);
        }
    }
    let mut out: Vec<Lane> = lanes
        .all
        .into_iter()
        .map(|mut b| {
            let rows: Vec<u8> = b.open.iter().map(|o| o.0).collect();
            for r in rows {
                b.close(r, end_ms);
            }
            b.lane.bars.sort_by_key(|x| (x.row, x.from_ms));
            b.lane
        })
        .collect();
    out.sort_by_key(|l| (l.kind, natural_key(&l.name)));
    for s in spans.iter_mut().filter(|s| s.to_ms == u64::MAX) {
        s.to_ms = end_ms;
        s.ongoing = true;
    }
    Timeline {
        lanes: out,
        spans,
        end_ms,
    }
}

/// A pod identity's lane: its phase as the API shows it, and markers.
fn pod_event(b: &mut Building, e: &Line) {
    let t = e.t_ms;
    let node = e.node.clone().unwrap_or_default();
    let terminating = b.state(0) == Some(State::Terminating);
    match e.kind.as_str() {
        "PodCreated" => {
            b.set(0, t, State::Pending, "");
            b.mark(e, Mark::Created, "");
        }
        "PodScheduled" => {
            b.set(0, t, State::Creating, &node);
            // The bar names the node; the tooltip says why there.
            b.mark(e, Mark::Scheduled, "");
        }
        "PodStarted" | "ContainerRestarted" if !terminating => {
            b.set(0, t, State::Running, &node);
            if e.kind == "ContainerRestarted" {
                b.mark(e, Mark::Restarted, "restart");
            }
        }
        "PodReady" if !terminating => b.set(0, t, State::Ready, &node),
        "PodNotReady" if !terminating => b.set(0, t, State::Running, &node),
        "ImagePullFailed" if !terminating => b.set(0, t, State::ImagePull, &node),
        "BackOff" if !terminating => b.set(0, t, State::CrashLoop, &node),
        "PodTerminating" => b.set(0, t, State::Terminating, &node),
        "PodFailed" => b.set(0, t, State::Failed, &node),
        "PodEvicted" => b.mark(e, Mark::Evicted, "evicted"),
        "PodDeleted" => {
            b.close(0, t);
            b.mark(e, Mark::Deleted, "");
        }
        "PodForceDeleted" => {
            b.close(0, t);
            b.mark(e, Mark::ForceDeleted, "force-deleted");
        }
        "CloneStarted" => b.mark(e, Mark::Clone, "clone"),
        "CloneFinished" => b.mark(e, Mark::Clone, "cloned"),
        "ReplicationBroken" => b.mark(e, Mark::ReplicationBroken, "replication broken"),
        _ => {}
    }
}

/// A node's lane: the machine (row 1) and the API's view of it (row 2).
fn node_event(b: &mut Building, e: &Line, spans: &mut Vec<Span>) {
    let t = e.t_ms;
    let node = b.lane.name.clone();
    let mut open_span = |state| {
        spans.push(Span {
            from_ms: t,
            to_ms: u64::MAX,
            node: node.clone(),
            state,
            ongoing: false,
        })
    };
    match e.kind.as_str() {
        "NodeFailed" => {
            b.set(1, t, State::MachineDown, "");
            open_span(State::MachineDown);
            b.mark(e, Mark::NodeEvent, "machine down");
        }
        "NodePartitioned" => {
            b.set(1, t, State::Partitioned, "");
            open_span(State::Partitioned);
            b.mark(e, Mark::NodeEvent, "partitioned");
        }
        "NodeRecovered" | "NodeDeleted" => {
            b.close(1, t);
            for s in spans
                .iter_mut()
                .filter(|s| s.node == node && s.to_ms == u64::MAX)
            {
                s.to_ms = t;
            }
            if e.kind == "NodeDeleted" {
                b.close(2, t);
                b.mark(e, Mark::NodeEvent, "Node deleted");
            } else {
                b.mark(e, Mark::NodeEvent, "recovered");
            }
        }
        "NodeNotReady" => {
            b.set(2, t, State::NotReady, "");
            b.mark(e, Mark::NodeEvent, "");
        }
        "NodeReady" => {
            b.close(2, t);
            b.mark(e, Mark::NodeEvent, "");
        }
        "NodeTainted" | "NodeUntainted" | "NodeCordoned" | "NodeUncordoned" | "NodeAdded" => {
            b.mark(e, Mark::NodeEvent, "");
        }
        _ => {}
    }
}

/// A volume's lane: where it is attached, and attach/detach markers.
fn volume_event(b: &mut Building, e: &Line) {
    let t = e.t_ms;
    let node = e.node.clone().unwrap_or_default();
    match e.kind.as_str() {
        "VolumeAttached" => {
            b.set(0, t, State::Attached, &node);
            b.mark(e, Mark::Attached, "");
        }
        "VolumeDetached" => {
            b.close(0, t);
            if e.detail.as_deref() == Some("force") {
                b.mark(e, Mark::ForceDetached, "force-detached");
            } else {
                b.mark(e, Mark::Detached, "");
            }
        }
        "VolumeMultiAttachError" => b.mark(e, Mark::MultiAttach, "Multi-Attach"),
        "VolumeDeleted" => b.close(0, t),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::parse::parse;

    fn line(t: u64, kind: &str, object: &str, node: Option<&str>) -> String {
        let node = node.map_or("null".to_string(), |n| format!("\"{n}\""));
        format!(
            "{{\"t_ms\":{t},\"kind\":\"{kind}\",\"object\":\"{object}\",\"node\":{node},\"reason\":\"why\"}}\n"
        )
    }

    #[test]
    fn a_pod_identity_keeps_one_lane_across_its_incarnations() {
        let mut log = String::new();
        log += &line(0, "PodCreated", "pod/web-1", None);
        log += &line(1000, "PodScheduled", "pod/web-1", Some("node-b"));
        log += &line(3000, "PodStarted", "pod/web-1", Some("node-b"));
        log += &line(4000, "PodReady", "pod/web-1", Some("node-b"));
        log += &line(10_000, "NodeFailed", "node/node-b", Some("node-b"));
        log += &line(60_000, "PodTerminating", "pod/web-1", Some("node-b"));
        log += &line(70_000, "PodForceDeleted", "pod/web-1", Some("node-b"));
        log += &line(71_000, "PodCreated", "pod/web-1", None);
        log += &line(72_000, "PodScheduled", "pod/web-1", Some("node-c"));
        log += &line(80_000, "NodeRecovered", "node/node-b", Some("node-b"));
        let tl = build(&parse(&log).unwrap());
        let names: Vec<_> = tl.lanes.iter().map(|l| (l.kind, l.name.as_str())).collect();
        assert_eq!(
            names,
            [
                (LaneKind::Node, "node-b"),
                (LaneKind::Node, "node-c"),
                (LaneKind::Pod, "web-1")
            ]
        );
        let pod = &tl.lanes[2];
        let states: Vec<_> = pod
            .bars
            .iter()
            .map(|b| (b.state, b.from_ms, b.to_ms))
            .collect();
        assert_eq!(
            states,
            [
                (State::Pending, 0, 1000),
                (State::Creating, 1000, 3000),
                (State::Running, 3000, 4000),
                (State::Ready, 4000, 60_000),
                (State::Terminating, 60_000, 70_000),
                (State::Pending, 71_000, 72_000),
                (State::Creating, 72_000, 80_000),
            ]
        );
        assert!(pod.markers.iter().any(|m| m.mark == Mark::ForceDeleted));
        assert_eq!(
            tl.spans,
            [Span {
                from_ms: 10_000,
                to_ms: 80_000,
                node: "node-b".into(),
                state: State::MachineDown,
                ongoing: false,
            }]
        );
    }

    #[test]
    fn lanes_sort_web_2_before_web_10_and_time_reads_in_minutes() {
        let mut log = String::new();
        log += &line(0, "PodCreated", "pod/web-10", None);
        log += &line(0, "PodCreated", "pod/web-2", None);
        let tl = build(&parse(&log).unwrap());
        assert_eq!(tl.lanes[0].name, "web-2");
        assert_eq!(mmss(75_000), "1:15");
        assert_eq!(mmss(3_600_000), "60:00");
    }
}
