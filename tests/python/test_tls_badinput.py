"""Malformed and aborted VeNCrypt handshakes (issue #4), done byte by byte: the server must
answer as QEMU does, drop only that client, and keep serving (a good gvnccapture gets in,
the QMP monitor answers query-status).

CVE-2016-10207 (TigerVNC's server crashed when a client aborted the TLS handshake right
after its ClientHello) is pinned by test_cve_2016_10207_client_aborts_after_client_hello.
"""

from __future__ import annotations

import socket
import struct

import pytest

import tlsharness
from tlsharness import certs, start_tls  # noqa: F401  (fixtures)


@pytest.fixture
def x509(certs, start_tls, open_qmp, tmp_path):
    """An X509None server (verify-peer=off), its QMP client, and `still_serving()`."""
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)])
    qmp = open_qmp(s)
    runs = []

    def still_serving() -> None:
        assert s.proc.poll() is None, s.describe()
        runs.append(1)
        run, shot = tlsharness.gvnccapture_pki(s.display, tmp_path / f"good{len(runs)}",
                                               ca=certs.ca, crl=certs.crl)
        assert tlsharness.gvnccapture_ok(run, shot), run.log[-3000:]
        assert qmp.execute("query-status")["status"] == "running"
        ev = qmp.wait_event("VNC_INITIALIZED")
        assert ev["data"]["server"]["auth"] == "vencrypt+x509+none", ev

    s.still_serving = still_serving
    s.qmp_client = qmp
    return s


def rst_close(sock: socket.socket) -> None:
    """Closes with a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("close", ["fin", "rst"])
def test_cve_2016_10207_client_aborts_after_client_hello(x509, close):
    rfb = tlsharness.Vencrypt.tcp(x509.vnc_port)
    assert rfb.to_tls() == (tlsharness.X509_NONE, [tlsharness.X509_NONE])
    tls = tlsharness.TlsPipe(rfb.sock, tlsharness.client_context(ca=None))
    hello = tls.client_hello()
    assert hello[:1] == b"\x16", hello[:8]  # a handshake record
    rfb.sock.sendall(hello)
    rst_close(rfb.sock) if close == "rst" else rfb.close()
    x509.still_serving()


def test_client_aborts_after_the_servers_first_flight(x509, certs):
    rfb = tlsharness.Vencrypt.tcp(x509.vnc_port)
    rfb.to_tls()
    tls = tlsharness.TlsPipe(rfb.sock, tlsharness.client_context(ca=certs.ca, tls12=True))
    types = tls.handshake_messages_until(14)
    assert types[0] == 2, types
    rst_close(rfb.sock)
    x509.still_serving()


def test_half_a_client_hello_then_close(x509):
    rfb = tlsharness.Vencrypt.tcp(x509.vnc_port)
    rfb.to_tls()
    hello = tlsharness.TlsPipe(rfb.sock, tlsharness.client_context(ca=None)).client_hello()
    rfb.sock.sendall(hello[: len(hello) // 2])
    rfb.close()
    x509.still_serving()


def test_non_tls_bytes_instead_of_a_client_hello_are_dropped(x509):
    rfb = tlsharness.Vencrypt.tcp(x509.vnc_port)
    rfb.to_tls()
    rfb.sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
    assert rfb.wait_closed(), "the server kept a connection that sent no TLS"
    rfb.close()
    x509.still_serving()


def test_a_stalled_tls_handshake_does_not_block_other_clients(x509):
    """One client stops after the VeNCrypt accept, another after its ClientHello; both stay
    open while a good client logs in."""
    idle = tlsharness.Vencrypt.tcp(x509.vnc_port)
    idle.to_tls()
    hello_only = tlsharness.Vencrypt.tcp(x509.vnc_port)
    hello_only.to_tls()
    hello_only.sock.sendall(
        tlsharness.TlsPipe(hello_only.sock, tlsharness.client_context(ca=None)).client_hello())
    try:
        x509.still_serving()
    finally:
        idle.close()
        hello_only.close()
    x509.still_serving()


@pytest.mark.parametrize("version", [(0, 1), (0, 3), (1, 2), (0, 0)])
def test_unsupported_vencrypt_version_gets_1_and_close(x509, version):
    rfb = tlsharness.Vencrypt.tcp(x509.vnc_port)
    try:
        assert rfb.offered() == [tlsharness.VENCRYPT]
        rfb.choose_type(tlsharness.VENCRYPT)
        assert rfb.vencrypt_version() == (0, 2)
        assert rfb.send_version(*version) == 1
        assert rfb.closed_without_data(), "connection still open after the version reject"
    finally:
        rfb.close()
    x509.still_serving()


@pytest.mark.parametrize("subtype", [
    tlsharness.PLAIN, tlsharness.TLS_NONE, tlsharness.X509_VNC, 0, 0xFFFFFFFF,
], ids=["plain-256", "tlsnone-257", "x509vnc-261", "zero", "max-u32"])
def test_unoffered_subtype_gets_0_and_close(x509, subtype):
    rfb = tlsharness.Vencrypt.tcp(x509.vnc_port)
    try:
        assert rfb.offered() == [tlsharness.VENCRYPT]
        rfb.choose_type(tlsharness.VENCRYPT)
        assert rfb.vencrypt_version() == (0, 2)
        assert rfb.send_version(0, 2) == 0
        assert rfb.subtypes() == [tlsharness.X509_NONE]
        assert rfb.choose_subtype(subtype) == 0
        assert rfb.closed_without_data(), "connection still open after the subtype reject"
    finally:
        rfb.close()
    x509.still_serving()


@pytest.mark.parametrize("kind", [1, 2, 18, 20, 0])
def test_rfb_client_choosing_another_security_type_is_refused(x509, kind):
    """A plain RFB client picks a type other than the 19 offered: SecurityResult failed with
    a reason, then close. (QEMU counts a trailing NUL in the reason; Porthole does not.)"""
    rfb = tlsharness.Vencrypt.tcp(x509.vnc_port)
    try:
        assert rfb.offered() == [tlsharness.VENCRYPT]
        rfb.choose_type(kind)
        assert rfb.u32() == 1
        assert rfb.string().rstrip("\0") == "Authentication failed"
        assert rfb.closed_without_data()
    finally:
        rfb.close()
    x509.still_serving()

