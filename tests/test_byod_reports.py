"""Bring your own data, end to end: small Online Retail and CDNOW exports written here are
imported, every report in reports.yml is built on each import, and the reports that apply build
while the others say why not.

The fixtures are made by seeded generators below (a few dozen customers over a year or more:
enough for RFM scores, the segment migration and KMeans with k up to 8), plus the kinds of bad
line the adapters set aside (a duplicate, postage, a cancellation, guest sales).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_adapters import write_retail_csv

from helpers.config import PROJ_ROOT
from helpers.data.adapters import import_data

SPECS = yaml.safe_load((PROJ_ROOT / "reports.yml").read_text())["reports"]
REPORTS = [r["name"] for r in SPECS]
WARNING = re.compile(
    r"(Traceback \(most recent call last\)|\w+Warning:|RuntimeWarning|Error:|findfont:)"
)
#: The tables each import writes (the adapters' docstrings).
WRITTEN = {
    "online-retail": {"accounts", "orders", "order_lines", "products", "returns"},
    "cdnow": {"accounts", "orders", "order_lines", "products"},
}
#: Reports that must build on both imports (issue 17: an order-line export builds these four,
#: the sections needing absent tables saying which table they need).
MUST_BUILD = {"overview", "segmentation", "clv", "supply_chain"}
#: Reports being made to run without some of their tables right now (the lead tightens this).
IN_PROGRESS: set[str] = set()


def core_missing(spec: dict, tables: set[str]) -> list[str]:
    """The core tables of a reports.yml entry that ``tables`` lacks: its ``requires``, and its
    ``requires_any`` when ``tables`` holds none of them."""
    missing = [t for t in spec.get("requires", []) if t not in tables]
    any_of = spec.get("requires_any", [])
    return missing + (list(any_of) if any_of and not set(any_of) & tables else [])


def retail_lines(n_customers: int = 60, seed: int = 3) -> list[str]:
    """Online Retail CSV lines (US dates, as the UCI ``data.csv``): customers in three
    countries buying 1 to 4 of 12 stock codes per invoice between December 2010 and December
    2011 at customer-specific rates; plus guest sales (no CustomerID), postage, a duplicated
    line and a cancellation of an earlier purchase."""
    rng = np.random.default_rng(seed)
    codes = [(f"2{2000 + i}", f"ITEM {i}", round(0.5 + 0.45 * i, 2)) for i in range(12)]
    start, days = dt.datetime(2010, 12, 1, 8, 0), 370
    countries = ["United Kingdom"] * 6 + ["France", "Germany"]
    invoices = []  # (time, customer or "", country)
    for c in range(n_customers):
        customer, country = str(12000 + c), countries[c % len(countries)]
        first = rng.integers(0, days // 2)
        n = 1 + rng.poisson(rng.choice([0.3, 2.0, 6.0]))
        for d in sorted(rng.integers(first, days, size=n)):
            invoices.append(
                (
                    start + dt.timedelta(days=int(d), minutes=int(rng.integers(600))),
                    customer,
                    country,
                )
            )
    for d in rng.integers(0, days, size=8):
        invoices.append((start + dt.timedelta(days=int(d), hours=3), "", "France"))
    invoices.sort()
    lines = []
    for number, (when, customer, country) in enumerate(invoices, start=536365):
        stamp = f"{when.month}/{when.day}/{when.year} {when.hour}:{when.minute:02d}"
        for i in rng.choice(len(codes), size=rng.integers(1, 5), replace=False):
            code, name, price = codes[i]
            qty = int(rng.integers(1, 25))
            lines.append(f"{number},{code},{name},{qty},{stamp},{price},{customer},{country}")
        if number % 17 == 0:
            lines.append(f"{number},POST,POSTAGE,1,{stamp},18.0,{customer},{country}")
    lines.append(lines[-1])  # an exact duplicate
    first_sale = next(line for line in lines if line.split(",")[6]).split(",")
    first_sale[0], first_sale[3] = "C999999", "-1"
    first_sale[4] = "12/20/2011 9:00"
    lines.append(",".join(first_sale))  # a cancellation of an earlier purchase
    return lines


def write_cdnow(folder: Path, n_customers: int = 80, seed: int = 5) -> Path:
    """A CDNOW master log (customer id, YYYYMMDD, CDs, dollars; whitespace separated): each
    customer's first purchase in the first quarter of 1997, repeat purchases at a
    customer-specific rate until the end of June 1998, as in Fader & Hardie's cohort."""
    rng = np.random.default_rng(seed)
    start = dt.date(1997, 1, 1)
    rows = []
    for c in range(1, n_customers + 1):
        day = int(rng.integers(0, 90))
        rate = rng.choice([0.002, 0.01, 0.03])
        while day < 546:
            cds = int(rng.integers(1, 6))
            when = start + dt.timedelta(days=day)
            rows.append((c, when, cds, round(cds * rng.uniform(9, 16), 2)))
            day += 1 + int(rng.exponential(1 / rate))
    rows.sort(key=lambda r: (r[0], r[1]))
    path = folder / "CDNOW_master.txt"
    path.write_text(
        "".join(f"{c:>5} {when:%Y%m%d} {cds:>3} {usd:>8.2f}\n" for c, when, cds, usd in rows)
    )
    return path


@pytest.fixture(scope="module")
def imports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("byod")
    retail = write_retail_csv(root, retail_lines())
    cdnow = write_cdnow(root)
    out = {}
    for fmt, src in (("online-retail", retail), ("cdnow", cdnow)):
        out[fmt] = root / fmt
        report = import_data(fmt, [src], out[fmt])
        assert report["rows_read"] == report["rows_kept"] + report["rows_set_aside"]
    return out


def build(data: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers.reports", "build", "--force", "--jobs", "2"]
        + ["--data", str(data), "--out", str(out)]
        + ["--param", f"export_dir={out / 'exports'}"],  # keep reports/exports untouched
        capture_output=True,
        text=True,
        cwd=PROJ_ROOT,
    )


@pytest.fixture(scope="module")
def built(imports, tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    out = {}
    for fmt, data in imports.items():
        folder = tmp_path_factory.mktemp(f"reports-{fmt}")
        out[fmt] = (folder, build(data, folder))
    return out


def test_imports_write_the_expected_tables(imports) -> None:
    for fmt, folder in imports.items():
        tables = {p.stem for p in folder.glob("*.parquet")}
        assert tables == WRITTEN[fmt], fmt


@pytest.mark.parametrize("fmt", ["online-retail", "cdnow"])
def test_reports_build_on_an_import(built, imports, fmt) -> None:
    out, run = built[fmt]
    assert run.returncode == 0, run.stderr[-3000:]
    status = {
        name: json.loads((out / f"{name}.json").read_text(encoding="utf-8")) for name in REPORTS
    }
    for name in MUST_BUILD:
        assert status[name]["status"] == "ok", (name, status[name].get("error"), run.stderr)
    for name in IN_PROGRESS:
        assert status[name]["status"] in ("ok", "not_applicable"), (name, status[name])
    # funnel's core is web_events, the pipeline's leads, campaigns' sends or spend: an import
    # has none of them.
    assert status["funnel"]["reason"] == "not applicable: no web_events table"
    assert status["pipeline"]["reason"] == "not applicable: no leads table"
    assert status["campaigns"]["reason"] == (
        "not applicable: no campaign_sends or marketing_spend table"
    )
    for name, meta in status.items():
        assert meta["status"] in ("ok", "not_applicable"), (name, meta.get("error"))
        spec = next(s for s in SPECS if s["name"] == name)
        missing = core_missing(spec, WRITTEN[fmt])
        # Not applicable exactly when the import lacks the report's core.
        assert (meta["status"] == "not_applicable") == bool(missing), (name, meta)
        for table in missing:
            assert table in meta["reason"], (name, meta["reason"])
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "not applicable: no web_events table" in index
    import_report = json.loads((imports[fmt] / "import_report.json").read_text())
    for name in MUST_BUILD:
        assert import_report["reports"][name] == "applies", name


@pytest.mark.parametrize("fmt", ["online-retail", "cdnow"])
def test_built_reports_are_clean(built, imports, fmt) -> None:
    out, _ = built[fmt]
    for name in REPORTS:
        meta = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        if meta["status"] != "ok":
            continue
        html = (out / f"{name}.html").read_text(encoding="utf-8")
        text = re.sub(r"<style.*?</style>|<script.*?</script>", "", html, flags=re.S)
        text = re.sub(r"data:[\w/+.-]+;base64,[\w+/=]+", "", text)
        found = WARNING.search(text)
        assert not found, f"{name}: {found.group(0)}"
        assert str(imports[fmt].parent) not in text, f"{name} shows the machine's data path"


def test_segmentation_on_an_import_lists_accounts_only(built) -> None:
    for fmt in ("online-retail", "cdnow"):
        out, _ = built[fmt]
        html = (out / "segmentation.html").read_text(encoding="utf-8")
        assert "no contacts table" in html, fmt
        exports = sorted((out / "exports" / "segmentation").glob("*.csv"))
        assert exports, f"{fmt}: no action list written"
        header = exports[0].read_text(encoding="utf-8-sig").splitlines()[0]
        assert header.startswith("account_id,company_name,segment") and "email" not in header
        meta = json.loads((out / "segmentation.json").read_text(encoding="utf-8"))
        assert meta["figures"]["accounts_scored"] > 0
    # Online Retail: the guest accounts (sales without a customer) are not scored.
    out, _ = built["online-retail"]
    ids = {
        int(line.split(",")[0])
        for f in (out / "exports" / "segmentation").glob("*.csv")
        for line in f.read_text(encoding="utf-8-sig").splitlines()[1:]
    }
    assert ids and min(ids) >= 12000


def test_clv_on_an_import_says_what_it_leaves_out(built) -> None:
    """No marketing_spend or service_tickets: the CLV report skips acquisition cost and return
    and uses gross margin, saying why; Online Retail's guest accounts are left out."""
    for fmt in ("online-retail", "cdnow"):
        out, _ = built[fmt]
        html = (out / "clv.html").read_text(encoding="utf-8")
        assert "no <code>marketing_spend</code> table" in html, fmt
        assert "no <code>service_tickets</code> table" in html, fmt
        meta = json.loads((out / "clv.json").read_text(encoding="utf-8"))
        figures, skipped = meta["figures"], meta["sections"]["skipped"]
        assert figures["acquisition_shown"] is False and figures["margin_basis"] == "gross_margin"
        assert figures["valued_accounts"] > 0 and figures["historical_clv_total"] > 0
        assert "model_chosen" in figures
        # the holdout check is in the JSON when its section was built, else it says why not
        assert "holdout" in figures or any("holdout" in title for title in skipped), skipped
        assert "marketing_spend" in skipped["Acquisition cost and return"]
    out, _ = built["online-retail"]
    figures = json.loads((out / "clv.json").read_text(encoding="utf-8"))["figures"]
    assert figures["guest_accounts_left_out"] == 1  # one country had sales without a customer
    html = (out / "clv.html").read_text(encoding="utf-8")
    assert re.search(r"1 guest account(\(s\))? \(sales without a customer", html)


def readme_core() -> dict[str, str]:
    """The "core tables" cell of each row of README's table of reports, by report name (the
    name of its notebook)."""
    readme = (PROJ_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The reports", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        found = re.match(r"\| [^|]+ \| `notebooks/(\w+)\.ipynb` \| ([^|]+) \|", line)
        if found:
            rows[found.group(1)] = found.group(2).strip()
    return rows


def test_readme_lists_each_reports_core_tables() -> None:
    """README's table of reports cannot drift from reports.yml: one row per report, its core
    tables exactly the entry's ``requires`` (``requires_any`` joined by "or")."""
    rows = readme_core()
    assert sorted(rows) == sorted(REPORTS), "README's table lists other reports than reports.yml"
    for spec in SPECS:
        cell = rows[spec["name"]]
        core = spec.get("requires", []) + spec.get("requires_any", [])
        assert re.findall(r"`(\w+)`", cell) == core, (spec["name"], cell)
        if spec.get("requires_any"):
            assert " or ".join(f"`{t}`" for t in spec["requires_any"]) in cell, cell
    assert "docs/bring-your-own-data.md" in (PROJ_ROOT / "README.md").read_text()


BEGIN, END = "<!-- sections:begin -->", "<!-- sections:end -->"


def guide_sections() -> str:
    """The guide's per-section tables, generated from reports.yml and each topic module's
    ``SECTIONS`` (:func:`helpers.sections.needs_markdown`)."""
    import importlib

    from helpers.sections import needs_markdown

    blocks = []
    for spec in SPECS:
        module = importlib.import_module(f"helpers.{spec.get('module', spec['name'])}")
        blocks.append(
            needs_markdown(
                spec["name"],
                spec.get("title", spec["name"]),
                spec.get("requires", []),
                module.SECTIONS,
                spec.get("requires_any", []),
            )
        )
    return "\n\n".join(blocks)


def test_the_guide_says_what_each_section_needs() -> None:
    """docs/bring-your-own-data.md shows, for each report, its core tables and what every
    section needs beyond them, exactly as the code declares it (so neither can drift)."""
    doc = (PROJ_ROOT / "docs" / "bring-your-own-data.md").read_text(encoding="utf-8")
    assert BEGIN in doc and END in doc, f"the guide needs the markers {BEGIN} and {END}"
    shown = doc.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    expected = guide_sections()
    assert shown == expected, (
        "docs/bring-your-own-data.md is out of date; put this between the markers:\n" + expected
    )
