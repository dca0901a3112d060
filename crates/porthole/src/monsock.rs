//! Monitors on listening sockets (`-monitor unix:...`, `-qmp tcp:...`, `-chardev socket` +
//! `-mon`): one independent session per connection, HMP or QMP by the monitor's mode.

use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::{Context, Result};
use evloop::{Handler, Ops, Readiness};
use mio::Interest;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use monitor::hmp::{self, Outcome, PendingPassword};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::chardev::{Backend, ChardevSpec};
use crate::cli::MonitorMode;
use crate::commands::Cmds;
use crate::world::World;

/// Longest command line accepted; a longer one is discarded with an error.
const MAX_LINE: usize = 4096;
/// Output queued for a client that does not read; beyond it the client is dropped.
const MAX_QUEUED: usize = 1 << 20;

/// A connected monitor socket.
pub enum ConnStream {
    /// UNIX socket (file descriptors can be passed over it).
    Unix(UnixStream),
    /// TCP socket.
    Tcp(TcpStream),
}

impl ConnStream {
    /// The stream as a mio source.
    pub fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Self::Unix(s) => s,
            Self::Tcp(s) => s,
        }
    }
}

impl Read for ConnStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Unix(s) => s.read(buf),
            Self::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for ConnStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Unix(s) => s.write(buf),
            Self::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum SockListener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

/// Listens for monitor connections on one character device.
pub struct MonitorListener {
    listener: SockListener,
    mode: MonitorMode,
    chardev: String,
}

impl Drop for MonitorListener {
    fn drop(&mut self) {
        if let SockListener::Unix(_, path) = &self.listener {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl MonitorListener {
    /// Binds the device's socket (UNIX sockets get mode 0600, as VNC's).
    pub fn bind(spec: &ChardevSpec, mode: MonitorMode) -> Result<Self> {
        let listener = match &spec.backend {
            Backend::Unix { path, .. } => SockListener::Unix(vnc::bind_unix(path)?, path.clone()),
            Backend::Tcp { host, port, .. } => {
                let addr = (host.as_str(), *port)
                    .to_socket_addrs()
                    .with_context(|| format!("address resolution failed for {host}:{port}"))?
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("no address for {host}:{port}"))?;
                SockListener::Tcp(
                    TcpListener::bind(addr)
                        .with_context(|| format!("Failed to bind socket to {addr}"))?,
                )
            }
            Backend::Stdio => anyhow::bail!("stdio is not a socket"),
        };
        Ok(Self {
            listener,
            mode,
            chardev: spec.id.clone(),
        })
    }

    /// Blocks until a client connects (`wait=on`); the loop then accepts it.
    pub fn wait_for_client(&self) -> Result<()> {
        let fd = match &self.listener {
            SockListener::Unix(l, _) => l.as_fd(),
            SockListener::Tcp(l) => l.as_fd(),
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("waiting for a monitor client"),
            }
        }
    }

    fn accept(&mut self) -> io::Result<ConnStream> {
        match &mut self.listener {
            SockListener::Unix(l, _) => l.accept().map(|(s, _)| ConnStream::Unix(s)),
            SockListener::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                ConnStream::Tcp(s)
            }),
        }
    }
}

impl Handler<World> for MonitorListener {
    fn ready(&mut self, w: &mut World, _ev: Readiness, ops: &mut Ops<'_, World>) {
        loop {
            match self.accept() {
                Ok(stream) => match self.mode {
                    MonitorMode::Readline => {
                        let banner = hmp::banner("Porthole", env!("CARGO_PKG_VERSION"));
                        *w.chardev_clients.entry(self.chardev.clone()).or_default() += 1;
                        let mut c = MonitorConn {
                            chardev: self.chardev.clone(),
                            stream,
                            input: Vec::new(),
                            out: Vec::new(),
                            pending: None,
                            discarding: false,
                        };
                        c.queue(&format!("{banner}\n{}", hmp::PROMPT));
                        ops.add(Box::new(c), Interest::READABLE | Interest::WRITABLE);
                    }
                    MonitorMode::Control { pretty } => {
                        crate::qmp::accept(w, ops, stream, pretty, &self.chardev);
                    }
                },
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
        Some(match &mut self.listener {
            SockListener::Unix(l, _) => l,
            SockListener::Tcp(l) => l,
        })
    }
}

struct MonitorConn {
    /// The character device it came in on (for query-chardev).
    chardev: String,
    stream: ConnStream,
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
        crate::write_queued(&mut self.stream, &mut self.out)
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
            Some(p) => hmp::finish_password(
                p,
                qapi::Password::new(line),
                &mut Cmds { w, ops, fds: None },
            ),
            None => hmp::execute(
                &line,
                &mut Cmds { w, ops, fds: None },
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

    fn removed(&mut self, w: &mut World) {
        if let Some(n) = w.chardev_clients.get_mut(&self.chardev) {
            *n = n.saturating_sub(1);
        }
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        Some(self.stream.source())
    }
}
