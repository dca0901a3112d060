//! The stdio monitor thread: blocking reads of stdin off the main loop.
//!
//! The thread prints the banner, then loops: prompt, read a line, hand it to
//! the loop as a [`Request`] through `on_request`, wait for the one [`Reply`]
//! (sent with [`StdioMonitor::reply`]), print it, prompt again. Blank lines
//! are answered locally with a new prompt. At the end of input the thread
//! sends [`Request::Eof`] and ends without waiting for a reply.
//!
//! Two input modes:
//! - stdin and stdout both terminals: rustyline editing, history in memory
//!   only (never written to disk) and only as [`hmp::history_entry`] allows;
//!   Ctrl-C is [`Request::Interrupted`], Ctrl-D [`Request::Eof`]. A password
//!   is read with echo off, one `*` per character, like QEMU.
//! - otherwise (pipes, CI): buffered line reads. Like QEMU's readline on a
//!   pipe, the transcript holds the prompt and the line read (`(qemu) stop`);
//!   unlike QEMU, a line that carries a password is echoed in its
//!   [`hmp::history_entry`] form (`change vnc password ****`) and a prompted
//!   password echoes nothing, so logs never hold a secret.
//!
//! Output: like QEMU's `monitor_puts`, every `"\n"` goes out as `"\r\n"`
//! (to a terminal as `"\n"`: its driver adds the `"\r"`).
//! Lines longer than [`MAX_LINE_LEN`] are refused with a message (QEMU would
//! silently cut them, which could run a different command).
//!
//! [`StdioMonitor::print_async`] queues text for a printer thread, so the loop
//! never blocks on the terminal. On a terminal it is printed above the line
//! being edited; on a pipe the waiting prompt is redrawn after it. Notices are
//! ordered among themselves, not with respect to replies.

mod terminal;

use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::termios::{SetArg, Termios, tcgetattr, tcsetattr};

use qapi::Password;
use rustyline::error::ReadlineError;
use rustyline::{Config, DefaultEditor, ExternalPrinter};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, hmp};

/// The longest line accepted, in bytes (QEMU's readline buffer is 4 KiB).
pub const MAX_LINE_LEN: usize = 4096;

/// How many lines the terminal history keeps.
pub const HISTORY_LEN: usize = 100;

/// What the monitor thread hands to the main loop. The thread then waits for
/// exactly one [`StdioMonitor::reply`], except after [`Request::Eof`].
#[derive(Debug)]
pub enum Request {
    /// A command line (never blank).
    Line(String),
    /// The answer to a [`Reply::ReadPassword`] prompt.
    Password(Password),
    /// End of input (Ctrl-D on a terminal, or a closed pipe). The thread ends
    /// right after sending it and takes no reply (QEMU keeps running).
    Eof,
    /// Ctrl-C on a terminal (also at the password prompt). Reply to go on,
    /// e.g. with `Reply::Output(String::new())` for a fresh prompt; a loop
    /// that shuts down need not reply.
    Interrupted,
}

/// The main loop's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Print this (may be empty), then prompt for the next command.
    Output(String),
    /// Read a password with this prompt; it comes back as
    /// [`Request::Password`].
    ReadPassword {
        /// The prompt to show.
        prompt: String,
    },
    /// Print this, then end the thread.
    Quit(String),
}

impl Reply {
    /// The reply for an HMP outcome, and the pending password action the
    /// caller keeps for [`hmp::finish_password`].
    pub fn from_outcome(outcome: hmp::Outcome) -> (Self, Option<hmp::PendingPassword>) {
        match outcome {
            hmp::Outcome::Output(text) => (Self::Output(text), None),
            hmp::Outcome::ReadPassword { prompt, pending } => {
                (Self::ReadPassword { prompt }, Some(pending))
            }
            hmp::Outcome::Quit(text) => (Self::Quit(text), None),
        }
    }
}

/// How long [`StdioMonitor::finish`] waits for queued notices to be printed.
const FINISH_WAIT: Duration = Duration::from_millis(500);

/// The main loop's handle on the monitor thread.
///
/// Dropping it (or calling [`StdioMonitor::finish`]) puts the terminal back as
/// it was at spawn: the reading thread may be blocked inside rustyline or the
/// password prompt, with the terminal in raw mode, when the process ends.
pub struct StdioMonitor {
    replies: mpsc::Sender<Reply>,
    notices: Option<mpsc::Sender<String>>,
    reader: thread::JoinHandle<()>,
    printer: Option<thread::JoinHandle<()>>,
    screen: Shared,
    /// The terminal settings at spawn, when stdin is a terminal.
    saved_termios: Option<Termios>,
}

impl StdioMonitor {
    /// Start the monitor on the process's stdin and stdout: prints `banner`
    /// (a line end is added), then reads commands; each is passed to
    /// `on_request`, which must not block (it typically queues the request
    /// and wakes the main loop).
    pub fn spawn(
        banner: String,
        on_request: impl Fn(Request) + Send + 'static,
    ) -> Result<Self, Error> {
        let stdin_tty = io::stdin().is_terminal();
        let saved_termios = if stdin_tty {
            tcgetattr(io::stdin().as_fd())
                .inspect_err(|e| log::warn!("monitor: cannot read the terminal settings: {e}"))
                .ok()
        } else {
            None
        };
        let (input, printer) = if stdin_tty && io::stdout().is_terminal() {
            // No bracketed paste: pasted lines run one by one, as in QEMU, and
            // the terminal is not left in paste mode if the process ends
            // while a line is being edited.
            let config = Config::builder()
                .auto_add_history(false)
                .bracketed_paste(false)
                .max_history_size(HISTORY_LEN)
                .map_err(Error::LineEditor)?
                .build();
            let mut editor = DefaultEditor::with_config(config).map_err(Error::LineEditor)?;
            let printer = editor
                .create_external_printer()
                .inspect_err(|e| {
                    log::debug!(
                        "monitor: no external printer, notices may overwrite the prompt: {e}"
                    )
                })
                .ok()
                .map(|p| Box::new(p) as Box<dyn ExternalPrinter + Send>);
            (
                Input::Terminal {
                    editor: Box::new(editor),
                },
                printer,
            )
        } else {
            let reader = Box::new(BufReader::new(io::stdin()));
            (
                Input::Plain {
                    reader,
                    hidden_tty: stdin_tty,
                },
                None,
            )
        };
        // A terminal's own output processing turns "\n" into "\r\n".
        let out = Output {
            writer: Box::new(io::stdout()),
            crlf: !io::stdout().is_terminal(),
        };
        let mut m = Self::start(input, out, printer, banner, Box::new(on_request))?;
        m.saved_termios = saved_termios;
        Ok(m)
    }

    /// Start the monitor over any reader and writer, in the non-terminal mode
    /// (for pipes, sockets and tests).
    pub fn spawn_plain(
        banner: String,
        reader: impl BufRead + Send + 'static,
        writer: impl Write + Send + 'static,
        on_request: impl Fn(Request) + Send + 'static,
    ) -> Result<Self, Error> {
        let input = Input::Plain {
            reader: Box::new(reader),
            hidden_tty: false,
        };
        let out = Output {
            writer: Box::new(writer),
            crlf: true,
        };
        Self::start(input, out, None, banner, Box::new(on_request))
    }

    fn start(
        input: Input,
        out: Output,
        printer: Option<Box<dyn ExternalPrinter + Send>>,
        banner: String,
        on_request: Box<dyn Fn(Request) + Send>,
    ) -> Result<Self, Error> {
        let screen: Shared = Arc::new(Mutex::new(Screen {
            out,
            pending: None,
            editing: false,
        }));
        let (replies, reply_rx) = mpsc::channel();
        let (notices, notice_rx) = mpsc::channel();
        let print_screen = Arc::clone(&screen);
        let printer = thread::Builder::new()
            .name("monitor-print".into())
            .spawn(move || print_notices(&notice_rx, &print_screen, printer))
            .map_err(Error::Thread)?;
        let read_screen = Arc::clone(&screen);
        let reader = thread::Builder::new()
            .name("monitor-stdio".into())
            .spawn(move || read_loop(input, &read_screen, &banner, &*on_request, &reply_rx))
            .map_err(Error::Thread)?;
        Ok(Self {
            replies,
            notices: Some(notices),
            reader,
            printer: Some(printer),
            screen,
            saved_termios: None,
        })
    }

    /// Answer the last request. Never blocks.
    pub fn reply(&self, reply: Reply) {
        if self.replies.send(reply).is_err() {
            log::debug!("monitor: reply after the monitor thread ended");
        }
    }

    /// Print `text` (a line end is added if missing) without corrupting the
    /// prompt or the line being typed. Never blocks.
    pub fn print_async(&self, text: &str) {
        if let Some(n) = &self.notices
            && n.send(text.to_owned()).is_err()
        {
            log::debug!("monitor: notice after the printer thread ended");
        }
    }

    /// Whether the reading thread has ended (after [`Reply::Quit`] or
    /// [`Request::Eof`]).
    pub fn is_finished(&self) -> bool {
        self.reader.is_finished()
    }

    /// End the monitor at shutdown: print the queued notices (waiting at most
    /// half a second), put the terminal back as it was at spawn, and end a
    /// prompt line left on a terminal so the shell starts on a fresh line.
    /// The reading thread is not joined: it may be blocked in a read, and
    /// ends with the process. Dropping the handle does the same.
    pub fn finish(self) {
        drop(self);
    }

    fn shut_down(&mut self) {
        drop(self.notices.take());
        if let Some(printer) = self.printer.take() {
            let start = Instant::now();
            while !printer.is_finished() && start.elapsed() < FINISH_WAIT {
                thread::sleep(Duration::from_millis(5));
            }
        }
        let Some(saved) = self.saved_termios.take() else {
            return;
        };
        let mut s = lock(&self.screen);
        if s.editing || s.pending.is_some() {
            s.write("\n");
        }
        if let Err(e) = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &saved) {
            log::warn!("monitor: cannot restore the terminal settings: {e}");
        }
    }
}

impl std::fmt::Debug for StdioMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioMonitor")
            .field("finished", &self.reader.is_finished())
            .field("terminal", &self.saved_termios.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for StdioMonitor {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The output side, shared by the reading and the printing thread.
struct Screen {
    out: Output,
    /// The unfinished line on display while input is awaited (prompt, `*`s),
    /// redrawn after a notice; `None` while a command runs or while rustyline
    /// draws the line itself.
    pending: Option<String>,
    /// rustyline is reading: notices go through its printer.
    editing: bool,
}

impl Screen {
    /// Write `text` and flush. A broken stdout is not the monitor's business:
    /// it is logged and ignored.
    fn write(&mut self, text: &str) {
        let text = self.out.convert(text);
        let w = &mut self.out.writer;
        if let Err(e) = w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
            log::debug!("monitor: cannot write to the terminal: {e}");
        }
    }
}

/// Where the monitor writes.
struct Output {
    writer: Box<dyn Write + Send>,
    /// Send `"\n"` as `"\r\n"`, like QEMU's `monitor_puts` (not needed
    /// when the terminal driver does it).
    crlf: bool,
}

impl Output {
    fn convert(&self, text: &str) -> String {
        if self.crlf {
            crlf(text)
        } else {
            text.to_owned()
        }
    }
}

type Shared = Arc<Mutex<Screen>>;

fn lock(screen: &Shared) -> MutexGuard<'_, Screen> {
    screen.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every `"\n"` not already preceded by `"\r"` becomes `"\r\n"`.
fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut prev = '\0';
    for c in text.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

enum Input {
    Terminal {
        editor: Box<DefaultEditor>,
    },
    Plain {
        reader: Box<dyn BufRead + Send>,
        /// stdin is a terminal (stdout is not): read passwords with echo off.
        hidden_tty: bool,
    },
}

/// One read from the user.
enum Read {
    Line(String),
    Password(Password),
    TooLong,
    Eof,
    Interrupted,
}

impl Input {
    fn read_command(&mut self, screen: &Shared) -> Read {
        match self {
            Self::Terminal { editor } => {
                lock(screen).editing = true;
                let r = editor.readline(hmp::PROMPT);
                lock(screen).editing = false;
                match r {
                    Ok(line) if line.len() > MAX_LINE_LEN => Read::TooLong,
                    Ok(line) => {
                        if let Some(entry) = hmp::history_entry(&line)
                            && let Err(e) = editor.add_history_entry(entry)
                        {
                            log::debug!("monitor: history: {e}");
                        }
                        Read::Line(line)
                    }
                    Err(ReadlineError::Interrupted) => Read::Interrupted,
                    Err(ReadlineError::Eof) => Read::Eof,
                    Err(e) => {
                        log::warn!("monitor: reading the terminal failed: {e}");
                        Read::Eof
                    }
                }
            }
            Self::Plain { reader, .. } => {
                show_prompt(screen, hmp::PROMPT);
                let mut buf = Zeroizing::new(Vec::with_capacity(MAX_LINE_LEN));
                let r = read_line(reader.as_mut(), &mut buf);
                let mut s = lock(screen);
                s.pending = None;
                match r {
                    LineRead::Line => {
                        let line = into_text(buf);
                        // QEMU's readline echoes what it reads; secrets stay out.
                        s.write(&format!(
                            "{}\n",
                            hmp::history_entry(&line).unwrap_or_default()
                        ));
                        Read::Line(line)
                    }
                    LineRead::TooLong => {
                        s.write("\n");
                        Read::TooLong
                    }
                    LineRead::Eof => Read::Eof,
                }
            }
        }
    }

    fn read_password(&mut self, screen: &Shared, prompt: &str) -> Read {
        let from_terminal = match self {
            Self::Terminal { .. }
            | Self::Plain {
                hidden_tty: true, ..
            } => true,
            Self::Plain { .. } => false,
        };
        if from_terminal {
            return match terminal::read_secret(screen, prompt) {
                Ok(terminal::Secret::Line(bytes)) => Read::Password(password_from(bytes)),
                Ok(terminal::Secret::Eof) => Read::Eof,
                Ok(terminal::Secret::Interrupted) => Read::Interrupted,
                Err(e) => {
                    log::warn!("monitor: cannot read a password from the terminal: {e}");
                    Read::Eof
                }
            };
        }
        let Self::Plain { reader, .. } = self else {
            return Read::Eof;
        };
        show_prompt(screen, prompt);
        let mut buf = Zeroizing::new(Vec::with_capacity(MAX_LINE_LEN));
        let r = read_line(reader.as_mut(), &mut buf);
        let mut s = lock(screen);
        s.pending = None;
        match r {
            LineRead::Line => {
                s.write("\n");
                Read::Password(password_from(buf))
            }
            LineRead::TooLong => {
                s.write("\n");
                Read::TooLong
            }
            LineRead::Eof => Read::Eof,
        }
    }
}

fn show_prompt(screen: &Shared, prompt: &str) {
    let mut s = lock(screen);
    s.write(prompt);
    s.pending = Some(prompt.to_owned());
}

/// The bytes of a line as text (invalid UTF-8 replaced).
fn into_text(bytes: Zeroizing<Vec<u8>>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A password from the bytes read; the buffers are wiped.
fn password_from(mut bytes: Zeroizing<Vec<u8>>) -> Password {
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Password::new(text),
        Err(e) => {
            let raw = Zeroizing::new(e.into_bytes());
            Password::new(String::from_utf8_lossy(&raw).into_owned())
        }
    }
}

enum LineRead {
    Line,
    TooLong,
    Eof,
}

/// Read one line into `buf` (without `"\n"` or `"\r\n"`), never holding more
/// than [`MAX_LINE_LEN`] bytes: the rest of a longer line is skipped.
/// A last line without a line end still counts; read errors count as the end.
fn read_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> LineRead {
    let mut too_long = false;
    loop {
        let avail = match reader.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("monitor: reading stdin failed: {e}");
                &[]
            }
        };
        if avail.is_empty() {
            return match (too_long, buf.is_empty()) {
                (true, _) => LineRead::TooLong,
                (false, true) => LineRead::Eof,
                (false, false) => LineRead::Line,
            };
        }
        let (take, content, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, i, true),
            None => (avail.len(), avail.len(), false),
        };
        if !too_long {
            if buf.len() + content > MAX_LINE_LEN {
                too_long = true;
                buf.zeroize();
            } else {
                buf.extend_from_slice(&avail[..content]);
            }
        }
        reader.consume(take);
        if done {
            if too_long {
                return LineRead::TooLong;
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return LineRead::Line;
        }
    }
}

fn too_long_message() -> String {
    format!("line too long: more than {MAX_LINE_LEN} bytes, ignored\n")
}

fn read_loop(
    mut input: Input,
    screen: &Shared,
    banner: &str,
    on_request: &dyn Fn(Request),
    replies: &mpsc::Receiver<Reply>,
) {
    lock(screen).write(&format!("{banner}\n"));
    let mut password_prompt: Option<String> = None;
    loop {
        let read = match &password_prompt {
            None => input.read_command(screen),
            Some(prompt) => input.read_password(screen, prompt),
        };
        let request = match read {
            Read::Line(line) if line.trim().is_empty() => continue,
            Read::Line(line) => Request::Line(line),
            Read::Password(p) => Request::Password(p),
            Read::TooLong => {
                lock(screen).write(&too_long_message());
                continue;
            }
            Read::Eof => Request::Eof,
            Read::Interrupted => Request::Interrupted,
        };
        password_prompt = None;
        let eof = matches!(request, Request::Eof);
        on_request(request);
        if eof {
            return;
        }
        let Ok(reply) = replies.recv() else {
            return;
        };
        match reply {
            Reply::Output(text) => lock(screen).write(&text),
            Reply::ReadPassword { prompt } => password_prompt = Some(prompt),
            Reply::Quit(text) => {
                lock(screen).write(&text);
                return;
            }
        }
    }
}

/// The printer thread: notices, drawn so that the prompt survives.
fn print_notices(
    notices: &mpsc::Receiver<String>,
    screen: &Shared,
    mut printer: Option<Box<dyn ExternalPrinter + Send>>,
) {
    while let Ok(mut text) = notices.recv() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let mut s = lock(screen);
        if s.editing
            && let Some(p) = printer.as_mut()
        {
            // rustyline redraws the edited line; it may wait for the editor,
            // so the screen is not held meanwhile.
            drop(s);
            if let Err(e) = p.print(text) {
                log::debug!("monitor: cannot print a notice: {e}");
            }
            continue;
        }
        match s.pending.clone() {
            Some(line) => {
                s.write("\n");
                s.write(&text);
                s.write(&line);
            }
            None => s.write(&text),
        }
    }
}

#[cfg(test)]
mod tests;
