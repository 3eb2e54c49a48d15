"""Procurement: the supplier scorecard."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.stats import wilson_interval
from helpers.supply_chain._base import (
    _days,
    _nonempty,
    _ts_between,
    period_bounds,
)

# ----------------------------------------------------------------------------- procurement


def supplier_scorecard(ds, start=None, end=None, warehouse: str | None = None) -> pd.DataFrame:
    """One row per supplier from the purchase orders placed in the period, ranked by score.

    Over POs received (``received_at`` set): on_time_rate = POs received by ``promised_at`` /
    POs received; in_full_rate = POs with ``qty_received >= qty_ordered`` / POs received (both
    with 95 % Wilson intervals); lead time = ``received_at - ordered_at`` in days (mean and
    sample sd); defect_rate = sum(defects) / sum(qty_received); price_variance =
    sum(po unit_cost x qty_ordered) / sum(list unit_cost x qty_ordered) - 1, the list cost
    being ``products.unit_cost``; spend = sum(unit_cost x qty_received), spend_share its share.
    score = on_time_rate x in_full_rate x (1 - defect_rate): the chance that a PO is on time,
    in full and a unit defect-free (the "perfect order" of the SCOR model); rank 1 = best.
    """
    lo, hi = period_bounds(ds, start, end)
    po = ds.purchase_orders
    po = po.filter(_ts_between(po.ordered_at, lo, hi))
    if warehouse:
        po = po.filter(po.warehouse_id == warehouse)
    p = ds.products.select("sku", "category", list_cost="unit_cost")
    j = po.join(p, "sku")
    rec = j.received_at.notnull()
    lead = _days(j.received_at, j.ordered_at)
    agg = j.group_by("supplier_id").aggregate(
        pos=j.count(),
        received=rec.cast("int64").sum(),
        on_time=(rec & (j.received_at <= j.promised_at)).cast("int64").sum(),
        in_full=(rec & (j.qty_received >= j.qty_ordered)).cast("int64").sum(),
        lead_mean_days=lead.mean(where=rec),
        lead_sd_days=lead.std(where=rec),
        units_received=j.qty_received.sum(),
        defects=j.defects.sum(),
        spend=(j.unit_cost * j.qty_received).sum(),
        po_value=(j.unit_cost * j.qty_ordered).sum(),
        list_value=(j.list_cost * j.qty_ordered).sum(),
        category=j.category.max(),
        skus=j.sku.nunique(),
    )
    s = ds.suppliers.select("supplier_id", supplier_region="region")
    out = _nonempty(agg.join(s, "supplier_id", how="left").to_pandas(), "purchase orders")
    out = out.drop(columns=[c for c in out.columns if c.endswith("_right")])
    for c in ("pos", "received", "on_time", "in_full", "units_received", "defects", "skus"):
        out[c] = out[c].fillna(0).astype("int64")
    rec_n = out.received.where(out.received > 0)
    out["on_time_rate"] = out.on_time / rec_n
    out["on_time_low"], out["on_time_high"] = wilson_interval(out.on_time, out.received)
    out["in_full_rate"] = out.in_full / rec_n
    out["in_full_low"], out["in_full_high"] = wilson_interval(out.in_full, out.received)
    out["defect_rate"] = out.defects / out.units_received.where(out.units_received > 0)
    out["price_variance"] = out.po_value / out.list_value.where(out.list_value > 0) - 1
    out["spend_share"] = out.spend / out.spend.sum() if out.spend.sum() > 0 else np.nan
    out["score"] = out.on_time_rate * out.in_full_rate * (1 - out.defect_rate)
    out = out.sort_values(["score", "supplier_id"], ascending=[False, True], na_position="last")
    out["rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)
