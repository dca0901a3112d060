//! The schema reader: QEMU's lexical rules (`scripts/qapi/parser.py`), include resolution
//! relative to the including file, pragmas, and doc blocks attached to the definition
//! that follows them.
//!
//! The language is JSON with `#` comments, `'single-quoted'` strings of printable ASCII
//! with `\\` as the only escape, `true`/`false`, and no numbers or null. Unlike QEMU's
//! parser this one keeps the line of every value and key, so later checks can point at the
//! member that is wrong instead of the start of the definition.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use crate::doc::{self, Doc};
use crate::error::{Error, Info, Result};

/// A parsed value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// `'text'`.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `[ ... ]`.
    List(Vec<Node>),
    /// `{ 'key': value, ... }`, in source order.
    Obj(Vec<Entry>),
}

/// A value and the line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub val: Val,
    /// Its first line.
    pub line: u32,
}

/// One `'key': value` pair of an object.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The line of the key.
    pub line: u32,
    /// The value.
    pub value: Node,
}

impl Node {
    /// The object entries, if this is an object.
    pub fn as_obj(&self) -> Option<&[Entry]> {
        match &self.val {
            Val::Obj(e) => Some(e),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.val {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_obj()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }
}

/// One top-level definition with its place and documentation.
#[derive(Clone, Debug)]
pub struct Expr {
    /// The definition (an object).
    pub node: Node,
    /// Where it starts.
    pub info: Info,
    /// The definition documentation right before it.
    pub doc: Option<Doc>,
}

/// What the reader found, in order (includes are expanded where they appear).
#[derive(Clone, Debug)]
pub enum Item {
    /// An `include` directive; the included file's items follow (the first time only).
    Include {
        /// The included file, as a path joined to the including file's directory.
        path: PathBuf,
        /// Where the directive is.
        info: Info,
    },
    /// A free-form documentation block (headings and prose).
    FreeDoc(Doc),
    /// A definition.
    Def(Expr),
}

/// The schema-wide pragmas. QEMU's, plus Porthole's `secret-members` and `extensions`.
#[derive(Clone, Debug, Default)]
pub struct Pragma {
    /// `doc-required`: every definition needs documentation.
    pub doc_required: bool,
    /// Commands allowed to use `_` in their names.
    pub command_name_exceptions: Vec<String>,
    /// Commands allowed to return non-object types.
    pub command_returns_exceptions: Vec<String>,
    /// Types whose members and values may use `_` and upper case.
    pub member_name_exceptions: Vec<String>,
    /// Definitions whose members need not be documented.
    pub documentation_exceptions: Vec<String>,
    /// Porthole: `Owner.member` entries generated as `Password`.
    pub secret_members: Vec<(String, Info)>,
    /// Porthole: definitions or `Owner.member`s that QEMU lacks.
    pub extensions: Vec<(String, Info)>,
}

/// The whole schema as read: items in order, the files read, and the pragmas.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// Items in order.
    pub items: Vec<Item>,
    /// Every file read, root first.
    pub files: Vec<PathBuf>,
    /// The pragmas of all files.
    pub pragma: Pragma,
}

/// Reads the schema rooted at `path`, following includes.
pub fn parse(path: &Path) -> Result<Parsed> {
    let src = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = Reader {
        included: HashSet::new(),
        stack: Vec::new(),
        out: Parsed {
            items: Vec::new(),
            files: Vec::new(),
            pragma: Pragma::default(),
        },
    };
    reader.file(path, src)?;
    Ok(reader.out)
}

/// `path` made absolute and lexically normalized (`.` and `..` removed), like Python's
/// `os.path.abspath`: the identity of a schema file.
pub fn normalize(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

struct Reader {
    /// Normalized paths of every file read.
    included: HashSet<PathBuf>,
    /// Normalized paths of the files being read (for include loops).
    stack: Vec<PathBuf>,
    out: Parsed,
}

impl Reader {
    fn file(&mut self, path: &Path, mut src: String) -> Result<()> {
        if !src.ends_with('\n') {
            src.push('\n');
        }
        let abs = normalize(path);
        self.included.insert(abs.clone());
        self.stack.push(abs);
        self.out.files.push(path.to_path_buf());
        let mut p = FileParser::new(path, &src);
        let r = self.items(&mut p);
        self.stack.pop();
        r
    }

    fn items(&mut self, p: &mut FileParser<'_>) -> Result<()> {
        p.advance(true)?;
        // A definition block waiting for its definition.
        let mut cur_doc: Option<Doc> = None;
        // The block right before was free-form (where it started).
        let mut free_before: Option<Info> = None;
        loop {
            let start = p.tok_line;
            match &p.tok {
                Tok::Eof => break,
                Tok::Comment(_) => {
                    reject_expr_doc(cur_doc.take())?;
                    free_before = None;
                    for d in p.doc_block()? {
                        if d.symbol.is_some() {
                            cur_doc = Some(d);
                        } else {
                            free_before = Some(d.info.clone());
                            self.out.items.push(Item::FreeDoc(d));
                        }
                    }
                    continue;
                }
                _ => {}
            }
            let node = p.value()?;
            let info = p.info(start);
            let Some(entries) = node.as_obj() else {
                return Err(info.error("top-level expression must be an object"));
            };
            if let Some(incl) = node.get("include") {
                reject_expr_doc(cur_doc.take())?;
                if entries.len() != 1 {
                    return Err(info.error("invalid 'include' directive"));
                }
                let Some(name) = incl.as_str() else {
                    return Err(info.error("value of 'include' must be a string"));
                };
                let dir = p.path.parent().unwrap_or(Path::new(""));
                let incl_path = dir.join(name);
                self.out.items.push(Item::Include {
                    path: incl_path.clone(),
                    info: info.clone(),
                });
                self.include(name, &incl_path, &info)?;
            } else if let Some(pragma) = node.get("pragma") {
                reject_expr_doc(cur_doc.take())?;
                if entries.len() != 1 {
                    return Err(info.error("invalid 'pragma' directive"));
                }
                let Some(pairs) = pragma.as_obj() else {
                    return Err(info.error("value of 'pragma' must be an object"));
                };
                for e in pairs {
                    self.pragma(e, &info.at(e.line))?;
                }
            } else {
                if let Some(doc_info) = free_before.take() {
                    return Err(doc_info.error("definition documentation required"));
                }
                let doc = cur_doc.take();
                self.out.items.push(Item::Def(Expr { node, info, doc }));
            }
            free_before = None;
        }
        reject_expr_doc(cur_doc)
    }

    fn include(&mut self, name: &str, path: &Path, info: &Info) -> Result<()> {
        let abs = normalize(path);
        if self.stack.contains(&abs) {
            return Err(info.error(format!("inclusion loop for {name}")));
        }
        if self.included.contains(&abs) {
            return Ok(());
        }
        let src = std::fs::read_to_string(path).map_err(|e| {
            info.error(format!(
                "can't read include file '{}': {}",
                path.display(),
                io_reason(&e)
            ))
        })?;
        self.file(path, src)
    }

    fn pragma(&mut self, e: &Entry, info: &Info) -> Result<()> {
        let list = |what: &str| -> Result<Vec<(String, u32)>> {
            let bad = || info.error(format!("pragma {what} must be a list of strings"));
            let Val::List(items) = &e.value.val else {
                return Err(bad());
            };
            items
                .iter()
                .map(|n| n.as_str().map(|s| (s.to_owned(), n.line)).ok_or_else(bad))
                .collect()
        };
        let names = |v: Vec<(String, u32)>| v.into_iter().map(|(s, _)| s);
        let pragma = &mut self.out.pragma;
        match e.key.as_str() {
            "doc-required" => match e.value.val {
                Val::Bool(b) => pragma.doc_required = b,
                _ => return Err(info.error("pragma 'doc-required' must be boolean")),
            },
            "command-name-exceptions" => {
                pragma.command_name_exceptions.extend(names(list(&e.key)?));
            }
            "command-returns-exceptions" => {
                pragma
                    .command_returns_exceptions
                    .extend(names(list(&e.key)?));
            }
            "member-name-exceptions" => {
                pragma.member_name_exceptions.extend(names(list(&e.key)?));
            }
            "documentation-exceptions" => {
                pragma.documentation_exceptions.extend(names(list(&e.key)?));
            }
            "secret-members" => {
                let v = list(&e.key)?;
                pragma
                    .secret_members
                    .extend(v.into_iter().map(|(s, l)| (s, info.at(l))));
            }
            "extensions" => {
                let v = list(&e.key)?;
                pragma
                    .extensions
                    .extend(v.into_iter().map(|(s, l)| (s, info.at(l))));
            }
            other => return Err(info.error(format!("unknown pragma '{other}'"))),
        }
        Ok(())
    }
}

/// An I/O error's reason without Rust's "(os error N)" suffix, as `strerror` gives it.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

fn reject_expr_doc(doc: Option<Doc>) -> Result<()> {
    match doc.as_ref().and_then(|d| d.symbol.as_ref().map(|s| (d, s))) {
        Some((d, sym)) => Err(d.info.error(format!(
            "documentation for '{sym}' is not followed by the definition"
        ))),
        None => Ok(()),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Punct(u8),
    Str(String),
    Bool(bool),
    /// A comment line, with its leading `#`.
    Comment(String),
    Eof,
}

struct FileParser<'s> {
    path: Rc<PathBuf>,
    src: &'s [u8],
    text: &'s str,
    /// Next byte to read.
    cursor: usize,
    /// Line of `cursor`.
    line: u32,
    /// Index of the first byte of `line`.
    line_start: usize,
    tok: Tok,
    tok_line: u32,
    tok_col: usize,
}

impl<'s> FileParser<'s> {
    fn new(path: &Path, text: &'s str) -> Self {
        Self {
            path: Rc::new(path.to_path_buf()),
            src: text.as_bytes(),
            text,
            cursor: 0,
            line: 1,
            line_start: 0,
            tok: Tok::Eof,
            tok_line: 1,
            tok_col: 1,
        }
    }

    fn info(&self, line: u32) -> Info {
        Info {
            file: Rc::clone(&self.path),
            line,
        }
    }

    /// A lexical error at the current token.
    fn error(&self, msg: impl Into<String>) -> Error {
        let msg = msg.into();
        self.info(self.tok_line)
            .error(format!("column {}: {msg}", self.tok_col))
    }

    /// Reads the next token. Comments are skipped when `skip_comment`, except `##` lines,
    /// which always come back (they open or close documentation blocks).
    fn advance(&mut self, mut skip_comment: bool) -> Result<()> {
        loop {
            let Some(&c) = self.src.get(self.cursor) else {
                self.tok = Tok::Eof;
                self.tok_line = self.line;
                self.tok_col = self.cursor - self.line_start + 1;
                return Ok(());
            };
            let pos = self.cursor;
            self.tok_line = self.line;
            self.tok_col = pos - self.line_start + 1;
            self.cursor += 1;
            match c {
                b'#' => {
                    if self.src.get(self.cursor) == Some(&b'#') {
                        skip_comment = false;
                    }
                    let end = self.text[self.cursor..]
                        .find('\n')
                        .map_or(self.src.len(), |i| self.cursor + i);
                    self.cursor = end;
                    if !skip_comment {
                        self.tok = Tok::Comment(self.text[pos..end].to_owned());
                        return Ok(());
                    }
                }
                b'{' | b'}' | b':' | b',' | b'[' | b']' => {
                    self.tok = Tok::Punct(c);
                    return Ok(());
                }
                b'\'' => {
                    let s = self.string()?;
                    self.tok = Tok::Str(s);
                    return Ok(());
                }
                b'\n' => {
                    self.line += 1;
                    self.line_start = self.cursor;
                }
                _ if self.text[pos..].starts_with("true") => {
                    self.cursor = pos + 4;
                    self.tok = Tok::Bool(true);
                    return Ok(());
                }
                _ if self.text[pos..].starts_with("false") => {
                    self.cursor = pos + 5;
                    self.tok = Tok::Bool(false);
                    return Ok(());
                }
                _ if c.is_ascii_whitespace() => {}
                _ => {
                    let rest = &self.text[pos..];
                    let end = rest
                        .find(|ch: char| ch.is_whitespace() || "[]{}:,'\"".contains(ch))
                        .unwrap_or(rest.len());
                    let stray = if end == 0 { &rest[..1] } else { &rest[..end] };
                    return Err(self.error(format!("stray '{stray}'")));
                }
            }
        }
    }

    /// The rest of a single-quoted string (the opening quote is consumed).
    fn string(&mut self) -> Result<String> {
        let mut out = String::new();
        let mut esc = false;
        loop {
            let Some(&ch) = self.src.get(self.cursor) else {
                return Err(self.error("missing terminating \"'\""));
            };
            self.cursor += 1;
            if ch == b'\n' {
                return Err(self.error("missing terminating \"'\""));
            }
            if esc {
                // Only \\ : the schema has no use for other escapes.
                if ch != b'\\' {
                    return Err(self.error(format!("unknown escape \\{}", char::from(ch))));
                }
                esc = false;
            } else if ch == b'\\' {
                esc = true;
                continue;
            } else if ch == b'\'' {
                return Ok(out);
            }
            if !(32..127).contains(&ch) {
                return Err(self.error("funny character in string"));
            }
            out.push(char::from(ch));
        }
    }

    /// One value starting at the current token.
    fn value(&mut self) -> Result<Node> {
        let line = self.tok_line;
        let val = match std::mem::replace(&mut self.tok, Tok::Eof) {
            Tok::Punct(b'{') => {
                self.advance(true)?;
                Val::Obj(self.members()?)
            }
            Tok::Punct(b'[') => {
                self.advance(true)?;
                Val::List(self.values()?)
            }
            Tok::Str(s) => {
                self.advance(true)?;
                Val::Str(s)
            }
            Tok::Bool(b) => {
                self.advance(true)?;
                Val::Bool(b)
            }
            other => {
                self.tok = other;
                return Err(self.error("expected '{', '[', string, or boolean"));
            }
        };
        Ok(Node { val, line })
    }

    fn members(&mut self) -> Result<Vec<Entry>> {
        let mut out: Vec<Entry> = Vec::new();
        if self.tok == Tok::Punct(b'}') {
            self.advance(true)?;
            return Ok(out);
        }
        if !matches!(self.tok, Tok::Str(_)) {
            return Err(self.error("expected string or '}'"));
        }
        loop {
            let line = self.tok_line;
            let Tok::Str(key) = std::mem::replace(&mut self.tok, Tok::Eof) else {
                return Err(self.error("expected string"));
            };
            self.advance(true)?;
            if self.tok != Tok::Punct(b':') {
                return Err(self.error("expected ':'"));
            }
            self.advance(true)?;
            if out.iter().any(|e| e.key == key) {
                return Err(self.error(format!("duplicate key '{key}'")));
            }
            let value = self.value()?;
            out.push(Entry { key, line, value });
            match self.tok {
                Tok::Punct(b'}') => {
                    self.advance(true)?;
                    return Ok(out);
                }
                Tok::Punct(b',') => self.advance(true)?,
                _ => return Err(self.error("expected ',' or '}'")),
            }
            if !matches!(self.tok, Tok::Str(_)) {
                return Err(self.error("expected string"));
            }
        }
    }

    fn values(&mut self) -> Result<Vec<Node>> {
        let mut out = Vec::new();
        if self.tok == Tok::Punct(b']') {
            self.advance(true)?;
            return Ok(out);
        }
        if !matches!(
            self.tok,
            Tok::Punct(b'{' | b'[') | Tok::Str(_) | Tok::Bool(_)
        ) {
            return Err(self.error("expected '{', '[', ']', string, or boolean"));
        }
        loop {
            out.push(self.value()?);
            match self.tok {
                Tok::Punct(b']') => {
                    self.advance(true)?;
                    return Ok(out);
                }
                Tok::Punct(b',') => self.advance(true)?,
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    /// A `##` ... `##` block starting at the current comment token. A free-form block is
    /// split at headings into several.
    fn doc_block(&mut self) -> Result<Vec<Doc>> {
        if self.tok != Tok::Comment("##".to_owned()) {
            return Err(self.error("junk after '##' at start of documentation comment"));
        }
        let start = self.info(self.tok_line);
        let mut blocks: Vec<(Info, Vec<(u32, String)>)> = vec![(start, Vec::new())];
        self.advance(false)?;
        while let Tok::Comment(text) = &self.tok {
            if text.starts_with("##") {
                if text != "##" {
                    return Err(self.error("junk after '##' at end of documentation comment"));
                }
                self.advance(true)?;
                return blocks
                    .into_iter()
                    .map(|(info, lines)| doc::parse(info, &lines))
                    .collect();
            }
            if text.starts_with("# =") {
                let lines = blocks.last().map_or(&[][..], |(_, l)| l.as_slice());
                let first = lines.iter().find(|(_, l)| l.trim_end() != "#");
                if first.is_some_and(|(_, l)| l.starts_with("# @")) {
                    return Err(self.error("unexpected '=' markup in definition documentation"));
                }
                if first.is_some() {
                    blocks.push((self.info(self.tok_line), Vec::new()));
                }
            }
            let line = self.tok_line;
            let text = text.clone();
            if let Some((_, lines)) = blocks.last_mut() {
                lines.push((line, text));
            }
            self.advance(false)?;
        }
        Err(self.error("documentation comment must end with '##'"))
    }
}
