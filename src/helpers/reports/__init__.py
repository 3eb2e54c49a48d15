"""The report build: ``reports.yml`` -> papermill -> HTML -> ``reports/index.html``.

Notebooks only need :func:`publish`, which hands the report's key figures, its one-line finding
and the data period to the runner. This module is imported inside every report's kernel, so it
stays cheap: nothing heavy (papermill, nbconvert, pandas) is imported here.

Run the build with ``python -m helpers.reports build`` (see :mod:`helpers.reports.cli`).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["MIME_TYPE", "now_iso", "publish", "report_payload"]

#: The custom mime type of the output :func:`publish` emits. nbconvert's HTML exporter has no
#: renderer for it, so it shows nothing in the report; the runner reads it from the executed
#: notebook.
MIME_TYPE = "application/vnd.helpers.report+json"


def now_iso() -> str:
    """The local time now, ISO 8601 to the second with its offset (build and index stamps)."""
    return _dt.datetime.now(_dt.UTC).astimezone().isoformat(timespec="seconds")


def _scalar(value: Any, where: str) -> str | int | float | bool | None:
    """``value`` as a plain JSON scalar: numpy/pandas scalars unwrapped, dates as ISO strings,
    NaN/inf as ``None``. Anything else (lists, frames, objects) is a ``TypeError``."""
    if value is None or isinstance(value, bool | str):
        return value
    kind = type(value).__name__
    if kind in {"NaTType", "NAType"}:  # pandas.NaT is a datetime subclass: test it first
        return None
    if kind == "datetime64":  # numpy: .item() of a ns value is an int, so go through us
        return _scalar(value.astype("datetime64[us]").item(), where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return _scalar(float(value), where)
    if isinstance(value, _dt.datetime | _dt.date):
        return _iso(value)
    if isinstance(value, _dt.time):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars and 0-d arrays
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return _scalar(item(), where)
    raise TypeError(
        f"{where} must be a plain number or string (got {type(value).__name__}: {value!r})"
    )


def _iso(value: _dt.date | _dt.datetime) -> str:
    """ISO string; a datetime at midnight without a time zone is written as its date."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None and value.time() == _dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    return value.isoformat()


def _sections(sections: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``helpers.sections.Analysis.summary()`` checked: built keys, total, skipped titles."""
    if sections is None:
        return None
    try:
        built = [str(k) for k in sections["built"]]
        total = int(sections["total"])
        skipped = {str(k): " ".join(str(v).split()) for k, v in sections["skipped"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TypeError(
            "sections must be Analysis.summary(): {'built': [...], 'total': n, "
            f"'skipped': {{title: reason}}}}, got {sections!r}"
        ) from exc
    if len(built) + len(skipped) != total:
        raise TypeError(f"sections: {len(built)} built + {len(skipped)} skipped != {total}")
    return {"built": built, "total": total, "skipped": skipped}


def _group(value: Mapping[str, Any], where: str, depth: int) -> dict[str, Any]:
    """A group of figures: scalars, or (``depth`` > 1) groups of scalars, e.g.
    ``{"calibration_fit": {"bgnbd": {"r": 0.24}}}``."""
    return {
        str(k): _group(v, f"{where}.{k}", depth - 1)
        if depth > 1 and isinstance(v, Mapping)
        else _scalar(v, f"figure {where}.{k}")
        for k, v in value.items()
    }


def report_payload(
    figures: Mapping[str, Any],
    finding: str = "",
    period: tuple[Any, Any] | None = None,
    sections: Mapping[str, Any] | None = None,
    series: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON-serialisable dict :func:`publish` displays (exposed for tests and reuse).

    ``figures`` maps a name to a plain number or string (numpy/pandas scalars are unwrapped,
    dates become ISO strings, NaN becomes ``None``), or to a dict of such values (a group,
    e.g. ``{"bgnbd": {"r": 0.24, "alpha": 4.4}}``) or of such groups (two levels at most:
    ``{"calibration_fit": {"bgnbd": {"r": 0.24}}}``); ``finding`` is one line; ``period`` is
    ``(start, end)`` of the data the report covers, as dates or ISO strings; ``sections`` is
    :meth:`helpers.sections.Analysis.summary` (which sections were built, which skipped and why);
    ``series`` maps a headline figure's registry key to its history,
    ``{"freq": "week" | "month", "values": {"2026-W40" | "2026-10": number, ...}}``, periods
    in time order (ISO week ``YYYY-Www`` or ``YYYY-MM``), the last one the period the figure
    describes; complete periods only.
    """
    if not isinstance(figures, Mapping):
        raise TypeError(f"figures must be a dict of name -> number/string, got {type(figures)}")
    clean: dict[str, Any] = {}
    for key, value in figures.items():
        if not isinstance(key, str):
            raise TypeError(f"figure names must be strings, got {key!r}")
        if isinstance(value, Mapping):  # groups, e.g. a model's parameters, two levels at most
            clean[key] = _group(value, key, depth=2)
        elif isinstance(value, list | tuple) and all(isinstance(r, Mapping) for r in value):
            # records, e.g. one per (campaign, arm): a list of flat dicts of scalars
            clean[key] = [_group(r, f"{key}[{i}]", depth=1) for i, r in enumerate(value)]
        else:
            clean[key] = _scalar(value, f"figure {key!r}")
    if not isinstance(finding, str):
        raise TypeError(f"finding must be a string, got {type(finding).__name__}")
    finding = " ".join(finding.split())  # one line
    span: list[str] | None = None
    if period is not None:
        if len(period) != 2:
            raise TypeError(f"period must be (start, end), got {period!r}")
        span = []
        for end in period:
            value = _scalar(end, "period")
            if value is None:
                raise TypeError(f"period must be two dates, got {period!r}")
            span.append(str(value))
    payload = {"figures": clean, "finding": finding, "period": span}
    checked = _sections(sections)
    if checked is not None:
        payload["sections"] = checked
    if series is not None:
        payload["series"] = _series(series)
    return payload


_FREQS = ("week", "month")


def _series(series: Mapping[str, Any]) -> dict[str, Any]:
    """``series`` checked and made plain: key -> {freq, values: {period: number | None}}."""
    if not isinstance(series, Mapping):
        raise TypeError(f"series must be a dict of key -> {{freq, values}}, got {type(series)}")
    out: dict[str, Any] = {}
    for key, one in series.items():
        if not isinstance(one, Mapping) or one.get("freq") not in _FREQS:
            raise TypeError(f"series {key!r} must be {{'freq': 'week'|'month', 'values': {{...}}}}")
        values = one.get("values")
        if not isinstance(values, Mapping):
            raise TypeError(f"series {key!r}: values must map a period to a number")
        out[str(key)] = {
            "freq": one["freq"],
            "values": {str(p): _scalar(v, f"series {key}[{p}]") for p, v in values.items()},
        }
    return out


def publish(
    figures: Mapping[str, Any],
    finding: str = "",
    period: tuple[Any, Any] | None = None,
    sections: Mapping[str, Any] | None = None,
    series: Mapping[str, Any] | None = None,
) -> None:
    """Publish a report's key figures, its one-line finding and its data period.

    Call it in a notebook cell; it displays one output holding only the mime type
    :data:`MIME_TYPE`, which renders as nothing in the HTML. The report runner reads it from
    the executed notebook into ``reports/<name>.json`` (``figures``, ``finding``, ``period``,
    ``sections``, ``series``: the weekly or monthly history of its headline figures, which
    the build compares against their own past; see :func:`report_payload`).
    Called more than once, later figures are merged over earlier ones, and a later non-empty
    finding / period replaces the earlier one.

    >>> publish({"accounts": 1200, "revenue_eur": 3.4e6}, "Revenue grew 12% year on year.",
    ...         period=("2024-01-01", "2024-12-31"))  # doctest: +SKIP
    """
    payload = report_payload(figures, finding, period, sections, series)
    from IPython.display import display  # lazily: only inside a kernel

    display({MIME_TYPE: payload}, raw=True)
