//! Fuzzes the sans-IO RFB server session with arbitrary client bytes.
//!
//! The first input byte picks the minor version, whether a valid handshake is
//! prepended (so the fuzzer reaches the normal phase quickly) and the chunk size;
//! the second picks the security type (None, VNC auth, or one of the six VeNCrypt
//! subtypes); the rest is the client's byte stream. A VeNCrypt handshake prefix
//! is fed in two parts around the TLS pause, and `tls_established` is called
//! whenever the session asks for TLS, so the bytes after it play the role of
//! decrypted input. The session must never panic, must keep its buffered input
//! within `MAX_BUFFERED_INPUT`, must bound Plain credentials, must hand out only
//! valid SetDesktopSize layouts (each answered once), and every pixel format it
//! accepts must be usable by `write_update`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rfb::{
    DesktopSizeStatus, Event, Framebuffer, InnerAuth, Phase, Rect, Security, ServerConfig,
    ServerSession, VencryptSubtype,
};

const CHALLENGE: [u8; 16] = [7; 16];
const PASSWORD: &[u8] = b"fuzz";
const USERNAME: &str = "fuzzer";
/// Largest SetDesktopSize width and height accepted.
const MAX_SIDE: u16 = 64;

/// A good handshake up to ClientInit: (cleartext part, part inside TLS).
fn handshake(minor: u8, security: Security) -> (Vec<u8>, Vec<u8>) {
    let mut v = format!("RFB 003.{minor:03}\n").into_bytes();
    if minor >= 7 {
        v.push(security.code());
    }
    let mut inside = Vec::new();
    let auth = match security {
        Security::None => InnerAuth::None,
        Security::VncAuth => InnerAuth::Vnc,
        Security::VeNCrypt(sub) => {
            v.extend_from_slice(&[0, 2]);
            v.extend_from_slice(&sub.code().to_be_bytes());
            sub.inner_auth()
        }
    };
    let target = if matches!(security, Security::VeNCrypt(_)) {
        &mut inside
    } else {
        &mut v
    };
    match auth {
        InnerAuth::None => {}
        InnerAuth::Vnc => target.extend_from_slice(&crypto::vnc_auth_response(PASSWORD, &CHALLENGE)),
        InnerAuth::Plain => {
            let ulen = u32::try_from(USERNAME.len()).unwrap_or(0);
            let plen = u32::try_from(PASSWORD.len()).unwrap_or(0);
            target.extend_from_slice(&ulen.to_be_bytes());
            target.extend_from_slice(&plen.to_be_bytes());
            target.extend_from_slice(USERNAME.as_bytes());
            target.extend_from_slice(PASSWORD);
        }
    }
    target.push(1);
    (v, inside)
}

/// Answers the session's questions the way the vnc crate would.
fn pump(s: &mut ServerSession, fb: &Framebuffer<'_>) {
    while let Some(ev) = s.next_event() {
        match ev {
            Event::StartTls => {
                assert!(s.awaiting_tls());
                s.tls_established();
            }
            Event::VncAuthResponse(resp) => {
                if crypto::vnc_auth_check(PASSWORD, &CHALLENGE, &resp) {
                    s.auth_result(Ok(()));
                } else {
                    s.auth_result(Err("Authentication failed"));
                }
            }
            Event::PlainAuth { username, password } => {
                assert!(username.len() <= usize::try_from(rfb::MAX_PLAIN_USERNAME).unwrap());
                assert!(password.len() <= usize::try_from(rfb::MAX_PLAIN_PASSWORD).unwrap());
                if username == USERNAME && password.as_slice() == PASSWORD {
                    s.auth_result(Ok(()));
                } else {
                    s.auth_result(Err("Authentication failed"));
                }
            }
            Event::ClientInit { .. } => s.server_init(13, 7),
            Event::UpdateRequest { x, y, w, h, .. } => {
                let r = Rect::new(x.into(), y.into(), w.into(), h.into());
                s.write_update(fb, &[r, Rect::new(0, 0, 13, 7)]);
            }
            Event::SetEncodings(list) => {
                assert!(list.len() <= rfb::MAX_ENCODINGS);
                s.write_desktop_size(13, 7);
            }
            Event::CutText(t) => {
                assert!(t.len() <= usize::try_from(rfb::MAX_CUT_TEXT).unwrap())
            }
            Event::SetDesktopSize {
                width,
                height,
                screens,
            } => {
                assert!((1..=MAX_SIDE).contains(&width) && (1..=MAX_SIDE).contains(&height));
                assert!(!screens.is_empty() && screens.len() <= rfb::MAX_SCREENS);
                let status = if width % 2 == 0 {
                    DesktopSizeStatus::Forwarded
                } else {
                    DesktopSizeStatus::Prohibited
                };
                assert!(s.desktop_size_reply(status));
            }
            Event::SetPixelFormat(_) | Event::Key { .. } | Event::Pointer { .. } => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let Some((&sec, rest)) = rest.split_first() else {
        return;
    };
    let security = match sec & 7 {
        0 => Security::None,
        1 => Security::VncAuth,
        n => Security::VeNCrypt(VencryptSubtype::ALL[usize::from(n - 2)]),
    };
    let minor = [3u8, 7, 8, 8][usize::from((ctl >> 1) & 3)];
    let chunk = usize::from(ctl >> 4) + 1;
    let mut parts: Vec<Vec<u8>> = Vec::new();
    if ctl & 8 != 0 {
        let (before, inside) = handshake(minor, security);
        parts.push(before);
        parts.push(inside);
    }
    parts.push(rest.to_vec());

    let pixels: Vec<u32> = (0..13u32 * 7)
        .map(|i| i.wrapping_mul(0x9e37_79b9))
        .collect();
    let fb = Framebuffer {
        pixels: &pixels,
        width: 13,
        height: 7,
        stride: 13,
    };
    let mut s = ServerSession::new(ServerConfig {
        security,
        challenge: CHALLENGE,
        name: "fuzz".into(),
        max_desktop_width: MAX_SIDE,
        max_desktop_height: MAX_SIDE,
    });
    // The handshake parts are fed whole (the TLS pause falls between them); the
    // fuzzed bytes in chunks.
    let last = parts.len() - 1;
    for (i, part) in parts.iter().enumerate() {
        let size = if i == last { chunk } else { part.len().max(1) };
        for c in part.chunks(size) {
            let r = s.feed(c);
            assert!(s.buffered_input_len() <= rfb::MAX_BUFFERED_INPUT);
            pump(&mut s, &fb);
            let _ = s.take_output();
            if r.is_err() {
                assert_eq!(s.phase(), Phase::Closed);
                assert!(s.feed(b"x").is_err());
                return;
            }
        }
    }
});
