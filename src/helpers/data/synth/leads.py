"""The lead pipeline: created -> qualified -> opportunity -> quote -> won, each step with a
probability per source and a Gamma-distributed duration; a lead that fails a step is lost. An
acquisition lead at signup (by acquisition channel) and upsell leads while the account is
active; the leads table and its truth."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from helpers.data import schema
from helpers.data.synth.common import OFFICE_HOURS, US_DAY, _labels, _time_of_day, _ts
from helpers.data.synth.context import Context
from helpers.data.synth.purchases import GAMMA_GAMMA
from helpers.data.synth.writer import Writer

LEAD_STAGES = ("qualified", "opportunity", "quote", "won")
LEAD_STAGE_PROBS = {
    "sales_outreach": (0.70, 0.60, 0.70, 0.45),
    "referral": (0.75, 0.65, 0.70, 0.50),
    "sem": (0.45, 0.45, 0.60, 0.35),
    "feed_ads": (0.40, 0.40, 0.55, 0.30),
    "organic": (0.50, 0.45, 0.60, 0.38),
    "direct": (0.55, 0.50, 0.65, 0.42),
    "account_management": (0.85, 0.70, 0.75, 0.55),
}
LEAD_STAGE_DAYS = (3.0, 8.0, 10.0, 14.0)  # mean days created->qualified->opportunity->quote->won
LEAD_LOST_DAYS = 7.0  # mean days from the last stage reached to closing as lost
LEAD_DURATION_SHAPE = 2.0
FIRST_LEAD_PROB = {
    "sales_outreach": 0.9,
    "referral": 0.6,
    "direct": 0.25,
    "organic": 0.2,
    "sem": 0.3,
    "feed_ads": 0.2,
}
UPSELL_LEADS_PER_YEAR = {"micro": 0.1, "small": 0.3, "medium": 0.8, "large": 2.0}
LEAD_AMOUNT_ORDERS = 6.0  # opportunity amount ~ Gamma(2, mean = 6 x the account's E[order value])


def _gamma_days(rng: np.random.Generator, mean_days, size) -> np.ndarray:
    """Gamma(shape 2)-distributed duration in microseconds with the given mean in days."""
    return (rng.gamma(LEAD_DURATION_SHAPE, mean_days / LEAD_DURATION_SHAPE, size) * US_DAY).astype(
        np.int64
    )


def make_leads(rng: np.random.Generator, ctx: Context, lo: int, hi: int) -> dict:
    """CRM leads: an acquisition lead at signup (probability by acquisition channel) and upsell
    leads (``account_management``) at ``UPSELL_LEADS_PER_YEAR[size band]`` while the account is
    active. Each lead passes qualified -> opportunity -> quote -> won with LEAD_STAGE_PROBS[source]
    and Gamma(2) stage durations (LEAD_STAGE_DAYS); failing a step closes it lost after
    Gamma(2, mean LEAD_LOST_DAYS); anything that would happen after end_date leaves it open."""
    acc, cal = ctx.accounts, ctx.cal
    idx = np.arange(lo, hi)
    src_names = list(LEAD_STAGE_PROBS)
    ch_name = np.array(schema.CHANNELS)[acc.channel[idx]]
    p_first = np.array([FIRST_LEAD_PROB.get(c, 0.0) for c in ch_name])
    has_first = rng.random(len(idx)) < p_first
    first_owner = idx[has_first]
    first_src = np.array([src_names.index(c) for c in ch_name[has_first]], dtype=np.int64)
    first_at = (
        cal.start_us
        + acc.signup_day[first_owner] * US_DAY
        + _time_of_day(rng, len(first_owner), OFFICE_HOURS)
        + rng.integers(0, 3, len(first_owner)) * US_DAY
    )
    active_end = np.where(acc.alive[idx], cal.end_us, acc.dropout_us[idx])
    active_start = cal.start_us + acc.signup_day[idx] * US_DAY
    years = np.maximum(active_end - active_start, 0) / (365.25 * US_DAY)
    rate = np.array([UPSELL_LEADS_PER_YEAR[b] for b in schema.SIZE_BANDS])[acc.size_band[idx]]
    k = rng.poisson(rate * years)
    up_owner = np.repeat(idx, k)
    span = np.repeat(active_end - active_start, k)
    up_at = np.repeat(active_start, k) + (rng.random(len(up_owner)) * span).astype(np.int64)
    owner = np.concatenate([first_owner, up_owner])
    src = np.concatenate([first_src, np.full(len(up_owner), src_names.index("account_management"))])
    created = np.concatenate([first_at, up_at])
    keep = created < cal.end_us
    owner, src, created = owner[keep], src[keep], created[keep]
    n = len(owner)
    probs = np.array([LEAD_STAGE_PROBS[s] for s in src_names])[src]  # (n, 4)
    passed = np.cumprod(rng.random((n, 4)) < probs, axis=1).astype(bool)
    stage_t = np.empty((n, 4), dtype=np.int64)
    t = created.copy()
    for s in range(4):
        t = t + _gamma_days(rng, LEAD_STAGE_DAYS[s], n)
        stage_t[:, s] = t
    reached = passed.sum(axis=1)  # number of stages passed (4 = won)
    last_t = np.where(reached > 0, stage_t[np.arange(n), np.maximum(reached - 1, 0)], created)
    lost_at = last_t + _gamma_days(rng, LEAD_LOST_DAYS, n)
    closed = np.where(reached == 4, stage_t[:, 3], lost_at)
    stage_null = ~passed[:, :3] | (stage_t[:, :3] >= cal.end_us)
    # a stage after end_date has not happened: later stages neither
    stage_null = np.cumsum(stage_null, axis=1) > 0
    closed_null = closed >= cal.end_us  # stages come in order, so the close is last
    outcome = np.where(closed_null, 2, np.where(reached == 4, 0, 1))
    z = GAMMA_GAMMA["p"] / acc.nu[owner]
    amount = np.round(rng.gamma(2.0, LEAD_AMOUNT_ORDERS * z / 2.0) / 100) * 100 + 100
    amount_null = stage_null[:, 1]  # no amount before the opportunity stage
    region = np.array(schema.REGIONS)[acc.region[owner]]
    rep = rng.integers(1, 4, n)
    owners = [f"REP-{r.upper()}-{k}" for r, k in zip(region, rep, strict=True)]
    return {
        "owner": owner,
        "source": src,
        "created": created,
        "stage_t": stage_t,
        "stage_null": stage_null,
        "closed": closed,
        "closed_null": closed_null,
        "outcome": outcome,
        "amount": amount,
        "amount_null": amount_null,
        "rep": owners,
    }


def write_leads(w: Writer, ld: dict, ctx: Context) -> None:
    srt = np.argsort(ld["created"], kind="stable")
    n = len(srt)
    lead_id = ctx.ids.take("lead", n)
    st, sn = ld["stage_t"][srt], ld["stage_null"][srt]
    w.write(
        "leads",
        {
            "lead_id": lead_id,
            "account_id": ctx.accounts.account_id[ld["owner"][srt]],
            "source": _labels(list(LEAD_STAGE_PROBS), ld["source"][srt]),
            "created_at": _ts(ld["created"][srt]),
            "qualified_at": _ts(st[:, 0], sn[:, 0]),
            "opportunity_at": _ts(st[:, 1], sn[:, 1]),
            "quote_at": _ts(st[:, 2], sn[:, 2]),
            "closed_at": _ts(ld["closed"][srt], ld["closed_null"][srt]),
            "outcome": _labels(schema.LEAD_OUTCOMES, ld["outcome"][srt]),
            "amount": pa.array(ld["amount"][srt], type=pa.float64(), mask=ld["amount_null"][srt]),
            "owner": pa.array([ld["rep"][i] for i in srt], type=pa.string()),
        },
    )


def leads_truth() -> dict:
    """Stage probabilities per source, stage durations and the lead-creation rates."""
    return {
        "stages": LEAD_STAGES,
        "stage_probabilities": {
            s: dict(zip(LEAD_STAGES, p, strict=True)) for s, p in LEAD_STAGE_PROBS.items()
        },
        "stage_duration_days_mean": dict(
            zip(
                ("to_qualified", "to_opportunity", "to_quote", "to_won"),
                LEAD_STAGE_DAYS,
                strict=True,
            )
        ),
        "lost_after_days_mean": LEAD_LOST_DAYS,
        "duration_distribution": "Gamma(shape 2)",
        "first_lead_probability": FIRST_LEAD_PROB,
        "upsell_leads_per_year": UPSELL_LEADS_PER_YEAR,
        "amount": "Gamma(2, mean 6 x p/nu_i), rounded to 100; null before opportunity",
    }
