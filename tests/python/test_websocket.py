"""The WebSocket listener (`-vnc ...,websocket=on`): RFB in RFC 6455 binary frames, ws and
wss, Porthole's Origin allowlist, and hostile clients (QEMU's CVE limits)."""

import base64
import os
import socket
import ssl
import struct
import time

import pytest

import harness
import tlsharness
from tlsharness import certs, start_tls  # noqa: F401  (fixtures)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def ws_port(server) -> int:
    return 5700 + server.display


def upgrade(sock, port, origin=None, protocol="binary", extra=""):
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if protocol:
        req += f"Sec-WebSocket-Protocol: {protocol}\r\n"
    if origin:
        req += f"Origin: {origin}\r\n"
    sock.sendall((req + extra + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = sock.recv(1)
        if not c:
            break
        head += c
    return head.decode(errors="replace").split("\r\n")[0]


class Frames:
    """Binary frames both ways; client frames masked."""

    def __init__(self, sock):
        self.sock, self.buf, self.pending = sock, b"", b""

    def _recv(self, n):
        while len(self.buf) < n:
            c = self.sock.recv(65536)
            if not c:
                raise EOFError("closed")
            self.buf += c
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def read(self, n):
        out = b""
        while len(out) < n:
            if not self.pending:
                b0, b1 = self._recv(2)
                assert b1 & 0x80 == 0, "server frames are not masked"
                ln = b1 & 0x7F
                if ln == 126:
                    ln = struct.unpack(">H", self._recv(2))[0]
                elif ln == 127:
                    ln = struct.unpack(">Q", self._recv(8))[0]
                data = self._recv(ln)
                if b0 & 0x0F == 0x8:
                    raise EOFError(f"close frame {data[:2].hex()}")
                self.pending = data
            take = min(n - len(out), len(self.pending))
            out, self.pending = out + self.pending[:take], self.pending[take:]
        return out

    def send(self, data, opcode=0x2, masked=True):
        ln = len(data)
        hdr = bytes([0x80 | opcode])
        mbit = 0x80 if masked else 0
        hdr += bytes([mbit | ln]) if ln < 126 else bytes([mbit | 126]) + struct.pack(">H", ln)
        if masked:
            mask = os.urandom(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            hdr += mask
        self.sock.sendall(hdr + data)


def rfb_login(frames, password=None):
    """RFB 3.8 to ServerInit inside WebSocket frames; returns (types, ServerInit width, height)."""
    assert frames.read(12) == b"RFB 003.008\n"
    frames.send(b"RFB 003.008\n")
    types = list(frames.read(frames.read(1)[0]))
    if password is None:
        frames.send(b"\x01")
    else:
        frames.send(b"\x02")
        frames.send(harness.vnc_des_response(password, frames.read(16)))
    result = struct.unpack(">I", frames.read(4))[0]
    if result != 0:
        return types, None
    frames.send(b"\x01")
    si = frames.read(24)
    frames.read(struct.unpack(">I", si[20:24])[0])
    return types, struct.unpack(">HH", si[:4])


def connect(port, tls_ctx=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls_ctx:
        s = tls_ctx.wrap_socket(s, server_hostname="127.0.0.1")
    return s


def test_ws_rfb_with_vnc_password(start_tls):
    server = start_tls([], vnc_options="websocket=on", password=True)
    s = connect(ws_port(server))
    assert " 101 " in upgrade(s, ws_port(server)) + " "
    types, size = rfb_login(Frames(s), tlsharness.PASSWORD)
    assert types == [2] and size == (720, 400)
    s.close()
    s = connect(ws_port(server))
    upgrade(s, ws_port(server))
    types, size = rfb_login(Frames(s), "wrong-pw")
    assert size is None, "a wrong password must be refused"
    s.close()


def test_query_vnc_servers_lists_the_websocket_listener(start_tls, open_qmp):
    server = start_tls([], vnc_options="websocket=on")
    info = open_qmp(server).execute("query-vnc-servers")[0]
    ws = [l for l in info["server"] if l["websocket"]]
    assert ws and ws[0]["service"] == str(ws_port(server)), info


@pytest.mark.porthole_only
def test_origin_allowlist(start_tls):
    server = start_tls([], vnc_options="websocket=on,websocket-origin=http://console.example")
    s = connect(ws_port(server))
    assert "403" in upgrade(s, ws_port(server), origin="http://evil.example")
    s.close()
    s = connect(ws_port(server))
    assert " 101 " in upgrade(s, ws_port(server), origin="http://console.example") + " "
    assert rfb_login(Frames(s))[1] == (720, 400)
    s.close()


def test_wss_with_x509(start_tls, certs):
    server = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)],
                       vnc_options="tls-creds=tls0,websocket=on")
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    s = connect(ws_port(server), ctx)
    assert " 101 " in upgrade(s, ws_port(server)) + " "
    types, size = rfb_login(Frames(s))
    assert types == [1], "inside wss the inner auth is the no-TLS mapping"
    assert size == (720, 400)
    s.close()
    # plain ws:// to the wss listener gets no upgrade
    s = connect(ws_port(server))
    try:
        line = upgrade(s, ws_port(server))
    except OSError:
        line = ""
    assert " 101 " not in line + " "
    s.close()


def good_client_still_gets_in(server):
    s = connect(ws_port(server))
    upgrade(s, ws_port(server))
    assert rfb_login(Frames(s))[1] == (720, 400)
    s.close()


def closed(sock, within=3.0):
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_cve_2015_1779_one_mib_of_headers_is_refused(start_tls):
    server = start_tls([], vnc_options="websocket=on")
    s = connect(ws_port(server))
    try:
        s.sendall(b"GET / HTTP/1.1\r\n" + b"X-Junk: " + b"a" * (1 << 20) + b"\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed(s)
    s.close()
    good_client_still_gets_in(server)


def test_cve_2015_1779_huge_frame_length_is_streamed(start_tls):
    server = start_tls([], vnc_options="websocket=on")
    rss = rss_kib(server.proc.pid)
    s = connect(ws_port(server))
    upgrade(s, ws_port(server))
    frames = Frames(s)
    assert frames.read(12) == b"RFB 003.008\n"
    # A binary frame declaring 2^63-1 bytes, then 8 MiB of it: memory must stay bounded.
    s.sendall(bytes([0x82, 0x80 | 127]) + struct.pack(">Q", (1 << 63) - 1) + b"\0\0\0\0")
    chunk = b"RFB 003.008\n" + b"\0" * 65524
    try:
        for _ in range(128):
            s.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()
    time.sleep(0.2)
    assert server.proc.poll() is None
    assert rss_kib(server.proc.pid) < rss + 64 * 1024, "memory must not follow the declared length"
    good_client_still_gets_in(server)


def test_unmasked_client_frame_is_refused(start_tls):
    server = start_tls([], vnc_options="websocket=on")
    s = connect(ws_port(server))
    upgrade(s, ws_port(server))
    frames = Frames(s)
    assert frames.read(12) == b"RFB 003.008\n"
    frames.send(b"RFB 003.008\n", masked=False)
    with pytest.raises(EOFError):
        frames.read(1)
    s.close()
    good_client_still_gets_in(server)


def test_text_frame_is_refused(start_tls):
    server = start_tls([], vnc_options="websocket=on")
    s = connect(ws_port(server))
    upgrade(s, ws_port(server))
    frames = Frames(s)
    frames.read(12)
    frames.send(b"RFB 003.008\n", opcode=0x1)
    with pytest.raises(EOFError):
        frames.read(1)
    s.close()
    good_client_still_gets_in(server)
