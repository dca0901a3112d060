//! The console's graphics screen: what the `mode WIDTHxHEIGHT` command shows in a 32 bpp
//! Bochs VBE mode.
//!
//! Layout, top to bottom:
//! - a caption band of [`CAPTION_HEIGHT`] rows: bright white text on blue, naming the mode;
//! - a test pattern: eight full-intensity colour bars ([`BARS`], left to right) over the
//!   upper three quarters, a grey ramp from black (left) to white (right) below;
//! - the console panel: the last [`PANEL_ROWS`] rows of the text console (command output
//!   and the input line) drawn with the card's 8×16 font in the 16 text colours, 8 pixels
//!   per column, the cursor as the text cursor's scan lines 14–15 (not blinking).
//!
//! Every pixel is a function of the mode size, the caption and the panel's cells, so the
//! picture is deterministic. A whole picture is written at most [`MAX_PIXELS_PER_SLICE`]
//! pixels per time slice (1920×1080 takes one slice); the panel's rows are rewritten when
//! its cells change.

use crate::text::{COLS, Cell};
use crate::{Bus, vbe};

/// Rows of the caption band at the top.
pub const CAPTION_HEIGHT: u32 = 24;
/// Where the caption text starts (x, y).
const CAPTION_AT: (u32, u32) = (8, 4);
/// Caption colours: bright white on blue.
pub const CAPTION_FG: u32 = 0x00FF_FFFF;
/// Caption band colour.
pub const CAPTION_BG: u32 = 0x0000_00AA;
/// Text rows shown in the console panel.
pub const PANEL_ROWS: usize = 4;
/// Pixel width of a panel column (the font is 8 pixels wide).
pub const CELL_WIDTH: u32 = 8;
/// Pixel height of a panel row.
pub const CELL_HEIGHT: u32 = 16;
/// Scan lines of a cell that show the cursor (as the text mode's cursor shape).
const CURSOR_LINES: std::ops::RangeInclusive<u32> = 14..=15;
/// Most pixels written in one time slice.
pub const MAX_PIXELS_PER_SLICE: u64 = 1 << 22;

/// The colour bars: white, yellow, cyan, green, magenta, red, blue, black.
pub const BARS: [u32; 8] = [
    0x00FF_FFFF,
    0x00FF_FF00,
    0x0000_FFFF,
    0x0000_FF00,
    0x00FF_00FF,
    0x00FF_0000,
    0x0000_00FF,
    0x0000_0000,
];

/// The 16 text colours as the VGA shows them with its default palette (EGA levels 0x00,
/// 0x55, 0xAA, 0xFF; colour 6 is brown).
pub const TEXT_COLOURS: [u32; 16] = [
    0x0000_0000,
    0x0000_00AA,
    0x0000_AA00,
    0x0000_AAAA,
    0x00AA_0000,
    0x00AA_00AA,
    0x00AA_5500,
    0x00AA_AAAA,
    0x0055_5555,
    0x0055_55FF,
    0x0055_FF55,
    0x0055_FFFF,
    0x00FF_5555,
    0x00FF_55FF,
    0x00FF_FF55,
    0x00FF_FFFF,
];

/// A blank panel cell.
const BLANK: Cell = Cell {
    ch: b' ',
    attr: 0x07,
};

/// What the panel shows: [`PANEL_ROWS`] × [`COLS`] cells and the cursor (panel row, column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panel {
    /// Cells, row by row.
    pub cells: Vec<Cell>,
    /// Cursor position, if it is on the panel.
    pub cursor: Option<(usize, usize)>,
}

impl Panel {
    /// A blank panel without a cursor.
    #[must_use]
    pub fn blank() -> Self {
        Self {
            cells: vec![BLANK; PANEL_ROWS * COLS],
            cursor: None,
        }
    }
}

/// The graphics screen of one mode.
#[derive(Debug)]
pub struct Screen {
    width: u32,
    height: u32,
    /// Caption characters (code page 437).
    caption: Vec<u8>,
    panel: Panel,
    /// Rows `0..next_row` have been written since the mode was set.
    next_row: u32,
    /// The panel changed after some of its rows were written.
    panel_dirty: bool,
    /// One scan line, as pixels and as bytes (reused).
    px: Vec<u32>,
    bytes: Vec<u8>,
}

impl Screen {
    /// The screen of a `width`×`height` mode (at least 640×[`CAPTION_HEIGHT`] + panel);
    /// nothing is written until [`draw`](Self::draw).
    #[must_use]
    pub fn new(width: u32, height: u32, caption: &str) -> Self {
        Self {
            width,
            height,
            caption: caption.chars().map(crate::text::to_cp437).collect(),
            panel: Panel::blank(),
            next_row: 0,
            panel_dirty: false,
            px: Vec::new(),
            bytes: Vec::new(),
        }
    }

    /// Mode width.
    #[must_use]
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Mode height.
    #[must_use]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// First scan line of the panel.
    #[must_use]
    pub fn panel_top(&self) -> u32 {
        self.height
            .saturating_sub(CELL_HEIGHT * u32::try_from(PANEL_ROWS).unwrap_or(0))
    }

    /// Whether the whole picture has been written.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.next_row >= self.height && !self.panel_dirty
    }

    /// Sets what the panel shows; its rows are rewritten at the next [`draw`](Self::draw)
    /// if anything changed.
    pub fn set_panel(&mut self, panel: Panel) {
        if panel != self.panel {
            self.panel = panel;
            self.panel_dirty = true;
        }
    }

    /// Writes what is not yet on the screen: panel rows whose cells changed, then the next
    /// rows of the picture, at most [`MAX_PIXELS_PER_SLICE`] pixels of them.
    pub fn draw(&mut self, bus: &mut dyn Bus) {
        let written = self.next_row;
        if self.panel_dirty {
            for y in self.panel_top()..written.min(self.height) {
                self.write_row(bus, y);
            }
            self.panel_dirty = false;
        }
        let budget = MAX_PIXELS_PER_SLICE / u64::from(self.width.max(1));
        let budget = u32::try_from(budget).unwrap_or(u32::MAX).max(1);
        let end = written.saturating_add(budget).min(self.height);
        for y in written..end {
            self.write_row(bus, y);
        }
        self.next_row = self.next_row.max(end);
    }

    fn write_row(&mut self, bus: &mut dyn Bus, y: u32) {
        let w = usize::try_from(self.width).unwrap_or(0);
        let mut px = std::mem::take(&mut self.px);
        px.clear();
        px.resize(w, 0);
        self.compose_row(y, &mut px);
        let first = u64::from(y) * u64::from(self.width);
        vbe::write_pixels(bus, first, &px, &mut self.bytes);
        self.px = px;
    }

    /// Scan line `y` of the picture as 0x00RRGGBB pixels.
    fn compose_row(&self, y: u32, out: &mut [u32]) {
        let panel_top = self.panel_top();
        if y < CAPTION_HEIGHT {
            out.fill(CAPTION_BG);
            let (x0, y0) = CAPTION_AT;
            if let Some(line) = y.checked_sub(y0).filter(|l| *l < CELL_HEIGHT) {
                let cols = usize::try_from(self.width.saturating_sub(x0) / CELL_WIDTH).unwrap_or(0);
                for (i, &ch) in self.caption.iter().take(cols).enumerate() {
                    let x = usize::try_from(x0).unwrap_or(0) + i * 8;
                    glyph_row(&mut out[x..x + 8], ch, line, CAPTION_FG, CAPTION_BG, false);
                }
            }
        } else if y >= panel_top {
            out.fill(TEXT_COLOURS[0]);
            let row = usize::try_from((y - panel_top) / CELL_HEIGHT).unwrap_or(0);
            let line = (y - panel_top) % CELL_HEIGHT;
            let cols = COLS.min(out.len() / 8);
            for col in 0..cols {
                let cell = self.panel.cells[row * COLS + col];
                let fg = TEXT_COLOURS[usize::from(cell.attr & 0x0F)];
                let bg = TEXT_COLOURS[usize::from((cell.attr >> 4) & 0x07)];
                let cursor = self.panel.cursor == Some((row, col)) && CURSOR_LINES.contains(&line);
                glyph_row(
                    &mut out[col * 8..col * 8 + 8],
                    cell.ch,
                    line,
                    fg,
                    bg,
                    cursor,
                );
            }
        } else {
            let bars_end = CAPTION_HEIGHT + (panel_top - CAPTION_HEIGHT) * 3 / 4;
            let w = u64::from(self.width.max(2));
            for (x, p) in (0u64..).zip(out.iter_mut()) {
                *p = if y < bars_end {
                    BARS[usize::try_from(x * 8 / w).unwrap_or(7).min(7)]
                } else {
                    let level = u32::try_from(x * 255 / (w - 1)).unwrap_or(255).min(255);
                    level * 0x0001_0101
                };
            }
        }
    }
}

/// One scan line of a glyph from the card's font: bit 7 is the leftmost pixel. A cursor line
/// is all foreground.
fn glyph_row(out: &mut [u32], ch: u8, line: u32, fg: u32, bg: u32, cursor: bool) {
    let at = usize::from(ch) * 16 + usize::try_from(line).unwrap_or(0);
    let bits = if cursor { 0xFF } else { vga::FONT_8X16[at] };
    for (i, p) in out.iter_mut().enumerate() {
        *p = if bits & (0x80 >> i) != 0 { fg } else { bg };
    }
}
