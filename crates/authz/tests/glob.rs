//! `glob_match` against GLib's rules, a reference model, and pathological input.

use std::time::{Duration, Instant};

use authz::glob_match;
use proptest::prelude::*;

/// Plain recursive matcher: obviously right, exponential in the worst case.
fn reference(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
        Some(('?', rest)) => !s.is_empty() && reference(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && reference(rest, &s[1..]),
    }
}

#[test]
fn glib_examples() {
    assert!(glob_match("*", ""));
    assert!(glob_match("?*", "x"));
    assert!(!glob_match("?*", ""));
    assert!(glob_match("*?", "x"));
    assert!(glob_match("CN=*,O=Example", "CN=a*b,O=Example"));
    assert!(glob_match("a**b", "ab"));
    assert!(glob_match("日本?", "日本語"));
    assert!(!glob_match("日本?", "日本"));
    assert!(glob_match("*語", "日本語"));
    assert!(!glob_match("*x", "日本語"));
}

fn assert_fast(pattern: &str, s: &str, expect: bool) {
    let start = Instant::now();
    assert_eq!(glob_match(pattern, s), expect, "{pattern:.40}… vs {s:.40}…");
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "{took:?} for {pattern:.40}… vs {s:.40}…"
    );
}

#[test]
fn pathological_patterns_finish_fast() {
    // Exponential for a backtracking matcher: many stars, and a last literal
    // that is missing from the string.
    let many_stars = format!("{}b", "a*".repeat(60));
    let as_only = "a".repeat(20_000);
    assert_fast(&many_stars, &as_only, false);
    assert_fast(&format!("{}a", "a*".repeat(60)), &as_only, true);
    assert_fast(&"*a".repeat(500), &as_only, true);
    assert_fast(&format!("{}b", "*?".repeat(300)), &as_only, false);
    assert_fast(&format!("*{}b*", "a".repeat(50)), &as_only, false);
    assert_fast(&"*".repeat(10_000), &as_only, true);
    assert_fast(&"?".repeat(20_001), &as_only, false);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn agrees_with_reference(
        p in prop::collection::vec(prop_oneof![Just('*'), Just('?'), Just('a'), Just('b'), Just('é')], 0..10),
        s in prop::collection::vec(prop_oneof![Just('a'), Just('b'), Just('é'), Just('*')], 0..12),
    ) {
        let ps: String = p.iter().collect();
        let ss: String = s.iter().collect();
        prop_assert_eq!(glob_match(&ps, &ss), reference(&p, &s), "{} vs {}", ps, ss);
    }

    #[test]
    fn literal_text_matches_itself(s in "\\PC{0,20}") {
        let literal = s.replace(['*', '?'], "");
        prop_assert!(glob_match(&literal, &literal));
    }
}
