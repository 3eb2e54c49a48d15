"""The same dataset and query give the same answer on DuckDB and on Spark (local[2], loopback)."""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest
from tiny import tiny_tables, write_tables

from helpers.data import open_dataset

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
TODAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    tables = tiny_tables()
    tables["order_lines"].loc[1, "unit_price"] = -20.0
    tables["orders"].loc[0, "account_id"] = 999
    return write_tables(tables, tmp_path_factory.mktemp("dirty"))


def _revenue_by_account(ds) -> pd.DataFrame:
    lines, orders = ds.order_lines, ds.orders
    joined = lines.join(orders, "order_id")
    revenue = joined.quantity * joined.unit_price * (1 - joined.discount)
    out = joined.group_by("account_id").aggregate(revenue=revenue.sum(), lines=joined.count())
    return out.to_pandas().sort_values("account_id").reset_index(drop=True)


def test_duckdb_and_spark_agree(dirty, spark):
    duck = open_dataset(dirty, today=TODAY)
    sprk = open_dataset(dirty, engine="spark", spark=spark, today=TODAY)
    pd.testing.assert_frame_equal(
        duck.quality.reset_index(drop=True), sprk.quality.reset_index(drop=True)
    )
    # the orphan order with its line, shipment and return, and the negative-price line
    assert duck.rows_set_aside == sprk.rows_set_aside == 5
    pd.testing.assert_frame_equal(
        _revenue_by_account(duck), _revenue_by_account(sprk), check_dtype=False
    )
    assert duck.period() == sprk.period()
