"""VeNCrypt X509Plain (262) and TLSPlain (259) against a `userstore` object (issue #4;
Porthole only: QEMU 7.2 offers SASL, never Plain).

Users are made with the real `porthole-passwd`. Clients: TigerVNC 1.12 (it takes the user
name and password from VNC_USERNAME / VNC_PASSWORD), gtk-vnc's gvnccapture (its Username /
Password prompts answered on a pty), and `PlainClient`, a hand-driven VeNCrypt client over
python `ssl`, for what no viewer sends (over-long lengths, names that are not UTF-8) and for
the ordering checks that show the password hashing runs off the event loop. Every verdict
is cross-checked with QMP's VNC_INITIALIZED / VNC_DISCONNECTED.
"""

from __future__ import annotations

import os
import shutil
import ssl
import time
from pathlib import Path
from typing import Optional

import pytest

import harness
import tlsharness
from tlsharness import TLS_PLAIN, X509_PLAIN, certs, start_tls  # noqa: F401  (fixtures)

pytestmark = pytest.mark.porthole_only

USER = "alice"
#: 200 characters: far beyond VNC authentication's 8, with spaces and punctuation.
PASSWORD = ("Tr0ub4dor&3 correct-horse battery:staple! " * 5)[:200]
#: A second user, for gvnccapture (it reads at most 98 characters per answer).
GV_USER = "bob"
GV_PASSWORD = "bob's gtk-vnc pw 42"
#: Longest wait for a Plain verdict (a check is ~0.3 s; the slow entries below ~1 s each,
#: queued one after another on the single worker).
VERDICT_TIMEOUT = 30.0
#: PBKDF2 rounds of the slow entries: enough for a check to take a good part of a second.
SLOW_ITERATIONS = 2_000_000
QUEUE_ITERATIONS = 1_000_000
#: VeNCrypt Plain's server-side bounds and the queue bound (crates/rfb, crates/vnc).
MAX_PLAIN_USERNAME = 255
MAX_PLAIN_PASSWORD = 1024
MAX_PENDING_PLAIN_CHECKS = 8
FAILED = "Authentication failed"
BUSY = "Authentication failed: server busy"


# --- stores and servers --------------------------------------------------------------------


_cache: dict[str, object] = {}


@pytest.fixture
def store(tmp_path_factory, tmp_path) -> Path:
    """A store with USER/PASSWORD and GV_USER/GV_PASSWORD made by porthole-passwd (once per
    session), copied for this test (mode 0600)."""
    if "store" not in _cache:
        template = tmp_path_factory.mktemp("userstore") / "users"
        tlsharness.porthole_passwd(template, USER, PASSWORD)
        tlsharness.porthole_passwd(template, GV_USER, GV_PASSWORD)
        assert template.stat().st_mode & 0o777 == 0o600, oct(template.stat().st_mode)
        lines = template.read_text().splitlines()
        assert [ln.split(":")[:3] for ln in lines] == [
            [USER, "pbkdf2-sha256", "i=600000"], [GV_USER, "pbkdf2-sha256", "i=600000"]], lines
        assert PASSWORD not in template.read_text()
        _cache["store"] = template
    path = tmp_path / "users"
    shutil.copyfile(_cache["store"], path)
    path.chmod(0o600)
    return path


def slow_line(user: str, password: str, iterations: int) -> str:
    """A pbkdf2 entry made in python (porthole-passwd has no iteration option); cached."""
    key = f"{user}/{iterations}"
    if key not in _cache:
        _cache[key] = tlsharness.pbkdf2_entry(user, password, iterations)
    return _cache[key]


def write_store(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def plain_server(start_tls, certs, store: Path, anon: bool = False,
                 refresh: Optional[bool] = None):
    creds = (tlsharness.anon_object() if anon
             else tlsharness.x509_object(certs.server, verify_peer=False))
    return start_tls([creds, tlsharness.userstore_object(store, refresh=refresh)],
                     vnc_options="tls-creds=tls0,userstore=users0")


def context(certs, anon: bool = False) -> ssl.SSLContext:
    return tlsharness.client_context(anon=True) if anon else tlsharness.client_context(ca=certs.ca)


# --- a hand-driven Plain client ------------------------------------------------------------


class PlainClient:
    """RFB and VeNCrypt by hand up to the single offered subtype, then a TLS handshake with
    python `ssl` (tlsharness.TlsPipe), then whatever the test sends. Application bytes the
    server sent are kept in `held` until read, so that `answered()` can look without
    consuming."""

    def __init__(self, port: int, ctx: ssl.SSLContext):
        self.rfb = tlsharness.Vencrypt.tcp(port)
        try:
            self.subtype, self.offer = self.rfb.to_tls()
            self.tls = tlsharness.TlsPipe(self.rfb.sock, ctx)
            self.tls.handshake()
        except BaseException:
            self.rfb.close()
            raise
        self.held = b""
        self.eof = False

    def send(self, data: bytes) -> None:
        self.tls.send(data)

    def answered(self) -> bool:
        """Whether the server sent application data or closed, without waiting."""
        if self.held or self.eof:
            return True
        sock = self.rfb.sock
        sock.setblocking(False)
        try:
            while True:
                try:
                    data = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionResetError:
                    self.eof = True
                    break
                if not data:
                    self.eof = True
                    break
                self.tls.incoming.write(data)
        finally:
            sock.settimeout(harness.COMMAND_TIMEOUT)
        try:
            while chunk := self.tls.obj.read(65536):
                self.held += chunk
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            self.eof = True
        return bool(self.held) or self.eof

    def recv_exact(self, n: int, timeout: float = VERDICT_TIMEOUT) -> bytes:
        out, self.held = self.held[:n], self.held[n:]
        if len(out) < n:
            if self.eof:
                raise EOFError(f"server closed after {out!r}")
            out += self.tls.recv_exact(n - len(out), timeout)
        return out

    def verdict(self, timeout: float = VERDICT_TIMEOUT) -> tuple[bool, str]:
        """The SecurityResult: (accepted, reason)."""
        if int.from_bytes(self.recv_exact(4, timeout), "big") == 0:
            return True, ""
        n = int.from_bytes(self.recv_exact(4), "big")
        assert n <= harness.MAX_RFB_STRING, n
        return False, self.recv_exact(n).decode("utf-8", "replace")

    def init(self) -> str:
        """ClientInit (shared) and ServerInit; returns the desktop name."""
        self.send(b"\x01")
        head = self.recv_exact(24)
        n = int.from_bytes(head[20:24], "big")
        assert n <= harness.MAX_RFB_STRING, n
        return self.recv_exact(n).decode("utf-8", "replace")

    def closed(self, timeout: float = harness.EVENT_TIMEOUT) -> bool:
        """True when the server closes within `timeout` sending nothing more."""
        try:
            data = self.recv_exact(1, timeout)
        except (EOFError, ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        except AssertionError:  # TlsPipe's timeout
            return False
        raise AssertionError(f"server sent {data!r} instead of closing")

    def close(self) -> None:
        self.rfb.close()


def plain_login(port: int, ctx: ssl.SSLContext, user: bytes | str,
                password: bytes | str) -> tuple[bool, str]:
    """A whole hand-driven Plain login (ClientInit too when accepted), then close."""
    u = user.encode() if isinstance(user, str) else user
    p = password.encode() if isinstance(password, str) else password
    c = PlainClient(port, ctx)
    try:
        c.send(tlsharness.plain_credentials(u, p))
        accepted, reason = c.verdict()
        if accepted:
            c.init()
        else:
            assert c.closed(), "the server kept a refused client open"
        return accepted, reason
    finally:
        c.close()


# --- QMP cross-checks ----------------------------------------------------------------------


def logged_in(qmp: harness.Qmp, user: str, legacy: str = "vencrypt+x509+plain") -> None:
    """VNC_INITIALIZED with the user, then (the client being gone) VNC_DISCONNECTED with it."""
    ev = qmp.wait_event("VNC_INITIALIZED")
    assert ev["data"]["server"]["auth"] == legacy, ev
    assert ev["data"]["client"].get("sasl_username") == user, ev
    gone = qmp.wait_event("VNC_DISCONNECTED", timeout=VERDICT_TIMEOUT)
    assert gone["data"]["client"].get("sasl_username") == user, gone


def never_initialized(qmp: harness.Qmp) -> None:
    """The refused client's VNC_DISCONNECTED came and no VNC_INITIALIZED."""
    qmp.wait_event("VNC_DISCONNECTED", timeout=VERDICT_TIMEOUT)
    stray = tlsharness.no_initialized_event(qmp)
    assert not stray, stray


def tiger(s, certs, tmp_path: Path, user: str, password: str, anon: bool = False,
          name: str = "tiger") -> tlsharness.TigerRun:
    security = "TLSPlain" if anon else "X509Plain"
    return tlsharness.tigervnc(s.vnc_port, tmp_path / name, security,
                               ca=None if anon else certs.ca, crl=None if anon else certs.crl,
                               username=user, password=password, timeout=VERDICT_TIMEOUT)


def still_serving(s, certs, qmp: harness.Qmp, tmp_path: Path, name: str = "good") -> None:
    """A good TigerVNC login gets in and the monitor answers."""
    assert s.proc.poll() is None, s.describe()
    run = tiger(s, certs, tmp_path, USER, PASSWORD, name=name)
    assert run.verdict == "connected", run.log[-3000:]
    logged_in(qmp, USER)
    assert qmp.execute("query-status")["status"] == "running"


# --- what the display offers and reports ---------------------------------------------------


@pytest.mark.parametrize("anon,sub,legacy,number", [
    (False, "x509-plain", "vencrypt+x509+plain", X509_PLAIN),
    (True, "tls-plain", "vencrypt+tls+plain", TLS_PLAIN),
], ids=["x509", "anon"])
def test_query_vnc_servers_reports_the_plain_subtype(certs, start_tls, open_qmp, store, anon, sub,
                                                     legacy, number):
    s = plain_server(start_tls, certs, store, anon=anon)
    qmp = open_qmp(s)
    display = qmp.execute("query-vnc-servers")[0]
    assert display["auth"] == "vencrypt" and display["vencrypt"] == sub, display
    assert [(x["auth"], x["vencrypt"]) for x in display["server"]] == [("vencrypt", sub)], display
    info = qmp.execute("query-vnc")
    assert info["enabled"] is True and info["auth"] == legacy, info
    rfb = tlsharness.Vencrypt.tcp(s.vnc_port)
    try:
        assert rfb.offered() == [tlsharness.VENCRYPT]
        rfb.choose_type(tlsharness.VENCRYPT)
        assert rfb.vencrypt_version() == (0, 2)
        assert rfb.send_version(0, 2) == 0
        assert rfb.subtypes() == [number], "exactly the one Plain subtype, never cleartext 256"
    finally:
        rfb.close()


@pytest.mark.parametrize("subtype", [tlsharness.PLAIN, tlsharness.X509_NONE, tlsharness.X509_VNC,
                                     TLS_PLAIN], ids=["plain-256", "x509none", "x509vnc", "tlsplain"])
def test_a_subtype_other_than_x509plain_is_refused(certs, start_tls, open_qmp, store, subtype):
    """Cleartext Plain (256) above all: the password would travel unencrypted."""
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    rfb = tlsharness.Vencrypt.tcp(s.vnc_port)
    try:
        rfb.offered()
        rfb.choose_type(tlsharness.VENCRYPT)
        rfb.vencrypt_version()
        assert rfb.send_version(0, 2) == 0
        assert rfb.subtypes() == [X509_PLAIN]
        assert rfb.choose_subtype(subtype) == 0
        assert rfb.closed_without_data()
    finally:
        rfb.close()
    never_initialized(qmp)


# --- TigerVNC ------------------------------------------------------------------------------


def test_tigervnc_x509plain_with_a_200_character_password(certs, start_tls, open_qmp, store,
                                                          tmp_path):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    run = tiger(s, certs, tmp_path, USER, PASSWORD)
    assert run.verdict == "connected", run.log[-3000:]
    assert "X509Plain (262)" in run.log, run.log[-3000:]
    logged_in(qmp, USER)
    assert PASSWORD not in s.stderr() + s.stdout()


@pytest.mark.parametrize("user,password", [
    (USER, PASSWORD[:-1] + "?"),
    ("mallory", PASSWORD),
    (USER, PASSWORD[:8]),
    (USER, PASSWORD + "x"),
    (USER, ""),
    (USER.upper(), PASSWORD),
], ids=["wrong-last-char", "unknown-user", "first-8-chars", "one-char-more", "empty-password",
        "user-case"])
def test_tigervnc_x509plain_with_wrong_credentials_is_refused(certs, start_tls, open_qmp, store,
                                                              tmp_path, user, password):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    run = tiger(s, certs, tmp_path, user, password)
    assert run.verdict == "auth-failed", run.log[-3000:]
    assert FAILED in run.log, run.log[-3000:]
    never_initialized(qmp)


@pytest.mark.parametrize("password,expected", [(PASSWORD, "connected"), ("wrong", "auth-failed")],
                         ids=["right", "wrong"])
def test_tigervnc_tlsplain_with_anonymous_tls(certs, start_tls, open_qmp, store, tmp_path,
                                              password, expected):
    s = plain_server(start_tls, certs, store, anon=True)
    qmp = open_qmp(s)
    run = tiger(s, certs, tmp_path, USER, password, anon=True)
    assert run.verdict == expected, run.log[-3000:]
    assert "TLSPlain (259)" in run.log, run.log[-3000:]
    if expected == "connected":
        logged_in(qmp, USER, legacy="vencrypt+tls+plain")
    else:
        never_initialized(qmp)


# --- gvnccapture ---------------------------------------------------------------------------


@pytest.mark.parametrize("anon", [False, True], ids=["x509plain", "tlsplain"])
@pytest.mark.parametrize("password,accepted", [(GV_PASSWORD, True), (GV_PASSWORD[:-1], False)],
                         ids=["right", "wrong"])
def test_gvnccapture_plain(certs, start_tls, open_qmp, store, tmp_path, anon, password, accepted):
    s = plain_server(start_tls, certs, store, anon=anon)
    qmp = open_qmp(s)
    files = {} if anon else {"ca": certs.ca, "crl": certs.crl}
    run, shot = tlsharness.gvnccapture_userpass(s.display, tmp_path / "gvnc", GV_USER, password,
                                                **files)
    assert f"do subauth {TLS_PLAIN if anon else X509_PLAIN}" in run.log, run.log[-3000:]
    assert tlsharness.gvnccapture_ok(run, shot) is accepted, run.log[-3000:]
    if accepted:
        w, h = harness.png_size(shot)
        assert w >= 320 and h >= 200, (w, h)
        logged_in(qmp, GV_USER, legacy="vencrypt+tls+plain" if anon else "vencrypt+x509+plain")
    else:
        assert "Authentication failed" in run.log, run.log[-3000:]
        never_initialized(qmp)


# --- QMP -----------------------------------------------------------------------------------


def test_query_vnc_lists_the_logged_in_user(certs, start_tls, open_qmp, store):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    c = PlainClient(s.vnc_port, context(certs))
    try:
        assert c.subtype == X509_PLAIN
        connected = qmp.wait_event("VNC_CONNECTED")
        assert "sasl_username" not in connected["data"]["client"], connected
        c.send(tlsharness.plain_credentials(USER.encode(), PASSWORD.encode()))
        assert c.verdict() == (True, "")
        c.init()
        ev = qmp.wait_event("VNC_INITIALIZED")
        assert ev["data"]["client"]["sasl_username"] == USER, ev
        clients = qmp.execute("query-vnc")["clients"]
        assert [x.get("sasl_username") for x in clients] == [USER], clients
        listed = qmp.execute("query-vnc-servers")[0]["clients"]
        assert [x.get("sasl_username") for x in listed] == [USER], listed
    finally:
        c.close()
    gone = qmp.wait_event("VNC_DISCONNECTED")
    assert gone["data"]["client"].get("sasl_username") == USER, gone


def test_set_password_is_refused_on_a_plain_display(certs, start_tls, open_qmp, store, tmp_path):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    assert qmp.error("set_password", protocol="vnc", password="12345678") == \
        ("GenericError", "Could not set password")
    # Nothing changed: the store still decides.
    assert plain_login(s.vnc_port, context(certs), USER, "12345678") == (False, FAILED)
    assert plain_login(s.vnc_port, context(certs), USER, PASSWORD) == (True, "")


def test_userstore_objects_through_qmp(certs, start_tls, open_qmp, store, tmp_path):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    assert qmp.execute("qom-get", path="/objects/users0", property="type") == "userstore"
    assert qmp.execute("qom-get", path="/objects/users0", property="filename") == str(store)
    assert qmp.execute("qom-get", path="/objects/users0", property="refresh") is True
    assert qmp.error("object-del", id="users0") == \
        ("GenericError", "object 'users0' is in use, can not be deleted")
    # A second store nobody uses can be added, read and deleted.
    other = write_store(tmp_path / "other", slow_line("dave", "daves pw", 100_000))
    qmp.execute("object-add", {"qom-type": "userstore", "id": "users1", "filename": str(other),
                               "refresh": False})
    assert qmp.execute("qom-get", path="/objects/users1", property="refresh") is False
    assert qmp.execute("qom-get", path="/objects/users1", property="filename") == str(other)
    assert qmp.execute("object-del", id="users1") == {}
    assert qmp.error("qom-get", path="/objects/users1", property="type")[0] == "DeviceNotFound"
    # Bad files are refused, naming the file (and the line).
    bad = write_store(tmp_path / "bad", "# users\nalice:pbkdf2-sha256:i=600000:c2FsdHNhbHQ=\n")
    cls, desc = qmp.error("object-add", {"qom-type": "userstore", "id": "users2", "filename": str(bad)})
    assert cls == "GenericError" and f"{bad}:2" in desc, desc
    missing = tmp_path / "missing"
    cls, desc = qmp.error("object-add", {"qom-type": "userstore", "id": "users2",
                                         "filename": str(missing)})
    assert cls == "GenericError" and str(missing) in desc, desc
    # The display still works on its store.
    assert plain_login(s.vnc_port, context(certs), USER, PASSWORD) == (True, "")


def test_display_update_to_anonymous_creds_switches_to_tlsplain(certs, start_tls, open_qmp, store):
    """display-update tls-creds (Porthole extension) on a Plain display: the subtype follows
    the credentials (X509Plain -> TLSPlain); Plain stays inside TLS."""
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    qmp.execute("object-add", {"qom-type": "tls-creds-anon", "id": "tls1", "endpoint": "server"})
    qmp.execute("display-update", type="vnc", **{"tls-creds": "tls1"})
    display = qmp.execute("query-vnc-servers")[0]
    assert (display["auth"], display["vencrypt"]) == ("vencrypt", "tls-plain"), display
    assert qmp.execute("query-vnc")["auth"] == "vencrypt+tls+plain"
    assert plain_login(s.vnc_port, context(certs, anon=True), USER, PASSWORD) == (True, "")
    logged_in(qmp, USER, legacy="vencrypt+tls+plain")


# --- the store changes while Porthole runs -------------------------------------------------


def test_users_added_and_deleted_with_porthole_passwd_while_running(certs, start_tls, open_qmp,
                                                                    store, tmp_path):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    ctx = context(certs)
    assert plain_login(s.vnc_port, ctx, "carol", "carols password") == (False, FAILED)
    never_initialized(qmp)
    tlsharness.porthole_passwd(store, "carol", "carols password")
    run = tiger(s, certs, tmp_path, "carol", "carols password", name="added")
    assert run.verdict == "connected", run.log[-3000:]
    logged_in(qmp, "carol")
    tlsharness.porthole_passwd(store, "carol", delete=True)
    run = tiger(s, certs, tmp_path, "carol", "carols password", name="deleted")
    assert run.verdict == "auth-failed", run.log[-3000:]
    never_initialized(qmp)
    # The others were kept by both edits.
    still_serving(s, certs, qmp, tmp_path)


#: Largest user store file Porthole loads (crates/crypto MAX_USERSTORE_SIZE).
MAX_USERSTORE_SIZE = 1 << 20


def spoil(store: Path, how: str) -> None:
    if how == "garbage":
        write_store(store, "this is not a user store\nnor is this, and it is longer than before\n")
    elif how == "removed":
        store.unlink()
    else:  # "oversized": valid comment lines past the size limit
        write_store(store, store.read_text() + ("#" * 1023 + "\n") * (MAX_USERSTORE_SIZE // 1024))


@pytest.mark.parametrize("how", ["garbage", "removed", "oversized"])
def test_a_store_file_turned_bad_keeps_the_previous_users(certs, start_tls, open_qmp, store,
                                                          tmp_path, how):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    ctx = context(certs)
    assert plain_login(s.vnc_port, ctx, USER, PASSWORD) == (True, "")
    logged_in(qmp, USER)
    spoil(store, how)
    still_serving(s, certs, qmp, tmp_path, name="after-garbage")
    harness.wait_until(lambda: str(store) in s.stderr(), harness.EVENT_TIMEOUT,
                       "a warning naming the broken store")
    # A good file again (replaced, as an editor would): its users, and only they, get in.
    fresh = tmp_path / "fresh"
    tlsharness.porthole_passwd(fresh, "erin", "erins password")
    os.replace(fresh, store)
    assert plain_login(s.vnc_port, ctx, "erin", "erins password") == (True, "")
    assert plain_login(s.vnc_port, ctx, USER, PASSWORD) == (False, FAILED)


def test_refresh_off_reads_the_file_once(certs, start_tls, open_qmp, store):
    s = plain_server(start_tls, certs, store, refresh=False)
    qmp = open_qmp(s)
    assert qmp.execute("qom-get", path="/objects/users0", property="refresh") is False
    tlsharness.porthole_passwd(store, "carol", "carols password")
    ctx = context(certs)
    assert plain_login(s.vnc_port, ctx, "carol", "carols password") == (False, FAILED)
    assert plain_login(s.vnc_port, ctx, USER, PASSWORD) == (True, "")


def test_a_scrypt_user_logs_in(certs, start_tls, store):
    tlsharness.porthole_passwd(store, "sam", "sams scrypt password", scrypt=True)
    assert ":scrypt:" in store.read_text().splitlines()[-1]
    s = plain_server(start_tls, certs, store)
    ctx = context(certs)
    assert plain_login(s.vnc_port, ctx, "sam", "sams scrypt password") == (True, "")
    assert plain_login(s.vnc_port, ctx, "sam", "sams scrypt passworD") == (False, FAILED)


# --- hostile credentials -------------------------------------------------------------------


@pytest.mark.parametrize("ulen,plen", [
    (0xFFFFFFFF, 8), (MAX_PLAIN_USERNAME + 1, 8), (5, 0xFFFFFFFF), (5, MAX_PLAIN_PASSWORD + 1),
], ids=["user-2^32-1", "user-256", "password-2^32-1", "password-1025"])
def test_over_long_plain_lengths_are_refused_before_any_body(certs, start_tls, open_qmp, store,
                                                             tmp_path, ulen, plen):
    """Only the 8-byte header is sent: the server must answer from the lengths alone (it
    neither waits for, nor reserves room for, the body)."""
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    c = PlainClient(s.vnc_port, context(certs))
    try:
        c.send(ulen.to_bytes(4, "big") + plen.to_bytes(4, "big"))
        assert c.verdict(timeout=harness.EVENT_TIMEOUT) == (False, FAILED)
        assert c.closed(), "connection still open after over-long Plain lengths"
    finally:
        c.close()
    never_initialized(qmp)
    still_serving(s, certs, qmp, tmp_path)


def test_the_longest_user_name_and_password_are_accepted(certs, start_tls, open_qmp, store):
    """The bounds themselves are allowed: a 255-byte user with a 1024-byte password logs in."""
    user, password = "u" * MAX_PLAIN_USERNAME, "p" * (MAX_PLAIN_PASSWORD - 1) + "!"
    tlsharness.porthole_passwd(store, user, password)
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    ctx = context(certs)
    assert plain_login(s.vnc_port, ctx, user, password) == (True, "")
    logged_in(qmp, user)
    assert plain_login(s.vnc_port, ctx, user, password[:-1] + "?") == (False, FAILED)
    never_initialized(qmp)


@pytest.mark.parametrize("user", [b"\xffalice", b"ali\xc3", b"\xc0\xafalice", b"al\xed\xa0\x80ice"],
                         ids=["ff-byte", "truncated-sequence", "overlong-encoding", "surrogate"])
def test_a_user_name_that_is_not_utf8_is_refused(certs, start_tls, open_qmp, store, tmp_path, user):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    c = PlainClient(s.vnc_port, context(certs))
    try:
        c.send(tlsharness.plain_credentials(user, PASSWORD.encode()))
        assert c.verdict() == (False, FAILED)
        assert c.closed(), "connection still open after a non-UTF-8 user name"
    finally:
        c.close()
    never_initialized(qmp)
    still_serving(s, certs, qmp, tmp_path)


def test_an_empty_user_name_is_refused_like_an_unknown_user(certs, start_tls, open_qmp, store):
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    assert plain_login(s.vnc_port, context(certs), b"", PASSWORD) == (False, FAILED)
    never_initialized(qmp)
    assert plain_login(s.vnc_port, context(certs), USER, PASSWORD) == (True, "")


def test_credentials_in_one_byte_records_are_put_together(certs, start_tls, open_qmp, store):
    """The header and body split over many TLS records (one byte each) still log in."""
    s = plain_server(start_tls, certs, store)
    qmp = open_qmp(s)
    c = PlainClient(s.vnc_port, context(certs))
    try:
        for b in tlsharness.plain_credentials(USER.encode(), PASSWORD.encode()):
            c.send(bytes([b]))
        assert c.verdict() == (True, "")
        c.init()
    finally:
        c.close()
    logged_in(qmp, USER)


# --- checks run off the event loop ---------------------------------------------------------


def test_qmp_and_other_clients_are_served_while_a_check_runs(certs, start_tls, open_qmp, tmp_path):
    """Ordering, not timing: with a check of SLOW_ITERATIONS rounds in flight, QMP answers and
    a second VNC client gets its greeting while the first client still has no verdict."""
    slow = write_store(tmp_path / "slow", slow_line("slow", "slow password", SLOW_ITERATIONS))
    s = plain_server(start_tls, certs, slow)
    qmp = open_qmp(s)
    c = PlainClient(s.vnc_port, context(certs))
    try:
        c.send(tlsharness.plain_credentials(b"slow", b"slow password"))
        assert qmp.execute("query-status")["status"] == "running"
        other = tlsharness.Vencrypt.tcp(s.vnc_port)
        try:
            assert other.offered() == [tlsharness.VENCRYPT]
        finally:
            other.close()
        assert qmp.execute("query-vnc")["auth"] == "vencrypt+x509+plain"
        assert not c.answered(), ("the verdict came before QMP and the other client were "
                                  "served: the check blocked the event loop")
        assert c.verdict() == (True, "")
        c.init()
    finally:
        c.close()
    ev = qmp.wait_event("VNC_INITIALIZED")
    assert ev["data"]["client"]["sasl_username"] == "slow", ev


def test_logins_beyond_the_pending_limit_fail_at_once(certs, start_tls, open_qmp, tmp_path):
    """MAX_PENDING_PLAIN_CHECKS slow checks queued: one more login is refused with "server
    busy" while they are still pending; they all complete; afterwards logins work again."""
    slow = write_store(tmp_path / "slow", slow_line("slow", "slow password", QUEUE_ITERATIONS))
    s = plain_server(start_tls, certs, slow)
    qmp = open_qmp(s)
    ctx = context(certs)
    creds = tlsharness.plain_credentials(b"slow", b"slow password")
    clients: list[PlainClient] = []
    try:
        # TLS first for everybody, so that the credentials go out close together.
        for _ in range(MAX_PENDING_PLAIN_CHECKS + 1):
            clients.append(PlainClient(s.vnc_port, ctx))
        queued, extra = clients[:-1], clients[-1]
        for c in queued:
            c.send(creds)
            # Let the server read these credentials before the next client's, so that the
            # extra one arrives last (a scheduling pause; nothing is measured).
            time.sleep(0.02)
        extra.send(creds)
        assert extra.verdict(timeout=VERDICT_TIMEOUT) == (False, BUSY)
        assert not queued[-1].answered(), "the last queued check finished before the refusal"
        assert extra.closed()
        for i, c in enumerate(queued):
            assert c.verdict() == (True, ""), f"queued login {i}"
    finally:
        for c in clients:
            c.close()
    assert qmp.execute("query-status")["status"] == "running"
    assert plain_login(s.vnc_port, ctx, "slow", "slow password") == (True, "")


def test_a_client_gone_while_its_check_runs(certs, start_tls, open_qmp, tmp_path):
    """The verdict for a client that disconnected is dropped; the pending slot is freed."""
    slow = write_store(tmp_path / "slow", slow_line("slow", "slow password", QUEUE_ITERATIONS))
    s = plain_server(start_tls, certs, slow)
    qmp = open_qmp(s)
    ctx = context(certs)
    for _ in range(MAX_PENDING_PLAIN_CHECKS + 1):
        c = PlainClient(s.vnc_port, ctx)
        c.send(tlsharness.plain_credentials(b"slow", b"slow password"))
        c.close()
        qmp.wait_event("VNC_DISCONNECTED")
    # All of them gone: once their checks have run, a login is queued and accepted.
    accepted, reason = plain_login(s.vnc_port, ctx, "slow", "slow password")
    if not accepted and reason == BUSY:
        # The abandoned checks may still be running; the slots come back when they end.
        harness.wait_until(
            lambda: plain_login(s.vnc_port, ctx, "slow", "slow password") == (True, ""),
            VERDICT_TIMEOUT, "a login after the abandoned checks", step=0.5)
    else:
        assert (accepted, reason) == (True, "")
    assert qmp.execute("query-status")["status"] == "running"
    assert s.proc.poll() is None, s.describe()


# --- start-up checks -----------------------------------------------------------------------


@pytest.mark.parametrize("vnc_options,needles", [
    ("userstore=users0", ["userstore", "tls-creds"]),
    ("tls-creds=tls0,userstore=users0,password=on", ["userstore", "password"]),
    ("tls-creds=tls0,userstore=users0,password-secret=sec0", ["userstore", "'password-secret'"]),
    ("tls-creds=tls0,userstore=users0,websocket=on", ["userstore", "websocket"]),
    ("tls-creds=tls0,userstore=tls0", ["No user store with id 'tls0'"]),
    ("tls-creds=tls0,userstore=nope", ["No user store with id 'nope'"]),
], ids=["no-tls", "password", "password-secret", "websocket", "not-a-userstore", "unknown-id"])
def test_start_up_errors_name_the_option(certs, store, tmp_path, vnc_options, needles):
    args = ["-object", tlsharness.x509_object(certs.server, verify_peer=False),
            "-object", "secret,id=sec0,data=12345678",
            "-object", tlsharness.userstore_object(store),
            "-vnc", f"127.0.0.1:{harness.pick_display()},{vnc_options}"]
    failed = tlsharness.start_must_fail("porthole", tmp_path, args)
    assert failed.returncode != 0, failed
    for needle in needles:
        assert needle in failed.stderr, failed


@pytest.mark.parametrize("content", [
    "# users\nalice:pbkdf2-sha256:i=600000:c2FsdHNhbHQ=\n",
    "# users\n" + tlsharness.pbkdf2_entry("bob", "x", 1000),
    "# users\nbob:md5:x:c2FsdHNhbHQ=:c2FsdHNhbHQ=\n",
], ids=["missing-field", "too-few-iterations", "unknown-scheme"])
def test_a_bad_store_file_stops_start_up_naming_file_and_line(tmp_path, content):
    bad = write_store(tmp_path / "users", content)
    failed = tlsharness.start_must_fail("porthole", tmp_path, [
        "-object", tlsharness.userstore_object(bad)])
    assert failed.returncode != 0, failed
    assert f"{bad}:2" in failed.stderr, failed


def test_a_missing_store_file_stops_start_up(tmp_path):
    missing = tmp_path / "nothing-here"
    failed = tlsharness.start_must_fail("porthole", tmp_path, [
        "-object", tlsharness.userstore_object(missing)])
    assert failed.returncode != 0 and str(missing) in failed.stderr, failed


def test_porthole_passwd_refuses_bad_user_names(tmp_path):
    path = tmp_path / "users"
    for user in ("", "a:b", "#x", "x" * (MAX_PLAIN_USERNAME + 1)):
        proc = tlsharness.porthole_passwd(path, user, "some password", check=False)
        assert proc.returncode != 0, (user, proc)
    assert not path.exists() or path.read_text().strip() == ""
