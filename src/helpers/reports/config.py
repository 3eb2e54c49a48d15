"""Reading ``reports.yml``: which notebooks become which reports, with which parameters.

The format (also documented at the top of the project's ``reports.yml``)::

    reports:
      - name: overview                     # file name of the report: [A-Za-z0-9_-]
        notebook: notebooks/overview.ipynb # relative to the folder holding reports.yml
        title: Platform overview           # page title and index card title (default: name)
        parameters:                        # optional; override the notebook's defaults
          start: 2024-01-01                # dates are passed as ISO strings
        timeout: 1800                      # optional; seconds a single cell may run
        kernel: python3                    # optional; Jupyter kernel name (default python3)
        requires: [orders, order_lines]    # optional; the report's core: tables the dataset
                                           #   must have, else the report is "not applicable"
                                           #   (not run, not failed)
        requires_any: [campaign_sends, marketing_spend]  # optional; at least one of these
        module: overview                   # optional; the topic module helpers.<module>
                                           #   (default: the name)
        variants:                          # optional; one report per entry INSTEAD of one
          - name: north                    #   -> report "overview-north"
            title: Overview, North region  #   optional; default "<title> (north)"
            parameters: {region: north}    #   merged over the report's parameters

    history:                               # optional; how many builds reports/history/
      keep: 20                             #   keeps (default 20; 0 keeps none)

``data_dir`` is reserved: the runner injects it (``--data``) into every report. ``requires``
names tables of :mod:`helpers.data.schema` that make the report's core; a dataset without one of
them (no folder or file for it) gets the report marked ``not_applicable`` instead of a failed
build. ``requires_any`` names tables of which the dataset must hold at least one (a campaigns
report needs sends or spend, not both); without any of them the report is ``not_applicable``
and the reason names them all ("no campaign_sends or marketing_spend table"). The tables a
single section needs beyond the core are declared by the topic module's ``SECTIONS``
(:mod:`helpers.sections`), not here: a missing one skips that section, never the report.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers.data.schema import TABLE_NAMES  # cheap: no Ibis, no pandas

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
RESERVED_PARAMETERS = frozenset({"data_dir"})
REPORT_KEYS = {
    "name",
    "notebook",
    "title",
    "parameters",
    "variants",
    "timeout",
    "kernel",
    "requires",
    "requires_any",
    "module",
}
VARIANT_KEYS = {"name", "title", "parameters"}
DEFAULT_KERNEL = "python3"


class ConfigError(ValueError):
    """``reports.yml`` (or a command-line override) is not valid; the message says where."""


@dataclass(frozen=True)
class ReportSpec:
    """One report to build (variants already expanded into their own specs)."""

    name: str
    notebook: Path
    title: str
    parameters: dict[str, Any] = field(default_factory=dict)
    base: str = ""  # the reports.yml entry a variant came from ("" for a plain report)
    timeout: int | None = None
    kernel: str = DEFAULT_KERNEL
    requires: tuple[str, ...] = ()  # tables the dataset must have for the report to apply
    requires_any: tuple[str, ...] = ()  # the dataset must have at least one of these
    module: str = ""  # the topic module, helpers.<module> ("" = helpers.<name of the entry>)

    def missing(self, has: Callable[[str], bool]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """What keeps the report from applying to a dataset, given ``has(table)``: the
        ``requires`` tables it lacks, and ``requires_any`` when it holds none of them."""
        absent = tuple(t for t in self.requires if not has(t))
        none_of = () if any(has(t) for t in self.requires_any) else self.requires_any
        return absent, none_of


def plain(value: Any, where: str) -> Any:
    """A YAML value as plain JSON data: dates and datetimes become ISO strings."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where}: key {key!r} must be a string")
            out[key] = plain(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [plain(item, where) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ConfigError(f"{where}: {value!r} is not a plain YAML value")


def parse_param(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; the value is read as a YAML scalar
    (``3`` -> int, ``true`` -> bool, ``2025-01-01`` -> the ISO string, ``north`` -> string)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise ConfigError(f"--param {text!r}: expected key=value with a Python name as key")
    if key in RESERVED_PARAMETERS:
        raise ConfigError(f"--param {key}: set by the runner; use --data DIR instead")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    if isinstance(value, dict):  # "a: b" is a mapping in YAML; on a command line it is text
        value = raw
    return key, plain(value, f"--param {key}")


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """Several ``key=value`` overrides; a later key wins."""
    return dict(parse_param(item) for item in items)


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'parameters' must be a mapping of name: value")
    for key in value:
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(f"{where}: parameter name {key!r} is not a Python name")
        if key in RESERVED_PARAMETERS:
            raise ConfigError(
                f"{where}: parameter {key!r} is set by the runner (use --data DIR), remove it"
            )
    return plain(value, f"{where}.parameters")


def _requires(value: Any, where: str, key: str = "requires") -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) for v in value)
        or (key == "requires_any" and not value)
    ):
        raise ConfigError(f"{where}: {key!r} must be a list of table names, e.g. [orders]")
    unknown = [v for v in value if v not in TABLE_NAMES]
    if unknown:
        raise ConfigError(
            f"{where}: {key!r} names unknown table {unknown[0]!r} "
            f"(tables: {', '.join(TABLE_NAMES)})"
        )
    return tuple(dict.fromkeys(value))


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ConfigError(f"{where}: 'name' must be letters, digits, '-' or '_' (got {value!r})")
    return value


def _unknown(entry: dict, allowed: set[str], where: str) -> None:
    extra = sorted(set(entry) - allowed, key=str)
    if extra:
        raise ConfigError(
            f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )


def _entry_common(entry: dict, where: str, base_dir: Path) -> dict[str, Any]:
    """The keys an entry passes to every report it expands to (its variants too)."""
    notebook = entry.get("notebook")
    if not isinstance(notebook, str) or not notebook.endswith(".ipynb"):
        raise ConfigError(f"{where}: 'notebook' must be a path to an .ipynb file")
    timeout = entry.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0
    ):
        raise ConfigError(f"{where}: 'timeout' must be a positive number of seconds")
    kernel = entry.get("kernel", DEFAULT_KERNEL)
    if not isinstance(kernel, str) or not kernel:
        raise ConfigError(f"{where}: 'kernel' must be a kernel name such as python3")
    module = entry.get("module", entry["name"])
    if not isinstance(module, str) or not module.isidentifier():
        raise ConfigError(f"{where}: 'module' must be a module name such as overview")
    return {
        "module": module,
        "notebook": (base_dir / notebook).resolve(),
        "timeout": timeout,
        "kernel": kernel,
        "requires": _requires(entry.get("requires"), where),
        "requires_any": _requires(entry.get("requires_any"), where, "requires_any"),
    }


def _title(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: 'title' must be a non-empty string")
    return value


def _expand(entry: dict, i: int, source: str, base_dir: Path) -> list[ReportSpec]:
    """The report specs of one ``reports:`` entry: itself, or one per variant."""
    where = f"{source}: reports[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with name, notebook, title")
    if "name" not in entry:
        raise ConfigError(f"{where}: missing key 'name'")
    name = _name(entry["name"], where)
    where = f"{source}: report {name!r}"
    _unknown(entry, REPORT_KEYS, where)
    common = _entry_common(entry, where, base_dir)
    title = _title(entry.get("title", name), where)
    params = _parameters(entry.get("parameters"), where)
    variants = entry.get("variants")
    if variants is None:
        return [ReportSpec(name=name, title=title, parameters=params, **common)]
    if not isinstance(variants, list) or not variants:
        raise ConfigError(f"{where}: 'variants' must be a non-empty list")
    expanded = []
    for j, variant in enumerate(variants):
        vwhere = f"{where}: variants[{j}]"
        if not isinstance(variant, dict) or "name" not in variant:
            raise ConfigError(f"{vwhere}: expected a mapping with a 'name'")
        suffix = _name(variant["name"], vwhere)
        vwhere = f"{where}: variant {suffix!r}"
        _unknown(variant, VARIANT_KEYS, vwhere)
        vtitle = _title(variant.get("title", f"{title} ({suffix})"), vwhere)
        vparams = {**params, **_parameters(variant.get("parameters"), vwhere)}
        expanded.append(
            ReportSpec(
                name=f"{name}-{suffix}", title=vtitle, parameters=vparams, base=name, **common
            )
        )
    return expanded


def parse_config(data: Any, base_dir: Path, source: str = "reports.yml") -> list[ReportSpec]:
    """The report specs described by already-loaded YAML ``data``; paths relative to
    ``base_dir``. Raises :class:`ConfigError` naming the report and key at fault."""
    if not isinstance(data, dict) or "reports" not in data:
        raise ConfigError(f"{source}: expected a top-level 'reports:' list")
    _unknown(data, {"reports", "history"}, source)
    history_keep(data, source)
    entries = data["reports"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: 'reports' must be a non-empty list")
    specs: list[ReportSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        for spec in _expand(entry, i, source, base_dir):
            if spec.name in seen:
                raise ConfigError(
                    f"{source}: report {entry['name']!r}: report name {spec.name!r} is used twice"
                )
            seen.add(spec.name)
            json.dumps(spec.parameters)  # plain() guarantees this; fail loudly if not
            specs.append(spec)
    return specs


def history_keep(data: Any, source: str = "reports.yml") -> int | None:
    """``history: {keep: N}`` of reports.yml: how many builds ``reports/history/`` keeps (None
    when not set: the default, :data:`helpers.reports.history.DEFAULT_KEEP`)."""
    history = data.get("history") if isinstance(data, dict) else None
    if history is None:
        return None
    if not isinstance(history, dict):
        raise ConfigError(f"{source}: 'history' must be a mapping, e.g. history: {{keep: 20}}")
    _unknown(history, {"keep"}, f"{source}: history")
    keep = history.get("keep")
    if keep is None:
        return None
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ConfigError(f"{source}: history.keep must be a whole number of builds (0: none)")
    return keep


def load_history_keep(path: Path) -> int | None:
    """:func:`history_keep` of the reports file at ``path`` (already validated by
    :func:`load_config`)."""
    return history_keep(yaml.safe_load(Path(path).read_text(encoding="utf-8")), Path(path).name)


def load_config(path: Path) -> list[ReportSpec]:
    """Read and validate ``reports.yml``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML: {exc}") from None
    return parse_config(data, path.parent, source=path.name)


def select(specs: list[ReportSpec], only: Iterable[str] | None) -> list[ReportSpec]:
    """The specs named in ``only`` (a report's own name, or the name of the reports.yml entry
    whose variants to build); all specs when ``only`` is empty."""
    wanted = list(only or [])
    if not wanted:
        return list(specs)
    known = {s.name for s in specs} | {s.base for s in specs if s.base}
    missing = [w for w in wanted if w not in known]
    if missing:
        raise ConfigError(
            f"--only {missing[0]}: no such report (known: {', '.join(s.name for s in specs)})"
        )
    return [s for s in specs if s.name in wanted or (s.base and s.base in wanted)]
