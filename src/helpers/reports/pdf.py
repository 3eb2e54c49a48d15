"""Every report page printed to PDF by the headless Chromium already on the machine.

``chromium --headless --no-sandbox --disable-gpu --print-to-pdf=<name>.pdf file://<name>.html``
with the flags that keep it off the network (no background networking, component updates,
sync or first-run fetches) and a throw-away profile, so two prints never share one. No browser
is downloaded: Chromium comes from ``$CHROMIUM``, else ``chromium`` / ``chromium-browser`` /
``google-chrome`` on the PATH (``make browser`` installs Debian's). A page whose PDF is newer
than it is not printed again. Playwright was considered (the browser tests use it) but is a dev
extra; the command line needs nothing beyond the browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PDF_DIR", "find_chromium", "print_pdf", "print_pdfs"]

PDF_DIR = "pdf"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-pdf-header-footer",
    "--virtual-time-budget=10000",  # let the page's scripts (itables) finish before printing
]


def find_chromium() -> str | None:
    """The Chromium to print with: ``$CHROMIUM``, else the first of :data:`NAMES` on the PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    return next((found for name in NAMES if (found := shutil.which(name))), None)


def print_pdf(html: Path, pdf: Path, chromium: str, timeout: float = 180) -> Path:
    """Print one page; raises RuntimeError (with Chromium's last line) when no PDF came out."""
    html, pdf = Path(html).resolve(), Path(pdf).resolve()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf.with_name(f".{pdf.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="helpers-pdf-") as profile:
        run = subprocess.run(
            [
                chromium,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--print-to-pdf={tmp}",
                html.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(
            f"Chromium printed no PDF of {html.name} (exit {run.returncode}): {last}"
        )
    os.replace(tmp, pdf)
    return pdf


def print_pdfs(
    out_dir: Path, names: list[str], chromium: str | None = None, log=print
) -> list[Path]:
    """``<out>/pdf/<name>.pdf`` for each report of ``names`` that has a page; returns them.
    Raises RuntimeError when no Chromium is found."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError(
            "no Chromium to print the PDFs with: set $CHROMIUM, or as root apt-get install "
            "chromium (`make browser`)"
        )
    out_dir = Path(out_dir)
    done = []
    for name in names:
        html = out_dir / f"{name}.html"
        if not html.is_file():
            continue
        pdf = out_dir / PDF_DIR / f"{name}.pdf"
        if pdf.is_file() and pdf.stat().st_mtime >= html.stat().st_mtime:
            done.append(pdf)
            continue
        print_pdf(html, pdf, chromium)
        log(f"  pdf     {name:<28} {pdf.stat().st_size / 1e6:.1f} MB")
        done.append(pdf)
    return done
