"""Ranking metrics for a recommender checked on a holdout, and the top-k selection.

Hand-written (a few numpy lines each): scikit-learn's ``ndcg_score`` and ``top_k_accuracy_score``
need dense relevance for every item and account, and define recall differently; these follow
the recommender literature (Järvelin & Kekäläinen 2002 for NDCG), with binary relevance.
"""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """Per row, the ``k`` highest-scoring items not ``exclude``d (a boolean array of the same
    shape), best first; -1 pads a row with fewer than ``k`` items scoring above ``-inf`` or
    with a positive score where the model gives none (all scores 0)."""
    s = np.where(exclude, -np.inf, scores.astype(float))
    s = np.where(s <= 0, -np.inf, s) if (s[np.isfinite(s)] >= 0).all() else s
    k = min(k, s.shape[1])
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    return np.where(np.isfinite(np.take_along_axis(s, top, axis=1)), top, -1)


def recall_at_k(recs: np.ndarray, truth: list[set]) -> np.ndarray:
    """Per account, ``|top-k ∩ bought| / |bought|`` (``bought``: the items it bought in the
    holdout that it had never bought before; accounts with none are not passed)."""
    return np.array([len(set(r[r >= 0]) & t) / len(t) for r, t in zip(recs, truth, strict=True)])


def ndcg_at_k(recs: np.ndarray, truth: list[set]) -> np.ndarray:
    """Per account, ``DCG / IDCG`` with ``DCG = sum_{rank r} [item_r bought] / log2(r + 1)``
    and IDCG the DCG of a list holding the ``min(k, |bought|)`` bought items first."""
    k = recs.shape[1]
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    out = np.empty(len(truth))
    for i, (r, t) in enumerate(zip(recs, truth, strict=True)):
        hits = np.array([x in t for x in r])
        out[i] = (hits * disc).sum() / disc[: min(k, len(t))].sum()
    return out


def catalogue_coverage(recs: np.ndarray, n_items: int) -> float:
    """Distinct items recommended to anyone ÷ items in the catalogue."""
    return len(np.unique(recs[recs >= 0])) / n_items if n_items else 0.0
