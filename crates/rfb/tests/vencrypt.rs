//! VeNCrypt (security type 19): negotiation, the TLS pause, and the inner
//! authentication of every subtype, at byte level.

mod common;

use common::*;
use rfb::{
    Error, Event, InnerAuth, MAX_PLAIN_PASSWORD, MAX_PLAIN_USERNAME, MAX_UNIT, Phase, Security,
    ServerSession, VencryptSubtype,
};

fn vencrypt(sub: VencryptSubtype) -> Security {
    Security::VeNCrypt(sub)
}

/// A session that has sent [1, 19] to a client speaking 3.`minor`.
fn offered(sub: VencryptSubtype, minor: u8) -> ServerSession {
    let mut s = ServerSession::new(cfg(vencrypt(sub)));
    s.feed(&version(minor)).unwrap();
    assert_eq!(s.take_output(), b"RFB 003.008\n\x01\x13");
    assert_eq!(s.phase(), Phase::Security);
    s
}

/// A session waiting for the client's subtype choice.
fn at_subtype(sub: VencryptSubtype, minor: u8) -> ServerSession {
    let mut s = offered(sub, minor);
    s.feed(&[19, 0, 2]).unwrap();
    let mut expect = vec![0, 2, 0, 1];
    expect.extend(u32be(sub.code()));
    assert_eq!(s.take_output(), expect);
    assert_eq!(s.phase(), Phase::VeNCrypt);
    s
}

/// A session past `tls_established` for a Plain subtype.
fn at_plain(minor: u8) -> ServerSession {
    let mut s = at_subtype(VencryptSubtype::X509Plain, minor);
    s.feed(&u32be(262)).unwrap();
    assert_eq!(s.next_event(), Some(Event::StartTls));
    s.tls_established();
    assert_eq!(s.take_output(), [1]);
    assert_eq!(s.phase(), Phase::PlainAuth);
    s
}

/// Everything the server sends for a good handshake: (before TLS, inside TLS).
fn server_bytes(sub: VencryptSubtype) -> (Vec<u8>, Vec<u8>) {
    let mut before = b"RFB 003.008\n".to_vec();
    before.extend([1, 19, 0, 2, 0, 1]);
    before.extend(u32be(sub.code()));
    before.push(1);
    let mut inside = Vec::new();
    if sub.inner_auth() == InnerAuth::Vnc {
        inside.extend_from_slice(&CHALLENGE);
    }
    inside.extend(u32be(0));
    inside.extend(server_init_bytes());
    (before, inside)
}

fn expected_events(sub: VencryptSubtype) -> Vec<Event> {
    let mut v = vec![Event::StartTls];
    match sub.inner_auth() {
        InnerAuth::None => {}
        InnerAuth::Vnc => v.push(Event::VncAuthResponse(crypto::vnc_auth_response(
            PASSWORD, &CHALLENGE,
        ))),
        InnerAuth::Plain => v.push(Event::PlainAuth {
            username: USERNAME.into(),
            password: rfb::Zeroizing::new(PASSWORD.to_vec()),
        }),
    }
    v.push(Event::ClientInit { shared: true });
    v
}

fn failure_with_reason(minor: u8) -> Vec<u8> {
    let mut v = u32be(1);
    if minor >= 8 {
        v.extend(u32be(21));
        v.extend_from_slice(b"Authentication failed");
    }
    v
}

#[test]
fn subtype_codes_and_names() {
    let codes: Vec<u32> = VencryptSubtype::ALL.iter().map(|s| s.code()).collect();
    assert_eq!(codes, [257, 258, 259, 260, 261, 262]);
    for sub in VencryptSubtype::ALL {
        assert_eq!(VencryptSubtype::from_code(sub.code()), Some(sub));
        assert_eq!(vencrypt(sub).code(), 19);
    }
    for code in [0, 2, 19, 256, 263, 264, u32::MAX] {
        assert_eq!(VencryptSubtype::from_code(code), None, "{code}");
    }
    let names: Vec<&str> = VencryptSubtype::ALL.iter().map(|s| s.qapi_name()).collect();
    assert_eq!(
        names,
        [
            "tls-none",
            "tls-vnc",
            "tls-plain",
            "x509-none",
            "x509-vnc",
            "x509-plain"
        ]
    );
    let x509: Vec<bool> = VencryptSubtype::ALL.iter().map(|s| s.is_x509()).collect();
    assert_eq!(x509, [false, false, false, true, true, true]);
}

#[test]
fn full_exchange_every_subtype_step_by_step() {
    for minor in [7u8, 8] {
        for sub in VencryptSubtype::ALL {
            let ctx = format!("{sub:?} 3.{minor}");
            let mut s = at_subtype(sub, minor);
            s.feed(&u32be(sub.code())).unwrap();
            assert_eq!(s.take_output(), [1], "{ctx}: accept");
            assert_eq!(s.next_event(), Some(Event::StartTls), "{ctx}");
            assert_eq!(s.next_event(), None);
            assert_eq!(s.phase(), Phase::StartTls);
            assert!(s.awaiting_tls());
            s.tls_established();
            assert!(!s.awaiting_tls());
            match sub.inner_auth() {
                InnerAuth::None => {
                    // SecurityResult OK on 3.7 too (QEMU), then ClientInit.
                    assert_eq!(s.take_output(), u32be(0), "{ctx}");
                    assert_eq!(s.phase(), Phase::ClientInit);
                }
                InnerAuth::Vnc => {
                    assert_eq!(s.take_output(), CHALLENGE, "{ctx}");
                    assert_eq!(s.phase(), Phase::VncAuth);
                    let r = crypto::vnc_auth_response(PASSWORD, &CHALLENGE);
                    s.feed(&r).unwrap();
                    assert_eq!(s.next_event(), Some(Event::VncAuthResponse(r)));
                    assert!(s.awaiting_auth_result());
                    s.auth_result(Ok(()));
                    assert_eq!(s.take_output(), u32be(0), "{ctx}");
                }
                InnerAuth::Plain => {
                    assert!(!s.has_output(), "{ctx}: Plain waits for the client");
                    assert_eq!(s.phase(), Phase::PlainAuth);
                    s.feed(&plain_creds(USERNAME.as_bytes(), PASSWORD)).unwrap();
                    let Some(Event::PlainAuth { username, password }) = s.next_event() else {
                        panic!("{ctx}: no PlainAuth");
                    };
                    assert_eq!(username, USERNAME);
                    assert_eq!(password.as_slice(), PASSWORD);
                    assert!(s.awaiting_auth_result());
                    assert_eq!(s.phase(), Phase::PlainAuth);
                    s.auth_result(Ok(()));
                    assert_eq!(s.take_output(), u32be(0), "{ctx}");
                }
            }
            assert_eq!(s.phase(), Phase::ClientInit, "{ctx}");
            s.feed(&[0]).unwrap();
            assert_eq!(s.next_event(), Some(Event::ClientInit { shared: false }));
            s.server_init(WIDTH, HEIGHT);
            assert_eq!(s.take_output(), server_init_bytes());
            assert_eq!(s.phase(), Phase::Normal, "{ctx}");
        }
    }
}

#[test]
fn every_split_of_every_subtype_gives_the_same_bytes() {
    for minor in [7u8, 8] {
        for sub in VencryptSubtype::ALL {
            let (before, inside) = client_handshake_parts(minor, vencrypt(sub), PASSWORD);
            let (out_before, out_inside) = server_bytes(sub);
            let expect_out = [out_before, out_inside].concat();
            let expect_events = expected_events(sub);
            for i in 0..=before.len() {
                for j in 0..=inside.len() {
                    let mut s = ServerSession::new(cfg(vencrypt(sub)));
                    let chunks = [&before[..i], &before[i..], &inside[..j], &inside[j..]];
                    let (events, out, err) = drive(&mut s, chunks);
                    let ctx = format!("{sub:?} 3.{minor} cut at {i}/{j}");
                    assert_eq!(err, None, "{ctx}");
                    assert_eq!(events, expect_events, "{ctx}");
                    assert_eq!(out, expect_out, "{ctx}");
                    assert_eq!(s.phase(), Phase::Normal, "{ctx}");
                }
            }
            // And one byte at a time.
            let mut s = ServerSession::new(cfg(vencrypt(sub)));
            let (events, out, err) = drive(&mut s, before.chunks(1).chain(inside.chunks(1)));
            assert_eq!((events, out, err), (expect_events, expect_out, None));
        }
    }
}

#[test]
fn vencrypt_version_other_than_0_2_gets_1_and_closes() {
    for (major, minor) in [(0u8, 1u8), (0, 3), (255, 255), (1, 2), (2, 0), (0, 0)] {
        let mut s = offered(VencryptSubtype::X509Vnc, 8);
        s.feed(&[19]).unwrap();
        assert_eq!(s.take_output(), [0, 2]);
        assert_eq!(s.phase(), Phase::VeNCrypt);
        let err = s.feed(&[major, minor]).unwrap_err();
        assert_eq!(err, Error::VencryptVersion { major, minor });
        assert_eq!(s.take_output(), [1], "{major}.{minor}");
        assert_eq!(s.phase(), Phase::Closed);
        assert_eq!(s.next_event(), None);
        assert_eq!(s.feed(&[0, 2]), Err(Error::Closed));
        assert!(!s.has_output());
    }
}

#[test]
fn unoffered_subtype_gets_0_and_closes() {
    let offered_sub = VencryptSubtype::X509Vnc;
    let mut choices = vec![0u32, 1, 2, 19, 256, 263, 264, 0x0100_0105, u32::MAX];
    choices.extend(
        VencryptSubtype::ALL
            .iter()
            .map(|s| s.code())
            .filter(|&c| c != offered_sub.code()),
    );
    for minor in [7u8, 8] {
        for &chosen in &choices {
            let mut s = at_subtype(offered_sub, minor);
            let err = s.feed(&u32be(chosen)).unwrap_err();
            assert_eq!(
                err,
                Error::VencryptSubtypeMismatch {
                    offered: 261,
                    chosen
                }
            );
            assert_eq!(s.take_output(), [0], "{chosen}");
            assert_eq!(s.next_event(), None, "never StartTls");
            assert_eq!(s.phase(), Phase::Closed);
            s.tls_established();
            assert!(!s.has_output());
            assert_eq!(s.phase(), Phase::Closed);
        }
    }
}

#[test]
fn rfb_3_3_client_cannot_use_vencrypt() {
    // QEMU: "Unsupported auth 19 for protocol 3.3": U32 0 (invalid) and close.
    for v in [b"RFB 003.003\n", b"RFB 003.004\n", b"RFB 003.005\n"] {
        let mut s = ServerSession::new(cfg(vencrypt(VencryptSubtype::TlsNone)));
        let _ = s.take_output();
        assert_eq!(s.feed(v), Err(Error::SecurityNeedsRfb37(19)));
        assert_eq!(s.take_output(), u32be(0));
        assert_eq!(s.phase(), Phase::Closed);
        assert_eq!(s.next_event(), None);
    }
}

#[test]
fn cve_2006_2450_class_other_type_when_vencrypt_offered() {
    // Picking None (or VNC auth) instead of VeNCrypt must never reach ClientInit
    // or start anything.
    for minor in [7u8, 8] {
        for chosen in [1u8, 2, 0, 18, 20, 255] {
            let mut s = offered(VencryptSubtype::X509None, minor);
            let (events, out, err) = drive(&mut s, [&[chosen, 1, 0, 0, 0, 0][..]]);
            assert_eq!(
                err,
                Some(Error::SecurityTypeMismatch {
                    offered: 19,
                    chosen
                })
            );
            assert!(events.is_empty(), "{events:?}");
            assert_eq!(out, failure_with_reason(minor));
            assert_eq!(s.phase(), Phase::Closed);
        }
    }
}

#[test]
fn start_tls_pauses_the_session() {
    let mut s = at_subtype(VencryptSubtype::TlsVnc, 8);
    s.feed(&u32be(258)).unwrap();
    assert_eq!(s.take_output(), [1]);
    assert_eq!(s.phase(), Phase::StartTls);
    // Nothing else answers while paused, and empty feeds are harmless.
    s.auth_result(Ok(()));
    s.server_init(1, 1);
    s.feed(&[]).unwrap();
    assert!(!s.has_output());
    assert_eq!(s.phase(), Phase::StartTls);
    assert_eq!(s.next_event(), Some(Event::StartTls));
    // A TLS ClientHello fed as if it were protocol data closes the session.
    assert_eq!(s.feed(&[0x16, 3, 1, 0, 0x2a]), Err(Error::DataBeforeTls));
    assert_eq!(s.phase(), Phase::Closed);
    assert_eq!(s.buffered_input_len(), 0);
    s.tls_established();
    assert!(!s.has_output(), "no challenge after close");
}

#[test]
fn data_fed_with_the_subtype_is_an_error_and_cancels_start_tls() {
    for sub in VencryptSubtype::ALL {
        let mut s = at_subtype(sub, 8);
        let mut bytes = u32be(sub.code());
        bytes.push(1); // e.g. a ClientInit sent before TLS
        assert_eq!(s.feed(&bytes), Err(Error::DataBeforeTls));
        assert_eq!(s.next_event(), None, "{sub:?}: StartTls withdrawn");
        assert_eq!(s.take_output(), [1]);
        assert_eq!(s.phase(), Phase::Closed);
    }
}

#[test]
fn tls_established_is_ignored_unless_waiting() {
    let mut s = ServerSession::new(cfg(vencrypt(VencryptSubtype::TlsNone)));
    let _ = s.take_output();
    s.tls_established();
    assert!(!s.has_output());
    assert_eq!(s.phase(), Phase::Version);
    let mut s = at_subtype(VencryptSubtype::TlsNone, 8);
    s.tls_established();
    assert!(!s.has_output());
    assert_eq!(s.phase(), Phase::VeNCrypt);
    // Non-VeNCrypt sessions never wait for TLS.
    let mut s = normal_session(Security::None, 8);
    s.tls_established();
    assert!(!s.has_output());
}

#[test]
fn vnc_subtype_failure_sends_reason_on_3_8_only() {
    for minor in [7u8, 8] {
        let mut s = ServerSession::new(cfg(vencrypt(VencryptSubtype::X509Vnc)));
        let (before, inside) =
            client_handshake_parts(minor, vencrypt(VencryptSubtype::X509Vnc), b"wrong");
        let (events, out, err) = drive(&mut s, [&before[..], &inside[..]]);
        assert_eq!(err, Some(Error::Closed));
        assert_eq!(events.len(), 2, "StartTls and the response; no ClientInit");
        let (out_before, _) = server_bytes(VencryptSubtype::X509Vnc);
        let expect = [out_before, CHALLENGE.to_vec(), failure_with_reason(minor)].concat();
        assert_eq!(out, expect);
    }
}

#[test]
fn plain_wrong_password_is_rejected_by_the_caller() {
    for minor in [7u8, 8] {
        let mut s = at_plain(minor);
        let mut bytes = plain_creds(b"alice", b"guess");
        bytes.push(1); // ClientInit, held until the answer and then dropped
        s.feed(&bytes).unwrap();
        let (events, out, _) = drive(&mut s, [&[][..]]);
        assert!(
            matches!(&events[..], [Event::PlainAuth { .. }]),
            "{events:?}"
        );
        assert_eq!(out, failure_with_reason(minor));
        assert_eq!(s.phase(), Phase::Closed);
    }
}

#[test]
fn plain_input_after_credentials_is_held_until_answered() {
    let mut s = at_plain(8);
    let mut bytes = plain_creds(USERNAME.as_bytes(), PASSWORD);
    bytes.push(1);
    bytes.extend(set_encodings_msg(&[0]));
    s.feed(&bytes).unwrap();
    assert!(matches!(s.next_event(), Some(Event::PlainAuth { .. })));
    assert_eq!(s.next_event(), None);
    assert_eq!(s.buffered_input_len(), 1 + 8);
    s.auth_result(Ok(()));
    assert_eq!(s.next_event(), Some(Event::ClientInit { shared: true }));
    s.server_init(WIDTH, HEIGHT);
    assert_eq!(s.next_event(), Some(Event::SetEncodings(vec![0])));
}

#[test]
fn plain_empty_credentials_are_passed_on() {
    let mut s = at_plain(8);
    s.feed(&plain_creds(b"", b"")).unwrap();
    let Some(Event::PlainAuth { username, password }) = s.next_event() else {
        panic!("no PlainAuth");
    };
    assert!(username.is_empty() && password.is_empty());
}

#[test]
fn plain_limits_are_inclusive() {
    let user = "u".repeat(usize::try_from(MAX_PLAIN_USERNAME).unwrap());
    let pw = vec![b'p'; usize::try_from(MAX_PLAIN_PASSWORD).unwrap()];
    let mut s = at_plain(8);
    let bytes = plain_creds(user.as_bytes(), &pw);
    // Split so that the credentials are held partially.
    s.feed(&bytes[..bytes.len() - 1]).unwrap();
    assert_eq!(s.buffered_input_len(), bytes.len() - 1 - 8);
    s.feed(&bytes[bytes.len() - 1..]).unwrap();
    let Some(Event::PlainAuth { username, password }) = s.next_event() else {
        panic!("no PlainAuth");
    };
    assert_eq!(username, user);
    assert_eq!(password.as_slice(), pw);
    assert_eq!(s.buffered_input_len(), 0);
}

#[test]
fn cve_2017_7394_class_plain_lengths_are_checked_before_buffering() {
    let cases = [
        (
            MAX_PLAIN_USERNAME + 1,
            0,
            Error::PlainUsernameTooLong(MAX_PLAIN_USERNAME + 1),
        ),
        (u32::MAX, 0, Error::PlainUsernameTooLong(u32::MAX)),
        (
            0,
            MAX_PLAIN_PASSWORD + 1,
            Error::PlainPasswordTooLong(MAX_PLAIN_PASSWORD + 1),
        ),
        (5, u32::MAX, Error::PlainPasswordTooLong(u32::MAX)),
        (u32::MAX, u32::MAX, Error::PlainUsernameTooLong(u32::MAX)),
    ];
    for minor in [7u8, 8] {
        for (ulen, plen, want) in cases.clone() {
            let mut s = at_plain(minor);
            let mut header = u32be(ulen);
            header.extend(u32be(plen));
            for b in &header[..7] {
                s.feed(&[*b]).unwrap();
                assert!(s.buffered_input_len() <= MAX_UNIT);
            }
            assert_eq!(s.feed(&header[7..]), Err(want));
            assert_eq!(s.buffered_input_len(), 0);
            assert_eq!(s.take_output(), failure_with_reason(minor));
            assert_eq!(s.phase(), Phase::Closed);
            assert_eq!(s.next_event(), None);
        }
    }
}

#[test]
fn plain_buffering_stays_bounded_while_streaming() {
    let mut s = at_plain(8);
    let mut header = u32be(MAX_PLAIN_USERNAME);
    header.extend(u32be(MAX_PLAIN_PASSWORD));
    s.feed(&header).unwrap();
    let bound = usize::try_from(MAX_PLAIN_USERNAME + MAX_PLAIN_PASSWORD).unwrap();
    let mut fed = 0;
    while s.next_event().is_none() {
        s.feed(b"aaaaaaa").unwrap();
        fed += 7;
        assert!(s.buffered_input_len() <= bound.min(fed) + MAX_UNIT);
        assert!(
            fed <= bound + 7,
            "the event must come once both are complete"
        );
    }
    // The surplus past the credentials is held for after the answer.
    assert!(s.awaiting_auth_result());
    assert_eq!(s.buffered_input_len(), fed - bound);
}

#[test]
fn plain_username_must_be_utf8() {
    for minor in [7u8, 8] {
        for bad in [&b"\xff\xfe"[..], b"ab\xc3", b"\xed\xa0\x80"] {
            let mut s = at_plain(minor);
            let bytes = plain_creds(bad, PASSWORD);
            let err = s.feed(&bytes).unwrap_err();
            assert_eq!(err, Error::PlainUsernameNotUtf8);
            assert_eq!(s.next_event(), None);
            assert_eq!(s.take_output(), failure_with_reason(minor));
            assert_eq!(s.phase(), Phase::Closed);
        }
    }
    // A non-UTF-8 password is just bytes.
    let mut s = at_plain(8);
    s.feed(&plain_creds(b"alice", b"\xff\x00")).unwrap();
    assert!(matches!(s.next_event(), Some(Event::PlainAuth { .. })));
}

#[test]
fn plain_password_never_appears_in_debug_output() {
    let mut s = at_plain(8);
    let secret = b"hunter2-very-secret";
    let bytes = plain_creds(b"alice", secret);
    s.feed(&bytes[..bytes.len() - 2]).unwrap();
    let mid = format!("{s:?}");
    assert!(!mid.contains("hunter2"), "{mid}");
    assert!(!mid.contains(&format!("{:?}", &secret[..4])), "{mid}");
    s.feed(&bytes[bytes.len() - 2..]).unwrap();
    let ev = s.next_event().unwrap();
    let text = format!("{ev:?}");
    assert!(
        text.contains("alice") && !text.contains("hunter2"),
        "{text}"
    );
}
