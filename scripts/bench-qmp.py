#!/usr/bin/env python3
"""QMP round trip and throughput, Porthole side by side with QEMU 7.2 (issue #3).

    python3 scripts/bench-qmp.py [--porthole target/release/porthole] [-n 2000] [--rounds 5]

Starts one Porthole and one QEMU (`-machine none -display none -nodefaults -vnc
127.0.0.1:N -qmp unix:PATH,server=on,wait=off`), negotiates with a plain socket client (not
qemu.qmp, so that the figures are the servers' and not a client library's) and measures
over the UNIX socket:

- round trip: `query-status` sent, its reply read, one at a time; p50 and p99 in µs;
- serial throughput: commands per second from those round trips;
- pipelined throughput: commands per second when one client writes a batch of
  `query-status` without waiting and reads the replies as they come.

The two servers are measured in interleaved rounds (Porthole, QEMU, Porthole, ...) so that
both see the same machine load; each figure is over all rounds. Everything talks to
loopback only, and every loop is bounded by -n and --rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Upper bound on commands per measurement, whatever the options say.
MAX_COMMANDS = 200_000
#: Longest reply line accepted.
MAX_LINE = 1 << 20
#: How long a server may take to listen.
START_TIMEOUT = 10.0
#: How long any single read may block.
READ_TIMEOUT = 10.0
QUERY = b'{"execute":"query-status"}\n'


class Client:
    """A line-based QMP client on a UNIX socket."""

    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(READ_TIMEOUT)
        self.sock.connect(str(path))
        self.buf = b""
        greeting = json.loads(self.line())
        assert "QMP" in greeting, greeting
        self.sock.sendall(b'{"execute":"qmp_capabilities"}\n')
        assert json.loads(self.line()) == {"return": {}}

    def line(self) -> bytes:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[: i + 1], self.buf[i + 1 :]
                return line
            if len(self.buf) > MAX_LINE:
                raise RuntimeError("reply line too long")
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("server closed the QMP connection")
            self.buf += data

    def reply(self) -> bytes:
        """The next non-event line."""
        while True:
            line = self.line()
            if not line.startswith(b'{"timestamp"') and b'"event"' not in line:
                return line

    def round_trips(self, n: int) -> list[int]:
        """n serial query-status round trips; returns each one's nanoseconds."""
        out = []
        clock = time.perf_counter_ns
        for _ in range(n):
            t0 = clock()
            self.sock.sendall(QUERY)
            line = self.reply()
            out.append(clock() - t0)
            if b'"return"' not in line:
                raise RuntimeError(f"unexpected reply {line!r}")
        return out

    def pipelined(self, n: int) -> float:
        """Writes n query-status at once (from a thread) and reads n replies; seconds taken."""
        payload = QUERY * n
        error: list[BaseException] = []

        def write() -> None:
            try:
                self.sock.sendall(payload)
            except BaseException as e:  # reported by the reader below
                error.append(e)

        t0 = time.perf_counter()
        writer = threading.Thread(target=write)
        writer.start()
        for _ in range(n):
            line = self.reply()
            if b'"return"' not in line:
                raise RuntimeError(f"unexpected reply {line!r}")
        elapsed = time.perf_counter() - t0
        writer.join(READ_TIMEOUT)
        if error:
            raise error[0]
        return elapsed

    def close(self) -> None:
        self.sock.close()


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_display(start: int) -> int:
    for d in range(start, start + 500):
        if port_free(5900 + d):
            return d
    raise RuntimeError("no free display number")


class Server:
    def __init__(self, name: str, argv: list[str], workdir: Path, display: int):
        self.name = name
        self.sock = workdir / f"{name}.sock"
        self.argv = argv + ["-display", "none", "-nodefaults", "-vnc", f"127.0.0.1:{display}",
                            "-qmp", f"unix:{self.sock},server=on,wait=off"]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.proc.stderr.read().decode()}")
            try:
                # The path can exist a moment before the socket listens.
                self.client = Client(self.sock)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not listen on {self.sock}") from None
                time.sleep(0.01)

    def version(self) -> str:
        self.client.sock.sendall(b'{"execute":"query-version"}\n')
        v = json.loads(self.client.reply())["return"]["qemu"]
        return f"{v['major']}.{v['minor']}.{v['micro']}"

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--porthole", default=os.environ.get("PORTHOLE_BIN")
                    or str(REPO / "target" / "release" / "porthole"))
    ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64") or "qemu-system-x86_64")
    ap.add_argument("-n", type=int, default=2000, help="round trips per server (default 2000)")
    ap.add_argument("--pipelined", type=int, default=5000,
                    help="commands per pipelined batch per server (default 5000)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    if not 1 <= args.n <= MAX_COMMANDS or not 1 <= args.pipelined <= MAX_COMMANDS:
        ap.error(f"-n and --pipelined must be between 1 and {MAX_COMMANDS}")
    if not 1 <= args.rounds <= 100:
        ap.error("--rounds must be between 1 and 100")
    if not Path(args.porthole).is_file():
        ap.error(f"{args.porthole} not found: cargo build --release -p porthole")
    if not shutil.which(args.qemu):
        ap.error(f"{args.qemu} not found (apt-get install qemu-system-x86)")

    per_round = max(1, args.n // args.rounds)
    pipe_round = max(1, args.pipelined // args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-qmp-") as tmp:
        workdir = Path(tmp)
        d = pick_display(5400)
        servers = [
            Server("porthole", [args.porthole], workdir, d),
            Server("qemu", [args.qemu, "-machine", "none"], workdir, pick_display(d + 1)),
        ]
        try:
            versions = {s.name: s.version() for s in servers}
            # Warm-up: page in code paths, fill caches.
            for s in servers:
                s.client.round_trips(200)
            rtt = {s.name: [] for s in servers}
            serial_time = {s.name: 0.0 for s in servers}
            pipe_time = {s.name: 0.0 for s in servers}
            for _ in range(args.rounds):
                for s in servers:
                    t0 = time.perf_counter()
                    rtt[s.name] += s.client.round_trips(per_round)
                    serial_time[s.name] += time.perf_counter() - t0
                for s in servers:
                    pipe_time[s.name] += s.client.pipelined(pipe_round)
        finally:
            for s in servers:
                s.stop()

    figures = {}
    for name in rtt:
        figures[name] = {
            "version": versions[name],
            "round_trips": len(rtt[name]),
            "p50_us": percentile(rtt[name], 0.50) / 1000,
            "p99_us": percentile(rtt[name], 0.99) / 1000,
            "mean_us": statistics.fmean(rtt[name]) / 1000,
            "serial_per_s": len(rtt[name]) / serial_time[name],
            "pipelined_per_s": pipe_round * args.rounds / pipe_time[name],
        }
    p, q = figures["porthole"], figures["qemu"]
    rows = [
        ("query-status round trip p50 (µs)", "p50_us", "{:.1f}"),
        ("query-status round trip p99 (µs)", "p99_us", "{:.1f}"),
        ("commands/s, one client, serial", "serial_per_s", "{:,.0f}"),
        ("commands/s, one client, pipelined", "pipelined_per_s", "{:,.0f}"),
    ]
    print(f"QMP over a UNIX socket: {p['round_trips']} round trips and "
          f"{pipe_round * args.rounds} pipelined commands per server, {args.rounds} "
          f"interleaved rounds")
    print(f"| figure | Porthole {p['version']} | QEMU {q['version']} | ratio Porthole/QEMU |")
    print("|---|---:|---:|---:|")
    for label, key, fmt in rows:
        print(f"| {label} | {fmt.format(p[key])} | {fmt.format(q[key])} | {p[key] / q[key]:.2f} |")
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
