//! Fuzzes the sans-IO RFB server session with arbitrary client bytes.
//!
//! The first input byte picks the security type, whether a valid handshake is
//! prepended (so the fuzzer reaches the normal phase quickly) and the chunk size;
//! the rest is the client's byte stream. The session must never panic, must keep
//! its buffered input within `MAX_BUFFERED_INPUT`, and every pixel format it
//! accepts must be usable by `write_update`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rfb::{Event, Framebuffer, Phase, Rect, Security, ServerConfig, ServerSession};

const CHALLENGE: [u8; 16] = [7; 16];
const PASSWORD: &[u8] = b"fuzz";

fn handshake(minor: u8, security: Security) -> Vec<u8> {
    let mut v = format!("RFB 003.{minor:03}\n").into_bytes();
    if minor >= 7 {
        v.push(security.code());
    }
    if security == Security::VncAuth {
        v.extend_from_slice(&crypto::vnc_auth_response(PASSWORD, &CHALLENGE));
    }
    v.push(1);
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let security = if ctl & 1 == 0 {
        Security::None
    } else {
        Security::VncAuth
    };
    let minor = [3u8, 7, 8, 8][usize::from((ctl >> 1) & 3)];
    let chunk = usize::from(ctl >> 4) + 1;
    let mut stream = Vec::new();
    if ctl & 8 != 0 {
        stream.extend(handshake(minor, security));
    }
    stream.extend_from_slice(rest);

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
    });
    for c in stream.chunks(chunk) {
        let r = s.feed(c);
        assert!(s.buffered_input_len() <= rfb::MAX_BUFFERED_INPUT);
        while let Some(ev) = s.next_event() {
            match ev {
                Event::VncAuthResponse(resp) => {
                    if crypto::vnc_auth_check(PASSWORD, &CHALLENGE, &resp) {
                        s.auth_result(Ok(()));
                    } else {
                        s.auth_result(Err("Authentication failed"));
                    }
                }
                Event::ClientInit { .. } => s.server_init(13, 7),
                Event::UpdateRequest { x, y, w, h, .. } => {
                    let r = Rect::new(x.into(), y.into(), w.into(), h.into());
                    s.write_update(&fb, &[r, Rect::new(0, 0, 13, 7)]);
                }
                Event::SetEncodings(list) => {
                    assert!(list.len() <= rfb::MAX_ENCODINGS);
                    s.write_desktop_size(13, 7);
                }
                Event::CutText(t) => {
                    assert!(t.len() <= usize::try_from(rfb::MAX_CUT_TEXT).unwrap())
                }
                _ => {}
            }
        }
        let _ = s.take_output();
        if r.is_err() {
            assert_eq!(s.phase(), Phase::Closed);
            assert!(s.feed(b"x").is_err());
            break;
        }
    }
});
