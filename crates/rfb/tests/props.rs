//! Property tests: robustness against arbitrary input, split invariance, and
//! pixel conversion against a reference model.

mod common;

use common::*;
use proptest::prelude::*;
use rfb::{
    Framebuffer, MAX_BUFFERED_INPUT, Phase, PixelFormat, Rect, Security, ServerSession,
    VencryptSubtype,
};

fn security() -> impl Strategy<Value = Security> {
    prop_oneof![Just(Security::None), Just(Security::VncAuth)]
}

fn subtype() -> impl Strategy<Value = VencryptSubtype> {
    prop::sample::select(VencryptSubtype::ALL.to_vec())
}

/// Every security type, VeNCrypt subtypes included.
fn any_security() -> impl Strategy<Value = Security> {
    prop_oneof![
        1 => security(),
        3 => subtype().prop_map(Security::VeNCrypt),
    ]
}

/// How much of a good handshake comes before the arbitrary bytes.
#[derive(Clone, Copy, Debug)]
enum Prefix {
    None,
    /// Up to and including ClientInit.
    Full(u8),
    /// VeNCrypt: up to the subtype choice (TLS then comes up at once).
    BeforeTls(u8),
}

fn prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![
        Just(Prefix::None),
        prop_oneof![Just(3u8), Just(7), Just(8)].prop_map(Prefix::Full),
        prop_oneof![Just(7u8), Just(8)].prop_map(Prefix::BeforeTls),
    ]
}

/// A session after `prefix` (which may itself fail, e.g. VeNCrypt on 3.3).
fn after_prefix(sec: Security, prefix: Prefix) -> ServerSession {
    let mut s = ServerSession::new(cfg(sec));
    let (minor, full) = match prefix {
        Prefix::None => return s,
        Prefix::Full(m) => (m, true),
        Prefix::BeforeTls(m) => (m, false),
    };
    let (before, after) = client_handshake_parts(minor, sec, PASSWORD);
    if s.feed(&before).is_ok() {
        pump(&mut s);
        if full && s.feed(&after).is_ok() {
            pump(&mut s);
        }
    }
    let _ = s.take_output();
    s
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap()
}

/// A VeNCrypt conversation: (subtype, cleartext part, part inside TLS).
fn tls_conversation() -> impl Strategy<Value = (VencryptSubtype, Vec<u8>, Vec<u8>)> {
    (
        subtype(),
        prop_oneof![Just(7u8), Just(8)],
        any::<bool>(),
        prop::collection::vec(message(), 0..8),
    )
        .prop_map(|(sub, minor, good_pw, msgs)| {
            let pw: &[u8] = if good_pw { PASSWORD } else { b"bad" };
            let (before, mut inside) = client_handshake_parts(minor, Security::VeNCrypt(sub), pw);
            inside.extend(msgs.concat());
            (sub, before, inside)
        })
}

/// One client message: mostly valid ones, sometimes garbage.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (any::<[u8; 16]>(), prop_oneof![Just(8u8), Just(16), Just(32), any::<u8>()]).prop_map(
            |(mut pf, bpp)| {
                pf[0] = bpp;
                let mut v = vec![0, 0, 0, 0];
                v.extend(pf);
                v
            }
        ),
        4 => prop::collection::vec(any::<i32>(), 0..80).prop_map(|e| set_encodings_msg(&e)),
        4 => any::<[u8; 9]>().prop_map(|b| [&[3u8][..], &b].concat()),
        4 => any::<[u8; 7]>().prop_map(|b| [&[4u8][..], &b].concat()),
        4 => any::<[u8; 5]>().prop_map(|b| [&[5u8][..], &b].concat()),
        3 => prop::collection::vec(any::<u8>(), 0..300).prop_map(|t| {
            let mut v = vec![6, 0, 0, 0];
            v.extend(u32::try_from(t.len()).unwrap().to_be_bytes());
            v.extend(t);
            v
        }),
        1 => any::<[u8; 8]>().prop_map(|b| [&[6u8, 0, 0, 0][..], &b[..4]].concat()),
        1 => prop::collection::vec(any::<u8>(), 0..16),
        2 => Just(set_encodings_msg(&[0, -308])),
        3 => set_desktop_size(),
    ]
}

/// A SetDesktopSize: small sizes and screens (some layouts valid), sometimes a
/// screen count that does not match the screens that follow.
fn set_desktop_size() -> impl Strategy<Value = Vec<u8>> {
    let side = || prop_oneof![0u16..80, any::<u16>()];
    let one_screen = (any::<u32>(), 0u16..80, 0u16..80, side(), side())
        .prop_map(|(id, x, y, w, h)| screen(id, x, y, w, h));
    (
        side(),
        side(),
        prop::collection::vec(one_screen, 0..24),
        prop::option::weighted(0.2, any::<u8>()),
    )
        .prop_map(|(w, h, screens, count)| {
            let n = count.unwrap_or_else(|| u8::try_from(screens.len()).unwrap_or(u8::MAX));
            set_desktop_size_msg_n(w, h, n, &screens)
        })
}

/// A handshake prefix (possibly none) followed by messages.
fn conversation() -> impl Strategy<Value = (Security, Vec<u8>)> {
    (
        security(),
        prop_oneof![Just(None), Just(Some(3u8)), Just(Some(7)), Just(Some(8))],
        any::<bool>(),
        prop::collection::vec(message(), 0..12),
    )
        .prop_map(|(sec, minor, good_pw, msgs)| {
            let mut bytes = match minor {
                Some(m) => client_handshake(m, sec, if good_pw { PASSWORD } else { b"bad" }),
                None => Vec::new(),
            };
            bytes.extend(msgs.concat());
            (sec, bytes)
        })
}

/// Splits `bytes` at the given (sorted, deduplicated) fractions.
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut prev = 0;
    for p in points {
        out.push(&bytes[prev..p]);
        prev = p;
    }
    out.push(&bytes[prev..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        sec in security(),
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16),
        prefix in prop_oneof![Just(None), Just(Some(3u8)), Just(Some(7)), Just(Some(8))],
    ) {
        let mut s = ServerSession::new(cfg(sec));
        if let Some(m) = prefix {
            s.feed(&client_handshake(m, sec, PASSWORD)).unwrap();
            pump(&mut s);
        }
        let mut fed = 0usize;
        let mut failed = false;
        for c in &chunks {
            fed += c.len();
            let r = s.feed(c);
            pump(&mut s);
            let _ = s.take_output();
            prop_assert!(s.buffered_input_len() <= MAX_BUFFERED_INPUT);
            prop_assert!(s.buffered_input_len() <= fed);
            if failed {
                prop_assert!(r.is_err());
            }
            if r.is_err() {
                failed = true;
                prop_assert_eq!(s.phase(), Phase::Closed);
                prop_assert_eq!(s.buffered_input_len(), 0);
            }
        }
    }

    #[test]
    fn any_split_gives_the_same_result(
        (sec, bytes) in conversation(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut whole = ServerSession::new(cfg(sec));
        let expect = drive(&mut whole, [&bytes[..]]);
        let mut s = ServerSession::new(cfg(sec));
        let got = drive(&mut s, split(&bytes, &cuts));
        prop_assert_eq!(&got, &expect);
        prop_assert_eq!(s.phase(), whole.phase());
        prop_assert_eq!(s.pixel_format(), whole.pixel_format());
        prop_assert_eq!(s.encodings(), whole.encodings());
        prop_assert!(s.encodings().len() <= rfb::MAX_ENCODINGS);
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_result((sec, bytes) in conversation()) {
        let mut whole = ServerSession::new(cfg(sec));
        let expect = drive(&mut whole, [&bytes[..]]);
        let mut s = ServerSession::new(cfg(sec));
        let got = drive(&mut s, bytes.chunks(1));
        prop_assert_eq!(got, expect);
    }

    #[test]
    fn vencrypt_arbitrary_bytes_never_panic_and_stay_bounded(
        sec in any_security(),
        prefix in prefix(),
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16),
    ) {
        let mut s = after_prefix(sec, prefix);
        let mut failed = s.phase() == Phase::Closed;
        for c in &chunks {
            let r = s.feed(c);
            let events = pump(&mut s);
            let _ = s.take_output();
            prop_assert!(s.buffered_input_len() <= MAX_BUFFERED_INPUT);
            for ev in &events {
                if let rfb::Event::PlainAuth { username, password } = ev {
                    prop_assert!(username.len() <= to_usize(rfb::MAX_PLAIN_USERNAME));
                    prop_assert!(password.len() <= to_usize(rfb::MAX_PLAIN_PASSWORD));
                }
            }
            if failed {
                prop_assert!(r.is_err());
            }
            if r.is_err() {
                failed = true;
                prop_assert_eq!(s.phase(), Phase::Closed);
                prop_assert_eq!(s.buffered_input_len(), 0);
            }
        }
    }

    #[test]
    fn vencrypt_any_split_on_each_side_of_tls_gives_the_same_result(
        (sub, before, inside) in tls_conversation(),
        cuts_before in prop::collection::vec(any::<usize>(), 0..4),
        cuts_inside in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let sec = Security::VeNCrypt(sub);
        let mut whole = ServerSession::new(cfg(sec));
        let expect = drive(&mut whole, [&before[..], &inside[..]]);
        let mut s = ServerSession::new(cfg(sec));
        let chunks: Vec<&[u8]> = split(&before, &cuts_before)
            .into_iter()
            .chain(split(&inside, &cuts_inside))
            .collect();
        let got = drive(&mut s, chunks);
        prop_assert_eq!(&got, &expect);
        prop_assert_eq!(s.phase(), whole.phase());
        prop_assert_eq!(s.encodings(), whole.encodings());
    }

    #[test]
    fn pixel_format_round_trips(b in any::<[u8; 16]>()) {
        if let Ok(pf) = PixelFormat::parse(&b) {
            prop_assert_eq!(PixelFormat::parse(&pf.to_bytes()), Ok(pf));
            prop_assert!(matches!(pf.bpp, 8 | 16 | 32));
            prop_assert!(pf.red_max > 0 && pf.green_max > 0 && pf.blue_max > 0);
            prop_assert!(pf.true_colour);
        }
    }
}

/// Reference channel scaling, written independently of the crate's tables.
fn ref_scale(c: u8, max: u16) -> u64 {
    let (c, max) = (u64::from(c), u64::from(max));
    if (max + 1).is_power_of_two() {
        let bits = (max + 1).trailing_zeros();
        (c * 257) >> (16 - bits)
    } else {
        c * max / 255
    }
}

fn ref_encode(pf: &PixelFormat, p: u32) -> Vec<u8> {
    let [_, r, g, b] = p.to_be_bytes();
    let mut v = (ref_scale(r, pf.red_max) << pf.red_shift)
        | (ref_scale(g, pf.green_max) << pf.green_shift)
        | (ref_scale(b, pf.blue_max) << pf.blue_shift);
    // 32-bit formats other than the native one get ones in the bits no channel can use.
    if pf.bpp == 32 && *pf != PixelFormat::NATIVE {
        let reach = |max: u16, shift: u8| {
            let bits = 64 - u64::from(max).leading_zeros();
            ((1u64 << bits) - 1) << shift
        };
        let used = reach(pf.red_max, pf.red_shift)
            | reach(pf.green_max, pf.green_shift)
            | reach(pf.blue_max, pf.blue_shift);
        v |= !used & 0xFFFF_FFFF;
    }
    let n = pf.bytes_per_pixel();
    let bytes = v.to_le_bytes();
    let mut out = bytes[..n].to_vec();
    if pf.big_endian {
        out.reverse();
    }
    out
}

fn valid_format() -> impl Strategy<Value = PixelFormat> {
    (
        prop_oneof![Just(8u8), Just(16), Just(32)],
        any::<bool>(),
        any::<[u16; 3]>(),
        any::<[u8; 3]>(),
        any::<[u8; 3]>(),
    )
        .prop_map(|(bpp, be, max, shift, bits)| {
            // Mostly 2^n-1 maxima, sometimes arbitrary ones.
            let m = |i: usize| {
                if bits[i] % 4 == 0 {
                    max[i].max(1)
                } else {
                    u16::try_from((1u32 << (u32::from(bits[i]) % 16 + 1)) - 1).unwrap()
                }
            };
            PixelFormat {
                bpp,
                depth: bpp,
                big_endian: be,
                true_colour: true,
                red_max: m(0),
                green_max: m(1),
                blue_max: m(2),
                red_shift: shift[0] % bpp,
                green_shift: shift[1] % bpp,
                blue_shift: shift[2] % bpp,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn conversion_matches_reference(
        pf in valid_format(),
        pixels in prop::collection::vec(any::<u32>(), 1..40),
    ) {
        let mut s = normal_session(Security::None, 8);
        s.feed(&set_pixel_format_msg(&pf)).unwrap();
        prop_assert_eq!(s.pixel_format(), pf);
        let w = u32::try_from(pixels.len()).unwrap();
        let fb = Framebuffer { pixels: &pixels, width: w, height: 1, stride: w };
        s.write_update(&fb, &[Rect::new(0, 0, w, 1)]);
        let out = s.take_output();
        let expect: Vec<u8> = pixels.iter().flat_map(|&p| {
            ref_encode(&pf, if pf == PixelFormat::NATIVE { p & 0x00ff_ffff } else { p })
        }).collect();
        prop_assert_eq!(&out[16..], &expect[..]);
    }

    #[test]
    fn updates_never_overrun_and_have_exact_size(
        pf in valid_format(),
        width in 0u32..40, height in 0u32..40, extra_stride in 0u32..5,
        len_cut in 0usize..2000,
        rects in prop::collection::vec((0u32..60, 0u32..60, 0u32..70, 0u32..70), 0..6),
    ) {
        let stride = width + extra_stride;
        let full = usize::try_from(stride * height).unwrap();
        let pixels: Vec<u32> = (0..full.min(len_cut)).map(|i| u32::try_from(i).unwrap()).collect();
        let mut s = normal_session(Security::None, 8);
        s.feed(&set_pixel_format_msg(&pf)).unwrap();
        let fb = Framebuffer { pixels: &pixels, width, height, stride };
        let rects: Vec<Rect> = rects.iter().map(|&(x, y, w, h)| Rect::new(x, y, w, h)).collect();
        s.write_update(&fb, &rects);
        let out = s.take_output();
        // Rows that the slice really holds.
        let rows = (0..height).take_while(|&r| {
            usize::try_from(r * stride + width).unwrap() <= pixels.len()
        }).count();
        let rows = u32::try_from(rows).unwrap();
        let kept: Vec<Rect> = rects.iter().map(|r| r.clamp(width, rows)).filter(|r| !r.is_empty()).collect();
        if kept.is_empty() {
            prop_assert!(out.is_empty());
        } else {
            let body: usize = kept.iter().map(|r| 12 + usize::try_from(r.w * r.h).unwrap() * pf.bytes_per_pixel()).sum();
            prop_assert_eq!(out.len(), 4 + body);
            prop_assert_eq!(u16::from_be_bytes([out[2], out[3]]), u16::try_from(kept.len()).unwrap());
        }
    }
}
