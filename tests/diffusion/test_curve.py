"""The learning curve merges chunk records by samples seen and draws a PNG."""

from __future__ import annotations

import json

import pytest

from genms.diffusion.curve import main, merge_curve, merge_loss, plot_curve, plot_lineages


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_merge_dedupes_sorts_and_plots(tmp_path):
    a = _write(
        tmp_path / "a.jsonl",
        [
            {"samples_seen": 200, "train_loss": 1.0, "match_rate_k1@e": 0.3},
            {"samples_seen": 100, "train_loss": 2.0, "match_rate_k1@e": 0.1},
        ],
    )
    b = _write(
        tmp_path / "b.jsonl",
        [
            {"samples_seen": 200, "train_loss": 0.9, "match_rate_k1@e": 0.35},
            {"samples_seen": 300, "train_loss": 0.8, "match_rate_k1@e": 0.4},
        ],
    )
    curve = merge_curve(tmp_path / "curve.json", [a])
    curve = merge_curve(tmp_path / "curve.json", [b], {"title": "t"})
    assert [r["samples_seen"] for r in curve["records"]] == [100, 200, 300]
    assert curve["records"][1]["match_rate_k1@e"] == 0.35  # the later record of a step wins
    assert json.loads((tmp_path / "curve.json").read_text())["title"] == "t"
    png = plot_curve(curve, tmp_path / "curve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_merge_loss_places_windows_at_samples_seen(tmp_path):
    metrics = _write(
        tmp_path / "m.jsonl",
        [{"step": s, "train/loss": float(s)} for s in (10, 20, 30, 40)]
        + [{"step": 40, "val/loss": 9.0}],
    )
    curve = merge_loss(
        tmp_path / "curve.json", metrics, samples_before=1000, batch_size=2, every=20
    )
    # windows: steps 10 (w0) → 10.0; steps 20, 30 (w1) → 25.0; step 40 (w2) → 40.0, each
    # placed at its last step, so a run that stops mid-window ends at its own sample count
    assert curve["train_loss"] == [[1020, 10.0], [1060, 25.0], [1080, 40.0]]


def test_lineages_plot_each_curve_and_reject_bad_arguments(tmp_path):
    a = {"records": [{"samples_seen": 10**6, "match_rate_k1@e": 0.3}], "train_loss": [[10**6, 1.0]]}
    b = {"records": [{"samples_seen": 2 * 10**6, "match_rate_k1@f": 0.4}], "train_loss": []}
    png = plot_lineages({"a": a, "b": b}, ["e", "f"], tmp_path / "cmp.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="at least one"):
        plot_lineages({}, ["e"], tmp_path / "none.png")
    (tmp_path / "a.json").write_text(json.dumps(a))
    main(["compare", str(tmp_path / "cli.png"), "e", f"a={tmp_path / 'a.json'}"])
    assert (tmp_path / "cli.png").is_file()
    with pytest.raises(SystemExit, match="no curve file"):
        main(["compare", str(tmp_path / "x.png"), "e", f"a={tmp_path / 'missing.json'}"])
    with pytest.raises(SystemExit, match="usage"):
        main(["compare", str(tmp_path / "x.png"), "e", "no-label"])
