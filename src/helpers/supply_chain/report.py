"""The supply-chain report: analyse() and one private function per section."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import validate
from helpers.sections import Analysis
from helpers.supply_chain._base import (
    MIN_FORECAST_WEEKS,
    MIN_SEASONAL_WEEKS,
    NO_SALES,
    SECTIONS,
    WEEKS_PER_YEAR,
    _complete_weeks,
    _day,
    check_warehouse,
    period_bounds,
)
from helpers.supply_chain.delivery import (
    delivery_times,
    histogram_quantiles,
    late_delivery_cost,
    otif,
    otif_history,
    warehouse_costs,
)
from helpers.supply_chain.forecast import (
    backtest,
    forecast_categories,
    forecast_daily_demand,
    weekly_category_demand,
)
from helpers.supply_chain.formulas import (
    z_value,
)
from helpers.supply_chain.inventory import (
    abc_xyz_matrix,
    inventory_turnover,
    sku_classes,
    stock_health,
    stockouts_by_week,
)
from helpers.supply_chain.lists import idle_stock_list, names, reorder_list, scorecard_list
from helpers.supply_chain.procurement import supplier_scorecard
from helpers.supply_chain.replenishment import replenishment
from helpers.supply_chain.series import headline_series, last_periods, last_values

# ----------------------------------------------------------------------------- the report

#: The backtest's columns as the report shows them: one error measure, MASE, throughout.
BACKTEST_SHOWN = {
    "mase_model": "mase_forecast",
    "mase_naive": "mase_seasonal_naive",
    "beats_naive": "forecast_has_lower_mase",
}


def analyse(
    ds,
    start=None,
    end=None,
    warehouse: str | None = None,
    service_level: float = 0.95,
    holding_rate: float = 0.25,
    order_cost: float = 50.0,
    forecast_horizon: int = 13,
    lookback_days: int = 182,
    dead_days: int = 180,
    excess_days: float = 90,
) -> Analysis:
    """The supply-chain report: every section of :data:`SECTIONS` the dataset allows.

    Parameters are checked first (a wrong one is an error, not a skipped section). Each
    section's tables go into ``result.tables``, its headline figures into ``result.figures``
    only when it is built, and what the narrative needs into ``result.facts``. Beyond missing
    tables, a section is skipped when the period is too short for it (classes: two whole
    weeks; forecast: eight; backtest: ``forecast_horizon`` + 56), naming the parameter and the
    data's span. ``lookback_days`` longer than the order history shrinks to it (a note says
    so); replenishment uses the forecast and the supplier lead times when those sections are
    built, and ``products.lead_time_days`` and the historic demand otherwise.

    Last, the lists people act on (``reorder_now``, ``dead_and_excess_stock``,
    ``supplier_scorecard``: :mod:`helpers.supply_chain.lists`) and ``facts["series"]``, the
    weekly and monthly history of OTIF and stock-out days for ``publish(series=...)``
    (:mod:`helpers.supply_chain.series`), whose last complete values are figures too.
    """
    check_warehouse(ds, warehouse)
    z_value(service_level)
    validate.positive("holding_rate", holding_rate)
    validate.non_negative("order_cost", order_cost)
    validate.at_least("forecast_horizon", forecast_horizon, 1)
    lo, hi = period_bounds(ds, start, end)
    result = Analysis.start("supply_chain", SECTIONS, ds)
    result.facts.update(period_start=f"{lo:%Y-%m-%d}", period_end=f"{hi:%Y-%m-%d}")
    _, _, weeks = _complete_weeks(lo, hi)
    span = f"the period {lo:%Y-%m-%d} to {hi:%Y-%m-%d} holds {weeks} whole weeks"
    result.facts["weeks"] = weeks
    sel = {"start": lo, "end": hi, "warehouse": warehouse}
    if result.built("suppliers"):
        _suppliers(ds, result, sel)
    if weeks < 2:
        result.skip("classes", f"ABC/XYZ classes need two whole weeks of orders; {span}.")
    if result.built("classes"):
        _classes(ds, result, sel)
    if result.built("stock"):
        _stock(ds, result, sel, excess_days=excess_days, dead_days=dead_days)
    _forecast(ds, result, sel, forecast_horizon, span)
    if result.built("replenishment"):
        _replenishment(
            ds, result, warehouse, service_level, order_cost, holding_rate, lookback_days
        )
    if result.built("delivery"):
        _delivery(ds, result, sel)
    if result.built("stock") and result.built("delivery"):
        fill = ["warehouse_id", "unit_fill_rate", "order_fill_rate", "fill_low", "fill_high"]
        t = result.tables
        t["stock_by_warehouse"] = t["stock_by_warehouse"].merge(
            t["warehouse_costs"][fill].rename(
                columns={"fill_low": "order_fill_ci_low", "fill_high": "order_fill_ci_high"}
            ),
            on="warehouse_id",
        )
    _lists(ds, result)
    series = headline_series(result.tables)
    result.facts.update(series=series, last_periods=last_periods(series))
    result.figures.update({k: v for k, v in last_values(series).items() if v is not None})
    return result


def _lists(ds, result: Analysis) -> None:
    """The lists people act on (:mod:`helpers.supply_chain.lists`), for the sections built."""
    t = result.tables
    products, suppliers = names(ds)
    if "to_order" in t:
        t["reorder_now"] = reorder_list(t["replenishment"], products, suppliers)
    if "health" in t:
        t["dead_and_excess_stock"] = idle_stock_list(t["health"], products, suppliers)
    if "scorecard" in t:
        t["supplier_scorecard"] = scorecard_list(t["scorecard"], suppliers)


def _skip_on_empty(result: Analysis, key: str, compute) -> bool:
    """Run ``compute()``; when it finds nothing to measure in the period (the ValueError of
    :func:`_nonempty` and its kin, "no ... in the selected period"), skip section ``key``
    with that sentence. Returns whether the section is still built."""
    try:
        compute()
    except ValueError as err:
        if "no " not in str(err):
            raise
        result.skip(key, f"Nothing to show: {err}.")
        return False
    return True


def _suppliers(ds, result: Analysis, sel: dict) -> None:
    """The supplier scorecard, its best and weakest supplier."""

    def compute():
        card = supplier_scorecard(ds, **sel)
        result.tables["scorecard"] = card
        # the chart shows the on-time rate: sorted by what it shows
        result.tables["scorecard_by_on_time"] = card.sort_values(
            ["on_time_rate", "supplier_id"], ascending=[False, True], na_position="last"
        )
        best, worst = card.iloc[0], card.iloc[-1]
        result.facts.update(best_supplier=best.to_dict(), worst_supplier=worst.to_dict())
        result.facts.update(
            suppliers=len(card),
            pos=int(card.pos.sum()),
            spend=float(card.spend.sum()),
            lead_mean_days=float(card.lead_mean_days.mean()),
            lead_sd_max=float(card.lead_sd_days.max()),
            lead_sd_max_supplier=str(card.loc[card.lead_sd_days.idxmax(), "supplier_id"])
            if card.lead_sd_days.notna().any()
            else "no supplier has two received POs",
        )
        result.figures.update(suppliers=int(len(card)), best_supplier=str(best.supplier_id))

    _skip_on_empty(result, "suppliers", compute)


def _classes(ds, result: Analysis, sel: dict) -> None:
    """SKU classes, the ABC x XYZ matrix and its counts."""
    classes = sku_classes(ds, **sel)
    matrix = abc_xyz_matrix(classes)
    result.tables.update(
        classes=classes,
        matrix=matrix.assign(abc=matrix.abc.astype(str), xyz=matrix.xyz.astype(str)).rename(
            columns={"revenue": "revenue_in_whole_weeks", "skus": "sku_count"}
        ),
        matrix_counts=matrix.pivot_table(
            index="abc", columns="xyz", values="skus", aggfunc="sum", fill_value=0, observed=True
        ),
    )
    total = classes.revenue.sum()
    first, last, _ = _complete_weeks(sel["start"], sel["end"])
    result.figures["abc_revenue_whole_weeks"] = float(total)
    result.facts.update(
        class_revenue=float(total),
        class_first=f"{first:%Y-%m-%d}",
        class_last=f"{last:%Y-%m-%d}",
        skus=len(classes),
        a_skus=int((classes.abc == "A").sum()),
        a_share=float(classes.loc[classes.abc == "A", "revenue"].sum() / total)
        if total > 0
        else float("nan"),
        z_skus=int((classes.xyz == "Z").sum()),
        no_sales_skus=int((classes.abc == NO_SALES).sum()),
        class_weeks=int(classes.weeks.iloc[0]),
    )


def _stock(ds, result: Analysis, sel: dict, excess_days: float, dead_days: int) -> None:
    """Turnover, days on hand, stock health per warehouse and the largest idle stock."""

    def compute():
        turnover = inventory_turnover(ds, **sel)
        result.tables["stockouts_week"] = stockouts_by_week(ds, **sel)
        health = stock_health(ds, **sel, excess_days=excess_days, dead_days=dead_days)
        doh = turnover.pivot_table(index="category", columns="warehouse_id", values="days_on_hand")
        by_wh = health.groupby("warehouse_id").agg(
            sku_days=("days", "sum"),
            stockout_days=("stockout_days", "sum"),
            stock_value=("stock_value", "sum"),
            dead_sku_count=("dead", "sum"),
            dead_value=("dead_value", "sum"),
            excess_value=("excess_value", "sum"),
        )
        by_wh["stockout_share"] = by_wh.stockout_days / by_wh.sku_days
        result.tables.update(
            turnover=turnover, days_on_hand=doh, health=health,
            stock_by_warehouse=by_wh.reset_index(),
        )  # fmt: skip
        result.facts.update(
            turnover_min=float(turnover.annual_turnover.min()),
            turnover_max=float(turnover.annual_turnover.max()),
            doh_min=float(np.nanmin(doh.to_numpy())) if doh.notna().any().any() else np.nan,
            doh_max=float(np.nanmax(doh.to_numpy())) if doh.notna().any().any() else np.nan,
            stock_value=float(health.stock_value.sum()),
        )
        _dead_days_note(ds, result, health, dead_days)
        result.figures.update(
            dead_stock_value=float(health.dead_value.sum()),
            excess_stock_value=float(health.excess_value.sum()),
        )

    _skip_on_empty(result, "stock", compute)


def _dead_days_note(ds, result: Analysis, health: pd.DataFrame, dead_days: int) -> None:
    """Say so when ``dead_days`` reaches back before the first order: dead stock then means
    no order in the whole history."""
    first = ds.period("orders")[0].normalize()
    as_of = pd.Timestamp(health.as_of.iloc[0])
    history = (as_of - first).days + 1
    if history <= dead_days:
        result.notes.append(
            f"dead_days = {dead_days} reaches back before the first order ({first:%Y-%m-%d}): "
            f"the orders up to {as_of:%Y-%m-%d} span {history} days, so dead stock is stock "
            "with no order in the whole history."
        )


def _forecast(ds, result: Analysis, sel: dict, horizon: int, span: str) -> None:
    """Weekly category demand, the forecast and the backtest, each when the history allows."""
    need_fc, need_bt = MIN_FORECAST_WEEKS, MIN_SEASONAL_WEEKS + horizon
    weeks = result.facts["weeks"]
    if weeks < need_fc:
        result.skip("forecast", f"The forecast needs {need_fc} whole weeks of orders; {span}.")
    if weeks < need_bt:
        result.skip(
            "backtest",
            f"The backtest holds out forecast_horizon = {horizon} weeks after at least "
            f"{MIN_SEASONAL_WEEKS} weeks of training, so it needs {need_bt} whole weeks; {span}.",
        )
    if not (result.built("forecast") or result.built("backtest")):
        return
    weekly = weekly_category_demand(ds, **sel)
    result.tables["weekly"] = weekly
    if result.built("backtest"):
        bt = backtest(weekly, horizon)
        result.tables["backtest"] = bt.rename(columns=BACKTEST_SHOWN)
        result.facts.update(
            beats_naive=int(bt.beats_naive.sum()),
            categories=len(bt),
            mase_model=float(bt.mase_model.mean()),
            mase_naive=float(bt.mase_naive.mean()),
            backtest_method=str(bt.method.iloc[0]),
            origins=int(bt.origins.iloc[0]),
        )
        result.figures.update(
            forecast_beats_naive=int(bt.beats_naive.sum()),
            forecast_mase=float(bt.mase_model.mean()),
            forecast_mase_naive=float(bt.mase_naive.mean()),
        )
    if result.built("forecast"):
        forecast = forecast_categories(weekly, horizon)
        history = weekly.tail(WEEKS_PER_YEAR).reset_index()
        history = history.melt(id_vars="week", var_name="category", value_name="units")
        result.tables["forecast"] = forecast
        result.tables["forecast_chart"] = pd.concat(
            [history.assign(kind="actual"), forecast.assign(kind="forecast")], ignore_index=True
        )
        result.facts.update(
            forecast_start=forecast.week.min(),
            forecast_method=str(forecast.method.iloc[0]),
            weekly_weeks=len(weekly),
        )


def _replenishment(
    ds, result, warehouse, service_level, order_cost, holding_rate, lookback_days
) -> None:
    """Safety stock, reorder point and EOQ per warehouse x SKU, with the forecast and the
    supplier lead times when their sections were built; ``lookback_days`` fitted to the
    order history before the last inventory day."""
    inv = ds.inventory
    if warehouse:
        inv = inv.filter(inv.warehouse_id == warehouse)
    as_of = inv.aggregate(d=inv.date.max()).to_pandas().d.iloc[0]
    if pd.isna(as_of):
        result.skip("replenishment", "Nothing to show: no inventory records for the warehouse.")
        return
    as_of = _day(as_of)
    first = _day(ds.period("orders")[0])
    history = (as_of - first).days + 1
    lookback = min(lookback_days, history)
    if lookback < 14:
        result.skip(
            "replenishment",
            f"Replenishment needs 14 days of orders before the last inventory day "
            f"({as_of:%Y-%m-%d}); the orders from {first:%Y-%m-%d} give {max(history, 0)} days "
            f"(lookback_days = {lookback_days}).",
        )
        return
    if lookback < lookback_days:
        result.notes.append(
            f"lookback_days = {lookback_days} is longer than the order history before "
            f"{as_of:%Y-%m-%d} ({history} days from {first:%Y-%m-%d}): demand variability is "
            f"measured over those {lookback} days."
        )
    fc = result.tables.get("forecast")
    rep = replenishment(
        ds, service_level, order_cost, holding_rate, lookback, as_of=as_of,
        warehouse=warehouse, scorecard=result.tables.get("scorecard"),
        daily_forecast=forecast_daily_demand(fc) if fc is not None else None,
    )  # fmt: skip
    to_order = rep[rep.reorder].sort_values("order_value", ascending=False)
    result.tables.update(replenishment=rep, to_order=to_order)
    result.facts.update(
        lookback_days=lookback,
        demand_source=(
            f"the category forecast (split by the SKU's share over the last {lookback} days)"
            if fc is not None
            else f"the SKU's mean over the last {lookback} days"
        ),
        rep_as_of=as_of,
        reorder_pairs=int(rep.reorder.sum()),
        no_demand_pairs=int((rep.status == "no demand").sum()),
        order_value=float(to_order.order_value.sum()),
    )
    result.figures["skus_to_reorder"] = int(len(to_order))


def _delivery(ds, result: Analysis, sel: dict) -> None:
    """Warehouse costs, OTIF by carrier, region and month, delivery times and late cost."""

    def compute():
        t = result.tables
        t["warehouse_costs"] = warehouse_costs(ds, **sel)
        carrier = otif(ds, "carrier", **sel)
        t.update(otif_carrier=carrier, otif_region=otif(ds, "region", **sel))
        for freq in ("month", "week"):  # promises after the period's end: not in its history
            history = otif_history(ds, freq, **sel)
            t[f"otif_{freq}"] = history[history[freq] <= sel["end"]].reset_index(drop=True)
        shipped = carrier[carrier.carrier != "not shipped"]
        if shipped.empty:
            raise ValueError("no shipped orders in the selected period and warehouse")
        t["otif_shipped"] = shipped.sort_values("otif_rate", ascending=False)
        times = delivery_times(ds, **sel)
        t["transit"] = times[times.measure == "transit"]
        quantiles = histogram_quantiles(times)
        t["transit_quantiles"] = quantiles[quantiles.measure == "transit"]
        late = late_delivery_cost(ds, **sel)
        t["late"] = late
        otif_all = float(carrier.otif.sum() / carrier.counted.sum())
        worst = shipped.loc[shipped.otif_rate.idxmin()]
        result.facts.update(
            otif_rate=otif_all,
            otif_counted=int(carrier.counted.sum()),
            open_orders=int(carrier.open_orders.sum()),
            worst_carrier=worst.to_dict(),
            late=int(late.late.sum()),
            delivered=int(late.delivered.sum()),
            days_late=float(late.days_late.sum()),
            late_ship_cost=float(late.late_ship_cost.sum()),
            late_refunds=float(late.late_refunds.sum()),
            late_cost=float(late.late_cost.sum()),
        )
        result.figures.update(otif_rate=otif_all, late_delivery_cost=float(late.late_cost.sum()))

    _skip_on_empty(result, "delivery", compute)
