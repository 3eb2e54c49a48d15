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

from helpers.stats import wilson_interval

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


def _check_fraction(name: str, value: float) -> float:
    if value is None or not (0.0 <= float(value) <= 1.0):
        raise ValueError(f"parameter '{name}' must be between 0 and 1, got {value!r}")
    return float(value)


def _check_positive(name: str, value: float) -> float:
    if value is None or not float(value) > 0:
        raise ValueError(f"parameter '{name}' must be a positive number, got {value!r}")
    return float(value)


# ----------------------------------------------------------------------------- per order


def order_economics(ds, start: str | None = None, end: str | None = None, return_recovery=0.0):
    """One row per order placed in the period (Ibis table): account, order time, list revenue,
    revenue, cogs, discounts, list margin, delivery cost, refunds, returned goods at cost.

    Formulas as in the module docstring; returned goods at cost = Σ returned quantity × the
    quantity-weighted unit cost of the order's lines of that SKU. Orders with no kept line are
    left out. ``returns`` is optional in the data model: without it refunds are zero.
    """
    return_recovery = _check_fraction("return_recovery", return_recovery)
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
    fr_target = _check_positive("first_response_target_hours", first_response_target_hours)
    res_target = _check_positive("resolution_target_hours", resolution_target_hours)
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
    orders and tickets per 100 orders (with its exact Poisson interval)."""
    fr_target = _check_positive("first_response_target_hours", first_response_target_hours)
    res_target = _check_positive("resolution_target_hours", resolution_target_hours)
    t = _tickets(ds, start, end)
    as_of = data_as_of(ds) if as_of is None else pd.Timestamp(as_of)
    t = t.mutate(month=t.opened_at.truncate("M").cast("date"))
    aggs = _service_aggregates(t, as_of, fr_target, res_target)
    out = t.group_by("month").aggregate(**aggs).to_pandas()
    if out.empty:
        raise ValueError("no service tickets in the selected period: widen start/end")
    lo, hi = _check_period(start, end)
    o = ds.orders.filter(_in_period(ds.orders.order_ts, lo, hi))
    om = o.group_by(month=o.order_ts.truncate("M").cast("date")).aggregate(orders=o.count())
    out = out.merge(om.to_pandas(), on="month", how="left")
    out["month"] = pd.to_datetime(out["month"])
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
    m = int(bins_per_decade)
    if m < 1:
        raise ValueError(f"bins_per_decade must be a positive integer, got {bins_per_decade!r}")
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
    below = _check_positive("min_order_value", below)
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
    x = _check_positive("min_order_value", min_order_value)
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
    share = _check_fraction("self_service_share", share)
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


def recommendations(
    ds,
    drivers: pd.DataFrame,
    min_order_value: float,
    self_service_share: float = 0.5,
    restocking_fee: float = 0.15,
    self_service_channel: str = "portal",
    start: str | None = None,
    end: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One recommendation per loss driver, each with the margin it would recover.

    Each lever targets the loss-making accounts whose cost on that driver is above the
    value-creating accounts' benchmark (excess > 0 in :func:`loss_drivers`):

    - small orders -> minimum order value X (:func:`consolidation_savings`)
    - tickets -> self-service for a share of tickets (:func:`self_service_savings`)
    - returns -> a restocking fee: recovered = fee · Σ refunds (assumes the same returns are
      made and the fee is charged on each)
    - deep discounts / low list margin -> reprice to the benchmark rate: recovered = the
      account's excess (assumes it keeps buying the same at the new price)

    The levers act on different cost lines, so their recoveries add up per account; the last
    row, "all levers", is that sum. Returns (table, per_account): the table has driver,
    action, assumption, accounts, loss (Σ −contribution of the group), margin_recovered,
    share_of_loss, accounts_turned_positive (accounts whose recovered margin covers their
    loss); per_account has one column of recovered margin per driver and ``total``.
    """
    fee = _check_fraction("restocking_fee", restocking_fee)
    x = _check_positive("min_order_value", min_order_value)
    share = _check_fraction("self_service_share", self_service_share)
    per_account = drivers[["account_id", "contribution"]].copy()
    rows = []
    for driver, label in DRIVERS.items():
        group = drivers[drivers[f"excess_{driver}"] > EPS]
        ids = group.account_id.tolist()
        if group.empty:
            per_account[driver] = 0.0
            continue
        if driver == "small_orders":
            per_order = fixed_delivery_cost(ds, x, start, end)
            rec = consolidation_savings(ds, ids, x, start, end, saving_per_order=per_order)
            action = f"minimum order value of {x:,.0f}"
            assumption = (
                f"each month, an account's orders below {x:,.0f} are merged into as few orders "
                f"of at least {x:,.0f} as their value allows; each order merged away saves the "
                f"per-shipment delivery cost ({per_order:,.2f}); sales unchanged"
            )
        elif driver == "tickets":
            rec = self_service_savings(ds, ids, share, self_service_channel, start, end)
            action = f"self-service on {self_service_channel}"
            assumption = (
                f"{share:.0%} of these accounts' tickets on dearer channels are handled on "
                f"{self_service_channel} at its average cost per ticket; ticket volume unchanged"
            )
        elif driver == "returns":
            rec = pd.DataFrame(
                {"account_id": group.account_id, "margin_recovered": fee * group.refunds}
            )
            action = f"restocking fee of {fee:.0%} on returns"
            assumption = f"the same returns are made and {fee:.0%} of each refund is kept"
        else:
            rec = pd.DataFrame(
                {"account_id": group.account_id, "margin_recovered": group[f"excess_{driver}"]}
            )
            action = (
                "cap discounts at the benchmark rate"
                if driver == "discounts"
                else "reprice to the benchmark list margin"
            )
            assumption = "the account buys the same at the value-creating accounts' aggregate rate"
        got = rec.set_index("account_id").margin_recovered.astype("float64")
        per_account[driver] = per_account.account_id.map(got).fillna(0.0)
        in_group = per_account.account_id.isin(ids)
        loss = float(-per_account.contribution[in_group].sum())
        recovered = float(per_account.loc[in_group, driver].sum())
        turned = per_account.contribution[in_group] + per_account.loc[in_group, driver] >= 0
        rows.append(
            {
                "driver": label,
                "action": action,
                "assumption": assumption,
                "accounts": int(in_group.sum()),
                "loss": loss,
                "margin_recovered": recovered,
                "accounts_turned_positive": int(turned.sum()),
            }
        )
    per_account["total"] = per_account[list(DRIVERS)].sum(axis=1)
    if len(per_account):
        loss = float(-per_account.contribution.sum())
        turned = per_account.contribution + per_account.total >= 0
        rows.append(
            {
                "driver": "all drivers",
                "action": "all levers together",
                "assumption": "the levers above act on different costs and add up",
                "accounts": len(per_account),
                "loss": loss,
                "margin_recovered": float(per_account.total.sum()),
                "accounts_turned_positive": int(turned.sum()),
            }
        )
    cols = [
        "driver",
        "action",
        "assumption",
        "accounts",
        "loss",
        "margin_recovered",
        "share_of_loss",
        "accounts_turned_positive",
    ]
    table = pd.DataFrame(rows, columns=[c for c in cols if c != "share_of_loss"])
    table["share_of_loss"] = table.margin_recovered / table.loss.where(table.loss > 0)
    return table[cols].reset_index(drop=True), per_account


def headline(costs: pd.DataFrame, curve_summary: dict, levels_all: pd.DataFrame) -> dict:
    """Key figures for the findings and ``publish``: accounts, loss-making accounts and share,
    value destroyed, total contribution, whale-curve peak, tickets, cost per ticket, share past
    the first-response and resolution targets, reopened and unresolved rates."""
    row = levels_all.iloc[0]
    n_loss = int(costs.loss_making.sum())
    return {
        "accounts": len(costs),
        "loss_making_accounts": n_loss,
        "loss_making_share": n_loss / len(costs),
        "value_destroyed": curve_summary["value_destroyed"],
        "total_contribution": curve_summary["total_contribution"],
        "peak_contribution": curve_summary["peak_contribution"],
        "peak_account_share": curve_summary["peak_account_share"],
        "gross_margin": float(costs.gross_margin.sum()),
        "serving_cost": float(costs.serving_cost.sum()),
        "tickets": int(row.tickets),
        "cost_per_ticket": float(row.cost_per_ticket),
        "fr_past_rate": float(row.fr_past_rate),
        "res_past_rate": float(row.res_past_rate),
        "reopened_rate": float(row.reopened_rate),
        "unresolved": int(row.unresolved),
    }
