//! QMP errors: a class and a human-readable description, as QEMU sends them.

use serde::{Deserialize, Serialize};

/// QEMU's error classes (qapi/error.json `QapiErrorClass`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorClass {
    /// Almost every error.
    GenericError,
    /// Unknown command, or a command used before capabilities negotiation.
    CommandNotFound,
    /// A device exists but is not active.
    DeviceNotActive,
    /// A named device does not exist.
    DeviceNotFound,
    /// KVM lacks a capability (never raised by Porthole; kept for schema parity).
    KVMMissingCap,
}

/// An error from a command: the class and QEMU's description text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{desc}")]
pub struct QmpError {
    /// The error class sent as `error.class`.
    pub class: ErrorClass,
    /// The text sent as `error.desc`.
    pub desc: String,
}

impl QmpError {
    /// A `GenericError` with the given text.
    pub fn generic(desc: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::GenericError,
            desc: desc.into(),
        }
    }

    /// QEMU's `QERR_INVALID_PARAMETER_VALUE`: `Parameter 'NAME' expects WHAT`.
    pub fn invalid_parameter_value(name: &str, expects: &str) -> Self {
        Self::generic(format!("Parameter '{name}' expects {expects}"))
    }

    /// QEMU's `Invalid parameter '%s'`.
    pub fn invalid_parameter(name: &str) -> Self {
        Self::generic(format!("Invalid parameter '{name}'"))
    }

    /// QEMU's `QERR_INVALID_PARAMETER_TYPE`:
    /// `Invalid parameter type for 'NAME', expected: TYPE`.
    pub fn invalid_parameter_type(name: &str, expected: &str) -> Self {
        Self::generic(format!(
            "Invalid parameter type for '{name}', expected: {expected}"
        ))
    }

    /// QEMU's `QERR_MISSING_PARAMETER`: `Parameter 'NAME' is missing`.
    pub fn missing_parameter(name: &str) -> Self {
        Self::generic(format!("Parameter '{name}' is missing"))
    }

    /// The input visitor's `Parameter 'NAME' is unexpected`.
    pub fn unexpected_parameter(name: &str) -> Self {
        Self::generic(format!("Parameter '{name}' is unexpected"))
    }

    /// The enum visitor's `Parameter 'NAME' does not accept value 'VALUE'`.
    pub fn invalid_enum_value(name: &str, value: &str) -> Self {
        Self::generic(format!(
            "Parameter '{name}' does not accept value '{value}'"
        ))
    }

    /// `CommandNotFound` with QEMU's text `The command NAME has not been found`.
    pub fn command_not_found(name: &str) -> Self {
        Self {
            class: ErrorClass::CommandNotFound,
            desc: format!("The command {name} has not been found"),
        }
    }
}
