"""Experiment statistics with no data access: sample-ratio check, CUPED, confidence sequences.

- :func:`intended_shares` and :func:`sample_ratio_test`: did the sends split the way the plan
  said (a sample-ratio mismatch, SRM, means the assignment or the logging is broken, so the
  lift cannot be trusted)? Pearson's chi-square goodness of fit (``scipy.stats.chisquare``).
- :func:`cuped`: a difference in means with pre-period covariates (Deng, Xu, Kohavi & Walker
  2013, "Improving the sensitivity of online controlled experiments by utilizing pre-experiment
  data", WSDM), the variance reduction GrowthBook, Statsig and Eppo apply by default.
- :func:`confidence_sequence`: the always-valid interval GrowthBook's sequential mode shows
  (Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas 2023, "Time-uniform central limit theory and
  asymptotic confidence sequences"), valid however often the result is looked at.

numpy/scipy in, floats and dicts out. Hand-written where a line of algebra is the whole method
(statsmodels has an OLS but no CUPED estimator or asymptotic confidence sequence; the
``confseq`` package implements the latter in C++ and is not worth a compiled dependency).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "SRM_ALPHA",
    "confidence_sequence",
    "cs_rho",
    "cuped",
    "intended_shares",
    "sample_ratio_test",
]

#: p-value below which a split counts as a sample-ratio mismatch (GrowthBook's and Statsig's
#: default: strict, because the check runs on every experiment and a false alarm is costly).
SRM_ALPHA = 0.001


def intended_shares(groups: Sequence[str], split: Mapping[str, float] | None = None) -> dict:
    """The planned share of each of ``groups``: equal with ``split`` None; otherwise the shares
    ``split`` names (e.g. ``{"control": 0.2}``), the rest divided equally among the groups it
    does not name. Shares must be in (0, 1) and, with every group named, add up to 1."""
    groups = list(dict.fromkeys(groups))
    if not groups:
        raise ValueError("intended_shares: no group")
    split = dict(split or {})
    named = {g: float(split[g]) for g in groups if g in split}
    if any(not 0 < v < 1 for v in named.values()):
        raise ValueError(f"split shares must lie in (0, 1), got {named}")
    rest = [g for g in groups if g not in named]
    left = 1.0 - sum(named.values())
    if rest and left <= 0 or not rest and abs(left) > 1e-9:
        raise ValueError(f"split {named} leaves {left:.3f} for the groups {rest}")
    return named | {g: left / len(rest) for g in rest}


def sample_ratio_test(counts: Mapping[str, int], shares: Mapping[str, float] | None = None):
    """Chi-square test of the observed split ``counts`` (group -> units) against ``shares``
    (group -> planned share, :func:`intended_shares`; None: equal).

    X² = Σ_g (n_g − N·s_g)² / (N·s_g), N = Σ n_g, df = groups − 1, p = P(χ²_df ≥ X²)
    (``scipy.stats.chisquare``). Returns chi2, df, p_value, mismatch (p < :data:`SRM_ALPHA`)
    and expected (group -> N·s_g). One group, or no unit: p_value NaN, mismatch False."""
    from scipy import stats

    groups = list(counts)
    s = intended_shares(groups, shares)
    n = np.array([counts[g] for g in groups], dtype=float)
    total = n.sum()
    expected = {g: float(total * s[g]) for g in groups}
    if len(groups) < 2 or total <= 0:
        return {"chi2": np.nan, "df": 0, "p_value": np.nan, "mismatch": False, "expected": expected}
    chi2, p = stats.chisquare(n, f_exp=[expected[g] for g in groups])
    p = float(p)
    return {
        "chi2": float(chi2),
        "df": len(groups) - 1,
        "p_value": p,
        "mismatch": bool(p < SRM_ALPHA),
        "expected": expected,
    }


def _as_matrix(x, n: int) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    x = x.reshape(n, -1) if x.ndim == 1 else x
    if x.shape[0] != n:
        raise ValueError(f"cuped: covariates have {x.shape[0]} rows for {n} outcomes")
    return x


def cuped(y_t, x_t, y_c, x_c, alpha: float = 0.05) -> dict:
    """Difference in means of ``y`` (treatment − control) adjusted with pre-period ``x``.

    θ = the pooled least-squares slope of y on x (one column or several: revenue and orders
    before the send), y* = y − (x − x̄)·θ with x̄ the pooled mean, so E[y*] = E[y] in each
    group and, with random assignment, the adjusted difference is unbiased:

        Δ* = ȳ*_t − ȳ*_c,  se* = √(s²*_t / n_t + s²*_c / n_c),  Δ* ± z_{1−α/2} · se*

    beside the plain Δ = ȳ_t − ȳ_c with se = √(s²_t / n_t + s²_c / n_c) (Welch's normal
    interval). variance_reduction = 1 − se*² / se² (≈ R² of y on x; 0 when x says nothing).
    θ is estimated on the same data (Deng et al. 2013 §3.3: the bias is O(1/n)). A covariate
    with no spread gives θ = 0 for it. Returns diff, se, lo, hi, diff_adjusted, se_adjusted,
    lo_adjusted, hi_adjusted, theta (list), variance_reduction, n_t, n_c.
    """
    from scipy import stats

    y_t, y_c = np.asarray(y_t, dtype=float), np.asarray(y_c, dtype=float)
    n_t, n_c = len(y_t), len(y_c)
    if n_t < 2 or n_c < 2:
        raise ValueError(f"cuped: each group needs at least 2 units (got {n_t} and {n_c})")
    x_t, x_c = _as_matrix(x_t, n_t), _as_matrix(x_c, n_c)
    y, x = np.r_[y_t, y_c], np.vstack([x_t, x_c])
    xc = x - x.mean(axis=0)
    keep = xc.std(axis=0) > 0
    theta = np.zeros(x.shape[1])
    if keep.any():
        theta[keep] = np.linalg.lstsq(xc[:, keep], y - y.mean(), rcond=None)[0]
    adj_t = y_t - xc[:n_t] @ theta
    adj_c = y_c - xc[n_t:] @ theta
    z = float(stats.norm.ppf(1 - alpha / 2))
    se = float(np.sqrt(y_t.var(ddof=1) / n_t + y_c.var(ddof=1) / n_c))
    se_adj = float(np.sqrt(adj_t.var(ddof=1) / n_t + adj_c.var(ddof=1) / n_c))
    diff, diff_adj = float(y_t.mean() - y_c.mean()), float(adj_t.mean() - adj_c.mean())
    return {
        "diff": diff,
        "se": se,
        "lo": diff - z * se,
        "hi": diff + z * se,
        "diff_adjusted": diff_adj,
        "se_adjusted": se_adj,
        "lo_adjusted": diff_adj - z * se_adj,
        "hi_adjusted": diff_adj + z * se_adj,
        "theta": [float(v) for v in theta],
        "variance_reduction": float(1 - se_adj**2 / se**2) if se > 0 else 0.0,
        "n_t": n_t,
        "n_c": n_c,
    }


def cs_rho(alpha: float = 0.05, n_star: float = 5000) -> float:
    """The tuning ρ of :func:`confidence_sequence` that makes it narrowest at ``n_star`` units
    (GrowthBook's default 5,000): ρ = √((−2 log α + log(−2 log α + 1)) / n*)."""
    if not 0 < alpha < 1 or n_star <= 0:
        raise ValueError(f"cs_rho: alpha in (0, 1) and n_star > 0 needed, got {alpha}, {n_star}")
    la = -2 * np.log(alpha)
    return float(np.sqrt((la + np.log(la + 1)) / n_star))


def confidence_sequence(
    estimate: float, se: float, n: int, alpha: float = 0.05, n_star: float = 5000
) -> tuple[float, float]:
    """Always-valid (anytime) 1 − α interval for an effect whose fixed-sample estimate is
    ``estimate`` with standard error ``se`` after ``n`` units (both groups together).

    The asymptotic confidence sequence of Waudby-Smith et al. (2023, Theorem 2.2), as in
    GrowthBook's sequential testing: with σ̂ = se · √n the per-unit standard deviation,

        estimate ± σ̂ · √( 2(nρ² + 1) / (n²ρ²) · log(√(nρ² + 1) / α) ),   ρ = :func:`cs_rho`

    The chance that the true effect leaves the interval at ANY look, however many, is at most
    α (asymptotically), so a campaign still running can be watched without inflating false
    wins; the price is a wider interval than the fixed-sample one at every n."""
    if n <= 0 or not np.isfinite(se):
        return (np.nan, np.nan)
    rho2 = cs_rho(alpha, n_star) ** 2
    sigma = se * np.sqrt(n)
    spread = 2 * (n * rho2 + 1) / (n**2 * rho2) * np.log(np.sqrt(n * rho2 + 1) / alpha)
    half = sigma * np.sqrt(spread)
    return (float(estimate - half), float(estimate + half))
