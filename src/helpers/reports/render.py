"""Executed notebook -> self-contained HTML, with nbconvert (imported lazily).

Code is hidden (``exclude_input``), cells tagged ``remove-cell`` / ``remove-input`` /
``remove-output`` are honoured (TagRemovePreprocessor), images are embedded, and the page uses
the ``report`` template shipped in this package: a table of contents of the ``## `` headings,
a provenance footer, and no script, style or font fetched from the network.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import MIME_TYPE
from .atomic import atomic_open

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "report"
CHUNK = 1 << 16

_H2 = re.compile(r'<h2 id="([^"]*)"[^>]*>(.*?)</h2>', re.S)
_TAG = re.compile(r"<[^>]+>")
_ANCHOR = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.S)
# Things a browser fetches by itself: script/img/iframe/source src, link href, CSS url() and
# @import, and ES module imports.
_FETCHED = [
    re.compile(
        r"<(?:script|img|iframe|source|embed|audio|video)\b[^>]*\bsrc\s*=\s*[\"']?"
        r"((?:https?:)?//[^\"'\s>]+)",
        re.I,
    ),
    re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", re.I),
    re.compile(r"url\(\s*[\"']?((?:https?:)?//[^\"')\s]+)", re.I),
    re.compile(r"@import\s+[\"']((?:https?:)?//[^\"']+)", re.I),
    re.compile(r"\bimport\s*\(?\s*[\"']((?:https?:)?//[^\"']+)", re.I),
    re.compile(r"\bfrom\s+[\"']((?:https?:)?//[^\"']+)", re.I),
]


def external_urls(page: str) -> list[str]:
    """URLs the page would fetch from the network when opened (should be none)."""
    found: list[str] = []
    for pattern in _FETCHED:
        found += pattern.findall(page)
    return found


def _has_tag(cell: Any, tag: str) -> bool:
    return tag in (cell.get("metadata", {}).get("tags") or [])


def published(nb: Any) -> dict[str, Any]:
    """Merge every :func:`helpers.reports.publish` output of an executed notebook into
    ``{"figures": {...}, "finding": str, "period": [start, end] | None}``, plus ``sections``
    (built, total, skipped) and ``series`` (headline figures' history) when the notebook
    published them."""
    out: dict[str, Any] = {"figures": {}, "finding": "", "period": None}
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            payload = output.get("data", {}).get(MIME_TYPE)
            if not isinstance(payload, dict):
                continue
            out["figures"].update(payload.get("figures") or {})
            if payload.get("finding"):
                out["finding"] = payload["finding"]
            if payload.get("period"):
                out["period"] = list(payload["period"])
            if payload.get("sections"):
                out["sections"] = payload["sections"]
            if payload.get("series"):
                out.setdefault("series", {}).update(payload["series"])
    return out


def strip_published(nb: Any) -> None:
    """Drop the publish() outputs: nbconvert shows nothing for them anyway, but warns that it
    cannot represent them."""

    def only_published(output: Any) -> bool:
        data = output.get("data") or {}
        return MIME_TYPE in data and not set(data) - {MIME_TYPE}

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not only_published(o)]


def toc_entries(nb: Any) -> list[tuple[str, str]]:
    """``(id, text)`` of each level-2 heading of the markdown cells that will be shown, with
    the ids nbconvert gives them (same markdown renderer)."""
    entries = []
    for cell in nb.cells:
        if cell.cell_type != "markdown" or _has_tag(cell, "remove-cell"):
            continue
        entries += _heading_entries(cell.source)
    return entries


def _exporter() -> Any:
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    c = Config()
    c.TemplateExporter.exclude_input = True
    c.TemplateExporter.exclude_input_prompt = True
    c.TemplateExporter.exclude_output_prompt = True
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = ("remove-cell",)
    c.TagRemovePreprocessor.remove_input_tags = ("remove-input",)
    c.TagRemovePreprocessor.remove_all_outputs_tags = ("remove-output",)
    c.HTMLExporter.embed_images = True  # markdown images too; outputs are base64 already
    return HTMLExporter(
        config=c, extra_template_basedirs=[str(TEMPLATES_DIR)], template_name=TEMPLATE_NAME
    )


CHANGES_MARK = "helpers_changes_before"
CHANGES_ANCHOR = ("since-the-last-build", "Since the last build")
FINDINGS = "key findings"


def place_changes(nb: Any, toc: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Mark the cell the "Since the last build" block goes before: the first markdown cell
    with a ``## `` heading after the one titled Key findings (so the block follows the key
    findings), and add the block to the contents after Key findings. Without a Key findings
    heading nothing is marked (the block then follows the contents) and the block is listed
    first."""
    seen = False
    for cell in nb.cells:
        if cell.cell_type != "markdown" or _has_tag(cell, "remove-cell"):
            continue
        headings = [text for _, text in _heading_entries(cell.source)]
        if seen and headings:
            cell.metadata[CHANGES_MARK] = True
            break
        seen = seen or any(h.strip().lower() == FINDINGS for h in headings)
    at = next((i + 1 for i, (_, text) in enumerate(toc) if text.lower() == FINDINGS), 0)
    return [*toc[:at], CHANGES_ANCHOR, *toc[at:]]


def _heading_entries(source: str) -> list[tuple[str, str]]:
    from nbconvert.filters.markdown import markdown2html

    if "##" not in source and "---" not in source:
        return []
    return [
        (anchor, _html.unescape(_TAG.sub("", _ANCHOR.sub("", inner))).strip())
        for anchor, inner in _H2.findall(markdown2html(source))
    ]


def to_html(nb: Any, *, title: str, notebook_dir: Path, info: dict[str, Any]) -> str:
    """The report page for an executed notebook node (modified in place); ``info`` may hold
    ``changes_html`` (:func:`helpers.reports.changes.since_html`), placed after the key
    findings (:func:`place_changes`)."""
    strip_published(nb)
    nb.metadata["title"] = title
    toc = toc_entries(nb)
    if info.get("changes_html"):
        toc = place_changes(nb, toc)
    anchored = any(CHANGES_MARK in c.metadata for c in nb.cells)
    report = {**info, "title": title, "toc": toc, "changes_anchored": anchored}
    resources = {
        "metadata": {"name": title, "path": str(notebook_dir)},
        "report": report,
    }
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    return body


def _chunks(text: str) -> Iterator[str]:
    for start in range(0, len(text), CHUNK):
        yield text[start : start + CHUNK]


def render_html(
    ipynb: Path,
    html_path: Path,
    *,
    title: str,
    notebook_dir: Path,
    info: dict[str, Any],
    extra: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Render the executed notebook ``ipynb`` to ``html_path`` (atomically) and return what
    the notebook published (see :func:`published`), plus ``external``: the URLs the page would
    fetch from the network (a remote image in markdown, say), which should be none.
    ``extra(published)`` may add to ``info`` from what was published (the build's changes)."""
    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    found = published(nb)
    if extra is not None:
        info = {**info, **extra(found)}
    page = to_html(nb, title=title, notebook_dir=notebook_dir, info=info)
    with atomic_open(html_path) as fh:
        for chunk in _chunks(page):
            fh.write(chunk)
    return {**found, "external": external_urls(page)}
