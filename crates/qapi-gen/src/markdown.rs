//! The reference documentation: every command, event and type in schema order under the
//! schema's own headings, with arguments, results, errors, examples and the doc text;
//! Porthole extensions and secret members are marked.

use std::fmt::Write as _;

use crate::doc::Doc;
use crate::schema::{Command, Entity, Event, MemberInfo, Schema, Type, TypeId, TypeKind};

/// The Markdown reference for `s`.
pub fn generate(s: &Schema, command_line: &str) -> String {
    let mut g = Gen {
        s,
        out: String::new(),
        level: 1,
    };
    g.out.push_str("# QMP reference\n\n");
    let _ = writeln!(
        g.out,
        "<!-- Generated from qapi/*.json by `{command_line}`. Do not edit: edit the schema. -->\n"
    );
    for &(_, ent) in &s.order {
        match ent {
            Entity::FreeDoc(i) => g.free(&s.free_docs[i]),
            Entity::Command(c) => g.command(&s.commands[c]),
            Entity::Event(e) => g.event(&s.events[e]),
            Entity::Type(t) => g.named_type(t),
        }
    }
    while g.out.ends_with("\n\n") {
        g.out.pop();
    }
    g.out
}

struct Gen<'a> {
    s: &'a Schema,
    out: String,
    /// Level of the last free-form heading (`=` is 1).
    level: usize,
}

/// One line of table text: `@name` as code, lines joined, `|` escaped.
fn cell(text: &str) -> String {
    let joined: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    refs(&joined.join(" ")).replace('|', "\\|")
}

/// `@name` → `` `name` ``.
fn refs(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '@'
            && chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '_')
        {
            let mut name = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || "-_.".contains(n) {
                    name.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            let dot = name.ends_with('.');
            if dot {
                name.pop();
            }
            let _ = write!(out, "`{name}`");
            if dot {
                out.push('.');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Prose with rST directives turned into Markdown: `.. qmp-example::` and the indented
/// block after it become a fenced block, `.. note::` a quote.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut in_block = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(directive) = t.strip_prefix(".. ") {
            if in_block {
                out.push_str("```\n\n");
                in_block = false;
            }
            if directive.starts_with("qmp-example::") {
                out.push_str("Example:\n\n```\n");
                in_block = true;
            } else if let Some(rest) = directive.strip_prefix("note::") {
                let _ = writeln!(out, "> **Note:** {}", refs(rest.trim()));
            }
            continue;
        }
        if in_block {
            if t.is_empty() {
                continue;
            }
            if line.starts_with(char::is_whitespace) {
                let _ = writeln!(out, "{}", line.strip_prefix("    ").unwrap_or(t));
                continue;
            }
            out.push_str("```\n\n");
            in_block = false;
        }
        let _ = writeln!(out, "{}", refs(line));
    }
    if in_block {
        out.push_str("```\n");
    }
    out.trim_end().to_owned()
}

fn anchor(kind: &str, name: &str) -> String {
    format!("{kind}-{name}")
}

impl Gen<'_> {
    fn heading(&mut self, id: &str, title: &str) {
        let level = (self.level + 2).min(6);
        let _ = writeln!(
            self.out,
            "<a id=\"{id}\"></a>\n{} {title}\n",
            "#".repeat(level)
        );
    }

    fn para(&mut self, text: &str) {
        let p = prose(text.trim_start_matches('\n'));
        if !p.is_empty() {
            self.out.push_str(&p);
            self.out.push_str("\n\n");
        }
    }

    fn free(&mut self, d: &Doc) {
        let mut body = d.body.as_str();
        if let Some((level, title)) = d.heading() {
            self.level = level;
            let _ = writeln!(self.out, "{} {}\n", "#".repeat((level + 1).min(6)), title);
            body = body.split_once('\n').map_or("", |(_, rest)| rest);
        }
        self.para(body);
    }

    /// A link to a type, or its description for built-in and array types.
    fn type_ref(&self, t: TypeId) -> String {
        let ty = self.s.ty(t);
        match &ty.kind {
            TypeKind::Builtin(j) => match ty.name.as_str() {
                "str" => "string".to_owned(),
                "any" => "any value".to_owned(),
                n if j.as_str() == "int" => n.to_owned(),
                _ => j.as_str().to_owned(),
            },
            TypeKind::Array(e) => format!("array of {}", self.type_ref(*e)),
            _ if ty.implicit.is_some() => "object".to_owned(),
            _ => format!("[`{}`](#{})", ty.name, anchor("type", &ty.name)),
        }
    }

    fn members_table(&mut self, members: &[MemberInfo], own: Option<TypeId>) {
        if members.is_empty() {
            self.out.push_str("None.\n\n");
            return;
        }
        self.out
            .push_str("| Name | Type | Required | Description |\n|---|---|---|---|\n");
        for m in members {
            let mut desc = cell(&m.doc);
            if let Some(own) = own
                && m.defined_in != own
                && self.s.ty(m.defined_in).implicit.is_none()
            {
                let base = &self.s.ty(m.defined_in).name;
                let _ = write!(desc, " (from [`{base}`](#{}))", anchor("type", base));
            }
            if m.secret {
                desc.push_str(" *(secret: never logged)*");
            }
            if m.extension {
                desc.push_str(" **Porthole extension.**");
            }
            for f in &m.features {
                let _ = write!(desc, " Feature `{}`", f.name);
                if !f.doc.is_empty() {
                    let _ = write!(desc, ": {}", cell(&f.doc));
                }
                desc.push('.');
            }
            let _ = writeln!(
                self.out,
                "| `{}` | {} | {} | {} |",
                m.name,
                self.type_ref(m.ty),
                if m.optional { "no" } else { "yes" },
                desc.trim()
            );
        }
        self.out.push('\n');
    }

    /// The data of a command or event: a table for inline members, a link otherwise.
    fn data(&mut self, what: &str, arg: Option<TypeId>, boxed: bool) {
        match arg {
            None => {
                let _ = writeln!(self.out, "**{what}:** none.\n");
            }
            Some(a) if self.s.ty(a).implicit.is_some() => {
                let _ = writeln!(self.out, "**{what}:**\n");
                let members = self.s.ty(a).members().to_vec();
                self.members_table(&members, None);
            }
            Some(a) => {
                let _ = writeln!(
                    self.out,
                    "**{what}:** the members of {}{}.\n",
                    self.type_ref(a),
                    if boxed { "" } else { " (as separate members)" }
                );
            }
        }
    }

    fn sections(&mut self, doc: Option<&Doc>, skip_returns: bool) {
        let Some(doc) = doc else { return };
        for s in &doc.sections {
            match s.tag.as_deref() {
                Some("Returns") if skip_returns => {}
                Some("Since") => {
                    let _ = writeln!(self.out, "**Since:** {}\n", cell(&s.text));
                }
                Some("TODO") => {}
                Some(tag) => {
                    let text = prose(&s.text);
                    if text.contains('\n') || text.starts_with("- ") {
                        let _ = writeln!(self.out, "**{tag}:**\n\n{text}\n");
                    } else {
                        let _ = writeln!(self.out, "**{tag}:** {text}\n");
                    }
                }
                None => self.para(&s.text),
            }
        }
    }

    fn features(&mut self, doc: Option<&Doc>, feats: &[crate::schema::Feat]) {
        if feats.is_empty() {
            return;
        }
        self.out.push_str("**Features:**\n\n");
        for f in feats {
            let text = doc
                .and_then(|d| d.feature(&f.name))
                .map(|i| cell(&i.text))
                .unwrap_or_default();
            let _ = writeln!(self.out, "- `{}`: {text}", f.name);
        }
        self.out.push('\n');
    }

    fn command(&mut self, c: &Command) {
        self.heading(
            &anchor("command", &c.name),
            &format!("`{}` (command)", c.name),
        );
        if c.extension {
            self.out
                .push_str("**Porthole extension:** QEMU has no such command.\n\n");
        }
        if let Some(d) = &c.doc {
            self.para(&d.body);
        }
        self.data("Arguments", c.arg, c.boxed);
        let returns = c.doc.as_ref().and_then(|d| d.section("Returns"));
        match (c.ret, returns) {
            (Some(r), text) => {
                let _ = write!(self.out, "**Returns:** {}", self.type_ref(r));
                if let Some(t) = text {
                    let _ = write!(self.out, ": {}", cell(t));
                }
                self.out.push_str("\n\n");
            }
            (None, _) => self.out.push_str("**Returns:** `{}` on success.\n\n"),
        }
        let mut flags = Vec::new();
        if c.allow_oob {
            flags.push("may run out of band (`exec-oob`)");
        }
        if !c.gen_code {
            flags.push("answered by the QMP server itself");
        }
        if !flags.is_empty() {
            let _ = writeln!(self.out, "**Notes:** {}.\n", flags.join("; "));
        }
        self.features(c.doc.as_ref(), &c.features);
        self.sections(c.doc.as_ref(), true);
    }

    fn event(&mut self, e: &Event) {
        self.heading(&anchor("event", &e.name), &format!("`{}` (event)", e.name));
        if e.extension {
            self.out
                .push_str("**Porthole extension:** QEMU has no such event.\n\n");
        }
        if let Some(d) = &e.doc {
            self.para(&d.body);
        }
        self.data("Data", e.arg, e.boxed);
        self.features(e.doc.as_ref(), &e.features);
        self.sections(e.doc.as_ref(), false);
    }

    fn named_type(&mut self, t: TypeId) {
        let ty: Type = self.s.ty(t).clone();
        if ty.implicit.is_some() {
            return;
        }
        let kind = match &ty.kind {
            TypeKind::Enum(_) => "enum",
            TypeKind::Object {
                variants: Some(_), ..
            } => "union",
            TypeKind::Object { .. } => "struct",
            TypeKind::Alternate(_) => "alternate",
            _ => return,
        };
        self.heading(
            &anchor("type", &ty.name),
            &format!("`{}` ({kind})", ty.name),
        );
        if ty.extension {
            self.out
                .push_str("**Porthole extension:** QEMU has no such type.\n\n");
        }
        if let Some(d) = &ty.doc {
            self.para(&d.body);
        }
        match &ty.kind {
            TypeKind::Enum(values) => {
                self.out.push_str("| Value | Description |\n|---|---|\n");
                for v in values {
                    let _ = writeln!(self.out, "| `{}` | {} |", v.name, cell(&v.doc));
                }
                self.out.push('\n');
            }
            TypeKind::Object {
                members,
                variants: None,
                ..
            } => {
                self.out.push_str("**Members:**\n\n");
                self.members_table(members, Some(t));
            }
            TypeKind::Object {
                members,
                variants: Some(v),
                ..
            } => {
                self.out.push_str("**Common members:**\n\n");
                self.members_table(members, Some(t));
                let _ = writeln!(
                    self.out,
                    "**Further members, by `{}`:**\n\n| `{}` | Members |\n|---|---|",
                    v.tag, v.tag
                );
                for b in &v.branches {
                    let members = if b.ty == self.s.empty {
                        "none".to_owned()
                    } else {
                        format!("those of {}", self.type_ref(b.ty))
                    };
                    let _ = writeln!(self.out, "| `{}` | {members} |", b.name);
                }
                self.out.push('\n');
            }
            TypeKind::Alternate(branches) => {
                self.out
                    .push_str("| Branch | Type | Description |\n|---|---|---|\n");
                for b in branches {
                    let _ = writeln!(
                        self.out,
                        "| `{}` | {} | {} |",
                        b.name,
                        self.type_ref(b.ty),
                        cell(&b.doc)
                    );
                }
                self.out.push('\n');
            }
            _ => {}
        }
        self.features(ty.doc.as_ref(), &ty.features);
        self.sections(ty.doc.as_ref(), false);
    }
}
