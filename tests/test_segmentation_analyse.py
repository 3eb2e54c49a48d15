"""segmentation.analyse(): on the core tables alone (orders, order_lines; accounts derived), on
the full small sample, and on a short history (three months of orders), where the migration
section is skipped with a reason naming migration_days and the data's span while the rest of
the report builds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from helpers import segmentation as seg
from helpers.config import PROJ_ROOT


def copy_tables(src, dst, names):
    for name in names:
        shutil.copytree(src / name, dst / name)
    return dst


@pytest.fixture(scope="module")
def core_only(small_sample, tmp_path_factory):
    return copy_tables(small_sample, tmp_path_factory.mktemp("seg-core"), seg.CORE)


@pytest.fixture(scope="module")
def short_history(small_sample, tmp_path_factory):
    """The small sample's last 92 days of orders and their lines, nothing else."""
    root = tmp_path_factory.mktemp("seg-short")
    orders = pd.read_parquet(small_sample / "orders")
    last = orders.order_ts.max().normalize()
    orders = orders[orders.order_ts >= last - pd.Timedelta(days=91)]
    lines = pd.read_parquet(small_sample / "order_lines")
    lines = lines[lines.order_id.isin(orders.order_id)]
    for name, df in (("orders", orders), ("order_lines", lines)):
        (root / name).mkdir()
        df.to_parquet(root / name / "part-00000.parquet", index=False)
    return root


def test_core_tables_only_build_every_section(core_only, tmp_path):
    ds = seg.open_tables(core_only)
    assert "accounts" in ds and "contacts" not in ds and "products" not in ds
    res = seg.analyse(ds)
    assert res.built_keys == ["rfm", "migration", "clusters", "actions"]
    assert res.figures["accounts_scored"] > 50 and res.figures["consented_contacts"] is None
    assert res.facts["dropped"]["category_mix"] == "no products table"
    assert any("no `contacts` table" in n for n in res.notes)
    lists = res.tables["action_lists"]
    assert list(lists) == list(seg.SEGMENTS)
    assert "email" not in lists["Champions"] and "lead_owner" not in lists["Champions"]


def test_full_small_sample(small_sample, tmp_path):
    res = seg.analyse(seg.open_tables(small_sample))
    assert res.summary() == {
        "built": ["rfm", "migration", "clusters", "actions"],
        "total": 4,
        "skipped": {},
    }
    assert set(res.figures) == {
        "accounts_scored",
        "scored_accounts_revenue",
        "champions_loyal_revenue_share",
        "at_risk_accounts",
        "became_at_risk",
        "clusters",
        "silhouette",
        "consented_contacts",
    }
    assert res.figures["consented_contacts"] > 0
    assert res.figures["clusters"] == len(res.tables["descriptions"])
    f, lists = res.facts, res.tables["action_lists"]
    assert f["slipping_accounts"] == f["at_risk_segment"] + f["cannot_lose_segment"]
    assert f["at_risk_segment"] == res.figures["at_risk_accounts"]
    assert f["lost_lost"] == len(lists["Lost"]) == f["lost_once_only"] + f["lost_occasional"]
    assert f["with_owner"] and lists["Champions"].lead_owner.notna().any()
    assert sum(len(v) for v in lists.values()) == res.figures["accounts_scored"]


def test_migration_fit_names_the_parameter_and_the_span():
    end = pd.Timestamp("2011-03-01")
    assert seg.migration_fit("2010-03-01", end, 91) == ""
    why = seg.migration_fit("2010-12-01", end, 91)
    assert "migration_days = 91" in why and "182 days" in why
    assert "span 90 days (2010-12-01 to 2011-02-28)" in why
    assert "set migration_days to 45 or less" in why
    assert "too short for any migration" in seg.migration_fit("2011-02-28", end, 91)
    with pytest.raises(ValueError, match="migration_days"):
        seg.migration_fit("2010-12-01", end, 0)


def test_short_history_skips_migration_and_builds_the_rest(short_history, tmp_path):
    res = seg.analyse(seg.open_tables(short_history))
    assert res.built_keys == ["rfm", "clusters", "actions"]
    why = res.reason("migration")
    assert "migration_days = 91" in why and "span 92 days" in why, why
    assert "analysis_date" not in why and "lookback_days" not in why
    assert "became_at_risk" not in res.figures and res.figures["accounts_scored"] > 0
    fitted = seg.analyse(seg.open_tables(short_history), migration_days=45)
    assert fitted.built("migration") and "became_at_risk" in fitted.figures


def test_clusters_skipped_when_too_few_accounts(core_only, tmp_path):
    res = seg.analyse(seg.open_tables(core_only), k_range=[10_000])
    assert not res.built("clusters") and "k_range [10000]" in res.reason("clusters")
    assert "clusters" not in res.figures and res.built("actions")


def test_short_history_report_builds(short_history, tmp_path):
    out = tmp_path / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "helpers.reports", "build", "--only", "segmentation"]
        + ["--data", str(short_history), "--out", str(out), "--force"],
        cwd=PROJ_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    meta = json.loads((out / "segmentation.json").read_text(encoding="utf-8"))
    assert meta["status"] == "ok", meta.get("error")
    assert meta["sections"]["built"] == ["rfm", "clusters", "actions"]
    assert "migration_days = 91" in meta["sections"]["skipped"]["Segment migration"]
    html = (out / "segmentation.html").read_text(encoding="utf-8")
    assert "migration_days = 91" in html and "Traceback" not in html


def test_two_accounts_over_two_days(tmp_path):
    """The guide's worked example is as small: RFM and the action lists build, migration and
    clusters say why not."""
    from tiny import tiny_tables, write_tables

    t = tiny_tables()
    root = write_tables({n: t[n] for n in seg.CORE}, tmp_path / "data")
    res = seg.analyse(seg.open_tables(root))
    assert res.built_keys == ["rfm", "actions"] and res.figures["accounts_scored"] == 2
    assert "span 2 days" in res.reason("migration")
    assert "2 accounts were scored" in res.reason("clusters")
