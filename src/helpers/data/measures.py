"""Measures every topic computes the same way, as Ibis expressions over the data model.

A line's revenue is after discount (``order_lines.discount`` is a fraction of the unit price);
its cost of goods is at the line's unit cost. Topic modules build on these instead of writing
the formulas again, so GMV in one report is GMV in every other.
"""

from __future__ import annotations


def line_revenue(lines):
    """quantity · unit_price · (1 − discount), per order line."""
    return lines.quantity * lines.unit_price * (1 - lines.discount)


def line_cogs(lines):
    """quantity · unit_cost, per order line."""
    return lines.quantity * lines.unit_cost


def order_values(ds):
    """One row per order: order_id, account_id, order_ts, revenue and cogs over its lines.

    Orders whose lines were all set aside by validation do not appear.
    """
    lines = ds.order_lines
    per_order = lines.group_by("order_id").aggregate(
        revenue=line_revenue(lines).sum(), cogs=line_cogs(lines).sum()
    )
    orders = ds.orders
    return orders.join(per_order, "order_id").select(
        "order_id", "account_id", "order_ts", revenue=per_order.revenue, cogs=per_order.cogs
    )
