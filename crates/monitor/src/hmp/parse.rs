//! QEMU's HMP line syntax: command names, quoted strings, `args_type` strings and
//! the integer expression language, with QEMU's error texts.
//!
//! Everything works on byte offsets into the (UTF-8) line. Only ASCII bytes
//! (white space, quotes, backslashes, operators) ever delimit anything, so every
//! slice taken here is on a character boundary.

use std::ops::Range;

use zeroize::Zeroize;

/// QEMU's `get_str` copies into a 1024-byte buffer: at most 1023 bytes of an
/// argument are kept, the rest of it is skipped (QEMU truncates silently too).
pub(crate) const MAX_ARG_LEN: usize = 1023;

/// QEMU's `MAX_ARGS`: `help` takes at most this many words.
pub(crate) const MAX_CMDLINE_ARGS: usize = 16;

/// C's `isspace` in the C locale, as QEMU's `qemu_isspace`.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The first position at or after `p` that is not white space.
pub(crate) fn skip_space(line: &str, mut p: usize) -> usize {
    let bytes = line.as_bytes();
    while p < bytes.len() && is_space(bytes[p]) {
        p += 1;
    }
    p
}

/// Why `get_str` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrError {
    /// Nothing left on the line.
    Empty,
    /// A backslash escape other than `\n \r \\ \' \"`.
    BadEscape(char),
    /// A `"` string without its closing quote.
    Unterminated,
}

impl StrError {
    /// The line QEMU prints for this failure (it prints nothing for `Empty`).
    /// `secret`: the string being read is a password, so the offending
    /// character is not shown.
    pub(crate) fn message(&self, secret: bool) -> Option<String> {
        match self {
            Self::Empty => None,
            Self::BadEscape(_) if secret => Some("unsupported escape code\n".to_owned()),
            Self::BadEscape(c) => Some(format!("unsupported escape code: '\\{c}'\n")),
            Self::Unterminated => Some("unterminated string\n".to_owned()),
        }
    }
}

/// QEMU's `get_str`: one white-space separated word or one `"..."` string with
/// `\n \r \\ \' \"` escapes. Returns the value and the position after it.
pub(crate) fn get_str(line: &str, start: usize) -> Result<(String, usize), StrError> {
    let bytes = line.as_bytes();
    let mut p = skip_space(line, start);
    if p >= bytes.len() {
        return Err(StrError::Empty);
    }
    // Sized once, so a password is never left behind in a reallocated buffer.
    let mut out = String::with_capacity((bytes.len() - p).min(MAX_ARG_LEN));
    let push = |out: &mut String, c: char| {
        if out.len() + c.len_utf8() <= MAX_ARG_LEN {
            out.push(c);
        }
    };
    if bytes[p] == b'"' {
        p += 1;
        loop {
            let Some(c) = line[p..].chars().next() else {
                return Err(StrError::Unterminated);
            };
            match c {
                '"' => {
                    p += 1;
                    break;
                }
                '\\' => {
                    p += 1;
                    let Some(e) = line[p..].chars().next() else {
                        return Err(StrError::Unterminated);
                    };
                    p += e.len_utf8();
                    let v = match e {
                        'n' => '\n',
                        'r' => '\r',
                        '\\' | '\'' | '"' => e,
                        other => return Err(StrError::BadEscape(other)),
                    };
                    push(&mut out, v);
                }
                _ => {
                    p += c.len_utf8();
                    push(&mut out, c);
                }
            }
        }
    } else {
        let begin = p;
        while p < bytes.len() && !is_space(bytes[p]) {
            p += 1;
        }
        for c in line[begin..p].chars() {
            push(&mut out, c);
        }
    }
    Ok((out, p))
}

/// QEMU's `parse_cmdline` (used by `help`): all words of `text`. `Err` carries
/// what QEMU prints on failure (empty for too many words).
pub(crate) fn parse_cmdline(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut p = 0;
    loop {
        p = skip_space(text, p);
        if p >= text.len() {
            return Ok(words);
        }
        if words.len() >= MAX_CMDLINE_ARGS {
            return Err(String::new());
        }
        match get_str(text, p) {
            Ok((w, end)) => {
                words.push(w);
                p = end;
            }
            Err(e) => return Err(e.message(false).unwrap_or_default()),
        }
    }
}

/// QEMU's `get_command_name`: the command word starting at `start` (it ends
/// at white space or `/`) and the position after it; `None` for a blank rest.
pub(crate) fn get_command_name(line: &str, start: usize) -> Option<(&str, usize)> {
    let bytes = line.as_bytes();
    let begin = skip_space(line, start);
    if begin >= bytes.len() {
        return None;
    }
    let mut p = begin;
    while p < bytes.len() && bytes[p] != b'/' && !is_space(bytes[p]) {
        p += 1;
    }
    Some((&line[begin..p], p))
}

/// QEMU's `hmp_compare_cmd`: does `name` equal one of the `|`-separated
/// aliases in `list`?
pub(crate) fn compare_cmd(name: &str, list: &str) -> bool {
    list.split('|').any(|alias| alias == name)
}

/// A parsed argument value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
}

/// One parsed argument: its key, value and where its text sits in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arg {
    pub key: &'static str,
    pub value: Value,
    pub span: Range<usize>,
}

/// The arguments of one command, in the order parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Args {
    pub items: Vec<Arg>,
}

impl Args {
    fn put(&mut self, key: &'static str, value: Value, span: Range<usize>) {
        self.items.push(Arg { key, value, span });
    }

    fn get(&self, key: &str) -> Option<&Arg> {
        self.items.iter().rev().find(|a| a.key == key)
    }

    /// A string argument, if given.
    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        match self.get(key).map(|a| &a.value) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// A boolean flag (absent = false).
    #[cfg(test)]
    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key).map(|a| &a.value), Some(Value::Bool(true)))
    }

    /// An integer argument, if given.
    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        match self.get(key).map(|a| &a.value) {
            Some(Value::Int(v)) => Some(*v),
            _ => None,
        }
    }

    /// Where the text of argument `key` sits in the line.
    pub(crate) fn span(&self, key: &str) -> Option<Range<usize>> {
        self.get(key).map(|a| a.span.clone())
    }
}

impl Drop for Args {
    /// Arguments may hold a password: wipe every string.
    fn drop(&mut self) {
        for arg in &mut self.items {
            if let Value::Str(s) = &mut arg.value {
                s.zeroize();
            }
        }
    }
}

/// A failed argument parse: what QEMU prints (without the final
/// `Try "help ..."` line), the arguments parsed before the failure, and the
/// position in the line where the failing argument starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseFailure {
    pub output: String,
    pub partial: Args,
    pub pos: usize,
}

/// QEMU's `key_get_info`: from a position in an `args_type` string, the next
/// key and the position of its type character.
fn key_get_info(ts: &'static str, mut t: usize) -> Option<(&'static str, usize)> {
    if ts.as_bytes().get(t) == Some(&b',') {
        t += 1;
    }
    let colon = ts.get(t..)?.find(':')?;
    Some((&ts[t..t + colon], t + colon + 1))
}

/// QEMU's `monitor_parse_arguments`: parse `line[start..]` against the
/// `args_type` string of command `cmd_name`. `secret` names the argument that
/// holds a password (its characters never appear in a message).
pub(crate) fn parse_arguments(
    cmd_name: &str,
    args_type: &'static str,
    line: &str,
    start: usize,
    secret: Option<&str>,
) -> Result<Args, ParseFailure> {
    let ts = args_type.as_bytes();
    let bytes = line.as_bytes();
    let mut args = Args::default();
    let mut p = start;
    let mut t = 0;
    let fail = |output: String, args: Args, pos: usize| ParseFailure {
        output,
        partial: args,
        pos,
    };
    while let Some((key, tpos)) = key_get_info(args_type, t) {
        let Some(&c) = ts.get(tpos) else {
            return Err(fail(format!("{cmd_name}: unknown type ''\n"), args, p));
        };
        t = tpos + 1;
        match c {
            b'F' | b'B' | b's' => {
                p = skip_space(line, p);
                if ts.get(t) == Some(&b'?') {
                    t += 1;
                    if p >= bytes.len() {
                        continue;
                    }
                }
                match get_str(line, p) {
                    Ok((v, end)) => {
                        args.put(key, Value::Str(v), p..end);
                        p = end;
                    }
                    Err(e) => {
                        let mut out = e.message(secret == Some(key)).unwrap_or_default();
                        out.push_str(&match c {
                            b'F' => format!("{cmd_name}: filename expected\n"),
                            b'B' => format!("{cmd_name}: block device name expected\n"),
                            _ => format!("{cmd_name}: string expected\n"),
                        });
                        return Err(fail(out, args, p));
                    }
                }
            }
            b'S' => {
                p = skip_space(line, p);
                if ts.get(t) == Some(&b'?') {
                    t += 1;
                    if p >= bytes.len() {
                        continue;
                    }
                }
                if p >= bytes.len() {
                    return Err(fail(format!("{cmd_name}: string expected\n"), args, p));
                }
                args.put(key, Value::Str(line[p..].to_owned()), p..bytes.len());
                p = bytes.len();
            }
            b'i' => {
                p = skip_space(line, p);
                if ts.get(t) == Some(&b'?') {
                    t += 1;
                    if p >= bytes.len() {
                        continue;
                    }
                }
                let begin = p;
                let (val, end) = match eval_expr(line, p) {
                    Ok(r) => r,
                    Err(msg) => return Err(fail(format!("{msg}\n"), args, begin)),
                };
                if (val >> 32) & 0xffff_ffff != 0 {
                    return Err(fail(
                        format!("'{cmd_name}' has failed: integer is for 32-bit values\n"),
                        args,
                        begin,
                    ));
                }
                args.put(key, Value::Int(val), begin..end);
                p = end;
            }
            b'-' => {
                let tmp = p;
                let Some(&letter) = ts.get(t) else {
                    return Err(fail(format!("{cmd_name}: unknown type '-'\n"), args, p));
                };
                t += 1;
                p = skip_space(line, p);
                if bytes.get(p) == Some(&b'-') {
                    p += 1;
                    let given = line[p..].chars().next();
                    let mut skip_key = false;
                    if given != Some(char::from(letter)) {
                        // QEMU's is_valid_option: "-X" anywhere in the rest of
                        // the type string (a NUL after "-" matches any "-").
                        let opt = given.map_or_else(|| "-".to_owned(), |g| format!("-{g}"));
                        if !args_type[t..].contains(&opt) {
                            let shown = given.map(String::from).unwrap_or_default();
                            return Err(fail(
                                format!("{cmd_name}: unsupported option -{shown}\n"),
                                args,
                                tmp,
                            ));
                        }
                        skip_key = true;
                    }
                    if skip_key {
                        p = tmp;
                    } else if ts.get(t) == Some(&b's') {
                        t += 1;
                        p += 1;
                        p = skip_space(line, p);
                        match get_str(line, p) {
                            Ok((v, end)) => {
                                args.put(key, Value::Str(v), p..end);
                                p = end;
                            }
                            Err(e) => {
                                let mut out = e.message(secret == Some(key)).unwrap_or_default();
                                out.push_str(&format!(
                                    "{cmd_name}: value expected for -{}\n",
                                    char::from(letter)
                                ));
                                return Err(fail(out, args, p));
                            }
                        }
                    } else {
                        args.put(key, Value::Bool(true), p - 1..p + 1);
                        p += 1;
                    }
                } else if ts.get(t) == Some(&b's') {
                    t += 1;
                }
            }
            other => {
                return Err(fail(
                    format!("{cmd_name}: unknown type '{}'\n", char::from(other)),
                    args,
                    p,
                ));
            }
        }
    }
    p = skip_space(line, p);
    if p < bytes.len() {
        return Err(fail(
            format!("{cmd_name}: extraneous characters at the end of line\n"),
            args,
            p,
        ));
    }
    Ok(args)
}

/// QEMU's `get_expr`: evaluate the integer expression at `start`. Returns the
/// value and the position after it (trailing white space skipped), or QEMU's
/// error text.
pub(crate) fn eval_expr(line: &str, start: usize) -> Result<(i64, usize), String> {
    let mut e = Expr {
        s: line.as_bytes(),
        p: skip_space(line, start),
    };
    let v = e.sum()?;
    Ok((v, e.p))
}

struct Expr<'a> {
    s: &'a [u8],
    p: usize,
}

impl Expr<'_> {
    fn cur(&self) -> Option<u8> {
        self.s.get(self.p).copied()
    }

    fn skip_space(&mut self) {
        while self.cur().is_some_and(is_space) {
            self.p += 1;
        }
    }

    /// QEMU's `next()`: step over one character and the white space after it.
    fn next(&mut self) {
        if self.cur().is_some() {
            self.p += 1;
            self.skip_space();
        }
    }

    fn sum(&mut self) -> Result<i64, String> {
        let mut val = self.logic()?;
        while let Some(op @ (b'+' | b'-')) = self.cur() {
            self.next();
            let v2 = self.logic()?;
            val = if op == b'+' {
                val.wrapping_add(v2)
            } else {
                val.wrapping_sub(v2)
            };
        }
        Ok(val)
    }

    fn logic(&mut self) -> Result<i64, String> {
        let mut val = self.prod()?;
        while let Some(op @ (b'&' | b'|' | b'^')) = self.cur() {
            self.next();
            let v2 = self.prod()?;
            val = match op {
                b'&' => val & v2,
                b'|' => val | v2,
                _ => val ^ v2,
            };
        }
        Ok(val)
    }

    fn prod(&mut self) -> Result<i64, String> {
        let mut val = self.unary()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.cur() {
            self.next();
            let v2 = self.unary()?;
            val = match op {
                b'*' => val.wrapping_mul(v2),
                _ if v2 == 0 => return Err("division by zero".to_owned()),
                b'/' => val.wrapping_div(v2),
                _ => val.wrapping_rem(v2),
            };
        }
        Ok(val)
    }

    fn unary(&mut self) -> Result<i64, String> {
        match self.cur() {
            Some(b'+') => {
                self.next();
                self.unary()
            }
            Some(b'-') => {
                self.next();
                Ok(self.unary()?.wrapping_neg())
            }
            Some(b'~') => {
                self.next();
                Ok(!self.unary()?)
            }
            Some(b'(') => {
                self.next();
                let v = self.sum()?;
                if self.cur() != Some(b')') {
                    return Err("')' expected".to_owned());
                }
                self.next();
                Ok(v)
            }
            Some(b'\'') => {
                self.p += 1;
                let Some(c) = self.cur() else {
                    return Err("character constant expected".to_owned());
                };
                self.p += 1;
                if self.cur() != Some(b'\'') {
                    return Err("missing terminating ' character".to_owned());
                }
                self.next();
                // QEMU reads the character through a (signed) `char`.
                Ok(i64::from(i8::from_ne_bytes([c])))
            }
            Some(b'$') => {
                // Porthole has no CPU registers to name.
                self.p += 1;
                while self
                    .cur()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
                {
                    self.p += 1;
                }
                self.skip_space();
                Err("unknown register".to_owned())
            }
            None => Err("unexpected end of expression".to_owned()),
            Some(_) => self.number(),
        }
    }

    /// `strtoull(p, &end, 0)`: hexadecimal after `0x`, octal after `0`,
    /// decimal otherwise.
    fn number(&mut self) -> Result<i64, String> {
        let s = self.s;
        let at = |i: usize| s.get(i).copied();
        let begin = self.p;
        let (radix, digits_from) = if at(begin) == Some(b'0')
            && matches!(at(begin + 1), Some(b'x' | b'X'))
            && at(begin + 2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            (16, begin + 2)
        } else if at(begin) == Some(b'0') {
            (8, begin)
        } else {
            (10, begin)
        };
        let mut end = digits_from;
        let mut value: u64 = 0;
        let mut overflow = false;
        while let Some(d) = at(end).and_then(|c| char::from(c).to_digit(radix)) {
            match value
                .checked_mul(u64::from(radix))
                .and_then(|v| v.checked_add(u64::from(d)))
            {
                Some(v) => value = v,
                None => overflow = true,
            }
            end += 1;
        }
        if end == begin {
            let shown = std::str::from_utf8(&s[begin..])
                .ok()
                .and_then(|r| r.chars().next())
                .unwrap_or('?');
            return Err(format!("invalid char '{shown}' in expression"));
        }
        if overflow {
            return Err("number too large".to_owned());
        }
        self.p = end;
        self.skip_space();
        Ok(i64::from_ne_bytes(value.to_ne_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_str_words_and_quotes() {
        assert_eq!(get_str("  abc def", 0), Ok(("abc".to_owned(), 5)));
        assert_eq!(
            get_str(r#""a b\"c\\d\n""#, 0),
            Ok(("a b\"c\\d\n".to_owned(), 13))
        );
        assert_eq!(get_str(r#""it\'s""#, 0).map(|r| r.0), Ok("it's".to_owned()));
        assert_eq!(get_str(r#""a\tb""#, 0), Err(StrError::BadEscape('t')));
        assert_eq!(get_str(r#""abc"#, 0), Err(StrError::Unterminated));
        assert_eq!(get_str(r#""abc\"#, 0), Err(StrError::Unterminated));
        assert_eq!(get_str("   ", 0), Err(StrError::Empty));
        // A closing quote ends the word even when text follows directly.
        assert_eq!(get_str(r#""ab"cd"#, 0), Ok(("ab".to_owned(), 4)));
    }

    #[test]
    fn get_str_truncates_like_qemu() {
        let long = "x".repeat(MAX_ARG_LEN + 10);
        let (v, end) = get_str(&long, 0).unwrap();
        assert_eq!(v.len(), MAX_ARG_LEN);
        assert_eq!(end, long.len());
        // Never splits a multi-byte character.
        let long = "é".repeat(MAX_ARG_LEN);
        let (v, _) = get_str(&long, 0).unwrap();
        assert!(v.len() <= MAX_ARG_LEN && v.len() >= MAX_ARG_LEN - 1);
    }

    #[test]
    fn secret_escape_message_hides_the_character() {
        assert_eq!(
            StrError::BadEscape('q').message(true).unwrap(),
            "unsupported escape code\n"
        );
        assert_eq!(
            StrError::BadEscape('q').message(false).unwrap(),
            "unsupported escape code: '\\q'\n"
        );
    }

    #[test]
    fn command_name_stops_at_slash_and_space() {
        assert_eq!(get_command_name("  info vnc", 0), Some(("info", 6)));
        assert_eq!(get_command_name("x/10i", 0), Some(("x", 1)));
        assert_eq!(get_command_name(" \t ", 0), None);
    }

    #[test]
    fn aliases_match_exactly() {
        assert!(compare_cmd("s", "stop|s"));
        assert!(compare_cmd("stop", "stop|s"));
        assert!(!compare_cmd("st", "stop|s"));
        assert!(!compare_cmd("", "stop|s"));
    }

    #[test]
    fn expressions() {
        assert_eq!(eval_expr("1", 0), Ok((1, 1)));
        assert_eq!(eval_expr("0x10 + 2*3 ", 0), Ok((22, 11)));
        assert_eq!(eval_expr("010", 0), Ok((8, 3)));
        assert_eq!(eval_expr("-(1+2)", 0), Ok((-3, 6)));
        assert_eq!(eval_expr("'a'", 0), Ok((97, 3)));
        assert_eq!(eval_expr("7 % 4 | 8", 0), Ok((11, 9)));
        assert_eq!(eval_expr("1/0", 0), Err("division by zero".to_owned()));
        assert_eq!(
            eval_expr("x", 0),
            Err("invalid char 'x' in expression".to_owned())
        );
        assert_eq!(eval_expr("(1", 0), Err("')' expected".to_owned()));
        assert_eq!(eval_expr("$pc", 0), Err("unknown register".to_owned()));
        assert_eq!(
            eval_expr("1+", 0),
            Err("unexpected end of expression".to_owned())
        );
        assert_eq!(
            eval_expr("99999999999999999999", 0),
            Err("number too large".to_owned())
        );
        // "0x" without hex digits is the number 0 followed by "x".
        assert_eq!(eval_expr("0x", 0), Ok((0, 1)));
    }

    #[test]
    fn option_parsing_follows_qemu() {
        const T: &str = "protocol:s,password:s,display:-ds,connected:s?";
        let a = parse_arguments(
            "set_password",
            T,
            "vnc pw -d dpy2 keep",
            0,
            Some("password"),
        )
        .unwrap();
        assert_eq!(a.str("protocol"), Some("vnc"));
        assert_eq!(a.str("password"), Some("pw"));
        assert_eq!(a.span("password"), Some(4..6));
        assert_eq!(a.str("display"), Some("dpy2"));
        assert_eq!(a.str("connected"), Some("keep"));
        // The option value may follow the letter directly.
        let a = parse_arguments("set_password", T, "vnc pw -ddpy2", 0, None).unwrap();
        assert_eq!(a.str("display"), Some("dpy2"));
        // A password that starts with '-' is just a string.
        let a = parse_arguments("set_password", T, "vnc -x", 0, None).unwrap();
        assert_eq!(a.str("password"), Some("-x"));
        let e = parse_arguments("set_password", T, "vnc pw -x", 0, None).unwrap_err();
        assert_eq!(e.output, "set_password: unsupported option -x\n");
        let e = parse_arguments("set_password", T, "vnc pw -d", 0, None).unwrap_err();
        assert_eq!(e.output, "set_password: value expected for -d\n");
        let e = parse_arguments("set_password", T, "vnc pw keep more", 0, None).unwrap_err();
        assert_eq!(
            e.output,
            "set_password: extraneous characters at the end of line\n"
        );
        assert_eq!(e.partial.str("password"), Some("pw"));
    }

    #[test]
    fn boolean_flags_and_integers() {
        const T: &str = "device:B,force:-f,target:F,arg:s?,read-only-mode:s?";
        let a = parse_arguments("change", T, "vnc -f password", 0, None).unwrap();
        assert!(a.flag("force"));
        assert_eq!(a.str("target"), Some("password"));
        assert_eq!(a.str("arg"), None);
        const S: &str = "filename:F,format:-fs,device:s?,head:i?";
        let a = parse_arguments("screendump", S, "f.png -f png vga0 0x1", 0, None).unwrap();
        assert_eq!(a.int("head"), Some(1));
        let e = parse_arguments("screendump", S, "f vga0 -1", 0, None).unwrap_err();
        assert_eq!(
            e.output,
            "'screendump' has failed: integer is for 32-bit values\n"
        );
        let e = parse_arguments("screendump", S, "", 0, None).unwrap_err();
        assert_eq!(e.output, "screendump: filename expected\n");
        let e = parse_arguments("screendump", S, "f vga0 zz", 0, None).unwrap_err();
        assert_eq!(e.output, "invalid char 'z' in expression\n");
    }

    #[test]
    fn cmdline_words() {
        assert_eq!(
            parse_cmdline(" info  vnc "),
            Ok(vec!["info".to_owned(), "vnc".to_owned()])
        );
        assert_eq!(
            parse_cmdline("\"a"),
            Err("unterminated string\n".to_owned())
        );
        let many = "a ".repeat(MAX_CMDLINE_ARGS + 1);
        assert_eq!(parse_cmdline(&many), Err(String::new()));
    }
}
