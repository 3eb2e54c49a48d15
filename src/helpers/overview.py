"""Headline KPIs of the platform, by month: the overview report.

:func:`analyse` is the report's one entry point: it builds each section the dataset allows
(:data:`SECTIONS`) and returns a :class:`helpers.sections.Analysis`. Every aggregation is an
Ibis expression (it runs on DuckDB or Spark); only the monthly result, a few dozen rows,
reaches pandas.

The core is orders + order lines (:data:`CORE`): GMV, AOV, orders, active accounts, repeat
rate and the monthly table need nothing else. New accounts by channel read the accounts'
``acquisition_channel`` (skipped when every channel is unknown, as for accounts derived from
the ids seen); on-time delivery reads shipments and ``orders.promised_delivery``; the gross
margin needs every line's ``unit_cost`` (an export without costs shows it as unknown, never as
100 %).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.data import measures
from helpers.data.adapters.base import GUEST_CHANNEL
from helpers.data.tables import UNKNOWN, derive_accounts
from helpers.sections import Analysis, Section
from helpers.stats import wilson_interval

__all__ = [
    "CORE",
    "OPTIONAL",
    "SECTIONS",
    "analyse",
    "best_month",
    "headline",
    "monthly_kpis",
    "new_accounts_by_channel",
    "on_time_delivery",
    "repeat_share",
]

#: The tables the overview cannot run without.
CORE = ("orders", "order_lines")

SECTIONS = (
    Section("kpis", "GMV and orders by month"),
    Section("accounts", "Active accounts and repeat buyers"),
    Section("margin", "Gross margin"),
    Section(
        "channels",
        "New accounts by acquisition channel",
        needs={"accounts": ("account_id", "signup_date", "acquisition_channel")},
    ),
    Section(
        "delivery",
        "On-time delivery",
        needs={"shipments": ("order_id", "delivered_at")},
    ),
    Section("monthly", "The numbers, month by month"),
)

#: The tables the sections read beyond the core (opened when the dataset has them).
OPTIONAL = tuple(dict.fromkeys(t for s in SECTIONS for t in s.tables))

NO_COSTS = (
    "The gross margin is unknown: the export has no unit costs (order_lines.unit_cost is empty "
    "for {n:,} of {total:,} order lines). Import it with an assumed cost ratio (the csv import's "
    "`--cost-ratio`, recorded as an assumption) or bring the unit costs to show it."
)
NO_CHANNELS = (
    "Every account's acquisition channel is unknown{why}: an accounts table with "
    "acquisition_channel brings this section back (see docs/bring-your-own-data.md)."
)
NO_PROMISES = (
    "This section needs orders.promised_delivery: no order in the period has a promised "
    "delivery to compare the shipments' delivered_at with (see docs/bring-your-own-data.md)."
)


def _month(ts):
    return ts.truncate("M").cast("date")


def monthly_kpis(ds, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """GMV, orders, active accounts, AOV, gross margin, repeat rate and new accounts per month.

    - gmv: Σ order revenue (after discounts); orders: count of orders with at least one line
    - active_accounts: accounts with at least one order in the month; aov = gmv / orders
    - gross_margin = gmv − cogs; gross_margin_rate = gross_margin / gmv; both unknown (NaN)
      in a month with an order of unknown cost (``unit_cost`` null), never a partial sum
    - repeat_accounts: active accounts whose first order came in an earlier month;
      repeat_rate = repeat_accounts / active_accounts (undefined, NaN, in the data's first
      month, which has no earlier history)
    - new_accounts: accounts whose signup_date falls in the month (without an accounts
      table: accounts whose first activity falls in it, :func:`derive_accounts`)

    ``start``/``end`` (ISO dates, inclusive) restrict the months shown; the repeat test still
    looks at the whole history, so an account first seen before ``start`` counts as repeat.
    """
    ov = measures.order_values(ds)
    ov = ov.mutate(month=_month(ov.order_ts))
    first = ov.group_by("account_id").aggregate(first_month=ov.month.min())
    ov = ov.join(first, "account_id")
    monthly = ov.group_by("month").aggregate(
        gmv=ov.revenue.sum(),
        cogs=ov.cogs.sum(),
        unknown_cost_orders=ov.cogs.isnull().sum(),
        orders=ov.order_id.nunique(),
        active_accounts=ov.account_id.nunique(),
        repeat_accounts=ov.account_id.nunique(where=ov.first_month < ov.month),
    )
    acc = _accounts(ds)
    signups = acc.group_by(month=acc.signup_date.truncate("M")).aggregate(new_accounts=acc.count())
    out = monthly.to_pandas().merge(signups.to_pandas(), on="month", how="outer")
    out["month"] = pd.to_datetime(out["month"])
    out = out.sort_values("month").reset_index(drop=True)
    counts = ["orders", "active_accounts", "repeat_accounts", "new_accounts"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["unknown_cost_orders"] = out.unknown_cost_orders.fillna(0).astype("int64")
    out["gmv"] = out.gmv.fillna(0.0)
    out["cogs"] = out.cogs.fillna(0.0).where(out.unknown_cost_orders == 0, np.nan)
    out["aov"] = out.gmv / out.orders.where(out.orders > 0)
    out["gross_margin"] = out.gmv - out.cogs
    out["gross_margin_rate"] = out.gross_margin / out.gmv.where(out.gmv > 0)
    out["repeat_rate"] = out.repeat_accounts / out.active_accounts.where(out.active_accounts > 0)
    # The first month of the data has no earlier history to repeat from: not a rate of zero.
    out.loc[out.month == out.month[out.orders > 0].min(), "repeat_rate"] = float("nan")
    return _between(out, start, end)


def _accounts(ds):
    """``ds.accounts``, or one derived from the account ids seen when the dataset has none."""
    return (ds if "accounts" in ds else derive_accounts(ds)).accounts


def _between(df: pd.DataFrame, start: str | None, end: str | None, column: str = "month"):
    if start:
        df = df[df[column] >= pd.Timestamp(start).to_period("M").to_timestamp()]
    if end:
        df = df[df[column] <= pd.Timestamp(end)]
    return df.reset_index(drop=True)


def new_accounts_by_channel(ds, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """New accounts per signup month and acquisition channel (long format: month, channel, n)."""
    acc = _accounts(ds)
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


def headline(kpis: pd.DataFrame, delivery: pd.DataFrame | None, data_end: pd.Timestamp) -> dict:
    """Key figures for the whole period, and the last complete month against the one before.

    gmv = Σ gmv, orders = Σ orders, aov = gmv / orders, gross_margin_rate = (gmv − Σ cogs) /
    gmv (NaN when a month's cost of goods is unknown), on_time_rate = Σ on_time / Σ delivered
    (only with ``delivery``). A month is complete when the data runs to its last day
    (``data_end``); a partial last month is left out of the month-on-month comparison
    (``last_month_partial`` says so), unless it is the data's only month: then it is shown,
    marked partial, with no month before it.
    """
    if kpis.empty or kpis.orders.sum() == 0:
        raise ValueError("no orders in the selected period: widen start/end")
    gmv, orders = float(kpis.gmv.sum()), int(kpis.orders.sum())
    cogs = float(kpis.cogs.sum()) if kpis.cogs.notna().all() else float("nan")
    months = kpis[kpis.orders > 0]
    partial = pd.Timestamp(data_end).normalize() < months.month.iloc[-1] + pd.offsets.MonthEnd(0)
    complete = months.iloc[:-1] if partial and len(months) > 1 else months
    last = complete.iloc[-1]
    prev = complete.iloc[-2] if len(complete) > 1 else None
    out = {
        "gmv": gmv,
        "orders": orders,
        "aov": gmv / orders,
        "gross_margin_rate": (gmv - cogs) / gmv if gmv else float("nan"),
        "new_accounts": int(kpis.new_accounts.sum()),
        "months": len(kpis),
        "last_month": f"{last.month:%Y-%m}",
        "last_month_partial": bool(partial),
        "only_month_partial": bool(partial and len(months) == 1),
        "last_month_gmv": float(last.gmv),
        "last_month_active_accounts": int(last.active_accounts),
        "last_month_repeat_rate": float(last.repeat_rate),
        "prev_month_gmv": float(prev.gmv) if prev is not None else float("nan"),
    }
    if delivery is not None:
        delivered = int(delivery.delivered.sum())
        out["on_time_rate"] = int(delivery.on_time.sum()) / delivered if delivered else float("nan")
    return out


def repeat_share(kpis: pd.DataFrame) -> float:
    """Σ repeat accounts / Σ active accounts over the months that have a repeat rate (NaN when
    none has: a single month of data)."""
    known = kpis[kpis.repeat_rate.notna()]
    active = int(known.active_accounts.sum())
    return float(known.repeat_accounts.sum() / active) if active else float("nan")


def best_month(kpis: pd.DataFrame, column: str = "gmv") -> pd.Series:
    """The month with the highest ``column``."""
    return kpis.loc[kpis[column].idxmax()]


# ----------------------------------------------------------------------------- the report

#: Figures of the JSON per section (a section's figures appear only when it is built).
SECTION_FIGURES = {
    "kpis": (
        "gmv",
        "orders",
        "aov",
        "months",
        "new_accounts",
        "last_month",
        "last_month_gmv",
        "prev_month_gmv",
    ),
    "accounts": ("last_month_active_accounts", "last_month_repeat_rate"),
    "margin": ("gross_margin_rate",),
    "delivery": ("on_time_rate",),
}


def analyse(ds, start: str | None = None, end: str | None = None) -> Analysis:
    """The overview report: every section :data:`SECTIONS` the dataset allows.

    ``start``/``end`` (ISO dates, inclusive) restrict the months shown. Tables: ``kpis``
    (:func:`monthly_kpis`), ``channels`` (:func:`new_accounts_by_channel`, long) with
    ``channels_wide`` and ``channel_share``, ``delivery`` (:func:`on_time_delivery`). Facts:
    :func:`headline`'s, ``best_month``, ranges of monthly GMV, AOV and margin, the repeat
    share, the top channel, the weakest delivery month. Sections skipped beyond missing
    tables: the margin when a line has no unit cost, channels when every channel is unknown,
    delivery when no order has a promise in the period.
    """
    if "accounts" not in ds:
        ds = derive_accounts(ds)
    result = Analysis.start("overview", SECTIONS, ds)
    kpis = monthly_kpis(ds, start, end)
    result.tables["kpis"] = kpis
    _check_costs(ds, result)
    if result.built("delivery"):
        delivery = on_time_delivery(ds, start, end)
        if delivery.delivered.sum() == 0:
            result.skip("delivery", NO_PROMISES)
        else:
            result.tables["delivery"] = delivery
    h = headline(kpis, result.tables.get("delivery"), data_end=ds.period("orders")[1])
    best = best_month(kpis)
    result.facts.update(h)
    result.facts.update(
        best_month=f"{best.month:%Y-%m}",
        best_month_gmv=float(best.gmv),
        gmv_min=float(kpis.gmv.min()),
        gmv_max=float(kpis.gmv.max()),
        aov_min=float(kpis.aov.min()),
        aov_max=float(kpis.aov.max()),
        active_mean=float(kpis.active_accounts.mean()),
        repeat_share=repeat_share(kpis),
    )
    if result.built("margin"):
        result.facts.update(
            margin_min=float(kpis.gross_margin_rate.min()),
            margin_max=float(kpis.gross_margin_rate.max()),
        )
    if result.built("channels"):
        _channels(ds, start, end, result)
    if result.built("delivery"):
        _delivery_facts(result.tables["delivery"], result.facts)
    for key, names in SECTION_FIGURES.items():
        if result.built(key):
            result.figures.update({n: h[n] for n in names})
    return result


def _check_costs(ds, result: Analysis) -> None:
    """Skip the margin section when any kept order line has no unit cost."""
    lines = ds.order_lines
    counts = lines.aggregate(n=lines.count(), unknown=lines.unit_cost.isnull().sum()).to_pandas()
    unknown, total = int(counts.unknown.iloc[0]), int(counts.n.iloc[0])
    result.facts["costs_known"] = unknown == 0
    if unknown:
        result.skip("margin", NO_COSTS.format(n=unknown, total=total))


def _channels(ds, start, end, result: Analysis) -> None:
    """New accounts by channel, or skip the section when no account has a known channel
    (guest accounts of an import aside)."""
    channels = new_accounts_by_channel(ds, start, end)
    known = channels[~channels.channel.isin([UNKNOWN, GUEST_CHANNEL])]
    if known.new_accounts.sum() == 0:
        derived = any("no accounts table" in note for note in ds.notes)
        why = " (the accounts were derived from the account ids seen)" if derived else ""
        result.skip("channels", NO_CHANNELS.format(why=why))
        return
    share = channels.groupby("channel").new_accounts.sum() / channels.new_accounts.sum()
    result.tables["channels"] = channels
    result.tables["channels_wide"] = channels.pivot_table(
        index="month", columns="channel", values="new_accounts", fill_value=0
    )
    result.tables["channel_share"] = share.sort_values(ascending=False)
    result.facts["top_channel"] = str(share.idxmax())


def _delivery_facts(delivery: pd.DataFrame, facts: dict) -> None:
    """The delivered count and the weakest month (its rate, interval and deliveries)."""
    worst = delivery.loc[delivery.on_time_rate.idxmin()]
    facts.update(
        delivered=int(delivery.delivered.sum()),
        worst_delivery_month=f"{worst.month:%Y-%m}",
        worst_on_time_rate=float(worst.on_time_rate),
        worst_ci_low=float(worst.ci_low),
        worst_ci_high=float(worst.ci_high),
        worst_delivered=int(worst.delivered),
    )
