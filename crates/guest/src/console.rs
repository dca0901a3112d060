//! The "console" guest: a boot screen and a line editor in VGA text mode.
//!
//! `mode WIDTHxHEIGHT` switches the card to a 32 bpp Bochs VBE mode and shows the
//! [`graphics`](crate::graphics) screen: a test pattern, a caption, and the last rows of the
//! text console with the input line, which stays editable; Enter runs commands as in text
//! mode. While a graphics mode is shown the text console goes on in its shadow
//! ([`TextScreen`]) only; `mode text` sets text mode again and writes the shadow back.

use crate::graphics::{self, PANEL_ROWS, Panel};
use crate::keyboard::{self, Decoder, Key, Poll};
use crate::text::{self, COLS, Cell, ROWS, TextScreen};
use crate::{BootInfo, Bus, Guest, vbe};

/// The prompt in front of every input line.
pub const PROMPT: &str = "guest> ";
/// Longest input line: what fits on one row after the prompt, leaving the
/// last column for the cursor.
pub const MAX_LINE: usize = COLS - PROMPT.len() - 1;
/// Most BootInfo lines shown on the boot screen.
pub const MAX_BOOT_LINES: usize = 12;
/// Most keyboard bytes handled in one time slice.
pub const MAX_BYTES_PER_SLICE: usize = 1024;
/// Hint shown under the boot information.
pub const HINT: &str = "Type here; keys come from the VNC viewer. 'help' lists commands.";

/// Shown on the boot screen when the keyboard controller does not answer.
pub const NO_KEYBOARD: &str = "No keyboard: the PS/2 controller did not answer.";

/// Title bar attribute: bright white on blue.
pub const ATTR_TITLE: u8 = 0x1F;
/// Text attribute: light grey on black.
pub const ATTR_TEXT: u8 = 0x07;
/// Prompt attribute: light green on black.
pub const ATTR_PROMPT: u8 = 0x0A;
/// Attribute of command output: light cyan on black.
pub const ATTR_OUTPUT: u8 = 0x0B;

/// Smallest graphics mode `mode` sets (the console panel needs 80 columns of 8 pixels).
pub const MIN_MODE: (u32, u32) = (640, 480);
/// Largest graphics mode (the card's VBE limit).
pub const MAX_MODE: (u32, u32) = (crate::bench::MAX_WIDTH, crate::bench::MAX_HEIGHT);
/// Mode widths are multiples of this (the card rounds XRES down to it).
pub const WIDTH_STEP: u32 = 8;
/// Bytes per pixel of the graphics modes (32 bpp).
pub const BYTES_PER_PIXEL: u64 = 4;

/// First row of the scrolling text area (row 0 is the title bar).
const TOP: usize = 1;
/// Last row of the text area.
const BOTTOM: usize = ROWS - 1;

/// The console guest.
#[derive(Debug)]
pub struct Console {
    info: BootInfo,
    screen: TextScreen,
    decoder: Decoder,
    row: usize,
    col: usize,
    line: Vec<u8>,
    /// Edit position inside `line`.
    pos: usize,
    /// Row of the line being edited.
    prompt_row: usize,
    /// The keyboard answered at the last reset.
    keyboard_ok: bool,
    /// Video memory the card reported at the last reset, bytes.
    video_memory: u64,
    /// The graphics mode shown, if not text mode.
    gfx: Option<graphics::Screen>,
    /// A graphics mode a viewer asked for (SetDesktopSize), set at the next slice.
    requested: Option<(u32, u32)>,
}

/// What a `mode` command asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ModeRequest {
    /// Show the current mode.
    Show,
    /// VGA text mode.
    Text,
    /// A 32 bpp VBE mode of this size.
    Graphics(u32, u32),
}

/// A bus that goes nowhere: while a graphics mode is shown, the text console writes only its
/// shadow through it.
struct Detached;

impl Bus for Detached {
    fn outb(&mut self, _port: u16, _v: u8) {}
    fn inb(&mut self, _port: u16) -> u8 {
        0xFF
    }
    fn writeb(&mut self, _addr: u32, _v: u8) {}
    fn readb(&mut self, _addr: u32) -> u8 {
        0xFF
    }
}

/// Parses the argument of `mode` for a card with `video_memory` bytes.
///
/// # Errors
/// The line to print when the argument is not `text`, empty or `WIDTHxHEIGHT`, or the size
/// is out of bounds, not a multiple of [`WIDTH_STEP`] wide, or does not fit video memory (or
/// the part of it a 32-bit guest can address).
fn parse_mode(arg: &str, video_memory: u64) -> Result<ModeRequest, String> {
    let arg = arg.trim();
    match arg {
        "" => return Ok(ModeRequest::Show),
        "text" => return Ok(ModeRequest::Text),
        _ => {}
    }
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            // More digits than a u32 holds are out of bounds anyway.
            .then(|| s.parse::<u32>().unwrap_or(u32::MAX))
    };
    let Some((w, h)) = arg
        .split_once('x')
        .and_then(|(w, h)| Some((number(w)?, number(h)?)))
    else {
        return Err(format!(
            "mode: '{arg}' is neither WIDTHxHEIGHT nor text (try mode 1024x768)"
        ));
    };
    let ((min_w, min_h), (max_w, max_h)) = (MIN_MODE, MAX_MODE);
    if !(min_w..=max_w).contains(&w) || !(min_h..=max_h).contains(&h) {
        return Err(format!(
            "mode: {arg} is outside {min_w}x{min_h}..{max_w}x{max_h}"
        ));
    }
    if w % WIDTH_STEP != 0 {
        return Err(format!("mode: width {w} is not a multiple of {WIDTH_STEP}"));
    }
    let need = u64::from(w) * u64::from(h) * BYTES_PER_PIXEL;
    let have = video_memory.min(vbe::lfb_window());
    if need > have {
        return Err(format!(
            "mode: {w}x{h} needs {} KiB of video memory, {} KiB usable",
            need.div_ceil(1024),
            have / 1024
        ));
    }
    Ok(ModeRequest::Graphics(w, h))
}

impl Console {
    /// A console guest that shows `info` on its boot screen.
    #[must_use]
    pub fn new(info: BootInfo) -> Self {
        Console {
            info,
            screen: TextScreen::new(),
            decoder: Decoder::new(),
            row: TOP,
            col: 0,
            line: Vec::with_capacity(MAX_LINE),
            pos: 0,
            prompt_row: TOP,
            keyboard_ok: false,
            video_memory: 0,
            gfx: None,
            requested: None,
        }
    }

    /// The size of the graphics mode shown, or `None` in text mode.
    #[must_use]
    pub fn graphics_mode(&self) -> Option<(u32, u32)> {
        self.gfx.as_ref().map(|g| (g.width(), g.height()))
    }

    fn title_bar(&mut self, bus: &mut dyn Bus) {
        let left = format!(" {} {}", self.info.product, self.info.version);
        let right = self
            .info
            .name
            .as_deref()
            .map(|n| format!("{n} "))
            .unwrap_or_default();
        let end = self.screen.put_str(bus, 0, 0, &left, ATTR_TITLE);
        self.screen.clear_to_eol(bus, 0, end, ATTR_TITLE);
        let right_len = right.chars().count();
        if right_len > 0 && end + 1 + right_len <= COLS {
            self.screen
                .put_str(bus, 0, COLS - right_len, &right, ATTR_TITLE);
        }
    }

    fn boot_screen(&mut self, bus: &mut dyn Bus) {
        self.title_bar(bus);
        self.screen.clear_rows(bus, TOP, BOTTOM, ATTR_TEXT);
        self.row = TOP;
        self.col = 0;
        self.newline(bus);
        if let Some(name) = self.info.name.clone() {
            self.print(bus, &format!("Machine: {name}"), ATTR_TEXT);
            self.newline(bus);
        }
        let lines: Vec<String> = self
            .info
            .lines
            .iter()
            .take(MAX_BOOT_LINES)
            .cloned()
            .collect();
        for line in &lines {
            self.print(bus, line, ATTR_TEXT);
            self.newline(bus);
        }
        self.newline(bus);
        if !self.keyboard_ok {
            self.print(bus, NO_KEYBOARD, ATTR_TEXT);
            self.newline(bus);
        }
        self.print(bus, HINT, ATTR_TEXT);
        self.newline(bus);
        self.newline(bus);
        self.start_prompt(bus);
    }

    /// Prints `s` at the output position, wrapping at the right edge.
    fn print(&mut self, bus: &mut dyn Bus, s: &str, attr: u8) {
        for ch in s.chars() {
            if ch == '\n' {
                self.newline(bus);
                continue;
            }
            if self.col >= COLS {
                self.newline(bus);
            }
            self.screen.put(
                bus,
                self.row,
                self.col,
                Cell {
                    ch: text::to_cp437(ch),
                    attr,
                },
            );
            self.col += 1;
        }
    }

    /// Moves the output position to the start of the next row, scrolling
    /// the text area (never the title bar) at the bottom.
    fn newline(&mut self, bus: &mut dyn Bus) {
        self.col = 0;
        if self.row >= BOTTOM {
            self.screen.scroll_up(bus, TOP, BOTTOM, ATTR_TEXT);
            self.row = BOTTOM;
        } else {
            self.row += 1;
        }
    }

    fn start_prompt(&mut self, bus: &mut dyn Bus) {
        if self.col != 0 {
            self.newline(bus);
        }
        self.line.clear();
        self.pos = 0;
        self.prompt_row = self.row;
        self.redraw_line(bus);
    }

    /// Redraws the prompt row from the line buffer and places the cursor.
    fn redraw_line(&mut self, bus: &mut dyn Bus) {
        let row = self.prompt_row;
        let mut c = self.screen.put_str(bus, row, 0, PROMPT, ATTR_PROMPT);
        for &b in &self.line {
            self.screen.put(
                bus,
                row,
                c,
                Cell {
                    ch: b,
                    attr: ATTR_TEXT,
                },
            );
            c += 1;
        }
        self.screen.clear_to_eol(bus, row, c, ATTR_TEXT);
        self.row = row;
        self.col = PROMPT.len() + self.line.len();
        self.screen.set_cursor(bus, row, PROMPT.len() + self.pos);
    }

    /// Handles a key: edits the line or runs it, then switches modes if a command asked to.
    fn key(&mut self, bus: &mut dyn Bus, key: Key) {
        let request = if self.gfx.is_some() {
            self.edit(&mut Detached, key)
        } else {
            self.edit(bus, key)
        };
        match request {
            Some(ModeRequest::Text) => self.enter_text(bus),
            Some(ModeRequest::Graphics(w, h)) => self.enter_graphics(bus, w, h),
            Some(ModeRequest::Show) | None => {}
        }
    }

    /// Line editing on the text screen; returns the mode a command asked for.
    fn edit(&mut self, bus: &mut dyn Bus, key: Key) -> Option<ModeRequest> {
        match key {
            Key::Char(c) => {
                if self.line.len() < MAX_LINE {
                    self.line.insert(self.pos, c);
                    self.pos += 1;
                }
            }
            Key::Tab => {
                if self.line.len() < MAX_LINE {
                    self.line.insert(self.pos, b' ');
                    self.pos += 1;
                }
            }
            Key::Backspace => {
                if self.pos > 0 {
                    self.pos -= 1;
                    self.line.remove(self.pos);
                }
            }
            Key::Delete => {
                if self.pos < self.line.len() {
                    self.line.remove(self.pos);
                }
            }
            Key::Left => self.pos = self.pos.saturating_sub(1),
            Key::Right => self.pos = (self.pos + 1).min(self.line.len()),
            Key::Home | Key::Ctrl(b'a') => self.pos = 0,
            Key::End | Key::Ctrl(b'e') => self.pos = self.line.len(),
            Key::Esc | Key::Ctrl(b'u') => {
                self.line.clear();
                self.pos = 0;
            }
            Key::Ctrl(b'c') => {
                self.redraw_line(bus);
                self.print(bus, "^C", ATTR_TEXT);
                self.start_prompt(bus);
                return None;
            }
            Key::Ctrl(b'l') => {
                self.screen.clear_rows(bus, TOP, BOTTOM, ATTR_TEXT);
                self.prompt_row = TOP;
            }
            Key::Enter => {
                self.redraw_line(bus);
                let text: String = self.line.iter().map(|&b| char::from(b)).collect();
                self.newline(bus);
                let request = self.command(bus, text.trim());
                self.start_prompt(bus);
                return request;
            }
            Key::Up | Key::Down | Key::Ctrl(_) => {}
        }
        self.redraw_line(bus);
        None
    }

    /// Runs a command line; returns the mode it asks for.
    fn command(&mut self, bus: &mut dyn Bus, text: &str) -> Option<ModeRequest> {
        let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
        match word {
            "" => {}
            "help" => {
                self.print(bus, "help   this list", ATTR_OUTPUT);
                self.newline(bus);
                self.print(bus, "info   show the boot information again", ATTR_OUTPUT);
                self.newline(bus);
                self.print(bus, "echo   print the rest of the line", ATTR_OUTPUT);
                self.newline(bus);
                self.print(bus, "clear  clear the screen (also Ctrl+L)", ATTR_OUTPUT);
                self.newline(bus);
                self.print(
                    bus,
                    "mode   mode WIDTHxHEIGHT: 32 bpp graphics (e.g. 1024x768); mode text",
                    ATTR_OUTPUT,
                );
                self.newline(bus);
            }
            "info" => {
                let mut out = vec![format!("{} {}", self.info.product, self.info.version)];
                if let Some(name) = &self.info.name {
                    out.push(format!("Machine: {name}"));
                }
                out.extend(self.info.lines.iter().take(MAX_BOOT_LINES).cloned());
                for line in out {
                    self.print(bus, &line, ATTR_OUTPUT);
                    self.newline(bus);
                }
            }
            "echo" => {
                self.print(bus, rest.trim_start(), ATTR_OUTPUT);
                self.newline(bus);
            }
            "clear" => {
                self.screen.clear_rows(bus, TOP, BOTTOM, ATTR_TEXT);
                self.row = TOP;
                self.col = 0;
            }
            "mode" => match parse_mode(rest, self.video_memory) {
                Ok(ModeRequest::Show) => {
                    let now = match self.graphics_mode() {
                        Some((w, h)) => format!("mode: {w}x{h}, 32 bpp"),
                        None => "mode: text, 80x25".to_owned(),
                    };
                    self.print(bus, &now, ATTR_OUTPUT);
                    self.newline(bus);
                    self.print(bus, "usage: mode WIDTHxHEIGHT | mode text", ATTR_OUTPUT);
                    self.newline(bus);
                }
                Ok(request) => return Some(request),
                Err(e) => {
                    self.print(bus, &e, ATTR_OUTPUT);
                    self.newline(bus);
                }
            },
            _ => {
                self.print(bus, &format!("you typed: {text}"), ATTR_OUTPUT);
                self.newline(bus);
            }
        }
        None
    }

    /// Sets a `width`×`height` 32 bpp VBE mode and starts drawing the graphics screen. If the
    /// card does not set that size, text mode comes back with an error line.
    fn enter_graphics(&mut self, bus: &mut dyn Bus, width: u32, height: u32) {
        let got = vbe::set_mode_32bpp(bus, width, height);
        if got != (width, height) {
            self.enter_text(bus);
            // The line goes where the new, still empty prompt is; a new prompt follows.
            self.row = self.prompt_row;
            self.col = 0;
            let msg = format!(
                "mode: the card set {}x{} instead of {width}x{height}",
                got.0, got.1
            );
            self.print(bus, &msg, ATTR_OUTPUT);
            self.newline(bus);
            self.start_prompt(bus);
            return;
        }
        let caption = format!(
            "{width}x{height}x32  {} console; 'mode text' returns to text mode",
            self.info.product
        );
        self.gfx = Some(graphics::Screen::new(width, height, &caption));
    }

    /// Turns VBE off, sets text mode and the font again (the VBE mode set changed the VGA
    /// registers) and writes the text screen back from its shadow.
    fn enter_text(&mut self, bus: &mut dyn Bus) {
        vbe::disable(bus);
        self.gfx = None;
        text::set_mode3(bus, true);
        text::load_font(bus, vga::FONT_8X16);
        self.screen.rewrite(bus);
        self.redraw_line(bus);
    }

    /// The text rows the graphics screen shows: the input line and the rows above it.
    fn panel(&self) -> Panel {
        let rows = PANEL_ROWS;
        let first = (self.prompt_row + 1).saturating_sub(rows).max(TOP);
        let mut panel = Panel::blank();
        for r in 0..rows {
            for c in 0..COLS {
                if let Some(cell) = self.screen.cell(first + r, c) {
                    panel.cells[r * COLS + c] = cell;
                }
            }
        }
        let cursor_col = (PROMPT.len() + self.pos).min(COLS - 1);
        panel.cursor = Some((self.prompt_row - first, cursor_col));
        panel
    }
}

impl Guest for Console {
    fn name(&self) -> &'static str {
        "console"
    }

    /// In a graphics mode a viewer may resize the screen (as a desktop follows its window);
    /// text mode keeps its size.
    fn resizable(&self) -> bool {
        self.gfx.is_some()
    }

    fn request_mode(&mut self, width: u32, height: u32) -> bool {
        if !self.resizable() {
            return false;
        }
        match parse_mode(&format!("{width}x{height}"), self.video_memory) {
            Ok(ModeRequest::Graphics(w, h)) => {
                self.requested = Some((w, h));
                true
            }
            _ => false,
        }
    }

    fn reset(&mut self, bus: &mut dyn Bus) {
        self.decoder = Decoder::new();
        self.screen.invalidate();
        self.gfx = None;
        self.requested = None;
        vbe::disable(bus);
        self.video_memory = vbe::video_memory(bus);
        text::set_mode3(bus, true);
        // The card's font ROM, loaded the way its BIOS would.
        text::load_font(bus, vga::FONT_8X16);
        // A keyboard that does not answer is not fatal: the screen still
        // works and says so, and keys may still arrive later.
        self.keyboard_ok =
            keyboard::init_controller(bus) && keyboard::set_leds(bus, self.decoder.leds());
        self.boot_screen(bus);
    }

    fn run(&mut self, bus: &mut dyn Bus, _now_ms: u64) {
        if let Some((w, h)) = self.requested.take()
            && self.gfx.is_some()
        {
            self.enter_graphics(bus, w, h);
        }
        for _ in 0..MAX_BYTES_PER_SLICE {
            let b = match keyboard::poll(bus) {
                Poll::Empty => break,
                Poll::Aux => continue,
                Poll::Byte(b) => b,
            };
            if let Some(key) = self.decoder.feed(b) {
                self.key(bus, key);
            }
            if self.decoder.take_leds_changed() {
                keyboard::set_leds(bus, self.decoder.leds());
            }
        }
        if self.gfx.is_some() {
            let panel = self.panel();
            if let Some(g) = &mut self.gfx {
                g.set_panel(panel);
                g.draw(bus);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphics::{BARS, CAPTION_BG, CAPTION_FG, TEXT_COLOURS};
    use crate::testbus::CardBus;
    use display::Surface;
    use vga::{VBE_INDEX_BPP, VBE_INDEX_XRES, VBE_INDEX_YRES};

    const GREY: u32 = TEXT_COLOURS[7];
    const GREEN: u32 = TEXT_COLOURS[0x0A];
    const CYAN: u32 = TEXT_COLOURS[0x0B];
    const BLACK: u32 = 0;

    fn boot(bus: &mut CardBus) -> Console {
        let mut c = Console::new(BootInfo {
            product: "Porthole".into(),
            version: "9.9".into(),
            name: None,
            lines: vec!["VNC display 127.0.0.1:0".into()],
        });
        c.reset(bus);
        c.run(bus, 0);
        c
    }

    /// Types `text` on the keyboard and lets the console run one slice.
    fn type_line(c: &mut Console, bus: &mut CardBus, text: &str) {
        bus.type_text(text);
        c.run(bus, 0);
    }

    #[test]
    fn a_viewer_may_resize_a_graphics_mode_but_not_text_mode() {
        let mut bus = CardBus::new();
        let mut c = boot(&mut bus);
        assert!(!c.resizable());
        assert!(!c.request_mode(1024, 768));
        type_line(&mut c, &mut bus, "mode 1024x768\n");
        assert_eq!(c.graphics_mode(), Some((1024, 768)));
        assert!(c.resizable());
        // Sizes the `mode` command refuses are refused here too.
        assert!(!c.request_mode(320, 200));
        assert!(!c.request_mode(1020, 600));
        assert!(!c.request_mode(8192, 8192));
        assert!(c.request_mode(800, 600));
        c.run(&mut bus, 0);
        assert_eq!(c.graphics_mode(), Some((800, 600)));
        assert_eq!(bus.vga.mode_size(), (800, 600));
        // Back in text mode, requests are refused again.
        type_line(&mut c, &mut bus, "mode text\n");
        assert!(!c.request_mode(800, 600));
    }

    /// The characters of text row `row` in video memory, trailing blanks cut.
    fn text_row(bus: &mut CardBus, row: usize) -> String {
        let s: String = (0..COLS)
            .map(|col| {
                let at = text::TEXT_BASE + u32::try_from((row * COLS + col) * 2).unwrap();
                char::from(bus.vga.mem_read(at))
            })
            .collect();
        s.trim_end().to_owned()
    }

    /// Asserts that `text` is drawn at (`x0`, `y0`) with the card's font in `fg` on `bg`.
    fn assert_text_at(s: &Surface, x0: u32, y0: u32, text: &str, fg: u32, bg: u32) {
        for (i, ch) in (0u32..).zip(text.bytes()) {
            for line in 0..16u32 {
                let bits = vga::FONT_8X16[usize::from(ch) * 16 + usize::try_from(line).unwrap()];
                for b in 0..8u32 {
                    let want = if bits & (0x80 >> b) != 0 { fg } else { bg };
                    let (x, y) = (x0 + i * 8 + b, y0 + line);
                    assert_eq!(
                        s.get(x, y),
                        want,
                        "{text:?}: char {i} line {line} pixel {b} at ({x}, {y})"
                    );
                }
            }
        }
    }

    /// Top scan line of panel row `r` in a mode `height` rows tall.
    fn panel_row_y(height: u32, r: u32) -> u32 {
        height - 64 + r * 16
    }

    fn vbe_size(bus: &mut CardBus) -> (u16, u16, u16) {
        (
            vbe::read_reg(bus, VBE_INDEX_XRES),
            vbe::read_reg(bus, VBE_INDEX_YRES),
            vbe::read_reg(bus, VBE_INDEX_BPP),
        )
    }

    #[test]
    fn mode_1024x768_sets_that_32bpp_mode_and_draws_pattern_caption_and_input_line() {
        let mut bus = CardBus::new();
        let mut c = boot(&mut bus);
        type_line(&mut c, &mut bus, "mode 1024x768\n");
        assert_eq!(vbe_size(&mut bus), (1024, 768, 32));
        assert!(bus.vga.vbe_enabled());
        assert_eq!(c.graphics_mode(), Some((1024, 768)));
        let s = bus.frame();
        assert_eq!((s.width(), s.height()), (1024, 768));

        // Caption band with the mode in bright white on blue.
        assert_eq!(s.get(0, 0), CAPTION_BG);
        assert_eq!(s.get(1023, 23), CAPTION_BG);
        assert_text_at(
            &s,
            8,
            4,
            "1024x768x32  Porthole console; 'mode text' returns to text mode",
            CAPTION_FG,
            CAPTION_BG,
        );
        // Eight bars from y = 24 to 24 + (768 - 64 - 24) * 3 / 4 = 534, then the grey ramp.
        for (i, &colour) in (0u32..).zip(BARS.iter()) {
            for y in [24, 300, 533] {
                assert_eq!(s.get(i * 128, y), colour, "bar {i} y {y}");
                assert_eq!(s.get(i * 128 + 127, y), colour, "bar {i} y {y}");
            }
        }
        for y in [534, 703] {
            assert_eq!(s.get(0, y), 0);
            assert_eq!(s.get(512, y), 0x007F_7F7F, "512 * 255 / 1023 = 127");
            assert_eq!(s.get(1023, y), 0x00FF_FFFF);
        }
        // The panel: the command just run and the new input line with the cursor (the text
        // cursor's scan lines 14-15 in the cell's colour) after the prompt.
        assert_text_at(&s, 0, panel_row_y(768, 2), PROMPT, GREEN, BLACK);
        assert_text_at(&s, 56, panel_row_y(768, 2), "mode 1024x768", GREY, BLACK);
        assert_text_at(&s, 0, panel_row_y(768, 3), PROMPT, GREEN, BLACK);
        let cursor_y = panel_row_y(768, 3);
        for x in 56..64 {
            assert_eq!(s.get(x, cursor_y + 13), BLACK);
            assert_eq!(s.get(x, cursor_y + 14), GREY);
            assert_eq!(s.get(x, cursor_y + 15), GREY);
        }
        // Right of the 80 columns the panel is black.
        assert_eq!(s.get(640, panel_row_y(768, 3)), BLACK);
        assert_eq!(s.get(1023, 767), BLACK);
    }

    #[test]
    fn keys_typed_in_graphics_mode_edit_and_run_the_input_line() {
        let mut bus = CardBus::new();
        let mut c = boot(&mut bus);
        type_line(&mut c, &mut bus, "mode 800x600\n");
        type_line(&mut c, &mut bus, "echo hix\x08");
        let s = bus.frame();
        assert_text_at(&s, 0, panel_row_y(600, 3), PROMPT, GREEN, BLACK);
        assert_text_at(&s, 56, panel_row_y(600, 3), "echo hi", GREY, BLACK);
        // The cursor moved to column 7 + 7.
        assert_eq!(s.get(14 * 8, panel_row_y(600, 3) + 15), GREY);
        assert_eq!(s.get(7 * 8, panel_row_y(600, 3) + 15), BLACK);

        type_line(&mut c, &mut bus, "\n");
        let s = bus.frame();
        assert_eq!((s.width(), s.height()), (800, 600));
        assert_text_at(&s, 56, panel_row_y(600, 1), "echo hi", GREY, BLACK);
        assert_text_at(&s, 0, panel_row_y(600, 2), "hi", CYAN, BLACK);
        assert_text_at(&s, 0, panel_row_y(600, 3), PROMPT, GREEN, BLACK);
    }

    #[test]
    fn mode_text_returns_to_720x400_with_the_text_screen_written_back() {
        let mut bus = CardBus::new();
        let mut c = boot(&mut bus);
        let before = bus.frame();
        assert_eq!((before.width(), before.height()), (720, 400));
        let p = c.prompt_row;
        let rows_before: Vec<String> = (0..p).map(|r| text_row(&mut bus, r)).collect();

        type_line(&mut c, &mut bus, "mode 1024x768\n");
        type_line(&mut c, &mut bus, "mode 1920x1080\n");
        assert_eq!(bus.frame().width(), 1920);
        type_line(&mut c, &mut bus, "mode text\n");

        assert!(!bus.vga.vbe_enabled());
        assert_eq!(c.graphics_mode(), None);
        let after = bus.frame();
        assert_eq!((after.width(), after.height()), (720, 400));
        // Everything above the first command is as it was, pixel for pixel.
        let p32 = u32::try_from(p).unwrap();
        for y in 0..p32 * 16 {
            assert_eq!(after.row(y), before.row(y), "scan line {y}");
        }
        for (r, want) in rows_before.iter().enumerate() {
            assert_eq!(&text_row(&mut bus, r), want, "row {r}");
        }
        // The commands typed in graphics mode went on in the text screen.
        assert_eq!(text_row(&mut bus, p), "guest> mode 1024x768");
        assert_eq!(text_row(&mut bus, p + 1), "guest> mode 1920x1080");
        assert_eq!(text_row(&mut bus, p + 2), "guest> mode text");
        assert_eq!(text_row(&mut bus, p + 3), "guest>");
        // Video memory holds exactly the shadow, and the cursor is after the new prompt.
        for r in 0..ROWS {
            for col in 0..COLS {
                let at = text::TEXT_BASE + u32::try_from((r * COLS + col) * 2).unwrap();
                let cell = c.screen.cell(r, col).unwrap();
                assert_eq!(bus.vga.mem_read(at), cell.ch, "({r}, {col})");
                assert_eq!(bus.vga.mem_read(at + 1), cell.attr, "({r}, {col})");
            }
        }
        let cursor = usize::from(text::read_crtc(&mut bus, text::CR_CURSOR_HI)) << 8
            | usize::from(text::read_crtc(&mut bus, text::CR_CURSOR_LO));
        assert_eq!(cursor, (p + 3) * COLS + PROMPT.len());
        // And typing goes on in text mode.
        type_line(&mut c, &mut bus, "echo ok\n");
        assert_eq!(text_row(&mut bus, p + 4), "ok");
    }

    #[test]
    fn bad_sizes_print_an_error_and_change_nothing() {
        let cases = [
            ("7x7", "mode: 7x7 is outside 640x480..8192x8192"),
            ("99999x1", "mode: 99999x1 is outside 640x480..8192x8192"),
            ("640x8193", "mode: 640x8193 is outside 640x480..8192x8192"),
            (
                "foo",
                "mode: 'foo' is neither WIDTHxHEIGHT nor text (try mode 1024x768)",
            ),
            (
                "1024x",
                "mode: '1024x' is neither WIDTHxHEIGHT nor text (try mode 1024x768)",
            ),
            (
                "-1x768",
                "mode: '-1x768' is neither WIDTHxHEIGHT nor text (try mode 1024x768)",
            ),
            ("1020x768", "mode: width 1020 is not a multiple of 8"),
            (
                "4096x4096",
                "mode: 4096x4096 needs 65536 KiB of video memory, 16384 KiB usable",
            ),
        ];
        let mut bus = CardBus::new();
        let mut c = boot(&mut bus);
        for (arg, message) in cases {
            let p = c.prompt_row;
            type_line(&mut c, &mut bus, &format!("mode {arg}\n"));
            assert_eq!(text_row(&mut bus, p + 1), message, "mode {arg}");
            assert!(!bus.vga.vbe_enabled(), "mode {arg}");
            assert_eq!(c.graphics_mode(), None);
            assert_eq!(bus.frame().width(), 720);
            type_line(&mut c, &mut bus, "clear\n");
        }

        // In a graphics mode the error shows in the panel and the mode stays.
        type_line(&mut c, &mut bus, "mode 800x600\n");
        let before = bus.frame();
        for (arg, message) in cases {
            type_line(&mut c, &mut bus, &format!("mode {arg}\n"));
            let s = bus.frame();
            assert_eq!(vbe_size(&mut bus), (800, 600, 32), "mode {arg}");
            assert_eq!(c.graphics_mode(), Some((800, 600)));
            let panel_top = panel_row_y(600, 0);
            for y in 0..panel_top {
                assert_eq!(s.row(y), before.row(y), "mode {arg}: scan line {y}");
            }
            assert_text_at(&s, 0, panel_row_y(600, 2), message, CYAN, BLACK);
        }
    }

    #[test]
    fn the_video_memory_the_card_reports_bounds_the_mode() {
        let mut bus = CardBus::with_vgamem_mb(4);
        let mut c = boot(&mut bus);
        let p = c.prompt_row;
        type_line(&mut c, &mut bus, "mode 1920x1080\n");
        assert_eq!(
            text_row(&mut bus, p + 1),
            "mode: 1920x1080 needs 8100 KiB of video memory, 4096 KiB usable"
        );
        assert!(!bus.vga.vbe_enabled());
        type_line(&mut c, &mut bus, "mode 1024x768\n");
        assert_eq!(vbe_size(&mut bus), (1024, 768, 32));

        // Beyond 48 MiB the framebuffer would lie above 4 GiB, out of a 32-bit guest's reach.
        let mut bus = CardBus::with_vgamem_mb(64);
        let mut c = boot(&mut bus);
        let p = c.prompt_row;
        type_line(&mut c, &mut bus, "mode 4096x4096\n");
        assert_eq!(
            text_row(&mut bus, p + 1),
            "mode: 4096x4096 needs 65536 KiB of video memory, 49152 KiB usable"
        );
    }

    #[test]
    fn a_large_mode_is_drawn_over_several_slices() {
        let mut bus = CardBus::with_vgamem_mb(64);
        let mut c = boot(&mut bus);
        // 4096 x 1536 = 6 Mi pixels: 1024 rows in the first slice, the rest in the next.
        type_line(&mut c, &mut bus, "mode 4096x1536\n");
        let s = bus.frame();
        assert_eq!((s.width(), s.height()), (4096, 1536));
        assert_eq!(s.get(0, 1023), BARS[0]);
        assert_eq!(
            s.get(0, 1024),
            BLACK,
            "not drawn yet (the mode set cleared it)"
        );
        assert!(!c.gfx.as_ref().unwrap().complete());
        c.run(&mut bus, 0);
        assert!(c.gfx.as_ref().unwrap().complete());
        let s = bus.frame();
        // Bars down to 24 + (1472 - 24) * 3 / 4 = 1110, the grey ramp to the panel at 1472.
        assert_eq!(s.get(4095, 1109), BLACK);
        assert_eq!(s.get(4095, 1110), 0x00FF_FFFF);
        assert_text_at(&s, 0, panel_row_y(1536, 3), PROMPT, GREEN, BLACK);
    }

    #[test]
    fn help_lists_mode_and_mode_alone_shows_the_current_mode() {
        let mut bus = CardBus::new();
        let mut c = boot(&mut bus);
        let p = c.prompt_row;
        type_line(&mut c, &mut bus, "help\n");
        let rows: Vec<String> = (p + 1..p + 6).map(|r| text_row(&mut bus, r)).collect();
        assert!(
            rows.iter()
                .any(|r| r.starts_with("mode   mode WIDTHxHEIGHT")),
            "{rows:?}"
        );
        let p = c.prompt_row;
        type_line(&mut c, &mut bus, "mode\n");
        assert_eq!(text_row(&mut bus, p + 1), "mode: text, 80x25");
        assert_eq!(
            text_row(&mut bus, p + 2),
            "usage: mode WIDTHxHEIGHT | mode text"
        );
        type_line(&mut c, &mut bus, "mode 640x480\nmode\n");
        let s = bus.frame();
        assert_text_at(
            &s,
            0,
            panel_row_y(480, 1),
            "mode: 640x480, 32 bpp",
            CYAN,
            BLACK,
        );
    }

    #[test]
    fn reset_in_a_graphics_mode_boots_into_text_mode() {
        let mut bus = CardBus::new();
        let mut c = boot(&mut bus);
        type_line(&mut c, &mut bus, "mode 800x600\n");
        assert_eq!(bus.frame().width(), 800);
        // The machine resets the card, then the guest boots again.
        bus.vga.reset();
        c.reset(&mut bus);
        c.run(&mut bus, 0);
        assert_eq!(c.graphics_mode(), None);
        let s = bus.frame();
        assert_eq!((s.width(), s.height()), (720, 400));
        assert!(text_row(&mut bus, 0).contains("Porthole 9.9"));
    }
}
