"""Fixtures for the QMP suite (issue #3).

Run from the repository root:

    python3 -m pytest tests/python -q -p no:cacheprovider

Environment:
  PORTHOLE_BIN               the binary under test (default target/release/porthole)
  PORTHOLE_QMP_TARGET=qemu   run the ordinary tests against QEMU 7.2 instead, to check that
                             they describe QEMU's behaviour (Porthole-only tests are
                             deselected; differential tests then compare QEMU with itself)
  PORTHOLE_REQUIRE_CLIENTS=1 a missing QEMU or viewer fails instead of skipping (CI)
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

#: No single test may run longer than this (a hung server or client fails, not hangs).
TEST_WATCHDOG = 60


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "porthole_only: behaviour QEMU 7.2 does not have (not run against QEMU)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if harness.target() != "qemu":
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("porthole_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


class _Watchdog(Exception):
    pass


@pytest.fixture(autouse=True)
def watchdog():
    """Fails a test that runs longer than TEST_WATCHDOG seconds."""

    def fire(signum, frame):
        raise _Watchdog(f"test exceeded {TEST_WATCHDOG} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(TEST_WATCHDOG)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def start_server(tmp_path):
    """A function starting a server: start_server(kind=None, **Server options) -> Server.

    kind defaults to the suite's target (Porthole unless PORTHOLE_QMP_TARGET=qemu). Every
    server started is killed at the end of the test.
    """
    servers: list[harness.Server] = []

    def start(kind: str | None = None, **opts) -> harness.Server:
        kind = kind or harness.target()
        workdir = tmp_path / f"{kind}{len(servers)}"
        workdir.mkdir()
        server = harness.Server(kind=kind, workdir=workdir, **opts)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def open_qmp():
    """A function connecting a qemu.qmp client: open_qmp(server_or_address, negotiate=True).

    Every client is closed at the end of the test.
    """
    clients: list[harness.Qmp] = []

    def connect(target, negotiate: bool = True) -> harness.Qmp:
        address = str(target.qmp_path) if isinstance(target, harness.Server) else target
        client = harness.Qmp(address, negotiate=negotiate)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def server(start_server):
    """The suite's target with a VNC display (password=on) and a QMP unix socket."""
    return start_server(password=True, name="vm0")


@pytest.fixture
def qmp(server, open_qmp):
    """A negotiated qemu.qmp client on `server`."""
    return open_qmp(server)


@pytest.fixture
def raw(server):
    """A raw QMP client on `server` (greeting read, not negotiated)."""
    client = server.raw()
    yield client
    client.close()
