"""Monitor transports (-qmp unix/tcp/stdio, -chardev + -mon, pretty) and the process life
cycle: -S, quit, SIGTERM/SIGINT, -pidfile, -daemonize."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import time

import pytest

import harness
from harness import Rfb, RawQmp


# --- transports ---------------------------------------------------------------------------


def test_qmp_over_tcp_with_qemu_qmp(start_server, open_qmp):
    port = harness.free_tcp_port()
    s = start_server(qmp=None, extra=["-qmp", f"tcp:127.0.0.1:{port},server=on,wait=off"])
    s.wait_tcp(port)
    qmp = open_qmp(("127.0.0.1", port))
    assert qmp.execute("query-status")["running"] is True
    qmp.execute("stop")
    qmp.wait_event("STOP")


def test_chardev_socket_with_mon_control(start_server, open_qmp, tmp_path):
    path = tmp_path / "mon.sock"
    s = start_server(qmp=None, extra=["-chardev", f"socket,id=qmp0,path={path},server=on,wait=off",
                                      "-mon", "chardev=qmp0,mode=control"])
    harness.wait_until(lambda: harness.is_socket(path), 5, "the -chardev socket")
    qmp = open_qmp(str(path))
    assert qmp.execute("query-chardev")[0]["label"] == "qmp0"
    assert s.proc.poll() is None


def test_reconnecting_starts_a_new_session(server, open_qmp):
    first = open_qmp(server)
    first.execute("stop")
    first.close()
    raw = server.raw()
    # A new connection gets a new greeting and must negotiate again.
    assert "QMP" in raw.greeting
    assert raw.cmd("query-status")["error"]["class"] == "CommandNotFound"
    raw.negotiate()
    assert raw.cmd("query-status")["return"]["status"] == "paused"
    raw.close()
    again = open_qmp(server)
    assert again.execute("query-status")["status"] == "paused"


def spawn_stdio(kind: str, workdir, extra: list[str]) -> subprocess.Popen:
    argv = harness.base_argv(kind) + ["-vnc", f"127.0.0.1:{harness.pick_display()}"] + extra
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=open(workdir / "stderr", "wb"), cwd=workdir,
                            start_new_session=True)


class PipeQmp(RawQmp):
    """RawQmp over a child's stdin/stdout."""

    def __init__(self, proc: subprocess.Popen, pretty: bool = False):
        self.proc = proc
        self.rfd = proc.stdout.fileno()
        os.set_blocking(self.rfd, False)
        self.buf = b""
        self.events = []
        if pretty:
            self.greeting, self.greeting_line = self.read_pretty()
        else:
            self.greeting_line = self.read_line()
            self.greeting = json.loads(self.greeting_line)

    def send(self, data: bytes, fds=()) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _fill(self, timeout: float) -> bool:
        r, _, _ = select.select([self.rfd], [], [], timeout)
        if not r:
            return True
        data = os.read(self.rfd, 65536)
        if not data:
            return False
        self.buf += data
        return True


@pytest.fixture
def kill_later():
    procs: list[subprocess.Popen] = []
    yield procs.append
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(5)


def test_qmp_on_stdio(tmp_path, kill_later):
    proc = spawn_stdio(harness.target(), tmp_path, ["-qmp", "stdio"])
    kill_later(proc)
    qmp = PipeQmp(proc)
    assert qmp.greeting_line.endswith(b"\r\n")
    qmp.negotiate()
    assert "return" in qmp.cmd("query-status", id="s")
    qmp.send_json({"execute": "quit", "id": "q"})
    proc.wait(10)
    assert proc.returncode == 0
    rest = qmp.buf + proc.stdout.read()
    messages = [json.loads(line) for line in rest.split(b"\r\n") if line.strip()]
    shutdown = [m for m in messages if m.get("event") == "SHUTDOWN"]
    assert shutdown and shutdown[0]["data"] == {"guest": False, "reason": "host-qmp-quit"}, messages


def check_pretty(raw_bytes: bytes) -> None:
    """Pretty output: several lines, each ending in CRLF, indented by four spaces a level."""
    assert raw_bytes.endswith(b"}\r\n"), raw_bytes
    lines = raw_bytes[:-2].split(b"\r\n")
    assert len(lines) > 2, raw_bytes
    assert lines[0] == b"{" and lines[-1] == b"}", raw_bytes
    assert b"\n" not in raw_bytes.replace(b"\r\n", b""), raw_bytes
    for line in lines[1:-1]:
        indent = len(line) - len(line.lstrip(b" "))
        assert indent % 4 == 0 and indent > 0, raw_bytes


@pytest.mark.parametrize("how", ["mon-pretty", "qmp-pretty"])
def test_pretty_printed_monitor(start_server, tmp_path, how):
    path = tmp_path / "pretty.sock"
    if how == "mon-pretty":
        extra = ["-chardev", f"socket,id=p0,path={path},server=on,wait=off",
                 "-mon", "chardev=p0,mode=control,pretty=on"]
    else:
        extra = ["-qmp-pretty", f"unix:{path},server=on,wait=off"]
    start_server(qmp=None, extra=extra)
    harness.wait_until(lambda: harness.is_socket(path), 5, "the pretty monitor socket")
    raw = RawQmp.unix(path, read_greeting=False)
    greeting, text = raw.read_pretty()
    check_pretty(text)
    assert set(greeting["QMP"]) == {"version", "capabilities"}
    assert b'\r\n    "QMP": {\r\n        "version": {\r\n' in text, text
    raw.send_json({"execute": "qmp_capabilities"})
    msg, text = raw.read_pretty()
    assert msg == {"return": {}}, msg
    raw.send_json({"execute": "query-status", "id": 7})
    msg, text = raw.read_pretty()
    assert msg["id"] == 7 and msg["return"]["running"] is True, msg
    check_pretty(text)
    raw.send_json({"execute": "stop"})
    seen = [raw.read_pretty(), raw.read_pretty()]
    events = [m for m, _ in seen if "event" in m]
    assert [e["event"] for e in events] == ["STOP"], seen
    check_pretty([t for m, t in seen if "event" in m][0])
    raw.close()


# --- run state at start -------------------------------------------------------------------


def test_start_paused_then_cont(start_server, open_qmp):
    s = start_server(paused=True)
    qmp = open_qmp(s)
    status = qmp.execute("query-status")
    assert (status["running"], status["status"]) == (False, "prelaunch"), status
    assert qmp.execute("human-monitor-command", **{"command-line": "info status"}) == \
        "VM status: paused (prelaunch)\r\n"
    # VNC serves while paused.
    rfb = Rfb.tcp(s.vnc_port).handshake(None)
    assert rfb.width >= 320
    rfb.close()
    qmp.execute("cont")
    qmp.wait_event("RESUME")
    assert qmp.execute("query-status")["status"] == "running"
    qmp.execute("stop")
    qmp.wait_event("STOP")
    assert qmp.execute("query-status")["status"] == "paused"
    qmp.execute("cont")
    qmp.wait_event("RESUME")
    assert qmp.execute("query-status")["running"] is True
    # There was no STOP for the prelaunch state itself, and no extra events.
    others = [e["event"] for e in qmp.drain_events(0.2) if not e["event"].startswith("VNC_")]
    assert others == [], others


# --- shutting down ------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_sends_shutdown_and_exits_0(start_server, open_qmp, sig):
    s = start_server()
    qmp = open_qmp(s)
    s.signal(sig)
    ev = qmp.wait_event("SHUTDOWN")
    assert ev["data"] == {"guest": False, "reason": "host-signal"}, ev
    assert s.wait_exit() == 0, s.describe()
    assert not s.qmp_path.exists(), "the QMP socket was left behind"


def test_quit_sends_shutdown_and_exits_0(server):
    raw = server.raw()
    raw.negotiate()
    raw.send_json({"execute": "quit", "id": "bye"})
    raw.expect_eof()
    messages = [json.loads(line) for line in raw.buf.split(b"\r\n") if line.strip()]
    shutdown = [m for m in raw.events + messages if m.get("event") == "SHUTDOWN"]
    assert len(shutdown) == 1, messages
    assert shutdown[0]["data"] == {"guest": False, "reason": "host-qmp-quit"}
    replies = [m for m in messages if "event" not in m]
    # The reply may be lost when the process exits first; when sent, it is the right one.
    assert replies in ([], [{"return": {}, "id": "bye"}]), replies
    assert server.wait_exit() == 0, server.describe()
    assert not server.qmp_path.exists()


def test_pidfile_is_locked_and_removed(start_server, tmp_path):
    pidfile = tmp_path / "vm.pid"
    s = start_server(extra=["-pidfile", str(pidfile)])
    assert pidfile.read_text() == f"{s.proc.pid}\n"
    # A second process with the same pidfile fails and leaves the file alone.
    second = subprocess.run(
        harness.base_argv(s.kind) + ["-vnc", f"127.0.0.1:{harness.pick_display()}",
                                     "-pidfile", str(pidfile)],
        capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert second.returncode == 1, second
    assert "pid" in second.stderr.lower(), second.stderr
    assert pidfile.read_text() == f"{s.proc.pid}\n"
    s.signal(signal.SIGTERM)
    assert s.wait_exit() == 0
    assert not pidfile.exists(), "the pidfile was left behind"


@pytest.fixture
def daemons():
    pids: list[int] = []
    yield pids
    for pid in pids:
        if harness.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def run_daemonize(tmp_path, extra: list[str]) -> tuple[subprocess.Popen, float]:
    proc = subprocess.Popen(
        harness.base_argv(harness.target()) + ["-daemonize"] + extra,
        stdin=subprocess.DEVNULL, stdout=open(tmp_path / "out", "wb"),
        stderr=open(tmp_path / "err", "wb"), cwd=tmp_path)
    start = time.monotonic()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the -daemonize parent did not exit within 10 s")
    return proc, time.monotonic() - start


def test_daemonize_parent_exits_when_listeners_are_ready(tmp_path, daemons, open_qmp):
    pidfile, sock = tmp_path / "d.pid", tmp_path / "d.sock"
    display = harness.pick_display()
    proc, _ = run_daemonize(tmp_path, [
        "-vnc", f"127.0.0.1:{display}", "-pidfile", str(pidfile),
        "-qmp", f"unix:{sock},server=on,wait=off"])
    err = (tmp_path / "err").read_text()
    assert proc.returncode == 0, err
    assert pidfile.exists(), "no pidfile when the parent exited"
    pid = int(pidfile.read_text())
    daemons.append(pid)
    # Everything listens the moment the parent is gone: no waiting here.
    assert harness.is_socket(sock), "QMP socket not ready when the parent exited"
    assert harness.tcp_listening(5900 + display), "VNC not listening when the parent exited"
    assert pid != proc.pid and harness.pid_alive(pid)
    # The daemon's standard streams are detached.
    for fd in (0, 1, 2):
        assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null", fd
    qmp = open_qmp(str(sock))
    assert qmp.execute("query-status")["running"] is True
    os.kill(pid, signal.SIGTERM)
    qmp.wait_event("SHUTDOWN")
    harness.wait_until(lambda: not harness.pid_alive(pid), 5, "the daemon to exit")
    assert not pidfile.exists() and not sock.exists()


def test_daemonize_startup_error_reaches_the_parent(tmp_path, daemons):
    display = harness.pick_display()
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 5900 + display))
    busy.listen()
    pidfile = tmp_path / "d.pid"
    try:
        proc, _ = run_daemonize(tmp_path, ["-vnc", f"127.0.0.1:{display}", "-pidfile", str(pidfile)])
    finally:
        busy.close()
    err = (tmp_path / "err").read_text()
    assert proc.returncode == 1, err
    assert "Address already in use" in err, err
    time.sleep(0.2)
    if pidfile.exists():
        daemons.append(int(pidfile.read_text() or 0))
        raise AssertionError("a pidfile (and maybe a daemon) was left after a failed start")


def test_daemonize_with_stdio_is_refused(tmp_path, daemons):
    proc, _ = run_daemonize(tmp_path, ["-vnc", f"127.0.0.1:{harness.pick_display()}",
                                       "-qmp", "stdio"])
    err = (tmp_path / "err").read_text()
    assert proc.returncode == 1, err
    assert "cannot use stdio with -daemonize" in err, err
