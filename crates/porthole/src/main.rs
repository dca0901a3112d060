//! `porthole`: a QEMU-style, monitor-controlled emulator frontend.
//!
//! `main` turns the command line into a [`cli::Config`], binds the VNC listeners, builds the
//! machine and the loop state ([`world::World`]), adds every handler to the single-threaded
//! event loop, and runs it until a monitor, a signal or the guest asks to stop. The code map is
//! in docs/architecture.md.

mod chardev;
mod cli;
mod commands;
mod logger;
mod machine;
mod monsock;
mod objects;
mod process;
mod qmp;
mod world;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use evloop::EventLoop;
use mio::Interest;
use qapi::{Password, SetPasswordAction};
use vnc::{AuthMode, ListenerHandler, VncConfig, VncServer};

use crate::chardev::Backend;
use crate::cli::{Action, Config, MonitorMode};
use crate::world::{Shutdown, World};

fn main() -> ExitCode {
    logger::init();
    match run(std::env::args().skip(1)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("porthole: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: impl Iterator<Item = String>) -> Result<ExitCode> {
    let config = match cli::parse(args)? {
        Action::Print(text) => {
            print!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        Action::Run(c) => c,
    };
    let started = Instant::now();
    let Config {
        vnc: vnc_spec,
        chardevs,
        monitors,
        daemonize,
        pidfile,
        name,
        start_paused,
        guest: guest_spec,
        vgamem_mb,
        objects: object_specs,
    } = *config;
    // Fork before anything else exists (no thread may be running).
    let daemon = if daemonize {
        Some(process::daemonize()?)
    } else {
        None
    };
    let _pidfile = pidfile
        .as_deref()
        .map(process::PidFile::create)
        .transpose()?;

    // Objects first, in command-line order (a secret may decrypt a later one's key).
    let mut objects = objects::Objects::default();
    for spec in object_specs {
        let opts = qapi::visit::arguments::<qapi::ObjectOptions>(&spec.args)
            .map_err(|e| anyhow!("{}: {e}", spec.typed))?;
        let (id, obj, warnings) =
            objects::create(&objects, opts).map_err(|e| anyhow!("{}: {e}", spec.typed))?;
        for w in warnings {
            eprintln!("porthole: warning: {w}");
        }
        objects
            .add(&id, obj)
            .map_err(|e| anyhow!("{}: {e}", spec.typed))?;
    }

    // VNC next: the guest's boot screen shows where it listens.
    let desktop_name = match &name {
        Some(n) => format!("Porthole ({n})"),
        None => "Porthole".to_owned(),
    };
    let vnc_enabled = vnc_spec.is_some();
    let (mut vnc, password_secret) = match vnc_spec {
        Some(s) => {
            let tls = vnc_tls(&objects, s.tls_creds.as_deref(), s.tls_authz.as_deref())
                .context("-vnc")?;
            let plain = match &s.userstore {
                Some(id) => {
                    let u = objects
                        .user_store(id)
                        .ok_or_else(|| anyhow!("-vnc: No user store with id '{id}'"))?;
                    Some(vnc::PlainSetup {
                        store_id: id.clone(),
                        store: std::sync::Arc::clone(&u.store),
                    })
                }
                None => None,
            };
            if s.lossy {
                log::info!("-vnc lossy=on: lossy encodings allowed (none is implemented yet)");
            }
            let config = VncConfig {
                id: s.id,
                listen: s.listen,
                auth: s.auth,
                share: s.share,
                connections: s.connections,
                desktop_name,
                tls,
                websocket: s.websocket,
                websocket_origins: s.websocket_origins,
                plain,
            };
            (VncServer::new(config, (0, 0)), s.password_secret)
        }
        None => {
            let config = VncConfig {
                id: "default".into(),
                listen: vnc::Listen::None,
                auth: AuthMode::None,
                share: vnc::SharePolicy::AllowExclusive,
                connections: 32,
                desktop_name,
                tls: None,
                websocket: None,
                websocket_origins: None,
                plain: None,
            };
            (VncServer::new(config, (0, 0)), None)
        }
    };
    // The initial password, checked before anything listens.
    let initial_password = match &password_secret {
        Some(id) => {
            let secret = objects
                .secret(id)
                .ok_or_else(|| anyhow!("-vnc: No secret with id '{id}'"))?;
            Some(String::from_utf8(secret.value.to_vec()).map_err(|_| {
                anyhow!("secret '{id}' is not valid UTF-8 and cannot be a VNC password")
            })?)
        }
        None => None,
    };
    if let Some(text) = initial_password {
        vnc.set_password(Password::new(text), SetPasswordAction::Keep)
            .map_err(|e| anyhow!("{e}"))?;
    }
    let (listeners, warnings) = ListenerHandler::<World>::bind_all(&mut vnc).context("-vnc")?;
    for w in warnings {
        eprintln!("porthole: {w}");
    }

    let mut lines = Vec::new();
    if vnc_enabled {
        for l in vnc.listener_descriptions() {
            lines.push(format!("VNC server: {l}"));
        }
        lines.push(match vnc.config().auth {
            AuthMode::Vnc => "VNC authentication: password required".to_owned(),
            AuthMode::Plain => "VNC authentication: user name and password (TLS)".to_owned(),
            AuthMode::None => "VNC authentication: none".to_owned(),
        });
    }
    let info = guest::BootInfo {
        product: "Porthole".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        name: name.clone(),
        lines,
    };
    let guest: Box<dyn guest::Guest> = match guest_spec {
        cli::GuestSpec::Named(name) => guest::new_guest(&name, info)?,
        cli::GuestSpec::Bench(cfg) => Box::new(guest::bench::Bench::new(cfg)),
    };
    let vgamem_used = vga::vgamem_bytes(vgamem_mb) >> 20;
    if u32::try_from(vgamem_used).ok() != Some(vgamem_mb) {
        eprintln!(
            "porthole: warning: -global VGA.vgamem_mb={vgamem_mb}: using {vgamem_used} MiB \
             (1 to {} MiB, a power of two, as QEMU adjusts it)",
            vga::MAX_VGAMEM_MB
        );
    }
    let machine = machine::Machine::new(guest, vgamem_mb, start_paused)?;
    let (sw, sh) = (machine.surface().width(), machine.surface().height());
    vnc.surface_resized(sw, sh);

    let mut lp: EventLoop<World> = EventLoop::new()?;
    let mut w = World {
        machine,
        vnc,
        vnc_enabled,
        name,
        stdio: None,
        stdio_pending: None,
        start: started,
        shutdown: None,
        qmp_clients: Vec::new(),
        events: std::collections::VecDeque::new(),
        event_seq: 0,
        chardevs: Vec::new(),
        chardev_clients: std::collections::BTreeMap::new(),
        objects,
        remote: None,
        events_pending: false,
    };
    w.remote = Some(lp.remote());
    for l in listeners {
        lp.add(Box::new(l), Interest::READABLE)?;
    }
    for m in &monitors {
        match (&m.chardev.backend, m.mode) {
            (Backend::Stdio, MonitorMode::Readline) => {
                let remote = lp.remote();
                let banner = monitor::hmp::banner("Porthole", env!("CARGO_PKG_VERSION"));
                let m = monitor::stdio::StdioMonitor::spawn(banner, move |req| {
                    let _ =
                        remote.send(move |w: &mut World, ops| world::stdio_request(w, ops, req));
                })?;
                w.stdio = Some(m);
            }
            (Backend::Stdio, MonitorMode::Control { pretty }) => {
                qmp::add_stdio(&mut lp, &mut w, pretty).context("-qmp stdio")?;
            }
            (_, mode) => {
                let what = format!("chardev '{}' ({})", m.chardev.id, m.chardev.filename());
                let l = monsock::MonitorListener::bind(&m.chardev, mode).context(what)?;
                if m.chardev.waits() {
                    eprintln!(
                        "porthole: waiting for connection on: disconnected:{}",
                        m.chardev.filename()
                    );
                    l.wait_for_client()?;
                }
                lp.add(Box::new(l), Interest::READABLE)?;
            }
        }
    }
    w.chardevs = chardevs;
    lp.add_signals(
        &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP],
        |w: &mut World, _sig, ops| {
            w.request_shutdown(Shutdown::HostSignal, ops);
        },
    )?;
    world::start_ticker(&mut lp, &mut w)?;
    // A guest with a vCPU thread starts now (after -daemonize's fork); each frame it draws
    // is rendered and offered to the viewers at once.
    let remote = lp.remote();
    w.machine
        .start(machine::coalescing_notifier(move |pending| {
            let _ = remote.send(move |w: &mut World, ops| {
                pending.store(false, std::sync::atomic::Ordering::Release);
                world::refresh(w, ops, false);
            });
        }))
        .context("starting the vCPU thread")?;
    log::info!("ready after {:?}", started.elapsed());
    if let Some(d) = daemon {
        d.ready()?;
    }

    lp.run(&mut w)?;
    let why = w.shutdown.map_or("none", Shutdown::as_str);
    log::info!("stopped: {why}");
    if let Some(m) = w.stdio.take() {
        m.finish();
    }
    lp.shutdown(&mut w);
    // A QMP monitor on stdio set O_NONBLOCK on the shared stdin; give it back as it was.
    if w.chardevs.iter().any(|c| c.backend == Backend::Stdio) {
        let _ = qmp::set_nonblocking(0, false);
    }
    Ok(ExitCode::SUCCESS)
}

/// The VNC display's TLS setup from `tls-creds=` / `tls-authz=`.
pub fn vnc_tls(
    objects: &objects::Objects,
    creds: Option<&str>,
    authz: Option<&str>,
) -> Result<Option<vnc::TlsSetup>> {
    let Some(id) = creds else {
        if authz.is_some() {
            anyhow::bail!(
                "'tls-authz' needs 'tls-creds' (there is no client certificate to check without TLS)"
            );
        }
        return Ok(None);
    };
    let t = objects
        .tls_creds(id)
        .ok_or_else(|| anyhow!("No TLS credentials with id '{id}'"))?;
    let loaded = t.creds.clone().ok_or_else(|| {
        anyhow!(
            "tls-creds '{id}': Expected TLS credentials for a server endpoint: add endpoint=server to the tls-creds object"
        )
    })?;
    if authz.is_some() && !(t.kind == crypto::tls::CredsKind::X509 && t.verify_peer) {
        anyhow::bail!(
            "'tls-authz' needs x509 credentials with verify-peer=on: without a verified client \
             certificate there is no identity to check (QEMU silently skips the check)"
        );
    }
    Ok(Some(vnc::TlsSetup {
        creds_id: id.to_owned(),
        creds: loaded,
        authz: authz.map(str::to_owned),
    }))
}

/// An error's text as the C library's strerror gives it: Rust's " (os error N)" suffix removed,
/// so messages read as QEMU's do.
pub fn without_os_error_suffix(text: &str) -> String {
    match text.find(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_owned(),
        _ => text.to_owned(),
    }
}

/// Writes as much of `out` as `w` takes, removing what was written; stops at WouldBlock.
pub fn write_queued(w: &mut impl std::io::Write, out: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::ErrorKind;
    let mut written = 0;
    let result = loop {
        if written == out.len() {
            break Ok(());
        }
        match w.write(&out[written..]) {
            Ok(0) => break Err(ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    out.drain(..written);
    result
}
