"""Open a dataset as validated Ibis tables, on DuckDB (default) or Spark.

``open_dataset`` reads every table of :mod:`helpers.data.schema` and checks it in two layers:

1. **Structure** (fatal): a required table or a column missing, or a column whose type cannot
   be read as the declared one. All such problems are collected and raised together as one
   :class:`DataValidationError` naming table, column and what was found.
2. **Rows** (set aside): a null where a value is required, a value below its minimum (a negative
   price), a value outside its allowed set, a date after today, a duplicate key, an orphan
   foreign key (checked against the parent's *kept* rows, so a set-aside order takes its lines
   with it), a pair of dates in the wrong order, a text value that does not parse as its type.
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.datatypes as idt
import pandas as pd

from helpers.config import DATA_DIR, resolve_data_dir
from helpers.data.files import table_files
from helpers.data.fingerprint import data_fingerprint
from helpers.data.schema import TABLES, Column, Table

REASON = "_reason"
EXAMPLES_PER_REASON = 5
CACHE_ENTRIES = 200  # validation results kept in data/.cache/validation (newest first)


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
    from pyspark.sql import SparkSession

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


def _connect(engine: str, spark=None):
    if engine == "duckdb":
        return ibis.duckdb.connect(**duckdb_config())
    if engine == "spark":
        return ibis.pyspark.connect(spark if spark is not None else spark_session())
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


def _read(con, engine: str, name: str, fmt: str, files: list[str]):
    table_name = f"raw_{name}"
    if engine == "duckdb":
        if fmt == "parquet":
            return con.read_parquet(files, table_name=table_name)
        return con.read_csv(files, table_name=table_name)
    path = files[0] if len(files) == 1 else str(Path(files[0]).parent)
    if fmt == "parquet":
        return con.read_parquet(path, table_name=table_name)
    return con.read_csv(path, table_name=table_name, header=True, inferSchema=True)


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


def _conform_column(t, name: str, column: Column, table: str, problems: list[str]):
    """Cast column ``name`` to its declared type; return (expression, unparseable-flag or None).

    Widening (int32 -> int64, int -> float, date <-> timestamp, anything -> string) is silent.
    Text read as a number/date/boolean is parsed with ``try_cast``; values that do not parse
    are flagged (set aside), not turned into nulls silently. Anything else is a type error.
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
        parsed = col.try_cast(declared)
        return parsed, col.notnull() & parsed.isnull()
    problems.append(f"table '{table}', column '{name}': type {actual} cannot be read as {declared}")
    return col, None


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


def _row_rules(spec: Table, t, unparseable: dict, today: dt.date, parents: Mapping) -> list:
    """Every row rule of ``spec`` as (reason, boolean expression that is True for a bad row)."""
    rules = []
    for name, flag in unparseable.items():
        rules.append((f"{name}: value does not parse as {spec.columns[name].dtype}", flag))
    for name, column in spec.columns.items():
        col = t[name]
        if not column.nullable:
            rules.append((f"{name}: missing value", col.isnull()))
        if column.min_value is not None:
            rules.append((f"{name}: below {column.min_value:g}", col < column.min_value))
        if column.allowed is not None:
            allowed = ", ".join(column.allowed)
            rules.append((f"{name}: not one of {allowed}", ~col.isin(column.allowed)))
        if column.not_after_today:
            if column.dtype == "date":
                bad = col > ibis.date(today)
            else:
                bad = col >= ibis.timestamp(today) + ibis.interval(days=1)
            rules.append((f"{name}: after today ({today.isoformat()})", bad))
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
    out = {}
    for reason in reasons:
        rows = (
            flagged.filter(flagged[REASON] == reason)
            .select(*key)
            .order_by(*key)
            .limit(EXAMPLES_PER_REASON)
            .to_pandas()
        )
        out[reason] = [", ".join(f"{k}={row[k]}" for k in key) for row in rows.to_dict("records")]
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


def _validation_cache(root: Path, tables: list[str], today: dt.date) -> Path:
    """Where the row-rule counts of this dataset are kept between opens.

    The rules are re-evaluated when the data (its fingerprint), the rules (this module and
    the schema), the tables opened or the date ("in the future" moves with it) change. Opening
    a clean dataset a second time then runs no query at all.
    """
    here = Path(__file__).resolve().parent
    code = b"".join((here / f).read_bytes() for f in ("dataset.py", "schema.py"))
    key = hashlib.sha256(
        code + f"{data_fingerprint(root)}|{root}|{sorted(tables)}|{today}".encode()
    ).hexdigest()[:16]
    return DATA_DIR / ".cache" / "validation" / f"{key}.json"


def _read_cache(path: Path | None) -> dict[str, TableQuality]:
    if path is None or not path.is_file():
        return {}
    try:
        return {q["table"]: TableQuality(**q) for q in json.loads(path.read_text("utf-8"))}
    except (ValueError, TypeError, KeyError):
        return {}


def _write_cache(path: Path | None, quality: dict[str, TableQuality]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    records = [
        {
            "table": q.table,
            "rows_read": q.rows_read,
            "set_aside": q.set_aside,
            "examples": q.examples,
        }
        for q in quality.values()
    ]
    tmp.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    old = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in old[CACHE_ENTRIES:]:
        stale.unlink(missing_ok=True)


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
    """
    today = today or dt.date.today()
    url = str(path_or_url) if path_or_url is not None else ""
    is_url = "://" in url and not url.startswith("file://")
    root = None if is_url else resolve_data_dir(url.removeprefix("file://") or None)
    wanted = {name: TABLES[name] for name in (tables or TABLES)}

    if is_url:
        con = ibis.connect(url)
        available = set(con.list_tables())
        raw = {name: con.table(name) for name in wanted if name in available}
    else:
        if not root.is_dir():
            raise DataValidationError(
                [f"dataset folder {root} does not exist (run `make data` for the sample)"]
            )
        con = _connect(engine, spark)
        raw = {}
        for name in wanted:
            found = table_files(root, name)
            if found is not None:
                raw[name] = _read(con, engine, name, *found)

    problems: list[str] = []
    for name, spec in wanted.items():
        if name not in raw and spec.required:
            where = url if is_url else f"{root}/{name}/*.parquet, {name}.parquet or {name}.csv"
            problems.append(f"table '{name}' is missing (looked for {where})")

    conformed, unparseable = {}, {}
    for name, t in raw.items():
        spec = wanted[name]
        missing = [c for c in spec.columns if c not in t.columns]
        for c in missing:
            problems.append(
                f"table '{name}', column '{c}' is missing (columns found: {', '.join(t.columns)})"
            )
        if missing:
            continue
        exprs, flags = {}, {}
        for c, column in spec.columns.items():
            exprs[c], flag = _conform_column(t, c, column, name, problems)
            if flag is not None:
                flags[c] = flag
        # The parse flags ride beside the values so the row rules can see them.
        conformed[name] = t.select(**exprs, **{f"_unparsed_{c}": f for c, f in flags.items()})
        unparseable[name] = list(flags)
    if problems:
        raise DataValidationError(problems)

    cache_file = _validation_cache(root, list(conformed), today) if root is not None else None
    cached = _read_cache(cache_file)
    kept, quarantine, quality = {}, {}, {}
    for name in _order({n: wanted[n] for n in conformed}):
        spec, t = wanted[name], conformed[name]
        flags = {c: t[f"_unparsed_{c}"] for c in unparseable[name]}
        flagged = _flag(t, _row_rules(spec, t, flags, today, kept))
        internal = [c for c in flagged.columns if c.startswith("_unparsed_")]
        if name in cached:
            q = cached[name]
        else:
            counts = flagged.group_by(REASON).aggregate(n=flagged.count()).to_pandas()
            bad = counts[counts[REASON].notna()].sort_values("n", ascending=False)
            set_aside = {str(r): int(n) for r, n in zip(bad[REASON], bad["n"], strict=True)}
            q = TableQuality(name, int(counts["n"].sum()), set_aside)
        if q.set_aside:
            flagged = flagged.drop(*internal).cache()
            kept[name] = flagged.filter(flagged[REASON].isnull()).drop(REASON)
            quarantine[name] = flagged.filter(flagged[REASON].notnull())
            if not q.examples:
                q.examples = _examples(flagged, spec.key, list(q.set_aside))
        else:
            kept[name] = t.drop(*internal) if internal else t
            quarantine[name] = flagged.drop(*internal).limit(0)
        quality[name] = q
    _write_cache(cache_file, quality)

    if strict:
        strict_problems = [
            f"table '{q.table}', {reason}: {n} row(s), e.g. {'; '.join(q.examples[reason])}"
            for q in quality.values()
            for reason, n in q.set_aside.items()
        ]
        if strict_problems:
            raise DataValidationError(strict_problems)

    manifest = {}
    if root is not None and (root / "manifest.json").is_file():
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return Dataset(
        path=url if is_url else str(root),
        engine=_engine_label(engine, con) if not is_url else engine,
        con=con,
        tables={n: kept[n] for n in wanted if n in kept},
        quarantine=quarantine,
        table_quality={n: quality[n] for n in wanted if n in quality},
        fingerprint=data_fingerprint(root)
        if root is not None
        else hashlib.sha256(url.encode()).hexdigest()[:12],
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
