"""Supply chain helpers: textbook inventory formulas, hand-made cases, the planted truth, and
DuckDB against Spark."""

from __future__ import annotations

import datetime as dt
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from tiny import tiny_tables, write_tables

from helpers import supply_chain as sc
from helpers.data import open_dataset

TODAY = dt.date(2026, 11, 25)


# ----------------------------------------------------------------------------- textbook examples


def test_safety_stock_with_demand_and_lead_time_uncertainty_chopra_meindl():
    # Chopra & Meindl, Supply Chain Management, ch. 12 (safety inventory), the Walmart Lego
    # example with uncertain lead time: daily demand mean 2,500, sd 500; lead time mean 7 days,
    # sd 7 days; 90 % cycle service level. sigma_L = sqrt(7 x 500^2 + 2500^2 x 7^2) = 17,550
    # and safety inventory = NORMSINV(0.9) x 17,550 = 22,491.
    ss = sc.safety_stock(0.90, demand_mean=2500, demand_sd=500, lead_mean=7, lead_sd=7)
    assert np.sqrt(7 * 500**2 + 2500**2 * 7**2) == pytest.approx(17_550, abs=0.5)
    assert round(ss) == 22_491
    # the same chapter: lead time cut to sd 0 days leaves z x sigma_d x sqrt(L)
    assert sc.safety_stock(0.90, 2500, 500, 7, 0) == pytest.approx(
        1.2815516 * 500 * np.sqrt(7), rel=1e-6
    )


def test_reorder_point_chopra_meindl_known_lead_time():
    # Chopra & Meindl, ch. 12, the Lego example with a fixed lead time: weekly demand mean
    # 2,500 boxes, sd 500, lead time 2 weeks, 90 % CSL: safety inventory = 1.28 x sqrt(2) x 500
    # = 906 and ROP = 2 x 2,500 + 906 = 5,906 boxes.
    ss = sc.safety_stock(0.90, 2500, 500, 2, 0)
    assert round(ss) == 906
    assert round(sc.reorder_point(2500, 2, ss)) == 5_906


def test_eoq_textbook_examples():
    # Heizer & Render, Operations Management, ch. "Inventory management", Sharp, Inc.
    # (hypodermic needles): D = 1,000 units a year, S = $10 an order, H = $0.50 a unit-year:
    # Q* = sqrt(2 x 1000 x 10 / 0.5) = 200 units.
    assert sc.eoq(1000, 10, 0.5) == pytest.approx(200.0)
    # Chopra & Meindl, ch. 11 (cycle inventory), Best Buy computers: D = 1,000 a month
    # (12,000 a year), S = $4,000, h = 20 % of C = $500: Q* = sqrt(2 x 12000 x 4000 / 100) = 980.
    assert round(sc.eoq(12_000, 4_000, 0.2 * 500)) == 980
    assert sc.eoq(0, 10, 0.5) == 0.0
    with pytest.raises(ValueError, match="holding_cost"):
        sc.eoq(1000, 10, 0)


def test_formula_inputs_are_checked():
    with pytest.raises(ValueError, match="service_level"):
        sc.safety_stock(1.0, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="lead_sd"):
        sc.safety_stock(0.9, 1, 1, 1, -1)
    arr = sc.safety_stock(0.5, [1, 2], [1, 1], [4, 4], [0, 0])
    assert arr.tolist() == [0.0, 0.0]  # z(0.5) = 0


# ----------------------------------------------------------------------------- classes


def test_abc_boundaries_and_no_sales():
    rev = pd.Series([5.0, 50.0, 15.0, 0.0, 30.0], index=list("abcde"))
    # Pareto order b 50, e 30, c 15, a 5: share before = 0, .5, .8, .95
    got = sc.abc_classes(rev)
    assert got.to_dict() == {"a": "C", "b": "A", "c": "B", "d": "no sales", "e": "A"}
    # one item above 80 % is still A
    assert sc.abc_classes(pd.Series([90.0, 10.0])).tolist() == ["A", "B"]
    assert sc.abc_classes(pd.Series([0.0, np.nan])).tolist() == ["no sales", "no sales"]


def test_xyz_boundaries_and_undefined_cv():
    cv = pd.Series([0.5, 0.5000001, 1.0, 1.2, np.nan])
    assert sc.xyz_classes(cv).tolist() == ["X", "Y", "Y", "Z", "no sales"]
    with pytest.raises(ValueError):
        sc.xyz_classes(cv, x=1.0, y=0.5)


# ----------------------------------------------------------------------------- hand-made dataset


@pytest.fixture(scope="module")
def tiny_ds(tmp_path_factory):
    """Tiny data plus: order 3 (10 x SKU-1) shipped in two parts, the second late; order 4
    (8 x SKU-2) shipped 5 on time; order 5 (2 x SKU-2) never shipped; SKU-3 never sold but
    stocked; 30 units of SKU-1 in WH-EAST on 2 March."""
    t = tiny_tables()
    day = pd.Timestamp("2025-03-02 09:00")
    promised = pd.Timestamp("2025-03-06 18:00")
    for oid, prom in ((3, promised), (4, promised), (5, pd.Timestamp("2025-03-04 18:00"))):
        t["orders"].loc[len(t["orders"])] = [oid, 1, day, "WH-EAST", prom]
    for oid, sku, q in ((3, "SKU-1", 10), (4, "SKU-2", 8), (5, "SKU-2", 2)):
        t["order_lines"].loc[len(t["order_lines"])] = [oid, 1, sku, q, 20.0, 12.0, 0.0]
    ships = [
        (3, 3, "SF", "2025-03-03 10:00", "2025-03-05 10:00", 6, 10.0),
        (4, 3, "SF", "2025-03-05 10:00", "2025-03-07 10:00", 4, 8.0),  # after the promise
        (5, 4, "JD", "2025-03-03 10:00", "2025-03-05 10:00", 5, 9.0),  # 5 of 8 units
    ]
    for sid, oid, car, s_at, d_at, q, cost in ships:
        t["shipments"].loc[len(t["shipments"])] = [
            sid,
            oid,
            car,
            pd.Timestamp(s_at),
            pd.Timestamp(d_at),
            q,
            cost,
        ]
    t["products"].loc[2] = ["SKU-3", "Idle part", "fasteners", 4.0, 8.0, "SUP-1", 10]
    t["inventory"].loc[2] = [dt.date(2025, 3, 1), "WH-EAST", "SKU-3", 10]
    t["inventory"].loc[3] = [dt.date(2025, 3, 2), "WH-EAST", "SKU-3", 10]
    t["inventory"].loc[4] = [dt.date(2025, 3, 2), "WH-EAST", "SKU-1", 30]
    for name in ("orders", "shipments"):
        for c in ("order_ts", "promised_delivery", "shipped_at", "delivered_at"):
            if c in t[name]:
                t[name][c] = pd.to_datetime(t[name][c]).astype("datetime64[us]")
    root = write_tables(t, tmp_path_factory.mktemp("supply"))
    ds = open_dataset(root, today=TODAY)
    assert ds.rows_set_aside == 0
    return ds


def test_scorecard_by_hand(tiny_ds):
    card = sc.supplier_scorecard(tiny_ds).set_index("supplier_id")
    # SUP-1: PO of 100 at 60.0, received in full on the promised day, no defects
    assert card.loc["SUP-1", ["received", "on_time", "in_full", "defects"]].tolist() == [1, 1, 1, 0]
    assert card.loc["SUP-1", "lead_mean_days"] == pytest.approx(3.0)
    # SUP-2: 180 of 200 received (not in full), 2 defects, paid 12.5 against a list cost of 12
    assert card.loc["SUP-2", "in_full"] == 0
    assert card.loc["SUP-2", "defect_rate"] == pytest.approx(2 / 180)
    assert card.loc["SUP-2", "price_variance"] == pytest.approx(12.5 / 12 - 1)
    assert card.loc["SUP-1", "spend_share"] == pytest.approx(6000 / (6000 + 12.5 * 180))
    assert card.loc["SUP-1", "score"] == 1.0 and card.loc["SUP-2", "score"] == 0.0
    assert card.loc["SUP-1", "rank"] == 1


def test_otif_with_partial_shipments(tiny_ds):
    got = sc.otif(tiny_ds, "carrier").set_index("carrier")
    # SF: order 1 (OTIF), order 3 (two parts adding up to 10, last one late: in full, late)
    assert got.loc["SF", ["counted", "otif", "on_time", "in_full"]].tolist() == [2, 1, 1, 2]
    # JD: order 2 (OTIF), order 4 (on time, 5 of 8 units: not in full)
    assert got.loc["JD", ["counted", "otif", "on_time", "in_full"]].tolist() == [2, 1, 2, 1]
    # order 5: promised before the last shipment time, never shipped: counted, not OTIF
    assert got.loc["not shipped", ["counted", "otif"]].tolist() == [1, 0]
    assert got.loc["SF", "otif_rate"] == 0.5
    assert got.loc["SF", "ci_low"] < 0.5 < got.loc["SF", "ci_high"]
    late = sc.late_delivery_cost(tiny_ds).set_index("carrier")
    assert late.loc["SF", "late"] == 1 and late.loc["SF", "late_ship_cost"] == pytest.approx(18.0)
    assert late.loc["SF", "days_late"] == pytest.approx(16 / 24)  # 03-07 10:00 vs 03-06 18:00


def test_sku_without_sales_gets_a_label_not_a_division_error(tiny_ds):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        classes = sc.sku_classes(tiny_ds, start="2025-02-24", end="2025-03-16").set_index("sku")
        health = sc.stock_health(tiny_ds).set_index(["warehouse_id", "sku"])
        rep = sc.replenishment(tiny_ds, lookback_days=14).set_index(["warehouse_id", "sku"])
        turn = sc.inventory_turnover(tiny_ds)
    assert classes.loc["SKU-3", ["abc", "xyz"]].tolist() == ["no sales", "no sales"]
    assert np.isnan(classes.loc["SKU-3", "cv"])
    # SKU-1: 3 + 10 units in the week of 24 Feb, none in the next two weeks
    weekly = np.array([13.0, 0.0, 0.0])
    assert classes.loc["SKU-1", "cv"] == pytest.approx(weekly.std(ddof=1) / weekly.mean())
    assert classes.loc["SKU-1", "xyz"] == "Z" and classes.loc["SKU-1", "abc"] == "A"
    # SKU-3 is stocked and never sold: dead stock worth 10 x 4.0
    assert bool(health.loc[("WH-EAST", "SKU-3"), "dead"])
    assert health.loc[("WH-EAST", "SKU-3"), "dead_value"] == pytest.approx(40.0)
    assert rep.loc[("WH-EAST", "SKU-3"), "status"] == "no demand"
    assert not rep.loc[("WH-EAST", "SKU-3"), "reorder"]
    assert set(turn.status) <= {"ok", "no sales"}


def test_replenishment_applies_the_formulas(tiny_ds):
    rep = sc.replenishment(
        tiny_ds, service_level=0.9, order_cost=20, holding_rate=0.25, lookback_days=14
    )
    row = rep.set_index(["warehouse_id", "sku"]).loc[("WH-EAST", "SKU-1")]
    units = np.zeros(14)
    units[-2:] = [3, 10]  # 1 and 2 March, the last two days of the lookback
    d, sd = units.mean(), units.std(ddof=1)
    assert row.daily_demand == pytest.approx(d) and row.daily_sd == pytest.approx(sd)
    ss = 1.2815516 * np.sqrt(7 * sd**2)  # products.lead_time_days = 7, no PO history: sd 0
    assert row.safety_stock == pytest.approx(ss, rel=1e-6)
    assert row.reorder_point == pytest.approx(d * 7 + ss, rel=1e-6)
    assert row.eoq == pytest.approx(np.sqrt(2 * 365 * d * 20 / (0.25 * 60.0)))
    assert bool(row.reorder) == (row.position <= row.reorder_point)


def test_bad_parameters_raise_clear_errors(tiny_ds):
    with pytest.raises(ValueError, match="warehouse 'WH-MARS'"):
        sc.check_warehouse(tiny_ds, "WH-MARS")
    with pytest.raises(ValueError, match="after end"):
        sc.period_bounds(tiny_ds, "2025-05-01", "2025-04-01")
    with pytest.raises(ValueError, match="purchase orders"):
        sc.supplier_scorecard(tiny_ds, start="2020-01-01", end="2020-02-01")
    with pytest.raises(ValueError, match="backtest needs"):
        sc.backtest(pd.DataFrame({"x": np.ones(60)}), 13)


# ----------------------------------------------------------------------------- planted truth


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from helpers.data.generate import generate

    root = tmp_path_factory.mktemp("supply-truth")
    generate(root, scale=1.0, seed=11, progress=False)
    truth = json.loads((root / "truth.json").read_text())
    return open_dataset(root), truth


def test_scorecard_recovers_the_planted_supplier_reliability(generated):
    ds, truth = generated
    card = sc.supplier_scorecard(ds).set_index("supplier_id")
    planted = {
        k: v["on_time_prob"] * v["in_full_prob"] * (1 - v["defect_rate"])
        for k, v in truth["supply"]["suppliers"].items()
    }
    planted = pd.Series(planted).reindex(card.index)
    rho = spearmanr(card.score, planted).statistic
    assert rho >= 0.9, rho
    # and each component on its own
    on_time = pd.Series({k: v["on_time_prob"] for k, v in truth["supply"]["suppliers"].items()})
    assert spearmanr(card.on_time_rate, on_time.reindex(card.index)).statistic >= 0.9


def test_forecast_beats_seasonal_naive_on_planted_seasonal_categories(generated):
    ds, truth = generated
    monthly = truth["seasonality"]["category_monthly"]
    seasonal = [c for c, idx in monthly.items() if max(idx) / min(idx) >= 2]
    assert len(seasonal) >= 3
    weekly = sc.weekly_category_demand(ds)[seasonal]
    bt = sc.backtest(weekly, horizon=13).set_index("category")
    # Pooled over the planted seasonal categories (agri_supplies, hvac, office, packaging) the
    # model's MASE is below seasonal naive's, and it wins in all but at most one category: the
    # margin in a single category is noisy. Measured (4 origins, 13 weeks), seed 11: all four
    # won, pooled MASE 0.78 against 1.06; an earlier generator version lost packaging by 0.02.
    assert bt.mase_model.mean() < bt.mase_naive.mean(), bt[["mase_model", "mase_naive"]]
    assert bt.beats_naive.sum() >= len(seasonal) - 1, bt[["mase_model", "mase_naive"]]


# ----------------------------------------------------------------------------- DuckDB vs Spark


def _frames(ds):
    card = sc.supplier_scorecard(ds).drop(columns="rank")
    return {
        "scorecard": card.sort_values("supplier_id"),
        "otif": sc.otif(ds, "carrier"),
        "otif_week": sc.otif_history(ds, "week"),
        "classes": sc.sku_classes(ds).sort_values("sku"),
    }


# Spark is slow to validate the daily inventory table, so this Spark check covers purchase
# orders, order lines and shipments (scorecard, OTIF, ABC/XYZ); tests/test_spark_topics.py
# checks the inventory metrics on Spark.
TABLES = [
    "accounts",
    "orders",
    "order_lines",
    "products",
    "suppliers",
    "purchase_orders",
    "shipments",
]


def test_duckdb_and_spark_agree(small_sample, spark):
    duck = _frames(open_dataset(small_sample, tables=TABLES))
    sprk = _frames(open_dataset(small_sample, engine="spark", spark=spark, tables=TABLES))
    # rtol 1e-6: Spark's epoch seconds drop the microseconds that DuckDB keeps (lead times)
    for name in duck:
        pd.testing.assert_frame_equal(
            duck[name].reset_index(drop=True),
            sprk[name].reset_index(drop=True),
            check_dtype=False,
            check_exact=False,
            rtol=1e-6,
            obj=name,
        )
