//! Figures: time from exec to listening, idle RSS, RSS with 100 idle clients connected.
//!
//! Each figure is printed and, if `PORTHOLE_FIGURES` names a file, appended to it
//! (scripts/test.sh prints that file after the run). The bounds asserted are generous
//! ceilings that catch a regression by an order of magnitude, not benchmarks.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use porthole_tests::{Porthole, RawRfb, pick_display, porthole_bin, procfs};

/// Clients held open for the RSS figure.
const CLIENTS: usize = 100;

fn record(line: &str) -> Result<()> {
    println!("FIGURE {line}");
    if let Some(path) = std::env::var_os("PORTHOLE_FIGURES") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.to_string_lossy()))?;
        writeln!(f, "{line}")?;
    }
    Ok(())
}

#[test]
fn start_time_idle_rss_and_rss_with_100_clients() -> Result<()> {
    let bin = porthole_bin()?;
    let display = pick_display();
    let port = 5900 + display;
    let vnc = format!("127.0.0.1:{display},connections=128");
    let started = Instant::now();
    let mut ph = Porthole::spawn([
        "-vnc",
        vnc.as_str(),
        "-monitor",
        "stdio",
        "-display",
        "none",
        "-nodefaults",
    ])?;
    let startup = loop {
        ph.ensure_running()?;
        if procfs::listens_on(ph.pid(), port)? {
            break started.elapsed();
        }
        ensure!(
            started.elapsed() < Duration::from_secs(10),
            "not listening after 10 s"
        );
        std::thread::sleep(Duration::from_micros(500));
    };
    ph.wait_prompt()?;
    // Let the guest boot and the console settle before measuring idle memory.
    std::thread::sleep(Duration::from_millis(500));
    let idle = ph.rss_kib()?;
    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let (c, _) = RawRfb::open(port, None).with_context(|| format!("client {i}"))?;
        clients.push(c);
    }
    // One active viewer proves the server still serves with all of them connected.
    let mut viewer = RawRfb::open_viewer(port, None)?;
    viewer.refresh()?;
    let with_clients = ph.rss_kib()?;
    let sockets = procfs::socket_inodes(ph.pid())?.len();
    ensure!(
        sockets > CLIENTS,
        "only {sockets} sockets open: clients were dropped"
    );
    for (i, c) in clients.iter_mut().enumerate() {
        ensure!(
            !c.closed_within(Duration::from_millis(1))?,
            "client {i} was dropped"
        );
    }

    record(&format!("binary: {}", bin.display()))?;
    record(&format!(
        "start to listening: {:.1} ms",
        startup.as_secs_f64() * 1000.0
    ))?;
    record(&format!("idle RSS: {idle} KiB"))?;
    record(&format!(
        "RSS with {CLIENTS} idle clients: {with_clients} KiB ({:+} KiB, {:.1} KiB per client)",
        i128::from(with_clients) - i128::from(idle),
        f64::from(u32::try_from(with_clients.saturating_sub(idle)).unwrap_or(u32::MAX))
            / f64::from(u32::try_from(CLIENTS)?)
    ))?;

    ensure!(
        startup < Duration::from_secs(2),
        "start to listening took {startup:?}"
    );
    ensure!(idle < 100 * 1024, "idle RSS {idle} KiB");
    ensure!(
        with_clients < 256 * 1024,
        "RSS with {CLIENTS} clients {with_clients} KiB"
    );
    Ok(())
}
