"""overview.analyse() section by section: on the core tables only, on the full small sample,
without shipments, and on an export without unit costs (margin unknown, never 100 %)."""

from __future__ import annotations

import datetime as dt
import math
import shutil

import pytest
from tiny import tiny_tables, write_tables

from helpers import overview
from helpers.data.tables import open_tables

TODAY = dt.date(2026, 11, 25)
#: The figures each built section puts in the JSON (the baseline's keys, without data quality),
#: the changes of every compared figure and the last complete week.
CHANGES = {f"{k}_{w}" for k in overview.COMPARED for w in ("mom", "yoy")}
ALL_FIGURES = {k for names in overview.SECTION_FIGURES.values() for k in names} | CHANGES
ALL_FIGURES |= {"last_week_gmv", "last_week_orders"}
ON_TIME = {"on_time_rate", "last_month_on_time_rate", "on_time_rate_mom", "on_time_rate_yoy"}


def copy_tables(src, dst, tables):
    """A dataset folder holding only ``tables`` of ``src``."""
    dst.mkdir(parents=True, exist_ok=True)
    for table in tables:
        shutil.copytree(src / table, dst / table)
    return dst


def analyse(root, **parameters):
    ds = open_tables(root, overview.CORE, overview.OPTIONAL)
    return ds, overview.analyse(ds, **parameters)


def test_core_tables_only(small_sample, tmp_path):
    ds, res = analyse(copy_tables(small_sample, tmp_path / "core", overview.CORE))
    assert set(res.built_keys) == {"changes", "targets", "kpis", "accounts", "margin", "monthly"}
    assert res.reason("delivery") == (
        "This section needs the shipments table (order_id, delivered_at): "
        "see docs/bring-your-own-data.md."
    )
    # accounts derived from the ids seen: every channel unknown, so the section says so
    assert any("no accounts table" in note for note in ds.notes)
    assert "acquisition channel is unknown" in res.reason("channels")
    assert "derived" in res.reason("channels")
    assert "on_time_rate" not in res.figures
    assert set(res.figures) == ALL_FIGURES - ON_TIME
    assert res.figures["gmv"] > 0 and 0 < res.figures["gross_margin_rate"] < 1
    summary = res.summary()
    assert summary["total"] == len(overview.SECTIONS) and len(summary["skipped"]) == 2


def test_full_small_sample_builds_every_section(small_sample):
    ds, res = analyse(small_sample)
    assert res.built_keys == [s.key for s in overview.SECTIONS] and not res.skipped
    assert set(res.figures) == ALL_FIGURES
    kpis = res.tables["kpis"]
    assert res.figures["gmv"] == pytest.approx(kpis.gmv.sum())
    assert 0 < res.figures["on_time_rate"] < 1
    assert res.facts["top_channel"] in set(res.tables["channels"].channel)


def test_same_figures_with_the_core_as_with_every_table(small_sample, tmp_path):
    _, full = analyse(small_sample)
    _, core = analyse(copy_tables(small_sample, tmp_path / "core", overview.CORE))
    # new accounts: signups from the accounts table, or first orders of derived accounts
    new = {"new_accounts", "last_month_new_accounts", "new_accounts_mom", "new_accounts_yoy"}
    for key in ALL_FIGURES - ON_TIME - new:
        assert core.figures[key] == pytest.approx(full.figures[key]), key


def test_without_shipments(small_sample, tmp_path):
    tables = [p.name for p in small_sample.iterdir() if p.is_dir() and p.name != "shipments"]
    _, res = analyse(copy_tables(small_sample, tmp_path / "no-shipments", tables))
    assert res.skipped.keys() == {"delivery"}
    assert "shipments table" in res.reason("delivery")
    assert "delivery" not in res.tables and "on_time_rate" not in res.figures


def test_margin_unknown_without_unit_costs(tmp_path):
    t = tiny_tables()
    t["order_lines"]["unit_cost"] = None
    t["order_lines"]["unit_cost"] = t["order_lines"]["unit_cost"].astype("float64")
    root = write_tables(t, tmp_path / "no-costs")
    ds = open_tables(root, overview.CORE, overview.OPTIONAL, today=TODAY)
    res = overview.analyse(ds)
    assert not res.built("margin")
    assert "no unit costs" in res.reason("margin") and "--cost-ratio" in res.reason("margin")
    assert "gross_margin_rate" not in res.figures
    assert math.isnan(res.facts["gross_margin_rate"])  # unknown, never 100 %
    assert res.tables["kpis"].gross_margin_rate.isna().all()
    assert res.built("kpis") and res.figures["gmv"] == pytest.approx(370.0)


def test_one_unknown_cost_makes_the_month_unknown(tmp_path):
    t = tiny_tables()
    t["order_lines"].loc[0, "unit_cost"] = None
    ds = open_tables(write_tables(t, tmp_path / "one-unknown"), overview.CORE, today=TODAY)
    kpis = overview.monthly_kpis(ds)
    assert kpis.gross_margin_rate.isna().all() and kpis.cogs.isna().all()


def test_a_single_partial_month_still_builds(tmp_path):
    t = tiny_tables()  # two orders on 1 and 2 March 2025: one partial month
    ds = open_tables(write_tables(t, tmp_path / "short"), overview.CORE, overview.OPTIONAL)
    res = overview.analyse(ds)
    assert res.facts["only_month_partial"] and res.facts["last_month"] == "2025-03"
    assert math.isnan(res.facts["repeat_share"]) and math.isnan(res.facts["prev_month_gmv"])
