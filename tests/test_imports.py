"""The package's arrows point one way (DESIGN.md): notebooks -> topics -> data, models, stats,
present, plots; the build (helpers.reports) uses data, never the reverse; no topic imports
another topic. Parsed from the source (every import, module-level or inside a function).

Where the in-between pieces sit: ``helpers.validate`` (parameter checks), ``helpers.metrics``
(the registry) and ``helpers.config`` are below everything; ``helpers.outreach`` (the sender:
audiences, templates, SMTP) is a service layer below the topics: it reads the data (its
segments are ``helpers.data.rfm``'s) and imports no topic, so a topic may use it, never the
reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers.config import PROJ_ROOT

SRC = PROJ_ROOT / "src"
TOPICS = {
    "overview",
    "segmentation",
    "funnel",
    "pipeline",
    "clv",
    "supply_chain",
    "campaigns",
    "service",
    "recommend",
}
#: What each layer may import from the package (besides itself and helpers.config).
ALLOWED = {
    "validate": set(),
    "metrics": set(),  # the registry names its functions by dotted name: it imports nothing
    "data": {"data", "validate"},
    "models": {"models", "validate"},
    "stats": {"validate"},
    "i18n": set(),  # message catalogs and locale formats (Babel); imports only config
    "sections": {"i18n"},
    "plots": {"i18n"},
    "exports": set(),  # writes the lists people act on (CSV + XLSX); imports only config
    "present": {"plots", "data", "metrics", "exports", "i18n"},
    "mail": set(),  # the SMTP core (settings, STARTTLS session, delivery); imports only config
    "outreach": {"data", "validate", "mail"},
    "reports": {"reports", "data", "metrics", "i18n", "mail"},
    "topic": {
        "data",
        "models",
        "stats",
        "present",
        "plots",
        "sections",
        "validate",
        "metrics",
        "outreach",
        "exports",
        "i18n",
    },  # fmt: skip
}


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "helpers":
        return ""
    head = parts[1]
    return "topic" if head in TOPICS else head


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    package = package or _module_name(path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            if name in {"helpers", "helpers.data", "helpers.models"}:  # from helpers import x
                found += [(node.lineno, f"{name}.{a.name}") for a in node.names]
    return [(line, name) for line, name in found if name.startswith("helpers.")]


SOURCES = sorted(SRC.glob("helpers/**/*.py"))


def _violations(path: Path) -> list[str]:
    me = _module_name(path)
    layer = _layer(me)
    allowed = ALLOWED.get(layer)
    if allowed is None:
        return []
    bad = []
    for line, name in _imports(path):
        target = _layer(name)
        if target in {"", "config"} or name == "helpers":
            continue
        if layer == "topic" and target == "topic":
            if name.split(".")[1] != me.split(".")[1]:
                bad.append(f"{me}:{line} imports topic {name}")
            continue
        if target != layer and target not in allowed:
            bad.append(f"{me}:{line} ({layer}) imports {name} ({target})")
    return bad


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_imports_point_one_way(path: Path) -> None:
    assert not _violations(path)


def test_the_checker_sees_a_wrong_arrow(tmp_path: Path) -> None:
    fake = SRC / "helpers" / "data" / "_wrong_arrow_probe.py"
    assert not fake.exists()
    source = "def f():\n    from helpers.reports.build import plan\n    from .. import overview\n"
    try:
        fake.write_text(source)
        found = _violations(fake)
    finally:
        fake.unlink()
    assert found == [
        "helpers.data._wrong_arrow_probe:2 (data) imports helpers.reports.build (reports)",
        "helpers.data._wrong_arrow_probe:3 (data) imports helpers.overview (topic)",
    ]


@pytest.mark.parametrize("topic", sorted(TOPICS - {"recommend"}))
def test_a_topic_says_what_is_public(topic: str) -> None:
    """``__all__`` lists what notebooks and users may call; everything else is underscored."""
    import importlib
    import inspect

    module = importlib.import_module(f"helpers.{topic}")
    assert hasattr(module, "__all__"), f"helpers.{topic} has no __all__"
    assert not [n for n in module.__all__ if not hasattr(module, n)], "names in __all__ exist"
    unlisted = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
        and name not in module.__all__
    ]
    assert not unlisted, f"helpers.{topic}: public but not in __all__ (underscore them): {unlisted}"


def _module_level_imports(path: Path) -> set[str]:
    """The package modules ``path`` imports when it is imported (top-level statements only:
    an import inside a function is a deliberate deferral and cannot close a circle at import
    time)."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("helpers")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name.startswith("helpers"):
                found.add(name)
                found |= {f"{name}.{a.name}" for a in node.names}
    modules = {_module_name(p) for p in SOURCES}
    return {m for m in found if m in modules and m != me}


def _circles(graph: dict[str, set[str]]) -> list[str]:
    """Every circle a depth-first walk of ``graph`` (module -> modules it imports) meets."""
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return circles


def test_no_import_circles() -> None:
    graph = {_module_name(p): _module_level_imports(p) for p in SOURCES}
    assert graph["helpers.reports.build"], "the graph sees module-level imports"
    assert not _circles(graph)


def test_the_circle_check_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == ["a -> b -> c -> a"]
