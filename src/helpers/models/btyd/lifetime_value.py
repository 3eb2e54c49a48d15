"""Customer lifetime value from a fitted purchase model and the Gamma-Gamma spend model: the
discounted sum of expected purchases times expected spend, and its interval from the fits'
parameter uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from helpers.models.btyd.bgnbd import bgnbd_conditional_expected_purchases
from helpers.models.btyd.fit import FitResult
from helpers.models.btyd.gamma_gamma import gamma_gamma_expected_spend
from helpers.models.btyd.pareto_nbd import pareto_nbd_conditional_expected_purchases

__all__ = ["discounted_clv", "clv_interval"]


def discounted_clv(
    expected_purchases: Callable[[np.ndarray], np.ndarray],
    value_per_purchase,
    horizon: float,
    step: float,
    rate_per_step: float,
) -> np.ndarray:
    """Discounted expected value over the next ``horizon`` time units, in steps of ``step``:

    CLV = Σ_{k=1..K} v · (E[Y(k·step)] − E[Y((k−1)·step)]) / (1 + d)^k,  K = ceil(horizon/step),

    with ``expected_purchases(t)`` the customer's E[Y(t)] (an array over customers), v the
    expected value (margin) per purchase and d the discount rate per step; the same sum as
    lifetimes' ``customer_lifetime_value``.
    """
    if horizon <= 0 or step <= 0:
        raise ValueError("horizon and step must be > 0")
    if rate_per_step <= -1:
        raise ValueError("the discount rate must be > -100%")
    k_max = int(np.ceil(horizon / step - 1e-9))
    total, before = 0.0, 0.0
    for k in range(1, k_max + 1):  # a loop over periods, never over customers
        now = expected_purchases(min(k * step, horizon))
        total = total + (now - before) / (1 + rate_per_step) ** k
        before = now
    return np.asarray(value_per_purchase, float) * total


def clv_interval(
    fit_purchases: FitResult,
    fit_spend: FitResult,
    frequency,
    recency,
    T,
    monetary_value,
    *,
    margin: float,
    horizon: float,
    step: float,
    rate_per_step: float,
    n_draws: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point CLV and a ``level`` interval per customer, from the fits' covariances.

    Draws ``n_draws`` parameter vectors of each model from the asymptotic normal of its
    log-parameters and recomputes the discounted CLV (``discounted_clv`` with the BG/NBD or
    Pareto/NBD conditional expectation × margin × Gamma-Gamma expected spend); the interval is
    the draws' percentiles. It reflects parameter uncertainty, not the customer's own
    Poisson noise. Returns (clv, low, high).
    """
    cond = {
        "bgnbd": bgnbd_conditional_expected_purchases,
        "pareto_nbd": pareto_nbd_conditional_expected_purchases,
    }[fit_purchases.model]
    x, tx, T_ = (np.asarray(v, float) for v in (frequency, recency, T))

    def one(pp, sp):
        spend = gamma_gamma_expected_spend(sp, x, monetary_value) * margin
        return discounted_clv(lambda t: cond(pp, t, x, tx, T_), spend, horizon, step, rate_per_step)

    point = one(fit_purchases.params, fit_spend.params)
    dp, ds = fit_purchases.draws(n_draws, seed), fit_spend.draws(n_draws, seed + 1)
    ok_spend = ds[:, 1] > 1
    sims = np.array([one(p, s) for p, s in zip(dp[ok_spend], ds[ok_spend], strict=True)])
    tail = (1 - level) / 2
    lo, hi = np.quantile(sims, [tail, 1 - tail], axis=0)
    return point, lo, hi
