"""BG/NBD, Pareto/NBD and Gamma-Gamma (helpers.models.btyd): the published CDNOW estimates,
agreement with lifetimes' predictions, input errors, and hand-checked small cases."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.models import btyd
from helpers.models.btyd.bgnbd import _bgnbd_score
from helpers.models.btyd.fit import _levels

with warnings.catch_warnings():  # lifetimes sets a pandas option that pandas 3 deprecates
    warnings.simplefilter("ignore")
    lifetimes = pytest.importorskip("lifetimes")
    from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

DATA = Path(lifetimes.__file__).parent / "datasets"

#: Issue 13: no RuntimeWarning anywhere in the fits or the predictions.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@pytest.fixture(scope="module")
def cdnow():
    """The published 39-week calibration summary of the CDNOW sample (2,357 customers)."""
    s = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return s.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


@pytest.fixture(scope="module")
def fits(cdnow):
    x, tx, T = cdnow.frequency, cdnow.recency, cdnow["T"]
    return {
        "bgnbd": btyd.fit_bgnbd(x, tx, T),
        "pareto_nbd": btyd.fit_pareto_nbd(x, tx, T),
        "gamma_gamma": btyd.fit_gamma_gamma(x, cdnow.monetary_value),
    }


def test_cdnow_summary_size(cdnow):
    assert len(cdnow) == 2357
    assert cdnow["T"].max() == pytest.approx(38.86)


def test_bgnbd_matches_fhl_2005(fits):
    f = fits["bgnbd"]
    # Fader, Hardie & Lee (2005), CDNOW: r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert round(f.params[k], 3) == v, k
    assert f.loglik == pytest.approx(-9582.4, abs=0.05)
    assert f.converged and f.grad_norm < 1e-4
    assert set(f.stderr) == set(published) and all(0 < s < np.inf for s in f.stderr.values())


def test_pareto_nbd_matches_published(fits):
    f = fits["pareto_nbd"]
    published = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    for k, v in published.items():
        assert f.params[k] == pytest.approx(v, rel=0.01), k
    assert f.converged


def test_gamma_gamma_matches_published(fits):
    f = fits["gamma_gamma"]
    published = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    for k, v in published.items():
        assert f.params[k] == pytest.approx(v, rel=0.01), k
    assert f.n == 946 and f.converged


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_bgnbd_predictions_agree_with_lifetimes(cdnow, fits):
    f = fits["bgnbd"]
    ref = BetaGeoFitter()
    ref.params_ = pd.Series(f.params)
    x, tx, T = cdnow.frequency, cdnow.recency, cdnow["T"]
    np.testing.assert_allclose(
        btyd.bgnbd_p_alive(f, x, tx, T),
        _quiet(ref.conditional_probability_alive, x, tx, T),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        btyd.bgnbd_conditional_expected_purchases(f, 39, x, tx, T),
        _quiet(ref.conditional_expected_number_of_purchases_up_to_time, 39, x, tx, T),
        rtol=1e-6,
    )
    t = np.array([1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(
        btyd.bgnbd_expected_purchases(f, t),
        _quiet(ref.expected_number_of_purchases_up_to_time, t),
        rtol=1e-6,
    )


def test_pareto_predictions_agree_with_lifetimes(cdnow, fits):
    f = fits["pareto_nbd"]
    ref = ParetoNBDFitter()
    ref.params_ = pd.Series(f.params)
    x, tx, T = cdnow.frequency, cdnow.recency, cdnow["T"]
    np.testing.assert_allclose(
        btyd.pareto_nbd_p_alive(f, x, tx, T),
        _quiet(ref.conditional_probability_alive, x, tx, T),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        btyd.pareto_nbd_conditional_expected_purchases(f, 39, x, tx, T),
        _quiet(ref.conditional_expected_number_of_purchases_up_to_time, 39, x, tx, T),
        rtol=1e-6,
    )
    t = np.array([1.0, 39.0, 78.0])
    np.testing.assert_allclose(
        btyd.pareto_nbd_expected_purchases(f, t),
        _quiet(ref.expected_number_of_purchases_up_to_time, t),
        rtol=1e-6,
    )


def test_gamma_gamma_spend_and_clv_agree_with_lifetimes(cdnow, fits):
    g, b = fits["gamma_gamma"], fits["bgnbd"]
    ref = GammaGammaFitter()
    ref.params_ = pd.Series({"p": g.params["p"], "q": g.params["q"], "v": g.params["gamma"]})
    x, m = cdnow.frequency, cdnow.monetary_value
    np.testing.assert_allclose(
        btyd.gamma_gamma_expected_spend(g, x, m),
        _quiet(ref.conditional_expected_average_profit, x, m),
        rtol=1e-6,
    )
    bg = BetaGeoFitter()
    bg.params_ = pd.Series(b.params)
    bg.predict = bg.conditional_expected_number_of_purchases_up_to_time  # as lifetimes does
    tx, T = cdnow.recency, cdnow["T"]
    # lifetimes: 12 monthly steps of 4.345 weeks, monthly discount 0.01
    ref_clv = _quiet(
        ref.customer_lifetime_value, bg, x, tx, T, m, time=12, discount_rate=0.01, freq="W"
    )
    ours = btyd.discounted_clv(
        lambda t: btyd.bgnbd_conditional_expected_purchases(b, t, x, tx, T),
        btyd.gamma_gamma_expected_spend(g, x, m),
        horizon=12 * 4.345,
        step=4.345,
        rate_per_step=0.01,
    )
    np.testing.assert_allclose(ours, ref_clv, rtol=1e-6)


def test_clv_interval_brackets_point(cdnow, fits):
    x, tx, T, m = cdnow.frequency, cdnow.recency, cdnow["T"], cdnow.monetary_value
    point, lo, hi = btyd.clv_interval(
        fits["bgnbd"],
        fits["gamma_gamma"],
        x,
        tx,
        T,
        m,
        margin=0.3,
        horizon=52,
        step=4.35,
        rate_per_step=0.008,
        n_draws=100,
    )
    assert np.all(lo <= point * 1.0001) and np.all(point <= hi * 1.0001)
    assert np.all(point >= 0)


def test_hand_checked_values():
    # BG/NBD P(alive) with x = 0 is 1; with x = 1, t_x = T it is 1 / (1 + a / b)
    p = {"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 3.0}
    assert btyd.bgnbd_p_alive(p, [0], [0], [10])[0] == 1.0
    assert btyd.bgnbd_p_alive(p, [1], [10], [10])[0] == pytest.approx(1 / (1 + 1 / 3))
    # Gamma-Gamma with x = 0 gives the population mean p gamma / (q - 1)
    g = {"p": 2.0, "q": 3.0, "gamma": 10.0}
    assert btyd.gamma_gamma_expected_spend(g, [0], [0])[0] == pytest.approx(10.0)
    assert btyd.gamma_gamma_mean_spend(g) == pytest.approx(10.0)
    # x = 2, m = 40: (10 + 80) * 2 / (4 + 2) = 30
    assert btyd.gamma_gamma_expected_spend(g, [2], [40])[0] == pytest.approx(30.0)
    # discounted_clv: one purchase a step, value 100, 2 steps at 10 %: 100/1.1 + 100/1.21
    v = btyd.discounted_clv(lambda t: np.array([t]), [100.0], 2.0, 1.0, 0.1)
    assert v[0] == pytest.approx(100 / 1.1 + 100 / 1.21)


def test_collapsing_rows_does_not_change_the_fit(cdnow):
    x, tx, T = cdnow.frequency, cdnow.recency, cdnow["T"]
    once = btyd.fit_bgnbd(x, tx, T)
    twice = btyd.fit_bgnbd(np.tile(x, 2), np.tile(tx, 2), np.tile(T, 2))
    for k in once.params:
        assert twice.params[k] == pytest.approx(once.params[k], rel=1e-4)
        assert twice.stderr[k] == pytest.approx(once.stderr[k] / np.sqrt(2), rel=1e-2)
    assert twice.loglik == pytest.approx(2 * once.loglik, rel=1e-8)


def test_pareto_likelihood_is_finite_for_frequencies_in_the_hundreds():
    x = np.array([0, 150, 400, 900])
    tx = np.array([0, 50.0, 90.0, 99.0])
    T = np.full(4, 100.0)
    ll = btyd.pareto_nbd_loglik((0.5, 10.0, 0.6, 12.0), x, tx, T)
    assert np.all(np.isfinite(ll))
    pa = btyd.pareto_nbd_p_alive((0.5, 10.0, 0.6, 12.0), x, tx, T)
    assert np.all((pa >= 0) & (pa <= 1))


@pytest.mark.parametrize(
    "args, message",
    [
        (([], [], []), "empty"),
        (([1, 2], [1.0], [3.0, 4.0]), "same length"),
        (([1, -1, 0], [1.0, 0.0, 0.0], [3, 3, 3]), "negative"),
        (([1, 0, 0], [5.0, 0.0, 0.0], [3, 3, 3]), "larger than T"),
        (([0, 0, 0], [0.0, 0.0, 0.0], [3, 3, 3]), "no customer made a repeat"),
        (([1.5, 0, 0], [1.0, 0.0, 0.0], [3, 3, 3]), "whole numbers"),
        (([1, 0, np.nan], [1.0, 0.0, 0.0], [3, 3, 3]), "NaN"),
    ],
)
def test_purchase_fits_refuse_bad_input(args, message):
    for fit in (btyd.fit_bgnbd, btyd.fit_pareto_nbd):
        with pytest.raises(ValueError, match=message):
            fit(*args)


def test_gamma_gamma_refuses_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        btyd.fit_gamma_gamma([0, 1, 0], [0, 5.0, 0])
    with pytest.raises(ValueError, match="> 0"):
        btyd.fit_gamma_gamma([1, 1, 1], [0.0, 5.0, 6.0])
    with pytest.raises(ValueError, match="same mean spend"):
        btyd.fit_gamma_gamma([1, 2, 3], [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="q > 1"):
        btyd.gamma_gamma_expected_spend({"p": 1, "q": 0.5, "gamma": 1}, [1], [1])


def test_bgnbd_analytic_score_matches_finite_differences(cdnow):
    x, tx, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    levels, index = _levels(x)
    theta = np.array([0.3, 4.0, 0.8, 2.5])
    ll, d = _bgnbd_score(theta, x, tx, T, levels, index)
    np.testing.assert_allclose(ll, btyd.bgnbd_loglik(theta, x, tx, T), rtol=1e-12)
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-6
        fd = (
            btyd.bgnbd_loglik(theta + e, x, tx, T) - btyd.bgnbd_loglik(theta - e, x, tx, T)
        ) / 2e-6
        np.testing.assert_allclose(d[i], fd, rtol=1e-5, atol=1e-7)
