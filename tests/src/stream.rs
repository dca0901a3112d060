//! A byte stream captured from a child process by a reader thread.
//!
//! The reader thread appends everything it reads to a shared buffer and wakes waiters; the
//! test thread searches the buffer from a cursor of its own. The buffer is bounded by
//! [`MAX_CAPTURE`]: a child that prints more than that is broken, and the excess is dropped
//! (and reported by [`Captured::overflowed`]).

use std::io::{ErrorKind, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Most bytes kept from one child stream (16 MiB).
pub const MAX_CAPTURE: usize = 16 << 20;

#[derive(Default)]
struct State {
    bytes: Vec<u8>,
    eof: bool,
    overflowed: bool,
}

/// Output of a child stream, filled by a reader thread.
#[derive(Default)]
pub struct Captured {
    state: Mutex<State>,
    changed: Condvar,
}

impl Captured {
    /// Starts a thread that copies `reader` into a new buffer until end of file or an error
    /// (a pty master reports EIO once the last slave descriptor is closed: also the end).
    pub fn spawn<R: Read + Send + 'static>(mut reader: R) -> Arc<Captured> {
        let captured = Arc::new(Captured::default());
        let shared = Arc::clone(&captured);
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => shared.push(&chunk[..n]),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            shared.lock().eof = true;
            shared.changed.notify_all();
        });
        captured
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, data: &[u8]) {
        let mut state = self.lock();
        let room = MAX_CAPTURE.saturating_sub(state.bytes.len());
        if data.len() > room {
            state.overflowed = true;
        }
        let keep = data.len().min(room);
        state.bytes.extend_from_slice(&data[..keep]);
        drop(state);
        self.changed.notify_all();
    }

    /// Everything captured so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// Everything captured so far as text (lossy UTF-8, `\r` removed).
    pub fn text(&self) -> String {
        clean_text(&self.lock().bytes)
    }

    /// Number of bytes captured so far.
    pub fn len(&self) -> usize {
        self.lock().bytes.len()
    }

    /// True when nothing was captured yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the stream reached its end.
    pub fn eof(&self) -> bool {
        self.lock().eof
    }

    /// True when the child printed more than [`MAX_CAPTURE`] bytes.
    pub fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Waits until `pattern` occurs at or after byte offset `from`. Returns the offsets
    /// (start, end) of the first occurrence, or `None` on timeout or end of stream.
    pub fn wait_for(
        &self,
        from: usize,
        pattern: &[u8],
        timeout: Duration,
    ) -> Option<(usize, usize)> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if let Some(start) = find(state.bytes.get(from..).unwrap_or(&[]), pattern) {
                return Some((from + start, from + start + pattern.len()));
            }
            if state.eof {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits until the stream ends (or the timeout passes); returns whether it ended.
    pub fn wait_eof(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while !state.eof {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// The captured bytes in `range` as cleaned text.
    pub fn text_range(&self, start: usize, end: usize) -> String {
        let state = self.lock();
        let end = end.min(state.bytes.len());
        let start = start.min(end);
        clean_text(&state.bytes[start..end])
    }
}

/// Finds `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Lossy UTF-8 with carriage returns removed (HMP ends lines with `\r\n`).
pub fn clean_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\r', "")
}

/// Removes terminal control sequences (CSI `ESC [ ... final`, and other `ESC x` pairs), as a
/// monitor that edits its input line in place prints them.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// The last `max` characters of `text`, for error messages.
pub fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        text.to_owned()
    } else {
        let skip = count - max;
        format!("...{}", text.chars().skip(skip).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::{find, strip_ansi};

    #[test]
    fn strips_csi_sequences() {
        assert_eq!(strip_ansi("c\u{1b}[K\u{1b}[Dch\u{1b}[K"), "cch");
        assert_eq!(strip_ansi("plain"), "plain");
        assert_eq!(strip_ansi("a\u{1b}[1;31mb\u{1b}"), "ab");
        assert_eq!(find(b"hello", b"ll"), Some(2));
    }
}
