"""Your own CSV exports, mapped into the data model by a YAML file.

The mapping names, for each table of the model you can fill, the CSV file and where each
column comes from::

    delimiter: ";"            # optional (default ","); also per table
    decimal: ","              # optional (default "."); for float columns
    encoding: utf-8           # optional (default: UTF-8, else Windows-1252, else Latin-1)
    tables:
      accounts:
        file: customers.csv   # relative to SOURCE (a folder), or to the mapping file
        columns:
          account_id: CustNo                  # a column of the file
          company_name: Name
          region: {column: Area, map: {N: north, S: south}}   # values translated
          industry: {value: unknown}          # a constant
          size_band: {value: small}
          signup_date: {column: Since, format: "%d.%m.%Y"}     # a date/time format
          acquisition_channel: {value: unknown}

Rules: every required column of a mapped table must be given (a column or a ``value``);
nullable columns left out are written empty; unknown tables, columns or keys are errors; all
problems of a mapping are reported at once. Rows whose value does not parse as the column's
type, lacks a required value, is below its minimum or outside its allowed values, or repeats
an earlier line exactly are set aside with their reason (``import_set_aside/<table>.csv``).
Keys, references between tables and dates in the future are checked when the dataset is
opened (``on_open`` in the import report).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from helpers.data.adapters.base import (
    Ledger,
    Staged,
    missing_tables,
    parse_bool,
    parse_float,
    parse_int,
    parse_timestamp,
    read_text_table,
)
from helpers.data.schema import TABLES

FORMAT = "csv"
TOP_KEYS = {"delimiter", "decimal", "encoding", "tables"}
TABLE_KEYS = {"file", "columns", "delimiter", "decimal", "encoding"}
COLUMN_KEYS = {"column", "value", "format", "map"}


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Read and check a mapping file; one ``ValueError`` lists every problem found."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"mapping file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name}: not valid YAML: {exc}") from None
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
        raise ValueError(
            f"{path.name}: expected a 'tables:' mapping of table name -> file, columns"
        )
    for key in sorted(set(data) - TOP_KEYS):
        problems.append(f"unknown key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})")
    for table, entry in data["tables"].items():
        where = f"table {table!r}"
        if table not in TABLES:
            problems.append(f"{where}: not a table of the data model ({', '.join(TABLES)})")
            continue
        if not isinstance(entry, dict) or "file" not in entry or "columns" not in entry:
            problems.append(f"{where}: needs 'file' and 'columns'")
            continue
        for key in sorted(set(entry) - TABLE_KEYS):
            problems.append(
                f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(TABLE_KEYS))})"
            )
        columns = entry["columns"]
        if not isinstance(columns, dict):
            problems.append(f"{where}: 'columns' must map model column -> source column")
            continue
        spec = TABLES[table]
        for name, source in columns.items():
            if name not in spec.columns:
                problems.append(
                    f"{where}: {name!r} is not a column of {table} ({', '.join(spec.columns)})"
                )
            elif isinstance(source, dict):
                extra = sorted(set(source) - COLUMN_KEYS)
                if extra:
                    problems.append(
                        f"{where}, column {name!r}: unknown key {extra[0]!r} "
                        f"(allowed: {', '.join(sorted(COLUMN_KEYS))})"
                    )
                if ("column" in source) == ("value" in source):
                    problems.append(f"{where}, column {name!r}: give either 'column' or 'value'")
            elif not isinstance(source, str):
                problems.append(f"{where}, column {name!r}: expected a source column name")
        unmapped = [c for c, col in spec.columns.items() if not col.nullable and c not in columns]
        if unmapped:
            problems.append(
                f"{where}: required column(s) {', '.join(unmapped)} not mapped (give a source "
                "column, or {value: ...} for a constant)"
            )
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ValueError(f"{path.name}: {len(problems)} problem(s) in the mapping:\n{lines}")
    return data


def _file(source: Path, mapping_path: Path, name: str) -> Path:
    base = source if source.is_dir() else mapping_path.parent
    path = Path(name)
    return path if path.is_absolute() else base / path


def _stage_table(table: str, entry: dict, top: dict, path: Path):
    spec = TABLES[table]
    option = {k: entry.get(k, top.get(k)) for k in ("delimiter", "decimal", "encoding")}
    text = read_text_table(path, option["delimiter"] or ",", option["encoding"])
    raw = text.frame()
    header = list(raw.columns)
    wanted = {
        name: (src if isinstance(src, dict) else {"column": src})
        for name, src in entry["columns"].items()
    }
    absent = [s["column"] for s in wanted.values() if "column" in s and s["column"] not in header]
    if absent:
        raise ValueError(
            f"{path.name} (table {table!r}): column(s) {', '.join(map(repr, absent))} not in the "
            f"file (columns: {', '.join(header)})"
        )
    raw.insert(0, "_row", text.line_numbers)
    raw.insert(0, "_source", path.name)
    book = Ledger(raw, table)
    out = {}
    for name, column in spec.columns.items():
        how = wanted.get(name)
        if how is None:
            values = pd.Series(pd.NA, index=raw.index, dtype="string")
        elif "value" in how:
            values = pd.Series(str(how["value"]), index=raw.index, dtype="string")
        else:
            values = raw[how["column"]]
        if how and "map" in how:
            lookup = {str(k): str(v) for k, v in how["map"].items()}
            values = values.map(lambda v, m=lookup: m.get(v, v) if pd.notna(v) else v)
            values = values.astype("string")
        fmt = (how or {}).get("format")
        dtype = column.dtype
        if dtype == "int64":
            parsed, bad = parse_int(values)
        elif dtype == "float64":
            parsed, bad = parse_float(values, option["decimal"] or ".")
        elif dtype in {"date", "timestamp"}:
            parsed, bad = parse_timestamp(values, fmt)
            if dtype == "date":
                parsed = parsed.dt.normalize()
        elif dtype == "boolean":
            parsed, bad = parse_bool(values)
        else:
            parsed, bad = values, pd.Series(False, index=raw.index)
        book.set_aside(bad, f"{name}: does not parse as {dtype}")
        if not column.nullable:
            book.set_aside(values.isna(), f"{name}: missing value")
        if column.min_value is not None:
            book.set_aside(parsed < column.min_value, f"{name}: below {column.min_value:g}")
        if column.allowed is not None:
            book.set_aside(
                parsed.notna() & ~parsed.isin(column.allowed),
                f"{name}: not one of {', '.join(column.allowed)}",
            )
        out[name] = parsed
    book.set_aside(
        raw.drop(columns=["_source", "_row"]).duplicated(), "exact duplicate of an earlier line"
    )
    frame = pd.DataFrame(out)[book.kept]
    set_aside = book.counts()
    if text.malformed:
        set_aside = {
            "malformed CSV line (wrong number of fields)": len(text.malformed),
            **set_aside,
        }
    rows = book.set_aside_rows()
    if text.malformed:
        bad_rows = pd.DataFrame(
            [(path.name, n, line) for n, line in text.malformed],
            columns=["_source", "_row", "line"],
        )
        bad_rows.insert(0, "_reason", "malformed CSV line (wrong number of fields)")
        rows = pd.concat([bad_rows, rows], ignore_index=True)
    return frame, len(raw) + len(text.malformed), set_aside, rows, text.encoding


def stage(sources: list[str | Path], *, mapping: str | Path | None = None) -> Staged:
    """Map CSV files into the model with the YAML ``mapping`` (see the module docstring).

    ``sources``: one folder holding the files the mapping names (or one CSV file, then the
    mapping's ``file`` names are taken relative to the mapping file).
    """
    if mapping is None:
        raise ValueError("the csv format needs a mapping file (--mapping FILE.yml)")
    if len(sources) != 1:
        raise ValueError("the csv format takes one SOURCE: the folder holding the CSV files")
    mapping_path = Path(mapping)
    data = load_mapping(mapping_path)
    source = Path(sources[0])
    if not source.exists():
        raise ValueError(f"{source}: no such file or folder")
    tables, kept, set_aside, rows, by_table, read = {}, {}, {}, {}, {}, 0
    for table, entry in data["tables"].items():
        path = _file(source, mapping_path, entry["file"])
        if source.is_file() and not path.is_file():
            path = source
        frame, n_read, aside, bad, encoding = _stage_table(table, entry, data, path)
        tables[table] = frame
        kept[table] = len(frame)
        read += n_read
        for reason, n in aside.items():
            set_aside[f"{table}: {reason}"] = n
        rows[table] = bad
        by_table[table] = {
            "file": str(path),
            "encoding": encoding,
            "rows_read": n_read,
            "rows_kept": len(frame),
            "set_aside": aside,
        }
    nullable_left_out = {
        t: [c for c, col in TABLES[t].columns.items() if col.nullable and c not in e["columns"]]
        for t, e in data["tables"].items()
    }
    assumptions = [
        f"{t}: {', '.join(cols)} not in the mapping, written empty"
        for t, cols in nullable_left_out.items()
        if cols
    ]
    constants = [
        f"{t}.{c} = {spec['value']!r} for every row (a constant in the mapping)"
        for t, e in data["tables"].items()
        for c, spec in e["columns"].items()
        if isinstance(spec, dict) and "value" in spec
    ]
    return Staged(
        format=FORMAT,
        sources=[str(source.resolve()), str(mapping_path.resolve())],
        tables=tables,
        rows_read=read,
        kept=kept,
        set_aside=set_aside,
        assumptions=constants + assumptions,
        not_written=missing_tables(list(tables), "not in the mapping file"),
        set_aside_rows=rows,
        details={"by_table": by_table},
    )
