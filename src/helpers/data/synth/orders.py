"""Orders and their lines: warehouse, promised delivery and ship time per order; lines whose
revenue approximates the order's Gamma-Gamma value; the order-value part of the truth.

Order values - Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for
customer base analysis", JMR 42(4)). ``nu_i ~ Gamma(q, rate gamma)``; each order's value ``z ~
Gamma(p, rate nu_i)``, so ``E[z | nu_i] = p / nu_i`` and ``E[z] = p gamma / (q - 1)``. The
order's lines are built so that their revenue ``sum(quantity * unit_price * (1 - discount))``
approximates ``z`` (the truth records the realised relative error). Ordered units add to the
daily demand per warehouse x SKU that the supply simulation serves.
"""

from __future__ import annotations

import numpy as np

from helpers.data import schema
from helpers.data.synth.accounts import CLUSTER_CATEGORY_MULTIPLIER, CLUSTERS
from helpers.data.synth.catalogue import (
    CATEGORIES,
    CATEGORY_MONTHLY,
    CATEGORY_SPEC,
    FAVOURITE_PROB,
    INDUSTRY_AFFINITY,
    PAIR_PROB,
)
from helpers.data.synth.common import (
    US_DAY,
    US_HOUR,
    WAREHOUSES,
    _choice_rows,
    _labels,
    _money,
    _rank_within,
    _ts,
)
from helpers.data.synth.context import Context
from helpers.data.synth.purchases import GAMMA_GAMMA
from helpers.data.synth.writer import Writer

OTHER_WAREHOUSE_PROB = 0.12
HANDLING_HOURS = {"shape": 2.0, "scale": 9.0, "min": 0.5}
PROMISED_DAYS = {"home": 4, "away": 6}

# Order lines: 1 + Poisson(LINES_MU * (z / E[z]) ** LINES_ELASTICITY) lines, capped.
LINES_MU, LINES_ELASTICITY, MAX_LINES = 5.0, 0.4, 20
PRICE_FACTOR_RANGE = (0.85, 1.15)
DISCOUNT_LEVELS = (0.0, 0.05, 0.10, 0.15)
DISCOUNT_PROBS = {  # by size band
    "micro": (0.80, 0.15, 0.05, 0.00),
    "small": (0.65, 0.22, 0.10, 0.03),
    "medium": (0.50, 0.28, 0.15, 0.07),
    "large": (0.35, 0.30, 0.22, 0.13),
}


def category_probs(cal_months: int = 12) -> np.ndarray:
    """P(category | month, industry, cluster) as cumulative sums, shape (12, industries,
    clusters, categories): base share x month x industry affinity x the cluster's preferred
    category multiplier (CLUSTER_CATEGORY_MULTIPLIER)."""
    base = np.array([CATEGORY_SPEC[c][2] for c in CATEGORIES])
    season = np.array([CATEGORY_MONTHLY[c] for c in CATEGORIES]).T  # (12, C)
    aff = np.ones((len(schema.INDUSTRIES), len(CATEGORIES)))
    for i, ind in enumerate(schema.INDUSTRIES):
        for c, m in INDUSTRY_AFFINITY.get(ind, {}).items():
            aff[i, CATEGORIES.index(c)] = m
    pref = np.ones((len(CLUSTERS), len(CATEGORIES)))
    for k, (_, _, _, category) in enumerate(CLUSTERS.values()):
        pref[k, CATEGORIES.index(category)] = CLUSTER_CATEGORY_MULTIPLIER
    p = base[None, None, None, :] * season[:, None, None, :] * aff[None, :, None, :]
    p = p * pref[None, None, :, :]
    p /= p.sum(axis=3, keepdims=True)
    return np.cumsum(p, axis=3)


def build_order_lines(
    rng: np.random.Generator,
    ctx: Context,
    value: np.ndarray,
    month: np.ndarray,
    industry: np.ndarray,
    size_band: np.ndarray,
    cluster: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Lines whose revenue approximates each order's drawn value ``z``.

    ``n_lines = 1 + Poisson(4 (z / E[z]) ** 0.4)`` (capped at 20, duplicate SKUs merged);
    category ~ P(category | month, industry, cluster) (seasonal mix x industry affinity x the
    planted cluster's preferred category), SKU ~ popularity within the category, then the
    planted affinities (:func:`plant_affinities`); discount from the size band's tiers; the
    order's value is split over lines with weights ``Gamma(1) * net_list ** 0.7`` (lines
    worth under half a unit are dropped and the value re-split, keeping at least the cheapest
    line);
    ``quantity = max(1, round(v / net_list))``;
    a negotiated price factor ``clip(z / sum(q net_list), 0.85, 1.15)`` on the list price closes
    the gap, so revenue = z except where the clip binds.
    """
    cat = ctx.cat
    mean_z = GAMMA_GAMMA["p"] * GAMMA_GAMMA["gamma"] / (GAMMA_GAMMA["q"] - 1)
    n_lines = 1 + rng.poisson(LINES_MU * (value / mean_z) ** LINES_ELASTICITY)
    n_lines = np.minimum(n_lines, MAX_LINES)
    pos = np.repeat(np.arange(len(value)), n_lines)
    cluster = np.zeros(len(value), dtype=np.int64) if cluster is None else cluster
    c = _choice_rows(rng, ctx.cat_cum[month[pos], industry[pos], cluster[pos]])
    sku = np.searchsorted(ctx.sku_keys, c + rng.random(len(pos)), side="right")
    sku = np.minimum(sku, cat.n_sku - 1)
    pos, sku = plant_affinities(rng, cat, pos, sku, c, cluster[pos])
    key = np.unique(pos * cat.n_sku + sku)
    pos, sku = key // cat.n_sku, key % cat.n_sku
    probs = np.array([DISCOUNT_PROBS[b] for b in schema.SIZE_BANDS])
    disc_idx = _choice_rows(rng, np.cumsum(probs, axis=1)[size_band[pos]])
    discount = np.array(DISCOUNT_LEVELS)[disc_idx]
    net_list = cat.list_price[sku] * (1 - discount)
    w = rng.gamma(1.0, 1.0, len(pos)) * net_list**0.7
    v = value[pos] * w / np.bincount(pos, weights=w, minlength=len(value))[pos]
    # lines worth less than half a unit are dropped (the order's cheapest line always stays)
    sub = v < 0.5 * net_list
    by_price = np.lexsort((net_list, pos))
    cheapest = np.zeros(len(pos), dtype=bool)
    cheapest[by_price[_rank_within(pos[by_price]) == 0]] = True
    keep = ~sub | (cheapest & (np.bincount(pos, weights=~sub, minlength=len(value)) == 0)[pos])
    pos, sku, discount, net_list, w = pos[keep], sku[keep], discount[keep], net_list[keep], w[keep]
    v = value[pos] * w / np.bincount(pos, weights=w, minlength=len(value))[pos]
    qty = np.maximum(1, np.round(v / net_list)).astype(np.int64)
    realised = np.bincount(pos, weights=qty * net_list, minlength=len(value))
    factor = np.clip(value / realised, *PRICE_FACTOR_RANGE)
    unit_price = _money(cat.list_price[sku] * factor[pos])
    revenue = np.bincount(pos, weights=qty * unit_price * (1 - discount), minlength=len(value))
    ctx.value_errors.append(revenue / value - 1)
    return {
        "pos": pos,
        "line_no": _rank_within(pos) + 1,
        "sku": sku,
        "quantity": qty,
        "unit_price": unit_price,
        "unit_cost": cat.unit_cost[sku],
        "discount": discount,
    }


def plant_affinities(
    rng: np.random.Generator,
    cat,
    pos: np.ndarray,
    sku: np.ndarray,
    category: np.ndarray,
    cluster: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster favourites and pairs bought together (catalogue.FAVOURITE_PROB, PAIR_PROB).

    A line of category ``c`` drawn for an account of cluster ``k`` where ``k`` has ``n > 0``
    favourites in ``c`` becomes favourite ``floor(U n)`` with probability FAVOURITE_PROB (the
    category mix is unchanged); then every line of an anchor SKU gets its companion as an extra
    line of the same order with probability PAIR_PROB (merged if the order already has it)."""
    fav = cat.favourites[cluster, category]  # (lines, FAVOURITES)
    n_fav = (fav >= 0).sum(axis=1)
    swap = (rng.random(len(sku)) < FAVOURITE_PROB) & (n_fav > 0)
    pick = np.floor(rng.random(len(sku)) * np.maximum(n_fav, 1)).astype(np.int64)
    sku = np.where(swap, fav[np.arange(len(sku)), pick], sku)
    mate = cat.companion[sku]
    add = (mate >= 0) & (rng.random(len(sku)) < PAIR_PROB)
    return np.concatenate([pos, pos[add]]), np.concatenate([sku, mate[add]])


def make_orders_chunk(rng: np.random.Generator, ctx: Context, lo: int, hi: int) -> dict:
    """Orders of accounts ``lo:hi``: warehouse, promised delivery, ship time, value, lines."""
    acc, cal, book = ctx.accounts, ctx.cal, ctx.book
    r0, r1 = book.starts[lo], (book.starts[hi] if hi < len(acc) else len(book.ts))
    owner, ts, oid = book.owner[r0:r1], book.ts[r0:r1], book.order_id[r0:r1]
    n = len(ts)
    wh = acc.home_wh[owner].copy()
    other = rng.random(n) < OTHER_WAREHOUSE_PROB
    wh[other] = (wh[other] + rng.integers(1, len(WAREHOUSES), other.sum())) % len(WAREHOUSES)
    home = (wh == acc.home_wh[owner]) & np.isin(acc.region[owner], [0, 1, 2])
    day_us = ts // US_DAY * US_DAY
    promised = day_us + np.where(home, PROMISED_DAYS["home"], PROMISED_DAYS["away"]) * US_DAY
    promised += 18 * US_HOUR
    handling = HANDLING_HOURS["min"] + rng.gamma(
        HANDLING_HOURS["shape"], HANDLING_HOURS["scale"], n
    )
    shipped_at = ts + (handling * US_HOUR).astype(np.int64)
    value = rng.gamma(GAMMA_GAMMA["p"], 1.0 / acc.nu[owner])
    day = (ts - cal.start_us) // US_DAY
    month = cal.month[day]
    lines = build_order_lines(
        rng, ctx, value, month, acc.industry[owner], acc.size_band[owner], acc.cluster[owner]
    )
    ship_day = (shipped_at - cal.start_us) // US_DAY
    ok = shipped_at < cal.end_us
    lp = lines["pos"]
    sel = ok[lp]
    np.add.at(
        ctx.demand, (ship_day[lp][sel], wh[lp][sel], lines["sku"][sel]), lines["quantity"][sel]
    )
    return {
        "owner": owner,
        "order_id": oid,
        "ts": ts,
        "wh": wh,
        "home": home,
        "promised": promised,
        "shipped_at": shipped_at,
        **{f"line_{k}": v for k, v in lines.items()},
    }


def write_orders(w: Writer, o: dict, ctx: Context) -> None:
    acc = ctx.accounts
    srt = np.argsort(o["order_id"], kind="stable")
    w.write(
        "orders",
        {
            "order_id": o["order_id"][srt],
            "account_id": acc.account_id[o["owner"][srt]],
            "order_ts": _ts(o["ts"][srt]),
            "warehouse_id": _labels(WAREHOUSES, o["wh"][srt]),
            "promised_delivery": _ts(o["promised"][srt]),
        },
    )
    rank = np.empty_like(srt)
    rank[srt] = np.arange(len(srt))
    lsrt = np.lexsort((o["line_line_no"], rank[o["line_pos"]]))
    w.write(
        "order_lines",
        {
            "order_id": o["order_id"][o["line_pos"][lsrt]],
            "line_no": o["line_line_no"][lsrt],
            "sku": _labels(ctx.cat.sku, o["line_sku"][lsrt]),
            "quantity": o["line_quantity"][lsrt],
            "unit_price": o["line_unit_price"][lsrt],
            "unit_cost": o["line_unit_cost"][lsrt],
            "discount": o["line_discount"][lsrt],
        },
    )


def order_value_truth(value_errors: list) -> dict:
    """The Gamma-Gamma parameters and the realised relative error of order revenue vs z."""
    errors = np.concatenate(value_errors) if value_errors else np.zeros(1)
    return {
        "model": "Gamma-Gamma",
        "reference": "Fader, Hardie & Lee (2005), JMR 42(4), 415-430",
        **GAMMA_GAMMA,
        "nu": "Gamma(shape q, rate gamma) per account",
        "z": "order value ~ Gamma(shape p, rate nu_i)",
        "mean_order_value": GAMMA_GAMMA["p"] * GAMMA_GAMMA["gamma"] / (GAMMA_GAMMA["q"] - 1),
        "revenue": "order value = sum(quantity * unit_price * (1 - discount)) of its lines",
        "relative_error": {
            "median_abs": float(np.median(np.abs(errors))),
            "p95_abs": float(np.quantile(np.abs(errors), 0.95)),
            "share_within_5pct": float(np.mean(np.abs(errors) <= 0.05)),
            "mean": float(errors.mean()),
        },
        "price_factor_range": PRICE_FACTOR_RANGE,
    }
