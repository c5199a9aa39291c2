//! The two themes (`dark` for screens, `light` for projectors in a lit room)
//! and the pod-state palette both share: Okabe and Ito's colour-blind-safe
//! set (Okabe & Ito, "Color Universal Design", 2008), each state also given
//! its own icon so colour is never the only cue. Also the colour arithmetic
//! the tests hold the themes to: WCAG 2 contrast, CIELAB and CIEDE2000, and
//! the Machado, Oliveira & Fernandes (2009) colour-vision-deficiency model.

use super::icons::Icon;
use super::scene::PodView;
use super::style::Rgb;
use crate::gui::settings::ThemeKind;
use crate::sim::model::PodPhase;

const fn hex(v: u32) -> Rgb {
    Rgb(
        ((v >> 16) & 0xff) as f32 / 255.0,
        ((v >> 8) & 0xff) as f32 / 255.0,
        (v & 0xff) as f32 / 255.0,
    )
}

/// A pod's state as a student tells it apart: one colour and one icon each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PodState {
    Ready,
    NotReady,
    Creating,
    Pending,
    Terminating,
    /// CrashLoopBackOff, an image that will not pull, a Failed pod.
    CrashLoop,
    /// A process still running with no API object behind it.
    SplitBrain,
    Succeeded,
}

/// Every state, in the legend's order.
pub const STATES: [PodState; 8] = [
    PodState::Ready,
    PodState::NotReady,
    PodState::Creating,
    PodState::Pending,
    PodState::Terminating,
    PodState::CrashLoop,
    PodState::SplitBrain,
    PodState::Succeeded,
];

impl PodState {
    /// The state of a pod card.
    pub fn of(p: &PodView) -> PodState {
        if p.stray {
            return PodState::SplitBrain;
        }
        let backing_off = p.status.contains("BackOff") || p.status.contains("ErrImage");
        match p.phase {
            PodPhase::Failed => PodState::CrashLoop,
            _ if backing_off => PodState::CrashLoop,
            PodPhase::Running if p.ready => PodState::Ready,
            PodPhase::Running => PodState::NotReady,
            PodPhase::ContainerCreating => PodState::Creating,
            PodPhase::Pending | PodPhase::Absent => PodState::Pending,
            PodPhase::Terminating => PodState::Terminating,
            PodPhase::Succeeded => PodState::Succeeded,
        }
    }

    /// Its colour (Okabe–Ito; Pending a neutral grey).
    pub fn colour(self) -> Rgb {
        match self {
            PodState::Ready => hex(0x009e73),       // bluish green
            PodState::NotReady => hex(0xe69f00),    // orange
            PodState::Creating => hex(0x56b4e9),    // sky blue
            PodState::Pending => hex(0x666666),     // grey
            PodState::Terminating => hex(0xd55e00), // vermillion
            PodState::CrashLoop => hex(0xcc79a7),   // reddish purple
            PodState::SplitBrain => hex(0x0072b2),  // blue
            PodState::Succeeded => hex(0xf0e442),   // yellow
        }
    }

    /// Its icon.
    pub fn icon(self) -> Icon {
        match self {
            PodState::Ready => Icon::Ready,
            PodState::NotReady => Icon::NotReady,
            PodState::Creating => Icon::Creating,
            PodState::Pending => Icon::Pending,
            PodState::Terminating => Icon::Terminating,
            PodState::CrashLoop => Icon::CrashLoop,
            PodState::SplitBrain => Icon::SplitBrain,
            PodState::Succeeded => Icon::Succeeded,
        }
    }

    /// The legend's words.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            PodState::Ready => ("Ready", "running and passing its readiness probe"),
            PodState::NotReady => ("not Ready", "running, not (yet) passing its probe"),
            PodState::Creating => ("ContainerCreating", "on a node, volumes and image coming"),
            PodState::Pending => ("Pending", "waiting for a node"),
            PodState::Terminating => ("Terminating", "being deleted"),
            PodState::CrashLoop => ("CrashLoopBackOff", "crashing and restarted, or failed"),
            PodState::SplitBrain => ("split brain", "still running with no API object"),
            PodState::Succeeded => ("Succeeded", "ran to completion"),
        }
    }
}

/// Every colour the world view and the panels draw with, for one theme.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub kind: ThemeKind,
    /// Window and panels.
    pub bg: Rgb,
    pub text: Rgb,
    pub text_dim: Rgb,
    /// The lanes (pending pods, loose volumes) and the zone bands.
    pub lane: Rgb,
    pub zone: Rgb,
    pub node: Rgb,
    pub node_border: Rgb,
    pub node_bad: Rgb,
    pub node_bad_border: Rgb,
    /// "Ready" on a healthy node; "NotReady …" on a failed one.
    pub node_ok_text: Rgb,
    pub node_bad_text: Rgb,
    /// The node's truth and taints line.
    pub node_note: Rgb,
    /// A pod card's fill is its state colour mixed with this, by `card_tint`.
    pub card_base: Rgb,
    pub card_tint: f32,
    pub card_text: Rgb,
    /// The StatefulSet identity bar at a card's left.
    pub identity: Rgb,
    pub vol_attached: Rgb,
    pub vol_moving: Rgb,
    pub vol_loose: Rgb,
    pub vol_error: Rgb,
    pub vol_text: Rgb,
    /// Why a volume waits (under its chip, on the node's background).
    pub vol_why: Rgb,
    pub link_ok: Rgb,
    pub link_connecting: Rgb,
    pub link_clone: Rgb,
    pub link_broken: Rgb,
    pub bracket: Rgb,
    pub selection: Rgb,
    /// Texts over the world: client writes ok / failing.
    pub writes_ok_text: Rgb,
    pub writes_bad_text: Rgb,
    /// Panel accents for text: good, warning, bad, information.
    pub good: Rgb,
    pub warn: Rgb,
    pub bad: Rgb,
    pub info: Rgb,
    /// A fifth accent (the event log's fifth category).
    pub accent: Rgb,
    /// Buttons and fields: idle, hovered, pressed.
    pub widget: Rgb,
    pub widget_hover: Rgb,
    pub widget_active: Rgb,
    /// The question window and the lesson's card.
    pub question_bg: Rgb,
    pub question_text: Rgb,
}

/// Today's dark theme, its text raised to at least 4.5:1 (WCAG AA).
pub const DARK: Theme = Theme {
    kind: ThemeKind::Dark,
    bg: hex(0x12161c),
    text: hex(0xf2f4f7),
    text_dim: hex(0xb8c0cc),
    lane: hex(0x171c24),
    zone: hex(0x1c2129),
    node: hex(0x202833),
    node_border: hex(0x3d4a5c),
    node_bad: hex(0x3a2224),
    node_bad_border: hex(0xff4d4d),
    node_ok_text: hex(0x73d98c),
    node_bad_text: hex(0xff8080),
    node_note: hex(0xffbfb3),
    card_base: hex(0x1b2129),
    card_tint: 0.38,
    card_text: hex(0xf2f4f7),
    identity: hex(0xf2f2fa),
    vol_attached: hex(0x1b5e6b),
    vol_moving: hex(0x6e4a12),
    vol_loose: hex(0x3c4450),
    vol_error: hex(0x8e2a20),
    vol_text: hex(0xf2f4f7),
    vol_why: hex(0xffcc80),
    link_ok: hex(0x5dade2),
    link_connecting: hex(0xe69f00),
    link_clone: hex(0xaf7ac5),
    link_broken: hex(0xe74c3c),
    bracket: hex(0xb3bfcc),
    selection: hex(0xfff24d),
    writes_ok_text: hex(0x7cc4f0),
    writes_bad_text: hex(0xff8080),
    good: hex(0x5adc78),
    warn: hex(0xffc45a),
    bad: hex(0xff7070),
    info: hex(0x78bef0),
    accent: hex(0xbe82e6),
    widget: hex(0x2a313c),
    widget_hover: hex(0x38414f),
    widget_active: hex(0x46505f),
    question_bg: hex(0x281e46),
    question_text: hex(0xffffff),
};

/// For projectors in a lit room: near-black on white, every text at least
/// 7:1 (WCAG AAA), borders and strokes heavy enough to survive a
/// washed-out image.
pub const LIGHT: Theme = Theme {
    kind: ThemeKind::Light,
    bg: hex(0xffffff),
    text: hex(0x101418),
    text_dim: hex(0x38404c),
    lane: hex(0xf0f2f5),
    zone: hex(0xe6e9ee),
    node: hex(0xfbfbfc),
    node_border: hex(0x4a5462),
    node_bad: hex(0xfde2de),
    node_bad_border: hex(0xb00000),
    node_ok_text: hex(0x0a5c2a),
    node_bad_text: hex(0x8c0000),
    node_note: hex(0x7a1500),
    card_base: hex(0xffffff),
    card_tint: 0.42,
    card_text: hex(0x101418),
    identity: hex(0x101418),
    vol_attached: hex(0xc6e6ec),
    vol_moving: hex(0xf6dcb0),
    vol_loose: hex(0xdfe3e8),
    vol_error: hex(0xf7c9c2),
    vol_text: hex(0x101418),
    vol_why: hex(0x7a3300),
    link_ok: hex(0x0072b2),
    link_connecting: hex(0xb77d00),
    link_clone: hex(0x7b3f9e),
    link_broken: hex(0xc0170f),
    bracket: hex(0x4a5462),
    selection: hex(0xd10073),
    writes_ok_text: hex(0x004f7c),
    writes_bad_text: hex(0x8c0000),
    good: hex(0x0a5c2a),
    warn: hex(0x6b3d00),
    bad: hex(0x9c0000),
    info: hex(0x004f7c),
    accent: hex(0x6a2c91),
    widget: hex(0xe4e7ec),
    widget_hover: hex(0xd3d8df),
    widget_active: hex(0xc3c9d2),
    // Light, so that the window's title (in the theme's text colour) reads.
    question_bg: hex(0xece6f8),
    question_text: hex(0x1a1030),
};

/// The theme of a kind.
pub fn theme(kind: ThemeKind) -> &'static Theme {
    match kind {
        ThemeKind::Dark => &DARK,
        ThemeKind::Light => &LIGHT,
    }
}

/// `a` over `b` by `t` (0: all `b`, 1: all `a`), in sRGB as a painter would.
pub fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    Rgb(
        a.0 * t + b.0 * (1.0 - t),
        a.1 * t + b.1 * (1.0 - t),
        a.2 * t + b.2 * (1.0 - t),
    )
}

impl Theme {
    /// A pod card's fill: its state's colour, tinted toward the card base
    /// so that the card's text keeps its contrast.
    pub fn card_fill(&self, s: PodState) -> Rgb {
        mix(s.colour(), self.card_base, self.card_tint)
    }

    /// The smallest contrast any text of this theme may have: 7:1 (WCAG
    /// AAA) for the projector theme, 4.5:1 (AA) for the dark one.
    pub fn min_contrast(&self) -> f64 {
        match self.kind {
            ThemeKind::Light => 7.0,
            ThemeKind::Dark => 4.5,
        }
    }

    /// The panels' selected-item background.
    pub fn selection_bg(&self) -> Rgb {
        mix(self.info, self.bg, 0.3)
    }

    /// Every (text, background) pair the window draws, named: the panels'
    /// texts on their backgrounds and buttons, the timeline's, and the
    /// world's on its nodes, lanes, cards and chips.
    pub fn text_pairs(&self) -> Vec<(String, Rgb, Rgb)> {
        let mut v: Vec<(String, Rgb, Rgb)> = Vec::new();
        let mut add = |name: &str, fg: Rgb, bg: Rgb| v.push((name.to_string(), fg, bg));
        for (n, fg) in [
            ("text", self.text),
            ("text_dim", self.text_dim),
            ("good", self.good),
            ("warn", self.warn),
            ("bad", self.bad),
            ("info", self.info),
            ("accent", self.accent),
            ("writes_ok_text", self.writes_ok_text),
            ("writes_bad_text", self.writes_bad_text),
        ] {
            add(&format!("{n} on bg"), fg, self.bg);
        }
        for (n, bg) in [
            ("widget", self.widget),
            ("widget_hover", self.widget_hover),
            ("widget_active", self.widget_active),
            ("selection", self.selection_bg()),
            ("lane", self.lane),
        ] {
            add(&format!("text on {n}"), self.text, bg);
        }
        add("text_dim on lane", self.text_dim, self.lane);
        add("info on lane", self.info, self.lane);
        add("text_dim on zone", self.text_dim, self.zone);
        add("question", self.question_text, self.question_bg);
        for (n, bg) in [("node", self.node), ("node_bad", self.node_bad)] {
            add(&format!("text on {n}"), self.text, bg);
            add(&format!("node_note on {n}"), self.node_note, bg);
            add(&format!("vol_why on {n}"), self.vol_why, bg);
            add(&format!("writes_ok_text on {n}"), self.writes_ok_text, bg);
            add(&format!("writes_bad_text on {n}"), self.writes_bad_text, bg);
        }
        add("node_ok_text on node", self.node_ok_text, self.node);
        add(
            "node_bad_text on node_bad",
            self.node_bad_text,
            self.node_bad,
        );
        for s in STATES {
            add(
                &format!("card_text on {s:?}"),
                self.card_text,
                self.card_fill(s),
            );
        }
        for (n, bg) in [
            ("vol_attached", self.vol_attached),
            ("vol_moving", self.vol_moving),
            ("vol_loose", self.vol_loose),
            ("vol_error", self.vol_error),
        ] {
            add(&format!("vol_text on {n}"), self.vol_text, bg);
        }
        v
    }
}

/// sRGB component to linear light (IEC 61966-2-1, as WCAG 2 uses it).
fn linear(c: f32) -> f64 {
    let c = c as f64;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn encode(c: f64) -> f32 {
    let c = c.clamp(0.0, 1.0);
    (if c <= 0.0031308 {
        12.92 * c
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    }) as f32
}

/// WCAG 2 relative luminance.
pub fn luminance(c: Rgb) -> f64 {
    0.2126 * linear(c.0) + 0.7152 * linear(c.1) + 0.0722 * linear(c.2)
}

/// WCAG 2 contrast ratio, 1 to 21.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// A colour vision deficiency to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cvd {
    Protanopia,
    Deuteranopia,
}

/// How a colour looks with a deficiency: Machado, Oliveira & Fernandes,
/// "A Physiologically-based Model for Simulation of Color Vision
/// Deficiency", IEEE TVCG 15(6), 2009, severity 1.0 matrices, applied to
/// linear sRGB.
pub fn simulate(c: Rgb, cvd: Cvd) -> Rgb {
    let m: [[f64; 3]; 3] = match cvd {
        Cvd::Protanopia => [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ],
        Cvd::Deuteranopia => [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ],
    };
    let l = [linear(c.0), linear(c.1), linear(c.2)];
    let row = |r: [f64; 3]| encode(r[0] * l[0] + r[1] * l[1] + r[2] * l[2]);
    Rgb(row(m[0]), row(m[1]), row(m[2]))
}

/// CIE L*a*b* (D65) of an sRGB colour.
pub fn lab(c: Rgb) -> (f64, f64, f64) {
    let (r, g, b) = (linear(c.0), linear(c.1), linear(c.2));
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f = |t: f64| {
        if t > 216.0 / 24389.0 {
            t.cbrt()
        } else {
            (24389.0 / 27.0 * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    (116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz))
}

/// CIEDE2000 colour difference (Sharma, Wu & Dalal 2005's formulation).
pub fn delta_e_2000(c1: Rgb, c2: Rgb) -> f64 {
    let ((l1, a1, b1), (l2, a2, b2)) = (lab(c1), lab(c2));
    let c_bar = (a1.hypot(b1) + a2.hypot(b2)) / 2.0;
    let p7 = |c: f64| (c.powi(7) / (c.powi(7) + 25f64.powi(7))).sqrt();
    let g = 0.5 * (1.0 - p7(c_bar));
    let (a1p, a2p) = ((1.0 + g) * a1, (1.0 + g) * a2);
    let (c1p, c2p) = (a1p.hypot(b1), a2p.hypot(b2));
    let hue = |b: f64, a: f64| {
        if a == 0.0 && b == 0.0 {
            0.0
        } else {
            b.atan2(a).to_degrees().rem_euclid(360.0)
        }
    };
    let (h1, h2) = (hue(b1, a1p), hue(b2, a2p));
    let dl = l2 - l1;
    let dc = c2p - c1p;
    let dh = if c1p * c2p == 0.0 {
        0.0
    } else if (h2 - h1).abs() <= 180.0 {
        h2 - h1
    } else if h2 - h1 > 180.0 {
        h2 - h1 - 360.0
    } else {
        h2 - h1 + 360.0
    };
    let d_h = 2.0 * (c1p * c2p).sqrt() * (dh.to_radians() / 2.0).sin();
    let l_bar = (l1 + l2) / 2.0;
    let c_bar_p = (c1p + c2p) / 2.0;
    let h_bar = if c1p * c2p == 0.0 {
        h1 + h2
    } else if (h1 - h2).abs() <= 180.0 {
        (h1 + h2) / 2.0
    } else if h1 + h2 < 360.0 {
        (h1 + h2 + 360.0) / 2.0
    } else {
        (h1 + h2 - 360.0) / 2.0
    };
    let t = 1.0 - 0.17 * (h_bar - 30.0).to_radians().cos()
        + 0.24 * (2.0 * h_bar).to_radians().cos()
        + 0.32 * (3.0 * h_bar + 6.0).to_radians().cos()
        - 0.20 * (4.0 * h_bar - 63.0).to_radians().cos();
    let d_theta = 30.0 * (-((h_bar - 275.0) / 25.0).powi(2)).exp();
    let r_c = 2.0 * p7(c_bar_p);
    let s_l = 1.0 + 0.015 * (l_bar - 50.0).powi(2) / (20.0 + (l_bar - 50.0).powi(2)).sqrt();
    let s_c = 1.0 + 0.045 * c_bar_p;
    let s_h = 1.0 + 0.015 * c_bar_p * t;
    let r_t = -(2.0 * d_theta).to_radians().sin() * r_c;
    ((dl / s_l).powi(2) + (dc / s_c).powi(2) + (d_h / s_h).powi(2) + r_t * (dc / s_c) * (d_h / s_h))
        .sqrt()
}

/// The smallest CIEDE2000 difference between any two pod-state colours,
/// as seen with `cvd` (none: normal vision), and the pair.
pub fn closest_states(
    cvd: Option<Cvd>,
    fill: impl Fn(PodState) -> Rgb,
) -> (f64, PodState, PodState) {
    let seen = |s: PodState| match cvd {
        Some(d) => simulate(fill(s), d),
        None => fill(s),
    };
    let mut best = (f64::INFINITY, PodState::Ready, PodState::Ready);
    for (i, &a) in STATES.iter().enumerate() {
        for &b in &STATES[i + 1..] {
            let d = delta_e_2000(seen(a), seen(b));
            if d < best.0 {
                best = (d, a, b);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest CIEDE2000 difference allowed between two state colours,
    /// for normal, deuteranope and protanope eyes. About 10 is "clearly a
    /// different colour" side by side; the palette's closest pair
    /// (deuteranopia: orange and yellow) measures 11.6.
    const MIN_STATE_DISTANCE: f64 = 10.0;

    #[test]
    fn the_formulas_agree_with_published_values() {
        // WCAG: black on white is 21:1; #767676 on white is the classic 4.54.
        assert!((contrast(hex(0x000000), hex(0xffffff)) - 21.0).abs() < 1e-9);
        assert!((contrast(hex(0x767676), hex(0xffffff)) - 4.54).abs() < 0.01);
        // Sharma, Wu & Dalal (2005), table 1, pair 1 is given in Lab; here a
        // check that identical colours are 0 apart and black/white about 100.
        assert_eq!(delta_e_2000(hex(0x336699), hex(0x336699)), 0.0);
        assert!((delta_e_2000(hex(0x000000), hex(0xffffff)) - 100.0).abs() < 0.5);
        // A deuteranope sees pure red and pure green much closer than others do.
        let (r, g) = (hex(0xff0000), hex(0x00ff00));
        let normal = delta_e_2000(r, g);
        let deut = delta_e_2000(
            simulate(r, Cvd::Deuteranopia),
            simulate(g, Cvd::Deuteranopia),
        );
        assert!(deut < normal / 2.0, "{deut} vs {normal}");
        // Greys are unchanged by the simulation.
        let grey = simulate(hex(0x808080), Cvd::Protanopia);
        assert!(delta_e_2000(grey, hex(0x808080)) < 1.0);
    }

    #[test]
    fn pod_state_colours_stay_apart_for_colour_blind_eyes() {
        for cvd in [None, Some(Cvd::Deuteranopia), Some(Cvd::Protanopia)] {
            let (d, a, b) = closest_states(cvd, PodState::colour);
            assert!(
                d >= MIN_STATE_DISTANCE,
                "{a:?} and {b:?} are only {d:.1} apart (CIEDE2000) for {cvd:?}"
            );
        }
    }

    #[test]
    fn every_text_of_each_theme_meets_its_contrast_ratio() {
        for th in [&DARK, &LIGHT] {
            let mut worst = (f64::INFINITY, String::new());
            for (name, fg, bg) in th.text_pairs() {
                let c = contrast(fg, bg);
                if c < worst.0 {
                    worst = (c, name);
                }
            }
            assert!(
                worst.0 >= th.min_contrast(),
                "{:?}: {} has contrast {:.2} < {}",
                th.kind,
                worst.1,
                worst.0,
                th.min_contrast()
            );
        }
    }

    #[test]
    fn each_pod_state_has_its_own_icon() {
        for (i, a) in STATES.iter().enumerate() {
            for b in &STATES[i + 1..] {
                assert_ne!(a.icon(), b.icon(), "{a:?} and {b:?} share an icon");
            }
        }
    }
}
