"""The recommendations report's helpers: ranking metrics by hand, the buy-again interval, item
kNN on a tiny co-purchase matrix, the engine's co-purchase counts against pandas, the planted
affinities recovered, the holdout on the sample, a core-only dataset and an Online Retail
import."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from helpers import recommend
from helpers.models.recommenders import (
    ItemKNN,
    Popularity,
    catalogue_coverage,
    ndcg_at_k,
    recall_at_k,
    top_k,
)


def test_top_k_skips_excluded_and_unscored_items():
    scores = np.array([[0.1, 0.9, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]])
    exclude = np.array([[False, True, False, False], [False] * 4])
    assert top_k(scores, exclude, 3).tolist() == [[2, 0, -1], [-1, -1, -1]]


def test_recall_ndcg_and_coverage_by_hand():
    recs = np.array([[3, 1, 7], [2, 5, -1]])
    truth = [{1, 9}, {4}]
    assert recall_at_k(recs, truth).tolist() == [0.5, 0.0]
    # account 1: hit at rank 2 -> 1/log2(3); ideal: 2 hits at ranks 1, 2 -> 1 + 1/log2(3)
    expected = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert ndcg_at_k(recs, truth) == pytest.approx([expected, 0.0])
    assert catalogue_coverage(recs, 10) == pytest.approx(5 / 10)


def test_item_knn_cosine_and_reason():
    # items 0,1 bought together in 4 of their 5 and 4 orders; item 2 alone
    co = sparse.csr_matrix(np.array([[5, 4, 1], [4, 4, 0], [1, 0, 6]], dtype=float))
    R = sparse.csr_matrix(np.array([[2, 0, 0], [0, 0, 3]], dtype=float))
    knn = ItemKNN(neighbours=5, min_together=1).fit(R, co)
    assert knn.sim_[0, 1] == pytest.approx(4 / np.sqrt(5 * 4))
    assert knn.sim_[0, 2] == pytest.approx(1 / np.sqrt(5 * 6))
    assert knn.similar(0, 1).tolist() == [1]
    s = knn.scores(R, np.array([0]))
    assert s[0, 1] == pytest.approx(4 / np.sqrt(20)) and knn.because(R, 0, 1) == 0
    assert Popularity().fit(R).similar(2, 2).tolist() == [0, 1]


def test_again_list_interval_and_due():
    ts = pd.Timestamp
    summary = pd.DataFrame(
        {
            "account_id": [1, 1, 2],
            "sku": ["A", "B", "A"],
            "orders": [3, 1, 1],
            "first": [ts("2026-01-01"), ts("2026-03-01"), ts("2026-02-01")],
            "last": [ts("2026-03-02"), ts("2026-03-01"), ts("2026-02-01")],
        }
    )
    again = recommend.again_list(summary, ts("2026-03-31"), k=5)
    a1 = again[(again.account_id == 1) & (again.sku == "A")].iloc[0]
    assert a1.interval_days == pytest.approx(30.0)  # 60 days / 2 gaps
    assert a1.due == ts("2026-04-01") and a1.score == pytest.approx(29 / 30)
    assert "you order it about monthly" in a1.reason
    # account 2 bought A once: A's median interval among re-orderers (30 days), 58 days ago
    a2 = again[again.account_id == 2].iloc[0]
    assert a2.interval_days == pytest.approx(30.0) and a2.reason.startswith("bought once")
    assert "B" not in set(again.sku)  # no one re-orders B: no interval, not listed


@pytest.fixture(scope="module")
def sample(small_sample):
    return recommend.open_tables(small_sample)


def test_co_purchases_match_pandas(sample):
    lines = sample.order_lines.select("order_id", "sku").to_pandas().drop_duplicates()
    pairs = lines.merge(lines, on="order_id")
    pairs = pairs[pairs.sku_x < pairs.sku_y].groupby(["sku_x", "sku_y"]).size()
    got = recommend.co_purchases(sample)
    off = got[got.sku_a != got.sku_b].set_index(["sku_a", "sku_b"]).together.sort_index()
    assert off.to_dict() == pairs.sort_index().to_dict()
    own = got[got.sku_a == got.sku_b].set_index("sku_a").together
    assert own.to_dict() == lines.groupby("sku").size().to_dict()


@pytest.fixture(scope="module")
def analysed(sample):
    return recommend.analyse(sample)


def test_chosen_model_beats_popularity_on_the_sample(analysed):
    h = analysed.tables["holdout"].set_index("model")
    chosen = analysed.figures["rec_model"]
    assert chosen != "popularity" and analysed.figures["rec_beats_popularity"]
    assert h.loc[chosen, "recall_lo"] > h.loc["popularity", "recall_hi"]
    assert h.accounts.min() >= 30 and set(h.index) == set(recommend.MODELS)
    lists = analysed.tables["lists"]
    assert list(lists.columns) == ["account_id", "kind", "rank", "sku", "score", "reason", "model"]
    assert set(lists.kind) == {"again", "new"} and lists["rank"].max() <= 10
    new = lists[lists.kind == "new"]
    assert (new.model == chosen).all() and new.reason.str.len().gt(10).all()


def test_chosen_model_recovers_the_planted_affinities(small_sample, sample, analysed):
    truth = json.loads((small_sample / "truth.json").read_text())
    aff = truth["catalogue"]["affinities"]
    data = recommend.interactions(
        recommend.account_products(sample), recommend.co_purchases(sample)
    )
    chosen = analysed.figures["rec_model"]
    models = {n: recommend.make_model(n).fit(data.R, data.co) for n in (chosen, "popularity")}
    sku = {s: i for i, s in enumerate(data.skus)}

    def pair_recall(model):  # the companion among the anchor's 5 nearest products
        hits = [sku[p["companion"]] in model.similar(sku[p["anchor"]], 5) for p in aff["pairs"]]
        return np.mean(hits)

    assert pair_recall(models[chosen]) >= 0.6 > pair_recall(models["popularity"]) + 0.3
    # cluster favourites among the new products each account is offered
    cluster = dict(zip(truth["accounts"]["account_id"], truth["accounts"]["cluster"], strict=True))
    share = {}
    for name, model in models.items():
        new = recommend.new_list(model, name, data, data.accounts, 10)
        pairs = zip(new.account_id, new.sku, strict=True)
        fav = [s in aff["cluster_favourites"][cluster[a]] for a, s in pairs]
        share[name] = np.mean(fav)
    assert share[chosen] > 1.5 * share["popularity"]


def test_core_only_dataset_builds_without_products(small_sample, tmp_path):
    for table in recommend.CORE:
        shutil.copytree(small_sample / table, tmp_path / table)
    res = recommend.analyse(recommend.open_tables(tmp_path), k=5, n_boot=200)
    assert "products" in res.skipped and "products table" in res.reason("products")
    assert res.built("holdout") and res.built("new")
    assert res.tables["lists"].groupby(["account_id", "kind"])["rank"].max().max() <= 5


def test_as_of_moves_the_cut_off(sample):
    res = recommend.analyse(sample, as_of="2026-06-30", holdout_weeks=8, n_boot=200)
    assert res.figures["rec_as_of"] == "2026-06-30"
    assert res.figures["rec_cutoff"] == "2026-05-06"  # 2026-07-01 (exclusive end) - 56 days
    assert res.tables["again"]["last"].max() < pd.Timestamp("2026-07-01")


def test_online_retail_import_shows_chosen_model_against_popularity(tmp_path):
    from test_adapters import write_retail_csv
    from test_byod_reports import retail_lines

    from helpers.data.adapters import import_data

    src = write_retail_csv(tmp_path, retail_lines(n_customers=120))
    import_data("online-retail", [src], tmp_path / "retail")
    res = recommend.analyse(recommend.open_tables(tmp_path / "retail"), holdout_weeks=8, n_boot=200)
    h = res.tables["holdout"]
    assert res.built("holdout") and {"popularity", res.figures["rec_model"]} <= set(h.model)
    assert h.chosen.sum() == 1 and (res.tables["lists"].account_id > 0).all()  # no guests
    assert res.built("products") and res.tables["top_products"].product_name.notna().all()
