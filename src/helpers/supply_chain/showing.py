"""What the report shows: columns, formats and definitions."""

from __future__ import annotations

from helpers.sections import Analysis

# ----------------------------------------------------------------------------- showing

#: The columns each table of the report shows (``result.tables`` key -> columns).
COLUMNS = {
    "warehouse_costs": ["warehouse_id", "orders", "shipped_orders", "units_shipped",
                        "ship_cost", "cost_per_order", "cost_per_unit"],
    "otif_region": ["region", "counted", "otif", "otif_rate", "ci_low", "ci_high",
                    "on_time_rate", "in_full_rate"],
    "late": ["carrier", "delivered", "late", "late_rate", "ci_low", "ci_high",
             "mean_days_late", "late_ship_cost", "late_refunds", "late_cost"],
    "backtest": ["category", "mase_forecast", "mase_seasonal_naive", "forecast_has_lower_mase"],
}  # fmt: skip

#: How each column is formatted wherever a table shows it.
FORMATS = {
    **dict.fromkeys(["on_time_rate", "in_full_rate", "spend_share", "revenue_share"], "{:.1%}"),
    **dict.fromkeys(["otif_rate", "ci_low", "ci_high", "late_rate"], "{:.1%}"),
    **dict.fromkeys(["lead_mean_days", "lead_sd_days", "daily_demand", "lead_time_days"], "{:.1f}"),
    **dict.fromkeys(["defect_rate", "stockout_share", "unit_fill_rate"], "{:.2%}"),
    **dict.fromkeys(["order_fill_rate", "order_fill_ci_low", "order_fill_ci_high"], "{:.2%}"),
    **dict.fromkeys(["mean_lead_time_days", "lead_time_sd_days"], "{:.1f}"),
    "price_variance": "{:+.2%}",
    "score": "{:.3f}",
    **dict.fromkeys(["revenue", "stock_value", "dead_value", "excess_value"], "{:,.0f}"),
    **dict.fromkeys(["revenue_in_whole_weeks", "spend", "idle_value"], "{:,.0f}"),
    "unit_cost": "{:,.2f}",
    **dict.fromkeys(["on_order", "order_value", "ship_cost", "units_shipped"], "{:,.0f}"),
    **dict.fromkeys(["late_ship_cost", "late_refunds", "late_cost"], "{:,.0f}"),
    **dict.fromkeys(["cover_days", "days_of_cover", "days_since_sale", "safety_stock"], "{:.0f}"),
    **dict.fromkeys(["reorder_point", "eoq"], "{:.0f}"),
    **dict.fromkeys(["cost_per_order", "cost_per_unit", "mean_days_late"], "{:.2f}"),
    **dict.fromkeys(["mase_forecast", "mase_seasonal_naive"], "{:.2f}"),
}


#: One sentence per technical term, said where the term first appears in the report.
TERMS = {
    "otif": (
        "OTIF (on time in full) is the share of orders whose last delivery arrived by the "
        "promised date with every unit ordered."
    ),
    "abc_xyz": (
        "ABC classes rank SKUs by revenue (A: the SKUs making up the first 80 %, B the next "
        "15 %, C the rest); XYZ classes by how steady their weekly demand is (X: coefficient "
        "of variation, sd / mean, up to 0.5; Y up to 1; Z above)."
    ),
    "days_on_hand": (
        "Days on hand is how many days of sales the average stock would last: average "
        "inventory value / cost of goods sold per day."
    ),
    "safety_stock": (
        "Safety stock is the stock held beyond expected demand, against demand and supplier "
        "lead times turning out worse than average, sized for the chosen service level."
    ),
    "reorder_point": (
        "The reorder point is the stock level at which to order again: the expected demand "
        "over the supplier's lead time plus the safety stock."
    ),
    "eoq": (
        "EOQ (economic order quantity) is the order size that balances the cost of placing "
        "orders against the cost of holding stock."
    ),
    "mase": (
        "MASE (mean absolute scaled error) is a forecast's mean absolute error over the "
        "held-out weeks divided by the mean absolute error that repeating the same week a "
        "year earlier made over the training weeks: one scale for every category, lower is "
        "better, and unlike a percentage error it stays meaningful in weeks with few or no "
        "units, which makes it the standard measure for intermittent demand."
    ),
}


def shown(result: Analysis, name: str, rows: int | None = None) -> dict:
    """The keyword arguments ``df`` and ``formats`` of ``present.table`` for table ``name`` of
    ``result``: the columns the report shows (:data:`COLUMNS`, all when not listed), its
    first ``rows`` rows, and the :data:`FORMATS` of those columns. The lists people act on
    (:data:`~helpers.supply_chain.lists.LISTS`) are shown whole: ``present.todo_list`` writes
    them in full and shows their top rows."""
    df = result.tables[name]
    df = df[COLUMNS[name]] if name in COLUMNS else df
    df = df.head(rows) if rows else df
    return {"df": df, "formats": {c: f for c, f in FORMATS.items() if c in df.columns}}


#: The definitions before and after the one that depends on the parameters.
_DEFINITIONS_BEFORE = {
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
        "on-time rate × in-full rate × (1 − defect rate): the chance of a perfect purchase order."
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
}
_DEFINITIONS_AFTER = {
    "Safety stock": (
        "z × √(L σd² + d² σL²), z the normal quantile of the service level, d and σd "
        "daily demand mean (from the forecast) and sd, L and σL lead-time mean and sd "
        "(Silver, Pyke & Thomas; Chopra & Meindl)."
    ),
    "Reorder point": (
        "d × L + safety stock; reorder when on hand + on order ≤ reorder point; quantity "
        "to order = max(EOQ, reorder point − on hand − on order)."
    ),
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
    "MASE": (
        "mean |actual − forecast| over the held-out weeks / mean |error| of the "
        "seasonal-naive forecast (same week a year earlier) over the training weeks, "
        "averaged over the backtest origins (Hyndman & Koehler 2006); the forecast beats "
        "naive when its MASE is the lower. The only error measure of this report."
    ),
    "Revenue in whole weeks": (
        "Σ quantity × unit price × (1 − discount) of the order lines in the whole "
        "Monday–Sunday weeks of the period (the ABC × XYZ classes); partial weeks at the "
        "period's ends are left out, so it is below the period's GMV."
    ),
    "Days of cover": (
        "stock on hand and on order / expected daily demand (reorder list); stock on hand"
        " / average daily units (dead and excess stock)."
    ),
    "OTIF by week and month": (
        "OTIF of the orders promised in each Monday–Sunday week or calendar month; a "
        "period is complete when every order promised in it was placed in the report's "
        "period."
    ),
    "Stock-out days per week": (
        "warehouse × SKU days with nothing on hand in each whole Monday–Sunday week."
    ),
}


def definitions(dead_days: int = 180, excess_days: float = 90) -> dict[str, str]:
    """The report's definitions, term -> how it is computed."""
    return {
        **_DEFINITIONS_BEFORE,
        "Dead and excess stock": (
            f"dead: stock on hand with no order in the last {dead_days} days; excess: units "
            f"beyond {excess_days} days of average demand, valued at unit cost."
        ),
        **_DEFINITIONS_AFTER,
    }
