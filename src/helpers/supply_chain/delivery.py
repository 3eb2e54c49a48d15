"""Warehousing and delivery: order fulfilment, OTIF, costs, delivery times, late cost."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from helpers import validate
from helpers.data.tables import derive_accounts
from helpers.stats import wilson_interval
from helpers.supply_chain._base import (
    _days,
    _nonempty,
    _orders,
    period_bounds,
)

# ----------------------------------------------------------------------------- delivery


def order_fulfilment(ds, start=None, end=None, warehouse: str | None = None, as_of=None):
    """One row per order of the period as an Ibis table (it stays on the engine).

    ordered = sum(order_lines.quantity); shipped = sum(shipments.qty_shipped) over all the
    order's shipments (partial shipments add up); delivered_at = the last delivery; carrier =
    the shipments' carrier, "multiple" when they differ; region = the account's region; month /
    week = month / Monday-Sunday week of the promised delivery. status: "delivered" (every
    shipment delivered), "in transit" (a shipment not yet delivered), "not shipped" (no
    shipment although the promise is before ``as_of``, the last shipment time in the data) or
    "pending" (no shipment, promise not yet due). on_time = delivered_at <=
    promised_delivery; in_full = shipped >= ordered; otif = on_time and in_full; a "not
    shipped" order is neither.
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
        week=j.promised_delivery.truncate("W").cast("date"),
        status=status,
        on_time=on_time,
        in_full=in_full,
        otif=on_time & in_full,
    )


def otif(ds, by: str = "carrier", start=None, end=None, warehouse=None, as_of=None):
    """OTIF rate per ``by`` (carrier, region, month, week or warehouse_id), with Wilson
    intervals (month and week: of the promised delivery, as its first day).

    Counted orders = "delivered" + "not shipped" (see :func:`order_fulfilment`); orders in
    transit or pending are left out and reported in ``open_orders``. otif_rate = otif /
    counted, on_time_rate and in_full_rate likewise.
    """
    if by not in ("carrier", "region", "month", "week", "warehouse_id"):
        raise ValueError(
            f"otif: by must be carrier, region, month, week or warehouse_id, got {by!r}"
        )
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
    if by in ("month", "week"):
        out[by] = pd.to_datetime(out[by])
    return out.sort_values(by).reset_index(drop=True)


def otif_history(ds, freq: str = "week", start=None, end=None, warehouse=None, as_of=None):
    """OTIF per week or month of promised delivery (:func:`otif` by ``freq``, "week" or
    "month"), with ``complete``: whether every order promised in that week or month was
    placed in the period, so none is missing from it.

    complete = (first day - longest promise lead >= start) and (last day <= end), the
    longest promise lead being max(promised_delivery - order_ts) over the period's orders in
    whole days, rounded up (orders placed before ``start`` can be promised in its first
    weeks; orders placed after ``end`` are not read). Week = Monday to Sunday.
    """
    if freq not in ("week", "month"):
        raise ValueError(f"otif_history: freq must be week or month, got {freq!r}")
    lo, hi = period_bounds(ds, start, end)
    out = otif(ds, freq, lo, hi, warehouse, as_of)
    o = _orders(ds, lo, hi, warehouse)
    lead = o.aggregate(m=_days(o.promised_delivery, o.order_ts).max()).to_pandas().m.iloc[0]
    lead = pd.Timedelta(days=float(np.ceil(lead)) if pd.notna(lead) else 0.0)
    first = pd.to_datetime(out[freq])
    last = first + (pd.Timedelta(days=6) if freq == "week" else pd.offsets.MonthEnd(0))
    out["complete"] = ((first - lead) >= lo) & (last <= hi)
    return out


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
