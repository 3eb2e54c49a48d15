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
import io
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
import yaml

from helpers.config import PROJ_ROOT
from helpers.data.dataset import open_dataset
from helpers.data.files import has_table
from helpers.data.schema import TABLES, arrow_type

REPORT_FILE = "import_report.json"
SET_ASIDE_DIR = "import_set_aside"
UNKNOWN = "unknown"
#: ``accounts.acquisition_channel`` of the accounts that collect sales without a customer
#: (``account_id < 0``); customer analytics should leave them out.
GUEST_CHANNEL = "guest"
DEFAULT_COST_RATIO = 0.6
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")  # latin-1 decodes any byte: the last resort
#: What ``str.splitlines`` would break a line at: inside a value, each run becomes one space.
LINE_BREAK = re.compile(r"[ \t]*[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+[ \t]*")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


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
    line_breaks: int = 0  # rows with a line break inside a (quoted) field

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
    """Read a CSV file record by record with the standard :mod:`csv` module.

    Used instead of ``pandas.read_csv`` because pandas either stops at a line with the wrong
    number of fields or skips it with only a warning; here such a line is kept, with its line
    number, to be set aside and counted. Records end only at ``\\n``, ``\\r\\n`` or ``\\r``
    outside quotes: a line break inside a quoted field stays in its field (it is never a new
    row, nor glued to the next word), and other Unicode line separators (``U+0085``, the
    Latin-1 NEL byte ``\\x85``; ``U+2028``) are characters, not line ends. Encoding: UTF-8,
    else Windows-1252, else Latin-1 (the UCI Online Retail CSVs circulate in both).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    text, used = _decode(path, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError(f"{path}: the file is empty (expected a header line)") from None
    rows, numbers, malformed, breaks = [], [], [], 0
    for fields in reader:
        line = reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # a blank line is no row
        if len(fields) != len(header):
            malformed.append((line, delimiter.join(fields)))
            continue
        breaks += any(LINE_BREAK.search(f) for f in fields)
        rows.append(fields)
        numbers.append(line)
    return TextTable(path, header, rows, numbers, malformed, used, breaks)


def clean_text(df: pd.DataFrame) -> pd.DataFrame:
    """Every column as stripped text, each run of line breaks inside a value (``\\n``,
    ``\\r``, ``U+0085`` NEL, ``U+2028``...), with the blanks around it, one space; empty
    strings become missing."""
    out = {}
    for c in df.columns:
        s = df[c].astype("string").str.replace(LINE_BREAK, " ", regex=True).str.strip()
        out[c] = s.mask(s == "")
    return pd.DataFrame(out, index=df.index)


def normalise(name: str) -> str:
    """A column name compared loosely: ``Customer ID`` == ``CustomerID`` == ``customer_id``."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


# ----------------------------------------------------------------------------- parsing


def plain_number(
    text: pd.Series, decimal: str = ".", thousands: str | None = None, exponent: bool = True
) -> pd.Series:
    """``text`` rewritten as ``-1234.5`` (no grouping, ``.`` as the decimal mark), or missing
    where it is not a number written with these marks.

    With a ``thousands`` separator, digits before the decimal mark are either ungrouped
    (``1000``) or grouped in threes (``1.000``, ``12.345.678``): with ``decimal=","`` and
    ``thousands="."``, ``1.000`` is 1000 and ``7.0`` or ``0.6`` is no number (set aside, never
    read as 70 or 6). ``exponent`` allows ``1.5e3``. ``NaN`` and ``inf`` are no numbers.
    """
    d = re.escape(decimal)
    whole = r"\d+"
    if thousands:
        whole = rf"(?:\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+)"
    pattern = rf"[+-]?(?:{whole}(?:{d}\d*)?|{d}\d+)" + (r"(?:[eE][+-]?\d+)?" if exponent else "")
    text = text.astype("string")
    out = text.where(text.str.fullmatch(pattern).fillna(False).astype(bool))
    if thousands:
        out = out.str.replace(thousands, "", regex=False)
    if decimal != ".":
        out = out.str.replace(decimal, ".", regex=False)
    return out


def parse_int(
    text: pd.Series, decimal: str = ".", thousands: str | None = None
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Whole numbers parsed exactly, as text (never through float64, which rounds ids beyond
    2^53): ``3``, ``12346.0`` (how Excel stores ids: a zero fraction is accepted),
    ``1.000`` with ``thousands="."``. Returns (values as Int64, failed: not a whole number,
    out_of_range: a whole number beyond int64, -2^63..2^63-1)."""
    plain = plain_number(text, decimal, thousands, exponent=False)
    digits = plain.where(plain.str.fullmatch(r"[+-]?\d+(?:\.0*)?").fillna(False).astype(bool))
    digits = digits.str.replace(r"\.0*$", "", regex=True)
    numbers = [None if d is None else int(d) for d in digits.to_numpy(object, na_value=None)]
    fits = [n is not None and INT64_MIN <= n <= INT64_MAX for n in numbers]
    values = pd.Series(
        pd.array([n if ok else None for n, ok in zip(numbers, fits, strict=True)], "Int64"),
        index=text.index,
    )
    out_of_range = digits.notna() & ~pd.Series(fits, index=text.index)
    failed = text.notna() & digits.isna()
    return values, failed.astype(bool), out_of_range.astype(bool)


def parse_float(
    text: pd.Series, decimal: str = ".", thousands: str | None = None
) -> tuple[pd.Series, pd.Series]:
    """Decimal numbers written with ``decimal`` and ``thousands`` (see :func:`plain_number`):
    (values as Float64, failed). ``NaN``, ``inf`` and overflowing values have failed."""
    num = pd.to_numeric(plain_number(text, decimal, thousands), errors="coerce")
    num = pd.Series(num, index=text.index, dtype="Float64")
    ok = num.notna() & np.isfinite(num.fillna(0))
    return num.where(ok), (text.notna() & ~ok).astype(bool)


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


def reports_status(out: Path, config: Path | None = None) -> dict[str, str]:
    """For each report in ``reports.yml`` (the project's, or ``config``): ``applies`` when
    the dataset ``out`` holds its core (every table under ``requires:`` and, when given, one
    of ``requires_any:``), else what is missing. Only names, ``requires`` and
    ``requires_any`` are read, with :mod:`yaml` directly: the data layer never imports the
    report runner, and which sections of a report build is the build's to say."""
    path = Path(config) if config else PROJ_ROOT / "reports.yml"
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))["reports"]
        specs = [
            (str(e["name"]), list(e.get("requires") or []), list(e.get("requires_any") or []))
            for e in entries
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        return {"error": f"could not read {path.name}: {exc}"}  # the import does not fail
    status = {}
    for name, requires, any_of in specs:
        missing = [t for t in requires if not has_table(out, t)]
        why = [f"missing core table(s): {', '.join(missing)}"] if missing else []
        if any_of and not any(has_table(out, t) for t in any_of):
            why.append(f"needs one of: {', '.join(any_of)}")
        status[name] = "; ".join(why) or "applies"
    return status


def _on_open(out: Path, written: list[str]) -> dict[str, Any]:
    """Open the written tables with the data layer and summarise what it sets aside."""
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
        report["reports"] = reports_status(tmp)
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
