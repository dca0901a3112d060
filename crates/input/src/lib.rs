//! The input layer between front ends (VNC viewers, monitors) and devices.
//!
//! Design: everything that reaches an emulated input device is named in
//! QEMU's vocabulary, so the monitors, the VNC server and the devices agree
//! without translation tables of their own:
//! - [`QKeyCode`] is QEMU's `QKeyCode` enum (qapi/ui.json), every value in
//!   QEMU's order, with its QAPI name ([`QKeyCode::as_str`]).
//! - [`keysym_to_qcode`] turns an RFB/X11 keysym into the physical key on a
//!   US keyboard (QEMU's default `en-us` keymap behaviour).
//! - [`qcode_to_number`] / [`number_to_qcode`] convert to and from QEMU's
//!   key numbers ("qnum", set-1 based) used by `send-key`.
//! - [`InputEvent`] is what front ends hand to the machine.
//!
//! The crate does no I/O and holds no state; the tables are data taken from
//! QEMU's keycodemapdb and `en-us` keymap.

#![forbid(unsafe_code)]

mod keysym;
mod qcode;

pub use keysym::{ascii_needs_shift, keysym_to_qcode};
pub use qcode::{MAX_NAME_IN_ERROR, QKeyCode, number_to_qcode, qcode_to_number};

/// Errors of the input layer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A key name that is not a QKeyCode (the name is cut to
    /// [`MAX_NAME_IN_ERROR`] characters).
    #[error("unknown key name '{name}'")]
    UnknownKey {
        /// The name as given (possibly cut).
        name: String,
    },
}

/// One input event from a front end, device-independent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputEvent {
    /// A key went down (`down == true`) or up.
    Key {
        /// The physical key.
        qcode: QKeyCode,
        /// Pressed (true) or released (false).
        down: bool,
    },
    /// Absolute pointer position and button state (RFB `PointerEvent`).
    Pointer {
        /// Button mask: bit 0 left, 1 middle, 2 right, 3/4 wheel up/down.
        buttons: u8,
        /// X in framebuffer pixels.
        x: u32,
        /// Y in framebuffer pixels.
        y: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_qcode_round_trips_through_its_name() {
        for &q in QKeyCode::all() {
            assert_eq!(QKeyCode::from_str_qemu(q.as_str()), Some(q), "{q:?}");
            assert_eq!(q.as_str().parse::<QKeyCode>(), Ok(q));
        }
    }

    #[test]
    fn all_is_in_qemu_order_and_complete() {
        let all = QKeyCode::all();
        // QEMU 8.0+ has 162 QKeyCode values, `unmapped` first, `f24` last.
        assert_eq!(all.len(), 162);
        assert_eq!(all[0], QKeyCode::Unmapped);
        assert_eq!(all[1].as_str(), "shift");
        assert_eq!(all[7].as_str(), "menu");
        assert_eq!(all[8].as_str(), "esc");
        assert_eq!(all[9].as_str(), "1");
        assert_eq!(all[18].as_str(), "0");
        assert_eq!(all[161].as_str(), "f24");
        for (i, q) in all.iter().enumerate() {
            assert_eq!(*q as usize, i, "discriminant of {q:?}");
        }
        let mut names: Vec<&str> = all.iter().map(|q| q.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len(), "names are unique");
    }

    #[test]
    fn unknown_names_are_rejected_and_cut_in_the_error() {
        assert_eq!(QKeyCode::from_str_qemu("Shift"), None);
        assert_eq!(QKeyCode::from_str_qemu(""), None);
        assert_eq!(QKeyCode::from_str_qemu("kp-enter"), None);
        let long = "x".repeat(10_000);
        let err = long.parse::<QKeyCode>().unwrap_err();
        let Error::UnknownKey { name } = &err;
        assert_eq!(name.len(), MAX_NAME_IN_ERROR);
        assert!(err.to_string().starts_with("unknown key name 'xxx"));
    }

    #[test]
    fn keysym_letters_ignore_case() {
        for (i, c) in (b'a'..=b'z').enumerate() {
            let lower = keysym_to_qcode(u32::from(c)).unwrap();
            let upper = keysym_to_qcode(u32::from(c.to_ascii_uppercase())).unwrap();
            assert_eq!(lower, upper);
            assert_eq!(lower.as_str(), (c as char).to_string());
            // set-1 letter numbers are not alphabetical; check a few exactly.
            if i == 0 {
                assert_eq!(qcode_to_number(lower), 0x1e);
            }
        }
        assert_eq!(keysym_to_qcode(u32::from(b'q')), Some(QKeyCode::Q));
        assert_eq!(keysym_to_qcode(u32::from(b'Z')), Some(QKeyCode::Z));
    }

    #[test]
    fn keysym_digits_and_shifted_symbols_use_the_digit_keys() {
        let row = [
            (b'1', b'!'),
            (b'2', b'@'),
            (b'3', b'#'),
            (b'4', b'$'),
            (b'5', b'%'),
            (b'6', b'^'),
            (b'7', b'&'),
            (b'8', b'*'),
            (b'9', b'('),
            (b'0', b')'),
        ];
        for (digit, shifted) in row {
            let d = keysym_to_qcode(u32::from(digit)).unwrap();
            assert_eq!(d.as_str(), (digit as char).to_string());
            assert_eq!(keysym_to_qcode(u32::from(shifted)), Some(d));
            assert!(ascii_needs_shift(shifted));
            assert!(!ascii_needs_shift(digit));
        }
        let pairs = [
            (b'-', b'_', QKeyCode::Minus),
            (b'=', b'+', QKeyCode::Equal),
            (b'[', b'{', QKeyCode::BracketLeft),
            (b']', b'}', QKeyCode::BracketRight),
            (b'\\', b'|', QKeyCode::Backslash),
            (b';', b':', QKeyCode::Semicolon),
            (b'\'', b'"', QKeyCode::Apostrophe),
            (b'`', b'~', QKeyCode::GraveAccent),
            (b',', b'<', QKeyCode::Comma),
            (b'.', b'>', QKeyCode::Dot),
            (b'/', b'?', QKeyCode::Slash),
        ];
        for (plain, shifted, q) in pairs {
            assert_eq!(keysym_to_qcode(u32::from(plain)), Some(q));
            assert_eq!(keysym_to_qcode(u32::from(shifted)), Some(q));
        }
        assert_eq!(keysym_to_qcode(0x20), Some(QKeyCode::Spc));
    }

    #[test]
    fn keysym_function_and_editing_keys() {
        let f = [
            QKeyCode::F1,
            QKeyCode::F2,
            QKeyCode::F3,
            QKeyCode::F4,
            QKeyCode::F5,
            QKeyCode::F6,
            QKeyCode::F7,
            QKeyCode::F8,
            QKeyCode::F9,
            QKeyCode::F10,
            QKeyCode::F11,
            QKeyCode::F12,
        ];
        for (i, q) in (0xffbe_u32..).zip(f) {
            assert_eq!(keysym_to_qcode(i), Some(q));
        }
        assert_eq!(keysym_to_qcode(0xffd5), Some(QKeyCode::F24));
        assert_eq!(keysym_to_qcode(0xffd6), None);
        let named = [
            (0xff0d, QKeyCode::Ret),
            (0xff08, QKeyCode::Backspace),
            (0xff09, QKeyCode::Tab),
            (0xff1b, QKeyCode::Esc),
            (0xff51, QKeyCode::Left),
            (0xff52, QKeyCode::Up),
            (0xff53, QKeyCode::Right),
            (0xff54, QKeyCode::Down),
            (0xff50, QKeyCode::Home),
            (0xff57, QKeyCode::End),
            (0xff55, QKeyCode::Pgup),
            (0xff56, QKeyCode::Pgdn),
            (0xff63, QKeyCode::Insert),
            (0xffff, QKeyCode::Delete),
            (0xffe1, QKeyCode::Shift),
            (0xffe2, QKeyCode::ShiftR),
            (0xffe3, QKeyCode::Ctrl),
            (0xffe4, QKeyCode::CtrlR),
            (0xffe9, QKeyCode::Alt),
            (0xffea, QKeyCode::AltR),
            (0xffe5, QKeyCode::CapsLock),
            (0xff7f, QKeyCode::NumLock),
            (0xffeb, QKeyCode::MetaL),
            (0xff8d, QKeyCode::KpEnter),
            (0xffb0, QKeyCode::Kp0),
            (0xffb9, QKeyCode::Kp9),
            (0xff95, QKeyCode::Kp7),
            (0xff9f, QKeyCode::KpDecimal),
            (0xffaa, QKeyCode::KpMultiply),
            (0xffaf, QKeyCode::KpDivide),
            (0xff61, QKeyCode::Print),
            (0xff13, QKeyCode::Pause),
        ];
        for (ks, q) in named {
            assert_eq!(keysym_to_qcode(ks), Some(q), "keysym {ks:#x}");
        }
    }

    #[test]
    fn keysym_without_us_key_is_none() {
        assert_eq!(keysym_to_qcode(0), None);
        assert_eq!(keysym_to_qcode(0x7f), None);
        assert_eq!(keysym_to_qcode(0xe4), None); // adiaeresis
        assert_eq!(keysym_to_qcode(0x0100_0041), None);
        assert_eq!(keysym_to_qcode(u32::MAX), None);
    }

    #[test]
    fn numbers_match_qemu_qnum() {
        let cases = [
            (QKeyCode::Esc, 0x01),
            (QKeyCode::A, 0x1e),
            (QKeyCode::Shift, 0x2a),
            (QKeyCode::AltR, 0xb8),
            (QKeyCode::CtrlR, 0x9d),
            (QKeyCode::KpEnter, 0x9c),
            (QKeyCode::KpDivide, 0xb5),
            (QKeyCode::Delete, 0xd3),
            (QKeyCode::MetaL, 0xdb),
            (QKeyCode::Pause, 0xc6),
            (QKeyCode::Print, 0x54),
            (QKeyCode::Lang1, 0x72),
            (QKeyCode::Lang2, 0x71),
            (QKeyCode::F24, 0x6f),
            (QKeyCode::Unmapped, 0),
        ];
        for (q, n) in cases {
            assert_eq!(qcode_to_number(q), n, "{q:?}");
        }
    }

    #[test]
    fn numbers_round_trip_except_qemu_aliases() {
        for &q in QKeyCode::all() {
            let n = qcode_to_number(q);
            let back = number_to_qcode(n);
            match q {
                QKeyCode::Unmapped => assert_eq!(back, None),
                QKeyCode::Asterisk => assert_eq!(back, Some(QKeyCode::KpMultiply)),
                QKeyCode::Sysrq => assert_eq!(back, Some(QKeyCode::Print)),
                _ => assert_eq!(back, Some(q), "{q:?} -> {n:#x}"),
            }
        }
        assert_eq!(number_to_qcode(0xb7), Some(QKeyCode::Print));
        assert_eq!(number_to_qcode(0x5c), None);
        assert_eq!(number_to_qcode(0x100), None);
        assert_eq!(number_to_qcode(u32::MAX), None);
    }

    #[test]
    fn sysrq_is_canonically_print() {
        assert_eq!(QKeyCode::Sysrq.canonical(), QKeyCode::Print);
        assert_eq!(QKeyCode::A.canonical(), QKeyCode::A);
    }
}
