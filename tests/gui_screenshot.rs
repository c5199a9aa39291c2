//! The GUI really draws: run two lessons under Xvfb with `--screenshot`,
//! check each PNG is the window's size and not blank. Needs `Xvfb` and
//! Mesa's software Vulkan driver (Debian: xvfb, mesa-vulkan-drivers), which
//! `.ci/run` installs; a test never installs packages itself. Without them
//! the test prints a SKIPPED banner and passes.
#![cfg(feature = "gui")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Mesa's lavapipe registers an ICD file per architecture
/// (`lvp_icd.x86_64.json`, `lvp_icd.aarch64.json`, ...).
fn have_lavapipe() -> bool {
    std::fs::read_dir("/usr/share/vulkan/icd.d").is_ok_and(|dir| {
        dir.filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("lvp_icd"))
    })
}

/// What this machine lacks to run the test, as Debian package names.
fn missing_packages() -> Vec<&'static str> {
    let mut need = Vec::new();
    if !have("Xvfb") {
        need.push("xvfb");
    }
    if !have_lavapipe() {
        need.push("mesa-vulkan-drivers");
    }
    need
}

fn skip(why: &str) {
    eprintln!(
        "\n\n**********\nSKIPPED gui_renders_two_lessons_to_window_sized_non_blank_screenshots: {why}\n(.ci/run installs what it needs; or: apt-get install xvfb mesa-vulkan-drivers)\n**********\n"
    );
}

struct Xvfb(Child, u32);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An X server on the first free display of `displays` (each test its
/// own range: tests run in parallel).
fn start_x(displays: std::ops::Range<u32>) -> Option<Xvfb> {
    for n in displays {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let child = Command::new("Xvfb")
            .args([
                format!(":{n}"),
                "-screen".into(),
                "0".into(),
                "1600x900x24".into(),
                "-nolisten".into(),
                "tcp".into(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let x = Xvfb(child, n);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return Some(x);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        return None;
    }
    None
}

/// (width, height, distinct colours among sampled pixels).
fn inspect_png(path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("png exists"),
    ));
    let mut reader = decoder.read_info().expect("a valid png");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let bpp = info.color_type.samples();
    let mut colours = std::collections::BTreeSet::new();
    let px = (info.width * info.height) as usize;
    for i in (0..px).step_by(97) {
        let o = i * bpp;
        colours.insert((buf[o], buf[o + 1], buf[o + 2]));
    }
    (info.width, info.height, colours.len())
}

fn screenshot(display: u32, lesson: &str, at: u32, out: &Path) -> Result<(), String> {
    run_window(
        display,
        &[
            lesson,
            "--screenshot",
            &out.display().to_string(),
            "--at",
            &at.to_string(),
        ],
    )
}

/// Runs the GUI with `args` on the display until it exits by itself.
fn run_window(display: u32, args: &[&str]) -> Result<(), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_statefulset-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DISPLAY", format!(":{display}"))
        .env_remove("WAYLAND_DISPLAY")
        // No user's remembered theme: the defaults.
        .env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("sts-no-config"),
        )
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            if status.success() {
                return Ok(());
            }
            let mut err = String::new();
            use std::io::Read;
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            return Err(format!(
                "exit {status}: {}",
                err.lines().rev().take(15).collect::<Vec<_>>().join("\n")
            ));
        }
        if t.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            return Err("timed out after 240 s".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn gui_renders_two_lessons_to_window_sized_non_blank_screenshots() {
    let need = missing_packages();
    if !need.is_empty() {
        return skip(&format!("missing {}", need.join(", ")));
    }
    let Some(x) = start_x(150..175) else {
        return skip("Xvfb is installed but no X server could be started");
    };
    let dir = std::env::temp_dir().join(format!("sts-gui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (lesson, at) in [
        ("scenarios/01-identity-vs-deployment.ron", 40),
        ("scenarios/09-ways-out-force-delete.ron", 600),
    ] {
        let out: PathBuf = dir.join(format!("{}.png", at));
        if let Err(e) = screenshot(x.1, lesson, at, &out) {
            panic!("{lesson}: the GUI did not produce a screenshot: {e}");
        }
        let (w, h, colours) = inspect_png(&out);
        assert_eq!(
            (w, h),
            (1600, 900),
            "{lesson}: screenshot is not the window size"
        );
        assert!(
            colours > 20,
            "{lesson}: screenshot looks blank ({colours} colours)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn slides_of_a_lesson_with_two_questions_are_four_window_sized_pngs_and_an_index() {
    let need = missing_packages();
    if !need.is_empty() {
        return skip(&format!("missing {}", need.join(", ")));
    }
    let Some(x) = start_x(175..200) else {
        return skip("Xvfb is installed but no X server could be started");
    };
    let dir = std::env::temp_dir().join(format!("sts-slides-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Lesson 8 asks two questions.
    let lesson = "scenarios/08-node-failure.ron";
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(lesson))
        .expect("lesson 8");
    assert_eq!(text.matches("pause:").count(), 2, "lesson 8 changed");
    if let Err(e) = run_window(x.1, &[lesson, "--slides", &dir.display().to_string()]) {
        panic!("--slides failed: {e}");
    }
    let files = [
        "01-question.png",
        "02-answer.png",
        "03-question.png",
        "04-answer.png",
    ];
    let mut pngs: Vec<String> = std::fs::read_dir(&dir)
        .expect("the deck's folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".png"))
        .collect();
    pngs.sort();
    assert_eq!(pngs, files);
    for f in files {
        let (w, h, colours) = inspect_png(&dir.join(f));
        assert_eq!((w, h), (1600, 900), "{f} is not the window's size");
        assert!(colours > 20, "{f} looks blank");
    }
    let index = std::fs::read_to_string(dir.join("index.md")).expect("index.md");
    assert!(index.starts_with("# 8. Node failure"), "{index}");
    let at: Vec<usize> = files
        .iter()
        .map(|f| {
            index
                .find(&format!("({f})"))
                .unwrap_or_else(|| panic!("{f} not in the index"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "slides out of order");
    assert!(index.contains("Predict: web-1's machine is about to die."));
    let _ = std::fs::remove_dir_all(&dir);
}

/// (width, height, delays in hundredths of a second) of an animated GIF.
fn inspect_gif(path: &Path) -> (u16, u16, Vec<u16>) {
    let mut d = gif::DecodeOptions::new()
        .read_info(std::fs::File::open(path).expect("the gif exists"))
        .expect("a valid gif");
    let (w, h) = (d.width(), d.height());
    let mut delays = Vec::new();
    while let Some(f) = d.read_next_frame().expect("a valid frame") {
        delays.push(f.delay);
    }
    (w, h, delays)
}

#[test]
fn record_writes_a_window_sized_gif_with_one_frame_per_step_of_the_clock() {
    let need = missing_packages();
    if !need.is_empty() {
        return skip(&format!("missing {}", need.join(", ")));
    }
    let Some(x) = start_x(200..225) else {
        return skip("Xvfb is installed but no X server could be started");
    };
    let dir = std::env::temp_dir().join(format!("sts-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("lesson1.gif");
    // 2× at 10 frames a second: 0.2 simulated s a frame; 0..=2 s is 11
    // frames (lesson 1 asks its first question later).
    let args = [
        "scenarios/01-identity-vs-deployment.ron",
        "--record",
        &out.display().to_string(),
        "--from",
        "0",
        "--to",
        "2",
        "--speed",
        "2",
    ];
    if let Err(e) = run_window(x.1, &args) {
        panic!("--record failed: {e}");
    }
    let (w, h, delays) = inspect_gif(&out);
    assert_eq!(
        (w, h),
        (1600, 900),
        "the animation is not the window's size"
    );
    assert_eq!(
        delays,
        vec![10; 11],
        "not 11 frames at a steady 10 per second"
    );
    assert!(!dir.join("lesson1.gif.partial").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_recording_stopped_before_its_end_keeps_the_frames_made() {
    let need = missing_packages();
    if !need.is_empty() {
        return skip(&format!("missing {}", need.join(", ")));
    }
    let Some(x) = start_x(225..250) else {
        return skip("Xvfb is installed but no X server could be started");
    };
    let dir = std::env::temp_dir().join(format!("sts-record-stop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("cut.gif");
    let partial = dir.join("cut.gif.partial");
    // No --to: it would record lesson 8 to its end. The user stops it
    // (Ctrl+C, which ends the app as closing the window does).
    let mut child = Command::new(env!("CARGO_BIN_EXE_statefulset-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DISPLAY", format!(":{}", x.1))
        .env_remove("WAYLAND_DISPLAY")
        .env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("sts-no-config"),
        )
        .args([
            "scenarios/08-node-failure.ron",
            "--record",
            &out.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the GUI starts");
    let t = Instant::now();
    // Wait for frames to be written (the file grows as it records), and
    // a few seconds more.
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "no frame written in 180 s"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the GUI exited early"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(8));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let t = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the GUI did not stop within 60 s of Ctrl+C");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!partial.exists(), "the unfinished file was left behind");
    let (w, h, delays) = inspect_gif(&out);
    assert_eq!((w, h), (1600, 900));
    assert!(delays.len() >= 2, "only {} frames kept", delays.len());
    let _ = std::fs::remove_dir_all(&dir);
}
