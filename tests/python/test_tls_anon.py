"""VeNCrypt with tls-creds-anon (issue #4): TLSNone (257) and TLSVnc (258) with TigerVNC,
gvnccapture and python `ssl` (anonymous DH, TLS 1.2), and what QMP reports."""

from __future__ import annotations

import pytest

import harness
import tlsharness
from tlsharness import PASSWORD, start_tls  # noqa: F401  (fixtures)

ANON = [tlsharness.anon_object()]


def initialized(qmp: harness.Qmp, legacy: str) -> dict:
    ev = qmp.wait_event("VNC_INITIALIZED")
    assert ev["data"]["server"]["auth"] == legacy, ev
    client = ev["data"]["client"]
    assert "x509_dname" not in client, client
    return client


def never_initialized(qmp: harness.Qmp) -> None:
    qmp.wait_event("VNC_DISCONNECTED")
    stray = tlsharness.no_initialized_event(qmp)
    assert not stray, stray


@pytest.mark.parametrize("password,sub,legacy", [
    (False, "tls-none", "vencrypt+tls+none"),
    (True, "tls-vnc", "vencrypt+tls+vnc"),
])
def test_query_vnc_servers_reports_vencrypt_tls(start_tls, open_qmp, password, sub, legacy):
    s = start_tls(ANON, password=password)
    qmp = open_qmp(s)
    display = qmp.execute("query-vnc-servers")[0]
    assert display["auth"] == "vencrypt" and display["vencrypt"] == sub, display
    assert [(x["auth"], x["vencrypt"]) for x in display["server"]] == [("vencrypt", sub)], display
    assert qmp.execute("query-vnc")["auth"] == legacy


def test_tigervnc_tlsnone(start_tls, open_qmp, tmp_path):
    s = start_tls(ANON)
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "TLSNone")
    assert run.verdict == "connected", run.log[-3000:]
    assert "TLSNone (257)" in run.log, run.log[-3000:]
    initialized(qmp, "vencrypt+tls+none")


def test_tigervnc_tlsvnc_with_the_right_password(start_tls, open_qmp, tmp_path):
    s = start_tls(ANON, password=True)
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "TLSVnc", password=PASSWORD)
    assert run.verdict == "connected", run.log[-3000:]
    assert "TLSVnc (258)" in run.log, run.log[-3000:]
    initialized(qmp, "vencrypt+tls+vnc")


def test_tigervnc_tlsvnc_with_a_wrong_password(start_tls, open_qmp, tmp_path):
    s = start_tls(ANON, password=True)
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "TLSVnc", password="wrong-pw")
    assert run.verdict == "auth-failed", run.log[-3000:]
    never_initialized(qmp)


def test_tigervnc_insisting_on_x509_refuses_an_anonymous_server(start_tls, open_qmp, tmp_path):
    """A viewer that accepts only X509None gets no subtype it can use."""
    s = start_tls(ANON)
    qmp = open_qmp(s)
    run = tlsharness.tigervnc(s.vnc_port, tmp_path / "tiger", "X509None")
    assert run.verdict != "connected", run.log[-3000:]
    assert "No valid VeNCrypt sub-type" in run.log, run.log[-3000:]
    never_initialized(qmp)


def test_gvnccapture_tlsnone(start_tls, open_qmp, tmp_path):
    s = start_tls(ANON)
    qmp = open_qmp(s)
    run, shot = tlsharness.gvnccapture_pki(s.display, tmp_path / "gvnc")
    assert tlsharness.gvnccapture_ok(run, shot), run.log[-3000:]
    w, h = harness.png_size(shot)
    assert w >= 320 and h >= 200, (w, h)
    initialized(qmp, "vencrypt+tls+none")


@pytest.mark.parametrize("password,accepted", [(PASSWORD, True), ("wrong-pw", False)])
def test_gvnccapture_tlsvnc(start_tls, open_qmp, tmp_path, password, accepted):
    s = start_tls(ANON, password=True)
    qmp = open_qmp(s)
    run, shot = tlsharness.gvnccapture_pki(s.display, tmp_path / "gvnc", password=password)
    assert tlsharness.gvnccapture_ok(run, shot) is accepted, run.log[-3000:]
    if accepted:
        initialized(qmp, "vencrypt+tls+vnc")
    else:
        never_initialized(qmp)


def test_python_anonymous_dh_client(start_tls):
    s = start_tls(ANON, password=True)
    ctx = tlsharness.client_context(anon=True)
    subtype, _name = tlsharness.vencrypt_login(s.vnc_port, ctx, password=PASSWORD)
    assert subtype == tlsharness.TLS_VNC
