"""Tests of helpers.stats' odds ratio and Benjamini-Hochberg: textbook values, statsmodels'
Table2x2 as the outside reference, and a simulation of the false-discovery rate."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import Table2x2

from helpers.stats import benjamini_hochberg, odds_ratio


def test_odds_ratio_by_hand_and_against_statsmodels():
    # a=20 b=80 c=10 d=90: OR = 20*90 / (80*10) = 2.25, se = sqrt(1/20+1/80+1/10+1/90)
    r = odds_ratio([20, 5], [80, 45], [10, 7], [90, 60])
    assert r["odds_ratio"][0] == pytest.approx(2.25)
    se = np.sqrt(1 / 20 + 1 / 80 + 1 / 10 + 1 / 90)
    assert r["ci_low"][0] == pytest.approx(2.25 * np.exp(-1.959964 * se), rel=1e-5)
    for i, cells in enumerate([(20, 80, 10, 90), (5, 45, 7, 60)]):
        t = Table2x2(np.array(cells, dtype=float).reshape(2, 2))
        lo, hi = t.oddsratio_confint()
        assert r["odds_ratio"][i] == pytest.approx(t.oddsratio)
        assert (r["ci_low"][i], r["ci_high"][i]) == pytest.approx((lo, hi))
        assert r["p_value"][i] == pytest.approx(t.oddsratio_pvalue())


def test_odds_ratio_zero_cell_and_bad_input():
    r = odds_ratio([0], [10], [5], [5])  # Haldane: (0.5*5.5) / (10.5*5.5)
    assert r["odds_ratio"][0] == pytest.approx(0.5 / 10.5)
    assert np.isfinite(r["ci_high"][0])
    with pytest.raises(ValueError, match="0 or more"):
        odds_ratio([-1], [1], [1], [1])


def test_benjamini_hochberg_by_hand():
    # m = 5; sorted p .01 .02 .03 .04 .5 -> p*m/j = .05 .05 .05 .05 .5
    reject, q = benjamini_hochberg([0.04, 0.01, 0.5, 0.03, 0.02, np.nan])
    assert q[:5] == pytest.approx([0.05, 0.05, 0.5, 0.05, 0.05])
    assert reject.tolist() == [True, True, False, True, True, False]
    assert np.isnan(q[5])
    # step-up: .012 alone is not below .05*1/3, but .04 (j = 3) lifts all three
    reject, q = benjamini_hochberg([0.012, 0.03, 0.04], alpha=0.045)
    assert reject.all() and q == pytest.approx([0.036, 0.04, 0.04])
    with pytest.raises(ValueError):
        benjamini_hochberg([1.5])


def test_benjamini_hochberg_keeps_false_discoveries_near_the_rate():
    """400 simulated studies of 40 tests (10 true effects): the mean share of false
    discoveries among discoveries stays at or below q = 10 %, and with no effect at all the
    chance of any discovery (= the FDR then) is near 10 % too, not the 1 - 0.9^40 ≈ 98 %
    of uncorrected tests."""
    rng = np.random.default_rng(7)
    fdp, any_null = [], []
    for _ in range(400):
        z = rng.normal(size=40)
        z[:10] += 3.0
        p = 2 * (1 - _phi(np.abs(z)))
        reject, _ = benjamini_hochberg(p, alpha=0.10)
        fdp.append(reject[10:].sum() / max(reject.sum(), 1))
        null_reject, _ = benjamini_hochberg(2 * (1 - _phi(np.abs(rng.normal(size=40)))), 0.10)
        any_null.append(null_reject.any())
    assert np.mean(fdp) <= 0.10 * 30 / 40 + 0.02  # BH controls at q·m0/m = 7.5 %
    assert 0.05 <= np.mean(any_null) <= 0.15


def _phi(x):
    from scipy.stats import norm

    return norm.cdf(x)
