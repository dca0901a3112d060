//! The Bochs VBE ("dispi") extension of QEMU's std-vga: a linear framebuffer in video memory
//! and a mode set through the index/data ports 0x1CE/0x1CF.
//!
//! Register semantics follow QEMU's `hw/display/vga.c` (values a guest writes that make no
//! sense are adjusted to the closest valid ones, since the interface cannot report errors),
//! with one deliberate difference: the largest mode is [`VBE_MAX_XRES`]×[`VBE_MAX_YRES`]
//! (QEMU: 16000×12000), so that every mode the card can show fits a display surface.
//!
//! Writes through the linear framebuffer are logged per [`PAGE_SIZE`] page, like a
//! hypervisor's dirty log; the renderer looks only at scan lines that touch a logged page and
//! compares them with what the surface already shows.

use display::{Rect, Surface};

use crate::Vga;

/// VBE index port.
pub const VBE_PORT_INDEX: u16 = 0x1CE;
/// VBE data port.
pub const VBE_PORT_DATA: u16 = 0x1CF;

/// Register indices.
pub const VBE_INDEX_ID: u16 = 0x0;
/// Horizontal resolution.
pub const VBE_INDEX_XRES: u16 = 0x1;
/// Vertical resolution.
pub const VBE_INDEX_YRES: u16 = 0x2;
/// Bits per pixel.
pub const VBE_INDEX_BPP: u16 = 0x3;
/// Enable flags ([`VBE_ENABLED`], [`VBE_GETCAPS`], [`VBE_8BIT_DAC`], [`VBE_LFB_ENABLED`],
/// [`VBE_NOCLEARMEM`]).
pub const VBE_INDEX_ENABLE: u16 = 0x4;
/// 64 KiB bank of the legacy window.
pub const VBE_INDEX_BANK: u16 = 0x5;
/// Virtual (scan line) width in pixels.
pub const VBE_INDEX_VIRT_WIDTH: u16 = 0x6;
/// Virtual height (read-only in effect: what fits in video memory).
pub const VBE_INDEX_VIRT_HEIGHT: u16 = 0x7;
/// Horizontal panning offset.
pub const VBE_INDEX_X_OFFSET: u16 = 0x8;
/// Vertical panning offset.
pub const VBE_INDEX_Y_OFFSET: u16 = 0x9;
/// Video memory size in 64 KiB units (read-only).
pub const VBE_INDEX_VIDEO_MEMORY_64K: u16 = 0xA;
/// Number of plain registers.
const VBE_REGS: usize = 10;

/// Lowest interface ID a guest may select.
pub const VBE_ID0: u16 = 0xB0C0;
/// Highest interface ID (the one the card reports after reset).
pub const VBE_ID5: u16 = 0xB0C5;

/// ENABLE: the VBE mode is on.
pub const VBE_ENABLED: u16 = 0x01;
/// ENABLE: XRES/YRES/BPP read back the maxima while set.
pub const VBE_GETCAPS: u16 = 0x02;
/// ENABLE: DAC entries are 8 bits wide.
pub const VBE_8BIT_DAC: u16 = 0x20;
/// ENABLE: the linear framebuffer is used.
pub const VBE_LFB_ENABLED: u16 = 0x40;
/// ENABLE: keep video memory when enabling (otherwise the visible part is cleared).
pub const VBE_NOCLEARMEM: u16 = 0x80;

/// Widest mode (QEMU allows 16000; Porthole's display surfaces stop at 8192).
pub const VBE_MAX_XRES: u16 = 8192;
/// Tallest mode (QEMU allows 12000).
pub const VBE_MAX_YRES: u16 = 8192;
/// Deepest pixel.
pub const VBE_MAX_BPP: u16 = 32;

/// Physical address of the linear framebuffer (where SeaBIOS puts std-vga's BAR 0 on QEMU's
/// `pc` machine).
pub const LFB_BASE: u32 = 0xFD00_0000;

/// Granularity of the dirty log.
pub const PAGE_SIZE: usize = 4096;

/// Default video memory, MiB (QEMU's `VGA.vgamem_mb` default).
pub const DEFAULT_VGAMEM_MB: u32 = 16;
/// Largest video memory, MiB (QEMU's limit).
pub const MAX_VGAMEM_MB: u32 = 512;

/// Video memory size for a `vgamem_mb` value the way QEMU adjusts it: clamped to 1..=512,
/// then rounded up to a power of two.
pub fn vgamem_bytes(mb: u32) -> usize {
    let mb = mb.clamp(1, MAX_VGAMEM_MB).next_power_of_two();
    usize::try_from(mb).unwrap_or(1) * 1024 * 1024
}

/// The VBE state of the card.
#[derive(Clone, Debug)]
pub(crate) struct Vbe {
    pub(crate) index: u16,
    pub(crate) regs: [u16; VBE_REGS],
    /// Bytes per scan line of the current mode.
    pub(crate) line_offset: usize,
    /// Byte offset of the top-left visible pixel.
    pub(crate) start: usize,
    /// Byte offset added to legacy-window accesses (bank × 64 KiB).
    pub(crate) bank_offset: usize,
    /// Linear video memory.
    pub(crate) mem: Vec<u8>,
    /// One bit per [`PAGE_SIZE`] page of `mem` written since the last render.
    pub(crate) dirty: Vec<u64>,
}

impl Vbe {
    pub(crate) fn new(size: usize) -> Self {
        let pages = size.div_ceil(PAGE_SIZE);
        Self {
            index: 0,
            regs: Self::reset_regs(),
            line_offset: 0,
            start: 0,
            bank_offset: 0,
            // Zeroed pages from the allocator: untouched video memory costs no RSS.
            mem: vec![0; size],
            dirty: vec![0; pages.div_ceil(64)],
        }
    }

    fn reset_regs() -> [u16; VBE_REGS] {
        let mut r = [0; VBE_REGS];
        r[usize::from(VBE_INDEX_ID)] = VBE_ID5;
        r
    }

    pub(crate) fn reset(&mut self) {
        let size = self.mem.len();
        *self = Self::new(size);
    }

    pub(crate) fn enabled(&self) -> bool {
        self.regs[usize::from(VBE_INDEX_ENABLE)] & VBE_ENABLED != 0
    }

    pub(crate) fn reg(&self, i: u16) -> u16 {
        self.regs[usize::from(i)]
    }

    fn set(&mut self, i: u16, v: u16) {
        self.regs[usize::from(i)] = v;
    }

    /// Effective bits per pixel of the BPP register (15 is stored in 16 bits).
    pub(crate) fn bits(&self) -> u16 {
        match self.reg(VBE_INDEX_BPP) {
            15 => 16,
            b => b,
        }
    }

    fn mem_size(&self) -> usize {
        self.mem.len()
    }

    /// QEMU's `vbe_fixup_regs`: brings the mode registers to the closest valid values.
    fn fixup(&mut self) {
        if !self.enabled() {
            return;
        }
        let bits = match self.reg(VBE_INDEX_BPP) {
            4 | 8 | 16 | 24 | 32 => self.reg(VBE_INDEX_BPP),
            15 => 16,
            _ => {
                self.set(VBE_INDEX_BPP, 8);
                8
            }
        };
        let bits = usize::from(bits);
        let mut xres = self.reg(VBE_INDEX_XRES) & !7;
        if xres == 0 {
            xres = 8;
        }
        xres = xres.min(VBE_MAX_XRES);
        self.set(VBE_INDEX_XRES, xres);
        let mut vw = (self.reg(VBE_INDEX_VIRT_WIDTH) & !7).min(VBE_MAX_XRES);
        vw = vw.max(xres);
        self.set(VBE_INDEX_VIRT_WIDTH, vw);

        let line = usize::from(vw) * bits / 8;
        let maxy = (self.mem_size() / line.max(1)).min(usize::from(u16::MAX));
        let maxy16 = u16::try_from(maxy).unwrap_or(u16::MAX);
        let yres = self.reg(VBE_INDEX_YRES).clamp(1, VBE_MAX_YRES).min(maxy16);
        self.set(VBE_INDEX_YRES, yres);

        let xoff = self.reg(VBE_INDEX_X_OFFSET).min(VBE_MAX_XRES);
        let yoff = self.reg(VBE_INDEX_Y_OFFSET).min(VBE_MAX_YRES);
        self.set(VBE_INDEX_X_OFFSET, xoff);
        self.set(VBE_INDEX_Y_OFFSET, yoff);
        let visible = usize::from(yres) * line;
        let mut offset = usize::from(xoff) * bits / 8 + usize::from(yoff) * line;
        if offset + visible > self.mem_size() {
            self.set(VBE_INDEX_Y_OFFSET, 0);
            offset = usize::from(xoff) * bits / 8;
            if offset + visible > self.mem_size() {
                self.set(VBE_INDEX_X_OFFSET, 0);
                offset = 0;
            }
        }
        self.set(VBE_INDEX_VIRT_HEIGHT, maxy16);
        self.line_offset = line;
        // QEMU keeps the start in 32-bit words.
        self.start = offset & !3;
    }

    /// Marks the pages of `mem[start..start + len]` written.
    pub(crate) fn mark(&mut self, start: usize, len: usize) {
        if len == 0 {
            return;
        }
        let first = start / PAGE_SIZE;
        let last = (start + len - 1) / PAGE_SIZE;
        for p in first..=last {
            if let Some(w) = self.dirty.get_mut(p / 64) {
                *w |= 1 << (p % 64);
            }
        }
    }

    fn page_dirty(&self, p: usize) -> bool {
        self.dirty
            .get(p / 64)
            .is_some_and(|w| w & (1 << (p % 64)) != 0)
    }

    pub(crate) fn clear_dirty(&mut self) {
        self.dirty.fill(0);
    }
}

/// Everything that, when changed, forces a full redraw of a VBE mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VbeParams {
    width: u32,
    height: u32,
    bpp: u16,
    line_offset: usize,
    start: usize,
    /// The 256-colour palette, for 8 bpp only.
    palette: Vec<u32>,
}

impl Vga {
    /// Reads a VBE port (16 bits wide). Index reads give the selected index; data reads the
    /// selected register (the maxima for XRES/YRES/BPP while GETCAPS is set; video memory in
    /// 64 KiB units at index 0xA; 0 beyond).
    pub fn vbe_read(&mut self, port: u16) -> u16 {
        let vbe = &self.vbe;
        match port {
            VBE_PORT_INDEX => vbe.index,
            VBE_PORT_DATA => {
                let i = vbe.index;
                if usize::from(i) < VBE_REGS {
                    if vbe.reg(VBE_INDEX_ENABLE) & VBE_GETCAPS != 0 {
                        match i {
                            VBE_INDEX_XRES => VBE_MAX_XRES,
                            VBE_INDEX_YRES => VBE_MAX_YRES,
                            VBE_INDEX_BPP => VBE_MAX_BPP,
                            _ => vbe.reg(i),
                        }
                    } else {
                        vbe.reg(i)
                    }
                } else if i == VBE_INDEX_VIDEO_MEMORY_64K {
                    u16::try_from(vbe.mem_size() / 0x10000).unwrap_or(u16::MAX)
                } else {
                    0
                }
            }
            _ => 0xFFFF,
        }
    }

    /// Writes a VBE port (16 bits wide); see QEMU's `vbe_ioport_write_data` for what each
    /// register does. Writes to other ports are ignored.
    pub fn vbe_write(&mut self, port: u16, v: u16) {
        match port {
            VBE_PORT_INDEX => self.vbe.index = v,
            VBE_PORT_DATA => self.vbe_write_data(v),
            _ => {}
        }
    }

    fn vbe_write_data(&mut self, v: u16) {
        let i = self.vbe.index;
        match i {
            VBE_INDEX_ID if (VBE_ID0..=VBE_ID5).contains(&v) => self.vbe.set(i, v),
            VBE_INDEX_XRES | VBE_INDEX_YRES | VBE_INDEX_BPP | VBE_INDEX_VIRT_WIDTH
            | VBE_INDEX_X_OFFSET | VBE_INDEX_Y_OFFSET => {
                self.vbe.set(i, v);
                self.vbe.fixup();
            }
            VBE_INDEX_BANK => {
                let banks = self.vbe.mem_size() / 0x10000;
                let mask = u16::try_from(banks.saturating_sub(1)).unwrap_or(u16::MAX);
                let mask = if self.vbe.reg(VBE_INDEX_BPP) == 4 {
                    mask >> 2
                } else {
                    mask
                };
                let v = v & mask;
                self.vbe.set(i, v);
                self.vbe.bank_offset = usize::from(v) << 16;
            }
            VBE_INDEX_ENABLE => {
                if v & VBE_ENABLED != 0 && !self.vbe.enabled() {
                    self.vbe.set(VBE_INDEX_VIRT_WIDTH, 0);
                    self.vbe.set(VBE_INDEX_X_OFFSET, 0);
                    self.vbe.set(VBE_INDEX_Y_OFFSET, 0);
                    let e = self.vbe.reg(VBE_INDEX_ENABLE) | VBE_ENABLED;
                    self.vbe.set(VBE_INDEX_ENABLE, e);
                    self.vbe.fixup();
                    if v & VBE_NOCLEARMEM == 0 {
                        let n = (usize::from(self.vbe.reg(VBE_INDEX_YRES)) * self.vbe.line_offset)
                            .min(self.vbe.mem_size());
                        self.vbe.mem[..n].fill(0);
                        self.vbe.mark(0, n);
                    }
                    self.vbe_program_legacy_registers();
                } else {
                    self.vbe.bank_offset = 0;
                }
                self.vbe.set(VBE_INDEX_ENABLE, v);
            }
            _ => {}
        }
    }

    /// What enabling a VBE mode does to the standard registers (QEMU: graphics mode, memory
    /// map 1, no CGA addressing, chain-4 for 8 bpp and up, no double scan).
    fn vbe_program_legacy_registers(&mut self) {
        let xres = self.vbe.reg(VBE_INDEX_XRES);
        let h = u32::from(self.vbe.reg(VBE_INDEX_YRES)).saturating_sub(1);
        self.gr[6] = (self.gr[6] & !0x0C) | 0x04 | 0x01;
        self.cr[0x17] |= 3;
        self.cr[0x13] = u8::try_from((self.vbe.line_offset >> 3) & 0xFF).unwrap_or(0);
        self.cr[0x01] = u8::try_from(((xres >> 3).saturating_sub(1)) & 0xFF).unwrap_or(0);
        self.cr[0x12] = u8::try_from(h & 0xFF).unwrap_or(0);
        let overflow = u8::try_from(((h >> 7) & 0x02) | ((h >> 3) & 0x40)).unwrap_or(0);
        self.cr[0x07] = (self.cr[0x07] & !0x42) | overflow;
        self.cr[0x18] = 0xFF;
        self.cr[0x07] |= 0x10;
        self.cr[0x09] |= 0x40;
        let shift_control = if self.vbe.reg(VBE_INDEX_BPP) == 4 {
            self.sr[1] &= !8;
            0
        } else {
            self.sr[4] |= 0x08;
            self.sr[2] |= 0x0F;
            2
        };
        self.gr[5] = (self.gr[5] & !0x60) | (shift_control << 5);
        self.cr[0x09] &= !0x9F;
    }

    /// Whether a VBE mode is enabled.
    pub fn vbe_enabled(&self) -> bool {
        self.vbe.enabled()
    }

    /// Bytes of linear video memory.
    pub fn vram_size(&self) -> usize {
        self.vbe.mem_size()
    }

    /// Writes `data` into the linear framebuffer at byte `offset`; the part beyond video
    /// memory is ignored. The pages written are logged for the next render.
    pub fn lfb_write(&mut self, offset: usize, data: &[u8]) {
        let size = self.vbe.mem_size();
        if offset >= size {
            return;
        }
        let n = data.len().min(size - offset);
        self.vbe.mem[offset..offset + n].copy_from_slice(&data[..n]);
        self.vbe.mark(offset, n);
    }

    /// Reads the linear framebuffer at byte `offset` into `out`; bytes beyond video memory
    /// read as 0xFF (an open bus).
    pub fn lfb_read(&self, offset: usize, out: &mut [u8]) {
        let size = self.vbe.mem_size();
        let n = if offset >= size {
            0
        } else {
            out.len().min(size - offset)
        };
        out[..n].copy_from_slice(&self.vbe.mem[offset..offset + n]);
        out[n..].fill(0xFF);
    }

    /// Mode size of the VBE mode.
    pub(crate) fn vbe_size(&self) -> (u32, u32) {
        (
            u32::from(self.vbe.reg(VBE_INDEX_XRES)),
            u32::from(self.vbe.reg(VBE_INDEX_YRES)),
        )
    }

    /// The 256-colour palette as VBE uses it (6- or 8-bit DAC).
    fn vbe_palette(&self) -> Vec<u32> {
        let eight = self.vbe.reg(VBE_INDEX_ENABLE) & VBE_8BIT_DAC != 0;
        (0..256usize)
            .map(|i| {
                let at = i * 3;
                let c = |v: u8| {
                    if eight {
                        u32::from(v)
                    } else {
                        let v = u32::from(v & 0x3F);
                        (v << 2) | (v >> 4)
                    }
                };
                c(self.dac[at]) << 16 | c(self.dac[at + 1]) << 8 | c(self.dac[at + 2])
            })
            .collect()
    }

    /// Redraws the scan lines of the VBE mode that touch a written page (all of them after a
    /// mode or palette change) and returns the rectangles whose pixels really changed.
    pub(crate) fn render_vbe(&mut self, surface: &mut Surface) -> Vec<Rect> {
        let (width, height) = (surface.width(), surface.height());
        let bpp = self.vbe.reg(VBE_INDEX_BPP);
        let params = VbeParams {
            width,
            height,
            bpp,
            line_offset: self.vbe.line_offset,
            start: self.vbe.start,
            palette: if bpp == 8 {
                self.vbe_palette()
            } else {
                Vec::new()
            },
        };
        let full = self.view.vbe.as_ref() != Some(&params);
        if !full && self.vbe.dirty.iter().all(|&w| w == 0) {
            // A static screen costs one look at the dirty log.
            return Vec::new();
        }
        let bytes_pp = usize::from(self.vbe.bits()).div_ceil(8).max(1);
        let w = crate::render::idx(width);
        let mut rects = RectMerger::default();
        let mut line = vec![0u32; w];
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for y in 0..height {
            let row_start = params.start + crate::render::idx(y) * params.line_offset;
            let row_len = w * bytes_pp;
            let out = surface.row_mut(y);
            if row_start + row_len > self.vbe.mem.len() || bpp == 4 {
                // Nothing valid to show (fixup prevents it for the registers QEMU checks;
                // 4 bpp planar VBE modes are not rendered).
                if full {
                    out.fill(0);
                    rects.add(y, 0, width);
                }
                continue;
            }
            // Column spans (in pixels) to look at: the whole line, or only the parts that lie
            // in written pages.
            spans.clear();
            if full {
                spans.push((0, w));
            } else {
                let first = row_start / PAGE_SIZE;
                let last = (row_start + row_len - 1) / PAGE_SIZE;
                for p in first..=last {
                    if !self.vbe.page_dirty(p) {
                        continue;
                    }
                    let b0 = (p * PAGE_SIZE).max(row_start) - row_start;
                    let b1 = ((p + 1) * PAGE_SIZE).min(row_start + row_len) - row_start;
                    let (x0, x1) = (b0 / bytes_pp, b1.div_ceil(bytes_pp).min(w));
                    match spans.last_mut() {
                        Some(last) if last.1 >= x0 => last.1 = x1,
                        _ => spans.push((x0, x1)),
                    }
                }
            }
            for &(x0, x1) in &spans {
                let src = &self.vbe.mem[row_start + x0 * bytes_pp..row_start + x1 * bytes_pp];
                let conv = &mut line[x0..x1];
                convert_line(src, bpp, &params.palette, conv);
                for (c0, c1) in changed_runs(&mut out[x0..x1], conv) {
                    let cx0 = u32::try_from(x0 + c0).unwrap_or(0);
                    let cx1 = u32::try_from(x0 + c1).unwrap_or(width);
                    rects.add(y, cx0, cx1);
                }
            }
        }
        self.view.vbe = Some(params);
        rects.finish()
    }
}

/// Pixels compared at a time when looking for changes.
const CHUNK: usize = 16;
/// Unchanged chunks that may separate two changes reported as one run.
const MAX_GAP_CHUNKS: usize = 4;

/// Copies `new` over `old` where they differ and returns the changed pixel runs
/// (`start..end`, exact at both ends); changes separated by fewer than [`MAX_GAP_CHUNKS`]
/// unchanged chunks are reported as one run.
fn changed_runs(old: &mut [u32], new: &[u32]) -> Vec<(usize, usize)> {
    let len = old.len().min(new.len());
    let mut runs: Vec<(usize, usize)> = Vec::new();
    // Open run: exact start, exact end, unchanged chunks seen since its end.
    let mut open: Option<(usize, usize, usize)> = None;
    let mut lo = 0;
    while lo < len {
        let hi = (lo + CHUNK).min(len);
        let (o, n) = (&mut old[lo..hi], &new[lo..hi]);
        if o != n {
            let first = o.iter().zip(n).position(|(a, b)| a != b).unwrap_or(0);
            let last = o.iter().zip(n).rposition(|(a, b)| a != b).unwrap_or(first);
            o.copy_from_slice(n);
            open = Some(match open {
                Some((start, _, _)) => (start, lo + last + 1, 0),
                None => (lo + first, lo + last + 1, 0),
            });
        } else if let Some((start, end, gap)) = open {
            if gap + 1 >= MAX_GAP_CHUNKS {
                runs.push((start, end));
                open = None;
            } else {
                open = Some((start, end, gap + 1));
            }
        }
        lo = hi;
    }
    if let Some((start, end, _)) = open {
        runs.push((start, end));
    }
    runs
}

/// Converts one run of VBE pixels to `0x00RRGGBB` the way QEMU's renderer does (15/16 bpp
/// without low-bit replication).
fn convert_line(src: &[u8], bpp: u16, palette: &[u32], out: &mut [u32]) {
    match bpp {
        32 => {
            for (o, p) in out.iter_mut().zip(src.chunks_exact(4)) {
                *o = u32::from_le_bytes([p[0], p[1], p[2], 0]);
            }
        }
        24 => {
            for (o, p) in out.iter_mut().zip(src.chunks_exact(3)) {
                *o = u32::from_le_bytes([p[0], p[1], p[2], 0]);
            }
        }
        16 => {
            for (o, p) in out.iter_mut().zip(src.chunks_exact(2)) {
                let v = u32::from(u16::from_le_bytes([p[0], p[1]]));
                *o = ((v >> 8) & 0xF8) << 16 | ((v >> 3) & 0xFC) << 8 | ((v << 3) & 0xF8);
            }
        }
        15 => {
            for (o, p) in out.iter_mut().zip(src.chunks_exact(2)) {
                let v = u32::from(u16::from_le_bytes([p[0], p[1]]));
                *o = ((v >> 7) & 0xF8) << 16 | ((v >> 2) & 0xF8) << 8 | ((v << 3) & 0xF8);
            }
        }
        _ => {
            for (o, &p) in out.iter_mut().zip(src) {
                *o = palette.get(usize::from(p)).copied().unwrap_or(0);
            }
        }
    }
}

/// Most rectangles kept open at once while rows are scanned.
const MAX_OPEN_RECTS: usize = 16;

/// Collects per-row changed column ranges into rectangles: a range that touches the columns
/// of a rectangle that reached the row above (or this row) extends it.
#[derive(Default)]
struct RectMerger {
    /// x0, x1, y0, y1 (x1 and y1 exclusive).
    open: Vec<(u32, u32, u32, u32)>,
    done: Vec<Rect>,
}

impl RectMerger {
    fn close(&mut self, i: usize) {
        let (x0, x1, y0, y1) = self.open.remove(i);
        self.done.push(Rect::new(x0, y0, x1 - x0, y1 - y0));
    }

    fn add(&mut self, y: u32, x0: u32, x1: u32) {
        // Rectangles that did not reach the row above are finished.
        let mut i = 0;
        while i < self.open.len() {
            if self.open[i].3 < y {
                self.close(i);
            } else {
                i += 1;
            }
        }
        if let Some(r) = self
            .open
            .iter_mut()
            .find(|r| (r.3 == y || r.3 == y + 1) && x0 <= r.1 && x1 >= r.0)
        {
            *r = (r.0.min(x0), r.1.max(x1), r.2, y + 1);
            return;
        }
        if self.open.len() == MAX_OPEN_RECTS {
            self.close(0);
        }
        self.open.push((x0, x1, y, y + 1));
    }

    fn finish(mut self) -> Vec<Rect> {
        while !self.open.is_empty() {
            self.close(0);
        }
        self.done
    }
}
