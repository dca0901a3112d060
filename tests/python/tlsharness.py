"""Helpers for the VeNCrypt TLS tests (test_tls_*.py): certificates, TLS servers, real
clients that speak VeNCrypt, and a hand-driven VeNCrypt client for malformed handshakes.

- Certificates come from `scripts/mkcerts.sh DIR`: DIR/server is a `tls-creds-x509` dir,
  DIR/client holds the CA, a good and a revoked client cert, DIR/foreign a second CA and a
  client cert it signed. They are made once per test session (`certs` fixture).
- `TlsServer` is a `harness.Server` whose `-vnc` carries `tls-creds=` and friends, with the
  `-object`s it needs; `start_tls` starts them for the suite's target (Porthole or QEMU).
- `gvnccapture_pki()` gives gvnccapture a private `~/.pki` through nss_wrapper (gtk-vnc
  reads the home directory from the password database, not `$HOME`).
- `tigervnc()` runs TigerVNC's vncviewer under a shared Xvfb and judges it by its log.
- `Vencrypt` does the RFB and VeNCrypt bytes by hand; `TlsPipe` runs python's `ssl` over
  memory BIOs on top of it, so a test can stop a handshake anywhere and see the server's
  plaintext TLS 1.2 handshake messages.

Every wait is bounded; every process started here is killed when its test (or, for Xvfb,
the session) ends.
"""

from __future__ import annotations

import atexit
import json
import os
import pwd
import select
import shutil
import socket
import ssl
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

import harness

#: The client certificate's subject as QEMU reports it (x509_dname) and tls-authz matches
#: it: GnuTLS's string, attributes in certificate order.
CLIENT_DN = "O=Porthole Test,CN=client.porthole.test"
#: A DN no certificate of the suite has.
OTHER_DN = "O=Porthole Test,CN=other.porthole.test"
#: The client DN in RFC 4514 order (reversed): not what tls-authz compares.
CLIENT_DN_RFC4514 = "CN=client.porthole.test,O=Porthole Test"

#: RFB security type VeNCrypt and the VeNCrypt subtypes QEMU offers.
VENCRYPT = 19
TLS_NONE = 257
TLS_VNC = 258
X509_NONE = 260
X509_VNC = 261
#: A subtype QEMU never offers (VeNCrypt Plain).
PLAIN = 256

#: The password the tests set with set_password.
PASSWORD = "Tls-pw8!"

#: Longest a certificate tool may run.
CERT_TIMEOUT = 60.0
#: How long TigerVNC may take to reach a verdict.
TIGER_TIMEOUT = 10.0
#: Largest TLS record (plus header) accepted from the server by `TlsPipe`.
MAX_TLS_RECORD = (1 << 14) + 2048 + 5
#: Most bytes of server handshake that `TlsPipe` keeps for inspection.
MAX_HANDSHAKE_CAPTURE = 1 << 20
#: Longest a start-up that must fail may take.
FAIL_TIMEOUT = 10.0

MKCERTS = harness.REPO / "scripts" / "mkcerts.sh"


# --- certificates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    """A certificate tree in the mkcerts.sh layout."""

    root: Path

    @property
    def server(self) -> Path:
        """The tls-creds-x509 `dir=` of the server."""
        return self.root / "server"

    @property
    def ca(self) -> Path:
        return self.root / "client" / "ca-cert.pem"

    @property
    def crl(self) -> Path:
        return self.root / "server" / "ca-crl.pem"

    @property
    def client_cert(self) -> Path:
        return self.root / "client" / "client-cert.pem"

    @property
    def client_key(self) -> Path:
        return self.root / "client" / "client-key.pem"

    @property
    def revoked_cert(self) -> Path:
        return self.root / "client" / "revoked-cert.pem"

    @property
    def revoked_key(self) -> Path:
        return self.root / "client" / "revoked-key.pem"

    @property
    def foreign_ca(self) -> Path:
        return self.root / "foreign" / "ca-cert.pem"

    @property
    def foreign_cert(self) -> Path:
        return self.root / "foreign" / "client-cert.pem"

    @property
    def foreign_key(self) -> Path:
        return self.root / "foreign" / "client-key.pem"

    def files(self) -> list[Path]:
        names = ["ca-cert.pem", "server-cert.pem", "server-key.pem", "ca-crl.pem", "dh-params.pem"]
        return [self.server / n for n in names] + [
            self.ca, self.client_cert, self.client_key, self.revoked_cert, self.revoked_key,
            self.foreign_ca, self.foreign_cert, self.foreign_key,
        ]

    def check(self) -> "Certs":
        missing = [str(p.relative_to(self.root)) for p in self.files() if not p.is_file()]
        assert not missing, f"certificate tree {self.root} lacks {missing}"
        return self

    def server_copy(self, dest: Path) -> Path:
        """A copy of the server dir (for tests that change file modes or contents)."""
        shutil.copytree(self.server, dest)
        for p in dest.iterdir():
            p.chmod(0o600 if p.name.endswith("key.pem") else 0o644)
        return dest


def _run(argv: list[str], cwd: Path) -> None:
    proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=CERT_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}"
        )


def make_certs(root: Path) -> Certs:
    """Runs scripts/mkcerts.sh ROOT (EC P-256 keys, own serials, the fixed ffdhe2048 group)
    and checks the layout."""
    harness.require_program("openssl")
    if not MKCERTS.is_file():
        pytest.fail(f"{MKCERTS} is missing: the TLS tests take their certificates from it",
                    pytrace=False)
    root.mkdir(parents=True, exist_ok=True)
    _run(["sh", str(MKCERTS), str(root)], root)
    return Certs(root).check()


_certs_cache: dict[str, Certs] = {}


@pytest.fixture
def certs(tmp_path_factory) -> Certs:
    """The session's certificate tree (made on first use, shared by every TLS test)."""
    if "certs" not in _certs_cache:
        _certs_cache["certs"] = make_certs(tmp_path_factory.mktemp("certs"))
    return _certs_cache["certs"]


# --- servers -------------------------------------------------------------------------------


def x509_object(dir: Path, id: str = "tls0", verify_peer: bool = True, endpoint: str = "server") -> str:
    """`-object` argument of a tls-creds-x509."""
    return (f"tls-creds-x509,id={id},dir={dir},endpoint={endpoint},"
            f"verify-peer={'on' if verify_peer else 'off'}")


def anon_object(id: str = "tls0") -> str:
    """`-object` argument of a server tls-creds-anon."""
    return f"tls-creds-anon,id={id},endpoint=server"


def authz_simple_object(identity: str, id: str = "az0") -> str:
    """`-object` argument of an authz-simple (commas in the identity doubled, QemuOpts)."""
    return f"authz-simple,id={id},identity={identity.replace(',', ',,')}"


def authz_list_object(allow: list[str], id: str = "az0", policy: str = "deny") -> str:
    """`-object` JSON of an authz-list allowing the exact DNs in `allow` (QEMU 7.2 takes
    rules only in the JSON form)."""
    rules = [{"match": dn, "policy": "allow"} for dn in allow]
    return json.dumps({"qom-type": "authz-list", "id": id, "policy": policy, "rules": rules})


@dataclass
class TlsServer(harness.Server):
    """A server whose display has `-vnc 127.0.0.1:N,<vnc_options>` and the given `-object`s
    (before -vnc, as QEMU needs)."""

    objects: list[str] = field(default_factory=list)
    vnc_options: str = "tls-creds=tls0"

    def build_argv(self) -> list[str]:
        argv = self.base_argv()
        for obj in self.objects:
            argv += ["-object", obj]
        opts = f"127.0.0.1:{self.display}"
        if self.vnc_options:
            opts += "," + self.vnc_options
        if self.password:
            opts += ",password=on"
        argv += ["-vnc", opts]
        if self.qmp == "unix":
            argv += ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        return argv + list(self.extra)


@pytest.fixture
def start_tls(tmp_path):
    """start_tls(objects, vnc_options="tls-creds=tls0", password=False, kind=None) -> TlsServer.

    Starts the suite's target (or `kind`) with the `-object`s and `-vnc` options given and a
    QMP socket; with `password`, also sets PASSWORD through QMP. Killed when the test ends.
    """
    servers: list[TlsServer] = []

    def start(objects: list[str], vnc_options: str = "tls-creds=tls0", password: bool = False,
              kind: Optional[str] = None, **opts) -> TlsServer:
        kind = kind or harness.target()
        workdir = tmp_path / f"{kind}-tls{len(servers)}"
        workdir.mkdir()
        server = TlsServer(kind=kind, workdir=workdir, objects=list(objects),
                           vnc_options=vnc_options, password=password, **opts)
        servers.append(server)
        server.start()
        if password:
            qmp = server.connect()
            try:
                qmp.execute("set_password", protocol="vnc", password=PASSWORD)
            finally:
                qmp.close()
        return server

    yield start
    for server in servers:
        server.kill()


@dataclass
class Failed:
    """A server start that had to fail."""

    returncode: int
    stderr: str


def start_must_fail(kind: str, workdir: Path, args: list[str]) -> Failed:
    """Runs the binary of `kind` with the base options and `args`; it must exit (not keep
    running) within FAIL_TIMEOUT."""
    argv = harness.base_argv(kind) + args
    try:
        proc = subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=FAIL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{argv} kept running for {FAIL_TIMEOUT} s; expected a start-up error")
    return Failed(proc.returncode, proc.stderr.decode(errors="replace"))


# --- gvnccapture with a private ~/.pki -----------------------------------------------------


def nss_wrapper_library() -> str:
    """Path of libnss_wrapper.so (skips or fails like a missing client when absent)."""
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
              "/usr/local/lib"):
        path = Path(d) / "libnss_wrapper.so"
        if path.is_file():
            return str(path)
    message = "libnss_wrapper.so is not installed (apt: libnss-wrapper)"
    if harness.clients_required():
        pytest.fail(message + " (PORTHOLE_REQUIRE_CLIENTS is set)", pytrace=False)
    pytest.skip(message)
    raise AssertionError("unreachable")


def pki_home(root: Path, ca: Optional[Path] = None, crl: Optional[Path] = None,
             cert: Optional[Path] = None, key: Optional[Path] = None) -> dict[str, str]:
    """Makes a home directory under `root` with gtk-vnc's ~/.pki layout and returns the
    environment that makes gvnccapture see it as the user's home (nss_wrapper)."""
    home = root / "home"
    (home / ".pki" / "CA").mkdir(parents=True)
    (home / ".pki" / "gvnccapture" / "private").mkdir(parents=True)
    for src, dest in ((ca, "CA/cacert.pem"), (crl, "CA/cacrl.pem"),
                      (cert, "gvnccapture/clientcert.pem"),
                      (key, "gvnccapture/private/clientkey.pem")):
        if src is not None:
            shutil.copyfile(src, home / ".pki" / dest)
    user = pwd.getpwuid(os.getuid()).pw_name
    (root / "passwd").write_text(f"{user}:x:{os.getuid()}:{os.getgid()}:tester:{home}:/bin/sh\n")
    (root / "group").write_text(f"{user}:x:{os.getgid()}:\n")
    env = dict(os.environ)
    env.update(LD_PRELOAD=nss_wrapper_library(), NSS_WRAPPER_PASSWD=str(root / "passwd"),
               NSS_WRAPPER_GROUP=str(root / "group"), HOME=str(home))
    return env


def gvnccapture_pki(display: int, root: Path, password: Optional[str] = None,
                    **files: Optional[Path]) -> tuple[harness.ClientRun, Path]:
    """gvnccapture to 127.0.0.1:DISPLAY with a private ~/.pki made from `files` (ca, crl,
    cert, key) under `root`; returns the run and the screenshot path."""
    root.mkdir(parents=True, exist_ok=True)
    env = pki_home(root, **files)
    shot = root / "shot.png"
    return harness.gvnccapture(display, password, shot, env=env), shot


def gvnccapture_ok(run: harness.ClientRun, shot: Path) -> bool:
    """True when gvnccapture got a whole frame (exit 0 and a PNG)."""
    return run.returncode == 0 and shot.is_file()


# --- TigerVNC ------------------------------------------------------------------------------


class _Xvfb:
    """One Xvfb for the whole session, started on first use, killed at exit."""

    proc: Optional[subprocess.Popen] = None
    display: Optional[int] = None
    registered = False

    @classmethod
    def get(cls) -> int:
        if cls.proc is not None and cls.proc.poll() is None:
            assert cls.display is not None
            return cls.display
        program = harness.require_program("Xvfb")
        r, w = os.pipe()
        cls.proc = subprocess.Popen(
            [program, "-displayfd", str(w), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(w,), start_new_session=True,
        )
        os.close(w)
        if not cls.registered:
            atexit.register(cls.stop)
            cls.registered = True
        out = b""
        deadline = time.monotonic() + harness.START_TIMEOUT
        try:
            while not out.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([r], [], [], left)[0]:
                    raise AssertionError("Xvfb reported no display number")
                chunk = os.read(r, 64)
                if not chunk:
                    raise AssertionError(f"Xvfb exited before reporting a display ({out!r})")
                out += chunk
        finally:
            os.close(r)
        cls.display = int(out)
        return cls.display

    @classmethod
    def stop(cls) -> None:
        if cls.proc is not None and cls.proc.poll() is None:
            cls.proc.kill()
            cls.proc.wait()


#: TigerVNC's obfuscation key for password files (d3des, as in vncpasswd).
_VNCPASSWD_KEY = bytes([23, 82, 107, 6, 35, 78, 88, 7])


def vncpasswd_bytes(password: str) -> bytes:
    """What `vncpasswd -f` writes for `password`: the first 8 bytes, zero padded, DES
    encrypted under the fixed key (VNC auth's bit reversal undone, hence the key's)."""
    block = password.encode("latin-1")[:8].ljust(8, b"\0")
    return harness.vnc_des_response(_VNCPASSWD_KEY.decode("latin-1"), block + block)[:8]


@dataclass
class TigerRun:
    """TigerVNC's verdict: "connected", "unknown-ca", "auth-failed" or "failed"."""

    verdict: str
    log: str


_TIGER_VERDICTS = (
    ("connected", ("Using pixel format",)),
    ("unknown-ca", ("server cert signer not found", "Server host not previously known")),
    ("auth-failed", ("Authentication failure", "Authentication failed")),
)


def tigervnc(port: int, workdir: Path, security: str, ca: Optional[Path] = None,
             crl: Optional[Path] = None, password: Optional[str] = None,
             timeout: float = TIGER_TIMEOUT, username: Optional[str] = None) -> TigerRun:
    """Runs vncviewer -SecurityTypes SECURITY to 127.0.0.1::PORT with a private HOME under
    the shared Xvfb, reads its log until a verdict, then kills it. It exits 0 even on
    failure, and waits forever in a dialog on an unknown CA: only the log tells.

    With `username` (VeNCrypt Plain), user name and password go in VNC_USERNAME and
    VNC_PASSWORD, which vncviewer reads instead of asking; otherwise the password goes in a
    vncpasswd-format file."""
    program = harness.require_program("vncviewer")
    display = _Xvfb.get()
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    argv = [program, "-AlertOnFatalError=0", "-ReconnectOnError=0", "-Shared=1",
            "-Log", "*:stderr:100", "-SecurityTypes", security]
    if ca is not None:
        argv += ["-X509CA", str(ca)]
    if crl is not None:
        argv += ["-X509CRL", str(crl)]
    if password is not None and username is None:
        passwd = workdir / "passwd"
        passwd.write_bytes(vncpasswd_bytes(password))
        argv += ["-PasswordFile", str(passwd)]
    argv.append(f"127.0.0.1::{port}")
    env = dict(os.environ, HOME=str(home), DISPLAY=f":{display}")
    env.pop("VNC_USERNAME", None)
    env.pop("VNC_PASSWORD", None)
    if username is not None:
        env.update(VNC_USERNAME=username, VNC_PASSWORD=password or "")
    log_path = workdir / "vncviewer.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    verdict = None
    try:
        while verdict is None:
            exited = proc.poll() is not None
            log = log_path.read_text(errors="replace")
            for name, needles in _TIGER_VERDICTS:
                if any(n in log for n in needles):
                    verdict = name
                    break
            if verdict is None and exited:
                verdict = "failed"
            if verdict is None:
                if time.monotonic() >= deadline:
                    raise AssertionError(f"vncviewer gave no verdict within {timeout} s:\n{log[-3000:]}")
                time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return TigerRun(verdict, log_path.read_text(errors="replace"))


# --- hand-driven VeNCrypt ------------------------------------------------------------------


class Vencrypt(harness.Rfb):
    """An RFB 3.8 client that does the VeNCrypt bytes by hand, one step per method."""

    def offered(self) -> list[int]:
        """Reads the server's version and security types (after sending ours)."""
        self.version()
        return self.security_types()

    def choose_type(self, kind: int) -> None:
        self.sock.sendall(bytes([kind]))

    def vencrypt_version(self) -> tuple[int, int]:
        major, minor = self.recv_exact(2)
        return major, minor

    def send_version(self, major: int, minor: int) -> int:
        """Sends our VeNCrypt version; returns the server's u8 (0 = accepted)."""
        self.sock.sendall(bytes([major, minor]))
        return self.recv_exact(1)[0]

    def subtypes(self) -> list[int]:
        n = self.recv_exact(1)[0]
        return list(struct.unpack(f">{n}I", self.recv_exact(4 * n)))

    def choose_subtype(self, subtype: int) -> int:
        """Sends our subtype; returns the server's u8 (1 = accepted)."""
        self.sock.sendall(struct.pack(">I", subtype))
        return self.recv_exact(1)[0]

    def to_tls(self) -> tuple[int, list[int]]:
        """Version 0.2, the single offered subtype chosen; returns it and the offer."""
        types = self.offered()
        assert types == [VENCRYPT], f"security types {types}, expected [19]"
        self.choose_type(VENCRYPT)
        assert self.vencrypt_version() == (0, 2)
        assert self.send_version(0, 2) == 0
        offer = self.subtypes()
        assert len(offer) == 1, offer
        assert self.choose_subtype(offer[0]) == 1
        return offer[0], offer

    def closed_without_data(self, timeout: float = harness.EVENT_TIMEOUT) -> bool:
        """True when the server closes the connection within `timeout` sending nothing."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, TimeoutError):
            return False
        assert data == b"", f"server sent {data!r} instead of closing"
        return True


def client_context(ca: Optional[Path] = None, cert: Optional[Path] = None,
                   key: Optional[Path] = None, anon: bool = False,
                   tls12: bool = False) -> ssl.SSLContext:
    """A client SSLContext: CA-checked against `ca` (server name 127.0.0.1), optionally with a
    client certificate; `anon` for anonymous DH (TLS 1.2, no certificate check); `tls12` caps
    the version at TLS 1.2 so that the server's handshake messages travel in plaintext."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if anon:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("aNULL:!eNULL:@SECLEVEL=0")
    elif ca is not None:
        ctx.load_verify_locations(cafile=str(ca))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key else None)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class TlsPipe:
    """python `ssl` over memory BIOs on a connected blocking socket: the handshake can be
    stopped at any point, and every byte the server sent before it finished is kept."""

    def __init__(self, sock: socket.socket, ctx: ssl.SSLContext, server_name: Optional[str] = "127.0.0.1"):
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=False,
                                server_hostname=server_name if ctx.check_hostname else None)
        self.server_bytes = b""

    def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def pump(self, timeout: float = harness.COMMAND_TIMEOUT) -> None:
        """Reads what the server sent next into the incoming BIO (EOFError at close)."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            self.incoming.write_eof()
            raise EOFError("server closed the connection during TLS")
        if len(self.server_bytes) < MAX_HANDSHAKE_CAPTURE:
            self.server_bytes += data
        self.incoming.write(data)

    def client_hello(self) -> bytes:
        """Produces our ClientHello (without sending it) and returns it."""
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()

    def handshake(self, timeout: float = harness.COMMAND_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"TLS handshake not done within {timeout} s")
                self.pump(left)
        self.flush()

    def handshake_messages_until(self, last: int, timeout: float = harness.COMMAND_TIMEOUT) -> list[int]:
        """Sends the ClientHello and reads the server's first flight until handshake message
        type `last` (14 = ServerHelloDone); returns the plaintext handshake message types.
        Only meaningful with TLS 1.2 (TLS 1.3 encrypts everything after ServerHello)."""
        self.sock.sendall(self.client_hello())
        deadline = time.monotonic() + timeout
        while True:
            types = plaintext_handshake_types(self.server_bytes)
            if last in types:
                return types
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no handshake message {last} within {timeout} s; got {types}")
            self.pump(left)

    def send(self, data: bytes) -> None:
        self.obj.write(data)
        self.flush()

    def recv_exact(self, n: int, timeout: float = harness.COMMAND_TIMEOUT) -> bytes:
        out = b""
        deadline = time.monotonic() + timeout
        while len(out) < n:
            try:
                out += self.obj.read(n - len(out))
            except ssl.SSLWantReadError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{n} bytes not received within {timeout} s (have {out!r})")
                self.pump(left)
            except ssl.SSLZeroReturnError:
                raise EOFError(f"TLS closed after {out!r}")
        return out

    def u32(self) -> int:
        return struct.unpack(">I", self.recv_exact(4))[0]


def plaintext_handshake_types(data: bytes) -> list[int]:
    """The handshake message types in the plaintext TLS records at the start of `data`
    (stops at ChangeCipherSpec or a record that is not a handshake record)."""
    payload = b""
    pos = 0
    while pos + 5 <= len(data):
        ctype, _ver, length = struct.unpack(">BHH", data[pos:pos + 5])
        if length > MAX_TLS_RECORD:
            raise AssertionError(f"TLS record of {length} bytes")
        if pos + 5 + length > len(data):
            break
        if ctype != 22:
            break
        payload += data[pos + 5:pos + 5 + length]
        pos += 5 + length
    types = []
    pos = 0
    while pos + 4 <= len(payload):
        mtype = payload[pos]
        mlen = int.from_bytes(payload[pos + 1:pos + 4], "big")
        if pos + 4 + mlen > len(payload):
            break
        types.append(mtype)
        pos += 4 + mlen
    return types


def vencrypt_login(port: int, ctx: ssl.SSLContext, password: Optional[str] = None) -> tuple[int, str]:
    """A whole VeNCrypt login with python `ssl`: returns (subtype, desktop name). Raises on
    any refusal. Used as the known-good client after malformed ones."""
    rfb = Vencrypt.tcp(port)
    try:
        subtype, _ = rfb.to_tls()
        tls = TlsPipe(rfb.sock, ctx)
        tls.handshake()
        if subtype in (TLS_VNC, X509_VNC):
            assert password is not None, "the server wants a password"
            challenge = tls.recv_exact(16)
            tls.send(harness.vnc_des_response(password, challenge))
        result = tls.u32()
        if result != 0:
            reason = tls.recv_exact(min(tls.u32(), harness.MAX_RFB_STRING))
            raise harness.RfbError(f"SecurityResult {result}: {reason!r}")
        tls.send(b"\x01")
        head = tls.recv_exact(24)
        n = struct.unpack(">I", head[20:24])[0]
        assert n <= harness.MAX_RFB_STRING
        return subtype, tls.recv_exact(n).decode("utf-8", "replace")
    finally:
        rfb.close()


def no_initialized_event(qmp: harness.Qmp, within: float = 0.3) -> list[dict]:
    """The VNC_INITIALIZED events that arrived (should be none)."""
    return [e for e in qmp.drain_events(within) if e["event"] == "VNC_INITIALIZED"]


@pytest.fixture
def second_certs(tmp_path_factory) -> Certs:
    """Another certificate tree with its own CA (for certificate rotation), made once."""
    if "second" not in _certs_cache:
        _certs_cache["second"] = make_certs(tmp_path_factory.mktemp("certs2"))
    return _certs_cache["second"]


# --- VeNCrypt Plain against a userstore (Porthole extension) -------------------------------

#: The VeNCrypt Plain subtypes Porthole offers with `userstore=`: anonymous TLS, X.509.
TLS_PLAIN = 259
X509_PLAIN = 262
#: Longest one porthole-passwd run may take (one hash with the default parameters).
PASSWD_TIMEOUT = 60.0


def userstore_object(filename: Path, id: str = "users0", refresh: Optional[bool] = None) -> str:
    """`-object` argument of a userstore (refresh left to its default unless given)."""
    arg = f"userstore,id={id},filename={str(filename).replace(',', ',,')}"
    if refresh is not None:
        arg += f",refresh={'on' if refresh else 'off'}"
    return arg


def porthole_passwd_bin() -> Path:
    """porthole-passwd, built next to the porthole binary under test."""
    tool = harness.porthole_bin().parent / "porthole-passwd"
    if not tool.is_file():
        pytest.fail(f"{tool} not found: run `cargo build --release -p crypto` (it is built next "
                    "to porthole)", pytrace=False)
    return tool


def porthole_passwd(store: Path, user: str, password: Optional[str] = None, delete: bool = False,
                    scrypt: bool = False, check: bool = True) -> subprocess.CompletedProcess:
    """Runs `porthole-passwd [--delete|--scrypt] STORE USER` with the password as the first
    line of stdin (not a terminal). With `check`, it must exit 0 and must not echo the
    password."""
    argv = [str(porthole_passwd_bin())]
    argv += ["--delete"] if delete else []
    argv += ["--scrypt"] if scrypt else []
    argv += [str(store), user]
    stdin = b"" if password is None else password.encode() + b"\n"
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=PASSWD_TIMEOUT)
    if check:
        out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        assert proc.returncode == 0, f"{argv} exited {proc.returncode}:\n{out}"
        assert not password or password not in out, f"porthole-passwd echoed the password: {out}"
    return proc


def pbkdf2_entry(user: str, password: str, iterations: int) -> str:
    """A user store line made here (not by porthole-passwd): pbkdf2-sha256 with
    `iterations` rounds, a random 16-byte salt and a 32-byte hash, base64 with padding."""
    import base64
    import hashlib

    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)
    b64 = base64.b64encode
    return f"{user}:pbkdf2-sha256:i={iterations}:{b64(salt).decode()}:{b64(digest).decode()}\n"


def plain_credentials(user: bytes, password: bytes) -> bytes:
    """VeNCrypt Plain's message: u32 user length, u32 password length (big-endian), then
    the user name and the password."""
    return struct.pack(">II", len(user), len(password)) + user + password


def gvnccapture_userpass(display: int, root: Path, username: str, password: str,
                         timeout: float = harness.CLIENT_TIMEOUT,
                         **files: Optional[Path]) -> tuple[harness.ClientRun, Path]:
    """gvnccapture to 127.0.0.1:DISPLAY with a private ~/.pki (see gvnccapture_pki),
    answering its user name and password prompts (VeNCrypt Plain)."""
    root.mkdir(parents=True, exist_ok=True)
    env = pki_home(root, **files)
    shot = root / "shot.png"
    run = harness.gvnccapture(display, password, shot, timeout=timeout, env=env,
                              username=username)
    return run, shot
