//! The schema as entities (QEMU's `scripts/qapi/schema.py`): built-in, enum, array and
//! object types (structs, unions and the implicit types QEMU makes for inline command and
//! event data and union bases), alternates, commands and events, with every type
//! reference resolved and QEMU's semantic checks applied, plus Porthole's: secret and
//! extension pragmas, and what the Rust output needs (no type containing itself by value,
//! no two names mapping to one Rust name).
//!
//! [`build`] is run twice by [`crate::load`]: on the whole schema (so that every part is
//! checked, as QEMU checks parts its configuration leaves out), then on the parts whose
//! `if` conditions hold, which is what the generators see.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::doc::Doc;
use crate::error::{Info, Result};
use crate::expr::{self, Branch, Cond, Data, Def, EnumValue, Feature, Kind, Member, TypeRef};
use crate::names;
use crate::parser::{self, Item, Parsed, Pragma};

/// Index of a type in [`Schema::types`].
pub type TypeId = usize;

/// The JSON type of a type's values (`SchemaInfoBuiltin.json-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonType {
    /// A string.
    String,
    /// A number.
    Number,
    /// An integer.
    Int,
    /// `true`/`false`.
    Boolean,
    /// `null`.
    Null,
    /// An object.
    Object,
    /// An array.
    Array,
    /// Anything.
    Value,
}

impl JsonType {
    /// The name in `SchemaInfoBuiltin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Int => "int",
            Self::Boolean => "boolean",
            Self::Null => "null",
            Self::Object => "object",
            Self::Array => "array",
            Self::Value => "value",
        }
    }
}

/// The built-in types in QEMU's order: name, JSON type.
pub const BUILTINS: &[(&str, JsonType)] = &[
    ("str", JsonType::String),
    ("number", JsonType::Number),
    ("int", JsonType::Int),
    ("int8", JsonType::Int),
    ("int16", JsonType::Int),
    ("int32", JsonType::Int),
    ("int64", JsonType::Int),
    ("uint8", JsonType::Int),
    ("uint16", JsonType::Int),
    ("uint32", JsonType::Int),
    ("uint64", JsonType::Int),
    ("size", JsonType::Int),
    ("bool", JsonType::Boolean),
    ("any", JsonType::Value),
    ("null", JsonType::Null),
];

/// A feature after filtering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feat {
    /// Its name.
    pub name: String,
    /// Its condition (true in a filtered schema).
    pub cond: Option<Cond>,
    /// Its description.
    pub doc: String,
}

/// A member of an object type.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberInfo {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: TypeId,
    /// Whether it may be absent.
    pub optional: bool,
    /// Its features.
    pub features: Vec<Feat>,
    /// Its condition.
    pub cond: Option<Cond>,
    /// The type that defines it (a base type for inherited members).
    pub defined_in: TypeId,
    /// Its description.
    pub doc: String,
    /// Porthole: generated as `Password`.
    pub secret: bool,
    /// Porthole: not in QEMU.
    pub extension: bool,
    /// Where it is defined.
    pub line: u32,
}

/// A value of an enum type.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueInfo {
    /// The value.
    pub name: String,
    /// Its features.
    pub features: Vec<Feat>,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Its description.
    pub doc: String,
    /// Where it is defined.
    pub line: u32,
}

/// A branch of a union or alternate.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantInfo {
    /// The discriminator value, or the alternate branch name.
    pub name: String,
    /// Its type (`q_empty` for union values without a branch).
    pub ty: TypeId,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Whether the schema names it (false for the empty branches QEMU adds).
    pub explicit: bool,
    /// Its description (alternates).
    pub doc: String,
}

/// The variant part of a union.
#[derive(Clone, Debug, PartialEq)]
pub struct Variants {
    /// The discriminator member.
    pub tag: String,
    /// Its enum type.
    pub tag_type: TypeId,
    /// The branches: explicit ones in schema order, then empty ones in enum order.
    pub branches: Vec<VariantInfo>,
}

/// What kind of type.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// `str`, `int`, ...
    Builtin(JsonType),
    /// An enumeration.
    Enum(Vec<ValueInfo>),
    /// An array.
    Array(TypeId),
    /// A struct or union.
    Object {
        /// The base type.
        base: Option<TypeId>,
        /// The members defined here.
        local: Vec<MemberInfo>,
        /// All members: the base's, then the local ones.
        members: Vec<MemberInfo>,
        /// The union part.
        variants: Option<Variants>,
    },
    /// An alternate.
    Alternate(Vec<VariantInfo>),
}

/// Why a type has no definition of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Implicit {
    /// A built-in type or `QType`.
    Builtin,
    /// `q_empty`.
    Empty,
    /// An array type.
    Array,
    /// Inline arguments of this command.
    CommandArg(String),
    /// Inline data of this event.
    EventArg(String),
    /// Inline base of this union.
    UnionBase(String),
}

/// A type.
#[derive(Clone, Debug, PartialEq)]
pub struct Type {
    /// QEMU's name for it (`q_obj_...` for implicit ones, `TList` for arrays).
    pub name: String,
    /// What it is.
    pub kind: TypeKind,
    /// Where it is defined (`None` for built-ins).
    pub info: Option<Info>,
    /// Its documentation.
    pub doc: Option<Doc>,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Its features.
    pub features: Vec<Feat>,
    /// Its module.
    pub module: usize,
    /// `None` for types the schema defines by name.
    pub implicit: Option<Implicit>,
    /// Porthole: not in QEMU.
    pub extension: bool,
}

impl Type {
    /// The JSON type of its values.
    pub fn json_type(&self) -> JsonType {
        match &self.kind {
            TypeKind::Builtin(j) => *j,
            TypeKind::Enum(_) => JsonType::String,
            TypeKind::Array(_) => JsonType::Array,
            TypeKind::Object { .. } => JsonType::Object,
            TypeKind::Alternate(_) => JsonType::Value,
        }
    }

    /// The members, when it is an object type.
    pub fn members(&self) -> &[MemberInfo] {
        match &self.kind {
            TypeKind::Object { members, .. } => members,
            _ => &[],
        }
    }

    /// The union part, when it is a union.
    pub fn variants(&self) -> Option<&Variants> {
        match &self.kind {
            TypeKind::Object { variants, .. } => variants.as_ref(),
            _ => None,
        }
    }

    /// QEMU's `describe()`: `struct type 'X'`, `built-in type 'str'`, ...
    pub fn describe(&self) -> String {
        let meta = match &self.kind {
            TypeKind::Builtin(_) => "built-in",
            TypeKind::Enum(_) => "enum",
            TypeKind::Array(_) => {
                let elem = self.name.strip_suffix("List").unwrap_or(&self.name);
                return format!("array type ['{elem}']");
            }
            TypeKind::Object { variants, .. } => {
                if variants.is_some() {
                    "union"
                } else {
                    "struct"
                }
            }
            TypeKind::Alternate(_) => "alternate",
        };
        format!("{meta} type '{}'", self.name)
    }
}

/// A command.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// Its name.
    pub name: String,
    /// Where it is defined.
    pub info: Info,
    /// Its documentation.
    pub doc: Option<Doc>,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Its features.
    pub features: Vec<Feat>,
    /// Its argument type.
    pub arg: Option<TypeId>,
    /// Its result type.
    pub ret: Option<TypeId>,
    /// Whether the arguments come as one value.
    pub boxed: bool,
    /// Whether code is generated (false: the monitor implements it).
    pub gen_code: bool,
    /// Whether a reply is sent on success.
    pub success_response: bool,
    /// Whether it may run out of band.
    pub allow_oob: bool,
    /// Whether it works before the machine is configured.
    pub allow_preconfig: bool,
    /// Whether QEMU runs it in a coroutine.
    pub coroutine: bool,
    /// Its module.
    pub module: usize,
    /// Porthole: not in QEMU.
    pub extension: bool,
}

/// An event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Its name.
    pub name: String,
    /// Where it is defined.
    pub info: Info,
    /// Its documentation.
    pub doc: Option<Doc>,
    /// Its condition.
    pub cond: Option<Cond>,
    /// Its features.
    pub features: Vec<Feat>,
    /// Its data type.
    pub arg: Option<TypeId>,
    /// Whether the data comes as one value.
    pub boxed: bool,
    /// Its module.
    pub module: usize,
    /// Porthole: not in QEMU.
    pub extension: bool,
}

/// An entity in definition order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    /// A type defined by name.
    Type(TypeId),
    /// A command.
    Command(usize),
    /// An event.
    Event(usize),
    /// A free-form documentation block.
    FreeDoc(usize),
}

/// The checked schema.
#[derive(Clone, Debug)]
pub struct Schema {
    /// Every type, built-ins first.
    pub types: Vec<Type>,
    /// Commands in definition order.
    pub commands: Vec<Command>,
    /// Events in definition order.
    pub events: Vec<Event>,
    /// Free-form documentation blocks.
    pub free_docs: Vec<Doc>,
    /// Modules (schema files) in QEMU's order: the root, then files as first included.
    pub modules: Vec<PathBuf>,
    /// Named entities and free-form docs in definition order, with their module.
    pub order: Vec<(usize, Entity)>,
    /// Every file read.
    pub files: Vec<PathBuf>,
    /// The pragmas.
    pub pragma: Pragma,
    /// `q_empty`.
    pub empty: TypeId,
    names: HashMap<String, Named>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Named {
    Type(TypeId),
    Command(usize),
    Event(usize),
}

impl Schema {
    /// The type called `name`.
    pub fn lookup(&self, name: &str) -> Option<TypeId> {
        match self.names.get(name) {
            Some(Named::Type(t)) => Some(*t),
            _ => None,
        }
    }

    /// The type `id`.
    pub fn ty(&self, id: TypeId) -> &Type {
        &self.types[id]
    }
}

/// Members as defined, before type resolution.
#[derive(Clone, Debug)]
struct RawMember {
    m: Member,
    doc: String,
    secret: bool,
    extension: bool,
}

#[derive(Clone, Debug)]
enum RawKind {
    Builtin(JsonType),
    Enum(Vec<EnumValue>),
    Array(String),
    Struct {
        base: Option<(String, u32)>,
        members: Vec<RawMember>,
    },
    Union {
        base: String,
        base_line: u32,
        discriminator: String,
        branches: Vec<Branch>,
    },
    Alternate(Vec<Branch>),
}

/// A type name and the line it is on.
type NameAt = (String, u32);

struct Builder<'a> {
    schema: Schema,
    raw: Vec<RawKind>,
    /// Raw command data: (arg type name, returns type name).
    raw_cmds: Vec<(Option<NameAt>, Option<NameAt>)>,
    raw_events: Vec<Option<NameAt>>,
    /// Names the `if` conditions removed (filtered pass).
    disabled: &'a HashSet<String>,
    /// Whether this is the filtered pass (pragmas may name removed parts).
    filtered: bool,
    /// Type checking state: 0 not started, 1 in progress, 2 done.
    state: Vec<u8>,
}

/// Builds the schema from checked definitions. `modules` of definitions are given per
/// definition.
fn build_defs(
    parsed: &Parsed,
    defs: Vec<(usize, Def)>,
    free: Vec<(usize, Doc)>,
    order_free: &[(usize, bool)],
    modules: Vec<PathBuf>,
    disabled: &HashSet<String>,
    filtered: bool,
) -> Result<Schema> {
    let mut b = Builder {
        schema: Schema {
            types: Vec::new(),
            commands: Vec::new(),
            events: Vec::new(),
            free_docs: Vec::new(),
            modules,
            order: Vec::new(),
            files: parsed.files.clone(),
            pragma: parsed.pragma.clone(),
            empty: 0,
            names: HashMap::new(),
        },
        raw: Vec::new(),
        raw_cmds: Vec::new(),
        raw_events: Vec::new(),
        disabled,
        filtered,
        state: Vec::new(),
    };
    b.predefined()?;
    let mut defs = defs.into_iter();
    let mut free = free.into_iter();
    for &(_, is_def) in order_free {
        if is_def {
            if let Some((module, def)) = defs.next() {
                b.define(module, def)?;
            }
        } else if let Some((module, doc)) = free.next() {
            let i = b.schema.free_docs.len();
            b.schema.free_docs.push(doc);
            b.schema.order.push((module, Entity::FreeDoc(i)));
        }
    }
    b.mark_pragmas()?;
    b.check()?;
    Ok(b.schema)
}

impl Builder<'_> {
    fn add_type(&mut self, ty: Type, raw: RawKind) -> Result<TypeId> {
        let id = self.schema.types.len();
        self.claim(&ty.name, ty.info.as_ref(), Named::Type(id))?;
        self.schema.types.push(ty);
        self.raw.push(raw);
        self.state.push(0);
        Ok(id)
    }

    fn claim(&mut self, name: &str, info: Option<&Info>, what: Named) -> Result<()> {
        if let Some(prev) = self.schema.names.get(name) {
            let prev_info = match *prev {
                Named::Type(t) => self.schema.types[t].info.clone(),
                Named::Command(c) => Some(self.schema.commands[c].info.clone()),
                Named::Event(e) => Some(self.schema.events[e].info.clone()),
            };
            let here = info.cloned().unwrap_or_else(|| Info {
                file: std::rc::Rc::new(PathBuf::from("<builtin>")),
                line: 0,
            });
            return Err(match prev_info {
                Some(p) => here.error(format!(
                    "'{name}' is already defined (previous definition at {}:{})",
                    p.file.display(),
                    p.line
                )),
                None => here.error(format!("built-in type '{name}' is already defined")),
            });
        }
        self.schema.names.insert(name.to_owned(), what);
        Ok(())
    }

    fn plain_type(name: &str, kind: TypeKind, implicit: Implicit) -> Type {
        Type {
            name: name.to_owned(),
            kind,
            info: None,
            doc: None,
            cond: None,
            features: Vec::new(),
            module: 0,
            implicit: Some(implicit),
            extension: false,
        }
    }

    fn predefined(&mut self) -> Result<()> {
        for &(name, json) in BUILTINS {
            self.add_type(
                Self::plain_type(name, TypeKind::Builtin(json), Implicit::Builtin),
                RawKind::Builtin(json),
            )?;
            self.array_of(name, None, 0)?;
        }
        self.schema.empty = self.add_type(
            Self::plain_type(
                "q_empty",
                TypeKind::Object {
                    base: None,
                    local: Vec::new(),
                    members: Vec::new(),
                    variants: None,
                },
                Implicit::Empty,
            ),
            RawKind::Struct {
                base: None,
                members: Vec::new(),
            },
        )?;
        let qtypes = [
            "none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool",
        ];
        let values: Vec<EnumValue> = qtypes
            .iter()
            .map(|n| EnumValue {
                name: (*n).to_owned(),
                cond: None,
                features: Vec::new(),
                line: 0,
            })
            .collect();
        self.add_type(
            Self::plain_type("QType", TypeKind::Enum(Vec::new()), Implicit::Builtin),
            RawKind::Enum(values),
        )?;
        Ok(())
    }

    /// The array type of `elem` (defined on first use, as QEMU does).
    fn array_of(&mut self, elem: &str, info: Option<&Info>, module: usize) -> Result<String> {
        let name = format!("{elem}List");
        if !self.schema.names.contains_key(&name) {
            let mut t = Self::plain_type(&name, TypeKind::Array(0), Implicit::Array);
            t.info = info.cloned();
            t.module = module;
            self.add_type(t, RawKind::Array(elem.to_owned()))?;
        }
        Ok(name)
    }

    fn type_name(&mut self, r: &TypeRef, info: &Info, module: usize) -> Result<String> {
        if r.array {
            self.array_of(&r.name, Some(info), module)
        } else {
            Ok(r.name.clone())
        }
    }

    fn feats(features: &[Feature], doc: Option<&Doc>) -> Vec<Feat> {
        features
            .iter()
            .map(|f| Feat {
                name: f.name.clone(),
                cond: f.cond.clone(),
                doc: doc
                    .and_then(|d| d.feature(&f.name))
                    .map(|i| i.text.clone())
                    .unwrap_or_default(),
            })
            .collect()
    }

    fn raw_members(
        &mut self,
        members: Vec<Member>,
        doc: Option<&Doc>,
        info: &Info,
        module: usize,
    ) -> Result<Vec<RawMember>> {
        let mut out = Vec::new();
        for mut m in members {
            m.ty.name = self.type_name(&m.ty, &info.at(m.line), module)?;
            m.ty.array = false;
            out.push(RawMember {
                doc: doc
                    .and_then(|d| d.arg(&m.name))
                    .map(|i| i.text.clone())
                    .unwrap_or_default(),
                m,
                secret: false,
                extension: false,
            });
        }
        Ok(out)
    }

    fn implicit_object(
        &mut self,
        name: String,
        members: Vec<Member>,
        def: &Def,
        module: usize,
        implicit: Implicit,
    ) -> Result<Option<String>> {
        if members.is_empty() {
            return Ok(None);
        }
        let raw = self.raw_members(members, def.doc.as_ref(), &def.info, module)?;
        let mut t = Self::plain_type(
            &name,
            TypeKind::Object {
                base: None,
                local: Vec::new(),
                members: Vec::new(),
                variants: None,
            },
            implicit,
        );
        t.info = Some(def.info.clone());
        t.cond = def.cond.clone();
        t.module = module;
        t.doc = def.doc.clone();
        self.add_type(
            t,
            RawKind::Struct {
                base: None,
                members: raw,
            },
        )?;
        Ok(Some(name))
    }

    fn data_name(
        &mut self,
        data: Option<Data>,
        def: &Def,
        module: usize,
        implicit: Implicit,
        role: &str,
    ) -> Result<Option<(String, u32)>> {
        Ok(match data {
            None => None,
            Some(Data::Named(n, line)) => Some((n, line)),
            Some(Data::Members(members)) => self
                .implicit_object(
                    format!("q_obj_{}-{role}", def.name),
                    members,
                    def,
                    module,
                    implicit,
                )?
                .map(|n| (n, def.info.line)),
        })
    }

    fn define(&mut self, module: usize, def: Def) -> Result<()> {
        let features = Self::feats(&def.features, def.doc.as_ref());
        let named_type = |kind: TypeKind, def: &Def| Type {
            name: def.name.clone(),
            kind,
            info: Some(def.info.clone()),
            doc: def.doc.clone(),
            cond: def.cond.clone(),
            features: features.clone(),
            module,
            implicit: None,
            extension: false,
        };
        let entity = match def.kind.clone() {
            Kind::Enum { values } => {
                let t = named_type(TypeKind::Enum(Vec::new()), &def);
                Entity::Type(self.add_type(t, RawKind::Enum(values))?)
            }
            Kind::Struct { base, members } => {
                let raw = self.raw_members(members, def.doc.as_ref(), &def.info, module)?;
                let t = named_type(
                    TypeKind::Object {
                        base: None,
                        local: Vec::new(),
                        members: Vec::new(),
                        variants: None,
                    },
                    &def,
                );
                Entity::Type(self.add_type(t, RawKind::Struct { base, members: raw })?)
            }
            Kind::Union {
                base,
                discriminator,
                mut branches,
            } => {
                let (base, base_line) = match base {
                    Data::Named(n, line) => (n, line),
                    Data::Members(members) => {
                        let name = format!("q_obj_{}-base", def.name);
                        let implicit = Implicit::UnionBase(def.name.clone());
                        let made =
                            self.implicit_object(name.clone(), members, &def, module, implicit)?;
                        (made.unwrap_or(name), def.info.line)
                    }
                };
                for br in &mut branches {
                    br.ty.name = self.type_name(&br.ty, &def.info.at(br.line), module)?;
                    br.ty.array = false;
                }
                let t = named_type(
                    TypeKind::Object {
                        base: None,
                        local: Vec::new(),
                        members: Vec::new(),
                        variants: None,
                    },
                    &def,
                );
                Entity::Type(self.add_type(
                    t,
                    RawKind::Union {
                        base,
                        base_line,
                        discriminator,
                        branches,
                    },
                )?)
            }
            Kind::Alternate { mut branches } => {
                for br in &mut branches {
                    br.ty.name = self.type_name(&br.ty, &def.info.at(br.line), module)?;
                    br.ty.array = false;
                }
                let t = named_type(TypeKind::Alternate(Vec::new()), &def);
                Entity::Type(self.add_type(t, RawKind::Alternate(branches))?)
            }
            Kind::Command {
                data,
                boxed,
                returns,
                gen_code,
                success_response,
                allow_oob,
                allow_preconfig,
                coroutine,
            } => {
                let implicit = Implicit::CommandArg(def.name.clone());
                let arg = self.data_name(data, &def, module, implicit, "arg")?;
                let ret = match returns {
                    Some(r) => Some((self.type_name(&r, &def.info, module)?, def.info.line)),
                    None => None,
                };
                let i = self.schema.commands.len();
                self.claim(&def.name, Some(&def.info), Named::Command(i))?;
                self.schema.commands.push(Command {
                    name: def.name.clone(),
                    info: def.info.clone(),
                    doc: def.doc.clone(),
                    cond: def.cond.clone(),
                    features,
                    arg: None,
                    ret: None,
                    boxed,
                    gen_code,
                    success_response,
                    allow_oob,
                    allow_preconfig,
                    coroutine,
                    module,
                    extension: false,
                });
                self.raw_cmds.push((arg, ret));
                Entity::Command(i)
            }
            Kind::Event { data, boxed } => {
                let implicit = Implicit::EventArg(def.name.clone());
                let arg = self.data_name(data, &def, module, implicit, "arg")?;
                let i = self.schema.events.len();
                self.claim(&def.name, Some(&def.info), Named::Event(i))?;
                self.schema.events.push(Event {
                    name: def.name.clone(),
                    info: def.info.clone(),
                    doc: def.doc.clone(),
                    cond: def.cond.clone(),
                    features,
                    arg: None,
                    boxed,
                    module,
                    extension: false,
                });
                self.raw_events.push(arg);
                Entity::Event(i)
            }
        };
        self.schema.order.push((module, entity));
        Ok(())
    }

    /// The definition `owner` (a type, command, event or union) and the type holding its
    /// inline members.
    fn member_owner(&self, owner: &str) -> Option<TypeId> {
        match self.schema.names.get(owner)? {
            Named::Type(t) => match &self.raw[*t] {
                RawKind::Struct { .. } => Some(*t),
                RawKind::Union { base, .. } => self.schema.lookup(base),
                _ => None,
            },
            Named::Command(_) => self.schema.lookup(&format!("q_obj_{owner}-arg")),
            Named::Event(_) => self.schema.lookup(&format!("q_obj_{owner}-arg")),
        }
    }

    /// Applies the `secret-members` and `extensions` pragmas.
    fn mark_pragmas(&mut self) -> Result<()> {
        let filtered = self.filtered;
        for (entry, info) in self.schema.pragma.secret_members.clone() {
            let Some((owner, member)) = entry.split_once('.') else {
                return Err(info.error(format!(
                    "secret member '{entry}' must be written 'Owner.member'"
                )));
            };
            let found = self
                .member_owner(owner)
                .and_then(|t| match &mut self.raw[t] {
                    RawKind::Struct { members, .. } => {
                        members.iter_mut().find(|m| m.m.name == member)
                    }
                    _ => None,
                });
            match found {
                Some(m) if m.m.ty.name == "str" => m.secret = true,
                Some(_) => {
                    return Err(
                        info.error(format!("secret member '{entry}' must be of type 'str'"))
                    );
                }
                None if filtered => {}
                None => {
                    return Err(info.error(format!("secret member '{entry}' does not exist")));
                }
            }
        }
        for (entry, info) in self.schema.pragma.extensions.clone() {
            if let Some((owner, member)) = entry.split_once('.') {
                let found = self
                    .member_owner(owner)
                    .and_then(|t| match &mut self.raw[t] {
                        RawKind::Struct { members, .. } => {
                            members.iter_mut().find(|m| m.m.name == member)
                        }
                        _ => None,
                    });
                match found {
                    Some(m) => m.extension = true,
                    None if filtered => {}
                    None => {
                        return Err(info.error(format!("extension '{entry}' does not exist")));
                    }
                }
                continue;
            }
            match self.schema.names.get(&entry).copied() {
                Some(Named::Type(t)) => self.schema.types[t].extension = true,
                Some(Named::Command(c)) => self.schema.commands[c].extension = true,
                Some(Named::Event(e)) => self.schema.events[e].extension = true,
                None if filtered => {}
                None => return Err(info.error(format!("extension '{entry}' does not exist"))),
            }
        }
        Ok(())
    }

    /// Where errors about type `t` point.
    fn info_of(&self, t: TypeId) -> Info {
        self.schema.types[t].info.clone().unwrap_or_else(|| Info {
            file: std::rc::Rc::new(PathBuf::from("<builtin>")),
            line: 0,
        })
    }

    /// `member 'x' of struct 'S'`, `parameter 'x' of command 'c'`, ...
    fn describe_member(&self, role: &str, name: &str, owner: TypeId) -> String {
        let t = &self.schema.types[owner];
        match &t.implicit {
            Some(Implicit::CommandArg(c)) => format!("parameter '{name}' of command '{c}'"),
            Some(Implicit::EventArg(e)) => format!("{role} '{name}' of event '{e}'"),
            Some(Implicit::UnionBase(u)) => format!("base {role} '{name}' of union '{u}'"),
            _ => {
                let meta = match &self.raw[owner] {
                    RawKind::Union { .. } => "union",
                    RawKind::Alternate(_) => "alternate",
                    RawKind::Enum(_) => "enum",
                    _ => "struct",
                };
                format!("{role} '{name}' of {meta} '{}'", t.name)
            }
        }
    }

    fn resolve(&self, name: &str, info: &Info, what: &dyn Fn() -> String) -> Result<TypeId> {
        if let Some(t) = self.schema.lookup(name) {
            return Ok(t);
        }
        if self.disabled.contains(name) {
            return Err(info.error(format!(
                "{} uses type '{name}', which its 'if' condition disables",
                what()
            )));
        }
        Err(info.error(format!("{} uses unknown type '{name}'", what())))
    }

    fn check(&mut self) -> Result<()> {
        for t in 0..self.schema.types.len() {
            self.check_type(t)?;
        }
        for c in 0..self.schema.commands.len() {
            self.check_command(c)?;
        }
        for e in 0..self.schema.events.len() {
            self.check_event(e)?;
        }
        // Documentation describes the whole schema; it is checked before filtering.
        if !self.filtered {
            self.check_docs()?;
        }
        self.check_by_value_cycles()?;
        names::check_rust_names(&self.schema)
    }

    fn check_features(&self, feats: &[Feat], info: &Info, is_type: bool) -> Result<()> {
        let mut seen = HashSet::new();
        for f in feats {
            if is_type && (f.name == "deprecated" || f.name == "unstable") {
                return Err(info.error(format!("feature '{}' is not supported for types", f.name)));
            }
            if !seen.insert(expr::c_name(&f.name)) {
                return Err(info.error(format!(
                    "feature '{}' collides with feature '{}'",
                    f.name, f.name
                )));
            }
        }
        Ok(())
    }

    fn check_type(&mut self, t: TypeId) -> Result<()> {
        match self.state[t] {
            2 => return Ok(()),
            1 => {
                let info = self.info_of(t);
                return Err(info.error(format!(
                    "object {} contains itself",
                    self.schema.types[t].name
                )));
            }
            _ => {}
        }
        self.state[t] = 1;
        let info = self.info_of(t);
        let is_named = self.schema.types[t].implicit.is_none();
        self.check_features(&self.schema.types[t].features.clone(), &info, is_named)?;
        let kind = match self.raw[t].clone() {
            RawKind::Builtin(j) => TypeKind::Builtin(j),
            RawKind::Enum(values) => {
                let doc = self.schema.types[t].doc.clone();
                let mut seen: HashMap<String, String> = HashMap::new();
                let mut out = Vec::new();
                for v in values {
                    let at = info.at(v.line);
                    if let Some(prev) = seen.insert(expr::c_name(&v.name), v.name.clone()) {
                        return Err(at.error(format!(
                            "{} collides with value '{prev}'",
                            self.describe_member("value", &v.name, t)
                        )));
                    }
                    let features = Self::feats(&v.features, doc.as_ref());
                    self.check_features(&features, &at, false)?;
                    out.push(ValueInfo {
                        doc: doc
                            .as_ref()
                            .and_then(|d| d.arg(&v.name))
                            .map(|i| i.text.clone())
                            .unwrap_or_default(),
                        name: v.name,
                        features,
                        cond: v.cond,
                        line: v.line,
                    });
                }
                TypeKind::Enum(out)
            }
            RawKind::Array(elem) => {
                let name = self.schema.types[t].name.clone();
                let e = self.resolve(&elem, &info, &|| format!("array type '{name}'"))?;
                if matches!(self.schema.types[e].kind, TypeKind::Array(_)) {
                    return Err(info.error(format!("array type '{name}' cannot nest arrays")));
                }
                TypeKind::Array(e)
            }
            RawKind::Struct { base, members } => self.check_struct(t, base, members)?,
            RawKind::Union {
                base,
                base_line,
                discriminator,
                branches,
            } => self.check_union(t, &base, base_line, &discriminator, branches)?,
            RawKind::Alternate(branches) => self.check_alternate(t, branches)?,
        };
        self.schema.types[t].kind = kind;
        self.state[t] = 2;
        Ok(())
    }

    /// Adds `m` to `seen` unless a member of the same C name is there; `at` is where to
    /// report the collision.
    fn add_member(&self, seen: &mut Vec<MemberInfo>, m: MemberInfo, at: &Info) -> Result<()> {
        let c = expr::c_name(&m.name);
        if let Some(prev) = seen.iter().find(|p| expr::c_name(&p.name) == c) {
            return Err(at.error(format!(
                "{} collides with {}",
                self.describe_member("member", &m.name, m.defined_in),
                self.describe_member("member", &prev.name, prev.defined_in)
            )));
        }
        seen.push(m);
        Ok(())
    }

    fn check_struct(
        &mut self,
        t: TypeId,
        base: Option<(String, u32)>,
        raw_members: Vec<RawMember>,
    ) -> Result<TypeKind> {
        let info = self.info_of(t);
        let mut members: Vec<MemberInfo> = Vec::new();
        let base_id = match base {
            Some((b, line)) => {
                let at = info.at(line);
                let id = self.resolve(&b, &at, &|| "'base'".to_owned())?;
                self.check_type(id)?;
                let bt = &self.schema.types[id];
                if !matches!(&bt.kind, TypeKind::Object { variants: None, .. }) {
                    return Err(at.error(format!(
                        "'base' requires a struct type, {} isn't",
                        bt.describe()
                    )));
                }
                for m in bt.members().to_vec() {
                    self.add_member(&mut members, m, &at)?;
                }
                Some(id)
            }
            None => None,
        };
        let mut local = Vec::new();
        for rm in raw_members {
            let at = info.at(rm.m.line);
            let what = || self.describe_member("member", &rm.m.name, t);
            let ty = self.resolve(&rm.m.ty.name, &at, &what)?;
            let features = Self::feats(&rm.m.features, self.schema.types[t].doc.as_ref());
            self.check_features(&features, &at, false)?;
            let mi = MemberInfo {
                name: rm.m.name.clone(),
                ty,
                optional: rm.m.optional,
                features,
                cond: rm.m.cond.clone(),
                defined_in: t,
                doc: rm.doc.clone(),
                secret: rm.secret,
                extension: rm.extension,
                line: rm.m.line,
            };
            local.push(mi.clone());
            self.add_member(&mut members, mi, &at)?;
        }
        Ok(TypeKind::Object {
            base: base_id,
            local,
            members,
            variants: None,
        })
    }

    fn check_union(
        &mut self,
        t: TypeId,
        base: &str,
        base_line: u32,
        discriminator: &str,
        branches: Vec<Branch>,
    ) -> Result<TypeKind> {
        let info = self.info_of(t);
        let uname = self.schema.types[t].name.clone();
        let at = info.at(base_line);
        let base_id = self.resolve(base, &at, &|| "'base'".to_owned())?;
        self.check_type(base_id)?;
        let bt = self.schema.types[base_id].clone();
        if !matches!(&bt.kind, TypeKind::Object { variants: None, .. }) {
            return Err(at.error(format!(
                "'base' requires a struct type, {} isn't",
                bt.describe()
            )));
        }
        let base_desc = if bt.implicit.is_some() {
            "'base'".to_owned()
        } else {
            format!("base type '{}'", bt.name)
        };
        let members = bt.members().to_vec();
        let Some(tag) = members.iter().find(|m| m.name == discriminator) else {
            return Err(info.error(format!(
                "discriminator '{discriminator}' is not a member of {base_desc}"
            )));
        };
        let tag_type = tag.ty;
        let TypeKind::Enum(values) = self.schema.types[tag_type].kind.clone() else {
            return Err(info.error(format!(
                "discriminator member '{discriminator}' of {base_desc} must be of enum type"
            )));
        };
        if tag.optional {
            return Err(info.error(format!(
                "discriminator member '{discriminator}' of {base_desc} must not be optional"
            )));
        }
        if tag.cond.is_some() {
            return Err(info.error(format!(
                "discriminator member '{discriminator}' of {base_desc} must not be conditional"
            )));
        }
        let mut out = Vec::new();
        for br in branches {
            let at = info.at(br.line);
            let Some(value) = values.iter().find(|v| v.name == br.name) else {
                return Err(at.error(format!(
                    "branch '{}' is not a value of {}",
                    br.name,
                    self.schema.types[tag_type].describe()
                )));
            };
            let _ = value;
            if out.iter().any(|v: &VariantInfo| v.name == br.name) {
                return Err(at.error(format!("branch '{}' is duplicated", br.name)));
            }
            let what = || format!("branch '{}' of union '{uname}'", br.name);
            let ty = self.resolve(&br.ty.name, &at, &what)?;
            self.check_type(ty)?;
            let vt = &self.schema.types[ty];
            match &vt.kind {
                TypeKind::Object { variants: None, .. } => {}
                TypeKind::Object { .. } => {
                    return Err(at.error(format!(
                        "branch '{}' of union '{uname}' cannot use {}: unions inside unions \
                         are not supported by the Rust generator",
                        br.name,
                        vt.describe()
                    )));
                }
                _ => {
                    return Err(at.error(format!(
                        "branch '{}' of union '{uname}' cannot use {}",
                        br.name,
                        vt.describe()
                    )));
                }
            }
            // The branch's members must not collide with the common ones.
            let mut seen = members.clone();
            for m in vt.members().to_vec() {
                self.add_member(&mut seen, m, &at)?;
            }
            out.push(VariantInfo {
                name: br.name,
                ty,
                cond: br.cond,
                explicit: true,
                doc: String::new(),
            });
        }
        for v in &values {
            if !out.iter().any(|b| b.name == v.name) {
                out.push(VariantInfo {
                    name: v.name.clone(),
                    ty: self.schema.empty,
                    cond: v.cond.clone(),
                    explicit: false,
                    doc: String::new(),
                });
            }
        }
        if out.is_empty() {
            return Err(info.error("union has no branches"));
        }
        Ok(TypeKind::Object {
            base: Some(base_id),
            local: Vec::new(),
            members,
            variants: Some(Variants {
                tag: discriminator.to_owned(),
                tag_type,
                branches: out,
            }),
        })
    }

    fn check_alternate(&mut self, t: TypeId, branches: Vec<Branch>) -> Result<TypeKind> {
        let info = self.info_of(t);
        let aname = self.schema.types[t].name.clone();
        let doc = self.schema.types[t].doc.clone();
        let mut out: Vec<VariantInfo> = Vec::new();
        let mut seen_json: Vec<(&'static str, String)> = Vec::new();
        for br in branches {
            let at = info.at(br.line);
            if out
                .iter()
                .any(|v| expr::c_name(&v.name) == expr::c_name(&br.name))
            {
                return Err(at.error(format!(
                    "branch '{}' of alternate '{aname}' collides with another branch",
                    br.name
                )));
            }
            let what = || format!("branch '{}' of alternate '{aname}'", br.name);
            let ty = self.resolve(&br.ty.name, &at, &what)?;
            self.check_type(ty)?;
            let vt = &self.schema.types[ty];
            let qtype = match vt.json_type() {
                JsonType::Null => "null",
                JsonType::String => "string",
                JsonType::Number | JsonType::Int => "number",
                JsonType::Boolean => "boolean",
                JsonType::Array => "array",
                JsonType::Object => "object",
                JsonType::Value => {
                    return Err(at.error(format!("{} cannot use {}", what(), vt.describe())));
                }
            };
            if matches!(
                &vt.kind,
                TypeKind::Object {
                    variants: Some(_),
                    ..
                }
            ) {
                return Err(at.error(format!(
                    "{} cannot use {}: unions inside alternates are not supported by the Rust \
                     generator",
                    what(),
                    vt.describe()
                )));
            }
            let mut conflicting = vec![qtype];
            if qtype == "string" {
                match &vt.kind {
                    TypeKind::Enum(values) => {
                        for v in values {
                            if v.name == "on" || v.name == "off" {
                                conflicting.push("boolean");
                            }
                            if v.name.starts_with(|c: char| "-+0123456789.".contains(c)) {
                                conflicting.push("number");
                            }
                        }
                    }
                    _ => {
                        conflicting.push("number");
                        conflicting.push("boolean");
                    }
                }
            }
            for q in conflicting {
                if let Some((_, other)) = seen_json.iter().find(|(j, _)| *j == q) {
                    return Err(
                        at.error(format!("{} can't be distinguished from '{other}'", what()))
                    );
                }
                seen_json.push((q, br.name.clone()));
            }
            out.push(VariantInfo {
                doc: doc
                    .as_ref()
                    .and_then(|d| d.arg(&br.name))
                    .map(|i| i.text.clone())
                    .unwrap_or_default(),
                name: br.name,
                ty,
                cond: br.cond,
                explicit: true,
            });
        }
        Ok(TypeKind::Alternate(out))
    }

    fn check_command(&mut self, c: usize) -> Result<()> {
        let (arg, ret) = self.raw_cmds[c].clone();
        let cmd = self.schema.commands[c].clone();
        let returns_exc = self
            .schema
            .pragma
            .command_returns_exceptions
            .contains(&cmd.name);
        self.check_features(&cmd.features, &cmd.info, false)?;
        if let Some((name, line)) = arg {
            let at = cmd.info.at(line);
            let id = self.resolve(&name, &at, &|| format!("command '{}'", cmd.name))?;
            let t = &self.schema.types[id];
            match &t.kind {
                TypeKind::Object { variants, .. } => {
                    if variants.is_some() && !cmd.boxed {
                        return Err(at.error(format!(
                            "command's 'data' can take {} only with 'boxed': true",
                            t.describe()
                        )));
                    }
                }
                _ => {
                    return Err(at.error(format!("command's 'data' cannot take {}", t.describe())));
                }
            }
            self.schema.commands[c].arg = Some(id);
        }
        if let Some((name, line)) = ret {
            let at = cmd.info.at(line);
            let id = self.resolve(&name, &at, &|| format!("command '{}'", cmd.name))?;
            let t = &self.schema.types[id];
            let elem = match t.kind {
                TypeKind::Array(e) => &self.schema.types[e],
                _ => t,
            };
            if !matches!(elem.kind, TypeKind::Object { .. }) && !returns_exc {
                return Err(at.error(format!("command's 'returns' cannot take {}", t.describe())));
            }
            self.schema.commands[c].ret = Some(id);
        }
        Ok(())
    }

    fn check_event(&mut self, e: usize) -> Result<()> {
        let ev = self.schema.events[e].clone();
        self.check_features(&ev.features, &ev.info, false)?;
        if let Some((name, line)) = self.raw_events[e].clone() {
            let at = ev.info.at(line);
            let id = self.resolve(&name, &at, &|| format!("event '{}'", ev.name))?;
            let t = &self.schema.types[id];
            match &t.kind {
                TypeKind::Object { variants, .. } => {
                    if variants.is_some() && !ev.boxed {
                        return Err(at.error(format!(
                            "event's 'data' can take {} only with 'boxed': true",
                            t.describe()
                        )));
                    }
                }
                _ => {
                    return Err(at.error(format!("event's 'data' cannot take {}", t.describe())));
                }
            }
            self.schema.events[e].arg = Some(id);
        }
        Ok(())
    }

    /// QEMU's doc checks: documented members exist, members and features are documented.
    fn check_docs(&self) -> Result<()> {
        for &(_, ent) in &self.schema.order {
            let (name, doc, features, members, role): (
                &str,
                Option<&Doc>,
                Vec<&Feat>,
                Vec<String>,
                &str,
            ) = match ent {
                Entity::FreeDoc(_) => continue,
                Entity::Type(t) => {
                    let ty = &self.schema.types[t];
                    let (members, role): (Vec<String>, &str) = match &ty.kind {
                        TypeKind::Enum(v) => (v.iter().map(|v| v.name.clone()).collect(), "value"),
                        TypeKind::Object {
                            local,
                            variants: None,
                            ..
                        } => (local.iter().map(|m| m.name.clone()).collect(), "member"),
                        TypeKind::Object { base: Some(b), .. } => {
                            let bt = &self.schema.types[*b];
                            if bt.implicit.is_some() {
                                (
                                    bt.members().iter().map(|m| m.name.clone()).collect(),
                                    "member",
                                )
                            } else {
                                (Vec::new(), "member")
                            }
                        }
                        TypeKind::Alternate(v) => {
                            (v.iter().map(|v| v.name.clone()).collect(), "branch")
                        }
                        _ => (Vec::new(), "member"),
                    };
                    let mut feats: Vec<&Feat> = ty.features.iter().collect();
                    match &ty.kind {
                        TypeKind::Enum(v) => feats.extend(v.iter().flat_map(|v| &v.features)),
                        TypeKind::Object {
                            local,
                            variants: None,
                            ..
                        } => {
                            feats.extend(local.iter().flat_map(|m| &m.features));
                        }
                        TypeKind::Object { base: Some(b), .. } => {
                            let bt = &self.schema.types[*b];
                            if bt.implicit.is_some() {
                                feats.extend(bt.members().iter().flat_map(|m| &m.features));
                            }
                        }
                        _ => {}
                    }
                    (&ty.name, ty.doc.as_ref(), feats, members, role)
                }
                Entity::Command(c) => {
                    let cmd = &self.schema.commands[c];
                    let mut feats: Vec<&Feat> = cmd.features.iter().collect();
                    let members = self.implicit_members(cmd.arg);
                    if let Some(a) = cmd.arg.filter(|a| self.schema.types[*a].implicit.is_some()) {
                        feats.extend(
                            self.schema.types[a]
                                .members()
                                .iter()
                                .flat_map(|m| &m.features),
                        );
                    }
                    (&cmd.name, cmd.doc.as_ref(), feats, members, "member")
                }
                Entity::Event(e) => {
                    let ev = &self.schema.events[e];
                    let mut feats: Vec<&Feat> = ev.features.iter().collect();
                    let members = self.implicit_members(ev.arg);
                    if let Some(a) = ev.arg.filter(|a| self.schema.types[*a].implicit.is_some()) {
                        feats.extend(
                            self.schema.types[a]
                                .members()
                                .iter()
                                .flat_map(|m| &m.features),
                        );
                    }
                    (&ev.name, ev.doc.as_ref(), feats, members, "member")
                }
            };
            let Some(doc) = doc else { continue };
            let exempt = self
                .schema
                .pragma
                .documentation_exceptions
                .iter()
                .any(|n| n == name);
            let bogus: Vec<&str> = doc
                .args
                .iter()
                .filter(|a| !members.contains(&a.name))
                .map(|a| a.name.as_str())
                .collect();
            if let Some(first) = doc.args.iter().find(|a| !members.contains(&a.name)) {
                let many = bogus.len() > 1;
                return Err(doc.info.at(first.line).error(format!(
                    "documented {role}{} '{}' {} not exist",
                    if many { "s" } else { "" },
                    bogus.join("', '"),
                    if many { "do" } else { "does" }
                )));
            }
            if !exempt && let Some(m) = members.iter().find(|m| doc.arg(m).is_none()) {
                return Err(doc.info.error(format!("{role} '{m}' lacks documentation")));
            }
            for f in &features {
                if doc.feature(&f.name).is_none() {
                    return Err(doc
                        .info
                        .error(format!("feature '{}' lacks documentation", f.name)));
                }
            }
            if let Some(f) = doc
                .features
                .iter()
                .find(|d| !features.iter().any(|f| f.name == d.name))
            {
                return Err(doc
                    .info
                    .at(f.line)
                    .error(format!("documented feature '{}' does not exist", f.name)));
            }
        }
        Ok(())
    }

    fn implicit_members(&self, arg: Option<TypeId>) -> Vec<String> {
        match arg {
            Some(a) if self.schema.types[a].implicit.is_some() => self.schema.types[a]
                .members()
                .iter()
                .map(|m| m.name.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Rust needs indirection for recursive types; arrays give it, nothing else does.
    fn check_by_value_cycles(&self) -> Result<()> {
        fn contained(s: &Schema, t: TypeId) -> Vec<TypeId> {
            match &s.types[t].kind {
                TypeKind::Object {
                    members, variants, ..
                } => members
                    .iter()
                    .map(|m| m.ty)
                    .chain(
                        variants
                            .iter()
                            .flat_map(|v| v.branches.iter().map(|b| b.ty)),
                    )
                    .collect(),
                TypeKind::Alternate(v) => v.iter().map(|b| b.ty).collect(),
                _ => Vec::new(),
            }
        }
        fn visit(
            s: &Schema,
            t: TypeId,
            state: &mut [u8],
            path: &mut Vec<TypeId>,
        ) -> Option<TypeId> {
            match state[t] {
                2 => return None,
                1 => return Some(t),
                _ => {}
            }
            state[t] = 1;
            path.push(t);
            for c in contained(s, t) {
                if let Some(hit) = visit(s, c, state, path) {
                    return Some(hit);
                }
            }
            path.pop();
            state[t] = 2;
            None
        }
        let s = &self.schema;
        let mut state = vec![0u8; s.types.len()];
        for t in 0..s.types.len() {
            let mut path = Vec::new();
            if let Some(hit) = visit(s, t, &mut state, &mut path) {
                let ty = &s.types[hit];
                let info = ty.info.clone().unwrap_or_else(|| self.info_of(hit));
                return Err(info.error(format!(
                    "{} contains itself without an array in between, which Rust cannot \
                     represent",
                    ty.describe()
                )));
            }
        }
        Ok(())
    }
}

/// Removes the parts whose `if` conditions do not hold; records removed definitions in
/// `disabled`.
fn filter_def(
    def: &Def,
    defined: &dyn Fn(&str) -> bool,
    disabled: &mut HashSet<String>,
) -> Option<Def> {
    let on = |c: &Option<Cond>| c.as_ref().is_none_or(|c| c.eval(defined));
    if !on(&def.cond) {
        disabled.insert(def.name.clone());
        if let Kind::Command {
            data: Some(Data::Members(_)),
            ..
        }
        | Kind::Event {
            data: Some(Data::Members(_)),
            ..
        } = def.kind
        {
            disabled.insert(format!("q_obj_{}-arg", def.name));
        }
        return None;
    }
    let feats =
        |f: &[Feature]| -> Vec<Feature> { f.iter().filter(|f| on(&f.cond)).cloned().collect() };
    let members = |m: &[Member]| -> Vec<Member> {
        m.iter()
            .filter(|m| on(&m.cond))
            .map(|m| Member {
                features: feats(&m.features),
                ..m.clone()
            })
            .collect()
    };
    let data = |d: &Data| match d {
        Data::Members(m) => Data::Members(members(m)),
        n @ Data::Named(..) => n.clone(),
    };
    let branches =
        |b: &[Branch]| -> Vec<Branch> { b.iter().filter(|b| on(&b.cond)).cloned().collect() };
    let kind = match &def.kind {
        Kind::Enum { values } => Kind::Enum {
            values: values
                .iter()
                .filter(|v| on(&v.cond))
                .map(|v| EnumValue {
                    features: feats(&v.features),
                    ..v.clone()
                })
                .collect(),
        },
        Kind::Struct { base, members: m } => Kind::Struct {
            base: base.clone(),
            members: members(m),
        },
        Kind::Union {
            base,
            discriminator,
            branches: b,
        } => Kind::Union {
            base: data(base),
            discriminator: discriminator.clone(),
            branches: branches(b),
        },
        Kind::Alternate { branches: b } => Kind::Alternate {
            branches: branches(b),
        },
        Kind::Command {
            data: d,
            boxed,
            returns,
            gen_code,
            success_response,
            allow_oob,
            allow_preconfig,
            coroutine,
        } => Kind::Command {
            data: d.as_ref().map(data),
            boxed: *boxed,
            returns: returns.clone(),
            gen_code: *gen_code,
            success_response: *success_response,
            allow_oob: *allow_oob,
            allow_preconfig: *allow_preconfig,
            coroutine: *coroutine,
        },
        Kind::Event { data: d, boxed } => Kind::Event {
            data: d.as_ref().map(data),
            boxed: *boxed,
        },
    };
    Some(Def {
        kind,
        features: feats(&def.features),
        ..def.clone()
    })
}

/// Checks the parsed schema and builds it; with `defined`, only the parts whose `if`
/// conditions hold are kept (after the whole schema was checked).
pub fn build(parsed: &Parsed, defined: Option<&dyn Fn(&str) -> bool>) -> Result<Schema> {
    let mut modules: Vec<PathBuf> = Vec::new();
    let mut module_ids: HashMap<PathBuf, usize> = HashMap::new();
    if let Some(root) = parsed.files.first() {
        module_ids.insert(parser::normalize(root), 0);
        modules.push(root.clone());
    }
    let mut defs = Vec::new();
    let mut free = Vec::new();
    let mut order = Vec::new();
    let mut disabled = HashSet::new();
    let module_of = |ids: &HashMap<PathBuf, usize>, info: &Info| {
        ids.get(&parser::normalize(&info.file))
            .copied()
            .unwrap_or(0)
    };
    for item in &parsed.items {
        match item {
            Item::Include { path, .. } => {
                let n = parser::normalize(path);
                if let std::collections::hash_map::Entry::Vacant(e) = module_ids.entry(n) {
                    e.insert(modules.len());
                    modules.push(path.clone());
                }
            }
            Item::FreeDoc(d) => {
                free.push((module_of(&module_ids, &d.info), d.clone()));
                order.push((0, false));
            }
            Item::Def(e) => {
                let def = expr::check(e, &parsed.pragma)?;
                let module = module_of(&module_ids, &def.info);
                let def = match defined {
                    Some(f) => match filter_def(&def, f, &mut disabled) {
                        Some(d) => d,
                        None => continue,
                    },
                    None => def,
                };
                defs.push((module, def));
                order.push((0, true));
            }
        }
    }
    build_defs(
        parsed,
        defs,
        free,
        &order,
        modules,
        &disabled,
        defined.is_some(),
    )
}
