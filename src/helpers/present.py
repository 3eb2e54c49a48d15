"""What notebooks call to show things: findings, tables, the data-quality section, definitions.

Numbers in the narrative are formatted here (``money``, ``pct``, ``count``) so every report
writes them the same way. Nothing here shows personal data: ``table`` refuses PII columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
from IPython.display import HTML, Markdown, display

from helpers import i18n
from helpers.config import PROJ_ROOT
from helpers.data.files import is_url
from helpers.data.schema import PII_COLUMNS
from helpers.exports import ListExport, write_list
from helpers.i18n import _
from helpers.plots import set_theme

LONG_TABLE_ROWS = 20
_PII = {c for cols in PII_COLUMNS.values() for c in cols}
_itables_ready = False


def setup() -> None:
    """Call once at the top of a notebook: chart theme, offline interactive tables."""
    global _itables_ready
    set_theme()
    pd.set_option("display.max_columns", 30)
    if not _itables_ready:
        import itables

        # connected=False inlines the DataTables bundle: the HTML opens offline.
        itables.init_notebook_mode(all_interactive=False, connected=False)
        _itables_ready = True


def money(x: float, unit: str = "") -> str:
    """1234567 -> '1.23M' (K, M, B suffixes), with an optional currency unit after it; in a
    Chinese report '123.46万' (:func:`helpers.i18n.compact`)."""
    return f"{i18n.compact(x)}{unit}"


def pct(x: float, digits: int = 1) -> str:
    """0.1234 -> '12.3%'."""
    return i18n.percent(None if pd.isna(x) else x, digits)


def count(n: float) -> str:
    """12345 -> '12,345'."""
    return i18n.integer(n)


def change(now: float, before: float) -> str:
    """Relative change from ``before`` to ``now`` as '+4.2%' (or 'n/a' when before is 0)."""
    if not before or pd.isna(before) or pd.isna(now):
        return "n/a"
    return f"{(now - before) / abs(before):+.1%}"


def md(text: str) -> None:
    display(Markdown(text))


def section(result, key: str) -> bool:
    """Whether section ``key`` of ``result`` (a topic's :class:`helpers.sections.Analysis`) was
    built; when it was not, show the one line that says why in its place. Use it as
    ``if present.section(result, "delivery"): ...`` at the top of a section's cells."""
    if result.built(key):
        return True
    md(f"*{result.reason(key)}*")
    return False


def findings(items: Iterable[str]) -> None:
    """The report's key findings as a bullet list (each item a computed sentence)."""
    items = list(items)
    if not items:
        raise ValueError("a report needs at least one finding")
    md("\n".join(f"- {item}" for item in items))


#: Words a column header keeps in capitals (``account_id`` -> "Account ID").
ACRONYMS = frozenset(
    "id sku gmv aov cac ltv clv roas roi ctr cvr cpa otif rfm mape mase mae abc xyz eoq ci "
    "sms sem po pos kpi url p50 p90 bg nbd mom yoy".split()
)


def header(column) -> str:
    """A column name as a reader sees it: ``rows_set_aside`` -> "Rows set aside",
    ``account_id`` -> "Account ID", ``ci_low`` -> "CI low". Names with a space or a capital
    are kept as written (a table that already chose its headers)."""
    text = str(column)
    if " " in text or text != text.lower():
        return text
    words = [w.upper() if w in ACRONYMS else w for w in text.replace("-", "_").split("_") if w]
    if not words:
        return text
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


def _cell(value):
    """Yes/No for flags (a reader does not read True/False); anything else unchanged."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "Yes" if value else "No"
    return value


def table(
    df: pd.DataFrame,
    caption: str = "",
    formats: Mapping[str, str] | None = None,
    *,
    paged: bool = True,
) -> None:
    """Show ``df``: a plain table when short, an interactive (sortable, searchable, offline)
    one when longer than ``LONG_TABLE_ROWS`` rows. Refuses columns holding personal data.
    Headers are shown as words (:func:`header`), flags as Yes/No; ``formats`` is keyed by the
    frame's own column names. ``paged=False`` shows every row as a plain table however long
    (a table read in full and printed, e.g. one row per month)."""
    pii = sorted(_PII.intersection(map(str, df.columns)))
    if pii:
        raise ValueError(f"table would show personal data columns {pii}: export them instead")
    shown = df.copy()
    formats = dict(formats or {})
    for column in shown.columns:
        dtype = shown[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
            shown[column] = shown[column].map(_cell)
        if column not in formats and pd.api.types.is_integer_dtype(dtype):
            formats[column] = "{:,}"  # thousands separators for counts
    for column, fmt in formats.items():
        shown[column] = shown[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    shown.columns = [header(c) for c in shown.columns]
    if paged and len(shown) > LONG_TABLE_ROWS:
        import itables

        setup()
        itables.show(shown, caption=caption or None, connected=False, lengthMenu=[15, 50, 200])
        return
    styler = shown.style.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    display(HTML(f'<div class="table-wide">{styler.to_html()}</div>'))


def todo_list(
    df: pd.DataFrame,
    report: str,
    name: str,
    what: str,
    *,
    top: int = 10,
    caption: str = "",
    formats: Mapping[str, str] | None = None,
    export_dir=None,
) -> ListExport:
    """A list people act on: written in full to ``<exports>/<report>/<name>.csv`` and
    ``.xlsx`` (:func:`helpers.exports.write_list`), shown by its count and its first ``top``
    rows (order ``df`` so the first rows matter most). ``what`` names one row in the plural
    ("SKUs to reorder now"). Personal-data columns go to the files, never to the page."""
    written = write_list(df, report, name, export_dir)
    if not len(df):
        md(_("No {what}.", what=what))
        return written
    files = f"`{written.shown}`" + (" " + _("and `.xlsx`") if written.xlsx else "")
    values = {"count": count(len(df)), "what": what, "files": files}
    if len(df) > top:
        md(
            _(
                "**{count}** {what}: the first {top} below; all of them in {files}.",
                top=top,
                **values,
            )
        )
    else:
        md(_("**{count}** {what}: all below, and in {files}.", **values))
    page = df.drop(columns=[c for c in df.columns if c in _PII]).head(top)
    table(page, caption=caption, formats=formats)
    return written


def shown_path(path) -> str:
    """A dataset's location as a report may show it: relative to the project root when inside
    it (``data/sample``), else only the folder's name (``retail``), so a report never shows the
    machine's directory layout. A connection URL (``duckdb:///x.db``) is shown without its
    user, password and query string."""
    text = str(path)
    if is_url(text):
        url = urlsplit(text)
        host = url.hostname or ""
        return (
            f"{url.scheme}://{host}{url.path}" if host else f"{url.scheme}://{Path(url.path).name}"
        )
    folder = Path(text.removeprefix("file://")).resolve()
    root = Path(PROJ_ROOT).resolve()
    if folder.is_relative_to(root):
        return folder.relative_to(root).as_posix() or "."
    return folder.name


def data_quality(ds, period_table: str = "orders", window: tuple | None = None) -> dict:
    """The data-quality section: rows read, rows set aside and why, the period covered.

    ``window`` is the ``(start, end)`` the report's parameters chose (either may be ``None``:
    the data's own first or last day); the section, and the ``period_start`` / ``period_end``
    it returns for ``publish``, give that window (clipped to the data), with the data's whole
    span beside it (``data_start`` / ``data_end``). The per-table counts are shown only when a
    row was set aside; otherwise one sentence says so.
    """
    lo, hi = ds.period(period_table)
    start, end = _window(window, lo, hi)
    q = ds.quality
    read, aside = int(q.groupby("table").rows_read.first().sum()), int(q.rows_set_aside.sum())
    dates = {"first": i18n.day(lo), "last": i18n.day(hi), "table": period_table}
    span = _("The {table} table runs from **{first}** to **{last}**.", **dates)
    if (start, end) != (lo.normalize(), hi.normalize()):
        span = _(
            "This report covers **{start}** to **{end}**, as its parameters ask; the {table} "
            "table runs from **{first}** to **{last}** in all.",
            start=i18n.day(start),
            end=i18n.day(end),
            **dates,
        )
    where = {
        "rows": count(read),
        "tables": q.table.nunique(),
        "path": shown_path(ds.path),
        "engine": ds.engine,
        "fingerprint": ds.fingerprint,
    }
    if aside:
        read_line = _(
            "Read **{rows}** rows in {tables} tables from `{path}` (engine {engine}, "
            "fingerprint `{fingerprint}`); **{aside}** rows ({share}) were set aside and are "
            "not used below.",
            aside=count(aside),
            share=pct(aside / read if read else 0, 2),
            **where,
        )
    else:
        read_line = _(
            "Read **{rows}** rows in {tables} tables from `{path}` (engine {engine}, "
            "fingerprint `{fingerprint}`); every row passed the validation rules.",
            **where,
        )
    md(f"{read_line} {span}")
    for note in getattr(ds, "notes", ()):
        md(note)
    if aside:
        per_table = q.groupby("table", sort=False).agg(
            rows_read=("rows_read", "first"),
            rows_kept=("rows_kept", "first"),
            rows_set_aside=("rows_set_aside", "sum"),
        )
        per_table = per_table[per_table.rows_set_aside > 0]
        table(per_table.reset_index(), caption=_("Tables with rows set aside"))
        reasons = q[q.rows_set_aside > 0][["table", "reason", "rows_set_aside", "examples"]]
        md(_("Rows set aside, by reason (example keys; the rows are in `ds.quarantine`):"))
        table(reasons, caption=_("Rows set aside, by table and reason"))
    return {
        "rows_read": read,
        "rows_set_aside": aside,
        "period_start": f"{start:%Y-%m-%d}",
        "period_end": f"{end:%Y-%m-%d}",
        "data_start": f"{lo:%Y-%m-%d}",
        "data_end": f"{hi:%Y-%m-%d}",
    }


def _window(window, lo: pd.Timestamp, hi: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``window`` = (start, end) as days, each ``None`` for the data's own bound, clipped to
    the data's span ``lo`` .. ``hi``."""
    first, last = lo.normalize(), hi.normalize()
    if window is None:
        return first, last
    if len(window) != 2:
        raise ValueError(f"window must be (start, end), got {window!r}")
    start = first if window[0] in (None, "") else max(pd.Timestamp(window[0]).normalize(), first)
    end = last if window[1] in (None, "") else min(pd.Timestamp(window[1]).normalize(), last)
    return start, end


def definitions(terms: Mapping[str, str]) -> None:
    """The report's closing section: each metric and how it is computed."""
    md("\n".join(f"- **{term}**: {text}" for term, text in terms.items()))
