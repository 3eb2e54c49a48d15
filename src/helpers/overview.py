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

from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from helpers.config import PROJ_ROOT
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
    "changes",
    "headline",
    "monthly_kpis",
    "monthly_series",
    "new_accounts_by_channel",
    "on_time_delivery",
    "read_targets",
    "repeat_share",
    "shown_changes",
    "target_progress",
    "weekly_kpis",
    "weekly_series",
]

#: The tables the overview cannot run without.
CORE = ("orders", "order_lines")

SECTIONS = (
    Section("changes", "Month on month and year on year"),
    Section("targets", "Progress against targets"),
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

    - history_months: whole months of data before the month (0 in the data's first month)

    ``start``/``end`` (ISO dates, inclusive) restrict the orders and signups counted to those
    days (a month cut by the window is partial) and the months shown; the repeat test still
    looks at the whole history, so an account first seen before ``start`` counts as repeat.
    """
    ov = measures.order_values(ds)
    ov = ov.mutate(month=_month(ov.order_ts))
    first = ov.group_by("account_id").aggregate(first_month=ov.month.min())
    data_first = ov.aggregate(m=ov.month.min()).to_pandas().m.iloc[0]
    ov = ov.join(first, "account_id")
    ov = ov.filter(_in_window(ov.order_ts, start, end))
    monthly = ov.group_by("month").aggregate(
        gmv=ov.revenue.sum(),
        cogs=ov.cogs.sum(),
        unknown_cost_orders=ov.cogs.isnull().sum(),
        orders=ov.order_id.nunique(),
        active_accounts=ov.account_id.nunique(),
        repeat_accounts=ov.account_id.nunique(where=ov.first_month < ov.month),
    )
    acc = _accounts(ds)
    acc = acc.filter(_in_window(acc.signup_date, start, end))
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
    first_month = pd.Timestamp(data_first) if pd.notna(data_first) else out.month.min()
    out.loc[out.month == first_month, "repeat_rate"] = float("nan")
    out["history_months"] = (
        (out.month.dt.year - first_month.year) * 12 + out.month.dt.month - first_month.month
    ).clip(lower=0)
    return _between(out, start, end)


def _in_window(col, start: str | None, end: str | None):
    """``col`` (a timestamp or date column) within the inclusive days ``start`` .. ``end``."""
    cond = ibis.literal(True)
    if start:
        cond = cond & (
            col.cast("timestamp") >= ibis.timestamp(pd.Timestamp(start).normalize().to_pydatetime())
        )
    if end:
        stop = pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
        cond = cond & (col.cast("timestamp") < ibis.timestamp(stop.to_pydatetime()))
    return cond


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
    promise (``start``/``end``: promises due on those days, inclusive). Shipments not yet
    delivered are counted apart (``undelivered``), not as late. Promises due after the data's
    last delivery are left out: a late delivery of those cannot be seen yet, so counting them
    would flatter the last month.
    """
    sh, orders = ds.shipments, ds.orders
    j = sh.join(orders, "order_id")
    j = j.filter(j.promised_delivery <= sh.delivered_at.max())
    j = j.filter(_in_window(j.promised_delivery, start, end))
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
        "last_month_orders": int(last.orders),
        "last_month_aov": float(last.aov),
        "last_month_new_accounts": int(last.new_accounts),
        "last_month_gross_margin_rate": float(last.gross_margin_rate),
        "last_month_active_accounts": int(last.active_accounts),
        "last_month_repeat_rate": float(last.repeat_rate),
        "prev_month_gmv": float(prev.gmv) if prev is not None else float("nan"),
    }
    if delivery is not None:
        delivered = int(delivery.delivered.sum())
        out["on_time_rate"] = int(delivery.on_time.sum()) / delivered if delivered else float("nan")
        in_month = delivery[delivery.month == last.month]
        out["last_month_on_time_rate"] = (
            float(in_month.on_time_rate.iloc[0]) if len(in_month) else float("nan")
        )
    return out


#: The monthly figures compared month on month and year on year, with how a reader names
#: them (the column of :func:`monthly_kpis` or :func:`on_time_delivery`).
COMPARED = {
    "gmv": "GMV",
    "orders": "Orders",
    "active_accounts": "Accounts ordering",
    "aov": "Average order value",
    "new_accounts": "New accounts",
    "repeat_rate": "Repeat buyers' share",
    "gross_margin_rate": "Gross margin rate",
    "on_time_rate": "Delivered on time",
}


COUNTS = ("orders", "active_accounts", "new_accounts")


def _monthly_figures(kpis: pd.DataFrame, delivery: pd.DataFrame | None) -> pd.DataFrame:
    """One row per month (index) and one column per :data:`COMPARED` figure the data has."""
    wide = kpis.set_index("month")[[c for c in COMPARED if c in kpis.columns]]
    if delivery is not None and len(delivery):
        wide = wide.join(delivery.set_index("month")[["on_time_rate"]], how="outer")
    return wide.sort_index()


def _relative(now: float, before: float) -> float:
    """(now − before) / |before|; NaN when either is unknown or ``before`` is 0."""
    if pd.isna(now) or pd.isna(before) or before == 0:
        return float("nan")
    return float((now - before) / abs(before))


def changes(kpis: pd.DataFrame, delivery: pd.DataFrame | None, month: str) -> pd.DataFrame:
    """Month on month and year on year for each :data:`COMPARED` figure in ``month`` (YYYY-MM).

    One row per figure: value (the month's), month_before (the calendar month before),
    year_before (the same month a year earlier); mom = (value − month_before) /
    |month_before|, yoy = (value − year_before) / |year_before|: relative changes, also for
    the rates (a margin going from 28.6 % to 29.1 % is +1.7 %), NaN where the earlier month
    is not in ``kpis`` (pass the whole history, not only the window) or is zero. Figures
    whose value in ``month`` is unknown (margin without costs) are left out.
    """
    wide = _monthly_figures(kpis, delivery)
    this = pd.Timestamp(f"{month}-01")
    at = {k: this - pd.DateOffset(months=n) for k, n in (("month_before", 1), ("year_before", 12))}
    rows = []
    for figure in wide.columns:
        value = wide[figure].get(this, float("nan"))
        if pd.isna(value):
            continue
        before = {k: wide[figure].get(m, float("nan")) for k, m in at.items()}
        rows.append(
            {
                "figure": figure,
                "label": COMPARED[figure],
                "value": float(value),
                "month_before": float(before["month_before"]),
                "mom": _relative(value, before["month_before"]),
                "year_before": float(before["year_before"]),
                "yoy": _relative(value, before["year_before"]),
            }
        )
    return pd.DataFrame(
        rows, columns=["figure", "label", "value", "month_before", "mom", "year_before", "yoy"]
    )


def shown_changes(ch: pd.DataFrame, month: str) -> pd.DataFrame:
    """:func:`changes` as a reader sees it: one row per figure, the values in their units
    (amounts with thousands separators, rates as %), the changes signed (+4.2 %, n/a when the
    earlier month is not known), the months in the headers ("In 2026-10")."""
    this = pd.Timestamp(f"{month}-01")
    before, year = this - pd.DateOffset(months=1), this - pd.DateOffset(years=1)

    def value(figure: str, v: float) -> str:
        if pd.isna(v):
            return "n/a"
        return f"{v:.1%}" if figure.endswith("_rate") else f"{v:,.0f}"

    def signed(v: float) -> str:
        return "n/a" if pd.isna(v) else f"{v:+.1%}"

    return pd.DataFrame(
        {
            "Figure": ch.label,
            f"In {this:%Y-%m}": [value(f, v) for f, v in zip(ch.figure, ch.value, strict=True)],
            f"In {before:%Y-%m}": [
                value(f, v) for f, v in zip(ch.figure, ch.month_before, strict=True)
            ],
            "Month on month": ch.mom.map(signed),
            f"In {year:%Y-%m}": [
                value(f, v) for f, v in zip(ch.figure, ch.year_before, strict=True)
            ],
            "Year on year": ch.yoy.map(signed),
        }
    )


def monthly_series(
    kpis: pd.DataFrame, delivery: pd.DataFrame | None, first: pd.Timestamp, last: str
) -> dict:
    """The monthly history of the headline figures for ``publish(series=...)``.

    ``{"last_month_<figure>": {"freq": "month", "values": {"YYYY-MM": value, ...}}}`` for
    gmv, orders, active accounts, aov, gross margin rate and on-time rate: the complete
    months only, from the first month that starts on or after ``first`` (the data's first
    day) to ``last`` (the last complete month, YYYY-MM), in time order; a month with an
    unknown value (margin without costs) is left out.
    """
    wide = _monthly_figures(kpis, delivery)
    start = pd.Timestamp(first).normalize()
    wide = wide[(wide.index >= start) & (wide.index <= pd.Timestamp(f"{last}-01"))]
    out = {}
    for figure in ("gmv", "orders", "active_accounts", "aov", "gross_margin_rate", "on_time_rate"):
        if figure not in wide.columns:
            continue
        values = wide[figure].dropna()
        if len(values):
            out[f"last_month_{figure}"] = {
                "freq": "month",
                "values": {
                    f"{m:%Y-%m}": int(v) if figure in COUNTS else float(v)
                    for m, v in values.items()
                },
            }
    return out


def weekly_kpis(ds, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """GMV and orders per ISO week (Monday to Sunday), weeks with an order in the window.

    week = the Monday starting the week; iso_week = "YYYY-Www" (ISO 8601 year and week);
    gmv = Σ order revenue, orders = count of orders, over orders placed on the days
    ``start`` .. ``end`` (inclusive; a week cut by them, or by the data's ends, is partial:
    :func:`weekly_series` keeps only complete ones).
    """
    ov = measures.order_values(ds)
    ov = ov.filter(_in_window(ov.order_ts, start, end))
    ov = ov.mutate(week=ov.order_ts.truncate("W").cast("date"))
    out = ov.group_by("week").aggregate(gmv=ov.revenue.sum(), orders=ov.order_id.nunique())
    out = out.to_pandas()
    out["week"] = pd.to_datetime(out["week"])
    out = out.sort_values("week").reset_index(drop=True)
    out["orders"] = out.orders.astype("int64")
    iso = out.week.dt.isocalendar()
    out["iso_week"] = [f"{y}-W{w:02d}" for y, w in zip(iso.year, iso.week, strict=True)]
    return out


def weekly_series(weekly: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> dict:
    """``{"last_week_gmv" | "last_week_orders": {"freq": "week", "values": {"2026-W40": v}}}``:
    the complete ISO weeks only (Monday on or after ``first``, Sunday on or before ``last``,
    both days), in time order."""
    lo, hi = pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize()
    done = weekly[(weekly.week >= lo) & (weekly.week + pd.Timedelta(days=6) <= hi)]
    return {
        f"last_week_{figure}": {
            "freq": "week",
            "values": {
                w: int(v) if figure == "orders" else float(v)
                for w, v in zip(done.iso_week, done[figure], strict=True)
            },
        }
        for figure in ("gmv", "orders")
        if len(done)
    }


#: The file :func:`read_targets` reads when the ``targets`` parameter names none.
TARGETS_FILE = "targets.yml"


def read_targets(path: str | Path | None = TARGETS_FILE) -> pd.DataFrame | None:
    """Monthly targets from a YAML file (format: ``targets.example.yml``), or None when there
    is no such file (targets are optional).

    The file maps a figure of :data:`COMPARED` to months and their targets::

        gmv:
          2026-10: 3500000
        gross_margin_rate:
          2026-10: 0.30

    A relative ``path`` is read from the project root. Returns figure, month (the month's
    first day), target. Raises ValueError on an unknown figure, a month that is not
    YYYY-MM or a target that is not a number. PyYAML's safe loader reads it (already a
    dependency for reports.yml); a month written 2026-10-01 is read as a date and accepted.
    """
    import yaml

    if path in (None, ""):
        path = TARGETS_FILE
    file = Path(path) if Path(path).is_absolute() else Path(PROJ_ROOT) / path
    if not file.is_file():
        return None
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{file.name}: expected figure: {{month: target}}, got {type(data)}")
    rows = []
    for figure, months in data.items():
        if figure not in COMPARED:
            raise ValueError(
                f"{file.name}: unknown figure {figure!r}; targets can be set for "
                + ", ".join(COMPARED)
            )
        if not isinstance(months, dict):
            raise ValueError(f"{file.name}: {figure}: expected month: target pairs")
        for month, target in months.items():
            when = _target_month(month)
            if when is None:
                raise ValueError(f"{file.name}: {figure}: month {month!r} is not YYYY-MM")
            if isinstance(target, bool) or not isinstance(target, int | float):
                raise ValueError(
                    f"{file.name}: {figure} {month}: target {target!r} is not a number"
                )
            rows.append(
                {
                    "figure": figure,
                    "month": when.to_period("M").to_timestamp(),
                    "target": float(target),
                }
            )
    return pd.DataFrame(rows, columns=["figure", "month", "target"])


def _target_month(month) -> pd.Timestamp | None:
    """A targets file's month (``2026-10``, or a date YAML read from ``2026-10-01``) as its
    first day; None when it is neither."""
    text = str(month)
    if len(text) not in (7, 10) or text[4] != "-":
        return None
    try:
        return pd.Timestamp(f"{text}-01" if len(text) == 7 else text)
    except ValueError:
        return None


def target_progress(
    kpis: pd.DataFrame, delivery: pd.DataFrame | None, targets: pd.DataFrame, last: str
) -> pd.DataFrame:
    """Each target of a month shown (``kpis``' months up to ``last``, the last complete
    month) against the month's value.

    progress = value / target; gap = value − target; met = value ≥ target (every compared
    figure is one where more is better). Targets for other months are left out; targets of a
    figure the data cannot compute (margin without costs) have no value (NaN, not met).
    Sorted by month, then figure.
    """
    wide = _monthly_figures(kpis, delivery)
    wide = wide[wide.index <= pd.Timestamp(f"{last}-01")]
    t = targets[targets.month.isin(wide.index)].copy()
    t["label"] = t.figure.map(COMPARED)
    t["value"] = [
        float(wide.at[m, f]) if f in wide.columns else float("nan")
        for f, m in zip(t.figure, t.month, strict=True)
    ]
    t["progress"] = t.value / t.target.where(t.target != 0)
    t["gap"] = t.value - t.target
    t["met"] = t.value >= t.target
    order = {f: i for i, f in enumerate(COMPARED)}
    t = t.sort_values(["month", "figure"], key=lambda c: c.map(order) if c.name == "figure" else c)
    return t[["month", "figure", "label", "value", "target", "progress", "gap", "met"]].reset_index(
        drop=True
    )


def repeat_share(kpis: pd.DataFrame, warmup: int = 0) -> float:
    """Σ repeat accounts / Σ active accounts over the months that have a repeat rate and at
    least ``warmup`` months of data before them (NaN when none has: a single month of data)."""
    known = kpis[kpis.repeat_rate.notna()]
    if warmup and "history_months" in known:
        known = known[known.history_months >= warmup]
    active = int(known.active_accounts.sum())
    return float(known.repeat_accounts.sum() / active) if active else float("nan")


def best_month(kpis: pd.DataFrame, column: str = "gmv") -> pd.Series:
    """The month with the highest ``column``."""
    return kpis.loc[kpis[column].idxmax()]


# ----------------------------------------------------------------------------- the report

#: Figures of the JSON per section (a section's figures appear only when it is built); the
#: changes section adds ``<figure>_mom`` and ``<figure>_yoy`` for each figure it compares.
SECTION_FIGURES = {
    "kpis": (
        "gmv",
        "orders",
        "aov",
        "months",
        "new_accounts",
        "last_month",
        "last_month_gmv",
        "last_month_orders",
        "last_month_aov",
        "last_month_new_accounts",
        "prev_month_gmv",
    ),
    "accounts": ("last_month_active_accounts", "last_month_repeat_rate"),
    "margin": ("gross_margin_rate", "last_month_gross_margin_rate"),
    "delivery": ("on_time_rate", "last_month_on_time_rate"),
}
#: Months of data an account's history needs before its repeat rate is drawn: earlier, a
#: buyer whose previous orders predate the data reads as new, and the rate starts low.
REPEAT_WARMUP_MONTHS = 3


def analyse(
    ds,
    start: str | None = None,
    end: str | None = None,
    targets: str | None = None,
    repeat_warmup_months: int = REPEAT_WARMUP_MONTHS,
) -> Analysis:
    """The overview report: every section :data:`SECTIONS` the dataset allows.

    ``start``/``end`` (ISO dates, inclusive) restrict the orders counted and the months
    shown; ``targets`` names a targets file (:func:`read_targets`; None: ``targets.yml`` at
    the project root, when there is one). Tables: ``kpis`` (:func:`monthly_kpis`), ``repeat``
    (its months with ``repeat_warmup_months`` of history), ``changes`` (:func:`changes`, on
    the whole history), ``targets`` (:func:`target_progress`, only with a file),
    ``channels`` (:func:`new_accounts_by_channel`, long) with ``channels_wide`` and
    ``channel_share``, ``delivery`` (:func:`on_time_delivery`). Facts: :func:`headline`'s,
    ``best_month``, ranges of monthly GMV, AOV and margin, the repeat share, the top channel,
    the weakest delivery month. ``series``: :func:`monthly_series` and :func:`weekly_series`.
    Sections skipped beyond missing tables: the margin when a line has no unit cost,
    channels when every channel is unknown, delivery when no order has a promise in the
    period.
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
    data_start, data_end = ds.period("orders")
    until = min(data_end, pd.Timestamp(end)) if end else data_end
    h = headline(kpis, result.tables.get("delivery"), data_end=until)
    result.facts.update(h)
    _kpi_facts(kpis, result, repeat_warmup_months)
    if result.built("channels"):
        _channels(ds, start, end, result)
    if result.built("delivery"):
        _delivery_facts(result.tables["delivery"], result.facts)
    for key, names in SECTION_FIGURES.items():
        if result.built(key):
            result.figures.update({n: h[n] for n in names if pd.notna(h[n])})
    _history(ds, result, (data_start, until), h["last_month"], targets)
    return result


def _kpi_facts(kpis: pd.DataFrame, result: Analysis, warmup: int) -> None:
    """Best month, monthly ranges, the repeat share and the repeat chart's months."""
    best = best_month(kpis)
    settled = kpis[kpis.repeat_rate.notna() & (kpis.history_months >= warmup)]
    result.tables["repeat"] = settled
    result.facts.update(
        best_month=f"{best.month:%Y-%m}",
        best_month_gmv=float(best.gmv),
        gmv_min=float(kpis.gmv.min()),
        gmv_max=float(kpis.gmv.max()),
        aov_min=float(kpis.aov.min()),
        aov_max=float(kpis.aov.max()),
        active_mean=float(kpis.active_accounts.mean()),
        repeat_warmup_months=int(warmup),
        repeat_from=f"{settled.month.iloc[0]:%Y-%m}" if len(settled) else "",
        repeat_share=repeat_share(kpis, warmup),
    )
    if result.built("margin"):
        result.facts.update(
            margin_min=float(kpis.gross_margin_rate.min()),
            margin_max=float(kpis.gross_margin_rate.max()),
        )


def _history(ds, result: Analysis, span: tuple, last_month: str, targets) -> None:
    """Month on month and year on year (on the whole history up to the window's end), the
    monthly and weekly series, and the progress against targets."""
    first, until = span
    whole = monthly_kpis(ds, None, f"{until:%Y-%m-%d}")
    delivery = (
        on_time_delivery(ds, None, f"{until:%Y-%m-%d}") if "delivery" in result.tables else None
    )
    if not result.built("margin"):
        whole = whole.drop(columns="gross_margin_rate")
    # a repeat rate of the warm-up months reads returning buyers as new: not compared
    young = whole.history_months < result.facts["repeat_warmup_months"]
    whole.loc[young, "repeat_rate"] = float("nan")
    ch = changes(whole, delivery, last_month)
    result.tables["changes"] = ch
    for row in ch.itertuples():
        for what in ("mom", "yoy"):
            value = getattr(row, what)
            if pd.notna(value):
                result.figures[f"{row.figure}_{what}"] = value
    result.facts["year_before_month"] = (
        f"{pd.Timestamp(last_month + '-01') - pd.DateOffset(years=1):%Y-%m}"
    )
    result.facts["month_before"] = (
        f"{pd.Timestamp(last_month + '-01') - pd.DateOffset(months=1):%Y-%m}"
    )
    weekly = weekly_kpis(ds, None, f"{until:%Y-%m-%d}")
    result.facts["series"] = monthly_series(whole, delivery, first, last_month) | weekly_series(
        weekly, first, until
    )
    week = result.facts["series"].get("last_week_gmv", {}).get("values", {})
    if week:
        last_week = list(week)[-1]
        result.facts["last_week"] = last_week
        result.figures["last_week_gmv"] = week[last_week]
        result.figures["last_week_orders"] = result.facts["series"]["last_week_orders"]["values"][
            last_week
        ]
    set_targets = read_targets(targets)
    result.facts["targets_file"] = str(targets or TARGETS_FILE)
    result.facts["targets_set"] = set_targets is not None
    if set_targets is not None:
        shown = result.tables["kpis"]
        result.tables["targets"] = target_progress(
            shown, result.tables.get("delivery"), set_targets, last_month
        )


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
