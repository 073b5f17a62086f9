"""The documented local set-up: `genms propose ... proposer=llm` against an OpenAI-compatible
server on
127.0.0.1, with no API key, exactly as docs/language.md writes the command."""

from __future__ import annotations

import json

from genms.cli import main


def test_propose_with_a_local_server_and_no_key(llm_server, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm_server.script.extend(
        [
            (
                "reply",
                "KSnCl3\nRbZnCl3\nNaGeCl3\nCsPbCl3",
            ),  # the proposals (CsPbCl3 is a known one)
            ("reply", "RbZnCl3\nKSnCl3\nNaGeCl3"),  # R_hi's ranking of the survivors
        ]
    )
    out = tmp_path / "formulae.json"
    main(
        [
            "propose",
            "a novel chloride perovskite",
            "n=3",
            "proposer=llm",
            f"proposer.llm.base_url={llm_server.base_url}",
            "proposer.llm.model=local-model",
            f"proposer.llm.cache_dir={tmp_path / 'llm'}",
            "proposer.reference.source=shipped",
            f"output={out}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )
    text = capsys.readouterr().out
    assert "RbZnCl3" in text and "llm" in text
    assert all(
        "Authorization" not in r["headers"] for r in llm_server.requests
    )  # no key: no header
    assert {r["body"]["model"] for r in llm_server.requests} == {"local-model"}
    assert all(r["path"] == "/v1/chat/completions" for r in llm_server.requests)
    results = json.loads(out.read_text())["results"]
    passed = [r["formula"] for r in results if r["passed"]]
    assert set(passed) == {
        "KSnCl3",
        "RbZnCl3",
        "NaGeCl3",
    }  # CsPbCl3 is known; the request asks for novel ones
    by = {r["formula"]: r for r in results}
    assert by["RbZnCl3"]["checks"]["llm_rank"]["score"] == 1.0
