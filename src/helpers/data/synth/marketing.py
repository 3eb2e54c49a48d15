"""Paid media and signups; the campaigns and marketing_spend tables; the marketing truth.

Marketing response - per campaign-day ``E[clicks] = a_c * spend ** b_c`` with ``b_c < 1``
(diminishing returns); ``impressions ~ Poisson(E[clicks] / ctr_c)``, ``clicks ~
Binomial(impressions, ctr_c)``. Paid clicks become web journeys of that channel and weight the
signup date and acquisition channel of new accounts (with the unpaid journeys and a sales
outreach rate that has a launch wave).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from helpers.data.synth.campaigns import CONVERSION_WINDOW_DAYS, COST_PER_SEND
from helpers.data.synth.common import Calendar, _dates, _money, _norm
from helpers.data.synth.context import Context
from helpers.data.synth.writer import Writer

# Seasonality of budgets (mean 1 after normalisation). Months Jan..Dec, weekdays Mon..Sun.
MARKETING_MONTHLY = (0.75, 0.70, 1.10, 1.15, 1.05, 0.95, 0.90, 0.90, 1.10, 1.15, 1.20, 1.05)
MARKETING_WEEKLY = (1.10, 1.10, 1.10, 1.10, 1.05, 0.80, 0.75)

# Paid media: (campaign_id, channel, name, budget per day at scale 1, active months or None)
PAID_CAMPAIGNS = (
    ("SEM-BRAND", "sem", "Brand keywords", 120.0, None),
    ("SEM-GENERIC", "sem", "Generic industrial supplies", 320.0, None),
    ("SEM-COMPETITOR", "sem", "Competitor terms", 180.0, (3, 4, 5, 9, 10, 11)),
    ("FEED-SHOPPING", "feed_ads", "Shopping feed, full catalogue", 200.0, None),
    ("FEED-RETARGET", "feed_ads", "Retargeting feed", 90.0, None),
    ("FEED-Q4-PACKAGING", "feed_ads", "Q4 packaging push", 150.0, (9, 10, 11)),
)
RESPONSE = {  # E[clicks] = a0 * scale ** (1 - b) * spend ** b ; ctr = clicks / impressions
    "sem": {"a0": 1.50, "b": 0.65, "ctr": 0.035},
    "feed_ads": {"a0": 2.80, "b": 0.55, "ctr": 0.012},
}
SPEND_NOISE_SD = 0.35
SPEND_GROWTH = 0.30  # budgets grow linearly by this fraction over the window
CLICK_TO_VISIT = 0.90

# Signup weight per (channel, day): paid clicks or unpaid journeys times these rates
SIGNUPS_PER_JOURNEY = {
    "sem": 0.0045,
    "feed_ads": 0.0030,
    "organic": 0.0035,
    "direct": 0.0040,
    "referral": 0.0060,
}
SALES_OUTREACH_SIGNUPS_PER_DAY = 0.35
LAUNCH_WAVE_DAYS, LAUNCH_WAVE_PER_DAY = 60, 6.0  # sales team onboards the offline customer base


@dataclass
class PaidMedia:
    campaign: np.ndarray  # index into PAID_CAMPAIGNS, per row
    day: np.ndarray
    spend: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray
    clicks_by_channel_day: dict[str, np.ndarray]
    a: dict[str, float]


def _active_days(cal: Calendar, months: tuple[int, ...] | None) -> np.ndarray:
    if months is None:
        return np.ones(cal.n_days, dtype=bool)
    return np.isin(cal.month + 1, months)


def simulate_paid_media(rng: np.random.Generator, cal: Calendar, scale: float) -> PaidMedia:
    """Daily spend, impressions and clicks per SEM / feed-ads campaign.

    ``spend = budget * scale * (1 + growth * t/T) * month * weekday * LogNormal(0, 0.35)``;
    ``E[clicks] = a * spend ** b`` with ``a = a0 * scale ** (1 - b)`` (so clicks scale linearly
    with ``scale`` at a fixed spend share); ``impressions ~ Poisson(E[clicks] / ctr)``,
    ``clicks ~ Binomial(impressions, ctr)``.
    """
    t = np.arange(cal.n_days)
    month_m = _norm(MARKETING_MONTHLY)[cal.month]
    week_m = _norm(MARKETING_WEEKLY)[cal.weekday]
    growth = 1 + SPEND_GROWTH * t / cal.n_days
    rows = {k: [] for k in ("campaign", "day", "spend", "impressions", "clicks")}
    by_channel = {ch: np.zeros(cal.n_days, dtype=np.int64) for ch in RESPONSE}
    a = {ch: RESPONSE[ch]["a0"] * scale ** (1 - RESPONSE[ch]["b"]) for ch in RESPONSE}
    for ci, (_cid, ch, _name, budget, months) in enumerate(PAID_CAMPAIGNS):
        days = np.flatnonzero(_active_days(cal, months))
        noise = np.exp(SPEND_NOISE_SD * rng.standard_normal(len(days)))
        spend = _money(budget * scale * growth[days] * month_m[days] * week_m[days] * noise)
        spend = np.maximum(spend, 0.01)
        mean_clicks = a[ch] * spend ** RESPONSE[ch]["b"]
        impressions = rng.poisson(mean_clicks / RESPONSE[ch]["ctr"])
        clicks = rng.binomial(impressions, RESPONSE[ch]["ctr"])
        np.add.at(by_channel[ch], days, clicks)
        rows["campaign"].append(np.full(len(days), ci))
        rows["day"].append(days)
        rows["spend"].append(spend)
        rows["impressions"].append(impressions)
        rows["clicks"].append(clicks)
    cols = {k: np.concatenate(v) for k, v in rows.items()}
    return PaidMedia(**cols, clicks_by_channel_day=by_channel, a=a)


def signup_weights(cal: Calendar, media: PaidMedia, unpaid: dict[str, np.ndarray]) -> dict:
    """Expected signups per (acquisition channel, day): paid clicks x visit rate x signup rate,
    unpaid journeys x signup rate, and a sales-outreach rate with a launch wave."""
    w = {}
    for ch in RESPONSE:
        w[ch] = media.clicks_by_channel_day[ch] * CLICK_TO_VISIT * SIGNUPS_PER_JOURNEY[ch]
    for ch, lam in unpaid.items():
        w[ch] = lam * SIGNUPS_PER_JOURNEY[ch]
    so = np.full(cal.n_days, SALES_OUTREACH_SIGNUPS_PER_DAY)
    so[:LAUNCH_WAVE_DAYS] += LAUNCH_WAVE_PER_DAY
    w["sales_outreach"] = so
    return w


def write_campaigns(w: Writer, ctx: Context, media: PaidMedia) -> None:
    """One row per paid campaign (its first to last active day) and per CRM campaign (send day
    to the end of its conversion window)."""
    cal, crm = ctx.cal, ctx.crm
    paid_ids = [c[0] for c in PAID_CAMPAIGNS]
    paid_first, paid_last = [], []
    for ci in range(len(PAID_CAMPAIGNS)):
        d = media.day[media.campaign == ci]
        paid_first.append(d.min())
        paid_last.append(d.max())
    crm_end = np.minimum(crm.send_day + CONVERSION_WINDOW_DAYS, cal.n_days - 1)
    w.write(
        "campaigns",
        {
            "campaign_id": pa.array(paid_ids + crm.campaign_id, type=pa.string()),
            "channel": pa.array(
                [c[1] for c in PAID_CAMPAIGNS] + [("email", "sms")[c] for c in crm.channel],
                type=pa.string(),
            ),
            "name": pa.array([c[2] for c in PAID_CAMPAIGNS] + crm.name, type=pa.string()),
            "start_date": _dates(cal.start_day + np.r_[paid_first, crm.send_day]),
            "end_date": _dates(cal.start_day + np.r_[paid_last, crm_end]),
            "has_control": np.r_[np.zeros(len(PAID_CAMPAIGNS), bool), crm.has_control],
        },
    )


def write_marketing_spend(w: Writer, ctx: Context, media: PaidMedia) -> None:
    """Per day and campaign: paid spend, impressions and clicks; CRM sends x cost per send, with
    opens (email) or sends (SMS) as impressions and the clicks."""
    cal, crm = ctx.cal, ctx.crm
    paid_ids = [c[0] for c in PAID_CAMPAIGNS]
    cc, dd = np.nonzero(ctx.crm_sends)
    crm_ch = np.array(["email", "sms"])[crm.channel[cc]]
    cost = np.array([COST_PER_SEND[c] for c in crm_ch])
    impressions = np.where(crm.channel[cc] == 0, ctx.crm_opens[cc, dd], ctx.crm_sends[cc, dd])
    day = np.r_[media.day, dd]
    channel = [PAID_CAMPAIGNS[c][1] for c in media.campaign] + list(crm_ch)
    cid = [paid_ids[c] for c in media.campaign] + [crm.campaign_id[c] for c in cc]
    srt = np.lexsort((np.array(cid), np.array(channel), day))
    w.write(
        "marketing_spend",
        {
            "date": _dates(cal.start_day + day[srt]),
            "channel": pa.array(np.array(channel)[srt].tolist(), type=pa.string()),
            "campaign_id": pa.array(np.array(cid)[srt].tolist(), type=pa.string()),
            "spend": _money(np.r_[media.spend, ctx.crm_sends[cc, dd] * cost])[srt],
            "impressions": np.r_[media.impressions, impressions].astype(np.int64)[srt],
            "clicks": np.r_[media.clicks, ctx.crm_clicks[cc, dd]].astype(np.int64)[srt],
        },
    )


def marketing_truth(media: PaidMedia, weights: dict, scale: float) -> dict:
    """Response curves, paid campaigns, signup shares per channel and paid clicks."""
    signups = {}
    for ch, w in weights.items():
        share = w.sum() / sum(v.sum() for v in weights.values())
        signups[ch] = share
    paid_clicks = {ch: int(v.sum()) for ch, v in media.clicks_by_channel_day.items()}
    return {
        "response": {
            ch: {
                "a": media.a[ch],
                "b": RESPONSE[ch]["b"],
                "ctr": RESPONSE[ch]["ctr"],
                "formula": "E[clicks] = a * spend ** b per campaign-day",
            }
            for ch in RESPONSE
        },
        "paid_campaigns": [
            {
                "campaign_id": c[0],
                "channel": c[1],
                "budget_per_day": c[3] * scale,
                "active_months": c[4],
            }
            for c in PAID_CAMPAIGNS
        ],
        "spend_noise_sd": SPEND_NOISE_SD,
        "click_to_visit": CLICK_TO_VISIT,
        "signup_channel_share": signups,
        "signups_per_journey": SIGNUPS_PER_JOURNEY,
        "paid_clicks": paid_clicks,
        "launch_wave": {
            "days": LAUNCH_WAVE_DAYS,
            "sales_outreach_per_day": LAUNCH_WAVE_PER_DAY,
        },
    }
