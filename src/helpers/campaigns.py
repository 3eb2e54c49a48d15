"""Campaigns and precision marketing: channel economics, experiments, uplift by segment.

Every heavy aggregation is an Ibis expression (DuckDB or Spark); only one row per channel,
week, campaign or account reaches pandas. Ratios whose denominator is zero are never shown as
inf: they are NaN in the numeric column and a ``*_note`` column says why ("n/a: no spend").

The sender (audiences, templates, SMTP) lives in :mod:`helpers.outreach`; the command line is
``python -m helpers.campaigns send --campaign ID --segment NAME`` (see :func:`main`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.data import measures
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
from helpers.stats import wilson_interval

CRM_CHANNELS = ("email", "sms")


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


def _order_margin(ds):
    """Per account: revenue Σ q·p·(1−d) and gross margin Σ q·(p·(1−d) − unit_cost)."""
    ov = measures.order_values(ds)
    return ov.group_by("account_id").aggregate(
        revenue=ov.revenue.sum(), gross_margin=(ov.revenue - ov.cogs).sum()
    )


def channel_inputs(ds) -> pd.DataFrame:
    """The per-channel raw counts behind :func:`channel_economics` (one row per channel).

    - spend, impressions, clicks: Σ over ``marketing_spend``
    - leads: ``leads`` whose source is the channel
    - conversions: web ``purchase`` events whose session channel is the channel (last touch)
    - new_customers: accounts whose ``acquisition_channel`` is the channel and signed up in the
      spend table's date range, with their revenue and gross margin to date (``orders``)
    - campaign_revenue: revenue of converted CRM sends (treatment group) sent on the channel
    """
    ms = ds.marketing_spend
    spend = ms.group_by("channel").aggregate(
        spend=ms.spend.sum(), impressions=ms.impressions.sum(), clicks=ms.clicks.sum()
    )
    out = spend.to_pandas()
    if out.empty:
        raise ValueError("table 'marketing_spend' has no rows")
    first, last = ms.date.min().to_pyarrow().as_py(), ms.date.max().to_pyarrow().as_py()
    ld = ds.leads
    leads = ld.group_by(channel=ld.source).aggregate(leads=ld.count()).to_pandas()
    we = ds.web_events
    we = we.filter(we.event == "purchase")
    conv = we.group_by("channel").aggregate(conversions=we.count()).to_pandas()
    acc = ds.accounts
    acc = acc.filter((acc.signup_date >= first) & (acc.signup_date <= last))
    m = _order_margin(ds)
    j = acc.left_join(m, acc.account_id == m.account_id)
    new = (
        j.group_by(channel=j.acquisition_channel)
        .aggregate(
            new_customers=j.account_id.nunique(),
            customer_revenue=j.revenue.fill_null(0).sum(),
            customer_margin=j.gross_margin.fill_null(0).sum(),
        )
        .to_pandas()
    )
    cs = ds.campaign_sends.join(ds.campaigns.select("campaign_id", "channel"), "campaign_id")
    cs = cs.filter(cs.group == "treatment")
    crm = cs.group_by("channel").aggregate(campaign_revenue=cs.revenue.sum()).to_pandas()
    for other in (leads, conv, new, crm):
        out = out.merge(other, on="channel", how="outer")
    counts = ["impressions", "clicks", "leads", "conversions", "new_customers"]
    out[counts] = out[counts].fillna(0).astype("int64")
    money = ["spend", "customer_revenue", "customer_margin", "campaign_revenue"]
    out[money] = out[money].fillna(0.0).astype("float64")
    return out.sort_values("spend", ascending=False).reset_index(drop=True)


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
    CTR, CVR carry 95 % Wilson intervals (``*_lo``, ``*_hi``).
    """
    need = {"channel", "spend", "impressions", "clicks", "conversions", "new_customers"}
    _require(inputs, need, "channel inputs")
    df = inputs.copy()
    for col in ("leads", "customer_revenue", "customer_margin", "campaign_revenue"):
        if col not in df:
            df[col] = 0
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
    has_both = df.cac.notna() & df.margin_per_customer.notna()
    df["cac_exceeds_ltv"] = pd.array(
        np.where(has_both, df.cac > df.margin_per_customer, pd.NA), dtype="boolean"
    )
    return df


def channel_economics(ds) -> pd.DataFrame:
    """:func:`economics` of :func:`channel_inputs`: one row per channel in the data."""
    return economics(channel_inputs(ds))


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
    historical CLV of ``helpers.clv.historical_clv`` (Σ_t M_t / (1 + d)^t); the notebook passes
    it in, so this module does not import another topic's. Only accounts that signed up in
    ``[since, until]`` count (the period with recorded spend, as for ``new_customers``).

    Per channel: customers_valued, ltv = mean value per acquired customer with its
    ``confidence`` percentile bootstrap interval (ltv_lo, ltv_hi), ltv_cac = ltv / CAC,
    cac_exceeds_ltv = CAC > ltv, and ``verdict``: "pays back" (CAC below the interval),
    "does not pay back" (CAC above it), "unclear: CAC inside the LTV interval", or the
    reason CAC or LTV is n/a. Never inf: a zero CAC or no valued customer gives NaN.
    """
    _require(econ, {"channel", "spend", "new_customers", "cac", "cac_note"}, "economics")
    _require(values, {"channel", "signup_date", value}, "account values")
    if not 0 < confidence < 1:
        raise ValueError(f"parameter confidence must be in (0, 1), got {confidence}")
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


def send_outcomes(ds, campaign_id: str | None = None) -> pd.DataFrame:
    """One row per (campaign, account, group): converted (0/1) and revenue, with the campaign's
    channel and has_control flag. Small: one row per send."""
    cs = ds.campaign_sends
    if campaign_id is not None:
        cs = cs.filter(cs.campaign_id == campaign_id)
    cs = cs.join(ds.campaigns.select("campaign_id", "channel", "has_control"), "campaign_id")
    out = cs.select(
        "campaign_id",
        "channel",
        "has_control",
        "account_id",
        "group",
        converted=cs.converted_at.notnull().cast("int64"),
        revenue=cs.revenue,
    ).to_pandas()
    if out.empty:
        what = f"campaign {campaign_id!r}" if campaign_id else "any campaign"
        raise ValueError(f"table 'campaign_sends' has no send for {what}")
    return out


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
    alpha: float = 0.05,
    power: float = 0.8,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict:
    """Treatment-vs-control result of one campaign's sends (rows of :func:`send_outcomes`).

    - conversion lift = p_t − p_c, p = converted / sends; CI by Newcombe's hybrid score
      method and a two-sided score test (statsmodels ``confint_proportions_2indep`` /
      ``test_proportions_2indep``; Newcombe 1998)
    - revenue lift per account = mean revenue (treatment) − mean revenue (control), percentile
      bootstrap CI (scipy.stats.bootstrap, Efron & Tibshirani 1993)
    - needed_per_group: treatment sends that a two-sided test at ``alpha`` with ``power``
      would need to detect the observed lift, control sized in the observed ratio
      (statsmodels ``NormalIndPower`` on Cohen's h = 2·asin√p_t − 2·asin√p_c)

    A campaign with no control sends is reported with ``has_control`` False and every lift
    field NaN, ``note`` saying so: it is never compared as if it had a control.
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize, test_proportions_2indep

    _require(outcomes, {"group", "converted", "revenue"}, "campaign_sends outcomes")
    t = outcomes[outcomes.group == "treatment"]
    c = outcomes[outcomes.group == "control"]
    n_t, n_c = len(t), len(c)
    k_t, k_c = int(t.converted.sum()), int(c.converted.sum())
    res = {
        "treated": n_t,
        "control": n_c,
        "conv_treated": k_t,
        "conv_control": k_c,
        "cr_treated": k_t / n_t if n_t else np.nan,
        "cr_control": k_c / n_c if n_c else np.nan,
        "rev_per_treated": float(t.revenue.mean()) if n_t else np.nan,
        "rev_per_control": float(c.revenue.mean()) if n_c else np.nan,
        "has_control": n_c > 0,
        "lift": np.nan,
        "lift_lo": np.nan,
        "lift_hi": np.nan,
        "p_value": np.nan,
        "rev_lift": np.nan,
        "rev_lift_lo": np.nan,
        "rev_lift_hi": np.nan,
        "needed_per_group": np.nan,
        "note": "",
    }
    if n_c == 0:
        res["note"] = "no control group: lift cannot be estimated"
        return res
    if n_t == 0:
        res["note"] = "no treatment sends: lift cannot be estimated"
        return res
    res["lift"] = res["cr_treated"] - res["cr_control"]
    lo, hi = _newcombe(k_t, n_t, k_c, n_c, alpha)
    res["lift_lo"], res["lift_hi"] = float(lo), float(hi)
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
    return res


def experiments(ds, alpha: float = 0.05, power: float = 0.8, seed: int = 0) -> pd.DataFrame:
    """:func:`experiment` for every campaign that has sends, with its channel and flag from
    ``campaigns`` (``planned_control``) beside what the sends show (``has_control``)."""
    out = send_outcomes(ds)
    rows = []
    for (cid, channel, planned), g in out.groupby(
        ["campaign_id", "channel", "has_control"], sort=True
    ):
        r = experiment(g, alpha=alpha, power=power, seed=seed)
        rows.append({"campaign_id": cid, "channel": channel, "planned_control": planned, **r})
    return pd.DataFrame(rows)


def uplift_by_segment(outcomes: pd.DataFrame, segments: pd.DataFrame, alpha: float = 0.05):
    """Conversion uplift p_t − p_c per segment, pooling every campaign with a control group.

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
    """The RFM segment (``helpers.segmentation.rfm``) of every account as of each campaign's
    start date, for the campaigns in ``outcomes`` that kept a control group: campaign_id,
    account_id, segment. An account sent to without an order in the ``lookback_days`` before
    the start gets :data:`NO_RECENT_ORDER` rather than being dropped (so does every send of a
    campaign that started before anyone ordered in the lookback). One RFM query per campaign
    (a handful), each an Ibis aggregation. Segments as of the start, not as of the end of the
    data: a segment computed later mixes in what the campaign itself caused (leakage)."""
    import ibis

    from helpers.segmentation import resolve_window, rfm

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
    if min_control < 1:
        raise ValueError("min_control must be >= 1")
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
    import ibis

    from helpers.segmentation import order_revenue

    if lookback_days is None or int(lookback_days) < 1:
        raise ValueError(f"parameter lookback_days must be a positive number, got {lookback_days}")
    if as_of not in ("start", "end"):
        raise ValueError(f"parameter as_of must be 'start' or 'end', got {as_of!r}")
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
    ov = order_revenue(ds).rename(order_account="account_id", order_revenue="revenue")
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


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m helpers.campaigns send --campaign ID --segment NAME``."""
    from helpers.outreach import cli

    return cli(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
