//! The `bench` guest through the real binary: what a viewer receives is, pixel for pixel,
//! the frame the benchmark's generator makes (identified by the frame counter drawn in it),
//! it equals `screendump`, video memory bounds the mode, and bad `-guest` / `-global`
//! options are refused by name.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use guest::workloads::{Kind, Workload, read_counter};
use porthole_tests::image::expect_same_image;
use porthole_tests::{Image, Porthole, Server, Viewer};

const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// The viewer's picture as 0x00RRGGBB pixels.
fn xrgb(image: &Image) -> Vec<u32> {
    image
        .rgb
        .chunks_exact(3)
        .map(|p| u32::from_be_bytes([0, p[0], p[1], p[2]]))
        .collect()
}

/// Starts the bench guest, lets it draw a few frames, stops the vCPU and returns the
/// server and a viewer that has the whole (now still) screen.
fn stopped_bench(workload: &str, width: u32, height: u32) -> Result<(Server, Viewer, Image)> {
    let guest = format!("bench,workload={workload},width={width},height={height},fps=60");
    let mut server = Server::start_with("", &["-guest", &guest])?;
    let mut viewer = Viewer::open(server.port, None)?;
    // Wait for the mode, then for a few frames.
    let deadline = std::time::Instant::now() + RUN_TIMEOUT;
    loop {
        let image = viewer.refresh()?;
        if (image.width, image.height) == (width, height) {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the mode never became {width}x{height}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(150));
    let out = server.command("stop")?;
    ensure!(out.trim().is_empty(), "stop printed {out:?}");
    // Let the last frame reach the display (the refresh timer runs every 30 ms).
    std::thread::sleep(Duration::from_millis(120));
    let image = viewer.refresh()?;
    Ok((server, viewer, image))
}

/// The generator's frame `n` at this size.
fn reference(kind: Kind, width: u32, height: u32, n: u32) -> Workload {
    let mut wl = Workload::new(kind, width, height);
    for _ in 0..n {
        wl.step();
    }
    wl
}

#[test]
fn bench_guest_frames_equal_the_generator_frames() -> Result<()> {
    for kind in Kind::ALL {
        let (_server, _viewer, image) = stopped_bench(kind.name(), 320, 200)?;
        let px = xrgb(&image);
        let n = read_counter(&px, 320).context("no frame counter on screen")?;
        if kind == Kind::Static {
            ensure!(n == 0, "static advanced to frame {n}");
        } else {
            ensure!(n > 0, "{kind}: still at frame 0 after 150 ms at 60 fps");
        }
        let want = reference(kind, 320, 200, n);
        let differ = px.iter().zip(want.pixels()).filter(|(a, b)| a != b).count();
        ensure!(
            differ == 0,
            "{kind}: frame {n}: {differ} pixels differ from the generator's"
        );
    }
    Ok(())
}

#[test]
fn bench_guest_screen_equals_screendump() -> Result<()> {
    let (mut server, mut viewer, _) = stopped_bench("box", 1024, 768)?;
    let save = server.dir.path().to_path_buf();
    let mut n = 0;
    // A pair is taken a few times: an update already on its way when the vCPU stopped may
    // reach the viewer first; a real difference persists in every pair.
    let image = expect_same_image(4, &save, "bench-vs-screendump", || {
        n += 1;
        let seen = viewer.refresh()?;
        let dumped = server.screendump_png(&format!("box{n}.png"))?;
        Ok((seen, dumped))
    })?;
    ensure!(
        (image.width, image.height) == (1024, 768),
        "the picture is {}x{}",
        image.width,
        image.height
    );
    // And it is the box workload, not a blank screen.
    ensure!(image.colour_count() > 4, "too few colours: {image:?}");
    // The PPM form holds the same picture.
    let ppm = server.path("box.ppm");
    server.screendump_to(&ppm, "ppm")?;
    ensure!(
        Image::read_ppm(&ppm)? == image,
        "PPM and PNG screendumps differ"
    );
    Ok(())
}

#[test]
fn bench_guest_runs_again_after_cont() -> Result<()> {
    let (mut server, mut viewer, image) = stopped_bench("full", 256, 128)?;
    let before = read_counter(&xrgb(&image), 256).context("no counter")?;
    std::thread::sleep(Duration::from_millis(100));
    let still = read_counter(&xrgb(&viewer.refresh()?), 256).context("no counter")?;
    ensure!(
        still == before,
        "frames advanced while stopped: {before} -> {still}"
    );
    server.command("cont")?;
    std::thread::sleep(Duration::from_millis(200));
    let after = read_counter(&xrgb(&viewer.refresh()?), 256).context("no counter")?;
    ensure!(after > before, "no frame after cont: {before} -> {after}");
    Ok(())
}

#[test]
fn vgamem_mb_bounds_the_largest_mode() -> Result<()> {
    // 1 MiB holds 136 lines of 1920 pixels at 32 bpp: the card clamps the height as QEMU's
    // does, and the guest draws the size the card took.
    let mut server = Server::start_with(
        "",
        &[
            "-global",
            "VGA.vgamem_mb=1",
            "-guest",
            "bench,workload=static,width=1920,height=1080",
        ],
    )?;
    let mut viewer = Viewer::open(server.port, None)?;
    let deadline = std::time::Instant::now() + RUN_TIMEOUT;
    loop {
        let image = viewer.refresh()?;
        if image.width == 1920 {
            ensure!(image.height == 136, "height {} with 1 MiB", image.height);
            break;
        }
        ensure!(std::time::Instant::now() < deadline, "no VBE mode");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The other spelling of -global works too.
    let mut other = Server::start_with(
        "",
        &[
            "-global",
            "driver=VGA,property=vgamem_mb,value=32",
            "-guest",
            "bench,workload=static,width=8192,height=1024",
        ],
    )?;
    let mut viewer = Viewer::open(other.port, None)?;
    loop {
        let image = viewer.refresh()?;
        if image.width == 8192 {
            ensure!(image.height == 1024, "height {} with 32 MiB", image.height);
            break;
        }
        ensure!(std::time::Instant::now() < deadline, "no VBE mode");
        std::thread::sleep(Duration::from_millis(20));
    }
    other.command("quit").ok();
    server.command("quit").ok();
    Ok(())
}

/// Runs porthole with `args` and expects exit status 1 with a one-line message containing
/// every string of `names`.
fn expect_bad(args: &[&str], names: &[&str]) -> Result<()> {
    let (status, _stdout, stderr) = Porthole::run(args, RUN_TIMEOUT)?;
    ensure!(status.code() == Some(1), "{args:?}: exit status {status}");
    let line = stderr.trim();
    ensure!(!line.contains('\n'), "{args:?}: several lines: {stderr:?}");
    for n in names {
        ensure!(line.contains(n), "{args:?}: {line:?} does not name {n:?}");
    }
    Ok(())
}

#[test]
fn vgamem_mb_out_of_range_is_adjusted_as_qemu_does_with_a_warning() -> Result<()> {
    for (asked, used) in [("0", "1"), ("1024", "512"), ("3", "4")] {
        let arg = format!("VGA.vgamem_mb={asked}");
        let mut ph = Porthole::spawn([
            "-display",
            "none",
            "-nodefaults",
            "-global",
            &arg,
            "-monitor",
            "stdio",
        ])?;
        ph.wait_prompt()?;
        let want = format!("using {used} MiB");
        ph.wait_stderr(&want, RUN_TIMEOUT)?;
        ph.command("quit").ok();
    }
    Ok(())
}

#[test]
fn bad_bench_and_global_options_are_named() -> Result<()> {
    let base = ["-display", "none", "-nodefaults"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        base.iter().copied().chain(extra.iter().copied()).collect()
    };
    expect_bad(
        &with(&["-guest", "bench,workload=fractal"]),
        &["-guest", "workload", "fractal"],
    )?;
    expect_bad(&with(&["-guest", "bench,width=7"]), &["-guest", "width 7"])?;
    expect_bad(
        &with(&["-guest", "bench,height=9000"]),
        &["-guest", "height 9000"],
    )?;
    expect_bad(&with(&["-guest", "bench,fps=0"]), &["-guest", "fps"])?;
    expect_bad(&with(&["-guest", "bench,speed=2"]), &["-guest", "speed"])?;
    expect_bad(
        &with(&["-guest", "console,workload=full"]),
        &["-guest", "takes no options"],
    )?;
    expect_bad(
        &with(&["-global", "VGA.vgamem_mb=lots"]),
        &["-global", "vgamem_mb"],
    )?;
    expect_bad(
        &with(&["-global", "VGA.refresh_rate=60"]),
        &["-global", "VGA.refresh_rate", "not found"],
    )?;
    expect_bad(&with(&["-global", "e1000.mac=1"]), &["-global", "e1000"])?;
    Ok(())
}

#[test]
fn system_reset_starts_the_bench_guest_again() -> Result<()> {
    let (mut server, mut viewer, _) = stopped_bench("scroll", 320, 200)?;
    // Let it run longer, so that a reboot is told from going on by the counter.
    server.command("cont")?;
    std::thread::sleep(Duration::from_millis(500));
    server.command("stop")?;
    std::thread::sleep(Duration::from_millis(120));
    let before = read_counter(&xrgb(&viewer.refresh()?), 320).context("no counter")?;
    ensure!(before >= 20, "only {before} frames before the reset");
    let out = server.command("system_reset")?;
    ensure!(out.trim().is_empty(), "system_reset printed {out:?}");
    // Still stopped: the card is back in text mode and the guest has not run yet.
    std::thread::sleep(Duration::from_millis(100));
    let reset = viewer.refresh()?;
    ensure!(
        (reset.width, reset.height) == (720, 400),
        "after the reset the screen is {}x{}",
        reset.width,
        reset.height
    );
    server.command("cont")?;
    let deadline = std::time::Instant::now() + RUN_TIMEOUT;
    loop {
        let image = viewer.refresh()?;
        if (image.width, image.height) == (320, 200) {
            let n = read_counter(&xrgb(&image), 320).context("no counter")?;
            ensure!(
                n < before,
                "the counter went on from {before} to {n}: no reboot"
            );
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the guest did not boot again"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
