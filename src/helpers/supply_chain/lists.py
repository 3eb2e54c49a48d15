"""The lists people act on: reorder now, dead and excess stock, the supplier scorecard.

Each list is one frame whose first rows matter most, with the names a buyer needs beside the
ids (product name, supplier name: business data, shown on the page), and the figures to act
on (quantity to order, reorder point, days of cover...). ``present.todo_list`` writes each in
full to ``<exports>/supply_chain/<list>.csv`` and ``.xlsx`` and shows its count and top rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The lists: ``result.tables`` key (also the export's file name) -> what one row is, plural.
LISTS = {
    "reorder_now": "warehouse-SKU pairs to reorder now",
    "dead_and_excess_stock": "warehouse-SKU pairs holding dead or excess stock",
    "supplier_scorecard": "suppliers scored",
}

REORDER_COLUMNS = [
    "warehouse_id", "sku", "product_name", "category", "supplier_id", "supplier_name",
    "on_hand", "on_order", "stock_position", "daily_demand", "days_of_cover",
    "lead_time_days", "safety_stock", "reorder_point", "eoq", "quantity_to_order",
    "unit_cost", "order_value",
]  # fmt: skip
IDLE_COLUMNS = [
    "warehouse_id", "sku", "product_name", "category", "supplier_id", "supplier_name",
    "on_hand", "days_since_sale", "days_of_cover", "dead", "excess_units", "unit_cost",
    "dead_value", "excess_value", "idle_value",
]  # fmt: skip
SCORECARD_COLUMNS = [
    "rank", "supplier_id", "supplier_name", "supplier_region", "category", "sku_count",
    "purchase_orders", "received", "on_time_rate", "in_full_rate", "defect_rate",
    "mean_lead_time_days", "lead_time_sd_days", "price_variance", "spend", "spend_share",
    "score",
]  # fmt: skip


#: The scorecard's columns renamed for the list.
SCORECARD_NAMES = {
    "skus": "sku_count",
    "pos": "purchase_orders",
    "lead_mean_days": "mean_lead_time_days",
    "lead_sd_days": "lead_time_sd_days",
}


def names(ds) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(products: sku, product_name, supplier_id; suppliers: supplier_id, supplier_name),
    each None when the dataset has no such table."""
    products = suppliers = None
    if "products" in ds:
        p = ds.products
        products = p.select("sku", "supplier_id", product_name=p.name).to_pandas()
    if "suppliers" in ds:
        s = ds.suppliers
        suppliers = s.select("supplier_id", supplier_name=s.name).to_pandas()
    return products, suppliers


def _named(df: pd.DataFrame, products, suppliers) -> pd.DataFrame:
    """``df`` with product_name (and supplier_id when it lacks one) by sku, and supplier_name
    by supplier_id, where those tables exist."""
    if products is not None and "sku" in df:
        cols = ["sku", "product_name"] + (["supplier_id"] if "supplier_id" not in df else [])
        df = df.merge(products[cols], on="sku", how="left")
    if suppliers is not None and "supplier_id" in df:
        df = df.merge(suppliers, on="supplier_id", how="left")
    return df


def _columns(df: pd.DataFrame, wanted: list[str]) -> pd.DataFrame:
    return df[[c for c in wanted if c in df.columns]].reset_index(drop=True)


def reorder_list(rep: pd.DataFrame, products=None, suppliers=None) -> pd.DataFrame:
    """The warehouse x SKU pairs of :func:`~helpers.supply_chain.replenishment` flagged
    ``reorder``, most urgent first.

    stock_position = on_hand + on_order; days_of_cover = stock_position / daily_demand (how
    many days the stock on hand and on order lasts at the expected demand); lead_time_days =
    the lead time used (the supplier's measured mean, else the catalogue's);
    quantity_to_order = max(EOQ, reorder point - position), rounded up. Sorted by
    days_of_cover (fewest first), then order_value (largest first).
    """
    out = rep[rep.reorder].copy()
    out["stock_position"] = out.position
    d = out.daily_demand.where(out.daily_demand > 0)
    out["days_of_cover"] = out.position / d
    out["lead_time_days"] = out.lead_mean_days
    out["quantity_to_order"] = out.order_qty.astype("int64")
    for c in ("on_order", "stock_position"):
        out[c] = out[c].round().astype("int64")
    out = _named(out, products, suppliers)
    out = out.sort_values(["days_of_cover", "order_value", "warehouse_id", "sku"],
                          ascending=[True, False, True, True], na_position="last")  # fmt: skip
    return _columns(out, REORDER_COLUMNS)


def idle_stock_list(health: pd.DataFrame, products=None, suppliers=None) -> pd.DataFrame:
    """The warehouse x SKU pairs of :func:`~helpers.supply_chain.stock_health` holding dead
    or excess stock, largest value first: idle_value = dead_value + excess_value;
    days_of_cover = on_hand / average daily units (None without sales)."""
    out = health[(health.dead_value > 0) | (health.excess_value > 0)].copy()
    out["idle_value"] = out.dead_value + out.excess_value
    out["days_of_cover"] = out.cover_days
    out["excess_units"] = np.round(out.excess_units).astype("int64")
    out = _named(out, products, suppliers)
    out = out.sort_values(["idle_value", "warehouse_id", "sku"], ascending=[False, True, True])
    return _columns(out, IDLE_COLUMNS)


def scorecard_list(card: pd.DataFrame, suppliers=None) -> pd.DataFrame:
    """The supplier scorecard (:func:`~helpers.supply_chain.supplier_scorecard`) with the
    supplier's name, weakest score first (rank 1 = best), so the suppliers to talk to lead;
    skus, pos and the lead-time columns under names a buyer reads (sku_count,
    purchase_orders, mean_lead_time_days, lead_time_sd_days)."""
    out = _named(card, None, suppliers).rename(columns=SCORECARD_NAMES)
    out = out.sort_values(["score", "supplier_id"], ascending=[True, True], na_position="first")
    return _columns(out, SCORECARD_COLUMNS)
