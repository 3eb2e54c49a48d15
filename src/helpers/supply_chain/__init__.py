"""Supply chain: suppliers, stock, replenishment, delivery and the weekly demand forecast.

The supply-chain report's helpers. Every aggregation over the big tables (order lines,
purchase orders, daily inventory, shipments) is an Ibis expression, so it runs on DuckDB or
Spark; only small results (one row per supplier, SKU x warehouse, carrier, week x category...)
reach pandas, where the inventory formulas, the classifications and the statsmodels forecast
run.

Formulas and references
-----------------------
- Safety stock with demand and lead-time variability (Silver, Pyke & Thomas, *Inventory and
  Production Management in Supply Chains*, 4th ed., 2017, ch. 6; Chopra & Meindl, *Supply
  Chain Management*, ch. 12): ``SS = z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2)``, with
  ``z = Phi^-1(service level)`` (cycle service level), d and sigma_d the mean and sd of daily
  demand, L and sigma_L the mean and sd of the lead time in days.
- Reorder point: ``ROP = d * L + SS``.
- Economic order quantity (Harris 1913, "How many parts to make at once", *Factory, The
  Magazine of Management* 10(2)): ``EOQ = sqrt(2 D S / H)``, D annual demand in units, S the
  cost of placing one order, H the cost of holding one unit for a year (rate x unit cost).
- ABC (Pareto) classes by revenue and XYZ classes by the coefficient of variation of weekly
  demand, ``CV = sd / mean`` (e.g. Scholz-Reiter et al. 2012, "Dynamic ABC-XYZ analysis").
- OTIF: an order is on time when its last delivery arrives by the promised date and in full
  when the units shipped cover the units ordered.
- MASE (Hyndman & Koehler 2006, "Another look at measures of forecast accuracy", IJF 22(4)):
  forecast MAE divided by the in-sample MAE of the seasonal-naive forecast.

Layout: ``formulas`` (pure formulas), ``procurement``, ``inventory``, ``delivery``,
``forecast`` and ``replenishment`` (one module per area, each taking a dataset and returning a
small frame), ``report`` (``analyse()`` and one private function per section), ``lists`` (the
lists people act on and the series of the headline figures) and ``showing`` (columns, formats,
definitions). Everything public is re-exported here: ``helpers.supply_chain.otif`` and
``from helpers import supply_chain as sc`` keep working.
"""

from __future__ import annotations

from helpers.supply_chain._base import (
    CORE,
    NO_SALES,
    OPTIONAL,
    SECTIONS,
    check_warehouse,
    period_bounds,
)
from helpers.supply_chain.delivery import (
    delivery_times,
    histogram_quantiles,
    late_delivery_cost,
    order_fulfilment,
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
    abc_classes,
    eoq,
    reorder_point,
    safety_stock,
    xyz_classes,
    z_value,
)
from helpers.supply_chain.inventory import (
    abc_xyz_matrix,
    inventory_turnover,
    sku_classes,
    stock_health,
    stockouts_by_week,
)
from helpers.supply_chain.lists import LISTS, idle_stock_list, reorder_list, scorecard_list
from helpers.supply_chain.procurement import supplier_scorecard
from helpers.supply_chain.replenishment import replenishment
from helpers.supply_chain.report import analyse
from helpers.supply_chain.series import SERIES, as_series, headline_series, period_label
from helpers.supply_chain.showing import COLUMNS, FORMATS, TERMS, definitions, shown

__all__ = [
    "COLUMNS",
    "CORE",
    "FORMATS",
    "LISTS",
    "NO_SALES",
    "OPTIONAL",
    "SECTIONS",
    "SERIES",
    "TERMS",
    "abc_classes",
    "abc_xyz_matrix",
    "analyse",
    "as_series",
    "backtest",
    "check_warehouse",
    "definitions",
    "delivery_times",
    "eoq",
    "forecast_categories",
    "forecast_daily_demand",
    "headline_series",
    "histogram_quantiles",
    "idle_stock_list",
    "inventory_turnover",
    "late_delivery_cost",
    "order_fulfilment",
    "otif",
    "otif_history",
    "period_bounds",
    "period_label",
    "reorder_list",
    "reorder_point",
    "replenishment",
    "safety_stock",
    "scorecard_list",
    "shown",
    "sku_classes",
    "stock_health",
    "stockouts_by_week",
    "supplier_scorecard",
    "warehouse_costs",
    "weekly_category_demand",
    "xyz_classes",
    "z_value",
]
