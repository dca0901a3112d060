//! Normal-phase client messages, splitting, and the CVE regressions.

mod common;

use common::*;
use rfb::{Error, Event, MAX_CUT_TEXT, MAX_ENCODINGS, Phase, PixelFormat, Security, ServerSession};

const BGR233: PixelFormat = PixelFormat {
    bpp: 8,
    depth: 8,
    big_endian: false,
    true_colour: true,
    red_max: 7,
    green_max: 7,
    blue_max: 3,
    red_shift: 0,
    green_shift: 3,
    blue_shift: 6,
};

/// A full client conversation and the events it must produce.
fn script() -> (Vec<u8>, Vec<Event>) {
    let mut bytes = client_handshake(8, Security::VncAuth, PASSWORD);
    let mut events = vec![
        Event::VncAuthResponse(crypto::vnc_auth_response(PASSWORD, &CHALLENGE)),
        Event::ClientInit { shared: true },
    ];
    bytes.extend(set_pixel_format_msg(&BGR233));
    events.push(Event::SetPixelFormat(BGR233));
    bytes.extend(set_encodings_msg(&[5, 0, -223, 0x574d_5669, 5]));
    events.push(Event::SetEncodings(vec![5, 0, -223, 0x574d_5669]));
    bytes.extend([3, 0, 0, 1, 0, 2, 0x01, 0x00, 0x00, 0xc8]);
    events.push(Event::UpdateRequest {
        incremental: false,
        x: 1,
        y: 2,
        w: 256,
        h: 200,
    });
    bytes.extend([4, 1, 0xaa, 0xbb, 0x00, 0x00, 0xff, 0x0d]);
    events.push(Event::Key {
        down: true,
        keysym: 0xff0d,
    });
    bytes.extend([5, 0x05, 0x01, 0x02, 0xff, 0xff]);
    events.push(Event::Pointer {
        buttons: 5,
        x: 0x0102,
        y: 0xffff,
    });
    bytes.extend([6, 9, 9, 9, 0, 0, 0, 3, b'a', 0xe9, b'\n']);
    events.push(Event::CutText(vec![b'a', 0xe9, b'\n']));
    bytes.extend([6, 0, 0, 0, 0, 0, 0, 0]);
    events.push(Event::CutText(Vec::new()));
    bytes.extend(set_encodings_msg(&[]));
    events.push(Event::SetEncodings(Vec::new()));
    bytes.extend([3, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    events.push(Event::UpdateRequest {
        incremental: true,
        x: 0,
        y: 0,
        w: 0,
        h: 0,
    });
    (bytes, events)
}

#[test]
fn several_messages_in_one_feed() {
    let (bytes, expect) = script();
    let mut s = ServerSession::new(cfg(Security::VncAuth));
    let (events, out, err) = drive(&mut s, [&bytes[..]]);
    assert_eq!(err, None);
    assert_eq!(events, expect);
    assert_eq!(s.phase(), Phase::Normal);
    assert!(out.ends_with(&server_init_bytes()));
    assert_eq!(s.buffered_input_len(), 0);
    assert_eq!(s.encodings(), &[] as &[i32]);
    assert_eq!(s.pixel_format(), BGR233);
}

#[test]
fn every_split_point_gives_the_same_events() {
    let (bytes, expect) = script();
    let mut whole = ServerSession::new(cfg(Security::VncAuth));
    let (_, whole_out, _) = drive(&mut whole, [&bytes[..]]);

    let mut s = ServerSession::new(cfg(Security::VncAuth));
    let (events, out, err) = drive(&mut s, bytes.chunks(1));
    assert_eq!(err, None);
    assert_eq!(events, expect);
    assert_eq!(out, whole_out);

    for cut in 0..=bytes.len() {
        let mut s = ServerSession::new(cfg(Security::VncAuth));
        let (events, out, err) = drive(&mut s, [&bytes[..cut], &bytes[cut..]]);
        assert_eq!(err, None, "cut {cut}");
        assert_eq!(events, expect, "cut {cut}");
        assert_eq!(out, whole_out, "cut {cut}");
    }
}

#[test]
fn set_encodings_keeps_first_distinct_entries() {
    let mut s = normal_session(Security::None, 8);
    let list: Vec<i32> = (0..200).map(|i| -i).collect();
    let mut with_dups = vec![7, 7, 7];
    with_dups.extend(&list);
    s.feed(&set_encodings_msg(&with_dups)).unwrap();
    let Some(Event::SetEncodings(got)) = s.next_event() else {
        panic!("no SetEncodings event");
    };
    assert_eq!(got.len(), MAX_ENCODINGS);
    assert_eq!(got[0], 7);
    assert_eq!(&got[1..], &list[..MAX_ENCODINGS - 1]);
    assert_eq!(s.encodings(), &got[..]);
    // -223 was beyond the kept entries.
    assert!(!s.wants_desktop_size());
    // The session is still in sync: a key event right after is decoded.
    s.feed(&[4, 0, 0, 0, 0, 0, 0, 0x41]).unwrap();
    assert_eq!(
        s.next_event(),
        Some(Event::Key {
            down: false,
            keysym: 0x41
        })
    );
}

#[test]
fn set_encodings_huge_count_truncated_body_stays_bounded() {
    let mut s = normal_session(Security::None, 8);
    s.feed(&[2, 0, 0xff, 0xff]).unwrap();
    for _ in 0..1000 {
        s.feed(&[0, 0, 0]).unwrap();
        assert!(s.buffered_input_len() <= rfb::MAX_UNIT);
    }
    assert_eq!(s.next_event(), None);
    assert_eq!(s.phase(), Phase::Normal);
}

#[test]
fn cve_2008_2382_set_encodings_count_zero() {
    let mut s = normal_session(Security::None, 8);
    s.feed(&set_encodings_msg(&[0, -223])).unwrap();
    assert!(s.wants_desktop_size());
    s.feed(&[2, 0, 0, 0]).unwrap();
    assert_eq!(s.next_event(), Some(Event::SetEncodings(vec![0, -223])));
    assert_eq!(s.next_event(), Some(Event::SetEncodings(Vec::new())));
    assert!(s.encodings().is_empty());
    // Still responsive.
    s.feed(&[3, 0, 0, 0, 0, 0, 0, 1, 0, 1]).unwrap();
    assert!(matches!(s.next_event(), Some(Event::UpdateRequest { .. })));
}

#[test]
fn cve_2014_7815_set_pixel_format_bpp_zero_disconnects() {
    for bpp in [0u8, 1, 24, 255] {
        let mut s = normal_session(Security::None, 8);
        let mut pf = PixelFormat::NATIVE.to_bytes();
        pf[0] = bpp;
        let mut msg = vec![0, 0, 0, 0];
        msg.extend(pf);
        msg.extend([3, 0, 0, 0, 0, 0, 0, 10, 0, 10]);
        assert_eq!(s.feed(&msg), Err(Error::BadBitsPerPixel(bpp)));
        assert_eq!(s.phase(), Phase::Closed);
        assert_eq!(
            s.next_event(),
            None,
            "the update request after it is not parsed"
        );
        assert_eq!(s.pixel_format(), PixelFormat::NATIVE);
        assert!(!s.has_output());
    }
}

#[test]
fn colour_map_pixel_format_disconnects() {
    let mut s = normal_session(Security::None, 8);
    let mut pf = BGR233.to_bytes();
    pf[3] = 0;
    let mut msg = vec![0, 0, 0, 0];
    msg.extend(pf);
    assert_eq!(s.feed(&msg), Err(Error::ColourMapUnsupported));
    assert_eq!(s.phase(), Phase::Closed);
}

#[test]
fn cve_2015_8504_pixel_format_max_zero_is_255() {
    let mut s = normal_session(Security::None, 8);
    let mut pf = PixelFormat::NATIVE.to_bytes();
    pf[0] = 16;
    pf[4..10].fill(0);
    pf[10..13].copy_from_slice(&[8, 4, 0]);
    let mut msg = vec![0, 0, 0, 0];
    msg.extend(pf);
    s.feed(&msg).unwrap();
    let Some(Event::SetPixelFormat(got)) = s.next_event() else {
        panic!("no SetPixelFormat event");
    };
    assert_eq!((got.red_max, got.green_max, got.blue_max), (255, 255, 255));
}

#[test]
fn cve_2015_5239_cut_text_length_ffffffff_disconnects() {
    let mut s = normal_session(Security::None, 8);
    let r = s.feed(&[6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(r, Err(Error::CutTextTooLong(u32::MAX)));
    assert_eq!(s.phase(), Phase::Closed);
    assert_eq!(s.buffered_input_len(), 0);
    assert!(!s.has_output());
}

#[test]
fn cut_text_limit_is_exact() {
    let mut s = normal_session(Security::None, 8);
    let over = (MAX_CUT_TEXT + 1).to_be_bytes();
    assert_eq!(
        s.feed(&[6, 0, 0, 0, over[0], over[1], over[2], over[3]]),
        Err(Error::CutTextTooLong(MAX_CUT_TEXT + 1))
    );

    let mut s = normal_session(Security::None, 8);
    let mut msg = vec![6, 0, 0, 0];
    msg.extend(MAX_CUT_TEXT.to_be_bytes());
    s.feed(&msg).unwrap();
    let body = vec![b'x'; usize::try_from(MAX_CUT_TEXT).unwrap()];
    for part in body.chunks(100_000) {
        s.feed(part).unwrap();
        assert!(s.buffered_input_len() <= rfb::MAX_BUFFERED_INPUT);
    }
    assert_eq!(s.next_event(), Some(Event::CutText(body)));
    assert_eq!(s.buffered_input_len(), 0);
}

#[test]
fn cve_2023_6683_zero_length_cut_text_ok() {
    let mut s = normal_session(Security::None, 8);
    s.feed(&[6, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    assert_eq!(s.next_event(), Some(Event::CutText(Vec::new())));
    assert_eq!(s.next_event(), Some(Event::CutText(Vec::new())));
    assert_eq!(s.phase(), Phase::Normal);
}

#[test]
fn cve_2018_7225_negative_cut_text_length_disconnects() {
    // INT_MIN and -1 as signed lengths (ExtendedClipboard is not negotiated).
    for len in [0x8000_0000u32, 0xffff_fffc, 0x7fff_ffff] {
        let mut s = normal_session(Security::None, 8);
        let mut msg = vec![6, 0, 0, 0];
        msg.extend(len.to_be_bytes());
        assert_eq!(s.feed(&msg), Err(Error::CutTextTooLong(len)));
    }
}

#[test]
fn cve_2014_6054_unknown_message_type_disconnects() {
    for t in [
        1u8, 7, 8, 11, 15, 127, 150, 248, 250, 251, 252, 253, 254, 255,
    ] {
        let mut s = normal_session(Security::None, 8);
        // SetScale with factor 0 would be [8, 0]; it must not be parsed.
        assert_eq!(
            s.feed(&[t, 0, 0, 0]),
            Err(Error::UnknownMessage(t)),
            "type {t}"
        );
        assert_eq!(s.phase(), Phase::Closed);
        assert_eq!(s.next_event(), None);
        assert!(!s.has_output());
    }
}

#[test]
fn closed_session_ignores_everything() {
    let mut s = normal_session(Security::None, 8);
    assert!(s.feed(&[200]).is_err());
    assert_eq!(s.feed(&[4, 1, 0, 0, 0, 0, 0, 1]), Err(Error::Closed));
    assert_eq!(s.next_event(), None);
    let fb = [0u32; 4];
    let framebuffer = rfb::Framebuffer {
        pixels: &fb,
        width: 2,
        height: 2,
        stride: 2,
    };
    s.write_update(&framebuffer, &[rfb::Rect::new(0, 0, 2, 2)]);
    assert!(!s.has_output());
}

#[test]
fn messages_before_server_init_are_processed_after_it() {
    let mut s = ServerSession::new(cfg(Security::None));
    let mut bytes = client_handshake(3, Security::None, b"");
    bytes.extend(set_pixel_format_msg(&BGR233));
    bytes.extend([5, 1, 0, 10, 0, 20]);
    s.feed(&bytes).unwrap();
    assert_eq!(s.next_event(), Some(Event::ClientInit { shared: true }));
    assert_eq!(s.next_event(), None);
    assert_eq!(s.pixel_format(), PixelFormat::NATIVE);
    s.server_init(WIDTH, HEIGHT);
    assert_eq!(s.next_event(), Some(Event::SetPixelFormat(BGR233)));
    assert_eq!(
        s.next_event(),
        Some(Event::Pointer {
            buttons: 1,
            x: 10,
            y: 20
        })
    );
    // ServerInit still announces the native format.
    assert!(s.take_output().ends_with(&server_init_bytes()));
}
