"""Customer service and cost to serve: the service report's helpers.

Every aggregation over tickets, orders, lines, shipments and returns is an Ibis expression (it
runs on DuckDB or Spark); only small results reach pandas: one row per account, per ticket
channel, per month, or per account-month for the accounts a recommendation targets.

Cost to serve and contribution (per account, over a period)
-----------------------------------------------------------
Orders are those placed in the period (``orders.order_ts`` between ``start`` and ``end``); their
shipments and returns come with them, whenever they happened. Tickets are those opened in the
period. With ``q`` quantity, ``p`` unit price, ``d`` discount (a fraction of ``p``), ``c`` unit
cost, summed over the account's order lines:

- list revenue = Σ q·p; discounts = Σ q·p·d; revenue = Σ q·p·(1 − d) = list revenue − discounts
- list margin = Σ q·(p − c);  **gross margin** = revenue − Σ q·c = list margin − discounts
  (the overview report's gross margin: revenue is already net of discounts)
- delivery cost = Σ shipments.cost of the account's orders
- returns cost = Σ returns.refund − ``return_recovery`` · Σ returned quantity · unit cost of the
  returned line: the refund gives the revenue back; the goods are worth their cost again only
  if they go back to stock (``return_recovery`` = 1), nothing if written off (0, the default,
  and the generator's rule)
- ticket cost = Σ service_tickets.cost
- **serving cost** = delivery cost + returns cost + ticket cost
- **cost to serve** = discounts + serving cost: what the account is given or costs to serve
- **contribution** = gross margin − serving cost = list margin − cost to serve

Discounts are counted once: they are already out of revenue, so they are *not* subtracted from
gross margin again; cost to serve includes them only because it is measured against the list
margin. An account destroys value when its contribution is negative. This is the activity-based
customer profitability of Kaplan & Narayanan (2001), "Measuring and managing customer
profitability", Journal of Cost Management 15(5); the whale curve is theirs.

Loss drivers (per loss-making account): each cost is compared with what the value-creating
accounts (contribution >= 0) pay for the same revenue; excess = cost − benchmark rate · base,
benchmark rate = Σ cost / Σ base over value-creating accounts. Drivers: small orders (delivery
cost, base revenue), tickets (ticket cost, base revenue), returns (returns cost, base revenue),
discounts (discounts, base list revenue), low list margin (benchmark list-margin rate · list
revenue − list margin). The main driver is the largest positive excess.

Recommendations (:func:`recommendations`): one lever per driver, aimed at the loss-making accounts
with an excess on it, each with the margin it would recover under a stated assumption: minimum
order value (small orders merged, per-shipment delivery cost saved), self-service (a share of
tickets moved to the cheapest channel), restocking fee on returns, discount cap / repricing to
the benchmark. Service levels (:func:`service_levels`): first-response and resolution time
distributions and the share past a target given in hours.

Segments: the breakdowns take any account-level column (``by=``); today the firmographics
(industry, size band, region, acquisition channel). A segment column from the segmentation
module can be merged into :func:`account_costs`' frame on ``account_id`` and passed the same way.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from helpers import validate
from helpers.data import measures, tables
from helpers.sections import BYOD_DOC, Analysis, Section
from helpers.stats import wilson_interval

__all__ = [
    "CORE",
    "DRIVERS",
    "FIRMOGRAPHICS",
    "SECTIONS",
    "account_activity",
    "account_costs",
    "analyse",
    "by_firmographics",
    "by_group",
    "consolidation_savings",
    "cost_headline",
    "costly_accounts",
    "data_as_of",
    "default_min_order_value",
    "definitions",
    "fixed_delivery_cost",
    "headline",
    "loss_drivers",
    "loss_making_list",
    "monthly_series",
    "monthly_service",
    "open_tables",
    "order_economics",
    "recommendations",
    "self_service_savings",
    "service_levels",
    "ticket_headline",
    "ticket_rate_by_group",
    "tickets_per_100_orders",
    "time_distribution",
    "weekly_backlog",
    "whale_curve",
    "whale_summary",
]

FIRMOGRAPHICS = ("industry", "size_band", "region", "acquisition_channel")
DRIVERS = {
    "small_orders": "small orders (delivery cost)",
    "tickets": "many tickets",
    "returns": "many returns",
    "discounts": "deep discounts",
    "low_margin": "low list margin",
}
EPS = 1e-6  # an excess below a millionth of a currency unit is rounding, not a driver


# ----------------------------------------------------------------------------- validation


def _check_period(start: str | None, end: str | None) -> tuple:
    lo = pd.Timestamp(start) if start else None
    hi = pd.Timestamp(end) + pd.Timedelta(days=1) if end else None  # end is an inclusive day
    if lo is not None and hi is not None and hi <= lo:
        raise ValueError(f"parameter 'end' ({end}) is before 'start' ({start})")
    return lo, hi


def _in_period(col, lo, hi):
    cond = ibis.literal(True)
    if lo is not None:
        cond = cond & (col >= ibis.timestamp(lo.to_pydatetime()))
    if hi is not None:
        cond = cond & (col < ibis.timestamp(hi.to_pydatetime()))
    return cond


# ----------------------------------------------------------------------------- per order


def order_economics(ds, start: str | None = None, end: str | None = None, return_recovery=0.0):
    """One row per order placed in the period (Ibis table): account, order time, list revenue,
    revenue, cogs, discounts, list margin, delivery cost, refunds, returned goods at cost.

    Formulas as in the module docstring; returned goods at cost = Σ returned quantity × the
    quantity-weighted unit cost of the order's lines of that SKU. Orders with no kept line are
    left out. ``returns`` is optional in the data model: without it refunds are zero.
    """
    return_recovery = validate.fraction("return_recovery", return_recovery)
    lo, hi = _check_period(start, end)
    orders = ds.orders.filter(_in_period(ds.orders.order_ts, lo, hi))
    lines = ds.order_lines
    gross = lines.quantity * lines.unit_price
    per_order = lines.group_by("order_id").aggregate(
        list_revenue=gross.sum(),
        discounts=(gross * lines.discount).sum(),
        cogs=(lines.quantity * lines.unit_cost).sum(),
    )
    sh = ds.shipments
    ship = sh.group_by("order_id").aggregate(delivery_cost=sh.cost.sum())
    o = orders.join(per_order, "order_id").select(
        "order_id", "account_id", "order_ts", "list_revenue", "discounts", "cogs"
    )
    o = o.left_join(ship, "order_id").drop("order_id_right")
    if "returns" in ds:
        sku_cost = lines.group_by(["order_id", "sku"]).aggregate(
            unit_cost=(lines.quantity * lines.unit_cost).sum() / lines.quantity.sum()
        )
        r = ds.returns.join(sku_cost, ["order_id", "sku"], how="left")
        ret = r.group_by("order_id").aggregate(
            refunds=r.refund.sum(),
            returned_cost=(r.quantity * r.unit_cost.fill_null(0.0)).sum(),
        )
        o = o.left_join(ret, "order_id").drop("order_id_right")
    else:
        o = o.mutate(refunds=ibis.literal(0.0), returned_cost=ibis.literal(0.0))
    o = o.mutate(
        delivery_cost=o.delivery_cost.fill_null(0.0),
        refunds=o.refunds.fill_null(0.0),
        returned_cost=o.returned_cost.fill_null(0.0),
    )
    return o.mutate(
        revenue=o.list_revenue - o.discounts,
        list_margin=o.list_revenue - o.cogs,
        returns_cost=o.refunds - return_recovery * o.returned_cost,
    )


def _tickets(ds, start, end):
    lo, hi = _check_period(start, end)
    t = ds.service_tickets
    return t.filter(_in_period(t.opened_at, lo, hi))


# ----------------------------------------------------------------------------- per account


def account_costs(
    ds, start: str | None = None, end: str | None = None, return_recovery: float = 0.0
) -> pd.DataFrame:
    """Cost to serve and contribution per account active in the period (pandas).

    One row per account with an order or a ticket in the period: firmographics, orders,
    revenue, list revenue, list margin, discounts, gross margin, delivery cost, refunds,
    returns cost, tickets, ticket cost, serving cost, cost to serve, contribution, aov
    (revenue / orders), contribution margin (contribution / revenue), loss-making flag.
    Formulas in the module docstring. Raises ValueError when nothing happened in the period.
    """
    o = order_economics(ds, start, end, return_recovery)
    per_acc = o.group_by("account_id").aggregate(
        orders=o.count(),
        list_revenue=o.list_revenue.sum(),
        revenue=o.revenue.sum(),
        discounts=o.discounts.sum(),
        list_margin=o.list_margin.sum(),
        delivery_cost=o.delivery_cost.sum(),
        refunds=o.refunds.sum(),
        returns_cost=o.returns_cost.sum(),
    )
    t = _tickets(ds, start, end)
    tk = t.group_by("account_id").aggregate(tickets=t.count(), ticket_cost=t.cost.sum())
    active = per_acc.select("account_id").union(tk.select("account_id"), distinct=True)
    acc = ds.accounts.select("account_id", *FIRMOGRAPHICS)
    j = (
        acc.join(active, "account_id")
        .left_join(per_acc, "account_id")
        .drop("account_id_right")
        .left_join(tk, "account_id")
        .drop("account_id_right")
    )
    out = j.to_pandas()
    if out.empty:
        raise ValueError("no orders and no service tickets in the selected period: widen start/end")
    return _finish_costs(out)


def _finish_costs(out: pd.DataFrame) -> pd.DataFrame:
    money = [
        "list_revenue",
        "revenue",
        "discounts",
        "list_margin",
        "delivery_cost",
        "refunds",
        "returns_cost",
        "ticket_cost",
    ]
    out[money] = out[money].astype("float64").fillna(0.0)
    out[["orders", "tickets"]] = out[["orders", "tickets"]].fillna(0).astype("int64")
    out["gross_margin"] = out.list_margin - out.discounts
    out["serving_cost"] = out.delivery_cost + out.returns_cost + out.ticket_cost
    out["cost_to_serve"] = out.discounts + out.serving_cost
    out["contribution"] = out.gross_margin - out.serving_cost
    out["aov"] = out.revenue / out.orders.where(out.orders > 0)
    out["contribution_margin"] = out.contribution / out.revenue.where(out.revenue > 0)
    out["loss_making"] = out.contribution < 0
    return out.sort_values("account_id").reset_index(drop=True)


def costly_accounts(costs: pd.DataFrame) -> pd.DataFrame:
    """The loss-making accounts (contribution < 0), most value destroyed first."""
    return costs[costs.loss_making].sort_values("contribution").reset_index(drop=True)


# ----------------------------------------------------------------------------- whale curve


def whale_curve(costs: pd.DataFrame) -> pd.DataFrame:
    """Cumulative contribution across accounts sorted from most to least profitable.

    rank = 1..n in descending contribution (ties by account_id); cumulative_contribution =
    Σ contribution of ranks 1..rank; account_share = rank / n; share_of_total =
    cumulative_contribution / total contribution (NaN when the total is not positive).
    Kaplan & Narayanan (2001): the curve rises above the total, peaks where the last
    value-creating account is added, and falls back to the total as loss-making ones are.
    """
    if costs.empty:
        raise ValueError("whale_curve needs at least one account")
    w = costs.sort_values(["contribution", "account_id"], ascending=[False, True])
    w = w[["account_id", "contribution"]].reset_index(drop=True)
    w.insert(0, "rank", np.arange(1, len(w) + 1))
    w["cumulative_contribution"] = w.contribution.cumsum()
    w["account_share"] = w["rank"] / len(w)
    total = float(w.contribution.sum())
    w["share_of_total"] = w.cumulative_contribution / total if total > 0 else np.nan
    return w


def whale_summary(curve: pd.DataFrame) -> dict:
    """The whale curve's key points.

    peak: the highest cumulative contribution and the rank where it is reached (the last
    account with contribution >= 0; rank 0 and peak 0 when every account loses money);
    destroying: accounts with negative contribution and the value they destroy (Σ of their
    contributions, negative); peak_share_of_total = peak / total when total > 0.
    """
    n = len(curve)
    total = float(curve.contribution.sum())
    pos = curve[curve.contribution >= 0]
    peak_rank = int(pos["rank"].max()) if len(pos) else 0
    peak = float(pos.contribution.sum()) if len(pos) else 0.0
    neg = curve[curve.contribution < 0]
    return {
        "accounts": n,
        "total_contribution": total,
        "peak_contribution": peak,
        "peak_rank": peak_rank,
        "peak_account_share": peak_rank / n if n else float("nan"),
        "peak_share_of_total": peak / total if total > 0 else float("nan"),
        "destroying_accounts": len(neg),
        "destroying_share": len(neg) / n if n else float("nan"),
        "value_destroyed": float(neg.contribution.sum()),
    }


# ----------------------------------------------------------------------------- drivers


def _benchmarks(costs: pd.DataFrame) -> dict:
    good = costs[~costs.loss_making]
    rev, lrev = good.revenue.sum(), good.list_revenue.sum()
    if rev <= 0 or lrev <= 0:
        raise ValueError("no value-creating account with revenue to benchmark the costs against")
    return {
        "delivery_rate": good.delivery_cost.sum() / rev,
        "ticket_rate": good.ticket_cost.sum() / rev,
        "returns_rate": good.returns_cost.sum() / rev,
        "discount_rate": good.discounts.sum() / lrev,
        "list_margin_rate": good.list_margin.sum() / lrev,
    }


def loss_drivers(costs: pd.DataFrame) -> pd.DataFrame:
    """Why each loss-making account loses money: excess cost per driver and the main driver.

    For every account: excess_small_orders = delivery cost − b_d · revenue, excess_tickets =
    ticket cost − b_t · revenue, excess_returns = returns cost − b_r · revenue,
    excess_discounts = discounts − b_disc · list revenue, excess_low_margin = b_m · list
    revenue − list margin, the b's being the value-creating accounts' aggregate rates
    (``_benchmarks``). main_driver = the driver with the largest positive excess; drivers =
    every driver whose excess is at least a quarter of the largest. Returned for the
    loss-making accounts only, most value destroyed first, with their firmographics.
    """
    b = _benchmarks(costs)
    bad = costly_accounts(costs).copy()
    ex = pd.DataFrame(
        {
            "small_orders": bad.delivery_cost - b["delivery_rate"] * bad.revenue,
            "tickets": bad.ticket_cost - b["ticket_rate"] * bad.revenue,
            "returns": bad.returns_cost - b["returns_rate"] * bad.revenue,
            "discounts": bad.discounts - b["discount_rate"] * bad.list_revenue,
            "low_margin": b["list_margin_rate"] * bad.list_revenue - bad.list_margin,
        },
        index=bad.index,
    )
    top = ex.max(axis=1)
    bad["main_driver"] = np.where(top > EPS, ex.idxmax(axis=1) if len(ex) else "", "none")
    bad["drivers"] = [
        ", ".join(DRIVERS[k] for k in ex.columns[(row > EPS) & (row >= 0.25 * row.max())])
        for _, row in ex.iterrows()
    ]
    for k in ex.columns:
        bad[f"excess_{k}"] = ex[k]
    return bad


# ----------------------------------------------------------------------------- breakdowns


def by_group(costs: pd.DataFrame, by: str) -> pd.DataFrame:
    """Cost to serve and contribution per group of accounts (``by``: any account column).

    accounts; loss_making (count) and loss_share = loss_making / accounts with a 95 % Wilson
    interval; sums of revenue, gross margin, discounts, delivery, returns, ticket cost,
    serving cost, contribution; contribution_margin = contribution / revenue;
    serving_share_of_margin = serving cost / gross margin; orders, tickets, tickets per 100
    orders with a 95 % exact Poisson interval (:func:`tickets_per_100_orders`).
    """
    if by not in costs.columns:
        raise ValueError(f"cannot break down by '{by}': not a column of the account table")
    g = costs.groupby(by, observed=True)
    out = g.agg(
        accounts=("account_id", "count"),
        loss_making=("loss_making", "sum"),
        orders=("orders", "sum"),
        tickets=("tickets", "sum"),
        revenue=("revenue", "sum"),
        gross_margin=("gross_margin", "sum"),
        discounts=("discounts", "sum"),
        delivery_cost=("delivery_cost", "sum"),
        returns_cost=("returns_cost", "sum"),
        ticket_cost=("ticket_cost", "sum"),
        serving_cost=("serving_cost", "sum"),
        contribution=("contribution", "sum"),
    ).reset_index()
    out["loss_making"] = out.loss_making.astype("int64")
    out["loss_share"] = out.loss_making / out.accounts
    out["loss_ci_low"], out["loss_ci_high"] = wilson_interval(out.loss_making, out.accounts)
    out["contribution_margin"] = out.contribution / out.revenue.where(out.revenue > 0)
    out["serving_share_of_margin"] = out.serving_cost / out.gross_margin.where(out.gross_margin > 0)
    rate = tickets_per_100_orders(out.tickets, out.orders)
    return pd.concat([out, rate], axis=1).sort_values("contribution").reset_index(drop=True)


def tickets_per_100_orders(tickets, orders, confidence: float = 0.95) -> pd.DataFrame:
    """Tickets per 100 orders = 100 · tickets / orders, with an exact (Garwood 1936) Poisson
    interval for the ticket count (statsmodels ``confint_poisson``, method "exact-c");
    NaN where there are no orders."""
    from statsmodels.stats.rates import confint_poisson

    k = np.asarray(tickets, dtype=float)
    n = np.asarray(orders, dtype=float)
    safe = np.where(n > 0, n, 1.0)
    lo, hi = confint_poisson(k, safe, method="exact-c", alpha=1 - confidence)
    none = n == 0
    return pd.DataFrame(
        {
            "tickets_per_100_orders": np.where(none, np.nan, 100 * k / safe),
            "per_100_ci_low": np.where(none, np.nan, 100 * np.asarray(lo)),
            "per_100_ci_high": np.where(none, np.nan, 100 * np.asarray(hi)),
        }
    )


# ----------------------------------------------------------------------------- service levels


def _hours(later, earlier):
    return (later.epoch_seconds() - earlier.epoch_seconds()) / 3600.0


def data_as_of(ds) -> pd.Timestamp:
    """The last moment the ticket data knows about: max of opened, first response, resolved."""
    t = ds.service_tickets
    r = t.aggregate(
        a=t.opened_at.max(), b=t.first_response_at.max(), c=t.resolved_at.max()
    ).to_pandas()
    values = [pd.Timestamp(v) for v in r.iloc[0] if pd.notna(v)]
    if not values:
        raise ValueError("table 'service_tickets' has no rows")
    return max(values)


def _service_aggregates(t, as_of, fr_target: float, res_target: float) -> dict:
    now = ibis.timestamp(pd.Timestamp(as_of).to_pydatetime())
    fr = _hours(t.first_response_at, t.opened_at)
    res = _hours(t.resolved_at, t.opened_at)
    age = _hours(now, t.opened_at)
    responded, resolved = t.first_response_at.notnull(), t.resolved_at.notnull()
    fr_late = (responded & (fr > fr_target)) | (~responded & (age > fr_target))
    res_late = (resolved & (res > res_target)) | (~resolved & (age > res_target))
    return {
        "tickets": t.count(),
        "ticket_cost": t.cost.sum(),
        "responded": responded.sum(),
        "resolved": resolved.sum(),
        "unresolved": (~resolved).sum(),
        "reopened": t.reopened.sum(),
        "fr_median_h": fr.quantile(0.5),
        "fr_p90_h": fr.quantile(0.9),
        "res_median_h": res.quantile(0.5),
        "res_p90_h": res.quantile(0.9),
        "fr_eligible": (responded | (age > fr_target)).sum(),
        "fr_past_target": fr_late.sum(),
        "res_eligible": (resolved | (age > res_target)).sum(),
        "res_past_target": res_late.sum(),
    }


def _finish_service(out: pd.DataFrame) -> pd.DataFrame:
    counts = [
        "tickets",
        "responded",
        "resolved",
        "unresolved",
        "reopened",
        "fr_eligible",
        "fr_past_target",
        "res_eligible",
        "res_past_target",
    ]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["cost_per_ticket"] = out.ticket_cost / out.tickets.where(out.tickets > 0)
    for name, num, den in (
        ("reopened_rate", "reopened", "tickets"),
        ("unresolved_rate", "unresolved", "tickets"),
        ("fr_past_rate", "fr_past_target", "fr_eligible"),
        ("res_past_rate", "res_past_target", "res_eligible"),
    ):
        out[name] = out[num] / out[den].where(out[den] > 0)
        out[f"{name}_low"], out[f"{name}_high"] = wilson_interval(out[num], out[den])
    return out


def service_levels(
    ds,
    first_response_target_hours: float = 4.0,
    resolution_target_hours: float = 48.0,
    by: str | None = "channel",
    start: str | None = None,
    end: str | None = None,
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Ticket volumes and times per ticket column ``by`` (channel, category; None: all tickets).

    Times in hours from opened_at: first response = first_response_at − opened_at, resolution
    = resolved_at − opened_at; median and 90th percentile over the tickets that have the time
    (engine quantile: DuckDB interpolates, Spark's percentile_approx picks an observed value).
    Past target: a ticket answered (resolved) later than the target, or still unanswered
    (unresolved) at ``as_of`` and older than the target; tickets still open and younger than
    the target are not yet decided and left out of the denominator (eligible). Rates
    reopened / tickets, unresolved / tickets, past target / eligible, each with a 95 %
    Wilson interval; cost per ticket = Σ cost / tickets.
    """
    fr_target = validate.positive("first_response_target_hours", first_response_target_hours)
    res_target = validate.positive("resolution_target_hours", resolution_target_hours)
    t = _tickets(ds, start, end)
    as_of = data_as_of(ds) if as_of is None else pd.Timestamp(as_of)
    aggs = _service_aggregates(t, as_of, fr_target, res_target)
    if by is None:
        out = t.aggregate(**aggs).to_pandas()
    else:
        if by not in t.columns:
            raise ValueError(f"table 'service_tickets' has no column '{by}' to break down by")
        out = t.group_by(by).aggregate(**aggs).to_pandas().sort_values(by)
    if out.empty or int(out.tickets.fillna(0).sum()) == 0:
        raise ValueError("no service tickets in the selected period: widen start/end")
    return _finish_service(out.reset_index(drop=True))


def monthly_service(
    ds,
    first_response_target_hours: float = 4.0,
    resolution_target_hours: float = 48.0,
    start: str | None = None,
    end: str | None = None,
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The :func:`service_levels` figures per month the tickets were opened, plus the month's
    orders and tickets per 100 orders (with its exact Poisson interval) when ``ds`` has an
    ``orders`` table (without it, no orders columns)."""
    fr_target = validate.positive("first_response_target_hours", first_response_target_hours)
    res_target = validate.positive("resolution_target_hours", resolution_target_hours)
    t = _tickets(ds, start, end)
    as_of = data_as_of(ds) if as_of is None else pd.Timestamp(as_of)
    t = t.mutate(month=t.opened_at.truncate("M").cast("date"))
    aggs = _service_aggregates(t, as_of, fr_target, res_target)
    out = t.group_by("month").aggregate(**aggs).to_pandas()
    if out.empty:
        raise ValueError("no service tickets in the selected period: widen start/end")
    out["month"] = pd.to_datetime(out["month"])
    if "orders" not in ds:
        return _finish_service(out.sort_values("month").reset_index(drop=True))
    lo, hi = _check_period(start, end)
    o = ds.orders.filter(_in_period(ds.orders.order_ts, lo, hi))
    om = o.group_by(month=o.order_ts.truncate("M").cast("date")).aggregate(orders=o.count())
    om = om.to_pandas()
    om["month"] = pd.to_datetime(om["month"])
    out = out.merge(om, on="month", how="left")
    out["orders"] = out.orders.fillna(0).astype("int64")
    out = _finish_service(out.sort_values("month").reset_index(drop=True))
    return pd.concat([out, tickets_per_100_orders(out.tickets, out.orders)], axis=1)


def time_distribution(
    ds,
    measure: str = "first_response",
    by: str = "channel",
    bins_per_decade: int = 4,
    start: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """Histogram of ticket times on a log scale, per ``by`` group, counted in the engine.

    hours = (first_response_at or resolved_at) − opened_at, floored at 0.001 h; bin k holds
    hours in [10^(k/m), 10^((k+1)/m)) with m = ``bins_per_decade``. Tickets without the time
    are left out. Returns the group, bin_low_h, bin_high_h, tickets and share (tickets / the
    group's tickets with the time).
    """
    column = {"first_response": "first_response_at", "resolution": "resolved_at"}.get(measure)
    if column is None:
        raise ValueError(f"measure must be 'first_response' or 'resolution', got {measure!r}")
    m = validate.positive_int("bins_per_decade", bins_per_decade)
    t = _tickets(ds, start, end)
    if by not in t.columns:
        raise ValueError(f"table 'service_tickets' has no column '{by}' to break down by")
    t = t.filter(t[column].notnull())
    hours = ibis.greatest(_hours(t[column], t.opened_at), 0.001)
    k = (hours.log10() * m).floor().cast("int64")
    out = t.group_by([t[by], k.name("bin")]).aggregate(tickets=t.count()).to_pandas()
    if out.empty:
        raise ValueError(f"no service tickets with '{column}' in the selected period")
    out["bin_low_h"] = 10.0 ** (out["bin"] / m)
    out["bin_high_h"] = 10.0 ** ((out["bin"] + 1) / m)
    out["tickets"] = out.tickets.astype("int64")
    out["share"] = out.tickets / out.groupby(by).tickets.transform("sum")
    return out.sort_values([by, "bin"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- recommendations


def default_min_order_value(ds, start: str | None = None, end: str | None = None) -> float:
    """A minimum order value to test when none is given: the 25th percentile of order revenue
    in the period (one order in four is below it), rounded to two significant figures."""
    o = order_economics(ds, start, end)
    med = o.aggregate(m=o.revenue.quantile(0.25)).to_pandas().m.iloc[0]
    if pd.isna(med) or med <= 0:
        raise ValueError("no orders with revenue in the selected period: widen start/end")
    return float(f"{med:.2g}")


def fixed_delivery_cost(ds, below: float, start: str | None = None, end: str | None = None):
    """The per-shipment part of delivery cost for orders below ``below``: the intercept a of a
    least-squares line cost = a + b · units shipped over their shipments (a = mean(cost) −
    b · mean(units), b = cov(units, cost) / var(units)), capped between 0 and the mean cost.
    Computed in the engine (Ibis covariance and variance); it replaces a scikit-learn fit
    that would need every shipment in pandas."""
    below = validate.positive("min_order_value", below)
    o = order_economics(ds, start, end)
    small = o.filter(o.revenue < below).select("order_id")
    sh = ds.shipments.join(small, "order_id")
    units = sh.qty_shipped.cast("float64")
    r = sh.aggregate(
        n=sh.count(),
        mean_cost=sh.cost.mean(),
        mean_units=units.mean(),
        cov=units.cov(sh.cost, how="pop"),
        var=units.var(how="pop"),
    ).to_pandas()
    row = r.iloc[0]
    if int(row.n) == 0:
        return 0.0
    var, cov = row["var"], row["cov"]
    slope = float(cov) / float(var) if pd.notna(var) and var > 0 else 0.0
    a = float(row.mean_cost) - slope * float(row.mean_units)
    return float(min(max(a, 0.0), float(row.mean_cost)))


def consolidation_savings(
    ds,
    account_ids,
    min_order_value: float,
    start: str | None = None,
    end: str | None = None,
    saving_per_order: float | None = None,
) -> pd.DataFrame:
    """Delivery cost saved per account if orders below ``min_order_value`` were consolidated.

    Assumption: within each calendar month an account's n orders below X, worth V together,
    are placed instead as max(1, ceil(V / X)) orders (it buys the same goods, later and
    together); each order merged away saves the per-shipment fixed delivery cost
    (:func:`fixed_delivery_cost`, or ``saving_per_order``). Revenue, cost of goods, returns
    and tickets are assumed unchanged. Returns account_id, small_orders, orders_saved,
    margin_recovered (one row per account of ``account_ids`` with small orders).
    """
    x = validate.positive("min_order_value", min_order_value)
    ids = [int(i) for i in account_ids]
    cols = ["account_id", "small_orders", "orders_saved", "margin_recovered"]
    if not ids:
        return pd.DataFrame(columns=cols)
    per_order = fixed_delivery_cost(ds, x, start, end) if saving_per_order is None else None
    o = order_economics(ds, start, end)
    o = o.filter(o.account_id.isin(ids) & (o.revenue < x))
    m = o.group_by(["account_id", o.order_ts.truncate("M").name("month")]).aggregate(
        n=o.count(), value=o.revenue.sum()
    )
    df = m.to_pandas()
    if df.empty:
        return pd.DataFrame(columns=cols)
    after = np.maximum(1, np.ceil(df.value / x - 1e-9)).astype("int64")
    df["orders_saved"] = (df.n - np.minimum(after, df.n)).astype("int64")
    unit = float(saving_per_order) if saving_per_order is not None else per_order
    df["margin_recovered"] = df.orders_saved * unit
    out = df.groupby("account_id", as_index=False).agg(
        small_orders=("n", "sum"),
        orders_saved=("orders_saved", "sum"),
        margin_recovered=("margin_recovered", "sum"),
    )
    return out[cols]


def self_service_savings(
    ds,
    account_ids,
    share: float = 0.5,
    self_service_channel: str = "portal",
    start: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """Ticket cost saved per account if ``share`` of its tickets on dearer channels moved to
    the self-service channel.

    saving = share · Σ over its tickets on other channels of (cost − c_ss), only where cost >
    c_ss, c_ss = mean cost of a ticket on ``self_service_channel`` over all accounts in the
    period. Assumption: the moved tickets cost what an average self-service ticket costs, and
    the number of tickets does not change. Returns account_id, tickets_moved, margin_recovered.
    """
    share = validate.fraction("self_service_share", share)
    ids = [int(i) for i in account_ids]
    cols = ["account_id", "tickets_moved", "margin_recovered"]
    t = _tickets(ds, start, end)
    ss = t.filter(t.channel == self_service_channel)
    c = ss.aggregate(n=ss.count(), c=ss.cost.mean()).to_pandas().iloc[0]
    if int(c.n) == 0:
        raise ValueError(
            f"no '{self_service_channel}' tickets in 'service_tickets.channel' to price the "
            "self-service channel: set self_service_channel to a channel present in the data"
        )
    if not ids:
        return pd.DataFrame(columns=cols)
    c_ss = float(c.c)
    g = t.filter(t.account_id.isin(ids) & (t.channel != self_service_channel) & (t.cost > c_ss))
    out = g.group_by("account_id").aggregate(n=g.count(), excess=(g.cost - c_ss).sum()).to_pandas()
    out["tickets_moved"] = share * out.n
    out["margin_recovered"] = share * out.excess
    return out[cols]


def _lever(ds, driver: str, group: pd.DataFrame, levers: dict) -> tuple | None:
    """(recovered per account, action, assumption) of one driver's lever on ``group`` (the
    loss-making accounts with an excess on it); None when the lever cannot be priced (no
    self-service channel given)."""
    x, start, end = levers["min_order_value"], levers["start"], levers["end"]
    ids = group.account_id.tolist()
    if driver == "small_orders":
        per_order = fixed_delivery_cost(ds, x, start, end)
        rec = consolidation_savings(ds, ids, x, start, end, saving_per_order=per_order)
        return (
            rec,
            f"minimum order value of {x:,.0f}",
            f"each month, an account's orders below {x:,.0f} are merged into as few orders "
            f"of at least {x:,.0f} as their value allows; each order merged away saves the "
            f"per-shipment delivery cost ({per_order:,.2f}); sales unchanged",
        )
    if driver == "tickets":
        share, channel = levers["self_service_share"], levers["self_service_channel"]
        if channel is None:
            return None
        rec = self_service_savings(ds, ids, share, channel, start, end)
        return (
            rec,
            f"self-service on {channel}",
            f"{share:.0%} of these accounts' tickets on dearer channels are handled on "
            f"{channel} at its average cost per ticket; ticket volume unchanged",
        )
    if driver == "returns":
        fee = levers["restocking_fee"]
        rec = pd.DataFrame(
            {"account_id": group.account_id, "margin_recovered": fee * group.refunds}
        )
        return (
            rec,
            f"restocking fee of {fee:.0%} on returns",
            f"the same returns are made and {fee:.0%} of each refund is kept",
        )
    rec = pd.DataFrame(
        {"account_id": group.account_id, "margin_recovered": group[f"excess_{driver}"]}
    )
    action = (
        "cap discounts at the benchmark rate"
        if driver == "discounts"
        else "reprice to the benchmark list margin"
    )
    return rec, action, "the account buys the same at the value-creating accounts' aggregate rate"


def _lever_row(label, action, assumption, contribution, recovered, in_group) -> dict:
    """One row of the recommendations table: accounts in the group, their loss (Σ −
    contribution), the margin recovered and the accounts whose recovery covers their loss."""
    turned = contribution[in_group] + recovered[in_group] >= 0
    return {
        "driver": label,
        "action": action,
        "assumption": assumption,
        "accounts": int(in_group.sum()),
        "loss": float(-contribution[in_group].sum()),
        "margin_recovered": float(recovered[in_group].sum()),
        "accounts_turned_positive": int(turned.sum()),
    }


RECOMMENDATION_COLUMNS = (
    "driver",
    "action",
    "assumption",
    "accounts",
    "loss",
    "margin_recovered",
    "share_of_loss",
    "accounts_turned_positive",
)


def recommendations(
    ds,
    drivers: pd.DataFrame,
    min_order_value: float,
    self_service_share: float = 0.5,
    restocking_fee: float = 0.15,
    self_service_channel: str | None = "portal",
    start: str | None = None,
    end: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One recommendation per loss driver, each with the margin it would recover.

    Each lever targets the loss-making accounts whose cost on that driver is above the
    value-creating accounts' benchmark (excess > 0 in :func:`loss_drivers`):

    - small orders -> minimum order value X (:func:`consolidation_savings`)
    - tickets -> self-service for a share of tickets (:func:`self_service_savings`); left out
      when ``self_service_channel`` is None
    - returns -> a restocking fee: recovered = fee · Σ refunds (assumes the same returns are
      made and the fee is charged on each)
    - deep discounts / low list margin -> reprice to the benchmark rate: recovered = the
      account's excess (assumes it keeps buying the same at the new price)

    The levers act on different cost lines, so their recoveries add up per account; the last
    row, "all levers", is that sum. Returns (table, per_account): the table has driver,
    action, assumption, accounts, loss (Σ −contribution of the group), margin_recovered,
    share_of_loss = margin_recovered / loss, accounts_turned_positive (accounts whose
    recovered margin covers their loss); per_account has one column of recovered margin per
    driver and ``total``.
    """
    levers = {
        "restocking_fee": validate.fraction("restocking_fee", restocking_fee),
        "min_order_value": validate.positive("min_order_value", min_order_value),
        "self_service_share": validate.fraction("self_service_share", self_service_share),
        "self_service_channel": self_service_channel,
        "start": start,
        "end": end,
    }
    per_account = drivers[["account_id", "contribution"]].copy()
    rows = []
    for driver, label in DRIVERS.items():
        group = drivers[drivers[f"excess_{driver}"] > EPS]
        lever = None if group.empty else _lever(ds, driver, group, levers)
        if lever is None:
            per_account[driver] = 0.0
            continue
        rec, action, assumption = lever
        got = rec.set_index("account_id").margin_recovered.astype("float64")
        per_account[driver] = per_account.account_id.map(got).fillna(0.0)
        in_group = per_account.account_id.isin(group.account_id)
        rows.append(
            _lever_row(
                label, action, assumption, per_account.contribution, per_account[driver], in_group
            )
        )
    per_account["total"] = per_account[list(DRIVERS)].sum(axis=1)
    if len(per_account):
        everyone = pd.Series(True, index=per_account.index)
        rows.append(
            _lever_row(
                "all drivers",
                "all levers together",
                "the levers above act on different costs and add up",
                per_account.contribution,
                per_account.total,
                everyone,
            )
        )
    table = pd.DataFrame(rows, columns=[c for c in RECOMMENDATION_COLUMNS if c != "share_of_loss"])
    table["share_of_loss"] = table.margin_recovered / table.loss.where(table.loss > 0)
    return table[list(RECOMMENDATION_COLUMNS)].reset_index(drop=True), per_account


def headline(costs: pd.DataFrame, curve_summary: dict, levels_all: pd.DataFrame) -> dict:
    """Key figures for the findings and ``publish``: accounts, loss-making accounts and share,
    value destroyed, total contribution, whale-curve peak (:func:`cost_headline`), tickets,
    cost per ticket, share past the first-response and resolution targets, reopened and
    unresolved rates (:func:`ticket_headline`)."""
    return cost_headline(costs, curve_summary) | ticket_headline(levels_all)


def ticket_headline(levels_all: pd.DataFrame) -> dict:
    """The ticket figures of :func:`headline` (from the all-tickets :func:`service_levels`)."""
    row = levels_all.iloc[0]
    return {
        "tickets": int(row.tickets),
        "cost_per_ticket": float(row.cost_per_ticket),
        "fr_past_rate": float(row.fr_past_rate),
        "res_past_rate": float(row.res_past_rate),
        "reopened_rate": float(row.reopened_rate),
        "unresolved": int(row.unresolved),
    }


def cost_headline(costs: pd.DataFrame, curve_summary: dict) -> dict:
    """The cost-to-serve figures of :func:`headline`."""
    n_loss = int(costs.loss_making.sum())
    return {
        "served_accounts": len(costs),
        "loss_making_accounts": n_loss,
        "loss_making_share": n_loss / len(costs),
        "value_destroyed": curve_summary["value_destroyed"],
        "total_contribution": curve_summary["total_contribution"],
        "peak_contribution": curve_summary["peak_contribution"],
        "peak_account_share": curve_summary["peak_account_share"],
        "gross_margin": float(costs.gross_margin.sum()),
        "serving_cost": float(costs.serving_cost.sum()),
    }


# ----------------------------------------------------------------------------- activity


def account_activity(ds, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """One row per account active in the period (a ticket opened, or an order placed when
    ``ds`` has orders; with ``order_lines``, only orders with a kept line count, as in
    :func:`order_economics`): firmographics, orders, tickets, ticket_cost. On a dataset with
    orders, order lines and shipments its accounts and counts are :func:`account_costs`'."""
    t = _tickets(ds, start, end)
    tk = t.group_by("account_id").aggregate(tickets=t.count(), ticket_cost=t.cost.sum())
    active = tk.select("account_id")
    per_acc = None
    if "orders" in ds:
        lo, hi = _check_period(start, end)
        o = ds.orders.filter(_in_period(ds.orders.order_ts, lo, hi))
        if "order_lines" in ds:
            o = o.semi_join(ds.order_lines.select("order_id").distinct(), "order_id")
        per_acc = o.group_by("account_id").aggregate(orders=o.count())
        active = active.union(per_acc.select("account_id"), distinct=True)
    j = ds.accounts.select("account_id", *FIRMOGRAPHICS).join(active, "account_id")
    j = j.left_join(tk, "account_id").drop("account_id_right")
    if per_acc is not None:
        j = j.left_join(per_acc, "account_id").drop("account_id_right")
    out = j.to_pandas()
    if out.empty:
        raise ValueError("no orders and no service tickets in the selected period: widen start/end")
    if "orders" not in out:
        out["orders"] = 0
    out[["orders", "tickets"]] = out[["orders", "tickets"]].fillna(0).astype("int64")
    out["ticket_cost"] = out.ticket_cost.astype("float64").fillna(0.0)
    return out.sort_values("account_id").reset_index(drop=True)


def ticket_rate_by_group(activity: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per group of accounts (``by``: any account column): accounts, orders, tickets and
    tickets per 100 orders with its 95 % exact Poisson interval
    (:func:`tickets_per_100_orders`), sorted by group."""
    if by not in activity.columns:
        raise ValueError(f"cannot break down by '{by}': not a column of the account table")
    g = activity.groupby(by, observed=True)
    out = g.agg(
        accounts=("account_id", "count"), orders=("orders", "sum"), tickets=("tickets", "sum")
    )
    out = out.reset_index()
    return pd.concat([out, tickets_per_100_orders(out.tickets, out.orders)], axis=1)


def by_firmographics(frame: pd.DataFrame, per_group) -> pd.DataFrame:
    """``per_group(frame, by)`` for each of :data:`FIRMOGRAPHICS`, stacked with a
    ``breakdown`` (the column) and ``group`` (its value) column first."""
    parts = []
    for by in FIRMOGRAPHICS:
        g = per_group(frame, by)
        parts.append(g.assign(breakdown=by, group=g[by]).drop(columns=by))
    out = pd.concat(parts, ignore_index=True)
    return out[["breakdown", "group", *[c for c in out.columns if c not in ("breakdown", "group")]]]


# ----------------------------------------------------------------------------- history


def _week_start(col):
    return col.truncate("W").cast("date")


def weekly_backlog(ds, end: str | None = None, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Open tickets at the end of each ISO week (Sunday 24:00), from the first week with a
    ticket to the week holding ``end`` (default: the day of ``as_of``, :func:`data_as_of`).

    backlog(w) = Σ tickets opened up to the end of week w − Σ tickets resolved up to then
    (a ticket resolved in the week it was opened is never counted open); every ticket of the
    data counts, whenever it was opened (a backlog is a stock, not a flow). Returns week (the
    Monday), iso_week ("YYYY-Www"), opened, resolved, backlog and complete (the week's
    Sunday is on or before the last day the data and ``end`` cover, and its Monday on or
    after the data's first day: the overview's rule). Counted in the engine per week,
    summed up in pandas; a ticket resolved after the last day is still open then.
    """
    t = ds.service_tickets
    as_of = data_as_of(ds) if as_of is None else pd.Timestamp(as_of)
    last = as_of.normalize()  # the last day the data cover
    last = min(last, pd.Timestamp(end).normalize()) if end else last
    opened = t.group_by(week=_week_start(t.opened_at)).aggregate(opened=t.count()).to_pandas()
    r = t.filter(t.resolved_at.notnull())
    resolved = r.group_by(week=_week_start(r.resolved_at)).aggregate(resolved=r.count())
    out = opened.merge(resolved.to_pandas(), on="week", how="outer")
    out["week"] = pd.to_datetime(out["week"])
    first_day = pd.Timestamp(out.week.min())
    weeks = pd.date_range(first_day, last, freq="W-MON")
    out = out.set_index("week").reindex(weeks).rename_axis("week").fillna(0).reset_index()
    out[["opened", "resolved"]] = out[["opened", "resolved"]].astype("int64")
    out["backlog"] = out.opened.cumsum() - out.resolved.cumsum()
    lo = pd.Timestamp(t.aggregate(m=t.opened_at.min()).to_pandas().m.iloc[0]).normalize()
    out["complete"] = (out.week >= lo) & (out.week + pd.Timedelta(days=6) <= last)
    iso = out.week.dt.isocalendar()
    out.insert(1, "iso_week", [f"{y}-W{w:02d}" for y, w in zip(iso.year, iso.week, strict=True)])
    return out


def monthly_series(
    monthly: pd.DataFrame, backlog: pd.DataFrame | None, first: pd.Timestamp, last: pd.Timestamp
) -> dict:
    """The history of the headline figures for ``publish(series=...)``: ``ticket_backlog``
    per complete ISO week (:func:`weekly_backlog`) and ``tickets_per_100_orders`` per
    complete month (:func:`monthly_service`: a month whose first day is on or after
    ``first`` and whose last day is on or before ``last``, both days), in time order."""
    out = {}
    if backlog is not None:
        done = backlog[backlog.complete]
        if len(done):
            out["ticket_backlog"] = {
                "freq": "week",
                "values": {w: int(n) for w, n in zip(done.iso_week, done.backlog, strict=True)},
            }
    if "tickets_per_100_orders" in monthly.columns:
        lo, hi = pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize()
        m = monthly[(monthly.month >= lo) & (monthly.month + pd.offsets.MonthEnd(0) <= hi)]
        m = m[m.tickets_per_100_orders.notna()]
        if len(m):
            out["tickets_per_100_orders"] = {
                "freq": "month",
                "values": {
                    f"{d:%Y-%m}": float(v)
                    for d, v in zip(m.month, m.tickets_per_100_orders, strict=True)
                },
            }
    return out


#: Columns of the loss-making accounts' list, in order (those the data has).
LOSS_LIST_COLUMNS = (
    "account_id",
    "company_name",
    "account_manager",
    "size_band",
    "industry",
    "region",
    "orders",
    "aov",
    "tickets",
    "gross_margin",
    "delivery_cost",
    "returns_cost",
    "ticket_cost",
    "contribution",
    "drivers",
)


def loss_making_list(ds, losers: pd.DataFrame) -> pd.DataFrame:
    """The loss-making accounts as a list to act on: :data:`LOSS_LIST_COLUMNS` the data has,
    the company name and account manager read from ``ds.accounts`` (business data, shown),
    most value destroyed first (``losers``' order)."""
    acc = ds.accounts
    names = [c for c in ("company_name", "account_manager") if c in acc.columns]
    out = losers
    if names:
        ids = [int(i) for i in losers.account_id]
        extra = acc.filter(acc.account_id.isin(ids)).select("account_id", *names).to_pandas()
        out = losers.drop(columns=[c for c in names if c in losers], errors="ignore")
        out = out.merge(extra, on="account_id", how="left")
    return out[[c for c in LOSS_LIST_COLUMNS if c in out.columns]].reset_index(drop=True)


# ----------------------------------------------------------------------------- analyse

#: The report's core: it builds from service tickets alone (``requires:`` in reports.yml);
#: an ``accounts`` table is derived from the tickets' (and orders') account ids when absent.
CORE = ("service_tickets",)
ORDER_NEEDS = {"orders": ("order_id", "account_id", "order_ts")}
COST_NEEDS = {
    **ORDER_NEEDS,
    "order_lines": ("order_id", "sku", "quantity", "unit_price", "unit_cost", "discount"),
    "shipments": ("order_id", "qty_shipped", "cost"),
}
#: Used when present: without ``returns`` the cost to serve counts no returns cost (a note says).
OPTIONAL_TABLES = ("returns",)
SECTIONS = (
    Section("volumes", "Ticket volumes"),
    Section("ticket_rate", "Tickets per hundred orders", needs=ORDER_NEEDS),
    Section("times", "Response and resolution times"),
    Section("reopened", "Reopened and unresolved tickets"),
    Section("trends", "Trends"),
    Section("cost_to_serve", "Cost to serve per account", needs=COST_NEEDS),
    Section("whale", "Whale curve", needs=COST_NEEDS),
    Section("where", "Where accounts destroy value", needs=COST_NEEDS),
    Section("drivers", "Drivers of the losses", needs=COST_NEEDS),
    Section("recommendations", "Recommendations", needs=COST_NEEDS),
)
COST_SECTIONS = ("cost_to_serve", "whale", "where", "drivers", "recommendations")


def open_tables(data_dir=None, engine: str = "duckdb", **options):
    """``helpers.data.tables.open_tables`` on this report's tables: :data:`CORE` and
    ``accounts`` (derived when the folder has none), and each table the sections read
    (:data:`SECTIONS`' needs, :data:`OPTIONAL_TABLES`) that the folder has."""
    optional = [*dict.fromkeys(t for s in SECTIONS for t in s.tables), *OPTIONAL_TABLES]
    return tables.open_tables(data_dir, (*CORE, "accounts"), optional, engine, **options)


def analyse(
    ds,
    start: str | None = None,
    end: str | None = None,
    first_response_target_hours: float = 4.0,
    resolution_target_hours: float = 48.0,
    return_recovery: float = 0.0,
    min_order_value: float | None = None,
    self_service_share: float = 0.5,
    self_service_channel: str = "portal",
    restocking_fee: float = 0.15,
) -> Analysis:
    """The service report over orders and tickets between ``start`` and ``end`` (inclusive
    days; None: the whole history): ticket volumes, service levels against the two targets
    (hours), reopened and unresolved tickets and their monthly trend from the tickets alone;
    tickets per 100 orders with orders; cost to serve, the whale curve, where and why accounts
    destroy value and the levers that would recover it (:func:`recommendations`; the minimum
    order value tested is ``min_order_value``, None: :func:`default_min_order_value`) with
    orders, order lines and shipments whose costs are all known.
    """
    if "accounts" not in ds:
        ds = tables.derive_accounts(ds)
    result = Analysis.start("service", SECTIONS, ds)
    period_table = "orders" if "orders" in ds else "service_tickets"
    lo, hi = ds.period(period_table)
    result.facts.update(
        as_of=data_as_of(ds),
        period_table=period_table,
        # the days counted, as the report names them (the data's own ends when not given)
        window_start=f"{max(pd.Timestamp(start), lo.normalize()) if start else lo:%Y-%m-%d}",
        window_end=f"{min(pd.Timestamp(end), hi.normalize()) if end else hi:%Y-%m-%d}",
        with_orders="orders" in ds,
        fr_target=float(first_response_target_hours),
        res_target=float(resolution_target_hours),
        return_recovery=float(return_recovery),
    )
    _ticket_sections(result, ds, start, end)
    if result.built("cost_to_serve"):
        _cost_sections(result, ds, start, end, return_recovery)
    if result.built("drivers"):
        _driver_section(result, ds)
    if result.built("recommendations"):
        levers = dict(
            min_order_value=min_order_value,
            self_service_share=self_service_share,
            self_service_channel=self_service_channel,
            restocking_fee=restocking_fee,
        )
        _recommendation_section(result, ds, start, end, **levers)
    return result


def _ticket_sections(result: Analysis, ds, start, end) -> None:
    """Tables levels_all, levels (by channel), categories, monthly, fr_dist, res_dist,
    activity, and with orders size (tickets per 100 orders by size band) and volume_by (by
    every firmographic); figures tickets, cost_per_ticket, fr_past_rate, res_past_rate,
    reopened_rate, unresolved."""
    f = result.facts
    kw = dict(
        first_response_target_hours=f["fr_target"],
        resolution_target_hours=f["res_target"],
        start=start,
        end=end,
        as_of=f["as_of"],
    )
    levels_all = service_levels(ds, **kw, by=None)
    levels = service_levels(ds, **kw, by="channel")
    activity = account_activity(ds, start, end)
    result.tables.update(
        levels_all=levels_all,
        levels=levels.assign(share=levels.tickets / levels.tickets.sum()),
        categories=service_levels(ds, **kw, by="category").sort_values(
            "res_median_h", ascending=False
        ),
        monthly=monthly_service(ds, **kw),
        fr_dist=time_distribution(ds, "first_response", start=start, end=end),
        res_dist=time_distribution(ds, "resolution", start=start, end=end),
        activity=activity,
    )
    h = ticket_headline(levels_all)
    f.update(
        ticket=h,
        ticket_accounts=int((activity.tickets > 0).sum()),
        ticket_account_share=float((activity.tickets > 0).mean()),
        tickets_per_account=activity.tickets.describe(percentiles=[0.5, 0.9]),
    )
    result.figures.update({k: h[k] for k in ("tickets", "cost_per_ticket")})
    result.figures.update({k: h[k] for k in ("fr_past_rate", "res_past_rate")})
    result.figures.update({k: h[k] for k in ("reopened_rate", "unresolved")})
    _history(result, ds, start, end)
    if f["with_orders"]:
        result.figures["service_active_accounts"] = int((activity.orders > 0).sum())
    if result.built("ticket_rate"):
        size = ticket_rate_by_group(activity, "size_band")
        result.tables["size"] = size.sort_values("tickets_per_100_orders", ascending=False)
        result.tables["volume_by"] = by_firmographics(activity, ticket_rate_by_group)


def _history(result: Analysis, ds, start, end) -> None:
    """Table backlog (:func:`weekly_backlog`); facts series (:func:`monthly_series`),
    last_week; figures ticket_backlog (the last complete week's) and tickets_per_100_orders
    (the last complete month's, with orders)."""
    f = result.facts
    backlog = weekly_backlog(ds, end, as_of=f["as_of"])
    result.tables["backlog"] = backlog
    t = ds.service_tickets
    first = pd.Timestamp(t.aggregate(m=t.opened_at.min()).to_pandas().m.iloc[0])
    first = max(first, pd.Timestamp(start)) if start else first
    last = f["as_of"].normalize()  # the last day the data cover (the overview's rule)
    last = min(last, pd.Timestamp(end).normalize()) if end else last
    series = monthly_series(result.tables["monthly"], backlog, first, last)
    f["series"] = series
    for key in ("ticket_backlog", "tickets_per_100_orders"):
        if key in series:
            period, value = list(series[key]["values"].items())[-1]
            result.figures[key] = value
            f[f"{key}_period"] = period


def _cost_sections(result: Analysis, ds, start, end, return_recovery) -> None:
    """Skips every cost section when a line has no unit cost; else tables costs, curve,
    cost_lines (by value-creating / loss-making), size_loss and where (by firmographics);
    figures served_accounts, loss_making_accounts, loss_making_share, gross_margin, serving_cost,
    value_destroyed, total_contribution, peak_contribution, peak_account_share."""
    if not measures.costs_known(ds):
        why = (
            "Cost to serve needs a unit cost on every order line (order_lines.unit_cost): "
            "some lines of this dataset have none, so margins and contributions are unknown; "
            f"import with a cost ratio or add the costs: see {BYOD_DOC}."
        )
        for key in COST_SECTIONS:
            result.skip(key, why)
        return
    if "returns" not in ds:
        result.notes.append(
            "This dataset has no `returns` table: cost to serve counts no returns cost."
        )
    costs = account_costs(ds, start, end, return_recovery)
    curve = whale_curve(costs)
    whale = whale_summary(curve)
    status = costs.loss_making.map({True: "loss-making", False: "value-creating"})
    lines = ["discounts", "delivery_cost", "returns_cost", "ticket_cost"]
    cost_lines = costs.assign(status=status).groupby("status")[lines].sum().T
    cost_lines.index = ["Discounts", "Delivery", "Returns", "Tickets"]
    size_loss = by_group(costs, "size_band").sort_values("loss_share", ascending=False)
    result.tables.update(
        costs=costs,
        curve=curve,
        cost_lines=cost_lines.rename_axis(columns="accounts"),
        size_loss=size_loss,
        where=by_firmographics(costs, by_group),
        losers=costly_accounts(costs).assign(drivers=""),
    )
    result.tables["loss_list"] = loss_making_list(ds, result.tables["losers"])
    result.facts.update(whale=whale, cost=cost_headline(costs, whale))
    h = result.facts["cost"]
    cost_keys = ("served_accounts", "loss_making_accounts", "loss_making_share")
    result.figures.update({k: h[k] for k in (*cost_keys, "gross_margin", "serving_cost")})
    whale_keys = ("value_destroyed", "total_contribution", "peak_contribution")
    result.figures.update({k: h[k] for k in (*whale_keys, "peak_account_share")})


def _driver_section(result: Analysis, ds) -> None:
    """Tables drivers (= losers, with the drivers of each loss), excess (by driver), mix
    (size band x main driver); facts main_drivers. Skips drivers and recommendations when no
    account creates value to benchmark against."""
    costs = result.tables["costs"]
    try:
        drivers = loss_drivers(costs)
    except ValueError as e:
        why = f"The drivers of the losses are measured against value-creating accounts: {e}."
        result.skip("drivers", why)
        result.skip("recommendations", why)
        return
    excess = drivers[[f"excess_{k}" for k in DRIVERS]].clip(lower=0).sum()
    excess = excess.rename(lambda c: DRIVERS[c.removeprefix("excess_")])
    main = drivers.assign(main=drivers.main_driver.map(lambda k: DRIVERS.get(k, k)))
    result.tables.update(
        drivers=drivers,
        losers=drivers,
        loss_list=loss_making_list(ds, drivers),
        excess=excess.rename_axis("driver")
        .reset_index(name="excess")
        .sort_values("excess", ascending=False),
        mix=main.pivot_table(
            index="size_band", columns="main", values="account_id", aggfunc="count", fill_value=0
        ).reset_index(),
    )
    result.facts["main_drivers"] = {
        DRIVERS.get(k, k): int(n) for k, n in drivers.main_driver.value_counts().items()
    }


def _recommendation_section(
    result: Analysis,
    ds,
    start,
    end,
    min_order_value,
    self_service_share,
    self_service_channel,
    restocking_fee,
) -> None:
    """Tables recs, recovered; facts mov, mov_default, best (the lever recovering most),
    all_levers; figures min_order_value, margin_recoverable."""
    channels = set(result.tables["levels"].channel)
    if self_service_channel not in channels:
        result.notes.append(
            f"No ticket on the self-service channel '{self_service_channel}' (parameter "
            f"self_service_channel; channels here: {', '.join(sorted(map(str, channels)))}): "
            "the self-service lever is left out of the recommendations."
        )
        self_service_channel = None
    try:
        mov = min_order_value or default_min_order_value(ds, start, end)
    except ValueError as e:
        result.skip("recommendations", f"Recommendations need orders with revenue: {e}.")
        return
    recs, recovered = recommendations(
        ds,
        result.tables["drivers"],
        mov,
        self_service_share,
        restocking_fee,
        self_service_channel,
        start,
        end,
    )
    levers = recs[recs.driver != "all drivers"]
    all_levers = recs[recs.driver == "all drivers"]
    result.tables.update(recs=recs, recovered=recovered)
    result.facts.update(
        mov=mov,
        mov_default=not min_order_value,
        best=levers.loc[levers.margin_recovered.idxmax()] if len(levers) else None,
        all_levers=all_levers.iloc[0] if len(all_levers) else None,
    )
    result.figures.update(
        min_order_value=mov, margin_recoverable=float(all_levers.margin_recovered.sum())
    )


def definitions(result: Analysis) -> dict[str, str]:
    """The report's definitions of its metrics, for the sections ``result`` built (the cost
    terms only with the cost sections), with the targets and return recovery it used."""
    f = result.facts
    terms = {
        "Period": "orders placed between start and end, with their shipments and returns "
        "whenever they happened; tickets opened between start and end.",
        "First response / resolution time": "hours from opening to the first response / to "
        "resolution; median and 90th percentile over tickets that have them.",
        "Past target": f"answered later than the target ({f['fr_target']:g} h first response, "
        f"{f['res_target']:g} h resolution), or still open and older than it; open tickets "
        "younger than the target are left out; 95% Wilson interval.",
        "Reopened / unresolved": "tickets reopened / tickets; tickets with no resolution time / "
        "tickets, as of the data's last ticket event.",
    }
    terms["Ticket backlog"] = (
        "tickets opened and not yet resolved at the end of an ISO week (Monday to Sunday), "
        "whenever they were opened."
    )
    if result.built("ticket_rate"):
        terms["Tickets per 100 orders"] = (
            "100 × tickets / orders in the group, with a 95% exact Poisson interval."
        )
    if not result.built("cost_to_serve"):
        return terms
    return terms | {
        "Accounts served": f"accounts with an order or a ticket from {f['window_start']} to "
        f"{f['window_end']} (not the overview's accounts ordering in one month).",
        "Gross margin": "revenue − cost of goods = Σ quantity × (unit price × (1 − discount) − "
        "unit cost); revenue is already net of discounts.",
        "Discounts": "Σ quantity × unit price × discount: part of cost to serve, but already out "
        "of gross margin, so never subtracted twice.",
        "Delivery cost": "Σ shipment cost of the account's orders.",
        "Returns cost": f"Σ refunds − {f['return_recovery']:g} × returned quantity × unit cost "
        "(the share of returned goods recovered to stock).",
        "Ticket cost": "Σ cost of the account's service tickets.",
        "Cost to serve": "discounts + delivery cost + returns cost + ticket cost.",
        "Contribution": "gross margin − delivery cost − returns cost − ticket cost (equivalently "
        "list margin − cost to serve); negative means the account destroys value.",
        "Whale curve": "cumulative contribution over accounts sorted from most to least "
        "profitable (Kaplan & Narayanan 2001); its peak is where loss-making accounts begin.",
        "Drivers": "excess of each cost over the value-creating accounts' rate for the same "
        "revenue: small orders (delivery), tickets, returns, discounts (against list revenue), "
        "low list margin; the main driver is the largest.",
    }
