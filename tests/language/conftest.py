"""Fixtures of the language-level tests: a small reference set and a scripted loopback LLM
server."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genms.data.known import KnownCompound, KnownCompounds
from genms.data.reference import ReferenceFormulae

#: (formula, space group) of a few well-known compounds.
KNOWN = [
    ("SrTiO3", 221),
    ("BaTiO3", 99),
    ("CaTiO3", 62),
    ("LaAlO3", 167),
    ("KMgF3", 221),
    ("CsPbCl3", 221),
    ("CsPbBr3", 221),
    ("KCaCl3", 62),
    ("MgAl2O4", 227),
    ("ZnFe2O4", 227),
    ("CoFe2O4", 227),
    ("ZnCr2O4", 227),
    ("Gd2Ti2O7", 227),
    ("La2Zr2O7", 227),
    ("Y2Sn2O7", 227),
    ("NaCl", 225),
    ("MgO", 225),
    ("TiNiSn", 216),
    ("Co2MnSi", 225),
    ("CuAlS2", 122),
    ("NaCrS2", 166),
    ("MoS2", 194),
    ("Fe2O3", 167),
    ("LiFePO4", 62),
    ("Mg2SiO4", 62),
    ("ZrNiSn", 216),
    ("CuInSe2", 122),
    ("KBr", 225),
    ("SrZrO3", 62),
    ("CsCl", 221),
]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Caches (LLM replies, Wikipedia, known tables) go to a fresh folder per test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def known() -> KnownCompounds:
    return KnownCompounds(
        [KnownCompound(f, sg, f"mp-{i}", "mp_20") for i, (f, sg) in enumerate(KNOWN)], "test"
    )


@pytest.fixture
def reference(known) -> ReferenceFormulae:
    return ReferenceFormulae(known)


class ScriptedServer:
    """An OpenAI-compatible /v1/chat/completions server on 127.0.0.1 that plays a script.

    Each script entry is one of: ``("reply", text)``, ``("status", code, body)``,
    ``("sleep", seconds, text)`` (answers after a delay), ``("raw", bytes)``.
    When the script is empty it answers HTTP 500.
    """

    def __init__(self) -> None:
        self.script: deque = deque()
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                )
                step = (
                    server.script.popleft()
                    if server.script
                    else ("status", 500, "script exhausted")
                )
                if step[0] == "sleep":
                    time.sleep(step[1])
                    step = ("reply", step[2])
                if step[0] == "reply":
                    data = json.dumps(
                        {
                            "id": "x",
                            "object": "chat.completion",
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": step[1]},
                                    "finish_reason": "stop",
                                }
                            ],
                        }
                    )
                    self._send(200, data.encode())
                elif step[0] == "status":
                    self._send(step[1], str(step[2]).encode())
                else:
                    self._send(200, step[1])

            def _send(self, code: int, payload: bytes) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def llm_server():
    server = ScriptedServer()
    yield server
    server.close()
