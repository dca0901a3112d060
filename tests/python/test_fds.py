"""getfd / closefd / add_client: file descriptors passed with SCM_RIGHTS on the QMP socket."""

from __future__ import annotations

import socket

import pytest

import harness
from harness import Rfb

PASSWORD = "fdpass12"


def pass_fd(qmp: harness.Qmp, sock: socket.socket, name: str) -> None:
    """Sends `sock` the way qemu.qmp does (a lone byte carrying the fd), then names it."""
    qmp.send_fd(sock.fileno())
    assert qmp.execute("getfd", fdname=name) == {}


def peer_closed(sock: socket.socket, timeout: float = 2.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(100) == b""
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


def test_add_client_with_a_socketpair_end_and_skipauth(server, qmp):
    """A viewer handed over by getfd + add_client skipauth=true gets RFB with None auth,
    although the display has password=on and no password is set."""
    ours, theirs = socket.socketpair()
    pass_fd(qmp, theirs, "viewer0")
    theirs.close()
    assert qmp.execute("add_client", protocol="vnc", fdname="viewer0", skipauth=True) == {}
    rfb = Rfb(ours)
    assert rfb.version() == b"RFB 003.008\n"
    assert rfb.security_types() == [1]
    ours.sendall(b"\x01")
    assert rfb.u32() == 0
    rfb.init()
    assert rfb.width >= 320 and rfb.height >= 200 and rfb.name
    # The display reports the client; its address is a UNIX socket without a name.
    client = {"host": "", "service": "", "family": "unix", "websocket": False}
    ev = qmp.wait_event("VNC_CONNECTED")
    assert ev["data"]["client"] == client, ev
    ev = qmp.wait_event("VNC_INITIALIZED")
    assert ev["data"]["client"] == client, ev
    assert ev["data"]["server"]["service"] == str(server.vnc_port), ev
    assert qmp.execute("query-vnc")["clients"] == [client]
    # add_client took the descriptor: its name is gone.
    cls, desc = qmp.error("closefd", fdname="viewer0")
    assert (cls, desc) == ("GenericError", "File descriptor named 'viewer0' not found")
    rfb.close()
    ev = qmp.wait_event("VNC_DISCONNECTED")
    assert ev["data"]["client"] == client, ev


def test_add_client_without_skipauth_uses_the_displays_authentication(server, qmp):
    qmp.execute("set_password", protocol="vnc", password=PASSWORD)
    ours, theirs = socket.socketpair()
    pass_fd(qmp, theirs, "viewer1")
    theirs.close()
    assert qmp.execute("add_client", protocol="vnc", fdname="viewer1") == {}
    rfb = Rfb(ours)
    rfb.version()
    assert rfb.authenticate(PASSWORD) == (True, "")
    rfb.init()
    qmp.wait_event("VNC_INITIALIZED")
    rfb.close()


def test_getfd_with_the_descriptor_on_the_command_itself(server):
    """The fd may ride on the bytes of the getfd command (one sendmsg)."""
    raw = server.raw()
    raw.negotiate()
    ours, theirs = socket.socketpair()
    raw.send_json({"execute": "getfd", "arguments": {"fdname": "inline"}, "id": 1},
                  fds=[theirs.fileno()])
    assert raw.reply() == {"return": {}, "id": 1}
    theirs.close()
    assert raw.cmd("add_client", {"protocol": "vnc", "fdname": "inline", "skipauth": True},
                   id=2) == {"return": {}, "id": 2}
    ours.settimeout(5)
    assert ours.recv(12) == b"RFB 003.008\n"
    ours.close()
    raw.close()


def test_closefd_closes_the_descriptor(qmp):
    ours, theirs = socket.socketpair()
    pass_fd(qmp, theirs, "tmp")
    theirs.close()
    assert not peer_closed(ours, 0.2), "the server does not hold the descriptor"
    assert qmp.execute("closefd", fdname="tmp") == {}
    assert peer_closed(ours), "closefd left the descriptor open"
    assert qmp.error("closefd", fdname="tmp") == (
        "GenericError", "File descriptor named 'tmp' not found")


def test_getfd_with_a_used_name_replaces_and_closes_the_old_descriptor(qmp):
    first_ours, first_theirs = socket.socketpair()
    second_ours, second_theirs = socket.socketpair()
    pass_fd(qmp, first_theirs, "same")
    pass_fd(qmp, second_theirs, "same")
    first_theirs.close()
    second_theirs.close()
    assert peer_closed(first_ours), "the replaced descriptor is still open"
    assert not peer_closed(second_ours, 0.2)
    assert qmp.execute("closefd", fdname="same") == {}
    assert peer_closed(second_ours)


@pytest.mark.parametrize("protocol,cls,desc", [
    ("bogus", "GenericError", "protocol 'bogus' is invalid"),
    ("spice", "DeviceNotActive", "SPICE is not in use"),
    ("@dbus-display", None, None),
])
def test_failed_add_client_closes_the_descriptor(server, qmp, protocol, cls, desc):
    if protocol == "@dbus-display":
        # Porthole answers as a QEMU built without the D-Bus display does
        # (docs/qmp-differences.md); Debian's QEMU 7.2 has it.
        if server.kind == "porthole":
            cls, desc = "GenericError", "protocol '@dbus-display' is invalid"
        else:
            cls, desc = "DeviceNotActive", "D-Bus display is not in use"
    ours, theirs = socket.socketpair()
    pass_fd(qmp, theirs, "doomed")
    theirs.close()
    assert qmp.error("add_client", protocol=protocol, fdname="doomed") == (cls, desc)
    assert peer_closed(ours)
    assert qmp.error("closefd", fdname="doomed") == (
        "GenericError", "File descriptor named 'doomed' not found")


def test_fd_command_errors(qmp):
    table = [
        ("getfd", {"fdname": "nofd"}, "GenericError", "No file descriptor supplied via SCM_RIGHTS"),
        ("getfd", {}, "GenericError", "Parameter 'fdname' is missing"),
        ("closefd", {}, "GenericError", "Parameter 'fdname' is missing"),
        ("closefd", {"fdname": "nosuch"}, "GenericError", "File descriptor named 'nosuch' not found"),
        ("add_client", {"protocol": "vnc", "fdname": "nosuch"}, "GenericError",
         "File descriptor named 'nosuch' has not been found"),
        ("add_client", {"protocol": "vnc"}, "GenericError", "Parameter 'fdname' is missing"),
        ("add_client", {"fdname": "x"}, "GenericError", "Parameter 'protocol' is missing"),
        ("add_client", {"protocol": "vnc", "fdname": "x", "skipauth": "yes"}, "GenericError",
         "Invalid parameter type for 'skipauth', expected: boolean"),
    ]
    for command, args, cls, desc in table:
        assert qmp.error(command, args) == (cls, desc), (command, args)
    # A name starting with a digit is refused, and the descriptor that came with it closed.
    ours, theirs = socket.socketpair()
    qmp.send_fd(theirs.fileno())
    theirs.close()
    assert qmp.error("getfd", fdname="1fd") == (
        "GenericError", "Parameter 'fdname' expects a name not starting with a digit")
    assert peer_closed(ours)


def test_descriptors_are_not_accepted_over_tcp(start_server, open_qmp):
    port = harness.free_tcp_port()
    s = start_server(extra=["-qmp", f"tcp:127.0.0.1:{port},server=on,wait=off"])
    s.wait_tcp(port)
    qmp = open_qmp(("127.0.0.1", port))
    assert qmp.error("getfd", fdname="x") == (
        "GenericError", "No file descriptor supplied via SCM_RIGHTS")
