"""CRM campaign sends (email / SMS) with a planted uplift per archetype; the campaign_sends table
and the campaigns' part of the truth.

Per archetype a baseline conversion ``P(convert | control)`` and an uplift ``P(convert |
treatment) - P(convert | control)`` (Radcliffe & Surry 2011, "Real-world uplift modelling with
significance-based uplift trees" for the persuadable / sure thing / sleeping dog vocabulary).
Conversions live in campaign_sends only; they add no orders.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from helpers.data import schema
from helpers.data.synth.accounts import ARCHETYPES
from helpers.data.synth.common import (
    US_DAY,
    US_HOUR,
    US_MIN,
    _labels,
    _lognormal_median,
    _money,
    _ts,
)
from helpers.data.synth.context import Context
from helpers.data.synth.purchases import GAMMA_GAMMA
from helpers.data.synth.writer import Writer

CONTROL_SHARE = 0.2
TARGET_SHARE = 0.7
CONVERSION_WINDOW_DAYS = 14
BASELINE_CONVERSION = {
    "champion": 0.15,
    "loyal": 0.07,
    "occasional": 0.025,
    "new": 0.05,
    "at_risk": 0.03,
    "hibernating": 0.012,
    "lost": 0.004,
}
UPLIFT = {
    "champion": -0.03,
    "loyal": 0.01,
    "occasional": 0.05,
    "new": 0.04,
    "at_risk": 0.07,
    "hibernating": 0.02,
    "lost": 0.0,
}
UPLIFT_ROLE = {
    "champion": "sleeping dog (negative uplift)",
    "loyal": "sure thing (high baseline, small uplift)",
    "occasional": "persuadable",
    "new": "persuadable",
    "at_risk": "persuadable (largest uplift)",
    "hibernating": "mildly persuadable",
    "lost": "lost cause (no uplift)",
}
COST_PER_SEND = {"email": 0.05, "sms": 0.40}
OPEN_PROB = {"converted": 0.8, "not_converted": 0.25}  # email only; SMS opens are not tracked
CLICK_PROB = {
    "email": {"converted": 0.75, "not_converted": 0.12},  # given opened
    "sms": {"converted": 0.60, "not_converted": 0.04},
}


def make_campaign_sends(rng: np.random.Generator, ctx: Context, lo: int, contacts: dict) -> dict:
    """Sends of every CRM campaign to the chunk's accounts.

    Eligible: signed up at least 7 days before the send and a contact who consented to the
    channel; 70 % of the eligible are targeted; with ``has_control`` 20 % of them form the
    control group (recorded, not sent). ``P(convert) = baseline[archetype] (+ uplift[archetype]
    in treatment)``; conversion happens U(0.1, 14) days after the send with revenue
    ``Gamma(p, rate nu_i)``. Opens (email only) and clicks depend on conversion: P(open) 0.8 vs
    0.25, P(click | open) 0.75 vs 0.12 (SMS: P(click) 0.60 vs 0.04)."""
    acc, cal, crm = ctx.accounts, ctx.cal, ctx.crm
    owner_c = contacts["owner"]
    email_ok = np.zeros(len(acc), dtype=bool)
    sms_ok = np.zeros(len(acc), dtype=bool)
    email_ok[owner_c[contacts["consent_email"] & ~contacts["email_missing"]]] = True
    sms_ok[owner_c[contacts["consent_sms"] & ~contacts["phone_missing"]]] = True
    idx = np.unique(owner_c)
    out = {k: [] for k in ("camp", "owner", "control", "sent", "opened", "clicked", "conv", "rev")}
    base = np.array([BASELINE_CONVERSION[a] for a in ARCHETYPES])
    lift = np.array([UPLIFT[a] for a in ARCHETYPES])
    for ci in range(len(crm.campaign_id)):
        ok = email_ok[idx] if crm.channel[ci] == 0 else sms_ok[idx]
        ok &= acc.signup_day[idx] <= crm.send_day[ci] - 7
        ok &= rng.random(len(idx)) < TARGET_SHARE
        who = idx[ok]
        n = len(who)
        if n == 0:
            continue
        control = (rng.random(n) < CONTROL_SHARE) if crm.has_control[ci] else np.zeros(n, bool)
        arch = acc.archetype[who]
        p_conv = np.clip(base[arch] + np.where(control, 0.0, lift[arch]), 0, 1)
        conv = rng.random(n) < p_conv
        day_us = cal.start_us + crm.send_day[ci] * US_DAY
        sent = day_us + 9 * US_HOUR + rng.integers(0, 2 * US_HOUR, n)
        if crm.channel[ci] == 0:
            opened = ~control & (rng.random(n) < np.where(conv, *OPEN_PROB.values()))
            cp = CLICK_PROB["email"]
        else:
            opened = np.zeros(n, dtype=bool)
            cp = CLICK_PROB["sms"]
        can_click = opened if crm.channel[ci] == 0 else ~control
        clicked = can_click & (rng.random(n) < np.where(conv, cp["converted"], cp["not_converted"]))
        open_t = sent + (_lognormal_median(rng, 3.0, 1.2, n) * US_HOUR).astype(np.int64)
        click_base = np.where(opened, open_t, sent)
        click_t = click_base + (_lognormal_median(rng, 2.0, 1.0, n) * US_MIN).astype(np.int64)
        conv_t = np.maximum(
            sent + (rng.uniform(0.1, CONVERSION_WINDOW_DAYS, n) * US_DAY).astype(np.int64),
            click_t + 5 * US_MIN,
        )
        conv_t = np.minimum(conv_t, sent + CONVERSION_WINDOW_DAYS * US_DAY)
        rev = np.where(conv, _money(rng.gamma(GAMMA_GAMMA["p"], 1.0 / acc.nu[who])), 0.0)
        out["camp"].append(np.full(n, ci))
        out["owner"].append(who)
        out["control"].append(control)
        out["sent"].append(sent)
        opened &= open_t < cal.end_us
        clicked &= click_t < cal.end_us
        out["opened"].append(np.where(opened, open_t, -1))
        out["clicked"].append(np.where(clicked, click_t, -1))
        out["conv"].append(np.where(conv, conv_t, -1))
        out["rev"].append(rev)
        treat = ~control
        ctx.crm_sends[ci, crm.send_day[ci]] += treat.sum()
        ctx.crm_opens[ci, crm.send_day[ci]] += opened.sum()
        ctx.crm_clicks[ci, crm.send_day[ci]] += clicked.sum()
    if not out["camp"]:
        return {k: np.zeros(0, dtype=np.int64) for k in out}
    return {k: np.concatenate(v) for k, v in out.items()}


def write_campaign_sends(w: Writer, s: dict, ctx: Context) -> None:
    srt = np.lexsort((s["owner"], s["sent"], s["camp"]))
    n = len(srt)
    cols = {k: v[srt] for k, v in s.items()}
    w.write(
        "campaign_sends",
        {
            "send_id": ctx.ids.take("send", n),
            "campaign_id": _labels(ctx.crm.campaign_id, cols["camp"]),
            "account_id": ctx.accounts.account_id[cols["owner"]],
            "group": _labels(schema.SEND_GROUPS, cols["control"].astype(np.int64)),
            "sent_at": _ts(cols["sent"]),
            "opened_at": _ts(cols["opened"], cols["opened"] < 0),
            "clicked_at": _ts(cols["clicked"], cols["clicked"] < 0),
            "converted_at": _ts(cols["conv"], cols["conv"] < 0),
            "revenue": cols["rev"].astype(np.float64),
        },
    )


def campaigns_truth(ctx: Context) -> dict:
    """Baseline conversion and uplift per archetype, the send rules and every CRM campaign."""
    cal, crm = ctx.cal, ctx.crm
    return {
        "baseline_conversion": BASELINE_CONVERSION,
        "uplift": UPLIFT,
        "role": UPLIFT_ROLE,
        "uplift_definition": "P(convert | treatment) - P(convert | control), same for "
        "email and SMS",
        "control_share": CONTROL_SHARE,
        "target_share": TARGET_SHARE,
        "conversion_window_days": CONVERSION_WINDOW_DAYS,
        "revenue": "Gamma(p, rate nu_i) on conversion, 0 otherwise",
        "cost_per_send": COST_PER_SEND,
        "open_prob": OPEN_PROB,
        "click_prob": CLICK_PROB,
        "note": "conversions live in campaign_sends only; they add no orders, so the "
        "order process stays exactly BG/NBD",
        "crm_campaigns": [
            {
                "campaign_id": crm.campaign_id[i],
                "channel": ("email", "sms")[crm.channel[i]],
                "send_date": (cal.start + timedelta(days=int(crm.send_day[i]))).isoformat(),
                "has_control": bool(crm.has_control[i]),
            }
            for i in range(len(crm.campaign_id))
        ],
    }
