//! Version, security and init handshakes.

mod common;

use common::*;
use rfb::{Error, Event, Phase, Security, ServerSession};

fn fresh(security: Security) -> ServerSession {
    let mut s = ServerSession::new(cfg(security));
    assert_eq!(s.take_output(), b"RFB 003.008\n");
    assert_eq!(s.phase(), Phase::Version);
    assert_eq!(s.minor_version(), 0);
    s
}

#[test]
fn handshake_3_8_none() {
    let mut s = fresh(Security::None);
    s.feed(b"RFB 003.008\n").unwrap();
    assert_eq!(s.minor_version(), 8);
    assert_eq!(s.phase(), Phase::Security);
    assert_eq!(s.take_output(), [1, 1]);
    s.feed(&[1]).unwrap();
    assert_eq!(
        s.take_output(),
        u32be(0),
        "None still gets a SecurityResult on 3.8"
    );
    assert_eq!(s.phase(), Phase::ClientInit);
    s.feed(&[0]).unwrap();
    assert_eq!(s.next_event(), Some(Event::ClientInit { shared: false }));
    assert_eq!(s.next_event(), None);
    assert!(s.awaiting_server_init());
    assert!(!s.has_output());
    s.server_init(WIDTH, HEIGHT);
    assert_eq!(s.phase(), Phase::Normal);
    assert_eq!(s.take_output(), server_init_bytes());
    assert_eq!(s.pixel_format(), rfb::PixelFormat::NATIVE);
}

#[test]
fn handshake_3_7_none_has_no_security_result() {
    let mut s = fresh(Security::None);
    s.feed(b"RFB 003.007\n").unwrap();
    assert_eq!(s.take_output(), [1, 1]);
    s.feed(&[1]).unwrap();
    assert!(!s.has_output());
    assert_eq!(s.phase(), Phase::ClientInit);
    s.feed(&[1]).unwrap();
    assert_eq!(s.next_event(), Some(Event::ClientInit { shared: true }));
}

#[test]
fn handshake_3_3_none_server_decides() {
    let mut s = fresh(Security::None);
    s.feed(b"RFB 003.003\n").unwrap();
    assert_eq!(s.minor_version(), 3);
    assert_eq!(s.take_output(), u32be(1));
    assert_eq!(s.phase(), Phase::ClientInit);
    s.feed(&[1]).unwrap();
    assert_eq!(s.next_event(), Some(Event::ClientInit { shared: true }));
    s.server_init(WIDTH, HEIGHT);
    assert_eq!(s.take_output(), server_init_bytes());
}

fn vnc_auth_after_type(mut s: ServerSession, minor: u8) {
    let mut expect = Vec::new();
    if minor >= 7 {
        assert_eq!(s.take_output(), [1, 2]);
        s.feed(&[2]).unwrap();
    } else {
        expect.extend(u32be(2));
    }
    expect.extend_from_slice(&CHALLENGE);
    assert_eq!(s.take_output(), expect);
    assert_eq!(s.phase(), Phase::VncAuth);
    let response = crypto::vnc_auth_response(PASSWORD, &CHALLENGE);
    s.feed(&response[..7]).unwrap();
    assert_eq!(s.next_event(), None);
    s.feed(&response[7..]).unwrap();
    let Some(Event::VncAuthResponse(got)) = s.next_event() else {
        panic!("no auth response event");
    };
    assert_eq!(got, response);
    assert!(crypto::vnc_auth_check(PASSWORD, &CHALLENGE, &got));
    assert!(s.awaiting_auth_result());
    assert!(!s.has_output());
    s.auth_result(Ok(()));
    assert_eq!(s.take_output(), u32be(0));
    assert_eq!(s.phase(), Phase::ClientInit);
    s.feed(&[1]).unwrap();
    assert_eq!(s.next_event(), Some(Event::ClientInit { shared: true }));
    s.server_init(WIDTH, HEIGHT);
    assert_eq!(s.take_output(), server_init_bytes());
    assert_eq!(s.phase(), Phase::Normal);
}

#[test]
fn handshake_vnc_auth_all_versions() {
    for minor in [3u8, 7, 8] {
        let mut s = fresh(Security::VncAuth);
        s.feed(&version(minor)).unwrap();
        assert_eq!(s.minor_version(), minor);
        vnc_auth_after_type(s, minor);
    }
}

#[test]
fn auth_failure_reason_exact_on_3_8() {
    let mut s = fresh(Security::VncAuth);
    s.feed(&client_handshake(8, Security::VncAuth, b"wrong")[..13])
        .unwrap();
    let _ = s.take_output();
    let bad = crypto::vnc_auth_response(b"wrong", &CHALLENGE);
    s.feed(&bad).unwrap();
    assert_eq!(s.next_event(), Some(Event::VncAuthResponse(bad)));
    s.auth_result(Err("Authentication failed"));
    let mut expect = u32be(1);
    expect.extend(u32be(21)); // no trailing NUL counted or sent
    expect.extend_from_slice(b"Authentication failed");
    assert_eq!(s.take_output(), expect);
    assert_eq!(s.phase(), Phase::Closed);
    assert_eq!(s.feed(&[1]), Err(Error::Closed));
    assert!(!s.has_output());
}

#[test]
fn auth_failure_has_no_reason_on_3_3_and_3_7() {
    for minor in [3u8, 7] {
        let mut s = fresh(Security::VncAuth);
        let mut hs = client_handshake(minor, Security::VncAuth, b"wrong");
        hs.pop(); // no ClientInit
        s.feed(&hs).unwrap();
        let _ = s.take_output();
        assert!(matches!(s.next_event(), Some(Event::VncAuthResponse(_))));
        s.auth_result(Err("Authentication failed"));
        assert_eq!(s.take_output(), u32be(1), "minor {minor}");
        assert_eq!(s.phase(), Phase::Closed);
    }
}

#[test]
fn wrong_security_type_rejected_with_reason_on_3_8() {
    for chosen in [0u8, 1, 16, 19, 255] {
        let mut s = fresh(Security::VncAuth);
        s.feed(b"RFB 003.008\n").unwrap();
        assert_eq!(s.take_output(), [1, 2]);
        let err = s.feed(&[chosen]).unwrap_err();
        assert_eq!(err, Error::SecurityTypeMismatch { offered: 2, chosen });
        let mut expect = u32be(1);
        expect.extend(u32be(21));
        expect.extend_from_slice(b"Authentication failed");
        assert_eq!(s.take_output(), expect);
        assert_eq!(s.phase(), Phase::Closed);
        assert_eq!(s.next_event(), None);
    }
}

#[test]
fn wrong_security_type_on_3_7_gets_bare_failure() {
    let mut s = fresh(Security::None);
    s.feed(b"RFB 003.007\n").unwrap();
    assert_eq!(s.take_output(), [1, 1]);
    assert!(s.feed(&[2]).is_err());
    assert_eq!(s.take_output(), u32be(1));
    assert_eq!(s.phase(), Phase::Closed);
}

#[test]
fn cve_2006_2450_class_none_not_accepted_when_vnc_auth_offered() {
    // Picking "None" when only VNC auth was offered must never reach ClientInit.
    let mut s = fresh(Security::VncAuth);
    let (events, _, err) = drive(&mut s, [&b"RFB 003.008\n\x01\x01"[..]]);
    assert!(err.is_some());
    assert!(events.is_empty());
    assert_eq!(s.phase(), Phase::Closed);
}

#[test]
fn version_garbage_gets_u32_zero_and_closes() {
    let bad: [&[u8; 12]; 9] = [
        b"RFB 004.000\n",
        b"RFB 003.006\n",
        b"RFB 003.002\n",
        b"RFB 002.008\n",
        b"HELLO WORLD\n",
        b"RFB 003.008X",
        b"RFB 03.008\n\n",
        b"RFB 00a.008\n",
        b"\0\0\0\0\0\0\0\0\0\0\0\0",
    ];
    for v in bad {
        let mut s = fresh(Security::None);
        let err = s.feed(v).unwrap_err();
        assert!(matches!(err, Error::BadVersion(_)), "{v:?}");
        assert_eq!(s.take_output(), u32be(0), "{v:?}");
        assert_eq!(s.phase(), Phase::Closed);
    }
}

#[test]
fn version_mapping() {
    for (v, minor) in [
        (b"RFB 003.003\n", 3u8),
        (b"RFB 003.004\n", 3),
        (b"RFB 003.005\n", 3),
        (b"RFB 003.007\n", 7),
        (b"RFB 003.008\n", 8),
        (b"RFB 003.009\n", 8),
        (b"RFB 003.889\n", 8),
    ] {
        let mut s = fresh(Security::None);
        s.feed(v).unwrap();
        assert_eq!(s.minor_version(), minor, "{v:?}");
        let out = s.take_output();
        if minor == 3 {
            assert_eq!(out, u32be(1));
        } else {
            assert_eq!(out, [1, 1]);
        }
    }
}

#[test]
fn version_split_over_feeds() {
    let mut s = fresh(Security::None);
    for b in b"RFB 003.00" {
        s.feed(&[*b]).unwrap();
        assert!(!s.has_output());
    }
    s.feed(b"8").unwrap();
    assert!(!s.has_output());
    s.feed(b"\n").unwrap();
    assert_eq!(s.take_output(), [1, 1]);
}

#[test]
fn answers_are_ignored_when_not_asked() {
    let mut s = fresh(Security::VncAuth);
    s.auth_result(Ok(()));
    s.server_init(1, 1);
    assert!(!s.has_output());
    assert_eq!(s.phase(), Phase::Version);
    s.feed(b"RFB 003.008\n\x02").unwrap();
    let _ = s.take_output();
    // Waiting for the response, not yet for the result.
    s.auth_result(Ok(()));
    assert!(!s.has_output());
    assert_eq!(s.phase(), Phase::VncAuth);
}

#[test]
fn cve_2011_0011_empty_password_still_needs_response() {
    // The session always asks for the response; an all-zero reply is not the
    // zero-key response and the caller's check rejects it.
    let mut s = fresh(Security::VncAuth);
    s.feed(b"RFB 003.008\n\x02").unwrap();
    let _ = s.take_output();
    s.feed(&[0; 16]).unwrap();
    let Some(Event::VncAuthResponse(r)) = s.next_event() else {
        panic!("expected a response event");
    };
    assert!(!crypto::vnc_auth_check(b"", &CHALLENGE, &r));
}

#[test]
fn input_during_auth_wait_is_held_until_answered() {
    let mut s = fresh(Security::VncAuth);
    let mut all = client_handshake(8, Security::VncAuth, PASSWORD);
    all.extend(set_encodings_msg(&[0, -223]));
    s.feed(&all).unwrap();
    // Only the response is decoded; ClientInit and SetEncodings wait.
    assert!(matches!(s.next_event(), Some(Event::VncAuthResponse(_))));
    assert_eq!(s.next_event(), None);
    assert!(s.buffered_input_len() > 0);
    s.auth_result(Ok(()));
    assert_eq!(s.next_event(), Some(Event::ClientInit { shared: true }));
    assert_eq!(s.next_event(), None);
    s.server_init(WIDTH, HEIGHT);
    assert_eq!(s.next_event(), Some(Event::SetEncodings(vec![0, -223])));
    assert_eq!(s.buffered_input_len(), 0);
    assert!(s.wants_desktop_size());
}

#[test]
fn held_input_is_dropped_when_auth_fails() {
    let mut s = fresh(Security::VncAuth);
    let mut all = client_handshake(8, Security::VncAuth, b"nope");
    all.extend([4, 1, 0, 0, 0, 0, 0, 0x61]);
    s.feed(&all).unwrap();
    assert!(matches!(s.next_event(), Some(Event::VncAuthResponse(_))));
    s.auth_result(Err("Authentication failed"));
    assert_eq!(s.next_event(), None);
    assert_eq!(s.phase(), Phase::Closed);
    assert_eq!(s.buffered_input_len(), 0);
}

#[test]
fn held_input_violation_is_reported_by_the_next_feed() {
    let mut s = fresh(Security::None);
    let mut all = client_handshake(8, Security::None, b"");
    all.push(99);
    s.feed(&all).unwrap();
    assert_eq!(s.next_event(), Some(Event::ClientInit { shared: true }));
    s.server_init(WIDTH, HEIGHT);
    assert_eq!(s.phase(), Phase::Closed);
    assert_eq!(s.feed(&[]), Err(Error::UnknownMessage(99)));
    assert_eq!(s.feed(&[]), Err(Error::Closed));
}

#[test]
fn backlog_is_bounded() {
    let mut s = fresh(Security::None);
    s.feed(&client_handshake(8, Security::None, b"")).unwrap();
    let _ = s.take_output();
    // Waiting for server_init: at most MAX_BACKLOG bytes are held.
    s.feed(&vec![4u8; rfb::MAX_BACKLOG]).unwrap();
    assert_eq!(s.buffered_input_len(), rfb::MAX_BACKLOG);
    assert_eq!(s.feed(&[4]), Err(Error::BacklogOverflow));
    assert_eq!(s.phase(), Phase::Closed);
    assert_eq!(s.buffered_input_len(), 0);
}
