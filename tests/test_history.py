"""Build history, changes since the last build and the end-of-period injection, on a tiny
notebook that publishes registry figures and a weekly series (a build takes a few seconds)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from test_reports import make_project, run

from helpers.reports import history
from helpers.reports.cli import main
from helpers.reports.period import end_parameters, last_complete, resolve_end

PARAMETERS = """\
data_dir = ""  # injected by the runner
gmv = 1000.0  # the GMV this tiny report publishes
orders = 10  # its orders
jump = 0.0  # added to the last week of the series
end = None  # last day counted; injected by --end
analysis_date = None  # the day after it; injected by --end
"""

PUBLISH = """\
from helpers.reports import publish
noise = [100, 97, 104, 99, 102, 95, 101, 106, 98, 103, 100, 96, 105, 99, 102, 97, 101, 104, 98, 100]
values = {f"2026-W{w + 1:02d}": float(v) for w, v in enumerate(noise)}
values["2026-W20"] += jump
publish({"gmv": gmv, "orders": orders}, f"GMV {gmv}", period=("2026-01-01", "2026-05-17"),
        series={"last_week_gmv": {"freq": "week", "values": values}})
print(f"END={end} AD={analysis_date}")
"""

CELLS = [
    ("md", "# Tiny sales\nWhat moved? For the tests."),
    ("code", PARAMETERS, ["parameters"]),
    ("md", "## Key findings"),
    ("code", PUBLISH),
    ("md", "## Data quality"),
]

YML = """\
reports:
  - name: sales
    notebook: sales.ipynb
    title: Tiny sales
"""


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Path]:
    return make_project(tmp_path, YML, {"sales": CELLS})


def record(paths: dict[str, Path]) -> dict:
    return json.loads((paths["out"] / "sales.json").read_text())


def test_history_keeps_each_build_and_the_changes_since_the_last(project, capsys) -> None:
    assert run(project) == 0
    first = record(project)
    assert first["changes"]["since"] is None
    assert first["changes"]["figures"]["gmv"]["previous"] is None
    assert len(history.list_builds(project["out"])) == 1

    assert run(project, "--param", "gmv=1250.5", "--param", "orders=8", "--param", "jump=80") == 0
    second = record(project)
    got = second["changes"]
    assert got["since"]["built_at"] == first["built_at"]
    assert got["figures"]["gmv"] == {
        "current": 1250.5,
        "previous": 1000.0,
        "change": 250.5,
        "relative": pytest.approx(0.2505),
        "tone": "good",
    }
    assert got["figures"]["orders"]["change"] == -2 and got["figures"]["orders"]["tone"] == "bad"
    assert got["series"]["last_week_gmv"]["previous_period"] == "2026-W19"
    assert [f["key"] for f in got["flags"]] == ["last_week_gmv"]  # the planted jump
    assert first["changes"]["flags"] == []  # and none without it

    builds = history.list_builds(project["out"])
    assert len(builds) == 2
    newest = project["out"] / history.HISTORY_DIR / builds[0]["folder"]
    assert json.loads((newest / "sales.json").read_text())["figures"]["gmv"] == 1250.5
    assert builds[0]["reports"]["sales"]["ran"] and builds[0]["overrides"]["gmv"] == 1250.5
    assert builds[0]["data_fingerprint"] == second["data_fingerprint"]

    page = (project["out"] / "sales.html").read_text()
    assert "Since the last build" in page and "▲ +250 (+25.1%)" in page
    index = (project["out"] / "index.html").read_text()
    assert "Worth a look" in index and "chg good" in index and "chg bad" in index

    capsys.readouterr()
    assert main(["history", "--config", str(project["config"]), "--out", str(project["out"])]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listing] == [b["folder"] for b in builds]
    assert "gmv=1250.5" in listing[0] and "ran 1: sales" in listing[0]


def test_a_build_with_nothing_to_do_adds_no_history_and_is_quick(project) -> None:
    assert run(project) == 0
    started = time.perf_counter()
    assert run(project) == 0  # up to date
    seconds = time.perf_counter() - started
    assert len(history.list_builds(project["out"])) == 1
    print(f"no-change rebuild: {seconds:.2f} s")  # measured, not asserted (a benchmark's job)


def test_history_keeps_the_last_n(project, tmp_path: Path) -> None:
    for n in range(3):
        assert run(project, "--param", f"orders={n}", "--keep", "2") == 0
    builds = history.list_builds(project["out"])
    assert len(builds) == 2
    assert [b["overrides"]["orders"] for b in builds] == [2, 1]


def test_reports_yml_sets_how_many_builds_are_kept(project, capsys) -> None:
    project["config"].write_text(YML + "history:\n  keep: 1\n")
    for n in range(2):
        assert run(project, "--param", f"orders={n}") == 0
    assert len(history.list_builds(project["out"])) == 1
    project["config"].write_text(YML + "history:\n  keep: many\n")
    assert run(project) == 2
    assert "history.keep must be a whole number" in capsys.readouterr().err


def test_end_is_injected_into_notebooks_that_declare_it(project) -> None:
    assert run(project, "--end", "2026-05-17") == 0
    params = record(project)["parameters"]
    assert params["end"] == "2026-05-17" and params["analysis_date"] == "2026-05-18"
    ipynb = (project["out"] / "sales.ipynb").read_text()
    assert "END=2026-05-17 AD=2026-05-18" in ipynb
    assert history.list_builds(project["out"])[0]["period_end"] == "2026-05-17"
    assert run(project, "--end", "2026-05-17", "--param", "end=2026-04-30") == 0
    assert record(project)["parameters"]["end"] == "2026-04-30"  # --param wins


def test_last_complete_week_and_month() -> None:
    today = dt.date(2027, 1, 1)
    sat, sun = dt.date(2026, 10, 31), dt.date(2026, 11, 1)
    assert last_complete(sat, "week", today) == dt.date(2026, 10, 25)
    assert last_complete(sun, "week", today) == sun
    assert last_complete(dt.date(2026, 11, 2), "week", today) == sun
    assert last_complete(sat, "month", today) == sat
    assert last_complete(dt.date(2026, 10, 30), "month", today) == dt.date(2026, 9, 30)
    assert last_complete(sun, "week", dt.date(2026, 11, 1)) == dt.date(2026, 10, 25)  # not today
    assert end_parameters("2026-10-25") == {"end": "2026-10-25", "analysis_date": "2026-10-26"}
    with pytest.raises(ValueError, match="last-week, last-month or YYYY-MM-DD"):
        resolve_end("monday", Path("."))


def test_last_week_is_dated_by_the_orders(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        "order_id,order_ts\n1,2026-10-20 10:00:00\n2,2026-10-31 09:30:00\n"
    )
    today = dt.date(2027, 1, 1)
    assert resolve_end("last-week", tmp_path, today) == "2026-10-25"
    assert resolve_end("last-month", tmp_path, today) == "2026-10-31"
    with pytest.raises(ValueError, match="no orders table"):
        resolve_end("last-week", tmp_path / "empty")
