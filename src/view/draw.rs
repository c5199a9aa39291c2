//! Turns the laid-out scene into sprites and 2D text, one entity per part,
//! keyed so a thing keeps its entity while it exists: a StatefulSet pod's
//! card is keyed by its name, so when web-1 is rescheduled the same card
//! glides to the new node; a volume chip glides when it reattaches. Things
//! that disappear fade out; new things fade in.

use super::icons::Icon;
use super::layout::{Layout, Rect};
use super::scene::{PodView, Scene};
use super::style::{self, Rgb, VolumeLook};
use super::theme::{PodState, Theme};
use super::{CurrentScene, ViewSettings};
use crate::gui::Animating;
use crate::gui::settings::Settings;
use crate::sim::model::OwnerKind;
use bevy::prelude::*;
use bevy::sprite::Anchor;
use bevy::text::TextBounds;
use std::collections::HashMap;

pub fn colour(c: Rgb) -> Color {
    Color::srgb(c.0, c.1, c.2)
}

/// One part to draw, in layout coordinates (y down).
#[derive(Debug, Clone)]
pub enum Part {
    Rect {
        rect: Rect,
        fill: Rgb,
        z: f32,
    },
    Text {
        x: f32,
        y: f32,
        text: String,
        size: f32,
        colour: Rgb,
        z: f32,
        width: f32,
    },
}

/// The parts of the whole scene, each with a stable key.
/// Sets whose clients write now, with the pod they write to (the primary,
/// the set's first ordinal), its card and the write rate.
fn written_primaries<'a>(
    scene: &'a Scene,
    layout: &'a Layout,
) -> impl Iterator<Item = (&'a super::scene::SetView, &'a PodView, &'a Rect, f64)> {
    scene.sets.iter().filter_map(|set| {
        let (_, _, rate) = set.writes?;
        let p = scene.pod(set.primary.as_deref()?)?;
        let r = layout.pods.get(&p.key)?;
        (rate > 0.0).then_some((set, p, r, rate))
    })
}

pub fn parts(scene: &Scene, layout: &Layout, th: &Theme) -> Vec<(String, Part)> {
    let mut out = Vec::new();
    let text = |x: f32, y: f32, t: String, size: f32, c: Rgb, z: f32, w: f32| Part::Text {
        x,
        y,
        text: t,
        size,
        colour: c,
        z,
        width: w,
    };

    // The two lanes: pods waiting for a node, volumes with no pod; each
    // only while it holds something.
    for (key, rect, label) in lanes(layout) {
        out.push((
            key.into(),
            Part::Rect {
                rect,
                fill: th.lane,
                z: 0.0,
            },
        ));
        out.push((
            format!("{key}#t"),
            text(
                rect.x + LANE_TEXT_X,
                rect.y + 10.0,
                label.into(),
                19.0,
                th.text_dim,
                0.5,
                150.0 - LANE_TEXT_X,
            ),
        ));
    }
    for (z, r) in &layout.zones {
        out.push((
            format!("zone/{z}"),
            Part::Rect {
                rect: *r,
                fill: th.zone,
                z: 0.1,
            },
        ));
        out.push((
            format!("zone/{z}#t"),
            text(
                r.x + 12.0,
                r.y + 6.0,
                z.clone(),
                20.0,
                th.text_dim,
                0.5,
                r.w,
            ),
        ));
    }

    for n in &scene.nodes {
        let Some(r) = layout.nodes.get(&n.name) else {
            continue;
        };
        let failed = style::node_failed(n);
        let k = format!("node/{}", n.name);
        let (border, fill) = if failed {
            (th.node_bad_border, th.node_bad)
        } else {
            (th.node_border, th.node)
        };
        frame(&mut out, &format!("{k}#border"), *r, border, 0.8, 3.0);
        out.push((
            format!("{k}#bg"),
            Part::Rect {
                rect: *r,
                fill,
                z: 1.0,
            },
        ));
        out.push((
            format!("{k}#name"),
            text(
                r.x + NODE_NAME_X,
                r.y + 8.0,
                n.name.clone(),
                30.0,
                th.text,
                1.5,
                r.w - NODE_NAME_X - 8.0,
            ),
        ));
        let cond = style::node_condition_line(n);
        out.push((
            format!("{k}#cond"),
            text(
                r.x + 12.0,
                r.y + 44.0,
                cond,
                19.0,
                if failed {
                    th.node_bad_text
                } else {
                    th.node_ok_text
                },
                1.5,
                r.w - 20.0,
            ),
        ));
        let mut extra = style::node_truth_line(n);
        let taints = style::node_taint_line(n);
        if !taints.is_empty() {
            if !extra.is_empty() {
                extra.push('\n');
            }
            extra.push_str(&taints);
        }
        out.push((
            format!("{k}#extra"),
            text(
                r.x + 12.0,
                r.y + 68.0,
                extra,
                14.0,
                th.node_note,
                1.5,
                r.w - 20.0,
            ),
        ));
    }

    for p in &scene.pods {
        let Some(r) = layout.pods.get(&p.key) else {
            continue;
        };
        pod_parts(&mut out, p, *r, th);
    }

    // The clients: writes go to <set>-0 through its stable name.
    for (set, _, r, rate) in written_primaries(scene, layout) {
        let (label, c) = if set.writes_failing {
            ("writes FAILING".to_string(), th.text)
        } else {
            (format!("client writes {rate}/s"), th.text)
        };
        out.push((
            format!("clients/{}", set.name),
            text(
                r.x + r.w / 4.0 + 16.0,
                r.y - 26.0,
                label,
                16.0,
                c,
                3.5,
                r.w * 0.75,
            ),
        ));
    }

    for v in &scene.volumes {
        let Some(r) = layout.volumes.get(&v.name) else {
            continue;
        };
        let k = format!("pv/{}", v.name);
        out.push((
            format!("{k}#bg"),
            Part::Rect {
                rect: *r,
                fill: style::volume_colour(v, th),
                z: 3.0,
            },
        ));
        out.push((
            format!("{k}#t"),
            text(
                r.x + VOL_TEXT_X,
                r.y + 7.0,
                style::volume_label(v),
                14.0,
                th.vol_text,
                3.5,
                r.w - VOL_TEXT_X - 4.0,
            ),
        ));
        if let Some(w) = &v.waiting {
            out.push((
                format!("{k}#why"),
                text(
                    r.x + 8.0,
                    r.y + r.h + 2.0,
                    w.clone(),
                    13.0,
                    th.vol_why,
                    3.5,
                    r.w - 12.0,
                ),
            ));
        }
    }
    out
}

/// A frame `b` units wide around `r` as four strips (`<key>-t`, `-b`,
/// `-l`, `-r`), not a rectangle under the card: a software renderer would
/// shade the card's whole area twice.
fn frame(out: &mut Vec<(String, Part)>, key: &str, r: Rect, fill: Rgb, z: f32, b: f32) {
    for (side, rect) in [
        ("t", Rect::new(r.x - b, r.y - b, r.w + 2.0 * b, b)),
        ("b", Rect::new(r.x - b, r.y + r.h, r.w + 2.0 * b, b)),
        ("l", Rect::new(r.x - b, r.y, b, r.h)),
        ("r", Rect::new(r.x + r.w, r.y, b, r.h)),
    ] {
        out.push((format!("{key}-{side}"), Part::Rect { rect, fill, z }));
    }
}

fn pod_parts(out: &mut Vec<(String, Part)>, p: &PodView, r: Rect, th: &Theme) {
    let k = &p.key;
    let state = PodState::of(p);
    let fill = style::pod_colour(p, th);
    let deploy = p.owner_kind == OwnerKind::Deployment;
    // The state's own colour, unmixed, as a frame: the tinted fill keeps
    // the text readable, the frame keeps the colour strong.
    frame(out, &format!("{k}#frame"), r, state.colour(), 2.85, 4.0);
    // StatefulSet pods carry a thick identity bar on the left; Deployment
    // pods are smaller, anonymous-looking cards. A pod no set owns (orphaned
    // by --cascade=orphan) keeps its name but its bar is greyed: nothing
    // guarantees its identity until a set adopts it.
    if !deploy {
        out.push((
            format!("{k}#bar"),
            Part::Rect {
                rect: Rect::new(r.x - 8.0, r.y - 4.0, 10.0, r.h + 8.0),
                fill: if p.unowned {
                    PodState::Pending.colour()
                } else {
                    th.identity
                },
                z: 2.9,
            },
        ));
    }
    out.push((
        format!("{k}#bg"),
        Part::Rect {
            rect: r,
            fill,
            z: 3.0,
        },
    ));
    let name_size = if deploy { 16.0 } else { 28.0 };
    let icon_room = if deploy { 30.0 } else { 44.0 };
    out.push((
        format!("{k}#name"),
        Part::Text {
            x: r.x + 10.0,
            y: r.y + 4.0,
            text: p.name.clone(),
            size: name_size,
            colour: th.card_text,
            z: 3.5,
            width: r.w - 14.0 - icon_room,
        },
    ));
    let line_y = r.y + if deploy { 26.0 } else { 36.0 };
    out.push((
        format!("{k}#status"),
        Part::Text {
            x: r.x + 10.0,
            y: line_y,
            text: style::pod_status_line(p),
            size: 14.0,
            colour: th.card_text,
            z: 3.5,
            width: r.w - 14.0,
        },
    ));
    if !deploy || p.waiting.is_some() {
        let x = r.x + if p.db.is_some() { 30.0 } else { 10.0 };
        out.push((
            format!("{k}#cap"),
            Part::Text {
                x,
                y: line_y + 19.0,
                text: style::short(&style::pod_caption(p), 54),
                size: 13.0,
                colour: th.card_text,
                z: 3.5,
                width: r.x + r.w - 4.0 - x,
            },
        ));
    }
}

/// Where the lanes' labels start (room for the lane's icon on the left).
const LANE_TEXT_X: f32 = 40.0;
/// Where a node's name starts (room for the node icon).
const NODE_NAME_X: f32 = 50.0;
/// Where a volume chip's label starts (room for the disk icon).
const VOL_TEXT_X: f32 = 26.0;

/// The lanes drawn: the pending lane and the shelf, each only when the
/// layout gave it room (it holds something).
fn lanes(layout: &Layout) -> Vec<(&'static str, Rect, &'static str)> {
    [
        (
            "lane/pending",
            layout.pending,
            "Waiting for\na node\n(Pending)",
        ),
        ("lane/shelf", layout.shelf, "Volumes with\nno pod"),
    ]
    .into_iter()
    .filter(|(_, r, _)| r.h > 0.0)
    .collect()
}

/// An icon to draw: which, where (layout coordinates, y down), how big,
/// in what colour, and the part it rides on (it follows that part's glide).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub anchor: String,
    pub anchor_rect: Rect,
    pub icon: Icon,
    pub at: (f32, f32),
    pub half: f32,
    pub colour: Rgb,
}

/// The icons of the scene: one per pod card (its state), per node (a
/// server, or a warning sign when it failed), per volume chip (a disk, a
/// lock when another node holds it, a warning when it diverged or waits),
/// a database sign on database pods' role line, and the lanes' signs.
pub fn marks(scene: &Scene, layout: &Layout, th: &Theme) -> Vec<Mark> {
    let mut out = Vec::new();
    let mut mark = |anchor: String, anchor_rect: Rect, icon, at, half, colour| {
        out.push(Mark {
            anchor,
            anchor_rect,
            icon,
            at,
            half,
            colour,
        })
    };
    for (key, r, _) in lanes(layout) {
        let icon = if key == "lane/pending" {
            Icon::Pod
        } else {
            Icon::Volume
        };
        mark(
            key.into(),
            r,
            icon,
            (r.x + 22.0, r.y + 22.0),
            11.0,
            th.text_dim,
        );
    }
    for n in &scene.nodes {
        let Some(r) = layout.nodes.get(&n.name) else {
            continue;
        };
        let (icon, c) = if style::node_failed(n) {
            (Icon::Warning, th.node_bad_border)
        } else {
            (Icon::Node, th.text_dim)
        };
        let key = format!("node/{}#bg", n.name);
        mark(key, *r, icon, (r.x + 27.0, r.y + 27.0), 15.0, c);
    }
    for p in &scene.pods {
        let Some(r) = layout.pods.get(&p.key) else {
            continue;
        };
        let key = format!("{}#bg", p.key);
        let deploy = p.owner_kind == OwnerKind::Deployment;
        let (half, inset) = if deploy { (10.0, 16.0) } else { (15.0, 22.0) };
        let at = (r.x + r.w - inset, r.y + inset);
        mark(
            key.clone(),
            *r,
            PodState::of(p).icon(),
            at,
            half,
            th.card_text,
        );
        if p.db.is_some() && !deploy {
            mark(
                key,
                *r,
                Icon::Database,
                (r.x + 19.0, r.y + 63.0),
                8.0,
                th.card_text,
            );
        }
    }
    for v in &scene.volumes {
        let Some(r) = layout.volumes.get(&v.name) else {
            continue;
        };
        // On two nodes, a fenced mount, or waiting while attached: held by
        // a node until it lets go.
        let held_elsewhere = v.attached.len() > 1
            || v.attached
                .iter()
                .any(|(_, l)| *l == super::scene::AttachLook::StillMounted)
            || (v.waiting.is_some() && !v.attached.is_empty());
        let icon = match style::volume_look(v) {
            VolumeLook::Error if held_elsewhere => Icon::Lock,
            VolumeLook::Error => Icon::Warning,
            _ => Icon::Volume,
        };
        let at = (r.x + 13.0, r.y + r.h / 2.0);
        mark(format!("pv/{}#bg", v.name), *r, icon, at, 9.0, th.vol_text);
    }
    out
}

/// What `sync` updates on a drawn part.
type SyncedPart = (
    &'static mut Tween,
    Option<&'static mut Sprite>,
    Option<&'static mut Text2d>,
    Option<&'static mut TextFont>,
    Option<&'static mut TextBounds>,
);

/// What `animate` moves and fades on a drawn part.
type AnimatedPart = (
    Entity,
    &'static mut Tween,
    &'static mut Transform,
    Option<&'static mut Sprite>,
    Option<&'static mut TextColor>,
);

/// The tween state of one drawn part.
#[derive(Component, Debug)]
pub struct Tween {
    pub target: Vec3,
    pub base: Color,
    pub alpha: f32,
    pub target_alpha: f32,
}

/// Key → entity of every drawn part.
#[derive(Resource, Default)]
pub struct Drawn(pub HashMap<String, Entity>);

fn world_pos(x: f32, y: f32, z: f32) -> Vec3 {
    Vec3::new(x, -y, z)
}

/// Spawns, updates and retires part entities to match the scene.
pub fn sync(
    mut commands: Commands,
    current: Res<CurrentScene>,
    settings: Res<ViewSettings>,
    user: Res<Settings>,
    font: Res<super::fonts::WorldFont>,
    mut drawn: ResMut<Drawn>,
    mut q: Query<SyncedPart>,
) {
    if !current.is_changed() && !user.is_changed() {
        return;
    }
    let th = super::theme::theme(user.theme);
    let parts = parts(&current.scene, &current.layout, th);
    let mut seen: HashMap<&str, ()> = HashMap::with_capacity(parts.len());
    for (key, part) in &parts {
        seen.insert(key.as_str(), ());
        let (pos, base) = match part {
            Part::Rect { rect, fill, z } => {
                let (cx, cy) = rect.center();
                (world_pos(cx, cy, *z), colour(*fill))
            }
            Part::Text {
                x, y, colour: c, z, ..
            } => (world_pos(*x, *y, *z), colour(*c)),
        };
        if let Some(&e) = drawn.0.get(key)
            && let Ok((mut tw, sprite, text, font, bounds)) = q.get_mut(e)
        {
            tw.target = pos;
            tw.base = base;
            tw.target_alpha = 1.0;
            match part {
                Part::Rect { rect, .. } => {
                    if let Some(mut s) = sprite {
                        let size = Vec2::new(rect.w, rect.h);
                        if s.custom_size != Some(size) {
                            s.custom_size = Some(size);
                        }
                    }
                }
                Part::Text {
                    text: t,
                    size,
                    width,
                    ..
                } => {
                    if let Some(mut tx) = text
                        && tx.0 != *t
                    {
                        tx.0 = t.clone();
                    }
                    if let Some(mut f) = font
                        && f.font_size != bevy::text::FontSize::Px(*size)
                    {
                        f.font_size = bevy::text::FontSize::Px(*size);
                    }
                    if let Some(mut b) = bounds
                        && b.width != Some(*width)
                    {
                        b.width = Some(*width);
                    }
                }
            }
            continue;
        }
        let alpha = if settings.animate { 0.0 } else { 1.0 };
        let tween = Tween {
            target: pos,
            base,
            alpha,
            target_alpha: 1.0,
        };
        let e = match part {
            Part::Rect { rect, .. } => commands
                .spawn((
                    Sprite::from_color(base.with_alpha(alpha), Vec2::new(rect.w, rect.h)),
                    Transform::from_translation(pos),
                    tween,
                ))
                .id(),
            Part::Text {
                text: t,
                size,
                width,
                ..
            } => commands
                .spawn((
                    Text2d::new(t.clone()),
                    TextFont::from_font_size(*size).with_font(font.0.clone()),
                    TextColor(base.with_alpha(alpha)),
                    TextBounds {
                        width: Some(*width),
                        height: None,
                    },
                    Anchor::TOP_LEFT,
                    Transform::from_translation(pos),
                    tween,
                ))
                .id(),
        };
        drawn.0.insert(key.clone(), e);
    }
    // Whatever is no longer in the scene fades out (and is revived if it
    // comes back before it is gone: that is how an identity moves).
    for (key, &e) in &drawn.0 {
        if !seen.contains_key(key.as_str())
            && let Ok((mut tw, ..)) = q.get_mut(e)
        {
            tw.target_alpha = 0.0;
        }
    }
}

/// Hides world text too small on screen to read at the camera's zoom (see
/// [`style::text_readable`]) and shows it again when the user zooms in.
/// Unreadable text is noise to the eye and, drawn as thousands of tiny
/// glyphs, most of a software renderer's frame.
pub fn text_lod(
    cam: Single<&Projection, With<Camera2d>>,
    mut q: Query<(&TextFont, &mut Visibility), With<Text2d>>,
) {
    let world_per_px = match *cam {
        Projection::Orthographic(o) => o.scale,
        _ => 1.0,
    };
    for (font, mut vis) in &mut q {
        let bevy::text::FontSize::Px(px) = font.font_size else {
            continue;
        };
        let want = if style::text_readable(px, world_per_px) {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        vis.set_if_neq(want);
    }
}

/// Moves parts toward their targets and fades them; despawns faded ones.
pub fn animate(
    mut commands: Commands,
    time: Res<Time>,
    settings: Res<ViewSettings>,
    mut drawn: ResMut<Drawn>,
    mut animating: ResMut<Animating>,
    mut q: Query<AnimatedPart>,
) {
    // After the window rested (paused, redrawing only on input) the first
    // step can be long; a glide must not turn into a jump.
    let dt = time.delta_secs().min(1.0 / 15.0);
    let k = if settings.animate {
        1.0 - (-dt * 5.0).exp()
    } else {
        1.0
    };
    let fade = if settings.animate { dt * 2.5 } else { 1.0 };
    let mut gone = Vec::new();
    let mut moving = false;
    for (e, mut tw, mut tf, sprite, text) in &mut q {
        let d = tw.target - tf.translation;
        moving |= d != Vec3::ZERO || tw.alpha != tw.target_alpha;
        if d.length_squared() > 0.01 {
            tf.translation += d * k;
        } else if d != Vec3::ZERO {
            tf.translation = tw.target;
        }
        if tw.alpha != tw.target_alpha {
            tw.alpha = if tw.alpha < tw.target_alpha {
                (tw.alpha + fade).min(tw.target_alpha)
            } else {
                (tw.alpha - fade).max(tw.target_alpha)
            };
        }
        if tw.alpha <= 0.0 && tw.target_alpha <= 0.0 {
            gone.push(e);
            continue;
        }
        let c = tw.base.with_alpha(tw.alpha);
        if let Some(mut s) = sprite
            && s.color != c
        {
            s.color = c;
        }
        if let Some(mut t) = text
            && t.0 != c
        {
            t.0 = c;
        }
    }
    animating.set_if_neq(Animating(moving));
    if !gone.is_empty() {
        drawn.0.retain(|_, e| !gone.contains(e));
        for e in gone {
            commands.entity(e).despawn();
        }
    }
}

/// Lines: pod to its volume, volume to the node holding it, replication
/// links with dots flowing from the source, failed nodes struck through,
/// the selection outlined.
pub fn lines(
    mut gizmos: Gizmos,
    current: Res<CurrentScene>,
    settings: Res<ViewSettings>,
    selection: Res<super::Selection>,
    user: Res<Settings>,
    drawn: Res<Drawn>,
    tf: Query<&Transform>,
) {
    let th = super::theme::theme(user.theme);
    let scene = &current.scene;
    let layout = &current.layout;
    // Use the animated position of a card when there is one.
    let at = |key: &str, fallback: &Rect| -> Vec2 {
        match drawn.0.get(key).and_then(|&e| tf.get(e).ok()) {
            Some(t) => t.translation.truncate(),
            None => {
                let (x, y) = fallback.center();
                Vec2::new(x, -y)
            }
        }
    };
    for n in &scene.nodes {
        if !style::node_failed(n) {
            continue;
        }
        if let Some(r) = layout.nodes.get(&n.name) {
            let c = colour(th.node_bad_border).with_alpha(0.8);
            let (x0, x1, y0, y1) = (r.x, r.x + r.w, -r.y, -(r.y + 40.0));
            gizmos.line_2d(
                Vec2::new(x0 + 150.0, y0 - 6.0),
                Vec2::new(x1 - 8.0, y1 + 2.0),
                c,
            );
            gizmos.line_2d(
                Vec2::new(x0 + 150.0, y1 + 2.0),
                Vec2::new(x1 - 8.0, y0 - 6.0),
                c,
            );
        }
    }
    for v in &scene.volumes {
        let Some(vr) = layout.volumes.get(&v.name) else {
            continue;
        };
        let vp = at(&format!("pv/{}#bg", v.name), vr);
        if let Some(p) = v.pod.as_ref().and_then(|p| scene.pod(p))
            && let Some(pr) = layout.pods.get(&p.key)
        {
            let pp = at(&format!("{}#bg", p.key), pr);
            let below = (vr.x - pr.x).abs() < 40.0 && vr.y > pr.y && vr.y - pr.y < 200.0;
            if below {
                // A short bracket on the left: this claim belongs to this pod.
                let x = vp.x - vr.w / 2.0 - 8.0;
                let top = pp.y - pr.h / 2.0;
                gizmos.linestrip_2d(
                    [
                        Vec2::new(x, top),
                        Vec2::new(x, vp.y),
                        Vec2::new(x + 8.0, vp.y),
                    ],
                    colour(th.bracket),
                );
            } else {
                // The volume is elsewhere (held by another node): a red line to its pod.
                gizmos.line_2d(pp, vp, colour(th.link_broken));
            }
        }
        for (node, _) in &v.attached {
            if let Some(nr) = layout.nodes.get(node)
                && !nr.contains(vr.x + 1.0, vr.y + 1.0)
            {
                let nc = Vec2::new(nr.x + nr.w / 2.0, -(nr.y + 30.0));
                gizmos.line_2d(vp, nc, colour(th.link_broken));
            }
        }
    }
    for (set, p, r, _) in written_primaries(scene, layout) {
        let top = at(&format!("{}#bg", p.key), r) + Vec2::new(-r.w / 4.0, r.h / 2.0);
        let from = top + Vec2::new(0.0, 24.0);
        if set.writes_failing {
            let c = colour(th.writes_bad_text);
            gizmos.line_2d(from, top + Vec2::new(0.0, 6.0), c);
            gizmos.line_2d(top + Vec2::new(-8.0, 4.0), top + Vec2::new(8.0, 16.0), c);
            gizmos.line_2d(top + Vec2::new(-8.0, 16.0), top + Vec2::new(8.0, 4.0), c);
        } else {
            let c = colour(th.link_ok);
            gizmos.line_2d(from, top, c);
            for i in 0..2 {
                let t = (settings.dot_phase * 2.0 + i as f32 / 2.0).fract();
                gizmos.circle_2d(Isometry2d::from_translation(from.lerp(top, t)), 4.0, c);
            }
        }
    }
    for l in &scene.links {
        let (Some(a), Some(b)) = (scene.pod(&l.from), scene.pod(&l.to)) else {
            continue;
        };
        let (Some(ar), Some(br)) = (layout.pods.get(&a.key), layout.pods.get(&b.key)) else {
            continue;
        };
        // From the top edge of the source card to the top edge of the
        // replica's, arching above both so it never crosses their text.
        let pa = at(&format!("{}#bg", a.key), ar) + Vec2::new(ar.w / 4.0, ar.h / 2.0);
        let pb = at(&format!("{}#bg", b.key), br) + Vec2::new(-br.w / 4.0, br.h / 2.0);
        let c = colour(style::link_colour(l, th));
        let mid = (pa + pb) / 2.0 + Vec2::new(0.0, 40.0 + (pa - pb).length() * 0.15);
        let curve: Vec<Vec2> = (0..=16)
            .map(|i| {
                let t = i as f32 / 16.0;
                pa * (1.0 - t) * (1.0 - t) + mid * 2.0 * t * (1.0 - t) + pb * t * t
            })
            .collect();
        gizmos.linestrip_2d(curve, c);
        if matches!(
            l.kind,
            super::scene::LinkKind::Replicating | super::scene::LinkKind::Cloning
        ) {
            for i in 0..3 {
                let t = (settings.dot_phase + i as f32 / 3.0).fract();
                let p = pa * (1.0 - t) * (1.0 - t) + mid * 2.0 * t * (1.0 - t) + pb * t * t;
                gizmos.circle_2d(Isometry2d::from_translation(p), 6.0, c);
            }
        }
    }
    if let Some(sel) = &selection.0 {
        let r = if let Some(k) = sel.strip_prefix("node/") {
            layout.nodes.get(k)
        } else if let Some(k) = sel.strip_prefix("pv/") {
            layout.volumes.get(k)
        } else {
            layout.pods.get(sel)
        };
        if let Some(r) = r {
            let (x, y) = r.center();
            gizmos.rect_2d(
                Isometry2d::from_translation(Vec2::new(x, -y)),
                Vec2::new(r.w + 10.0, r.h + 10.0),
                colour(th.selection),
            );
        }
    }
}

/// Draws the scene's icons ([`marks`]), each riding on its part's glide.
pub fn icons(
    mut gizmos: Gizmos<super::IconGizmos>,
    current: Res<CurrentScene>,
    user: Res<Settings>,
    drawn: Res<Drawn>,
    tf: Query<&Transform>,
) {
    let th = super::theme::theme(user.theme);
    for m in marks(&current.scene, &current.layout, th) {
        // How far the anchor's drawing is from where the layout puts it.
        let (cx, cy) = m.anchor_rect.center();
        let shift = match drawn.0.get(&m.anchor).and_then(|&e| tf.get(e).ok()) {
            Some(t) => t.translation.truncate() - Vec2::new(cx, -cy),
            None => Vec2::ZERO,
        };
        let c = colour(m.colour);
        for stroke in super::icons::placed(m.icon, (m.at.0, -m.at.1), m.half) {
            gizmos.linestrip_2d(stroke.into_iter().map(|(x, y)| Vec2::new(x, y) + shift), c);
        }
    }
}
