use super::*;
use proptest::prelude::*;
use serde_json::json;

/// Feeds `input` in one piece and collects everything it yields.
fn parse_all(input: &[u8]) -> Vec<Result<Value, ParseError>> {
    let mut s = JsonStream::new();
    s.feed(input);
    s.by_ref().collect()
}

/// The descriptions of the errors, and the values, in order.
fn outcome(input: &[u8]) -> Vec<Result<Value, String>> {
    parse_all(input)
        .into_iter()
        .map(|r| r.map_err(|e| e.desc().to_owned()))
        .collect()
}

fn err(desc: &str) -> Result<Value, String> {
    Err(desc.to_owned())
}

#[test]
fn parses_every_value_type() {
    let input = br#"{"a": [1, -2, 3.5, -0.25e2, 1E3, true, false, null, "s", {}], "b": {"c": []}}"#;
    assert_eq!(
        outcome(input),
        vec![Ok(
            json!({"a": [1, -2, 3.5, -25.0, 1000.0, true, false, null, "s", {}], "b": {"c": []}})
        )]
    );
}

#[test]
fn integers_are_i64_then_u64_then_double() {
    let out = outcome(b"[9223372036854775807, 9223372036854775808, -9223372036854775809, 18446744073709551616, -0]");
    assert_eq!(out.len(), 1);
    let Ok(Value::Array(items)) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(items[0].as_i64(), Some(i64::MAX));
    assert_eq!(items[1].as_u64(), Some(1 << 63));
    assert!(items[1].as_i64().is_none());
    assert_eq!(items[2].as_f64(), Some(-9_223_372_036_854_775_809.0));
    assert!(items[2].is_f64());
    assert_eq!(items[3].as_f64(), Some(18_446_744_073_709_551_616.0));
    assert_eq!(items[4].as_i64(), Some(0));
}

#[test]
fn single_quoted_strings_and_quote_escapes() {
    assert_eq!(
        outcome(br#"{'execute': 'it''s', "a": 'say "hi"', 'b': "\'\"", 'c': 'don\'t'}"#),
        vec![err("JSON parse error, expected ',' or '}'")]
    );
    assert_eq!(
        outcome(br#"{'execute': 'x', "a": 'say "hi"', 'b': "\'\"", 'c': 'don\'t'}"#),
        vec![Ok(
            json!({"execute": "x", "a": "say \"hi\"", "b": "'\"", "c": "don't"})
        )]
    );
}

#[test]
fn escapes_and_surrogate_pairs_decode() {
    assert_eq!(
        outcome(br#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00\u0000""#),
        vec![Ok(json!("\"\\/\u{8}\u{c}\n\r\t\u{41}é€😀\0"))]
    );
    // Raw UTF-8, and modified UTF-8's NUL.
    assert_eq!(outcome("'é€😀'".as_bytes()), vec![Ok(json!("é€😀"))]);
    assert_eq!(outcome(b"\"a\xC0\x80b\""), vec![Ok(json!("a\0b"))]);
}

#[test]
fn invalid_strings_have_qemu_texts() {
    for (input, desc) in [
        (
            &br#""\x""#[..],
            "JSON parse error, invalid escape sequence in string",
        ),
        (
            br#""\uD800""#,
            "JSON parse error, \\uD800 is not a valid Unicode character",
        ),
        (
            br#""\uD800\u0041""#,
            "JSON parse error, \\uD800 is not a valid Unicode character",
        ),
        (
            br#""\uDC00""#,
            "JSON parse error, \\uDC00 is not a valid Unicode character",
        ),
        (
            br#""\uFFFE""#,
            "JSON parse error, \\uFFFE is not a valid Unicode character",
        ),
        (
            br#""\uD83F\uDFFF""#,
            "JSON parse error, \\uD83F\\uDFFF is not a valid Unicode character",
        ),
        (
            br#""\u12G4""#,
            "JSON parse error, \\u12G4 is not a valid Unicode character",
        ),
        (
            br#""\u12""#,
            "JSON parse error, \\u12\" is not a valid Unicode character",
        ),
        (
            b"\"\xC3\"",
            "JSON parse error, invalid UTF-8 sequence in string",
        ),
        (
            b"\"\x80\"",
            "JSON parse error, invalid UTF-8 sequence in string",
        ),
        (
            b"\"\xC1\x81\"",
            "JSON parse error, invalid UTF-8 sequence in string",
        ),
        (
            b"\"\xED\xA0\x80\"",
            "JSON parse error, invalid UTF-8 sequence in string",
        ),
        (
            b"\"\xEF\xBF\xBE\"",
            "JSON parse error, invalid UTF-8 sequence in string",
        ),
        (
            b"\"\xF4\x90\x80\x80\"",
            "JSON parse error, invalid UTF-8 sequence in string",
        ),
    ] {
        assert_eq!(outcome(input), vec![err(desc)], "{input:?}");
    }
}

#[test]
fn syntax_errors_have_qemu_texts() {
    for (input, desc) in [
        (
            &br#"{ "execute": }"#[..],
            "JSON parse error, expecting value",
        ),
        (b"}", "JSON parse error, expecting value"),
        (b"]", "JSON parse error, expecting value"),
        (b",", "JSON parse error, expecting value"),
        (b"[1,]", "JSON parse error, expecting value"),
        (b"{1: 2}", "JSON parse error, expecting key"),
        (b"{,}", "JSON parse error, expecting key"),
        (br#"{"a" 1}"#, "JSON parse error, expecting ':'"),
        (
            br#"{"a": 1 "b": 2}"#,
            "JSON parse error, expected ',' or '}'",
        ),
        (br#"{"a": 1]"#, "JSON parse error, expected ',' or '}'"),
        (b"[1 2]", "JSON parse error, expected ',' or ']'"),
        (br#"{"a": 1, "a": 2}"#, "JSON parse error, duplicate key"),
        (b"[nul]", "JSON parse error, invalid keyword 'nul'"),
        (b"[1e999]", "JSON parse error, number out of range"),
    ] {
        assert_eq!(
            outcome(input),
            vec![err(desc)],
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn syntax_error_is_reported_before_the_message_ends() {
    let mut s = JsonStream::new();
    s.feed(b"{'execute': foo\n");
    let first = s.next().expect("error reported at once");
    assert_eq!(
        first.unwrap_err().desc(),
        "JSON parse error, invalid keyword 'foo'"
    );
    assert!(s.next().is_none());
    // The rest of the message is skipped, the next one parses.
    s.feed(b", 'x': [1, {}]\n}{'execute': 'stop'}");
    assert_eq!(s.next(), Some(Ok(json!({"execute": "stop"}))));
    assert_eq!(s.next(), None);
}

#[test]
fn lexical_errors_report_the_token_so_far() {
    assert_eq!(outcome(b"@"), vec![err("JSON parse error, stray '@'")]);
    assert_eq!(outcome(b"-x"), vec![err("JSON parse error, stray '-x'")]);
    assert_eq!(outcome(b"01"), vec![err("JSON parse error, stray '01'")]);
    assert_eq!(outcome(b"1.}"), vec![err("JSON parse error, stray '1.}'")]);
    assert_eq!(
        outcome(b"1e+}"),
        vec![err("JSON parse error, stray '1e+}'")]
    );
    assert_eq!(
        outcome(b"\xff"),
        vec![err("JSON parse error, stray '\u{FFFD}'")]
    );
    assert_eq!(
        outcome(b"\x1b"),
        vec![err("JSON parse error, stray '\x1b'")]
    );
    // A C string stops at NUL.
    assert_eq!(outcome(b"\x00"), vec![err("JSON parse error, stray ''")]);
    assert_eq!(
        outcome(b"\"ab\tc\"}"),
        vec![
            err("JSON parse error, stray '\"ab\t'"),
            err("JSON parse error, expecting value")
        ]
    );
}

#[test]
fn lexical_error_resynchronizes_at_structural_characters() {
    // As in QEMU: the stray '@' resets, recovery skips to the '}', which is
    // then a token of its own.
    assert_eq!(
        outcome(br#"{"a": @ "b"} {"ok": 1}"#),
        vec![
            err("JSON parse error, stray '@'"),
            err("JSON parse error, expecting value"),
            Ok(json!({"ok": 1})),
        ]
    );
}

#[test]
fn control_character_resets_a_half_read_message() {
    for reset in [&b"\x1b"[..], b"\xff", b"\x04", b"\xfe"] {
        let mut input = br#"{"execute": "x", "arguments": {"a": [1, "#.to_vec();
        input.extend_from_slice(reset);
        input.extend_from_slice(b"\n{\"execute\": \"stop\"}");
        let out = outcome(&input);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(
            out[0]
                .as_ref()
                .unwrap_err()
                .starts_with("JSON parse error, stray '")
        );
        assert_eq!(out[1], Ok(json!({"execute": "stop"})));
    }
}

#[test]
fn unterminated_string_ends_at_the_line_end() {
    assert_eq!(
        outcome(b"{\"execute\": \"stop\n{\"execute\": \"cont\"}"),
        vec![
            err("JSON parse error, stray '\"stop\n'"),
            Ok(json!({"execute": "cont"}))
        ]
    );
}

#[test]
fn several_values_per_read_and_top_level_scalars() {
    assert_eq!(
        outcome(b"{}[]\"s\" 'q' 12 3.5 true null false{\"a\":1}"),
        vec![
            Ok(json!({})),
            Ok(json!([])),
            Ok(json!("s")),
            Ok(json!("q")),
            Ok(json!(12)),
            Ok(json!(3.5)),
            Ok(json!(true)),
            Ok(json!(null)),
            Ok(json!(false)),
            Ok(json!({"a": 1})),
        ]
    );
}

#[test]
fn zero_followed_by_exponent_lexes_as_qemu_does() {
    // IN_ZERO has no exponent transition: "0e5" is 0, then keyword "e", then 5.
    assert_eq!(
        outcome(b"0e5 "),
        vec![
            Ok(json!(0)),
            err("JSON parse error, invalid keyword 'e'"),
            Ok(json!(5)),
        ]
    );
}

#[test]
fn number_waits_for_its_end() {
    let mut s = JsonStream::new();
    s.feed(b"12");
    assert_eq!(s.next(), None);
    s.feed(b"3\n");
    assert_eq!(s.next(), Some(Ok(json!(123))));
}

#[test]
fn nesting_limit_reports_and_recovers() {
    let ok = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
    assert_eq!(outcome(ok.as_bytes()).len(), 1);
    assert!(outcome(ok.as_bytes())[0].is_ok());

    let deep = format!(
        "{}{}{{\"execute\": \"stop\"}}",
        "[".repeat(MAX_NESTING + 1000),
        "]".repeat(MAX_NESTING + 1000)
    );
    assert_eq!(
        outcome(deep.as_bytes()),
        vec![
            err("JSON nesting depth limit exceeded"),
            Ok(json!({"execute": "stop"})),
        ]
    );
}

#[test]
fn size_limit_reports_and_recovers() {
    let big = format!(
        "{{\"execute\": \"x\", \"arguments\": {{\"s\": \"{}\"}}}}{{\"execute\": \"stop\"}}",
        "a{".repeat(MAX_MESSAGE_BYTES)
    );
    let mut s = JsonStream::new();
    s.feed(big.as_bytes());
    let first = s.next().expect("limit error");
    assert_eq!(first.unwrap_err().kind(), ParseErrorKind::Limit);
    // The braces inside the long string do not count: it is still a string.
    assert_eq!(s.next(), Some(Ok(json!({"execute": "stop"}))));
    assert_eq!(s.next(), None);
    assert!(s.token.capacity() <= TOKEN_KEEP_CAPACITY);
    assert!(s.parser.stack.is_empty());

    let just_fits = format!("\"{}\"", "a".repeat(MAX_MESSAGE_BYTES - 2));
    assert!(outcome(just_fits.as_bytes())[0].is_ok());
    let too_big = format!("\"{}\"", "a".repeat(MAX_MESSAGE_BYTES - 1));
    assert_eq!(
        outcome(too_big.as_bytes()),
        vec![err("JSON token size limit exceeded")]
    );
}

#[test]
fn token_count_limit_reports_and_recovers() {
    let n = MAX_MESSAGE_TOKENS / 2;
    let many = format!("[{}0]{{}}", "0,".repeat(n));
    assert_eq!(
        outcome(many.as_bytes()),
        vec![err("JSON token count limit exceeded"), Ok(json!({}))]
    );
}

#[test]
fn long_stray_token_is_echoed_up_to_the_cap() {
    let input = format!("\"{}\x01", "b".repeat(5000));
    let out = outcome(input.as_bytes());
    let desc = out[0].as_ref().unwrap_err();
    assert_eq!(desc.len(), "JSON parse error, stray ''".len() + MAX_ECHO);
}

#[test]
fn long_keyword_message_is_cut_like_qemus_buffer() {
    let input = format!("[{}]", "k".repeat(3000));
    let out = outcome(input.as_bytes());
    let desc = out[0].as_ref().unwrap_err();
    assert_eq!(desc.len(), "JSON parse error, ".len() + MAX_PARSER_MESSAGE);
    assert!(desc.starts_with("JSON parse error, invalid keyword 'kkk"));
}

#[test]
fn values_survive_any_split_point() {
    let input: &[u8] = b"{'execute': 'a', \"id\": [1, 2.5e-3, \"\\u00e9\\ud83d\\ude00\"]}\n@ {\"x\": tru} 17 {\"execute\":\"b\"}\xff[\"\xc3\xa9\"]";
    let whole = outcome(input);
    assert_eq!(whole.len(), 7, "{whole:?}");
    for split in 0..=input.len() {
        let mut s = JsonStream::new();
        s.feed(&input[..split]);
        let mut got: Vec<_> = s.by_ref().collect();
        s.feed(&input[split..]);
        got.extend(s.by_ref());
        let got: Vec<_> = got
            .into_iter()
            .map(|r| r.map_err(|e| e.desc().to_owned()))
            .collect();
        assert_eq!(got, whole, "split at {split}");
    }
}

/// Arbitrary JSON values of bounded size and depth.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Equality up to the integer/double distinction of numbers.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            x.as_f64() == y.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Strings QEMU's writer and parser both keep (no noncharacters).
fn qemu_clean(v: &Value) -> bool {
    let clean = |s: &str| {
        !s.chars().any(|c| {
            let cp = u32::from(c);
            (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE
        })
    };
    match v {
        Value::String(s) => clean(s),
        Value::Array(items) => items.iter().all(qemu_clean),
        Value::Object(map) => map.iter().all(|(k, v)| clean(k) && qemu_clean(v)),
        _ => true,
    }
}

proptest! {
    #[test]
    fn writer_output_parses_back_at_any_split(
        value in json_value().prop_filter("no noncharacters", qemu_clean),
        pretty in any::<bool>(),
        split in any::<prop::sample::Index>(),
    ) {
        let text = crate::qmp::writer::to_string(&value, pretty);
        prop_assert!(text.is_ascii());
        let bytes = text.as_bytes();
        let at = split.index(bytes.len() + 1);
        let mut s = JsonStream::new();
        s.feed(&bytes[..at]);
        let mut got: Vec<_> = s.by_ref().collect();
        s.feed(&bytes[at..]);
        s.feed(b" ");
        got.extend(s.by_ref());
        prop_assert_eq!(got.len(), 1);
        let parsed = got.pop().unwrap().unwrap();
        // Doubles print with 17 significant digits, which round-trip exactly
        // (an integral double comes back as an integer, as in QEMU).
        prop_assert!(same_json(&parsed, &value), "{parsed:?} != {value:?}");
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..64),
    ) {
        let mut s = JsonStream::new();
        for chunk in &chunks {
            s.feed(chunk);
            for _ in s.by_ref() {}
            prop_assert_eq!(s.buffered(), 0);
            prop_assert!(s.out.is_empty());
            prop_assert!(s.token.len() <= MAX_MESSAGE_BYTES + 1);
            prop_assert!(s.parser.stack.len() <= MAX_NESTING);
        }
    }

    #[test]
    fn structural_soup_recovers(
        soup in prop::collection::vec(
            prop::sample::select(vec![
                &b"{"[..], b"}", b"[", b"]", b":", b",", b"\"k\"", b"'v'", b"1", b"nul", b"@", b" ",
            ]),
            0..200,
        ),
    ) {
        // Whatever came before, a control character and then a good request
        // always parse.
        let mut s = JsonStream::new();
        for piece in &soup {
            s.feed(piece);
        }
        for _ in s.by_ref() {}
        s.feed(b"\x1b{\"execute\": \"stop\"}");
        let items: Vec<_> = s.by_ref().collect();
        prop_assert_eq!(items.last(), Some(&Ok(json!({"execute": "stop"}))));
        prop_assert!(items.iter().any(|i| i.as_ref().is_err_and(|e| e.kind() == ParseErrorKind::Lexical)));
    }
}
