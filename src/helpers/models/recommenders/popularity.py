"""The baseline every recommender has to beat: the items most accounts bought."""

from __future__ import annotations

import numpy as np
from scipy import sparse


class Popularity:
    """``score(u, j) = n_j``, the number of accounts that bought item ``j`` (the same for every
    account). ``similar(i, n)``: the ``n`` most bought items other than ``i``."""

    name = "popularity"

    def fit(self, R: sparse.csr_matrix, co=None) -> Popularity:
        self.buyers_ = np.asarray((R > 0).sum(axis=0)).ravel().astype(float)
        return self

    def scores(self, R: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.buyers_, (len(rows), len(self.buyers_))).copy()

    def similar(self, item: int, n: int) -> np.ndarray:
        order = np.argsort(-self.buyers_, kind="stable")
        return order[order != item][:n]
