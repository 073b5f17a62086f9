"""The LLM backend against a loopback OpenAI-compatible server: replies, errors, timeouts, garbage,
cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from genms.crystal.composition import canonical_formula
from genms.language.llm import LLMProposer, LLMRanker
from genms.language.llm_client import ChatClient, LLMConfig, LLMError, ReplyCache
from genms.language.proposer import ProposerConfig, build_proposer, build_ranker
from genms.language.request import parse_request
from genms.language.rhi import RHi

SECRET = "sk-test-0123456789"


@pytest.fixture
def cfg(llm_server, tmp_path, monkeypatch):
    monkeypatch.setenv("GENMS_TEST_KEY", SECRET)
    return LLMConfig(
        base_url=llm_server.base_url,
        model="test-model",
        api_key_env="GENMS_TEST_KEY",
        timeout_s=2.0,
        max_retries=2,
        backoff_s=0.01,
        cache_dir=str(tmp_path / "llm"),
        max_calls=3,
    )


def _client(cfg, delays=None, cache=True):
    sleep = (lambda s: delays.append(s)) if delays is not None else (lambda s: None)
    return ChatClient(cfg, ReplyCache(cfg.cache_dir) if cache else None, sleep=sleep)


MESSAGES = [{"role": "user", "content": "Give perovskites"}]


def test_good_reply_key_header_and_cache_hit(cfg, llm_server, caplog, tmp_path):
    llm_server.script.append(("reply", "SrTiO3\nBaTiO3"))
    caplog.set_level(logging.DEBUG)
    client = _client(cfg)
    first = client.complete(MESSAGES, seed=3)
    assert first.text == "SrTiO3\nBaTiO3" and not first.cached
    req = llm_server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert req["body"]["model"] == "test-model" and req["body"]["seed"] == 3
    second = client.complete(MESSAGES, seed=3)  # same model/prompt/temperature/seed: from disk
    assert second.cached and second.text == first.text and len(llm_server.requests) == 1
    llm_server.script.append(("reply", "CaTiO3"))
    assert client.complete(MESSAGES, seed=4).text == "CaTiO3"  # another seed is another key
    assert len(llm_server.requests) == 2
    logged = caplog.text + "".join(p.read_text() for p in (tmp_path / "llm").rglob("*.json"))
    assert SECRET not in logged


def test_retries_with_backoff_then_succeeds(cfg, llm_server):
    llm_server.script.extend(
        [("status", 500, "boom"), ("status", 429, "slow down"), ("reply", "NaCl")]
    )
    delays: list[float] = []
    reply = _client(cfg, delays).complete(MESSAGES)
    assert reply.text == "NaCl" and reply.attempts == 3
    assert delays == [pytest.approx(0.01), pytest.approx(0.02)]


def test_client_error_fails_at_once_and_redacts(cfg, llm_server):
    llm_server.script.append(("status", 401, f"invalid key {SECRET}"))
    with pytest.raises(LLMError, match="HTTP 401") as err:
        _client(cfg).complete(MESSAGES)
    assert SECRET not in str(err.value) and "***" in str(err.value)
    assert len(llm_server.requests) == 1


def test_timeouts_exhaust_retries(cfg, llm_server):
    fast = LLMConfig(**{**cfg.__dict__, "timeout_s": 0.2, "max_retries": 1})
    llm_server.script.extend([("sleep", 0.6, "late"), ("sleep", 0.6, "late")])
    with pytest.raises(LLMError, match="no usable reply after 2 attempts"):
        _client(fast, cache=False).complete(MESSAGES)


def test_garbage_http_body_is_retried(cfg, llm_server):
    llm_server.script.extend(
        [("raw", b"<html>gateway</html>"), ("raw", b'{"choices": []}'), ("reply", "KCl")]
    )
    assert _client(cfg).complete(MESSAGES).text == "KCl"
    llm_server.script.extend([("raw", b"not json")] * 3)
    with pytest.raises(LLMError, match="not an OpenAI chat completion"):
        _client(cfg, cache=False).complete([{"role": "user", "content": "again"}])


def test_config_errors():
    with pytest.raises(LLMError, match="must start with http"):
        ChatClient(LLMConfig(base_url="file:///etc/passwd", model="m"))
    with pytest.raises(LLMError, match="model is empty"):
        ChatClient(LLMConfig())


def test_proposer_reasks_after_garbage_and_filters(cfg, llm_server, reference):
    llm_server.script.extend([
        ("reply", "I'm sorry, I can't list formulae. __import__('os').system('echo hi')"),
        ("reply", "1. CsSnCl3\n2. KMgCl3\n- **RbGeCl3**\nNaCl\nCsPbCl3\nCsSnCl3 (a nice one)"),
    ])
    proposer = LLMProposer(cfg, reference, client=_client(cfg))
    request = parse_request("a novel chloride perovskite")
    got = proposer.propose(request, 3, seed=7)
    assert [r["body"]["seed"] for r in llm_server.requests] == [7, 8]  # re-asked with a new seed
    prompt = llm_server.requests[0]["body"]["messages"][1]["content"]
    assert "chloride perovskite" in prompt and "must contain: Cl" in prompt
    assert "CsPbCl3" in prompt  # the known family member is listed for de-duplication
    assert [c.formula for c in got] == ["CsSnCl3", "KMgCl3", "RbGeCl3"]
    assert all(c.source == "llm:test-model" and "reply 2" in c.reasons[0] for c in got)
    scored = RHi(reference).score(request, got)
    assert all(s.passed for s in scored)


def test_proposer_gives_up_on_garbage(cfg, llm_server, reference):
    llm_server.script.extend([("reply", "no idea")] * 3)
    with pytest.raises(LLMError, match="no chemical formulae in 3 replies"):
        LLMProposer(cfg, reference, client=_client(cfg)).propose("a novel spinel", 5, 0)


def test_ranker_and_builders(cfg, llm_server, reference):
    llm_server.script.append(("reply", "KMgCl3\nCsSnCl3"))
    ranker = LLMRanker(cfg, client=_client(cfg))
    scores, note = ranker.rank(
        parse_request("a novel chloride perovskite"), ["CsSnCl3", "RbGeCl3", "KMgCl3"]
    )
    assert scores == [0.5, 0.0, 1.0] and "1 not ranked" in note
    assert llm_server.requests[0]["body"]["temperature"] == 0.0
    pcfg = ProposerConfig(backend="llm", llm=cfg)
    assert isinstance(build_proposer(pcfg, reference), LLMProposer)
    assert isinstance(build_ranker(pcfg), LLMRanker) and build_ranker(ProposerConfig()) is None


def test_rhi_with_llm_ranking_over_loopback(cfg, llm_server, reference):
    llm_server.script.append(("reply", "CsSnCl3\nKMgCl3"))
    scored = RHi(reference, ranker=LLMRanker(cfg, client=_client(cfg))).score(
        "a novel chloride perovskite", ["KMgCl3", "CsSnCl3"])
    by = {s.formula: s for s in scored}
    assert (
        by["CsSnCl3"].check("llm_rank").score == 1.0
        and "test-model" in by["CsSnCl3"].check("llm_rank").reason
    )
    assert canonical_formula(scored[0].formula) in ("CsSnCl3", "KMgCl3")
    cached = json.loads(next(Path(cfg.cache_dir).rglob("*.json")).read_text())
    assert cached["model"] == "test-model" and "prompt_sha256" in cached
