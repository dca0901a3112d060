//! The QMP protocol core, without I/O: bytes in, requests out, replies and
//! events in, bytes out (QEMU's `monitor/qmp.c`, `monitor/qmp-cmds-control.c`,
//! `qapi/qmp-dispatch.c`, `docs/interop/qmp-spec.rst`).
//!
//! # Using a [`Session`]
//!
//! ```text
//! let mut s = Session::new(&greeting, pretty);      // queues the greeting
//! loop {
//!     write(s.take_output());                       // drop the client if s.output_len() grows too large
//!     if s.wants_input() { s.feed(&read()); }
//!     while let Some(req) = s.next_request() {      // call after every feed() and reply()
//!         let result = qapi::dispatch(cmds, &req.command, req.arguments);
//!         s.reply(req.id, result);
//!     }
//! }
//! ```
//!
//! - Capabilities negotiation happens inside: `qmp_capabilities` never
//!   reaches the caller, and nothing but `qmp_capabilities` does until it
//!   succeeded.
//! - Parse errors and malformed requests are answered inside, in input order
//!   with the replies to the requests around them: [`Session::next_request`]
//!   writes them as it reaches them.
//! - Requests run one at a time, as QEMU runs in-band commands:
//!   [`Session::next_request`] returns `None` while a request it returned has
//!   no [`Session::reply`] yet.
//! - At most [`QMP_REQ_QUEUE_LEN_MAX`] parsed requests wait; then
//!   [`Session::wants_input`] turns false and the caller stops reading
//!   (QEMU suspends the monitor the same way). Fed bytes that were not
//!   parsed yet wait in the session.
//! - Output only grows; the caller sends it ([`Session::take_output`], or
//!   [`Session::output`] and [`Session::consume`]) and drops a client whose
//!   [`Session::output_len`] passes its limit.
//!
//! # Capabilities
//!
//! QEMU offers `oob` on monitors that can run out-of-band commands in an I/O
//! thread. Porthole has no out-of-band execution, so it should offer none
//! ([`Greeting::capabilities`] empty): clients then negotiate no capability,
//! and `exec-oob` is refused with QEMU's text
//! `QMP input member 'exec-oob' is unexpected`. A session whose greeting does
//! offer `oob` accepts `exec-oob` once the client enables it, and marks such
//! requests with [`Request::oob`]; the caller must then answer
//! `The command NAME does not support OOB` for commands that cannot run so.

pub mod stream;
pub mod writer;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use qapi::{ErrorClass, QmpError};
use serde_json::{Map, Value, json};

pub use stream::{
    JsonStream, MAX_ECHO, MAX_MESSAGE_BYTES, MAX_MESSAGE_TOKENS, MAX_NESTING, ParseError,
    ParseErrorKind,
};

/// Most parsed requests waiting to run (QEMU's `QMP_REQ_QUEUE_LEN_MAX`).
pub const QMP_REQ_QUEUE_LEN_MAX: usize = 8;

/// The capabilities QEMU's schema knows (`QMPCapability` in
/// `qapi/control.json`).
pub const KNOWN_CAPABILITIES: &[&str] = &["oob"];

/// The command that negotiates capabilities.
pub const QMP_CAPABILITIES: &str = "qmp_capabilities";

/// What the greeting announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// `version.qemu.major`.
    pub major: i64,
    /// `version.qemu.minor`.
    pub minor: i64,
    /// `version.qemu.micro`.
    pub micro: i64,
    /// `version.package` (QEMU: `""` unless built with a package version).
    pub package: String,
    /// Capabilities offered, such as `oob`. Porthole offers none (see the
    /// module documentation).
    pub capabilities: Vec<String>,
}

impl Greeting {
    /// The greeting object: `{"QMP": {"version": …, "capabilities": […]}}`.
    pub fn to_value(&self) -> Value {
        json!({"QMP": {
            "version": {
                "qemu": {"major": self.major, "minor": self.minor, "micro": self.micro},
                "package": self.package,
            },
            "capabilities": self.capabilities,
        }})
    }
}

/// A well-formed request for the caller to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The client's `id`, any JSON value, to pass back to [`Session::reply`].
    pub id: Option<Value>,
    /// The command name (`execute`, or `exec-oob`).
    pub command: String,
    /// `arguments`, if the client sent any (QEMU treats none as `{}`).
    pub arguments: Option<Map<String, Value>>,
    /// Sent with `exec-oob` (only possible once `oob` was negotiated).
    pub oob: bool,
}

/// One client connection's QMP protocol state.
#[derive(Debug)]
pub struct Session {
    stream: JsonStream,
    /// Parsed but not yet handled input, in order.
    queue: VecDeque<Result<Value, ParseError>>,
    offered: Vec<String>,
    enabled: Vec<String>,
    negotiated: bool,
    /// A request was handed out and has no reply yet.
    in_flight: bool,
    pretty: bool,
    /// `out[out_start..]` is unsent output.
    out: Vec<u8>,
    out_start: usize,
}

impl Session {
    /// A session in capabilities-negotiation mode with the greeting queued.
    /// `pretty` indents output as QEMU's `-mon …,pretty=on` does.
    pub fn new(greeting: &Greeting, pretty: bool) -> Self {
        let mut session = Self {
            stream: JsonStream::new(),
            queue: VecDeque::new(),
            offered: greeting.capabilities.clone(),
            enabled: Vec::new(),
            negotiated: false,
            in_flight: false,
            pretty,
            out: Vec::new(),
            out_start: 0,
        };
        session.send(&greeting.to_value());
        session
    }

    /// Takes input bytes (any fragment of the stream) and parses as much as
    /// the request queue allows. Call [`next_request`](Self::next_request)
    /// afterwards.
    pub fn feed(&mut self, input: &[u8]) {
        self.stream.feed(input);
        self.fill_queue();
    }

    /// Whether the caller should read more input now: the request queue has
    /// room and everything fed so far is parsed.
    pub fn wants_input(&self) -> bool {
        self.queue.len() < QMP_REQ_QUEUE_LEN_MAX && self.stream.buffered() == 0
    }

    /// The next request to run, or `None` if there is none yet or the last
    /// one has no reply. Answers everything it passes over on the way: parse
    /// errors, malformed requests, `qmp_capabilities`, and commands sent
    /// before negotiation.
    pub fn next_request(&mut self) -> Option<Request> {
        while !self.in_flight {
            self.fill_queue();
            let item = self.queue.pop_front()?;
            let request = match item {
                Ok(value) => self.check_request(value),
                Err(e) => {
                    self.send_reply(None, Err(e.into()));
                    continue;
                }
            };
            let request = match request {
                Ok(request) => request,
                Err((id, e)) => {
                    self.send_reply(id, Err(e));
                    continue;
                }
            };
            if request.command == QMP_CAPABILITIES {
                let result = self.qmp_capabilities(&request);
                self.send_reply(request.id, result);
            } else if !self.negotiated {
                let e = QmpError {
                    class: ErrorClass::CommandNotFound,
                    desc: "Expecting capabilities negotiation with 'qmp_capabilities'".into(),
                };
                self.send_reply(request.id, Err(e));
            } else {
                self.in_flight = true;
                self.fill_queue();
                return Some(request);
            }
        }
        None
    }

    /// Queues the response to the request last returned by
    /// [`next_request`](Self::next_request): `{"return": …, "id": …}` or
    /// `{"id": …, "error": {"class": …, "desc": …}}`, `id` only if the
    /// request had one. QEMU answers a command without a return value with
    /// `{}`: pass `Value::Object` empty for it.
    pub fn reply(&mut self, id: Option<Value>, result: Result<Value, QmpError>) {
        self.in_flight = false;
        self.send_reply(id, result);
    }

    /// Queues an event, `{"timestamp": {"seconds": s, "microseconds": us},
    /// "event": NAME, "data": …}`, if capabilities are negotiated; QEMU
    /// delivers no events before. `timestamp` is wall-clock time, or
    /// `(-1, -1)` if it is unavailable.
    pub fn event(&mut self, name: &str, data: Option<Value>, timestamp: (i64, i64)) {
        if !self.negotiated {
            return;
        }
        let mut event = Map::new();
        event.insert("event".into(), Value::String(name.into()));
        if let Some(data) = data {
            event.insert("data".into(), data);
        }
        event.insert(
            "timestamp".into(),
            json!({"seconds": timestamp.0, "microseconds": timestamp.1}),
        );
        self.send(&Value::Object(event));
    }

    /// Whether `qmp_capabilities` succeeded (command mode).
    pub fn is_negotiated(&self) -> bool {
        self.negotiated
    }

    /// Whether the client enabled capability `name` (e.g. `oob`).
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.iter().any(|c| c == name)
    }

    /// Whether a request is out with the caller awaiting its reply.
    pub fn is_busy(&self) -> bool {
        self.in_flight
    }

    /// Bytes of output not yet taken.
    pub fn output_len(&self) -> usize {
        self.out.len() - self.out_start
    }

    /// Output not yet taken; mark what was sent with
    /// [`consume`](Self::consume).
    pub fn output(&self) -> &[u8] {
        &self.out[self.out_start..]
    }

    /// Drops the first `n` bytes of [`output`](Self::output) (all of it if
    /// `n` is larger).
    pub fn consume(&mut self, n: usize) {
        self.out_start = (self.out_start + n).min(self.out.len());
        if self.out_start == self.out.len() {
            self.out.clear();
            self.out_start = 0;
        } else if self.out_start > self.out.len() / 2 {
            self.out.drain(..self.out_start);
            self.out_start = 0;
        }
    }

    /// Takes all output not yet taken.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.drain(..self.out_start);
        self.out_start = 0;
        out
    }

    /// Parses buffered input into the queue while it has room.
    fn fill_queue(&mut self) {
        while self.queue.len() < QMP_REQ_QUEUE_LEN_MAX {
            match self.stream.next() {
                Some(item) => self.queue.push_back(item),
                None => break,
            }
        }
    }

    /// Writes one message: QEMU's JSON, every line ended by CR LF.
    fn send(&mut self, value: &Value) {
        let text = writer::to_string(value, self.pretty);
        self.out.reserve(text.len() + 2);
        for &b in text.as_bytes() {
            if b == b'\n' {
                self.out.push(b'\r');
            }
            self.out.push(b);
        }
        self.out.extend_from_slice(b"\r\n");
    }

    fn send_reply(&mut self, id: Option<Value>, result: Result<Value, QmpError>) {
        let mut reply = Map::new();
        match result {
            Ok(value) => {
                reply.insert("return".into(), value);
            }
            Err(e) => {
                reply.insert(
                    "error".into(),
                    json!({"class": class_name(e.class), "desc": e.desc}),
                );
            }
        }
        if let Some(id) = id {
            reply.insert("id".into(), id);
        }
        self.send(&Value::Object(reply));
    }

    /// QEMU's `qmp_dispatch_check_obj()` and the command-name lookup of
    /// `qmp_dispatch()`. On error, returns the `id` to echo with it.
    fn check_request(&self, value: Value) -> Result<Request, (Option<Value>, QmpError)> {
        let Value::Object(mut map) = value else {
            return Err((None, QmpError::generic("QMP input must be a JSON object")));
        };
        let id = map.remove("id");
        let allow_oob = self.is_enabled("oob");
        let mut exec_key: Option<&str> = None;
        let mut problem = None;
        for key in writer::qdict_order(&map) {
            let value = &map[key];
            if key == "execute" || (key == "exec-oob" && allow_oob) {
                if !value.is_string() {
                    problem = Some(format!("QMP input member '{key}' must be a string"));
                } else if let Some(first) = exec_key {
                    problem = Some(format!("QMP input member '{key}' clashes with '{first}'"));
                } else {
                    exec_key = Some(key.as_str());
                    continue;
                }
            } else if key == "arguments" {
                if value.is_object() {
                    continue;
                }
                problem = Some("QMP input member 'arguments' must be an object".into());
            } else {
                problem = Some(format!("QMP input member '{key}' is unexpected"));
            }
            break;
        }
        let oob = exec_key == Some("exec-oob");
        if problem.is_none() && exec_key.is_none() {
            problem = Some("QMP input lacks member 'execute'".into());
        }
        if let Some(desc) = problem {
            return Err((id, QmpError::generic(desc)));
        }
        let command = match map.remove(if oob { "exec-oob" } else { "execute" }) {
            Some(Value::String(command)) => command,
            _ => return Err((id, QmpError::generic("QMP input lacks member 'execute'"))),
        };
        let arguments = match map.remove("arguments") {
            Some(Value::Object(arguments)) => Some(arguments),
            _ => None,
        };
        Ok(Request {
            id,
            command,
            arguments,
            oob,
        })
    }

    /// QEMU's `qmp_capabilities` command: its argument checks, then
    /// `qmp_qmp_capabilities()` and `qmp_caps_accept()`.
    fn qmp_capabilities(&mut self, request: &Request) -> Result<Value, QmpError> {
        if request.oob {
            return Err(QmpError::generic(format!(
                "The command {QMP_CAPABILITIES} does not support OOB"
            )));
        }
        let mut requested: Vec<&str> = Vec::new();
        if let Some(arguments) = &request.arguments {
            if let Some(enable) = arguments.get("enable") {
                let Value::Array(items) = enable else {
                    return Err(QmpError::generic(
                        "Invalid parameter type for 'enable', expected: array",
                    ));
                };
                for (i, item) in items.iter().enumerate() {
                    let Value::String(name) = item else {
                        return Err(QmpError::generic(format!(
                            "Invalid parameter type for 'enable[{i}]', expected: string"
                        )));
                    };
                    if !KNOWN_CAPABILITIES.contains(&name.as_str()) {
                        // QEMU names list elements "null" in this message.
                        return Err(QmpError::generic(format!(
                            "Parameter 'null' does not accept value '{name}'"
                        )));
                    }
                    requested.push(name);
                }
            }
            if let Some(extra) = writer::qdict_order(arguments)
                .into_iter()
                .find(|k| k.as_str() != "enable")
            {
                return Err(QmpError::generic(format!(
                    "Parameter '{extra}' is unexpected"
                )));
            }
        }
        if self.negotiated {
            return Err(QmpError {
                class: ErrorClass::CommandNotFound,
                desc: "Capabilities negotiation is already complete, command ignored".into(),
            });
        }
        let unavailable: Vec<&str> = requested
            .iter()
            .copied()
            .filter(|name| !self.offered.iter().any(|o| o == name))
            .collect();
        if !unavailable.is_empty() {
            return Err(QmpError::generic(format!(
                "Capability {} not available",
                unavailable.join(", ")
            )));
        }
        self.enabled = requested.into_iter().map(str::to_owned).collect();
        self.negotiated = true;
        Ok(Value::Object(Map::new()))
    }
}

/// The wire name of an error class (`QapiErrorClass_str()`).
fn class_name(class: ErrorClass) -> String {
    match serde_json::to_value(class) {
        Ok(Value::String(name)) => name,
        _ => format!("{class:?}"),
    }
}
