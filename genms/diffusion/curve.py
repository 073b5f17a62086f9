"""The learning curve of a π_lo model trained over several runs (chunks of one run, or
warm-started runs).

Every training run with ``val_match.n > 0`` appends one record per chunk to
``<run_dir>/val_curve.jsonl`` (step, cumulative samples seen, train loss, validation match
rate of each sampler variant). :func:`merge_curve` folds such files into one JSON curve
(de-duplicated by samples seen, sorted), and :func:`plot_curve` draws validation match rate
and training loss against samples seen.

    python -m genms.diffusion.curve benchmarks/results/pilo_v2_curve.json RUN/val_curve.jsonl \\
        RUN/metrics.jsonl SAMPLES_BEFORE BATCH_SIZE

:func:`plot_lineages` draws several such curves (e.g. two widths) on shared axes, one colour per
curve and one line style per sampler variant:

    python -m genms.diffusion.curve compare OUT.png VARIANT[,VARIANT] LABEL=CURVE.json ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from matplotlib.figure import Figure

from genms.io import atomic_write_json


def read_records(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def merge_curve(
    curve_path: str | Path, new_files: list[str | Path], meta: dict | None = None
) -> dict:
    """Add the records of ``new_files`` to the curve at ``curve_path`` (created when missing)."""
    curve_path = Path(curve_path)
    curve = json.loads(curve_path.read_text()) if curve_path.is_file() else {"records": []}
    by_seen = {int(r["samples_seen"]): r for r in curve["records"]}
    for f in new_files:
        for r in read_records(f):
            by_seen[int(r["samples_seen"])] = r
    curve["records"] = [by_seen[k] for k in sorted(by_seen)]
    curve.update(meta or {})
    atomic_write_json(curve_path, curve)
    return curve


def merge_loss(
    curve_path: str | Path,
    metrics_file: str | Path,
    samples_before: int,
    batch_size: int,
    every: int = 2000,
) -> dict:
    """Add a run's training loss (``metrics.jsonl`` rows with ``train/loss``) to the curve, averaged
    over windows of ``every`` steps and placed at the window's last logged step:
    ``samples_before + step × batch_size``."""
    curve_path = Path(curve_path)
    curve = json.loads(curve_path.read_text()) if curve_path.is_file() else {"records": []}
    windows: dict[int, list[tuple[int, float]]] = {}
    for r in read_records(metrics_file):
        if "train/loss" in r and "step" in r:
            step = int(r["step"])
            windows.setdefault(step // every, []).append((step, float(r["train/loss"])))
    points = {int(p[0]): p[1] for p in curve.get("train_loss", [])}
    for rows in windows.values():
        last = max(step for step, _ in rows)
        points[samples_before + last * batch_size] = sum(v for _, v in rows) / len(rows)
    curve["train_loss"] = [[k, points[k]] for k in sorted(points)]
    atomic_write_json(curve_path, curve)
    return curve


def _match_points(curve: dict, variant: str) -> list[tuple[float, float]]:
    """(samples seen in millions, val match rate) of every record that measured ``variant``."""
    return [(r["samples_seen"] / 1e6, r[f"match_rate_k1@{variant}"]) for r in curve["records"]
            if r.get(f"match_rate_k1@{variant}") is not None]


def _loss_points(curve: dict) -> list[tuple[float, float]]:
    return [(s / 1e6, v) for s, v in curve.get("train_loss", [])]


def _axes() -> tuple[Figure, object, object]:
    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    for ax in (ax1, ax2):
        ax.set_xlabel("crystal samples seen (millions)")
        ax.grid(alpha=0.3)
    ax2.set_ylabel("training loss (mean over 2,000-step windows)")
    return fig, ax1, ax2


def _save(fig: Figure, title: str, png: str | Path) -> Path:
    fig.suptitle(title)
    fig.tight_layout()
    png = Path(png)
    fig.savefig(png, dpi=120)
    return png


def plot_curve(curve: dict, png: str | Path) -> Path:
    recs = curve["records"]
    variants = sorted(
        {k.split("@", 1)[1] for r in recs for k in r if k.startswith("match_rate_k1@")}
    )
    fig, ax1, ax2 = _axes()
    for v in variants:
        if pts := _match_points(curve, v):
            ax1.plot(*zip(*pts, strict=True), marker="o", label=v)
    for name, value in (curve.get("reference_lines") or {}).items():
        ax1.axhline(value, ls="--", lw=1, color="grey")
        ax1.text(ax1.get_xlim()[0], value, f" {name}", va="bottom", fontsize=8, color="grey")
    ax1.set_ylabel(
        f"val match rate, k=1 ({recs[-1].get('val_cells', '?')} cells)"
        if recs
        else "val match rate"
    )
    ax1.set_ylim(0, 1)
    ax1.legend(fontsize=8)
    if loss := _loss_points(curve):
        ax2.plot(*zip(*loss, strict=True))
    return _save(fig, curve.get("title", "π_lo learning curve"), png)


def plot_lineages(curves: dict[str, dict], variants: list[str], png: str | Path,
                  title: str = "π_lo runs: validation match rate (k=1) and training loss") -> Path:
    """Validation match rate (``variants``) and training loss of each curve against samples seen.

    Each curve keeps its own colour; each variant its own line style. A variant that a curve
    never measured is skipped for that curve.
    """
    if not curves:
        raise ValueError("plot_lineages needs at least one curve")
    styles = ["-", "--", ":", "-."]
    fig, ax1, ax2 = _axes()
    for i, (label, curve) in enumerate(curves.items()):
        for j, v in enumerate(variants):
            if pts := _match_points(curve, v):
                ax1.plot(*zip(*pts, strict=True), marker="o", color=f"C{i}",
                         ls=styles[j % len(styles)], label=f"{label}: {v}")
        if loss := _loss_points(curve):
            ax2.plot(*zip(*loss, strict=True), color=f"C{i}", label=label)
    ax1.set_ylabel("val match rate, k=1")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=8)
    return _save(fig, title, png)


def _compare(argv: list[str]) -> None:
    if len(argv) < 3 or any("=" not in a for a in argv[2:]):
        raise SystemExit("usage: python -m genms.diffusion.curve compare OUT.png "
                         "VARIANT[,VARIANT] LABEL=CURVE.json [LABEL=CURVE.json ...]")
    curves = {}
    for arg in argv[2:]:
        label, path = arg.split("=", 1)
        if not Path(path).is_file():
            raise SystemExit(f"curve: no curve file {path}")
        curves[label] = json.loads(Path(path).read_text())
    sys.stdout.write(f"{plot_lineages(curves, argv[1].split(','), argv[0])}\n")


def main(argv: list[str]) -> None:
    """``CURVE.json VAL_CURVE.jsonl [METRICS.jsonl SAMPLES_BEFORE BATCH_SIZE]``, or
    ``compare OUT.png VARIANTS LABEL=CURVE.json ...``."""
    if argv[:1] == ["compare"]:
        _compare(argv[1:])
        return
    if len(argv) not in (2, 5):
        raise SystemExit("usage: python -m genms.diffusion.curve CURVE.json VAL_CURVE.jsonl "
                         "[METRICS.jsonl SAMPLES_BEFORE BATCH_SIZE]")
    curve = merge_curve(argv[0], [argv[1]])
    if len(argv) == 5:
        curve = merge_loss(argv[0], argv[2], int(argv[3]), int(argv[4]))
    sys.stdout.write(f"{plot_curve(curve, Path(argv[0]).with_suffix('.png'))}\n")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
