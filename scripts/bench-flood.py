#!/usr/bin/env python3
"""Fairness figure: what a client that floods FramebufferUpdateRequests and never reads its
socket costs an ordinary viewer.

For each workload and run (interleaved) it starts Porthole's bench guest twice, once alone and
once with the flooder connected, and measures an ordinary libvncclient viewer with the
benchmark harness's client (built by scripts/bench-graphics.sh in target/bench):

    python3 scripts/bench-flood.py [--porthole target/release/porthole] [--runs 3]
                                   [--workloads full,box] [--seconds 10]

Prints one line per measurement and the medians (updates/s, p50 and p99 latency).
"""

import argparse
import re
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DISPLAY = 78


def flood(port: int, stop: threading.Event) -> None:
    """Handshakes (security None), then sends full-screen requests and never reads."""
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(12)
    s.sendall(b"RFB 003.008\n")
    n = s.recv(1)[0]
    s.recv(n)
    s.sendall(b"\x01")
    s.recv(4)
    s.sendall(b"\x01")
    init = b""
    while len(init) < 24:
        init += s.recv(24 - len(init))
    width, height = struct.unpack(">HH", init[:4])
    batch = struct.pack(">BBHHHH", 3, 0, 0, 0, width, height) * 256
    s.setblocking(False)
    while not stop.is_set():
        try:
            s.send(batch)
        except BlockingIOError:
            time.sleep(0.001)
    s.close()


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never listened")


def measure(porthole: str, vncbench: str, workload: str, seconds: int, flooded: bool) -> dict:
    port = 5900 + DISPLAY
    guest = f"bench,workload={workload},width=1024,height=768,fps=60"
    server = subprocess.Popen(
        [porthole, "-display", "none", "-nodefaults", "-vnc", f"127.0.0.1:{DISPLAY}", "-guest", guest],
        stdin=subprocess.DEVNULL,
    )
    stop = threading.Event()
    flooder = None
    try:
        wait_port(port)
        if flooded:
            flooder = threading.Thread(target=flood, args=(port, stop), daemon=True)
            flooder.start()
            time.sleep(0.5)
        out = subprocess.run(
            [vncbench, "-e", "raw", "-d", str(seconds), "-w", "1", "-x", "1024x768",
             f"127.0.0.1:{DISPLAY}"],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=10)
        if flooder:
            flooder.join(timeout=5)
    result = re.search(r"^RESULT .*$", out, re.M)
    if not result:
        raise RuntimeError(f"no RESULT line from vncbench:\n{out}")
    fields = dict(kv.split("=", 1) for kv in result.group(0).split()[1:] if "=" in kv)
    return {k: float(fields[k]) for k in ("ups", "lat_p50", "lat_p99")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--porthole", default=str(ROOT / "target/release/porthole"))
    ap.add_argument("--vncbench", default=str(ROOT / "target/bench/client/vncbench"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workloads", default="full,box")
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    if not Path(a.vncbench).exists():
        print(f"{a.vncbench} is missing: run scripts/bench-graphics.sh first", file=sys.stderr)
        return 1
    rows: dict = {}
    for run in range(1, a.runs + 1):
        for wl in a.workloads.split(","):
            for flooded in (False, True):
                r = measure(a.porthole, a.vncbench, wl, a.seconds, flooded)
                rows.setdefault((wl, flooded), []).append(r)
                tag = "with flooder" if flooded else "alone"
                print(f"{wl} {tag} run {run}: ups={r['ups']:.2f} p50={r['lat_p50']:.2f} ms "
                      f"p99={r['lat_p99']:.2f} ms", flush=True)
    print("\n| workload | viewer | ups | p50 ms | p99 ms |\n|---|---|---:|---:|---:|")
    for (wl, flooded), rs in rows.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("ups", "lat_p50", "lat_p99")}
        tag = "with flooder" if flooded else "alone"
        print(f"| {wl} | {tag} | {med['ups']:.1f} | {med['lat_p50']:.1f} | {med['lat_p99']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
