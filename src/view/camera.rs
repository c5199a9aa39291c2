//! The world camera: fits the cluster into the space the panels leave, and
//! lets the user zoom (wheel), pan (drag) and pick (click) objects.

use super::{CurrentScene, Selection};
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::EguiWantsInput;

/// The free space for the world, in logical pixels from each window edge
/// (the UI writes it after laying out its panels).
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct WorldViewport {
    pub left: f32,
    pub right: f32,
    pub top: f32,
    pub bottom: f32,
    /// How far the fit may magnify the world (0: the default, 1.25×).
    pub max_zoom: f32,
}

/// Where the world's drawing is on screen (logical pixels, y down), with a
/// margin for lines and labels drawn beyond the cards.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct WorldOnScreen(pub Rect);

impl WorldViewport {
    /// Which panels (left, right, top, bottom) the world's drawing reaches
    /// under in a window of size `win`. Only those need painting: elsewhere
    /// the window's clear colour already is the panels' background, and a
    /// software renderer spends a quarter of a frame filling panels.
    pub fn covered(&self, world: Rect, win: Vec2) -> [bool; 4] {
        [
            world.min.x < self.left,
            world.max.x > win.x - self.right,
            world.min.y < self.top,
            world.max.y > win.y - self.bottom,
        ]
    }
}

/// The user's zoom and pan on top of the automatic fit.
#[derive(Resource, Debug)]
pub struct CameraControl {
    pub zoom: f32,
    pub pan: Vec2,
    drag_from: Option<Vec2>,
    dragged: f32,
}

impl Default for CameraControl {
    fn default() -> Self {
        CameraControl {
            zoom: 1.0,
            pan: Vec2::ZERO,
            drag_from: None,
            dragged: 0.0,
        }
    }
}

impl CameraControl {
    pub fn reset(&mut self) {
        self.zoom = 1.0;
        self.pan = Vec2::ZERO;
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<WorldViewport>()
        .init_resource::<WorldOnScreen>()
        .init_resource::<CameraControl>()
        .add_systems(Startup, spawn_camera)
        .add_systems(
            PostUpdate,
            (mouse, fit).chain().in_set(crate::gui::GuiSystems::Camera),
        );
}

fn spawn_camera(mut commands: Commands) {
    // No multisampling: on software renderers (projector laptops, CI) 4x MSAA
    // costs more than everything else; the shapes are axis-aligned anyway.
    commands.spawn((Camera2d, bevy::render::view::Msaa::Off));
}

/// World units per logical pixel so that `bounds` fits in `avail`, never
/// magnifying beyond 1.25 (labels are sized for 1:1).
pub fn fit_scale(bounds: Vec2, avail: Vec2) -> f32 {
    fit_scale_upto(bounds, avail, 1.25)
}

/// As `fit_scale`, magnifying at most `max_zoom` times (presentation mode
/// and `--ui-scale` let the world grow with the text around it).
pub fn fit_scale_upto(bounds: Vec2, avail: Vec2, max_zoom: f32) -> f32 {
    let avail = avail.max(Vec2::splat(50.0));
    (bounds.x / avail.x)
        .max(bounds.y / avail.y)
        .max(1.0 / max_zoom)
}

fn fit(
    current: Res<CurrentScene>,
    vp: Res<WorldViewport>,
    ctl: Res<CameraControl>,
    window: Single<&Window, With<PrimaryWindow>>,
    mut cam: Single<(&mut Transform, &mut Projection), With<Camera2d>>,
    mut on_screen: ResMut<WorldOnScreen>,
) {
    let win = Vec2::new(window.width(), window.height());
    let (scale, target, r) = fit_view(&current.layout.bounds, &vp, win, ctl.zoom, ctl.pan);
    let (tf, proj) = &mut *cam;
    if let Projection::Orthographic(o) = &mut **proj
        && o.scale != scale
    {
        o.scale = scale;
    }
    let t = Vec3::new(target.x, target.y, tf.translation.z);
    if tf.translation != t {
        tf.translation = t;
    }
    if on_screen.0 != r {
        on_screen.0 = r;
    }
}

/// The camera for laid-out `bounds` in a window of size `win` with the
/// panels of `vp`, under the user's zoom and pan: world units per pixel, the
/// camera's centre, and where the drawing lands on screen (logical pixels,
/// y down).
pub fn fit_view(
    b: &super::layout::Rect,
    vp: &WorldViewport,
    win: Vec2,
    zoom: f32,
    pan: Vec2,
) -> (f32, Vec2, Rect) {
    let margin = 20.0;
    let avail = Vec2::new(
        win.x - vp.left - vp.right - 2.0 * margin,
        win.y - vp.top - vp.bottom - 2.0 * margin,
    );
    let max_zoom = if vp.max_zoom > 0.0 { vp.max_zoom } else { 1.25 };
    let scale = fit_scale_upto(Vec2::new(b.w, b.h), avail, max_zoom) / zoom;
    // Centred across the free space, top-aligned in it (so it does not bob
    // up and down as the cluster grows).
    let cx = b.x + b.w / 2.0 - (vp.left + margin + avail.x / 2.0 - win.x / 2.0) * scale;
    let cy = -b.y - (win.y / 2.0 - vp.top - margin) * scale;
    let target = Vec2::new(cx, cy) + pan;
    // Layout coordinates (y down) to the screen.
    let to_screen = |x: f32, y: f32| {
        Vec2::new(
            (x - target.x) / scale + win.x / 2.0,
            win.y / 2.0 - (-y - target.y) / scale,
        )
    };
    // A little room for text that runs past its card; less than the fit's
    // 20-pixel margin (scale is at least 0.8), so a fitted cluster leaves
    // every panel unpainted.
    let m = 12.0;
    let r = Rect::from_corners(
        to_screen(b.x - m, b.y - m),
        to_screen(b.x + b.w + m, b.y + b.h + m),
    );
    (scale, target, r)
}

/// The mouse as the camera reads it: buttons, wheel, motion, and whether
/// egui has the pointer.
#[derive(bevy::ecs::system::SystemParam)]
struct Pointer<'w> {
    buttons: Res<'w, ButtonInput<MouseButton>>,
    scroll: Res<'w, AccumulatedMouseScroll>,
    motion: Res<'w, AccumulatedMouseMotion>,
    egui: Res<'w, EguiWantsInput>,
}

fn mouse(
    pointer: Pointer,
    window: Single<&Window, With<PrimaryWindow>>,
    cam: Single<(&Camera, &GlobalTransform, &Projection)>,
    current: Res<CurrentScene>,
    mut ctl: ResMut<CameraControl>,
    mut selection: ResMut<Selection>,
) {
    let Pointer {
        buttons,
        scroll,
        motion,
        egui,
    } = pointer;
    let over_ui = egui.wants_any_pointer_input() || egui.is_pointer_over_area();
    let (camera, gt, proj) = *cam;
    let scale = match proj {
        Projection::Orthographic(o) => o.scale,
        _ => 1.0,
    };
    if !over_ui && scroll.delta.y != 0.0 {
        let f = if scroll.delta.y > 0.0 { 1.1 } else { 1.0 / 1.1 };
        ctl.zoom = (ctl.zoom * f).clamp(0.2, 6.0);
    }
    if buttons.just_pressed(MouseButton::Left) && !over_ui {
        ctl.drag_from = window.cursor_position();
        ctl.dragged = 0.0;
    }
    if buttons.pressed(MouseButton::Left) && ctl.drag_from.is_some() {
        let d = motion.delta;
        ctl.dragged += d.length();
        if ctl.dragged > 4.0 {
            ctl.pan += Vec2::new(-d.x, d.y) * scale;
        }
    }
    if buttons.just_released(MouseButton::Left)
        && let Some(_) = ctl.drag_from.take()
        && ctl.dragged <= 4.0
        && let Some(cursor) = window.cursor_position()
        && let Ok(p) = camera.viewport_to_world_2d(gt, cursor)
    {
        selection.0 = current.layout.hit(p.x, -p.y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default 1600x900 window with the panels at their default sizes.
    fn default_window() -> (WorldViewport, Vec2) {
        let vp = WorldViewport {
            left: 330.0,
            right: 400.0,
            top: 46.0,
            bottom: 70.0,
            max_zoom: 0.0,
        };
        (vp, Vec2::new(1600.0, 900.0))
    }

    #[test]
    fn panels_are_painted_only_where_the_world_reaches_under_them() {
        let (vp, win) = default_window();
        // Fitted: the world is between the panels.
        let fitted = Rect::new(350.0, 66.0, 1180.0, 700.0);
        assert_eq!(vp.covered(fitted, win), [false; 4]);
        // Zoomed in: it reaches under every panel.
        let zoomed = Rect::new(-500.0, -300.0, 2500.0, 1500.0);
        assert_eq!(vp.covered(zoomed, win), [true; 4]);
        // Panned left: only the left panel.
        let panned = Rect::new(100.0, 66.0, 900.0, 700.0);
        assert_eq!(vp.covered(panned, win), [true, false, false, false]);
    }

    #[test]
    fn a_fitted_cluster_leaves_the_panels_unpainted_and_zooming_in_paints_them() {
        let (vp, win) = default_window();
        // A 3-node lesson, a 20-node cluster, a tiny one (magnified).
        for (w, h) in [(842.0, 738.0), (5500.0, 1500.0), (300.0, 200.0)] {
            let b = crate::view::layout::Rect::new(0.0, 0.0, w, h);
            let (_, _, r) = fit_view(&b, &vp, win, 1.0, Vec2::ZERO);
            assert_eq!(vp.covered(r, win), [false; 4], "{w}x{h} fitted: {r:?}");
            let (_, _, r) = fit_view(&b, &vp, win, 3.0, Vec2::ZERO);
            assert!(vp.covered(r, win).contains(&true), "{w}x{h} zoomed: {r:?}");
        }
    }

    #[test]
    fn small_clusters_are_not_magnified_and_big_ones_shrink_to_fit() {
        assert_eq!(
            fit_scale(Vec2::new(500.0, 400.0), Vec2::new(1000.0, 800.0)),
            0.8
        );
        assert_eq!(
            fit_scale(Vec2::new(3000.0, 400.0), Vec2::new(1000.0, 800.0)),
            3.0
        );
    }
}
