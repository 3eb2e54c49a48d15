"""CSV files read against the data model, not guessed by a sniffer.

Every column of a CSV is read as text (DuckDB ``read_csv`` with the header's columns given
explicitly, all ``VARCHAR``) and then parsed by the declared type of :mod:`helpers.data.schema`,
by the same rules whatever the file and wherever the value sits in it:

- integers: digits with an optional sign (``7.0`` is not an integer; the declared thousands
  separator is removed first); floats: the declared decimal mark and thousands separator;
- dates ``YYYY-MM-DD`` and timestamps ``YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]`` (ISO 8601) with an
  optional ``Z`` or ``+08:00`` offset, converted to UTC, unless ``dataset.yml`` declares a
  format (strftime directives, ``%d/%m/%Y``) for the column; naive timestamps are in
  ``timezone`` (default UTC);
- an empty cell is a missing value.

A value that does not parse is set aside with its file and line (:data:`SOURCE`); a column in
which most values do not parse is one error naming table, file and column and saying what to
declare (a date format, the decimal mark), not thousands of rows set aside one by one.

``dataset.yml`` in the dataset folder (all keys optional)::

    encoding: latin-1        # default utf-8
    delimiter: ";"           # default ","
    decimal: ","             # default "."
    thousands: "."           # default none
    timezone: Europe/Berlin  # of naive timestamps; default UTC
    date_formats:            # per table and column; default ISO 8601
      orders: {order_ts: "%d/%m/%Y %H:%M"}
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.datatypes as idt

from helpers.data.files import TableLayoutError

__all__ = ["OPTIONS_FILE", "SOURCE", "CsvOptions", "load_options", "parse_text", "read_csv_file"]

OPTIONS_FILE = "dataset.yml"
SOURCE = "_source"  # "orders/part-00000.csv line 3" beside every row read from a CSV
_KEYS = ("encoding", "delimiter", "decimal", "thousands", "timezone", "date_formats")
_INT = r"^[+-]?[0-9]+$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?)?"
    r" ?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)
_OFFSET = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"


@dataclass(frozen=True)
class CsvOptions:
    """How the CSV files of one dataset are written (``dataset.yml``; defaults otherwise)."""

    encoding: str = "utf-8"
    delimiter: str = ","
    decimal: str = "."
    thousands: str = ""
    timezone: str = "UTC"
    date_formats: dict = field(default_factory=dict)
    declared: bool = False  # whether a dataset.yml was found

    def date_format(self, table: str, column: str) -> str | None:
        return (self.date_formats.get(table) or {}).get(column)


def load_options(root: Path) -> CsvOptions:
    """The options of ``root/dataset.yml`` (defaults when there is none); an unknown key or a
    bad value is a :class:`TableLayoutError` naming it."""
    path = Path(root) / OPTIONS_FILE
    if not path.is_file():
        return CsvOptions()
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise TableLayoutError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(raw, dict) or set(raw) - set(_KEYS):
        unknown = ", ".join(sorted(set(raw) - set(_KEYS))) if isinstance(raw, dict) else raw
        raise TableLayoutError(f"{path}: unknown key(s) {unknown} (known: {', '.join(_KEYS)})")
    opts = {k: raw[k] for k in _KEYS if raw.get(k) is not None}
    for k in ("encoding", "delimiter", "decimal", "thousands", "timezone"):
        if k in opts and not isinstance(opts[k], str):
            raise TableLayoutError(f"{path}: {k} must be text, got {opts[k]!r}")
    if opts.get("decimal", ".") == opts.get("thousands", ""):
        raise TableLayoutError(f"{path}: decimal and thousands must differ")
    try:
        codecs.lookup(opts.get("encoding", "utf-8"))
    except LookupError:
        raise TableLayoutError(f"{path}: unknown encoding {opts['encoding']!r}") from None
    return CsvOptions(**opts, declared=True)


def _check_encoding(path: Path, table: str, encoding: str) -> str:
    """Decode the whole file (in 1 MiB steps); return its first line. An undecodable byte is
    an error naming the file and line and suggesting ``encoding:``."""
    decoder = codecs.getincrementaldecoder(encoding)()
    first, lines, done = "", 0, b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as e:
                line = lines + (done + chunk[: e.start]).count(b"\n") + 1
                raise TableLayoutError(
                    f"table '{table}', file {path.name}: byte 0x{chunk[e.start]:02x} on line "
                    f"{line} is not {encoding} text; if the file is in another encoding, say "
                    f"so in {OPTIONS_FILE} beside the tables, e.g. `encoding: latin-1`"
                ) from None
            if not first:
                first = text
            lines += chunk.count(b"\n")
        decoder.decode(b"", final=True)
    return first


def _header(path: Path, table: str, opts: CsvOptions) -> list[str]:
    """The column names of a CSV file's header line (read by Python's csv module)."""
    if path.stat().st_size == 0:
        raise TableLayoutError(f"table '{table}', file {path.name} is empty (0 bytes, no header)")
    text = _check_encoding(path, table, opts.encoding).lstrip("\ufeff")
    header = next(csv.reader(io.StringIO(text), delimiter=opts.delimiter), [])
    header = [h.strip() for h in header]
    if len(header) == 1:
        for other in (";", "\t", "|", ","):
            if other != opts.delimiter and other in header[0]:
                shown = "\\t" if other == "\t" else other
                raise TableLayoutError(
                    f"table '{table}', file {path.name}: the header is one column "
                    f"({header[0][:60]!r}), so the file looks '{shown}'-separated: declare "
                    f'`delimiter: "{shown}"` in {OPTIONS_FILE} beside the tables (and '
                    f'`decimal: ","` if numbers are written like 12,50)'
                )
    if not header or header == [""]:
        raise TableLayoutError(f"table '{table}', file {path.name} has no header line")
    return header


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_csv_file(con, table: str, path: Path, opts: CsvOptions, number: int):
    """One CSV file as an Ibis table of text columns (DuckDB), with :data:`SOURCE`."""
    header = _header(path, table, opts)
    columns = "{" + ", ".join(f"{_sql_text(c)}: 'VARCHAR'" for c in header) + "}"
    encoding = codecs.lookup(opts.encoding).name
    encoding = {"iso8859-1": "latin-1", "utf-16": "utf-16", "utf-8": "utf-8"}.get(encoding)
    if encoding is None:  # DuckDB reads utf-8, utf-16 and latin-1 itself
        raise TableLayoutError(
            f"table '{table}', file {path.name}: encoding {opts.encoding!r} is not supported "
            f"(use utf-8, utf-16 or latin-1, or convert the file)"
        )
    name = f"raw_{table}_{number}"
    where = f"{Path(path).parent.name}/{path.name}" if path.parent.name == table else path.name
    con.raw_sql(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT *, {_sql_text(where)} || ' line ' || "
        f"CAST(row_number() OVER () + 1 AS VARCHAR) AS {SOURCE} FROM read_csv("
        f"{_sql_text(str(path))}, header = true, auto_detect = false, columns = {columns}, "
        f"delim = {_sql_text(opts.delimiter)}, quote = '\"', escape = '\"', "
        f"encoding = {_sql_text(encoding)}, strict_mode = false, null_padding = true)"
    )
    return con.table(name)


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(value: str, fmt: str) -> datetime.datetime:
    """DuckDB's ``try_strptime``: the timestamp, or null when ``value`` does not fit ``fmt``."""


def _number_text(s, opts: CsvOptions):
    if opts.thousands:
        s = s.replace(opts.thousands, "")
    if opts.decimal != ".":
        s = s.replace(opts.decimal, ".")
    return s


def _timestamp(s, fmt: str | None, opts: CsvOptions):
    """ISO 8601 (or ``fmt``) text as a UTC timestamp: an offset converts, a naive value is in
    ``opts.timezone``."""
    if fmt:
        naive = _try_strptime(s, fmt)
        if opts.timezone == "UTC":
            return naive.cast(idt.Timestamp(scale=6))
        s = naive.cast("string")
    else:
        s = s.re_search(_TIMESTAMP).ifelse(s, ibis.null(str))
    if opts.timezone != "UTC":
        s = s.re_search(_OFFSET).ifelse(s, s.concat(" " + opts.timezone))
    return s.try_cast(idt.Timestamp(timezone="UTC")).cast(idt.Timestamp(scale=6))


def parse_text(col, dtype: str, opts: CsvOptions, fmt: str | None = None):
    """Text column ``col`` parsed as ``dtype`` by the rules of this module's docstring: returns
    (parsed value, flag that is True where a value was given but does not parse)."""
    s = col.strip().nullif("")
    if dtype == "string":
        return col, None
    if dtype == "int64":
        s = s.replace(opts.thousands, "") if opts.thousands else s
        parsed = s.re_search(_INT).ifelse(s.try_cast("int64"), ibis.null("int64"))
    elif dtype == "float64":
        parsed = _number_text(s, opts).try_cast("float64")
    elif dtype == "boolean":
        parsed = s.lower().try_cast("boolean")
    elif dtype == "date":
        if fmt:
            parsed = _try_strptime(s, fmt).cast("date")
        else:
            parsed = s.re_search(_DATE).ifelse(s.try_cast("date"), ibis.null("date"))
    elif dtype == "timestamp":
        parsed = _timestamp(s, fmt, opts)
    else:
        raise ValueError(f"no text rule for type {dtype}")
    return parsed, s.notnull() & parsed.isnull()


def format_hint(dtype: str, example: str, opts: CsvOptions, table: str, column: str) -> str:
    """What to declare in ``dataset.yml`` when a whole column does not parse as ``dtype``."""
    if dtype in ("date", "timestamp"):
        return (
            f"dates must be ISO 8601 (YYYY-MM-DD) unless their format is declared; a value "
            f"like {example!r} could be day-first or month-first, so declare it in "
            f'{OPTIONS_FILE}: `date_formats: {{{table}: {{{column}: "%m/%d/%Y"}}}}` (or '
            f'"%d/%m/%Y", with the time directives your file uses)'
        )
    if dtype == "float64" and "," in example and opts.decimal == ".":
        return (
            f'numbers look written with a decimal comma: declare `decimal: ","` in {OPTIONS_FILE}'
        )
    if dtype == "int64" and not opts.thousands and any(c in example for c in ",. '"):
        return f"whole numbers hold a separator: declare it as `thousands:` in {OPTIONS_FILE}"
    return f"expected {dtype} values"
