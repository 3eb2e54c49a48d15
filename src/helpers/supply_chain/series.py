"""The weekly and monthly history of the report's headline figures, for ``publish(series=)``.

``{registry_key: {"freq": "week" | "month", "values": {"2026-W40" | "2026-10": number}}}``:
complete periods only, in time order (the build compares the last one with its own past).
"""

from __future__ import annotations

import pandas as pd

#: Registry key of each series -> (table of ``result.tables``, date column, value column).
SERIES = {
    "last_week_otif_rate": ("otif_week", "week", "otif_rate"),
    "last_month_otif_rate": ("otif_month", "month", "otif_rate"),
    "last_week_stockout_days": ("stockouts_week", "week", "stockout_days"),
}


def period_label(day, freq: str) -> str:
    """The period a day falls in as the series name it: ISO 8601 week ``YYYY-Www`` (the ISO
    year, which differs from the calendar year around 1 January) or month ``YYYY-MM``."""
    day = pd.Timestamp(day)
    if freq == "week":
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if freq == "month":
        return f"{day:%Y-%m}"
    raise ValueError(f"freq must be week or month, got {freq!r}")


def as_series(frame: pd.DataFrame, column: str, value: str, freq: str) -> dict:
    """One series from a frame of periods: the rows whose ``complete`` is true, in the order
    of ``column`` (the period's first day), labelled by :func:`period_label`; a missing value
    (a period with no order counted) stays None."""
    done = frame[frame.complete.astype(bool)].sort_values(column)
    values = {
        period_label(day, freq): (None if pd.isna(v) else float(v))
        for day, v in zip(done[column], done[value], strict=True)
    }
    return {"freq": freq, "values": values}


def headline_series(tables: dict) -> dict:
    """Every series of :data:`SERIES` whose table is in ``tables`` (its section was built)."""
    return {
        key: as_series(tables[name], column, value, column)
        for key, (name, column, value) in SERIES.items()
        if name in tables
    }


def last_values(series: dict) -> dict:
    """The latest value of each series (the figure its key names), None when it is empty."""
    return {
        key: (list(one["values"].values())[-1] if one["values"] else None)
        for key, one in series.items()
    }


def last_periods(series: dict) -> dict:
    """The latest period of each series (``"2026-W43"``, ``"2026-10"``), None when empty."""
    return {
        key: (list(one["values"])[-1] if one["values"] else None) for key, one in series.items()
    }
