"""A real browser reads the reports: headless Chromium (Debian's ``chromium`` package) driven by
Playwright's Python package, no ``playwright install``.

The reports are built on the small sample; the browser opens ``index.html``, follows every link
to a report and fails on a console error, any request other than ``file:`` or ``data:`` (the
pages must open offline), a broken image or one without alt text, traceback or warning text,
visible code, an email address or a phone number. A screenshot of every page is saved in the
test's own temporary reports folder (``<tmp>/screenshots/``), never in the tracked tree or the
user's ``reports/``. The README's picture, ``docs/img/overview.png`` (the top of the overview
report), is refreshed only when asked: ``make screenshot`` sets ``HELPERS_README_SHOT`` to it.

Where Chromium or Playwright is missing the tests are skipped with the reason, except under
``CI=true``, where that is a failure (``make test`` installs Chromium with apt-get as root).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from helpers.config import PROJ_ROOT

REPORTS = [r["name"] for r in yaml.safe_load((PROJ_ROOT / "reports.yml").read_text())["reports"]]
#: ``make screenshot`` sets it to docs/img/overview.png; unset, the tracked picture is left alone.
README_SHOT_ENV = "HELPERS_README_SHOT"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.(?:com|cn|net|org)\b")
PHONE = re.compile(r"\+\d{1,3}[ -]?\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4}")
WARNING = re.compile(
    r"(Traceback \(most recent call last\)|\w+Warning:|RuntimeWarning|Error:|findfont:)"
)
CODE = re.compile(r"(from helpers|import \w+|present\.\w+\(|plots\.\w+\(|In \[\d*\]:)")
LOCAL = ("file:", "data:", "about:", "blob:")
ITABLE = re.compile(r'<table[^>]* id="(itables_[0-9a-f]{8}_[0-9a-f_]+)"')


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run under CI=true: {reason}")
    pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture(scope="session")  # session, as `built`: set up first, skip early
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).is_file():
        _unavailable(
            f"no Chromium at {CHROMIUM} (as root: apt-get install chromium; `make test` does it)"
        )
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def built(small_build):
    """Every report in reports.yml built on the small sample (the session's one build)."""
    out, run = small_build
    assert run.returncode == 0, run.stderr[-3000:]
    return out


class Visit:
    """One page opened in a fresh browser context, with everything that went wrong on it."""

    def __init__(self, browser, url: str, width: int = 1200, height: int = 900):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.problems: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on(
            "requestfailed", lambda req: self.problems.append(f"request failed: {req.url[:120]}")
        )
        self.page.goto(url, wait_until="load")
        self.page.wait_for_timeout(300)  # DataTables initialises on load

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL):
            route.continue_()
        else:
            self.problems.append(f"network request: {url[:160]}")
            route.abort()

    def _console(self, msg):
        if msg.type in ("error", "warning"):
            self.problems.append(f"console {msg.type}: {msg.text[:300]}")

    def broken_images(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "img",
            "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0 || !i.alt)"
            ".map(i => (i.alt || 'no alt') + ' ' + i.src.slice(0, 60))",
        )

    def visible_code(self) -> int:
        return self.page.locator(
            ".jp-InputArea >> visible=true, .jp-InputPrompt >> visible=true, "
            ".jp-CodeMirrorEditor >> visible=true"
        ).count()

    def check_text(self) -> str:
        text = self.page.inner_text("body")
        for what, pattern in (("warning or traceback", WARNING), ("code", CODE)):
            found = pattern.search(text)
            assert not found, f"{what} in the page: {found.group(0)!r}"
        assert not EMAIL.search(text), "an email address in the page"
        assert not PHONE.search(text), "a phone number in the page"
        return text

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=full_page)

    def close(self) -> None:
        self.context.close()


def test_index_links_every_report(browser, built):
    visit = Visit(browser, (built / "index.html").as_uri())
    try:
        visit.check_text()
        cards = visit.page.locator("li.card")
        assert cards.count() == len(REPORTS)
        for i in range(cards.count()):
            card = cards.nth(i).inner_text()
            for label in ("ok", "built", "run time", "parameters", "data period", "git commit"):
                assert label in card, f"card {i} has no {label!r}: {card[:200]}"
            assert "{'" not in card, f"card {i} shows a raw dict: {card[:200]}"
        links = visit.page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        for name in REPORTS:
            assert (built / f"{name}.html").as_uri() in links, f"no link to {name}.html"
        for link in links:
            assert link.startswith("file:"), f"index links off the machine: {link}"
            assert Path(link.removeprefix("file://").split("#")[0]).exists(), link
        assert not visit.broken_images()
        assert not visit.problems, visit.problems
        visit.screenshot(built / "screenshots" / "index.png")
    finally:
        visit.close()


@pytest.mark.parametrize("name", REPORTS)
def test_report_in_browser(browser, built, name):
    visit = Visit(browser, (built / f"{name}.html").as_uri())
    try:
        visit.screenshot(built / "screenshots" / f"{name}.png")
        assert not visit.problems, visit.problems
        assert not visit.broken_images(), visit.broken_images()
        assert visit.visible_code() == 0, "code cells are visible"
        text = visit.check_text()
        assert "Key findings" in text and "Data quality" in text
        page = visit.page
        assert page.locator("nav.report-toc a").count() >= 3, "no table of contents"
        footer = page.inner_text("footer.report-footer")
        assert "Data fingerprint" in footer and "git commit" in footer and "built" in footer
        assert page.locator("img").count() >= 1, "no figure"
        # Long tables: itables' offline DataTables bundle must have loaded and initialised.
        raw = (built / f"{name}.html").read_text(encoding="utf-8")
        n_interactive = len(set(ITABLE.findall(raw)))
        assert page.locator(".dt-container").count() == n_interactive, (
            "an interactive table did not initialise (DataTables bundle missing?)"
        )
        assert page.locator(".dt-container .dt-search input").count() == n_interactive
        fallback = page.locator("div[id^=itables_][id$=_fallback] >> visible=true")
        assert fallback.count() == 0, "itables' static fallback shown instead of the table"
        if name == "overview":
            page.set_viewport_size({"width": 1100, "height": 1500})
            top = built / "screenshots" / "overview-top.png"
            visit.screenshot(top, full_page=False)
            if os.environ.get(README_SHOT_ENV):
                shutil.copyfile(top, PROJ_ROOT / os.environ[README_SHOT_ENV])
    finally:
        visit.close()
