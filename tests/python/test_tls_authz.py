"""tls-authz (issue #4): the client certificate's DN checked against authz-simple and
authz-list objects, looked up at each connection; gvnccapture presents the certificate.

The DN compared is QEMU's x509_dname string, attributes in certificate order
("O=Porthole Test,CN=client.porthole.test"), not the RFC 4514 order.
"""

from __future__ import annotations

import json

import pytest

import harness
import tlsharness
from tlsharness import (  # noqa: F401  (fixtures)
    CLIENT_DN,
    CLIENT_DN_RFC4514,
    OTHER_DN,
    certs,
    start_tls,
)


class Client:
    """Runs gvnccapture with the good client certificate against one server and checks its
    verdict against QMP's events."""

    def __init__(self, server: harness.Server, qmp: harness.Qmp, certs: tlsharness.Certs, root):
        self.server, self.qmp, self.certs, self.root = server, qmp, certs, root
        self.runs = 0

    def admitted(self) -> bool:
        self.runs += 1
        run, shot = tlsharness.gvnccapture_pki(
            self.server.display, self.root / f"gvnc{self.runs}", ca=self.certs.ca,
            crl=self.certs.crl, cert=self.certs.client_cert, key=self.certs.client_key)
        ok = tlsharness.gvnccapture_ok(run, shot)
        if ok:
            ev = self.qmp.wait_event("VNC_INITIALIZED")
            assert ev["data"]["client"]["x509_dname"] == CLIENT_DN, ev
            self.qmp.wait_event("VNC_DISCONNECTED")
        else:
            assert run.returncode != 0, run.log[-3000:]
            self.qmp.wait_event("VNC_DISCONNECTED")
            stray = tlsharness.no_initialized_event(self.qmp)
            assert not stray, stray
        self.log = run.log
        return ok


def start(start_tls, open_qmp, certs, tmp_path, authz: list[str], vnc_authz: str = "tls-authz=az0"):
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=True)] + authz,
                  vnc_options=f"tls-creds=tls0,{vnc_authz}")
    qmp = open_qmp(s)
    return Client(s, qmp, certs, tmp_path)


@pytest.mark.parametrize("identity,admitted", [
    (CLIENT_DN, True),
    (OTHER_DN, False),
    (CLIENT_DN_RFC4514, False),
], ids=["own-dn", "other-dn", "rfc4514-order"])
def test_authz_simple(certs, start_tls, open_qmp, tmp_path, identity, admitted):
    client = start(start_tls, open_qmp, certs, tmp_path, [tlsharness.authz_simple_object(identity)])
    assert client.admitted() is admitted, client.log[-3000:]


@pytest.mark.parametrize("allow,admitted", [
    ([CLIENT_DN], True),
    ([OTHER_DN, CLIENT_DN], True),
    ([OTHER_DN], False),
    ([], False),
], ids=["listed", "listed-second", "not-listed", "empty-list"])
def test_authz_list_exact(certs, start_tls, open_qmp, tmp_path, allow, admitted):
    client = start(start_tls, open_qmp, certs, tmp_path, [tlsharness.authz_list_object(allow)])
    assert client.admitted() is admitted, client.log[-3000:]


@pytest.mark.parametrize("rules,policy,admitted", [
    ([{"match": "O=Porthole Test,CN=*.porthole.test", "policy": "allow", "format": "glob"}], "deny", True),
    ([{"match": "O=Other,CN=*", "policy": "allow", "format": "glob"}], "deny", False),
    ([{"match": CLIENT_DN, "policy": "deny"}], "allow", False),
    ([{"match": OTHER_DN, "policy": "deny"}], "allow", True),
], ids=["glob-match", "glob-miss", "deny-rule-own-dn", "deny-rule-other-dn"])
def test_authz_list_rules_and_policy(certs, start_tls, open_qmp, tmp_path, rules, policy, admitted):
    obj = json.dumps({"qom-type": "authz-list", "id": "az0", "policy": policy, "rules": rules})
    client = start(start_tls, open_qmp, certs, tmp_path, [obj])
    assert client.admitted() is admitted, client.log[-3000:]


def test_authz_object_is_looked_up_at_each_connection(certs, start_tls, open_qmp, tmp_path):
    """tls-authz names an object that does not exist yet: denied; object-add of an
    authz-simple naming the client lets the next client in."""
    client = start(start_tls, open_qmp, certs, tmp_path, [])
    assert client.admitted() is False, client.log[-3000:]
    client.qmp.execute("object-add", {"qom-type": "authz-simple", "id": "az0", "identity": CLIENT_DN})
    assert client.admitted() is True, client.log[-3000:]


def test_object_del_of_the_authz_object_reverts_to_deny(certs, start_tls, open_qmp, tmp_path):
    """QEMU 7.2 lets object-del remove the object tls-authz names (it is looked up by id at
    each connection); the next client is then denied."""
    client = start(start_tls, open_qmp, certs, tmp_path, [tlsharness.authz_simple_object(CLIENT_DN)])
    assert client.admitted() is True, client.log[-3000:]
    assert client.qmp.execute("object-del", id="az0") == {}
    assert client.admitted() is False, client.log[-3000:]


@pytest.mark.porthole_only
def test_tls_authz_with_verify_peer_off_is_a_start_up_error(certs, tmp_path):
    """QEMU accepts it and then never consults the authz object (no certificate is checked),
    which silently admits everyone; Porthole refuses the combination."""
    failed = tlsharness.start_must_fail("porthole", tmp_path, [
        "-object", tlsharness.x509_object(certs.server, verify_peer=False),
        "-object", tlsharness.authz_simple_object(CLIENT_DN),
        "-vnc", f"127.0.0.1:{harness.pick_display()},tls-creds=tls0,tls-authz=az0",
    ])
    assert failed.returncode == 1, failed
    assert "tls-authz" in failed.stderr and "verify-peer" in failed.stderr, failed
