//! Fuzzes the sans-IO WebSocket server with arbitrary client bytes.
//!
//! The first input byte picks the chunk size, whether noVNC's handshake is
//! prepended (so the fuzzer reaches the frame decoder at once), whether the
//! `binary` subprotocol is required, whether an Origin allowlist is set, and
//! whether decoded payload is drained (and echoed back through `send`) after each
//! chunk. The server must never panic, must keep its buffered input within
//! `WS_MAX_BUFFERED_INPUT`, and its output must stay proportional to the input.
#![no_main]

use chan::ws::{WS_MAX_BUFFERED_INPUT, WsConfig, WsServer};
use libfuzzer_sys::fuzz_target;

const NOVNC_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:5701\r\n\
Connection: Upgrade\r\nUpgrade: websocket\r\nOrigin: http://127.0.0.1:6080\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Protocol: binary\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(ctl >> 4) * 37 + 1;
    let drain = ctl & 4 != 0;
    let mut stream = Vec::new();
    if ctl & 1 != 0 {
        stream.extend_from_slice(NOVNC_REQUEST);
    }
    stream.extend_from_slice(rest);

    let mut s = WsServer::new(WsConfig {
        allowed_origins: (ctl & 8 != 0).then(|| vec!["http://127.0.0.1:6080".to_owned()]),
        require_binary_protocol: ctl & 2 != 0,
    });
    let mut fed = 0;
    let mut echoed = 0;
    let mut payload = Vec::new();
    for c in stream.chunks(chunk) {
        fed += c.len();
        let failed = s.feed(c).is_err();
        assert!(s.buffered_input_len() <= WS_MAX_BUFFERED_INPUT);
        if drain {
            payload.clear();
            s.read_payload(&mut payload);
            assert!(payload.len() <= c.len(), "more payload than input");
            s.send(&payload);
            echoed += payload.len();
        }
        // HTTP reply (< 512 bytes), echoed frames (header <= 4 bytes per frame of
        // at least one byte), pongs and one close: never more than this.
        assert!(s.output_len() <= 512 + 5 * echoed + 2 * fed + 4);
        let _ = s.take_output();
        if failed {
            assert!(s.feed(b"x").is_err());
            break;
        }
    }
});
