"""Deterministic synthetic data for the B2B platform, with a known truth planted in it.

:func:`generate` writes every table of :mod:`helpers.data.schema` as Parquet parts
(``OUT/<table>/part-NNNNN.parquet``), the planted truth (``OUT/truth.json``) and a manifest
(``OUT/manifest.json``). The same ``seed`` and ``scale`` give the same Parquet contents and the
same ``truth.json``, byte for byte: every random stream is a :class:`numpy.random.SeedSequence`
of ``(seed, stream, chunk)`` and nothing reads the clock or a hash-randomised order.

The processes and where they come from
--------------------------------------
Purchases - BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way: an
    alternative to the Pareto/NBD model", Marketing Science 24(2)). Time unit: weeks.
    ``lambda_i ~ Gamma(shape r, rate alpha)``, ``p_i ~ Beta(a, b)``. The first order is placed on
    the signup day; while active, repeat orders arrive as a Poisson process of rate ``lambda_i``;
    after each *repeat* order the account drops out with probability ``p_i``, so the number of
    repeat orders before dropping out is ``Geometric(p_i)`` on 1, 2, ... Only the time of day is
    redrawn (business hours); the day of every order is the BG/NBD draw, so nothing seasonal
    touches order timing.
Order values - Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for
    customer base analysis", JMR 42(4)). ``nu_i ~ Gamma(q, rate gamma)``; each order's value
    ``z ~ Gamma(p, rate nu_i)``, so ``E[z | nu_i] = p / nu_i`` and ``E[z] = p gamma / (q - 1)``.
    The order's lines are built so that their revenue ``sum(quantity * unit_price * (1 -
    discount))`` approximates ``z`` (the truth records the realised relative error).
Account clusters - a planted firmographic + behavioural grouping, separate from the archetypes
    and independent of the purchase process: each account draws a cluster (CLUSTERS) from its
    own random stream; its industry and region are the cluster's with probability
    CLUSTER_PURITY, and its order lines favour the cluster's preferred product category
    (weight x CLUSTER_CATEGORY_MULTIPLIER). ``truth["accounts"]["cluster"]`` and
    ``truth["clusters"]`` record them; segmentation tests check KMeans recovers them.
Marketing response - per campaign-day ``E[clicks] = a_c * spend ** b_c`` with ``b_c < 1``
    (diminishing returns); ``impressions ~ Poisson(E[clicks] / ctr_c)``, ``clicks ~
    Binomial(impressions, ctr_c)``. Paid clicks become web journeys of that channel and weight
    the signup date and acquisition channel of new accounts.
Web funnel - a journey steps visit -> product_view -> add_to_cart -> quote_request -> checkout
    -> purchase; each step happens with a probability that depends on the channel of the
    journey's first visit (first touch), given the previous step. A step may happen in a later
    session (a new ``visit`` first, exponential gap in days), so funnel windows of days matter.
Lead pipeline - created -> qualified -> opportunity -> quote -> won, each step with a
    probability per source and a Gamma-distributed duration; a lead that fails a step is lost.
Campaigns - per archetype baseline conversion ``P(convert | control)`` and uplift
    ``P(convert | treatment) - P(convert | control)`` (Radcliffe & Surry 2011, "Real-world uplift
    modelling with significance-based uplift trees" for the persuadable / sure thing / sleeping
    dog vocabulary).
Supply - (s, S) reorder policy reviewed daily per warehouse x SKU (Scarf 1960), with levels
    from the planner's monthly demand forecast (the true monthly mean, so seasonality is known);
    supplier lead time ``max(1, round(Normal(mean, sd)))`` days, in-full with a probability,
    defects ``Binomial(received, defect_rate)``, price ``unit_cost * LogNormal(0, price_sd)``.
    ``on_hand(d) = on_hand(d-1) + (received - defects on d) - shipped(d)``, never negative;
    when stock runs short the order ships what there is (lost sales, no backorders).

Memory stays bounded at large ``scale``: orders, lines, web events, sends, shipments, returns and
tickets are generated and written per chunk of accounts (or block of days for anonymous web
traffic); only per-account arrays and dense ``day x warehouse x SKU`` arrays live for the whole
run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats
from scipy.special import hyp2f1
from tqdm import tqdm

from helpers.data import schema

GENERATOR_VERSION = "1.1.0"
DEFAULT_END_DATE = "2026-10-31"

US_SEC = 1_000_000
US_MIN = 60 * US_SEC
US_HOUR = 60 * US_MIN
US_DAY = 24 * US_HOUR
US_WEEK = 7 * US_DAY
EPOCH = date(1970, 1, 1)

# ---------------------------------------------------------------------------------------------
# Sizes. Accounts, orders and web traffic grow with ``scale``; the catalogue with sqrt(scale).
# ---------------------------------------------------------------------------------------------
ACCOUNTS_PER_SCALE = 2000
PRODUCTS_PER_SCALE = 400
SUPPLIERS_PER_SCALE = 30
MIN_ACCOUNTS, MIN_PRODUCTS, MIN_SUPPLIERS = 20, 60, 10
CHUNK_ACCOUNTS = 5000
ANON_JOURNEYS_PER_BLOCK = 200_000

# ---------------------------------------------------------------------------------------------
# Planted parameters (they all go to truth.json).
# ---------------------------------------------------------------------------------------------
BGNBD = {"r": 0.85, "alpha": 2.4, "a": 1.2, "b": 14.0}
GAMMA_GAMMA = {"p": 2.5, "q": 3.5, "gamma": 3000.0}

WAREHOUSES = ("WH-EAST", "WH-NORTH", "WH-SOUTH")
# region -> home warehouse (east, north and south have their own; west and central do not)
REGION_WAREHOUSE = {"east": 0, "north": 1, "south": 2, "west": 1, "central": 0}
OTHER_WAREHOUSE_PROB = 0.12

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

CATEGORIES = (
    "fasteners",
    "tools",
    "safety",
    "electrical",
    "packaging",
    "hvac",
    "agri_supplies",
    "office",
    "lab_medical",
)
# median list price, log-sd of list price, base share of demand, return probability per line
CATEGORY_SPEC = {
    "fasteners": (14.0, 0.8, 0.16, 0.015),
    "tools": (95.0, 0.9, 0.13, 0.030),
    "safety": (35.0, 0.7, 0.13, 0.025),
    "electrical": (60.0, 1.0, 0.13, 0.035),
    "packaging": (25.0, 0.7, 0.12, 0.010),
    "hvac": (260.0, 0.8, 0.07, 0.040),
    "agri_supplies": (70.0, 0.9, 0.08, 0.020),
    "office": (20.0, 0.8, 0.10, 0.020),
    "lab_medical": (120.0, 1.0, 0.05, 0.030),
}
# industry -> category demand multipliers (unlisted: 1)
INDUSTRY_AFFINITY = {
    "manufacturing": {"fasteners": 2.0, "tools": 1.8, "electrical": 1.6, "packaging": 1.4},
    "agriculture": {"agri_supplies": 6.0, "tools": 1.3, "hvac": 0.5, "lab_medical": 0.3},
    "services": {"office": 3.0, "safety": 1.2, "fasteners": 0.4, "agri_supplies": 0.2},
    "retail": {"packaging": 3.0, "office": 1.6, "agri_supplies": 0.3, "lab_medical": 0.3},
    "construction": {"fasteners": 2.2, "tools": 2.0, "safety": 2.0, "hvac": 1.5, "office": 0.4},
    "healthcare": {"lab_medical": 6.0, "safety": 1.6, "office": 1.2, "agri_supplies": 0.1},
}

# Seasonality (mean 1 after normalisation). Months Jan..Dec, weekdays Mon..Sun.
WEB_MONTHLY = (0.80, 0.70, 1.05, 1.12, 1.08, 1.00, 0.92, 0.90, 1.08, 1.10, 1.15, 1.00)
WEB_WEEKLY = (1.18, 1.20, 1.18, 1.15, 1.05, 0.62, 0.52)
MARKETING_MONTHLY = (0.75, 0.70, 1.10, 1.15, 1.05, 0.95, 0.90, 0.90, 1.10, 1.15, 1.20, 1.05)
MARKETING_WEEKLY = (1.10, 1.10, 1.10, 1.10, 1.05, 0.80, 0.75)
CATEGORY_MONTHLY = {
    "fasteners": (0.8, 0.7, 1.2, 1.3, 1.2, 1.0, 0.9, 0.9, 1.1, 1.1, 1.0, 0.8),
    "tools": (0.8, 0.7, 1.2, 1.2, 1.1, 1.0, 0.9, 0.9, 1.1, 1.1, 1.1, 0.9),
    "safety": (1.0, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1),
    "electrical": (0.9, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1, 1.1, 1.0),
    "packaging": (0.9, 0.6, 0.8, 0.8, 0.9, 0.9, 0.9, 1.0, 1.3, 1.5, 1.7, 1.0),
    "hvac": (0.6, 0.5, 0.7, 0.9, 1.4, 1.9, 2.0, 1.6, 0.9, 0.7, 0.8, 0.9),
    "agri_supplies": (0.6, 1.0, 2.0, 2.2, 1.6, 1.0, 0.8, 0.7, 0.9, 1.1, 0.7, 0.4),
    "office": (1.4, 0.6, 1.0, 0.9, 0.9, 0.9, 0.8, 1.2, 1.4, 1.0, 0.9, 1.0),
    "lab_medical": (1.3, 1.0, 1.0, 0.9, 0.8, 0.8, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3),
}

# Order lines: 1 + Poisson(LINES_MU * (z / E[z]) ** LINES_ELASTICITY) lines, capped.
LINES_MU, LINES_ELASTICITY, MAX_LINES = 5.0, 0.4, 20
PRICE_FACTOR_RANGE = (0.85, 1.15)
DISCOUNT_LEVELS = (0.0, 0.05, 0.10, 0.15)
DISCOUNT_PROBS = {  # by size band
    "micro": (0.80, 0.15, 0.05, 0.00),
    "small": (0.65, 0.22, 0.10, 0.03),
    "medium": (0.50, 0.28, 0.15, 0.07),
    "large": (0.35, 0.30, 0.22, 0.13),
}

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
# Anonymous journeys per day at scale 1 for the unpaid channels (before seasonality)
ORGANIC_JOURNEYS = {"organic": 120.0, "direct": 50.0, "referral": 40.0}
WEB_GROWTH = 0.25
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

CRM_CAMPAIGNS = {"email": 16, "sms": 8}
CONTROL_SHARE = 0.2
HAS_CONTROL_PROB = {"email": 0.6, "sms": 0.5}
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

# Carriers: mean transit days, fixed cost, cost per unit ** 0.7, choice weight
CARRIERS = {
    "SwiftFreight": (1.8, 18.0, 0.60, 0.30),
    "NorthStar Logistics": (2.5, 14.0, 0.50, 0.30),
    "Lianhe Express": (2.9, 10.0, 0.45, 0.25),
    "Bluebird Parcel": (2.2, 22.0, 0.70, 0.15),
}
CROSS_REGION_EXTRA_DAYS = 1.5
TRANSIT_SIGMA = 0.35
HANDLING_HOURS = {"shape": 2.0, "scale": 9.0, "min": 0.5}
PROMISED_DAYS = {"home": 4, "away": 6}

REORDER = {
    "review_days": 2.0,
    "service_z": 2.0,
    "cycle_days": 14.0,
    "min_stock": 5,
    "forecast_days": 14,
}

RETURN_REASONS = ("damaged", "wrong_item", "not_needed", "quality_issue", "late_delivery")

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
CONTRIBUTION_RULE = (
    "contribution = sum over order_lines of quantity * (unit_price * (1 - discount) - unit_cost) "
    "- sum(returns.refund) - sum(shipments.cost) - sum(service_tickets.cost), per account"
)


# ---------------------------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------------------------
def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent, reproducible stream for ``(seed, stream...)``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, stream)]))


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of ``table`` as written by the generator (column order of the schema)."""
    cols = schema.TABLES[table].columns
    return pa.schema([pa.field(name, schema.arrow_type(col.dtype)) for name, col in cols.items()])


def _ts(values_us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Microseconds since the epoch -> timestamp[us] (``mask`` True = null)."""
    return pa.array(np.asarray(values_us, dtype=np.int64), type=pa.timestamp("us"), mask=mask)


def _dates(days: np.ndarray) -> pa.Array:
    """Days since the epoch -> date32."""
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32())


def _labels(labels: tuple[str, ...] | list[str], idx: np.ndarray, mask=None) -> pa.Array:
    """Category labels taken by index (fast: no Python string per row)."""
    return pa.array(list(labels), type=pa.string()).take(
        pa.array(np.asarray(idx, dtype=np.int64), mask=mask)
    )


def _money(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64), 2)


def _norm(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / x.mean()


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """Position of each row within its run of equal, sorted ``groups`` (0, 1, 2, ...)."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n)
    first = np.ones(n, dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    return idx - np.maximum.accumulate(np.where(first, idx, 0))


def _cumsum_within(values: np.ndarray, groups: np.ndarray, exclusive: bool = False) -> np.ndarray:
    """Cumulative sum of ``values`` within runs of equal, sorted ``groups``."""
    if len(values) == 0:
        return np.zeros(0, dtype=values.dtype)
    total = np.cumsum(values)
    first = np.ones(len(groups), dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    start_idx = np.maximum.accumulate(np.where(first, np.arange(len(groups)), 0))
    before = total[start_idx] - values[start_idx]
    out = total - before
    return out - values if exclusive else out


def _choice_rows(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One categorical draw per row of the row-wise cumulative probabilities ``cum``."""
    u = rng.random(cum.shape[0]) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


def _choice(rng: np.random.Generator, n: int, probs) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    return rng.choice(len(probs), size=n, p=probs / probs.sum())


def _lognormal_median(rng: np.random.Generator, median, sigma, size=None) -> np.ndarray:
    """``median * exp(sigma * Normal(0, 1))``, one draw per element of ``median`` by default."""
    size = np.shape(median) if size is None else size
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(size))


ORDER_HOURS = np.array(
    [0.2] * 7 + [1, 3, 6, 7, 6, 3, 5, 6, 6, 5, 3, 1.5, 1, 0.8, 0.6, 0.4, 0.3], dtype=float
)
WEB_HOURS = np.array(
    [0.4] * 6 + [0.8, 2, 4, 6, 6.5, 6, 4.5, 5.5, 6, 6, 5.5, 4, 3, 3, 2.8, 2.2, 1.4, 0.8],
    dtype=float,
)
OFFICE_HOURS = np.array([0.0] * 8 + [1.0] * 9 + [0.0] * 7, dtype=float)


def _time_of_day(rng: np.random.Generator, n: int, hours: np.ndarray) -> np.ndarray:
    """Microseconds into the day: an hour drawn from ``hours`` weights, then uniform within it."""
    h = rng.choice(24, size=n, p=hours / hours.sum())
    return h * US_HOUR + rng.integers(0, US_HOUR, size=n)


def _round6(x: float) -> float:
    return float(f"{float(x):.6g}")


class _Ids:
    """Sequential ids shared across chunks (the chunks run in a fixed order)."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def take(self, name: str, n: int, start: int = 1) -> np.ndarray:
        first = self.next.get(name, start)
        self.next[name] = first + int(n)
        return np.arange(first, first + int(n), dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calendar:
    """The window ``[start, end]`` (both inclusive) and per-day month / weekday indices."""

    start: date
    end: date

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_day(self) -> int:
        """Days from the epoch to ``start``."""
        return (self.start - EPOCH).days

    @property
    def start_us(self) -> int:
        return self.start_day * US_DAY

    @property
    def end_us(self) -> int:
        """Exclusive: midnight after ``end``."""
        return (self.start_day + self.n_days) * US_DAY

    @property
    def month(self) -> np.ndarray:
        days = np.arange(self.n_days) + self.start_day
        return (days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)) % 12

    @property
    def weekday(self) -> np.ndarray:
        return (np.arange(self.n_days) + self.start_day + 3) % 7  # 1970-01-01 was a Thursday


def make_calendar(end_date: str | date, years: int) -> Calendar:
    """``years`` years of days ending on ``end_date`` (start = same day ``years`` back, + 1)."""
    end = date.fromisoformat(end_date) if isinstance(end_date, str) else end_date
    try:
        back = end.replace(year=end.year - years)
    except ValueError:  # 29 February
        back = end.replace(year=end.year - years, day=28)
    return Calendar(start=back + timedelta(days=1), end=end)


# ---------------------------------------------------------------------------------------------
# Names (fake, but shaped like the real thing)
# ---------------------------------------------------------------------------------------------
CN_CITIES = {
    "east": ("上海", "苏州", "杭州", "宁波", "南京", "无锡", "温州", "合肥"),
    "north": ("北京", "天津", "济南", "青岛", "石家庄", "太原", "沈阳", "大连"),
    "south": ("广州", "深圳", "东莞", "佛山", "厦门", "福州", "南宁", "海口"),
    "west": ("成都", "重庆", "西安", "昆明", "兰州", "贵阳", "乌鲁木齐", "银川"),
    "central": ("武汉", "长沙", "郑州", "南昌", "洛阳", "宜昌", "株洲", "襄阳"),
}
CN_BRANDS = (
    "恒达 鑫源 宏远 金泰 永盛 中科 瑞丰 德创 华信 天成 嘉禾 同创 盛世 联合 伟业 隆基 安泰 正泰 "
    "新华 东方 长城 飞扬 博远 凯盛 昌隆 兴业 汇通 鼎盛 立信 诚达 华东 精工 力拓 润通 富源 宝丰"
).split()
CN_INDUSTRY_WORDS = {
    "manufacturing": ("精密机械", "机械制造", "五金制品", "电子科技", "模具", "自动化设备"),
    "agriculture": ("农业科技", "农资", "生态农业", "种业", "农机", "果蔬"),
    "services": ("企业服务", "物业管理", "信息技术", "咨询", "人力资源", "物流"),
    "retail": ("商贸", "百货", "超市连锁", "贸易", "电子商务", "便利店"),
    "construction": ("建筑工程", "建材", "装饰工程", "市政工程", "钢结构", "安装工程"),
    "healthcare": ("医疗器械", "医药", "健康科技", "诊所管理", "生物科技", "康复设备"),
}
CN_SUFFIXES = ("有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司")
EN_PREFIXES = (
    "Apex Summit Redwood Harbor Silverline Pioneer Granite Evergreen Bluewater Keystone "
    "Ironbridge Meridian Northgate Oakridge Riverside Sterling Horizon Crestview Lakeshore "
    "Westfield Brightway Cedar Falcon Beacon Pinnacle Union Atlas Orchard Highland Coastal"
).split()
EN_INDUSTRY_WORDS = {
    "manufacturing": (
        "Precision Machining",
        "Metalworks",
        "Components",
        "Fabrication",
        "Industrial",
    ),
    "agriculture": ("Agri Supply", "Farms", "Growers", "Seed & Feed", "Agritech"),
    "services": ("Business Services", "Facility Services", "Consulting", "IT Services", "Staffing"),
    "retail": ("Trading", "Retail", "Stores", "Merchandise", "Outlets"),
    "construction": (
        "Construction",
        "Builders",
        "Contracting",
        "Building Materials",
        "Civil Works",
    ),
    "healthcare": ("Medical Supply", "Clinics", "Health", "Diagnostics", "Care Partners"),
}
EN_SUFFIXES = ("Ltd.", "Inc.", "Co.", "LLC", "Group", "Corp.")
CN_SURNAMES = {
    "王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang",
    "黄": "huang", "赵": "zhao", "吴": "wu", "周": "zhou", "徐": "xu", "孙": "sun", "马": "ma",
    "朱": "zhu", "胡": "hu", "郭": "guo", "何": "he", "高": "gao", "林": "lin", "罗": "luo",
    "郑": "zheng", "梁": "liang", "谢": "xie", "宋": "song", "唐": "tang", "韩": "han",
    "冯": "feng", "邓": "deng", "曹": "cao", "彭": "peng",
}  # fmt: skip
CN_GIVEN = {
    "伟": "wei", "芳": "fang", "娜": "na", "敏": "min", "静": "jing", "丽": "li", "强": "qiang",
    "磊": "lei", "军": "jun", "洋": "yang", "勇": "yong", "艳": "yan", "杰": "jie", "娟": "juan",
    "涛": "tao", "明": "ming", "超": "chao", "霞": "xia", "平": "ping", "刚": "gang", "辉": "hui",
    "鹏": "peng", "华": "hua", "飞": "fei", "鑫": "xin", "波": "bo", "斌": "bin", "宇": "yu",
    "浩": "hao", "凯": "kai", "婷": "ting", "雪": "xue", "琳": "lin", "晨": "chen", "建": "jian",
    "国": "guo", "文": "wen", "志": "zhi", "海": "hai", "红": "hong",
}  # fmt: skip
EN_FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Daniel Karen Matthew Nancy Anthony Lisa Mark "
    "Betty Steven Sandra Paul Ashley Andrew Emily Kevin Michelle Brian Laura George Amanda "
    "Edward Olivia Peter Grace Henry Chloe Oliver Hannah"
).split()
EN_LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson Anderson "
    "Taylor Thomas Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker "
    "Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts "
    "Carter Phillips Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers"
).split()
US_AREA_CODES = ("212", "312", "415", "617", "206", "303", "512", "404", "713", "602")
CN_MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "158", "186", "188")


def company_names(
    rng: np.random.Generator, industry: np.ndarray, region: np.ndarray, chinese: np.ndarray
) -> list[str]:
    """Legal names: Chinese ("苏州恒达精密机械有限公司") or English ("Apex Metalworks Ltd.")."""
    n = len(industry)
    u = rng.integers(0, 1 << 30, size=(n, 4))
    out = []
    for i in range(n):
        ind = schema.INDUSTRIES[industry[i]]
        if chinese[i]:
            cities = CN_CITIES[schema.REGIONS[region[i]]]
            words = CN_INDUSTRY_WORDS[ind]
            out.append(
                cities[u[i, 0] % len(cities)]
                + CN_BRANDS[u[i, 1] % len(CN_BRANDS)]
                + words[u[i, 2] % len(words)]
                + CN_SUFFIXES[u[i, 3] % len(CN_SUFFIXES)]
            )
        else:
            words = EN_INDUSTRY_WORDS[ind]
            out.append(
                f"{EN_PREFIXES[u[i, 1] % len(EN_PREFIXES)]} {words[u[i, 2] % len(words)]} "
                f"{EN_SUFFIXES[u[i, 3] % len(EN_SUFFIXES)]}"
            )
    return out


def person_records(
    rng: np.random.Generator, contact_id: np.ndarray, chinese: np.ndarray
) -> tuple[list[str], list[str], list[str]]:
    """(name, email, phone) per contact. Emails use example.com / example.cn (RFC 2606 / 6761);
    US phones use the fictional 555-01XX block; Chinese mobiles are random digits."""
    n = len(contact_id)
    sur, sur_py = list(CN_SURNAMES), list(CN_SURNAMES.values())
    giv, giv_py = list(CN_GIVEN), list(CN_GIVEN.values())
    u = rng.integers(0, 1 << 30, size=(n, 4))
    two = rng.random(n) < 0.6
    digits = rng.integers(0, 10**8, size=n)
    names, emails, phones = [], [], []
    for i in range(n):
        tag = int(contact_id[i]) % 10000
        if chinese[i]:
            s, g1, g2 = u[i, 0] % len(sur), u[i, 1] % len(giv), u[i, 2] % len(giv)
            given, given_py = giv[g1], giv_py[g1]
            if two[i]:
                given, given_py = given + giv[g2], given_py + giv_py[g2]
            names.append(sur[s] + given)
            emails.append(f"{given_py}.{sur_py[s]}{tag}@example.cn")
            d = int(digits[i])
            phones.append(
                f"+86 {CN_MOBILE_PREFIXES[u[i, 3] % 10]} {d // 10000:04d} {d % 10000:04d}"
            )
        else:
            first, last = EN_FIRST[u[i, 0] % len(EN_FIRST)], EN_LAST[u[i, 1] % len(EN_LAST)]
            names.append(f"{first} {last}")
            emails.append(f"{first.lower()}.{last.lower()}{tag}@example.com")
            phones.append(f"+1 {US_AREA_CODES[u[i, 2] % 10]}-555-01{int(digits[i]) % 100:02d}")
    return names, emails, phones


# ---------------------------------------------------------------------------------------------
# Catalogue: suppliers and products
# ---------------------------------------------------------------------------------------------
PRODUCT_NOUNS = {
    "fasteners": ("Hex bolt", "Machine screw", "Wood screw", "Flat washer", "Lock nut", "Anchor"),
    "tools": ("Cordless drill", "Angle grinder", "Torque wrench", "Socket set", "Laser level"),
    "safety": ("Safety gloves", "Hard hat", "Safety goggles", "Hi-vis vest", "Ear defenders"),
    "electrical": ("Cable 3x2.5mm", "Circuit breaker", "LED panel", "Junction box", "Contactor"),
    "packaging": ("Carton box", "Stretch film", "Packing tape", "Bubble wrap", "Pallet"),
    "hvac": ("Split AC unit", "Exhaust fan", "Air filter", "Dehumidifier", "Duct fan"),
    "agri_supplies": ("Drip irrigation kit", "Seed tray", "Fertiliser NPK", "Sprayer", "Shade net"),
    "office": ("A4 paper", "Toner cartridge", "Office chair", "File folder", "Label printer"),
    "lab_medical": ("Nitrile gloves", "Face masks", "Thermometer", "First aid kit", "Sample tubes"),
}
SUPPLIER_WORDS_CN = tuple(
    "五金制造 工具 劳保用品 电气 包装材料 暖通设备 农资 办公用品 医疗用品".split()
)
SUPPLIER_WORDS_EN = (
    "Fastener Works",
    "Tool Manufacturing",
    "Safety Products",
    "Electric",
    "Packaging",
    "Climate Systems",
    "Agri Inputs",
    "Office Supply",
    "Medical Supplies",
)


@dataclass
class Catalogue:
    """Suppliers and products, with the planted supplier reliability."""

    supplier_id: list[str]
    supplier_name: list[str]
    supplier_region: np.ndarray
    supplier_category: np.ndarray
    on_time_prob: np.ndarray
    in_full_prob: np.ndarray
    lead_mean: np.ndarray
    lead_sd: np.ndarray
    quoted_lead: np.ndarray
    defect_rate: np.ndarray
    price_sd: np.ndarray
    sku: list[str]
    product_name: list[str]
    category: np.ndarray
    list_price: np.ndarray
    unit_cost: np.ndarray
    supplier: np.ndarray
    popularity: np.ndarray  # within-category choice weights

    @property
    def n_sku(self) -> int:
        return len(self.sku)


def make_catalogue(rng: np.random.Generator, n_suppliers: int, n_products: int) -> Catalogue:
    """Suppliers (each specialised in one category) and SKUs.

    Supplier reliability: lead time ``max(1, round(Normal(mean, sd)))`` days with mean
    ~ U(5, 25) and sd = mean * U(0.1, 0.35); the quoted lead time is ``round(mean + z sd)``
    with z ~ U(-0.4, 1.6), so ``on_time_prob = Phi((quoted + 0.5 - mean) / sd)``;
    ``in_full_prob ~ Beta(18, 2)``; ``defect_rate ~ Beta(1.2, 80)`` (two planted bad suppliers
    get 5-8 %); price_sd ~ U(0.01, 0.08). List prices are LogNormal per category; unit cost is
    list price x U(0.55, 0.80); within a category SKU popularity is Zipf-like (1/rank^0.9).
    """
    n_cat = len(CATEGORIES)
    sup_cat = np.arange(n_suppliers) % n_cat
    sup_cat[n_cat:] = rng.integers(0, n_cat, size=max(0, n_suppliers - n_cat))
    lead_mean = rng.uniform(5, 25, n_suppliers)
    lead_sd = lead_mean * rng.uniform(0.10, 0.35, n_suppliers)
    quoted = np.maximum(1, np.round(lead_mean + rng.uniform(-0.4, 1.6, n_suppliers) * lead_sd))
    on_time = stats.norm.cdf((quoted + 0.5 - lead_mean) / lead_sd)
    defect = rng.beta(1.2, 80, n_suppliers)
    bad = rng.choice(n_suppliers, size=2, replace=False)
    defect[bad] = rng.uniform(0.05, 0.08, 2)
    in_full = rng.beta(18, 2, n_suppliers)
    price_sd = rng.uniform(0.01, 0.08, n_suppliers)
    sup_region = rng.integers(0, len(schema.REGIONS), n_suppliers)
    chinese = rng.random(n_suppliers) < 0.6
    sup_names = []
    for i in range(n_suppliers):
        if chinese[i]:
            cities = CN_CITIES[schema.REGIONS[sup_region[i]]]
            sup_names.append(
                cities[rng.integers(len(cities))]
                + CN_BRANDS[rng.integers(len(CN_BRANDS))]
                + SUPPLIER_WORDS_CN[sup_cat[i]]
                + "有限公司"
            )
        else:
            sup_names.append(
                f"{EN_PREFIXES[rng.integers(len(EN_PREFIXES))]} {SUPPLIER_WORDS_EN[sup_cat[i]]} "
                f"{EN_SUFFIXES[rng.integers(len(EN_SUFFIXES))]}"
            )
    shares = np.array([CATEGORY_SPEC[c][2] for c in CATEGORIES])
    cat = np.sort(
        np.concatenate([np.arange(n_cat), _choice(rng, n_products - n_cat, shares)])
    )  # every category has at least one SKU
    median = np.array([CATEGORY_SPEC[c][0] for c in CATEGORIES])[cat]
    sigma = np.array([CATEGORY_SPEC[c][1] for c in CATEGORIES])[cat]
    list_price = _money(np.maximum(0.5, _lognormal_median(rng, median, sigma)))
    unit_cost = _money(list_price * rng.uniform(0.55, 0.80, n_products))
    supplier = np.empty(n_products, dtype=np.int64)
    for k in range(n_cat):
        mine = np.flatnonzero(sup_cat == k)
        rows = np.flatnonzero(cat == k)
        supplier[rows] = mine[rng.integers(0, len(mine), len(rows))]
    shuffled = np.lexsort((rng.random(n_products), cat))  # popularity rank, shuffled per category
    rank = np.empty(n_products, dtype=np.int64)
    rank[shuffled] = _rank_within(cat[shuffled]) + 1
    popularity = 1.0 / rank**0.9
    names = []
    for i in range(n_products):
        nouns = PRODUCT_NOUNS[CATEGORIES[cat[i]]]
        noun = nouns[rng.integers(len(nouns))]
        names.append(f"{noun} {CATEGORIES[cat[i]][:2].upper()}-{100 + rng.integers(900)}")
    return Catalogue(
        supplier_id=[f"SUP-{i + 1:03d}" for i in range(n_suppliers)],
        supplier_name=sup_names,
        supplier_region=sup_region,
        supplier_category=sup_cat,
        on_time_prob=on_time,
        in_full_prob=in_full,
        lead_mean=lead_mean,
        lead_sd=lead_sd,
        quoted_lead=quoted.astype(np.int64),
        defect_rate=defect,
        price_sd=price_sd,
        sku=[f"SKU-{i + 1:05d}" for i in range(n_products)],
        product_name=names,
        category=cat,
        list_price=list_price,
        unit_cost=unit_cost,
        supplier=supplier,
        popularity=popularity,
    )


def _sku_sampler(cat: Catalogue) -> np.ndarray:
    """Keys for inverse-CDF SKU draws: category index + cumulative share within the category."""
    keys = np.empty(cat.n_sku)
    for k in range(len(CATEGORIES)):
        rows = np.flatnonzero(cat.category == k)
        c = np.cumsum(cat.popularity[rows])
        c /= c[-1]
        c[-1] = 1.0
        keys[rows] = k + c
    return keys


def _category_probs(cal_months: int = 12) -> np.ndarray:
    """P(category | month, industry, cluster) as cumulative sums, shape (12, industries,
    clusters, categories): base share x month x industry affinity x the cluster's preferred
    category multiplier (CLUSTER_CATEGORY_MULTIPLIER)."""
    base = np.array([CATEGORY_SPEC[c][2] for c in CATEGORIES])
    season = np.array([CATEGORY_MONTHLY[c] for c in CATEGORIES]).T  # (12, C)
    aff = np.ones((len(schema.INDUSTRIES), len(CATEGORIES)))
    for i, ind in enumerate(schema.INDUSTRIES):
        for c, m in INDUSTRY_AFFINITY.get(ind, {}).items():
            aff[i, CATEGORIES.index(c)] = m
    pref = np.ones((len(CLUSTERS), len(CATEGORIES)))
    for k, (_, _, _, category) in enumerate(CLUSTERS.values()):
        pref[k, CATEGORIES.index(category)] = CLUSTER_CATEGORY_MULTIPLIER
    p = base[None, None, None, :] * season[:, None, None, :] * aff[None, :, None, :]
    p = p * pref[None, None, :, :]
    p /= p.sum(axis=3, keepdims=True)
    return np.cumsum(p, axis=3)


# ---------------------------------------------------------------------------------------------
# Paid media and signups
# ---------------------------------------------------------------------------------------------
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


def unpaid_journeys_per_day(cal: Calendar, scale: float) -> dict[str, np.ndarray]:
    """Expected anonymous journeys per day for organic / direct / referral:
    ``base * scale * (1 + growth t/T) * web_monthly[month] * web_weekly[weekday]``."""
    t = np.arange(cal.n_days)
    season = _norm(WEB_MONTHLY)[cal.month] * _norm(WEB_WEEKLY)[cal.weekday]
    growth = 1 + WEB_GROWTH * t / cal.n_days
    return {ch: base * scale * growth * season for ch, base in ORGANIC_JOURNEYS.items()}


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


# ---------------------------------------------------------------------------------------------
# Accounts and the purchase process
# ---------------------------------------------------------------------------------------------
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


def simulate_bgnbd(
    rng: np.random.Generator, lam: np.ndarray, p: np.ndarray, t_weeks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Repeat purchases of the BG/NBD model (Fader, Hardie & Lee 2005).

    For account i observed for ``T_i`` weeks after its first purchase: the underlying Poisson
    process has ``K_i ~ Poisson(lambda_i T_i)`` events at uniform times in ``(0, T_i)``; the
    account drops out right after its ``J_i ~ Geometric(p_i)``-th repeat purchase, so it makes
    ``min(K_i, J_i)`` repeat purchases and is alive at ``T_i`` iff ``J_i > K_i``.

    Returns (owner index per repeat purchase, time in weeks after the first purchase, repeat
    count per account, alive flag per account), purchases sorted by owner then time.
    """
    k = rng.poisson(lam * t_weeks)
    j = rng.geometric(p)
    n_rep = np.minimum(k, j)
    owner = np.repeat(np.arange(len(lam)), k)
    u = rng.random(owner.size) * t_weeks[owner]
    order = np.lexsort((u, owner))
    owner, u = owner[order], u[order]
    keep = _rank_within(owner) < n_rep[owner]
    return owner[keep], u[keep], n_rep, j > k


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


@dataclass
class OrderBook:
    """All orders (not lines): owner index, timestamp, order id; sorted by owner then time."""

    owner: np.ndarray
    ts: np.ndarray
    order_id: np.ndarray
    starts: np.ndarray  # first row per account


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
    t_weeks = (cal.end_us - first_us) / US_WEEK
    owner, u, n_rep, alive = simulate_bgnbd(rng, lam, p, t_weeks)
    rep_day_us = (first_us[owner] + (u * US_WEEK).astype(np.int64)) // US_DAY * US_DAY
    rep_ts = rep_day_us + _time_of_day(rng, len(owner), ORDER_HOURS)
    all_owner = np.concatenate([np.arange(n), owner])
    all_ts = np.concatenate([first_us, rep_ts])
    srt = np.lexsort((all_ts, all_owner))
    all_owner, all_ts = all_owner[srt], all_ts[srt]
    time_rank = np.empty(len(all_ts), dtype=np.int64)
    time_rank[np.lexsort((all_owner, all_ts))] = np.arange(len(all_ts))
    order_id = 1_000_001 + time_rank
    n_orders = 1 + n_rep
    starts = np.concatenate([[0], np.cumsum(n_orders)[:-1]])
    last_us = all_ts[starts + n_orders - 1]
    dropout_us = np.where(alive, -1, last_us)

    end_day = cal.n_days - 1
    tenure = end_day - day
    recency = end_day - (last_us - cal.start_us) // US_DAY
    lam_q50, lam_q75 = _lambda_quantiles()
    archetype = assign_archetypes(lam, alive, tenure, recency, lam_q50, lam_q75)

    z_cut = GAMMA_GAMMA["p"] / stats.gamma.ppf(
        1 - COST_TO_SERVE["value_quantile"], GAMMA_GAMMA["q"], scale=1 / GAMMA_GAMMA["gamma"]
    )
    eligible = (lam >= lam_q50) & (GAMMA_GAMMA["p"] / nu <= z_cut) & (n_orders >= 3)
    cts = eligible & (rng.random(n) < COST_TO_SERVE["selection_prob"])
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
        dropout_us=dropout_us,
        n_orders=n_orders,
        last_order_us=last_us,
        archetype=archetype,
        cost_to_serve=cts,
        cluster=cluster,
        n_contacts=n_contacts,
    )
    accounts.names = company_names(rng, industry, region, chinese)
    return accounts, OrderBook(owner=all_owner, ts=all_ts, order_id=order_id, starts=starts)


def _lambda_quantiles() -> tuple[float, float]:
    g = stats.gamma(BGNBD["r"], scale=1 / BGNBD["alpha"])
    return float(g.ppf(0.5)), float(g.ppf(0.75))


def bgnbd_expected_repeats(t_weeks: np.ndarray, r: float, alpha: float, a: float, b: float):
    """E[X(t)], expected repeat purchases in (0, t] (Fader, Hardie & Lee 2005, eq. 9)."""
    t = np.asarray(t_weeks, dtype=np.float64)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


# ---------------------------------------------------------------------------------------------
# Campaigns (email / SMS) definitions
# ---------------------------------------------------------------------------------------------
CAMPAIGN_THEMES = (
    "Spring restock",
    "New catalogue",
    "Safety month",
    "Mid-year deals",
    "Summer cooling",
    "Back to business",
    "Q4 packaging",
    "Year-end clearance",
    "Loyalty rewards",
    "Reactivation offer",
)


@dataclass
class CrmCampaigns:
    campaign_id: list[str]
    channel: np.ndarray  # 0 email, 1 sms
    name: list[str]
    send_day: np.ndarray
    has_control: np.ndarray


def make_crm_campaigns(rng: np.random.Generator, cal: Calendar) -> CrmCampaigns:
    """Email and SMS campaigns spread over the window (sent at least 21 days before the end, so
    every conversion window closes inside it); ``has_control`` ~ Bernoulli per channel."""
    ids, chans, names, days, ctrl = [], [], [], [], []
    last = cal.n_days - 21
    for ci, ch in enumerate(("email", "sms")):
        k = CRM_CAMPAIGNS[ch]
        base = np.linspace(30, last, k + 1)[:-1] + rng.uniform(0, (last - 30) / k, k)
        for i, d in enumerate(np.sort(base.astype(np.int64))):
            day = cal.start + timedelta(days=int(d))
            ids.append(f"{'EM' if ch == 'email' else 'SMS'}-{day:%Y%m}-{i + 1:02d}")
            chans.append(ci)
            theme = CAMPAIGN_THEMES[rng.integers(len(CAMPAIGN_THEMES))]
            names.append(f"{theme} {day:%b %Y} ({ch})")
            days.append(int(d))
            ctrl.append(bool(rng.random() < HAS_CONTROL_PROB[ch]))
        if len(set(ctrl[-k:])) == 1:  # keep both kinds on every channel
            ctrl[-1] = not ctrl[-1]
    return CrmCampaigns(ids, np.array(chans), names, np.array(days), np.array(ctrl))


# ---------------------------------------------------------------------------------------------
# Chunk stage 1: everything that hangs off an account, except fulfilment
# ---------------------------------------------------------------------------------------------
@dataclass
class Context:
    """What every stage needs to read."""

    cal: Calendar
    seed: int
    scale: float
    cat: Catalogue
    accounts: Accounts
    book: OrderBook
    crm: CrmCampaigns
    sku_keys: np.ndarray
    cat_cum: np.ndarray
    ids: _Ids
    work: Path
    demand: np.ndarray  # (days, warehouses, skus) units to ship per day
    crm_sends: np.ndarray  # (campaigns, days)
    crm_opens: np.ndarray
    crm_clicks: np.ndarray
    value_errors: list = field(default_factory=list)


def build_order_lines(
    rng: np.random.Generator,
    ctx: Context,
    value: np.ndarray,
    month: np.ndarray,
    industry: np.ndarray,
    size_band: np.ndarray,
    cluster: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Lines whose revenue approximates each order's drawn value ``z``.

    ``n_lines = 1 + Poisson(4 (z / E[z]) ** 0.4)`` (capped at 20, duplicate SKUs merged);
    category ~ P(category | month, industry, cluster) (seasonal mix x industry affinity x the
    planted cluster's preferred category), SKU ~ popularity
    within the category; discount from the size band's tiers; the order's value is split over
    lines with weights ``Gamma(1) * net_list ** 0.7`` (lines worth under half a unit are dropped
    and the value re-split, keeping at least the cheapest line);
    ``quantity = max(1, round(v / net_list))``;
    a negotiated price factor ``clip(z / sum(q net_list), 0.85, 1.15)`` on the list price closes
    the gap, so revenue = z except where the clip binds.
    """
    cat = ctx.cat
    mean_z = GAMMA_GAMMA["p"] * GAMMA_GAMMA["gamma"] / (GAMMA_GAMMA["q"] - 1)
    n_lines = 1 + rng.poisson(LINES_MU * (value / mean_z) ** LINES_ELASTICITY)
    n_lines = np.minimum(n_lines, MAX_LINES)
    pos = np.repeat(np.arange(len(value)), n_lines)
    cluster = np.zeros(len(value), dtype=np.int64) if cluster is None else cluster
    c = _choice_rows(rng, ctx.cat_cum[month[pos], industry[pos], cluster[pos]])
    sku = np.searchsorted(ctx.sku_keys, c + rng.random(len(pos)), side="right")
    sku = np.minimum(sku, cat.n_sku - 1)
    key = np.unique(pos * cat.n_sku + sku)
    pos, sku = key // cat.n_sku, key % cat.n_sku
    probs = np.array([DISCOUNT_PROBS[b] for b in schema.SIZE_BANDS])
    disc_idx = _choice_rows(rng, np.cumsum(probs, axis=1)[size_band[pos]])
    discount = np.array(DISCOUNT_LEVELS)[disc_idx]
    net_list = cat.list_price[sku] * (1 - discount)
    w = rng.gamma(1.0, 1.0, len(pos)) * net_list**0.7
    v = value[pos] * w / np.bincount(pos, weights=w, minlength=len(value))[pos]
    # lines worth less than half a unit are dropped (the order's cheapest line always stays)
    sub = v < 0.5 * net_list
    by_price = np.lexsort((net_list, pos))
    cheapest = np.zeros(len(pos), dtype=bool)
    cheapest[by_price[_rank_within(pos[by_price]) == 0]] = True
    keep = ~sub | (cheapest & (np.bincount(pos, weights=~sub, minlength=len(value)) == 0)[pos])
    pos, sku, discount, net_list, w = pos[keep], sku[keep], discount[keep], net_list[keep], w[keep]
    v = value[pos] * w / np.bincount(pos, weights=w, minlength=len(value))[pos]
    qty = np.maximum(1, np.round(v / net_list)).astype(np.int64)
    realised = np.bincount(pos, weights=qty * net_list, minlength=len(value))
    factor = np.clip(value / realised, *PRICE_FACTOR_RANGE)
    unit_price = _money(cat.list_price[sku] * factor[pos])
    revenue = np.bincount(pos, weights=qty * unit_price * (1 - discount), minlength=len(value))
    ctx.value_errors.append(revenue / value - 1)
    return {
        "pos": pos,
        "line_no": _rank_within(pos) + 1,
        "sku": sku,
        "quantity": qty,
        "unit_price": unit_price,
        "unit_cost": cat.unit_cost[sku],
        "discount": discount,
    }


def make_orders_chunk(rng: np.random.Generator, ctx: Context, lo: int, hi: int) -> dict:
    """Orders of accounts ``lo:hi``: warehouse, promised delivery, ship time, value, lines."""
    acc, cal, book = ctx.accounts, ctx.cal, ctx.book
    r0, r1 = book.starts[lo], (book.starts[hi] if hi < len(acc) else len(book.ts))
    owner, ts, oid = book.owner[r0:r1], book.ts[r0:r1], book.order_id[r0:r1]
    n = len(ts)
    wh = acc.home_wh[owner].copy()
    other = rng.random(n) < OTHER_WAREHOUSE_PROB
    wh[other] = (wh[other] + rng.integers(1, len(WAREHOUSES), other.sum())) % len(WAREHOUSES)
    home = (wh == acc.home_wh[owner]) & np.isin(acc.region[owner], [0, 1, 2])
    day_us = ts // US_DAY * US_DAY
    promised = day_us + np.where(home, PROMISED_DAYS["home"], PROMISED_DAYS["away"]) * US_DAY
    promised += 18 * US_HOUR
    handling = HANDLING_HOURS["min"] + rng.gamma(
        HANDLING_HOURS["shape"], HANDLING_HOURS["scale"], n
    )
    shipped_at = ts + (handling * US_HOUR).astype(np.int64)
    value = rng.gamma(GAMMA_GAMMA["p"], 1.0 / acc.nu[owner])
    day = (ts - cal.start_us) // US_DAY
    month = cal.month[day]
    lines = build_order_lines(
        rng, ctx, value, month, acc.industry[owner], acc.size_band[owner], acc.cluster[owner]
    )
    ship_day = (shipped_at - cal.start_us) // US_DAY
    ok = shipped_at < cal.end_us
    lp = lines["pos"]
    sel = ok[lp]
    np.add.at(
        ctx.demand, (ship_day[lp][sel], wh[lp][sel], lines["sku"][sel]), lines["quantity"][sel]
    )
    return {
        "owner": owner,
        "order_id": oid,
        "ts": ts,
        "wh": wh,
        "home": home,
        "promised": promised,
        "shipped_at": shipped_at,
        **{f"line_{k}": v for k, v in lines.items()},
    }


def write_orders(w: _Writer, o: dict, ctx: Context) -> None:
    acc = ctx.accounts
    srt = np.argsort(o["order_id"], kind="stable")
    w.write(
        "orders",
        {
            "order_id": o["order_id"][srt],
            "account_id": acc.account_id[o["owner"][srt]],
            "order_ts": _ts(o["ts"][srt]),
            "warehouse_id": _labels(WAREHOUSES, o["wh"][srt]),
            "promised_delivery": _ts(o["promised"][srt]),
        },
    )
    rank = np.empty_like(srt)
    rank[srt] = np.arange(len(srt))
    lsrt = np.lexsort((o["line_line_no"], rank[o["line_pos"]]))
    w.write(
        "order_lines",
        {
            "order_id": o["order_id"][o["line_pos"][lsrt]],
            "line_no": o["line_line_no"][lsrt],
            "sku": _labels(ctx.cat.sku, o["line_sku"][lsrt]),
            "quantity": o["line_quantity"][lsrt],
            "unit_price": o["line_unit_price"][lsrt],
            "unit_cost": o["line_unit_cost"][lsrt],
            "discount": o["line_discount"][lsrt],
        },
    )


def make_contacts(rng: np.random.Generator, ctx: Context, lo: int, hi: int) -> dict:
    """1-5 contacts per account (more for bigger accounts); contact_id = account_id * 10 + k.
    Consent: email 80 %, SMS 50 %; 8 % of emails and 15 % of phones missing."""
    acc = ctx.accounts
    idx = np.arange(lo, hi)
    owner = np.repeat(idx, acc.n_contacts[idx])
    k = _rank_within(owner)
    cid = acc.account_id[owner] * 10 + k
    names, emails, phones = person_records(rng, cid, acc.chinese[owner])
    n = len(cid)
    return {
        "owner": owner,
        "contact_id": cid,
        "name": names,
        "email": emails,
        "phone": phones,
        "email_missing": rng.random(n) < 0.08,
        "phone_missing": rng.random(n) < 0.15,
        "consent_email": rng.random(n) < 0.80,
        "consent_sms": rng.random(n) < 0.50,
    }


def write_contacts(w: _Writer, c: dict, ctx: Context) -> None:
    w.write(
        "contacts",
        {
            "contact_id": c["contact_id"],
            "account_id": ctx.accounts.account_id[c["owner"]],
            "name": pa.array(c["name"], type=pa.string()),
            "email": pa.array(c["email"], type=pa.string(), mask=c["email_missing"]),
            "phone": pa.array(c["phone"], type=pa.string(), mask=c["phone_missing"]),
            "consent_email": c["consent_email"] & ~c["email_missing"],
            "consent_sms": c["consent_sms"] & ~c["phone_missing"],
        },
    )


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


def write_leads(w: _Writer, ld: dict, ctx: Context) -> None:
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


def write_campaign_sends(w: _Writer, s: dict, ctx: Context) -> None:
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


# ---------------------------------------------------------------------------------------------
# Web journeys
# ---------------------------------------------------------------------------------------------
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


def write_web_events(w: _Writer, ev: dict, ctx: Context) -> None:
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


# ---------------------------------------------------------------------------------------------
# Inventory and purchase orders
# ---------------------------------------------------------------------------------------------
def pack_size(list_price: np.ndarray) -> np.ndarray:
    return np.select([list_price < 20, list_price < 100, list_price < 500], [50, 10, 5], 1)


def window_months(cal: Calendar) -> np.ndarray:
    """Index of each day's calendar month within the window (0 = the first month)."""
    days = (np.arange(cal.n_days) + cal.start_day).astype("datetime64[D]")
    m = days.astype("datetime64[M]").astype(np.int64)
    return m - m[0]


def reorder_levels(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(s, S) per window month x warehouse x SKU: the planner knows each month's mean demand.

    ``s = ceil(mu_m (L + R) + z sqrt((L + R) sd^2 + mu_m^2 sd_L^2))`` with ``mu_m`` the mean
    daily demand of the month, ``sd`` the sd of daily demand over the window, L and sd_L the
    supplier's lead-time mean and sd, R = 2 review days, z = 2.0;
    ``S = s + max(ceil(mu_m * 14), pack)``; every pair holds at least 5 units. On day t the
    levels of the month of day ``t + 14`` apply (orders placed now arrive then).
    """
    cat = ctx.cat
    month = window_months(ctx.cal)
    n_m = int(month[-1]) + 1
    mu = np.zeros((n_m,) + ctx.demand.shape[1:])
    np.add.at(mu, month, ctx.demand)
    mu /= np.bincount(month, minlength=n_m)[:, None, None]
    sd = ctx.demand.std(axis=0)[None]
    horizon = cat.lead_mean[cat.supplier][None, None, :] + REORDER["review_days"]
    sd_lead = cat.lead_sd[cat.supplier][None, None, :]
    safety = REORDER["service_z"] * np.sqrt(horizon * sd**2 + mu**2 * sd_lead**2)
    s = np.ceil(mu * horizon + safety)
    pack = pack_size(cat.list_price)[None, None, :]
    big_s = s + np.maximum(np.ceil(mu * REORDER["cycle_days"]), pack)
    big_s = np.maximum(big_s, REORDER["min_stock"])
    return s.astype(np.int64), big_s.astype(np.int64)


def simulate_inventory(
    rng: np.random.Generator, ctx: Context
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Daily stock per warehouse x SKU under the (s, S) policy.

    Day t: ``available = on_hand + usable receipts``; ``shipped = min(available, demand)``;
    ``on_hand = available - shipped``; if ``on_hand + on_order <= s`` a PO for
    ``S - position`` (rounded up to the pack size) goes to the SKU's supplier at the end of the
    day. Its lead time is ``max(1, round(Normal(mean, sd)))`` days; it arrives in full with
    ``in_full_prob``, else 50-95 % of it; ``defects ~ Binomial(received, defect_rate)`` go back
    to the supplier, the rest is stocked. POs still due after end_date have no receipt.
    Returns (on_hand, shipped) of shape (days, warehouses, skus) and the PO columns.
    """
    cat, cal = ctx.cat, ctx.cal
    n_days = cal.n_days
    s_m, big_s_m = reorder_levels(ctx)
    plan_month = window_months(cal)[
        np.minimum(np.arange(n_days) + REORDER["forecast_days"], n_days - 1)
    ]
    on_hand = big_s_m[plan_month[0]].copy()
    on_order = np.zeros_like(on_hand)
    pad = n_days + int(cat.lead_mean.max() + 6 * cat.lead_sd.max()) + 5
    receipts = np.zeros((pad,) + on_hand.shape, dtype=np.int32)
    arriving = np.zeros_like(receipts)
    hist = np.empty((n_days,) + on_hand.shape, dtype=np.int32)
    shipped = np.empty_like(hist)
    pack = pack_size(cat.list_price)
    po = {k: [] for k in ("day", "wh", "sku", "qty", "lead", "received", "defects")}
    for t in range(n_days):
        avail = on_hand + receipts[t]
        on_order -= arriving[t]
        ship = np.minimum(avail, ctx.demand[t])
        on_hand = avail - ship
        hist[t], shipped[t] = on_hand, ship
        position = on_hand + on_order
        s, big_s = s_m[plan_month[t]], big_s_m[plan_month[t]]
        w_idx, s_idx = np.nonzero(position <= s)
        if len(w_idx) == 0:
            continue
        qty = big_s[w_idx, s_idx] - position[w_idx, s_idx]
        qty = np.maximum(pack[s_idx], -(-qty // pack[s_idx]) * pack[s_idx])
        sup = cat.supplier[s_idx]
        lead = np.maximum(1, np.round(rng.normal(cat.lead_mean[sup], cat.lead_sd[sup])))
        lead = np.minimum(lead, pad - t - 1).astype(np.int64)
        in_full = rng.random(len(qty)) < cat.in_full_prob[sup]
        received = np.where(
            in_full, qty, np.maximum(1, np.floor(qty * rng.uniform(0.5, 0.95, len(qty))))
        ).astype(np.int64)
        defects = rng.binomial(received, cat.defect_rate[sup])
        arrive = t + lead
        received = np.where(arrive < n_days, received, 0)
        defects = np.where(arrive < n_days, defects, 0)
        receipts[arrive, w_idx, s_idx] += received - defects
        arriving[arrive, w_idx, s_idx] += qty
        on_order[w_idx, s_idx] += qty
        new = (np.full(len(qty), t), w_idx, s_idx, qty, lead, received, defects)
        for key, val in zip(po, new, strict=True):
            po[key].append(val)
    po = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in po.items()}
    return hist, shipped, po


def write_purchase_orders(w: _Writer, rng: np.random.Generator, ctx: Context, po: dict) -> None:
    cat, cal = ctx.cat, ctx.cal
    n = len(po["day"])
    srt = np.lexsort((po["sku"], po["wh"], po["day"]))
    po = {k: v[srt] for k, v in po.items()}
    sup = cat.supplier[po["sku"]]
    day_us = cal.start_us + po["day"] * US_DAY
    ordered = day_us + 16 * US_HOUR + rng.integers(0, 3 * US_HOUR, n)
    promised = day_us + cat.quoted_lead[sup] * US_DAY + 17 * US_HOUR
    received_at = day_us + po["lead"] * US_DAY + _time_of_day(rng, n, OFFICE_HOURS)
    open_ = received_at >= cal.end_us
    cost = _money(cat.unit_cost[po["sku"]] * np.exp(cat.price_sd[sup] * rng.standard_normal(n)))
    w.write(
        "purchase_orders",
        {
            "po_id": 500_001 + np.arange(n, dtype=np.int64),
            "supplier_id": _labels(cat.supplier_id, sup),
            "sku": _labels(cat.sku, po["sku"]),
            "warehouse_id": _labels(WAREHOUSES, po["wh"]),
            "qty_ordered": po["qty"],
            "qty_received": np.where(open_, 0, po["received"]),
            "ordered_at": _ts(ordered),
            "promised_at": _ts(promised),
            "received_at": _ts(received_at, open_),
            "unit_cost": cost,
            "defects": np.where(open_, 0, po["defects"]),
        },
    )


def write_inventory(w: _Writer, ctx: Context, on_hand: np.ndarray, rows_per_part: int) -> None:
    n_days, n_wh, n_sku = on_hand.shape
    days_per_part = max(1, rows_per_part // (n_wh * n_sku))
    wh = np.repeat(np.arange(n_wh), n_sku)
    sku = np.tile(np.arange(n_sku), n_wh)
    for d0 in range(0, n_days, days_per_part):
        d1 = min(n_days, d0 + days_per_part)
        k = d1 - d0
        w.write(
            "inventory",
            {
                "date": _dates(np.repeat(ctx.cal.start_day + np.arange(d0, d1), n_wh * n_sku)),
                "warehouse_id": _labels(WAREHOUSES, np.tile(wh, k)),
                "sku": _labels(ctx.cat.sku, np.tile(sku, k)),
                "on_hand": on_hand[d0:d1].reshape(-1).astype(np.int64),
            },
        )


# ---------------------------------------------------------------------------------------------
# Chunk stage 2: fulfilment, returns, service
# ---------------------------------------------------------------------------------------------
def allocate_shipped(
    ctx: Context, o: dict, shipped: np.ndarray, consumed: np.ndarray
) -> np.ndarray:
    """Units shipped per line: lines take the day's shipped stock of their (warehouse, SKU) in
    chunk order, then ship time; ``shipped_line = clip(shipped_total - demand_before, 0, q)``,
    so the lines of a (day, warehouse, SKU) add up to exactly the simulated shipments."""
    cal = ctx.cal
    lp = o["line_pos"]
    ship_day = (o["shipped_at"][lp] - cal.start_us) // US_DAY
    ok = o["shipped_at"][lp] < cal.end_us
    out = np.zeros(len(lp), dtype=np.int64)
    rows = np.flatnonzero(ok)
    flat = np.ravel_multi_index(
        (ship_day[rows], o["wh"][lp][rows], o["line_sku"][rows]), shipped.shape
    )
    srt = np.lexsort((o["shipped_at"][lp][rows], flat))
    rows, flat = rows[srt], flat[srt]
    q = o["line_quantity"][rows]
    before = consumed.reshape(-1)[flat] + _cumsum_within(q, flat, exclusive=True)
    out[rows] = np.clip(shipped.reshape(-1)[flat] - before, 0, q)
    np.add.at(consumed.reshape(-1), flat, q)
    return out


def make_fulfilment(
    rng: np.random.Generator, ctx: Context, o: dict, line_shipped: np.ndarray
) -> dict:
    """One shipment per order with at least one unit shipped: carrier by CARRIERS weights;
    delivery after LogNormal(mean transit, 0.35) days (+1.5 days out of region); cost =
    fixed + per_unit * units ** 0.7 (x1.3 out of region). Delivery after end_date is null."""
    cal = ctx.cal
    n = len(o["order_id"])
    qty = np.bincount(o["line_pos"], weights=line_shipped, minlength=n).astype(np.int64)
    ordered = np.bincount(o["line_pos"], weights=o["line_quantity"], minlength=n).astype(np.int64)
    spec = np.array(list(CARRIERS.values()))
    carrier = _choice(rng, n, spec[:, 3])
    transit = spec[carrier, 0] * np.exp(TRANSIT_SIGMA * rng.standard_normal(n))
    transit = transit + np.where(o["home"], 0.0, CROSS_REGION_EXTRA_DAYS)
    delivered = o["shipped_at"] + (transit * US_DAY).astype(np.int64)
    cost = spec[carrier, 1] + spec[carrier, 2] * qty**0.7
    cost = _money(cost * np.where(o["home"], 1.0, 1.3))
    has = (qty > 0) & (o["shipped_at"] < cal.end_us)
    return {
        "has": has,
        "qty": qty,
        "ordered": ordered,
        "carrier": carrier,
        "delivered": delivered,
        "delivered_null": delivered >= cal.end_us,
        "cost": cost,
        "short": has & (qty < ordered),
        "late": has & (delivered > o["promised"]),
    }


def write_shipments(w: _Writer, ctx: Context, o: dict, f: dict) -> None:
    rows = np.flatnonzero(f["has"])
    rows = rows[np.argsort(o["shipped_at"][rows], kind="stable")]
    w.write(
        "shipments",
        {
            "shipment_id": ctx.ids.take("shipment", len(rows), start=2_000_001),
            "order_id": o["order_id"][rows],
            "carrier": _labels(list(CARRIERS), f["carrier"][rows]),
            "shipped_at": _ts(o["shipped_at"][rows]),
            "delivered_at": _ts(f["delivered"][rows], f["delivered_null"][rows]),
            "qty_shipped": f["qty"][rows],
            "cost": f["cost"][rows],
        },
    )


def make_returns(
    rng: np.random.Generator, ctx: Context, o: dict, f: dict, line_shipped: np.ndarray
) -> dict:
    """Per delivered line: returned with P = category rate (x1.5 if late, + 0.40 for the planted
    cost-to-serve accounts); quantity 1 + Binomial(shipped - 1, 0.3) (the whole shipped quantity
    for the cost-to-serve set); returned 0.5 + Gamma(2, 3) days after delivery;
    refund = quantity x unit_price x (1 - discount)."""
    acc, cal = ctx.accounts, ctx.cal
    lp = o["line_pos"]
    delivered_ok = f["has"][lp] & ~f["delivered_null"][lp] & (line_shipped > 0)
    rate = np.array([CATEGORY_SPEC[c][3] for c in CATEGORIES])[ctx.cat.category[o["line_sku"]]]
    rate = rate * np.where(f["late"][lp], 1.5, 1.0)
    cts = acc.cost_to_serve[o["owner"][lp]]
    rate = rate + COST_TO_SERVE["extra_return_prob_per_line"] * cts
    ret = delivered_ok & (rng.random(len(lp)) < rate)
    rows = np.flatnonzero(ret)
    qty = 1 + rng.binomial(line_shipped[rows] - 1, 0.3)
    qty = np.where(cts[rows], line_shipped[rows], qty)
    when = f["delivered"][lp[rows]] + ((0.5 + rng.gamma(2.0, 3.0, len(rows))) * US_DAY).astype(
        np.int64
    )
    keep = when < cal.end_us
    rows, qty, when = rows[keep], qty[keep], when[keep]
    late = f["late"][lp[rows]]
    reason = np.where(
        late & (rng.random(len(rows)) < 0.5), 4, _choice(rng, len(rows), (0.25, 0.2, 0.3, 0.25))
    )
    refund = _money(qty * o["line_unit_price"][rows] * (1 - o["line_discount"][rows]))
    return {"rows": rows, "qty": qty, "when": when, "reason": reason, "refund": refund}


def write_returns(w: _Writer, ctx: Context, o: dict, r: dict) -> None:
    srt = np.argsort(r["when"], kind="stable")
    rows = r["rows"][srt]
    w.write(
        "returns",
        {
            "return_id": ctx.ids.take("return", len(rows), start=3_000_001),
            "order_id": o["order_id"][o["line_pos"][rows]],
            "sku": _labels(ctx.cat.sku, o["line_sku"][rows]),
            "quantity": r["qty"][srt],
            "returned_at": _ts(r["when"][srt]),
            "refund": r["refund"][srt],
            "reason": _labels(RETURN_REASONS, r["reason"][srt]),
        },
    )


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


def write_tickets(w: _Writer, ctx: Context, t: dict) -> None:
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


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
class _Writer:
    """Writes ``<root>/<table>/part-NNNNN.parquet`` with the schema's Arrow types."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rows = {t: 0 for t in schema.TABLE_NAMES}
        self.parts = {t: 0 for t in schema.TABLE_NAMES}
        for t in schema.TABLE_NAMES:
            (root / t).mkdir(parents=True, exist_ok=True)

    def write(self, table: str, cols: dict[str, Any], allow_empty: bool = False) -> None:
        spec = schema.TABLES[table].columns
        if list(cols) != list(spec):
            raise ValueError(f"{table}: columns {list(cols)} != schema {list(spec)}")
        target = arrow_schema(table)
        arrays = []
        for (name, col), field_ in zip(spec.items(), target, strict=True):
            v = cols[name]
            if not isinstance(v, pa.Array):
                v = pa.array(np.asarray(v), type=field_.type)
            if v.type != field_.type:
                raise TypeError(f"{table}.{name}: {v.type} != {field_.type} ({col.dtype})")
            arrays.append(v)
        tbl = pa.Table.from_arrays(arrays, schema=target)
        if tbl.num_rows == 0 and not allow_empty:
            return
        path = self.root / table / f"part-{self.parts[table]:05d}.parquet"
        pq.write_table(tbl, path, compression="zstd", row_group_size=1 << 20)
        self.parts[table] += 1
        self.rows[table] += tbl.num_rows

    def finish(self) -> None:
        """Tables that got no rows still get an empty part with the right schema."""
        for t in schema.TABLE_NAMES:
            if self.parts[t] == 0:
                empty = {
                    c: pa.array([], type=f.type)
                    for c, f in zip(schema.TABLES[t].columns, arrow_schema(t), strict=True)
                }
                self.write(t, empty, allow_empty=True)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
STREAM = {
    "catalogue": 1,
    "media": 2,
    "accounts": 3,
    "crm": 4,
    "clusters": 5,
    "orders": 10,
    "contacts": 11,
    "leads": 12,
    "sends": 13,
    "web_known": 14,
    "web_anon": 15,
    "inventory": 20,
    "po": 21,
    "fulfilment": 30,
    "returns": 31,
    "tickets": 32,
}


def sizes(scale: float) -> dict[str, int]:
    """Row-count drivers for ``scale``."""
    return {
        "accounts": max(MIN_ACCOUNTS, int(round(ACCOUNTS_PER_SCALE * scale))),
        "products": max(MIN_PRODUCTS, int(round(PRODUCTS_PER_SCALE * math.sqrt(scale)))),
        "suppliers": max(MIN_SUPPLIERS, int(round(SUPPLIERS_PER_SCALE * math.sqrt(scale)))),
    }


def _check_out_dir(out: Path) -> None:
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").exists())
    ):
        raise FileExistsError(
            f"{out} exists and is not a generated dataset (no manifest.json); "
            "choose another --out or remove it"
        )


def generate(
    out_dir: str | os.PathLike,
    scale: float = 1.0,
    seed: int = 0,
    end_date: str | date = DEFAULT_END_DATE,
    years: int = 2,
    progress: bool = True,
) -> dict:
    """Generate the synthetic dataset into ``out_dir`` and return its manifest.

    The data are written to a temporary folder beside ``out_dir`` that replaces it at the end,
    so a crash never leaves half a dataset. An existing ``out_dir`` is replaced only if it is
    empty or holds a previous dataset (``manifest.json``).
    """
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    t0 = time.perf_counter()
    out = Path(out_dir).resolve()
    _check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        counts, truth = _generate_into(tmp, scale, seed, end_date, years, progress)
        cal = make_calendar(end_date, years)
        manifest = {
            "generator": "helpers.data.generate",
            "generator_version": GENERATOR_VERSION,
            "scale": scale,
            "seed": seed,
            "start_date": cal.start.isoformat(),
            "end_date": cal.end.isoformat(),
            "years": years,
            "row_counts": counts["rows"],
            "parts": counts["parts"],
            "truth": "truth.json",
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "elapsed_seconds": round(time.perf_counter() - t0, 2),
        }
        (tmp / "truth.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _swap_in(tmp: Path, out: Path) -> None:
    if out.exists():
        _check_out_dir(out)
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def _generate_into(
    root: Path, scale: float, seed: int, end_date, years: int, progress: bool
) -> tuple[dict, dict]:
    cal = make_calendar(end_date, years)
    n = sizes(scale)
    cat = make_catalogue(_rng(seed, STREAM["catalogue"]), n["suppliers"], n["products"])
    media = simulate_paid_media(_rng(seed, STREAM["media"]), cal, scale)
    unpaid = unpaid_journeys_per_day(cal, scale)
    weights = signup_weights(cal, media, unpaid)
    accounts, book = make_accounts(
        _rng(seed, STREAM["accounts"]),
        cal,
        n["accounts"],
        weights,
        cluster_rng=_rng(seed, STREAM["clusters"]),
    )
    crm = make_crm_campaigns(_rng(seed, STREAM["crm"]), cal)
    work = root / "_work"
    work.mkdir()
    ctx = Context(
        cal=cal,
        seed=seed,
        scale=scale,
        cat=cat,
        accounts=accounts,
        book=book,
        crm=crm,
        sku_keys=_sku_sampler(cat),
        cat_cum=_category_probs(),
        ids=_Ids(),
        work=work,
        demand=np.zeros((cal.n_days, len(WAREHOUSES), cat.n_sku), dtype=np.int32),
        crm_sends=np.zeros((len(crm.campaign_id), cal.n_days), dtype=np.int64),
        crm_opens=np.zeros((len(crm.campaign_id), cal.n_days), dtype=np.int64),
        crm_clicks=np.zeros((len(crm.campaign_id), cal.n_days), dtype=np.int64),
    )
    w = _Writer(root)
    chunks = [
        (lo, min(lo + CHUNK_ACCOUNTS, len(accounts)))
        for lo in range(0, len(accounts), CHUNK_ACCOUNTS)
    ]
    anon_total = sum(v.sum() for v in unpaid.values()) + CLICK_TO_VISIT * sum(
        v.sum() for v in media.clicks_by_channel_day.values()
    )
    n_blocks = max(1, int(math.ceil(anon_total / ANON_JOURNEYS_PER_BLOCK)))
    bar = tqdm(
        total=2 * len(chunks) + n_blocks + 2,
        desc="generate",
        unit="step",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        bar.set_postfix_str("accounts")
        for ci, (lo, hi) in enumerate(chunks):
            _chunk_stage_one(ctx, w, ci, lo, hi)
            bar.update()
        paid_visits = media.clicks_by_channel_day
        for bi, days in enumerate(np.array_split(np.arange(cal.n_days), n_blocks)):
            bar.set_postfix_str("web traffic")
            ev = anonymous_journeys(
                _rng(seed, STREAM["web_anon"], bi), ctx, days, paid_visits, unpaid
            )
            write_web_events(w, ev, ctx)
            bar.update()
        bar.set_postfix_str("inventory")
        on_hand, shipped, po = simulate_inventory(_rng(seed, STREAM["inventory"]), ctx)
        write_purchase_orders(w, _rng(seed, STREAM["po"]), ctx, po)
        write_inventory(w, ctx, on_hand, rows_per_part=2_000_000)
        bar.update()
        consumed = np.zeros_like(shipped)
        fulfil_stats = {
            "orders": 0,
            "short": 0,
            "late": 0,
            "shipped_orders": 0,
            "by_carrier": np.zeros(len(CARRIERS), dtype=np.int64),
            "late_by_carrier": np.zeros(len(CARRIERS), dtype=np.int64),
        }
        contribution = np.zeros(len(accounts))
        for ci, (lo, hi) in enumerate(chunks):
            bar.set_postfix_str("fulfilment")
            _chunk_stage_two(ctx, w, ci, lo, hi, shipped, consumed, fulfil_stats, contribution)
            bar.update()
        del consumed
        bar.set_postfix_str("tables")
        _write_small_tables(w, ctx, media)
        w.finish()
        bar.update()
    finally:
        bar.close()
    shutil.rmtree(work)
    truth = build_truth(ctx, media, on_hand, shipped, po, fulfil_stats, contribution, weights)
    return {"rows": w.rows, "parts": w.parts}, truth


def _chunk_stage_one(ctx: Context, w: _Writer, ci: int, lo: int, hi: int) -> None:
    seed = ctx.seed
    o = make_orders_chunk(_rng(seed, STREAM["orders"], ci), ctx, lo, hi)
    write_orders(w, o, ctx)
    np.savez(ctx.work / f"orders-{ci:05d}.npz", **o)
    contacts = make_contacts(_rng(seed, STREAM["contacts"], ci), ctx, lo, hi)
    write_contacts(w, contacts, ctx)
    write_leads(w, make_leads(_rng(seed, STREAM["leads"], ci), ctx, lo, hi), ctx)
    sends = make_campaign_sends(_rng(seed, STREAM["sends"], ci), ctx, lo, contacts)
    write_campaign_sends(w, sends, ctx)
    ev = known_account_journeys(_rng(seed, STREAM["web_known"], ci), ctx, lo, hi, contacts, sends)
    write_web_events(w, ev, ctx)


def _chunk_stage_two(
    ctx: Context,
    w: _Writer,
    ci: int,
    lo: int,
    hi: int,
    shipped: np.ndarray,
    consumed: np.ndarray,
    stats_: dict,
    contribution: np.ndarray,
) -> None:
    seed = ctx.seed
    with np.load(ctx.work / f"orders-{ci:05d}.npz") as z:
        o = {k: z[k] for k in z.files}
    line_shipped = allocate_shipped(ctx, o, shipped, consumed)
    f = make_fulfilment(_rng(seed, STREAM["fulfilment"], ci), ctx, o, line_shipped)
    write_shipments(w, ctx, o, f)
    r = make_returns(_rng(seed, STREAM["returns"], ci), ctx, o, f, line_shipped)
    write_returns(w, ctx, o, r)
    t = make_tickets(_rng(seed, STREAM["tickets"], ci), ctx, lo, hi, o, f)
    write_tickets(w, ctx, t)
    stats_["orders"] += len(o["order_id"])
    stats_["shipped_orders"] += int(f["has"].sum())
    stats_["short"] += int(f["short"].sum())
    stats_["late"] += int(f["late"].sum())
    has = f["has"]
    stats_["by_carrier"] += np.bincount(f["carrier"][has], minlength=len(CARRIERS))
    stats_["late_by_carrier"] += np.bincount(f["carrier"][has & f["late"]], minlength=len(CARRIERS))
    lp = o["line_pos"]
    net = o["line_unit_price"] * (1 - o["line_discount"]) - o["line_unit_cost"]
    margin = o["line_quantity"] * net
    n_acc = len(ctx.accounts)
    contribution += np.bincount(o["owner"][lp], weights=margin, minlength=n_acc)
    contribution -= np.bincount(o["owner"][lp[r["rows"]]], weights=r["refund"], minlength=n_acc)
    contribution -= np.bincount(o["owner"][f["has"]], weights=f["cost"][f["has"]], minlength=n_acc)
    contribution -= np.bincount(t["owner"], weights=t["cost"], minlength=n_acc)
    (ctx.work / f"orders-{ci:05d}.npz").unlink()


def _write_small_tables(w: _Writer, ctx: Context, media: PaidMedia) -> None:
    acc, cat, cal, crm = ctx.accounts, ctx.cat, ctx.cal, ctx.crm
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
    w.write(
        "products",
        {
            "sku": pa.array(cat.sku, type=pa.string()),
            "name": pa.array(cat.product_name, type=pa.string()),
            "category": _labels(CATEGORIES, cat.category),
            "unit_cost": cat.unit_cost,
            "list_price": cat.list_price,
            "supplier_id": _labels(cat.supplier_id, cat.supplier),
            "lead_time_days": cat.quoted_lead[cat.supplier],
        },
    )
    w.write(
        "suppliers",
        {
            "supplier_id": pa.array(cat.supplier_id, type=pa.string()),
            "name": pa.array(cat.supplier_name, type=pa.string()),
            "region": _labels(schema.REGIONS, cat.supplier_region),
        },
    )
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


# ---------------------------------------------------------------------------------------------
# Truth
# ---------------------------------------------------------------------------------------------
def _r(x):
    """JSON-ready, rounded to 6 significant digits (keeps truth.json small and stable)."""
    if isinstance(x, dict):
        return {k: _r(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_r(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_r(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return _round6(x)
    return x


def build_truth(
    ctx: Context,
    media: PaidMedia,
    on_hand: np.ndarray,
    shipped: np.ndarray,
    po: dict,
    fulfil: dict,
    contribution: np.ndarray,
    weights: dict,
) -> dict:
    """Everything planted, in one JSON-able dict (see the module docstring for the models)."""
    acc, cal, cat, crm = ctx.accounts, ctx.cal, ctx.cat, ctx.crm
    lam_q50, lam_q75 = _lambda_quantiles()
    errors = np.concatenate(ctx.value_errors) if ctx.value_errors else np.zeros(1)
    drop_days = (np.maximum(acc.dropout_us, 0) // US_DAY).astype("datetime64[D]").astype(str)
    dropout = [None if a else d for d, a in zip(drop_days.tolist(), acc.alive, strict=True)]
    t_weeks = (cal.end_us - acc.first_order_us) / US_WEEK
    expected = 1 + bgnbd_expected_repeats(t_weeks, **BGNBD)
    signups = {}
    for ch, w in weights.items():
        share = w.sum() / sum(v.sum() for v in weights.values())
        signups[ch] = share
    paid_clicks = {ch: int(v.sum()) for ch, v in media.clicks_by_channel_day.items()}
    arch_counts = np.bincount(acc.archetype, minlength=len(ARCHETYPES))
    demand_total = ctx.demand.sum()
    truth = {
        "generator_version": GENERATOR_VERSION,
        "seed": ctx.seed,
        "scale": ctx.scale,
        "start_date": cal.start.isoformat(),
        "end_date": cal.end.isoformat(),
        "purchase_process": {
            "model": "BG/NBD",
            "reference": "Fader, Hardie & Lee (2005), Marketing Science 24(2), 275-284",
            "time_unit": "weeks",
            **BGNBD,
            "lambda": "Gamma(shape r, rate alpha), purchases per week while active",
            "p": "Beta(a, b), drop-out probability after each repeat purchase",
            "first_order": "every account places its first order on its signup day",
            "time_of_day": "redrawn in business hours; the day is the BG/NBD draw",
            "mean_orders_per_account": float(acc.n_orders.mean()),
            "expected_orders_per_account": float(expected.mean()),
            "expected_orders_formula": "1 + E[X(T_i)] (FHL 2005 eq. 9), T_i = weeks from the "
            "first order to the end of end_date",
        },
        "order_value": {
            "model": "Gamma-Gamma",
            "reference": "Fader, Hardie & Lee (2005), JMR 42(4), 415-430",
            **GAMMA_GAMMA,
            "nu": "Gamma(shape q, rate gamma) per account",
            "z": "order value ~ Gamma(shape p, rate nu_i)",
            "mean_order_value": GAMMA_GAMMA["p"] * GAMMA_GAMMA["gamma"] / (GAMMA_GAMMA["q"] - 1),
            "revenue": "order value = sum(quantity * unit_price * (1 - discount)) of its lines",
            "relative_error": {
                "median_abs": float(np.median(np.abs(errors))),
                "p95_abs": float(np.quantile(np.abs(errors), 0.95)),
                "share_within_5pct": float(np.mean(np.abs(errors) <= 0.05)),
                "mean": float(errors.mean()),
            },
            "price_factor_range": PRICE_FACTOR_RANGE,
        },
        "segments": {
            "archetypes": ARCHETYPES,
            "rule": ARCHETYPE_RULE,
            "lambda_q50": lam_q50,
            "lambda_q75": lam_q75,
            "counts": dict(zip(ARCHETYPES, arch_counts.tolist(), strict=True)),
        },
        "size_band": {
            "rule": "score = log(p / nu_i) + Normal(0, noise_sd); bands are score quantiles",
            "shares": dict(zip(schema.SIZE_BANDS, SIZE_BAND_SHARES, strict=True)),
            "noise_sd": SIZE_BAND_NOISE_SD,
        },
        "accounts": {
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
        },
        "clusters": {
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
        },
        "funnel": {
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
        },
        "leads": {
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
        },
        "campaigns": {
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
        },
        "marketing": {
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
                    "budget_per_day": c[3] * ctx.scale,
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
        },
        "supply": {
            "warehouses": WAREHOUSES,
            "suppliers": {
                cat.supplier_id[i]: {
                    "on_time_prob": cat.on_time_prob[i],
                    "in_full_prob": cat.in_full_prob[i],
                    "lead_time_mean_days": cat.lead_mean[i],
                    "lead_time_sd_days": cat.lead_sd[i],
                    "quoted_lead_days": cat.quoted_lead[i],
                    "defect_rate": cat.defect_rate[i],
                    "price_sd": cat.price_sd[i],
                    "category": CATEGORIES[cat.supplier_category[i]],
                }
                for i in range(len(cat.supplier_id))
            },
            "lead_time": "max(1, round(Normal(mean, sd))) days; on time = received_at <= "
            "promised_at; on_time_prob = Phi((quoted + 0.5 - mean) / sd)",
            "in_full": "qty_received = qty_ordered with in_full_prob, else U(0.5, 0.95) of it",
            "defects": "Binomial(qty_received, defect_rate); defective units are not stocked",
            "price": "PO unit_cost = product unit_cost * LogNormal(0, price_sd)",
            "reorder_policy": {**REORDER, "rule": reorder_levels.__doc__.strip()},
            "inventory_rule": "on_hand(d) = on_hand(d-1) + sum(qty_received - defects of POs "
            "received on d) - sum(qty_shipped of shipments shipped on d), per warehouse; "
            "returns are not restocked; unfilled demand is lost (no backorders)",
            "fill_rate_units": float(shipped.sum() / max(demand_total, 1)),
            "stockout_share_of_sku_days": float(np.mean(on_hand == 0)),
            "orders_short_shipped_share": fulfil["short"] / max(fulfil["shipped_orders"], 1),
            "orders_late_share": fulfil["late"] / max(fulfil["shipped_orders"], 1),
            "carriers": {
                name: {
                    "late_share": fulfil["late_by_carrier"][i] / max(fulfil["by_carrier"][i], 1),
                    "transit_days_mean": v[0],
                    "fixed_cost": v[1],
                    "cost_per_unit_pow07": v[2],
                    "share": v[3],
                }
                for i, (name, v) in enumerate(CARRIERS.items())
            },
            "cross_region_extra_days": CROSS_REGION_EXTRA_DAYS,
            "promised_days": PROMISED_DAYS,
            "purchase_orders": len(po["day"]),
        },
        "seasonality": {
            "web_monthly": _norm(WEB_MONTHLY),
            "web_weekly": _norm(WEB_WEEKLY),
            "marketing_monthly": _norm(MARKETING_MONTHLY),
            "marketing_weekly": _norm(MARKETING_WEEKLY),
            "category_monthly": {c: list(v) for c, v in CATEGORY_MONTHLY.items()},
            "note": "monthly index 0 = January, weekly index 0 = Monday; order timing has none",
        },
        "catalogue": {
            "categories": CATEGORIES,
            "return_prob_per_line": {c: CATEGORY_SPEC[c][3] for c in CATEGORIES},
            "industry_affinity": INDUSTRY_AFFINITY,
        },
        "cost_to_serve": {
            "account_ids": acc.account_id[acc.cost_to_serve],
            **COST_TO_SERVE,
            "contribution_rule": CONTRIBUTION_RULE,
            "negative_contribution_ids": acc.account_id[contribution < 0],
        },
        "service": {
            "tickets_per_order": TICKETS_PER_ORDER,
            "extra_if_short_shipped": TICKETS_SHORT_SHIPPED,
            "extra_if_late": TICKETS_LATE,
            "background_per_year": BACKGROUND_TICKETS_PER_YEAR,
            "archetype_multiplier": {
                a: TICKET_ARCHETYPE_MULTIPLIER.get(a, 1.0) for a in ARCHETYPES
            },
            "channel_probs": TICKET_CHANNEL_PROBS,
            "channel_cost": TICKET_COST,
            "reopen_cost_multiplier": REOPEN_COST_MULTIPLIER,
            "reopen_prob": REOPEN_PROB,
            "first_response_hours_median": FIRST_RESPONSE_HOURS,
            "resolution_hours_median": RESOLUTION_HOURS,
            "time_sigma": SERVICE_TIME_SIGMA,
            "reopen_resolution_multiplier": REOPEN_RESOLUTION_MULTIPLIER,
        },
        "returns": {
            "rate_by_category": {c: CATEGORY_SPEC[c][3] for c in CATEGORIES},
            "late_multiplier": 1.5,
            "cost_to_serve_extra": COST_TO_SERVE["extra_return_prob_per_line"],
            "reasons": RETURN_REASONS,
        },
    }
    return _r(truth)
