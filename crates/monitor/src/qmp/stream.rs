//! QEMU's JSON dialect, read as a stream of top-level values
//! (`qobject/json-lexer.c`, `json-streamer.c`, `json-parser.c`).
//!
//! # Dialect
//!
//! RFC 8259 JSON plus `'single-quoted'` strings and the `\'` escape. The
//! lexer is QEMU's: whitespace is space, tab, CR and LF; strings may contain
//! bytes 0x20..=0xFD (so no raw control characters), decoded as modified
//! UTF-8 (`C0 80` is U+0000); `\uXXXX` escapes combine surrogate pairs and
//! reject surrogates and noncharacters; numbers follow JSON's grammar (and, as
//! in QEMU, `0e5` lexes as `0` then `e5`); keywords are `[a-z]+`, of which only
//! `true`, `false` and `null` parse. Integers become `i64`, else `u64`, else
//! `f64`, as QEMU's `QNum` does.
//!
//! # Messages and errors
//!
//! A top-level value ends when its brackets balance; scalars end by
//! themselves. Several values may arrive in one read and one value in any
//! number of reads. Every error text is QEMU's, always a `GenericError`:
//!
//! - A lexical error (a byte no token can contain, such as `@`, a control
//!   character other than whitespace, 0xFE or 0xFF, or a raw control character
//!   inside a string) reports `JSON parse error, stray '<token so far>'`, drops
//!   the message in progress and skips input up to the next structural
//!   character or control character: QEMU's documented way for a client to
//!   force the parser into known-good state.
//! - A syntax error (`JSON parse error, expecting value`, …) is reported at
//!   the token that causes it; the rest of that message is then skipped until
//!   its brackets balance (QEMU's push parser, 2026, reports the same way;
//!   older QEMU reports once the brackets balance).
//! - A message over a limit reports `JSON token size limit exceeded`,
//!   `JSON token count limit exceeded` or `JSON nesting depth limit
//!   exceeded` and is skipped like a syntax error, keeping no more than
//!   [`MAX_ECHO`] bytes of it. (Older QEMU re-reads the rest as new messages,
//!   which answers one oversized request with a cascade of errors.)
//!
//! # Limits
//!
//! QEMU allows 64 MiB, 2 Mi tokens and 1024 levels per message. Porthole
//! allows [`MAX_MESSAGE_BYTES`], [`MAX_MESSAGE_TOKENS`] and [`MAX_NESTING`]:
//! no QMP request needs more, and a message then occupies at most a few MiB
//! however it is built. The input a caller feeds is kept until it is lexed;
//! everything else this module allocates is bounded by those limits.
//!
//! Deviations from QEMU: a stray token is echoed up to [`MAX_ECHO`] bytes
//! (QEMU echoes all of it); a number too large for a finite `f64` (QEMU keeps
//! an infinity, which it cannot print as JSON) is the syntax error
//! `JSON parse error, number out of range`.

use std::collections::VecDeque;

use serde_json::{Map, Number, Value};

/// Most bytes of token text in one message (QEMU: 64 MiB). Whitespace is
/// free, as in QEMU.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Most tokens in one message (QEMU: 2 Mi).
pub const MAX_MESSAGE_TOKENS: usize = 1 << 15;

/// Most open brackets and braces at once (QEMU: 1024). 128 is also
/// `serde_json`'s own recursion limit, so every recursive consumer of a parsed
/// value (drop, clone, serde) stays shallow.
pub const MAX_NESTING: usize = 128;

/// Most bytes of a stray token echoed in its error message.
pub const MAX_ECHO: usize = 1024;

/// QEMU formats parser messages into `char message[1024]`.
const MAX_PARSER_MESSAGE: usize = 1023;

/// Token buffers above this capacity are released after use.
const TOKEN_KEEP_CAPACITY: usize = 64 * 1024;

/// What kind of input error a [`ParseError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// A byte no token may contain (`stray '…'`); the parser is reset.
    Lexical,
    /// Tokens in an order JSON does not allow, or an invalid literal.
    Syntax,
    /// The message is over [`MAX_MESSAGE_BYTES`], [`MAX_MESSAGE_TOKENS`] or
    /// [`MAX_NESTING`].
    Limit,
}

/// Malformed input, with QEMU's description (`JSON parse error, …`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{desc}")]
pub struct ParseError {
    kind: ParseErrorKind,
    desc: String,
}

impl ParseError {
    /// The kind of error.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// QEMU's text for it, sent as the `desc` of a `GenericError`.
    pub fn desc(&self) -> &str {
        &self.desc
    }
}

impl From<ParseError> for qapi::QmpError {
    fn from(e: ParseError) -> Self {
        qapi::QmpError::generic(e.desc)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    LCurly,
    RCurly,
    LSquare,
    RSquare,
    Colon,
    Comma,
    Integer,
    Float,
    Keyword,
    Str,
}

/// Lexer states (`enum json_lexer_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    Start,
    /// After a lexical error: skip to a structural or control character.
    Recovery,
    Str {
        quote: u8,
        escape: bool,
    },
    Sign,
    Zero,
    Digits,
    Mantissa,
    MantissaDigits,
    ExpE,
    ExpSign,
    ExpDigits,
    Keyword,
}

/// An incremental reader of QEMU-dialect JSON values.
///
/// [`feed`](Self::feed) bytes as they arrive, then take values and errors
/// with [`Iterator::next`] until it returns `None`; input is lexed only as
/// far as needed to produce the next item, so a caller can stop taking items
/// (and leave the rest of the input buffered) at any point. `None` means "no
/// more for now": feeding more input may produce more items.
#[derive(Debug)]
pub struct JsonStream {
    /// Fed input; `input[pos..]` is not lexed yet.
    input: Vec<u8>,
    pos: usize,
    lex: Lex,
    /// Text of the token in progress (capped; see [`Self::push`]).
    token: Vec<u8>,
    /// Real length of the token in progress.
    token_len: usize,
    out: VecDeque<Result<Value, ParseError>>,
    /// Message accounting (`JSONMessageParser`).
    braces: usize,
    brackets: usize,
    bytes: usize,
    tokens: usize,
    /// After an error, tokens are skipped until the brackets balance.
    discarding: bool,
    parser: Parser,
}

impl Default for JsonStream {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonStream {
    /// A stream with nothing buffered.
    pub fn new() -> Self {
        Self {
            input: Vec::new(),
            pos: 0,
            lex: Lex::Start,
            token: Vec::new(),
            token_len: 0,
            out: VecDeque::new(),
            braces: 0,
            brackets: 0,
            bytes: 0,
            tokens: 0,
            discarding: false,
            parser: Parser::default(),
        }
    }

    /// Appends input. It is kept until lexed, so a caller that stops taking
    /// items should stop feeding too (see [`buffered`](Self::buffered)).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Bytes fed but not lexed yet.
    pub fn buffered(&self) -> usize {
        self.input.len() - self.pos
    }

    fn lex_byte(&mut self, b: u8) {
        while !self.step(b) {}
    }

    /// One lexer transition; returns whether `b` was consumed (a token that
    /// ends by look-ahead leaves `b` for the start state).
    fn step(&mut self, b: u8) -> bool {
        match self.lex {
            Lex::Start => match b {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'"' | b'\'' => self.begin(
                    b,
                    Lex::Str {
                        quote: b,
                        escape: false,
                    },
                ),
                b'0' => self.begin(b, Lex::Zero),
                b'1'..=b'9' => self.begin(b, Lex::Digits),
                b'-' => self.begin(b, Lex::Sign),
                b'a'..=b'z' => self.begin(b, Lex::Keyword),
                b'{' => self.single(b, Tok::LCurly),
                b'}' => self.single(b, Tok::RCurly),
                b'[' => self.single(b, Tok::LSquare),
                b']' => self.single(b, Tok::RSquare),
                b':' => self.single(b, Tok::Colon),
                b',' => self.single(b, Tok::Comma),
                _ => self.stray(b),
            },
            Lex::Recovery => {
                let resync = matches!(
                    b,
                    0x00..=0x08
                        | 0x0A..=0x1F
                        | 0xFE
                        | 0xFF
                        | b'['
                        | b']'
                        | b'{'
                        | b'}'
                        | b':'
                        | b','
                );
                if resync {
                    self.lex = Lex::Start;
                    return false;
                }
            }
            Lex::Str { quote, escape } => {
                if !(0x20..=0xFD).contains(&b) {
                    self.stray(b);
                } else {
                    self.push(b);
                    if escape {
                        self.lex = Lex::Str {
                            quote,
                            escape: false,
                        };
                    } else if b == b'\\' {
                        self.lex = Lex::Str {
                            quote,
                            escape: true,
                        };
                    } else if b == quote {
                        self.emit(Tok::Str);
                    }
                }
            }
            Lex::Sign => match b {
                b'0' => self.begin(b, Lex::Zero),
                b'1'..=b'9' => self.begin(b, Lex::Digits),
                _ => self.stray(b),
            },
            Lex::Zero => match b {
                b'0'..=b'9' => self.stray(b),
                b'.' => self.begin(b, Lex::Mantissa),
                _ => return self.end_by_lookahead(Tok::Integer),
            },
            Lex::Digits => match b {
                b'0'..=b'9' => self.push(b),
                b'e' | b'E' => self.begin(b, Lex::ExpE),
                b'.' => self.begin(b, Lex::Mantissa),
                _ => return self.end_by_lookahead(Tok::Integer),
            },
            Lex::Mantissa => match b {
                b'0'..=b'9' => self.begin(b, Lex::MantissaDigits),
                _ => self.stray(b),
            },
            Lex::MantissaDigits => match b {
                b'0'..=b'9' => self.push(b),
                b'e' | b'E' => self.begin(b, Lex::ExpE),
                _ => return self.end_by_lookahead(Tok::Float),
            },
            Lex::ExpE => match b {
                b'-' | b'+' => self.begin(b, Lex::ExpSign),
                b'0'..=b'9' => self.begin(b, Lex::ExpDigits),
                _ => self.stray(b),
            },
            Lex::ExpSign => match b {
                b'0'..=b'9' => self.begin(b, Lex::ExpDigits),
                _ => self.stray(b),
            },
            Lex::ExpDigits => match b {
                b'0'..=b'9' => self.push(b),
                _ => return self.end_by_lookahead(Tok::Float),
            },
            Lex::Keyword => match b {
                b'a'..=b'z' => self.push(b),
                _ => return self.end_by_lookahead(Tok::Keyword),
            },
        }
        true
    }

    fn begin(&mut self, b: u8, state: Lex) {
        self.push(b);
        self.lex = state;
    }

    fn single(&mut self, b: u8, tok: Tok) {
        self.push(b);
        self.emit(tok);
    }

    /// Ends a token whose end is only seen from the next byte; that byte is
    /// not consumed.
    fn end_by_lookahead(&mut self, tok: Tok) -> bool {
        self.emit(tok);
        false
    }

    /// Adds a byte to the token in progress and enforces the message size
    /// limit as the token grows. Text beyond what a skipped message can still
    /// need is counted, not kept.
    fn push(&mut self, b: u8) {
        let cap = if self.discarding {
            MAX_ECHO
        } else {
            MAX_MESSAGE_BYTES + 1
        };
        if self.token.len() < cap {
            if self.token.len() == self.token.capacity() {
                // Grow by doubling, but never past the cap.
                let room = cap - self.token.len();
                let more = std::cmp::min(self.token.len().max(64), room);
                self.token.reserve_exact(more);
            }
            self.token.push(b);
        }
        self.token_len = self.token_len.saturating_add(1);
        if !self.discarding && self.bytes.saturating_add(self.token_len) > MAX_MESSAGE_BYTES {
            self.fail(
                ParseErrorKind::Limit,
                "JSON token size limit exceeded".into(),
            );
        }
    }

    fn clear_token(&mut self) {
        self.token.clear();
        self.token_len = 0;
        if self.token.capacity() > TOKEN_KEEP_CAPACITY {
            self.token = Vec::new();
        }
    }

    /// A complete token (`json_message_process_token()`).
    fn emit(&mut self, tok: Tok) {
        self.lex = Lex::Start;
        self.bytes = self.bytes.saturating_add(self.token_len);
        self.tokens = self.tokens.saturating_add(1);
        match tok {
            Tok::LCurly => self.braces += 1,
            Tok::RCurly => self.braces = self.braces.saturating_sub(1),
            Tok::LSquare => self.brackets += 1,
            Tok::RSquare => self.brackets = self.brackets.saturating_sub(1),
            _ => {}
        }
        if !self.discarding {
            if self.bytes > MAX_MESSAGE_BYTES {
                self.fail(
                    ParseErrorKind::Limit,
                    "JSON token size limit exceeded".into(),
                );
            } else if self.tokens > MAX_MESSAGE_TOKENS {
                self.fail(
                    ParseErrorKind::Limit,
                    "JSON token count limit exceeded".into(),
                );
            } else if self.braces + self.brackets > MAX_NESTING {
                self.fail(
                    ParseErrorKind::Limit,
                    "JSON nesting depth limit exceeded".into(),
                );
            } else {
                match self.parser.feed(tok, &self.token) {
                    Ok(Some(value)) => self.out.push_back(Ok(value)),
                    Ok(None) => {}
                    Err(message) => {
                        let desc = format!("JSON parse error, {}", clip_parser_message(&message));
                        self.fail(ParseErrorKind::Syntax, desc);
                    }
                }
            }
        }
        if self.braces == 0 && self.brackets == 0 {
            self.end_message();
        }
        self.clear_token();
    }

    /// Reports an error and skips the rest of the message.
    fn fail(&mut self, kind: ParseErrorKind, desc: String) {
        self.out.push_back(Err(ParseError { kind, desc }));
        self.discarding = true;
        self.parser.reset();
        self.token.truncate(MAX_ECHO);
    }

    fn end_message(&mut self) {
        self.discarding = false;
        self.braces = 0;
        self.brackets = 0;
        self.bytes = 0;
        self.tokens = 0;
        self.parser.reset();
    }

    /// A lexical error at byte `b`: report the token so far and resynchronize.
    fn stray(&mut self, b: u8) {
        if self.token.len() < MAX_ECHO {
            self.token.push(b);
        }
        let desc = format!("JSON parse error, stray '{}'", echo(&self.token));
        self.out.push_back(Err(ParseError {
            kind: ParseErrorKind::Lexical,
            desc,
        }));
        self.end_message();
        self.clear_token();
        self.lex = Lex::Recovery;
    }
}

impl Iterator for JsonStream {
    type Item = Result<Value, ParseError>;

    /// The next value or error, lexing buffered input as far as needed.
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.out.pop_front() {
                return Some(item);
            }
            let Some(&b) = self.input.get(self.pos) else {
                self.input.clear();
                self.pos = 0;
                return None;
            };
            self.pos += 1;
            self.lex_byte(b);
        }
    }
}

/// The text of a stray token as QEMU prints it: a C string (so it stops at a
/// NUL byte), invalid UTF-8 replaced by U+FFFD.
fn echo(token: &[u8]) -> String {
    let end = token.iter().position(|&b| b == 0).unwrap_or(token.len());
    decode_lossy(&token[..end.min(MAX_ECHO)])
}

/// QEMU's `vsnprintf(message, 1024, …)` cut, then lossy decoding.
fn clip_parser_message(message: &str) -> String {
    let bytes = message.as_bytes();
    decode_lossy(&bytes[..bytes.len().min(MAX_PARSER_MESSAGE)])
}

/// Decodes modified UTF-8, replacing each invalid sequence by U+FFFD as
/// QEMU's JSON writer does.
fn decode_lossy(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let (c, n) = mod_utf8_char(&bytes[i..]);
        out.push(c.unwrap_or('\u{FFFD}'));
        i += n;
    }
    out
}

/// Smallest code point for a sequence of 2, 3, 4, 5 and 6 bytes.
const MIN_CODEPOINT: [u32; 5] = [0x80, 0x800, 0x1_0000, 0x20_0000, 0x400_0000];

/// QEMU's `is_valid_codepoint()`: in range, not a noncharacter, not a
/// surrogate.
fn is_valid_codepoint(cp: u32) -> bool {
    cp <= 0x10_FFFF
        && !((0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE)
        && !(0xD800..=0xDFFF).contains(&cp)
}

/// QEMU's `mod_utf8_codepoint()` on non-empty `s`: the character (`None` if
/// the sequence is invalid) and the number of bytes it spans.
fn mod_utf8_char(s: &[u8]) -> (Option<char>, usize) {
    let byte = s[0];
    if byte < 0x80 {
        return (Some(char::from(byte)), 1);
    }
    if byte >= 0xFE || byte & 0x40 == 0 {
        // Impossible byte, or a continuation byte out of place.
        return (None, 1);
    }
    let len = usize::try_from(byte.leading_ones()).unwrap_or(2);
    let mut cp = u32::from(byte & (0x7F >> len));
    for i in 1..len {
        match s.get(i) {
            Some(&c) if c & 0xC0 == 0x80 => cp = (cp << 6) | u32::from(c & 0x3F),
            _ => return (None, i),
        }
    }
    let overlong = cp < MIN_CODEPOINT[len - 2] && !(cp == 0 && len == 2);
    if overlong || !is_valid_codepoint(cp) {
        return (None, len);
    }
    (char::from_u32(cp), len)
}

/// Four hex digits at the start of `s` (`cvt4hex()`).
fn hex4(s: &[u8]) -> Option<u32> {
    let digits = s.get(..4)?;
    digits.iter().try_fold(0u32, |acc, &d| {
        char::from(d).to_digit(16).map(|v| (acc << 4) | v)
    })
}

/// Decodes a string token, quotes included (`parse_string()`).
fn parse_string(text: &[u8]) -> Result<String, String> {
    let quote = text[0];
    let mut out = String::with_capacity(text.len());
    let mut i = 1;
    while i < text.len() && text[i] != quote {
        if text[i] != b'\\' {
            let (c, n) = mod_utf8_char(&text[i..]);
            out.push(c.ok_or("invalid UTF-8 sequence in string")?);
            i += n;
            continue;
        }
        let beg = i;
        let esc = text.get(i + 1).copied().unwrap_or(0);
        i += 2;
        let c = match esc {
            b'"' => '"',
            b'\'' => '\'',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let mut cp = hex4(text.get(i..).unwrap_or_default());
                i += 4;
                if let Some(lead @ 0xD800..=0xDBFF) = cp
                    && text.get(i) == Some(&b'\\')
                    && text.get(i + 1) == Some(&b'u')
                {
                    cp = match hex4(text.get(i + 2..).unwrap_or_default()) {
                        Some(trail @ 0xDC00..=0xDFFF) => {
                            i += 6;
                            Some((0x1_0000 + ((lead & 0x3FF) << 10)) | (trail & 0x3FF))
                        }
                        _ => None,
                    };
                }
                match cp
                    .filter(|&cp| is_valid_codepoint(cp))
                    .and_then(char::from_u32)
                {
                    Some(c) => c,
                    None => {
                        let seq = decode_lossy(&text[beg..i.min(text.len())]);
                        return Err(format!("{seq} is not a valid Unicode character"));
                    }
                }
            }
            _ => return Err("invalid escape sequence in string".into()),
        };
        out.push(c);
    }
    Ok(out)
}

fn parse_number(tok: Tok, text: &[u8]) -> Result<Value, String> {
    // The lexer only lets ASCII digits, signs, '.', 'e' and 'E' through.
    let s = std::str::from_utf8(text).map_err(|_| "expecting value".to_owned())?;
    if tok == Tok::Integer {
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if !s.starts_with('-')
            && let Ok(u) = s.parse::<u64>()
        {
            return Ok(Value::Number(u.into()));
        }
    }
    s.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| "number out of range".to_owned())
}

fn parse_keyword(text: &[u8]) -> Result<Value, String> {
    match text {
        b"true" => Ok(Value::Bool(true)),
        b"false" => Ok(Value::Bool(false)),
        b"null" => Ok(Value::Null),
        _ => Err(format!("invalid keyword '{}'", decode_lossy(text))),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ObjState {
    AfterLCurly,
    BeforeKey,
    EndOfKey,
    BeforeValue,
    EndOfValue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArrState {
    AfterLSquare,
    BeforeValue,
    EndOfValue,
}

/// What the parser expects next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    TopValue,
    Obj(ObjState),
    Arr(ArrState),
}

#[derive(Debug)]
enum Frame {
    Object {
        map: Map<String, Value>,
        key: Option<String>,
        state: ObjState,
    },
    Array {
        items: Vec<Value>,
        state: ArrState,
    },
}

/// A push parser: one token in, a complete top-level value out
/// (`json_parser_feed()`).
#[derive(Debug, Default)]
struct Parser {
    stack: Vec<Frame>,
}

impl Parser {
    fn reset(&mut self) {
        self.stack.clear();
    }

    fn expect(&self) -> Expect {
        match self.stack.last() {
            None => Expect::TopValue,
            Some(Frame::Object { state, .. }) => Expect::Obj(*state),
            Some(Frame::Array { state, .. }) => Expect::Arr(*state),
        }
    }

    fn set_obj_state(&mut self, new: ObjState, new_key: Option<String>) {
        if let Some(Frame::Object { state, key, .. }) = self.stack.last_mut() {
            *state = new;
            if new_key.is_some() {
                *key = new_key;
            }
        }
    }

    fn set_arr_state(&mut self, new: ArrState) {
        if let Some(Frame::Array { state, .. }) = self.stack.last_mut() {
            *state = new;
        }
    }

    fn pop(&mut self) -> Value {
        match self.stack.pop() {
            Some(Frame::Object { map, .. }) => Value::Object(map),
            Some(Frame::Array { items, .. }) => Value::Array(items),
            None => Value::Null,
        }
    }

    /// Feeds one token; returns a top-level value when one completes, or the
    /// message of QEMU's `parse_error()` (without its prefix).
    fn feed(&mut self, tok: Tok, text: &[u8]) -> Result<Option<Value>, String> {
        use ArrState as A;
        use ObjState as O;
        let value = match (self.expect(), tok) {
            (Expect::Obj(O::AfterLCurly | O::EndOfValue), Tok::RCurly)
            | (Expect::Arr(A::AfterLSquare | A::EndOfValue), Tok::RSquare) => self.pop(),
            (Expect::Obj(O::AfterLCurly | O::BeforeKey), Tok::Str) => {
                let key = parse_string(text)?;
                self.set_obj_state(O::EndOfKey, Some(key));
                return Ok(None);
            }
            (Expect::Obj(O::AfterLCurly | O::BeforeKey), _) => return Err("expecting key".into()),
            (Expect::Obj(O::EndOfKey), Tok::Colon) => {
                self.set_obj_state(O::BeforeValue, None);
                return Ok(None);
            }
            (Expect::Obj(O::EndOfKey), _) => return Err("expecting ':'".into()),
            (Expect::Obj(O::EndOfValue), Tok::Comma) => {
                self.set_obj_state(O::BeforeKey, None);
                return Ok(None);
            }
            (Expect::Obj(O::EndOfValue), _) => return Err("expected ',' or '}'".into()),
            (Expect::Arr(A::EndOfValue), Tok::Comma) => {
                self.set_arr_state(A::BeforeValue);
                return Ok(None);
            }
            (Expect::Arr(A::EndOfValue), _) => return Err("expected ',' or ']'".into()),
            (
                Expect::TopValue
                | Expect::Obj(O::BeforeValue)
                | Expect::Arr(A::AfterLSquare | A::BeforeValue),
                _,
            ) => match tok {
                Tok::LCurly => {
                    self.stack.push(Frame::Object {
                        map: Map::new(),
                        key: None,
                        state: O::AfterLCurly,
                    });
                    return Ok(None);
                }
                Tok::LSquare => {
                    self.stack.push(Frame::Array {
                        items: Vec::new(),
                        state: A::AfterLSquare,
                    });
                    return Ok(None);
                }
                Tok::Integer | Tok::Float => parse_number(tok, text)?,
                Tok::Str => Value::String(parse_string(text)?),
                Tok::Keyword => parse_keyword(text)?,
                Tok::RCurly | Tok::RSquare | Tok::Colon | Tok::Comma => {
                    return Err("expecting value".into());
                }
            },
        };
        self.insert(value)
    }

    /// Puts a complete value into its container, or returns it at top level.
    fn insert(&mut self, value: Value) -> Result<Option<Value>, String> {
        match self.stack.last_mut() {
            None => Ok(Some(value)),
            Some(Frame::Object { map, key, state }) => {
                let key = key.take().unwrap_or_default();
                if map.contains_key(&key) {
                    return Err("duplicate key".into());
                }
                map.insert(key, value);
                *state = ObjState::EndOfValue;
                Ok(None)
            }
            Some(Frame::Array { items, state }) => {
                items.push(value);
                *state = ArrState::EndOfValue;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests;
