//! Saving a branch as a scenario: the original scenario's text with the
//! user's actions inserted as `at:` steps, each after a comment saying what
//! was done, so that playing the file replays the branch. Written
//! atomically (a temporary file, then a rename).

use super::load::{self, Loaded};
use super::tape::{Entry, Input};
use crate::sim::units;
use std::path::{Path, PathBuf};

/// `1234` ms as RON seconds, exactly: "1.234".
fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The text of a scenario file this scenario came from: the built-in
/// lesson's, or the file's as it is now (None if it changed since it was
/// loaded or cannot be read).
pub fn source_text(loaded: &Loaded) -> Option<String> {
    let text = if loaded.file == super::BUILT_IN_FILE {
        include_str!("../../scenarios/00-sandbox.ron").to_string()
    } else {
        std::fs::read_to_string(&loaded.file).ok()?
    };
    let again = load::load_str(&loaded.file, text.as_bytes()).ok()?;
    (again.scenario == loaded.scenario).then_some(text)
}

/// The byte range of the value of `key` at nesting `depth` within
/// `text[from..to]` (depth 1: the fields of the outermost tuple there),
/// skipping strings and comments. The value is a number or a string.
fn value_of(text: &str, from: usize, to: usize, key: &str, depth: i32) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut d = 0i32;
    let mut i = from;
    while i < to {
        match b[i] {
            b'"' => i = skip_string(b, i),
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < to && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => d += 1,
            b')' | b']' | b'}' => d -= 1,
            c if d == depth && c.is_ascii_alphabetic() => {
                let start = i;
                while i < to && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &text[start..i];
                let mut j = i;
                while j < to && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if word == key && b.get(j) == Some(&b':') {
                    j += 1;
                    while j < to && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    let end = if b.get(j) == Some(&b'"') {
                        skip_string(b, j) + 1
                    } else {
                        let mut e = j;
                        while e < to && (b[e].is_ascii_alphanumeric() || b"._-+".contains(&b[e])) {
                            e += 1;
                        }
                        e
                    };
                    return Some((j, end));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the closing quote of the string opening at `i`.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    b.len()
}

/// A text edit: replace `range` with `with` (applied from the end back).
type Edit = ((usize, usize), String);

/// Where to insert lines before the step starting at byte `at`: the start
/// of its line when it begins the line (with its indentation), else just
/// before it on a new line.
fn line_start(text: &str, at: usize) -> (usize, String, &'static str) {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[start..at];
    if before.trim().is_empty() {
        (start, before.to_string(), "")
    } else {
        (at, String::new(), "\n")
    }
}

/// The first `(` outside comments: the scenario's own.
fn first_open(text: &str) -> Option<usize> {
    let mut in_comment = false;
    for (i, c) in text.char_indices() {
        match c {
            '\n' => in_comment = false,
            '/' if !in_comment && text[i..].starts_with("//") => in_comment = true,
            '(' if !in_comment => return Some(i),
            _ => {}
        }
    }
    None
}

/// Text for a `//` comment: a line break (or any control character) in
/// it, from a kubectl line or a branch name, would end the comment and
/// leave the rest as bad RON, so each becomes a space.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The inserted steps for the actions at one place, as lines.
fn inserted(entries: &[&Entry], branch: &str, indent: &str) -> String {
    let mut out = String::new();
    for e in entries {
        let Input::Command(cmd) = &e.input else {
            continue;
        };
        out.push_str(&format!(
            "{indent}// What if: {} (branch \"{}\")\n{indent}(at: {}, do: {}),\n",
            one_line(&e.describe()),
            one_line(branch),
            secs(e.t_ms),
            cmd.to_ron()
        ));
    }
    out
}

/// The saved scenario's text: `original` (the text `loaded` was read from)
/// with the branch's actions inserted where the player stood when each was
/// taken, its name saying which branch it is, and its seed the run's.
///
/// An inserted step re-arms the step after it (an `after:` or a `timeout:`
/// counts from when the previous step fired), so that step's `after:` and
/// `timeout:` are shortened by as much as the insertion delays its arming:
/// it then fires exactly when it did in the branch.
pub fn branch_text(
    original: &str,
    loaded: &Loaded,
    tape: &[Entry],
    branch: &str,
    seed: Option<u64>,
) -> Result<String, String> {
    let items = load::list_items(original, &["steps"]);
    let n = loaded.scenario.steps.len();
    if items.len() != n || n == 0 {
        return Err(format!(
            "cannot find the steps of {} in its text (found {} of {n})",
            loaded.file,
            items.len()
        ));
    }
    let actions: Vec<&Entry> = tape
        .iter()
        .filter(|e| matches!(e.input, Input::Command(_)))
        .collect();
    let mut edits: Vec<Edit> = Vec::new();
    let mut at = 0;
    while at < actions.len() {
        let cursor = actions[at].cursor.min(n);
        let group: Vec<&Entry> = actions[at..]
            .iter()
            .take_while(|e| e.cursor.min(n) == cursor)
            .copied()
            .collect();
        at += group.len();
        if cursor < n {
            let (start, indent, lead) = line_start(original, items[cursor].0);
            let lines = inserted(&group, branch, &indent);
            edits.push(((start, start), format!("{lead}{lines}")));
            let last = group.last().map_or(0, |e| e.t_ms);
            let delay = last.saturating_sub(group[0].armed_ms);
            edits.extend(rearm(
                original,
                items[cursor],
                &loaded.scenario.steps[cursor],
                delay,
            ));
        } else {
            let (_, indent, _) = line_start(original, items[n - 1].0);
            edits.push(after_last(
                original,
                items[n - 1].1,
                inserted(&group, branch, &indent),
            ));
        }
    }
    let top = (0, original.len());
    if let Some(r) = value_of(original, top.0, top.1, "name", 1) {
        let name = format!("{} (what if: {branch})", loaded.scenario.name);
        edits.push((r, format!("{name:?}")));
    }
    if let Some(s) = seed.filter(|s| *s != loaded.scenario.seed) {
        match value_of(original, top.0, top.1, "seed", 1) {
            Some(r) => edits.push((r, s.to_string())),
            None => {
                let open = first_open(original).ok_or("no scenario tuple")?;
                edits.push(((open + 1, open + 1), format!("\n    seed: {s},")));
            }
        }
    }
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(*r));
    let mut text = original.to_string();
    for ((s, e), with) in edits {
        text.replace_range(s..e, &with);
    }
    Ok(text)
}

/// The edit that appends `lines` (each ending ",\n") after the last step,
/// which ends at `end` (its comma, or the list's closing bracket).
fn after_last(text: &str, end: usize, lines: String) -> Edit {
    let b = text.as_bytes();
    if b.get(end) != Some(&b',') {
        return ((end, end), format!(",\n{lines}"));
    }
    let eol = text[end..].find('\n').map_or(text.len(), |i| end + i);
    if text[end..eol].contains(']') {
        ((end + 1, end + 1), format!("\n{lines}"))
    } else {
        let p = (eol + 1).min(text.len());
        ((p, p), lines)
    }
}

/// The edits that keep step `item` firing when it did although it is armed
/// `delay_ms` later.
fn rearm(text: &str, item: (usize, usize), step: &super::Step, delay_ms: u64) -> Vec<Edit> {
    let mut edits = Vec::new();
    if delay_ms == 0 {
        return edits;
    }
    let fields = [("after", step.after), ("timeout", step.timeout)];
    for (key, value) in fields {
        if let (Some(v), Some(r)) = (value, value_of(text, item.0, item.1 + 1, key, 1)) {
            let ms = units::secs_to_ms(v).saturating_sub(delay_ms);
            edits.push((r, secs(ms)));
        }
    }
    edits
}

/// Where a file the program writes for a user goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A regular file, or none yet: written beside it and renamed over it
    /// when complete. A symbolic link is followed, so the link stays and
    /// the file it points to is replaced.
    Replace(PathBuf),
    /// Not a regular file (`/dev/null`, a FIFO, a terminal): written
    /// straight to it. A rename would put a regular file in its place, and
    /// there is nothing of the user's there to keep whole.
    Stream(PathBuf),
}

impl Destination {
    /// Where writing to `path` goes.
    pub fn of(path: &Path) -> Destination {
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() && !m.is_dir() => Destination::Stream(path.to_path_buf()),
            Ok(m) if m.is_file() => Destination::Replace(
                std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            ),
            // None yet, or a folder (the rename then fails with a clear error).
            _ => Destination::Replace(path.to_path_buf()),
        }
    }

    /// The path written while the file is being made: the file itself when
    /// streamed, else `partial(file)`.
    pub fn staging(&self, partial: impl FnOnce(&Path) -> PathBuf) -> PathBuf {
        match self {
            Destination::Replace(f) => partial(f),
            Destination::Stream(p) => p.clone(),
        }
    }

    /// Puts the staged file in place (a rename; nothing when streamed).
    pub fn commit(&self, staged: &Path) -> std::io::Result<()> {
        match self {
            Destination::Replace(f) => std::fs::rename(staged, f),
            Destination::Stream(_) => Ok(()),
        }
    }
}

/// `OUT` → `OUT.partial`, beside it (so the rename stays on one file
/// system and is atomic): how a file that streams as it is made (an event
/// log, a recording) is named until it is complete.
pub fn partial(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// A temporary path beside `path`, unique in this process, keeping the
/// extension (an image encoder picks its format from it):
/// `dir/.name.tmp-PID-N.ext`.
fn temp_beside(path: &Path) -> Result<std::path::PathBuf, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} is not a file name", path.display()))?
        .to_string_lossy();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let ext = path
        .extension()
        .map_or(String::new(), |e| format!(".{}", e.to_string_lossy()));
    Ok(dir.join(format!(".{name}.tmp-{}-{n}{ext}", std::process::id())))
}

/// Replaces the file at `path` with what `write` writes to the temporary
/// path it is given: the temporary file is flushed to disk, then renamed
/// over `path`. A crash or a full disk while writing leaves the old file
/// whole (and no temporary file, when `write` fails); never half a file.
/// Every file the program saves for a user goes through here.
pub fn replace_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    let file = match Destination::of(path) {
        Destination::Replace(file) => file,
        Destination::Stream(p) => {
            return write(&p).map_err(|e| format!("cannot write {}: {e}", path.display()));
        }
    };
    let tmp = temp_beside(&file)?;
    let io = |e: std::io::Error| e.to_string();
    let result = write(&tmp)
        .and_then(|()| {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io)
        })
        .and_then(|()| std::fs::rename(&tmp, &file).map_err(io));
    match result {
        Ok(()) => {
            // The rename itself is durable once the directory is synced;
            // where a directory cannot be opened (not on Unix) it is not.
            if let Some(dir) = file.parent().filter(|p| !p.as_os_str().is_empty())
                && let Ok(d) = std::fs::File::open(dir)
            {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(format!("cannot write {}: {e}", path.display()))
        }
    }
}

/// Writes `bytes` to `path` atomically (see [`replace_atomically`]).
pub fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), String> {
    replace_atomically(path, |tmp| {
        std::fs::write(tmp, bytes.as_ref()).map_err(|e| e.to_string())
    })
}

/// Saves a branch of a run of `loaded` as a scenario file at `path`, and
/// checks that the file loads.
pub fn save_branch(
    path: &Path,
    loaded: &Loaded,
    tape: &[Entry],
    branch: &str,
    seed: Option<u64>,
) -> Result<(), String> {
    let original = source_text(loaded).ok_or_else(|| {
        format!(
            "cannot read {} as it was loaded (it changed or was moved)",
            loaded.file
        )
    })?;
    let text = branch_text(&original, loaded, tape, branch, seed)?;
    load::load_str(&path.display().to_string(), text.as_bytes())
        .map_err(|d| format!("the saved scenario would not load: {d}"))?;
    write_atomic(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimCommand;

    const TEXT: &str = r#"(
    name: "t",
    seed: 3,
    cluster: (nodes: [(name: "node-a", zone: "z")]),
    workloads: [StatefulSet((name: "web", replicas: 2, template: (image: "nginx:1")))],
    steps: [
        (at: 10.0, note: "first"), // a comment
        (after: 30.0, note: "second, after: 1.0 in words"),
    ],
)"#;

    fn entry(t_ms: u64, cursor: usize, armed_ms: u64) -> Entry {
        Entry {
            t_ms,
            input: Input::Command(SimCommand::DeletePod {
                pod: "web-1".into(),
            }),
            cursor,
            armed_ms,
        }
    }

    #[test]
    fn an_action_is_inserted_where_the_player_stood_and_the_next_step_keeps_its_instant() {
        let loaded = load::load_str("t.ron", TEXT.as_bytes()).expect("loads");
        // Taken at 25 s: step 1 fired at 10 s, step 2 is due at 40 s.
        let text =
            branch_text(TEXT, &loaded, &[entry(25_000, 1, 10_000)], "b", None).expect("saves");
        let again = load::load_str("u.ron", text.as_bytes()).expect("the saved text loads");
        let steps = &again.scenario.steps;
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[1].at, Some(25.0));
        assert!(matches!(
            steps[1].command,
            Some(SimCommand::DeletePod { .. })
        ));
        // Armed at 25 s instead of 10 s: after 15 s, still due at 40 s.
        assert_eq!(steps[2].after, Some(15.0));
        assert_eq!(
            steps[2].note.as_deref(),
            Some("second, after: 1.0 in words")
        );
        assert!(text.contains("// What if: Delete pod web-1 at"));
        assert!(text.contains("// a comment"));
        assert_eq!(again.scenario.name, "t (what if: b)");
    }

    /// Found by the `branch` fuzz target: a kubectl line holding a line
    /// break ended the "What if" comment, and the saved file did not load.
    #[test]
    fn a_saved_branch_whose_action_or_name_spans_lines_still_loads() {
        let loaded = load::load_str("t.ron", TEXT.as_bytes()).expect("loads");
        let line = "patch statefulset web -p '{\"spec\":\r\n{\"replicas\":2}}'";
        let e = Entry {
            t_ms: 25_000,
            input: Input::Command(SimCommand::Kubectl(line.into())),
            cursor: 1,
            armed_ms: 10_000,
        };
        let text = branch_text(TEXT, &loaded, &[e], "two\nlines", None).expect("saves");
        let again = load::load_str("u.ron", text.as_bytes())
            .unwrap_or_else(|d| panic!("the saved text loads: {d}\n{text}"));
        // The step keeps the line exactly; only the comment is flattened.
        assert!(matches!(
            &again.scenario.steps[1].command,
            Some(SimCommand::Kubectl(l)) if l == line
        ));
        assert!(text.contains("(branch \"two lines\")"));
    }

    #[test]
    fn an_action_after_the_last_step_goes_at_the_end() {
        let loaded = load::load_str("t.ron", TEXT.as_bytes()).expect("loads");
        let text =
            branch_text(TEXT, &loaded, &[entry(90_000, 2, 40_000)], "b", Some(9)).expect("saves");
        let again = load::load_str("u.ron", text.as_bytes()).expect("the saved text loads");
        assert_eq!(again.scenario.steps.len(), 3);
        assert_eq!(again.scenario.steps[2].at, Some(90.0));
        assert_eq!(again.scenario.seed, 9);
    }

    #[test]
    fn a_save_that_fails_midway_leaves_the_old_file_whole() {
        let dir = std::env::temp_dir().join(format!("ss-save-mid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("b.ron");
        write_atomic(&path, "the user's branch").expect("writes");
        // Half the new text is written, then the disk fills up (or the
        // program dies: the rename never happens either way).
        let failed = replace_atomically(&path, |tmp| {
            std::fs::write(tmp, "(name: \"half").map_err(|e| e.to_string())?;
            Err("No space left on device".into())
        });
        let e = failed.expect_err("the failure is reported");
        assert!(e.contains("b.ron") && e.contains("No space left"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&path).expect("reads"),
            "the user's branch"
        );
        let left: Vec<_> = std::fs::read_dir(&dir).expect("lists").collect();
        assert_eq!(left.len(), 1, "the half-written temporary file is removed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_is_written_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("ss-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("b.ron");
        write_atomic(&path, "one").expect("writes");
        write_atomic(&path, "two").expect("overwrites");
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "two");
        let left: Vec<_> = std::fs::read_dir(&dir).expect("lists").collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
        assert!(write_atomic(&dir.join("no/such/dir/x.ron"), "x").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
    #[test]
    fn saving_through_a_symbolic_link_replaces_the_file_it_points_to_and_keeps_the_link() {
        let dir = std::env::temp_dir().join(format!("ss-save-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let real = dir.join("real.ron");
        let link = dir.join("link.ron");
        write_atomic(&real, "one").expect("writes");
        std::os::unix::fs::symlink(&real, &link).expect("links");
        write_atomic(&link, "two").expect("writes through the link");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("the link is there")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).expect("reads"), "two");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_device_is_written_to_and_a_regular_file_or_new_path_replaced() {
        assert_eq!(
            Destination::of(Path::new("/dev/null")),
            Destination::Stream("/dev/null".into())
        );
        let dir = std::env::temp_dir().join(format!("ss-save-dest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let new = dir.join("new.ron");
        assert_eq!(Destination::of(&new), Destination::Replace(new.clone()));
        write_atomic(&new, "x").expect("writes");
        let canonical = std::fs::canonicalize(&new).expect("exists");
        assert_eq!(Destination::of(&new), Destination::Replace(canonical));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn saving_to_a_fifo_writes_into_it_and_leaves_it_a_fifo() {
        use std::os::unix::fs::FileTypeExt;
        let dir = std::env::temp_dir().join(format!("ss-save-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let fifo = dir.join("out.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("SKIPPED: no mkfifo here");
            return;
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).expect("reads"))
        };
        write_atomic(&fifo, "through the pipe").expect("writes");
        // Before the join: a replaced FIFO would leave the reader waiting.
        let kind = std::fs::symlink_metadata(&fifo).expect("there").file_type();
        assert!(kind.is_fifo(), "replaced by {kind:?}");
        assert_eq!(reader.join().expect("reader ends"), "through the pipe");
        assert_eq!(std::fs::read_dir(&dir).expect("lists").count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
