"""End-to-end tests of the report runner (``python -m helpers.reports``) on tiny notebooks.

The notebooks are generated with nbformat in temporary folders and import nothing heavy, so a
report builds in a couple of seconds (most of it kernel start-up).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers.data.files import has_table
from helpers.reports import MIME_TYPE, report_payload
from helpers.reports import build as build_mod
from helpers.reports import render as render_mod
from helpers.reports.cli import main
from helpers.reports.config import ConfigError, load_config, parse_param, select
from helpers.reports.fingerprint import data_fingerprint, git_commit, source_hash

PARAMETERS = """\
greeting = "hello"  # who we greet
n = 1  # a number
start = "2024-01-01"  # a date, as an ISO string
data_dir = ""  # the dataset folder; injected by the runner
"""

# a 1x1 PNG
TINY_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIA"
    "X8jx0gAAAABJRU5ErkJggg=="
)

GOOD_CELLS = [
    ("md", "# Tiny report\nDoes the runner work? For the test suite."),
    ("code", PARAMETERS, ["parameters"]),
    ("md", "## Key **findings**\nComputed below."),
    ("code", "CODE_MARKER_XYZ = 1\nprint(f'GREETING={greeting} N={n} DATA={data_dir}')"),
    ("code", "print(f'START={type(start).__name__}:{start}')"),
    ("md", "## Data quality & definitions"),
    (
        "code",
        "import datetime\nfrom helpers.reports import publish\n"
        "publish({'n': n, 'ratio': 0.5, 'label': greeting}, f'{greeting} finding',\n"
        "        period=(datetime.date(2024, 1, 1), '2024-12-31'))",
    ),
    (
        "code",
        "import base64\nfrom IPython.display import Image, display\n"
        f"png = base64.b64decode('{TINY_PNG}')\n"
        "display(Image(data=png), metadata={'image/png': {'alt': 'Tiny chart, EUR'}})",
    ),
    ("code", "print('REMOVED_OUTPUT_XYZ')", ["remove-output"]),
    ("code", "print('REMOVED_CELL_XYZ')", ["remove-cell"]),
    ("code", "INPUT_HIDDEN_XYZ = 2\nprint('SHOWN_OUTPUT_XYZ')", ["remove-input"]),
]

BAD_CELLS = [
    ("md", "# A report that fails"),
    ("code", 'data_dir = ""', ["parameters"]),
    ("md", "## Before the failure"),
    ("code", "raise ValueError('deliberate failure')"),
]


def write_notebook(path: Path, cells: list[tuple]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, source, *tags in cells:
        meta = {"tags": tags[0]} if tags else {}
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(make(source, metadata=meta))
    nbformat.write(nb, path)
    return path


def make_project(root: Path, reports_yml: str, notebooks: dict[str, list]) -> dict[str, Path]:
    (root / "data").mkdir(parents=True)
    (root / "data" / "orders.csv").write_text("order_id\n1\n")
    for name, cells in notebooks.items():
        write_notebook(root / f"{name}.ipynb", cells)
    (root / "reports.yml").write_text(textwrap.dedent(reports_yml))
    return {"config": root / "reports.yml", "data": root / "data", "out": root / "reports"}


def run(paths: dict[str, Path], *extra: str) -> int:
    return main(
        [
            "build",
            "--config",
            str(paths["config"]),
            "--data",
            str(paths["data"]),
            "--out",
            str(paths["out"]),
            *extra,
        ]
    )


SIMPLE_YML = """\
reports:
  - name: simple
    notebook: simple.ipynb
    title: Simple report
    parameters: {greeting: from-config}
"""


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One parallel build of a good and a failing report, shared by several tests."""
    root = tmp_path_factory.mktemp("project")
    paths = make_project(
        root,
        """\
        reports:
          - name: good
            notebook: good.ipynb
            title: The good report
            parameters:
              greeting: from-config
          - name: bad
            notebook: bad.ipynb
            title: The bad report
        """,
        {"good": GOOD_CELLS, "bad": BAD_CELLS},
    )
    code = run(paths, "--jobs", "2")
    out = paths["out"]
    return {"code": code, "out": out, "root": root, **paths}


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def body_of(page: str) -> str:
    """The page without its (large, static) inline CSS."""
    return re.sub(r"<style.*?</style>", "", page, flags=re.S)


# ------------------------------------------------------------------ the shared build


def test_failure_is_isolated_and_exit_code_is_1(built: dict) -> None:
    out = built["out"]
    assert built["code"] == 1
    good = json.loads(read(out / "good.json"))
    bad = json.loads(read(out / "bad.json"))
    assert good["status"] == "ok" and (out / "good.html").is_file()
    assert bad["status"] == "failed"
    assert "ValueError: deliberate failure" in bad["error"]
    # the executed (failing) notebook is kept and rendered, with papermill's error banner
    assert bad["html"] == "bad.failed.html" and bad["ipynb"] == "bad.failed.ipynb"
    failed_page = read(out / "bad.failed.html")
    assert "deliberate failure" in failed_page
    assert "An Exception was encountered" in failed_page
    assert not (out / "bad.html").exists()
    # ... and linked from the index, marked failed
    index = read(out / "index.html")
    card = re.search(r'<li class="card failed" id="bad">.*?</li>', index, re.S)
    assert card and 'href="bad.failed.html"' in card.group(0) and "FAILED" in card.group(0)
    assert re.search(r'<li class="card" id="good">.*?href="good.html"', index, re.S)
    machine = json.loads(read(out / "index.json"))
    assert [(r["name"], r["status"]) for r in machine["reports"]] == [
        ("good", "ok"),
        ("bad", "failed"),
    ]
    assert not list(out.glob(".*.tmp*")), "temporary files left behind"


def test_html_hides_code_and_has_toc(built: dict) -> None:
    page = read(built["out"] / "good.html")
    assert "<title>The good report</title>" in page
    assert "CODE_MARKER_XYZ" not in page  # code cell sources are not shown
    assert "print(" not in body_of(page)
    assert "INPUT_HIDDEN_XYZ" not in page and "SHOWN_OUTPUT_XYZ" in page  # remove-input
    assert "REMOVED_OUTPUT_XYZ" not in page  # remove-output
    assert "REMOVED_CELL_XYZ" not in page  # remove-cell
    toc = re.search(r'<nav[^>]*class="report-toc".*?</nav>', page, re.S)
    assert toc, "no table of contents"
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', toc.group(0))
    assert [text for _, text in links] == ["Key findings", "Data quality &amp; definitions"]
    for anchor, _ in links:  # each entry points at a heading nbconvert gave that id
        assert re.search(rf'<h2 id="{re.escape(anchor)}"', page)
    # the contents follow the title cell
    assert page.index('id="Tiny-report"') < page.index('class="report-toc"')
    # images are embedded, with the alt text given in the output metadata
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) == 1
    assert 'src="data:image/png;base64,' in images[0] and 'alt="Tiny chart, EUR"' in images[0]
    footer = re.search(r"<footer.*?</footer>", page, re.S).group(0)
    good = json.loads(read(built["out"] / "good.json"))
    assert good["data_fingerprint"] in footer and good["git_commit"] in footer
    assert good["built_at"] in footer


def test_parameters_are_injected(built: dict) -> None:
    page = read(built["out"] / "good.html")
    data = built["data"].resolve()
    # reports.yml overrides the notebook default; data_dir is always injected
    assert f"GREETING=from-config N=1 DATA={data}" in page
    executed = nbformat.read(built["out"] / "good.ipynb", as_version=4)
    tags = [c.metadata.get("tags", []) for c in executed.cells]
    assert ["injected-parameters"] in tags
    record = json.loads(read(built["out"] / "good.json"))
    assert record["parameters"] == {"greeting": "from-config", "data_dir": str(data)}


def test_publish_figures_end_up_in_json(built: dict) -> None:
    record = json.loads(read(built["out"] / "good.json"))
    assert record["figures"] == {"n": 1, "ratio": 0.5, "label": "from-config"}
    assert record["finding"] == "from-config finding"
    assert record["period"] == {"start": "2024-01-01", "end": "2024-12-31"}
    for key in (
        "name",
        "title",
        "status",
        "data_fingerprint",
        "build_seconds",
        "git_commit",
        "built_at",
        "parameters",
    ):
        assert key in record
    assert record["title"] == "The good report"
    assert record["build_seconds"] > 0
    # shown on the index card
    index = read(built["out"] / "index.html")
    assert "from-config finding" in index and "2024-01-01 – 2024-12-31" in index


def test_publish_output_shows_nothing_in_plain_nbconvert(built: dict) -> None:
    """Even without the runner stripping it, nbconvert renders nothing for the mime type."""
    from nbconvert import HTMLExporter

    executed = nbformat.read(built["out"] / "good.ipynb", as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    published = [o for o in outputs if MIME_TYPE in o.get("data", {})]
    assert len(published) == 1 and list(published[0]["data"]) == [MIME_TYPE]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not able to be represented"
        page, _ = HTMLExporter().from_notebook_node(executed)
    assert "from-config finding" not in page  # only in the published payload
    assert MIME_TYPE not in page


EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I
)


def test_html_fetches_nothing_from_the_network(built: dict) -> None:
    for name in ("good.html", "bad.failed.html", "index.html"):
        page = read(built["out"] / name)
        assert not EXTERNAL.search(page), name
        assert render_mod.external_urls(page) == [], name
        assert "require.js" not in page and "mathjax" not in page.lower()


# ------------------------------------------------------------------ builds of their own


def test_param_override_from_command_line(tmp_path: Path) -> None:
    paths = make_project(tmp_path, SIMPLE_YML, {"simple": GOOD_CELLS})
    code = run(paths, "--param", "greeting=cli", "--param", "n=7", "--param", "start=2025-01-01")
    assert code == 0
    page = read(paths["out"] / "simple.html")
    assert "GREETING=cli N=7" in page
    assert "START=str:2025-01-01" in page  # a date stays an ISO string
    record = json.loads(read(paths["out"] / "simple.json"))
    assert record["parameters"]["n"] == 7 and record["figures"]["n"] == 7


def test_skip_when_unchanged_rebuild_when_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = make_project(tmp_path, SIMPLE_YML, {"simple": GOOD_CELLS})
    html = paths["out"] / "simple.html"
    # pin the hash of src/helpers, so that an edit elsewhere while the tests run is no change
    monkeypatch.setattr(build_mod, "source_hash", lambda: "helpers-v1")

    def build(*extra: str) -> str:
        capsys.readouterr()
        assert run(paths, "--jobs", "1", *extra) == 0
        err = capsys.readouterr().err
        if "skip    simple" in err:
            return "skipped"
        assert "ok      simple" in err
        return "built"

    def unchanged(*extra: str) -> None:
        before = html.stat().st_mtime_ns
        real = build_mod._execute

        def must_not_run(*args, **kwargs):  # a skip starts no kernel
            raise AssertionError("a kernel was started for an up-to-date report")

        monkeypatch.setattr(build_mod, "_execute", must_not_run)
        assert build(*extra) == "skipped"
        monkeypatch.setattr(build_mod, "_execute", real)
        assert html.stat().st_mtime_ns == before
        assert json.loads(read(paths["out"] / "simple.json"))["status"] == "ok"

    assert build() == "built"
    unchanged()
    # data changed
    (paths["data"] / "new.csv").write_text("x\n")
    assert build() == "built"
    unchanged()
    # parameters changed (command line), then back: each is a different build
    assert build("--param", "n=3") == "built"
    unchanged("--param", "n=3")
    assert "N=3" in read(html)
    # reports.yml parameters changed
    paths["config"].write_text(SIMPLE_YML.replace("from-config", "edited"))
    assert build() == "built"
    assert "GREETING=edited" in read(html)
    # notebook changed
    write_notebook(tmp_path / "simple.ipynb", [*GOOD_CELLS, ("md", "## An added section")])
    assert build() == "built"
    assert "An added section" in read(html)
    unchanged()
    # the helpers package changed
    monkeypatch.setattr(build_mod, "source_hash", lambda: "helpers-v2")
    assert build() == "built"
    unchanged()
    # forced
    assert build("--force") == "built"
    monkeypatch.setenv("FORCE", "1")
    assert build() == "built"


def test_crash_while_rendering_keeps_previous_html(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = make_project(tmp_path, SIMPLE_YML, {"simple": GOOD_CELLS})
    assert run(paths, "--jobs", "1") == 0
    html = paths["out"] / "simple.html"
    good_page = html.read_bytes()

    def crash_midway(text: str):
        yield text[: len(text) // 2]  # half the page is written ...
        raise OSError("simulated crash while writing")  # ... then the writer dies

    monkeypatch.setattr(render_mod, "_chunks", crash_midway)
    assert run(paths, "--jobs", "1", "--force") == 1
    assert html.read_bytes() == good_page  # the previous good report is intact
    assert not list(paths["out"].glob(".*.tmp*")), "temporary files left behind"
    record = json.loads(read(paths["out"] / "simple.json"))
    assert record["status"] == "failed" and "simulated crash" in record["error"]
    assert record["last_good"]["html"] == "simple.html"
    assert 'href="simple.html"' in read(paths["out"] / "index.html")  # last good linked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reports:\n  - name: overview\n    notebok: x.ipynb\n", ["'overview'", "notebok"]),
        ("reports:\n  - name: overview\n    title: T\n", ["'overview'", "notebook"]),
        (
            "reports:\n  - {name: a, notebook: a.ipynb}\n  - {name: a, notebook: b.ipynb}\n",
            ["'a'", "twice"],
        ),
        (
            "reports:\n  - {name: a, notebook: a.ipynb, parameters: {data_dir: x}}\n",
            ["'a'", "data_dir"],
        ),
        ("reports:\n  - {name: a, notebook: a.ipynb, parameters: [1, 2]}\n", ["'a'", "parameters"]),
        (
            "reports:\n  - {name: a, notebook: a.ipynb, variants: [{title: x}]}\n",
            ["'a'", "variants[0]", "name"],
        ),
        ("reports:\n  - {name: 'bad name', notebook: a.ipynb}\n", ["reports[0]", "name"]),
        ("reports:\n  - {name: a, notebook: missing.ipynb}\n", ["'a'", "missing.ipynb"]),
        ("reports: [\n", ["not valid YAML"]),
        ("report:\n  - {name: a}\n", ["reports"]),
    ],
)
def test_bad_config_exits_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture, text: str, expected: list[str]
) -> None:
    (tmp_path / "data").mkdir()
    write_notebook(tmp_path / "a.ipynb", [("code", "x = 1")])
    config = tmp_path / "reports.yml"
    config.write_text(text)
    code = main(["build", "--config", str(config), "--data", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2
    for part in expected:
        assert part in err, err
    assert not (tmp_path / "reports" / "index.html").exists()


def test_unknown_only_and_bad_param_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    paths = make_project(tmp_path, SIMPLE_YML, {"simple": GOOD_CELLS})
    assert run(paths, "--only", "nosuch") == 2
    assert "nosuch" in capsys.readouterr().err
    assert run(paths, "--param", "no-equals-sign") == 2
    assert run(paths, "--param", "data_dir=/x") == 2
    assert "--data" in capsys.readouterr().err


def test_list_prints_names_with_variants(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "reports.yml"
    config.write_text(
        textwrap.dedent(
            """\
            reports:
              - name: overview
                notebook: o.ipynb
                title: Overview
                parameters: {start: 2024-01-01, region: all}
                variants:
                  - {name: north, parameters: {region: north}}
                  - {name: south, title: The south, parameters: {region: south}}
              - name: funnel
                notebook: f.ipynb
            """
        )
    )
    assert main(["list", "--config", str(config)]) == 0
    assert capsys.readouterr().out.split() == ["overview-north", "overview-south", "funnel"]
    specs = load_config(config)
    north, south, funnel = specs
    assert north.parameters == {"start": "2024-01-01", "region": "north"}
    assert north.title == "Overview (north)" and south.title == "The south"
    assert funnel.title == "funnel" and north.notebook == (tmp_path / "o.ipynb").resolve()
    assert [s.name for s in select(specs, ["overview"])] == ["overview-north", "overview-south"]
    assert [s.name for s in select(specs, ["overview-south"])] == ["overview-south"]
    with pytest.raises(ConfigError, match="nosuch"):
        select(specs, ["nosuch"])


def test_repository_reports_yml_is_valid() -> None:
    from helpers.config import PROJ_ROOT

    specs = load_config(PROJ_ROOT / "reports.yml")
    assert "overview" in [s.name for s in specs]


# ------------------------------------------------------------------ small pieces


def test_parse_param_reads_yaml_scalars() -> None:
    assert parse_param("n=3") == ("n", 3)
    assert parse_param("share=0.5") == ("share", 0.5)
    assert parse_param("flag=true") == ("flag", True)
    assert parse_param("region=north") == ("region", "north")
    assert parse_param("start=2025-01-01") == ("start", "2025-01-01")
    assert parse_param("label=a: b") == ("label", "a: b")
    assert parse_param("regions=[a, b]") == ("regions", ["a", "b"])
    with pytest.raises(ConfigError):
        parse_param("1bad=3")


def test_report_payload_converts_values() -> None:
    payload = report_payload(
        {
            "d": dt.date(2024, 1, 2),
            "ts": dt.datetime(2024, 1, 2),
            "x": decimal.Decimal("1.5"),
            "nan": float("nan"),
            "i": 3,
            "s": "text",
        },
        "two\nlines",
        period=(dt.datetime(2024, 1, 1), dt.date(2024, 3, 31)),
    )
    assert payload == {
        "figures": {
            "d": "2024-01-02",
            "ts": "2024-01-02",
            "x": 1.5,
            "nan": None,
            "i": 3,
            "s": "text",
        },
        "finding": "two lines",
        "period": ["2024-01-01", "2024-03-31"],
    }
    json.dumps(payload, allow_nan=False)
    with pytest.raises(TypeError, match="figure 'bad'"):
        report_payload({"bad": [1, 2]})


def test_report_payload_allows_two_levels_of_groups() -> None:
    payload = report_payload({"bgnbd": {"r": np.float64(0.243), "converged": True}, "n": 2})
    assert payload["figures"] == {"bgnbd": {"r": 0.243, "converged": True}, "n": 2}
    nested = report_payload({"calibration_fit": {"bgnbd": {"r": np.float64(0.25)}}})
    assert nested["figures"] == {"calibration_fit": {"bgnbd": {"r": 0.25}}}
    with pytest.raises(TypeError, match="figure calibration_fit.bgnbd.deep"):
        report_payload({"calibration_fit": {"bgnbd": {"deep": {"r": 1}}}})


def test_report_payload_unwraps_numpy_and_pandas_scalars() -> None:
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    payload = report_payload(
        {
            "i": np.int64(4),
            "f": np.float32(0.5),
            "b": np.bool_(True),
            "ts": pd.Timestamp("2024-05-01"),
            "nat": pd.NaT,
            "dt64": np.datetime64("2024-05-02"),
        }
    )
    assert payload["figures"] == {
        "i": 4,
        "f": 0.5,
        "b": True,
        "ts": "2024-05-01",
        "nat": None,
        "dt64": "2024-05-02",
    }
    assert type(payload["figures"]["i"]) is int


def test_data_fingerprint_is_cheap_and_sensitive(tmp_path: Path) -> None:
    (tmp_path / "a.parquet").write_bytes(b"x" * 10)
    first = data_fingerprint(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{12}", first)
    assert data_fingerprint(tmp_path) == first
    (tmp_path / ".hidden").write_text("ignored")
    assert data_fingerprint(tmp_path) == first
    os.utime(tmp_path / "a.parquet", ns=(1, 1))
    touched = data_fingerprint(tmp_path)
    assert touched != first
    (tmp_path / "manifest.json").write_text('{"seed": 1}')
    with_manifest = data_fingerprint(tmp_path)
    st = (tmp_path / "manifest.json").stat()
    (tmp_path / "manifest.json").write_text('{"seed": 2}')  # same size, same mtime
    os.utime(tmp_path / "manifest.json", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert data_fingerprint(tmp_path) not in {touched, with_manifest}


def test_source_hash_covers_python_files_and_templates(tmp_path: Path) -> None:
    package = tmp_path / "helpers"
    (package / "reports" / "templates" / "report").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    template = package / "reports" / "templates" / "report" / "index.html.j2"
    template.write_text("{# v1 #}")
    (package / "__pycache__").mkdir()
    first = source_hash(package)
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"ignored")
    (package / "notes.txt").write_text("not source")
    assert source_hash(package) == first
    template.write_text("{# v2 #}")
    second = source_hash(package)
    assert second != first
    (package / "topic.py").write_text("X = 1\n")
    assert source_hash(package) not in {first, second}


def test_git_commit_outside_a_repository(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == "no git"


def test_cli_start_up_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, helpers.reports.cli, helpers.reports.build\n"
        "heavy = {'papermill', 'nbconvert', 'nbformat', 'pandas', 'numpy'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ requires: not applicable

REQUIRES_YML = """\
reports:
  - name: sales
    notebook: simple.ipynb
    title: Sales report
    requires: [orders]
  - name: funnel
    notebook: simple.ipynb
    title: Funnel report
    requires: [orders, web_events]
  - name: free
    notebook: simple.ipynb
    title: Needs nothing
"""


def test_report_missing_a_required_table_is_not_applicable(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    paths = make_project(tmp_path, REQUIRES_YML, {"simple": GOOD_CELLS})  # data: orders only
    (paths["data"] / "web_events").mkdir()  # an empty folder is no table
    assert run(paths, "--jobs", "1") == 0  # not applicable is not a failure
    err = capsys.readouterr().err
    assert "n/a     funnel" in err and "not applicable: no web_events table" in err
    assert "1 not applicable" in err
    out = paths["out"]
    record = json.loads(read(out / "funnel.json"))
    assert record["status"] == "not_applicable"
    assert record["reason"] == "not applicable: no web_events table"
    assert record["missing_tables"] == ["web_events"]
    assert record["requires"] == ["orders", "web_events"]
    assert record["html"] is None and record["error"] is None
    assert not (out / "funnel.html").exists() and not (out / "funnel.failed.html").exists()
    for name in ("sales", "free"):
        assert json.loads(read(out / f"{name}.json"))["status"] == "ok"
    # the index marks it, visibly but not as a failure
    index = read(out / "index.html")
    card = re.search(r'<li class="card na" id="funnel">.*?</li>', index, re.S)
    assert card, "no not-applicable card"
    assert "not applicable: no web_events table" in card.group(0)
    assert "FAILED" not in card.group(0) and "failed" not in card.group(0)
    assert "1 not applicable" in index and "failed" not in body_of(index)
    machine = json.loads(read(out / "index.json"))
    assert {r["name"]: r["status"] for r in machine["reports"]} == {
        "sales": "ok",
        "funnel": "not_applicable",
        "free": "ok",
    }
    # once the table is there, the report applies and is built (not "up to date")
    (paths["data"] / "web_events.csv").write_text("event_id\n1\n")
    assert run(paths, "--jobs", "1") == 0
    assert json.loads(read(out / "funnel.json"))["status"] == "ok"
    assert (out / "funnel.html").is_file()


def test_not_applicable_names_every_missing_table(tmp_path: Path) -> None:
    paths = make_project(
        tmp_path,
        "reports:\n  - name: ov\n    notebook: simple.ipynb\n"
        "    requires: [accounts, orders, shipments]\n",
        {"simple": GOOD_CELLS},
    )
    assert run(paths, "--jobs", "1") == 0
    record = json.loads(read(paths["out"] / "ov.json"))
    assert record["reason"] == "not applicable: no accounts, shipments tables"


def test_has_table_accepts_the_layouts_open_dataset_reads(tmp_path: Path) -> None:
    assert not has_table(tmp_path, "orders")
    (tmp_path / "orders").mkdir()
    assert not has_table(tmp_path, "orders")
    (tmp_path / "orders" / "part-00000.parquet").write_bytes(b"")
    assert has_table(tmp_path, "orders")
    (tmp_path / "accounts.csv").write_text("account_id\n")
    (tmp_path / "returns.parquet").write_bytes(b"")
    assert has_table(tmp_path, "accounts") and has_table(tmp_path, "returns")


@pytest.mark.parametrize(
    ("requires", "expected"),
    [("[web_event]", "unknown table 'web_event'"), ("orders", "list of table names")],
)
def test_bad_requires_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, requires: str, expected: str
) -> None:
    (tmp_path / "data").mkdir()
    write_notebook(tmp_path / "a.ipynb", [("code", "x = 1")])
    config = tmp_path / "reports.yml"
    config.write_text(f"reports:\n  - {{name: a, notebook: a.ipynb, requires: {requires}}}\n")
    code = main(["build", "--config", str(config), "--data", str(tmp_path / "data")])
    assert code == 2
    assert expected in capsys.readouterr().err


#: The core of each report (issue 17): what it cannot run without. Everything else is a
#: section's need, declared in its topic module.
def test_repository_reports_require_only_their_core() -> None:
    """reports.yml's ``requires`` / ``requires_any`` of each report are its topic module's
    ``CORE`` / ``CORE_ANY`` (the tables without which no section builds), nothing more."""
    import importlib

    from helpers.config import PROJ_ROOT

    specs = {s.name: s for s in load_config(PROJ_ROOT / "reports.yml")}
    assert {"overview", "pipeline", "campaigns", "recommendations"} <= set(specs)
    for name, spec in specs.items():
        topic = importlib.import_module(f"helpers.{spec.module}")
        assert set(spec.requires) == set(topic.CORE), name
        assert set(spec.requires_any) == set(getattr(topic, "CORE_ANY", ())), name
    assert specs["pipeline"].title == "Sales pipeline"
    assert specs["pipeline"].notebook == PROJ_ROOT / "notebooks" / "pipeline.ipynb"
    assert specs["recommendations"].module == "recommend"


ANY_YML = """\
reports:
  - name: campaigns
    notebook: simple.ipynb
    title: Campaigns
    requires_any: [campaign_sends, marketing_spend]
  - name: both
    notebook: simple.ipynb
    requires: [orders, accounts]
    requires_any: [campaign_sends, marketing_spend]
"""


def test_requires_any_applies_with_one_of_its_tables(tmp_path: Path) -> None:
    paths = make_project(tmp_path, ANY_YML, {"simple": GOOD_CELLS})  # data: orders only
    assert run(paths, "--jobs", "1") == 0
    out = paths["out"]
    record = json.loads(read(out / "campaigns.json"))
    assert record["status"] == "not_applicable"
    assert record["reason"] == "not applicable: no campaign_sends or marketing_spend table"
    assert record["requires_any"] == ["campaign_sends", "marketing_spend"]
    both = json.loads(read(out / "both.json"))
    assert both["reason"] == (
        "not applicable: no accounts table, and no campaign_sends or marketing_spend table"
    )
    index = read(out / "index.html")
    assert "no campaign_sends or marketing_spend table" in index
    # one of the two is enough
    (paths["data"] / "marketing_spend.csv").write_text("date\n2024-01-01\n")
    assert run(paths, "--jobs", "1", "--only", "campaigns") == 0
    assert json.loads(read(out / "campaigns.json"))["status"] == "ok"


def test_requires_any_must_name_tables() -> None:
    from helpers.reports.config import parse_config

    base = {"name": "a", "notebook": "a.ipynb"}
    for bad, expected in (([], "'requires_any' must be a list"), (["web"], "unknown table")):
        with pytest.raises(ConfigError, match=expected):
            parse_config({"reports": [{**base, "requires_any": bad}]}, Path("."))
    (spec,) = parse_config({"reports": [{**base, "requires_any": ["leads"]}]}, Path("."))
    assert spec.missing(lambda t: False) == ((), ("leads",))
    assert spec.missing(lambda t: True) == ((), ())


def test_not_applicable_reason_wording() -> None:
    reason = build_mod.not_applicable_reason
    assert reason(["web_events"]) == "not applicable: no web_events table"
    assert reason(["web_events", "leads"]) == "not applicable: no web_events, leads tables"
    assert reason([], ["a", "b"]) == "not applicable: no a or b table"


# ------------------------------------------------------------------ one folder per dataset


def test_another_dataset_gets_its_own_reports_folder(tmp_path: Path) -> None:
    from helpers import config as project
    from helpers.reports.cli import DEFAULT_CONFIG, default_out_dir

    default = DEFAULT_CONFIG.resolve()
    assert default_out_dir(default, project.SAMPLE_DIR) == project.REPORTS_DIR
    retail = tmp_path / "raw" / "retail"
    assert default_out_dir(default, retail) == project.REPORTS_DIR / "retail"
    # a dataset folder named like something reports/ already holds keeps clear of it
    assert default_out_dir(default, tmp_path / "exports") == project.REPORTS_DIR / "data-exports"
    other = tmp_path / "project" / "reports.yml"
    assert default_out_dir(other, retail) == tmp_path / "project" / "reports" / "retail"


def test_build_without_out_on_another_dataset_writes_beside_not_over(tmp_path: Path) -> None:
    """Two datasets, one config, no --out: two indexes that never mix."""
    paths = make_project(tmp_path, SIMPLE_YML, {"simple": GOOD_CELLS})
    second = tmp_path / "second"
    second.mkdir()
    (second / "orders.csv").write_text("order_id\n2\n")
    for data in (paths["data"], second):
        assert main(["build", "--config", str(paths["config"]), "--data", str(data)]) == 0
    first_out, second_out = tmp_path / "reports" / "data", tmp_path / "reports" / "second"
    for out, data in ((first_out, paths["data"]), (second_out, second)):
        record = json.loads(read(out / "simple.json"))
        assert record["data_dir"] == str(data.resolve())
        assert (out / "index.html").is_file() and (out / "simple.html").is_file()
        index = read(out / "index.html")  # which dataset: folder name and fingerprint
        assert f"data: {data.name} (" in index and str(data.resolve()) not in index
    assert not (tmp_path / "reports" / "index.html").exists()


def test_makefile_passes_out() -> None:
    from helpers.config import PROJ_ROOT

    for target in ("reports", "report NAME=overview"):
        dry = subprocess.run(
            ["make", "-n", "-s", *target.split(), "DATA=/tmp/x", "OUT=/tmp/y/reports"],
            capture_output=True,
            text=True,
            cwd=PROJ_ROOT,
        )
        assert "--out /tmp/y/reports" in dry.stdout, (target, dry.stdout, dry.stderr)
        assert "--data /tmp/x" in dry.stdout


# ------------------------------------------------------------------ sections on the card


def test_index_card_counts_sections(tmp_path: Path) -> None:
    from helpers.reports.config import ReportSpec
    from helpers.reports.index import write_index

    base = {"status": "ok", "html": "x.html", "figures": {}, "parameters": {}}
    records = {
        "partial": {
            **base,
            "sections": {
                "built": ["kpis", "trend"],
                "total": 3,
                "skipped": {"On-time delivery": "This section needs the shipments table."},
            },
        },
        "whole": {**base, "sections": {"built": ["a"], "total": 1, "skipped": {}}},
        "plain": base,
    }
    specs = []
    for name, record in records.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name, **record}))
        specs.append(ReportSpec(name=name, notebook=tmp_path / "x.ipynb", title=name.title()))
    page = read(write_index(tmp_path, specs))
    card = {
        name: re.search(rf'<li class="card" id="{name}">.*?</li>', page, re.S).group(0)
        for name in records
    }
    assert "2 of 3 sections" in card["partial"] and "(1 skipped)" in card["partial"]
    assert "<details" in card["partial"] and "On-time delivery" in card["partial"]
    assert "needs the shipments table" in card["partial"]
    assert "1 of 1 section<" in card["whole"] and "<details" not in card["whole"]
    assert "sections" not in card["plain"].replace('class="sections"', "")


def test_index_card_never_shows_the_machines_paths(tmp_path: Path) -> None:
    """An injected export_dir (an absolute path) is shown by its last folder only."""
    from helpers.reports.config import ReportSpec
    from helpers.reports.index import write_index

    secret = str(tmp_path / "home" / "someone" / "exports")
    record = {"name": "r", "status": "ok", "html": "r.html", "figures": {}}
    record["parameters"] = {"export_dir": secret, "top_n": 5, "data_dir": str(tmp_path)}
    (tmp_path / "r.json").write_text(json.dumps(record))
    spec = ReportSpec(name="r", notebook=tmp_path / "x.ipynb", title="R")
    page = read(write_index(tmp_path, [spec]))
    assert "someone" not in page and str(tmp_path) not in page
    assert "…/exports" in page and "top_n=5" in page


EXPORT_CELLS = [
    ("md", "# Exports"),
    ("code", 'data_dir = ""\nexport_dir = None  # None: reports/exports', ["parameters"]),
    ("code", "from pathlib import Path\nPath(export_dir).mkdir(parents=True, exist_ok=True)\n"
             "(Path(export_dir) / 'list.csv').write_text('account_id\\n1\\n')"),
]  # fmt: skip


def test_a_build_other_than_the_samples_exports_into_its_own_folder(tmp_path: Path) -> None:
    """issue 21: ``export_dir`` = ``<out>/exports`` is injected into a notebook that declares
    it, unless the build is the sample's into reports/ (the notebooks' own default) or the
    parameter is given; a notebook without it gets none."""
    from helpers import config as project
    from helpers.reports.build import exports_for

    yml = SIMPLE_YML + "  - name: lists\n    notebook: lists.ipynb\n"
    paths = make_project(tmp_path, yml, {"simple": GOOD_CELLS, "lists": EXPORT_CELLS})
    assert run(paths) == 0
    record = json.loads(read(paths["out"] / "lists.json"))
    assert record["parameters"]["export_dir"] == str(paths["out"] / "exports")
    assert (paths["out"] / "exports" / "list.csv").is_file()
    assert "export_dir" not in json.loads(read(paths["out"] / "simple.json"))["parameters"]
    mine = tmp_path / "mine"
    assert run(paths, "--only", "lists", "--param", f"export_dir={mine}") == 0
    assert (mine / "list.csv").is_file()
    assert exports_for(project.REPORTS_DIR, project.SAMPLE_DIR) is None
    assert (
        exports_for(project.REPORTS_DIR / "retail", tmp_path)
        == project.REPORTS_DIR / "retail" / "exports"
    )


def test_a_card_shows_headline_figures_before_their_comparisons_and_settings() -> None:
    from helpers.reports.index import card_order

    figures = {
        "gmv_mom": 0.1,
        "gmv": 5.0,
        "model_chosen": "bgnbd",
        "lead_win_rate_ci_low": 0.1,
        "lead_win_rate": 0.2,
        "orders": 9,
    }
    series = {"orders": {"freq": "month", "values": {"2026-10": 9}}}
    assert card_order(figures, series) == [
        "orders",
        "gmv",
        "lead_win_rate",
        "gmv_mom",
        "lead_win_rate_ci_low",
        "model_chosen",
    ]
