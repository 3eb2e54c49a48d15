"""Fulfilment: units shipped per order line from the simulated stock, one shipment per order
(carrier, transit, cost); the shipments table and the delivery part of the supply truth."""

from __future__ import annotations

import numpy as np

from helpers.data.synth.common import US_DAY, _choice, _cumsum_within, _labels, _money, _ts
from helpers.data.synth.context import Context
from helpers.data.synth.orders import PROMISED_DAYS
from helpers.data.synth.writer import Writer

# Carriers: mean transit days, fixed cost, cost per unit ** 0.7, choice weight
CARRIERS = {
    "SwiftFreight": (1.8, 18.0, 0.60, 0.30),
    "NorthStar Logistics": (2.5, 14.0, 0.50, 0.30),
    "Lianhe Express": (2.9, 10.0, 0.45, 0.25),
    "Bluebird Parcel": (2.2, 22.0, 0.70, 0.15),
}
CROSS_REGION_EXTRA_DAYS = 1.5
TRANSIT_SIGMA = 0.35


def allocate_shipped(
    ctx: Context, o: dict, shipped: np.ndarray, consumed: np.ndarray
) -> np.ndarray:
    """Units shipped per line: lines take the day's shipped stock of their (warehouse, SKU) in
    chunk order, then ship time; ``shipped_line = clip(shipped_total - demand_before, 0, q)``,
    so the lines of a (day, warehouse, SKU) add up to exactly the simulated shipments."""
    cal = ctx.cal
    lp = o["line_pos"]
    ship_day = (o["shipped_at"][lp] - cal.start_us) // US_DAY
    ok = o["shipped_at"][lp] < cal.end_us
    out = np.zeros(len(lp), dtype=np.int64)
    rows = np.flatnonzero(ok)
    flat = np.ravel_multi_index(
        (ship_day[rows], o["wh"][lp][rows], o["line_sku"][rows]), shipped.shape
    )
    srt = np.lexsort((o["shipped_at"][lp][rows], flat))
    rows, flat = rows[srt], flat[srt]
    q = o["line_quantity"][rows]
    before = consumed.reshape(-1)[flat] + _cumsum_within(q, flat, exclusive=True)
    out[rows] = np.clip(shipped.reshape(-1)[flat] - before, 0, q)
    np.add.at(consumed.reshape(-1), flat, q)
    return out


def make_fulfilment(
    rng: np.random.Generator, ctx: Context, o: dict, line_shipped: np.ndarray
) -> dict:
    """One shipment per order with at least one unit shipped: carrier by CARRIERS weights;
    delivery after LogNormal(mean transit, 0.35) days (+1.5 days out of region); cost =
    fixed + per_unit * units ** 0.7 (x1.3 out of region). Delivery after end_date is null."""
    cal = ctx.cal
    n = len(o["order_id"])
    qty = np.bincount(o["line_pos"], weights=line_shipped, minlength=n).astype(np.int64)
    ordered = np.bincount(o["line_pos"], weights=o["line_quantity"], minlength=n).astype(np.int64)
    spec = np.array(list(CARRIERS.values()))
    carrier = _choice(rng, n, spec[:, 3])
    transit = spec[carrier, 0] * np.exp(TRANSIT_SIGMA * rng.standard_normal(n))
    transit = transit + np.where(o["home"], 0.0, CROSS_REGION_EXTRA_DAYS)
    delivered = o["shipped_at"] + (transit * US_DAY).astype(np.int64)
    cost = spec[carrier, 1] + spec[carrier, 2] * qty**0.7
    cost = _money(cost * np.where(o["home"], 1.0, 1.3))
    has = (qty > 0) & (o["shipped_at"] < cal.end_us)
    return {
        "has": has,
        "qty": qty,
        "ordered": ordered,
        "carrier": carrier,
        "delivered": delivered,
        "delivered_null": delivered >= cal.end_us,
        "cost": cost,
        "short": has & (qty < ordered),
        "late": has & (delivered > o["promised"]),
    }


def write_shipments(w: Writer, ctx: Context, o: dict, f: dict) -> None:
    rows = np.flatnonzero(f["has"])
    rows = rows[np.argsort(o["shipped_at"][rows], kind="stable")]
    w.write(
        "shipments",
        {
            "shipment_id": ctx.ids.take("shipment", len(rows), start=2_000_001),
            "order_id": o["order_id"][rows],
            "carrier": _labels(list(CARRIERS), f["carrier"][rows]),
            "shipped_at": _ts(o["shipped_at"][rows]),
            "delivered_at": _ts(f["delivered"][rows], f["delivered_null"][rows]),
            "qty_shipped": f["qty"][rows],
            "cost": f["cost"][rows],
        },
    )


def new_fulfilment_stats() -> dict:
    """Counters :func:`add_fulfilment_stats` fills chunk by chunk."""
    return {
        "orders": 0,
        "short": 0,
        "late": 0,
        "shipped_orders": 0,
        "by_carrier": np.zeros(len(CARRIERS), dtype=np.int64),
        "late_by_carrier": np.zeros(len(CARRIERS), dtype=np.int64),
    }


def add_fulfilment_stats(stats_: dict, o: dict, f: dict) -> None:
    """Add a chunk's orders, shipped / short / late orders and shipments per carrier."""
    stats_["orders"] += len(o["order_id"])
    stats_["shipped_orders"] += int(f["has"].sum())
    stats_["short"] += int(f["short"].sum())
    stats_["late"] += int(f["late"].sum())
    has = f["has"]
    stats_["by_carrier"] += np.bincount(f["carrier"][has], minlength=len(CARRIERS))
    stats_["late_by_carrier"] += np.bincount(f["carrier"][has & f["late"]], minlength=len(CARRIERS))


def fulfilment_truth(fulfil: dict) -> dict:
    """Short-shipped and late shares, per-carrier late share and parameters."""
    return {
        "orders_short_shipped_share": fulfil["short"] / max(fulfil["shipped_orders"], 1),
        "orders_late_share": fulfil["late"] / max(fulfil["shipped_orders"], 1),
        "carriers": {
            name: {
                "late_share": fulfil["late_by_carrier"][i] / max(fulfil["by_carrier"][i], 1),
                "transit_days_mean": v[0],
                "fixed_cost": v[1],
                "cost_per_unit_pow07": v[2],
                "share": v[3],
            }
            for i, (name, v) in enumerate(CARRIERS.items())
        },
        "cross_region_extra_days": CROSS_REGION_EXTRA_DAYS,
        "promised_days": PROMISED_DAYS,
    }
