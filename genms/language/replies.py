"""Strict parsing of LLM replies into formula lists.

A reply is text; nothing in it is ever executed or evaluated. Accepted shapes: one formula per
line (optionally bulleted or numbered, optionally in backticks or bold), comma-separated
formulae, a JSON list of strings, or any of these inside a code fence. Every item must be a
formula on its own (``SrTiO3``, ``Cs2AgBiBr6``, unicode subscripts allowed); an item with prose
("SrTiO3 (strontium titanate)") is rejected and reported, not guessed at.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from genms.crystal.composition import FormulaError, parse_formula, read_formula

MAX_REPLY_CHARS = 100_000
MAX_ITEMS = 500
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_BULLET = re.compile(r"^\s*(?:[-*\u2022>]+|\(?\d{1,3}[.):]|[a-z][.)])\s+")
_FENCE = re.compile(r"```[a-zA-Z]*")


@dataclass(frozen=True)
class ParsedReply:
    formulae: tuple[str, ...]  # as written (subscripts normalised), in reply order, no repeats
    rejected: tuple[str, ...]  # items that were not formulae (truncated to 60 characters)

    @property
    def empty(self) -> bool:
        return not self.formulae


def _items(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, list):
            return [str(x) for x in data]
    items = []
    for line in _FENCE.sub("\n", text).splitlines():
        line = _BULLET.sub("", line).strip()
        if not line:
            continue
        items.extend(p for p in re.split(r"\s*[,;]\s*", line) if p)
    return items


def _clean(item: str) -> str:
    item = item.translate(_SUBSCRIPTS).strip()
    item = item.strip("`*_\"' \t")
    return item.rstrip(".:")


def parse_formula_list(text: str) -> ParsedReply:
    """Formulae from a reply, strictly (see the module docstring)."""
    if not isinstance(text, str):
        return ParsedReply((), (repr(type(text)),))
    formulae: list[str] = []
    rejected: list[str] = []
    for raw in _items(text[:MAX_REPLY_CHARS])[:MAX_ITEMS]:
        item = _clean(raw)
        ok = "." not in item and read_formula(item) is not None  # whole amounts, no spaces
        if ok:
            try:
                parse_formula(item)
            except FormulaError:
                ok = False
        if ok:
            if item not in formulae:
                formulae.append(item)
        elif item:
            rejected.append(item[:60])
    return ParsedReply(tuple(formulae), tuple(rejected))
