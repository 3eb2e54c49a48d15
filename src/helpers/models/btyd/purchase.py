"""What the two purchase models (BG/NBD and Pareto/NBD) share before and after a fit: starting
values for the purchase rate, the minimum of repeat buyers, and the wording of a failed fit
(what failed, the data's shape, what to do).
"""

from __future__ import annotations

import numpy as np

from helpers.models.btyd.fit import FitError


def _rate_start(x: np.ndarray, T: np.ndarray) -> tuple[float, float]:
    """Gamma(r, α) moments of the purchase rate x/T: mean m = r/α; the between-customer
    variance v is var(x/T) less the Poisson part mean(m/T); r = m²/v, α = m/v."""
    seen = T > 0
    rate, T = x[seen] / T[seen], T[seen]
    m = max(rate.mean(), 1e-6)
    v = max(rate.var() - np.mean(m / T), 0.1 * m**2)
    return m * m / v, m / v


def _needs_repeaters(x: np.ndarray, who: str) -> None:
    if x.size < 3:
        raise FitError(f"{who}: need at least 3 customers to fit, got {x.size}")
    if not np.any(x > 0):
        raise FitError(
            f"{who}: no customer made a repeat purchase; the data cannot support a fit "
            "(check that frequency counts repeat purchases, or use a longer history)"
        )
    if np.count_nonzero(x > 0) < 2:
        raise FitError(f"{who}: only one customer made a repeat purchase; too few to fit")


def _purchase_diagnosis(who: str, x: np.ndarray, tx: np.ndarray, T: np.ndarray):
    """The FitError message of a purchase model: what failed, the data's shape, what to do."""
    rep = int(np.count_nonzero(x > 0))
    share = rep / x.size

    def message(problem: str, values: dict | None = None) -> str:
        at = ""
        if values:
            at = " (stopped at " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()) + ")"
        hints = []
        if rep < 100 or share < 0.02:
            hints.append(
                f"only {rep:,} of {x.size:,} customers ({share:.1%}) made a repeat purchase: "
                "too few repeat buyers to estimate the purchase and dropout rates; use a longer "
                "calibration period or more customers"
            )
        recent = np.mean((T - tx)[x > 0] <= 0.05 * T[x > 0]) if rep else 0.0
        if recent > 0.9:
            hints.append(
                f"{recent:.0%} of the repeat buyers bought near the end of the period: the data "
                "show no sign of dropout, so the dropout parameters cannot be estimated; use "
                "the Pareto/NBD or a plain purchase-rate model, or a longer history"
            )
        v = values or {}
        pair = ("a", "b") if "a" in v else ("s", "beta")
        if all(v.get(k, 0) > 100 for k in pair):
            hints.append(
                f"{pair[0]} and {pair[1]} both ran large together: dropout looks the same for "
                "every customer, so how it varies between customers cannot be estimated; a "
                "longer history, or a model with one dropout rate for all, is what these data "
                "support"
            )
        if not hints:
            hints.append(
                "check the time unit (recency and T in one unit, the rates are per that unit) "
                "and that frequency counts repeat purchases only; a coarser time unit helps "
                "when T spans thousands of units"
            )
        return f"{who} did not converge: {problem}{at}. " + "; ".join(hints) + "."

    return message
