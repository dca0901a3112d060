//! Helpers shared by the rfb integration tests.
#![allow(dead_code)]

use rfb::{Event, InnerAuth, Phase, Security, ServerConfig, ServerSession, VencryptSubtype};

pub const PASSWORD: &[u8] = b"secret";
pub const USERNAME: &str = "alice";
pub const CHALLENGE: [u8; 16] = [
    0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f,
];
pub const NAME: &str = "QEMU (test)";
pub const WIDTH: u16 = 640;
pub const HEIGHT: u16 = 480;
/// The largest size a SetDesktopSize may ask for in these tests.
pub const MAX_DESKTOP_WIDTH: u16 = 5120;
pub const MAX_DESKTOP_HEIGHT: u16 = 2160;

pub fn cfg(security: Security) -> ServerConfig {
    ServerConfig {
        security,
        challenge: CHALLENGE,
        name: NAME.to_string(),
        max_desktop_width: MAX_DESKTOP_WIDTH,
        max_desktop_height: MAX_DESKTOP_HEIGHT,
    }
}

pub fn version(minor: u8) -> Vec<u8> {
    format!("RFB 003.{minor:03}\n").into_bytes()
}

pub fn u32be(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// The bytes a well-behaved client sends up to and including ClientInit, for
/// the security types without TLS.
pub fn client_handshake(minor: u8, security: Security, password: &[u8]) -> Vec<u8> {
    let (before, after) = client_handshake_parts(minor, security, password);
    assert!(after.is_empty(), "{security:?} needs the TLS pause");
    before
}

/// The bytes a well-behaved client sends up to and including ClientInit, cut
/// where VeNCrypt starts TLS: (cleartext part, part sent inside TLS). The
/// second part is empty for the security types without TLS.
pub fn client_handshake_parts(
    minor: u8,
    security: Security,
    password: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut v = version(minor);
    if minor >= 7 {
        v.push(security.code());
    }
    match security {
        Security::None => {}
        Security::VncAuth => v.extend_from_slice(&crypto::vnc_auth_response(password, &CHALLENGE)),
        Security::VeNCrypt(sub) => {
            v.extend_from_slice(&[0, 2]);
            v.extend(u32be(sub.code()));
            let mut inner = after_tls(sub, password);
            inner.push(1); // shared
            return (v, inner);
        }
    }
    v.push(1); // shared
    (v, Vec::new())
}

/// What a VeNCrypt client sends inside TLS before ClientInit.
pub fn after_tls(sub: VencryptSubtype, password: &[u8]) -> Vec<u8> {
    match sub.inner_auth() {
        InnerAuth::None => Vec::new(),
        InnerAuth::Vnc => crypto::vnc_auth_response(password, &CHALLENGE).to_vec(),
        InnerAuth::Plain => plain_creds(USERNAME.as_bytes(), password),
    }
}

/// A VeNCrypt Plain credentials message.
pub fn plain_creds(user: &[u8], password: &[u8]) -> Vec<u8> {
    let mut v = u32be(u32::try_from(user.len()).unwrap());
    v.extend(u32be(u32::try_from(password.len()).unwrap()));
    v.extend_from_slice(user);
    v.extend_from_slice(password);
    v
}

/// The ServerInit the session sends for `NAME` and `WIDTH`×`HEIGHT`.
pub fn server_init_bytes() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&WIDTH.to_be_bytes());
    v.extend_from_slice(&HEIGHT.to_be_bytes());
    v.extend_from_slice(&rfb::PixelFormat::NATIVE.to_bytes());
    v.extend_from_slice(&u32be(u32::try_from(NAME.len()).unwrap()));
    v.extend_from_slice(NAME.as_bytes());
    v
}

/// Drains events, answering the questions the session asks the way the vnc
/// crate would (checking the password with `crypto`, pretending TLS came up at
/// once). Returns the events.
pub fn pump(s: &mut ServerSession) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(ev) = s.next_event() {
        match &ev {
            Event::VncAuthResponse(r) => {
                if crypto::vnc_auth_check(PASSWORD, &CHALLENGE, r) {
                    s.auth_result(Ok(()));
                } else {
                    s.auth_result(Err("Authentication failed"));
                }
            }
            Event::PlainAuth { username, password } => {
                if username == USERNAME && password.as_slice() == PASSWORD {
                    s.auth_result(Ok(()));
                } else {
                    s.auth_result(Err("Authentication failed"));
                }
            }
            Event::StartTls => s.tls_established(),
            Event::ClientInit { .. } => s.server_init(WIDTH, HEIGHT),
            _ => {}
        }
        out.push(ev);
    }
    out
}

/// Feeds `chunks` one after another, pumping after each. Returns all events, all
/// output and the first error (feeding stops there).
pub fn drive<'a>(
    s: &mut ServerSession,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Event>, Vec<u8>, Option<rfb::Error>) {
    let mut events = Vec::new();
    let mut err = None;
    for c in chunks {
        let r = s.feed(c);
        events.extend(pump(s));
        if let Err(e) = r {
            err = Some(e);
            break;
        }
        // Answering may close the session (auth failure, or a violation in input
        // held meanwhile); the next feed reports why, as the vnc crate sees it.
        if s.phase() == Phase::Closed {
            err = s.feed(&[]).err();
            break;
        }
    }
    (events, s.take_output(), err)
}

/// A session in the Normal phase with its handshake output discarded.
pub fn normal_session(security: Security, minor: u8) -> ServerSession {
    let mut s = ServerSession::new(cfg(security));
    let (before, after) = client_handshake_parts(minor, security, PASSWORD);
    s.feed(&before).unwrap();
    pump(&mut s);
    s.feed(&after).unwrap();
    pump(&mut s);
    assert_eq!(s.phase(), Phase::Normal);
    let _ = s.take_output();
    s
}

pub fn set_pixel_format_msg(pf: &rfb::PixelFormat) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0];
    v.extend_from_slice(&pf.to_bytes());
    v
}

pub fn set_encodings_msg(encs: &[i32]) -> Vec<u8> {
    let mut v = vec![2, 0];
    v.extend_from_slice(&u16::try_from(encs.len()).unwrap().to_be_bytes());
    for e in encs {
        v.extend_from_slice(&e.to_be_bytes());
    }
    v
}

/// A SetDesktopSize message announcing `count` screens, followed by `screens`
/// (which may hold fewer or more than `count`, for malformed messages).
pub fn set_desktop_size_msg_n(w: u16, h: u16, count: u8, screens: &[rfb::Screen]) -> Vec<u8> {
    let mut v = vec![251, 0];
    v.extend(w.to_be_bytes());
    v.extend(h.to_be_bytes());
    v.extend([count, 0]);
    for s in screens {
        v.extend(s.id.to_be_bytes());
        for n in [s.x, s.y, s.w, s.h] {
            v.extend(n.to_be_bytes());
        }
        v.extend(s.flags.to_be_bytes());
    }
    v
}

/// A well-formed SetDesktopSize message.
pub fn set_desktop_size_msg(w: u16, h: u16, screens: &[rfb::Screen]) -> Vec<u8> {
    set_desktop_size_msg_n(w, h, u8::try_from(screens.len()).unwrap(), screens)
}

/// One screen with flags 0.
pub fn screen(id: u32, x: u16, y: u16, w: u16, h: u16) -> rfb::Screen {
    rfb::Screen {
        id,
        x,
        y,
        w,
        h,
        flags: 0,
    }
}

/// The FramebufferUpdate carrying one ExtendedDesktopSize rectangle with one
/// screen (id 0, flags 0) covering `w` × `h`.
pub fn ext_desktop_size_bytes(reason: u16, status: u16, w: u16, h: u16) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 1];
    for n in [reason, status, w, h] {
        v.extend(n.to_be_bytes());
    }
    v.extend((-308i32).to_be_bytes());
    v.extend([1, 0, 0, 0]);
    v.extend(0u32.to_be_bytes());
    for n in [0, 0, w, h] {
        v.extend(n.to_be_bytes());
    }
    v.extend(0u32.to_be_bytes());
    v
}
