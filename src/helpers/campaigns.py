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


def weekly_channel(ds) -> pd.DataFrame:
    """Per ISO week (Monday) and channel: spend, impressions, clicks, CTR = clicks/impressions
    (NaN when no impressions) and CPC = spend / clicks (NaN when no clicks)."""
    ms = ds.marketing_spend
    wk = ms.group_by(week=ms.date.truncate("W"), channel=ms.channel).aggregate(
        spend=ms.spend.sum(), impressions=ms.impressions.sum(), clicks=ms.clicks.sum()
    )
    out = wk.to_pandas()
    out["week"] = pd.to_datetime(out["week"])
    out["ctr"], _ = _ratio(out.clicks, out.impressions, "no impressions")
    out["cpc"], _ = _ratio(out.spend, out.clicks, "no clicks")
    return out.sort_values(["week", "channel"]).reset_index(drop=True)


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

    ``segments``: account_id, segment. Sends of campaigns without control are dropped.
    CI: Newcombe hybrid score (statsmodels ``confint_proportions_2indep``). A segment with no
    control (or no treatment) send gets NaN and a note.
    """
    _require(outcomes, {"account_id", "group", "converted", "has_control"}, "outcomes")
    _require(segments, {"account_id", "segment"}, "segments")
    o = outcomes[outcomes.has_control.astype(bool)].merge(segments, on="account_id")
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


def qini_curve(score, treated, converted) -> pd.DataFrame:
    """Qini curve of an uplift score (Radcliffe 2007, "Using control groups to target on
    predicted lift"): accounts sorted by score, highest first; after the top k,

    qini(k) = conversions among treated in top k − conversions among control in top k ·
    (treated in top k / control in top k)   (0 while the top k holds no control)

    with ``random`` the straight line from 0 to qini(n). Returns share (k / n), qini, random.
    Hand-written (a few lines of numpy) rather than adding scikit-uplift, whose releases lag
    current scikit-learn.
    """
    score = np.asarray(score, dtype=float)
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(converted, dtype=float)
    if not (len(score) == len(t) == len(y)) or len(score) == 0:
        raise ValueError("qini_curve: score, treated and converted must be non-empty, same length")
    order = np.argsort(-score, kind="stable")
    t, y = t[order], y[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_c > 0, y_t - y_c * n_t / np.where(n_c > 0, n_c, 1), 0.0)
    k = np.arange(1, len(q) + 1)
    share = k / len(q)
    return pd.DataFrame(
        {
            "share": np.r_[0.0, share],
            "qini": np.r_[0.0, q],
            "random": np.r_[0.0, share * q[-1]],
        }
    )


def qini_coefficient(curve: pd.DataFrame) -> float:
    """Area between the Qini curve and the random line (trapezoid rule), in conversions × share;
    above 0 when the score ranks persuadable accounts first."""
    gap = (curve.qini - curve.random).to_numpy()
    x = curve.share.to_numpy()
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(x)))


def two_model_uplift(
    features: pd.DataFrame, treated, converted, n_splits: int = 5, seed: int = 0
) -> np.ndarray:
    """Out-of-fold uplift score per row by the two-model approach (Hansotia & Rukstales 2002):
    one scikit-learn classifier on treated rows, one on control rows; score = P̂(convert |
    treated, x) − P̂(convert | control, x). Cross-fitted over ``n_splits`` folds so that each
    score comes from models that did not see the row. Classifier: standardised logistic
    regression (scikit-learn). Features are numeric columns."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype=float)
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(converted, dtype=int)
    if len(x) != len(t) or len(x) != len(y):
        raise ValueError("two_model_uplift: features, treated and converted differ in length")
    strata = t.astype(int) * 2 + y
    if np.bincount(strata, minlength=4).min() < n_splits:
        raise ValueError(
            "two_model_uplift needs at least n_splits converted and unconverted accounts in "
            "both treatment and control"
        )
    score = np.empty(len(x))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for fit_idx, pred_idx in folds.split(x, strata):
        probs = []
        for arm in (True, False):
            rows = fit_idx[t[fit_idx] == arm]
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
            model.fit(x[rows], y[rows])
            probs.append(model.predict_proba(x[pred_idx])[:, 1])
        score[pred_idx] = probs[0] - probs[1]
    return score


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m helpers.campaigns send --campaign ID --segment NAME``."""
    from helpers.outreach import cli

    return cli(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
