"""Runners of ``genms data prepare|download|union`` (``genms.cli`` calls them with the composed
config).

Library errors (absent sources, a bad config value, a failed download) end the command with a
one-line message that names the fix, never a traceback.
"""

from __future__ import annotations

import logging
import sys
import time

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from genms.configs import ConfigError, to_dataclass
from genms.console import exit_with, make_console
from genms.data.build import prepare_all, prepare_dataset
from genms.data.config import DataConfig
from genms.data.download import DownloadError, download_dataset
from genms.data.holdout import selected_holdouts
from genms.data.prepare import PrepareContext, SplitResult
from genms.data.report import render_split_table, render_union_table
from genms.data.sources import DATASETS, DOWNLOADABLE, DataSourceError, data_roots
from genms.paths import resolve_cache_dir, resolve_data_dir, user_cache_dir

log = logging.getLogger(__name__)


def _paths(cfg: DictConfig) -> tuple[str, str]:
    paths = cfg.get("paths") or {}
    return paths.get("data_dir", "auto"), paths.get("cache_dir", "auto")


def _context(cfg: DictConfig) -> PrepareContext:
    data_dir, cache_dir = _paths(cfg)
    return PrepareContext.create(to_dataclass(DataConfig, cfg.get("data")), data_roots(data_dir),
                                 resolve_cache_dir(cache_dir))


def _dataset(cfg: DictConfig, command: str, choices) -> str:
    name = cfg.get("dataset")
    if not name:
        exit_with(f"genms data {command}: name a dataset: {', '.join(choices)} or 'all'")
    return str(name)


def _match_line(stats: dict | None) -> str:
    if not stats:
        return ""
    return (
        f"{stats['cells_matched']} cells matched to a test structure ({stats['pairs']} "
        f"same-formula pairs, {stats['pairs_computed']} compared now, "
        f"{stats['pairs_timed_out']} timed out)"
    )


def _near_duplicates_line(by_rule: dict | None) -> str:
    if by_rule is None:
        return ""
    return f"{len(set().union(*by_rule.values()))} test entries with a near duplicate"


def _print_union(console: Console, u: dict) -> None:
    """The MP union's table by source, then one line per held-out test split."""
    console.print(render_union_table(u))
    console.print(
        f"MP union: {u['spacegroups_computed']} candidate space groups computed, "
        f"{u['cgcnn_targets_masked']} mp_cgcnn energies masked; absent sources: "
        f"{u['absent_sources'] or 'none'}"
    )
    for h in selected_holdouts(u.get("holdout", ["mp_20_test"])):
        parts = [f"{u[h.key('held_out_ids')]} ids",
                 f"{u[h.key('test_formula_spacegroup_pairs')]} test (formula, space group) pairs "
                 f"({u.get(h.key('test_spacegroups_computed'), 0)} space groups computed)",
                 _match_line(u.get(h.key("test_structure_match"))),
                 _near_duplicates_line(u.get(h.key("near_duplicate_test_ids")))]
        console.print(f"  held out {h.title}: " + ", ".join(p for p in parts if p))


def _print(results: list[SplitResult], unavailable: dict[str, str], elapsed: float,
           cache_dir) -> None:
    console = Console(width=None if sys.stdout.isatty() else 160)
    rows = [
        {"dataset": r.dataset, "split": r.split, "status": r.status, "report": r.report}
        for r in results
    ]
    if results:
        console.print(render_split_table(rows))
    for r in results:
        if r.dataset == "mp_cgcnn" and r.split == "train" and "before_split" in r.meta:
            pre = r.meta["before_split"]
            console.print(
                f"mp_cgcnn before the 80/10/10 split: {pre['rows']} rows, {pre['kept']} kept, "
                f"skipped {pre['skipped']}; split sizes {r.meta.get('split_sizes')}"
            )
        if r.dataset == "mp_union" and r.split == "train" and "union" in r.meta:
            _print_union(console, r.meta["union"])
    for name, why in unavailable.items():
        console.print(f"[yellow]{name}: not prepared[/yellow] ({why})")
    cached = sum(r.status == "cached" for r in results)
    console.print(f"{len(results)} split file(s) in {cache_dir} ({cached} cached, "
                  f"{len(results) - cached} built) in {elapsed:.1f} s")


def prepare(cfg: DictConfig) -> list[dict]:
    """``genms data prepare <dataset|all>``: build (or reuse) the prepared ``.npz`` files."""
    name = _dataset(cfg, "prepare", DATASETS)
    start = time.perf_counter()
    try:
        ctx = _context(cfg)
        if name == "all":
            results, unavailable = prepare_all(ctx)
        else:
            results, unavailable = prepare_dataset(name, ctx), {}
    except (DataSourceError, ConfigError) as exc:
        exit_with(f"genms data prepare: {exc}")
    _print(results, unavailable, time.perf_counter() - start, ctx.cache_dir)
    if not results:
        exit_with("genms data prepare: no dataset could be prepared (see above)")
    return [{"dataset": r.dataset, "split": r.split, "path": str(r.path), "status": r.status,
             "report": r.report} for r in results]


def union(cfg: DictConfig) -> list[dict]:
    """``genms data union``: ``genms data prepare mp_union``."""
    cfg = OmegaConf.merge(cfg, {"dataset": "mp_union"})
    return prepare(cfg)


def download(cfg: DictConfig) -> list[dict]:
    """``genms data download <dataset|all>``: fetch upstream CSVs, verify their git blob SHAs."""
    name = _dataset(cfg, "download", DOWNLOADABLE)
    try:
        data = to_dataclass(DataConfig, cfg.get("data"))
    except ConfigError as exc:
        exit_with(f"genms data download: {exc}")
    data_dir, _ = _paths(cfg)
    explicit = data_dir and data_dir != "auto"
    dest = resolve_data_dir(data_dir) if explicit else user_cache_dir() / "data"
    names = list(DOWNLOADABLE) if name == "all" else [name]
    out: list[dict] = []
    try:
        for n in names:
            out += download_dataset(n, dest, data_roots(data_dir), data.download_base_url,
                                    data.download_timeout_s, progress=data.progress)
    except DownloadError as exc:
        exit_with(f"genms data download: {exc}")
    table = Table(title="genms data download")
    for col in ("file", "status", "path"):
        table.add_column(col)
    for row in out:
        table.add_row(row["file"], row["status"], row["path"])
    make_console().print(table)
    return out
