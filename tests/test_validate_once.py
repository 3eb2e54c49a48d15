"""Validate once per build (issue 21): the runner validates the dataset before the kernels start,
and every report's own open of its tables then finds the row-rule counts in the cache: no row
rule is counted again. A changed file still validates afresh."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from helpers import campaigns, clv, funnel, overview, pipeline, segmentation, service
from helpers import supply_chain as sc
from helpers.data import dataset, tables
from helpers.reports.build import prevalidate


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """The tables whose row rules are counted (:func:`dataset._count_reasons`), with the
    validation cache in its own folder (cold)."""
    monkeypatch.setattr(dataset, "DATA_DIR", tmp_path / "cache-home")
    seen: list[str] = []
    real = dataset._count_reasons
    monkeypatch.setattr(dataset, "_count_reasons", lambda *a: seen.append(a[0]) or real(*a))
    return seen


#: Every report's own open, as its notebook calls it.
OPENS = {
    "overview": lambda d: tables.open_tables(d, overview.CORE, overview.OPTIONAL),
    "segmentation": segmentation.open_tables,
    "service": service.open_tables,
    "clv": clv.open_tables,
    "supply_chain": lambda d: tables.open_tables(d, sc.CORE, sc.OPTIONAL),
    "funnel": funnel.open_tables,
    "pipeline": pipeline.open_tables,
    "campaigns": campaigns.open_data,
}


def test_kernels_count_no_row_rule_after_the_runner_validated(small_sample, counted):
    validated = prevalidate(small_sample)
    assert set(counted) == set(validated) and len(validated) == 16
    counted.clear()
    for name, open_ in OPENS.items():
        ds = open_(small_sample)
        assert counted == [], f"{name} counted the row rules of {counted} again"
        assert ds.rows_read > 0


def test_a_subset_hits_and_a_changed_file_validates_afresh(small_sample, counted, tmp_path):
    root = tmp_path / "ds"
    for t in ("accounts", "orders", "order_lines", "products", "suppliers", "web_events"):
        shutil.copytree(small_sample / t, root / t)
    prevalidate(root)
    counted.clear()
    first = dataset.open_dataset(root, tables=["orders", "accounts"])
    assert counted == []
    part = next((root / "orders").glob("*.parquet"))
    os.utime(part, ns=(part.stat().st_atime_ns, part.stat().st_mtime_ns + 1_000_000))
    again = dataset.open_dataset(root, tables=["orders", "accounts"])
    assert counted == ["orders"]  # the parent is still cached, the changed table is not
    assert again.table_quality["orders"].rows_read == first.table_quality["orders"].rows_read
    counted.clear()
    dataset.open_dataset(root, tables=["order_lines", "orders", "products", "suppliers"])
    assert counted == ["order_lines"]  # a child of the changed table is validated afresh too


def test_a_child_opened_without_its_parent_is_its_own_validation(small_sample, counted, tmp_path):
    """Lines of an order that is not there are set aside when orders is opened with them, and
    kept when order_lines is opened alone (no foreign key to check): the counts of the first
    open never serve the second. A clean table's counts do serve any subset of its parents."""
    root = tmp_path / "ds"
    for t in ("order_lines", "products"):
        shutil.copytree(small_sample / t, root / t)
    orders = pd.read_parquet(small_sample / "orders")
    gone = orders.order_id.iloc[0]
    (root / "orders").mkdir()
    orders.iloc[1:].to_parquet(root / "orders" / "part-00000.parquet", index=False)
    full = dataset.open_dataset(root, tables=["orders", "order_lines", "products"])
    orphans = full.table_quality["order_lines"].rows_set_aside
    assert orphans > 0 and sorted(counted) == ["order_lines", "orders", "products"]
    counted.clear()
    alone = dataset.open_dataset(root, tables=["order_lines"])
    assert counted == ["order_lines"] and alone.rows_set_aside == 0
    lines = pd.read_parquet(small_sample / "order_lines")
    assert orphans == int((lines.order_id == gone).sum())
    counted.clear()
    dataset.open_dataset(root, tables=["products"])  # clean with its parents: clean alone
    assert counted == []
