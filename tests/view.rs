//! View logic without a window: the scene a lesson produces, its layout,
//! colours and captions, checked at moments a class would look at.
#![cfg(feature = "gui")]

mod common;

use statefulset_sim::headless;
use statefulset_sim::scenario::load_file;
use statefulset_sim::view::theme::{self, PodState};
use statefulset_sim::view::{draw, layout, scene, style};
use std::path::PathBuf;

fn lesson_at(file: &str, secs: u64) -> headless::Run {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    headless::run(
        load_file(&path).expect("lesson loads"),
        None,
        Some(secs * 1000),
    )
}

/// Which node column a laid-out rectangle is in.
fn column_of(l: &layout::Layout, r: &layout::Rect) -> Option<String> {
    l.nodes
        .iter()
        .find(|(_, c)| c.contains(r.x + 1.0, r.y + 1.0))
        .map(|(n, _)| n.clone())
}

#[test]
fn after_a_force_delete_the_same_identity_is_drawn_on_a_new_node_with_its_volume_following() {
    // Lesson 9: mysql-1's node dies at ~T; the pod is force-deleted and its
    // volume force-detached 6 minutes later.
    let mut before = lesson_at("09-ways-out-force-delete.ron", 60);
    let s0 = scene::extract(before.world());
    let l0 = layout::layout(&s0);
    let p0 = s0.pod("mysql-1").expect("mysql-1 exists");
    let old_node = p0.node.clone().expect("scheduled");
    assert_eq!(
        column_of(&l0, &l0.pods[&p0.key]).as_deref(),
        Some(old_node.as_str())
    );

    let mut after = lesson_at("09-ways-out-force-delete.ron", 1100);
    let s1 = scene::extract(after.world());
    let l1 = layout::layout(&s1);
    let p1 = s1.pod("mysql-1").expect("mysql-1 is back");
    // Same identity key (so the card glides), a different node.
    assert_eq!(p1.key, p0.key);
    let new_node = p1.node.clone().expect("scheduled");
    assert_ne!(new_node, old_node);
    assert_eq!(
        column_of(&l1, &l1.pods[&p1.key]).as_deref(),
        Some(new_node.as_str())
    );
    assert_eq!(PodState::of(p1), PodState::Ready);
    assert!(
        style::pod_caption(p1).contains("lag"),
        "a replica shows its lag: {}",
        style::pod_caption(p1)
    );
    // Its volume sits under it, in the new node's column, carrying rows.
    let v = s1
        .volumes
        .iter()
        .find(|v| v.claim == "data-mysql-1")
        .expect("volume");
    assert!(v.rows.unwrap_or(0) > 0);
    assert_eq!(
        column_of(&l1, &l1.volumes[&v.name]).as_deref(),
        Some(new_node.as_str())
    );
    // The dead node is drawn failed and says so.
    let dead = s1.node(&old_node).expect("node");
    assert!(style::node_failed(dead));
    assert!(style::node_truth_line(dead).starts_with("MACHINE DEAD"));
}

#[test]
fn while_the_volume_is_held_by_the_dead_node_it_is_drawn_there_with_a_countdown() {
    // 10 s after the force delete the new pod waits on the Multi-Attach.
    let full = lesson_at("09-ways-out-force-delete.ron", 1100);
    let t_force = common::time_of(
        &full,
        statefulset_sim::sim::event::EventKind::PodForceDeleted,
        "pod/mysql-1",
    )
    .expect("force delete happened");
    let mut r = lesson_at("09-ways-out-force-delete.ron", t_force / 1000 + 60);
    let s = scene::extract(r.world());
    let l = layout::layout(&s);
    let v = s
        .volumes
        .iter()
        .find(|v| v.claim == "data-mysql-1")
        .expect("volume");
    let held_by = v
        .attached
        .first()
        .map(|a| a.0.clone())
        .expect("still attached");
    let why = v.waiting.clone().expect("a reason is shown");
    assert!(why.contains("force-detach in 5m"), "countdown: {why}");
    assert_eq!(
        column_of(&l, &l.volumes[&v.name]).as_deref(),
        Some(held_by.as_str())
    );
    assert_eq!(style::volume_look(v), style::VolumeLook::Error);
    // Held by the dead node: its chip carries the lock sign.
    let marks = draw::marks(&s, &l, &theme::LIGHT);
    assert!(
        marks.iter().any(|m| m.anchor == format!("pv/{}#bg", v.name)
            && m.icon == statefulset_sim::view::icons::Icon::Lock),
        "no lock on {}",
        v.name
    );
    let p = s.pod("mysql-1").expect("pod");
    assert_ne!(p.node.as_deref(), Some(held_by.as_str()));
    assert!(
        style::pod_caption(p).starts_with("Multi-Attach"),
        "{}",
        style::pod_caption(p)
    );
}

#[test]
fn layout_is_stable_when_nothing_changes_and_every_pod_gets_a_place() {
    let mut r = lesson_at("00-sandbox.ron", 120);
    let s = scene::extract(r.world());
    assert_eq!(layout::layout(&s), layout::layout(&s));
    let l = layout::layout(&s);
    for p in &s.pods {
        assert!(l.pods.contains_key(&p.key), "{} has no place", p.name);
    }
    // No two cards overlap.
    let rects: Vec<_> = l.pods.values().collect();
    for (i, a) in rects.iter().enumerate() {
        for b in &rects[i + 1..] {
            let overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
            assert!(!overlap, "cards overlap: {a:?} {b:?}");
        }
    }
}

#[test]
fn every_label_of_every_lesson_is_big_enough_to_draw_in_the_default_window() {
    // The world view hides text smaller than style::MIN_TEXT_PX on screen.
    // In the default 1600x900 window with the panels at their default sizes
    // (left 330, right 400, top ~50, timeline 70, 20-px margins), no lesson
    // may lose a label that way: captions carry the "why".
    let free = bevy::math::Vec2::new(1600.0 - 330.0 - 400.0 - 40.0, 900.0 - 50.0 - 70.0 - 40.0);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    let mut checked = 0;
    for f in files {
        let mut run = headless::run(load_file(&f).expect("lesson loads"), None, Some(0));
        let world = run.world();
        for t in (0..=1500).step_by(10) {
            while !statefulset_sim::sim::advance_to(world, t * 1000) {
                world.resource_mut::<statefulset_sim::sim::PauseRequest>().0 = None;
            }
            let s = scene::extract(world);
            let l = layout::layout(&s);
            let scale = statefulset_sim::view::camera::fit_scale(
                bevy::math::Vec2::new(l.bounds.w, l.bounds.h),
                free,
            );
            for (key, part) in draw::parts(&s, &l, &theme::DARK) {
                if let statefulset_sim::view::draw::Part::Text { size, .. } = part {
                    assert!(
                        style::text_readable(size, scale),
                        "{} at {t}s: {key} ({size} px) would be hidden at {scale:.2} units/px",
                        f.display()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10_000, "only {checked} labels checked");
}

/// A replicated database whose ordinals start at 3: its primary is db-3.
fn database_from_ordinal_3() -> String {
    common::set_scenario(
        r#"replicas: 3, ordinals_start: 3, template: (image: "mysql:8.0"), database: Some(Mysql(write_rate: 5.0))"#,
        "",
    )
    .replace(r#"name: "web""#, r#"name: "db""#)
}

#[test]
fn replication_links_start_at_the_primary_which_is_the_first_ordinal_not_ordinal_0() {
    let mut run = common::run_until(&database_from_ordinal_3(), 120);
    let s = scene::extract(run.world());
    let primary = s.pod("db-3").expect("db-3 exists");
    assert!(
        primary.db.as_ref().is_some_and(|d| d.primary),
        "db-3 runs the primary: {:?}",
        primary.db
    );
    assert!(s.pod("db-0").is_none(), "there is no db-0");
    let replicating: Vec<_> = s
        .links
        .iter()
        .filter(|l| l.kind == scene::LinkKind::Replicating)
        .collect();
    assert_eq!(replicating.len(), 2, "links: {:?}", s.links);
    for l in replicating {
        // Before the fix every link started at "db-0", a pod that does not
        // exist, and none was drawn.
        assert_eq!(l.from, "db-3", "{l:?}");
    }
}

#[test]
fn the_world_view_the_inspector_and_the_snapshot_word_replication_alike() {
    let mut run = common::run_until(&database_from_ordinal_3(), 120);
    let snap = statefulset_sim::sim::snapshot::take(run.world());
    let s = scene::extract(run.world());
    let servers = &snap.databases[0].servers;
    assert_eq!(servers.len(), 3);
    for srv in servers {
        let view = s
            .pod(&srv.pod)
            .and_then(|p| p.db.clone())
            .expect("a server");
        // Before, the view said "replica" and "primary (read-write)" where
        // the snapshot said "replicating" and "primary".
        assert_eq!(view.state, srv.state, "{}", srv.pod);
        assert_eq!(view.lag_rows, srv.lag_rows, "{}", srv.pod);
        let text =
            statefulset_sim::ui::inspector::describe(run.world(), &format!("pod/{}", srv.pod));
        assert!(
            text.contains(&format!("Database:      {} (server-id", srv.state)),
            "{text}"
        );
    }
    assert_eq!(servers[0].state, "primary");
    assert_eq!(servers[1].state, "replicating");
}

#[test]
fn a_database_set_names_its_primary_for_the_client_arrow() {
    let mut run = common::run_until(&database_from_ordinal_3(), 120);
    let s = scene::extract(run.world());
    let set = s.sets.iter().find(|x| x.name == "db").expect("the set");
    // Before, the client arrow looked for "db-0" and was not drawn.
    assert_eq!(set.primary.as_deref(), Some("db-3"));
}

/// The background a text part is drawn on: the fill of the topmost
/// rectangle under it (below the text's own depth), else the window's.
fn background_of(
    parts: &[(String, draw::Part)],
    x: f32,
    y: f32,
    z: f32,
    th: &theme::Theme,
) -> (String, style::Rgb) {
    let mut best: Option<(f32, &str, style::Rgb)> = None;
    for (key, p) in parts {
        if let draw::Part::Rect { rect, fill, z: rz } = p
            && *rz < z
            && rect.contains(x, y)
            && best.is_none_or(|b| *rz > b.0)
        {
            best = Some((*rz, key, *fill));
        }
    }
    match best {
        Some((_, k, f)) => (k.to_string(), f),
        None => ("window".to_string(), th.bg),
    }
}

#[test]
fn every_world_text_meets_its_themes_contrast_on_what_it_is_drawn_over() {
    // WCAG 2 contrast: light (projectors) at least 7:1 (AAA), dark at
    // least 4.5:1 (AA), for every label of several lessons at moments
    // a class looks at: failed nodes, Multi-Attach, split brain, rollouts.
    let lessons = [
        ("08-node-failure.ron", [30, 200, 400, 700]),
        ("09-ways-out-force-delete.ron", [60, 500, 800, 1100]),
        ("11-split-brain.ron", [60, 400, 700, 1000]),
        ("07-mysql.ron", [60, 300, 600, 900]),
        ("04-rolling-update-partition.ron", [20, 60, 120, 300]),
    ];
    let mut checked = 0;
    for th in [&theme::DARK, &theme::LIGHT] {
        let min = match th.kind {
            statefulset_sim::gui::settings::ThemeKind::Light => 7.0,
            statefulset_sim::gui::settings::ThemeKind::Dark => 4.5,
        };
        for (path, times) in lessons {
            for t in times {
                let mut r = lesson_at(path, t);
                let s = scene::extract(r.world());
                let l = layout::layout(&s);
                let parts = draw::parts(&s, &l, th);
                for (key, p) in &parts {
                    if let draw::Part::Text {
                        x, y, colour, z, ..
                    } = p
                    {
                        // Where the glyphs start and a little inside.
                        for (px, py) in [(*x + 2.0, *y + 4.0), (*x + 12.0, *y + 10.0)] {
                            let (under, bg) = background_of(&parts, px, py, *z, th);
                            let c = theme::contrast(*colour, bg);
                            assert!(
                                c >= min,
                                "{:?} theme, {path} at {t}s: {key} on {under}: contrast {c:.2} < {min}",
                                th.kind
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} checked");
}

#[test]
fn the_pending_lane_and_the_volume_shelf_take_room_only_when_they_hold_something() {
    // Lesson 8 at 30 s: every pod runs and every volume is in use.
    let mut r = lesson_at("08-node-failure.ron", 30);
    let s = scene::extract(r.world());
    assert!(s.pods.iter().all(|p| p.node.is_some()));
    let l = layout::layout(&s);
    assert_eq!(l.pending.h, 0.0);
    assert_eq!(l.shelf.h, 0.0);
    let parts = draw::parts(&s, &l, &theme::DARK);
    assert!(!parts.iter().any(|(k, _)| k.starts_with("lane/")));
    // The nodes start near the top and the world ends where they do.
    let top = l.nodes.values().map(|r| r.y).fold(f32::MAX, f32::min);
    let bottom = l.nodes.values().map(|r| r.y + r.h).fold(0.0, f32::max);
    assert!(top < layout::LANE_H, "columns start at {top}");
    assert!(
        l.bounds.h <= bottom + 2.0 * layout::PAD + 1.0,
        "the world ends at {}, the columns at {bottom}",
        l.bounds.h
    );
    // A pod with no node brings the lane back, above the columns.
    let mut s2 = s.clone();
    s2.pods[0].node = None;
    let l2 = layout::layout(&s2);
    assert_eq!(l2.pending.h, layout::LANE_H);
    let top2 = l2.nodes.values().map(|r| r.y).fold(f32::MAX, f32::min);
    assert!(
        top2 >= layout::LANE_H,
        "columns start at {top2}, under the lane"
    );
    assert!(
        draw::parts(&s2, &l2, &theme::DARK)
            .iter()
            .any(|(k, _)| k == "lane/pending")
    );
}
