"""Implicit-feedback matrix factorisation: alternating least squares (Hu, Koren & Volinsky
2008, "Collaborative filtering for implicit feedback datasets", ICDM), fitted by the maintained
``implicit`` library (its conjugate-gradient ALS).

``implicit`` was chosen over EASE (Steck 2019; a closed form, but an items x items inverse to
write and keep by hand) and scikit-learn's TruncatedSVD / NMF (they treat an unbought item as a
known zero rather than as weak evidence, which is what implicit feedback is): it installs as a
wheel beside the locked numpy/scipy and is the reference implementation of the model.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits


def _implicit_als():
    """implicit's CPU ALS class. Its module imports ``tqdm.auto``, which in a Jupyter kernel
    without ipywidgets warns that the notebook progress bar is unavailable; the fit never shows
    a progress bar (``show_progress=False``), so that one warning, about a widget not used, is
    not shown in a report."""
    import warnings

    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=TqdmWarning)
        from implicit.cpu.als import AlternatingLeastSquares
    return AlternatingLeastSquares


class ALS:
    """Minimise ``sum_uj c_uj (p_uj - x_u . y_j)^2 + reg (|x_u|^2 + |y_j|^2)`` with preference
    ``p_uj = [r_uj > 0]`` and confidence ``c_uj = 1 + alpha log(1 + r_uj)`` (``r_uj`` orders of
    account ``u`` holding item ``j``); ``score(u, j) = x_u . y_j``; ``similar`` is the cosine of
    the item factors. Accounts like ``u``: the cosine of the account factors."""

    name = "als"

    def __init__(
        self,
        factors: int = 16,
        regularization: float = 0.1,
        iterations: int = 20,
        alpha: float = 10.0,
        seed: int = 0,
    ) -> None:
        if factors < 1 or iterations < 1 or regularization < 0 or alpha <= 0:
            raise ValueError("factors, iterations > 0, regularization >= 0, alpha > 0 expected")
        self.factors, self.regularization = factors, regularization
        self.iterations, self.alpha, self.seed = iterations, alpha, seed

    def fit(self, R: sparse.csr_matrix, co=None) -> ALS:
        AlternatingLeastSquares = _implicit_als()

        conf = sparse.csr_matrix(R, dtype=np.float32, copy=True)
        conf.data = 1.0 + self.alpha * np.log1p(conf.data)
        # implicit asks for single-threaded BLAS (its own threads do the work)
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.seed,
            )
            model.fit(conf, show_progress=False)
        self.account_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)
        return self

    def scores(self, R: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
        return self.account_factors_[rows] @ self.item_factors_.T

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norm > 0, norm, 1.0)

    def similar(self, item: int, n: int) -> np.ndarray:
        v = self._unit(self.item_factors_)
        sim = v @ v[item]
        sim[item] = -np.inf
        return np.argsort(-sim, kind="stable")[:n]

    def like(self, row: int, n: int) -> np.ndarray:
        """The ``n`` accounts whose factors are closest (cosine) to account ``row``'s."""
        u = self._unit(self.account_factors_)
        sim = u @ u[row]
        sim[row] = -np.inf
        return np.argsort(-sim, kind="stable")[:n]
