//! Sans-IO WebSocket server (RFC 6455) carrying RFB, as QEMU's `io/channel-websock.c`.
//!
//! [`WsServer`] never touches a socket. The caller feeds it what it read
//! ([`WsServer::feed`]), takes the decoded application bytes
//! ([`WsServer::read_payload`]), frames its own bytes with [`WsServer::send`] and
//! writes whatever [`WsServer::take_output`] (or [`WsServer::output`] +
//! [`WsServer::consume_output`]) hands back.
//!
//! # Limits (CVE-2015-1779, CVE-2017-18922)
//! - The HTTP request, terminator included, must fit in [`WS_MAX_HANDSHAKE_BYTES`]
//!   and carry at most [`WS_MAX_HEADER_LINES`] header lines. Only that many bytes are
//!   ever copied, however much is fed.
//! - Frame headers are collected in a 14-byte array and control payloads in a
//!   125-byte array. Data payloads are unmasked as they arrive and appended to the
//!   decoded buffer; the declared length (up to 2^63 - 1) is only a counter and is
//!   never used to allocate.
//! - The decoded buffer is bounded by [`WS_MAX_PENDING_PAYLOAD`]: the caller must
//!   drain it with `read_payload` between feeds.
//! - Pongs are queued at once while less than [`WS_PONG_BACKLOG`] bytes of output
//!   wait; beyond that only the latest one is kept (RFC 6455 §5.5.3 allows this), so
//!   a ping flood from a client that does not read cannot grow the output.
//! - Output the caller does not drain is the caller's to throttle through
//!   [`WsServer::output_len`] (CVE-2017-15268).
//!
//! # HTTP answers
//! - `101 Switching Protocols` with `Sec-WebSocket-Accept`, and
//!   `Sec-WebSocket-Protocol: binary` when the client offered `binary`.
//! - `431 Request Header Fields Too Large` for an over-long header block or too many
//!   header lines (RFC 6585). QEMU sends the non-standard `403 Request Entity Too
//!   Large` for the first and `400` for the second; 431 names the actual problem.
//! - `405 Method Not Allowed` (with `Allow: GET`) for a method other than GET.
//! - `403 Forbidden` for an `Origin` outside [`WsConfig::allowed_origins`]. With an
//!   allowlist, a request without `Origin` is refused too.
//! - `400 Bad Request` for everything else (missing `Host`, `Upgrade`, `Connection`,
//!   bad key, no `binary` subprotocol when required); a bad version also carries
//!   `Sec-WebSocket-Version: 13` (RFC 6455 §4.4).
//!
//! Every refusal has a short plain-text body and `Connection: close`. Unlike QEMU,
//! any origin-form request target (`/`, `/websockify`, ...) is accepted: noVNC's
//! default path is `websockify`.
//!
//! # Frames
//! Client frames must be masked (else close 1002). Only binary data is accepted; a
//! text frame gets close 1003 as QEMU refuses text. Binary messages may be
//! fragmented; control frames may sit between the fragments. Ping gets a pong with
//! the same payload, pong is ignored, and close is answered with a close echoing the
//! status code, after which [`WsServer::close_reason`] is set and further input is
//! ignored. Reserved bits or opcodes, fragmented or long control frames, and a
//! 64-bit length with the high bit set get close 1002 and an error.

use std::fmt::Write as _;

use crate::Error;

/// Largest HTTP handshake request accepted, the terminating blank line included (QEMU: 4096).
pub const WS_MAX_HANDSHAKE_BYTES: usize = 4096;
/// Largest number of header lines after the request line (QEMU: 32).
pub const WS_MAX_HEADER_LINES: usize = 32;
/// Largest payload of one outgoing frame; [`WsServer::send`] splits bigger writes.
pub const WS_MAX_FRAME: usize = 65535;
/// Largest amount of decoded payload held between two [`WsServer::read_payload`] calls.
pub const WS_MAX_PENDING_PAYLOAD: usize = 1 << 20;
/// Largest payload of a control frame (RFC 6455 §5.5).
pub const WS_MAX_CONTROL_PAYLOAD: usize = 125;
/// Upper bound of [`WsServer::buffered_input_len`]: the larger of the handshake and
/// payload limits (never both at once) plus a frame header and a control payload.
pub const WS_MAX_BUFFERED_INPUT: usize = if WS_MAX_HANDSHAKE_BYTES > WS_MAX_PENDING_PAYLOAD {
    WS_MAX_HANDSHAKE_BYTES
} else {
    WS_MAX_PENDING_PAYLOAD
} + MAX_FRAME_HEADER
    + WS_MAX_CONTROL_PAYLOAD;
/// Output size above which a pong waits (only the latest is kept) instead of being queued.
pub const WS_PONG_BACKLOG: usize = 64 * 1024;

/// The GUID RFC 6455 §1.3 appends to the client key.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Length of a `Sec-WebSocket-Key`: base64 of 16 bytes.
const WS_KEY_LEN: usize = 24;
/// Longest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of mask.
const MAX_FRAME_HEADER: usize = 14;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Close status codes this server sends (RFC 6455 §7.4.1).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// Protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Data type the endpoint cannot accept (text).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Payload inconsistent with the message type (close reason not UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Message too big to process.
    pub const TOO_BIG: u16 = 1009;
}

/// Policy for a WebSocket listener.
#[derive(Debug, Clone, Default)]
pub struct WsConfig {
    /// Porthole's `websocket-origin=` allowlist, compared ASCII-case-insensitively
    /// with the whole `Origin` value (e.g. `https://console.example:8443`).
    /// `None` accepts any origin, or none.
    pub allowed_origins: Option<Vec<String>>,
    /// Refuse clients that do not offer the `binary` subprotocol (QEMU does).
    pub require_binary_protocol: bool,
}

/// Why the WebSocket is closed, once it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The HTTP upgrade was refused with this status; the reply is in the output.
    HandshakeRefused {
        /// HTTP status code sent.
        status: u16,
    },
    /// The client sent a close frame; a close reply is in the output.
    Peer {
        /// The client's status code, if its close frame had one.
        code: Option<u16>,
    },
    /// This side closed, after a protocol violation or [`WsServer::close`].
    Local {
        /// The status code sent in our close frame.
        code: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Handshake,
    Open,
    Closed,
}

/// The frame whose payload is streaming in.
#[derive(Debug, Clone, Copy)]
struct Frame {
    opcode: u8,
    mask: [u8; 4],
    /// Payload bytes still to come.
    remaining: u64,
    /// Index into `mask` for the next payload byte.
    mask_pos: usize,
}

/// A WebSocket server connection: handshake, then frame decoding and encoding.
#[derive(Debug)]
pub struct WsServer {
    cfg: WsConfig,
    state: State,
    failed: bool,
    close: Option<CloseReason>,
    /// Handshake request bytes; capacity is reserved once at [`WS_MAX_HANDSHAKE_BYTES`].
    request: Vec<u8>,
    /// Frames produced by `send` before the handshake finished.
    deferred: Vec<u8>,
    output: Vec<u8>,
    /// The latest unanswered ping's payload, while the output is over [`WS_PONG_BACKLOG`].
    pong: Option<([u8; WS_MAX_CONTROL_PAYLOAD], usize)>,
    payload: Vec<u8>,
    header: [u8; MAX_FRAME_HEADER],
    header_len: usize,
    frame: Option<Frame>,
    control: [u8; WS_MAX_CONTROL_PAYLOAD],
    control_len: usize,
    /// A fragmented binary message is in progress.
    in_message: bool,
}

impl WsServer {
    /// A connection waiting for the client's HTTP upgrade request.
    #[must_use]
    pub fn new(cfg: WsConfig) -> Self {
        Self {
            cfg,
            state: State::Handshake,
            failed: false,
            close: None,
            request: Vec::with_capacity(WS_MAX_HANDSHAKE_BYTES),
            deferred: Vec::new(),
            output: Vec::new(),
            pong: None,
            payload: Vec::new(),
            header: [0; MAX_FRAME_HEADER],
            header_len: 0,
            frame: None,
            control: [0; WS_MAX_CONTROL_PAYLOAD],
            control_len: 0,
            in_message: false,
        }
    }

    /// Feeds bytes read from the client: the HTTP request first, then frames.
    ///
    /// After a client close frame, [`close_reason`](Self::close_reason) is set and
    /// later input is ignored (`Ok`). On an error the reply (HTTP refusal or close
    /// frame) is already in the output: write it, then drop the connection.
    ///
    /// # Errors
    /// A refused handshake (`Ws*` handshake variants), a protocol violation in a
    /// frame, [`Error::WsPayloadBacklog`] if `read_payload` was not called often
    /// enough, and [`Error::WsFailed`] on every call after a failure.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Error> {
        if self.failed {
            return Err(Error::WsFailed);
        }
        match self.state {
            State::Closed => Ok(()),
            State::Open => self.feed_frames_or_fail(input),
            State::Handshake => {
                let room = WS_MAX_HANDSHAKE_BYTES - self.request.len();
                let take = room.min(input.len());
                let search_from = self.request.len().saturating_sub(3);
                self.request.extend_from_slice(&input[..take]);
                let Some(pos) = find(&self.request[search_from..], b"\r\n\r\n") else {
                    if self.request.len() >= WS_MAX_HANDSHAKE_BYTES {
                        return Err(self.refuse(Error::WsHeadersTooLarge));
                    }
                    return Ok(());
                };
                let end = search_from + pos + 4;
                let early = self.request.split_off(end);
                let request = std::mem::take(&mut self.request);
                match self.check_request(&request[..end - 4]) {
                    Ok(reply) => {
                        self.output.extend_from_slice(reply.as_bytes());
                        self.output.append(&mut self.deferred);
                        self.deferred = Vec::new();
                        self.state = State::Open;
                        log::debug!("WebSocket handshake done");
                    }
                    Err(e) => return Err(self.refuse(e)),
                }
                // Frames may follow the request in the same read.
                self.feed_frames_or_fail(&early)?;
                self.feed_frames_or_fail(&input[take..])
            }
        }
    }

    /// Appends the decoded application data (binary message payloads) to `buf`.
    pub fn read_payload(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.payload);
        } else {
            buf.append(&mut self.payload);
        }
    }

    /// Number of decoded payload bytes waiting for [`read_payload`](Self::read_payload).
    #[must_use]
    pub fn pending_payload(&self) -> usize {
        self.payload.len()
    }

    /// Input bytes held inside: a partial request, a partial frame header or
    /// control payload, and decoded payload not yet read. At most
    /// [`WS_MAX_BUFFERED_INPUT`].
    #[must_use]
    pub fn buffered_input_len(&self) -> usize {
        self.request.len() + self.header_len + self.control_len + self.payload.len()
    }

    /// Frames `payload` as binary frames of at most [`WS_MAX_FRAME`] bytes each.
    ///
    /// Before the handshake is done the frames wait and follow the `101` reply;
    /// after a close they are dropped.
    pub fn send(&mut self, payload: &[u8]) {
        let out = match self.state {
            State::Open => &mut self.output,
            State::Handshake => &mut self.deferred,
            _ => {
                log::debug!("WebSocket closed: dropping {} bytes", payload.len());
                return;
            }
        };
        for chunk in payload.chunks(WS_MAX_FRAME) {
            write_frame(out, OP_BINARY, chunk);
        }
    }

    /// Starts a server-side close with `code` (e.g. [`close_code::NORMAL`]).
    ///
    /// The close frame goes after any queued output; later input is ignored. Before
    /// the handshake is done this only marks the connection closed.
    pub fn close(&mut self, code: u16) {
        if self.state == State::Open {
            self.flush_pong();
            write_frame(&mut self.output, OP_CLOSE, &code.to_be_bytes());
        }
        if self.state != State::Closed {
            self.request = Vec::new();
            self.deferred = Vec::new();
            self.state = State::Closed;
            self.close = Some(CloseReason::Local { code });
        }
    }

    /// Takes every byte queued for the client.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.output);
        if let Some((buf, len)) = self.pong.take() {
            write_frame(&mut out, OP_PONG, &buf[..len]);
        }
        out
    }

    /// The bytes queued for the client (see [`consume_output`](Self::consume_output)).
    ///
    /// A pong held back by [`WS_PONG_BACKLOG`] joins once the output drains.
    #[must_use]
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Drops the first `n` bytes of [`output`](Self::output), which the caller wrote.
    pub fn consume_output(&mut self, n: usize) {
        self.output.drain(..n.min(self.output.len()));
        if self.output.len() < WS_PONG_BACKLOG {
            self.flush_pong();
        }
    }

    /// Bytes waiting to be written, for the caller's throttling (CVE-2017-15268).
    #[must_use]
    pub fn output_len(&self) -> usize {
        let pong = self.pong.map_or(0, |(_, len)| 2 + len);
        self.output.len() + self.deferred.len() + pong
    }

    /// Whether the handshake is done and the connection not closed.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Why the connection closed, or `None` while it is still usable.
    #[must_use]
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.close
    }

    /// Queues the HTTP refusal for `err` and marks the connection failed.
    fn refuse(&mut self, err: Error) -> Error {
        let (status, extra) = match &err {
            Error::WsHeadersTooLarge | Error::WsTooManyHeaders => (431, ""),
            Error::WsBadMethod => (405, "Allow: GET\r\n"),
            Error::WsOriginRejected(_) => (403, ""),
            Error::WsBadVersion => (400, "Sec-WebSocket-Version: 13\r\n"),
            _ => (400, ""),
        };
        let body = format!("{err}\n");
        let mut reply = String::new();
        // Writing into a String cannot fail.
        let _ = write!(
            reply,
            "HTTP/1.1 {status} {}\r\nConnection: close\r\n{extra}\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            reason_phrase(status),
            body.len()
        );
        self.output.extend_from_slice(reply.as_bytes());
        self.request = Vec::new();
        self.deferred = Vec::new();
        self.state = State::Closed;
        self.failed = true;
        self.close = Some(CloseReason::HandshakeRefused { status });
        log::debug!("WebSocket handshake refused with {status}: {err}");
        err
    }

    /// Validates the request (without its final blank line) and builds the 101 reply.
    fn check_request(&self, block: &[u8]) -> Result<String, Error> {
        if crlf_lines(block).count() - 1 > WS_MAX_HEADER_LINES {
            return Err(Error::WsTooManyHeaders);
        }
        let mut lines = crlf_lines(block);
        let request_line = lines.next().unwrap_or(Ok(&[]))?;
        let mut parts = request_line.split(|&b| b == b' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::WsBadRequest(
                "request line is not 'METHOD TARGET VERSION'",
            ));
        };
        if method != b"GET" {
            return Err(Error::WsBadMethod);
        }
        if target.first() != Some(&b'/') {
            return Err(Error::WsBadRequest(
                "request target is not an absolute path",
            ));
        }
        if version != b"HTTP/1.1" {
            return Err(Error::WsBadRequest("HTTP version is not 1.1"));
        }

        let mut h = Headers::default();
        for line in lines {
            let line = line?;
            if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                return Err(Error::WsBadRequest("folded header line"));
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return Err(Error::WsBadRequest("header line without ':'"));
            };
            let name = &line[..colon];
            if name.is_empty() || !name.iter().all(|&b| is_token_char(b)) {
                return Err(Error::WsBadRequest("invalid header name"));
            }
            let value = trim_ows(&line[colon + 1..]);
            h.add(name, value)?;
        }

        if h.host.is_none() {
            return Err(Error::WsBadRequest("missing or repeated Host header"));
        }
        if !h.upgrade_websocket {
            return Err(Error::WsBadRequest(
                "Upgrade header does not name websocket",
            ));
        }
        if !h.connection_upgrade {
            return Err(Error::WsBadRequest(
                "Connection header does not name Upgrade",
            ));
        }
        if h.version.is_none_or(|v| v != b"13") {
            return Err(Error::WsBadVersion);
        }
        let key = h.key.filter(|k| valid_key(k)).ok_or(Error::WsBadKey)?;
        if let Some(allowed) = &self.cfg.allowed_origins {
            let origin = String::from_utf8_lossy(h.origin.unwrap_or_default());
            if origin.is_empty() || !allowed.iter().any(|a| a.eq_ignore_ascii_case(&origin)) {
                return Err(Error::WsOriginRejected(origin.into_owned()));
            }
        }
        if self.cfg.require_binary_protocol && !h.binary_offered {
            return Err(Error::WsNoBinaryProtocol);
        }

        let mut reply = String::from(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        );
        let _ = write!(reply, "Sec-WebSocket-Accept: {}\r\n", accept_key(key));
        if h.binary_offered {
            reply.push_str("Sec-WebSocket-Protocol: binary\r\n");
        }
        reply.push_str("\r\n");
        Ok(reply)
    }

    fn feed_frames_or_fail(&mut self, input: &[u8]) -> Result<(), Error> {
        let res = self.feed_frames(input);
        if let Err(err) = &res {
            let code = match err {
                Error::WsTextFrame => close_code::UNSUPPORTED_DATA,
                Error::WsCloseReasonNotUtf8 => close_code::INVALID_PAYLOAD,
                Error::WsPayloadBacklog => close_code::TOO_BIG,
                _ => close_code::PROTOCOL_ERROR,
            };
            log::debug!("WebSocket closing with {code}: {err}");
            self.close(code);
            self.failed = true;
        }
        res
    }

    fn feed_frames(&mut self, mut input: &[u8]) -> Result<(), Error> {
        while !input.is_empty() && self.state == State::Open {
            let Some(mut frame) = self.frame else {
                input = self.feed_header(input)?;
                continue;
            };
            let n = usize::try_from(frame.remaining).map_or(input.len(), |r| r.min(input.len()));
            let (chunk, rest) = input.split_at(n);
            input = rest;
            let dst: &mut [u8] = if frame.opcode & 0x8 == 0 {
                if self.payload.len() + n > WS_MAX_PENDING_PAYLOAD {
                    return Err(Error::WsPayloadBacklog);
                }
                let start = self.payload.len();
                self.payload.extend_from_slice(chunk);
                &mut self.payload[start..]
            } else {
                // Control payloads are at most 125 bytes (checked in the header).
                let start = self.control_len;
                self.control[start..start + n].copy_from_slice(chunk);
                self.control_len += n;
                &mut self.control[start..start + n]
            };
            for b in dst.iter_mut() {
                *b ^= frame.mask[frame.mask_pos];
                frame.mask_pos = (frame.mask_pos + 1) % 4;
            }
            // n <= remaining, so this cannot underflow.
            frame.remaining -= u64::try_from(n).unwrap_or(frame.remaining);
            self.frame = Some(frame);
            if frame.remaining == 0 {
                self.finish_frame(frame.opcode)?;
            }
        }
        Ok(())
    }

    /// Collects frame header bytes; returns the unconsumed input.
    fn feed_header<'a>(&mut self, input: &'a [u8]) -> Result<&'a [u8], Error> {
        let mut need = if self.header_len < 2 {
            2
        } else {
            self.header_size()
        };
        let take = (need - self.header_len).min(input.len());
        self.header[self.header_len..self.header_len + take].copy_from_slice(&input[..take]);
        self.header_len += take;
        let mut rest = &input[take..];
        if self.header_len == 2 {
            self.check_first_two()?;
            need = self.header_size();
            let take = (need - 2).min(rest.len());
            self.header[2..2 + take].copy_from_slice(&rest[..take]);
            self.header_len += take;
            rest = &rest[take..];
        }
        if self.header_len < need {
            return Ok(rest);
        }
        let h = &self.header;
        let (len, mask_at) = match h[1] & 0x7f {
            126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), 4),
            127 => {
                let mut b = [0; 8];
                b.copy_from_slice(&h[2..10]);
                let len = u64::from_be_bytes(b);
                if len >> 63 != 0 {
                    return Err(Error::WsBadLength);
                }
                (len, 10)
            }
            l => (u64::from(l), 2),
        };
        let mut mask = [0; 4];
        mask.copy_from_slice(&h[mask_at..mask_at + 4]);
        let opcode = h[0] & 0x0f;
        self.header_len = 0;
        self.control_len = 0;
        self.frame = Some(Frame {
            opcode,
            mask,
            remaining: len,
            mask_pos: 0,
        });
        if len == 0 {
            self.finish_frame(opcode)?;
        }
        Ok(rest)
    }

    /// Header size implied by the second byte (mask always present, checked first).
    fn header_size(&self) -> usize {
        match self.header[1] & 0x7f {
            126 => 2 + 2 + 4,
            127 => 2 + 8 + 4,
            _ => 2 + 4,
        }
    }

    /// Validates the fixed part of a frame header as soon as it is complete.
    fn check_first_two(&mut self) -> Result<(), Error> {
        let [b0, b1] = [self.header[0], self.header[1]];
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0f;
        if b0 & 0x70 != 0 {
            return Err(Error::WsReservedBits);
        }
        match opcode {
            OP_CONTINUATION => {
                if !self.in_message {
                    return Err(Error::WsBadContinuation);
                }
                self.in_message = !fin;
            }
            OP_BINARY => {
                if self.in_message {
                    return Err(Error::WsBadContinuation);
                }
                self.in_message = !fin;
            }
            OP_TEXT => return Err(Error::WsTextFrame),
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin || usize::from(b1 & 0x7f) > WS_MAX_CONTROL_PAYLOAD {
                    return Err(Error::WsBadControlFrame);
                }
            }
            other => return Err(Error::WsBadOpcode(other)),
        }
        if b1 & 0x80 == 0 {
            return Err(Error::WsUnmasked);
        }
        Ok(())
    }

    fn finish_frame(&mut self, opcode: u8) -> Result<(), Error> {
        self.frame = None;
        let payload = &self.control[..self.control_len];
        match opcode {
            OP_PING => {
                let mut buf = [0; WS_MAX_CONTROL_PAYLOAD];
                buf[..payload.len()].copy_from_slice(payload);
                self.pong = Some((buf, payload.len()));
                if self.output.len() < WS_PONG_BACKLOG {
                    self.flush_pong();
                }
            }
            OP_CLOSE => {
                let code = match payload {
                    [] => None,
                    [_] => return Err(Error::WsBadClose),
                    [hi, lo, reason @ ..] => {
                        let code = u16::from_be_bytes([*hi, *lo]);
                        if !valid_close_code(code) {
                            return Err(Error::WsBadClose);
                        }
                        if std::str::from_utf8(reason).is_err() {
                            return Err(Error::WsCloseReasonNotUtf8);
                        }
                        Some(code)
                    }
                };
                self.flush_pong();
                let echo = code.map(u16::to_be_bytes);
                write_frame(
                    &mut self.output,
                    OP_CLOSE,
                    echo.as_ref().map_or(&[], |c| &c[..]),
                );
                self.state = State::Closed;
                self.close = Some(CloseReason::Peer { code });
                log::debug!("WebSocket client closed with {code:?}");
            }
            // Pongs and data frames need nothing more.
            _ => {}
        }
        Ok(())
    }

    fn flush_pong(&mut self) {
        if let Some((buf, len)) = self.pong.take() {
            write_frame(&mut self.output, OP_PONG, &buf[..len]);
        }
    }
}

/// The handshake headers the server looks at.
#[derive(Default)]
struct Headers<'a> {
    host: Option<&'a [u8]>,
    key: Option<&'a [u8]>,
    version: Option<&'a [u8]>,
    origin: Option<&'a [u8]>,
    upgrade_websocket: bool,
    connection_upgrade: bool,
    binary_offered: bool,
}

impl<'a> Headers<'a> {
    fn add(&mut self, name: &[u8], value: &'a [u8]) -> Result<(), Error> {
        let lower = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        if lower("host") {
            set_once(
                &mut self.host,
                value,
                Error::WsBadRequest("repeated Host header"),
            )?;
        } else if lower("sec-websocket-key") {
            set_once(&mut self.key, value, Error::WsBadKey)?;
        } else if lower("sec-websocket-version") {
            set_once(&mut self.version, value, Error::WsBadVersion)?;
        } else if lower("origin") {
            set_once(
                &mut self.origin,
                value,
                Error::WsBadRequest("repeated Origin header"),
            )?;
        } else if lower("upgrade") {
            self.upgrade_websocket |= tokens(value).any(|t| t.eq_ignore_ascii_case(b"websocket"));
        } else if lower("connection") {
            self.connection_upgrade |= tokens(value).any(|t| t.eq_ignore_ascii_case(b"upgrade"));
        } else if lower("sec-websocket-protocol") {
            // Subprotocol names are case-sensitive (RFC 6455 §4.1).
            self.binary_offered |= tokens(value).any(|t| t == b"binary");
        }
        Ok(())
    }
}

fn set_once<'a>(slot: &mut Option<&'a [u8]>, value: &'a [u8], dup: Error) -> Result<(), Error> {
    if slot.is_some() {
        return Err(dup);
    }
    *slot = Some(value);
    Ok(())
}

/// Comma-separated list elements with optional whitespace trimmed, empties skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|t| !t.is_empty())
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Splits the request block on CRLF; a bare CR or LF inside a line is refused.
fn crlf_lines(block: &[u8]) -> impl Iterator<Item = Result<&[u8], Error>> {
    let mut rest = Some(block);
    std::iter::from_fn(move || {
        let r = rest?;
        let line = match find(r, b"\r\n") {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                &r[..i]
            }
            None => {
                rest = None;
                r
            }
        };
        if line.iter().any(|&b| b == b'\r' || b == b'\n') {
            Some(Err(Error::WsBadRequest("bare CR or LF in request")))
        } else {
            Some(Ok(line))
        }
    })
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// 24 characters: 22 of the base64 alphabet, then `==` (16 bytes encoded).
fn valid_key(key: &[u8]) -> bool {
    key.len() == WS_KEY_LEN
        && key[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        && &key[22..] == b"=="
}

/// `Sec-WebSocket-Accept` for a client key: base64(SHA-1(key ++ GUID)).
#[must_use]
pub fn accept_key(key: &[u8]) -> String {
    let mut hasher = openssl::sha::Sha1::new();
    hasher.update(key);
    hasher.update(WS_GUID.as_bytes());
    openssl::base64::encode_block(&hasher.finish())
}

/// Status codes a peer may put in a close frame (RFC 6455 §7.4, IANA registry).
fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// Appends one unmasked server frame with FIN set.
fn write_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if let Ok(short) = u8::try_from(len)
        && usize::from(short) <= WS_MAX_CONTROL_PAYLOAD
    {
        out.push(short);
    } else if let Ok(medium) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&medium.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&u64::try_from(len).unwrap_or(u64::MAX).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests;
