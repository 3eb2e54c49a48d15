"""Response curves and budget reallocation: hand-made curves and the planted a, b."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from helpers import campaigns
from helpers.data.dataset import open_dataset
from helpers.models import response


def test_optimal_allocation_matches_the_analytic_optimum():
    # one shared b, no bounds: x_i proportional to (a_i b)^(1/(1-b)) = a_i^2 · const for b = 1/2
    x = response.optimal_allocation(
        [1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [10.0, 10.0, 10.0], bound=None
    )
    assert x.sum() == pytest.approx(30.0)
    assert x == pytest.approx(30.0 * np.array([1, 4, 9]) / 14)
    # marginal returns a_i b x_i^(b-1) are equal at the optimum, also with different b
    a, b = np.array([2.0, 5.0]), np.array([0.4, 0.7])
    x = response.optimal_allocation(a, b, [50.0, 50.0], bound=None)
    assert (a * b * x ** (b - 1))[0] == pytest.approx((a * b * x ** (b - 1))[1], rel=1e-8)
    # with +/- 50 %: channel 3 wants 19.3 but may have at most 15; the rest is split 1:4
    x = response.optimal_allocation([1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [10.0, 10.0, 10.0])
    assert x[2] == pytest.approx(15.0)
    assert x[:2] == pytest.approx([5.0, 10.0])  # 15 split 1:4 is 3, 12; 3 < 5 so clipped up
    assert x.sum() == pytest.approx(30.0)
    # bound 0: nothing moves
    assert response.optimal_allocation([1, 2], [0.5, 0.5], [4.0, 6.0], bound=0) == pytest.approx(
        [4.0, 6.0]
    )


def test_optimal_allocation_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        response.optimal_allocation([1, 2], [0.5, 1.2], [1.0, 1.0])
    with pytest.raises(ValueError, match="bound"):
        response.optimal_allocation([1, 2], [0.5, 0.5], [1.0, 1.0], total=10.0, bound=0.5)
    with pytest.raises(ValueError, match="same length"):
        response.optimal_allocation([1, 2], [0.5], [1.0, 1.0])


def _rows(channels, n=400, seed=0):
    """Campaign-day rows with clicks ~ Poisson(a · spend^b) per channel (a, b, spend median)."""
    rng = np.random.default_rng(seed)
    out = []
    for ch, (a, b, med) in channels.items():
        s = med * np.exp(0.4 * rng.standard_normal(n))
        out.append(pd.DataFrame({"channel": ch, "spend": s, "clicks": rng.poisson(a * s**b)}))
    return pd.concat(out, ignore_index=True)


def test_fit_recovers_known_curves_and_says_na_with_reason():
    rows = _rows({"x": (2.0, 0.6, 100.0), "y": (0.5, 0.8, 300.0)})
    idle = pd.DataFrame({"channel": "idle", "spend": [0.0] * 20, "clicks": [0] * 20})
    flat = pd.DataFrame({"channel": "flat", "spend": [5.0] * 20, "clicks": [3] * 20})
    few = pd.DataFrame({"channel": "few", "spend": [1.0, 2.0], "clicks": [1, 2]})
    blind = pd.DataFrame({"channel": "blind", "spend": np.linspace(1, 9, 20), "clicks": 0})
    zero_days = pd.DataFrame({"channel": "x", "spend": [0.0, 0.0], "clicks": [0, 0]})
    fit = response.fit_response(pd.concat([rows, idle, flat, few, blind, zero_days]), alpha=0.01)
    f = fit.set_index("channel")
    for ch, a, b in (("x", 2.0, 0.6), ("y", 0.5, 0.8)):
        assert f.loc[ch, "a_lo"] < a < f.loc[ch, "a_hi"]
        assert f.loc[ch, "b_lo"] < b < f.loc[ch, "b_hi"]
        assert f.loc[ch, "dispersion"] == pytest.approx(1.0, abs=0.2)
    assert f.loc["x", "zero_spend_rows"] == 2 and f.loc["x", "rows"] == 400
    assert f.loc["idle", "note"] == "n/a: no spend recorded"
    assert f.loc["flat", "note"].startswith("n/a: spend never varies")
    assert f.loc["few", "note"].startswith("n/a: fewer than")
    assert f.loc["blind", "note"] == "n/a: no clicks"
    for ch in ("idle", "flat", "few", "blind"):
        assert math.isnan(f.loc[ch, "a"]) and math.isnan(f.loc[ch, "b"])
    assert not np.isinf(fit.select_dtypes("number").to_numpy(float)).any()
    with pytest.raises(ValueError, match="missing column"):
        response.fit_response(rows.drop(columns="clicks"))
    with pytest.raises(ValueError, match="empty"):
        response.fit_response(rows.iloc[:0])


def test_reallocation_moves_budget_to_the_better_curve():
    # x has the higher marginal return at today's spend: budget moves from y to x
    rows = _rows({"x": (3.0, 0.6, 100.0), "y": (0.5, 0.6, 100.0)}, seed=1)
    idle = pd.DataFrame({"channel": "idle", "spend": [0.0] * 20, "clicks": [0] * 20})
    rows = pd.concat([rows, idle], ignore_index=True)
    fit = response.fit_response(rows)
    conv = pd.DataFrame({"channel": ["x", "y"], "conversions": [50, 50], "clicks": [5000, 5000]})
    table, s = response.reallocate(rows, fit, conv, bound=0.5, n_draws=500, seed=0)
    t = table.set_index("channel")
    assert t.loc["x", "change"] == pytest.approx(0.5)  # at the +50 % bound
    # y gives up what x gains (same total; today's spends differ a little, so not exactly -50 %)
    moved = 0.5 * t.loc["x", "current_spend"]
    assert t.loc["y", "recommended_spend"] == pytest.approx(t.loc["y", "current_spend"] - moved)
    assert t.recommended_spend.sum() == pytest.approx(t.current_spend.sum())
    assert t.loc["idle", "note"] == "n/a: no spend recorded"
    assert t.loc["idle", "recommended_spend"] == 0 and math.isnan(t.loc["idle", "gain"])
    # the point gain is worked out from the fitted curves: Σ cvr · C_i · ((x_i/S_i)^b_i − 1)
    f = fit.set_index("channel")
    c = {
        ch: (f.loc[ch, "a"] * rows[rows.channel == ch].spend ** f.loc[ch, "b"]).sum() for ch in "xy"
    }
    k = 1 + t.change
    by_hand = sum(0.01 * c[ch] * (k[ch] ** f.loc[ch, "b"] - 1) for ch in "xy")
    assert s["gain"] == pytest.approx(by_hand)
    assert s["gain"] > 0 and s["gain_lo"] < s["gain"] < s["gain_hi"]
    assert s["unit"] == "conversions" and s["channels"] == ["x", "y"]
    # without conversions the objective is clicks; with one usable channel there is no split
    _, s_clicks = response.reallocate(rows, fit, None, n_draws=200)
    assert s_clicks["unit"] == "clicks" and s_clicks["gain"] > s["gain"]
    with pytest.raises(ValueError, match="at least two channels"):
        response.reallocate(rows, fit[fit.channel != "y"], conv)


def test_fit_recovers_planted_response(small_sample):
    truth = json.loads((small_sample / "truth.json").read_text())["marketing"]["response"]
    ds = open_dataset(small_sample, tables=["marketing_spend"])
    rows = campaigns.response_inputs(ds)
    assert set(rows.channel) == set(truth)  # CRM channels left out
    fit = response.fit_response(rows, alpha=0.01).set_index("channel")
    for ch, p in truth.items():
        assert fit.loc[ch, "a_lo"] <= p["a"] <= fit.loc[ch, "a_hi"], (ch, fit.loc[ch], p)
        assert fit.loc[ch, "b_lo"] <= p["b"] <= fit.loc[ch, "b_hi"], (ch, fit.loc[ch], p)
        assert fit.loc[ch, "b_hi"] - fit.loc[ch, "b_lo"] < 0.15  # informative, not just wide


def test_usable_curves_and_spend_marks():
    rows = _rows({"x": (3.0, 0.6, 100.0), "y": (0.5, 0.6, 100.0), "z": (0.5, 0.6, 50.0)}, n=200)
    idle = pd.DataFrame({"channel": "idle", "spend": [0.0] * 20, "clicks": [0] * 20})
    rows = pd.concat([rows, idle], ignore_index=True)
    fit = response.fit_response(rows)
    conv = pd.DataFrame(
        {"channel": ["x", "y", "z"], "conversions": [50, 50, 0], "clicks": [5000, 5000, 900]}
    )
    notes = response.usable_curves(fit, conv).set_axis(fit.channel)
    assert notes.to_dict() == {
        "idle": "n/a: no spend recorded",
        "x": "",
        "y": "",
        "z": "n/a: no conversions per click to value clicks",
    }
    assert (response.usable_curves(fit) == "").sum() == 3  # clicks only: z counts
    table, _ = response.reallocate(rows, fit, conv, n_draws=200)
    assert table.note.tolist() == notes.tolist()  # reallocate reports the same reasons
    marks = response.spend_marks(rows, table)
    assert set(marks.channel) == {"x", "y"}  # only channels with a recommendation
    m = marks.set_index(["channel", "label"]).spend
    for ch in ("x", "y"):
        today = rows[(rows.channel == ch) & (rows.spend > 0)].spend.mean()
        change = table.set_index("channel").loc[ch, "change"]
        assert m[(ch, "today (mean per day)")] == pytest.approx(today)
        assert m[(ch, "recommended")] == pytest.approx(today * (1 + change))


def test_curve_points_by_hand():
    """The drawn curve is a · s^b on the grid; with no uncertainty the band is the curve, and
    with uncertainty it contains it; a channel without a fit is not drawn."""
    fit = pd.DataFrame(
        {"channel": ["sem", "feed_ads", "idle"], "a": [2.0, 3.0, np.nan],
         "b": [0.5, 0.8, np.nan], "log_a_se": [0.0, 0.1, np.nan], "b_se": [0.0, 0.05, np.nan],
         "cov_log_a_b": [0.0, -0.001, np.nan]}
    )  # fmt: skip
    pts = response.curve_points(fit, {"sem": 100.0, "feed_ads": 50.0}, n=11)
    assert set(pts.channel) == {"sem", "feed_ads"}
    sem = pts[pts.channel == "sem"]
    assert sem.spend.tolist() == pytest.approx(np.linspace(0, 100, 11).tolist())
    assert sem.clicks.tolist() == pytest.approx((2.0 * np.sqrt(sem.spend)).tolist())
    assert sem.lo.tolist() == pytest.approx(sem.clicks.tolist())
    assert sem.hi.tolist() == pytest.approx(sem.clicks.tolist())
    fa = pts[(pts.channel == "feed_ads") & (pts.spend > 0)]
    assert fa.clicks.iloc[-1] == pytest.approx(3.0 * 50.0**0.8)
    assert ((fa.lo < fa.clicks) & (fa.clicks < fa.hi)).all()
    with pytest.raises(ValueError, match="no channel"):
        response.curve_points(fit[fit.a.isna()], {})
