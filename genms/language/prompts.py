"""Prompt templates: versioned text files in ``genms/language/prompts/``, rendered with
:class:`string.Template` (``$name`` fields; a missing value is an error, never silent).

``propose_formulae.v1.txt`` follows the paper's formula prompt (``genms-paper.md`` §5.1):
optional retrieved context first, then the request, the wish for stable, realistic formulae not
in Materials Project or ICSD, and "just give the formula". It adds the parsed constraints and the
known formulae of the family (long-context de-duplication, §1.5). ``rank_formulae.v1.txt`` asks
for the ranking R_hi uses; the paper does not give its ranking prompt, so this one is ours.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"


class PromptError(ValueError):
    """A prompt template is missing or one of its fields has no value."""


@lru_cache(maxsize=32)
def load_template(name: str, version: str) -> string.Template:
    path = PROMPT_DIR / f"{name}.{version}.txt"
    if not path.is_file():
        have = sorted(p.name for p in PROMPT_DIR.glob(f"{name}.*.txt"))
        raise PromptError(f"prompt {path.name} not found; available: {', '.join(have) or 'none'}")
    return string.Template(path.read_text())


def render(name: str, version: str, **values: object) -> str:
    """The template with every field filled; blank lines left by empty blocks collapse."""
    try:
        text = load_template(name, version).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise PromptError(f"prompt {name}.{version} needs a value for {exc}") from exc
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"


def propose_prompt(request, context: str, known: list[str], n: int, version: str = "v1") -> str:
    """The formula-proposal prompt for a parsed request."""
    context_block = (
        f"Here is some information about {_category(request)}:\n{context}\n" if context else ""
    )
    constraints = request.constraint_lines()
    constraints_block = (
        ("The formulae must satisfy:\n" + "\n".join(f"- {c}" for c in constraints))
        if constraints
        else ""
    )
    known_block = (
        f"These formulae are already known; do not give any of them: {', '.join(known)}."
        if known
        else ""
    )
    novelty = (
        " and do not exist in datasets like Materials Project or ICSD"
        if request.wants_novel
        else ""
    )
    return render(
        "propose_formulae",
        version,
        context_block=context_block,
        n=n,
        category=_category(request),
        novelty_clause=novelty,
        constraints_block=constraints_block,
        known_block=known_block,
    )


def rank_prompt(request, formulae: list[str], version: str = "v1") -> str:
    constraints = request.constraint_lines()
    constraints_block = (
        ("Constraints:\n" + "\n".join(f"- {c}" for c in constraints)) if constraints else ""
    )
    return render(
        "rank_formulae",
        version,
        request=request.text,
        constraints_block=constraints_block,
        formulae="\n".join(formulae),
    )


def system_prompt(version: str = "v1") -> str:
    return render("system", version)


def _category(request) -> str:
    return request.text.strip().rstrip(".")
