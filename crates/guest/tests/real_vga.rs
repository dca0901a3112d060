//! The console guest on the real VGA card and PS/2 controller, rendered
//! into a display surface.

use display::Surface;
use guest::console::PROMPT;
use guest::{BootInfo, Bus, Guest, new_guest};
use input::QKeyCode;
use ps2::Ps2Kbd;
use vga::Vga;

/// A PC as far as the guest can see: VGA and keyboard controller.
struct Pc {
    vga: Vga,
    kbd: Ps2Kbd,
    surface: Surface,
    now_ms: u64,
}

impl Bus for Pc {
    fn outb(&mut self, port: u16, v: u8) {
        match port {
            0x60 | 0x64 => self.kbd.port_write(port, v),
            0x3B0..=0x3DF => self.vga.port_write(port, v),
            _ => {}
        }
    }

    fn inb(&mut self, port: u16) -> u8 {
        match port {
            0x60 | 0x64 => self.kbd.port_read(port),
            0x3B0..=0x3DF => self.vga.port_read(port),
            _ => 0xFF,
        }
    }

    fn writeb(&mut self, addr: u32, v: u8) {
        if (0xA0000..=0xBFFFF).contains(&addr) {
            self.vga.mem_write(addr, v);
        }
    }

    fn readb(&mut self, addr: u32) -> u8 {
        if (0xA0000..=0xBFFFF).contains(&addr) {
            self.vga.mem_read(addr)
        } else {
            0xFF
        }
    }
}

impl Pc {
    fn boot(guest: &str) -> (Pc, Box<dyn Guest>) {
        let mut pc = Pc {
            vga: Vga::new(),
            kbd: Ps2Kbd::new(),
            surface: Surface::new(1, 1).unwrap(),
            now_ms: 0,
        };
        let info = BootInfo {
            product: "Porthole".into(),
            version: "0.1.0".into(),
            name: None,
            lines: vec!["VNC display 127.0.0.1:1 (port 5901)".into()],
        };
        let mut g = new_guest(guest, info).unwrap();
        g.reset(&mut pc);
        (pc, g)
    }

    fn run(&mut self, g: &mut dyn Guest) {
        self.now_ms += 20;
        let now = self.now_ms;
        g.run(self, now);
    }

    fn render(&mut self) -> vga::Render {
        self.vga.render(&mut self.surface, self.now_ms)
    }

    fn row_text(&mut self, row: usize) -> String {
        let s: String = (0..80)
            .map(|c| {
                let off = u32::try_from((row * 80 + c) * 2).unwrap();
                char::from(self.readb(0xB8000 + off))
            })
            .collect();
        s.trim_end().to_string()
    }

    fn prompt_row(&mut self) -> usize {
        (0..25)
            .rev()
            .find(|&r| self.row_text(r).starts_with("guest>"))
            .unwrap()
    }

    fn cursor(&mut self) -> usize {
        self.outb(0x3D4, 0x0E);
        let hi = self.inb(0x3D5);
        self.outb(0x3D4, 0x0F);
        let lo = self.inb(0x3D5);
        usize::from(hi) << 8 | usize::from(lo)
    }

    fn key(&mut self, q: QKeyCode) {
        self.kbd.key_event(q, true);
        self.kbd.key_event(q, false);
    }

    /// True if the 8 left pixels of the cell at (`row`, `col`) show glyph
    /// `ch` of the card's font in `fg` on `bg`.
    fn cell_shows(&self, row: usize, col: usize, ch: u8, fg: u32, bg: u32) -> bool {
        let glyph = &vga::FONT_8X16[usize::from(ch) * 16..usize::from(ch) * 16 + 16];
        let x0 = u32::try_from(col * 9).unwrap();
        let y0 = u32::try_from(row * 16).unwrap();
        (0..16u32).all(|y| {
            (0..8u32).all(|x| {
                let on = glyph[usize::try_from(y).unwrap()] & (0x80 >> x) != 0;
                self.surface.get(x0 + x, y0 + y) == if on { fg } else { bg }
            })
        })
    }
}

const WHITE: u32 = 0xFF_FFFF;
const BLUE: u32 = 0x00_00AA;
const GREY: u32 = 0xAA_AAAA;
const BLACK: u32 = 0;

#[test]
fn console_boot_screen_renders_on_the_real_card() {
    let (mut pc, _g) = Pc::boot("console");
    let r = pc.render();
    assert!(r.resized);
    assert_eq!((pc.surface.width(), pc.surface.height()), (720, 400));
    assert_eq!(pc.row_text(0), " Porthole 0.1.0");
    assert!((1..25).any(|row| pc.row_text(row) == "VNC display 127.0.0.1:1 (port 5901)"));
    // " Porthole": 'P' in column 1 of the blue title bar.
    assert!(pc.cell_shows(0, 1, b'P', WHITE, BLUE));
    assert!(pc.cell_shows(0, 79, b' ', WHITE, BLUE));
    let row = pc.prompt_row();
    assert!(pc.cell_shows(row + 1, 0, b' ', GREY, BLACK));
}

#[test]
fn typing_on_the_real_card_echoes_and_dirties_only_the_prompt_row() {
    let (mut pc, mut g) = Pc::boot("console");
    let row = pc.prompt_row();
    pc.render();
    pc.key(QKeyCode::H);
    pc.key(QKeyCode::I);
    pc.run(g.as_mut());
    let r = pc.render();
    assert!(!r.resized);
    assert!(!r.dirty.is_empty());
    let band = u32::try_from(row * 16).unwrap()..u32::try_from(row * 16 + 16).unwrap();
    for rect in &r.dirty {
        assert!(
            band.contains(&rect.y) && rect.y + rect.h <= band.end,
            "{rect:?} outside row {row}"
        );
    }
    assert_eq!(pc.row_text(row), "guest> hi");
    assert_eq!(pc.cursor(), row * 80 + PROMPT.len() + 2);
    pc.key(QKeyCode::Ret);
    pc.run(g.as_mut());
    pc.render();
    assert_eq!(pc.row_text(row + 1), "you typed: hi");
    assert!(pc.cell_shows(row + 1, 0, b'y', 0x55_FFFF, BLACK));
}

#[test]
fn guest_reset_reloads_the_font_through_the_ports() {
    let (mut pc, mut g) = Pc::boot("console");
    // Wipe the font the card came with, the way a guest could.
    guest::text::load_font(&mut pc, &[0; 4096]);
    pc.render();
    assert!(
        pc.cell_shows(0, 1, 0, WHITE, BLUE),
        "glyph blank after wiping the font"
    );
    assert!(!pc.cell_shows(0, 1, b'P', WHITE, BLUE));
    g.reset(&mut pc);
    pc.render();
    assert!(pc.cell_shows(0, 1, b'P', WHITE, BLUE));
}

#[test]
fn bars_render_sixteen_background_colours() {
    let (mut pc, _g) = Pc::boot("bars");
    pc.render();
    let ega = [
        0x00_0000, 0x00_00AA, 0x00_AA00, 0x00_AAAA, 0xAA_0000, 0xAA_00AA, 0xAA_5500, 0xAA_AAAA,
        0x55_5555, 0x55_55FF, 0x55_FF55, 0x55_FFFF, 0xFF_5555, 0xFF_55FF, 0xFF_FF55, 0xFF_FFFF,
    ];
    for (i, colour) in ega.iter().enumerate() {
        let x = u32::try_from(i * 5 * 9 + 20).unwrap();
        assert_eq!(pc.surface.get(x, 10 * 16 + 8), *colour, "bar {i}");
    }
}
