"""Headline KPIs of the platform, by month: the overview report's helpers.

Every aggregation is an Ibis expression (it runs on DuckDB or Spark); only the monthly result,
a few dozen rows, reaches pandas.
"""

from __future__ import annotations

import pandas as pd

from helpers.data import measures
from helpers.stats import wilson_interval


def _month(ts):
    return ts.truncate("M").cast("date")


def order_values(ds):
    """One row per order: account, order month, revenue and cost of goods
    (:func:`helpers.data.measures.order_values` with the month added)."""
    ov = measures.order_values(ds)
    return ov.mutate(month=_month(ov.order_ts))


def monthly_kpis(ds, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """GMV, orders, active accounts, AOV, gross margin, repeat rate and new accounts per month.

    - gmv: Σ order revenue (after discounts); orders: count of orders with at least one line
    - active_accounts: accounts with at least one order in the month; aov = gmv / orders
    - gross_margin = gmv − cogs; gross_margin_rate = gross_margin / gmv
    - repeat_accounts: active accounts whose first order came in an earlier month;
      repeat_rate = repeat_accounts / active_accounts (undefined, NaN, in the data's first
      month, which has no earlier history)
    - new_accounts: accounts whose signup_date falls in the month

    ``start``/``end`` (ISO dates, inclusive) restrict the months shown; the repeat test still
    looks at the whole history, so an account first seen before ``start`` counts as repeat.
    """
    ov = order_values(ds)
    first = ov.group_by("account_id").aggregate(first_month=ov.month.min())
    ov = ov.join(first, "account_id")
    monthly = ov.group_by("month").aggregate(
        gmv=ov.revenue.sum(),
        cogs=ov.cogs.sum(),
        orders=ov.order_id.nunique(),
        active_accounts=ov.account_id.nunique(),
        repeat_accounts=ov.account_id.nunique(where=ov.first_month < ov.month),
    )
    acc = ds.accounts
    signups = acc.group_by(month=acc.signup_date.truncate("M")).aggregate(new_accounts=acc.count())
    out = monthly.to_pandas().merge(signups.to_pandas(), on="month", how="outer")
    out["month"] = pd.to_datetime(out["month"])
    out = out.sort_values("month").reset_index(drop=True)
    counts = ["orders", "active_accounts", "repeat_accounts", "new_accounts"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out[["gmv", "cogs"]] = out[["gmv", "cogs"]].fillna(0.0)
    out["aov"] = out.gmv / out.orders.where(out.orders > 0)
    out["gross_margin"] = out.gmv - out.cogs
    out["gross_margin_rate"] = out.gross_margin / out.gmv.where(out.gmv > 0)
    out["repeat_rate"] = out.repeat_accounts / out.active_accounts.where(out.active_accounts > 0)
    # The first month of the data has no earlier history to repeat from: not a rate of zero.
    out.loc[out.month == out.month[out.orders > 0].min(), "repeat_rate"] = float("nan")
    return _between(out, start, end)


def _between(df: pd.DataFrame, start: str | None, end: str | None, column: str = "month"):
    if start:
        df = df[df[column] >= pd.Timestamp(start).to_period("M").to_timestamp()]
    if end:
        df = df[df[column] <= pd.Timestamp(end)]
    return df.reset_index(drop=True)


def new_accounts_by_channel(ds, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """New accounts per signup month and acquisition channel (long format: month, channel, n)."""
    acc = ds.accounts
    out = (
        acc.group_by(month=acc.signup_date.truncate("M"), channel=acc.acquisition_channel)
        .aggregate(new_accounts=acc.count())
        .to_pandas()
    )
    out["month"] = pd.to_datetime(out["month"])
    return _between(out.sort_values(["month", "channel"]), start, end)


def on_time_delivery(ds, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Share of delivered shipments that arrived by the order's promised delivery, per month.

    on_time_rate = on_time / delivered, with a 95 % Wilson interval; the month is that of the
    promise. Shipments not yet delivered are counted apart (``undelivered``), not as late.
    Promises due after the data's last delivery are left out: a late delivery of those cannot
    be seen yet, so counting them would flatter the last month.
    """
    sh, orders = ds.shipments, ds.orders
    j = sh.join(orders, "order_id")
    j = j.filter(j.promised_delivery <= sh.delivered_at.max())
    delivered = j.delivered_at.notnull()
    monthly = j.group_by(month=_month(j.promised_delivery)).aggregate(
        delivered=delivered.sum(),
        on_time=(delivered & (j.delivered_at <= j.promised_delivery)).sum(),
        undelivered=(~delivered).sum(),
    )
    out = monthly.to_pandas()
    out["month"] = pd.to_datetime(out["month"])
    out = out.sort_values("month").reset_index(drop=True)
    out[["delivered", "on_time", "undelivered"]] = out[
        ["delivered", "on_time", "undelivered"]
    ].astype("int64")
    out["on_time_rate"] = out.on_time / out.delivered.where(out.delivered > 0)
    out["ci_low"], out["ci_high"] = wilson_interval(out.on_time, out.delivered)
    return _between(out, start, end)


def headline(kpis: pd.DataFrame, delivery: pd.DataFrame, data_end: pd.Timestamp) -> dict:
    """Key figures for the whole period, and the last complete month against the one before.

    A month is complete when the data runs to its last day (``data_end``); a partial last
    month is left out of the month-on-month comparison (``last_month_partial`` says so).
    """
    if kpis.empty or kpis.orders.sum() == 0:
        raise ValueError("no orders in the selected period: widen start/end")
    gmv, cogs, orders = float(kpis.gmv.sum()), float(kpis.cogs.sum()), int(kpis.orders.sum())
    delivered = int(delivery.delivered.sum())
    months = kpis[kpis.orders > 0]
    partial = pd.Timestamp(data_end).normalize() < months.month.iloc[-1] + pd.offsets.MonthEnd(0)
    complete = months.iloc[:-1] if partial else months
    if complete.empty:
        raise ValueError("the data does not cover one complete month")
    last = complete.iloc[-1]
    prev = complete.iloc[-2] if len(complete) > 1 else None
    return {
        "gmv": gmv,
        "orders": orders,
        "aov": gmv / orders,
        "gross_margin_rate": (gmv - cogs) / gmv if gmv else float("nan"),
        "new_accounts": int(kpis.new_accounts.sum()),
        "on_time_rate": int(delivery.on_time.sum()) / delivered if delivered else float("nan"),
        "months": len(kpis),
        "last_month": f"{last.month:%Y-%m}",
        "last_month_partial": bool(partial),
        "last_month_gmv": float(last.gmv),
        "last_month_active_accounts": int(last.active_accounts),
        "last_month_repeat_rate": float(last.repeat_rate),
        "prev_month_gmv": float(prev.gmv) if prev is not None else float("nan"),
    }


def repeat_share(kpis: pd.DataFrame) -> float:
    """Σ repeat accounts / Σ active accounts over the months that have a repeat rate."""
    known = kpis[kpis.repeat_rate.notna()]
    return float(known.repeat_accounts.sum() / known.active_accounts.sum())


def best_month(kpis: pd.DataFrame, column: str = "gmv") -> pd.Series:
    """The month with the highest ``column``."""
    return kpis.loc[kpis[column].idxmax()]
