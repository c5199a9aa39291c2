//! Small line icons, drawn the same in the world (gizmos) and in the panels
//! (egui's painter): the things (node, pod, volume, database) and the signs
//! (warning, lock), and one per pod state, so that a state reads from its
//! shape as well as its colour. Pure geometry: polylines in a box from -1 to
//! 1 with y up, scaled and placed by whoever draws them.

use std::f32::consts::{PI, TAU};

/// What an icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icon {
    Node,
    Pod,
    Volume,
    Database,
    Warning,
    Lock,
    /// Pod states (see `theme::PodState`).
    Ready,
    NotReady,
    Creating,
    Pending,
    Terminating,
    CrashLoop,
    SplitBrain,
    Succeeded,
}

/// Every icon, for the legend and the tests.
pub const ALL: [Icon; 14] = [
    Icon::Node,
    Icon::Pod,
    Icon::Volume,
    Icon::Database,
    Icon::Warning,
    Icon::Lock,
    Icon::Ready,
    Icon::NotReady,
    Icon::Creating,
    Icon::Pending,
    Icon::Terminating,
    Icon::CrashLoop,
    Icon::SplitBrain,
    Icon::Succeeded,
];

type P = (f32, f32);

/// An arc of an ellipse centred at (cx, cy), from angle a0 to a1 (radians).
fn arc(cx: f32, cy: f32, rx: f32, ry: f32, a0: f32, a1: f32) -> Vec<P> {
    let n = (((a1 - a0).abs() / TAU) * 24.0).ceil().max(2.0) as usize;
    (0..=n)
        .map(|i| {
            let a = a0 + (a1 - a0) * i as f32 / n as f32;
            (cx + rx * a.cos(), cy + ry * a.sin())
        })
        .collect()
}

fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<P> {
    vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
}

/// A cylinder (a disk): top ellipse, sides, bottom half-ellipse.
fn cylinder(bands: usize) -> Vec<Vec<P>> {
    let (rx, ry, top, bottom) = (0.8, 0.25, 0.65, -0.65);
    let mut out = vec![
        arc(0.0, top, rx, ry, 0.0, TAU),
        vec![(-rx, top), (-rx, bottom)],
        vec![(rx, top), (rx, bottom)],
        arc(0.0, bottom, rx, ry, PI, TAU),
    ];
    for i in 1..bands {
        let y = top + (bottom - top) * i as f32 / bands as f32;
        out.push(arc(0.0, y, rx, ry, PI, TAU));
    }
    out
}

/// The icon's strokes: each a polyline in the -1..1 box, y up.
pub fn strokes(icon: Icon) -> Vec<Vec<P>> {
    match icon {
        // A server: a box with two drive bays and their lights.
        Icon::Node => vec![
            rect(-0.85, -0.8, 0.85, 0.8),
            vec![(-0.85, 0.0), (0.85, 0.0)],
            vec![(-0.6, 0.4), (0.2, 0.4)],
            vec![(-0.6, -0.4), (0.2, -0.4)],
            arc(0.55, 0.4, 0.1, 0.1, 0.0, TAU),
            arc(0.55, -0.4, 0.1, 0.1, 0.0, TAU),
        ],
        // A cube (the Kubernetes pod sign).
        Icon::Pod => vec![
            vec![
                (0.0, 0.95),
                (0.85, 0.5),
                (0.85, -0.5),
                (0.0, -0.95),
                (-0.85, -0.5),
                (-0.85, 0.5),
                (0.0, 0.95),
            ],
            vec![(-0.85, 0.5), (0.0, 0.05), (0.85, 0.5)],
            vec![(0.0, 0.05), (0.0, -0.95)],
        ],
        Icon::Volume => cylinder(1),
        Icon::Database => cylinder(3),
        // A triangle with an exclamation mark.
        Icon::Warning => vec![
            vec![(0.0, 0.95), (0.95, -0.8), (-0.95, -0.8), (0.0, 0.95)],
            vec![(0.0, 0.4), (0.0, -0.25)],
            vec![(0.0, -0.45), (0.0, -0.58)],
        ],
        // A padlock: body and shackle.
        Icon::Lock => vec![
            rect(-0.75, -0.9, 0.75, 0.15),
            {
                let mut s = vec![(-0.45, 0.15)];
                s.extend(arc(0.0, 0.45, 0.45, 0.45, PI, 0.0));
                s.push((0.45, 0.15));
                s
            },
            vec![(0.0, -0.25), (0.0, -0.55)],
        ],
        // A check mark.
        Icon::Ready => vec![vec![(-0.8, 0.0), (-0.25, -0.6), (0.85, 0.7)]],
        // An empty ring with a bar: running, not ready.
        Icon::NotReady => vec![
            arc(0.0, 0.0, 0.8, 0.8, 0.0, TAU),
            vec![(-0.45, 0.0), (0.45, 0.0)],
        ],
        // An hourglass.
        Icon::Creating => vec![vec![
            (-0.7, 0.9),
            (0.7, 0.9),
            (-0.7, -0.9),
            (0.7, -0.9),
            (-0.7, 0.9),
        ]],
        // A clock: waiting for a node.
        Icon::Pending => vec![
            arc(0.0, 0.0, 0.85, 0.85, 0.0, TAU),
            vec![(0.0, 0.6), (0.0, 0.0), (0.45, -0.3)],
        ],
        // A cross.
        Icon::Terminating => vec![
            vec![(-0.75, 0.75), (0.75, -0.75)],
            vec![(-0.75, -0.75), (0.75, 0.75)],
        ],
        // A circular arrow: restarted again and again.
        Icon::CrashLoop => vec![
            arc(0.0, 0.0, 0.75, 0.75, 0.5, TAU - 0.3),
            vec![(0.25, 0.55), (0.66, 0.36), (0.75, 0.85)],
        ],
        // A lightning bolt: two primaries, the split.
        Icon::SplitBrain => vec![vec![
            (0.3, 0.95),
            (-0.45, -0.05),
            (0.2, -0.05),
            (-0.3, -0.95),
        ]],
        // A flag: completed.
        Icon::Succeeded => vec![
            vec![(-0.6, -0.95), (-0.6, 0.9)],
            vec![(-0.6, 0.9), (0.7, 0.6), (-0.6, 0.2)],
        ],
    }
}

/// The strokes placed at `centre` with half-size `half`, y up (the world's
/// orientation; egui flips y itself).
pub fn placed(icon: Icon, centre: (f32, f32), half: f32) -> Vec<Vec<P>> {
    strokes(icon)
        .into_iter()
        .map(|s| {
            s.into_iter()
                .map(|(x, y)| (centre.0 + x * half, centre.1 + y * half))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_icon_fits_its_box_and_no_two_look_the_same() {
        let mut seen: Vec<Vec<Vec<P>>> = Vec::new();
        for icon in ALL {
            let s = strokes(icon);
            assert!(!s.is_empty(), "{icon:?} draws nothing");
            for line in &s {
                assert!(line.len() >= 2, "{icon:?} has a stroke of one point");
                for &(x, y) in line {
                    assert!(
                        (-1.0..=1.0).contains(&x) && (-1.0..=1.0).contains(&y),
                        "{icon:?} leaves its box at ({x}, {y})"
                    );
                }
            }
            assert!(!seen.contains(&s), "{icon:?} looks like another icon");
            seen.push(s);
        }
    }
}
