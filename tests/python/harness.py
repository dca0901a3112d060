"""Test harness for the QMP suite: start Porthole or QEMU 7.2, talk QMP and RFB to them.

Everything here is synchronous. `qemu.qmp` is asyncio; `Qmp` gives each connection its own
event loop and runs one call at a time on it, so tests read top to bottom. `RawQmp` is a
plain line-based socket client for the byte-level checks (`\\r\\n`, garbage, pretty
printing, file descriptors sent with `sendmsg`). `Rfb` is a minimal RFB client for the
handshake (None and VNC authentication). Real viewers (gvnccapture under a pty, vncdotool)
are started by `gvnccapture()` and `vncdo()`.

Every wait is bounded; every process started here is killed when its test ends.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import itertools
import json
import os
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]

#: How long a server may take from exec to listening.
START_TIMEOUT = 10.0
#: How long one QMP command may take.
COMMAND_TIMEOUT = 10.0
#: How long an expected event may take to arrive.
EVENT_TIMEOUT = 5.0
#: How long a real viewer may run before it is killed.
CLIENT_TIMEOUT = 20.0
#: First display number used (TCP port 5900 + display); below the ephemeral port range.
FIRST_DISPLAY = 3000
#: How many display numbers the tests spread over.
DISPLAY_SPAN = 5000
#: Longest line accepted from a QMP server by the raw client (query-qmp-schema is large).
MAX_QMP_LINE = 16 << 20
#: Longest RFB failure reason or desktop name accepted.
MAX_RFB_STRING = 4096
#: Attempts to start a server when the chosen port turned out to be taken.
START_ATTEMPTS = 6


# --- environment ---------------------------------------------------------------------------


def target() -> str:
    """Which server the non-differential tests run against: "porthole" (default) or "qemu".

    `PORTHOLE_QMP_TARGET=qemu` runs the suite against QEMU 7.2 to show that the tests
    describe QEMU's behaviour; Porthole-only tests are then deselected.
    """
    value = os.environ.get("PORTHOLE_QMP_TARGET", "porthole")
    if value not in ("porthole", "qemu"):
        raise pytest.UsageError(f"PORTHOLE_QMP_TARGET must be porthole or qemu, not {value!r}")
    return value


def clients_required() -> bool:
    """True when a missing client or QEMU must fail the run instead of skipping (CI)."""
    return bool(os.environ.get("PORTHOLE_REQUIRE_CLIENTS"))


def porthole_bin() -> Path:
    """The binary under test: `PORTHOLE_BIN`, else target/release/porthole of the repo."""
    path = Path(os.environ.get("PORTHOLE_BIN") or REPO / "target" / "release" / "porthole")
    if not path.is_file():
        pytest.fail(
            f"porthole binary {path} not found: run `cargo build --release -p porthole` "
            "or set PORTHOLE_BIN",
            pytrace=False,
        )
    return path


def require_program(name: str) -> str:
    """Path of `name`; skips the test when missing unless clients are required."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed"
    if clients_required():
        pytest.fail(message + " (PORTHOLE_REQUIRE_CLIENTS is set)", pytrace=False)
    pytest.skip(message)
    raise AssertionError("unreachable")


def qemu_bin() -> str:
    """QEMU 7.2's x86 system emulator (skips or fails when missing, see require_program)."""
    return require_program("qemu-system-x86_64")


# --- ports ---------------------------------------------------------------------------------

_display_counter = itertools.count()


def tcp_port_free(port: int) -> bool:
    """True when a bind to 127.0.0.1:port succeeds right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def tcp_listening(port: int) -> bool:
    """True when some socket listens on TCP `port` (read from /proc, no connection made)."""
    needle = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if (cols[1] + " ").endswith(needle) and cols[3] == "0A":
                        return True
        except FileNotFoundError:
            continue
    return False


def pick_display() -> int:
    """A display number whose port 5900+N on 127.0.0.1 was free a moment ago.

    Numbers are spread by the process id so that parallel runs rarely collide; a collision
    is caught by the start retry.
    """
    base = os.getpid() * 131
    while True:
        n = next(_display_counter)
        display = FIRST_DISPLAY + (base + n * 7) % DISPLAY_SPAN
        if tcp_port_free(5900 + display):
            return display


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (picked like a display)."""
    return 5900 + pick_display()


# --- processes -----------------------------------------------------------------------------


def wait_until(cond: Callable[[], Any], timeout: float, what: str, step: float = 0.01) -> Any:
    """Polls `cond` until it returns a true value; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(step)


def is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except FileNotFoundError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def base_argv(kind: str, console: bool = False) -> list[str]:
    """The binary and the options that every server of `kind` gets (no display, no
    defaults; QEMU without a machine, or a PC with VGA for `console`)."""
    if kind == "porthole":
        return [str(porthole_bin()), "-display", "none", "-nodefaults"]
    argv = [qemu_bin(), "-display", "none", "-nodefaults"]
    if console:
        argv += ["-machine", "pc,accel=tcg", "-vga", "std"]
    else:
        argv += ["-machine", "none"]
    return argv


@dataclass
class Server:
    """A running Porthole or QEMU with a VNC display and (usually) a QMP unix socket.

    kind: "porthole" or "qemu". For QEMU, `console=True` runs a PC with a VGA card instead
    of `-machine none`, for the commands that need a graphic console and a keyboard
    (screendump, input-send-event).
    """

    kind: str
    workdir: Path
    password: bool = False
    paused: bool = False
    name: Optional[str] = None
    console: bool = False
    qmp: Optional[str] = "unix"
    extra: list[str] = field(default_factory=list)
    stdin_pipe: bool = False
    vnc: bool = True

    proc: Optional[subprocess.Popen] = None
    display: int = 0
    argv: list[str] = field(default_factory=list)
    extra_pids: list[int] = field(default_factory=list)

    @property
    def qmp_path(self) -> Path:
        return self.workdir / f"{self.kind}-qmp.sock"

    @property
    def vnc_port(self) -> int:
        return 5900 + self.display

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"{self.kind}.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"{self.kind}.stderr"

    def base_argv(self) -> list[str]:
        return base_argv(self.kind, self.console)

    def build_argv(self) -> list[str]:
        argv = self.base_argv()
        if self.vnc:
            argv += ["-vnc", f"127.0.0.1:{self.display}" + (",password=on" if self.password else "")]
        if self.qmp == "unix":
            argv += ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if self.paused:
            argv.append("-S")
        if self.name is not None:
            argv += ["-name", self.name]
        return argv + list(self.extra)

    def start(self) -> "Server":
        """Starts the process and waits until its QMP socket and VNC port listen."""
        for attempt in range(START_ATTEMPTS):
            self.display = pick_display()
            self.argv = self.build_argv()
            if self.qmp_path.exists():
                self.qmp_path.unlink()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE if self.stdin_pipe else subprocess.DEVNULL,
                stdout=open(self.stdout_path, "wb"),
                stderr=open(self.stderr_path, "wb"),
                start_new_session=True,
                cwd=self.workdir,
            )
            if self.wait_ready():
                return self
            err = self.stderr()
            if "in use" in err and attempt + 1 < START_ATTEMPTS:
                continue
            raise AssertionError(f"{self.kind} did not start:\n{self.describe()}")
        raise AssertionError("unreachable")

    def wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            ok = True
            if self.qmp == "unix" and not is_socket(self.qmp_path):
                ok = False
            if self.vnc and not tcp_listening(self.vnc_port):
                ok = False
            if ok:
                return True
            time.sleep(0.01)
        raise AssertionError(f"{self.kind} not listening after {START_TIMEOUT} s:\n{self.describe()}")

    def wait_tcp(self, port: int) -> None:
        """Waits until something listens on TCP `port` (an extra -qmp tcp: monitor)."""
        wait_until(lambda: tcp_listening(port), START_TIMEOUT, f"a listener on port {port}")

    def stdout(self) -> str:
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def describe(self) -> str:
        rc = self.proc.poll() if self.proc else None
        return (
            f"{self.kind} argv={self.argv} exit={rc}\n"
            f"--- stdout (tail) ---\n{self.stdout()[-1500:]}\n"
            f"--- stderr (tail) ---\n{self.stderr()[-1500:]}"
        )

    def connect(self, negotiate: bool = True) -> "Qmp":
        """A `qemu.qmp` client on the QMP unix socket (negotiated unless told otherwise)."""
        return Qmp(str(self.qmp_path), negotiate=negotiate)

    def raw(self) -> "RawQmp":
        """A raw line client on the QMP unix socket, greeting read, not negotiated."""
        return RawQmp.unix(self.qmp_path)

    def wait_exit(self, timeout: float = 10.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.kind} did not exit within {timeout} s:\n{self.describe()}"
            ) from None

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """Kills the process (and any daemon it left) if still running."""
        for pid in self.extra_pids:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.stdin:
            self.proc.stdin.close()


# --- QMP: qemu.qmp ------------------------------------------------------------------------


def _message_dict(msg: Any) -> dict:
    """A plain dict copy of a qemu.qmp Message or Model (Greeting)."""
    from qemu.qmp.message import Message

    if isinstance(msg, Message):
        return json.loads(bytes(msg))
    raw = getattr(msg, "_raw", msg)
    if raw is msg:
        return json.loads(json.dumps(msg))
    return _message_dict(raw)


class QmpError(AssertionError):
    """A QMP command that was expected to succeed failed."""


class Qmp:
    """A synchronous wrapper around `qemu.qmp.QMPClient` on a private event loop."""

    def __init__(self, address: Any, negotiate: bool = True, name: str = "porthole-tests"):
        from qemu.qmp import QMPClient

        self.loop = asyncio.new_event_loop()
        self.client = QMPClient(name)
        self.client.negotiate = negotiate
        self.client.await_greeting = True
        self.backlog: list[dict] = []
        self.closed = False
        self.run(self.client.connect(address), START_TIMEOUT)

    def run(self, coro: Any, timeout: float = COMMAND_TIMEOUT) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    @property
    def greeting(self) -> dict:
        return _message_dict(self.client.greeting)

    def execute(self, command: str, arguments: Optional[dict] = None, **kwargs: Any) -> Any:
        """Runs `command` and returns its "return" value; raises QmpError on an error reply."""
        from qemu.qmp import ExecuteError

        args = dict(arguments or {}, **kwargs)
        try:
            return self.run(self.client.execute(command, args or None))
        except ExecuteError as e:
            raise QmpError(
                f"{command} {args} failed: {e.error_class}: {e.error.error.desc}"
            ) from None

    def error(self, command: str, arguments: Optional[dict] = None, **kwargs: Any) -> tuple[str, str]:
        """Runs `command`, which must fail; returns (class, desc)."""
        from qemu.qmp import ExecuteError

        args = dict(arguments or {}, **kwargs)
        try:
            value = self.run(self.client.execute(command, args or None))
        except ExecuteError as e:
            return e.error_class, e.error.error.desc
        raise AssertionError(f"{command} {args} succeeded with {value!r}, expected an error")

    def call(self, command: str, arguments: Optional[dict] = None) -> tuple:
        """Runs `command`; returns ("return", value) or ("error", class, desc)."""
        from qemu.qmp import ExecuteError

        try:
            return ("return", self.run(self.client.execute(command, arguments or None)))
        except ExecuteError as e:
            return ("error", e.error_class, e.error.error.desc)

    def send_fd(self, fd: int) -> None:
        """Sends `fd` with SCM_RIGHTS (with one space byte), as `QMPClient.send_fd_scm`."""
        self.client.send_fd_scm(fd)

    def _pull(self, timeout: float) -> Optional[dict]:
        try:
            msg = self.run(self.client.events.get(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return None
        return _message_dict(msg)

    def wait_event(
        self,
        name: str,
        timeout: float = EVENT_TIMEOUT,
        pred: Optional[Callable[[dict], bool]] = None,
    ) -> dict:
        """The first event called `name` (and matching `pred`) not consumed yet."""
        for i, ev in enumerate(self.backlog):
            if ev["event"] == name and (pred is None or pred(ev)):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            ev = self._pull(max(left, 0.001)) if left > 0 else None
            if ev is None:
                raise AssertionError(
                    f"no {name} event within {timeout} s; other events: "
                    f"{[e['event'] for e in self.backlog]}"
                )
            if ev["event"] == name and (pred is None or pred(ev)):
                return ev
            self.backlog.append(ev)

    def drain_events(self, within: float = 0.2) -> list[dict]:
        """Every event that arrives within `within` seconds, plus the unconsumed backlog."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            ev = self._pull(left)
            if ev is None:
                break
            self.backlog.append(ev)
        out, self.backlog = self.backlog, []
        return out

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.run(self.client.disconnect(), 5)
        except Exception:  # the server may be gone already: nothing left to close
            pass
        self.loop.close()


# --- QMP: raw sockets ----------------------------------------------------------------------


class RawQmp:
    """A QMP client on a plain socket: lines in, lines out, nothing hidden."""

    def __init__(self, sock: socket.socket, read_greeting: bool = True):
        self.sock = sock
        self.sock.settimeout(COMMAND_TIMEOUT)
        self.buf = b""
        self.events: list[dict] = []
        self.greeting_line = b""
        self.greeting: dict = {}
        if read_greeting:
            self.greeting_line = self.read_line()
            self.greeting = json.loads(self.greeting_line)

    @classmethod
    def unix(cls, path: Path, read_greeting: bool = True) -> "RawQmp":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(START_TIMEOUT)
        s.connect(str(path))
        return cls(s, read_greeting)

    @classmethod
    def tcp(cls, port: int) -> "RawQmp":
        s = socket.create_connection(("127.0.0.1", port), timeout=START_TIMEOUT)
        return cls(s)

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes, fds: Iterable[int] = ()) -> None:
        fds = list(fds)
        if fds:
            socket.send_fds(self.sock, [data], fds)
        else:
            self.sock.sendall(data)

    def send_json(self, obj: Any, fds: Iterable[int] = ()) -> None:
        self.send(json.dumps(obj).encode() + b"\n", fds)

    def _fill(self, timeout: float) -> bool:
        """Reads more bytes; False at end of file."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        if len(self.buf) > MAX_QMP_LINE:
            raise AssertionError(f"QMP server sent more than {MAX_QMP_LINE} bytes without a newline")
        return True

    def read_line(self, timeout: float = COMMAND_TIMEOUT) -> bytes:
        """One line including its terminator."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no complete line within {timeout} s; have {self.buf[:200]!r}")
            if not self._fill(left):
                raise EOFError(f"server closed the QMP connection; unfinished {self.buf[:200]!r}")
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def read_message(self, timeout: float = COMMAND_TIMEOUT) -> dict:
        line = self.read_line(timeout)
        assert line.endswith(b"\r\n"), f"QMP line does not end in CRLF: {line!r}"
        return json.loads(line)

    def read_pretty(self, timeout: float = COMMAND_TIMEOUT) -> tuple[dict, bytes]:
        """One possibly multi-line JSON object; returns it and its exact bytes."""
        decoder = json.JSONDecoder()
        deadline = time.monotonic() + timeout
        while True:
            text = self.buf.decode("utf-8", "replace")
            stripped = text.lstrip()
            if stripped:
                try:
                    obj, end = decoder.raw_decode(stripped)
                except json.JSONDecodeError:
                    pass
                else:
                    consumed = len(text) - len(stripped) + end
                    # Include the line terminator that follows the object.
                    raw = text[:consumed]
                    rest = text[consumed:]
                    if rest.startswith("\r\n"):
                        raw, rest = raw + "\r\n", rest[2:]
                    elif rest.startswith("\n"):
                        raw, rest = raw + "\n", rest[1:]
                    elif rest == "" or rest == "\r":
                        if not self._fill(max(deadline - time.monotonic(), 0.01)):
                            raise EOFError("server closed the QMP connection")
                        continue
                    self.buf = rest.encode()
                    return obj, raw.encode()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no complete JSON object within {timeout} s; have {self.buf[:300]!r}")
            if not self._fill(left):
                raise EOFError("server closed the QMP connection")

    def reply(self, timeout: float = COMMAND_TIMEOUT) -> dict:
        """The next message that is not an event (events are kept in `events`)."""
        while True:
            msg = self.read_message(timeout)
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def cmd(self, execute: str, arguments: Optional[dict] = None, **extra: Any) -> dict:
        """Sends one command and returns the whole reply message."""
        msg: dict = {"execute": execute}
        if arguments is not None:
            msg["arguments"] = arguments
        msg.update(extra)
        self.send_json(msg)
        return self.reply()

    def negotiate(self) -> None:
        reply = self.cmd("qmp_capabilities")
        assert reply == {"return": {}}, reply

    def expect_eof(self, timeout: float = 5.0) -> None:
        """Reads until end of file (events and replies are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open")
            try:
                if not self._fill(left):
                    return
            except ConnectionResetError:
                return


# --- RFB -----------------------------------------------------------------------------------


def _reverse_bits(b: int) -> int:
    return int(f"{b:08b}"[::-1], 2)


def vnc_des_response(password: str, challenge: bytes) -> bytes:
    """The VNC authentication response: DES-ECB of the challenge under the bit-reversed key."""
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:  # older cryptography
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    key = password.encode("latin-1")[:8].ljust(8, b"\0")
    key = bytes(_reverse_bits(b) for b in key)
    # Triple DES with the key three times is single DES.
    enc = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return enc.update(challenge) + enc.finalize()


class RfbError(AssertionError):
    pass


class Rfb:
    """A minimal RFB 3.8 client: version, security (None or VNC), ClientInit, ServerInit."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.sock.settimeout(COMMAND_TIMEOUT)
        self.server_version = b""
        self.width = self.height = 0
        self.name = ""

    @classmethod
    def tcp(cls, port: int) -> "Rfb":
        return cls(socket.create_connection(("127.0.0.1", port), timeout=COMMAND_TIMEOUT))

    def close(self) -> None:
        self.sock.close()

    def recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"RFB server closed the connection after {data!r}")
            data += chunk
        return data

    def u32(self) -> int:
        return struct.unpack(">I", self.recv_exact(4))[0]

    def string(self) -> str:
        n = self.u32()
        if n > MAX_RFB_STRING:
            raise RfbError(f"RFB string of {n} bytes exceeds {MAX_RFB_STRING}")
        return self.recv_exact(n).decode("latin-1")

    def version(self) -> bytes:
        self.server_version = self.recv_exact(12)
        if not self.server_version.startswith(b"RFB 003."):
            raise RfbError(f"bad RFB version {self.server_version!r}")
        self.sock.sendall(b"RFB 003.008\n")
        return self.server_version

    def security_types(self) -> list[int]:
        n = self.recv_exact(1)[0]
        if n == 0:
            raise RfbError(f"server refused: {self.string()}")
        return list(self.recv_exact(n))

    def authenticate(self, password: Optional[str]) -> tuple[bool, str]:
        """Chooses None (password None) or VNC auth; returns (accepted, failure reason)."""
        types = self.security_types()
        if password is None:
            if 1 not in types:
                raise RfbError(f"None authentication not offered: {types}")
            self.sock.sendall(b"\x01")
        else:
            if 2 not in types:
                raise RfbError(f"VNC authentication not offered: {types}")
            self.sock.sendall(b"\x02")
            challenge = self.recv_exact(16)
            self.sock.sendall(vnc_des_response(password, challenge))
        if self.u32() == 0:
            return True, ""
        return False, self.string()

    def init(self, shared: bool = True) -> None:
        self.sock.sendall(b"\x01" if shared else b"\x00")
        head = self.recv_exact(24)
        self.width, self.height = struct.unpack(">HH", head[:4])
        n = struct.unpack(">I", head[20:24])[0]
        if n > MAX_RFB_STRING:
            raise RfbError(f"desktop name of {n} bytes exceeds {MAX_RFB_STRING}")
        self.name = self.recv_exact(n).decode("utf-8", "replace")

    def handshake(self, password: Optional[str] = None) -> "Rfb":
        self.version()
        ok, reason = self.authenticate(password)
        if not ok:
            raise RfbError(f"authentication failed: {reason!r}")
        self.init()
        return self

    def wait_closed(self, timeout: float = EVENT_TIMEOUT) -> bool:
        """True when the server closes the connection within `timeout` (data is discarded)."""
        deadline = time.monotonic() + timeout
        # Ask for updates so that a server that only notices a dead client on write notices.
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                if not self.sock.recv(65536):
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True
            except (socket.timeout, TimeoutError):
                return False
        return False


def vnc_login(port: int, password: Optional[str]) -> tuple[bool, str]:
    """Connects, authenticates and disconnects; returns (accepted, failure reason)."""
    rfb = Rfb.tcp(port)
    try:
        rfb.version()
        ok, reason = rfb.authenticate(password)
        if ok:
            rfb.init()
        return ok, reason
    finally:
        rfb.close()


# --- real viewers --------------------------------------------------------------------------


@dataclass
class ClientRun:
    returncode: Optional[int]
    log: str
    elapsed: float


def gvnccapture(
    display: int,
    password: Optional[str],
    out: Path,
    timeout: float = CLIENT_TIMEOUT,
    env: Optional[dict[str, str]] = None,
    username: Optional[str] = None,
) -> ClientRun:
    """Runs `gvnccapture --debug 127.0.0.1:DISPLAY OUT` on a pty and types `password` at its
    prompt once it has turned echo off (typing earlier is flushed by its TCSAFLUSH); with
    `username` (VeNCrypt Plain), that goes first at its `Username:` prompt (echo on).
    gvnccapture reads each answer with a 100-byte fgets: keep them under 98 characters.

    `env`, when given, is the client's whole environment (default: ours)."""
    program = require_program("gvnccapture")
    master, slave = os.openpty()
    start = time.monotonic()
    proc = subprocess.Popen(
        [program, "--debug", f"127.0.0.1:{display}", str(out)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        close_fds=True,
        env=env,
    )
    os.close(slave)
    fl = fcntl.fcntl(master, fcntl.F_GETFL)
    fcntl.fcntl(master, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    log = b""
    typed = False
    typed_user = username is None
    try:
        while True:
            r, _, _ = select.select([master], [], [], 0.02)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    chunk = b""
                log += chunk
            if not typed_user and b"Username:" in log:
                os.write(master, username.encode() + b"\n")
                typed_user = True
            if typed_user and not typed and password is not None and b"Password:" in log:
                lflag = termios.tcgetattr(master)[3]
                if not lflag & termios.ECHO:
                    os.write(master, password.encode() + b"\n")
                    typed = True
            if proc.poll() is not None:
                # Collect what is left in the pty.
                try:
                    while chunk := os.read(master, 65536):
                        log += chunk
                except OSError:
                    pass
                break
            if time.monotonic() - start > timeout:
                proc.kill()
                proc.wait()
                raise AssertionError(
                    f"gvnccapture did not finish within {timeout} s:\n{log.decode(errors='replace')[-3000:]}"
                )
    finally:
        os.close(master)
    return ClientRun(proc.returncode, log.decode(errors="replace"), time.monotonic() - start)


def vncdo_start(port: int, password: Optional[str], *actions: str) -> subprocess.Popen:
    """Starts `vncdo -s 127.0.0.1::PORT [-p PW] ACTIONS...` with output captured."""
    program = require_program("vncdo")
    argv = [program, "-s", f"127.0.0.1::{port}", "-t", "8"]
    if password is not None:
        argv += ["-p", password]
    return subprocess.Popen(
        argv + list(actions),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def vncdo(port: int, password: Optional[str], *actions: str, timeout: float = CLIENT_TIMEOUT) -> ClientRun:
    start = time.monotonic()
    proc = vncdo_start(port, password, *actions)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"vncdo did not finish within {timeout} s:\n{out.decode(errors='replace')}")
    return ClientRun(proc.returncode, out.decode(errors="replace"), time.monotonic() - start)


# --- images --------------------------------------------------------------------------------


def read_ppm(path: Path) -> tuple[int, int, bytes]:
    """Parses a binary PPM (P6, maxval 255) as QEMU's screendump writes it."""
    data = path.read_bytes()
    parts = data.split(b"\n", 3)
    assert parts[0] == b"P6", f"not a P6 PPM: {data[:20]!r}"
    w, h = (int(x) for x in parts[1].split())
    assert parts[2] == b"255", f"maxval {parts[2]!r}"
    pixels = parts[3]
    assert len(pixels) == w * h * 3, f"{len(pixels)} pixel bytes for {w}x{h}"
    return w, h, pixels


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"not a PNG: {data[:8]!r}"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# --- shapes --------------------------------------------------------------------------------


def json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    raise TypeError(f"not a JSON value: {v!r}")


def shape_key(v: Any) -> Any:
    """A hashable description of a value's shape: member names and JSON types, recursively.

    Arrays are described by the set of their elements' shapes.
    """
    t = json_type(v)
    if t == "object":
        return ("object", tuple(sorted((k, shape_key(x)) for k, x in v.items())))
    if t == "array":
        return ("array", frozenset(shape_key(x) for x in v))
    return t


def _key_diff(ours: Any, theirs: Any, path: str, allow_missing: set, allow_extra: set) -> list[str]:
    if isinstance(ours, str) or isinstance(theirs, str):
        return [] if ours == theirs else [f"{path}: {describe_key(ours)} vs QEMU {describe_key(theirs)}"]
    if ours[0] != theirs[0]:
        return [f"{path}: {ours[0]} vs QEMU {theirs[0]}"]
    if ours[0] == "object":
        a, b = dict(ours[1]), dict(theirs[1])
        out = []
        for k in sorted(set(b) - set(a)):
            if f"{path}.{k}" not in allow_missing:
                out.append(f"{path}.{k}: missing (QEMU has it)")
        for k in sorted(set(a) - set(b)):
            if f"{path}.{k}" not in allow_extra:
                out.append(f"{path}.{k}: extra (QEMU does not have it)")
        for k in sorted(set(a) & set(b)):
            out += _key_diff(a[k], b[k], f"{path}.{k}", allow_missing, allow_extra)
        return out
    # arrays
    a, b = ours[1], theirs[1]
    if not a and not b:
        return []
    if not a or not b:
        return [f"{path}: {'empty' if not a else 'non-empty'} array vs QEMU {'empty' if not b else 'non-empty'}"]
    out = []
    for elem in sorted(a, key=repr):
        best: Optional[list[str]] = None
        for other in b:
            d = _key_diff(elem, other, f"{path}[]", allow_missing, allow_extra)
            if best is None or len(d) < len(best):
                best = d
            if not d:
                break
        out += best or []
    return sorted(set(out))


def describe_key(k: Any) -> str:
    if isinstance(k, str):
        return k
    return k[0]


def shape_diff(
    ours: Any,
    theirs: Any,
    path: str = "$",
    allow_missing: Iterable[str] = (),
    allow_extra: Iterable[str] = (),
) -> list[str]:
    """Differences in shape between `ours` (Porthole) and `theirs` (QEMU).

    Objects must have the same member names (except paths in `allow_missing`, members
    QEMU has and Porthole deliberately lacks, and `allow_extra`), members the same JSON
    types, recursively. Every element of one of our arrays must have the shape of some
    element of QEMU's; an empty array only matches an empty array. Paths look like
    `$.server[].auth`.
    """
    return _key_diff(shape_key(ours), shape_key(theirs), path, set(allow_missing), set(allow_extra))
