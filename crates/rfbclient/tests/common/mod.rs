//! A test server: `rfb::ServerSession` driven over a real socket in a thread.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rfb::{Event, Framebuffer, Phase, Rect, Security, ServerConfig, ServerSession};
use rfbclient::Client;

pub const PASSWORD: &[u8] = b"secret";
pub const NAME: &str = "QEMU (rfbclient-test)";
pub const TIMEOUT: Duration = Duration::from_secs(5);
pub const WIDTH: u16 = 64;
pub const HEIGHT: u16 = 48;
/// Keysym that makes the test server resize to `RESIZED`.
pub const RESIZE_KEY: u32 = 0x72;
pub const RESIZED: (u16, u16) = (40, 30);

/// A deterministic test picture.
pub fn pattern(w: u16, h: u16) -> Vec<u32> {
    let mut v = Vec::new();
    for y in 0..u32::from(h) {
        for x in 0..u32::from(w) {
            v.push(((x * 4) & 0xff) << 16 | ((y * 5) & 0xff) << 8 | ((x ^ y) & 0xff));
        }
    }
    v
}

pub fn config(security: Security) -> ServerConfig {
    let mut challenge = [0u8; 16];
    crypto::random_bytes(&mut challenge).unwrap();
    ServerConfig {
        security,
        challenge,
        name: NAME.to_string(),
        max_desktop_width: 5120,
        max_desktop_height: 2160,
    }
}

/// Serves one connection until it closes; every event is sent to `tx`.
/// Returns the protocol error that ended the session, if any.
pub fn serve<S: Read + Write>(
    mut sock: S,
    cfg: ServerConfig,
    tx: mpsc::Sender<Event>,
) -> Option<rfb::Error> {
    let challenge = cfg.challenge;
    let mut s = ServerSession::new(cfg);
    let (mut w, mut h) = (WIDTH, HEIGHT);
    let mut pixels = pattern(w, h);
    let mut buf = [0u8; 4096];
    loop {
        let out = s.take_output();
        if sock.write_all(&out).is_err() {
            return None;
        }
        if s.phase() == Phase::Closed {
            return s.feed(&[]).err();
        }
        let n = match sock.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        };
        let result = s.feed(&buf[..n]);
        while let Some(ev) = s.next_event() {
            match &ev {
                Event::VncAuthResponse(r) => {
                    if crypto::vnc_auth_check(PASSWORD, &challenge, r) {
                        s.auth_result(Ok(()));
                    } else {
                        s.auth_result(Err("Authentication failed"));
                    }
                }
                Event::ClientInit { .. } => s.server_init(w, h),
                Event::UpdateRequest {
                    x, y, w: rw, h: rh, ..
                } => {
                    let fb = Framebuffer {
                        pixels: &pixels,
                        width: u32::from(w),
                        height: u32::from(h),
                        stride: u32::from(w),
                    };
                    let r = Rect::new(u32::from(*x), u32::from(*y), u32::from(*rw), u32::from(*rh));
                    s.write_update(&fb, &[r]);
                }
                Event::Key { down: true, keysym } if *keysym == RESIZE_KEY => {
                    (w, h) = RESIZED;
                    pixels = pattern(w, h);
                    s.write_desktop_size(w, h);
                }
                Event::SetDesktopSize { .. } => {
                    s.desktop_size_reply(rfb::DesktopSizeStatus::Prohibited);
                }
                _ => {}
            }
            let _ = tx.send(ev);
        }
        if let Err(e) = result {
            let _ = sock.write_all(&s.take_output());
            return Some(e);
        }
    }
}

pub struct Harness {
    pub client: Client,
    pub events: mpsc::Receiver<Event>,
    pub server: JoinHandle<Option<rfb::Error>>,
}

impl Harness {
    /// Collects the events the server has seen so far (waiting briefly for more).
    pub fn events(&self) -> Vec<Event> {
        let mut v = Vec::new();
        while let Ok(ev) = self.events.recv_timeout(Duration::from_millis(200)) {
            v.push(ev);
        }
        v
    }

    /// Waits for exactly `n` events (up to `TIMEOUT` each).
    pub fn take_events(&self, n: usize) -> Vec<Event> {
        (0..n)
            .map(|_| self.events.recv_timeout(TIMEOUT).unwrap())
            .collect()
    }

    pub fn finish(self) -> Option<rfb::Error> {
        drop(self.client);
        self.server.join().unwrap()
    }
}

/// A client connected through a socketpair to a test server thread.
pub fn start(security: Security) -> Harness {
    let (a, b) = UnixStream::pair().unwrap();
    let (tx, events) = mpsc::channel();
    let cfg = config(security);
    let server = std::thread::spawn(move || serve(b, cfg, tx));
    Harness {
        client: Client::from_unix(a, TIMEOUT).unwrap(),
        events,
        server,
    }
}

/// A client connected to a thread that writes `script`, then reads until EOF.
pub fn scripted(script: Vec<u8>) -> (Client, JoinHandle<Vec<u8>>) {
    let (a, mut b) = UnixStream::pair().unwrap();
    let server = std::thread::spawn(move || {
        let _ = b.write_all(&script);
        let mut got = Vec::new();
        let _ = b.read_to_end(&mut got);
        got
    });
    (Client::from_unix(a, TIMEOUT).unwrap(), server)
}

pub fn server_init_script(w: u16, h: u16, name_len: u32, name: &[u8]) -> Vec<u8> {
    let mut v = b"RFB 003.008\n".to_vec();
    v.extend([1, 1]); // one type: None
    v.extend(0u32.to_be_bytes()); // SecurityResult OK
    v.extend(w.to_be_bytes());
    v.extend(h.to_be_bytes());
    v.extend(rfb::PixelFormat::NATIVE.to_bytes());
    v.extend(name_len.to_be_bytes());
    v.extend(name);
    v
}
