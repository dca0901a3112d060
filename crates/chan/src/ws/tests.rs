use proptest::prelude::*;

use super::*;

/// The request headless Chromium sends for noVNC 1.3 (`new WebSocket(url, ['binary'])`).
const NOVNC_REQUEST: &str = "GET / HTTP/1.1\r\n\
    Host: 127.0.0.1:5701\r\n\
    Connection: Upgrade\r\n\
    Pragma: no-cache\r\n\
    Cache-Control: no-cache\r\n\
    User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
    HeadlessChrome/120.0.0.0 Safari/537.36\r\n\
    Upgrade: websocket\r\n\
    Origin: http://127.0.0.1:6080\r\n\
    Sec-WebSocket-Version: 13\r\n\
    Accept-Encoding: gzip, deflate, br\r\n\
    Accept-Language: en-US,en;q=0.9\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
    Sec-WebSocket-Protocol: binary\r\n\
    \r\n";

const NOVNC_REPLY: &str = "HTTP/1.1 101 Switching Protocols\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
    Sec-WebSocket-Protocol: binary\r\n\
    \r\n";

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn qemu_cfg() -> WsConfig {
    WsConfig {
        allowed_origins: None,
        require_binary_protocol: true,
    }
}

fn open_server() -> WsServer {
    let mut s = WsServer::new(qemu_cfg());
    s.feed(NOVNC_REQUEST.as_bytes()).unwrap();
    assert_eq!(String::from_utf8(s.take_output()).unwrap(), NOVNC_REPLY);
    assert!(s.is_open());
    s
}

/// A masked client frame with an honest length.
fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = client_header(b0, payload.len() as u64, mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Just the header of a masked client frame, with any declared length.
fn client_header(b0: u8, len: u64, mask: [u8; 4]) -> Vec<u8> {
    let mut out = vec![b0];
    if len <= 125 {
        out.push(0x80 | u8::try_from(len).unwrap());
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out
}

/// The low 8 bits of `i`, for test patterns.
fn low_byte(i: usize) -> u8 {
    i.to_le_bytes()[0]
}

fn binary(payload: &[u8]) -> Vec<u8> {
    client_frame(0x82, payload, MASK)
}

/// Parses unmasked server frames: (first byte, payload).
fn server_frames(mut out: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !out.is_empty() {
        let b0 = out[0];
        assert_eq!(out[1] & 0x80, 0, "server frames are never masked");
        let (len, hdr) = match out[1] {
            126 => (usize::from(u16::from_be_bytes([out[2], out[3]])), 4),
            127 => (
                usize::try_from(u64::from_be_bytes(out[2..10].try_into().unwrap())).unwrap(),
                10,
            ),
            l => (usize::from(l), 2),
        };
        frames.push((b0, out[hdr..hdr + len].to_vec()));
        out = &out[hdr + len..];
    }
    frames
}

fn payload(s: &mut WsServer) -> Vec<u8> {
    let mut v = Vec::new();
    s.read_payload(&mut v);
    v
}

fn status_line(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    text.lines().next().unwrap_or_default().to_owned()
}

fn request_with(replace: &str, with: &str) -> String {
    assert!(NOVNC_REQUEST.contains(replace));
    NOVNC_REQUEST.replacen(replace, with, 1)
}

fn refused(cfg: WsConfig, request: &str) -> (Error, String, WsServer) {
    let mut s = WsServer::new(cfg);
    let err = s.feed(request.as_bytes()).unwrap_err();
    let out = String::from_utf8(s.take_output()).unwrap();
    assert!(!s.is_open());
    assert!(out.contains("\r\nConnection: close\r\n"), "{out}");
    let body_at = out.find("\r\n\r\n").unwrap() + 4;
    let declared: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        out.len() - body_at,
        declared,
        "Content-Length matches the body"
    );
    (err, out, s)
}

#[test]
fn accept_key_rfc6455_known_answer() {
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn novnc_request_gets_101_with_binary_protocol() {
    let s = open_server();
    assert_eq!(s.close_reason(), None);
    assert_eq!(s.request.capacity(), 0, "the request buffer is released");
}

#[test]
fn handshake_split_at_every_point() {
    let req = NOVNC_REQUEST.as_bytes();
    for cut in 0..=req.len() {
        let mut s = WsServer::new(qemu_cfg());
        s.feed(&req[..cut]).unwrap();
        assert!(!s.is_open() || cut == req.len());
        s.feed(&req[cut..]).unwrap();
        assert!(s.is_open(), "cut at {cut}");
        assert_eq!(s.take_output(), NOVNC_REPLY.as_bytes());
    }
    let mut s = WsServer::new(qemu_cfg());
    for b in req {
        s.feed(std::slice::from_ref(b)).unwrap();
    }
    assert!(s.is_open());
}

#[test]
fn frames_in_the_same_read_as_the_request_are_decoded() {
    let mut input = NOVNC_REQUEST.as_bytes().to_vec();
    input.extend(binary(b"RFB 003.008\n"));
    let mut s = WsServer::new(qemu_cfg());
    s.feed(&input).unwrap();
    assert_eq!(s.take_output(), NOVNC_REPLY.as_bytes());
    assert_eq!(payload(&mut s), b"RFB 003.008\n");
}

#[test]
fn firefox_style_connection_list_and_case() {
    let req = request_with("Connection: Upgrade", "Connection: keep-alive, Upgrade")
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace(
            "Sec-WebSocket-Protocol: binary",
            "sec-websocket-protocol: base64, binary",
        );
    let mut s = WsServer::new(qemu_cfg());
    s.feed(req.as_bytes()).unwrap();
    assert_eq!(s.take_output(), NOVNC_REPLY.as_bytes());
}

#[test]
fn binary_protocol_optional_unless_required() {
    let req = request_with("Sec-WebSocket-Protocol: binary\r\n", "");
    let mut s = WsServer::new(WsConfig::default());
    s.feed(req.as_bytes()).unwrap();
    let out = String::from_utf8(s.take_output()).unwrap();
    assert!(out.starts_with("HTTP/1.1 101 "));
    assert!(
        !out.contains("Sec-WebSocket-Protocol"),
        "nothing echoed when not offered"
    );

    let (err, out, _) = refused(qemu_cfg(), &req);
    assert!(matches!(err, Error::WsNoBinaryProtocol));
    assert_eq!(status_line(out.as_bytes()), "HTTP/1.1 400 Bad Request");
    let other = request_with("Protocol: binary", "Protocol: Binary, chat");
    assert!(matches!(
        refused(qemu_cfg(), &other).0,
        Error::WsNoBinaryProtocol
    ));
}

#[test]
fn bad_version_gets_400_with_supported_version() {
    for bad in [
        "Sec-WebSocket-Version: 8",
        "Sec-WebSocket-Version: 13, 8",
        "X-Nothing: 1",
    ] {
        let req = request_with("Sec-WebSocket-Version: 13", bad);
        let (err, out, s) = refused(qemu_cfg(), &req);
        assert!(matches!(err, Error::WsBadVersion), "{bad}");
        assert_eq!(status_line(out.as_bytes()), "HTTP/1.1 400 Bad Request");
        assert!(out.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        assert_eq!(
            s.close_reason(),
            Some(CloseReason::HandshakeRefused { status: 400 })
        );
    }
}

#[test]
fn bad_key_gets_400() {
    for bad in [
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZQ===",
        "dGhlIHNhbXBsZSBub25jZ===",
        "dGhlIHNhbXBsZSBub25j*Q==",
        "",
    ] {
        let req = request_with("dGhlIHNhbXBsZSBub25jZQ==", bad);
        let (err, out, _) = refused(qemu_cfg(), &req);
        assert!(matches!(err, Error::WsBadKey), "{bad:?}");
        assert_eq!(status_line(out.as_bytes()), "HTTP/1.1 400 Bad Request");
    }
    let twice = request_with(
        "\r\n\r\n",
        "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert!(matches!(refused(qemu_cfg(), &twice).0, Error::WsBadKey));
}

#[test]
fn malformed_requests_get_400_or_405() {
    let cases: [(String, u16); 9] = [
        (request_with("GET /", "POST /"), 405),
        (request_with("HTTP/1.1\r\n", "HTTP/1.0\r\n"), 400),
        (request_with("GET / ", "GET  / "), 400),
        (request_with("GET / ", "GET * "), 400),
        (request_with("Host: 127.0.0.1:5701\r\n", ""), 400),
        (request_with("Upgrade: websocket", "Upgrade: h2c"), 400),
        (
            request_with("Connection: Upgrade", "Connection: keep-alive"),
            400,
        ),
        (
            request_with("Pragma: no-cache\r\n", "Pragma no-cache\r\n"),
            400,
        ),
        (
            request_with("Pragma: no-cache\r\n", "Pragma: no-cache\n"),
            400,
        ),
    ];
    for (req, status) in cases {
        let (_, out, _) = refused(qemu_cfg(), &req);
        assert!(
            status_line(out.as_bytes()).starts_with(&format!("HTTP/1.1 {status} ")),
            "{req}"
        );
    }
    let (_, out, _) = refused(qemu_cfg(), &request_with("GET /", "DELETE /"));
    assert!(out.contains("\r\nAllow: GET\r\n"));
}

#[test]
fn any_absolute_path_is_accepted() {
    let req = request_with("GET / ", "GET /websockify?token=x ");
    let mut s = WsServer::new(qemu_cfg());
    s.feed(req.as_bytes()).unwrap();
    assert!(s.is_open());
}

#[test]
fn cve_2015_1779_one_mib_of_headers_rejected_with_bounded_memory() {
    let mut flood = String::from("GET / HTTP/1.1\r\n");
    while flood.len() < 1 << 20 {
        flood.push_str("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    // All at once: only the first WS_MAX_HANDSHAKE_BYTES are ever copied.
    let mut s = WsServer::new(qemu_cfg());
    assert!(matches!(
        s.feed(flood.as_bytes()),
        Err(Error::WsHeadersTooLarge)
    ));
    assert_eq!(
        status_line(&s.take_output()),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert!(matches!(s.feed(b"more"), Err(Error::WsFailed)));

    // In 1 KiB reads: refused as soon as the limit is reached, buffer never grows.
    let mut s = WsServer::new(qemu_cfg());
    let mut fed = 0;
    let err = loop {
        let chunk = &flood.as_bytes()[fed..fed + 1024];
        fed += chunk.len();
        match s.feed(chunk) {
            Ok(()) => assert!(s.request.capacity() <= WS_MAX_HANDSHAKE_BYTES),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::WsHeadersTooLarge));
    assert_eq!(fed, WS_MAX_HANDSHAKE_BYTES);
    assert_eq!(s.request.capacity(), 0);
    assert_eq!(
        s.close_reason(),
        Some(CloseReason::HandshakeRefused { status: 431 })
    );
}

#[test]
fn handshake_limit_is_exactly_4096_bytes() {
    let base = NOVNC_REQUEST.len() + "X-Pad: \r\n".len();
    let pad = |extra: usize| {
        request_with(
            "\r\n\r\n",
            &format!("\r\nX-Pad: {}\r\n\r\n", "a".repeat(extra)),
        )
    };
    let fits = pad(WS_MAX_HANDSHAKE_BYTES - base);
    assert_eq!(fits.len(), WS_MAX_HANDSHAKE_BYTES);
    let mut s = WsServer::new(qemu_cfg());
    s.feed(fits.as_bytes()).unwrap();
    assert!(s.is_open());
    let over = pad(WS_MAX_HANDSHAKE_BYTES - base + 1);
    let mut s = WsServer::new(qemu_cfg());
    assert!(matches!(
        s.feed(over.as_bytes()),
        Err(Error::WsHeadersTooLarge)
    ));
}

#[test]
fn thirty_three_header_lines_rejected_thirty_two_accepted() {
    let with_lines = |n: usize| {
        let mut req = String::from(
            "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Protocol: binary\r\n",
        );
        for i in 6..n {
            req.push_str(&format!("X-{i}: y\r\n"));
        }
        req + "\r\n"
    };
    let mut s = WsServer::new(qemu_cfg());
    s.feed(with_lines(WS_MAX_HEADER_LINES).as_bytes()).unwrap();
    assert!(s.is_open());
    let (err, out, _) = refused(qemu_cfg(), &with_lines(WS_MAX_HEADER_LINES + 1));
    assert!(matches!(err, Error::WsTooManyHeaders));
    assert_eq!(
        status_line(out.as_bytes()),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

#[test]
fn origin_allowlist() {
    let cfg = |list: &[&str]| WsConfig {
        allowed_origins: Some(list.iter().map(|s| (*s).to_owned()).collect()),
        require_binary_protocol: true,
    };
    let mut s = WsServer::new(cfg(&["https://console.example", "HTTP://127.0.0.1:6080"]));
    s.feed(NOVNC_REQUEST.as_bytes()).unwrap();
    assert!(s.is_open(), "case-insensitive match");

    let (err, out, s) = refused(cfg(&["https://console.example"]), NOVNC_REQUEST);
    assert!(matches!(err, Error::WsOriginRejected(ref o) if o == "http://127.0.0.1:6080"));
    assert_eq!(status_line(out.as_bytes()), "HTTP/1.1 403 Forbidden");
    assert_eq!(
        s.close_reason(),
        Some(CloseReason::HandshakeRefused { status: 403 })
    );

    let no_origin = request_with("Origin: http://127.0.0.1:6080\r\n", "");
    let (err, out, _) = refused(cfg(&["https://console.example"]), &no_origin);
    assert!(matches!(err, Error::WsOriginRejected(ref o) if o.is_empty()));
    assert_eq!(status_line(out.as_bytes()), "HTTP/1.1 403 Forbidden");
    let (_, out, _) = refused(cfg(&[]), NOVNC_REQUEST);
    assert_eq!(status_line(out.as_bytes()), "HTTP/1.1 403 Forbidden");

    let prefix = request_with(
        "Origin: http://127.0.0.1:6080",
        "Origin: http://127.0.0.1:60800",
    );
    assert!(matches!(
        refused(cfg(&["http://127.0.0.1:6080"]), &prefix).0,
        Error::WsOriginRejected(_)
    ));
}

#[test]
fn cve_2025_11234_half_handshake_then_drop() {
    let mut s = WsServer::new(qemu_cfg());
    s.feed(&NOVNC_REQUEST.as_bytes()[..NOVNC_REQUEST.len() / 2])
        .unwrap();
    s.send(b"RFB 003.008\n");
    assert!(!s.is_open());
    assert!(
        s.take_output().is_empty(),
        "nothing is written before the handshake"
    );
    assert!(s.output_len() > 0, "early sends count for throttling");
    drop(s);
}

#[test]
fn sends_before_open_follow_the_101() {
    let mut s = WsServer::new(qemu_cfg());
    s.send(b"RFB 003.008\n");
    s.feed(NOVNC_REQUEST.as_bytes()).unwrap();
    let out = s.take_output();
    let (reply, frames) = out.split_at(NOVNC_REPLY.len());
    assert_eq!(reply, NOVNC_REPLY.as_bytes());
    assert_eq!(
        server_frames(frames),
        vec![(0x82, b"RFB 003.008\n".to_vec())]
    );
}

#[test]
fn masked_binary_frames_decode() {
    let mut s = open_server();
    s.feed(&binary(b"hello")).unwrap();
    s.feed(&client_frame(0x82, b"", [1, 2, 3, 4])).unwrap();
    s.feed(&client_frame(0x82, b"world", [0xff, 0, 0x55, 0xaa]))
        .unwrap();
    assert_eq!(payload(&mut s), b"helloworld");
    assert!(s.take_output().is_empty());
}

/// A message in three fragments (7-, 16- and 64-bit lengths) with a ping and a pong
/// in between, then a plain frame.
fn fragmented_stream() -> (Vec<u8>, Vec<u8>) {
    let a: Vec<u8> = (0..100u8).collect();
    let b: Vec<u8> = (0..300).map(|i| low_byte(i % 251)).collect();
    let c: Vec<u8> = (0..70_000).map(|i| low_byte(i % 253)).collect();
    let mut input = client_frame(0x02, &a, MASK);
    input.extend(client_frame(0x89, b"ping!", [9, 8, 7, 6]));
    input.extend(client_frame(0x00, &b, [1, 2, 3, 4]));
    input.extend(client_frame(0x8a, b"unsolicited", MASK));
    input.extend(client_frame(0x80, &c, [0xde, 0xad, 0xbe, 0xef]));
    input.extend(binary(b"tail"));
    let expected = [a, b, c, b"tail".to_vec()].concat();
    (input, expected)
}

#[test]
fn fragments_and_control_frames_split_at_every_point() {
    let (input, expected) = fragmented_stream();
    // Every split point in the headers and around the small frames, and a stride
    // through the big payload.
    let cuts = (0..700)
        .chain((700..input.len()).step_by(997))
        .chain(input.len() - 30..=input.len());
    for cut in cuts {
        let mut s = open_server();
        s.feed(&input[..cut]).unwrap();
        let mut got = payload(&mut s);
        s.feed(&input[cut..]).unwrap();
        s.read_payload(&mut got);
        assert_eq!(got, expected, "cut at {cut}");
        assert_eq!(
            server_frames(&s.take_output()),
            vec![(0x8a, b"ping!".to_vec())]
        );
    }
    let mut s = open_server();
    for b in &input {
        s.feed(std::slice::from_ref(b)).unwrap();
    }
    assert_eq!(payload(&mut s), expected);
}

#[test]
fn ping_gets_pong_and_pong_is_ignored() {
    let mut s = open_server();
    s.feed(&client_frame(0x89, b"", MASK)).unwrap();
    s.feed(&client_frame(0x89, &[0x42; 125], MASK)).unwrap();
    s.feed(&client_frame(0x8a, b"x", MASK)).unwrap();
    assert_eq!(
        server_frames(&s.take_output()),
        vec![(0x8a, vec![]), (0x8a, vec![0x42; 125])]
    );
}

#[test]
fn pong_flood_against_unread_output_stays_bounded() {
    let mut s = open_server();
    s.send(&vec![0; WS_PONG_BACKLOG]);
    let before = s.output_len();
    for i in 0..10_000u32 {
        s.feed(&client_frame(0x89, &i.to_be_bytes(), MASK)).unwrap();
        assert!(s.output_len() <= before + 2 + WS_MAX_CONTROL_PAYLOAD);
    }
    let frames = server_frames(&s.take_output());
    assert_eq!(
        frames.last().unwrap(),
        &(0x8a, 9999u32.to_be_bytes().to_vec())
    );
    assert_eq!(
        frames.iter().filter(|f| f.0 == 0x8a).count(),
        1,
        "only the latest ping is answered"
    );

    // With output()/consume_output(), the held pong joins when the output drains.
    let mut s = open_server();
    s.send(&vec![0; WS_PONG_BACKLOG]);
    s.feed(&client_frame(0x89, b"p", MASK)).unwrap();
    let len = s.output().len();
    s.consume_output(len);
    assert_eq!(server_frames(s.output()), vec![(0x8a, b"p".to_vec())]);
}

#[test]
fn client_close_is_answered_and_ends_input() {
    let mut s = open_server();
    let mut close = vec![0x03, 0xe8];
    close.extend_from_slice("bye ✓".as_bytes());
    let mut input = binary(b"last");
    input.extend(client_frame(0x88, &close, MASK));
    input.extend(binary(b"ignored"));
    s.feed(&input).unwrap();
    assert_eq!(payload(&mut s), b"last");
    assert_eq!(
        server_frames(&s.take_output()),
        vec![(0x88, vec![0x03, 0xe8])]
    );
    assert_eq!(
        s.close_reason(),
        Some(CloseReason::Peer { code: Some(1000) })
    );
    assert!(!s.is_open());
    s.feed(&binary(b"more")).unwrap();
    s.send(b"dropped");
    assert!(payload(&mut s).is_empty());
    assert!(s.take_output().is_empty());

    let mut s = open_server();
    s.feed(&client_frame(0x88, b"", MASK)).unwrap();
    assert_eq!(server_frames(&s.take_output()), vec![(0x88, vec![])]);
    assert_eq!(s.close_reason(), Some(CloseReason::Peer { code: None }));
}

/// Feeds `input` to an open server and checks it fails with `code` in a close frame.
fn violation(input: &[u8], code: u16) -> Error {
    let mut s = open_server();
    let err = s.feed(input).unwrap_err();
    assert_eq!(
        server_frames(&s.take_output()),
        vec![(0x88, code.to_be_bytes().to_vec())],
        "{err}"
    );
    assert_eq!(s.close_reason(), Some(CloseReason::Local { code }));
    assert!(matches!(s.feed(&binary(b"x")), Err(Error::WsFailed)));
    err
}

#[test]
fn unmasked_frame_closes_1002() {
    let err = violation(&[0x82, 0x02, b'h', b'i'], close_code::PROTOCOL_ERROR);
    assert!(matches!(err, Error::WsUnmasked));
}

#[test]
fn text_frame_closes_1003() {
    let err = violation(
        &client_frame(0x81, b"hello", MASK),
        close_code::UNSUPPORTED_DATA,
    );
    assert!(matches!(err, Error::WsTextFrame));
}

#[test]
fn reserved_bits_and_opcodes_close_1002() {
    for b0 in [0xc2, 0xa2, 0x92] {
        let err = violation(&client_frame(b0, b"x", MASK), close_code::PROTOCOL_ERROR);
        assert!(matches!(err, Error::WsReservedBits));
    }
    for op in [0x3, 0x7, 0xb, 0xf] {
        let err = violation(
            &client_frame(0x80 | op, b"x", MASK),
            close_code::PROTOCOL_ERROR,
        );
        assert!(matches!(err, Error::WsBadOpcode(o) if o == op));
    }
}

#[test]
fn bad_control_frames_close_1002() {
    let long_ping = client_frame(0x89, &[0; 126], MASK);
    assert!(matches!(
        violation(&long_ping, 1002),
        Error::WsBadControlFrame
    ));
    let fragmented_ping = client_frame(0x09, b"x", MASK);
    assert!(matches!(
        violation(&fragmented_ping, 1002),
        Error::WsBadControlFrame
    ));
    // The 126/127 length markers are refused from the first two bytes.
    assert!(matches!(
        violation(&[0x88, 0x80 | 127], 1002),
        Error::WsBadControlFrame
    ));
}

#[test]
fn bad_close_payloads() {
    assert!(matches!(
        violation(&client_frame(0x88, &[3], MASK), 1002),
        Error::WsBadClose
    ));
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        let err = violation(&client_frame(0x88, &code.to_be_bytes(), MASK), 1002);
        assert!(matches!(err, Error::WsBadClose), "{code}");
    }
    let bad_utf8 = client_frame(0x88, &[0x03, 0xe8, 0xff, 0xfe], MASK);
    assert!(matches!(
        violation(&bad_utf8, 1007),
        Error::WsCloseReasonNotUtf8
    ));
}

#[test]
fn continuation_out_of_sequence_closes_1002() {
    let stray = client_frame(0x80, b"x", MASK);
    assert!(matches!(violation(&stray, 1002), Error::WsBadContinuation));
    let mut nested = client_frame(0x02, b"a", MASK);
    nested.extend(binary(b"b"));
    assert!(matches!(violation(&nested, 1002), Error::WsBadContinuation));
}

#[test]
fn frame_lengths_16_and_64_bit() {
    let mut s = open_server();
    let mid: Vec<u8> = (0..=255u8).cycle().take(65_535).collect();
    let big: Vec<u8> = (0..=255u8).rev().cycle().take(65_536).collect();
    s.feed(&binary(&mid)).unwrap();
    assert_eq!(payload(&mut s), mid);
    let frame = binary(&big);
    assert_eq!(frame[1], 0x80 | 127);
    s.feed(&frame).unwrap();
    assert_eq!(payload(&mut s), big);
    // A non-minimal length encoding is tolerated.
    let mut lax = client_header(0x82, 1 << 16, MASK);
    lax[1] = 0x80 | 127;
    lax.splice(2..10, 3u64.to_be_bytes());
    lax.extend([b'a' ^ MASK[0], b'b' ^ MASK[1], b'c' ^ MASK[2]]);
    s.feed(&lax).unwrap();
    assert_eq!(payload(&mut s), b"abc");
}

#[test]
fn cve_2015_1779_declared_2_pow_63_payload_streams_with_bounded_memory() {
    let mut s = open_server();
    s.feed(&client_header(0x82, (1 << 63) - 1, MASK)).unwrap();
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| low_byte(i) ^ MASK[i % 4]).collect();
    let mut got = Vec::new();
    for _ in 0..128 {
        s.feed(&chunk).unwrap();
        assert!(
            s.payload.capacity() <= 2 * chunk.len(),
            "{}",
            s.payload.capacity()
        );
        got.clear();
        s.read_payload(&mut got);
        assert_eq!(got.len(), chunk.len());
        assert!(got.iter().enumerate().all(|(i, &b)| b == low_byte(i)));
    }
    assert_eq!(s.frame.unwrap().remaining, (1 << 63) - 1 - 128 * 64 * 1024);
    assert!(s.is_open());

    let err = violation(&client_header(0x82, 1 << 63, MASK), 1002);
    assert!(matches!(err, Error::WsBadLength));
}

#[test]
fn undrained_payload_backlog_closes_1009() {
    let mut s = open_server();
    let chunk = binary(&[7; 64 * 1024]);
    let mut fed = 0;
    let err = loop {
        match s.feed(&chunk) {
            Ok(()) => fed += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(fed, WS_MAX_PENDING_PAYLOAD / (64 * 1024));
    assert!(matches!(err, Error::WsPayloadBacklog));
    assert!(s.payload.len() <= WS_MAX_PENDING_PAYLOAD);
    let frames = server_frames(&s.take_output());
    assert_eq!(
        frames,
        vec![(0x88, close_code::TOO_BIG.to_be_bytes().to_vec())]
    );
}

#[test]
fn send_frames_and_splits() {
    let mut s = open_server();
    s.send(b"");
    assert!(s.take_output().is_empty(), "no empty frames");
    s.send(b"0123456789");
    assert_eq!(s.take_output(), [&[0x82, 10][..], b"0123456789"].concat());
    s.send(&[1; 125]);
    assert_eq!(s.take_output()[..2], [0x82, 125]);
    s.send(&[1; 126]);
    assert_eq!(s.take_output()[..4], [0x82, 126, 0, 126]);
    s.send(&[2; WS_MAX_FRAME]);
    let out = s.take_output();
    assert_eq!(out[..4], [0x82, 126, 0xff, 0xff]);
    assert_eq!(out.len(), 4 + WS_MAX_FRAME);

    let data: Vec<u8> = (0..200_000).map(|i| low_byte(i % 241)).collect();
    s.send(&data);
    assert_eq!(s.output_len(), s.output().len());
    let frames = server_frames(&s.take_output());
    let sizes: Vec<usize> = frames.iter().map(|f| f.1.len()).collect();
    assert_eq!(
        sizes,
        [
            WS_MAX_FRAME,
            WS_MAX_FRAME,
            WS_MAX_FRAME,
            200_000 - 3 * WS_MAX_FRAME
        ]
    );
    assert!(frames.iter().all(|f| f.0 == 0x82));
    assert_eq!(
        frames.into_iter().flat_map(|f| f.1).collect::<Vec<_>>(),
        data
    );

    // 64-bit lengths, should WS_MAX_FRAME ever grow past 16 bits.
    let mut raw = Vec::new();
    write_frame(&mut raw, OP_BINARY, &[0; 70_000]);
    assert_eq!(raw[..10], [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
}

#[test]
fn consume_output_keeps_the_rest() {
    let mut s = open_server();
    s.send(b"abc");
    s.consume_output(3);
    assert_eq!(s.output(), b"bc");
    s.consume_output(100);
    assert!(s.output().is_empty());
}

#[test]
fn server_close_sends_close_frame() {
    let mut s = open_server();
    s.send(b"x");
    s.close(close_code::NORMAL);
    let frames = server_frames(&s.take_output());
    assert_eq!(
        frames,
        vec![(0x82, b"x".to_vec()), (0x88, vec![0x03, 0xe8])]
    );
    assert_eq!(s.close_reason(), Some(CloseReason::Local { code: 1000 }));
    s.feed(&binary(b"late")).unwrap();
    assert!(payload(&mut s).is_empty());
}

fn assert_bounded(s: &WsServer) {
    assert!(s.request.capacity() <= WS_MAX_HANDSHAKE_BYTES);
    assert!(s.payload.len() <= WS_MAX_PENDING_PAYLOAD);
    assert!(s.header_len <= MAX_FRAME_HEADER);
    assert!(s.control_len <= WS_MAX_CONTROL_PAYLOAD);
    assert!(s.buffered_input_len() <= WS_MAX_BUFFERED_INPUT);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_before_the_handshake(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..16)
    ) {
        let mut s = WsServer::new(qemu_cfg());
        let mut fed = 0;
        for c in &chunks {
            fed += c.len();
            let _ = s.feed(c);
            assert_bounded(&s);
            // Only an HTTP answer can come out: at most one short reply.
            prop_assert!(s.output_len() <= 512, "{}", s.output_len());
        }
        if s.close_reason().is_none() && !s.is_open() {
            prop_assert!(fed < WS_MAX_HANDSHAKE_BYTES);
        }
    }

    #[test]
    fn arbitrary_frames_never_panic_and_stay_bounded(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..32)
    ) {
        let mut s = open_server();
        let mut fed = 0;
        for c in &chunks {
            fed += c.len();
            let _ = s.feed(c);
            assert_bounded(&s);
            let mut sink = Vec::new();
            s.read_payload(&mut sink);
            // Pongs and one close frame at most: output never outgrows the input.
            prop_assert!(s.output_len() <= fed + 4, "{} > {}", s.output_len(), fed);
        }
    }

    #[test]
    fn any_fragmentation_and_split_decodes_the_same(
        parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 1..6),
        masks in proptest::collection::vec(any::<[u8; 4]>(), 6),
        pings in proptest::collection::vec(any::<bool>(), 6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut input = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let op = if i == 0 { 0x02 } else { 0x00 };
            let fin = if i + 1 == parts.len() { 0x80 } else { 0 };
            input.extend(client_frame(fin | op, part, masks[i]));
            if pings[i] {
                input.extend(client_frame(0x89, &[low_byte(i)], masks[i]));
            }
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        cuts.sort_unstable();
        let mut s = open_server();
        let mut got = Vec::new();
        let mut at = 0;
        for cut in cuts.into_iter().chain([input.len()]) {
            s.feed(&input[at..cut]).unwrap();
            s.read_payload(&mut got);
            at = cut;
        }
        prop_assert_eq!(got, parts.concat());
        let pongs = server_frames(&s.take_output());
        let want: Vec<(u8, Vec<u8>)> = (0..parts.len())
            .filter(|&i| pings[i])
            .map(|i| (0x8a, vec![low_byte(i)]))
            .collect();
        prop_assert_eq!(pongs, want);
    }
}
