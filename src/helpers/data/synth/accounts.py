"""Accounts: signups, firmographics, the planted clusters, latent BG/NBD and Gamma-Gamma
parameters, archetypes and the cost-to-serve set; the accounts table and their truth.

Account clusters - a planted firmographic + behavioural grouping, separate from the archetypes
and independent of the purchase process: each account draws a cluster (CLUSTERS) from its own
random stream; its industry and region are the cluster's with probability CLUSTER_PURITY, and
its order lines favour the cluster's preferred product category (weight x
CLUSTER_CATEGORY_MULTIPLIER). ``truth["accounts"]["cluster"]`` and ``truth["clusters"]``
record them; segmentation tests check KMeans recovers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from scipy import stats

from helpers.data import schema
from helpers.data.synth.common import (
    ORDER_HOURS,
    US_DAY,
    Calendar,
    _choice,
    _dates,
    _labels,
    _time_of_day,
)
from helpers.data.synth.names import company_names
from helpers.data.synth.purchases import (
    BGNBD,
    GAMMA_GAMMA,
    OrderBook,
    lambda_quantiles,
    simulate_order_book,
)
from helpers.data.synth.writer import Writer

# region -> home warehouse (east, north and south have their own; west and central do not)
REGION_WAREHOUSE = {"east": 0, "north": 1, "south": 2, "west": 1, "central": 0}

ARCHETYPES = ("champion", "loyal", "occasional", "new", "at_risk", "hibernating", "lost")
ARCHETYPE_RULE = {
    "new_tenure_days": 90,
    "lost_recency_days": 180,
    "order": [
        "new: tenure_days < new_tenure_days",
        "lost: not alive and recency_days > lost_recency_days",
        "at_risk: not alive and lambda >= lambda_q50",
        "hibernating: not alive and lambda < lambda_q50",
        "champion: alive and lambda >= lambda_q75",
        "loyal: alive and lambda >= lambda_q50",
        "occasional: alive and lambda < lambda_q50",
    ],
    "definitions": (
        "evaluated at end_date, first rule that matches wins; tenure_days = end_date - "
        "signup_date; recency_days = end_date - date of the last order; alive = has not dropped "
        "out (BG/NBD) by end_date; lambda_q50 / lambda_q75 are quantiles of Gamma(r, rate alpha)"
    ),
}
SIZE_BAND_SHARES = (0.30, 0.35, 0.25, 0.10)  # micro, small, medium, large
SIZE_BAND_NOISE_SD = 0.35
CHINESE_NAME_SHARE = 0.30

INDUSTRY_PROBS = (0.30, 0.12, 0.16, 0.16, 0.16, 0.10)  # order of schema.INDUSTRIES
REGION_PROBS = (0.32, 0.20, 0.24, 0.10, 0.14)  # order of schema.REGIONS

# Planted account clusters (firmographic + behavioural), independent of the purchase process:
# name -> (share of accounts, industry, region, preferred product category). With probability
# CLUSTER_PURITY an account takes its cluster's industry (and, independently, its region), else
# keeps the independent draw from INDUSTRY_PROBS / REGION_PROBS; its lines' category weights
# are multiplied by CLUSTER_CATEGORY_MULTIPLIER on the cluster's preferred category.
CLUSTERS = {  # the shares and industries reproduce INDUSTRY_PROBS; regions roughly REGION_PROBS
    "east_manufacturing": (0.30, "manufacturing", "east", "fasteners"),
    "north_agriculture": (0.12, "agriculture", "north", "agri_supplies"),
    "central_services": (0.16, "services", "central", "office"),
    "south_retail": (0.16, "retail", "south", "packaging"),
    "west_construction": (0.16, "construction", "west", "safety"),
    "north_healthcare": (0.10, "healthcare", "north", "lab_medical"),
}
CLUSTER_PURITY = 0.97
CLUSTER_CATEGORY_MULTIPLIER = 30.0

COST_TO_SERVE = {
    "eligible": "lambda >= lambda_q50 and E[order value] = p/nu <= its 35th percentile "
    "(quantile of the Gamma-Gamma prior) and at least 3 orders in the window",
    "selection_prob": 0.45,
    "extra_tickets_per_order": 1.5,
    "background_tickets_per_year": 4.0,
    "extra_return_prob_per_line": 0.40,
    "whole_line_returned": True,
    "value_quantile": 0.35,
}


@dataclass
class Accounts:
    """Per-account firmographics, latent parameters and purchase-process summaries."""

    account_id: np.ndarray
    signup_day: np.ndarray  # day index in the window
    channel: np.ndarray  # index into schema.CHANNELS
    industry: np.ndarray
    region: np.ndarray
    size_band: np.ndarray
    chinese: np.ndarray
    home_wh: np.ndarray
    lam: np.ndarray  # per week
    p: np.ndarray
    nu: np.ndarray
    first_order_us: np.ndarray
    alive: np.ndarray
    dropout_us: np.ndarray  # -1 when alive
    n_orders: np.ndarray
    last_order_us: np.ndarray
    archetype: np.ndarray
    cost_to_serve: np.ndarray
    cluster: np.ndarray  # index into CLUSTERS
    n_contacts: np.ndarray
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.account_id)


def draw_signups(rng: np.random.Generator, weights: dict, n: int) -> tuple[np.ndarray, ...]:
    """``n`` (day, acquisition channel) pairs drawn in proportion to the expected signups."""
    chans = list(weights)
    w = np.stack([weights[c] for c in chans])  # (channels, days)
    cell = rng.choice(w.size, size=n, p=(w / w.sum()).ravel())
    ch_local, day = np.divmod(cell, w.shape[1])
    channel = np.array([schema.CHANNELS.index(c) for c in chans])[ch_local]
    return day.astype(np.int64), channel


def assign_size_bands(rng: np.random.Generator, nu: np.ndarray) -> np.ndarray:
    """Size band from spend scale: ``score = log(p/nu) + Normal(0, 0.35)``; the bands are the
    score's quantiles with shares micro 30 %, small 35 %, medium 25 %, large 10 %."""
    score = np.log(GAMMA_GAMMA["p"] / nu) + SIZE_BAND_NOISE_SD * rng.standard_normal(len(nu))
    cuts = np.quantile(score, np.cumsum(SIZE_BAND_SHARES)[:-1])
    return np.searchsorted(cuts, score, side="right")


def assign_archetypes(
    lam: np.ndarray,
    alive: np.ndarray,
    tenure_days: np.ndarray,
    recency_days: np.ndarray,
    lam_q50: float,
    lam_q75: float,
) -> np.ndarray:
    """Archetype index per account by ARCHETYPE_RULE (first matching rule wins)."""
    rules = [
        ("new", tenure_days < ARCHETYPE_RULE["new_tenure_days"]),
        ("lost", ~alive & (recency_days > ARCHETYPE_RULE["lost_recency_days"])),
        ("at_risk", ~alive & (lam >= lam_q50)),
        ("hibernating", ~alive),
        ("champion", lam >= lam_q75),
        ("loyal", lam >= lam_q50),
        ("occasional", np.ones(len(lam), dtype=bool)),
    ]
    out = np.full(len(lam), -1)
    for name, cond in rules:
        out = np.where((out < 0) & cond, ARCHETYPES.index(name), out)
    return out


def assign_clusters(
    rng: np.random.Generator, industry: np.ndarray, region: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cluster, industry, region): a cluster per account drawn with the CLUSTERS shares; with
    probability CLUSTER_PURITY the industry (and, independently, the region) becomes the
    cluster's, else the independent draw stays. Uses its own random stream, so the purchase
    process draws are the same as without clusters."""
    n = len(industry)
    cluster = _choice(rng, n, [v[0] for v in CLUSTERS.values()])
    c_ind = np.array([schema.INDUSTRIES.index(v[1]) for v in CLUSTERS.values()])
    c_reg = np.array([schema.REGIONS.index(v[2]) for v in CLUSTERS.values()])
    take_ind = rng.random(n) < CLUSTER_PURITY
    take_reg = rng.random(n) < CLUSTER_PURITY
    industry = np.where(take_ind, c_ind[cluster], industry)
    region = np.where(take_reg, c_reg[cluster], region)
    return cluster, industry, region


def make_accounts(
    rng: np.random.Generator,
    cal: Calendar,
    n: int,
    weights: dict,
    cluster_rng: np.random.Generator | None = None,
) -> tuple[Accounts, OrderBook]:
    """Accounts with signups, firmographics, BG/NBD and Gamma-Gamma latents, and their orders.

    The planted clusters (:func:`assign_clusters`) draw from ``cluster_rng``."""
    day, channel = draw_signups(rng, weights, n)
    tod_first = _time_of_day(rng, n, ORDER_HOURS)
    order = np.lexsort((tod_first, day))
    day, channel, tod_first = day[order], channel[order], tod_first[order]
    industry = _choice(rng, n, INDUSTRY_PROBS)
    region = _choice(rng, n, REGION_PROBS)
    cluster, industry, region = assign_clusters(
        cluster_rng if cluster_rng is not None else np.random.default_rng(0), industry, region
    )
    chinese = rng.random(n) < CHINESE_NAME_SHARE
    home_wh = np.array([REGION_WAREHOUSE[r] for r in schema.REGIONS])[region]
    lam = rng.gamma(BGNBD["r"], 1.0 / BGNBD["alpha"], n)
    p = rng.beta(BGNBD["a"], BGNBD["b"], n)
    nu = rng.gamma(GAMMA_GAMMA["q"], 1.0 / GAMMA_GAMMA["gamma"], n)
    size_band = assign_size_bands(rng, nu)

    first_us = cal.start_us + day * US_DAY + tod_first
    book, n_orders, alive = simulate_order_book(rng, cal, first_us, lam, p)
    last_us = book.ts[book.starts + n_orders - 1]
    end_day = cal.n_days - 1
    recency = end_day - (last_us - cal.start_us) // US_DAY
    lam_q50, lam_q75 = lambda_quantiles()
    archetype = assign_archetypes(lam, alive, end_day - day, recency, lam_q50, lam_q75)
    cts = _select_cost_to_serve(rng, lam, nu, n_orders)
    n_contacts = np.array([1, 1, 2, 3])[size_band] + rng.integers(0, 2, n)
    n_contacts += (size_band == 3) * rng.integers(0, 2, n)
    accounts = Accounts(
        account_id=10_001 + np.arange(n, dtype=np.int64),
        signup_day=day,
        channel=channel,
        industry=industry,
        region=region,
        size_band=size_band,
        chinese=chinese,
        home_wh=home_wh,
        lam=lam,
        p=p,
        nu=nu,
        first_order_us=first_us,
        alive=alive,
        dropout_us=np.where(alive, -1, last_us),
        n_orders=n_orders,
        last_order_us=last_us,
        archetype=archetype,
        cost_to_serve=cts,
        cluster=cluster,
        n_contacts=n_contacts,
    )
    accounts.names = company_names(rng, industry, region, chinese)
    return accounts, book


def _select_cost_to_serve(
    rng: np.random.Generator, lam: np.ndarray, nu: np.ndarray, n_orders: np.ndarray
) -> np.ndarray:
    """The planted cost-to-serve set: eligible (COST_TO_SERVE["eligible"]) and selected with
    probability ``selection_prob``."""
    lam_q50, _ = lambda_quantiles()
    z_cut = GAMMA_GAMMA["p"] / stats.gamma.ppf(
        1 - COST_TO_SERVE["value_quantile"], GAMMA_GAMMA["q"], scale=1 / GAMMA_GAMMA["gamma"]
    )
    eligible = (lam >= lam_q50) & (GAMMA_GAMMA["p"] / nu <= z_cut) & (n_orders >= 3)
    return eligible & (rng.random(len(lam)) < COST_TO_SERVE["selection_prob"])


def write_accounts(w: Writer, acc: Accounts, cal: Calendar) -> None:
    w.write(
        "accounts",
        {
            "account_id": acc.account_id,
            "company_name": pa.array(acc.names, type=pa.string()),
            "industry": _labels(schema.INDUSTRIES, acc.industry),
            "region": _labels(schema.REGIONS, acc.region),
            "size_band": _labels(schema.SIZE_BANDS, acc.size_band),
            "signup_date": _dates(cal.start_day + acc.signup_day),
            "acquisition_channel": _labels(schema.CHANNELS, acc.channel),
        },
    )


def segments_truth(acc: Accounts) -> dict:
    """The archetypes, their rule and counts."""
    lam_q50, lam_q75 = lambda_quantiles()
    arch_counts = np.bincount(acc.archetype, minlength=len(ARCHETYPES))
    return {
        "archetypes": ARCHETYPES,
        "rule": ARCHETYPE_RULE,
        "lambda_q50": lam_q50,
        "lambda_q75": lam_q75,
        "counts": dict(zip(ARCHETYPES, arch_counts.tolist(), strict=True)),
    }


def size_band_truth() -> dict:
    return {
        "rule": "score = log(p / nu_i) + Normal(0, noise_sd); bands are score quantiles",
        "shares": dict(zip(schema.SIZE_BANDS, SIZE_BAND_SHARES, strict=True)),
        "noise_sd": SIZE_BAND_NOISE_SD,
    }


def accounts_truth(acc: Accounts, contribution: np.ndarray) -> dict:
    """Per account: archetype, latents, alive flag, dropout date, orders, cost-to-serve flag,
    contribution and cluster (lists in account order)."""
    drop_days = (np.maximum(acc.dropout_us, 0) // US_DAY).astype("datetime64[D]").astype(str)
    dropout = [None if a else d for d, a in zip(drop_days.tolist(), acc.alive, strict=True)]
    return {
        "account_id": acc.account_id,
        "archetype": [ARCHETYPES[a] for a in acc.archetype],
        "lambda": acc.lam,
        "p": acc.p,
        "nu": acc.nu,
        "alive_at_end": acc.alive,
        "dropout_date": dropout,
        "n_orders": acc.n_orders,
        "cost_to_serve": acc.cost_to_serve,
        "contribution": np.round(contribution, 2),
        "cluster": [list(CLUSTERS)[k] for k in acc.cluster],
    }


def clusters_truth(acc: Accounts) -> dict:
    """The planted clusters: profiles, purity, rule and counts."""
    return {
        "names": list(CLUSTERS),
        "profiles": {
            name: {"share": v[0], "industry": v[1], "region": v[2], "preferred_category": v[3]}
            for name, v in CLUSTERS.items()
        },
        "purity": CLUSTER_PURITY,
        "category_multiplier": CLUSTER_CATEGORY_MULTIPLIER,
        "rule": (
            "cluster ~ Categorical(shares), independent of the purchase process; industry and "
            "region each equal the cluster's with probability purity (else the independent "
            "draw); each line's category weight is multiplied by category_multiplier on the "
            "cluster's preferred category"
        ),
        "counts": dict(
            zip(
                list(CLUSTERS),
                np.bincount(acc.cluster, minlength=len(CLUSTERS)).tolist(),
                strict=True,
            )
        ),
    }
