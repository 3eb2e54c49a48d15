"""Issue 18, the data layer: bad input never becomes a wrong number.

Each class of bad input is either a clear :class:`DataValidationError` naming the table, the
file and the column, or its rows are set aside with a reason and counted, so that rows read =
rows kept + rows set aside. The bad inputs are built in ``tmp_path`` from the hand-made tables
of ``tests/tiny.py``.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tiny import tiny_tables, write_tables

import helpers.data.dataset as dataset
from helpers.data import DataValidationError, open_dataset
from helpers.data.files import TableLayoutError, has_table, table_files
from helpers.data.fingerprint import data_fingerprint
from helpers.data.schema import TABLES

TODAY = dt.date(2026, 11, 25)


@pytest.fixture(autouse=True)
def _own_validation_cache(tmp_path, monkeypatch):
    """Each test keeps its validation cache in its own folder (a cold cache, no cross-talk)."""
    monkeypatch.setattr(dataset, "DATA_DIR", tmp_path / "cache-home")


def _reasons(ds, table):
    q = ds.quality
    q = q[(q.table == table) & (q.rows_set_aside > 0)]
    return dict(zip(q.reason, q.rows_set_aside, strict=True))


def _balanced(ds, table, rows):
    """Rows read = kept + set aside, and the count the quality section shows is the truth."""
    kept = ds[table].count().execute()
    aside = ds.quarantine[table].count().execute()
    assert ds.table_quality[table].rows_read == rows == kept + aside
    return kept, aside


def _write_arrow(df: pd.DataFrame, path, **float_columns):
    """``df`` as Parquet with the given float columns written as they are (NaN stays NaN: a
    pandas write would turn it into null)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    for name, values in float_columns.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pa.array(values, type=pa.float64(), from_pandas=False))
    pq.write_table(table, path)


def _problem(err) -> str:
    return "\n".join(err.value.problems)


# ----------------------------------------------------------------------------- NaN, inf, bounds


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_price_in_parquet_is_set_aside(tmp_path, bad):
    root = write_tables(tiny_tables(), tmp_path / "ds")
    lines = tiny_tables()["order_lines"]
    _write_arrow(lines, root / "order_lines" / "part-00000.parquet", unit_price=[100.0, bad])
    ds = open_dataset(root, today=TODAY)
    ((reason, n),) = _reasons(ds, "order_lines").items()
    assert reason.startswith("unit_price: ") and n == 1
    assert ds.order_lines.count().to_pandas() == 1
    assert _balanced(ds, "order_lines", 2) == (1, 1)
    revenue = ds.order_lines.aggregate(r=(ds.order_lines.unit_price).sum()).execute().r[0]
    assert revenue == 100.0  # the kept rows hold no NaN to poison a sum


def test_nan_and_inf_text_in_csv_are_set_aside(tmp_path):
    root = write_tables(tiny_tables(), tmp_path / "ds", fmt="csv")
    csv = root / "order_lines" / "part-00000.csv"
    csv.write_text(csv.read_text().replace(",100.0,", ",NaN,").replace(",12.0,", ",inf,"))
    ds = open_dataset(root, today=TODAY)
    reasons = _reasons(ds, "order_lines")
    assert reasons == {
        "unit_price: not a number (NaN or infinite)": 1,
        "unit_cost: not a number (NaN or infinite)": 1,
    }
    assert _balanced(ds, "order_lines", 2) == (0, 2)


def test_percent_typed_as_discount_is_set_aside(tmp_path):
    tables = tiny_tables()
    tables["order_lines"].loc[0, "discount"] = 3.0  # "3 %" typed where 0.03 belongs
    ds = open_dataset(write_tables(tables, tmp_path / "ds"), today=TODAY)
    assert _reasons(ds, "order_lines") == {"discount: 1 or more": 1}
    q = ds.quality.set_index(["table", "reason"]).loc[("order_lines", "discount: 1 or more")]
    assert q.examples == "order_id=1, line_no=1"
    assert _balanced(ds, "order_lines", 2) == (1, 1)


def test_implausible_price_and_quantity_are_set_aside(tmp_path):
    tables = tiny_tables()
    tables["order_lines"].loc[0, "unit_price"] = 1e300
    tables["order_lines"].loc[1, "quantity"] = 2**62
    tables["marketing_spend"].loc[0, "spend"] = 1e13
    ds = open_dataset(write_tables(tables, tmp_path / "ds"), today=TODAY)
    assert _reasons(ds, "order_lines") == {
        "unit_price: 1e+12 or more": 1,
        "quantity: 1e+09 or more": 1,
    }
    assert _reasons(ds, "marketing_spend") == {"spend: 1e+12 or more": 1}
    assert _balanced(ds, "order_lines", 2) == (0, 2)


def test_blank_required_text_is_set_aside_and_nullable_text_is_not(tmp_path):
    tables = tiny_tables()
    tables["accounts"].loc[1, "company_name"] = "   "
    tables["orders"].loc[0, "warehouse_id"] = ""
    tables["contacts"].loc[0, "phone"] = " "  # nullable: blank is allowed
    ds = open_dataset(write_tables(tables, tmp_path / "ds"), today=TODAY)
    assert _reasons(ds, "accounts") == {"company_name: blank text": 1}
    assert _reasons(ds, "orders")["warehouse_id: blank text"] == 1
    assert not any("phone" in reason for reason in _reasons(ds, "contacts"))
    _balanced(ds, "accounts", 2)


# ----------------------------------------------------------------------------- the cache


def test_hidden_files_are_ignored_by_reader_and_fingerprint_alike(tmp_path):
    root = write_tables(tiny_tables(), tmp_path / "ds")
    before = data_fingerprint(root)
    future = tiny_tables()["orders"].assign(order_id=[40, 41], order_ts=pd.Timestamp("2031-01-01"))
    for hidden in (".part-00001.parquet", "_part-00002.parquet", "_SUCCESS"):
        future.to_parquet(root / "orders" / hidden, index=False) if hidden.endswith("t") else (
            root / "orders" / hidden
        ).write_text("")
    assert data_fingerprint(root) == before
    assert table_files(root, "orders")[1] == [str(root / "orders" / "part-00000.parquet")]
    ds = open_dataset(root, today=TODAY)
    assert ds.table_quality["orders"].rows_read == 2 and ds.rows_set_aside == 0


def test_added_part_is_validated_not_kept_from_the_cache(tmp_path):
    root = write_tables(tiny_tables(), tmp_path / "ds")
    assert open_dataset(root, today=TODAY).rows_set_aside == 0  # cached: nothing set aside
    future = tiny_tables()["orders"].assign(order_id=[40, 41], order_ts=pd.Timestamp("2031-01-01"))
    future["promised_delivery"] = pd.Timestamp("2031-01-05")
    future.to_parquet(root / "orders" / "part-00001.parquet", index=False)
    ds = open_dataset(root, today=TODAY)
    assert _reasons(ds, "orders") == {"order_ts: after today (2026-11-25)": 2}
    assert _balanced(ds, "orders", 4) == (2, 2)


def test_replaced_part_with_same_size_and_mtime_is_validated_again(tmp_path):
    tables = tiny_tables()
    root = write_tables(tables, tmp_path / "ds")
    part = root / "orders" / "part-00000.parquet"
    assert open_dataset(root, today=TODAY).rows_set_aside == 0
    stat = part.stat()
    tables["orders"].loc[1, "order_ts"] = pd.Timestamp("2031-03-02 10:00")  # same width
    tables["orders"].loc[1, "promised_delivery"] = pd.Timestamp("2031-03-05 10:00")
    tables["orders"].to_parquet(part, index=False)
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert part.stat().st_size == stat.st_size and part.stat().st_mtime_ns == stat.st_mtime_ns
    ds = open_dataset(root, today=TODAY)
    assert _reasons(ds, "orders") == {"order_ts: after today (2026-11-25)": 1}
    _balanced(ds, "orders", 2)


def test_touched_part_is_validated_again(tmp_path, monkeypatch):
    root = write_tables(tiny_tables(), tmp_path / "ds")
    open_dataset(root, today=TODAY)
    counted = []
    real = dataset._count_reasons
    monkeypatch.setattr(dataset, "_count_reasons", lambda *a: counted.append(a[0]) or real(*a))
    open_dataset(root, today=TODAY)
    assert counted == []  # a clean second open runs no validation query
    os.utime(root / "orders" / "part-00000.parquet")
    open_dataset(root, today=TODAY)
    assert "orders" in counted


def test_read_only_cache_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    """The cache folder cannot be written (here ``.cache`` is a file: the same OSError a
    read-only ``data/.cache`` gives, also as root): the open warns and goes on."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".cache").write_text("not a folder")
    monkeypatch.setattr(dataset, "DATA_DIR", home)
    with pytest.warns(RuntimeWarning, match="validation cache not written"):
        ds = open_dataset(write_tables(tiny_tables(), tmp_path / "ds"), today=TODAY)
    assert ds.rows_set_aside == 0 and ds.orders.count().execute() == 2


# ----------------------------------------------------------------------------- every file read


def test_csv_beside_parquet_parts_is_an_error_naming_both(tmp_path):
    tables = tiny_tables()
    root = write_tables(tables, tmp_path / "ds")
    tables["orders"].to_csv(root / "orders" / "late-orders.csv", index=False)
    assert has_table(root, "orders")
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    assert "table 'orders' mixes formats" in _problem(err)
    assert "orders/late-orders.csv" in _problem(err) and "orders/part-00000.parquet" in _problem(
        err
    )


def test_table_file_beside_table_folder_is_an_error_naming_both(tmp_path):
    tables = tiny_tables()
    root = write_tables(tables, tmp_path / "ds")
    tables["shipments"].to_csv(root / "shipments.csv", index=False)
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    assert "table 'shipments' is in two places: shipments.csv and shipments/part-00000.parquet" in (
        _problem(err)
    )


def test_other_file_in_a_table_folder_is_an_error_naming_it(tmp_path):
    root = write_tables(tiny_tables(), tmp_path / "ds")
    (root / "orders" / "more-orders.parquet.gz").write_bytes(b"x")
    (root / "orders" / ".DS_Store").write_bytes(b"x")  # hidden: fine
    with pytest.raises(TableLayoutError, match=r"orders/more-orders.parquet.gz"):
        table_files(root, "orders")
    assert has_table(root, "orders")  # has_table agrees: the table is there, its open says why
    with pytest.raises(DataValidationError, match="more-orders.parquet.gz"):
        open_dataset(root, today=TODAY)


def test_only_hidden_files_means_no_table(tmp_path):
    root = tmp_path / "ds"
    (root / "returns").mkdir(parents=True)
    (root / "returns" / "_SUCCESS").write_text("")
    assert table_files(root, "returns") is None and not has_table(root, "returns")


def test_zero_byte_csv_says_the_file_is_empty(tmp_path):
    root = write_tables(tiny_tables(), tmp_path / "ds", fmt="csv")
    (root / "orders" / "part-00000.csv").write_bytes(b"")
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    assert "table 'orders', file part-00000.csv is empty (0 bytes" in _problem(err)


def test_header_only_csv_says_the_table_is_empty(tmp_path):
    root = write_tables(tiny_tables(), tmp_path / "ds", fmt="csv")
    csv = root / "orders" / "part-00000.csv"
    csv.write_text(csv.read_text().splitlines()[0] + "\n")
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    assert "table 'orders' has no rows: the file is empty (orders/part-00000.csv" in _problem(err)


def test_zero_row_parquet_table_says_the_file_is_empty(tmp_path):
    tables = tiny_tables()
    tables["orders"] = tables["orders"].iloc[:0]
    with pytest.raises(DataValidationError) as err:
        open_dataset(write_tables(tables, tmp_path / "ds"), today=TODAY)
    assert "table 'orders' has no rows: the file is empty (orders/part-00000.parquet" in (
        _problem(err)
    )


@pytest.mark.parametrize("damage", ["truncated", "text"])
def test_truncated_or_fake_parquet_names_table_and_file(tmp_path, damage):
    root = write_tables(tiny_tables(), tmp_path / "ds")
    part = root / "shipments" / "part-00000.parquet"
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"carrier,cost\nSF,12\n")
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    assert "table 'shipments', file shipments/part-00000.parquet: not a readable Parquet file" in (
        _problem(err)
    )


def test_part_lacking_a_column_names_table_file_and_column(tmp_path):
    tables = tiny_tables()
    root = write_tables(tables, tmp_path / "ds")
    tables["orders"].drop(columns="warehouse_id").assign(order_id=[5, 6]).to_parquet(
        root / "orders" / "part-00001.parquet", index=False
    )
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    assert (
        "table 'orders', file orders/part-00001.parquet: column 'warehouse_id' is missing "
        "(the table's other part orders/part-00000.parquet has it)"
    ) in _problem(err)


# ----------------------------------------------------------------------------- CSV by the model


def _csv_dataset(tmp_path, tables=None, options: str | None = None):
    root = write_tables(tables or tiny_tables(), tmp_path / "ds", fmt="csv")
    if options is not None:
        (root / "dataset.yml").write_text(options)
    return root


def test_us_dates_without_a_format_are_an_error_asking_for_it(tmp_path):
    tables = tiny_tables()
    root = _csv_dataset(tmp_path, tables)
    csv = root / "accounts" / "part-00000.csv"
    csv.write_text(
        csv.read_text().replace("2025-03-01", "03/01/2025").replace("2025-03-02", "03/02/2025")
    )
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    msg = _problem(err)
    assert "table 'accounts', column 'signup_date' (accounts/part-00000.csv line 2)" in msg
    assert "2 of 2 values do not parse as date" in msg and "date_formats:" in msg


def test_declared_month_first_format_reads_us_dates(tmp_path):
    root = _csv_dataset(tmp_path, options="date_formats:\n  accounts: {signup_date: '%m/%d/%Y'}\n")
    csv = root / "accounts" / "part-00000.csv"
    csv.write_text(
        csv.read_text().replace("2025-03-01", "03/01/2025").replace("2025-03-02", "03/02/2025")
    )
    ds = open_dataset(root, today=TODAY)
    dates = ds.accounts.order_by("account_id").signup_date.to_pandas().tolist()
    assert [pd.Timestamp(d) for d in dates] == [
        pd.Timestamp("2025-03-01"),
        pd.Timestamp("2025-03-02"),
    ]


def test_offsets_in_csv_timestamps_convert_to_utc(tmp_path):
    root = _csv_dataset(tmp_path)
    csv = root / "orders" / "part-00000.csv"
    text = csv.read_text().replace("2025-03-01 10:00:00,", "2025-03-01T10:00:00+08:00,", 1)
    csv.write_text(text.replace("2025-03-02 10:00:00,", "2025-03-02 10:00:00Z,", 1))
    ds = open_dataset(root, today=TODAY)
    got = ds.orders.order_by("order_id").order_ts.to_pandas().tolist()
    assert got == [pd.Timestamp("2025-03-01 02:00"), pd.Timestamp("2025-03-02 10:00")]


def test_declared_timezone_of_naive_timestamps(tmp_path):
    root = _csv_dataset(tmp_path, options="timezone: Asia/Shanghai\n")
    ds = open_dataset(root, today=TODAY)
    got = ds.orders.order_by("order_id").order_ts.to_pandas().tolist()
    assert got == [pd.Timestamp("2025-03-01 02:00"), pd.Timestamp("2025-03-02 02:00")]


def test_latin1_csv_names_the_file_and_suggests_the_encoding(tmp_path):
    tables = tiny_tables()
    tables["accounts"].loc[1, "company_name"] = "Café Outils SARL"
    root = write_tables(
        {k: v for k, v in tables.items() if k != "accounts"}, tmp_path / "ds", "csv"
    )
    (root / "accounts").mkdir()
    tables["accounts"].loc[[1]].to_csv(
        root / "accounts" / "part-00000.csv", index=False, encoding="latin-1"
    )
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    msg = _problem(err)
    assert "table 'accounts', file part-00000.csv: byte 0xe9 on line 2 is not utf-8" in msg
    assert "encoding: latin-1" in msg


def test_latin1_csv_reads_when_declared(tmp_path):
    tables = tiny_tables()
    tables["accounts"].loc[0, "company_name"] = "Café Outils SARL"
    root = write_tables(tables, tmp_path / "ds", "csv")
    for name, df in tables.items():  # every file in latin-1 (the Chinese names dropped)
        df = df.map(
            lambda v: v.encode("latin-1", "replace").decode("latin-1") if isinstance(v, str) else v
        )
        df.to_csv(root / name / "part-00000.csv", index=False, encoding="latin-1")
    (root / "dataset.yml").write_text("encoding: latin-1\n")
    ds = open_dataset(root, today=TODAY)
    assert ds.accounts.order_by("account_id").company_name.to_pandas()[0] == "Café Outils SARL"


def test_bad_value_far_down_a_csv_is_set_aside_with_its_line(tmp_path):
    tables = tiny_tables()
    n = 5000
    orders = pd.DataFrame(
        {
            "order_id": range(1, n + 1),
            "account_id": 1,
            "order_ts": pd.Timestamp("2025-03-01 10:00"),
            "warehouse_id": "WH-EAST",
            "promised_delivery": pd.Timestamp("2025-03-04 10:00"),
        }
    )
    tables["orders"] = orders
    root = _csv_dataset(tmp_path, tables)
    csv = root / "orders" / "part-00000.csv"
    lines = csv.read_text().splitlines()
    lines[4500] = lines[4500].replace("2025-03-01 10:00:00", "2025-02-30 10:00:00")
    csv.write_text("\n".join(lines) + "\n")
    ds = open_dataset(root, today=TODAY)
    assert _reasons(ds, "orders") == {"order_ts: value does not parse as timestamp": 1}
    q = ds.quality.set_index(["table", "reason"]).loc[
        ("orders", "order_ts: value does not parse as timestamp")
    ]
    assert q.examples == "order_id=4500 (orders/part-00000.csv line 4501)"
    assert _balanced(ds, "orders", n) == (n - 1, 1)


def test_integer_written_as_float_text_is_set_aside(tmp_path):
    root = _csv_dataset(tmp_path)
    csv = root / "order_lines" / "part-00000.csv"
    lines = csv.read_text().splitlines()
    lines[2] = lines[2].replace(",5,", ",5.0,")  # quantity of the second line
    csv.write_text("\n".join(lines) + "\n")
    ds = open_dataset(root, today=TODAY)
    assert _reasons(ds, "order_lines") == {"quantity: value does not parse as int64": 1}
    _balanced(ds, "order_lines", 2)


def _semicolon_decimal_comma(root):
    for name in TABLES:
        csv = root / name / "part-00000.csv"
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
        df.to_csv(csv, index=False, sep=";")
        text = csv.read_text()
        csv.write_text(text.replace(".0;", ",0;").replace(".1;", ",1;").replace(".5;", ",5;"))


def test_semicolon_csv_without_dataset_yml_is_one_clear_message(tmp_path):
    root = _csv_dataset(tmp_path)
    _semicolon_decimal_comma(root)
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    msg = str(err.value)
    assert "table 'accounts', file part-00000.csv: the header is one column" in msg
    assert 'declare `delimiter: ";"`' in msg and 'decimal: ","' in msg
    assert len(err.value.problems) == len(TABLES)  # one line a table, not one a row


def test_semicolon_csv_with_dataset_yml_reads_decimal_commas(tmp_path):
    root = _csv_dataset(tmp_path, options='delimiter: ";"\ndecimal: ","\n')
    _semicolon_decimal_comma(root)
    ds = open_dataset(root, today=TODAY)
    assert ds.rows_set_aside == 0
    lines = ds.order_lines.order_by("order_id").to_pandas()
    assert lines.unit_price.tolist() == [100.0, 20.0] and lines.discount.tolist() == [0.1, 0.0]


def test_decimal_commas_without_the_decimal_option_are_one_message(tmp_path):
    root = _csv_dataset(tmp_path, options='delimiter: ";"\n')
    _semicolon_decimal_comma(root)
    with pytest.raises(DataValidationError) as err:
        open_dataset(root, today=TODAY)
    msg = _problem(err)
    assert "table 'order_lines', column 'unit_price' (order_lines/part-00000.csv line 2)" in msg
    assert 'declare `decimal: ","`' in msg


def test_declared_thousands_separator_in_whole_numbers(tmp_path):
    tables = tiny_tables()
    tables["purchase_orders"]["qty_ordered"] = [1000, 2000]
    root = _csv_dataset(tmp_path, tables, options='thousands: "_"\n')
    csv = root / "purchase_orders" / "part-00000.csv"
    csv.write_text(csv.read_text().replace(",1000,", ",1_000,").replace(",2000,", ",2_000,"))
    ds = open_dataset(root, today=TODAY)
    qty = ds.purchase_orders.order_by("po_id").qty_ordered.to_pandas().tolist()
    assert qty == [1000, 2000]


def test_unknown_key_in_dataset_yml_names_it(tmp_path):
    root = _csv_dataset(tmp_path, options="delimeter: ';'\n")
    with pytest.raises(DataValidationError, match="unknown key.*delimeter"):
        open_dataset(root, today=TODAY)


def test_clean_csv_dataset_reads_like_parquet(tmp_path):
    tables = tiny_tables()
    ds = open_dataset(_csv_dataset(tmp_path / "csv", tables), today=TODAY)
    pq_ds = open_dataset(write_tables(tables, tmp_path / "pq"), today=TODAY)
    assert ds.rows_set_aside == 0
    for name in TABLES:
        a = ds[name].order_by(list(TABLES[name].key)).to_pandas()
        b = pq_ds[name].order_by(list(TABLES[name].key)).to_pandas()
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)


def test_csv_rules_hold_on_spark_too(tmp_path, spark):
    """The same text rules compile on Spark: an offset converts, NaN text is set aside (Spark's
    try_cast reads "NaN" as no number at all, so the reason is that it does not parse)."""
    root = _csv_dataset(tmp_path)
    orders = root / "orders" / "part-00000.csv"
    orders.write_text(
        orders.read_text().replace("2025-03-01 10:00:00,", "2025-03-01T10:00:00+08:00,", 1)
    )
    lines = root / "order_lines" / "part-00000.csv"
    lines.write_text(lines.read_text().replace(",100.0,", ",NaN,"))
    ds = open_dataset(root, engine="spark", spark=spark, today=TODAY)
    got = ds.orders.order_by("order_id").order_ts.to_pandas().tolist()
    assert got == [pd.Timestamp("2025-03-01 02:00"), pd.Timestamp("2025-03-02 10:00")]
    ((reason, n),) = _reasons(ds, "order_lines").items()
    assert reason.startswith("unit_price: ") and n == 1
    assert ds.order_lines.count().to_pandas() == 1
