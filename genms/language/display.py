"""Printing the language level's results: a parsed request and R_hi-scored formulae."""

from __future__ import annotations

from collections.abc import Sequence

from genms.language.rhi import ScoredFormula

_SHORT = {
    "syntax": "syntax",
    "uniqueness": "novel",
    "ratio": "ratio",
    "elements": "elements",
    "charge": "charge",
    "likelihood": "fit",
    "llm_rank": "llm",
    "preference": "prefer",
    "property": "property",
}


def check_marks(s: ScoredFormula) -> str:
    parts = []
    for c in s.checks:
        if c.name in ("likelihood", "llm_rank", "preference", "property"):
            parts.append(f"{_SHORT[c.name]} {c.score:.2f}")
        else:
            mark = "✓" if c.passed else ("✗" if c.hard else "·")
            parts.append(f"{_SHORT[c.name]} {mark}")
    return "  ".join(parts)


def render_scored(scored: Sequence[ScoredFormula], show_rejected: bool = False) -> str:
    """One block per formula: rank, formula, R_hi total, check marks, then the reasons."""
    lines = []
    shown = [s for s in scored if s.passed or show_rejected]
    width = max((len(s.formula) for s in shown), default=8)
    for i, s in enumerate(shown, 1):
        status = f"R_hi {s.total:.2f}" if s.passed else "rejected"
        lines.append(f"{i:>3}. {s.formula:<{width}}  {status:<9}  {check_marks(s)}")
        for c in s.checks:
            if c.name == "syntax" and c.passed:
                continue
            lines.append(f"       {_SHORT[c.name]:<8} {c.reason}")
        if s.source != "offline":  # the offline proposer's reasons repeat the fit line
            for reason in s.proposer_reasons[:1]:
                lines.append(f"       {'proposer':<8} {reason}")
    hidden = len(scored) - len(shown)
    if hidden:
        lines.append(
            f"     ({hidden} rejected candidate(s) hidden; show them with show_rejected=true)"
        )
    return "\n".join(lines)
