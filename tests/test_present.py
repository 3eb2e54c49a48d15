"""What notebooks call to show things: headers and flags as a reader reads them, the window
the parameters chose on the data-quality line, lists written in full (CSV and XLSX)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from IPython.display import HTML, Markdown

from helpers import present
from helpers.exports import write_list
from helpers.reports import report_payload


@pytest.mark.parametrize(
    ("column", "shown"),
    [
        ("rows_set_aside", "Rows set aside"),
        ("account_id", "Account ID"),
        ("ci_low", "CI low"),
        ("sku", "SKU"),
        ("Already chosen", "Already chosen"),
        ("P(alive)", "P(alive)"),
        ("revenue", "Revenue"),
    ],
)
def test_header_reads_as_words(column, shown):
    assert present.header(column) == shown


class _Shown(list):
    """What present displayed, in order (markdown and HTML objects)."""

    @property
    def markdown(self) -> str:
        return "".join(o.data for o in self if isinstance(o, Markdown))

    @property
    def html(self) -> str:
        return "".join(o.data for o in self if isinstance(o, HTML))


@pytest.fixture
def shown(monkeypatch) -> _Shown:
    out = _Shown()
    monkeypatch.setattr(present, "display", lambda *objs, **kw: out.extend(objs))
    return out


def _shown_html(df: pd.DataFrame, shown: _Shown, **kwargs) -> str:
    present.table(df, **kwargs)
    return shown.html


def test_table_shows_words_and_yes_no(shown):
    frame = pd.DataFrame({"beats_naive": [True, False], "order_count": [1200, 3]})
    html = _shown_html(frame, shown)
    assert "Beats naive" in html and "Order count" in html
    assert ">Yes<" in html and ">No<" in html
    assert "True" not in html and "False" not in html and "beats_naive" not in html
    assert "1,200" in html
    assert 'class="table-wide"' in html


def test_table_not_paged_shows_every_row_in_plain_html(shown, monkeypatch):
    import itables

    paged_calls = []
    monkeypatch.setattr(itables, "show", lambda *a, **kw: paged_calls.append(a))
    months = pd.DataFrame({"month": [f"2026-{m:02d}" for m in range(1, 13)] * 2, "n": range(24)})
    assert len(months) > present.LONG_TABLE_ROWS
    present.table(months)  # long: the interactive, paged table
    assert len(paged_calls) == 1 and not shown.html
    html = _shown_html(months, shown, paged=False)
    assert len(paged_calls) == 1  # not paged this time
    assert html.count("<tr") == len(months) + 1  # every row, and the header
    assert ">23<" in html  # the last row is on the page


def test_table_refuses_personal_data():
    with pytest.raises(ValueError, match="email"):
        present.table(pd.DataFrame({"email": ["a@example.com"]}))


class _Dataset(SimpleNamespace):
    def period(self, table):
        return pd.Timestamp("2024-11-01 08:00"), pd.Timestamp("2026-10-31 17:00")


def _dataset(set_aside: int) -> _Dataset:
    quality = pd.DataFrame(
        {
            "table": ["orders", "order_lines"],
            "rows_read": [100, 300],
            "rows_kept": [100, 300 - set_aside],
            "rows_set_aside": [0, set_aside],
            "reason": ["", "quantity <= 0"],
            "examples": ["", "L1, L2"],
        }
    )
    return _Dataset(quality=quality, path="data/sample", engine="duckdb", fingerprint="abc")


def test_data_quality_gives_the_window_asked_for_and_the_whole_span(shown):
    figures = present.data_quality(_dataset(0), window=("2025-01-01", "2025-12-31"))
    assert figures["period_start"] == "2025-01-01" and figures["period_end"] == "2025-12-31"
    assert figures["data_start"] == "2024-11-01" and figures["data_end"] == "2026-10-31"
    text = shown.markdown
    assert "**2025-01-01** to **2025-12-31**" in text and "2024-11-01" in text
    # nothing set aside: one sentence, no table of zeros
    assert "every row passed" in text
    assert not shown.html


def test_data_quality_clips_the_window_and_defaults_to_the_data(shown):
    clipped = present.data_quality(_dataset(0), window=("2020-01-01", None))
    whole = present.data_quality(_dataset(0))
    assert (clipped["period_start"], clipped["period_end"]) == ("2024-11-01", "2026-10-31")
    assert (whole["period_start"], whole["period_end"]) == ("2024-11-01", "2026-10-31")


def test_data_quality_shows_only_tables_with_rows_set_aside(shown):
    figures = present.data_quality(_dataset(7))
    assert figures["rows_set_aside"] == 7
    html = shown.html
    assert "Order lines" not in html  # cells keep the table's own name
    assert ">order_lines<" in html and ">orders<" not in html


def test_write_list_writes_every_row_to_csv_and_xlsx(tmp_path):
    df = pd.DataFrame(
        {
            "sku": [f"S{i}" for i in range(30)],
            "company_name": ["Zhōngguó Gōngyè 中国工业"] * 30,
            "ordered_at": pd.date_range("2026-01-01", periods=30, tz="UTC"),
        }
    )
    written = write_list(df, "supply_chain", "reorder_now", tmp_path)
    assert written.rows == 30
    assert written.csv == tmp_path / "supply_chain" / "reorder_now.csv"
    back = pd.read_csv(written.csv, encoding="utf-8-sig")
    assert len(back) == 30 and back.company_name.iloc[0] == "Zhōngguó Gōngyè 中国工业"
    sheet = pd.read_excel(written.xlsx)
    assert len(sheet) == 30 and list(sheet.columns) == list(df.columns)


def test_write_list_refuses_a_path_as_a_name(tmp_path):
    with pytest.raises(ValueError, match="name"):
        write_list(pd.DataFrame({"a": [1]}), "clv", "../escape", tmp_path)


def test_todo_list_shows_the_count_and_top_rows_and_keeps_personal_data_off_the_page(
    tmp_path, shown
):
    df = pd.DataFrame({"account_id": range(25), "email": [f"p{i}@example.com" for i in range(25)]})
    written = present.todo_list(df, "clv", "at_risk", "accounts at risk", export_dir=tmp_path)
    text, html = shown.markdown, shown.html
    assert "**25** accounts at risk" in text and "the first 10 below" in text
    assert "example.com" not in html and "Account ID" in html
    assert len(pd.read_csv(written.csv)) == 25 and "email" in pd.read_csv(written.csv)


def test_series_in_the_payload_are_checked():
    payload = report_payload(
        {"gmv": 1.0}, series={"gmv": {"freq": "month", "values": {"2026-09": 1, "2026-10": 2.5}}}
    )
    assert payload["series"] == {"gmv": {"freq": "month", "values": {"2026-09": 1, "2026-10": 2.5}}}
    with pytest.raises(TypeError, match="freq"):
        report_payload({}, series={"gmv": {"freq": "day", "values": {}}})
