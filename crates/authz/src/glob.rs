//! Shell-style wildcard matching with GLib's `g_pattern_match_simple` rules.

/// One pattern element between stars: a literal character, or `?` (`None`).
type Segment = Vec<Option<char>>;

/// Whether `s` matches `pattern` as a whole.
///
/// The rules are those of GLib's `g_pattern_match_simple`, which QEMU's
/// `authz-list` uses for `"format": "glob"`: `*` matches any run of characters
/// (including none), `?` matches exactly one character (a Unicode scalar value,
/// so one UTF-8 sequence, not one byte), and every other character, backslash
/// and brackets included, matches only itself. There is no escaping.
///
/// The pattern is cut at its stars into segments. The first segment must match
/// the start of `s`, the last one its end, and each one in between is matched
/// at its leftmost possible place after the previous one. Leftmost placement is
/// always optimal, so no star is ever revisited: the cost is at most
/// `O(len(pattern) × len(s))` and there is no exponential backtracking.
#[must_use]
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let text: Vec<char> = s.chars().collect();
    let mut segments: Vec<Segment> = pattern
        .split('*')
        .map(|seg| seg.chars().map(|c| (c != '?').then_some(c)).collect())
        .collect();
    // `split` always yields at least one item.
    let Some(last) = segments.pop() else {
        return text.is_empty();
    };
    if segments.is_empty() {
        // No star: the pattern must cover the string exactly.
        return last.len() == text.len() && matches_at(&last, &text);
    }
    let first = segments.remove(0);
    if first.len() + last.len() > text.len() {
        return false;
    }
    let (head, rest) = text.split_at(first.len());
    let (middle, tail) = rest.split_at(rest.len() - last.len());
    if !matches_at(&first, head) || !matches_at(&last, tail) {
        return false;
    }
    let mut pos = 0;
    for seg in &segments {
        match find(seg, &middle[pos..]) {
            Some(at) => pos += at + seg.len(),
            None => return false,
        }
    }
    true
}

/// Whether `seg` matches the first `seg.len()` characters of `text`.
fn matches_at(seg: &[Option<char>], text: &[char]) -> bool {
    seg.len() <= text.len() && seg.iter().zip(text).all(|(p, c)| p.is_none_or(|p| p == *c))
}

/// The leftmost index where `seg` matches inside `text`.
fn find(seg: &[Option<char>], text: &[char]) -> Option<usize> {
    if seg.len() > text.len() {
        return None;
    }
    (0..=text.len() - seg.len()).find(|&i| matches_at(seg, &text[i..]))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn literal_patterns_need_equality() {
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
        assert!(!glob_match("a", ""));
        assert!(glob_match("CN=x", "CN=x"));
        assert!(!glob_match("CN=x", "CN=xy"));
        assert!(!glob_match("CN=xy", "CN=x"));
    }

    #[test]
    fn star_and_question_mark() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("**", ""));
        assert!(glob_match("a*", "a"));
        assert!(glob_match("*a", "a"));
        assert!(!glob_match("a*a", "a"), "the two a's cannot overlap");
        assert!(glob_match("a*a", "aa"));
        assert!(glob_match("?", "é"), "one character, two bytes");
        assert!(!glob_match("??", "é"));
        assert!(!glob_match("?", ""));
        assert!(glob_match("*.example.com", "laptop.example.com"));
        assert!(!glob_match("*.example.com", "example.com"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxcyyb"));
        assert!(glob_match("*b*", "abc"));
        assert!(glob_match("a?c*", "abcdef"));
    }

    #[test]
    fn no_other_metacharacters() {
        assert!(glob_match("[ab]", "[ab]"));
        assert!(!glob_match("[ab]", "a"));
        assert!(glob_match("\\*", "\\anything"), "backslash does not escape");
        assert!(!glob_match("\\*", "*"));
        assert!(glob_match("{a,b}", "{a,b}"));
    }
}
