"""supply_chain.analyse() section by section: on the core tables only, on the full small
sample, without shipments or purchase orders, and on histories too short for a parameter."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from tiny import tiny_tables, write_tables

from helpers import supply_chain as sc
from helpers.data.tables import open_tables

TODAY = dt.date(2026, 11, 25)
#: The figures of the JSON by section (the baseline's keys, without data quality).
FIGURES = {
    "suppliers": {"suppliers", "best_supplier"},
    "classes": {"abc_revenue_whole_weeks"},
    "stock": {"dead_stock_value", "excess_stock_value"},
    "replenishment": {"skus_to_reorder"},
    "delivery": {"otif_rate", "late_delivery_cost"},
    "backtest": {"forecast_beats_naive", "forecast_mase", "forecast_mase_naive"},
}
#: The last complete week's or month's value of a series: published when the section is built
#: and the period holds a complete week (month).
SERIES_FIGURES = {
    "stock": {"last_week_stockout_days"},
    "delivery": {"last_week_otif_rate", "last_month_otif_rate"},
}


def copy_tables(src, dst, tables):
    """A dataset folder holding only ``tables`` of ``src``."""
    dst.mkdir(parents=True, exist_ok=True)
    for table in tables:
        shutil.copytree(src / table, dst / table)
    return dst


def without(src, dst, *dropped):
    return copy_tables(
        src, dst, [p.name for p in src.iterdir() if p.is_dir() and p.name not in dropped]
    )


def analyse(root, **parameters):
    return sc.analyse(open_tables(root, sc.CORE, sc.OPTIONAL), **parameters)


def expected_figures(res):
    """The figures the built sections publish (series' last values when they have one)."""
    series = set().union(*(SERIES_FIGURES.get(k, set()) for k in res.built_keys))
    assert set(res.figures) & set().union(*SERIES_FIGURES.values()) <= series
    return set().union(*(FIGURES.get(k, set()) for k in res.built_keys)) | (
        series & set(res.figures)
    )


@pytest.fixture(scope="module")
def full(small_sample):
    return analyse(small_sample)


def test_full_small_sample_builds_every_section(full):
    assert full.built_keys == [s.key for s in sc.SECTIONS] and not full.skipped
    assert set(full.figures) == set().union(*FIGURES.values(), *SERIES_FIGURES.values())
    assert {"unit_fill_rate", "order_fill_rate"} <= set(full.tables["stock_by_warehouse"])
    summary = full.summary()
    assert summary["total"] == len(sc.SECTIONS) and summary["skipped"] == {}


def test_core_tables_only(small_sample, tmp_path, full):
    res = analyse(copy_tables(small_sample, tmp_path / "core", sc.CORE))
    assert {"classes", "forecast", "backtest"} == set(res.built_keys)
    assert res.reason("delivery").startswith("This section needs the shipments table (order_id")
    assert "the inventory table" in res.reason("stock") and "products" in res.reason("stock")
    assert "purchase_orders" in res.reason("suppliers")
    assert set(res.figures) == expected_figures(res)
    # no products: SKUs from the order lines, one category; revenue as with products
    classes = res.tables["classes"]
    assert set(classes.category) == {"unknown"}
    sold = full.tables["classes"].query("revenue > 0")
    assert classes.revenue.sum() == pytest.approx(sold.revenue.sum())
    assert list(res.tables["weekly"].columns) == ["unknown"]


def test_without_shipments(small_sample, tmp_path, full):
    res = analyse(without(small_sample, tmp_path / "no-shipments", "shipments"))
    assert res.skipped.keys() == {"delivery"}
    assert "shipments table" in res.reason("delivery")
    assert set(res.figures) == expected_figures(res)
    assert "unit_fill_rate" not in res.tables["stock_by_warehouse"]
    for key in ("suppliers", "best_supplier", "dead_stock_value", "skus_to_reorder"):
        assert res.figures[key] == pytest.approx(full.figures[key]), key


def test_without_purchase_orders_replenishment_still_builds(small_sample, tmp_path):
    res = analyse(without(small_sample, tmp_path / "no-po", "purchase_orders"))
    assert set(res.skipped) == {"suppliers"}
    rep = res.tables["replenishment"]
    assert (rep.on_order == 0).all() and res.figures["skus_to_reorder"] >= 0


def test_lookback_longer_than_the_history_fits_itself(small_sample, full):
    res = analyse(small_sample, lookback_days=5000)
    assert res.built("replenishment") and res.facts["lookback_days"] < 5000
    assert any(n.startswith("lookback_days = 5000 is longer") for n in res.notes)
    assert full.facts["lookback_days"] == 182 and not full.notes


def test_short_history_skips_with_the_parameter_and_the_span(tmp_path):
    ds = open_tables(write_tables(tiny_tables(), tmp_path / "tiny"), sc.CORE, sc.OPTIONAL,
                     today=TODAY)  # fmt: skip
    res = sc.analyse(ds, forecast_horizon=13)
    span = "the period 2025-03-01 to 2025-03-02 holds 0 whole weeks"
    assert span in res.reason("classes") and span in res.reason("forecast")
    assert "forecast_horizon = 13" in res.reason("backtest") and "69 whole weeks" in (
        res.reason("backtest")
    )
    assert "lookback_days = 182" in res.reason("replenishment")
    assert set(res.figures) == expected_figures(res)


def test_bad_parameters_are_errors_not_skipped_sections(small_sample):
    ds = open_tables(small_sample, sc.CORE, sc.OPTIONAL)
    with pytest.raises(ValueError, match="service_level"):
        sc.analyse(ds, service_level=1.5)
    with pytest.raises(ValueError, match="warehouse 'WH-MARS'"):
        sc.analyse(ds, warehouse="WH-MARS")
    with pytest.raises(ValueError, match="forecast_horizon"):
        sc.analyse(ds, forecast_horizon=0)


def test_shown_restricts_columns_and_formats(full):
    kw = sc.shown(full, "otif_region", rows=5)
    assert list(kw["df"].columns) == sc.COLUMNS["otif_region"] and len(kw["df"]) <= 5
    assert set(kw["formats"]) <= set(kw["df"].columns) and kw["formats"]["otif_rate"] == "{:.1%}"
    # a list people act on is shown whole (todo_list writes it all and shows its top rows)
    kw = sc.shown(full, "reorder_now")
    assert len(kw["df"]) == len(full.tables["reorder_now"]) and kw["formats"]["eoq"] == "{:.0f}"
    assert not [c for c in kw["df"].columns if c.endswith(("_rate", "_share"))
                and c not in kw["formats"]]  # fmt: skip
