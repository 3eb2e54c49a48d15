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

from helpers.config import PROJ_ROOT
from helpers.data.files import is_url
from helpers.data.schema import PII_COLUMNS
from helpers.plots import set_theme, short_number

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
    """1234567 -> '1.23M' (K, M, B suffixes), with an optional currency unit after it."""
    return f"{short_number(x)}{unit}"


def pct(x: float, digits: int = 1) -> str:
    """0.1234 -> '12.3%'."""
    return "n/a" if pd.isna(x) else f"{x:.{digits}%}"


def count(n: float) -> str:
    """12345 -> '12,345'."""
    return f"{int(n):,}"


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


def table(df: pd.DataFrame, caption: str = "", formats: Mapping[str, str] | None = None) -> None:
    """Show ``df``: a plain table when short, an interactive (sortable, searchable, offline)
    one when longer than ``LONG_TABLE_ROWS`` rows. Refuses columns holding personal data."""
    pii = sorted(_PII.intersection(map(str, df.columns)))
    if pii:
        raise ValueError(f"table would show personal data columns {pii}: export them instead")
    shown = df.copy()
    formats = dict(formats or {})
    for column in shown.columns:
        if column not in formats and pd.api.types.is_integer_dtype(shown[column]):
            formats[column] = "{:,}"  # thousands separators for counts
    for column, fmt in formats.items():
        shown[column] = shown[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    if len(shown) > LONG_TABLE_ROWS:
        import itables

        setup()
        itables.show(shown, caption=caption or None, connected=False, lengthMenu=[15, 50, 200])
        return
    styler = shown.style.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    display(HTML(styler.to_html()))


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


def data_quality(ds, period_table: str = "orders") -> dict:
    """The data-quality section: rows read, rows set aside and why, the period covered.

    Returns the figures it showed (rows read, set aside, period) for ``publish``.
    """
    lo, hi = ds.period(period_table)
    q = ds.quality
    read, aside = int(q.groupby("table").rows_read.first().sum()), int(q.rows_set_aside.sum())
    md(
        f"Read **{count(read)}** rows in {q.table.nunique()} tables from `{shown_path(ds.path)}` "
        f"(engine {ds.engine}, fingerprint `{ds.fingerprint}`); "
        f"**{count(aside)}** rows ({pct(aside / read if read else 0, 2)}) were set aside and "
        f"are not used below. {period_table.replace('_', ' ').capitalize()} run from "
        f"**{lo:%Y-%m-%d}** to **{hi:%Y-%m-%d}**."
    )
    for note in getattr(ds, "notes", ()):
        md(note)
    per_table = q.groupby("table", sort=False).agg(
        rows_read=("rows_read", "first"),
        rows_kept=("rows_kept", "first"),
        rows_set_aside=("rows_set_aside", "sum"),
    )
    table(per_table.reset_index(), caption="Rows read, kept and set aside, per table")
    reasons = q[q.rows_set_aside > 0][["table", "reason", "rows_set_aside", "examples"]]
    if len(reasons):
        md("Rows set aside, by reason (example keys; the rows are in `ds.quarantine`):")
        table(reasons, caption="Rows set aside, by table and reason")
    else:
        md("No row broke a validation rule.")
    return {
        "rows_read": read,
        "rows_set_aside": aside,
        "period_start": f"{lo:%Y-%m-%d}",
        "period_end": f"{hi:%Y-%m-%d}",
    }


def definitions(terms: Mapping[str, str]) -> None:
    """The report's closing section: each metric and how it is computed."""
    md("\n".join(f"- **{term}**: {text}" for term, text in terms.items()))
