"""Your own CSV exports, mapped into the data model by a YAML file.

The mapping names, for each table of the model you can fill, the CSV file and where each
column comes from::

    delimiter: ";"            # optional (default ","); also per table
    decimal: ","              # optional (default "."); the file's decimal mark
    thousands: "."            # optional (default "." when decimal is ",", else none)
    encoding: utf-8           # optional (default: UTF-8, else Windows-1252, else Latin-1)
    tables:
      accounts:
        file: customers.csv   # relative to SOURCE (a folder), or to the mapping file
        one_row_per_key: true # optional: the file has several rows per account (see below)
        columns:
          account_id: CustNo                  # a column of the file
          company_name: Name
          region: {column: Area, map: {N: north, S: south}}   # values translated
          industry: {value: unknown}          # a constant
          size_band: {value: small}
          signup_date: {column: Since, format: "%d.%m.%Y"}     # a date/time format
          acquisition_channel: {value: unknown}

Column entries: a file column name; or a mapping with one source, ``column: NAME``,
``value: CONSTANT`` or ``row_number: true`` (the row's line number in the file, for a file
without ids), and optionally:

- ``map: {text: value}`` translates values (a ``""`` key: empty cells; ``default: value``
  for any other non-empty one);
- ``key: NAME`` makes integer ids from a text key (an account name): every column given the
  same key NAME, in every table of the import, uses one dictionary, the sorted distinct texts
  numbered 1..n, recorded in ``import_report.json`` (``details.keys``);
- ``if: FLAG`` keeps the value only where the yes/no column FLAG is yes (empty is no), e.g.
  ``converted_at: {column: SentDate, if: Converted}``;
- ``format: "%d.%m.%Y"`` reads a date or timestamp column with that strptime format.

Constants and ``map``/``default`` values are YAML values, typed by the column (a number for a
number column, ISO 8601 for a date), never read with the file's number format: with
``decimal: ","``, ``{value: 0.6}`` is 0.6. File values are read with the file's marks: with
``decimal: ","`` and ``thousands: "."``, ``1.000`` is 1000 and ``0.6`` is no number (set
aside). Whole-number columns are read as text, exactly (``12346.0`` is 12346; beyond int64 is
set aside).

``one_row_per_key: true`` (a table whose file holds several rows per key, e.g. accounts
mapped from an opportunity export): the rows of one key become one row, with the earliest
date of each date column and the first non-empty value of every other column; the merged rows
are counted as kept.

Rules: every required column of a mapped table must be given; nullable columns left out are
written empty; unknown tables, columns or keys, constants that are not of the column's type,
and formats that are not strptime formats are errors; all problems of a mapping are reported at
once, each naming its entry. Rows whose value does not parse as the column's type, lacks a
required value, is below its minimum or outside its allowed values, or repeats an earlier line
exactly (not checked in a table numbered by ``row_number``) are set aside with their reason
(``import_set_aside/<table>.csv``). Keys, references between tables and dates in the future
are checked when the dataset is opened (``on_open`` in the import report).

Costs: ``order_lines.unit_cost`` may be left out; with ``cost_ratio`` (``--cost-ratio R``),
an empty cost is R x unit_price (and ``products.unit_cost`` R x list_price when not mapped),
stated in the assumptions; without it the cost is unknown (null) and the report says that
margins will be unknown.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from helpers.data.adapters.base import (
    _FALSE,
    _TRUE,
    INT64_MAX,
    INT64_MIN,
    Ledger,
    Staged,
    TextTable,
    missing_tables,
    parse_bool,
    parse_float,
    parse_int,
    parse_timestamp,
    read_text_table,
)
from helpers.data.schema import TABLES, Column

FORMAT = "csv"
TOP_KEYS = {"delimiter", "decimal", "thousands", "encoding", "tables"}
FILE_KEYS = ("delimiter", "decimal", "thousands", "encoding")
TABLE_KEYS = {"file", "columns", "one_row_per_key", *FILE_KEYS}
SOURCE_KEYS = ("column", "value", "row_number")
COLUMN_KEYS = {*SOURCE_KEYS, "format", "map", "default", "key", "if"}
PANDAS_DTYPE = {
    "int64": "Int64",
    "float64": "Float64",
    "boolean": "boolean",
    "string": "string",
    "date": "datetime64[us]",
    "timestamp": "datetime64[us]",
}
#: The texts a YAML boolean key (``yes:``, ``true:``, ``on:`` unquoted) may have come from.
YAML_BOOL_WORDS = {True: ("yes", "true", "on"), False: ("no", "false", "off")}
DERIVED_BY_COST_RATIO = {"products": {"unit_cost"}}
EMPTY = "\x00empty"  # how an empty cell is looked up in a map with a "" (or null) key


# ----------------------------------------------------------------------------- constants


def _int_constant(value: Any, column: Column) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{value} is beyond int64")
    return value


def _float_constant(value: Any, column: Column) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"expected a number written as YAML (0.05, not '0,05'), got {value!r}"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return value


def _time_constant(value: Any, column: Column) -> pd.Timestamp:
    try:
        value = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected an ISO 8601 date, got {value!r}") from None
    return value.normalize() if column.dtype == "date" else value


def _bool_constant(value: Any, column: Column) -> bool:
    words = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
    if isinstance(value, str) and value.strip().lower() in words:
        value = words[value.strip().lower()]
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _text_constant(value: Any, column: Column) -> str:
    value = str(value).lower() if isinstance(value, bool) else str(value)
    if column.allowed is not None and value not in column.allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(column.allowed)}")
    return value


_CONSTANT = {
    "int64": _int_constant,
    "float64": _float_constant,
    "date": _time_constant,
    "timestamp": _time_constant,
    "boolean": _bool_constant,
}


def constant(value: Any, column: Column) -> Any:
    """A YAML value as a value of ``column``'s type (never read with the file's number
    format); ``ValueError`` saying what was expected."""
    if value is None:
        if not column.nullable:
            raise ValueError("null for a required column")
        return None
    value = _CONSTANT.get(column.dtype, _text_constant)(value, column)
    if column.min_value is not None and column.dtype in {"int64", "float64"}:
        if value < column.min_value:
            raise ValueError(f"{value} is below the column's minimum {column.min_value:g}")
    return value


def _map_keys(key: Any) -> list[str]:
    """The file texts a YAML map key stands for (``yes:`` unquoted is the boolean True;
    ``""`` or ``null`` stands for an empty cell, :data:`EMPTY`)."""
    if key is None or key == "":
        return [EMPTY]
    if isinstance(key, bool):
        return [v for w in YAML_BOOL_WORDS[key] for v in (w, w.capitalize(), w.upper())]
    return [str(key)]


def _check_format(fmt: Any) -> str | None:
    """Why ``fmt`` is not a strptime format, or None."""
    if not isinstance(fmt, str) or not fmt:
        return f"format must be a strptime format such as '%d.%m.%Y', got {fmt!r}"
    try:
        pd.to_datetime(pd.Series(["2000-01-02"]), format=fmt, errors="coerce")
        dt.datetime(2001, 2, 3, 4, 5, 6).strftime(fmt)
    except ValueError as exc:
        return f"format {fmt!r} is not a strptime format ({exc})"
    return None


# ----------------------------------------------------------------------------- the mapping


def _shape_problems(where: str, how: dict, column: Column) -> list[str]:
    """What is wrong with the keys of one column entry (its constants aside)."""
    problems = []
    extra = sorted(set(how) - COLUMN_KEYS)
    if extra:
        problems.append(
            f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(COLUMN_KEYS))})"
        )
    if len([k for k in SOURCE_KEYS if k in how]) != 1:
        problems.append(f"{where}: give exactly one of 'column', 'value' or 'row_number'")
    if "column" in how and not isinstance(how["column"], str):
        problems.append(f"{where}: 'column' must name a column of the file")
    if "row_number" in how and (how["row_number"] is not True or column.dtype != "int64"):
        problems.append(f"{where}: 'row_number: true' is for whole-number id columns only")
    if "format" in how:
        if column.dtype not in {"date", "timestamp"}:
            problems.append(f"{where}: 'format' applies to date and timestamp columns only")
        elif why := _check_format(how["format"]):
            problems.append(f"{where}: {why}")
    if "key" in how:
        if column.dtype != "int64" or "column" not in how or "map" in how:
            problems.append(f"{where}: 'key' makes whole-number ids from a file column (no map)")
        elif not isinstance(how["key"], str) or not how["key"]:
            problems.append(f"{where}: 'key' must be a name, e.g. key: account")
    if "if" in how and (not isinstance(how["if"], str) or not column.nullable):
        problems.append(f"{where}: 'if' names a yes/no column; only for a nullable column")
    if "default" in how and "map" not in how:
        problems.append(f"{where}: 'default' goes with 'map'")
    if "map" in how and not isinstance(how["map"], dict):
        problems.append(f"{where}: 'map' must map file values to model values")
    return problems


def _constant_problems(where: str, how: dict, column: Column) -> list[str]:
    """The entry's constants (``value``, ``map`` targets, ``default``) that are not values of
    the column's type."""
    constants = [("value", how["value"])] if "value" in how else []
    if isinstance(how.get("map"), dict):
        constants += [(f"map {k!r}", v) for k, v in how["map"].items()]
    if "default" in how:
        constants.append(("default", how["default"]))
    problems = []
    for label, value in constants:
        try:
            constant(value, column)
        except ValueError as exc:
            problems.append(f"{where}: {label}: {exc}")
    return problems


def _column_problems(table: str, name: str, how: dict, column: Column) -> list[str]:
    """Everything wrong with one column entry (``how`` in its dict form)."""
    where = f"table {table!r}, column {name!r}"
    return _shape_problems(where, how, column) + _constant_problems(where, how, column)


def _table_problems(table: str, entry: Any, derived: set[str]) -> list[str]:
    where = f"table {table!r}"
    if table not in TABLES:
        return [f"{where}: not a table of the data model ({', '.join(TABLES)})"]
    if not isinstance(entry, dict) or "file" not in entry or "columns" not in entry:
        return [f"{where}: needs 'file' and 'columns'"]
    problems = [
        f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(TABLE_KEYS))})"
        for key in sorted(set(entry) - TABLE_KEYS)
    ]
    columns = entry["columns"]
    if not isinstance(columns, dict):
        return [*problems, f"{where}: 'columns' must map model column -> source column"]
    spec = TABLES[table]
    for name, source in columns.items():
        if name not in spec.columns:
            problems.append(
                f"{where}: {name!r} is not a column of {table} ({', '.join(spec.columns)})"
            )
        elif isinstance(source, dict):
            problems += _column_problems(table, name, source, spec.columns[name])
        elif not isinstance(source, str):
            problems.append(f"{where}, column {name!r}: expected a source column name")
    unmapped = [
        c
        for c, col in spec.columns.items()
        if not col.nullable and c not in columns and c not in derived
    ]
    if unmapped:
        problems.append(
            f"{where}: required column(s) {', '.join(unmapped)} not mapped (give a source "
            "column, or {value: ...} for a constant)"
        )
    return problems


def load_mapping(path: str | Path, *, cost_ratio: float | None = None) -> dict[str, Any]:
    """Read and check a mapping file; one ``ValueError`` lists every problem found, each
    naming its table and column entry. With ``cost_ratio``, ``products.unit_cost`` may be
    left out (it is then derived)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"mapping file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
        raise ValueError(
            f"{path.name}: expected a 'tables:' mapping of table name -> file, columns"
        )
    problems = [
        f"unknown key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})"
        for key in sorted(set(data) - TOP_KEYS)
    ]
    for table, entry in data["tables"].items():
        derived = DERIVED_BY_COST_RATIO.get(table, set()) if cost_ratio is not None else set()
        problems += _table_problems(table, entry, derived)
        if isinstance(entry, dict):
            problems += _mark_problems(f"table {table!r}", {**data, **entry})
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ValueError(f"{path.name}: {len(problems)} problem(s) in the mapping:\n{lines}")
    return data


def _mark_problems(where: str, options: dict) -> list[str]:
    marks = _marks(options)
    if marks.decimal == marks.thousands:
        return [f"{where}: decimal and thousands marks are both {marks.decimal!r}"]
    return []


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Marks:
    """How one file is written: delimiter, decimal mark, thousands separator, encoding."""

    delimiter: str = ","
    decimal: str = "."
    thousands: str | None = None
    encoding: str | None = None

    def describe(self) -> str:
        """`` (decimal ',', thousands '.')`` when not the default marks, else ``""``."""
        if self.decimal == "." and not self.thousands:
            return ""
        return f" (decimal {self.decimal!r}, thousands {self.thousands!r})"


def _marks(options: dict) -> Marks:
    decimal = str(options.get("decimal") or ".")
    thousands = options.get("thousands", "." if decimal == "," else None)
    return Marks(
        str(options.get("delimiter") or ","),
        decimal,
        str(thousands) if thousands else None,
        options.get("encoding"),
    )


def _file(source: Path, mapping_path: Path, name: str) -> Path:
    base = source if source.is_dir() else mapping_path.parent
    path = Path(name)
    path = path if path.is_absolute() else base / path
    return source if source.is_file() and not path.is_file() else path


def _entries(columns: dict) -> dict[str, dict]:
    """Every column entry in its dict form (``Name`` is ``{column: Name}``)."""
    return {n: (s if isinstance(s, dict) else {"column": s}) for n, s in columns.items()}


def _key_dictionaries(data: dict, texts: dict[str, TextTable]) -> dict[str, dict]:
    """Per key name: the columns using it and the ids, the sorted distinct texts of all its
    columns in all tables numbered 1..n (one dictionary per import: the same name gets the
    same id in accounts and in leads)."""
    keys: dict[str, dict] = {}
    for table, entry in data["tables"].items():
        frame = texts[table].frame()
        for name, how in _entries(entry["columns"]).items():
            if "key" in how and how["column"] in frame:
                key = keys.setdefault(how["key"], {"columns": [], "texts": set()})
                key["columns"].append(f"{table}.{name}")
                key["texts"].update(frame[how["column"]].dropna())
    return {
        k: {"columns": v["columns"], "ids": {t: i for i, t in enumerate(sorted(v["texts"]), 1)}}
        for k, v in keys.items()
    }


# ----------------------------------------------------------------------------- one column


def _parse(text: pd.Series, column: Column, how: dict, marks: Marks):
    """(values, failed, out of range) for file text of ``column``'s type."""
    none = pd.Series(False, index=text.index)
    kind = column.dtype
    if kind == "int64":
        return parse_int(text, marks.decimal, marks.thousands)
    if kind == "float64":
        return (*parse_float(text, marks.decimal, marks.thousands), none)
    if kind in {"date", "timestamp"}:
        values, bad = parse_timestamp(text, how.get("format"))
        return (values.dt.normalize() if kind == "date" else values), bad, none
    if kind == "boolean":
        return (*parse_bool(text), none)
    return text.astype("string"), none, none


def _mapped(text: pd.Series, column: Column, how: dict, marks: Marks):
    """File text through ``map``/``default`` (typed YAML values) and the type's parser."""
    lookup = {
        t: constant(v, column) for k, v in (how.get("map") or {}).items() for t in _map_keys(k)
    }
    hit = text.isin(list(lookup)).fillna(False).astype(bool)
    if EMPTY in lookup:
        hit = hit | text.isna()
        text = text.fillna(EMPTY)
    if "default" in how:
        hit_default = text.notna() & ~hit
    else:
        hit_default = pd.Series(False, index=text.index)
    values, bad, too_large = _parse(text.where(~(hit | hit_default)), column, how, marks)
    if hit.any() or hit_default.any():
        typed = text.map(lambda t: lookup.get(t) if pd.notna(t) else None).astype(object)
        if "default" in how:
            typed = typed.where(~hit_default, constant(how["default"], column))
        values = values.astype(object).where(~(hit | hit_default), typed)
        values = values.astype(PANDAS_DTYPE[column.dtype])
    return values, bad, too_large


def _column(name, column, how, raw, marks, keys, book) -> pd.Series:
    """One model column's values; rows whose value fails a rule are set aside in ``book``."""
    index = raw.index
    dtype = PANDAS_DTYPE[column.dtype]
    if how is None:
        return pd.Series(None, index=index, dtype=dtype)
    if "value" in how:
        value = constant(how["value"], column)
        values = pd.Series([value] * len(index), index=index, dtype=object).astype(dtype)
    elif "row_number" in how:
        values = raw["_row"].astype("Int64")
    elif "key" in how:
        ids = keys[how["key"]]["ids"]
        values = raw[how["column"]].map(ids.get).astype("Int64")
    else:
        values, bad, too_large = _mapped(raw[how["column"]], column, how, marks)
        written = marks.describe() if column.dtype in {"int64", "float64"} else ""
        if "format" in how:
            written = f" (format {how['format']!r})"
        book.set_aside(bad, f"{name}: does not parse as {column.dtype}{written}")
        book.set_aside(too_large, f"{name}: out of range (a whole number beyond int64)")
    if "if" in how:
        flag, bad = parse_bool(raw[how["if"]])
        book.set_aside(bad, f"{name}: {how['if']} is not yes/no")
        flag = flag.fillna(False).astype(bool)
        book.set_aside(flag & values.isna(), f"{name}: {how['if']} is yes but the value is empty")
        values = values.where(flag)
    if not column.nullable:
        book.set_aside(values.isna(), f"{name}: missing value")
    if column.min_value is not None:
        book.set_aside(values < column.min_value, f"{name}: below {column.min_value:g}")
    if column.allowed is not None:
        book.set_aside(
            values.notna() & ~values.isin(column.allowed),
            f"{name}: not one of {', '.join(column.allowed)}",
        )
    return values


# ----------------------------------------------------------------------------- one table


def _one_row_per_key(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """One row per key of ``table``: the earliest date of each date column, the first
    non-empty value of every other column (rows in file order), sorted by the key."""
    spec = TABLES[table]
    key = list(spec.key)
    how = {
        c: ("min" if col.dtype in {"date", "timestamp"} else "first")
        for c, col in spec.columns.items()
        if c not in key
    }
    out = frame.groupby(key, sort=True).agg(how).reset_index()
    return out[list(spec.columns)]


def _stage_table(table: str, entry: dict, marks: Marks, text: TextTable, keys: dict):
    """(frame, rows read, kept counts, set-aside counts, set-aside rows) of one table."""
    spec = TABLES[table]
    raw = text.frame()
    path = text.path
    wanted = _entries(entry["columns"])
    used = [s[k] for s in wanted.values() for k in ("column", "if") if k in s]
    absent = sorted({c for c in used if c not in raw.columns}, key=used.index)
    if absent:
        raise ValueError(
            f"{path.name} (table {table!r}): column(s) {', '.join(map(repr, absent))} not in the "
            f"file (columns: {', '.join(raw.columns)})"
        )
    raw.insert(0, "_row", text.line_numbers)
    raw.insert(0, "_source", path.name)
    book = Ledger(raw, table)
    out = {
        name: _column(name, column, wanted.get(name), raw, marks, keys, book)
        for name, column in spec.columns.items()
    }
    numbered = any("row_number" in how for how in wanted.values())
    # without an id in the file, equal lines may be separate rows; one_row_per_key merges them
    if not numbered and not entry.get("one_row_per_key"):
        book.set_aside(
            raw.drop(columns=["_source", "_row"]).duplicated(), "exact duplicate of an earlier line"
        )
    frame = pd.DataFrame(out)[book.kept].reset_index(drop=True)
    kept = {table: len(frame)}
    if entry.get("one_row_per_key"):
        merged = _one_row_per_key(frame, table)
        kept = {
            table: len(merged),
            f"{table} (merged into the row of the same {', '.join(spec.key)})": len(frame)
            - len(merged),
        }
        frame = merged
    set_aside = book.counts()
    rows = book.set_aside_rows()
    if text.malformed:
        reason = "malformed CSV line (wrong number of fields)"
        set_aside = {reason: len(text.malformed), **set_aside}
        bad_rows = pd.DataFrame(
            [(path.name, n, line) for n, line in text.malformed],
            columns=["_source", "_row", "line"],
        )
        bad_rows.insert(0, "_reason", reason)
        rows = pd.concat([bad_rows, rows], ignore_index=True)
    return frame, len(raw) + len(text.malformed), kept, set_aside, rows


# ----------------------------------------------------------------------------- costs


def _costs(tables: dict, data: dict, cost_ratio: float | None) -> tuple[list[str], dict]:
    """Fill unknown costs with ``cost_ratio`` x price, or say that margins will be unknown.
    Returns (assumptions, details)."""
    notes, details = [], {}
    if cost_ratio is not None and not {"order_lines", "products"} & set(tables):
        raise ValueError("--cost-ratio: the mapping fills neither order_lines nor products")
    if "order_lines" in tables:
        lines = tables["order_lines"]
        unknown = lines["unit_cost"].isna()
        n, total = int(unknown.sum()), len(lines)
        mapped = "unit_cost" in data["tables"]["order_lines"]["columns"]
        which = "lines with an empty unit_cost" if mapped else "lines (no unit_cost mapped)"
        if cost_ratio is not None and n:
            lines.loc[unknown, "unit_cost"] = lines.loc[unknown, "unit_price"] * cost_ratio
            notes.append(
                f"order_lines.unit_cost = {cost_ratio:g} x unit_price (cost_ratio) for {n} of "
                f"{total} {which}: margins of those lines are assumed, not measured"
            )
        elif n:
            notes.append(
                f"order_lines.unit_cost unknown for {n} of {total} {which}, and no cost_ratio: "
                "margins of the orders holding them will be unknown (shown as unknown, never "
                "as 100 %); pass --cost-ratio R to assume unit_cost = R x unit_price"
            )
        details["order_lines"] = {
            "lines": total,
            "cost_given": total - n,
            "cost_from_ratio": n if cost_ratio is not None else 0,
            "cost_unknown": 0 if cost_ratio is not None else n,
        }
    if cost_ratio is not None and "products" in tables:
        if "unit_cost" not in data["tables"]["products"]["columns"]:
            products = tables["products"]
            products["unit_cost"] = products["list_price"] * cost_ratio
            notes.append(f"products.unit_cost = {cost_ratio:g} x list_price (cost_ratio)")
    if cost_ratio is not None:
        details["cost_ratio"] = cost_ratio
    return notes, details


# ----------------------------------------------------------------------------- the adapter


def _assumptions(data: dict, keys: dict, cost_ratio: float | None) -> list[str]:
    notes = []
    for t, e in data["tables"].items():
        for c, how in _entries(e["columns"]).items():
            if "value" in how and "if" not in how:
                value = how["value"]
                shown = repr(value) if isinstance(value, str) else str(value)
                notes.append(f"{t}.{c} = {shown} for every row (a constant in the mapping)")
            if "row_number" in how:
                notes.append(f"{t}.{c} = the row's line number in {e['file']} (no id in the file)")
            if "if" in how:
                src = how.get("column", how.get("value"))
                notes.append(f"{t}.{c} = {src} where {how['if']} is yes, else empty")
        if e.get("one_row_per_key"):
            notes.append(
                f"{t}: one row per {', '.join(TABLES[t].key)} (earliest dates, first non-empty "
                "value of other columns)"
            )
        derived = DERIVED_BY_COST_RATIO.get(t, set()) if cost_ratio is not None else set()
        empty = [
            c
            for c, col in TABLES[t].columns.items()
            if col.nullable
            and c not in e["columns"]
            and not (c == "unit_cost" and t == "order_lines")
            and c not in derived
        ]
        if empty:
            notes.append(f"{t}: {', '.join(empty)} not in the mapping, written empty")
    for name, key in keys.items():
        notes.append(
            f"{', '.join(key['columns'])}: whole-number ids 1..{len(key['ids'])} given to the "
            f"sorted distinct texts of key {name!r} (the dictionary: details.keys.{name})"
        )
    return notes


def stage(
    sources: list[str | Path],
    *,
    mapping: str | Path | None = None,
    cost_ratio: float | None = None,
) -> Staged:
    """Map CSV files into the model with the YAML ``mapping`` (see the module docstring).

    ``sources``: one folder holding the files the mapping names (or one CSV file, then the
    mapping's ``file`` names are taken relative to the mapping file). ``cost_ratio``: unknown
    ``order_lines.unit_cost`` = ratio x unit_price (an assumption in the report).
    """
    if mapping is None:
        raise ValueError("the csv format needs a mapping file (--mapping FILE.yml)")
    if len(sources) != 1:
        raise ValueError("the csv format takes one SOURCE: the folder holding the CSV files")
    if cost_ratio is not None and not 0 <= cost_ratio <= 1:
        raise ValueError(f"cost_ratio must be between 0 and 1, got {cost_ratio}")
    mapping_path = Path(mapping)
    data = load_mapping(mapping_path, cost_ratio=cost_ratio)
    source = Path(sources[0])
    if not source.exists():
        raise ValueError(f"{source}: no such file or folder")
    marks, texts = {}, {}
    for table, entry in data["tables"].items():
        marks[table] = _marks({**data, **entry})
        path = _file(source, mapping_path, entry["file"])
        texts[table] = read_text_table(path, marks[table].delimiter, marks[table].encoding)
    keys = _key_dictionaries(data, texts)
    tables, kept, set_aside, rows, by_table, read = {}, {}, {}, {}, {}, 0
    for table, entry in data["tables"].items():
        frame, n_read, n_kept, aside, bad = _stage_table(
            table, entry, marks[table], texts[table], keys
        )
        tables[table] = frame
        kept.update(n_kept)
        read += n_read
        set_aside.update({f"{table}: {reason}": n for reason, n in aside.items()})
        rows[table] = bad
        by_table[table] = {
            "file": str(texts[table].path),
            "encoding": texts[table].encoding,
            "rows_read": n_read,
            "rows_kept": sum(n_kept.values()),
            "set_aside": aside,
        }
    cost_notes, cost_details = _costs(tables, data, cost_ratio)
    details: dict[str, Any] = {"by_table": by_table, "costs": cost_details}
    if keys:
        details["keys"] = {name: key["ids"] for name, key in keys.items()}
    return Staged(
        format=FORMAT,
        sources=[str(source.resolve()), str(mapping_path.resolve())],
        tables=tables,
        rows_read=read,
        kept=kept,
        set_aside=set_aside,
        assumptions=_assumptions(data, keys, cost_ratio) + cost_notes,
        not_written=missing_tables(list(tables), "not in the mapping file"),
        set_aside_rows=rows,
        details=details,
    )
