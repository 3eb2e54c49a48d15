"""Gamma-Gamma model of spend per purchase: Fader, Hardie & Lee (2005), "RFM and CLV: using
iso-value curves for customer base analysis", JMR 42(4), 415-430; Fader & Hardie (2013) note
"The Gamma-Gamma model of monetary value", eq. 1-5.

Each spend ~ Gamma(p, rate ν), ν ~ Gamma(q, rate γ) across customers; fitted on the customers
with a repeat purchase, from their frequency x and mean repeat spend m.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from helpers.models.btyd.fit import FitError, FitResult, _as_array, _collapse, _fit, _p, _rng

__all__ = [
    "gamma_gamma_loglik",
    "fit_gamma_gamma",
    "simulate_gamma_gamma",
    "gamma_gamma_mean_spend",
    "gamma_gamma_expected_spend",
    "MAX_SPEND_CORRELATION",
]

MAX_SPEND_CORRELATION = 0.5  # |corr(x, m)| above which Gamma-Gamma is refused


def gamma_gamma_loglik(params, x, m) -> np.ndarray:
    """Gamma-Gamma log-likelihood of a customer's mean repeat value m over x > 0 purchases
    (Fader & Hardie 2013 note, eq. 3, without the terms free of the parameters):

    log L = log Γ(px+q) - log Γ(px) - log Γ(q) + q log γ + (px-1) log m + px log x
            - (px+q) log(γ + m x)
    """
    x, m = np.asarray(x, float), np.asarray(m, float)
    return _gamma_gamma_score(tuple(params), x, m, grad=False)[0]


def _gamma_gamma_score(params, x, m, grad=True):
    """Gamma-Gamma log-likelihood per row and its derivatives:
    d/dp = x [ψ(px+q) − ψ(px) + log m + log x − log(γ+mx)];
    d/dq = ψ(px+q) − ψ(q) + log γ − log(γ+mx);  d/dγ = q/γ − (px+q)/(γ+mx)."""
    p, q, gamma = params
    px = p * x
    lm, lx, lg = np.log(m), np.log(x), np.log(gamma + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * lm
        + px * lx
        - (px + q) * lg
    )
    if not grad:
        return ll, None
    dpq = digamma(px + q)
    d_p = x * (dpq - digamma(px) + lm + lx - lg)
    d_q = dpq - digamma(q) + np.log(gamma) - lg
    d_g = q / gamma - (px + q) / (gamma + m * x)
    return ll, np.vstack([d_p, d_q, d_g])


def fit_gamma_gamma(frequency, monetary_value) -> FitResult:
    """Fit the Gamma-Gamma spend model (FHL 2005 JMR) on customers with frequency > 0:
    params ``p, q, gamma``. Customers with no repeat purchase carry no spend information and
    are left out (as in the paper); identical (x, m) rows are collapsed into one weighted row.
    Needs monetary values > 0.

    The model assumes a customer's spend per purchase is independent of how often they buy: a
    Pearson correlation between x and m above 0.5 in absolute value (significant at 1 %)
    raises :class:`FitError`, as does a fit with q <= 1 (infinite mean spend).

    Starting values from moments of the mean spends m: across customers E[m] = pγ/(q-1) and
    CV² of the customer means ≈ 1/(q-2), so q0 = 2 + mean²/var, p0 = 2, γ0 = mean (q0-1)/p0.
    """
    x = _as_array("frequency", frequency)
    m = _as_array("monetary_value", monetary_value)
    if len(x) != len(m):
        raise ValueError("frequency and monetary_value must have the same length")
    keep = x > 0
    x, m = x[keep], m[keep]
    if x.size < 3:
        raise FitError(
            f"fit_gamma_gamma: need at least 3 customers with a repeat purchase, got {x.size}"
        )
    if np.any(m <= 0):
        raise ValueError("fit_gamma_gamma: monetary_value must be > 0 where frequency > 0")
    if np.ptp(m) == 0:
        raise FitError("fit_gamma_gamma: every customer has the same mean spend; cannot fit")
    corr = 0.0
    if np.ptp(x) > 0:
        corr = float(np.corrcoef(x, m)[0, 1])
        z = np.arctanh(min(abs(corr), 0.999999)) * np.sqrt(max(x.size - 3, 1))
        if abs(corr) > MAX_SPEND_CORRELATION and z > 2.576:
            raise FitError(
                f"fit_gamma_gamma: frequency and mean spend are correlated (Pearson "
                f"{corr:+.2f} over {x.size:,} repeat buyers); the Gamma-Gamma model assumes "
                "they are independent, so its spend predictions would be biased. Fit it "
                "within groups where the correlation is weak (e.g. by segment or frequency "
                "band), or use each customer's own mean spend."
            )
    (ux, um), w = _collapse(x, m)
    mean, var = m.mean(), m.var()
    q0 = float(np.clip(2 + mean**2 / var, 2.1, 50))
    p0 = 2.0
    g0 = mean * (q0 - 1) / p0

    def diagnose(problem: str, values: dict | None = None) -> str:
        at = ""
        if values:
            at = " (stopped at " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()) + ")"
        return (
            f"fit_gamma_gamma did not converge: {problem}{at}. {x.size:,} repeat buyers, "
            f"frequency-spend correlation {corr:+.2f}; check for extreme or zero spends and "
            "that monetary_value is the mean of the repeat purchases."
        )

    fit = _fit(
        "gamma_gamma",
        ["p", "q", "gamma"],
        _gamma_gamma_score,
        (ux, um),
        w,
        [p0, q0, g0],
        diagnose,
    )
    if fit.params["q"] <= 1:
        raise FitError(
            f"fit_gamma_gamma: q = {fit.params['q']:.3g} <= 1, so the expected spend per "
            "purchase is infinite under the fitted model (a very heavy tail of mean spends): "
            "cap extreme spends or fit spend by segment."
        )
    return fit


def simulate_gamma_gamma(params, frequency, seed=0) -> np.ndarray:
    """Draw the mean repeat spend of customers with ``frequency`` repeat purchases under
    Gamma-Gamma ``params``: ν ~ Gamma(q, rate γ), each spend ~ Gamma(p, rate ν), so the sum of
    x spends is Gamma(p x, rate ν) and m = sum / x (0 where x = 0)."""
    p, q, gamma = _p(params, ["p", "q", "gamma"])
    rng = _rng(seed)
    x = np.asarray(frequency, float)
    nu = rng.gamma(q, 1.0 / gamma, x.shape)
    total = rng.gamma(np.maximum(p * x, 1e-12), 1.0, x.shape) / nu
    return np.where(x > 0, total / np.maximum(x, 1), 0.0)


def gamma_gamma_mean_spend(params) -> float:
    """E[Z] = p γ / (q - 1), the population mean spend per purchase (needs q > 1)."""
    p, q, gamma = _p(params, ["p", "q", "gamma"])
    if q <= 1:
        raise ValueError(f"Gamma-Gamma mean spend needs q > 1, got q={q:.3g}")
    return p * gamma / (q - 1)


def gamma_gamma_expected_spend(params, frequency, monetary_value) -> np.ndarray:
    """E[Z | x, m] = (γ + m x) p / (p x + q - 1) (F&H 2013 eq. 5): a weighted average of the
    population mean pγ/(q-1) and the customer's mean m. For x = 0 it is the population mean."""
    p, q, gamma = _p(params, ["p", "q", "gamma"])
    if q <= 1:
        raise ValueError(f"Gamma-Gamma expected spend needs q > 1, got q={q:.3g}")
    x = np.asarray(frequency, float)
    m = np.where(x > 0, np.asarray(monetary_value, float), 0.0)
    return (gamma + m * x) * p / (p * x + q - 1)
