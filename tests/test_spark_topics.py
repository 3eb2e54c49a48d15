"""The aggregations that the other Spark tests leave out, on a local PySpark session against
DuckDB: the overview's monthly KPIs, new accounts and on-time delivery, the CLV cohorts, the
segmentation's clustering features and the supply chain's inventory metrics. With the Spark
tests of each topic module this runs every topic's heavy aggregation on both engines.
"""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import clv, overview, segmentation
from helpers import supply_chain as sc
from helpers.data import open_dataset

TABLES = ["accounts", "orders", "order_lines", "products", "shipments", "inventory"]


@pytest.fixture(scope="module")
def both(small_sample, spark):
    duck = open_dataset(small_sample, tables=TABLES)
    sprk = open_dataset(small_sample, engine="spark", spark=spark, tables=TABLES)
    return duck, sprk


def _same(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], name: str) -> None:
    assert len(a) > 0, name
    a = a.sort_values(keys).reset_index(drop=True)
    b = b.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9, obj=name)


def test_overview_on_spark(both):
    duck, sprk = both
    _same(overview.monthly_kpis(duck), overview.monthly_kpis(sprk), ["month"], "monthly_kpis")
    _same(
        overview.new_accounts_by_channel(duck),
        overview.new_accounts_by_channel(sprk),
        ["month", "channel"],
        "new_accounts_by_channel",
    )
    _same(overview.on_time_delivery(duck), overview.on_time_delivery(sprk), ["month"], "on_time")


def test_cohorts_on_spark(both):
    duck, sprk = both
    want, got = clv.cohorts(duck), clv.cohorts(sprk)
    _same(want, got, ["cohort", "age"], "cohorts")


def test_account_features_on_spark(both):
    duck, sprk = both
    want = segmentation.account_features(duck)
    got = segmentation.account_features(sprk)
    _same(want, got[want.columns], ["account_id"], "account_features")


def test_inventory_metrics_on_spark(both):
    duck, sprk = both
    keys = ["warehouse_id", "category"]
    _same(sc.inventory_turnover(duck), sc.inventory_turnover(sprk), keys, "turnover")
