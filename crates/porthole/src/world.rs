//! The loop state ("world") and the handlers that belong to the machine itself:
//! the refresh timer, the stdio monitor bridge, and signals.

use std::time::{Duration, Instant};

use display::Surface;
use evloop::{Handler, HandlerKey, Ops, Readiness};
use monitor::hmp::{self, Outcome, PendingPassword};
use monitor::stdio::{Reply, Request, StdioMonitor};
use vnc::{VncEvent, VncEventKind, VncHost, VncServer};

use crate::commands::Cmds;
use crate::machine::{Machine, Refresh};

/// Display refresh period: QEMU's GUI_REFRESH_INTERVAL_DEFAULT. The guest of the loop runs
/// a time slice at each refresh.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(30);
/// Refresh period when the guest runs on its own vCPU thread: each frame it draws is
/// rendered at once, so the timer only keeps text-mode blinking going (a phase lasts
/// 267 ms) and costs an idle machine a third of the wake-ups.
pub const VCPU_REFRESH_INTERVAL: Duration = Duration::from_millis(100);

/// Why the process shuts down (QEMU's ShutdownCause names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `quit` from a monitor.
    HostQmpQuit,
    /// SIGINT / SIGTERM / SIGHUP.
    HostSignal,
    /// The guest powered off.
    Guest,
}

impl Shutdown {
    /// QEMU's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HostQmpQuit => "host-qmp-quit",
            Self::HostSignal => "host-signal",
            Self::Guest => "guest-shutdown",
        }
    }
}

/// Everything the loop's handlers share.
pub struct World {
    /// The machine.
    pub machine: Machine,
    /// The VNC display (a non-listening placeholder when `vnc_enabled` is false).
    pub vnc: VncServer,
    /// Whether a VNC display was configured.
    pub vnc_enabled: bool,
    /// `-name`.
    pub name: Option<String>,
    /// The stdio monitor thread, if `-monitor stdio`.
    pub stdio: Option<StdioMonitor>,
    /// A password prompt in progress on stdio.
    pub stdio_pending: Option<PendingPassword>,
    /// When the machine started (the guest's clock).
    pub start: Instant,
    /// Set once shutdown was requested.
    pub shutdown: Option<Shutdown>,
    /// QMP sessions, to which events go.
    pub qmp_clients: Vec<HandlerKey>,
    /// Recent events, newest last (bounded by [`MAX_EVENT_LOG`]).
    pub events: std::collections::VecDeque<EventRecord>,
    /// Sequence number of the newest event.
    pub event_seq: u64,
    /// Every character device, for query-chardev.
    pub chardevs: Vec<crate::chardev::ChardevSpec>,
    /// Connected clients per socket character device (query-chardev's `disconnected:`).
    pub chardev_clients: std::collections::BTreeMap<String, usize>,
    /// User-created objects (`-object`, `object-add`).
    pub objects: crate::objects::Objects,
    /// The loop's handle for waking itself (event delivery).
    pub remote: Option<evloop::Remote<World>>,
    /// An event delivery is already queued.
    pub events_pending: bool,
}

/// Events kept for delivery to QMP sessions (they are handed over after every batch).
pub const MAX_EVENT_LOG: usize = 256;

/// One emitted event.
pub struct EventRecord {
    /// Sequence number.
    pub seq: u64,
    /// Event name.
    pub name: String,
    /// Event data.
    pub data: Option<serde_json::Value>,
    /// Wall-clock time: seconds and microseconds since the epoch.
    pub timestamp: (i64, i64),
}

impl World {
    /// Sends an event to every negotiated QMP session. It is logged here and handed to the
    /// sessions right after the current batch (through the loop's remote, so that it works
    /// from any callback, including `removed()`).
    pub fn emit(&mut self, ev: &qapi::Event) {
        let timestamp = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                i64::from(d.subsec_micros()),
            ),
            Err(_) => (-1, -1),
        };
        self.event_seq += 1;
        self.events.push_back(EventRecord {
            seq: self.event_seq,
            name: ev.name().to_owned(),
            data: ev.data(),
            timestamp,
        });
        while self.events.len() > MAX_EVENT_LOG {
            self.events.pop_front();
        }
        if !self.events_pending
            && let Some(remote) = &self.remote
        {
            self.events_pending = true;
            let _ = remote.send(|w: &mut World, ops| {
                w.events_pending = false;
                w.qmp_clients.retain(|k| ops.is_live(*k));
                for k in &w.qmp_clients {
                    ops.notify(*k, crate::qmp::NOTIFY_EVENT);
                }
            });
        }
    }

    /// Asks the loop to end after this batch.
    pub fn request_shutdown(&mut self, why: Shutdown, ops: &mut Ops<'_, World>) {
        if self.shutdown.is_none() {
            log::info!("shutting down: {}", why.as_str());
            self.shutdown = Some(why);
            let (guest, reason) = match why {
                Shutdown::HostQmpQuit => (false, qapi::ShutdownCause::HostQmpQuit),
                Shutdown::HostSignal => (false, qapi::ShutdownCause::HostSignal),
                Shutdown::Guest => (true, qapi::ShutdownCause::GuestShutdown),
            };
            self.machine.set_run_state(qapi::RunState::Shutdown);
            self.emit(&qapi::Event::Shutdown(qapi::ShutdownData { guest, reason }));
        }
        // Quit once the SHUTDOWN event and the replies of this batch are out.
        ops.defer(|_, ops| ops.quit());
    }
}

impl VncHost for World {
    fn vnc(&mut self) -> &mut VncServer {
        &mut self.vnc
    }

    fn vnc_and_surface(&mut self) -> (&mut VncServer, &Surface) {
        (&mut self.vnc, self.machine.surface())
    }

    fn input(&mut self, ev: input::InputEvent) {
        self.machine.input(ev);
    }

    fn request_desktop_size(&mut self, width: u32, height: u32) -> vnc::DesktopSizeStatus {
        // QEMU's dpy_set_ui_info: the guest decides. The bench guest switches modes at its
        // next frame, and every viewer then gets the new size; the others cannot.
        if !self.machine.resizable() {
            vnc::DesktopSizeStatus::Prohibited
        } else if self.machine.request_mode(width, height) {
            vnc::DesktopSizeStatus::Forwarded
        } else {
            // A size the guest cannot show (outside its range).
            vnc::DesktopSizeStatus::InvalidLayout
        }
    }

    fn remote(&self) -> Option<evloop::Remote<Self>> {
        self.remote.clone()
    }

    fn authorize(&mut self, authz_id: &str, identity: &str) -> bool {
        // A missing object denies, as in QEMU.
        self.objects
            .authz_mut(authz_id)
            .is_some_and(|a| a.is_allowed(identity))
    }

    fn vnc_event(&mut self, ev: VncEvent) {
        log::info!(
            "VNC {:?}: client {}:{} ({})",
            ev.kind,
            ev.client.host,
            ev.client.service,
            ev.client.family.as_str()
        );
        let event = match ev.kind {
            VncEventKind::Connected => {
                let c = ev.client;
                qapi::Event::VncConnected(qapi::VncConnectedData {
                    server: ev.server,
                    client: qapi::VncBasicInfo {
                        host: c.host,
                        service: c.service,
                        family: c.family,
                        websocket: c.websocket,
                    },
                })
            }
            VncEventKind::Initialized => qapi::Event::VncInitialized(qapi::VncInitializedData {
                server: ev.server,
                client: ev.client,
            }),
            VncEventKind::Disconnected => qapi::Event::VncDisconnected(qapi::VncDisconnectedData {
                server: ev.server,
                client: ev.client,
            }),
        };
        self.emit(&event);
    }
}

/// Runs the guest (optionally), renders, and tells the VNC clients what changed.
pub fn refresh(w: &mut World, ops: &mut Ops<'_, World>, run_guest: bool) {
    let now_ms =
        u64::try_from(ops.now().saturating_duration_since(w.start).as_millis()).unwrap_or(u64::MAX);
    let keys = match w.machine.refresh(now_ms, run_guest) {
        Refresh::Resized(width, height) => w.vnc.surface_resized(width, height),
        Refresh::Dirty(rects) if rects.is_empty() => Vec::new(),
        Refresh::Dirty(rects) => w.vnc.mark_dirty(&rects),
    };
    for k in keys {
        ops.notify(k, vnc::NOTIFY_UPDATE);
    }
}

/// The periodic display refresh (QEMU's `gui_update` timer).
pub struct Ticker;

/// Timer tag of the refresh.
pub const TICK: u64 = 0;

impl Handler<World> for Ticker {
    fn ready(&mut self, _w: &mut World, _ev: Readiness, _ops: &mut Ops<'_, World>) {}

    fn timer(&mut self, w: &mut World, _tag: u64, ops: &mut Ops<'_, World>) {
        refresh(w, ops, true);
        if let Some(me) = ops.me() {
            let interval = if w.machine.has_vcpu() {
                VCPU_REFRESH_INTERVAL
            } else {
                REFRESH_INTERVAL
            };
            ops.add_timer(interval, me, TICK);
        }
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        None
    }
}

/// Starts the ticker.
pub fn start_ticker(
    lp: &mut evloop::EventLoop<World>,
    w: &mut World,
) -> anyhow::Result<HandlerKey> {
    let key = lp.add(Box::new(Ticker), mio::Interest::READABLE)?;
    lp.with_ops(w, |_, ops| {
        ops.add_timer(Duration::ZERO, key, TICK);
    });
    Ok(key)
}

fn reply_for(w: &mut World, outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Output(text) => Reply::Output(text),
        Outcome::ReadPassword { prompt, pending } => {
            w.stdio_pending = Some(pending);
            Reply::ReadPassword { prompt }
        }
        Outcome::Quit(text) => Reply::Quit(text),
    }
}

/// Handles one request from the stdio thread, on the loop.
pub fn stdio_request(w: &mut World, ops: &mut Ops<'_, World>, req: Request) {
    let reply = match req {
        Request::Line(line) => {
            let outcome = hmp::execute(
                &line,
                &mut Cmds { w, ops, fds: None },
                &hmp::Context { interactive: true },
            );
            reply_for(w, outcome)
        }
        Request::Password(pw) => match w.stdio_pending.take() {
            Some(pending) => {
                let outcome = hmp::finish_password(pending, pw, &mut Cmds { w, ops, fds: None });
                reply_for(w, outcome)
            }
            None => Reply::Output(String::new()),
        },
        Request::Eof => {
            // QEMU keeps running when the monitor's input ends; so do we.
            log::info!("monitor: end of standard input");
            return;
        }
        Request::Interrupted => {
            w.request_shutdown(Shutdown::HostSignal, ops);
            return;
        }
    };
    if let Some(m) = &w.stdio {
        m.reply(reply);
    }
}

/// Releases the keys `send-key` pressed, after the hold time, in reverse order (as QEMU),
/// then removes itself.
pub struct KeyRelease {
    /// Keys held down, in the order they were pressed.
    pub keys: Vec<input::QKeyCode>,
}

impl Handler<World> for KeyRelease {
    fn ready(&mut self, _w: &mut World, _ev: Readiness, _ops: &mut Ops<'_, World>) {}

    fn timer(&mut self, w: &mut World, _tag: u64, ops: &mut Ops<'_, World>) {
        for q in self.keys.drain(..).rev() {
            w.machine.input(input::InputEvent::Key {
                qcode: q,
                down: false,
            });
        }
        if let Some(me) = ops.me() {
            ops.remove(me);
        }
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        None
    }
}
