//! Suboption strings: tokenizing, validating against an [`OptsSpec`], and
//! the parsed [`Opts`].

use std::collections::HashSet;
use std::fmt;

use crate::error::{Error, ErrorKind};
use crate::spec::{Kind, OptsSpec};
use crate::values::{ValueError, is_identifier, parse_bool, parse_number, parse_size};

/// Longest option string accepted, in bytes. Linux limits one argv element
/// to 128 KiB (`MAX_ARG_STRLEN`), so no command line is refused; the bound
/// matters for strings from a monitor (`object_add`).
pub const MAX_INPUT_LEN: usize = 128 * 1024;

/// Doubles every comma so that `value` survives as one value (or implied
/// value) in an option string.
#[must_use]
pub fn escape(value: &str) -> String {
    value.replace(',', ",,")
}

/// One element of an option string, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// The unnamed first element, already unescaped.
    Implied(String),
    /// `key=value`, value unescaped.
    Pair(String, String),
    /// A word without `=` (not the first element, or no implied key).
    Bare(String),
}

/// Splits an option string into [`Item`]s, left to right, the way QEMU's
/// `get_opt_name_value` does.
struct Tokens<'a> {
    input: &'a str,
    pos: usize,
    implied_pending: bool,
}

impl<'a> Tokens<'a> {
    fn new(input: &'a str, has_implied: bool) -> Result<Self, Error> {
        if input.len() > MAX_INPUT_LEN {
            return Err(ErrorKind::TooLong { len: input.len() }.into());
        }
        Ok(Self {
            input,
            pos: 0,
            implied_pending: has_implied,
        })
    }

    /// Reads a value from `self.pos` up to a single `,` or the end,
    /// turning each `,,` into `,`. Leaves `pos` after the terminating comma.
    fn read_value(&mut self) -> String {
        let mut value = String::new();
        loop {
            let rest = &self.input[self.pos..];
            match rest.find(',') {
                None => {
                    value.push_str(rest);
                    self.pos = self.input.len();
                    return value;
                }
                Some(i) if rest[i + 1..].starts_with(',') => {
                    value.push_str(&rest[..=i]);
                    self.pos += i + 2;
                }
                Some(i) => {
                    value.push_str(&rest[..i]);
                    self.pos += i + 1;
                    return value;
                }
            }
        }
    }
}

impl Iterator for Tokens<'_> {
    type Item = Result<Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.input.len() {
            return None;
        }
        let rest = &self.input[self.pos..];
        let delim = rest.find(['=', ',']);
        let is_pair = delim.is_some_and(|i| rest.as_bytes()[i] == b'=');
        let first_implied = std::mem::take(&mut self.implied_pending);

        if first_implied && !is_pair {
            let value = self.read_value();
            if value.is_empty() {
                return Some(Err(ErrorKind::EmptyElement.into()));
            }
            return Some(Ok(Item::Implied(value)));
        }
        match delim {
            Some(i) if is_pair => {
                if i == 0 {
                    return Some(Err(ErrorKind::EmptyName.into()));
                }
                let key = rest[..i].to_owned();
                self.pos += i + 1;
                let value = self.read_value();
                Some(Ok(Item::Pair(key, value)))
            }
            _ => {
                let end = delim.unwrap_or(rest.len());
                if end == 0 {
                    return Some(Err(ErrorKind::EmptyElement.into()));
                }
                let word = rest[..end].to_owned();
                // Skip the word and its comma, if any.
                self.pos = (self.pos + end + 1).min(self.input.len());
                Some(Ok(Item::Bare(word)))
            }
        }
    }
}

/// A value's validated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Typed {
    /// From [`parse_any`]: not checked against any spec yet.
    Unchecked,
    Str,
    Bool(bool),
    Number(u64),
}

/// How an entry was written, so that [`Opts::check_keys`] can re-apply the
/// spec's rules to entries from [`parse_any`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Implied,
    Pair,
    /// The bare word as written (`nopassword`).
    Bare(String),
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: String,
    typed: Typed,
    origin: Origin,
}

/// How an entry was written does not matter for equality: `password` and
/// `password=on` parse to equal [`Opts`].
impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value && self.typed == other.typed
    }
}
impl Eq for Entry {}

/// Parsed suboptions: (key, value) pairs in input order.
///
/// For a key that is not repeatable only its last occurrence is kept (at the
/// position of that occurrence). Bare flags are stored as `on`/`off`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Opts {
    entries: Vec<Entry>,
}

/// Splits `word` QEMU's way for a list that accepts any key: `nokey` is
/// `key=off`, anything else `word=on`.
fn resolve_bare_any(word: &str) -> (String, &'static str) {
    match word.strip_prefix("no") {
        Some(rest) if !rest.is_empty() => (rest.to_owned(), "off"),
        _ => (word.to_owned(), "on"),
    }
}

fn is_help_word(word: &str) -> bool {
    word == "help" || word == "?"
}

/// Resolves a bare word against `spec`: `key` is `key=on` and `nokey` is
/// `key=off`, for [`Kind::Bool`] keys only. An exact key name wins over a
/// `no` prefix.
fn resolve_bare(spec: &OptsSpec, word: &str) -> Result<(String, &'static str), Error> {
    if is_help_word(word) {
        return Err(ErrorKind::HelpRequested.into());
    }
    let (key, value, kind) = if let Some(kind) = spec.kind_of(word) {
        (word, "on", kind)
    } else if let Some(rest) = word.strip_prefix("no")
        && let Some(kind) = spec.kind_of(rest)
    {
        (rest, "off", kind)
    } else {
        return Err(invalid(word));
    };
    if kind != Kind::Bool {
        return Err(ErrorKind::RequiresValue {
            key: key.to_owned(),
        }
        .into());
    }
    Ok((key.to_owned(), value))
}

fn invalid(key: &str) -> Error {
    ErrorKind::InvalidParameter {
        key: key.to_owned(),
    }
    .into()
}

/// Checks `value` for `kind`, returning its typed form.
fn check_value(key: &str, kind: Kind, value: &str) -> Result<Typed, Error> {
    let key_owned = || key.to_owned();
    match kind {
        Kind::Str => Ok(Typed::Str),
        Kind::Bool => parse_bool(value)
            .map(Typed::Bool)
            .ok_or_else(|| ErrorKind::ExpectsBool { key: key_owned() }.into()),
        Kind::Number => parse_number(value).map(Typed::Number).map_err(|e| {
            match e {
                ValueError::Invalid => ErrorKind::ExpectsNumber { key: key_owned() },
                ValueError::OutOfRange => ErrorKind::NumberTooLarge {
                    key: key_owned(),
                    value: value.to_owned(),
                },
            }
            .into()
        }),
        Kind::Size => parse_size(value).map(Typed::Number).map_err(|e| {
            match e {
                ValueError::Invalid => ErrorKind::ExpectsSize { key: key_owned() },
                ValueError::OutOfRange => ErrorKind::SizeOutOfRange {
                    key: key_owned(),
                    value: value.to_owned(),
                },
            }
            .into()
        }),
        Kind::Id => {
            if is_identifier(value) {
                Ok(Typed::Str)
            } else {
                Err(ErrorKind::ExpectsIdentifier { key: key_owned() }.into())
            }
        }
    }
}

/// Validates one entry's key and value against `spec`.
fn validate(spec: &OptsSpec, key: String, value: String, origin: Origin) -> Result<Entry, Error> {
    let (key, value) = match &origin {
        Origin::Bare(word) => {
            let (key, value) = resolve_bare(spec, word)?;
            (key, value.to_owned())
        }
        Origin::Implied | Origin::Pair => (key, value),
    };
    let kind = spec.kind_of(&key).ok_or_else(|| invalid(&key))?;
    let typed = check_value(&key, kind, &value)?;
    Ok(Entry {
        key,
        value,
        typed,
        origin,
    })
}

/// Keeps only the last occurrence of each key that is not repeatable.
fn dedup(entries: Vec<Entry>, repeatable: impl Fn(&str) -> bool) -> Vec<Entry> {
    let mut seen = HashSet::new();
    let mut kept: Vec<Entry> = entries
        .into_iter()
        .rev()
        .filter(|e| repeatable(&e.key) || seen.insert(e.key.clone()))
        .collect();
    kept.reverse();
    kept
}

/// Parses `input` (`-vnc`'s argument, say) and validates every element
/// against `spec`, in one pass and in input order, so the first error is
/// the leftmost one.
///
/// Syntax (QEMU's QemuOpts): elements are separated by `,`; `,,` inside a
/// value is a literal comma; the first element may omit `key=` when
/// `spec.implied` is set; a bare `key` is `key=on` and `nokey` is `key=off`
/// for boolean keys; a bare `help` or `?` gives
/// [`ErrorKind::HelpRequested`]. An empty input gives empty [`Opts`]; one
/// trailing comma is ignored, as in QEMU.
///
/// # Errors
///
/// Any [`ErrorKind`] of the suboption family (not the argv ones).
pub fn parse(spec: &OptsSpec, input: &str) -> Result<Opts, Error> {
    let mut entries = Vec::new();
    for item in Tokens::new(input, spec.implied.is_some())? {
        let (key, value, origin) = match item? {
            Item::Implied(value) => {
                let key = spec.implied.unwrap_or_default().to_owned();
                (key, value, Origin::Implied)
            }
            Item::Pair(key, value) => (key, value, Origin::Pair),
            Item::Bare(word) => (String::new(), String::new(), Origin::Bare(word)),
        };
        entries.push(validate(spec, key, value, origin)?);
    }
    Ok(Opts {
        entries: dedup(entries, |k| spec.is_repeatable(k)),
    })
}

/// Parses `input` accepting any key and keeping every occurrence, for
/// options whose keys depend on a value (`-object TYPE,...`). Values are
/// not checked; bare words follow QEMU (`nokey` is `key=off`, any other
/// word `word=on`, including `help`). Validate afterwards with
/// [`Opts::check_keys`].
///
/// # Errors
///
/// Only syntax errors: [`ErrorKind::EmptyName`], [`ErrorKind::EmptyElement`],
/// [`ErrorKind::TooLong`].
pub fn parse_any(input: &str, implied: Option<&str>) -> Result<Opts, Error> {
    let mut entries = Vec::new();
    for item in Tokens::new(input, implied.is_some())? {
        let entry = match item? {
            Item::Implied(value) => Entry {
                key: implied.unwrap_or_default().to_owned(),
                value,
                typed: Typed::Unchecked,
                origin: Origin::Implied,
            },
            Item::Pair(key, value) => Entry {
                key,
                value,
                typed: Typed::Unchecked,
                origin: Origin::Pair,
            },
            Item::Bare(word) => {
                let (key, value) = resolve_bare_any(&word);
                Entry {
                    key,
                    value: value.to_owned(),
                    typed: Typed::Unchecked,
                    origin: Origin::Bare(word),
                }
            }
        };
        entries.push(entry);
    }
    Ok(Opts { entries })
}

impl Opts {
    fn last(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    /// The value of the last occurrence of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.last(key).map(|e| e.value.as_str())
    }

    /// Every value of `key`, in input order (at most one unless the key is
    /// repeatable or the opts come from [`parse_any`]).
    #[must_use]
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.key == key)
            .map(|e| e.value.as_str())
            .collect()
    }

    /// The last value of a [`Kind::Bool`] key. `None` if absent or not a
    /// boolean key; for unchecked opts from [`parse_any`], `None` also when
    /// the value is not a boolean spelling.
    #[must_use]
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        let entry = self.last(key)?;
        match entry.typed {
            Typed::Bool(b) => Some(b),
            Typed::Unchecked => parse_bool(&entry.value),
            Typed::Str | Typed::Number(_) => None,
        }
    }

    /// The last value of a [`Kind::Number`] or [`Kind::Size`] key (a size in
    /// bytes). `None` if absent or not numeric; for unchecked opts from
    /// [`parse_any`], the value is read as a plain number.
    #[must_use]
    pub fn get_number(&self, key: &str) -> Option<u64> {
        let entry = self.last(key)?;
        match entry.typed {
            Typed::Number(n) => Some(n),
            Typed::Unchecked => parse_number(&entry.value).ok(),
            Typed::Str | Typed::Bool(_) => None,
        }
    }

    /// All (key, value) pairs in input order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
    }

    /// Whether `key` occurs at all.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    /// Number of (key, value) pairs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no pairs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Validates these opts (typically from [`parse_any`]) against `spec`
    /// exactly as [`parse`] would have: unknown keys, value kinds, bare
    /// words (re-read from what was written, so `nofoo` can still mean the
    /// boolean key `nofoo`), and last-wins for keys that are not
    /// repeatable. Returns the validated copy.
    ///
    /// # Errors
    ///
    /// The first entry, in input order, that `spec` refuses.
    pub fn check_keys(&self, spec: &OptsSpec) -> Result<Opts, Error> {
        let entries = self
            .entries
            .iter()
            .map(|e| validate(spec, e.key.clone(), e.value.clone(), e.origin.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Opts {
            entries: dedup(entries, |k| spec.is_repeatable(k)),
        })
    }
}

/// Canonical form: `key=value` pairs joined by `,`, commas in values
/// doubled. [`parse_any`] of this string gives back the same pairs.
impl fmt::Display for Opts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{key}={}", escape(value))?;
        }
        Ok(())
    }
}
