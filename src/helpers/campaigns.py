"""Campaigns and precision marketing: channel economics, experiments, uplift by segment.

Every heavy aggregation is an Ibis expression (DuckDB or Spark); only one row per channel,
week, campaign or account reaches pandas. Ratios whose denominator is zero are never shown as
inf: they are NaN in the numeric column and a ``*_note`` column says why ("n/a: no spend").

The report's entry point is :func:`analyse` (sections in :data:`SECTIONS`); it builds when the
dataset holds either of :data:`CORE_ANY` (campaign_sends for the experiments, marketing_spend
for the channel economics) and skips each section whose tables are absent.

The sender (audiences, templates, SMTP) lives in :mod:`helpers.outreach`, a layer below this
module; its command line is ``python -m helpers.outreach send --campaign ID --segment NAME``.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from helpers import present, validate
from helpers.config import resolve_data_dir
from helpers.data import measures
from helpers.data.files import has_table, is_url
from helpers.data.lifetime import historical_clv
from helpers.data.rfm import resolve_window, rfm
from helpers.data.schema import CONTROL_GROUP
from helpers.data.tables import open_tables
from helpers.models.experiments import confidence_sequence, cuped, sample_ratio_test
from helpers.models.response import (  # noqa: F401  (re-exported)
    curve_points,
    fit_response,
    reallocate,
    spend_marks,
    usable_curves,
)
from helpers.models.uplift import (  # noqa: F401  (re-exported)
    qini_coefficient,
    qini_curve,
    qini_random_band,
    qini_verdict,
    two_model_uplift,
    uplift_matrix,
)
from helpers.sections import Analysis, Section
from helpers.stats import wilson_interval

__all__ = [
    "CORE",
    "CORE_ANY",
    "DEFINITIONS",
    "NO_RECENT_ORDER",
    "SECTIONS",
    "analyse",
    "arms_of",
    "audience_roles",
    "cac_against_ltv",
    "channel_economics",
    "channel_inputs",
    "curve_points",
    "economics",
    "engagement",
    "experiment",
    "experiment_records",
    "experiments",
    "experiments_intro",
    "channels_intro",
    "ltv_intro",
    "uplift_intro",
    "budget_objective",
    "budget_reconciliation",
    "channels_finding",
    "crm_roas_note",
    "experiments_verdict",
    "key_findings",
    "lost_note",
    "monthly_cac",
    "response_figure",
    "returning_after",
    "running_campaigns",
    "sample_ratio",
    "uplift_finding",
    "findings",
    "fit_response",
    "open_data",
    "qini_coefficient",
    "qini_curve",
    "qini_random_band",
    "qini_verdict",
    "reallocate",
    "response_inputs",
    "segments_at_sends",
    "send_features",
    "send_outcomes",
    "spend_marks",
    "two_model_uplift",
    "uplift_by_segment",
    "uplift_matrix",
    "usable_curves",
    "weekly_channel",
    "weekly_metrics",
]

CRM_CHANNELS = ("email", "sms")

#: Tables the report cannot do without: none on its own, but at least one of CORE_ANY.
CORE: tuple[str, ...] = ()
#: The report builds when the dataset holds either: sends (experiments) or spend (channels).
CORE_ANY = ("campaign_sends", "marketing_spend")

_SPEND = ("date", "channel", "campaign_id", "spend", "impressions", "clicks")
_SENDS = ("campaign_id", "account_id", "group", "sent_at", "converted_at", "revenue")
_ORDERS = {
    "orders": ("order_id", "account_id", "order_ts"),
    "order_lines": ("order_id", "quantity", "unit_price", "unit_cost", "discount"),
}
SECTIONS = (
    Section("channels", "Channel economics", needs={"marketing_spend": _SPEND}),
    Section(
        "ltv",
        "Acquisition cost against the lifetime value of the customers acquired",
        needs={
            "marketing_spend": ("date", "channel", "spend"),
            "accounts": ("account_id", "signup_date", "acquisition_channel"),
            **_ORDERS,
        },
    ),
    Section("weekly", "Weekly trends", needs={"marketing_spend": _SPEND}),
    Section(
        "experiments", "Experiments: did each campaign work?", needs={"campaign_sends": _SENDS}
    ),
    Section(
        "engagement",
        "Opens and clicks",
        needs={"campaign_sends": ("campaign_id", "group", "opened_at", "clicked_at")},
    ),
    Section(
        "uplift",
        "Uplift by segment and the next audience",
        needs={
            "campaign_sends": _SENDS,
            "campaigns": ("campaign_id", "start_date", "has_control"),
            "accounts": ("account_id", "signup_date"),
            **_ORDERS,
        },
    ),
    Section(
        "budget",
        "Budget: response curves and the same total, split differently",
        needs={"marketing_spend": _SPEND, "web_events": ("channel", "event")},
    ),
)

#: Where each optional input of the channel economics comes from (absent: shown as n/a).
_CHANNEL_SOURCES = {
    "leads": ("leads",),
    "conversions": ("web_events",),
    "new_customers": ("accounts", "orders", "order_lines"),
    "campaign_revenue": ("campaign_sends", "campaigns"),
}


def _ratio(num: pd.Series, den: pd.Series, reason: str) -> tuple[pd.Series, pd.Series]:
    """num / den, NaN where den is 0 (with ``reason``), never inf."""
    num = num.astype("float64")
    den = den.astype("float64")
    ok = den > 0
    value = (num / den.where(ok)).astype("float64")
    note = pd.Series(np.where(ok, "", f"n/a: {reason}"), index=num.index, dtype="object")
    return value, note


def _require(df: pd.DataFrame, columns: set[str], name: str) -> None:
    missing = columns - set(df.columns)
    if missing:
        raise ValueError(f"table {name!r} is missing column(s) {sorted(missing)}")


def _order_margin(ds, attribution_days: int | None = None):
    """Per account: revenue Σ q·p·(1−d), gross margin Σ q·(p·(1−d) − unit_cost) over its
    orders of known cost, and unknown_cost = orders with a line of unknown cost; with
    ``attribution_days``, only orders placed within that many days of the account's signup."""
    ov = measures.order_values(ds)
    if attribution_days is not None:
        acc = ds.accounts.select("account_id", signup_ts=ds.accounts.signup_date.cast("timestamp"))
        ov = ov.join(acc, "account_id")
        days = int(attribution_days)
        ov = ov.filter(ov.order_ts < ov.signup_ts + ibis.interval(days=days))
    return ov.group_by("account_id").aggregate(
        revenue=ov.revenue.sum(),
        gross_margin=(ov.revenue - ov.cogs).sum(),
        unknown_cost=ov.cogs.isnull().cast("int64").sum(),
    )


def _available(ds, column: str) -> bool:
    return all(t in ds for t in _CHANNEL_SOURCES[column])


def channel_inputs(ds, attribution_days: int | None = None) -> pd.DataFrame:
    """The per-channel raw counts behind :func:`channel_economics` (one row per channel).

    - spend, impressions, clicks: Σ over ``marketing_spend``
    - leads: ``leads`` whose source is the channel
    - conversions: web ``purchase`` events whose session channel is the channel (last touch)
    - new_customers: accounts whose ``acquisition_channel`` is the channel (the attribution
      rule: the channel recorded on the account at signup) and signed up in the spend table's
      date range, with their revenue and gross margin (``orders``; the margin is NaN when an
      order line has no cost) in the ``attribution_days`` after signup (None: to date)
    - campaign_revenue: revenue of converted CRM sends (every arm, not control) sent on the
      channel

    A count whose table the dataset lacks (:data:`_CHANNEL_SOURCES`) is left out of the frame,
    so :func:`economics` shows it and what it feeds as n/a, never as 0.
    """
    ms = ds.marketing_spend
    spend = ms.group_by("channel").aggregate(
        spend=ms.spend.sum(), impressions=ms.impressions.sum(), clicks=ms.clicks.sum()
    )
    out = spend.to_pandas()
    if out.empty:
        raise ValueError("table 'marketing_spend' has no rows")
    first, last = ms.date.min().to_pyarrow().as_py(), ms.date.max().to_pyarrow().as_py()
    parts = []
    if _available(ds, "leads"):
        ld = ds.leads
        parts.append(ld.group_by(channel=ld.source).aggregate(leads=ld.count()).to_pandas())
    if _available(ds, "conversions"):
        we = ds.web_events
        we = we.filter(we.event == "purchase")
        parts.append(we.group_by("channel").aggregate(conversions=we.count()).to_pandas())
    if _available(ds, "new_customers"):
        parts.append(_acquired(ds, first, last, attribution_days))
    if _available(ds, "campaign_revenue"):
        cs = ds.campaign_sends.join(ds.campaigns.select("campaign_id", "channel"), "campaign_id")
        cs = cs.filter(cs.group != CONTROL_GROUP)
        parts.append(
            cs.group_by("channel").aggregate(campaign_revenue=cs.revenue.sum()).to_pandas()
        )
    for other in parts:
        out = out.merge(other, on="channel", how="outer")
    counts = [
        c for c in ("impressions", "clicks", "leads", "conversions", "new_customers") if c in out
    ]
    out[counts] = out[counts].fillna(0).astype("int64")
    money = [c for c in ("spend", "customer_revenue", "campaign_revenue") if c in out]
    out[money] = out[money].fillna(0.0).astype("float64")
    if "customer_margin" in out:
        out["customer_margin"] = out.customer_margin.astype("float64")
    return out.sort_values("spend", ascending=False).reset_index(drop=True)


def _acquired(ds, first, last, attribution_days=None) -> pd.DataFrame:
    """Per acquisition channel: accounts signed up in [first, last], their revenue and gross
    margin to date (margin NaN for a channel whose customers have an order of unknown cost)."""
    acc = ds.accounts
    acc = acc.filter((acc.signup_date >= first) & (acc.signup_date <= last))
    m = _order_margin(ds, attribution_days)
    j = acc.left_join(m, acc.account_id == m.account_id)
    out = (
        j.group_by(channel=j.acquisition_channel)
        .aggregate(
            new_customers=j.account_id.nunique(),
            customer_revenue=j.revenue.fill_null(0).sum(),
            customer_margin=j.gross_margin.fill_null(0).sum(),
            unknown_cost=j.unknown_cost.fill_null(0).sum(),
        )
        .to_pandas()
    )
    out["customer_margin"] = out.customer_margin.where(out.unknown_cost == 0)
    return out.drop(columns="unknown_cost")


def economics(inputs: pd.DataFrame) -> pd.DataFrame:
    """Channel metrics from per-channel counts (:func:`channel_inputs` or a hand-made table).

    - CTR = clicks / impressions; CVR = conversions / clicks; CPA = spend / conversions
    - CAC = spend / new_customers (total marketing spend of the channel per new customer)
    - revenue = customer_revenue + campaign_revenue (revenue to date of the customers the
      channel acquired, plus revenue of the CRM sends it carried, treatment group)
    - ROAS = revenue / spend; ROI = (gross return − spend) / spend, gross return = the acquired
      customers' gross margin to date + campaign revenue (CRM sends carry no product cost
      here, so this flatters CRM; the incremental view is in :func:`experiments`)
    - margin_per_customer = customer_margin / new_customers, the LTV stand-in (gross margin
      to date, not a forecast); cac_exceeds_ltv = CAC > margin_per_customer

    A ratio with a zero denominator is NaN and its ``<metric>_note`` column says why.
    CTR, CVR carry 95 % Wilson intervals (``*_lo``, ``*_hi``). Only channel, spend, impressions
    and clicks are required: without conversions, CVR and CPA are n/a ("n/a: no web_events
    table"); without new_customers / customer_revenue, CAC, revenue, ROAS and ROI are ("n/a:
    no accounts, orders tables"); without customer_margin or with it NaN (unknown costs), ROI
    and margin_per_customer are; leads absent stay NaN; campaign_revenue absent counts 0.
    """
    _require(inputs, {"channel", "spend", "impressions", "clicks"}, "channel inputs")
    df = inputs.copy()
    absent = {c for c in ("conversions", "new_customers", "customer_revenue") if c not in df}
    if "new_customers" in absent:
        absent |= {"customer_revenue", "customer_margin"}
    for col in ("conversions", "new_customers", "customer_revenue", "leads"):
        if col not in df:
            df[col] = 0
    for col in ("customer_margin", "campaign_revenue"):
        if col not in df:
            df[col] = np.nan if col == "customer_margin" else 0.0
    if (df[["spend", "impressions", "clicks", "conversions"]] < 0).any().any():
        raise ValueError("channel inputs: spend, impressions, clicks, conversions must be >= 0")
    df["ctr"], df["ctr_note"] = _ratio(df.clicks, df.impressions, "no impressions")
    df["cvr"], df["cvr_note"] = _ratio(df.conversions, df.clicks, "no clicks")
    for rate, k, n in (("ctr", "clicks", "impressions"), ("cvr", "conversions", "clicks")):
        ok = df[n] > 0
        lo, hi = wilson_interval(df[k].where(ok, 0), df[n].where(ok, 1))
        df[f"{rate}_lo"] = np.where(ok, lo, np.nan)
        df[f"{rate}_hi"] = np.where(ok, hi, np.nan)
    df["cpa"], df["cpa_note"] = _ratio(df.spend, df.conversions, "no conversions")
    df["cac"], df["cac_note"] = _ratio(df.spend, df.new_customers, "no new customers")
    # A channel with no recorded spend (organic, referral, sales reps) has costs this table
    # does not see: its CPA and CAC are unknown, not zero.
    unpaid = df.spend <= 0
    for m in ("cpa", "cac"):
        df.loc[unpaid, m] = np.nan
        df.loc[unpaid, f"{m}_note"] = "n/a: no spend recorded"
    df["revenue"] = df.customer_revenue + df.campaign_revenue
    gross_return = df.customer_margin + df.campaign_revenue
    df["roas"], df["roas_note"] = _ratio(df.revenue, df.spend, "no spend")
    df["roi"], df["roi_note"] = _ratio(gross_return - df.spend, df.spend, "no spend")
    df["margin_per_customer"], _ = _ratio(df.customer_margin, df.new_customers, "")
    unknown_margin = df.customer_margin.isna()
    df.loc[unknown_margin, ["roi", "margin_per_customer"]] = np.nan
    df.loc[unknown_margin & ~unpaid, "roi_note"] = "n/a: product costs unknown"
    _mark_absent(df, absent, "leads" not in inputs)
    has_both = df.cac.notna() & df.margin_per_customer.notna()
    df["cac_exceeds_ltv"] = pd.array(
        np.where(has_both, df.cac > df.margin_per_customer, pd.NA), dtype="boolean"
    )
    return df


def _mark_absent(df: pd.DataFrame, absent: set[str], no_leads: bool) -> None:
    """Set the metrics fed by an input the dataset lacks to NaN with the missing table named."""
    if no_leads:
        df["leads"] = np.nan
    if "conversions" in absent:
        why = f"n/a: no {' and '.join(_CHANNEL_SOURCES['conversions'])} table"
        df["conversions"] = np.nan
        for m in ("cvr", "cvr_lo", "cvr_hi", "cpa"):
            df[m] = np.nan
        df["cvr_note"], df["cpa_note"] = why, why
    if absent & {"new_customers", "customer_revenue"}:
        why = f"n/a: no {', '.join(_CHANNEL_SOURCES['new_customers'])} tables"
        for m in ("new_customers", "customer_revenue", "customer_margin", "cac", "revenue"):
            df[m] = np.nan
        for m in ("roas", "roi", "margin_per_customer"):
            df[m] = np.nan
        df["cac_note"], df["roas_note"], df["roi_note"] = why, why, why


def channel_economics(ds, attribution_days: int | None = None) -> pd.DataFrame:
    """:func:`economics` of :func:`channel_inputs`: one row per channel in the data, the
    acquired accounts' revenue and margin counted ``attribution_days`` after signup."""
    return economics(channel_inputs(ds, attribution_days))


def _mean_interval(v: np.ndarray, confidence: float, n_resamples: int, seed: int):
    """Mean of ``v`` and its percentile bootstrap interval (scipy.stats.bootstrap)."""
    from scipy import stats

    m = float(np.mean(v))
    if len(v) < 2 or np.ptp(v) == 0:
        return m, m, m
    res = stats.bootstrap(
        (v,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    return m, float(res.confidence_interval.low), float(res.confidence_interval.high)


def cac_against_ltv(
    econ: pd.DataFrame,
    values: pd.DataFrame,
    since,
    until,
    value: str = "clv",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """CAC of each channel against the lifetime value of the customers it acquired.

    ``econ``: :func:`economics` (channel, spend, new_customers, cac, cac_note). ``values``: one
    row per account with channel (its acquisition channel), signup_date and ``value``, e.g. the
    historical CLV of :func:`helpers.data.lifetime.historical_clv` (Σ_t M_t / (1 + d)^t), as
    :func:`analyse` passes it. Only accounts that signed up in
    ``[since, until]`` count (the period with recorded spend, as for ``new_customers``).

    Per channel: customers_valued, ltv = mean value per acquired customer with its
    ``confidence`` percentile bootstrap interval (ltv_lo, ltv_hi), ltv_cac = ltv / CAC,
    cac_exceeds_ltv = CAC > ltv, and ``verdict``: "pays back" (CAC below the interval),
    "does not pay back" (CAC above it), "unclear: CAC inside the LTV interval", or the
    reason CAC or LTV is n/a. Never inf: a zero CAC or no valued customer gives NaN.
    """
    _require(econ, {"channel", "spend", "new_customers", "cac", "cac_note"}, "economics")
    _require(values, {"channel", "signup_date", value}, "account values")
    validate.fraction("confidence", confidence, open_ends=True)
    since, until = pd.Timestamp(since), pd.Timestamp(until)
    signup = pd.to_datetime(values.signup_date)
    acquired = values[(signup >= since) & (signup <= until)]
    rows = []
    for r in econ.itertuples(index=False):
        v = acquired.loc[acquired.channel == r.channel, value].to_numpy(float)
        v = v[np.isfinite(v)]
        rec = {
            "channel": r.channel,
            "spend": float(r.spend),
            "new_customers": int(r.new_customers),
            "cac": float(r.cac),
            "customers_valued": len(v),
        }
        ltv, lo, hi = _mean_interval(v, confidence, n_resamples, seed) if len(v) else (np.nan,) * 3
        rec.update(ltv=ltv, ltv_lo=lo, ltv_hi=hi)
        ok = np.isfinite(rec["cac"]) and rec["cac"] > 0 and len(v) > 0
        rec["ltv_cac"] = ltv / rec["cac"] if ok else np.nan
        rec["cac_exceeds_ltv"] = bool(rec["cac"] > ltv) if ok else pd.NA
        if not np.isfinite(rec["cac"]):
            rec["verdict"] = r.cac_note or "n/a: no CAC"
        elif not len(v):
            rec["verdict"] = "n/a: no acquired customer to value"
        elif rec["cac"] < lo:
            rec["verdict"] = "pays back"
        elif rec["cac"] > hi:
            rec["verdict"] = "does not pay back"
        else:
            rec["verdict"] = "unclear: CAC inside the LTV interval"
        rows.append(rec)
    out = pd.DataFrame(rows)
    out["cac_exceeds_ltv"] = out.cac_exceeds_ltv.astype("boolean")
    return out


def weekly_metrics(weekly: pd.DataFrame) -> pd.DataFrame:
    """CTR = clicks / impressions and CPC = spend / clicks on a table with one row per week and
    channel (:func:`weekly_channel`, or a hand-made one). A zero denominator gives NaN, never
    inf, and ``ctr_note`` / ``cpc_note`` say why ("n/a: no impressions", "n/a: no clicks")."""
    _require(weekly, {"week", "channel", "spend", "impressions", "clicks"}, "weekly channel")
    out = weekly.copy()
    if (out[["spend", "impressions", "clicks"]] < 0).any().any():
        raise ValueError("weekly channel: spend, impressions and clicks must be >= 0")
    out["week"] = pd.to_datetime(out["week"])
    out["ctr"], out["ctr_note"] = _ratio(out.clicks, out.impressions, "no impressions")
    out["cpc"], out["cpc_note"] = _ratio(out.spend, out.clicks, "no clicks")
    return out.sort_values(["week", "channel"]).reset_index(drop=True)


def weekly_channel(ds) -> pd.DataFrame:
    """Per ISO week (Monday) and channel: spend, impressions, clicks and :func:`weekly_metrics`
    (CTR, CPC, each NaN with a note when its denominator is zero)."""
    ms = ds.marketing_spend
    wk = ms.group_by(week=ms.date.truncate("W"), channel=ms.channel).aggregate(
        spend=ms.spend.sum(), impressions=ms.impressions.sum(), clicks=ms.clicks.sum()
    )
    return weekly_metrics(wk.to_pandas())


# ---------------------------------------------------------------- experiments


def send_outcomes(
    ds, campaign_id: str | None = None, as_of=None, pre_period_days: int | None = None
) -> pd.DataFrame:
    """One row per send: send_id, campaign_id, channel, has_control, account_id, group
    (``"control"`` or the arm's name), sent_at, converted (0/1) and revenue. Small: one row per
    send.

    channel and has_control (the plan) come from ``campaigns``; without that table the channel
    is "unknown" and has_control says whether the campaign's sends hold a control group.

    ``as_of`` (a date or timestamp; None: everything recorded): only sends sent by then, and a
    conversion counts (with its revenue) only if it happened by then, so a campaign still
    running is seen as it stood on that day. ``pre_period_days`` (with ``orders`` and
    ``order_lines`` in ``ds``): pre_revenue = Σ revenue and pre_orders = number of the account's
    orders in the ``pre_period_days`` before its send, the CUPED covariates of
    :func:`experiment` (one Ibis range join, run in the engine)."""
    cs = ds.campaign_sends
    if campaign_id is not None:
        cs = cs.filter(cs.campaign_id == campaign_id)
    converted = cs.converted_at.notnull()
    if as_of is not None:
        cut = ibis.timestamp(_end_of(as_of))
        cs = cs.filter(cs.sent_at <= cut)
        converted = cs.converted_at.notnull() & (cs.converted_at <= cut)
    cols = {
        "converted": converted.cast("int64"),
        "revenue": ibis.ifelse(converted, cs.revenue, 0.0).cast("float64"),
    }
    base = ["send_id", "campaign_id", "account_id", "group", "sent_at"]
    if "campaigns" in ds:
        cs = cs.join(ds.campaigns.select("campaign_id", "channel", "has_control"), "campaign_id")
        out = cs.select(*base, "channel", "has_control", **cols)
    else:
        out = cs.select(*base, **cols)
    if pre_period_days is not None and all(t in ds for t in _ORDERS):
        out = _with_pre_period(ds, out, validate.positive_int("pre_period_days", pre_period_days))
    out = out.to_pandas().sort_values("send_id").reset_index(drop=True)
    if "channel" not in out:
        out["channel"] = "unknown"
        with_control = out.groupby("campaign_id").group.transform(
            lambda g: bool((g == CONTROL_GROUP).any())
        )
        out["has_control"] = with_control.astype(bool)
    if out.empty:
        what = f"campaign {campaign_id!r}" if campaign_id else "any campaign"
        raise ValueError(f"table 'campaign_sends' has no send for {what}")
    first = ["send_id", "campaign_id", "channel", "has_control", "account_id", "group", "sent_at"]
    return out[first + [c for c in out.columns if c not in first]]


def _end_of(as_of) -> pd.Timestamp:
    """A date means the end of that day; a timestamp with a time is taken as it is."""
    ts = pd.Timestamp(as_of)
    if ts == ts.normalize():
        return ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return ts


def _with_pre_period(ds, sends, days: int):
    """``sends`` with pre_revenue and pre_orders: the account's orders placed in the ``days``
    before the send (order_ts in [sent_at − days, sent_at))."""
    ov = measures.order_values(ds).select("account_id", "order_id", "order_ts", "revenue")
    ov = ov.rename(order_account="account_id", order_revenue="revenue")
    s = sends.select("send_id", "account_id", "sent_at")
    j = s.left_join(
        ov,
        (s.account_id == ov.order_account)
        & (ov.order_ts < s.sent_at)
        & (ov.order_ts >= s.sent_at - ibis.interval(days=days)),
    )
    agg = j.group_by("send_id").aggregate(
        pre_revenue=j.order_revenue.sum(), pre_orders=j.order_id.nunique()
    )
    out = sends.join(agg, "send_id")
    return out.mutate(
        pre_revenue=out.pre_revenue.fill_null(0.0).cast("float64"),
        pre_orders=out.pre_orders.fill_null(0).cast("int64"),
    )


def arms_of(outcomes: pd.DataFrame) -> list[str]:
    """The arms among ``outcomes.group``: every group but ``"control"``, sorted."""
    return sorted(set(outcomes.group.dropna().astype(str)) - {CONTROL_GROUP})


def _newcombe(k_t: int, n_t: int, k_c: int, n_c: int, alpha: float) -> tuple[float, float]:
    """Newcombe hybrid score CI of p_t − p_c (statsmodels ``confint_proportions_2indep``).

    statsmodels also computes the ratio and odds ratio of the two proportions, which divide by
    zero when a group has no conversion; those side values are not used, so that one
    division is silenced here, locally, and nothing else."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = confint_proportions_2indep(
            k_t, n_t, k_c, n_c, method="newcomb", compare="diff", alpha=alpha
        )
    return float(lo), float(hi)


def _diff_mean_bootstrap(t: np.ndarray, c: np.ndarray, n_resamples: int, seed: int):
    """Percentile bootstrap CI of mean(t) − mean(c) with ``scipy.stats.bootstrap``."""
    from scipy import stats

    if len(t) < 2 or len(c) < 2 or (np.ptp(t) == 0 and np.ptp(c) == 0):
        d = float(np.mean(t) - np.mean(c))
        return d, d
    res = stats.bootstrap(
        (t, c),
        lambda a, b, axis=-1: a.mean(axis=axis) - b.mean(axis=axis),
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def experiment(
    outcomes: pd.DataFrame,
    arm: str | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    n_resamples: int = 2000,
    seed: int = 0,
    running: bool = False,
) -> dict:
    """One arm against the control group of one campaign's sends (rows of :func:`send_outcomes`).

    ``arm`` is the group compared with ``"control"``; None means the campaign's only arm (an
    error when it has several: see :func:`experiments`).

    - conversion lift = p_arm − p_control, p = converted / sends; CI by Newcombe's hybrid
      score method (Wilson intervals of each rate combined) and a two-sided score test
      (statsmodels ``confint_proportions_2indep`` / ``test_proportions_2indep``; Newcombe 1998)
    - revenue lift per recipient = mean revenue (arm) − mean revenue (control), percentile
      bootstrap CI (scipy.stats.bootstrap, Efron & Tibshirani 1993)
    - with pre_revenue / pre_orders columns (:func:`send_outcomes` ``pre_period_days``): the
      CUPED-adjusted revenue lift and interval (:func:`helpers.models.experiments.cuped`),
      rev_variance_reduction, and the adjusted conversion lift where the pre-period explains
      at least 1 % of its variance (else NaN: the plain lift stands)
    - ``running`` (the campaign was still running on the day analysed): every interval is the
      always-valid confidence sequence (:func:`helpers.models.experiments.confidence_sequence`)
      instead, and the fixed-sample p-value is withheld (NaN), since looking before the end
      makes it too small
    - needed_per_group: arm sends that a two-sided test at ``alpha`` with ``power`` would need
      to detect the observed lift, control sized in the observed ratio (statsmodels
      ``NormalIndPower`` on Cohen's h = 2·asin√p_arm − 2·asin√p_control)

    Intervals and p-values are per arm, not adjusted for several arms. A campaign with no
    control sends is reported with ``has_control`` False and every lift field NaN, ``note``
    saying so: it is never compared as if it had a control.
    """
    _require(outcomes, {"group", "converted", "revenue"}, "campaign_sends outcomes")
    arms = arms_of(outcomes)
    if arm is None:
        if len(arms) > 1:
            raise ValueError(f"the sends hold several arms {arms}: name the one to compare")
        arm = arms[0] if arms else "treatment"
    t = outcomes[outcomes.group == arm]
    c = outcomes[outcomes.group == CONTROL_GROUP]
    n_t, n_c = len(t), len(c)
    k_t, k_c = int(t.converted.sum()), int(c.converted.sum())
    res = {
        "arm": arm,
        "treated": n_t,
        "control": n_c,
        "conv_treated": k_t,
        "conv_control": k_c,
        "cr_treated": k_t / n_t if n_t else np.nan,
        "cr_control": k_c / n_c if n_c else np.nan,
        "rev_per_treated": float(t.revenue.mean()) if n_t else np.nan,
        "rev_per_control": float(c.revenue.mean()) if n_c else np.nan,
        "has_control": n_c > 0,
        **dict.fromkeys(_LIFT_FIELDS, np.nan),
        "running": bool(running),
        "interval": "always-valid (still running)" if running else "fixed sample",
        "adjustment": "none",
        "note": "",
    }
    if n_c == 0:
        res["note"] = "no control group: lift cannot be estimated"
    elif n_t == 0:
        res["note"] = f"no sends in arm {arm!r}: lift cannot be estimated"
    else:
        _compare(res, t, c, alpha, power, n_resamples, seed)
        if PRE_PERIOD_COLUMNS[0] in outcomes and min(n_t, n_c) >= 2:
            _adjust(res, t, c, alpha)
        if running:
            _sequential(res, t, c, alpha)
    return res


_LIFT_FIELDS = (
    "lift",
    "lift_lo",
    "lift_hi",
    "p_value",
    "rev_lift",
    "rev_lift_lo",
    "rev_lift_hi",
    "needed_per_group",
    "lift_adj",
    "lift_adj_lo",
    "lift_adj_hi",
    "conv_variance_reduction",
    "rev_lift_adj",
    "rev_lift_adj_lo",
    "rev_lift_adj_hi",
    "rev_variance_reduction",
)

#: The pre-period covariates of CUPED (columns of :func:`send_outcomes`).
PRE_PERIOD_COLUMNS = ("pre_revenue", "pre_orders")
#: Least share of a conversion lift's variance the pre-period must explain to be used.
_CONVERSION_ADJUST_MIN = 0.01


def _compare(res: dict, t, c, alpha: float, power: float, n_resamples: int, seed: int) -> None:
    """Fill the lift fields of :func:`experiment`'s ``res`` (arm ``t`` against control ``c``)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize, test_proportions_2indep

    k_t, n_t, k_c, n_c = res["conv_treated"], res["treated"], res["conv_control"], res["control"]
    res["lift"] = res["cr_treated"] - res["cr_control"]
    res["lift_lo"], res["lift_hi"] = _newcombe(k_t, n_t, k_c, n_c, alpha)
    if 0 < k_t + k_c < n_t + n_c:
        with np.errstate(divide="ignore", invalid="ignore"):  # unused ratio side values
            test = test_proportions_2indep(k_t, n_t, k_c, n_c, method="score")
        res["p_value"] = float(test.pvalue)
    else:
        res["note"] = "no variation in conversion: test not defined"
    res["rev_lift"] = res["rev_per_treated"] - res["rev_per_control"]
    res["rev_lift_lo"], res["rev_lift_hi"] = _diff_mean_bootstrap(
        t.revenue.to_numpy(float), c.revenue.to_numpy(float), n_resamples, seed
    )
    if res["lift"] != 0:
        h = abs(proportion_effectsize(res["cr_treated"], res["cr_control"]))
        n = NormalIndPower().solve_power(
            effect_size=h, alpha=alpha, power=power, ratio=n_c / n_t, alternative="two-sided"
        )
        res["needed_per_group"] = float(np.ceil(n))
    elif not res["note"]:
        res["note"] = "observed lift is zero: no sample size detects it"


def _adjust(res: dict, t, c, alpha: float) -> None:
    """CUPED on revenue (always) and on conversion (where it explains ≥ 1 % of the variance),
    with the pre-period covariates of :data:`PRE_PERIOD_COLUMNS`."""
    cols = list(PRE_PERIOD_COLUMNS)
    x_t, x_c = t[cols].to_numpy(float), c[cols].to_numpy(float)
    rev = cuped(t.revenue, x_t, c.revenue, x_c, alpha=alpha)
    res["rev_lift_adj"] = rev["diff_adjusted"]
    res["rev_lift_adj_lo"], res["rev_lift_adj_hi"] = rev["lo_adjusted"], rev["hi_adjusted"]
    res["rev_variance_reduction"] = rev["variance_reduction"]
    res["_se"] = {"rev": rev["se"], "rev_adj": rev["se_adjusted"]}
    res["adjustment"] = "CUPED: revenue and orders before the send"
    conv = cuped(t.converted, x_t, c.converted, x_c, alpha=alpha)
    res["conv_variance_reduction"] = conv["variance_reduction"]
    if conv["variance_reduction"] >= _CONVERSION_ADJUST_MIN:
        res["lift_adj"] = conv["diff_adjusted"]
        res["lift_adj_lo"], res["lift_adj_hi"] = conv["lo_adjusted"], conv["hi_adjusted"]
        res["_se"]["conv_adj"] = conv["se_adjusted"]


def _sequential(res: dict, t, c, alpha: float) -> None:
    """Replace the fixed-sample intervals of a running campaign by confidence sequences."""
    n = res["treated"] + res["control"]
    se = res.pop("_se", {})
    p_t, p_c = res["cr_treated"], res["cr_control"]
    se_conv = np.sqrt(p_t * (1 - p_t) / res["treated"] + p_c * (1 - p_c) / res["control"])
    if "rev" not in se:
        se["rev"] = float(np.sqrt(t.revenue.var(ddof=1) / len(t) + c.revenue.var(ddof=1) / len(c)))
    pairs = [("lift", se_conv), ("rev_lift", se["rev"])]
    pairs += [
        (k, se[s]) for k, s in (("lift_adj", "conv_adj"), ("rev_lift_adj", "rev_adj")) if s in se
    ]
    for key, s in pairs:
        res[f"{key}_lo"], res[f"{key}_hi"] = confidence_sequence(res[key], s, n, alpha=alpha)
    res["p_value"] = np.nan
    res["note"] = (res["note"] + "; " if res["note"] else "") + (
        "still running: always-valid intervals, no fixed-sample p-value"
    )


def _campaign_split(split, campaign_id: str):
    """The intended split of one campaign: ``split`` is None (equal), one {group: share}
    mapping for every campaign, or {campaign_id: {group: share}} with an optional ``"*"``
    entry for the campaigns it does not name."""
    if not split:
        return None
    if all(isinstance(v, dict) for v in split.values()):
        return split.get(campaign_id, split.get("*"))
    return split


def sample_ratio(outcomes: pd.DataFrame, split=None) -> pd.DataFrame:
    """The sample-ratio check of every campaign of ``outcomes`` (:func:`send_outcomes`): its
    groups' sends against the intended split (:func:`_campaign_split` of ``split``; equal by
    default), a chi-square test (:func:`helpers.models.experiments.sample_ratio_test`).
    Returns campaign_id, groups, sends (as "control 20, treatment 80"), expected, srm_p_value
    and srm_mismatch (p < 0.001: the split is not what was planned, so the lift is not to be
    trusted)."""
    _require(outcomes, {"campaign_id", "group"}, "outcomes")
    rows = []
    for cid, g in outcomes.groupby("campaign_id", sort=True):
        counts = g.group.astype(str).value_counts().sort_index().to_dict()
        test = sample_ratio_test(counts, _campaign_split(split, cid))
        rows.append(
            {
                "campaign_id": cid,
                "groups": len(counts),
                "sends": ", ".join(f"{k} {v:,}" for k, v in counts.items()),
                "expected": ", ".join(f"{k} {v:,.0f}" for k, v in test["expected"].items()),
                "srm_p_value": test["p_value"],
                "srm_mismatch": test["mismatch"],
            }
        )
    return pd.DataFrame(rows)


def experiments(
    ds_or_outcomes,
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
    split=None,
    running=(),
) -> pd.DataFrame:
    """:func:`experiment` for every (campaign, arm) that has sends (a dataset, or rows of
    :func:`send_outcomes`), with the campaign's channel and planned flag (``planned_control``)
    beside what the sends show (``has_control``). A/B/n: each arm against the campaign's one
    control group.

    Every row carries its campaign's sample-ratio check (:func:`sample_ratio` against
    ``split``): srm_p_value, srm_mismatch, and ``trusted`` = not srm_mismatch (a mismatch puts a
    warning first in the row's note). ``running``: the campaign ids still running on the day
    analysed (their intervals are always-valid, see :func:`experiment`)."""
    out = ds_or_outcomes
    if not isinstance(out, pd.DataFrame):
        out = send_outcomes(ds_or_outcomes)
    srm = sample_ratio(out, split).set_index("campaign_id")
    running = set(running)
    rows = []
    for (cid, channel, planned), g in out.groupby(
        ["campaign_id", "channel", "has_control"], sort=True
    ):
        for arm in arms_of(g) or ["treatment"]:
            r = experiment(g, arm=arm, alpha=alpha, power=power, seed=seed, running=cid in running)
            r.pop("_se", None)
            check = srm.loc[cid]
            r.update(srm_p_value=float(check.srm_p_value), srm_mismatch=bool(check.srm_mismatch))
            r["trusted"] = not r["srm_mismatch"]
            if r["srm_mismatch"]:
                warn = (
                    f"sample-ratio mismatch (p = {check.srm_p_value:.1e}; sends {check.sends}, "
                    f"planned {check.expected}): do not trust this lift"
                )
                r["note"] = warn + ("; " + r["note"] if r["note"] else "")
            rows.append({"campaign_id": cid, "channel": channel, "planned_control": planned, **r})
    return pd.DataFrame(rows)


#: figures.experiments: record field -> column of :func:`experiments`.
EXPERIMENT_RECORD = {
    "campaign_id": "campaign_id",
    "arm": "arm",
    "recipients": "treated",
    "conversions": "conv_treated",
    "conversion_rate": "cr_treated",
    "control_conversion_rate": "cr_control",
    "lift": "lift",
    "lift_ci_low": "lift_lo",
    "lift_ci_high": "lift_hi",
    "p_value": "p_value",
    "revenue_per_recipient": "rev_per_treated",
    "control_revenue_per_recipient": "rev_per_control",
    "revenue_lift": "rev_lift",
    "revenue_lift_ci_low": "rev_lift_lo",
    "revenue_lift_ci_high": "rev_lift_hi",
    "revenue_lift_adjusted": "rev_lift_adj",
    "revenue_lift_ci_low_adjusted": "rev_lift_adj_lo",
    "revenue_lift_ci_high_adjusted": "rev_lift_adj_hi",
    "revenue_variance_reduction": "rev_variance_reduction",
    "lift_adjusted": "lift_adj",
    "lift_ci_low_adjusted": "lift_adj_lo",
    "lift_ci_high_adjusted": "lift_adj_hi",
    "adjustment": "adjustment",
    "interval": "interval",
    "srm_p_value": "srm_p_value",
    "srm_mismatch": "srm_mismatch",
    "trusted": "trusted",
}


def experiment_records(table: pd.DataFrame) -> list[dict]:
    """One flat dict per row of :func:`experiments` for the JSON (``figures.experiments``),
    with the field names of :data:`EXPERIMENT_RECORD`; NaN becomes None."""
    rows = table[list(EXPERIMENT_RECORD.values())].rename(
        columns={v: k for k, v in EXPERIMENT_RECORD.items()}
    )
    records = []
    for rec in rows.to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, np.generic):
                v = v.item()
            clean[k] = None if isinstance(v, float) and not np.isfinite(v) else v
        records.append(clean)
    return records


def engagement(ds) -> pd.DataFrame:
    """Per campaign and group: sends, opened, clicked (sends with the time set), open_rate =
    opened / sends and click_rate = clicked / sends with 95 % Wilson intervals. Control sends
    receive no message, so they open nothing: their rates are NaN, not 0."""
    cs = ds.campaign_sends
    agg = cs.group_by(["campaign_id", "group"]).aggregate(
        sends=cs.count(), opened=cs.opened_at.count(), clicked=cs.clicked_at.count()
    )
    out = agg.to_pandas().sort_values(["campaign_id", "group"]).reset_index(drop=True)
    for rate, k in (("open_rate", "opened"), ("click_rate", "clicked")):
        out[rate] = out[k] / out.sends
        out[f"{rate}_lo"], out[f"{rate}_hi"] = wilson_interval(out[k], out.sends)
    control = out.group == CONTROL_GROUP
    cols = [c for c in out.columns if c.startswith(("open_rate", "click_rate"))]
    out.loc[control, cols] = np.nan
    return out


def uplift_by_segment(outcomes: pd.DataFrame, segments: pd.DataFrame, alpha: float = 0.05):
    """Conversion uplift p_t − p_c per segment, pooling every campaign with a control group
    (every arm of an A/B/n campaign counts as treated).

    ``segments``: account_id, segment, and optionally campaign_id (then each send takes the
    segment its account had for that campaign, e.g. :func:`segments_at_sends`). Sends of
    campaigns without control are dropped. CI: Newcombe hybrid score (statsmodels
    ``confint_proportions_2indep``). A segment with no control (or no treatment) send gets NaN
    and a note.
    """
    _require(outcomes, {"account_id", "group", "converted", "has_control"}, "outcomes")
    _require(segments, {"account_id", "segment"}, "segments")
    keys = ["account_id"]
    if "campaign_id" in segments.columns:
        _require(outcomes, {"campaign_id"}, "outcomes")
        keys = ["campaign_id", "account_id"]
    o = outcomes[outcomes.has_control.astype(bool)].merge(segments, on=keys)
    if o.empty:
        raise ValueError("no send of a campaign with a control group matches the segments")
    o = o.assign(group=np.where(o.group == CONTROL_GROUP, "control", "treatment"))
    g = o.groupby(["segment", "group"]).converted.agg(["sum", "count"]).unstack("group")
    rows = []
    for seg, r in g.iterrows():
        k_t, n_t = r.get(("sum", "treatment"), 0), r.get(("count", "treatment"), 0)
        k_c, n_c = r.get(("sum", "control"), 0), r.get(("count", "control"), 0)
        k_t, n_t, k_c, n_c = (int(0 if pd.isna(v) else v) for v in (k_t, n_t, k_c, n_c))
        row = {"segment": seg, "treated": n_t, "control": n_c, "conv_treated": k_t}
        row["conv_control"] = k_c
        row["cr_control"] = k_c / n_c if n_c else np.nan
        if n_t and n_c:
            row["uplift"] = k_t / n_t - k_c / n_c
            lo, hi = _newcombe(k_t, n_t, k_c, n_c, alpha)
            row.update(uplift_lo=float(lo), uplift_hi=float(hi), note="")
        else:
            row.update(uplift=np.nan, uplift_lo=np.nan, uplift_hi=np.nan)
            row["note"] = "n/a: no control or no treatment sends"
        rows.append(row)
    return pd.DataFrame(rows).sort_values("uplift", ascending=False).reset_index(drop=True)


NO_RECENT_ORDER = "No order in the lookback"


def segments_at_sends(ds, outcomes: pd.DataFrame, lookback_days: int = 365) -> pd.DataFrame:
    """The RFM segment (:func:`helpers.data.rfm.rfm`) of every account as of each campaign's
    start date, for the campaigns in ``outcomes`` that kept a control group: campaign_id,
    account_id, segment. An account sent to without an order in the ``lookback_days`` before
    the start gets :data:`NO_RECENT_ORDER` rather than being dropped (so does every send of a
    campaign that started before anyone ordered in the lookback). One RFM query per campaign
    (a handful), each an Ibis aggregation. Segments as of the start, not as of the end of the
    data: a segment computed later mixes in what the campaign itself caused (leakage)."""
    _require(outcomes, {"campaign_id", "account_id", "has_control"}, "outcomes")
    sent = outcomes[outcomes.has_control.astype(bool)][["campaign_id", "account_id"]]
    if sent.empty:
        raise ValueError("no send of a campaign with a control group")
    starts = ds.campaigns.select("campaign_id", "start_date").to_pandas()
    starts = starts.set_index("campaign_id").start_date
    parts = [pd.DataFrame({"account_id": [], "segment": [], "campaign_id": []})]
    o = ds.orders
    for cid in sorted(sent.campaign_id.unique()):
        if cid not in starts.index:
            raise ValueError(f"campaign {cid!r} of 'campaign_sends' is not in table 'campaigns'")
        start, end = resolve_window(ds, starts[cid], lookback_days)
        window = (o.order_ts >= ibis.timestamp(start)) & (o.order_ts < ibis.timestamp(end))
        if o.filter(window).count().to_pyarrow().as_py() == 0:
            continue  # nobody ordered in the lookback: every send is NO_RECENT_ORDER
        seg = rfm(ds, analysis_date=starts[cid], lookback_days=lookback_days)
        parts.append(seg[["account_id", "segment"]].assign(campaign_id=cid))
    seg = pd.concat(parts, ignore_index=True).astype({"account_id": "int64", "segment": object})
    out = sent.drop_duplicates().merge(seg, on=["campaign_id", "account_id"], how="left")
    out["segment"] = out.segment.fillna(NO_RECENT_ORDER)
    return out[["campaign_id", "account_id", "segment"]].reset_index(drop=True)


def audience_roles(uplift: pd.DataFrame, min_control: int = 30) -> pd.DataFrame:
    """Label each segment of :func:`uplift_by_segment` for the next campaign's targeting.

    - persuadable: the uplift interval lies above 0 (target them)
    - sleeping dog: the interval lies below 0 (messaging them costs conversions; leave out)
    - would buy anyway: interval spans 0 and control conversion ≥ the median control rate
      across segments (sure things; a message adds cost, little conversion)
    - no measurable effect: interval spans 0, low baseline (lost causes or too few sends)
    - not measured: no control or no treatment sends, or fewer than ``min_control`` control
      sends (too few to call: an interval from a handful of accounts is not a finding)

    Classes after Radcliffe & Surry (2011); ``target`` is True for persuadable only.
    """
    _require(uplift, {"segment", "uplift", "uplift_lo", "uplift_hi", "cr_control"}, "uplift")
    df = uplift.copy()
    validate.at_least("min_control", min_control, 1)
    enough = df.uplift.notna() & (df.control >= min_control)
    median_cr = df.cr_control[enough].median()
    role = np.select(
        [
            ~enough,
            df.uplift_lo > 0,
            df.uplift_hi < 0,
            df.cr_control >= median_cr,
        ],
        ["not measured", "persuadable", "sleeping dog", "would buy anyway"],
        default="no measurable effect",
    )
    df["role"] = role
    df["target"] = df.role == "persuadable"
    return df


# ---------------------------------------------------------------- budget and targeting inputs


def response_inputs(ds, exclude=CRM_CHANNELS) -> pd.DataFrame:
    """One row per campaign-day (the grain of ``marketing_spend``): channel, campaign_id, date,
    spend, clicks, for the channels whose clicks are bought with spend (``exclude``: the CRM
    channels, whose cost is per message sent and whose clicks come from the list, not from a
    bid). The input of :func:`helpers.models.response.fit_response`; a channel whose every row
    has zero spend stays in, so the fit can report it as n/a."""
    ms = ds.marketing_spend
    if exclude:
        ms = ms.filter(~ms.channel.isin(list(exclude)))
    rows = ms.group_by(["channel", "campaign_id", "date"]).aggregate(
        spend=ms.spend.sum(), clicks=ms.clicks.sum()
    )
    out = rows.to_pandas()
    if out.empty:
        raise ValueError(
            f"table 'marketing_spend' has no row outside the channels {list(exclude or [])}"
        )
    out["date"] = pd.to_datetime(out["date"])
    return out.sort_values(["channel", "campaign_id", "date"]).reset_index(drop=True)


def send_features(ds, lookback_days: int = 365, as_of: str = "start") -> pd.DataFrame:
    """One row per send with the account's history **as of its campaign's start date** (orders
    placed strictly before it), so the uplift model sees what the sender knew when it chose
    the audience, never what happened afterwards:

    - days_since_order = ⌊(start − last order before start) / 1 day⌋ (NaN without an order)
    - orders_before = orders ever placed before start; orders_recent = orders in the
      ``lookback_days`` before start; revenue_recent = Σ their revenue (q · p · (1 − d))
    - tenure_days = start − signup date, in days; has_ordered = orders_before > 0

    with campaign_id, channel, has_control, account_id, group, converted (0/1), send_revenue.
    One Ibis expression (a range join of sends to earlier orders), so it runs in the engine.

    ``as_of="end"`` computes the same features as of the day after the last order for every
    send instead: what a model built from today's customer table sees. It mixes in orders
    placed after the send (leakage) and is kept only to show the difference.
    """
    lookback_days = validate.positive_int("lookback_days", lookback_days)
    validate.one_of("as_of", as_of, ("start", "end"))
    cs = ds.campaign_sends
    cp = ds.campaigns
    cut = cp.start_date.cast("timestamp")
    if as_of == "end":
        _, last = ds.period("orders")
        cut = ibis.timestamp(pd.Timestamp(last).normalize() + pd.Timedelta(days=1))
    cp = cp.select("campaign_id", "channel", "has_control", as_of=cut)
    send_cols = ["send_id", "campaign_id", "channel", "has_control", "account_id", "group"]
    s = cs.join(cp, "campaign_id").select(
        *send_cols,
        "as_of",
        converted=cs.converted_at.notnull().cast("int64"),
        send_revenue=cs.revenue,
    )
    ov = measures.order_values(ds).select("account_id", "order_id", "order_ts", "revenue")
    ov = ov.rename(order_account="account_id", order_revenue="revenue")
    j = s.left_join(ov, (s.account_id == ov.order_account) & (ov.order_ts < s.as_of))
    recent = j.order_ts >= j.as_of - ibis.interval(days=int(lookback_days))
    agg = j.group_by("send_id").aggregate(
        last_ts=j.order_ts.max(),
        orders_before=j.order_id.nunique(),
        orders_recent=j.order_id.nunique(where=recent),
        revenue_recent=j.order_revenue.sum(where=recent),
    )
    acc = ds.accounts.select("account_id", signup_ts=ds.accounts.signup_date.cast("timestamp"))
    t = s.join(agg, "send_id").join(acc, "account_id")
    day = 86400
    as_of = t.as_of.epoch_seconds()
    out = t.select(
        *send_cols,
        "converted",
        "send_revenue",
        days_since_order=((as_of - t.last_ts.epoch_seconds()) / day).floor().cast("float64"),
        orders_before=t.orders_before.cast("int64"),
        orders_recent=t.orders_recent.cast("int64"),
        revenue_recent=t.revenue_recent.fill_null(0.0).cast("float64"),
        tenure_days=((as_of - t.signup_ts.epoch_seconds()) / day).floor().cast("float64"),
    ).to_pandas()
    if out.empty:
        raise ValueError("table 'campaign_sends' has no send of a campaign in 'campaigns'")
    out["has_ordered"] = (out.orders_before > 0).astype("int64")
    return out.sort_values("send_id").reset_index(drop=True)


#: The report's closing definitions (term -> how it is computed).
DEFINITIONS = {
    "Spend, impressions, clicks": "sums over the marketing spend table (one row per day, channel "
    "and campaign).",
    "CTR": "clicks / impressions (n/a when there are no impressions), with a Wilson interval.",
    "Conversions": "web purchase events whose session came from the channel (last touch).",
    "CVR": "conversions / clicks (n/a when there are no clicks), with a Wilson interval.",
    "CPA": "spend / conversions (n/a with no conversions, or no recorded spend).",
    "CAC": "marketing spend of the channel / new customers it acquired while spend was recorded "
    "(n/a with no new customers, or no recorded spend: unpaid channels' costs are not in the "
    "data).",
    "Revenue": "revenue to date of the customers the channel acquired + revenue of the CRM "
    "sends it carried (every arm, not the control group).",
    "ROAS": "revenue / spend (n/a with no spend); the acquired customers' revenue counts only "
    "inside the attribution window (attribution_days after signup, a parameter).",
    "ROI, undiscounted margin": "a ratio, not a percentage: (return − cost) / cost, return = "
    "undiscounted gross margin of the acquired customers inside the attribution window + CRM "
    "send revenue (n/a when product costs are unknown). The CLV report's acquisition ROI uses "
    "discounted LTV with a forecast: a different measure.",
    "Paid media spend": "spend of the channels that buy clicks; e-mail and SMS, which pay per "
    "message, are left out (marketing spend counts them).",
    "LTV to date (historical CLV)": "mean over a channel's acquired customers of "
    "Σ_t M_t / (1 + d)^t, "
    "M_t the gross margin in month t since signup and d the monthly discount rate "
    "(helpers.clv); value to date, not a forecast; bootstrap interval.",
    "Pays back": "CAC below the LTV interval; does not pay back: CAC above it; unclear: CAC "
    "inside it.",
    "Arm": "a group of a campaign's sends that got one version of the message; each arm is "
    "compared with the campaign's control group (A/B/n).",
    "Lift": "conversion rate of the arm − conversion rate of the control group; Newcombe hybrid "
    "score interval; two-proportion score test; per arm, not adjusted for several arms.",
    "Revenue lift": "mean revenue per recipient of the arm − mean revenue per control account; "
    "percentile bootstrap interval.",
    "Newcombe interval": "interval of a difference of two rates built from each rate's Wilson "
    "interval (Newcombe 1998); it keeps its coverage when conversions are few.",
    "Sample-ratio check": "chi-square test of a campaign's split of sends over its groups "
    "against the planned split (parameter split); p < 0.001 is a sample-ratio mismatch and "
    "the lift is not trusted.",
    "CUPED": "revenue (and conversion) lift adjusted with each account's revenue and orders in "
    "the pre_period_days before the send: y − θ·(x − x̄), θ the pooled regression slope (Deng "
    "et al. 2013); unbiased, narrower by the share of variance the past explains.",
    "Always-valid interval": "for a campaign still running on as_of: a confidence sequence "
    "(Waudby-Smith et al. 2023, as in GrowthBook's sequential mode) that stays valid however "
    "often it is looked at.",
    "Sample size needed": "recipients a two-sided test would need in the arm to detect the "
    "observed lift at the chosen power (Cohen's h, statsmodels).",
    "Open rate, click rate": "sends of the arm with an opened_at (clicked_at) time / sends.",
    "Uplift by segment": "lift computed within the RFM segment each account had at the "
    "campaign's start, pooling campaigns with a control group (every arm counts as treated).",
    "Uplift score": "P(convert | treated, history) − P(convert | control, history), two logistic "
    "regressions, cross-fitted; history as of the campaign's start.",
    "Qini coefficient": "area between the Qini curve (treated conversions − control conversions "
    "× treated/control in the top share) and the random line.",
    "Better than random": "Qini coefficient above the band that random scores reach on the same "
    "sends (alpha/2 and 1 − alpha/2 quantiles).",
    "Response curve": "clicks per campaign-day = a · spend^b, Poisson regression with log link, "
    "quasi-Poisson intervals; b < 1 is diminishing returns.",
    "Reallocation": "spends that maximise Σ V_i · CVR_i · C_i · (x_i / S_i)^b_i with the same "
    "total and each x_i within the bound of today's S_i; CVR_i = accounts acquired per click "
    "(acquisition channel on the account) and V_i their mean LTV to date (without the LTV "
    "section: last-touch purchases per click, V_i = 1).",
    "Expected gain": "expected LTV to date acquired with the recommended split − with today's; "
    "interval and probability of a gain from simulated curve parameters and rates.",
    "Sleeping dog": "a segment whose uplift interval lies below zero: a message makes its "
    "accounts less likely to buy, so leave them out.",
}


# ---------------------------------------------------------------- the report


def open_data(data_dir=None, engine: str = "duckdb", **options):
    """The tables of the campaigns report that the dataset holds (``helpers.data.tables``):
    at least one of :data:`CORE_ANY` (else a ValueError naming both), every table a section
    reads when present, and ``accounts`` derived from the account ids seen when it is absent."""
    wanted = {t for s in SECTIONS for t in s.tables}
    wanted = sorted(wanted | {t for ts in _CHANNEL_SOURCES.values() for t in ts})
    if data_dir is not None and is_url(data_dir):
        return open_tables(data_dir, CORE, wanted, engine, **options)
    root = Path(resolve_data_dir(str(data_dir).removeprefix("file://") if data_dir else None))
    present = [t for t in wanted if has_table(root, t)]
    core = [t for t in CORE_ANY if t in present]
    if not core:
        raise ValueError(_no_core(root))
    with_ids = {"orders", "leads", "web_events", "campaign_sends"}
    if "accounts" not in present and not with_ids & set(present):
        wanted.remove("accounts")  # nothing to derive accounts from (spend alone)
    return open_tables(root, core, wanted, engine, **options)


def _no_core(where) -> str:
    return (
        f"the campaigns report needs a campaign_sends table (experiments) or a marketing_spend "
        f"table (channel economics); {where} holds neither: see docs/bring-your-own-data.md"
    )


def analyse(
    ds,
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
    min_control: int = 30,
    lookback_days: int = 365,
    qini_draws: int = 200,
    annual_discount_rate: float = 0.1,
    budget_bound: float = 0.5,
    split=None,
    as_of=None,
    pre_period_days: int = 90,
    attribution_days: int | None = 365,
) -> Analysis:
    """The campaigns report on ``ds`` (:func:`open_data`): every section of :data:`SECTIONS` the
    tables allow, with its tables, its figures for the JSON and the facts the narrative needs.

    Parameters: ``alpha`` (tests; intervals at 1 − alpha), ``power`` (sample size needed),
    ``seed`` (bootstraps, folds, simulations), ``min_control`` (fewest control sends for a
    segment's uplift to count), ``lookback_days`` (history before each campaign's start behind
    its segments and model features), ``qini_draws`` (random scores of the Qini band),
    ``annual_discount_rate`` (historical CLV used as LTV), ``budget_bound`` (largest share a
    reallocation may move a channel's budget), ``split`` (each campaign's intended share per
    group for the sample-ratio check: None equal, ``{"control": 0.2}`` for every campaign, or
    ``{campaign_id: {...}, "*": {...}}``), ``as_of`` (the day the experiments are read: sends
    and conversions after it are not counted, and a campaign running on it gets always-valid
    intervals; None: all data), ``pre_period_days`` (days before each send whose orders are
    the CUPED covariates), ``attribution_days`` (days after signup whose revenue and margin
    ROAS and ROI credit to the acquiring channel; None: all to date). Raises ValueError when
    ``ds`` holds neither campaign_sends nor marketing_spend.
    """
    if not any(t in ds for t in CORE_ANY):
        raise ValueError(_no_core(getattr(ds, "path", "the dataset")))
    validate.fraction("alpha", alpha, open_ends=True)
    result = Analysis.start("campaigns", SECTIONS, ds)
    f = result.facts
    f["level"] = f"{1 - alpha:.0%}"
    f["period_table"] = "marketing_spend" if "marketing_spend" in ds else "campaign_sends"
    f["series"] = {}  # publish(series=...): monthly history of headline figures
    if result.built("channels"):
        _channels_section(result, ds, attribution_days)
    if result.built("ltv"):
        _ltv_section(result, ds, alpha, seed, annual_discount_rate)
    if result.built("weekly"):
        weekly = weekly_channel(ds)
        result.tables["weekly"] = weekly[weekly.spend > 0]
        shown = weekly[(weekly.spend > 0) & (weekly.impressions > 0)]
        crm = shown.channel.isin(CRM_CHANNELS)
        result.tables.update(weekly_media=shown[~crm], weekly_crm=shown[crm])
        f["weeks"] = int(result.tables["weekly"].week.nunique())
    if result.built("experiments"):
        design = {"split": split, "as_of": as_of, "pre_period_days": pre_period_days}
        _experiments_section(result, ds, alpha, power, seed, design)
    if result.built("engagement"):
        _engagement_section(result, ds)
    if result.built("uplift"):
        _uplift_section(result, ds, alpha, seed, min_control, lookback_days, qini_draws)
    if result.built("budget"):
        _budget_section(result, ds, alpha, seed, budget_bound)
    f["findings"] = key_findings(result)
    f["finding"] = _one_line(result)
    _shown_channels(result)
    _shown_experiments(result)
    _shown_targeting(result)
    return result


def monthly_cac(ds, exclude=CRM_CHANNELS) -> pd.DataFrame:
    """CAC per calendar month of the paid media channels (every channel with spend but the CRM
    ones in ``exclude``, which pay per message): month ("YYYY-MM"), spend, new_customers
    (accounts whose acquisition_channel is one of them, signed up that month) and cac = spend /
    new_customers (NaN with none). Only months the spend table covers from their first to
    their last day (complete months)."""
    ms = ds.marketing_spend
    if exclude:
        ms = ms.filter(~ms.channel.isin(list(exclude)))
    paid = ms.group_by("channel").aggregate(spend=ms.spend.sum()).to_pandas()
    channels = list(paid.channel[paid.spend > 0])
    spend = ms.group_by(month=ms.date.truncate("M")).aggregate(spend=ms.spend.sum()).to_pandas()
    first, last = (pd.Timestamp(v) for v in ds.period("marketing_spend"))
    acc = ds.accounts
    acc = acc.filter(acc.acquisition_channel.isin(channels or ["-"]))
    new = acc.group_by(month=acc.signup_date.truncate("M")).aggregate(
        new_customers=acc.account_id.nunique()
    )
    out = spend.merge(new.to_pandas(), on="month", how="left")
    out["month"] = pd.to_datetime(out.month)
    whole = (out.month >= first.normalize()) & (
        out.month + pd.offsets.MonthEnd(0) <= last.normalize()
    )
    out = out[whole].sort_values("month").reset_index(drop=True)
    out["new_customers"] = out.new_customers.fillna(0).astype("int64")
    out["cac"], _ = _ratio(out.spend, out.new_customers, "no new customers")
    out["month"] = out.month.dt.strftime("%Y-%m")
    return out


def _channels_section(result: Analysis, ds, attribution_days) -> None:
    econ = channel_economics(ds, attribution_days)
    paid, unpaid = econ[econ.spend > 0], econ[econ.spend <= 0]
    acquiring = paid[paid.new_customers > 0]
    result.tables.update(econ=econ, paid=paid, unpaid=unpaid)
    media = paid[~paid.channel.isin(CRM_CHANNELS)]
    result.figures["paid_spend"] = float(paid.spend.sum())
    result.figures["paid_media_spend"] = float(media.spend.sum())
    best = acquiring.loc[acquiring.roas.idxmax()] if acquiring.roas.notna().any() else None
    roas_key = "best_roas" if attribution_days is None else "best_roas_in_window"
    result.figures["best_roas_channel"] = None if best is None else str(best.channel)
    result.figures[roas_key] = None if best is None else float(best.roas)
    if attribution_days is not None:
        result.figures["attribution_days"] = int(attribution_days)
    result.facts.update(
        best=best, paid_channels=len(paid), attribution_days=attribution_days, media=media
    )
    if "new_customers" in econ and "accounts" in ds and econ.new_customers.notna().any():
        cac = monthly_cac(ds)
        result.tables["monthly_cac"] = cac
        spent = media[media.new_customers > 0]
        total = float(spent.new_customers.sum())
        result.figures["paid_cac"] = float(spent.spend.sum() / total) if total else None
        values = {r.month: float(r.cac) for r in cac.itertuples() if r.cac == r.cac}
        if values:
            result.facts["series"]["paid_cac"] = {"freq": "month", "values": values}
    _channel_notes(result, ds)


def _channel_notes(result: Analysis, ds) -> None:
    for col, tables in _CHANNEL_SOURCES.items():
        lacking = [t for t in tables if t not in ds]
        if lacking and col != "campaign_revenue":
            result.notes.append(
                f"Channel economics: {col.replace('_', ' ')} need(s) the {', '.join(lacking)} "
                "table(s), absent here, so they and the metrics built on them show n/a."
            )
        elif lacking:
            result.notes.append(
                "Channel economics: CRM send revenue needs the campaign_sends and campaigns "
                "tables, absent here, so channel revenue counts the acquired customers only."
            )


def _ltv_section(result: Analysis, ds, alpha: float, seed: int, annual_discount_rate) -> None:
    econ = result.tables.get("econ")
    if econ is None:
        econ = channel_economics(ds)
    if not (econ.cac.notna() & (econ.spend > 0)).any():
        result.skip(
            "ltv",
            "No paid channel acquired a customer while spend was recorded (no account's "
            "acquisition_channel is a paid channel): CAC, and so CAC against LTV, is n/a.",
        )
        return
    first, last = ds.period("marketing_spend")
    values = historical_clv(ds, annual_discount_rate)
    ltv = cac_against_ltv(econ, values, first, last, confidence=1 - alpha, seed=seed)
    acq = ltv[ltv.cac.notna()].sort_values("cac", ascending=False).reset_index(drop=True)
    result.tables.update(ltv=ltv, acquisition=acq)
    flagged = ltv[ltv.verdict == "does not pay back"]
    result.figures["channels_not_paying_back"] = ", ".join(flagged.channel)
    result.facts["not_paying_back"] = list(flagged.channel)
    valued = acq[acq.customers_valued > 0]
    n = float(valued.customers_valued.sum())
    if n:
        ltv_pooled = float((valued.ltv * valued.customers_valued).sum() / n)
        cac_pooled = float(valued.spend.sum() / valued.new_customers.sum())
        result.figures["ltv_to_date_per_account"] = ltv_pooled
        result.figures["ltv_cac_to_date"] = ltv_pooled / cac_pooled if cac_pooled else None


def running_campaigns(ds, outcomes: pd.DataFrame, as_of, window_days: int = 14) -> list[str]:
    """The campaigns of ``outcomes`` still running on ``as_of``: start_date ≤ as_of < end_date
    (``campaigns`` table; its end date closes the conversion window), or without that table,
    first send ≤ as_of < last send + ``window_days``. None for ``as_of``: no campaign is."""
    if as_of is None or outcomes.empty:
        return []
    day = pd.Timestamp(as_of).normalize()
    if "campaigns" in ds:
        cp = ds.campaigns.select("campaign_id", "start_date", "end_date").to_pandas()
        start, end = pd.to_datetime(cp.start_date), pd.to_datetime(cp.end_date)
        ids = cp.campaign_id[(start <= day) & (day < end)]
    else:
        sent = outcomes.groupby("campaign_id").sent_at.agg(["min", "max"])
        last = sent["max"].dt.normalize() + pd.Timedelta(days=window_days)
        ids = sent.index[(sent["min"].dt.normalize() <= day) & (day < last)]
    return sorted(set(ids) & set(outcomes.campaign_id))


def _experiments_section(result: Analysis, ds, alpha, power, seed, design: dict) -> None:
    """``design``: split, as_of, pre_period_days (see :func:`analyse`)."""
    outcomes = send_outcomes(ds, as_of=design["as_of"], pre_period_days=design["pre_period_days"])
    running = running_campaigns(ds, outcomes, design["as_of"])
    exp = experiments(
        outcomes, alpha=alpha, power=power, seed=seed, split=design["split"], running=running
    )
    controlled = exp[exp.has_control]
    trusted = controlled[controlled.trusted]
    won = trusted[trusted.lift_lo > 0]
    helped = trusted.rev_variance_reduction > 0  # the adjusted interval counts where narrower
    rev_lo = trusted.rev_lift_adj_lo.where(helped, trusted.rev_lift_lo)
    rev_won = trusted[rev_lo > 0]
    either = set(won.campaign_id) | set(rev_won.campaign_id)
    result.tables.update(outcomes=outcomes, experiments=exp, controlled=controlled)
    result.tables["no_control"] = exp[~exp.has_control]
    result.tables["srm"] = sample_ratio(outcomes, design["split"])
    adjusted = controlled.rev_variance_reduction.dropna()
    result.figures.update(
        campaigns=int(exp.campaign_id.nunique()),
        campaigns_with_control=int(controlled.campaign_id.nunique()),
        campaigns_with_positive_lift=int(won.campaign_id.nunique()),
        campaigns_with_revenue_lift=int(rev_won.campaign_id.nunique()),
        campaigns_with_lift=len(either),
        campaigns_with_sample_ratio_mismatch=int(exp.campaign_id[exp.srm_mismatch].nunique()),
        campaigns_running=len(running),
        revenue_variance_reduction_median=float(adjusted.median()) if len(adjusted) else None,
        experiments=experiment_records(exp),
    )
    result.facts.update(
        arms=int(len(exp)),
        multi_arm=sorted(exp.campaign_id[exp.campaign_id.duplicated()].unique()),
        winning_arms=[f"{r.campaign_id} {r.arm}" for r in won.itertuples()],
        revenue_winning=sorted(rev_won.campaign_id.unique()),
        lifted=sorted(either),
        running=running,
        srm_flagged=sorted(exp.campaign_id[exp.srm_mismatch].unique()),
        adjusted=bool(len(adjusted)),
        pre_period_days=design["pre_period_days"],
    )


def _engagement_section(result: Analysis, ds) -> None:
    eng = engagement(ds)
    if int(eng.opened.sum() + eng.clicked.sum()) == 0:
        result.skip(
            "engagement",
            "No send has an opened_at or clicked_at time (the export records sends and "
            "conversions only): open and click rates need them.",
        )
        return
    result.tables["engagement"] = eng[eng.group != CONTROL_GROUP].reset_index(drop=True)


def returning_after(ds, segments: pd.DataFrame, which: list[str], days: int = 365) -> dict:
    """Per segment in ``which``: of the (campaign, account) pairs of ``segments`` (as
    :func:`segments_at_sends` gives them) in that segment at the campaign's start, accounts
    (distinct) and came_back = the share of pairs whose account placed an order within ``days``
    after the start. Says whether "Lost at a campaign's start" means lost for good."""
    if not which:
        return {}
    starts = ds.campaigns.select("campaign_id", "start_date").to_pandas()
    pairs = segments[segments.segment.isin(which)].merge(starts, on="campaign_id")
    if pairs.empty:
        return {}
    o = ds.orders
    o = o.filter(o.account_id.isin([int(a) for a in pairs.account_id.unique()]))
    orders = o.select("account_id", "order_ts").to_pandas()
    m = pairs.merge(orders, on="account_id", how="left")
    start = pd.to_datetime(m.start_date)
    ts = pd.to_datetime(m.order_ts)
    m["back"] = (ts >= start) & (ts < start + pd.Timedelta(days=days))
    back = m.groupby(["campaign_id", "account_id", "segment"]).back.any().reset_index()
    return {
        seg: {"accounts": int(g.account_id.nunique()), "came_back": float(g.back.mean())}
        for seg, g in back.groupby("segment")
    }


def _uplift_section(
    result: Analysis, ds, alpha, seed, min_control, lookback_days, qini_draws
) -> None:
    outcomes = result.tables.get("outcomes")
    if outcomes is None:
        outcomes = send_outcomes(ds)
    if not outcomes.has_control.astype(bool).any():
        result.skip(
            "uplift",
            "No campaign kept a control group (campaigns.has_control): uplift needs one.",
        )
        return
    segments_then = segments_at_sends(ds, outcomes, lookback_days=lookback_days)
    uplift = audience_roles(
        uplift_by_segment(outcomes, segments_then, alpha=alpha), min_control=min_control
    )
    persuadable = uplift[uplift.target]
    feats = send_features(ds, lookback_days=lookback_days)
    feats = feats[feats.has_control.astype(bool)].reset_index(drop=True)
    treated = (feats.group != CONTROL_GROUP).to_numpy()
    score = two_model_uplift(uplift_matrix(feats), treated, feats.converted, seed=seed)
    qini = qini_curve(score, treated, feats.converted)
    coef = qini_coefficient(qini)
    band = qini_random_band(treated, feats.converted, n=qini_draws, seed=seed, level=1 - alpha)
    verdict = qini_verdict(coef, band)
    step = max(1, len(qini) // 60)
    curve = qini.iloc[::step].rename(columns={"qini": "uplift score", "random": "random targeting"})
    long = curve.melt(
        id_vars="share", value_vars=["uplift score", "random targeting"], var_name="targeting",
        value_name="extra",
    )  # fmt: skip
    sendable = persuadable[persuadable.segment != NO_RECENT_ORDER]
    result.tables.update(uplift=uplift, persuadable=persuadable, qini=qini, qini_long=long)
    result.figures.update(
        persuadable_segments=", ".join(persuadable.segment), qini=float(coef), qini_verdict=verdict
    )
    result.facts.update(
        qini=float(coef), qini_band=(float(band[0]), float(band[1])), qini_verdict=verdict,
        scored_sends=len(feats), persuadable=list(persuadable.segment),
        sendable=list(sendable.segment), lookback_days=lookback_days,
        came_back=returning_after(ds, segments_then, list(persuadable.segment)),
    )  # fmt: skip


def budget_objective(econ: pd.DataFrame, ltv: pd.DataFrame | None):
    """What the reallocation maximises, and the inputs :func:`helpers.models.response.
    reallocate` needs for it: (per_click, worth, unit, rule). With the LTV section built, the
    LTV to date of the accounts acquired (as the CLV report values customers): per_click =
    channel, conversions = accounts acquired (acquisition_channel on the account), clicks;
    worth = mean LTV to date per acquired account. Without it, last-touch web purchases (the
    purchase's session channel) per click, each worth one."""
    if ltv is not None and ltv.ltv.notna().any():
        per_click = econ[["channel", "clicks"]].assign(conversions=econ.new_customers)
        worth = dict(zip(ltv.channel, ltv.ltv.fillna(0.0), strict=True))
        rule = "accounts credited to the channel recorded on the account at signup"
        return per_click, worth, "LTV to date of the accounts acquired", rule
    rule = "last touch: each web purchase credited to its session's channel"
    return econ[["channel", "conversions", "clicks"]], None, "conversions", rule


def _budget_section(result: Analysis, ds, alpha: float, seed: int, bound: float) -> None:
    econ = result.tables["econ"]
    rows = response_inputs(ds)
    curves = fit_response(rows, alpha=alpha)
    per_click, worth, unit, rule = budget_objective(econ, result.tables.get("ltv"))
    usable = usable_curves(curves, per_click)
    can = int((usable == "").sum()) >= 2
    realloc = budget = marks = None
    if can:
        realloc, budget = reallocate(
            rows, curves, per_click, bound=bound, alpha=alpha, seed=seed, worth=worth, unit=unit
        )
        marks = spend_marks(rows, realloc)
    cap = rows.groupby("channel").spend.quantile(0.99).to_dict()
    fitted = curve_points(curves, cap, alpha=alpha, seed=seed)
    result.tables.update(
        response_rows=rows, curves=curves.assign(usable=[n or "yes" for n in usable]),
        realloc=realloc, fitted=fitted, marks=marks,
    )  # fmt: skip
    key = "budget_ltv_gain" if worth is not None else "budget_gain"
    for part in ("", "_lo", "_hi"):
        result.figures[f"{key}{part}"] = float(budget[f"gain{part}"]) if can else None
    if can:
        result.figures["budget_media_spend"] = float(budget["total_spend"])
    moved = realloc.dropna(subset=["change"]).sort_values("change") if can else None
    result.facts.update(
        can_reallocate=can, budget=budget, moved=moved, budget_unit=unit, budget_rule=rule,
        budget_in_money=worth is not None,
        unusable=[f"{ch}: {n}." for ch, n in zip(curves.channel, usable, strict=True) if n],
    )  # fmt: skip


def _one_line(result: Analysis) -> str:
    """The index card's finding: best ROAS and controlled campaigns with a lift, as built."""
    parts = []
    best = result.facts.get("best")
    if result.built("channels") and best is not None:
        window = result.facts.get("attribution_days")
        within = f", revenue within {window} days of signup" if window else ""
        parts.append(f"Best ROAS {best.channel} ({best.roas:.1f}{within})")
    elif result.built("channels"):
        paid = result.tables["paid"]
        parts.append(f"Marketing spend {paid.spend.sum():,.0f} on {len(paid)} channels")
    if result.built("experiments"):
        g = result.figures
        parts.append(
            f"{g['campaigns_with_lift']} of {g['campaigns_with_control']} controlled campaigns "
            "show a conversion or revenue lift"
        )
    return "; ".join(parts) + "." if parts else "No section could be built from this dataset."


def _with_notes(values: pd.Series, notes: pd.Series, fmt) -> list[str]:
    """Each value formatted by ``fmt``, or its note ("n/a: ...") where it is NaN."""
    return [n if pd.isna(v) else fmt(v) for v, n in zip(values, notes, strict=True)]


def _shown_channels(result: Analysis) -> None:
    """Tables as the report shows them (text columns), for the channel sections."""
    t = result.tables
    if "paid" in t:
        paid = t["paid"]
        shown = paid.copy()
        for m in ("ctr", "cvr"):
            shown[m] = _with_notes(paid[m], paid[f"{m}_note"], lambda v: present.pct(v, 2))
        for m in ("cpa", "cac", "roas", "roi"):
            shown[m] = _with_notes(paid[m], paid[f"{m}_note"], lambda v: f"{v:,.2f}")
        cols = ["channel", "spend", "impressions", "clicks", "ctr", "leads", "conversions"]
        cols += ["cvr", "cpa", "new_customers", "cac", "revenue", "roas", "roi"]
        t["paid_shown"] = shown[cols].rename(columns={"roi": "roi_undiscounted_ratio"})
    if "acquisition" in t:
        acq = t["acquisition"]
        t["acquisition_shown"] = acq.assign(
            ltv_interval=[
                f"{r.ltv:,.0f} ({r.ltv_lo:,.0f} to {r.ltv_hi:,.0f})" for r in acq.itertuples()
            ]
        )[["channel", "new_customers", "spend", "cac", "ltv_interval", "ltv_cac", "verdict"]]
        t["acquisition_shown"] = t["acquisition_shown"].rename(
            columns={"ltv_interval": "ltv_to_date_interval", "ltv_cac": "ltv_to_date_to_cac"}
        )
    if t.get("curves") is not None:
        c = t["curves"]
        c = c.assign(
            b_interval=[
                f"{r.b:.2f} ({r.b_lo:.2f} to {r.b_hi:.2f})" if r.b == r.b else "n/a"
                for r in c.itertuples()
            ]
        )
        t["curves_shown"] = c[
            ["channel", "rows", "spend", "clicks", "b_interval", "dispersion", "usable"]
        ]
    if t.get("realloc") is not None:
        r = t["realloc"]
        t["realloc_shown"] = r.assign(
            change=[present.pct(v, 0) if v == v else "" for v in r.change]
        )[
            ["channel", "current_spend", "recommended_spend", "change", "current_expected"]
            + ["recommended_expected", "gain", "note"]
        ]


def _rate_of(rate: float, n: int) -> str:
    return f"{present.pct(rate)} of {present.count(n)}"


def _shown_experiments(result: Analysis) -> None:
    """Tables as the report shows them, for the experiment and engagement sections."""
    t = result.tables
    if "controlled" in t:
        c = t["controlled"]
        t["controlled_shown"] = pd.DataFrame({
            "campaign_id": c.campaign_id,
            "arm": c.arm,
            "channel": c.channel,
            "conversion_arm": [_rate_of(r.cr_treated, r.treated) for r in c.itertuples()],
            "conversion_control": [_rate_of(r.cr_control, r.control) for r in c.itertuples()],
            "lift_interval": [
                f"{present.pct(r.lift)} ({present.pct(r.lift_lo)} to {present.pct(r.lift_hi)})"
                for r in c.itertuples()
            ],
            "p_value": c.p_value,
            "revenue_lift": [
                f"{r.rev_lift:,.1f} ({r.rev_lift_lo:,.1f} to {r.rev_lift_hi:,.1f})"
                for r in c.itertuples()
            ],
            "revenue_lift_cuped": [
                f"{r.rev_lift_adj:,.1f} ({r.rev_lift_adj_lo:,.1f} to {r.rev_lift_adj_hi:,.1f}; "
                f"variance {-r.rev_variance_reduction:+.0%})" if r.rev_lift_adj == r.rev_lift_adj
                else "n/a: no orders before the send" for r in c.itertuples()
            ],
            "sample_ratio_p": c.srm_p_value,
            "needed": [
                n or f"{v:,.0f}" for v, n in zip(c.needed_per_group, c.note, strict=True)
            ],
        })  # fmt: skip
        if not c.rev_lift_adj.notna().any():
            t["controlled_shown"] = t["controlled_shown"].drop(columns="revenue_lift_cuped")
        nc = t["no_control"]
        t["no_control_shown"] = nc.assign(
            conversion=[_rate_of(r.cr_treated, r.treated) for r in nc.itertuples()]
        )[["campaign_id", "arm", "channel", "conversion", "note"]]
    if "engagement" in t:
        e = t["engagement"]
        t["engagement_shown"] = pd.DataFrame({
            "campaign_id": e.campaign_id,
            "arm": e.group,
            "sends": e.sends,
            "opened": [_rate_of(r.open_rate, r.sends) for r in e.itertuples()],
            "clicked": [_rate_of(r.click_rate, r.sends) for r in e.itertuples()],
        })  # fmt: skip


def _shown_targeting(result: Analysis) -> None:
    """The uplift table as the report shows it."""
    t = result.tables
    if "uplift" in t:
        u = t["uplift"]
        t["uplift_shown"] = u.assign(
            conversion_control=[_rate_of(r.cr_control, r.control) for r in u.itertuples()],
            uplift_interval=[
                f"{present.pct(r.uplift)} ({present.pct(r.uplift_lo)} to "
                f"{present.pct(r.uplift_hi)})"
                if r.note == ""
                else r.note
                for r in u.itertuples()
            ],
        )[["segment", "treated", "conversion_control", "uplift_interval", "role"]]
        t["uplift_measured"] = u.dropna(subset=["uplift"])


def response_figure(result: Analysis, *, title: str, xlabel: str, ylabel: str):
    """:func:`helpers.plots.response_curves` of the budget section with one legend for all
    panels, below them (outside the data) instead of one inside each panel."""
    from helpers import plots

    t = result.tables
    fig = plots.response_curves(
        t["response_rows"], t["fitted"], t["marks"], title=title, xlabel=xlabel, ylabel=ylabel
    )
    handles, labels = fig.axes[0].get_legend_handles_labels()
    for ax in fig.axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def channels_intro(result: Analysis) -> str:
    """The channel economics section's opening (what each column counts)."""
    window = result.facts.get("attribution_days")
    when = f"in their first {window} days" if window else "to date"
    return (
        "Each paid channel's spend, reach and return. Conversions are web purchases whose "
        "session came from the channel (last touch); new customers are accounts that signed up "
        "through it while spend was recorded (the channel on the account); revenue is those "
        f"customers' revenue {when} plus the revenue of CRM sends on the channel. ROI is a "
        "ratio (not a percentage) on undiscounted gross margin. Email and SMS revenue counts "
        "every converted send, so their ROAS is not incremental: the experiments below measure "
        "what they add. A ratio whose denominator is zero shows **n/a** and the reason."
    )


def ltv_intro(result: Analysis, annual_discount_rate: float) -> str:
    """The LTV section's opening: LTV to date, not the CLV report's LTV with a forecast."""
    return (
        "LTV here is **LTV to date**: the historical CLV of each customer the channel acquired "
        "while spend was recorded, gross margin per month since signup discounted at "
        f"{annual_discount_rate:.0%} a year. It is not a forecast, so it is not the CLV report's "
        "LTV (to date plus a 12-month forecast) and its LTV:CAC is lower. A channel that does "
        "not pay back yet may still do so later. Verdicts compare CAC with the "
        f"{result.facts['level']} bootstrap interval of the mean LTV to date."
    )


def uplift_intro(result: Analysis, min_control: int) -> str:
    """The uplift section's opening: segments at the campaign's start, the roles explained."""
    f = result.facts
    return (
        "Uplift per RFM segment, pooling every campaign with a control group (every arm counts "
        f"as treated), with its {f['level']} interval. Each send counts in the segment its "
        f"account had **at the campaign's start** (RFM over the {f['lookback_days']} days "
        "before it), so the segment does not mix in what the campaign itself caused. "
        "Persuadable: interval above zero, target them. Would buy anyway: high conversion "
        "without a message and no clear uplift. **Sleeping dog**: interval below zero, a "
        "message makes them less likely to buy, leave them out. A segment with fewer than "
        f"{min_control} control sends is not measured."
    )


def experiments_intro(result: Analysis, power: float) -> str:
    """The experiments section's opening: what each column means, each method in a sentence."""
    f, g = result.facts, result.figures
    level = f["level"]
    text = (
        "Each arm of a campaign (one version of the message; most campaigns have one) against "
        "the campaign's control group, accounts picked at random and sent nothing. Lift = "
        "conversion rate of the arm minus that of the control group, with its "
        f"{level} **Newcombe interval** (the two rates' Wilson intervals combined, which "
        "stays honest when conversions are few) and a two-proportion score test; revenue lift "
        "per recipient with a bootstrap interval; and the recipients a test would have needed "
        f"in the arm to detect the observed lift at power {power:.0%}. "
        "The **sample-ratio check** compares each campaign's split of sends over its groups "
        "with the planned split (a chi-square test): a p-value below 0.001 is a sample-ratio "
        "mismatch, which means the assignment or the logging went wrong, and the campaign's "
        "lift is then not to be trusted. "
    )
    if f["adjusted"]:
        share = g["revenue_variance_reduction_median"]
        text += (
            f"**CUPED** (adjustment with pre-experiment data) subtracts from each account's "
            f"revenue the part its revenue and orders in the {f['pre_period_days']} days "
            "before the send predict, which leaves the lift unbiased and narrows its "
            "interval by as much as the past explains; here the median variance reduction is "
            f"{present.pct(share, 1)}: campaign revenue comes from rare conversions that the "
            "past barely predicts. The verdict uses the adjusted interval where it is narrower. "
        )
    else:
        text += "Without an orders table there is no pre-period, so no CUPED adjustment. "
    if f["running"]:
        text += (
            f"{', '.join(f['running'])} was still running on the day analysed: its intervals "
            "are **always-valid** confidence sequences, which stay correct however often the "
            "result is looked at before the end (wider than the fixed-sample ones). "
        )
    several = ", ".join(f["multi_arm"])
    text += f"{g['campaigns_with_control']} campaigns had a control group" + (
        f"; {several} tested several arms, each compared with the control without adjusting "
        "for the number of arms."
        if several
        else "."
    )
    return text


def key_findings(result: Analysis) -> list[str]:
    """The key findings of a built :func:`analyse` result: one sentence per built section
    (channels, LTV, experiments, uplift, budget), each computed from its tables and facts."""
    f, t, out = result.facts, result.tables, []
    level = f["level"]
    if result.built("channels"):
        out.append(channels_finding(result))
        note = crm_roas_note(result)
        if note:
            out.append(note)
    if result.built("ltv"):
        out.append(_ltv_finding(t["ltv"], t["paid"], f["not_paying_back"], level))
    if result.built("experiments"):
        out.append(experiments_verdict(result))
    if result.built("uplift"):
        out.append(uplift_finding(result))
    if result.built("budget"):
        out.append(_budget_finding(f, level) + budget_reconciliation(result))
    if not out:
        out.append("No section of this report could be built from the tables in the dataset.")
    return out


#: The earlier name of :func:`key_findings`.
findings = key_findings


def channels_finding(result: Analysis) -> str:
    """Spend (all channels with spend, and the paid media part the budget section moves) and
    the best ROAS, with its attribution window."""
    f, paid = result.facts, result.tables["paid"]
    media, crm = f["media"], paid[paid.channel.isin(CRM_CHANNELS)]
    text = (
        f"Marketing spend over the period: **{present.money(paid.spend.sum())}** on "
        f"{len(paid)} channels with spend: {present.money(media.spend.sum())} of paid media "
        f"({', '.join(media.channel)})"
    )
    text += (
        f" and {present.money(crm.spend.sum())} of {' and '.join(crm.channel)} send costs."
        if len(crm)
        else "."
    )
    best = f["best"]
    if best is not None:
        window = f["attribution_days"]
        when = f"in their first {window} days" if window else "to date"
        text += (
            f" Among the channels that acquire customers, the best return on ad spend is "
            f"**{best.channel}** (ROAS {best.roas:.1f}: {present.money(best.revenue)} revenue "
            f"{when} from the customers it brought, for {present.money(best.spend)} spend)."
        )
    return text


def crm_roas_note(result: Analysis) -> str:
    """A comment on the CRM channels' ROAS (e-mail's is huge because its cost is near zero),
    set against the revenue the experiments show the messages added; "" without CRM spend."""
    paid = result.tables["paid"]
    crm = paid[paid.channel.isin(CRM_CHANNELS) & paid.roas.notna()]
    if crm.empty:
        return ""
    parts = [
        f"{r.channel} ROAS {r.roas:,.0f} is {present.money(r.revenue)} of converted-send "
        f"revenue over {present.money(r.spend)} of send costs"
        for r in crm.itertuples()
    ]
    text = (
        "; ".join(parts) + ": a near-zero cost makes any ratio on it huge, and it counts "
        "accounts that would have bought anyway, so it is not a return on spend."
    )
    exp = result.tables.get("controlled")
    if exp is not None and len(exp):
        inc = (exp.rev_lift * exp.treated).groupby(exp.channel).sum()
        shown = [f"{ch} {present.money(v)}" for ch, v in inc.items() if ch in set(crm.channel)]
        if shown:
            text += (
                " What the messages added, measured against control groups (revenue lift × "
                f"recipients over the controlled campaigns): {', '.join(shown)}."
            )
    return text


def experiments_verdict(result: Analysis) -> str:
    """How many controlled campaigns show a lift, counting conversion AND revenue per
    recipient, with the sample-ratio and still-running caveats."""
    f, t, g = result.facts, result.tables, result.figures
    n, nc = t["experiments"].campaign_id.nunique(), g["campaigns_with_control"]
    arms = f" ({f['arms']} arms against their control)" if f["multi_arm"] else ""
    adj = " (CUPED-adjusted where the pre-period helps)" if f["adjusted"] else ""
    text = (
        f"**{nc}** of {n} CRM campaigns kept a control group{arms}; **{g['campaigns_with_lift']}"
        f"** of them show a lift whose {f['level']} interval lies above zero: "
        f"{g['campaigns_with_positive_lift']} in conversion and "
        f"{g['campaigns_with_revenue_lift']} in revenue per recipient{adj}. The other "
        f"{n - nc} had no control group: their effect cannot be measured."
    )
    if f["srm_flagged"]:
        text += (
            f" {', '.join(f['srm_flagged'])} failed the sample-ratio check (its split of sends "
            "is not the planned one), so its lift is not counted."
        )
    if f["running"]:
        text += (
            f" Still running on the day analysed: {', '.join(f['running'])} (always-valid "
            "intervals)."
        )
    return text


def uplift_finding(result: Analysis) -> str:
    """Persuadable segments, the Qini verdict, and why "Lost" can be persuadable here."""
    f, t = result.facts, result.tables
    seg = ", ".join(
        f"**{s}** ({present.pct(u, 1)} uplift)"
        for s, u in zip(t["persuadable"].segment, t["persuadable"].uplift, strict=True)
    )
    lo, hi = f["qini_band"]
    text = (
        "Persuadable segments (RFM scored on the "
        f"{f['lookback_days']} days before each campaign's start) for the next campaign: "
        f"{seg or 'none with an interval above zero'}. The two-model uplift score on "
        f"pre-campaign history is **{f['qini_verdict']}** (Qini {f['qini']:.1f}; random "
        f"scores reach {lo:.1f} to {hi:.1f})."
    )
    return text + lost_note(f)


def lost_note(f: dict) -> str:
    """Why a segment named "Lost" can be persuadable here while the segmentation report
    advises leaving Lost accounts out: computed from :func:`returning_after`."""
    back = f.get("came_back", {}).get("Lost")
    if not back:
        return ""
    return (
        f" Lost here means lost **as of a campaign's start**: of the {back['accounts']:,} "
        f"accounts labelled Lost then, {present.pct(back['came_back'], 0)} of the sends went "
        "to an account that ordered again within a year, so the label held a share of "
        "occasional buyers between orders. The segmentation report's Lost is scored on its "
        "own, longer window up to the end of the data, and its advice (leave them out of paid "
        "outreach) is about accounts that have not come back; a CRM message costs little, and "
        "the measured uplift says send it."
    )


def budget_reconciliation(result: Analysis) -> str:
    """One sentence when the reallocation moves budget away from the channel with the better
    ROAS or LTV:CAC: those are averages over all its spend, the reallocation follows the
    return of the next unit of spend, b_i · value_i / spend_i (b the curve's exponent)."""
    f, t = result.facts, result.tables
    if not f.get("can_reallocate") or f.get("best") is None:
        return ""
    moved = f["moved"]
    cut = moved[moved.change < 0]
    if cut.empty:
        return ""
    cut_ch = cut.channel.iloc[0]
    better = [f"ROAS ({f['best'].roas:.1f})"] if f["best"].channel == cut_ch else []
    ltv = t.get("ltv")
    if ltv is not None and ltv.ltv_cac.notna().any():
        top = ltv.loc[ltv.ltv_cac.idxmax()]
        if top.channel == cut_ch:
            better.append(f"LTV to date : CAC ({top.ltv_cac:.2f})")
    if not better:
        return ""
    curves = t["curves"].set_index("channel")
    r = t["realloc"].set_index("channel")
    marginal = {
        ch: curves.b[ch] * r.current_expected[ch] / r.current_spend[ch] for ch in moved.channel
    }
    return (
        f" {cut_ch} has the best {' and '.join(better)}, yet the split cuts it: those are "
        "averages over all its spend, while the split follows the return of the next unit of "
        "spend (curve exponent × value ÷ spend): "
        + ", ".join(f"{ch} {v:,.2f} per unit" for ch, v in marginal.items())
        + "."
    )


def _ltv_finding(ltv: pd.DataFrame, paid: pd.DataFrame, flagged: list[str], level: str) -> str:
    text = (
        f"CAC ranges from {present.money(paid.cac.min())} to {present.money(paid.cac.max())} per "
        "new customer on the channels that acquire customers; "
    )
    if flagged:
        text += (
            f"**{', '.join(flagged)}** pay(s) more per customer than the upper end of the {level} "
            "interval of those customers' historical CLV to date. "
        )
    else:
        text += (
            f"no paid channel's CAC lies above the {level} interval of its customers' "
            "historical CLV to date. "
        )
    return (
        text
        + "; ".join(
            f"{r.channel}: CAC {present.money(r.cac)} against LTV {present.money(r.ltv)} "
            f"({r.verdict})"
            for r in ltv[ltv.cac.notna()].itertuples()
        )
        + "."
    )


def _budget_finding(f: dict, level: str) -> str:
    if not f["can_reallocate"]:
        return (
            "Budget: fewer than two paid channels have a response curve with diminishing "
            "returns, so no reallocation is proposed."
        )
    b, moved = f["budget"], f["moved"]
    show = present.money if f["budget_in_money"] else (lambda v: f"{v:,.1f}")
    sign = lambda v: ("+" if v >= 0 else "−") + show(abs(v))  # noqa: E731
    verdict = (
        "a clear gain."
        if b["gain_lo"] > 0
        else "not a clear gain, so test it before moving the budget."
    )
    return (
        f"Budget: moving the same {present.money(b['total_spend'])} of paid media spend (the "
        "channels that buy clicks; e-mail and SMS pay per message and are left out) as the "
        "response curves suggest ("
        + ", ".join(f"{r.channel} {r.change:+.0%}" for r in moved.itertuples())
        + f") is expected to change the {b['unit']} ({f['budget_rule']}) by "
        f"**{sign(b['gain'])}** ({present.pct(b['gain_share'], 1)}; {level} interval "
        f"{sign(b['gain_lo'])} to {sign(b['gain_hi'])}; probability of a gain "
        f"{present.pct(b['prob_gain_positive'], 0)}): " + verdict
    )
