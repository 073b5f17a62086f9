"""Retrieval for the language level: the family knowledge base, known examples, Wikipedia.

* Local (always): the family's description and prototypes from :mod:`genms.language.families`,
  and known members of the family from the datasets: compounds whose atom ratio is one of the
  family's, whose space group is one of the family's, and (``check_sites``) whose elements can
  fill the family's sites with charge-neutral ions. :func:`family_examples` returns them with
  material ids, so the search can load the structures as the family's reference set.
* Wikipedia (online option, off by default): the summary of the family's article from the
  REST API (``/api/rest_v1/page/summary/<title>``), cached on disk; the paper's retrieval.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from genms.configs import ranged
from genms.crystal.composition import formula_elements, formula_ratio, normalise_ratio
from genms.data.known import KnownCompound, KnownCompounds
from genms.io import atomic_write_json
from genms.language.families import Family, get_family
from genms.language.sitefit import best_site_fit
from genms.paths import user_cache_dir

log = logging.getLogger(__name__)

USER_AGENT = "genms/0.1 (generative materials search; language retrieval)"


@dataclass(frozen=True)
class RetrievalConfig:
    max_examples: int = ranged(200, 0, 100_000)  # known formulae put in an LLM prompt
    check_sites: bool = True  # examples must fit the family's sites with neutral ions
    wikipedia: bool = False  # online; off by default
    wikipedia_url: str = "https://en.wikipedia.org"
    wikipedia_timeout_s: float = ranged(10.0, 0, 3600, lo_open=True)
    wikipedia_max_chars: int = ranged(1500, 0, 1_000_000)
    cache_dir: str = "auto"  # auto: the user cache's "wikipedia" folder


@dataclass(frozen=True)
class Retrieved:
    text: str
    examples: tuple[KnownCompound, ...] = ()
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def example_formulae(self) -> list[str]:
        return list(dict.fromkeys(e.formula for e in self.examples))


@lru_cache(maxsize=100_000)
def _fits(formula: str, family: str) -> bool:
    return best_site_fit(formula, family) is not None


def family_examples(family: str | Family, known: KnownCompounds, by_spacegroup: bool = True,
                    check_sites: bool = True) -> list[KnownCompound]:
    """Known compounds of a family: ratio (and space group, and site fit) match; sorted by
    formula."""
    fam = family if isinstance(family, Family) else get_family(family)
    ratios = {normalise_ratio(r) for r in fam.ratios}
    groups = set(fam.space_groups)
    out = []
    for formula in sorted(known.by_formula):
        try:
            if formula_ratio(formula) not in ratios:
                continue
        except ValueError:
            continue
        rows = [r for r in known.by_formula[formula] if not by_spacegroup or r.spacegroup in groups]
        if rows and (not check_sites or _fits(formula, fam.name)):
            out.extend(rows)
    return out


def _matches(formula: str, request) -> bool:
    elements = formula_elements(formula)
    return (
        set(request.required_elements) <= elements
        and not elements & set(request.excluded_elements)
        and all(elements & set(g) for g in request.any_of_elements)
        and all(c.satisfied_by(elements) for c in request.element_classes)
    )


def _spread(items: list, n: int) -> list:
    """``n`` items evenly spread over ``items`` (deterministic)."""
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def retrieve(request, known: KnownCompounds, cfg: RetrievalConfig | None = None) -> Retrieved:
    """Context for a request: knowledge-base text (plus Wikipedia when enabled) and known
    examples."""
    cfg = cfg or RetrievalConfig()
    texts, sources = [], []
    examples: list[KnownCompound] = []
    if request.family:
        fam = get_family(request.family)
        texts.append(fam.summary())
        sources.append("knowledge base")
        examples = family_examples(fam, known, check_sites=cfg.check_sites)
        title = fam.wikipedia
    else:
        title = ""
        if request.ratio:
            want = normalise_ratio(request.ratio)
            examples = [r for f in known.by_ratio.get(want, []) for r in known.by_formula[f][:1]]
    matching = [e for e in examples if _matches(e.formula, request)]
    by_formula = {e.formula: e for e in (matching or examples)}
    picked = _spread(sorted(by_formula), cfg.max_examples)
    examples_out = tuple(by_formula[f] for f in picked)
    if examples_out:
        sources.append(f"{len(by_formula)} known examples")
    if cfg.wikipedia and title:
        extract = WikipediaRetriever(cfg).summary(title)
        if extract:
            texts.append(f"From Wikipedia ({title.replace('_', ' ')}): {extract}")
            sources.append("wikipedia")
    return Retrieved("\n".join(texts), examples_out, tuple(sources))


class WikipediaRetriever:
    """Page summaries from a MediaWiki REST API, cached as JSON files (one per title)."""

    def __init__(self, cfg: RetrievalConfig) -> None:
        if not cfg.wikipedia_url.startswith(("http://", "https://")):
            raise ValueError(
                f"retrieval.wikipedia_url={cfg.wikipedia_url!r} must be an http(s) URL"
            )
        self.cfg = cfg
        base = (
            user_cache_dir() / "wikipedia"
            if cfg.cache_dir == "auto"
            else Path(cfg.cache_dir).expanduser()
        )
        self.cache_dir = base

    def _cache_path(self, title: str) -> Path:
        safe = urllib.parse.quote(title, safe="")
        return self.cache_dir / f"{safe}.json"

    def summary(self, title: str) -> str:
        """The article's plain-text summary ('' when unavailable; failures are logged, not
        raised)."""
        path = self._cache_path(title)
        if path.is_file():
            try:
                return json.loads(path.read_text())["extract"][: self.cfg.wikipedia_max_chars]
            except (OSError, ValueError, KeyError):
                log.warning("ignoring unreadable Wikipedia cache file %s", path)
        page = urllib.parse.quote(title, safe="")
        url = f"{self.cfg.wikipedia_url.rstrip('/')}/api/rest_v1/page/summary/{page}"
        req = urllib.request.Request(
            url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.cfg.wikipedia_timeout_s) as resp:
                data = json.loads(resp.read(2_000_000).decode("utf-8", errors="replace"))
            extract = str(data.get("extract", ""))
        except Exception as exc:  # network, HTTP and JSON errors all mean "no context"
            log.warning("Wikipedia retrieval for %r failed: %s", title, exc)
            return ""
        if extract:
            atomic_write_json(path, {"title": title, "extract": extract}, indent=None)
        return extract[: self.cfg.wikipedia_max_chars]

