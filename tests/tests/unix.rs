//! `-vnc unix:PATH`: the socket is created with mode 0600 and clients connect through it.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use porthole_tests::clients::vncdo_at;
use porthole_tests::{Porthole, RawRfb, require_client};

fn wait_for_socket(ph: &mut Porthole, path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        ph.ensure_running()?;
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{} did not appear\n{}",
            path.display(),
            ph.describe()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn start(dir: &Path, suffix: &str) -> Result<(Porthole, PathBuf)> {
    let path = dir.join("vnc.sock");
    let vnc = format!("unix:{}{suffix}", path.display());
    let mut ph = Porthole::spawn([
        "-vnc",
        vnc.as_str(),
        "-monitor",
        "stdio",
        "-display",
        "none",
        "-nodefaults",
    ])?;
    wait_for_socket(&mut ph, &path)?;
    ph.wait_prompt()?;
    Ok((ph, path))
}

#[test]
fn unix_socket_has_mode_0600_and_serves_clients() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (_ph, path) = start(dir.path(), "")?;
    let mode = std::fs::symlink_metadata(&path)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "socket mode is {mode:04o}, expected 0600");
    let mut c = RawRfb::connect_unix(&path)?;
    let init = c.handshake(None)?;
    ensure!(init.width > 0 && init.height > 0, "ServerInit {init:?}");
    c.set_pixel_format_xrgb()?;
    c.set_encodings(&[0])?;
    let image = c.refresh()?;
    ensure!(
        image.nonblack_pixels() > 0,
        "black picture over the UNIX socket"
    );
    Ok(())
}

#[test]
fn unix_socket_with_password() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut ph, path) = start(dir.path(), ",password=on")?;
    ph.command("change vnc password un1x")?;
    let mut c = RawRfb::connect_unix(&path)?;
    c.handshake(Some("un1x"))?;
    let mut bad = RawRfb::connect_unix(&path)?;
    bad.exchange_versions(8)?;
    let outcome = bad.authenticate(Some(b"wrong"))?;
    ensure!(
        matches!(outcome, porthole_tests::AuthOutcome::Rejected(_)),
        "wrong password over the UNIX socket: {outcome:?}"
    );
    let out = ph.command("info vnc")?;
    ensure!(
        out.contains(&*path.to_string_lossy()),
        "info vnc does not show the socket:\n{out}"
    );
    Ok(())
}

#[test]
fn vncdotool_over_the_unix_socket() -> Result<()> {
    if !require_client("vncdo")? {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let (_ph, path) = start(dir.path(), "")?;
    let shot = dir.path().join("shot.png");
    let shot_text = shot.to_string_lossy().into_owned();
    let run = vncdo_at(
        &path.to_string_lossy(),
        None,
        &["capture", shot_text.as_str()],
    )?;
    ensure!(
        run.image.is_some(),
        "vncdo over the UNIX socket failed:\n{}",
        run.log
    );
    Ok(())
}
