"""The supply-chain report's tables, sections, constants and period selection."""

from __future__ import annotations

import ibis
import pandas as pd

from helpers.data.tables import UNKNOWN
from helpers.sections import Section

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

#: Whole weeks of orders the forecast needs.
MIN_FORECAST_WEEKS = 8

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


def _complete_weeks(lo: pd.Timestamp, hi: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp, int]:
    """First Monday on/after ``lo``, last Sunday on/before ``hi``, and the number of whole
    Monday-Sunday weeks between them (partial weeks at the ends are left out)."""
    first = lo + pd.Timedelta(days=(7 - lo.weekday()) % 7)
    last = hi - pd.Timedelta(days=(hi.weekday() + 1) % 7)
    n = max(0, ((last - first).days + 1) // 7)
    return first, last, n
