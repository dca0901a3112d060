//! X11 keysym → physical key, for a US keyboard.
//!
//! RFB `KeyEvent` carries an X11 keysym. The viewer presses Shift itself
//! for shifted characters, so this mapping only has to name the physical
//! key that produces the symbol on a US (pc105 "us") keyboard, as QEMU's
//! `en-us` keymap does: `a` and `A` are both key `a`, `!` is key `1`.
//!
//! Differences from QEMU's `en-us` table, all additions or a choice
//! where QEMU's answer depends on the current Shift state:
//! - `<`, `>` map to `comma`/`dot` (the US keys), never to the 102nd key
//!   `less` that QEMU picks when Shift is not held.
//! - `F13`–`F24`, `XK_Break` and `XK_KP_Space`/`XK_KP_Tab` are mapped.

use crate::QKeyCode;

/// Maps an X11 keysym (as sent by an RFB `KeyEvent`) to the physical key
/// that produces it on a US keyboard, or `None` for keysyms with no key.
#[must_use]
pub fn keysym_to_qcode(keysym: u32) -> Option<QKeyCode> {
    // Printable ASCII (Latin-1 keysyms equal the character code).
    if let Ok(b) = u8::try_from(keysym)
        && (0x20..0x7f).contains(&b)
    {
        return ascii_key(b);
    }
    use QKeyCode as Q;
    let q = match keysym {
        0xff08 => Q::Backspace,
        0xff09 | 0xfe20 => Q::Tab, // Tab, ISO_Left_Tab (Shift+Tab)
        0xff0a => Q::Lf,
        0xff0d => Q::Ret,
        0xff13 | 0xff6b => Q::Pause, // Pause, Break
        0xff14 => Q::ScrollLock,
        0xff15 | 0xff61 | 0xff62 => Q::Print, // Sys_Req, Print, Execute
        0xff1b => Q::Esc,
        0xff22 => Q::Muhenkan,
        0xff23 => Q::Henkan,
        0xff25 => Q::Hiragana,
        0xff27 => Q::Katakanahiragana,
        0xff50 => Q::Home,
        0xff51 => Q::Left,
        0xff52 => Q::Up,
        0xff53 => Q::Right,
        0xff54 => Q::Down,
        0xff55 => Q::Pgup,
        0xff56 => Q::Pgdn,
        0xff57 => Q::End,
        0xff63 => Q::Insert,
        0xff65 => Q::Undo,
        0xff66 => Q::Again,   // Redo
        0xff67 => Q::Compose, // Menu
        0xff68 => Q::Find,
        0xff69 => Q::Stop, // Cancel
        0xff6a => Q::Help,
        0xff7f => Q::NumLock,
        0xff80 => Q::Spc, // KP_Space
        0xff89 => Q::Tab, // KP_Tab
        0xff8d => Q::KpEnter,
        0xff95 => Q::Kp7,       // KP_Home
        0xff96 => Q::Kp4,       // KP_Left
        0xff97 => Q::Kp8,       // KP_Up
        0xff98 => Q::Kp6,       // KP_Right
        0xff99 => Q::Kp2,       // KP_Down
        0xff9a => Q::Kp9,       // KP_Prior
        0xff9b => Q::Kp3,       // KP_Next
        0xff9c => Q::Kp1,       // KP_End
        0xff9d => Q::Kp5,       // KP_Begin
        0xff9e => Q::Kp0,       // KP_Insert
        0xff9f => Q::KpDecimal, // KP_Delete
        0xffaa => Q::KpMultiply,
        0xffab => Q::KpAdd,
        0xffac | 0xffae => Q::KpDecimal, // KP_Separator, KP_Decimal
        0xffad => Q::KpSubtract,
        0xffaf => Q::KpDivide,
        0xffb0 => Q::Kp0,
        0xffb1 => Q::Kp1,
        0xffb2 => Q::Kp2,
        0xffb3 => Q::Kp3,
        0xffb4 => Q::Kp4,
        0xffb5 => Q::Kp5,
        0xffb6 => Q::Kp6,
        0xffb7 => Q::Kp7,
        0xffb8 => Q::Kp8,
        0xffb9 => Q::Kp9,
        0xffbd => Q::KpEquals,
        0xffbe..=0xffd5 => return function_key(keysym - 0xffbe),
        0xffe1 => Q::Shift,
        0xffe2 => Q::ShiftR,
        0xffe3 => Q::Ctrl,
        0xffe4 => Q::CtrlR,
        0xffe5 => Q::CapsLock,
        0xffe7 | 0xffe9 => Q::Alt, // Meta_L is Shift+Alt_L in xkb
        0xffe8 | 0xffea | 0xfe03 | 0xff7e => Q::AltR, // Meta_R, Alt_R, ISO_Level3_Shift, Mode_switch
        0xffeb => Q::MetaL,                           // Super_L
        0xffec => Q::MetaR,                           // Super_R
        0xffff => Q::Delete,
        // XF86 media keys
        0x1008_ff11 => Q::Volumedown,
        0x1008_ff12 => Q::Audiomute,
        0x1008_ff13 => Q::Volumeup,
        0x1008_ff14 | 0x1008_ff31 => Q::Audioplay, // AudioPlay, AudioPause
        0x1008_ff15 | 0x1008_ff2c => Q::Audiostop, // AudioStop, Eject
        0x1008_ff16 => Q::Audioprev,
        0x1008_ff17 => Q::Audionext,
        0x1008_ff18 => Q::AcHome,
        0x1008_ff19 => Q::Mail,
        0x1008_ff1d => Q::Calculator,
        0x1008_ff26 => Q::AcBack,
        0x1008_ff27 => Q::AcForward,
        0x1008_ff2a => Q::Power,
        0x1008_ff2b => Q::Wake,
        0x1008_ff2f => Q::Sleep,
        0x1008_ff30 => Q::AcBookmarks,
        0x1008_ff32 => Q::Mediaselect,
        0x1008_ff33 => Q::Computer,
        0x1008_ff57 => Q::Copy,
        0x1008_ff58 => Q::Cut,
        0x1008_ff65 => Q::Menu,
        0x1008_ff6b => Q::Open,
        0x1008_ff6d => Q::Paste,
        0x1008_ff73 => Q::AcRefresh,
        _ => return None,
    };
    Some(q)
}

/// F1..F24 by index 0..23.
fn function_key(index: u32) -> Option<QKeyCode> {
    use QKeyCode as Q;
    const KEYS: [QKeyCode; 24] = [
        Q::F1,
        Q::F2,
        Q::F3,
        Q::F4,
        Q::F5,
        Q::F6,
        Q::F7,
        Q::F8,
        Q::F9,
        Q::F10,
        Q::F11,
        Q::F12,
        Q::F13,
        Q::F14,
        Q::F15,
        Q::F16,
        Q::F17,
        Q::F18,
        Q::F19,
        Q::F20,
        Q::F21,
        Q::F22,
        Q::F23,
        Q::F24,
    ];
    KEYS.get(usize::try_from(index).ok()?).copied()
}

/// The US key that types printable ASCII character `c` (with or without Shift).
fn ascii_key(c: u8) -> Option<QKeyCode> {
    use QKeyCode as Q;
    const LETTERS: [QKeyCode; 26] = [
        Q::A,
        Q::B,
        Q::C,
        Q::D,
        Q::E,
        Q::F,
        Q::G,
        Q::H,
        Q::I,
        Q::J,
        Q::K,
        Q::L,
        Q::M,
        Q::N,
        Q::O,
        Q::P,
        Q::Q,
        Q::R,
        Q::S,
        Q::T,
        Q::U,
        Q::V,
        Q::W,
        Q::X,
        Q::Y,
        Q::Z,
    ];
    const DIGITS: [QKeyCode; 10] = [
        Q::Digit0,
        Q::Digit1,
        Q::Digit2,
        Q::Digit3,
        Q::Digit4,
        Q::Digit5,
        Q::Digit6,
        Q::Digit7,
        Q::Digit8,
        Q::Digit9,
    ];
    let q = match c {
        b'a'..=b'z' => LETTERS[usize::from(c - b'a')],
        b'A'..=b'Z' => LETTERS[usize::from(c - b'A')],
        b'0'..=b'9' => DIGITS[usize::from(c - b'0')],
        b' ' => Q::Spc,
        b'!' => Q::Digit1,
        b'@' => Q::Digit2,
        b'#' => Q::Digit3,
        b'$' => Q::Digit4,
        b'%' => Q::Digit5,
        b'^' => Q::Digit6,
        b'&' => Q::Digit7,
        b'*' => Q::Digit8,
        b'(' => Q::Digit9,
        b')' => Q::Digit0,
        b'-' | b'_' => Q::Minus,
        b'=' | b'+' => Q::Equal,
        b'[' | b'{' => Q::BracketLeft,
        b']' | b'}' => Q::BracketRight,
        b'\\' | b'|' => Q::Backslash,
        b';' | b':' => Q::Semicolon,
        b'\'' | b'"' => Q::Apostrophe,
        b'`' | b'~' => Q::GraveAccent,
        b',' | b'<' => Q::Comma,
        b'.' | b'>' => Q::Dot,
        b'/' | b'?' => Q::Slash,
        _ => return None,
    };
    Some(q)
}

/// Whether the US keyboard needs Shift to type printable ASCII `c`.
///
/// Useful for callers that turn text into key presses (e.g. typing a
/// string into the guest through `send-key`-like paths).
#[must_use]
pub fn ascii_needs_shift(c: u8) -> bool {
    matches!(
        c,
        b'A'..=b'Z'
            | b'!'
            | b'@'
            | b'#'
            | b'$'
            | b'%'
            | b'^'
            | b'&'
            | b'*'
            | b'('
            | b')'
            | b'_'
            | b'+'
            | b'{'
            | b'}'
            | b'|'
            | b':'
            | b'"'
            | b'~'
            | b'<'
            | b'>'
            | b'?'
    )
}
