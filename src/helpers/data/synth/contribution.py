"""Contribution per account (margin of its lines less refunds, shipping and service costs) and
the cost-to-serve part of the truth (the planted set and the accounts that lose money)."""

from __future__ import annotations

import numpy as np

from helpers.data.synth.accounts import COST_TO_SERVE, Accounts

CONTRIBUTION_RULE = (
    "contribution = sum over order_lines of quantity * (unit_price * (1 - discount) - unit_cost) "
    "- sum(returns.refund) - sum(shipments.cost) - sum(service_tickets.cost), per account"
)


def add_contribution(contribution: np.ndarray, o: dict, r: dict, f: dict, t: dict) -> None:
    """Add a chunk's orders ``o``, returns ``r``, shipments ``f`` and tickets ``t`` to
    ``contribution`` per account, by CONTRIBUTION_RULE."""
    lp = o["line_pos"]
    net = o["line_unit_price"] * (1 - o["line_discount"]) - o["line_unit_cost"]
    margin = o["line_quantity"] * net
    n_acc = len(contribution)
    contribution += np.bincount(o["owner"][lp], weights=margin, minlength=n_acc)
    contribution -= np.bincount(o["owner"][lp[r["rows"]]], weights=r["refund"], minlength=n_acc)
    contribution -= np.bincount(o["owner"][f["has"]], weights=f["cost"][f["has"]], minlength=n_acc)
    contribution -= np.bincount(t["owner"], weights=t["cost"], minlength=n_acc)


def cost_to_serve_truth(acc: Accounts, contribution: np.ndarray) -> dict:
    """The planted cost-to-serve accounts, the rule and the accounts of negative contribution."""
    return {
        "account_ids": acc.account_id[acc.cost_to_serve],
        **COST_TO_SERVE,
        "contribution_rule": CONTRIBUTION_RULE,
        "negative_contribution_ids": acc.account_id[contribution < 0],
    }
