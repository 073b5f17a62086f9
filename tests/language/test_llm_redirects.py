"""The LLM client sends the API key to base_url's origin only, and caches replies per endpoint."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genms.language.llm_client import ChatClient, LLMConfig, LLMError, ReplyCache
from tests.language.conftest import ScriptedServer

SECRET = "sk-test-redirect-0123456789"
MESSAGES = [{"role": "user", "content": "Give spinels"}]


class Recorder:
    """A loopback server that records every request and answers each with ``answer(handler)``."""

    def __init__(self, answer) -> None:
        self.requests: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length", 0) or 0)
                if length:
                    self.rfile.read(length)
                recorder.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers)}
                )
                answer(self)

            do_GET = do_POST = _handle  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _redirect(location: str, code: int):
    def answer(handler):
        handler.send_response(code)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return answer


def _not_found(handler):
    handler.send_response(404)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@pytest.fixture
def servers():
    made: list[Recorder] = []

    def make(answer) -> Recorder:
        made.append(Recorder(answer))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _client(base_url: str, tmp_path, monkeypatch) -> ChatClient:
    monkeypatch.setenv("GENMS_TEST_KEY", SECRET)
    cfg = LLMConfig(
        base_url=base_url,
        model="m",
        api_key_env="GENMS_TEST_KEY",
        timeout_s=2.0,
        max_retries=0,
        cache=False,
    )
    return ChatClient(cfg, None, sleep=lambda s: None)


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_to_another_origin_is_not_followed(servers, tmp_path, monkeypatch, code):
    other = servers(_not_found)
    # "localhost" and "127.0.0.1" are different origins (same machine: the request would arrive).
    first = servers(_redirect(f"http://localhost:{other.port}/v1/chat/completions", code))
    with pytest.raises(LLMError) as err:
        _client(f"http://127.0.0.1:{first.port}/v1", tmp_path, monkeypatch).complete(MESSAGES)
    if code in (301, 302, 303):
        assert "redirected" in str(err.value) and "another origin" in str(err.value)
    assert SECRET not in str(err.value)
    assert first.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert other.requests == []  # nothing, and so no key, reached the other origin


def test_a_same_origin_redirect_does_not_carry_the_key(servers, tmp_path, monkeypatch):
    holder: dict = {}
    server = servers(lambda h: (_redirect(f"http://127.0.0.1:{holder['port']}/elsewhere", 302)(h)
                                if h.path.endswith("/chat/completions") else _not_found(h)))
    holder["port"] = server.port
    with pytest.raises(LLMError, match="HTTP 404"):
        _client(f"http://127.0.0.1:{server.port}/v1", tmp_path, monkeypatch).complete(MESSAGES)
    assert [r["path"] for r in server.requests] == ["/v1/chat/completions", "/elsewhere"]
    assert "Authorization" in server.requests[0]["headers"]
    assert "Authorization" not in server.requests[1]["headers"]


def test_reply_cache_key_includes_base_url_and_model():
    base = ReplyCache.key("m", MESSAGES, 0.7, 1, 100, "http://127.0.0.1:8000/v1")
    assert base == ReplyCache.key("m", MESSAGES, 0.7, 1, 100, "http://127.0.0.1:8000/v1/")
    assert base != ReplyCache.key("m", MESSAGES, 0.7, 1, 100, "http://127.0.0.1:9000/v1")
    assert base != ReplyCache.key("m2", MESSAGES, 0.7, 1, 100, "http://127.0.0.1:8000/v1")


def test_a_new_endpoint_is_asked_not_served_the_old_replies(llm_server, tmp_path, monkeypatch):
    second = ScriptedServer()
    try:
        monkeypatch.setenv("GENMS_TEST_KEY", SECRET)
        cache = ReplyCache(tmp_path / "llm")
        llm_server.script.append(("reply", "MgAl2O4"))
        second.script.append(("reply", "ZnFe2O4"))
        for server, expected in ((llm_server, "MgAl2O4"), (second, "ZnFe2O4")):
            cfg = LLMConfig(
                base_url=server.base_url,
                model="m",
                api_key_env="GENMS_TEST_KEY",
                timeout_s=2.0,
                max_retries=0,
                cache_dir=str(tmp_path / "llm"),
            )
            reply = ChatClient(cfg, cache, sleep=lambda s: None).complete(MESSAGES, seed=1)
            assert reply.text == expected and not reply.cached
        again = LLMConfig(base_url=llm_server.base_url, model="m", api_key_env="GENMS_TEST_KEY",
                          cache_dir=str(tmp_path / "llm"))
        assert (
            ChatClient(again, cache).complete(MESSAGES, seed=1).text == "MgAl2O4"
        )  # its own cached reply
    finally:
        second.close()
