"""Supply chain: suppliers, stock, replenishment, delivery and the weekly demand forecast.

The supply-chain report's helpers. Every aggregation over the big tables (order lines,
purchase orders, daily inventory, shipments) is an Ibis expression, so it runs on DuckDB or
Spark; only small results (one row per supplier, SKU x warehouse, carrier, week x category...)
reach pandas, where the inventory formulas, the classifications and the statsmodels forecast
run.

Formulas and references
-----------------------
- Safety stock with demand and lead-time variability (Silver, Pyke & Thomas, *Inventory and
  Production Management in Supply Chains*, 4th ed., 2017, ch. 6; Chopra & Meindl, *Supply
  Chain Management*, ch. 12): ``SS = z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2)``, with
  ``z = Phi^-1(service level)`` (cycle service level), d and sigma_d the mean and sd of daily
  demand, L and sigma_L the mean and sd of the lead time in days.
- Reorder point: ``ROP = d * L + SS``.
- Economic order quantity (Harris 1913, "How many parts to make at once", *Factory, The
  Magazine of Management* 10(2)): ``EOQ = sqrt(2 D S / H)``, D annual demand in units, S the
  cost of placing one order, H the cost of holding one unit for a year (rate x unit cost).
- ABC (Pareto) classes by revenue and XYZ classes by the coefficient of variation of weekly
  demand, ``CV = sd / mean`` (e.g. Scholz-Reiter et al. 2012, "Dynamic ABC-XYZ analysis").
- OTIF: an order is on time when its last delivery arrives by the promised date and in full
  when the units shipped cover the units ordered.
- MASE (Hyndman & Koehler 2006, "Another look at measures of forecast accuracy", IJF 22(4)):
  forecast MAE divided by the in-sample MAE of the seasonal-naive forecast.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from scipy.stats import norm

from helpers import validate
from helpers.data import measures
from helpers.data.tables import UNKNOWN, derive_accounts
from helpers.sections import Analysis, Section
from helpers.stats import wilson_interval

__all__ = [
    "CORE",
    "FORMATS",
    "NO_SALES",
    "OPTIONAL",
    "SECTIONS",
    "abc_classes",
    "abc_xyz_matrix",
    "analyse",
    "backtest",
    "check_warehouse",
    "definitions",
    "delivery_times",
    "eoq",
    "forecast_categories",
    "forecast_daily_demand",
    "histogram_quantiles",
    "inventory_turnover",
    "late_delivery_cost",
    "order_fulfilment",
    "otif",
    "period_bounds",
    "reorder_point",
    "replenishment",
    "safety_stock",
    "shown",
    "sku_classes",
    "stock_health",
    "supplier_scorecard",
    "warehouse_costs",
    "weekly_category_demand",
    "xyz_classes",
    "z_value",
]

#: The tables the report cannot run without (ABC/XYZ classes and the forecast need no more).
CORE = ("order_lines", "orders")

_PRODUCTS = ("sku", "category", "unit_cost")
_INVENTORY = ("date", "warehouse_id", "sku", "on_hand")
SECTIONS = (
    Section(
        "suppliers",
        "Procurement: supplier scorecard",
        needs={
            "suppliers": ("supplier_id", "region"),
            "purchase_orders": (
                "supplier_id",
                "sku",
                "qty_ordered",
                "qty_received",
                "ordered_at",
                "promised_at",
                "received_at",
                "unit_cost",
                "defects",
            ),
            "products": _PRODUCTS,
        },
    ),
    Section("classes", "Inventory: ABC and XYZ classes"),
    Section(
        "stock",
        "Inventory: turnover, stock-outs, excess and dead stock",
        needs={"inventory": _INVENTORY, "products": _PRODUCTS},
    ),
    Section(
        "replenishment",
        "Replenishment: safety stock, reorder point and order quantity",
        needs={
            "inventory": _INVENTORY,
            "products": (*_PRODUCTS, "supplier_id", "lead_time_days"),
        },
    ),
    Section(
        "delivery",
        "Warehousing and delivery",
        needs={
            "shipments": (
                "order_id",
                "carrier",
                "shipped_at",
                "delivered_at",
                "qty_shipped",
                "cost",
            )
        },
    ),
    Section("forecast", "Demand forecast by category"),
    Section("backtest", "Forecast backtest against the seasonal-naive forecast"),
)

#: Tables read when the dataset has them: the sections' needs, plus products (categories of
#: the classes and the forecast), accounts (customer regions of OTIF, derived when absent) and
#: returns (late-delivery refunds).
OPTIONAL = tuple(
    dict.fromkeys(["products", *(t for s in SECTIONS for t in s.tables), "accounts", "returns"])
)

DAY_SECONDS = 86_400.0
NO_SALES = "no sales"
WEEKS_PER_YEAR = 52
MIN_SEASONAL_WEEKS = WEEKS_PER_YEAR + 4


# ----------------------------------------------------------------------------- formulas


def z_value(service_level: float) -> float:
    """``z = Phi^-1(service_level)``: the standard normal quantile of the cycle service level."""
    validate.fraction("service_level", service_level, open_ends=True)
    return float(norm.ppf(service_level))


def safety_stock(service_level, demand_mean, demand_sd, lead_mean, lead_sd):
    """Safety stock covering both demand and lead-time variability.

    ``SS = z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2)`` with z = Phi^-1(service_level), d /
    sigma_d the mean / sd of demand per day, L / sigma_L the mean / sd of the lead time in
    days (Silver, Pyke & Thomas 2017, ch. 6; Chopra & Meindl, *Supply Chain Management*,
    ch. 12, the Walmart Lego example: d = 2,500, sigma_d = 500, L = 7, sigma_L = 7, 90 % CSL
    gives SS = 22,491). With sigma_L = 0 it reduces to ``z * sigma_d * sqrt(L)``.
    Works element-wise on arrays; negative inputs raise ValueError.
    """
    z = z_value(service_level)
    d, sd, lead, sl = (
        np.asarray(x, dtype=float) for x in (demand_mean, demand_sd, lead_mean, lead_sd)
    )
    for name, x in (("demand_mean", d), ("demand_sd", sd), ("lead_mean", lead), ("lead_sd", sl)):
        if np.any(x < 0):
            raise ValueError(f"safety_stock: {name} must not be negative")
    out = z * np.sqrt(lead * sd**2 + d**2 * sl**2)
    return float(out) if out.ndim == 0 else out


def reorder_point(demand_mean, lead_mean, safety):
    """``ROP = d * L + SS``: expected demand over the lead time plus the safety stock."""
    out = np.asarray(demand_mean, dtype=float) * np.asarray(lead_mean, dtype=float) + np.asarray(
        safety, dtype=float
    )
    return float(out) if out.ndim == 0 else out


def eoq(annual_demand, order_cost, holding_cost):
    """Economic order quantity ``EOQ = sqrt(2 D S / H)`` (Harris 1913).

    D annual demand (units), S cost per order, H holding cost per unit per year. D = 0 gives 0;
    H must be positive (ValueError otherwise).
    """
    d, s, h = (np.asarray(x, dtype=float) for x in (annual_demand, order_cost, holding_cost))
    if np.any(h <= 0):
        raise ValueError("eoq: holding_cost must be positive (check holding_rate and unit_cost)")
    if np.any(d < 0) or np.any(s < 0):
        raise ValueError("eoq: annual_demand and order_cost must not be negative")
    out = np.sqrt(2 * d * s / h)
    return float(out) if out.ndim == 0 else out


def abc_classes(revenue: pd.Series, a: float = 0.8, b: float = 0.95) -> pd.Series:
    """ABC class of each item by its share of revenue (Pareto).

    Items sorted by revenue, largest first; ``before`` = cumulative share of the items ranked
    above. A when ``before < a``, B when ``before < b``, else C, so the item that carries the
    total past 80 % is still A (at least one A item). Items with no revenue (<= 0 or missing)
    get the label ``"no sales"``. Ties keep the input order.
    """
    if not 0 < a < b <= 1:
        raise ValueError(f"abc_classes needs 0 < a < b <= 1, got a={a}, b={b}")
    rev = pd.Series(revenue, dtype=float).fillna(0.0)
    out = pd.Series(NO_SALES, index=rev.index, dtype=object)
    sold = rev[rev > 0].sort_values(ascending=False, kind="stable")
    if sold.empty:
        return out
    before = (sold.cumsum() - sold) / sold.sum()
    eps = 1e-9
    out[sold.index] = np.where(before < a - eps, "A", np.where(before < b - eps, "B", "C"))
    return out


def xyz_classes(cv: pd.Series, x: float = 0.5, y: float = 1.0) -> pd.Series:
    """XYZ class by coefficient of variation of weekly demand: X when CV <= x, Y when CV <= y,
    else Z; a missing CV (an item with no demand, whose CV is undefined) is ``"no sales"``."""
    if not 0 < x < y:
        raise ValueError(f"xyz_classes needs 0 < x < y, got x={x}, y={y}")
    cv = pd.Series(cv, dtype=float)
    labels = np.where(cv <= x, "X", np.where(cv <= y, "Y", "Z"))
    return pd.Series(np.where(cv.isna(), NO_SALES, labels), index=cv.index, dtype=object)


def _moments(s1, s2, n):
    """Mean and sample sd of n values (zeros included) from their sum s1 and sum of squares s2:
    mean = s1 / n; sd = sqrt(max(0, (s2 - n mean^2) / (n - 1)))."""
    s1, s2 = np.asarray(s1, dtype=float), np.asarray(s2, dtype=float)
    mean = s1 / n
    var = np.maximum(0.0, (s2 - n * mean**2) / max(n - 1, 1))
    return mean, np.sqrt(var)


# ----------------------------------------------------------------------------- selection


def _day(x) -> pd.Timestamp:
    return pd.Timestamp(x).normalize()


def period_bounds(ds, start=None, end=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The analysis period as (first day, last day): ``start``/``end`` (ISO dates, inclusive)
    or, when None, the first / last order day. ValueError when start is after end."""
    lo, hi = ds.period("orders")
    lo = _day(start) if start else _day(lo)
    hi = _day(end) if end else _day(hi)
    if lo > hi:
        raise ValueError(f"start ({lo:%Y-%m-%d}) is after end ({hi:%Y-%m-%d})")
    return lo, hi


def _ts_between(col, lo: pd.Timestamp, hi: pd.Timestamp):
    return (col >= ibis.timestamp(lo)) & (col < ibis.timestamp(hi + pd.Timedelta(days=1)))


def _date_between(col, lo: pd.Timestamp, hi: pd.Timestamp):
    return (col >= ibis.date(lo.date())) & (col <= ibis.date(hi.date()))


def check_warehouse(ds, warehouse: str | None) -> None:
    """ValueError when ``warehouse`` is not a value of ``orders.warehouse_id``."""
    if warehouse is None:
        return
    o = ds.orders
    found = sorted(o.select("warehouse_id").distinct().to_pandas().warehouse_id)
    if warehouse not in found:
        raise ValueError(
            f"warehouse '{warehouse}' is not in orders.warehouse_id (found: {', '.join(found)})"
        )


def _orders(ds, lo, hi, warehouse):
    o = ds.orders
    o = o.filter(_ts_between(o.order_ts, lo, hi))
    return o.filter(o.warehouse_id == warehouse) if warehouse else o


def _days(later, earlier):
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / DAY_SECONDS


def _nonempty(df: pd.DataFrame, what: str) -> pd.DataFrame:
    if df.empty:
        raise ValueError(f"no {what} in the selected period and warehouse: widen start/end")
    return df


def _catalogue(ds):
    """The SKUs with their category, unit cost and list price: ``products`` when the dataset
    has it, else one row per SKU of the order lines with category "unknown", unit cost the
    mean line unit cost and list price the mean line unit price."""
    if "products" in ds:
        return ds.products
    li = ds.order_lines
    return li.group_by("sku").aggregate(
        category=ibis.literal(UNKNOWN),
        unit_cost=li.unit_cost.mean(),
        list_price=li.unit_price.mean(),
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


# ----------------------------------------------------------------------------- inventory


def _complete_weeks(lo: pd.Timestamp, hi: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp, int]:
    """First Monday on/after ``lo``, last Sunday on/before ``hi``, and the number of whole
    Monday-Sunday weeks between them (partial weeks at the ends are left out)."""
    first = lo + pd.Timedelta(days=(7 - lo.weekday()) % 7)
    last = hi - pd.Timedelta(days=(hi.weekday() + 1) % 7)
    n = max(0, ((last - first).days + 1) // 7)
    return first, last, n


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
    out["units"] = out.units.fillna(0.0)
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


# ----------------------------------------------------------------------------- delivery


def order_fulfilment(ds, start=None, end=None, warehouse: str | None = None, as_of=None):
    """One row per order of the period as an Ibis table (it stays on the engine).

    ordered = sum(order_lines.quantity); shipped = sum(shipments.qty_shipped) over all the
    order's shipments (partial shipments add up); delivered_at = the last delivery; carrier =
    the shipments' carrier, "multiple" when they differ; region = the account's region; month =
    month of the promised delivery. status: "delivered" (every shipment delivered),
    "in transit" (a shipment not yet delivered), "not shipped" (no shipment although the
    promise is before ``as_of``, the last shipment time in the data) or "pending" (no shipment,
    promise not yet due). on_time = delivered_at <= promised_delivery; in_full = shipped >=
    ordered; otif = on_time and in_full; a "not shipped" order is neither.
    """
    lo, hi = period_bounds(ds, start, end)
    o = _orders(ds, lo, hi, warehouse)
    li = ds.order_lines
    lines = li.group_by("order_id").aggregate(ordered=li.quantity.sum())
    sh = ds.shipments
    if as_of is None:
        as_of = sh.aggregate(m=sh.shipped_at.max()).to_pandas().m.iloc[0]
    ships = sh.group_by("order_id").aggregate(
        shipments=sh.count(),
        shipped=sh.qty_shipped.sum(),
        first_shipped_at=sh.shipped_at.min(),
        delivered_at=sh.delivered_at.max(),
        undelivered=sh.delivered_at.isnull().cast("int64").sum(),
        carriers=sh.carrier.nunique(),
        carrier_max=sh.carrier.max(),
        ship_cost=sh.cost.sum(),
    )
    acc = (ds if "accounts" in ds else derive_accounts(ds)).accounts.select("account_id", "region")
    j = o.join(lines, "order_id").join(ships, "order_id", how="left").join(acc, "account_id")
    has = j.shipments.notnull()
    status = ibis.cases(
        (has & (j.undelivered == 0), "delivered"),
        (has, "in transit"),
        (j.promised_delivery < ibis.timestamp(pd.Timestamp(as_of)), "not shipped"),
        else_="pending",
    )
    on_time = (status == "delivered") & (j.delivered_at <= j.promised_delivery)
    in_full = has & (j.shipped >= j.ordered)
    return j.select(
        "order_id",
        "warehouse_id",
        "region",
        "order_ts",
        "promised_delivery",
        "ordered",
        delivered_at=j.delivered_at,
        first_shipped_at=j.first_shipped_at,
        shipped=j.shipped.fill_null(0),
        shipments=j.shipments.fill_null(0),
        ship_cost=j.ship_cost.fill_null(0.0),
        carrier=ibis.cases(
            (~has, "not shipped"), (j.carriers > 1, "multiple"), else_=j.carrier_max
        ),
        month=j.promised_delivery.truncate("M").cast("date"),
        status=status,
        on_time=on_time,
        in_full=in_full,
        otif=on_time & in_full,
    )


def otif(ds, by: str = "carrier", start=None, end=None, warehouse=None, as_of=None):
    """OTIF rate per ``by`` (carrier, region, month or warehouse_id), with Wilson intervals.

    Counted orders = "delivered" + "not shipped" (see :func:`order_fulfilment`); orders in
    transit or pending are left out and reported in ``open_orders``. otif_rate = otif /
    counted, on_time_rate and in_full_rate likewise.
    """
    if by not in ("carrier", "region", "month", "warehouse_id"):
        raise ValueError(f"otif: by must be carrier, region, month or warehouse_id, got {by!r}")
    f = order_fulfilment(ds, start, end, warehouse, as_of)
    counted = f.status.isin(["delivered", "not shipped"])
    agg = f.group_by(by).aggregate(
        orders=f.count(),
        counted=counted.cast("int64").sum(),
        otif=f.otif.cast("int64").sum(),
        on_time=f.on_time.cast("int64").sum(),
        in_full=(counted & f.in_full).cast("int64").sum(),
        open_orders=(~counted).cast("int64").sum(),
    )
    out = _nonempty(agg.to_pandas(), "orders")
    for c in ("orders", "counted", "otif", "on_time", "in_full", "open_orders"):
        out[c] = out[c].astype("int64")
    n = out.counted.where(out.counted > 0)
    out["otif_rate"] = out.otif / n
    out["on_time_rate"] = out.on_time / n
    out["in_full_rate"] = out.in_full / n
    out["ci_low"], out["ci_high"] = wilson_interval(out.otif, out.counted)
    if by == "month":
        out["month"] = pd.to_datetime(out.month)
    return out.sort_values(by).reset_index(drop=True)


def warehouse_costs(ds, start=None, end=None, warehouse=None, as_of=None) -> pd.DataFrame:
    """Per warehouse: orders, shipped orders, units shipped, shipping cost, cost per shipped
    order and per unit, and the order fill rate (orders shipped in full / orders counted, with
    a Wilson interval) and the unit fill rate (units shipped / units ordered, counted orders).
    Only shipping cost is in the data: warehouse labour and space are not."""
    f = order_fulfilment(ds, start, end, warehouse, as_of)
    counted = f.status.isin(["delivered", "not shipped", "in transit"])
    agg = f.group_by("warehouse_id").aggregate(
        orders=f.count(),
        counted=counted.cast("int64").sum(),
        shipped_orders=(f.shipments > 0).cast("int64").sum(),
        units_ordered=f.ordered.sum(where=counted),
        units_shipped=f.shipped.sum(where=counted),
        in_full=(counted & f.in_full).cast("int64").sum(),
        ship_cost=f.ship_cost.sum(),
    )
    out = _nonempty(agg.to_pandas(), "orders")
    for c in ("orders", "counted", "shipped_orders", "in_full"):
        out[c] = out[c].astype("int64")
    out["cost_per_order"] = out.ship_cost / out.shipped_orders.where(out.shipped_orders > 0)
    out["cost_per_unit"] = out.ship_cost / out.units_shipped.where(out.units_shipped > 0)
    out["order_fill_rate"] = out.in_full / out.counted.where(out.counted > 0)
    out["fill_low"], out["fill_high"] = wilson_interval(out.in_full, out.counted)
    out["unit_fill_rate"] = out.units_shipped / out.units_ordered.where(out.units_ordered > 0)
    return out.sort_values("warehouse_id").reset_index(drop=True)


def delivery_times(
    ds, start=None, end=None, warehouse=None, bin_days: float = 0.25
) -> pd.DataFrame:
    """Histogram of delivery times per carrier: shipments of the period's orders that were
    delivered, by transit time (delivered_at - shipped_at) and order-to-door time
    (delivered_at - order_ts), in days, binned to ``bin_days``. Long format: carrier, measure,
    days (bin start), shipments, share (of the carrier's shipments for that measure)."""
    validate.positive("bin_days", bin_days)
    lo, hi = period_bounds(ds, start, end)
    o = _orders(ds, lo, hi, warehouse)
    sh = ds.shipments
    j = sh.filter(sh.delivered_at.notnull()).join(o, "order_id")
    frames = []
    for measure, days in (
        ("transit", _days(j.delivered_at, j.shipped_at)),
        ("order to delivery", _days(j.delivered_at, j.order_ts)),
    ):
        binned = (days / bin_days).floor().cast("float64") * bin_days
        t = j.group_by(carrier=j.carrier, days=binned).aggregate(shipments=j.count())
        frames.append(t.to_pandas().assign(measure=measure))
    out = _nonempty(pd.concat(frames, ignore_index=True), "delivered shipments")
    out["shipments"] = out.shipments.astype("int64")
    out["share"] = out.shipments / out.groupby(["measure", "carrier"]).shipments.transform("sum")
    return out.sort_values(["measure", "carrier", "days"]).reset_index(drop=True)


def histogram_quantiles(hist: pd.DataFrame, q=(0.5, 0.9), by=("measure", "carrier")):
    """Quantiles of a binned distribution (bin start + half a bin of the first bin whose
    cumulative count reaches q). Replaces an engine-side percentile, whose approximation
    differs between DuckDB and Spark."""
    rows = []
    step = np.diff(np.sort(hist.days.unique())).min() if hist.days.nunique() > 1 else 0.0
    for key, g in hist.groupby(list(by)):
        g = g.sort_values("days")
        cum = g.shipments.cumsum() / g.shipments.sum()
        row = dict(zip(by, key, strict=True))
        row["shipments"] = int(g.shipments.sum())
        row["mean_days"] = float(np.average(g.days + step / 2, weights=g.shipments))
        for qq in q:
            row[f"p{int(qq * 100)}_days"] = float(g.days[cum >= qq - 1e-12].iloc[0] + step / 2)
        rows.append(row)
    return pd.DataFrame(rows)


def late_delivery_cost(ds, start=None, end=None, warehouse=None, as_of=None) -> pd.DataFrame:
    """Per carrier: delivered orders, late orders (last delivery after the promise), days late
    (sum and mean), shipping cost paid on late orders, and refunds of returns whose reason is
    ``late_delivery`` on those orders (0 when the optional returns table is absent).
    late_cost = shipping cost of late orders + their late-delivery refunds."""
    f = order_fulfilment(ds, start, end, warehouse, as_of)
    d = f.filter(f.status == "delivered")
    late = d.delivered_at > d.promised_delivery
    days_late = _days(d.delivered_at, d.promised_delivery)
    d = d.mutate(late=late, days_late=ibis.greatest(days_late, 0.0))
    if "returns" in ds:
        r = ds.returns
        refunds = (
            r.filter(r.reason == "late_delivery")
            .group_by("order_id")
            .aggregate(refund=r.refund.sum())
        )
        d = d.join(refunds, "order_id", how="left").mutate(refund=ibis._.refund.fill_null(0.0))
        d = d.drop([c for c in d.columns if c.endswith("_right")])
    else:
        d = d.mutate(refund=ibis.literal(0.0))
    agg = d.group_by("carrier").aggregate(
        delivered=d.count(),
        late=d.late.cast("int64").sum(),
        days_late=d.days_late.sum(where=d.late),
        late_ship_cost=d.ship_cost.sum(where=d.late),
        late_refunds=d.refund.sum(where=d.late),
    )
    out = _nonempty(agg.to_pandas(), "delivered orders")
    out[["days_late", "late_ship_cost", "late_refunds"]] = out[
        ["days_late", "late_ship_cost", "late_refunds"]
    ].fillna(0.0)
    out["delivered"], out["late"] = out.delivered.astype("int64"), out.late.astype("int64")
    out["late_rate"] = out.late / out.delivered
    out["ci_low"], out["ci_high"] = wilson_interval(out.late, out.delivered)
    out["mean_days_late"] = out.days_late / out.late.where(out.late > 0)
    out["late_cost"] = out.late_ship_cost + out.late_refunds
    return out.sort_values("carrier").reset_index(drop=True)


# ----------------------------------------------------------------------------- forecast


def weekly_category_demand(ds, start=None, end=None, warehouse=None) -> pd.DataFrame:
    """Units ordered per whole Monday-Sunday week and category (wide: one column per
    category, a weekly DatetimeIndex; weeks with no order are 0)."""
    lo, hi = period_bounds(ds, start, end)
    first, last, n = _complete_weeks(lo, hi)
    if n < 1:
        raise ValueError("no whole week between start and end")
    o = _orders(ds, first, last, warehouse)
    j = ds.order_lines.join(o, "order_id").join(_catalogue(ds).select("sku", "category"), "sku")
    w = j.group_by(category=j.category, week=j.order_ts.truncate("W").cast("date")).aggregate(
        units=j.quantity.sum()
    )
    long = _nonempty(w.to_pandas(), "order lines")
    weeks = pd.date_range(first, periods=n, freq="W-MON")
    wide = long.pivot_table(index="week", columns="category", values="units", aggfunc="sum")
    wide.index = pd.to_datetime(wide.index)
    wide = wide.reindex(weeks, fill_value=0.0).fillna(0.0).astype(float)
    wide.index.name, wide.columns.name = "week", "category"
    return wide


def _seasonal_profile(y: pd.Series) -> np.ndarray:
    """Multiplicative weekly seasonal indices from month-of-year means (52 values, mean 1).

    ratio = y / centred 52-week moving average (at least 26 weeks in the window); the index of
    a week is the mean ratio of its calendar month. Twelve averaged months instead of 52 single
    weeks keep the indices smooth when the history holds fewer than two years (statsmodels'
    ``seasonal_decompose`` needs two full cycles, hence this classical decomposition by hand).
    Returned in the order of the first 52 weeks of ``y``.
    """
    trend = y.rolling(WEEKS_PER_YEAR, center=True, min_periods=WEEKS_PER_YEAR // 2).mean()
    ratio = (y / trend.where(trend > 0)).replace([np.inf, -np.inf], np.nan)
    by_month = ratio.groupby(y.index.month).mean()
    by_month = by_month.reindex(range(1, 13)).fillna(1.0)
    idx = by_month.reindex(y.index[:WEEKS_PER_YEAR].month).to_numpy()
    return idx / idx.mean()


def _fit_forecast(y: pd.Series, horizon: int):
    """Forecast ``horizon`` weeks of ``y`` with statsmodels' ExponentialSmoothing.

    With at least 56 weeks of history (a year plus a month): Holt-Winters with a level and a
    multiplicative seasonality of period 52 and no trend; the seasonal indices start from
    :func:`_seasonal_profile` and the level from the first year's deseasonalised mean
    (``initialization_method="known"``); the smoothing parameters are fitted by least squares.
    A series with a zero week uses additive seasonality (indices (profile - 1) x level).
    Shorter histories: damped Holt without seasonality. A trend term was tried and left out:
    on generated data it lost to the seasonal-naive baseline more often. Returns (forecast
    Series, model label).
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    validate.at_least("forecast_horizon", horizon, 1)
    y = y.astype(float)
    if len(y) < 8:
        raise ValueError(f"a forecast needs at least 8 weeks of history, got {len(y)}")
    if isinstance(y.index, pd.DatetimeIndex) and y.index.freq is None:
        y = y.asfreq("W-MON")
    if len(y) >= MIN_SEASONAL_WEEKS:
        prof = _seasonal_profile(y)
        level = float(np.mean(y.iloc[:WEEKS_PER_YEAR] / prof))
        mul = bool((y > 0).all())
        model = ExponentialSmoothing(
            y,
            seasonal="mul" if mul else "add",
            seasonal_periods=WEEKS_PER_YEAR,
            initialization_method="known",
            initial_level=level,
            initial_seasonal=prof if mul else (prof - 1) * level,
        )
        label = "Holt-Winters, yearly seasonality"
    else:
        model = ExponentialSmoothing(
            y, trend="add", damped_trend=True, initialization_method="estimated"
        )
        label = "damped Holt (under a year of history: no seasonality)"
    fc = model.fit(use_brute=False).forecast(horizon)
    return fc.clip(lower=0.0), label


def _seasonal_naive(y: pd.Series, horizon: int, m: int = WEEKS_PER_YEAR) -> pd.Series:
    """Seasonal-naive forecast: each week repeats the value of the same week a year (m weeks)
    earlier; needs at least m weeks of history."""
    if len(y) < m:
        raise ValueError(f"seasonal naive needs {m} weeks of history, got {len(y)}")
    idx = pd.date_range(y.index[-1] + pd.Timedelta(weeks=1), periods=horizon, freq="W-MON")
    vals = [y.iloc[len(y) - m + (h % m)] for h in range(horizon)]
    return pd.Series(vals, index=idx, dtype=float)


def backtest(weekly: pd.DataFrame, horizon: int, origins: int = 4, step: int = 4) -> pd.DataFrame:
    """Rolling-origin backtest of :func:`_fit_forecast` against :func:`_seasonal_naive`.

    For each of ``origins`` forecast origins, ``step`` weeks apart and the last one
    ``horizon`` weeks before the end, both methods forecast the next ``horizon`` weeks from the
    weeks before the origin (Tashman 2000, "Out-of-sample tests of forecasting accuracy", IJF
    16(4)). Per origin: MAPE = mean(|actual - forecast| / actual) over weeks with actual > 0;
    MASE = MAE / in-sample MAE of the seasonal-naive forecast on the training weeks (Hyndman &
    Koehler 2006). Both are averaged over the origins; ``beats_naive`` = the model's MASE is
    below the naive one's. Origins too early for a year of training are dropped; ValueError
    when none is left.
    """
    n = len(weekly)
    cut = [n - horizon - k * step for k in range(origins)]
    cut = [c for c in cut if c >= MIN_SEASONAL_WEEKS]
    if horizon < 1 or not cut:
        raise ValueError(
            f"the backtest needs at least {MIN_SEASONAL_WEEKS + horizon} whole weeks "
            f"(forecast_horizon {horizon} + {MIN_SEASONAL_WEEKS} weeks); the period has {n}"
        )
    rows = []
    for cat in weekly.columns:
        y = weekly[cat].astype(float)
        for origin in cut:
            train, test = y.iloc[:origin], y.iloc[origin : origin + horizon].to_numpy()
            values = train.to_numpy()
            scale = np.mean(np.abs(values[WEEKS_PER_YEAR:] - values[:-WEEKS_PER_YEAR]))
            model, label = _fit_forecast(train, horizon)
            naive = _seasonal_naive(train, horizon)
            pos = test > 0
            for kind, fc in (("model", model), ("naive", naive)):
                err = np.abs(test - fc.to_numpy())
                rows.append(
                    {
                        "category": cat,
                        "origin": train.index[-1] + pd.Timedelta(weeks=1),
                        "kind": kind,
                        "method": label,
                        "mape": float(np.mean(err[pos] / test[pos])) if pos.any() else np.nan,
                        "mase": float(err.mean() / scale) if scale > 0 else np.nan,
                    }
                )
    long = pd.DataFrame(rows)
    wide = long.pivot_table(index="category", columns="kind", values=["mape", "mase"])
    wide.columns = [f"{m}_{k}" for m, k in wide.columns]
    wide["beats_naive"] = wide.mase_model < wide.mase_naive
    wide["origins"] = len(cut)
    wide["method"] = long[long.kind == "model"].groupby("category").method.first()
    return wide.reset_index()


def forecast_categories(weekly: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Forecast each category ``horizon`` weeks ahead from its whole history (long format:
    category, week, units, method)."""
    frames = []
    for cat in weekly.columns:
        fc, label = _fit_forecast(weekly[cat], horizon)
        frames.append(
            pd.DataFrame({"category": cat, "week": fc.index, "units": fc.values, "method": label})
        )
    return pd.concat(frames, ignore_index=True)


def forecast_daily_demand(forecast: pd.DataFrame) -> pd.Series:
    """Mean forecast units per day per category over the forecast horizon (weekly units / 7)."""
    return forecast.groupby("category").units.mean() / 7.0


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


# ----------------------------------------------------------------------------- the report

MIN_FORECAST_WEEKS = 8


def analyse(
    ds,
    start=None,
    end=None,
    warehouse: str | None = None,
    service_level: float = 0.95,
    holding_rate: float = 0.25,
    order_cost: float = 50.0,
    forecast_horizon: int = 13,
    lookback_days: int = 182,
    dead_days: int = 180,
    excess_days: float = 90,
) -> Analysis:
    """The supply-chain report: every section of :data:`SECTIONS` the dataset allows.

    Parameters are checked first (a wrong one is an error, not a skipped section). Each
    section's tables go into ``result.tables``, its headline figures into ``result.figures``
    only when it is built, and what the narrative needs into ``result.facts``. Beyond missing
    tables, a section is skipped when the period is too short for it (classes: two whole
    weeks; forecast: eight; backtest: ``forecast_horizon`` + 56), naming the parameter and the
    data's span. ``lookback_days`` longer than the order history shrinks to it (a note says
    so); replenishment uses the forecast and the supplier lead times when those sections are
    built, and ``products.lead_time_days`` and the historic demand otherwise.
    """
    check_warehouse(ds, warehouse)
    z_value(service_level)
    validate.positive("holding_rate", holding_rate)
    validate.non_negative("order_cost", order_cost)
    validate.at_least("forecast_horizon", forecast_horizon, 1)
    lo, hi = period_bounds(ds, start, end)
    result = Analysis.start("supply_chain", SECTIONS, ds)
    result.facts.update(period_start=f"{lo:%Y-%m-%d}", period_end=f"{hi:%Y-%m-%d}")
    _, _, weeks = _complete_weeks(lo, hi)
    span = f"the period {lo:%Y-%m-%d} to {hi:%Y-%m-%d} holds {weeks} whole weeks"
    result.facts["weeks"] = weeks
    sel = {"start": lo, "end": hi, "warehouse": warehouse}
    if result.built("suppliers"):
        _suppliers(ds, result, sel)
    if weeks < 2:
        result.skip("classes", f"ABC/XYZ classes need two whole weeks of orders; {span}.")
    if result.built("classes"):
        _classes(ds, result, sel)
    if result.built("stock"):
        _stock(ds, result, sel, excess_days=excess_days, dead_days=dead_days)
    _forecast(ds, result, sel, forecast_horizon, span)
    if result.built("replenishment"):
        _replenishment(
            ds, result, warehouse, service_level, order_cost, holding_rate, lookback_days
        )
    if result.built("delivery"):
        _delivery(ds, result, sel)
    if result.built("stock") and result.built("delivery"):
        fill = ["warehouse_id", "unit_fill_rate", "order_fill_rate", "fill_low", "fill_high"]
        t = result.tables
        t["stock_by_warehouse"] = t["stock_by_warehouse"].merge(
            t["warehouse_costs"][fill], on="warehouse_id"
        )
    return result


def _skip_on_empty(result: Analysis, key: str, compute) -> bool:
    """Run ``compute()``; when it finds nothing to measure in the period (the ValueError of
    :func:`_nonempty` and its kin, "no ... in the selected period"), skip section ``key``
    with that sentence. Returns whether the section is still built."""
    try:
        compute()
    except ValueError as err:
        if "no " not in str(err):
            raise
        result.skip(key, f"Nothing to show: {err}.")
        return False
    return True


def _suppliers(ds, result: Analysis, sel: dict) -> None:
    """The supplier scorecard, its best and weakest supplier."""

    def compute():
        card = supplier_scorecard(ds, **sel)
        result.tables["scorecard"] = card
        best, worst = card.iloc[0], card.iloc[-1]
        result.facts.update(best_supplier=best.to_dict(), worst_supplier=worst.to_dict())
        result.facts.update(
            suppliers=len(card),
            pos=int(card.pos.sum()),
            spend=float(card.spend.sum()),
            lead_mean_days=float(card.lead_mean_days.mean()),
            lead_sd_max=float(card.lead_sd_days.max()),
            lead_sd_max_supplier=str(card.loc[card.lead_sd_days.idxmax(), "supplier_id"])
            if card.lead_sd_days.notna().any()
            else "no supplier has two received POs",
        )
        result.figures.update(suppliers=int(len(card)), best_supplier=str(best.supplier_id))

    _skip_on_empty(result, "suppliers", compute)


def _classes(ds, result: Analysis, sel: dict) -> None:
    """SKU classes, the ABC x XYZ matrix and its counts."""
    classes = sku_classes(ds, **sel)
    matrix = abc_xyz_matrix(classes)
    result.tables.update(
        classes=classes,
        matrix=matrix.assign(abc=matrix.abc.astype(str), xyz=matrix.xyz.astype(str)),
        matrix_counts=matrix.pivot_table(
            index="abc", columns="xyz", values="skus", aggfunc="sum", fill_value=0, observed=True
        ),
    )
    total = classes.revenue.sum()
    result.facts.update(
        skus=len(classes),
        a_skus=int((classes.abc == "A").sum()),
        a_share=float(classes.loc[classes.abc == "A", "revenue"].sum() / total)
        if total > 0
        else float("nan"),
        z_skus=int((classes.xyz == "Z").sum()),
        no_sales_skus=int((classes.abc == NO_SALES).sum()),
        class_weeks=int(classes.weeks.iloc[0]),
    )


def _stock(ds, result: Analysis, sel: dict, excess_days: float, dead_days: int) -> None:
    """Turnover, days on hand, stock health per warehouse and the largest idle stock."""

    def compute():
        turnover = inventory_turnover(ds, **sel)
        health = stock_health(ds, **sel, excess_days=excess_days, dead_days=dead_days)
        doh = turnover.pivot_table(index="category", columns="warehouse_id", values="days_on_hand")
        by_wh = health.groupby("warehouse_id").agg(
            sku_days=("days", "sum"),
            stockout_days=("stockout_days", "sum"),
            stock_value=("stock_value", "sum"),
            dead_skus=("dead", "sum"),
            dead_value=("dead_value", "sum"),
            excess_value=("excess_value", "sum"),
        )
        by_wh["stockout_share"] = by_wh.stockout_days / by_wh.sku_days
        idle = health[(health.dead_value > 0) | (health.excess_value > 0)]
        idle = idle.assign(idle_value=idle.dead_value + idle.excess_value)
        idle = idle.sort_values("idle_value", ascending=False, kind="stable")
        result.tables.update(
            turnover=turnover, days_on_hand=doh, health=health, idle=idle,
            stock_by_warehouse=by_wh.reset_index(),
        )  # fmt: skip
        result.facts.update(
            turnover_min=float(turnover.annual_turnover.min()),
            turnover_max=float(turnover.annual_turnover.max()),
            doh_min=float(np.nanmin(doh.to_numpy())) if doh.notna().any().any() else np.nan,
            doh_max=float(np.nanmax(doh.to_numpy())) if doh.notna().any().any() else np.nan,
            idle_pairs=len(idle),
            stock_value=float(health.stock_value.sum()),
        )
        _dead_days_note(ds, result, health, dead_days)
        result.figures.update(
            dead_stock_value=float(health.dead_value.sum()),
            excess_stock_value=float(health.excess_value.sum()),
        )

    _skip_on_empty(result, "stock", compute)


def _dead_days_note(ds, result: Analysis, health: pd.DataFrame, dead_days: int) -> None:
    """Say so when ``dead_days`` reaches back before the first order: dead stock then means
    no order in the whole history."""
    first = ds.period("orders")[0].normalize()
    as_of = pd.Timestamp(health.as_of.iloc[0])
    history = (as_of - first).days + 1
    if history <= dead_days:
        result.notes.append(
            f"dead_days = {dead_days} reaches back before the first order ({first:%Y-%m-%d}): "
            f"the orders up to {as_of:%Y-%m-%d} span {history} days, so dead stock is stock "
            "with no order in the whole history."
        )


def _forecast(ds, result: Analysis, sel: dict, horizon: int, span: str) -> None:
    """Weekly category demand, the forecast and the backtest, each when the history allows."""
    need_fc, need_bt = MIN_FORECAST_WEEKS, MIN_SEASONAL_WEEKS + horizon
    weeks = result.facts["weeks"]
    if weeks < need_fc:
        result.skip("forecast", f"The forecast needs {need_fc} whole weeks of orders; {span}.")
    if weeks < need_bt:
        result.skip(
            "backtest",
            f"The backtest holds out forecast_horizon = {horizon} weeks after at least "
            f"{MIN_SEASONAL_WEEKS} weeks of training, so it needs {need_bt} whole weeks; {span}.",
        )
    if not (result.built("forecast") or result.built("backtest")):
        return
    weekly = weekly_category_demand(ds, **sel)
    result.tables["weekly"] = weekly
    if result.built("backtest"):
        bt = backtest(weekly, horizon)
        result.tables["backtest"] = bt
        result.facts.update(
            beats_naive=int(bt.beats_naive.sum()),
            categories=len(bt),
            mase_model=float(bt.mase_model.mean()),
            mase_naive=float(bt.mase_naive.mean()),
            backtest_method=str(bt.method.iloc[0]),
            origins=int(bt.origins.iloc[0]),
        )
        result.figures["forecast_beats_naive"] = int(bt.beats_naive.sum())
    if result.built("forecast"):
        forecast = forecast_categories(weekly, horizon)
        history = weekly.tail(WEEKS_PER_YEAR).reset_index()
        history = history.melt(id_vars="week", var_name="category", value_name="units")
        result.tables["forecast"] = forecast
        result.tables["forecast_chart"] = pd.concat(
            [history.assign(kind="actual"), forecast.assign(kind="forecast")], ignore_index=True
        )
        result.facts.update(
            forecast_start=forecast.week.min(),
            forecast_method=str(forecast.method.iloc[0]),
            weekly_weeks=len(weekly),
        )


def _replenishment(
    ds, result, warehouse, service_level, order_cost, holding_rate, lookback_days
) -> None:
    """Safety stock, reorder point and EOQ per warehouse x SKU, with the forecast and the
    supplier lead times when their sections were built; ``lookback_days`` fitted to the
    order history before the last inventory day."""
    inv = ds.inventory
    if warehouse:
        inv = inv.filter(inv.warehouse_id == warehouse)
    as_of = inv.aggregate(d=inv.date.max()).to_pandas().d.iloc[0]
    if pd.isna(as_of):
        result.skip("replenishment", "Nothing to show: no inventory records for the warehouse.")
        return
    as_of = _day(as_of)
    first = _day(ds.period("orders")[0])
    history = (as_of - first).days + 1
    lookback = min(lookback_days, history)
    if lookback < 14:
        result.skip(
            "replenishment",
            f"Replenishment needs 14 days of orders before the last inventory day "
            f"({as_of:%Y-%m-%d}); the orders from {first:%Y-%m-%d} give {max(history, 0)} days "
            f"(lookback_days = {lookback_days}).",
        )
        return
    if lookback < lookback_days:
        result.notes.append(
            f"lookback_days = {lookback_days} is longer than the order history before "
            f"{as_of:%Y-%m-%d} ({history} days from {first:%Y-%m-%d}): demand variability is "
            f"measured over those {lookback} days."
        )
    fc = result.tables.get("forecast")
    rep = replenishment(
        ds, service_level, order_cost, holding_rate, lookback, as_of=as_of,
        warehouse=warehouse, scorecard=result.tables.get("scorecard"),
        daily_forecast=forecast_daily_demand(fc) if fc is not None else None,
    )  # fmt: skip
    to_order = rep[rep.reorder].sort_values("order_value", ascending=False)
    result.tables.update(replenishment=rep, to_order=to_order)
    result.facts.update(
        lookback_days=lookback,
        demand_source=(
            f"the category forecast (split by the SKU's share over the last {lookback} days)"
            if fc is not None
            else f"the SKU's mean over the last {lookback} days"
        ),
        rep_as_of=as_of,
        reorder_pairs=int(rep.reorder.sum()),
        no_demand_pairs=int((rep.status == "no demand").sum()),
        order_value=float(to_order.order_value.sum()),
    )
    result.figures["skus_to_reorder"] = int(len(to_order))


def _delivery(ds, result: Analysis, sel: dict) -> None:
    """Warehouse costs, OTIF by carrier, region and month, delivery times and late cost."""

    def compute():
        t = result.tables
        t["warehouse_costs"] = warehouse_costs(ds, **sel)
        carrier = otif(ds, "carrier", **sel)
        month = otif(ds, "month", **sel)
        t.update(otif_carrier=carrier, otif_region=otif(ds, "region", **sel))
        t["otif_month"] = month[month.month <= sel["end"]]  # later promises: not complete
        shipped = carrier[carrier.carrier != "not shipped"]
        if shipped.empty:
            raise ValueError("no shipped orders in the selected period and warehouse")
        t["otif_shipped"] = shipped.sort_values("otif_rate", ascending=False)
        times = delivery_times(ds, **sel)
        t["transit"] = times[times.measure == "transit"]
        quantiles = histogram_quantiles(times)
        t["transit_quantiles"] = quantiles[quantiles.measure == "transit"]
        late = late_delivery_cost(ds, **sel)
        t["late"] = late
        otif_all = float(carrier.otif.sum() / carrier.counted.sum())
        worst = shipped.loc[shipped.otif_rate.idxmin()]
        result.facts.update(
            otif_rate=otif_all,
            otif_counted=int(carrier.counted.sum()),
            open_orders=int(carrier.open_orders.sum()),
            worst_carrier=worst.to_dict(),
            late=int(late.late.sum()),
            delivered=int(late.delivered.sum()),
            days_late=float(late.days_late.sum()),
            late_ship_cost=float(late.late_ship_cost.sum()),
            late_refunds=float(late.late_refunds.sum()),
            late_cost=float(late.late_cost.sum()),
        )
        result.figures.update(otif_rate=otif_all, late_delivery_cost=float(late.late_cost.sum()))

    _skip_on_empty(result, "delivery", compute)


# ----------------------------------------------------------------------------- showing

#: The columns each table of the report shows (``result.tables`` key -> columns).
COLUMNS = {
    "scorecard": ["rank", "supplier_id", "category", "received", "on_time_rate", "in_full_rate",
                  "lead_mean_days", "lead_sd_days", "defect_rate", "price_variance",
                  "spend_share", "score"],
    "idle": ["warehouse_id", "sku", "category", "on_hand", "cover_days", "days_since_sale",
             "dead", "dead_value", "excess_value"],
    "to_order": ["warehouse_id", "sku", "category", "on_hand", "on_order", "daily_demand",
                 "lead_mean_days", "safety_stock", "reorder_point", "eoq", "order_qty",
                 "order_value"],
    "warehouse_costs": ["warehouse_id", "orders", "shipped_orders", "units_shipped",
                        "ship_cost", "cost_per_order", "cost_per_unit"],
    "otif_region": ["region", "counted", "otif", "otif_rate", "ci_low", "ci_high",
                    "on_time_rate", "in_full_rate"],
    "late": ["carrier", "delivered", "late", "late_rate", "ci_low", "ci_high",
             "mean_days_late", "late_ship_cost", "late_refunds", "late_cost"],
    "backtest": ["category", "mape_model", "mape_naive", "mase_model", "mase_naive",
                 "beats_naive"],
}  # fmt: skip

#: How each column is formatted wherever a table shows it.
FORMATS = {
    **dict.fromkeys(["on_time_rate", "in_full_rate", "spend_share", "revenue_share"], "{:.1%}"),
    **dict.fromkeys(["otif_rate", "ci_low", "ci_high", "late_rate", "mape_model"], "{:.1%}"),
    "mape_naive": "{:.1%}",
    **dict.fromkeys(["lead_mean_days", "lead_sd_days", "daily_demand"], "{:.1f}"),
    **dict.fromkeys(["defect_rate", "stockout_share", "unit_fill_rate"], "{:.2%}"),
    **dict.fromkeys(["order_fill_rate", "fill_low", "fill_high"], "{:.2%}"),
    "price_variance": "{:+.2%}",
    "score": "{:.3f}",
    **dict.fromkeys(["revenue", "stock_value", "dead_value", "excess_value"], "{:,.0f}"),
    **dict.fromkeys(["on_order", "order_value", "ship_cost", "units_shipped"], "{:,.0f}"),
    **dict.fromkeys(["late_ship_cost", "late_refunds", "late_cost"], "{:,.0f}"),
    **dict.fromkeys(["cover_days", "days_since_sale", "safety_stock"], "{:.0f}"),
    **dict.fromkeys(["reorder_point", "eoq"], "{:.0f}"),
    **dict.fromkeys(["cost_per_order", "cost_per_unit", "mean_days_late"], "{:.2f}"),
    **dict.fromkeys(["mase_model", "mase_naive"], "{:.2f}"),
}


def shown(result: Analysis, name: str, rows: int | None = None) -> dict:
    """The keyword arguments ``df`` and ``formats`` of ``present.table`` for table ``name`` of
    ``result``: the columns the report shows (:data:`COLUMNS`, all when not listed), its
    first ``rows`` rows, and the :data:`FORMATS` of those columns."""
    df = result.tables[name]
    df = df[COLUMNS[name]] if name in COLUMNS else df
    df = df.head(rows) if rows else df
    return {"df": df, "formats": {c: f for c, f in FORMATS.items() if c in df.columns}}


def definitions(dead_days: int = 180, excess_days: float = 90) -> dict[str, str]:
    """The report's definitions, term -> how it is computed."""
    return {
        "On-time rate (supplier)": (
            "purchase orders received by their promised date / purchase orders received, "
            "with a 95% Wilson interval."
        ),
        "In-full rate (supplier)": (
            "purchase orders whose received quantity covers the ordered quantity / purchase"
            " orders received."
        ),
        "Lead time": (
            "received_at − ordered_at in days, over received purchase orders: mean and "
            "sample standard deviation."
        ),
        "Defect rate": ("defective units / units received."),
        "Price variance": (
            "Σ PO unit cost × quantity ordered / Σ list unit cost × quantity ordered − 1."
        ),
        "Score": (
            "on-time rate × in-full rate × (1 − defect rate): the chance of a perfect "
            "purchase order."
        ),
        "ABC class": (
            "SKUs sorted by revenue; A while the revenue share of the SKUs above is under "
            "80%, B under 95%, C after; no sales otherwise."
        ),
        "XYZ class": (
            "coefficient of variation (sd / mean) of units per whole week, zero weeks "
            "included: X ≤ 0.5, Y ≤ 1, Z above; no sales when the mean is 0."
        ),
        "Turnover": (
            "cost of goods sold / average inventory value (on hand × unit cost, averaged "
            "over days), annualised; days on hand = average inventory value / daily cost of"
            " goods sold."
        ),
        "Stock-out days": (
            "days on which a warehouse held none of a SKU; fill rate = units shipped / "
            "units ordered (and orders shipped in full / orders)."
        ),
        "Dead and excess stock": (
            f"dead: stock on hand with no order in the last {dead_days} days; excess: units "
            f"beyond {excess_days} days of average demand, valued at unit cost."
        ),
        "Safety stock": (
            "z × √(L σd² + d² σL²), z the normal quantile of the service level, d and σd "
            "daily demand mean (from the forecast) and sd, L and σL lead-time mean and sd "
            "(Silver, Pyke & Thomas; Chopra & Meindl)."
        ),
        "Reorder point": ("d × L + safety stock; reorder when on hand + on order ≤ reorder point."),
        "EOQ": (
            "√(2 D S / H), D yearly demand, S order cost, H holding rate × unit cost (Harris 1913)."
        ),
        "OTIF": (
            "orders whose last delivery arrived by the promise with every unit ordered / "
            "orders delivered or overdue without shipment; partial shipments add up."
        ),
        "Late delivery cost": (
            "shipping cost of late orders + refunds of their returns with reason late delivery."
        ),
        "MAPE / MASE": (
            "mean |error| / actual; mean |error| / in-sample mean |error| of the "
            "seasonal-naive forecast (Hyndman & Koehler 2006)."
        ),
    }
