"""A/B/n experiments and the campaigns report on partial exports (issue 17, items 1, 3, 5).

The arms' counts are made by hand; every rate, lift and interval is checked against a hand
computation with scipy as the outside reference (Wilson intervals combined by Newcombe's
hybrid score method; Pearson's chi-square for the two-proportion test).
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import campaigns
from helpers.data.schema import TABLES
from helpers.reports import report_payload

#: campaign "AB-1": one control and three arms; "SOLO-1": a lone arm without control.
ARMS = {
    ("AB-1", "control"): (400, 20),
    ("AB-1", "subject_a"): (400, 32),
    ("AB-1", "subject_b"): (400, 20),
    ("AB-1", "subject_c"): (300, 9),
    ("SOLO-1", "treatment"): (200, 10),
}
SENT = pd.Timestamp("2025-03-03 09:00")


def _revenue(i: int) -> float:
    """Revenue of the i-th converted send of a group: 50, 60, ..., 90, 50, ..."""
    return 50.0 + 10.0 * (i % 5)


def _sends() -> pd.DataFrame:
    """campaign_sends as an e-mail test export gives it: no open or click times."""
    rows, account = [], 1
    for (cid, group), (n, k) in ARMS.items():
        for i in range(n):
            converted = i < k
            rows.append(
                {
                    "send_id": len(rows) + 1,
                    "campaign_id": cid,
                    "account_id": account,
                    "group": group,
                    "sent_at": SENT,
                    "opened_at": pd.NaT,
                    "clicked_at": pd.NaT,
                    "converted_at": SENT + pd.Timedelta(days=2) if converted else pd.NaT,
                    "revenue": _revenue(i) if converted else 0.0,
                }
            )
            account += 1
    df = pd.DataFrame(rows)
    for c in ("sent_at", "opened_at", "clicked_at", "converted_at"):
        df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
    return df[list(TABLES["campaign_sends"].columns)]


def _outcomes() -> pd.DataFrame:
    s = _sends()
    return s.assign(
        channel="email",
        has_control=s.campaign_id == "AB-1",
        converted=s.converted_at.notna().astype("int64"),
    )


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson (1927) score interval, by hand."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _newcombe(k1: int, n1: int, k0: int, n0: int, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe (1998) method 10: the Wilson limits of each rate combined."""
    z = stats.norm.ppf(1 - alpha / 2)
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = _wilson(k1, n1, z)
    l0, u0 = _wilson(k0, n0, z)
    d = p1 - p0
    return d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt(
        (u1 - p1) ** 2 + (p0 - l0) ** 2
    )


def _mean_revenue(n: int, k: int) -> float:
    return sum(_revenue(i) for i in range(k)) / n


def test_abn_records_by_hand():
    table = campaigns.experiments(_outcomes())
    records = {(r["campaign_id"], r["arm"]): r for r in campaigns.experiment_records(table)}
    assert set(records) == {k for k in ARMS if k[1] != "control"}  # one per (campaign, arm)
    assert set(records["AB-1", "subject_a"]) == set(campaigns.EXPERIMENT_RECORD)
    n0, k0 = ARMS["AB-1", "control"]
    for arm in ("subject_a", "subject_b", "subject_c"):
        n1, k1 = ARMS["AB-1", arm]
        r = records["AB-1", arm]
        assert (r["recipients"], r["conversions"]) == (n1, k1)
        assert r["conversion_rate"] == pytest.approx(k1 / n1)
        assert r["control_conversion_rate"] == pytest.approx(k0 / n0)
        assert r["lift"] == pytest.approx(k1 / n1 - k0 / n0)
        lo, hi = _newcombe(k1, n1, k0, n0)
        assert r["lift_ci_low"] == pytest.approx(lo, abs=1e-9)
        assert r["lift_ci_high"] == pytest.approx(hi, abs=1e-9)
        pearson = stats.chi2_contingency([[k1, n1 - k1], [k0, n0 - k0]], correction=False)
        assert r["p_value"] == pytest.approx(pearson.pvalue, rel=0.01)  # score test, n/(n-1)
        rev1, rev0 = _mean_revenue(n1, k1), _mean_revenue(n0, k0)
        assert r["revenue_per_recipient"] == pytest.approx(rev1)
        assert r["control_revenue_per_recipient"] == pytest.approx(rev0)
        assert r["revenue_lift"] == pytest.approx(rev1 - rev0)
        # percentile bootstrap: around the difference, about as wide as Welch's normal interval
        o = _outcomes()
        a = o[(o.campaign_id == "AB-1") & (o.group == arm)].revenue
        c = o[(o.campaign_id == "AB-1") & (o.group == "control")].revenue
        se = math.sqrt(a.var() / len(a) + c.var() / len(c))
        width = r["revenue_lift_ci_high"] - r["revenue_lift_ci_low"]
        assert r["revenue_lift_ci_low"] < rev1 - rev0 < r["revenue_lift_ci_high"]
        assert width == pytest.approx(2 * 1.96 * se, rel=0.15)
    # subject_b converts exactly as the control: zero lift, an interval around it, p = 1
    b = records["AB-1", "subject_b"]
    assert b["lift"] == 0 and b["lift_ci_low"] < 0 < b["lift_ci_high"]
    assert b["p_value"] == pytest.approx(1.0)
    # the lone arm without control: observed, never compared
    solo = records["SOLO-1", "treatment"]
    assert solo["conversion_rate"] == pytest.approx(10 / 200)
    assert solo["control_conversion_rate"] is None and solo["lift"] is None
    assert solo["p_value"] is None and solo["revenue_lift_ci_low"] is None
    json.dumps(report_payload({"experiments": list(records.values())}))  # publishable


def test_experiment_needs_the_arm_when_there_are_several():
    o = _outcomes()
    ab = o[o.campaign_id == "AB-1"]
    with pytest.raises(ValueError, match="several arms"):
        campaigns.experiment(ab)
    r = campaigns.experiment(ab, arm="subject_a")
    assert r["arm"] == "subject_a" and r["treated"] == 400 and r["control"] == 400
    assert campaigns.arms_of(ab) == ["subject_a", "subject_b", "subject_c"]


def test_report_payload_takes_a_list_of_flat_records():
    p = report_payload({"experiments": [{"arm": "a", "lift": np.float64(0.02)}, {"lift": np.nan}]})
    assert p["figures"]["experiments"] == [{"arm": "a", "lift": 0.02}, {"lift": None}]
    with pytest.raises(TypeError, match=r"experiments\[0\]\.arm"):
        report_payload({"experiments": [{"arm": ["nested"]}]})


# ------------------------------------------------------------------ partial exports


def _write(root, name: str, df: pd.DataFrame):
    (root / name).mkdir(parents=True, exist_ok=True)
    df.to_parquet(root / name / "part-00000.parquet", index=False)


def test_campaign_sends_alone_builds_the_experiments(tmp_path):
    _write(tmp_path, "campaign_sends", _sends())
    ds = campaigns.open_data(tmp_path)
    assert "accounts" in ds and any("derived" in n for n in ds.notes)
    res = campaigns.analyse(ds)
    assert res.built_keys == ["experiments"]
    for key in ("channels", "ltv", "weekly", "budget"):
        assert "marketing_spend table" in res.reason(key)
    assert "opened_at" in res.reason("engagement")  # no open or click times: skipped, said why
    assert "campaigns table" in res.reason("uplift")
    records = res.figures["experiments"]
    assert len(records) == 4 and {r["arm"] for r in records} >= {"subject_a", "treatment"}
    assert res.figures["campaigns"] == 2 and res.figures["campaigns_with_control"] == 1
    assert "paid_spend" not in res.figures  # a skipped section puts nothing in the JSON
    assert res.facts["period_table"] == "campaign_sends"
    assert res.facts["multi_arm"] == ["AB-1"]
    assert len(res.tables["controlled_shown"]) == 3
    payload = report_payload(res.figures, res.facts["finding"], sections=res.summary())
    assert payload["sections"]["total"] == len(campaigns.SECTIONS)
    json.dumps(payload)


def test_marketing_spend_alone_builds_channel_economics(tmp_path, small_sample):
    shutil.copytree(small_sample / "marketing_spend", tmp_path / "marketing_spend")
    ds = campaigns.open_data(tmp_path)
    assert "accounts" not in ds  # nothing to derive accounts from
    res = campaigns.analyse(ds)
    assert res.built_keys == ["channels", "weekly"]
    assert "web_events table" in res.reason("budget")
    assert "campaign_sends table" in res.reason("experiments")
    ms = ds.marketing_spend.to_pandas()
    paid = res.tables["paid"].set_index("channel")
    assert res.figures["paid_spend"] == pytest.approx(ms.spend[ms.spend > 0].sum())
    assert paid.clicks.sum() == ms.clicks.sum()
    # what needs other tables is n/a with the table named, never 0
    assert paid.cvr.isna().all() and (paid.cvr_note == "n/a: no web_events table").all()
    assert paid.cac.isna().all() and paid.cac_note.str.contains("accounts").all()
    assert paid.roas.isna().all() and paid.leads.isna().all()
    assert res.figures["best_roas_channel"] is None
    assert any("web_events" in n for n in res.notes)
    assert "n/a" in res.tables["paid_shown"].cvr.iloc[0]
    json.dumps(report_payload(res.figures, res.facts["finding"], sections=res.summary()))


def test_neither_core_table_is_a_clear_error(tmp_path, small_sample):
    shutil.copytree(small_sample / "orders", tmp_path / "orders")
    with pytest.raises(ValueError, match="campaign_sends table .* or a marketing_spend table"):
        campaigns.open_data(tmp_path)


def test_unknown_costs_make_roi_unknown_not_a_full_margin():
    df = pd.DataFrame(
        {
            "channel": ["sem"],
            "spend": [100.0],
            "impressions": [1000],
            "clicks": [50],
            "conversions": [5],
            "new_customers": [2],
            "customer_revenue": [900.0],
            "customer_margin": [np.nan],  # an order line without unit_cost
        }
    )
    e = campaigns.economics(df).iloc[0]
    assert e.roas == pytest.approx(9.0)
    assert math.isnan(e.roi) and e.roi_note == "n/a: product costs unknown"
    assert math.isnan(e.margin_per_customer) and pd.isna(e.cac_exceeds_ltv)
