"""Done when: two builds of the overview on the small sample, the first on a copy without its
last week, the second on the whole sample with that week's orders planted four times (so its
GMV jumps), show every card's change as the two ``overview.json`` files give it, and the planted
jump is worth a look while the first build's weekly series flags nothing.

Only the overview is built (``--only overview``, about 10 s a build); the other tables of the
sample are linked, not copied."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers.config import PROJ_ROOT
from helpers.reports import changes as ch
from helpers.reports.index import _fmt_figure

CHANGED = ("orders", "order_lines", "shipments")
#: Copies of the last complete week's orders planted beside the originals. The small sample's
#: weekly GMV moves by about half its median from week to week (a few large orders), so a
#: doubled week stays inside its usual range (modified z about 2, as it should); four times
#: the week's orders is outside it.
EXTRA = 3


def _copy(sample: Path, dest: Path, orders: pd.DataFrame, lines: pd.DataFrame) -> Path:
    dest.mkdir(parents=True)
    for entry in sample.iterdir():
        if entry.name not in CHANGED:
            (dest / entry.name).symlink_to(entry)
    shipments = pd.read_parquet(sample / "shipments")
    for name, frame in zip(
        CHANGED, (orders, lines, shipments[shipments.order_id.isin(orders.order_id)]), strict=True
    ):
        (dest / name).mkdir()
        frame.to_parquet(dest / name / "part-00000.parquet", index=False)
    return dest


@pytest.fixture(scope="module")
def two_builds(small_sample: Path, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("two-builds")
    orders = pd.read_parquet(small_sample / "orders")
    lines = pd.read_parquet(small_sample / "order_lines")
    last = orders.order_ts.max().normalize()
    cut = last - pd.Timedelta(days=7)  # the first build's data ends a week earlier
    early = orders[orders.order_ts < cut + pd.Timedelta(days=1)]
    before = _copy(small_sample, root / "before", early, lines[lines.order_id.isin(early.order_id)])
    # the last complete ISO week of the whole sample (Monday to Sunday), its orders twice
    sunday = last - pd.Timedelta(days=(last.weekday() + 1) % 7)
    week = orders[
        (orders.order_ts >= sunday - pd.Timedelta(days=6))
        & (orders.order_ts < sunday + pd.Timedelta(days=1))
    ]
    offset = int(orders.order_id.max())
    week_lines = lines[lines.order_id.isin(week.order_id)]
    extra = [week.assign(order_id=week.order_id + offset * n) for n in range(1, 1 + EXTRA)]
    extra_lines = [
        week_lines.assign(order_id=week_lines.order_id + offset * n) for n in range(1, 1 + EXTRA)
    ]
    after = _copy(
        small_sample,
        root / "after",
        pd.concat([orders, *extra], ignore_index=True),
        pd.concat([lines, *extra_lines], ignore_index=True),
    )
    out = root / "reports"
    records = []
    for data in (before, after):
        run = subprocess.run(
            [sys.executable, "-m", "helpers.reports", "build", "--only", "overview"]
            + ["--data", str(data), "--out", str(out)],
            capture_output=True,
            text=True,
            cwd=PROJ_ROOT,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        records.append(json.loads((out / "overview.json").read_text()))
    return {"out": out, "first": records[0], "second": records[1], "week": sunday}


def test_every_card_change_matches_the_two_json_files(two_builds) -> None:
    first, second = two_builds["first"], two_builds["second"]
    assert first["data_fingerprint"] != second["data_fingerprint"]
    got = second["changes"]
    assert got["since"]["built_at"] == first["built_at"]
    heads = ch.headline("overview", second["figures"])
    assert heads and set(got["figures"]) == set(heads)
    before = ch.headline("overview", first["figures"])
    for key, entry in got["figures"].items():
        assert entry["current"] == heads[key] and entry["previous"] == before.get(key), key
        if entry["previous"] is not None:
            assert entry["change"] == pytest.approx(heads[key] - before[key]), key
    moved = [k for k, e in got["figures"].items() if e["change"]]
    assert "last_week_gmv" in moved and "gmv" in moved
    page = (two_builds["out"] / "index.html").read_text()
    card = re.search(r'<li class="card" id="overview">.*?</li>', page, re.S).group(0)
    rows = re.findall(r'<tr data-key="([^"]+)">(.*?)</tr>', card, re.S)
    assert len(rows) == 8
    for key, row in rows:
        entry = got["figures"].get(key)
        if entry is None:  # a setting or a figure the registry does not call a metric
            continue
        assert _fmt_figure(key, second["figures"][key]) in row
        shown = ch.change_text(key, entry["change"], entry["relative"])
        assert shown.replace("+", "&#43;") in row or shown in row, (key, row)
        if entry["change"]:
            assert f"chg {entry['tone']}" in row


def test_the_new_week_is_compared_with_the_last(two_builds) -> None:
    first, second = two_builds["first"], two_builds["second"]
    week_before = first["series"]["last_week_gmv"]["values"]
    last_before = list(week_before)[-1]
    period = second["changes"]["series"]["last_week_gmv"]
    iso = two_builds["week"].isocalendar()
    assert period["period"] == f"{iso.year}-W{iso.week:02d}"
    assert period["previous_period"] == last_before
    assert period["previous"] == pytest.approx(week_before[last_before])
    assert period["year_ago"] == second["series"]["last_week_gmv"]["values"].get(
        period["year_ago_period"]
    )


def test_the_planted_jump_is_worth_a_look_and_the_plain_weeks_are_not(two_builds) -> None:
    first, second = two_builds["first"], two_builds["second"]
    weekly = {"last_week_gmv", "last_week_orders"}
    assert not weekly & {f["key"] for f in first["changes"]["flags"]}
    flagged = {f["key"]: f for f in second["changes"]["flags"]}
    assert weekly <= set(flagged)
    jump = flagged["last_week_gmv"]
    assert jump["move"] == "up" and jump["z"] > ch.THRESHOLD
    assert jump["value"] == list(second["series"]["last_week_gmv"]["values"].values())[-1]
    page = (two_builds["out"] / "index.html").read_text()
    worth = re.search(r'<section class="worth".*?</section>', page, re.S).group(0)
    assert 'href="overview.html#since-the-last-build"' in worth
    assert "GMV, last complete week" in worth
    report = (two_builds["out"] / "overview.html").read_text()
    assert 'id="since-the-last-build"' in report
