"""The worked examples of docs/bring-your-own-data.md, each a small hand-made export in
tests/data/<example>/ with its mapping.yml: imported with the csv adapter, then opened with
open_dataset. Every count below is worked out by hand from the fixture lines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.config import PROJ_ROOT
from helpers.data.adapters import import_data
from helpers.data.dataset import open_dataset

EXAMPLES = Path(__file__).parent / "data"
GUIDE = PROJ_ROOT / "docs" / "bring-your-own-data.md"


def run(name: str, tmp_path: Path, **options) -> tuple[dict, object, Path]:
    folder = EXAMPLES / name
    out = tmp_path / name
    report = import_data("csv", [folder], out, mapping=folder / "mapping.yml", **options)
    assert report["rows_read"] == report["rows_kept"] + report["rows_set_aside"]
    ds = open_dataset(out, tables=list(report["tables_written"]))
    return report, ds, out


def table(out: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / f"{name}.parquet")


@pytest.mark.parametrize("name", ["crm_opportunities", "email_campaign", "support_tickets"])
def test_the_guide_shows_each_mapping_as_tested(name: str) -> None:
    """The guide's mapping of each example is the fixture's, line for line."""
    guide = GUIDE.read_text(encoding="utf-8")
    mapping = (EXAMPLES / name / "mapping.yml").read_text(encoding="utf-8")
    assert mapping.strip() in guide, f"docs/bring-your-own-data.md lacks {name}/mapping.yml"


def test_crm_opportunity_export(tmp_path: Path) -> None:
    report, ds, out = run("crm_opportunities", tmp_path)
    # 10 lines read for each of the two tables
    assert (report["rows_read"], report["rows_kept"], report["rows_set_aside"]) == (20, 16, 4)
    assert report["kept"] == {
        "accounts": 4,
        "accounts (merged into the row of the same account_id)": 4,
        "leads": 8,
    }
    assert report["set_aside"] == {
        "accounts: signup_date: missing value": 1,  # a prospect without an engage date
        "accounts: account_id: missing value": 1,  # an opportunity without an account
        "leads: created_at: missing value": 1,
        "leads: closed_at: does not parse as timestamp": 1,  # 2024-02-30
    }
    ids = report["details"]["keys"]["account"]
    assert ids == {"Cancity": 1, "Codehow": 2, "Hottechi": 3, "Isdom": 4, "Zathunicon": 5}
    accounts = table(out, "accounts").set_index("company_name")
    assert accounts["account_id"].to_dict() == {k: v for k, v in ids.items() if k != "Zathunicon"}
    assert str(accounts.loc["Cancity", "signup_date"]) == "2024-01-08"  # earliest of two
    leads = table(out, "leads")
    opportunity = report["details"]["keys"]["opportunity"]
    by_id = leads.set_index("lead_id")
    assert by_id.loc[opportunity["1C1I7A6R"], "account_id"] == ids["Cancity"]
    assert by_id.loc[opportunity["1C1I7A6R"], "amount"] == 1054.0  # "1,054", thousands ","
    assert pd.isna(by_id.loc[opportunity["LXQFU6C2"], "account_id"])  # unmatched lead kept
    assert leads["outcome"].value_counts().to_dict() == {"won": 4, "lost": 2, "open": 2}
    # the data layer sets aside the lost deal closed before it was engaged (9A8C3XQ1)
    assert ds.table_quality["leads"].rows_kept == 7
    assert sum(ds.table_quality["leads"].set_aside.values()) == 1
    assert ds.table_quality["accounts"].rows_kept == 4
    assert report["reports"]["pipeline"] == "applies"


def test_email_campaign_result_export(tmp_path: Path) -> None:
    report, ds, out = run("email_campaign", tmp_path)
    assert (report["rows_read"], report["rows_kept"], report["rows_set_aside"]) == (20, 18, 2)
    assert report["kept"] == {
        "accounts": 9,
        "accounts (merged into the row of the same account_id)": 1,  # Donware twice
        "campaign_sends": 8,
    }
    assert report["set_aside"] == {
        "campaign_sends: clicked_at: Visited is not yes/no": 1,  # "ja"
        "campaign_sends: revenue: does not parse as float64 (decimal ',', thousands '.')": 1,
    }
    sends = table(out, "campaign_sends").set_index("send_id")
    assert list(sends.index) == [2, 3, 4, 5, 6, 7, 8, 9]  # line numbers; both Donware kept
    assert sorted(sends["group"].unique()) == ["Subject A", "Subject B", "control"]
    assert sends.loc[3, "revenue"] == 1250.5  # "1.250,50"
    assert sends["converted_at"].notna().sum() == 3
    assert sends["clicked_at"].notna().sum() == 4
    assert (sends["sent_at"] == pd.Timestamp("2024-03-01 09:00")).all()
    ids = report["details"]["keys"]["account"]
    assert sends.loc[8, "account_id"] == sends.loc[9, "account_id"] == ids["Donware"]
    assert ds.rows_set_aside == 0
    assert ds.table_quality["campaign_sends"].rows_kept == 8
    assert any("send_id = the row's line number" in a for a in report["assumptions"])
    assert any(
        "converted_at = 2024-03-01 09:00:00 where Converted is yes" in a
        for a in (report["assumptions"])
    )


def test_support_ticket_export(tmp_path: Path) -> None:
    report, ds, out = run("support_tickets", tmp_path)
    assert (report["rows_read"], report["rows_kept"], report["rows_set_aside"]) == (18, 13, 5)
    assert report["kept"] == {
        "accounts": 5,
        "accounts (merged into the row of the same account_id)": 3,
        "service_tickets": 5,
    }
    assert report["set_aside"] == {
        "accounts: signup_date: does not parse as date": 1,  # 03/08/2024 without a format
        "service_tickets: cost: below 0": 1,
        "service_tickets: opened_at: does not parse as timestamp": 1,
        "service_tickets: ticket_id: out of range (a whole number beyond int64)": 1,
        "service_tickets: exact duplicate of an earlier line": 1,
    }
    tickets = table(out, "service_tickets").set_index("ticket_id")
    assert list(tickets.index) == [1001, 1002, 1003, 1004, 1005]
    assert tickets["reopened"].to_dict() == {
        1001: False,
        1002: True,
        1003: False,
        1004: False,
        1005: True,
    }
    assert pd.isna(tickets.loc[1003, "resolved_at"])  # still open
    # the data layer sets aside ticket 1004, solved before it was opened
    assert ds.table_quality["service_tickets"].rows_kept == 4
    assert report["reports"]["service"] == "applies"
    # no order_lines: no cost assumptions
    assert report["details"]["costs"] == {}
