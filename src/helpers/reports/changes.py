"""What changed: each headline figure against the previous build, each series against its own
previous period, and the figures outside their usual range ("worth a look").

Pure functions on plain JSON (a report's ``figures`` and ``series``, :func:`helpers.reports.
publish`), so the build, the index, the digest and the tests share one computation.

- **Since the last build** (:func:`figure_changes`): for every headline figure (a numeric
  scalar whose registry entry, :mod:`helpers.metrics`, is of kind ``metric``): the previous
  good build's value, this build's, ``change = current − previous`` and ``relative = change /
  |previous|`` (None when the previous value is 0 or missing).
- **Since the last period** (:func:`period_change`): for every series, its last period against
  the one before (last month against the month before, this week against last week) and
  against the same period a year earlier (``2026-W44`` against ``2025-W44``; ``2026-10``
  against ``2025-10``), with the same change and relative change.
- **Worth a look** (:func:`robust_flag`): the last value of a series against the
  :data:`WINDOW` periods before it, by the modified z-score of Iglewicz and Hoaglin (1993),
  ``z = 0.6745 × (x − median) / MAD`` with ``MAD = median(|xᵢ − median|)``; a value with
  ``|z| > 3.5`` is flagged. The median and MAD are not dragged by the outlier they look for
  (a mean and standard deviation are). When ``MAD = 0`` (half the window equal), the mean
  absolute deviation around the median stands in, ``z = (x − median) / (1.2533 × MeanAD)``
  (the fallback IBM SPSS documents); when that is 0 too, the history is flat and any other
  value is flagged with ``z = None``. A series needs :data:`MIN_HISTORY` earlier periods.
  Hand-written: scipy.stats.median_abs_deviation gives the MAD only and pulls numpy into the
  build's process, and twelve numbers need no array library; statsmodels' robust scales the
  same.

Tone: a figure's registry ``direction`` says whether up is good (``up``), bad (``down``) or
neither (``none``): a change is ``good``, ``bad`` or ``neutral`` by it, and shown as an arrow
and a sign (▲ +5.2 %, ▼ −3, = 0) coloured green, red or grey.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from html import escape
from typing import Any

from helpers import metrics

__all__ = [
    "MIN_HISTORY",
    "THRESHOLD",
    "WINDOW",
    "build_changes",
    "change_html",
    "change_text",
    "figure_changes",
    "flag_text",
    "flags",
    "headline",
    "period_change",
    "previous_period",
    "robust_flag",
    "since_html",
    "year_ago_period",
]

#: Periods before the last one the robust z-score compares it with.
WINDOW = 12
#: Fewest earlier periods a series needs to be checked at all.
MIN_HISTORY = 8
#: |modified z| above which a value is outside its usual range (Iglewicz and Hoaglin).
THRESHOLD = 3.5
MAD_SCALE = 0.6745  # Φ⁻¹(0.75): makes the MAD of normal data estimate σ
MEAN_AD_SCALE = 1.253314  # √(π/2): makes the mean absolute deviation estimate σ

ARROWS = {"up": "▲", "down": "▼", "flat": "="}
COLOURS = {"good": "#1a7f37", "bad": "#b42318", "neutral": "#57606a"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def headline(report: str, figures: dict[str, Any] | None) -> dict[str, float]:
    """The headline figures of ``figures``: numeric scalars whose registry entry is of kind
    ``metric``."""
    out = {}
    for key, value in (figures or {}).items():
        found = metrics.METRICS.get(key)
        number = _number(value)
        if found is not None and found.kind == "metric" and number is not None:
            out[key] = number
    return out


def _delta(current: float | None, previous: float | None) -> dict[str, float | None]:
    if current is None or previous is None:
        return {"change": None, "relative": None}
    change = current - previous
    relative = change / abs(previous) if previous else None
    return {"change": change, "relative": relative}


def _tone(key: str, change: float | None) -> str:
    found = metrics.lookup(key)
    direction = found.direction if found else "none"
    if change is None or change == 0 or direction == "none":
        return "neutral"
    return "good" if (change > 0) == (direction == "up") else "bad"


def figure_changes(
    report: str, figures: dict[str, Any] | None, previous: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Every headline figure of this build with the previous build's value (None when the
    figure is new, or there was no previous build), the change, relative change and tone."""
    before = headline(report, previous)
    out = {}
    for key, current in headline(report, figures).items():
        entry = {"current": current, "previous": before.get(key)}
        entry.update(_delta(current, entry["previous"]))
        entry["tone"] = _tone(key, entry["change"])
        out[key] = entry
    return out


def _parse(period: str) -> tuple[str, int, int]:
    """``2026-W44`` -> ("week", 2026, 44); ``2026-10`` -> ("month", 2026, 10)."""
    year, _, rest = period.partition("-")
    if rest.startswith("W"):
        return "week", int(year), int(rest[1:])
    return "month", int(year), int(rest)


def previous_period(period: str) -> str:
    """The period before ``period`` (``2026-W01`` -> ``2025-W53`` or ``-W52``; ``2026-01`` ->
    ``2025-12``)."""
    freq, year, n = _parse(period)
    if freq == "week":
        day = dt.date.fromisocalendar(year, n, 1) - dt.timedelta(days=7)
        iso = day.isocalendar()
        return f"{iso[0]}-W{iso[1]:02d}"
    return f"{year - 1}-12" if n == 1 else f"{year}-{n - 1:02d}"


def year_ago_period(period: str) -> str | None:
    """The same period a year earlier (``2026-W44`` -> ``2025-W44``; None for a week 53 the
    year before does not have)."""
    freq, year, n = _parse(period)
    if freq == "week":
        try:
            dt.date.fromisocalendar(year - 1, n, 1)
        except ValueError:
            return None
        return f"{year - 1}-W{n:02d}"
    return f"{year - 1}-{n:02d}"


def _values(one: dict[str, Any]) -> dict[str, float]:
    """A series' values as numbers, periods with no value left out (in the published order)."""
    out = {}
    for period, value in (one.get("values") or {}).items():
        number = _number(value)
        if number is not None:
            out[str(period)] = number
    return out


def period_change(key: str, one: dict[str, Any]) -> dict[str, Any] | None:
    """The last period of series ``one`` against the period before it and the same period a
    year earlier (None for an empty series)."""
    values = _values(one)
    if not values:
        return None
    period = list(values)[-1]
    current = values[period]
    prev, year = previous_period(period), year_ago_period(period)
    entry: dict[str, Any] = {"freq": one.get("freq"), "period": period, "current": current}
    entry.update(previous_period=prev, previous=values.get(prev))
    entry.update(_delta(current, entry["previous"]))
    entry["tone"] = _tone(key, entry["change"])
    ago = values.get(year) if year else None
    year_delta = _delta(current, ago)
    entry.update(
        year_ago_period=year,
        year_ago=ago,
        year_change=year_delta["change"],
        year_relative=year_delta["relative"],
        year_tone=_tone(key, year_delta["change"]),
    )
    return entry


def _robust_z(x: float, history: list[float]) -> tuple[float | None, float, float]:
    """(modified z of ``x``, median, scale) against ``history``; z None on a flat history."""
    med = statistics.median(history)
    mad = statistics.median(abs(v - med) for v in history)
    if mad > 0:
        return MAD_SCALE * (x - med) / mad, med, mad / MAD_SCALE
    mean_ad = sum(abs(v - med) for v in history) / len(history)
    if mean_ad > 0:
        return (x - med) / (MEAN_AD_SCALE * mean_ad), med, MEAN_AD_SCALE * mean_ad
    return (None if x != med else 0.0), med, 0.0


def robust_flag(
    key: str,
    one: dict[str, Any],
    window: int = WINDOW,
    min_history: int = MIN_HISTORY,
    threshold: float = THRESHOLD,
) -> dict[str, Any] | None:
    """A flag when the last value of series ``one`` is outside its usual range (see the module
    docstring), else None: the period, value, the window's median, the move from it (absolute
    and relative), the modified z, the direction of the move and its tone."""
    values = _values(one)
    if len(values) < min_history + 1:
        return None
    periods = list(values)
    period, x = periods[-1], values[periods[-1]]
    history = [values[p] for p in periods[-window - 1 : -1]]
    z, med, scale = _robust_z(x, history)
    if z is not None and abs(z) <= threshold:
        return None
    move = x - med
    return {
        "key": key,
        "freq": one.get("freq"),
        "period": period,
        "value": x,
        "median": med,
        "scale": scale,
        "change": move,
        "relative": move / abs(med) if med else None,
        "z": None if z is None else round(z, 2),
        "window": len(history),
        "move": "up" if move > 0 else "down",
        "tone": _tone(key, move),
    }


def build_changes(
    report: str,
    found: dict[str, Any],
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """A report's ``changes``: ``since`` (the previous good build: its time, data fingerprint
    and period, or None), ``figures`` (:func:`figure_changes`), ``series`` (key ->
    :func:`period_change`) and ``flags`` (the series worth a look, :func:`robust_flag`)."""
    series = found.get("series") or {}
    since = None
    if previous:
        since = {k: previous.get(k) for k in ("built_at", "data_fingerprint", "period")}
    periods = {k: period_change(k, one) for k, one in series.items()}
    return {
        "since": since,
        "figures": figure_changes(report, found.get("figures"), (previous or {}).get("figures")),
        "series": {k: v for k, v in periods.items() if v is not None},
        "flags": [f for k, one in series.items() if (f := robust_flag(k, one)) is not None],
    }


def flags(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The worth-a-look flags of a report's record: those its build computed, or (a record
    written before changes existed) computed from its series now."""
    changes = record.get("changes")
    if isinstance(changes, dict) and isinstance(changes.get("flags"), list):
        return changes["flags"]
    series = record.get("series") or {}
    return [f for k, one in series.items() if (f := robust_flag(k, one)) is not None]


# --------------------------------------------------------------------------- showing a change


def _unit(key: str) -> str:
    found = metrics.lookup(key)
    return found.unit if found else "number"


def _signed(key: str, change: float) -> str:
    """``+1,234`` / ``−3.2 pp`` (a share's change in percentage points) by the key's unit."""
    unit = _unit(key)
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    if unit == "share":
        return f"{sign}{abs(change) * 100:.1f} pp"
    text = metrics.format_value(unit, abs(change))
    return f"{sign}{text}"


def change_text(key: str, change: float | None, relative: float | None) -> str:
    """A change as words a plain-text digest shows: ``▲ +1,234 (+5.2%)``, ``= 0``; "" when
    there is nothing to compare with."""
    if change is None:
        return ""
    if change == 0:
        return f"{ARROWS['flat']} no change"
    arrow = ARROWS["up" if change > 0 else "down"]
    text = f"{arrow} {_signed(key, change)}"
    if relative is not None and _unit(key) != "share":
        text += f" ({'+' if relative > 0 else '−'}{abs(relative):.1%})"
    return text


def change_html(key: str, change: float | None, relative: float | None, tone: str = "") -> str:
    """:func:`change_text` in a ``<span class="chg good|bad|neutral">`` coloured by its tone
    (inline colour too, for an e-mail client that drops the style sheet); "" when none."""
    text = change_text(key, change, relative)
    if not text:
        return ""
    tone = tone or _tone(key, change)
    return (
        f'<span class="chg {tone}" style="color:{COLOURS[tone]}" '
        f'title="{escape(_tone_words(key, tone))}">{escape(text)}</span>'
    )


def _tone_words(key: str, tone: str) -> str:
    found = metrics.lookup(key)
    direction = found.direction if found else "none"
    good = {"up": "higher is better", "down": "lower is better"}.get(direction, "neither way")
    return f"{tone}: {good} for this figure"


def flag_text(flag: dict[str, Any]) -> str:
    """One line for a flag: ``GMV, 2026-W44: 41,230, 3.2× its usual spread above the median of
    the 12 weeks before (18,400; +124.1%)``."""
    key = flag["key"]
    unit = _unit(key)
    value = metrics.format_value(unit, flag["value"])
    median = metrics.format_value(unit, flag["median"])
    side = "above" if flag["move"] == "up" else "below"
    size = f"modified z {flag['z']:+.1f}" if flag.get("z") is not None else "after a flat history"
    rel = f"; {change_text(key, flag['change'], flag['relative'])}"
    return (
        f"{metrics.label(key)}, {flag['period']}: {value}, {side} the median of the "
        f"{flag['window']} {flag['freq']}s before ({median}{rel}), {size}"
    )


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="changes"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _fmt(key: str, value: float | None) -> str:
    return escape(metrics.format_value(_unit(key), value))


def since_html(changes: dict[str, Any] | None) -> str:
    """The report page's "Since the last build" block: the flags, the headline figures against
    the previous build, the series' last period against the one before and a year before."""
    if not changes:
        return ""
    compared = changes.get("since") and changes.get("figures")
    if not (compared or changes.get("series") or changes.get("flags")):
        return ""  # nothing to compare yet: no block
    parts = ['<section class="report-changes">', '<h2 id="since-the-last-build">']
    parts.append("Since the last build</h2>")
    since = changes.get("since")
    if since:
        parts.append(f"<p>Compared with the build of {escape(str(since.get('built_at')))}.</p>")
    else:
        parts.append("<p>No earlier build to compare with: the next build will show changes.</p>")
    if changes.get("flags"):
        items = "".join(
            f'<li class="{f["tone"]}">{escape(flag_text(f))}</li>' for f in changes["flags"]
        )
        parts.append(f"<p><strong>Worth a look</strong></p><ul>{items}</ul>")
    rows = [
        [
            escape(metrics.label(k)),
            _fmt(k, e["current"]),
            _fmt(k, e["previous"]),
            change_html(k, e["change"], e["relative"], e["tone"]),
        ]
        for k, e in (changes.get("figures") or {}).items()
    ]
    if rows and since:
        parts.append(_table(["Figure", "This build", "Previous build", "Change"], rows))
    rows = [
        [
            escape(metrics.label(k)),
            escape(str(e["period"])),
            _fmt(k, e["current"]),
            _fmt(k, e["previous"]),
            change_html(k, e["change"], e["relative"], e["tone"]),
            _fmt(k, e["year_ago"]),
            change_html(k, e["year_change"], e["year_relative"], e["year_tone"]),
        ]
        for k, e in (changes.get("series") or {}).items()
    ]
    if rows:
        head = ["Series", "Period", "Value", "Period before", "Change", "A year before", "Change"]
        parts.append(_table(head, rows))
    parts.append("</section>")
    return "".join(parts)
