"""Open a dataset as validated Ibis tables, on DuckDB (default) or Spark.

``open_dataset`` reads every table of :mod:`helpers.data.schema` and checks it in two layers:

1. **Structure** (fatal): a required table or a column missing, or a column whose type cannot
   be read as the declared one. All such problems are collected and raised together as one
   :class:`DataValidationError` naming table, column and what was found.
2. **Rows** (set aside): a null where a value is required, a value below its minimum (a negative
   price), a value outside its allowed set, a date after today, a duplicate key, an orphan
   foreign key (checked against the parent's *kept* rows, so a set-aside order takes its lines
   with it), a pair of dates in the wrong order, a text value that does not parse as its type,
   a NaN or infinite float, a blank required text, a value beyond its plausibility bound
   (``schema.Column.below``: a discount of 3.0, a price of 1e300).
   Such rows are not dropped: they go to ``Dataset.quarantine[table]`` with a ``_reason``
   column, are counted in ``Dataset.quality`` (with a few example keys) and shown in every
   report's data-quality section. ``strict=True`` raises instead.

Why the row rules are Ibis expressions and not pandera checks: pandera 0.35's Ibis backend
validates a table and *reports* failure cases (collected into pandas), but it cannot split a
table into kept and set-aside rows inside the engine, which quarantine needs at 100M rows, and
it has no cross-table (foreign key) checks. Every rule here is therefore one boolean Ibis
expression, evaluated in a single pass per table on DuckDB or Spark. pandera is still the
outside reference: :func:`pandera_schema` builds an independent pandera schema from the same
declarations and the tests check that every kept table passes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.datatypes as idt
import pandas as pd

from helpers.config import DATA_DIR, resolve_data_dir
from helpers.data.csvread import (
    OPTIONS_FILE,
    SOURCE,
    CsvOptions,
    format_hint,
    load_options,
    parse_text,
    read_csv_file,
)
from helpers.data.files import TableLayoutError, is_url, table_files
from helpers.data.fingerprint import data_fingerprint, files_fingerprint
from helpers.data.schema import TABLES, Column, Table

REASON = "_reason"
EXAMPLES_PER_REASON = 5
CACHE_ENTRIES = 1000  # per-table validation results kept in data/.cache/validation (newest first)


class DataValidationError(ValueError):
    """The dataset cannot be used as it is; the message lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the dataset:\n{lines}")


# ----------------------------------------------------------------------------- reading


SPARK_REMOTE_ENV = "SPARK_REMOTE"


def spark_remote() -> str | None:
    """The Spark Connect URL in ``$SPARK_REMOTE`` (PySpark's own variable), or None."""
    return os.environ.get(SPARK_REMOTE_ENV) or None


def shown_remote(url: str) -> str:
    """A Spark Connect URL as a report may show it: ``sc://host:port``, without the
    ``/;token=...;user_id=...`` parameters that may carry credentials."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def spark_session(app_name: str = "helpers", master: str = "local[2]", remote: str | None = None):
    """A PySpark session: a Spark Connect client when ``remote`` (or ``$SPARK_REMOTE``) gives a
    ``sc://host:port`` URL, the way a cluster is reached; otherwise a local session for tests
    and single-machine runs (loopback only).

    The dataset folder is then read by the Spark server, so on a cluster it must be a path
    that the client and the cluster both see, such as a shared mount (object-store URLs such as
    ``s3a://...`` are not accepted as the folder). Or build any session yourself and pass it
    as ``spark=``.
    """
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ImportError(f"{SPARK_EXTRA_MISSING} ({exc})") from None

    remote = remote or spark_remote()
    if remote:
        return SparkSession.builder.remote(remote).appName(app_name).getOrCreate()
    session = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


DUCKDB_MEMORY_ENV = "HELPERS_DUCKDB_MEMORY_LIMIT"
DUCKDB_MEMORY_DEFAULT = "3GB"


def duckdb_config() -> dict[str, str]:
    """The in-process DuckDB's settings: ``memory_limit`` from ``$HELPERS_DUCKDB_MEMORY_LIMIT``
    (default 3GB; "none" leaves DuckDB's own default, 80 % of the machine's memory) and a
    ``temp_directory`` in the system's temp folder to spill to beyond it.

    Why 3GB: ``make reports`` runs two kernels at once, and DuckDB's default lets each take
    80 % of memory: the 100x funnel alone peaked at 10.4 GiB. Capped at 3GB it spills hash
    tables to disk and, measured at 100M events, ran in 52 s at 3.7 GiB instead of 75 s at
    10.4 GiB (benchmarks/RESULTS.md). Raise it for one big interactive query if you like.
    """
    import tempfile

    config = {"temp_directory": str(Path(tempfile.gettempdir()) / "helpers-duckdb")}
    limit = os.environ.get(DUCKDB_MEMORY_ENV, DUCKDB_MEMORY_DEFAULT).strip()
    if limit.lower() not in ("", "none"):
        config["memory_limit"] = limit
    return config


#: Without the project's spark extra: the project's install line, not ibis's own suggestion.
SPARK_EXTRA_MISSING = "engine='spark' needs the project's spark extra: pip install -e '.[spark]'"


def _connect(engine: str, spark=None):
    if engine == "duckdb":
        return ibis.duckdb.connect(**duckdb_config())
    if engine == "spark":
        try:
            backend = ibis.pyspark
        except ImportError as exc:  # ibis names its own extra; the missing module is the cause
            raise ImportError(f"{SPARK_EXTRA_MISSING} ({exc.__cause__ or exc})") from None
        return backend.connect(spark if spark is not None else spark_session())
    raise ValueError(f"engine must be 'duckdb' or 'spark', got {engine!r}")


def _engine_label(engine: str, con) -> str:
    """``engine`` as the data-quality section names it: "spark (Spark Connect at
    sc://host:port)" for a Connect session, so a reader sees where the numbers were computed."""
    if engine != "spark":
        return engine
    session = getattr(con, "_session", None)
    if not type(session).__module__.startswith("pyspark.sql.connect"):
        return engine  # a classic (local or cluster-mode) session
    endpoint = getattr(getattr(session.client, "_builder", None), "endpoint", None)  # host:port
    where = f"sc://{endpoint}" if endpoint else shown_remote(spark_remote() or "sc://")
    return f"spark (Spark Connect at {where})"


@dataclass
class _Source:
    """Where one table is read from: its format, exactly the files read, and (for Parquet) the
    rows their footers hold."""

    fmt: str
    files: list[str]
    rows: int | None = None


def _shown(path: str | Path) -> str:
    """A file as messages name it: ``orders/part-00000.parquet`` or ``orders.csv``."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}"


def _locate(root: Path, wanted: Mapping[str, Table], problems: list[str]) -> dict[str, _Source]:
    """The files of every wanted table (:func:`helpers.data.files.table_files`); a required
    table without files, or a table whose files cannot all be read, is a problem."""
    found = {}
    for name, spec in wanted.items():
        try:
            located = table_files(root, name)
        except TableLayoutError as e:
            problems.append(str(e))
            continue
        if located is not None:
            found[name] = _Source(*located)
        elif spec.required:
            where = f"{root}/{name}/*.parquet, {name}.parquet or {name}.csv"
            problems.append(f"table '{name}' is missing (looked for {where})")
    return found


def _inspect_parquet(name: str, spec: Table, source: _Source, problems: list[str]) -> None:
    """Read every Parquet footer (cheap): a 0-byte, truncated or non-Parquet file, or a part
    lacking a column its sibling parts have, is a problem naming table, file and column.
    Sets ``source.rows`` to the rows the footers hold."""
    import pyarrow.parquet as pq

    rows, names = 0, {}
    for f in source.files:
        if os.path.getsize(f) == 0:
            problems.append(f"table '{name}', file {_shown(f)}: the file is empty (0 bytes)")
            continue
        try:
            meta = pq.read_metadata(f)
        except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... on a bad footer
            problems.append(
                f"table '{name}', file {_shown(f)}: not a readable Parquet file (truncated, or "
                f"not Parquet at all: {e})"
            )
            continue
        rows += meta.num_rows
        names[f] = set(meta.schema.to_arrow_schema().names)
    for c in spec.columns:
        having = [f for f in names if c in names[f]]
        for f in names if having else ():
            if c not in names[f]:
                problems.append(
                    f"table '{name}', file {_shown(f)}: column '{c}' is missing (the table's "
                    f"other part {_shown(having[0])} has it)"
                )
    source.rows = rows


def _read_csv(con, engine: str, name: str, files: list[str], opts: CsvOptions, problems):
    """The CSV files of one table as one table of text columns (see :mod:`.csvread`)."""
    if engine != "duckdb":
        path = files[0] if len(files) == 1 else str(Path(files[0]).parent)
        return con.read_csv(
            path, table_name=f"raw_{name}", header=True, inferSchema=False,
            sep=opts.delimiter, encoding=opts.encoding,
        )  # fmt: skip
    parts = []
    for i, f in enumerate(files):
        try:
            parts.append(read_csv_file(con, name, Path(f), opts, i))
        except TableLayoutError as e:
            problems.append(str(e))
    if len(parts) < len(files):
        return None
    first = parts[0].columns
    for f, part in zip(files[1:], parts[1:], strict=True):
        for c in set(first) ^ set(part.columns):
            lacking = f if c in first else files[0]
            problems.append(f"table '{name}', file {_shown(lacking)}: column '{c}' is missing")
    if problems:
        return None
    return ibis.union(*[p.select(*first) for p in parts]) if len(parts) > 1 else parts[0]


def _read_tables(con, engine: str, sources: dict[str, _Source], wanted, opts, problems) -> dict:
    """Every located table as a raw Ibis table (Parquet as stored, CSV as text)."""
    raw = {}
    for name, source in sources.items():
        if source.fmt == "parquet":
            _inspect_parquet(name, wanted[name], source, problems)
            if problems:
                continue
            if engine == "duckdb":
                raw[name] = con.read_parquet(source.files, table_name=f"raw_{name}")
            else:
                files = source.files
                path = files[0] if len(files) == 1 else str(Path(files[0]).parent)
                raw[name] = con.read_parquet(path, table_name=f"raw_{name}")
        else:
            t = _read_csv(con, engine, name, source.files, opts, problems)
            if t is not None:
                raw[name] = t
    return raw


def _empty_table(name: str, source: _Source) -> str:
    files = ", ".join(_shown(f) for f in source.files)
    return f"table '{name}' has no rows: the file is empty ({files} hold(s) a header at most)"


# ----------------------------------------------------------------------------- structure


def ibis_type(dtype: str) -> idt.DataType:
    """The Ibis type of a declared column; timestamps are microsecond, as Parquet stores them."""
    return idt.Timestamp(scale=6) if dtype == "timestamp" else idt.dtype(dtype)


def _same_family(actual: idt.DataType, declared: idt.DataType) -> bool:
    if declared.is_integer():
        return actual.is_integer()
    if declared.is_floating():
        return actual.is_floating() or actual.is_decimal()
    if declared.is_timestamp():
        return actual.is_timestamp()
    return type(actual) is type(declared)


def _conform_column(t, name: str, column: Column, table: str, problems: list[str], opts=None):
    """Cast column ``name`` to its declared type; return (expression, unparseable-flag or None).

    Widening (int32 -> int64, int -> float, date <-> timestamp, anything -> string) is silent.
    Text read as a number/date/boolean (every CSV column, a text column of Parquet) is parsed
    by :func:`helpers.data.csvread.parse_text` with the dataset's options ``opts``; values that
    do not parse are flagged (set aside), not turned into nulls silently. Anything else is a
    type error.
    """
    declared = ibis_type(column.dtype)
    col = t[name]
    actual = col.type()
    if _same_family(actual, declared):
        return (col if actual == declared else col.cast(declared)), None
    if declared.is_string():
        return col.cast("string"), None
    if declared.is_floating() and actual.is_integer():
        return col.cast(declared), None
    if (declared.is_date() and actual.is_timestamp()) or (
        declared.is_timestamp() and actual.is_date()
    ):
        return col.cast(declared), None
    if actual.is_string() and (
        declared.is_numeric() or declared.is_temporal() or declared.is_boolean()
    ):
        opts = opts or CsvOptions()
        return parse_text(col, column.dtype, opts, opts.date_format(table, name))
    problems.append(f"table '{table}', column '{name}': type {actual} cannot be read as {declared}")
    return col, None


def _conform_table(name: str, spec: Table, t, opts: CsvOptions, problems: list[str]):
    """Table ``t`` with its declared columns in their declared types, the parse flags beside
    them as ``_unparsed_<column>`` (and a CSV's :data:`SOURCE`); None if a column is missing."""
    missing = [c for c in spec.columns if c not in t.columns]
    for c in missing:
        found = ", ".join(c for c in t.columns if c != SOURCE)
        problems.append(f"table '{name}', column '{c}' is missing (columns found: {found})")
    if missing:
        return None
    exprs, flags = {}, {}
    for c, column in spec.columns.items():
        exprs[c], flag = _conform_column(t, c, column, name, problems, opts)
        if flag is not None:
            flags[f"_unparsed_{c}"] = flag
    if SOURCE in t.columns:
        exprs[SOURCE] = t[SOURCE]
    return t.select(**exprs, **flags)


def _check_parsed_columns(name: str, spec: Table, raw, t, source, opts, problems) -> None:
    """One query over a table read from text (``raw``, conformed as ``t``): an empty table, or
    a column in which every value (or, from 10 values up, most) does not parse, is one problem
    saying what to declare, instead of every row set aside one by one."""
    flags = [c for c in t.columns if c.startswith("_unparsed_")]
    if not flags and source.fmt != "csv":
        return
    aggs = {"n": t.count()}
    for f in flags:
        c = f.removeprefix("_unparsed_")
        aggs[f"ok_{c}"] = t[c].count()
        aggs[f"bad_{c}"] = t[f].cast("int64").sum()
    counts = t.aggregate(**aggs).to_pandas().iloc[0]
    if counts["n"] == 0:
        if spec.required:
            problems.append(_empty_table(name, source))
        return
    for f in flags:
        c = f.removeprefix("_unparsed_")
        bad = int(counts[f"bad_{c}"] or 0)
        given = int(counts[f"ok_{c}"] or 0) + bad
        if bad and (bad == given or (given >= 10 and 2 * bad > given)):
            _, flag = _conform_column(raw, c, spec.columns[c], name, [], opts)
            cols = [raw[c].cast("string").name("v")]
            cols += [raw[SOURCE]] if SOURCE in raw.columns else []
            first = raw.filter(flag).select(*cols).limit(1).to_pandas().iloc[0]
            where = f" ({first[SOURCE]})" if SOURCE in raw.columns else ""
            hint = format_hint(spec.columns[c].dtype, str(first.v), opts, name, c)
            problems.append(
                f"table '{name}', column '{c}'{where}: {bad} of {given} values do not parse "
                f"as {spec.columns[c].dtype}, e.g. {str(first.v)!r}: {hint}"
            )


# ----------------------------------------------------------------------------- rows


@dataclass
class TableQuality:
    """What happened to one table on open: rows read, kept, set aside by reason, examples."""

    table: str
    rows_read: int
    set_aside: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows_set_aside(self) -> int:
        return sum(self.set_aside.values())

    @property
    def rows_kept(self) -> int:
        return self.rows_read - self.rows_set_aside


def _column_rules(name: str, column: Column, col, today: dt.date) -> list:
    """The rules of one column as (reason, boolean expression that is True for a bad row).

    NaN and infinity are tested inside the rule (``isnan() | isinf()``), never by a filter:
    ``NaN < 0`` is false and ``isnull()`` is false for NaN, so without it a NaN price passes
    every other rule (and a ``WHERE isnan(x)`` over Parquet may be pruned by statistics).
    """
    rules = []
    if not column.nullable:
        rules.append((f"{name}: missing value", col.isnull()))
    if column.dtype == "float64":
        rules.append((f"{name}: not a number (NaN or infinite)", col.isnan() | col.isinf()))
    if column.dtype == "string" and not column.nullable:
        rules.append((f"{name}: blank text", col.strip() == ""))
    if column.min_value is not None:
        rules.append((f"{name}: below {column.min_value:g}", col < column.min_value))
    if column.below is not None:
        rules.append((f"{name}: {column.below:g} or more", col >= column.below))
    if column.allowed is not None:
        allowed = ", ".join(column.allowed)
        rules.append((f"{name}: not one of {allowed}", ~col.isin(column.allowed)))
    if column.not_after_today:
        if column.dtype == "date":
            bad = col > ibis.date(today)
        else:
            bad = col >= ibis.timestamp(today) + ibis.interval(days=1)
        rules.append((f"{name}: after today ({today.isoformat()})", bad))
    return rules


def _row_rules(spec: Table, t, unparseable: dict, today: dt.date, parents: Mapping) -> list:
    """Every row rule of ``spec`` as (reason, boolean expression that is True for a bad row)."""
    rules = []
    for name, flag in unparseable.items():
        rules.append((f"{name}: value does not parse as {spec.columns[name].dtype}", flag))
    for name, column in spec.columns.items():
        rules += _column_rules(name, column, t[name], today)
    for pair in spec.ordered:
        rules.append((f"{pair.later}: before {pair.earlier}", t[pair.later] < t[pair.earlier]))
    for fk in spec.foreign_keys:
        parent = parents.get(fk.ref_table)
        if parent is None:
            continue
        (child_col,), (parent_col,) = fk.columns, fk.ref_columns
        orphan = t[child_col].notnull() & ~t[child_col].isin(parent[parent_col])
        rules.append((f"{child_col}: no matching {fk.ref_table}.{parent_col}", orphan))
    key_count = t.count().over(group_by=[t[k] for k in spec.key])
    rules.append((f"duplicate key ({', '.join(spec.key)})", key_count > 1))
    return rules


def _flag(t, rules):
    """Add ``_reason``: the first rule a row breaks (null when it breaks none)."""
    if not rules:
        return t.mutate(**{REASON: ibis.null(str)})
    cases = [(bad.fill_null(False), reason) for reason, bad in rules]
    return t.mutate(**{REASON: ibis.cases(*cases, else_=ibis.null(str))})


def _examples(flagged, key: tuple[str, ...], reasons: list[str]) -> dict[str, list[str]]:
    """A few keys of the rows set aside for each reason, with the file and line of a row read
    from a CSV ("order_id=2, line_no=1 (order_lines/part-00000.csv line 3)")."""
    out = {}
    source = [SOURCE] if SOURCE in flagged.columns else []
    for reason in reasons:
        rows = (
            flagged.filter(flagged[REASON] == reason)
            .select(*key, *source)
            .order_by(*key, *source)
            .limit(EXAMPLES_PER_REASON)
            .to_pandas()
        )
        out[reason] = [
            ", ".join(f"{k}={row[k]}" for k in key) + (f" ({row[SOURCE]})" if source else "")
            for row in rows.to_dict("records")
        ]
    return out


# ----------------------------------------------------------------------------- dataset


@dataclass
class Dataset:
    """Validated tables of one dataset, plus what was set aside and why.

    ``ds.orders`` or ``ds["orders"]`` is the kept rows of ``orders`` as an Ibis table;
    ``ds.quarantine["orders"]`` the set-aside rows with their ``_reason``; ``ds.quality`` one
    row per (table, reason) for the report's data-quality section.
    """

    path: str
    engine: str
    con: object
    tables: dict
    quarantine: dict
    table_quality: dict[str, TableQuality]
    fingerprint: str
    manifest: dict
    #: Sentences for the data-quality section about tables made rather than read (e.g.
    #: accounts derived from the ids seen, :func:`helpers.data.tables.derive_accounts`).
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str):
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(
                f"table '{name}' is not in the dataset at {self.path} "
                f"(tables: {', '.join(self.tables)})"
            ) from None

    def __getattr__(self, name: str):
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    @property
    def quality(self) -> pd.DataFrame:
        """One row per table and reason: rows read, rows kept, rows set aside, examples."""
        rows = []
        for q in self.table_quality.values():
            base = {"table": q.table, "rows_read": q.rows_read, "rows_kept": q.rows_kept}
            if not q.set_aside:
                rows.append({**base, "reason": "", "rows_set_aside": 0, "examples": ""})
            for reason, n in q.set_aside.items():
                examples = "; ".join(q.examples.get(reason, []))
                rows.append({**base, "reason": reason, "rows_set_aside": n, "examples": examples})
        return pd.DataFrame(
            rows,
            columns=["table", "rows_read", "rows_kept", "reason", "rows_set_aside", "examples"],
        )

    @property
    def rows_read(self) -> int:
        return sum(q.rows_read for q in self.table_quality.values())

    @property
    def rows_set_aside(self) -> int:
        return sum(q.rows_set_aside for q in self.table_quality.values())

    def period(self, table: str = "orders") -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last value of ``table``'s time column among kept rows."""
        column = TABLES[table].time_column
        t = self[table]
        lo, hi = t.aggregate(lo=t[column].min(), hi=t[column].max()).to_pandas().iloc[0]
        return pd.Timestamp(lo), pd.Timestamp(hi)


def _closure(name: str, present: Mapping[str, Table]) -> list[str]:
    """``name`` and every foreign-key ancestor of it among ``present`` (the tables opened):
    the tables whose rows decide which rows of ``name`` are kept."""
    seen: list[str] = []
    todo = [name]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.append(n)
        todo += [fk.ref_table for fk in present[n].foreign_keys if fk.ref_table in present]
    return sorted(seen)


@dataclass
class _CacheSlot:
    """Where one table's row-rule counts are kept (``path``), and what they depend on
    (``closure``: the fingerprint of every table of :func:`_closure`)."""

    path: Path
    closure: dict[str, str]


def _validation_cache(
    sources: Mapping[str, _Source], options: bytes, today: dt.date, wanted: Mapping[str, Table]
) -> dict[str, _CacheSlot]:
    """Where the row-rule counts of each table are kept between opens: one file per table.

    The file is keyed on exactly the files read of that table (path, size, mtime_ns and a
    content sample of each, :func:`helpers.data.fingerprint.files_fingerprint`), the dataset's
    ``dataset.yml``, the rules (the modules that read and validate) and the date ("in the
    future" moves with it); each entry in it also names the fingerprints of the table's
    foreign-key ancestors it was checked against (a child's kept rows depend on its parents'
    kept rows). Adding, removing, replacing or touching a part of the table or of an ancestor
    validates afresh. An entry is used for the same ancestors, or (when it set no row aside)
    for any subset of them: fewer parents only drop rules, so a clean table stays clean.
    So the report runner's open of every table (:func:`helpers.reports.build.prevalidate`)
    serves each report's open of its own tables; a second open runs no query at all.
    """
    here = Path(__file__).resolve().parent
    code = b"".join(
        (here / f).read_bytes() for f in ("dataset.py", "schema.py", "csvread.py", "files.py")
    )
    prints = {n: f"{s.fmt}|{files_fingerprint(s.files)}" for n, s in sources.items()}
    present = {n: wanted[n] for n in sources}
    slots = {}
    for name in sources:
        own = f"{name}|{prints[name]}|{today}".encode()
        key = hashlib.sha256(code + options + own).hexdigest()[:16]
        closure = {n: prints[n] for n in _closure(name, present)}
        slots[name] = _CacheSlot(DATA_DIR / ".cache" / "validation" / f"{key}.json", closure)
    return slots


CACHE_ENTRIES_PER_TABLE = 8  # contexts (sets of ancestors) kept per table file


def _cache_entries(path: Path) -> list[dict]:
    try:
        entries = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):  # absent or unreadable
        return []
    return entries if isinstance(entries, list) else []


def _usable(entry: dict, closure: dict[str, str]) -> bool:
    """The same ancestors; or a superset of them with nothing set aside."""
    have = entry.get("closure") or {}
    if have == closure:
        return True
    clean = not (entry.get("quality") or {}).get("set_aside", True)
    return clean and all(have.get(n) == p for n, p in closure.items())


def _read_cache(slots: Mapping[str, _CacheSlot] | None) -> dict[str, TableQuality]:
    """The cached counts of every table that has a usable entry (:func:`_usable`)."""
    out = {}
    for name, slot in (slots or {}).items():
        for entry in _cache_entries(slot.path):
            try:
                if _usable(entry, slot.closure) and entry["quality"]["table"] == name:
                    out[name] = TableQuality(**entry["quality"])
                    break
            except (TypeError, KeyError, AttributeError):  # a stale format
                continue
    return out


def _write_cache(
    slots: Mapping[str, _CacheSlot] | None,
    quality: dict[str, TableQuality],
    cached: Mapping[str, TableQuality],
) -> None:
    """Keep the counts of the tables validated now for the next open; a cache folder that
    cannot be written (read-only ``data/.cache``, a full disk) is a warning: the cache is
    optional."""
    todo = {n: slot for n, slot in (slots or {}).items() if n in quality and n not in cached}
    try:
        for name, slot in todo.items():
            q = quality[name]
            record = {
                "table": q.table,
                "rows_read": q.rows_read,
                "set_aside": q.set_aside,
                "examples": q.examples,
            }
            kept = [e for e in _cache_entries(slot.path) if e.get("closure") != slot.closure]
            entries = [{"closure": slot.closure, "quality": record}, *kept]
            tmp = slot.path.with_suffix(f".{os.getpid()}.tmp")
            slot.path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(entries[:CACHE_ENTRIES_PER_TABLE], ensure_ascii=False)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, slot.path)
        if todo:
            folder = next(iter(todo.values())).path.parent
            old = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
            for stale in old[CACHE_ENTRIES:]:
                stale.unlink(missing_ok=True)
    except OSError as e:
        warnings.warn(
            f"validation cache not written ({e}); the dataset is validated afresh on every open",
            RuntimeWarning,
            stacklevel=3,
        )


def _order(tables: Mapping[str, Table]) -> list[str]:
    """Tables with every foreign-key parent before its children."""
    done: list[str] = []

    def visit(name: str, stack: tuple = ()):
        if name in done or name in stack:
            return
        for fk in tables[name].foreign_keys:
            if fk.ref_table in tables:
                visit(fk.ref_table, stack + (name,))
        done.append(name)

    for name in tables:
        visit(name)
    return done


def _open_url(url: str, wanted: Mapping[str, Table], problems: list[str]):
    """A connection whose backend holds the tables by name: (connection, raw tables)."""
    con = ibis.connect(url)
    available = set(con.list_tables())
    for name, spec in wanted.items():
        if name not in available and spec.required:
            problems.append(f"table '{name}' is missing (looked for {url})")
    return con, {name: con.table(name) for name in wanted if name in available}


def _open_folder(root: Path, engine: str, spark, wanted, problems: list[str]):
    """A dataset folder read on ``engine``: (connection, sources, raw tables, CSV options,
    the bytes of its ``dataset.yml``)."""
    if not root.is_dir():
        raise DataValidationError(
            [f"dataset folder {root} does not exist (run `make data` for the sample)"]
        )
    try:
        opts = load_options(root)
    except TableLayoutError as e:
        raise DataValidationError([str(e)]) from None
    options_file = root / OPTIONS_FILE
    options = options_file.read_bytes() if options_file.is_file() else b""
    sources = _locate(root, wanted, problems)
    con = _connect(engine, spark)
    raw = _read_tables(con, engine, sources, wanted, opts, problems)
    return con, sources, raw, opts, options


def _unreadable(name: str, source: _Source | None, error: Exception) -> str:
    files = ", ".join(_shown(f) for f in source.files) if source else name
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"table '{name}': {files} could not be read: {first}"


def _conform_tables(raw, wanted, sources, opts, problems: list[str]) -> dict:
    """Every raw table in its declared types (:func:`_conform_table`); a required table
    without rows, or a text column that does not parse at all, is a problem."""
    import duckdb

    conformed = {}
    for name, t in raw.items():
        before, source = len(problems), sources.get(name)
        c = _conform_table(name, wanted[name], t, opts, problems)
        if c is None or len(problems) > before:
            continue
        if source is not None and source.rows == 0 and wanted[name].required:
            problems.append(_empty_table(name, source))
            continue
        if source is not None:
            try:
                _check_parsed_columns(name, wanted[name], t, c, source, opts, problems)
            except duckdb.Error as e:
                problems.append(_unreadable(name, source, e))
        conformed[name] = c
    return conformed


def _count_reasons(name: str, flagged, source: _Source | None) -> TableQuality:
    """Rows read and rows set aside by reason: one aggregation over the flagged table."""
    import duckdb

    try:
        counts = flagged.group_by(REASON).aggregate(n=flagged.count()).to_pandas()
    except duckdb.Error as e:  # a part DuckDB cannot read past its footer
        raise DataValidationError([_unreadable(name, source, e)]) from None
    bad = counts[counts[REASON].notna()].sort_values("n", ascending=False)
    set_aside = {str(r): int(n) for r, n in zip(bad[REASON], bad["n"], strict=True)}
    return TableQuality(name, int(counts["n"].sum()), set_aside)


def _validate_table(name, spec, t, today, parents, cached, source):
    """(kept rows, set-aside rows with ``_reason``, :class:`TableQuality`) of one table.

    A cached count is used only when its rows read equal the rows the Parquet footers hold
    now; a table with nothing set aside is kept as read (no filter, no copy)."""
    flags = {c.removeprefix("_unparsed_"): t[c] for c in t.columns if c.startswith("_unparsed_")}
    internal = [f"_unparsed_{c}" for c in flags]
    extra = [SOURCE] if SOURCE in t.columns else []
    flagged = _flag(t, _row_rules(spec, t, flags, today, parents))
    q = cached
    if q is None or (source is not None and source.rows not in (None, q.rows_read)):
        q = _count_reasons(name, flagged, source)
    if not q.set_aside:
        return t.drop(*internal, *extra), flagged.drop(*internal).limit(0), q
    flagged = materialise(flagged.drop(*internal))
    kept = flagged.filter(flagged[REASON].isnull()).drop(REASON, *extra)
    if not q.examples:
        q.examples = _examples(flagged, spec.key, list(q.set_aside))
    return kept, flagged.filter(flagged[REASON].notnull()), q


def materialise(expr):
    """``expr`` computed once in its engine and kept there (a DuckDB temp table, a cached
    Spark DataFrame), for an intermediate result that several queries read.

    Ibis's ``Table.cache()`` does this, but on Spark Connect its PySpark backend asserts
    ``DataFrame.is_cached``, which a Connect DataFrame does not report (the cache lives on the
    server), so every report that caches failed through Spark Connect. There the DataFrame is
    cached through the session and registered as a temporary view instead."""
    backend = expr._find_backend(use_default=True)
    session = getattr(backend, "_session", None)
    if session is None or not type(session).__module__.startswith("pyspark.sql.connect"):
        return expr.cache()
    name = ibis.util.gen_name("materialised")
    session.sql(str(backend.compile(expr))).cache().createOrReplaceTempView(name)
    return backend.table(name)


def _validate(conformed, wanted, today, cached, sources):
    """Row rules over every table, parents first (children see their parents' kept rows)."""
    kept, quarantine, quality = {}, {}, {}
    for name in _order({n: wanted[n] for n in conformed}):
        kept[name], quarantine[name], quality[name] = _validate_table(
            name, wanted[name], conformed[name], today, kept, cached.get(name), sources.get(name)
        )
    return kept, quarantine, quality


def _raise_set_aside(quality: Mapping[str, TableQuality]) -> None:
    """``strict=True``: any row set aside is an error naming table, reason, count, examples."""
    problems = [
        f"table '{q.table}', {reason}: {n} row(s), e.g. {'; '.join(q.examples[reason])}"
        for q in quality.values()
        for reason, n in q.set_aside.items()
    ]
    if problems:
        raise DataValidationError(problems)


def open_dataset(
    path_or_url: str | os.PathLike | None = None,
    engine: str = "duckdb",
    *,
    strict: bool = False,
    today: dt.date | None = None,
    spark=None,
    tables: list[str] | None = None,
) -> Dataset:
    """Open the dataset at ``path_or_url`` as validated Ibis tables.

    ``path_or_url`` is a folder of Parquet/CSV files (``None``: ``$HELPERS_DATA_DIR`` or
    ``data/sample``), or an Ibis connection URL whose backend already holds the tables by name
    (``duckdb:///warehouse.db``, ``trino://...``; see data/README.md). ``engine`` is ``duckdb``
    (in-process) or ``spark`` (a local session, or the one given as ``spark=``). ``today`` is
    the date after which a date counts as "in the future" (default: the real today). With
    ``strict=True`` any set-aside row raises :class:`DataValidationError` instead.

    Steps: locate and read the files (:func:`_open_folder`), conform every column to its
    declared type (:func:`_conform_tables`), apply the row rules (:func:`_validate`, cached by
    :func:`_validation_cache`); structure problems of every table are raised together.
    """
    today = today or dt.date.today()
    url = str(path_or_url) if path_or_url is not None else ""
    root = None if is_url(url) else resolve_data_dir(url.removeprefix("file://") or None)
    wanted = {name: TABLES[name] for name in (tables or TABLES)}
    problems: list[str] = []
    if root is None:
        con, raw = _open_url(url, wanted, problems)
        sources, opts, options = {}, CsvOptions(), b""
    else:
        con, sources, raw, opts, options = _open_folder(root, engine, spark, wanted, problems)
    conformed = _conform_tables(raw, wanted, sources, opts, problems)
    if problems:
        raise DataValidationError(problems)

    cache_files = _validation_cache(sources, options, today, wanted) if root is not None else None
    cached = _read_cache(cache_files)
    kept, quarantine, quality = _validate(conformed, wanted, today, cached, sources)
    _write_cache(cache_files, quality, cached)
    if strict:
        _raise_set_aside(quality)

    manifest = {}
    if root is not None and (root / "manifest.json").is_file():
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return Dataset(
        path=url if root is None else str(root),
        engine=engine if root is None else _engine_label(engine, con),
        con=con,
        tables={n: kept[n] for n in wanted if n in kept},
        quarantine=quarantine,
        table_quality={n: quality[n] for n in wanted if n in quality},
        fingerprint=hashlib.sha256(url.encode()).hexdigest()[:12]
        if root is None
        else data_fingerprint(root),
        manifest=manifest,
    )


def pandera_schema(table: str):
    """An independent pandera (Ibis backend) schema for ``table``, built from its declaration.

    Used by the tests as an outside check that every kept table satisfies the column-level
    rules; it does not split rows or check foreign keys (see the module docstring).
    """
    import pandera.ibis as pa

    spec = TABLES[table]
    columns = {}
    for name, column in spec.columns.items():
        checks = []
        if column.min_value is not None:
            checks.append(pa.Check.ge(column.min_value))
        if column.allowed is not None:
            checks.append(pa.Check.isin(list(column.allowed)))
        columns[name] = pa.Column(ibis_type(column.dtype), checks=checks, nullable=column.nullable)
    return pa.DataFrameSchema(columns, name=table, unique=list(spec.key))
