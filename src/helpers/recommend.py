"""Recommendations: what each account should be offered next, checked on weeks it did not see.

Two lists per account as of a date (``as_of``, default the last order day):

- **again**: products the account bought before, ranked by when each is due from the account's
  own re-order interval for it, ``interval = (last - first) / (orders holding it - 1)``; a
  product it bought once takes the median interval of the accounts that re-order it. ``score
  = days since the last order of it / interval`` (1 = due today, above 1 = overdue).
- **new**: products it never bought, top ``k`` of the model the holdout chose.

The models (:mod:`helpers.models.recommenders`): popularity (the baseline), item-to-item
co-purchase (item kNN) and implicit ALS matrix factorisation. The check: each model is fitted
on the data before a cut-off (``holdout_weeks`` before ``as_of``) and scored on what each
account bought in the weeks after that it had never bought before; recall@k, NDCG@k,
catalogue coverage and the share of accounts served, each with a percentile bootstrap interval
over accounts. The report uses the model with the best recall@k among those whose interval
lies above popularity's; when none does, popularity, and it says so.

The heavy parts are Ibis expressions run in the engine (DuckDB or Spark): the account x product
summary (orders, first and last order) and the same-order co-purchase counts (a self-join of
the order lines). Only one row per account x product and per product pair reaches pandas; the
model fit runs in memory. Guest accounts of an import are left out
(:func:`helpers.data.tables.customers_only`)::

    from helpers import recommend
    ds = recommend.open_tables("data/sample")
    res = recommend.analyse(ds, k=10)
    res.tables["holdout"], res.tables["lists"]
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
from scipy import sparse

from helpers import validate
from helpers.data import tables
from helpers.models.recommenders import (
    ALS,
    ItemKNN,
    Popularity,
    catalogue_coverage,
    ndcg_at_k,
    recall_at_k,
    top_k,
)
from helpers.sections import Analysis, Section

__all__ = [
    "CORE",
    "MODELS",
    "SECTIONS",
    "Interactions",
    "account_products",
    "again_list",
    "analyse",
    "co_purchases",
    "definitions",
    "evaluate_models",
    "interactions",
    "make_model",
    "new_list",
    "open_tables",
]

#: The report's core tables (``requires:`` in reports.yml).
CORE = ("orders", "order_lines")
SECTIONS = (
    Section("holdout", "Which model to trust: checked on weeks it did not see"),
    Section("again", "Buy again: products due for a re-order"),
    Section("new", "New to the account"),
    Section(
        "products",
        "The products recommended most",
        needs={"products": ("sku", "name", "category")},
    ),
)
#: The models compared, with the names the report shows.
MODELS = {
    "popularity": "Popularity (baseline)",
    "item_knn": "Item-to-item co-purchase (item kNN)",
    "als": "Matrix factorisation (implicit ALS)",
}
_DAY = pd.Timedelta(days=1)


def open_tables(data_dir=None, engine: str = "duckdb", **options):
    """The dataset with the core and, when the folder has them, products and accounts (the
    accounts only to leave an import's guest accounts out; none is derived)."""
    optional = {t for s in SECTIONS for t in s.tables} | {"accounts"}
    return tables.open_tables(data_dir, CORE, optional, engine, derive=False, **options)


# ---------------------------------------------------------------------------------------------
# In the engine
# ---------------------------------------------------------------------------------------------
def _lines(ds, start, end):
    """(account_id, order_id, order_ts, sku) of the order lines with ``start <= order_ts <
    end`` (either may be None)."""
    o, ol = ds.orders, ds.order_lines
    cond = [o.account_id.notnull()]
    if start is not None:
        cond.append(o.order_ts >= ibis.literal(pd.Timestamp(start).to_pydatetime()))
    if end is not None:
        cond.append(o.order_ts < ibis.literal(pd.Timestamp(end).to_pydatetime()))
    o = o.filter(*cond).select("order_id", "account_id", "order_ts")
    return ol.select("order_id", "sku").join(o, "order_id")


def account_products(ds, start=None, end=None) -> pd.DataFrame:
    """One row per account x product bought in ``[start, end)``: ``orders`` (orders holding
    it), ``first`` and ``last`` (order times). Aggregated in the engine."""
    lines = _lines(ds, start, end)
    per_order = lines.group_by("account_id", "sku", "order_id").aggregate(ts=lines.order_ts.min())
    agg = per_order.group_by("account_id", "sku").aggregate(
        orders=per_order.order_id.count(), first=per_order.ts.min(), last=per_order.ts.max()
    )
    df = agg.to_pandas()
    df["account_id"] = df.account_id.astype("int64")
    df["sku"] = df.sku.astype(str)
    return df.sort_values(["account_id", "sku"], ignore_index=True)


def co_purchases(ds, start=None, end=None) -> pd.DataFrame:
    """Same-order co-purchase counts in ``[start, end)``: one row per product pair ``sku_a <
    sku_b`` bought together in at least one order, ``together`` = orders holding both; plus
    one row per product with ``sku_a == sku_b`` and ``together`` = orders holding it. A
    self-join of the distinct (order, product) pairs, in the engine."""
    lines = _lines(ds, start, end)
    pairs = lines.select("order_id", "sku").distinct()
    a = pairs.rename(sku_a="sku")
    b = pairs.rename(sku_b="sku", order_b="order_id")
    joined = a.join(b, [a.order_id == b.order_b, a.sku_a < b.sku_b])
    co = joined.group_by("sku_a", "sku_b").aggregate(together=joined.order_id.count())
    own = pairs.group_by("sku").aggregate(together=pairs.order_id.count())
    own = own.select(sku_a=own.sku, sku_b=own.sku, together=own.together)
    df = co.union(own).to_pandas()
    df["together"] = df.together.astype("int64")
    return df


# ---------------------------------------------------------------------------------------------
# In memory
# ---------------------------------------------------------------------------------------------
@dataclass
class Interactions:
    """The account x product matrix ``R`` (orders holding the product) with its labels, the
    summary it came from and the co-purchase matrix (``co``, products x products)."""

    accounts: np.ndarray
    skus: np.ndarray
    R: sparse.csr_matrix
    summary: pd.DataFrame
    co: sparse.csr_matrix

    def row(self, account_ids) -> np.ndarray:
        return np.searchsorted(self.accounts, np.asarray(account_ids, dtype=np.int64))


def interactions(summary: pd.DataFrame, co: pd.DataFrame) -> Interactions:
    """:class:`Interactions` from :func:`account_products` and :func:`co_purchases`."""
    accounts = np.unique(summary.account_id.to_numpy(np.int64))
    skus = np.unique(summary.sku.to_numpy(str))
    r = np.searchsorted(accounts, summary.account_id.to_numpy(np.int64))
    c = np.searchsorted(skus, summary.sku.to_numpy(str))
    R = sparse.csr_matrix(
        (summary.orders.to_numpy(float), (r, c)), shape=(len(accounts), len(skus))
    )
    co = co[co.sku_a.isin(skus) & co.sku_b.isin(skus)]
    i = np.searchsorted(skus, co.sku_a.to_numpy(str))
    j = np.searchsorted(skus, co.sku_b.to_numpy(str))
    v = co.together.to_numpy(float)
    off = i != j
    C = sparse.csr_matrix(
        (np.r_[v, v[off]], (np.r_[i, j[off]], np.r_[j, i[off]])), shape=(len(skus), len(skus))
    )
    return Interactions(accounts, skus, R, summary, C)


def make_model(name: str, *, neighbours: int = 20, factors: int = 16, seed: int = 0):
    """A new, unfitted model by its name in :data:`MODELS`."""
    if name == "popularity":
        return Popularity()
    if name == "item_knn":
        return ItemKNN(neighbours=neighbours)
    if name == "als":
        return ALS(factors=factors, seed=seed)
    raise ValueError(f"model must be one of {list(MODELS)}, got {name!r}")


def _recommend(model, data: Interactions, rows: np.ndarray, k: int, chunk: int = 2000):
    """Top-``k`` new products (never bought) for ``rows``, in chunks: (items, scores)."""
    items = np.full((len(rows), k), -1, dtype=np.int64)
    scores = np.full((len(rows), k), np.nan)
    for lo in range(0, len(rows), chunk):
        part = rows[lo : lo + chunk]
        s = model.scores(data.R, part)
        top = top_k(s, data.R[part].toarray() > 0, k)
        items[lo : lo + chunk, : top.shape[1]] = top
        got = np.take_along_axis(s, np.maximum(top, 0), axis=1)
        scores[lo : lo + chunk, : top.shape[1]] = np.where(top >= 0, got, np.nan)
    return items, scores


def _mean_interval(v: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float]:
    """Mean of ``v`` and its 95 % percentile bootstrap interval over accounts
    (scipy.stats.bootstrap)."""
    from scipy import stats

    m = float(np.mean(v)) if len(v) else float("nan")
    if len(v) < 2 or np.ptp(v) == 0:
        return m, m, m
    res = stats.bootstrap(
        (v,), np.mean, n_resamples=n_boot, method="percentile", rng=np.random.default_rng(seed)
    )
    return m, float(res.confidence_interval.low), float(res.confidence_interval.high)


def _holdout_truth(train: Interactions, after: pd.DataFrame) -> tuple[np.ndarray, list[set]]:
    """The evaluated accounts (rows of ``train``) and, per account, the products it bought
    after the cut-off that it had never bought before (products of the training catalogue)."""
    known = after[after.account_id.isin(train.accounts) & after.sku.isin(train.skus)]
    rows = train.row(known.account_id)
    cols = np.searchsorted(train.skus, known.sku.to_numpy(str))
    new = np.asarray(train.R[rows, cols]).ravel() == 0
    df = pd.DataFrame({"row": rows[new], "col": cols[new]})
    groups = df.groupby("row").col.agg(set)
    return groups.index.to_numpy(np.int64), list(groups)


def evaluate_models(
    train: Interactions,
    after: pd.DataFrame,
    k: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    **options,
) -> tuple[pd.DataFrame, dict]:
    """Each model of :data:`MODELS` fitted on ``train`` and scored on ``after`` (the
    :func:`account_products` of the holdout weeks): one row per model with recall@k, NDCG@k
    (means over the evaluated accounts and their 95 % bootstrap intervals), catalogue coverage
    (distinct products recommended ÷ products) and the share of accounts served (given at least
    one product). Also the fitted models by name."""
    rows, truth = _holdout_truth(train, after)
    out, fitted = [], {}
    for name, label in MODELS.items():
        model = make_model(name, seed=seed, **options).fit(train.R, train.co)
        fitted[name] = model
        recs, _ = _recommend(model, train, rows, k)
        rec, rec_lo, rec_hi = _mean_interval(recall_at_k(recs, truth), n_boot, seed)
        nd, nd_lo, nd_hi = _mean_interval(ndcg_at_k(recs, truth), n_boot, seed)
        out.append(
            {
                "model": name, "label": label, "accounts": len(rows),
                "recall": rec, "recall_lo": rec_lo, "recall_hi": rec_hi,
                "ndcg": nd, "ndcg_lo": nd_lo, "ndcg_hi": nd_hi,
                "coverage": catalogue_coverage(recs, len(train.skus)),
                "served": float(np.mean((recs >= 0).any(axis=1))) if len(rows) else 0.0,
            }
        )  # fmt: skip
    return pd.DataFrame(out), fitted


def _choose(holdout: pd.DataFrame) -> tuple[str, bool]:
    """The model with the best recall@k among those whose interval lies above popularity's
    (lower end > popularity's upper end); popularity when none does. (name, beats)."""
    base = holdout.set_index("model").loc["popularity"]
    better = holdout[(holdout.model != "popularity") & (holdout.recall_lo > base.recall_hi)]
    if better.empty:
        return "popularity", False
    return str(better.sort_values("recall", ascending=False).model.iloc[0]), True


# ---------------------------------------------------------------------------------------------
# The two lists
# ---------------------------------------------------------------------------------------------
def _cadence(days: float) -> str:
    """A re-order interval in words ("weekly", "monthly", "every 3 months")."""
    for limit, words in ((10, "weekly"), (20, "every two weeks"), (45, "monthly")):
        if days <= limit:
            return words
    if days <= 75:
        return "every two months"
    if days <= 120:
        return "quarterly"
    return f"every {round(days / 30.4)} months"


def again_list(
    summary: pd.DataFrame, as_of, k: int, accounts=None, lapsed_after: float = 3.0
) -> pd.DataFrame:
    """Per account (``accounts``, default all in ``summary``), its first ``k`` products bought
    before by ``due = last + interval`` (its own re-order interval ``(last - first) / (orders
    - 1)``; bought once: the product's median interval among accounts that re-order it;
    neither: not listed). ``score = days since its last order of it / interval`` (1 = due
    today); a product more than ``lapsed_after`` intervals overdue has lapsed and is left
    out (a win-back question, not a re-order)."""
    s = summary if accounts is None else summary[summary.account_id.isin(accounts)]
    s = s.copy()
    days = (s["last"] - s["first"]).dt.total_seconds() / 86400.0
    s["interval_days"] = np.where(s.orders > 1, days / (s.orders - 1).clip(lower=1), np.nan)
    s.loc[s.interval_days <= 0, "interval_days"] = np.nan
    typical = summary.assign(d=(summary["last"] - summary["first"]).dt.total_seconds() / 86400.0)
    typical = typical[typical.orders > 1]
    typical = (typical.d / (typical.orders - 1)).groupby(typical.sku).median()
    s["own"] = s.interval_days.notna()
    s["interval_days"] = s.interval_days.fillna(s.sku.map(typical[typical > 0]))
    s = s[s.interval_days.notna()].copy()
    since = (pd.Timestamp(as_of) - s["last"]).dt.total_seconds() / 86400.0
    s["score"] = since / s.interval_days
    s["due"] = (s["last"] + pd.to_timedelta(s.interval_days, unit="D")).dt.normalize()
    s = s[s.score <= lapsed_after].sort_values(["account_id", "due", "sku"])
    s["rank"] = s.groupby("account_id").cumcount() + 1
    s = s[s["rank"] <= k]
    own = "you order it about " + s.interval_days.map(_cadence)
    other = "bought once; accounts that re-order it do so about " + s.interval_days.map(_cadence)
    when = "; last " + s["last"].dt.strftime("%Y-%m-%d") + ", due " + s.due.dt.strftime("%Y-%m-%d")
    s["reason"] = np.where(s.own, own, other) + when
    s["kind"], s["model"] = "again", "own re-order interval"
    cols = ["account_id", "kind", "rank", "sku", "score", "reason", "model"]
    return s[[*cols, "interval_days", "last", "due"]].reset_index(drop=True)


def _reasons(model, name: str, data: Interactions, rows, items) -> list[str]:
    """A sentence per recommendation: why the model offers it."""
    if name == "item_knn":
        return _knn_reasons(model, data, rows, items)
    if name == "als":
        return _als_reasons(model, data, rows, items)
    buyers = np.asarray((data.R > 0).sum(axis=0)).ravel()
    return [f"bought by {buyers[j]:,} accounts, among the most bought" for j in items.ravel()]


def _knn_reasons(model, data: Interactions, rows, items) -> list[str]:
    summary = data.summary
    span = (summary["last"] - summary["first"]).dt.total_seconds() / 86400.0
    interval = np.where(summary.orders > 1, span / (summary.orders - 1).clip(lower=1), np.nan)
    cadence = {
        (a, s): (f"which you buy {_cadence(d)}" if d == d and d > 0 else "which you bought once")
        for a, s, d in zip(summary.account_id, summary.sku, interval, strict=True)
    }
    out = []
    for row, recs in zip(rows, items, strict=True):
        for j in recs:
            i = model.because(data.R, row, j) if j >= 0 else -1
            if i < 0:
                out.append("often bought with what you buy")
                continue
            sku = data.skus[i]
            words = cadence.get((data.accounts[row], sku), "which you buy")
            out.append(f"often bought with {sku}, {words}")
    return out


def _als_reasons(model, data: Interactions, rows, items, like: int = 50) -> list[str]:
    bought = (data.R > 0).astype(np.int64).tocsc()
    out = []
    for row, recs in zip(rows, items, strict=True):
        near = model.like(row, min(like, len(data.accounts) - 1))
        counts = np.asarray(bought[near][:, np.maximum(recs, 0)].sum(axis=0)).ravel()
        for n in counts:
            out.append(
                f"bought by {n} of the {len(near)} accounts most like yours"
                if n
                else "fits what accounts like yours buy"
            )
    return out


def new_list(model, name: str, data: Interactions, accounts, k: int) -> pd.DataFrame:
    """Per account, the ``k`` products it never bought that ``model`` (fitted on ``data``)
    scores highest, with the model's score and a reason."""
    rows = data.row(np.asarray(accounts, dtype=np.int64))
    items, scores = _recommend(model, data, rows, k)
    reasons = np.array(_reasons(model, name, data, rows, items), dtype=object)
    df = pd.DataFrame(
        {
            "account_id": np.repeat(data.accounts[rows], items.shape[1]),
            "kind": "new",
            "rank": np.tile(np.arange(1, items.shape[1] + 1), len(rows)),
            "item": items.ravel(),
            "score": scores.ravel(),
            "reason": reasons,
            "model": name,
        }
    )
    df = df[df.item >= 0]
    df.insert(3, "sku", data.skus[df.item.to_numpy()])
    return df.drop(columns="item").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------
def _window(ds, as_of, holdout_weeks: int, active_weeks: int) -> dict:
    """as_of (default the last order day), the exclusive end (the day after), the cut-off and
    the first day of the active window."""
    _, hi = ds.period("orders")
    day = pd.Timestamp(as_of).normalize() if as_of is not None else hi.normalize()
    end = day + _DAY
    return {
        "as_of": day,
        "end": end,
        "cutoff": end - pd.Timedelta(weeks=holdout_weeks),
        "active_from": end - pd.Timedelta(weeks=active_weeks),
    }


def _holdout_section(result, ds, w, k, n_boot, seed, options) -> str:
    """Fills the holdout section; returns the chosen model's name."""
    train_summary = account_products(ds, None, w["cutoff"])
    after = account_products(ds, w["cutoff"], w["end"])
    if train_summary.empty or after.empty:
        result.skip(
            "holdout",
            f"No orders on both sides of the cut-off {w['cutoff']:%Y-%m-%d} (holdout_weeks "
            f"before as_of {w['as_of']:%Y-%m-%d}): popularity is used.",
        )
        return "popularity"
    train = interactions(train_summary, co_purchases(ds, None, w["cutoff"]))
    table, _ = evaluate_models(train, after, k, n_boot=n_boot, seed=seed, **options)
    if table.accounts.iloc[0] == 0:
        result.skip("holdout", "No account bought a product new to it after the cut-off.")
        return "popularity"
    chosen, beats = _choose(table)
    table["chosen"] = table.model == chosen
    result.tables["holdout"] = table
    row, base = table.set_index("model").loc[chosen], table.set_index("model").loc["popularity"]
    result.facts.update(
        chosen=chosen, chosen_label=MODELS[chosen], beats=beats, best=row, base=base
    )
    result.figures.update(
        rec_model=chosen,
        rec_beats_popularity=beats,
        rec_holdout_accounts=int(row.accounts),
        rec_recall_new=row.recall, rec_recall_new_ci_low=row.recall_lo,
        rec_recall_new_ci_high=row.recall_hi,
        rec_popularity_recall_new=base.recall, rec_popularity_recall_new_ci_low=base.recall_lo,
        rec_popularity_recall_new_ci_high=base.recall_hi,
        rec_ndcg_new=row.ndcg, rec_coverage=row.coverage, rec_accounts_served=row.served,
    )  # fmt: skip
    return chosen


def analyse(
    ds,
    as_of=None,
    k: int = 10,
    *,
    holdout_weeks: int = 13,
    active_weeks: int = 52,
    neighbours: int = 20,
    factors: int = 16,
    n_boot: int = 1000,
    seed: int = 0,
) -> Analysis:
    """Both lists for every account with an order in the ``active_weeks`` before ``as_of``,
    and the holdout check that picks the "new" list's model (see the module docstring).

    Tables: ``holdout`` (one row per model), ``lists`` (account_id, kind, rank, sku, score,
    reason, model: the export), ``again`` and ``new`` (the lists with their details),
    ``top_products`` (products recommended most, with names and categories)."""
    k = validate.positive_int("k", k)
    holdout_weeks = validate.positive_int("holdout_weeks", holdout_weeks)
    active_weeks = validate.positive_int("active_weeks", active_weeks)
    result = Analysis.start("recommendations", SECTIONS, ds)
    if "accounts" in ds:
        ds, guests = tables.customers_only(ds)
        if guests:
            result.notes.append(f"{guests:,} guest accounts of the import are left out.")
    w = _window(ds, as_of, holdout_weeks, active_weeks)
    options = {"neighbours": neighbours, "factors": factors}
    chosen = _holdout_section(result, ds, w, k, n_boot, seed, options)
    summary = account_products(ds, None, w["end"])
    data = interactions(summary, co_purchases(ds, None, w["end"]))
    active = summary.loc[summary["last"] >= w["active_from"], "account_id"].unique()
    again = again_list(summary, w["end"], k, active)
    model = make_model(chosen, seed=seed, **options).fit(data.R, data.co)
    new = new_list(model, chosen, data, np.sort(active), k)
    lists = pd.concat([again[new.columns], new], ignore_index=True)
    lists = lists.sort_values(["account_id", "kind", "rank"], ignore_index=True)
    result.tables.update(lists=lists, again=again, new=new)
    result.facts.update(
        window=w, model=chosen, model_label=MODELS[chosen], accounts=len(active), k=k,
        due=int((again.score >= 1).sum()), products=len(data.skus),
    )  # fmt: skip
    result.figures.update(
        rec_k=k, rec_as_of=f"{w['as_of']:%Y-%m-%d}", rec_cutoff=f"{w['cutoff']:%Y-%m-%d}",
        rec_accounts_listed=len(active), rec_again_due=result.facts["due"],
    )  # fmt: skip
    if "rec_model" not in result.figures:
        result.figures.update(rec_model=chosen, rec_beats_popularity=False)
    if result.built("products"):
        result.tables["top_products"] = _top_products(ds, lists)
    return result


def _top_products(ds, lists: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` products on most accounts' lists per kind, with name and category."""
    p = ds.products.select("sku", product_name="name", category="category").to_pandas()
    top = lists.groupby(["kind", "sku"]).account_id.nunique().rename("accounts").reset_index()
    top = top.sort_values(["kind", "accounts", "sku"], ascending=[True, False, True])
    top = top.groupby("kind").head(n).merge(p.astype({"sku": str}), on="sku", how="left")
    return top[["kind", "sku", "product_name", "category", "accounts"]].reset_index(drop=True)


def definitions() -> dict[str, str]:
    """The report's metrics and how each is computed (its closing section)."""
    return {
        "Buy again": (
            "products the account bought before, ranked by days since its last order of the "
            "product ÷ its own re-order interval, (last − first order) ÷ (orders − 1); bought "
            "once: the product's median interval among accounts that re-order it. 1 = due today."
        ),
        "New to the account": "products the account never bought, ranked by the chosen model.",
        "Holdout check": (
            "each model fitted on orders before the cut-off (holdout_weeks before as_of) and "
            "scored on the products each account bought after it that it had never bought "
            "before (products already in the catalogue before the cut-off)."
        ),
        "Recall@k": "bought new products among the account's top k ÷ its bought new products; "
        "mean over accounts, 95 % percentile bootstrap interval over accounts.",
        "NDCG@k": "Σ over the top k of [bought] ÷ log2(rank + 1), divided by the same for a "
        "perfect list; mean over accounts, bootstrap interval.",
        "Catalogue coverage": "distinct products recommended to anyone ÷ catalogue products.",
        "Accounts served": "accounts given at least one product ÷ accounts evaluated.",
        "Chosen model": (
            "the model with the best recall@k among those whose interval lies above "
            "popularity's; popularity when none does."
        ),
    }
