"""The overview in context: month on month and year on year worked out by hand, the monthly
and weekly series (complete periods only, checked against hand-written SQL), targets from a
YAML file, the window the parameters chose, and the period the built report publishes."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from helpers import metrics, overview, present
from helpers.config import PROJ_ROOT
from helpers.data.tables import open_tables


def _kpis(gmv: list[float], first: str = "2025-01-01") -> pd.DataFrame:
    """A monthly table with one GMV (and orders = GMV / 100) per month from ``first``."""
    months = pd.date_range(first, periods=len(gmv), freq="MS")
    out = pd.DataFrame({"month": months, "gmv": gmv})
    out["orders"] = (out.gmv // 100).astype("int64")
    out["gross_margin_rate"] = 0.25
    return out


def test_changes_by_hand():
    gmv = [100.0 + 10 * i for i in range(14)]  # 2025-01 .. 2026-02
    ch = overview.changes(_kpis(gmv), None, "2026-02").set_index("figure")
    g = ch.loc["gmv"]
    assert g.value == 230 and g.month_before == 220 and g.year_before == 110
    assert g.mom == pytest.approx(10 / 220) and g.yoy == pytest.approx(120 / 110)
    assert ch.loc["gross_margin_rate"].mom == 0.0  # relative change, also for a rate
    # a month with no year before it: month on month only
    early = overview.changes(_kpis(gmv), None, "2025-06").set_index("figure")
    assert early.loc["gmv"].mom == pytest.approx(10 / 140) and math.isnan(early.loc["gmv"].yoy)


def test_changes_with_a_zero_or_unknown_month():
    k = _kpis([0.0, 50.0])
    k.loc[1, "gross_margin_rate"] = float("nan")
    ch = overview.changes(k, None, "2025-02").set_index("figure")
    assert math.isnan(ch.loc["gmv"].mom)  # from zero: no relative change
    assert "gross_margin_rate" not in ch.index  # unknown this month: not compared


def test_changes_shown_with_months_in_the_headers():
    ch = overview.changes(_kpis([100.0 + 10 * i for i in range(14)]), None, "2026-02")
    shown = overview.shown_changes(ch, "2026-02").set_index("Figure")
    assert list(shown.columns) == [
        "In 2026-02",
        "In 2026-01",
        "Month on month",
        "In 2025-02",
        "Year on year",
    ]
    assert shown.loc["GMV", "In 2026-02"] == "230" and shown.loc["GMV", "Month on month"] == "+4.5%"
    assert shown.loc["Gross margin rate", "In 2026-02"] == "25.0%"
    assert [present.header(c) for c in shown.columns] == list(shown.columns)  # kept as written


def test_monthly_series_keeps_complete_months_in_order():
    k = _kpis([100.0, 200.0, 300.0, 400.0], first="2025-01-01")
    # the data start on 3 January (January is partial) and March is the last complete month
    s = overview.monthly_series(k, None, pd.Timestamp("2025-01-03 08:00"), "2025-03")
    assert s["last_month_gmv"] == {"freq": "month", "values": {"2025-02": 200.0, "2025-03": 300.0}}
    assert s["last_month_orders"]["values"] == {"2025-02": 2, "2025-03": 3}
    assert isinstance(s["last_month_orders"]["values"]["2025-02"], int)
    for key in s:
        assert metrics.METRICS[key].reports == ("overview",)


@pytest.fixture(scope="module")
def sample(small_sample):
    return open_tables(small_sample, overview.CORE, overview.OPTIONAL)


def test_weekly_kpis_match_hand_written_sql(sample, small_sample):
    sql = f"""
        SELECT strftime(date_trunc('week', o.order_ts), '%G-W%V') AS iso_week,
               sum(l.quantity * l.unit_price * (1 - l.discount)) AS gmv,
               count(DISTINCT o.order_id) AS orders
        FROM read_parquet('{small_sample}/orders/*.parquet') o
        JOIN read_parquet('{small_sample}/order_lines/*.parquet') l USING (order_id)
        GROUP BY 1 ORDER BY 1
    """
    expected = duckdb.sql(sql).df().set_index("iso_week")
    got = overview.weekly_kpis(sample).set_index("iso_week")
    rows_set_aside = int(sample.quality.rows_set_aside.sum())
    if rows_set_aside:
        pytest.skip("the sample has rows set aside: the SQL reads every row")
    assert list(got.index) == list(expected.index)
    assert got.gmv.tolist() == pytest.approx(expected.gmv.tolist())
    assert got.orders.tolist() == expected.orders.tolist()


def test_weekly_series_complete_weeks_only(sample):
    weekly = overview.weekly_kpis(sample)
    first, last = sample.period("orders")
    s = overview.weekly_series(weekly, first, last)
    weeks = list(s["last_week_gmv"]["values"])
    assert weeks == sorted(weeks) and weeks == list(s["last_week_orders"]["values"])
    kept = weekly[weekly.iso_week.isin(weeks)]
    assert (kept.week >= first.normalize()).all()
    assert (kept.week + pd.Timedelta(days=6) <= last.normalize()).all()
    # the weeks left out are the partial ones at either end, nothing in between
    left_out = weekly[~weekly.iso_week.isin(weeks)]
    assert len(left_out) <= 2
    assert set(left_out.week) <= {weekly.week.iloc[0], weekly.week.iloc[-1]}


def test_analyse_publishes_changes_series_and_known_keys(sample):
    res = overview.analyse(sample)
    f, fig = res.facts, res.figures
    assert fig["gmv_mom"] == pytest.approx(f["last_month_gmv"] / f["prev_month_gmv"] - 1)
    kpis = res.tables["kpis"].set_index(res.tables["kpis"].month.dt.strftime("%Y-%m"))
    year_before = kpis.loc[f["year_before_month"]]
    assert fig["orders_yoy"] == pytest.approx(f["last_month_orders"] / year_before.orders - 1)
    assert metrics.unknown_keys("overview", fig) == []
    series = f["series"]
    assert set(series) >= {
        "last_month_gmv",
        "last_month_orders",
        "last_month_active_accounts",
        "last_month_aov",
        "last_month_gross_margin_rate",
        "last_month_on_time_rate",
        "last_week_gmv",
        "last_week_orders",
    }
    for key, one in series.items():
        assert key in metrics.METRICS and "overview" in metrics.METRICS[key].reports
        last = list(one["values"])[-1]
        assert one["values"][last] == pytest.approx(fig[key]), key  # last period = the figure
    assert list(series["last_month_gmv"]["values"])[-1] == f["last_month"]
    assert not f["targets_set"] or res.tables.get("targets") is not None


def test_repeat_chart_starts_after_the_warm_up(sample):
    res = overview.analyse(sample, repeat_warmup_months=3)
    repeat, kpis = res.tables["repeat"], res.tables["kpis"]
    assert (repeat.history_months >= 3).all() and repeat.repeat_rate.notna().all()
    assert res.facts["repeat_from"] == f"{kpis.month.iloc[3]:%Y-%m}"
    assert "repeat_rate_yoy" not in res.figures or not math.isnan(res.figures["repeat_rate_yoy"])


# ----------------------------------------------------------------------------- targets


def test_no_targets_file_is_not_an_error(tmp_path):
    assert overview.read_targets(tmp_path / "none.yml") is None


def test_targets_read_and_progress_by_hand(tmp_path):
    file = tmp_path / "targets.yml"
    file.write_text("gmv:\n  2025-02: 250\n  2025-03: 100\n  2024-01: 5\norders:\n  2025-02: 2\n")
    t = overview.read_targets(file)
    assert len(t) == 4 and set(t.figure) == {"gmv", "orders"}
    k = _kpis([100.0, 200.0, 300.0])  # 2025-01 .. 2025-03
    p = overview.target_progress(k, None, t, last="2025-02").set_index(["figure"])
    # 2024-01 is not shown and 2025-03 is not complete: two targets left
    assert list(p.index) == ["gmv", "orders"]
    assert p.loc["gmv", "progress"] == pytest.approx(200 / 250) and not p.loc["gmv", "met"]
    assert p.loc["gmv", "gap"] == pytest.approx(-50)
    assert p.loc["orders", "met"] and p.loc["orders", "progress"] == 1.0


def test_example_targets_file_is_valid():
    t = overview.read_targets(PROJ_ROOT / "targets.example.yml")
    assert len(t) and set(t.figure) <= set(overview.COMPARED)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("revenue:\n  2025-01: 1\n", "unknown figure 'revenue'"),
        ("gmv:\n  January: 1\n", "not YYYY-MM"),
        ("gmv:\n  2025-01: lots\n", "not a number"),
        ("gmv: 5\n", "month: target"),
    ],
)
def test_bad_targets_file(tmp_path, text, message):
    file = tmp_path / "t.yml"
    file.write_text(text)
    with pytest.raises(ValueError, match=message):
        overview.read_targets(file)


# ----------------------------------------------------------------------------- the window


def test_window_counts_only_its_days(sample, small_sample):
    k = overview.monthly_kpis(sample, start="2025-02-10", end="2025-03-20")
    assert k.month.dt.strftime("%Y-%m").tolist() == ["2025-02", "2025-03"]
    sql = f"""
        SELECT count(DISTINCT order_id) AS n FROM read_parquet('{small_sample}/orders/*.parquet')
        WHERE order_ts >= '2025-02-10' AND order_ts < '2025-03-21'
    """
    if int(sample.quality.rows_set_aside.sum()) == 0:
        assert int(k.orders.sum()) == int(duckdb.sql(sql).fetchall()[0][0])


def test_data_quality_gives_the_window(sample, monkeypatch):
    monkeypatch.setattr(present, "display", lambda *a, **k: None)
    q = present.data_quality(sample, window=("2025-01-01", "2025-12-31"))
    assert (q["period_start"], q["period_end"]) == ("2025-01-01", "2025-12-31")
    lo, hi = sample.period("orders")
    assert (q["data_start"], q["data_end"]) == (f"{lo:%Y-%m-%d}", f"{hi:%Y-%m-%d}")


def test_built_report_publishes_the_window(small_sample, tmp_path):
    """`make report NAME=overview PARAMS="start=2025-01-01 end=2025-12-31"`: the JSON's
    period, its figures and the data-quality text give the window, with the whole span."""
    out = tmp_path / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "helpers.reports", "build", "--only", "overview", "--force"]
        + ["--param", "start=2025-01-01", "--param", "end=2025-12-31"]
        + ["--out", str(out), "--data", str(small_sample)],
        capture_output=True,
        text=True,
        cwd=PROJ_ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((out / "overview.json").read_text())
    assert report["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    fig = report["figures"]
    assert (fig["period_start"], fig["period_end"]) == ("2025-01-01", "2025-12-31")
    assert fig["months"] == 12 and fig["last_month"] == "2025-12"
    ds = open_tables(small_sample, overview.CORE)
    lo, hi = ds.period("orders")
    assert fig["data_start"] == f"{lo:%Y-%m-%d}" and fig["data_end"] == f"{hi:%Y-%m-%d}"
    page = (out / "overview.html").read_text()
    assert "covers <strong>2025-01-01</strong> to <strong>2025-12-31</strong>" in page
    assert f"<strong>{lo:%Y-%m-%d}</strong> to <strong>{hi:%Y-%m-%d}</strong> in all" in page
    assert list(report["series"]["last_month_gmv"]["values"])[-1] == "2025-12"
    assert "No targets are set" in page or "targets set for the months shown" in page
