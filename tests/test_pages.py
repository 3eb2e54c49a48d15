"""Every built page reads as prose for people: no snake_case column header and no True/False
cell in any table (plain tables and interactive ones, whose rows sit in ``data_json``)."""

from __future__ import annotations

import html
import json
import re

import pytest

_TH = re.compile(r"<th\b[^>]*>(.*?)</th>", re.S)
_TD = re.compile(r"<td\b[^>]*>(.*?)</td>", re.S)
_TAG = re.compile(r"<[^>]+>")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_DATA_JSON = re.compile(r'"data_json":\s*"((?:[^"\\]|\\.)*)"')


def _text(fragment: str) -> str:
    return html.unescape(_TAG.sub("", fragment)).replace("ⓘ", "").replace("🔒", "").strip()


def headers(page: str) -> list[str]:
    """The text of every table header cell of a page."""
    return [_text(h) for h in _TH.findall(page)]


def flag_cells(page: str) -> list[str]:
    """Cells that show a flag as True/False: plain cells, and JSON booleans in the rows of an
    interactive table."""
    found = [t for t in (_text(c) for c in _TD.findall(page)) if t in {"True", "False"}]
    for raw in _DATA_JSON.findall(page):
        rows = json.loads(json.loads(f'"{raw}"'))
        found += [str(v) for row in rows for v in row if isinstance(v, bool)]
    return found


def test_the_scan_finds_what_it_looks_for():
    page = (
        "<table><tr><th><sup><a>ⓘ</a></sup>beats_naive</th><th>Order count</th></tr>"
        '<tr><td style="x">True</td><td>3</td></tr></table>'
        '<script>let dt_args = {"data_json": "[[true, 0], [false, 1]]"};</script>'
    )
    assert [h for h in headers(page) if _SNAKE.match(h)] == ["beats_naive"]
    assert flag_cells(page) == ["True", "True", "False"]


@pytest.fixture(scope="module")
def pages(small_build) -> dict[str, str]:
    out, run = small_build
    assert run.returncode == 0, run.stderr[-3000:]
    found = {p.stem: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.html"))}
    found.pop("index", None)
    assert found, f"no report pages in {out}"
    return found


def test_no_page_has_a_snake_case_column_header(pages):
    bad = {
        name: sorted({h for h in headers(page) if _SNAKE.match(h)}) for name, page in pages.items()
    }
    assert not {name: hs for name, hs in bad.items() if hs}


def test_no_page_shows_true_or_false_in_a_table(pages):
    bad = {name: len(flag_cells(page)) for name, page in pages.items()}
    assert not {name: n for name, n in bad.items() if n}
