//! The `query-qmp-schema` answer, built as QEMU's `scripts/qapi/introspect.py` builds it:
//! commands and events first (modules in order, definitions in order within a module),
//! then every type they reach, in the order first reached. Type names other than
//! built-ins are masked to numbers in the order they are first used; array types are
//! named `[element]`; every integer type is shown as `int`. Object keys are sorted.

use std::collections::HashMap;

use crate::json::Json;
use crate::schema::{Entity, Feat, JsonType, Schema, TypeId, TypeKind};

struct Gen<'a> {
    s: &'a Schema,
    unmask: bool,
    trees: Vec<Json>,
    used: Vec<TypeId>,
    names: HashMap<String, String>,
}

/// The SchemaInfo list; with `unmask`, type names stay readable (QEMU's `-u`).
pub fn schema_info(s: &Schema, unmask: bool) -> Json {
    let mut g = Gen {
        s,
        unmask,
        trees: Vec::new(),
        used: Vec::new(),
        names: HashMap::new(),
    };
    for module in 0..s.modules.len() {
        for &(m, ent) in &s.order {
            if m != module {
                continue;
            }
            match ent {
                Entity::Command(c) => g.command(c),
                Entity::Event(e) => g.event(e),
                Entity::Type(_) | Entity::FreeDoc(_) => {}
            }
        }
    }
    let mut i = 0;
    while let Some(&t) = g.used.get(i) {
        g.visit_type(t);
        i += 1;
    }
    Json::Arr(g.trees)
}

fn features(f: &[Feat]) -> Option<Json> {
    (!f.is_empty()).then(|| Json::Arr(f.iter().map(|f| Json::str(&f.name)).collect()))
}

impl Gen<'_> {
    fn name(&mut self, name: &str) -> String {
        if self.unmask {
            return name.to_owned();
        }
        let next = self.names.len().to_string();
        self.names.entry(name.to_owned()).or_insert(next).clone()
    }

    fn use_type(&mut self, mut t: TypeId) -> String {
        let s = self.s;
        let ty = s.ty(t);
        if ty.json_type() == JsonType::Int {
            t = s.lookup("int").unwrap_or(t);
        } else if let TypeKind::Array(e) = ty.kind
            && s.ty(e).json_type() == JsonType::Int
        {
            t = s.lookup("intList").unwrap_or(t);
        }
        if !self.used.contains(&t) {
            self.used.push(t);
        }
        let ty = s.ty(t);
        match ty.kind {
            TypeKind::Builtin(_) => ty.name.clone(),
            TypeKind::Array(e) => format!("[{}]", self.use_type(e)),
            _ => self.name(&ty.name),
        }
    }

    fn tree(&mut self, name: String, meta: &str, mut obj: Json, feats: &[Feat]) {
        let name = if matches!(meta, "command" | "event" | "builtin" | "array") {
            name
        } else {
            self.name(&name)
        };
        obj.insert("name", Json::Str(name));
        obj.insert("meta-type", Json::str(meta));
        if let Some(f) = features(feats) {
            obj.insert("features", f);
        }
        self.trees.push(obj);
    }

    fn command(&mut self, c: usize) {
        let cmd = &self.s.commands[c];
        let arg = self.use_type(cmd.arg.unwrap_or(self.s.empty));
        let ret = self.use_type(cmd.ret.unwrap_or(self.s.empty));
        let mut obj = Json::obj([("arg-type", Json::Str(arg)), ("ret-type", Json::Str(ret))]);
        if cmd.allow_oob {
            obj.insert("allow-oob", Json::Bool(true));
        }
        self.tree(cmd.name.clone(), "command", obj, &cmd.features);
    }

    fn event(&mut self, e: usize) {
        let ev = &self.s.events[e];
        let arg = self.use_type(ev.arg.unwrap_or(self.s.empty));
        self.tree(
            ev.name.clone(),
            "event",
            Json::obj([("arg-type", Json::Str(arg))]),
            &ev.features,
        );
    }

    fn visit_type(&mut self, t: TypeId) {
        let ty = self.s.ty(t);
        match &ty.kind {
            TypeKind::Builtin(j) => {
                let obj = Json::obj([("json-type", Json::str(j.as_str()))]);
                self.tree(ty.name.clone(), "builtin", obj, &[]);
            }
            TypeKind::Enum(values) => {
                let members = values
                    .iter()
                    .map(|v| {
                        let mut m = Json::obj([("name", Json::str(&v.name))]);
                        if let Some(f) = features(&v.features) {
                            m.insert("features", f);
                        }
                        m
                    })
                    .collect();
                let names = values.iter().map(|v| Json::str(&v.name)).collect();
                let obj = Json::obj([
                    ("members", Json::Arr(members)),
                    ("values", Json::Arr(names)),
                ]);
                self.tree(ty.name.clone(), "enum", obj, &ty.features);
            }
            TypeKind::Array(e) => {
                let elem = self.use_type(*e);
                let obj = Json::obj([("element-type", Json::str(&elem))]);
                self.tree(format!("[{elem}]"), "array", obj, &[]);
            }
            TypeKind::Object {
                members, variants, ..
            } => {
                let mut ms = Vec::new();
                for m in members {
                    let mut j = Json::obj([
                        ("name", Json::str(&m.name)),
                        ("type", Json::Str(self.use_type(m.ty))),
                    ]);
                    if m.optional {
                        j.insert("default", Json::Null);
                    }
                    if let Some(f) = features(&m.features) {
                        j.insert("features", f);
                    }
                    ms.push(j);
                }
                let mut obj = Json::obj([("members", Json::Arr(ms))]);
                if let Some(v) = variants {
                    obj.insert("tag", Json::str(&v.tag));
                    let mut vs = Vec::new();
                    for b in &v.branches {
                        vs.push(Json::obj([
                            ("case", Json::str(&b.name)),
                            ("type", Json::Str(self.use_type(b.ty))),
                        ]));
                    }
                    obj.insert("variants", Json::Arr(vs));
                }
                self.tree(ty.name.clone(), "object", obj, &ty.features);
            }
            TypeKind::Alternate(branches) => {
                let mut ms = Vec::new();
                for b in branches {
                    ms.push(Json::obj([("type", Json::Str(self.use_type(b.ty)))]));
                }
                let obj = Json::obj([("members", Json::Arr(ms))]);
                self.tree(ty.name.clone(), "alternate", obj, &ty.features);
            }
        }
    }
}
