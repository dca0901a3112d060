//! No client can starve the others: one that floods FramebufferUpdateRequests and never
//! reads its socket does not keep an ordinary viewer waiting.
//!
//! Before the fix, a read budget that ran out re-armed the flooder within the same loop
//! iteration (up to 64 rounds of 256 KiB of its input before the next poll), and its input was
//! read even while its output sat throttled: a second viewer waited 1 to 5 seconds for its
//! first picture. Now the flooder is read once per iteration, after every other ready socket,
//! and not at all while its output is throttled. The bound below is a starvation check (the
//! viewer is served in milliseconds), not a performance figure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use porthole_tests::{Server, Viewer};

/// Longer than any healthy first update by orders of magnitude, shorter than the starvation.
const STARVED: Duration = Duration::from_millis(1000);

/// RFB 3.8 handshake with security None; returns the framebuffer size.
fn handshake(s: &mut TcpStream) -> Result<(u16, u16)> {
    let mut version = [0u8; 12];
    s.read_exact(&mut version)?;
    s.write_all(b"RFB 003.008\n")?;
    let mut n = [0u8; 1];
    s.read_exact(&mut n)?;
    let mut types = vec![0u8; usize::from(n[0])];
    s.read_exact(&mut types)?;
    ensure!(types.contains(&1), "security None not offered: {types:?}");
    s.write_all(&[1])?;
    let mut result = [0u8; 4];
    s.read_exact(&mut result)?;
    ensure!(result == [0; 4], "security result {result:?}");
    s.write_all(&[1])?; // shared
    let mut init = [0u8; 24];
    s.read_exact(&mut init)?;
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]);
    let mut name = vec![0u8; usize::try_from(name_len)?];
    s.read_exact(&mut name)?;
    Ok((
        u16::from_be_bytes([init[0], init[1]]),
        u16::from_be_bytes([init[2], init[3]]),
    ))
}

#[test]
fn flooding_client_that_never_reads_does_not_delay_an_ordinary_viewer() -> Result<()> {
    let mut server = Server::start_with(
        "",
        &["-guest", "bench,workload=full,width=1024,height=768,fps=60"],
    )?;
    let mut flooder = TcpStream::connect(server.addr())?;
    let (w, h) = handshake(&mut flooder)?;
    let mut request = vec![3u8, 0];
    for v in [0, 0, w, h] {
        request.extend(v.to_be_bytes());
    }
    let batch: Vec<u8> = request.repeat(256);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flood = {
        let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if flooder.write_all(&batch).is_err() {
                    break;
                }
                sent.fetch_add(256, Ordering::Relaxed);
            }
            flooder
        })
    };
    // Let the flooder fill its output queue and its socket.
    std::thread::sleep(Duration::from_millis(500));
    ensure!(
        sent.load(Ordering::Relaxed) > 1000,
        "the flooder could not even send (server blocked?)"
    );
    for attempt in 0..3 {
        let started = Instant::now();
        let mut viewer = Viewer::open(server.port, None)?;
        let image = viewer.refresh()?;
        let took = started.elapsed();
        ensure!(image.width > 0, "empty picture");
        ensure!(
            took < STARVED,
            "viewer {attempt}: first picture after {took:?} while a client floods"
        );
    }
    // The monitor answers too.
    let out = server.command("info status")?;
    ensure!(out.contains("running"), "monitor: {out:?}");
    stop.store(true, Ordering::Relaxed);
    drop(server);
    let _ = flood.join();
    Ok(())
}
