"""``genms report gather <source>``: runs -> one comparison table (markdown + CSV) and plots.

Sources:

* a folder: every ``sweep.jsonl`` below it (the last row per point: its swept values, status
  and result) and every ``run.json`` written by :class:`~genms.tracking.reports.ExperimentRun`
  that is not already a sweep point's result;
* a file: a ``sweep.jsonl``, a ``run.json``, or a benchmark JSON (``{"perovskite": {...}, ...}``
  or a list of objects) such as ``benchmarks/results/end_to_end.json``;
* ``wandb:<entity>/<project>[/<group>]``: runs from the W&B API (only when online; offline runs
  are read locally).

Nested results are flattened (``metrics.match_rate``, ``perovskite.uniqueness``). Rows are
identified by ``index`` columns (default: the swept keys) and compared on ``metrics`` columns
(default: every numeric column). With ``paper=<csv or yaml>`` the paper's numbers (rows keyed by
the same index columns) are put beside ours as ``<metric> (paper)``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from genms.configs import ConfigError, ranged, to_dataclass
from genms.tracking.reports import RUN_FILE, load_run
from genms.tracking.sweep_log import SweepLog

log = logging.getLogger(__name__)

_META = ("point", "index", "name", "status", "returncode", "wall_s", "started", "finished", "dir",
         "overrides", "error", "result_file", "source", "experiment", "run_dir")


PARAMS = "__params__"  # a row's swept keys (not a column)


class GatherError(ValueError):
    """Nothing to gather, or a bad option (the message says what to do)."""


@dataclass(frozen=True)
class PlotConfig:
    x: str | None = None  # index column on the x axis (default: the first index column)
    hue: str | None = None  # one line per value of this column (default: the second index column)
    metrics: list[str] = field(default_factory=list)  # default: the first 4 metrics
    kind: str = "auto"  # auto (line for numeric x, else bar) | line | bar


@dataclass(frozen=True)
class GatherConfig:
    """Top-level keys of ``conf/report_gather.yaml``."""

    source: str | None = None
    out: str | None = None
    index: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    include_failed: bool = False
    paper: str | None = None
    title: str | None = None
    digits: int = ranged(3, 0, 20)
    plot: PlotConfig = field(default_factory=PlotConfig)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> one level with dotted keys (lists are kept as JSON text)."""
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            out.update(flatten(v, key))
    elif isinstance(obj, (list, tuple)):
        out[prefix] = json.dumps(obj, default=str)
    else:
        out[prefix] = obj
    return out


def _run_row(run: dict, path: Path | None) -> dict:
    row = {"experiment": run.get("experiment"), "name": run.get("name"),
           PARAMS: list(run.get("params") or {})}
    row.update(run.get("params") or {})
    row.update(flatten(run.get("metrics") or {}))
    if path is not None:
        row["run_dir"] = str(path.parent)
    return row


def rows_from_sweep(path: Path) -> list[dict]:
    rows = []
    for rec in SweepLog(path).latest().values():
        row = {k: rec.get(k) for k in ("point", "index", "name", "status", "wall_s", "dir")}
        row[PARAMS] = list(rec.get("params") or {})
        row.update(rec.get("params") or {})
        result = rec.get("result")
        if isinstance(result, dict) and result.get("kind") == "genms-run":
            row.update(flatten(result.get("metrics") or {}))
            row["experiment"] = result.get("experiment")
        elif isinstance(result, dict):
            row.update(flatten(result))
        row["source"] = str(path)
        rows.append(row)
    return rows


def rows_from_json(path: Path) -> list[dict]:
    """A run record, a list of result objects, or a dict of named result objects."""
    run = load_run(path)
    if run is not None:
        return [_run_row(run, path)]
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GatherError(f"{path} is not readable JSON: {exc}") from None
    if isinstance(obj, list):
        return [flatten(o) | {"source": str(path)} for o in obj if isinstance(o, dict)]
    if isinstance(obj, dict):
        named = {k: v for k, v in obj.items() if isinstance(v, dict)}
        if named and len(named) >= len(obj) / 2:
            return [{"key": k, **flatten(v), "source": str(path)} for k, v in named.items()]
        return [flatten(obj) | {"source": str(path)}]
    raise GatherError(f"{path}: expected a JSON object or list")


def rows_from_folder(folder: Path) -> list[dict]:
    rows: list[dict] = []
    point_dirs: set[Path] = set()
    for sweep in sorted(folder.rglob("sweep.jsonl")):
        sweep_rows = rows_from_sweep(sweep)
        rows += sweep_rows
        point_dirs |= {Path(r["dir"]).resolve() for r in sweep_rows if r.get("dir")}
    for run_file in sorted(folder.rglob(RUN_FILE)):
        if any(
            p == run_file.resolve().parent or p in run_file.resolve().parents for p in point_dirs
        ):
            continue
        run = load_run(run_file)
        if run is not None:
            rows.append(_run_row(run, run_file))
    return rows


def rows_from_wandb(spec: str) -> list[dict]:
    """``wandb:<entity>/<project>[/<group>]`` -> rows (needs W&B online access)."""
    parts = spec.split(":", 1)[1].strip("/").split("/")
    if len(parts) < 2:
        raise GatherError("use source=wandb:<entity>/<project>[/<group>]")
    import wandb

    filters = {"group": parts[2]} if len(parts) > 2 else None
    rows = []
    for run in wandb.Api().runs(f"{parts[0]}/{parts[1]}", filters=filters):
        tags = dict(t.split("=", 1) for t in run.tags if "=" in t)
        summary = {k: v for k, v in run.summary.items() if not str(k).startswith("_")}
        rows.append({"experiment": run.group, "name": run.name, **tags, **flatten(summary)})
    return rows


def load_rows(source: str) -> list[dict]:
    if source.startswith("wandb:"):
        return rows_from_wandb(source)
    p = Path(source).expanduser()
    if p.is_dir():
        return rows_from_folder(p)
    if p.is_file() and p.suffix == ".jsonl":
        return rows_from_sweep(p)
    if p.is_file():
        return rows_from_json(p)
    raise GatherError(
        f"source {source!r} not found: give a sweep or runs folder, a JSON/JSONL file, "
        "or wandb:<entity>/<project>[/<group>]"
    )


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def comparison_frame(
    rows: list[dict], cfg: GatherConfig
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Rows -> (table, index columns, metric columns)."""
    if not cfg.include_failed:
        rows = [r for r in rows if r.get("status") in (None, "ok")]
    if not rows:
        raise GatherError(
            "no finished runs found"
            + ("" if cfg.include_failed else " (add include_failed=true to list failed ones)")
        )
    index = list(cfg.index)
    if not index:
        for r in rows:
            index += [k for k in r.get(PARAMS, []) if k not in index]
        index = index or [c for c in ("key", "name", "experiment") if any(c in r for r in rows)][:1]
    df = pd.DataFrame([{k: v for k, v in r.items() if k != PARAMS} for r in rows])
    metrics = list(cfg.metrics) or [
        c
        for c in df.columns
        if c not in index
        and c not in _META
        and df[c]
        .map(lambda v: _is_number(v) or v is None or (isinstance(v, float) and math.isnan(v)))
        .all()
        and df[c].map(_is_number).any()
    ]
    missing = [c for c in index + metrics if c not in df.columns]
    if missing:
        raise GatherError(f"columns {missing} not found; available: {sorted(df.columns)}")
    table = df[index + metrics].copy()
    for c in index:
        table[c] = table[c].map(_index_value)
    table = table.sort_values(index, kind="stable").reset_index(drop=True)
    return table, index, metrics


def _index_value(v: Any) -> Any:
    if isinstance(v, str):
        s = v.strip("'\"")
        try:
            f = float(s)
            return int(f) if f.is_integer() and "." not in s else f
        except ValueError:
            return s
    return v


def _load_paper(path: str, index: list[str]) -> pd.DataFrame:
    p = Path(path).expanduser()
    if not p.is_file():
        raise GatherError(f"paper={path!r} not found (a CSV or YAML list of rows)")
    if p.suffix in (".yaml", ".yml"):
        data = OmegaConf.to_container(OmegaConf.load(p), resolve=True)
        rows = data.get("rows", data) if isinstance(data, dict) else data
        paper = pd.DataFrame(rows)
    else:
        paper = pd.read_csv(p)
    missing = [c for c in index if c not in paper.columns]
    if missing:
        raise GatherError(f"{p} lacks the index columns {missing}")
    for c in index:
        paper[c] = paper[c].map(_index_value)
    return paper


def with_paper(
    table: pd.DataFrame, index: list[str], metrics: list[str], paper: pd.DataFrame
) -> pd.DataFrame:
    """Ours and the paper's side by side: ``<metric>`` then ``<metric> (paper)`` per metric."""
    shared = [m for m in metrics if m in paper.columns]
    merged = table.merge(paper[index + shared].rename(columns={m: f"{m} (paper)" for m in shared}),
                         on=index, how="outer")
    order = list(index)
    for m in metrics:
        order += [m] + ([f"{m} (paper)"] if m in shared else [])
    return merged[order]


def to_markdown(df: pd.DataFrame, digits: int) -> str:
    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        if isinstance(v, float):
            return f"{v:.{digits}f}"
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def plot(
    table: pd.DataFrame, index: list[str], metrics: list[str], cfg: PlotConfig, out: Path
) -> list[Path]:
    """One PNG per metric: metric against ``x``, one line/bar group per ``hue`` value."""
    x = cfg.x or (index[0] if index else None)
    if x is None or x not in table.columns:
        return []
    hue = cfg.hue or next((c for c in index if c != x), None)
    paths = []
    for metric in (cfg.metrics or metrics[:4]):
        if metric not in table.columns:
            raise GatherError(f"plot metric {metric!r} not among {metrics}")
        fig = Figure(figsize=(5, 3.5))
        ax = fig.subplots()
        groups = table.groupby(hue, sort=True) if hue else [(None, table)]
        numeric_x = table[x].map(_is_number).all()
        kind = cfg.kind if cfg.kind != "auto" else ("line" if numeric_x else "bar")
        n = len(groups) if hue else 1
        for i, (name, g) in enumerate(groups):
            g = g.groupby(x, sort=True)[metric].mean()
            label = f"{hue}={name}" if hue else None
            if kind == "line":
                ax.plot(g.index, g.values, marker="o", label=label)
            else:
                pos = [j + (i - (n - 1) / 2) * 0.8 / n for j in range(len(g))]
                ax.bar(pos, g.values, width=0.8 / n, label=label)
                ax.set_xticks(range(len(g)), [str(v) for v in g.index])
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        if hue:
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"plot_{metric.replace('/', '_')}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths


def gather_to(cfg: GatherConfig) -> dict:
    """Build the comparison from ``cfg.source``; write CSV, markdown and plots to ``cfg.out``."""
    if not cfg.source:
        raise GatherError(
            "no source: genms report gather <sweep or runs folder | JSON file | wandb:...>"
        )
    table, index, metrics = comparison_frame(load_rows(cfg.source), cfg)
    shown = table
    if cfg.paper:
        shown = with_paper(table, index, metrics, _load_paper(cfg.paper, index))
    src = Path(cfg.source).expanduser()
    out = (
        Path(cfg.out).expanduser() if cfg.out else (src if src.is_dir() else src.parent) / "report"
    )
    out.mkdir(parents=True, exist_ok=True)
    shown.to_csv(out / "comparison.csv", index=False)
    md = to_markdown(shown, cfg.digits)
    title = f"# {cfg.title}\n\n" if cfg.title else ""
    (out / "comparison.md").write_text(f"{title}{md}\n")
    plots = plot(table, index, metrics, cfg.plot, out)
    return {
        "table": shown,
        "markdown": md,
        "out": out,
        "plots": plots,
        "index": index,
        "metrics": metrics,
    }


def gather(cfg) -> dict:
    """Runner of ``genms report gather`` (Hydra config ``conf/report_gather.yaml``)."""
    try:
        gcfg = to_dataclass(GatherConfig, OmegaConf.to_container(cfg, resolve=True))
        result = gather_to(gcfg)
    except (GatherError, ConfigError) as exc:
        raise SystemExit(f"genms report gather: {exc}") from None
    print(result["markdown"])  # noqa: T201 - the command's user-facing output
    print(f"\nwritten: {result['out'] / 'comparison.md'}, comparison.csv"  # noqa: T201 - the command's user-facing output
          + "".join(f", {p.name}" for p in result["plots"]))
    return {k: v for k, v in result.items() if k != "table"}
