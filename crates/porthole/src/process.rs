//! Process management: `-daemonize` and `-pidfile`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{ForkResult, fork, pipe, read, setsid, write};

/// The child side of `-daemonize`: tells the waiting parent that start-up succeeded.
pub struct Daemon {
    ready: OwnedFd,
}

/// Forks. The parent waits until the child reports that every listener is ready and exits 0,
/// or exits 1 when the child fails first (the child's error is on the shared stderr).
/// Must be called before any thread is started.
pub fn daemonize() -> Result<Daemon> {
    let (r, w) = pipe().context("cannot create the daemonize pipe")?;
    // SAFETY: called from `main` right after argument parsing, before this process starts any
    // thread (the stdin monitor thread cannot exist with -daemonize), so the child holds no lock
    // another thread owned and may go on running ordinary Rust code.
    match unsafe { fork() }.context("cannot fork")? {
        ForkResult::Parent { .. } => {
            drop(w);
            let mut b = [0u8; 1];
            let ok = matches!(read(&r, &mut b), Ok(1)) && b[0] == 0;
            std::process::exit(if ok { 0 } else { 1 });
        }
        ForkResult::Child => {
            drop(r);
            setsid().context("setsid")?;
            Ok(Daemon { ready: w })
        }
    }
}

impl Daemon {
    /// Start-up succeeded: detach from the terminal and release the parent.
    pub fn ready(self) -> Result<()> {
        std::env::set_current_dir("/").context("chdir /")?;
        let null = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .context("/dev/null")?;
        nix::unistd::dup2_stdin(&null).context("redirecting stdin")?;
        nix::unistd::dup2_stdout(&null).context("redirecting stdout")?;
        nix::unistd::dup2_stderr(&null).context("redirecting stderr")?;
        write(&self.ready, &[0]).context("cannot signal the parent")?;
        Ok(())
    }
}

/// A locked pid file, removed when dropped.
pub struct PidFile {
    path: PathBuf,
    _lock: Flock<File>,
}

impl PidFile {
    /// Creates (or takes over an unlocked stale) pid file and writes our pid.
    pub fn create(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| anyhow!("cannot create PID file: Cannot open pid file: {e}"))?;
        let mut lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
            anyhow!(
                "cannot create PID file: Cannot lock pid file: {}",
                strerror(e)
            )
        })?;
        lock.set_len(0)
            .map_err(|e| anyhow!("cannot create PID file: Failed to write pid file: {e}"))?;
        writeln!(lock, "{}", std::process::id())
            .map_err(|e| anyhow!("cannot create PID file: Failed to write pid file: {e}"))?;
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The C library's text for an errno.
fn strerror(e: nix::errno::Errno) -> String {
    crate::without_os_error_suffix(&std::io::Error::from_raw_os_error(e as i32).to_string())
}
