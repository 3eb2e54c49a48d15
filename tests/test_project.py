"""Project hygiene: dependencies in step, notebooks stored clean and following the conventions."""

from __future__ import annotations

import re
import subprocess
import tomllib

import nbformat
import pytest
import yaml

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
