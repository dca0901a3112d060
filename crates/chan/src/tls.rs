//! Non-blocking server-side TLS over any non-blocking byte stream (QEMU's
//! `io/channel-tls.c` role), built on OpenSSL.
//!
//! # Reading (edge-triggered loops)
//! Read until `WouldBlock`, and then keep reading while
//! [`TlsStream::pending_plaintext`] is true: OpenSSL decrypts whole records, so a
//! short read can leave plaintext inside OpenSSL after the socket is empty, and no
//! new readiness edge will announce it. `WouldBlock` from `read` may mean OpenSSL
//! needs to *write* (TLS 1.3 key update, renegotiation); keep both READABLE and
//! WRITABLE registered and retry on either, or look at [`TlsStream::wants_write`].
//!
//! # Writing
//! OpenSSL insists that a write interrupted by `WANT_WRITE` is retried with the same
//! buffer (unless the context set `SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER`, which the
//! `Ssl` handed to us may not have). [`TlsStream`] therefore copies at most
//! [`TLS_WRITE_CHUNK`] bytes (one record) into a staging buffer it owns and hands
//! OpenSSL that. `write` returns `Ok(n)` once the `n` bytes are staged, even if the
//! record is still on its way; `WouldBlock` means nothing was taken. A staged record
//! is pushed on by the next `write` or by `flush`: call `flush` on writable events
//! while [`TlsStream::has_pending_write`] is true. The caller's out-queue never has
//! to keep a buffer still, and works with or without the partial-write modes.
//!
//! # Ends
//! A close_notify reads as `Ok(0)`. A TCP close without close_notify reads as an
//! `UnexpectedEof` error. A peer that aborts mid-handshake (CVE-2016-10207 class)
//! makes [`TlsStream::handshake`] return an error; a handshake that never finishes
//! is the caller's deadline to enforce.

use std::fmt;
use std::io::{self, Read, Write};

use openssl::ssl::{ErrorCode, Ssl, SslRef, SslStream};

use crate::Error;

/// Most plaintext bytes staged by one `write` call: one maximum-size TLS record.
pub const TLS_WRITE_CHUNK: usize = 16 * 1024;

/// How often an OpenSSL call that made progress without touching the socket is
/// repeated before the `WANT_*` is reported as is (a guard against spinning).
const TLS_RETRY_LIMIT: usize = 64;

/// Progress of [`TlsStream::handshake`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// The handshake is complete; application data may flow.
    Done,
    /// Call again when the stream is readable.
    WantRead,
    /// Call again when the stream is writable.
    WantWrite,
}

/// A server-side TLS session over a non-blocking stream `S`.
pub struct TlsStream<S> {
    inner: SslStream<S>,
    done: bool,
    /// Plaintext handed to `SSL_write` and not yet fully accepted by it. Its heap
    /// block is never reallocated while non-empty, so retries reuse the same buffer.
    staged: Vec<u8>,
    want_write: bool,
}

impl<S: Read + Write> TlsStream<S> {
    /// Wraps `stream` and puts `ssl` in server (accept) mode. Performs no I/O.
    ///
    /// # Errors
    /// [`Error::TlsSetup`] if OpenSSL cannot allocate the BIO.
    pub fn accept(mut ssl: Ssl, stream: S) -> Result<Self, Error> {
        ssl.set_accept_state();
        let inner = SslStream::new(ssl, stream).map_err(Error::TlsSetup)?;
        Ok(Self {
            inner,
            done: false,
            staged: Vec::new(),
            want_write: false,
        })
    }

    /// Advances the handshake as far as the stream allows.
    ///
    /// Call on readiness until it returns [`Handshake::Done`]; later calls return
    /// `Done` at once.
    ///
    /// # Errors
    /// [`Error::TlsHandshake`] for any failure, including a peer that closes or
    /// aborts mid-handshake. The session is then unusable.
    pub fn handshake(&mut self) -> Result<Handshake, Error> {
        if self.done {
            return Ok(Handshake::Done);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.inner.do_handshake() {
                Ok(()) => {
                    self.done = true;
                    self.want_write = false;
                    return Ok(Handshake::Done);
                }
                // A record was processed but the socket was not asked: try again.
                Err(e) if is_retry(&e, attempt) => {}
                Err(e) if e.code() == ErrorCode::WANT_READ => {
                    self.want_write = false;
                    return Ok(Handshake::WantRead);
                }
                Err(e) if e.code() == ErrorCode::WANT_WRITE => {
                    self.want_write = true;
                    return Ok(Handshake::WantWrite);
                }
                Err(e) => return Err(Error::TlsHandshake(e)),
            }
        }
    }

    /// Sends close_notify (after any staged record). `WouldBlock` means call again
    /// when writable. Reading after this still works until the peer's close_notify.
    ///
    /// # Errors
    /// `WouldBlock`, or the I/O or TLS failure.
    pub fn shutdown(&mut self) -> io::Result<()> {
        self.push_staged()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.inner.shutdown() {
                Ok(_) => return Ok(()),
                Err(e) if is_retry(&e, attempt) => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }

    /// Hands the staged bytes to OpenSSL until it has taken them all.
    fn push_staged(&mut self) -> io::Result<()> {
        let mut attempt = 0;
        while !self.staged.is_empty() {
            attempt += 1;
            match self.inner.ssl_write(&self.staged) {
                Ok(n) => {
                    // Partial write (SSL_MODE_ENABLE_PARTIAL_WRITE): the rest was
                    // not committed, so it may move.
                    self.staged.drain(..n.min(self.staged.len()));
                    attempt = 0;
                }
                Err(e) if is_retry(&e, attempt) => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
        self.want_write = false;
        Ok(())
    }

    /// Maps an OpenSSL data-phase error to `io::Error`, remembering the direction
    /// a `WANT_*` waits for.
    fn io_error(&mut self, e: openssl::ssl::Error) -> io::Error {
        match e.code() {
            ErrorCode::WANT_READ => {
                self.want_write = false;
                io::ErrorKind::WouldBlock.into()
            }
            ErrorCode::WANT_WRITE => {
                self.want_write = true;
                io::ErrorKind::WouldBlock.into()
            }
            ErrorCode::SYSCALL if e.io_error().is_none() => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "TLS peer closed the connection without close_notify",
            ),
            ErrorCode::SSL if is_unexpected_eof(&e) => {
                io::Error::new(io::ErrorKind::UnexpectedEof, e)
            }
            _ => e.into_io_error().unwrap_or_else(io::Error::other),
        }
    }
}

impl<S> TlsStream<S> {
    /// The OpenSSL session: peer certificate, DN, negotiated version and cipher.
    pub fn ssl(&self) -> &SslRef {
        self.inner.ssl()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }

    /// The underlying stream, e.g. to (de)register it. Reading or writing it
    /// directly corrupts the session.
    pub fn get_mut(&mut self) -> &mut S {
        self.inner.get_mut()
    }

    /// Whether [`handshake`](Self::handshake) has returned `Done`.
    pub fn is_handshake_done(&self) -> bool {
        self.done
    }

    /// OpenSSL holds decrypted bytes: read again even without a new readiness edge.
    pub fn pending_plaintext(&self) -> bool {
        self.inner.ssl().pending() > 0
    }

    /// A record accepted by `write` is still on its way: call `flush` when writable.
    pub fn has_pending_write(&self) -> bool {
        !self.staged.is_empty()
    }

    /// The last `WouldBlock` (from read, write, flush or the handshake) waits for
    /// writability rather than readability.
    pub fn wants_write(&self) -> bool {
        self.want_write
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.inner.ssl_read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => return Ok(0),
                // A non-data record (ticket, key update) was consumed; the socket
                // may hold more, and edge-triggered polling will not say so.
                Err(e) if is_retry(&e, attempt) => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.push_staged()?;
        let n = buf.len().min(TLS_WRITE_CHUNK);
        if self.staged.capacity() < TLS_WRITE_CHUNK {
            self.staged.reserve_exact(TLS_WRITE_CHUNK);
        }
        self.staged.extend_from_slice(&buf[..n]);
        match self.push_staged() {
            Ok(()) => Ok(n),
            // Staged and committed: OpenSSL finishes it on the next write/flush.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
            Err(e) => Err(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push_staged()?;
        self.inner.get_mut().flush()
    }
}

impl<S: mio::event::Source> mio::event::Source for TlsStream<S> {
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

impl<S: fmt::Debug> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("stream", self.get_ref())
            .field("handshake_done", &self.done)
            .field("staged", &self.staged.len())
            .finish_non_exhaustive()
    }
}

/// A `WANT_*` that did not come from the socket blocking: OpenSSL made progress
/// on its own and should simply be called again (up to [`TLS_RETRY_LIMIT`] times).
fn is_retry(e: &openssl::ssl::Error, attempt: usize) -> bool {
    (e.code() == ErrorCode::WANT_READ || e.code() == ErrorCode::WANT_WRITE)
        && e.io_error().is_none()
        && attempt < TLS_RETRY_LIMIT
}

/// OpenSSL 3 reports a TCP close without close_notify as an SSL error with this reason.
fn is_unexpected_eof(e: &openssl::ssl::Error) -> bool {
    e.ssl_error().is_some_and(|stack| {
        stack
            .errors()
            .iter()
            .any(|err| err.reason() == Some("unexpected eof while reading"))
    })
}
