//! Sans-IO RFB (VNC) server protocol core.
//!
//! Design note: [`ServerSession`] is a pure state machine. The caller feeds it the
//! bytes read from a client ([`ServerSession::feed`]), drains decoded
//! [`Event`]s ([`ServerSession::next_event`]) and writes out whatever bytes the
//! session queued ([`ServerSession::output`] + [`ServerSession::consume_output`], or
//! [`ServerSession::take_output`]). Sockets, time, randomness (the VNC challenge
//! arrives in [`ServerConfig`]) and policy (password check, share policy, update
//! scheduling) stay with the caller, which answers the two questions the protocol
//! asks with [`ServerSession::auth_result`] and [`ServerSession::server_init`].
//!
//! Every length a client controls is bounded before anything is allocated:
//! partial messages are kept in a small fixed buffer, `SetEncodings` keeps at most
//! [`MAX_ENCODINGS`] entries and skips the rest as they stream past, cut text is
//! limited to [`MAX_CUT_TEXT`], and input that arrives while the session waits for
//! the caller is limited to [`MAX_BACKLOG`]. [`ServerSession::buffered_input_len`]
//! never exceeds [`MAX_BUFFERED_INPUT`].
//!
//! Protocol choices (QEMU behaviour unless noted):
//! - The server announces 3.8. Client versions 3.3/3.4/3.5 speak 3.3, 3.7 speaks
//!   3.7, and 3.8 or any later 3.x speaks 3.8 (TigerVNC's mapping; QEMU refuses
//!   3.9+). Anything else, or a 12-byte greeting that is not `RFB xxx.yyy\n`, gets
//!   a U32 0 and the session closes.
//! - Exactly one security type is offered. SecurityResult reasons are sent only on
//!   3.8 and their length does not count a trailing NUL (unlike QEMU).
//! - `SetPixelFormat` must be true-colour with 8/16/32 bpp and shifts below bpp;
//!   anything else closes the session. A channel maximum of 0 is read as 255.
//! - Message types other than 0, 2, 3, 4, 5 and 6 close the session: no extension
//!   that would give them meaning is confirmed yet.

#![forbid(unsafe_code)]

mod pixel;
mod server;

pub use pixel::PixelFormat;
pub use server::{Event, Framebuffer, Phase, Rect, Security, ServerConfig, ServerSession};

/// Largest `ClientCutText` accepted, in bytes; longer ones close the session
/// (CVE-2015-5239).
pub const MAX_CUT_TEXT: u32 = 1 << 20;

/// Most encodings remembered from one `SetEncodings`; further entries are skipped.
pub const MAX_ENCODINGS: usize = 64;

/// Most input bytes held while the session waits for [`ServerSession::auth_result`]
/// or [`ServerSession::server_init`]; more closes the session.
pub const MAX_BACKLOG: usize = 8 * 1024;

/// Longest fixed-size protocol unit (a `SetPixelFormat` message).
pub const MAX_UNIT: usize = 20;

/// Upper bound of [`ServerSession::buffered_input_len`].
pub const MAX_BUFFERED_INPUT: usize = MAX_UNIT + MAX_BACKLOG + MAX_CUT_TEXT as usize;

/// The reason sent with a failed SecurityResult when the client picks a security
/// type that was not offered.
pub const REASON_UNSUPPORTED_SECURITY: &str = "Authentication failed";

/// The version greeting the server sends.
pub const SERVER_VERSION: &[u8; 12] = b"RFB 003.008\n";

/// RFB encoding numbers.
pub mod encoding {
    /// Raw pixels.
    pub const RAW: i32 = 0;
    /// CopyRect (never sent by this server).
    pub const COPY_RECT: i32 = 1;
    /// DesktopSize pseudo-encoding.
    pub const DESKTOP_SIZE: i32 = -223;
}

/// Client-to-server message types.
pub mod client_msg {
    /// SetPixelFormat.
    pub const SET_PIXEL_FORMAT: u8 = 0;
    /// SetEncodings.
    pub const SET_ENCODINGS: u8 = 2;
    /// FramebufferUpdateRequest.
    pub const FRAMEBUFFER_UPDATE_REQUEST: u8 = 3;
    /// KeyEvent.
    pub const KEY_EVENT: u8 = 4;
    /// PointerEvent.
    pub const POINTER_EVENT: u8 = 5;
    /// ClientCutText.
    pub const CLIENT_CUT_TEXT: u8 = 6;
}

/// Server-to-client message types.
pub mod server_msg {
    /// FramebufferUpdate.
    pub const FRAMEBUFFER_UPDATE: u8 = 0;
}

/// Protocol errors. Every one of them closes the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client's version greeting is malformed or names an unsupported version.
    #[error("unsupported RFB version greeting {0:?}")]
    BadVersion(String),
    /// The client picked a security type that was not offered.
    #[error("client chose security type {chosen}, but only {offered} was offered")]
    SecurityTypeMismatch {
        /// The type the server offered.
        offered: u8,
        /// The type the client sent.
        chosen: u8,
    },
    /// `SetPixelFormat` with bits-per-pixel other than 8, 16 or 32.
    #[error("pixel format with {0} bits per pixel")]
    BadBitsPerPixel(u8),
    /// `SetPixelFormat` asking for a colour map.
    #[error("colour-map pixel formats are not supported")]
    ColourMapUnsupported,
    /// `SetPixelFormat` with a channel shift outside the pixel.
    #[error("pixel format shift {shift} does not fit in {bpp} bits per pixel")]
    BadShift {
        /// The offending shift.
        shift: u8,
        /// The format's bits per pixel.
        bpp: u8,
    },
    /// A client message type this server does not understand or has not enabled.
    #[error("unknown client message type {0}")]
    UnknownMessage(u8),
    /// `ClientCutText` longer than [`MAX_CUT_TEXT`].
    #[error("client cut text of {0} bytes is over the {MAX_CUT_TEXT}-byte limit")]
    CutTextTooLong(u32),
    /// More than [`MAX_BACKLOG`] bytes arrived while waiting for the caller.
    #[error("client sent more than {MAX_BACKLOG} bytes before the server answered")]
    BacklogOverflow,
    /// The session was already closed.
    #[error("RFB session is closed")]
    Closed,
}
