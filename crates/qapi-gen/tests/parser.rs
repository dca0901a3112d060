//! The reader: lexical rules, includes, pragmas and documentation blocks.

mod common;

use common::{Files, error, load};
use qapi_gen::Config;
use qapi_gen::parser::{self, Item, Val};
use qapi_gen::schema::{Entity, TypeKind};

fn parse(text: &str) -> (Files, parser::Parsed) {
    let f = Files::new(&[("main.json", text)]);
    let p = parser::parse(&f.root()).expect("parses");
    (f, p)
}

fn defs(p: &parser::Parsed) -> Vec<&parser::Expr> {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::Def(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn comments_strings_and_booleans() {
    let (_f, p) = parse(
        "# a comment { not: parsed }\n\
         { 'command': 'x-cmd', # trailing comment\n\
           'data': { 'path': 'str' },\n\
           'allow-preconfig': true, 'gen': false }\n\
         { 'enum': 'E', 'data': [ 'back\\\\slash' ] }\n",
    );
    let d = defs(&p);
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].info.line, 2);
    assert_eq!(
        d[0].node.get("allow-preconfig").map(|n| &n.val),
        Some(&Val::Bool(true))
    );
    assert_eq!(
        d[0].node.get("gen").map(|n| &n.val),
        Some(&Val::Bool(false))
    );
    // The data object starts on line 3; its key 'path' too.
    let data = d[0].node.get("data").unwrap();
    assert_eq!(data.line, 3);
    assert_eq!(data.as_obj().unwrap()[0].key, "path");
    // '\\' is the one escape.
    let Val::List(vals) = &d[1].node.get("data").unwrap().val else {
        panic!("list expected");
    };
    assert_eq!(vals[0].as_str(), Some("back\\slash"));
}

#[test]
fn lexical_errors_name_file_line_and_column() {
    // As in QEMU, errors inside a string point at its opening quote.
    assert_eq!(
        error("{ 'enum': 'E',\n  'data': [ 'a' ], x }\n"),
        "main.json:2: column 20: stray 'x'"
    );
    assert_eq!(
        error("{ 'enum': 'E', 'data': [ 'a ] }\n"),
        "main.json:1: column 26: missing terminating \"'\""
    );
    assert_eq!(
        error("{ 'enum': 'E', 'data': [ 'a\\n' ] }\n"),
        "main.json:1: column 26: unknown escape \\n"
    );
    assert_eq!(
        error("{ 'enum': 'E', 'data': [ 'caf\u{e9}' ] }\n"),
        "main.json:1: column 26: funny character in string"
    );
    assert_eq!(
        error("{ 'enum' 'E' }\n"),
        "main.json:1: column 10: expected ':'"
    );
    assert_eq!(
        error("{ 'enum': 'E', 'enum': 'F' }\n"),
        "main.json:1: column 24: duplicate key 'enum'"
    );
    assert_eq!(
        error("{ 'enum': 'E', 'data': [ 'a' 'b' ] }\n"),
        "main.json:1: column 30: expected ',' or ']'"
    );
    assert_eq!(
        error("[ 'a' ]\n"),
        "main.json:1: top-level expression must be an object"
    );
}

#[test]
fn includes_are_relative_to_the_including_file_and_read_once() {
    let f = Files::new(&[
        (
            "main.json",
            "{ 'include': 'sub/a.json' }\n{ 'include': 'sub/b.json' }\n",
        ),
        (
            "sub/a.json",
            "{ 'include': 'b.json' }\n{ 'struct': 'Aye', 'data': { 'b': 'Bee' } }\n",
        ),
        (
            "sub/b.json",
            "{ 'struct': 'Bee', 'data': { 'x': 'int' } }\n",
        ),
    ]);
    let p = parser::parse(&f.root()).unwrap();
    let files: Vec<String> = p
        .files
        .iter()
        .map(|p| f.relative(&p.display().to_string()))
        .collect();
    assert_eq!(files, ["main.json", "sub/a.json", "sub/b.json"]);
    // The second include of b.json is kept as a directive but adds nothing.
    assert_eq!(defs(&p).len(), 2);
    let s = f.load(&Config::default()).unwrap();
    let modules: Vec<String> = s
        .modules
        .iter()
        .map(|m| f.relative(&m.display().to_string()))
        .collect();
    assert_eq!(modules, ["main.json", "sub/a.json", "sub/b.json"]);
    let a = s.lookup("Aye").unwrap();
    assert_eq!(s.ty(a).module, 1);
    assert_eq!(s.ty(s.lookup("Bee").unwrap()).module, 2);
}

#[test]
fn include_errors() {
    let f = Files::new(&[
        ("main.json", "{ 'include': 'a.json' }\n"),
        ("a.json", "\n{ 'include': 'main.json' }\n"),
    ]);
    assert_eq!(
        f.load(&Config::default()).unwrap_err(),
        "a.json:2: inclusion loop for main.json"
    );
    let f = Files::new(&[("main.json", "\n\n{ 'include': 'nope.json' }\n")]);
    assert_eq!(
        f.load(&Config::default()).unwrap_err(),
        "main.json:3: can't read include file 'nope.json': No such file or directory"
    );
    assert_eq!(
        error("{ 'include': 'a.json', 'x': 'y' }\n"),
        "main.json:1: invalid 'include' directive"
    );
    assert_eq!(
        error("{ 'include': ['a'] }\n"),
        "main.json:1: value of 'include' must be a string"
    );
}

#[test]
fn pragmas() {
    let (_f, p) = parse(
        "{ 'pragma': { 'doc-required': false,\n\
                       'command-name-exceptions': [ 'a_b' ],\n\
                       'secret-members': [ 'S.pw' ] } }\n",
    );
    assert!(!p.pragma.doc_required);
    assert_eq!(p.pragma.command_name_exceptions, ["a_b"]);
    assert_eq!(p.pragma.secret_members[0].0, "S.pw");
    assert_eq!(p.pragma.secret_members[0].1.line, 3);
    assert_eq!(
        error("{ 'pragma': { 'no-such-pragma': true } }\n"),
        "main.json:1: unknown pragma 'no-such-pragma'"
    );
    assert_eq!(
        error("{ 'pragma': { 'doc-required': 'yes' } }\n"),
        "main.json:1: pragma 'doc-required' must be boolean"
    );
    assert_eq!(
        error("{ 'pragma': {\n 'member-name-exceptions': 'X' } }\n"),
        "main.json:2: pragma member-name-exceptions must be a list of strings"
    );
}

#[test]
fn doc_blocks_attach_to_the_next_definition() {
    let text = "\
##
# = Title
#
# Intro text.
##

##
# @Thing:
#
# What a thing is.
#
# @name: its name,
#     on two lines
#
# @kind: its kind
#
# Features:
#
# @fancy: may change
#
# Since: 1.0
#
# .. qmp-example::
#
#     -> { \"execute\": \"x\" }
##
{ 'struct': 'Thing', 'data': { 'name': 'str', 'kind': 'int' },
  'features': [ 'fancy' ] }
";
    let (_f, p) = parse(text);
    let Item::FreeDoc(free) = &p.items[0] else {
        panic!("free-form doc first: {:?}", p.items[0]);
    };
    assert_eq!(free.heading(), Some((1, "Title")));
    let d = defs(&p)[0].doc.as_ref().expect("attached");
    assert_eq!(d.symbol.as_deref(), Some("Thing"));
    assert_eq!(d.body, "What a thing is.");
    assert_eq!(d.args[0].name, "name");
    assert_eq!(d.args[0].text, "its name,\non two lines");
    assert_eq!(d.args[0].line, 12);
    assert_eq!(d.args[1].text, "its kind");
    assert_eq!(d.features[0].name, "fancy");
    assert_eq!(d.since(), Some("1.0"));
    let untagged = d.sections.iter().find(|s| s.tag.is_none()).unwrap();
    assert_eq!(
        untagged.text,
        ".. qmp-example::\n\n    -> { \"execute\": \"x\" }"
    );
    let s = load(text).unwrap();
    let t = s.ty(s.lookup("Thing").unwrap());
    assert_eq!(t.members()[0].doc, "its name,\non two lines");
    assert_eq!(t.features[0].doc, "may change");
    assert!(matches!(s.order[0].1, Entity::FreeDoc(0)));
    assert!(matches!(t.kind, TypeKind::Object { .. }));
}

#[test]
fn free_form_blocks_split_at_headings() {
    let (_f, p) = parse("##\n# = One\n#\n# Text.\n# == Two\n##\n");
    let heads: Vec<_> = p
        .items
        .iter()
        .filter_map(|i| match i {
            Item::FreeDoc(d) => d.heading().map(|(l, t)| (l, t.to_owned())),
            _ => None,
        })
        .collect();
    assert_eq!(heads, [(1, "One".to_owned()), (2, "Two".to_owned())]);
}

#[test]
fn doc_block_errors() {
    assert_eq!(
        error("##\n# @Foo:\n##\n\n{ 'include': 'x.json' }\n"),
        "main.json:1: documentation for 'Foo' is not followed by the definition"
    );
    assert_eq!(
        error("##\n# @Foo:\n##\n{ 'struct': 'Bar', 'data': {} }\n"),
        "main.json:4: documentation comment is for 'Foo'"
    );
    assert_eq!(
        error("##\n# Just text.\n##\n{ 'struct': 'Bar', 'data': {} }\n"),
        "main.json:1: definition documentation required"
    );
    assert_eq!(
        error("##\n#bad\n##\n"),
        "main.json:2: missing space after #"
    );
    assert_eq!(
        error("## junk\n##\n"),
        "main.json:1: column 1: junk after '##' at start of documentation comment"
    );
    assert_eq!(
        error("##\n# text\n"),
        "main.json:3: column 1: documentation comment must end with '##'"
    );
    assert_eq!(
        error("##\n# @Foo:\n# = Heading\n##\n{ 'struct': 'Foo', 'data': {} }\n"),
        "main.json:3: column 1: unexpected '=' markup in definition documentation"
    );
    assert_eq!(
        error(
            "##\n# @Foo:\n# Since: 1\n# @x: late\n##\n{ 'struct': 'Foo', 'data': { 'x': 'int' } }\n"
        ),
        "main.json:4: '@x:' can't follow 'Since' section"
    );
    assert_eq!(
        error("##\n# Prose\n# @x: here\n##\n"),
        "main.json:3: '@x:' not allowed in free-form documentation"
    );
    assert_eq!(
        error("##\n# @Foo:\n# Since: 1\n# Since: 2\n##\n{ 'struct': 'Foo', 'data': {} }\n"),
        "main.json:4: duplicated 'Since' section"
    );
    assert_eq!(
        error("##\n# @Foo:\n# Returns: x\n##\n{ 'struct': 'Foo', 'data': {} }\n"),
        "main.json:3: 'Returns' section is only valid for commands"
    );
}
