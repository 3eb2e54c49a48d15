"""Adapters (``python -m helpers.data import``): small fixture files written here, in each
format, with bad rows; every count below is worked out by hand from the fixture lines."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data.__main__ import main
from helpers.data.adapters import REPORT_FILE, SET_ASIDE_DIR, import_data, stage
from helpers.data.adapters.online_retail import non_product_kind
from helpers.data.dataset import open_dataset

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
# The UCI Online Retail CSV style (US dates), one line per case. Line numbers in comments are
# file lines (the header is line 1).
RETAIL_LINES = [
    "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",  # 2 sale
    "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom",  # 3 sale
    "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom",  # 4 dup
    "536366,POST,POSTAGE,1,12/1/2010 8:28,18.00,17850,United Kingdom",  # 5 postage
    "536366,M,Manual,1,12/1/2010 8:28,5.00,17850,United Kingdom",  # 6 manual
    "536367,22633,HAND WARMER,-6,12/1/2010 8:34,1.85,13047,United Kingdom",  # 7 neg qty sale
    "536368,22633,HAND WARMER,6,12/1/2010 8:34,1.85,,France",  # 8 guest sale
    "536368,21730,GLASS STAR,2,12/1/2010 8:34,4.25,,France",  # 9 guest sale
    "536369,22633,HAND WARMER,6,notadate,1.85,13047,United Kingdom",  # 10 bad date
    "C536370,85123A,WHITE HANGING HEART,-2,12/2/2010 9:00,2.55,17850,United Kingdom",  # 11 ret
    "C536371,71053,WHITE METAL LANTERN,-1,12/2/2010 9:00,3.39,13047,United Kingdom",  # 12 no buy
    "C536372,71053,WHITE METAL LANTERN,-1,12/2/2010 9:00,3.39,,United Kingdom",  # 13 no cust
    "536373,22633,HAND WARMER,1,12/3/2010 9:00,0,13047,United Kingdom",  # 14 zero price
    "A536374,B,Adjust bad debt,1,12/3/2010 9:00,-11062.06,,United Kingdom",  # 15 non-product
    "536375,22633,HAND WARMER,two,12/3/2010 9:00,1.85,13047,United Kingdom",  # 16 bad qty
    "536376,22633,HAND WARMER,3,2010-12-04 10:00:00,1.85,13047,EIRE",  # 17 sale, ISO date
    "536376,22633,too,many,fields,1,2,3,4",  # 18 malformed
    "",  # blank: no row
]


def write_retail_csv(folder: Path, lines=RETAIL_LINES) -> Path:
    path = folder / "online_retail.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def retail(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("retail")
    src = write_retail_csv(folder)
    out = folder / "dataset"
    report = import_data("online-retail", [src], out)
    return {"report": report, "out": out, "src": src}


def read(out: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(out / f"{table}.parquet")


# ----------------------------------------------------------------------------- online retail


def test_online_retail_counts_every_line(retail: dict) -> None:
    report = retail["report"]
    assert report["rows_read"] == 17  # 17 non-blank data lines
    assert report["rows_kept"] == 6 and report["rows_set_aside"] == 11
    assert report["rows_read"] == report["rows_kept"] + report["rows_set_aside"]
    assert report["kept"] == {"order_lines (sales)": 5, "returns (cancellations)": 1}
    assert report["set_aside"] == {
        "malformed CSV line (wrong number of fields)": 1,
        "InvoiceDate: does not parse as a date": 1,
        "Quantity: not a whole number": 1,
        "exact duplicate of an earlier line": 1,
        "non-product code: adjustment": 1,
        "non-product code: manual": 1,
        "non-product code: postage": 1,
        "Price: zero or negative": 1,
        "cancellation without a customer (cannot be linked)": 1,
        "zero or negative quantity on a sale (not a cancellation)": 1,
        "cancellation with no earlier purchase of that stock code by that customer": 1,
    }
    flagged = report["flagged"]
    assert (
        flagged["sales lines without a customer (kept under guest accounts, account_id < 0)"] == 2
    )
    assert report["details"]["non_product_codes"]["postage"] == {
        "codes": ["POST"],
        "lines": 1,
        "value": 18.0,
    }
    assert report["tables_written"] == {
        "accounts": 3,
        "orders": 3,
        "order_lines": 5,
        "products": 4,
        "returns": 1,
    }
    assert "web_events" in report["tables_not_written"]
    assert any("unit_cost = 0.6 x unit_price" in a for a in report["assumptions"])
    assert report["on_open"]["rows_set_aside"] == 0
    assert report["reports"]["segmentation"] == "applies"  # its core: orders, order_lines
    assert json.loads((retail["out"] / REPORT_FILE).read_text()) == report


def test_online_retail_set_aside_rows_are_written_with_reason_and_line(retail: dict) -> None:
    rows = pd.read_csv(retail["out"] / SET_ASIDE_DIR / "online_retail.csv", dtype=str)
    assert len(rows) == retail["report"]["rows_set_aside"]
    by_line = dict(zip(rows["_row"].astype(int), rows["_reason"], strict=True))
    assert by_line == {
        4: "exact duplicate of an earlier line",
        5: "non-product code: postage",
        6: "non-product code: manual",
        7: "zero or negative quantity on a sale (not a cancellation)",
        10: "InvoiceDate: does not parse as a date",
        12: "cancellation with no earlier purchase of that stock code by that customer",
        13: "cancellation without a customer (cannot be linked)",
        14: "Price: zero or negative",
        15: "non-product code: adjustment",
        16: "Quantity: not a whole number",
        18: "malformed CSV line (wrong number of fields)",
    }
    assert rows.loc[rows["_row"] == "10", "invoice_date"].item() == "notadate"  # kept as read


def test_online_retail_tables(retail: dict) -> None:
    out = retail["out"]
    lines = read(out, "order_lines").sort_values(["order_id", "line_no"])
    assert lines[["order_id", "line_no", "sku", "quantity"]].values.tolist() == [
        [536365, 1, "85123A", 6],
        [536365, 2, "71053", 6],
        [536368, 1, "22633", 6],
        [536368, 2, "21730", 2],
        [536376, 1, "22633", 3],
    ]
    revenue = (lines["quantity"] * lines["unit_price"]).sum()
    assert revenue == pytest.approx(6 * 2.55 + 6 * 3.39 + 6 * 1.85 + 2 * 4.25 + 3 * 1.85)
    assert np.allclose(lines["unit_cost"], 0.6 * lines["unit_price"])
    orders = read(out, "orders").set_index("order_id")
    assert orders.loc[536365, "account_id"] == 17850
    assert orders.loc[536368, "account_id"] == -1  # the France guest account
    assert orders.loc[536376, "order_ts"] == pd.Timestamp("2010-12-04 10:00")
    assert orders.loc[536365, "order_ts"] == pd.Timestamp("2010-12-01 08:26")
    accounts = read(out, "accounts").set_index("account_id")
    assert accounts.loc[-1, "acquisition_channel"] == "guest"
    assert accounts.loc[-1, "region"] == "France"
    assert accounts.loc[13047, "region"] == "EIRE"  # its only kept line
    assert accounts.loc[17850, "signup_date"] == dt.date(2010, 12, 1)
    assert set(accounts["industry"]) == {"unknown"}
    returns = read(out, "returns")
    assert returns.to_dict("records") == [
        {
            "return_id": 1,
            "order_id": 536365,
            "sku": "85123A",
            "quantity": 2,
            "returned_at": pd.Timestamp("2010-12-02 09:00"),
            "refund": pytest.approx(5.10),
            "reason": "cancellation C536370",
        }
    ]
    products = read(out, "products").set_index("sku")
    assert products.loc["22633", "list_price"] == pytest.approx(1.85)
    assert products.loc["22633", "name"] == "HAND WARMER"


def test_imported_dataset_opens_with_its_tables(retail: dict) -> None:
    written = list(retail["report"]["tables_written"])
    ds = open_dataset(retail["out"], tables=written)
    assert ds.rows_set_aside == 0
    assert ds.order_lines.count().to_pandas() == 5
    with pytest.raises(ValueError, match="web_events"):
        open_dataset(retail["out"])  # the data layer still insists on the full model


def test_without_customer_set_aside(tmp_path: Path) -> None:
    staged = stage("online-retail", [write_retail_csv(tmp_path)], without_customer="set-aside")
    assert staged.set_aside["sale without a customer (without_customer=set-aside)"] == 2
    assert staged.kept["order_lines (sales)"] == 3
    assert staged.rows_read == staged.rows_kept + staged.rows_set_aside
    assert (staged.tables["accounts"]["account_id"] > 0).all()


def test_non_product_codes() -> None:
    assert non_product_kind("POST") == "postage" and non_product_kind(" dot ") == "postage"
    assert non_product_kind("BANK CHARGES") == "bank charges"
    assert non_product_kind("gift_0001_20") == "gift voucher"
    assert non_product_kind("TEST001") == "test"
    assert non_product_kind("85123A") is None
    assert non_product_kind("FREIGHT", {"freight": "carriage"}) == "carriage"


XLSX_COLUMNS = [
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
]


def write_xlsx(path: Path) -> Path:
    """Online Retail II style: two sheets, Excel dates, customer ids read as floats."""
    pytest.importorskip("openpyxl")
    first = pd.DataFrame(
        [
            # numbers stored as numbers, as in the real workbook
            [489434, 85048, "LED LIGHT", 12, dt.datetime(2009, 12, 1, 7, 45), 6.95, 13085.0],
            ["489434", "79323P", "PINK LIGHTS", 12, dt.datetime(2009, 12, 1, 7, 45), 6.75, 13085.0],
            ["489435", "22350", "CAT BOWL", 12, dt.datetime(2009, 12, 1, 7, 46), 2.55, None],
        ],
        columns=XLSX_COLUMNS[:7],
    ).assign(Country="United Kingdom")
    second = pd.DataFrame(
        [
            # the same line again in the second sheet: an exact duplicate
            ["489435", "22350", "CAT BOWL", 12, dt.datetime(2009, 12, 1, 7, 46), 2.55, None],
            ["C489449", "85048", "LED LIGHT", -3, dt.datetime(2009, 12, 2, 10, 0), 6.95, 13085.0],
            ["489450", "22350", "CAT BOWL", 4, "31/12/2010 25:99", 2.55, 13085.0],
        ],
        columns=XLSX_COLUMNS[:7],
    ).assign(Country="United Kingdom")
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        first.to_excel(writer, sheet_name="Year 2009-2010", index=False)
        second.to_excel(writer, sheet_name="Year 2010-2011", index=False)
    return path


def test_online_retail_xlsx_two_sheets(tmp_path: Path) -> None:
    book = write_xlsx(tmp_path / "online_retail_II.xlsx")
    staged = stage("online-retail", [book])
    assert staged.rows_read == 6
    assert staged.kept == {"order_lines (sales)": 3, "returns (cancellations)": 1}
    assert staged.set_aside == {
        "InvoiceDate: does not parse as a date": 1,
        "exact duplicate of an earlier line": 1,
    }
    accounts = staged.tables["accounts"].set_index("account_id")
    assert sorted(accounts.index) == [-1, 13085]  # ids stored as 13085.0 read as whole numbers
    assert staged.tables["returns"]["order_id"].tolist() == [489434]
    rows = staged.set_aside_rows["online_retail"]
    assert set(rows["_source"]) == {"online_retail_II.xlsx[Year 2010-2011]"}
    assert sorted(rows["_row"]) == [2, 4]  # spreadsheet rows (row 1 is the header)
    one = stage("online-retail", [book], sheets=["Year 2009-2010"])
    assert one.rows_read == 3 and one.rows_set_aside == 0


def test_wrong_sheet_name_is_a_clear_error(tmp_path: Path, capsys) -> None:
    book = write_xlsx(tmp_path / "online_retail_II.xlsx")
    with pytest.raises(ValueError, match=r"no sheet named 'Year 2011'.*Year 2009-2010"):
        stage("online-retail", [book], sheets=["Year 2011"])
    out = tmp_path / "out"
    code = main(["import", "online-retail", str(book), "--sheet", "Year 2011", "--out", str(out)])
    assert code == 2
    assert "no sheet named 'Year 2011'" in capsys.readouterr().err
    assert not out.exists()  # nothing half-written


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Invoice,StockCode,Quantity,InvoiceDate,Price,Country\n1,A,1,2010-01-01,1,UK\n")
    with pytest.raises(ValueError, match=r"x.csv: column\(s\) Customer ID missing.*found: Invoice"):
        stage("online-retail", [path])


def test_no_line_is_lost_on_messy_data(tmp_path: Path) -> None:
    """Random lines with random defects: every line is kept or set aside with a reason."""
    rng = np.random.default_rng(3)
    n = 400
    lines = []
    for _ in range(n):
        invoice = f"{'C' if rng.random() < 0.15 else ''}{540000 + rng.integers(0, 60)}"
        code = rng.choice(["85123A", "71053", "22633", "POST", "M", "21730"])
        qty = int(rng.integers(-5, 12))
        day = int(rng.integers(1, 28))
        date = rng.choice([f"3/{day}/2011 10:{day:02d}", f"2011-04-{day:02d} 09:00:00", "bad"])
        price = rng.choice(["2.55", "0", "-1", "1.85", "x"])
        customer = rng.choice(["17850", "13047", "", "12583.0", "abc"])
        lines.append(f"{invoice},{code},item,{qty},{date},{price},{customer},United Kingdom")
    lines += lines[:20]  # duplicates
    staged = stage("online-retail", [write_retail_csv(tmp_path, lines)])
    assert staged.rows_read == n + 20
    assert staged.rows_read == staged.rows_kept + staged.rows_set_aside
    assert staged.rows_set_aside == len(staged.set_aside_rows["online_retail"])
    assert len(staged.tables["order_lines"]) + len(staged.tables.get("returns", [])) == (
        staged.rows_kept
    )
    # a repeated line that does not parse is set aside for that first (rules run in order)
    assert 0 < staged.set_aside["exact duplicate of an earlier line"] <= 20


def test_cli_import_and_force(tmp_path: Path, capsys) -> None:
    src = write_retail_csv(tmp_path)
    out = tmp_path / "ds"
    assert (
        main(["import", "online-retail", str(src), "--out", str(out), "--cost-ratio", "0.5"]) == 0
    )
    err = capsys.readouterr().err
    assert "17 read = 6 kept + 11 set aside" in err and "funnel: missing core table(s)" in err
    lines = read(out, "order_lines")
    assert np.allclose(lines["unit_cost"], 0.5 * lines["unit_price"])
    assert main(["import", "online-retail", str(src), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["import", "online-retail", str(src), "--out", str(out), "--force"]) == 0
    assert main(["import", "cdnow", str(src), "--out", str(out), "--sheet", "x"]) == 2
    assert "--sheet does not apply to the cdnow format" in capsys.readouterr().err


# ----------------------------------------------------------------------------- cdnow

CDNOW_MASTER = """\
00001 19970101 1 11.77
00002 19970112 1 12.00
00002 19970112 5 77.00
00002 19970112 5 77.00
00003 19970102 2 20.76
00003 19970330 2 20.76

00003 19970402 2 19.54
00004 19970101 2 0.00
00005 19971332 1 10.00
00006 19970101 0 10.00
00007 19970101 1 -3.00
00008 19970101 1
00009 19970101 x 10.00
"""


def test_cdnow(tmp_path: Path) -> None:
    src = tmp_path / "CDNOW_master.txt"
    src.write_text(CDNOW_MASTER)
    report = import_data("cdnow", [src], tmp_path / "out")
    assert report["rows_read"] == 13  # the blank line is no row
    assert report["kept"] == {"orders (one per transaction)": 8}
    assert report["set_aside"] == {
        "malformed line (not 4 or 5 fields)": 1,
        "date: not a YYYYMMDD date": 1,
        "quantity: not a whole number": 1,
        "quantity: zero or negative": 1,
        "dollar value: negative": 1,
    }
    assert report["flagged"] == {
        "zero-dollar transactions (kept)": 1,
        "lines identical to an earlier line (kept: separate purchases)": 1,
    }
    out = tmp_path / "out"
    orders = read(out, "orders")
    lines = read(out, "order_lines").merge(orders, on="order_id")
    per_account = lines.assign(v=lines["quantity"] * lines["unit_price"]).groupby("account_id")
    assert per_account["v"].sum().round(2).to_dict() == {
        1: 11.77,
        2: 166.0,
        3: 61.06,
        4: 0.0,
    }
    assert per_account["order_id"].count().to_dict() == {1: 1, 2: 3, 3: 3, 4: 1}
    accounts = read(out, "accounts").set_index("account_id")
    assert accounts.loc[3, "signup_date"] == dt.date(1997, 1, 2)
    assert report["on_open"]["rows_set_aside"] == 0
    rows = pd.read_csv(out / SET_ASIDE_DIR / "cdnow.csv", dtype=str)
    assert sorted(rows["_row"].astype(int)) == [10, 11, 12, 13, 14]


def test_cdnow_sample_format_uses_master_id(tmp_path: Path) -> None:
    src = tmp_path / "CDNOW_sample.txt"
    src.write_text("   4   1 19970101   2  29.33\n  18   2 19970101   1  11.77\n")
    staged = stage("cdnow", [src])
    assert sorted(staged.tables["accounts"]["account_id"]) == [4, 18]
    assert staged.rows_read == staged.rows_kept == 2


# ----------------------------------------------------------------------------- csv + mapping

MAPPING = """\
delimiter: ";"
decimal: ","
tables:
  accounts:
    file: kunden.csv
    columns:
      account_id: KdNr
      company_name: Firma
      industry: {value: unknown}
      region: {column: Gebiet, map: {N: north, S: south}}
      size_band: {column: Groesse, map: {K: small, M: medium, G: large}}
      signup_date: {column: Seit, format: "%d.%m.%Y"}
      acquisition_channel: {value: unknown}
  orders:
    file: auftraege.csv
    columns:
      order_id: AuftragNr
      account_id: KdNr
      order_ts: {column: Datum, format: "%d.%m.%Y %H:%M"}
      warehouse_id: {value: main}
      promised_delivery: {column: Termin, format: "%d.%m.%Y %H:%M"}
"""

KUNDEN = """\
KdNr;Firma;Gebiet;Groesse;Seit
1;Acme GmbH;N;K;01.02.2024
2;Beta AG;S;G;15.03.2024
2;Beta AG;S;G;15.03.2024
3;Gamma KG;N;X;01.01.2024
x;Delta;N;K;01.01.2024
5;;S;M;01.01.2024
"""

AUFTRAEGE = """\
AuftragNr;KdNr;Datum;Termin
10;1;03.02.2024 10:00;05.02.2024 10:00
11;2;31.02.2024 10:00;05.03.2024 10:00
12;9;01.04.2024 10:00;05.04.2024 10:00
13;2;01.04.2024 11:00;05.04.2024 10:00;extra
"""


def test_csv_with_mapping(tmp_path: Path) -> None:
    (tmp_path / "kunden.csv").write_text(KUNDEN)
    (tmp_path / "auftraege.csv").write_text(AUFTRAEGE)
    (tmp_path / "mapping.yml").write_text(MAPPING)
    report = import_data("csv", [tmp_path], tmp_path / "out", mapping=tmp_path / "mapping.yml")
    assert report["rows_read"] == 6 + 4
    assert report["kept"] == {"accounts": 2, "orders": 2}
    assert report["set_aside"] == {
        "accounts: account_id: does not parse as int64 (decimal ',', thousands '.')": 1,
        "accounts: company_name: missing value": 1,
        "accounts: size_band: not one of micro, small, medium, large, unknown": 1,
        "accounts: exact duplicate of an earlier line": 1,
        "orders: malformed CSV line (wrong number of fields)": 1,
        "orders: order_ts: does not parse as timestamp (format '%d.%m.%Y %H:%M')": 1,
    }
    assert report["rows_read"] == report["rows_kept"] + report["rows_set_aside"]
    accounts = read(tmp_path / "out", "accounts").set_index("account_id")
    assert accounts.loc[1, "region"] == "north" and accounts.loc[2, "size_band"] == "large"
    assert accounts.loc[1, "signup_date"] == dt.date(2024, 2, 1)
    assert (
        "orders.warehouse_id = 'main' for every row (a constant in the mapping)"
        in (report["assumptions"])
    )
    # order 12's customer 9 does not exist: the data layer sets it aside when opening
    assert report["on_open"]["tables"]["orders"]["set_aside"] == {
        "account_id: no matching accounts.account_id": 1
    }
    assert report["reports"]["overview"] == "missing core table(s): order_lines"


def test_csv_mapping_problems_are_listed_together(tmp_path: Path) -> None:
    (tmp_path / "mapping.yml").write_text(
        textwrap.dedent(
            """\
            tables:
              order:
                file: a.csv
                columns: {order_id: A}
              orders:
                file: a.csv
                columns: {order_id: A, acount_id: B, order_ts: {column: C, fmt: x}}
            """
        )
    )
    with pytest.raises(ValueError) as err:
        stage("csv", [tmp_path], mapping=tmp_path / "mapping.yml")
    text = str(err.value)
    assert "table 'order': not a table of the data model" in text
    assert "'acount_id' is not a column of orders" in text
    assert "unknown key 'fmt'" in text
    assert "required column(s) account_id, warehouse_id, promised_delivery not mapped" in text


def test_csv_mapping_names_a_missing_source_column(tmp_path: Path) -> None:
    (tmp_path / "kunden.csv").write_text(KUNDEN)
    (tmp_path / "mapping.yml").write_text(MAPPING.replace("Firma", "Name").split("  orders:")[0])
    with pytest.raises(ValueError, match=r"kunden.csv \(table 'accounts'\): column\(s\) 'Name'"):
        stage("csv", [tmp_path], mapping=tmp_path / "mapping.yml")
    with pytest.raises(ValueError, match="--mapping"):
        stage("csv", [tmp_path])


def test_cdnow_files_shipped_with_lifetimes(tmp_path: Path) -> None:
    """The real logs: 69,659 transactions of 23,570 customers (Fader & Hardie 2001), and the
    1/10 sample of 6,919 transactions of 2,357 customers; totals checked against pandas."""
    lifetimes = pytest.importorskip("lifetimes")
    folder = Path(lifetimes.__file__).parent / "datasets"
    report = import_data("cdnow", [folder / "CDNOW_master.txt"], tmp_path / "master")
    assert report["rows_read"] == 69_659 and report["rows_set_aside"] == 0
    assert report["tables_written"]["accounts"] == 23_570
    assert report["details"]["header_lines_skipped"] == {
        "CDNOW_master.txt": "customer_id  date number_of_cds  dollar_value"
    }
    expected = pd.read_csv(folder / "CDNOW_master.txt", sep=r"\s+")
    lines = read(tmp_path / "master", "order_lines")
    assert (lines["quantity"] * lines["unit_price"]).sum() == pytest.approx(
        expected["dollar_value"].sum()
    )
    assert lines["quantity"].sum() == expected["number_of_cds"].sum()
    sample = stage("cdnow", [folder / "CDNOW_sample.txt"])
    assert sample.rows_read == sample.rows_kept == 6_919
    assert len(sample.tables["accounts"]) == 2_357
