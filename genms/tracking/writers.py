"""Metric writers behind one protocol.

* :class:`TrainingProgress` logs the step, elapsed time and ETA of a training run (added by
  :func:`build_writer` when the run's config gives ``train.steps``).
* :class:`JsonlWriter` appends one JSON object per call (flushed, so a crash loses nothing).
  Given ``keep_until`` (the step a run resumes from), it first cuts the file back to the rows
  of that step and earlier, so the steps trained again are not recorded twice.
* :class:`WandbWriter` logs to Weights & Biases, **offline by default**; it is imported lazily
  and any W&B failure is logged and turns the writer off — W&B never blocks or kills a run.
  Sync later with ``wandb sync <run_dir>/wandb/offline-run-*``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from genms.io import atomic_write_json
from genms.progress import duration_text, report
from genms.train.checkpoint import latest_checkpoint_step

log = logging.getLogger(__name__)


def _scalar(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return f if math.isfinite(f) else str(f)


class MetricWriter(Protocol):
    def write(self, step: int, metrics: Mapping[str, Any]) -> None: ...
    def write_config(self, config: Mapping[str, Any]) -> None: ...
    def close(self) -> None: ...


class NullWriter:
    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
        pass

    def write_config(self, config: Mapping[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class JsonlWriter:
    def __init__(self, path: str | Path, keep_until: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if keep_until is not None:
            truncate_jsonl(self.path, keep_until)
        self._fh = open(self.path, "a", encoding="utf-8")

    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
        row = {"step": int(step), **{k: _scalar(v) for k, v in metrics.items()}}
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()

    def write_config(self, config: Mapping[str, Any]) -> None:
        atomic_write_json(self.path.with_name("config.json"), config)

    def close(self) -> None:
        self._fh.close()


def truncate_jsonl(path: Path, keep_until: int) -> int:
    """Drop the rows of ``path`` whose step is after ``keep_until`` (and any torn line a crash
    left); rewritten atomically. Returns the number of rows dropped."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                step = int(json.loads(line)["step"])
            except (ValueError, KeyError, TypeError):
                dropped += 1
                continue
            if step <= keep_until:
                kept.append(line if line.endswith("\n") else line + "\n")
            else:
                dropped += 1
    if dropped:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, path)
        log.info(
            "%s: dropped %d row(s) after step %d (the run continues from that step)",
            path,
            dropped,
            keep_until,
        )
    return dropped


class WandbWriter:
    def __init__(
        self,
        run_dir: str | Path,
        project: str,
        mode: str = "offline",
        group: str | None = None,
        tags: list[str] | None = None,
        name: str | None = None,
        config: Mapping | None = None,
    ) -> None:
        self._run = None
        if mode not in ("offline", "online", "disabled"):
            raise ValueError(f"logger.mode must be offline, online or disabled, got {mode!r}")
        try:
            os.environ.setdefault("WANDB_SILENT", "true")
            import wandb  # noqa: PLC0415 - optional dependency

            self._wandb = wandb
            self._run = wandb.init(
                project=project, mode=mode, dir=str(run_dir), group=group, tags=list(tags or []),
                name=name, config=dict(config or {}), reinit="finish_previous",
                settings=wandb.Settings(init_timeout=60, x_disable_stats=True),
            )
        except Exception as exc:  # noqa: BLE001 - tracking must never kill training
            log.warning("W&B disabled for this run: %s", exc)
            self._run = None

    @property
    def active(self) -> bool:
        return self._run is not None

    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
        if self._run is None:
            return
        try:
            self._run.log({k: _scalar(v) for k, v in metrics.items()}, step=int(step))
        except Exception as exc:  # noqa: BLE001
            log.warning("W&B logging failed, disabling it: %s", exc)
            self._run = None

    def log_objects(self, objects: Mapping[str, Any], step: int | None = None) -> None:
        """Log tables/images (``wandb.Table``, ``wandb.Image``) built by the caller."""
        if self._run is None:
            return
        try:
            self._run.log(dict(objects), step=step)
        except Exception as exc:  # noqa: BLE001
            log.warning("W&B logging failed: %s", exc)

    def write_config(self, config: Mapping[str, Any]) -> None:
        if self._run is not None:
            try:
                self._run.config.update(dict(config), allow_val_change=True)
            except Exception as exc:  # noqa: BLE001
                log.warning("W&B config update failed: %s", exc)

    def close(self) -> None:
        if self._run is not None:
            try:
                self._run.finish()
            except Exception as exc:  # noqa: BLE001
                log.warning("W&B finish failed: %s", exc)
            self._run = None


class TrainingProgress:
    """Training progress with an ETA: at every logged step, ``train: step k/N (p %), elapsed,
    ETA`` (remaining steps at the last window's speed) in the log and to :mod:`genms.progress`."""

    def __init__(self, total_steps: int, start_step: int = 0) -> None:
        self.total = int(total_steps)
        self.start = int(start_step)
        self.t0 = time.perf_counter()

    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
        speed = metrics.get("train/steps_per_second")
        if speed is None or self.total <= 0:
            return
        elapsed = time.perf_counter() - self.t0
        left = max(self.total - int(step), 0)
        eta = duration_text(left / float(speed)) if float(speed) > 0 else "?"
        log.info(
            "train: step %d/%d (%.0f %%), %s elapsed, ETA %s",
            step,
            self.total,
            100.0 * step / self.total,
            duration_text(elapsed),
            eta,
        )
        report("train", int(step), self.total, f"{float(speed):.3g} steps/s")

    def write_config(self, config: Mapping[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class MultiWriter:
    def __init__(self, writers: list) -> None:
        self.writers = writers

    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
        for w in self.writers:
            w.write(step, metrics)

    def write_config(self, config: Mapping[str, Any]) -> None:
        for w in self.writers:
            w.write_config(config)

    def close(self) -> None:
        for w in self.writers:
            w.close()


def build_writer(cfg, run_dir: str | Path, config: Mapping | None = None) -> MultiWriter:
    """From a :class:`genms.train.config.LoggerConfig`-like object, for a training run in
    ``run_dir``: ``metrics.jsonl`` keeps the rows up to the step the run starts from (its latest
    checkpoint, or 0), so a resumed run does not record the steps it trains again twice."""
    writers: list = []
    if cfg.jsonl:
        start = latest_checkpoint_step(run_dir) or 0
        writers.append(JsonlWriter(Path(run_dir) / "metrics.jsonl", keep_until=start))
    if cfg.wandb and cfg.mode != "disabled":
        writers.append(
            WandbWriter(run_dir, cfg.project, cfg.mode, cfg.group, cfg.tags, cfg.name, config)
        )
    train = (config or {}).get("train")
    steps = train.get("steps") if isinstance(train, Mapping) else None
    if steps:
        writers.append(TrainingProgress(int(steps), latest_checkpoint_step(run_dir) or 0))
    return MultiWriter(writers)
