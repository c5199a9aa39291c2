//! Drawing a `Timeline` as a standalone SVG swimlane chart, written by hand:
//! lanes of state bars (colour + pattern + word), markers with tooltips,
//! shaded spans for machines down or cut off, a time axis in m:ss, a legend.

use super::model::{Lane, LaneKind, Mark, State, Timeline, mmss};
use std::fmt::Write;

/// Slide width in pixels.
pub const WIDTH: f64 = 1600.0;
const LEFT: f64 = 190.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 150.0;
const LANE_H: f64 = 26.0;
const GROUP_GAP: f64 = 26.0;
const LEGEND_H: f64 = 120.0;

// The Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008), safe
// under the common colour-vision deficiencies; each state also has a pattern
// and a word, so colour is never the only cue.
const BLACK: &str = "#000000";
const ORANGE: &str = "#E69F00";
const SKY_BLUE: &str = "#56B4E9";
const BLUISH_GREEN: &str = "#009E73";
const YELLOW: &str = "#F0E442";
const BLUE: &str = "#0072B2";
const VERMILLION: &str = "#D55E00";
const REDDISH_PURPLE: &str = "#CC79A7";
const GREY: &str = "#999999";

/// The fill colour and pattern id (None: solid) of a state.
fn look(s: State) -> (&'static str, Option<&'static str>) {
    match s {
        State::Pending => (ORANGE, Some("dots")),
        State::Creating => (YELLOW, Some("rings")),
        State::Running => (SKY_BLUE, Some("diag")),
        State::Ready => (BLUISH_GREEN, None),
        State::Terminating => (REDDISH_PURPLE, Some("cross")),
        State::ImagePull => (VERMILLION, Some("zigzag")),
        State::CrashLoop => (VERMILLION, Some("back")),
        State::Failed => (BLACK, None),
        State::Attached => (BLUE, None),
        State::MachineDown => (BLACK, Some("crosswhite")),
        State::Partitioned => (VERMILLION, Some("dashes")),
        State::NotReady => (GREY, Some("diag")),
    }
}

/// Text colour readable on a state's fill (WCAG contrast ≥ 4.5 with each).
fn ink(s: State) -> &'static str {
    match s {
        State::Failed | State::MachineDown | State::Attached => "#FFFFFF",
        _ => "#000000",
    }
}

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Tick spacing giving about 8–16 ticks over `end_ms`.
fn tick_ms(end_ms: u64) -> u64 {
    const STEPS: &[u64] = &[5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
    let secs = (end_ms / 1000).max(1);
    STEPS
        .iter()
        .copied()
        .find(|s| secs / s <= 16)
        .unwrap_or(14_400)
        * 1000
}

struct Scale {
    end_ms: u64,
}

impl Scale {
    fn x(&self, t: u64) -> f64 {
        LEFT + (WIDTH - LEFT - RIGHT) * (t as f64 / self.end_ms.max(1) as f64)
    }
}

/// Renders the chart. `title` names the log (its file name).
pub fn render(tl: &Timeline, title: &str) -> String {
    // A little room after the last event so its markers are not clipped.
    let end = tl.end_ms + tl.end_ms / 50 + 1000;
    let sc = Scale { end_ms: end };
    let groups = [LaneKind::Node, LaneKind::Pod, LaneKind::Volume];
    let present: Vec<LaneKind> = groups
        .into_iter()
        .filter(|k| tl.lanes.iter().any(|l| l.kind == *k))
        .collect();
    let plot_h = tl.lanes.len() as f64 * LANE_H + present.len() as f64 * GROUP_GAP;
    let height = TOP + plot_h + 20.0 + LEGEND_H;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="12">
<title>{}</title>
"#,
        esc(&format!("Timeline of {title}"))
    );
    defs(&mut s);
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{WIDTH}" height="{height:.0}" fill="#FFFFFF"/>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="20" y="34" font-size="22" font-weight="bold" fill="#000000">{}</text>"##,
        esc(&format!("Timeline: {title}"))
    );
    let _ = writeln!(
        s,
        r##"<text x="20" y="58" font-size="13" fill="#333333">Simulated time (m:ss). One lane per node, pod identity and volume; hover a marker or bar for the event's reason.</text>"##
    );
    let plot_top = TOP;
    let plot_bottom = TOP + plot_h;
    spans(&mut s, tl, &sc, plot_top, plot_bottom);
    axis(&mut s, &sc, end, plot_top, plot_bottom);
    let mut y = plot_top;
    for kind in present {
        let _ = writeln!(
            s,
            r##"<text x="20" y="{:.1}" font-size="13" font-weight="bold" fill="#333333">{}</text>"##,
            y + 17.0,
            match kind {
                LaneKind::Node => "Nodes",
                LaneKind::Pod => "Pods (by identity)",
                LaneKind::Volume => "Volumes",
            }
        );
        y += GROUP_GAP;
        for lane in tl.lanes.iter().filter(|l| l.kind == kind) {
            draw_lane(&mut s, lane, &sc, y);
            y += LANE_H;
        }
    }
    legend(&mut s, plot_bottom + 30.0);
    s.push_str("</svg>\n");
    s
}

/// The patterns drawn over a state's colour.
fn defs(s: &mut String) {
    s.push_str(
        r##"<defs>
<pattern id="dots" width="6" height="6" patternUnits="userSpaceOnUse"><circle cx="3" cy="3" r="1.2" fill="#000000" fill-opacity="0.45"/></pattern>
<pattern id="rings" width="8" height="8" patternUnits="userSpaceOnUse"><circle cx="4" cy="4" r="2" fill="none" stroke="#000000" stroke-opacity="0.4" stroke-width="0.8"/></pattern>
<pattern id="diag" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#FFFFFF" stroke-width="2" stroke-opacity="0.8"/></pattern>
<pattern id="back" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><line x1="0" y1="0" x2="0" y2="5" stroke="#000000" stroke-width="1.5" stroke-opacity="0.5"/></pattern>
<pattern id="cross" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><path d="M0 0V7M0 0H7" stroke="#000000" stroke-width="1" stroke-opacity="0.45"/></pattern>
<pattern id="crosswhite" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><path d="M0 0V7M0 0H7" stroke="#FFFFFF" stroke-width="1.2" stroke-opacity="0.6"/></pattern>
<pattern id="zigzag" width="8" height="6" patternUnits="userSpaceOnUse"><path d="M0 4L2 1L4 4L6 1L8 4" fill="none" stroke="#000000" stroke-width="1" stroke-opacity="0.55"/></pattern>
<pattern id="dashes" width="10" height="6" patternUnits="userSpaceOnUse"><path d="M1 3H6" stroke="#000000" stroke-width="1.5" stroke-opacity="0.6"/></pattern>
</defs>
"##,
    );
}

/// Light full-height bands while a machine is down or cut off, labelled at
/// the top so the whole chart reads against them.
fn spans(s: &mut String, tl: &Timeline, sc: &Scale, top: f64, bottom: f64) {
    for (i, sp) in tl.spans.iter().enumerate() {
        let (x0, x1) = (sc.x(sp.from_ms), sc.x(sp.to_ms));
        let (fill, _) = look(sp.state);
        let what = match sp.state {
            State::Partitioned => "cut off",
            _ => "down",
        };
        let label = if sp.ongoing {
            format!("{} {what} from {} to the end", sp.node, mmss(sp.from_ms))
        } else {
            format!("{} {what} {}–{}", sp.node, mmss(sp.from_ms), mmss(sp.to_ms))
        };
        let _ = writeln!(
            s,
            r##"<g class="span" data-node="{}" data-state="{}"><title>{}</title><rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}" fill-opacity="0.08" stroke="{fill}" stroke-opacity="0.5" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" font-size="12" font-weight="bold" fill="{}">{}</text></g>"##,
            esc(&sp.node),
            esc(sp.state.word()),
            esc(&label),
            top - 38.0 + (i % 2) as f64 * 14.0,
            (x1 - x0).max(1.0),
            bottom - top + 38.0 - (i % 2) as f64 * 14.0,
            x0 + 4.0,
            top - 27.0 + (i % 2) as f64 * 14.0,
            if sp.state == State::Partitioned {
                "#8A3C00"
            } else {
                "#000000"
            },
            esc(&label)
        );
    }
}

/// The time axis above the lanes, with light grid lines.
fn axis(s: &mut String, sc: &Scale, end: u64, top: f64, bottom: f64) {
    let step = tick_ms(end);
    let mut t = 0;
    s.push_str("<g class=\"axis\">\n");
    while t <= end {
        let x = sc.x(t);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#DDDDDD" stroke-width="1"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="#333333">{}</text>"##,
            top - 6.0,
            top - 46.0,
            mmss(t)
        );
        t += step;
    }
    s.push_str("</g>\n");
}

fn draw_lane(s: &mut String, lane: &Lane, sc: &Scale, y: f64) {
    let _ = writeln!(
        s,
        r##"<g class="lane" data-kind="{}" data-name="{}">"##,
        lane.kind.name(),
        esc(&lane.name)
    );
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#EEEEEE"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="13" fill="#000000">{}</text>"##,
        y + LANE_H - 1.0,
        WIDTH - RIGHT,
        y + LANE_H - 1.0,
        LEFT - 10.0,
        y + 17.0,
        esc(&lane.name)
    );
    for b in &lane.bars {
        let (fill, pattern) = look(b.state);
        let (by, bh) = match b.row {
            1 => (y + 3.0, 10.0),
            2 => (y + 14.0, 9.0),
            _ => (y + 4.0, 18.0),
        };
        let (x0, x1) = (sc.x(b.from_ms), sc.x(b.to_ms));
        let w = (x1 - x0).max(1.5);
        let word = if b.label.is_empty() {
            b.state.word().to_string()
        } else {
            format!("{} · {}", b.state.word(), b.label)
        };
        let tip = format!(
            "{} {}: {} to {}",
            lane.name,
            word,
            mmss(b.from_ms),
            mmss(b.to_ms)
        );
        let _ = write!(
            s,
            r##"<g class="bar" data-state="{}"><title>{}</title><rect x="{x0:.1}" y="{by:.1}" width="{w:.1}" height="{bh}" fill="{fill}"/>"##,
            esc(b.state.word()),
            esc(&tip)
        );
        if let Some(p) = pattern {
            let _ = write!(
                s,
                r##"<rect x="{x0:.1}" y="{by:.1}" width="{w:.1}" height="{bh}" fill="url(#{p})"/>"##
            );
        }
        // The word inside the bar when it fits (about 6.5 px a character).
        let size = if b.row == 0 { 11.0 } else { 8.5 };
        let fits = |t: &str| (t.chars().count() as f64) * size * 0.6 + 8.0 <= w;
        let text = [word.as_str(), b.state.word()]
            .into_iter()
            .find(|t| fits(t));
        if let Some(text) = text {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" font-size="{size}" fill="{}">{}</text>"##,
                x0 + 4.0,
                by + bh / 2.0 + size * 0.36,
                ink(b.state),
                esc(text)
            );
        }
        s.push_str("</g>\n");
    }
    for m in &lane.markers {
        marker(s, m, sc, y);
    }
    s.push_str("</g>\n");
}

/// A marker's shape centred at (x, y).
fn shape(mark: Mark, x: f64, y: f64) -> String {
    let r = 5.0;
    match mark {
        Mark::Created => format!(
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="#FFFFFF" stroke="#000000" stroke-width="1.3"/>"##
        ),
        Mark::Scheduled => format!(
            r##"<path d="M{:.1} {:.1}L{:.1} {y:.1}L{:.1} {:.1}Z" fill="#000000"/>"##,
            x - 3.0,
            y - 4.5,
            x + 4.0,
            x - 3.0,
            y + 4.5
        ),
        Mark::Evicted | Mark::MultiAttach | Mark::ReplicationBroken => format!(
            r##"<path d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z" fill="#FFFFFF" stroke="#000000" stroke-width="1.6"/>"##,
            y - r - 1.0,
            x + r + 1.0,
            y + r + 1.0,
            x - r - 1.0
        ),
        Mark::ForceDeleted | Mark::ForceDetached => format!(
            r##"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="#000000" stroke-width="2.5"/>"##,
            x - r,
            y - r,
            x + r,
            y + r,
            x - r,
            y + r,
            x + r,
            y - r
        ),
        Mark::Attached | Mark::Detached => format!(
            r##"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{}" stroke="#000000" stroke-width="1.2"/>"##,
            x - 3.5,
            y - 3.5,
            if mark == Mark::Attached {
                "#000000"
            } else {
                "#FFFFFF"
            }
        ),
        Mark::Clone | Mark::Restarted | Mark::Deleted | Mark::NodeEvent => format!(
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#000000" stroke-width="2"/>"##,
            y - 8.0,
            y + 8.0
        ),
    }
}

fn marker(s: &mut String, m: &super::model::Marker, sc: &Scale, y: f64) {
    let x = sc.x(m.t_ms);
    let cy = y + LANE_H / 2.0;
    let _ = write!(
        s,
        r##"<g class="marker" data-mark="{:?}" data-t="{}"><title>{}</title>{}"##,
        m.mark,
        mmss(m.t_ms),
        esc(&m.tooltip),
        shape(m.mark, x, cy)
    );
    if !m.label.is_empty() {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" font-weight="bold" fill="#000000" stroke="#FFFFFF" stroke-width="3" paint-order="stroke">{}</text>"##,
            x + 8.0,
            cy - 5.0,
            esc(&format!("{} {}", m.label, mmss(m.t_ms)))
        );
    }
    s.push_str("</g>\n");
}

/// Swatches for every state and shapes for the markers.
fn legend(s: &mut String, y: f64) {
    let _ = writeln!(
        s,
        r##"<g class="legend"><text x="20" y="{:.1}" font-size="13" font-weight="bold">Legend</text>"##,
        y
    );
    let states = [
        State::Pending,
        State::Creating,
        State::Running,
        State::Ready,
        State::Terminating,
        State::ImagePull,
        State::CrashLoop,
        State::Failed,
        State::Attached,
        State::MachineDown,
        State::Partitioned,
        State::NotReady,
    ];
    for (i, st) in states.iter().enumerate() {
        let x = 20.0 + (i % 6) as f64 * 250.0;
        let yy = y + 14.0 + (i / 6) as f64 * 26.0;
        let (fill, pattern) = look(*st);
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{yy:.1}" width="36" height="16" fill="{fill}" stroke="#666666" stroke-width="0.5"/>"##
        );
        if let Some(p) = pattern {
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{yy:.1}" width="36" height="16" fill="url(#{p})"/>"##
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="12">{}</text>"##,
            x + 44.0,
            yy + 12.5,
            esc(st.word())
        );
    }
    let marks = [
        (Mark::Created, "created"),
        (Mark::Scheduled, "scheduled (→ node)"),
        (Mark::Evicted, "evicted / Multi-Attach / replication broken"),
        (Mark::ForceDeleted, "force-deleted / force-detached"),
        (Mark::Attached, "attached (filled) / detached"),
        (Mark::NodeEvent, "node event / clone / restart"),
    ];
    for (i, (m, word)) in marks.iter().enumerate() {
        let x = 20.0 + (i % 3) as f64 * 500.0;
        let yy = y + 80.0 + (i / 3) as f64 * 22.0;
        s.push_str(&shape(*m, x + 18.0, yy));
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="12">{}</text>"##,
            x + 44.0,
            yy + 4.0,
            esc(word)
        );
    }
    s.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_xml() {
        assert_eq!(
            esc(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(esc("x\u{1}y"), "x y");
    }

    #[test]
    fn about_8_to_16_ticks_cover_the_run() {
        assert_eq!(tick_ms(60_000), 5_000);
        assert_eq!(tick_ms(700_000), 60_000);
        for end in [1_000, 90_000, 1_000_000, 36_000_000] {
            assert!(end / tick_ms(end) <= 16, "{end}");
        }
    }
}
