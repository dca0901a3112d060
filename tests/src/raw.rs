//! A hand-written RFB client over a plain socket, for tests that need exact control of the
//! bytes: the handshake step by step, malformed messages, half messages.
//!
//! It only understands what it asks for: 32-bit true-colour pixels (0x00RRGGBB little
//! endian) and Raw encoding (plus DesktopSize if a test lists it). Every length the server
//! sends is bounded by a named constant before anything is allocated.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::image::Image;

/// Longest failure reason accepted from the server.
pub const MAX_REASON: u32 = 4096;
/// Longest desktop name accepted from the server.
pub const MAX_NAME: u32 = 4096;
/// Largest framebuffer side accepted from the server.
pub const MAX_SIDE: u16 = 8192;
/// Most security types in the server's list (the count is a u8 anyway).
pub const MAX_SECURITY_TYPES: usize = 255;
/// Longest server cut text accepted.
pub const MAX_CUT_TEXT: u32 = 1 << 20;
/// Default read timeout.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Raw encoding.
pub const ENC_RAW: i32 = 0;
/// DesktopSize pseudo-encoding.
pub const ENC_DESKTOP_SIZE: i32 = -223;

/// Security type None.
pub const SEC_NONE: u8 = 1;
/// Security type VNC authentication.
pub const SEC_VNC: u8 = 2;

/// The socket under the client.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_read_timeout(t),
            Conn::Unix(s) => s.set_read_timeout(t),
        }
    }

    fn shutdown_write(&self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.shutdown(Shutdown::Write),
            Conn::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Unix(s) => s.flush(),
        }
    }
}

/// What the server said in ServerInit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInit {
    /// Framebuffer width.
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// The 16-byte PIXEL_FORMAT.
    pub pixel_format: [u8; 16],
    /// Desktop name.
    pub name: String,
}

/// An RFB true-colour pixel format (the parts this client needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    /// Bits per pixel: 8, 16 or 32.
    pub bpp: u8,
    /// Colour depth.
    pub depth: u8,
    /// Multi-byte pixels are big endian.
    pub big_endian: bool,
    /// Largest red value.
    pub red_max: u16,
    /// Largest green value.
    pub green_max: u16,
    /// Largest blue value.
    pub blue_max: u16,
    /// Red shift.
    pub red_shift: u8,
    /// Green shift.
    pub green_shift: u8,
    /// Blue shift.
    pub blue_shift: u8,
}

impl PixelFormat {
    /// 32 bpp, depth 24, little endian, 0x00RRGGBB.
    pub const XRGB32: PixelFormat = PixelFormat {
        bpp: 32,
        depth: 24,
        big_endian: false,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    /// 16 bpp RGB565, little endian.
    pub const RGB565: PixelFormat = PixelFormat {
        bpp: 16,
        depth: 16,
        big_endian: false,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };

    /// Parses the 16-byte PIXEL_FORMAT of ServerInit.
    pub fn parse(b: &[u8; 16]) -> Result<PixelFormat> {
        ensure!(b[3] != 0, "server pixel format is not true colour");
        let pf = PixelFormat {
            bpp: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            red_max: u16::from_be_bytes([b[4], b[5]]),
            green_max: u16::from_be_bytes([b[6], b[7]]),
            blue_max: u16::from_be_bytes([b[8], b[9]]),
            red_shift: b[10],
            green_shift: b[11],
            blue_shift: b[12],
        };
        ensure!(
            matches!(pf.bpp, 8 | 16 | 32),
            "server pixel format has {} bpp",
            pf.bpp
        );
        Ok(pf)
    }

    /// The SetPixelFormat message selecting this format.
    pub fn message(&self) -> Vec<u8> {
        let mut msg = vec![
            0,
            0,
            0,
            0,
            self.bpp,
            self.depth,
            u8::from(self.big_endian),
            1,
        ];
        for max in [self.red_max, self.green_max, self.blue_max] {
            msg.extend_from_slice(&max.to_be_bytes());
        }
        msg.extend_from_slice(&[self.red_shift, self.green_shift, self.blue_shift, 0, 0, 0]);
        msg
    }

    /// Bytes per pixel.
    pub fn bytes(&self) -> usize {
        usize::from(self.bpp / 8)
    }

    /// A pixel value from its wire bytes.
    pub fn decode(&self, bytes: &[u8]) -> u32 {
        let fold = |acc: u32, b: &u8| (acc << 8) | u32::from(*b);
        if self.big_endian {
            bytes.iter().fold(0, fold)
        } else {
            bytes.iter().rev().fold(0, fold)
        }
    }

    /// A pixel value as 8-bit R, G, B (each channel scaled from its maximum, rounded).
    pub fn to_rgb(&self, pixel: u32) -> [u8; 3] {
        let channel = |shift: u8, max: u16| -> u8 {
            let max = u32::from(max);
            if max == 0 {
                return 0;
            }
            let v = pixel.checked_shr(u32::from(shift)).unwrap_or(0) & max;
            u8::try_from((v * 255 + max / 2) / max).unwrap_or(u8::MAX)
        };
        [
            channel(self.red_shift, self.red_max),
            channel(self.green_shift, self.green_max),
            channel(self.blue_shift, self.blue_max),
        ]
    }

    /// The pixel value closest to 8-bit R, G, B (truncating each channel to its bits).
    pub fn from_rgb(&self, rgb: [u8; 3]) -> u32 {
        let channel = |v: u8, shift: u8, max: u16| -> u32 {
            let max = u32::from(max);
            ((u32::from(v) * max) / 255)
                .checked_shl(u32::from(shift))
                .unwrap_or(0)
        };
        channel(rgb[0], self.red_shift, self.red_max)
            | channel(rgb[1], self.green_shift, self.green_max)
            | channel(rgb[2], self.blue_shift, self.blue_max)
    }
}

/// How the security handshake ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// SecurityResult OK.
    Accepted,
    /// SecurityResult failed, with the reason string (RFB 3.8) as sent, NULs included.
    Rejected(String),
    /// The server offered no security type (count 0) and this reason.
    Refused(String),
}

/// One server-to-client message, as far as this client cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMsg {
    /// A FramebufferUpdate with this many rectangles (already applied).
    Update {
        /// Number of rectangles.
        rects: u16,
        /// Pixels painted by Raw rectangles.
        pixels: u64,
        /// The update carried a DesktopSize rectangle.
        resized: bool,
    },
    /// SetColourMapEntries (ignored).
    Colours,
    /// Bell.
    Bell,
    /// ServerCutText with its length.
    CutText(u32),
}

/// A hand-driven RFB client.
pub struct RawRfb {
    conn: Conn,
    /// Framebuffer width (after ServerInit or DesktopSize).
    pub width: u16,
    /// Framebuffer height.
    pub height: u16,
    /// Pixel values in `format`, row by row.
    pub fb: Vec<u32>,
    /// The pixel format in use (the server's until `set_pixel_format`).
    pub format: PixelFormat,
    /// The server's version line.
    pub server_version: Vec<u8>,
}

impl RawRfb {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> Result<RawRfb> {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
        stream.set_nodelay(true)?;
        Self::with_conn(Conn::Tcp(stream))
    }

    /// Connects to a UNIX socket.
    pub fn connect_unix(path: &Path) -> Result<RawRfb> {
        let stream = UnixStream::connect(path)
            .with_context(|| format!("connecting to {}", path.display()))?;
        Self::with_conn(Conn::Unix(stream))
    }

    fn with_conn(conn: Conn) -> Result<RawRfb> {
        conn.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(RawRfb {
            conn,
            width: 0,
            height: 0,
            fb: Vec::new(),
            format: PixelFormat::XRGB32,
            server_version: Vec::new(),
        })
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.conn
            .write_all(bytes)
            .context("sending to the server")?;
        self.conn.flush().context("flushing to the server")
    }

    /// Reads exactly `n` bytes (`n` is bounded by the caller).
    pub fn read_exact(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0; n];
        self.conn
            .read_exact(&mut buf)
            .with_context(|| format!("reading {n} bytes from the server"))?;
        Ok(buf)
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut buf = [0; N];
        self.conn
            .read_exact(&mut buf)
            .with_context(|| format!("reading {N} bytes from the server"))?;
        Ok(buf)
    }

    fn read_u8(&mut self) -> Result<u8> {
        Ok(self.read_array::<1>()?[0])
    }

    fn read_u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.read_array()?))
    }

    fn read_u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.read_array()?))
    }

    fn read_string(&mut self, max: u32) -> Result<String> {
        let len = self.read_u32()?;
        ensure!(len <= max, "server string of {len} bytes exceeds {max}");
        let bytes = self.read_exact(usize::try_from(len)?)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Reads the server's 12-byte version and answers RFB 3.`minor`.
    pub fn exchange_versions(&mut self, minor: u8) -> Result<()> {
        let version = self.read_exact(12)?;
        ensure!(
            version.starts_with(b"RFB ") && version.ends_with(b"\n"),
            "bad server version {version:?}"
        );
        self.server_version = version;
        self.send(format!("RFB 003.{minor:03}\n").as_bytes())
    }

    /// RFB 3.8 security negotiation: takes the offered types, picks VNC auth when a password
    /// is given (None otherwise), and returns the outcome.
    pub fn authenticate(&mut self, password: Option<&[u8]>) -> Result<AuthOutcome> {
        let count = self.read_u8()?;
        if count == 0 {
            return Ok(AuthOutcome::Refused(self.read_string(MAX_REASON)?));
        }
        let types = self.read_exact(usize::from(count).min(MAX_SECURITY_TYPES))?;
        let wanted = if password.is_some() {
            SEC_VNC
        } else {
            SEC_NONE
        };
        ensure!(
            types.contains(&wanted),
            "server offers security types {types:?}, not {wanted}"
        );
        self.send(&[wanted])?;
        if let Some(pw) = password {
            let challenge: [u8; 16] = self.read_array()?;
            let response = crypto::vnc_auth_response(pw, &challenge);
            self.send(&response)?;
        }
        self.security_result()
    }

    /// Reads SecurityResult (and the 3.8 failure reason).
    pub fn security_result(&mut self) -> Result<AuthOutcome> {
        match self.read_u32()? {
            0 => Ok(AuthOutcome::Accepted),
            _ => Ok(AuthOutcome::Rejected(self.read_string(MAX_REASON)?)),
        }
    }

    /// Sends ClientInit and reads ServerInit; sizes the framebuffer.
    pub fn init(&mut self, shared: bool) -> Result<ServerInit> {
        self.send(&[u8::from(shared)])?;
        let width = self.read_u16()?;
        let height = self.read_u16()?;
        let pixel_format: [u8; 16] = self.read_array()?;
        let name = self.read_string(MAX_NAME)?;
        self.format = PixelFormat::parse(&pixel_format)?;
        self.resize(width, height)?;
        Ok(ServerInit {
            width,
            height,
            pixel_format,
            name,
        })
    }

    /// The whole handshake (RFB 3.8, ClientInit shared): fails unless accepted.
    pub fn handshake(&mut self, password: Option<&str>) -> Result<ServerInit> {
        self.exchange_versions(8)?;
        match self.authenticate(password.map(str::as_bytes))? {
            AuthOutcome::Accepted => self.init(true),
            other => bail!("handshake failed: {other:?}"),
        }
    }

    /// Connects to `port` and completes the handshake.
    pub fn open(port: u16, password: Option<&str>) -> Result<(RawRfb, ServerInit)> {
        let mut c = Self::connect(port)?;
        let init = c.handshake(password)?;
        Ok((c, init))
    }

    /// Connects and completes the handshake, then asks for 32-bit pixels in Raw encoding
    /// and a full update, and reads it.
    pub fn open_viewer(port: u16, password: Option<&str>) -> Result<RawRfb> {
        let (mut c, _) = Self::open(port, password)?;
        c.set_pixel_format_xrgb()?;
        c.set_encodings(&[ENC_RAW, ENC_DESKTOP_SIZE])?;
        c.refresh()?;
        Ok(c)
    }

    fn resize(&mut self, width: u16, height: u16) -> Result<()> {
        ensure!(
            width <= MAX_SIDE && height <= MAX_SIDE,
            "server framebuffer {width}x{height} is too large"
        );
        self.width = width;
        self.height = height;
        self.fb = vec![0; usize::from(width) * usize::from(height)];
        Ok(())
    }

    /// SetPixelFormat: 32 bpp, depth 24, little endian, true colour, 0x00RRGGBB.
    pub fn set_pixel_format_xrgb(&mut self) -> Result<()> {
        self.set_pixel_format(PixelFormat::XRGB32)
    }

    /// SetPixelFormat with `format`, which later updates are decoded with.
    pub fn set_pixel_format(&mut self, format: PixelFormat) -> Result<()> {
        self.send(&format.message())?;
        self.format = format;
        Ok(())
    }

    /// SetEncodings with the given list.
    pub fn set_encodings(&mut self, encodings: &[i32]) -> Result<()> {
        let count = u16::try_from(encodings.len()).context("too many encodings")?;
        let mut msg = vec![2, 0];
        msg.extend_from_slice(&count.to_be_bytes());
        for e in encodings {
            msg.extend_from_slice(&e.to_be_bytes());
        }
        self.send(&msg)
    }

    /// FramebufferUpdateRequest.
    pub fn request(&mut self, incremental: bool, x: u16, y: u16, w: u16, h: u16) -> Result<()> {
        self.send(&fbur_msg(incremental, x, y, w, h))
    }

    /// KeyEvent.
    pub fn key(&mut self, down: bool, keysym: u32) -> Result<()> {
        let mut msg = vec![4, u8::from(down), 0, 0];
        msg.extend_from_slice(&keysym.to_be_bytes());
        self.send(&msg)
    }

    /// Presses and releases each key of `keysyms`.
    pub fn tap_keys(&mut self, keysyms: &[u32]) -> Result<()> {
        for &k in keysyms {
            self.key(true, k)?;
            self.key(false, k)?;
        }
        Ok(())
    }

    /// Reads one server message and applies it.
    pub fn read_message(&mut self) -> Result<ServerMsg> {
        match self.read_u8()? {
            0 => self.read_update_body(),
            1 => {
                let [_pad, first_hi, first_lo, n_hi, n_lo] = self.read_array::<5>()?;
                let _ = u16::from_be_bytes([first_hi, first_lo]);
                let n = u16::from_be_bytes([n_hi, n_lo]);
                self.read_exact(usize::from(n) * 6)?;
                Ok(ServerMsg::Colours)
            }
            2 => Ok(ServerMsg::Bell),
            3 => {
                self.read_exact(3)?;
                let len = self.read_u32()?;
                ensure!(len <= MAX_CUT_TEXT, "server cut text of {len} bytes");
                self.read_exact(usize::try_from(len)?)?;
                Ok(ServerMsg::CutText(len))
            }
            t => bail!("unknown server message type {t}"),
        }
    }

    fn read_update_body(&mut self) -> Result<ServerMsg> {
        self.read_u8()?;
        let rects = self.read_u16()?;
        let mut pixels = 0u64;
        let mut resized = false;
        for _ in 0..rects {
            let [x, y, w, h] = [
                self.read_u16()?,
                self.read_u16()?,
                self.read_u16()?,
                self.read_u16()?,
            ];
            let encoding = i32::from_be_bytes(self.read_array()?);
            match encoding {
                ENC_RAW => {
                    ensure!(
                        u32::from(x) + u32::from(w) <= u32::from(self.width)
                            && u32::from(y) + u32::from(h) <= u32::from(self.height),
                        "raw rectangle {w}x{h}+{x}+{y} outside the {}x{} framebuffer",
                        self.width,
                        self.height
                    );
                    let bytes = self.format.bytes();
                    for row in 0..h {
                        let data = self.read_exact(usize::from(w) * bytes)?;
                        let start = usize::from(y + row) * usize::from(self.width) + usize::from(x);
                        for (i, px) in data.chunks_exact(bytes).enumerate() {
                            self.fb[start + i] = self.format.decode(px);
                        }
                    }
                    pixels += u64::from(w) * u64::from(h);
                }
                ENC_DESKTOP_SIZE => {
                    self.resize(w, h)?;
                    resized = true;
                }
                other => bail!("server used encoding {other}, which was not asked for"),
            }
        }
        Ok(ServerMsg::Update {
            rects,
            pixels,
            resized,
        })
    }

    /// Reads messages until a FramebufferUpdate arrives (within `timeout`).
    pub fn read_until_update(&mut self, timeout: Duration) -> Result<ServerMsg> {
        let deadline = Instant::now() + timeout;
        self.conn.set_read_timeout(Some(timeout))?;
        let result = loop {
            let msg = self.read_message();
            match msg {
                Ok(m @ ServerMsg::Update { .. }) => break Ok(m),
                Ok(_) if Instant::now() < deadline => {}
                Ok(_) => break Err(anyhow::anyhow!("no FramebufferUpdate within {timeout:?}")),
                Err(e) => break Err(e),
            }
        };
        self.conn.set_read_timeout(Some(READ_TIMEOUT))?;
        result
    }

    /// Asks for a full update and reads it (again after a DesktopSize change, up to a few
    /// times); returns the picture.
    pub fn refresh(&mut self) -> Result<Image> {
        for _ in 0..4 {
            self.request(false, 0, 0, self.width, self.height)?;
            let deadline = Instant::now() + READ_TIMEOUT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                ensure!(!left.is_zero(), "no full update within {READ_TIMEOUT:?}");
                if let ServerMsg::Update {
                    pixels, resized, ..
                } = self.read_until_update(left)?
                {
                    if resized {
                        break;
                    }
                    if pixels >= u64::from(self.width) * u64::from(self.height) {
                        return self.image();
                    }
                }
            }
        }
        bail!("the framebuffer size kept changing")
    }

    /// The framebuffer as an RGB image.
    pub fn image(&self) -> Result<Image> {
        let mut image = Image::black(u32::from(self.width), u32::from(self.height))?;
        for (dst, &p) in image.rgb.chunks_exact_mut(3).zip(&self.fb) {
            dst.copy_from_slice(&self.format.to_rgb(p));
        }
        Ok(image)
    }

    /// Drains whatever the server sends until it closes the connection (true) or `wait`
    /// passes with the connection still open (false).
    pub fn closed_within(&mut self, wait: Duration) -> Result<bool> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 65536];
        loop {
            let now = Instant::now();
            if now >= deadline {
                self.conn.set_read_timeout(Some(READ_TIMEOUT))?;
                return Ok(false);
            }
            self.conn.set_read_timeout(Some(deadline - now))?;
            match self.conn.read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.conn.set_read_timeout(Some(READ_TIMEOUT))?;
                    return Ok(false);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset
                            | ErrorKind::ConnectionAborted
                            | ErrorKind::BrokenPipe
                    ) =>
                {
                    return Ok(true);
                }
                Err(e) => return Err(e).context("reading from the server"),
            }
        }
    }

    /// Half-closes the connection (no more bytes from this client).
    pub fn shutdown_write(&self) -> Result<()> {
        self.conn
            .shutdown_write()
            .context("shutting down the write side")
    }
}

/// A SetPixelFormat message: true colour, little endian, 8-bit channels at the given shifts
/// (any `bpp`, including invalid ones, for malformed-input tests).
pub fn set_pixel_format_msg(
    bpp: u8,
    depth: u8,
    red_shift: u8,
    green_shift: u8,
    blue_shift: u8,
) -> Vec<u8> {
    PixelFormat {
        bpp,
        depth,
        big_endian: false,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift,
        green_shift,
        blue_shift,
    }
    .message()
}

/// A FramebufferUpdateRequest message.
pub fn fbur_msg(incremental: bool, x: u16, y: u16, w: u16, h: u16) -> Vec<u8> {
    let mut msg = vec![3, u8::from(incremental)];
    for v in [x, y, w, h] {
        msg.extend_from_slice(&v.to_be_bytes());
    }
    msg
}

/// X11 keysyms for printable ASCII (the keysym equals the code point) and newline (Return).
pub fn keysyms_for(text: &str) -> Vec<u32> {
    text.chars()
        .map(|c| match c {
            '\n' => 0xff0d,
            c => u32::from(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layouts() {
        let pf = set_pixel_format_msg(32, 24, 16, 8, 0);
        assert_eq!(pf.len(), 20);
        assert_eq!(&pf[4..8], &[32, 24, 0, 1]);
        assert_eq!(&pf[14..17], &[16, 8, 0]);
        assert_eq!(
            fbur_msg(true, 1, 2, 3, 4),
            vec![3, 1, 0, 1, 0, 2, 0, 3, 0, 4]
        );
        assert_eq!(keysyms_for("a\n"), vec![0x61, 0xff0d]);
        assert_eq!(PixelFormat::XRGB32.message(), pf);
    }

    #[test]
    fn pixel_formats_decode() {
        let pf = PixelFormat::XRGB32;
        assert_eq!(pf.decode(&[0x01, 0x80, 0xff, 0x00]), 0x00ff_8001);
        assert_eq!(pf.to_rgb(0x00ff_8001), [0xff, 0x80, 0x01]);
        let p = PixelFormat::RGB565;
        let white = p.from_rgb([255, 255, 255]);
        assert_eq!(white, 0xffff);
        assert_eq!(p.to_rgb(white), [255, 255, 255]);
        assert_eq!(p.decode(&[0x1f, 0x00]), 0x001f);
        assert_eq!(p.to_rgb(0x001f), [0, 0, 255]);
        let be = PixelFormat {
            big_endian: true,
            ..p
        };
        assert_eq!(be.decode(&[0x1f, 0x00]), 0x1f00);
    }
}
