//! HMP on a listening UNIX socket (`-monitor unix:PATH,server=on,wait=off`): one monitor
//! session per connection, each independent.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use evloop::{Handler, Ops, Readiness};
use mio::Interest;
use mio::net::{UnixListener, UnixStream};
use monitor::hmp::{self, Outcome, PendingPassword};

use crate::commands::Cmds;
use crate::world::World;

/// Longest command line accepted; a longer one is discarded with an error.
const MAX_LINE: usize = 4096;
/// Output queued for a client that does not read; beyond it the client is dropped.
const MAX_QUEUED: usize = 1 << 20;

/// Listens for monitor connections.
pub struct MonitorListener {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for MonitorListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl MonitorListener {
    /// Binds `path` with mode 0600 (the same safe creation as VNC's UNIX sockets).
    pub fn bind(path: &Path) -> Result<Self> {
        let listener = vnc::bind_unix(path)?;
        Ok(Self {
            listener,
            path: path.to_owned(),
        })
    }
}

impl Handler<World> for MonitorListener {
    fn ready(&mut self, _w: &mut World, _ev: Readiness, ops: &mut Ops<'_, World>) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let banner = hmp::banner("Porthole", env!("CARGO_PKG_VERSION"));
                    let mut c = MonitorConn {
                        stream,
                        input: Vec::new(),
                        out: Vec::new(),
                        pending: None,
                        discarding: false,
                    };
                    c.queue(&format!("{banner}\n{}", hmp::PROMPT));
                    ops.add(Box::new(c), Interest::READABLE | Interest::WRITABLE);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("monitor accept: {e}");
                    break;
                }
            }
        }
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        Some(&mut self.listener)
    }
}

struct MonitorConn {
    stream: UnixStream,
    input: Vec<u8>,
    out: Vec<u8>,
    pending: Option<PendingPassword>,
    /// The current line went over MAX_LINE: drop bytes until the next newline.
    discarding: bool,
}

impl MonitorConn {
    fn queue(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn outcome(&mut self, outcome: Outcome, ops: &mut Ops<'_, World>) {
        match outcome {
            Outcome::Output(text) => {
                self.queue(&text);
                self.queue(hmp::PROMPT);
            }
            Outcome::ReadPassword { prompt, pending } => {
                self.pending = Some(pending);
                self.queue(&prompt);
            }
            Outcome::Quit(text) => {
                self.queue(&text);
                let _ = self.flush();
                if let Some(me) = ops.me() {
                    ops.remove(me);
                }
            }
        }
    }

    fn line(&mut self, line: String, w: &mut World, ops: &mut Ops<'_, World>) {
        let line = line.trim_end_matches('\r').to_owned();
        let outcome = match self.pending.take() {
            Some(p) => hmp::finish_password(p, qapi::Password::new(line), &mut Cmds { w, ops }),
            None => hmp::execute(
                &line,
                &mut Cmds { w, ops },
                &hmp::Context { interactive: true },
            ),
        };
        self.outcome(outcome, ops);
    }
}

impl Handler<World> for MonitorConn {
    fn ready(&mut self, w: &mut World, ev: Readiness, ops: &mut Ops<'_, World>) {
        let Some(me) = ops.me() else { return };
        if ev.readable || ev.read_closed {
            let mut buf = [0u8; 4096];
            loop {
                match self.stream.read(&mut buf) {
                    Ok(0) => {
                        ops.remove(me);
                        return;
                    }
                    Ok(n) => {
                        for &b in &buf[..n] {
                            if b == b'\n' {
                                if std::mem::take(&mut self.discarding) {
                                    self.queue(&format!(
                                        "line longer than {MAX_LINE} bytes discarded\n{}",
                                        hmp::PROMPT
                                    ));
                                } else {
                                    let raw = std::mem::take(&mut self.input);
                                    self.line(String::from_utf8_lossy(&raw).into_owned(), w, ops);
                                    if !ops.is_live(me) {
                                        return;
                                    }
                                }
                            } else if self.discarding {
                            } else if self.input.len() >= MAX_LINE {
                                self.input.clear();
                                self.discarding = true;
                            } else {
                                self.input.push(b);
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        ops.remove(me);
                        return;
                    }
                }
            }
        }
        if self.flush().is_err() || self.out.len() > MAX_QUEUED {
            ops.remove(me);
        }
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        Some(&mut self.stream)
    }
}
