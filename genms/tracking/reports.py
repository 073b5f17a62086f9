"""One experiment run's record: a local JSON file always, W&B (offline by default) alongside.

:class:`ExperimentRun` is what an experiment's command opens once per run::

    with ExperimentRun(out_dir, experiment="table2_branching", config=cfg_dict) as run:
        run.log_metrics({"e_form_dft": -1.9, "match_rate": 0.9})
        run.log_table("candidates", rows)              # wandb.Table + report/tables/candidates.csv
        run.log_structures("top", crystals, captions)  # PNGs + wandb.Image

* W&B: the run's ``group`` is the experiment, its ``tags`` name the sweep and the point's swept
  values (read from the ``GENMS_SWEEP_*`` environment that ``genms sweep`` gives every point),
  so the dashboard groups runs by experiment and filters them by sweep point. Offline runs sit
  in ``<run dir>/wandb/offline-run-*``; upload them later with ``wandb sync <that folder>``
  (or ``wandb sync --yes`` in ``<run dir>``: every unsynced run of its ``wandb/`` folder). W&B
  failures never stop a run.
* Locally: ``<run dir>/run.json`` (rewritten atomically after every call, so an interrupted
  run keeps what it logged) holds the experiment, sweep point, config, last metrics and the
  paths of tables and pictures; metric history goes to ``<run dir>/report/metrics.jsonl``.
  ``genms report gather`` reads these files.

:func:`log_finished_run` does the same after the fact for runs that do not log themselves
(``genms sweep ... sweep.wandb=true`` calls it for every finished point).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genms.configs import ranged
from genms.crystal.convert import CIFParseError, from_cif
from genms.io import atomic_path, atomic_write_json
from genms.search.pictures import draw_crystal
from genms.tracking.writers import JsonlWriter, WandbWriter

log = logging.getLogger(__name__)


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


RUN_FILE = "run.json"
RUN_KIND = "genms-run"


@dataclass(frozen=True)
class SweepPointInfo:
    """The sweep a run belongs to (empty when it runs alone)."""

    sweep: str = ""
    point: str = ""
    index: int | None = None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SweepPointInfo:
        env = os.environ if env is None else env
        try:
            params = json.loads(env.get("GENMS_SWEEP_PARAMS", "{}"))
        except json.JSONDecodeError:
            params = {}
        index = env.get("GENMS_SWEEP_INDEX")
        return cls(env.get("GENMS_SWEEP_NAME", ""), env.get("GENMS_SWEEP_POINT", ""),
                   int(index) if index and index.isdigit() else None,
                   {str(k): str(v) for k, v in params.items()})

    def tags(self) -> list[str]:
        tags = [f"sweep:{self.sweep}"] if self.sweep else []
        return tags + [f"{k}={v}"[:64] for k, v in self.params.items()]


@dataclass(frozen=True)
class ReportConfig:
    """``report`` config node of an experiment command.

    Attributes:
      wandb: log to W&B as well as to the local JSON record.
      mode: W&B mode: ``offline`` (default; sync later), ``online`` or ``disabled``.
      project: W&B project.
      experiment: W&B group (``null``: the command's own experiment name).
      tags: extra W&B tags (the sweep point's are added).
      top_k_pictures: pictures of this many top structures.
    """

    wandb: bool = True
    mode: str = "offline"
    project: str = "genms"
    experiment: str | None = None
    tags: list[str] = field(default_factory=list)
    top_k_pictures: int = ranged(6, 0, 1000)


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item) and getattr(v, "ndim", 1) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _rows(table: Any) -> list[dict]:
    """A list of dicts or a pandas DataFrame -> list of plain dicts."""
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        return [dict(r) for r in table.to_dict(orient="records")]
    return [dict(r) for r in table]


class ExperimentRun:
    """The record of one run of an experiment (see the module docstring)."""

    def __init__(
        self,
        run_dir: str | Path,
        experiment: str,
        config: Mapping[str, Any] | None = None,
        *,
        report: ReportConfig = ReportConfig(),
        name: str | None = None,
        point: SweepPointInfo | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.experiment = report.experiment or experiment
        self.point = point if point is not None else SweepPointInfo.from_env()
        self.name = name or "-".join(
            [self.experiment] + [f"{k.split('.')[-1]}={v}" for k, v in self.point.params.items()])
        self.tags = [*report.tags, *self.point.tags()]
        self.config = _jsonable(dict(config or {}))
        self.metrics: dict[str, Any] = {}
        self.tables: dict[str, str] = {}
        self.images: dict[str, list[str]] = {}
        self.started = time.time()
        self.finished: float | None = None
        self._step = 0
        self._history = JsonlWriter(self.run_dir / "report" / "metrics.jsonl")
        self._wandb: WandbWriter | None = None
        if report.wandb and report.mode != "disabled":
            self._wandb = WandbWriter(
                self.run_dir,
                report.project,
                report.mode,
                group=self.experiment,
                tags=self.tags,
                name=self.name,
                config=self.config,
            )
            if not self._wandb.active:
                self._wandb = None
        self._save()

    # -- logging ---------------------------------------------------------------------------
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Scalar metrics: history line, W&B point, and the latest value in ``run.json``."""
        step = self._step if step is None else int(step)
        self._step = step + 1
        clean = {str(k): _jsonable(v) for k, v in metrics.items()}
        self.metrics.update(clean)
        self._history.write(step, clean)
        if self._wandb is not None:
            self._wandb.write(step, {k: v for k, v in clean.items() if isinstance(v, (int, float))})
        self._save()

    def log_table(self, name: str, table: Any) -> Path:
        """Rows (list of dicts or a DataFrame) -> ``report/tables/<name>.csv`` and a
        ``wandb.Table``."""
        rows = [{k: _jsonable(v) for k, v in r.items()} for r in _rows(table)]
        columns: list[str] = []
        for r in rows:
            columns += [k for k in r if k not in columns]
        path = self.run_dir / "report" / "tables" / f"{name}.csv"
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        self.tables[name] = str(path.relative_to(self.run_dir))
        if self._wandb is not None:
            try:
                import wandb  # noqa: PLC0415 - optional dependency

                data = [
                    [
                        r.get(c) if not isinstance(r.get(c), (list, dict)) else json.dumps(r.get(c))
                        for c in columns
                    ]
                    for r in rows
                ]
                self._wandb.log_objects({name: wandb.Table(columns=columns, data=data)})
            except Exception as exc:  # noqa: BLE001 - tracking never stops a run
                log.warning("W&B table %s not logged: %s", name, exc)
        self._save()
        return path

    def log_images(
        self, name: str, paths: Sequence[str | Path], captions: Sequence[str] | None = None
    ) -> None:
        """PNG files already written (plots, pictures) -> ``run.json`` and ``wandb.Image`` s."""
        paths = [Path(p) for p in paths]
        captions = list(captions) if captions is not None else [p.stem for p in paths]
        self.images[name] = [os.path.relpath(p, self.run_dir) for p in paths]
        if self._wandb is not None and paths:
            try:
                import wandb  # noqa: PLC0415 - optional dependency

                self._wandb.log_objects({name: [wandb.Image(str(p), caption=c)
                                                for p, c in zip(paths, captions, strict=False)]})
            except Exception as exc:  # noqa: BLE001
                log.warning("W&B images %s not logged: %s", name, exc)
        self._save()

    def log_structures(
        self, name: str, crystals: Sequence[Any], captions: Sequence[str] | None = None
    ) -> list[Path]:
        """Pictures of structures (``Crystal`` s) under ``report/<name>/``, logged as images."""
        captions = (
            list(captions) if captions is not None else [f"#{i + 1}" for i in range(len(crystals))]
        )
        paths = []
        for i, (crystal, caption) in enumerate(zip(crystals, captions, strict=False)):
            try:
                paths.append(
                    draw_crystal(
                        crystal, self.run_dir / "report" / name / f"{i + 1:02d}.png", caption
                    )
                )
            except Exception as exc:  # noqa: BLE001 - a picture never stops a run
                log.warning("picture %d of %s not drawn: %s", i + 1, name, exc)
        self.log_images(name, paths, captions[: len(paths)])
        return paths

    # -- record ----------------------------------------------------------------------------
    def record(self) -> dict:
        return {
            "kind": RUN_KIND,
            "experiment": self.experiment,
            "name": self.name,
            "tags": self.tags,
            "sweep": {
                "name": self.point.sweep,
                "point": self.point.point,
                "index": self.point.index,
            },
            "params": self.point.params,
            "config": self.config,
            "metrics": self.metrics,
            "tables": self.tables,
            "images": self.images,
            "started": self.started,
            "finished": self.finished,
            "wandb": self.wandb_dirs(),
        }

    def wandb_dirs(self) -> list[str]:
        """Offline W&B run folders of this run (the arguments of ``wandb sync``)."""
        return sorted(str(p) for p in (self.run_dir / "wandb").glob("offline-run-*"))

    def _save(self) -> None:
        atomic_write_json(self.run_dir / RUN_FILE, self.record())

    def finish(self) -> Path:
        if self._wandb is not None:
            self._wandb.close()
            self._wandb = None
        self._history.close()
        self.finished = time.time()
        self._save()
        dirs = self.wandb_dirs()
        if dirs:
            log.info("W&B offline run saved; upload with: wandb sync %s", " ".join(dirs))
        return self.run_dir / RUN_FILE

    def __enter__(self) -> ExperimentRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


def load_run(path: str | Path) -> dict | None:
    """A ``run.json`` written by :class:`ExperimentRun` (``None`` for any other JSON file)."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return obj if isinstance(obj, dict) and obj.get("kind") == RUN_KIND else None


def _numeric_leaves(obj: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            out.update(_numeric_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and math.isfinite(obj):
        out[prefix] = float(obj)
    return out


def top_structure_files(folder: Path, per_folder: int) -> list[Path]:
    """The first CIFs of every ``cifs/`` folder below ``folder`` (run folders keep their top ones
    there)."""
    files: list[Path] = []
    for cifs in sorted(folder.rglob("cifs")):
        if cifs.is_dir():
            files += sorted(cifs.glob("*.cif"))[:per_folder]
    return files


def log_finished_run(
    run_dir: str | Path,
    experiment: str,
    result: Mapping[str, Any] | None,
    config: Mapping[str, Any] | None = None,
    point: SweepPointInfo | None = None,
    report: ReportConfig = ReportConfig(),
    tables: Mapping[str, Any] | None = None,
) -> Path | None:
    """Record a run that did not log itself (a sweep point, an experiment's table) after it
    finished.

    Its numeric results become metrics, ``tables`` become ``wandb.Table`` s, and the top CIFs of
    the run folders below ``run_dir`` become pictures. A result that is already an
    :class:`ExperimentRun` record is left alone (its run logged itself). Returns the record path.
    """
    if isinstance(result, Mapping) and result.get("kind") == RUN_KIND:
        return None

    run_dir = Path(run_dir)
    with ExperimentRun(run_dir / "tracking", experiment, config, report=report, point=point) as run:
        metrics = _numeric_leaves(result or {})
        if metrics:
            run.log_metrics(metrics)
        for name, rows in (tables or {}).items():
            run.log_table(name, rows)
        crystals, captions = [], []
        for path in top_structure_files(run_dir, report.top_k_pictures):
            try:
                crystals.append(from_cif(path.read_text()))
                captions.append(f"{path.parent.parent.name}/{path.stem}")
            except (CIFParseError, OSError) as exc:
                log.warning("picture of %s skipped: %s", path, exc)
        if crystals:
            run.log_structures("top_structures", crystals, captions)
    return run_dir / "tracking" / RUN_FILE
