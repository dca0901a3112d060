//! VGA text mode as a guest programs it: mode-3 register set through the
//! ports, character cells at `0xB8000`, hardware cursor through CRTC
//! registers `0x0E`/`0x0F`.
//!
//! [`TextScreen`] keeps a shadow of the 80×25 cells and writes a cell to
//! video memory only when it changes, so redrawing a line or scrolling
//! costs only the cells that differ.

use crate::Bus;

/// Columns of the 80×25 text mode.
pub const COLS: usize = 80;
/// Rows of the 80×25 text mode.
pub const ROWS: usize = 25;
/// Physical address of the colour text buffer.
pub const TEXT_BASE: u32 = 0xB8000;

/// Miscellaneous output register (write).
pub const MISC_WRITE: u16 = 0x3C2;
/// Sequencer index / data.
pub const SEQ_INDEX: u16 = 0x3C4;
/// Sequencer data.
pub const SEQ_DATA: u16 = 0x3C5;
/// DAC pixel mask.
pub const DAC_MASK: u16 = 0x3C6;
/// DAC write index.
pub const DAC_WRITE_INDEX: u16 = 0x3C8;
/// DAC data.
pub const DAC_DATA: u16 = 0x3C9;
/// Graphics controller index.
pub const GC_INDEX: u16 = 0x3CE;
/// Graphics controller data.
pub const GC_DATA: u16 = 0x3CF;
/// Attribute controller index/data (write).
pub const AC_WRITE: u16 = 0x3C0;
/// CRTC index (colour).
pub const CRTC_INDEX: u16 = 0x3D4;
/// CRTC data (colour).
pub const CRTC_DATA: u16 = 0x3D5;
/// Input status 1 (colour); reading it resets the attribute flip-flop.
pub const INPUT_STATUS_1: u16 = 0x3DA;

/// CRTC register: cursor start scan line.
pub const CR_CURSOR_START: u8 = 0x0A;
/// CRTC register: cursor end scan line.
pub const CR_CURSOR_END: u8 = 0x0B;
/// CRTC register: start address high.
pub const CR_START_HI: u8 = 0x0C;
/// CRTC register: start address low.
pub const CR_START_LO: u8 = 0x0D;
/// CRTC register: cursor location high.
pub const CR_CURSOR_HI: u8 = 0x0E;
/// CRTC register: cursor location low.
pub const CR_CURSOR_LO: u8 = 0x0F;

/// Standard mode-3 (80×25 colour text, 9×16 cells) register values.
const MISC_MODE3: u8 = 0x67;
const SEQ_MODE3: [u8; 5] = [0x03, 0x00, 0x03, 0x00, 0x02];
const CRTC_MODE3: [u8; 25] = [
    0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00,
    0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
];
const GC_MODE3: [u8; 9] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF];
const AC_MODE3: [u8; 21] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
    0x0C, 0x00, 0x0F, 0x08, 0x00,
];
/// Attribute mode control register index.
const AC_MODE_CONTROL: u8 = 0x10;
/// Attribute mode control bit: blink instead of bright backgrounds.
const AC_MODE_BLINK: u8 = 0x08;
/// Attribute index bit that gives the palette back to the display.
const AC_PALETTE_ENABLE: u8 = 0x20;

/// Cursor shape: scan lines 14–15 of the 16-line cell (the underline a
/// BIOS sets up).
pub const CURSOR_START_LINE: u8 = 0x0E;
/// CR0A bit that hides the cursor.
pub const CURSOR_DISABLE: u8 = 0x20;
/// Cursor shape end line.
pub const CURSOR_END_LINE: u8 = 0x0F;

/// Writes one indexed register (index port, then data port).
pub(crate) fn write_indexed(bus: &mut dyn Bus, index_port: u16, index: u8, v: u8) {
    bus.outb(index_port, index);
    bus.outb(index_port + 1, v);
}

/// Reads one CRTC register.
pub fn read_crtc(bus: &mut dyn Bus, index: u8) -> u8 {
    bus.outb(CRTC_INDEX, index);
    bus.inb(CRTC_DATA)
}

/// The 64-colour EGA palette as 6-bit DAC values: bits 0–2 add 2/3 of
/// blue, green, red; bits 3–5 add 1/3.
fn ega_dac(i: u8) -> [u8; 3] {
    let level = |hi: u8, lo: u8| ((i >> hi) & 1) * 0x2A + ((i >> lo) & 1) * 0x15;
    [level(2, 5), level(1, 4), level(0, 3)]
}

/// Programs 80×25 colour text mode through the VGA ports, as a BIOS mode
/// set does; [`load_font`] then loads the glyphs.
///
/// `blink` selects blinking text (bit 7 of the attribute) instead of
/// bright background colours.
pub fn set_mode3(bus: &mut dyn Bus, blink: bool) {
    // Hold the sequencer in reset while the clocks change.
    write_indexed(bus, SEQ_INDEX, 0, 0x01);
    bus.outb(MISC_WRITE, MISC_MODE3);
    for (i, &v) in (1u8..).zip(SEQ_MODE3.iter().skip(1)) {
        write_indexed(bus, SEQ_INDEX, i, v);
    }
    write_indexed(bus, SEQ_INDEX, 0, SEQ_MODE3[0]);

    // Unlock CRTC registers 0-7 (CR11 bit 7), then load them all.
    write_indexed(bus, CRTC_INDEX, 0x11, CRTC_MODE3[0x11] & 0x7F);
    for (i, &v) in (0u8..).zip(CRTC_MODE3.iter()) {
        write_indexed(bus, CRTC_INDEX, i, v);
    }
    for (i, &v) in (0u8..).zip(GC_MODE3.iter()) {
        write_indexed(bus, GC_INDEX, i, v);
    }

    // The attribute controller shares one port for index and data; reading
    // input status 1 puts its flip-flop on "index".
    bus.inb(INPUT_STATUS_1);
    for (i, &v) in (0u8..).zip(AC_MODE3.iter()) {
        let v = if i == AC_MODE_CONTROL && !blink {
            v & !AC_MODE_BLINK
        } else {
            v
        };
        bus.outb(AC_WRITE, i);
        bus.outb(AC_WRITE, v);
    }
    bus.outb(AC_WRITE, AC_PALETTE_ENABLE);

    bus.outb(DAC_MASK, 0xFF);
    bus.outb(DAC_WRITE_INDEX, 0);
    for i in 0..64u8 {
        for c in ega_dac(i) {
            bus.outb(DAC_DATA, c);
        }
    }

    write_indexed(bus, CRTC_INDEX, CR_CURSOR_START, CURSOR_START_LINE);
    write_indexed(bus, CRTC_INDEX, CR_CURSOR_END, CURSOR_END_LINE);
    write_indexed(bus, CRTC_INDEX, CR_START_HI, 0);
    write_indexed(bus, CRTC_INDEX, CR_START_LO, 0);
}

/// Bytes per glyph in an 8×16 font.
pub const GLYPH_HEIGHT: usize = 16;
/// Bytes per glyph slot in plane 2 (room for 32 scan lines).
const GLYPH_SLOT: u32 = 32;
/// Address of plane 2 while it is mapped for font loading.
const FONT_WINDOW: u32 = 0xA0000;

/// Loads an 8×16 font (256 glyphs, 16 bytes each, CP437 order) into font
/// slot 0 of plane 2, as a VGA BIOS does on a text mode set: map plane 2
/// alone at `0xA0000`, write the glyphs, then restore text addressing.
/// Call after [`set_mode3`].
pub fn load_font(bus: &mut dyn Bus, font: &[u8; 256 * GLYPH_HEIGHT]) {
    write_indexed(bus, SEQ_INDEX, 0x02, 0x04); // write plane 2 only
    write_indexed(bus, SEQ_INDEX, 0x04, 0x07); // sequential, no odd/even
    write_indexed(bus, SEQ_INDEX, 0x03, 0x00); // character map 0
    write_indexed(bus, GC_INDEX, 0x04, 0x02); // read plane 2
    write_indexed(bus, GC_INDEX, 0x05, 0x00); // write mode 0, no odd/even
    write_indexed(bus, GC_INDEX, 0x06, 0x04); // A0000-AFFFF, no chaining
    for (glyph, rows) in (0u32..).zip(font.chunks_exact(GLYPH_HEIGHT)) {
        for (row, &bits) in (0u32..).zip(rows) {
            bus.writeb(FONT_WINDOW + glyph * GLYPH_SLOT + row, bits);
        }
    }
    write_indexed(bus, SEQ_INDEX, 0x02, SEQ_MODE3[2]);
    write_indexed(bus, SEQ_INDEX, 0x04, SEQ_MODE3[4]);
    write_indexed(bus, GC_INDEX, 0x04, GC_MODE3[4]);
    write_indexed(bus, GC_INDEX, 0x05, GC_MODE3[5]);
    write_indexed(bus, GC_INDEX, 0x06, GC_MODE3[6]);
}

/// A character cell: code page 437 character and attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Character (CP437).
    pub ch: u8,
    /// Attribute: foreground in bits 0–3, background in bits 4–6(7).
    pub attr: u8,
}

/// The 80×25 text screen with a shadow copy of what video memory holds.
#[derive(Debug, Clone)]
pub struct TextScreen {
    /// What this guest last wrote to each cell; `None` = unknown.
    shadow: Vec<Option<Cell>>,
    cursor: Option<u16>,
}

impl Default for TextScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl TextScreen {
    /// A screen whose video memory content is unknown.
    #[must_use]
    pub fn new() -> Self {
        TextScreen {
            shadow: vec![None; COLS * ROWS],
            cursor: None,
        }
    }

    /// Forgets what video memory holds (after a mode set), so the next
    /// writes go through.
    pub fn invalidate(&mut self) {
        self.shadow.fill(None);
        self.cursor = None;
    }

    /// Writes every known cell to video memory again and forgets the cursor position: after
    /// a mode set, or after writes that went only to the shadow.
    pub fn rewrite(&mut self, bus: &mut dyn Bus) {
        let cells = std::mem::take(&mut self.shadow);
        self.shadow = vec![None; COLS * ROWS];
        self.cursor = None;
        for (i, cell) in cells.into_iter().enumerate() {
            if let Some(cell) = cell {
                self.put(bus, i / COLS, i % COLS, cell);
            }
        }
    }

    /// The cell at (`row`, `col`) as last written, if known.
    #[must_use]
    pub fn cell(&self, row: usize, col: usize) -> Option<Cell> {
        self.shadow.get(row * COLS + col).copied().flatten()
    }

    /// Writes one cell; off-screen positions are ignored.
    pub fn put(&mut self, bus: &mut dyn Bus, row: usize, col: usize, cell: Cell) {
        if row >= ROWS || col >= COLS {
            return;
        }
        let i = row * COLS + col;
        if self.shadow[i] == Some(cell) {
            return;
        }
        self.shadow[i] = Some(cell);
        // i < 2000, so the offset fits easily.
        let off = u32::try_from(i * 2).unwrap_or(0);
        bus.writeb(TEXT_BASE + off, cell.ch);
        bus.writeb(TEXT_BASE + off + 1, cell.attr);
    }

    /// Writes `text` from (`row`, `col`), cut at the right edge; returns the
    /// column after the last character written.
    pub fn put_str(
        &mut self,
        bus: &mut dyn Bus,
        row: usize,
        col: usize,
        text: &str,
        attr: u8,
    ) -> usize {
        let mut c = col;
        for ch in text.chars() {
            if c >= COLS {
                break;
            }
            self.put(
                bus,
                row,
                c,
                Cell {
                    ch: to_cp437(ch),
                    attr,
                },
            );
            c += 1;
        }
        c
    }

    /// Fills columns `from..COLS` of `row` with blanks.
    pub fn clear_to_eol(&mut self, bus: &mut dyn Bus, row: usize, from: usize, attr: u8) {
        for c in from..COLS {
            self.put(bus, row, c, Cell { ch: b' ', attr });
        }
    }

    /// Fills rows `first..=last` with blanks.
    pub fn clear_rows(&mut self, bus: &mut dyn Bus, first: usize, last: usize, attr: u8) {
        for r in first..=last.min(ROWS - 1) {
            self.clear_to_eol(bus, r, 0, attr);
        }
    }

    /// Moves rows `first+1..=last` up by one and blanks row `last`.
    pub fn scroll_up(&mut self, bus: &mut dyn Bus, first: usize, last: usize, attr: u8) {
        let last = last.min(ROWS - 1);
        for r in first..last {
            for c in 0..COLS {
                let below = self.cell(r + 1, c).unwrap_or(Cell { ch: b' ', attr });
                self.put(bus, r, c, below);
            }
        }
        self.clear_to_eol(bus, last, 0, attr);
    }

    /// Moves the hardware cursor to (`row`, `col`) through CR0E/CR0F.
    pub fn set_cursor(&mut self, bus: &mut dyn Bus, row: usize, col: usize) {
        let pos = u16::try_from(row.min(ROWS - 1) * COLS + col.min(COLS - 1)).unwrap_or(0);
        if self.cursor == Some(pos) {
            return;
        }
        self.cursor = Some(pos);
        let [hi, lo] = pos.to_be_bytes();
        write_indexed(bus, CRTC_INDEX, CR_CURSOR_HI, hi);
        write_indexed(bus, CRTC_INDEX, CR_CURSOR_LO, lo);
    }
}

/// Maps a character to code page 437: ASCII as is, a few common symbols,
/// anything else as `?`.
#[must_use]
pub fn to_cp437(ch: char) -> u8 {
    match ch {
        ' '..='~' => u8::try_from(u32::from(ch)).unwrap_or(b'?'),
        '·' => 0xFA,
        '°' => 0xF8,
        '─' => 0xC4,
        '│' => 0xB3,
        '█' => 0xDB,
        '▀' => 0xDF,
        '▄' => 0xDC,
        _ => b'?',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records port writes and memory writes.
    #[derive(Default)]
    struct Recorder {
        ports: Vec<(u16, u8)>,
        mem: Vec<(u32, u8)>,
    }

    impl Bus for Recorder {
        fn outb(&mut self, port: u16, v: u8) {
            self.ports.push((port, v));
        }
        fn inb(&mut self, _port: u16) -> u8 {
            0
        }
        fn writeb(&mut self, addr: u32, v: u8) {
            self.mem.push((addr, v));
        }
        fn readb(&mut self, _addr: u32) -> u8 {
            0
        }
    }

    /// The last value written to an indexed register.
    fn last(r: &Recorder, index_port: u16, index: u8) -> Option<u8> {
        r.ports
            .windows(2)
            .rev()
            .find(|w| w[0] == (index_port, index) && w[1].0 == index_port + 1)
            .map(|w| w[1].1)
    }

    #[test]
    fn font_goes_to_glyph_slots_and_text_addressing_is_restored() {
        let mut font = [0u8; 4096];
        for (i, b) in font.iter_mut().enumerate() {
            *b = u8::try_from(i % 251).unwrap();
        }
        let mut r = Recorder::default();
        load_font(&mut r, &font);
        assert_eq!(r.mem.len(), 4096);
        assert_eq!(r.mem[0], (0xA0000, font[0]));
        assert_eq!(r.mem[16], (0xA0000 + 32, font[16]));
        assert_eq!(r.mem[4095], (0xA0000 + 255 * 32 + 15, font[4095]));
        assert_eq!(last(&r, SEQ_INDEX, 2), Some(0x03));
        assert_eq!(last(&r, SEQ_INDEX, 4), Some(0x02));
        assert_eq!(last(&r, GC_INDEX, 4), Some(0x00));
        assert_eq!(last(&r, GC_INDEX, 5), Some(0x10));
        assert_eq!(last(&r, GC_INDEX, 6), Some(0x0E));
    }

    #[test]
    fn unchanged_cells_are_not_rewritten() {
        let mut r = Recorder::default();
        let mut s = TextScreen::new();
        let cell = Cell {
            ch: b'x',
            attr: 0x07,
        };
        s.put(&mut r, 3, 4, cell);
        s.put(&mut r, 3, 4, cell);
        assert_eq!(
            r.mem,
            vec![
                (0xB8000 + 2 * (3 * 80 + 4), b'x'),
                (0xB8000 + 2 * (3 * 80 + 4) + 1, 0x07)
            ]
        );
        s.put(&mut r, 25, 0, cell);
        s.put(&mut r, 0, 80, cell);
        assert_eq!(r.mem.len(), 2, "off-screen writes are ignored");
        s.invalidate();
        s.put(&mut r, 3, 4, cell);
        assert_eq!(r.mem.len(), 4);
    }

    #[test]
    fn ega_palette_levels() {
        assert_eq!(ega_dac(0), [0, 0, 0]);
        assert_eq!(ega_dac(1), [0, 0, 0x2A]);
        assert_eq!(ega_dac(0x14), [0x2A, 0x15, 0]); // brown
        assert_eq!(ega_dac(0x3F), [0x3F, 0x3F, 0x3F]);
    }
}
