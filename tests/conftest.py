"""Test-wide settings: CPU only, no network, quiet W&B, Ray without usage stats.

No network: every test process (each xdist worker included) refuses a socket connection to
anything but the loopback interface (127.0.0.0/8, ::1, "localhost"); the attempt raises
:class:`NetworkBlocked` and fails the test that made it, even when the code under test catches
the error. Loopback stays open for the test servers and a private Ray.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

import absl.logging
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


class NetworkBlocked(ConnectionRefusedError):
    """A test tried to reach a host other than this machine's loopback interface."""


#: Every blocked attempt of this process, as "host:port" (the autouse fixture fails the test).
NETWORK_ATTEMPTS: list[str] = []


def is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").lower()
    if host in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _check(sock: socket.socket, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        if not is_loopback(address[0]):
            where = f"{address[0]}:{address[1] if len(address) > 1 else '?'}"
            NETWORK_ATTEMPTS.append(where)
            raise NetworkBlocked(
                f"tests may not use the network (tests/conftest.py): connection to {where}"
            )


def _install_network_guard() -> None:
    """Wraps connect, connect_ex and sendto of every Python socket in this process."""
    if getattr(socket.socket.connect, "__wrapped__", None) is not None:
        return
    connect, connect_ex, sendto = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.socket.sendto,
    )

    def guarded_connect(self, address):
        _check(self, address)
        return connect(self, address)

    def guarded_connect_ex(self, address):
        _check(self, address)
        return connect_ex(self, address)

    def guarded_sendto(self, data, *args):  # sendto(data, address) or sendto(data, flags, address)
        if args:
            _check(self, args[-1])
        return sendto(self, data, *args)

    for name, fn, original in (
        ("connect", guarded_connect, connect),
        ("connect_ex", guarded_connect_ex, connect_ex),
        ("sendto", guarded_sendto, sendto),
    ):
        fn.__wrapped__ = original
        setattr(socket.socket, name, fn)


_install_network_guard()


@pytest.fixture(autouse=True)
def _no_network():
    """Fails the test when it (or code it called) tried to reach a non-loopback address."""
    before = len(NETWORK_ATTEMPTS)
    yield
    attempts = NETWORK_ATTEMPTS[before:]
    if attempts:
        del NETWORK_ATTEMPTS[before:]
        pytest.fail(f"the test tried to use the network: {', '.join(attempts)}", pytrace=False)


# absl (imported by flax) binds its log handler to the sys.stderr of the moment, here pytest's
# capture file; a Hydra app's logging setup closes every handler, and absl's closes that stream
# with it. Bound to the process's own stderr, it is left open.
absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason=f"{SHARED_DATA} is absent")
    for item in items:
        if not SHARED_DATA.is_dir() and "shared_data" in item.keywords:
            item.add_marker(skip)
        # Local Ray clusters started by two xdist workers at once compete for the 2 cores and
        # time out; `--dist loadgroup` keeps every Ray test on one worker.
        if "ray" in item.nodeid.lower():
            item.add_marker(pytest.mark.xdist_group("ray"))


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def shared_data_dir() -> Path:
    return SHARED_DATA
