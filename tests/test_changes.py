"""What changed (helpers.reports.changes) on hand-made figures and series: changes since the
last build, since the last period and a year before, the robust z-score flags, and how the
index card, the "Worth a look" list and the report page show them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.reports import changes as ch
from helpers.reports.config import ReportSpec
from helpers.reports.index import write_index


def weekly(values: list[float], first: int = 1, year: int = 2026) -> dict:
    return {"freq": "week", "values": {f"{year}-W{first + i:02d}": v for i, v in enumerate(values)}}


#: 20 weeks of ordinary noise around 100 (no jump).
NOISE = [100, 97, 104, 99, 102, 95, 101, 106, 98, 103, 100, 96, 105, 99, 102, 97, 101, 104, 98, 100]


def test_figure_changes_against_the_previous_build() -> None:
    now = {"gmv": 1200.0, "tickets": 30, "label": "x", "rows_read": 9, "unknown_key": 5}
    before = {"gmv": 1000.0, "tickets": 20, "rows_read": 3}
    got = ch.figure_changes("service", now, before)
    assert set(got) == {"gmv", "tickets"}  # metrics only: no provenance, text or unknown key
    assert got["gmv"] == {
        "current": 1200.0,
        "previous": 1000.0,
        "change": 200.0,
        "relative": pytest.approx(0.2),
        "tone": "good",  # GMV: up is good
    }
    assert got["tickets"]["change"] == 10 and got["tickets"]["tone"] == "bad"  # down is good
    first = ch.figure_changes("overview", {"gmv": 5.0}, None)["gmv"]
    assert first["previous"] is None and first["change"] is None and first["tone"] == "neutral"
    zero = ch.figure_changes("overview", {"gmv": 5.0}, {"gmv": 0.0})["gmv"]
    assert zero["change"] == 5.0 and zero["relative"] is None


def test_previous_and_year_ago_periods() -> None:
    assert ch.previous_period("2026-W01") == "2025-W52"
    assert ch.previous_period("2021-W01") == "2020-W53"
    assert ch.previous_period("2026-01") == "2025-12"
    assert ch.previous_period("2026-10") == "2026-09"
    assert ch.year_ago_period("2026-W44") == "2025-W44"
    assert ch.year_ago_period("2020-W53") is None  # 2019 has no week 53
    assert ch.year_ago_period("2026-10") == "2025-10"


def test_period_change_week_on_week_and_year_on_year() -> None:
    values = {f"2025-W{w:02d}": 10.0 * w for w in range(40, 53)}
    values |= {f"2026-W{w:02d}": 100.0 + w for w in range(1, 45)}
    got = ch.period_change("last_week_gmv", {"freq": "week", "values": values})
    assert got["period"] == "2026-W44" and got["current"] == 144.0
    assert got["previous_period"] == "2026-W43" and got["previous"] == 143.0
    assert got["change"] == 1.0 and got["relative"] == pytest.approx(1 / 143)
    assert got["year_ago_period"] == "2025-W44" and got["year_ago"] == 440.0
    assert got["year_change"] == -296.0 and got["year_tone"] == "bad"
    month = ch.period_change(
        "last_month_gmv", {"freq": "month", "values": {"2026-09": 8, "2026-10": 6}}
    )
    assert (month["previous"], month["change"], month["tone"]) == (8, -2, "bad")
    assert month["year_ago"] is None and month["year_change"] is None
    assert ch.period_change("gmv", {"freq": "month", "values": {}}) is None


def test_a_planted_jump_is_flagged_with_its_size() -> None:
    flag = ch.robust_flag("last_week_gmv", weekly([*NOISE[:-1], 160.0]))
    assert flag is not None
    history = NOISE[-13:-1]
    med = sorted(history)[5:7]
    assert flag["median"] == pytest.approx(sum(med) / 2)
    assert flag["period"] == "2026-W20" and flag["value"] == 160.0 and flag["window"] == 12
    assert flag["move"] == "up" and flag["tone"] == "good" and flag["z"] > 3.5
    assert flag["change"] == pytest.approx(160.0 - flag["median"])
    drop = ch.robust_flag("tickets", weekly([*NOISE[:-1], 160.0]))
    assert drop["tone"] == "bad"  # more tickets: up is bad
    fall = ch.robust_flag("last_week_gmv", weekly([*NOISE[:-1], 40.0]))
    assert fall["move"] == "down" and fall["z"] < -3.5 and fall["tone"] == "bad"


def test_ordinary_noise_and_short_histories_flag_nothing() -> None:
    assert ch.robust_flag("last_week_gmv", weekly(NOISE)) is None
    for cut in range(ch.MIN_HISTORY + 1, len(NOISE) + 1):  # every prefix long enough
        assert ch.robust_flag("last_week_gmv", weekly(NOISE[:cut])) is None
    short = [100.0] * ch.MIN_HISTORY + [500.0]
    assert ch.robust_flag("gmv", weekly(short[1:])) is None  # one period too few
    assert ch.robust_flag("gmv", weekly(short)) is not None


def test_a_flat_history_uses_the_fallbacks() -> None:
    flat = ch.robust_flag("orders", weekly([5.0] * 12 + [9.0]))
    assert flat is not None and flat["z"] is None and flat["scale"] == 0.0
    assert ch.robust_flag("orders", weekly([5.0] * 13)) is None
    mostly = [5.0] * 9 + [6.0, 4.0, 5.0] + [5.0]  # MAD 0, mean absolute deviation > 0
    assert ch.robust_flag("orders", weekly(mostly)) is None
    assert ch.robust_flag("orders", weekly([*mostly[:-1], 15.0]))["z"] > 3.5


def test_build_changes_and_flags_of_a_record() -> None:
    found = {
        "figures": {"gmv": 110.0, "orders": 10},
        "series": {"last_week_gmv": weekly([*NOISE[:-1], 170.0]), "orders": weekly(NOISE)},
    }
    previous = {"figures": {"gmv": 100.0, "orders": 12}, "built_at": "2026-10-26T07:00:00"}
    got = ch.build_changes("overview", found, previous)
    assert got["since"]["built_at"] == "2026-10-26T07:00:00"
    assert got["figures"]["orders"]["change"] == -2
    assert set(got["series"]) == {"last_week_gmv", "orders"}
    assert [f["key"] for f in got["flags"]] == ["last_week_gmv"]
    assert ch.flags({"changes": got}) == got["flags"]
    assert [f["key"] for f in ch.flags({"series": found["series"]})] == ["last_week_gmv"]
    json.dumps(got)  # plain JSON


def test_change_text_signs_units_and_arrows() -> None:
    assert ch.change_text("gmv", 1234.0, 0.052) == "▲ +1,234 (+5.2%)"
    assert ch.change_text("orders", -3, -0.1) == "▼ −3 (−10.0%)"
    assert ch.change_text("on_time_rate", -0.012, -0.015) == "▼ −1.2 pp"  # a share: points
    assert ch.change_text("gmv", 0.0, 0.0) == "= no change"
    assert ch.change_text("gmv", None, None) == ""
    html = ch.change_html("tickets", 4, 0.5)
    assert 'class="chg bad"' in html and "▲ +4 (+50.0%)" in html and "lower is better" in html


def _card(page: str, name: str) -> str:
    return re.search(rf'<li class="card" id="{name}">.*?</li>', page, re.S).group(0)


def test_index_cards_show_changes_and_worth_a_look(tmp_path: Path) -> None:
    sales = {
        "figures": {"gmv": 1100.0, "orders": 10, "tickets": 7},
        "series": {"last_week_gmv": weekly([*NOISE[:-1], 170.0])},
    }
    previous = {"figures": {"gmv": 1000.0, "orders": 12, "tickets": 7}, "built_at": "then"}
    steady = {"figures": {"gmv": 5.0}, "series": {"orders": weekly(NOISE)}}
    records = {
        "sales": {**sales, "changes": ch.build_changes("sales", sales, previous)},
        "steady": {**steady, "changes": ch.build_changes("steady", steady, None)},
    }
    specs = []
    for name, record in records.items():
        base = {"name": name, "title": name.title(), "status": "ok", "html": f"{name}.html"}
        (tmp_path / f"{name}.json").write_text(json.dumps({**base, **record}))
        specs.append(ReportSpec(name=name, notebook=tmp_path / "x.ipynb", title=name.title()))
    page = (write_index(tmp_path, specs)).read_text()
    card = _card(page, "sales")
    gmv = re.search(r'<tr data-key="gmv">.*?</tr>', card).group(0)
    assert "▲ +100 (+10.0%)" in gmv and "chg good" in gmv
    orders = re.search(r'<tr data-key="orders">.*?</tr>', card).group(0)
    assert "▼ −2 (−16.7%)" in orders and "chg bad" in orders
    assert "= no change" in re.search(r'<tr data-key="tickets">.*?</tr>', card).group(0)
    assert "chg" not in _card(page, "steady")  # no previous build: no change shown
    worth = re.search(r'<section class="worth".*?</section>', page, re.S).group(0)
    assert page.index("Worth a look") < page.index('<ul class="cards">')
    assert 'href="sales.html#since-the-last-build"' in worth
    assert "GMV, last complete week" in worth and "2026-W20" in worth and "Steady" not in worth
    index = json.loads((tmp_path / "index.json").read_text())
    assert [(f["report"], f["key"]) for f in index["worth_a_look"]] == [("sales", "last_week_gmv")]


def test_nothing_flagged_means_no_worth_a_look(tmp_path: Path) -> None:
    record = {"name": "a", "title": "A", "status": "ok", "series": {"gmv": weekly(NOISE)}}
    (tmp_path / "a.json").write_text(json.dumps(record))
    page = write_index(tmp_path, [ReportSpec("a", tmp_path / "x.ipynb", "A")]).read_text()
    assert "Worth a look" not in page


def test_report_page_shows_since_the_last_build_after_the_key_findings() -> None:
    import nbformat

    from helpers.reports.render import to_html

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\nThe question."),
        nbformat.v4.new_markdown_cell("## Key findings"),
        nbformat.v4.new_code_cell("", outputs=[]),
        nbformat.v4.new_markdown_cell("## Data quality"),
    ]
    found = {"figures": {"gmv": 1100.0}, "series": {"last_week_gmv": weekly([*NOISE[:-1], 170.0])}}
    changes = ch.build_changes("x", found, {"figures": {"gmv": 1000.0}, "built_at": "B1"})
    info = {"status": "ok", "changes_html": ch.since_html(changes)}
    page = to_html(nb, title="T", notebook_dir=Path("."), info=info)
    at = page.index('id="since-the-last-build"')
    assert page.index('id="Key-findings"') < at < page.index('id="Data-quality"')
    toc = re.search(r'<nav[^>]*class="report-toc".*?</nav>', page, re.S).group(0)
    assert re.findall(r">([^<>]+)</a>", toc) == [
        "Key findings",
        "Since the last build",
        "Data quality",
    ]
    block = page[at : page.index("</section>", at)]
    assert "Compared with the build of B1" in block and "▲ +100 (+10.0%)" in block
    assert "Worth a look" in block and "2026-W20" in block
    assert ch.since_html(ch.build_changes("x", {"figures": {"n": 1}}, None)) == ""
