#!/usr/bin/env python3
"""VeNCrypt Plain cost: login time, and whether password hashing stalls the event loop.

Starts Porthole with x509 credentials (scripts/mkcerts.sh) and a `userstore` made by
porthole-passwd (default PBKDF2-SHA256, 600,000 iterations), then measures:

- X509Plain login time: TCP connect to SecurityResult OK, right password (median);
- QMP `query-status` round trips (p50, p99, max) for a few seconds with no login in
  flight, and again for as long while `--load` logins are kept in flight all the time
  (each a TLS handshake plus a ~0.3 s hash check). If the checks ran on the event loop,
  round trips would wait for them (max ≥ one check).

  python3 scripts/bench-plain.py --porthole target/release/porthole \
      [--passwd target/release/porthole-passwd]
"""
import argparse
import json
import os
import socket
import ssl
import statistics
import struct
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER = "alice"
PASSWORD = "a passphrase much longer than eight characters"
X509_PLAIN = 262


def recv(s, n):
    b = bytearray()
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise RuntimeError("closed")
        b += c
    return bytes(b)


def plain_login(port, ctx, password):
    """One X509Plain login; returns (accepted, seconds)."""
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        recv(s, 12)
        s.sendall(b"RFB 003.008\n")
        types = recv(s, recv(s, 1)[0])
        assert 19 in types, types
        s.sendall(b"\x13")
        assert recv(s, 2) == b"\x00\x02"
        s.sendall(b"\x00\x02")
        assert recv(s, 1) == b"\x00"
        n = recv(s, 1)[0]
        subs = struct.unpack(f">{n}I", recv(s, 4 * n))
        assert X509_PLAIN in subs, subs
        s.sendall(struct.pack(">I", X509_PLAIN))
        assert recv(s, 1) == b"\x01"
        t = ctx.wrap_socket(s, server_hostname="localhost")
        u, p = USER.encode(), password.encode()
        t.sendall(struct.pack(">II", len(u), len(p)) + u + p)
        ok = recv(t, 4) == b"\x00\x00\x00\x00"
        dt = time.perf_counter() - t0
        t.close()
        return ok, dt
    finally:
        s.close()


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name):
        self.s.sendall(json.dumps({"execute": name}).encode() + b"\n")
        while True:
            msg = json.loads(self.f.readline())
            if "return" in msg or "error" in msg:
                return msg


def round_trips(qmp, seconds):
    out = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        qmp.cmd("query-status")
        out.append(time.perf_counter() - t0)
    out.sort()
    return out[len(out) // 2], out[min(len(out) - 1, len(out) * 99 // 100)], out[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--porthole", default=os.path.join(ROOT, "target/release/porthole"))
    ap.add_argument("--passwd", default=None)
    ap.add_argument("--logins", type=int, default=10)
    ap.add_argument("--load", type=int, default=4, help="logins kept in flight")
    ap.add_argument("--seconds", type=float, default=3.0, help="round trips for this long")
    a = ap.parse_args()
    passwd = a.passwd or os.path.join(os.path.dirname(a.porthole), "porthole-passwd")
    tmp = tempfile.mkdtemp(prefix="bench-plain-")
    subprocess.run(["sh", os.path.join(ROOT, "scripts/mkcerts.sh"), f"{tmp}/pki"], check=True,
                   capture_output=True)
    users = f"{tmp}/users"
    subprocess.run([passwd, users, USER], input=(PASSWORD + "\n").encode(), check=True,
                   capture_output=True)
    port = 5900 + 47
    qmp_path = f"{tmp}/qmp"
    proc = subprocess.Popen([
        a.porthole, "-nodefaults",
        "-object", f"tls-creds-x509,id=tls0,dir={tmp}/pki/server,endpoint=server,verify-peer=off",
        "-object", f"userstore,id=u0,filename={users}",
        "-vnc", "127.0.0.1:47,tls-creds=tls0,userstore=u0",
        "-qmp", f"unix:{qmp_path},server=on,wait=off"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(qmp_path):
                break
            time.sleep(0.02)
        ctx = ssl.create_default_context(cafile=f"{tmp}/pki/client/ca-cert.pem")
        times = []
        for _ in range(a.logins):
            ok, dt = plain_login(port, ctx, PASSWORD)
            assert ok
            times.append(dt)
        ok, _ = plain_login(port, ctx, "wrong")
        assert not ok
        qmp = Qmp(qmp_path)
        idle = round_trips(qmp, a.seconds)
        stop = threading.Event()
        done = [0]

        def loader():
            while not stop.is_set():
                plain_login(port, ctx, PASSWORD)
                done[0] += 1

        threads = [threading.Thread(target=loader) for _ in range(a.load)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        loaded = round_trips(qmp, a.seconds)
        stop.set()
        for t in threads:
            t.join()
        print(f"X509Plain login (median of {a.logins}): {statistics.median(times) * 1e3:.0f} ms")
        print(f"query-status idle:   p50 {idle[0] * 1e6:.1f} us  p99 {idle[1] * 1e6:.1f} us  "
              f"max {idle[2] * 1e3:.2f} ms")
        print(f"query-status during {a.load} logins in flight ({done[0]} completed): "
              f"p50 {loaded[0] * 1e6:.1f} us  p99 {loaded[1] * 1e6:.1f} us  "
              f"max {loaded[2] * 1e3:.2f} ms")
        print(f"ratio loaded/idle: p50 {loaded[0] / idle[0]:.2f}  p99 {loaded[1] / idle[1]:.2f}")
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
