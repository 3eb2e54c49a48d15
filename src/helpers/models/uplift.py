"""Uplift modelling: the two-model score, the Qini curve and the band a random score draws.

Moved here from :mod:`helpers.campaigns` (which re-exports every name) so that the campaign
module keeps the Ibis side (sends, features as of each campaign's start) and this one the
statistics on small pandas frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Features of :func:`helpers.campaigns.send_features` used by the notebook's uplift model
UPLIFT_FEATURES = (
    "days_since_order",
    "orders_before",
    "orders_recent",
    "revenue_recent",
    "tenure_days",
    "has_ordered",
)
_LOGGED = ("days_since_order", "orders_before", "orders_recent", "revenue_recent", "tenure_days")


def uplift_matrix(features: pd.DataFrame, columns=UPLIFT_FEATURES) -> pd.DataFrame:
    """The model matrix of per-send features: counts, days and money enter as log(1 + x)
    (they are heavily right-skewed, and a logistic regression on the raw values lets a few
    large accounts set the slope); ``has_ordered`` stays 0/1. A send to an account with no
    order before the campaign has no ``days_since_order``: it takes its tenure instead (it has
    been "without an order" for as long as it has existed) and ``has_ordered`` = 0."""
    missing = set(columns) - set(features.columns)
    if missing:
        raise ValueError(f"table 'send features' is missing column(s) {sorted(missing)}")
    x = features[list(columns)].astype("float64").copy()
    if "days_since_order" in x and "tenure_days" in x:
        x["days_since_order"] = x.days_since_order.fillna(x.tenure_days)
    for c in _LOGGED:
        if c in x:
            x[c] = np.log1p(x[c].clip(lower=0))
    if x.isna().any().any():
        bad = x.columns[x.isna().any()].tolist()
        raise ValueError(f"send features have missing values in {bad}")
    return x


def qini_curve(score, treated, converted) -> pd.DataFrame:
    """Qini curve of an uplift score (Radcliffe 2007, "Using control groups to target on
    predicted lift"): accounts sorted by score, highest first; after the top k,

    qini(k) = conversions among treated in top k − conversions among control in top k ·
    (treated in top k / control in top k)   (0 while the top k holds no control)

    with ``random`` the straight line from 0 to qini(n). Returns share (k / n), qini, random.
    Hand-written (a few lines of numpy) rather than adding scikit-uplift, whose releases lag
    current scikit-learn.
    """
    score = np.asarray(score, dtype=float)
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(converted, dtype=float)
    if not (len(score) == len(t) == len(y)) or len(score) == 0:
        raise ValueError("qini_curve: score, treated and converted must be non-empty, same length")
    order = np.argsort(-score, kind="stable")
    t, y = t[order], y[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_c > 0, y_t - y_c * n_t / np.where(n_c > 0, n_c, 1), 0.0)
    k = np.arange(1, len(q) + 1)
    share = k / len(q)
    return pd.DataFrame(
        {
            "share": np.r_[0.0, share],
            "qini": np.r_[0.0, q],
            "random": np.r_[0.0, share * q[-1]],
        }
    )


def qini_coefficient(curve: pd.DataFrame) -> float:
    """Area between the Qini curve and the random line (trapezoid rule), in conversions × share;
    above 0 when the score ranks persuadable accounts first."""
    gap = (curve.qini - curve.random).to_numpy()
    x = curve.share.to_numpy()
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(x)))


def two_model_uplift(
    features: pd.DataFrame, treated, converted, n_splits: int = 5, seed: int = 0
) -> np.ndarray:
    """Out-of-fold uplift score per row by the two-model approach (Hansotia & Rukstales 2002):
    one scikit-learn classifier on treated rows, one on control rows; score = P̂(convert |
    treated, x) − P̂(convert | control, x). Cross-fitted over ``n_splits`` folds so that each
    score comes from models that did not see the row. Classifier: standardised logistic
    regression (scikit-learn). Features are numeric columns."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype=float)
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(converted, dtype=int)
    if len(x) != len(t) or len(x) != len(y):
        raise ValueError("two_model_uplift: features, treated and converted differ in length")
    strata = t.astype(int) * 2 + y
    if np.bincount(strata, minlength=4).min() < n_splits:
        raise ValueError(
            "two_model_uplift needs at least n_splits converted and unconverted accounts in "
            "both treatment and control"
        )
    score = np.empty(len(x))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for fit_idx, pred_idx in folds.split(x, strata):
        probs = []
        for arm in (True, False):
            rows = fit_idx[t[fit_idx] == arm]
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
            model.fit(x[rows], y[rows])
            probs.append(model.predict_proba(x[pred_idx])[:, 1])
        score[pred_idx] = probs[0] - probs[1]
    return score


def qini_random_band(treated, converted, n: int = 200, seed: int = 0, level: float = 0.9):
    """The Qini coefficients that random scores reach on the same sends: ``n`` uniform random
    scores, their :func:`qini_coefficient` quantiles ``(1 − level)/2`` and ``(1 + level)/2``.
    A model's Qini inside this band is no better than targeting at random (a permutation
    reference; Radcliffe 2007 compares against the random line only, which hides the noise
    of a few hundred control conversions). Returns (low, high)."""
    if n < 20:
        raise ValueError(f"parameter n must be at least 20, got {n}")
    rng = np.random.default_rng(seed)
    coefs = [
        qini_coefficient(qini_curve(rng.random(len(treated)), treated, converted)) for _ in range(n)
    ]
    lo, hi = np.quantile(coefs, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def qini_verdict(coefficient: float, band: tuple[float, float]) -> str:
    """How a model's Qini coefficient compares with :func:`qini_random_band` ``(low, high)``:
    "better than random" only above the band, "worse than random" below it (the score ranks
    the persuadable last), else "no better than random"."""
    lo, hi = band
    if not (np.isfinite(coefficient) and np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"qini_verdict: need a finite coefficient and band, got {coefficient}")
    if coefficient > hi:
        return "better than random"
    if coefficient < lo:
        return "worse than random"
    return "no better than random"
