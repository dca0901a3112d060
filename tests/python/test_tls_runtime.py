"""Changing TLS credentials and authorization while Porthole runs: attaching object-added
credentials with display-update (Porthole extension), and an authz-listfile edited on disk."""

from __future__ import annotations

import json
import time

import pytest

import harness
import tlsharness
from tlsharness import certs, second_certs, start_tls  # noqa: F401  (fixtures)


@pytest.mark.porthole_only
def test_display_update_attaches_object_added_credentials(certs, second_certs, start_tls, open_qmp):
    """A display started with one CA's credentials gets another CA's through object-add +
    display-update tls-creds: new clients must trust the new CA; the old one is refused."""
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)])
    qmp = open_qmp(s)
    old = tlsharness.client_context(ca=certs.ca)
    new = tlsharness.client_context(ca=second_certs.ca)
    assert tlsharness.vencrypt_login(s.vnc_port, old)[0] == tlsharness.X509_NONE
    qmp.execute("object-add", {"qom-type": "tls-creds-x509", "id": "tls1", "dir": str(second_certs.server),
                               "endpoint": "server", "verify-peer": False})
    qmp.execute("display-update", type="vnc", **{"tls-creds": "tls1"})
    assert tlsharness.vencrypt_login(s.vnc_port, new)[0] == tlsharness.X509_NONE
    with pytest.raises(Exception):
        tlsharness.vencrypt_login(s.vnc_port, old)
    # tls1 is now the one in use; tls0 may go.
    err = qmp.error("object-del", id="tls1")
    assert err == ("GenericError", "object 'tls1' is in use, can not be deleted"), err
    assert qmp.execute("object-del", id="tls0") == {}
    # Unknown or client-endpoint credentials are refused and change nothing.
    assert qmp.error("display-update", type="vnc", **{"tls-creds": "nope"})[0] == "GenericError"
    assert tlsharness.vencrypt_login(s.vnc_port, new)[0] == tlsharness.X509_NONE


def write_rules(path, allow):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"rules": [{"match": m, "policy": "allow"} for m in allow], "policy": "deny"}))
    tmp.replace(path)


@pytest.mark.porthole_only
def test_authz_listfile_edited_on_disk(certs, start_tls, tmp_path):
    """tls-authz on an authz-listfile: editing the file while Porthole runs changes who gets
    in (the file is re-read when it changes; Porthole checks at most once a second)."""
    acl = tmp_path / "acl.json"
    write_rules(acl, ["CN=somebody-else"])
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=True),
                   f"authz-listfile,id=az0,filename={acl},refresh=on"],
                  vnc_options="tls-creds=tls0,tls-authz=az0")
    ctx = tlsharness.client_context(ca=certs.ca, cert=certs.client_cert, key=certs.client_key)
    with pytest.raises(Exception):
        tlsharness.vencrypt_login(s.vnc_port, ctx)
    write_rules(acl, [tlsharness.CLIENT_DN])
    deadline = time.monotonic() + 5
    while True:
        try:
            assert tlsharness.vencrypt_login(s.vnc_port, ctx)[0] == tlsharness.X509_NONE
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    # A broken file keeps the previous rules (QEMU would deny everyone).
    acl.write_text("{ not json")
    time.sleep(1.5)
    assert tlsharness.vencrypt_login(s.vnc_port, ctx)[0] == tlsharness.X509_NONE
