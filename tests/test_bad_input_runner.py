"""Bad input and faults against the report runner (issue 18's runner items, issue 17's sections).

- a validation failure is named (table, column, rows) in the log, ``<name>.json`` and the index,
  not cut to its first line "2 problem(s) in the dataset:";
- a read-only or full reports folder is one clear line and exit code 3, with the pages and JSON
  of the last good build kept (a full disk is simulated by making a write raise ENOSPC; a
  read-only folder by chmod, and for root, whom chmod does not stop, by making the file system
  refuse the write the way it would: ``PermissionError`` from creating the file);
- a report whose optional table is missing still builds, and says how many sections it built.

The notebooks are tiny (see tests/test_reports.py), so each build takes a few seconds.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
from test_reports import GOOD_CELLS, SIMPLE_YML, make_project, read, run

from helpers.reports import atomic
from helpers.reports import build as build_mod
from helpers.reports import render as render_mod

ORDERS_CSV = (
    "order_id,account_id,order_ts,warehouse_id,promised_delivery\n"
    "1,1,2024-01-02T10:00:00,W1,2024-01-05T00:00:00\n"
    "2,1,2031-01-02T10:00:00,W1,2031-01-05T00:00:00\n"  # in the future
    "3,2,2024-02-02T10:00:00,W1,2024-01-01T00:00:00\n"  # promised before it was ordered
    "4,2,2024-02-03T10:00:00,W1,2024-02-05T00:00:00\n"
)

VALIDATING_CELLS = [
    ("md", "# Validates strictly"),
    ("code", 'data_dir = ""', ["parameters"]),
    ("md", "## Key findings"),
    (
        "code",
        "import datetime\nfrom helpers.data import open_dataset\n"
        "open_dataset(data_dir, strict=True, tables=['orders'], today=datetime.date(2026, 1, 1))",
    ),
]

SECTIONS_CELLS = [
    ("md", "# Sections"),
    ("code", 'data_dir = ""', ["parameters"]),
    ("md", "## Key findings"),
    (
        "code",
        "from helpers.data.files import has_table\n"
        "from helpers.reports import publish\n"
        "from helpers.sections import Analysis, Section\n"
        "SECTIONS = (Section('kpis', 'Orders by month'),\n"
        "            Section('delivery', 'On-time delivery',\n"
        "                    needs={'shipments': ('order_id', 'delivered_at')}))\n"
        "have = [t for t in ('orders', 'shipments') if has_table(data_dir, t)]\n"
        "res = Analysis.start('tiny', SECTIONS, have)\n"
        "print(res.reason('delivery'))\n"
        "publish({'orders': 4}, 'Four orders.', sections=res.summary())",
    ),
]


def test_validation_failure_is_named_in_log_json_and_index(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    yml = "reports:\n  - name: strict\n    notebook: strict.ipynb\n    requires: [orders]\n"
    paths = make_project(tmp_path, yml, {"strict": VALIDATING_CELLS})
    (paths["data"] / "orders.csv").write_text(ORDERS_CSV)
    capsys.readouterr()
    assert run(paths, "--jobs", "1") == 1
    log = capsys.readouterr().err
    error = json.loads(read(paths["out"] / "strict.json"))["error"]
    lines = error.splitlines()
    assert lines[0].startswith("DataValidationError: 2 problem(s) in the dataset:"), error
    assert len(lines) == 3, error
    for column, rule in (("promised_delivery", "before order_ts"), ("order_ts", "after today")):
        (line,) = [line for line in lines if rule in line]  # one line: table, column, rows
        assert "orders" in line and column in line and re.search(r"\b1 row", line), line
        assert line.strip() in log, log  # the log keeps it too
    index = read(paths["out"] / "index.html")
    card = re.search(r'<li class="card failed" id="strict">.*?</li>', index, re.S).group(0)
    for line in lines:
        assert line.strip().replace("'", "&#x27;") in card, (line, card)
    # the summary at the end of the log names the report and the first line
    assert "failed: strict: DataValidationError: 2 problem(s)" in log


def test_a_long_error_is_kept_line_by_line_within_limits() -> None:
    problems = [f"table 'orders', column c{i}: {i} row(s), e.g. order_id={i}" for i in range(40)]
    text = build_mod._describe(ValueError("40 problem(s) in the dataset:\n" + "\n".join(problems)))
    lines = text.splitlines()
    assert len(lines) == build_mod.MAX_ERROR_LINES
    assert lines[0] == "ValueError: 40 problem(s) in the dataset:"
    assert lines[1] == problems[0] and lines[-1] == "  ... and 27 more lines"
    long = build_mod._describe(ValueError("x" * 1000))
    assert len(long) == build_mod.MAX_ERROR_LINE and long.endswith("...")


class Executed(Exception):
    """Raised by a stand-in for the notebook run: no kernel may start."""


def _good_build(tmp_path: Path) -> tuple[dict[str, Path], dict[str, bytes]]:
    paths = make_project(tmp_path, SIMPLE_YML, {"simple": GOOD_CELLS})
    assert run(paths, "--jobs", "1") == 0
    kept = {p.name: p.read_bytes() for p in paths["out"].iterdir() if p.is_file()}
    assert {"simple.html", "simple.json", "index.html", "index.json"} <= set(kept)
    return paths, kept


def _assert_kept(out: Path, kept: dict[str, bytes]) -> None:
    """Every file as it was; the index may have been written again (when there was room for
    it), but with the same reports in the same state."""
    now = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert set(now) == set(kept)
    for name in set(kept) - {"index.html", "index.json"}:
        assert now[name] == kept[name], f"{name} of the last good build changed"
    assert json.loads(now["index.json"])["reports"] == json.loads(kept["index.json"])["reports"]
    assert not list(out.glob(".*.tmp*")), "temporary files left behind"


def _one_clear_line(err: str, why: str) -> None:
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: cannot write the reports to "), err
    assert why in last and "the pages of earlier builds are kept" in last, last


def test_read_only_reports_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, kept = _good_build(tmp_path)
    out = paths["out"]
    mode = out.stat().st_mode
    out.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.geteuid() == 0:  # root writes anyway: refuse as the file system would
        real = atomic.tempfile.mkstemp

        def refuse(*args, **kwargs):
            folder = Path(kwargs.get("dir") or ".").resolve()
            if folder.is_relative_to(out.resolve()):
                raise PermissionError(errno.EACCES, "Permission denied", str(folder))
            return real(*args, **kwargs)

        monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)

    def no_kernel(*args, **kwargs):
        raise Executed("a report ran although its folder cannot be written")

    monkeypatch.setattr(build_mod, "_execute", no_kernel)
    try:
        capsys.readouterr()
        assert run(paths, "--jobs", "1", "--force") == 3
        _one_clear_line(capsys.readouterr().err, "there is no permission to write there")
    finally:
        out.chmod(mode)
    _assert_kept(out, kept)


@pytest.mark.parametrize("where", ["page", "record"])
def test_disk_full_while_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """ENOSPC while the page is written (half of it already out), or while the JSON and the
    index are: exit 3, one line, every file of the last good build as it was."""
    paths, kept = _good_build(tmp_path)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "page":

        def half_then_full(text: str):
            yield text[: len(text) // 2]
            full()

        monkeypatch.setattr(render_mod, "_chunks", half_then_full)
    else:
        monkeypatch.setattr(atomic, "write_json", full)
    capsys.readouterr()
    assert run(paths, "--jobs", "1", "--force") == 3
    err = capsys.readouterr().err
    _one_clear_line(err, "the disk is full")
    assert re.search(r"FAILED  simple .*the disk is full", err), err
    _assert_kept(paths["out"], kept)


def test_a_write_error_elsewhere_is_not_called_a_full_reports_folder(tmp_path: Path) -> None:
    """A permission error on a file outside the reports folder (the notebook's own export,
    say) stays that report's failure, not the build's."""
    out = tmp_path / "reports"
    outside = OSError(errno.EACCES, "Permission denied", str(tmp_path / "elsewhere.csv"))
    inside = OSError(errno.EACCES, "Permission denied", str(out / "x.html"))
    assert not build_mod._is_output_error(outside, out)
    assert build_mod._is_output_error(inside, out)
    assert build_mod._is_output_error(OSError(errno.ENOSPC, "No space left on device"), out)
    assert not build_mod._is_output_error(OSError(errno.ENOENT, "No such file"), out)


def test_report_whose_optional_table_is_missing_still_builds(tmp_path: Path) -> None:
    yml = "reports:\n  - name: tiny\n    notebook: tiny.ipynb\n    requires: [orders]\n"
    paths = make_project(tmp_path, yml, {"tiny": SECTIONS_CELLS})  # data: orders only
    assert run(paths, "--jobs", "1") == 0
    record = json.loads(read(paths["out"] / "tiny.json"))
    assert record["status"] == "ok"
    assert record["sections"] == {
        "built": ["kpis"],
        "total": 2,
        "skipped": {
            "On-time delivery": "This section needs the shipments table (order_id, "
            "delivered_at): see docs/bring-your-own-data.md."
        },
    }
    page = read(paths["out"] / "tiny.html")
    assert "This section needs the shipments table" in page
    card = re.search(
        r'<li class="card" id="tiny">.*?</li>', read(paths["out"] / "index.html"), re.S
    )
    assert "1 of 2 sections" in card.group(0) and "On-time delivery" in card.group(0)
    # with the table, every section builds
    shutil.copy(paths["data"] / "orders.csv", paths["data"] / "shipments.csv")
    assert run(paths, "--jobs", "1") == 0
    record = json.loads(read(paths["out"] / "tiny.json"))
    assert record["sections"]["built"] == ["kpis", "delivery"]
    assert "2 of 2 sections" in read(paths["out"] / "index.html")
