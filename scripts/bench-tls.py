#!/usr/bin/env python3
"""TLS cost on the VNC port: handshake time and Raw update throughput, TLS vs plain TCP.

Starts each server twice (plain `-vnc`, and VeNCrypt X509None with scripts/mkcerts.sh
credentials), interleaved, for Porthole and (if installed) QEMU 7.2 in the same run. A
Python client (ssl module, CA-verified) measures: connect → ServerInit time, the TLS
handshake alone, and MB/s of non-incremental full-screen Raw updates (32 bpp).

  python3 scripts/bench-tls.py --porthole target/release/porthole [--qemu qemu-system-x86_64]
"""
import argparse
import os
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def recv(s, n):
    b = bytearray()
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise RuntimeError("closed")
        b += c
    return bytes(b)


_CTX = {}


def tls_context(cafile):
    """One client context per CA file, built outside the timed region (loading a CA store
    costs milliseconds of client time)."""
    if cafile not in _CTX:
        _CTX[cafile] = ssl.create_default_context(cafile=cafile)
    return _CTX[cafile]


def connect(port, cafile):
    """RFB 3.8 to ServerInit; returns (sock, w, h, total_s, tls_s)."""
    ctx = tls_context(cafile) if cafile else None
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    recv(s, 12)
    s.sendall(b"RFB 003.008\n")
    types = recv(s, recv(s, 1)[0])
    tls_s = 0.0
    if cafile:
        assert 19 in types, types
        s.sendall(b"\x13")
        assert recv(s, 2) == b"\x00\x02"
        s.sendall(b"\x00\x02")
        assert recv(s, 1) == b"\x00"
        n = recv(s, 1)[0]
        subs = struct.unpack(f">{n}I", recv(s, 4 * n))
        assert 260 in subs, subs
        s.sendall(struct.pack(">I", 260))
        assert recv(s, 1) == b"\x01"
        t1 = time.perf_counter()
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        tls_s = time.perf_counter() - t1
    else:
        assert 1 in types, types
        s.sendall(b"\x01")
    assert recv(s, 4) == b"\0\0\0\0"
    s.sendall(b"\x01")
    hdr = recv(s, 24)
    w, h = struct.unpack(">HH", hdr[:4])
    recv(s, struct.unpack(">I", hdr[20:24])[0])
    # native 32 bpp little-endian true colour, Raw only
    s.sendall(b"\x00\x00\x00\x00" + bytes([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]))
    s.sendall(struct.pack(">BxHi", 2, 1, 0))
    return s, w, h, time.perf_counter() - t0, tls_s


def full_update(s, w, h):
    s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))
    total = 0
    while True:
        t = recv(s, 1)[0]
        if t != 0:
            raise RuntimeError(f"message type {t}")
        recv(s, 1)
        n = struct.unpack(">H", recv(s, 2))[0]
        for _ in range(n):
            x, y, rw, rh, enc = struct.unpack(">HHHHi", recv(s, 12))
            if enc == 0:
                recv(s, rw * rh * 4)
                total += rw * rh * 4
        if total >= w * h * 4:
            return total


def wait_port(port, proc):
    for _ in range(2000):
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("no listener")


def run(cmd, port, cafile, frames, conns):
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        time.sleep(1.5)  # let a booting guest settle
        totals, tlss = [], []
        for _ in range(conns):
            s, w, h, tot, tl = connect(port, cafile)
            totals.append(tot)
            tlss.append(tl)
            s.close()
        s, w, h, _, _ = connect(port, cafile)
        full_update(s, w, h)  # warm-up
        t0 = time.perf_counter()
        nbytes = sum(full_update(s, w, h) for _ in range(frames))
        mbs = nbytes / (time.perf_counter() - t0) / 1e6
        s.close()
        return statistics.median(totals) * 1e3, statistics.median(tlss) * 1e3, mbs
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--porthole", default=os.path.join(ROOT, "target/release/porthole"))
    ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--conns", type=int, default=20)
    a = ap.parse_args()
    pki = tempfile.mkdtemp(prefix="bench-tls-")
    subprocess.run(["bash", os.path.join(ROOT, "scripts/mkcerts.sh"), "--force", pki], check=True, stdout=subprocess.DEVNULL)
    ca = os.path.join(pki, "ca-cert.pem")
    obj = f"tls-creds-x509,id=tls0,dir={pki}/server,endpoint=server,verify-peer=off"
    d = 75
    servers = {"porthole": lambda tls: [a.porthole, "-display", "none"] + (["-object", obj] if tls else [])
               + ["-vnc", f"127.0.0.1:{d}" + (",tls-creds=tls0" if tls else "")]}
    if a.qemu:
        servers["qemu"] = lambda tls: [a.qemu, "-machine", "pc,accel=tcg", "-vga", "std", "-m", "32", "-nodefaults",
                                       "-display", "none", "-no-user-config"] + (["-object", obj] if tls else []) \
            + ["-vnc", f"127.0.0.1:{d}" + (",tls-creds=tls0" if tls else "")]
    res = {}
    for _ in range(a.runs):
        for name, mk in servers.items():
            for tls in (False, True):
                res.setdefault((name, tls), []).append(run(mk(tls), 5900 + d, ca if tls else None, a.frames, a.conns))
    print(f"runs={a.runs} frames={a.frames} conns={a.conns} (medians)")
    print(f"{'server':9} {'transport':9} {'connect→ServerInit ms':>22} {'TLS handshake ms':>17} {'Raw MB/s':>9}")
    med = {}
    for (name, tls), rows in res.items():
        m = tuple(statistics.median(r[i] for r in rows) for i in range(3))
        med[(name, tls)] = m
        print(f"{name:9} {'TLS' if tls else 'plain':9} {m[0]:22.2f} {m[1]:17.2f} {m[2]:9.1f}")
    for name in servers:
        p, t = med[(name, False)], med[(name, True)]
        print(f"{name}: TLS/plain connect {t[0] / p[0]:.2f}x, throughput {t[2] / p[2]:.2f}x")
    if "qemu" in servers:
        for tls in (False, True):
            p, q = med[("porthole", tls)], med[("qemu", tls)]
            print(f"porthole/qemu {'TLS' if tls else 'plain'}: connect {p[0] / q[0]:.2f}, throughput {p[2] / q[2]:.2f}")


if __name__ == "__main__":
    main()
