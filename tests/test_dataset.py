"""The data layer: structure errors raise, bad rows are set aside with a reason, nothing lost."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from tiny import tiny_tables, write_tables

from helpers.data import DataValidationError, open_dataset, pandera_schema
from helpers.data.schema import TABLES

TODAY = dt.date(2026, 11, 25)


def _open(tmp_path, tables, **kw):
    return open_dataset(write_tables(tables, tmp_path / "ds"), today=TODAY, **kw)


def _reasons(ds, table):
    q = ds.quality
    q = q[(q.table == table) & (q.rows_set_aside > 0)]
    return dict(zip(q.reason, q.rows_set_aside, strict=True))


def test_clean_dataset_keeps_every_row(tmp_path):
    tables = tiny_tables()
    ds = _open(tmp_path, tables)
    assert ds.rows_set_aside == 0
    for name, df in tables.items():
        assert ds[name].count().execute() == len(df), name
    assert ds.quality.rows_read.sum() == sum(len(df) for df in tables.values())


def test_chinese_text_round_trips(tmp_path):
    ds = _open(tmp_path, tiny_tables())
    names = ds.accounts.order_by("account_id").company_name.to_pandas().tolist()
    assert names[0] == "华东精密机械有限公司"


def test_missing_required_table_names_it(tmp_path):
    tables = tiny_tables()
    del tables["orders"]
    with pytest.raises(DataValidationError, match="table 'orders' is missing"):
        _open(tmp_path, tables)


def test_missing_optional_table_is_absent_not_an_error(tmp_path):
    tables = tiny_tables()
    del tables["returns"]
    ds = _open(tmp_path, tables)
    assert "returns" not in ds
    with pytest.raises(KeyError, match="returns"):
        ds["returns"]


def test_missing_column_names_table_and_column(tmp_path):
    tables = tiny_tables()
    tables["order_lines"] = tables["order_lines"].drop(columns="unit_cost")
    with pytest.raises(DataValidationError) as err:
        _open(tmp_path, tables)
    assert "table 'order_lines', column 'unit_cost' is missing" in str(err.value)


def test_wrong_type_raises_with_table_column_and_types(tmp_path):
    tables = tiny_tables()
    tables["order_lines"]["quantity"] = tables["order_lines"]["quantity"].astype(float) + 0.5
    tables["accounts"]["signup_date"] = [True, False]
    with pytest.raises(DataValidationError) as err:
        _open(tmp_path, tables)
    msg = str(err.value)
    assert "table 'order_lines', column 'quantity': type float64 cannot be read as int64" in msg
    assert "table 'accounts', column 'signup_date'" in msg
    assert len(err.value.problems) == 2


def test_negative_price_is_set_aside_with_its_key(tmp_path):
    tables = tiny_tables()
    tables["order_lines"].loc[1, "unit_price"] = -20.0
    ds = _open(tmp_path, tables)
    assert _reasons(ds, "order_lines") == {"unit_price: below 0": 1}
    q = ds.quality.set_index(["table", "reason"]).loc[("order_lines", "unit_price: below 0")]
    assert q.examples == "order_id=2, line_no=1"
    assert ds.order_lines.count().execute() == 1
    bad = ds.quarantine["order_lines"].to_pandas()
    assert bad.unit_price.tolist() == [-20.0] and bad._reason.tolist() == ["unit_price: below 0"]


def test_duplicate_key_sets_aside_every_copy(tmp_path):
    tables = tiny_tables()
    tables["accounts"] = pd.concat([tables["accounts"], tables["accounts"].iloc[[0]]])
    ds = _open(tmp_path, tables)
    assert _reasons(ds, "accounts") == {"duplicate key (account_id)": 2}
    # Its children now point at an account that was set aside: they follow it.
    assert _reasons(ds, "orders") == {"account_id: no matching accounts.account_id": 1}


def test_orphan_foreign_key_cascades_to_children(tmp_path):
    tables = tiny_tables()
    tables["orders"].loc[0, "account_id"] = 999
    ds = _open(tmp_path, tables)
    assert _reasons(ds, "orders") == {"account_id: no matching accounts.account_id": 1}
    assert _reasons(ds, "order_lines") == {"order_id: no matching orders.order_id": 1}
    assert _reasons(ds, "shipments") == {"order_id: no matching orders.order_id": 1}
    assert _reasons(ds, "returns") == {"order_id: no matching orders.order_id": 1}


def test_nullable_foreign_key_allows_null(tmp_path):
    ds = _open(tmp_path, tiny_tables())
    assert ds.web_events.filter(ds.web_events.account_id.isnull()).count().execute() == 1


def test_date_in_the_future_is_set_aside(tmp_path):
    tables = tiny_tables()
    tables["orders"].loc[1, "order_ts"] = pd.Timestamp("2027-01-01")
    tables["orders"].loc[1, "promised_delivery"] = pd.Timestamp("2027-01-05")
    tables["inventory"].loc[0, "date"] = dt.date(2026, 11, 26)
    ds = _open(tmp_path, tables)
    assert _reasons(ds, "orders") == {"order_ts: after today (2026-11-25)": 1}
    assert _reasons(ds, "inventory") == {"date: after today (2026-11-25)": 1}


def test_today_itself_is_not_the_future(tmp_path):
    tables = tiny_tables()
    tables["orders"].loc[1, "order_ts"] = pd.Timestamp("2026-11-25 23:59")
    tables["orders"].loc[1, "promised_delivery"] = pd.Timestamp("2026-11-28")
    assert _open(tmp_path, tables).rows_set_aside == 0


def test_value_outside_allowed_set_and_missing_value(tmp_path):
    tables = tiny_tables()
    tables["web_events"].loc[0, "event"] = "teleport"
    tables["leads"].loc[1, "owner"] = None
    ds = _open(tmp_path, tables)
    assert list(_reasons(ds, "web_events")) == [
        "event: not one of visit, product_view, add_to_cart, quote_request, checkout, purchase"
    ]
    assert _reasons(ds, "leads") == {"owner: missing value": 1}


def test_dates_in_the_wrong_order(tmp_path):
    tables = tiny_tables()
    tables["shipments"].loc[0, "delivered_at"] = pd.Timestamp("2025-01-01")
    ds = _open(tmp_path, tables)
    assert _reasons(ds, "shipments") == {"delivered_at: before shipped_at": 1}


def test_csv_with_unparseable_value_is_set_aside_not_nulled(tmp_path):
    tables = tiny_tables()
    root = write_tables(tables, tmp_path / "ds", fmt="csv")
    csv = root / "orders" / "part-00000.csv"
    text = csv.read_text().replace("2025-03-02 10:00:00", "yesterday-ish", 1)
    csv.write_text(text)
    ds = open_dataset(root, today=TODAY)
    assert _reasons(ds, "orders") == {"order_ts: value does not parse as timestamp": 1}
    assert ds.quarantine["orders"].count().execute() == 1


def test_rows_read_equals_kept_plus_set_aside(tmp_path):
    tables = tiny_tables()
    tables["order_lines"].loc[0, "discount"] = -0.5
    tables["contacts"].loc[1, "account_id"] = 77
    ds = _open(tmp_path, tables)
    for name in tables:
        kept = ds[name].count().execute()
        aside = ds.quarantine[name].count().execute()
        assert kept + aside == len(tables[name]), name


def test_strict_mode_raises_with_table_reason_count_and_examples(tmp_path):
    tables = tiny_tables()
    tables["order_lines"].loc[1, "unit_price"] = -20.0
    with pytest.raises(DataValidationError) as err:
        _open(tmp_path, tables, strict=True)
    assert "table 'order_lines', unit_price: below 0: 1 row(s), e.g. order_id=2, line_no=1" in str(
        err.value
    )


def test_missing_folder_says_how_to_make_it(tmp_path):
    with pytest.raises(DataValidationError, match="make data"):
        open_dataset(tmp_path / "nope")


def test_kept_tables_pass_pandera_schema(tmp_path):
    """Outside reference: pandera's own Ibis validation accepts every kept table."""
    tables = tiny_tables()
    tables["order_lines"].loc[1, "unit_price"] = -20.0
    tables["web_events"].loc[0, "event"] = "teleport"
    ds = _open(tmp_path, tables)
    for name in TABLES:
        pandera_schema(name).validate(ds[name])
    with pytest.raises(Exception, match="unit_price"):
        pandera_schema("order_lines").validate(ds.quarantine["order_lines"].drop("_reason"))


def test_period_of_kept_orders(tmp_path):
    ds = _open(tmp_path, tiny_tables())
    lo, hi = ds.period("orders")
    assert (lo, hi) == (pd.Timestamp("2025-03-01 10:00"), pd.Timestamp("2025-03-02 10:00"))


def test_second_open_reuses_the_validation_and_sees_changes(tmp_path):
    tables = tiny_tables()
    tables["order_lines"].loc[1, "unit_price"] = -20.0
    root = write_tables(tables, tmp_path / "ds")
    first = open_dataset(root, today=TODAY)
    again = open_dataset(root, today=TODAY)
    pd.testing.assert_frame_equal(first.quality, again.quality)
    assert again.quarantine["order_lines"].count().execute() == 1
    tables["orders"].loc[0, "account_id"] = 999  # the data changes: validated afresh
    write_tables(tables, root)
    changed = open_dataset(root, today=TODAY)
    assert _reasons(changed, "orders") == {"account_id: no matching accounts.account_id": 1}


def test_duckdb_memory_is_capped_and_spills_to_the_temp_folder(tmp_path, monkeypatch):
    """Two kernels at once must not each take DuckDB's default 80 % of memory (issue 8)."""
    folder = write_tables(tiny_tables(), tmp_path / "d")

    def settings():
        con = open_dataset(folder, today=TODAY).con.con
        return con.sql(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()[0]

    monkeypatch.delenv("HELPERS_DUCKDB_MEMORY_LIMIT", raising=False)
    limit, temp = settings()
    assert limit == "2.7 GiB" and temp.endswith("helpers-duckdb")  # 3GB = 2.79 GiB
    monkeypatch.setenv("HELPERS_DUCKDB_MEMORY_LIMIT", "1GB")
    assert settings()[0] == "953.6 MiB"
    monkeypatch.setenv("HELPERS_DUCKDB_MEMORY_LIMIT", "none")
    assert settings()[0] not in ("2.7 GiB", "953.6 MiB")  # DuckDB's own default
