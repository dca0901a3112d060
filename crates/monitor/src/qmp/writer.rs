//! QEMU's JSON output, byte for byte: `qobject/json-writer.c` over QEMU's
//! `QDict` iteration order.
//!
//! - Members of an object come out in the order QEMU's `QDict` iterates
//!   them: by hash bucket (`tdb_hash(key) % 512`, `qobject/qdict.c`). That is
//!   why QEMU's greeting reads `"micro", "minor", "major"`, a success reply
//!   `{"return": …, "id": …}`, an error reply `{"id": …, "error": …}` and an
//!   event `{"timestamp": …, "event": …, "data": …}`. Keys that share a
//!   bucket come out in QEMU in reverse insertion order, which a
//!   [`serde_json::Map`] does not remember; they come out here in byte order
//!   (right for the greeting's `micro`/`minor` pair).
//! - Compact output separates members with `", "` and keys from values with
//!   `": "`. Pretty output puts every member on its own line, indented by four
//!   spaces per level, and an empty container as `{` newline `}`.
//! - Output is ASCII: `"` `\` and the five short escapes (`\b \f \n \r \t`),
//!   every other character below U+0020 or from U+007F up as `\uXXXX`
//!   (upper-case hex, surrogate pairs above U+FFFF). Unicode noncharacters,
//!   which QEMU's decoder treats as invalid, come out as `\uFFFD`.
//! - Integers print as integers; other numbers as C's `%.17g`.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// Number of hash buckets in a QEMU `QDict` (`QDICT_BUCKET_MAX`).
const QDICT_BUCKET_MAX: u32 = 512;

/// Spaces per nesting level in pretty output.
const INDENT: usize = 4;

/// Serializes `value` as QEMU does (`qobject_to_json_pretty(value, pretty)`),
/// without a line end.
pub fn to_string(value: &Value, pretty: bool) -> String {
    let mut writer = Writer {
        out: String::new(),
        pretty,
        depth: 0,
    };
    writer.value(value);
    writer.out
}

/// The bucket QEMU's `QDict` files `key` under: `tdb_hash(key) % 512`.
///
/// QEMU stores strings in modified UTF-8, so U+0000 hashes as `C0 80`.
pub fn qdict_bucket(key: &str) -> u32 {
    let nuls = key.bytes().filter(|&b| b == 0).count();
    // `0x238F13AF * strlen(name)` in C's 32-bit unsigned arithmetic.
    let len = low32(u64::try_from(key.len() + nuls).unwrap_or(u64::MAX));
    let mut value = 0x238F_13AF_u32.wrapping_mul(len);
    let mut i = 0usize;
    let mut add = |b: u8| {
        let shift = u32::try_from(i.wrapping_mul(5) % 24).unwrap_or(0);
        value = value.wrapping_add(u32::from(b) << shift);
        i += 1;
    };
    for b in key.bytes() {
        if b == 0 {
            add(0xC0);
            add(0x80);
        } else {
            add(b);
        }
    }
    1_103_515_243_u32.wrapping_mul(value).wrapping_add(12345) % QDICT_BUCKET_MAX
}

/// The keys of `map` in the order QEMU's `QDict` iterates them.
pub fn qdict_order(map: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<(u32, &String)> = map.keys().map(|k| (qdict_bucket(k), k)).collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

/// The low 32 bits of `x`.
fn low32(x: u64) -> u32 {
    let b = x.to_le_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// C's `printf("%.17g", f)`, as `json_writer_double()` prints a double.
pub fn format_double(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // 17 significant digits, rounded once: the exponent decides the style.
    let sci = format!("{f:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        let decimals = usize::try_from(16 - exp).unwrap_or(0);
        let fixed = format!("{f:.decimals$}");
        strip_fraction_zeros(&fixed).to_owned()
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            strip_fraction_zeros(mantissa),
            exp.unsigned_abs()
        )
    }
}

/// `%g` drops trailing zeros of the fraction, and the point if nothing is left.
fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Whether QEMU's `mod_utf8_codepoint()` rejects `c` as a noncharacter.
fn is_noncharacter(c: char) -> bool {
    let cp = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE
}

/// Appends `s` as a quoted JSON string in QEMU's ASCII-only form.
pub fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='\u{7e}' => out.push(c),
            _ => {
                let cp = if is_noncharacter(c) {
                    0xFFFD
                } else {
                    u32::from(c)
                };
                if cp > 0xFFFF {
                    let v = cp - 0x1_0000;
                    let _ = write!(
                        out,
                        "\\u{:04X}\\u{:04X}",
                        0xD800 + (v >> 10),
                        0xDC00 + (v & 0x3FF)
                    );
                } else {
                    let _ = write!(out, "\\u{cp:04X}");
                }
            }
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        out.push_str(&format_double(f));
    } else {
        // Only reachable with serde_json's arbitrary-precision numbers.
        out.push_str(&n.to_string());
    }
}

/// `JSONWriter` state: the text so far and the container depth.
struct Writer {
    out: String,
    pretty: bool,
    depth: usize,
}

impl Writer {
    /// `pretty_newline()`: a line break and the indentation of `depth`.
    fn newline(&mut self) {
        if self.pretty {
            self.out.push('\n');
            self.out
                .extend(std::iter::repeat_n(' ', self.depth * INDENT));
        }
    }

    /// What goes before the `index`th member of the current container.
    fn separator(&mut self, index: usize) {
        if index > 0 {
            self.out.push(',');
            if !self.pretty {
                self.out.push(' ');
            }
        }
        self.newline();
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Bool(true) => self.out.push_str("true"),
            Value::Bool(false) => self.out.push_str("false"),
            Value::Number(n) => write_number(&mut self.out, n),
            Value::String(s) => write_quoted(&mut self.out, s),
            Value::Array(items) => {
                self.out.push('[');
                self.depth += 1;
                for (i, item) in items.iter().enumerate() {
                    self.separator(i);
                    self.value(item);
                }
                self.depth -= 1;
                self.newline();
                self.out.push(']');
            }
            Value::Object(map) => {
                self.out.push('{');
                self.depth += 1;
                for (i, key) in qdict_order(map).into_iter().enumerate() {
                    self.separator(i);
                    write_quoted(&mut self.out, key);
                    self.out.push_str(": ");
                    self.value(&map[key]);
                }
                self.depth -= 1;
                self.newline();
                self.out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn qdict_order_matches_qemu_greeting_and_replies() {
        let greeting = json!({"QMP": {"version": {"qemu": {"major": 10, "minor": 2, "micro": 50},
            "package": ""}, "capabilities": ["oob"]}});
        assert_eq!(
            to_string(&greeting, false),
            r#"{"QMP": {"version": {"qemu": {"micro": 50, "minor": 2, "major": 10}, "package": ""}, "capabilities": ["oob"]}}"#
        );
        assert_eq!(
            to_string(&json!({"id": 1, "return": {}}), false),
            r#"{"return": {}, "id": 1}"#
        );
        assert_eq!(
            to_string(
                &json!({"id": "a", "error": {"desc": "d", "class": "GenericError"}}),
                false
            ),
            r#"{"id": "a", "error": {"class": "GenericError", "desc": "d"}}"#
        );
        assert_eq!(
            to_string(
                &json!({"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"},
                    "timestamp": {"microseconds": 2, "seconds": 1}}),
                false
            ),
            // As QEMU's iotests record it.
            r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}"#
        );
    }

    #[test]
    fn qdict_bucket_is_tdb_hash_mod_512() {
        // Values from QEMU's tdb_hash() compiled in C.
        for (key, bucket) in [
            ("data", 505),
            ("timestamp", 26),
            ("event", 361),
            ("micro", 225),
            ("minor", 225),
            ("major", 481),
            ("return", 401),
            ("id", 486),
            ("error", 489),
            // Hashed as "a\xC0\x80b".
            ("a\0b", 344),
        ] {
            assert_eq!(qdict_bucket(key), bucket, "{key}");
        }
    }

    #[test]
    fn doubles_print_as_percent_17g() {
        // Expected strings from glibc's printf("%.17g").
        for (f, s) in [
            (0.1, "0.10000000000000001"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (1e20, "1e+20"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (1.5e-7, "1.4999999999999999e-07"),
            (std::f64::consts::PI, "3.1415926535897931"),
            (-0.0, "-0"),
            (2.5, "2.5"),
            (1e-300, "1e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
            (100.0, "100"),
            (0.300_000_000_000_000_04, "0.30000000000000004"),
            (12345.678, "12345.678"),
        ] {
            assert_eq!(format_double(f), s, "{f:e}");
            assert_eq!(to_string(&json!(f), false), s);
        }
    }

    #[test]
    fn integers_print_exactly() {
        assert_eq!(to_string(&json!(i64::MIN), false), "-9223372036854775808");
        assert_eq!(to_string(&json!(u64::MAX), false), "18446744073709551615");
    }

    #[test]
    fn strings_are_ascii_with_qemu_escapes() {
        let s = "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é€😀\u{fffe}\u{fdd0}\0/'";
        assert_eq!(
            to_string(&json!(s), false),
            r#""a\"b\\c\b\f\n\r\t\u0001\u001F\u007F\u00E9\u20AC\uD83D\uDE00\uFFFD\uFFFD\u0000/'""#
        );
        assert!(to_string(&json!({ s: [s] }), true).is_ascii());
    }

    #[test]
    fn pretty_output_indents_like_json_writer() {
        let v = json!({"return": {"a": [1, 2], "e": [], "o": {}}, "id": 1});
        assert_eq!(
            to_string(&v, true),
            "{\n    \"return\": {\n        \"e\": [\n        ],\n        \"o\": {\n        },\n        \"a\": [\n            1,\n            2\n        ]\n    },\n    \"id\": 1\n}"
        );
        assert_eq!(to_string(&json!([]), true), "[\n]");
        assert_eq!(to_string(&json!("x"), true), "\"x\"");
    }

    #[test]
    fn compact_output_separates_with_spaces() {
        assert_eq!(
            to_string(&json!([1, [], {}, null, true, false]), false),
            "[1, [], {}, null, true, false]"
        );
    }
}
