//! A standard VGA card emulated at register level.
//!
//! Design note:
//! - A guest drives the card exactly as it would real hardware: byte port I/O on
//!   0x3B4/0x3B5/0x3BA/0x3C0–0x3CF/0x3D4/0x3D5/0x3DA ([`Vga::port_read`], [`Vga::port_write`])
//!   and byte accesses to the legacy window 0xA0000–0xBFFFF ([`Vga::mem_read`],
//!   [`Vga::mem_write`]), decoded by the graphics controller's memory map select.
//! - VRAM is 4 planes × 64 KiB. Addressing follows QEMU's model so that guests see what they
//!   see under QEMU: odd/even (text) mode sends even CPU bytes to plane 0 (character) and odd
//!   bytes to plane 1 (attribute) at plane offset `addr >> 1`; chain-4 sends byte `a` to plane
//!   `a & 3` at offset `a >> 2`; otherwise accesses are planar with latches, read modes 0–1,
//!   write modes 0–3, set/reset, data rotate, logical operation and bit mask. Plane 2 holds the
//!   font, 32 bytes per glyph slot, 8 KiB-aligned slots chosen by SR3.
//! - [`Vga::render`] turns the registers and VRAM into a [`display::Surface`] and reports the
//!   rectangles that changed. Text mode keeps a per-cell cache (character, attribute, cursor
//!   and blink state), so only changed cells are redrawn; any change of geometry, palette,
//!   font or mode redraws everything. Graphics modes (16-colour planar, CGA 4-colour and
//!   256-colour chain-4 such as mode 13h) redraw only scan lines whose VRAM was written.
//! - Blinking is derived from the caller's clock (`now_ms`), so tests need no sleeps: the
//!   cursor toggles every 16 frames and blinking text every 32 frames of a 60 Hz display.
//!
//! The card knows nothing of VNC; it reports rectangles and a consumer forwards them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod render;
mod tables;
mod vbe;

pub use display::Rect;
pub use render::Render;
pub use vbe::*;

use render::View;

/// Bytes of video memory: 4 planes × 64 KiB.
pub const VRAM_SIZE: usize = 256 * 1024;
/// Bytes per plane.
pub const PLANE_SIZE: usize = VRAM_SIZE / 4;

/// The 8×16 font loaded into plane 2 at reset: 256 glyphs in code page 437 order, 16 bytes
/// each, bit 7 = leftmost pixel. Derived from Terminus Font (SIL OFL 1.1); see `fonts/README`.
pub static FONT_8X16: &[u8; 4096] = include_bytes!("../fonts/cp437-8x16.bin");

/// Bytes per glyph slot in plane 2 (the font holds up to 32 scan lines per character).
pub(crate) const GLYPH_SLOT: usize = 32;

/// Number of attribute controller registers (AR00–AR14).
const AR_COUNT: usize = 0x15;

/// Misc output bit 0: CRTC and input status at 0x3Dx (colour) rather than 0x3Bx (mono).
const MISC_COLOR: u8 = 0x01;
/// Input status 1: display disabled (horizontal or vertical retrace).
const ST01_DISP_ENABLE: u8 = 0x01;
/// Input status 1: vertical retrace.
const ST01_V_RETRACE: u8 = 0x08;
/// CR11 bit 7: CR0–CR7 write protect.
const CR11_PROTECT: u8 = 0x80;
/// SR4 bit 3: chain-4.
const SR4_CHAIN4: u8 = 0x08;
/// GR5 bit 4: host odd/even addressing.
const GR5_ODD_EVEN: u8 = 0x10;
/// GR5 bit 3: read mode 1 (colour compare).
const GR5_READ_MODE1: u8 = 0x08;

/// The VGA card.
#[derive(Clone, Debug)]
pub struct Vga {
    /// Plane `p` occupies `vram[p * PLANE_SIZE..(p + 1) * PLANE_SIZE]`.
    vram: Vec<u8>,
    latch: [u8; 4],
    misc: u8,
    fcr: u8,
    st01: u8,
    sr_index: u8,
    sr: [u8; 8],
    gr_index: u8,
    gr: [u8; 16],
    cr_index: u8,
    cr: [u8; 256],
    ar_index: u8,
    ar: [u8; AR_COUNT],
    /// False: the next 0x3C0 write is an index; true: it is data.
    ar_flip_flop: bool,
    dac_read_index: u8,
    dac_write_index: u8,
    dac_sub: u8,
    dac_state: u8,
    dac_cache: [u8; 3],
    /// 256 entries × (R, G, B), 6 bits each.
    dac: [u8; 768],
    pel_mask: u8,
    /// Plane 2 was written since the last render (the font may have changed).
    font_dirty: bool,
    /// Plane offsets written since the last render, one bit per 64 offsets.
    vram_dirty: [u64; 16],
    /// The Bochs VBE extension and the linear video memory.
    vbe: vbe::Vbe,
    view: View,
}

impl Default for Vga {
    fn default() -> Self {
        Self::new()
    }
}

impl Vga {
    /// A card with the default 16 MiB of video memory at power-on, then
    /// [`reset`](Self::reset) to BIOS mode 3.
    pub fn new() -> Self {
        Self::with_vgamem_mb(DEFAULT_VGAMEM_MB)
    }

    /// A card with `mb` MiB of linear video memory, adjusted as QEMU adjusts `vgamem_mb`
    /// ([`vgamem_bytes`]).
    pub fn with_vgamem_mb(mb: u32) -> Self {
        let mut vga = Self {
            vram: vec![0; VRAM_SIZE],
            latch: [0; 4],
            misc: 0,
            fcr: 0,
            st01: 0,
            sr_index: 0,
            sr: [0; 8],
            gr_index: 0,
            gr: [0; 16],
            cr_index: 0,
            cr: [0; 256],
            ar_index: 0,
            ar: [0; AR_COUNT],
            ar_flip_flop: false,
            dac_read_index: 0,
            dac_write_index: 0,
            dac_sub: 0,
            dac_state: 0,
            dac_cache: [0; 3],
            dac: [0; 768],
            pel_mask: 0xFF,
            font_dirty: true,
            vram_dirty: [u64::MAX; 16],
            vbe: vbe::Vbe::new(vgamem_bytes(mb)),
            view: View::default(),
        };
        vga.reset();
        vga
    }

    /// The state a VGA BIOS leaves after setting mode 3: 80×25 text in 9×16 cells
    /// (720×400), 16 colours, the 8×16 font in plane 2 slot 0, the screen cleared to grey on
    /// black spaces, cursor on scan lines 14–15 at the top left, the DAC loaded with the
    /// standard EGA palette.
    pub fn reset(&mut self) {
        self.vram.fill(0);
        self.latch = [0; 4];
        self.misc = tables::MODE3_MISC;
        self.fcr = 0;
        self.st01 = 0;
        self.sr_index = 0;
        self.sr = [0; 8];
        self.sr[..tables::MODE3_SR.len()].copy_from_slice(&tables::MODE3_SR);
        self.gr_index = 0;
        self.gr = [0; 16];
        self.gr[..tables::MODE3_GR.len()].copy_from_slice(&tables::MODE3_GR);
        self.cr_index = 0;
        self.cr = [0; 256];
        self.cr[..tables::MODE3_CR.len()].copy_from_slice(&tables::MODE3_CR);
        self.ar = tables::MODE3_AR;
        self.ar_index = 0x20; // palette address source: video enabled
        self.ar_flip_flop = false;
        self.dac_read_index = 0;
        self.dac_write_index = 0;
        self.dac_sub = 0;
        self.dac_state = 0;
        self.dac_cache = [0; 3];
        self.dac = [0; 768];
        for i in 0..64u8 {
            let at = usize::from(i) * 3;
            self.dac[at..at + 3].copy_from_slice(&tables::ega_dac_entry(i));
        }
        self.pel_mask = 0xFF;

        // Font into plane 2, slot 0.
        let plane2 = 2 * PLANE_SIZE;
        for (ch, glyph) in FONT_8X16.chunks_exact(16).enumerate() {
            let at = plane2 + ch * GLYPH_SLOT;
            self.vram[at..at + 16].copy_from_slice(glyph);
        }
        // Clear the text pages: spaces, light grey on black.
        self.vram[..0x4000].fill(b' ');
        self.vram[PLANE_SIZE..PLANE_SIZE + 0x4000].fill(0x07);

        self.font_dirty = true;
        self.vram_dirty = [u64::MAX; 16];
        self.vbe.reset();
        self.view = View::default();
    }

    fn port_invalid(&self, port: u16) -> bool {
        if self.misc & MISC_COLOR != 0 {
            (0x3B0..=0x3BF).contains(&port)
        } else {
            (0x3D0..=0x3DF).contains(&port)
        }
    }

    /// Whether the card decodes `port` at all (QEMU's VGA port list).
    fn decodes(port: u16) -> bool {
        matches!(
            port,
            0x3B4 | 0x3B5 | 0x3BA | 0x3C0..=0x3CF | 0x3D4 | 0x3D5 | 0x3DA
        )
    }

    /// Reads an I/O port. Ports the card does not decode, and the CRTC/status ports of the
    /// mode not selected by misc output bit 0, read as 0xFF (an open bus).
    pub fn port_read(&mut self, port: u16) -> u8 {
        if !Self::decodes(port) || self.port_invalid(port) {
            return 0xFF;
        }
        match port {
            // The index (with PAS) reads back whichever way the flip-flop points, as on
            // real hardware (QEMU returns 0 while it expects data).
            0x3C0 => self.ar_index,
            0x3C1 => self
                .ar
                .get(usize::from(self.ar_index & 0x1F))
                .copied()
                .unwrap_or(0),
            0x3C4 => self.sr_index,
            0x3C5 => self.sr[usize::from(self.sr_index)],
            0x3C6 => self.pel_mask,
            0x3C7 => self.dac_state,
            0x3C8 => self.dac_write_index,
            0x3C9 => {
                let v = self.dac[usize::from(self.dac_read_index) * 3 + usize::from(self.dac_sub)];
                self.dac_sub += 1;
                if self.dac_sub == 3 {
                    self.dac_sub = 0;
                    self.dac_read_index = self.dac_read_index.wrapping_add(1);
                }
                v
            }
            0x3CA => self.fcr,
            0x3CC => self.misc,
            0x3CE => self.gr_index,
            0x3CF => self.gr[usize::from(self.gr_index)],
            0x3B4 | 0x3D4 => self.cr_index,
            0x3B5 | 0x3D5 => self.cr[usize::from(self.cr_index)],
            0x3BA | 0x3DA => {
                // No real timing: toggle the retrace bits so that polling loops progress.
                self.st01 ^= ST01_V_RETRACE | ST01_DISP_ENABLE;
                self.ar_flip_flop = false;
                self.st01
            }
            // 0x3C2 input status 0 and the remaining decoded ports.
            _ => 0,
        }
    }

    /// Writes an I/O port; writes to ports the card does not decode are ignored.
    pub fn port_write(&mut self, port: u16, v: u8) {
        if !Self::decodes(port) || self.port_invalid(port) {
            return;
        }
        match port {
            0x3C0 => {
                if self.ar_flip_flop {
                    let index = usize::from(self.ar_index & 0x1F);
                    let masked = match index {
                        0x00..=0x0F => Some(v & 0x3F),
                        0x10 => Some(v & !0x10),
                        0x11 => Some(v),
                        0x12 => Some(v & 0x3F),
                        0x13 | 0x14 => Some(v & 0x0F),
                        _ => None,
                    };
                    if let Some(m) = masked {
                        self.ar[index] = m;
                    }
                } else {
                    self.ar_index = v & 0x3F;
                }
                self.ar_flip_flop = !self.ar_flip_flop;
            }
            0x3C2 => self.misc = v & !0x10,
            0x3C4 => self.sr_index = v & 0x07,
            0x3C5 => {
                let i = usize::from(self.sr_index);
                self.sr[i] = v & tables::SR_MASK[i];
            }
            0x3C6 => self.pel_mask = v,
            0x3C7 => {
                self.dac_read_index = v;
                self.dac_sub = 0;
                self.dac_state = 3;
            }
            0x3C8 => {
                self.dac_write_index = v;
                self.dac_sub = 0;
                self.dac_state = 0;
            }
            0x3C9 => {
                self.dac_cache[usize::from(self.dac_sub)] = v;
                self.dac_sub += 1;
                if self.dac_sub == 3 {
                    let at = usize::from(self.dac_write_index) * 3;
                    self.dac[at..at + 3].copy_from_slice(&self.dac_cache);
                    self.dac_sub = 0;
                    self.dac_write_index = self.dac_write_index.wrapping_add(1);
                }
            }
            0x3CE => self.gr_index = v & 0x0F,
            0x3CF => {
                let i = usize::from(self.gr_index);
                self.gr[i] = v & tables::GR_MASK[i];
            }
            0x3B4 | 0x3D4 => self.cr_index = v,
            0x3B5 | 0x3D5 => {
                let i = self.cr_index;
                if self.cr[0x11] & CR11_PROTECT != 0 && i <= 0x07 {
                    // Protected; only CR7 bit 4 (line compare bit 8) stays writable.
                    if i == 0x07 {
                        self.cr[7] = (self.cr[7] & !0x10) | (v & 0x10);
                    }
                    return;
                }
                self.cr[usize::from(i)] = v;
            }
            0x3BA | 0x3DA => self.fcr = v & 0x10,
            _ => {}
        }
    }

    /// Writes a 16-bit port as two byte writes (`port` gets the low byte, `port + 1` the high
    /// one), as `out dx, ax` does for the index/data pairs.
    pub fn port_write_u16(&mut self, port: u16, v: u16) {
        let [lo, hi] = v.to_le_bytes();
        self.port_write(port, lo);
        self.port_write(port.wrapping_add(1), hi);
    }

    /// The offset inside the 128 KiB legacy window that the memory map select decodes, or
    /// `None` when `addr` is outside the window or the selected part of it.
    fn window_offset(&self, addr: u32) -> Option<u32> {
        let a = addr.checked_sub(0xA0000).filter(|&a| a < 0x20000)?;
        match (self.gr[6] >> 2) & 3 {
            0 => Some(a),
            1 => (a < 0x10000).then_some(a),
            2 => a.checked_sub(0x10000).filter(|&a| a < 0x8000),
            _ => a.checked_sub(0x18000).filter(|&a| a < 0x8000),
        }
    }

    fn mark_vram(&mut self, offset: usize) {
        let block = offset / 64;
        self.vram_dirty[block / 64] |= 1 << (block % 64);
    }

    /// Reads a byte of the legacy window (physical 0xA0000–0xBFFFF); 0xFF outside the part
    /// selected by GR6. Planar reads load the latches.
    pub fn mem_read(&mut self, addr: u32) -> u8 {
        let Some(a) = self.window_offset(addr) else {
            return 0xFF;
        };
        let a = usize::try_from(a).unwrap_or(0);
        if self.vbe.enabled() && self.sr[4] & SR4_CHAIN4 != 0 {
            let mut b = [0xFF];
            self.lfb_read(self.vbe.bank_offset + a, &mut b);
            b[0]
        } else if self.sr[4] & SR4_CHAIN4 != 0 {
            let plane = a & 3;
            self.vram[plane * PLANE_SIZE + ((a >> 2) & 0xFFFF)]
        } else if self.gr[5] & GR5_ODD_EVEN != 0 {
            let plane = usize::from(self.gr[4] & 2) | (a & 1);
            self.vram[plane * PLANE_SIZE + ((a >> 1) & 0xFFFF)]
        } else {
            let off = a & 0xFFFF;
            for p in 0..4 {
                self.latch[p] = self.vram[p * PLANE_SIZE + off];
            }
            if self.gr[5] & GR5_READ_MODE1 == 0 {
                self.latch[usize::from(self.gr[4] & 3)]
            } else {
                // Colour compare: a 1 where every plane not masked out by GR7 matches GR2.
                let mut differ = 0u8;
                for p in 0..4 {
                    if self.gr[7] & (1 << p) != 0 {
                        let want = if self.gr[2] & (1 << p) != 0 { 0xFF } else { 0 };
                        differ |= self.latch[p] ^ want;
                    }
                }
                !differ
            }
        }
    }

    /// Writes a byte of the legacy window (physical 0xA0000–0xBFFFF); ignored outside the
    /// part selected by GR6.
    pub fn mem_write(&mut self, addr: u32, v: u8) {
        let Some(a) = self.window_offset(addr) else {
            return;
        };
        let a = usize::try_from(a).unwrap_or(0);
        let map_mask = self.sr[2];
        if self.vbe.enabled() && self.sr[4] & SR4_CHAIN4 != 0 {
            // A VBE mode's banked window onto the linear video memory.
            self.lfb_write(self.vbe.bank_offset + a, &[v]);
        } else if self.sr[4] & SR4_CHAIN4 != 0 {
            let plane = a & 3;
            if map_mask & (1 << plane) != 0 {
                let off = (a >> 2) & 0xFFFF;
                self.vram[plane * PLANE_SIZE + off] = v;
                self.note_write(1 << plane, off);
            }
        } else if self.gr[5] & GR5_ODD_EVEN != 0 {
            let plane = usize::from(self.gr[4] & 2) | (a & 1);
            if map_mask & (1 << plane) != 0 {
                let off = (a >> 1) & 0xFFFF;
                self.vram[plane * PLANE_SIZE + off] = v;
                self.note_write(1 << plane, off);
            }
        } else {
            let off = a & 0xFFFF;
            let planes = self.planar_write_value(v);
            for (p, byte) in planes.iter().enumerate() {
                if map_mask & (1 << p) != 0 {
                    self.vram[p * PLANE_SIZE + off] = *byte;
                }
            }
            self.note_write(map_mask, off);
        }
    }

    fn note_write(&mut self, planes: u8, off: usize) {
        if planes & 0b0100 != 0 {
            self.font_dirty = true;
        }
        if planes & 0x0F != 0 {
            self.mark_vram(off);
        }
    }

    /// The four plane bytes a planar write of `v` produces (before the map mask).
    fn planar_write_value(&self, v: u8) -> [u8; 4] {
        let rotate = u32::from(self.gr[3] & 7);
        let set_reset = |p: usize| if self.gr[0] & (1 << p) != 0 { 0xFF } else { 0 };
        let (mut val, bit_mask) = match self.gr[5] & 3 {
            0 => {
                let b = v.rotate_right(rotate);
                let mut val = [b; 4];
                for (p, byte) in val.iter_mut().enumerate() {
                    if self.gr[1] & (1 << p) != 0 {
                        *byte = set_reset(p);
                    }
                }
                (val, self.gr[8])
            }
            1 => return self.latch,
            2 => {
                let val = std::array::from_fn(|p| if v & (1 << p) != 0 { 0xFF } else { 0 });
                (val, self.gr[8])
            }
            _ => {
                let b = v.rotate_right(rotate);
                (std::array::from_fn(set_reset), self.gr[8] & b)
            }
        };
        for (p, byte) in val.iter_mut().enumerate() {
            let latch = self.latch[p];
            let op = match (self.gr[3] >> 3) & 3 {
                0 => *byte,
                1 => *byte & latch,
                2 => *byte | latch,
                _ => *byte ^ latch,
            };
            *byte = (op & bit_mask) | (latch & !bit_mask);
        }
        val
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod vbe_tests;
