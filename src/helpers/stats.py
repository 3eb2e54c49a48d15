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


def chi_square_proportions(successes, trials) -> dict:
    """Pearson chi-square test that k groups share one success rate (a k x 2 table).

    chi2 = Σ (observed − expected)² / expected over successes and failures of every group,
    expected = group trials × pooled rate; dof = k − 1 (Pearson 1900). Delegates to
    ``scipy.stats.chi2_contingency`` (no continuity correction). Groups with no trials are
    left out; returns ``{"chi2", "dof", "p_value", "groups"}`` (NaN with fewer than two groups
    or when every group has the same outcome).
    """
    from scipy.stats import chi2_contingency

    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if s.shape != n.shape or np.any(s < 0) or np.any(s > n):
        raise ValueError("chi_square_proportions needs 0 <= successes <= trials, same lengths")
    keep = n > 0
    table = np.column_stack([s[keep], n[keep] - s[keep]])
    groups = int(keep.sum())
    if groups < 2 or np.any(table.sum(axis=0) == 0):
        return {"chi2": float("nan"), "dof": groups - 1, "p_value": float("nan"), "groups": groups}
    res = chi2_contingency(table, correction=False)
    return {"chi2": float(res.statistic), "dof": int(res.dof), "p_value": float(res.pvalue),
            "groups": groups}  # fmt: skip


def pairwise_proportion_tests(successes, trials, labels, method: str = "holm"):
    """Every pair of groups compared with a two-proportion chi-square test (2 x 2 table,
    no continuity correction), p-values adjusted for the number of pairs by ``method``
    (Holm 1979 by default; any ``statsmodels.stats.multitest.multipletests`` method).

    Returns a pandas DataFrame: group_a, group_b, rate_a, rate_b, difference (a − b),
    p_value, p_adjusted, significant (p_adjusted < 0.05). Groups with no trials are left out.
    """
    import itertools

    import pandas as pd
    from scipy.stats import chi2_contingency
    from statsmodels.stats.multitest import multipletests

    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    labels = list(labels)
    if not (len(s) == len(n) == len(labels)):
        raise ValueError("pairwise_proportion_tests needs successes, trials, labels of one length")
    rows = []
    idx = [i for i in range(len(s)) if n[i] > 0]
    for a, b in itertools.combinations(idx, 2):
        table = np.array([[s[a], n[a] - s[a]], [s[b], n[b] - s[b]]])
        if np.any(table.sum(axis=0) == 0):
            p = 1.0
        else:
            p = float(chi2_contingency(table, correction=False).pvalue)
        ra, rb = s[a] / n[a], s[b] / n[b]
        rows.append({"group_a": labels[a], "group_b": labels[b], "rate_a": ra, "rate_b": rb,
                     "difference": ra - rb, "p_value": p})  # fmt: skip
    out = pd.DataFrame(rows, columns=["group_a", "group_b", "rate_a", "rate_b", "difference",
                                      "p_value"])  # fmt: skip
    if len(out):
        reject, adj, _, _ = multipletests(out.p_value, alpha=0.05, method=method)
        out["p_adjusted"], out["significant"] = adj, reject
    else:
        out["p_adjusted"], out["significant"] = [], []
    return out
