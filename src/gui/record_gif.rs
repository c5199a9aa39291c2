//! The GIF file of `--record`: frames of the window (RGBA) written one by
//! one as they come, each as the rectangle that changed since the previous
//! frame with its own palette (`quantize`), into `OUT.gif.partial`, renamed to `OUT.gif` when finished. A
//! writer dropped without `finish` (a window closed, a panic unwinding)
//! still finishes, so what was recorded is kept.

use crate::scenario::save::{Destination, partial};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// NeuQuant's sampling: 1 is slowest and best, 30 fastest; 10 is the gif
/// crate's advice.
const QUANTIZE_SPEED: i32 = 10;
/// At most this many of a frame's most used colours are kept exactly...
const EXACT_MAX: usize = 200;
/// ...each covering at least this fraction (1/N) of the frame.
const EXACT_MIN_SHARE: usize = 2000;

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub frames: usize,
    /// How long the animation plays (hundredths of a second).
    pub duration_cs: u64,
    pub width: u16,
    pub height: u16,
    pub bytes: u64,
}

/// An animated GIF being written.
pub struct GifWriter {
    out: PathBuf,
    /// The file's place: a regular file is replaced when the recording is
    /// finished; `/dev/null` or a FIFO is written to.
    dest: Destination,
    tmp: PathBuf,
    enc: Option<gif::Encoder<BufWriter<File>>>,
    /// The picture as the frames so far have painted it (RGBA).
    canvas: Vec<u8>,
    width: u16,
    height: u16,
    frames: usize,
    duration_cs: u64,
    done: bool,
}

/// The smallest rectangle (x, y, w, h) holding every pixel that differs
/// between two RGBA pictures of `w`×`h`, or None when they are the same.
pub fn changed_rect(
    a: &[u8],
    b: &[u8],
    w: usize,
    h: usize,
) -> Option<(usize, usize, usize, usize)> {
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for y in 0..h {
        let row = y * w * 4..(y + 1) * w * 4;
        let (ra, rb) = (&a[row.clone()], &b[row]);
        if ra == rb {
            continue;
        }
        let first = (0..w).find(|&x| ra[x * 4..x * 4 + 4] != rb[x * 4..x * 4 + 4]);
        let last = (0..w)
            .rev()
            .find(|&x| ra[x * 4..x * 4 + 4] != rb[x * 4..x * 4 + 4]);
        if let (Some(f), Some(l)) = (first, last) {
            x0 = x0.min(f);
            x1 = x1.max(l);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        return None;
    }
    Some((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// A frame's colours reduced to at most 256: (palette as RGB triples, one
/// index per pixel). A window is flat areas (backgrounds, fills, the pod
/// states' colours) and the anti-aliased edges between them: the colours
/// used most are kept exactly, so a pod's colour in the animation is the
/// one on screen; NeuQuant (the gif crate's own reducer) learns the rest.
pub fn quantize(rgb: &[[u8; 3]]) -> (Vec<u8>, Vec<u8>) {
    use std::collections::HashMap;
    let mut hist: HashMap<[u8; 3], u32> = HashMap::new();
    for p in rgb {
        *hist.entry(*p).or_insert(0) += 1;
    }
    // Most used first; ties by colour, so the result never depends on the
    // map's order.
    let mut counts: Vec<([u8; 3], u32)> = hist.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut palette: Vec<[u8; 3]> = if counts.len() <= 256 {
        counts.iter().map(|c| c.0).collect()
    } else {
        let min = (rgb.len() / EXACT_MIN_SHARE).max(2) as u32;
        counts
            .iter()
            .take(EXACT_MAX)
            .take_while(|c| c.1 >= min)
            .map(|c| c.0)
            .collect()
    };
    if counts.len() > 256 {
        // Each remaining colour a few times at most: a large anti-aliased
        // text does not crowd out a small gradient.
        let rest: Vec<u8> = counts[palette.len()..]
            .iter()
            .flat_map(|(c, n)| std::iter::repeat_n([c[0], c[1], c[2], 255], (*n).min(4) as usize))
            .flatten()
            .collect();
        let nq = color_quant::NeuQuant::new(QUANTIZE_SPEED, 256 - palette.len(), &rest);
        palette.extend(
            nq.color_map_rgb()
                .chunks_exact(3)
                .map(|c| [c[0], c[1], c[2]]),
        );
    }
    // Each colour to its nearest in the palette (itself when kept),
    // weighted as the eye weighs red, green and blue.
    let mut index: HashMap<[u8; 3], u8> = HashMap::with_capacity(counts.len());
    for (c, _) in &counts {
        let d = |p: &[u8; 3]| {
            let e = |i: usize| (p[i] as i32 - c[i] as i32).pow(2);
            2 * e(0) + 4 * e(1) + 3 * e(2)
        };
        let best = (0..palette.len())
            .min_by_key(|&i| d(&palette[i]))
            .unwrap_or(0);
        // At most 256 entries: the index fits in a byte.
        index.insert(*c, best as u8);
    }
    let indices = rgb
        .iter()
        .map(|p| index.get(p).copied().unwrap_or(0))
        .collect();
    (palette.into_iter().flatten().collect(), indices)
}

impl GifWriter {
    /// Starts a recording to `out` (nothing is written before the first
    /// frame, whose size becomes the animation's).
    pub fn new(out: &Path) -> Self {
        let dest = Destination::of(out);
        GifWriter {
            out: out.to_path_buf(),
            tmp: dest.staging(partial),
            dest,
            enc: None,
            canvas: Vec::new(),
            width: 0,
            height: 0,
            frames: 0,
            duration_cs: 0,
            done: false,
        }
    }

    pub fn frames(&self) -> usize {
        self.frames
    }

    fn start(&mut self, width: u16, height: u16) -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", self.tmp.display());
        let file = File::create(&self.tmp).map_err(|e| fail(&e))?;
        let mut enc =
            gif::Encoder::new(BufWriter::with_capacity(1 << 16, file), width, height, &[])
                .map_err(|e| fail(&e))?;
        enc.set_repeat(gif::Repeat::Infinite)
            .map_err(|e| fail(&e))?;
        self.enc = Some(enc);
        self.width = width;
        self.height = height;
        self.canvas = vec![0; width as usize * height as usize * 4];
        Ok(())
    }

    /// Adds a frame shown for `delay_cs` hundredths of a second. A frame
    /// of another size than the first (the window was resized) is cut or
    /// completed with the previous picture to the animation's size.
    pub fn push(&mut self, rgba: &[u8], w: u32, h: u32, delay_cs: u16) -> Result<(), String> {
        if rgba.len() != w as usize * h as usize * 4 {
            return Err(format!(
                "a frame of {w}×{h} pixels has {} bytes",
                rgba.len()
            ));
        }
        if self.enc.is_none() {
            let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
                return Err(format!("a window of {w}×{h} is larger than a GIF can be"));
            };
            self.start(w16, h16)?;
        }
        let (cw, ch) = (self.width as usize, self.height as usize);
        let mut next = self.canvas.clone();
        for y in 0..ch.min(h as usize) {
            let n = cw.min(w as usize) * 4;
            let src = y * w as usize * 4;
            next[y * cw * 4..y * cw * 4 + n].copy_from_slice(&rgba[src..src + n]);
        }
        // The first frame paints everything; a frame that changes nothing
        // is one pixel, so the animation keeps its steady rate.
        let (x, y, rw, rh) = if self.frames == 0 {
            (0, 0, cw, ch)
        } else {
            changed_rect(&self.canvas, &next, cw, ch).unwrap_or((0, 0, 1, 1))
        };
        let mut sub = Vec::with_capacity(rw * rh);
        for row in y..y + rh {
            let line = &next[(row * cw + x) * 4..(row * cw + x + rw) * 4];
            sub.extend(line.chunks_exact(4).map(|p| [p[0], p[1], p[2]]));
        }
        let (palette, indices) = quantize(&sub);
        // Both fit in u16: the rectangle lies inside the canvas.
        let mut frame =
            gif::Frame::from_palette_pixels(rw as u16, rh as u16, indices, palette, None);
        frame.left = x as u16;
        frame.top = y as u16;
        frame.delay = delay_cs;
        frame.dispose = gif::DisposalMethod::Keep;
        let tmp = self.tmp.display().to_string();
        let enc = self.enc.as_mut().ok_or("the recording has ended")?;
        enc.write_frame(&frame)
            .map_err(|e| format!("cannot write {tmp}: {e}"))?;
        self.canvas = next;
        self.frames += 1;
        self.duration_cs += delay_cs as u64;
        Ok(())
    }

    /// Ends the animation and puts it in place. With no frame, nothing is
    /// left behind and the answer says so.
    pub fn finish(&mut self) -> Result<Written, String> {
        if self.done {
            return Err("the recording was already finished".into());
        }
        self.done = true;
        let Some(enc) = self.enc.take() else {
            return Err("no frame was recorded".into());
        };
        let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", self.tmp.display());
        let mut w = enc.into_inner().map_err(|e| fail(&e))?;
        use std::io::Write;
        w.flush().map_err(|e| fail(&e))?;
        let file = w.into_inner().map_err(|e| fail(&e.error()))?;
        if matches!(self.dest, Destination::Replace(_)) {
            file.sync_all().map_err(|e| fail(&e))?;
        }
        let bytes = file.metadata().map_err(|e| fail(&e))?.len();
        drop(file);
        self.dest.commit(&self.tmp).map_err(|e| {
            format!(
                "cannot move {} to {}: {e}",
                self.tmp.display(),
                self.out.display()
            )
        })?;
        Ok(Written {
            frames: self.frames,
            duration_cs: self.duration_cs,
            width: self.width,
            height: self.height,
            bytes,
        })
    }
}

impl Drop for GifWriter {
    /// A recording cut short (the window closed before `--to`) keeps what
    /// it has: the file is finished and put in place.
    fn drop(&mut self) {
        if !self.done
            && self.enc.is_some()
            && let Err(e) = self.finish()
        {
            eprintln!("error: --record: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` picture: a grey background with a coloured square at
    /// (sx, sy), and (when `rich`) a gradient of more than 256 colours.
    fn picture(w: usize, h: usize, sx: usize, sy: usize, rich: bool) -> Vec<u8> {
        let mut v = Vec::with_capacity(w * h * 4);
        for y in 0..h {
            for x in 0..w {
                let px = if (sx..sx + 8).contains(&x) && (sy..sy + 8).contains(&y) {
                    [230, 90, 20, 255]
                } else if rich && y < 20 {
                    [(x * 4) as u8, (y * 12) as u8, (x + y) as u8, 255]
                } else {
                    [40, 44, 52, 255]
                };
                v.extend_from_slice(&px);
            }
        }
        v
    }

    /// Decodes a GIF into (size, delays, the last picture composed).
    fn decode(path: &Path) -> ((u16, u16), Vec<u16>, Vec<u8>) {
        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::RGBA);
        let mut d = opts
            .read_info(File::open(path).expect("the gif"))
            .expect("a gif");
        let (w, h) = (d.width(), d.height());
        let mut canvas = vec![0u8; w as usize * h as usize * 4];
        let mut delays = Vec::new();
        while let Some(f) = d.read_next_frame().expect("a frame") {
            delays.push(f.delay);
            for row in 0..f.height as usize {
                for col in 0..f.width as usize {
                    let s = (row * f.width as usize + col) * 4;
                    let t = ((row + f.top as usize) * w as usize + col + f.left as usize) * 4;
                    canvas[t..t + 4].copy_from_slice(&f.buffer[s..s + 4]);
                }
            }
        }
        ((w, h), delays, canvas)
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sts-gif-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("out.gif")
    }

    #[test]
    fn a_recording_holds_every_frame_pushed_and_ends_on_the_last_picture() {
        let out = temp("frames");
        let mut g = GifWriter::new(&out);
        let (w, h) = (64, 48);
        let last = picture(w, h, 30, 20, false);
        g.push(&picture(w, h, 2, 2, false), w as u32, h as u32, 10)
            .unwrap();
        g.push(&picture(w, h, 10, 8, false), w as u32, h as u32, 10)
            .unwrap();
        // Nothing changed: still a frame of its own (a steady rate).
        g.push(&picture(w, h, 10, 8, false), w as u32, h as u32, 10)
            .unwrap();
        g.push(&last, w as u32, h as u32, 200).unwrap();
        assert!(!out.exists(), "the file appears only when finished");
        let written = g.finish().unwrap();
        assert_eq!((written.frames, written.duration_cs), (4, 230));
        assert_eq!((written.width, written.height), (64, 48));
        assert!(!partial(&out).exists());
        let (size, delays, canvas) = decode(&out);
        assert_eq!(size, (64, 48));
        assert_eq!(delays, [10, 10, 10, 200]);
        // Few colours: the palette is exact, so is the picture.
        assert!(
            canvas == last,
            "the last frame composed is not the last picture"
        );
        let _ = std::fs::remove_dir_all(out.parent().unwrap());
    }

    #[test]
    fn a_frame_with_more_than_256_colours_is_reduced_close_to_the_original() {
        let out = temp("rich");
        let mut g = GifWriter::new(&out);
        let (w, h) = (80, 40);
        let pic = picture(w, h, 50, 25, true);
        g.push(&pic, w as u32, h as u32, 10).unwrap();
        g.finish().unwrap();
        let (_, _, canvas) = decode(&out);
        let diff = |i: usize| {
            (0..3)
                .map(|c| canvas[i * 4 + c].abs_diff(pic[i * 4 + c]))
                .max()
                .unwrap_or(0)
        };
        // The window's flat areas (backgrounds, fills) keep their colour
        // exactly...
        let flat_worst = (20 * w..w * h).map(diff).max().unwrap_or(0);
        assert_eq!(flat_worst, 0, "a flat area changed colour");
        // ...and a gradient of 1600 colours in the 254 left stays close.
        let mean = (0..w * h).map(|i| diff(i) as f64).sum::<f64>() / (w * h) as f64;
        assert!(mean < 15.0, "mean error {mean:.2}");
        let _ = std::fs::remove_dir_all(out.parent().unwrap());
    }

    #[test]
    fn a_recording_cut_short_is_still_a_finished_file() {
        let out = temp("dropped");
        {
            let mut g = GifWriter::new(&out);
            g.push(&picture(32, 32, 0, 0, false), 32, 32, 10).unwrap();
            g.push(&picture(32, 32, 5, 5, false), 32, 32, 10).unwrap();
            // The window closes: the writer is dropped unfinished.
        }
        assert!(!partial(&out).exists());
        let (_, delays, _) = decode(&out);
        assert_eq!(delays.len(), 2);
        let _ = std::fs::remove_dir_all(out.parent().unwrap());
    }

    #[test]
    fn a_resized_window_keeps_the_first_frames_size() {
        let out = temp("resized");
        let mut g = GifWriter::new(&out);
        g.push(&picture(40, 30, 0, 0, false), 40, 30, 10).unwrap();
        g.push(&picture(50, 20, 12, 4, false), 50, 20, 10).unwrap();
        let w = g.finish().unwrap();
        assert_eq!((w.width, w.height, w.frames), (40, 30, 2));
        assert_eq!(decode(&out).0, (40, 30));
        let _ = std::fs::remove_dir_all(out.parent().unwrap());
    }

    #[test]
    fn no_frame_leaves_no_file_and_says_so() {
        let out = temp("empty");
        let mut g = GifWriter::new(&out);
        assert_eq!(g.finish(), Err("no frame was recorded".to_string()));
        assert!(!out.exists() && !partial(&out).exists());
    }

    #[test]
    fn the_changed_rectangle_is_the_smallest_one_holding_every_change() {
        let a = picture(20, 10, 0, 0, false);
        assert_eq!(changed_rect(&a, &a, 20, 10), None);
        let b = picture(20, 10, 3, 1, false);
        // Squares at (0,0) and (3,1), 8 wide (cut by the 10-row height).
        assert_eq!(changed_rect(&a, &b, 20, 10), Some((0, 0, 11, 9)));
    }
}
