"""``report.html``: the run report as one self-contained page (inline CSS, pictures from
``images/``).

The page holds the same content as ``report.md``: the request and outcome, the answer table,
every answer structure drawn in a wrapping grid, the energy histogram, what the filters dropped
and why, and every formula with its reasons (each said once). Every piece of user or model text
is escaped. Nothing is loaded from the network.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from genms.search.answer import atoms_text, dropped_summary, formula_reasons
from genms.search.candidates import REJECTIONS, SearchResult
from genms.search.pictures import BOND_FACTOR

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 16px 24px 48px; color: #1d1d1f; background:
       #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; word-break: break-word; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
pre { background: #f6f6f6; padding: 8px 10px; border-radius: 4px; overflow-x: auto; font-size:
12.5px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #555; font-size: 12.5px; margin: 4px 0; }
.outcome-ok { color: #17692b; font-weight: 600; }
.outcome-bad { color: #a15c00; font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 12px; }
figure { margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: 6px; background: #fff; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: 12.5px; margin-top: 4px; }
ul.reasons { margin: 0; padding-left: 16px; }
ul.reasons li { margin: 0; }
img.wide { max-width: 640px; width: 100%; height: auto; }
"""


def _fmt(x: float | None, digits: int = 3) -> str:
    return (
        "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"
    )


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_report(
    result: SearchResult, rows: list, images: dict[str, Path], novelty_note: str, distinct: bool
) -> str:
    """The page (``rows``: :class:`genms.search.answer.AnswerRow` of the answer)."""
    e = escape
    ok = result.status == "ok"
    outcome = "outcome-ok" if ok else "outcome-bad"
    parts = [
        f"<h1>GenMS search: {e(result.request_text)}</h1>",
        f"<pre>{e(str(result.request))}</pre>",
        f'<p>Outcome: <span class="{outcome}">{e(result.status)}</span> — '
        f"{e(result.message)}<br>Seed: {result.seed} · Timings (s): "
        + e(", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()))
        + "</p>",
        f'<p class="note">Novelty: {e(novelty_note)}.</p>',
    ]
    if rows:
        sym = rows[0].symmetry
        parts.append("<h2>Top structures</h2>")
        if distinct:
            parts.append(
                '<p class="note">Near-copies of a better structure of the same formula are left '
                'out; '
                "rows are numbered as shown (<code>rank</code> in <code>candidates.csv</code> "
                "counts every "
                "kept structure).</p>"
            )
        parts.append(
            f'<p class="note">CIFs are symmetrised with spglib (symprec {sym.symprec:g} Å, angle '
            'tolerance '
            f"{sym.angle_tolerance:g}°, refined conventional cell); the space group column is "
            "that of the "
            "CIF.</p>"
        )
        table_rows = []
        for row in rows:
            c = row.candidate
            table_rows.append(
                [
                    str(row.position),
                    e(row.display),
                    e(row.symmetry.label),
                    atoms_text(row),
                    _fmt(c.e_form),
                    _fmt(c.r_hi, 2),
                    _fmt(c.score),
                    e(c.contact or "—"),
                    e(row.novelty),
                    f'<a href="cifs/{e(row.cif_name)}">{e(row.cif_name)}</a>',
                ]
            )
        parts.append(
            _table(
                [
                    "#",
                    "formula",
                    "space group",
                    "atoms",
                    "E_f (eV/atom)",
                    "R_hi",
                    "score",
                    "shortest contact",
                    "reference",
                    "CIF",
                ],
                table_rows,
                numeric={0, 3, 4, 5, 6},
            )
        )
        figures = []
        for row in rows:
            if row.stem not in images:
                continue
            c = row.candidate
            figures.append(
                f'<figure><img src="images/{e(images[row.stem].name)}" alt="{e(row.display)} '
                'structure" '
                f'loading="lazy"><figcaption><b>{row.position}. {e(row.display)}</b> · '
                f'{e(row.symmetry.label)}'
                f" · E_f {_fmt(c.e_form)} eV/atom · {e(row.novelty)}</figcaption></figure>"
            )
        if figures:
            parts.append(
                '<p class="note">One unit cell of each structure as written in its CIF: atoms on '
                'faces, '
                "edges and corners with their periodic images, and (paler) the anions just "
                "outside the "
                "cell that complete the cations' coordination; bonds between atoms closer than "
                f"{BOND_FACTOR:g} × the sum of their covalent radii (none between two cations); "
                "Jmol colours, "
                "one element darkened or lightened where two would look alike (legend under each "
                "picture).</p>"
            )
            parts.append('<div class="grid">' + "".join(figures) + "</div>")
    if "energy" in images:
        parts += [
            "<h2>Energy distribution</h2>",
            f'<img class="wide" src="images/{e(images["energy"].name)}" alt="energy distribution">',
        ]
    counts = result.status_counts()
    if counts:
        parts.append("<h2>Filters</h2>")
        parts.append(
            _table(
                ["status", "structures", "meaning"],
                [
                    [e(s), str(k), e(REJECTIONS.get(s, "passed every filter"))]
                    for s, k in sorted(counts.items(), key=lambda kv: -kv[1])
                ],
                numeric={1},
            )
        )
        dropped = dropped_summary(result)
        if dropped:
            drows = []
            for status, info in dropped.items():
                drows += [
                    [e(status), e(ex["id"]), e(ex["formula"]), e(ex["reason"])]
                    for ex in info["examples"]
                ]
                if info["count"] > len(info["examples"]):
                    drows.append(
                        [
                            e(status),
                            "…",
                            "",
                            f"{info['count'] - len(info['examples'])} more in "
                            "<code>candidates.csv</code>",
                        ]
                    )
            parts += [
                "<h3>Dropped structures</h3>",
                _table(["status", "id", "formula", "why"], drows),
            ]
    if result.formulae:
        parts.append("<h2>Formulae (π<sub>hi</sub> proposals ranked by R<sub>hi</sub>)</h2>")
        frows = []
        for n in result.formulae:
            reasons = "".join(f"<li>{e(r)}</li>" for r in formula_reasons(n))
            frows.append(
                [
                    str(n.rank) if n.rank else "—",
                    e(n.formula),
                    _fmt(n.r_hi, 2),
                    "yes" if n.expanded else "no",
                    str(n.n_sampled),
                    str(n.n_kept),
                    _fmt(n.best_e_form),
                    f'<ul class="reasons">{reasons}</ul>',
                ]
            )
        parts.append(
            _table(
                ["rank", "formula", "R_hi", "expanded", "sampled", "kept", "best E_f", "reasons"],
                frows,
                numeric={0, 2, 4, 5, 6},
            )
        )
    parts.append(
        '<p class="note">Files: <code>report.md</code>, '
        '<code>candidates.csv</code>/<code>.json</code> '
        "(every structure, every score), <code>formulae.csv</code>/<code>.json</code>, "
        "<code>cifs/</code>, "
        "<code>config.yaml</code>, <code>versions.json</code>, <code>summary.json</code>.</p>"
    )
    title = e(f"GenMS: {result.request_text}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
