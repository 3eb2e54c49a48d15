"""Project hygiene: dependencies in step, notebooks stored clean and following the conventions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from helpers import config
from helpers.config import NOTEBOOKS_DIR, PROJ_ROOT

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req.split("#")[0]).lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_norm(d) for d in project["dependencies"] + extras["dev"] + extras["spark"]}
    env = yaml.safe_load((PROJ_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_norm(d) for d in pip if not d.startswith("-e")}
    assert listed == wanted, {
        "only in environment.yml": listed - wanted,
        "only in pyproject": wanted - listed,
    }


def test_there_are_notebooks():
    assert any(nb.stem == "overview" for nb in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_conventions(path):
    nb = nbformat.read(path, as_version=4)
    first, second = nb.cells[0], nb.cells[1]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "title first"
    assert "parameters" in second.metadata.get("tags", []), "second cell is the parameters cell"
    assert re.search(r"^data_dir = None\b", second.source, re.M), "a data_dir parameter"
    for line in second.source.splitlines():
        assert line.strip() == "" or "#" in line, f"parameter without a comment: {line!r}"
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"^\s*(def|class) ", sources, re.M), "no definitions in notebooks"
    assert "present.data_quality(" in sources and "present.definitions(" in sources
    headings = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert any(h.startswith("## Key findings") for h in headings)
    assert nb.metadata.get("title"), "notebook metadata needs a title (the page title)"
    for c in nb.cells:
        if c.cell_type == "markdown" and c is not first:
            assert not re.search(r"\d{2,}", c.source), f"typed-in number in markdown: {c.source!r}"


MAX_NOTEBOOK_CODE_LINES = 150
MAX_CELL_CODE_LINES = 15


def _code_lines(source: str) -> int:
    """Lines of code in a cell: not blank, not only a comment."""
    return sum(
        1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#")
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_only_shows(path):
    """A notebook shows, its topic's analyse() decides (issue 17): short cells, short notebooks.
    The parameters cell counts towards the total but may be longer than a cell (one line per
    parameter)."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    total = sum(_code_lines(c.source) for c in code)
    assert total <= MAX_NOTEBOOK_CODE_LINES, f"{path.name}: {total} code lines"
    long = [
        (i, _code_lines(c.source))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        and "parameters" not in c.metadata.get("tags", [])
        and _code_lines(c.source) > MAX_CELL_CODE_LINES
    ]
    assert not long, f"{path.name}: cells (index, code lines) over {MAX_CELL_CODE_LINES}: {long}"
    sources = "\n".join(c.source for c in code)
    assert ".analyse(" in sources, f"{path.name}: the notebook calls its topic's analyse()"


def test_reports_yml_lists_every_notebook():
    config = yaml.safe_load((PROJ_ROOT / "reports.yml").read_text())
    listed = {PROJ_ROOT / r["notebook"] for r in config["reports"]}
    assert set(NOTEBOOKS) <= listed, set(NOTEBOOKS) - listed


def test_makefile_documents_itself():
    out = subprocess.run(["make", "-s", "-C", str(PROJ_ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for target in ("setup", "data", "reports", "report", "test", "lint", "lab", "bench", "clean"):
        assert re.search(rf"^\s+{target}\s+\S", out.stdout, re.M), target


def test_readme_gives_the_two_commands_first():
    text = (PROJ_ROOT / "README.md").read_text()
    commands = re.findall(r"^make \w+", text, re.M)
    assert commands[:2] == ["make reports", "make test"]
    ci = (PROJ_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_data_readme_describes_the_schema():
    from helpers.data.schema import markdown

    assert markdown() in (PROJ_ROOT / "data" / "README.md").read_text()


LOCK = PROJ_ROOT / "requirements.lock"


def _pins() -> dict[str, str]:
    lines = [ln.strip() for ln in LOCK.read_text().splitlines()]
    pairs = [ln.split("==") for ln in lines if ln and not ln.startswith("#")]
    assert all(len(p) == 2 for p in pairs), "every line of the lock is name==version"
    return {canonicalize_name(name): version for name, version in pairs}


def test_lock_pins_every_dependency_within_pyproject_ranges():
    project = tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pins = _pins()
    for line in project["dependencies"] + extras["dev"] + extras["spark"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: run make lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {req.name}=={pins[name]}, outside {req}: run make lock"
        )
    assert "helpers" not in pins, "the project itself is not locked (pip freeze --exclude-editable)"


def test_setup_and_the_dev_install_use_the_lock():
    for target in ("setup", ".venv/.installed-dev"):
        out = subprocess.run(
            ["make", "-n", "-B", "-C", str(PROJ_ROOT), target], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        installs = [ln for ln in out.stdout.splitlines() if "pip install" in ln and " -e " in ln]
        assert installs and all("-c requirements.lock" in ln for ln in installs), out.stdout


def test_lab_runs_as_root_and_takes_lab_args():
    out = subprocess.run(
        ["make", "-n", "-C", str(PROJ_ROOT), "lab", "LAB_ARGS=--no-browser --port=8890"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    (lab,) = [ln for ln in out.stdout.splitlines() if "jupyter lab" in ln]
    assert "--no-browser --port=8890" in lab
    assert "--allow-root" in lab and "id -u" in lab  # added by the shell when run as root


def test_exports_dir_honours_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(config.EXPORTS_DIR_ENV, str(tmp_path / "lists"))
    assert config.exports_dir() == tmp_path / "lists"
    monkeypatch.setenv(config.EXPORTS_DIR_ENV, "elsewhere/lists")
    assert config.exports_dir() == PROJ_ROOT / "elsewhere" / "lists"
    monkeypatch.delenv(config.EXPORTS_DIR_ENV)
    assert config.exports_dir() == config.REPORTS_DIR / "exports"


def test_the_test_session_keeps_report_kernels_out_of_reports_exports():
    """Notebook kernels (nbval, papermill) inherit the session's environment: their account
    lists (exports/segmentation/*.csv, exports/clv/at_risk.csv) must not overwrite those of a
    real build."""
    code = "from helpers.config import EXPORTS_DIR; print(EXPORTS_DIR)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    exports = done.stdout.strip()
    assert exports == os.environ[config.EXPORTS_DIR_ENV]
    assert not exports.startswith(str(config.REPORTS_DIR)), exports


def test_spark_without_the_extra_names_the_projects_extra(small_sample):
    code = (
        "import sys; sys.modules['pyspark'] = None\n"
        "from helpers.data import open_dataset\n"
        f"open_dataset({str(small_sample)!r}, engine='spark')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "pip install -e '.[spark]'" in done.stderr, done.stderr[-2000:]
    assert "ibis-framework[pyspark]" not in done.stderr, done.stderr[-2000:]


DOCS = [PROJ_ROOT / "README.md", PROJ_ROOT / "data" / "README.md"]
DOCS += sorted((PROJ_ROOT / "docs").glob("*.md"))


#: A bare interpreter or tool in command position (after any VAR=value prefixes).
BARE = re.compile(r"(^|[;&|(])\s*(\w+=\S+\s+)*(python|pip|pytest|jupyter)\s")


def _commands(text: str) -> list[tuple[str, str]]:
    """(command, the text just before it): each `inline code` span, each line of a bash block
    and each `$ ` line of a console block."""
    found = [(m.group(1), text[max(0, m.start() - 160) : m.start()]) for m in
             re.finditer(r"(?<!`)`([^`\n]+)`(?!`)", text)]  # fmt: skip
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S):
        lines = body.splitlines()
        if lang == "console":
            lines = [ln[2:] for ln in lines if ln.startswith("$ ")]
        if lang in ("bash", "sh", "console"):
            found += [(ln.split("#")[0], "") for ln in lines]
    return found


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_documented_commands_run_from_a_fresh_clone(path):
    """A command in the docs works without an activated venv: `.venv/bin/python`, not a bare
    `python`, `pip`, `pytest` or `jupyter`, unless the sentence before it says to activate."""
    bare = [
        command
        for command, before in _commands(path.read_text())
        if BARE.search(command) and "activate" not in before
    ]
    assert not bare, f"{path.name}: commands that need an activated venv: {bare}"


def test_readme_links_the_guides():
    text = (PROJ_ROOT / "README.md").read_text()
    for guide in ("docs/bring-your-own-data.md", "docs/adding-a-report.md"):
        assert f"({guide}" in text, guide
        assert (PROJ_ROOT / guide).is_file(), guide


MAX_FUNCTION_LINES = 80


def test_no_function_in_the_package_is_over_80_lines():
    """Functions under 80 lines (issue 19): a longer one holds more than one idea."""
    import ast

    long = []
    for path in sorted((PROJ_ROOT / "src" / "helpers").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PROJ_ROOT)}:{node.lineno} {node.name} {lines}")
    assert not long, long
