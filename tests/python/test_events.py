"""QMP events: VNC client events with real viewers, run-state events, delivery rules."""

from __future__ import annotations

import time

import pytest

import harness
from harness import Rfb, vnc_login

PASSWORD = "Conf0rm!"


def check_timestamp(ev: dict) -> None:
    ts = ev["timestamp"]
    assert set(ts) == {"seconds", "microseconds"}, ev
    assert type(ts["seconds"]) is int and type(ts["microseconds"]) is int, ev
    assert 0 <= ts["microseconds"] < 1_000_000, ev
    assert abs(ts["seconds"] + ts["microseconds"] / 1e6 - time.time()) < 60, ev


def check_vnc_event(ev: dict, server: harness.Server, auth: str) -> dict:
    """Checks the server and client members of a VNC_* event; returns the client."""
    check_timestamp(ev)
    assert set(ev) == {"event", "data", "timestamp"}, ev
    assert set(ev["data"]) == {"server", "client"}, ev
    assert ev["data"]["server"] == {"host": "127.0.0.1", "service": str(server.vnc_port),
                                    "family": "ipv4", "websocket": False, "auth": auth}, ev
    client = ev["data"]["client"]
    assert set(client) == {"host", "service", "family", "websocket"}, ev
    assert client["host"] == "127.0.0.1" and client["family"] == "ipv4", ev
    assert client["websocket"] is False and client["service"].isdigit(), ev
    return client


def vnc_sequence(qmp: harness.Qmp, server: harness.Server, auth: str, initialized: bool) -> str:
    """Waits for VNC_CONNECTED, [VNC_INITIALIZED,] VNC_DISCONNECTED of one client, in order;
    returns the client's port."""
    connected = qmp.wait_event("VNC_CONNECTED")
    client = check_vnc_event(connected, server, auth)
    same = lambda ev: ev["data"]["client"]["service"] == client["service"]  # noqa: E731
    if initialized:
        ev = qmp.wait_event("VNC_INITIALIZED", pred=same)
        assert check_vnc_event(ev, server, auth) == client
    disconnected = qmp.wait_event("VNC_DISCONNECTED", pred=same)
    assert check_vnc_event(disconnected, server, auth) == client
    order = [connected["timestamp"], disconnected["timestamp"]]
    assert order == sorted(order, key=lambda t: (t["seconds"], t["microseconds"]))
    if not initialized:
        stray = [e for e in qmp.drain_events(0.1) if e["event"] == "VNC_INITIALIZED" and same(e)]
        assert not stray, stray
    return client["service"]


def test_gvnccapture_with_password_set_through_qmp_sends_vnc_events(server, qmp, tmp_path):
    assert qmp.execute("set_password", protocol="vnc", password=PASSWORD) == {}
    shot = tmp_path / "shot.png"
    run = harness.gvnccapture(server.display, PASSWORD, shot)
    assert run.returncode == 0 and shot.is_file(), run.log[-2000:]
    w, h = harness.png_size(shot)
    assert w >= 320 and h >= 200
    vnc_sequence(qmp, server, "vnc", initialized=True)


def test_gvnccapture_with_wrong_password_connects_but_never_initializes(server, qmp, tmp_path):
    qmp.execute("set_password", protocol="vnc", password=PASSWORD)
    shot = tmp_path / "shot.png"
    run = harness.gvnccapture(server.display, "wrong", shot)
    assert run.returncode != 0 and not shot.exists(), run.log[-2000:]
    vnc_sequence(qmp, server, "vnc", initialized=False)


def test_vncdotool_with_password_from_change_vnc_password(server, qmp, tmp_path):
    qmp.execute("change-vnc-password", password=PASSWORD)
    shot = tmp_path / "vncdo.png"
    run = harness.vncdo(server.vnc_port, PASSWORD, "capture", str(shot))
    assert run.returncode == 0 and shot.is_file(), run.log[-2000:]
    vnc_sequence(qmp, server, "vnc", initialized=True)


def test_raw_client_events_carry_its_port(start_server, open_qmp):
    s = start_server(password=False)
    qmp = open_qmp(s)
    rfb = Rfb.tcp(s.vnc_port)
    port = str(rfb.sock.getsockname()[1])
    rfb.handshake(None)
    assert rfb.name, "no desktop name in ServerInit"
    rfb.close()
    assert vnc_sequence(qmp, s, "none", initialized=True) == port


def test_set_password_keep_leaves_viewers_connected(server, qmp):
    qmp.execute("set_password", protocol="vnc", password=PASSWORD)
    rfb = Rfb.tcp(server.vnc_port).handshake(PASSWORD)
    qmp.wait_event("VNC_INITIALIZED")
    assert qmp.execute("set_password", protocol="vnc", password="newpw", connected="keep") == {}
    assert not rfb.wait_closed(0.5), "the viewer was dropped by connected=keep"
    assert [e for e in qmp.drain_events(0.1) if e["event"] == "VNC_DISCONNECTED"] == []
    assert len(qmp.execute("query-vnc")["clients"]) == 1
    rfb.close()


@pytest.mark.porthole_only
def test_set_password_connected_disconnect_drops_a_connected_viewer(server, qmp):
    qmp.execute("set_password", protocol="vnc", password=PASSWORD)
    viewer = harness.vncdo_start(server.vnc_port, PASSWORD, "pause", "15")
    try:
        ev = qmp.wait_event("VNC_INITIALIZED", timeout=harness.CLIENT_TIMEOUT)
        client = ev["data"]["client"]["service"]
        raw_viewer = Rfb.tcp(server.vnc_port).handshake(PASSWORD)
        qmp.wait_event("VNC_INITIALIZED")
        started = time.monotonic()
        assert qmp.execute("set_password", protocol="vnc", password="newpw",
                           connected="disconnect") == {}
        qmp.wait_event("VNC_DISCONNECTED", pred=lambda e: e["data"]["client"]["service"] == client)
        qmp.wait_event("VNC_DISCONNECTED", pred=lambda e: e["data"]["client"]["service"] != client)
        assert raw_viewer.wait_closed(), "the raw viewer is still connected"
        raw_viewer.close()
        # vncdotool notices and stops long before its 15 s pause ends.
        viewer.wait(timeout=10)
        assert time.monotonic() - started < 10
    finally:
        if viewer.poll() is None:
            viewer.kill()
            viewer.wait()
    assert qmp.execute("query-vnc")["clients"] == []
    assert vnc_login(server.vnc_port, "newpw")[0] is True
    assert vnc_login(server.vnc_port, PASSWORD)[0] is False


@pytest.mark.porthole_only
def test_set_password_connected_fail_refuses_while_viewers_are_connected(server, qmp):
    # Nobody connected: fail behaves like keep.
    assert qmp.execute("set_password", protocol="vnc", password=PASSWORD, connected="fail") == {}
    rfb = Rfb.tcp(server.vnc_port).handshake(PASSWORD)
    qmp.wait_event("VNC_INITIALIZED")
    cls, desc = qmp.error("set_password", protocol="vnc", password="newpw", connected="fail")
    assert cls == "GenericError" and desc, desc
    # The viewer stays and the password did not change.
    assert not rfb.wait_closed(0.3)
    assert vnc_login(server.vnc_port, PASSWORD)[0] is True
    assert vnc_login(server.vnc_port, "newpw")[0] is False
    rfb.close()
    qmp.wait_event("VNC_DISCONNECTED")
    # With nobody connected any more the change goes through.
    wait_no_clients(qmp)
    assert qmp.execute("set_password", protocol="vnc", password="newpw", connected="fail") == {}
    assert vnc_login(server.vnc_port, "newpw")[0] is True


def wait_no_clients(qmp):
    harness.wait_until(lambda: qmp.execute("query-vnc")["clients"] == [], 5, "no VNC clients")


def test_stop_cont_events(qmp):
    qmp.execute("stop")
    ev = qmp.wait_event("STOP")
    check_timestamp(ev)
    assert set(ev) == {"event", "timestamp"}, ev
    # Stopping again changes nothing and says nothing.
    qmp.execute("stop")
    qmp.execute("cont")
    ev = qmp.wait_event("RESUME")
    assert set(ev) == {"event", "timestamp"}, ev
    rest = [e["event"] for e in qmp.drain_events(0.2)]
    assert rest == [], rest


def test_reset_and_powerdown_events(start_server, open_qmp):
    s = start_server()
    qmp = open_qmp(s)
    qmp.execute("system_reset")
    ev = qmp.wait_event("RESET")
    check_timestamp(ev)
    assert ev["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
    qmp.execute("system_powerdown")
    ev = qmp.wait_event("POWERDOWN")
    assert set(ev) == {"event", "timestamp"}, ev


@pytest.mark.porthole_only
def test_powerdown_makes_the_builtin_guest_shut_down(start_server, open_qmp):
    """The built-in guest obeys the power button: SHUTDOWN (guest, guest-shutdown), exit 0."""
    s = start_server()
    qmp = open_qmp(s)
    qmp.execute("system_powerdown")
    qmp.wait_event("POWERDOWN")
    ev = qmp.wait_event("SHUTDOWN")
    assert ev["data"] == {"guest": True, "reason": "guest-shutdown"}, ev
    assert s.wait_exit() == 0, s.describe()


def test_events_are_not_sent_before_negotiation(start_server, open_qmp, tmp_path):
    second = tmp_path / "second.sock"
    s = start_server(extra=["-chardev", f"socket,id=mon1,path={second},server=on,wait=off",
                            "-mon", "chardev=mon1,mode=control"])
    qmp = open_qmp(s)
    waiting = harness.RawQmp.unix(second)
    qmp.execute("stop")
    qmp.wait_event("STOP")
    time.sleep(0.1)
    waiting.negotiate()
    assert "return" in waiting.cmd("query-status")
    assert waiting.events == [], waiting.events
    # After negotiation events flow, to every monitor.
    qmp.execute("cont")
    qmp.wait_event("RESUME")
    assert "return" in waiting.cmd("query-status")
    deadline = time.monotonic() + harness.EVENT_TIMEOUT
    while not waiting.events and time.monotonic() < deadline:
        waiting.events.append(waiting.read_message())
    assert [e["event"] for e in waiting.events] == ["RESUME"], waiting.events
    waiting.close()
