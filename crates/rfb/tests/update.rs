//! FramebufferUpdate output: pixel conversion, clamping, DesktopSize.

mod common;

use common::*;
use rfb::{Framebuffer, PixelFormat, Rect, Security, ServerSession};

/// Pixels used by the exact-byte tests: 2×2 inside a 3-pixel stride.
const PIXELS: [u32; 6] = [
    0x00ff_8040,
    0x0000_0000,
    0xdead_beef, // third column is outside the width
    0x0012_3456,
    0x00ff_ffff,
    0x0101_0101,
];

fn fb() -> Framebuffer<'static> {
    Framebuffer {
        pixels: &PIXELS,
        width: 2,
        height: 2,
        stride: 3,
    }
}

fn session_with(pf: &PixelFormat) -> ServerSession {
    let mut s = normal_session(Security::None, 8);
    s.feed(&set_pixel_format_msg(pf)).unwrap();
    assert!(matches!(
        s.next_event(),
        Some(rfb::Event::SetPixelFormat(_))
    ));
    s
}

/// FramebufferUpdate header + one Raw rect header.
fn header(x: u16, y: u16, w: u16, h: u16) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 1];
    for n in [x, y, w, h] {
        v.extend(n.to_be_bytes());
    }
    v.extend(0i32.to_be_bytes());
    v
}

fn full_update(pf: &PixelFormat) -> Vec<u8> {
    let mut s = session_with(pf);
    s.write_update(&fb(), &[Rect::new(0, 0, 2, 2)]);
    s.take_output()
}

#[test]
fn bgr233_8bpp_exact() {
    let pf = PixelFormat {
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
    let mut expect = header(0, 0, 2, 2);
    // ff8040: r 7, g 4, b 1 → 7 | 4<<3 | 1<<6 = 0x67
    // 123456: r 0, g 1, b 1 → 0x48 ; ffffff → 0xff
    expect.extend([0x67, 0x00, 0x48, 0xff]);
    assert_eq!(full_update(&pf), expect);
}

fn rgb565(big_endian: bool) -> PixelFormat {
    PixelFormat {
        bpp: 16,
        depth: 16,
        big_endian,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    }
}

#[test]
fn rgb565_big_endian_exact() {
    let mut expect = header(0, 0, 2, 2);
    // ff8040 → 31<<11 | 32<<5 | 8 = 0xfc08; 123456 → 2<<11 | 13<<5 | 10 = 0x11aa
    expect.extend([0xfc, 0x08, 0x00, 0x00, 0x11, 0xaa, 0xff, 0xff]);
    assert_eq!(full_update(&rgb565(true)), expect);
}

#[test]
fn rgb565_little_endian_exact() {
    let mut expect = header(0, 0, 2, 2);
    expect.extend([0x08, 0xfc, 0x00, 0x00, 0xaa, 0x11, 0xff, 0xff]);
    assert_eq!(full_update(&rgb565(false)), expect);
}

#[test]
fn bgrx_32bpp_native_exact() {
    // Native: little-endian 0x00RRGGBB, i.e. B, G, R, X on the wire, X as the surface
    // holds it (zero).
    let mut expect = header(0, 0, 2, 2);
    expect.extend([
        0x40, 0x80, 0xff, 0, 0, 0, 0, 0, 0x56, 0x34, 0x12, 0, 0xff, 0xff, 0xff, 0,
    ]);
    let mut s = normal_session(Security::None, 8);
    s.write_update(&fb(), &[Rect::new(0, 0, 2, 2)]);
    assert_eq!(s.take_output(), expect);
    // The same bytes when the client asks for the format explicitly.
    assert_eq!(full_update(&PixelFormat::NATIVE), expect);
}

#[test]
fn bgrx_32bpp_big_endian_exact() {
    // Big-endian with blue at 24: B, G, R, X on the wire through the slow path; the
    // unused X byte is all ones.
    let pf = PixelFormat {
        bpp: 32,
        depth: 24,
        big_endian: true,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 8,
        green_shift: 16,
        blue_shift: 24,
    };
    let mut expect = header(0, 0, 2, 2);
    expect.extend([
        0x40, 0x80, 0xff, 0xff, 0, 0, 0, 0xff, 0x56, 0x34, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    assert_eq!(full_update(&pf), expect);
}

/// noVNC's format. The unused fourth byte is all ones: noVNC 1.3 copies Raw pixels into
/// RGBA image data and, beyond the first rectangle in its buffer, keeps that byte as alpha.
#[test]
fn rgbx_32bpp_little_endian_exact_with_opaque_x_byte() {
    let pf = PixelFormat {
        red_shift: 0,
        green_shift: 8,
        blue_shift: 16,
        ..PixelFormat::NATIVE
    };
    let mut expect = header(0, 0, 2, 2);
    expect.extend([
        0xff, 0x80, 0x40, 0xff, 0, 0, 0, 0xff, 0x12, 0x34, 0x56, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    assert_eq!(full_update(&pf), expect);
}

#[test]
fn cve_2020_14402_rects_at_right_and_bottom_edges_are_clamped() {
    let mut s = normal_session(Security::None, 8);
    s.write_update(
        &fb(),
        &[
            Rect::new(1, 1, 100, 100),           // → (1,1,1,1)
            Rect::new(2, 0, 1, 1),               // fully right of the framebuffer
            Rect::new(0, 2, 1, 1),               // fully below
            Rect::new(0, 0, 0, 2),               // empty
            Rect::new(u32::MAX, 0, 5, 5),        // far outside
            Rect::new(0, 1, u32::MAX, u32::MAX), // → (0,1,2,1)
        ],
    );
    let mut expect = vec![0, 0, 0, 2];
    for n in [1u16, 1, 1, 1] {
        expect.extend(n.to_be_bytes());
    }
    expect.extend(0i32.to_be_bytes());
    expect.extend([0xff, 0xff, 0xff, 0]);
    for n in [0u16, 1, 2, 1] {
        expect.extend(n.to_be_bytes());
    }
    expect.extend(0i32.to_be_bytes());
    expect.extend([0x56, 0x34, 0x12, 0, 0xff, 0xff, 0xff, 0]);
    assert_eq!(s.take_output(), expect);
}

#[test]
fn nothing_sent_when_every_rect_is_empty() {
    let mut s = normal_session(Security::None, 8);
    s.write_update(&fb(), &[Rect::new(5, 5, 1, 1), Rect::new(0, 0, 0, 0)]);
    s.write_update(&fb(), &[]);
    assert!(!s.has_output());
}

#[test]
fn short_pixel_slice_is_treated_as_fewer_rows() {
    let pixels = [1u32, 2, 3, 4, 5];
    let fb = Framebuffer {
        pixels: &pixels,
        width: 2,
        height: 100,
        stride: 3,
    };
    let mut s = normal_session(Security::None, 8);
    s.write_update(&fb, &[Rect::new(0, 0, 2, 100)]);
    let out = s.take_output();
    // Rows 0 and 1 exist (row 1 spans pixels 3..5).
    assert_eq!(&out[4..12], &[0, 0, 0, 0, 0, 2, 0, 2]);
    assert_eq!(out.len(), 4 + 12 + 2 * 2 * 4);
    // A zero stride cannot divide by zero.
    let fb0 = Framebuffer {
        pixels: &pixels,
        width: 2,
        height: 2,
        stride: 0,
    };
    s.write_update(&fb0, &[Rect::new(0, 0, 2, 2)]);
    assert!(!s.has_output());
}

#[test]
fn no_update_before_normal_phase() {
    let mut s = ServerSession::new(cfg(Security::None));
    let _ = s.take_output();
    s.write_update(&fb(), &[Rect::new(0, 0, 2, 2)]);
    assert!(!s.write_desktop_size(10, 10));
    assert!(!s.has_output());
}

#[test]
fn desktop_size_only_when_asked_for() {
    let mut s = normal_session(Security::None, 8);
    assert!(!s.wants_desktop_size());
    assert!(!s.write_desktop_size(800, 600));
    assert!(!s.has_output());
    s.feed(&set_encodings_msg(&[0, -223])).unwrap();
    assert!(s.wants_desktop_size());
    assert!(s.write_desktop_size(800, 600));
    assert_eq!(
        s.take_output(),
        [
            0, 0, 0, 1, 0, 0, 0, 0, 0x03, 0x20, 0x02, 0x58, 0xff, 0xff, 0xff, 0x21
        ]
    );
}

#[test]
fn partial_writes_with_consume_output() {
    let mut s = normal_session(Security::None, 8);
    let big: Vec<u32> = (0..300 * 300).collect();
    let fb = Framebuffer {
        pixels: &big,
        width: 300,
        height: 300,
        stride: 300,
    };
    s.write_update(&fb, &[Rect::new(0, 0, 300, 300)]);
    let total = s.output_len();
    assert_eq!(total, 4 + 12 + 300 * 300 * 4);
    let mut written = Vec::new();
    while s.has_output() {
        let n = s.output().len().min(7777);
        written.extend_from_slice(&s.output()[..n]);
        s.consume_output(n);
    }
    assert_eq!(written.len(), total);
    assert_eq!(&written[16..20], &[0, 0, 0, 0]);
    assert_eq!(&written[20..24], &[1, 0, 0, 0]);
    let last: u32 = 300 * 300 - 1;
    assert_eq!(&written[total - 4..], &(last & 0x00ff_ffff).to_le_bytes());
    // take_output after a partial consume returns only the rest.
    s.write_update(&fb, &[Rect::new(0, 0, 1, 1)]);
    s.consume_output(3);
    assert_eq!(
        s.take_output(),
        [1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0][..]
    );
    s.consume_output(100);
    assert!(!s.has_output());
}
