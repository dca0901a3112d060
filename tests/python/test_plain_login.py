"""VeNCrypt X509Plain / TLSPlain against a `userstore` object (issue #4; Porthole only: QEMU
offers SASL instead). Users are made with the real `porthole-passwd` tool.

Clients: TigerVNC 1.12 (user name and password from VNC_USERNAME / VNC_PASSWORD), and a
hand-driven VeNCrypt client over python `ssl` for what a viewer cannot send (over-long
lengths, non-UTF-8 names) and for the ordering check that shows hashing runs off the loop.
Verdicts are cross-checked with QMP's VNC events.
"""

from __future__ import annotations

import base64
import hashlib
import os
import select
import socket
import struct
import subprocess
from pathlib import Path

import pytest

import harness
import tlsharness
from tlsharness import certs, start_tls  # noqa: F401  (fixtures)

pytestmark = pytest.mark.porthole_only

TLS_PLAIN = 259
X509_PLAIN = 262
USER = "alice"
#: Longer than VNC's 8 significant characters, with spaces and non-ASCII.
PASSWORD = "correct horse battery staple — ünïcödé"
#: Longest wait for a login verdict (one PBKDF2 check is ~0.3 s; the slow store ~5 s).
VERDICT_TIMEOUT = 60.0


def porthole_passwd(store: Path, user: str, password: str | None = None,
                    delete: bool = False) -> None:
    """Runs the real porthole-passwd (built next to the porthole binary)."""
    tool = harness.porthole_bin().parent / "porthole-passwd"
    if not tool.is_file():
        pytest.fail(f"{tool} not found: build it with `cargo build --release -p crypto`",
                    pytrace=False)
    argv = [str(tool)] + (["--delete"] if delete else []) + [str(store), user]
    stdin = b"" if password is None else (password + "\n").encode()
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=60)
    output = proc.stderr.decode(errors="replace") + proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, output
    assert password is None or password not in output, "porthole-passwd echoed the password"


@pytest.fixture
def store(tmp_path) -> Path:
    path = tmp_path / "vnc-users"
    porthole_passwd(path, USER, PASSWORD)
    assert path.stat().st_mode & 0o777 == 0o600
    return path


def plain_server(start_tls, certs, store: Path, anon: bool = False, extra: str = ""):
    creds = tlsharness.anon_object() if anon else tlsharness.x509_object(certs.server,
                                                                        verify_peer=False)
    return start_tls([creds, f"userstore,id=users0,filename={store}{extra}"],
                     vnc_options="tls-creds=tls0,userstore=users0")


def tls_session(port: int, certs, anon: bool = False):
    """A hand-driven client through VeNCrypt into TLS; returns (rfb, tls socket, subtype)."""
    rfb = tlsharness.Vencrypt.tcp(port)
    subtype, _ = rfb.to_tls()
    ctx = tlsharness.client_context(anon=anon) if anon else tlsharness.client_context(ca=certs.ca)
    tls = ctx.wrap_socket(rfb.sock, server_hostname=None if anon else "127.0.0.1")
    tls.settimeout(VERDICT_TIMEOUT)
    return rfb, tls, subtype


def recv_exact(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"closed after {data!r}")
        data += chunk
    return data


def verdict(tls) -> tuple[bool, str]:
    """SecurityResult: (accepted, reason)."""
    if struct.unpack(">I", recv_exact(tls, 4))[0] == 0:
        return True, ""
    n = struct.unpack(">I", recv_exact(tls, 4))[0]
    assert n <= harness.MAX_RFB_STRING
    return False, recv_exact(tls, n).decode("utf-8", "replace")


def plain_login(port: int, certs, user: bytes | str, password: bytes | str,
                anon: bool = False) -> tuple[bool, str]:
    u = user.encode() if isinstance(user, str) else user
    p = password.encode() if isinstance(password, str) else password
    rfb, tls, _ = tls_session(port, certs, anon)
    try:
        tls.sendall(struct.pack(">II", len(u), len(p)) + u + p)
        return verdict(tls)
    finally:
        tls.close()
        rfb.close()


def refused_and_closed(tls) -> bool:
    """True when the server answers with a failed SecurityResult (or nothing) and closes."""
    try:
        accepted, _ = verdict(tls)
        if accepted:
            return False
        return tls.recv(1) == b""
    except (EOFError, ConnectionResetError, BrokenPipeError, OSError):
        return True


def never_initialized(qmp: harness.Qmp) -> None:
    qmp.wait_event("VNC_DISCONNECTED")
    stray = tlsharness.no_initialized_event(qmp)
    assert not stray, stray


# --- what the display offers and reports ---------------------------------------------------


@pytest.mark.parametrize("anon,sub,legacy,number", [
    (False, "x509-plain", "vencrypt+x509+plain", X509_PLAIN),
    (True, "tls-plain", "vencrypt+tls+plain", TLS_PLAIN),
])
def test_the_display_offers_only_the_plain_subtype(certs, start_tls, open_qmp, store, anon, sub,
                                                    legacy, number):
    s = plain_server(start_tls, certs, store, anon=anon)
    qmp = open_qmp(s)
    display = qmp.execute("query-vnc-servers")[0]
    assert display["auth"] == "vencrypt" and display["vencrypt"] == sub, display
    assert qmp.execute("query-vnc")["auth"] == legacy
    rfb = tlsharness.Vencrypt.tcp(s.vnc_port)
    try:
        assert rfb.offered() == [tlsharness.VENCRYPT]
        rfb.choose_type(tlsharness.VENCRYPT)
        assert rfb.vencrypt_version() == (0, 2)
        assert rfb.send_version(0, 2) == 0
        assert rfb.subtypes() == [number], "only the Plain subtype, never cleartext 256"
    finally:
        rfb.close()


# --- TigerVNC ------------------------------------------------------------------------------


def test_tigervnc_x509plain_with_the_right_password_reports_the_user(certs, start_tls, open_qmp,
                                                                      store, tmp_path):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "X509Plain", ca=certs.ca,
                              username=USER, password=PASSWORD, timeout=VERDICT_TIMEOUT)
    assert run.verdict == "connected", run.log[-3000:]
    assert "X509Plain (262)" in run.log, run.log[-3000:]
    client = qmp.wait_event("VNC_INITIALIZED")["data"]["client"]
    assert client["sasl_username"] == USER, client
    assert PASSWORD not in s.describe()


@pytest.mark.parametrize("user,password", [
    (USER, "correct horse battery stapl"),
    ("mallory", PASSWORD),
    (USER, PASSWORD[:8]),
], ids=["wrong-password", "unknown-user", "first-8-characters"])
def test_tigervnc_x509plain_with_wrong_credentials_is_refused(certs, start_tls, open_qmp, store,
                                                              tmp_path, user, password):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "X509Plain", ca=certs.ca,
                              username=user, password=password, timeout=VERDICT_TIMEOUT)
    assert run.verdict == "auth-failed", run.log[-3000:]
    never_initialized(qmp)


@pytest.mark.parametrize("password,expected", [(PASSWORD, "connected"), ("wrong", "auth-failed")])
def test_tigervnc_tlsplain_with_anonymous_credentials(certs, start_tls, open_qmp, store, tmp_path,
                                                      password, expected):
    s = plain_server(start_tls, certs, store, anon=True)
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "TLSPlain", username=USER,
                              password=password, timeout=VERDICT_TIMEOUT)
    assert run.verdict == expected, run.log[-3000:]
    assert "TLSPlain (259)" in run.log, run.log[-3000:]
    if expected == "connected":
        assert qmp.wait_event("VNC_INITIALIZED")["data"]["client"]["sasl_username"] == USER
    else:
        never_initialized(qmp)


# --- the store changes while Porthole runs -------------------------------------------------


def test_users_added_deleted_and_a_broken_file_while_running(certs, start_tls, open_qmp, store):
    s = plain_server(start_tls, certs, store)
    assert plain_login(s.vnc_port, certs, "bob", "bobs password") == (False, "Authentication failed")
    porthole_passwd(store, "bob", "bobs password")
    assert plain_login(s.vnc_port, certs, "bob", "bobs password") == (True, "")
    porthole_passwd(store, "bob", delete=True)
    assert plain_login(s.vnc_port, certs, "bob", "bobs password")[0] is False
    # A file that turns bad keeps the users Porthole has.
    store.write_text("this is not a user store, and it is longer than the file was\n")
    assert plain_login(s.vnc_port, certs, USER, PASSWORD) == (True, "")
    qmp = open_qmp(s)
    assert qmp.execute("qom-get", path="/objects/users0", property="refresh") is True
    assert qmp.execute("qom-get", path="/objects/users0", property="filename") == str(store)


def test_refresh_off_reads_the_file_once(certs, start_tls, store):
    s = plain_server(start_tls, certs, store, extra=",refresh=off")
    porthole_passwd(store, "bob", "bobs password")
    assert plain_login(s.vnc_port, certs, "bob", "bobs password")[0] is False
    assert plain_login(s.vnc_port, certs, USER, PASSWORD) == (True, "")


# --- hostile credentials -------------------------------------------------------------------


@pytest.mark.parametrize("header,body", [
    (struct.pack(">II", 0xFFFFFFFF, 4), b""),
    (struct.pack(">II", 256, 4), b""),
    (struct.pack(">II", 5, 0xFFFFFFFF), b"alice"),
    (struct.pack(">II", 5, 1025), b"alice"),
], ids=["username-2^32-1", "username-256", "password-2^32-1", "password-1025"])
def test_over_long_plain_lengths_are_dropped_before_allocation(certs, start_tls, open_qmp, store,
                                                               header, body):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    rfb, tls, subtype = tls_session(s.vnc_port, certs)
    try:
        assert subtype == X509_PLAIN
        tls.sendall(header + body)
        assert refused_and_closed(tls), "over-long Plain length not dropped"
    finally:
        tls.close()
        rfb.close()
    never_initialized(qmp)
    assert plain_login(s.vnc_port, certs, USER, PASSWORD) == (True, "")
    assert qmp.execute("query-status")["status"] == "running"


def test_a_non_utf8_user_name_is_refused(certs, start_tls, open_qmp, store):
    s = plain_server(start_tls, certs, store)
    rfb, tls, _ = tls_session(s.vnc_port, certs)
    try:
        u, p = b"\xff\xfe" + USER.encode(), PASSWORD.encode()
        tls.sendall(struct.pack(">II", len(u), len(p)) + u + p)
        assert refused_and_closed(tls), "a non-UTF-8 user name was not dropped"
    finally:
        tls.close()
        rfb.close()
    assert plain_login(s.vnc_port, certs, USER, PASSWORD) == (True, "")


def slow_entry(user: str, password: str, iterations: int = 10_000_000) -> str:
    """A store line costing `iterations` PBKDF2 rounds (the most the format allows)."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"{user}:pbkdf2-sha256:i={iterations}:{b64(salt)}:{b64(digest)}\n"


def test_qmp_answers_while_a_plain_check_runs(certs, start_tls, open_qmp, tmp_path):
    """Ordering, not timing: with a check that costs seconds in flight, QMP's reply comes
    while the viewer still has no verdict; the verdict comes afterwards."""
    slow = tmp_path / "slow-users"
    slow.write_text(slow_entry("carol", "carols password"))
    slow.chmod(0o600)
    s = plain_server(start_tls, certs, slow)
    qmp = open_qmp(s)
    rfb, tls, _ = tls_session(s.vnc_port, certs)
    try:
        u, p = b"carol", b"carols password"
        tls.sendall(struct.pack(">II", len(u), len(p)) + u + p)
        assert qmp.execute("query-status")["status"] == "running"
        qmp.execute("query-vnc")
        readable = select.select([tls], [], [], 0)[0] or tls.pending()
        assert not readable, "the verdict came before QMP's replies: the check is not off the loop"
        assert verdict(tls) == (True, "")
    finally:
        tls.close()
        rfb.close()


# --- configuration errors ------------------------------------------------------------------


@pytest.mark.parametrize("vnc_options,needle", [
    ("userstore=users0", "'userstore' needs 'tls-creds'"),
    ("tls-creds=tls0,userstore=users0,password=on", "'userstore' and 'password' are mutually exclusive"),
    ("tls-creds=tls0,userstore=users0,websocket=on", "'userstore' cannot be combined with 'websocket'"),
    ("tls-creds=tls0,userstore=tls0", "No user store with id 'tls0'"),
])
def test_start_up_errors_name_the_option(certs, store, tmp_path, vnc_options, needle):
    objects = ["-object", tlsharness.x509_object(certs.server, verify_peer=False),
               "-object", f"userstore,id=users0,filename={store}"]
    failed = tlsharness.start_must_fail("porthole", tmp_path, objects + ["-vnc", f"127.0.0.1:0,{vnc_options}"])
    assert failed.returncode != 0
    assert needle in failed.stderr, failed.stderr


def test_a_bad_store_file_is_an_error_naming_file_and_line(tmp_path):
    bad = tmp_path / "users"
    bad.write_text("# comment\nalice:pbkdf2-sha256:i=600000:c2FsdA==\n")
    failed = tlsharness.start_must_fail("porthole", tmp_path, ["-object", f"userstore,id=u0,filename={bad}"])
    assert failed.returncode != 0
    assert f"{bad}:2:" in failed.stderr, failed.stderr


def test_set_password_object_del_and_object_add(certs, start_tls, open_qmp, store, tmp_path):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    assert qmp.error("set_password", protocol="vnc", password="x") == \
        ("GenericError", "Could not set password")
    assert qmp.error("object-del", id="users0") == \
        ("GenericError", "object 'users0' is in use, can not be deleted")
    other = tmp_path / "other-users"
    porthole_passwd(other, "dave", "daves password")
    qmp.execute("object-add", **{"qom-type": "userstore", "id": "users1", "filename": str(other)})
    assert qmp.execute("qom-get", path="/objects/users1", property="type") == "userstore"
    assert qmp.execute("human-monitor-command", **{"command-line": "object_del users1"}) == ""
    cls, desc = qmp.error("object-add", **{"qom-type": "userstore", "id": "users2",
                                           "filename": str(tmp_path / "missing")})
    assert cls == "GenericError" and str(tmp_path / "missing") in desc, desc
    # The display still logs users in.
    assert plain_login(s.vnc_port, certs, USER, PASSWORD) == (True, "")
