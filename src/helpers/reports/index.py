"""``reports/index.html`` (one card per report, self-contained) and ``reports/index.json``."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from helpers import metrics

from . import atomic, now_iso
from .changes import change_html, flag_text, flags
from .config import ReportSpec

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  margin: 0; background: #f6f8fa; color: #1f2328; }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem; }
h1 { font-size: 1.6rem; margin: 1rem 0 .2rem; }
.sub { color: #57606a; margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(21rem, 1fr));
  gap: 1rem; padding: 0; list-style: none; }
.card { background: #fff; border: 1px solid #d0d7de; border-left: 6px solid #1a7f37;
  border-radius: 6px; padding: .8rem 1rem; }
.card.failed { border-color: #b42318; border-left-color: #b42318; background: #fff5f4; }
.card.missing { border-left-color: #8c959f; }
.card.na { border-left-color: #8c959f; background: #f6f8fa; }
.card h2 { font-size: 1.1rem; margin: 0 0 .3rem; }
.badge { display: inline-block; font-size: .75rem; font-weight: 700; padding: .05rem .45rem;
  border-radius: 1rem; background: #dafbe1; color: #1a7f37; vertical-align: middle; }
.failed .badge { background: #b42318; color: #fff; }
.missing .badge { background: #eaeef2; color: #57606a; }
.na .badge { background: #ddf4ff; color: #0969da; }
.na .reason { color: #57606a; font-style: italic; margin: .4rem 0; }
.finding { margin: .4rem 0; }
.error { color: #b42318; font-family: ui-monospace, monospace; font-size: .85rem;
  white-space: pre-wrap; word-break: break-word; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: .5rem 0 0;
  font-size: .85rem; }
dt { color: #57606a; }
dd { margin: 0; word-break: break-word; }
code { font-size: .85em; }
table.figures { border-collapse: collapse; font-size: .85rem; margin: .4rem 0; }
table.figures td { padding: .05rem .6rem .05rem 0; }
table.figures td.v { text-align: right; font-variant-numeric: tabular-nums; }
table.figures td.c { font-size: .8rem; white-space: nowrap; font-variant-numeric: tabular-nums; }
.chg.good { color: #1a7f37; } .chg.bad { color: #b42318; } .chg.neutral { color: #57606a; }
.worth { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
  padding: .5rem 1rem; margin: 0 0 1rem; }
.worth h2 { font-size: 1.1rem; margin: .2rem 0 .4rem; }
.worth ul { margin: 0; padding-left: 1.2rem; }
.worth li.good::marker { color: #1a7f37; } .worth li.bad::marker { color: #b42318; }
footer { color: #57606a; font-size: .85rem; }
.sections { margin: .4rem 0; font-size: .9rem; }
.sections summary { cursor: pointer; color: #57606a; }
.sections ul { margin: .3rem 0 0; padding-left: 1.2rem; color: #57606a; }
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "—" if value is None else str(value)


RATE_SUFFIXES = ("_rate", "_share", "_conversion")  # figures that are fractions of one


def _fmt_figure(key: str, value: Any) -> str:
    """A card's key figure, formatted by its unit in :mod:`helpers.metrics` (money and counts
    with thousands separators, shares as %, flags Yes/No); a key the registry does not know:
    rates and shares (by their name) as percentages, else ``_fmt``."""
    found = metrics.lookup(key)
    if found is not None:
        return metrics.format_value(found.unit, value)
    if isinstance(value, float) and key.endswith(RATE_SUFFIXES) and 0 <= value <= 1:
        return f"{value:.1%}"
    return _fmt(value)


def dataset_name(data_dir: Any) -> str:
    """The dataset's folder name (the last part of a path or URL), never the machine's path."""
    text = str(data_dir or "").rstrip("/\\")
    return text.replace("\\", "/").rsplit("/", 1)[-1]


def _row(label: str, value: str) -> str:
    return f"<dt>{escape(label)}</dt><dd>{value}</dd>"


def _data(record: dict[str, Any]) -> str:
    """The dataset by its folder name and fingerprint (the full path stays in the JSON)."""
    return (
        f"{escape(dataset_name(record.get('data_dir')))} "
        f"<code>{escape(str(record.get('data_fingerprint') or '—'))}</code>"
    )


def _sections(record: dict[str, Any]) -> str:
    """ "6 of 9 sections" from the record's ``sections`` (built, total, skipped: {title:
    reason}); the skipped ones listed under it, each with its reason (also its tooltip). Empty
    for a report that does not publish its sections."""
    sections = record.get("sections")
    if not isinstance(sections, dict) or not sections.get("total"):
        return ""
    total = int(sections["total"])
    built = len(sections.get("built") or [])
    noun = "section" if total == 1 else "sections"
    label = f"{built} of {total} {noun}"
    skipped = sections.get("skipped") or {}
    if not skipped:
        return f'<p class="sections">{label}</p>'
    items = "".join(
        f'<li title="{escape(str(why))}">{escape(str(title))}: {escape(str(why))}</li>'
        for title, why in skipped.items()
    )
    names = ", ".join(str(title) for title in skipped)
    return (
        f'<details class="sections"><summary title="not built: {escape(names)}">{label}'
        f" ({len(skipped)} skipped)</summary><ul>{items}</ul></details>"
    )


def _failure(record: dict[str, Any]) -> str:
    """A failed card's error (every line kept: a validation error names its table, column and
    rows) and links to the failing notebook and the last good build."""
    parts = [f'<p class="error">{escape(record.get("error") or "failed")}</p>']
    links = []
    if record.get("html"):
        links.append(f'<a href="{escape(record["html"])}">the failing notebook</a>')
    last = record.get("last_good")
    if last and last.get("html"):
        links.append(
            f'<a href="{escape(last["html"])}">last good build</a> '
            f"({escape(str(last.get('built_at') or ''))})"
        )
    if links:
        parts.append(f"<p>See {' and '.join(links)}.</p>")
    return "".join(parts)


def _on_card(key: str, value: Any) -> bool:
    """A scalar figure that is not provenance (rows read, period: the card's rows say it). A
    figure holding a dict or list (model parameters...) belongs in the report and in
    index.json, not on a card."""
    if not (value is None or isinstance(value, str | int | float)):
        return False
    found = metrics.lookup(key)
    return found is None or found.kind != "provenance"


def card_order(figures: dict[str, Any], series: dict[str, Any]) -> list[str]:
    """The order of a card's figures: headline figures with a history (a published series)
    first, then the other figures, then those named after another figure of the card (its
    comparison or interval: ``gmv_mom`` after ``gmv``, ``lead_win_rate_ci_low`` after
    ``lead_win_rate``), then settings (model chosen, calibration end...); published order
    within each."""
    keys = list(figures)

    def rank(key: str) -> int:
        if getattr(metrics.lookup(key), "kind", "") == "setting":
            return 3
        if any(key != other and key.startswith(other + "_") for other in keys):
            return 2
        return 0 if key in series else 1

    return sorted(keys, key=rank)


def _figures(record: dict[str, Any]) -> str:
    """The first eight scalar key figures (:func:`card_order`), each by its label in
    :mod:`helpers.metrics` (its definition as the tooltip) and formatted by its unit."""
    figures = {k: v for k, v in (record.get("figures") or {}).items() if _on_card(k, v)}
    if not figures:
        return ""
    order = card_order(figures, record.get("series") or {})
    changes = record.get("changes") or {}
    since = (changes.get("figures") or {}) if changes.get("since") else {}
    periods = changes.get("series") or {}
    rows = []
    for k in order[:8]:
        found = metrics.lookup(k)
        tip = f' title="{escape(found.definition)}"' if found else ""
        rows.append(
            f'<tr data-key="{escape(k)}"><td{tip}>{escape(metrics.label(k))}</td>'
            f'<td class="v">{escape(_fmt_figure(k, figures[k]))}</td>'
            f'<td class="c">{_change_cell(k, since.get(k), periods.get(k))}</td></tr>'
        )
    return f'<table class="figures">{"".join(rows)}</table>'


def _change_cell(key: str, entry: dict[str, Any] | None, period: dict[str, Any] | None) -> str:
    """The change beside a card's figure: since the last build (arrow, sign, coloured by the
    figure's direction); with a series of the same key, its last period against the one
    before as the tooltip."""
    shown = ""
    if entry:
        shown = change_html(key, entry.get("change"), entry.get("relative"), entry.get("tone", ""))
    if period and period.get("previous") is not None:
        tip = (
            f"{period['period']} against {period['previous_period']}: "
            f"{_fmt_figure(key, period['current'])} vs {_fmt_figure(key, period['previous'])}"
        )
        shown = f'<span title="{escape(tip)}">{shown or "·"}</span>'
    return shown


def _shown_value(value: Any) -> Any:
    """A parameter as a card may show it: an absolute path (e.g. the ``export_dir`` the runner
    injects) as ``…/<last folder>``, so the index never shows the machine's directory layout."""
    if isinstance(value, str) and value.startswith("/") and len(value) > 1:
        return "…/" + value.rstrip("/").rsplit("/", 1)[-1]
    return value


def _card(spec: ReportSpec, record: dict[str, Any] | None) -> str:
    title = escape(spec.title)
    if record is None:
        return (
            f'<li class="card missing"><h2>{title} <span class="badge">not built</span></h2>'
            f'<p class="finding">Run <code>python -m helpers.reports build --only '
            f"{escape(spec.name)}</code>.</p></li>"
        )
    status = record.get("status")
    if status == "not_applicable":
        reason = record.get("reason") or "not applicable"
        return (
            f'<li class="card na" id="{escape(spec.name)}"><h2>{title} '
            f'<span class="badge">not applicable</span></h2>'
            f'<p class="reason">{escape(reason)}</p>'
            f"<dl>{_row('data', _data(record))}"
            f"{_row('checked', escape(str(record.get('built_at') or '—')))}</dl></li>"
        )
    failed = status != "ok"
    html = record.get("html")
    link = f'<a href="{escape(html)}">{title}</a>' if html else title
    badge = "FAILED" if failed else "ok"
    parts = [f'<li class="card{" failed" if failed else ""}" id="{escape(spec.name)}">']
    parts.append(f'<h2>{link} <span class="badge">{badge}</span></h2>')
    if failed:
        parts.append(_failure(record))
    if record.get("finding"):
        parts.append(f'<p class="finding">{escape(record["finding"])}</p>')
    parts.append(_sections(record))
    parts.append(_figures(record))
    params = {
        k: _shown_value(v) for k, v in (record.get("parameters") or {}).items() if k != "data_dir"
    }
    period = record.get("period") or {}
    rows = [
        _row("built", escape(str(record.get("built_at") or "—"))),
        _row("run time", f"{float(record.get('build_seconds') or 0):.1f} s"),
        _row(
            "parameters",
            ", ".join(
                f"<code>{escape(k)}={escape(json.dumps(v, ensure_ascii=False))}</code>"
                for k, v in params.items()
            )
            or "defaults",
        ),
        _row(
            "data period",
            f"{escape(str(period.get('start')))} – {escape(str(period.get('end')))}"
            if period
            else "—",
        ),
        _row("data", _data(record)),
        _row("git commit", f"<code>{escape(str(record.get('git_commit') or '—'))}</code>"),
    ]
    if record.get("ipynb"):
        rows.append(
            _row("notebook", f'<a href="{escape(record["ipynb"])}">{escape(record["ipynb"])}</a>')
        )
    parts.append(f"<dl>{''.join(rows)}</dl></li>")
    return "".join(parts)


def worth_a_look(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every flag (:func:`helpers.reports.changes.flags`) of the reports that built, each with
    its report's name, title and page (``html``), in report order."""
    out = []
    for record in records:
        if record.get("status") != "ok":
            continue
        for flag in flags(record):
            out.append(
                {
                    **flag,
                    "report": record.get("name"),
                    "title": record.get("title"),
                    "html": record.get("html"),
                }
            )
    return out


def _worth_html(found: list[dict[str, Any]]) -> str:
    """The index's "Worth a look" list: one line per flag, linked to the report's "Since the
    last build" block; empty when nothing is flagged."""
    if not found:
        return ""
    items = []
    for flag in found:
        text = escape(flag_text(flag))
        title = escape(str(flag.get("title") or flag.get("report")))
        link = (
            f'<a href="{escape(flag["html"])}#since-the-last-build">{title}</a>'
            if flag.get("html")
            else title
        )
        items.append(f'<li class="{escape(flag["tone"])}">{link}: {text}</li>')
    return (
        '<section class="worth" id="worth-a-look"><h2>Worth a look</h2>'
        f"<ul>{''.join(items)}</ul></section>"
    )


def write_index(out_dir: Path, specs: list[ReportSpec]) -> Path:
    """Rewrite ``index.html`` and ``index.json`` from the ``<name>.json`` of every report in
    the config (reports not built in this run keep their last state), and ``metrics.json``
    (:func:`helpers.metrics.registry_json`: key -> label, definition, unit, direction)."""
    records = []
    cards = []
    for spec in specs:
        record = None
        path = out_dir / f"{spec.name}.json"
        if path.is_file():
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                record = None
        cards.append(_card(spec, record))
        records.append(record or {"name": spec.name, "title": spec.title, "status": "not built"})
    generated = now_iso()
    found = worth_a_look(records)
    n_failed = sum(r.get("status") == "failed" for r in records)
    noun = "report" if len(records) == 1 else "reports"
    summary = f"{len(records)} {noun}" + (f", {n_failed} failed" if n_failed else "")
    n_na = sum(r.get("status") == "not_applicable" for r in records)
    summary += f", {n_na} not applicable to this dataset" if n_na else ""
    datasets = sorted(
        {
            f"{dataset_name(r['data_dir'])} ({r.get('data_fingerprint') or '—'})"
            for r in records
            if r.get("data_dir")
        }
    )
    if datasets:  # one, as each dataset builds into its own folder
        summary += f" · data: {', '.join(datasets)}"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reports</title>
<style>{CSS}</style>
</head>
<body>
<header><h1>Reports</h1><p class="sub">{escape(summary)} &middot; index written {escape(generated)}
</p></header>
<main>{_worth_html(found)}<ul class="cards">
{chr(10).join(cards)}
</ul></main>
<footer>Generated by <code>python -m helpers.reports build</code> from
<code>reports.yml</code>; machine-readable: <a href="index.json">index.json</a>.</footer>
</body>
</html>
"""
    atomic.write_json(
        out_dir / "index.json",
        {"generated_at": generated, "worth_a_look": found, "reports": records},
    )
    atomic.write_json(out_dir / "metrics.json", metrics.registry_json())
    index = out_dir / "index.html"
    atomic.write_text(index, page)
    return index
