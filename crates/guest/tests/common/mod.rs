//! A test machine: a real PS/2 keyboard controller plus a stand-in VGA
//! that stores what the guest writes (registers and the CPU's view of
//! video memory) without rendering anything.

#![allow(dead_code)] // each test file uses a different subset

use guest::{Bus, Guest};
use input::{QKeyCode, ascii_needs_shift, keysym_to_qcode};
use ps2::Ps2Kbd;

pub const VGA_MEM_BASE: u32 = 0xA0000;
pub const VGA_MEM_LEN: usize = 0x20000;

/// Register file and memory of a VGA card, without any rendering.
pub struct FakeVga {
    pub mem: Vec<u8>,
    pub misc: u8,
    pub seq: [u8; 8],
    pub seq_index: u8,
    pub crtc: [u8; 32],
    pub crtc_index: u8,
    pub gc: [u8; 16],
    pub gc_index: u8,
    pub ac: [u8; 32],
    pub ac_index: u8,
    pub ac_flip: bool,
    pub dac_writes: usize,
}

impl FakeVga {
    pub fn new() -> Self {
        FakeVga {
            mem: vec![0; VGA_MEM_LEN],
            misc: 0,
            seq: [0; 8],
            seq_index: 0,
            crtc: [0; 32],
            crtc_index: 0,
            gc: [0; 16],
            gc_index: 0,
            ac: [0; 32],
            ac_index: 0,
            ac_flip: false,
            dac_writes: 0,
        }
    }

    fn port_write(&mut self, port: u16, v: u8) {
        match port {
            0x3C2 => self.misc = v,
            0x3C4 => self.seq_index = v & 7,
            0x3C5 => self.seq[usize::from(self.seq_index)] = v,
            0x3D4 => self.crtc_index = v & 31,
            0x3D5 => self.crtc[usize::from(self.crtc_index)] = v,
            0x3CE => self.gc_index = v & 15,
            0x3CF => self.gc[usize::from(self.gc_index)] = v,
            0x3C0 => {
                if self.ac_flip {
                    self.ac[usize::from(self.ac_index & 31)] = v;
                } else {
                    self.ac_index = v;
                }
                self.ac_flip = !self.ac_flip;
            }
            0x3C9 => self.dac_writes += 1,
            _ => {}
        }
    }

    fn port_read(&mut self, port: u16) -> u8 {
        match port {
            0x3CC => self.misc,
            0x3C5 => self.seq[usize::from(self.seq_index)],
            0x3D5 => self.crtc[usize::from(self.crtc_index)],
            0x3CF => self.gc[usize::from(self.gc_index)],
            0x3DA => {
                self.ac_flip = false;
                0
            }
            _ => 0xFF,
        }
    }
}

/// Real keyboard controller + stand-in VGA, routed like a PC.
pub struct Machine {
    pub vga: FakeVga,
    pub kbd: Ps2Kbd,
    /// When false, ports 0x60/0x64 are unrouted (read 0xFF).
    pub kbd_present: bool,
    pub now_ms: u64,
}

impl Bus for Machine {
    fn outb(&mut self, port: u16, v: u8) {
        match port {
            0x60 | 0x64 if self.kbd_present => self.kbd.port_write(port, v),
            0x3B0..=0x3DF => self.vga.port_write(port, v),
            _ => {}
        }
    }

    fn inb(&mut self, port: u16) -> u8 {
        match port {
            0x60 | 0x64 if self.kbd_present => self.kbd.port_read(port),
            0x3B0..=0x3DF => self.vga.port_read(port),
            _ => 0xFF,
        }
    }

    fn writeb(&mut self, addr: u32, v: u8) {
        if let Some(i) = addr
            .checked_sub(VGA_MEM_BASE)
            .and_then(|i| usize::try_from(i).ok())
            && let Some(b) = self.vga.mem.get_mut(i)
        {
            *b = v;
        }
    }

    fn readb(&mut self, addr: u32) -> u8 {
        addr.checked_sub(VGA_MEM_BASE)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.vga.mem.get(i).copied())
            .unwrap_or(0xFF)
    }
}

impl Machine {
    pub fn new() -> Self {
        Machine {
            vga: FakeVga::new(),
            kbd: Ps2Kbd::new(),
            kbd_present: true,
            now_ms: 0,
        }
    }

    pub fn run(&mut self, g: &mut dyn Guest) {
        self.now_ms += 20;
        let now = self.now_ms;
        g.run(self, now);
    }

    pub fn key(&mut self, q: QKeyCode) {
        self.kbd.key_event(q, true);
        self.kbd.key_event(q, false);
    }

    /// Types `s` the way a VNC viewer does: Shift pressed around shifted
    /// characters, one physical key per character.
    pub fn type_str(&mut self, s: &str) {
        for c in s.bytes() {
            let q = keysym_to_qcode(u32::from(c)).expect("typable ASCII");
            let shift = ascii_needs_shift(c);
            if shift {
                self.kbd.key_event(QKeyCode::Shift, true);
            }
            self.key(q);
            if shift {
                self.kbd.key_event(QKeyCode::Shift, false);
            }
        }
    }

    /// Character at (`row`, `col`) read back through the bus.
    pub fn char_at(&mut self, row: usize, col: usize) -> u8 {
        let off = u32::try_from((row * 80 + col) * 2).unwrap();
        self.readb(0xB8000 + off)
    }

    /// Attribute at (`row`, `col`).
    pub fn attr_at(&mut self, row: usize, col: usize) -> u8 {
        let off = u32::try_from((row * 80 + col) * 2 + 1).unwrap();
        self.readb(0xB8000 + off)
    }

    /// Text of one row, trailing blanks removed.
    pub fn row_text(&mut self, row: usize) -> String {
        let s: String = (0..80).map(|c| char::from(self.char_at(row, c))).collect();
        s.trim_end().to_string()
    }

    /// All 25 rows.
    pub fn screen(&mut self) -> Vec<String> {
        (0..25).map(|r| self.row_text(r)).collect()
    }

    /// Cursor location from CR0E/CR0F, read through the ports.
    pub fn cursor(&mut self) -> usize {
        self.outb(0x3D4, 0x0E);
        let hi = self.inb(0x3D5);
        self.outb(0x3D4, 0x0F);
        let lo = self.inb(0x3D5);
        usize::from(hi) << 8 | usize::from(lo)
    }

    /// The text-mode video memory (CPU view), for determinism checks.
    pub fn text_mem(&self) -> Vec<u8> {
        self.vga.mem[0x18000..0x18000 + 4000].to_vec()
    }
}
