//! A bus for unit tests: a real VGA card (with its Bochs VBE framebuffer at [`LFB_BASE`]) and
//! a real PS/2 keyboard controller, wired the way the machine wires them.

use vga::{LFB_BASE, VBE_PORT_DATA, VBE_PORT_INDEX};

use crate::Bus;
use crate::keyboard::{KBD_DATA, KBD_STATUS};

/// The test machine's devices.
pub(crate) struct CardBus {
    pub(crate) vga: vga::Vga,
    pub(crate) kbd: ps2::Ps2Kbd,
}

impl CardBus {
    /// A card with the default video memory and a keyboard.
    pub(crate) fn new() -> Self {
        Self::with_vgamem_mb(vga::DEFAULT_VGAMEM_MB)
    }

    /// A card with `mb` MiB of video memory and a keyboard.
    pub(crate) fn with_vgamem_mb(mb: u32) -> Self {
        Self {
            vga: vga::Vga::with_vgamem_mb(mb),
            kbd: ps2::Ps2Kbd::new(),
        }
    }

    /// What the card shows now (a fresh surface, so everything is rendered).
    pub(crate) fn frame(&mut self) -> display::Surface {
        let mut s = display::Surface::new(1, 1).unwrap();
        self.vga.render(&mut s, 0);
        s
    }

    /// Presses and releases the keys that type `text` (lower-case ASCII, digits, space,
    /// `\n` for Enter and `\x08` for Backspace; no shifted characters).
    pub(crate) fn type_text(&mut self, text: &str) {
        for b in text.bytes() {
            let keysym = match b {
                b'\n' => 0xFF0D,
                0x08 => 0xFF08,
                _ => u32::from(b),
            };
            let qcode = input::keysym_to_qcode(keysym).expect("a key for every test character");
            assert!(!input::ascii_needs_shift(b), "{b:?} needs shift");
            self.kbd.key_event(qcode, true);
            self.kbd.key_event(qcode, false);
        }
    }
}

impl Bus for CardBus {
    fn outb(&mut self, port: u16, v: u8) {
        match port {
            KBD_DATA | KBD_STATUS => self.kbd.port_write(port, v),
            VBE_PORT_INDEX | VBE_PORT_DATA => self.vga.vbe_write(port, u16::from(v)),
            _ => self.vga.port_write(port, v),
        }
    }
    fn inb(&mut self, port: u16) -> u8 {
        match port {
            KBD_DATA | KBD_STATUS => self.kbd.port_read(port),
            VBE_PORT_INDEX | VBE_PORT_DATA => self.vga.vbe_read(port).to_le_bytes()[0],
            _ => self.vga.port_read(port),
        }
    }
    fn writeb(&mut self, addr: u32, v: u8) {
        self.write_bytes(addr, &[v]);
    }
    fn readb(&mut self, addr: u32) -> u8 {
        if addr >= LFB_BASE {
            let mut b = [0xFF];
            self.vga
                .lfb_read(usize::try_from(addr - LFB_BASE).unwrap(), &mut b);
            b[0]
        } else {
            self.vga.mem_read(addr)
        }
    }
    fn outw(&mut self, port: u16, v: u16) {
        if matches!(port, VBE_PORT_INDEX | VBE_PORT_DATA) {
            self.vga.vbe_write(port, v);
        } else {
            let [lo, hi] = v.to_le_bytes();
            self.outb(port, lo);
            self.outb(port.wrapping_add(1), hi);
        }
    }
    fn inw(&mut self, port: u16) -> u16 {
        if matches!(port, VBE_PORT_INDEX | VBE_PORT_DATA) {
            self.vga.vbe_read(port)
        } else {
            u16::from_le_bytes([self.inb(port), self.inb(port.wrapping_add(1))])
        }
    }
    fn write_bytes(&mut self, addr: u32, data: &[u8]) {
        if addr >= LFB_BASE {
            self.vga
                .lfb_write(usize::try_from(addr - LFB_BASE).unwrap(), data);
        } else {
            for (a, &b) in (addr..).zip(data) {
                self.vga.mem_write(a, b);
            }
        }
    }
}
