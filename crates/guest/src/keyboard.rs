//! The guest's keyboard driver: i8042 set-up, polling, and a set-1
//! scancode decoder for a US layout.
//!
//! Everything goes through ports `0x60`/`0x64`; every wait is a bounded
//! number of status polls, so a missing or stuck controller can never hang
//! a time slice.

use crate::Bus;

/// Data port of the keyboard controller.
pub const KBD_DATA: u16 = 0x60;
/// Status/command port of the keyboard controller.
pub const KBD_STATUS: u16 = 0x64;
const STATUS_OBF: u8 = 0x01;
const STATUS_AUX: u8 = 0x20;

/// Most status polls spent waiting for one reply byte.
pub const MAX_REPLY_POLLS: usize = 64;
/// Most bytes drained while flushing the controller.
pub const MAX_FLUSH: usize = 512;

const ACK: u8 = 0xFA;
/// Command byte written at set-up: keyboard interrupt, system flag, no
/// auxiliary device, set-2 → set-1 translation.
const COMMAND_BYTE: u8 = 0x65;

/// Waits (bounded) for a byte from the controller.
pub(crate) fn read_reply(bus: &mut dyn Bus) -> Option<u8> {
    for _ in 0..MAX_REPLY_POLLS {
        if bus.inb(KBD_STATUS) & STATUS_OBF != 0 {
            return Some(bus.inb(KBD_DATA));
        }
    }
    None
}

/// Resets and enables controller and keyboard the way an OS driver does.
/// Returns true if every step was acknowledged.
pub(crate) fn init_controller(bus: &mut dyn Bus) -> bool {
    bus.outb(KBD_STATUS, 0xAD); // keyboard interface off while we set up
    for _ in 0..MAX_FLUSH {
        if bus.inb(KBD_STATUS) & STATUS_OBF == 0 {
            break;
        }
        bus.inb(KBD_DATA);
    }
    bus.outb(KBD_STATUS, 0xAA);
    let self_test = read_reply(bus) == Some(0x55);
    bus.outb(KBD_STATUS, 0x60);
    bus.outb(KBD_DATA, COMMAND_BYTE);
    bus.outb(KBD_STATUS, 0xAE);
    bus.outb(KBD_DATA, 0xFF);
    let reset = read_reply(bus) == Some(ACK) && read_reply(bus) == Some(0xAA);
    let enable = keyboard_command(bus, 0xF4);
    self_test && reset && enable
}

/// Sends a one-byte keyboard command and waits for its ACK.
pub(crate) fn keyboard_command(bus: &mut dyn Bus, cmd: u8) -> bool {
    bus.outb(KBD_DATA, cmd);
    read_reply(bus) == Some(ACK)
}

/// Sets the keyboard LEDs (bit 0 Scroll, 1 Num, 2 Caps Lock).
pub(crate) fn set_leds(bus: &mut dyn Bus, leds: u8) -> bool {
    keyboard_command(bus, 0xED) && keyboard_command(bus, leds & 0x07)
}

/// The result of one poll of the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Poll {
    /// The output buffer is empty.
    Empty,
    /// A byte from the auxiliary port was read and discarded.
    Aux,
    /// A byte from the keyboard.
    Byte(u8),
}

/// Reads one pending byte, if any.
pub(crate) fn poll(bus: &mut dyn Bus) -> Poll {
    let status = bus.inb(KBD_STATUS);
    if status & STATUS_OBF == 0 {
        return Poll::Empty;
    }
    let b = bus.inb(KBD_DATA);
    if status & STATUS_AUX != 0 {
        Poll::Aux
    } else {
        Poll::Byte(b)
    }
}

/// A decoded key press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A printable ASCII character.
    Char(u8),
    /// Ctrl held with a letter (lower-case letter given).
    Ctrl(u8),
    /// Enter or keypad Enter.
    Enter,
    /// Backspace.
    Backspace,
    /// Delete.
    Delete,
    /// Cursor left.
    Left,
    /// Cursor right.
    Right,
    /// Home.
    Home,
    /// End.
    End,
    /// Cursor up.
    Up,
    /// Cursor down.
    Down,
    /// Escape.
    Esc,
    /// Tab.
    Tab,
}

/// Unshifted and shifted ASCII for set-1 codes 0x02..=0x39 (0 = none).
const US_MAP: [(u8, u8); 0x3A] = {
    let mut t = [(0u8, 0u8); 0x3A];
    let rows: [(usize, &[u8], &[u8]); 4] = [
        (0x02, b"1234567890-=", b"!@#$%^&*()_+"),
        (0x10, b"qwertyuiop[]", b"QWERTYUIOP{}"),
        (0x1E, b"asdfghjkl;'`", b"ASDFGHJKL:\"~"),
        (0x2B, b"\\zxcvbnm,./", b"|ZXCVBNM<>?"),
    ];
    let mut r = 0;
    while r < rows.len() {
        let (start, plain, shifted) = rows[r];
        let mut i = 0;
        while i < plain.len() {
            t[start + i] = (plain[i], shifted[i]);
            i += 1;
        }
        r += 1;
    }
    t[0x39] = (b' ', b' ');
    t
};

/// Set-1 scancode decoder with modifier and lock state.
#[derive(Debug, Default, Clone)]
pub struct Decoder {
    e0: bool,
    pause_bytes_left: u8,
    shift_l: bool,
    shift_r: bool,
    ctrl_l: bool,
    ctrl_r: bool,
    alt_l: bool,
    alt_r: bool,
    caps_lock: bool,
    num_lock: bool,
    scroll_lock: bool,
    leds_changed: bool,
}

impl Decoder {
    /// A decoder with no keys held and all locks off.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// LED byte for the current lock state.
    #[must_use]
    pub fn leds(&self) -> u8 {
        u8::from(self.scroll_lock) | u8::from(self.num_lock) << 1 | u8::from(self.caps_lock) << 2
    }

    /// True once after a lock key changed the LED state.
    pub fn take_leds_changed(&mut self) -> bool {
        std::mem::take(&mut self.leds_changed)
    }

    fn shift(&self) -> bool {
        self.shift_l || self.shift_r
    }

    fn ctrl(&self) -> bool {
        self.ctrl_l || self.ctrl_r
    }

    /// Feeds one byte; returns a key when a press completes.
    pub fn feed(&mut self, b: u8) -> Option<Key> {
        if self.pause_bytes_left > 0 {
            self.pause_bytes_left -= 1;
            return None;
        }
        match b {
            0xE0 => {
                self.e0 = true;
                return None;
            }
            0xE1 => {
                // Pause: E1 1D 45 E1 9D C5; nothing to do with it here.
                self.pause_bytes_left = 5;
                return None;
            }
            // Controller/keyboard replies and errors, not keys.
            0x00 | 0xEE | 0xFA | 0xFC | 0xFE | 0xFF => {
                self.e0 = false;
                return None;
            }
            _ => {}
        }
        let ext = std::mem::take(&mut self.e0);
        let release = b & 0x80 != 0;
        let code = b & 0x7F;
        if self.modifier(ext, code, release) {
            return None;
        }
        if release || self.alt_l || self.alt_r {
            return None;
        }
        if ext {
            return match code {
                0x1C => Some(Key::Enter),
                0x35 => Some(Key::Char(b'/')),
                0x47 => Some(Key::Home),
                0x48 => Some(Key::Up),
                0x4B => Some(Key::Left),
                0x4D => Some(Key::Right),
                0x4F => Some(Key::End),
                0x50 => Some(Key::Down),
                0x53 => Some(Key::Delete),
                _ => None,
            };
        }
        match code {
            0x01 => Some(Key::Esc),
            0x0E => Some(Key::Backspace),
            0x0F => Some(Key::Tab),
            0x1C => Some(Key::Enter),
            0x37 => Some(Key::Char(b'*')),
            0x4A => Some(Key::Char(b'-')),
            0x4E => Some(Key::Char(b'+')),
            0x47..=0x53 => self.keypad(code),
            0x56 => Some(Key::Char(if self.shift() { b'|' } else { b'\\' })),
            _ => self.printable(code),
        }
    }

    /// Tracks modifier and lock keys; true if `code` was one.
    fn modifier(&mut self, ext: bool, code: u8, release: bool) -> bool {
        let down = !release;
        match (ext, code) {
            // E0 2A / E0 36: fake shifts around Print and friends.
            (true, 0x2A | 0x36) => {}
            (false, 0x2A) => self.shift_l = down,
            (false, 0x36) => self.shift_r = down,
            (false, 0x1D) => self.ctrl_l = down,
            (true, 0x1D) => self.ctrl_r = down,
            (false, 0x38) => self.alt_l = down,
            (true, 0x38) => self.alt_r = down,
            (false, 0x3A) => self.toggle(down, |d| &mut d.caps_lock),
            (false, 0x45) => self.toggle(down, |d| &mut d.num_lock),
            (false, 0x46) => self.toggle(down, |d| &mut d.scroll_lock),
            _ => return false,
        }
        true
    }

    fn toggle(&mut self, down: bool, lock: fn(&mut Self) -> &mut bool) {
        if down {
            let l = lock(self);
            *l = !*l;
            self.leds_changed = true;
        }
    }

    fn keypad(&self, code: u8) -> Option<Key> {
        const DIGITS: &[u8; 13] = b"789-456+1230.";
        if self.num_lock && !self.shift() {
            return DIGITS.get(usize::from(code - 0x47)).map(|&c| Key::Char(c));
        }
        match code {
            0x47 => Some(Key::Home),
            0x48 => Some(Key::Up),
            0x4B => Some(Key::Left),
            0x4D => Some(Key::Right),
            0x4F => Some(Key::End),
            0x50 => Some(Key::Down),
            0x53 => Some(Key::Delete),
            _ => None,
        }
    }

    fn printable(&self, code: u8) -> Option<Key> {
        let &(plain, shifted) = US_MAP.get(usize::from(code))?;
        if plain == 0 {
            return None;
        }
        if plain.is_ascii_lowercase() {
            if self.ctrl() {
                return Some(Key::Ctrl(plain));
            }
            let upper = self.shift() != self.caps_lock;
            return Some(Key::Char(if upper { shifted } else { plain }));
        }
        if self.ctrl() {
            return None;
        }
        Some(Key::Char(if self.shift() { shifted } else { plain }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(d: &mut Decoder, bytes: &[u8]) -> Vec<Key> {
        bytes.iter().filter_map(|&b| d.feed(b)).collect()
    }

    #[test]
    fn letters_shift_and_caps() {
        let mut d = Decoder::new();
        assert_eq!(feed_all(&mut d, &[0x23, 0xA3]), vec![Key::Char(b'h')]);
        assert_eq!(
            feed_all(&mut d, &[0x2A, 0x23, 0xA3, 0xAA]),
            vec![Key::Char(b'H')]
        );
        assert_eq!(
            feed_all(&mut d, &[0x3A, 0xBA, 0x23, 0xA3]),
            vec![Key::Char(b'H')]
        );
        assert!(d.take_leds_changed());
        assert_eq!(d.leds(), 0x04);
        // Caps + Shift gives lower case; digits are not affected by Caps.
        assert_eq!(
            feed_all(&mut d, &[0x36, 0x23, 0xA3, 0xB6, 0x02]),
            vec![Key::Char(b'h'), Key::Char(b'1')]
        );
    }

    #[test]
    fn extended_keys_and_keypad() {
        let mut d = Decoder::new();
        assert_eq!(feed_all(&mut d, &[0xE0, 0x4B, 0xE0, 0xCB]), vec![Key::Left]);
        assert_eq!(feed_all(&mut d, &[0xE0, 0x1C]), vec![Key::Enter]);
        assert_eq!(feed_all(&mut d, &[0x4F]), vec![Key::End]);
        assert_eq!(feed_all(&mut d, &[0x45, 0xC5, 0x4F]), vec![Key::Char(b'1')]);
        assert_eq!(
            feed_all(&mut d, &[0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5, 0x1E]),
            vec![Key::Char(b'a')]
        );
    }

    #[test]
    fn ctrl_letters() {
        let mut d = Decoder::new();
        assert_eq!(
            feed_all(&mut d, &[0x1D, 0x2E, 0xAE, 0x9D, 0x2E]),
            vec![Key::Ctrl(b'c'), Key::Char(b'c')]
        );
        assert_eq!(
            feed_all(&mut d, &[0xE0, 0x1D, 0x26, 0xE0, 0x9D]),
            vec![Key::Ctrl(b'l')]
        );
    }

    #[test]
    fn replies_are_not_keys() {
        let mut d = Decoder::new();
        assert_eq!(feed_all(&mut d, &[0xFA, 0xFE, 0xEE, 0x00, 0xFF]), vec![]);
    }
}
