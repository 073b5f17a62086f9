"""`genms propose` and `genms eval language` end to end (in-process, offline, shipped reference)."""

from __future__ import annotations

import json

import pytest
import yaml

from genms.cli import main

SHIPPED = "proposer.reference.source=shipped"


def test_propose_prints_ranked_formulae_with_reasons(tmp_path, capsys):
    out = tmp_path / "formulae.json"
    main(["propose", "give me 4 novel chloride perovskites", SHIPPED, f"output={out}",
          f"hydra.run.dir={tmp_path / 'run'}"])
    text = capsys.readouterr().out
    assert "crystal family: perovskite" in text and "must contain: Cl" in text
    assert "  1. " in text and "  4. " in text and "  5. " not in text
    assert (
        "tolerance factor" in text
        and "novel: not in the 58,934 reference formulae from MP-20" in text
        and "charge neutral" in text
    )
    data = json.loads(out.read_text())
    assert data["request"]["family"] == "perovskite" and data["request"]["count"] == 4
    assert len(data["results"]) == 4 and all(r["passed"] for r in data["results"])
    assert set(data["results"][0]["checks"]) >= {
        "syntax",
        "uniqueness",
        "ratio",
        "elements",
        "charge",
    }


@pytest.mark.parametrize("request_text, fragment", [
    ("an oxide with no oxygen", "requires O"),
    ("banana bread", "could not understand"),
    ("", "no request given"),
    ("a novel oxyfluoride perovskite", "no formula satisfies the request"),
])
def test_propose_bad_requests_end_with_a_message(tmp_path, capsys, request_text, fragment):
    with pytest.raises(SystemExit) as exc:
        main(["propose", request_text, SHIPPED, f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and fragment in err and "Traceback" not in err


def test_propose_bad_config_value(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "propose",
                "a spinel",
                SHIPPED,
                "proposer.backend=magic",
                f"hydra.run.dir={tmp_path / 'run'}",
            ]
        )
    assert exc.value.code == 2 and "proposer.backend" in capsys.readouterr().err


def test_eval_language_writes_json(tmp_path, capsys):
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text(
        yaml.safe_dump(
            {
                "element_constraint": [{"request": "a novel spinel with Zn", "element": "Zn"}],
                "element_exclusion": [
                    {"request": "a novel perovskite without lead", "element": "Pb"}
                ],
                "metal_only": {"asking": ["a novel alloy"], "not_asking": ["a novel compound"]},
                "unique_custom_list": {
                    "families": ["spinel"],
                    "list_size": 5,
                    "asking": "a {family} not in this list: {list}",
                    "not_asking": "a {family}",
                },
                "unique_mp": {
                    "asking": ["a spinel not in Materials Project"],
                    "not_asking": ["a spinel"],
                },
                "families": {"spinel": ["a novel spinel"], "rocksalt": ["a novel rocksalt"]},
            }
        )
    )
    out = tmp_path / "language.json"
    main(
        [
            "eval",
            "language",
            SHIPPED,
            f"benchmark.prompts={prompts}",
            f"benchmark.output={out}",
            "benchmark.n=4",
            "benchmark.seeds=[0]",
            "benchmark.rediscovery_families=[spinel]",
            "benchmark.rediscovery_n=10",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )
    report = json.loads(out.read_text())
    t3 = report["table3"]
    assert t3["element_constraint"]["asking"] == 1.0 and t3["element_exclusion"]["asking"] == 1.0
    assert t3["metal_only"]["asking"] == 1.0 and t3["unique_mp"]["asking"] == 1.0
    assert t3["unique_custom_list"]["asking"] == 1.0
    spinel = report["families"]["spinel"]
    assert spinel["n_formulae"] == 4 and spinel["ratio_compliant"] == 1.0 and spinel["novel"] == 1.0
    assert spinel["charge_neutral"] == 1.0 and spinel["capacity"] > 50
    red = report["rediscovery"]["spinel"]
    assert red["hidden"] == red["known_members"] // 2 > 100 and red["n_proposed"] == 10
    assert 0 <= red["uniform_baseline"] <= 1 and red["rediscovered"] is not None
    assert "| asking | 1.00 |" in capsys.readouterr().out


def test_propose_with_the_llm_backend_over_loopback(tmp_path, capsys, llm_server):
    llm_server.script.extend(
        [("reply", "NaCuCl3\nKZnCl3\nCsPbCl3\nNaCl"), ("reply", "KZnCl3\nNaCuCl3")]
    )
    main(
        [
            "propose",
            "two novel chloride perovskites",
            SHIPPED,
            "proposer=llm",
            f"proposer.llm.base_url={llm_server.base_url}",
            "proposer.llm.model=test-model",
            f"proposer.llm.cache_dir={tmp_path / 'llm'}",
            "proposer.llm.max_retries=0",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )
    text = capsys.readouterr().out
    assert "1. KZnCl3" in text and "2. NaCuCl3" in text  # R_hi used the model's ranking
    assert "ranked by test-model" in text and "proposed by test-model reply 1" in text
    assert len(llm_server.requests) == 2
