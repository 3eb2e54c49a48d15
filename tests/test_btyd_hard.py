"""BTYD fits on hard shapes (issue #13): heavy buyers with frequencies in the hundreds, tiny
dropout, years of history in days, a million accounts. Data are simulated from known
parameters (HARD_SHAPES of tests/btyd_shapes.py, vectorised numpy) and each fitted parameter
must lie within 3 standard errors of the truth on the log scale, |log θ̂ − log θ| < 3 se(log θ̂):
the Wald band the fit reports, so the test fails when the estimate or its standard error is
wrong (see test_the_three_se_band_can_fail). Every fit runs with warnings turned into errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from btyd_shapes import HARD_SHAPES, simulate_shape
from scipy.integrate import quad

from helpers.models import btyd
from helpers.models.btyd.fit import _levels
from helpers.models.btyd.gamma_gamma import _gamma_gamma_score
from helpers.models.btyd.pareto_nbd import _pareto_log_a0, _pareto_score

pytestmark = pytest.mark.filterwarnings("error")

SHAPES = [s for s in HARD_SHAPES if not s.startswith("CDNOW")]
BIG = "CDNOW-like, 1M accounts"
N_SMALL = {"bgnbd": 20_000, "pareto_nbd": 8_000}
FITS = {"bgnbd": btyd.fit_bgnbd, "pareto_nbd": btyd.fit_pareto_nbd}


def _within(fit: btyd.FitResult, truth: dict, k: float = 3.0) -> dict[str, float]:
    """z = (log θ̂ − log θ) / se(log θ̂) per parameter; asserts |z| < k for each."""
    z = {p: (np.log(fit.params[p]) - np.log(v)) / fit.log_se[p] for p, v in truth.items()}
    assert all(abs(v) < k for v in z.values()), (fit.model, z, fit.params, truth)
    return z


def _checked(fit: btyd.FitResult) -> None:
    assert fit.converged and fit.hessian_pd and fit.min_eigenvalue > 0
    assert fit.newton_step < btyd.NEWTON_TOL and fit.grad_norm < 1e-5
    assert all(np.isfinite(v) and v > 0 for v in fit.stderr.values())
    for p, (lo, hi) in fit.interval().items():
        assert lo < fit.params[p] < hi


@pytest.fixture(scope="module")
def big():
    return simulate_shape(BIG, "bgnbd", 1_000_000, seed=1)


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
@pytest.mark.parametrize("shape", SHAPES)
def test_purchase_model_recovers_the_truth(shape, model):
    d = simulate_shape(shape, model, N_SMALL[model], seed=1)
    fit = FITS[model](d["frequency"], d["recency"], d["T"])
    _checked(fit)
    _within(fit, HARD_SHAPES[shape][model])
    if shape == "heavy buyers":
        assert d["frequency"].max() > 500 and d["frequency"].mean() > 100


@pytest.mark.parametrize("shape", SHAPES)
def test_gamma_gamma_recovers_the_truth(shape):
    d = simulate_shape(shape, "bgnbd", 20_000, seed=2)
    fit = btyd.fit_gamma_gamma(d["frequency"], d["monetary_value"])
    _checked(fit)
    _within(fit, HARD_SHAPES[shape]["gamma_gamma"])


def test_a_million_accounts(big):
    x, tx, T = big["frequency"], big["recency"], big["T"]
    fit = btyd.fit_bgnbd(x, tx, T)
    _checked(fit)
    assert fit.n == 1_000_000
    _within(fit, HARD_SHAPES[BIG]["bgnbd"])
    spend = btyd.fit_gamma_gamma(x, big["monetary_value"])
    _checked(spend)
    _within(spend, HARD_SHAPES[BIG]["gamma_gamma"])
    # predictions on every account: finite, no warning (the module runs warnings as errors)
    pa = btyd.bgnbd_p_alive(fit, x, tx, T)
    ey = btyd.bgnbd_conditional_expected_purchases(fit, 52.0, x, tx, T)
    assert np.all((pa >= 0) & (pa <= 1)) and np.all(np.isfinite(ey)) and np.all(ey >= 0)


def test_the_three_se_band_can_fail(big):
    """The recovery check has power: a truth 10 % off in one parameter is rejected."""
    fit = btyd.fit_bgnbd(big["frequency"], big["recency"], big["T"])
    wrong = dict(HARD_SHAPES[BIG]["bgnbd"])
    wrong["a"] *= 1.1
    with pytest.raises(AssertionError):
        _within(fit, wrong)


def test_collapsing_identical_rows_gives_the_same_fit():
    d = simulate_shape("heavy buyers", "bgnbd", 3_000, seed=3)
    rounded = {k: np.round(v) for k, v in d.items() if k != "monetary_value"}
    rounded["recency"] = np.where(rounded["frequency"] > 0, rounded["recency"], 0.0)
    once = btyd.fit_bgnbd(rounded["frequency"], rounded["recency"], rounded["T"])
    twice = btyd.fit_bgnbd(*(np.tile(rounded[k], 2) for k in ("frequency", "recency", "T")))
    assert once.rows < 3_000 and twice.rows == once.rows
    for k in once.params:
        assert twice.params[k] == pytest.approx(once.params[k], rel=1e-5)


def test_pareto_integral_matches_adaptive_quadrature():
    """The Gauss-Legendre integral behind the Pareto/NBD likelihood, against scipy's adaptive
    quad, on cases including one where scipy's hyp2f1 (used by lifetimes) is off by e^30."""
    cases = [
        (1.3181, 1.0393, 5.658, 0.1463, 100.0, 0.2907, 18.9088),  # hyp2f1 fails here
        (0.55, 10.58, 0.61, 11.67, 0.0, 0.0, 38.0),
        (4.0, 2.0, 0.5, 200.0, 900.0, 150.0, 156.0),
        (0.6, 20.0, 0.8, 600.0, 3.0, 10.0, 2500.0),
        (0.2, 0.05, 3.0, 0.1, 40.0, 1.0, 500.0),
    ]
    for r, a, s, b, x, tx, T in cases:
        ours = _pareto_log_a0((r, a, s, b), [x], [tx], [T])[0] - np.log(r + s + x)

        def h(t, r=r, a=a, s=s, b=b, x=x, tx=tx):
            log_h = -(r + x) * np.log(a + t) - (s + 1) * np.log(b + t)
            log_h0 = -(r + x) * np.log(a + tx) - (s + 1) * np.log(b + tx)
            return np.exp(log_h - log_h0)

        ref, _ = quad(h, tx, T, epsabs=0, epsrel=1e-12, limit=500)
        ref = np.log(ref) - (r + x) * np.log(a + tx) - (s + 1) * np.log(b + tx)
        assert ours == pytest.approx(ref, abs=1e-9), (r, a, s, b, x, tx, T)
        p = btyd.pareto_nbd_p_alive((r, a, s, b), [x], [tx], [T])[0]
        assert 0 <= p <= 1


def test_pareto_gradient_matches_finite_differences():
    d = simulate_shape("long T in days", "pareto_nbd", 500, seed=4)
    x, tx, T = d["frequency"], d["recency"], d["T"]
    lv = _levels(x)
    theta = np.array([0.7, 25.0, 0.6, 500.0])
    _, grad = _pareto_score(tuple(theta), x, tx, T, *lv, nodes=64)
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-6 * theta[i]
        up = _pareto_score(tuple(theta + e), x, tx, T, *lv, grad=False, nodes=64)[0]
        down = _pareto_score(tuple(theta - e), x, tx, T, *lv, grad=False, nodes=64)[0]
        np.testing.assert_allclose(grad[i], (up - down) / (2 * e[i]), rtol=1e-4, atol=1e-8)


def test_gamma_gamma_gradient_matches_finite_differences():
    d = simulate_shape("heavy buyers", "bgnbd", 300, seed=5)
    x, m = d["frequency"], d["monetary_value"]
    keep = x > 0
    theta = np.array([5.0, 3.5, 12.0])
    _, grad = _gamma_gamma_score(tuple(theta), x[keep], m[keep])
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1e-4 * theta[i]  # central differences; frequencies in the hundreds make the
        # terms that cancel ~1e4, so rounding costs ~1e-8 here and truncation ~e² less
        up = btyd.gamma_gamma_loglik(theta + e, x[keep], m[keep])
        down = btyd.gamma_gamma_loglik(theta - e, x[keep], m[keep])
        np.testing.assert_allclose(grad[i], (up - down) / (2 * e[i]), rtol=1e-6, atol=1e-7)


def test_too_few_repeat_buyers_is_a_clear_error():
    rng = np.random.default_rng(6)
    T = rng.uniform(10, 40, 2_000)
    x = np.zeros(2_000)
    x[:3] = [1, 1, 2]
    tx = np.where(x > 0, T * 0.5, 0.0)
    for fit in FITS.values():
        with pytest.raises(btyd.FitError, match="repeat purchase"):
            fit(x, tx, T)


def test_unidentified_dropout_is_a_clear_error():
    """Two years of history with almost no dropout (Pareto/NBD s=0.3, beta=400: 7 % gone by
    week 104) do not tell how dropout varies between customers: the likelihood runs along a
    ridge of s/beta. The fit says so instead of returning s and beta as if they were known."""
    rng = np.random.default_rng(1)
    T = rng.uniform(26.0, 104.0, 8_000)
    truth = {"r": 1.0, "alpha": 8.0, "s": 0.3, "beta": 400.0}
    x, tx = btyd.simulate_pareto_nbd(truth, T, rng)
    with pytest.raises(btyd.FitError, match="not identified"):
        btyd.fit_pareto_nbd(x, tx, T)


def test_a_flat_ridge_is_not_returned_as_a_fit():
    """Tiny-dropout BG/NBD, seed 5: the likelihood keeps rising, by less than 0.001, as a and b
    run off together (a=6508, b=1.7M), yet the finite-difference Hessian there looks curved
    and gave a tight interval 82 standard errors from the truth (benchmarks/clv_shapes.py).
    The ridge check walks two standard errors along it and finds no drop."""
    d = simulate_shape("tiny dropout", "bgnbd", 20_000, seed=5)
    with pytest.raises(btyd.FitError, match="flat along a ridge.*both ran large together"):
        btyd.fit_bgnbd(d["frequency"], d["recency"], d["T"])


def test_gamma_gamma_refuses_correlated_spend():
    rng = np.random.default_rng(7)
    x = rng.integers(1, 40, 5_000).astype(float)
    m = 10.0 * x * rng.gamma(20.0, 1 / 20.0, 5_000)  # spend grows with frequency
    with pytest.raises(btyd.FitError, match="correlated"):
        btyd.fit_gamma_gamma(x, m)


def test_fit_errors_are_value_errors():
    assert issubclass(btyd.FitError, ValueError)


def _lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("lifetimes")


@pytest.mark.parametrize("shape", ["heavy buyers", "long T in days"])
def test_bgnbd_agrees_with_lifetimes_where_it_converges(shape):
    lifetimes = _lifetimes()
    d = simulate_shape(shape, "bgnbd", 4_000, seed=8)
    x, tx, T = d["frequency"], d["recency"], d["T"]
    ours = btyd.fit_bgnbd(x, tx, T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = lifetimes.BetaGeoFitter().fit(x, tx, T).params_.to_dict()
        except Exception:  # lifetimes failed: nothing to compare with
            pytest.skip("lifetimes did not converge on this shape")
    ll_ref = btyd.bgnbd_loglik([ref[k] for k in ("r", "alpha", "a", "b")], x, tx, T).sum()
    assert ours.loglik >= ll_ref - 1e-6 * abs(ll_ref)  # ours is at least as good
    if ours.loglik - ll_ref < 1e-3:  # the same optimum: the same parameters
        for k in ours.params:
            assert ours.params[k] == pytest.approx(ref[k], rel=1e-3), k
