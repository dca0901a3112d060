use super::*;
use proptest::prelude::*;
use serde_json::json;

fn greeting(capabilities: &[&str]) -> Greeting {
    Greeting {
        major: 10,
        minor: 2,
        micro: 50,
        package: String::new(),
        capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
    }
}

const GREETING_LINE: &str = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 50, \"minor\": 2, \"major\": 10}, \"package\": \"\"}, \"capabilities\": []}}\r\n";

fn take(s: &mut Session) -> String {
    String::from_utf8(s.take_output()).expect("ASCII output")
}

/// A session past the greeting.
fn fresh() -> Session {
    let mut s = Session::new(&greeting(&[]), false);
    assert_eq!(take(&mut s), GREETING_LINE);
    s
}

/// A session in command mode.
fn negotiated() -> Session {
    let mut s = fresh();
    s.feed(br#"{"execute": "qmp_capabilities"}"#);
    assert_eq!(s.next_request(), None);
    assert_eq!(take(&mut s), "{\"return\": {}}\r\n");
    assert!(s.is_negotiated());
    s
}

/// Feeds `input`, runs every request with `run`, returns the output.
fn converse(
    s: &mut Session,
    input: &[u8],
    run: &mut dyn FnMut(&Request) -> Result<Value, QmpError>,
) -> String {
    s.feed(input);
    while let Some(req) = s.next_request() {
        let result = run(&req);
        s.reply(req.id, result);
    }
    take(s)
}

/// Runs every request as `{"return": {"cmd": NAME}}`.
fn echo_cmd(req: &Request) -> Result<Value, QmpError> {
    Ok(json!({ "cmd": req.command, "args": req.arguments }))
}

fn error_line(id: Option<&str>, class: &str, desc: &str) -> String {
    let error = format!("\"error\": {{\"class\": \"{class}\", \"desc\": \"{desc}\"}}");
    match id {
        Some(id) => format!("{{\"id\": {id}, {error}}}\r\n"),
        None => format!("{{{error}}}\r\n"),
    }
}

#[test]
fn greeting_is_qemus_line() {
    let mut s = Session::new(&greeting(&["oob"]), false);
    assert_eq!(
        take(&mut s),
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 50, \"minor\": 2, \"major\": 10}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"
    );
    assert!(!s.is_negotiated());
}

#[test]
fn pretty_greeting_and_replies_indent_with_crlf() {
    let mut s = Session::new(&greeting(&[]), true);
    assert_eq!(
        take(&mut s),
        "{\r\n    \"QMP\": {\r\n        \"version\": {\r\n            \"qemu\": {\r\n                \"micro\": 50,\r\n                \"minor\": 2,\r\n                \"major\": 10\r\n            },\r\n            \"package\": \"\"\r\n        },\r\n        \"capabilities\": [\r\n        ]\r\n    }\r\n}\r\n"
    );
    s.feed(br#"{"execute": "qmp_capabilities", "id": 1}"#);
    assert_eq!(s.next_request(), None);
    assert_eq!(
        take(&mut s),
        "{\r\n    \"return\": {\r\n    },\r\n    \"id\": 1\r\n}\r\n"
    );
    s.feed(b"[]");
    assert_eq!(s.next_request(), None);
    assert_eq!(
        take(&mut s),
        "{\r\n    \"error\": {\r\n        \"class\": \"GenericError\",\r\n        \"desc\": \"QMP input must be a JSON object\"\r\n    }\r\n}\r\n"
    );
}

#[test]
fn commands_before_negotiation_are_refused() {
    let mut s = fresh();
    let out = converse(
        &mut s,
        br#"{"execute": "query-status", "id": 1}{"execute": "nonexistent"}"#,
        &mut |_| panic!("no command may run before negotiation"),
    );
    let expected = error_line(
        Some("1"),
        "CommandNotFound",
        "Expecting capabilities negotiation with 'qmp_capabilities'",
    ) + &error_line(
        None,
        "CommandNotFound",
        "Expecting capabilities negotiation with 'qmp_capabilities'",
    );
    assert_eq!(out, expected);
    assert!(!s.is_negotiated());
}

#[test]
fn malformed_requests_keep_their_text_before_negotiation() {
    let mut s = fresh();
    let out = converse(
        &mut s,
        br#"{"execute": 1, "id": 2}"#,
        &mut |_| unreachable!(),
    );
    assert_eq!(
        out,
        error_line(
            Some("2"),
            "GenericError",
            "QMP input member 'execute' must be a string"
        )
    );
}

#[test]
fn negotiation_then_commands_run_in_one_read() {
    let mut s = fresh();
    let out = converse(
        &mut s,
        br#"{"execute": "qmp_capabilities", "id": "a"}{"execute": "query-status", "id": "b"}"#,
        &mut echo_cmd,
    );
    assert_eq!(
        out,
        "{\"return\": {}, \"id\": \"a\"}\r\n{\"return\": {\"args\": null, \"cmd\": \"query-status\"}, \"id\": \"b\"}\r\n"
    );
}

#[test]
fn second_qmp_capabilities_is_ignored() {
    let mut s = negotiated();
    let out = converse(
        &mut s,
        br#"{"execute": "qmp_capabilities", "id": 7}"#,
        &mut echo_cmd,
    );
    assert_eq!(
        out,
        error_line(
            Some("7"),
            "CommandNotFound",
            "Capabilities negotiation is already complete, command ignored"
        )
    );
}

#[test]
fn capability_not_offered_is_refused() {
    let mut s = fresh();
    let out = converse(
        &mut s,
        br#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob", "oob"]}}"#,
        &mut echo_cmd,
    );
    assert_eq!(
        out,
        error_line(None, "GenericError", "Capability oob, oob not available")
    );
    assert!(!s.is_negotiated());
}

#[test]
fn qmp_capabilities_arguments_are_checked() {
    let mut s = fresh();
    for (args, desc) in [
        (
            r#"{"enable": "oob"}"#,
            "Invalid parameter type for 'enable', expected: array",
        ),
        (
            r#"{"enable": null}"#,
            "Invalid parameter type for 'enable', expected: array",
        ),
        (
            r#"{"enable": ["oob", 1]}"#,
            "Invalid parameter type for 'enable[1]', expected: string",
        ),
        (
            r#"{"enable": ["bogus"]}"#,
            "Parameter 'null' does not accept value 'bogus'",
        ),
        (
            r#"{"enable": [], "foo": 1}"#,
            "Parameter 'foo' is unexpected",
        ),
    ] {
        let input = format!(r#"{{"execute": "qmp_capabilities", "arguments": {args}, "id": 3}}"#);
        let out = converse(&mut s, input.as_bytes(), &mut echo_cmd);
        assert_eq!(out, error_line(Some("3"), "GenericError", desc), "{args}");
    }
    assert!(!s.is_negotiated());
    let out = converse(
        &mut s,
        br#"{"execute": "qmp_capabilities", "arguments": {"enable": []}}"#,
        &mut echo_cmd,
    );
    assert_eq!(out, "{\"return\": {}}\r\n");
    assert!(s.is_negotiated());
}

#[test]
fn oob_is_negotiated_only_when_offered() {
    let mut s = Session::new(&greeting(&["oob"]), false);
    take(&mut s);
    let out = converse(&mut s, br#"{"exec-oob": "x", "id": 1}"#, &mut echo_cmd);
    assert_eq!(
        out,
        error_line(
            Some("1"),
            "GenericError",
            "QMP input member 'exec-oob' is unexpected"
        )
    );
    converse(
        &mut s,
        br#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#,
        &mut echo_cmd,
    );
    assert!(s.is_enabled("oob"));
    s.feed(br#"{"exec-oob": "migrate-pause", "id": 2}"#);
    let req = s.next_request().expect("exec-oob request");
    assert!(req.oob);
    assert_eq!(req.command, "migrate-pause");
    s.reply(req.id, Err(QmpError::generic("no")));
    take(&mut s);
    let out = converse(
        &mut s,
        br#"{"exec-oob": "a", "execute": "b", "id": 3}"#,
        &mut echo_cmd,
    );
    assert_eq!(
        out,
        error_line(
            Some("3"),
            "GenericError",
            "QMP input member 'execute' clashes with 'exec-oob'"
        )
    );
    let out = converse(
        &mut s,
        br#"{"exec-oob": "qmp_capabilities"}"#,
        &mut echo_cmd,
    );
    assert_eq!(
        out,
        error_line(
            None,
            "GenericError",
            "The command qmp_capabilities does not support OOB"
        )
    );
}

#[test]
fn request_validation_texts() {
    let mut s = negotiated();
    for (input, id, desc) in [
        (r#"[1, 2]"#, None, "QMP input must be a JSON object"),
        (r#""execute""#, None, "QMP input must be a JSON object"),
        (
            r#"{"id": 5}"#,
            Some("5"),
            "QMP input lacks member 'execute'",
        ),
        (r#"{}"#, None, "QMP input lacks member 'execute'"),
        (
            r#"{"execute": ["x"], "id": 5}"#,
            Some("5"),
            "QMP input member 'execute' must be a string",
        ),
        (
            r#"{"execute": "x", "arguments": [], "id": 5}"#,
            Some("5"),
            "QMP input member 'arguments' must be an object",
        ),
        (
            r#"{"execute": "x", "foo": 1, "id": 5}"#,
            Some("5"),
            "QMP input member 'foo' is unexpected",
        ),
        (
            r#"{"exec-oob": "x", "id": 5}"#,
            Some("5"),
            "QMP input member 'exec-oob' is unexpected",
        ),
        (
            r#"{"execute": "x", "arguments": null}"#,
            None,
            "QMP input member 'arguments' must be an object",
        ),
    ] {
        let out = converse(&mut s, input.as_bytes(), &mut |_| unreachable!("{input}"));
        assert_eq!(out, error_line(id, "GenericError", desc), "{input}");
    }
}

#[test]
fn validation_reports_the_first_member_in_qdict_order() {
    // QEMU walks members by hash bucket: exec-oob (162) < execute (299) <
    // arguments (447) < foo (490).
    let mut s = negotiated();
    let out = converse(
        &mut s,
        br#"{"foo": 1, "arguments": 2, "execute": 3}"#,
        &mut |_| unreachable!(),
    );
    assert_eq!(
        out,
        error_line(
            None,
            "GenericError",
            "QMP input member 'execute' must be a string"
        )
    );
    let out = converse(
        &mut s,
        br#"{"foo": 1, "arguments": 2, "execute": "x"}"#,
        &mut |_| unreachable!(),
    );
    assert_eq!(
        out,
        error_line(
            None,
            "GenericError",
            "QMP input member 'arguments' must be an object"
        )
    );
}

#[test]
fn id_of_any_type_is_echoed() {
    let mut s = negotiated();
    for id in [
        "0",
        "-12",
        "18446744073709551615",
        "2.5",
        "\"libvirt-42\"",
        "null",
        "true",
        "[1, \"a\", {}]",
        "{\"x\": [null], \"y\": {\"z\": 1}}",
    ] {
        let input = format!("{{\"execute\": \"stop\", \"id\": {id}}}");
        let out = converse(&mut s, input.as_bytes(), &mut |_| Ok(json!({})));
        assert_eq!(
            out,
            format!("{{\"return\": {{}}, \"id\": {id}}}\r\n"),
            "{id}"
        );
        let out = converse(&mut s, input.as_bytes(), &mut |_| {
            Err(QmpError::generic("bad"))
        });
        assert_eq!(out, error_line(Some(id), "GenericError", "bad"), "{id}");
        let out = converse(
            &mut s,
            input.replace("\"stop\"", "7").as_bytes(),
            &mut |_| unreachable!(),
        );
        assert_eq!(
            out,
            error_line(
                Some(id),
                "GenericError",
                "QMP input member 'execute' must be a string"
            )
        );
    }
}

#[test]
fn single_quoted_request_runs() {
    let mut s = negotiated();
    let out = converse(
        &mut s,
        b"{'execute': 'set_password', 'arguments': {'protocol': 'vnc', 'password': 'it\\'s'}, 'id': 'x'}",
        &mut |req| {
            assert_eq!(req.command, "set_password");
            assert_eq!(
                req.arguments,
                Some(json!({"protocol": "vnc", "password": "it's"}).as_object().unwrap().clone())
            );
            Ok(json!({}))
        },
    );
    assert_eq!(out, "{\"return\": {}, \"id\": \"x\"}\r\n");
}

#[test]
fn garbage_then_good_request_runs() {
    let mut s = negotiated();
    let out = converse(
        &mut s,
        b"{\"execute\": \"query-status\", \"id\": 1}garbage\n{\"execute\": \"stop\", \"id\": 2}",
        &mut echo_cmd,
    );
    assert_eq!(
        out,
        "{\"return\": {\"args\": null, \"cmd\": \"query-status\"}, \"id\": 1}\r\n".to_owned()
            + &error_line(
                None,
                "GenericError",
                "JSON parse error, invalid keyword 'garbage'"
            )
            + "{\"return\": {\"args\": null, \"cmd\": \"stop\"}, \"id\": 2}\r\n"
    );
}

#[test]
fn parse_error_replies_follow_the_reply_in_flight() {
    let mut s = negotiated();
    s.feed(b"{\"execute\": \"a\", \"id\": 1}@{\"execute\": \"b\", \"id\": 2}");
    let a = s.next_request().expect("a");
    // The caller has not replied: nothing else is answered or handed out.
    assert_eq!(s.next_request(), None);
    assert!(s.is_busy());
    assert_eq!(s.output_len(), 0);
    s.reply(a.id, Ok(json!({})));
    let b = s.next_request().expect("b");
    assert_eq!(b.command, "b");
    s.reply(b.id, Ok(json!({})));
    assert_eq!(
        take(&mut s),
        "{\"return\": {}, \"id\": 1}\r\n".to_owned()
            + &error_line(None, "GenericError", "JSON parse error, stray '@'")
            + "{\"return\": {}, \"id\": 2}\r\n"
    );
}

#[test]
fn events_are_suppressed_before_negotiation() {
    let mut s = fresh();
    s.event("STOP", None, (1, 2));
    assert_eq!(s.output_len(), 0);
    let mut s = negotiated();
    s.event("STOP", None, (1_258_551_470, 802_384));
    s.event(
        "SHUTDOWN",
        Some(json!({"guest": false, "reason": "host-qmp-quit"})),
        (-1, -1),
    );
    assert_eq!(
        take(&mut s),
        "{\"timestamp\": {\"seconds\": 1258551470, \"microseconds\": 802384}, \"event\": \"STOP\"}\r\n\
         {\"timestamp\": {\"seconds\": -1, \"microseconds\": -1}, \"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}\r\n"
    );
}

#[test]
fn output_is_ascii_for_non_ascii_strings() {
    let mut s = negotiated();
    let out = converse(
        &mut s,
        "{\"execute\": \"é\", \"id\": \"ü😀\"}".as_bytes(),
        &mut |req| {
            Err(QmpError::generic(format!(
                "The command {} has not been found",
                req.command
            )))
        },
    );
    assert!(out.is_ascii());
    assert_eq!(
        out,
        error_line(
            Some("\"\\u00FC\\uD83D\\uDE00\""),
            "GenericError",
            "The command \\u00E9 has not been found"
        )
    );
    // A control character echoed in a parse error is escaped too.
    let out = converse(&mut s, b"\x1b", &mut echo_cmd);
    assert_eq!(
        out,
        error_line(None, "GenericError", "JSON parse error, stray '\\u001B'")
    );
}

#[test]
fn limits_answer_and_the_session_recovers() {
    let mut s = negotiated();
    let deep = format!(
        "{{\"execute\": \"x\", \"arguments\": {{\"a\": {}{}}}}}{{\"execute\": \"stop\", \"id\": 9}}",
        "[".repeat(MAX_NESTING + 5),
        "]".repeat(MAX_NESTING + 5)
    );
    let out = converse(&mut s, deep.as_bytes(), &mut |_| Ok(json!({})));
    assert_eq!(
        out,
        error_line(None, "GenericError", "JSON nesting depth limit exceeded")
            + "{\"return\": {}, \"id\": 9}\r\n"
    );
    let long = format!(
        "{{\"execute\": \"x\", \"arguments\": {{\"a\": \"{}\"}}}}{{\"execute\": \"stop\", \"id\": 9}}",
        "z".repeat(MAX_MESSAGE_BYTES)
    );
    let out = converse(&mut s, long.as_bytes(), &mut |_| Ok(json!({})));
    assert_eq!(
        out,
        error_line(None, "GenericError", "JSON token size limit exceeded")
            + "{\"return\": {}, \"id\": 9}\r\n"
    );
}

#[test]
fn queue_fills_then_reading_stops() {
    let mut s = negotiated();
    let mut input = Vec::new();
    for i in 0..20 {
        input.extend_from_slice(format!("{{\"execute\": \"c{i}\", \"id\": {i}}}").as_bytes());
    }
    assert!(s.wants_input());
    s.feed(&input);
    assert!(!s.wants_input());
    assert_eq!(s.queue.len(), QMP_REQ_QUEUE_LEN_MAX);
    let mut seen = Vec::new();
    while let Some(req) = s.next_request() {
        assert!(s.queue.len() <= QMP_REQ_QUEUE_LEN_MAX);
        seen.push(req.command.clone());
        s.reply(req.id, Ok(json!({})));
    }
    assert!(s.wants_input());
    let expected: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    assert_eq!(seen, expected);
}

#[test]
fn consume_and_take_output_agree() {
    let mut s = negotiated();
    s.event("A", None, (0, 0));
    s.event("B", None, (0, 0));
    let all = s.output().to_vec();
    s.consume(10);
    assert_eq!(s.output(), &all[10..]);
    assert_eq!(s.output_len(), all.len() - 10);
    assert_eq!(s.take_output(), all[10..].to_vec());
    assert_eq!(s.output_len(), 0);
    s.event("C", None, (0, 0));
    let n = s.output_len();
    s.consume(n + 100);
    assert_eq!(s.output_len(), 0);
}

/// A conversation that exercises negotiation, errors and commands.
const CONVERSATION: &[u8] = b"{'execute': 'query-status'}\n{\"execute\": \"qmp_capabilities\", \"id\": 1}\r\n\
{\"execute\": \"query-vnc\", \"arguments\": {\"a\": [1, 2.5, \"\\u00e9\"]}, \"id\": {\"n\": 2}}\n\
{\"execute\": @}\n{\"exec-oob\": \"x\"} [] \"str\" {\"execute\": \"stop\", \"id\": 'x'}\xff{'execute':'cont'}";

fn run_split(split: &[usize]) -> (String, Vec<Request>) {
    let mut s = Session::new(&greeting(&[]), false);
    let mut out = take(&mut s);
    let mut requests = Vec::new();
    let mut start = 0;
    for &end in split.iter().chain(std::iter::once(&CONVERSATION.len())) {
        let end = end.clamp(start, CONVERSATION.len());
        out += &converse(&mut s, &CONVERSATION[start..end], &mut |req| {
            requests.push(req.clone());
            Ok(json!({"ran": req.command}))
        });
        start = end;
    }
    (out, requests)
}

#[test]
fn every_split_point_gives_the_same_conversation() {
    let (whole, requests) = run_split(&[]);
    assert_eq!(
        requests
            .iter()
            .map(|r| r.command.as_str())
            .collect::<Vec<_>>(),
        ["query-vnc", "stop", "cont"]
    );
    assert!(whole.contains("Expecting capabilities negotiation"));
    assert!(whole.contains("stray '\\uFFFD'"));
    for at in 0..=CONVERSATION.len() {
        assert_eq!(
            run_split(&[at]),
            (whole.clone(), requests.clone()),
            "split at {at}"
        );
    }
}

proptest! {
    #[test]
    fn any_fragmentation_gives_the_same_conversation(
        mut cuts in prop::collection::vec(0..CONVERSATION.len(), 0..12),
    ) {
        cuts.sort_unstable();
        prop_assert_eq!(run_split(&cuts), run_split(&[]));
    }

    #[test]
    fn arbitrary_input_gets_answers_and_bounded_queues(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..40),
    ) {
        let mut s = negotiated();
        for chunk in &chunks {
            if !s.wants_input() {
                while let Some(req) = s.next_request() {
                    s.reply(req.id, Ok(json!({})));
                }
            }
            s.feed(chunk);
            prop_assert!(s.queue.len() <= QMP_REQ_QUEUE_LEN_MAX);
            while let Some(req) = s.next_request() {
                s.reply(req.id, Ok(json!({})));
            }
            prop_assert!(s.wants_input());
            prop_assert!(s.output().is_ascii());
            s.take_output();
        }
        // The session still works afterwards.
        s.feed(b"\x1b\n{\"execute\": \"stop\", \"id\": \"end\"}");
        let mut last = None;
        while let Some(req) = s.next_request() {
            last = Some(req.clone());
            s.reply(req.id, Ok(json!({})));
        }
        prop_assert_eq!(last.map(|r| r.command), Some("stop".to_owned()));
    }
}
