//! The crate's one error enum ([`ErrorKind`]) and the [`Error`] that carries
//! it together with an optional command-line location.

use crate::MAX_INPUT_LEN;

/// Hint QEMU prints under a bad size value.
pub const SIZE_HINT: &str = "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.";

/// Hint QEMU prints under a malformed identifier.
pub const ID_HINT: &str =
    "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.";

/// What went wrong. The texts follow QEMU's where QEMU has one.
///
/// Values are echoed only for numbers and sizes (as QEMU does); string values,
/// which may be secrets, never appear in a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A key the spec does not list.
    #[error("Invalid parameter '{key}'")]
    InvalidParameter {
        /// The key as written (for a bare word, the whole word).
        key: String,
    },
    /// A [`Kind::Bool`](crate::Kind::Bool) key with a value other than
    /// on/off/yes/no/true/false/y/n.
    #[error("Parameter '{key}' expects 'on' or 'off'")]
    ExpectsBool {
        /// The key.
        key: String,
    },
    /// A [`Kind::Number`](crate::Kind::Number) key whose value is not an
    /// unsigned integer (decimal, `0x` hex or `0` octal).
    #[error("Parameter '{key}' expects a number")]
    ExpectsNumber {
        /// The key.
        key: String,
    },
    /// A number that does not fit in 64 bits.
    #[error("Value '{value}' is too large for parameter '{key}'")]
    NumberTooLarge {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
    },
    /// A [`Kind::Size`](crate::Kind::Size) key whose value is not a size.
    /// [`Error::hint`] gives QEMU's suffix explanation.
    #[error("Parameter '{key}' expects a non-negative number below 2^64")]
    ExpectsSize {
        /// The key.
        key: String,
    },
    /// A size that is negative or does not fit in 64 bits.
    #[error("Value '{value}' is out of range for parameter '{key}'")]
    SizeOutOfRange {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
    },
    /// A [`Kind::Id`](crate::Kind::Id) key whose value is not an identifier.
    /// [`Error::hint`] gives QEMU's explanation.
    #[error("Parameter '{key}' expects an identifier")]
    ExpectsIdentifier {
        /// The key.
        key: String,
    },
    /// A key that is not a boolean was given without `=value`
    /// (`key` or `nokey`).
    #[error("Parameter '{key}' requires a value")]
    RequiresValue {
        /// The key (without a `no` prefix).
        key: String,
    },
    /// An element of the form `=value`.
    #[error("Parameter name missing before '='")]
    EmptyName,
    /// An empty element: a leading `,` or a doubled `,,` right after a
    /// bare flag (`,,` is an escape only inside values).
    #[error("Empty parameter (stray ',')")]
    EmptyElement,
    /// A bare `help` or `?`: the caller should print
    /// [`OptsSpec::help_text`](crate::OptsSpec::help_text) and exit 0.
    #[error("help requested")]
    HelpRequested,
    /// The option string is longer than [`MAX_INPUT_LEN`].
    #[error("Option string is {len} bytes long, the limit is {MAX_INPUT_LEN}")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
    },
    /// An argv element that names no known option.
    #[error("{option}: invalid option")]
    InvalidOption {
        /// The element as given (`-foo` or `--foo`).
        option: String,
    },
    /// An option that takes an argument came last.
    #[error("{option}: requires an argument")]
    RequiresArgument {
        /// The option as given.
        option: String,
    },
    /// An argv element that does not start with `-` (QEMU would take it for
    /// a disk image; we have no disks).
    #[error("'{arg}': unexpected argument")]
    UnexpectedArgument {
        /// The element.
        arg: String,
    },
}

/// An [`ErrorKind`], optionally located on the command line by
/// [`Error::with_option`].
///
/// Display is `"{kind}"`, or `"-vnc :1,foo=bar: {kind}"` once located. The
/// program name is never included: the binary prints `porthole: {error}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}{kind}")]
pub struct Error {
    /// Empty, or `"-option argument: "`.
    location: String,
    kind: ErrorKind,
}

impl Error {
    /// What went wrong, without the location.
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Locates the error at `-option input` on the command line, as QEMU
    /// does: `err.with_option("vnc", ":1,foo=bar")` displays as
    /// `-vnc :1,foo=bar: Invalid parameter 'foo'`. A leading `-` on `option`
    /// is kept, not doubled. A later call replaces an earlier location.
    #[must_use]
    pub fn with_option(mut self, option: &str, input: &str) -> Self {
        let dash = if option.starts_with('-') { "" } else { "-" };
        self.location = format!("{dash}{option} {input}: ");
        self
    }

    /// True for [`ErrorKind::HelpRequested`].
    #[must_use]
    pub fn is_help_request(&self) -> bool {
        matches!(self.kind, ErrorKind::HelpRequested)
    }

    /// The extra line(s) QEMU prints after this error, if any (without a
    /// trailing newline).
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        match self.kind {
            ErrorKind::ExpectsSize { .. } => Some(SIZE_HINT),
            ErrorKind::ExpectsIdentifier { .. } => Some(ID_HINT),
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self {
            location: String::new(),
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_is_content_not_a_source() {
        let e = Error::from(ErrorKind::InvalidParameter { key: "foo".into() })
            .with_option("-vnc", ":1,foo=1");
        assert_eq!(e.to_string(), "-vnc :1,foo=1: Invalid parameter 'foo'");
        // The kind's text is already in Display: it must not come back as a cause.
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn hints_only_where_qemu_prints_them() {
        assert_eq!(
            Error::from(ErrorKind::ExpectsSize { key: "m".into() }).hint(),
            Some(SIZE_HINT)
        );
        assert_eq!(
            Error::from(ErrorKind::ExpectsIdentifier { key: "id".into() }).hint(),
            Some(ID_HINT)
        );
        assert_eq!(Error::from(ErrorKind::EmptyName).hint(), None);
    }
}
