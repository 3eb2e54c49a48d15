"""BG/NBD (beta-geometric / negative binomial): Fader, Hardie & Lee (2005), "Counting your
customers the easy way: an alternative to the Pareto/NBD model", Marketing Science 24(2),
275-284, eq. 6 (likelihood), 9-10 (expected purchases), and Fader, Hardie & Lee (2008) note
"Computing P(alive) using the BG/NBD model".

λ ~ Gamma(shape r, rate α) purchases per time unit while alive; after each repeat purchase the
customer drops out with probability p ~ Beta(a, b). The likelihood, fit, simulator and
predictions of the model; the fitting itself is :mod:`helpers.models.btyd.fit`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from helpers.models.btyd.fit import FitResult, _check_rft, _collapse, _fit, _levels, _p, _rng
from helpers.models.btyd.purchase import _needs_repeaters, _purchase_diagnosis, _rate_start

__all__ = [
    "bgnbd_loglik",
    "fit_bgnbd",
    "simulate_bgnbd",
    "bgnbd_expected_purchases",
    "bgnbd_p_alive",
    "bgnbd_conditional_expected_purchases",
]


def bgnbd_loglik(params, x, tx, T) -> np.ndarray:
    """BG/NBD log-likelihood per customer (FHL 2005, eq. 6).

    L = B(a, b+x)/B(a, b) * Γ(r+x) α^r / Γ(r) *
        [ (α+T)^-(r+x) + 1{x>0} a/(b+x-1) (α+t_x)^-(r+x) ]
    """
    x, tx, T = np.asarray(x, float), np.asarray(tx, float), np.asarray(T, float)
    return _bgnbd_score(tuple(params), x, tx, T, *_levels(x), grad=False)[0]


def _bgnbd_score(params, x, tx, T, levels, index, grad=True):
    """BG/NBD log-likelihood per row and its derivatives in (r, α, a, b), from eq. 6:
    with L = log(e^A3 + e^A4), w3 = e^(A3-L), w4 = e^(A4-L),
    d/dr = ψ(r+x) − ψ(r) + log α − w3 log(α+T) − w4 log(α+t_x);
    d/dα = r/α − (r+x) (w3/(α+T) + w4/(α+t_x));
    d/da = ψ(a+b) − ψ(a+b+x) + w4/a;  d/db = ψ(b+x) − ψ(b) + ψ(a+b) − ψ(a+b+x) − w4/(b+x−1)."""
    r, alpha, a, b = params
    pos = levels > 0
    bx1 = np.where(pos, b + levels - 1, 1.0)
    per_x = gammaln(r + levels) - gammaln(r) + betaln(a, b + levels) - betaln(a, b)
    # x = 0 has no A4 term: log a/(b+x-1) = -inf there, and e^-inf = 0 (no log(0) is taken)
    log_death = np.full(len(levels), -np.inf)
    log_death[pos] = np.log(a) - np.log(bx1[pos])
    la_t, la_tx = np.log(alpha + T), np.log(alpha + tx)
    rx = r + x
    a3 = -rx * la_t
    a4 = log_death[index] - rx * la_tx
    top = np.maximum(a3, a4)
    lse = top + np.log1p(np.exp(-np.abs(a3 - a4)))  # log(e^A3 + e^A4), without overflow
    ll = per_x[index] + r * np.log(alpha) + lse
    if not grad:
        return ll, None
    w4 = np.exp(a4 - lse)
    w3 = 1.0 - w4
    d_r = (digamma(r + levels) - digamma(r))[index] + np.log(alpha) - w3 * la_t - w4 * la_tx
    d_alpha = r / alpha - rx * (w3 / (alpha + T) + w4 / (alpha + tx))
    dab = digamma(a + b) - digamma(a + b + levels)
    d_a = dab[index] + w4 / a
    d_b = (digamma(b + levels) - digamma(b) + dab)[index] - w4 / bx1[index]
    return ll, np.vstack([d_r, d_alpha, d_a, d_b])


def fit_bgnbd(frequency, recency, T) -> FitResult:
    """Fit the BG/NBD model (FHL 2005) by maximum likelihood: params ``r, alpha, a, b``.

    λ ~ Gamma(shape r, rate α) purchases per time unit while alive; after each repeat purchase
    the customer drops out with probability p ~ Beta(a, b). Identical (x, t_x, T) rows are
    collapsed into one weighted row before fitting. Starting values: r, α from the moments of
    x/T; a = 1 and b from the share of repeat buyers whose last purchase is in the first half
    of their window (a rough dropout probability). Raises :class:`FitError` when the check
    fails (see :mod:`helpers.models.btyd.fit`).
    """
    x, tx, t = _check_rft(frequency, recency, T)
    _needs_repeaters(x, "fit_bgnbd")
    (ux, utx, ut), w = _collapse(x, tx, t)
    r0, a0 = _rate_start(x, t)
    rep = x > 0
    gone = float(np.clip(np.mean(tx[rep] < 0.5 * t[rep]), 0.05, 0.9))
    p0 = float(np.clip(gone / max(np.mean(x[rep]), 1.0), 0.01, 0.5))
    return _fit(
        "bgnbd",
        ["r", "alpha", "a", "b"],
        _bgnbd_score,
        (ux, utx, ut, *_levels(ux)),
        w,
        [r0, a0, 1.0, (1 - p0) / p0],
        _purchase_diagnosis("fit_bgnbd", x, tx, t),
    )


def simulate_bgnbd(params, T, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Draw (frequency, recency) for customers observed for ``T`` under BG/NBD ``params``.

    Vectorised: λ ~ Gamma(r, rate α), p ~ Beta(a, b); K ~ Poisson(λT) purchases would happen in
    (0, T]; the customer drops out right after repeat purchase N ~ Geometric(p), so
    x = min(K, N); given K, the purchase times are K uniform order statistics, so the x-th is
    t_x = T · Beta(x, K − x + 1).
    """
    r, alpha, a, b = _p(params, ["r", "alpha", "a", "b"])
    rng = _rng(seed)
    T = np.asarray(T, float)
    lam = rng.gamma(r, 1.0 / alpha, T.shape)
    p = rng.beta(a, b, T.shape)
    k = rng.poisson(lam * T)
    dies = rng.geometric(np.clip(p, 1e-12, 1.0))
    x = np.minimum(k, dies)
    u = rng.beta(np.maximum(x, 1), np.maximum(k - x + 1, 1))
    return x.astype(float), np.where(x > 0, T * u, 0.0)


def bgnbd_expected_purchases(params, t) -> np.ndarray:
    """E[X(t)] for a new customer (FHL 2005 eq. 9):
    (a+b-1)/(a-1) [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))]."""
    r, alpha, a, b = _p(params, ["r", "alpha", "a", "b"])
    t = np.asarray(t, float)
    z = t / (alpha + t)
    # Euler: (1-z)^r 2F1(r, b; c; z) = (1-z)^(a-1) 2F1(c-r, a-1; c; z), c = a+b-1, which
    # stays finite as z -> 1 (the left side is inf * 0 there)
    c = a + b - 1
    body = 1 - np.exp((a - 1) * np.log1p(-z)) * hyp2f1(c - r, a - 1, c, z)
    return c / (a - 1) * body


def bgnbd_p_alive(params, frequency, recency, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x)) (FHL 2008)."""
    r, alpha, a, b = _p(params, ["r", "alpha", "a", "b"])
    x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
    pos = x > 0
    log_ratio = (
        np.log(a)
        - np.log(np.where(pos, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
    )
    # 1 / (1 + e^l) as a logistic of -l: no overflow when l is large
    return np.where(pos, expit(-log_ratio), 1.0)


def bgnbd_conditional_expected_purchases(params, t, frequency, recency, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T], the expected purchases in the next t (FHL 2005 eq. 10):

    (a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))] /
    (1 + 1{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x))
    """
    r, alpha, a, b = _p(params, ["r", "alpha", "a", "b"])
    x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
    t = np.asarray(t, float)
    z = t / (alpha + T + t)
    c = a + b + x - 1
    # Euler transform as in bgnbd_expected_purchases: ((α+T)/(α+T+t))^(r+x) = (1-z)^(r+x), and
    # (1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z): no overflow for
    # frequencies in the hundreds
    body = 1 - np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, c, z)
    return c / (a - 1) * body * bgnbd_p_alive((r, alpha, a, b), x, tx, T)
