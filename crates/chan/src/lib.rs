//! Byte channels layered the way QEMU's `io/` layers them, for Porthole's VNC
//! listeners: a plain socket, TLS over it (VeNCrypt, `wss://`), and WebSocket
//! framing on top of either (noVNC).
//!
//! Design note:
//! - [`tls::TlsStream`] is a non-blocking OpenSSL server session over any
//!   `Read + Write` stream. It never blocks: the handshake is a state machine the
//!   caller steps on readiness, and `WANT_READ`/`WANT_WRITE` surface as
//!   `WouldBlock`. It owns the plaintext staging so the caller's out-queue can
//!   move freely, and tells the caller when OpenSSL still holds decrypted bytes
//!   that an edge-triggered poll would never announce.
//! - [`ws::WsServer`] is sans-IO: bytes in, decoded payload and bytes to write
//!   out. It sits above whatever channel carries it, so `ws://` and `wss://` are
//!   the same code. Every peer-controlled length is bounded before allocation
//!   (CVE-2015-1779): the declared frame length is only a counter.
//! - [`Channel`] is the glue the connection handler holds: plain or TLS, with
//!   `Read`/`Write` and mio registration either way.
//!
//! Nothing here spawns threads, keeps timers or logs secrets; deadlines and
//! throttling (CVE-2017-15268) belong to the caller, which gets the numbers it
//! needs ([`ws::WsServer::output_len`], [`tls::TlsStream::has_pending_write`]).
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};

mod error;
pub mod tls;
pub mod ws;

pub use error::Error;

/// A connection's byte stream: the plain socket, or TLS over it.
#[derive(Debug)]
pub enum Channel<S> {
    /// No TLS.
    Plain(S),
    /// TLS (boxed: the OpenSSL session is much bigger than a socket).
    Tls(Box<tls::TlsStream<S>>),
}

impl<S> Channel<S> {
    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        match self {
            Self::Plain(s) => s,
            Self::Tls(t) => t.get_ref(),
        }
    }

    /// The underlying stream (for registration; do not read or write it under TLS).
    pub fn get_mut(&mut self) -> &mut S {
        match self {
            Self::Plain(s) => s,
            Self::Tls(t) => t.get_mut(),
        }
    }

    /// The TLS session, if any (peer certificate, DN).
    pub fn tls(&self) -> Option<&tls::TlsStream<S>> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(t) => Some(t),
        }
    }

    /// Decrypted bytes wait inside OpenSSL: read again without waiting for an edge.
    pub fn pending_plaintext(&self) -> bool {
        match self {
            Self::Plain(_) => false,
            Self::Tls(t) => t.pending_plaintext(),
        }
    }

    /// Bytes accepted by `write` still wait to reach the stream: `flush` when writable.
    pub fn has_pending_write(&self) -> bool {
        match self {
            Self::Plain(_) => false,
            Self::Tls(t) => t.has_pending_write(),
        }
    }
}

impl<S: Read + Write> Read for Channel<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(t) => t.read(buf),
        }
    }
}

impl<S: Read + Write> Write for Channel<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(t) => t.flush(),
        }
    }
}

impl<S: mio::event::Source> mio::event::Source for Channel<S> {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.get_mut().register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.get_mut().reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        self.get_mut().deregister(registry)
    }
}
