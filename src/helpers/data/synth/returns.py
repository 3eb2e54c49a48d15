"""Returns: delivered lines come back with a probability by category (more when late, far more
for the planted cost-to-serve accounts); the returns table and its truth."""

from __future__ import annotations

import numpy as np

from helpers.data.synth.accounts import COST_TO_SERVE
from helpers.data.synth.catalogue import CATEGORIES, CATEGORY_SPEC
from helpers.data.synth.common import US_DAY, _choice, _labels, _money, _ts
from helpers.data.synth.context import Context
from helpers.data.synth.writer import Writer

RETURN_REASONS = ("damaged", "wrong_item", "not_needed", "quality_issue", "late_delivery")


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


def write_returns(w: Writer, ctx: Context, o: dict, r: dict) -> None:
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


def returns_truth() -> dict:
    """Return probability per category, the late multiplier and the reasons."""
    return {
        "rate_by_category": {c: CATEGORY_SPEC[c][3] for c in CATEGORIES},
        "late_multiplier": 1.5,
        "cost_to_serve_extra": COST_TO_SERVE["extra_return_prob_per_line"],
        "reasons": RETURN_REASONS,
    }
