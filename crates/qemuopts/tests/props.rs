//! Property tests: escaping round-trips, and no input panics.

use proptest::prelude::*;
use qemuopts::{Key, Kind, OptionDef, OptsSpec, escape, parse, parse_any, split_args};

const KEYS: &[Key] = &[
    Key {
        name: "s",
        kind: Kind::Str,
        help: "",
    },
    Key {
        name: "b",
        kind: Kind::Bool,
        help: "",
    },
    Key {
        name: "n",
        kind: Kind::Number,
        help: "",
    },
    Key {
        name: "z",
        kind: Kind::Size,
        help: "",
    },
    Key {
        name: "id",
        kind: Kind::Id,
        help: "",
    },
    Key {
        name: "r",
        kind: Kind::Str,
        help: "",
    },
];
const SPEC: OptsSpec = OptsSpec {
    option: "t",
    implied: Some("first"),
    keys: KEYS,
    repeatable: &["r"],
};
const SPEC_NO_IMPLIED: OptsSpec = OptsSpec {
    option: "t",
    implied: None,
    keys: KEYS,
    repeatable: &["r"],
};

const DEFS: &[OptionDef] = &[
    OptionDef {
        name: "vnc",
        arg: Some("display"),
        help: "",
    },
    OptionDef {
        name: "S",
        arg: None,
        help: "",
    },
];

/// Strings rich in the characters that matter to the syntax.
fn syntax_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just(','.to_string()),
            Just('='.to_string()),
            Just("no".to_string()),
            Just("help".to_string()),
            Just("s".to_string()),
            Just("b".to_string()),
            Just("n".to_string()),
            Just("z".to_string()),
            Just("r".to_string()),
            Just("0x".to_string()),
            "[0-9.kMGE-]{0,3}",
            any::<char>().prop_map(|c| c.to_string()),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn escaped_value_round_trips(value in any::<String>(), key in "[a-z][a-z0-9-]{0,7}") {
        let input = format!("{key}={}", escape(&value));
        let opts = parse_any(&input, None).unwrap();
        prop_assert_eq!(opts.get(&key), Some(value.as_str()));
        prop_assert_eq!(opts.len(), 1);

        let opts = parse(&SPEC, &format!("s={}", escape(&value))).unwrap();
        prop_assert_eq!(opts.get("s"), Some(value.as_str()));
    }

    #[test]
    fn escaped_value_round_trips_among_others(value in any::<String>()) {
        let input = format!("first,s={},b=on,n=7", escape(&value));
        let opts = parse(&SPEC, &input).unwrap();
        prop_assert_eq!(opts.get("s"), Some(value.as_str()));
        prop_assert_eq!(opts.get_bool("b"), Some(true));
        prop_assert_eq!(opts.get_number("n"), Some(7));
    }

    #[test]
    fn escaped_implied_value_round_trips(value in any::<String>()) {
        // An implied value is recognised only if no '=' precedes its first ','.
        let first_delim = value.find(['=', ',']);
        prop_assume!(!value.is_empty());
        prop_assume!(first_delim.is_none_or(|i| value.as_bytes()[i] == b','));
        let opts = parse(&SPEC, &format!("{},s=x", escape(&value))).unwrap();
        prop_assert_eq!(opts.get("first"), Some(value.as_str()));
        prop_assert_eq!(opts.get("s"), Some("x"));
    }

    #[test]
    fn display_round_trips(entries in proptest::collection::vec(("[a-z][a-z0-9.-]{0,5}", any::<String>()), 0..6)) {
        let input = entries
            .iter()
            .map(|(k, v)| format!("{k}={}", escape(v)))
            .collect::<Vec<_>>()
            .join(",");
        let opts = parse_any(&input, None).unwrap();
        let got: Vec<(String, String)> = opts.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        prop_assert_eq!(&got, &entries);
        prop_assert_eq!(parse_any(&opts.to_string(), None).unwrap(), opts);
    }

    #[test]
    fn numbers_round_trip(n in any::<u64>()) {
        prop_assert_eq!(parse(&SPEC, &format!("n={n}")).unwrap().get_number("n"), Some(n));
        prop_assert_eq!(parse(&SPEC, &format!("n={n:#x}")).unwrap().get_number("n"), Some(n));
        prop_assert_eq!(parse(&SPEC, &format!("z={n}")).unwrap().get_number("z"), Some(n));
    }

    #[test]
    fn sizes_scale(n in 0u64..(1 << 44)) {
        prop_assert_eq!(parse(&SPEC, &format!("z={n}k")).unwrap().get_number("z"), Some(n << 10));
        prop_assert_eq!(parse(&SPEC, &format!("z={n}M")).unwrap().get_number("z"), Some(n << 20));
    }

    #[test]
    fn arbitrary_input_never_panics(input in any::<String>()) {
        let _ = parse(&SPEC, &input);
        let _ = parse(&SPEC_NO_IMPLIED, &input);
        if let Ok(opts) = parse_any(&input, Some("first")) {
            let _ = opts.check_keys(&SPEC);
            let _ = opts.to_string();
        }
    }

    #[test]
    fn syntax_heavy_input_never_panics_and_agrees(input in syntax_string()) {
        let direct = parse(&SPEC, &input);
        if let Ok(opts) = parse_any(&input, Some("first")) {
            // Validating later gives the same outcome as validating at once.
            prop_assert_eq!(opts.check_keys(&SPEC), direct);
        } else {
            prop_assert!(direct.is_err());
        }
        let _ = parse(&SPEC_NO_IMPLIED, &input);
    }

    #[test]
    fn arbitrary_argv_never_panics(args in proptest::collection::vec(
        prop_oneof![Just("-vnc".to_string()), Just("--S".to_string()), Just("-".to_string()), any::<String>()],
        0..8,
    )) {
        let _ = split_args(DEFS, args);
    }
}
