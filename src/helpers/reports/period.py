"""The period a scheduled build ends at: ``--end last-week`` / ``last-month`` / a date.

The build injects the end day into every notebook whose ``parameters`` cell declares one of
:data:`END_PARAMETERS` (and where neither reports.yml nor ``--param`` names it), the way it
injects ``export_dir``: ``end`` (overview, service, supply chain: the last day counted) gets the
day itself, ``analysis_date`` (segmentation: "orders before it count") the day after. Other
notebooks keep their own window (the funnel's ``entry_end`` leaves each entrant its whole
conversion window, the CLV's ``calibration_end`` a holdout: neither is "the last day").

``last-week`` is the last Sunday on or before the data's last order day when that day is a
Sunday, else the Sunday before it (the last complete ISO week, Monday to Sunday), and never
later than yesterday; ``last-month`` the last day of the last complete month likewise. The
data's last day is the latest ``order_ts`` of the orders table (DuckDB over its files,
imported only here).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from helpers.data.files import table_files

__all__ = ["END_PARAMETERS", "data_end", "last_complete", "resolve_end"]

#: Parameter name -> days after the period's last day that it is given.
END_PARAMETERS = {"end": 0, "analysis_date": 1}
CHOICES = ("last-week", "last-month")


def data_end(data_dir: Path) -> dt.date | None:
    """The day of the latest order in the dataset folder (None without an orders table)."""
    found = table_files(Path(data_dir), "orders")
    if found is None:
        return None
    fmt, files = found
    import duckdb  # here: only a build asked to end at the last complete period needs it

    reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
    con = duckdb.connect()
    try:
        value = con.execute(f"select max(order_ts) from {reader}(?)", [files]).fetchone()[0]
    finally:
        con.close()
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.date() if isinstance(value, dt.datetime) else value


def last_complete(last_day: dt.date, unit: str, today: dt.date | None = None) -> dt.date:
    """The last day of the last complete week (ending Sunday) or month on or before
    ``last_day`` and before ``today``."""
    today = today or dt.date.today()
    day = min(last_day, today - dt.timedelta(days=1))
    if unit == "week":
        return day - dt.timedelta(days=(day.weekday() + 1) % 7)
    nxt = day + dt.timedelta(days=1)
    return day if nxt.month != day.month else day.replace(day=1) - dt.timedelta(days=1)


def resolve_end(text: str | None, data_dir: Path, today: dt.date | None = None) -> str | None:
    """``--end``: ``last-week``, ``last-month`` or an ISO date -> the ISO date (None: not set).
    Raises ValueError for anything else, or a dataset without orders."""
    if not text:
        return None
    if text in CHOICES:
        last = data_end(data_dir)
        if last is None:
            raise ValueError(f"--end {text}: the dataset has no orders table to date it by")
        return last_complete(last, text.removeprefix("last-"), today).isoformat()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"--end {text!r}: expected last-week, last-month or YYYY-MM-DD") from None


def end_parameters(end: str) -> dict[str, str]:
    """Each of :data:`END_PARAMETERS` with its value for the period ending on ``end``."""
    day = dt.date.fromisoformat(end)
    return {k: (day + dt.timedelta(days=n)).isoformat() for k, n in END_PARAMETERS.items()}
