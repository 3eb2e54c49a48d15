"""Overview KPIs on hand-made orders, and against a hand-written SQL query."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest
from tiny import tiny_tables, write_tables

from helpers import overview
from helpers.data import open_dataset

TODAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def ds_and_root(tmp_path_factory):
    """Tiny data plus a repeat order by account 1 in April, delivered a day late."""
    t = tiny_tables()
    t["orders"].loc[2] = [
        3,
        1,
        pd.Timestamp("2025-04-10 09:00"),
        "WH-EAST",
        pd.Timestamp("2025-04-12"),
    ]
    t["order_lines"].loc[2] = [3, 1, "SKU-2", 10, 20.0, 12.0, 0.5]
    t["order_lines"].loc[3] = [3, 2, "SKU-1", 1, 100.0, 60.0, 0.0]
    t["shipments"].loc[2] = [
        3,
        3,
        "SF",
        pd.Timestamp("2025-04-10 18:00"),
        pd.Timestamp("2025-04-13 08:00"),
        11,
        9.0,
    ]
    root = write_tables(t, tmp_path_factory.mktemp("overview"))
    return open_dataset(root, today=TODAY), root


def test_monthly_kpis_by_hand(ds_and_root):
    ds, _ = ds_and_root
    k = overview.monthly_kpis(ds).set_index(pd.Index(["2025-03", "2025-04"]))
    # March: order 1 = 3 x 100 x 0.9 = 270 (cost 180); order 2 = 5 x 20 = 100 (cost 60)
    assert k.loc["2025-03", "gmv"] == pytest.approx(370.0)
    assert k.loc["2025-03", "orders"] == 2 and k.loc["2025-03", "active_accounts"] == 2
    assert k.loc["2025-03", "aov"] == pytest.approx(185.0)
    assert k.loc["2025-03", "gross_margin_rate"] == pytest.approx(130 / 370)
    assert k.loc["2025-03", "new_accounts"] == 2
    assert pd.isna(k.loc["2025-03", "repeat_rate"])  # the first month has no history
    # April: order 3 = 10 x 20 x 0.5 + 1 x 100 = 200 (cost 120 + 60); account 1 repeats
    assert k.loc["2025-04", "gmv"] == pytest.approx(200.0)
    assert k.loc["2025-04", "gross_margin"] == pytest.approx(20.0)
    assert k.loc["2025-04", "repeat_rate"] == 1.0 and k.loc["2025-04", "new_accounts"] == 0
    assert overview.repeat_share(k) == 1.0


def test_on_time_delivery_by_hand(ds_and_root):
    ds, _ = ds_and_root
    d = overview.on_time_delivery(ds)
    assert d.on_time.tolist() == [2, 0] and d.delivered.tolist() == [2, 1]
    assert d.on_time_rate.tolist() == [1.0, 0.0]
    assert (d.ci_low <= d.on_time_rate).all() and (d.on_time_rate <= d.ci_high).all()


def test_promises_after_the_last_order_are_left_out(tmp_path):
    t = tiny_tables()
    t["orders"].loc[1, "promised_delivery"] = pd.Timestamp("2025-03-09")  # after the last delivery
    t["shipments"].loc[1, "delivered_at"] = pd.Timestamp("2025-03-08")
    d = overview.on_time_delivery(open_dataset(write_tables(t, tmp_path), today=TODAY))
    assert d.delivered.tolist() == [1]


def test_headline_and_partial_month(ds_and_root):
    ds, _ = ds_and_root
    k, d = overview.monthly_kpis(ds), overview.on_time_delivery(ds)
    h = overview.headline(k, d, data_end=pd.Timestamp("2025-04-30"))
    assert h["gmv"] == pytest.approx(570.0) and h["orders"] == 3
    assert h["on_time_rate"] == pytest.approx(2 / 3)
    assert h["last_month"] == "2025-04" and not h["last_month_partial"]
    partial = overview.headline(k, d, data_end=pd.Timestamp("2025-04-10"))
    assert partial["last_month"] == "2025-03" and partial["last_month_partial"]


def test_start_end_filter(ds_and_root):
    ds, _ = ds_and_root
    k = overview.monthly_kpis(ds, start="2025-04-01")
    assert k.month.dt.strftime("%Y-%m").tolist() == ["2025-04"]
    with pytest.raises(ValueError, match="no orders"):
        overview.headline(k.iloc[0:0], overview.on_time_delivery(ds), pd.Timestamp("2025-04-30"))


def test_monthly_gmv_matches_hand_written_sql(ds_and_root):
    ds, root = ds_and_root
    sql = f"""
        SELECT date_trunc('month', o.order_ts) AS month,
               sum(l.quantity * l.unit_price * (1 - l.discount)) AS gmv,
               count(DISTINCT o.order_id) AS orders,
               count(DISTINCT o.account_id) AS active_accounts
        FROM read_parquet('{root}/orders/*.parquet') o
        JOIN read_parquet('{root}/order_lines/*.parquet') l USING (order_id)
        GROUP BY 1 ORDER BY 1
    """
    expected = duckdb.sql(sql).df()
    got = overview.monthly_kpis(ds)
    assert got.gmv.tolist() == pytest.approx(expected.gmv.tolist())
    assert got.orders.tolist() == expected.orders.tolist()
    assert got.active_accounts.tolist() == expected.active_accounts.tolist()
