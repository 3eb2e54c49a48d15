"""Item-to-item co-purchase (item kNN; Linden, Smith & York 2003, "Amazon.com
recommendations: item-to-item collaborative filtering", IEEE Internet Computing 7(1)).

Hand-written (a sparse product and a per-row top-n): the co-purchase counts come from the
engine, where the data lives, so the libraries that compute them from raw interactions
themselves (``implicit.nearest_neighbours``, ``surprise``'s KNN) would need the whole
interaction log in memory; what remains is a few lines of scipy.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


class ItemKNN:
    """Cosine similarity of co-purchase counts, ``s(i, j) = c_ij / sqrt(n_i n_j)`` (``c_ij``
    orders holding both items, ``n_i`` orders holding ``i``), keeping each item's
    ``neighbours`` most similar items; ``score(u, j) = sum_i [u bought i] s(i, j)``.

    ``fit(R, co)`` needs ``co``: the symmetric (items, items) sparse matrix of ``c_ij`` with
    ``n_i`` on its diagonal."""

    name = "item_knn"

    def __init__(self, neighbours: int = 20, min_together: int = 2) -> None:
        if neighbours < 1 or min_together < 1:
            raise ValueError("neighbours and min_together must be at least 1")
        self.neighbours, self.min_together = neighbours, min_together

    def fit(self, R: sparse.csr_matrix, co: sparse.spmatrix | None = None) -> ItemKNN:
        if co is None or co.shape != (R.shape[1], R.shape[1]):
            raise ValueError("item kNN needs the (items, items) co-purchase counts as co")
        co = sparse.csr_matrix(co, dtype=float)
        n = np.maximum(co.diagonal(), 1.0)
        off = sparse.triu(co, k=1).tocoo()
        off = off.maximum(sparse.triu(co.T, k=1).tocoo()).tocoo()
        keep = off.data >= self.min_together
        r, c, v = off.row[keep], off.col[keep], off.data[keep]
        sim = v / np.sqrt(n[r] * n[c])
        rows, cols, vals = np.r_[r, c], np.r_[c, r], np.r_[sim, sim]
        self.sim_ = self._top_per_row(rows, cols, vals, R.shape[1])
        return self

    def _top_per_row(self, rows, cols, vals, n_items: int) -> sparse.csr_matrix:
        order = np.lexsort((-vals, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        first = np.searchsorted(rows, rows, side="left")
        keep = np.arange(len(rows)) - first < self.neighbours
        return sparse.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n_items, n_items))

    def scores(self, R: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
        bought = (R[rows] > 0).astype(float)
        return np.asarray((bought @ self.sim_).todense())

    def because(self, R: sparse.csr_matrix, row: int, item: int) -> int:
        """The item the account bought that adds most to its score for ``item`` (-1: none)."""
        mine = R[row].indices
        if len(mine) == 0:
            return -1
        contrib = np.asarray(self.sim_[mine, item].todense()).ravel()
        return int(mine[np.argmax(contrib)]) if contrib.max() > 0 else -1

    def similar(self, item: int, n: int) -> np.ndarray:
        row = self.sim_[item]
        return row.indices[np.argsort(-row.data, kind="stable")][:n]
