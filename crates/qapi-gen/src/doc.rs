//! Documentation comments: `##` blocks, either free-form (headings `= Title`, prose) or
//! definition documentation that starts with `@Name:` and continues with the body,
//! `@member: text` lines, `Features:` with `@feature: text`, and tagged sections
//! (`Returns:`, `Errors:`, `Since:`, `TODO:`). After the member descriptions, an
//! unindented line after a blank line starts an untagged section (prose, or an rST
//! directive such as `.. qmp-example::` with its indented block); a tagged section's
//! further lines are indented.

use crate::error::{Info, Result};

/// A described member or feature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocItem {
    /// Its name.
    pub name: String,
    /// Its description.
    pub text: String,
    /// The line of `@name:`.
    pub line: u32,
}

/// A section after the members: tagged (`Returns`, `Errors`, `Since`, `TODO`) or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocSection {
    /// The tag without its colon, or `None` for prose.
    pub tag: Option<String>,
    /// The text, indentation kept.
    pub text: String,
    /// Where it starts.
    pub line: u32,
}

/// One documentation block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    /// Where the block starts.
    pub info: Info,
    /// The documented definition, or `None` for free-form documentation.
    pub symbol: Option<String>,
    /// The text before the member descriptions (all of it for free-form blocks).
    pub body: String,
    /// Member, value or branch descriptions.
    pub args: Vec<DocItem>,
    /// Feature descriptions.
    pub features: Vec<DocItem>,
    /// Sections after the members.
    pub sections: Vec<DocSection>,
}

/// The tags that open a section.
const TAGS: &[&str] = &["Returns", "Errors", "Since", "TODO"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Body,
    Arg,
    Feature,
    Section,
}

impl Doc {
    /// The `Since:` text, if any.
    pub fn since(&self) -> Option<&str> {
        self.section("Since")
    }

    /// The text of the section tagged `tag`.
    pub fn section(&self, tag: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| s.tag.as_deref() == Some(tag))
            .map(|s| s.text.as_str())
    }

    /// The description of member `name`.
    pub fn arg(&self, name: &str) -> Option<&DocItem> {
        self.args.iter().find(|a| a.name == name)
    }

    /// The description of feature `name`.
    pub fn feature(&self, name: &str) -> Option<&DocItem> {
        self.features.iter().find(|a| a.name == name)
    }

    /// The headings of a free-form block: (level, title).
    pub fn heading(&self) -> Option<(usize, &str)> {
        let first = self.body.lines().next()?;
        let level = first.bytes().take_while(|&b| b == b'=').count();
        (level > 0).then(|| (level, first[level..].trim()))
    }
}

/// `@name:` at the start of `line`: the name and the text after it.
fn symbol_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('@')?;
    let colon = rest.find(':')?;
    let name = &rest[..colon];
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let after = &rest[colon + 1..];
    if !after.is_empty() && !after.starts_with(char::is_whitespace) {
        return None;
    }
    Some((name, after.trim()))
}

/// `Tag:` at the start of `line`: the tag and the text after it.
fn tag_line(line: &str) -> Option<(&'static str, &str)> {
    TAGS.iter().find_map(|&t| {
        let after = line.strip_prefix(t)?.strip_prefix(':')?;
        (after.is_empty() || after.starts_with(char::is_whitespace)).then(|| (t, after.trim()))
    })
}

fn push_line(text: &mut String, line: &str) {
    text.push_str(line.trim_end());
    text.push('\n');
}

/// Trims blank lines around `text` (and trailing blanks on its last line).
fn tidy(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    let (Some(a), Some(b)) = (first, last) else {
        return String::new();
    };
    let kept = &lines[a..=b];
    // Remove the indentation all lines share.
    let indent = kept
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    kept.iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses the comment lines of one block: `(line, "# text")` pairs, without the `##`
/// delimiters.
pub fn parse(info: Info, lines: &[(u32, String)]) -> Result<Doc> {
    let mut doc = Doc {
        info: info.clone(),
        symbol: None,
        body: String::new(),
        args: Vec::new(),
        features: Vec::new(),
        sections: Vec::new(),
    };
    let mut part = Part::Body;
    let mut prev_blank = false;
    for (n, raw) in lines {
        let at = info.at(*n);
        let rest = &raw[1..];
        let line = if rest.is_empty() {
            ""
        } else if let Some(l) = rest.strip_prefix(' ') {
            l
        } else {
            return Err(at.error("missing space after #"));
        };
        let blank = line.trim().is_empty();
        if doc.symbol.is_none() && doc.body.trim().is_empty() && line.starts_with('@') {
            let Some(sym) = line.strip_prefix('@').and_then(|l| l.strip_suffix(':')) else {
                return Err(at.error("line should end with ':'"));
            };
            if sym.is_empty() || sym.contains(char::is_whitespace) {
                return Err(at.error("invalid name"));
            }
            doc.symbol = Some(sym.to_owned());
            prev_blank = false;
            continue;
        }
        if doc.symbol.is_none() {
            if let Some((name, _)) = symbol_line(line) {
                return Err(at.error(format!("'@{name}:' not allowed in free-form documentation")));
            }
            push_line(&mut doc.body, line);
            continue;
        }
        if let Some((name, text)) = symbol_line(line) {
            let list = match part {
                Part::Body | Part::Arg => {
                    part = Part::Arg;
                    &mut doc.args
                }
                Part::Feature => &mut doc.features,
                Part::Section => {
                    let tag = doc
                        .sections
                        .last()
                        .and_then(|s| s.tag.clone())
                        .unwrap_or_else(|| "untagged".to_owned());
                    return Err(at.error(format!("'@{name}:' can't follow '{tag}' section")));
                }
            };
            if list.iter().any(|a| a.name == name) {
                return Err(at.error(format!("'{name}' parameter name duplicated")));
            }
            list.push(DocItem {
                name: name.to_owned(),
                text: if text.is_empty() {
                    String::new()
                } else {
                    format!("{text}\n")
                },
                line: *n,
            });
        } else if line.trim_end() == "Features:" {
            if part == Part::Section || part == Part::Feature {
                return Err(at.error("'Features:' must come before the other sections"));
            }
            part = Part::Feature;
        } else if let Some((tag, text)) = tag_line(line) {
            if tag != "TODO" && doc.section(tag).is_some() {
                return Err(at.error(format!("duplicated '{tag}' section")));
            }
            part = Part::Section;
            doc.sections.push(DocSection {
                tag: Some(tag.to_owned()),
                text: if text.is_empty() {
                    String::new()
                } else {
                    format!("{text}\n")
                },
                line: *n,
            });
        } else if matches!(part, Part::Arg | Part::Feature | Part::Section)
            && prev_blank
            && !blank
            && !line.starts_with(char::is_whitespace)
        {
            part = Part::Section;
            let mut text = String::new();
            push_line(&mut text, line);
            doc.sections.push(DocSection {
                tag: None,
                text,
                line: *n,
            });
        } else {
            match part {
                Part::Body => push_line(&mut doc.body, line),
                Part::Arg | Part::Feature => {
                    let list = if part == Part::Arg {
                        &mut doc.args
                    } else {
                        &mut doc.features
                    };
                    if let Some(item) = list.last_mut() {
                        push_line(&mut item.text, line.trim_start());
                    }
                }
                Part::Section => {
                    if let Some(s) = doc.sections.last_mut() {
                        push_line(&mut s.text, line);
                    }
                }
            }
        }
        prev_blank = blank;
    }
    doc.body = tidy(&doc.body);
    for item in doc.args.iter_mut().chain(doc.features.iter_mut()) {
        item.text = tidy(&item.text);
    }
    for s in &mut doc.sections {
        s.text = tidy(&s.text);
        if let Some(tag) = &s.tag
            && s.text.is_empty()
        {
            return Err(info
                .at(s.line)
                .error(format!("text required after '{tag}:'")));
        }
    }
    Ok(doc)
}
