//! VNC password authentication (`password=on`, `password-secret=`), seen by the in-repo raw
//! client and by real clients (gvnccapture, vncdotool, TigerVNC).

use std::os::unix::fs::PermissionsExt;

use anyhow::{Result, bail, ensure};
use porthole_tests::raw::{SEC_NONE, SEC_VNC};
use porthole_tests::viewer::handshake;
use porthole_tests::{
    AuthOutcome, ClientRun, Image, RawRfb, Server, Viewer, gvnccapture, require_client, tigervnc,
    vncdo,
};

/// The security types the server offers to an RFB 3.8 client.
fn offered_types(server: &Server) -> Result<Vec<u8>> {
    let mut c = RawRfb::connect(server.port)?;
    c.exchange_versions(8)?;
    let count = c.read_exact(1)?[0];
    ensure!(count > 0, "server offered no security type");
    c.read_exact(usize::from(count))
}

/// gvnccapture with `password` must fail and write no image.
fn expect_gvnc_rejected(server: &Server, password: &str, name: &str) -> Result<ClientRun> {
    let out = server.path(name);
    let run = gvnccapture(server.display, password, &out)?;
    ensure!(
        !run.success(),
        "gvnccapture with {password:?} succeeded:\n{}",
        run.log
    );
    ensure!(
        !out.exists(),
        "gvnccapture wrote {} although rejected",
        out.display()
    );
    Ok(run)
}

/// gvnccapture with `password` must succeed and write a non-black picture.
fn expect_gvnc_accepted(server: &Server, password: &str, name: &str) -> Result<Image> {
    let out = server.path(name);
    let run = gvnccapture(server.display, password, &out)?;
    let Some(path) = run.image else {
        bail!(
            "gvnccapture with {password:?} failed ({:?}):\n{}",
            run.status,
            run.log
        );
    };
    let image = Image::read_png(&path)?;
    ensure!(
        image.nonblack_pixels() > 0,
        "gvnccapture's picture is all black"
    );
    Ok(image)
}

#[test]
fn password_on_offers_only_vnc_auth() -> Result<()> {
    let server = Server::start(",password=on")?;
    assert_eq!(offered_types(&server)?, vec![SEC_VNC]);
    Ok(())
}

#[test]
fn no_password_offers_only_none() -> Result<()> {
    let server = Server::start("")?;
    assert_eq!(offered_types(&server)?, vec![SEC_NONE]);
    let (_, init) = RawRfb::open(server.port, None)?;
    ensure!(init.width > 0 && init.height > 0, "ServerInit {init:?}");
    Ok(())
}

#[test]
fn rejected_before_password_is_set_raw() -> Result<()> {
    let server = Server::start(",password=on")?;
    let reason = server.expect_rejected("anything")?;
    ensure!(
        reason.to_lowercase().contains("password"),
        "reason {reason:?} does not say a password is missing"
    );
    // An empty password (the all-zero DES key) must not get in either.
    server.expect_rejected("")?;
    Ok(())
}

#[test]
fn rejected_before_password_is_set_gvnccapture() -> Result<()> {
    if !require_client("gvnccapture")? {
        return Ok(());
    }
    let server = Server::start(",password=on")?;
    expect_gvnc_rejected(&server, "anything", "unset.png")?;
    Ok(())
}

#[test]
fn accepted_after_change_vnc_password_raw() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("s3cret")?;
    server.expect_accepted("s3cret")?;
    Ok(())
}

#[test]
fn accepted_after_change_vnc_password_gvnccapture() -> Result<()> {
    if !require_client("gvnccapture")? {
        return Ok(());
    }
    let mut server = Server::start(",password=on")?;
    server.set_password("s3cret")?;
    expect_gvnc_accepted(&server, "s3cret", "ok.png")?;
    Ok(())
}

/// The in-repo client with each RFB version QEMU accepts (3.3, 3.7, 3.8): rejected before
/// a password is set and with a wrong one (3.8 carries a reason, older ones none), accepted
/// with the right one.
#[test]
fn rfbclient_all_protocol_versions() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    for minor in [3u8, 7, 8] {
        match handshake(server.port, Some("unset"), minor) {
            Err(rfbclient::Error::AuthFailed { .. }) => {}
            other => bail!("3.{minor} before a password: {other:?}"),
        }
    }
    server.set_password("v3rsion")?;
    for minor in [3u8, 7, 8] {
        match handshake(server.port, Some("wrong"), minor) {
            Err(rfbclient::Error::AuthFailed { reason }) => {
                if minor == 8 {
                    let reason = reason.unwrap_or_default();
                    ensure!(
                        !reason.trim_end_matches('\0').is_empty(),
                        "3.8 rejection without a reason"
                    );
                }
            }
            other => bail!("3.{minor} with a wrong password: {other:?}"),
        }
        let mut viewer = Viewer::open_minor(server.port, Some("v3rsion"), minor)?;
        ensure!(
            viewer.refresh()?.nonblack_pixels() > 0,
            "3.{minor}: black picture"
        );
    }
    Ok(())
}

#[test]
fn wrong_password_rejected_with_reason() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("right1")?;
    let reason = server.expect_rejected("wrong1")?;
    ensure!(
        reason.to_lowercase().contains("auth"),
        "failure reason {reason:?} does not say what failed"
    );
    // The failure did not hurt the server: the right password still works.
    server.expect_accepted("right1")?;
    Ok(())
}

#[test]
fn wrong_password_rejected_gvnccapture() -> Result<()> {
    if !require_client("gvnccapture")? {
        return Ok(());
    }
    let mut server = Server::start(",password=on")?;
    server.set_password("right1")?;
    let run = expect_gvnc_rejected(&server, "wrong1", "wrong.png")?;
    // gtk-vnc prints the server's reason with --debug.
    ensure!(
        run.log.contains("Authentication failed") || run.log.to_lowercase().contains("auth"),
        "gvnccapture's log does not mention the authentication failure:\n{}",
        run.log
    );
    expect_gvnc_accepted(&server, "right1", "right.png")?;
    Ok(())
}

#[test]
fn expired_password_rejected_and_never_restores_it() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("exp1re")?;
    server.expect_accepted("exp1re")?;
    let out = server.command("expire_password vnc now")?;
    ensure!(out.trim().is_empty(), "expire_password printed {out:?}");
    let reason = server.expect_rejected("exp1re")?;
    ensure!(
        reason.to_lowercase().contains("expired"),
        "reason {reason:?} does not say the password expired"
    );
    let out = server.command("expire_password vnc never")?;
    ensure!(out.trim().is_empty(), "expire_password printed {out:?}");
    server.expect_accepted("exp1re")?;
    // An expiry in the future leaves the password valid for now.
    let out = server.command("expire_password vnc +3600")?;
    ensure!(out.trim().is_empty(), "expire_password printed {out:?}");
    server.expect_accepted("exp1re")?;
    // An absolute time in the past (epoch 1000) expires it.
    let out = server.command("expire_password vnc 1000")?;
    ensure!(out.trim().is_empty(), "expire_password printed {out:?}");
    server.expect_rejected("exp1re")?;
    Ok(())
}

#[test]
fn expire_password_rejects_a_bad_time() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("exp1re")?;
    let out = server.command("expire_password vnc sometime")?;
    ensure!(
        out.contains("sometime") || out.contains("time"),
        "no error for a bad time: {out:?}"
    );
    // The bad command changed nothing.
    server.expect_accepted("exp1re")?;
    Ok(())
}

#[test]
fn expired_password_rejected_gvnccapture() -> Result<()> {
    if !require_client("gvnccapture")? {
        return Ok(());
    }
    let mut server = Server::start(",password=on")?;
    server.set_password("exp1re")?;
    server.command("expire_password vnc now")?;
    expect_gvnc_rejected(&server, "exp1re", "expired.png")?;
    server.command("expire_password vnc never")?;
    expect_gvnc_accepted(&server, "exp1re", "renewed.png")?;
    Ok(())
}

#[test]
fn old_password_rejected_after_change() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("old0ne")?;
    server.expect_accepted("old0ne")?;
    server.set_password("new0ne")?;
    server.expect_rejected("old0ne")?;
    server.expect_accepted("new0ne")?;
    Ok(())
}

#[test]
fn old_password_rejected_after_change_gvnccapture() -> Result<()> {
    if !require_client("gvnccapture")? {
        return Ok(());
    }
    let mut server = Server::start(",password=on")?;
    server.set_password("old0ne")?;
    expect_gvnc_accepted(&server, "old0ne", "old.png")?;
    server.set_password("new0ne")?;
    expect_gvnc_rejected(&server, "old0ne", "old-again.png")?;
    expect_gvnc_accepted(&server, "new0ne", "new.png")?;
    Ok(())
}

/// Changing the password does not disconnect a client that is already in (QEMU semantics).
#[test]
fn change_keeps_connected_clients() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("first1")?;
    let mut viewer = Viewer::open(server.port, Some("first1"))?;
    server.set_password("second")?;
    viewer.refresh()?;
    ensure!(
        !viewer.closed_within(std::time::Duration::from_millis(200)),
        "client was dropped"
    );
    Ok(())
}

#[test]
fn set_password_command_works() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    let out = server.command("set_password vnc setpw1")?;
    ensure!(out.trim().is_empty(), "set_password printed {out:?}");
    server.expect_accepted("setpw1")?;
    server.expect_rejected("setpw2")?;
    let out = server.command("set_password vnc setpw2 keep")?;
    ensure!(
        out.trim().is_empty(),
        "set_password ... keep printed {out:?}"
    );
    server.expect_accepted("setpw2")?;
    server.expect_rejected("setpw1")?;
    Ok(())
}

/// `set_password vnc PW disconnect` (beyond QEMU, which only has `keep`) drops the
/// connected viewers; the new password is in force.
#[test]
fn set_password_disconnect_drops_connected_clients() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("first1")?;
    let mut viewer = Viewer::open(server.port, Some("first1"))?;
    let out = server.command("set_password vnc second disconnect")?;
    ensure!(
        out.trim().is_empty(),
        "set_password ... disconnect printed {out:?}"
    );
    ensure!(
        viewer.closed_within(std::time::Duration::from_secs(3)),
        "viewer still connected"
    );
    server.expect_accepted("second")?;
    server.expect_rejected("first1")?;
    Ok(())
}

/// `set_password vnc PW fail` refuses to change the password while viewers are connected.
#[test]
fn set_password_fail_refuses_while_clients_are_connected() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("first1")?;
    let mut viewer = Viewer::open(server.port, Some("first1"))?;
    let out = server.command("set_password vnc second fail")?;
    ensure!(
        !out.trim().is_empty(),
        "set_password ... fail with a client connected printed nothing"
    );
    server.expect_accepted("first1")?;
    server.expect_rejected("second")?;
    ensure!(
        !viewer.closed_within(std::time::Duration::from_millis(100)),
        "viewer was dropped"
    );
    Ok(())
}

/// Without `password=on` there is nothing to set: the command reports an error and the
/// server keeps accepting clients without authentication.
#[test]
fn password_on_a_display_without_auth_is_an_error() -> Result<()> {
    let mut server = Server::start("")?;
    let out = server.command("change vnc password nopass")?;
    ensure!(
        !out.trim().is_empty(),
        "no error for a password on a display without auth"
    );
    RawRfb::open(server.port, None)?;
    Ok(())
}

/// VNC passwords are significant up to 8 characters: a 9th is ignored.
#[test]
fn password_is_cut_to_eight_characters() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("abcdefghXYZ")?;
    server.expect_accepted("abcdefgh")?;
    server.expect_accepted("abcdefghQQ")?;
    Ok(())
}

/// CVE-2008-5714: an off-by-one checked only 7 of the 8 password characters.
#[test]
fn cve_2008_5714_all_eight_password_characters_are_checked() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.set_password("abcdefgh")?;
    server.expect_rejected("abcdefgX")?;
    server.expect_rejected("Xbcdefgh")?;
    server.expect_accepted("abcdefgh")?;
    Ok(())
}

/// CVE-2011-0011: setting an empty password silently disabled authentication. It must
/// still be VNC auth, with the all-zero key.
#[test]
fn cve_2011_0011_empty_password_still_requires_auth() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    let out = server.command("set_password vnc \"\"")?;
    ensure!(
        out.trim().is_empty(),
        "set_password vnc \"\" printed {out:?}"
    );
    assert_eq!(offered_types(&server)?, vec![SEC_VNC]);
    server.expect_rejected("x")?;
    // A None attempt (security type 1) is refused too.
    let mut c = RawRfb::connect(server.port)?;
    c.exchange_versions(8)?;
    let count = c.read_exact(1)?[0];
    c.read_exact(usize::from(count))?;
    c.send(&[SEC_NONE])?;
    if let Ok(AuthOutcome::Accepted) = c.security_result() {
        bail!("security type None was accepted");
    }
    server.expect_accepted("")?;
    Ok(())
}

#[test]
fn password_secret_data() -> Result<()> {
    let server = Server::start_with(
        ",password-secret=pw0",
        &["-object", "secret,id=pw0,data=fr0mdata"],
    )?;
    server.expect_accepted("fr0mdata")?;
    server.expect_rejected("other")?;
    Ok(())
}

#[test]
fn password_secret_base64() -> Result<()> {
    // "b64secret" in base64.
    let server = Server::start_with(
        ",password-secret=pw0",
        &["-object", "secret,id=pw0,data=YjY0c2VjcmV0,format=base64"],
    )?;
    server.expect_accepted("b64secret")?;
    server.expect_rejected("YjY0c2VjcmV0")?;
    Ok(())
}

#[test]
fn password_secret_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("pw");
    std::fs::write(&file, "fr0mfile")?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
    let object = format!("secret,id=pw0,file={}", file.display());
    let server = Server::start_with(",password-secret=pw0", &["-object", object.as_str()])?;
    server.expect_accepted("fr0mfile")?;
    server.expect_rejected("fr0mdata")?;
    Ok(())
}

#[test]
fn vncdotool_password() -> Result<()> {
    if !require_client("vncdo")? {
        return Ok(());
    }
    let mut server = Server::start(",password=on")?;
    let shot = server.path("unset.png");
    let shot = shot.to_string_lossy().into_owned();
    let run = vncdo(server.port, Some("vncd0"), &["capture", shot.as_str()])?;
    ensure!(
        !run.success(),
        "vncdo was accepted before a password was set:\n{}",
        run.log
    );
    server.set_password("vncd0")?;
    let run = vncdo(server.port, Some("wr0ng"), &["capture", shot.as_str()])?;
    ensure!(
        !run.success(),
        "vncdo with a wrong password was accepted:\n{}",
        run.log
    );
    let run = vncdo(server.port, Some("vncd0"), &["capture", shot.as_str()])?;
    ensure!(
        run.image.is_some(),
        "vncdo with the password failed:\n{}",
        run.log
    );
    Ok(())
}

#[test]
fn tigervnc_password() -> Result<()> {
    if !require_client("vncviewer")? || !require_client("Xvfb")? {
        return Ok(());
    }
    let mut server = Server::start(",password=on")?;
    server.set_password("t1ger")?;
    let run = tigervnc(server.port, "t1ger", server.dir.path())?;
    ensure!(
        run.connected,
        "TigerVNC was not accepted with the password:\n{}",
        run.log
    );
    let run = tigervnc(server.port, "wr0ng", server.dir.path())?;
    ensure!(
        !run.connected,
        "TigerVNC was accepted with a wrong password:\n{}",
        run.log
    );
    Ok(())
}
