//! The benchmark frame generators, pixel for pixel.
//!
//! The benchmark feeds every server under test the same frames: a small
//! freestanding library draws them, both inside the multiboot guest (into
//! the Bochs VBE framebuffer) and inside an X11 client for Xvnc. This module
//! produces exactly the same frames in Rust, so a Porthole machine can run
//! the workloads without booting that guest: for every frame the pixels
//! (`0x00RRGGBB`), the dirty rectangles and the counter are the ones the
//! reference produces, given the same size (pitch equal to the width).
//!
//! Workloads ([`Kind`]):
//!
//! * `full` — a gradient that moves every frame; every pixel changes.
//! * `noise` — xorshift32 noise over the whole screen, every frame.
//! * `scroll` — terminal-like lines of 8×16 "letters" below a 20-pixel
//!   status band; the text scrolls up one line per frame.
//! * `box` — a 64×64 box bouncing over a checkered background.
//! * `static` — the scroll screen, drawn once; steps change nothing.
//!
//! Every frame but a static one shows the frame number as eight decimal
//! digits in a [`COUNTER_WIDTH`]×[`COUNTER_HEIGHT`] black box in the
//! top-left corner (white 5×7 digits at twice their size); [`read_counter`]
//! reads it back from a captured frame.
//!
//! [`TextWorkload`] is the guest's VGA text-mode workload (`text`): 80×25
//! cells that scroll up one line per frame, with the frame number in the
//! top-left corner.
//!
//! Everything here is pure computation: no I/O, no clock, no globals other
//! than constant tables.

use std::fmt;

/// Width of the counter box in the top-left corner.
pub const COUNTER_WIDTH: u32 = 104;
/// Height of the counter box in the top-left corner.
pub const COUNTER_HEIGHT: u32 = 18;

/// Smallest width [`Workload::new`] accepts; narrower requests are widened.
///
/// Every frame draws the [`COUNTER_WIDTH`]-pixel counter box, so the screen
/// must be at least that wide. (That also leaves room for the box at its
/// start position `width / 3`, and for 13 text cells per line.)
pub const MIN_WIDTH: u32 = COUNTER_WIDTH;

/// Smallest height [`Workload::new`] accepts; shorter requests are made
/// taller.
///
/// The binding constraint is the box: it starts at `height / 3` and is 64
/// pixels tall, so `height - height / 3 >= 64`, i.e. `height >= 95`. That
/// also covers the counter (18 rows) and the scroll workload, which needs
/// the 20-row status band plus at least two 16-row text lines (52 rows);
/// at 95 rows it has four.
pub const MIN_HEIGHT: u32 = 95;

/// Largest width [`Workload::new`] accepts; wider requests are narrowed.
///
/// Keeps every coordinate well inside the reference's `int` range and the
/// framebuffer at most 256 MiB (with [`MAX_HEIGHT`]).
pub const MAX_WIDTH: u32 = 8192;

/// Largest height [`Workload::new`] accepts; taller requests are shortened.
/// See [`MAX_WIDTH`].
pub const MAX_HEIGHT: u32 = 8192;

/// Most dirty rectangles one frame reports.
const MAX_RECTS: usize = 4;

const COUNTER_W: usize = 104;
const COUNTER_H: usize = 18;
/// First pixel row of the text area (scroll and static).
const TEXT_TOP: usize = 20;
const TEXT_TOP_Y: u32 = 20;
/// Text cell size.
const CELL_W: usize = 8;
const CELL_H: usize = 16;
/// Side of the bouncing box.
const BOX: i32 = 64;
/// Seed of the per-workload generator after `new`.
const WORKLOAD_SEED: u32 = 0x9E37_79B9;
/// Seed of the generator that makes the letter shapes.
const GLYPH_SEED: u32 = 0x1234_5678;
/// Seed of the text-mode workload's generator.
const TEXT_SEED: u32 = 0x2545_F491;

/// The workloads [`Workload`] can generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A moving gradient: every pixel changes every frame.
    Full,
    /// Pseudo-random noise: every pixel changes, nothing compresses.
    Noise,
    /// Terminal-like text that scrolls up one 16-pixel line per frame.
    Scroll,
    /// A 64×64 box moving over a static background.
    Box,
    /// The scroll screen drawn once; later frames change nothing.
    Static,
}

impl Kind {
    /// Every kind, in the reference's numbering order.
    pub const ALL: [Kind; 5] = [
        Kind::Full,
        Kind::Noise,
        Kind::Scroll,
        Kind::Box,
        Kind::Static,
    ];

    /// The kind called `s` (`full`, `noise`, `scroll`, `box` or `static`,
    /// exact and case-sensitive), or `None`.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The kind's name, as [`Kind::from_name`] accepts it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Kind::Full => "full",
            Kind::Noise => "noise",
            Kind::Scroll => "scroll",
            Kind::Box => "box",
            Kind::Static => "static",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A rectangle of pixels that a frame changed, in pixels from the top-left
/// corner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DirtyRect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// One step of xorshift32 (shifts 13, 17, 5); returns the new state.
const fn xorshift(s: &mut u32) -> u32 {
    let mut x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    x
}

/// The low byte of `v`.
const fn low_byte(v: u32) -> u8 {
    v.to_le_bytes()[0]
}

/// `v` as an index. Lossless on every target this crate builds for
/// (pointers of at least 32 bits).
fn to_index(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The digits 0–9 as 5×7 bitmaps, one byte per row, bit 4 the leftmost
/// column.
#[rustfmt::skip]
const DIGITS: [[u8; 7]; 10] = [
    [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110],
    [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111],
    [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110],
    [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010],
    [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110],
    [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110],
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000],
    [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110],
    [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100],
];

/// Left edge of counter digit `i` (digits are 12 pixels apart).
const fn digit_left(i: usize) -> usize {
    4 + i * 12
}
/// Top edge of the counter digits.
const DIGIT_TOP: usize = 2;

/// The 64 pseudo-letters of the text workloads: 8×16 bitmaps, one byte per
/// row, bit 7 the leftmost column. Each has a vertical stroke in one of
/// columns 1–4 from row 3 to row 11, random horizontal bars on some of
/// those rows, and sometimes a descender (rows 12–13).
///
/// Computed at compile time, so every workload shares the same table.
const GLYPHS: [[u8; CELL_H]; 64] = make_glyphs();

const fn make_glyphs() -> [[u8; CELL_H]; 64] {
    let mut table = [[0u8; CELL_H]; 64];
    let mut s = GLYPH_SEED;
    let mut c = 0;
    while c < 64 {
        let shape = xorshift(&mut s);
        let stroke_col = 1 + (shape & 3);
        let stroke = low_byte(1 << (7 - stroke_col));
        let mut row = 3;
        while row < 12 {
            let mut bits = stroke;
            // Bits 5..=13 of the shape say which rows get a bar.
            if (shape >> (row + 2)) & 1 != 0 {
                bits |= low_byte(xorshift(&mut s) & 0x7E);
            }
            table[c][row] = bits;
            row += 1;
        }
        if shape & 0x8000_0000 != 0 {
            table[c][12] = stroke;
            table[c][13] = stroke;
        }
        c += 1;
    }
    table
}

/// A rectangle in pixel units, for the drawing helpers.
#[derive(Clone, Copy)]
struct Area {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

/// Sets every pixel of `a` to `colour` (the parts outside the frame are
/// skipped).
fn fill(pixels: &mut [u32], pitch: usize, a: Area, colour: u32) {
    for row in pixels.chunks_exact_mut(pitch).skip(a.y).take(a.h) {
        if let Some(span) = row.get_mut(a.x..a.x + a.w) {
            span.fill(colour);
        }
    }
}

/// Draws the eight-digit counter showing `value` (modulo 10⁸).
fn draw_counter(pixels: &mut [u32], pitch: usize, value: u32) {
    fill(
        pixels,
        pitch,
        Area {
            x: 0,
            y: 0,
            w: COUNTER_W,
            h: COUNTER_H,
        },
        0x00_0000,
    );
    let mut v = value;
    let mut digits = [0usize; 8];
    for d in digits.iter_mut().rev() {
        *d = to_index(v % 10);
        v /= 10;
    }
    for (i, &d) in digits.iter().enumerate() {
        let left = digit_left(i);
        for (gy, &bits) in DIGITS[d].iter().enumerate() {
            let top = DIGIT_TOP + gy * 2;
            for line in pixels.chunks_exact_mut(pitch).skip(top).take(2) {
                for gx in 0..5 {
                    if bits & (0x10 >> gx) != 0 {
                        let x = left + gx * 2;
                        if let Some(dot) = line.get_mut(x..x + 2) {
                            dot.fill(0xFF_FFFF);
                        }
                    }
                }
            }
        }
    }
}

/// Reads the frame counter back from a frame whose pixels are `pixels`,
/// `pitch` pixels per row.
///
/// Works on any 32-bit pixel layout whose two low bytes are colour
/// channels (white digits on black): a dot is lit when both its lowest and
/// second-lowest byte exceed `0x80`. Returns `None` when some digit is not
/// one of the ten shapes, or when the counter area is outside `pixels`.
#[must_use]
pub fn read_counter(pixels: &[u32], pitch: usize) -> Option<u32> {
    let mut value = 0u32;
    for i in 0..8 {
        let left = digit_left(i);
        let mut rows = [0u8; 7];
        for (gy, bits) in rows.iter_mut().enumerate() {
            let y = DIGIT_TOP + gy * 2;
            for gx in 0..5 {
                let at = y.checked_mul(pitch)?.checked_add(left + gx * 2)?;
                let p = *pixels.get(at)?;
                if p & 0xFF > 0x80 && (p >> 8) & 0xFF > 0x80 {
                    *bits |= 0x10 >> gx;
                }
            }
        }
        let digit = (0u32..).zip(DIGITS.iter()).find(|(_, g)| **g == rows)?.0;
        value = value * 10 + digit;
    }
    Some(value)
}

/// The low 24 bits of each value of the xorshift32 sequence after `*s`,
/// one per pixel of `out`; leaves `*s` at the last value.
fn noise_serial(out: &mut [u32], s: &mut u32) {
    for p in out {
        *p = xorshift(s) & 0xFF_FFFF;
    }
}

/// A linear map of 32-bit vectors over GF(2): entry `i` is the image of
/// bit `i`.
type BitMatrix = [u32; 32];

fn bit_apply(m: &BitMatrix, v: u32) -> u32 {
    m.iter()
        .enumerate()
        .filter(|&(i, _)| (v >> i) & 1 != 0)
        .fold(0, |acc, (_, &col)| acc ^ col)
}

/// `b` after `a`.
fn bit_compose(a: &BitMatrix, b: &BitMatrix) -> BitMatrix {
    std::array::from_fn(|i| bit_apply(a, b[i]))
}

/// The map that `n` xorshift32 steps make, in O(log n) matrix products:
/// one step is linear over GF(2), so `n` steps are its `n`th power.
fn xorshift_power(n: usize) -> BitMatrix {
    let mut square: BitMatrix = std::array::from_fn(|i| {
        let mut x = 1u32 << i;
        xorshift(&mut x)
    });
    let mut result: BitMatrix = std::array::from_fn(|i| 1u32 << i);
    let mut n = n;
    while n > 0 {
        if n & 1 != 0 {
            result = bit_compose(&square, &result);
        }
        n >>= 1;
        if n > 0 {
            square = bit_compose(&square, &square);
        }
    }
    result
}

/// How many generators [`noise_parallel`] runs side by side.
const NOISE_LANES: usize = 8;
/// Values each chain makes before they are copied out.
const NOISE_BLOCK: usize = 64;

/// Does what [`noise_serial`] does, faster: xorshift32 is one long
/// dependency chain, so `out` is cut into [`NOISE_LANES`] equal parts and
/// each part's generator starts where the sequence would be there
/// ([`xorshift_power`]), letting the CPU work on all of them at once. The
/// values, and `*s` afterwards, are exactly the serial ones.
fn noise_parallel(out: &mut [u32], s: &mut u32) {
    let part = out.len() / NOISE_LANES;
    if part < 4 * NOISE_BLOCK {
        noise_serial(out, s);
        return;
    }
    let (body, tail) = out.split_at_mut(part * NOISE_LANES);
    let skip = xorshift_power(part);
    let mut lanes = [*s; NOISE_LANES];
    for j in 1..NOISE_LANES {
        lanes[j] = bit_apply(&skip, lanes[j - 1]);
    }
    let mut chunks = body.chunks_exact_mut(part);
    let mut parts: [&mut [u32]; NOISE_LANES] =
        std::array::from_fn(|_| chunks.next().unwrap_or_default());
    let mut block = [[0u32; NOISE_BLOCK]; NOISE_LANES];
    let mut done = 0;
    while done < part {
        let n = NOISE_BLOCK.min(part - done);
        for k in 0..n {
            for (state, dst) in lanes.iter_mut().zip(block.iter_mut()) {
                dst[k] = xorshift(state) & 0xFF_FFFF;
            }
        }
        for (dst, src) in parts.iter_mut().zip(block.iter()) {
            if let (Some(d), Some(s)) = (dst.get_mut(done..done + n), src.get(..n)) {
                d.copy_from_slice(s);
            }
        }
        done += n;
    }
    *s = lanes[NOISE_LANES - 1];
    noise_serial(tail, s);
}

/// The background of the box workload at pixel (`x`, `y`): 32×32 tiles in
/// two shades of blue, each tile a little lighter towards its bottom.
fn background(x: usize, y: usize) -> u32 {
    let base = if ((x >> 5) ^ (y >> 5)) & 1 != 0 {
        0x30_4058
    } else {
        0x20_3048
    };
    // (y & 31) * 2 < 64, so this always fits.
    base + u32::try_from((y & 31) << 1).unwrap_or(0)
}

/// A workload: its current frame and the state that makes the next one.
///
/// The frame is `width × height` pixels, `0x00RRGGBB`, row-major with no
/// padding between rows.
#[derive(Clone)]
pub struct Workload {
    kind: Kind,
    /// Size in pixels (after clamping).
    width: u32,
    height: u32,
    /// The same size as indices.
    w: usize,
    h: usize,
    pixels: Vec<u32>,
    /// Frames drawn after the first one; the value the counter shows.
    frame: u32,
    rng: u32,
    /// Box position and velocity.
    bx: i32,
    by: i32,
    dx: i32,
    dy: i32,
    rects: [DirtyRect; MAX_RECTS],
    nrects: usize,
}

impl fmt::Debug for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workload")
            .field("kind", &self.kind)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("frame", &self.frame)
            .field("rng", &self.rng)
            .field("box", &(self.bx, self.by, self.dx, self.dy))
            .field("dirty", &self.dirty())
            .finish_non_exhaustive()
    }
}

impl Workload {
    /// A workload of `kind` with its first frame drawn; the whole frame is
    /// dirty and the counter shows 0.
    ///
    /// `width` is clamped to [`MIN_WIDTH`]`..=`[`MAX_WIDTH`] and `height`
    /// to [`MIN_HEIGHT`]`..=`[`MAX_HEIGHT`]; [`Workload::width`] and
    /// [`Workload::height`] tell the size used. Never panics.
    #[must_use]
    pub fn new(kind: Kind, width: u32, height: u32) -> Workload {
        let width = width.clamp(MIN_WIDTH, MAX_WIDTH);
        let height = height.clamp(MIN_HEIGHT, MAX_HEIGHT);
        let w = to_index(width);
        let h = to_index(height);
        // Both are at most 8192, so they fit an i32 with lots of room.
        let wi = i32::try_from(width).unwrap_or(i32::MAX);
        let hi = i32::try_from(height).unwrap_or(i32::MAX);
        let mut wl = Workload {
            kind,
            width,
            height,
            w,
            h,
            pixels: vec![0; w * h],
            frame: 0,
            rng: WORKLOAD_SEED,
            bx: wi / 3,
            by: hi / 3,
            dx: 7,
            dy: 5,
            rects: [DirtyRect::default(); MAX_RECTS],
            nrects: 0,
        };
        match kind {
            Kind::Full => wl.draw_gradient(),
            Kind::Noise => wl.draw_noise(),
            Kind::Scroll | Kind::Static => {
                for row in 0..wl.text_rows() {
                    wl.draw_text_line(row);
                }
            }
            Kind::Box => {
                wl.draw_background(Area { x: 0, y: 0, w, h });
                wl.draw_box();
            }
        }
        draw_counter(&mut wl.pixels, w, wl.frame);
        wl.push_rect(0, 0, width, height);
        wl
    }

    /// Draws the next frame and records what changed in
    /// [`Workload::dirty`].
    ///
    /// A static workload does nothing: the counter stays, nothing is
    /// dirty. Otherwise the counter goes up by one (wrapping at 2³²; it
    /// shows the value modulo 10⁸).
    pub fn step(&mut self) {
        self.nrects = 0;
        if self.kind == Kind::Static {
            return;
        }
        self.frame = self.frame.wrapping_add(1);
        match self.kind {
            Kind::Full => {
                self.draw_gradient();
                self.push_rect(0, 0, self.width, self.height);
            }
            Kind::Noise => {
                self.draw_noise();
                self.push_rect(0, 0, self.width, self.height);
            }
            Kind::Scroll => {
                self.scroll();
                let text_h = u32::try_from(self.text_rows() * CELL_H).unwrap_or(0);
                self.push_rect(0, TEXT_TOP_Y, self.width, text_h);
            }
            Kind::Box => self.move_box(),
            Kind::Static => {}
        }
        draw_counter(&mut self.pixels, self.w, self.frame);
        if matches!(self.kind, Kind::Box | Kind::Scroll) {
            self.push_rect(0, 0, COUNTER_WIDTH, COUNTER_HEIGHT);
        }
    }

    /// The current frame: `width × height` pixels, `0x00RRGGBB`, row-major,
    /// `width` pixels per row.
    #[must_use]
    pub fn pixels(&self) -> &[u32] {
        &self.pixels
    }

    /// Width of the frame in pixels (after clamping).
    #[must_use]
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height of the frame in pixels (after clamping).
    #[must_use]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The workload's kind.
    #[must_use]
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// What the last [`Workload::new`] or [`Workload::step`] changed, at
    /// most four rectangles, in the order the reference reports them:
    /// the whole frame after `new`; after a step, the whole frame for full
    /// and noise; the text area then the counter for scroll; the union of
    /// the old and new box then the counter for box; nothing for static.
    #[must_use]
    pub fn dirty(&self) -> &[DirtyRect] {
        &self.rects[..self.nrects]
    }

    /// The frame number the counter shows (0 after `new`).
    #[must_use]
    pub fn frame(&self) -> u32 {
        self.frame
    }

    fn push_rect(&mut self, x: u32, y: u32, w: u32, h: u32) {
        if let Some(r) = self.rects.get_mut(self.nrects) {
            *r = DirtyRect { x, y, w, h };
            self.nrects += 1;
        }
    }

    /// Whole 16-pixel text lines below the status band.
    fn text_rows(&self) -> usize {
        self.h.saturating_sub(TEXT_TOP) / CELL_H
    }

    /// The full workload: along a row red goes up by one per pixel and
    /// blue by one per two pixels; down the rows green and blue go up by
    /// one per row; the frame number `t` offsets red by `3t`, green by
    /// `2t` and blue by `t`. All channels wrap at 256. The counter area is
    /// left alone: the rows beside it begin at its right edge with the
    /// colours that column has below it.
    fn draw_gradient(&mut self) {
        let t = self.frame;
        let red_t = t.wrapping_mul(3) & 0xFF;
        let green_t = t.wrapping_mul(2);
        for (y, row) in (0u32..).zip(self.pixels.chunks_exact_mut(self.w)) {
            let green = (y.wrapping_add(green_t) & 0xFF) << 8;
            let mut red = red_t;
            let mut blue = y.wrapping_add(t) & 0xFF;
            let mut start = 0;
            if y < COUNTER_HEIGHT {
                // Beside the counter: start at its right edge, with the
                // colours that column has on the rows below.
                red = (red + COUNTER_WIDTH) & 0xFF;
                blue = (blue + COUNTER_WIDTH / 2) & 0xFF;
                start = COUNTER_W;
            }
            let span = row.get_mut(start..).unwrap_or_default();
            for (d, p) in (0u32..).zip(span.iter_mut()) {
                *p = (((red + d) & 0xFF) << 16) | green | ((blue + (d >> 1)) & 0xFF);
            }
        }
    }

    /// The noise workload: one xorshift32 value per pixel (its low 24
    /// bits), in raster order, skipping the counter; the generator carries
    /// over to the next frame.
    fn draw_noise(&mut self) {
        let mut s = self.rng;
        let split = (COUNTER_H * self.w).min(self.pixels.len());
        let (band, rest) = self.pixels.split_at_mut(split);
        for row in band.chunks_exact_mut(self.w) {
            noise_serial(row.get_mut(COUNTER_W..).unwrap_or_default(), &mut s);
        }
        noise_parallel(rest, &mut s);
        self.rng = s;
    }

    /// Draws text line `line` (0 = the top one) afresh: a random number of
    /// letters in words of 1–10 letters separated by one blank cell, in
    /// one of four colours, on black.
    fn draw_text_line(&mut self, line: usize) {
        let cols = self.w / CELL_W;
        let top = TEXT_TOP + line * CELL_H;
        fill(
            &mut self.pixels,
            self.w,
            Area {
                x: 0,
                y: top,
                w: cols * CELL_W,
                h: CELL_H,
            },
            0x00_0000,
        );
        let mut s = self.rng;
        let r = xorshift(&mut s);
        // cols >= MIN_WIDTH / 8 > 0.
        let len = to_index(r % u32::try_from(cols).unwrap_or(1));
        let colour = match (r >> 16) & 7 {
            0 => 0x55_FF55,
            1 => 0xFF_FF55,
            2 => 0x55_55FF,
            _ => 0xC0_C0C0,
        };
        let band = self
            .pixels
            .get_mut(top * self.w..(top + CELL_H) * self.w)
            .unwrap_or_default();
        let mut col = 0;
        while col < len {
            let word = 1 + xorshift(&mut s) % 10;
            let mut i = 0;
            while i < word && col < len {
                let glyph = &GLYPHS[to_index(xorshift(&mut s) & 63)];
                let x = col * CELL_W;
                for (&bits, line) in glyph.iter().zip(band.chunks_exact_mut(self.w)) {
                    if bits == 0 {
                        continue;
                    }
                    let Some(cell) = line.get_mut(x..x + CELL_W) else {
                        continue;
                    };
                    for (gx, p) in cell.iter_mut().enumerate() {
                        if bits & (0x80 >> gx) != 0 {
                            *p = colour;
                        }
                    }
                }
                i += 1;
                col += 1;
            }
            // The blank between words.
            col += 1;
        }
        self.rng = s;
    }

    /// The scroll workload: moves the text lines up by one, dropping the
    /// top one, and writes a new bottom line.
    fn scroll(&mut self) {
        let rows = self.text_rows();
        if rows < 2 {
            return;
        }
        let from = (TEXT_TOP + CELL_H) * self.w;
        let count = (rows - 1) * CELL_H * self.w;
        self.pixels
            .copy_within(from..from + count, TEXT_TOP * self.w);
        self.draw_text_line(rows - 1);
    }

    fn draw_background(&mut self, a: Area) {
        for (y, row) in self
            .pixels
            .chunks_exact_mut(self.w)
            .enumerate()
            .skip(a.y)
            .take(a.h)
        {
            let span = row.get_mut(a.x..a.x + a.w).unwrap_or_default();
            for (x, p) in (a.x..).zip(span.iter_mut()) {
                *p = background(x, y);
            }
        }
    }

    /// The box's pixel area (its position is never negative).
    fn box_area(&self, inset: i32, side: i32) -> Area {
        let at = |v: i32| usize::try_from(v + inset).unwrap_or(0);
        let side = usize::try_from(side).unwrap_or(0);
        Area {
            x: at(self.bx),
            y: at(self.by),
            w: side,
            h: side,
        }
    }

    /// The box: white frame, red-orange inside, green square in the middle.
    fn draw_box(&mut self) {
        let layers = [
            (self.box_area(0, BOX), 0xFF_FFFF),
            (self.box_area(4, BOX - 8), 0xE0_4020),
            (self.box_area(24, 16), 0x20_E040),
        ];
        for (a, colour) in layers {
            fill(&mut self.pixels, self.w, a, colour);
        }
    }

    /// The box workload: erases the box, moves it by its velocity, bounces
    /// it off the edges, draws it again, and reports the area covering
    /// both positions.
    fn move_box(&mut self) {
        let (old_x, old_y) = (self.bx, self.by);
        let old = self.box_area(0, BOX);
        self.draw_background(old);
        let wi = i32::try_from(self.width).unwrap_or(i32::MAX);
        let hi = i32::try_from(self.height).unwrap_or(i32::MAX);
        self.bx += self.dx;
        self.by += self.dy;
        if self.bx < 0 {
            self.bx = 0;
            self.dx = -self.dx;
        }
        if self.by < 0 {
            self.by = 0;
            self.dy = -self.dy;
        }
        if self.bx + BOX > wi {
            self.bx = wi - BOX;
            self.dx = -self.dx;
        }
        if self.by + BOX > hi {
            self.by = hi - BOX;
            self.dy = -self.dy;
        }
        self.draw_box();
        let x0 = old_x.min(self.bx);
        let y0 = old_y.min(self.by);
        let x1 = old_x.max(self.bx) + BOX;
        let y1 = old_y.max(self.by) + BOX;
        let u = |v: i32| u32::try_from(v).unwrap_or(0);
        self.push_rect(u(x0), u(y0), u(x1 - x0), u(y1 - y0));
    }
}

/// Columns of the text-mode screen.
const TEXT_COLS: usize = 80;
/// Rows of the text-mode screen.
const TEXT_ROWS: usize = 25;

/// The `text` workload of the benchmark guest, for an 80×25 VGA text
/// screen.
///
/// Each step scrolls the screen up one row, fills the bottom row with
/// random lower-case "words" (grey, or sometimes light green, on black),
/// and writes the frame number as eight white digits over the first eight
/// cells of the top row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextWorkload {
    frame: u32,
    rng: u32,
}

impl Default for TextWorkload {
    fn default() -> Self {
        TextWorkload::new()
    }
}

impl TextWorkload {
    /// A text workload before its first frame (frame number 0).
    #[must_use]
    pub fn new() -> TextWorkload {
        TextWorkload {
            frame: 0,
            rng: TEXT_SEED,
        }
    }

    /// Advances one frame and applies it to an 80x25 text buffer of
    /// (attr<<8 | char) u16 cells, exactly as text_step does at 0xB8000.
    ///
    /// Cells are in row-major order; only the scroll reads the old
    /// contents, so any starting screen works.
    pub fn step(&mut self, cells: &mut [u16; TEXT_COLS * TEXT_ROWS]) {
        self.frame = self.frame.wrapping_add(1);
        let last = (TEXT_ROWS - 1) * TEXT_COLS;
        cells.copy_within(TEXT_COLS.., 0);
        let mut s = self.rng;
        let r = xorshift(&mut s);
        let len = to_index(r % 80);
        let attr: u16 = if (r >> 8) & 3 != 0 { 0x0700 } else { 0x0A00 };
        for (i, cell) in cells[last..].iter_mut().enumerate() {
            let v = xorshift(&mut s);
            let ch = if i < len && v & 7 != 0 {
                b'a' + low_byte((v >> 3) % 26)
            } else {
                b' '
            };
            *cell = attr | u16::from(ch);
        }
        self.rng = s;
        let mut v = self.frame;
        for cell in cells[..8].iter_mut().rev() {
            *cell = 0x0F00 | u16::from(b'0' + low_byte(v % 10));
            v /= 10;
        }
    }

    /// The number of the last frame drawn (0 before the first step).
    #[must_use]
    pub fn frame(&self) -> u32 {
        self.frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(wl: &Workload, x: u32, y: u32) -> u32 {
        wl.pixels()[to_index(y * wl.width() + x)]
    }

    #[test]
    fn noise_parallel_matches_serial() {
        for n in [0, 1, 100, 8 * 256 - 1, 8 * 256, 8 * 300 + 7, 100_003] {
            let (mut a, mut b) = (vec![0; n], vec![0; n]);
            let (mut sa, mut sb) = (WORKLOAD_SEED, WORKLOAD_SEED);
            noise_serial(&mut a, &mut sa);
            noise_parallel(&mut b, &mut sb);
            assert_eq!(a, b, "{n}");
            assert_eq!(sa, sb, "{n}");
        }
        let mut s = 1;
        for n in 0..100 {
            assert_eq!(bit_apply(&xorshift_power(n), 1), s);
            assert_eq!(bit_apply(&xorshift_power(n), 0x8765_4321), {
                let mut t = 0x8765_4321;
                for _ in 0..n {
                    xorshift(&mut t);
                }
                t
            });
            xorshift(&mut s);
        }
    }

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(k));
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!(Kind::from_name("text"), None);
        assert_eq!(Kind::from_name("Full"), None);
        assert_eq!(Kind::from_name("ful"), None);
        assert_eq!(Kind::from_name(""), None);
    }

    #[test]
    fn counter_round_trip() {
        let mut wl = Workload::new(Kind::Box, 200, 120);
        let w = to_index(wl.width());
        for v in [0, 1, 9, 10, 12_345_678, 99_999_999, 100_000_000, u32::MAX] {
            draw_counter(&mut wl.pixels, w, v);
            assert_eq!(read_counter(wl.pixels(), w), Some(v % 100_000_000));
        }
    }

    #[test]
    fn counter_follows_steps() {
        for k in Kind::ALL {
            let mut wl = Workload::new(k, 320, 200);
            let w = to_index(wl.width());
            assert_eq!(read_counter(wl.pixels(), w), Some(0));
            for n in 1..=12 {
                wl.step();
                let shown = if k == Kind::Static { 0 } else { n };
                assert_eq!(wl.frame(), shown, "{k}");
                assert_eq!(read_counter(wl.pixels(), w), Some(shown), "{k}");
            }
        }
    }

    #[test]
    fn read_counter_rejects_other_frames() {
        assert_eq!(read_counter(&[0; 200 * 20], 200), None);
        assert_eq!(read_counter(&[0xFF_FFFF; 200 * 20], 200), None);
        // Too short for the counter area.
        let wl = Workload::new(Kind::Full, 200, 120);
        assert_eq!(read_counter(&wl.pixels()[..200 * 10], 200), None);
        assert_eq!(read_counter(&[], 200), None);
        assert_eq!(read_counter(wl.pixels(), usize::MAX), None);
        // Other channel orders still read (white on black).
        let swapped: Vec<u32> = wl
            .pixels()
            .iter()
            .map(|p| p.swap_bytes() >> 8 | 0xFF00_0000)
            .collect();
        assert_eq!(read_counter(&swapped, 200), Some(0));
    }

    #[test]
    fn dirty_rects_per_kind() {
        let (w, h) = (640, 480);
        let whole = DirtyRect { x: 0, y: 0, w, h };
        let counter = DirtyRect {
            x: 0,
            y: 0,
            w: COUNTER_WIDTH,
            h: COUNTER_HEIGHT,
        };
        for k in Kind::ALL {
            let mut wl = Workload::new(k, w, h);
            assert_eq!(wl.dirty(), &[whole], "{k}");
            for _ in 0..3 {
                wl.step();
                match k {
                    Kind::Full | Kind::Noise => assert_eq!(wl.dirty(), &[whole]),
                    Kind::Scroll => {
                        let rows = (h - 20) / 16;
                        let text = DirtyRect {
                            x: 0,
                            y: 20,
                            w,
                            h: rows * 16,
                        };
                        assert_eq!(wl.dirty(), &[text, counter]);
                    }
                    Kind::Box => {
                        let d = wl.dirty();
                        assert_eq!(d.len(), 2);
                        // Moved by (7, 5): the union is 71×69.
                        assert_eq!((d[0].w, d[0].h), (71, 69));
                        assert_eq!(d[1], counter);
                    }
                    Kind::Static => assert!(wl.dirty().is_empty()),
                }
            }
        }
    }

    #[test]
    fn box_moves_and_bounces() {
        let mut wl = Workload::new(Kind::Box, 150, 100);
        assert_eq!((wl.bx, wl.by), (50, 33));
        // The box is drawn at its start position: white corner, green
        // centre, background outside.
        assert_eq!(pixel(&wl, 50, 33), 0xFF_FFFF);
        assert_eq!(pixel(&wl, 50 + 30, 33 + 30), 0x20_E040);
        assert_eq!(pixel(&wl, 50 + 10, 33 + 10), 0xE0_4020);
        assert_eq!(pixel(&wl, 49, 33), background(49, 33));
        wl.step();
        // 38 + 64 > 100: clamped to the bottom edge, bounced.
        assert_eq!((wl.bx, wl.by, wl.dx, wl.dy), (57, 36, 7, -5));
        assert_eq!(
            wl.dirty()[0],
            DirtyRect {
                x: 50,
                y: 33,
                w: 71,
                h: 67
            }
        );
        // The old top-left corner is background again.
        assert_eq!(pixel(&wl, 50, 33), background(50, 33));
        for _ in 0..200 {
            wl.step();
            assert!((0..=150 - 64).contains(&wl.bx));
            assert!((0..=100 - 64).contains(&wl.by));
            let d = wl.dirty()[0];
            assert!(d.x + d.w <= 150 && d.y + d.h <= 100);
        }
    }

    #[test]
    fn static_does_nothing_after_new() {
        let mut wl = Workload::new(Kind::Static, 400, 300);
        let first = wl.pixels().to_vec();
        // Same first frame as scroll.
        assert_eq!(first, Workload::new(Kind::Scroll, 400, 300).pixels());
        for _ in 0..5 {
            wl.step();
            assert!(wl.dirty().is_empty());
            assert_eq!(wl.frame(), 0);
            assert_eq!(wl.pixels(), &first[..]);
        }
    }

    #[test]
    fn scroll_moves_text_up() {
        let mut wl = Workload::new(Kind::Scroll, 256, 180);
        let w = 256;
        let before = wl.pixels().to_vec();
        wl.step();
        // (180 - 20) / 16 = 10 lines; lines 1..10 moved to 0..9.
        let moved = &before[(20 + 16) * w..(20 + 160) * w];
        assert_eq!(&wl.pixels()[20 * w..(20 + 144) * w], &moved[..144 * w]);
        // The status band beside the counter stays black.
        assert!(wl.pixels()[..20 * w].iter().enumerate().all(|(i, &p)| {
            let (x, y) = (i % w, i / w);
            (x < COUNTER_W && y < COUNTER_H) || p == 0
        }));
    }

    #[test]
    fn gradient_and_noise_spare_the_counter() {
        for k in [Kind::Full, Kind::Noise] {
            let mut a = Workload::new(k, 300, 100);
            let mut b = Workload::new(Kind::Box, 300, 100);
            for _ in 0..3 {
                a.step();
                b.step();
            }
            for y in 0..COUNTER_HEIGHT {
                for x in 0..COUNTER_WIDTH {
                    assert_eq!(pixel(&a, x, y), pixel(&b, x, y), "{k} ({x},{y})");
                }
            }
        }
    }

    #[test]
    fn gradient_values() {
        let mut wl = Workload::new(Kind::Full, 300, 100);
        wl.step();
        wl.step();
        // t = 2, row 50: g = 54, b starts at 52, r at 6.
        assert_eq!(pixel(&wl, 0, 50), (6 << 16) | (54 << 8) | 52);
        assert_eq!(pixel(&wl, 1, 50), (7 << 16) | (54 << 8) | 52);
        assert_eq!(pixel(&wl, 2, 50), (8 << 16) | (54 << 8) | 53);
        assert_eq!(
            pixel(&wl, 299, 50),
            ((6 + 299) & 0xFF) << 16 | (54 << 8) | (52 + 149)
        );
        // Beside the counter, row 0: starts with r = 6 + 104, b = 2 + 52.
        assert_eq!(pixel(&wl, 104, 0), (110 << 16) | (4 << 8) | 54);
    }

    #[test]
    fn sizes_are_clamped() {
        for (w, h) in [(0, 0), (1, 1), (103, 94), (u32::MAX, 10), (10, u32::MAX)] {
            for k in Kind::ALL {
                let mut wl = Workload::new(k, w, h);
                assert!((MIN_WIDTH..=MAX_WIDTH).contains(&wl.width()));
                assert!((MIN_HEIGHT..=MAX_HEIGHT).contains(&wl.height()));
                assert_eq!(
                    wl.pixels().len(),
                    to_index(wl.width()) * to_index(wl.height())
                );
                if h == u32::MAX {
                    continue; // big; one frame is enough
                }
                for _ in 0..40 {
                    wl.step();
                }
            }
        }
        let wl = Workload::new(Kind::Full, 0, 0);
        assert_eq!((wl.width(), wl.height()), (MIN_WIDTH, MIN_HEIGHT));
        let wl = Workload::new(Kind::Full, 104, 95);
        assert_eq!((wl.width(), wl.height()), (104, 95));
        let wl = Workload::new(Kind::Full, 1 << 20, 95);
        assert_eq!(wl.width(), MAX_WIDTH);
    }

    #[test]
    fn glyphs_look_like_letters() {
        for g in &GLYPHS {
            assert!(g[..3].iter().all(|&b| b == 0));
            assert!(g[14..].iter().all(|&b| b == 0));
            // Every row of the body shares the stroke column.
            let common = g[3..12].iter().fold(0x78, |acc, &b| acc & b);
            assert_ne!(common, 0);
            assert!(g[3..12].iter().all(|&b| b & 0x81 == 0));
            assert!(g[12] == g[13]);
            assert!(g[12] == 0 || (g[12].count_ones() == 1 && g[12] & common != 0));
        }
    }

    #[test]
    fn text_workload_scrolls_and_counts() {
        let mut t = TextWorkload::new();
        let mut cells = [0u16; 80 * 25];
        for (i, c) in cells.iter_mut().enumerate() {
            *c = u16::try_from(i).unwrap();
        }
        t.step(&mut cells);
        assert_eq!(t.frame(), 1);
        let digits: Vec<u16> = cells[..8].to_vec();
        let want: Vec<u16> = b"00000001".iter().map(|&c| 0x0F00 | u16::from(c)).collect();
        assert_eq!(digits, want);
        // Row 1 moved to row 0 (beyond the counter), row 24 is new.
        assert!((8..80 * 24).all(|i| usize::from(cells[i]) == i + 80));
        for &c in &cells[80 * 24..] {
            let (attr, ch) = (c >> 8, c & 0xFF);
            assert!(attr == 0x07 || attr == 0x0A);
            assert!(ch == u16::from(b' ') || (u16::from(b'a')..=u16::from(b'z')).contains(&ch));
        }
        for _ in 0..99 {
            t.step(&mut cells);
        }
        assert_eq!(t.frame(), 100);
        assert_eq!(&cells[5..8], &[0x0F31, 0x0F30, 0x0F30]);
    }

    /// Prints how long `step` takes. Run with
    /// `cargo test -p guest --release -- --ignored --nocapture step_timing`.
    #[test]
    #[ignore = "timing report, not a check"]
    fn step_timing() {
        use std::time::Instant;
        for (w, h) in [(1024, 768), (1920, 1080)] {
            for k in Kind::ALL {
                let mut wl = Workload::new(k, w, h);
                for _ in 0..10 {
                    wl.step();
                }
                let n = 200;
                let t0 = Instant::now();
                for _ in 0..n {
                    wl.step();
                }
                let per = t0.elapsed() / n;
                let t0 = Instant::now();
                let fresh = Workload::new(k, w, h);
                let init = t0.elapsed();
                println!(
                    "{w}x{h} {k:<6} step {:>8.3} ms  new {:>8.3} ms  (frame {})",
                    per.as_secs_f64() * 1e3,
                    init.as_secs_f64() * 1e3,
                    fresh.frame()
                );
            }
        }
    }
}
