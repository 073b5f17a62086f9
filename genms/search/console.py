"""Terminal output of the search: progress bars per stage and the ranked table (rich)."""

from __future__ import annotations

import math
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from genms.progress import TextProgress
from genms.search.answer import build_answer, novelty_note
from genms.search.candidates import SearchResult

STAGE_LABELS = {
    "propose": "π_hi  propose + R_hi",
    "sample": "π_lo  sample structures",
    "check": "check validity",
    "energy": "R_lo  formation energy",
}


class RichProgress:
    """The search's :class:`~genms.search.tree.Progress` as rich progress bars."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.tasks: dict[str, int] = {}

    def start(self, stage: str, total: int) -> None:
        if stage in self.tasks:
            self.progress.reset(self.tasks[stage], total=max(total, 1), note="")
        else:
            self.tasks[stage] = self.progress.add_task(
                STAGE_LABELS.get(stage, stage), total=max(total, 1), note=""
            )

    def note(self, stage: str, text: str) -> None:
        """What the stage is doing now (e.g. "compiling the sampler for 16 cells of <= 12
        atoms")."""
        if stage in self.tasks:
            self.progress.update(self.tasks[stage], note=text)

    def advance(self, stage: str, n: int = 1) -> None:
        if stage in self.tasks:
            self.progress.update(self.tasks[stage], advance=n)

    def finish(self, stage: str) -> None:
        if stage in self.tasks:
            task = self.tasks[stage]
            self.progress.update(task, completed=self.progress.tasks[task].total, note="")


class LineProgress:
    """The search's :class:`~genms.search.tree.Progress` as plain lines on stderr (the Python
    API's default; works in a notebook or a log file): a line when a stage starts, when what it
    is doing changes (compiling, sampling), at least every ``interval`` seconds while it runs and
    when it ends, with counts, elapsed time and ETA."""

    def __init__(self, stream=None, interval: float = 10.0) -> None:
        self.lines = TextProgress(stream, interval, prefix="genms: ")
        self.done: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.notes: dict[str, str] = {}

    def _show(self, stage: str) -> None:
        self.lines(
            STAGE_LABELS.get(stage, stage).split("  ")[-1],
            self.done[stage],
            self.total[stage],
            self.notes.get(stage, ""),
        )

    def start(self, stage: str, total: int) -> None:
        self.done[stage], self.total[stage], self.notes[stage] = 0, max(int(total), 0), ""
        self._show(stage)

    def advance(self, stage: str, n: int = 1) -> None:
        if stage in self.done:
            self.done[stage] += int(n)
            self._show(stage)

    def note(self, stage: str, text: str) -> None:
        if stage in self.done:
            self.notes[stage] = text
            self._show(stage)

    def finish(self, stage: str) -> None:
        if stage in self.done and self.done[stage] < self.total[stage]:
            self.done[stage] = self.total[stage]
            self._show(stage)


@contextmanager
def progress_bars(console, enabled: bool = True):
    """Yields a :class:`RichProgress` (or ``None`` when disabled) drawn on ``console``."""
    if not enabled:
        yield None
        return

    with Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=False,
    ) as progress:
        yield RichProgress(progress)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def ranked_table(
    result: SearchResult,
    k: int,
    show_cif: bool = False,
    distinct: bool = True,
    symprec: float = 0.1,
    reference=None,
    rows=None,
):
    """A rich table of the answer (:func:`genms.search.answer.build_answer`): rows numbered as
    shown, the space group of the written symmetrised CIF, and what the novelty claim means."""
    rows = rows if rows is not None else build_answer(result, k, distinct, symprec, reference)
    title = Text(  # Text: the request is not markup
        f"Top {len(rows)} of {len(result.candidates)} structures for {result.request_text!r}"
        + (" (near-copies left out)" if distinct else "")
    )
    caption = Text(
        f"space group: spglib at symprec {symprec:g} Å, as in the symmetrised CIF. "
        + novelty_note(reference)
        + "."
    )
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for name, justify in (
        ("#", "right"),
        ("formula", "left"),
        ("space group", "left"),
        ("atoms", "right"),
        ("E_f eV/atom", "right"),
        ("R_hi", "right"),
        ("score", "right"),
        ("min d Å", "right"),
        ("reference", "left"),
        ("CIF", "left"),
    ):
        table.add_column(name, justify=justify)
    for row in rows:
        c = row.candidate
        table.add_row(
            str(row.position),
            Text(row.display),
            row.symmetry.label,
            str(c.n_atoms),
            _fmt(c.e_form),
            _fmt(c.r_hi, 2),
            _fmt(c.score),
            _fmt(c.min_distance, 2),
            Text(row.novelty),
            f"cifs/{row.cif_name}" if show_cif else "",
        )
    return table
