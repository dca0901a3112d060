//! Test support: start the real `porthole` binary and drive it the way users do.
//!
//! Design: every test starts its own `porthole` process ([`Server`]) on its own display
//! number and scratch directory, so tests run in parallel. The process's stdout and stderr
//! are captured by reader threads ([`stream::Captured`]); the HMP monitor on stdio is driven
//! line by line ([`Porthole::command`] returns the text up to the next `(qemu) ` prompt).
//! Readiness is read from /proc (the process owns a listening socket on the port), so no
//! probe connection disturbs the server. Interactive behaviour (password prompts without
//! echo) is checked on a real pseudo-terminal ([`pty`]).
//!
//! Three kinds of VNC clients are used: real ones nobody here wrote ([`clients`]:
//! gvnccapture, vncdotool, TigerVNC), the in-repo `rfbclient` crate for byte-exact checks,
//! and [`raw::RawRfb`], a hand-driven socket client for malformed and malicious input.
//! Images from screendump, gvnccapture and framebuffers are compared as RGB ([`image`]).
//!
//! Everything waits with a deadline; nothing sleeps for a fixed time to "let things settle"
//! except where a test needs a quiet period to prove something did *not* happen.

pub mod clients;
pub mod image;
pub mod process;
pub mod procfs;
pub mod pty;
pub mod raw;
pub mod stream;
pub mod viewer;

pub use clients::{ClientRun, gvnccapture, require_client, tigervnc, vncdo};
pub use image::Image;
pub use process::{COMMAND_TIMEOUT, PROMPT, Porthole, Server, pick_display, porthole_bin};
pub use pty::{PtyChild, spawn_in_pty};
pub use raw::{AuthOutcome, RawRfb};
pub use viewer::Viewer;
