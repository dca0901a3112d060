"""VeNCrypt with tls-creds-x509 (issue #4): real clients accepted and refused, the client
certificate checks of verify-peer=on, what QMP reports, start-up checks of the creds.

Clients: TigerVNC (X509None, X509Vnc; it cannot present a client certificate), gvnccapture
with a private ~/.pki (client certificates), vncdotool (no VeNCrypt at all), python `ssl` for
the TLS-level checks. Each verdict is cross-checked with QMP's VNC_INITIALIZED.
"""

from __future__ import annotations

import pytest

import harness
import tlsharness
from tlsharness import (  # noqa: F401  (fixtures)
    CLIENT_DN,
    PASSWORD,
    certs,
    start_tls,
)


def initialized(qmp: harness.Qmp) -> dict:
    """The client member of the next VNC_INITIALIZED."""
    ev = qmp.wait_event("VNC_INITIALIZED")
    assert ev["data"]["server"]["auth"].startswith("vencrypt+"), ev
    return ev["data"]["client"]


def never_initialized(qmp: harness.Qmp) -> None:
    """The rejected client's VNC_DISCONNECTED came and no VNC_INITIALIZED."""
    qmp.wait_event("VNC_DISCONNECTED")
    stray = tlsharness.no_initialized_event(qmp)
    assert not stray, stray


# --- query-vnc-servers / query-vnc ---------------------------------------------------------


@pytest.mark.parametrize("password,sub,legacy", [
    (False, "x509-none", "vencrypt+x509+none"),
    (True, "x509-vnc", "vencrypt+x509+vnc"),
])
def test_query_vnc_servers_reports_vencrypt_x509(certs, start_tls, open_qmp, password, sub, legacy):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)], password=password)
    qmp = open_qmp(s)
    servers = qmp.execute("query-vnc-servers")
    assert len(servers) == 1, servers
    display = servers[0]
    assert display["auth"] == "vencrypt" and display["vencrypt"] == sub, display
    assert display["clients"] == [], display
    assert display["server"] == [{"host": "127.0.0.1", "service": str(s.vnc_port), "family": "ipv4",
                                  "websocket": False, "auth": "vencrypt", "vencrypt": sub}], display
    info = qmp.execute("query-vnc")
    assert info["enabled"] is True and info["auth"] == legacy, info


# --- TigerVNC ------------------------------------------------------------------------------


def test_tigervnc_x509none_with_the_right_ca(certs, start_tls, open_qmp, tmp_path):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)])
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "X509None", ca=certs.ca, crl=certs.crl)
    assert run.verdict == "connected", run.log[-3000:]
    assert "X509None (260)" in run.log, run.log[-3000:]
    client = initialized(qmp)
    assert "x509_dname" not in client, client  # verify-peer=off: no client certificate


def test_tigervnc_x509vnc_with_the_right_password(certs, start_tls, open_qmp, tmp_path):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)], password=True)
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "X509Vnc", ca=certs.ca, crl=certs.crl,
                              password=PASSWORD)
    assert run.verdict == "connected", run.log[-3000:]
    assert "X509Vnc (261)" in run.log, run.log[-3000:]
    initialized(qmp)


def test_tigervnc_x509vnc_with_a_wrong_password(certs, start_tls, open_qmp, tmp_path):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)], password=True)
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "X509Vnc", ca=certs.ca, crl=certs.crl,
                              password="wrong-pw")
    assert run.verdict == "auth-failed", run.log[-3000:]
    never_initialized(qmp)


def test_tigervnc_refuses_a_server_signed_by_an_unknown_ca(certs, start_tls, open_qmp, tmp_path):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)])
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "X509None", ca=certs.foreign_ca)
    assert run.verdict == "unknown-ca", run.log[-3000:]
    never_initialized(qmp)


def test_tigervnc_without_a_client_certificate_is_rejected_when_verify_peer_is_on(
        certs, start_tls, open_qmp, tmp_path):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=True)])
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "X509None", ca=certs.ca, crl=certs.crl)
    assert run.verdict == "failed", run.log[-3000:]
    never_initialized(qmp)
    assert s.proc.poll() is None, s.describe()


# --- gvnccapture with client certificates --------------------------------------------------


def test_gvnccapture_with_a_good_client_certificate_reports_its_dn(certs, start_tls, open_qmp, tmp_path):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=True)])
    qmp = open_qmp(s)
    run, shot = tlsharness.gvnccapture_pki(s.display, tmp_path / "gvnc", ca=certs.ca, crl=certs.crl,
                                           cert=certs.client_cert, key=certs.client_key)
    assert tlsharness.gvnccapture_ok(run, shot), run.log[-3000:]
    w, h = harness.png_size(shot)
    assert w >= 320 and h >= 200, (w, h)
    client = initialized(qmp)
    assert client["x509_dname"] == CLIENT_DN, client
    gone = qmp.wait_event("VNC_DISCONNECTED")
    assert gone["data"]["client"]["x509_dname"] == CLIENT_DN, gone


def test_query_vnc_lists_a_connected_client_with_its_dn(certs, start_tls, open_qmp):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=True)])
    qmp = open_qmp(s)
    ctx = tlsharness.client_context(ca=certs.ca, cert=certs.client_cert, key=certs.client_key)
    rfb = tlsharness.Vencrypt.tcp(s.vnc_port)
    try:
        assert rfb.to_tls()[0] == tlsharness.X509_NONE
        tls = tlsharness.TlsPipe(rfb.sock, ctx)
        tls.handshake()
        assert tls.u32() == 0
        tls.send(b"\x01")
        tls.recv_exact(24)
        initialized(qmp)
        clients = qmp.execute("query-vnc")["clients"]
        assert len(clients) == 1 and clients[0]["x509_dname"] == CLIENT_DN, clients
        listed = qmp.execute("query-vnc-servers")[0]["clients"]
        assert len(listed) == 1 and listed[0]["x509_dname"] == CLIENT_DN, listed
    finally:
        rfb.close()


@pytest.mark.parametrize("which", ["none", "foreign", "revoked"])
def test_gvnccapture_with_a_bad_client_certificate_is_rejected(certs, start_tls, open_qmp, tmp_path, which):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=True)])
    qmp = open_qmp(s)
    cert, key = {
        "none": (None, None),
        "foreign": (certs.foreign_cert, certs.foreign_key),
        "revoked": (certs.revoked_cert, certs.revoked_key),
    }[which]
    run, shot = tlsharness.gvnccapture_pki(s.display, tmp_path / "gvnc", ca=certs.ca, crl=certs.crl,
                                           cert=cert, key=key)
    assert run.returncode != 0 and not shot.exists(), run.log[-3000:]
    never_initialized(qmp)
    assert qmp.execute("query-status")["status"] in ("running", "prelaunch"), s.describe()


def test_revoked_client_certificate_is_accepted_without_the_crl(certs, start_tls, open_qmp, tmp_path):
    """The control for the revoked case: the same certificate passes when the server has no
    ca-crl.pem, so it is the CRL that rejects it above."""
    server_dir = certs.server_copy(tmp_path / "server-no-crl")
    (server_dir / "ca-crl.pem").unlink()
    s = start_tls([tlsharness.x509_object(server_dir, verify_peer=True)])
    qmp = open_qmp(s)
    run, shot = tlsharness.gvnccapture_pki(s.display, tmp_path / "gvnc", ca=certs.ca,
                                           cert=certs.revoked_cert, key=certs.revoked_key)
    assert tlsharness.gvnccapture_ok(run, shot), run.log[-3000:]
    assert initialized(qmp)["x509_dname"] == "O=Porthole Test,CN=revoked.porthole.test"


# --- vncdotool -----------------------------------------------------------------------------


def test_vncdotool_cannot_speak_vencrypt(certs, start_tls, open_qmp, tmp_path):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)])
    qmp = open_qmp(s)
    run = harness.vncdo(s.vnc_port, None, "capture", str(tmp_path / "vncdo.png"))
    assert run.returncode != 0, run.log
    assert "unknown security types: (19,)" in run.log, run.log
    assert not (tmp_path / "vncdo.png").exists()
    never_initialized(qmp)


# --- TLS level -----------------------------------------------------------------------------


def certificate_request_sent(port: int, ca) -> bool:
    """Whether the server's TLS 1.2 first flight holds a CertificateRequest (type 13)."""
    rfb = tlsharness.Vencrypt.tcp(port)
    try:
        rfb.to_tls()
        tls = tlsharness.TlsPipe(rfb.sock, tlsharness.client_context(ca=ca, tls12=True))
        types = tls.handshake_messages_until(14)
        assert types[0] == 2 and 11 in types, types  # ServerHello, Certificate
        return 13 in types
    finally:
        rfb.close()


def test_verify_peer_on_requests_a_client_certificate(certs, start_tls):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=True)])
    assert certificate_request_sent(s.vnc_port, certs.ca)


@pytest.mark.porthole_only
def test_verify_peer_off_requests_no_client_certificate(certs, start_tls):
    """QEMU always sends a CertificateRequest, which makes headless Chromium abort wss://
    connections; Porthole asks for a certificate only when it will check it."""
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)])
    assert not certificate_request_sent(s.vnc_port, certs.ca)


def test_python_ssl_client_checks_the_server_name(certs, start_tls):
    """The server certificate carries IP:127.0.0.1 and the server sends its chain: python's
    strict client (hostname check on) completes an X509None login."""
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)])
    subtype, _name = tlsharness.vencrypt_login(s.vnc_port, tlsharness.client_context(ca=certs.ca))
    assert subtype == tlsharness.X509_NONE


# --- start-up checks -----------------------------------------------------------------------


def test_client_endpoint_creds_are_refused_at_start_up(certs, tmp_path):
    kind = harness.target()
    failed = tlsharness.start_must_fail(kind, tmp_path, [
        "-object", tlsharness.x509_object(certs.server, endpoint="client"),
        "-vnc", f"127.0.0.1:{harness.pick_display()},tls-creds=tls0",
    ])
    assert failed.returncode == 1, failed
    # QEMU: "Expected TLS credentials for a server endpoint".
    assert "endpoint" in failed.stderr, failed


@pytest.mark.porthole_only
def test_client_endpoint_creds_error_says_to_add_endpoint_server(certs, tmp_path):
    failed = tlsharness.start_must_fail("porthole", tmp_path, [
        "-object", f"tls-creds-x509,id=tls0,dir={certs.server}",
        "-vnc", f"127.0.0.1:{harness.pick_display()},tls-creds=tls0",
    ])
    assert failed.returncode == 1, failed
    assert "endpoint=server" in failed.stderr, failed


@pytest.mark.porthole_only
def test_server_key_readable_by_others_is_warned_about(certs, start_tls, open_qmp, tmp_path):
    server_dir = certs.server_copy(tmp_path / "server-0644")
    (server_dir / "server-key.pem").chmod(0o644)
    s = start_tls([tlsharness.x509_object(server_dir, verify_peer=False)])
    err = s.stderr()
    assert "server-key.pem" in err and "0644" in err, err
    qmp = open_qmp(s)
    assert qmp.execute("query-vnc-servers")[0]["vencrypt"] == "x509-none"


@pytest.mark.porthole_only
def test_server_key_with_mode_0600_gets_no_warning(certs, start_tls):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)])
    assert "server-key.pem" not in s.stderr(), s.stderr()
