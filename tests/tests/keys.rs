//! Keys typed in a VNC client reach the guest, which echoes them on screen.
//!
//! "Appears on screen" is judged on 8x16 cells: typed text changes one cell per character,
//! while the blinking or moving cursor alone changes at most a few. Waiting is bounded
//! polling, never a fixed sleep.

use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use porthole_tests::image::expect_same_image;
use porthole_tests::raw::keysyms_for;
use porthole_tests::{Image, RawRfb, Server, Viewer, require_client, vncdo};

/// Grid used to count changed character cells.
const CELL_W: u32 = 8;
/// Height of a text cell.
const CELL_H: u32 = 16;
/// More changed cells than any cursor movement or blink can cause.
const TEXT_CELLS: usize = 8;
/// How long the guest may take to show typed keys.
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);

/// Typed text (no Enter) is echoed on one line: every changed pixel lies in one text row.
fn expect_one_row(before: &Image, after: &Image) -> Result<()> {
    if let Some((_, y0, _, y1)) = after.diff_bounds(before)? {
        ensure!(
            y0 / CELL_H == y1 / CELL_H,
            "typed text changed rows {}..={} of the screen, not one line",
            y0 / CELL_H,
            y1 / CELL_H
        );
    }
    Ok(())
}

/// Polls screendump until at least [`TEXT_CELLS`] cells differ from `before`.
fn wait_for_text(server: &mut Server, before: &Image) -> Result<Image> {
    let deadline = Instant::now() + ECHO_TIMEOUT;
    let mut n = 0;
    loop {
        n += 1;
        let now = server.screendump_png(&format!("after{n}.png"))?;
        // A mode change since `before` is not evidence of text: keep polling.
        let cells = if (now.width, now.height) == (before.width, before.height) {
            now.differing_cells(before, CELL_W, CELL_H)?
        } else {
            0
        };
        if cells >= TEXT_CELLS {
            return Ok(now);
        }
        if Instant::now() >= deadline {
            bail!("typed text did not appear: only {cells} cells changed in {ECHO_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn vncdotool_typed_text_appears() -> Result<()> {
    if !require_client("vncdo")? {
        return Ok(());
    }
    let mut server = Server::start(",password=on")?;
    server.set_password("k3ys")?;
    let before = server.screendump_png("before.png")?;
    let run = vncdo(server.port, Some("k3ys"), &["type", "helloporthole"])?;
    if !run.success() {
        bail!("vncdo type failed ({:?}):\n{}", run.status, run.log);
    }
    let after = wait_for_text(&mut server, &before)?;
    expect_one_row(&before, &after)
}

#[test]
fn rfbclient_keys_appear_and_framebuffer_matches() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("k3ys")?;
    let mut viewer = Viewer::open(server.port, Some("k3ys"))?;
    let before = viewer.image()?;
    viewer.tap_keys(&keysyms_for("abcxyz123"))?;
    // The viewer sees the echo through incremental updates.
    let deadline = Instant::now() + ECHO_TIMEOUT;
    loop {
        viewer.incremental()?;
        let now = viewer.image()?;
        let cells = if (now.width, now.height) == (before.width, before.height) {
            now.differing_cells(&before, CELL_W, CELL_H)?
        } else {
            0
        };
        if cells >= TEXT_CELLS {
            expect_one_row(&before, &now)?;
            break;
        }
        if Instant::now() >= deadline {
            bail!("typed keys did not reach the viewer's framebuffer: {cells} cells changed");
        }
    }
    // Byte-exact: the viewer's framebuffer is what screendump writes.
    let save = server.dir.path().to_path_buf();
    let mut n = 0;
    expect_same_image(6, &save, "keys-framebuffer-vs-screendump", || {
        n += 1;
        let seen = viewer.refresh()?;
        let dumped = server.screendump_png(&format!("dump{n}.png"))?;
        Ok((seen, dumped))
    })?;
    Ok(())
}

/// Keys from a client that is still authenticating do nothing: before SecurityResult the
/// server reads no client messages (a key event there is garbage and drops the client).
#[test]
fn keys_before_authentication_do_not_reach_the_guest() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("k3ys")?;
    let before = server.screendump_png("before.png")?;
    let mut intruder = RawRfb::connect(server.port)?;
    intruder.exchange_versions(8)?;
    let mut keys = Vec::new();
    for k in keysyms_for("intruderintruder") {
        keys.extend_from_slice(&[4, 1, 0, 0]);
        keys.extend_from_slice(&k.to_be_bytes());
        keys.extend_from_slice(&[4, 0, 0, 0]);
        keys.extend_from_slice(&k.to_be_bytes());
    }
    // Whatever the server does with these bytes, it must not be typing them.
    let _ = intruder.send(&keys);
    let _ = intruder.closed_within(Duration::from_millis(500));
    let after = server.screendump_png("after.png")?;
    let cells = after.differing_cells(&before, CELL_W, CELL_H)?;
    if cells >= TEXT_CELLS {
        bail!("{cells} cells changed after an unauthenticated client sent keys");
    }
    Ok(())
}
