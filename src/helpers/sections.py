"""Sections of a report, and the result a topic's ``analyse()`` returns.

Real datasets hold some of the tables, rarely all. A report is a list of :class:`Section`: each
names the tables it reads beyond the report's core (its ``requires:`` in reports.yml), with the
columns it reads from them. A topic's entry point starts from that list::

    SECTIONS = (
        Section("kpis", "GMV and orders by month"),
        Section("delivery", "On-time delivery",
                needs={"shipments": ("order_id", "delivered_at")}),
    )

    def analyse(ds, **parameters) -> Analysis:
        result = Analysis.start("overview", SECTIONS, ds)
        if result.built("delivery"):
            result.tables["delivery"] = on_time_delivery(ds)
            result.figures["on_time_rate"] = ...
        return result

A section whose table the dataset lacks is skipped with one line naming the table and its
columns ("This section needs the shipments table (order_id, delivered_at): see
docs/bring-your-own-data.md"); ``analyse`` may skip more with :meth:`Analysis.skip` (a history
too short for a parameter, with the parameter and the data's span in the reason). Only built
sections put figures in the JSON; the index card says how many were built
(:meth:`Analysis.summary`, passed to ``helpers.reports.publish(sections=...)``).

Written by hand (a dataclass and two dicts): no library models "the parts of a report that the
data allows", and the shape is small enough that a dependency would cost more than it saves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from helpers.i18n import _

__all__ = ["BYOD_DOC", "Analysis", "Section", "needs_line", "needs_markdown"]

#: Where a reader learns which table brings a section back.
BYOD_DOC = "docs/bring-your-own-data.md"


@dataclass(frozen=True)
class Section:
    """One section of a report.

    ``key`` names it in code and in the JSON (``sections.built``); ``title`` is its heading;
    ``needs`` maps each table it reads beyond the report's core to the columns it reads there
    (an empty tuple: the table's key columns are enough to say).
    """

    key: str
    title: str
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.needs)

    def missing(self, available: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The tables of ``needs`` not in ``available``, with their columns."""
        have = set(available)
        return {t: cols for t, cols in self.needs.items() if t not in have}


def needs_line(missing: Mapping[str, tuple[str, ...]]) -> str:
    """'This section needs the shipments table (order_id, shipped_at, delivered_at): see
    docs/bring-your-own-data.md.' (tables joined with 'and' when several are missing)."""
    parts = [
        _("the {table} table ({columns})", table=table, columns=", ".join(cols))
        if cols
        else _("the {table} table", table=table)
        for table, cols in missing.items()
    ]
    joined = parts[0]
    if len(parts) > 1:
        joined = _("{first} and {last}", first=", ".join(parts[:-1]), last=parts[-1])
    return _("This section needs {tables}: see {doc}.", tables=joined, doc=BYOD_DOC)


@dataclass
class Analysis:
    """What a topic's ``analyse()`` found: the report's tables (pandas frames the notebook
    shows), ``figures`` for the JSON, ``facts`` for the narrative, ``notes`` for the
    data-quality section (assumptions, derived tables), and which sections were built or
    skipped and why.
    """

    report: str
    sections: tuple[Section, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, report: str, sections: Iterable[Section], available: Iterable[str]):
        """A result with every section whose tables are not in ``available`` (a dataset, or
        table names) already skipped with its :func:`needs_line`."""
        sections = tuple(sections)
        keys = [s.key for s in sections]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{report}: section keys must be unique, got {keys}")
        have = set(available)
        result = cls(report, sections)
        for section in sections:
            missing = section.missing(have)
            if missing:
                result.skipped[section.key] = needs_line(missing)
        return result

    def _section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        known = ", ".join(s.key for s in self.sections)
        raise KeyError(f"{self.report} has no section {key!r} (sections: {known})")

    def built(self, key: str) -> bool:
        """Whether section ``key`` is (still) to be built."""
        self._section(key)
        return key not in self.skipped

    def skip(self, key: str, reason: str) -> None:
        """Skip section ``key`` with ``reason`` (one sentence a reader can act on); the first
        reason given stands."""
        self._section(key)
        self.skipped.setdefault(key, reason)

    def reason(self, key: str) -> str:
        """Why section ``key`` was skipped ('' when it was built)."""
        self._section(key)
        return self.skipped.get(key, "")

    @property
    def built_keys(self) -> list[str]:
        return [s.key for s in self.sections if s.key not in self.skipped]

    def summary(self) -> dict[str, Any]:
        """For the JSON and the index card: ``{"built": [...], "total": n, "skipped":
        {title: reason}}``."""
        return {
            "built": self.built_keys,
            "total": len(self.sections),
            "skipped": {self._section(k).title: why for k, why in self.skipped.items()},
        }


def needs_markdown(
    name: str,
    title: str,
    core: Iterable[str],
    sections: Iterable[Section],
    core_any: Iterable[str] = (),
) -> str:
    """The guide's table for one report: its core tables, then each section with the tables
    (and columns) it needs beyond them ("—" when the core is enough). Generated from the
    topic modules' ``SECTIONS`` so that the guide cannot drift from the code (a test compares
    docs/bring-your-own-data.md with it)."""
    core, core_any = list(core), list(core_any)
    needs = [f"`{t}`" for t in core]
    if core_any:
        needs.append("one of " + " or ".join(f"`{t}`" for t in core_any))
    lines = [
        f"### {title} (`{name}`)",
        "",
        f"Builds with {' and '.join(needs)}.",
        "",
        "| section | needs beyond that |",
        "|---|---|",
    ]
    for section in sections:
        cell = "; ".join(
            f"`{t}` ({', '.join(cols)})" if cols else f"`{t}`" for t, cols in section.needs.items()
        )
        lines.append(f"| {section.title} | {cell or '—'} |")
    return "\n".join(lines)
