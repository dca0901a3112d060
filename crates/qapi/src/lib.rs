//! The QMP command layer: QEMU-named types, the one [`Commands`] trait, the dispatcher,
//! the events and the introspection data, all generated from the schema in `qapi/`.
//!
//! Design note. `build.rs` runs `qapi-gen` over `qapi/qapi-schema.json` (QEMU's QAPI
//! dialect; the schema is the source of truth) and includes the result here. Every monitor
//! front end turns what it reads into calls on [`Commands`]: QMP through [`dispatch`],
//! which checks arguments as QEMU's QObject input visitor does (same error texts), HMP by
//! calling the methods directly; the binary implements the trait once (QEMU's
//! `ui-hmp-cmds.c` over `ui-qmp-cmds.c`).
//!
//! Type and member names follow QEMU's schema exactly, so the serde forms are the QMP wire
//! forms. Base members are copied into derived structs; flat unions are Rust enums with a
//! variant per discriminator value (common members as fields, the branch's own members in
//! `branch`). Members the schema lists as secret are [`Password`]s. The error type and
//! [`Password`] are written by hand; [`visit`] is the runtime the generated code uses.
//! This crate does no I/O.
#![forbid(unsafe_code)]

mod error;
mod password;
pub mod visit;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/qapi.rs"));
}

#[cfg(test)]
mod test_schema;

pub use error::{ErrorClass, QmpError};
pub use generated::*;
pub use password::Password;

/// A command's registration data (QEMU's `QmpCommand` flags), for `query-commands` and
/// for the QMP server's `exec-oob` and reply decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandDef {
    /// The command's name.
    pub name: &'static str,
    /// Whether it may run out of band (`exec-oob`).
    pub allow_oob: bool,
    /// Whether a reply is sent on success.
    pub success_response: bool,
}
