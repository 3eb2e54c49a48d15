"""Inventory formulas: safety stock, reorder point, EOQ, ABC and XYZ classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from helpers import validate
from helpers.supply_chain._base import (
    NO_SALES,
)

# ----------------------------------------------------------------------------- formulas


def z_value(service_level: float) -> float:
    """``z = Phi^-1(service_level)``: the standard normal quantile of the cycle service level."""
    validate.fraction("service_level", service_level, open_ends=True)
    return float(norm.ppf(service_level))


def safety_stock(service_level, demand_mean, demand_sd, lead_mean, lead_sd):
    """Safety stock covering both demand and lead-time variability.

    ``SS = z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2)`` with z = Phi^-1(service_level), d /
    sigma_d the mean / sd of demand per day, L / sigma_L the mean / sd of the lead time in
    days (Silver, Pyke & Thomas 2017, ch. 6; Chopra & Meindl, *Supply Chain Management*,
    ch. 12, the Walmart Lego example: d = 2,500, sigma_d = 500, L = 7, sigma_L = 7, 90 % CSL
    gives SS = 22,491). With sigma_L = 0 it reduces to ``z * sigma_d * sqrt(L)``.
    Works element-wise on arrays; negative inputs raise ValueError.
    """
    z = z_value(service_level)
    d, sd, lead, sl = (
        np.asarray(x, dtype=float) for x in (demand_mean, demand_sd, lead_mean, lead_sd)
    )
    for name, x in (("demand_mean", d), ("demand_sd", sd), ("lead_mean", lead), ("lead_sd", sl)):
        if np.any(x < 0):
            raise ValueError(f"safety_stock: {name} must not be negative")
    out = z * np.sqrt(lead * sd**2 + d**2 * sl**2)
    return float(out) if out.ndim == 0 else out


def reorder_point(demand_mean, lead_mean, safety):
    """``ROP = d * L + SS``: expected demand over the lead time plus the safety stock."""
    out = np.asarray(demand_mean, dtype=float) * np.asarray(lead_mean, dtype=float) + np.asarray(
        safety, dtype=float
    )
    return float(out) if out.ndim == 0 else out


def eoq(annual_demand, order_cost, holding_cost):
    """Economic order quantity ``EOQ = sqrt(2 D S / H)`` (Harris 1913).

    D annual demand (units), S cost per order, H holding cost per unit per year. D = 0 gives 0;
    H must be positive (ValueError otherwise).
    """
    d, s, h = (np.asarray(x, dtype=float) for x in (annual_demand, order_cost, holding_cost))
    if np.any(h <= 0):
        raise ValueError("eoq: holding_cost must be positive (check holding_rate and unit_cost)")
    if np.any(d < 0) or np.any(s < 0):
        raise ValueError("eoq: annual_demand and order_cost must not be negative")
    out = np.sqrt(2 * d * s / h)
    return float(out) if out.ndim == 0 else out


def abc_classes(revenue: pd.Series, a: float = 0.8, b: float = 0.95) -> pd.Series:
    """ABC class of each item by its share of revenue (Pareto).

    Items sorted by revenue, largest first; ``before`` = cumulative share of the items ranked
    above. A when ``before < a``, B when ``before < b``, else C, so the item that carries the
    total past 80 % is still A (at least one A item). Items with no revenue (<= 0 or missing)
    get the label ``"no sales"``. Ties keep the input order.
    """
    if not 0 < a < b <= 1:
        raise ValueError(f"abc_classes needs 0 < a < b <= 1, got a={a}, b={b}")
    rev = pd.Series(revenue, dtype=float).fillna(0.0)
    out = pd.Series(NO_SALES, index=rev.index, dtype=object)
    sold = rev[rev > 0].sort_values(ascending=False, kind="stable")
    if sold.empty:
        return out
    before = (sold.cumsum() - sold) / sold.sum()
    eps = 1e-9
    out[sold.index] = np.where(before < a - eps, "A", np.where(before < b - eps, "B", "C"))
    return out


def xyz_classes(cv: pd.Series, x: float = 0.5, y: float = 1.0) -> pd.Series:
    """XYZ class by coefficient of variation of weekly demand: X when CV <= x, Y when CV <= y,
    else Z; a missing CV (an item with no demand, whose CV is undefined) is ``"no sales"``."""
    if not 0 < x < y:
        raise ValueError(f"xyz_classes needs 0 < x < y, got x={x}, y={y}")
    cv = pd.Series(cv, dtype=float)
    labels = np.where(cv <= x, "X", np.where(cv <= y, "Y", "Z"))
    return pd.Series(np.where(cv.isna(), NO_SALES, labels), index=cv.index, dtype=object)


def _moments(s1, s2, n):
    """Mean and sample sd of n values (zeros included) from their sum s1 and sum of squares s2:
    mean = s1 / n; sd = sqrt(max(0, (s2 - n mean^2) / (n - 1)))."""
    s1, s2 = np.asarray(s1, dtype=float), np.asarray(s2, dtype=float)
    mean = s1 / n
    var = np.maximum(0.0, (s2 - n * mean**2) / max(n - 1, 1))
    return mean, np.sqrt(var)
