"""noVNC (Debian's `novnc` package) in headless Chromium against the WebSocket listener:
ws with a VNC password (right and wrong), and wss with x509 credentials and no client
certificate (the case QEMU's always-on CertificateRequest breaks in headless Chromium)."""

import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from pathlib import Path

import pytest

import harness
import tlsharness
from tlsharness import certs, start_tls  # noqa: F401  (fixtures)

NOVNC = Path("/usr/share/novnc")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RESULT_TIMEOUT = 25.0

PROBE = """<!doctype html><html><body><script type="module">
import RFB from './novnc/core/rfb.js';
const q = new URLSearchParams(location.search);
let done = false;
function report(status, detail) {
  if (done) return; done = true;
  fetch('/result?status=' + status + '&detail=' + encodeURIComponent(detail || ''));
}
try {
  const rfb = new RFB(document.body, q.get('url'), {credentials: {password: q.get('password') || ''}});
  rfb.addEventListener('connect', () => report('connected', rfb._fbName || ''));
  rfb.addEventListener('securityfailure', e => report('securityfailure', e.detail.reason || ''));
  rfb.addEventListener('credentialsrequired', () => rfb.sendCredentials({password: q.get('password') || ''}));
  rfb.addEventListener('disconnect', e => report('disconnected', String(e.detail.clean)));
} catch (e) { report('error', String(e)); }
</script></body></html>"""


def need_clients():
    if CHROMIUM and (NOVNC / "core" / "rfb.js").exists():
        return
    msg = "chromium and novnc are needed (apt-get install chromium novnc)"
    if os.environ.get("PORTHOLE_REQUIRE_CLIENTS"):
        pytest.fail(msg)
    pytest.skip(msg)


class Probe:
    """A loopback HTTP server with the probe page and noVNC, collecting one result."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="novnc-probe-"))
        (self.dir / "probe.html").write_text(PROBE)
        os.symlink(NOVNC, self.dir / "novnc")
        self.result = None
        self.event = threading.Event()
        probe = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(probe.dir), **kw)

            def do_GET(self):
                if self.path.startswith("/result"):
                    q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                    probe.result = (q.get("status", [""])[0], q.get("detail", [""])[0])
                    probe.event.set()
                    self.send_response(204)
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def run(self, ws_url, password=""):
        url = f"http://127.0.0.1:{self.port}/probe.html?" + urllib.parse.urlencode(
            {"url": ws_url, "password": password})
        profile = tempfile.mkdtemp(prefix="novnc-chromium-")
        argv = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic", "--ignore-certificate-errors",
                f"--user-data-dir={profile}", url]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            self.event.wait(RESULT_TIMEOUT)
        finally:
            proc.kill()
            proc.wait()
            shutil.rmtree(profile, ignore_errors=True)
        return self.result

    def close(self):
        self.httpd.shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def probe():
    need_clients()
    p = Probe()
    yield p
    p.close()


def test_novnc_ws_with_vnc_password(start_tls, probe):
    server = start_tls([], vnc_options="websocket=on", password=True)
    url = f"ws://127.0.0.1:{5700 + server.display}/"
    assert probe.run(url, tlsharness.PASSWORD) == ("connected", "Porthole")


def test_novnc_ws_wrong_password(start_tls, probe):
    server = start_tls([], vnc_options="websocket=on", password=True)
    status, _detail = probe.run(f"ws://127.0.0.1:{5700 + server.display}/", "wrong-pw")
    assert status == "securityfailure"


@pytest.mark.porthole_only
def test_novnc_wss_without_client_certificate(start_tls, certs, probe):
    server = start_tls([tlsharness.x509_object(certs.server, verify_peer=False)],
                       vnc_options="tls-creds=tls0,websocket=on")
    assert probe.run(f"wss://127.0.0.1:{5700 + server.display}/") == ("connected", "Porthole")
