"""RFM as of a date: the per-account recency, frequency and monetary value behind the
segmentation report's segments, the campaigns report's segment at each campaign's start and the
sender's audiences (Hughes 1994, *Strategic Database Marketing*).

The aggregation is one Ibis expression (:func:`rfm_expr`, DuckDB or Spark) over the one order
value (:func:`helpers.data.measures.order_values`); only the one-row-per-account result reaches
pandas, where the quantile scores and the named segments (the usual 11-segment grid on R and
the mean of F and M, :data:`SEGMENT_RULES`) are assigned. It lives in the data layer because
several topics (segmentation, campaigns) and the sender (:mod:`helpers.outreach`) need the same
segment of the same account on the same day.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from helpers import validate
from helpers.data import measures

__all__ = [
    "ACTIONS",
    "CONTACT_LIST_COLUMNS",
    "LOST_ONCE_ONLY_ACTION",
    "LOST_OCCASIONAL_ACTION",
    "SEGMENTS",
    "SEGMENT_RULES",
    "account_owners",
    "consented_contacts",
    "contacts_per_account",
    "lost_split",
    "quantile_scores",
    "resolve_window",
    "rfm",
    "rfm_expr",
    "score_rfm",
    "suggested_actions",
    "to_five",
]

#: The named-segment grid: (segment, R scores, FM scores, description, suggested action),
#: on the 1-5 scale, FM = the mean of F and M rounded half up. First match wins; the grid covers
#: every (R, FM) pair exactly once (a test checks).
SEGMENT_RULES: tuple[tuple[str, tuple[int, ...], tuple[int, ...], str, str], ...] = (
    (
        "Champions",
        (5,),
        (4, 5),
        "bought very recently, often and for a lot",
        "Reward them: early access to new lines, volume pricing, ask for referrals.",
    ),
    (
        "Loyal",
        (3, 4),
        (4, 5),
        "buy often and for a lot, a little less recently",
        "Upsell higher tiers and adjacent categories; offer a framework contract.",
    ),
    (
        "Potential loyalists",
        (4, 5),
        (2, 3),
        "recent buyers with average frequency and spend",
        "Offer a loyalty programme or account manager; recommend related products.",
    ),
    (
        "New",
        (5,),
        (1,),
        "bought very recently, but little so far",
        "Onboard them: welcome call, catalogue walkthrough, first-reorder reminder.",
    ),
    (
        "Promising",
        (4,),
        (1,),
        "recent buyers who have spent little",
        "Build the relationship: targeted offers in the categories they bought.",
    ),
    (
        "Need attention",
        (3,),
        (3,),
        "average recency, frequency and spend",
        "Send a limited-time offer based on their purchase history.",
    ),
    (
        "About to sleep",
        (3,),
        (1, 2),
        "below-average recency, frequency and spend",
        "Reactivate with a relevant recommendation before they go quiet.",
    ),
    (
        "At risk",
        (1, 2),
        (3, 4),
        "bought often and for a fair amount, but not for a long time",
        "Contact personally: ask what changed, offer a renewal incentive.",
    ),
    (
        "Cannot lose them",
        (1, 2),
        (5,),
        "were among the biggest, most frequent buyers, but have not bought for a long time",
        "Escalate to the account manager: call, review service issues, win them back.",
    ),
    (
        "Hibernating",
        (1, 2),
        (1, 2),
        "last bought long ago, rarely and for little",
        "Include in low-cost reactivation campaigns; do not over-invest.",
    ),
    (
        "Lost",
        (1,),
        (1,),
        "lowest recency, frequency and spend",
        "Once-only buyers: leave out of paid outreach (newsletters only). Occasional buyers "
        "(two orders or more in the window): test a win-back offer on half of them, the other "
        "half held back as control, before excluding them.",
    ),
)
SEGMENTS: tuple[str, ...] = tuple(r[0] for r in SEGMENT_RULES)
ACTIONS: dict[str, str] = {r[0]: r[4] for r in SEGMENT_RULES}
#: The Lost segment's two actions, per account (:func:`suggested_actions`): an uplift test can
#: find Lost accounts persuadable, so those who bought more than once are tested before they
#: are excluded; the once-only buyers are left out of paid outreach.
#: The contact columns :func:`contacts_per_account` adds to an account list.
CONTACT_LIST_COLUMNS = ("contacts_with_consent", "name", "email", "phone")
LOST_ONCE_ONLY_ACTION = "Once-only buyer: leave out of paid outreach; newsletters only."
LOST_OCCASIONAL_ACTION = (
    "Occasional buyer: test a win-back offer on half of these accounts (the other half held "
    "back as control) before excluding them."
)


def _segment_of(r: int, fm: int) -> str:
    # "Lost" is the one exception carved out of "Hibernating": test it first.
    if r == 1 and fm == 1:
        return "Lost"
    for name, rs, fms, _, _ in SEGMENT_RULES:
        if r in rs and fm in fms:
            return name
    raise ValueError(f"no segment for R={r}, FM={fm} (scores must be 1 to 5)")


def resolve_window(ds, analysis_date=None, lookback_days: int = 365) -> tuple:
    """(window start, analysis date) as timestamps. ``analysis_date`` is exclusive: orders
    placed before it count; ``None`` means the day after the last kept order."""
    lookback_days = validate.positive_int("lookback_days", lookback_days)
    if analysis_date in (None, ""):
        _, last = ds.period("orders")
        end = pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    else:
        end = pd.Timestamp(analysis_date).normalize()
    return end - pd.Timedelta(days=int(lookback_days)), end


def rfm_expr(ds, start: pd.Timestamp, end: pd.Timestamp):
    """Ibis: per account with at least one order in ``[start, end)``:

    - recency_days = ⌊(end − last order time) / 1 day⌋ (0 = bought on the last day)
    - frequency = number of distinct orders in the window
    - monetary = Σ order revenue in the window
    - tenure_days = ⌊(end − first order time) / 1 day⌋ over the whole history
    """
    ov = measures.order_values(ds)
    first = ov.group_by("account_id").aggregate(first_ts=ov.order_ts.min())
    w = ov.filter((ov.order_ts >= ibis.timestamp(start)) & (ov.order_ts < ibis.timestamp(end)))
    agg = w.group_by("account_id").aggregate(
        last_ts=w.order_ts.max(), frequency=w.order_id.nunique(), monetary=w.revenue.sum()
    )
    agg = agg.join(first, "account_id")
    end_s = int(pd.Timestamp(end).timestamp())
    day = 86400
    return agg.select(
        "account_id",
        recency_days=((end_s - agg.last_ts.epoch_seconds()) / day).floor().cast("int64"),
        frequency=agg.frequency.cast("int64"),
        monetary=agg.monetary.cast("float64"),
        tenure_days=((end_s - agg.first_ts.epoch_seconds()) / day).floor().cast("int64"),
    )


def quantile_scores(values: pd.Series, n_bins: int = 5, higher_is_better: bool = True):
    """Quantile score 1..n_bins: score = 1 + ⌊n_bins · (rank_min − 1) / n⌋, where rank_min is the
    1-based rank with ties given their lowest rank (pandas ``rank(method="min")``), ascending in
    goodness. Equal values always get the same score, whatever the row order (deterministic
    ties); a tie block can therefore skip scores (if most accounts bought once, they all get
    F = 1 and the next score is higher). Hand-written because ``pandas.qcut`` fails on
    repeated bin edges when many values tie.
    """
    validate.at_least("n_bins", n_bins, 2)
    if values.isna().any():
        raise ValueError(f"column '{values.name}' has missing values: cannot score it")
    n = len(values)
    if n == 0:
        return values.astype("int64")
    goodness = values if higher_is_better else -values
    rank = goodness.rank(method="min")
    return (1 + np.floor(n_bins * (rank - 1) / n)).astype("int64")


def to_five(score: pd.Series, n_bins: int) -> pd.Series:
    """A 1..n_bins score on the 1..5 scale of the segment grid: ⌈score · 5 / n_bins⌉."""
    return np.ceil(score * 5 / n_bins).astype("int64").clip(1, 5)


def rfm(ds, analysis_date=None, lookback_days: int = 365, n_bins: int = 5) -> pd.DataFrame:
    """Per-account RFM table with scores and named segment, sorted by account_id.

    Columns: account_id, recency_days, frequency, monetary, tenure_days, R, F, M (1..n_bins,
    :func:`quantile_scores`; R is higher for more recent), FM = ⌊(F₅ + M₅)/2 + ½⌋ on the 1-5
    scale, segment (:data:`SEGMENT_RULES` on R₅ and FM). Raises ValueError when no order falls in
    the window.
    """
    start, end = resolve_window(ds, analysis_date, lookback_days)
    df = rfm_expr(ds, start, end).to_pandas()
    if df.empty:
        raise ValueError(
            f"table 'orders' has no order between {start:%Y-%m-%d} and {end:%Y-%m-%d} "
            f"(analysis_date {end:%Y-%m-%d}, lookback_days {lookback_days}): "
            "move analysis_date or widen lookback_days"
        )
    return score_rfm(df, n_bins)


def score_rfm(df: pd.DataFrame, n_bins: int = 5) -> pd.DataFrame:
    """Add R, F, M, FM and segment to a table of recency_days, frequency and monetary."""
    missing = {"account_id", "recency_days", "frequency", "monetary"} - set(df.columns)
    if missing:
        raise ValueError(f"RFM table is missing column(s) {sorted(missing)}")
    df = df.sort_values("account_id").reset_index(drop=True)
    df["R"] = quantile_scores(df.recency_days, n_bins, higher_is_better=False)
    df["F"] = quantile_scores(df.frequency, n_bins)
    df["M"] = quantile_scores(df.monetary, n_bins)
    r5, f5, m5 = (to_five(df[c], n_bins) for c in ("R", "F", "M"))
    df["FM"] = np.floor((f5 + m5) / 2 + 0.5).astype("int64")
    df["segment"] = [_segment_of(r, fm) for r, fm in zip(r5, df.FM, strict=True)]
    return df


# ----------------------------------------------------------------------------- action lists


def suggested_actions(scored: pd.DataFrame) -> pd.Series:
    """Per account of ``scored`` (:func:`rfm`): its segment's action (:data:`ACTIONS`), except
    in Lost, where an account with frequency ≥ 2 in the window (an occasional buyer) gets
    :data:`LOST_OCCASIONAL_ACTION` and a once-only buyer :data:`LOST_ONCE_ONLY_ACTION`."""
    missing = {"segment", "frequency"} - set(scored.columns)
    if missing:
        raise ValueError(f"scored RFM table is missing column(s) {sorted(missing)}")
    action = scored.segment.map(ACTIONS)
    lost = scored.segment == "Lost"
    action[lost & (scored.frequency >= 2)] = LOST_OCCASIONAL_ACTION
    action[lost & (scored.frequency < 2)] = LOST_ONCE_ONLY_ACTION
    return action.rename("suggested_action")


def lost_split(scored: pd.DataFrame) -> dict[str, int]:
    """Accounts in Lost (``lost``), of them once-only buyers (frequency 1 in the window,
    ``once_only``) and occasional buyers (frequency ≥ 2, ``occasional``)."""
    lost = scored[scored.segment == "Lost"]
    occasional = int((lost.frequency >= 2).sum())
    return {"lost": len(lost), "once_only": len(lost) - occasional, "occasional": occasional}


def account_owners(ds) -> pd.DataFrame:
    """account_id, lead_owner: the owner of the account's latest lead (latest ``created_at``;
    ties: the higher lead_id), the person in sales who knows the account. Empty (the same
    columns) when ``ds`` has no ``leads`` table. One Ibis expression; one row per account."""
    if "leads" not in ds:
        return pd.DataFrame({"account_id": pd.Series(dtype="int64"), "lead_owner": []})
    ld = ds.leads.filter(ds.leads.account_id.notnull())
    ranked = ld.mutate(
        rn=ibis.row_number().over(
            group_by=ld.account_id, order_by=[ibis.desc(ld.created_at), ibis.desc(ld.lead_id)]
        )
    )
    latest = ranked.filter(ranked.rn == 0).select("account_id", lead_owner=ranked.owner)
    return latest.to_pandas().sort_values("account_id").reset_index(drop=True)


def consented_contacts(ds) -> pd.DataFrame:
    """contact_id, account_id, name, email, phone, consent_email, consent_sms of the contacts
    who consented to e-mail or SMS, the e-mail only with e-mail consent and the phone only with
    SMS consent (personal data: for export files only). Empty when ``ds`` has no contacts."""
    cols = ["contact_id", "account_id", "name", "email", "phone", "consent_email", "consent_sms"]
    if "contacts" not in ds:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    c = ds.contacts
    out = c.filter(c.consent_email | c.consent_sms).select(*cols).to_pandas()
    out["email"] = out.email.where(out.consent_email)
    out["phone"] = out.phone.where(out.consent_sms)
    return out.sort_values(["account_id", "contact_id"]).reset_index(drop=True)


def contacts_per_account(ds) -> pd.DataFrame:
    """One row per account with a consenting contact (:func:`consented_contacts`): account_id,
    contacts_with_consent and their name, email, phone, each joined by "; " in contact_id order
    (an e-mail only with e-mail consent, a phone only with SMS consent, else an empty place),
    so an action list keeps one row per account and every contact (personal data: files only).
    Empty when ``ds`` has no contacts."""
    c = consented_contacts(ds)
    if c.empty:
        empty = {"account_id": pd.Series(dtype="int64"), "contacts_with_consent": []}
        return pd.DataFrame(
            empty | {k: pd.Series(dtype=object) for k in ("name", "email", "phone")}
        )
    text = c[["name", "email", "phone"]].astype(object).where(c[["name", "email", "phone"]].notna())
    c = c[["account_id"]].join(text.fillna(""))
    g = c.groupby("account_id")
    out = g[["name", "email", "phone"]].agg("; ".join)
    out.insert(0, "contacts_with_consent", g.size())
    for col in ("email", "phone"):  # no consented address at all: empty, not "; "
        out[col] = out[col].where(out[col].str.strip("; ") != "")
    return out.reset_index()
