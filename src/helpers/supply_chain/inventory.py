"""Inventory: ABC/XYZ classes, turnover, days on hand, stock health."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from helpers.data import measures
from helpers.supply_chain._base import (
    NO_SALES,
    _catalogue,
    _complete_weeks,
    _date_between,
    _day,
    _nonempty,
    _orders,
    period_bounds,
)
from helpers.supply_chain.formulas import (
    _moments,
    abc_classes,
    xyz_classes,
)

# ----------------------------------------------------------------------------- inventory


def sku_classes(
    ds,
    start=None,
    end=None,
    warehouse: str | None = None,
    a: float = 0.8,
    b: float = 0.95,
    x: float = 0.5,
    y: float = 1.0,
) -> pd.DataFrame:
    """One row per SKU of the catalogue: revenue, weekly demand statistics, ABC and XYZ class.

    revenue = sum(quantity x unit_price x (1 - discount)) of the period's order lines; weekly
    demand = units ordered per whole Monday-Sunday week of the period (weeks with no order
    count as zero): mean, sample sd and CV = sd / mean (undefined, so "no sales", for SKUs
    never ordered). ``abc`` from :func:`abc_classes` on revenue, ``xyz`` from
    :func:`xyz_classes` on CV; ``cum_share`` is the cumulative revenue share in Pareto order.
    """
    lo, hi = period_bounds(ds, start, end)
    first, last, n_weeks = _complete_weeks(lo, hi)
    if n_weeks < 2:
        raise ValueError("sku_classes needs at least two whole weeks between start and end")
    o = _orders(ds, first, last, warehouse)
    li = ds.order_lines
    j = li.join(o, "order_id")
    weekly = j.group_by(sku=j.sku, week=j.order_ts.truncate("W")).aggregate(
        units=j.quantity.sum(),
        revenue=measures.line_revenue(j).sum(),
    )
    per_sku = weekly.group_by("sku").aggregate(
        revenue=weekly.revenue.sum(),
        units=weekly.units.sum(),
        units_sq=(weekly.units * weekly.units).sum(),
        weeks_with_sales=weekly.count(),
    )
    p = _catalogue(ds).select("sku", "category", "unit_cost", "list_price")
    out = p.to_pandas().merge(per_sku.to_pandas(), on="sku", how="left")
    out[["revenue", "units", "units_sq"]] = out[["revenue", "units", "units_sq"]].fillna(0.0)
    out["weeks_with_sales"] = out.weeks_with_sales.fillna(0).astype("int64")
    mean, sd = _moments(out.units, out.units_sq, n_weeks)
    out["weeks"] = n_weeks
    out["mean_weekly_units"] = mean
    out["sd_weekly_units"] = sd
    out["cv"] = np.where(mean > 0, sd / np.where(mean > 0, mean, 1.0), np.nan)
    out["abc"] = abc_classes(out.revenue, a, b)
    out["xyz"] = xyz_classes(out.cv, x, y)
    out = out.drop(columns="units_sq").sort_values(["revenue", "sku"], ascending=[False, True])
    total = out.revenue.sum()
    out["cum_share"] = out.revenue.cumsum() / total if total > 0 else np.nan
    out["sku_share"] = np.arange(1, len(out) + 1) / len(out)
    return out.reset_index(drop=True)


def abc_xyz_matrix(classes: pd.DataFrame) -> pd.DataFrame:
    """The ABC x XYZ matrix: SKUs and revenue (and revenue share) per pair of classes."""
    order = ["A", "B", "C", NO_SALES]
    xyz_order = ["X", "Y", "Z", NO_SALES]
    m = classes.groupby(["abc", "xyz"]).agg(skus=("sku", "count"), revenue=("revenue", "sum"))
    m = m.reset_index()
    m["revenue_share"] = m.revenue / m.revenue.sum() if m.revenue.sum() > 0 else np.nan
    m["abc"] = pd.Categorical(m.abc, order)
    m["xyz"] = pd.Categorical(m.xyz, xyz_order)
    return m.sort_values(["abc", "xyz"]).reset_index(drop=True)


def inventory_turnover(ds, start=None, end=None, warehouse: str | None = None) -> pd.DataFrame:
    """Turnover and days on hand per warehouse x category over the period.

    cogs = sum(quantity x unit_cost) of order lines shipped from the warehouse in the period;
    avg_inventory_value = sum over days of sum(on_hand x products.unit_cost) / days with stock
    records; turnover = cogs / avg_inventory_value (for the period), annual_turnover =
    turnover x 365 / days; days_on_hand = avg_inventory_value / (cogs / days). A pair with no
    sales has no turnover (0) and days_on_hand "no sales" (NaN, labelled in ``status``).
    """
    lo, hi = period_bounds(ds, start, end)
    inv = ds.inventory
    inv = inv.filter(_date_between(inv.date, lo, hi))
    if warehouse:
        inv = inv.filter(inv.warehouse_id == warehouse)
    p = ds.products.select("sku", "category", "unit_cost")
    ij = inv.join(p, "sku")
    stock = ij.group_by("warehouse_id", "category").aggregate(
        value_days=(ij.on_hand * ij.unit_cost).sum(), days=ij.date.nunique()
    )
    o = _orders(ds, lo, hi, warehouse)
    lj = ds.order_lines.join(o, "order_id").join(p.select("sku", "category"), "sku")
    cogs = lj.group_by("warehouse_id", "category").aggregate(
        cogs=(lj.quantity * lj.unit_cost).sum(), units=lj.quantity.sum()
    )
    out = _nonempty(stock.to_pandas(), "inventory records")
    out = out.merge(cogs.to_pandas(), on=["warehouse_id", "category"], how="left")
    out[["cogs", "units"]] = out[["cogs", "units"]].fillna(0.0)
    out["avg_inventory_value"] = out.value_days / out.days
    inv_pos = out.avg_inventory_value.where(out.avg_inventory_value > 0)
    out["turnover"] = (out.cogs / inv_pos).fillna(0.0)
    out["annual_turnover"] = out.turnover * 365 / out.days
    out["days_on_hand"] = out.avg_inventory_value / (out.cogs / out.days).where(out.cogs > 0)
    out["status"] = np.where(out.cogs > 0, "ok", NO_SALES)
    return (
        out.drop(columns="value_days")
        .sort_values(["warehouse_id", "category"])
        .reset_index(drop=True)
    )


def stock_health(
    ds,
    start=None,
    end=None,
    warehouse: str | None = None,
    excess_days: float = 90,
    dead_days: int = 180,
) -> pd.DataFrame:
    """One row per warehouse x SKU: stock-out days, closing stock, cover, excess and dead stock.

    stockout_days = days in the period with ``on_hand = 0``; closing on_hand = stock on the last
    inventory day of the period; avg_daily_units = units ordered from the warehouse in the
    period / days; cover_days = on_hand / avg_daily_units. Dead stock: on_hand > 0 and no order
    line for the SKU from the warehouse in the ``dead_days`` days up to the last inventory day
    (looking back before ``start`` too; dead_value = on_hand x unit_cost). Excess stock: units
    above ``excess_days`` of average demand, excess_units = max(0, on_hand - excess_days x
    avg_daily_units), excess_value at unit cost (dead stock is not counted again as excess).
    """
    lo, hi = period_bounds(ds, start, end)
    inv = ds.inventory
    inv = inv.filter(_date_between(inv.date, lo, hi))
    if warehouse:
        inv = inv.filter(inv.warehouse_id == warehouse)
    last_day = inv.aggregate(d=inv.date.max()).to_pandas().d.iloc[0]
    if pd.isna(last_day):
        raise ValueError("no inventory records in the selected period and warehouse")
    last_day = pd.Timestamp(last_day)
    per = inv.group_by("warehouse_id", "sku").aggregate(
        days=inv.date.nunique(),
        stockout_days=(inv.on_hand == 0).cast("int64").sum(),
        on_hand=inv.on_hand.max(where=inv.date == ibis.date(last_day.date())),
    )
    o = ds.orders
    o = o.filter(o.order_ts < ibis.timestamp(hi + pd.Timedelta(days=1)))
    if warehouse:
        o = o.filter(o.warehouse_id == warehouse)
    lj = ds.order_lines.join(o, "order_id")
    in_period = lj.order_ts >= ibis.timestamp(lo)
    sales = lj.group_by("warehouse_id", "sku").aggregate(
        units=lj.quantity.sum(where=in_period), last_sale=lj.order_ts.max()
    )
    p = ds.products.select("sku", "category", "unit_cost")
    out = per.to_pandas().merge(sales.to_pandas(), on=["warehouse_id", "sku"], how="left")
    out = out.merge(p.to_pandas(), on="sku", how="left")
    out["on_hand"] = out.on_hand.fillna(0).astype("int64")
    out["units"] = out.units.fillna(0.0).astype("float64")  # a filtered sum may come as Decimal
    n_days = (last_day - lo).days + 1
    out["avg_daily_units"] = out.units / n_days
    out["cover_days"] = out.on_hand / out.avg_daily_units.where(out.avg_daily_units > 0)
    since = (last_day + pd.Timedelta(days=1) - pd.to_datetime(out.last_sale)).dt.days
    out["days_since_sale"] = since
    dead = (out.on_hand > 0) & (out.last_sale.isna() | (since > dead_days))
    out["dead"] = dead
    out["dead_value"] = np.where(dead, out.on_hand * out.unit_cost, 0.0)
    excess = np.maximum(0.0, out.on_hand - excess_days * out.avg_daily_units)
    out["excess_units"] = np.where(dead, 0.0, excess)
    out["excess_value"] = out.excess_units * out.unit_cost
    out["stock_value"] = out.on_hand * out.unit_cost
    out["as_of"] = last_day
    return out.sort_values(["warehouse_id", "sku"]).reset_index(drop=True)


def stockouts_by_week(ds, start=None, end=None, warehouse: str | None = None) -> pd.DataFrame:
    """Stock-out days per Monday-Sunday week of the period's inventory records.

    week = the Monday; stockout_days = warehouse x SKU days with ``on_hand = 0``; sku_days =
    warehouse x SKU days recorded; stockout_share = stockout_days / sku_days; days = distinct
    days recorded. complete = the week lies inside the period (Monday on or after ``start``,
    Sunday on or before ``end``) and all 7 of its days are recorded.
    """
    lo, hi = period_bounds(ds, start, end)
    inv = ds.inventory
    inv = inv.filter(_date_between(inv.date, lo, hi))
    if warehouse:
        inv = inv.filter(inv.warehouse_id == warehouse)
    w = inv.group_by(week=inv.date.truncate("W").cast("date")).aggregate(
        stockout_days=(inv.on_hand == 0).cast("int64").sum(),
        sku_days=inv.count(),
        days=inv.date.nunique(),
    )
    out = _nonempty(w.to_pandas(), "inventory records")
    for c in ("stockout_days", "sku_days", "days"):
        out[c] = out[c].astype("int64")
    out["week"] = pd.to_datetime(out.week)
    out["stockout_share"] = out.stockout_days / out.sku_days
    sunday = out.week + pd.Timedelta(days=6)
    out["complete"] = (out.week >= _day(lo)) & (sunday <= _day(hi)) & (out.days == 7)
    return out.sort_values("week").reset_index(drop=True)
