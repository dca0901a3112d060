"""Every QMP command of issue #3 with good and bad arguments, through qemu.qmp.

Error classes and texts are QEMU 7.2's. A desc written as re:PATTERN is matched as a regular
expression (used where QEMU's text carries an OS message or an internal type name).
getfd/closefd/add_client are in test_fds.py, events in test_events.py.
"""

from __future__ import annotations

import re
import time

import pytest

import harness
from harness import Rfb, vnc_login

PASSWORD = "s3cret!x"

# Commands that issue #3 asks for, all of which QEMU 7.2 has too.
ISSUE_COMMANDS = {
    "qmp_capabilities", "query-version", "query-commands", "query-qmp-schema", "query-status",
    "query-name", "stop", "cont", "system_reset", "system_powerdown", "quit", "set_password",
    "expire_password", "change-vnc-password", "query-vnc", "query-vnc-servers", "screendump",
    "send-key", "input-send-event", "human-monitor-command", "object-add", "object-del",
    "qom-list", "qom-get", "query-chardev", "getfd", "closefd", "add_client",
}


def check_error(qmp: harness.Qmp, command: str, args: dict, cls: str, desc: str) -> None:
    got_cls, got_desc = qmp.error(command, args)
    assert got_cls == cls, f"{command} {args}: {got_cls}: {got_desc}"
    if desc.startswith("re:"):
        assert re.fullmatch(desc[3:], got_desc), f"{command} {args}: {got_desc!r} !~ {desc[3:]!r}"
    else:
        assert got_desc == desc, f"{command} {args}"


def run_error_table(qmp, table):
    for command, args, cls, desc in table:
        check_error(qmp, command, args, cls, desc)


# --- introspection ------------------------------------------------------------------------


def test_query_version(qmp):
    v = qmp.execute("query-version")
    assert set(v) == {"qemu", "package"} and isinstance(v["package"], str)
    assert set(v["qemu"]) == {"major", "minor", "micro"}
    assert all(type(x) is int for x in v["qemu"].values())
    check_error(qmp, "query-version", {"x": 1}, "GenericError", "Parameter 'x' is unexpected")


def test_query_commands_lists_every_command_of_the_issue(qmp):
    commands = qmp.execute("query-commands")
    assert all(set(c) == {"name"} and isinstance(c["name"], str) for c in commands), commands[:5]
    names = [c["name"] for c in commands]
    assert len(names) == len(set(names)), "duplicate names"
    missing = ISSUE_COMMANDS - set(names)
    assert not missing, f"missing from query-commands: {sorted(missing)}"


def test_every_listed_command_exists(qmp):
    """No command in query-commands answers CommandNotFound (asked with a bogus argument, so
    nothing runs)."""
    for name in (c["name"] for c in qmp.execute("query-commands")):
        if name == "qmp_capabilities":
            continue
        cls, desc = qmp.error(name, {"porthole-bogus-argument": 1})
        assert cls == "GenericError", f"{name}: {cls}: {desc}"


def test_query_qmp_schema_is_self_consistent(qmp):
    schema = qmp.execute("query-qmp-schema")
    by_name = {}
    for entry in schema:
        assert isinstance(entry.get("name"), str) and isinstance(entry.get("meta-type"), str), entry
        assert entry["name"] not in by_name, f"duplicate schema entry {entry['name']}"
        by_name[entry["name"]] = entry
    metas = {e["meta-type"] for e in schema}
    assert metas <= {"builtin", "enum", "array", "object", "alternate", "command", "event"}, metas
    commands = {e["name"] for e in schema if e["meta-type"] == "command"}
    listed = {c["name"] for c in qmp.execute("query-commands")}
    assert commands == listed, f"schema vs query-commands: {sorted(commands ^ listed)}"
    events = {e["name"] for e in schema if e["meta-type"] == "event"}
    wanted = {"VNC_CONNECTED", "VNC_INITIALIZED", "VNC_DISCONNECTED", "STOP", "RESUME",
              "RESET", "POWERDOWN", "SHUTDOWN"}
    assert wanted <= events, f"events missing from the schema: {sorted(wanted - events)}"

    def ref(name, where):
        assert name in by_name, f"{where} refers to {name!r}, which is not in the schema"

    for e in schema:
        meta, where = e["meta-type"], e["name"]
        if meta == "command":
            ref(e["arg-type"], where)
            ref(e["ret-type"], where)
        elif meta == "event":
            ref(e["arg-type"], where)
        elif meta == "array":
            ref(e["element-type"], where)
        elif meta == "object":
            for m in e["members"]:
                ref(m["type"], f"{where}.{m['name']}")
            for v in e.get("variants", []):
                ref(v["type"], f"{where} variant {v['case']}")
            if "tag" in e:
                assert e["tag"] in {m["name"] for m in e["members"]}, where
        elif meta == "alternate":
            for m in e["members"]:
                ref(m["type"], where)
        elif meta == "enum":
            assert all(isinstance(v, str) for v in e["values"]), where
        elif meta == "builtin":
            assert e["json-type"] in {"string", "number", "int", "boolean", "null", "object",
                                      "array", "value"}, e
    # The arguments of a few commands, as QEMU names them.
    def arg_names(command):
        arg = by_name[by_name[command]["arg-type"]]
        names = {m["name"] for m in arg["members"]}
        for v in arg.get("variants", []):
            names |= {m["name"] for m in by_name[v["type"]]["members"]}
        return names

    assert arg_names("set_password") == {"protocol", "password", "connected", "display"}
    assert arg_names("expire_password") == {"protocol", "time", "display"}
    assert arg_names("screendump") == {"filename", "device", "head", "format"}
    assert arg_names("human-monitor-command") == {"command-line", "cpu-index"}
    assert arg_names("add_client") == {"protocol", "fdname", "skipauth", "tls"}


# --- run state ----------------------------------------------------------------------------


def test_query_status_stop_cont(qmp):
    status = qmp.execute("query-status")
    assert (status["running"], status["status"]) == (True, "running"), status
    assert qmp.execute("stop") == {}
    assert qmp.execute("query-status")["status"] == "paused"
    assert qmp.execute("query-status")["running"] is False
    # Stopping a stopped guest is not an error.
    assert qmp.execute("stop") == {}
    assert qmp.execute("cont") == {}
    assert qmp.execute("query-status")["status"] == "running"
    assert qmp.execute("cont") == {}
    run_error_table(qmp, [
        ("stop", {"now": True}, "GenericError", "Parameter 'now' is unexpected"),
        ("cont", {"x": 1}, "GenericError", "Parameter 'x' is unexpected"),
        ("query-status", {"x": 1}, "GenericError", "Parameter 'x' is unexpected"),
    ])


def test_query_name(start_server, open_qmp):
    named = open_qmp(start_server(name="guest-7"))
    assert named.execute("query-name") == {"name": "guest-7"}
    unnamed = open_qmp(start_server())
    assert unnamed.execute("query-name") == {}
    check_error(unnamed, "query-name", {"x": 1}, "GenericError", "Parameter 'x' is unexpected")


def test_system_reset_and_bad_arguments(qmp):
    assert qmp.execute("system_reset") == {}
    ev = qmp.wait_event("RESET")
    assert ev["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
    assert qmp.execute("query-status")["status"] == "running"
    check_error(qmp, "system_reset", {"x": 1}, "GenericError", "Parameter 'x' is unexpected")
    check_error(qmp, "system_powerdown", {"x": 1}, "GenericError", "Parameter 'x' is unexpected")
    check_error(qmp, "quit", {"x": 1}, "GenericError", "Parameter 'x' is unexpected")


# --- passwords ----------------------------------------------------------------------------

SET_PASSWORD_ERRORS = [
    ("set_password", {"protocol": "foo", "password": "x"}, "GenericError",
     "Parameter 'protocol' does not accept value 'foo'"),
    ("set_password", {"protocol": "vnc"}, "GenericError", "Parameter 'password' is missing"),
    ("set_password", {"password": "x"}, "GenericError", "Parameter 'protocol' is missing"),
    ("set_password", {"protocol": "vnc", "password": 1}, "GenericError",
     "Invalid parameter type for 'password', expected: string"),
    ("set_password", {"protocol": "vnc", "password": "x", "connected": "bogus"}, "GenericError",
     "Parameter 'connected' does not accept value 'bogus'"),
    ("set_password", {"protocol": "vnc", "password": "x", "display": "nosuch"}, "GenericError",
     "Could not set password"),
    ("set_password", {"protocol": "vnc", "password": "x", "bogus": 1}, "GenericError",
     "Parameter 'bogus' is unexpected"),
    ("set_password", {"protocol": "spice", "password": "x"}, "DeviceNotActive",
     "SPICE is not in use"),
]


def test_set_password_lets_viewers_in(server, qmp):
    # password=on and no password yet: every client is refused.
    assert vnc_login(server.vnc_port, "anything")[0] is False
    assert qmp.execute("set_password", protocol="vnc", password=PASSWORD) == {}
    assert vnc_login(server.vnc_port, PASSWORD) == (True, "")
    ok, reason = vnc_login(server.vnc_port, "wrong")
    assert not ok and reason, reason
    # Explicit keep, and the display by its id.
    assert qmp.execute("set_password", protocol="vnc", password="other", connected="keep",
                       display="default") == {}
    assert vnc_login(server.vnc_port, "other")[0] is True
    assert vnc_login(server.vnc_port, PASSWORD)[0] is False
    run_error_table(qmp, SET_PASSWORD_ERRORS)
    # Failed calls changed nothing.
    assert vnc_login(server.vnc_port, "other")[0] is True


def test_vnc_password_is_cut_to_eight_characters(server, qmp):
    qmp.execute("set_password", protocol="vnc", password="abcdefghIGNORED")
    assert vnc_login(server.vnc_port, "abcdefgh")[0] is True
    assert vnc_login(server.vnc_port, "abcdefgX")[0] is False


def test_set_password_without_password_auth_fails(start_server, open_qmp):
    s = start_server(password=False)
    qmp = open_qmp(s)
    check_error(qmp, "set_password", {"protocol": "vnc", "password": "x"}, "GenericError",
                "Could not set password")
    assert vnc_login(s.vnc_port, None) == (True, "")


def test_expire_password(server, qmp):
    qmp.execute("set_password", protocol="vnc", password=PASSWORD)
    assert qmp.execute("expire_password", protocol="vnc", time="now") == {}
    assert vnc_login(server.vnc_port, PASSWORD)[0] is False
    assert qmp.execute("expire_password", protocol="vnc", time="never") == {}
    assert vnc_login(server.vnc_port, PASSWORD)[0] is True
    assert qmp.execute("expire_password", protocol="vnc", time="+600") == {}
    assert vnc_login(server.vnc_port, PASSWORD)[0] is True
    past = str(int(time.time()) - 3600)
    assert qmp.execute("expire_password", protocol="vnc", time=past, display="default") == {}
    assert vnc_login(server.vnc_port, PASSWORD)[0] is False
    future = str(int(time.time()) + 3600)
    assert qmp.execute("expire_password", protocol="vnc", time=future) == {}
    assert vnc_login(server.vnc_port, PASSWORD)[0] is True
    # A new password does not reset the expiry time.
    qmp.execute("expire_password", protocol="vnc", time="now")
    qmp.execute("set_password", protocol="vnc", password="newpass")
    assert vnc_login(server.vnc_port, "newpass")[0] is False
    run_error_table(qmp, [
        ("expire_password", {"protocol": "vnc"}, "GenericError", "Parameter 'time' is missing"),
        ("expire_password", {"protocol": "foo", "time": "now"}, "GenericError",
         "Parameter 'protocol' does not accept value 'foo'"),
        ("expire_password", {"protocol": "vnc", "time": 5}, "GenericError",
         "Invalid parameter type for 'time', expected: string"),
        ("expire_password", {"protocol": "vnc", "time": "now", "display": "nosuch"},
         "GenericError", "Could not set password expire time"),
        ("expire_password", {"protocol": "spice", "time": "now"}, "DeviceNotActive",
         "SPICE is not in use"),
    ])


def test_change_vnc_password(server, qmp):
    qmp.execute("set_password", protocol="vnc", password="first")
    assert qmp.execute("change-vnc-password", password="second") == {}
    assert vnc_login(server.vnc_port, "second")[0] is True
    assert vnc_login(server.vnc_port, "first")[0] is False
    run_error_table(qmp, [
        ("change-vnc-password", {}, "GenericError", "Parameter 'password' is missing"),
        ("change-vnc-password", {"password": ["x"]}, "GenericError",
         "Invalid parameter type for 'password', expected: string"),
        ("change-vnc-password", {"password": "x", "y": 1}, "GenericError",
         "Parameter 'y' is unexpected"),
    ])


# --- VNC queries --------------------------------------------------------------------------


def test_query_vnc_and_query_vnc_servers(server, qmp):
    port = str(server.vnc_port)
    assert qmp.execute("query-vnc") == {
        "enabled": True, "host": "127.0.0.1", "service": port, "family": "ipv4",
        "auth": "vnc", "clients": []}
    servers = qmp.execute("query-vnc-servers")
    assert servers == [{
        "id": "default", "auth": "vnc", "clients": [],
        "server": [{"host": "127.0.0.1", "service": port, "family": "ipv4",
                    "websocket": False, "auth": "vnc"}]}]
    # A connected client is listed by both.
    qmp.execute("set_password", protocol="vnc", password=PASSWORD)
    rfb = Rfb.tcp(server.vnc_port).handshake(PASSWORD)
    try:
        qmp.wait_event("VNC_INITIALIZED")
        client = {"host": "127.0.0.1", "service": str(rfb.sock.getsockname()[1]),
                  "family": "ipv4", "websocket": False}
        assert qmp.execute("query-vnc")["clients"] == [client]
        assert qmp.execute("query-vnc-servers")[0]["clients"] == [client]
    finally:
        rfb.close()
    qmp.wait_event("VNC_DISCONNECTED")
    assert qmp.execute("query-vnc")["clients"] == []
    check_error(qmp, "query-vnc", {"x": 1}, "GenericError", "Parameter 'x' is unexpected")


def test_query_vnc_without_password_says_none(start_server, open_qmp):
    s = start_server(password=False)
    qmp = open_qmp(s)
    assert qmp.execute("query-vnc")["auth"] == "none"
    assert qmp.execute("query-vnc-servers")[0]["auth"] == "none"
    assert qmp.execute("query-vnc-servers")[0]["server"][0]["auth"] == "none"


# --- screen and input ---------------------------------------------------------------------


@pytest.fixture
def console_server(start_server):
    """A server with a graphic console (QEMU: a PC with VGA instead of -machine none)."""
    return start_server(password=True, console=True)


def test_screendump_ppm_and_png(console_server, open_qmp, tmp_path):
    qmp = open_qmp(console_server)
    ppm = tmp_path / "shot.ppm"
    assert qmp.execute("screendump", filename=str(ppm)) == {}
    w, h, _ = harness.read_ppm(ppm)
    assert w >= 320 and h >= 200, (w, h)
    explicit = tmp_path / "explicit.ppm"
    assert qmp.execute("screendump", filename=str(explicit), format="ppm") == {}
    assert harness.read_ppm(explicit)[:2] == (w, h)
    png = tmp_path / "shot.png"
    assert qmp.execute("screendump", filename=str(png), format="png") == {}
    assert harness.png_size(png) == (w, h)
    run_error_table(qmp, [
        ("screendump", {"filename": str(tmp_path / "x"), "format": "jpg"}, "GenericError",
         "Parameter 'format' does not accept value 'jpg'"),
        ("screendump", {}, "GenericError", "Parameter 'filename' is missing"),
        ("screendump", {"filename": str(tmp_path / "no" / "dir.ppm")}, "GenericError",
         f"failed to open file '{tmp_path / 'no' / 'dir.ppm'}': No such file or directory"),
        ("screendump", {"filename": str(tmp_path / "x"), "device": "nosuch"}, "DeviceNotFound",
         "Device 'nosuch' not found"),
        ("screendump", {"filename": str(tmp_path / "x"), "head": 1}, "GenericError",
         "'head' must be specified together with 'device'"),
    ])
    assert not (tmp_path / "x").exists()


def test_send_key(qmp):
    assert qmp.execute("send-key", keys=[{"type": "qcode", "data": "a"}]) == {}
    assert qmp.execute("send-key", keys=[{"type": "qcode", "data": "shift"},
                                         {"type": "number", "data": 0x1e}],
                       **{"hold-time": 10}) == {}
    assert qmp.execute("send-key", keys=[]) == {}
    run_error_table(qmp, [
        ("send-key", {}, "GenericError", "Parameter 'keys' is missing"),
        ("send-key", {"keys": [{"type": "qcode", "data": "nosuchkey"}]}, "GenericError",
         "Parameter 'data' does not accept value 'nosuchkey'"),
        ("send-key", {"keys": [{"type": "bogus", "data": 1}]}, "GenericError",
         "Parameter 'type' does not accept value 'bogus'"),
        ("send-key", {"keys": [{"type": "number", "data": "a"}]}, "GenericError",
         "Invalid parameter type for 'keys[0].data', expected: integer"),
        ("send-key", {"keys": "a"}, "GenericError",
         "Invalid parameter type for 'keys', expected: array"),
    ])


KEY_EVENTS = [
    {"type": "key", "data": {"key": {"type": "qcode", "data": "b"}, "down": True}},
    {"type": "key", "data": {"key": {"type": "qcode", "data": "b"}, "down": False}},
    {"type": "key", "data": {"key": {"type": "number", "data": 0x30}, "down": True}},
    {"type": "key", "data": {"key": {"type": "number", "data": 0x30}, "down": False}},
]

POINTER_EVENTS = [
    {"type": "btn", "data": {"button": "left", "down": True}},
    {"type": "rel", "data": {"axis": "x", "value": 10}},
    {"type": "abs", "data": {"axis": "y", "value": 1000}},
]


def test_input_send_event_keys(console_server, open_qmp):
    qmp = open_qmp(console_server)
    for ev in KEY_EVENTS:
        assert qmp.execute("input-send-event", events=[ev]) == {}, ev
    assert qmp.execute("input-send-event", events=KEY_EVENTS) == {}
    assert qmp.execute("input-send-event", events=[]) == {}
    assert qmp.execute("input-send-event", events=KEY_EVENTS[:1], head=0) == {}
    run_error_table(qmp, [
        ("input-send-event", {}, "GenericError", "Parameter 'events' is missing"),
        ("input-send-event", {"events": [{"type": "bogus", "data": {}}]}, "GenericError",
         "Parameter 'type' does not accept value 'bogus'"),
        ("input-send-event", {"events": [{"type": "btn", "data": {"button": "nosuch",
                                                                   "down": True}}]},
         "GenericError", "Parameter 'button' does not accept value 'nosuch'"),
        ("input-send-event", {"events": [{"type": "rel", "data": {"axis": "z", "value": 1}}]},
         "GenericError", "Parameter 'axis' does not accept value 'z'"),
        ("input-send-event", {"events": [{"type": "key", "data": {"down": True}}]},
         "GenericError", "Parameter 'events[0].data.key' is missing"),
        ("input-send-event", {"device": "nosuch", "events": KEY_EVENTS[:1]}, "DeviceNotFound",
         "Device 'nosuch' not found"),
    ])


def test_pointer_events_without_a_pointing_device(start_server, open_qmp):
    """Porthole's machine has a keyboard and no pointing device: pointer events fail as they
    do on a QEMU machine without one (QEMU: -machine none), naming the first event type
    without a handler; nothing of a failed batch is delivered."""
    qmp = open_qmp(start_server())
    for ev in POINTER_EVENTS:
        assert qmp.error("input-send-event", events=[ev]) == (
            "GenericError", f"Input handler not found for event type {ev['type']}"), ev
    assert qmp.error("input-send-event", events=POINTER_EVENTS[1:]) == (
        "GenericError", "Input handler not found for event type rel")


def _wait_screen_change(qmp, tmp_path, before: bytes, timeout=5.0) -> int:
    """Polls screendump until the picture differs from `before` in at least 8 text cells
    (8x16), more than a blinking cursor changes; returns the number of changed cells."""
    w = h = 0
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        n += 1
        path = tmp_path / f"poll{n}.ppm"
        qmp.execute("screendump", filename=str(path))
        w, h, now = harness.read_ppm(path)
        cells = set()
        if len(now) == len(before):
            for i in range(0, len(now), 3):
                if now[i:i + 3] != before[i:i + 3]:
                    px = i // 3
                    cells.add(((px % w) // 8, (px // w) // 16))
        if len(cells) >= 8:
            return len(cells)
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(cells)} cells changed within {timeout} s")
        time.sleep(0.05)


@pytest.mark.porthole_only
@pytest.mark.parametrize("how", ["send-key", "input-send-event"])
def test_keys_reach_the_guest(qmp, tmp_path, how):
    """The built-in console guest echoes typed keys: the screen changes."""
    first = tmp_path / "before.ppm"
    qmp.execute("screendump", filename=str(first))
    before = harness.read_ppm(first)[2]
    for letter in "porthole":
        if how == "send-key":
            qmp.execute("send-key", keys=[{"type": "qcode", "data": letter}], **{"hold-time": 1})
        else:
            key = {"type": "qcode", "data": letter}
            qmp.execute("input-send-event", events=[
                {"type": "key", "data": {"key": key, "down": True}},
                {"type": "key", "data": {"key": key, "down": False}}])
    _wait_screen_change(qmp, tmp_path, before)


# --- human-monitor-command ----------------------------------------------------------------


def test_human_monitor_command(server, qmp):
    hmp = lambda line: qmp.execute("human-monitor-command", **{"command-line": line})  # noqa: E731
    assert hmp("info status") == "VM status: running\r\n"
    assert hmp("info name") == "vm0\r\n"
    version = qmp.execute("query-version")["qemu"]
    assert hmp("info version").startswith(f"{version['major']}.{version['minor']}.{version['micro']}")
    assert f"Server: 127.0.0.1:{server.vnc_port} (ipv4)\r\n" in hmp("info vnc")
    # A command that would prompt cannot: the error is the command's output.
    assert hmp("change vnc password") == "terminal does not support password prompting\r\n"
    assert hmp("change vnc password hmppass") == ""
    assert vnc_login(server.vnc_port, "hmppass")[0] is True
    assert hmp("set_password vnc viaset keep") == ""
    assert vnc_login(server.vnc_port, "viaset")[0] is True
    assert hmp("stop") == ""
    assert hmp("info status") == "VM status: paused\r\n"
    assert qmp.execute("query-status")["status"] == "paused"
    assert hmp("cont") == ""
    assert hmp("") == ""
    # HMP errors are text output of a successful command.
    assert hmp("nosuchcmd") == "unknown command: 'nosuchcmd'\r\n"
    out = hmp("screendump")
    assert out.startswith("screendump: filename expected\r\n"), out
    run_error_table(qmp, [
        ("human-monitor-command", {}, "GenericError", "Parameter 'command-line' is missing"),
        ("human-monitor-command", {"command-line": 1}, "GenericError",
         "Invalid parameter type for 'command-line', expected: string"),
        ("human-monitor-command", {"command-line": "info status", "cpu-index": 5},
         "GenericError", "Parameter 'cpu-index' expects a CPU number"),
    ])


def test_human_monitor_command_help(qmp):
    out = qmp.execute("human-monitor-command", **{"command-line": "help quit"})
    assert out.startswith("quit") and "quit the emulator" in out, out


# --- objects ------------------------------------------------------------------------------

SECRET_PROPERTIES = {"type": "string", "data": "string", "file": "string", "format":
                     "QCryptoSecretFormat", "keyid": "string", "iv": "string", "loaded": "bool"}


def test_object_add_qom_list_qom_get_object_del(qmp, tmp_path):
    assert qmp.execute("object-add", {"qom-type": "secret", "id": "sec0", "data": "letmein"}) == {}
    listing = qmp.execute("qom-list", path="/objects")
    assert {"name": "sec0", "type": "child<secret>"} in listing, listing
    assert {"name": "type", "type": "string"} in listing, listing
    props = qmp.execute("qom-list", path="/objects/sec0")
    assert {p["name"]: p["type"] for p in props} == SECRET_PROPERTIES, props
    assert qmp.execute("qom-get", path="/objects/sec0", property="type") == "secret"
    assert qmp.execute("qom-get", path="/objects/sec0", property="format") == "raw"
    assert qmp.execute("qom-get", path="/objects/sec0", property="loaded") is True
    # A partial path that names one object.
    assert {p["name"] for p in qmp.execute("qom-list", path="sec0")} == set(SECRET_PROPERTIES)
    # From a file, base64.
    secret_file = tmp_path / "pw.b64"
    secret_file.write_text("aGVsbG8=")
    secret_file.chmod(0o600)
    assert qmp.execute("object-add", {"qom-type": "secret", "id": "sec1", "file": str(secret_file),
                                      "format": "base64"}) == {}
    assert qmp.execute("qom-get", path="/objects/sec1", property="format") == "base64"
    run_error_table(qmp, [
        ("object-add", {"qom-type": "secret", "id": "sec0", "data": "x"}, "GenericError",
         "re:.*'sec0'.*"),
        ("object-add", {"qom-type": "secret", "id": "0bad", "data": "x"}, "GenericError",
         "Parameter 'id' expects an identifier"),
        ("object-add", {"qom-type": "nosuch", "id": "x1"}, "GenericError",
         "Parameter 'qom-type' does not accept value 'nosuch'"),
        ("object-add", {"qom-type": "secret", "id": "x2"}, "GenericError",
         "Either 'file' or 'data' must be provided"),
        ("object-add", {"qom-type": "secret", "id": "x3", "data": "x", "bogus": 1}, "GenericError",
         "Parameter 'bogus' is unexpected"),
        ("object-add", {"qom-type": "secret", "id": "x4", "data": "!!!", "format": "base64"},
         "GenericError", "Base64 data contains invalid characters"),
        ("object-add", {"qom-type": "secret", "id": "x5", "file": str(tmp_path / "missing")},
         "GenericError", f"re:.*{re.escape(str(tmp_path / 'missing'))}.*"),
        ("object-add", {"qom-type": "secret", "data": "x"}, "GenericError",
         "Parameter 'id' is missing"),
        ("qom-list", {"path": "/objects/nosuch"}, "DeviceNotFound",
         "Device '/objects/nosuch' not found"),
        ("qom-list", {}, "GenericError", "Parameter 'path' is missing"),
        ("qom-get", {"path": "/objects/sec0", "property": "nosuch"}, "GenericError",
         "Property 'secret.nosuch' not found"),
        ("qom-get", {"path": "/objects/nosuch", "property": "format"}, "DeviceNotFound",
         "Device '/objects/nosuch' not found"),
        ("qom-get", {"path": "/objects/sec0"}, "GenericError", "Parameter 'property' is missing"),
        ("object-del", {}, "GenericError", "Parameter 'id' is missing"),
        ("object-del", {"id": "nosuch"}, "GenericError", "object 'nosuch' not found"),
    ])
    # The failed adds created nothing.
    names = {p["name"] for p in qmp.execute("qom-list", path="/objects")}
    assert not names & {"x1", "x2", "x3", "x4", "x5", "0bad"}, names
    assert qmp.execute("object-del", id="sec0") == {}
    check_error(qmp, "object-del", {"id": "sec0"}, "GenericError", "object 'sec0' not found")
    check_error(qmp, "qom-list", {"path": "/objects/sec0"}, "DeviceNotFound",
                "Device '/objects/sec0' not found")
    # The id is free again.
    assert qmp.execute("object-add", {"qom-type": "secret", "id": "sec0", "data": "again"}) == {}


def test_object_from_the_command_line_is_listed(start_server, open_qmp):
    s = start_server(password=False, extra=["-object", "secret,id=cli0,data=fromcli"])
    qmp = open_qmp(s)
    assert {"name": "cli0", "type": "child<secret>"} in qmp.execute("qom-list", path="/objects")
    assert qmp.execute("object-del", id="cli0") == {}


# --- chardevs -----------------------------------------------------------------------------


def test_query_chardev_lists_the_monitors(start_server, open_qmp, tmp_path):
    second = tmp_path / "mon1.sock"
    tcp_port = harness.free_tcp_port()
    s = start_server(extra=[
        "-chardev", f"socket,id=mon1,path={second},server=on,wait=off",
        "-mon", "chardev=mon1,mode=control",
        "-qmp", f"tcp:127.0.0.1:{tcp_port},server=on,wait=off",
    ])
    s.wait_tcp(tcp_port)
    qmp = open_qmp(s)
    devs = {d["label"]: d for d in qmp.execute("query-chardev")}
    assert all(set(d) == {"label", "filename", "frontend-open"} for d in devs.values()), devs
    assert set(devs) == {"compat_monitor0", "compat_monitor1", "mon1"}, devs
    # The one we talk through is connected; the others say "disconnected:".
    assert devs["compat_monitor0"]["filename"] == f"unix:{s.qmp_path},server=on"
    assert devs["mon1"]["filename"] == f"disconnected:unix:{second},server=on"
    assert devs["compat_monitor1"]["filename"] == f"disconnected:tcp:127.0.0.1:{tcp_port},server=on"
    assert all(d["frontend-open"] is True for d in devs.values())
    check_error(qmp, "query-chardev", {"x": 1}, "GenericError", "Parameter 'x' is unexpected")
