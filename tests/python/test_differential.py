"""Differential tests: the same QMP conversation with Porthole and with QEMU 7.2.

Each scenario starts one Porthole and one QEMU (`-machine none -display none -nodefaults
-vnc 127.0.0.1:N,password=on -qmp unix:...,server=on,wait=off -name vm0`; scenarios that
need a graphic console give QEMU a PC with VGA instead), sends both the same commands and
compares:

- successes: the shape of the return value (member names and JSON types, recursively;
  every element of an array must have the shape of some element of QEMU's array);
- errors: the class, and the text;
- one side failing where the other succeeds is a difference;
- events: the shape of the whole message.

Deliberate differences are listed below, each with its reason, and mirrored in
docs/qmp-differences.md. Anything else that differs fails the test, with every difference
of the scenario in the message.

With PORTHOLE_QMP_TARGET=qemu both sides are QEMU: every scenario must then come out equal,
which checks the comparison itself.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Callable

import pytest

import harness
from harness import Rfb

PASSWORD = "diff3r3nt"

# --- deliberate differences (mirror in docs/qmp-differences.md) -----------------------------

#: Members QEMU 7.2 sends that Porthole does not, by path in the compared value.
ALLOWED_MISSING = {
    "query-status$.singlestep":
        "deprecated in QEMU 8.1 and removed in 9.0; Porthole has no single-step mode",
}

#: Members Porthole sends that QEMU 7.2 does not.
ALLOWED_EXTRA: dict[str, str] = {}

#: Steps whose outcome differs on purpose: label -> (Porthole's outcome kind, reason).
DELIBERATE_OUTCOMES = {
    "set_password connected=fail":
        ("return", "QEMU 7.2 implements only connected=keep for VNC; Porthole implements all three"),
    "set_password connected=disconnect":
        ("return", "QEMU 7.2 implements only connected=keep for VNC; Porthole implements all three"),
    "qom-get data (secret)":
        ("error", "Porthole never returns a secret's value over QMP; QEMU 7.2 returns it in clear"),
}

#: Greeting members that differ on purpose, by path.
GREETING_DIFFERENCES = {
    "greeting$.QMP.capabilities":
        "Porthole offers no 'oob' capability: its single-threaded loop cannot run a command "
        "out of band",
}


# --- machinery -----------------------------------------------------------------------------

Step = tuple  # (label, command, args) or (label, callable(qmp, server) -> outcome)


def both_kinds() -> tuple[str, str]:
    """(ours, QEMU): ours is Porthole, or QEMU itself in the self-check mode."""
    harness.qemu_bin()
    return harness.target(), "qemu"


def run_step(step: Step, qmp: harness.Qmp, server: harness.Server) -> tuple:
    label, action = step[0], step[1]
    if callable(action):
        return action(qmp, server)
    return qmp.call(action, step[2] if len(step) > 2 else None)


def compare_outcomes(label: str, ours: tuple, theirs: tuple, self_check: bool) -> list[str]:
    if not self_check and label in DELIBERATE_OUTCOMES:
        kind, _ = DELIBERATE_OUTCOMES[label]
        if ours[0] != kind:
            return [f"{label}: Porthole was documented to give {kind}, got {ours}"]
        return []
    if ours[0] != theirs[0]:
        return [f"{label}: {ours} vs QEMU {theirs}"]
    if ours[0] == "error":
        out = []
        if ours[1] != theirs[1]:
            out.append(f"{label}: error class {ours[1]} vs QEMU {theirs[1]} ({ours[2]!r} / {theirs[2]!r})")
        elif ours[2] != theirs[2]:
            out.append(f"{label}: error text {ours[2]!r} vs QEMU {theirs[2]!r}")
        return out
    return shape_diff(ours[1], theirs[1], label)


def shape_diff(ours: Any, theirs: Any, label: str) -> list[str]:
    command = label.split()[0]
    return [
        f"{label}: {d}"
        for d in harness.shape_diff(ours, theirs, f"{command}$",
                                    allow_missing=ALLOWED_MISSING, allow_extra=ALLOWED_EXTRA)
    ]


def run_scenario(start_server, open_qmp, steps: list[Step], console: bool = False,
                 **opts: Any) -> list[str]:
    """Runs `steps` on both servers, step by step; returns every difference."""
    ours_kind, qemu_kind = both_kinds()
    sides = []
    for kind in (ours_kind, qemu_kind):
        s = start_server(kind, password=True, name="vm0",
                         console=console and kind == "qemu", **opts)
        sides.append((s, open_qmp(s)))
    self_check = ours_kind == "qemu"
    diffs: list[str] = []
    for step in steps:
        outcomes = [run_step(step, q, s) for s, q in sides]
        diffs += compare_outcomes(step[0], outcomes[0], outcomes[1], self_check)
    return diffs


def assert_no_differences(diffs: list[str]) -> None:
    assert not diffs, "differences from QEMU 7.2:\n  " + "\n  ".join(diffs)


# --- scenarios -----------------------------------------------------------------------------


def test_greeting_has_the_same_shape(start_server):
    ours_kind, qemu_kind = both_kinds()
    greetings = []
    for kind in (ours_kind, qemu_kind):
        raw = start_server(kind).raw()
        greetings.append(raw.greeting)
        raw.close()
    allowed = set() if ours_kind == "qemu" else set(GREETING_DIFFERENCES)
    diffs = [d for d in harness.shape_diff(greetings[0], greetings[1], "greeting$")
             if d.split(":")[0] not in allowed]
    assert_no_differences(diffs)


QUERIES = [
    ("query-version", "query-version"),
    ("query-status", "query-status"),
    ("query-name", "query-name"),
    ("query-vnc", "query-vnc"),
    ("query-vnc-servers", "query-vnc-servers"),
    ("query-chardev", "query-chardev"),
    ("query-commands", "query-commands"),
    ("query-qmp-schema", "query-qmp-schema"),
    ("human-monitor-command info status", "human-monitor-command", {"command-line": "info status"}),
    ("human-monitor-command info name", "human-monitor-command", {"command-line": "info name"}),
    ("human-monitor-command change vnc password (prompt)", "human-monitor-command",
     {"command-line": "change vnc password"}),
    ("human-monitor-command unknown", "human-monitor-command", {"command-line": "nosuchcmd"}),
    ("human-monitor-command missing", "human-monitor-command", {}),
    ("human-monitor-command cpu-index 5", "human-monitor-command",
     {"command-line": "info status", "cpu-index": 5}),
    ("query-status unexpected argument", "query-status", {"x": 1}),
    ("unknown command", "no-such-command"),
    ("qmp_capabilities again", "qmp_capabilities"),
]


def test_queries(start_server, open_qmp):
    assert_no_differences(run_scenario(start_server, open_qmp, QUERIES))


def test_query_commands_names_are_qemus(start_server, open_qmp):
    """Porthole's commands are a subset of QEMU 7.2's, with QEMU's names."""
    ours_kind, qemu_kind = both_kinds()
    names = []
    for kind in (ours_kind, qemu_kind):
        q = open_qmp(start_server(kind))
        names.append({c["name"] for c in q.execute("query-commands")})
    extra = names[0] - names[1]
    assert not extra, f"commands QEMU 7.2 does not have: {sorted(extra)}"


def schema_args(schema: list[dict], command: str) -> dict[str, bool]:
    """A command's argument names (including union variants') -> optional?"""
    by_name = {e["name"]: e for e in schema}
    arg = by_name[by_name[command]["arg-type"]]
    out = {m["name"]: "default" in m for m in arg["members"]}
    for v in arg.get("variants", []):
        for m in by_name[v["type"]]["members"]:
            out.setdefault(m["name"], True)
    return out


#: Commands whose arguments Porthole's schema describes differently on purpose.
SCHEMA_ARG_DIFFERENCES: dict[str, str] = {
    "object-add": "Porthole supports only some object types (the union has fewer variants)",
    "display-update": "Porthole extension: 'tls-creds' attaches a tls-creds object to the running "
                      "VNC server, which QEMU 7.2 cannot do",
}


def test_schema_arguments_match(start_server, open_qmp):
    """For every command both have, query-qmp-schema gives the same argument names, with the
    same optional/required flags."""
    ours_kind, qemu_kind = both_kinds()
    schemas = []
    for kind in (ours_kind, qemu_kind):
        schemas.append(open_qmp(start_server(kind)).execute("query-qmp-schema"))
    commands = [{e["name"] for e in s if e["meta-type"] == "command"} for s in schemas]
    diffs = []
    for command in sorted(commands[0] & commands[1]):
        if ours_kind != "qemu" and command in SCHEMA_ARG_DIFFERENCES:
            continue
        a, b = schema_args(schemas[0], command), schema_args(schemas[1], command)
        if a != b:
            diffs.append(f"{command}: arguments {sorted(a.items())} vs QEMU {sorted(b.items())}")
    ev = [{e["name"] for e in s if e["meta-type"] == "event"} for s in schemas]
    for event in sorted(ev[0] - ev[1]):
        diffs.append(f"event {event} is not in QEMU 7.2's schema")
    assert_no_differences(diffs)


OBJECTS = [
    ("object-add secret", "object-add", {"qom-type": "secret", "id": "sec0", "data": "letmein"}),
    ("object-add duplicate", "object-add", {"qom-type": "secret", "id": "sec0", "data": "x"}),
    ("object-add bad id", "object-add", {"qom-type": "secret", "id": "0bad", "data": "x"}),
    ("object-add bad type", "object-add", {"qom-type": "nosuch", "id": "x1"}),
    ("object-add no data", "object-add", {"qom-type": "secret", "id": "x2"}),
    ("object-add bad property", "object-add", {"qom-type": "secret", "id": "x3", "data": "x", "b": 1}),
    ("object-add bad base64", "object-add",
     {"qom-type": "secret", "id": "x4", "data": "!!!", "format": "base64"}),
    ("object-add base64", "object-add",
     {"qom-type": "secret", "id": "sec1", "data": "aGVsbG8=", "format": "base64"}),
    ("qom-list /objects", "qom-list", {"path": "/objects"}),
    ("qom-list /objects/sec0", "qom-list", {"path": "/objects/sec0"}),
    ("qom-list sec0 (partial path)", "qom-list", {"path": "sec0"}),
    ("qom-list nosuch", "qom-list", {"path": "/objects/nosuch"}),
    ("qom-get type", "qom-get", {"path": "/objects/sec0", "property": "type"}),
    ("qom-get format", "qom-get", {"path": "/objects/sec1", "property": "format"}),
    ("qom-get loaded", "qom-get", {"path": "/objects/sec0", "property": "loaded"}),
    ("qom-get keyid", "qom-get", {"path": "/objects/sec0", "property": "keyid"}),
    ("qom-get data (secret)", "qom-get", {"path": "/objects/sec0", "property": "data"}),
    ("qom-get nosuch property", "qom-get", {"path": "/objects/sec0", "property": "nosuch"}),
    ("qom-get nosuch path", "qom-get", {"path": "/objects/nosuch", "property": "type"}),
    ("qom-get /objects type", "qom-get", {"path": "/objects", "property": "type"}),
    ("object-del", "object-del", {"id": "sec0"}),
    ("object-del again", "object-del", {"id": "sec0"}),
    ("object-del missing id", "object-del", {}),
]


def test_objects(start_server, open_qmp):
    assert_no_differences(run_scenario(start_server, open_qmp, OBJECTS))


#: HMP's object_add / object_del (through human-monitor-command): the whole transcript must
#: be QEMU's, text for text.
HMP_OBJECT_LINES = [
    "object_add secret,id=s0,data=letmein",
    "object_add secret,id=s0,data=x",
    "object_add secret,id=1s,data=x",
    "object_add nosuch,id=x",
    "object_add secret,id=s3",
    "object_add authz-listfile,id=a0",
    "object_add authz-simple,id=a1,identity=CN=x,,O=y",
    'object_add {"qom-type": "secret", "id": "s2", "data": "y"}',
    "object_add authz-simple,id=a2,identity=x,refresh=on",
    "object_add",
    "object_del s0",
    "object_del s0",
    "object_del",
    "help object_add",
    "help object_del",
]


def hmp_transcript(line: str) -> tuple:
    def step(qmp: harness.Qmp, _server: harness.Server) -> tuple:
        outcome = qmp.call("human-monitor-command", {"command-line": line})
        # The text itself is compared: wrap it as an "error" text.
        return ("error", "hmp", outcome[1]) if outcome[0] == "return" else outcome
    return (f"hmp {line}", step)


def test_hmp_object_add_and_object_del(start_server, open_qmp):
    steps = [hmp_transcript(line) for line in HMP_OBJECT_LINES]
    steps.append(("qom-get a1 identity", "qom-get", {"path": "/objects/a1", "property": "identity"}))
    assert_no_differences(run_scenario(start_server, open_qmp, steps))


PASSWORDS = [
    ("set_password", "set_password", {"protocol": "vnc", "password": PASSWORD}),
    ("set_password connected=keep", "set_password",
     {"protocol": "vnc", "password": PASSWORD, "connected": "keep"}),
    ("set_password display=default", "set_password",
     {"protocol": "vnc", "password": PASSWORD, "display": "default"}),
    ("set_password connected=fail", "set_password",
     {"protocol": "vnc", "password": PASSWORD, "connected": "fail"}),
    ("set_password connected=disconnect", "set_password",
     {"protocol": "vnc", "password": PASSWORD, "connected": "disconnect"}),
    ("set_password connected=bogus", "set_password",
     {"protocol": "vnc", "password": "x", "connected": "bogus"}),
    ("set_password display=nosuch", "set_password",
     {"protocol": "vnc", "password": "x", "display": "nosuch"}),
    ("set_password spice", "set_password", {"protocol": "spice", "password": "x"}),
    ("set_password bad protocol", "set_password", {"protocol": "foo", "password": "x"}),
    ("set_password missing password", "set_password", {"protocol": "vnc"}),
    ("set_password password not a string", "set_password", {"protocol": "vnc", "password": 1}),
    ("expire_password now", "expire_password", {"protocol": "vnc", "time": "now"}),
    ("expire_password never", "expire_password", {"protocol": "vnc", "time": "never"}),
    ("expire_password +60", "expire_password", {"protocol": "vnc", "time": "+60"}),
    ("expire_password epoch", "expire_password", {"protocol": "vnc", "time": "4000000000"}),
    ("expire_password display=nosuch", "expire_password",
     {"protocol": "vnc", "time": "now", "display": "nosuch"}),
    ("expire_password spice", "expire_password", {"protocol": "spice", "time": "now"}),
    ("expire_password missing time", "expire_password", {"protocol": "vnc"}),
    ("change-vnc-password", "change-vnc-password", {"password": PASSWORD}),
    ("change-vnc-password missing", "change-vnc-password", {}),
    ("human-monitor-command change vnc password X", "human-monitor-command",
     {"command-line": f"change vnc password {PASSWORD}"}),
]


def test_passwords(start_server, open_qmp):
    assert_no_differences(run_scenario(start_server, open_qmp, PASSWORDS))


def input_steps(files: Path) -> list[Step]:
    return [
        ("send-key qcode", "send-key", {"keys": [{"type": "qcode", "data": "a"}]}),
        ("send-key number hold-time", "send-key",
         {"keys": [{"type": "number", "data": 30}], "hold-time": 5}),
        ("send-key empty", "send-key", {"keys": []}),
        ("send-key bad qcode", "send-key", {"keys": [{"type": "qcode", "data": "nosuchkey"}]}),
        ("send-key missing keys", "send-key", {}),
        ("input-send-event empty", "input-send-event", {"events": []}),
        ("input-send-event bad type", "input-send-event", {"events": [{"type": "bogus", "data": {}}]}),
        ("input-send-event nosuch device", "input-send-event",
         {"device": "nosuch", "events": [{"type": "rel", "data": {"axis": "x", "value": 1}}]}),
        # Neither Porthole's machine nor QEMU's -machine none has a pointing device.
        ("input-send-event btn (no pointer)", "input-send-event",
         {"events": [{"type": "btn", "data": {"button": "left", "down": True}}]}),
        ("input-send-event rel (no pointer)", "input-send-event",
         {"events": [{"type": "rel", "data": {"axis": "x", "value": 5}}]}),
        ("input-send-event abs (no pointer)", "input-send-event",
         {"events": [{"type": "abs", "data": {"axis": "y", "value": 100}}]}),
        ("screendump bad format", "screendump", {"filename": str(files / "x"), "format": "jpg"}),
        ("screendump nosuch device", "screendump", {"filename": str(files / "x"), "device": "nosuch"}),
        ("screendump head without device", "screendump", {"filename": str(files / "x"), "head": 1}),
        ("screendump missing filename", "screendump", {}),
    ]


def test_input_and_screendump_errors(start_server, open_qmp, tmp_path):
    assert_no_differences(run_scenario(start_server, open_qmp, input_steps(tmp_path)))


def console_steps(files: Path) -> list[Step]:
    def ev(t, data):
        return {"events": [{"type": t, "data": data}]}

    return [
        ("screendump ppm", "screendump", {"filename": str(files / "a.ppm")}),
        ("screendump png", "screendump", {"filename": str(files / "a.png"), "format": "png"}),
        ("screendump unwritable", "screendump", {"filename": str(files / "no" / "dir.ppm")}),
        ("input-send-event key", "input-send-event",
         ev("key", {"key": {"type": "qcode", "data": "a"}, "down": True})),
        ("input-send-event key number", "input-send-event",
         ev("key", {"key": {"type": "number", "data": 30}, "down": False})),
    ]


def test_console_commands(start_server, open_qmp, tmp_path):
    """screendump and keyboard input-send-event succeed (QEMU: a PC with VGA)."""
    assert_no_differences(run_scenario(start_server, open_qmp, console_steps(tmp_path),
                                       console=True))


def _with_fd(command: str, args: dict) -> Callable:
    def act(qmp: harness.Qmp, server: harness.Server) -> tuple:
        ours, theirs = socket.socketpair()
        qmp.send_fd(theirs.fileno())
        theirs.close()
        qmp.execute("getfd", fdname=args["fdname"])
        try:
            return qmp.call(command, args)
        finally:
            ours.close()
    return act


def _add_client_then_query(qmp: harness.Qmp, server: harness.Server) -> tuple:
    ours, theirs = socket.socketpair()
    qmp.send_fd(theirs.fileno())
    theirs.close()
    qmp.execute("getfd", fdname="v")
    qmp.execute("add_client", protocol="vnc", fdname="v", skipauth=True)
    rfb = Rfb(ours)
    rfb.version()
    rfb.authenticate(None)
    rfb.init()
    qmp.wait_event("VNC_INITIALIZED")
    try:
        return qmp.call("query-vnc")
    finally:
        rfb.close()


FDS = [
    ("getfd without descriptor", "getfd", {"fdname": "nofd"}),
    ("getfd digit name", "getfd", {"fdname": "1fd"}),
    ("getfd missing name", "getfd", {}),
    ("getfd + closefd", _with_fd("closefd", {"fdname": "f1"})),
    ("closefd unknown", "closefd", {"fdname": "f1"}),
    ("add_client unknown fd", "add_client", {"protocol": "vnc", "fdname": "nosuch"}),
    ("add_client bad protocol", _with_fd("add_client", {"protocol": "bogus", "fdname": "f2"})),
    ("add_client spice", _with_fd("add_client", {"protocol": "spice", "fdname": "f3"})),
    ("add_client vnc", _with_fd("add_client", {"protocol": "vnc", "fdname": "f4", "skipauth": True})),
    ("query-vnc with a passed client", _add_client_then_query),
]


def test_fd_passing(start_server, open_qmp):
    assert_no_differences(run_scenario(start_server, open_qmp, FDS))


# --- events --------------------------------------------------------------------------------


def _collect_events(qmp: harness.Qmp, server: harness.Server) -> dict[str, dict]:
    """Drives the run state and one VNC client; returns the first event of each name."""
    events: dict[str, dict] = {}

    def take(name: str) -> None:
        events[name] = qmp.wait_event(name)

    qmp.execute("stop")
    take("STOP")
    qmp.execute("cont")
    take("RESUME")
    qmp.execute("system_reset")
    take("RESET")
    qmp.execute("set_password", protocol="vnc", password=PASSWORD)
    rfb = Rfb.tcp(server.vnc_port).handshake(PASSWORD)
    take("VNC_CONNECTED")
    take("VNC_INITIALIZED")
    events["query-vnc with a client"] = {"return": qmp.execute("query-vnc")}
    events["query-vnc-servers with a client"] = {"return": qmp.execute("query-vnc-servers")}
    rfb.close()
    take("VNC_DISCONNECTED")
    quit_outcome(qmp)
    take("SHUTDOWN")
    server.wait_exit()
    return events


def quit_outcome(qmp: harness.Qmp) -> None:
    """Sends quit; the reply may be lost when the process exits first."""
    from qemu.qmp import ExecInterruptedError

    try:
        qmp.call("quit")
    except (ExecInterruptedError, EOFError, ConnectionError):
        pass


def test_events(start_server, open_qmp):
    ours_kind, qemu_kind = both_kinds()
    collected = []
    for kind in (ours_kind, qemu_kind):
        s = start_server(kind, password=True, name="vm0")
        collected.append(_collect_events(open_qmp(s), s))
    diffs = []
    for name in collected[1]:
        diffs += shape_diff(collected[0][name], collected[1][name], name)
    assert_no_differences(diffs)


def test_powerdown_event(start_server, open_qmp):
    ours_kind, qemu_kind = both_kinds()
    got = []
    for kind in (ours_kind, qemu_kind):
        q = open_qmp(start_server(kind))
        q.execute("system_powerdown")
        got.append(q.wait_event("POWERDOWN"))
    assert_no_differences(shape_diff(got[0], got[1], "POWERDOWN"))


# --- the comparison itself ------------------------------------------------------------------


@pytest.mark.parametrize("ours,theirs,expected", [
    ({"a": 1, "b": "x"}, {"b": "y", "a": 2}, []),
    ({"a": 1}, {"a": 1, "b": 2}, ["t$.b: missing (QEMU has it)"]),
    ({"a": 1, "c": 2}, {"a": 1}, ["t$.c: extra (QEMU does not have it)"]),
    ({"a": True}, {"a": 1}, ["t$.a: bool vs QEMU int"]),
    ({"a": "1"}, {"a": 1}, ["t$.a: string vs QEMU int"]),
    ({"a": None}, {"a": {}}, ["t$.a: null vs QEMU object"]),
    ([{"n": "x"}, {"n": "y"}], [{"n": "z"}], []),
    ([{"n": 1}], [{"n": "z"}], ["t$[].n: int vs QEMU string"]),
    ([], [{"n": "z"}], ["t$: empty array vs QEMU non-empty"]),
    ({"l": [{"a": 1}, {"a": 1, "d": "x"}]}, {"l": [{"a": 2, "d": "y"}, {"a": 3}]}, []),
    ({"l": [{"a": 1, "e": 1}]}, {"l": [{"a": 2, "d": "y"}, {"a": 3}]},
     ["t$.l[].e: extra (QEMU does not have it)"]),
    ({"x": {"y": {"z": [1]}}}, {"x": {"y": {"z": ["1"]}}}, ["t$.x.y.z[]: int vs QEMU string"]),
])
def test_shape_comparison(ours, theirs, expected):
    assert harness.shape_diff(ours, theirs, "t$") == expected


def test_shape_comparison_allowances():
    assert harness.shape_diff({"a": 1}, {"a": 1, "b": 2}, "t$", allow_missing={"t$.b"}) == []
    assert harness.shape_diff({"a": 1, "c": 1}, {"a": 1}, "t$", allow_extra={"t$.c"}) == []


def test_outcome_comparison():
    assert compare_outcomes("x", ("error", "GenericError", "a"), ("error", "GenericError", "a"), False) == []
    assert compare_outcomes("x", ("error", "GenericError", "a"), ("error", "CommandNotFound", "a"), False)
    assert compare_outcomes("x", ("error", "GenericError", "a"), ("error", "GenericError", "b"), False)
    assert compare_outcomes("x", ("return", {}), ("error", "GenericError", "b"), False)
    label = "set_password connected=fail"
    assert compare_outcomes(label, ("return", {}), ("error", "GenericError", "b"), False) == []
    assert compare_outcomes(label, ("error", "GenericError", "b"), ("error", "GenericError", "b"), False)
    assert compare_outcomes("query-status", ("return", {"running": True}),
                            ("return", {"running": True, "singlestep": False}), False) == []
