"""TLS credentials over QMP (issue #4): object-add / qom-list / qom-get / object-del of
tls-creds objects at run time, and display-reload of the VNC server's certificates.

Texts are QEMU 7.2's. One deliberate difference: QEMU 7.2 lets object-del remove the
tls-creds object the VNC server uses (the display keeps its own reference and goes on
serving); Porthole refuses with the text QEMU uses for other objects in use.
"""

from __future__ import annotations

import shutil
import ssl

import pytest

import tlsharness
from tlsharness import certs, second_certs, start_tls  # noqa: F401  (fixtures)


def x509_args(id: str, dir, verify_peer: bool = False) -> dict:
    return {"qom-type": "tls-creds-x509", "id": id, "dir": str(dir), "endpoint": "server",
            "verify-peer": verify_peer}


def objects(qmp) -> dict[str, str]:
    return {p["name"]: p["type"] for p in qmp.execute("qom-list", path="/objects")}


@pytest.fixture
def served(certs, start_tls, open_qmp):
    """An X509None server using tls0, and its QMP client."""
    s = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)])
    return s, open_qmp(s)


def test_object_add_tls_creds_x509_then_qom_list_and_get(served, certs):
    _s, qmp = served
    assert qmp.execute("object-add", x509_args("tls9", certs.server)) == {}
    listed = objects(qmp)
    assert listed.get("tls9") == "child<tls-creds-x509>", listed
    assert listed.get("tls0") == "child<tls-creds-x509>", listed
    props = {p["name"]: p["type"] for p in qmp.execute("qom-list", path="/objects/tls9")}
    assert {"dir": "string", "verify-peer": "bool", "loaded": "bool"}.items() <= props.items(), props
    assert "endpoint" in props, props
    get = lambda prop: qmp.execute("qom-get", path="/objects/tls9", property=prop)  # noqa: E731
    assert get("dir") == str(certs.server)
    assert get("endpoint") == "server"
    assert get("verify-peer") is False
    assert get("loaded") is True


def test_object_add_errors(served, certs, tmp_path):
    _s, qmp = served
    assert qmp.error("object-add", x509_args("tls0", certs.server)) == (
        "GenericError", "attempt to add duplicate property 'tls0' to object (type 'container')")
    missing = tmp_path / "nonexistent"
    assert qmp.error("object-add", x509_args("tls8", missing)) == (
        "GenericError", f"Unable to access credentials {missing}/ca-cert.pem: No such file or directory")
    # The client dir has a CA but no server identity.
    client_dir = certs.ca.parent
    # QEMU 7.2's text, or current QEMU's (which Porthole follows).
    assert qmp.error("object-add", x509_args("tls7", client_dir)) in (
        ("GenericError",
         f"Unable to access credentials {client_dir}/server-cert.pem: No such file or directory"),
        ("GenericError",
         f"Missing server cert '{client_dir}/server-cert.pem' & key '{client_dir}/server-key.pem'"),
    )
    listed = objects(qmp)
    assert "tls8" not in listed and "tls7" not in listed, listed


def test_object_del_of_an_unused_tls_creds_object(served, certs):
    s, qmp = served
    qmp.execute("object-add", x509_args("tls9", certs.server))
    qmp.execute("object-add", {"qom-type": "tls-creds-anon", "id": "anon9", "endpoint": "server"})
    assert objects(qmp).get("anon9") == "child<tls-creds-anon>"
    assert qmp.execute("object-del", id="tls9") == {}
    assert qmp.execute("object-del", id="anon9") == {}
    listed = objects(qmp)
    assert "tls9" not in listed and "anon9" not in listed and "tls0" in listed, listed
    assert qmp.error("object-del", id="tls9") == ("GenericError", "object 'tls9' not found")
    # The display was not touched.
    assert tlsharness.vencrypt_login(s.vnc_port, tlsharness.client_context(ca=certs.ca))[0] == \
        tlsharness.X509_NONE


def test_display_keeps_serving_tls_after_object_del_of_its_creds(served, certs):
    """QEMU 7.2 deletes the object and the display keeps its reference; Porthole refuses the
    delete. Either way TLS clients still get in with the same credentials."""
    s, qmp = served
    qmp.call("object-del", {"id": "tls0"})
    assert tlsharness.vencrypt_login(s.vnc_port, tlsharness.client_context(ca=certs.ca))[0] == \
        tlsharness.X509_NONE
    assert qmp.execute("query-vnc-servers")[0]["vencrypt"] == "x509-none"


@pytest.mark.porthole_only
def test_object_del_of_the_creds_in_use_by_the_display_is_refused(served):
    _s, qmp = served
    assert qmp.error("object-del", id="tls0") == (
        "GenericError", "object 'tls0' is in use, can not be deleted")
    assert objects(qmp).get("tls0") == "child<tls-creds-x509>"


# --- display-reload ------------------------------------------------------------------------


def test_display_reload_without_tls_is_an_error(start_tls, open_qmp):
    s = start_tls([], vnc_options="")
    qmp = open_qmp(s)
    assert qmp.error("display-reload", type="vnc", **{"tls-certs": True}) == (
        "GenericError", "vnc tls is not enabled")
    assert qmp.execute("display-reload", type="vnc") == {}


def test_display_reload_rotates_the_certificates(certs, second_certs, start_tls, open_qmp, tmp_path):
    server_dir = certs.server_copy(tmp_path / "server")
    s = start_tls([tlsharness.x509_object(server_dir, verify_peer=False)])
    qmp = open_qmp(s)
    old = tlsharness.client_context(ca=certs.ca)
    new = tlsharness.client_context(ca=second_certs.ca)
    assert tlsharness.vencrypt_login(s.vnc_port, old)[0] == tlsharness.X509_NONE

    # A failed reload changes nothing.
    (server_dir / "server-key.pem").rename(tmp_path / "key-aside.pem")
    # QEMU 7.2's text, or current QEMU's (which Porthole follows).
    assert qmp.error("display-reload", type="vnc", **{"tls-certs": True}) in (
        ("GenericError",
         f"Unable to access credentials {server_dir}/server-key.pem: No such file or directory"),
        ("GenericError",
         f"Cert '{server_dir}/server-cert.pem' without corresponding key '{server_dir}/server-key.pem'"),
    )
    assert tlsharness.vencrypt_login(s.vnc_port, old)[0] == tlsharness.X509_NONE

    # New files in the same dir: the new CA is trusted, the old one no longer matches.
    for p in second_certs.server.iterdir():
        shutil.copyfile(p, server_dir / p.name)
    (server_dir / "server-key.pem").chmod(0o600)
    assert qmp.execute("display-reload", type="vnc", **{"tls-certs": True}) == {}
    assert tlsharness.vencrypt_login(s.vnc_port, new)[0] == tlsharness.X509_NONE
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        tlsharness.vencrypt_login(s.vnc_port, old)
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value), refused.value
