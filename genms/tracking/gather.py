"""``genms report gather <source>``: runs -> one comparison table (markdown + CSV) and plots.

Sources:

* a folder: every ``sweep.jsonl`` below it (the last row per point: its swept values, status
  and result), every ``run.json`` written by :class:`~genms.tracking.reports.ExperimentRun`
  and every ``genms generate`` run folder (``summary.json``) that is not already a sweep
  point's result;
* a file: a ``sweep.jsonl``, a ``run.json``, or a benchmark JSON (``{"perovskite": {...}, ...}``
  or a list of objects) such as ``benchmarks/results/end_to_end.json``;
* ``wandb:<entity>/<project>[/<group>]``: runs from the W&B API (only when online; offline runs
  are read locally).

Nested results are flattened (``metrics.match_rate``, ``perovskite.uniqueness``). Rows are
identified by ``index`` columns (default: the swept keys) and compared on ``metrics`` columns
(default: every numeric column but seeds and counters, the most telling first). A search run's
row holds its formation energies, family match, validity and timings
(:mod:`genms.tracking.search_runs`); runs are told apart by the settings whose values differ.
Besides the table, ``plot_comparison.png`` shows the main metrics side by side. With ``paper=<csv
or yaml>`` the paper's numbers (rows keyed by
the same index columns) are put beside ours as ``<metric> (paper)``.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from genms.configs import ConfigError, ranged, to_dataclass
from genms.tracking.reports import RUN_FILE, flatten, load_run
from genms.tracking.search_runs import (
    METRIC_ORDER,
    SUMMARY_FILE,
    is_search_summary,
    load_summary,
    run_metrics,
    run_params,
)
from genms.tracking.sweep_log import SweepLog

log = logging.getLogger(__name__)

_META = (
    "point",
    "index",
    "name",
    "status",
    "returncode",
    "wall_s",
    "started",
    "finished",
    "dir",
    "overrides",
    "error",
    "result_file",
    "source",
    "experiment",
    "run_dir",
    "outcome",
    "request",
)
#: Numeric columns that are settings or bookkeeping, not results (never a default metric).
_NOT_METRICS = ("seed", "pid", "port", "returncode", "n_formulae_expanded")

SEARCH_PARAMS = "__search_params__"  # a search run's settings, reduced to the differing ones later


PARAMS = "__params__"  # a row's swept keys (not a column)


class GatherError(ValueError):
    """Nothing to gather, or a bad option (the message says what to do)."""


@dataclass(frozen=True)
class PlotConfig:
    x: str | None = None  # index column on the x axis (default: see plot_axes)
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
    # search runs: family match of their top structures (when the request names a family)
    match: bool = True
    plot: PlotConfig = field(default_factory=PlotConfig)




def _run_row(run: dict, path: Path | None) -> dict:
    row = {"experiment": run.get("experiment"), "name": run.get("name"),
           PARAMS: list(run.get("params") or {})}
    row.update(run.get("params") or {})
    row.update(flatten(run.get("metrics") or {}))
    if path is not None:
        row["run_dir"] = str(path.parent)
    return row


def search_run_row(summary: dict, run_dir: Path, name: str, match: bool = True) -> dict:
    """One ``genms generate`` run folder as a row (its settings kept aside until the runs are
    compared)."""
    return {
        "name": name,
        "status": "ok",
        "outcome": summary.get("status"),
        "run_dir": str(run_dir),
        PARAMS: ["name"],
        SEARCH_PARAMS: run_params(summary, run_dir),
        **run_metrics(summary, run_dir, match),
    }


def compare_search_params(rows: list[dict]) -> list[dict]:
    """Search-run rows get the settings whose values differ between them as index columns."""
    searches = [r for r in rows if SEARCH_PARAMS in r]
    keys: list[str] = []
    for r in searches:
        keys += [k for k in r[SEARCH_PARAMS] if k not in keys]
    differ = [
        k
        for k in keys
        if len({json.dumps(r[SEARCH_PARAMS].get(k), sort_keys=True, default=str) for r in searches})
        > 1
    ]
    for r in searches:
        params = r.pop(SEARCH_PARAMS)
        for k in differ:
            value = params.get(k)
            r[k] = json.dumps(value) if isinstance(value, (list, dict)) else value
        r[PARAMS] = ["name", *differ]
    return rows


def rows_from_sweep(path: Path, match: bool = True) -> list[dict]:
    rows = []
    for rec in SweepLog(path).latest().values():
        row = {k: rec.get(k) for k in ("point", "index", "name", "status", "wall_s", "dir")}
        row[PARAMS] = list(rec.get("params") or {})
        row.update(rec.get("params") or {})
        result = rec.get("result")
        if is_search_summary(result):
            folder = (
                Path(rec.get("dir") or ".") / Path(rec.get("result_file") or "summary.json").parent
            )
            found = search_run_row(result, folder, rec.get("name") or str(rec.get("point")), match)
            found.pop(SEARCH_PARAMS)
            row.update({k: v for k, v in found.items() if k not in (PARAMS, "name", "status")})
        elif isinstance(result, dict) and result.get("kind") == "genms-run":
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


def rows_from_folder(folder: Path, match: bool = True) -> list[dict]:
    rows: list[dict] = []
    point_dirs: set[Path] = set()
    for sweep in sorted(folder.rglob("sweep.jsonl")):
        sweep_rows = rows_from_sweep(sweep, match)
        rows += sweep_rows
        point_dirs |= {Path(r["dir"]).resolve() for r in sweep_rows if r.get("dir")}

    def in_point(path: Path) -> bool:
        return any(p == path.resolve().parent or p in path.resolve().parents for p in point_dirs)

    run_dirs: set[Path] = set()
    for run_file in sorted(folder.rglob(RUN_FILE)):
        if in_point(run_file):
            continue
        run = load_run(run_file)
        if run is not None:
            rows.append(_run_row(run, run_file))
            run_dirs.add(run_file.resolve().parent)
    for summary_file in sorted(folder.rglob(SUMMARY_FILE)):
        if in_point(summary_file) or summary_file.resolve().parent in run_dirs:
            continue
        summary = load_summary(summary_file)
        if summary is not None:
            run_dir = summary_file.parent
            name = str(run_dir.relative_to(folder)) if run_dir != folder else run_dir.name
            rows.append(search_run_row(summary, run_dir, name, match))
    return compare_search_params(rows)


def rows_from_wandb(spec: str) -> list[dict]:
    """``wandb:<entity>/<project>[/<group>]`` -> rows (needs W&B online access)."""
    parts = spec.split(":", 1)[1].strip("/").split("/")
    if len(parts) < 2:
        raise GatherError("use source=wandb:<entity>/<project>[/<group>]")
    import wandb  # noqa: PLC0415 - optional dependency

    filters = {"group": parts[2]} if len(parts) > 2 else None
    rows = []
    for run in wandb.Api().runs(f"{parts[0]}/{parts[1]}", filters=filters):
        tags = dict(t.split("=", 1) for t in run.tags if "=" in t)
        summary = {k: v for k, v in run.summary.items() if not str(k).startswith("_")}
        rows.append({"experiment": run.group, "name": run.name, **tags, **flatten(summary)})
    return rows


def load_rows(source: str, match: bool = True) -> list[dict]:
    if source.startswith("wandb:"):
        return rows_from_wandb(source)
    p = Path(source).expanduser()
    if p.is_dir():
        return rows_from_folder(p, match)
    if p.is_file() and p.suffix == ".jsonl":
        return rows_from_sweep(p, match)
    if p.is_file() and load_summary(p) is not None:
        return compare_search_params(
            [search_run_row(load_summary(p), p.parent, p.parent.name, match)]
        )
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
    metrics = list(cfg.metrics) or order_metrics([
        c
        for c in df.columns
        if c not in index
        and c not in _META
        and not _is_setting(c)
        and df[c]
        .map(lambda v: _is_number(v) or v is None or (isinstance(v, float) and math.isnan(v)))
        .all()
        and df[c].map(_is_number).any()
    ])
    missing = [c for c in index + metrics if c not in df.columns]
    if missing:
        raise GatherError(f"columns {missing} not found; available: {sorted(df.columns)}")
    table = df[index + metrics].copy()
    for c in index:
        table[c] = table[c].map(_index_value)
    table = table.sort_values(index, kind="stable").reset_index(drop=True)
    return table, index, metrics


def _is_setting(column: str) -> bool:
    """A seed or bookkeeping number (``seed``, ``meta.seed``, ``pid``), not a result."""
    return column.rsplit(".", 1)[-1] in _NOT_METRICS


#: Counters of a run (its length), listed after the results and never plotted by default.
_COUNTERS = ("step", "steps", "epoch", "epochs", "samples_seen")


def _metric_rank(c: str) -> tuple[int, int]:
    leaf = c.rsplit(".", 1)[-1]
    if leaf in METRIC_ORDER:
        return 0, METRIC_ORDER.index(leaf)
    if "e_form" in leaf or "energy" in leaf:
        return 1, 0
    if (
        "match" in leaf
        or "valid" in leaf
        or "uniqueness" in leaf
        or "rmse" in leaf
        or "mae" in leaf
        or "mse" in leaf
        or "loss" in leaf
    ):
        return 2, 0
    if leaf.startswith(("time", "timing")) or leaf.endswith(("_s", "seconds")) or "timing" in c:
        return 3, 0
    if leaf.startswith("n_") or leaf.rsplit("/", 1)[-1] in _COUNTERS:
        return 5, 0
    return 4, 0


def order_metrics(columns: list[str]) -> list[str]:
    """Formation energies, match rates and validity first, timings next, counts last."""
    return sorted(columns, key=_metric_rank)


def plotted_metrics(metrics: list[str], n: int = 4) -> list[str]:
    """The metrics plotted by default: the first ``n`` results, not counts such as ``step``."""
    results = [m for m in metrics if _metric_rank(m)[0] < 5]
    return (results or metrics)[:n]


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
            if v != 0 and math.isfinite(v) and abs(v) < 0.5 * 10.0 ** -digits:
                return f"{v:.{max(digits, 1)}g}"  # 0.000236, not 0.000
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
    x, hue = plot_axes(table, index, cfg)
    if x is None:
        return []
    paths = []
    for metric in (cfg.metrics or plotted_metrics(metrics)):
        if metric not in table.columns:
            raise GatherError(f"plot metric {metric!r} not among {metrics}")
        fig = Figure(figsize=(5, 3.5))
        ax = fig.subplots()
        groups = list(table.groupby(hue, sort=True)) if hue else [(None, table)]
        numeric_x = table[x].map(_is_number).all()
        # a line joins values of a quantity (search.L = 1, 8, 32); seeds are labels: bars
        line = numeric_x and x.rsplit(".", 1)[-1] != "seed"
        kind = cfg.kind if cfg.kind != "auto" else ("line" if line else "bar")
        n = len(groups)
        # every bar group sits at its x value's place among all x values, so groups that
        # lack some x values are not shifted onto another one's tick
        x_values = sorted(table[x].dropna().unique().tolist(), key=_sort_key)
        for i, (name, g) in enumerate(groups):
            g = g.groupby(x, sort=True)[metric].mean()
            label = f"{hue}={name}" if hue else None
            if kind == "line":
                ax.plot(g.index, g.values, marker="o", label=label)
            else:
                pos = [x_values.index(v) + (i - (n - 1) / 2) * 0.8 / n for v in g.index]
                ax.bar(pos, g.values, width=0.8 / n, label=label)
        if kind != "line":
            many = len(x_values) > 3
            ax.set_xticks(range(len(x_values)), [str(v) for v in x_values],
                          rotation=30 if many else 0, fontsize=7 if many else None)
        ax.set_xlabel(x)
        ax.set_ylabel(metric + _unit(metric))
        if hue:
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"plot_{metric.replace('/', '_')}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths


def _unit(metric: str) -> str:
    return " (eV/atom)" if "e_form" in metric else " (s)" if metric.endswith("_s") else ""


def _sort_key(v: Any) -> tuple:
    return (0, v, "") if _is_number(v) else (1, 0, str(v))


def plot_axes(
    table: pd.DataFrame, index: list[str], cfg: PlotConfig
) -> tuple[str | None, str | None]:
    """The x and hue columns of the per-metric plots. By default the first index column is x and
    the second the hue, except that a run's ``name`` (one value per row, e.g. the time stamp of
    a ``genms generate`` folder) is skipped when settings tell the runs apart: runs differing
    in ``seed`` are plotted against the seed, not against their folder names."""
    columns = [c for c in index if c in table.columns]
    if not cfg.x and len(columns) > 1 and columns[0] in ("name", "key"):
        columns = columns[1:]
    x = cfg.x or (columns[0] if columns else None)
    if x is None or x not in table.columns:
        return None, None
    hue = cfg.hue or next((c for c in columns if c != x), None)
    return x, hue


def overview_plot(table: pd.DataFrame, index: list[str], metrics: list[str], out: Path,
                  max_panels: int = 8) -> Path | None:
    """``plot_comparison.png``: one bar panel per metric (up to ``max_panels``), a bar per row,
    labelled by its index values, so every run's main numbers sit side by side."""
    numeric = [m for m in metrics if m in table.columns and table[m].map(_is_number).any()]
    numeric = plotted_metrics(numeric, n=len(numeric))  # counters (step) only when alone
    main = [m for m in numeric if m.rsplit(".", 1)[-1] in METRIC_ORDER]
    shown = (main or numeric)[:max_panels]
    if not shown or table.empty:
        return None
    def label(i: int) -> str:
        # column by column: a row of iterrows() turns the int seed 0 into 0.0
        values = {c: table[c].iloc[i] for c in index}
        parts = [
            f"{v}" if c in ("name", "key") else f"{c.rsplit('.', 1)[-1]}={v}"
            for c, v in values.items()
        ]
        text = ", ".join(parts) or str(table.index[i])
        return text if len(text) <= 40 else text[:37] + "..."

    labels = [label(i) for i in range(len(table))]
    cols = min(4, len(shown))
    rows_n = (len(shown) + cols - 1) // cols
    fig = Figure(figsize=(3.2 * cols, 0.6 + 2.6 * rows_n + 0.12 * len(table)))
    axes = fig.subplots(rows_n, cols, squeeze=False)
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.flat, shown, strict=False):
        values = [float(v) if _is_number(v) else float("nan") for v in table[metric]]
        ax.barh(
            range(len(values)), values, color=[colors[i % len(colors)] for i in range(len(values))]
        )
        ax.set_yticks(
            range(len(values)), labels if ax in axes[:, 0] else [""] * len(values), fontsize=7
        )
        ax.invert_yaxis()
        ax.set_title(metric + _unit(metric), fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        for i, v in enumerate(values):
            if math.isfinite(v):
                ax.annotate(f"{v:.3g}", (v / 2, i), fontsize=7, va="center", ha="center")
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.tight_layout()
    path = out / "plot_comparison.png"
    fig.savefig(path, dpi=110)
    return path


def gather_to(cfg: GatherConfig) -> dict:
    """Build the comparison from ``cfg.source``; write CSV, markdown and plots to ``cfg.out``."""
    if not cfg.source:
        raise GatherError(
            "no source: genms report gather <sweep or runs folder | JSON file | wandb:...>"
        )
    table, index, metrics = comparison_frame(load_rows(cfg.source, cfg.match), cfg)
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
    overview = overview_plot(table, index, cfg.plot.metrics or metrics, out)
    if overview is not None:
        plots.append(overview)
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
