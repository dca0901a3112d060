//! rfbclient against rfb::ServerSession, and against scripted hostile servers.

mod common;

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use rfb::{Event, PixelFormat, Security};
use rfbclient::{Client, Error, ExtDesktopSize, HandshakeOpts, RectInfo};

fn opts(minor: u8, password: Option<&[u8]>) -> HandshakeOpts {
    HandshakeOpts {
        minor,
        password: password.map(<[u8]>::to_vec),
        shared: true,
    }
}

#[test]
fn handshakes_all_versions_and_security_types() {
    for security in [Security::None, Security::VncAuth] {
        for minor in [3u8, 7, 8] {
            let mut h = start(security);
            let pw = (security == Security::VncAuth).then_some(PASSWORD);
            let init = h.client.handshake(&opts(minor, pw)).unwrap();
            assert_eq!(init.width, WIDTH);
            assert_eq!(init.height, HEIGHT);
            assert_eq!(init.pixel_format, PixelFormat::NATIVE);
            assert_eq!(init.name, NAME);
            assert_eq!(h.client.minor_version(), minor);
            let (fb, w, hh) = h.client.framebuffer();
            assert_eq!((fb.len(), w, hh), (64 * 48, 64, 48));
            let events = h.events();
            assert_eq!(events.last(), Some(&Event::ClientInit { shared: true }));
            assert_eq!(h.finish(), None);
        }
    }
}

#[test]
fn wrong_password_reason_on_3_8_only() {
    let mut h = start(Security::VncAuth);
    let err = h.client.handshake(&opts(8, Some(b"guess"))).unwrap_err();
    assert!(
        matches!(&err, Error::AuthFailed { reason: Some(r) } if r == "Authentication failed"),
        "{err:?}"
    );
    assert!(h.client.is_closed_by_peer(TIMEOUT));
    h.finish();

    for minor in [3u8, 7] {
        let mut h = start(Security::VncAuth);
        let err = h
            .client
            .handshake(&opts(minor, Some(b"guess")))
            .unwrap_err();
        assert!(matches!(err, Error::AuthFailed { reason: None }), "{err:?}");
        assert!(h.client.is_closed_by_peer(TIMEOUT));
        h.finish();
    }
}

#[test]
fn password_required() {
    let mut h = start(Security::VncAuth);
    assert!(matches!(
        h.client.handshake(&opts(8, None)),
        Err(Error::PasswordRequired)
    ));
    drop(h.client);
    h.server.join().unwrap();
}

#[test]
fn full_update_matches_the_server_picture() {
    let mut h = start(Security::None);
    h.client.handshake(&opts(8, None)).unwrap();
    h.client
        .request_update(false, 0, 0, 0xffff, 0xffff)
        .unwrap();
    let sum = h.client.read_update().unwrap();
    assert_eq!(
        sum.rects,
        [RectInfo {
            x: 0,
            y: 0,
            w: WIDTH,
            h: HEIGHT,
            encoding: 0
        }]
    );
    assert_eq!(sum.resized, None);
    let (fb, _, _) = h.client.framebuffer();
    assert_eq!(fb, &pattern(WIDTH, HEIGHT)[..]);
    assert_eq!(h.finish(), None);
}

#[test]
fn partial_update_lands_at_its_position() {
    let mut h = start(Security::None);
    h.client.handshake(&opts(8, None)).unwrap();
    h.client.request_update(true, 10, 20, 3, 2).unwrap();
    let sum = h.client.read_update().unwrap();
    assert_eq!(sum.rects.len(), 1);
    let (fb, w, _) = h.client.framebuffer();
    let p = pattern(WIDTH, HEIGHT);
    for y in 0..48usize {
        for x in 0..64usize {
            let inside = (10..13).contains(&x) && (20..22).contains(&y);
            let want = if inside { p[y * 64 + x] } else { 0 };
            assert_eq!(fb[y * usize::try_from(w).unwrap() + x], want, "({x},{y})");
        }
    }
}

#[test]
fn rgb565_update_is_decoded_in_the_client_format() {
    let pf = PixelFormat {
        bpp: 16,
        depth: 16,
        big_endian: true,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };
    let mut h = start(Security::None);
    h.client.handshake(&opts(8, None)).unwrap();
    h.client.set_pixel_format(&pf).unwrap();
    h.client.request_update(false, 0, 0, WIDTH, HEIGHT).unwrap();
    h.client.read_update().unwrap();
    let (fb, _, _) = h.client.framebuffer();
    let expect: Vec<u32> = pattern(WIDTH, HEIGHT)
        .iter()
        .map(|p| {
            let [_, r, g, b] = p.to_be_bytes();
            u32::from(r >> 3) << 11 | u32::from(g >> 2) << 5 | u32::from(b >> 3)
        })
        .collect();
    assert_eq!(fb, &expect[..]);
    assert!(h.events().contains(&Event::SetPixelFormat(pf)));
}

#[test]
fn desktop_size_resizes_the_local_framebuffer() {
    let mut h = start(Security::None);
    h.client.handshake(&opts(8, None)).unwrap();
    h.client
        .set_encodings(&[0, rfb::encoding::DESKTOP_SIZE])
        .unwrap();
    h.client.key(true, RESIZE_KEY).unwrap();
    let sum = h.client.read_update().unwrap();
    assert_eq!(sum.resized, Some(RESIZED));
    assert_eq!(
        sum.rects,
        [RectInfo {
            x: 0,
            y: 0,
            w: RESIZED.0,
            h: RESIZED.1,
            encoding: -223
        }]
    );
    let (fb, w, hh) = h.client.framebuffer();
    assert_eq!((fb.len(), w, hh), (40 * 30, 40, 30));
    h.client.request_update(false, 0, 0, 100, 100).unwrap();
    h.client.read_update().unwrap();
    assert_eq!(h.client.framebuffer().0, &pattern(40, 30)[..]);
}

#[test]
fn extended_desktop_size_is_decoded_and_applied() {
    let mut h = start(Security::None);
    h.client.handshake(&opts(8, None)).unwrap();
    h.client
        .set_encodings(&[0, rfb::encoding::EXTENDED_DESKTOP_SIZE])
        .unwrap();
    let full_screen = |w, h| rfb::Screen {
        id: 0,
        x: 0,
        y: 0,
        w,
        h,
        flags: 0,
    };
    // A non-incremental request: the current layout first (same size: no resize),
    // then the pixels.
    h.client.request_update(false, 0, 0, WIDTH, HEIGHT).unwrap();
    let sum = h.client.read_update().unwrap();
    assert_eq!(sum.resized, None);
    assert_eq!(
        sum.ext_desktop_sizes,
        [ExtDesktopSize {
            reason: 0,
            status: 0,
            width: WIDTH,
            height: HEIGHT,
            screens: vec![full_screen(WIDTH, HEIGHT)],
        }]
    );
    let sum = h.client.read_update().unwrap();
    assert_eq!(sum.rects.len(), 1);
    assert_eq!(h.client.framebuffer().0, &pattern(WIDTH, HEIGHT)[..]);
    // A server-side change resizes.
    h.client.key(true, RESIZE_KEY).unwrap();
    let sum = h.client.read_update().unwrap();
    assert_eq!(sum.resized, Some(RESIZED));
    assert_eq!(sum.ext_desktop_sizes[0].screens, [full_screen(40, 30)]);
    assert_eq!(h.client.framebuffer().0.len(), 40 * 30);
    // A refused request does not.
    h.client
        .set_desktop_size(100, 100, &[full_screen(100, 100)])
        .unwrap();
    let sum = h.client.read_update().unwrap();
    assert_eq!(sum.resized, None);
    assert_eq!(
        (
            sum.ext_desktop_sizes[0].reason,
            sum.ext_desktop_sizes[0].status
        ),
        (1, 1)
    );
    assert_eq!(h.client.framebuffer().0.len(), 40 * 30);
}

#[test]
fn input_reaches_the_server() {
    let mut h = start(Security::None);
    h.client.handshake(&opts(7, None)).unwrap();
    h.client.key(true, 0xff0d).unwrap();
    h.client.key(false, 0xff0d).unwrap();
    h.client.pointer(0b101, 12, 34).unwrap();
    h.client.cut_text(b"caf\xe9").unwrap();
    let events = h.take_events(5);
    assert_eq!(
        &events[1..],
        &[
            Event::Key {
                down: true,
                keysym: 0xff0d
            },
            Event::Key {
                down: false,
                keysym: 0xff0d
            },
            Event::Pointer {
                buttons: 5,
                x: 12,
                y: 34
            },
            Event::CutText(b"caf\xe9".to_vec()),
        ]
    );
}

#[test]
fn cve_2014_6054_unknown_message_closes_the_connection() {
    let mut h = start(Security::None);
    h.client.handshake(&opts(8, None)).unwrap();
    assert!(!h.client.is_closed_by_peer(Duration::from_millis(100)));
    h.client.send_raw(&[8, 0, 0, 0]).unwrap();
    assert!(h.client.is_closed_by_peer(TIMEOUT));
    assert_eq!(h.finish(), Some(rfb::Error::UnknownMessage(8)));
}

#[test]
fn cve_2015_5239_cut_text_ffffffff_closes_the_connection() {
    let mut h = start(Security::None);
    h.client.handshake(&opts(8, None)).unwrap();
    h.client
        .send_raw(&[6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    assert!(h.client.is_closed_by_peer(TIMEOUT));
    assert_eq!(h.finish(), Some(rfb::Error::CutTextTooLong(u32::MAX)));
}

#[test]
fn raw_bytes_for_wrong_security_type() {
    let mut h = start(Security::VncAuth);
    assert_eq!(h.client.read_raw(12).unwrap(), b"RFB 003.008\n");
    h.client.send_raw(b"RFB 003.008\n").unwrap();
    assert_eq!(h.client.read_raw(2).unwrap(), [1, 2]);
    h.client.send_raw(&[1]).unwrap();
    let mut expect = vec![0, 0, 0, 1, 0, 0, 0, 21];
    expect.extend_from_slice(b"Authentication failed");
    assert_eq!(h.client.read_raw(expect.len()).unwrap(), expect);
    assert!(h.client.is_closed_by_peer(TIMEOUT));
}

#[test]
fn tcp_and_unix_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, _rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        serve(sock, config(Security::VncAuth), tx)
    });
    let mut c = Client::connect_tcp(&addr, TIMEOUT).unwrap();
    let init = c.handshake(&opts(8, Some(PASSWORD))).unwrap();
    assert_eq!(init.name, NAME);
    c.request_update(false, 0, 0, WIDTH, HEIGHT).unwrap();
    c.read_update().unwrap();
    assert_eq!(c.framebuffer().0, &pattern(WIDTH, HEIGHT)[..]);
    drop(c);
    assert_eq!(server.join().unwrap(), None);

    let path = std::env::temp_dir().join(format!("rfbclient-test-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let (tx, _rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        serve(sock, config(Security::None), tx)
    });
    let mut c = Client::connect_unix(&path, TIMEOUT).unwrap();
    c.handshake(&opts(3, None)).unwrap();
    drop(c);
    server.join().unwrap();
    std::fs::remove_file(&path).unwrap();

    assert!(matches!(
        Client::connect_unix(&path, TIMEOUT),
        Err(Error::Connect { .. })
    ));
}

#[test]
fn huge_desktop_name_is_refused_before_allocation() {
    let (mut c, server) = scripted(server_init_script(10, 10, u32::MAX, b""));
    let err = c.handshake(&opts(8, None)).unwrap_err();
    assert!(
        matches!(err, Error::TooLong { what: "desktop name", len, .. } if len == u64::from(u32::MAX)),
        "{err:?}"
    );
    drop(c);
    server.join().unwrap();
}

#[test]
fn oversized_framebuffer_is_refused() {
    let (mut c, server) = scripted(server_init_script(8193, 4000, 1, b"x"));
    assert!(matches!(
        c.handshake(&opts(8, None)),
        Err(Error::TooLong {
            what: "framebuffer size",
            ..
        })
    ));
    drop(c);
    server.join().unwrap();
}

#[test]
fn rect_outside_framebuffer_is_refused() {
    let mut script = server_init_script(10, 10, 1, b"x");
    script.extend([0, 0, 0, 1]);
    for v in [8u16, 0, 3, 1] {
        script.extend(v.to_be_bytes());
    }
    script.extend(0i32.to_be_bytes());
    let (mut c, server) = scripted(script);
    c.handshake(&opts(8, None)).unwrap();
    let err = c.read_update().unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    drop(c);
    server.join().unwrap();
}

#[test]
fn unknown_encoding_and_message_are_refused() {
    let mut script = server_init_script(10, 10, 1, b"x");
    script.extend([0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]);
    script.extend(7i32.to_be_bytes());
    let (mut c, server) = scripted(script);
    c.handshake(&opts(8, None)).unwrap();
    assert!(matches!(c.read_update(), Err(Error::Protocol(_))));
    drop(c);
    server.join().unwrap();

    let mut script = server_init_script(10, 10, 1, b"x");
    script.push(1); // SetColourMapEntries: never requested
    let (mut c, server) = scripted(script);
    c.handshake(&opts(8, None)).unwrap();
    assert!(matches!(c.read_update(), Err(Error::Protocol(_))));
    drop(c);
    server.join().unwrap();
}

#[test]
fn bell_and_cut_text_before_an_update_are_recorded() {
    let mut script = server_init_script(2, 1, 1, b"x");
    script.push(2);
    script.extend([3, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
    script.extend([0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1]);
    script.extend(0i32.to_be_bytes());
    script.extend([0x33, 0x22, 0x11, 0x00]);
    let (mut c, server) = scripted(script);
    c.handshake(&opts(8, None)).unwrap();
    let sum = c.read_update().unwrap();
    assert_eq!(sum.bells, 1);
    assert_eq!(sum.cut_texts, vec![b"hi".to_vec()]);
    assert_eq!(c.framebuffer().0, &[0, 0x0011_2233]);
    drop(c);
    server.join().unwrap();
}

#[test]
fn huge_server_cut_text_is_refused() {
    let mut script = server_init_script(2, 1, 1, b"x");
    script.extend([3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    let (mut c, server) = scripted(script);
    c.handshake(&opts(8, None)).unwrap();
    assert!(matches!(
        c.read_update(),
        Err(Error::TooLong {
            what: "cut text",
            ..
        })
    ));
    drop(c);
    server.join().unwrap();
}

#[test]
fn refused_connection_reason_is_reported() {
    let mut script = b"RFB 003.008\n".to_vec();
    script.push(0);
    script.extend(4u32.to_be_bytes());
    script.extend(b"nope");
    let (mut c, server) = scripted(script);
    assert!(matches!(
        c.handshake(&opts(8, None)),
        Err(Error::Refused { reason }) if reason == "nope"
    ));
    drop(c);
    server.join().unwrap();
}

#[test]
fn client_sends_exact_bytes() {
    let script = server_init_script(2, 1, 1, b"x");
    let (mut c, server) = scripted(script);
    c.handshake(&opts(8, None)).unwrap();
    c.set_encodings(&[0, -223]).unwrap();
    c.request_update(true, 1, 2, 3, 4).unwrap();
    c.key(true, 0x61).unwrap();
    c.pointer(1, 2, 3).unwrap();
    drop(c);
    let got = server.join().unwrap();
    let mut expect = b"RFB 003.008\n".to_vec();
    expect.push(1); // security None
    expect.push(1); // shared
    expect.extend([2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]);
    expect.extend([3, 1, 0, 1, 0, 2, 0, 3, 0, 4]);
    expect.extend([4, 1, 0, 0, 0, 0, 0, 0x61]);
    expect.extend([5, 1, 0, 2, 0, 3]);
    assert_eq!(got, expect);
}

#[test]
fn bad_minor_is_refused_locally() {
    let (mut c, server) = scripted(Vec::new());
    assert!(matches!(
        c.handshake(&opts(5, None)),
        Err(Error::BadMinor(5))
    ));
    drop(c);
    server.join().unwrap();
}
