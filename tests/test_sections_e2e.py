"""Issue 17's "Done when": every report builds on a dataset holding only its core tables, and on
the small sample with any one optional table removed, with no failed report and no traceback or
warning in its HTML; a section that lost its table says which table it needs.

Kept cheap (the whole suite stays well under 15 minutes on 2 cores): the dataset variants are
folders of symbolic links to the small sample's tables (no copy); on a variant, only the reports
that read the removed table are built (a report reads the tables its topic module declares:
``SECTIONS`` needs, ``OPTIONAL_TABLES``, ``CORE_ANY``); reports that share a core share one
core-only dataset; and every variant is built once for the module (a module-scoped fixture), two
builds at a time, one report each at a time.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.config import PROJ_ROOT
from helpers.data.schema import TABLE_NAMES
from helpers.reports.config import load_config

SPECS = {spec.name: spec for spec in load_config(PROJ_ROOT / "reports.yml")}
WARNING = re.compile(
    r"(Traceback \(most recent call last\)|\w+Warning:|RuntimeWarning|Error:|findfont:)"
)
#: Made by open_tables from the ids seen when a dataset has none: a section that declares it
#: still builds without it, so no section names it as missing.
DERIVED = "accounts"
PARALLEL_BUILDS = 2


def _module(name: str):
    return importlib.import_module(f"helpers.{SPECS[name].module or name}")


def reads(name: str) -> set[str]:
    """The tables report ``name`` reads beyond its ``requires``: what its topic module declares
    (sections' needs, optional tables, the any-of core). Every core-only dataset lacks
    accounts, so each report is also built on accounts derived from the ids seen."""
    module = _module(name)
    tables = {t for section in getattr(module, "SECTIONS", ()) for t in section.needs}
    tables |= set(getattr(module, "OPTIONAL_TABLES", {}) or ())
    tables |= set(SPECS[name].requires_any)
    return tables - set(SPECS[name].requires)


def applies(name: str, tables: set[str]) -> bool:
    spec = SPECS[name]
    return set(spec.requires) <= tables and (
        not spec.requires_any or bool(set(spec.requires_any) & tables)
    )


def core_variants() -> dict[str, tuple[set[str], list[str]]]:
    """One dataset per distinct core (``requires`` plus one of ``requires_any``), with the
    reports whose core it is."""
    variants: dict[str, tuple[set[str], list[str]]] = {}
    for name, spec in SPECS.items():
        for extra in [(t,) for t in spec.requires_any] or [()]:
            tables = {*spec.requires, *extra}
            key = "core:" + "+".join(sorted(tables))
            variants.setdefault(key, (tables, []))[1].append(name)
    return variants


def removal_variants() -> dict[str, tuple[set[str], list[str]]]:
    """The sample without one table, with the reports that read it and still apply."""
    variants = {}
    for table in TABLE_NAMES:
        rest = set(TABLE_NAMES) - {table}
        names = [n for n in SPECS if table in reads(n) and applies(n, rest)]
        if names:
            variants[f"without:{table}"] = (rest, names)
    return variants


VARIANTS = {**core_variants(), **removal_variants()}
CASES = [(variant, name) for variant, (_, names) in VARIANTS.items() for name in names]


def _dataset(sample: Path, root: Path, tables: set[str]) -> Path:
    """A dataset folder holding ``tables`` of the sample, as links to its files."""
    root.mkdir(parents=True)
    for entry in sample.iterdir():
        stem = entry.name.split(".", 1)[0]
        if stem in TABLE_NAMES and stem not in tables:
            continue
        os.symlink(entry.resolve(), root / entry.name)
    return root


def _command(data: Path, out: Path, names: list[str]) -> list[str]:
    only = [arg for name in names for arg in ("--only", name)]
    return [
        *(sys.executable, "-m", "helpers.reports", "build", "--force", "--jobs", "1"),
        *("--data", str(data), "--out", str(out), *only),
        *("--param", f"export_dir={out / 'exports'}"),  # keep reports/exports untouched
    ]


@pytest.fixture(scope="module")
def builds(small_sample, tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Every variant built once: {variant: (reports folder, the build's stderr)}."""
    missing = set(TABLE_NAMES) - {p.name.split(".", 1)[0] for p in small_sample.iterdir()}
    assert not missing, f"the small sample lacks {missing}: the variants would not be what they say"
    root = tmp_path_factory.mktemp("sections")
    pending = []
    for i, (variant, (tables, names)) in enumerate(VARIANTS.items()):
        data = _dataset(small_sample, root / f"data-{i}", tables)
        pending.append(
            (variant, root / f"reports-{i}", _command(data, root / f"reports-{i}", names))
        )
    running: dict[str, tuple[Path, subprocess.Popen]] = {}
    done: dict[str, tuple[Path, str]] = {}
    while pending or running:
        while pending and len(running) < PARALLEL_BUILDS:
            variant, out, cmd = pending.pop(0)
            proc = subprocess.Popen(
                cmd, cwd=PROJ_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            running[variant] = (out, proc)
        for variant, (out, proc) in list(running.items()):
            if proc.poll() is not None:
                done[variant] = (out, proc.stderr.read())
                del running[variant]
        time.sleep(0.2)
    return done


def test_reports_yml_core_is_each_topic_modules_core() -> None:
    """``requires:`` / ``requires_any:`` say what the topic modules' ``CORE`` /
    ``CORE_ANY`` say, so the planner and ``analyse`` agree on what a report cannot do
    without."""
    for name, spec in SPECS.items():
        module = _module(name)
        assert tuple(spec.requires) == tuple(module.CORE), name
        assert tuple(spec.requires_any) == tuple(getattr(module, "CORE_ANY", ())), name


@pytest.mark.parametrize(("variant", "name"), CASES, ids=[f"{v}-{n}" for v, n in CASES])
def test_report_builds_on_the_tables_there_are(builds, variant: str, name: str) -> None:
    out, log = builds[variant]
    record = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    assert record["status"] == "ok", (variant, name, record.get("error") or record.get("reason"))
    html = (out / f"{name}.html").read_text(encoding="utf-8")
    text = re.sub(r"<style.*?</style>|<script.*?</script>", "", html, flags=re.S)
    text = re.sub(r"data:[\w/+.-]+;base64,[\w+/=]+", "", text)
    found = WARNING.search(text)
    assert not found, (
        f"{variant} {name}: {found.group(0)}: ...{text[found.start() : found.start() + 300]}"
    )
    if not variant.startswith("without:") or variant == f"without:{DERIVED}":
        return
    removed = variant.removeprefix("without:")
    sections = record.get("sections")
    declared = [s for s in getattr(_module(name), "SECTIONS", ()) if removed in s.needs]
    if declared:
        assert sections, f"{name} published no sections"
        for section in declared:  # skipped, and saying which table brings it back
            reason = sections["skipped"].get(section.title, "")
            assert f"the {removed} table" in reason, (name, section.title, sections["skipped"])
        assert f"needs the {removed} table" in text, f"{name}: the page does not say why"
