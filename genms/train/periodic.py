"""One tested rule for periodic actions (log / eval / checkpoint)."""

from __future__ import annotations


def should_run(step: int, every: int | None, total: int) -> bool:
    """True after ``step`` completed steps (1-based) when ``step`` is a multiple of ``every``
    or the last step. ``every`` of 0/None disables the action (except on the last step)."""
    if step == total:
        return True
    return bool(every) and step % every == 0
