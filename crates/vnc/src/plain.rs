//! VeNCrypt Plain (TLSPlain 259 / X509Plain 262): user name and password, checked against
//! a user store on a worker thread.
//!
//! One check costs what the store's hash parameters say (≈ 0.3 s for PBKDF2 with 600,000
//! iterations), far too long for the event loop. The client handler hands the credentials
//! to [`PlainChecker`], whose single worker thread re-reads the store if it changed, checks
//! them and answers through the loop's [`evloop::Remote`]; the handler is told by a
//! notification and meanwhile serves nobody less. At most [`MAX_PENDING_PLAIN_CHECKS`]
//! checks wait; a login beyond that fails at once (a flood of logins costs one core, never
//! memory or the loop).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};

use crypto::userstore::UserStoreFile;
use zeroize::Zeroizing;

/// Most Plain checks queued or running at once; further logins fail with
/// [`BUSY_REASON`].
pub const MAX_PENDING_PLAIN_CHECKS: usize = 8;
/// The reason sent to a client whose check could not be queued.
pub(crate) const BUSY_REASON: &str = "Authentication failed: server busy";

/// The display's Plain setup (`userstore=`).
#[derive(Clone, Debug)]
pub struct PlainSetup {
    /// The `userstore` object's id.
    pub store_id: String,
    /// The store, shared with the worker.
    pub store: Arc<UserStoreFile>,
}

/// Called on the worker thread with the verdict.
pub(crate) type Reply = Box<dyn FnOnce(bool) + Send>;

struct Job {
    store: Arc<UserStoreFile>,
    username: String,
    password: Zeroizing<Vec<u8>>,
    reply: Reply,
}

/// The worker thread and its queue, bounded by a count of the checks queued or running
/// (exact, unlike a channel's capacity, which does not count the job being checked). The
/// thread ends when this is dropped.
pub(crate) struct PlainChecker {
    tx: Sender<Job>,
    pending: Arc<AtomicUsize>,
}

impl PlainChecker {
    /// Starts the worker (after `-daemonize`'s fork: only when a first login arrives).
    pub(crate) fn spawn() -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let pending = Arc::new(AtomicUsize::new(0));
        let done = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("vnc-plain-auth".into())
            .spawn(move || {
                for job in rx {
                    run(job, &done);
                }
            })?;
        Ok(Self { tx, pending })
    }

    /// Queues a check. `Err(reason)` when the queue is full or the worker is gone; the
    /// reply is then never called.
    pub(crate) fn submit(
        &self,
        store: Arc<UserStoreFile>,
        username: String,
        password: Zeroizing<Vec<u8>>,
        reply: Reply,
    ) -> Result<(), &'static str> {
        // Only the loop thread adds; the worker only subtracts.
        if self.pending.load(Ordering::Acquire) >= MAX_PENDING_PLAIN_CHECKS {
            log::warn!(
                "VNC: {MAX_PENDING_PLAIN_CHECKS} Plain logins are being checked already; refusing one"
            );
            return Err(BUSY_REASON);
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        let job = Job {
            store,
            username,
            password,
            reply,
        };
        if self.tx.send(job).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            log::error!("VNC: the Plain login worker is gone");
            return Err("Authentication failed");
        }
        Ok(())
    }
}

fn run(job: Job, pending: &AtomicUsize) {
    let Job {
        store,
        username,
        password,
        reply,
    } = job;
    match store.refresh_if_changed() {
        Ok(warnings) => {
            for w in warnings {
                log::warn!("user store: {w}");
            }
        }
        Err(e) => {
            // The store's errors have at most one cause (the I/O error).
            let cause = std::error::Error::source(&e)
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            log::warn!(
                "user store {}: keeping the previous users: {e}{cause}",
                store.path().display()
            );
        }
    }
    let ok = store.verify(&username, &password);
    drop(password);
    // The slot is free before the verdict goes out.
    pending.fetch_sub(1, Ordering::AcqRel);
    reply(ok);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto::userstore::{HashParams, MIN_PBKDF2_ITERATIONS, make_entry};
    use std::sync::mpsc::channel;
    use std::time::Duration;

    fn store(dir: &std::path::Path, user: &str, pw: &[u8]) -> Arc<UserStoreFile> {
        let p = dir.join("users");
        let line = make_entry(
            user,
            pw,
            HashParams::Pbkdf2Sha256 {
                iterations: MIN_PBKDF2_ITERATIONS,
            },
        )
        .unwrap();
        std::fs::write(&p, format!("{line}\n")).unwrap();
        Arc::new(UserStoreFile::open(&p, true).unwrap().0)
    }

    #[test]
    fn verdicts_come_back_through_the_reply() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), "alice", b"a passphrase of any length at all");
        let checker = PlainChecker::spawn().unwrap();
        let (tx, rx) = channel();
        for (user, pw) in [
            ("alice", &b"a passphrase of any length at all"[..]),
            ("alice", b"wrong"),
            ("bob", b"a passphrase of any length at all"),
        ] {
            let tx = tx.clone();
            checker
                .submit(
                    Arc::clone(&s),
                    user.into(),
                    Zeroizing::new(pw.to_vec()),
                    Box::new(move |ok| tx.send((user, ok)).unwrap()),
                )
                .unwrap();
        }
        let got: Vec<_> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(30)).unwrap())
            .collect();
        assert_eq!(got, vec![("alice", true), ("alice", false), ("bob", false)]);
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), "alice", b"pw");
        let checker = PlainChecker::spawn().unwrap();
        // Hold the worker inside the first job until released.
        let (release_tx, release_rx) = channel::<()>();
        let (started_tx, started_rx) = channel::<()>();
        checker
            .submit(
                Arc::clone(&s),
                "alice".into(),
                Zeroizing::new(b"pw".to_vec()),
                Box::new(move |_| {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                }),
            )
            .unwrap();
        started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let mut accepted = 0;
        let refused = loop {
            match checker.submit(
                Arc::clone(&s),
                "alice".into(),
                Zeroizing::new(b"pw".to_vec()),
                Box::new(|_| {}),
            ) {
                Ok(()) => accepted += 1,
                Err(reason) => break reason,
            }
            assert!(accepted <= MAX_PENDING_PLAIN_CHECKS, "queue is unbounded");
        };
        assert_eq!(refused, BUSY_REASON);
        // The first check is done (its slot is free) and holds the worker in its reply:
        // exactly the documented number wait.
        assert_eq!(accepted, MAX_PENDING_PLAIN_CHECKS);
        release_tx.send(()).unwrap();
    }
}
