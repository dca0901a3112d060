//! The loop state ("world") and the handlers that belong to the machine itself:
//! the refresh timer, the stdio monitor bridge, and signals.

use std::time::{Duration, Instant};

use display::Surface;
use evloop::{Handler, HandlerKey, Ops, Readiness};
use monitor::hmp::{self, Outcome, PendingPassword};
use monitor::stdio::{Reply, Request, StdioMonitor};
use vnc::{VncEvent, VncHost, VncServer};

use crate::commands::Cmds;
use crate::machine::{Machine, Refresh};

/// Display refresh period: QEMU's GUI_REFRESH_INTERVAL_DEFAULT.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(30);

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
}

impl World {
    /// Asks the loop to end after this batch.
    pub fn request_shutdown(&mut self, why: Shutdown, ops: &mut Ops<'_, World>) {
        if self.shutdown.is_none() {
            log::info!("shutting down: {}", why.as_str());
            self.shutdown = Some(why);
        }
        ops.quit();
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

    fn vnc_event(&mut self, ev: VncEvent) {
        log::info!(
            "VNC {:?}: client {}:{} ({})",
            ev.kind,
            ev.client.base.host,
            ev.client.base.service,
            ev.client.base.family.as_str()
        );
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
            ops.add_timer(REFRESH_INTERVAL, me, TICK);
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
                &mut Cmds { w, ops },
                &hmp::Context { interactive: true },
            );
            reply_for(w, outcome)
        }
        Request::Password(pw) => match w.stdio_pending.take() {
            Some(pending) => {
                let outcome = hmp::finish_password(pending, pw, &mut Cmds { w, ops });
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
