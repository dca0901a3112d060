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
//! VeNCrypt ([`Security::VeNCrypt`]) stays sans-IO too: once the client picks the
//! offered subtype the session emits [`Event::StartTls`] and pauses; the caller
//! flushes the output in the clear, runs the TLS handshake, calls
//! [`ServerSession::tls_established`], and from then on feeds and sends
//! decrypted bytes. Plain credentials arrive as [`Event::PlainAuth`] and are
//! answered with [`ServerSession::auth_result`], like a VNC response.
//!
//! Every length a client controls is bounded before anything is allocated:
//! partial messages are kept in a small fixed buffer, `SetEncodings` keeps at most
//! [`MAX_ENCODINGS`] entries and skips the rest as they stream past, cut text is
//! limited to [`MAX_CUT_TEXT`], Plain credentials to [`MAX_PLAIN_USERNAME`] and
//! [`MAX_PLAIN_PASSWORD`] (checked before anything is reserved), and input that
//! arrives while the session waits for the caller is limited to [`MAX_BACKLOG`].
//! [`ServerSession::buffered_input_len`] never exceeds [`MAX_BUFFERED_INPUT`].
//!
//! Protocol choices (QEMU behaviour unless noted):
//! - The server announces 3.8. Client versions 3.3/3.4/3.5 speak 3.3, 3.7 speaks
//!   3.7, and 3.8 or any later 3.x speaks 3.8 (TigerVNC's mapping; QEMU refuses
//!   3.9+). Anything else, or a 12-byte greeting that is not `RFB xxx.yyy\n`, gets
//!   a U32 0 and the session closes.
//! - Exactly one security type is offered. SecurityResult reasons are sent only on
//!   3.8 and their length does not count a trailing NUL (unlike QEMU).
//! - VeNCrypt: a 3.3 client gets a U32 0 and is closed. The server sends version
//!   0.2; any other client version gets U8 1 and the session closes. Exactly one
//!   subtype is offered; any other choice gets U8 0 and the session closes. After
//!   TLS, the None subtypes send SecurityResult OK on 3.7 as well as on 3.8.
//!   The TLS/x509 Plain subtypes (259, 262) are extensions: QEMU never offers
//!   them. Over-long or non-UTF-8 credentials get a failed SecurityResult and the
//!   session closes. The cleartext Plain subtype (256) cannot be configured.
//! - `SetPixelFormat` must be true-colour with 8/16/32 bpp and shifts below bpp;
//!   anything else closes the session. A channel maximum of 0 is read as 255.
//! - Message types other than 0, 2, 3, 4, 5 and 6 close the session: no extension
//!   that would give them meaning is confirmed yet. The one exception is
//!   `SetDesktopSize` (251), understood once the client has listed the
//!   ExtendedDesktopSize pseudo-encoding (-308); before that it closes the session
//!   like any other unknown type.
//!
//! Desktop size (rfbproto's DesktopSize and ExtendedDesktopSize):
//! - [`ServerSession::write_desktop_size`] announces a new framebuffer size with an
//!   ExtendedDesktopSize rectangle (reason 0, status 0) to a client that listed
//!   -308, with a DesktopSize rectangle to one that listed only -223, and not at
//!   all to one that listed neither. Either rectangle travels in a
//!   FramebufferUpdate of its own, without pixel data.
//! - A non-incremental FramebufferUpdateRequest from a client that listed -308 is
//!   answered with an ExtendedDesktopSize rectangle (reason 0, status 0, the size
//!   the client was last told) before its [`Event::UpdateRequest`] is handed out,
//!   as rfbproto requires (QEMU today sends it only when the size changed).
//! - `SetDesktopSize` is checked here: a size of 0 or beyond
//!   [`ServerConfig::max_desktop_width`] × [`ServerConfig::max_desktop_height`],
//!   no screens, a screen of size 0, outside the requested size, overlapping
//!   another (a stricter rule than rfbproto's: a single-head guest cannot mirror),
//!   or two screens with the same id, are answered by the session itself with
//!   reason 1, status 3 (invalid layout); more than [`MAX_SCREENS`] screens are
//!   read and skipped, and answered with status 2 (out of resources). A valid
//!   request becomes [`Event::SetDesktopSize`], which the caller answers with
//!   [`ServerSession::desktop_size_reply`]. Every answer carries the size the
//!   client was last told and one screen (id 0 covering it, flags 0), as QEMU.
//!   None of this closes the session. Answers and the non-incremental
//!   announcements are queued as the events are drained, so they keep the order
//!   of the requests.

#![forbid(unsafe_code)]

mod pixel;
mod server;

pub use pixel::PixelFormat;
pub use server::{
    DesktopSizeStatus, Event, Framebuffer, InnerAuth, Phase, Rect, Screen, Security, ServerConfig,
    ServerSession, VencryptSubtype,
};
/// Re-exported for [`Event::PlainAuth`]'s password.
pub use zeroize::Zeroizing;

/// Largest `ClientCutText` accepted, in bytes; longer ones close the session
/// (CVE-2015-5239).
pub const MAX_CUT_TEXT: u32 = 1 << 20;

/// Most encodings remembered from one `SetEncodings`; further entries are skipped.
pub const MAX_ENCODINGS: usize = 64;

/// Most screens of one `SetDesktopSize` that are kept; further ones are read and
/// skipped, and the request is answered "out of resources". (The count is a `u8`
/// on the wire, so at most 255 screens ever stream past.)
pub const MAX_SCREENS: usize = 16;

/// Most input bytes held while the session waits for [`ServerSession::auth_result`]
/// or [`ServerSession::server_init`]; more closes the session.
pub const MAX_BACKLOG: usize = 8 * 1024;

/// Longest fixed-size protocol unit (a `SetPixelFormat` message).
pub const MAX_UNIT: usize = 20;

/// Longest VeNCrypt Plain user name accepted, in bytes; longer ones fail
/// authentication and close the session before anything is buffered.
pub const MAX_PLAIN_USERNAME: u32 = 255;

/// Longest VeNCrypt Plain password accepted, in bytes (as for
/// [`MAX_PLAIN_USERNAME`]).
pub const MAX_PLAIN_PASSWORD: u32 = 1024;

/// Upper bound of [`ServerSession::buffered_input_len`]. Cut text and Plain
/// credentials are never collected at the same time, and credentials are the
/// smaller of the two.
pub const MAX_BUFFERED_INPUT: usize = MAX_UNIT + MAX_BACKLOG + MAX_CUT_TEXT as usize;

const _: () = assert!(MAX_PLAIN_USERNAME + MAX_PLAIN_PASSWORD <= MAX_CUT_TEXT);

/// The VeNCrypt version the server sends and requires back (0.2).
pub const VENCRYPT_VERSION: [u8; 2] = [0, 2];

/// The reason sent with a failed SecurityResult when the client picks a security
/// type that was not offered.
pub const REASON_UNSUPPORTED_SECURITY: &str = "Authentication failed";

/// The reason sent with a failed SecurityResult when VeNCrypt Plain credentials
/// are malformed (too long, or a user name that is not UTF-8).
pub const REASON_BAD_CREDENTIALS: &str = "Authentication failed";

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
    /// ExtendedDesktopSize pseudo-encoding (enables `SetDesktopSize`).
    pub const EXTENDED_DESKTOP_SIZE: i32 = -308;
}

/// The reasons an ExtendedDesktopSize rectangle carries in its x-position.
pub mod desktop_size_reason {
    /// The size changed on the server (or a non-incremental update request asks
    /// for the current one).
    pub const SERVER: u16 = 0;
    /// Answer to this client's own `SetDesktopSize`.
    pub const THIS_CLIENT: u16 = 1;
    /// Another client's `SetDesktopSize` succeeded (never sent by this server).
    pub const OTHER_CLIENT: u16 = 2;
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
    /// SetDesktopSize (only after the client listed ExtendedDesktopSize).
    pub const SET_DESKTOP_SIZE: u8 = 251;
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
    /// The configured security type needs RFB 3.7 or later (VeNCrypt), and the
    /// client speaks 3.3.
    #[error("security type {0} cannot be used with an RFB 3.3 client")]
    SecurityNeedsRfb37(u8),
    /// The client answered the VeNCrypt 0.2 greeting with another version.
    #[error("unsupported VeNCrypt version {major}.{minor}")]
    VencryptVersion {
        /// The client's major version.
        major: u8,
        /// The client's minor version.
        minor: u8,
    },
    /// The client picked a VeNCrypt subtype that was not offered.
    #[error("client chose VeNCrypt subtype {chosen}, but only {offered} was offered")]
    VencryptSubtypeMismatch {
        /// The subtype the server offered.
        offered: u32,
        /// The subtype the client sent.
        chosen: u32,
    },
    /// Input was fed after [`Event::StartTls`] and before
    /// [`ServerSession::tls_established`]: it cannot be trusted.
    #[error("client data arrived between the VeNCrypt subtype and the TLS handshake")]
    DataBeforeTls,
    /// A VeNCrypt Plain user name over [`MAX_PLAIN_USERNAME`].
    #[error("VeNCrypt Plain user name of {0} bytes is over the {MAX_PLAIN_USERNAME}-byte limit")]
    PlainUsernameTooLong(u32),
    /// A VeNCrypt Plain password over [`MAX_PLAIN_PASSWORD`].
    #[error("VeNCrypt Plain password of {0} bytes is over the {MAX_PLAIN_PASSWORD}-byte limit")]
    PlainPasswordTooLong(u32),
    /// A VeNCrypt Plain user name that is not UTF-8.
    #[error("VeNCrypt Plain user name is not UTF-8")]
    PlainUsernameNotUtf8,
    /// The session was already closed.
    #[error("RFB session is closed")]
    Closed,
}
