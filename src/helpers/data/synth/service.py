"""Customer service: tickets per order (more when short-shipped or late, far more for the
planted cost-to-serve accounts) and background tickets per account; channel, cost, first
response and resolution times; the service_tickets table and the service truth."""

from __future__ import annotations

import numpy as np

from helpers.data import schema
from helpers.data.synth.accounts import ARCHETYPES, COST_TO_SERVE
from helpers.data.synth.common import (
    US_DAY,
    US_HOUR,
    _choice,
    _choice_rows,
    _labels,
    _lognormal_median,
    _money,
    _ts,
)
from helpers.data.synth.context import Context
from helpers.data.synth.writer import Writer

TICKET_CHANNELS = ("phone", "email", "chat", "portal")
TICKET_CATEGORIES = ("delivery", "billing", "product_quality", "returns", "account", "technical")
TICKET_CHANNEL_PROBS = {"normal": (0.25, 0.35, 0.25, 0.15), "cost_to_serve": (0.5, 0.3, 0.15, 0.05)}
TICKET_COST = {"phone": 42.0, "email": 24.0, "chat": 14.0, "portal": 6.0}
TICKET_COST_SIGMA = 0.25
REOPEN_COST_MULTIPLIER = 1.6
REOPEN_RESOLUTION_MULTIPLIER = 2.0
FIRST_RESPONSE_HOURS = {"phone": 0.05, "email": 5.0, "chat": 0.03, "portal": 10.0}  # medians
RESOLUTION_HOURS = {  # medians, after first response
    "delivery": 20.0,
    "billing": 30.0,
    "product_quality": 48.0,
    "returns": 36.0,
    "account": 8.0,
    "technical": 24.0,
}
SERVICE_TIME_SIGMA = 0.8
TICKETS_PER_ORDER = {"micro": 0.06, "small": 0.05, "medium": 0.045, "large": 0.04}
TICKETS_SHORT_SHIPPED, TICKETS_LATE = 0.35, 0.25
BACKGROUND_TICKETS_PER_YEAR = 0.6
TICKET_ARCHETYPE_MULTIPLIER = {"at_risk": 2.0, "lost": 1.5, "hibernating": 1.3}  # others 1
REOPEN_PROB = {"normal": 0.07, "cost_to_serve": 0.2}


def make_tickets(
    rng: np.random.Generator, ctx: Context, lo: int, hi: int, o: dict, f: dict
) -> dict:
    """Service tickets. Per order ``Poisson(base[size] * m[archetype] + 0.35 short + 0.25 late
    (+ 1.5 for the cost-to-serve set))`` opened 2 h - 5 days after the order (delivery issues
    after the promised date); per account ``Poisson(0.6 m[archetype] per year active (4.0 for
    the cost-to-serve set))`` background tickets, m = TICKET_ARCHETYPE_MULTIPLIER.
    Channel mix, cost per channel (x1.6 if reopened, LogNormal noise with mean 1), first response
    LogNormal(median by channel, 0.8) hours, resolution LogNormal(median by category, 0.8) hours
    after the first response (x2 if reopened); timestamps after end_date are null."""
    acc, cal = ctx.accounts, ctx.cal
    owner = o["owner"]
    base = np.array([TICKETS_PER_ORDER[b] for b in schema.SIZE_BANDS])[acc.size_band[owner]]
    arch_m = np.array([TICKET_ARCHETYPE_MULTIPLIER.get(a, 1.0) for a in ARCHETYPES])
    base = base * arch_m[acc.archetype[owner]]
    cts_o = acc.cost_to_serve[owner]
    rate = (
        base
        + TICKETS_SHORT_SHIPPED * f["short"]
        + TICKETS_LATE * f["late"]
        + COST_TO_SERVE["extra_tickets_per_order"] * cts_o
    )
    k = rng.poisson(rate)
    oi = np.repeat(np.arange(len(owner)), k)
    issue = (f["short"] | f["late"])[oi]
    after = np.where(f["late"][oi], np.maximum(o["promised"][oi], o["ts"][oi]), o["ts"][oi]) + (
        rng.uniform(2 / 24, 5, len(oi)) * US_DAY
    ).astype(np.int64)
    cat_order = np.where(
        issue & (rng.random(len(oi)) < 0.7),
        0,
        _choice(rng, len(oi), (0.25, 0.1, 0.25, 0.2, 0.1, 0.1)),
    )
    idx = np.arange(lo, hi)
    start = cal.start_us + acc.signup_day[idx] * US_DAY
    stop = np.where(
        acc.alive[idx], cal.end_us, np.minimum(cal.end_us, acc.dropout_us[idx] + 90 * US_DAY)
    )
    bg_rate = np.where(
        acc.cost_to_serve[idx],
        COST_TO_SERVE["background_tickets_per_year"],
        BACKGROUND_TICKETS_PER_YEAR * arch_m[acc.archetype[idx]],
    )
    kb = rng.poisson(bg_rate * (stop - start) / (365.25 * US_DAY))
    bo = np.repeat(np.arange(len(idx)), kb)
    bt = start[bo] + (rng.random(len(bo)) * (stop - start)[bo]).astype(np.int64)
    cat_bg = _choice(rng, len(bo), (0.0, 0.4, 0.0, 0.0, 0.3, 0.3))
    t_owner = np.concatenate([owner[oi], idx[bo]])
    opened = np.concatenate([after, bt])
    category = np.concatenate([cat_order, cat_bg])
    keep = opened < cal.end_us
    t_owner, opened, category = t_owner[keep], opened[keep], category[keep]
    n = len(opened)
    cts = acc.cost_to_serve[t_owner]
    p_norm = np.cumsum(TICKET_CHANNEL_PROBS["normal"])
    p_cts = np.cumsum(TICKET_CHANNEL_PROBS["cost_to_serve"])
    channel = _choice_rows(rng, np.where(cts[:, None], p_cts[None, :], p_norm[None, :]))
    reopened = rng.random(n) < np.where(cts, REOPEN_PROB["cost_to_serve"], REOPEN_PROB["normal"])
    fr_med = np.array([FIRST_RESPONSE_HOURS[c] for c in TICKET_CHANNELS])[channel]
    first = opened + (_lognormal_median(rng, fr_med, SERVICE_TIME_SIGMA) * US_HOUR).astype(np.int64)
    res_med = np.array([RESOLUTION_HOURS[c] for c in TICKET_CATEGORIES])[category]
    res_med = res_med * np.where(reopened, REOPEN_RESOLUTION_MULTIPLIER, 1.0)
    resolved = first + (_lognormal_median(rng, res_med, SERVICE_TIME_SIGMA) * US_HOUR).astype(
        np.int64
    )
    cost_base = np.array([TICKET_COST[c] for c in TICKET_CHANNELS])[channel]
    noise = np.exp(TICKET_COST_SIGMA * rng.standard_normal(n) - TICKET_COST_SIGMA**2 / 2)
    cost = _money(cost_base * np.where(reopened, REOPEN_COST_MULTIPLIER, 1.0) * noise)
    return {
        "owner": t_owner,
        "opened": opened,
        "first": first,
        "resolved": resolved,
        "channel": channel,
        "category": category,
        "reopened": reopened,
        "cost": cost,
    }


def write_tickets(w: Writer, ctx: Context, t: dict) -> None:
    srt = np.argsort(t["opened"], kind="stable")
    t = {k: v[srt] for k, v in t.items()}
    end = ctx.cal.end_us
    w.write(
        "service_tickets",
        {
            "ticket_id": ctx.ids.take("ticket", len(srt), start=4_000_001),
            "account_id": ctx.accounts.account_id[t["owner"]],
            "opened_at": _ts(t["opened"]),
            "first_response_at": _ts(t["first"], t["first"] >= end),
            "resolved_at": _ts(t["resolved"], t["resolved"] >= end),
            "channel": _labels(TICKET_CHANNELS, t["channel"]),
            "category": _labels(TICKET_CATEGORIES, t["category"]),
            "reopened": t["reopened"],
            "cost": t["cost"],
        },
    )


def service_truth() -> dict:
    """Ticket rates, channel mix and costs, response and resolution times."""
    return {
        "tickets_per_order": TICKETS_PER_ORDER,
        "extra_if_short_shipped": TICKETS_SHORT_SHIPPED,
        "extra_if_late": TICKETS_LATE,
        "background_per_year": BACKGROUND_TICKETS_PER_YEAR,
        "archetype_multiplier": {a: TICKET_ARCHETYPE_MULTIPLIER.get(a, 1.0) for a in ARCHETYPES},
        "channel_probs": TICKET_CHANNEL_PROBS,
        "channel_cost": TICKET_COST,
        "reopen_cost_multiplier": REOPEN_COST_MULTIPLIER,
        "reopen_prob": REOPEN_PROB,
        "first_response_hours_median": FIRST_RESPONSE_HOURS,
        "resolution_hours_median": RESOLUTION_HOURS,
        "time_sigma": SERVICE_TIME_SIGMA,
        "reopen_resolution_multiplier": REOPEN_RESOLUTION_MULTIPLIER,
    }
