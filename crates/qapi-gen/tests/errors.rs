//! Every schema error names the file and line. The texts follow QEMU's where QEMU has
//! one (`scripts/qapi/expr.py`, `schema.py`).

mod common;

use common::{Files, error, load};
use qapi_gen::Config;

#[test]
fn unknown_type_in_member() {
    assert_eq!(
        error(
            "{ 'struct': 'VncInfo',\n  'data': { 'enabled': 'bool',\n            'bar': 'Foo' } }\n"
        ),
        "main.json:3: member 'bar' of struct 'VncInfo' uses unknown type 'Foo'"
    );
    assert_eq!(
        error("{ 'command': 'cmd', 'data': { 'arg': ['Nope'] } }\n"),
        "main.json:1: array type 'NopeList' uses unknown type 'Nope'"
    );
    assert_eq!(
        error("{ 'command': 'cmd',\n  'returns': 'Nope' }\n"),
        "main.json:1: command 'cmd' uses unknown type 'Nope'"
    );
    assert_eq!(
        error("{ 'event': 'EV', 'data': { 'x': 'Nope' } }\n"),
        "main.json:1: member 'x' of event 'EV' uses unknown type 'Nope'"
    );
    assert_eq!(
        error("{ 'command': 'cmd', 'data': { 'x': 'Nope' } }\n"),
        "main.json:1: parameter 'x' of command 'cmd' uses unknown type 'Nope'"
    );
}

#[test]
fn duplicate_definitions() {
    assert_eq!(
        error("{ 'enum': 'Foo', 'data': [ 'a' ] }\n\n{ 'struct': 'Foo', 'data': {} }\n"),
        "main.json:3: 'Foo' is already defined (previous definition at main.json:1)"
    );
    assert_eq!(
        error("{ 'struct': 'Foo', 'data': {} }\n{ 'command': 'Foo' }\n"),
        "main.json:2: name of command must not use uppercase or '_'"
    );
    assert_eq!(
        error("{ 'command': 'do-x' }\n{ 'event': 'EV' }\n{ 'command': 'do-x' }\n"),
        "main.json:3: 'do-x' is already defined (previous definition at main.json:1)"
    );
    assert_eq!(
        error("{ 'struct': 'StrList', 'data': {} }\n"),
        "main.json:1: struct name should not end in 'List'"
    );
}

#[test]
fn naming_rules() {
    assert_eq!(
        error("{ 'command': 'set_thing' }\n"),
        "main.json:1: name of command must not use uppercase or '_'"
    );
    assert!(
        load("{ 'pragma': { 'command-name-exceptions': [ 'set_thing' ] } }\n{ 'command': 'set_thing' }\n")
            .is_ok()
    );
    assert_eq!(
        error("{ 'event': 'vnc-connected' }\n"),
        "main.json:1: name of event must not use lowercase or '-'"
    );
    assert_eq!(
        error("{ 'struct': 'lower', 'data': {} }\n"),
        "main.json:1: name of struct must use CamelCase"
    );
    assert_eq!(
        error("{ 'struct': 'Foo', 'data': { 'x509_dname': 'str' } }\n"),
        "main.json:1: name of 'data' member 'x509_dname' must not use uppercase or '_'"
    );
    assert!(
        load("{ 'pragma': { 'member-name-exceptions': [ 'Foo' ] } }\n{ 'struct': 'Foo', 'data': { 'x509_dname': 'str' } }\n")
            .is_ok()
    );
    assert_eq!(
        error("{ 'struct': 'Foo', 'data': { 'has-x': 'str' } }\n"),
        "main.json:1: 'data' member 'has-x' uses reserved name"
    );
    assert_eq!(
        error("{ 'struct': 'q_obj_Foo', 'data': {} }\n"),
        "main.json:1: struct has an invalid name"
    );
    assert!(load("{ 'enum': 'Digits', 'data': [ '0', '1', 'x-two' ] }\n").is_ok());
}

#[test]
fn keys_and_flags() {
    assert_eq!(
        error("{ 'struct': 'Foo' }\n"),
        "main.json:1: struct misses key 'data'"
    );
    assert_eq!(
        error("{ 'struct': 'Foo',\n  'data': {},\n  'colour': 'red' }\n"),
        "main.json:3: struct has unknown key 'colour'; valid keys are 'base', 'data', 'features', 'if', 'struct'"
    );
    assert_eq!(
        error("{ 'enum': 'Enm', 'struct': 'Foo', 'data': [] }\n"),
        "main.json:1: expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command', 'event'"
    );
    assert_eq!(
        error("{ 'command': 'cmd', 'boxed': true }\n"),
        "main.json:1: 'boxed': true requires 'data'"
    );
    assert_eq!(
        error("{ 'command': 'cmd',\n  'gen': true }\n"),
        "main.json:2: flag 'gen' may only use false value"
    );
    assert_eq!(
        error("{ 'command': 'cmd', 'allow-oob': true, 'coroutine': true }\n"),
        "main.json:1: flags 'allow-oob' and 'coroutine' are incompatible"
    );
}

#[test]
fn conditions() {
    assert_eq!(
        error("{ 'struct': 'Foo', 'data': {}, 'if': 'config_vnc' }\n"),
        "main.json:1: 'if' condition 'config_vnc' of struct is not a valid identifier"
    );
    assert_eq!(
        error("{ 'struct': 'Foo', 'data': {}, 'if': { 'all': [] } }\n"),
        "main.json:1: 'if' condition [] of struct is useless"
    );
    assert_eq!(
        error("{ 'struct': 'Foo', 'data': {}, 'if': { 'all': ['A'], 'any': ['B'] } }\n"),
        "main.json:1: 'if' condition of struct has conflicting keys"
    );
    // An enabled definition using a disabled one fails only in that configuration.
    let text = "{ 'struct': 'Spice', 'data': {}, 'if': 'CONFIG_SPICE' }\n\
                { 'command': 'query-spice',\n  'returns': 'Spice' }\n";
    let f = Files::new(&[("main.json", text)]);
    assert!(f.load(&Config::new(["CONFIG_SPICE"])).is_ok());
    assert_eq!(
        f.load(&Config::default()).unwrap_err(),
        "main.json:2: command 'query-spice' uses type 'Spice', which its 'if' condition disables"
    );
}

#[test]
fn struct_base_and_members() {
    assert_eq!(
        error(
            "{ 'enum': 'Enm', 'data': [ 'a' ] }\n{ 'struct': 'Foo', 'base': 'Enm', 'data': {} }\n"
        ),
        "main.json:2: 'base' requires a struct type, enum type 'Enm' isn't"
    );
    assert_eq!(
        error(
            "{ 'struct': 'Foo', 'base': 'Bar', 'data': {} }\n{ 'struct': 'Bar', 'base': 'Foo', 'data': {} }\n"
        ),
        "main.json:1: object Foo contains itself"
    );
    assert_eq!(
        error(
            "{ 'struct': 'Base', 'data': { 'host': 'str' } }\n\
             { 'struct': 'Foo', 'base': 'Base',\n  'data': { 'host': 'int' } }\n"
        ),
        "main.json:3: member 'host' of struct 'Foo' collides with member 'host' of struct 'Base'"
    );
    assert_eq!(
        error("{ 'struct': 'Foo', 'data': { 'a-b': 'int', 'a_b': 'int' } }\n"),
        "main.json:1: name of 'data' member 'a_b' must not use uppercase or '_'"
    );
    assert_eq!(
        error("{ 'struct': 'Foo', 'data': { 'me': 'Foo' } }\n"),
        "main.json:1: struct type 'Foo' contains itself without an array in between, which Rust cannot represent"
    );
    assert!(load("{ 'struct': 'Tree', 'data': { 'kids': ['Tree'] } }\n").is_ok());
}

const UNION_BASE: &str = "{ 'enum': 'Kind', 'data': [ 'a', 'b' ] }\n\
                          { 'struct': 'Abc', 'data': { 'x': 'int' } }\n";

#[test]
fn union_discriminator_and_branches() {
    let u = |rest: &str| error(&format!("{UNION_BASE}{rest}"));
    assert_eq!(
        u(
            "{ 'union': 'Uni', 'base': { 'kind': 'Kind' }, 'discriminator': 'type',\n  'data': { 'a': 'Abc' } }\n"
        ),
        "main.json:3: discriminator 'type' is not a member of 'base'"
    );
    assert_eq!(
        u(
            "{ 'union': 'Uni', 'base': { 'kind': 'str' }, 'discriminator': 'kind', 'data': { 'a': 'Abc' } }\n"
        ),
        "main.json:3: discriminator member 'kind' of 'base' must be of enum type"
    );
    assert_eq!(
        u(
            "{ 'union': 'Uni', 'base': { '*kind': 'Kind' }, 'discriminator': 'kind', 'data': { 'a': 'Abc' } }\n"
        ),
        "main.json:3: discriminator member 'kind' of 'base' must not be optional"
    );
    assert_eq!(
        u(
            "{ 'union': 'Uni', 'base': { 'kind': 'Kind' }, 'discriminator': 'kind',\n  'data': {\n    'c': 'Abc' } }\n"
        ),
        "main.json:5: branch 'c' is not a value of enum type 'Kind'"
    );
    assert_eq!(
        u(
            "{ 'union': 'Uni', 'base': { 'kind': 'Kind' }, 'discriminator': 'kind', 'data': { 'a': 'str' } }\n"
        ),
        "main.json:3: branch 'a' of union 'Uni' cannot use built-in type 'str'"
    );
    assert_eq!(
        u(
            "{ 'union': 'Uni', 'base': { 'kind': 'Kind', 'x': 'str' }, 'discriminator': 'kind', 'data': { 'a': 'Abc' } }\n"
        ),
        "main.json:3: member 'x' of struct 'Abc' collides with base member 'x' of union 'Uni'"
    );
    assert_eq!(
        u(
            "{ 'struct': 'Bcd', 'data': { 'kind': 'Kind' } }\n{ 'union': 'Uni', 'base': 'Bcd', 'discriminator': 'kind', 'data': { 'a': 'Abc' } }\n{ 'command': 'cmd', 'data': 'Uni' }\n"
        ),
        "main.json:5: command's 'data' can take union type 'Uni' only with 'boxed': true"
    );
    let ok = load(&format!(
        "{UNION_BASE}{{ 'union': 'Uni', 'base': {{ 'kind': 'Kind' }}, 'discriminator': 'kind', 'data': {{ 'a': 'Abc' }} }}\n"
    ))
    .unwrap();
    let v = ok.ty(ok.lookup("Uni").unwrap()).variants().unwrap();
    let cases: Vec<(&str, bool)> = v
        .branches
        .iter()
        .map(|b| (b.name.as_str(), b.explicit))
        .collect();
    assert_eq!(
        cases,
        [("a", true), ("b", false)],
        "missing branches are empty, added last"
    );
}

#[test]
fn alternates() {
    assert_eq!(
        error("{ 'alternate': 'Alt', 'data': { 'a': 'str', 'b': 'int' } }\n"),
        "main.json:1: branch 'b' of alternate 'Alt' can't be distinguished from 'a'"
    );
    assert_eq!(
        error("{ 'alternate': 'Alt', 'data': { 'a': 'any' } }\n"),
        "main.json:1: branch 'a' of alternate 'Alt' cannot use built-in type 'any'"
    );
    assert!(
        load("{ 'alternate': 'Alt', 'data': { 'a': 'str', 'b': 'null', 'c': ['int'] } }\n").is_ok()
    );
}

#[test]
fn command_returns_and_data() {
    assert_eq!(
        error("{ 'command': 'get-name',\n  'returns': 'str' }\n"),
        "main.json:1: command's 'returns' cannot take built-in type 'str'"
    );
    assert!(
        load("{ 'pragma': { 'command-returns-exceptions': [ 'get-name' ] } }\n{ 'command': 'get-name', 'returns': 'str' }\n")
            .is_ok()
    );
    assert_eq!(
        error("{ 'enum': 'Enm', 'data': [ 'a' ] }\n{ 'command': 'cmd', 'data': 'Enm' }\n"),
        "main.json:2: command's 'data' cannot take enum type 'Enm'"
    );
    assert_eq!(
        error("{ 'enum': 'Enm', 'data': [ 'a' ] }\n{ 'event': 'EV', 'data': 'Enm' }\n"),
        "main.json:2: event's 'data' cannot take enum type 'Enm'"
    );
}

#[test]
fn features() {
    assert_eq!(
        error("{ 'struct': 'Foo', 'data': {}, 'features': [ 'deprecated' ] }\n"),
        "main.json:1: feature 'deprecated' is not supported for types"
    );
    assert_eq!(
        error("{ 'command': 'cmd', 'features': [ 'Bad' ] }\n"),
        "main.json:1: name of 'features' member 'Bad' must not use uppercase or '_'"
    );
}

#[test]
fn documentation_checks() {
    let req = "{ 'pragma': { 'doc-required': true } }\n";
    assert_eq!(
        error(&format!("{req}{{ 'struct': 'Foo', 'data': {{}} }}\n")),
        "main.json:2: documentation comment required"
    );
    assert_eq!(
        error(&format!(
            "{req}##\n# @Foo:\n#\n# @nope: gone\n##\n{{ 'struct': 'Foo', 'data': {{}} }}\n"
        )),
        "main.json:5: documented member 'nope' does not exist"
    );
    assert_eq!(
        error(&format!(
            "{req}##\n# @Foo:\n##\n{{ 'struct': 'Foo', 'data': {{ 'x': 'int' }} }}\n"
        )),
        "main.json:2: member 'x' lacks documentation"
    );
    assert_eq!(
        error(&format!(
            "{req}##\n# @Enm:\n##\n{{ 'enum': 'Enm', 'data': [ 'a' ] }}\n"
        )),
        "main.json:2: value 'a' lacks documentation"
    );
    assert!(
        load(&format!(
            "{req}{{ 'pragma': {{ 'documentation-exceptions': [ 'Enm' ] }} }}\n##\n# @Enm:\n##\n{{ 'enum': 'Enm', 'data': [ 'a' ] }}\n"
        ))
        .is_ok()
    );
    assert_eq!(
        error(&format!(
            "{req}##\n# @cmd:\n#\n# @x: the x\n##\n{{ 'command': 'cmd', 'data': {{ 'x': 'int' }}, 'features': [ 'fast' ] }}\n"
        )),
        "main.json:2: feature 'fast' lacks documentation"
    );
}

#[test]
fn porthole_pragmas() {
    assert_eq!(
        error(
            "{ 'pragma': { 'secret-members': [ 'Foo.pw' ] } }\n{ 'struct': 'Foo', 'data': { 'pw': 'int' } }\n"
        ),
        "main.json:1: secret member 'Foo.pw' must be of type 'str'"
    );
    assert_eq!(
        error(
            "{ 'pragma': { 'secret-members': [\n  'Foo.nope' ] } }\n{ 'struct': 'Foo', 'data': { 'pw': 'str' } }\n"
        ),
        "main.json:2: secret member 'Foo.nope' does not exist"
    );
    assert_eq!(
        error("{ 'pragma': { 'extensions': [ 'Nope' ] } }\n"),
        "main.json:1: extension 'Nope' does not exist"
    );
    let s = load(
        "{ 'pragma': { 'secret-members': [ 'cmd.pw', 'Uni.key' ], 'extensions': [ 'cmd', 'Foo.x' ] } }\n\
         { 'enum': 'Knd', 'data': [ 'a' ] }\n\
         { 'struct': 'Foo', 'data': { 'x': 'int' } }\n\
         { 'union': 'Uni', 'base': { 'k': 'Knd', 'key': 'str' }, 'discriminator': 'k', 'data': { 'a': 'Foo' } }\n\
         { 'command': 'cmd', 'data': { 'pw': 'str' } }\n",
    )
    .unwrap();
    assert!(s.commands[0].extension);
    let arg = s.commands[0].arg.unwrap();
    assert!(s.ty(arg).members()[0].secret);
    let u = s.ty(s.lookup("Uni").unwrap());
    assert!(u.members().iter().any(|m| m.name == "key" && m.secret));
    assert!(s.ty(s.lookup("Foo").unwrap()).members()[0].extension);
}

#[test]
fn rust_name_clashes() {
    assert_eq!(
        error("{ 'enum': 'Enm', 'data': [ 'kp0', 'kp-0' ] }\n"),
        "main.json:1: values 'kp0' and 'kp-0' of enum 'Enm' both become Rust variant 'Kp0'"
    );
    assert_eq!(
        error("{ 'struct': 'Event', 'data': {} }\n"),
        "main.json:1: struct type 'Event' needs the Rust type name 'Event', which the generated 'Event' already has"
    );
    assert_eq!(
        error(
            "{ 'struct': 'ScreendumpArgs', 'data': {} }\n{ 'command': 'screendump', 'data': { 'f': 'str' } }\n"
        ),
        "main.json:2: command 'screendump' needs the Rust type name 'ScreendumpArgs', which struct type 'ScreendumpArgs' already has"
    );
    assert_eq!(
        error(
            "{ 'enum': 'Knd', 'data': [ 'a' ] }\n{ 'struct': 'Bcd', 'data': { 'y': 'int' } }\n{ 'union': 'Un', 'base': { 'k': 'Knd', 'branch': 'str' }, 'discriminator': 'k', 'data': { 'a': 'Bcd' } }\n"
        ),
        "main.json:3: members '(the branch)' and 'branch' of 'Un' both become Rust field 'branch'"
    );
}
