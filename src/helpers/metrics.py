"""The metrics registry: each headline figure once, with one name and one meaning.

Every figure a report publishes in ``reports/<name>.json`` (``figures``) has an entry here:
its key, a human label, a definition (formula, grain, period, population), a unit, which
direction is good and the function that computes it (a dotted name, so this module imports no
topic: arrows point down). Index cards, ``reports/metrics.json``, translations and week-on-week
changes take their names from it, so two different measures never share a label: "LTV to date"
and "LTV, to date plus 12-month forecast" are two entries (the way dbt's semantic layer or a
LookML measure defines a metric once).

Entries are of four kinds:

- ``metric``: a headline figure, one value per dataset and period. Two reports publishing one
  key must give the same value on the same data and period.
- ``group``: a figure holding a group (``bgnbd: {r, r_se, ...}``, ``calibration_fit:
  {bgnbd: {...}}``, ``holdout: {...}``) or a list of records (``experiments``); the entry
  covers every member ``key.*``, labelled "<group label>: <member>".
- ``setting``: what a report chose or assumed (model chosen, margin basis, calibration end...),
  published so that a figure can be read; not a measure.
- ``provenance``: per report (rows read, rows set aside, period start and end): one
  definition, but each report counts the tables it reads, so values differ between reports.

A report publishes each figure under its registry key (:func:`unknown_keys` finds any other).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "DIRECTIONS",
    "KINDS",
    "METRICS",
    "UNITS",
    "Metric",
    "format_value",
    "label",
    "lookup",
    "published_keys",
    "registry_json",
    "resolve",
    "unknown_keys",
]

#: Units and how a value of each is read: currency (the data's currency, no symbol), count
#: (things counted; may be an expected, fractional count), share (a fraction of one, shown as
#: %), ratio (x times, e.g. ROAS), score (a unitless index), days, date (ISO), month
#: (YYYY-MM), text (a name or a list of names), flag (yes/no), number (a model parameter or
#: statistic), records (a list of flat records).
UNITS = (
    "currency",
    "count",
    "share",
    "ratio",
    "score",
    "days",
    "date",
    "month",
    "text",
    "flag",
    "number",
    "records",
)
#: Which way is good: up (more is better), down (less is better), none (neither, or it depends).
DIRECTIONS = ("up", "down", "none")
KINDS = ("metric", "group", "setting", "provenance")


@dataclass(frozen=True)
class Metric:
    """One registry entry (see the module docstring for ``kind``)."""

    key: str
    label: str
    definition: str
    unit: str
    direction: str
    function: str
    reports: tuple[str, ...]
    kind: str = "metric"


def _m(key, label, definition, unit, direction, function, reports, kind="metric") -> Metric:
    reports = (reports,) if isinstance(reports, str) else tuple(reports)
    return Metric(key, label, definition, unit, direction, function, reports, kind)


_PROVENANCE = (
    "overview",
    "segmentation",
    "service",
    "clv",
    "supply_chain",
    "funnel",
    "pipeline",
    "campaigns",
    "recommendations",
)
_FIT = (
    " per parameter its estimate, standard error (_se) and 95 % interval (_ci_low, _ci_high); "
    "loglik (log-likelihood); fit checks grad_norm, hessian_pd, min_eigenvalue, newton_step, "
    "converged."
)
#: The overview's monthly figures compared month on month and year on year: key -> (label,
#: unit of the figure, definition of the month's value).
_OVERVIEW_COMPARED = {
    "gmv": ("GMV", "currency", "GMV of the orders placed in the month"),
    "orders": ("Orders", "count", "orders placed in the month"),
    "active_accounts": ("Accounts ordering", "count", "accounts with an order in the month"),
    "aov": ("Average order value", "currency", "GMV / orders of the month"),
    "new_accounts": ("New accounts", "count", "accounts whose signup_date falls in the month"),
    "repeat_rate": (
        "Repeat buyers' share",
        "share",
        "accounts ordering in the month whose first order came earlier / accounts ordering "
        "(unknown in the data's first months: history too short)",
    ),
    "gross_margin_rate": ("Gross margin rate", "share", "(GMV − cost of goods) / GMV of the month"),
    "on_time_rate": (
        "Delivered on time",
        "share",
        "deliveries by the promised date / deliveries, by month of the promise",
    ),
}


def _overview_history() -> tuple:
    """The overview's last-month figures (those :data:`_ENTRIES` does not already hold) and
    their month-on-month and year-on-year changes, one entry each."""
    out = []
    for key, (label, unit, what) in _OVERVIEW_COMPARED.items():
        if key in ("orders", "aov", "new_accounts", "gross_margin_rate", "on_time_rate"):
            out.append(
                _m(
                    f"last_month_{key}",
                    f"{label}, last complete month",
                    f"{what[0].upper()}{what[1:]}, for the last complete month (its monthly "
                    "history is published as a series).",
                    unit,
                    "up",
                    "helpers.overview.headline",
                    "overview",
                )
            )
        for suffix, name, earlier in (
            ("mom", "month on month", "the month before"),
            ("yoy", "year on year", "the same month a year earlier"),
        ):
            out.append(
                _m(
                    f"{key}_{suffix}",
                    f"{label}, {name}",
                    f"Relative change of the last complete month's value ({what}) against "
                    f"{earlier}: (value − earlier) / |earlier|; also for rates (not points).",
                    "share",
                    "up",
                    "helpers.overview.changes",
                    "overview",
                )
            )
    for key, label, unit in (("gmv", "GMV", "currency"), ("orders", "Orders", "count")):
        out.append(
            _m(
                f"last_week_{key}",
                f"{label}, last complete week",
                f"{label} of the orders placed in the last complete ISO week (Monday to Sunday) "
                "of the period; its weekly history is published as a series.",
                unit,
                "up",
                "helpers.overview.weekly_kpis",
                "overview",
            )
        )
    return tuple(out)


_ENTRIES = (
    # --------------------------------------------------------------- provenance (every report)
    _m(
        "rows_read",
        "Rows read",
        "Σ rows of the tables the report read, before validation; per report (each reads its "
        "own tables).",
        "count",
        "none",
        "helpers.present.data_quality",
        _PROVENANCE,
        "provenance",
    ),
    _m(
        "rows_set_aside",
        "Rows set aside",
        "Rows of the tables read that broke a validation rule and are not used; per report.",
        "count",
        "down",
        "helpers.present.data_quality",
        _PROVENANCE,
        "provenance",
    ),
    _m(
        "period_start",
        "Period from",
        "First day of the window the report covers: its parameters' start, else the first day "
        "of its period table (orders; leads, web events... per report), clipped to the data.",
        "date",
        "none",
        "helpers.present.data_quality",
        _PROVENANCE,
        "provenance",
    ),
    _m(
        "period_end",
        "Period to",
        "Last day of the window the report covers: its parameters' end, else the last day of "
        "its period table, clipped to the data.",
        "date",
        "none",
        "helpers.present.data_quality",
        _PROVENANCE,
        "provenance",
    ),
    _m(
        "data_start",
        "Data from",
        "First day of the report's period table in the whole dataset, whatever the window.",
        "date",
        "none",
        "helpers.present.data_quality",
        _PROVENANCE,
        "provenance",
    ),
    _m(
        "data_end",
        "Data to",
        "Last day of the report's period table in the whole dataset, whatever the window.",
        "date",
        "none",
        "helpers.present.data_quality",
        _PROVENANCE,
        "provenance",
    ),
    # ------------------------------------------------------------------------------ overview
    _m(
        "gmv",
        "GMV",
        "Gross merchandise value: Σ quantity × unit_price × (1 − discount) over kept order "
        "lines of orders placed in the period (start–end, default the whole data), all accounts.",
        "currency",
        "up",
        "helpers.overview.monthly_kpis",
        "overview",
    ),
    _m(
        "orders",
        "Orders",
        "Orders placed in the period (one per order_id with a kept line), all accounts.",
        "count",
        "up",
        "helpers.overview.monthly_kpis",
        "overview",
    ),
    _m(
        "aov",
        "Average order value",
        "GMV / orders over the period.",
        "currency",
        "up",
        "helpers.overview.headline",
        "overview",
    ),
    _m(
        "gross_margin_rate",
        "Gross margin rate",
        "(GMV − Σ quantity × unit_cost) / GMV over the period; unknown when a line has no unit "
        "cost.",
        "share",
        "up",
        "helpers.overview.headline",
        "overview",
    ),
    _m(
        "new_accounts",
        "New accounts",
        "Accounts whose signup_date falls in the period (accounts derived from the ids seen: their "
        "first activity).",
        "count",
        "up",
        "helpers.overview.monthly_kpis",
        "overview",
    ),
    _m(
        "months",
        "Months covered",
        "Calendar months in the period with the monthly table's rows.",
        "count",
        "none",
        "helpers.overview.monthly_kpis",
        "overview",
        "setting",
    ),
    _m(
        "last_month",
        "Last complete month",
        "The latest calendar month the data covers to its last day.",
        "month",
        "none",
        "helpers.overview.headline",
        "overview",
        "setting",
    ),
    _m(
        "last_month_gmv",
        "GMV, last complete month",
        "GMV of the orders placed in the last complete month.",
        "currency",
        "up",
        "helpers.overview.headline",
        "overview",
    ),
    _m(
        "prev_month_gmv",
        "GMV, month before",
        "GMV of the orders placed in the month before the last complete month.",
        "currency",
        "up",
        "helpers.overview.headline",
        "overview",
    ),
    _m(
        "last_month_active_accounts",
        "Accounts ordering, last complete month",
        "Distinct accounts with at least one order in the last complete month (one month, not "
        "the service report's active accounts).",
        "count",
        "up",
        "helpers.overview.monthly_kpis",
        "overview",
    ),
    _m(
        "last_month_repeat_rate",
        "Repeat buyers' share, last complete month",
        "Accounts ordering in the last complete month whose first order came in an earlier "
        "month / accounts ordering in that month.",
        "share",
        "up",
        "helpers.overview.monthly_kpis",
        "overview",
    ),
    _m(
        "on_time_rate",
        "Orders delivered on time",
        "Delivered shipments that arrived by the order's promised_delivery / delivered "
        "shipments, by month of the promise; promises due after the last delivery left out.",
        "share",
        "up",
        "helpers.overview.on_time_delivery",
        "overview",
    ),
    *_overview_history(),
    # -------------------------------------------------------------------------- segmentation
    _m(
        "accounts_scored",
        "Accounts scored (RFM)",
        "Customer accounts with an order in the RFM lookback window (lookback_days, default "
        "730, to the period end), import guests left out.",
        "count",
        "none",
        "helpers.segmentation.rfm",
        "segmentation",
    ),
    _m(
        "scored_accounts_revenue",
        "Revenue of the accounts scored (RFM window)",
        "Σ monetary (order revenue) of the accounts scored, over the RFM lookback window only; "
        "not GMV, which counts all accounts over the report period.",
        "currency",
        "up",
        "helpers.segmentation.rfm",
        "segmentation",
    ),
    _m(
        "champions_loyal_revenue_share",
        "Revenue share of Champions and Loyal",
        "Revenue of the accounts in the RFM segments Champions and Loyal / revenue of the "
        "accounts scored, RFM lookback window.",
        "share",
        "up",
        "helpers.segmentation.segment_summary",
        "segmentation",
    ),
    _m(
        "at_risk_accounts",
        "Accounts in the RFM segment At risk",
        "Accounts scored whose RFM scores put them in the At risk segment (bought often and "
        "well, not lately), RFM lookback window. Not the CLV report's high-value accounts at "
        "risk.",
        "count",
        "down",
        "helpers.segmentation.segment_summary",
        "segmentation",
    ),
    _m(
        "became_at_risk",
        "Accounts that moved into At risk",
        "Accounts in the RFM segment At risk at the period end that were in another segment "
        "migration_days before.",
        "count",
        "down",
        "helpers.segmentation.moved_into",
        "segmentation",
    ),
    _m(
        "clusters",
        "Behaviour clusters",
        "Number of k-means clusters chosen (by silhouette) on the account features.",
        "count",
        "none",
        "helpers.segmentation.choose_k",
        "segmentation",
        "setting",
    ),
    _m(
        "silhouette",
        "Silhouette of the clusters",
        "Mean silhouette coefficient of the chosen clustering (−1 to 1; higher: better separated).",
        "score",
        "up",
        "helpers.segmentation.choose_k",
        "segmentation",
    ),
    _m(
        "consented_contacts",
        "Contacts with consent in the action lists",
        "Contacts of the exported accounts with e-mail or SMS consent (none without contacts).",
        "count",
        "up",
        "helpers.segmentation.export_actions",
        "segmentation",
    ),
    # ----------------------------------------------------------------------------------- clv
    _m(
        "valued_accounts",
        "Accounts valued (CLV)",
        "Customer accounts with at least one order, import guests left out, each given a "
        "historical and (when a model fits) a predicted value.",
        "count",
        "none",
        "helpers.clv.summary",
        "clv",
    ),
    _m(
        "guest_accounts_left_out",
        "Guest accounts left out",
        "Import guest accounts (no customer id) left out of the CLV.",
        "count",
        "none",
        "helpers.data.tables.customers_only",
        "clv",
    ),
    _m(
        "margin_rate",
        "Margin rate used in the CLV",
        "Margin / revenue over the whole order history on margin_basis (gross margin, or "
        "contribution after cost to serve); unknown on the revenue basis. Not the overview's "
        "gross margin rate of the period.",
        "share",
        "up",
        "helpers.clv.margin_rate",
        "clv",
    ),
    _m(
        "margin_basis",
        "CLV margin basis",
        "What the CLV counts as value: gross_margin, contribution, or revenue (no unit costs).",
        "text",
        "none",
        "helpers.clv.analyse",
        "clv",
        "setting",
    ),
    _m(
        "costs_known",
        "Unit costs known (CLV)",
        "Whether every order line has a unit cost (else values are revenue, not margin).",
        "flag",
        "none",
        "helpers.clv.analyse",
        "clv",
        "setting",
    ),
    _m(
        "combine_same_day",
        "Same-day orders combined",
        "Whether an account's orders of one day count as one purchase (parameter).",
        "flag",
        "none",
        "helpers.clv.same_day_combined",
        "clv",
        "setting",
    ),
    _m(
        "same_day_orders_combined",
        "Orders merged into same-day purchases",
        "Orders folded into another order of the same account and day.",
        "count",
        "none",
        "helpers.clv.same_day_combined",
        "clv",
    ),
    _m(
        "acquisition_shown",
        "Acquisition return shown",
        "Whether the CLV report's acquisition cost and return section was built.",
        "flag",
        "none",
        "helpers.clv.analyse",
        "clv",
        "setting",
    ),
    _m(
        "historical_clv_total",
        "Historical CLV, all accounts",
        "Σ over accounts valued of Σ_t M_t / (1 + d)^t: monthly margin M_t discounted at "
        "annual_discount_rate, whole order history.",
        "currency",
        "up",
        "helpers.clv.analyse",
        "clv",
    ),
    _m(
        "historical_revenue_value_total",
        "Historical discounted revenue, all accounts",
        "As historical CLV, on revenue because the order lines have no unit cost.",
        "currency",
        "up",
        "helpers.clv.analyse",
        "clv",
    ),
    _m(
        "predicted_clv_total",
        "Predicted 12-month CLV, accounts valued",
        "Σ over the accounts valued of their discounted expected margin over horizon_months "
        "(purchase model × Gamma-Gamma spend × margin rate); accounts not yet acquired are "
        "not in it.",
        "currency",
        "up",
        "helpers.clv.analyse",
        "clv",
    ),
    _m(
        "predicted_revenue_value_total",
        "Predicted 12-month discounted revenue, accounts valued",
        "As predicted CLV, on revenue because the order lines have no unit cost.",
        "currency",
        "up",
        "helpers.clv.analyse",
        "clv",
    ),
    _m(
        "high_value_at_risk_accounts",
        "High-value accounts at risk (CLV)",
        "Accounts in the top value_quantile (default 25 %) of CLV whose P(alive) is below "
        "p_alive_below (default 50 %). Not the RFM segment At risk.",
        "count",
        "down",
        "helpers.clv.analyse",
        "clv",
    ),
    _m(
        "model_chosen",
        "Purchase model chosen",
        "The purchase model (bgnbd, pareto_nbd) with the lower holdout error, 'none' if none fits.",
        "text",
        "none",
        "helpers.clv.analyse",
        "clv",
        "setting",
    ),
    _m(
        "checks_passed",
        "Every model fit passed its checks",
        "Every model fitted, converged and has a positive definite Hessian.",
        "flag",
        "up",
        "helpers.clv.analyse",
        "clv",
        "setting",
    ),
    _m(
        "calibration_end",
        "Calibration period ends",
        "Last day of the calibration period of the holdout check (data end − holdout_weeks).",
        "date",
        "none",
        "helpers.clv.holdout_window",
        "clv",
        "setting",
    ),
    _m(
        "holdout_end",
        "Holdout period ends",
        "Last day of the holdout period.",
        "date",
        "none",
        "helpers.clv.holdout_window",
        "clv",
        "setting",
    ),
    _m(
        "bgnbd",
        "BG/NBD fit, all data",
        "The BG/NBD purchase model fitted on the whole history: r, alpha, a, b;" + _FIT,
        "number",
        "none",
        "helpers.clv.analyse",
        "clv",
        "group",
    ),
    _m(
        "pareto_nbd",
        "Pareto/NBD fit, all data",
        "The Pareto/NBD purchase model fitted on the whole history: r, alpha, s, beta;" + _FIT,
        "number",
        "none",
        "helpers.clv.analyse",
        "clv",
        "group",
    ),
    _m(
        "gamma_gamma",
        "Gamma-Gamma spend fit, all data",
        "The Gamma-Gamma spend model fitted on the repeat buyers: p, q, gamma;" + _FIT,
        "number",
        "none",
        "helpers.clv.analyse",
        "clv",
        "group",
    ),
    _m(
        "calibration_fit",
        "Model fits, calibration period",
        "The same model groups (bgnbd, pareto_nbd, gamma_gamma) fitted on the calibration "
        "period only, for the holdout check.",
        "number",
        "none",
        "helpers.clv.analyse",
        "clv",
        "group",
    ),
    _m(
        "holdout",
        "Holdout errors",
        "Per purchase model on the holdout period: actual_purchases, actual_value, <model>_mae "
        "and _rmse (purchases per account), _total_error (relative error of Σ purchases), "
        "_spend_mae and _spend_error (spend).",
        "number",
        "down",
        "helpers.clv.analyse",
        "clv",
        "group",
    ),
    _m(
        "fit_failures",
        "Model fits that failed",
        "Per model that could not be fitted, why.",
        "text",
        "down",
        "helpers.clv.analyse",
        "clv",
        "group",
    ),
    _m(
        "ltv_with_forecast_per_account",
        "LTV, to date plus 12-month forecast, per acquired account",
        "Per paid channel (one member each): mean over the channel's acquired accounts of "
        "historical discounted margin plus predicted 12-month discounted CLV (CLV report, "
        "acquisition section). Not the campaigns report's LTV to date.",
        "currency",
        "up",
        "helpers.clv.acquisition_return",
        "clv",
        "group",
    ),
    _m(
        "ltv_cac_with_forecast",
        "LTV (to date plus forecast) to CAC",
        "Per paid channel: LTV, to date plus 12-month forecast, per acquired account / CAC "
        "(CLV report).",
        "ratio",
        "up",
        "helpers.clv.acquisition_return",
        "clv",
        "group",
    ),
    _m(
        "acquisition_roi_discounted_with_forecast",
        "Acquisition ROI on discounted LTV with forecast (% of cost)",
        "Per paid channel: (Σ discounted LTV to date plus 12-month forecast − Σ acquisition "
        "cost) / Σ acquisition cost, a share of the cost (8.65 = +865 %) (CLV report). Not the "
        "campaigns report's channel ROI, a ratio on undiscounted margin.",
        "share",
        "up",
        "helpers.clv.acquisition_return",
        "clv",
        "group",
    ),
    # ------------------------------------------------------------------------------ service
    _m(
        "served_accounts",
        "Accounts served in the service window (an order or a ticket)",
        "Accounts with an order placed or a ticket opened in the service report's period "
        "(start–end; default the whole data), each with its margin, serving cost and "
        "contribution; not the overview's accounts ordering in one month.",
        "count",
        "none",
        "helpers.service.account_costs",
        "service",
    ),
    _m(
        "loss_making_accounts",
        "Loss-making accounts",
        "Accounts whose contribution (gross margin − serving cost) is below zero, period.",
        "count",
        "down",
        "helpers.service.cost_headline",
        "service",
    ),
    _m(
        "loss_making_share",
        "Share of accounts loss-making",
        "Loss-making accounts / accounts in cost to serve.",
        "share",
        "down",
        "helpers.service.cost_headline",
        "service",
    ),
    _m(
        "gross_margin",
        "Gross margin, accounts served",
        "Σ (revenue − cost of goods) of the accounts in cost to serve, period.",
        "currency",
        "up",
        "helpers.service.cost_headline",
        "service",
    ),
    _m(
        "serving_cost",
        "Cost to serve",
        "Σ delivery cost + returns cost + ticket cost of the accounts in cost to serve, period.",
        "currency",
        "down",
        "helpers.service.cost_headline",
        "service",
    ),
    _m(
        "total_contribution",
        "Contribution after cost to serve",
        "Gross margin − cost to serve, Σ over the accounts served.",
        "currency",
        "up",
        "helpers.service.whale_summary",
        "service",
    ),
    _m(
        "peak_contribution",
        "Peak of the whale curve",
        "Cumulative contribution of the accounts ranked by contribution, at its maximum.",
        "currency",
        "up",
        "helpers.service.whale_summary",
        "service",
    ),
    _m(
        "peak_account_share",
        "Share of accounts at the whale curve's peak",
        "Accounts ranked up to the peak of the whale curve / accounts served.",
        "share",
        "none",
        "helpers.service.whale_summary",
        "service",
    ),
    _m(
        "value_destroyed",
        "Contribution lost by loss-making accounts",
        "Σ contribution of the loss-making accounts (negative).",
        "currency",
        "up",
        "helpers.service.whale_summary",
        "service",
    ),
    _m(
        "tickets",
        "Service tickets",
        "Tickets opened in the period.",
        "count",
        "down",
        "helpers.service.service_levels",
        "service",
    ),
    _m(
        "cost_per_ticket",
        "Cost per ticket",
        "Σ ticket cost / tickets opened in the period.",
        "currency",
        "down",
        "helpers.service.service_levels",
        "service",
    ),
    _m(
        "fr_past_rate",
        "Tickets past the first-response target",
        "Tickets whose first response took longer than the target / tickets, period.",
        "share",
        "down",
        "helpers.service.service_levels",
        "service",
    ),
    _m(
        "res_past_rate",
        "Tickets past the resolution target",
        "Resolved tickets that took longer than the resolution target / resolved tickets.",
        "share",
        "down",
        "helpers.service.service_levels",
        "service",
    ),
    _m(
        "reopened_rate",
        "Tickets reopened",
        "Reopened tickets / tickets, period.",
        "share",
        "down",
        "helpers.service.service_levels",
        "service",
    ),
    _m(
        "unresolved",
        "Tickets unresolved",
        "Tickets opened in the period without a resolved_at.",
        "count",
        "down",
        "helpers.service.service_levels",
        "service",
    ),
    _m(
        "ticket_backlog",
        "Ticket backlog, last complete week",
        "Tickets opened and not yet resolved at the end of the last complete ISO week (Sunday "
        "24:00) of the period, whenever opened; its weekly history is published as a series.",
        "count",
        "down",
        "helpers.service.weekly_backlog",
        "service",
    ),
    _m(
        "tickets_per_100_orders",
        "Tickets per 100 orders, last complete month",
        "100 × tickets opened / orders placed in the last complete month of the period; its "
        "monthly history is published as a series.",
        "number",
        "down",
        "helpers.service.monthly_service",
        "service",
    ),
    _m(
        "min_order_value",
        "Minimum order value tested",
        "The minimum order value the recommendations test (parameter, default the period's "
        "order-value quartile, two significant figures).",
        "currency",
        "none",
        "helpers.service.default_min_order_value",
        "service",
        "setting",
    ),
    _m(
        "margin_recoverable",
        "Margin recoverable by the levers",
        "Σ contribution the recommended levers (minimum order value, self-service, "
        "consolidation...) would recover, period.",
        "currency",
        "up",
        "helpers.service.recommendations",
        "service",
    ),
    _m(
        "service_active_accounts",
        "Accounts ordering in the service window",
        "Distinct accounts with an order in the service report's period (start–end; default "
        "the whole data, 24 months on the sample); not the overview's accounts ordering in the "
        "last month.",
        "count",
        "up",
        "helpers.service.account_activity",
        "service",
    ),
    # ------------------------------------------------------------------------- supply chain
    _m(
        "suppliers",
        "Suppliers scored",
        "Suppliers with purchase orders in the period.",
        "count",
        "none",
        "helpers.supply_chain.supplier_scorecard",
        "supply_chain",
    ),
    _m(
        "best_supplier",
        "Best supplier",
        "The supplier with the highest scorecard score (on-time, in-full, defects, lead time).",
        "text",
        "none",
        "helpers.supply_chain.supplier_scorecard",
        "supply_chain",
    ),
    _m(
        "dead_stock_value",
        "Dead stock value",
        "Σ on_hand × unit_cost of warehouse × SKU pairs with stock and no order line in the "
        "dead_days (default 180) up to the last inventory day.",
        "currency",
        "down",
        "helpers.supply_chain.stock_health",
        "supply_chain",
    ),
    _m(
        "excess_stock_value",
        "Excess stock value",
        "Σ unit_cost × max(0, on_hand − excess_days × average daily units) per warehouse × "
        "SKU, last inventory day (dead stock not counted again).",
        "currency",
        "down",
        "helpers.supply_chain.stock_health",
        "supply_chain",
    ),
    _m(
        "forecast_beats_naive",
        "Categories where the forecast beats naive (MASE)",
        "Categories whose backtest MASE of the model is below the seasonal-naive forecast's.",
        "count",
        "up",
        "helpers.supply_chain.backtest",
        "supply_chain",
    ),
    _m(
        "skus_to_reorder",
        "SKUs to reorder now",
        "SKU-warehouse pairs whose stock is at or below their reorder point.",
        "count",
        "none",
        "helpers.supply_chain.replenishment",
        "supply_chain",
    ),
    _m(
        "otif_rate",
        "On time in full (OTIF)",
        "Orders delivered on time and in full / orders counted (delivered or not shipped; "
        "in transit and pending left out), period.",
        "share",
        "up",
        "helpers.supply_chain.otif",
        "supply_chain",
    ),
    _m(
        "late_delivery_cost",
        "Cost of late deliveries",
        "Σ shipping cost and refunds of the deliveries after their promise, period.",
        "currency",
        "down",
        "helpers.supply_chain.late_delivery_cost",
        "supply_chain",
    ),
    _m(
        "abc_revenue_whole_weeks",
        "Revenue in whole weeks (ABC × XYZ)",
        "Σ quantity × unit_price × (1 − discount) of the order lines in the whole Monday–Sunday "
        "weeks of the period, the base of the ABC classes; partial weeks at the period's ends "
        "are left out, so it is below the period's GMV.",
        "currency",
        "up",
        "helpers.supply_chain.sku_classes",
        "supply_chain",
    ),
    _m(
        "forecast_mase",
        "Forecast error (MASE), weekly category forecast",
        "Mean over categories of the backtest MASE of the weekly forecast: mean |actual − "
        "forecast| over the held-out weeks / in-sample mean |error| of the seasonal-naive "
        "forecast, averaged over the origins (Hyndman & Koehler 2006); lower is better.",
        "number",
        "down",
        "helpers.supply_chain.backtest",
        "supply_chain",
    ),
    _m(
        "forecast_mase_naive",
        "Forecast error (MASE), seasonal-naive baseline",
        "Mean over categories of the backtest MASE of the seasonal-naive forecast (the same "
        "week a year earlier), scaled as forecast_mase.",
        "number",
        "down",
        "helpers.supply_chain.backtest",
        "supply_chain",
    ),
    _m(
        "last_week_otif_rate",
        "OTIF, last complete week",
        "OTIF of the orders promised in the last complete Monday–Sunday week of the period "
        "(every order promised in it placed in the period); its weekly history is a series.",
        "share",
        "up",
        "helpers.supply_chain.otif_history",
        "supply_chain",
    ),
    _m(
        "last_month_otif_rate",
        "OTIF, last complete month",
        "OTIF of the orders promised in the last complete calendar month of the period (every "
        "order promised in it placed in the period); its monthly history is a series.",
        "share",
        "up",
        "helpers.supply_chain.otif_history",
        "supply_chain",
    ),
    _m(
        "last_week_stockout_days",
        "Stock-out days, last complete week",
        "Warehouse × SKU days with on_hand = 0 in the last whole Monday–Sunday week of the "
        "inventory records; its weekly history is a series.",
        "count",
        "down",
        "helpers.supply_chain.stockouts_by_week",
        "supply_chain",
    ),
    # ------------------------------------------------------------------------------- funnel
    _m(
        "entrants",
        "Visitors entering the funnel",
        "Units (visitors; accounts when unit = account_id) whose first step falls in the entry "
        "window and whose window closed; each unit's first journey only unless funnel_journeys "
        "is repeat (then every journey).",
        "count",
        "up",
        "helpers.funnel.entry_summary",
        "funnel",
    ),
    _m(
        "still_in_window",
        "Visitors still inside their window",
        "Entrants whose conversion window had not closed by the data end (left out).",
        "count",
        "none",
        "helpers.funnel.entry_summary",
        "funnel",
    ),
    _m(
        "excluded",
        "Visitors excluded",
        "Visitors left out of the funnel (outside the entry window or the breakdown).",
        "count",
        "none",
        "helpers.funnel.entry_summary",
        "funnel",
    ),
    _m(
        "purchasers",
        "Entrants who purchased",
        "Entrants who reached the last step (purchase) within the conversion window.",
        "count",
        "up",
        "helpers.funnel.funnel_conversion",
        "funnel",
    ),
    _m(
        "funnel_conversion",
        "Funnel conversion, entry to purchase",
        "Purchasers / entrants.",
        "share",
        "up",
        "helpers.funnel.funnel_conversion",
        "funnel",
    ),
    _m(
        "leakiest_step",
        "Leakiest funnel step",
        "The step with the lowest conversion from the step before.",
        "text",
        "none",
        "helpers.funnel.leakiest_step",
        "funnel",
    ),
    _m(
        "leakiest_step_conversion",
        "Conversion into the leakiest step",
        "Visitors reaching the leakiest step / visitors reaching the step before.",
        "share",
        "up",
        "helpers.funnel.leakiest_step",
        "funnel",
    ),
    _m(
        "largest_avoidable_step",
        "Step with the largest avoidable drop-off",
        "The step where raising every group to the best group's conversion keeps most visitors.",
        "text",
        "none",
        "helpers.funnel.avoidable_by_breakdown",
        "funnel",
    ),
    _m(
        "largest_avoidable_breakdown",
        "Breakdown of the largest avoidable drop-off",
        "The breakdown of the largest avoidable drop-off, anonymous and logged-in visitors "
        "apart: 'channel (anonymous)', 'size_band (logged in)'...",
        "text",
        "none",
        "helpers.funnel.avoidable_by_breakdown",
        "funnel",
    ),
    _m(
        "largest_avoidable_units",
        "Visitors kept at the best group's conversion",
        "Σ over groups of entrants × (best group's step conversion − the group's), at the "
        "largest avoidable step and breakdown (expected visitors).",
        "count",
        "down",
        "helpers.funnel.avoidable_dropoff",
        "funnel",
    ),
    _m(
        "funnel_journeys",
        "Journeys counted by the funnel",
        "first: each unit's first journey only; repeat: every journey (each first-step event "
        "starts one, which ends at the unit's next first-step event).",
        "text",
        "none",
        "helpers.funnel.analyse",
        "funnel",
        "setting",
    ),
    _m(
        "conversion_drivers_found",
        "Conversion drivers found",
        "Entry property values and non-step events whose odds ratio of reaching the last step "
        "differs from 1 at a Benjamini-Hochberg q-value <= 5 %, among those with the minimum "
        "support in the group and outside it.",
        "count",
        "none",
        "helpers.funnel.conversion_drivers",
        "funnel",
    ),
    _m(
        "leakiest_step_never_came_back",
        "Drop-outs at the leakiest step who never came back",
        "Units that reached the step before the leakiest step but not it, with no later event "
        "at all in the data.",
        "count",
        "down",
        "helpers.funnel.after_dropoff",
        "funnel",
    ),
    # ----------------------------------------------------------------------------- pipeline
    _m(
        "leads",
        "Leads",
        "Leads created in the leads table.",
        "count",
        "up",
        "helpers.pipeline.analyse",
        "pipeline",
    ),
    _m(
        "unmatched_leads",
        "Leads without an account",
        "Leads whose account_id is empty.",
        "count",
        "none",
        "helpers.pipeline.analyse",
        "pipeline",
    ),
    _m(
        "closed_leads",
        "Closed leads",
        "Leads whose outcome is won or lost.",
        "count",
        "none",
        "helpers.pipeline.win_rate",
        "pipeline",
    ),
    _m(
        "lead_win_rate",
        "Win rate of closed leads",
        "Won / (won + lost) leads; open leads left out.",
        "share",
        "up",
        "helpers.pipeline.win_rate",
        "pipeline",
    ),
    _m(
        "lead_win_rate_ci_low",
        "Win rate of closed leads, 95 % interval low",
        "Wilson 95 % interval of the win rate of closed leads, lower end.",
        "share",
        "up",
        "helpers.pipeline.win_rate",
        "pipeline",
    ),
    _m(
        "lead_win_rate_ci_high",
        "Win rate of closed leads, 95 % interval high",
        "Wilson 95 % interval of the win rate of closed leads, upper end.",
        "share",
        "up",
        "helpers.pipeline.win_rate",
        "pipeline",
    ),
    _m(
        "weakest_stage",
        "Weakest pipeline stage",
        "The stage with the lowest conversion from the stage before, leads decided within the "
        "stage window.",
        "text",
        "none",
        "helpers.pipeline.pipeline_stages",
        "pipeline",
    ),
    _m(
        "weakest_stage_conversion",
        "Conversion into the weakest stage",
        "Leads reaching the weakest stage / leads decided at the stage before.",
        "share",
        "up",
        "helpers.pipeline.pipeline_stages",
        "pipeline",
    ),
    _m(
        "open_leads",
        "Open leads",
        "Leads whose outcome is open.",
        "count",
        "none",
        "helpers.pipeline.open_pipeline",
        "pipeline",
    ),
    _m(
        "weighted_open_pipeline",
        "Weighted open pipeline",
        "Σ amount × P(win | stage reached) over open leads.",
        "currency",
        "up",
        "helpers.pipeline.open_pipeline",
        "pipeline",
    ),
    _m(
        "opportunity_win_rate",
        "Win rate of closed opportunities",
        "Won / (won + lost) among leads that reached the opportunity stage (the velocity "
        "table); leads lost before it are left out, so it is above the win rate of closed leads.",
        "share",
        "up",
        "helpers.pipeline.pipeline_velocity",
        "pipeline",
    ),
    _m(
        "stage_win_rate_from_lead",
        "Win rate from lead (stage table)",
        "Won leads / all leads entering the pipeline, open leads included (the stage table's "
        "last step); not the win rate of closed leads.",
        "share",
        "up",
        "helpers.pipeline.pipeline_stages",
        "pipeline",
    ),
    # ---------------------------------------------------------------------------- campaigns
    _m(
        "paid_spend",
        "Marketing spend, channels with spend",
        "Σ marketing_spend.spend of the channels with any spend (e-mail and SMS included when "
        "they record spend), whole spend period.",
        "currency",
        "none",
        "helpers.campaigns.channel_economics",
        "campaigns",
    ),
    _m(
        "best_roas_channel",
        "Channel with the best ROAS",
        "The acquiring paid channel with the highest ROAS.",
        "text",
        "none",
        "helpers.campaigns.channel_economics",
        "campaigns",
    ),
    _m(
        "best_roas",
        "Best ROAS (lifetime revenue of acquired accounts)",
        "ROAS of the best channel: (revenue of the accounts it acquired + campaign revenue) / "
        "spend, all revenue to date (no attribution window).",
        "ratio",
        "up",
        "helpers.campaigns.channel_economics",
        "campaigns",
    ),
    _m(
        "channels_not_paying_back",
        "Channels that do not pay back",
        "Channels whose CAC is above the 95 % interval of their LTV to date.",
        "text",
        "none",
        "helpers.campaigns.cac_against_ltv",
        "campaigns",
    ),
    _m(
        "ltv_to_date_per_account",
        "LTV to date per acquired account",
        "Mean historical discounted margin to date of the accounts the paid channels acquired "
        "in the spend period, pooled over those channels (campaigns report; no forecast).",
        "currency",
        "up",
        "helpers.campaigns.cac_against_ltv",
        "campaigns",
    ),
    _m(
        "ltv_cac_to_date",
        "LTV to date to CAC",
        "LTV to date per acquired account / CAC, pooled over the paid channels that acquire "
        "(campaigns report; no forecast).",
        "ratio",
        "up",
        "helpers.campaigns.cac_against_ltv",
        "campaigns",
    ),
    _m(
        "channel_roi_undiscounted",
        "Channel ROI, undiscounted margin",
        "(margin of the accounts acquired + campaign revenue − spend) / spend per channel, "
        "undiscounted (campaigns report, channel economics).",
        "ratio",
        "up",
        "helpers.campaigns.channel_economics",
        "campaigns",
    ),
    _m(
        "paid_media_spend",
        "Paid media spend (e-mail and SMS left out)",
        "Σ marketing_spend.spend of the channels that buy clicks (every channel with spend but "
        "e-mail and SMS, which pay per message), whole spend period (campaigns report).",
        "currency",
        "none",
        "helpers.campaigns.channel_economics",
        "campaigns",
    ),
    _m(
        "best_roas_in_window",
        "Best ROAS (revenue within the attribution window)",
        "ROAS of the best channel: (revenue of the accounts it acquired in their first "
        "attribution_days after signup + campaign revenue) / spend.",
        "ratio",
        "up",
        "helpers.campaigns.channel_economics",
        "campaigns",
    ),
    _m(
        "attribution_days",
        "Attribution window of ROAS (days after signup)",
        "Days after an account's signup whose revenue and margin ROAS and ROI credit to the "
        "acquiring channel (the channel recorded on the account).",
        "days",
        "none",
        "helpers.campaigns.channel_economics",
        "campaigns",
        "setting",
    ),
    _m(
        "paid_cac",
        "CAC of paid media",
        "Σ spend of the paid media channels / accounts they acquired (acquisition_channel, "
        "signed up in the spend period); monthly series: that month's spend / that month's "
        "sign-ups (complete months).",
        "currency",
        "down",
        "helpers.campaigns.monthly_cac",
        "campaigns",
    ),
    _m(
        "campaigns_with_revenue_lift",
        "Campaigns with a revenue lift",
        "Controlled campaigns (sample-ratio check passed) with an arm whose revenue-lift "
        "interval lies above zero (CUPED-adjusted interval where it is narrower).",
        "count",
        "up",
        "helpers.campaigns.experiments",
        "campaigns",
    ),
    _m(
        "campaigns_with_lift",
        "Campaigns with a conversion or revenue lift",
        "Controlled campaigns (sample-ratio check passed) with an arm whose conversion-lift or "
        "revenue-lift interval lies above zero.",
        "count",
        "up",
        "helpers.campaigns.experiments",
        "campaigns",
    ),
    _m(
        "campaigns_with_sample_ratio_mismatch",
        "Campaigns failing the sample-ratio check",
        "Campaigns whose split of sends over their groups differs from the planned split "
        "(chi-square p < 0.001): their lift is not to be trusted.",
        "count",
        "down",
        "helpers.campaigns.sample_ratio",
        "campaigns",
    ),
    _m(
        "campaigns_running",
        "Campaigns still running on the day analysed",
        "Campaigns with start_date ≤ as_of < end_date; their intervals are always-valid "
        "confidence sequences.",
        "count",
        "none",
        "helpers.campaigns.running_campaigns",
        "campaigns",
    ),
    _m(
        "revenue_variance_reduction_median",
        "Median variance reduction of revenue lift by CUPED",
        "Median over controlled arms of 1 − se²(adjusted) / se²(plain), pre-period revenue and "
        "orders as covariates.",
        "share",
        "up",
        "helpers.campaigns.experiment",
        "campaigns",
    ),
    _m(
        "budget_media_spend",
        "Paid media budget reallocated",
        "Σ spend of the paid media channels with a usable response curve: the total the "
        "budget reallocation splits differently.",
        "currency",
        "none",
        "helpers.campaigns.reallocate",
        "campaigns",
    ),
    _m(
        "budget_ltv_gain",
        "LTV to date gained by moving budget",
        "Expected extra LTV to date of the accounts acquired (accounts credited to their "
        "acquisition channel × mean LTV to date per account) from the reallocated budget "
        "(fitted response curves, same total spend).",
        "currency",
        "up",
        "helpers.campaigns.reallocate",
        "campaigns",
    ),
    _m(
        "budget_ltv_gain_lo",
        "LTV to date gained by moving budget, interval low",
        "Lower end of the simulated interval of the LTV to date gained.",
        "currency",
        "up",
        "helpers.campaigns.reallocate",
        "campaigns",
    ),
    _m(
        "budget_ltv_gain_hi",
        "LTV to date gained by moving budget, interval high",
        "Upper end of the simulated interval of the LTV to date gained.",
        "currency",
        "up",
        "helpers.campaigns.reallocate",
        "campaigns",
    ),
    _m(
        "campaigns",
        "Campaigns sent",
        "Distinct campaign_id in campaign_sends.",
        "count",
        "none",
        "helpers.campaigns.experiments",
        "campaigns",
    ),
    _m(
        "campaigns_with_control",
        "Campaigns with a control group",
        "Campaigns with at least one send in the control group.",
        "count",
        "up",
        "helpers.campaigns.experiments",
        "campaigns",
    ),
    _m(
        "campaigns_with_positive_lift",
        "Campaigns with a conversion lift",
        "Controlled campaigns (sample-ratio check passed) whose conversion-lift interval lies "
        "above zero (revenue lift not counted: see campaigns_with_lift).",
        "count",
        "up",
        "helpers.campaigns.experiments",
        "campaigns",
    ),
    _m(
        "experiments",
        "Campaign experiments",
        "One record per campaign and arm: recipients, conversions, conversion_rate, control "
        "rate, lift with interval and p_value, revenue per recipient and revenue lift with "
        "interval, the CUPED-adjusted lifts (_adjusted, adjustment, revenue_variance_reduction), "
        "interval (fixed sample or always-valid), srm_p_value, srm_mismatch, trusted.",
        "records",
        "none",
        "helpers.campaigns.experiment_records",
        "campaigns",
        "group",
    ),
    _m(
        "persuadable_segments",
        "Persuadable segments",
        "RFM segments (scored at each campaign's start on the lookback_days before it, 365 by "
        "default; segmentation scores its own window at the data's end) whose uplift interval "
        "is above zero.",
        "text",
        "none",
        "helpers.campaigns.uplift_by_segment",
        "campaigns",
    ),
    _m(
        "qini",
        "Qini coefficient of the uplift model",
        "Area between the uplift model's Qini curve and random targeting (higher: better "
        "targeting).",
        "score",
        "up",
        "helpers.campaigns.qini_coefficient",
        "campaigns",
    ),
    _m(
        "qini_verdict",
        "Uplift targeting against random",
        "Whether the Qini coefficient is above, inside or below the random-targeting band.",
        "text",
        "none",
        "helpers.campaigns.qini_verdict",
        "campaigns",
    ),
    _m(
        "budget_gain",
        "Conversions gained by moving budget",
        "Expected extra conversions per period from the reallocated budget (fitted response "
        "curves, same total spend).",
        "count",
        "up",
        "helpers.campaigns.reallocate",
        "campaigns",
    ),
    _m(
        "budget_gain_lo",
        "Conversions gained by moving budget, interval low",
        "Lower end of the bootstrap interval of the conversions gained.",
        "count",
        "up",
        "helpers.campaigns.reallocate",
        "campaigns",
    ),
    _m(
        "budget_gain_hi",
        "Conversions gained by moving budget, interval high",
        "Upper end of the bootstrap interval of the conversions gained.",
        "count",
        "up",
        "helpers.campaigns.reallocate",
        "campaigns",
    ),
    # ------------------------------------------------------------------------ recommendations
    _m(
        "rec_model",
        "Recommendation model chosen",
        "The model the new-product lists use: the best recall@k on the holdout among those "
        "whose interval lies above popularity's, else popularity.",
        "text",
        "none",
        "helpers.recommend.analyse",
        "recommendations",
        "setting",
    ),
    _m(
        "rec_beats_popularity",
        "A model beats popularity on the holdout",
        "Yes when a model's recall@k interval on the holdout lies above popularity's.",
        "flag",
        "up",
        "helpers.recommend.analyse",
        "recommendations",
    ),
    _m(
        "rec_holdout_accounts",
        "Accounts in the recommendation holdout",
        "Accounts that bought, after the cut-off, a product of the catalogue they had never "
        "bought before.",
        "count",
        "none",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_recall_new",
        "Recall@k of new products, chosen model",
        "Mean over holdout accounts of (bought new products in the chosen model's top k / "
        "bought new products).",
        "share",
        "up",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_recall_new_ci_low",
        "Recall@k of new products, chosen model, 95 % interval low",
        "Percentile bootstrap over accounts of the chosen model's recall@k, lower end.",
        "share",
        "up",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_recall_new_ci_high",
        "Recall@k of new products, chosen model, 95 % interval high",
        "Percentile bootstrap over accounts of the chosen model's recall@k, upper end.",
        "share",
        "up",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_popularity_recall_new",
        "Recall@k of new products, popularity baseline",
        "Recall@k on the holdout of the most-bought products the account never bought.",
        "share",
        "up",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_popularity_recall_new_ci_low",
        "Recall@k of new products, popularity baseline, 95 % interval low",
        "Percentile bootstrap over accounts of popularity's recall@k, lower end.",
        "share",
        "up",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_popularity_recall_new_ci_high",
        "Recall@k of new products, popularity baseline, 95 % interval high",
        "Percentile bootstrap over accounts of popularity's recall@k, upper end.",
        "share",
        "up",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_ndcg_new",
        "NDCG@k of new products, chosen model",
        "Mean over holdout accounts of DCG / ideal DCG of the chosen model's top k (binary "
        "relevance).",
        "share",
        "up",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_coverage",
        "Catalogue coverage of recommendations, chosen model",
        "Distinct products in the chosen model's holdout top-k lists / catalogue products.",
        "share",
        "up",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_accounts_served",
        "Accounts served by the chosen recommender",
        "Holdout accounts given at least one product by the chosen model / holdout accounts.",
        "share",
        "up",
        "helpers.recommend.evaluate_models",
        "recommendations",
    ),
    _m(
        "rec_k",
        "Products per recommendation list",
        "k: the length of each account's again and new lists, and of the holdout's top-k.",
        "count",
        "none",
        "helpers.recommend.analyse",
        "recommendations",
        "setting",
    ),
    _m(
        "rec_as_of",
        "Recommendations as of",
        "The day the lists are made for (default the last order day).",
        "date",
        "none",
        "helpers.recommend.analyse",
        "recommendations",
        "setting",
    ),
    _m(
        "rec_cutoff",
        "Recommendation holdout cut-off",
        "Models are fitted on orders before this day and scored on the weeks from it to as_of.",
        "date",
        "none",
        "helpers.recommend.analyse",
        "recommendations",
        "setting",
    ),
    _m(
        "rec_accounts_listed",
        "Accounts given recommendation lists",
        "Accounts with an order in the active_weeks before as_of.",
        "count",
        "none",
        "helpers.recommend.analyse",
        "recommendations",
    ),
    _m(
        "rec_again_due",
        "Buy-again products due",
        "Buy-again list entries due by as_of (days since the last order / re-order interval "
        ">= 1, not lapsed).",
        "count",
        "none",
        "helpers.recommend.again_list",
        "recommendations",
    ),
)

#: The registry: key -> :class:`Metric`.
METRICS: dict[str, Metric] = {m.key: m for m in _ENTRIES}


def lookup(key: str) -> Metric | None:
    """The entry of ``key``; a group member (``calibration_fit.bgnbd.r``) gets its group's."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        found = METRICS.get(".".join(parts[:n]))
        if found is not None and (n == len(parts) or found.kind == "group"):
            return found
    return None


def label(key: str) -> str:
    """The human label of ``key``: the entry's, "<group label>: <member>" for a group member,
    the key itself when the registry does not know it."""
    found = lookup(key)
    if found is None:
        return key
    if found.key == key:
        return found.label
    return f"{found.label}: {key[len(found.key) + 1 :]}"


def format_value(unit: str, value: Any) -> str:
    """``value`` as a reader sees it: currency and counts with thousands separators, shares as
    %, ratios as "6.41×", flags Yes/No, None as "—"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if not isinstance(value, int | float):
        return str(value)
    if unit == "share":
        return f"{value:.1%}"
    if unit == "ratio":
        return f"{value:,.2f}×"
    if unit == "currency":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.1f}"
    if unit == "days":
        return f"{value:,.1f} days"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def published_keys(figures: Mapping[str, Any]) -> list[str]:
    """The top-level keys of a report's ``figures`` (a group or record list is one key)."""
    return list(figures)


def unknown_keys(report: str, figures: Mapping[str, Any]) -> list[str]:
    """Keys of ``report``'s ``figures`` the registry does not hold for that report: no entry,
    an entry of other reports (a key two reports use for two measures), or a group published
    as a scalar / a scalar as a group."""
    out = []
    for key, value in figures.items():
        found = METRICS.get(key)
        is_group = isinstance(value, Mapping | list)
        if found is None or report not in found.reports or is_group != (found.kind == "group"):
            out.append(key)
    return out


def resolve(function: str):
    """The callable a dotted name (``helpers.overview.monthly_kpis``) names (imports it)."""
    module, _, name = function.rpartition(".")
    return getattr(importlib.import_module(module), name)


def registry_json() -> dict[str, dict[str, Any]]:
    """``reports/metrics.json``: key -> label, definition, unit, direction (and kind, the
    function and the reports that publish it)."""
    out = {}
    for key, m in METRICS.items():
        entry = asdict(m)
        entry.pop("key")
        entry["reports"] = list(m.reports)
        out[key] = entry
    return out
