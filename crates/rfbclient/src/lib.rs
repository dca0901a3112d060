//! A small blocking RFB client for byte-exact tests of Porthole's VNC server.
//!
//! Design note: this is a test instrument, not a viewer. It speaks RFB 3.3/3.7/3.8
//! with security types None and VNC Authentication over a TCP or UNIX socket with
//! read/write timeouts, and decodes only what the server sends today: Raw
//! rectangles and the DesktopSize and ExtendedDesktopSize pseudo-encodings, plus
//! Bell and ServerCutText between updates. Everything else is an
//! [`Error::Protocol`], so a test notices when the server sends something
//! unexpected. [`Client::send_raw`] and [`Client::read_raw`] let tests step
//! outside the happy path.
//!
//! Every length the server controls is bounded before allocation: the desktop
//! name and reasons ([`MAX_STRING_LEN`]), cut text ([`MAX_CUT_TEXT_LEN`]) and the
//! framebuffer ([`MAX_WIDTH`] × [`MAX_HEIGHT`], the largest VBE mode); an
//! ExtendedDesktopSize screen count is a `u8`. Rectangles must lie inside the
//! framebuffer.
//!
//! The local framebuffer holds one `u32` per pixel: the pixel value in the
//! client's current pixel format (for [`rfb::PixelFormat::NATIVE`], `0x00RRGGBB`).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use rfb::PixelFormat;

/// Widest framebuffer accepted from the server (Porthole's largest VBE mode; QEMU stops at
/// 5120).
pub const MAX_WIDTH: u16 = 8192;
/// Tallest framebuffer accepted from the server (Porthole's largest VBE mode; QEMU stops at
/// 2160).
pub const MAX_HEIGHT: u16 = 8192;
/// Longest desktop name or failure reason accepted, in bytes.
pub const MAX_STRING_LEN: u32 = 4096;
/// Longest ServerCutText accepted, in bytes.
pub const MAX_CUT_TEXT_LEN: u32 = 1 << 20;

/// Client errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Connecting failed.
    #[error("cannot connect to {addr}")]
    Connect {
        /// The address or path.
        addr: String,
        /// The last connection error.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the socket failed (including timeouts and EOF).
    #[error("RFB socket I/O failed")]
    Io(#[from] io::Error),
    /// The server's version greeting is not RFB 3.x.
    #[error("server sent an unsupported version greeting {0:?}")]
    BadVersion(String),
    /// The requested client minor version is not 3, 7 or 8.
    #[error("client minor version {0} is not 3, 7 or 8")]
    BadMinor(u8),
    /// The server refused the connection before authentication.
    #[error("server refused the connection: {reason}")]
    Refused {
        /// The server's reason, if it sent one.
        reason: String,
    },
    /// The server offers no security type this client can use.
    #[error("server offers security types {offered:?}, none of them usable")]
    NoSecurityType {
        /// The offered types.
        offered: Vec<u8>,
    },
    /// The server wants VNC authentication but no password was given.
    #[error("server requires a password")]
    PasswordRequired,
    /// SecurityResult reported failure.
    #[error("authentication failed")]
    AuthFailed {
        /// The reason (3.8 only), exactly as sent.
        reason: Option<String>,
    },
    /// The server sent a length over this client's limit.
    #[error("server sent a {what} of {len}, over the limit of {max}")]
    TooLong {
        /// What the length was for.
        what: &'static str,
        /// The length sent.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The server sent an invalid pixel format.
    #[error("server sent an invalid pixel format")]
    PixelFormat(#[source] rfb::Error),
    /// The server sent something this client does not understand or allow.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// Handshake options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandshakeOpts {
    /// Minor version to speak: 3, 7 or 8.
    pub minor: u8,
    /// Password for VNC authentication; `None` picks security type None.
    pub password: Option<Vec<u8>>,
    /// ClientInit shared flag.
    pub shared: bool,
}

/// What ServerInit said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInit {
    /// Framebuffer width.
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// The server's pixel format.
    pub pixel_format: PixelFormat,
    /// Desktop name (lossy UTF-8).
    pub name: String,
}

/// One rectangle of a FramebufferUpdate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RectInfo {
    /// Left edge.
    pub x: u16,
    /// Top edge.
    pub y: u16,
    /// Width.
    pub w: u16,
    /// Height.
    pub h: u16,
    /// Encoding number.
    pub encoding: i32,
}

/// One ExtendedDesktopSize rectangle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtDesktopSize {
    /// Why it was sent (x-position): 0 server, 1 this client's request, 2 another
    /// client's request.
    pub reason: u16,
    /// Status code (y-position): 0 ok, 1 prohibited, 2 out of resources, 3 invalid
    /// layout, 4 forwarded.
    pub status: u16,
    /// Framebuffer width.
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// The screen layout.
    pub screens: Vec<rfb::Screen>,
}

/// What [`Client::read_update`] received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateSummary {
    /// The rectangles of the FramebufferUpdate, in order.
    pub rects: Vec<RectInfo>,
    /// The new size, if a DesktopSize rectangle was received, or an
    /// ExtendedDesktopSize rectangle that changed the size.
    pub resized: Option<(u16, u16)>,
    /// The ExtendedDesktopSize rectangles, in order.
    pub ext_desktop_sizes: Vec<ExtDesktopSize>,
    /// Bell messages received before the update.
    pub bells: u32,
    /// ServerCutText messages received before the update.
    pub cut_texts: Vec<Vec<u8>>,
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// A blocking RFB client connection.
pub struct Client {
    stream: Stream,
    timeout: Duration,
    minor: u8,
    pixel_format: PixelFormat,
    fb: Vec<u32>,
    width: u16,
    height: u16,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("minor", &self.minor)
            .field("pixel_format", &self.pixel_format)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects over TCP (`host:port`); `timeout` bounds the connect and every
    /// later read and write.
    ///
    /// # Errors
    /// [`Error::Connect`] if no resolved address accepts the connection.
    pub fn connect_tcp(addr: &str, timeout: Duration) -> Result<Self, Error> {
        let connect_err = |source| Error::Connect {
            addr: addr.to_string(),
            source,
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolved to nothing");
        for sa in addr.to_socket_addrs().map_err(connect_err)? {
            match TcpStream::connect_timeout(&sa, timeout) {
                Ok(s) => {
                    s.set_nodelay(true)?;
                    return Self::from_stream(Stream::Tcp(s), timeout);
                }
                Err(e) => last = e,
            }
        }
        Err(connect_err(last))
    }

    /// Connects to a UNIX socket; `timeout` bounds every read and write.
    ///
    /// # Errors
    /// [`Error::Connect`] if the connection fails.
    pub fn connect_unix(path: &Path, timeout: Duration) -> Result<Self, Error> {
        let s = UnixStream::connect(path).map_err(|source| Error::Connect {
            addr: path.display().to_string(),
            source,
        })?;
        Self::from_stream(Stream::Unix(s), timeout)
    }

    /// Wraps an already connected TCP stream.
    ///
    /// # Errors
    /// [`Error::Io`] if the timeouts cannot be set.
    pub fn from_tcp(stream: TcpStream, timeout: Duration) -> Result<Self, Error> {
        Self::from_stream(Stream::Tcp(stream), timeout)
    }

    /// Wraps an already connected UNIX stream (for example one end of
    /// `UnixStream::pair()`).
    ///
    /// # Errors
    /// [`Error::Io`] if the timeouts cannot be set.
    pub fn from_unix(stream: UnixStream, timeout: Duration) -> Result<Self, Error> {
        Self::from_stream(Stream::Unix(stream), timeout)
    }

    fn from_stream(stream: Stream, timeout: Duration) -> Result<Self, Error> {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client {
            stream,
            timeout,
            minor: 0,
            pixel_format: PixelFormat::NATIVE,
            fb: Vec::new(),
            width: 0,
            height: 0,
        })
    }

    /// Runs the version, security and init handshake.
    ///
    /// VNC authentication is used when the server offers it and a password is
    /// given, otherwise None.
    ///
    /// # Errors
    /// [`Error::AuthFailed`] when SecurityResult reports failure (with the reason
    /// on 3.8), [`Error::Refused`], [`Error::NoSecurityType`],
    /// [`Error::PasswordRequired`], and I/O or protocol errors.
    pub fn handshake(&mut self, opts: &HandshakeOpts) -> Result<ServerInit, Error> {
        if !matches!(opts.minor, 3 | 7 | 8) {
            return Err(Error::BadMinor(opts.minor));
        }
        let greeting: [u8; 12] = self.read_array()?;
        if &greeting[..8] != b"RFB 003." || greeting[11] != b'\n' {
            return Err(Error::BadVersion(
                String::from_utf8_lossy(&greeting)
                    .escape_debug()
                    .to_string(),
            ));
        }
        self.send_raw(format!("RFB 003.{:03}\n", opts.minor).as_bytes())?;
        self.minor = opts.minor;

        let security = if opts.minor == 3 {
            match self.read_u32()? {
                0 => {
                    let reason = self.read_string("failure reason")?;
                    return Err(Error::Refused { reason });
                }
                1 => 1,
                2 => 2,
                other => {
                    return Err(Error::Protocol(format!(
                        "3.3 server chose security type {other}"
                    )));
                }
            }
        } else {
            let n = usize::from(self.read_u8()?);
            if n == 0 {
                let reason = self.read_string("failure reason")?;
                return Err(Error::Refused { reason });
            }
            let offered = self.read_raw(n)?;
            let pick = if offered.contains(&2) && opts.password.is_some() {
                2
            } else if offered.contains(&1) {
                1
            } else if offered.contains(&2) {
                return Err(Error::PasswordRequired);
            } else {
                return Err(Error::NoSecurityType { offered });
            };
            self.send_raw(&[pick])?;
            pick
        };

        if security == 2 {
            let Some(password) = &opts.password else {
                return Err(Error::PasswordRequired);
            };
            let challenge: [u8; 16] = self.read_array()?;
            let response = crypto::vnc_auth_response(password, &challenge);
            self.send_raw(&response)?;
        }
        if security == 2 || opts.minor >= 8 {
            match self.read_u32()? {
                0 => {}
                _ => {
                    let reason = if opts.minor >= 8 {
                        Some(self.read_string("failure reason")?)
                    } else {
                        None
                    };
                    return Err(Error::AuthFailed { reason });
                }
            }
        }

        self.send_raw(&[u8::from(opts.shared)])?;
        let width = self.read_u16()?;
        let height = self.read_u16()?;
        let pf_bytes: [u8; 16] = self.read_array()?;
        let pixel_format = PixelFormat::parse(&pf_bytes).map_err(Error::PixelFormat)?;
        let name = self.read_string("desktop name")?;
        self.resize(width, height)?;
        self.pixel_format = pixel_format;
        Ok(ServerInit {
            width,
            height,
            pixel_format,
            name,
        })
    }

    /// The minor version negotiated by [`handshake`](Self::handshake).
    #[must_use]
    pub fn minor_version(&self) -> u8 {
        self.minor
    }

    /// The pixel format the client currently expects from the server.
    #[must_use]
    pub fn pixel_format(&self) -> PixelFormat {
        self.pixel_format
    }

    /// Sends SetPixelFormat; later Raw rects are decoded in this format.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn set_pixel_format(&mut self, pf: &PixelFormat) -> Result<(), Error> {
        let mut msg = vec![0u8, 0, 0, 0];
        msg.extend_from_slice(&pf.to_bytes());
        self.send_raw(&msg)?;
        self.pixel_format = *pf;
        Ok(())
    }

    /// Sends SetEncodings.
    ///
    /// # Errors
    /// [`Error::Protocol`] for more than 65535 encodings; [`Error::Io`].
    pub fn set_encodings(&mut self, encs: &[i32]) -> Result<(), Error> {
        let count = u16::try_from(encs.len())
            .map_err(|_| Error::Protocol(format!("{} encodings do not fit", encs.len())))?;
        let mut msg = vec![2u8, 0];
        msg.extend_from_slice(&count.to_be_bytes());
        for e in encs {
            msg.extend_from_slice(&e.to_be_bytes());
        }
        self.send_raw(&msg)
    }

    /// Sends FramebufferUpdateRequest.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn request_update(
        &mut self,
        incremental: bool,
        x: u16,
        y: u16,
        w: u16,
        h: u16,
    ) -> Result<(), Error> {
        let mut msg = vec![3u8, u8::from(incremental)];
        for v in [x, y, w, h] {
            msg.extend_from_slice(&v.to_be_bytes());
        }
        self.send_raw(&msg)
    }

    /// Sends SetDesktopSize (`width`×`height`, then the screens as given).
    ///
    /// # Errors
    /// [`Error::Protocol`] for more than 255 screens; [`Error::Io`].
    pub fn set_desktop_size(
        &mut self,
        width: u16,
        height: u16,
        screens: &[rfb::Screen],
    ) -> Result<(), Error> {
        let count = u8::try_from(screens.len())
            .map_err(|_| Error::Protocol(format!("{} screens do not fit", screens.len())))?;
        let mut msg = vec![rfb::client_msg::SET_DESKTOP_SIZE, 0];
        msg.extend_from_slice(&width.to_be_bytes());
        msg.extend_from_slice(&height.to_be_bytes());
        msg.extend_from_slice(&[count, 0]);
        for s in screens {
            msg.extend_from_slice(&s.id.to_be_bytes());
            for v in [s.x, s.y, s.w, s.h] {
                msg.extend_from_slice(&v.to_be_bytes());
            }
            msg.extend_from_slice(&s.flags.to_be_bytes());
        }
        self.send_raw(&msg)
    }

    /// Sends KeyEvent.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn key(&mut self, down: bool, keysym: u32) -> Result<(), Error> {
        let mut msg = vec![4u8, u8::from(down), 0, 0];
        msg.extend_from_slice(&keysym.to_be_bytes());
        self.send_raw(&msg)
    }

    /// Sends PointerEvent.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn pointer(&mut self, buttons: u8, x: u16, y: u16) -> Result<(), Error> {
        let mut msg = vec![5u8, buttons];
        msg.extend_from_slice(&x.to_be_bytes());
        msg.extend_from_slice(&y.to_be_bytes());
        self.send_raw(&msg)
    }

    /// Sends ClientCutText.
    ///
    /// # Errors
    /// [`Error::Protocol`] for text longer than `u32::MAX`; [`Error::Io`].
    pub fn cut_text(&mut self, text: &[u8]) -> Result<(), Error> {
        let len = u32::try_from(text.len())
            .map_err(|_| Error::Protocol("cut text longer than u32::MAX".into()))?;
        let mut msg = vec![6u8, 0, 0, 0];
        msg.extend_from_slice(&len.to_be_bytes());
        msg.extend_from_slice(text);
        self.send_raw(&msg)
    }

    /// Reads server messages until a whole FramebufferUpdate has arrived and
    /// applies it to the local framebuffer. Bell and ServerCutText messages before
    /// it are recorded in the summary.
    ///
    /// # Errors
    /// [`Error::Protocol`] for unknown messages or encodings and rectangles outside
    /// the framebuffer; [`Error::TooLong`]; [`Error::Io`] (including a timeout).
    pub fn read_update(&mut self) -> Result<UpdateSummary, Error> {
        let mut summary = UpdateSummary::default();
        loop {
            match self.read_u8()? {
                0 => break,
                2 => summary.bells += 1,
                3 => {
                    let _pad: [u8; 3] = self.read_array()?;
                    let len = self.read_u32()?;
                    check_len("cut text", len, MAX_CUT_TEXT_LEN)?;
                    summary.cut_texts.push(self.read_raw(to_usize(len))?);
                }
                other => {
                    return Err(Error::Protocol(format!(
                        "unexpected server message type {other}"
                    )));
                }
            }
        }
        let _pad = self.read_u8()?;
        let count = self.read_u16()?;
        for _ in 0..count {
            let r = RectInfo {
                x: self.read_u16()?,
                y: self.read_u16()?,
                w: self.read_u16()?,
                h: self.read_u16()?,
                encoding: i32::from_be_bytes(self.read_array()?),
            };
            match r.encoding {
                rfb::encoding::RAW => self.read_raw_rect(&r)?,
                rfb::encoding::DESKTOP_SIZE => {
                    self.resize(r.w, r.h)?;
                    summary.resized = Some((r.w, r.h));
                }
                rfb::encoding::EXTENDED_DESKTOP_SIZE => {
                    let ext = self.read_ext_desktop_size(&r)?;
                    // A refused request's size is undefined; everything else is the
                    // framebuffer's size from now on.
                    let applies = ext.reason != 1 || ext.status == 0;
                    if applies && (r.w, r.h) != (self.width, self.height) {
                        self.resize(r.w, r.h)?;
                        summary.resized = Some((r.w, r.h));
                    }
                    summary.ext_desktop_sizes.push(ext);
                }
                other => {
                    return Err(Error::Protocol(format!("unsupported encoding {other}")));
                }
            }
            summary.rects.push(r);
        }
        Ok(summary)
    }

    /// The body of an ExtendedDesktopSize rectangle (`r` is its header).
    fn read_ext_desktop_size(&mut self, r: &RectInfo) -> Result<ExtDesktopSize, Error> {
        let [count, _, _, _] = self.read_array::<4>()?;
        let mut screens = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            screens.push(rfb::Screen {
                id: self.read_u32()?,
                x: self.read_u16()?,
                y: self.read_u16()?,
                w: self.read_u16()?,
                h: self.read_u16()?,
                flags: self.read_u32()?,
            });
        }
        Ok(ExtDesktopSize {
            reason: r.x,
            status: r.y,
            width: r.w,
            height: r.h,
            screens,
        })
    }

    fn read_raw_rect(&mut self, r: &RectInfo) -> Result<(), Error> {
        let (x, y, w, h) = (
            usize::from(r.x),
            usize::from(r.y),
            usize::from(r.w),
            usize::from(r.h),
        );
        let (fw, fh) = (usize::from(self.width), usize::from(self.height));
        if x + w > fw || y + h > fh {
            return Err(Error::Protocol(format!(
                "rect {}x{}+{}+{} outside the {fw}x{fh} framebuffer",
                r.w, r.h, r.x, r.y
            )));
        }
        let bpp = self.pixel_format.bytes_per_pixel();
        if !matches!(bpp, 1 | 2 | 4) {
            return Err(Error::Protocol(format!("cannot decode {bpp}-byte pixels")));
        }
        let big = self.pixel_format.big_endian;
        let mut row = vec![0u8; w * bpp];
        for yy in y..y + h {
            self.stream.read_exact(&mut row)?;
            let dst = &mut self.fb[yy * fw + x..yy * fw + x + w];
            for (d, px) in dst.iter_mut().zip(row.chunks_exact(bpp)) {
                *d = match (px, big) {
                    ([a], _) => u32::from(*a),
                    ([a, b], false) => u32::from(u16::from_le_bytes([*a, *b])),
                    ([a, b], true) => u32::from(u16::from_be_bytes([*a, *b])),
                    ([a, b, c, e], false) => u32::from_le_bytes([*a, *b, *c, *e]),
                    ([a, b, c, e], true) => u32::from_be_bytes([*a, *b, *c, *e]),
                    _ => 0,
                };
            }
        }
        Ok(())
    }

    fn resize(&mut self, width: u16, height: u16) -> Result<(), Error> {
        if width > MAX_WIDTH || height > MAX_HEIGHT {
            return Err(Error::TooLong {
                what: "framebuffer size",
                len: u64::from(width) * u64::from(height),
                max: u64::from(MAX_WIDTH) * u64::from(MAX_HEIGHT),
            });
        }
        self.width = width;
        self.height = height;
        self.fb = vec![0; usize::from(width) * usize::from(height)];
        Ok(())
    }

    /// The local framebuffer: pixels (row-major, stride = width), width, height.
    #[must_use]
    pub fn framebuffer(&self) -> (&[u32], u32, u32) {
        (&self.fb, u32::from(self.width), u32::from(self.height))
    }

    /// Writes `bytes` as they are.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream.write_all(bytes)?;
        self.stream.flush()?;
        Ok(())
    }

    /// Reads exactly `n` bytes.
    ///
    /// # Errors
    /// [`Error::Io`] on EOF or timeout.
    pub fn read_raw(&mut self, n: usize) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; n];
        self.stream.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Whether the server closes the connection (EOF or reset) within `wait`.
    /// Data that arrives meanwhile is discarded.
    pub fn is_closed_by_peer(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 4096];
        let closed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            if self.stream.set_read_timeout(Some(left)).is_err() {
                break false;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => {}
                Err(e) => match e.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => break false,
                    _ => break true,
                },
            }
        };
        // Restoring the timeout on a dead socket may fail; nothing is lost then.
        let _ = self.stream.set_read_timeout(Some(self.timeout));
        closed
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut b = [0u8; N];
        self.stream.read_exact(&mut b)?;
        Ok(b)
    }

    fn read_u8(&mut self) -> Result<u8, Error> {
        Ok(self.read_array::<1>()?[0])
    }

    fn read_u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.read_array()?))
    }

    fn read_u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.read_array()?))
    }

    /// U32 length + bytes, bounded by [`MAX_STRING_LEN`].
    fn read_string(&mut self, what: &'static str) -> Result<String, Error> {
        let len = self.read_u32()?;
        check_len(what, len, MAX_STRING_LEN)?;
        let bytes = self.read_raw(to_usize(len))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn check_len(what: &'static str, len: u32, max: u32) -> Result<(), Error> {
    if len > max {
        return Err(Error::TooLong {
            what,
            len: u64::from(len),
            max: u64::from(max),
        });
    }
    Ok(())
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}
