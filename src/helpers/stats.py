"""Intervals and tests shared by several topics."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.proportion import proportion_confint


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion successes / trials.

    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), Wilson (1927). Delegates to
    statsmodels' ``proportion_confint(method="wilson")``; rows with no trials give NaN.
    """
    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    if np.any(successes < 0) or np.any(successes > trials):
        raise ValueError("wilson_interval needs 0 <= successes <= trials for every row")
    safe = np.where(trials > 0, trials, 1.0)
    lo, hi = proportion_confint(successes, safe, alpha=1 - confidence, method="wilson")
    empty = trials == 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)
