//! Porthole's QAPI generator: QEMU's schema dialect in, Rust, introspection and
//! documentation out.
//!
//! Design note. The pipeline follows QEMU's `scripts/qapi`: [`parser`] reads the files
//! (comments, single-quoted strings, includes relative to the including file, pragmas,
//! doc blocks attached to the next definition), [`expr`] checks each definition's shape,
//! [`schema`] builds the entities and runs the checks that need the whole schema, and
//! the back ends write Rust ([`rust`]), the `query-qmp-schema` answer ([`introspect`])
//! and Markdown ([`markdown`]). A schema mistake is an [`Error`] naming the file and
//! line, which fails the build of the `qapi` crate.
//!
//! `if` conditions are compile-time switches in QEMU; here a [`Config`] lists the ones
//! that hold for Porthole. The whole schema is checked first, conditions or not, then
//! built again without the parts whose conditions fail; the back ends see only that.
//!
//! Rust output differs from QEMU's C where Rust needs it: base members are copied into
//! derived structs, unions are enums, and Porthole's `secret-members` pragma turns
//! string members into `Password`.
#![forbid(unsafe_code)]

pub mod doc;
pub mod error;
pub mod expr;
pub mod introspect;
pub mod json;
pub mod markdown;
pub mod names;
pub mod parser;
pub mod rust;
pub mod schema;

use std::collections::BTreeSet;
use std::path::Path;

pub use error::{Error, Info, Result};
pub use schema::Schema;

/// The `if` conditions that hold for Porthole: it has a VNC server and runs on POSIX
/// systems. Everything else QEMU conditions on (SPICE, Linux-only socket options, MPTCP)
/// is left out.
pub const PORTHOLE_CONDITIONS: &[&str] = &["CONFIG_POSIX", "CONFIG_VNC"];

/// The command line that regenerates the reference documentation.
pub const DOCS_COMMAND: &str =
    "cargo run -p qapi-gen -- docs qapi/qapi-schema.json docs/qmp-reference.md";

/// Which `if` conditions hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    defined: BTreeSet<String>,
}

impl Config {
    /// A configuration where exactly `defined` hold.
    pub fn new<S: Into<String>>(defined: impl IntoIterator<Item = S>) -> Self {
        Self {
            defined: defined.into_iter().map(Into::into).collect(),
        }
    }

    /// Porthole's configuration ([`PORTHOLE_CONDITIONS`]).
    pub fn porthole() -> Self {
        Self::new(PORTHOLE_CONDITIONS.iter().copied())
    }

    /// Whether `symbol` holds.
    pub fn is_defined(&self, symbol: &str) -> bool {
        self.defined.contains(symbol)
    }
}

/// Reads and checks the schema rooted at `path`, and returns the part `config` keeps.
pub fn load(path: &Path, config: &Config) -> Result<Schema> {
    let parsed = parser::parse(path)?;
    schema::build(&parsed, None)?;
    let defined = |s: &str| config.is_defined(s);
    schema::build(&parsed, Some(&defined))
}

/// The `query-qmp-schema` answer as compact JSON.
pub fn schema_json(schema: &Schema) -> String {
    introspect::schema_info(schema, false).compact()
}

/// The Rust source the `qapi` crate includes.
pub fn rust_code(schema: &Schema) -> String {
    rust::generate(schema, &schema_json(schema))
}

/// The Markdown reference.
pub fn docs(schema: &Schema) -> String {
    let mut s = markdown::generate(schema, DOCS_COMMAND);
    s.push('\n');
    s
}

/// Writes `contents` to `path` unless it already holds exactly that (so that unchanged
/// output does not trigger rebuilds).
pub fn write_if_changed(path: &Path, contents: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    std::fs::write(path, contents).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}
