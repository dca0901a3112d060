//! The human monitor: QEMU's HMP over [`qapi::Commands`], and the stdio thread
//! that reads it from a terminal or a pipe.
//!
//! # Design
//!
//! - [`hmp`] is pure: a line in, an [`hmp::Outcome`] out (text to print, a
//!   password to prompt for, or quit). Every effect goes through
//!   [`qapi::Commands`], which the binary implements once for HMP and QMP
//!   alike; QMP's `human-monitor-command` calls [`hmp::execute`] with a
//!   non-interactive [`hmp::Context`].
//! - [`stdio`] owns the blocking reads of stdin on its own thread, because the
//!   main loop is single-threaded and never blocks. The thread hands each line
//!   to the loop as a [`stdio::Request`] and waits for exactly one
//!   [`stdio::Reply`]; the loop runs the command on its own thread. A terminal
//!   gets rustyline line editing (in-memory history only, secrets redacted by
//!   [`hmp::history_entry`]) and a `*`-echoing password prompt; a pipe gets
//!   plain buffered line reads with QEMU's transcript (prompt, echoed line).
//! - [`qmp`] is the QMP protocol core, also without I/O: a [`qmp::Session`]
//!   turns bytes into validated requests (QEMU's JSON dialect, capabilities
//!   negotiation, error texts) and replies and events into QEMU's exact
//!   output bytes; the caller owns the sockets and runs the commands.
//! - [`object`] reads the `-object` argument syntax that HMP's `object_add` shares with
//!   the command line.
//! - Passwords travel as [`qapi::Password`] (wiped on drop, redacted `Debug`)
//!   and never reach history, output or logs.
#![forbid(unsafe_code)]

pub mod hmp;
pub mod object;
pub mod qmp;
pub mod stdio;

/// Errors of the monitor front end.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The terminal could not be set up for line editing.
    #[error("cannot set up line editing on the terminal")]
    LineEditor(#[source] rustyline::error::ReadlineError),
    /// A monitor thread could not be started.
    #[error("cannot start the monitor thread")]
    Thread(#[source] std::io::Error),
}
