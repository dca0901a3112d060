//! ExtendedDesktopSize and SetDesktopSize against the real binary with the in-repo
//! rfbclient. The default console guest cannot change its mode, so every well-formed
//! request is answered "prohibited"; malformed ones "invalid layout"; neither closes the
//! connection. SetDesktopSize without ExtendedDesktopSize listed is an unknown message.

use std::time::Duration;

use anyhow::{Result, ensure};
use porthole_tests::{Server, Viewer, viewer};
use rfb::Screen;
use rfbclient::{Client, ExtDesktopSize};

/// How long a dropped client may take to see its connection closed.
const DROP_WAIT: Duration = Duration::from_secs(3);
/// Most updates read while waiting for the first picture.
const MAX_SETTLE_UPDATES: usize = 8;

/// ExtendedDesktopSize reasons and statuses (rfbproto).
const REASON_SERVER: u16 = 0;
const REASON_THIS_CLIENT: u16 = 1;
const STATUS_OK: u16 = 0;
const STATUS_PROHIBITED: u16 = 1;
const STATUS_OUT_OF_RESOURCES: u16 = 2;
const STATUS_INVALID_LAYOUT: u16 = 3;

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

/// The one ExtendedDesktopSize rectangle QEMU-style servers send: one screen covering the
/// framebuffer.
fn ext(reason: u16, status: u16, (w, h): (u16, u16)) -> ExtDesktopSize {
    ExtDesktopSize {
        reason,
        status,
        width: w,
        height: h,
        screens: vec![full_screen(w, h)],
    }
}

/// A client that listed Raw and ExtendedDesktopSize, after a first full picture (which
/// follows a mode switch of the guest while it boots, if any), and its framebuffer size.
fn ext_client(server: &Server) -> Result<(Client, (u16, u16))> {
    let (mut c, init) = viewer::handshake(server.port, None, 8)?;
    c.set_pixel_format(&rfb::PixelFormat::NATIVE)?;
    c.set_encodings(&[rfb::encoding::RAW, rfb::encoding::EXTENDED_DESKTOP_SIZE])?;
    let mut size = (init.width, init.height);
    c.request_update(false, 0, 0, size.0, size.1)?;
    for _ in 0..MAX_SETTLE_UPDATES {
        let sum = c.read_update()?;
        if let Some(new) = sum.resized {
            size = new;
        }
        if sum.rects.iter().any(|r| r.encoding == rfb::encoding::RAW) {
            return Ok((c, size));
        }
    }
    anyhow::bail!("no picture within {MAX_SETTLE_UPDATES} updates")
}

/// Reads one update that must be exactly one ExtendedDesktopSize rectangle.
fn read_ext(c: &mut Client) -> Result<ExtDesktopSize> {
    let mut sum = c.read_update()?;
    ensure!(
        sum.rects.len() == 1 && sum.ext_desktop_sizes.len() == 1,
        "expected one ExtendedDesktopSize rectangle, got {:?}",
        sum.rects
    );
    ensure!(sum.resized.is_none(), "the framebuffer size changed");
    Ok(sum.ext_desktop_sizes.remove(0))
}

/// A non-incremental request is answered with the current layout, then the pixels.
fn full_refresh(c: &mut Client, size: (u16, u16)) -> Result<()> {
    c.request_update(false, 0, 0, size.0, size.1)?;
    let layout = read_ext(c)?;
    ensure!(
        layout == ext(REASON_SERVER, STATUS_OK, size),
        "layout {layout:?}"
    );
    let pixels = c.read_update()?;
    ensure!(
        !pixels.rects.is_empty()
            && pixels
                .rects
                .iter()
                .all(|r| r.encoding == rfb::encoding::RAW),
        "pixel update {:?}",
        pixels.rects
    );
    Ok(())
}

#[test]
fn non_incremental_request_answered_with_layout_then_pixels() -> Result<()> {
    let server = Server::start("")?;
    let (mut c, size) = ext_client(&server)?;
    full_refresh(&mut c, size)?;
    full_refresh(&mut c, size)
}

#[test]
fn set_desktop_size_to_console_guest_is_prohibited() -> Result<()> {
    let mut server = Server::start("")?;
    let (mut c, size) = ext_client(&server)?;
    full_refresh(&mut c, size)?;
    c.set_desktop_size(1024, 768, &[full_screen(1024, 768)])?;
    let reply = read_ext(&mut c)?;
    ensure!(
        reply == ext(REASON_THIS_CLIENT, STATUS_PROHIBITED, size),
        "reply {reply:?}"
    );
    full_refresh(&mut c, size)?;
    server.ensure_running()
}

#[test]
fn set_desktop_size_zero_size_invalid_layout_and_connection_stays_usable() -> Result<()> {
    let mut server = Server::start("")?;
    let (mut c, size) = ext_client(&server)?;
    full_refresh(&mut c, size)?;
    c.set_desktop_size(0, 0, &[full_screen(0, 0)])?;
    let reply = read_ext(&mut c)?;
    ensure!(
        reply == ext(REASON_THIS_CLIENT, STATUS_INVALID_LAYOUT, size),
        "reply {reply:?}"
    );
    // A later request is answered as usual, input still arrives, the monitor answers.
    full_refresh(&mut c, size)?;
    c.key(true, 0x61)?;
    c.key(false, 0x61)?;
    full_refresh(&mut c, size)?;
    let out = server.command("info status")?;
    ensure!(out.contains("VM status: running"), "info status: {out:?}");
    server.ensure_running()
}

#[test]
fn set_desktop_size_255_screens_read_fully_and_refused() -> Result<()> {
    let server = Server::start("")?;
    let (mut c, size) = ext_client(&server)?;
    full_refresh(&mut c, size)?;
    let screens: Vec<Screen> = (0..255u16)
        .map(|i| Screen {
            id: u32::from(i),
            x: i,
            y: 0,
            w: 1,
            h: 1,
            flags: 0,
        })
        .collect();
    c.set_desktop_size(255, 1, &screens)?;
    let reply = read_ext(&mut c)?;
    ensure!(
        reply == ext(REASON_THIS_CLIENT, STATUS_OUT_OF_RESOURCES, size),
        "reply {reply:?}"
    );
    // The whole message was consumed: the next one parses.
    full_refresh(&mut c, size)
}

#[test]
fn set_desktop_size_before_negotiation_closes_the_connection() -> Result<()> {
    let server = Server::start("")?;
    let mut viewer = Viewer::open(server.port, None)?;
    let (mut c, init) = viewer::handshake(server.port, None, 8)?;
    // DesktopSize only: SetDesktopSize is not enabled.
    c.set_encodings(&[rfb::encoding::RAW, rfb::encoding::DESKTOP_SIZE])?;
    c.set_desktop_size(
        init.width,
        init.height,
        &[full_screen(init.width, init.height)],
    )?;
    ensure!(
        c.is_closed_by_peer(DROP_WAIT),
        "SetDesktopSize before ExtendedDesktopSize was listed did not close"
    );
    // The other viewer is unaffected.
    let image = viewer.refresh()?;
    ensure!(image.nonblack_pixels() > 0, "the viewer's update is black");
    Ok(())
}

/// Status 4: the request went to the guest, which may apply it later.
const STATUS_FORWARDED: u16 = 4;
/// Most updates read while waiting for the guest to switch.
const MAX_SWITCH_UPDATES: usize = 64;

#[test]
fn set_desktop_size_switches_the_bench_guest_for_every_viewer() -> Result<()> {
    let server = Server::start_with(
        "",
        &["-guest", "bench,workload=box,width=640,height=480,fps=60"],
    )?;
    // Wait until the guest has set its first mode.
    let (mut c, size) = ext_client(&server)?;
    let size = wait_for_size(&mut c, size, (640, 480))?;
    ensure!(size == (640, 480), "the bench guest's mode never arrived");
    // A second viewer that only knows the plain DesktopSize pseudo-encoding.
    let mut plain = Viewer::open(server.port, None)?;
    let first = plain.refresh()?;
    ensure!((first.width, first.height) == (640, 480), "{first:?}");

    // Sizes the guest cannot show are refused as an invalid layout, without a switch.
    c.set_desktop_size(64, 48, &[full_screen(64, 48)])?;
    ensure!(read_ext(&mut c)? == ext(REASON_THIS_CLIENT, STATUS_INVALID_LAYOUT, size));

    // A size it can show is forwarded; the switch then reaches both viewers.
    c.set_desktop_size(800, 600, &[full_screen(800, 600)])?;
    ensure!(read_ext(&mut c)? == ext(REASON_THIS_CLIENT, STATUS_FORWARDED, size));
    let mut switched = None;
    for _ in 0..MAX_SWITCH_UPDATES {
        c.request_update(true, 0, 0, size.0, size.1)?;
        let sum = c.read_update()?;
        if let Some(e) = sum.ext_desktop_sizes.first() {
            switched = Some(e.clone());
            break;
        }
    }
    let switched = switched.ok_or_else(|| anyhow::anyhow!("no resize after the request"))?;
    ensure!(
        switched == ext(REASON_SERVER, STATUS_OK, (800, 600)),
        "announced {switched:?}"
    );
    let after = plain.refresh()?;
    ensure!(
        (after.width, after.height) == (800, 600),
        "the DesktopSize viewer did not follow: {after:?}"
    );
    Ok(())
}

#[test]
fn set_desktop_size_to_the_text_workload_is_prohibited() -> Result<()> {
    let server = Server::start_with("", &["-guest", "bench,workload=text"])?;
    let (mut c, size) = ext_client(&server)?;
    c.set_desktop_size(1024, 768, &[full_screen(1024, 768)])?;
    ensure!(read_ext(&mut c)? == ext(REASON_THIS_CLIENT, STATUS_PROHIBITED, size));
    Ok(())
}

#[test]
fn mode_switch_storm_while_a_viewer_reads_keeps_everything_consistent() -> Result<()> {
    // One client asks for a new size over and over while another keeps reading full and
    // incremental updates: the guest switches modes mid-stream, the reader follows every
    // switch, nobody is disconnected, and the final picture has the final size.
    let mut server = Server::start_with(
        "",
        &[
            "-guest",
            "bench,workload=noise,width=640,height=480,fps=120",
        ],
    )?;
    let (mut asker, mut size) = ext_client(&server)?;
    let mut reader = Viewer::open(server.port, None)?;
    let sizes: [(u16, u16); 6] = [
        (1024, 768),
        (320, 200),
        (1920, 1080),
        (104, 95),
        (8192, 256),
        (800, 600),
    ];
    for round in 0..3 {
        for &(w, h) in &sizes {
            asker.set_desktop_size(w, h, &[full_screen(w, h)])?;
            // Drain the asker's replies and resizes as they come.
            asker.request_update(true, 0, 0, size.0, size.1)?;
            for _ in 0..4 {
                let sum = asker.read_update()?;
                if let Some(new) = sum.resized {
                    size = new;
                }
                if sum.rects.iter().any(|r| r.encoding == rfb::encoding::RAW) {
                    break;
                }
            }
            let _ = reader.incremental()?;
        }
        let image = reader.refresh()?;
        ensure!(image.width > 0, "round {round}: empty picture");
    }
    // Once the storm is over the guest settles on the last size asked for.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let image = reader.refresh()?;
        if (image.width, image.height) == (800, 600) {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "settled at {}x{}",
            image.width,
            image.height
        );
    }
    let out = server.command("info status")?;
    ensure!(out.contains("running"), "monitor says {out:?}");
    Ok(())
}

/// Asks for updates until the framebuffer is `target`; returns the size reached. A resize
/// comes as its own update, followed by the pixels for the same request, which are read too.
fn wait_for_size(c: &mut Client, mut size: (u16, u16), target: (u16, u16)) -> Result<(u16, u16)> {
    for _ in 0..MAX_SWITCH_UPDATES {
        if size == target {
            break;
        }
        c.request_update(true, 0, 0, size.0, size.1)?;
        if let Some(new) = c.read_update()?.resized {
            size = new;
            c.read_update()?;
        }
    }
    Ok(size)
}

#[test]
fn set_desktop_size_resizes_the_console_in_a_graphics_mode_only() -> Result<()> {
    let server = Server::start("")?;
    let (mut c, size) = ext_client(&server)?;
    // Text mode keeps its size.
    c.set_desktop_size(1024, 768, &[full_screen(1024, 768)])?;
    ensure!(read_ext(&mut c)? == ext(REASON_THIS_CLIENT, STATUS_PROHIBITED, size));
    // In a graphics mode (typed at the console) a viewer may resize it.
    for k in porthole_tests::raw::keysyms_for("mode 1024x768\n") {
        c.key(true, k)?;
        c.key(false, k)?;
    }
    let size = wait_for_size(&mut c, size, (1024, 768))?;
    ensure!(size == (1024, 768), "the console never switched: {size:?}");
    c.set_desktop_size(1020, 600, &[full_screen(1020, 600)])?;
    ensure!(read_ext(&mut c)? == ext(REASON_THIS_CLIENT, STATUS_INVALID_LAYOUT, size));
    c.set_desktop_size(800, 600, &[full_screen(800, 600)])?;
    ensure!(read_ext(&mut c)? == ext(REASON_THIS_CLIENT, STATUS_FORWARDED, size));
    let size = wait_for_size(&mut c, size, (800, 600))?;
    ensure!(
        size == (800, 600),
        "the console did not switch to 800x600: {size:?}"
    );
    Ok(())
}
