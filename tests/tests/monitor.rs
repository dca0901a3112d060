//! The HMP monitor: banner and prompt, info commands, run state, quit, `change vnc
//! password` prompting through a pipe and through a terminal, a monitor on a UNIX socket.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use porthole_tests::{
    PROMPT, Porthole, RawRfb, Server, pick_display, porthole_bin, procfs, spawn_in_pty,
};

#[test]
fn banner_and_prompt() -> Result<()> {
    let server = Server::start("")?;
    ensure!(
        server.banner.contains("Porthole")
            && server
                .banner
                .contains("monitor - type 'help' for more information"),
        "banner {:?}",
        server.banner
    );
    Ok(())
}

#[test]
fn help_lists_the_commands() -> Result<()> {
    let mut server = Server::start("")?;
    let out = server.command("help")?;
    for cmd in [
        "help",
        "info",
        "change",
        "set_password",
        "expire_password",
        "stop",
        "cont",
        "system_reset",
        "quit",
        "screendump",
    ] {
        let listed = out.lines().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.split('|').any(|n| n == cmd))
        });
        ensure!(listed, "help does not list {cmd}:\n{out}");
    }
    Ok(())
}

#[test]
fn unknown_command_is_reported() -> Result<()> {
    let mut server = Server::start("")?;
    let out = server.command("frobnicate now")?;
    ensure!(
        out.contains("unknown command: 'frobnicate'"),
        "output {out:?}"
    );
    let out = server.command("info status")?;
    ensure!(out.contains("VM status: running"), "info status {out:?}");
    Ok(())
}

#[test]
fn stop_and_cont_change_info_status() -> Result<()> {
    let mut server = Server::start("")?;
    ensure!(
        server
            .command("info status")?
            .contains("VM status: running")
    );
    ensure!(server.command("stop")?.trim().is_empty());
    let out = server.command("info status")?;
    ensure!(out.contains("VM status: paused"), "after stop: {out:?}");
    ensure!(server.command("cont")?.trim().is_empty());
    let out = server.command("info status")?;
    ensure!(out.contains("VM status: running"), "after cont: {out:?}");
    Ok(())
}

#[test]
fn dash_s_starts_paused() -> Result<()> {
    let mut server = Server::start_with("", &["-S"])?;
    let out = server.command("info status")?;
    ensure!(out.contains("VM status: paused"), "with -S: {out:?}");
    // VNC is served while paused.
    RawRfb::open(server.port, None)?;
    server.command("cont")?;
    let out = server.command("info status")?;
    ensure!(out.contains("VM status: running"), "after cont: {out:?}");
    Ok(())
}

#[test]
fn info_version_and_name() -> Result<()> {
    let mut server = Server::start_with("", &["-name", "testvm"])?;
    let (_, init) = RawRfb::open(server.port, None)?;
    ensure!(
        init.name.contains("testvm"),
        "desktop name {:?} does not carry -name",
        init.name
    );
    let out = server.command("info version")?;
    ensure!(
        out.contains(env!("CARGO_PKG_VERSION")),
        "info version {out:?}"
    );
    let out = server.command("info name")?;
    ensure!(out.contains("testvm"), "info name {out:?}");
    Ok(())
}

#[test]
fn info_vnc_shows_server_auth_and_clients() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    let out = server.command("info vnc")?;
    let addr = format!("127.0.0.1:{}", server.port);
    ensure!(out.contains(&addr), "info vnc does not show {addr}:\n{out}");
    ensure!(
        out.contains("Auth: vnc"),
        "info vnc does not show VNC auth:\n{out}"
    );
    ensure!(
        !out.contains("Client:"),
        "a client is listed before any connected:\n{out}"
    );
    server.set_password("inf0")?;
    let _viewer = RawRfb::open(server.port, Some("inf0"))?;
    let out = server.command("info vnc")?;
    ensure!(
        out.contains("Client:"),
        "the connected client is not listed:\n{out}"
    );
    Ok(())
}

#[test]
fn system_reset_keeps_serving() -> Result<()> {
    let mut server = Server::start("")?;
    let out = server.command("system_reset")?;
    ensure!(out.trim().is_empty(), "system_reset printed {out:?}");
    ensure!(
        server
            .command("info status")?
            .contains("VM status: running")
    );
    let image = server.screendump_png("after-reset.png")?;
    ensure!(image.nonblack_pixels() > 0, "screen is black after reset");
    RawRfb::open(server.port, None)?;
    Ok(())
}

/// The built-in guest powers off on the power button, and porthole exits with it.
#[test]
fn system_powerdown_exits() -> Result<()> {
    let mut server = Server::start("")?;
    server.send_line("system_powerdown")?;
    let status = server.wait_exit(Duration::from_secs(10))?;
    ensure!(status.success(), "system_powerdown: exit status {status}");
    Ok(())
}

#[test]
fn quit_exits_zero() -> Result<()> {
    let mut server = Server::start("")?;
    server.send_line("quit")?;
    let status = server.wait_exit(Duration::from_secs(5))?;
    ensure!(status.success(), "quit: exit status {status}");
    Ok(())
}

/// `change vnc password` without an argument on a piped stdin: it prints `Password: `,
/// the next line is the password, and the password is not echoed.
#[test]
fn change_vnc_password_prompt_through_a_pipe() -> Result<()> {
    let mut server = Server::start(",password=on")?;
    server.send_line("change vnc password")?;
    server.wait_for_output("Password: ", Duration::from_secs(5))?;
    server.send_line("p1pepass")?;
    let after = server.wait_for_output(PROMPT, Duration::from_secs(5))?;
    ensure!(
        !after.contains("p1pepass"),
        "the password was echoed: {after:?}"
    );
    ensure!(
        !server.stdout_text().contains("p1pepass") && !server.stderr_text().contains("p1pepass"),
        "the password appears in porthole's output"
    );
    server.expect_accepted("p1pepass")?;
    server.expect_rejected("wrongpw")?;
    // The monitor is back to normal commands.
    ensure!(
        server
            .command("info status")?
            .contains("VM status: running")
    );
    Ok(())
}

/// The same through a pseudo-terminal: the prompt appears, the typed password is not shown
/// (stars are fine), and the new password works.
#[test]
fn change_vnc_password_prompt_through_a_pty() -> Result<()> {
    let display = pick_display();
    let port = 5900 + display;
    let vnc = format!("127.0.0.1:{display},password=on");
    let bin = porthole_bin()?;
    let mut term = spawn_in_pty(
        bin.as_os_str(),
        [
            "-vnc",
            vnc.as_str(),
            "-monitor",
            "stdio",
            "-display",
            "none",
            "-nodefaults",
        ],
        &[],
    )?;
    term.wait_for(PROMPT, Duration::from_secs(10))?;
    wait_listening(term.pid(), port)?;
    term.write(b"change vnc password\r")?;
    term.wait_for("Password: ", Duration::from_secs(5))?;
    // Type only once the terminal no longer echoes (raw mode or ECHO off): typing earlier
    // could be flushed away or shown.
    term.wait_echo_off(Duration::from_secs(5))?;
    term.write(b"ptypass1\r")?;
    let shown = term.wait_for(PROMPT, Duration::from_secs(5))?;
    ensure!(
        !shown.contains("ptypass1"),
        "the typed password was shown: {shown:?}"
    );
    ensure!(
        !term.text().contains("ptypass1"),
        "the password appears on the terminal"
    );
    expect_auth(port, "ptypass1", true)?;
    expect_auth(port, "ptypass2", false)?;
    // A normal command still works on the terminal.
    term.write(b"info status\r")?;
    term.wait_for("VM status: running", Duration::from_secs(5))?;
    term.write(b"quit\r")?;
    let status = term.wait_exit(Duration::from_secs(5))?;
    ensure!(status.success(), "quit on the terminal: {status}");
    Ok(())
}

fn wait_listening(pid: u32, port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !procfs::listens_on(pid, port)? {
        ensure!(Instant::now() < deadline, "not listening on {port}");
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn expect_auth(port: u16, password: &str, accepted: bool) -> Result<()> {
    let mut c = RawRfb::connect(port)?;
    c.exchange_versions(8)?;
    let outcome = c.authenticate(Some(password.as_bytes()))?;
    let ok = outcome == porthole_tests::AuthOutcome::Accepted;
    ensure!(ok == accepted, "password {password:?}: {outcome:?}");
    Ok(())
}

/// Reads from a monitor socket until `pattern`; returns the text before it.
fn read_until(sock: &mut UnixStream, pattern: &str, timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&buf).replace('\r', "");
        if let Some(i) = text.find(pattern) {
            return Ok(text[..i].to_owned());
        }
        let now = Instant::now();
        ensure!(now < deadline, "{pattern:?} not received; got {text:?}");
        sock.set_read_timeout(Some(deadline - now))?;
        match sock.read(&mut chunk) {
            Ok(0) => bail!("monitor socket closed; got {text:?}"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e).context("reading the monitor socket"),
        }
    }
}

fn connect_monitor(path: &Path) -> Result<UnixStream> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => {
                return Err(e).with_context(|| format!("connecting to {}", path.display()));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

#[test]
fn monitor_on_a_unix_socket() -> Result<()> {
    let server = Server::start_with(
        ",password=on",
        &["-monitor", "unix:{dir}/hmp.sock,server=on,wait=off"],
    )?;
    let path = server.path("hmp.sock");
    let mut sock = connect_monitor(&path)?;
    let mode = std::fs::symlink_metadata(&path)?.permissions().mode() & 0o777;
    ensure!(
        mode == 0o600,
        "monitor socket mode {mode:04o}, expected 0600"
    );
    let banner = read_until(&mut sock, PROMPT, Duration::from_secs(5))?;
    ensure!(
        banner.contains("monitor"),
        "socket monitor banner {banner:?}"
    );
    sock.write_all(b"info status\n")?;
    let out = read_until(&mut sock, PROMPT, Duration::from_secs(5))?;
    ensure!(
        out.contains("VM status: running"),
        "info status over the socket: {out:?}"
    );
    sock.write_all(b"change vnc password s0cket\n")?;
    read_until(&mut sock, PROMPT, Duration::from_secs(5))?;
    server.expect_accepted("s0cket")?;
    // Closing the monitor connection does not stop the machine; a new one is accepted.
    drop(sock);
    let mut again = connect_monitor(&path)?;
    read_until(&mut again, PROMPT, Duration::from_secs(5))?;
    again.write_all(b"info status\n")?;
    let out = read_until(&mut again, PROMPT, Duration::from_secs(5))?;
    ensure!(
        out.contains("VM status: running"),
        "second connection: {out:?}"
    );
    Ok(())
}

#[test]
fn monitor_none_prints_no_prompt() -> Result<()> {
    let display = pick_display();
    let vnc = format!("127.0.0.1:{display}");
    let mut ph = Porthole::spawn([
        "-vnc",
        vnc.as_str(),
        "-monitor",
        "none",
        "-display",
        "none",
        "-nodefaults",
    ])?;
    ph.wait_listening(5900 + display, Duration::from_secs(10))?;
    // Commands on stdin are not read: quit does nothing, the server keeps serving.
    ph.send_line("quit")?;
    std::thread::sleep(Duration::from_millis(300));
    ph.ensure_running()?;
    RawRfb::open(5900 + display, None)?;
    ensure!(
        !ph.stdout_text().contains(PROMPT),
        "a prompt was printed with -monitor none"
    );
    Ok(())
}
