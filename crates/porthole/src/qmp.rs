//! QMP monitors on the loop: one `monitor::qmp::Session` per connection (sockets or stdio),
//! commands run through the generated `qapi::dispatch` into the one `Commands`
//! implementation, events fanned out from [`World::emit`].

use std::collections::BTreeMap;
use std::io::{self, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use evloop::{Handler, HandlerKey, Ops, Readiness};
use mio::Interest;
use monitor::qmp::{Greeting, Request, Session};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

use crate::commands::Cmds;
use crate::monsock::ConnStream;
use crate::world::World;

/// Notification tag: new events in the world's log.
pub const NOTIFY_EVENT: u64 = 1;
/// Output queued for a client that does not read; beyond it the client is dropped.
const MAX_OUTPUT: usize = 4 << 20;
/// File descriptors received with SCM_RIGHTS and not yet named by `getfd`; older ones are
/// closed when more arrive.
const MAX_RECEIVED_FDS: usize = 16;
/// Named file descriptors one monitor may hold (`getfd`).
pub const MAX_NAMED_FDS: usize = 64;
/// Bytes read per callback before yielding to other handlers.
const READ_BUDGET: usize = 256 * 1024;
/// Notification tag: read more after the batch (budget ran out).
const NOTIFY_READ: u64 = 2;

/// File descriptors passed to one monitor.
#[derive(Default)]
pub struct FdTable {
    received: Vec<OwnedFd>,
    named: BTreeMap<String, OwnedFd>,
}

impl FdTable {
    fn receive(&mut self, fd: OwnedFd) {
        if self.received.len() >= MAX_RECEIVED_FDS {
            self.received.remove(0);
        }
        self.received.push(fd);
    }

    /// `getfd`: names the most recently received descriptor.
    pub fn getfd(&mut self, name: &str) -> Result<(), qapi::QmpError> {
        let fd = self
            .received
            .pop()
            .ok_or_else(|| qapi::QmpError::generic("No file descriptor supplied via SCM_RIGHTS"))?;
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            // The descriptor is closed, as QEMU does.
            drop(fd);
            return Err(qapi::QmpError::generic(
                "Parameter 'fdname' expects a name not starting with a digit",
            ));
        }
        if !self.named.contains_key(name) && self.named.len() >= MAX_NAMED_FDS {
            return Err(qapi::QmpError::generic(format!(
                "Too many named file descriptors (at most {MAX_NAMED_FDS}); close some with closefd"
            )));
        }
        // A name given again replaces (and closes) the old descriptor.
        self.named.insert(name.to_owned(), fd);
        Ok(())
    }

    /// `closefd`.
    pub fn closefd(&mut self, name: &str) -> Result<(), qapi::QmpError> {
        self.named.remove(name).map(drop).ok_or_else(|| {
            qapi::QmpError::generic(format!("File descriptor named '{name}' not found"))
        })
    }

    /// Takes a named descriptor out of the table (`add_client`).
    pub fn take(&mut self, name: &str) -> Result<OwnedFd, qapi::QmpError> {
        self.named.remove(name).ok_or_else(|| {
            qapi::QmpError::generic(format!("File descriptor named '{name}' not found"))
        })
    }
}

/// `query-qmp-schema` (answered here: the generated dispatcher leaves it to the server).
fn query_qmp_schema(
    arguments: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<serde_json::Value, qapi::QmpError> {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    if let Some(k) = arguments.and_then(|a| a.keys().next()) {
        return Err(qapi::QmpError::generic(format!(
            "Parameter '{k}' is unexpected"
        )));
    }
    Ok(SCHEMA
        .get_or_init(|| serde_json::from_str(qapi::SCHEMA_JSON).unwrap_or(serde_json::Value::Null))
        .clone())
}

/// Standard input as a mio source (for `-qmp stdio`).
struct StdinSource;

impl mio::event::Source for StdinSource {
    fn register(&mut self, r: &mio::Registry, t: mio::Token, i: Interest) -> io::Result<()> {
        mio::unix::SourceFd(&0).register(r, t, i)
    }
    fn reregister(&mut self, r: &mio::Registry, t: mio::Token, i: Interest) -> io::Result<()> {
        mio::unix::SourceFd(&0).reregister(r, t, i)
    }
    fn deregister(&mut self, r: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&0).deregister(r)
    }
}

enum Io {
    Sock(ConnStream),
    Stdio(StdinSource),
}

/// One QMP connection.
pub struct QmpConn {
    io: Io,
    session: Session,
    fds: FdTable,
    /// Sequence number of the last event handed to the session.
    seen: u64,
    /// Standard input ended: the session stays for output (events, replies) but reads no more.
    eof: bool,
    /// The socket character device it came in on (for query-chardev).
    chardev: Option<String>,
    out: Vec<u8>,
}

fn greeting() -> Greeting {
    let v = crate::commands::version_triple();
    // No out-of-band execution in Porthole: offering "oob" would promise what we do not do.
    Greeting {
        major: v.major,
        minor: v.minor,
        micro: v.micro,
        package: String::new(),
        capabilities: Vec::new(),
    }
}

/// Adds a QMP session for a socket accepted on character device `chardev`.
pub fn accept(
    w: &mut World,
    ops: &mut Ops<'_, World>,
    stream: ConnStream,
    pretty: bool,
    chardev: &str,
) {
    *w.chardev_clients.entry(chardev.to_owned()).or_default() += 1;
    let mut conn = QmpConn::new(Io::Sock(stream), pretty, w.event_seq);
    conn.chardev = Some(chardev.to_owned());
    let key = ops.add(Box::new(conn), Interest::READABLE | Interest::WRITABLE);
    w.qmp_clients.push(key);
}

/// Adds the QMP session on standard input/output (`-qmp stdio`).
pub fn add_stdio(
    lp: &mut evloop::EventLoop<World>,
    w: &mut World,
    pretty: bool,
) -> anyhow::Result<HandlerKey> {
    set_nonblocking(0, true)?;
    let mut conn = QmpConn::new(Io::Stdio(StdinSource), pretty, w.event_seq);
    // The greeting goes out at once: a client may wait for it before writing anything.
    conn.flush()?;
    let key = lp.add(Box::new(conn), Interest::READABLE)?;
    w.qmp_clients.push(key);
    Ok(key)
}

/// Sets or clears O_NONBLOCK on `fd`.
pub fn set_nonblocking(fd: RawFd, on: bool) -> anyhow::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    // SAFETY: fds 0/1/2 stay open for the life of the process; the borrow ends with this call.
    let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let flags = OFlag::from_bits_truncate(fcntl(bfd, FcntlArg::F_GETFL)?);
    let flags = if on {
        flags | OFlag::O_NONBLOCK
    } else {
        flags - OFlag::O_NONBLOCK
    };
    fcntl(bfd, FcntlArg::F_SETFL(flags))?;
    Ok(())
}

impl QmpConn {
    fn new(io: Io, pretty: bool, seen: u64) -> Self {
        let mut session = Session::new(&greeting(), pretty);
        let out = session.take_output();
        Self {
            io,
            session,
            fds: FdTable::default(),
            seen,
            eof: false,
            chardev: None,
            out,
        }
    }

    /// Reads what is there; `Ok(None)` at end of stream.
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match &mut self.io {
            Io::Sock(ConnStream::Unix(s)) => {
                let mut cmsg = nix::cmsg_space!([RawFd; MAX_RECEIVED_FDS]);
                let mut iov = [IoSliceMut::new(buf)];
                let msg = match recvmsg::<()>(
                    s.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) {
                    Ok(m) => m,
                    Err(nix::errno::Errno::EAGAIN) => return Err(io::ErrorKind::WouldBlock.into()),
                    Err(e) => return Err(e.into()),
                };
                let n = msg.bytes;
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for fd in fds {
                                // SAFETY: the kernel just installed `fd` in our table for us
                                // (SCM_RIGHTS); nothing else owns it.
                                self.fds.receive(unsafe { OwnedFd::from_raw_fd(fd) });
                            }
                        }
                    }
                }
                Ok(if n == 0 { None } else { Some(n) })
            }
            Io::Sock(s) => s.read(buf).map(|n| if n == 0 { None } else { Some(n) }),
            Io::Stdio(_) => io::stdin()
                .lock()
                .read(buf)
                .map(|n| if n == 0 { None } else { Some(n) }),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let more = self.session.take_output();
        self.out.extend_from_slice(&more);
        match &mut self.io {
            Io::Sock(sock) => crate::write_queued(sock, &mut self.out)?,
            Io::Stdio(_) => {
                let mut stdout = io::stdout().lock();
                crate::write_queued(&mut stdout, &mut self.out)?;
                stdout.flush()?;
            }
        }
        if self.out.len() > MAX_OUTPUT {
            return Err(io::Error::other("QMP client is not reading its replies"));
        }
        Ok(())
    }

    fn run_requests(&mut self, w: &mut World, ops: &mut Ops<'_, World>) {
        while let Some(req) = self.session.next_request() {
            let Request {
                id,
                command,
                arguments,
                ..
            } = req;
            let result = if command == "query-qmp-schema" {
                query_qmp_schema(arguments.as_ref())
            } else {
                let mut cmds = Cmds {
                    w,
                    ops,
                    fds: Some(&mut self.fds),
                };
                qapi::dispatch(&mut cmds, &command, arguments)
            };
            self.session.reply(id, result);
        }
    }

    fn close(&mut self, ops: &mut Ops<'_, World>, why: &str) {
        log::debug!("QMP client closing: {why}");
        if let Some(me) = ops.me() {
            ops.remove(me);
        }
        if matches!(self.io, Io::Stdio(_)) {
            // QEMU keeps running when a stdio monitor's input ends; so do we.
            let _ = set_nonblocking(0, false);
        }
    }

    fn pump(&mut self, w: &mut World, ops: &mut Ops<'_, World>) {
        let mut buf = [0u8; 16 * 1024];
        let mut budget = READ_BUDGET;
        while !self.eof && self.session.wants_input() {
            if budget == 0 {
                if let Some(me) = ops.me() {
                    ops.notify(me, NOTIFY_READ);
                }
                break;
            }
            match self.read_some(&mut buf) {
                Ok(Some(n)) => {
                    budget = budget.saturating_sub(n);
                    self.session.feed(&buf[..n]);
                    self.run_requests(w, ops);
                }
                Ok(None) => {
                    let _ = self.flush();
                    if matches!(self.io, Io::Stdio(_)) {
                        // QEMU keeps running when a stdio monitor's input ends; so do we, and
                        // events still go out.
                        self.eof = true;
                        let _ = set_nonblocking(0, false);
                        break;
                    }
                    self.close(ops, "end of stream");
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.close(ops, &e.to_string());
                    return;
                }
            }
        }
        self.run_requests(w, ops);
        if let Err(e) = self.flush() {
            self.close(ops, &e.to_string());
        }
    }
}

impl Handler<World> for QmpConn {
    fn ready(&mut self, w: &mut World, ev: Readiness, ops: &mut Ops<'_, World>) {
        if ev.readable || ev.read_closed || ev.error {
            self.pump(w, ops);
        } else if ev.writable
            && let Err(e) = self.flush()
        {
            self.close(ops, &e.to_string());
        }
    }

    fn notify(&mut self, w: &mut World, tag: u64, ops: &mut Ops<'_, World>) {
        match tag {
            NOTIFY_EVENT => {
                let seen = self.seen;
                for e in w.events.iter().filter(|e| e.seq > seen) {
                    self.session.event(&e.name, e.data.clone(), e.timestamp);
                    self.seen = e.seq;
                }
                if let Err(e) = self.flush() {
                    self.close(ops, &e.to_string());
                }
            }
            _ => self.pump(w, ops),
        }
    }

    fn removed(&mut self, w: &mut World) {
        if let Some(n) = self
            .chardev
            .as_ref()
            .and_then(|c| w.chardev_clients.get_mut(c))
        {
            *n = n.saturating_sub(1);
        }
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        Some(match &mut self.io {
            Io::Sock(s) => s.source(),
            Io::Stdio(s) => s,
        })
    }
}
