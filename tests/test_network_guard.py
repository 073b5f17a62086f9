"""The test-wide network guard (tests/conftest.py): loopback only."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import NETWORK_ATTEMPTS, NetworkBlocked, is_loopback


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
    ("::ffff:127.0.0.1", True), ("10.0.0.1", False), ("8.8.8.8", False), ("example.com", False),
    ("0.0.0.0", False), ("::", False),
])
def test_loopback_addresses(host, ok):
    assert is_loopback(host) is ok


@pytest.mark.parametrize("family, address", [
    (socket.AF_INET, ("192.0.2.1", 80)),  # TEST-NET-1: never routed
    (socket.AF_INET, ("example.com", 443)),
    (socket.AF_INET6, ("2001:db8::1", 80, 0, 0)),
])
def test_a_connection_elsewhere_is_refused_and_recorded(family, address):
    before = len(NETWORK_ATTEMPTS)
    with socket.socket(family, socket.SOCK_STREAM) as s:
        with pytest.raises(NetworkBlocked, match="tests may not use the network"):
            s.connect(address)
        with pytest.raises(NetworkBlocked):
            s.connect_ex(address)
    assert len(NETWORK_ATTEMPTS) == before + 2
    del NETWORK_ATTEMPTS[before:]  # this test made the attempts on purpose


def test_udp_sendto_elsewhere_is_refused():
    before = len(NETWORK_ATTEMPTS)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(NetworkBlocked):
            s.sendto(b"x", ("192.0.2.1", 53))
    del NETWORK_ATTEMPTS[before:]


def test_loopback_connections_work():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    t = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    t.start()
    with socket.create_connection(("localhost", port), timeout=5) as c:
        c.sendall(b"hi")
    t.join(5)
    accepted[0].close()
    server.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(b"x", ("127.0.0.1", port))


def test_a_test_that_swallows_the_error_still_fails(tmp_path):
    """Run pytest on a test that catches the refusal: the guard fails it anyway."""
    test = tmp_path / "test_swallow.py"
    test.write_text(
        "import socket\n"
        "def test_swallow():\n"
        "    try:\n"
        "        socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
        "    except OSError:\n"
        "        pass\n")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p",
                           "no:cacheprovider", "--rootdir", str(tmp_path), str(test)], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "the test tried to use the network: 192.0.2.1:80" in proc.stdout
