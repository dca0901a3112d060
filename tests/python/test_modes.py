"""Real viewers follow the console guest's mode switches: text → 1024x768 → 1920x1080 → text.

For each viewer, one test keeps ONE viewer session open while the built-in console guest
switches modes (QMP `send-key` types `mode 1024x768`, `mode 1920x1080`, `mode text` and
Enter). After each switch the test waits until the viewer's framebuffer has the new size and
then until the picture it shows equals `screendump` of the same moment, pixel for pixel.

How each viewer's picture is read:
- TigerVNC `vncviewer` under Xvfb: a grab of its window, which has no decorations (no window
  manager) and is exactly the framebuffer (it resizes itself to each new desktop size). The
  "Press F8" hint (`-MenuKey=` disables it) and the debug statistics graph (shown at log
  level >= 100; we log at 30) would be drawn over the framebuffer, so both are off.
- gtk-vnc's `gvncviewer` under Xvfb: its window keeps its first size and *scales* a larger
  desktop into it (smoothly), so its window cannot show 1024x768 or 1920x1080 pixel for
  pixel. Its own F11 key saves gtk-vnc's framebuffer (`vnc_display_get_pixbuf`) to
  ./gvncviewer.png: that is what is compared, in the same session (xdotool presses F11). At
  720x400 the window is 1:1, so in text mode its display area is compared as well.
- vncdotool: its Python API, one connection; `captureScreen` after each switch.
- noVNC (Debian's `novnc`) in headless Chromium over Porthole's WebSocket listener: a probe
  page hands the canvas to the test as `toDataURL("image/png")` on request.

The text console's cursor blinks, so in text mode there are two correct pictures: the test
takes screendumps until it has both, checks that they differ only in the cursor's two scan
lines after the prompt, and accepts either. Graphics modes are static: two screendumps must
be identical and the viewer must show exactly that.

That the session is the same throughout: `query-vnc` lists the same single client (its
port) at every step, and no VNC_DISCONNECTED (nor a second VNC_CONNECTED) arrives.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import queue
import select
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

import harness

pytestmark = pytest.mark.porthole_only

#: The sequence every viewer follows: (command typed, or None for the boot screen; size).
STEPS = [
    (None, (720, 400)),
    ("mode 1024x768", (1024, 768)),
    ("mode 1920x1080", (1920, 1080)),
    ("mode text", (720, 400)),
]
#: Text mode: the cursor is the text cursor's scan lines 14-15 of a 9x16 cell.
CELL_W, CELL_H = 9, 16
CURSOR_LINES = (14, 15)
#: The console's prompt; the cursor of an empty input line is in the cell after it.
PROMPT = "guest> "
#: An X screen big enough for a 1920x1080 window (plus gvncviewer's menu bar).
XVFB_SCREEN = "2560x1600x24"
#: How long a viewer may take to show a switch (generous: CI machines are shared).
VIEWER_TIMEOUT = 15.0
#: How long the guest may take to switch after the Enter key.
SWITCH_TIMEOUT = 10.0
#: How long to look for the second cursor phase (a phase lasts 16 frames at 60 Hz).
BLINK_TIMEOUT = 3.0

NOVNC = Path("/usr/share/novnc")

#: QEMU key names of the characters typed here.
QCODES = {" ": "spc", "\n": "ret"}


def _pil():
    """Pillow (installed with vncdotool)."""
    try:
        from PIL import Image, ImageChops
    except ImportError:
        if harness.clients_required():
            pytest.fail("Pillow is not installed (pip install vncdotool brings it)", pytrace=False)
        pytest.skip("Pillow is not installed")
    return Image, ImageChops


# --- the machine ---------------------------------------------------------------------------


@dataclass
class ModesServer(harness.Server):
    """Porthole with the console guest, QMP, and a WebSocket listener (port 5700 + display)."""

    def build_argv(self) -> list[str]:
        argv = super().build_argv()
        i = argv.index("-vnc")
        argv[i + 1] += ",websocket=on"
        return argv

    @property
    def ws_port(self) -> int:
        return 5700 + self.display


class Machine:
    """The server, a QMP client, and what a step needs: typing, waiting, screendumps."""

    def __init__(self, server: ModesServer, qmp: harness.Qmp, workdir: Path):
        self.server = server
        self.qmp = qmp
        self.workdir = workdir
        self.dumps = 0
        self.client: Optional[dict] = None

    def type(self, text: str) -> None:
        """Types `text` (lower case, digits, space, newline) with one send-key per key."""
        for ch in text:
            key = {"type": "qcode", "data": QCODES.get(ch, ch)}
            self.qmp.execute("send-key", keys=[key], **{"hold-time": 1})

    def screendump(self):
        Image, _ = _pil()
        self.dumps += 1
        path = self.workdir / f"dump{self.dumps}.png"
        self.qmp.execute("screendump", filename=str(path), format="png")
        with Image.open(path) as im:
            return im.convert("RGB")

    def wait_size(self, size: tuple[int, int]) -> None:
        harness.wait_until(lambda: self.screendump().size == size, SWITCH_TIMEOUT,
                           f"the guest to switch to {size[0]}x{size[1]}", step=0.05)

    def expected(self, size: tuple[int, int]) -> list:
        """The pictures a viewer may correctly show now: both cursor phases in text mode,
        the one picture of a (static) graphics mode."""
        _, ImageChops = _pil()
        first = self.screendump()
        assert first.size == size, f"screendump is {first.size}, expected {size}"
        if size != (720, 400):
            again = self.screendump()
            assert again.tobytes() == first.tobytes(), "the graphics screen is not static"
            return [first]
        deadline = time.monotonic() + BLINK_TIMEOUT
        while True:
            other = self.screendump()
            assert other.size == size
            box = ImageChops.difference(first, other).getbbox()
            if box is not None:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the text cursor did not blink within {BLINK_TIMEOUT} s")
            time.sleep(0.03)
        # The only difference: the cursor's scan lines in the cell after the prompt.
        x0, y0, x1, y1 = box
        assert (x1 - x0, y1 - y0) == (CELL_W, 2), f"the phases differ in {box}"
        assert x0 == len(PROMPT) * CELL_W, f"the cursor is not after the prompt: {box}"
        assert y0 % CELL_H == CURSOR_LINES[0], f"not the cursor's scan lines: {box}"
        return [first, other]

    def vnc_client(self) -> dict:
        """The one VNC client connected now."""
        clients = self.qmp.execute("query-vnc")["clients"]
        assert len(clients) == 1, f"expected one VNC client, query-vnc lists {clients}"
        return clients[0]

    def expect_same_session(self) -> None:
        """The viewer is still the same single client."""
        assert self.client is not None
        assert self.vnc_client() == self.client, "the viewer reconnected"


@pytest.fixture
def machine(tmp_path):
    workdir = tmp_path / "porthole"
    workdir.mkdir()
    server = ModesServer(kind="porthole", workdir=workdir)
    qmp = None
    try:
        server.start()
        qmp = harness.Qmp(str(server.qmp_path))
        yield Machine(server, qmp, tmp_path)
    finally:
        if qmp is not None:
            qmp.close()
        server.kill()


def follow_modes(machine: Machine, connected: Callable[[], None],
                 shows: Callable[[tuple[int, int]], object], viewer: str) -> None:
    """Runs the steps: after `connected()` (the viewer is up), for each step types the
    command, waits for the guest, and waits until `shows(size)` (the viewer's picture, or
    None while it has none) has the step's size and equals a screendump of the moment."""
    connected()
    first = machine.qmp.wait_event("VNC_CONNECTED", timeout=harness.CLIENT_TIMEOUT)
    ev = machine.qmp.wait_event("VNC_INITIALIZED", timeout=harness.CLIENT_TIMEOUT)
    machine.client = machine.vnc_client()
    assert machine.client["service"] == ev["data"]["client"]["service"]
    assert first["data"]["client"]["service"] == machine.client["service"]
    for command, size in STEPS:
        if command is not None:
            machine.type(command + "\n")
        machine.wait_size(size)
        expected = machine.expected(size)
        last = {"picture": None}

        def matches():
            picture = shows(size)
            last["picture"] = picture
            return picture is not None and picture.size == size and any(
                picture.tobytes() == e.tobytes() for e in expected)

        try:
            harness.wait_until(matches, VIEWER_TIMEOUT, f"{viewer} to show {size}", step=0.1)
        except AssertionError:
            raise AssertionError(describe_mismatch(machine, viewer, command, last["picture"],
                                                   expected)) from None
        machine.expect_same_session()
    events = [e["event"] for e in machine.qmp.drain_events(0.1)]
    assert "VNC_DISCONNECTED" not in events and "VNC_CONNECTED" not in events, events


def describe_mismatch(machine: Machine, viewer: str, command, picture, expected) -> str:
    """Why the viewer's picture is not the screendump, with both saved for a look."""
    _, ImageChops = _pil()
    step = command or "boot screen"
    if picture is None:
        return f"{viewer} showed no picture after {step!r} within {VIEWER_TIMEOUT} s"
    seen = machine.workdir / f"{viewer}-seen.png"
    picture.save(seen)
    want = machine.workdir / f"{viewer}-screendump.png"
    expected[0].save(want)
    if picture.size != expected[0].size:
        return (f"after {step!r} {viewer} shows {picture.size[0]}x{picture.size[1]}, "
                f"screendump is {expected[0].size[0]}x{expected[0].size[1]} ({seen}, {want})")
    diff = ImageChops.difference(picture, expected[0])
    count = diff.convert("L").point(lambda v: 255 if v else 0).histogram()[255]
    return (f"after {step!r} {viewer}'s picture differs from screendump in {count} pixels "
            f"within {diff.getbbox()} ({seen}, {want})")


# --- X displays ----------------------------------------------------------------------------


class Xvfb:
    """An Xvfb big enough for a 1920x1080 window."""

    def __init__(self):
        program = harness.require_program("Xvfb")
        r, w = os.pipe()
        self.proc = subprocess.Popen(
            [program, "-displayfd", str(w), "-screen", "0", XVFB_SCREEN, "-nolisten", "tcp"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(w,), start_new_session=True)
        os.close(w)
        out = b""
        deadline = time.monotonic() + harness.START_TIMEOUT
        try:
            while not out.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([r], [], [], left)[0]:
                    raise AssertionError("Xvfb reported no display number")
                chunk = os.read(r, 64)
                if not chunk:
                    raise AssertionError(f"Xvfb exited before reporting a display ({out!r})")
                out += chunk
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(r)
        self.display = f":{int(out)}"

    def env(self, home: Path) -> dict[str, str]:
        env = dict(os.environ, DISPLAY=self.display, HOME=str(home))
        for var in ("VNC_USERNAME", "VNC_PASSWORD", "WAYLAND_DISPLAY"):
            env.pop(var, None)
        return env

    def window(self, title: str) -> Optional[tuple[int, int, int, int]]:
        """Absolute x, y, width, height of the window called `title`, if mapped."""
        run = subprocess.run([harness.require_program("xwininfo"), "-display", self.display,
                              "-name", title], capture_output=True, text=True, timeout=10)
        if run.returncode != 0:
            return None
        fields = {}
        for line in run.stdout.splitlines():
            key, _, value = line.strip().partition(":")
            fields[key] = value.strip()
        if fields.get("Map State") != "IsViewable":
            return None
        return tuple(int(fields[k]) for k in ("Absolute upper-left X", "Absolute upper-left Y",
                                              "Width", "Height"))

    def grab(self, x: int, y: int, w: int, h: int):
        """The pixels of the screen area (x, y, w, h), as the X server has them."""
        from PIL import ImageGrab

        return ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=self.display).convert("RGB")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def xvfb():
    _pil()
    x = Xvfb()
    yield x
    x.stop()


def spawn(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


# --- the tests -----------------------------------------------------------------------------


def test_tigervnc_window_follows_mode_switches_and_equals_screendump(machine, xvfb, tmp_path):
    program = harness.require_program("vncviewer")
    home = tmp_path / "tiger-home"
    home.mkdir()
    log = tmp_path / "vncviewer.log"
    title = "Porthole - TigerVNC"
    proc = None

    def connected():
        nonlocal proc
        proc = spawn([program, "-AlertOnFatalError=0", "-ReconnectOnError=0", "-Shared=1",
                      "-FullScreen=0", "-MenuKey=", "-SecurityTypes", "None",
                      "-Log", "*:stderr:30", f"127.0.0.1::{machine.server.vnc_port}"],
                     xvfb.env(home), tmp_path, log)

    def shows(size):
        assert proc.poll() is None, f"vncviewer exited:\n{log.read_text(errors='replace')[-3000:]}"
        geometry = xvfb.window(title)
        if geometry is None or geometry[2:] != size:
            return None
        return xvfb.grab(*geometry)

    try:
        follow_modes(machine, connected, shows, "tigervnc")
    finally:
        if proc is not None:
            stop(proc)


def test_gvncviewer_framebuffer_follows_mode_switches_and_equals_screendump(machine, xvfb,
                                                                            tmp_path):
    program = harness.require_program("gvncviewer")
    xdotool = harness.require_program("xdotool")
    Image, _ = _pil()
    home = tmp_path / "gvnc-home"
    home.mkdir()
    log = tmp_path / "gvncviewer.log"
    env = xvfb.env(home)
    saved = home / "gvncviewer.png"
    proc = None
    window: dict[str, str] = {}

    def connected():
        nonlocal proc
        proc = spawn([program, f"127.0.0.1:{machine.server.display}"], env, home, log)

    def window_id() -> Optional[str]:
        if "id" not in window:
            run = subprocess.run([xdotool, "search", "--onlyvisible", "--name", "GVncViewer$"],
                                 env=env, capture_output=True, text=True, timeout=10)
            ids = run.stdout.split()
            if len(ids) != 1:
                return None
            window["id"] = ids[0]
        return window["id"]

    def shows(size):
        assert proc.poll() is None, f"gvncviewer exited:\n{log.read_text(errors='replace')[-3000:]}"
        wid = window_id()
        if wid is None:
            return None
        # F11 makes gvncviewer save gtk-vnc's framebuffer to ./gvncviewer.png.
        saved.unlink(missing_ok=True)
        subprocess.run([xdotool, "windowfocus", "--sync", wid, "key", "F11"], env=env,
                       check=True, capture_output=True, timeout=10)
        deadline = time.monotonic() + 5
        while True:
            try:
                with Image.open(saved) as im:
                    picture = im.convert("RGB")
                break
            except (FileNotFoundError, OSError, SyntaxError):
                if time.monotonic() > deadline:
                    raise AssertionError("gvncviewer saved no screenshot after F11") from None
                time.sleep(0.02)
        if picture.size == size == (720, 400):
            # 1:1 in its window: the display area under the menu bar must be that picture.
            x, y, w, h = xvfb.window("Porthole - GVncViewer")
            assert w == 720, f"gvncviewer's window is {w}x{h}"
            shown = xvfb.grab(x, y + h - 400, 720, 400)
            if shown.tobytes() != picture.tobytes():
                return shown
        return picture

    try:
        follow_modes(machine, connected, shows, "gvncviewer")
    finally:
        if proc is not None:
            stop(proc)


def test_vncdotool_api_follows_mode_switches_and_equals_screendump(machine, tmp_path):
    harness.require_program("vncdo")
    Image, _ = _pil()
    from vncdotool import api

    client = None
    n = 0

    def connected():
        nonlocal client
        client = api.connect(f"127.0.0.1::{machine.server.vnc_port}", password=None,
                             timeout=harness.CLIENT_TIMEOUT)

    def shows(size):
        nonlocal n
        n += 1
        path = tmp_path / f"vncdotool{n}.png"
        # A full (non-incremental) refresh, then the picture saved: what a user does.
        client.captureScreen(str(path))
        with Image.open(path) as im:
            return im.convert("RGB")

    try:
        follow_modes(machine, connected, shows, "vncdotool")
    finally:
        if client is not None:
            # The reactor thread stays (it cannot be restarted); the connection is closed.
            client.disconnect()


# --- noVNC in Chromium ---------------------------------------------------------------------

PAGE = """<!doctype html><html><body style="margin:0"><div id="screen"></div>
<script type="module">
import RFB from './novnc/core/rfb.js';
const q = new URLSearchParams(location.search);
function send(path, body) { return fetch(path, {method: 'POST', body: JSON.stringify(body)}); }
const rfb = new RFB(document.getElementById('screen'), q.get('url'));
rfb.scaleViewport = false;
rfb.clipViewport = false;
rfb.resizeSession = false;
rfb.addEventListener('connect', () => send('/event', {type: 'connect'}));
rfb.addEventListener('disconnect', e => send('/event', {type: 'disconnect', clean: e.detail.clean}));
async function serve() {
  for (;;) {
    let r;
    try { r = await fetch('/command'); } catch (e) { return; }
    if (r.status !== 200) continue;
    if (await r.text() !== 'capture') continue;
    const canvas = document.querySelector('#screen canvas');
    await send('/frame', {width: canvas.width, height: canvas.height,
                          png: canvas.toDataURL('image/png')});
  }
}
serve();
</script></body></html>"""


class Page:
    """A loopback HTTP server with the probe page and noVNC; hands out capture requests and
    collects the frames and events the page posts."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="novnc-modes-"))
        (self.dir / "page.html").write_text(PAGE)
        os.symlink(NOVNC, self.dir / "novnc")
        self.commands: queue.Queue[str] = queue.Queue()
        self.frames: queue.Queue[dict] = queue.Queue()
        self.events: list[dict] = []
        page = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(page.dir), **kw)

            def do_GET(self):
                if self.path == "/command":
                    try:
                        command = page.commands.get(timeout=1.0)
                    except queue.Empty:
                        self.send_response(204)
                        self.end_headers()
                        return
                    body = command.encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/frame":
                    page.frames.put(body)
                elif self.path == "/event":
                    page.events.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def capture(self):
        """The page's canvas now, as an image."""
        Image, _ = _pil()
        self.commands.put("capture")
        frame = self.frames.get(timeout=VIEWER_TIMEOUT)
        data = frame["png"].split(",", 1)[1]
        if frame["width"] == 0 or frame["height"] == 0:
            return None
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            picture = im.convert("RGB")
        assert picture.size == (frame["width"], frame["height"])
        return picture

    def close(self):
        self.httpd.shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_novnc_canvas_follows_mode_switches_and_equals_screendump(machine, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium or not (NOVNC / "core" / "rfb.js").exists():
        msg = "chromium and novnc are needed (apt-get install chromium novnc)"
        if harness.clients_required():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    page = Page()
    profile = tmp_path / "chromium-profile"
    url = f"http://127.0.0.1:{page.port}/page.html?" + urllib.parse.urlencode(
        {"url": f"ws://127.0.0.1:{machine.server.ws_port}/"})
    proc = None

    def connected():
        nonlocal proc
        proc = spawn([chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                      "--disable-dev-shm-usage", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync", "--disable-quic", f"--user-data-dir={profile}", url],
                     dict(os.environ), tmp_path, tmp_path / "chromium.log")
        harness.wait_until(lambda: any(e["type"] == "connect" for e in page.events),
                           harness.CLIENT_TIMEOUT, "noVNC to connect")

    def shows(size):
        assert proc.poll() is None, "chromium exited"
        return page.capture()

    try:
        follow_modes(machine, connected, shows, "novnc")
        assert machine.vnc_client()["websocket"] is True
        assert [e["type"] for e in page.events] == ["connect"], page.events
    finally:
        if proc is not None:
            stop(proc)
        page.close()
