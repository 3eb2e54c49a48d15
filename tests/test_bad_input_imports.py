"""Bad input to the importers (issue 18): each class of fault is a clear error naming what is
at fault, or its rows are set aside with their reason and counted (rows read = kept + set
aside). Never a wrong number."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from test_adapters import HEADER

from helpers.data.adapters import import_data, stage
from helpers.data.adapters.base import parse_float, parse_int

ONE = "536365,85123A,WHITE HEART,6,12/1/2010 8:26,2.55,{customer},United Kingdom"


def balanced(staged) -> None:
    assert staged.rows_read == staged.rows_kept + staged.rows_set_aside


def retail(tmp_path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path = tmp_path / "online_retail.csv"
    path.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode(encoding))
    return path


def mapped(tmp_path: Path, mapping: str, files: dict[str, str], **options):
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "mapping.yml").write_text(textwrap.dedent(mapping), encoding="utf-8")
    return stage("csv", [tmp_path], mapping=tmp_path / "mapping.yml", **options)


ACCOUNTS = """\
    tables:
      accounts:
        file: accounts.csv
        columns:
          account_id: Id
          company_name: Name
          industry: {value: unknown}
          region: {value: unknown}
          size_band: {value: unknown}
          signup_date: {value: 2024-01-01}
          acquisition_channel: {value: unknown}
    """

LINES = """\
    delimiter: ";"
    decimal: ","
    tables:
      order_lines:
        file: lines.csv
        columns:
          order_id: Order
          line_no: {row_number: true}
          sku: Sku
          quantity: Qty
          unit_price: Price
          discount: {column: Code, map: {STAFF: 0.05, "": 0}, default: 0}
    """
LINES_CSV = """\
    Order;Sku;Qty;Price;Code
    1;A;1.000;2,50;STAFF
    1;B;2;1.250,00;
    2;A;7.0;2,50;X
    2;B;3;0.6;
    """


# ----------------------------------------------------------------------------- integer ids


def test_whole_numbers_written_with_a_zero_fraction_are_exact() -> None:
    values, failed, too_large = parse_int(pd.Series(["7.0", "12346.00", "-3", "7.5", "1e3"]))
    assert values.tolist()[:3] == [7, 12346, -3]
    assert failed.tolist() == [False, False, False, True, True]
    assert not too_large.any()


def test_nineteen_digit_ids_stay_distinct(tmp_path: Path) -> None:
    """Through float64 both became 1234567890123456768 and were then set aside as duplicates."""
    staged = mapped(
        tmp_path,
        ACCOUNTS,
        {"accounts.csv": "Id,Name\n1234567890123456789,a\n1234567890123456788,b\n7.0,c\n"},
    )
    assert staged.tables["accounts"]["account_id"].tolist() == [
        1234567890123456789,
        1234567890123456788,
        7,
    ]
    assert staged.rows_set_aside == 0
    balanced(staged)


def test_ids_beyond_int64_are_set_aside_with_their_reason(tmp_path: Path) -> None:
    staged = stage(
        "online-retail",
        [retail(tmp_path, [ONE.format(customer="17850.0"), ONE.format(customer="1" * 23)])],
    )
    assert staged.set_aside == {
        "Customer ID: out of range (a whole number beyond int64, |n| > 9.2e18)": 1
    }
    assert staged.tables["accounts"]["account_id"].tolist() == [17850]  # 17850.0 exactly
    balanced(staged)
    rows = staged.set_aside_rows["online_retail"]
    assert rows["customer_id"].tolist() == ["1" * 23]  # the source text, as read


def test_invoice_numbers_beyond_int64_are_set_aside(tmp_path: Path) -> None:
    line = ONE.format(customer="17850").replace("536365", "9" * 20, 1)
    staged = stage("online-retail", [retail(tmp_path, [line, ONE.format(customer="17850")])])
    assert staged.set_aside == {
        "Invoice: out of range (a whole number beyond int64, |n| > 9.2e18)": 1
    }
    balanced(staged)


def test_cdnow_ids_beyond_int64_are_set_aside(tmp_path: Path) -> None:
    src = tmp_path / "CDNOW_master.txt"
    src.write_text(f"00001 19970101 1 11.77\n{'9' * 23} 19970101 1 11.77\n")
    staged = stage("cdnow", [src])
    assert staged.set_aside == {
        "customer id: out of range (a whole number beyond int64, |n| > 9.2e18)": 1
    }
    balanced(staged)


# ----------------------------------------------------------------------------- number formats


def test_mapping_constants_and_map_targets_ignore_the_file_number_format(tmp_path) -> None:
    """With decimal ",", a map target 0.05 stays 0.05 (it was 5.0), a constant 0.6 stays 0.6."""
    mapping = LINES.replace(
        "line_no: {row_number: true}",
        "line_no: {row_number: true}\n          unit_cost: {value: 0.6}",
    )
    staged = mapped(tmp_path, mapping, {"lines.csv": LINES_CSV})
    lines = staged.tables["order_lines"].set_index("sku", append=True)
    assert staged.tables["order_lines"]["discount"].tolist() == [0.05, 0.0]
    assert staged.tables["order_lines"]["unit_cost"].tolist() == [0.6, 0.6]
    assert len(lines) == 2
    assert "order_lines.unit_cost = 0.6 for every row (a constant in the mapping)" in (
        staged.assumptions
    )


def test_integer_columns_honour_the_thousands_separator_or_set_aside(tmp_path: Path) -> None:
    staged = mapped(tmp_path, LINES, {"lines.csv": LINES_CSV})
    lines = staged.tables["order_lines"]
    assert lines["quantity"].tolist() == [1000, 2]  # "1.000" with decimal "," is 1000
    assert lines["unit_price"].tolist() == [2.5, 1250.0]
    assert staged.set_aside == {
        # "7.0" is no number when "." groups thousands: never read as 7 or 70
        "order_lines: quantity: does not parse as int64 (decimal ',', thousands '.')": 1,
        # "0.6" in a decimal-comma file: never read as 6
        "order_lines: unit_price: does not parse as float64 (decimal ',', thousands '.')": 1,
    }
    balanced(staged)


def test_declared_thousands_separator_with_decimal_point() -> None:
    values, failed, _ = parse_int(pd.Series(["1,000", "12,345,678", "1,00"]), ".", ",")
    assert values.tolist()[:2] == [1000, 12345678] and failed.tolist() == [False, False, True]
    values, failed, _ = parse_int(pd.Series(["1,000"]))  # no separator declared
    assert failed.tolist() == [True]
    values, failed = parse_float(pd.Series(["NaN", "inf", "1e400", "2.5"]))
    assert failed.tolist() == [True, True, True, False]


def test_a_constant_of_the_wrong_type_names_its_entry(tmp_path: Path) -> None:
    mapping = LINES.replace("map: {STAFF: 0.05,", "map: {STAFF: '0,05',")
    mapping = mapping.replace("quantity: Qty", "quantity: {value: 2.5}")
    with pytest.raises(ValueError) as err:
        mapped(tmp_path, mapping, {"lines.csv": ""})
    text = str(err.value)
    assert "table 'order_lines', column 'discount': map 'STAFF': expected a number" in text
    assert "column 'quantity': value: expected a whole number, got 2.5" in text
    assert "2 problem(s) in the mapping" in text


# ----------------------------------------------------------------------------- dates


def test_a_bad_strftime_directive_names_the_mapping_entry(tmp_path: Path) -> None:
    mapping = ACCOUNTS.replace(
        "signup_date: {value: 2024-01-01}", 'signup_date: {column: Since, format: "%d.%m.%Q"}'
    )
    with pytest.raises(ValueError) as err:
        mapped(tmp_path, mapping, {"accounts.csv": "Id,Name,Since\n1,a,01.02.2024\n"})
    text = str(err.value)
    assert "table 'accounts', column 'signup_date'" in text
    assert "format '%d.%m.%Q' is not a strptime format" in text and "'Q' is a bad directive" in text


# ----------------------------------------------------------------------------- line breaks


def test_a_quoted_newline_in_a_description_neither_splits_nor_glues(tmp_path: Path) -> None:
    lines = [
        '536365,85123A,"WHITE HANGING\nHEART",6,12/1/2010 8:26,2.55,17850,United Kingdom',
        "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom",
    ]
    staged = stage("online-retail", [retail(tmp_path, lines)])
    assert staged.rows_read == 2 and staged.rows_set_aside == 0
    names = staged.tables["products"].set_index("sku")["name"]
    assert names["85123A"] == "WHITE HANGING HEART"  # one space, not "HANGINGHEART"
    assert (
        staged.flagged[
            "lines with a line break inside a field (kept; each break read as one space)"
        ]
        == 1
    )
    rows = staged.set_aside_rows["online_retail"]
    assert rows.empty


@pytest.mark.parametrize("encoding", ["latin-1", None])
def test_a_latin1_nel_byte_in_a_description_is_no_line_end(tmp_path: Path, encoding) -> None:
    """Byte 0x85 (NEL in Latin-1) split the line in two under str.splitlines."""
    lines = [
        "536365,85123A,CAF\xc9 HEART\x85 SET,6,12/1/2010 8:26,2.55,17850,France",
        "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,France",
    ]
    path = retail(tmp_path, lines, encoding="latin-1")
    assert b"\x85" in path.read_bytes()
    staged = stage("online-retail", [path], **({"encoding": encoding} if encoding else {}))
    assert staged.rows_read == 2 and staged.rows_set_aside == 0
    name = staged.tables["products"].set_index("sku")["name"]["85123A"]
    # Latin-1: NEL read as one space; auto-detected Windows-1252 reads 0x85 as an ellipsis
    assert name == ("CAFÉ HEART SET" if encoding else "CAFÉ HEART… SET")


# ----------------------------------------------------------------------------- costs


def test_csv_cost_ratio_is_an_assumption_and_none_leaves_costs_unknown(tmp_path: Path) -> None:
    mapping = LINES.replace('decimal: ","', 'decimal: ","\n    thousands: ""')
    csv = "Order;Sku;Qty;Price;Code\n1;A;2;2,50;\n1;B;1;4,00;\n"
    staged = mapped(tmp_path, mapping, {"lines.csv": csv}, cost_ratio=0.4)
    assert staged.tables["order_lines"]["unit_cost"].tolist() == [1.0, 1.6]
    assert any(a.startswith("order_lines.unit_cost = 0.4 x unit_price") for a in staged.assumptions)
    assert staged.details["costs"]["order_lines"]["cost_from_ratio"] == 2
    staged = mapped(tmp_path, mapping, {"lines.csv": csv})
    assert staged.tables["order_lines"]["unit_cost"].isna().all()
    assert any(
        "margins of the orders holding them will be unknown" in a for a in (staged.assumptions)
    )
    assert staged.details["costs"]["order_lines"]["cost_unknown"] == 2
    with pytest.raises(ValueError, match="cost_ratio must be between 0 and 1"):
        mapped(tmp_path, mapping, {"lines.csv": csv}, cost_ratio=60)


def test_cli_takes_cost_ratio_for_csv(tmp_path: Path, capsys) -> None:
    folder = Path(__file__).parent / "data" / "email_campaign"
    from helpers.data.__main__ import main

    code = main(
        [
            "import",
            "csv",
            str(folder),
            "--mapping",
            str(folder / "mapping.yml"),
            "--out",
            str(tmp_path / "out"),
            "--cost-ratio",
            "0.5",
        ]
    )
    assert code == 2  # no order_lines in this mapping: nothing for the ratio to fill
    assert "--cost-ratio: the mapping fills neither order_lines nor products" in (
        capsys.readouterr().err
    )


# ----------------------------------------------------------------------------- layering


def test_the_import_reads_reports_yml_without_importing_the_report_runner(tmp_path: Path):
    src = tmp_path / "CDNOW_master.txt"
    src.write_text("00001 19970101 1 11.77\n")
    code = (
        "import sys, json\n"
        "from helpers.data.adapters import import_data\n"
        f"r = import_data('cdnow', [{str(src)!r}], {str(tmp_path / 'out')!r})\n"
        "print(json.dumps([r['reports'], [m for m in sys.modules if m.startswith('helpers.rep')]]))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    reports, imported = json.loads(run.stdout.strip().splitlines()[-1])
    assert imported == []
    assert reports["clv"] == "applies"
    assert reports["funnel"] == "missing core table(s): web_events"


def test_reports_status_reads_only_names_and_requires(tmp_path: Path) -> None:
    from helpers.data.adapters.base import reports_status

    (tmp_path / "orders.parquet").write_bytes(b"")
    config = tmp_path / "reports.yml"
    config.write_text(
        "reports:\n"
        "  - {name: a, notebook: x.ipynb, requires: [orders]}\n"
        "  - {name: b, requires: [orders, leads]}\n"
        "  - {name: c, requires_any: [campaign_sends, marketing_spend]}\n"
    )
    assert reports_status(tmp_path, config) == {
        "a": "applies",
        "b": "missing core table(s): leads",
        "c": "needs one of: campaign_sends, marketing_spend",
    }
    config.write_text("reports: [")
    assert "could not read reports.yml" in reports_status(tmp_path, config)["error"]


def test_written_import_balances_with_ids_set_aside(tmp_path: Path) -> None:
    path = retail(tmp_path, [ONE.format(customer="17850"), ONE.format(customer="9" * 30)])
    report = import_data("online-retail", [path], tmp_path / "out")
    assert report["balance"] == "2 read = 1 kept + 1 set aside"
    rows = pd.read_csv(tmp_path / "out" / "import_set_aside" / "online_retail.csv", dtype=str)
    assert rows["_reason"].str.contains("out of range").all()


def test_a_bad_online_retail_date_format_names_the_option(tmp_path: Path) -> None:
    path = retail(tmp_path, [ONE.format(customer="17850")])
    with pytest.raises(ValueError, match=r"date_format '%d/%m/%Q' is not a strptime format"):
        stage("online-retail", [path], date_format="%d/%m/%Q")


def test_cli_says_when_costs_are_unknown(tmp_path: Path, capsys) -> None:
    from helpers.data.__main__ import main

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lines.csv").write_text("Order;Sku;Qty;Price;Code\n1;A;2;2,50;\n")
    (tmp_path / "mapping.yml").write_text(textwrap.dedent(LINES))
    args = ["import", "csv", str(tmp_path / "src"), "--mapping", str(tmp_path / "mapping.yml")]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert "unit_cost unknown on 1 of 1 order lines" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "out2"), "--cost-ratio", "0.5"]) == 0
    assert "unit_cost unknown" not in capsys.readouterr().err
    lines = pd.read_parquet(tmp_path / "out2" / "order_lines.parquet")
    assert lines["unit_cost"].tolist() == [1.25]
    report = json.loads((tmp_path / "out2" / "import_report.json").read_text())
    assert any(
        a.startswith("order_lines.unit_cost = 0.5 x unit_price") for a in (report["assumptions"])
    )
