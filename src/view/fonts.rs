//! The fonts the window draws with, compiled into the binary from
//! `assets/fonts/` (DejaVu Sans and DejaVu Sans Mono, licence in
//! `assets/fonts/LICENSE-DejaVu.txt`), so the program draws the same from
//! any directory and after `cargo install`. Bevy's built-in font is a Latin
//! subset without arrows, "≥", check marks or box drawing.

use bevy::prelude::*;

/// DejaVu Sans: the world's text and the panels' proportional text.
pub const SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// DejaVu Sans Mono: the panels' monospace text (event log, inspector).
pub const MONO: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");

/// The world view's font, as a Bevy asset.
#[derive(Resource, Debug, Clone)]
pub struct WorldFont(pub Handle<Font>);

/// Adds the embedded sans font to Bevy's fonts (after `DefaultPlugins`).
pub fn plugin(app: &mut App) {
    let handle = app
        .world_mut()
        .resource_mut::<Assets<Font>>()
        .add(Font::from_bytes(SANS.to_vec()));
    app.insert_resource(WorldFont(handle));
}
