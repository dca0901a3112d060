//! Shape checks of each definition on its own (QEMU's `scripts/qapi/expr.py`): the keys a
//! definition may have, naming rules, `if` conditions, features and flags. The result is
//! a typed [`Def`]; checks that need the whole schema live in `schema`.

use crate::doc::Doc;
use crate::error::{Info, Result};
use crate::parser::{Entry, Expr, Node, Pragma, Val};

/// An `if` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// A configuration symbol such as `CONFIG_VNC`.
    Name(String),
    /// `{'all': [...]}`.
    All(Vec<Cond>),
    /// `{'any': [...]}`.
    Any(Vec<Cond>),
    /// `{'not': ...}`.
    Not(Box<Cond>),
}

impl Cond {
    /// Whether the condition holds when exactly the symbols `defined` accepts are set.
    pub fn eval(&self, defined: &dyn Fn(&str) -> bool) -> bool {
        match self {
            Self::Name(n) => defined(n),
            Self::All(v) => v.iter().all(|c| c.eval(defined)),
            Self::Any(v) => v.iter().any(|c| c.eval(defined)),
            Self::Not(c) => !c.eval(defined),
        }
    }

    /// The condition as text, for documentation: `CONFIG_A and not CONFIG_B`.
    pub fn describe(&self) -> String {
        match self {
            Self::Name(n) => n.clone(),
            Self::All(v) => join(v, " and "),
            Self::Any(v) => join(v, " or "),
            Self::Not(c) => format!("not {}", c.describe()),
        }
    }
}

fn join(v: &[Cond], sep: &str) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|c| match c {
            Cond::All(_) | Cond::Any(_) => format!("({})", c.describe()),
            _ => c.describe(),
        })
        .collect();
    parts.join(sep)
}

/// The kind of a definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Meta {
    /// `enum`.
    Enum,
    /// `struct`.
    Struct,
    /// `union`.
    Union,
    /// `alternate`.
    Alternate,
    /// `command`.
    Command,
    /// `event`.
    Event,
}

impl Meta {
    /// The schema keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enum => "enum",
            Self::Struct => "struct",
            Self::Union => "union",
            Self::Alternate => "alternate",
            Self::Command => "command",
            Self::Event => "event",
        }
    }

    const ALL: [Self; 6] = [
        Self::Enum,
        Self::Struct,
        Self::Union,
        Self::Alternate,
        Self::Command,
        Self::Event,
    ];
}

/// A reference to a type: `'Name'` or `['Name']`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeRef {
    /// The type (element type for arrays).
    pub name: String,
    /// Whether this is an array of it.
    pub array: bool,
}

/// A feature of a definition, member or value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    /// Its name.
    pub name: String,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Where it is.
    pub line: u32,
}

/// A member of a struct, of a union's inline base, or of inline command or event data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The name, without the `*`.
    pub name: String,
    /// Whether it was written `'*name'`.
    pub optional: bool,
    /// Its type.
    pub ty: TypeRef,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Its features.
    pub features: Vec<Feature>,
    /// Where it is.
    pub line: u32,
}

/// A value of an enum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumValue {
    /// The value.
    pub name: String,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Its features.
    pub features: Vec<Feature>,
    /// Where it is.
    pub line: u32,
}

/// A branch of a union or an alternate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branch {
    /// The discriminator value (union) or branch name (alternate).
    pub name: String,
    /// Its type.
    pub ty: TypeRef,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Where it is.
    pub line: u32,
}

/// Inline members, or the name of an object type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    /// `{ 'member': 'Type', ... }`.
    Members(Vec<Member>),
    /// `'TypeName'` (and the line it is on).
    Named(String, u32),
}

/// What a definition defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An enumeration.
    Enum {
        /// Its values.
        values: Vec<EnumValue>,
    },
    /// A struct with an optional base struct.
    Struct {
        /// The base struct and the line naming it.
        base: Option<(String, u32)>,
        /// Its own members.
        members: Vec<Member>,
    },
    /// A flat union.
    Union {
        /// The common members.
        base: Data,
        /// The base member that selects the branch.
        discriminator: String,
        /// The branches.
        branches: Vec<Branch>,
    },
    /// An alternate: the branch is chosen by the JSON type of the value.
    Alternate {
        /// The branches.
        branches: Vec<Branch>,
    },
    /// A command.
    Command {
        /// Its arguments.
        data: Option<Data>,
        /// Whether the arguments are passed as one value.
        boxed: bool,
        /// Its result type.
        returns: Option<TypeRef>,
        /// Whether code is generated for it (`gen: false` commands are hand-written).
        gen_code: bool,
        /// Whether a success reply is sent.
        success_response: bool,
        /// Whether it may run out of band.
        allow_oob: bool,
        /// Whether it works before the machine is configured.
        allow_preconfig: bool,
        /// Whether QEMU runs it in a coroutine.
        coroutine: bool,
    },
    /// An event.
    Event {
        /// Its data.
        data: Option<Data>,
        /// Whether the data is passed as one value.
        boxed: bool,
    },
}

/// One definition, checked on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Def {
    /// Its name.
    pub name: String,
    /// What it defines.
    pub kind: Kind,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Its features.
    pub features: Vec<Feature>,
    /// Its documentation.
    pub doc: Option<Doc>,
    /// Where it starts.
    pub info: Info,
}

impl Def {
    /// The kind of definition.
    pub fn meta(&self) -> Meta {
        match self.kind {
            Kind::Enum { .. } => Meta::Enum,
            Kind::Struct { .. } => Meta::Struct,
            Kind::Union { .. } => Meta::Union,
            Kind::Alternate { .. } => Meta::Alternate,
            Kind::Command { .. } => Meta::Command,
            Kind::Event { .. } => Meta::Event,
        }
    }
}

/// `c_name` without protection: non-alphanumerics become `_`.
pub fn c_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `(__RFQDN_)?(x-)?([a-z][a-z0-9_-]*)`, case-insensitive: the stem, or `None` when the
/// name is not valid. Names starting with `q_` are reserved.
fn name_stem(name: &str) -> Option<&str> {
    let mut rest = name;
    if let Some(r) = rest.strip_prefix("__") {
        let end = r.find('_')?;
        let rfqdn = &r[..end];
        if rfqdn.is_empty()
            || !rfqdn
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return None;
        }
        rest = &r[end + 1..];
    }
    if rest.len() > 2 && rest[..2].eq_ignore_ascii_case("x-") {
        rest = &rest[2..];
    }
    let mut bytes = rest.bytes();
    if !bytes.next()?.is_ascii_alphabetic() {
        return None;
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return None;
    }
    if c_name(name).starts_with("q_") {
        return None;
    }
    Some(rest)
}

fn check_name_str<'a>(name: &'a str, info: &Info, source: &str) -> Result<&'a str> {
    name_stem(name).ok_or_else(|| info.error(format!("{source} has an invalid name")))
}

fn check_name_upper(name: &str, info: &Info, source: &str) -> Result<()> {
    let stem = check_name_str(name, info, source)?;
    if stem.bytes().any(|b| b.is_ascii_lowercase() || b == b'-') {
        return Err(info.error(format!("name of {source} must not use lowercase or '-'")));
    }
    Ok(())
}

fn check_name_lower(
    name: &str,
    info: &Info,
    source: &str,
    permit_upper: bool,
    permit_underscore: bool,
) -> Result<()> {
    let stem = check_name_str(name, info, source)?;
    if (!permit_upper && stem.bytes().any(|b| b.is_ascii_uppercase()))
        || (!permit_underscore && stem.contains('_'))
    {
        return Err(info.error(format!("name of {source} must not use uppercase or '_'")));
    }
    Ok(())
}

fn check_name_camel(name: &str, info: &Info, source: &str) -> Result<()> {
    let stem = check_name_str(name, info, source)?;
    let b = stem.as_bytes();
    let ok = b.first().is_some_and(u8::is_ascii_uppercase)
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b[1..].iter().any(u8::is_ascii_lowercase);
    if !ok {
        return Err(info.error(format!("name of {source} must use CamelCase")));
    }
    Ok(())
}

fn check_defn_name(name: &str, info: &Info, meta: Meta, pragma: &Pragma) -> Result<()> {
    match meta {
        Meta::Event => check_name_upper(name, info, meta.as_str()),
        Meta::Command => check_name_lower(
            name,
            info,
            meta.as_str(),
            false,
            pragma.command_name_exceptions.iter().any(|n| n == name),
        ),
        _ => {
            check_name_camel(name, info, meta.as_str())?;
            if name.ends_with("List") {
                return Err(info.error(format!("{} name should not end in 'List'", meta.as_str())));
            }
            Ok(())
        }
    }
}

fn pprint(keys: &[&str]) -> String {
    let mut v: Vec<&str> = keys.to_vec();
    v.sort_unstable();
    v.iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_keys(
    entries: &[Entry],
    info: &Info,
    source: &str,
    required: &[&str],
    optional: &[&str],
) -> Result<()> {
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| !entries.iter().any(|e| e.key == *k))
        .collect();
    if !missing.is_empty() {
        return Err(info.error(format!(
            "{source} misses key{} {}",
            if missing.len() > 1 { "s" } else { "" },
            pprint(&missing)
        )));
    }
    let unknown: Vec<&Entry> = entries
        .iter()
        .filter(|e| !required.contains(&e.key.as_str()) && !optional.contains(&e.key.as_str()))
        .collect();
    if let Some(first) = unknown.first() {
        let names: Vec<&str> = unknown.iter().map(|e| e.key.as_str()).collect();
        let allowed: Vec<&str> = required.iter().chain(optional).copied().collect();
        return Err(info.at(first.line).error(format!(
            "{source} has unknown key{} {}; valid keys are {}",
            if names.len() > 1 { "s" } else { "" },
            pprint(&names),
            pprint(&allowed)
        )));
    }
    Ok(())
}

fn get<'a>(entries: &'a [Entry], key: &str) -> Option<&'a Entry> {
    entries.iter().find(|e| e.key == key)
}

fn check_if(node: Option<&Entry>, info: &Info, source: &str) -> Result<Option<Cond>> {
    fn cond(n: &Node, info: &Info, source: &str) -> Result<Cond> {
        let info = info.at(n.line);
        match &n.val {
            Val::Str(s) => {
                let ok = s.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
                    && s.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if !ok {
                    return Err(info.error(format!(
                        "'if' condition '{s}' of {source} is not a valid identifier"
                    )));
                }
                Ok(Cond::Name(s.clone()))
            }
            Val::Obj(entries) => {
                let what = format!("'if' condition of {source}");
                check_keys(entries, &info, &what, &[], &["all", "any", "not"])?;
                let [e] = entries.as_slice() else {
                    return Err(
                        info.error(format!("'if' condition of {source} has conflicting keys"))
                    );
                };
                if e.key == "not" {
                    return Ok(Cond::Not(Box::new(cond(&e.value, &info, source)?)));
                }
                let Val::List(items) = &e.value.val else {
                    return Err(info.error(format!(
                        "'{}' condition of {source} must be an array",
                        e.key
                    )));
                };
                if items.is_empty() {
                    return Err(info.error(format!("'if' condition [] of {source} is useless")));
                }
                let v = items
                    .iter()
                    .map(|i| cond(i, &info, source))
                    .collect::<Result<Vec<_>>>()?;
                Ok(if e.key == "all" {
                    Cond::All(v)
                } else {
                    Cond::Any(v)
                })
            }
            _ => Err(info.error(format!(
                "'if' condition of {source} must be a string or an object"
            ))),
        }
    }
    node.map(|e| cond(&e.value, info, source)).transpose()
}

fn check_features(node: Option<&Entry>, info: &Info) -> Result<Vec<Feature>> {
    let Some(e) = node else {
        return Ok(Vec::new());
    };
    let Val::List(items) = &e.value.val else {
        return Err(info.at(e.line).error("'features' must be an array"));
    };
    let mut out = Vec::new();
    for item in items {
        let at = info.at(item.line);
        let source = "'features' member";
        let (name, cond) = match &item.val {
            Val::Str(s) => (s.clone(), None),
            Val::Obj(entries) => {
                check_keys(entries, &at, source, &["name"], &["if"])?;
                let Some(name) = get(entries, "name").and_then(|e| e.value.as_str()) else {
                    return Err(at.error(format!("{source} requires a string name")));
                };
                let src = format!("{source} '{name}'");
                (name.to_owned(), check_if(get(entries, "if"), &at, &src)?)
            }
            _ => return Err(at.error(format!("{source} requires a string name"))),
        };
        check_name_lower(&name, &at, &format!("{source} '{name}'"), false, false)?;
        out.push(Feature {
            name,
            cond,
            line: item.line,
        });
    }
    Ok(out)
}

/// A type reference: a name, or a one-element list of a name when arrays are allowed.
fn check_type(node: &Node, info: &Info, source: &str, allow_array: bool) -> Result<TypeRef> {
    let at = info.at(node.line);
    match &node.val {
        Val::Str(s) => Ok(TypeRef {
            name: s.clone(),
            array: false,
        }),
        Val::List(items) => {
            if !allow_array {
                return Err(at.error(format!("{source} cannot be an array")));
            }
            match items.as_slice() {
                [
                    Node {
                        val: Val::Str(s), ..
                    },
                ] => Ok(TypeRef {
                    name: s.clone(),
                    array: true,
                }),
                _ => Err(at.error(format!(
                    "{source}: array type must contain single type name"
                ))),
            }
        }
        _ => Err(at.error(format!("{source} should be a type name"))),
    }
}

/// Inline members (`{ 'name': 'Type' | { 'type': ..., 'if': ..., 'features': ... } }`).
fn check_members(
    entries: &[Entry],
    info: &Info,
    source: &str,
    permissive: bool,
) -> Result<Vec<Member>> {
    let mut out = Vec::new();
    for e in entries {
        let at = info.at(e.line);
        let key_source = format!("{source} member '{}'", e.key);
        let (name, optional) = match e.key.strip_prefix('*') {
            Some(n) => (n, true),
            None => (e.key.as_str(), false),
        };
        check_name_lower(name, &at, &key_source, permissive, permissive)?;
        let c = c_name(name);
        if c == "u" || c.starts_with("has_") {
            return Err(at.error(format!("{key_source} uses reserved name")));
        }
        let (ty, cond, features) = match &e.value.val {
            Val::Obj(def) => {
                check_keys(def, &at, &key_source, &["type"], &["if", "features"])?;
                let ty_node = get(def, "type").map(|e| &e.value);
                let ty = match ty_node {
                    Some(n) => check_type(n, &at, &key_source, true)?,
                    None => return Err(at.error(format!("{key_source} misses key 'type'"))),
                };
                (
                    ty,
                    check_if(get(def, "if"), &at, &key_source)?,
                    check_features(get(def, "features"), &at)?,
                )
            }
            _ => (
                check_type(&e.value, &at, &key_source, true)?,
                None,
                Vec::new(),
            ),
        };
        out.push(Member {
            name: name.to_owned(),
            optional,
            ty,
            cond,
            features,
            line: e.line,
        });
    }
    Ok(out)
}

/// `'data'` of a command or event, or `'base'` of a union: a type name or inline members.
fn check_data(
    e: &Entry,
    info: &Info,
    source: &str,
    allow_dict: bool,
    permissive: bool,
) -> Result<Data> {
    let at = info.at(e.value.line);
    match &e.value.val {
        Val::Str(s) => Ok(Data::Named(s.clone(), e.value.line)),
        Val::List(_) => Err(at.error(format!("{source} cannot be an array"))),
        Val::Obj(entries) if allow_dict => Ok(Data::Members(check_members(
            entries, info, source, permissive,
        )?)),
        _ if allow_dict => Err(at.error(format!("{source} should be an object or type name"))),
        _ => Err(at.error(format!("{source} should be a type name"))),
    }
}

fn branches(
    entries: &[Entry],
    info: &Info,
    allow_array: bool,
    check_names: bool,
) -> Result<Vec<Branch>> {
    let mut out = Vec::new();
    for e in entries {
        let at = info.at(e.line);
        let source = format!("'data' member '{}'", e.key);
        if check_names {
            check_name_lower(&e.key, &at, &source, false, false)?;
        }
        let (ty, cond) = match &e.value.val {
            Val::Obj(def) => {
                check_keys(def, &at, &source, &["type"], &["if"])?;
                let Some(t) = get(def, "type") else {
                    return Err(at.error(format!("{source} misses key 'type'")));
                };
                (
                    check_type(&t.value, &at, &source, allow_array)?,
                    check_if(get(def, "if"), &at, &source)?,
                )
            }
            _ => (check_type(&e.value, &at, &source, allow_array)?, None),
        };
        out.push(Branch {
            name: e.key.clone(),
            ty,
            cond,
            line: e.line,
        });
    }
    Ok(out)
}

fn flag(entries: &[Entry], info: &Info, key: &str, allowed: bool) -> Result<bool> {
    match get(entries, key) {
        None => Ok(!allowed),
        Some(e) if e.value.val == Val::Bool(allowed) => Ok(allowed),
        Some(e) => Err(info.at(e.line).error(format!(
            "flag '{key}' may only use {} value",
            if allowed { "true" } else { "false" }
        ))),
    }
}

/// Checks one top-level definition.
pub fn check(expr: &Expr, pragma: &Pragma) -> Result<Def> {
    let info = &expr.info;
    let entries = expr.node.as_obj().unwrap_or(&[]);
    let metas: Vec<Meta> = Meta::ALL
        .into_iter()
        .filter(|m| get(entries, m.as_str()).is_some())
        .collect();
    let [meta] = metas.as_slice() else {
        return Err(info.error(
            "expression must have exactly one key 'enum', 'struct', 'union', 'alternate', \
             'command', 'event'",
        ));
    };
    let meta = *meta;
    let Some(name) = get(entries, meta.as_str()).and_then(|e| e.value.as_str()) else {
        return Err(info.error(format!("'{}' requires a string name", meta.as_str())));
    };
    check_defn_name(name, info, meta, pragma)?;
    match &expr.doc {
        Some(doc) => {
            if doc.symbol.as_deref() != Some(name) {
                return Err(info.error(format!(
                    "documentation comment is for '{}'",
                    doc.symbol.as_deref().unwrap_or("")
                )));
            }
            if meta != Meta::Command
                && let Some(s) = doc
                    .sections
                    .iter()
                    .find(|s| s.tag.as_deref() == Some("Returns"))
            {
                return Err(doc
                    .info
                    .at(s.line)
                    .error("'Returns' section is only valid for commands"));
            }
        }
        None if pragma.doc_required => {
            return Err(info.error("documentation comment required"));
        }
        None => {}
    }
    let permissive = pragma.member_name_exceptions.iter().any(|n| n == name);
    let m = meta.as_str();
    let kind = match meta {
        Meta::Enum => {
            check_keys(
                entries,
                info,
                m,
                &["enum", "data"],
                &["if", "features", "prefix"],
            )?;
            if let Some(p) = get(entries, "prefix")
                && p.value.as_str().is_none()
            {
                return Err(info.at(p.line).error("'prefix' must be a string"));
            }
            let data = get(entries, "data").map(|e| &e.value);
            let Some(Node {
                val: Val::List(items),
                ..
            }) = data
            else {
                return Err(info.error("'data' must be an array"));
            };
            let mut values = Vec::new();
            for item in items {
                let at = info.at(item.line);
                let source = "'data' member";
                let (vname, cond, features) = match &item.val {
                    Val::Str(s) => (s.clone(), None, Vec::new()),
                    Val::Obj(def) => {
                        check_keys(def, &at, source, &["name"], &["if", "features"])?;
                        let Some(n) = get(def, "name").and_then(|e| e.value.as_str()) else {
                            return Err(at.error(format!("{source} requires a string name")));
                        };
                        let src = format!("{source} '{n}'");
                        (
                            n.to_owned(),
                            check_if(get(def, "if"), &at, &src)?,
                            check_features(get(def, "features"), &at)?,
                        )
                    }
                    _ => return Err(at.error(format!("{source} requires a string name"))),
                };
                let source = format!("{source} '{vname}'");
                // Enum values may start with a digit.
                let checked = if vname.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("d{vname}")
                } else {
                    vname.clone()
                };
                check_name_lower(&checked, &at, &source, permissive, permissive)?;
                values.push(EnumValue {
                    name: vname,
                    cond,
                    features,
                    line: item.line,
                });
            }
            Kind::Enum { values }
        }
        Meta::Struct => {
            check_keys(
                entries,
                info,
                m,
                &["struct", "data"],
                &["base", "if", "features"],
            )?;
            let data = get(entries, "data").map(|e| &e.value);
            let members = match data {
                Some(Node {
                    val: Val::Obj(items),
                    ..
                }) => check_members(items, info, "'data'", permissive)?,
                Some(n) => {
                    return Err(info
                        .at(n.line)
                        .error("'data' should be an object or type name"));
                }
                None => Vec::new(),
            };
            let base = match get(entries, "base") {
                None => None,
                Some(e) => match &e.value.val {
                    Val::Str(s) => Some((s.clone(), e.line)),
                    Val::List(_) => {
                        return Err(info.at(e.line).error("'base' cannot be an array"));
                    }
                    _ => return Err(info.at(e.line).error("'base' should be a type name")),
                },
            };
            Kind::Struct { base, members }
        }
        Meta::Union => {
            check_keys(
                entries,
                info,
                m,
                &["union", "base", "discriminator", "data"],
                &["if", "features"],
            )?;
            let base_e = get(entries, "base").ok_or_else(|| info.error("union misses 'base'"))?;
            let base = check_data(base_e, info, "'base'", true, permissive)?;
            let disc = get(entries, "discriminator")
                .and_then(|e| e.value.as_str())
                .ok_or_else(|| info.error("'discriminator' requires a string name"))?;
            let Some(Val::Obj(items)) = get(entries, "data").map(|e| &e.value.val) else {
                return Err(info.error("'data' must be an object"));
            };
            Kind::Union {
                base,
                discriminator: disc.to_owned(),
                branches: branches(items, info, false, false)?,
            }
        }
        Meta::Alternate => {
            check_keys(
                entries,
                info,
                m,
                &["alternate", "data"],
                &["if", "features"],
            )?;
            let Some(Val::Obj(items)) = get(entries, "data").map(|e| &e.value.val) else {
                return Err(info.error("'data' must be an object"));
            };
            if items.is_empty() {
                return Err(info.error("'data' must not be empty"));
            }
            Kind::Alternate {
                branches: branches(items, info, true, true)?,
            }
        }
        Meta::Command => {
            check_keys(
                entries,
                info,
                m,
                &["command"],
                &[
                    "data",
                    "returns",
                    "boxed",
                    "if",
                    "features",
                    "gen",
                    "success-response",
                    "allow-oob",
                    "allow-preconfig",
                    "coroutine",
                ],
            )?;
            let boxed = flag(entries, info, "boxed", true)?;
            let data = get(entries, "data")
                .map(|e| check_data(e, info, "'data'", !boxed, permissive))
                .transpose()?;
            if boxed && data.is_none() {
                return Err(info.error("'boxed': true requires 'data'"));
            }
            let returns = get(entries, "returns")
                .map(|e| check_type(&e.value, info, "'returns'", true))
                .transpose()?;
            let allow_oob = flag(entries, info, "allow-oob", true)?;
            let coroutine = flag(entries, info, "coroutine", true)?;
            if allow_oob && coroutine {
                return Err(info.error("flags 'allow-oob' and 'coroutine' are incompatible"));
            }
            Kind::Command {
                data,
                boxed,
                returns,
                gen_code: flag(entries, info, "gen", false)?,
                success_response: flag(entries, info, "success-response", false)?,
                allow_oob,
                allow_preconfig: flag(entries, info, "allow-preconfig", true)?,
                coroutine,
            }
        }
        Meta::Event => {
            check_keys(
                entries,
                info,
                m,
                &["event"],
                &["data", "boxed", "if", "features"],
            )?;
            let boxed = flag(entries, info, "boxed", true)?;
            let data = get(entries, "data")
                .map(|e| check_data(e, info, "'data'", !boxed, permissive))
                .transpose()?;
            if boxed && data.is_none() {
                return Err(info.error("'boxed': true requires 'data'"));
            }
            Kind::Event { data, boxed }
        }
    };
    Ok(Def {
        name: name.to_owned(),
        kind,
        cond: check_if(get(entries, "if"), info, m)?,
        features: check_features(get(entries, "features"), info)?,
        doc: expr.doc.clone(),
        info: info.clone(),
    })
}
