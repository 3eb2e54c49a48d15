"""Web traffic: journeys down the funnel for anonymous visitors (paid clicks and unpaid
traffic) and for identified contacts; the web_events table and the funnel truth.

A journey steps visit -> product_view -> add_to_cart -> quote_request -> checkout -> purchase;
each step happens with a probability that depends on the channel of the journey's first visit
(first touch), given the previous step. A step may happen in a later session (a new ``visit``
first, exponential gap in days), so funnel windows of days matter.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from helpers.data import schema
from helpers.data.synth.common import (
    US_DAY,
    US_MIN,
    US_SEC,
    US_WEEK,
    WEB_HOURS,
    Calendar,
    _choice,
    _cumsum_within,
    _labels,
    _lognormal_median,
    _norm,
    _time_of_day,
    _ts,
)
from helpers.data.synth.context import Context
from helpers.data.synth.marketing import CLICK_TO_VISIT
from helpers.data.synth.writer import Writer

# Seasonality (mean 1 after normalisation). Months Jan..Dec, weekdays Mon..Sun.
WEB_MONTHLY = (0.80, 0.70, 1.05, 1.12, 1.08, 1.00, 0.92, 0.90, 1.08, 1.10, 1.15, 1.00)
WEB_WEEKLY = (1.18, 1.20, 1.18, 1.15, 1.05, 0.62, 0.52)
# Anonymous journeys per day at scale 1 for the unpaid channels (before seasonality)
ORGANIC_JOURNEYS = {"organic": 120.0, "direct": 50.0, "referral": 40.0}
WEB_GROWTH = 0.25

FUNNEL_STEPS = schema.WEB_EVENTS  # visit, product_view, add_to_cart, quote_request, ...
FUNNEL_PROBS = {  # P(step | previous step) for product_view .. purchase, by first-touch channel
    "sem": (0.62, 0.20, 0.35, 0.50, 0.72),
    "feed_ads": (0.75, 0.24, 0.30, 0.52, 0.70),
    "email": (0.68, 0.30, 0.40, 0.58, 0.78),
    "sms": (0.55, 0.26, 0.38, 0.55, 0.75),
    "organic": (0.58, 0.18, 0.33, 0.48, 0.70),
    "referral": (0.66, 0.26, 0.42, 0.55, 0.74),
    "direct": (0.70, 0.32, 0.45, 0.62, 0.80),
    "sales_outreach": (0.72, 0.35, 0.55, 0.65, 0.82),
}
NEW_SESSION_PROB = (0.0, 0.10, 0.35, 0.50, 0.30)  # the step happens in a later session
RETURN_GAP_DAYS_MEAN = 1.5
RETURN_CHANNEL_SAME_PROB = 0.5  # else the returning session comes in as "direct"
EXTRA_PRODUCT_VIEWS_MEAN = 1.3
IN_SESSION_GAP_SECONDS = {"median": 60.0, "sigma": 1.0}
KNOWN_JOURNEYS_PER_WEEK = {"base": 0.15, "per_lambda": 1.5, "after_dropout": 0.03}
KNOWN_JOURNEY_CHANNELS = {"direct": 0.45, "organic": 0.25, "referral": 0.05, "sales_outreach": 0.25}


def unpaid_journeys_per_day(cal: Calendar, scale: float) -> dict[str, np.ndarray]:
    """Expected anonymous journeys per day for organic / direct / referral:
    ``base * scale * (1 + growth t/T) * web_monthly[month] * web_weekly[weekday]``."""
    t = np.arange(cal.n_days)
    season = _norm(WEB_MONTHLY)[cal.month] * _norm(WEB_WEEKLY)[cal.weekday]
    growth = 1 + WEB_GROWTH * t / cal.n_days
    return {ch: base * scale * growth * season for ch, base in ORGANIC_JOURNEYS.items()}


def journey_events(
    rng: np.random.Generator,
    ctx: Context,
    start_us: np.ndarray,
    channel: np.ndarray,
    visitor: np.ndarray,
    account: np.ndarray,
) -> dict[str, np.ndarray]:
    """Events of web journeys (see FUNNEL_PROBS; one journey = one pass down the funnel).

    Step k (product_view .. purchase) happens with ``FUNNEL_PROBS[first-touch channel][k]``
    given step k-1. A product-view step is ``1 + Poisson(1.3)`` product_view events. Each later
    step happens in a new session with ``NEW_SESSION_PROB[k]`` after an Exponential(1.5 days)
    gap (the new session opens with a ``visit`` and comes in through the same channel with
    probability 0.5, else ``direct``); in-session gaps are LogNormal(median 60 s, sigma 1).
    ``account`` is -1 for anonymous visitors. Events after end_date are dropped.
    """
    n = len(start_us)
    ch_names = list(schema.CHANNELS)
    probs = np.array([FUNNEL_PROBS[c] for c in ch_names])[channel]
    reached = np.cumprod(rng.random((n, 5)) < probs, axis=1).astype(bool)
    new_sess = reached & (rng.random((n, 5)) < np.array(NEW_SESSION_PROB)[None, :])
    sess_local = np.cumsum(new_sess, axis=1)
    n_sess = 1 + new_sess.sum(axis=1)
    sess0 = ctx.ids.take("session", int(n_sess.sum()))[np.cumsum(n_sess) - n_sess]
    ret_ch = np.where(rng.random(n) < RETURN_CHANNEL_SAME_PROB, channel, ch_names.index("direct"))
    gap_med, gap_sig = IN_SESSION_GAP_SECONDS["median"], IN_SESSION_GAP_SECONDS["sigma"]

    def gaps(size: int) -> np.ndarray:
        return (_lognormal_median(rng, gap_med, gap_sig, size) * US_SEC).astype(np.int64)

    ev_j, ev_t, ev_e, ev_s = [np.arange(n)], [start_us], [np.zeros(n, np.int64)], [np.zeros(n)]
    m = np.where(reached[:, 0], 1 + rng.poisson(EXTRA_PRODUCT_VIEWS_MEAN, n), 0)
    pj = np.repeat(np.arange(n), m)
    pt = start_us[pj] + _cumsum_within(gaps(len(pj)), pj)
    ev_j.append(pj)
    ev_t.append(pt)
    ev_e.append(np.ones(len(pj), np.int64))
    ev_s.append(np.zeros(len(pj)))
    last = start_us.copy()
    if len(pj):
        last_idx = np.flatnonzero(np.r_[pj[1:] != pj[:-1], True])
        last[pj[last_idx]] = pt[last_idx]
    for k in range(1, 5):
        j = np.flatnonzero(reached[:, k])
        ns = new_sess[j, k]
        away = (rng.exponential(RETURN_GAP_DAYS_MEAN, len(j)) * US_DAY).astype(np.int64)
        t = last[j] + np.where(ns, away + 30 * US_MIN, gaps(len(j)))
        ev_j.append(j[ns])
        ev_t.append(t[ns])
        ev_e.append(np.zeros(int(ns.sum()), np.int64))
        ev_s.append(sess_local[j[ns], k])
        t = t + np.where(ns, gaps(len(j)), 0)
        ev_j.append(j)
        ev_t.append(t)
        ev_e.append(np.full(len(j), k + 1, np.int64))
        ev_s.append(sess_local[j, k])
        last[j] = t
    jj = np.concatenate(ev_j)
    tt = np.concatenate(ev_t)
    ee = np.concatenate(ev_e)
    ss = np.concatenate(ev_s).astype(np.int64)
    keep = tt < ctx.cal.end_us
    jj, tt, ee, ss = jj[keep], tt[keep], ee[keep], ss[keep]
    srt = np.lexsort((ee, tt))
    jj, tt, ee, ss = jj[srt], tt[srt], ee[srt], ss[srt]
    return {
        "visitor": visitor[jj],
        "account": account[jj],
        "session": sess0[jj] + ss,
        "ts": tt,
        "event": ee,
        "channel": np.where(ss == 0, channel[jj], ret_ch[jj]),
    }


def write_web_events(w: Writer, ev: dict, ctx: Context) -> None:
    n = len(ev["ts"])
    w.write(
        "web_events",
        {
            "event_id": ctx.ids.take("event", n),
            "visitor_id": ev["visitor"],
            "account_id": pa.array(ev["account"], type=pa.int64(), mask=ev["account"] < 0),
            "session_id": ev["session"],
            "ts": _ts(ev["ts"]),
            "event": _labels(schema.WEB_EVENTS, ev["event"]),
            "channel": _labels(schema.CHANNELS, ev["channel"]),
        },
    )


def known_account_journeys(
    rng: np.random.Generator, ctx: Context, lo: int, hi: int, contacts: dict, sends: dict
) -> dict[str, np.ndarray]:
    """Journeys of identified visitors (contacts): one per campaign click (channel email/sms),
    plus Poisson(0.15 + 1.5 lambda_i per week) while the account is active and 0.03 per week
    after it dropped out, through KNOWN_JOURNEY_CHANNELS, thinned by the weekday pattern."""
    acc, cal = ctx.accounts, ctx.cal
    idx = np.arange(lo, hi)
    signup_us = cal.start_us + acc.signup_day[idx] * US_DAY
    alive_end = np.where(acc.alive[idx], cal.end_us, acc.dropout_us[idx])
    wk_alive = (alive_end - signup_us) / US_WEEK
    wk_dead = (cal.end_us - alive_end) / US_WEEK
    weekly = _norm(WEB_WEEKLY)
    boost = weekly.max()
    rate = KNOWN_JOURNEYS_PER_WEEK["base"] + KNOWN_JOURNEYS_PER_WEEK["per_lambda"] * acc.lam[idx]
    k1 = rng.poisson(rate * wk_alive * boost)
    k2 = rng.poisson(KNOWN_JOURNEYS_PER_WEEK["after_dropout"] * wk_dead * boost)
    o1, o2 = np.repeat(np.arange(len(idx)), k1), np.repeat(np.arange(len(idx)), k2)
    t1 = signup_us[o1] + (rng.random(len(o1)) * (alive_end - signup_us)[o1]).astype(np.int64)
    t2 = alive_end[o2] + (rng.random(len(o2)) * (cal.end_us - alive_end)[o2]).astype(np.int64)
    owner = idx[np.concatenate([o1, o2])]
    t = np.concatenate([t1, t2]) // US_DAY * US_DAY
    wd = (t // US_DAY + 3) % 7
    keep = rng.random(len(t)) < weekly[wd] / boost
    owner, t = owner[keep], t[keep] + _time_of_day(rng, int(keep.sum()), WEB_HOURS)
    probs = np.array(list(KNOWN_JOURNEY_CHANNELS.values()))
    names = list(KNOWN_JOURNEY_CHANNELS)
    ch = np.array([schema.CHANNELS.index(c) for c in names])[_choice(rng, len(owner), probs)]
    clicked = sends["clicked"] >= 0
    s_owner = sends["owner"][clicked]
    s_t = sends["clicked"][clicked] + rng.integers(5, 60, int(clicked.sum())) * US_SEC
    crm_ch = np.array([schema.CHANNELS.index("email"), schema.CHANNELS.index("sms")])
    s_ch = crm_ch[ctx.crm.channel[sends["camp"][clicked]]]
    owner = np.concatenate([owner, s_owner])
    start = np.concatenate([t, s_t])
    ch = np.concatenate([ch, s_ch])
    visitor = acc.account_id[owner] * 10 + rng.integers(0, acc.n_contacts[owner])
    return journey_events(rng, ctx, start, ch, visitor, acc.account_id[owner])


def anonymous_journeys(
    rng: np.random.Generator, ctx: Context, days: np.ndarray, paid: dict, unpaid: dict
) -> dict[str, np.ndarray]:
    """Anonymous journeys of ``days``: paid clicks x Binomial(0.9) landing, and Poisson unpaid
    traffic; one journey per anonymous visitor (a fresh visitor_id from 1e9 up)."""
    counts, chans = [], []
    for ch, clicks in paid.items():
        counts.append(rng.binomial(clicks[days], CLICK_TO_VISIT))
        chans.append(ch)
    for ch, lam in unpaid.items():
        counts.append(rng.poisson(lam[days]))
        chans.append(ch)
    counts = np.stack(counts)  # (channels, days)
    ch_idx = np.array([schema.CHANNELS.index(c) for c in chans])
    cc, dd = np.nonzero(counts)
    k = counts[cc, dd]
    channel = np.repeat(ch_idx[cc], k)
    day = np.repeat(days[dd], k)
    start = ctx.cal.start_us + day * US_DAY + _time_of_day(rng, len(day), WEB_HOURS)
    visitor = ctx.ids.take("anon_visitor", len(day), start=1_000_000_001)
    return journey_events(rng, ctx, start, channel, visitor, np.full(len(day), -1, np.int64))


def funnel_truth() -> dict:
    """Step probabilities per first-touch channel, session and known-visitor rules."""
    return {
        "steps": FUNNEL_STEPS,
        "step_probabilities": {
            ch: dict(zip(FUNNEL_STEPS[1:], p, strict=True)) for ch, p in FUNNEL_PROBS.items()
        },
        "attribution": "per journey, by the channel of the journey's first visit",
        "new_session_probability": dict(zip(FUNNEL_STEPS[1:], NEW_SESSION_PROB, strict=True)),
        "return_gap_days_mean": RETURN_GAP_DAYS_MEAN,
        "return_channel_same_prob": RETURN_CHANNEL_SAME_PROB,
        "extra_product_views_mean": EXTRA_PRODUCT_VIEWS_MEAN,
        "in_session_gap_seconds": IN_SESSION_GAP_SECONDS,
        "anonymous_visitors": "one journey per anonymous visitor (account_id null)",
        "known_visitors": "visitor_id = contact_id; many journeys per visitor; "
        "journeys per week = base + per_lambda * lambda while active",
        "known_journeys_per_week": KNOWN_JOURNEYS_PER_WEEK,
        "web_purchases": "web purchase events are not reconciled with orders",
    }
