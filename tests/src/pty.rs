//! Running a program on a pseudo-terminal, as an interactive user would.
//!
//! The child gets the pty slave as stdin, stdout and stderr, in a new session with the
//! slave as its controlling terminal. The parent keeps only the master: a reader thread
//! captures everything the child writes, and `echo_enabled` reads the terminal's termios
//! through the master (on Linux, TCGETS on a master reports the slave's settings), which is
//! how a test knows that a password prompt has switched echo off before typing into it.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::pty::{Winsize, openpty};
use nix::sys::termios::{LocalFlags, tcgetattr};

use crate::stream::{Captured, tail};

/// Terminal size given to the child.
const ROWS: u16 = 40;
/// Terminal width given to the child.
const COLS: u16 = 160;

/// A child process whose stdio is a pseudo-terminal. Killed on drop.
pub struct PtyChild {
    child: Child,
    master: File,
    output: Arc<Captured>,
    cursor: usize,
    name: String,
}

/// Starts `program args...` on a new pty, with extra environment variables.
pub fn spawn_in_pty<I, S>(program: &OsStr, args: I, envs: &[(&str, &OsStr)]) -> Result<PtyChild>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let size = Winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(&size, None).context("openpty")?;
    let slave_in = pty.slave.try_clone().context("dup pty slave")?;
    let slave_out = pty.slave.try_clone().context("dup pty slave")?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::from(slave_in))
        .stdout(Stdio::from(slave_out))
        .stderr(Stdio::from(pty.slave))
        .env("TERM", "xterm")
        .env("RUST_BACKTRACE", "1");
    for (key, value) in envs {
        command.env(key, value);
    }
    // SAFETY: the closure runs in the forked child before exec and only calls setsid(2) and
    // ioctl(2), which are async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // fd 0 is the pty slave: make it the controlling terminal of the new session.
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {} on a pty", program.to_string_lossy()))?;
    // `command` still holds the slave descriptors: drop it so that only the child has them
    // and the master reads EIO (end) once the child is gone.
    drop(command);
    let master = File::from(pty.master);
    let output = Captured::spawn(master.try_clone().context("dup pty master")?);
    Ok(PtyChild {
        child,
        master,
        output,
        cursor: 0,
        name: program.to_string_lossy().into_owned(),
    })
}

impl PtyChild {
    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Types `bytes` into the terminal.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.master.write_all(bytes).context("writing to the pty")?;
        self.master.flush().context("flushing the pty")
    }

    /// Everything the child printed so far (`\r` removed).
    pub fn text(&self) -> String {
        self.output.text()
    }

    /// Everything after the read cursor, without moving it.
    pub fn pending(&self) -> String {
        self.output.text_range(self.cursor, usize::MAX)
    }

    /// Waits for `pattern` after the read cursor; returns the text before it and moves the
    /// cursor past it.
    pub fn wait_for(&mut self, pattern: &str, timeout: Duration) -> Result<String> {
        match self
            .output
            .wait_for(self.cursor, pattern.as_bytes(), timeout)
        {
            Some((start, end)) => {
                let text = self.output.text_range(self.cursor, start);
                self.cursor = end;
                Ok(text)
            }
            None => bail!(
                "{pattern:?} did not appear on the pty of {} within {timeout:?}; output:\n{}",
                self.name,
                tail(&self.text(), 2000)
            ),
        }
    }

    /// True when the terminal echoes input (ECHO in the local flags).
    pub fn echo_enabled(&self) -> Result<bool> {
        let termios = tcgetattr(self.master.as_fd()).context("tcgetattr on the pty master")?;
        Ok(termios.local_flags.contains(LocalFlags::ECHO))
    }

    /// Waits until the child has switched echo off (a password prompt is ready to read).
    pub fn wait_echo_off(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.echo_enabled()? {
            if Instant::now() >= deadline {
                bail!(
                    "{} never switched terminal echo off within {timeout:?}; output:\n{}",
                    self.name,
                    tail(&self.text(), 2000)
                );
            }
            thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Exit status if the child has ended.
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .context("checking the pty child's status")
    }

    /// Waits for the child to end; kills it and fails after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status()? {
                // Let the reader thread collect the last output.
                self.output.wait_eof(Duration::from_millis(500));
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                bail!(
                    "{} did not exit within {timeout:?}; output:\n{}",
                    self.name,
                    tail(&self.text(), 3000)
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills the child and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        self.kill();
    }
}
