"""Supply chain: the lists people act on (reorder now, dead and excess stock, the supplier
scorecard), the weekly and monthly series of the headline figures, one error measure for the
forecast, and the whole-week revenue of the ABC x XYZ classes, by hand and against SQL."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
from tiny import tiny_tables, write_tables

from helpers import supply_chain as sc
from helpers.data import open_dataset
from helpers.data.tables import open_tables
from helpers.metrics import METRICS

TODAY = dt.date(2026, 11, 25)

# ----------------------------------------------------------------------------- lists by hand


def _replenishment_rows() -> pd.DataFrame:
    """Three pairs: A and B to reorder (B runs out first), C fine."""
    return pd.DataFrame(
        {
            "warehouse_id": ["WH-1", "WH-1", "WH-2"],
            "sku": ["SKU-1", "SKU-2", "SKU-1"],
            "category": ["parts", "fasteners", "parts"],
            "supplier_id": ["SUP-1", "SUP-2", "SUP-1"],
            "on_hand": [40, 5, 500],
            "on_order": [20.0, 0.0, 0.0],
            "position": [60.0, 5.0, 500.0],
            "daily_demand": [6.0, 1.0, 2.0],
            "lead_mean_days": [7.0, 14.0, 7.0],
            "safety_stock": [20.0, 8.0, 10.0],
            "reorder_point": [62.0, 22.0, 24.0],
            "eoq": [100.0, 30.0, 50.0],
            "order_qty": [100, 30, 0],
            "unit_cost": [60.0, 12.0, 60.0],
            "order_value": [6000.0, 360.0, 0.0],
            "reorder": [True, True, False],
        }
    )


PRODUCTS = pd.DataFrame(
    {
        "sku": ["SKU-1", "SKU-2"],
        "supplier_id": ["SUP-1", "SUP-2"],
        "product_name": ["Bearing", "螺丝 M6"],
    }
)
SUPPLIERS = pd.DataFrame({"supplier_id": ["SUP-1", "SUP-2"], "supplier_name": ["One", "供应商二"]})


def test_reorder_list_names_the_product_and_supplier_and_puts_the_first_to_run_out_first():
    got = sc.reorder_list(_replenishment_rows(), PRODUCTS, SUPPLIERS)
    assert list(got.columns) == sc.lists.REORDER_COLUMNS
    # only the two flagged pairs; SKU-2 lasts 5 / 1 = 5 days, SKU-1 in WH-1 60 / 6 = 10 days
    assert got[["warehouse_id", "sku"]].values.tolist() == [["WH-1", "SKU-2"], ["WH-1", "SKU-1"]]
    assert got.days_of_cover.tolist() == [5.0, 10.0]
    assert got.product_name.tolist() == ["螺丝 M6", "Bearing"]
    assert got.supplier_name.tolist() == ["供应商二", "One"]
    assert got.quantity_to_order.tolist() == [30, 100] and got.stock_position.tolist() == [5, 60]
    assert got.lead_time_days.tolist() == [14.0, 7.0]


def test_reorder_list_without_a_suppliers_table_has_no_supplier_name():
    got = sc.reorder_list(_replenishment_rows(), PRODUCTS, None)
    assert "supplier_name" not in got and got.product_name.notna().all()


def test_idle_stock_list_keeps_dead_or_excess_stock_largest_value_first():
    health = pd.DataFrame(
        {
            "warehouse_id": ["WH-1"] * 3,
            "sku": ["SKU-1", "SKU-2", "SKU-3"],
            "category": ["parts", "fasteners", "parts"],
            "on_hand": [10, 300, 5],
            "days_since_sale": [400.0, 3.0, 2.0],
            "cover_days": [np.nan, 150.0, 10.0],
            "dead": [True, False, False],
            "excess_units": [0.0, 120.4, 0.0],
            "unit_cost": [60.0, 12.0, 1.0],
            "dead_value": [600.0, 0.0, 0.0],
            "excess_value": [0.0, 120.4 * 12.0, 0.0],
        }
    )
    products = pd.concat(
        [
            PRODUCTS,
            pd.DataFrame({"sku": ["SKU-3"], "supplier_id": ["SUP-1"], "product_name": ["Pin"]}),
        ]
    )
    got = sc.idle_stock_list(health, products, SUPPLIERS)
    assert got.sku.tolist() == ["SKU-2", "SKU-1"]  # SKU-3 is neither dead nor excess
    assert got.idle_value.tolist() == pytest.approx([120.4 * 12.0, 600.0])
    assert got.excess_units.tolist() == [120, 0] and got.supplier_name.tolist() == [
        "供应商二",
        "One",
    ]
    assert got.dead.tolist() == [False, True] and "days_of_cover" in got


def test_scorecard_list_puts_the_weakest_supplier_first():
    card = pd.DataFrame(
        {
            "rank": [1, 2],
            "supplier_id": ["SUP-1", "SUP-2"],
            "score": [0.9, 0.4],
            "spend": [1.0, 2.0],
        }
    )
    got = sc.scorecard_list(card, SUPPLIERS)
    assert got.supplier_id.tolist() == ["SUP-2", "SUP-1"] and got["rank"].tolist() == [2, 1]
    assert got.supplier_name.tolist() == ["供应商二", "One"]


# ----------------------------------------------------------------------------- series by hand


def test_period_labels_are_iso_weeks_and_months():
    assert sc.period_label("2024-12-30", "week") == "2025-W01"  # ISO year starts on that Monday
    assert sc.period_label("2021-01-03", "week") == "2020-W53"
    assert sc.period_label("2026-10-05", "week") == "2026-W41"
    assert sc.period_label("2026-10-31", "month") == "2026-10"
    with pytest.raises(ValueError, match="week or month"):
        sc.period_label("2026-10-31", "day")


def test_as_series_keeps_complete_periods_in_time_order():
    frame = pd.DataFrame(
        {
            "week": pd.to_datetime(["2026-10-12", "2026-09-28", "2026-10-05", "2026-10-19"]),
            "rate": [0.5, 0.8, np.nan, 0.9],
            "complete": [True, True, True, False],
        }
    )
    got = sc.as_series(frame, "week", "rate", "week")
    assert got == {"freq": "week", "values": {"2026-W40": 0.8, "2026-W41": None, "2026-W42": 0.5}}


@pytest.fixture(scope="module")
def tiny_ds(tmp_path_factory):
    """Tiny data (two orders on 1 and 2 March 2025, promised three days later, both OTIF)
    and two weeks of daily stock from Monday 3 March: SKU-1 in WH-EAST out of stock on 4, 5
    and 12 March, SKU-2 in WH-NORTH on 10 March."""
    t = tiny_tables()
    days = pd.date_range("2025-03-01", "2025-03-16").date
    zeros = {("WH-EAST", "SKU-1"): {4, 5, 12}, ("WH-NORTH", "SKU-2"): {10}}
    rows = [
        (d, wh, sku, 0 if d.day in out else 25) for (wh, sku), out in zeros.items() for d in days
    ]
    t["inventory"] = pd.DataFrame(rows, columns=["date", "warehouse_id", "sku", "on_hand"])
    root = write_tables(t, tmp_path_factory.mktemp("supply-lists"))
    ds = open_dataset(root, today=TODAY)
    assert ds.rows_set_aside == 0
    return ds


def test_stockouts_by_week_by_hand(tiny_ds):
    got = sc.stockouts_by_week(tiny_ds, start="2025-03-01", end="2025-03-16").set_index("week")
    # the week of 24 Feb holds only 1 and 2 March: not complete
    assert got.loc["2025-02-24", ["stockout_days", "days"]].tolist() == [0, 2]
    assert got.loc["2025-03-03", ["stockout_days", "sku_days", "days"]].tolist() == [2, 14, 7]
    assert got.loc["2025-03-10", "stockout_days"] == 2
    assert got.complete.tolist() == [False, True, True]
    assert got.loc["2025-03-03", "stockout_share"] == pytest.approx(2 / 14)
    # a period ending on Saturday 15 March cuts the second week
    cut = sc.stockouts_by_week(tiny_ds, start="2025-03-01", end="2025-03-15")
    assert cut.complete.tolist() == [False, True, False]


def test_otif_history_marks_periods_with_orders_outside_the_period(tiny_ds):
    # both orders promised in the week of Monday 3 March (on 4 and 5 March), 3 days after
    # ordering; the default period (1-2 March) cuts that week at both ends
    week = sc.otif_history(tiny_ds, "week")
    assert week.week.tolist() == [pd.Timestamp("2025-03-03")] and not week.complete.any()
    wide = sc.otif_history(tiny_ds, "week", start="2025-02-20", end="2025-03-31")
    assert wide.complete.tolist() == [True]
    assert wide[["counted", "otif"]].values.tolist() == [[2, 2]] and wide.otif_rate.iloc[0] == 1.0
    # March: its first day minus the 3-day promise lead is 26 February
    assert sc.otif_history(tiny_ds, "month", start="2025-02-26", end="2025-03-31").complete.all()
    assert not sc.otif_history(
        tiny_ds, "month", start="2025-02-27", end="2025-03-31"
    ).complete.any()
    assert not sc.otif_history(
        tiny_ds, "month", start="2025-02-20", end="2025-03-30"
    ).complete.any()
    with pytest.raises(ValueError, match="week or month"):
        sc.otif_history(tiny_ds, "day")


# ----------------------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def full(small_sample):
    return sc.analyse(open_tables(small_sample, sc.CORE, sc.OPTIONAL))


def test_lists_on_the_sample_are_whole_and_named(full):
    t = full.tables
    assert set(sc.LISTS) <= set(t)
    reorder = t["reorder_now"]
    assert len(reorder) == full.figures["skus_to_reorder"] == int(t["replenishment"].reorder.sum())
    for name in sc.LISTS:
        df = t[name]
        assert df.supplier_name.notna().all(), name
        assert "product_name" not in df or df.product_name.notna().all(), name
    assert reorder.days_of_cover.is_monotonic_increasing
    assert (reorder.quantity_to_order > 0).all()
    idle = t["dead_and_excess_stock"]
    health = t["health"]
    assert len(idle) == int(((health.dead_value > 0) | (health.excess_value > 0)).sum())
    assert idle.dead_value.sum() == pytest.approx(full.figures["dead_stock_value"])
    assert idle.idle_value.is_monotonic_decreasing
    card = t["supplier_scorecard"]
    assert len(card) == full.figures["suppliers"] and card.score.is_monotonic_increasing
    # the supplier chart is sorted by the on-time rate it shows
    assert t["scorecard_by_on_time"].on_time_rate.is_monotonic_decreasing


def test_every_published_figure_and_series_is_registered(full):
    assert not [k for k in full.figures if k not in METRICS]
    assert set(full.facts["series"]) == set(sc.SERIES)
    assert not [k for k in full.facts["series"] if k not in METRICS]
    for key, one in full.facts["series"].items():
        last = list(one["values"])[-1]
        assert full.figures[key] == one["values"][last] and full.facts["last_periods"][key] == last


def test_stockout_series_against_sql(full, small_sample):
    sql = f"""
        select date_trunc('week', date) as week,
               sum(case when on_hand = 0 then 1 else 0 end) as out, count(distinct date) as days
        from read_parquet('{small_sample}/inventory/*.parquet') group by 1 order by 1
    """
    ref = duckdb.sql(sql).df()
    lo, hi = (pd.Timestamp(d) for d in (full.facts["period_start"], full.facts["period_end"]))
    ref = ref[(ref.week >= lo) & (ref.week + pd.Timedelta(days=6) <= hi) & (ref.days == 7)]
    want = {sc.period_label(w, "week"): float(v) for w, v in zip(ref.week, ref.out, strict=True)}
    assert full.facts["series"]["last_week_stockout_days"]["values"] == want


def test_otif_series_add_up_to_the_period_otif(full, small_sample):
    ds = open_tables(small_sample, sc.CORE, sc.OPTIONAL)
    carrier = full.tables["otif_carrier"]
    for freq in ("week", "month"):  # the same orders, partitioned by promise week or month
        by = sc.otif_history(ds, freq)
        assert by.otif.sum() == carrier.otif.sum() and by.counted.sum() == carrier.counted.sum()
        # the report's history stops at the period's end: later promises are not in it
        shown = full.tables[f"otif_{freq}"]
        assert shown[freq].max() <= pd.Timestamp(full.facts["period_end"]) < by[freq].max()
    months = full.tables["otif_month"]
    done = months[months.complete]
    values = full.facts["series"]["last_month_otif_rate"]["values"]
    assert list(values) == [f"{m:%Y-%m}" for m in done.month]
    assert list(values.values()) == pytest.approx((done.otif / done.counted).tolist())
    # the last complete month ends on or before the period's last day
    assert done.month.max() + pd.offsets.MonthEnd(0) <= pd.Timestamp(full.facts["period_end"])


def test_whole_week_revenue_against_sql(full, small_sample):
    first, last = full.facts["class_first"], full.facts["class_last"]
    sql = f"""
        select sum(l.quantity * l.unit_price * (1 - l.discount)) as revenue
        from read_parquet('{small_sample}/order_lines/*.parquet') l
        join read_parquet('{small_sample}/orders/*.parquet') o using (order_id)
        where o.order_ts >= date '{first}' and o.order_ts < date '{last}' + interval 1 day
    """
    want = duckdb.sql(sql).fetchall()[0][0]
    assert full.figures["abc_revenue_whole_weeks"] == pytest.approx(want, rel=1e-9)
    assert pd.Timestamp(first).weekday() == 0 and pd.Timestamp(last).weekday() == 6
    assert full.tables["matrix"].revenue_in_whole_weeks.sum() == pytest.approx(want, rel=1e-9)
    label = METRICS["abc_revenue_whole_weeks"].label
    assert "whole weeks" in label and label != METRICS["gmv"].label


def test_forecast_verdict_uses_mase_only(full):
    bt = full.tables["backtest"]
    assert not [c for c in bt.columns if "mape" in c]
    assert (bt.forecast_has_lower_mase == (bt.mase_forecast < bt.mase_seasonal_naive)).all()
    assert full.figures["forecast_beats_naive"] == int(bt.forecast_has_lower_mase.sum())
    assert full.figures["forecast_mase"] == pytest.approx(bt.mase_forecast.mean())
    shown = sc.shown(full, "backtest")["df"]
    assert list(shown.columns) == sc.COLUMNS["backtest"]
    assert "MASE" in sc.TERMS["mase"] and "MASE" in sc.definitions()


def test_a_window_builds_every_section_and_its_series_stay_inside_it(small_sample):
    # a window ending mid-data: the stock section once failed here (a filtered sum came back
    # as Decimal); the series end at the window's last complete week and month
    ds = open_tables(small_sample, sc.CORE, sc.OPTIONAL)
    lo, hi = (pd.Timestamp(d) for d in ds.period("orders"))
    end = (lo + (hi - lo) / 2).normalize()
    res = sc.analyse(ds, start=f"{lo:%Y-%m-%d}", end=f"{end:%Y-%m-%d}", forecast_horizon=4)
    assert {"stock", "delivery", "classes"} <= set(res.built_keys)
    month = res.facts["last_periods"]["last_month_otif_rate"]
    assert pd.Timestamp(f"{month}-01") + pd.offsets.MonthEnd(0) <= end
    week = res.tables["stockouts_week"]
    last = week[week.complete].week.max()
    assert last + pd.Timedelta(days=6) <= end < last + pd.Timedelta(days=13)
    assert res.facts["last_periods"]["last_week_stockout_days"] == sc.period_label(last, "week")


def test_stock_health_in_a_window_where_a_pair_sold_only_before_it(tiny_ds):
    # SKU-1 sold on 1 March only: its units in the window (from 2 March) are a sum over no
    # row, which DuckDB returns as a null beside the others' Decimal sums
    health = sc.stock_health(tiny_ds, start="2025-03-02", end="2025-03-16")
    health = health.set_index(["warehouse_id", "sku"])
    assert health.units.dtype == "float64"
    assert health.loc[("WH-EAST", "SKU-1"), "units"] == 0.0
    assert health.loc[("WH-NORTH", "SKU-2"), "units"] == 5.0
    # 25 on hand on 16 March, no demand in the window: all of it excess after 90 days of 0
    assert health.loc[("WH-EAST", "SKU-1"), "excess_units"] == 25.0
