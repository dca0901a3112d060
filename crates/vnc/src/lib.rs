//! The VNC server: listeners and client sessions on the event loop.
//!
//! Layering (QEMU's `ui/vnc*.c` over `io/`): a [`listener`] accepts sockets and adds one
//! [`client`] handler per connection to the loop. Each client handler owns its socket, its
//! write queue and a sans-IO [`rfb::ServerSession`]; the protocol itself lives in the `rfb`
//! crate. Shared state (password, expiry, the list of clients with their dirty maps) lives
//! in [`VncServer`], which the caller keeps inside its loop state and exposes through
//! [`VncHost`]. The display side only calls [`VncServer::mark_dirty`] /
//! [`VncServer::surface_resized`] and notifies the client keys it returns; the handlers then
//! pull updates when their viewer has asked for one.
//!
//! Desktop size: a new surface size reaches each client with its next update, as an
//! ExtendedDesktopSize rectangle if it listed that pseudo-encoding, else as DesktopSize;
//! a client that listed neither keeps the size it was told in ServerInit and gets the
//! part of the surface inside it. A client's SetDesktopSize (checked by `rfb`) is put
//! to [`VncHost::request_desktop_size`] and the answer goes back to that client alone.
//! Every client with the right to send input may ask (there are no view-only clients;
//! once there are, they should be answered Prohibited without asking the host).
//!
//! Policy beyond QEMU: a pre-authentication deadline ([`PREAUTH_TIMEOUT`]), a hard cap on
//! each client's output queue (CVE-2017-15124 class), `set_password connected=fail|disconnect`,
//! and VeNCrypt Plain logins against a user store, checked on a worker thread ([`plain`]).
#![forbid(unsafe_code)]

mod client;
mod listener;
mod plain;
mod server;
mod stream;

pub use client::{NOTIFY_UPDATE, PREAUTH_TIMEOUT};
pub use listener::{ClientSocket, ListenerHandler, add_socket_client, bind_unix, parse_target};
pub use plain::{MAX_PENDING_PLAIN_CHECKS, PlainSetup};
pub use server::{
    AuthMode, ClientState, Expiry, Listen, SharePolicy, TlsSetup, VncConfig, VncEvent,
    VncEventKind, VncServer, WsListen,
};

use display::Surface;
/// The answer to a viewer's SetDesktopSize ([`VncHost::request_desktop_size`]).
pub use rfb::DesktopSizeStatus;

/// Errors of the VNC server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The display address given to `-vnc` is malformed.
    #[error("invalid VNC display address '{0}'")]
    BadAddress(String),
    /// `to=` with a UNIX socket.
    #[error("Port range not support with UNIX socket")]
    PortRangeWithUnix,
    /// The host part could not be resolved.
    #[error("address resolution failed for '{host}'")]
    Resolve {
        /// The host that failed.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// No address of the requested family.
    #[error("no address of the requested family for '{0}'")]
    NoAddress(String),
    /// Binding a TCP listener failed for every port tried.
    #[error("Failed to bind socket to {addr}")]
    Bind {
        /// What was tried.
        addr: String,
        /// The last error.
        #[source]
        source: std::io::Error,
    },
    /// Creating the UNIX socket failed.
    #[error("Failed to bind socket to {path}")]
    BindUnix {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No randomness for the authentication challenge.
    #[error("cannot draw a VNC challenge")]
    Random(#[source] crypto::Error),
    /// The TLS credentials could not make a session.
    #[error("cannot start a TLS session")]
    TlsSession(#[source] crypto::Error),
    /// The channel layer refused the socket.
    #[error("cannot set up the client channel")]
    Channel(#[source] chan::Error),
    /// Registering a listener with the loop failed.
    #[error("cannot register the VNC listener")]
    Register(#[source] evloop::Error),
}

/// What the VNC server needs from the loop state that owns it.
pub trait VncHost: 'static {
    /// The server state.
    fn vnc(&mut self) -> &mut VncServer;
    /// The server state and the current display surface at once.
    fn vnc_and_surface(&mut self) -> (&mut VncServer, &Surface);
    /// An input event from an authenticated viewer.
    fn input(&mut self, ev: input::InputEvent);
    /// A connection event (QMP's VNC_CONNECTED / VNC_INITIALIZED / VNC_DISCONNECTED).
    fn vnc_event(&mut self, _ev: VncEvent) {}
    /// A viewer asks for a `width`×`height` framebuffer (RFB SetDesktopSize, already
    /// checked: 1 to [`display::MAX_WIDTH`]×[`display::MAX_HEIGHT`], a valid screen
    /// layout). The answer goes back to that viewer alone, at once:
    /// [`DesktopSizeStatus::Forwarded`] if the request was passed to the guest. Nothing
    /// changes here; if the guest later switches mode, the surface-resized path
    /// ([`VncServer::surface_resized`]) announces the new size to every viewer.
    ///
    /// The default answers [`DesktopSizeStatus::Prohibited`]: the guest cannot change
    /// its mode on request.
    fn request_desktop_size(&mut self, _width: u32, _height: u32) -> DesktopSizeStatus {
        DesktopSizeStatus::Prohibited
    }
    /// Asks the authz object `authz_id` about `identity` (a client certificate's DN).
    /// A missing object denies, as in QEMU.
    fn authorize(&mut self, authz_id: &str, identity: &str) -> bool;
    /// The loop's handle through which the Plain login worker answers. Without one, every
    /// Plain login fails.
    fn remote(&self) -> Option<evloop::Remote<Self>>
    where
        Self: Sized,
    {
        None
    }
}
