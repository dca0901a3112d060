//! The password prompt on a terminal: the line discipline is switched to
//! non-canonical mode without echo and without signals, and each typed
//! character is echoed as `*`, as QEMU's readline does in password mode.

use std::io;
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::sys::termios::{
    LocalFlags, SetArg, SpecialCharacterIndices, Termios, tcgetattr, tcsetattr,
};
use zeroize::{Zeroize, Zeroizing};

use super::{MAX_LINE_LEN, Shared, lock};

/// What the prompt read.
pub(super) enum Secret {
    /// The typed line, without its end.
    Line(Zeroizing<Vec<u8>>),
    /// Ctrl-D on an empty line, or the end of input.
    Eof,
    /// Ctrl-C.
    Interrupted,
}

/// Puts the saved terminal settings back, however the prompt ends.
struct Restore(Termios);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Err(e) = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &self.0) {
            log::warn!("monitor: cannot restore the terminal settings: {e}");
        }
    }
}

/// Escape-sequence state: arrow keys and the like are swallowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Esc {
    None,
    /// After ESC.
    Start,
    /// Inside `ESC [` or `ESC O`, until the final byte.
    Sequence,
}

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const CTRL_U: u8 = 0x15;
const ESC: u8 = 0x1b;
const DEL: u8 = 0x7f;

/// Is `b` the first byte of a UTF-8 character (one `*` each)?
fn starts_char(b: u8) -> bool {
    b & 0xc0 != 0x80
}

/// Read a password from the terminal on stdin, showing `prompt` and one `*`
/// per character. Fails if stdin is not a terminal.
pub(super) fn read_secret(screen: &Shared, prompt: &str) -> io::Result<Secret> {
    let stdin = io::stdin();
    let saved = tcgetattr(stdin.as_fd())?;
    let mut raw = saved.clone();
    raw.local_flags &=
        !(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::ISIG | LocalFlags::IEXTEN);
    raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
    let _restore = Restore(saved);

    let mut shown = prompt.to_owned();
    {
        let mut s = lock(screen);
        s.write(prompt);
        s.pending = Some(shown.clone());
    }
    let finish = |result: Secret| {
        let mut s = lock(screen);
        s.pending = None;
        s.write("\n");
        Ok(result)
    };
    let mut line = Zeroizing::new(Vec::with_capacity(MAX_LINE_LEN));
    let mut esc = Esc::None;
    loop {
        let mut byte = Zeroizing::new([0u8; 1]);
        match nix::unistd::read(stdin.as_fd(), &mut byte[..]) {
            Ok(0) => return finish(Secret::Eof),
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let b = byte[0];
        match esc {
            Esc::Start => {
                esc = if b == b'[' || b == b'O' {
                    Esc::Sequence
                } else {
                    Esc::None
                };
                continue;
            }
            Esc::Sequence => {
                if (0x40..=0x7e).contains(&b) {
                    esc = Esc::None;
                }
                continue;
            }
            Esc::None => {}
        }
        let echo = match b {
            b'\r' | b'\n' => return finish(Secret::Line(line)),
            CTRL_C => return finish(Secret::Interrupted),
            CTRL_D if line.is_empty() => return finish(Secret::Eof),
            BACKSPACE | DEL => {
                let mut erased = false;
                while let Some(last) = line.pop() {
                    erased = true;
                    if starts_char(last) {
                        break;
                    }
                }
                if erased {
                    shown.pop();
                    "\x08 \x08".to_owned()
                } else {
                    String::new()
                }
            }
            CTRL_U => {
                let n = line.iter().filter(|&&c| starts_char(c)).count();
                line.zeroize();
                shown.truncate(shown.len() - n);
                "\x08 \x08".repeat(n)
            }
            ESC => {
                esc = Esc::Start;
                String::new()
            }
            _ if b < 0x20 => String::new(),
            // Like QEMU's readline buffer, ignore what does not fit.
            _ if line.len() >= MAX_LINE_LEN => String::new(),
            _ => {
                line.push(b);
                if starts_char(b) {
                    shown.push('*');
                    "*".to_owned()
                } else {
                    String::new()
                }
            }
        };
        if !echo.is_empty() {
            let mut s = lock(screen);
            s.write(&echo);
            s.pending = Some(shown.clone());
        }
    }
}
