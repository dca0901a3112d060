//! Identity authorization: QEMU's `authz-simple`, `authz-list` and
//! `authz-listfile` objects.
//!
//! Design note: an authorizer answers one question, "may this identity in?"
//! ([`Authorize::is_allowed`]). The identity is whatever the caller
//! authenticated: an x509 distinguished name for `tls-authz`, a user name for
//! `sasl-authz`. Nothing here knows about TLS or VNC.
//!
//! - [`Simple`] allows exactly one identity.
//! - [`List`] walks its rules in order; the first rule whose `match` fits the
//!   identity (exactly, or as a [`glob_match`] pattern) decides, and the list's
//!   default policy ([`Policy::Deny`] unless set) decides when none fits.
//! - [`ListFile`] is a [`List`] read from a JSON file with the shape QEMU uses
//!   (`{"rules":[{"match":…,"policy":…,"format":…}],"policy":…}`, from
//!   `qapi/authz.json`), optionally reloaded when the file changes.
//!
//! The JSON shape is checked strictly, as QEMU's input visitor does: unknown
//! members, missing `match`/`policy` in a rule, wrong types and arrays where an
//! object belongs are all errors. Files are bounded to [`MAX_LIST_FILE_SIZE`].
//!
//! Deliberate difference from QEMU: when a refreshed file turns out bad, QEMU
//! denies everyone until the next good load; [`ListFile`] keeps the last good
//! rules and logs a warning (see [`ListFile::reload_if_changed`]).

#![forbid(unsafe_code)]

mod glob;
mod listfile;

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use glob::glob_match;
pub use listfile::{ListFile, MAX_LIST_FILE_SIZE, RELOAD_CHECK_INTERVAL};

/// Something that decides whether an authenticated identity may connect.
pub trait Authorize {
    /// Whether `identity` is allowed. `&mut self` lets implementations refresh
    /// their state (see [`ListFile`]).
    fn is_allowed(&mut self, identity: &str) -> bool;
}

/// The result a rule (or a list's default) gives. JSON: `"allow"` / `"deny"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Let the identity in.
    Allow,
    /// Keep the identity out (the default).
    #[default]
    Deny,
}

/// How a rule's `match` string is compared. JSON: `"exact"` / `"glob"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchFormat {
    /// String equality (the default).
    #[default]
    Exact,
    /// A [`glob_match`] pattern.
    Glob,
}

/// One rule of an authorization list (QAPI `QAuthZListRule`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Rule {
    /// The identity, or pattern, the rule applies to.
    pub r#match: String,
    /// What happens to an identity the rule applies to.
    pub policy: Policy,
    /// How `match` is compared; [`MatchFormat::Exact`] when absent.
    pub format: MatchFormat,
}

impl Rule {
    /// Whether this rule applies to `identity`.
    #[must_use]
    pub fn matches(&self, identity: &str) -> bool {
        match self.format {
            MatchFormat::Exact => self.r#match == identity,
            MatchFormat::Glob => glob_match(&self.r#match, identity),
        }
    }
}

/// The contents of an authorization list (QAPI `AuthZListProperties`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct ListSpec {
    /// The result when no rule applies; [`Policy::Deny`] when absent.
    pub policy: Policy,
    /// The rules, tried in order; empty when absent.
    pub rules: Vec<Rule>,
}

impl ListSpec {
    /// The decision for `identity`: the policy of the first rule that applies,
    /// else the default policy.
    #[must_use]
    pub fn decide(&self, identity: &str) -> Policy {
        self.rules
            .iter()
            .find(|r| r.matches(identity))
            .map_or(self.policy, |r| r.policy)
    }
}

/// `authz-simple`: allows exactly one identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Simple {
    /// The identity that is allowed (compared exactly).
    pub identity: String,
}

impl Authorize for Simple {
    fn is_allowed(&mut self, identity: &str) -> bool {
        self.identity == identity
    }
}

/// `authz-list`: rules held in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct List {
    /// The rules and the default policy.
    pub spec: ListSpec,
}

impl Authorize for List {
    fn is_allowed(&mut self, identity: &str) -> bool {
        self.spec.decide(identity) == Policy::Allow
    }
}

/// Errors of the authz layer (all from loading list files).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("Unable to read '{}'", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_LIST_FILE_SIZE`].
    #[error("'{}' is larger than the {MAX_LIST_FILE_SIZE}-byte limit for authz list files", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid JSON of the expected shape. The source names the
    /// problem and its position again, as serde_json always does.
    #[error("invalid authz list in '{}' at line {line}, column {column}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// With refresh on, the file name has no directory part (QEMU's rule and text).
    #[error("Filename must be an absolute path")]
    RelativePath {
        /// The file name as given.
        path: PathBuf,
    },
    /// With refresh on, the file name ends in `.` (QEMU's rule and text).
    #[error("Path has no trailing filename component")]
    NoFileName {
        /// The file name as given.
        path: PathBuf,
    },
}

/// Deserializes `T` only from a JSON object (serde's derived struct impls would
/// also take an array), as QEMU's input visitor requires.
struct ObjectOnly<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

/// The members of a [`Rule`], as they are spelled in JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFields {
    r#match: String,
    policy: Policy,
    #[serde(default)]
    format: MatchFormat,
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f: RuleFields = d.deserialize_map(ObjectOnly(PhantomData))?;
        Ok(Rule {
            r#match: f.r#match,
            policy: f.policy,
            format: f.format,
        })
    }
}

/// The members of a [`ListSpec`], as they are spelled in JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListSpecFields {
    #[serde(default)]
    policy: Policy,
    #[serde(default)]
    rules: Vec<Rule>,
}

impl<'de> Deserialize<'de> for ListSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f: ListSpecFields = d.deserialize_map(ObjectOnly(PhantomData))?;
        Ok(ListSpec {
            policy: f.policy,
            rules: f.rules,
        })
    }
}
