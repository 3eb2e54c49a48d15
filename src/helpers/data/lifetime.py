"""Historical customer value: what each account has been worth so far, discounted.

CLV = Σ_t M_t / (1 + d)^t over the months since signup, M_t the account's monthly contribution
(:func:`monthly_contribution`: gross margin, margin after cost to serve, or revenue when costs
are unknown) and d the monthly discount rate (:func:`monthly_rate`). The CLV report shows it and
the campaigns report uses it as the LTV a channel's acquisition cost is set against, so both
read this one definition. The contribution is one Ibis expression over
:func:`helpers.data.measures.order_values`; one row per account-month reaches pandas.
"""

from __future__ import annotations

import ibis
import pandas as pd

from helpers import validate
from helpers.data import measures

__all__ = [
    "MARGIN_BASES",
    "REVENUE_BASIS",
    "accounts_frame",
    "historical_clv",
    "monthly_contribution",
    "monthly_rate",
]

MARGIN_BASES = ("gross_margin", "contribution")
#: The value basis when the order lines carry no unit cost: discounted revenue, labelled so.
REVENUE_BASIS = "revenue"


def _basis(margin_basis: str) -> str:
    """``margin_basis`` when it is one of :data:`MARGIN_BASES` or :data:`REVENUE_BASIS`."""
    return validate.one_of("margin_basis", margin_basis, (*MARGIN_BASES, REVENUE_BASIS))


def monthly_rate(annual_rate: float) -> float:
    """Discount rate per month from an annual one: (1 + d)^(1/12) − 1."""
    if annual_rate <= -1:
        raise ValueError(f"annual_discount_rate must be > -100%, got {annual_rate}")
    return (1 + annual_rate) ** (1 / 12) - 1


def monthly_contribution(ds, margin_basis: str = "gross_margin") -> ibis.Table:
    """Per account and calendar month: revenue, cogs, ticket_cost and contribution M_t.

    M_t = revenue − cogs (gross_margin), or revenue − cogs − Σ service-ticket cost opened in the
    month (contribution after cost to serve), or revenue itself ('revenue': costs unknown).
    """
    basis = _basis(margin_basis)
    ov = measures.order_values(ds)
    month = ov.order_ts.date().truncate("M")
    sales = ov.group_by(account_id=ov.account_id, month=month).aggregate(
        revenue=ov.revenue.sum(), cogs=ov.cogs.sum()
    )
    if basis == REVENUE_BASIS:
        return sales.mutate(ticket_cost=ibis.literal(0.0), contribution=sales.revenue)
    if basis == "gross_margin":
        return sales.mutate(ticket_cost=ibis.literal(0.0), contribution=sales.revenue - sales.cogs)
    t = ds.service_tickets
    tickets = t.group_by(account_id=t.account_id, month=t.opened_at.date().truncate("M")).aggregate(
        ticket_cost=t.cost.sum()
    )
    j = sales.outer_join(tickets, ["account_id", "month"])
    rev, cogs, tc = j.revenue.fill_null(0.0), j.cogs.fill_null(0.0), j.ticket_cost.fill_null(0.0)
    return j.select(
        account_id=ibis.coalesce(j.account_id, j.account_id_right),
        month=ibis.coalesce(j.month, j.month_right),
        revenue=rev,
        cogs=cogs,
        ticket_cost=tc,
        contribution=rev - cogs - tc,
    )


def accounts_frame(ds) -> pd.DataFrame:
    """account_id, segment (size band), industry, channel (acquisition), signup_date."""
    a = ds.accounts
    df = a.select(
        "account_id",
        segment=a.size_band,
        industry=a.industry,
        channel=a.acquisition_channel,
        signup_date=a.signup_date,
    ).to_pandas()
    df["signup_date"] = pd.to_datetime(df.signup_date)
    return df


def historical_clv(
    ds, annual_discount_rate: float = 0.1, margin_basis: str = "gross_margin", end=None
) -> pd.DataFrame:
    """Historical CLV per account: CLV = Σ_t M_t / (1 + d)^t.

    M_t is the account's contribution (``monthly_contribution``) in month t, t = whole months
    from the signup month (t = 0 in the signup month, so it is not discounted), d the monthly
    rate (1 + annual)^(1/12) − 1; months after ``end`` are left out. One row per account
    (accounts with no order have CLV 0, or minus their ticket cost) with segment, industry,
    channel, months observed, revenue, contribution and clv.
    """
    d = monthly_rate(annual_discount_rate)
    mc = monthly_contribution(ds, margin_basis)
    if end is not None:
        mc = mc.filter(mc.month <= ibis.literal(pd.Timestamp(end).date()))
    monthly = mc.to_pandas()
    acc = accounts_frame(ds)
    if end is not None:
        acc = acc[acc.signup_date <= pd.Timestamp(end)]
    if acc.empty:
        raise ValueError("accounts: no account signed up in the selected period")
    m = monthly.merge(acc[["account_id", "signup_date"]], on="account_id", how="inner")
    month = pd.to_datetime(m.month).dt.to_period("M")
    start = m.signup_date.dt.to_period("M")
    t = (month - start).map(lambda off: off.n).astype(float).clip(lower=0)
    m["discounted"] = m.contribution / (1 + d) ** t
    per = m.groupby("account_id").agg(
        revenue=("revenue", "sum"), contribution=("contribution", "sum"), clv=("discounted", "sum")
    )
    out = acc.merge(per, on="account_id", how="left").fillna(
        {"revenue": 0.0, "contribution": 0.0, "clv": 0.0}
    )
    last = pd.Timestamp(end) if end is not None else pd.to_datetime(monthly.month).max()
    out["months"] = (
        (last.to_period("M") - out.signup_date.dt.to_period("M")).map(lambda o: o.n) + 1
    ).clip(lower=1)
    return out
