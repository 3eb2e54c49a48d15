"""Intervals and tests shared by several topics: Wilson, chi-square, pairwise tests, the odds
ratio and Benjamini-Hochberg."""

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


def benjamini_hochberg(p_values, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg (1995) false-discovery-rate control over m tests.

    Sort the p-values, p_(1) <= ... <= p_(m); the adjusted value ("q-value") is
    q_(i) = min over j >= i of p_(j) · m / j (capped at 1), and a test is a discovery when
    q <= ``alpha``: the expected share of false discoveries among the discoveries is at most
    ``alpha`` (independent or positively dependent tests). Delegates to statsmodels'
    ``multipletests(method="fdr_bh")``. NaN p-values (tests that could not be run) are left out
    of m and come back with q = NaN and not rejected. Returns (reject, q) as arrays.
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("benjamini_hochberg needs p-values between 0 and 1")
    reject = np.zeros(p.shape, dtype=bool)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        reject[ok], q[ok], _, _ = multipletests(p[ok], alpha=alpha, method="fdr_bh")
    return reject, q


def odds_ratio(a, b, c, d, confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Odds ratio of a 2 x 2 table with its Woolf (1955) interval and Wald p-value, per row.

    a = in the group and converted, b = in the group and not, c = outside it and converted,
    d = outside it and not. OR = (a·d) / (b·c); ln OR has standard error
    sqrt(1/a + 1/b + 1/c + 1/d); interval exp(ln OR ± z·se); p-value of OR = 1 from
    z = ln OR / se (two-sided), so interval and p-value always agree. A row with a zero cell
    gets 0.5 added to each of its four cells (Haldane-Anscombe), so it has a finite OR.
    Vectorised by hand (numpy) because statsmodels' ``Table2x2`` (the same formulas, tested
    to agree) takes one table at a time and a funnel's drivers test hundreds. Returns
    ``{"odds_ratio", "ci_low", "ci_high", "p_value"}`` as arrays.
    """
    from scipy.stats import norm

    cells = [np.asarray(x, dtype=float) for x in (a, b, c, d)]
    if any(np.any(x < 0) for x in cells):
        raise ValueError("odds_ratio needs counts that are 0 or more")
    zero = np.zeros(np.broadcast(*cells).shape, dtype=bool)
    for x in cells:
        zero |= x == 0
    a, b, c, d = (np.where(zero, x + 0.5, x) for x in cells)
    log_or = np.log(a) + np.log(d) - np.log(b) - np.log(c)
    se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    z = norm.ppf(0.5 + confidence / 2)
    return {
        "odds_ratio": np.exp(log_or),
        "ci_low": np.exp(log_or - z * se),
        "ci_high": np.exp(log_or + z * se),
        "p_value": 2 * norm.sf(np.abs(log_or / se)),
    }
