"""Supply: daily stock per warehouse x SKU under an (s, S) reorder policy, purchase orders to
the suppliers; the purchase_orders and inventory tables and the supply truth.

(s, S) reorder policy reviewed daily per warehouse x SKU (Scarf 1960), with levels from the
planner's monthly demand forecast (the true monthly mean, so seasonality is known); supplier
lead time ``max(1, round(Normal(mean, sd)))`` days, in-full with a probability, defects
``Binomial(received, defect_rate)``, price ``unit_cost * LogNormal(0, price_sd)``.
``on_hand(d) = on_hand(d-1) + (received - defects on d) - shipped(d)``, never negative; when
stock runs short the order ships what there is (lost sales, no backorders).
"""

from __future__ import annotations

import numpy as np

from helpers.data.synth.catalogue import CATEGORIES
from helpers.data.synth.common import (
    OFFICE_HOURS,
    US_DAY,
    US_HOUR,
    WAREHOUSES,
    Calendar,
    _dates,
    _labels,
    _money,
    _time_of_day,
    _ts,
)
from helpers.data.synth.context import Context
from helpers.data.synth.writer import Writer

REORDER = {
    "review_days": 2.0,
    "service_z": 2.0,
    "cycle_days": 14.0,
    "min_stock": 5,
    "forecast_days": 14,
}


def pack_size(list_price: np.ndarray) -> np.ndarray:
    return np.select([list_price < 20, list_price < 100, list_price < 500], [50, 10, 5], 1)


def window_months(cal: Calendar) -> np.ndarray:
    """Index of each day's calendar month within the window (0 = the first month)."""
    days = (np.arange(cal.n_days) + cal.start_day).astype("datetime64[D]")
    m = days.astype("datetime64[M]").astype(np.int64)
    return m - m[0]


def reorder_levels(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(s, S) per window month x warehouse x SKU: the planner knows each month's mean demand.

    ``s = ceil(mu_m (L + R) + z sqrt((L + R) sd^2 + mu_m^2 sd_L^2))`` with ``mu_m`` the mean
    daily demand of the month, ``sd`` the sd of daily demand over the window, L and sd_L the
    supplier's lead-time mean and sd, R = 2 review days, z = 2.0;
    ``S = s + max(ceil(mu_m * 14), pack)``; every pair holds at least 5 units. On day t the
    levels of the month of day ``t + 14`` apply (orders placed now arrive then).
    """
    cat = ctx.cat
    month = window_months(ctx.cal)
    n_m = int(month[-1]) + 1
    mu = np.zeros((n_m,) + ctx.demand.shape[1:])
    np.add.at(mu, month, ctx.demand)
    mu /= np.bincount(month, minlength=n_m)[:, None, None]
    sd = ctx.demand.std(axis=0)[None]
    horizon = cat.lead_mean[cat.supplier][None, None, :] + REORDER["review_days"]
    sd_lead = cat.lead_sd[cat.supplier][None, None, :]
    safety = REORDER["service_z"] * np.sqrt(horizon * sd**2 + mu**2 * sd_lead**2)
    s = np.ceil(mu * horizon + safety)
    pack = pack_size(cat.list_price)[None, None, :]
    big_s = s + np.maximum(np.ceil(mu * REORDER["cycle_days"]), pack)
    big_s = np.maximum(big_s, REORDER["min_stock"])
    return s.astype(np.int64), big_s.astype(np.int64)


def simulate_inventory(
    rng: np.random.Generator, ctx: Context
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Daily stock per warehouse x SKU under the (s, S) policy.

    Day t: ``available = on_hand + usable receipts``; ``shipped = min(available, demand)``;
    ``on_hand = available - shipped``; if ``on_hand + on_order <= s`` a PO for
    ``S - position`` (rounded up to the pack size) goes to the SKU's supplier at the end of the
    day. Its lead time is ``max(1, round(Normal(mean, sd)))`` days; it arrives in full with
    ``in_full_prob``, else 50-95 % of it; ``defects ~ Binomial(received, defect_rate)`` go back
    to the supplier, the rest is stocked. POs still due after end_date have no receipt.
    Returns (on_hand, shipped) of shape (days, warehouses, skus) and the PO columns.
    """
    cat, cal = ctx.cat, ctx.cal
    n_days = cal.n_days
    s_m, big_s_m = reorder_levels(ctx)
    plan_month = window_months(cal)[
        np.minimum(np.arange(n_days) + REORDER["forecast_days"], n_days - 1)
    ]
    on_hand = big_s_m[plan_month[0]].copy()
    on_order = np.zeros_like(on_hand)
    pad = n_days + int(cat.lead_mean.max() + 6 * cat.lead_sd.max()) + 5
    receipts = np.zeros((pad,) + on_hand.shape, dtype=np.int32)
    arriving = np.zeros_like(receipts)
    hist = np.empty((n_days,) + on_hand.shape, dtype=np.int32)
    shipped = np.empty_like(hist)
    pack = pack_size(cat.list_price)
    po = {k: [] for k in ("day", "wh", "sku", "qty", "lead", "received", "defects")}
    for t in range(n_days):
        avail = on_hand + receipts[t]
        on_order -= arriving[t]
        ship = np.minimum(avail, ctx.demand[t])
        on_hand = avail - ship
        hist[t], shipped[t] = on_hand, ship
        position = on_hand + on_order
        s, big_s = s_m[plan_month[t]], big_s_m[plan_month[t]]
        w_idx, s_idx = np.nonzero(position <= s)
        if len(w_idx) == 0:
            continue
        qty = big_s[w_idx, s_idx] - position[w_idx, s_idx]
        qty = np.maximum(pack[s_idx], -(-qty // pack[s_idx]) * pack[s_idx])
        sup = cat.supplier[s_idx]
        lead = np.maximum(1, np.round(rng.normal(cat.lead_mean[sup], cat.lead_sd[sup])))
        lead = np.minimum(lead, pad - t - 1).astype(np.int64)
        in_full = rng.random(len(qty)) < cat.in_full_prob[sup]
        received = np.where(
            in_full, qty, np.maximum(1, np.floor(qty * rng.uniform(0.5, 0.95, len(qty))))
        ).astype(np.int64)
        defects = rng.binomial(received, cat.defect_rate[sup])
        arrive = t + lead
        received = np.where(arrive < n_days, received, 0)
        defects = np.where(arrive < n_days, defects, 0)
        receipts[arrive, w_idx, s_idx] += received - defects
        arriving[arrive, w_idx, s_idx] += qty
        on_order[w_idx, s_idx] += qty
        new = (np.full(len(qty), t), w_idx, s_idx, qty, lead, received, defects)
        for key, val in zip(po, new, strict=True):
            po[key].append(val)
    po = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in po.items()}
    return hist, shipped, po


def write_purchase_orders(w: Writer, rng: np.random.Generator, ctx: Context, po: dict) -> None:
    cat, cal = ctx.cat, ctx.cal
    n = len(po["day"])
    srt = np.lexsort((po["sku"], po["wh"], po["day"]))
    po = {k: v[srt] for k, v in po.items()}
    sup = cat.supplier[po["sku"]]
    day_us = cal.start_us + po["day"] * US_DAY
    ordered = day_us + 16 * US_HOUR + rng.integers(0, 3 * US_HOUR, n)
    promised = day_us + cat.quoted_lead[sup] * US_DAY + 17 * US_HOUR
    received_at = day_us + po["lead"] * US_DAY + _time_of_day(rng, n, OFFICE_HOURS)
    open_ = received_at >= cal.end_us
    cost = _money(cat.unit_cost[po["sku"]] * np.exp(cat.price_sd[sup] * rng.standard_normal(n)))
    w.write(
        "purchase_orders",
        {
            "po_id": 500_001 + np.arange(n, dtype=np.int64),
            "supplier_id": _labels(cat.supplier_id, sup),
            "sku": _labels(cat.sku, po["sku"]),
            "warehouse_id": _labels(WAREHOUSES, po["wh"]),
            "qty_ordered": po["qty"],
            "qty_received": np.where(open_, 0, po["received"]),
            "ordered_at": _ts(ordered),
            "promised_at": _ts(promised),
            "received_at": _ts(received_at, open_),
            "unit_cost": cost,
            "defects": np.where(open_, 0, po["defects"]),
        },
    )


def write_inventory(w: Writer, ctx: Context, on_hand: np.ndarray, rows_per_part: int) -> None:
    n_days, n_wh, n_sku = on_hand.shape
    days_per_part = max(1, rows_per_part // (n_wh * n_sku))
    wh = np.repeat(np.arange(n_wh), n_sku)
    sku = np.tile(np.arange(n_sku), n_wh)
    for d0 in range(0, n_days, days_per_part):
        d1 = min(n_days, d0 + days_per_part)
        k = d1 - d0
        w.write(
            "inventory",
            {
                "date": _dates(np.repeat(ctx.cal.start_day + np.arange(d0, d1), n_wh * n_sku)),
                "warehouse_id": _labels(WAREHOUSES, np.tile(wh, k)),
                "sku": _labels(ctx.cat.sku, np.tile(sku, k)),
                "on_hand": on_hand[d0:d1].reshape(-1).astype(np.int64),
            },
        )


def supply_truth(
    ctx: Context, on_hand: np.ndarray, shipped: np.ndarray, po: dict, fulfilment: dict
) -> dict:
    """Supplier reliability, the reorder and inventory rules, fill rate and stock-outs; the
    ``fulfilment`` keys (short / late shares, carriers) go between the stock-outs and the count
    of purchase orders."""
    cat = ctx.cat
    demand_total = ctx.demand.sum()
    return {
        "warehouses": WAREHOUSES,
        "suppliers": {
            cat.supplier_id[i]: {
                "on_time_prob": cat.on_time_prob[i],
                "in_full_prob": cat.in_full_prob[i],
                "lead_time_mean_days": cat.lead_mean[i],
                "lead_time_sd_days": cat.lead_sd[i],
                "quoted_lead_days": cat.quoted_lead[i],
                "defect_rate": cat.defect_rate[i],
                "price_sd": cat.price_sd[i],
                "category": CATEGORIES[cat.supplier_category[i]],
            }
            for i in range(len(cat.supplier_id))
        },
        "lead_time": "max(1, round(Normal(mean, sd))) days; on time = received_at <= "
        "promised_at; on_time_prob = Phi((quoted + 0.5 - mean) / sd)",
        "in_full": "qty_received = qty_ordered with in_full_prob, else U(0.5, 0.95) of it",
        "defects": "Binomial(qty_received, defect_rate); defective units are not stocked",
        "price": "PO unit_cost = product unit_cost * LogNormal(0, price_sd)",
        "reorder_policy": {**REORDER, "rule": reorder_levels.__doc__.strip()},
        "inventory_rule": "on_hand(d) = on_hand(d-1) + sum(qty_received - defects of POs "
        "received on d) - sum(qty_shipped of shipments shipped on d), per warehouse; "
        "returns are not restocked; unfilled demand is lost (no backorders)",
        "fill_rate_units": float(shipped.sum() / max(demand_total, 1)),
        "stockout_share_of_sku_days": float(np.mean(on_hand == 0)),
        **fulfilment,
        "purchase_orders": len(po["day"]),
    }
