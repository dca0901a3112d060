//! Turning registers and VRAM into pixels: text, graphics and blank screens.

use display::{MAX_HEIGHT, MAX_WIDTH, Rect, Surface};

use crate::{GLYPH_SLOT, PLANE_SIZE, Vga};

/// Frames of a 60 Hz display per cursor phase (QEMU and real hardware: 16).
const CURSOR_FRAMES: u64 = 16;
/// Frames per text-blink phase (real hardware: 32).
const BLINK_FRAMES: u64 = 32;
/// Refresh rate the blink counters assume.
const FRAMES_PER_SECOND: u64 = 60;

/// Cell-cache value that never matches a real cell, forcing a redraw.
const CELL_INVALID: u32 = u32::MAX;
const CELL_CURSOR: u32 = 1 << 16;
const CELL_BLINK_HIDDEN: u32 = 1 << 17;

/// What one call to [`Vga::render`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Render {
    /// The surface was resized to the new mode size; everything is dirty.
    pub resized: bool,
    /// Rectangles of the surface that changed (clamped to it; empty when nothing changed).
    pub dirty: Vec<Rect>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Blank,
    Text,
    Graphics,
    Vbe,
}

/// Everything that, when changed, forces a full text redraw.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TextParams {
    cols: u32,
    rows: u32,
    cw: u32,
    cheight: u32,
    font: [usize; 2],
    palette: [u32; 16],
    blink_enabled: bool,
    line_graphics: bool,
    line_offset: usize,
    line_compare: u32,
    cursor_shape: (u8, u8),
}

/// Everything that, when changed, forces a full graphics redraw.
#[derive(Clone, Debug, PartialEq, Eq)]
struct GraphicsParams {
    width: u32,
    height: u32,
    disp_width: u32,
    shift_control: u8,
    multi_scan: u32,
    start: usize,
    line_offset: usize,
    line_compare: u32,
    crtc_mode: u8,
    plane_enable: u8,
    half_clock: bool,
    palette: Vec<u32>,
}

/// The renderer's memory of what the surface currently shows.
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    mode: Option<Mode>,
    size: (u32, u32),
    text: Option<TextParams>,
    cells: Vec<u32>,
    graphics: Option<GraphicsParams>,
    pub(crate) vbe: Option<crate::vbe::VbeParams>,
}

/// 6-bit DAC component → 8 bits.
fn c6_to_8(v: u8) -> u32 {
    let v = u32::from(v & 0x3F);
    (v << 2) | (v >> 4)
}

pub(crate) fn idx(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Row runs of set flags as rectangles `cell_w`×`cell_h` per flag.
fn runs_to_rects(flags: &[bool], row: u32, cell_w: u32, cell_h: u32, out: &mut Vec<Rect>) {
    let mut start = None;
    for (i, &f) in flags.iter().chain(std::iter::once(&false)).enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        match (f, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(Rect::new(
                    s * cell_w,
                    row * cell_h,
                    (i - s) * cell_w,
                    cell_h,
                ));
                start = None;
            }
            _ => {}
        }
    }
}

impl Vga {
    fn display_mode(&self) -> Mode {
        if self.ar_index & 0x20 == 0 || self.sr[1] & 0x20 != 0 {
            Mode::Blank
        } else if self.vbe_enabled() {
            Mode::Vbe
        } else if self.gr[6] & 1 == 0 {
            Mode::Text
        } else {
            Mode::Graphics
        }
    }

    fn vertical_display_end(&self) -> u32 {
        u32::from(self.cr[0x12])
            | (u32::from(self.cr[7] & 0x02) << 7)
            | (u32::from(self.cr[7] & 0x40) << 3)
    }

    fn line_compare(&self) -> u32 {
        u32::from(self.cr[0x18])
            | (u32::from(self.cr[7] & 0x10) << 4)
            | (u32::from(self.cr[9] & 0x40) << 3)
    }

    fn start_address(&self) -> usize {
        usize::from(self.cr[0x0C]) << 8 | usize::from(self.cr[0x0D])
    }

    /// Plane offsets per character row / scan line (CR13 counts words).
    fn line_offset(&self) -> usize {
        usize::from(self.cr[0x13]) * 2
    }

    /// Text geometry: columns, rows, cell width, cell height.
    fn text_geometry(&self) -> (u32, u32, u32, u32) {
        let cheight = u32::from(self.cr[9] & 0x1F) + 1;
        let cw = if self.sr[1] & 0x08 != 0 {
            16
        } else if self.sr[1] & 0x01 != 0 {
            8
        } else {
            9
        };
        let cols = u32::from(self.cr[1]) + 1;
        let rows = ((self.vertical_display_end() + 1) / cheight).max(1);
        (cols, rows, cw, cheight)
    }

    /// Graphics geometry: source width in pixels, height, displayed width.
    fn graphics_geometry(&self) -> (u32, u32, u32) {
        let width = (u32::from(self.cr[1]) + 1) * 8;
        let height = self.vertical_display_end() + 1;
        let shift_control = (self.gr[5] >> 5) & 3;
        let disp_width = if shift_control < 2 && self.sr[1] & 0x08 != 0 {
            width * 2
        } else {
            width
        };
        (width, height, disp_width)
    }

    /// The size of the picture the current registers describe (text: columns × cell width by
    /// rows × cell height; graphics: CRTC display width × display end). A blanked screen
    /// keeps the size of the mode underneath.
    pub fn mode_size(&self) -> (u32, u32) {
        let (w, h) = if self.vbe_enabled() {
            self.vbe_size()
        } else if self.gr[6] & 1 == 0 {
            let (cols, rows, cw, cheight) = self.text_geometry();
            (cols * cw, rows * cheight)
        } else {
            let (_, height, disp_width) = self.graphics_geometry();
            (disp_width, height)
        };
        (w.clamp(1, MAX_WIDTH), h.clamp(1, MAX_HEIGHT))
    }

    /// DAC entry → 0x00RRGGBB, through the pel mask.
    fn dac_rgb(&self, index: u8) -> u32 {
        let at = usize::from(index & self.pel_mask) * 3;
        c6_to_8(self.dac[at]) << 16 | c6_to_8(self.dac[at + 1]) << 8 | c6_to_8(self.dac[at + 2])
    }

    /// The 16 colours of 4-bit pixels: attribute palette, colour select, then DAC.
    fn palette16(&self) -> [u32; 16] {
        std::array::from_fn(|i| {
            let v = self.ar[i];
            let index = if self.ar[0x10] & 0x80 != 0 {
                (self.ar[0x14] & 0x0F) << 4 | (v & 0x0F)
            } else {
                (self.ar[0x14] & 0x0C) << 4 | (v & 0x3F)
            };
            self.dac_rgb(index)
        })
    }

    fn palette256(&self) -> Vec<u32> {
        (0..=255u8).map(|i| self.dac_rgb(i)).collect()
    }

    /// Plane 2 offsets of font maps B (attribute bit 3 clear) and A (bit 3 set), from SR3.
    fn font_offsets(&self) -> [usize; 2] {
        let v = usize::from(self.sr[3]);
        let b = ((v >> 4) & 1) | ((v << 1) & 6);
        let a = ((v >> 5) & 1) | ((v >> 1) & 6);
        [b * 8192, a * 8192]
    }

    fn plane(&self, p: usize, offset: usize) -> u8 {
        self.vram[p * PLANE_SIZE + (offset & 0xFFFF)]
    }

    /// Redraws what changed since the last call into `surface` (which must be the same
    /// surface every time) and reports it. `now_ms` drives cursor and text blinking.
    ///
    /// When the mode size differs from the surface's, the surface is resized first and the
    /// whole picture is redrawn (`resized`). Call about every 30 ms.
    pub fn render(&mut self, surface: &mut Surface, now_ms: u64) -> Render {
        let mode = self.display_mode();
        let (w, h) = self.mode_size();
        let mut resized = false;
        if (surface.width(), surface.height()) != (w, h) {
            if surface.resize(w, h).is_err() {
                // mode_size() is always within the surface limits; nothing sensible to draw.
                return Render::default();
            }
            resized = true;
        }
        let full = resized || self.view.mode != Some(mode) || self.view.size != (w, h);
        if full {
            self.view.text = None;
            self.view.graphics = None;
            self.view.vbe = None;
        }
        self.view.mode = Some(mode);
        self.view.size = (w, h);

        let mut dirty = match mode {
            Mode::Blank => {
                if full {
                    surface.fill_rect(surface.rect(), 0);
                    vec![surface.rect()]
                } else {
                    Vec::new()
                }
            }
            Mode::Text => self.render_text(surface, now_ms),
            Mode::Graphics => self.render_graphics(surface),
            Mode::Vbe => self.render_vbe(surface),
        };
        self.font_dirty = false;
        self.vram_dirty = [0; 16];
        self.vbe.clear_dirty();
        if resized {
            dirty = vec![surface.rect()];
        }
        Render { resized, dirty }
    }

    fn render_text(&mut self, surface: &mut Surface, now_ms: u64) -> Vec<Rect> {
        let (cols, rows, cw, cheight) = self.text_geometry();
        let params = TextParams {
            cols,
            rows,
            cw,
            cheight,
            font: self.font_offsets(),
            palette: self.palette16(),
            blink_enabled: self.ar[0x10] & 0x08 != 0,
            line_graphics: self.ar[0x10] & 0x04 != 0,
            line_offset: self.line_offset(),
            line_compare: self.line_compare(),
            cursor_shape: (self.cr[0x0A], self.cr[0x0B]),
        };
        let cell_count = idx(cols) * idx(rows);
        let full = self.font_dirty || self.view.text.as_ref() != Some(&params);
        if full || self.view.cells.len() != cell_count {
            self.view.cells.clear();
            self.view.cells.resize(cell_count, CELL_INVALID);
        }

        let frame = now_ms.saturating_mul(FRAMES_PER_SECOND) / 1000;
        let cursor_phase = (frame / CURSOR_FRAMES).is_multiple_of(2);
        let blink_visible = (frame / BLINK_FRAMES).is_multiple_of(2);
        let cursor_enabled = self.cr[0x0A] & 0x20 == 0;
        let cursor_at = (usize::from(self.cr[0x0E]) << 8 | usize::from(self.cr[0x0F])) & 0xFFFF;
        let ap = self.plane_enable_mask();

        let mut dirty = Vec::new();
        let mut changed = vec![false; idx(cols)];
        let mut offset = self.start_address();
        let mut line = 0u32;
        for row in 0..rows {
            changed.fill(false);
            for col in 0..cols {
                let off = (offset + idx(col)) & 0xFFFF;
                let ch = self.plane(0, off);
                let attr = self.plane(1, off);
                let mut key = u32::from(ch) | u32::from(attr) << 8;
                let cursor_here = cursor_enabled && cursor_phase && off == cursor_at;
                if cursor_here {
                    key |= CELL_CURSOR;
                }
                let hidden = params.blink_enabled && attr & 0x80 != 0 && !blink_visible;
                if hidden {
                    key |= CELL_BLINK_HIDDEN;
                }
                let slot = idx(row) * idx(cols) + idx(col);
                if self.view.cells[slot] == key {
                    continue;
                }
                self.view.cells[slot] = key;
                changed[idx(col)] = true;

                let bg_index = if params.blink_enabled {
                    (attr >> 4) & 0x07
                } else {
                    attr >> 4
                };
                let bg = params.palette[usize::from(bg_index & ap)];
                let fg = if hidden {
                    bg
                } else {
                    params.palette[usize::from(attr & 0x0F & ap)]
                };
                let font = params.font[usize::from((attr >> 3) & 1)];
                let glyph_at = font + usize::from(ch) * GLYPH_SLOT;
                let dup9 = params.line_graphics && (0xC0..=0xDF).contains(&ch);
                let cursor_lines = if cursor_here {
                    let start = u32::from(self.cr[0x0A] & 0x1F);
                    let end = u32::from(self.cr[0x0B] & 0x1F).min(cheight - 1);
                    (start <= end).then_some(start..=end)
                } else {
                    None
                };
                for y in 0..cheight {
                    let cursor_line = cursor_lines.as_ref().is_some_and(|r| r.contains(&y));
                    let bits = if cursor_line {
                        0xFF
                    } else if hidden {
                        0
                    } else {
                        self.plane(2, glyph_at + idx(y))
                    };
                    let out = surface.row_mut(row * cheight + y);
                    let x0 = idx(col * cw);
                    let Some(cell) = out.get_mut(x0..x0 + idx(cw)) else {
                        continue;
                    };
                    draw_glyph_row(cell, bits, fg, bg, dup9 || cursor_line);
                }
            }
            runs_to_rects(&changed, row, cw, cheight, &mut dirty);
            let next = line + cheight;
            offset += params.line_offset;
            if line < params.line_compare && next >= params.line_compare {
                offset = 0;
            }
            line = next;
        }
        self.view.text = Some(params);
        dirty
    }

    /// Colour plane enable (AR12) as a mask on 4-bit colour indices.
    fn plane_enable_mask(&self) -> u8 {
        self.ar[0x12] & 0x0F
    }

    fn vram_range_dirty(&self, start: usize, len: usize) -> bool {
        let first = start / 64;
        let last = (start + len.max(1) - 1) / 64;
        (first..=last).any(|b| {
            let b = b % 1024; // offsets wrap at 64 KiB
            self.vram_dirty[b / 64] & (1 << (b % 64)) != 0
        })
    }

    fn render_graphics(&mut self, surface: &mut Surface) -> Vec<Rect> {
        let (width, height, disp_width) = self.graphics_geometry();
        let shift_control = (self.gr[5] >> 5) & 3;
        let double_scan = u32::from(self.cr[9] >> 7);
        let multi_scan = if shift_control == 1 {
            double_scan
        } else {
            ((u32::from(self.cr[9] & 0x1F) + 1) << double_scan) - 1
        };
        let params = GraphicsParams {
            width,
            height,
            disp_width,
            shift_control,
            multi_scan,
            start: self.start_address(),
            line_offset: self.line_offset(),
            line_compare: self.line_compare(),
            crtc_mode: self.cr[0x17],
            plane_enable: self.plane_enable_mask(),
            half_clock: self.sr[1] & 0x08 != 0,
            palette: if shift_control >= 2 {
                self.palette256()
            } else {
                self.palette16().to_vec()
            },
        };
        let full = self.view.graphics.as_ref() != Some(&params);
        let offsets_per_line = idx(width / 8);
        let mut dirty = Vec::new();
        let mut run_start: Option<u32> = None;
        let mut line = vec![0u32; idx(disp_width)];
        let mut addr1 = params.start;
        let mut y1 = 0usize;
        let mut multi_run = multi_scan;
        for y in 0..height {
            let mut addr = addr1;
            if params.crtc_mode & 1 == 0 {
                // CGA compatibility: scan line bit 0 replaces an address bit.
                let shift = 12 + ((params.crtc_mode >> 6) & 1);
                addr = (addr & !(1 << shift)) | ((y1 & 1) << shift);
            }
            if params.crtc_mode & 2 == 0 {
                addr = (addr & !0x2000) | ((y1 & 2) << 12);
            }
            let update = full || self.vram_range_dirty(addr & 0xFFFF, offsets_per_line);
            // VRAM dirtiness is tracked per 64 offsets, so a candidate line is compared with
            // what the surface shows and reported only when its pixels really changed.
            let mut changed = false;
            if update {
                self.draw_graphics_line(&params, addr, &mut line);
                let out = surface.row_mut(y);
                let n = out.len().min(line.len());
                if out[..n] != line[..n] {
                    out[..n].copy_from_slice(&line[..n]);
                    changed = true;
                }
            }
            if changed {
                run_start.get_or_insert(y);
            } else if let Some(s) = run_start.take() {
                dirty.push(Rect::new(0, s, disp_width, y - s));
            }
            if multi_run == 0 {
                let mask = usize::from((params.crtc_mode & 3) ^ 3);
                if y1 & mask == mask {
                    addr1 += params.line_offset;
                }
                y1 += 1;
                multi_run = multi_scan;
            } else {
                multi_run -= 1;
            }
            if y == params.line_compare {
                addr1 = 0;
            }
        }
        if let Some(s) = run_start {
            dirty.push(Rect::new(0, s, disp_width, height - s));
        }
        self.view.graphics = Some(params);
        dirty
    }

    /// One scan line of `params.width` source pixels from plane offset `addr`, into `out`
    /// (`disp_width` pixels: each source pixel doubled when the dot clock is halved).
    fn draw_graphics_line(&self, params: &GraphicsParams, addr: usize, out: &mut [u32]) {
        let pal = &params.palette;
        let mut pixels = Vec::with_capacity(idx(params.width));
        let enable = params.plane_enable;
        let plane_byte = |p: usize, off: usize| {
            if enable & (1 << p) != 0 {
                self.plane(p, off)
            } else {
                0
            }
        };
        for i in 0..idx(params.width / 8) {
            let off = addr + i;
            match params.shift_control {
                0 => {
                    let p: [u8; 4] = std::array::from_fn(|k| plane_byte(k, off));
                    for bit in (0..8).rev() {
                        let c = (0..4).fold(0usize, |c, k| c | usize::from((p[k] >> bit) & 1) << k);
                        pixels.push(pal[c]);
                    }
                }
                1 => {
                    // CGA 4-colour: planes 0/2 give the first four pixels, 1/3 the next four.
                    for (lo, hi) in [(0, 2), (1, 3)] {
                        let (a, b) = (plane_byte(lo, off), plane_byte(hi, off));
                        for k in (0..4).rev() {
                            let c = usize::from((a >> (2 * k)) & 3)
                                | usize::from((b >> (2 * k)) & 3) << 2;
                            pixels.push(pal[c]);
                        }
                    }
                }
                _ => {
                    // 256 colours, chain-4 layout: byte 4·off + p lives in plane p; each
                    // byte is two dots wide.
                    for p in 0..4 {
                        let c = pal[usize::from(self.plane(p, off))];
                        pixels.push(c);
                        pixels.push(c);
                    }
                }
            }
        }
        if params.disp_width != params.width {
            for (i, px) in out.iter_mut().enumerate() {
                *px = pixels.get(i / 2).copied().unwrap_or(0);
            }
        } else {
            for (i, px) in out.iter_mut().enumerate() {
                *px = pixels.get(i).copied().unwrap_or(0);
            }
        }
    }
}

/// One scan line of a character cell: 8 glyph bits, then (9-dot cells) a ninth column that
/// repeats the eighth when `dup9`, else background; 16-dot cells double every bit.
fn draw_glyph_row(cell: &mut [u32], bits: u8, fg: u32, bg: u32, dup9: bool) {
    let px = |b: u32| {
        if u32::from(bits) >> b & 1 != 0 {
            fg
        } else {
            bg
        }
    };
    match cell.len() {
        16 => {
            for (i, out) in cell.iter_mut().enumerate() {
                let b = u32::try_from(7 - i / 2).unwrap_or(0);
                *out = px(b);
            }
        }
        n => {
            for (i, out) in cell.iter_mut().take(8).enumerate() {
                let b = u32::try_from(7 - i).unwrap_or(0);
                *out = px(b);
            }
            if n == 9 {
                cell[8] = if dup9 { px(0) } else { bg };
            }
        }
    }
}
