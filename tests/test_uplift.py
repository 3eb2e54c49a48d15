"""Uplift model: features as of each campaign's start, Qini against random scores, and the
direction of the uplift the generator planted."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tiny import tiny_tables, write_tables

from helpers import campaigns
from helpers.data.dataset import open_dataset
from helpers.models import uplift


def _late_order_tables(start: str) -> dict:
    """The tiny tables with campaign C1 (control kept) starting on ``start`` and ending
    2025-03-20, and a second order of account 1 on 2025-03-12, after that start: an order a
    feature or segment as of the end of the data would see, and one as of the start must not."""
    t = tiny_tables()
    t["campaigns"].loc[0, "start_date"] = pd.Timestamp(start).date()
    t["campaigns"].loc[0, "end_date"] = pd.Timestamp("2025-03-20").date()
    extra = t["orders"].iloc[[0]].assign(order_id=3, order_ts=pd.Timestamp("2025-03-12 09:00"))
    extra["order_ts"] = extra.order_ts.astype("datetime64[us]")
    t["orders"] = pd.concat([t["orders"], extra], ignore_index=True)
    line = t["order_lines"].iloc[[0]].assign(order_id=3, quantity=50)
    t["order_lines"] = pd.concat([t["order_lines"], line], ignore_index=True)
    return t


def test_send_features_are_as_of_campaign_start(tmp_path):
    ds = open_dataset(write_tables(_late_order_tables("2025-03-10"), tmp_path / "d"))
    f = campaigns.send_features(ds).set_index("account_id")
    # account 1: ordered 2025-03-01 10:00, 3 x 100 x 0.9 = 270; start 2025-03-10 00:00
    a = f.loc[1]
    assert a.days_since_order == 8  # 8.58 days, floored
    assert (a.orders_before, a.orders_recent, a.revenue_recent) == (1, 1, pytest.approx(270.0))
    assert a.tenure_days == 9 and a.has_ordered == 1 and a.group == "treatment"
    b = f.loc[2]  # ordered 2025-03-02 10:00, 5 x 20 = 100; signed up 2025-03-02
    assert (b.days_since_order, b.orders_before, b.tenure_days) == (7, 1, 8)
    assert b.revenue_recent == pytest.approx(100.0)
    short = campaigns.send_features(ds, lookback_days=5).set_index("account_id")
    assert short.loc[1, "orders_recent"] == 0 and short.loc[1, "revenue_recent"] == 0
    assert short.loc[1, "orders_before"] == 1
    with pytest.raises(ValueError, match="lookback_days"):
        campaigns.send_features(ds, lookback_days=0)


def test_uplift_matrix_logs_and_fills():
    f = pd.DataFrame(
        {
            "days_since_order": [np.nan, 9.0],
            "orders_before": [0, 3],
            "orders_recent": [0, 1],
            "revenue_recent": [0.0, np.e - 1],
            "tenure_days": [4.0, 20.0],
            "has_ordered": [0, 1],
        }
    )
    x = uplift.uplift_matrix(f)
    assert x.days_since_order.tolist() == pytest.approx([np.log(5), np.log(10)])
    assert x.revenue_recent.tolist() == pytest.approx([0.0, 1.0])
    assert x.has_ordered.tolist() == [0, 1]
    with pytest.raises(ValueError, match="missing column"):
        uplift.uplift_matrix(f.drop(columns="tenure_days"))


def _synthetic(n, effect, seed):
    """Sends with one feature x ~ U(0, 1); P(convert) = 0.05 + effect · 1{x > 0.5} if treated."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    t = rng.random(n) < 0.5
    y = rng.random(n) < 0.05 + np.where(t & (x > 0.5), effect, 0.0)
    return pd.DataFrame({"x": x}), t, y.astype(int)


def test_two_model_beats_random_band_only_when_uplift_is_planted():
    x, t, y = _synthetic(8000, 0.06, seed=3)
    score = uplift.two_model_uplift(x, t, y, seed=0)
    q = uplift.qini_coefficient(uplift.qini_curve(score, t, y))
    lo, hi = uplift.qini_random_band(t, y, n=100, seed=1)
    assert q > hi, (q, hi)
    assert score[x.x > 0.5].mean() > score[x.x <= 0.5].mean()
    # the same test on data with no uplift anywhere stays inside the random band
    x0, t0, y0 = _synthetic(8000, 0.0, seed=3)
    s0 = uplift.two_model_uplift(x0, t0, y0, seed=0)
    q0 = uplift.qini_coefficient(uplift.qini_curve(s0, t0, y0))
    lo0, hi0 = uplift.qini_random_band(t0, y0, n=100, seed=1)
    assert lo0 < q0 < hi0, (lo0, q0, hi0)
    with pytest.raises(ValueError, match="at least 20"):
        uplift.qini_random_band(t, y, n=5)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from helpers.data import generate

    d = tmp_path_factory.mktemp("gen_uplift")
    generate.generate(d, scale=0.5, seed=5, progress=False)
    return d


def _planted(d, account_ids):
    truth = json.loads((d / "truth.json").read_text())
    arch = dict(zip(truth["accounts"]["account_id"], truth["accounts"]["archetype"], strict=True))
    a = pd.Series(account_ids).map(arch)
    return a, a.map(truth["campaigns"]["uplift"])


def test_model_recovers_planted_uplift_direction(generated):
    f = campaigns.send_features(open_dataset(generated))
    f = f[f.has_control].reset_index(drop=True)
    arch, planted = _planted(generated, f.account_id)
    t, y = (f.group == "treatment").to_numpy(), f.converted.to_numpy()
    # with the planted segments as features the score must beat every random score's band
    x = pd.get_dummies(arch, dtype=float)
    score = uplift.two_model_uplift(x, t, y, seed=0)
    q = uplift.qini_coefficient(uplift.qini_curve(score, t, y))
    lo, hi = uplift.qini_random_band(t, y, n=100, seed=0)
    assert q > hi, (q, lo, hi)
    by_arch = pd.Series(score).groupby(arch.to_numpy()).mean()
    assert by_arch["at_risk"] > by_arch["occasional"] > by_arch["champion"]  # .07 > .05 > -.03
    # features as of each campaign's start: the score points the planted way (it correlates
    # with the planted per-account uplift, well above what shuffled labels give)
    tt = np.random.default_rng(0).permutation(t)
    xs = uplift.uplift_matrix(f)
    s = np.mean([uplift.two_model_uplift(xs, t, y, seed=k) for k in range(3)], axis=0)
    s_null = np.mean([uplift.two_model_uplift(xs, tt, y, seed=k) for k in range(3)], axis=0)
    r, r_null = np.corrcoef(s, planted)[0, 1], np.corrcoef(s_null, planted)[0, 1]
    assert r > 0.15 and r > r_null + 0.1, (r, r_null)


def test_qini_verdict_needs_the_band():
    assert uplift.qini_verdict(5.0, (-2.0, 3.0)) == "better than random"
    assert uplift.qini_verdict(3.0, (-2.0, 3.0)) == "no better than random"  # on the edge
    assert uplift.qini_verdict(-2.5, (-2.0, 3.0)) == "worse than random"
    with pytest.raises(ValueError, match="finite"):
        uplift.qini_verdict(float("nan"), (-2.0, 3.0))


def _tiny_with_start(tmp_path, start: str):
    """:func:`_late_order_tables` opened, with campaign C2 (no control) also sending to
    account 1."""
    t = _late_order_tables(start)
    send = t["campaign_sends"].iloc[[0]].assign(send_id=3, campaign_id="C2")
    t["campaign_sends"] = pd.concat([t["campaign_sends"], send], ignore_index=True)
    return open_dataset(write_tables(t, tmp_path / start))


def test_segments_at_sends_are_as_of_each_campaign_start(tmp_path):
    from helpers import segmentation

    ds = _tiny_with_start(tmp_path, "2025-03-10")
    outcomes = campaigns.send_outcomes(ds)
    seg = campaigns.segments_at_sends(ds, outcomes)
    assert list(seg.columns) == ["campaign_id", "account_id", "segment"]
    assert set(seg.campaign_id) == {"C1"}  # C2 kept no control group: left out
    assert sorted(seg.account_id) == [1, 2]
    at_start = segmentation.rfm(ds, analysis_date="2025-03-10").set_index("account_id").segment
    assert seg.set_index("account_id").segment.to_dict() == at_start.loc[[1, 2]].to_dict()
    # lookback of 8 days before 2025-03-10: account 2 (ordered 03-02 10:00) is in, account 1
    # (03-01 10:00) has no order in it and is kept under its own label, not dropped
    short = campaigns.segments_at_sends(ds, outcomes, lookback_days=8).set_index("account_id")
    assert short.loc[1, "segment"] == campaigns.NO_RECENT_ORDER
    assert short.loc[2, "segment"] != campaigns.NO_RECENT_ORDER
    # a campaign that starts before anyone ordered: every send is NO_RECENT_ORDER, no error
    early = _tiny_with_start(tmp_path, "2025-02-01")
    s = campaigns.segments_at_sends(early, campaigns.send_outcomes(early))
    assert (s.segment == campaigns.NO_RECENT_ORDER).all() and len(s) == 2
    # the per-campaign segments feed uplift_by_segment (joined on campaign and account)
    u = campaigns.uplift_by_segment(outcomes, seg)
    assert u.treated.sum() == 1 and u.control.sum() == 1
    with pytest.raises(ValueError, match="no send"):
        campaigns.segments_at_sends(ds, outcomes.assign(has_control=False))
