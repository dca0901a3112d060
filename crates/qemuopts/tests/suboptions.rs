//! The QemuOpts rules, one test per rule and per error text.

use qemuopts::{ErrorKind, Key, Kind, MAX_INPUT_LEN, Opts, OptsSpec, escape, parse, parse_any};

const VNC_KEYS: &[Key] = &[
    Key {
        name: "password",
        kind: Kind::Bool,
        help: "require VNC authentication",
    },
    Key {
        name: "to",
        kind: Kind::Number,
        help: "highest display number to try",
    },
    Key {
        name: "share",
        kind: Kind::Str,
        help: "sharing policy",
    },
    Key {
        name: "lossy",
        kind: Kind::Bool,
        help: "",
    },
    Key {
        name: "nodelay",
        kind: Kind::Bool,
        help: "a key that itself starts with no",
    },
    Key {
        name: "tls-creds",
        kind: Kind::Id,
        help: "",
    },
    Key {
        name: "tag",
        kind: Kind::Str,
        help: "repeatable",
    },
    Key {
        name: "size",
        kind: Kind::Size,
        help: "",
    },
];
const VNC: OptsSpec = OptsSpec {
    option: "vnc",
    implied: Some("vnc"),
    keys: VNC_KEYS,
    repeatable: &["tag"],
};

const MON_KEYS: &[Key] = &[
    Key {
        name: "chardev",
        kind: Kind::Str,
        help: "",
    },
    Key {
        name: "pretty",
        kind: Kind::Bool,
        help: "",
    },
];
const MONITOR: OptsSpec = OptsSpec {
    option: "monitor",
    implied: Some("chardev"),
    keys: MON_KEYS,
    repeatable: &[],
};

const NO_IMPLIED: OptsSpec = OptsSpec {
    option: "display",
    implied: None,
    keys: VNC_KEYS,
    repeatable: &["tag"],
};

const SECRET_KEYS: &[Key] = &[
    Key {
        name: "qom-type",
        kind: Kind::Str,
        help: "",
    },
    Key {
        name: "id",
        kind: Kind::Id,
        help: "",
    },
    Key {
        name: "data",
        kind: Kind::Str,
        help: "",
    },
    Key {
        name: "debug",
        kind: Kind::Bool,
        help: "",
    },
];
const SECRET: OptsSpec = OptsSpec {
    option: "object",
    implied: Some("qom-type"),
    keys: SECRET_KEYS,
    repeatable: &[],
};

fn pairs(opts: &Opts) -> Vec<(String, String)> {
    opts.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn err(spec: &OptsSpec, input: &str) -> String {
    parse(spec, input).unwrap_err().to_string()
}

#[test]
fn key_value_pairs_in_order() {
    let o = parse(&VNC, ":1,password=on,to=5").unwrap();
    assert_eq!(
        pairs(&o),
        [("vnc", ":1"), ("password", "on"), ("to", "5")].map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(o.get("vnc"), Some(":1"));
    assert_eq!(o.get_bool("password"), Some(true));
    assert_eq!(o.get_number("to"), Some(5));
    assert!(o.contains("to"));
    assert!(!o.contains("share"));
    assert_eq!(o.get("share"), None);
    assert_eq!(o.len(), 3);
}

#[test]
fn implied_first_value() {
    assert_eq!(parse(&VNC, ":1").unwrap().get("vnc"), Some(":1"));
    assert_eq!(
        parse(&VNC, "unix:/tmp/x.sock").unwrap().get("vnc"),
        Some("unix:/tmp/x.sock")
    );
    assert_eq!(parse(&VNC, "none").unwrap().get("vnc"), Some("none"));
    assert_eq!(
        parse(&MONITOR, "stdio").unwrap().get("chardev"),
        Some("stdio")
    );
    assert_eq!(
        parse(&MONITOR, "stdio,pretty=on")
            .unwrap()
            .get_bool("pretty"),
        Some(true)
    );
}

#[test]
fn implied_key_may_also_be_named() {
    assert_eq!(parse(&VNC, "vnc=:3,to=9").unwrap().get("vnc"), Some(":3"));
    assert_eq!(
        parse(&MONITOR, "chardev=mon0").unwrap().get("chardev"),
        Some("mon0")
    );
}

#[test]
fn implied_only_for_first_element() {
    // A later word without '=' is a flag, not a second implied value.
    assert_eq!(err(&VNC, ":1,:2"), "Invalid parameter ':2'");
}

#[test]
fn first_element_with_equals_is_a_pair() {
    let o = parse(&VNC, "password=on").unwrap();
    assert!(!o.contains("vnc"));
    assert_eq!(
        err(&VNC, "unix:/tmp/a=b"),
        "Invalid parameter 'unix:/tmp/a'"
    );
}

#[test]
fn double_comma_is_literal_in_values() {
    let o = parse(&VNC, ":1,share=a,,b,,,,c,to=1").unwrap();
    assert_eq!(o.get("share"), Some("a,b,,c"));
    assert_eq!(o.get_number("to"), Some(1));
    assert_eq!(parse(&VNC, ":1,share=,,").unwrap().get("share"), Some(","));
}

#[test]
fn double_comma_is_literal_in_implied_value() {
    assert_eq!(parse(&VNC, "a,,b,to=2").unwrap().get("vnc"), Some("a,b"));
    assert_eq!(parse(&VNC, ",,x").unwrap().get("vnc"), Some(",x"));
    // The '=' after an escaped comma does not turn the element into a pair.
    assert_eq!(parse(&VNC, "a,,b=c").unwrap().get("vnc"), Some("a,b=c"));
}

#[test]
fn value_may_contain_equals_and_be_empty() {
    let o = parse(&VNC, "share=a=b").unwrap();
    assert_eq!(o.get("share"), Some("a=b"));
    assert_eq!(parse(&VNC, "share=").unwrap().get("share"), Some(""));
}

#[test]
fn bare_bool_key_means_on() {
    let o = parse(&VNC, ":1,password").unwrap();
    assert_eq!(o.get_bool("password"), Some(true));
    assert_eq!(o.get("password"), Some("on"));
}

#[test]
fn no_prefix_means_off() {
    let o = parse(&VNC, ":1,nopassword").unwrap();
    assert_eq!(o.get_bool("password"), Some(false));
    assert_eq!(o.get("password"), Some("off"));
    assert!(!o.contains("nopassword"));
}

#[test]
fn exact_key_wins_over_no_prefix() {
    let o = parse(&VNC, ":1,nodelay").unwrap();
    assert_eq!(o.get_bool("nodelay"), Some(true));
}

#[test]
fn bare_flag_without_implied_key() {
    let o = parse(&NO_IMPLIED, "password,nolossy").unwrap();
    assert_eq!(o.get_bool("password"), Some(true));
    assert_eq!(o.get_bool("lossy"), Some(false));
}

#[test]
fn bare_non_bool_key_requires_value() {
    assert_eq!(err(&VNC, ":1,to"), "Parameter 'to' requires a value");
    assert_eq!(
        err(&VNC, ":1,noshare"),
        "Parameter 'share' requires a value"
    );
    assert_eq!(err(&NO_IMPLIED, "vnc"), "Invalid parameter 'vnc'");
    assert!(matches!(
        parse(&VNC, ":1,vnc").unwrap_err().kind(),
        ErrorKind::RequiresValue { key } if key == "vnc"
    ));
}

#[test]
fn bare_unknown_word_is_invalid_parameter() {
    assert_eq!(err(&VNC, ":1,foo"), "Invalid parameter 'foo'");
    assert_eq!(err(&VNC, ":1,nofoo"), "Invalid parameter 'nofoo'");
    assert_eq!(err(&VNC, ":1,no"), "Invalid parameter 'no'");
}

#[test]
fn bool_spellings() {
    for (v, b) in [
        ("on", true),
        ("yes", true),
        ("true", true),
        ("y", true),
        ("off", false),
        ("no", false),
        ("false", false),
        ("n", false),
    ] {
        let o = parse(&VNC, &format!(":1,password={v}")).unwrap();
        assert_eq!(o.get_bool("password"), Some(b), "{v}");
        assert_eq!(o.get("password"), Some(v), "the value is kept as written");
    }
}

#[test]
fn bad_bool_text() {
    assert_eq!(
        err(&VNC, ":1,password=maybe"),
        "Parameter 'password' expects 'on' or 'off'"
    );
    assert_eq!(
        err(&VNC, ":1,password="),
        "Parameter 'password' expects 'on' or 'off'"
    );
    assert_eq!(
        err(&VNC, ":1,password=ON"),
        "Parameter 'password' expects 'on' or 'off'"
    );
}

#[test]
fn numbers() {
    assert_eq!(parse(&VNC, "to=0x10").unwrap().get_number("to"), Some(16));
    assert_eq!(parse(&VNC, "to=010").unwrap().get_number("to"), Some(8));
    assert_eq!(
        parse(&VNC, "to=18446744073709551615")
            .unwrap()
            .get_number("to"),
        Some(u64::MAX)
    );
}

#[test]
fn bad_number_text() {
    assert_eq!(err(&VNC, ":1,to=five"), "Parameter 'to' expects a number");
    assert_eq!(err(&VNC, ":1,to="), "Parameter 'to' expects a number");
    assert_eq!(err(&VNC, ":1,to=-1"), "Parameter 'to' expects a number");
    assert_eq!(err(&VNC, ":1,to=5k"), "Parameter 'to' expects a number");
}

#[test]
fn number_too_large_text() {
    assert_eq!(
        err(&VNC, ":1,to=18446744073709551616"),
        "Value '18446744073709551616' is too large for parameter 'to'"
    );
}

#[test]
fn sizes() {
    let o = parse(&VNC, "size=64k").unwrap();
    assert_eq!(o.get_number("size"), Some(65536));
    assert_eq!(o.get("size"), Some("64k"));
    assert_eq!(
        parse(&VNC, "size=1.5M").unwrap().get_number("size"),
        Some(3 << 19)
    );
}

#[test]
fn bad_size_text_and_hint() {
    let e = parse(&VNC, "size=lots").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Parameter 'size' expects a non-negative number below 2^64"
    );
    assert_eq!(
        e.hint(),
        Some(
            "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively."
        )
    );
    assert_eq!(
        err(&VNC, "size=-1k"),
        "Value '-1k' is out of range for parameter 'size'"
    );
    assert_eq!(
        err(&VNC, "size=16E"),
        "Value '16E' is out of range for parameter 'size'"
    );
}

#[test]
fn identifiers() {
    assert_eq!(
        parse(&VNC, "tls-creds=tls0").unwrap().get("tls-creds"),
        Some("tls0")
    );
    let e = parse(&VNC, "tls-creds=0tls").unwrap_err();
    assert_eq!(e.to_string(), "Parameter 'tls-creds' expects an identifier");
    assert_eq!(
        e.hint(),
        Some("Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.")
    );
    assert!(qemuopts::is_identifier("sec0"));
}

#[test]
fn unknown_key_text() {
    assert_eq!(err(&VNC, ":1,foo=bar"), "Invalid parameter 'foo'");
    assert!(matches!(
        parse(&VNC, ":1,foo=bar").unwrap_err().kind(),
        ErrorKind::InvalidParameter { key } if key == "foo"
    ));
}

#[test]
fn empty_key_text() {
    assert_eq!(err(&VNC, ":1,=x"), "Parameter name missing before '='");
    assert_eq!(err(&VNC, "=x"), "Parameter name missing before '='");
}

#[test]
fn empty_element_text() {
    assert_eq!(err(&VNC, ",password=on"), "Empty parameter (stray ',')");
    assert_eq!(
        err(&NO_IMPLIED, ",password=on"),
        "Empty parameter (stray ',')"
    );
    // ",," escapes only inside values: after a bare flag it leaves an empty element.
    assert_eq!(
        err(&VNC, ":1,password,,to=1"),
        "Empty parameter (stray ',')"
    );
    assert_eq!(err(&VNC, ","), "Empty parameter (stray ',')");
}

#[test]
fn empty_input_gives_empty_opts() {
    assert!(parse(&VNC, "").unwrap().is_empty());
}

#[test]
fn one_trailing_comma_is_ignored_like_qemu() {
    assert_eq!(parse(&VNC, ":1,password=on,").unwrap().len(), 2);
    assert_eq!(
        parse(&VNC, ":1,password,").unwrap().get_bool("password"),
        Some(true)
    );
}

#[test]
fn help_is_requested() {
    for (spec, input) in [
        (&VNC, ":1,help"),
        (&VNC, ":1,?"),
        (&VNC, "password=on,help"),
        (&NO_IMPLIED, "help,password"),
    ] {
        let e = parse(spec, input).unwrap_err();
        assert!(e.is_help_request(), "{input}");
        assert_eq!(e.to_string(), "help requested");
    }
    // As the implied first element, "help" is a value (the binary decides).
    assert_eq!(parse(&VNC, "help").unwrap().get("vnc"), Some("help"));
    assert!(parse(&NO_IMPLIED, "help").unwrap_err().is_help_request());
}

#[test]
fn first_error_is_the_leftmost() {
    assert_eq!(
        err(&VNC, ":1,foo=1,password=maybe"),
        "Invalid parameter 'foo'"
    );
    assert_eq!(
        err(&VNC, ":1,password=maybe,foo=1"),
        "Parameter 'password' expects 'on' or 'off'"
    );
    assert_eq!(err(&VNC, ":1,foo=1,=x"), "Invalid parameter 'foo'");
}

#[test]
fn repeated_key_last_wins() {
    let o = parse(&VNC, ":1,to=1,password=on,to=2").unwrap();
    assert_eq!(o.get_number("to"), Some(2));
    assert_eq!(o.get_all("to"), vec!["2"]);
    // The survivor sits where it was last written.
    let keys: Vec<&str> = o.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["vnc", "password", "to"]);
    let o = parse(&VNC, ":1,password,nopassword").unwrap();
    assert_eq!(o.get_bool("password"), Some(false));
}

#[test]
fn repeatable_key_keeps_all() {
    let o = parse(&VNC, ":1,tag=a,to=1,tag=b,,c,tag=d").unwrap();
    assert_eq!(o.get_all("tag"), vec!["a", "b,c", "d"]);
    assert_eq!(o.get("tag"), Some("d"));
}

#[test]
fn with_option_prefixes_location() {
    let e = parse(&VNC, ":1,foo=bar")
        .unwrap_err()
        .with_option("vnc", ":1,foo=bar");
    assert_eq!(e.to_string(), "-vnc :1,foo=bar: Invalid parameter 'foo'");
    let e = e.with_option("-display", "x");
    assert_eq!(e.to_string(), "-display x: Invalid parameter 'foo'");
    assert!(matches!(e.kind(), ErrorKind::InvalidParameter { .. }));
}

#[test]
fn too_long_input_is_refused() {
    let long = format!("share={}", "x".repeat(MAX_INPUT_LEN));
    let e = parse(&VNC, &long).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::TooLong { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "Option string is {} bytes long, the limit is {MAX_INPUT_LEN}",
            MAX_INPUT_LEN + 6
        )
    );
    assert!(parse_any(&long, None).is_err());
    let fits = format!("share={}", "x".repeat(MAX_INPUT_LEN - 6));
    assert!(parse(&VNC, &fits).is_ok());
}

#[test]
fn string_values_are_not_echoed_in_errors() {
    // A bad id or bool may be a mistyped secret: only the key is named.
    let msg = err(&SECRET, "secret,id=s,data=hunter2,debug=hunter2");
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[test]
fn parse_any_accepts_any_key_and_keeps_all() {
    let o = parse_any(
        "secret,id=sec0,data=a,,b,rules.0.match=x,data=c",
        Some("qom-type"),
    )
    .unwrap();
    assert_eq!(o.get("qom-type"), Some("secret"));
    assert_eq!(o.get("rules.0.match"), Some("x"));
    assert_eq!(o.get_all("data"), vec!["a,b", "c"]);
    assert_eq!(o.get("data"), Some("c"));
}

#[test]
fn parse_any_bare_words_follow_qemu() {
    let o = parse_any("debug,noverbose,help", None).unwrap();
    assert_eq!(o.get("debug"), Some("on"));
    assert_eq!(o.get("verbose"), Some("off"));
    assert_eq!(o.get("help"), Some("on"));
    assert_eq!(o.get_bool("verbose"), Some(false));
}

#[test]
fn parse_any_syntax_errors() {
    assert_eq!(
        parse_any("a=1,=x", None).unwrap_err().to_string(),
        "Parameter name missing before '='"
    );
    assert_eq!(
        parse_any(",a=1", None).unwrap_err().to_string(),
        "Empty parameter (stray ',')"
    );
}

#[test]
fn check_keys_validates_like_parse() {
    let input = "secret,id=sec0,data=x,,y,debug";
    let checked = parse_any(input, Some("qom-type"))
        .unwrap()
        .check_keys(&SECRET)
        .unwrap();
    assert_eq!(checked, parse(&SECRET, input).unwrap());
    assert_eq!(checked.get_bool("debug"), Some(true));

    let bad = parse_any("secret,id=sec0,file=/x", Some("qom-type")).unwrap();
    assert_eq!(
        bad.check_keys(&SECRET).unwrap_err().to_string(),
        "Invalid parameter 'file'"
    );
    let bad = parse_any("secret,id=0bad", Some("qom-type")).unwrap();
    assert_eq!(
        bad.check_keys(&SECRET).unwrap_err().to_string(),
        "Parameter 'id' expects an identifier"
    );
    let bad = parse_any("secret,debug=perhaps", Some("qom-type")).unwrap();
    assert_eq!(
        bad.check_keys(&SECRET).unwrap_err().to_string(),
        "Parameter 'debug' expects 'on' or 'off'"
    );
    let help = parse_any("secret,help", Some("qom-type")).unwrap();
    assert!(help.check_keys(&SECRET).unwrap_err().is_help_request());
}

#[test]
fn check_keys_rereads_bare_words() {
    // parse_any read "nodelay" as delay=off; the spec has a key "nodelay".
    let o = parse_any(":1,nodelay", Some("vnc")).unwrap();
    assert_eq!(o.get("delay"), Some("off"));
    let checked = o.check_keys(&VNC).unwrap();
    assert_eq!(checked.get_bool("nodelay"), Some(true));
    assert!(!checked.contains("delay"));
}

#[test]
fn check_keys_applies_last_wins() {
    let o = parse_any("debug=on,debug=off", None).unwrap();
    assert_eq!(o.get_all("debug").len(), 2);
    assert_eq!(o.check_keys(&SECRET).unwrap().get_all("debug"), vec!["off"]);
}

#[test]
fn typed_getters_return_none_for_other_kinds() {
    let o = parse(&VNC, ":1,share=on,to=1,password=on").unwrap();
    assert_eq!(o.get_bool("share"), None);
    assert_eq!(o.get_number("password"), None);
    assert_eq!(o.get_bool("to"), None);
    assert_eq!(o.get_bool("absent"), None);
}

#[test]
fn display_is_canonical_and_escaped() {
    let o = parse(&VNC, ":1,share=a,,b,password").unwrap();
    assert_eq!(o.to_string(), "vnc=:1,share=a,,b,password=on");
    assert_eq!(
        parse_any(&o.to_string(), None)
            .unwrap()
            .check_keys(&VNC)
            .unwrap(),
        o
    );
    assert_eq!(escape("a,b,,c"), "a,,b,,,,c");
}

#[test]
fn help_text_lists_keys() {
    let text = MONITOR.help_text();
    assert_eq!(
        text,
        "monitor options:\n  chardev=<str>\n  pretty=<bool (on/off)>\n"
    );
}
