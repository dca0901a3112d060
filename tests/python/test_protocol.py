"""QMP wire protocol: greeting, capabilities negotiation, request checking, framing.

Texts are QEMU 7.2's (docs/interop/qmp-spec, monitor/qmp.c, qapi/qmp-dispatch.c), checked
against qemu-system-x86_64 with PORTHOLE_QMP_TARGET=qemu.
"""

from __future__ import annotations

import re
import subprocess

import pytest


NEGOTIATE_FIRST = "Expecting capabilities negotiation with 'qmp_capabilities'"
ALREADY_NEGOTIATED = "Capabilities negotiation is already complete, command ignored"


def error_of(reply: dict) -> tuple[str, str]:
    assert "error" in reply and "return" not in reply, f"expected an error reply: {reply}"
    assert set(reply["error"]) == {"class", "desc"}, reply
    return reply["error"]["class"], reply["error"]["desc"]


def test_greeting_is_one_crlf_line_with_version_and_capabilities(server, raw):
    line = raw.greeting_line
    assert line.endswith(b"}\r\n") and line.count(b"\n") == 1, line
    greeting = raw.greeting
    assert list(greeting) == ["QMP"], greeting
    assert set(greeting["QMP"]) == {"version", "capabilities"}, greeting
    version = greeting["QMP"]["version"]
    assert set(version) == {"qemu", "package"}, version
    assert isinstance(version["package"], str)
    triple = version["qemu"]
    assert set(triple) == {"major", "minor", "micro"}, triple
    assert all(type(v) is int and v >= 0 for v in triple.values()), triple
    # The version is the one `-version` prints.
    out = subprocess.run(
        [server.argv[0], "-version"], capture_output=True, text=True, timeout=10
    ).stdout
    m = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    assert m, out
    assert (triple["major"], triple["minor"], triple["micro"]) == tuple(map(int, m.groups()))
    # Porthole cannot run commands out of band, so it offers no "oob" (QEMU does).
    expected = [] if server.kind == "porthole" else ["oob"]
    assert greeting["QMP"]["capabilities"] == expected


def test_commands_before_negotiation_get_command_not_found(raw):
    for command in ("query-status", "query-version", "quit", "nosuch-command"):
        reply = raw.cmd(command, id=f"early-{command}")
        assert error_of(reply) == ("CommandNotFound", NEGOTIATE_FIRST), reply
        assert reply["id"] == f"early-{command}"
    # Still alive and still negotiating: qmp_capabilities works, then commands do.
    assert raw.cmd("qmp_capabilities", id=1) == {"return": {}, "id": 1}
    assert raw.cmd("query-status", id=2)["return"]["running"] is True


def test_second_qmp_capabilities_is_command_not_found(raw):
    raw.negotiate()
    reply = raw.cmd("qmp_capabilities", id="again")
    assert error_of(reply) == ("CommandNotFound", ALREADY_NEGOTIATED)
    assert reply["id"] == "again"
    # A failed second negotiation changes nothing.
    assert "return" in raw.cmd("query-status")


def test_qmp_capabilities_bad_arguments_keep_negotiation_mode(raw):
    cls, desc = error_of(raw.cmd("qmp_capabilities", {"enable": ["no-such-capability"]}, id=1))
    assert cls == "GenericError"
    # QEMU 7.2 names the list element 'null' here; newer QEMU names it 'enable[0]'.
    assert desc.endswith("does not accept value 'no-such-capability'"), desc
    assert error_of(raw.cmd("qmp_capabilities", {"bogus": 1})) == (
        "GenericError",
        "Parameter 'bogus' is unexpected",
    )
    assert error_of(raw.cmd("query-status")) == ("CommandNotFound", NEGOTIATE_FIRST)
    assert raw.cmd("qmp_capabilities", {"enable": []}) == {"return": {}}


@pytest.mark.porthole_only
def test_enabling_oob_which_porthole_does_not_offer_fails(raw):
    assert error_of(raw.cmd("qmp_capabilities", {"enable": ["oob"]})) == (
        "GenericError",
        "Capability oob not available",
    )
    # Still in negotiation mode.
    assert error_of(raw.cmd("query-status")) == ("CommandNotFound", NEGOTIATE_FIRST)
    raw.negotiate()


@pytest.mark.parametrize(
    "id_value", [0, -7, 2**40, "a string", "", [1, "two", None], {"a": {"b": [True]}}, None, True, 1.5]
)
def test_id_is_echoed_on_success_and_on_error(raw, id_value):
    raw.negotiate()
    ok = raw.cmd("query-status", id=id_value)
    assert "return" in ok and ok["id"] == id_value and type(ok["id"]) is type(id_value), ok
    bad = raw.cmd("no-such-command", id=id_value)
    assert bad["id"] == id_value and type(bad["id"]) is type(id_value), bad
    assert error_of(bad) == ("CommandNotFound", "The command no-such-command has not been found")


# Malformed requests after negotiation: (bytes sent, error class, desc or desc prefix, id).
# A desc ending in "..." is a prefix: the rest names the parser's complaint.
BAD_REQUESTS = [
    (b"garbage\n", "GenericError", "JSON parse error, ...", None),
    (b"]\n", "GenericError", "JSON parse error, ...", None),
    (b'"a string"\n', "GenericError", "QMP input must be a JSON object", None),
    (b"[1, 2]\n", "GenericError", "QMP input must be a JSON object", None),
    (b"42\n", "GenericError", "QMP input must be a JSON object", None),
    (b'{"foo": 1}\n', "GenericError", "QMP input member 'foo' is unexpected", None),
    (b'{"id": 5}\n', "GenericError", "QMP input lacks member 'execute'", 5),
    (b'{"execute": 1, "id": 6}\n', "GenericError", "QMP input member 'execute' must be a string", 6),
    (
        b'{"execute": "query-status", "arguments": [], "id": 7}\n',
        "GenericError",
        "QMP input member 'arguments' must be an object",
        7,
    ),
    (
        b'{"execute": "query-status", "arguments": null, "id": 8}\n',
        "GenericError",
        "QMP input member 'arguments' must be an object",
        8,
    ),
    (
        b'{"execute": "query-status", "bar": 1, "id": 9}\n',
        "GenericError",
        "QMP input member 'bar' is unexpected",
        9,
    ),
    (
        b'{"execute": "query-status", "arguments": {"x": 1}, "id": 10}\n',
        "GenericError",
        "Parameter 'x' is unexpected",
        10,
    ),
    (
        b'{"exec-oob": "query-status", "id": 11}\n',
        "GenericError",
        "QMP input member 'exec-oob' is unexpected",
        11,
    ),
    (
        b'{"execute": "no-such-command", "id": 12}\n',
        "CommandNotFound",
        "The command no-such-command has not been found",
        12,
    ),
    (
        b'{"execute": "query-name", "id": "\xc3\x28"}\n',
        "GenericError",
        "JSON parse error, ...",
        None,
    ),
    (b'{"execute":\x1b\n', "GenericError", "JSON parse error, ...", None),
]


@pytest.mark.parametrize("data,cls,desc,id_value", BAD_REQUESTS, ids=lambda v: repr(v)[:40])
def test_malformed_request_gets_error_and_connection_stays(raw, data, cls, desc, id_value):
    raw.negotiate()
    raw.send(data)
    reply = raw.reply()
    got_cls, got_desc = error_of(reply)
    assert got_cls == cls, reply
    if desc.endswith("..."):
        assert got_desc.startswith(desc[:-3]), reply
    else:
        assert got_desc == desc, reply
    if id_value is None:
        assert "id" not in reply, reply
    else:
        assert reply["id"] == id_value, reply
    # The connection survives and the parser is in a clean state.
    assert raw.cmd("query-name", id="after") == {"return": {"name": "vm0"}, "id": "after"}


def test_every_reply_line_ends_in_crlf(raw):
    # RawQmp.read_message asserts the "\r\n" of every line it reads.
    raw.negotiate()
    for command in ("query-status", "query-version", "query-name", "query-vnc", "stop", "cont"):
        raw.send_json({"execute": command, "id": command})
    seen = []
    while len(seen) < 6:
        msg = raw.read_message()
        if "event" not in msg:
            seen.append(msg["id"])
    assert seen == ["query-status", "query-version", "query-name", "query-vnc", "stop", "cont"]


def test_json_syntax_accepted_like_qemu(raw):
    raw.negotiate()
    # Single-quoted strings, several objects on one line, one object over several lines,
    # blank lines.
    raw.send(b"{'execute': 'query-name', 'id': 'sq'}\n")
    assert raw.reply() == {"return": {"name": "vm0"}, "id": "sq"}
    raw.send(b'{"execute":"query-name","id":1}{"execute":"query-name","id":2}\n')
    assert raw.reply()["id"] == 1
    assert raw.reply()["id"] == 2
    raw.send(b'\n\n  {"execute":\n "query-name",\r\n "id": 3\n}\n')
    assert raw.reply() == {"return": {"name": "vm0"}, "id": 3}


def test_pipelined_requests_are_answered_in_order(raw):
    raw.negotiate()
    n = 40
    raw.send(b"".join(b'{"execute":"query-status","id":%d}\n' % i for i in range(n)))
    ids = [raw.reply()["id"] for _ in range(n)]
    assert ids == list(range(n))


def test_control_character_resets_the_parser(raw):
    raw.negotiate()
    # A half-sent object is thrown away by the control character; what follows is parsed
    # afresh.
    raw.send(b'{"execute": "query-status", "id": \x1b{"execute": "query-name", "id": 2}\n')
    cls, desc = error_of(raw.reply())
    assert cls == "GenericError" and desc.startswith("JSON parse error"), desc
    assert raw.reply() == {"return": {"name": "vm0"}, "id": 2}


def test_qemu_qmp_client_connects_and_negotiates(qmp):
    """The unchanged qemu.qmp library gets through greeting and negotiation."""
    assert qmp.execute("query-status")["running"] is True
    assert qmp.greeting["QMP"]["version"]["qemu"] == qmp.execute("query-version")["qemu"]
