"""Replenishment: safety stock, reorder point and order quantity per warehouse x SKU."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from helpers import validate
from helpers.supply_chain._base import (
    _day,
    _orders,
)
from helpers.supply_chain.formulas import (
    _moments,
    eoq,
    reorder_point,
    safety_stock,
    z_value,
)

# ----------------------------------------------------------------------------- replenishment


def replenishment(
    ds,
    service_level: float = 0.95,
    order_cost: float = 50.0,
    holding_rate: float = 0.25,
    lookback_days: int = 182,
    as_of=None,
    warehouse: str | None = None,
    daily_forecast: pd.Series | None = None,
    scorecard: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Safety stock, reorder point and EOQ per warehouse x SKU, against the stock position.

    Demand: units ordered per day over the ``lookback_days`` days ending ``as_of`` (default the
    last inventory day): sd sigma_d (days without orders count as 0) and mean. When
    ``daily_forecast`` (units/day per category) is given, d = category forecast x the SKU's
    share of its category's units in the lookback, otherwise d = the historic mean.
    Lead time: mean L and sd sigma_L of the SKU supplier's received POs (``scorecard``), else
    ``products.lead_time_days`` with sigma_L = 0. Without a purchase_orders table nothing is
    on order.
    SS = z sqrt(L sigma_d^2 + d^2 sigma_L^2) (:func:`safety_stock`); ROP = d L + SS;
    EOQ = sqrt(2 D S / H) with D = 365 d, S = order_cost, H = holding_rate x unit_cost.
    position = on_hand on ``as_of`` + units on open POs (ordered by then, not yet received);
    reorder = position <= ROP; order_qty = max(EOQ, ROP - position) rounded up. SKUs without
    demand in the lookback get status "no demand" and are never flagged.
    """
    validate.at_least("lookback_days", lookback_days, 14)
    validate.positive("holding_rate", holding_rate)
    validate.non_negative("order_cost", order_cost)
    z_value(service_level)
    inv = ds.inventory
    if warehouse:
        inv = inv.filter(inv.warehouse_id == warehouse)
    if as_of is None:
        as_of = inv.aggregate(d=inv.date.max()).to_pandas().d.iloc[0]
        if pd.isna(as_of):
            raise ValueError("no inventory records for the selected warehouse")
    as_of = _day(as_of)
    lo = as_of - pd.Timedelta(days=lookback_days - 1)
    stock = inv.filter(inv.date == ibis.date(as_of.date())).select("warehouse_id", "sku", "on_hand")
    stock_df = stock.to_pandas()
    if stock_df.empty:
        raise ValueError(f"no inventory records on {as_of:%Y-%m-%d} (as_of)")
    o = _orders(ds, lo, as_of, warehouse)
    lj = ds.order_lines.join(o, "order_id")
    daily = lj.group_by("warehouse_id", "sku", day=lj.order_ts.date()).aggregate(
        units=lj.quantity.sum()
    )
    dem = daily.group_by("warehouse_id", "sku").aggregate(
        s1=daily.units.sum(), s2=(daily.units * daily.units).sum()
    )
    p = ds.products.select("sku", "category", "unit_cost", "supplier_id", "lead_time_days")
    out = stock_df.merge(dem.to_pandas(), on=["warehouse_id", "sku"], how="left")
    out = out.merge(_on_order(ds, as_of, warehouse), on=["warehouse_id", "sku"], how="left")
    out = out.merge(p.to_pandas(), on="sku", how="left")
    out[["s1", "s2", "on_order"]] = out[["s1", "s2", "on_order"]].fillna(0.0)
    hist_mean, sd = _moments(out.s1, out.s2, lookback_days)
    out["hist_daily_mean"], out["daily_sd"] = hist_mean, sd
    out["daily_demand"] = _daily_demand(out, hist_mean, daily_forecast)
    _lead_times(out, scorecard)
    d = out.daily_demand.clip(lower=0.0)
    out["safety_stock"] = safety_stock(
        service_level, d, out.daily_sd, out.lead_mean_days, out.lead_sd_days
    )
    out["reorder_point"] = reorder_point(d, out.lead_mean_days, out.safety_stock)
    holding = holding_rate * out.unit_cost.where(out.unit_cost > 0, np.nan)
    out["eoq"] = np.where(holding.notna(), eoq(365 * d, order_cost, holding.fillna(1.0)), np.nan)
    out["position"] = out.on_hand + out.on_order
    demand = d > 0
    out["status"] = np.where(demand, "ok", "no demand")
    out["reorder"] = demand & (out.position <= out.reorder_point)
    out.loc[out.reorder, "status"] = "reorder now"
    need = np.ceil(np.maximum(out.eoq.fillna(0), out.reorder_point - out.position))
    out["order_qty"] = np.where(out.reorder, need, 0).astype("int64")
    out["order_value"] = out.order_qty * out.unit_cost
    out["as_of"] = as_of
    out = out.drop(columns=["s1", "s2"])
    return out.sort_values(["warehouse_id", "sku"]).reset_index(drop=True)


def _daily_demand(out: pd.DataFrame, hist_mean, daily_forecast: pd.Series | None):
    """d per row: the category's forecast units per day x the SKU's share of the category's
    units in the lookback (``s1``), else the historic mean ``hist_mean``."""
    if daily_forecast is None:
        return hist_mean
    cat_units = out.groupby("category").s1.transform("sum")
    share = out.s1 / cat_units.where(cat_units > 0)
    fc = out.category.map(daily_forecast)
    return np.where(fc.notna() & share.notna(), fc * share, hist_mean)


def _lead_times(out: pd.DataFrame, scorecard: pd.DataFrame | None) -> None:
    """Set ``lead_mean_days`` / ``lead_sd_days`` of each row of ``out``: its supplier's
    measured lead time (mean, sd) when the scorecard has two received POs or more, else
    ``products.lead_time_days`` with sd 0."""
    out["lead_mean_days"] = out.lead_time_days.astype(float)
    out["lead_sd_days"] = 0.0
    if scorecard is not None and len(scorecard):
        sc = scorecard.set_index("supplier_id")
        ok = sc[(sc.received >= 2) & sc.lead_mean_days.notna()]
        has = out.supplier_id.isin(ok.index)
        out.loc[has, "lead_mean_days"] = out.loc[has, "supplier_id"].map(ok.lead_mean_days)
        out.loc[has, "lead_sd_days"] = out.loc[has, "supplier_id"].map(ok.lead_sd_days.fillna(0))


def _on_order(ds, as_of: pd.Timestamp, warehouse) -> pd.DataFrame:
    """Units on open purchase orders per warehouse x SKU on ``as_of`` (ordered by then, not
    yet received); empty without a purchase_orders table."""
    if "purchase_orders" not in ds:
        return pd.DataFrame({"warehouse_id": [], "sku": [], "on_order": []}).astype(
            {"warehouse_id": object, "sku": object, "on_order": float}
        )
    po = ds.purchase_orders
    cutoff = ibis.timestamp(as_of + pd.Timedelta(days=1))
    open_po = po.filter(
        (po.ordered_at < cutoff) & (po.received_at.isnull() | (po.received_at >= cutoff))
    )
    if warehouse:
        open_po = open_po.filter(open_po.warehouse_id == warehouse)
    return (
        open_po.group_by("warehouse_id", "sku")
        .aggregate(on_order=open_po.qty_ordered.sum())
        .to_pandas()
    )
