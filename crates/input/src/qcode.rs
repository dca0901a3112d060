//! The QKeyCode enumeration (QEMU `qapi/ui.json`) and QEMU's key numbers.
//!
//! The table below lists every QKeyCode in QEMU's declaration order, its
//! QAPI name and its "qnum": the number `send-key` accepts for a key. A
//! qnum is the key's scancode-set-1 make code, with `0x80` or-ed in for
//! keys whose set-1 code carries an `E0` prefix (keycodemapdb's
//! definition). Hangeul/Hanja (set-1 `F2`/`F1`) keep their historical
//! numbers `0x72`/`0x71`.

use std::fmt;
use std::str::FromStr;

use crate::Error;

macro_rules! qkeycodes {
    ($($variant:ident => $name:literal, $qnum:literal;)*) => {
        /// A physical key, named as QEMU's `QKeyCode` enum names it.
        ///
        /// The variants are in QEMU's order, so `q as usize` is QEMU's
        /// enum value.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)] // the QAPI name (as_str) documents each key
        pub enum QKeyCode {
            $($variant,)*
        }

        const ALL: &[QKeyCode] = &[$(QKeyCode::$variant,)*];

        impl QKeyCode {
            /// The QAPI name (`"shift_r"`, `"1"`, `"kp_enter"`, ...).
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(QKeyCode::$variant => $name,)*
                }
            }

            /// The key for a QAPI name; exact, case-sensitive match as in QEMU.
            #[must_use]
            pub fn from_str_qemu(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(QKeyCode::$variant),)*
                    _ => None,
                }
            }

            /// QEMU's key number ("qnum") for this key; 0 for `unmapped`.
            #[must_use]
            pub fn qnum(self) -> u8 {
                match self {
                    $(QKeyCode::$variant => $qnum,)*
                }
            }
        }
    };
}

qkeycodes! {
    Unmapped => "unmapped", 0x00;
    Shift => "shift", 0x2a;
    ShiftR => "shift_r", 0x36;
    Alt => "alt", 0x38;
    AltR => "alt_r", 0xb8;
    Ctrl => "ctrl", 0x1d;
    CtrlR => "ctrl_r", 0x9d;
    Menu => "menu", 0x9e;
    Esc => "esc", 0x01;
    Digit1 => "1", 0x02;
    Digit2 => "2", 0x03;
    Digit3 => "3", 0x04;
    Digit4 => "4", 0x05;
    Digit5 => "5", 0x06;
    Digit6 => "6", 0x07;
    Digit7 => "7", 0x08;
    Digit8 => "8", 0x09;
    Digit9 => "9", 0x0a;
    Digit0 => "0", 0x0b;
    Minus => "minus", 0x0c;
    Equal => "equal", 0x0d;
    Backspace => "backspace", 0x0e;
    Tab => "tab", 0x0f;
    Q => "q", 0x10;
    W => "w", 0x11;
    E => "e", 0x12;
    R => "r", 0x13;
    T => "t", 0x14;
    Y => "y", 0x15;
    U => "u", 0x16;
    I => "i", 0x17;
    O => "o", 0x18;
    P => "p", 0x19;
    BracketLeft => "bracket_left", 0x1a;
    BracketRight => "bracket_right", 0x1b;
    Ret => "ret", 0x1c;
    A => "a", 0x1e;
    S => "s", 0x1f;
    D => "d", 0x20;
    F => "f", 0x21;
    G => "g", 0x22;
    H => "h", 0x23;
    J => "j", 0x24;
    K => "k", 0x25;
    L => "l", 0x26;
    Semicolon => "semicolon", 0x27;
    Apostrophe => "apostrophe", 0x28;
    GraveAccent => "grave_accent", 0x29;
    Backslash => "backslash", 0x2b;
    Z => "z", 0x2c;
    X => "x", 0x2d;
    C => "c", 0x2e;
    V => "v", 0x2f;
    B => "b", 0x30;
    N => "n", 0x31;
    M => "m", 0x32;
    Comma => "comma", 0x33;
    Dot => "dot", 0x34;
    Slash => "slash", 0x35;
    Asterisk => "asterisk", 0x37;
    Spc => "spc", 0x39;
    CapsLock => "caps_lock", 0x3a;
    F1 => "f1", 0x3b;
    F2 => "f2", 0x3c;
    F3 => "f3", 0x3d;
    F4 => "f4", 0x3e;
    F5 => "f5", 0x3f;
    F6 => "f6", 0x40;
    F7 => "f7", 0x41;
    F8 => "f8", 0x42;
    F9 => "f9", 0x43;
    F10 => "f10", 0x44;
    NumLock => "num_lock", 0x45;
    ScrollLock => "scroll_lock", 0x46;
    KpDivide => "kp_divide", 0xb5;
    KpMultiply => "kp_multiply", 0x37;
    KpSubtract => "kp_subtract", 0x4a;
    KpAdd => "kp_add", 0x4e;
    KpEnter => "kp_enter", 0x9c;
    KpDecimal => "kp_decimal", 0x53;
    Sysrq => "sysrq", 0x54;
    Kp0 => "kp_0", 0x52;
    Kp1 => "kp_1", 0x4f;
    Kp2 => "kp_2", 0x50;
    Kp3 => "kp_3", 0x51;
    Kp4 => "kp_4", 0x4b;
    Kp5 => "kp_5", 0x4c;
    Kp6 => "kp_6", 0x4d;
    Kp7 => "kp_7", 0x47;
    Kp8 => "kp_8", 0x48;
    Kp9 => "kp_9", 0x49;
    Less => "less", 0x56;
    F11 => "f11", 0x57;
    F12 => "f12", 0x58;
    Print => "print", 0x54;
    Home => "home", 0xc7;
    Pgup => "pgup", 0xc9;
    Pgdn => "pgdn", 0xd1;
    End => "end", 0xcf;
    Left => "left", 0xcb;
    Up => "up", 0xc8;
    Down => "down", 0xd0;
    Right => "right", 0xcd;
    Insert => "insert", 0xd2;
    Delete => "delete", 0xd3;
    Stop => "stop", 0xe8;
    Again => "again", 0x85;
    Props => "props", 0x86;
    Undo => "undo", 0x87;
    Front => "front", 0x8c;
    Copy => "copy", 0xf8;
    Open => "open", 0x64;
    Paste => "paste", 0x65;
    Find => "find", 0xc1;
    Cut => "cut", 0xbc;
    Lf => "lf", 0x5b;
    Help => "help", 0xf5;
    MetaL => "meta_l", 0xdb;
    MetaR => "meta_r", 0xdc;
    Compose => "compose", 0xdd;
    Pause => "pause", 0xc6;
    Ro => "ro", 0x73;
    Hiragana => "hiragana", 0x77;
    Henkan => "henkan", 0x79;
    Yen => "yen", 0x7d;
    Muhenkan => "muhenkan", 0x7b;
    Katakanahiragana => "katakanahiragana", 0x70;
    KpComma => "kp_comma", 0x7e;
    KpEquals => "kp_equals", 0x59;
    Power => "power", 0xde;
    Sleep => "sleep", 0xdf;
    Wake => "wake", 0xe3;
    Audionext => "audionext", 0x99;
    Audioprev => "audioprev", 0x90;
    Audiostop => "audiostop", 0xa4;
    Audioplay => "audioplay", 0xa2;
    Audiomute => "audiomute", 0xa0;
    Volumeup => "volumeup", 0xb0;
    Volumedown => "volumedown", 0xae;
    Mediaselect => "mediaselect", 0xed;
    Mail => "mail", 0xec;
    Calculator => "calculator", 0xa1;
    Computer => "computer", 0xeb;
    AcHome => "ac_home", 0xb2;
    AcBack => "ac_back", 0xea;
    AcForward => "ac_forward", 0xe9;
    AcRefresh => "ac_refresh", 0xe7;
    AcBookmarks => "ac_bookmarks", 0xe6;
    Lang1 => "lang1", 0x72;
    Lang2 => "lang2", 0x71;
    F13 => "f13", 0x5d;
    F14 => "f14", 0x5e;
    F15 => "f15", 0x5f;
    F16 => "f16", 0x55;
    F17 => "f17", 0x83;
    F18 => "f18", 0xf7;
    F19 => "f19", 0x84;
    F20 => "f20", 0x5a;
    F21 => "f21", 0x74;
    F22 => "f22", 0xf9;
    F23 => "f23", 0x6d;
    F24 => "f24", 0x6f;
}

/// Longest key name echoed back in an error; longer input is cut.
pub const MAX_NAME_IN_ERROR: usize = 64;

impl QKeyCode {
    /// Every key, in QEMU's declaration order (`unmapped` first).
    #[must_use]
    pub fn all() -> &'static [QKeyCode] {
        ALL
    }

    /// QEMU normalises the obsolete `sysrq` to `print` before any device
    /// sees it; every other key is returned unchanged.
    #[must_use]
    pub fn canonical(self) -> Self {
        match self {
            QKeyCode::Sysrq => QKeyCode::Print,
            other => other,
        }
    }
}

impl fmt::Display for QKeyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QKeyCode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QKeyCode::from_str_qemu(s).ok_or_else(|| Error::UnknownKey {
            name: s.chars().take(MAX_NAME_IN_ERROR).collect(),
        })
    }
}

/// QEMU's key number for `q` (what `send-key` with `{"type":"number"}` means).
///
/// Set-1 make code, `0x80 | code` for `E0`-prefixed keys; 0 for `unmapped`.
#[must_use]
pub fn qcode_to_number(q: QKeyCode) -> u32 {
    u32::from(q.qnum())
}

/// The key QEMU delivers for key number `n`, or `None` if QEMU maps the
/// number to no key (it would deliver `unmapped`).
///
/// Where two keys share a number, QEMU's choice wins: `0x37` is
/// `kp_multiply` (not `asterisk`), and `0x54` and its legacy alias `0xb7`
/// are `print` (QEMU turns the table's `sysrq` into `print` on delivery).
#[must_use]
pub fn number_to_qcode(n: u32) -> Option<QKeyCode> {
    match n {
        0x37 => return Some(QKeyCode::KpMultiply),
        0x54 | 0xb7 => return Some(QKeyCode::Print),
        0 => return None,
        _ => {}
    }
    let n = u8::try_from(n).ok()?;
    ALL.iter()
        .copied()
        .find(|q| q.qnum() == n && !matches!(q, QKeyCode::Asterisk | QKeyCode::Sysrq))
}
