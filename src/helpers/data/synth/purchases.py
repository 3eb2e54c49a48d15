"""The purchase process: BG/NBD order timing and the Gamma-Gamma order-value prior.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2)). Time unit: weeks. ``lambda_i ~ Gamma(shape r, rate
alpha)``, ``p_i ~ Beta(a, b)``. The first order is placed on the signup day; while active,
repeat orders arrive as a Poisson process of rate ``lambda_i``; after each *repeat* order the
account drops out with probability ``p_i``. Only the time of day is redrawn (business hours).

Why the generator has its own simulator and expected-repeats formula instead of calling
:mod:`helpers.models.btyd`: the sample data are the reference the BTYD fits are tested against
(the tests check that ``fit_bgnbd`` recovers :data:`BGNBD` from the generated orders). A bug
shared by the simulator and the model would then pass unseen, so the data side is written
independently of the code it tests. The expected-repeats formula is the same mathematics in
both places; it uses the same numerically stable (Euler-transformed) hypergeometric form, and
a test checks it against the textbook form on ordinary parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import hyp2f1

from helpers.data.synth.common import (
    ORDER_HOURS,
    US_DAY,
    US_WEEK,
    Calendar,
    _rank_within,
    _time_of_day,
)

BGNBD = {"r": 0.85, "alpha": 2.4, "a": 1.2, "b": 14.0}
GAMMA_GAMMA = {"p": 2.5, "q": 3.5, "gamma": 3000.0}


def simulate_bgnbd(
    rng: np.random.Generator, lam: np.ndarray, p: np.ndarray, t_weeks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Repeat purchases of the BG/NBD model (Fader, Hardie & Lee 2005).

    For account i observed for ``T_i`` weeks after its first purchase: the underlying Poisson
    process has ``K_i ~ Poisson(lambda_i T_i)`` events at uniform times in ``(0, T_i)``; the
    account drops out right after its ``J_i ~ Geometric(p_i)``-th repeat purchase, so it makes
    ``min(K_i, J_i)`` repeat purchases and is alive at ``T_i`` iff ``J_i > K_i``.

    Returns (owner index per repeat purchase, time in weeks after the first purchase, repeat
    count per account, alive flag per account), purchases sorted by owner then time.
    """
    k = rng.poisson(lam * t_weeks)
    j = rng.geometric(p)
    n_rep = np.minimum(k, j)
    owner = np.repeat(np.arange(len(lam)), k)
    u = rng.random(owner.size) * t_weeks[owner]
    order = np.lexsort((u, owner))
    owner, u = owner[order], u[order]
    keep = _rank_within(owner) < n_rep[owner]
    return owner[keep], u[keep], n_rep, j > k


@dataclass
class OrderBook:
    """All orders (not lines): owner index, timestamp, order id; sorted by owner then time."""

    owner: np.ndarray
    ts: np.ndarray
    order_id: np.ndarray
    starts: np.ndarray  # first row per account


def simulate_order_book(
    rng: np.random.Generator,
    cal: Calendar,
    first_us: np.ndarray,
    lam: np.ndarray,
    p: np.ndarray,
) -> tuple[OrderBook, np.ndarray, np.ndarray]:
    """Every account's orders: the first at ``first_us``, the repeats from
    :func:`simulate_bgnbd` over the weeks to the end of the window, each on its BG/NBD day at
    a business-hours time. Order ids follow time (1,000,001 up). Returns the book, the order
    count per account and the alive-at-end flag."""
    n = len(first_us)
    t_weeks = (cal.end_us - first_us) / US_WEEK
    owner, u, n_rep, alive = simulate_bgnbd(rng, lam, p, t_weeks)
    rep_day_us = (first_us[owner] + (u * US_WEEK).astype(np.int64)) // US_DAY * US_DAY
    rep_ts = rep_day_us + _time_of_day(rng, len(owner), ORDER_HOURS)
    all_owner = np.concatenate([np.arange(n), owner])
    all_ts = np.concatenate([first_us, rep_ts])
    srt = np.lexsort((all_ts, all_owner))
    all_owner, all_ts = all_owner[srt], all_ts[srt]
    time_rank = np.empty(len(all_ts), dtype=np.int64)
    time_rank[np.lexsort((all_owner, all_ts))] = np.arange(len(all_ts))
    order_id = 1_000_001 + time_rank
    n_orders = 1 + n_rep
    starts = np.concatenate([[0], np.cumsum(n_orders)[:-1]])
    book = OrderBook(owner=all_owner, ts=all_ts, order_id=order_id, starts=starts)
    return book, n_orders, alive


def lambda_quantiles() -> tuple[float, float]:
    """The median and 75th percentile of lambda ~ Gamma(r, rate alpha)."""
    g = stats.gamma(BGNBD["r"], scale=1 / BGNBD["alpha"])
    return float(g.ppf(0.5)), float(g.ppf(0.75))


def bgnbd_expected_repeats(t_weeks: np.ndarray, r: float, alpha: float, a: float, b: float):
    """E[X(t)], expected repeat purchases in (0, t] (Fader, Hardie & Lee 2005, eq. 9):
    ``(a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; z)]``, z = t/(alpha+t).

    Computed in the Euler-transformed form ``(1-z)^r 2F1(r, b; c; z) = (1-z)^(a-1)
    2F1(c-r, a-1; c; z)``, c = a+b-1, which stays finite as z -> 1 (the direct form is
    inf * 0 there), as :func:`helpers.models.btyd.bgnbd_expected_purchases` does."""
    t = np.asarray(t_weeks, dtype=np.float64)
    z = t / (alpha + t)
    c = a + b - 1
    with np.errstate(divide="ignore"):  # z = 1 (t >> alpha): log 0 = -inf, (1-z)^(a-1) = 0
        body = 1 - np.exp((a - 1) * np.log1p(-z)) * hyp2f1(c - r, a - 1, c, z)
    return c / (a - 1) * body


def purchase_truth(n_orders: np.ndarray, first_order_us: np.ndarray, cal: Calendar) -> dict:
    """The BG/NBD parameters, the realised and the expected orders per account."""
    t_weeks = (cal.end_us - first_order_us) / US_WEEK
    expected = 1 + bgnbd_expected_repeats(t_weeks, **BGNBD)
    return {
        "model": "BG/NBD",
        "reference": "Fader, Hardie & Lee (2005), Marketing Science 24(2), 275-284",
        "time_unit": "weeks",
        **BGNBD,
        "lambda": "Gamma(shape r, rate alpha), purchases per week while active",
        "p": "Beta(a, b), drop-out probability after each repeat purchase",
        "first_order": "every account places its first order on its signup day",
        "time_of_day": "redrawn in business hours; the day is the BG/NBD draw",
        "mean_orders_per_account": float(n_orders.mean()),
        "expected_orders_per_account": float(expected.mean()),
        "expected_orders_formula": "1 + E[X(T_i)] (FHL 2005 eq. 9), T_i = weeks from the "
        "first order to the end of end_date",
    }
