//! The "console" guest: a boot screen and a line editor in VGA text mode.

use crate::keyboard::{self, Decoder, Key, Poll};
use crate::text::{self, COLS, Cell, ROWS, TextScreen};
use crate::{BootInfo, Bus, Guest};

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
        }
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

    fn key(&mut self, bus: &mut dyn Bus, key: Key) {
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
                return;
            }
            Key::Ctrl(b'l') => {
                self.screen.clear_rows(bus, TOP, BOTTOM, ATTR_TEXT);
                self.prompt_row = TOP;
            }
            Key::Enter => {
                self.redraw_line(bus);
                let text: String = self.line.iter().map(|&b| char::from(b)).collect();
                self.newline(bus);
                self.command(bus, text.trim());
                self.start_prompt(bus);
                return;
            }
            Key::Up | Key::Down | Key::Ctrl(_) => {}
        }
        self.redraw_line(bus);
    }

    fn command(&mut self, bus: &mut dyn Bus, text: &str) {
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
            _ => {
                self.print(bus, &format!("you typed: {text}"), ATTR_OUTPUT);
                self.newline(bus);
            }
        }
    }
}

impl Guest for Console {
    fn name(&self) -> &'static str {
        "console"
    }

    fn reset(&mut self, bus: &mut dyn Bus) {
        self.decoder = Decoder::new();
        self.screen.invalidate();
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
    }
}
