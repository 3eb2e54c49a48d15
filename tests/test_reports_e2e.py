"""End to end: every report in reports.yml builds on the small sample, and its HTML is clean.

Clean means: status ok, no traceback or warning text, no code shown, no email address or phone
number (personal data stays in reports/exports/), nothing fetched from the network.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from helpers.config import PROJ_ROOT

REPORTS = [r["name"] for r in yaml.safe_load((PROJ_ROOT / "reports.yml").read_text())["reports"]]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.(?:com|cn|net|org)\b")
PHONE = re.compile(r"\+\d{1,3}[ -]?\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4}")
WARNING = re.compile(
    r"(Traceback \(most recent call last\)|\w+Warning:|RuntimeWarning|Error:|findfont:)"
)


@pytest.fixture(scope="session")
def built(small_build):
    """The session's one build of every report on the small sample (tests/conftest.py)."""
    return small_build


def test_build_succeeds(built):
    out, run = built
    assert run.returncode == 0, run.stderr[-3000:]
    index = (out / "index.html").read_text(encoding="utf-8")
    for name in REPORTS:
        assert f"{name}.html" in index
        sections = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))["sections"]
        assert sections, f"{name} publishes no sections"
        card = re.search(rf'<li class="card" id="{name}">.*?</li>', index, re.S).group(0)
        count = f"{len(sections['built'])} of {sections['total']} section"
        assert count in card, (name, count)


@pytest.mark.parametrize("name", REPORTS)
def test_report_html_is_clean(built, name):
    out, _ = built
    meta = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    assert meta["status"] == "ok"
    assert meta["figures"], "the report published no key figures"
    html = (out / f"{name}.html").read_text(encoding="utf-8")
    text = re.sub(r"<style.*?</style>|<script.*?</script>", "", html, flags=re.S)
    text = re.sub(r"data:[\w/+.-]+;base64,[\w+/=]+", "", text)  # embedded images
    assert not WARNING.search(text), WARNING.search(text).group(0)
    assert not EMAIL.search(text), "an email address in the report"
    assert not PHONE.search(text), "a phone number in the report"
    assert "from helpers" not in text, "code is visible"
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?://", html)
    assert "<h2" in html and "Key findings" in html and "Data quality" in html
