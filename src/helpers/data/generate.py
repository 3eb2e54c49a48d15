"""Deterministic synthetic data for the B2B platform, with a known truth planted in it.

:func:`generate` writes every table of :mod:`helpers.data.schema` as Parquet parts
(``OUT/<table>/part-NNNNN.parquet``), the planted truth (``OUT/truth.json``) and a manifest
(``OUT/manifest.json``). The same ``seed`` and ``scale`` give the same Parquet contents and the
same ``truth.json``, byte for byte: every random stream is a :class:`numpy.random.SeedSequence`
of ``(seed, stream, chunk)`` (:data:`STREAM`) and nothing reads the clock or a hash-randomised
order.

This module is the run: sizes, the order of the stages, the chunking, the atomic write and the
assembly of the truth. Each simulated process lives in :mod:`helpers.data.synth` with its
constants, its tables and its part of the truth, and its docstring names the model:

- ``purchases``: BG/NBD order timing (Fader, Hardie & Lee 2005) and the Gamma-Gamma prior;
- ``accounts``: signups, firmographics, planted clusters, archetypes, cost-to-serve set;
- ``orders``: orders and lines whose revenue approximates the Gamma-Gamma value;
- ``marketing``: paid media response (``E[clicks] = a spend^b``), signup weights, spend;
- ``web``: funnel journeys by first-touch channel; ``leads``: the lead pipeline;
- ``crm`` and ``campaigns``: CRM campaigns and their sends with a planted uplift;
- ``supply``: the (s, S) inventory simulation and purchase orders; ``fulfilment``: shipments;
  ``returns``; ``service``: tickets; ``contribution``: margin less costs per account;
- ``catalogue``, ``names``, ``common``, ``writer``, ``context``: what the processes share.

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
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from helpers.data.synth import (
    accounts,
    campaigns,
    catalogue,
    contacts,
    contribution,
    fulfilment,
    leads,
    marketing,
    orders,
    purchases,
    returns,
    service,
    supply,
    web,
)
from helpers.data.synth.accounts import make_accounts
from helpers.data.synth.campaigns import COST_PER_SEND
from helpers.data.synth.common import (
    US_DAY,
    US_WEEK,
    WAREHOUSES,
    _Ids,
    _norm,
    _rng,
    _round6,
    make_calendar,
)
from helpers.data.synth.context import Context
from helpers.data.synth.crm import make_crm_campaigns
from helpers.data.synth.marketing import PaidMedia, signup_weights, simulate_paid_media
from helpers.data.synth.purchases import BGNBD, bgnbd_expected_repeats
from helpers.data.synth.supply import simulate_inventory
from helpers.data.synth.web import unpaid_journeys_per_day
from helpers.data.synth.writer import Writer

__all__ = [
    "ANON_JOURNEYS_PER_BLOCK",
    "BGNBD",
    "CHUNK_ACCOUNTS",
    "COST_PER_SEND",
    "DEFAULT_END_DATE",
    "GENERATOR_VERSION",
    "STREAM",
    "US_DAY",
    "US_WEEK",
    "WAREHOUSES",
    "bgnbd_expected_repeats",
    "build_truth",
    "generate",
    "make_accounts",
    "make_calendar",
    "signup_weights",
    "simulate_inventory",
    "simulate_paid_media",
    "sizes",
    "unpaid_journeys_per_day",
]

GENERATOR_VERSION = "1.1.0"
DEFAULT_END_DATE = "2026-10-31"

# Sizes. Accounts, orders and web traffic grow with ``scale``; the catalogue with sqrt(scale).
ACCOUNTS_PER_SCALE = 2000
PRODUCTS_PER_SCALE = 400
SUPPLIERS_PER_SCALE = 30
MIN_ACCOUNTS, MIN_PRODUCTS, MIN_SUPPLIERS = 20, 60, 10
CHUNK_ACCOUNTS = 5000
ANON_JOURNEYS_PER_BLOCK = 200_000

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


def _make_context(
    root: Path, scale: float, seed: int, end_date, years: int
) -> tuple[Context, PaidMedia, dict, dict]:
    """The run-wide draws (catalogue, paid media, accounts and their order book, CRM calendar)
    and the empty accumulators; returns the context, the paid media, the expected unpaid
    journeys per day and the signup weights."""
    cal = make_calendar(end_date, years)
    n = sizes(scale)
    cat = catalogue.make_catalogue(_rng(seed, STREAM["catalogue"]), n["suppliers"], n["products"])
    media = simulate_paid_media(_rng(seed, STREAM["media"]), cal, scale)
    unpaid = unpaid_journeys_per_day(cal, scale)
    weights = signup_weights(cal, media, unpaid)
    acc, book = make_accounts(
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
        accounts=acc,
        book=book,
        crm=crm,
        sku_keys=catalogue.sku_sampler(cat),
        cat_cum=orders.category_probs(),
        ids=_Ids(),
        work=work,
        demand=np.zeros((cal.n_days, len(WAREHOUSES), cat.n_sku), dtype=np.int32),
        crm_sends=np.zeros((len(crm.campaign_id), cal.n_days), dtype=np.int64),
        crm_opens=np.zeros((len(crm.campaign_id), cal.n_days), dtype=np.int64),
        crm_clicks=np.zeros((len(crm.campaign_id), cal.n_days), dtype=np.int64),
    )
    return ctx, media, unpaid, weights


def _generate_into(
    root: Path, scale: float, seed: int, end_date, years: int, progress: bool
) -> tuple[dict, dict]:
    """Stage one per chunk of accounts (orders, contacts, leads, sends, known web traffic),
    anonymous web traffic per block of days, the inventory simulation, stage two per chunk
    (fulfilment, returns, tickets), the small tables; then the truth."""
    ctx, media, unpaid, weights = _make_context(root, scale, seed, end_date, years)
    w = Writer(root)
    n_acc = len(ctx.accounts)
    chunks = [(lo, min(lo + CHUNK_ACCOUNTS, n_acc)) for lo in range(0, n_acc, CHUNK_ACCOUNTS)]
    anon_total = sum(v.sum() for v in unpaid.values()) + marketing.CLICK_TO_VISIT * sum(
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
        for bi, days in enumerate(np.array_split(np.arange(ctx.cal.n_days), n_blocks)):
            bar.set_postfix_str("web traffic")
            rng = _rng(seed, STREAM["web_anon"], bi)
            ev = web.anonymous_journeys(rng, ctx, days, media.clicks_by_channel_day, unpaid)
            web.write_web_events(w, ev, ctx)
            bar.update()
        bar.set_postfix_str("inventory")
        on_hand, shipped, po = simulate_inventory(_rng(seed, STREAM["inventory"]), ctx)
        supply.write_purchase_orders(w, _rng(seed, STREAM["po"]), ctx, po)
        supply.write_inventory(w, ctx, on_hand, rows_per_part=2_000_000)
        bar.update()
        consumed = np.zeros_like(shipped)
        fulfil_stats = fulfilment.new_fulfilment_stats()
        margin = np.zeros(n_acc)
        for ci, (lo, hi) in enumerate(chunks):
            bar.set_postfix_str("fulfilment")
            _chunk_stage_two(ctx, w, ci, lo, hi, shipped, consumed, fulfil_stats, margin)
            bar.update()
        del consumed
        bar.set_postfix_str("tables")
        _write_small_tables(w, ctx, media)
        w.finish()
        bar.update()
    finally:
        bar.close()
    shutil.rmtree(ctx.work)
    truth = build_truth(ctx, media, on_hand, shipped, po, fulfil_stats, margin, weights)
    return {"rows": w.rows, "parts": w.parts}, truth


def _chunk_stage_one(ctx: Context, w: Writer, ci: int, lo: int, hi: int) -> None:
    seed = ctx.seed
    o = orders.make_orders_chunk(_rng(seed, STREAM["orders"], ci), ctx, lo, hi)
    orders.write_orders(w, o, ctx)
    np.savez(ctx.work / f"orders-{ci:05d}.npz", **o)
    people = contacts.make_contacts(_rng(seed, STREAM["contacts"], ci), ctx, lo, hi)
    contacts.write_contacts(w, people, ctx)
    leads.write_leads(w, leads.make_leads(_rng(seed, STREAM["leads"], ci), ctx, lo, hi), ctx)
    sends = campaigns.make_campaign_sends(_rng(seed, STREAM["sends"], ci), ctx, lo, people)
    campaigns.write_campaign_sends(w, sends, ctx)
    rng = _rng(seed, STREAM["web_known"], ci)
    ev = web.known_account_journeys(rng, ctx, lo, hi, people, sends)
    web.write_web_events(w, ev, ctx)


def _chunk_stage_two(
    ctx: Context,
    w: Writer,
    ci: int,
    lo: int,
    hi: int,
    shipped: np.ndarray,
    consumed: np.ndarray,
    stats_: dict,
    margin: np.ndarray,
) -> None:
    seed = ctx.seed
    with np.load(ctx.work / f"orders-{ci:05d}.npz") as z:
        o = {k: z[k] for k in z.files}
    line_shipped = fulfilment.allocate_shipped(ctx, o, shipped, consumed)
    f = fulfilment.make_fulfilment(_rng(seed, STREAM["fulfilment"], ci), ctx, o, line_shipped)
    fulfilment.write_shipments(w, ctx, o, f)
    r = returns.make_returns(_rng(seed, STREAM["returns"], ci), ctx, o, f, line_shipped)
    returns.write_returns(w, ctx, o, r)
    t = service.make_tickets(_rng(seed, STREAM["tickets"], ci), ctx, lo, hi, o, f)
    service.write_tickets(w, ctx, t)
    fulfilment.add_fulfilment_stats(stats_, o, f)
    contribution.add_contribution(margin, o, r, f, t)
    (ctx.work / f"orders-{ci:05d}.npz").unlink()


def _write_small_tables(w: Writer, ctx: Context, media: PaidMedia) -> None:
    accounts.write_accounts(w, ctx.accounts, ctx.cal)
    catalogue.write_products_and_suppliers(w, ctx.cat)
    marketing.write_campaigns(w, ctx, media)
    marketing.write_marketing_spend(w, ctx, media)


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


def _seasonality_truth() -> dict:
    return {
        "web_monthly": _norm(web.WEB_MONTHLY),
        "web_weekly": _norm(web.WEB_WEEKLY),
        "marketing_monthly": _norm(marketing.MARKETING_MONTHLY),
        "marketing_weekly": _norm(marketing.MARKETING_WEEKLY),
        "category_monthly": {c: list(v) for c, v in catalogue.CATEGORY_MONTHLY.items()},
        "note": "monthly index 0 = January, weekly index 0 = Monday; order timing has none",
    }


def build_truth(
    ctx: Context,
    media: PaidMedia,
    on_hand: np.ndarray,
    shipped: np.ndarray,
    po: dict,
    fulfil: dict,
    margin: np.ndarray,
    weights: dict,
) -> dict:
    """Everything planted, in one JSON-able dict: each process's part from its module (see
    their docstrings for the models); ``margin`` is the contribution per account."""
    acc, cal = ctx.accounts, ctx.cal
    truth = {
        "generator_version": GENERATOR_VERSION,
        "seed": ctx.seed,
        "scale": ctx.scale,
        "start_date": cal.start.isoformat(),
        "end_date": cal.end.isoformat(),
        "purchase_process": purchases.purchase_truth(acc.n_orders, acc.first_order_us, cal),
        "order_value": orders.order_value_truth(ctx.value_errors),
        "segments": accounts.segments_truth(acc),
        "size_band": accounts.size_band_truth(),
        "accounts": accounts.accounts_truth(acc, margin),
        "clusters": accounts.clusters_truth(acc),
        "funnel": web.funnel_truth(),
        "leads": leads.leads_truth(),
        "campaigns": campaigns.campaigns_truth(ctx),
        "marketing": marketing.marketing_truth(media, weights, ctx.scale),
        "supply": supply.supply_truth(
            ctx, on_hand, shipped, po, fulfilment.fulfilment_truth(fulfil)
        ),
        "seasonality": _seasonality_truth(),
        "catalogue": catalogue.catalogue_truth(ctx.cat),
        "cost_to_serve": contribution.cost_to_serve_truth(acc, margin),
        "service": service.service_truth(),
        "returns": returns.returns_truth(),
    }
    return _r(truth)
