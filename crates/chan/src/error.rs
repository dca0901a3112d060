//! The crate's single error type.

use crate::ws::{WS_MAX_HANDSHAKE_BYTES, WS_MAX_HEADER_LINES, WS_MAX_PENDING_PAYLOAD};

/// Everything that can go wrong in this crate.
///
/// TLS data-phase errors surface as [`std::io::Error`] from the `Read`/`Write` impls;
/// this enum covers session setup, the TLS handshake and the WebSocket layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// OpenSSL could not attach the session to the stream (BIO allocation).
    #[error("cannot attach the TLS session to the stream")]
    TlsSetup(#[source] openssl::error::ErrorStack),
    /// The TLS handshake failed: bad ClientHello, no shared cipher, the peer
    /// aborted or closed mid-handshake, or the socket failed.
    #[error("TLS handshake failed")]
    TlsHandshake(#[source] openssl::ssl::Error),

    /// The HTTP header block did not end within [`WS_MAX_HANDSHAKE_BYTES`] bytes.
    #[error("WebSocket handshake request is longer than {WS_MAX_HANDSHAKE_BYTES} bytes")]
    WsHeadersTooLarge,
    /// The request carried more than [`WS_MAX_HEADER_LINES`] header lines.
    #[error("WebSocket handshake request has more than {WS_MAX_HEADER_LINES} header lines")]
    WsTooManyHeaders,
    /// The request is not a well-formed HTTP/1.1 WebSocket upgrade.
    #[error("malformed WebSocket handshake request: {0}")]
    WsBadRequest(&'static str),
    /// The request method is not `GET`.
    #[error("WebSocket handshake request method is not GET")]
    WsBadMethod,
    /// `Sec-WebSocket-Version` is missing, repeated or not 13.
    #[error("WebSocket handshake asks for a version other than 13")]
    WsBadVersion,
    /// `Sec-WebSocket-Key` is missing, repeated or not 24 characters of base64.
    #[error("WebSocket handshake key is missing or malformed")]
    WsBadKey,
    /// The client did not offer the `binary` subprotocol and the server requires it.
    #[error("WebSocket client did not offer the 'binary' subprotocol")]
    WsNoBinaryProtocol,
    /// The `Origin` header is missing (empty string) or not in the allowlist.
    #[error("WebSocket Origin {0:?} is not allowed")]
    WsOriginRejected(String),

    /// A client frame arrived without the mask bit (RFC 6455 §5.1).
    #[error("WebSocket client frame is not masked")]
    WsUnmasked,
    /// RSV1..3 set without a negotiated extension.
    #[error("WebSocket frame has reserved bits set")]
    WsReservedBits,
    /// A text frame: only binary data is accepted, as in QEMU.
    #[error("WebSocket text frames are not supported")]
    WsTextFrame,
    /// An opcode RFC 6455 reserves.
    #[error("WebSocket frame has reserved opcode {0:#x}")]
    WsBadOpcode(u8),
    /// A control frame that is fragmented or longer than 125 bytes.
    #[error("WebSocket control frame is fragmented or longer than 125 bytes")]
    WsBadControlFrame,
    /// A continuation frame without a message in progress, or a new data frame
    /// inside a fragmented message.
    #[error("WebSocket continuation frame out of sequence")]
    WsBadContinuation,
    /// A 64-bit payload length with its most significant bit set.
    #[error("WebSocket 64-bit frame length has its high bit set")]
    WsBadLength,
    /// A close frame with a 1-byte payload or an invalid status code.
    #[error("WebSocket close frame is malformed")]
    WsBadClose,
    /// A close frame whose reason is not UTF-8.
    #[error("WebSocket close reason is not UTF-8")]
    WsCloseReasonNotUtf8,
    /// Decoded payload not drained with `read_payload` grew past
    /// [`WS_MAX_PENDING_PAYLOAD`] bytes.
    #[error("undrained WebSocket payload exceeds {WS_MAX_PENDING_PAYLOAD} bytes")]
    WsPayloadBacklog,
    /// `feed` was called again after it had already failed.
    #[error("WebSocket connection has already failed")]
    WsFailed,
}
