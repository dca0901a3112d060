#!/usr/bin/env python3
"""Start-up and memory figures for Porthole, side by side with QEMU in the same run.

For each server and run: time from spawn until the VNC port accepts a connection, resident
memory (VmRSS) when idle, and VmRSS with N idle clients connected (each through the RFB
handshake to ServerInit, then silent). Prints medians and the Porthole/QEMU ratios.

  python3 scripts/measure.py --porthole target/release/porthole [--qemu qemu-system-x86_64]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import time

BASE_PORT = 5900


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_port(port, proc, timeout=20.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return time.monotonic()
        except OSError:
            time.sleep(0.001)
    raise RuntimeError("server did not listen in time")


def handshake(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    def recv(n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                raise RuntimeError("closed during handshake")
            b += chunk
        return b
    assert recv(12).startswith(b"RFB 003.")
    s.sendall(b"RFB 003.008\n")
    n = recv(1)[0]
    types = recv(n)
    assert 1 in types, types
    s.sendall(b"\x01")
    assert recv(4) == b"\0\0\0\0"
    s.sendall(b"\x01")  # shared
    hdr = recv(24)
    recv(int.from_bytes(hdr[20:24], "big"))
    return s


def run_one(cmd, display, clients):
    port = BASE_PORT + display
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        t1 = wait_port(port, proc)
        time.sleep(1.0)
        idle = rss_kib(proc.pid)
        socks = [handshake(port) for _ in range(clients)]
        time.sleep(1.0)
        loaded = rss_kib(proc.pid)
        alive = 0
        for s in socks:  # each client must still be served: ask for a 1x1 update
            try:
                s.sendall(bytes([3, 0, 0, 0, 0, 0, 0, 1, 0, 1]))
                if len(s.recv(64)) > 0:
                    alive += 1
            except OSError:
                pass
        for s in socks:
            s.close()
        return {"startup_ms": (t1 - t0) * 1000, "idle_kib": idle, "clients_kib": loaded, "alive": alive}
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--porthole", default="target/release/porthole")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--display", type=int, default=71)
    a = ap.parse_args()
    conn = a.clients + 8
    servers = {
        "porthole": lambda d: [a.porthole, "-vnc", f"127.0.0.1:{d},connections={conn}", "-display", "none"],
    }
    if a.qemu:
        servers["qemu"] = lambda d: [a.qemu, "-machine", "pc,accel=tcg", "-vga", "std", "-m", "32",
                                     "-nodefaults", "-display", "none", "-no-user-config",
                                     "-vnc", f"127.0.0.1:{d},connections={conn}"]
    results = {k: [] for k in servers}
    for run in range(a.runs):  # interleaved runs
        for name, mk in servers.items():
            results[name].append(run_one(mk(a.display), a.display, a.clients))
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in results.items()}
    print(f"runs={a.runs} clients={a.clients} (medians)")
    print(f"{'server':10} {'served':>6} {'start→listen ms':>16} {'idle RSS MiB':>13} {'RSS +%d clients MiB' % a.clients:>22} {'per client KiB':>15}")
    for k, m in med.items():
        per = (m["clients_kib"] - m["idle_kib"]) / a.clients
        print(f"{k:10} {m['alive']:6.0f} {m['startup_ms']:16.1f} {m['idle_kib'] / 1024:13.1f} {m['clients_kib'] / 1024:22.1f} {per:15.1f}")
    if "qemu" in med:
        p, q = med["porthole"], med["qemu"]
        print("ratios porthole/qemu: start %.2f, idle RSS %.2f, RSS with clients %.2f" % (
            p["startup_ms"] / q["startup_ms"], p["idle_kib"] / q["idle_kib"], p["clients_kib"] / q["clients_kib"]))


if __name__ == "__main__":
    main()
