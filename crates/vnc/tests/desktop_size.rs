//! Client handlers on a real loop with in-repo rfbclient viewers: SetDesktopSize goes to
//! the host and its answer to the requester alone; a resize reaches every kind of client
//! the way it understands (ExtendedDesktopSize, DesktopSize, or not at all).

use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use display::Surface;
use evloop::EventLoop;
use rfb::Screen;
use rfbclient::{Client, ExtDesktopSize, HandshakeOpts, UpdateSummary};
use vnc::{
    AuthMode, ClientSocket, DesktopSizeStatus, Listen, SharePolicy, VncConfig, VncHost, VncServer,
};

/// Timeout of every viewer read and write.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long one test may run.
const TEST_DEADLINE: Duration = Duration::from_secs(60);
/// The surface size at start.
const START: (u16, u16) = (640, 480);

const DESKTOP_SIZE: i32 = rfb::encoding::DESKTOP_SIZE;
const EXTENDED: i32 = rfb::encoding::EXTENDED_DESKTOP_SIZE;

/// A host whose guest answers every request with `answer`; `Forwarded` requests are
/// carried out (the surface is resized) right after the answer.
struct Host {
    vnc: VncServer,
    surface: Surface,
    answer: DesktopSizeStatus,
    requests: Vec<(u32, u32)>,
    resize: Option<(u32, u32)>,
}

impl VncHost for Host {
    fn vnc(&mut self) -> &mut VncServer {
        &mut self.vnc
    }

    fn vnc_and_surface(&mut self) -> (&mut VncServer, &Surface) {
        (&mut self.vnc, &self.surface)
    }

    fn input(&mut self, _ev: input::InputEvent) {}

    fn authorize(&mut self, _authz_id: &str, _identity: &str) -> bool {
        false
    }

    fn request_desktop_size(&mut self, width: u32, height: u32) -> DesktopSizeStatus {
        self.requests.push((width, height));
        if self.answer == DesktopSizeStatus::Forwarded {
            self.resize = Some((width, height));
        }
        self.answer
    }
}

fn host(answer: DesktopSizeStatus) -> Host {
    let (w, h) = (u32::from(START.0), u32::from(START.1));
    Host {
        vnc: VncServer::new(
            VncConfig {
                id: "default".into(),
                listen: Listen::None,
                auth: AuthMode::None,
                share: SharePolicy::AllowExclusive,
                connections: 32,
                desktop_name: "desktop-size test".into(),
                tls: None,
                websocket: None,
                websocket_origins: None,
                plain: None,
            },
            (w, h),
        ),
        surface: Surface::new(w, h).unwrap(),
        answer,
        requests: Vec::new(),
        resize: None,
    }
}

/// Connects `n` viewers (through the handshake) and runs `script` with them on another
/// thread while the loop runs here; returns the host afterwards.
fn run(mut host: Host, n: usize, script: impl FnOnce(Vec<Client>) + Send + 'static) -> Host {
    let mut lp: EventLoop<Host> = EventLoop::new().unwrap();
    let mut ends = Vec::new();
    for _ in 0..n {
        let (server_end, client_end) = UnixStream::pair().unwrap();
        let sock = ClientSocket::from_fd(server_end.into()).unwrap();
        lp.with_ops(&mut host, |state, ops| {
            vnc::add_socket_client(state, ops, sock, false);
        });
        ends.push(client_end);
    }
    let viewers = thread::spawn(move || {
        let clients = ends
            .into_iter()
            .map(|end| {
                let mut c = Client::from_unix(end, TIMEOUT).unwrap();
                let init = c
                    .handshake(&HandshakeOpts {
                        minor: 8,
                        password: None,
                        shared: true,
                    })
                    .unwrap();
                assert_eq!((init.width, init.height), START);
                c
            })
            .collect();
        script(clients);
    });
    let deadline = Instant::now() + TEST_DEADLINE;
    while !viewers.is_finished() {
        assert!(Instant::now() < deadline, "test script did not finish");
        lp.run_once(&mut host, Some(Duration::from_millis(10)))
            .unwrap();
        if let Some((w, h)) = host.resize.take() {
            host.surface.resize(w, h).unwrap();
            let keys = host.vnc.surface_resized(w, h);
            lp.with_ops(&mut host, |_, ops| {
                for k in keys {
                    ops.notify(k, vnc::NOTIFY_UPDATE);
                }
            });
        }
    }
    if let Err(panic) = viewers.join() {
        std::panic::resume_unwind(panic);
    }
    lp.shutdown(&mut host);
    host
}

fn full_screen(w: u16, h: u16) -> Screen {
    Screen {
        id: 0,
        x: 0,
        y: 0,
        w,
        h,
        flags: 0,
    }
}

fn ext(reason: u16, status: u16, (w, h): (u16, u16)) -> ExtDesktopSize {
    ExtDesktopSize {
        reason,
        status,
        width: w,
        height: h,
        screens: vec![full_screen(w, h)],
    }
}

/// Reads one update that must carry exactly one ExtendedDesktopSize rectangle.
fn read_ext(c: &mut Client) -> ExtDesktopSize {
    let sum = c.read_update().unwrap();
    assert_eq!(sum.rects.len(), 1, "{sum:?}");
    sum.ext_desktop_sizes.into_iter().next().unwrap()
}

/// Reads one update that must carry only Raw pixels; returns it.
fn read_pixels(c: &mut Client) -> UpdateSummary {
    let sum = c.read_update().unwrap();
    assert!(!sum.rects.is_empty());
    assert!(
        sum.rects.iter().all(|r| r.encoding == rfb::encoding::RAW),
        "{sum:?}"
    );
    sum
}

#[test]
fn non_incremental_request_gets_the_layout_before_the_pixels() {
    run(host(DesktopSizeStatus::Prohibited), 1, |mut c| {
        let a = &mut c[0];
        a.set_encodings(&[0, EXTENDED]).unwrap();
        a.request_update(false, 0, 0, START.0, START.1).unwrap();
        assert_eq!(read_ext(a), ext(0, 0, START));
        read_pixels(a);
    });
}

#[test]
fn set_desktop_size_forwarded_then_resize_reaches_every_kind_of_client() {
    let host = run(host(DesktopSizeStatus::Forwarded), 4, |mut c| {
        let [a, b, d, n] = &mut c[..] else {
            unreachable!()
        };
        // a: both pseudo-encodings (asks for the resize); b: only -308; d: only -223;
        // n: neither.
        a.set_encodings(&[0, DESKTOP_SIZE, EXTENDED]).unwrap();
        b.set_encodings(&[0, EXTENDED]).unwrap();
        d.set_encodings(&[0, DESKTOP_SIZE]).unwrap();
        n.set_encodings(&[0]).unwrap();
        a.set_desktop_size(800, 600, &[full_screen(800, 600)])
            .unwrap();
        // The answer: forwarded, with the size the client knows.
        let reply = read_ext(a);
        assert_eq!(reply, ext(1, 4, START));
        assert_eq!(a.framebuffer().1, u32::from(START.0));
        // The guest switched; each client learns it with its next update.
        for client in [&mut *a, &mut *b] {
            client.request_update(true, 0, 0, START.0, START.1).unwrap();
            let sum = client.read_update().unwrap();
            assert_eq!(sum.ext_desktop_sizes, [ext(0, 0, (800, 600))]);
            assert_eq!(sum.resized, Some((800, 600)));
            read_pixels(client);
        }
        d.request_update(true, 0, 0, START.0, START.1).unwrap();
        let sum = d.read_update().unwrap();
        assert_eq!(sum.resized, Some((800, 600)));
        assert_eq!(sum.rects[0].encoding, DESKTOP_SIZE);
        read_pixels(d);
        // Neither: no announcement, pixels inside the size it knows (as before).
        n.request_update(false, 0, 0, START.0, START.1).unwrap();
        let sum = read_pixels(n);
        assert_eq!(sum.resized, None);
        let (_, w, h) = n.framebuffer();
        assert_eq!((w, h), (u32::from(START.0), u32::from(START.1)));
    });
    assert_eq!(host.requests, [(800, 600)]);
    assert_eq!((host.surface.width(), host.surface.height()), (800, 600));
}

#[test]
fn set_desktop_size_prohibited_goes_to_the_requester_only() {
    let host = run(host(DesktopSizeStatus::Prohibited), 2, |mut c| {
        let [a, b] = &mut c[..] else { unreachable!() };
        a.set_encodings(&[0, EXTENDED]).unwrap();
        b.set_encodings(&[0, EXTENDED]).unwrap();
        a.set_desktop_size(1024, 768, &[full_screen(1024, 768)])
            .unwrap();
        assert_eq!(read_ext(a), ext(1, 1, START));
        // b's first message is the answer to its own request: nothing came before.
        b.request_update(false, 0, 0, START.0, START.1).unwrap();
        assert_eq!(read_ext(b), ext(0, 0, START));
        read_pixels(b);
    });
    assert_eq!(host.requests, [(1024, 768)]);
}

#[test]
fn invalid_set_desktop_size_answered_without_asking_the_host() {
    let host = run(host(DesktopSizeStatus::Forwarded), 1, |mut c| {
        let a = &mut c[0];
        a.set_encodings(&[0, EXTENDED]).unwrap();
        let too_wide = u16::try_from(display::MAX_WIDTH + 1).unwrap();
        for (w, h, screens) in [
            (0, 0, vec![full_screen(0, 0)]),
            (too_wide, 100, vec![full_screen(too_wide, 100)]),
            (800, 600, vec![]),
            (800, 600, vec![full_screen(800, 600), full_screen(800, 600)]),
        ] {
            a.set_desktop_size(w, h, &screens).unwrap();
            assert_eq!(read_ext(a), ext(1, 3, START), "{w}x{h} {screens:?}");
        }
        // Still usable.
        a.request_update(false, 0, 0, 16, 16).unwrap();
        assert_eq!(read_ext(a), ext(0, 0, START));
        read_pixels(a);
    });
    assert_eq!(host.requests, []);
}
