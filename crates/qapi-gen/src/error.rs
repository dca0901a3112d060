//! The generator's one error type: a schema mistake at a file and line, or a file that
//! cannot be read or written.

use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Where something is in the schema: a file (as reached through the includes) and a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// The file, as the root path joined with the include paths.
    pub file: Rc<PathBuf>,
    /// The line, counting from 1.
    pub line: u32,
}

impl Info {
    /// The same file at another line.
    pub fn at(&self, line: u32) -> Self {
        Self {
            file: Rc::clone(&self.file),
            line,
        }
    }

    /// A schema error at this place.
    pub fn error(&self, msg: impl Into<String>) -> Error {
        Error::Schema {
            file: self.file.to_path_buf(),
            line: self.line,
            msg: msg.into(),
        }
    }
}

/// What went wrong while generating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mistake in the schema. The build fails with this text.
    #[error("{}:{line}: {msg}", file.display())]
    Schema {
        /// The schema file.
        file: PathBuf,
        /// The line in it.
        line: u32,
        /// What is wrong, in QEMU's wording where QEMU has one.
        msg: String,
    },
    /// The root schema file could not be read.
    #[error("can't read schema file '{}'", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An output file could not be written.
    #[error("can't write '{}'", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The schema file the error is about, if it is a schema error.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::Schema { file, .. } => Some(file),
            Self::Read { .. } | Self::Write { .. } => None,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
