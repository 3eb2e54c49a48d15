"""What every adapter shares: reading text tables without losing a line, parsing columns into
the model's types while remembering which rows failed, and writing the dataset with its
``import_report.json``.

The bookkeeping rule every adapter obeys: each source row gets exactly one fate, kept (it
became a row of some table) or set aside with one reason. :class:`Ledger` holds that fate per
row; :func:`write_import` refuses to write a dataset whose counts do not add up
(rows read = rows kept + rows set aside).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.data.schema import TABLES, arrow_type

REPORT_FILE = "import_report.json"
SET_ASIDE_DIR = "import_set_aside"
UNKNOWN = "unknown"
#: ``accounts.acquisition_channel`` of the accounts that collect sales without a customer
#: (``account_id < 0``); customer analytics should leave them out.
GUEST_CHANNEL = "guest"
DEFAULT_COST_RATIO = 0.6
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")  # latin-1 decodes any byte: the last resort


# ----------------------------------------------------------------------------- reading


@dataclass
class TextTable:
    """A delimited text file read as text: header, rows (lists of str) with their line numbers,
    and the lines whose field count differs from the header's (set aside, never dropped)."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    line_numbers: list[int]
    malformed: list[tuple[int, str]]
    encoding: str

    def frame(self) -> pd.DataFrame:
        """The well-formed rows as a text frame (empty cells as missing)."""
        columns = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(self.header)
        df = pd.DataFrame(
            {i: pd.array(list(col), dtype="string") for i, col in enumerate(columns)},
            index=pd.RangeIndex(len(self.rows)),
        )
        df.columns = self.header
        return clean_text(df)


def _decode(path: Path, encoding: str | None) -> tuple[str, str]:
    data = path.read_bytes()
    for enc in [encoding] if encoding else ENCODINGS:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: cannot be decoded as {encoding} (pass another encoding)")


def read_text_table(path: Path, delimiter: str = ",", encoding: str | None = None) -> TextTable:
    """Read a CSV file line by line with the standard :mod:`csv` module.

    Used instead of ``pandas.read_csv`` because pandas either stops at a line with the wrong
    number of fields or skips it with only a warning; here such a line is kept, with its line
    number, to be set aside and counted. Encoding: UTF-8, else Windows-1252, else Latin-1
    (the UCI Online Retail CSVs circulate in both).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    text, used = _decode(path, encoding)
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError(f"{path}: the file is empty (expected a header line)") from None
    rows, numbers, malformed = [], [], []
    for fields in reader:
        line = reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # a blank line is no row
        if len(fields) != len(header):
            malformed.append((line, delimiter.join(fields)))
            continue
        rows.append(fields)
        numbers.append(line)
    return TextTable(path, header, rows, numbers, malformed, used)


def clean_text(df: pd.DataFrame) -> pd.DataFrame:
    """Every column as stripped text; empty strings become missing."""
    out = {}
    for c in df.columns:
        s = df[c].astype("string").str.strip()
        out[c] = s.mask(s == "")
    return pd.DataFrame(out, index=df.index)


def normalise(name: str) -> str:
    """A column name compared loosely: ``Customer ID`` == ``CustomerID`` == ``customer_id``."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


# ----------------------------------------------------------------------------- parsing


def parse_int(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole numbers (``3``, ``3.0``, ``12346.0`` as Excel stores ids): (values, failed)."""
    num = pd.to_numeric(text, errors="coerce")
    whole = num.notna() & np.isfinite(num) & (num == np.round(num))
    failed = text.notna() & ~whole
    return num.where(whole).astype("Int64"), failed


def parse_float(text: pd.Series, decimal: str = ".") -> tuple[pd.Series, pd.Series]:
    if decimal != ".":
        text = text.str.replace(".", "", regex=False).str.replace(decimal, ".", regex=False)
    num = pd.to_numeric(text, errors="coerce")
    ok = num.notna() & np.isfinite(num)
    return num.where(ok).astype("Float64"), text.notna() & ~ok


def parse_timestamp(text: pd.Series, fmt: str | None = None) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 text (``2010-12-01 08:26:00``, what Excel cells read as), else ``fmt``
    (e.g. ``%m/%d/%Y %H:%M``, the UCI CSV's US style). Values matching neither have failed."""
    values = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if fmt:
        retry = text.notna() & values.isna()
        if retry.any():
            values = values.mask(retry, pd.to_datetime(text[retry], format=fmt, errors="coerce"))
    values = values.astype("datetime64[us]")
    return values, text.notna() & values.isna()


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def parse_bool(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    low = text.str.lower()
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values[low.isin(_TRUE).fillna(False)] = True
    values[low.isin(_FALSE).fillna(False)] = False
    return values, text.notna() & values.isna()


# ----------------------------------------------------------------------------- bookkeeping


class Ledger:
    """The fate of every row of one source table: ``None`` (still kept) or the reason it was
    set aside. The first reason given to a row wins, so rules are applied in priority order."""

    def __init__(self, source: pd.DataFrame, name: str):
        self.source = source
        self.name = name
        self.reason = pd.Series(None, index=source.index, dtype="object")

    def set_aside(self, mask: pd.Series, reason: str) -> int:
        mask = pd.Series(mask, index=self.source.index).fillna(False).astype(bool)
        new = mask & self.reason.isna()
        self.reason[new] = reason
        return int(new.sum())

    @property
    def kept(self) -> pd.Series:
        return self.reason.isna()

    def counts(self) -> dict[str, int]:
        return dict(Counter(self.reason.dropna()).most_common())

    def set_aside_rows(self) -> pd.DataFrame:
        rows = self.source[self.reason.notna()].copy()
        rows.insert(0, "_reason", self.reason[self.reason.notna()])
        return rows


@dataclass
class Staged:
    """What an adapter made, before it is written: the tables and the account of every row."""

    format: str
    sources: list[str]
    tables: dict[str, pd.DataFrame]
    rows_read: int
    kept: dict[str, int]
    set_aside: dict[str, int]
    flagged: dict[str, int] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    not_written: dict[str, str] = field(default_factory=dict)
    set_aside_rows: dict[str, pd.DataFrame] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_kept(self) -> int:
        return sum(self.kept.values())

    @property
    def rows_set_aside(self) -> int:
        return sum(self.set_aside.values())


def missing_tables(written: list[str], why: str) -> dict[str, str]:
    """Every table of the data model not in ``written``, each with ``why``."""
    return {t: why for t in TABLES if t not in written}


# ----------------------------------------------------------------------------- writing


def arrow_table(name: str, df: pd.DataFrame) -> pa.Table:
    """``df`` as an Arrow table with exactly the model's columns and types for ``name``."""
    spec = TABLES[name]
    missing = [c for c in spec.columns if c not in df.columns]
    if missing:
        raise ValueError(f"table '{name}': adapter did not fill column(s) {', '.join(missing)}")
    arrays = []
    for col, column in spec.columns.items():
        s = df[col]
        if column.dtype == "date":
            s = pd.to_datetime(s).dt.date
        elif column.dtype == "timestamp":
            s = pd.to_datetime(s).astype("datetime64[us]")
        arrays.append(pa.array(s, type=arrow_type(column.dtype), from_pandas=True))
    return pa.Table.from_arrays(arrays, names=list(spec.columns))


def _reports_status(out: Path) -> dict[str, str]:
    """For each report in the project's reports.yml: applies, or why not (best effort)."""
    try:
        from helpers.config import PROJ_ROOT
        from helpers.data.files import has_table
        from helpers.reports.build import not_applicable_reason
        from helpers.reports.config import load_config

        status = {}
        for spec in load_config(PROJ_ROOT / "reports.yml"):
            missing = [t for t in spec.requires if not has_table(out, t)]
            status[spec.name] = not_applicable_reason(missing) if missing else "applies"
        return status
    except Exception as exc:  # the import must not fail because of reports.yml
        return {"error": f"could not read reports.yml: {exc}"}


def _on_open(out: Path, written: list[str]) -> dict[str, Any]:
    """Open the written tables with the data layer and summarise what it sets aside."""
    from helpers.data.dataset import open_dataset

    ds = open_dataset(out, tables=written)
    by_table = {}
    for name, q in ds.table_quality.items():
        by_table[name] = {"rows_read": q.rows_read, "rows_kept": q.rows_kept}
        if q.set_aside:
            by_table[name]["set_aside"] = dict(q.set_aside)
    return {"rows_set_aside": ds.rows_set_aside, "tables": by_table}


def write_import(staged: Staged, out: str | os.PathLike, *, force: bool = False) -> dict:
    """Write the staged tables as ``out/<table>.parquet`` with ``import_report.json`` and the
    set-aside rows (``import_set_aside/<source>.csv``), then open them with the data layer.

    The folder is built beside ``out`` and moved into place at the end, so a failed import
    leaves nothing half-written. An existing non-empty ``out`` is replaced only with ``force``.
    Raises ``RuntimeError`` if the counts do not add up (a bug in an adapter, never the data).
    """
    out = Path(out).resolve()
    if staged.rows_read != staged.rows_kept + staged.rows_set_aside:
        raise RuntimeError(
            f"{staged.format} import does not balance: rows read {staged.rows_read} != kept "
            f"{staged.rows_kept} + set aside {staged.rows_set_aside}"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ValueError(f"{out} already exists and is not empty (pass --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        written = {}
        for name, df in staged.tables.items():
            pq.write_table(arrow_table(name, df), tmp / f"{name}.parquet")
            written[name] = len(df)
        files = []
        if staged.set_aside_rows:
            (tmp / SET_ASIDE_DIR).mkdir()
            for source, rows in staged.set_aside_rows.items():
                if len(rows):
                    path = tmp / SET_ASIDE_DIR / f"{source}.csv"
                    rows.to_csv(path, index=False)
                    files.append(f"{SET_ASIDE_DIR}/{path.name}")
        report: dict[str, Any] = {
            "format": staged.format,
            "sources": staged.sources,
            "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "rows_read": staged.rows_read,
            "rows_kept": staged.rows_kept,
            "rows_set_aside": staged.rows_set_aside,
            "balance": f"{staged.rows_read} read = {staged.rows_kept} kept + "
            f"{staged.rows_set_aside} set aside",
            "kept": staged.kept,
            "set_aside": staged.set_aside,
            "flagged": staged.flagged,
            "tables_written": written,
            "tables_not_written": staged.not_written,
            "assumptions": staged.assumptions,
            "set_aside_files": files,
            **({"details": staged.details} if staged.details else {}),
        }
        report["on_open"] = _on_open(tmp, list(written))
        report["reports"] = _reports_status(tmp)
        (tmp / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str) + "\n")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report
