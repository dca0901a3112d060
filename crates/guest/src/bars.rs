//! The "bars" guest: the 16 text-mode colours as vertical bars.

use crate::text::{self, COLS, Cell, ROWS, TextScreen};
use crate::{BootInfo, Bus, Guest};

/// Names of the 16 text colours, in attribute order (each fits a bar).
pub const COLOUR_NAMES: [&str; 16] = [
    "black", "blue", "green", "cyan", "red", "mgnta", "brown", "grey", "dgrey", "lblue", "lgrn",
    "lcyan", "lred", "lmgnt", "yellw", "white",
];
/// Width of one bar in columns (16 bars × 5 = 80).
pub const BAR_WIDTH: usize = COLS / 16;

/// The colour-bars guest. It draws once on reset; it reads no keys.
#[derive(Debug)]
pub struct Bars {
    info: BootInfo,
    screen: TextScreen,
}

impl Bars {
    /// A bars guest whose title bar shows `info`.
    #[must_use]
    pub fn new(info: BootInfo) -> Self {
        Bars {
            info,
            screen: TextScreen::new(),
        }
    }
}

impl Guest for Bars {
    fn name(&self) -> &'static str {
        "bars"
    }

    fn reset(&mut self, bus: &mut dyn Bus) {
        self.screen.invalidate();
        // Bright backgrounds instead of blinking, so all 16 colours show.
        text::set_mode3(bus, false);
        // The card's font ROM, loaded the way its BIOS would.
        text::load_font(bus, vga::FONT_8X16);
        let title = format!(" {} {} - colour bars", self.info.product, self.info.version);
        let end = self.screen.put_str(bus, 0, 0, &title, 0x1F);
        self.screen.clear_to_eol(bus, 0, end, 0x1F);
        for row in 1..ROWS - 1 {
            for (colour, _) in (0u8..).zip(COLOUR_NAMES) {
                let first = usize::from(colour) * BAR_WIDTH;
                for col in first..first + BAR_WIDTH {
                    self.screen.put(
                        bus,
                        row,
                        col,
                        Cell {
                            ch: b' ',
                            attr: colour << 4,
                        },
                    );
                }
            }
        }
        for (colour, name) in (0u8..).zip(COLOUR_NAMES) {
            let first = usize::from(colour) * BAR_WIDTH;
            let attr = colour << 4 | if colour < 8 { 0x0F } else { 0x00 };
            for col in first..first + BAR_WIDTH {
                self.screen.put(bus, ROWS - 1, col, Cell { ch: b' ', attr });
            }
            self.screen.put_str(
                bus,
                ROWS - 1,
                first,
                &name[..name.len().min(BAR_WIDTH)],
                attr,
            );
        }
        // Hide the cursor (CR0A bit 5).
        text::write_indexed(
            bus,
            text::CRTC_INDEX,
            text::CR_CURSOR_START,
            text::CURSOR_DISABLE | text::CURSOR_START_LINE,
        );
    }

    fn run(&mut self, _bus: &mut dyn Bus, _now_ms: u64) {
        // A static picture: nothing to do per slice.
    }
}
