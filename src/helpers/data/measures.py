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

    Orders whose lines were all set aside by validation do not appear. ``cogs`` is null for an
    order with any line of unknown cost (``unit_cost`` null: an export without costs), never a
    partial sum: a margin over such orders is unknown (see :func:`costs_known`).
    """
    lines = ds.order_lines
    per_order = lines.group_by("order_id").aggregate(
        revenue=line_revenue(lines).sum(),
        cogs=line_cogs(lines).sum(),
        _unknown_cost=lines.unit_cost.isnull().sum(),
    )
    per_order = per_order.mutate(
        cogs=(per_order._unknown_cost == 0).ifelse(per_order.cogs, None)
    ).drop("_unknown_cost")
    orders = ds.orders
    return orders.join(per_order, "order_id").select(
        "order_id", "account_id", "order_ts", revenue=per_order.revenue, cogs=per_order.cogs
    )


def costs_known(ds) -> bool:
    """Whether every kept order line has a unit cost, so margins can be computed."""
    lines = ds.order_lines
    return int(lines.unit_cost.isnull().sum().to_pandas()) == 0
