"""Screenshot a run folder's ``report.html`` in headless Chromium and check what the browser shows.

    python scripts/screenshot_report.py runs/generate/<time> [--out report.png] [--width 1280]

Chromium (Debian: ``apt-get install chromium``) runs headless, sandbox-free, with a fresh
profile in a temporary folder, and with background networking, component updates, sync and
first-run tasks turned off, every host name unresolvable and a dead loopback proxy; the page is
opened from the local file system, so nothing touches the network. Two passes:

1. ``--dump-dom``: the page as the browser parsed it; every ``<img>`` must point to an existing
   PNG of the run folder, and there must be one picture per answer row of ``summary.json``;
2. ``--screenshot``: a PNG of the page (full height), which must not be blank.

Exit status 0 when every check passes, 1 (with the failures listed) when one does not, 2 when no
Chromium is found. Used by ``tests/search/test_report_browser.py``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--no-default-browser-check",
         # no name resolves and every request would go to a closed port on loopback:
         # nothing leaves the machine
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(browser: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="genms-chromium-") as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.figures = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))
        elif tag == "figure":
            self.figures += 1


def page_height(dom: str, n_rows: int) -> int:
    """A screenshot height that holds the whole page (a generous estimate from its content)."""
    rows = dom.count("<tr")
    return max(900, 500 + 34 * rows + 420 * ((n_rows + 3) // 4) + 450)


def check_report(run_dir: Path, out: Path, width: int = 1280,
                 timeout: float = 120.0) -> list[str]:
    """Screenshot ``run_dir/report.html`` to ``out``; the failed checks (empty: all passed)."""
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError("no Chromium found (tried " + ", ".join(BROWSERS) + ")")
    report = (run_dir / "report.html").resolve()
    if not report.is_file():
        return [f"{report} does not exist"]
    url = report.as_uri()
    problems: list[str] = []
    dom_run = _run(browser, ["--dump-dom", url], timeout)
    dom = dom_run.stdout
    if dom_run.returncode != 0 or "<body" not in dom:
        return [f"chromium --dump-dom failed (exit {dom_run.returncode}): "
                f"{dom_run.stderr.strip()[-400:]}"]
    parser = _Images()
    parser.feed(dom)
    for src in parser.images:
        target = (run_dir / src).resolve()
        if re.match(r"^[a-z]+:", src) or not target.is_file():
            problems.append(f"<img src={src!r}> is not a file of the run folder")
    summary_path = run_dir / "summary.json"
    n_rows = 0
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        n_rows = len(summary.get("top", []))
        if summary.get("top") and parser.figures != n_rows:
            problems.append(f"{parser.figures} pictures for {n_rows} answer rows")
    out.parent.mkdir(parents=True, exist_ok=True)
    shot = _run(browser, [f"--screenshot={out.resolve()}",
                          f"--window-size={width},{page_height(dom, n_rows)}",
                          "--virtual-time-budget=5000", url], timeout)
    if shot.returncode != 0 or not out.is_file():
        return problems + [f"chromium --screenshot failed (exit {shot.returncode}): "
                           f"{shot.stderr.strip()[-400:]}"]
    problems += _blank(out)
    return problems


def _blank(png: Path) -> list[str]:
    """A screenshot that is one flat colour shows nothing."""
    try:
        from PIL import Image  # noqa: PLC0415 (optional: without Pillow only the size is checked)
    except ImportError:
        return [] if png.stat().st_size > 20_000 else [f"{png} is suspiciously small"]
    with Image.open(png) as im:
        lo, hi = im.convert("L").getextrema()
    return [] if hi - lo > 50 else [f"{png} is blank"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None,
                        help="PNG to write (default: RUN_DIR/report.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    out = args.out or args.run_dir / "report.png"
    try:
        problems = check_report(args.run_dir, out, args.width, args.timeout)
    except FileNotFoundError as exc:
        print(f"screenshot_report: {exc}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"FAIL {p}")
    if not problems:
        print(f"ok: {out}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
