"""The metrics registry (helpers.metrics, issue 25): one name, one meaning.

The registry's own checks run without data; the checks against what the reports publish build
every report once on the small sample (one build for this module, about two minutes on two
cores) and read each ``<name>.json``, ``index.html`` and ``metrics.json``.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest

from helpers import metrics
from helpers.config import PROJ_ROOT
from helpers.metrics import METRICS

REPORTS = ("overview", "segmentation", "service", "clv", "supply_chain", "funnel", "pipeline")
REPORTS = (*REPORTS, "campaigns")
REPORTS = (*REPORTS, "recommendations")


# ----------------------------------------------------------------------- the registry itself


@pytest.mark.parametrize("key", list(METRICS))
def test_entry_is_complete(key: str) -> None:
    m = METRICS[key]
    assert m.key == key and re.fullmatch(r"[a-z][a-z0-9_]*", key), key
    assert m.label.strip() and m.definition.strip(), key
    assert m.unit in metrics.UNITS, (key, m.unit)
    assert m.direction in metrics.DIRECTIONS, (key, m.direction)
    assert m.kind in metrics.KINDS, (key, m.kind)
    assert m.reports and set(m.reports) <= set(REPORTS), (key, m.reports)


def test_no_two_entries_share_a_label() -> None:
    labels = Counter(" ".join(m.label.lower().split()) for m in METRICS.values())
    assert not [label for label, n in labels.items() if n > 1]


def test_functions_resolve_to_callables() -> None:
    bad = {}
    for m in METRICS.values():
        try:
            if not callable(metrics.resolve(m.function)):
                bad[m.key] = f"{m.function} is not callable"
        except (ImportError, AttributeError) as e:
            bad[m.key] = f"{m.function}: {e}"
    assert not bad


def test_lookup_and_labels_of_group_members() -> None:
    assert metrics.lookup("calibration_fit.bgnbd.r").key == "calibration_fit"
    assert metrics.label("calibration_fit.bgnbd.r") == "Model fits, calibration period: bgnbd.r"
    assert metrics.label("gmv") == "GMV"
    assert metrics.lookup("gmv.r") is None  # a scalar entry has no members
    assert metrics.label("not_a_metric") == "not_a_metric"


def test_unknown_keys() -> None:
    figures = {"gmv": 1.0, "at_risk_accounts": 3, "bgnbd": {"r": 1}, "nonsense": 1}
    assert metrics.unknown_keys("overview", figures) == ["at_risk_accounts", "bgnbd", "nonsense"]
    # the old, ambiguous key is gone: CLV publishes high_value_at_risk_accounts
    assert metrics.unknown_keys("clv", {"at_risk_accounts": 3}) == ["at_risk_accounts"]
    assert metrics.unknown_keys("clv", {"high_value_at_risk_accounts": 3}) == []
    assert metrics.unknown_keys("clv", {"bgnbd": 1.0}) == ["bgnbd"]  # a group as a scalar


@pytest.mark.parametrize(
    ("unit", "value", "shown"),
    [
        ("currency", 4988220.4565, "4,988,220"),
        ("currency", 27.786, "27.79"),
        ("count", 1783, "1,783"),
        ("count", 6217.47, "6,217"),
        ("share", 0.2958768, "29.6%"),
        ("ratio", 7.4212, "7.42×"),
        ("flag", True, "Yes"),
        ("text", "feed_ads", "feed_ads"),
        ("currency", None, "—"),
        ("share", float("nan"), "—"),
    ],
)
def test_format_value(unit: str, value, shown: str) -> None:
    assert metrics.format_value(unit, value) == shown


def test_index_card_shows_labels_units_and_dataset_name(tmp_path: Path) -> None:
    from helpers.reports.config import ReportSpec
    from helpers.reports.index import write_index

    record = {
        "name": "overview",
        "status": "ok",
        "html": "overview.html",
        "data_dir": "/home/someone/exports/acme-2026",
        "data_fingerprint": "abc123",
        "figures": {"gmv": 4988220.4565, "last_month_active_accounts": 45, "rows_read": 9},
    }
    (tmp_path / "overview.json").write_text(json.dumps(record))
    spec = ReportSpec(name="overview", notebook=tmp_path / "x.ipynb", title="Overview")
    page = write_index(tmp_path, [spec]).read_text(encoding="utf-8")
    text = _visible(page)
    assert "GMV" in text and "4,988,220" in text
    assert "Accounts ordering, last complete month" in text
    assert "last_month_active_accounts" not in text and "Rows read" not in text
    assert "acme-2026" in text and "abc123" in text and "/home/someone" not in page
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics.registry_json()


# ---------------------------------------------------- against the reports on the small sample


def _visible(page: str) -> str:
    """The text a reader sees: no style block, no tags (attributes such as tooltips go)."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture(scope="module")
def built(small_build) -> Path:
    """Every report built once on the small sample (the session's one build, as ``make
    reports``)."""
    out, run = small_build
    assert run.returncode == 0, run.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def published(built: Path) -> dict[str, dict]:
    """report -> its ``figures``, every report ok."""
    out = {}
    for name in REPORTS:
        record = json.loads((built / f"{name}.json").read_text(encoding="utf-8"))
        assert record["status"] == "ok", (name, record.get("error"))
        out[name] = record["figures"]
    return out


def test_no_report_publishes_an_unknown_or_ambiguous_key(published: dict[str, dict]) -> None:
    """Every key a report publishes is the registry's for that report."""
    unknown = {r: metrics.unknown_keys(r, f) for r, f in published.items()}
    assert not {r: keys for r, keys in unknown.items() if keys}


def test_reports_publishing_one_key_agree(published: dict[str, dict]) -> None:
    """A headline key two reports publish has one value on the same data and period
    (provenance is per report)."""
    by_key: dict[str, dict[str, object]] = {}
    for report, figures in published.items():
        for key, value in figures.items():
            entry = metrics.lookup(key)
            if entry and entry.kind == "provenance":
                continue
            by_key.setdefault(key, {})[report] = value
    differ = {}
    for key, values in by_key.items():
        first, *rest = values.values()
        for other in rest:
            same = (
                math.isclose(first, other, rel_tol=1e-9)
                if isinstance(first, float | int) and isinstance(other, float | int)
                else first == other
            )
            if not same:
                differ[key] = values
    assert not differ


def test_index_shows_labels_not_keys(built: Path, published: dict[str, dict]) -> None:
    page = (built / "index.html").read_text(encoding="utf-8")
    text = _visible(page)
    for report in REPORTS:
        card = re.search(rf'<li class="card" id="{report}">.*?</dl></li>', page, re.S).group(0)
        shown = re.findall(r'<tr data-key="([^"]+)">', card)
        assert shown, report
        card_text = _visible(card)
        for key in shown:
            assert metrics.label(key) in card_text, (report, key)
    values = {v for f in published.values() for v in f.values() if isinstance(v, str)}
    keys = {k for f in published.values() for k in f if "_" in k} - values  # 'pareto_nbd'
    assert not [k for k in keys if re.search(rf"\b{re.escape(k)}\b", text)]


def test_index_names_the_dataset_not_its_path(built: Path, small_sample: Path) -> None:
    page = (built / "index.html").read_text(encoding="utf-8")
    assert small_sample.name in _visible(page)
    assert str(small_sample.resolve()) not in page and str(PROJ_ROOT) not in page


def test_metrics_json_is_written(built: Path) -> None:
    written = json.loads((built / "metrics.json").read_text(encoding="utf-8"))
    assert written == metrics.registry_json()
    for entry in written.values():
        assert {"label", "definition", "unit", "direction"} <= set(entry)
