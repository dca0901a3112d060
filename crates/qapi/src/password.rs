//! The type of secret string members (the schema's `secret-members` pragma).

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::QmpError;
use crate::visit::{FromQmp, Path};

/// A password or other secret passed through a command. Never printed: `Debug` shows
/// `<redacted>`, and the memory is wiped on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    /// The secret's bytes (for the authentication check only).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Password {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl FromQmp for Password {
    fn from_qmp(v: &serde_json::Value, p: &Path<'_>) -> Result<Self, QmpError> {
        match v {
            serde_json::Value::String(s) => Ok(Self::new(s.as_str())),
            _ => Err(QmpError::invalid_parameter_type(&p.full_name(), "string")),
        }
    }
}

impl<'de> Deserialize<'de> for Password {
    /// Straight into the wiped buffer, without an intermediate copy.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}
