//! Starting the real `porthole` binary and talking to its HMP monitor on stdio.

use std::ffi::OsStr;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tempfile::TempDir;

use crate::image::Image;
use crate::procfs;
use crate::raw::{AuthOutcome, RawRfb};
use crate::stream::{Captured, strip_ansi, tail};

/// The HMP prompt.
pub const PROMPT: &str = "(qemu) ";
/// How long a monitor command may take to answer.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take from exec to listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// First display number the tests use (port 5900 + this).
const FIRST_DISPLAY: u32 = 300;
/// How many display numbers the tests spread over.
const DISPLAY_SPAN: u32 = 2700;
/// How many times a start is retried when the chosen port turned out to be taken.
const START_ATTEMPTS: u32 = 8;

/// Path of the `porthole` binary under test.
///
/// `PORTHOLE_BIN` wins; otherwise the directory of the test executable and its parents are
/// searched (`target/<profile>/deps/x` → `target/<profile>/porthole`).
pub fn porthole_bin() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PORTHOLE_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("PORTHOLE_BIN={} is not a file", path.display());
        }
        return Ok(path);
    }
    let exe = std::env::current_exe().context("locating the test executable")?;
    for dir in exe.ancestors().skip(1) {
        let candidate = dir.join("porthole");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "the porthole binary was not found next to {}: run `cargo build -p porthole` first \
         (scripts/test.sh does), or set PORTHOLE_BIN",
        exe.display()
    )
}

/// A display number whose TCP port (5900 + display) on 127.0.0.1 was free a moment ago.
///
/// Numbers come from a per-process counter offset by the process id, so parallel tests and
/// test binaries rarely collide; a collision is caught later by the start retry.
pub fn pick_display() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::process::id().wrapping_mul(131);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let display = FIRST_DISPLAY + base.wrapping_add(n.wrapping_mul(7)) % DISPLAY_SPAN;
        let display = u16::try_from(display).expect("display numbers stay below 3000");
        if port_is_free(5900 + display) {
            return display;
        }
    }
}

/// True when nothing listens on 127.0.0.1:`port` (a bind succeeds).
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// A running `porthole` process with captured stdout/stderr and a piped stdin.
///
/// The process is killed when this is dropped.
pub struct Porthole {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
    cursor: usize,
    args: Vec<String>,
}

impl Porthole {
    /// Starts the binary with `args` and a piped stdin.
    pub fn spawn<I, S>(args: I) -> Result<Porthole>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::spawn_with(args, Stdio::piped())
    }

    /// Starts the binary with `args` and the given stdin.
    pub fn spawn_with<I, S>(args: I, stdin: Stdio) -> Result<Porthole>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let bin = porthole_bin()?;
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let mut child = Command::new(&bin)
            .args(&args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_BACKTRACE", "1")
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = Captured::spawn(child.stdout.take().context("child stdout")?);
        let stderr = Captured::spawn(child.stderr.take().context("child stderr")?);
        let stdin = child.stdin.take();
        Ok(Porthole {
            child,
            stdin,
            stdout,
            stderr,
            cursor: 0,
            args,
        })
    }

    /// Runs the binary to completion (stdin closed) and returns its status, stdout, stderr.
    pub fn run(args: &[&str], timeout: Duration) -> Result<(ExitStatus, String, String)> {
        let mut p = Self::spawn_with(args, Stdio::null())?;
        let status = p.wait_exit(timeout)?;
        p.stdout.wait_eof(Duration::from_secs(2));
        p.stderr.wait_eof(Duration::from_secs(2));
        Ok((status, p.stdout.text(), p.stderr.text()))
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The arguments it was started with.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Everything printed on stdout so far (`\r` removed).
    pub fn stdout_text(&self) -> String {
        self.stdout.text()
    }

    /// Everything printed on stderr so far (`\r` removed).
    pub fn stderr_text(&self) -> String {
        self.stderr.text()
    }

    /// A short description of the process state for error messages.
    pub fn describe(&self) -> String {
        format!(
            "porthole {:?}\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            self.args,
            tail(&self.stdout.text(), 1500),
            tail(&self.stderr.text(), 1500)
        )
    }

    /// Writes raw bytes to stdin.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .context("stdin is not piped or already closed")?;
        stdin
            .write_all(bytes)
            .context("writing to porthole's stdin")?;
        stdin.flush().context("flushing porthole's stdin")
    }

    /// Writes `line` and a newline to stdin.
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        self.send_raw(format!("{line}\n").as_bytes())
    }

    /// Closes stdin (end of file for the monitor).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits until `pattern` appears on stdout after the read cursor; returns the text from
    /// the cursor up to the match and moves the cursor past the match.
    pub fn wait_for_output(&mut self, pattern: &str, timeout: Duration) -> Result<String> {
        match self
            .stdout
            .wait_for(self.cursor, pattern.as_bytes(), timeout)
        {
            Some((start, end)) => {
                let text = self.stdout.text_range(self.cursor, start);
                self.cursor = end;
                Ok(text)
            }
            None => bail!(
                "{pattern:?} did not appear on stdout within {timeout:?} (after byte {})\n{}",
                self.cursor,
                self.describe()
            ),
        }
    }

    /// Stdout after the read cursor, without moving it.
    pub fn pending_output(&self) -> String {
        self.stdout.text_range(self.cursor, usize::MAX)
    }

    /// Waits until `pattern` appears anywhere on stderr.
    pub fn wait_stderr(&self, pattern: &str, timeout: Duration) -> Result<()> {
        if self
            .stderr
            .wait_for(0, pattern.as_bytes(), timeout)
            .is_some()
        {
            return Ok(());
        }
        bail!(
            "{pattern:?} did not appear on stderr within {timeout:?}\n{}",
            self.describe()
        )
    }

    /// Waits for the first monitor prompt; returns what came before it (the banner).
    pub fn wait_prompt(&mut self) -> Result<String> {
        self.wait_for_output(PROMPT, START_TIMEOUT)
    }

    /// Sends one HMP command line and returns its output: the text up to the next prompt,
    /// without an echo of the command line itself (if the monitor echoes it).
    pub fn command(&mut self, cmd: &str) -> Result<String> {
        self.send_line(cmd)?;
        let text = self
            .wait_for_output(PROMPT, COMMAND_TIMEOUT)
            .with_context(|| format!("HMP command {cmd:?} got no prompt back"))?;
        Ok(strip_echo(&text, cmd))
    }

    /// Exit status if the process has ended.
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>> {
        self.child.try_wait().context("checking porthole's status")
    }

    /// Waits for the process to end; kills it and fails after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!(
                    "porthole did not exit within {timeout:?}\n{}",
                    self.describe()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Fails with the captured output if the process has ended.
    pub fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.try_status()? {
            bail!("porthole exited ({status})\n{}", self.describe());
        }
        Ok(())
    }

    /// Waits until this process listens on TCP `port` (read from /proc, so no client
    /// connection is made). Fails early if the process exits.
    pub fn wait_listening(&mut self, port: u16, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.ensure_running()?;
            if procfs::listens_on(self.pid(), port)? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "porthole does not listen on port {port} after {timeout:?}\n{}",
                    self.describe()
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Resident set size in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        procfs::rss_kib(self.pid())
    }
}

impl Drop for Porthole {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes terminal control sequences and a first line that echoes the command line: the
/// same line, a line ending with it (QEMU redraws the line as it goes), or the same words
/// with arguments masked (Porthole shows a password as `****`).
fn strip_echo(text: &str, cmd: &str) -> String {
    let cmd = cmd.trim_end();
    let cmd_words: Vec<&str> = cmd.split_whitespace().collect();
    let (first, rest) = match text.split_once('\n') {
        Some((first, rest)) => (first, Some(rest)),
        None => (text, None),
    };
    let shown = strip_ansi(first);
    let shown = shown.trim_end();
    let words: Vec<&str> = shown.split_whitespace().collect();
    let redrawn = first.contains('\u{1b}') && shown.ends_with(cmd);
    let same_words = words.len() == cmd_words.len() && words.first() == cmd_words.first();
    if redrawn || same_words {
        strip_ansi(rest.unwrap_or_default())
    } else {
        strip_ansi(text)
    }
}

/// A porthole serving VNC on 127.0.0.1:5900+display with an HMP monitor on stdio, plus a
/// private scratch directory.
pub struct Server {
    /// The process.
    pub ph: Porthole,
    /// The VNC display number.
    pub display: u16,
    /// The TCP port (5900 + display).
    pub port: u16,
    /// Private scratch directory (deleted on drop).
    pub dir: TempDir,
    /// The monitor banner printed before the first prompt.
    pub banner: String,
}

impl Server {
    /// Starts `porthole -vnc 127.0.0.1:D<vnc_suffix> -monitor stdio -display none
    /// -nodefaults`, waits for the first prompt and for the port to listen.
    pub fn start(vnc_suffix: &str) -> Result<Server> {
        Self::start_with(vnc_suffix, &[])
    }

    /// Like [`Server::start`] with extra arguments; `{dir}` in an argument is replaced by
    /// the scratch directory.
    pub fn start_with(vnc_suffix: &str, extra: &[&str]) -> Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix("porthole-test-")
            .tempdir()
            .context("creating a scratch directory")?;
        let dir_text = dir.path().to_string_lossy().into_owned();
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let display = pick_display();
            let port = 5900 + display;
            let mut args = vec![
                "-vnc".to_owned(),
                format!("127.0.0.1:{display}{vnc_suffix}"),
                "-monitor".to_owned(),
                "stdio".to_owned(),
                "-display".to_owned(),
                "none".to_owned(),
                "-nodefaults".to_owned(),
            ];
            args.extend(extra.iter().map(|a| a.replace("{dir}", &dir_text)));
            let mut ph = Porthole::spawn(&args)?;
            match ph.wait_listening(port, START_TIMEOUT) {
                Ok(()) => {
                    let banner = ph.wait_prompt()?;
                    return Ok(Server {
                        ph,
                        display,
                        port,
                        dir,
                        banner,
                    });
                }
                Err(e) => {
                    // Another process took the port between the probe and the bind: retry.
                    let _ = ph.wait_exit(Duration::from_secs(2));
                    let stderr = ph.stderr_text().to_lowercase();
                    if stderr.contains("in use") {
                        last_error = Some(e);
                        continue;
                    }
                    return Err(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no start attempt was made")))
    }

    /// The VNC address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// A path inside the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sends an HMP command and returns its output.
    pub fn command(&mut self, cmd: &str) -> Result<String> {
        self.ph.command(cmd)
    }

    /// `change vnc password PW`; fails if the monitor printed anything (an error).
    pub fn set_password(&mut self, password: &str) -> Result<()> {
        let out = self.command(&format!("change vnc password {password}"))?;
        if !out.trim().is_empty() {
            bail!("`change vnc password` printed {out:?}");
        }
        Ok(())
    }

    /// Connects a raw RFB 3.8 client and runs the security handshake with `password`
    /// (VNC auth) or None; returns how it ended. The connection is then dropped.
    pub fn try_auth(&self, password: Option<&str>) -> Result<AuthOutcome> {
        let mut client = RawRfb::connect(self.port)?;
        client.exchange_versions(8)?;
        client.authenticate(password.map(str::as_bytes))
    }

    /// Fails unless a raw client with `password` gets SecurityResult OK and ServerInit.
    pub fn expect_accepted(&self, password: &str) -> Result<()> {
        let mut client = RawRfb::connect(self.port)?;
        client.exchange_versions(8)?;
        match client.authenticate(Some(password.as_bytes()))? {
            AuthOutcome::Accepted => {
                let init = client.init(true)?;
                ensure!(
                    init.width > 0 && init.height > 0,
                    "empty framebuffer in ServerInit: {init:?}"
                );
                Ok(())
            }
            other => bail!("password {password:?} was not accepted: {other:?}"),
        }
    }

    /// Fails unless a raw client with `password` is rejected with a non-empty RFB 3.8
    /// failure reason; returns the reason (NULs trimmed).
    pub fn expect_rejected(&self, password: &str) -> Result<String> {
        match self.try_auth(Some(password))? {
            AuthOutcome::Rejected(reason) => {
                let reason = reason.trim_end_matches('\0').to_owned();
                ensure!(
                    !reason.trim().is_empty(),
                    "rejected without a failure reason"
                );
                Ok(reason)
            }
            other => bail!("password {password:?} was not rejected: {other:?}"),
        }
    }

    /// `screendump FILE -f png` into the scratch directory, decoded.
    pub fn screendump_png(&mut self, name: &str) -> Result<Image> {
        let path = self.path(name);
        self.screendump_to(&path, "png")?;
        Image::read_png(&path)
    }

    /// `screendump FILE -f FORMAT`; fails if the monitor printed anything or no file appeared.
    pub fn screendump_to(&mut self, path: &Path, format: &str) -> Result<()> {
        let out = self.command(&format!("screendump {} -f {format}", path.display()))?;
        if !out.trim().is_empty() {
            bail!("screendump printed {out:?}");
        }
        if !path.is_file() {
            bail!("screendump wrote no file at {}", path.display());
        }
        Ok(())
    }
}

impl std::ops::Deref for Server {
    type Target = Porthole;
    fn deref(&self) -> &Porthole {
        &self.ph
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Porthole {
        &mut self.ph
    }
}

#[cfg(test)]
mod tests {
    use super::strip_echo;

    #[test]
    fn strip_echo_removes_only_an_echoed_command() {
        assert_eq!(
            strip_echo("info status\nVM status: running\n", "info status"),
            "VM status: running\n"
        );
        assert_eq!(
            strip_echo("VM status: running\n", "info status"),
            "VM status: running\n"
        );
        assert_eq!(strip_echo("quit", "quit"), "");
        assert_eq!(
            strip_echo("change vnc password ****\n", "change vnc password s3cret"),
            ""
        );
        assert_eq!(strip_echo("x\u{1b}[Kinfo name\nvm\n", "info name"), "vm\n");
        assert_eq!(
            strip_echo("help [cmd] -- show help\n", "help"),
            "help [cmd] -- show help\n"
        );
    }
}
