//! The server-side session state machine.

use std::collections::VecDeque;
use std::fmt;

use zeroize::Zeroizing;

use crate::pixel::Converter;
use crate::{
    Error, MAX_BACKLOG, MAX_CUT_TEXT, MAX_ENCODINGS, MAX_PLAIN_PASSWORD, MAX_PLAIN_USERNAME,
    MAX_SCREENS, MAX_UNIT, PixelFormat, REASON_BAD_CREDENTIALS, REASON_UNSUPPORTED_SECURITY,
    SERVER_VERSION, VENCRYPT_VERSION, client_msg, desktop_size_reason, encoding, server_msg,
};

/// Length of the VNC authentication challenge.
const CHALLENGE_LEN: usize = 16;

/// Length of a `SetDesktopSize` header (before its screens).
const SET_DESKTOP_SIZE_HEADER_LEN: usize = 8;

/// Length of one `SCREEN` structure on the wire.
const SCREEN_LEN: usize = 16;

/// ExtendedDesktopSize status "no error" (y-position).
const STATUS_OK: u16 = 0;

/// The security type the server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Security {
    /// No authentication (type 1).
    None,
    /// VNC DES challenge/response (type 2).
    VncAuth,
    /// VeNCrypt (type 19): TLS first, then the subtype's own authentication.
    /// Needs RFB 3.7 or later.
    VeNCrypt(VencryptSubtype),
}

impl Security {
    /// The RFB security-type number.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Security::None => 1,
            Security::VncAuth => 2,
            Security::VeNCrypt(_) => 19,
        }
    }
}

/// A VeNCrypt subtype: the TLS flavour and the authentication run inside TLS.
///
/// The cleartext `Plain` subtype (256) has no variant: it can never be offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VencryptSubtype {
    /// Anonymous TLS, no further authentication (257).
    TlsNone,
    /// Anonymous TLS, then VNC DES authentication (258).
    TlsVnc,
    /// Anonymous TLS, then a user name and password (259).
    TlsPlain,
    /// x509 TLS, no further authentication (260).
    X509None,
    /// x509 TLS, then VNC DES authentication (261).
    X509Vnc,
    /// x509 TLS, then a user name and password (262).
    X509Plain,
}

/// The authentication a VeNCrypt subtype runs once TLS is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InnerAuth {
    /// None: SecurityResult OK at once.
    None,
    /// VNC DES challenge/response ([`Event::VncAuthResponse`]).
    Vnc,
    /// User name and password ([`Event::PlainAuth`]).
    Plain,
}

impl VencryptSubtype {
    /// Every subtype, in code order.
    pub const ALL: [VencryptSubtype; 6] = [
        VencryptSubtype::TlsNone,
        VencryptSubtype::TlsVnc,
        VencryptSubtype::TlsPlain,
        VencryptSubtype::X509None,
        VencryptSubtype::X509Vnc,
        VencryptSubtype::X509Plain,
    ];

    /// The VeNCrypt subtype number sent on the wire.
    #[must_use]
    pub fn code(self) -> u32 {
        match self {
            VencryptSubtype::TlsNone => 257,
            VencryptSubtype::TlsVnc => 258,
            VencryptSubtype::TlsPlain => 259,
            VencryptSubtype::X509None => 260,
            VencryptSubtype::X509Vnc => 261,
            VencryptSubtype::X509Plain => 262,
        }
    }

    /// The subtype with this number, if it is one of the six above.
    #[must_use]
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether the TLS session uses x509 certificates (else anonymous TLS).
    #[must_use]
    pub fn is_x509(self) -> bool {
        matches!(
            self,
            VencryptSubtype::X509None | VencryptSubtype::X509Vnc | VencryptSubtype::X509Plain
        )
    }

    /// The authentication that follows the TLS handshake.
    #[must_use]
    pub fn inner_auth(self) -> InnerAuth {
        match self {
            VencryptSubtype::TlsNone | VencryptSubtype::X509None => InnerAuth::None,
            VencryptSubtype::TlsVnc | VencryptSubtype::X509Vnc => InnerAuth::Vnc,
            VencryptSubtype::TlsPlain | VencryptSubtype::X509Plain => InnerAuth::Plain,
        }
    }

    /// The QAPI `VncVencryptSubAuth` name (`query-vnc`'s `vencrypt` member).
    #[must_use]
    pub fn qapi_name(self) -> &'static str {
        match self {
            VencryptSubtype::TlsNone => "tls-none",
            VencryptSubtype::TlsVnc => "tls-vnc",
            VencryptSubtype::TlsPlain => "tls-plain",
            VencryptSubtype::X509None => "x509-none",
            VencryptSubtype::X509Vnc => "x509-vnc",
            VencryptSubtype::X509Plain => "x509-plain",
        }
    }
}

/// Per-connection configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// The single security type offered.
    pub security: Security,
    /// The VNC authentication challenge (fresh random bytes per connection).
    /// Used only when VNC authentication runs ([`Security::VncAuth`] or a
    /// VeNCrypt `*Vnc` subtype).
    pub challenge: [u8; 16],
    /// Desktop name sent in ServerInit.
    pub name: String,
    /// Widest framebuffer a `SetDesktopSize` may ask for; wider requests are
    /// answered "invalid screen layout" by the session.
    pub max_desktop_width: u16,
    /// Tallest framebuffer a `SetDesktopSize` may ask for (as for
    /// [`max_desktop_width`](Self::max_desktop_width)).
    pub max_desktop_height: u16,
}

/// One screen (head) of a `SetDesktopSize` layout: a viewport into the
/// framebuffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Screen {
    /// The client's id for the screen (unique within a layout).
    pub id: u32,
    /// Left edge in the framebuffer.
    pub x: u16,
    /// Top edge in the framebuffer.
    pub y: u16,
    /// Width.
    pub w: u16,
    /// Height.
    pub h: u16,
    /// Flags (unused by the protocol so far; preserved).
    pub flags: u32,
}

impl Screen {
    fn parse(b: &[u8]) -> Screen {
        Screen {
            id: u32::from_be_bytes(be4(&b[0..4])),
            x: u16::from_be_bytes([b[4], b[5]]),
            y: u16::from_be_bytes([b[6], b[7]]),
            w: u16::from_be_bytes([b[8], b[9]]),
            h: u16::from_be_bytes([b[10], b[11]]),
            flags: u32::from_be_bytes(be4(&b[12..16])),
        }
    }

    /// Whether the two screens share at least one pixel.
    fn overlaps(&self, other: &Screen) -> bool {
        let (ax, ay, aw, ah) = (
            u32::from(self.x),
            u32::from(self.y),
            u32::from(self.w),
            u32::from(self.h),
        );
        let (bx, by, bw, bh) = (
            u32::from(other.x),
            u32::from(other.y),
            u32::from(other.w),
            u32::from(other.h),
        );
        ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah
    }
}

/// The answer to a client's `SetDesktopSize` (the ExtendedDesktopSize status
/// code, sent with reason 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DesktopSizeStatus {
    /// Code 1: resizing is administratively prohibited (also the answer when the
    /// guest cannot change its mode).
    Prohibited,
    /// Code 2: out of resources.
    OutOfResources,
    /// Code 3: invalid screen layout.
    InvalidLayout,
    /// Code 4: the request was passed on (to the guest) and may complete later;
    /// a real change is then announced like any other resize.
    Forwarded,
}

impl DesktopSizeStatus {
    /// The status code sent in the rectangle's y-position.
    #[must_use]
    pub fn code(self) -> u16 {
        match self {
            DesktopSizeStatus::Prohibited => 1,
            DesktopSizeStatus::OutOfResources => 2,
            DesktopSizeStatus::InvalidLayout => 3,
            DesktopSizeStatus::Forwarded => 4,
        }
    }
}

/// Where the session is in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting for the client's version greeting.
    Version,
    /// 3.7/3.8: waiting for the client's security-type choice.
    Security,
    /// VeNCrypt: waiting for the client's VeNCrypt version or subtype choice.
    VeNCrypt,
    /// VeNCrypt: the subtype was accepted; waiting for
    /// [`ServerSession::tls_established`]. No input is accepted.
    StartTls,
    /// Waiting for the 16-byte response, or for [`ServerSession::auth_result`].
    VncAuth,
    /// VeNCrypt Plain: waiting for the user name and password, or for
    /// [`ServerSession::auth_result`].
    PlainAuth,
    /// Waiting for ClientInit, or for [`ServerSession::server_init`].
    ClientInit,
    /// Normal protocol messages.
    Normal,
    /// The session is over; flush any output and close the connection.
    Closed,
}

/// Something the client did, for the caller to act on.
///
/// `Debug` never shows a Plain password, only its length.
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// VeNCrypt: the client chose the offered subtype and the server's accept
    /// byte is queued. Write all queued output in the clear, then run a TLS
    /// server handshake on the connection (x509 or anonymous credentials, per
    /// [`VencryptSubtype::is_x509`]) and call [`ServerSession::tls_established`]
    /// once it completes. From then on, feed decrypted bytes and send output
    /// through TLS. Feed nothing before that: the client's next bytes are TLS
    /// records, and any input fed after the subtype (even in the same call)
    /// closes the session with [`Error::DataBeforeTls`].
    StartTls,
    /// The client's VNC authentication response. Check it and call
    /// [`ServerSession::auth_result`].
    VncAuthResponse([u8; 16]),
    /// VeNCrypt Plain credentials (inside TLS). Check them, together with any
    /// authz policy, and call [`ServerSession::auth_result`].
    PlainAuth {
        /// The user name: UTF-8, at most [`crate::MAX_PLAIN_USERNAME`] bytes.
        username: String,
        /// The password, at most [`crate::MAX_PLAIN_PASSWORD`] bytes; wiped on
        /// drop. Move it out without copying with `std::mem::take(&mut *password)`.
        password: Zeroizing<Vec<u8>>,
    },
    /// ClientInit. Apply the share policy, then call [`ServerSession::server_init`].
    ClientInit {
        /// The client is willing to share the desktop with other clients.
        shared: bool,
    },
    /// The client's new pixel format (already validated and in effect).
    SetPixelFormat(PixelFormat),
    /// The client's encodings in preference order (already in effect): the first
    /// [`MAX_ENCODINGS`] distinct values.
    SetEncodings(Vec<i32>),
    /// FramebufferUpdateRequest with the raw values; the caller clamps.
    UpdateRequest {
        /// Only changes are wanted.
        incremental: bool,
        /// Left edge.
        x: u16,
        /// Top edge.
        y: u16,
        /// Width.
        w: u16,
        /// Height.
        h: u16,
    },
    /// KeyEvent.
    Key {
        /// Pressed (true) or released.
        down: bool,
        /// X11 keysym.
        keysym: u32,
    },
    /// PointerEvent.
    Pointer {
        /// Button mask (bit 0 = left).
        buttons: u8,
        /// X position.
        x: u16,
        /// Y position.
        y: u16,
    },
    /// ClientCutText: at most [`MAX_CUT_TEXT`] bytes of ISO-8859-1 text.
    CutText(Vec<u8>),
    /// SetDesktopSize with a valid layout (see the crate documentation for what
    /// the session refuses by itself). Answer it with
    /// [`ServerSession::desktop_size_reply`] before draining the next event, so
    /// the answers keep the order of the requests.
    SetDesktopSize {
        /// Requested framebuffer width, 1 to [`ServerConfig::max_desktop_width`].
        width: u16,
        /// Requested framebuffer height, 1 to [`ServerConfig::max_desktop_height`].
        height: u16,
        /// The layout: 1 to [`MAX_SCREENS`] non-empty, non-overlapping screens
        /// with distinct ids, inside `width` × `height`.
        screens: Vec<Screen>,
    },
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::StartTls => f.write_str("StartTls"),
            Event::VncAuthResponse(r) => f.debug_tuple("VncAuthResponse").field(r).finish(),
            Event::PlainAuth { username, password } => f
                .debug_struct("PlainAuth")
                .field("username", username)
                .field(
                    "password",
                    &format_args!("<{} bytes redacted>", password.len()),
                )
                .finish(),
            Event::ClientInit { shared } => f
                .debug_struct("ClientInit")
                .field("shared", shared)
                .finish(),
            Event::SetPixelFormat(pf) => f.debug_tuple("SetPixelFormat").field(pf).finish(),
            Event::SetEncodings(list) => f.debug_tuple("SetEncodings").field(list).finish(),
            Event::UpdateRequest {
                incremental,
                x,
                y,
                w,
                h,
            } => f
                .debug_struct("UpdateRequest")
                .field("incremental", incremental)
                .field("x", x)
                .field("y", y)
                .field("w", w)
                .field("h", h)
                .finish(),
            Event::Key { down, keysym } => f
                .debug_struct("Key")
                .field("down", down)
                .field("keysym", keysym)
                .finish(),
            Event::Pointer { buttons, x, y } => f
                .debug_struct("Pointer")
                .field("buttons", buttons)
                .field("x", x)
                .field("y", y)
                .finish(),
            Event::CutText(t) => f.debug_tuple("CutText").field(t).finish(),
            Event::SetDesktopSize {
                width,
                height,
                screens,
            } => f
                .debug_struct("SetDesktopSize")
                .field("width", width)
                .field("height", height)
                .field("screens", screens)
                .finish(),
        }
    }
}

/// A view of the server framebuffer: `0x00RRGGBB` pixels, row-major.
#[derive(Clone, Copy, Debug)]
pub struct Framebuffer<'a> {
    /// Pixels; row `y` starts at `y * stride`.
    pub pixels: &'a [u32],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Distance between rows, in pixels.
    pub stride: u32,
}

/// A rectangle in framebuffer coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// A rectangle from its position and size.
    #[must_use]
    pub fn new(x: u32, y: u32, w: u32, h: u32) -> Self {
        Rect { x, y, w, h }
    }

    /// This rectangle cut to `0..width` × `0..height`.
    #[must_use]
    pub fn clamp(&self, width: u32, height: u32) -> Rect {
        let x = self.x.min(width);
        let y = self.y.min(height);
        Rect {
            x,
            y,
            w: self.w.min(width - x),
            h: self.h.min(height - y),
        }
    }

    /// Whether the rectangle covers no pixel.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }
}

/// Internal state; [`Phase`] is its public projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Version,
    SecurityChoice,
    VencryptVersion,
    VencryptSubtype,
    AwaitTls,
    PlainHeader,
    PlainCredentials,
    AuthResponse,
    AwaitAuthResult,
    ClientInit,
    AwaitServerInit,
    Normal,
    Closed,
}

/// A message body that is streamed rather than buffered whole.
#[derive(Debug)]
enum Stream {
    None,
    /// SetEncodings entries still to come.
    Encodings {
        remaining: u16,
        list: Vec<i32>,
    },
    /// ClientCutText bytes still to come.
    CutText {
        remaining: u32,
        data: Vec<u8>,
    },
    /// SetDesktopSize screens still to come; at most [`MAX_SCREENS`] are kept.
    Screens {
        remaining: u8,
        width: u16,
        height: u16,
        count: u8,
        screens: Vec<Screen>,
    },
}

/// An entry of the event queue: an event for the caller, or output the session
/// writes itself when the queue is drained up to it (so it keeps its place
/// among the answers the caller writes for earlier events).
#[derive(Debug)]
enum Queued {
    Event(Event),
    /// An ExtendedDesktopSize rectangle with the size the client was last told.
    ExtendedDesktopSize {
        reason: u16,
        status: u16,
    },
}

impl From<Event> for Queued {
    fn from(ev: Event) -> Self {
        Queued::Event(ev)
    }
}

/// The queue of [`Queued`] entries, oldest first.
#[derive(Debug, Default)]
struct EventQueue(VecDeque<Queued>);

impl EventQueue {
    fn push_back(&mut self, q: impl Into<Queued>) {
        self.0.push_back(q.into());
    }

    fn pop_front(&mut self) -> Option<Queued> {
        self.0.pop_front()
    }

    fn retain(&mut self, keep: impl FnMut(&Queued) -> bool) {
        self.0.retain(keep);
    }

    /// Removes the session's own output entries, keeping the events; returns
    /// their (reason, status) in order.
    fn take_own_output(&mut self) -> Vec<(u16, u16)> {
        let mut own = Vec::new();
        self.0.retain(|q| match q {
            Queued::Event(_) => true,
            Queued::ExtendedDesktopSize { reason, status } => {
                own.push((*reason, *status));
                false
            }
        });
        own
    }
}

/// VeNCrypt Plain credentials being collected; the password buffer is reserved
/// up front (so it never reallocates) and wiped on drop.
struct PlainCreds {
    ulen: usize,
    plen: usize,
    username: Vec<u8>,
    password: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for PlainCreds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainCreds")
            .field("ulen", &self.ulen)
            .field("plen", &self.plen)
            .field("username", &String::from_utf8_lossy(&self.username))
            .field("password", &format_args!("<{} bytes>", self.password.len()))
            .finish()
    }
}

/// One RFB server connection, without I/O. See the crate documentation.
#[derive(Debug)]
pub struct ServerSession {
    cfg: ServerConfig,
    state: State,
    minor: u8,
    /// The current fixed-size unit, at most [`MAX_UNIT`] bytes.
    unit: Vec<u8>,
    stream: Stream,
    /// VeNCrypt Plain credentials, in [`State::PlainCredentials`] only.
    plain: Option<PlainCreds>,
    /// Input that arrived while waiting for the caller, at most [`MAX_BACKLOG`].
    backlog: Vec<u8>,
    /// An error found while replaying the backlog outside `feed`.
    deferred_error: Option<Error>,
    events: EventQueue,
    out: Vec<u8>,
    out_pos: usize,
    conv: Converter,
    encodings: Vec<i32>,
    /// The framebuffer size the client was last told (ServerInit or a desktop
    /// size announcement).
    fb_size: (u16, u16),
    /// `SetDesktopSize` events the caller has not answered yet.
    desktop_size_replies_owed: u32,
}

impl ServerSession {
    /// Starts a session; the server's version greeting is queued at once.
    #[must_use]
    pub fn new(cfg: ServerConfig) -> Self {
        ServerSession {
            cfg,
            state: State::Version,
            minor: 0,
            unit: Vec::with_capacity(MAX_UNIT),
            stream: Stream::None,
            plain: None,
            backlog: Vec::new(),
            deferred_error: None,
            events: EventQueue::default(),
            out: SERVER_VERSION.to_vec(),
            out_pos: 0,
            conv: Converter::new(PixelFormat::NATIVE),
            encodings: Vec::new(),
            fb_size: (0, 0),
            desktop_size_replies_owed: 0,
        }
    }

    /// Consumes client bytes. Partial messages are kept (bounded) until the rest
    /// arrives; decoded messages become [`Event`]s.
    ///
    /// While the session waits for [`auth_result`](Self::auth_result) or
    /// [`server_init`](Self::server_init), input is held (at most [`MAX_BACKLOG`]
    /// bytes) and processed once the caller answers.
    ///
    /// # Errors
    /// On a protocol violation the session queues whatever the protocol sends on
    /// failure, enters [`Phase::Closed`] and returns the violation; the caller
    /// should flush the output and close. Feeding a closed session returns
    /// [`Error::Closed`] (or the violation found while replaying held input).
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Error> {
        if self.state == State::Closed {
            return Err(self.deferred_error.take().unwrap_or(Error::Closed));
        }
        let mut input = input;
        let result = self.run(&mut input);
        if result.is_err() {
            self.close();
        }
        result
    }

    /// The next decoded event, oldest first.
    ///
    /// Output the session owes the client by itself (the answer to an invalid
    /// `SetDesktopSize`, the ExtendedDesktopSize rectangle for a non-incremental
    /// update request) is queued here, in order, as the events before it are
    /// drained; take the output after draining.
    pub fn next_event(&mut self) -> Option<Event> {
        while let Some(q) = self.events.pop_front() {
            match q {
                Queued::Event(ev) => return Some(ev),
                Queued::ExtendedDesktopSize { reason, status } => {
                    self.put_extended_desktop_size(reason, status);
                }
            }
        }
        None
    }

    /// Bytes queued for the client that have not been consumed yet.
    #[must_use]
    pub fn output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Marks the first `n` bytes of [`output`](Self::output) as written (for a
    /// writer that may write partially). `n` larger than the queue empties it.
    pub fn consume_output(&mut self, n: usize) {
        self.out_pos = self.out_pos.saturating_add(n).min(self.out.len());
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        } else if self.out_pos >= 64 * 1024 && self.out_pos * 2 >= self.out.len() {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Takes every queued output byte.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        if self.out_pos > 0 {
            out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        out
    }

    /// Gives an emptied buffer back for the next output, so that large updates reuse its
    /// allocation instead of growing a new one (and faulting in its pages) every time. Ignored
    /// while output is queued.
    pub fn recycle_output(&mut self, mut buf: Vec<u8>) {
        if self.out.is_empty() && buf.capacity() > self.out.capacity() {
            buf.clear();
            self.out = buf;
            self.out_pos = 0;
        }
    }

    /// Whether output is queued.
    #[must_use]
    pub fn has_output(&self) -> bool {
        self.out_pos < self.out.len()
    }

    /// Number of queued output bytes (for throttling).
    #[must_use]
    pub fn output_len(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Where the session is in the protocol.
    #[must_use]
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Version => Phase::Version,
            State::SecurityChoice => Phase::Security,
            State::VencryptVersion | State::VencryptSubtype => Phase::VeNCrypt,
            State::AwaitTls => Phase::StartTls,
            State::PlainHeader | State::PlainCredentials => Phase::PlainAuth,
            State::AwaitAuthResult if self.inner_auth() == InnerAuth::Plain => Phase::PlainAuth,
            State::AuthResponse | State::AwaitAuthResult => Phase::VncAuth,
            State::ClientInit | State::AwaitServerInit => Phase::ClientInit,
            State::Normal => Phase::Normal,
            State::Closed => Phase::Closed,
        }
    }

    /// The negotiated minor version (3, 7 or 8), or 0 before the client's greeting.
    #[must_use]
    pub fn minor_version(&self) -> u8 {
        self.minor
    }

    /// Whether the session waits for [`auth_result`](Self::auth_result).
    #[must_use]
    pub fn awaiting_auth_result(&self) -> bool {
        self.state == State::AwaitAuthResult
    }

    /// Whether the session waits for [`tls_established`](Self::tls_established)
    /// (after [`Event::StartTls`]).
    #[must_use]
    pub fn awaiting_tls(&self) -> bool {
        self.state == State::AwaitTls
    }

    /// Answers [`Event::StartTls`]: the TLS handshake is complete. Starts the
    /// subtype's authentication, whose bytes must go out through TLS: None sends
    /// SecurityResult OK (a U32 0, on 3.7 too, as QEMU does) and moves on to
    /// ClientInit, Vnc sends the challenge, Plain waits for the credentials.
    /// Ignored unless the session waits for it.
    pub fn tls_established(&mut self) {
        if self.state != State::AwaitTls {
            return;
        }
        match self.inner_auth() {
            InnerAuth::None => {
                self.put_u32(0);
                self.state = State::ClientInit;
            }
            InnerAuth::Vnc => self.start_vnc_auth(),
            InnerAuth::Plain => self.state = State::PlainHeader,
        }
    }

    /// Whether the session waits for [`server_init`](Self::server_init).
    #[must_use]
    pub fn awaiting_server_init(&self) -> bool {
        self.state == State::AwaitServerInit
    }

    /// Input bytes held inside the session (partial message, held backlog, cut
    /// text or Plain credentials being collected). Never more than
    /// [`crate::MAX_BUFFERED_INPUT`].
    #[must_use]
    pub fn buffered_input_len(&self) -> usize {
        let streamed = match &self.stream {
            Stream::CutText { data, .. } => data.len(),
            Stream::None | Stream::Encodings { .. } | Stream::Screens { .. } => 0,
        };
        let plain = self
            .plain
            .as_ref()
            .map_or(0, |c| c.username.len() + c.password.len());
        self.unit.len() + self.backlog.len() + streamed + plain
    }

    /// Answers a [`Event::VncAuthResponse`] or [`Event::PlainAuth`].
    ///
    /// `Ok` sends SecurityResult 0 and moves on to ClientInit. `Err(reason)` sends
    /// SecurityResult 1, followed on 3.8 by the reason (length without a trailing
    /// NUL), and closes the session. Ignored unless the session waits for it.
    ///
    /// Input held meanwhile is processed at once; if it violates the protocol the
    /// session is [`Phase::Closed`] afterwards and the next [`feed`](Self::feed)
    /// returns the violation.
    pub fn auth_result(&mut self, result: Result<(), &str>) {
        if self.state != State::AwaitAuthResult {
            return;
        }
        match result {
            Ok(()) => {
                self.put_u32(0);
                self.state = State::ClientInit;
                self.replay_backlog();
            }
            Err(reason) => {
                self.security_failure(reason);
                self.close();
            }
        }
    }

    /// Answers [`Event::ClientInit`]: sends ServerInit with [`PixelFormat::NATIVE`]
    /// and the configured name, and enters [`Phase::Normal`]. Ignored unless the
    /// session waits for it. Held input is then processed as for
    /// [`auth_result`](Self::auth_result).
    pub fn server_init(&mut self, width: u16, height: u16) {
        if self.state != State::AwaitServerInit {
            return;
        }
        self.put_u16(width);
        self.put_u16(height);
        self.fb_size = (width, height);
        self.put(&PixelFormat::NATIVE.to_bytes());
        let name = self.cfg.name.clone();
        self.put_string(&name);
        self.state = State::Normal;
        self.replay_backlog();
    }

    /// The client's current pixel format.
    #[must_use]
    pub fn pixel_format(&self) -> PixelFormat {
        *self.conv.format()
    }

    /// The client's current encodings, in its order of preference.
    #[must_use]
    pub fn encodings(&self) -> &[i32] {
        &self.encodings
    }

    /// Whether the client understands the DesktopSize pseudo-encoding.
    #[must_use]
    pub fn wants_desktop_size(&self) -> bool {
        self.encodings.contains(&encoding::DESKTOP_SIZE)
    }

    /// Whether the client understands the ExtendedDesktopSize pseudo-encoding
    /// (and may send `SetDesktopSize`).
    #[must_use]
    pub fn wants_extended_desktop_size(&self) -> bool {
        self.encodings.contains(&encoding::EXTENDED_DESKTOP_SIZE)
    }

    /// Queues a FramebufferUpdate with one Raw rectangle per non-empty rect, in
    /// the client's pixel format.
    ///
    /// Rects are cut to the framebuffer (and to the 16-bit protocol range); empty
    /// ones are dropped. Nothing is sent when none remains, or outside
    /// [`Phase::Normal`]. A pixel slice shorter than `stride × height` is treated
    /// as a framebuffer of only the complete rows it holds. More than 65535 rects
    /// are split over several FramebufferUpdate messages.
    pub fn write_update(&mut self, fb: &Framebuffer<'_>, rects: &[Rect]) {
        if self.state != State::Normal {
            return;
        }
        let (width, height) = usable_size(fb);
        let rects: Vec<Rect> = rects
            .iter()
            .map(|r| r.clamp(width, height))
            .filter(|r| !r.is_empty())
            .collect();
        for chunk in rects.chunks(usize::from(u16::MAX)) {
            self.put(&[server_msg::FRAMEBUFFER_UPDATE, 0]);
            self.put_u16(u16::try_from(chunk.len()).unwrap_or(u16::MAX));
            for r in chunk {
                self.put_rect_header(r, encoding::RAW);
                let bpp = self.conv.format().bytes_per_pixel();
                let (x, w) = (to_usize(r.x), to_usize(r.w));
                self.out.reserve(w * to_usize(r.h) * bpp);
                for row in r.y..r.y + r.h {
                    let start = to_usize(row) * to_usize(fb.stride) + x;
                    self.conv
                        .write_pixels(&fb.pixels[start..start + w], &mut self.out);
                }
            }
        }
    }

    /// Announces a new framebuffer size in a FramebufferUpdate of its own: an
    /// ExtendedDesktopSize rectangle (reason 0, status 0, one screen covering the
    /// framebuffer) if the client listed it, else a DesktopSize rectangle.
    ///
    /// Returns false and sends nothing unless the client asked for one of them
    /// ([`wants_extended_desktop_size`](Self::wants_extended_desktop_size),
    /// [`wants_desktop_size`](Self::wants_desktop_size)) and the session is in
    /// [`Phase::Normal`]; the client then keeps the size it knew.
    pub fn write_desktop_size(&mut self, width: u16, height: u16) -> bool {
        if self.state != State::Normal {
            return false;
        }
        if self.wants_extended_desktop_size() {
            self.fb_size = (width, height);
            self.put_extended_desktop_size(desktop_size_reason::SERVER, STATUS_OK);
        } else if self.wants_desktop_size() {
            self.fb_size = (width, height);
            self.put(&[server_msg::FRAMEBUFFER_UPDATE, 0]);
            self.put_u16(1);
            self.put_rect_header(
                &Rect::new(0, 0, u32::from(width), u32::from(height)),
                encoding::DESKTOP_SIZE,
            );
        } else {
            return false;
        }
        true
    }

    /// Answers the oldest unanswered [`Event::SetDesktopSize`]: an
    /// ExtendedDesktopSize rectangle with reason 1, `status`, and the size the
    /// client was last told (the size does not change here; if the request is
    /// carried out later, [`write_desktop_size`](Self::write_desktop_size)
    /// announces it).
    ///
    /// Returns false and sends nothing when no request awaits an answer or the
    /// session is not in [`Phase::Normal`].
    pub fn desktop_size_reply(&mut self, status: DesktopSizeStatus) -> bool {
        if self.state != State::Normal || self.desktop_size_replies_owed == 0 {
            return false;
        }
        self.desktop_size_replies_owed -= 1;
        self.put_extended_desktop_size(desktop_size_reason::THIS_CLIENT, status.code());
        true
    }

    // ---- input processing ----

    /// Processes as much of `input` as possible.
    fn run(&mut self, input: &mut &[u8]) -> Result<(), Error> {
        loop {
            match self.state {
                State::Closed => {
                    *input = &[];
                    return Ok(());
                }
                State::AwaitAuthResult | State::AwaitServerInit => {
                    if self.backlog.len() + input.len() > MAX_BACKLOG {
                        return Err(Error::BacklogOverflow);
                    }
                    self.backlog.extend_from_slice(input);
                    *input = &[];
                    return Ok(());
                }
                State::AwaitTls => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    *input = &[];
                    // The caller must not start TLS on a session that is over.
                    self.events
                        .retain(|e| !matches!(e, Queued::Event(Event::StartTls)));
                    return Err(Error::DataBeforeTls);
                }
                State::PlainCredentials => {
                    if self.collect_plain(input)? {
                        continue;
                    }
                    return Ok(());
                }
                _ => {}
            }
            if let Stream::CutText { remaining, data } = &mut self.stream {
                let take = input.len().min(to_usize(*remaining));
                data.extend_from_slice(&input[..take]);
                *input = &input[take..];
                *remaining -= u32::try_from(take).unwrap_or(*remaining);
                if *remaining > 0 {
                    return Ok(());
                }
                let data = std::mem::take(data);
                self.stream = Stream::None;
                self.events.push_back(Event::CutText(data));
                continue;
            }
            let need = self.unit_len();
            let take = need.saturating_sub(self.unit.len()).min(input.len());
            self.unit.extend_from_slice(&input[..take]);
            *input = &input[take..];
            if self.unit.len() < need {
                return Ok(());
            }
            // The first byte of a message may reveal that it is longer.
            if self.unit_len() > self.unit.len() {
                continue;
            }
            self.handle_unit()?;
            self.unit.clear();
        }
    }

    /// Total length of the fixed-size unit the session currently expects.
    fn unit_len(&self) -> usize {
        match self.state {
            State::Version => SERVER_VERSION.len(),
            State::AuthResponse => CHALLENGE_LEN,
            State::SecurityChoice | State::ClientInit => 1,
            State::VencryptVersion => VENCRYPT_VERSION.len(),
            State::VencryptSubtype => 4,
            State::PlainHeader => 8,
            State::AwaitTls
            | State::PlainCredentials
            | State::AwaitAuthResult
            | State::AwaitServerInit
            | State::Closed => 0,
            State::Normal => {
                match self.stream {
                    Stream::Encodings { .. } => return 4,
                    Stream::Screens { .. } => return SCREEN_LEN,
                    Stream::None | Stream::CutText { .. } => {}
                }
                match self.unit.first() {
                    None => 1,
                    Some(&client_msg::SET_PIXEL_FORMAT) => 20,
                    Some(&client_msg::SET_ENCODINGS) => 4,
                    Some(&client_msg::FRAMEBUFFER_UPDATE_REQUEST) => 10,
                    Some(&client_msg::KEY_EVENT) => 8,
                    Some(&client_msg::POINTER_EVENT) => 6,
                    Some(&client_msg::CLIENT_CUT_TEXT) => 8,
                    // Unknown (so closing at once) until -308 is listed.
                    Some(&client_msg::SET_DESKTOP_SIZE) if self.wants_extended_desktop_size() => {
                        SET_DESKTOP_SIZE_HEADER_LEN
                    }
                    Some(_) => 1,
                }
            }
        }
    }

    /// Acts on the complete unit in `self.unit`.
    fn handle_unit(&mut self) -> Result<(), Error> {
        match self.state {
            State::Version => self.handle_version(),
            State::SecurityChoice => self.handle_security_choice(),
            State::VencryptVersion => self.handle_vencrypt_version(),
            State::VencryptSubtype => self.handle_vencrypt_subtype(),
            State::PlainHeader => self.handle_plain_header(),
            State::AuthResponse => {
                let mut response = [0u8; CHALLENGE_LEN];
                response.copy_from_slice(&self.unit);
                self.events.push_back(Event::VncAuthResponse(response));
                self.state = State::AwaitAuthResult;
                Ok(())
            }
            State::ClientInit => {
                self.events.push_back(Event::ClientInit {
                    shared: self.unit[0] != 0,
                });
                self.state = State::AwaitServerInit;
                Ok(())
            }
            State::Normal => self.handle_message(),
            State::AwaitTls
            | State::PlainCredentials
            | State::AwaitAuthResult
            | State::AwaitServerInit
            | State::Closed => Ok(()),
        }
    }

    fn handle_version(&mut self) -> Result<(), Error> {
        let Some(minor) = parse_version(&self.unit) else {
            self.put_u32(0);
            return Err(Error::BadVersion(
                String::from_utf8_lossy(&self.unit)
                    .escape_debug()
                    .to_string(),
            ));
        };
        self.minor = minor;
        let code = self.cfg.security.code();
        if minor == 3 {
            if let Security::VeNCrypt(_) = self.cfg.security {
                // QEMU: 3.3 has no way to run VeNCrypt; "invalid" and close.
                self.put_u32(0);
                return Err(Error::SecurityNeedsRfb37(code));
            }
            self.put_u32(u32::from(code));
            self.start_security();
        } else {
            self.put(&[1, code]);
            self.state = State::SecurityChoice;
        }
        Ok(())
    }

    fn handle_security_choice(&mut self) -> Result<(), Error> {
        let chosen = self.unit[0];
        let offered = self.cfg.security.code();
        if chosen != offered {
            self.security_failure(REASON_UNSUPPORTED_SECURITY);
            return Err(Error::SecurityTypeMismatch { offered, chosen });
        }
        if self.cfg.security == Security::None && self.minor >= 8 {
            self.put_u32(0);
        }
        self.start_security();
        Ok(())
    }

    /// Runs the agreed security type once it is settled.
    fn start_security(&mut self) {
        match self.cfg.security {
            Security::None => self.state = State::ClientInit,
            Security::VncAuth => self.start_vnc_auth(),
            Security::VeNCrypt(_) => {
                self.put(&VENCRYPT_VERSION);
                self.state = State::VencryptVersion;
            }
        }
    }

    /// Sends the VNC challenge and waits for the response.
    fn start_vnc_auth(&mut self) {
        let challenge = self.cfg.challenge;
        self.put(&challenge);
        self.state = State::AuthResponse;
    }

    /// The authentication the configured security type runs (for VeNCrypt,
    /// the one inside TLS).
    fn inner_auth(&self) -> InnerAuth {
        match self.cfg.security {
            Security::None => InnerAuth::None,
            Security::VncAuth => InnerAuth::Vnc,
            Security::VeNCrypt(sub) => sub.inner_auth(),
        }
    }

    /// The offered VeNCrypt subtype (only called in VeNCrypt states).
    fn vencrypt_subtype(&self) -> Option<VencryptSubtype> {
        match self.cfg.security {
            Security::VeNCrypt(sub) => Some(sub),
            Security::None | Security::VncAuth => None,
        }
    }

    fn handle_vencrypt_version(&mut self) -> Result<(), Error> {
        let (major, minor) = (self.unit[0], self.unit[1]);
        let sub = self.vencrypt_subtype();
        match sub {
            Some(sub) if [major, minor] == VENCRYPT_VERSION => {
                // Version accepted, one subtype offered.
                self.put(&[0, 1]);
                self.put_u32(sub.code());
                self.state = State::VencryptSubtype;
                Ok(())
            }
            _ => {
                self.put(&[1]);
                Err(Error::VencryptVersion { major, minor })
            }
        }
    }

    fn handle_vencrypt_subtype(&mut self) -> Result<(), Error> {
        let chosen = u32::from_be_bytes(be4(&self.unit));
        match self.vencrypt_subtype() {
            Some(sub) if sub.code() == chosen => {
                self.put(&[1]);
                self.events.push_back(Event::StartTls);
                self.state = State::AwaitTls;
                Ok(())
            }
            sub => {
                self.put(&[0]);
                Err(Error::VencryptSubtypeMismatch {
                    offered: sub.map_or(0, VencryptSubtype::code),
                    chosen,
                })
            }
        }
    }

    /// Plain: the two lengths, checked before anything is reserved.
    fn handle_plain_header(&mut self) -> Result<(), Error> {
        let ulen = u32::from_be_bytes(be4(&self.unit[0..4]));
        let plen = u32::from_be_bytes(be4(&self.unit[4..8]));
        if ulen > MAX_PLAIN_USERNAME {
            self.security_failure(REASON_BAD_CREDENTIALS);
            return Err(Error::PlainUsernameTooLong(ulen));
        }
        if plen > MAX_PLAIN_PASSWORD {
            self.security_failure(REASON_BAD_CREDENTIALS);
            return Err(Error::PlainPasswordTooLong(plen));
        }
        let (ulen, plen) = (to_usize(ulen), to_usize(plen));
        self.plain = Some(PlainCreds {
            ulen,
            plen,
            username: Vec::with_capacity(ulen),
            password: Zeroizing::new(Vec::with_capacity(plen)),
        });
        self.state = State::PlainCredentials;
        Ok(())
    }

    /// Plain: takes user name and password bytes from `input`. Returns true
    /// once both are complete and [`Event::PlainAuth`] is queued.
    fn collect_plain(&mut self, input: &mut &[u8]) -> Result<bool, Error> {
        let Some(c) = self.plain.as_mut() else {
            // Not reachable: the state is entered together with `plain`.
            return Err(Error::Closed);
        };
        if c.username.len() < c.ulen {
            let take = (c.ulen - c.username.len()).min(input.len());
            c.username.extend_from_slice(&input[..take]);
            *input = &input[take..];
            if c.username.len() < c.ulen {
                return Ok(false);
            }
            if std::str::from_utf8(&c.username).is_err() {
                self.security_failure(REASON_BAD_CREDENTIALS);
                return Err(Error::PlainUsernameNotUtf8);
            }
        }
        let take = (c.plen - c.password.len()).min(input.len());
        c.password.extend_from_slice(&input[..take]);
        *input = &input[take..];
        if c.password.len() < c.plen {
            return Ok(false);
        }
        let Some(mut c) = self.plain.take() else {
            return Err(Error::Closed);
        };
        let Ok(username) = String::from_utf8(std::mem::take(&mut c.username)) else {
            // Checked above unless the name is empty, which is valid UTF-8.
            self.security_failure(REASON_BAD_CREDENTIALS);
            return Err(Error::PlainUsernameNotUtf8);
        };
        let password = Zeroizing::new(std::mem::take(&mut *c.password));
        self.events
            .push_back(Event::PlainAuth { username, password });
        self.state = State::AwaitAuthResult;
        Ok(true)
    }

    fn handle_message(&mut self) -> Result<(), Error> {
        if let Stream::Encodings { remaining, list } = &mut self.stream {
            let enc = i32::from_be_bytes(be4(&self.unit[0..4]));
            if list.len() < MAX_ENCODINGS && !list.contains(&enc) {
                list.push(enc);
            }
            *remaining -= 1;
            if *remaining == 0 {
                let list = std::mem::take(list);
                self.stream = Stream::None;
                self.finish_encodings(list);
            }
            return Ok(());
        }
        if let Stream::Screens {
            remaining,
            width,
            height,
            count,
            screens,
        } = &mut self.stream
        {
            if screens.len() < MAX_SCREENS {
                screens.push(Screen::parse(&self.unit));
            }
            *remaining -= 1;
            if *remaining == 0 {
                let (width, height, count) = (*width, *height, *count);
                let screens = std::mem::take(screens);
                self.stream = Stream::None;
                self.finish_set_desktop_size(width, height, count, screens);
            }
            return Ok(());
        }
        let u = &self.unit;
        match u[0] {
            client_msg::SET_PIXEL_FORMAT => {
                let mut b = [0u8; 16];
                b.copy_from_slice(&u[4..20]);
                let pf = PixelFormat::parse(&b)?;
                if pf != *self.conv.format() {
                    self.conv = Converter::new(pf);
                }
                self.events.push_back(Event::SetPixelFormat(pf));
            }
            client_msg::SET_ENCODINGS => {
                let count = u16::from_be_bytes([u[2], u[3]]);
                if count == 0 {
                    self.finish_encodings(Vec::new());
                } else {
                    let cap = usize::from(count).min(MAX_ENCODINGS);
                    self.stream = Stream::Encodings {
                        remaining: count,
                        list: Vec::with_capacity(cap),
                    };
                }
            }
            client_msg::FRAMEBUFFER_UPDATE_REQUEST => {
                if u[1] == 0 && self.wants_extended_desktop_size() {
                    self.events.push_back(Queued::ExtendedDesktopSize {
                        reason: desktop_size_reason::SERVER,
                        status: STATUS_OK,
                    });
                }
                self.events.push_back(Event::UpdateRequest {
                    incremental: u[1] != 0,
                    x: u16::from_be_bytes([u[2], u[3]]),
                    y: u16::from_be_bytes([u[4], u[5]]),
                    w: u16::from_be_bytes([u[6], u[7]]),
                    h: u16::from_be_bytes([u[8], u[9]]),
                });
            }
            client_msg::KEY_EVENT => {
                self.events.push_back(Event::Key {
                    down: u[1] != 0,
                    keysym: u32::from_be_bytes(be4(&u[4..8])),
                });
            }
            client_msg::POINTER_EVENT => {
                self.events.push_back(Event::Pointer {
                    buttons: u[1],
                    x: u16::from_be_bytes([u[2], u[3]]),
                    y: u16::from_be_bytes([u[4], u[5]]),
                });
            }
            client_msg::CLIENT_CUT_TEXT => {
                let len = u32::from_be_bytes(be4(&u[4..8]));
                if len > MAX_CUT_TEXT {
                    return Err(Error::CutTextTooLong(len));
                }
                if len == 0 {
                    self.events.push_back(Event::CutText(Vec::new()));
                } else {
                    self.stream = Stream::CutText {
                        remaining: len,
                        data: Vec::new(),
                    };
                }
            }
            // Without -308 listed it is an unknown type (unit_len read one byte).
            client_msg::SET_DESKTOP_SIZE if self.wants_extended_desktop_size() => {
                let width = u16::from_be_bytes([u[2], u[3]]);
                let height = u16::from_be_bytes([u[4], u[5]]);
                let count = u[6];
                if count == 0 {
                    self.finish_set_desktop_size(width, height, 0, Vec::new());
                } else {
                    self.stream = Stream::Screens {
                        remaining: count,
                        width,
                        height,
                        count,
                        screens: Vec::with_capacity(usize::from(count).min(MAX_SCREENS)),
                    };
                }
            }
            other => return Err(Error::UnknownMessage(other)),
        }
        Ok(())
    }

    /// A whole `SetDesktopSize` has been read: an event for a valid layout, else
    /// the session's own answer (queued in order).
    fn finish_set_desktop_size(
        &mut self,
        width: u16,
        height: u16,
        count: u8,
        screens: Vec<Screen>,
    ) {
        match self.check_layout(width, height, count, &screens) {
            Ok(()) => {
                self.desktop_size_replies_owed = self.desktop_size_replies_owed.saturating_add(1);
                self.events.push_back(Event::SetDesktopSize {
                    width,
                    height,
                    screens,
                });
            }
            Err(status) => self.events.push_back(Queued::ExtendedDesktopSize {
                reason: desktop_size_reason::THIS_CLIENT,
                status: status.code(),
            }),
        }
    }

    /// Checks a requested layout; `screens` holds the first [`MAX_SCREENS`] of
    /// the `count` sent.
    fn check_layout(
        &self,
        width: u16,
        height: u16,
        count: u8,
        screens: &[Screen],
    ) -> Result<(), DesktopSizeStatus> {
        if width == 0
            || height == 0
            || width > self.cfg.max_desktop_width
            || height > self.cfg.max_desktop_height
            || count == 0
        {
            return Err(DesktopSizeStatus::InvalidLayout);
        }
        if usize::from(count) > screens.len() {
            return Err(DesktopSizeStatus::OutOfResources);
        }
        for (i, s) in screens.iter().enumerate() {
            let inside = u32::from(s.x) + u32::from(s.w) <= u32::from(width)
                && u32::from(s.y) + u32::from(s.h) <= u32::from(height);
            if s.w == 0 || s.h == 0 || !inside {
                return Err(DesktopSizeStatus::InvalidLayout);
            }
            if screens[..i].iter().any(|o| o.id == s.id || o.overlaps(s)) {
                return Err(DesktopSizeStatus::InvalidLayout);
            }
        }
        Ok(())
    }

    fn finish_encodings(&mut self, list: Vec<i32>) {
        self.encodings.clone_from(&list);
        self.events.push_back(Event::SetEncodings(list));
    }

    /// Processes input held while waiting for the caller.
    fn replay_backlog(&mut self) {
        let backlog = std::mem::take(&mut self.backlog);
        let mut input = &backlog[..];
        if let Err(e) = self.run(&mut input) {
            self.close();
            self.deferred_error = Some(e);
        }
    }

    /// Queues a failed SecurityResult (with the reason on 3.8).
    fn security_failure(&mut self, reason: &str) {
        self.put_u32(1);
        if self.minor >= 8 {
            self.put_string(reason);
        }
    }

    fn close(&mut self) {
        // What the session owes by itself still goes out (as if every event had
        // been drained), so its output does not depend on how the input was split.
        for (reason, status) in self.events.take_own_output() {
            self.put_extended_desktop_size(reason, status);
        }
        self.state = State::Closed;
        self.unit.clear();
        self.backlog = Vec::new();
        self.stream = Stream::None;
        self.plain = None;
    }

    // ---- output helpers ----

    fn put(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    fn put_u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    fn put_u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    /// U32 length + bytes; a string longer than `u32::MAX` bytes is cut.
    fn put_string(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.put_u32(len);
        self.put(&bytes[..to_usize(len)]);
    }

    /// A FramebufferUpdate with one ExtendedDesktopSize rectangle: the size the
    /// client was last told, as one screen (id 0, flags 0) covering it. Nothing
    /// outside [`Phase::Normal`].
    fn put_extended_desktop_size(&mut self, reason: u16, status: u16) {
        if self.state != State::Normal {
            return;
        }
        let (w, h) = self.fb_size;
        self.put(&[server_msg::FRAMEBUFFER_UPDATE, 0]);
        self.put_u16(1);
        for v in [reason, status, w, h] {
            self.put_u16(v);
        }
        self.put(&encoding::EXTENDED_DESKTOP_SIZE.to_be_bytes());
        self.put(&[1, 0, 0, 0]);
        self.put_u32(0);
        for v in [0, 0, w, h] {
            self.put_u16(v);
        }
        self.put_u32(0);
    }

    /// A rectangle header; coordinates were clamped to the u16 range earlier.
    fn put_rect_header(&mut self, r: &Rect, enc: i32) {
        for v in [r.x, r.y, r.w, r.h] {
            self.put_u16(u16::try_from(v).unwrap_or(u16::MAX));
        }
        self.put(&enc.to_be_bytes());
    }
}

/// Parses `RFB xxx.yyy\n` and maps the version to the minor version we speak.
fn parse_version(b: &[u8]) -> Option<u8> {
    let b: &[u8; 12] = b.try_into().ok()?;
    if &b[0..4] != b"RFB " || b[7] != b'.' || b[11] != b'\n' {
        return None;
    }
    let num = |d: &[u8]| -> Option<u32> {
        d.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let major = num(&b[4..7])?;
    let minor = num(&b[8..11])?;
    match (major, minor) {
        (3, 3..=5) => Some(3),
        (3, 7) => Some(7),
        (3, 8..) => Some(8),
        _ => None,
    }
}

/// The part of `fb` that its pixel slice really holds, cut to the u16 range.
fn usable_size(fb: &Framebuffer<'_>) -> (u32, u32) {
    let max = u32::from(u16::MAX);
    let width = fb.width.min(fb.stride).min(max);
    let len = fb.pixels.len();
    let (w, stride) = (to_usize(width), to_usize(fb.stride));
    let rows = if width == 0 || len < w {
        0
    } else {
        (len - w) / stride + 1
    };
    let height = fb
        .height
        .min(max)
        .min(u32::try_from(rows).unwrap_or(u32::MAX));
    (width, height)
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn be4(b: &[u8]) -> [u8; 4] {
    [b[0], b[1], b[2], b[3]]
}
