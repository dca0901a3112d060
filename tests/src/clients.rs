//! Real VNC clients that nobody here wrote: gvnccapture (gtk-vnc), vncdotool, TigerVNC.
//!
//! A missing client skips its test (with a `SKIP:` line) unless `PORTHOLE_REQUIRE_CLIENTS`
//! is set, as it is in CI, where a missing client is a failure.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::pty::spawn_in_pty;
use crate::stream::{Captured, tail};

/// How long one client run may take before it is killed and the test fails.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The full path of `program` if it is on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Whether the real client `program` can be used: true if installed; false (after printing
/// a SKIP line) if missing and clients are optional; an error if missing and
/// `PORTHOLE_REQUIRE_CLIENTS` is set.
pub fn require_client(program: &str) -> Result<bool> {
    if which(program).is_some() {
        return Ok(true);
    }
    if std::env::var_os("PORTHOLE_REQUIRE_CLIENTS").is_some_and(|v| !v.is_empty()) {
        bail!(
            "{program} is not installed and PORTHOLE_REQUIRE_CLIENTS is set (run scripts/test.sh)"
        );
    }
    // Straight to stderr: the test harness captures println!, and a skip must be visible.
    let _ = writeln!(std::io::stderr(), "SKIP: {program} not installed");
    Ok(false)
}

/// The result of one run of a real client.
#[derive(Debug)]
pub struct ClientRun {
    /// Exit status (None if it had to be killed).
    pub status: Option<ExitStatus>,
    /// Everything it printed.
    pub log: String,
    /// The image it wrote, if it exited 0 and the file exists.
    pub image: Option<PathBuf>,
}

impl ClientRun {
    /// Exited 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// Runs `gvnccapture --debug 127.0.0.1:DISPLAY out` on a pty; types `password` at its
/// `Password:` prompt once it has switched echo off (typing earlier is flushed away by its
/// `tcsetattr(TCSAFLUSH)` and the tool hangs).
pub fn gvnccapture(display: u16, password: &str, out: &Path) -> Result<ClientRun> {
    let program = which("gvnccapture").context("gvnccapture is not installed")?;
    let target = format!("127.0.0.1:{display}");
    let args: [&OsStr; 3] = [OsStr::new("--debug"), OsStr::new(&target), out.as_os_str()];
    let mut child = spawn_in_pty(program.as_os_str(), args, &[])?;
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut typed = false;
    let status = loop {
        if let Some(status) = child.try_status()? {
            child.wait_exit(Duration::from_secs(1))?;
            break Some(status);
        }
        if !typed && child.pending().contains("Password:") {
            child.wait_for("Password:", Duration::from_secs(1))?;
            child.wait_echo_off(Duration::from_secs(5))?;
            child.write(format!("{password}\n").as_bytes())?;
            typed = true;
        }
        if Instant::now() >= deadline {
            child.kill();
            bail!(
                "gvnccapture did not finish within {CLIENT_TIMEOUT:?}; output:\n{}",
                tail(&child.text(), 3000)
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    let log = child.text();
    let image = (status.is_some_and(|s| s.success()) && out.is_file()).then(|| out.to_path_buf());
    Ok(ClientRun { status, log, image })
}

/// Runs a command with stdin closed and output captured; kills it after `timeout`.
pub fn run_captured(
    program: &OsStr,
    args: &[OsString],
    envs: &[(&str, &OsStr)],
    timeout: Duration,
) -> Result<ClientRun> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", program.to_string_lossy()))?;
    let out = Captured::spawn(child.stdout.take().context("stdout")?);
    let err = Captured::spawn(child.stderr.take().context("stderr")?);
    let status = wait_child(&mut child, timeout)?;
    out.wait_eof(Duration::from_secs(1));
    err.wait_eof(Duration::from_secs(1));
    let log = format!("{}{}", out.text(), err.text());
    let Some(status) = status else {
        bail!(
            "{} {:?} did not finish within {timeout:?}; output:\n{}",
            program.to_string_lossy(),
            args,
            tail(&log, 3000)
        );
    };
    Ok(ClientRun {
        status: Some(status),
        log,
        image: None,
    })
}

/// Waits for `child`; kills it and returns None after `timeout`.
fn wait_child(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `vncdo -s 127.0.0.1::PORT [-p PW] -t 8 ARGS...` (vncdotool).
///
/// If the arguments contain `capture FILE` and it exits 0 with the file present, the file
/// is returned as the image.
pub fn vncdo(port: u16, password: Option<&str>, args: &[&str]) -> Result<ClientRun> {
    vncdo_at(&format!("127.0.0.1::{port}"), password, args)
}

/// Runs `vncdo -s SERVER [-p PW] -t 8 ARGS...`; SERVER is `host::port` or an existing UNIX
/// socket path.
pub fn vncdo_at(server: &str, password: Option<&str>, args: &[&str]) -> Result<ClientRun> {
    let program = which("vncdo").context("vncdo (vncdotool) is not installed")?;
    let mut argv: Vec<OsString> = vec!["-s".into(), server.into()];
    if let Some(pw) = password {
        argv.push("-p".into());
        argv.push(pw.into());
    }
    argv.push("-t".into());
    argv.push("8".into());
    argv.extend(args.iter().map(OsString::from));
    let mut run = run_captured(program.as_os_str(), &argv, &[], CLIENT_TIMEOUT)?;
    if run.success()
        && let Some(i) = args.iter().position(|a| *a == "capture")
        && let Some(file) = args.get(i + 1)
        && Path::new(file).is_file()
    {
        run.image = Some(PathBuf::from(file));
    }
    Ok(run)
}

/// The obfuscated form of a VNC password as TigerVNC's `vncpasswd -f` writes it: the first
/// eight bytes, NUL padded, DES-encrypted with the fixed key every VNC viewer shares.
pub fn vnc_passwd_file_bytes(password: &str) -> [u8; 8] {
    // The well-known fixed key of the VNC password file format (d3des obfuscation key).
    const OBFUSCATION_KEY: [u8; 8] = [23, 82, 107, 6, 35, 78, 88, 7];
    let mut block = [0u8; 16];
    for (b, p) in block.iter_mut().zip(password.bytes().take(8)) {
        *b = p;
    }
    // VNC auth encrypts a challenge with the (bit-reversed) password as the DES key: with
    // the obfuscation key as "password" and the password as "challenge" it is exactly the
    // password-file encryption.
    let out = crypto::vnc_auth_response(&OBFUSCATION_KEY, &block);
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    first
}

/// An Xvfb X server for TigerVNC; killed on drop.
pub struct Xvfb {
    child: Child,
    /// The display number it took.
    pub display: u32,
}

impl Xvfb {
    /// Starts `Xvfb -displayfd 1` (it picks a free display and prints its number).
    pub fn start() -> Result<Xvfb> {
        let program = which("Xvfb").context("Xvfb is not installed")?;
        let mut child = Command::new(program)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x1024x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb")?;
        let stdout = child.stdout.take().context("Xvfb stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("Xvfb did not report a display within 10 s");
            }
        };
        let display = match line.trim().parse() {
            Ok(d) => d,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("Xvfb printed {line:?} instead of a display number");
            }
        };
        Ok(Xvfb { child, display })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The verdict of a TigerVNC run.
#[derive(Debug)]
pub struct TigerRun {
    /// True when its log said the connection was initialised ("Using pixel format").
    pub connected: bool,
    /// Its log.
    pub log: String,
}

/// Connects TigerVNC's `vncviewer` to 127.0.0.1::PORT under a private Xvfb with
/// `password` in a password file, judges by its log (it exits 0 even on failure), then
/// kills it.
pub fn tigervnc(port: u16, password: &str, dir: &Path) -> Result<TigerRun> {
    let program = which("vncviewer").context("vncviewer (TigerVNC) is not installed")?;
    let xvfb = Xvfb::start()?;
    let home = dir.join("tigervnc-home");
    std::fs::create_dir_all(&home)?;
    let passwd = dir.join("tigervnc-passwd");
    std::fs::write(&passwd, vnc_passwd_file_bytes(password))?;
    let display = format!(":{}", xvfb.display);
    let mut child = Command::new(program)
        .args([
            "-AlertOnFatalError=0",
            "-ReconnectOnError=0",
            "-Shared=1",
            "-Log",
            "*:stderr:100",
        ])
        .arg("-PasswordFile")
        .arg(&passwd)
        .arg(format!("127.0.0.1::{port}"))
        .env("DISPLAY", &display)
        .env("HOME", &home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting vncviewer")?;
    let err = Captured::spawn(child.stderr.take().context("stderr")?);
    let out = Captured::spawn(child.stdout.take().context("stdout")?);
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let connected = loop {
        let text = err.text();
        if text.contains("Using pixel format") {
            break true;
        }
        if text.contains("Authentication failure")
            || text.contains("Authentication failed")
            || child.try_wait()?.is_some()
        {
            break false;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "vncviewer gave no verdict within {CLIENT_TIMEOUT:?}; log:\n{}",
                tail(&text, 3000)
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    let _ = child.kill();
    let _ = child.wait();
    err.wait_eof(Duration::from_secs(1));
    let log = format!("{}{}", out.text(), err.text());
    drop(xvfb);
    Ok(TigerRun { connected, log })
}

#[cfg(test)]
mod tests {
    use super::vnc_passwd_file_bytes;

    #[test]
    fn passwd_file_matches_vncpasswd() {
        // `printf 'password\n' | vncpasswd -f | xxd -p` with TigerVNC 1.12.
        assert_eq!(
            vnc_passwd_file_bytes("password"),
            [0xdb, 0xd8, 0x3c, 0xfd, 0x72, 0x7a, 0x14, 0x58]
        );
    }
}
