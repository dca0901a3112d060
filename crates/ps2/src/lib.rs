//! A PS/2 keyboard behind an i8042 keyboard controller (keyboard side only).
//!
//! Design: one value, [`Ps2Kbd`], models both the controller (ports `0x60`
//! data and `0x64` status/command) and the MF2 keyboard behind it, because a
//! guest only ever sees the pair. There is no auxiliary (mouse) device.
//!
//! - Key events arrive as [`QKeyCode`]s ([`Ps2Kbd::key_event`]). The
//!   keyboard scans in set 2 and the controller translates to set 1
//!   (command byte bit 6, on by default, as a PC BIOS leaves it), so the
//!   guest reads set-1 codes; if the guest turns translation off it reads
//!   raw set-2 codes, and it may select set 1 with `F0 01`. Set 3 is not
//!   supported (`F0 03` is answered with `FE`, resend). A few rare keys
//!   (`menu`, `f16`..`f24`, `open`, `paste`, ...) have no set-2 code in
//!   QEMU's table; QEMU drops them even when translating, this keyboard
//!   sends their set-1 codes when translating and drops them only in raw
//!   set 2.
//! - Scancodes wait in a FIFO of [`QUEUE_LEN`] bytes. A key whose whole
//!   sequence does not fit is dropped (never half a sequence), so a guest
//!   that stops reading costs at most `QUEUE_LEN` bytes.
//! - Replies to commands go to a small separate queue that the guest reads
//!   first, like QEMU, so a reply is never stuck behind typed keys.
//! - Key events are dropped while the keyboard interface is disabled
//!   (`0xAD`, command byte bit 4) or scanning is off (`0xF5`).
//! - The state after [`Ps2Kbd::new`] is what a PC BIOS leaves behind:
//!   self-test passed (system flag set), translation on, keyboard enabled,
//!   scanning on.
//!
//! No I/O, no timers: every port access is answered at once, so the input
//! buffer is never busy.

#![forbid(unsafe_code)]

mod table;

use std::collections::VecDeque;

pub use input::QKeyCode;

/// Capacity of the scancode FIFO in bytes (QEMU's PS/2 buffer is 256).
pub const QUEUE_LEN: usize = 256;

/// Capacity of the command-reply queue; the longest reply is 3 bytes.
pub const REPLY_LEN: usize = 4;

/// Longest byte sequence one key event produces (Pause in set 2).
const MAX_SEQ: usize = 8;

/// Data port.
pub const PORT_DATA: u16 = 0x60;
/// Status (read) / command (write) port.
pub const PORT_STATUS: u16 = 0x64;

/// Status register: output buffer full.
pub const STATUS_OBF: u8 = 0x01;
/// Status register: input buffer full (never set: writes complete at once).
pub const STATUS_IBF: u8 = 0x02;
/// Status register: system flag (self-test passed).
pub const STATUS_SYS: u8 = 0x04;
/// Status register: last write went to the command port.
pub const STATUS_CMD: u8 = 0x08;
/// Status register: keyboard not inhibited by the key lock.
pub const STATUS_UNLOCKED: u8 = 0x10;

/// Command byte: keyboard interrupt enable.
pub const MODE_KBD_INT: u8 = 0x01;
/// Command byte: system flag.
pub const MODE_SYS: u8 = 0x04;
/// Command byte: keyboard interface disabled.
pub const MODE_DISABLE_KBD: u8 = 0x10;
/// Command byte: auxiliary interface disabled.
pub const MODE_DISABLE_AUX: u8 = 0x20;
/// Command byte: translate set 2 to set 1.
pub const MODE_XLATE: u8 = 0x40;

/// Command byte after [`Ps2Kbd::new`]: interrupt on, system flag,
/// no auxiliary device, translation on.
pub const DEFAULT_MODE: u8 = MODE_KBD_INT | MODE_SYS | MODE_DISABLE_AUX | MODE_XLATE;

const OUTPORT_RESET: u8 = 0x01;
const OUTPORT_A20: u8 = 0x02;
const OUTPORT_OBF: u8 = 0x10;
/// Output port after reset: CPU running, A20 on, unused lines high.
const DEFAULT_OUTPORT: u8 = OUTPORT_RESET | OUTPORT_A20 | 0xcc;

const ACK: u8 = 0xfa;
const RESEND: u8 = 0xfe;
const BAT_OK: u8 = 0xaa;
const ECHO: u8 = 0xee;

const MOD_SHIFT_L: u8 = 0x01;
const MOD_SHIFT_R: u8 = 0x02;
const MOD_CTRL_L: u8 = 0x04;
const MOD_CTRL_R: u8 = 0x08;
const MOD_ALT_L: u8 = 0x10;
const MOD_ALT_R: u8 = 0x20;

/// Why a key event did not reach the guest.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum Error {
    /// The keyboard interface is disabled or scanning is off.
    #[error("keyboard disabled by the guest, key dropped")]
    Disabled,
    /// The scancode FIFO has no room for the key's whole sequence.
    #[error("keyboard queue full ({QUEUE_LEN} bytes), key dropped")]
    QueueFull,
    /// The key has no scancode (e.g. `unmapped`).
    #[error("key {0} has no PS/2 scancode")]
    NoScancode(QKeyCode),
}

/// A controller command waiting for its data byte on port 0x60.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CtrlPending {
    /// `0x60`: the next byte is the command byte.
    Mode,
    /// `0xD1`: the next byte is the output port.
    Outport,
    /// `0xD2`: the next byte appears as keyboard output.
    KbdOutput,
    /// `0xD3`: the next byte appears as auxiliary output.
    AuxOutput,
    /// `0xD4`: the next byte goes to the auxiliary device.
    Aux,
}

/// An i8042 controller with an MF2 keyboard attached.
#[derive(Debug, Clone)]
pub struct Ps2Kbd {
    queue: VecDeque<u8>,
    replies: VecDeque<u8>,
    last_read: u8,
    mode: u8,
    sys_flag: bool,
    last_write_cmd: bool,
    outport: u8,
    ctrl_pending: Option<CtrlPending>,
    kbd_pending: Option<u8>,
    scanning: bool,
    scancode_set: u8,
    leds: u8,
    modifiers: u8,
    reset_requested: bool,
}

impl Default for Ps2Kbd {
    fn default() -> Self {
        Self::new()
    }
}

impl Ps2Kbd {
    /// A controller and keyboard in the state a PC BIOS leaves them.
    #[must_use]
    pub fn new() -> Self {
        Ps2Kbd {
            queue: VecDeque::with_capacity(QUEUE_LEN),
            replies: VecDeque::with_capacity(REPLY_LEN),
            last_read: 0,
            mode: DEFAULT_MODE,
            sys_flag: true,
            last_write_cmd: false,
            outport: DEFAULT_OUTPORT,
            ctrl_pending: None,
            kbd_pending: None,
            scanning: true,
            scancode_set: 2,
            leds: 0,
            modifiers: 0,
            reset_requested: false,
        }
    }

    /// Machine reset: back to the state of [`Ps2Kbd::new`], queues emptied.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Bytes waiting for the guest (command replies plus scancodes).
    ///
    /// At most `REPLY_LEN + QUEUE_LEN`; scancodes alone never exceed
    /// [`QUEUE_LEN`].
    #[must_use]
    pub fn pending(&self) -> usize {
        self.replies.len() + self.queue.len()
    }

    /// Keyboard LEDs as last set by the guest (`0xED`): bit 0 Scroll Lock,
    /// bit 1 Num Lock, bit 2 Caps Lock.
    #[must_use]
    pub fn leds(&self) -> u8 {
        self.leds
    }

    /// The controller command byte (`0x20` reads the same value).
    #[must_use]
    pub fn command_byte(&self) -> u8 {
        self.mode
    }

    /// Returns true once after the guest asked the controller to reset the
    /// CPU (`0xFE`, a pulse of output-port bit 0, or writing it as 0).
    pub fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.reset_requested)
    }

    /// A key went down or up. Dropped silently while the keyboard is
    /// disabled or when the FIFO has no room; see [`Ps2Kbd::try_key_event`].
    pub fn key_event(&mut self, q: QKeyCode, down: bool) {
        // Dropping is the specified behaviour; the reason only matters to
        // callers that use try_key_event.
        let _dropped = self.try_key_event(q, down);
    }

    /// Like [`Ps2Kbd::key_event`] but says why a key was dropped.
    ///
    /// # Errors
    /// [`Error::Disabled`], [`Error::QueueFull`] or [`Error::NoScancode`];
    /// in every case nothing was queued.
    pub fn try_key_event(&mut self, q: QKeyCode, down: bool) -> Result<(), Error> {
        if !self.scanning || self.mode & MODE_DISABLE_KBD != 0 {
            return Err(Error::Disabled);
        }
        let q = q.canonical();
        let bit = modifier_bit(q);
        if down {
            self.modifiers |= bit;
        } else {
            self.modifiers &= !bit;
        }
        let mut seq = Seq::default();
        if self.emits_set1() {
            self.set1_sequence(q, down, &mut seq);
        } else {
            self.set2_sequence(q, down, &mut seq);
        }
        if seq.len == 0 {
            // Keys with a make code only (Pause, Hangeul/Hanja) send nothing
            // on release; that is not an error.
            return if self.has_scancode(q) {
                Ok(())
            } else {
                Err(Error::NoScancode(q))
            };
        }
        if QUEUE_LEN - self.queue.len() < seq.len {
            return Err(Error::QueueFull);
        }
        self.queue.extend(seq.bytes());
        Ok(())
    }

    /// Guest port read (`0x60` data, `0x64` status); other ports read `0xFF`.
    pub fn port_read(&mut self, port: u16) -> u8 {
        match port {
            PORT_DATA => self.read_data(),
            PORT_STATUS => self.status(),
            _ => 0xff,
        }
    }

    /// Guest port write (`0x60` data, `0x64` command); other ports ignored.
    pub fn port_write(&mut self, port: u16, v: u8) {
        match port {
            PORT_DATA => {
                self.last_write_cmd = false;
                self.write_data(v);
            }
            PORT_STATUS => {
                self.last_write_cmd = true;
                self.write_command(v);
            }
            _ => {}
        }
    }

    fn kbd_enabled(&self) -> bool {
        self.mode & MODE_DISABLE_KBD == 0
    }

    fn translating(&self) -> bool {
        self.mode & MODE_XLATE != 0
    }

    /// The guest sees set-1 codes when the controller translates set 2, or
    /// when it selected set 1 and reads it raw.
    fn emits_set1(&self) -> bool {
        self.translating() || self.scancode_set == 1
    }

    /// True if `q` has scancodes in the set the guest reads (so an empty
    /// sequence means "nothing on release").
    fn has_scancode(&self, q: QKeyCode) -> bool {
        let (set1, set2) = table::make_codes(q);
        let codes = if self.emits_set1() { set1 } else { set2 };
        matches!(q, QKeyCode::Pause | QKeyCode::Print) || !codes.is_empty()
    }

    fn output_full(&self) -> bool {
        !self.replies.is_empty() || (self.kbd_enabled() && !self.queue.is_empty())
    }

    fn status(&self) -> u8 {
        let mut s = STATUS_UNLOCKED;
        if self.output_full() {
            s |= STATUS_OBF;
        }
        if self.sys_flag {
            s |= STATUS_SYS;
        }
        if self.last_write_cmd {
            s |= STATUS_CMD;
        }
        s
    }

    fn read_data(&mut self) -> u8 {
        let next = if let Some(b) = self.replies.pop_front() {
            Some(b)
        } else if self.kbd_enabled() {
            self.queue.pop_front()
        } else {
            None
        };
        // An empty buffer reads back the last byte (as QEMU does for EMM386).
        if let Some(b) = next {
            self.last_read = b;
        }
        self.last_read
    }

    fn reply(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.replies.len() < REPLY_LEN {
                self.replies.push_back(b);
            }
        }
    }

    fn write_command(&mut self, cmd: u8) {
        self.ctrl_pending = None;
        match cmd {
            0x20 => self.reply(&[self.mode]),
            0x60 => self.ctrl_pending = Some(CtrlPending::Mode),
            0xa7 => self.mode |= MODE_DISABLE_AUX,
            0xa8 => self.mode &= !MODE_DISABLE_AUX,
            0xa9 | 0xab => self.reply(&[0x00]),
            0xaa => {
                self.sys_flag = true;
                self.reply(&[0x55]);
            }
            0xad => self.mode |= MODE_DISABLE_KBD,
            0xae => self.mode &= !MODE_DISABLE_KBD,
            0xc0 => self.reply(&[0x80]),
            0xd0 => {
                let obf = if self.output_full() { OUTPORT_OBF } else { 0 };
                self.reply(&[self.outport | obf]);
            }
            0xd1 => self.ctrl_pending = Some(CtrlPending::Outport),
            0xd2 => self.ctrl_pending = Some(CtrlPending::KbdOutput),
            0xd3 => self.ctrl_pending = Some(CtrlPending::AuxOutput),
            0xd4 => self.ctrl_pending = Some(CtrlPending::Aux),
            0xdd => self.outport &= !OUTPORT_A20,
            0xdf => self.outport |= OUTPORT_A20,
            // Pulse the output-port lines whose bit is 0; line 0 resets the CPU.
            0xf0..=0xff if cmd & 0x01 == 0 => self.reset_requested = true,
            // Unknown controller commands do nothing, as on QEMU.
            _ => {}
        }
    }

    fn write_data(&mut self, v: u8) {
        match self.ctrl_pending.take() {
            Some(CtrlPending::Mode) => {
                self.mode = v;
                self.sys_flag = v & MODE_SYS != 0;
            }
            Some(CtrlPending::Outport) => {
                self.outport = v & !OUTPORT_OBF;
                if v & OUTPORT_RESET == 0 {
                    self.reset_requested = true;
                }
            }
            Some(CtrlPending::KbdOutput) => {
                if self.queue.len() < QUEUE_LEN {
                    self.queue.push_back(v);
                }
            }
            // There is no auxiliary device: its bytes go nowhere.
            Some(CtrlPending::AuxOutput | CtrlPending::Aux) => {}
            None => self.keyboard_write(v),
        }
    }

    /// A byte for the keyboard itself (command or command parameter).
    fn keyboard_write(&mut self, v: u8) {
        // A new command discards replies the guest has not read (QEMU does too).
        self.replies.clear();
        if let Some(cmd) = self.kbd_pending.take() {
            self.keyboard_param(cmd, v);
            return;
        }
        match v {
            0xed | 0xf0 | 0xf3 | 0xfb..=0xfd => {
                self.kbd_pending = Some(v);
                self.reply(&[ACK]);
            }
            0xee => self.reply(&[ECHO]),
            0xf2 => {
                let id = if self.translating() { 0x41 } else { 0x83 };
                self.reply(&[ACK, 0xab, id]);
            }
            0xf4 => {
                self.scanning = true;
                self.reply(&[ACK]);
            }
            0xf5 => {
                self.keyboard_defaults();
                self.scanning = false;
                self.reply(&[ACK]);
            }
            0xf6 => {
                self.keyboard_defaults();
                self.scanning = true;
                self.reply(&[ACK]);
            }
            0x00 | 0xf7..=0xfa => self.reply(&[ACK]),
            0xff => {
                self.keyboard_defaults();
                self.scanning = true;
                self.reply(&[ACK, BAT_OK]);
            }
            _ => self.reply(&[RESEND]),
        }
    }

    fn keyboard_param(&mut self, cmd: u8, v: u8) {
        match cmd {
            0xed => {
                self.leds = v & 0x07;
                self.reply(&[ACK]);
            }
            0xf0 => match v {
                0 => {
                    let id = match (self.scancode_set, self.translating()) {
                        (1, true) => 0x43,
                        (_, true) => 0x41,
                        (set, false) => set,
                    };
                    self.reply(&[ACK, id]);
                }
                1 | 2 => {
                    self.scancode_set = v;
                    self.reply(&[ACK]);
                }
                _ => self.reply(&[RESEND]),
            },
            // Typematic rate and set-3 key types: accepted, no effect.
            _ => self.reply(&[ACK]),
        }
    }

    /// Keyboard power-on defaults (does not touch the controller).
    fn keyboard_defaults(&mut self) {
        self.queue.clear();
        self.scancode_set = 2;
        self.leds = 0;
        self.kbd_pending = None;
    }

    fn set1_sequence(&self, q: QKeyCode, down: bool, seq: &mut Seq) {
        let m = self.modifiers;
        match q {
            QKeyCode::Pause => {
                if down {
                    if m & (MOD_CTRL_L | MOD_CTRL_R) != 0 {
                        seq.push(&[0xe0, 0x46, 0xe0, 0xc6]); // Ctrl+Pause = Break
                    } else {
                        seq.push(&[0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]);
                    }
                }
            }
            QKeyCode::Print => {
                if m & MOD_ALT_L != 0 {
                    seq.push(if down {
                        &[0xb8, 0x38, 0x54]
                    } else {
                        &[0xd4, 0xb8, 0x38]
                    });
                } else if m & MOD_ALT_R != 0 {
                    seq.push(if down {
                        &[0xe0, 0xb8, 0xe0, 0x38, 0x54]
                    } else {
                        &[0xd4, 0xe0, 0xb8, 0xe0, 0x38]
                    });
                } else if m & (MOD_SHIFT_L | MOD_SHIFT_R | MOD_CTRL_L | MOD_CTRL_R) != 0 {
                    seq.push(if down { &[0xe0, 0x37] } else { &[0xe0, 0xb7] });
                } else {
                    seq.push(if down {
                        &[0xe0, 0x2a, 0xe0, 0x37]
                    } else {
                        &[0xe0, 0xb7, 0xe0, 0xaa]
                    });
                }
            }
            QKeyCode::Lang1 | QKeyCode::Lang2 => {
                if down {
                    seq.push(table::make_codes(q).0);
                }
            }
            _ => {
                let make = table::make_codes(q).0;
                if let Some((&last, prefix)) = make.split_last() {
                    seq.push(prefix);
                    seq.push(&[if down { last } else { last | 0x80 }]);
                }
            }
        }
    }

    fn set2_sequence(&self, q: QKeyCode, down: bool, seq: &mut Seq) {
        let m = self.modifiers;
        match q {
            QKeyCode::Pause => {
                if down {
                    if m & (MOD_CTRL_L | MOD_CTRL_R) != 0 {
                        seq.push(&[0xe0, 0x7e, 0xe0, 0xf0, 0x7e]);
                    } else {
                        seq.push(&[0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77]);
                    }
                }
            }
            QKeyCode::Print => {
                if m & MOD_ALT_L != 0 {
                    seq.push(if down {
                        &[0xf0, 0x11, 0x11, 0x84]
                    } else {
                        &[0xf0, 0x84, 0xf0, 0x11, 0x11]
                    });
                } else if m & MOD_ALT_R != 0 {
                    seq.push(if down {
                        &[0xe0, 0xf0, 0x11, 0xe0, 0x11, 0x84]
                    } else {
                        &[0xf0, 0x84, 0xe0, 0xf0, 0x11, 0xe0, 0x11]
                    });
                } else if m & (MOD_SHIFT_L | MOD_SHIFT_R | MOD_CTRL_L | MOD_CTRL_R) != 0 {
                    seq.push(if down {
                        &[0xe0, 0x7c]
                    } else {
                        &[0xe0, 0xf0, 0x7c]
                    });
                } else {
                    seq.push(if down {
                        &[0xe0, 0x12, 0xe0, 0x7c]
                    } else {
                        &[0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12]
                    });
                }
            }
            QKeyCode::Lang1 | QKeyCode::Lang2 => {
                if down {
                    seq.push(table::make_codes(q).1);
                }
            }
            _ => {
                let make = table::make_codes(q).1;
                if let Some((&last, prefix)) = make.split_last() {
                    seq.push(prefix);
                    if !down {
                        seq.push(&[0xf0]);
                    }
                    seq.push(&[last]);
                }
            }
        }
    }
}

fn modifier_bit(q: QKeyCode) -> u8 {
    match q {
        QKeyCode::Shift => MOD_SHIFT_L,
        QKeyCode::ShiftR => MOD_SHIFT_R,
        QKeyCode::Ctrl => MOD_CTRL_L,
        QKeyCode::CtrlR => MOD_CTRL_R,
        QKeyCode::Alt => MOD_ALT_L,
        QKeyCode::AltR => MOD_ALT_R,
        _ => 0,
    }
}

/// A fixed-size byte sequence for one key event.
#[derive(Default)]
struct Seq {
    buf: [u8; MAX_SEQ],
    len: usize,
}

impl Seq {
    fn push(&mut self, bytes: &[u8]) {
        // Every sequence in this file is at most MAX_SEQ bytes; a longer
        // one would be a table bug, and is cut rather than overflowing.
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.buf.iter().take(self.len).copied()
    }
}

/// The set-1 make sequence of `q` as a guest reads it with translation on.
///
/// The break code is the same with the last byte or-ed with `0x80`, except:
/// `Pause` returns its whole press sequence `E1 1D 45 E1 9D C5` (it has no
/// release); `Print` returns `E0 2A E0 37` (released by `E0 B7 E0 AA`;
/// with modifiers held the keyboard sends other codes); `Lang1`/`Lang2`
/// (`F2`/`F1`) have no break code. `Sysrq` is `Print`. `unmapped` is empty.
#[must_use]
pub fn qcode_to_set1(q: QKeyCode) -> &'static [u8] {
    match q.canonical() {
        QKeyCode::Pause => &[0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5],
        QKeyCode::Print => &[0xe0, 0x2a, 0xe0, 0x37],
        other => table::make_codes(other).0,
    }
}

/// The set-2 make sequence of `q` (translation off), with the same
/// exceptions as [`qcode_to_set1`]; break is `[E0] F0 code`. Empty for
/// keys without a set-2 code.
#[must_use]
pub fn qcode_to_set2(q: QKeyCode) -> &'static [u8] {
    match q.canonical() {
        QKeyCode::Pause => &[0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77],
        QKeyCode::Print => &[0xe0, 0x12, 0xe0, 0x7c],
        other => table::make_codes(other).1,
    }
}

#[cfg(test)]
mod tests;
