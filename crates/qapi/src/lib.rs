//! The QMP command layer: QEMU-named types and the one [`Commands`] trait.
//!
//! Every monitor front end (HMP on stdio, QMP sockets) turns what it reads into calls
//! on [`Commands`]; the binary implements the trait once. HMP only formats the results
//! (QEMU's `ui-hmp-cmds.c` over `ui-qmp-cmds.c`; Firecracker's `VmmAction`).
//!
//! Type and member names follow QEMU's qapi/ schema exactly, so the serde forms are
//! the QMP wire forms. This crate does no I/O.
#![forbid(unsafe_code)]

mod error;
mod types;

pub use error::{ErrorClass, QmpError};
pub use types::*;

/// One implementation of every monitor command; QMP and HMP both call it.
///
/// Methods take `&mut self` because commands act on the machine. Each returns QEMU's
/// error class and text on failure.
pub trait Commands {
    /// `query-version`.
    fn query_version(&mut self) -> Result<VersionInfo, QmpError>;
    /// `query-status`.
    fn query_status(&mut self) -> Result<StatusInfo, QmpError>;
    /// `query-name`.
    fn query_name(&mut self) -> Result<NameInfo, QmpError>;
    /// `query-vnc`: the first display's first listener, as QEMU.
    fn query_vnc(&mut self) -> Result<VncInfo, QmpError>;
    /// `query-vnc-servers`: every display, every listener.
    fn query_vnc_servers(&mut self) -> Result<Vec<VncInfo2>, QmpError>;
    /// `stop`: pause the guest (the display keeps serving).
    fn stop(&mut self) -> Result<(), QmpError>;
    /// `cont`: resume the guest.
    fn cont(&mut self) -> Result<(), QmpError>;
    /// `system_reset`.
    fn system_reset(&mut self) -> Result<(), QmpError>;
    /// `system_powerdown`.
    fn system_powerdown(&mut self) -> Result<(), QmpError>;
    /// `quit`: shut down after the reply is sent.
    fn quit(&mut self) -> Result<(), QmpError>;
    /// `set_password`.
    fn set_password(&mut self, args: SetPasswordOptions) -> Result<(), QmpError>;
    /// `expire_password`.
    fn expire_password(&mut self, args: ExpirePasswordOptions) -> Result<(), QmpError>;
    /// `change-vnc-password` (first display).
    fn change_vnc_password(&mut self, password: Password) -> Result<(), QmpError>;
    /// `screendump`.
    fn screendump(&mut self, args: ScreendumpArgs) -> Result<(), QmpError>;
}
