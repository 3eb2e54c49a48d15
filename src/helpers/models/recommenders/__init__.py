"""Recommenders: who should be offered which product, from an account x item matrix.

Pure numpy/scipy (and the ``implicit`` library's ALS): no data access. The one hand-off is a
``scipy.sparse.csr_matrix`` ``R`` of shape (accounts, items) whose cell is the number of orders
of the account holding the item; item kNN also takes the item x item co-purchase counts,
which the topic computes in the engine. Every model has the same three methods:

- ``fit(R, co=None)`` -> the model;
- ``scores(R, rows)`` -> a dense (len(rows), items) array, higher = recommend first;
- ``similar(item, n)`` -> the ``n`` items the model puts closest to ``item`` (the planted-pair
  check of the tests).

One module per model: :mod:`.popularity` (the baseline), :mod:`.item_knn` (item-to-item
co-purchase), :mod:`.als` (implicit-feedback matrix factorisation); :mod:`.evaluate` holds the
ranking metrics (recall@k, NDCG@k, coverage) and the top-k selection.
"""

from helpers.models.recommenders.als import ALS
from helpers.models.recommenders.evaluate import (
    catalogue_coverage,
    ndcg_at_k,
    recall_at_k,
    top_k,
)
from helpers.models.recommenders.item_knn import ItemKNN
from helpers.models.recommenders.popularity import Popularity

__all__ = [
    "ALS",
    "ItemKNN",
    "Popularity",
    "catalogue_coverage",
    "ndcg_at_k",
    "recall_at_k",
    "top_k",
]
