//! Runtime support for the generated code: input as QEMU's QObject input visitor does it
//! (`qapi/qobject-input-visitor.c`, `qapi/qapi-visit-core.c`), output through serde.
//!
//! Input walks the JSON in schema order and stops at the first problem, with QEMU's
//! texts (all `GenericError`):
//!
//! | problem | text |
//! |---|---|
//! | member absent | `Parameter 'keys[0].type' is missing` |
//! | wrong JSON type | `Invalid parameter type for 'hold-time', expected: integer` |
//! | member the type does not have | `Parameter 'bogus' is unexpected` |
//! | unknown enum value | `Parameter 'type' does not accept value 'x'` |
//! | integer out of range | `Parameter 'to' expects uint16_t` |
//!
//! Names are full paths (`keys[0].type`), except where QEMU uses the bare member name:
//! enum values, range errors and alternates (`null` for array elements). Unexpected
//! members of an object are reported after all its members were read, as QEMU's
//! `check_struct` does; a present member set to `null` is a type error, not an absent one.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::QmpError;

/// A JSON object's members.
pub type Members = serde_json::Map<String, Value>;

/// Where in the input a value is: the chain of member names and array indexes from the
/// arguments object.
#[derive(Clone, Copy, Debug)]
pub struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

#[derive(Clone, Copy, Debug)]
enum Seg<'a> {
    Root,
    Member(&'a str),
    Index(usize),
}

impl Path<'static> {
    /// The arguments object itself.
    pub const ROOT: Self = Path {
        parent: None,
        seg: Seg::Root,
    };
}

impl<'a> Path<'a> {
    /// Member `name` of the object here.
    pub fn member<'b>(&'b self, name: &'b str) -> Path<'b>
    where
        'a: 'b,
    {
        Path {
            parent: Some(self),
            seg: Seg::Member(name),
        }
    }

    /// Element `i` of the array here.
    pub fn index<'b>(&'b self, i: usize) -> Path<'b>
    where
        'a: 'b,
    {
        Path {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    /// QEMU's `full_name()`: `keys[0].type`; `<anonymous>` for the root.
    pub fn full_name(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            segs.push(p.seg);
            cur = p.parent;
        }
        let mut s = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Member(n) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(n);
                }
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        if s.is_empty() {
            "<anonymous>".to_owned()
        } else {
            s
        }
    }

    /// The bare member name QEMU uses in some texts: the last member name, or `null` for
    /// array elements and the root.
    pub fn name(&self) -> &'a str {
        match self.seg {
            Seg::Member(n) => n,
            Seg::Root | Seg::Index(_) => "null",
        }
    }
}

/// A value read from QMP input.
pub trait FromQmp: Sized {
    /// Reads `v`, which sits at `p` in the input.
    fn from_qmp(v: &Value, p: &Path<'_>) -> Result<Self, QmpError>;
}

/// An object type: reads its members from an object and writes them into one, so that a
/// union can add its branch's members to its own (QAPI objects are flat on the wire).
pub trait QmpObject: Sized {
    /// Reads the members from `m` (at `p`) and adds their names to `known`. Members not
    /// in `known` are rejected afterwards by the caller.
    fn visit_members(
        m: &Members,
        p: &Path<'_>,
        known: &mut Vec<&'static str>,
    ) -> Result<Self, QmpError>;

    /// Writes the members present into the map being serialized.
    fn serialize_members<M: SerializeMap>(&self, s: &mut M) -> Result<(), M::Error>;
}

fn type_error(p: &Path<'_>, expected: &str) -> QmpError {
    QmpError::invalid_parameter_type(&p.full_name(), expected)
}

impl FromQmp for String {
    fn from_qmp(v: &Value, p: &Path<'_>) -> Result<Self, QmpError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(type_error(p, "string")),
        }
    }
}

impl FromQmp for bool {
    fn from_qmp(v: &Value, p: &Path<'_>) -> Result<Self, QmpError> {
        v.as_bool().ok_or_else(|| type_error(p, "boolean"))
    }
}

impl FromQmp for i64 {
    /// Integers that fit in 64 signed bits; `1.0` and `2^63` are not integers to QEMU.
    fn from_qmp(v: &Value, p: &Path<'_>) -> Result<Self, QmpError> {
        v.as_i64().ok_or_else(|| type_error(p, "integer"))
    }
}

macro_rules! narrow_int {
    ($t:ty, $wide:ty, $name:literal) => {
        impl FromQmp for $t {
            fn from_qmp(v: &Value, p: &Path<'_>) -> Result<Self, QmpError> {
                let wide = <$wide>::from_qmp(v, p)?;
                <$t>::try_from(wide).map_err(|_| QmpError::invalid_parameter_value(p.name(), $name))
            }
        }
    };
}

narrow_int!(i8, i64, "int8_t");
narrow_int!(i16, i64, "int16_t");
narrow_int!(i32, i64, "int32_t");
narrow_int!(u8, u64, "uint8_t");
narrow_int!(u16, u64, "uint16_t");
narrow_int!(u32, u64, "uint32_t");

impl FromQmp for u64 {
    /// Like QEMU, negative integers are accepted and wrap (for compatibility).
    fn from_qmp(v: &Value, p: &Path<'_>) -> Result<Self, QmpError> {
        v.as_u64()
            .or_else(|| v.as_i64().map(i64::cast_unsigned))
            .ok_or_else(|| QmpError::invalid_parameter_value(&p.full_name(), "uint64"))
    }
}

impl FromQmp for f64 {
    fn from_qmp(v: &Value, p: &Path<'_>) -> Result<Self, QmpError> {
        v.as_f64().ok_or_else(|| type_error(p, "number"))
    }
}

impl FromQmp for Value {
    fn from_qmp(v: &Value, _: &Path<'_>) -> Result<Self, QmpError> {
        Ok(v.clone())
    }
}

impl FromQmp for () {
    fn from_qmp(v: &Value, p: &Path<'_>) -> Result<Self, QmpError> {
        match v {
            Value::Null => Ok(()),
            _ => Err(type_error(p, "null")),
        }
    }
}

impl<T: FromQmp> FromQmp for Vec<T> {
    fn from_qmp(v: &Value, p: &Path<'_>) -> Result<Self, QmpError> {
        let Value::Array(items) = v else {
            return Err(type_error(p, "array"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_qmp(item, &p.index(i)))
            .collect()
    }
}

/// Member `name` of `m`, which must be present.
pub fn required<T: FromQmp>(m: &Members, p: &Path<'_>, name: &str) -> Result<T, QmpError> {
    let at = p.member(name);
    match m.get(name) {
        Some(v) => T::from_qmp(v, &at),
        None => Err(QmpError::missing_parameter(&at.full_name())),
    }
}

/// Member `name` of `m`, if present.
pub fn optional<T: FromQmp>(m: &Members, p: &Path<'_>, name: &str) -> Result<Option<T>, QmpError> {
    m.get(name)
        .map(|v| T::from_qmp(v, &p.member(name)))
        .transpose()
}

/// Fails on the first member of `m` not in `known`.
pub fn check_unexpected(m: &Members, p: &Path<'_>, known: &[&str]) -> Result<(), QmpError> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(QmpError::unexpected_parameter(&p.member(k).full_name())),
        None => Ok(()),
    }
}

fn members<T: QmpObject>(m: &Members, p: &Path<'_>) -> Result<T, QmpError> {
    let mut known = Vec::new();
    let t = T::visit_members(m, p, &mut known)?;
    check_unexpected(m, p, &known)?;
    Ok(t)
}

/// An object-typed value at `p`.
pub fn object<T: QmpObject>(v: &Value, p: &Path<'_>) -> Result<T, QmpError> {
    match v {
        Value::Object(m) => members(m, p),
        _ => Err(type_error(p, "object")),
    }
}

/// A command's arguments.
pub fn arguments<T: QmpObject>(args: &Members) -> Result<T, QmpError> {
    members(args, &Path::ROOT)
}

/// The arguments of a command that takes none: there must be none.
pub fn no_arguments(args: &Members) -> Result<(), QmpError> {
    check_unexpected(args, &Path::ROOT, &[])
}

/// An enum value: a string naming one of the values.
pub fn enum_value<T>(
    v: &Value,
    p: &Path<'_>,
    from_name: fn(&str) -> Option<T>,
) -> Result<T, QmpError> {
    let Value::String(s) = v else {
        return Err(type_error(p, "string"));
    };
    from_name(s).ok_or_else(|| QmpError::invalid_enum_value(p.name(), s))
}

/// The error for a value whose JSON type no branch of alternate `type_name` takes.
pub fn alternate_mismatch(p: &Path<'_>, type_name: &str) -> QmpError {
    QmpError::invalid_parameter_type(p.name(), type_name)
}

/// A command's result as JSON.
pub fn to_return<T: Serialize>(v: &T) -> Result<Value, QmpError> {
    serde_json::to_value(v).map_err(|e| QmpError::generic(e.to_string()))
}

/// Generated data as JSON.
pub fn to_json<T: Serialize>(v: &T) -> Value {
    // Cannot fail: generated types serialize maps with string keys, strings, numbers,
    // booleans and arrays only.
    serde_json::to_value(v).unwrap_or_else(|e| Value::String(format!("<{e}>")))
}

/// The result of commands that return nothing: `{}`.
pub fn empty_return() -> Value {
    Value::Object(Members::new())
}

/// `Serialize` for object types: a map of the members present.
pub fn serialize_object<T: QmpObject, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(None)?;
    v.serialize_members(&mut m)?;
    m.end()
}

/// `Deserialize` for generated types: through JSON and [`FromQmp`], so the rules and
/// texts are the same as for QMP input.
pub fn deserialize<'de, T: FromQmp, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    let v = Value::deserialize(d)?;
    T::from_qmp(&v, &Path::ROOT).map_err(|e| D::Error::custom(e.desc))
}

/// `Deserialize` through [`deserialize`].
macro_rules! deserialize_impl {
    ($t:ident) => {
        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                crate::visit::deserialize(d)
            }
        }
    };
}

/// `Display`, `FromQmp`, `Serialize` and `Deserialize` for a generated enum (which has
/// `as_str` and `from_name`).
macro_rules! enum_impls {
    ($t:ident) => {
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl crate::visit::FromQmp for $t {
            fn from_qmp(
                v: &::serde_json::Value,
                p: &crate::visit::Path<'_>,
            ) -> ::std::result::Result<Self, crate::QmpError> {
                crate::visit::enum_value(v, p, Self::from_name)
            }
        }

        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        crate::visit::deserialize_impl!($t);
    };
}

/// `FromQmp`, `Serialize` and `Deserialize` for a generated object type.
macro_rules! object_impls {
    ($t:ident) => {
        impl crate::visit::FromQmp for $t {
            fn from_qmp(
                v: &::serde_json::Value,
                p: &crate::visit::Path<'_>,
            ) -> ::std::result::Result<Self, crate::QmpError> {
                crate::visit::object(v, p)
            }
        }

        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                crate::visit::serialize_object(self, s)
            }
        }

        crate::visit::deserialize_impl!($t);
    };
}

pub(crate) use {deserialize_impl, enum_impls, object_impls};
