//! DesktopSize / ExtendedDesktopSize announcements and SetDesktopSize (type 251).

mod common;

use common::*;
use rfb::{DesktopSizeStatus, Error, Event, MAX_SCREENS, Phase, Security, ServerSession};

/// Reason 0: a change on the server, or the answer to a non-incremental request.
const SERVER: u16 = 0;
/// Reason 1: the answer to this client's SetDesktopSize.
const THIS_CLIENT: u16 = 1;

/// A Normal-phase session whose client listed `encodings`.
fn session_listing(encodings: &[i32]) -> ServerSession {
    let mut s = normal_session(Security::None, 8);
    s.feed(&set_encodings_msg(encodings)).unwrap();
    assert_eq!(
        s.next_event(),
        Some(Event::SetEncodings(encodings.to_vec()))
    );
    s
}

/// A session whose client listed Raw and ExtendedDesktopSize.
fn ext_session() -> ServerSession {
    session_listing(&[0, -308])
}

/// Feeds `bytes`, drains every event without answering, returns (events, output).
fn feed_drain(s: &mut ServerSession, bytes: &[u8]) -> (Vec<Event>, Vec<u8>) {
    s.feed(bytes).unwrap();
    let mut events = Vec::new();
    while let Some(ev) = s.next_event() {
        events.push(ev);
    }
    (events, s.take_output())
}

/// Feeds one SetDesktopSize that the session must refuse by itself with `status`.
fn assert_refused_by_session(msg: &[u8], status: DesktopSizeStatus) {
    let mut s = ext_session();
    let (events, out) = feed_drain(&mut s, msg);
    assert_eq!(events, vec![], "no event for a refused layout");
    assert_eq!(
        out,
        ext_desktop_size_bytes(THIS_CLIENT, status.code(), WIDTH, HEIGHT)
    );
    assert_eq!(s.phase(), Phase::Normal);
    // Nothing is owed to the caller: a reply now is refused.
    assert!(!s.desktop_size_reply(DesktopSizeStatus::Prohibited));
    assert!(!s.has_output());
    // The connection goes on: the next message parses.
    let (events, _) = feed_drain(&mut s, &[4, 1, 0, 0, 0, 0, 0, 0x41]);
    assert_eq!(
        events,
        vec![Event::Key {
            down: true,
            keysym: 0x41
        }]
    );
}

#[test]
fn status_codes_match_rfbproto() {
    assert_eq!(DesktopSizeStatus::Prohibited.code(), 1);
    assert_eq!(DesktopSizeStatus::OutOfResources.code(), 2);
    assert_eq!(DesktopSizeStatus::InvalidLayout.code(), 3);
    assert_eq!(DesktopSizeStatus::Forwarded.code(), 4);
    assert_eq!(rfb::encoding::EXTENDED_DESKTOP_SIZE, -308);
    assert_eq!(rfb::client_msg::SET_DESKTOP_SIZE, 251);
}

#[test]
fn resize_announced_with_extended_desktop_size_when_both_listed() {
    let mut s = session_listing(&[0, -223, -308]);
    assert!(s.wants_desktop_size());
    assert!(s.wants_extended_desktop_size());
    assert!(s.write_desktop_size(800, 600));
    assert_eq!(s.take_output(), ext_desktop_size_bytes(SERVER, 0, 800, 600));
}

#[test]
fn resize_announced_to_client_listing_only_extended_desktop_size() {
    let mut s = session_listing(&[-308]);
    assert!(!s.wants_desktop_size());
    assert!(s.write_desktop_size(1024, 768));
    assert_eq!(
        s.take_output(),
        ext_desktop_size_bytes(SERVER, 0, 1024, 768)
    );
}

#[test]
fn resize_not_announced_to_client_listing_neither() {
    let mut s = session_listing(&[0, 1]);
    assert!(!s.write_desktop_size(1024, 768));
    assert!(!s.has_output());
    // The size the client knows is still ServerInit's: a later -308 request
    // for the current layout reports it.
    s.feed(&set_encodings_msg(&[-308])).unwrap();
    let (_, out) = feed_drain(&mut s, &[3, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(out, ext_desktop_size_bytes(SERVER, 0, WIDTH, HEIGHT));
}

#[test]
fn non_incremental_update_request_answered_with_extended_desktop_size() {
    let mut s = ext_session();
    let request = [3, 0, 0, 0, 0, 0, 0, 10, 0, 10];
    let (events, out) = feed_drain(&mut s, &request);
    assert_eq!(
        events,
        vec![Event::UpdateRequest {
            incremental: false,
            x: 0,
            y: 0,
            w: 10,
            h: 10
        }]
    );
    assert_eq!(out, ext_desktop_size_bytes(SERVER, 0, WIDTH, HEIGHT));
    // Every one of them, with the size the client was last told.
    assert!(s.write_desktop_size(320, 200));
    let _ = s.take_output();
    let (_, out) = feed_drain(&mut s, &[request, request].concat());
    assert_eq!(
        out,
        [
            ext_desktop_size_bytes(SERVER, 0, 320, 200),
            ext_desktop_size_bytes(SERVER, 0, 320, 200)
        ]
        .concat()
    );
}

#[test]
fn extended_desktop_size_comes_before_the_update_request_event() {
    let mut s = ext_session();
    s.feed(&[3, 0, 0, 0, 0, 0, 0, 10, 0, 10]).unwrap();
    // Queued, not yet written: it is written as the queue is drained.
    assert!(!s.has_output());
    assert!(matches!(
        s.next_event(),
        Some(Event::UpdateRequest {
            incremental: false,
            ..
        })
    ));
    assert_eq!(
        s.take_output(),
        ext_desktop_size_bytes(SERVER, 0, WIDTH, HEIGHT)
    );
}

#[test]
fn incremental_update_request_gets_no_extended_desktop_size() {
    let mut s = ext_session();
    let (events, out) = feed_drain(&mut s, &[3, 1, 0, 0, 0, 0, 0, 10, 0, 10]);
    assert_eq!(events.len(), 1);
    assert!(out.is_empty());
}

#[test]
fn non_incremental_update_request_without_308_gets_no_extended_desktop_size() {
    let mut s = session_listing(&[0, -223]);
    let (events, out) = feed_drain(&mut s, &[3, 0, 0, 0, 0, 0, 0, 10, 0, 10]);
    assert_eq!(events.len(), 1);
    assert!(out.is_empty());
}

#[test]
fn set_desktop_size_before_negotiation_closes() {
    let msg = set_desktop_size_msg(800, 600, &[screen(0, 0, 0, 800, 600)]);
    for encodings in [&[][..], &[0, -223][..]] {
        let mut s = session_listing(encodings);
        assert_eq!(s.feed(&msg), Err(Error::UnknownMessage(251)));
        assert_eq!(s.phase(), Phase::Closed);
        assert_eq!(s.next_event(), None);
        assert!(!s.has_output());
    }
    // Listing -308 and then taking it back closes again.
    let mut s = ext_session();
    s.feed(&set_encodings_msg(&[0])).unwrap();
    assert_eq!(s.feed(&msg), Err(Error::UnknownMessage(251)));
}

#[test]
fn set_desktop_size_valid_layout_becomes_event_answered_by_caller() {
    let mut s = ext_session();
    let screens = vec![
        rfb::Screen {
            id: 7,
            x: 0,
            y: 0,
            w: 800,
            h: 600,
            flags: 0xdead_beef,
        },
        screen(9, 800, 0, 224, 600),
    ];
    let (events, out) = feed_drain(&mut s, &set_desktop_size_msg(1024, 600, &screens));
    assert_eq!(
        events,
        vec![Event::SetDesktopSize {
            width: 1024,
            height: 600,
            screens,
        }]
    );
    assert!(out.is_empty(), "the caller answers a valid request");
    assert!(s.desktop_size_reply(DesktopSizeStatus::Prohibited));
    assert_eq!(
        s.take_output(),
        ext_desktop_size_bytes(THIS_CLIENT, 1, WIDTH, HEIGHT)
    );
    // One answer per request.
    assert!(!s.desktop_size_reply(DesktopSizeStatus::Forwarded));
    assert!(!s.has_output());
}

#[test]
fn desktop_size_reply_forwarded_reports_size_last_announced() {
    let mut s = ext_session();
    assert!(s.write_desktop_size(720, 400));
    let _ = s.take_output();
    let (events, _) = feed_drain(
        &mut s,
        &set_desktop_size_msg(1280, 800, &[screen(0, 0, 0, 1280, 800)]),
    );
    assert_eq!(events.len(), 1);
    assert!(s.desktop_size_reply(DesktopSizeStatus::Forwarded));
    assert_eq!(
        s.take_output(),
        ext_desktop_size_bytes(THIS_CLIENT, 4, 720, 400)
    );
}

#[test]
fn desktop_size_reply_without_request_sends_nothing() {
    let mut s = ext_session();
    assert!(!s.desktop_size_reply(DesktopSizeStatus::Prohibited));
    assert!(!s.has_output());
    let mut before = ServerSession::new(cfg(Security::None));
    let _ = before.take_output();
    assert!(!before.desktop_size_reply(DesktopSizeStatus::Prohibited));
    assert!(!before.has_output());
}

#[test]
fn set_desktop_size_zero_size_invalid_layout() {
    for (w, h) in [(0, 0), (0, 600), (800, 0)] {
        assert_refused_by_session(
            &set_desktop_size_msg(w, h, &[screen(0, 0, 0, w, h)]),
            DesktopSizeStatus::InvalidLayout,
        );
    }
}

#[test]
fn set_desktop_size_over_maximum_invalid_layout() {
    let (mw, mh) = (MAX_DESKTOP_WIDTH, MAX_DESKTOP_HEIGHT);
    for (w, h) in [(mw + 1, mh), (mw, mh + 1), (u16::MAX, u16::MAX)] {
        assert_refused_by_session(
            &set_desktop_size_msg(w, h, &[screen(0, 0, 0, w, h)]),
            DesktopSizeStatus::InvalidLayout,
        );
    }
    // The maximum itself is a valid request.
    let mut s = ext_session();
    let (events, _) = feed_drain(
        &mut s,
        &set_desktop_size_msg(mw, mh, &[screen(0, 0, 0, mw, mh)]),
    );
    assert_eq!(events.len(), 1);
}

#[test]
fn set_desktop_size_zero_screens_invalid_layout() {
    assert_refused_by_session(
        &set_desktop_size_msg(800, 600, &[]),
        DesktopSizeStatus::InvalidLayout,
    );
}

#[test]
fn set_desktop_size_screen_outside_requested_size_invalid_layout() {
    for s in [
        screen(0, 0, 0, 801, 600),
        screen(0, 0, 0, 800, 601),
        screen(0, 1, 0, 800, 600),
        screen(0, 0, 600, 800, 1),
        screen(0, u16::MAX, u16::MAX, u16::MAX, u16::MAX),
    ] {
        assert_refused_by_session(
            &set_desktop_size_msg(800, 600, &[s]),
            DesktopSizeStatus::InvalidLayout,
        );
    }
}

#[test]
fn set_desktop_size_zero_size_screen_invalid_layout() {
    for s in [screen(0, 0, 0, 0, 600), screen(0, 0, 0, 800, 0)] {
        assert_refused_by_session(
            &set_desktop_size_msg(800, 600, &[s]),
            DesktopSizeStatus::InvalidLayout,
        );
    }
}

#[test]
fn set_desktop_size_overlapping_screens_invalid_layout() {
    for pair in [
        [screen(0, 0, 0, 400, 600), screen(1, 399, 0, 401, 600)],
        [screen(0, 0, 0, 800, 600), screen(1, 0, 0, 800, 600)],
        [screen(0, 100, 100, 10, 10), screen(1, 0, 0, 800, 600)],
    ] {
        assert_refused_by_session(
            &set_desktop_size_msg(800, 600, &pair),
            DesktopSizeStatus::InvalidLayout,
        );
    }
    // Touching screens do not overlap.
    let mut s = ext_session();
    let layout = [screen(0, 0, 0, 400, 600), screen(1, 400, 0, 400, 600)];
    let (events, _) = feed_drain(&mut s, &set_desktop_size_msg(800, 600, &layout));
    assert_eq!(events.len(), 1);
}

#[test]
fn set_desktop_size_duplicate_screen_ids_invalid_layout() {
    assert_refused_by_session(
        &set_desktop_size_msg(
            800,
            600,
            &[screen(5, 0, 0, 400, 600), screen(5, 400, 0, 400, 600)],
        ),
        DesktopSizeStatus::InvalidLayout,
    );
}

#[test]
fn set_desktop_size_255_screens_read_fully_and_refused() {
    // A layout that would be valid (255 distinct 1×1 screens side by side), but
    // longer than MAX_SCREENS: read to the end (8 + 255 × 16 bytes) and refused.
    let screens: Vec<rfb::Screen> = (0..255u16).map(|i| screen(i.into(), i, 0, 1, 1)).collect();
    let msg = set_desktop_size_msg(255, 1, &screens);
    assert_eq!(msg.len(), 8 + 255 * 16);
    assert_refused_by_session(&msg, DesktopSizeStatus::OutOfResources);
    // Fed a byte at a time, the session never holds more than one screen.
    let mut s = ext_session();
    for b in &msg {
        s.feed(std::slice::from_ref(b)).unwrap();
        assert!(s.buffered_input_len() <= 16);
    }
    assert_eq!(s.next_event(), None);
    assert_eq!(
        s.take_output(),
        ext_desktop_size_bytes(THIS_CLIENT, 2, WIDTH, HEIGHT)
    );
}

#[test]
fn set_desktop_size_max_screens_accepted() {
    let n = u16::try_from(MAX_SCREENS).unwrap();
    let screens: Vec<rfb::Screen> = (0..n)
        .map(|i| screen(i.into(), i * 10, 0, 10, 20))
        .collect();
    let mut s = ext_session();
    let (events, _) = feed_drain(&mut s, &set_desktop_size_msg(n * 10, 20, &screens));
    assert_eq!(
        events,
        vec![Event::SetDesktopSize {
            width: n * 10,
            height: 20,
            screens,
        }]
    );
}

#[test]
fn desktop_size_answers_keep_request_order() {
    // A valid request (answered by the caller), an invalid one (answered by the
    // session), a non-incremental update request, another valid one.
    let mut s = ext_session();
    let mut bytes = set_desktop_size_msg(800, 600, &[screen(0, 0, 0, 800, 600)]);
    bytes.extend(set_desktop_size_msg(0, 0, &[screen(0, 0, 0, 1, 1)]));
    bytes.extend([3, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    bytes.extend(set_desktop_size_msg(640, 400, &[screen(0, 0, 0, 640, 400)]));
    s.feed(&bytes).unwrap();
    while let Some(ev) = s.next_event() {
        if let Event::SetDesktopSize { width, .. } = ev {
            let status = if width == 800 {
                DesktopSizeStatus::Prohibited
            } else {
                DesktopSizeStatus::Forwarded
            };
            assert!(s.desktop_size_reply(status));
        }
    }
    assert_eq!(
        s.take_output(),
        [
            ext_desktop_size_bytes(THIS_CLIENT, 1, WIDTH, HEIGHT),
            ext_desktop_size_bytes(THIS_CLIENT, 3, WIDTH, HEIGHT),
            ext_desktop_size_bytes(SERVER, 0, WIDTH, HEIGHT),
            ext_desktop_size_bytes(THIS_CLIENT, 4, WIDTH, HEIGHT),
        ]
        .concat()
    );
}

#[test]
fn set_desktop_size_every_split_point_gives_the_same_result() {
    let mut bytes = set_encodings_msg(&[0, -308]);
    bytes.extend(set_desktop_size_msg(
        1024,
        768,
        &[screen(1, 0, 0, 512, 768), screen(2, 512, 0, 512, 768)],
    ));
    bytes.extend(set_desktop_size_msg_n(
        300,
        300,
        20,
        &(0..20u16)
            .map(|i| screen(i.into(), i, 0, 1, 1))
            .collect::<Vec<_>>(),
    ));
    bytes.extend([3, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    bytes.extend([5, 0, 0, 1, 0, 2]);
    let run = |chunks: Vec<&[u8]>| {
        let mut s = normal_session(Security::None, 8);
        let mut events = Vec::new();
        for c in chunks {
            s.feed(c).unwrap();
            events.extend(pump(&mut s));
        }
        (events, s.take_output())
    };
    let whole = run(vec![&bytes[..]]);
    assert_eq!(whole.0.len(), 4, "{:?}", whole.0);
    for cut in 0..=bytes.len() {
        assert_eq!(run(vec![&bytes[..cut], &bytes[cut..]]), whole, "cut {cut}");
    }
    assert_eq!(run(bytes.chunks(1).collect()), whole);
}

#[test]
fn owed_extended_desktop_size_sent_even_when_a_later_message_closes() {
    let mut bytes = [3, 0, 0, 0, 0, 0, 0, 1, 0, 1].to_vec();
    bytes.extend(set_desktop_size_msg(0, 0, &[]));
    bytes.push(200);
    let expect = [
        ext_desktop_size_bytes(SERVER, 0, WIDTH, HEIGHT),
        ext_desktop_size_bytes(THIS_CLIENT, 3, WIDTH, HEIGHT),
    ]
    .concat();
    // Whole, or split before the bad byte: the same bytes go out.
    for cut in [bytes.len(), bytes.len() - 1] {
        let mut s = ext_session();
        let (_, out, err) = drive(&mut s, [&bytes[..cut], &bytes[cut..]]);
        assert_eq!(err, Some(Error::UnknownMessage(200)), "cut {cut}");
        assert_eq!(out, expect, "cut {cut}");
    }
}
