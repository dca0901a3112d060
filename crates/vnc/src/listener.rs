//! Listening sockets: address parsing, binding, and the accept handler.

use std::cell::Cell;
use std::io;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use evloop::{Handler, Ops, Readiness};
use mio::Interest;
use mio::net::{TcpListener, UnixListener};
use qapi::{NetworkAddressFamily, VncBasicInfo, VncClientInfo};
use socket2::{Domain, Protocol, Socket, Type};

use crate::client::ClientHandler;
use crate::server::{ClientState, Listen, ListenerInfo, VncEventKind, VncServer};
use crate::stream::Stream;
use crate::{Error, VncHost};

/// A socket handed over by a manager (`add_client`): UNIX or TCP, already connected.
pub struct ClientSocket(Stream, VncBasicInfo);

impl ClientSocket {
    /// Takes ownership of a connected stream socket; fails if `fd` is not one.
    pub fn from_fd(fd: std::os::fd::OwnedFd) -> io::Result<Self> {
        let sock = Socket::from(fd);
        if sock.r#type()? != Type::STREAM {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a stream socket",
            ));
        }
        sock.set_nonblocking(true)?;
        let peer = sock.peer_addr()?;
        if let Some(addr) = peer.as_socket() {
            let std: std::net::TcpStream = sock.into();
            Ok(Self(
                Stream::Tcp(mio::net::TcpStream::from_std(std)),
                basic_info(addr),
            ))
        } else if peer.is_unix() {
            let std: std::os::unix::net::UnixStream = sock.into();
            let info = VncBasicInfo {
                host: String::new(),
                service: String::new(),
                family: NetworkAddressFamily::Unix,
                websocket: false,
            };
            Ok(Self(
                Stream::Unix(mio::net::UnixStream::from_std(std)),
                info,
            ))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unsupported socket family",
            ))
        }
    }
}

/// Adds a connected socket as a VNC client of the display (QMP `add_client`).
/// `skipauth` lets it in without authentication.
pub fn add_socket_client<S: VncHost>(
    state: &mut S,
    ops: &mut Ops<'_, S>,
    sock: ClientSocket,
    skipauth: bool,
) {
    let ClientSocket(stream, info) = sock;
    let listener = if state.vnc().listeners.is_empty() {
        None
    } else {
        Some(0)
    };
    add_client(state, ops, stream, info, listener, skipauth, false);
}

/// Sets up one client: connection limit, handler, server entry, deadline, event.
fn add_client<S: VncHost>(
    state: &mut S,
    ops: &mut Ops<'_, S>,
    stream: Stream,
    info: VncBasicInfo,
    listener: Option<usize>,
    skipauth: bool,
    websocket: bool,
) {
    stream.set_nodelay();
    let vnc = state.vnc();
    // QEMU's `connections=`: over the limit, the oldest client still connecting goes.
    let connecting: Vec<_> = vnc
        .clients
        .iter()
        .filter(|c| c.state == ClientState::Connecting && ops.is_live(c.key))
        .map(|c| c.key)
        .collect();
    if connecting.len() >= vnc.config.connections
        && let Some(oldest) = connecting.first()
    {
        log::info!("VNC: connection limit reached, dropping the oldest connecting client");
        ops.remove(*oldest);
    }
    let key_cell = Rc::new(Cell::new(None));
    let handler =
        match ClientHandler::<S>::new(stream, vnc, Rc::clone(&key_cell), skipauth, websocket) {
            Ok(h) => h,
            Err(e) => {
                log::warn!("VNC: cannot set up a client: {e}");
                return;
            }
        };
    let key = ops.add(Box::new(handler), Interest::READABLE | Interest::WRITABLE);
    key_cell.set(Some(key));
    let client = VncClientInfo {
        host: info.host,
        service: info.service,
        family: info.family,
        websocket: info.websocket,
        x509_dname: None,
        sasl_username: None,
    };
    vnc.add_client(key, client, listener);
    ops.add_timer(
        crate::client::PREAUTH_TIMEOUT,
        key,
        crate::client::TIMER_PREAUTH,
    );
    // QEMU sends the VNC events only for displays with a listening socket.
    if let Some(ev) = vnc
        .clients
        .last()
        .and_then(|e| vnc.event(VncEventKind::Connected, e))
    {
        state.vnc_event(ev);
    }
}

/// TCP port of display 0.
const BASE_PORT: u16 = 5900;
/// The listen(2) backlog.
const BACKLOG: i32 = 128;

/// Parses the implied `vnc=` value: `[host]:d`, `[v6addr]:d`, `unix:PATH` or `none`.
pub fn parse_target(
    value: &str,
    to: Option<u16>,
    ipv4: Option<bool>,
    ipv6: Option<bool>,
) -> Result<Listen, Error> {
    if value == "none" {
        return Ok(Listen::None);
    }
    if let Some(path) = value.strip_prefix("unix:") {
        if to.is_some() {
            return Err(Error::PortRangeWithUnix);
        }
        if path.is_empty() {
            return Err(Error::BadAddress(value.to_owned()));
        }
        return Ok(Listen::Unix(PathBuf::from(path)));
    }
    let bad = || Error::BadAddress(value.to_owned());
    let (host, display) = if let Some(rest) = value.strip_prefix('[') {
        let (h, d) = rest.split_once("]:").ok_or_else(bad)?;
        (h.to_owned(), d)
    } else {
        let (h, d) = value.rsplit_once(':').ok_or_else(bad)?;
        if h.contains(':') {
            return Err(bad());
        }
        (h.to_owned(), d)
    };
    let display: u16 = display.parse().map_err(|_| bad())?;
    if display > u16::MAX - BASE_PORT || to.is_some_and(|t| t < display || t > u16::MAX - BASE_PORT)
    {
        return Err(bad());
    }
    Ok(Listen::Tcp {
        host,
        display,
        to,
        ipv4,
        ipv6,
    })
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// Accepts connections on one listening socket and adds a client handler for each.
pub struct ListenerHandler<S> {
    listener: Listener,
    index: usize,
    /// Clients speak RFB inside WebSocket frames.
    websocket: bool,
    _state: PhantomData<fn(&mut S)>,
}

impl<S> Drop for ListenerHandler<S> {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = &self.listener {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl<S: VncHost> ListenerHandler<S> {
    /// Binds every listener the server's configuration names, records them in the server,
    /// and returns the handlers to add to the loop plus warnings for the user (e.g. listening
    /// beyond loopback without TLS).
    pub fn bind_all(server: &mut VncServer) -> Result<(Vec<Self>, Vec<String>), Error> {
        let mut out = Vec::new();
        let mut warnings = Vec::new();
        match server.config.listen.clone() {
            Listen::None => {}
            Listen::Unix(path) => {
                let l = bind_unix(&path)?;
                server.listeners.push(ListenerInfo {
                    info: VncBasicInfo {
                        host: path.display().to_string(),
                        service: String::new(),
                        family: NetworkAddressFamily::Unix,
                        websocket: false,
                    },
                });
                out.push(Self::new(
                    Listener::Unix(l, path),
                    server.listeners.len() - 1,
                ));
            }
            Listen::Tcp {
                host,
                display,
                to,
                ipv4,
                ipv6,
            } => {
                let listeners = bind_tcp(&host, display, to.unwrap_or(display), ipv4, ipv6)?;
                if to.is_some()
                    && let Some((_, a)) = listeners.first()
                {
                    warnings.push(format!("VNC server running on {a}"));
                }
                for (l, addr) in listeners {
                    if !addr.ip().is_loopback() {
                        warnings.push(format!(
                            "warning: VNC listening on {addr} beyond loopback without TLS: \
                             passwords and screen contents travel in clear text"
                        ));
                    }
                    server.listeners.push(ListenerInfo {
                        info: basic_info(addr),
                    });
                    out.push(Self::new(Listener::Tcp(l), server.listeners.len() - 1));
                }
            }
        }
        match server.config.websocket.clone() {
            None => {}
            Some(crate::server::WsListen::Unix(path)) => {
                let l = bind_unix(&path)?;
                server.listeners.push(ListenerInfo {
                    info: VncBasicInfo {
                        host: path.display().to_string(),
                        service: String::new(),
                        family: NetworkAddressFamily::Unix,
                        websocket: true,
                    },
                });
                let mut h = Self::new(Listener::Unix(l, path), server.listeners.len() - 1);
                h.websocket = true;
                out.push(h);
            }
            Some(crate::server::WsListen::Tcp { host, port }) => {
                let ips = resolve(&host, None, None)?;
                for (ip, v6only) in ips {
                    let addr = SocketAddr::new(ip, port);
                    let l = bind_one(addr, v6only).map_err(|source| Error::Bind {
                        addr: addr.to_string(),
                        source,
                    })?;
                    if !addr.ip().is_loopback() && server.config.tls.is_none() {
                        warnings.push(format!(
                            "warning: VNC WebSocket listening on {addr} beyond loopback without TLS"
                        ));
                    }
                    let mut info = basic_info(addr);
                    info.websocket = true;
                    server.listeners.push(ListenerInfo { info });
                    let mut h = Self::new(Listener::Tcp(l), server.listeners.len() - 1);
                    h.websocket = true;
                    out.push(h);
                }
            }
        }
        Ok((out, warnings))
    }

    fn new(listener: Listener, index: usize) -> Self {
        Self {
            listener,
            index,
            websocket: false,
            _state: PhantomData,
        }
    }

    fn accept_one(&mut self) -> io::Result<(Stream, VncBasicInfo)> {
        match &mut self.listener {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept()?;
                Ok((Stream::Tcp(s), basic_info(addr)))
            }
            Listener::Unix(l, _) => {
                let (s, _) = l.accept()?;
                Ok((
                    Stream::Unix(s),
                    VncBasicInfo {
                        host: String::new(),
                        service: String::new(),
                        family: NetworkAddressFamily::Unix,
                        websocket: false,
                    },
                ))
            }
        }
    }
}

impl<S: VncHost> Handler<S> for ListenerHandler<S> {
    fn ready(&mut self, state: &mut S, _ev: Readiness, ops: &mut Ops<'_, S>) {
        loop {
            let (stream, info) = match self.accept_one() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: keep the listener, try again on the next event.
                    log::warn!("VNC accept failed: {e}");
                    break;
                }
            };
            let mut info = info;
            info.websocket = self.websocket;
            add_client(
                state,
                ops,
                stream,
                info,
                Some(self.index),
                false,
                self.websocket,
            );
        }
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        Some(match &mut self.listener {
            Listener::Tcp(l) => l,
            Listener::Unix(l, _) => l,
        })
    }
}

fn basic_info(addr: SocketAddr) -> VncBasicInfo {
    VncBasicInfo {
        host: addr.ip().to_string(),
        service: addr.port().to_string(),
        family: if addr.is_ipv4() {
            NetworkAddressFamily::Ipv4
        } else {
            NetworkAddressFamily::Ipv6
        },
        websocket: false,
    }
}

/// Binds a listening UNIX socket at `path` with mode 0600 from the start: the socket is created under a temporary name
/// in the same directory, restricted, then renamed into place, so no other user can ever
/// connect through a window of looser permissions.
pub fn bind_unix(path: &Path) -> Result<UnixListener, Error> {
    let err = |source| Error::BindUnix {
        path: path.display().to_string(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path).map_err(err)?;
        } else {
            return Err(err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a socket",
            )));
        }
    }
    let name = path
        .file_name()
        .ok_or_else(|| err(io::Error::from(io::ErrorKind::InvalidInput)))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let l = UnixListener::bind(&tmp).map_err(err)?;
    let done = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(l)
}

fn resolve(
    host: &str,
    ipv4: Option<bool>,
    ipv6: Option<bool>,
) -> Result<Vec<(IpAddr, bool)>, Error> {
    let want4 = ipv4 != Some(false) && !(ipv6 == Some(true) && ipv4.is_none());
    let want6 = ipv6 != Some(false) && !(ipv4 == Some(true) && ipv6.is_none());
    if host.is_empty() {
        // Every address: one dual-stack IPv6 socket when both families are wanted.
        return match (want4, want6) {
            (true, true) => Ok(vec![(IpAddr::V6(Ipv6Addr::UNSPECIFIED), false)]),
            (true, false) => Ok(vec![(IpAddr::V4(Ipv4Addr::UNSPECIFIED), false)]),
            (false, true) => Ok(vec![(IpAddr::V6(Ipv6Addr::UNSPECIFIED), true)]),
            (false, false) => Err(Error::NoAddress(host.to_owned())),
        };
    }
    let addrs = (host, 0u16)
        .to_socket_addrs()
        .map_err(|source| Error::Resolve {
            host: host.to_owned(),
            source,
        })?;
    let mut out: Vec<(IpAddr, bool)> = Vec::new();
    for a in addrs {
        let ip = a.ip();
        let ok = if ip.is_ipv4() { want4 } else { want6 };
        if ok && !out.iter().any(|(x, _)| *x == ip) {
            out.push((ip, true));
        }
    }
    if out.is_empty() {
        return Err(Error::NoAddress(host.to_owned()));
    }
    Ok(out)
}

fn bind_tcp(
    host: &str,
    first: u16,
    last: u16,
    ipv4: Option<bool>,
    ipv6: Option<bool>,
) -> Result<Vec<(TcpListener, SocketAddr)>, Error> {
    let ips = resolve(host, ipv4, ipv6)?;
    let mut last_err = None;
    for display in first..=last {
        let port = BASE_PORT + display;
        let mut bound = Vec::new();
        let mut failed = None;
        for (ip, v6only) in &ips {
            let addr = SocketAddr::new(*ip, port);
            match bind_one(addr, *v6only) {
                Ok(l) => bound.push((l, addr)),
                Err(e) => {
                    failed = Some((addr, e));
                    break;
                }
            }
        }
        match failed {
            None => return Ok(bound),
            Some((addr, e)) => {
                let in_use = e.kind() == io::ErrorKind::AddrInUse;
                last_err = Some(Error::Bind {
                    addr: addr.to_string(),
                    source: e,
                });
                if !in_use {
                    break;
                }
            }
        }
    }
    Err(last_err.unwrap_or_else(|| Error::NoAddress(host.to_owned())))
}

fn bind_one(addr: SocketAddr, v6only: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(v6only)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            parse_target(":1", None, None, None).unwrap(),
            Listen::Tcp {
                host: String::new(),
                display: 1,
                to: None,
                ipv4: None,
                ipv6: None
            }
        );
        assert_eq!(
            parse_target("127.0.0.1:3", Some(9), None, None).unwrap(),
            Listen::Tcp {
                host: "127.0.0.1".into(),
                display: 3,
                to: Some(9),
                ipv4: None,
                ipv6: None
            }
        );
        assert_eq!(
            parse_target("[::1]:2", None, None, None).unwrap(),
            Listen::Tcp {
                host: "::1".into(),
                display: 2,
                to: None,
                ipv4: None,
                ipv6: None
            }
        );
        assert_eq!(
            parse_target("unix:/tmp/x", None, None, None).unwrap(),
            Listen::Unix("/tmp/x".into())
        );
        assert_eq!(
            parse_target("none", None, None, None).unwrap(),
            Listen::None
        );
        assert!(matches!(
            parse_target("unix:/tmp/x", Some(3), None, None),
            Err(Error::PortRangeWithUnix)
        ));
        for bad in ["1", "host:", "host:x", "::1:1", "h:70000", "unix:"] {
            assert!(parse_target(bad, None, None, None).is_err(), "{bad}");
        }
        assert!(parse_target(":5", Some(4), None, None).is_err());
    }

    #[test]
    fn unix_socket_is_created_0600() {
        let dir = std::env::temp_dir().join(format!("vnc-unix-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vnc.sock");
        let _l = bind_unix(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A stale socket is replaced; a regular file is not.
        drop(_l);
        let _l2 = bind_unix(&path).unwrap();
        let f = dir.join("file");
        std::fs::write(&f, b"x").unwrap();
        assert!(bind_unix(&f).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
