"""Lists people act on, written in full: ``<exports>/<report>/<list>.csv`` and ``.xlsx``.

A report shows a to-do list (reorder now, dead stock, loss-making accounts, stuck leads...) by
its count and its top rows; the whole list goes here, where git does not look
(``reports/exports`` by default, ``$HELPERS_EXPORTS_DIR`` or a notebook's ``export_dir``), so
the people who act on it open it in a spreadsheet. Exports may hold personal data (a contact's
e-mail for a campaign list); a rendered page never does (``helpers.present.table`` refuses it).

Written with pandas: ``DataFrame.to_csv`` (UTF-8 with a byte-order mark, so that Excel opens
company names in any script correctly) and ``DataFrame.to_excel`` through openpyxl (already a
dependency: it reads the Online Retail workbooks), one sheet named after the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.config import EXPORTS_DIR, REPORTS_DIR

__all__ = ["ListExport", "write_list"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row


@dataclass(frozen=True)
class ListExport:
    """Where one list was written and how many rows it holds."""

    report: str
    name: str
    rows: int
    csv: Path
    xlsx: Path | None

    @property
    def shown(self) -> str:
        """The files as a report may name them: relative to the reports folder when inside it
        (``exports/supply_chain/reorder_now.csv``), else from the report's folder on."""
        return _shown(self.csv)


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    root = REPORTS_DIR.resolve()
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    return "/".join(path.parts[-3:])


def write_list(
    df: pd.DataFrame, report: str, name: str, export_dir: str | Path | None = None
) -> ListExport:
    """Write ``df`` in full to ``<export_dir>/<report>/<name>.csv`` and ``.xlsx``.

    ``export_dir`` None means ``helpers.config.EXPORTS_DIR``. ``report`` and ``name`` are
    lower-case file names (letters, digits, ``_``, ``-``). Time-zone-aware timestamps are
    written as local wall time without the zone in the workbook (Excel has no zones); the CSV
    keeps them as ISO strings. A list longer than an Excel sheet gets no ``.xlsx``
    (``xlsx`` None) rather than a truncated one.
    """
    for what, value in (("report", report), ("name", name)):
        if not _NAME.match(str(value)):
            raise ValueError(f"{what} must be a lower-case file name, got {value!r}")
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"the {name} list must be a DataFrame, got {type(df).__name__}")
    folder = Path(export_dir or EXPORTS_DIR) / report
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{name}.csv"
    df.to_csv(csv, index=False, encoding="utf-8-sig")
    xlsx: Path | None = None
    if len(df) <= _XLSX_MAX_ROWS:
        xlsx = folder / f"{name}.xlsx"
        sheet = df.copy()
        for column in sheet.columns:
            if isinstance(sheet[column].dtype, pd.DatetimeTZDtype):
                sheet[column] = sheet[column].dt.tz_localize(None)
        sheet.to_excel(xlsx, index=False, sheet_name=name[:31])
    return ListExport(report, name, len(df), csv, xlsx)
