//! Rust names for schema names, and the checks that no two schema names become one Rust
//! name (QEMU's own clash checks work on C names, which differ).

use std::collections::HashMap;

use crate::error::{Info, Result};
use crate::schema::{Implicit, Schema, TypeKind};

/// Rust keywords (strict, reserved and edition-2024 ones) that cannot be identifiers.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Names the generated code defines itself; schema types must not use them.
pub const RESERVED_TYPES: &[&str] = &[
    "Commands",
    "CommandDef",
    "ErrorClass",
    "Event",
    "Password",
    "QmpError",
];

/// The field holding a union branch's own members.
pub const BRANCH_FIELD: &str = "branch";

/// A field, method or local name: `hold-time` → `hold_time`, `type` → `type_`.
pub fn field(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// A type or variant name: `x509-none` → `X509None`, `ctrl_r` → `CtrlR`, `1` → `_1`.
pub fn camel(name: &str) -> String {
    let mut s = String::new();
    for part in name.split(['-', '_', '.']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            s.push(first.to_ascii_uppercase());
            s.extend(chars);
        }
    }
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// The Rust name of a type the schema names.
pub fn type_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The argument struct of a command with inline arguments: `screendump` → `ScreendumpArgs`.
pub fn args_type(command: &str) -> String {
    format!("{}Args", camel(command))
}

/// The `Event` variant of an event: `VNC_CONNECTED` → `VncConnected`.
pub fn event_variant(event: &str) -> String {
    camel(&event.to_ascii_lowercase())
}

/// The data struct of an event with inline data: `SHUTDOWN` → `ShutdownData`.
pub fn event_data_type(event: &str) -> String {
    format!("{}Data", event_variant(event))
}

fn unique<'a>(
    seen: &mut HashMap<String, &'a str>,
    rust: String,
    name: &'a str,
    info: &Info,
    what: &dyn Fn(&str, &str, &str) -> String,
) -> Result<()> {
    if let Some(prev) = seen.get(&rust) {
        return Err(info.error(what(prev, name, &rust)));
    }
    seen.insert(rust, name);
    Ok(())
}

/// Fails when two schema names would become the same Rust name.
pub fn check_rust_names(s: &Schema) -> Result<()> {
    let mut types: HashMap<String, String> = RESERVED_TYPES
        .iter()
        .map(|n| ((*n).to_owned(), format!("the generated '{n}'")))
        .collect();
    let mut claim = |rust: String, owner: String, info: &Info| -> Result<()> {
        if let Some(prev) = types.get(&rust) {
            return Err(info.error(format!(
                "{owner} needs the Rust type name '{rust}', which {prev} already has"
            )));
        }
        types.insert(rust, owner);
        Ok(())
    };
    for t in &s.types {
        let Some(info) = &t.info else { continue };
        if t.implicit.is_none() {
            claim(type_name(&t.name), t.describe(), info)?;
        }
        match &t.kind {
            TypeKind::Enum(values) => {
                let mut seen = HashMap::new();
                for v in values {
                    unique(
                        &mut seen,
                        camel(&v.name),
                        &v.name,
                        &info.at(v.line),
                        &|a, b, r| {
                            format!(
                                "values '{a}' and '{b}' of enum '{}' both become Rust variant '{r}'",
                                t.name
                            )
                        },
                    )?;
                }
            }
            TypeKind::Object {
                members, variants, ..
            } => {
                let mut seen = HashMap::new();
                if variants.is_some() {
                    seen.insert(BRANCH_FIELD.to_owned(), "(the branch)");
                }
                for m in members {
                    if variants.as_ref().is_some_and(|v| v.tag == m.name) {
                        continue;
                    }
                    unique(
                        &mut seen,
                        field(&m.name),
                        &m.name,
                        &info.at(m.line),
                        &|a, b, r| {
                            format!(
                                "members '{a}' and '{b}' of '{}' both become Rust field '{r}'",
                                t.name
                            )
                        },
                    )?;
                }
            }
            TypeKind::Alternate(branches) => {
                let mut seen = HashMap::new();
                for b in branches {
                    unique(&mut seen, camel(&b.name), &b.name, info, &|a, b, r| {
                        format!(
                            "branches '{a}' and '{b}' of '{}' both become Rust variant '{r}'",
                            t.name
                        )
                    })?;
                }
            }
            _ => {}
        }
    }
    let mut methods = HashMap::new();
    for c in &s.commands {
        unique(
            &mut methods,
            field(&c.name),
            &c.name,
            &c.info,
            &|a, b, r| format!("commands '{a}' and '{b}' both become Rust method '{r}'"),
        )?;
        if let Some(a) = c.arg
            && matches!(s.ty(a).implicit, Some(Implicit::CommandArg(_)))
        {
            claim(args_type(&c.name), format!("command '{}'", c.name), &c.info)?;
        }
    }
    let mut variants = HashMap::new();
    for e in &s.events {
        unique(
            &mut variants,
            event_variant(&e.name),
            &e.name,
            &e.info,
            &|a, b, r| format!("events '{a}' and '{b}' both become Rust variant '{r}'"),
        )?;
        if let Some(a) = e.arg
            && matches!(s.ty(a).implicit, Some(Implicit::EventArg(_)))
        {
            claim(
                event_data_type(&e.name),
                format!("event '{}'", e.name),
                &e.info,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names() {
        assert_eq!(field("hold-time"), "hold_time");
        assert_eq!(field("type"), "type_");
        assert_eq!(field("match"), "match_");
        assert_eq!(field("x509_dname"), "x509_dname");
        assert_eq!(field("change-vnc-password"), "change_vnc_password");
        assert_eq!(camel("x509-none"), "X509None");
        assert_eq!(camel("ctrl_r"), "CtrlR");
        assert_eq!(camel("kp_0"), "Kp0");
        assert_eq!(camel("1"), "_1");
        assert_eq!(camel("tls-creds-x509"), "TlsCredsX509");
        assert_eq!(args_type("change-vnc-password"), "ChangeVncPasswordArgs");
        assert_eq!(args_type("add_client"), "AddClientArgs");
        assert_eq!(event_variant("VNC_CONNECTED"), "VncConnected");
        assert_eq!(event_data_type("SHUTDOWN"), "ShutdownData");
        assert_eq!(type_name("__org.example_Foo"), "__org_example_Foo");
    }
}
