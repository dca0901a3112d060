//! What viewers see equals what `screendump` writes, pixel for pixel; screendump formats.
//!
//! The text console has a blinking cursor, so two snapshots taken a few milliseconds apart
//! can differ in the cursor cell. Each comparison takes a fresh pair up to a few times and
//! passes on the first identical pair (`expect_same_image`); a real difference (wrong
//! colours, offset, missing text, stale frame) persists in every pair and fails.

use anyhow::{Context, Result, bail, ensure};
use porthole_tests::image::{expect_same_image, parse_ppm_header};
use porthole_tests::raw::keysyms_for;
use porthole_tests::raw::{ENC_DESKTOP_SIZE, ENC_RAW, PixelFormat};
use porthole_tests::{Image, RawRfb, Server, Viewer, gvnccapture, require_client};

const ATTEMPTS: usize = 6;

/// The boot screen of the built-in console guest shows text: some non-black pixels in at
/// least two colours, and not a full screen of one colour.
fn expect_text_screen(image: &Image) -> Result<()> {
    let lit = image.nonblack_pixels();
    let total = usize::try_from(image.width * image.height)?;
    ensure!(lit > 200, "only {lit} non-black pixels: no text on screen");
    ensure!(lit < total, "the whole screen is lit: not a text console");
    ensure!(image.colour_count() >= 2, "a single colour");
    Ok(())
}

#[test]
fn screendump_png_shows_the_boot_screen() -> Result<()> {
    let mut server = Server::start("")?;
    let image = server.screendump_png("boot.png")?;
    ensure!(
        image.width >= 320 && image.height >= 200,
        "odd size {image:?}"
    );
    expect_text_screen(&image)?;
    Ok(())
}

#[test]
fn gvnccapture_png_equals_screendump() -> Result<()> {
    if !require_client("gvnccapture")? {
        return Ok(());
    }
    let mut server = Server::start(",password=on")?;
    server.set_password("scr33n")?;
    let save = server.dir.path().to_path_buf();
    let mut n = 0;
    let image = expect_same_image(ATTEMPTS, &save, "gvnccapture-vs-screendump", || {
        n += 1;
        let out = server.path(&format!("capture{n}.png"));
        let run = gvnccapture(server.display, "scr33n", &out)?;
        let path = run
            .image
            .with_context(|| format!("gvnccapture failed ({:?}):\n{}", run.status, run.log))?;
        let captured = Image::read_png(&path)?;
        let dumped = server.screendump_png(&format!("dump{n}.png"))?;
        Ok((captured, dumped))
    })?;
    expect_text_screen(&image)?;
    Ok(())
}

/// Byte-exact: the in-repo client's framebuffer is what screendump writes.
#[test]
fn rfbclient_framebuffer_equals_screendump() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("fr4me")?;
    let mut viewer = Viewer::open(server.port, Some("fr4me"))?;
    let save = server.dir.path().to_path_buf();
    let mut n = 0;
    let image = expect_same_image(ATTEMPTS, &save, "framebuffer-vs-screendump", || {
        n += 1;
        let seen = viewer.refresh()?;
        let dumped = server.screendump_png(&format!("dump{n}.png"))?;
        Ok((seen, dumped))
    })?;
    expect_text_screen(&image)?;
    Ok(())
}

/// The client's pixel format is honoured: 16-bit RGB565 pixels carry the same picture.
/// Servers differ in how they reduce 8-bit channels to 5 or 6 bits (truncate or scale), so
/// each channel may be off by one 565 step; a wrong shift, order or byte order is far more.
#[test]
fn rgb565_client_sees_the_same_picture() -> Result<()> {
    // One 565 step on the 8-bit scale is 255/31 (red, blue) or 255/63 (green), plus rounding.
    const TOLERANCE: [u8; 3] = [10, 6, 10];
    let mut server = Server::start("")?;
    let (mut c, _) = RawRfb::open(server.port, None)?;
    c.set_pixel_format(PixelFormat::RGB565)?;
    c.set_encodings(&[ENC_RAW, ENC_DESKTOP_SIZE])?;
    let mut worst = String::new();
    for n in 0..ATTEMPTS {
        let seen = c.refresh()?;
        let expected = server.screendump_png(&format!("dump{n}.png"))?;
        if (seen.width, seen.height) != (expected.width, expected.height) {
            // A mode change between the two snapshots: take another pair.
            worst = format!("the 565 client sees {seen:?}, screendump is {expected:?}");
            continue;
        }
        let bad = seen
            .rgb
            .chunks_exact(3)
            .zip(expected.rgb.chunks_exact(3))
            .filter(|(s, e)| (0..3).any(|i| s[i].abs_diff(e[i]) > TOLERANCE[i]))
            .count();
        if bad == 0 {
            ensure!(seen.nonblack_pixels() > 0, "the 565 picture is black");
            return Ok(());
        }
        worst = format!("{bad} pixels differ by more than one 565 step");
    }
    bail!("rgb565: {worst} in each of {ATTEMPTS} attempts")
}

#[test]
fn screendump_ppm_header_and_pixels_match_png() -> Result<()> {
    let mut server = Server::start("")?;
    let save = server.dir.path().to_path_buf();
    let mut n = 0;
    expect_same_image(ATTEMPTS, &save, "ppm-vs-png", || {
        n += 1;
        let ppm = server.path(&format!("dump{n}.ppm"));
        server.screendump_to(&ppm, "ppm")?;
        let data = std::fs::read(&ppm)?;
        ensure!(data.starts_with(b"P6\n"), "PPM does not start with P6\\n");
        let (header, offset) = parse_ppm_header(&data)?;
        ensure!(header.maxval == 255, "maxval {}", header.maxval);
        ensure!(
            data.len() - offset == usize::try_from(header.width * header.height * 3)?,
            "PPM body size does not match its header"
        );
        let from_ppm = Image::read_ppm(&ppm)?;
        let from_png = server.screendump_png(&format!("dump{n}.png"))?;
        Ok((from_ppm, from_png))
    })?;
    Ok(())
}

/// Without `-f`, screendump writes PPM (QEMU's default).
#[test]
fn screendump_defaults_to_ppm() -> Result<()> {
    let mut server = Server::start("")?;
    let path = server.path("default.ppm");
    let out = server.command(&format!("screendump {}", path.display()))?;
    ensure!(out.trim().is_empty(), "screendump printed {out:?}");
    let image = Image::read_ppm(&path)?;
    expect_text_screen(&image)?;
    Ok(())
}

#[test]
fn screendump_to_an_unwritable_path_reports_an_error() -> Result<()> {
    let mut server = Server::start("")?;
    let out = server.command("screendump /nonexistent-dir/porthole/x.png -f png")?;
    ensure!(
        !out.trim().is_empty(),
        "no error for an unwritable screendump path"
    );
    let out = server.command("info status")?;
    ensure!(
        out.contains("VM status: running"),
        "info status after the error: {out:?}"
    );
    Ok(())
}

#[test]
fn gvnccapture_png_equals_screendump_in_vbe_modes() -> Result<()> {
    // gvnccapture takes one picture per connection, so each mode gets its own capture (the
    // one-session switch with gtk-vnc is in tests/python/test_modes.py, with gvncviewer).
    if !require_client("gvnccapture")? {
        return Ok(());
    }
    // gvnccapture asks for exclusive access; share=ignore keeps the typing viewer connected.
    let mut server = Server::start(",password=on,share=ignore")?;
    server.set_password("m0des")?;
    let mut typist = Viewer::open(server.port, Some("m0des"))?;
    let save = server.dir.path().to_path_buf();
    for (mode, size) in [("1024x768", (1024, 768)), ("1920x1080", (1920, 1080))] {
        typist.tap_keys(&keysyms_for(&format!("mode {mode}\n")))?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let dump = server.screendump_png(&format!("wait-{mode}.png"))?;
            if (dump.width, dump.height) == size {
                break;
            }
            ensure!(std::time::Instant::now() < deadline, "no {mode} mode");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut n = 0;
        let image = expect_same_image(ATTEMPTS, &save, &format!("gvnccapture-{mode}"), || {
            n += 1;
            let out = server.path(&format!("capture-{mode}-{n}.png"));
            let run = gvnccapture(server.display, "m0des", &out)?;
            let path = run
                .image
                .with_context(|| format!("gvnccapture failed ({:?}):\n{}", run.status, run.log))?;
            let captured = Image::read_png(&path)?;
            let dumped = server.screendump_png(&format!("dump-{mode}-{n}.png"))?;
            Ok((captured, dumped))
        })?;
        ensure!(
            (image.width, image.height) == size,
            "captured {}x{}",
            image.width,
            image.height
        );
    }
    Ok(())
}
