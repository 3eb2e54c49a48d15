"""Web purchase funnel: the funnel report's helpers (the sales pipeline: :mod:`helpers.pipeline`).

The report's entry point is :func:`analyse` (``CORE`` = web_events; the breakdowns by an
account's industry, region and size band need the accounts table). The web funnel is computed
in the engine (Ibis: DuckDB or Spark); only one row per step (and group) reaches pandas. The
funnel itself is :func:`funnel_conversion`::

    from helpers.funnel import funnel_conversion
    funnel_conversion(events, ["visit", "product_view", "purchase"], window="7D")

How a funnel is counted (the rules PostHog, Mixpanel and Amplitude use, written as SQL):

- **Unit**: one visitor (``id_col="visitor_id"``) or one account (``id_col="account_id"``);
  rows whose ID is null are not counted.
- **Entry**: a unit enters at its *first* event of step 1 (``t_1``); one attempt per unit.
  A breakdown column (``by``) takes its value from that entry event (first touch); ties in
  time at entry go to the smallest ``by`` value.
- **Window**: the later steps count only when they happen in ``[t_1, t_1 + window]``.
- **Order**: ``order="strict"``: step k is reached at ``t_k``, the first event of step k at
  or after ``t_{k-1}`` (other events may come between steps; an event at the same instant as
  the step before counts as after it). This is PostHog's "sequential" and Amplitude's "this
  order" (PostHog's own "strict", no event in between, is not offered).
  ``order="any"``: step 1 still comes first, then steps 2..k in any order inside the window;
  step k is reached when all of steps 1..k have happened, at ``t_k = max(first time of each
  of steps 1..k)``.
- **Counts**: ``entrants_k`` = units that reached step k. Conversion from previous =
  entrants_k / entrants_{k-1}; from first = entrants_k / entrants_1; drop-off =
  entrants_{k-1} - entrants_k. Time to convert = ``t_k - t_{k-1}`` (and ``t_k - t_1``) in
  seconds over the units that reached step k: median and 90th percentile, exact
  (linear interpolation, DuckDB ``quantile_cont`` = Spark ``percentile``).

Why hand-written: there is no maintained Python funnel library that runs inside DuckDB and
Spark (ClickHouse's ``windowFunnel`` is engine-specific; PostHog's funnels live in its
server); the rule above is a chain of joins and one aggregation that both engines run.

:func:`funnel_paths` is the per-unit table behind it (one row per unit, the time each step was
reached, whether its window is still open and whether an exclusion dropped it) behind
breakdowns, trends and time-to-convert distributions; the edges of issue #12 (entry range,
unfinished and per-step windows, exclusions) are described in :func:`funnel_conversion`.
The report (:func:`analyse`) makes that table once, with every breakdown's entry value
(:func:`unit_paths`, materialised in the engine), and counts every view from it
(:func:`conversion_from_paths`): at 100x the funnel ran once per breakdown, trend and histogram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from helpers.data import tables
from helpers.data.dataset import materialise
from helpers.funnel import drivers
from helpers.sections import Analysis, Section
from helpers.stats import chi_square_proportions, pairwise_proportion_tests, wilson_interval

__all__ = [
    "ACCOUNT_COLUMNS",
    "ANONYMOUS",
    "JOURNEYS",
    "after_dropoff",
    "conversion_drivers",
    "journey_events",
    "CORE",
    "SECTIONS",
    "STEPS",
    "analyse",
    "avoidable_by_breakdown",
    "avoidable_dropoff",
    "best_and_worst",
    "breakdown_tests",
    "conversion_from_paths",
    "definitions",
    "entry_summary",
    "events_with_accounts",
    "funnel_conversion",
    "funnel_paths",
    "group_differences",
    "leakiest_step",
    "open_tables",
    "step_comparison",
    "time_to_convert_histogram",
    "time_to_convert_trend",
    "unit_paths",
    "weekly_trend",
]

STEPS = ("visit", "product_view", "add_to_cart", "quote_request", "checkout", "purchase")
ORDERS = ("strict", "any")
ANONYMOUS = "(anonymous)"
_RESERVED = {
    "step",
    "step_index",
    "entered_at",
    "_k",
    "_t",
    "_prev",
    "_rn",
    "_id",
    "_xid",
    "_x",
    "still_in_window",
    "excluded",
}


# ----------------------------------------------------------------------------- inputs


def _as_table(events, name: str = "events"):
    """An Ibis table from an Ibis table or a pandas DataFrame (in-process DuckDB memtable)."""
    if isinstance(events, ibis.Table):
        return events
    if isinstance(events, pd.DataFrame):
        return ibis.memtable(events)
    raise ValueError(f"{name} must be an Ibis table or a pandas DataFrame, got {type(events)}")


def _window_seconds(window) -> int:
    """The conversion window in whole seconds, from a pandas/ISO string ("7D", "30 days"),
    a timedelta or a number of days."""
    if isinstance(window, bool):
        raise ValueError(f"window must be a duration, got {window!r}")
    if isinstance(window, int | float | np.integer | np.floating):
        td = pd.Timedelta(days=float(window))
    else:
        try:
            td = pd.Timedelta(window)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"window must be a duration like '7D', got {window!r}") from exc
    if pd.isna(td) or td <= pd.Timedelta(0):
        raise ValueError(f"window must be a positive duration, got {window!r}")
    return int(td.total_seconds())


def _by_list(by) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _anchors(steps: Sequence[str], optional=None) -> list[int]:
    """For each step (1-based position k), the step it is counted from: the latest step before
    it that is not optional (0 for the first step). Optional steps are neither the first nor
    the last, and must be steps."""
    steps, optional = list(steps), _by_list(optional)
    bad = [s for s in optional if s not in steps[1:-1]]
    if bad:
        raise ValueError(
            f"optional steps {bad} must be steps other than the first and the last {steps}"
        )
    out, anchor = [0], 1
    for k, step in enumerate(steps[1:], start=2):
        out.append(anchor)
        if step not in optional:
            anchor = k
    return out


def _validate(t, steps, order, id_col, ts_col, event_col, by) -> list[str]:
    steps = list(steps)
    if not steps or not all(isinstance(s, str) and s for s in steps):
        raise ValueError(f"steps must be a non-empty list of event names, got {steps!r}")
    if len(set(steps)) != len(steps):
        raise ValueError(f"steps must not repeat an event, got {steps!r}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    missing = [c for c in (id_col, ts_col, event_col, *by) if c not in t.columns]
    if missing:
        raise ValueError(f"events table has no column(s) {missing}; it has {list(t.columns)}")
    bad = [c for c in by if c in _RESERVED or c in (id_col, ts_col, event_col)]
    if bad:
        raise ValueError(f"by column(s) {bad} clash with the funnel's own columns")
    if not t[ts_col].type().is_timestamp():
        raise ValueError(f"events column '{ts_col}' must be a timestamp, not {t[ts_col].type()}")
    if not t[event_col].type().is_string():
        raise ValueError(f"events column '{event_col}' must be text, not {t[event_col].type()}")
    return steps


# ----------------------------------------------------------------------------- engine part

UNFINISHED = ("exclude", "include")


def _day_bounds(entry_start, entry_end) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """[start day 00:00, day after the end day 00:00): the entry range as whole days."""
    out = []
    for name, value, shift in (("entry_start", entry_start, 0), ("entry_end", entry_end, 1)):
        if value is None:
            out.append(None)
            continue
        try:
            day = pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a date like '2026-01-31', got {value!r}") from exc
        if pd.isna(day):
            raise ValueError(f"{name} must be a date like '2026-01-31', got {value!r}")
        out.append(day.tz_localize(None).normalize() + pd.Timedelta(days=shift))
    if out[0] is not None and out[1] is not None and out[1] <= out[0]:
        raise ValueError(f"entry_end ({entry_end}) is before entry_start ({entry_start})")
    return out[0], out[1]


def _step_windows(step_windows, steps: list[str], order: str, total: int) -> list[int | None]:
    """Per-step windows in seconds, one per step (None for the first and for steps without
    one), from a dict {later step: duration} or a list of n - 1 durations (None = no limit)."""
    n = len(steps)
    if step_windows is None:
        return [None] * n
    if order != "strict":
        raise ValueError(
            "step_windows need order='strict' (a step's window starts at the step before)"
        )
    if isinstance(step_windows, dict):
        unknown = [s for s in step_windows if s not in steps[1:]]
        if unknown:
            raise ValueError(
                f"step_windows keys {unknown} are not steps after the first {steps[1:]}"
            )
        values = [step_windows.get(s) for s in steps[1:]]
    else:
        values = list(step_windows)
        if len(values) != n - 1:
            raise ValueError(f"step_windows needs {n - 1} durations (one per step after the first)")
    secs = [None if v is None else _window_seconds(v) for v in values]
    return [None, *[None if s is None or s >= total else s for s in secs]]


def _exclusions(exclusions, steps: list[str]) -> list[tuple[str, int, int]]:
    """(event, from step, to step) with 1-based step positions; a bare event name means
    between the first and the last step."""
    out = []
    for x in exclusions or ():
        ev, a, b = (x, steps[0], steps[-1]) if isinstance(x, str) else tuple(x)
        if not isinstance(ev, str) or not ev or ev in steps:
            raise ValueError(
                f"an exclusion event must be an event name that is not a step, got {ev!r}"
            )
        if a not in steps or b not in steps or steps.index(a) >= steps.index(b):
            raise ValueError(f"exclusion {x!r}: give (event, from step, later step) among {steps}")
        out.append((ev, steps.index(a) + 1, steps.index(b) + 1))
    return out


def _entries(e, id_col: str, by: list[str]):
    """One row per unit: its first step-1 event in the entry range (``entered_at``) and the
    ``by`` values there (``e`` holds only step-1 events inside the range as ``_k == 0``)."""
    first = e.filter(e._k == 0)
    if not by:
        return first.group_by(id_col).aggregate(entered_at=first._t.min())
    w = ibis.window(group_by=first[id_col], order_by=[first._t, *[first[c] for c in by]])
    ranked = first.mutate(_rn=ibis.row_number().over(w))
    return ranked.filter(ranked._rn == 0).select(id_col, *by, entered_at="_t")


def _backend_name(t) -> str:
    try:
        return t._find_backend(use_default=True).name
    except Exception:  # an unbound expression: it will run on the default (DuckDB)
        return "duckdb"


def _strict_joins(e, entries, n: int, id_col: str, by: list[str], win, step_wins, anchors):
    anchor = entries.select(id_col, entered_at="entered_at")
    cand = e.filter(e._k > 0).select(id_col, "_k", "_t").join(anchor, id_col)
    cand = cand.filter(cand._t >= cand.entered_at, cand._t <= cand.entered_at + win)
    cand = cand.select(id_col, "_k", "_t")
    reached = {1: anchor.select(id_col, _prev="entered_at")}  # step k -> (id, time)
    out = entries.select(id_col, *by, at_1="entered_at")
    for i in range(1, n):
        c = cand.filter(cand._k == i).join(reached[anchors[i]], id_col)
        cond = [c._t >= c._prev]
        if step_wins[i] is not None:
            cond.append(c._t <= c._prev + ibis.interval(seconds=step_wins[i]))
        c = c.filter(*cond).group_by(id_col).aggregate(at=c._t.min())
        reached[i + 1] = c.select(id_col, _prev="at")
        c = c.select(_id=c[id_col], **{f"at_{i + 1}": c.at})
        out = out.left_join(c, out[id_col] == c._id).drop("_id")
    return out


def _strict_carry(e, out, n: int, id_col: str, by: list[str], win, step_wins, anchors):
    for i in range(1, n):
        c = e.filter(e._k == i).select(_id=e[id_col], _t=e._t)
        prev = out[f"at_{anchors[i]}"]
        cond = [out[id_col] == c._id, c._t >= prev, c._t <= out.at_1 + win]
        if step_wins[i] is not None:
            cond.append(c._t <= prev + ibis.interval(seconds=step_wins[i]))
        j = out.left_join(c, cond)
        carried = [*by, *[f"at_{m}" for m in range(1, i + 1)]]
        # the carried columns hold one value per unit: min() passes them through
        out = j.group_by(id_col).aggregate(
            **{c: j[c].min() for c in carried}, **{f"at_{i + 1}": j._t.min()}
        )
    return out


def _any_order(e, out, n: int, id_col: str, by: list[str], win, anchors):
    c = e.filter(e._k > 0).select(_id=e[id_col], _t=e._t, _k=e._k)
    j = out.left_join(c, [out[id_col] == c._id, c._t >= out.at_1, c._t <= out.at_1 + win])
    firsts = j.group_by(id_col).aggregate(
        **{c: j[c].min() for c in [*by, "at_1"]},
        **{f"_f{i}": j._t.min(where=j._k == i) for i in range(1, n)},
    )
    cols = {"at_1": firsts.at_1}
    for i in range(1, n):
        before, f = cols[f"at_{anchors[i]}"], firsts[f"_f{i}"]
        cols[f"at_{i + 1}"] = ibis.ifelse(
            before.notnull() & f.notnull(), ibis.greatest(before, f), ibis.null("timestamp")
        )
    return firsts.select(id_col, *by, **cols)


def _coded(t, steps, xevents, id_col, by, ts_col, event_col, entry_start, entry_end):
    """The events that matter to the funnel as ``id_col``, ``by``, ``_t`` (time) and ``_k``
    (0-based step, or -1 - j for exclusion event j); step-1 events outside the entry range
    are left out (the range selects entries only: later steps may happen after its end)."""
    start, end = _day_bounds(entry_start, entry_end)
    codes = [(t[event_col] == s, i) for i, s in enumerate(steps)]
    codes += [(t[event_col] == x, -1 - j) for j, x in enumerate(xevents)]
    k = ibis.cases(*codes, else_=None)
    e = t.filter(t[id_col].notnull(), t[event_col].isin([*steps, *xevents]), t[ts_col].notnull())
    e = e.select(id_col, *by, _t=e[ts_col], _k=k.cast("int8"))
    if start is not None or end is not None:
        outside = ibis.literal(False)
        if start is not None:
            outside = outside | (e._t < start)
        if end is not None:
            outside = outside | (e._t >= end)
        e = e.filter(~((e._k == 0) & outside))
    return e


def funnel_paths(
    events,
    steps: Sequence[str] = STEPS,
    window="30D",
    *,
    order: str = "strict",
    id_col: str = "visitor_id",
    by: str | Sequence[str] | None = None,
    ts_col: str = "ts",
    event_col: str = "event",
    plan: str = "auto",
    entry_start=None,
    entry_end=None,
    step_windows=None,
    exclusions=None,
    as_of=None,
    optional=None,
):
    """One row per unit that entered the funnel (an Ibis expression, not executed).

    Columns: ``id_col``, the ``by`` columns, ``at_1 .. at_n`` (when each step was reached,
    null when not; ``at_1`` is the entry time), ``still_in_window`` (true when the unit's
    window had not closed by ``as_of``) and ``excluded`` (true when the unit did an exclusion
    event between the steps named). The rules, and the keyword arguments, are in the module
    docstring and in :func:`funnel_conversion`.

    ``plan`` (strict order only; same result either way): "joins" finds each step from the
    previous one and joins them all back to the entries, as one would write it in SQL (the
    fastest on DuckDB, which reuses the shared parts); "carry" is a linear chain of left joins
    where each step's table carries the earlier steps along, so nothing is computed twice
    (Spark inlines shared subqueries and would recompute them); "auto" picks "joins" on
    DuckDB and "carry" elsewhere.
    """
    t = _as_table(events)
    by = _by_list(by)
    steps = _validate(t, steps, order, id_col, ts_col, event_col, by)
    if plan not in ("auto", "joins", "carry"):
        raise ValueError(f"plan must be 'auto', 'joins' or 'carry', got {plan!r}")
    total = _window_seconds(window)
    win = ibis.interval(seconds=total)
    step_wins = _step_windows(step_windows, steps, order, total)
    excl = _exclusions(exclusions, steps)
    anchors = _anchors(steps, optional)
    xevents = sorted({x[0] for x in excl})
    e = _coded(t, steps, xevents, id_col, by, ts_col, event_col, entry_start, entry_end)
    entries = _entries(e, id_col, by)
    out = entries.select(id_col, *by, at_1="entered_at")
    if order == "strict":
        if plan == "auto":
            plan = "joins" if _backend_name(t) == "duckdb" else "carry"
        if plan == "joins":
            out = _strict_joins(e, entries, len(steps), id_col, by, win, step_wins, anchors)
        else:
            out = _strict_carry(e, out, len(steps), id_col, by, win, step_wins, anchors)
    else:
        out = _any_order(e, out, len(steps), id_col, by, win, anchors)
    # the latest time a step can still happen: the whole window, or the per-step windows
    # added up when every step has one
    horizon = total
    if all(w is not None for w in step_wins[1:]):
        horizon = min(total, sum(step_wins[1:]))
    last = t[ts_col].max().as_scalar() if as_of is None else ibis.literal(pd.Timestamp(as_of))
    out = out.mutate(still_in_window=out.at_1 + ibis.interval(seconds=horizon) > last)
    if not excl:
        return out.mutate(excluded=ibis.literal(False))
    hits = []
    for ev, a, b in excl:
        x = e.filter(e._k == -1 - xevents.index(ev)).select(_xid=e[id_col], _xt=e._t)
        upto = ibis.coalesce(out[f"at_{b}"], out.at_1 + win)
        j = out.join(x, [out[id_col] == x._xid, x._xt >= out[f"at_{a}"], x._xt <= upto])
        hits.append(j.select(_xid=j[id_col]))
    hit = ibis.union(*hits, distinct=True).mutate(_x=ibis.literal(True))
    j = out.left_join(hit, out[id_col] == hit._xid)
    return j.mutate(excluded=j._x.notnull()).drop("_xid", "_x")


JOURNEYS = ("first", "repeat")


def journey_events(
    events, first_step: str, id_col: str = "visitor_id", ts_col: str = "ts", event_col="event"
):
    """``events`` with a ``journey_id`` column, so that a funnel with ``id_col="journey_id"``
    counts every journey instead of each unit's first (Mixpanel's "totals", Amplitude's
    "conversions" counting).

    A unit's journey starts at each of its ``first_step`` events (a visit, say); every event
    from that instant up to the unit's next ``first_step`` event belongs to it (a step at the
    same instant as an entry joins the new journey). journey_id = "<unit id>@<start time>";
    events before a unit's first entry have none (null). Computed in the engine: the latest
    entry time at or before each event, a running max over the unit's events in time order.
    """
    t = _as_table(events)
    entry = t[event_col] == first_step
    w = ibis.window(
        group_by=t[id_col], order_by=[t[ts_col], ibis.desc(entry.cast("int8"))], rows=(None, 0)
    )
    start = ibis.ifelse(entry, t[ts_col], ibis.null("timestamp")).max().over(w)
    key = t[id_col].cast("string").concat("@", start.cast("string"))
    return t.mutate(journey_id=ibis.ifelse(start.isnull(), ibis.null("string"), key))


def unit_paths(
    events,
    steps: Sequence[str] = STEPS,
    window="30D",
    *,
    attributes: Sequence[str] = (),
    id_col: str = "visitor_id",
    ts_col: str = "ts",
    event_col: str = "event",
    entry_start=None,
    entry_end=None,
    cache: bool = True,
    **options,
):
    """:func:`funnel_paths` with each of ``attributes`` (columns of ``events``) taken from the
    unit's entry event, materialised in the engine (``cache``: a DuckDB temp table, a cached
    Spark DataFrame) so that every breakdown, trend and time-to-convert view is counted from
    it (:func:`conversion_from_paths`) instead of running the funnel again.

    Each attribute is the one :func:`funnel_conversion` with ``by`` = that attribute alone
    gives the unit: its value at the first step-1 event in the entry range, ties in time to
    the smallest value (= min of the attribute over the step-1 events at ``at_1``), so a
    breakdown counted from these paths equals ``funnel_conversion(..., by=attribute)``.
    ``options``: the other keyword arguments of :func:`funnel_paths`.
    """
    attributes = _by_list(attributes)
    t = _as_table(events)
    common = dict(id_col=id_col, ts_col=ts_col, event_col=event_col)
    paths = funnel_paths(
        t, steps, window, entry_start=entry_start, entry_end=entry_end, **common, **options
    )
    if attributes:
        _validate(t, steps, "strict", id_col, ts_col, event_col, attributes)
        span = (entry_start, entry_end)
        e = _coded(t, list(steps), [], id_col, attributes, ts_col, event_col, *span)
        first = e.filter(e._k == 0)
        at = paths.select(_id=paths[id_col], _at=paths.at_1)
        j = first.join(at, [first[id_col] == at._id, first._t == at._at])
        entry = j.group_by(_id=j[id_col]).aggregate(**{c: j[c].min() for c in attributes})
        joined = paths.join(entry, paths[id_col] == entry._id)
        rest = [c for c in paths.columns if c != id_col]
        paths = joined.select(id_col, *attributes, *rest)
    return materialise(paths) if cache else paths


def _seconds(later, earlier):
    """later - earlier in seconds (float, to the microsecond; same on DuckDB and Spark)."""
    return later.delta(earlier, unit="microsecond").cast("float64") / 1e6


def _counted(paths, unfinished: str):
    """The units whose funnel counts: not excluded and, by default, window closed."""
    if unfinished not in UNFINISHED:
        raise ValueError(f"unfinished must be one of {UNFINISHED}, got {unfinished!r}")
    keep = ~paths.excluded
    return keep & ~paths.still_in_window if unfinished == "exclude" else keep


def funnel_conversion(
    events,
    steps: Sequence[str] = STEPS,
    window="30D",
    *,
    order: str = "strict",
    id_col: str = "visitor_id",
    by: str | Sequence[str] | None = None,
    ts_col: str = "ts",
    event_col: str = "event",
    plan: str = "auto",
    entry_start=None,
    entry_end=None,
    step_windows=None,
    exclusions=None,
    as_of=None,
    unfinished: str = "exclude",
    optional=None,
) -> pd.DataFrame:
    """Conversion through ``steps`` within ``window``: one row per step (and ``by`` group).

    ``events``: an Ibis table (any backend: DuckDB, Spark...) or a pandas DataFrame (run on an
    in-process DuckDB) with ``id_col``, ``ts_col`` (timestamp) and ``event_col`` (text).
    ``window``: "7D", "30 days", a timedelta or a number of days. ``order``: "strict" or
    "any". ``by``: column(s) of ``events``; a unit is counted in the group of its entry event.
    ``plan``: how the engine is asked (see :func:`funnel_paths`); it does not change results.

    The edges (issue #12; see the module docstring):

    - ``entry_start``, ``entry_end``: dates (whole days, both included) that select who
      *enters*; an entrant then has its full window, even past ``entry_end``.
    - ``step_windows``: ``{later step: duration}`` (or a list of n - 1 durations, None for
      none): step k must also happen within that long of step k-1 (strict order only).
    - ``exclusions``: ``[(event, from step, to step), ...]`` (or a bare event name: first to
      last step): a unit that did ``event`` at a time in ``[t_from, t_to]`` (``t_to`` = the
      end of its window when it did not reach that step) is dropped from every count.
    - ``as_of``: when the data ends (default: the last ``ts_col`` in ``events``). A unit is
      *still in window* when ``t_1 + window > as_of`` (with per-step windows on every step:
      ``t_1 + min(window, Σ step windows)``). ``unfinished="exclude"`` (default) leaves them
      out of entrants, rates and times; "include" counts them as they stand at ``as_of``.
    - ``optional``: steps (not the first or last) a unit may skip without leaving the funnel,
      as PostHog defines them: an optional step counts the units that did it at or after the
      last required step before it (within its windows), and the steps after it are found
      from that required step, skipped or not. "Previous" below then means the last required
      step before (column ``previous_step``), for conversion, drop-off and times alike.

    Columns: the ``by`` columns, ``step_index`` (1..n), ``step``, ``previous_step``,
    ``entrants`` (units that
    reached the step), ``conversion_from_previous`` = entrants_k / entrants_{k-1},
    ``conversion_from_first`` = entrants_k / entrants_1, ``dropoff`` = entrants_{k-1} -
    entrants_k, ``dropoff_rate`` = 1 - conversion_from_previous, ``median_seconds`` and
    ``p90_seconds`` (time from the previous step among units that reached the step),
    ``median_seconds_from_first`` and ``p90_seconds_from_first`` (time from entry),
    ``still_in_window`` (units that reached the step but whose window is still open: counted
    apart, not in ``entrants``, unless ``unfinished="include"`` where they are a part of
    them) and ``excluded`` (units that reached the step and were dropped by an exclusion).
    The first step has conversion 1, drop-off 0 and no times.
    """
    by = _by_list(by)
    columns = {"id_col": id_col, "ts_col": ts_col, "event_col": event_col}
    edges = {"entry_start": entry_start, "entry_end": entry_end, "as_of": as_of}
    edges |= {"step_windows": step_windows, "exclusions": exclusions, "optional": optional}
    paths = funnel_paths(events, steps, window, order=order, by=by, plan=plan, **columns, **edges)
    return conversion_from_paths(
        paths, steps, by, unfinished=unfinished, excluding=bool(exclusions), window=window,
        optional=optional,
    )  # fmt: skip


def conversion_from_paths(
    paths,
    steps: Sequence[str],
    by=None,
    *,
    unfinished="exclude",
    excluding=True,
    window="30D",
    optional=None,
) -> pd.DataFrame:
    """:func:`funnel_conversion` counted from its :func:`funnel_paths` (or
    :func:`unit_paths`) ``paths``, grouped by ``by`` (columns of ``paths``). ``excluding``:
    whether the paths were made with exclusions (counts the ``excluded`` column); ``window``
    only names the window in an error message; ``optional``: the optional steps the paths
    were made with."""
    by = _by_list(by)
    anchors = _anchors(steps, optional)
    keep = _counted(paths, unfinished)
    has_excl = excluding
    still = paths.still_in_window & ~paths.excluded if has_excl else paths.still_in_window
    n = len(list(steps))
    metrics = {}
    for i in range(1, n + 1):
        at = paths[f"at_{i}"]
        metrics |= {f"n_{i}": at.count(where=keep), f"s_{i}": at.count(where=still)}
        if has_excl:
            metrics[f"x_{i}"] = at.count(where=paths.excluded)
        if i > 1:
            prev = paths[f"at_{anchors[i - 1]}"]
            d_prev, d_first = _seconds(at, prev), _seconds(at, paths.at_1)
            # one multi-quantile aggregate per duration (Spark sorts once per percentile call)
            metrics[f"q_{i}"] = d_prev.quantile([0.5, 0.9], where=keep)
            if anchors[i - 1] > 1:  # from the first step: the time from the previous one
                metrics[f"qf_{i}"] = d_first.quantile([0.5, 0.9], where=keep)
    agg = paths.group_by(by).aggregate(**metrics) if by else paths.aggregate(**metrics)
    wide = agg.to_pandas()
    steps = list(steps)
    if wide.empty or int(wide.n_1.sum() + wide.s_1.sum()) == 0:
        raise ValueError(
            f"no unit entered the funnel: no '{steps[0]}' event with a non-null "
            f"'{paths.columns[0]}' in the events (and the entry range)"
        )
    if int(wide.n_1.sum()) == 0:
        raise ValueError(
            f"every entrant is excluded or still in its {window} window at the end of the "
            f"data: choose an earlier entry range, or unfinished='include'"
        )
    return _long(wide, steps, by, anchors)


def _long(wide: pd.DataFrame, steps: list[str], by: list[str], anchors: list[int]):
    rows = []
    for _, r in wide.iterrows():
        first = int(r["n_1"])
        for i, step in enumerate(steps, start=1):
            n = int(r[f"n_{i}"])
            prev = int(r[f"n_{anchors[i - 1]}"]) if i > 1 else first
            row = {c: r[c] for c in by}
            row |= {
                "step_index": i,
                "step": step,
                "previous_step": steps[anchors[i - 1] - 1] if i > 1 else None,
                "entrants": n,
                "conversion_from_previous": n / prev if prev else np.nan,
                "conversion_from_first": n / first if first else np.nan,
                "dropoff": prev - n,
                "dropoff_rate": 1 - n / prev if prev else np.nan,
            }
            for name, key, j in (
                ("median_seconds", "q", 0),
                ("p90_seconds", "q", 1),
                ("median_seconds_from_first", "qf", 0),
                ("p90_seconds_from_first", "qf", 1),
            ):
                key = "q" if anchors[i - 1] == 1 else key
                q = r[f"{key}_{i}"] if i > 1 else None
                v = q[j] if q is not None and len(q) > j else None
                row[name] = float(v) if v is not None and pd.notna(v) else np.nan
            row["still_in_window"] = int(r[f"s_{i}"])
            row["excluded"] = int(r[f"x_{i}"]) if f"x_{i}" in r else 0
            rows.append(row)
    out = pd.DataFrame(rows)
    return out.sort_values([*by, "step_index"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- breakdowns


def events_with_accounts(ds, columns: Sequence[str] = ("industry", "region", "size_band")):
    """``ds.web_events`` with the account's ``columns`` attached, so that
    ``funnel_conversion(..., by="industry")`` can break a funnel down by them; anonymous
    visitors (no account) get the value ``ANONYMOUS``."""
    acc = ds.accounts.select("account_id", *columns).rename(_acc="account_id")
    ev = ds.web_events
    j = ev.left_join(acc, ev.account_id == acc._acc).drop("_acc")
    return j.mutate(**{c: ibis.coalesce(j[c], ANONYMOUS) for c in columns})


def step_comparison(result: pd.DataFrame, group: str, step: str) -> pd.DataFrame:
    """Conversion into ``step`` from the step before it, per ``group``, with 95 % Wilson
    intervals: group, trials (entrants of the previous step), successes (entrants of
    ``step``), rate = successes / trials, ci_low, ci_high. Sorted by rate, best first."""
    if group not in result.columns:
        raise ValueError(f"funnel result has no group column '{group}'")
    rows = result[result.step == step]
    if rows.empty:
        raise ValueError(f"funnel result has no step '{step}'")
    k = int(rows.step_index.iloc[0])
    if k == 1:
        raise ValueError(f"'{step}' is the first step: it has no conversion from a previous one")
    before = rows.previous_step.iloc[0] if "previous_step" in rows else None
    prev = result[result.step == before] if before is not None else None
    prev = prev if prev is not None else result[result.step_index == k - 1]
    prev = prev[[group, "entrants"]].rename(columns={"entrants": "trials"})
    out = rows[[group, "entrants"]].rename(columns={"entrants": "successes"}).merge(prev, on=group)
    out = out[out.trials > 0].copy()
    out["rate"] = out.successes / out.trials
    out["ci_low"], out["ci_high"] = wilson_interval(out.successes, out.trials)
    return out.sort_values("rate", ascending=False).reset_index(drop=True)[
        [group, "trials", "successes", "rate", "ci_low", "ci_high"]
    ]


def group_differences(result: pd.DataFrame, group: str, step: str) -> dict:
    """Do the groups convert into ``step`` at different rates?

    A chi-square test of homogeneity over all groups (``stats.chi_square_proportions``) and
    every pair compared with Holm-adjusted p-values (``stats.pairwise_proportion_tests``).
    Returns ``{"overall": {...}, "pairs": DataFrame, "table": step_comparison(...)}``.
    """
    table = step_comparison(result, group, step)
    return {
        "overall": chi_square_proportions(table.successes, table.trials),
        "pairs": pairwise_proportion_tests(table.successes, table.trials, table[group]),
        "table": table,
    }


def avoidable_dropoff(result: pd.DataFrame, group: str, min_trials: int = 30) -> pd.DataFrame:
    """Per step: how many units would have gone on had every group converted like the best.

    For step k, the benchmark p* is the highest lower 95 % Wilson bound among groups with at
    least ``min_trials`` entrants at step k-1 (a bound, so a small lucky group does not set
    it); avoidable_k = Σ_g trials_g · max(0, p* − rate_g). Also: dropoff_k (all groups) and
    the best group. Sorted by avoidable drop-off, largest first.
    """
    rows = []
    for step in result.loc[result.step_index > 1, "step"].unique():
        t = step_comparison(result, group, step)
        big = t[t.trials >= min_trials]
        if big.empty:
            continue
        best = big.loc[big.ci_low.idxmax()]
        gap = (best.ci_low - t.rate).clip(lower=0)
        rows.append(
            {
                "step": step,
                "dropoff": int((t.trials - t.successes).sum()),
                "avoidable": float((t.trials * gap).sum()),
                "benchmark_group": best[group],
                "benchmark_rate": float(best.ci_low),
            }
        )
    if not rows:
        raise ValueError(f"no step has a '{group}' group with at least {min_trials} entrants")
    out = pd.DataFrame(rows)
    out["avoidable_share"] = out.avoidable / out.dropoff.where(out.dropoff > 0)
    return out.sort_values("avoidable", ascending=False).reset_index(drop=True)


def best_and_worst(table: pd.DataFrame, min_trials: int = 30) -> tuple[pd.Series, pd.Series]:
    """The best and the worst rows of a :func:`step_comparison` table by rate, among the groups
    with at least ``min_trials`` trials (a group of two visitors at 50 % is no "best"); all
    groups when none is that large."""
    big = table[table.trials >= min_trials]
    big = big if len(big) else table
    ranked = big.sort_values("rate", ascending=False, kind="stable")
    return ranked.iloc[0], ranked.iloc[-1]


def breakdown_tests(results: dict, step: str, min_trials: int = 30) -> pd.DataFrame:
    """One row per breakdown (``results`` maps a column name to its ``funnel_conversion(...,
    by=column)``): groups, chi-square statistic, dof and p-value of "all groups convert into
    ``step`` at one rate", how many pairs differ after Holm's correction (of how many), and the
    best and worst groups among those with at least ``min_trials`` trials
    (:func:`best_and_worst`)."""
    rows = []
    for column, res in results.items():
        d = group_differences(res, column, step)
        pairs = d["pairs"]
        best, worst = best_and_worst(d["table"], min_trials)
        rows.append(
            {
                "breakdown": column,
                **d["overall"],
                "pairs_different": int(pairs.significant.sum()) if len(pairs) else 0,
                "pairs": len(pairs),
                "best": best[column],
                "worst": worst[column],
            }
        )
    return pd.DataFrame(rows)


def avoidable_by_breakdown(results: dict, min_trials: int = 30) -> pd.DataFrame:
    """:func:`avoidable_dropoff` for every breakdown in ``results`` (column -> result), one
    table with a ``breakdown`` column, largest avoidable drop-off first."""
    parts = [avoidable_dropoff(r, c, min_trials).assign(breakdown=c) for c, r in results.items()]
    if not parts:
        raise ValueError("no breakdown given")
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("avoidable", ascending=False).reset_index(drop=True)


# ----------------------------------------------------------------------------- drivers


def _units(paths, steps: Sequence[str], window, unfinished: str = "exclude"):
    """The counted units of ``paths`` with ``converted`` (reached the last step) and ``end``
    (the last step's time, else the end of the window)."""
    n = len(list(steps))
    t = paths.filter(_counted(paths, unfinished))
    win = ibis.interval(seconds=_window_seconds(window))
    last = t[f"at_{n}"]
    return t.mutate(converted=last.notnull(), end=ibis.coalesce(last, t.at_1 + win))


def conversion_drivers(
    paths,
    events,
    steps: Sequence[str] = STEPS,
    window="30D",
    *,
    attributes: Sequence[str] = (),
    id_col: str = "visitor_id",
    ts_col: str = "ts",
    event_col: str = "event",
    leave_out=None,
    min_support: int = 30,
    alpha: float = 0.05,
    unfinished: str = "exclude",
) -> pd.DataFrame:
    """What goes with converting (reaching the last step), from the per-unit ``paths``
    (:func:`unit_paths` with ``attributes`` among its columns; ``id_col`` = its unit:
    visitors, accounts or journeys) and ``events`` (the same unit column).

    Tested: each value of each entry property in ``attributes`` (group = the units whose entry
    event had it, against the other units of that property; ``leave_out`` = ``{attribute:
    value}`` leaves a value out of the comparison, e.g. anonymous visitors for industry), and
    each event that is not a step, done between entry and the last step (or the window's end;
    both included). Odds ratio, 95 % interval, p-value and Benjamini-Hochberg q-value across
    all of them (:func:`helpers.funnel.drivers.driver_table`; ``min_support`` units in the
    group and outside it to be tested). Counted in the engine.
    """
    units = _units(paths, steps, window, unfinished)
    t = _as_table(events)
    names = t.filter(~t[event_col].isin(list(steps))).select(event_col).distinct()
    names = sorted(names.to_pandas()[event_col].dropna())
    counts = pd.concat(
        [
            drivers.property_counts(units, list(attributes), leave_out),
            drivers.event_counts(units, t, id_col, ts_col=ts_col, event_col=event_col, names=names),
        ],
        ignore_index=True,
    )
    return drivers.driver_table(counts, min_support, alpha)


def after_dropoff(
    paths,
    events,
    steps: Sequence[str],
    step: str,
    window="30D",
    *,
    id_col: str = "visitor_id",
    ts_col: str = "ts",
    event_col: str = "event",
    optional=None,
    unfinished: str = "exclude",
) -> tuple[pd.DataFrame, int]:
    """Where the units that dropped out before ``step`` went: the counted units of ``paths``
    that reached the step before it (its previous required step) and not ``step``, and the
    first event each did next inside its window (:func:`helpers.funnel.drivers.next_events`).
    Returns (next_event, units, share), and how many never came back (no later event at all
    in ``events``)."""
    steps = list(steps)
    if step not in steps[1:]:
        raise ValueError(f"step must be one of the steps after the first, got {step!r}")
    k = steps.index(step) + 1
    before = _anchors(steps, optional)[k - 1]
    t = paths.filter(_counted(paths, unfinished))
    win = ibis.interval(seconds=_window_seconds(window))
    dropped = t.filter(t[f"at_{before}"].notnull(), t[f"at_{k}"].isnull())
    dropped = dropped.select(id_col, _from=dropped[f"at_{before}"], _end=dropped.at_1 + win)
    ev = _as_table(events)
    return drivers.next_events(dropped, ev, id_col, ts_col=ts_col, event_col=event_col)


def leakiest_step(result: pd.DataFrame) -> pd.Series:
    """The step (after the first) with the lowest conversion from the previous step."""
    rest = result[result.step_index > 1]
    if rest.empty:
        raise ValueError("a funnel needs at least two steps to have a leakiest step")
    return rest.loc[rest.conversion_from_previous.idxmin()]


def entry_summary(result: pd.DataFrame, unfinished: str = "exclude") -> dict[str, int | float]:
    """Who entered the funnel and who was counted, from a :func:`funnel_conversion` result
    (summed over its groups, if any) run with the same ``unfinished``.

    At the first step every unit that entered is in exactly one of three parts: counted
    (``entrants``), still in its window (``still_in_window``: counted apart when
    ``unfinished="exclude"``, a part of ``entrants`` when "include") and dropped by an
    exclusion (``excluded``). entered = entrants + excluded (+ still_in_window when they are
    set apart). Returns entered, counted, still_in_window, excluded and their shares of
    entered (``still_share``, ``excluded_share``).
    """
    if unfinished not in UNFINISHED:
        raise ValueError(f"unfinished must be one of {UNFINISHED}, got {unfinished!r}")
    first = result[result.step_index == 1]
    if first.empty:
        raise ValueError("funnel result has no first step (step_index 1)")
    counted = int(first.entrants.sum())
    still = int(first.still_in_window.sum())
    excluded = int(first.excluded.sum())
    entered = counted + excluded + (still if unfinished == "exclude" else 0)
    return {
        "entered": entered,
        "counted": counted,
        "still_in_window": still,
        "excluded": excluded,
        "still_share": still / entered if entered else np.nan,
        "excluded_share": excluded / entered if entered else np.nan,
    }


# ----------------------------------------------------------------------------- trends, times


_PERIODS = {"D": "D", "W": "W", "M": "M"}


def _by_period(events, ts_col: str, freq: str, name: str = "_period"):
    if freq not in _PERIODS:
        raise ValueError(f"freq must be one of {list(_PERIODS)}, got {freq!r}")
    t = _as_table(events)
    if ts_col not in t.columns:
        raise ValueError(f"events table has no column '{ts_col}'")
    return t.mutate(**{name: t[ts_col].truncate(_PERIODS[freq])})


def weekly_trend(
    events,
    steps: Sequence[str] = STEPS,
    window="30D",
    *,
    step: str | None = None,
    order: str = "strict",
    id_col: str = "visitor_id",
    ts_col: str = "ts",
    event_col: str = "event",
    **edges,
) -> pd.DataFrame:
    """Weekly conversion, by the week (Monday) a unit entered the funnel, with Wilson intervals.

    Two series (``metric``): "whole funnel" = entrants of the last step / entrants of the
    first; "step: <step>" = conversion into ``step`` (default: the last step) from the one
    before. ``edges``: the keyword arguments of :func:`funnel_conversion` (``entry_start``,
    ``step_windows``, ``exclusions``, ``as_of``, ``unfinished``...).

    Entrants still in their window at the end of the data are left out of the rates (the
    default, ``unfinished="exclude"``), so a recent week shows the rate of its entrants
    whose window has closed instead of a false drop. ``still_in_window`` counts the week's
    units left out (at the series' trial step) and ``complete`` is false while any are
    left: those latest points are partial. Columns: week, metric, successes, trials, rate,
    ci_low, ci_high, still_in_window, complete. Weeks with no closed entrant are not listed.
    """
    steps = list(steps)
    step = step or steps[-1]
    if step not in steps[1:]:
        raise ValueError(f"step must be one of the steps after the first, got {step!r}")
    t = _by_period(events, ts_col, "W", "_week")
    res = funnel_conversion(
        t,
        steps,
        window,
        order=order,
        id_col=id_col,
        by="_week",
        ts_col=ts_col,
        event_col=event_col,
        **edges,
    )
    return _weekly_from(res, steps, step)


def _weekly_from(res: pd.DataFrame, steps: list[str], step: str) -> pd.DataFrame:
    """:func:`weekly_trend` from the funnel by entry week (``by="_week"``)."""
    res["_week"] = pd.to_datetime(res["_week"])
    k = steps.index(step) + 1
    before = steps.index(res.loc[res.step == step, "previous_step"].iloc[0]) + 1
    at = {i: res[res.step_index == i].set_index("_week") for i in (1, before, k, len(steps))}
    open_weeks = at[1].still_in_window
    parts = [
        pd.DataFrame(
            {
                "metric": "whole funnel",
                "successes": at[len(steps)].entrants,
                "trials": at[1].entrants,
                "still_in_window": at[1].still_in_window,
            }
        ),
        pd.DataFrame(
            {
                "metric": f"step: {step}",
                "successes": at[k].entrants,
                "trials": at[before].entrants,
                "still_in_window": at[before].still_in_window,
            }
        ),
    ]
    out = pd.concat(parts).rename_axis("week").reset_index()
    out["complete"] = out.week.map(open_weeks).eq(0)
    out = out[out.trials > 0].copy()
    out["rate"] = out.successes / out.trials
    out["ci_low"], out["ci_high"] = wilson_interval(out.successes, out.trials)
    cols = ["week", "metric", "successes", "trials", "rate", "ci_low", "ci_high"]
    out = out[[*cols, "still_in_window", "complete"]]
    return out.sort_values(["metric", "week"]).reset_index(drop=True)


def time_to_convert_trend(
    events,
    steps: Sequence[str] = STEPS,
    window="30D",
    *,
    by: str | Sequence[str] | None = None,
    freq: str = "W",
    order: str = "strict",
    id_col: str = "visitor_id",
    ts_col: str = "ts",
    event_col: str = "event",
    **edges,
) -> pd.DataFrame:
    """Median and 90th percentile of the time to convert, per entry period (``freq``: "D",
    "W" (Monday) or "M") and ``by`` group: for each step from the step before (``span`` =
    "from previous") and from entry to the last step (``span`` = "end to end").

    The same counting as :func:`funnel_conversion` (``edges`` are its keyword arguments):
    only units whose window has closed count by default, so a recent period's times are
    those of its closed entrants (short times are not over-represented); ``complete`` is
    false while the period still has entrants in their window. Columns: period, the ``by``
    columns, step_index, step, span, units (who reached the step), median_seconds,
    p90_seconds, still_in_window (entrants of the period left out), complete.
    """
    by = _by_list(by)
    steps = list(steps)
    t = _by_period(events, ts_col, freq)
    res = funnel_conversion(
        t,
        steps,
        window,
        order=order,
        id_col=id_col,
        by=[*by, "_period"],
        ts_col=ts_col,
        event_col=event_col,
        **edges,
    )
    return _ttc_from(res, steps, by)


def _ttc_from(res: pd.DataFrame, steps: list[str], by: list[str]) -> pd.DataFrame:
    """:func:`time_to_convert_trend` from the funnel by ``by`` and entry period
    (``by=[*by, "_period"]``)."""
    res["_period"] = pd.to_datetime(res["_period"])
    keys = [*by, "_period"]
    open_ = res[res.step_index == 1].set_index(keys).still_in_window.rename("_open")
    res = res.join(open_, on=keys)
    rest = res[res.step_index > 1]
    steps_part = rest.assign(span="from previous")
    end = rest[rest.step_index == len(steps)].assign(
        span="end to end",
        median_seconds=lambda d: d.median_seconds_from_first,
        p90_seconds=lambda d: d.p90_seconds_from_first,
    )
    out = pd.concat([steps_part, end], ignore_index=True)
    out = out[out.entrants > 0].rename(columns={"_period": "period", "entrants": "units"})
    out["still_in_window"] = out.pop("_open")
    out["complete"] = out.still_in_window.eq(0)
    cols = ["period", *by, "step_index", "step", "span", "units", "median_seconds"]
    out = out[[*cols, "p90_seconds", "still_in_window", "complete"]]
    return out.sort_values(["span", *by, "step_index", "period"]).reset_index(drop=True)


def time_to_convert_histogram(
    events,
    steps: Sequence[str] = STEPS,
    window="30D",
    *,
    bins_per_decade: int = 4,
    order: str = "strict",
    id_col: str = "visitor_id",
    ts_col: str = "ts",
    event_col: str = "event",
    unfinished: str = "exclude",
    **edges,
) -> pd.DataFrame:
    """Distribution of the time to convert on log-spaced bins, counted in the engine: per
    step from the step before (``span`` = "from previous") and from entry to the last step
    (``span`` = "end to end", ``step`` = the last step). Bin b holds times in
    [10^(b/m), 10^((b+1)/m)) seconds with m = ``bins_per_decade`` (times under one second go
    to the first bin). The same units count as in :func:`funnel_conversion` (``edges``: its
    keyword arguments; units still in their window are left out by default).

    Columns: step_index, step, span, low_seconds, high_seconds, units, share (of the units
    that reached the step, per span).
    """
    if bins_per_decade < 1:
        raise ValueError("bins_per_decade must be at least 1")
    steps = list(steps)
    paths = funnel_paths(
        events,
        steps,
        window,
        order=order,
        id_col=id_col,
        ts_col=ts_col,
        event_col=event_col,
        **edges,
    )
    return _histogram_from(paths, steps, bins_per_decade, unfinished, edges.get("optional"))


def _histogram_from(paths, steps: list[str], bins_per_decade: int, unfinished: str, optional=None):
    """:func:`time_to_convert_histogram` counted from :func:`funnel_paths` ``paths`` (made
    with the ``optional`` steps given: a step's time runs from its previous required step)."""
    anchors = _anchors(steps, optional)
    paths = paths.filter(_counted(paths, unfinished))
    n = len(steps)
    spans = [(i, anchors[i - 1], "from previous") for i in range(2, n + 1)]
    spans.append((n, 1, "end to end"))
    parts = []
    for j, (i, before, _) in enumerate(spans):
        sec = _seconds(paths[f"at_{i}"], paths[f"at_{before}"])
        b = (ibis.greatest(sec, 1.0).log10() * bins_per_decade).floor().cast("int64")
        sel = paths.filter(paths[f"at_{i}"].notnull()).mutate(_b=b)
        parts.append(sel.group_by("_b").aggregate(units=sel.count()).mutate(_span=j))
    out = ibis.union(*parts).to_pandas()
    out["_span"] = out._span.astype("int64")
    out["step_index"] = [spans[j][0] for j in out._span]
    out["step"] = [steps[i - 1] for i in out.step_index]
    out["span"] = [spans[j][2] for j in out._span]
    out["low_seconds"] = 10 ** (out._b / bins_per_decade)
    out["high_seconds"] = 10 ** ((out._b + 1) / bins_per_decade)
    out["share"] = out.units / out.groupby("_span").units.transform("sum")
    out = out.sort_values(["_span", "_b"]).reset_index(drop=True)
    cols = ["step_index", "step", "span", "low_seconds", "high_seconds", "units", "share"]
    return out[cols]


# ----------------------------------------------------------------------------- the report

#: The report's core table (``requires:`` in reports.yml).
CORE = ("web_events",)
#: The account attributes a funnel can be broken down by when the accounts table is there.
ACCOUNT_COLUMNS = ("industry", "region", "size_band")
SECTIONS = (
    Section("funnel", "The funnel"),
    Section("time_to_convert", "Time to convert"),
    Section("time_trend", "Time to convert over time"),
    Section("groups", "Which groups convert best"),
    Section(
        "account_groups",
        "By industry, region and company size",
        needs={"accounts": ("account_id", *ACCOUNT_COLUMNS)},
    ),
    Section("drivers", "What goes with converting"),
    Section("after_dropoff", "Where the drop-outs went"),
    Section("weekly_trend", "Conversion by entry week"),
)
BREAKDOWNS = ("channel", *ACCOUNT_COLUMNS)
#: The entry property that puts anonymous and logged-in visitors apart (visitor funnels).
VISITOR_TYPE = "visitor_type"
LOGGED_IN = "logged in"


def open_tables(data_dir=None, engine: str = "duckdb", **options):
    """The dataset with ``web_events`` and, when the folder has it, ``accounts``
    (:func:`helpers.data.tables.open_tables`). No accounts table is derived: one made from the
    ids seen has no industry, region or size band to break the funnel down by."""
    optional = {t for s in SECTIONS for t in s.tables}
    return tables.open_tables(data_dir, CORE, optional, engine, derive=False, **options)


def _read_tables(ds) -> list[str]:
    """The tables of ``ds`` read from the data (a derived accounts table, which has no
    attributes, does not count)."""
    read = getattr(ds, "table_quality", None)
    return [t for t in ds if read is None or t in read]


def _breakdowns(result: Analysis, ds, breakdowns) -> tuple[list[str], list[str]]:
    """(the breakdowns used, the account attributes among them): an account attribute only
    when the accounts table is there; anything else must be a web_events column."""
    breakdowns = [breakdowns] if isinstance(breakdowns, str) else list(breakdowns)
    accounts = [b for b in breakdowns if b in ACCOUNT_COLUMNS]
    if result.built("account_groups") and not accounts:
        result.skip(
            "account_groups",
            f"The breakdowns parameter ({', '.join(breakdowns) or 'empty'}) names no account "
            f"attribute ({', '.join(ACCOUNT_COLUMNS)}).",
        )
    unknown = [b for b in breakdowns if b not in ACCOUNT_COLUMNS and b not in ds.web_events.columns]
    if unknown:
        raise ValueError(
            f"breakdowns {unknown} are neither web_events columns nor account attributes "
            f"{ACCOUNT_COLUMNS}"
        )
    if not result.built("account_groups"):
        accounts = []
    return [b for b in breakdowns if b not in ACCOUNT_COLUMNS or b in accounts], accounts


def _per_step(step_windows, steps: list[str]) -> dict:
    """``step_windows`` as ``{later step: duration}`` (from a dict or a list)."""
    if isinstance(step_windows, dict):
        return dict(step_windows)
    return dict(zip(steps[1:], step_windows or [], strict=False))


@dataclass
class _Views:
    """Every view of the report counted from one materialised table of per-unit paths
    (:func:`unit_paths`): the funnel overall, by a breakdown and by entry period."""

    paths: object
    steps: list[str]
    window: str
    excluding: bool
    optional: list[str] | None = None

    def funnel(self, by: Sequence[str] = (), period: str | None = None, name: str = "_period"):
        """:func:`funnel_conversion` by ``by`` and, with ``period`` ("W", "M"), by the entry
        period (the entry time truncated, as column ``name``)."""
        paths, by = self.paths, list(by)
        if period is not None:
            paths = paths.mutate(**{name: paths.at_1.truncate(_PERIODS[period])})
            by = [*by, name]
        return conversion_from_paths(
            paths,
            self.steps,
            by,
            excluding=self.excluding,
            window=self.window,
            optional=self.optional,
        )


def _funnel_section(result: Analysis, ds, views: _Views, options) -> None:
    steps = views.steps
    overall = views.funnel()
    entry = entry_summary(overall)
    data_start, data_end = ds.period("web_events")
    first, last = overall.iloc[0], overall.iloc[-1]
    leak = leakiest_step(overall)
    hours = {"median_seconds": "median_hours", "p90_seconds": "p90_hours"}
    shown = overall[["step", "entrants", "conversion_from_previous", "conversion_from_first"]]
    shown = shown.join(overall[["dropoff", *hours, "still_in_window", "excluded"]])
    shown = shown.assign(**{c: overall[c] / 3600 for c in hours}).rename(columns=hours)
    result.tables |= {"overall": overall, "steps": shown}
    result.facts |= {
        "first": first,
        "last": last,
        "leak": leak,
        "entry": entry,
        "data_end": data_end,
        "entry_from": pd.Timestamp(options["entry_start"] or data_start),
        "entry_to": pd.Timestamp(options["entry_end"] or data_end),
        "per_step": _per_step(options["step_windows"], steps),
    }
    result.figures |= {
        "entrants": int(first.entrants),
        "still_in_window": int(entry["still_in_window"]),
        "excluded": int(entry["excluded"]),
        "purchasers": int(last.entrants),
        "funnel_conversion": float(last.conversion_from_first),
        "leakiest_step": str(leak.step),
        "leakiest_step_conversion": float(leak.conversion_from_previous),
    }


def _time_sections(result: Analysis, views: _Views, main, min_units) -> None:
    """Time to convert (histograms) and its trend by entry week (and month by ``main``)."""
    steps = views.steps
    overall = result.tables["overall"]
    hist = _histogram_from(views.paths, steps, 4, "exclude", views.optional)
    per = hist[hist.span == "from previous"]
    result.tables["hist_steps"] = per.assign(
        low_hours=per.low_seconds / 3600,
        high_hours=per.high_seconds / 3600,
        step=pd.Categorical(per.step, steps[1:], ordered=True),
    )
    end = hist[hist.span == "end to end"]
    result.tables["hist_end"] = end.assign(
        funnel=f"{steps[0]} to {steps[-1]}",
        low_days=end.low_seconds / 86400,
        high_days=end.high_seconds / 86400,
    )
    result.facts["slow"] = overall.loc[overall.median_seconds.idxmax()]
    if not result.built("time_trend"):
        return
    ttc = _ttc_from(views.funnel(period="W"), steps, [])
    e2e = ttc[ttc.span == "end to end"]
    long = e2e.melt(
        id_vars=["period", "complete"],
        value_vars=["median_seconds", "p90_seconds"],
        var_name="statistic",
        value_name="seconds",
    )
    names = {"median_seconds": "median", "p90_seconds": "90th percentile"}
    long = long.assign(days=long.seconds / 86400, statistic=long.statistic.map(names))
    result.tables |= {"ttc_end": e2e, "ttc_end_long": long}
    if main is not None:
        leak = result.facts["leak"].step
        by = _ttc_from(views.funnel([main], period="M"), steps, [main])
        keep = (by.span == "from previous") & (by.step == leak) & (by.units >= min_units)
        into = by[keep]
        result.tables["ttc_main"] = into.assign(minutes=into.median_seconds / 60)


def _grouped(views: _Views, used, accounts, split: bool) -> dict[str, pd.DataFrame]:
    """The funnel by each breakdown with anonymous and logged-in visitors apart (``split``):
    an account attribute among logged-in visitors only (anonymous ones have none, and their
    group would compare visitor types, not sizes or industries), any other breakdown within
    each visitor type. Keys (and the group column) are "channel (anonymous)", "size_band
    (logged in)"...; without ``split`` (an account funnel) the breakdowns themselves."""
    out = {}
    for b in used:
        if b in accounts:
            r = views.funnel([b])
            key = f"{b} ({LOGGED_IN})" if split else b
            r = r[r[b] != ANONYMOUS].rename(columns={b: key})
            out[key] = r.reset_index(drop=True)
        elif split:
            r = views.funnel([VISITOR_TYPE, b])
            for kind, part in r.groupby(VISITOR_TYPE, sort=True):
                key = f"{b} ({kind})"
                part = part.drop(columns=VISITOR_TYPE).rename(columns={b: key})
                out[key] = part.reset_index(drop=True)
        else:
            out[b] = views.funnel([b])
    return out


def _group_sections(result: Analysis, views: _Views, used, accounts, min_group):
    """Which groups convert best (every breakdown used) and the account attributes' groups."""
    steps = views.steps
    if not used:
        result.skip(
            "groups",
            "Every breakdown named by the breakdowns parameter is an account attribute, and "
            "the dataset has no accounts table.",
        )
        return
    leak = result.facts["leak"].step
    split = VISITOR_TYPE in views.paths.columns
    by_group = _grouped(views, used, accounts, split)
    try:
        avoidable = avoidable_by_breakdown(by_group, min_group)
    except ValueError:
        result.skip(
            "groups",
            f"No group of {', '.join(used)} has {min_group} entrants at a step (the min_group "
            "parameter): too few to compare groups.",
        )
        result.skip("account_groups", result.reason("groups"))
        return
    main = used[0]
    main_funnel = views.funnel([main])
    cmp = step_comparison(main_funnel, main, leak)
    last = main_funnel[main_funnel.step_index == len(steps)]
    days = {"median_seconds_from_first": "median_days", "p90_seconds_from_first": "p90_days"}
    last = last[[main, "entrants", *days]].assign(**{c: last[c] / 86400 for c in days})
    result.tables |= {
        "by_group": by_group,
        "avoidable": avoidable,
        "tests": breakdown_tests(
            ({VISITOR_TYPE: views.funnel([VISITOR_TYPE])} if split else {}) | by_group,
            leak,
            min_group,
        ),
        "compare_main": cmp,
        "time_by_main": last.rename(columns={"entrants": f"reached_{steps[-1]}", **days}),
    }
    worst = avoidable.iloc[0]
    top, bottom = best_and_worst(cmp, min_group)
    main_test = breakdown_tests({main: main_funnel}, leak, min_group).iloc[0]
    result.facts |= {"main": main, "worst": worst, "top_group": top, "bottom_group": bottom}
    result.facts["main_test"] = main_test
    result.figures |= {
        "largest_avoidable_step": str(worst.step),
        "largest_avoidable_breakdown": str(worst.breakdown),
        "largest_avoidable_units": float(worst.avoidable),
    }
    if result.built("account_groups"):
        keys = {c: f"{c} ({LOGGED_IN})" if split else c for c in accounts}
        parts = [
            step_comparison(by_group[k], k, leak).rename(columns={k: "group"}).assign(breakdown=c)
            for c, k in keys.items()
        ]
        table = pd.concat(parts, ignore_index=True)
        result.tables["account_groups"] = table[["breakdown", *table.columns[:-1]]]


def _drivers_section(result: Analysis, views: _Views, events, attributes, opts) -> None:
    """Conversion drivers: every entry property value and event, odds ratio and BH q-value."""
    if not result.built("drivers"):
        return
    leave = {a: ANONYMOUS for a in attributes if a in ACCOUNT_COLUMNS}
    table = conversion_drivers(
        views.paths, events, views.steps, views.window, attributes=attributes,
        id_col=opts["id_col"], leave_out=leave, min_support=opts["min_support"],
    )  # fmt: skip
    up, down = drivers.top_drivers(table, opts["top_drivers"])
    chart = pd.concat([up, down], ignore_index=True)
    chart = chart.assign(driver=chart.property.str.replace("_", " ") + ": " + chart.value)
    result.tables |= {"drivers": table, "drivers_up": up, "drivers_down": down,
                      "drivers_chart": chart}  # fmt: skip
    result.facts["drivers_tested"] = int(table.tested.sum())
    result.figures["conversion_drivers_found"] = int(table.discovery.sum())


def _after_section(result: Analysis, views: _Views, events, id_col: str) -> None:
    """Where the units that dropped out before the leakiest step went next."""
    if not result.built("after_dropoff"):
        return
    leak = result.facts["leak"].step
    table, never = after_dropoff(
        views.paths, events, views.steps, leak, views.window, id_col=id_col,
        optional=views.optional,
    )  # fmt: skip
    result.tables["after_dropoff"] = table
    dropped = int(table.units.sum())
    result.facts |= {"dropped": dropped, "never_came_back": never}
    result.figures["leakiest_step_never_came_back"] = never


def _iso_week(ts) -> str:
    iso = pd.Timestamp(ts).isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


def _weekly_series(trend: pd.DataFrame, entry_from, entry_to) -> dict:
    """``{"funnel_conversion": {"freq": "week", "values": {"2026-W40": rate}}}``: the whole
    funnel's conversion by entry week, complete weeks only (every entrant's window closed,
    and the week's seven days inside the entry range)."""
    whole = trend[trend.metric == "whole funnel"]
    start = pd.Timestamp(entry_from).normalize()
    end = pd.Timestamp(entry_to).normalize()
    inside = (whole.week >= start) & (whole.week + pd.Timedelta(days=6) <= end)
    done = whole[whole.complete & inside].sort_values("week")
    values = {_iso_week(w): float(r) for w, r in zip(done.week, done.rate, strict=True)}
    return {"funnel_conversion": {"freq": "week", "values": values}}


def _other_count(events, steps, window, options, journeys: str, unit: str) -> dict:
    """The whole funnel counted the other way (first journeys <-> every journey), for the
    page to say what the choice changes: entrants and conversion to the last step."""
    other = "repeat" if journeys == "first" else "first"
    ev, id_col = events, unit
    if other == "repeat":
        ev, id_col = journey_events(events, steps[0], unit), "journey_id"
    paths = unit_paths(ev, steps, window, cache=False, **(options | {"id_col": id_col}))
    res = conversion_from_paths(
        paths, steps, excluding=bool(options["exclusions"]), window=window,
        optional=options["optional"],
    )  # fmt: skip
    return {"journeys": other, "entrants": int(res.entrants.iloc[0]),
            "conversion": float(res.conversion_from_first.iloc[-1])}  # fmt: skip


def _events_for(ds, unit: str, accounts, journeys: str, first_step: str):
    """The events the funnel reads and the unit column: account attributes attached; the
    visitor type (anonymous or logged in at the event) on a visitor funnel; a journey id
    when every journey counts."""
    events = events_with_accounts(ds, accounts) if accounts else ds.web_events
    if unit == "visitor_id" and "account_id" in events.columns:
        kind = ibis.ifelse(events.account_id.isnull(), "anonymous", LOGGED_IN)
        events = events.mutate(**{VISITOR_TYPE: kind})
    if journeys not in JOURNEYS:
        raise ValueError(f"journeys must be one of {JOURNEYS}, got {journeys!r}")
    if journeys == "repeat":
        return journey_events(events, first_step, unit), "journey_id"
    return events, unit


def analyse(
    ds,
    *,
    steps: Sequence[str] = STEPS,
    window_days: float = 30,
    order: str = "strict",
    unit: str = "visitor_id",
    journeys: str = "first",
    optional_steps=None,
    entry_start=None,
    entry_end=None,
    step_windows=None,
    exclusions=None,
    breakdowns: Sequence[str] = BREAKDOWNS,
    min_group: int = 30,
    min_trend_units: int = 30,
    min_support: int = 30,
    top_drivers: int = 5,
) -> Analysis:
    """The funnel report from ``ds`` (``web_events``; ``accounts`` for the breakdowns by
    industry, region and size band): every section's tables, figures and facts, or why it was
    skipped.

    ``steps``, ``order``, ``entry_start``, ``entry_end``, ``step_windows``, ``exclusions``: as
    in :func:`funnel_conversion`, with ``window`` = ``window_days`` days, ``id_col`` = ``unit``
    and ``optional`` = ``optional_steps``. ``journeys``: "first" counts each unit's first
    journey (one attempt each), "repeat" every journey (:func:`journey_events`).
    ``breakdowns``: columns the funnel is broken down by (web_events columns, or account
    attributes :data:`ACCOUNT_COLUMNS`, used only when the accounts table is there); the first
    one used is the main one. On a visitor funnel anonymous and logged-in visitors are kept
    apart (:func:`_grouped`). ``min_group``: the fewest entrants a group needs to set a
    benchmark or be named best; ``min_trend_units``: the fewest units a point of a chart by
    the main breakdown needs (a median of ten is noise); ``min_support``: the fewest units in
    a driver's group (and outside it) for it to be tested; ``top_drivers``: listed each way.

    Figures: entrants, still_in_window, excluded, purchasers, funnel_conversion (last step's
    entrants / first step's), leakiest_step and its conversion, largest_avoidable_step,
    _breakdown and _units (when groups were compared), conversion_drivers_found,
    leakiest_step_never_came_back; the setting funnel_journeys. ``facts["series"]``: the
    weekly funnel conversion (complete weeks).
    """
    result = Analysis.start("funnel", SECTIONS, _read_tables(ds))
    steps = list(steps)
    window = f"{window_days}D"
    used, accounts = _breakdowns(result, ds, breakdowns)
    events, id_col = _events_for(ds, unit, accounts, journeys, steps[0])
    options = dict(
        order=order,
        id_col=id_col,
        entry_start=entry_start,
        entry_end=entry_end,
        step_windows=step_windows,
        exclusions=exclusions,
        optional=optional_steps,
    )
    unit_name = "visitors" if unit == "visitor_id" else "accounts"
    result.facts |= {
        "unit_name": unit_name if journeys == "first" else f"{unit_name[:-1]} journeys",
        "main": used[0] if used else None,
        "journeys": journeys,
    }
    result.figures["funnel_journeys"] = journeys
    attributes = [*used, *([VISITOR_TYPE] if VISITOR_TYPE in events.columns else [])]
    # the per-unit paths once (entry attributes: every breakdown), every view counted from them
    paths = unit_paths(events, steps, window, attributes=attributes, **options)
    views = _Views(paths, steps, window, bool(exclusions), _by_list(optional_steps) or None)
    _funnel_section(result, ds, views, options)
    result.facts["other_count"] = _other_count(events, steps, window, options, journeys, unit)
    main = result.facts["main"]
    _time_sections(result, views, main, min_trend_units)
    _group_sections(result, views, used, accounts, min_group)
    opts = {"id_col": id_col, "min_support": min_support, "top_drivers": top_drivers}
    _drivers_section(result, views, events, attributes, opts)
    _after_section(result, views, events, id_col)
    _trend_section(result, views, steps)
    return result


def _trend_section(result: Analysis, views, steps: list[str]) -> None:
    """Weekly trends (tables trend_whole, trend_step) and the weekly funnel conversion series
    (``facts["series"]``, complete weeks), counted from the paths."""
    if not result.built("weekly_trend"):
        return
    weekly = views.funnel(period="W", name="_week")
    trend = _weekly_from(weekly, steps, result.facts["leak"].step)
    result.tables |= {
        "trend_whole": trend[trend.metric == "whole funnel"],
        "trend_step": trend[trend.metric != "whole funnel"],
    }
    span = (result.facts["entry_from"], result.facts["entry_to"])
    result.facts["series"] = _weekly_series(trend, *span)


def definitions(result: Analysis, window_days: float) -> dict[str, str]:
    """The report's metrics and how each is computed (its closing section)."""
    unit = result.facts["unit_name"][:-1]
    first = result.facts["first"].step
    return {
        "Entrant": (
            f"a {unit} whose first *{first}* event in the entry range starts the funnel (one "
            "attempt each); groups take the value of that entry event (first touch)."
        ),
        "Entry range": (
            "the days on which a unit may enter (entry_start to entry_end, both included; the "
            "whole data by default). It selects who enters only: an entrant's later steps count "
            "even after the range ends."
        ),
        "Conversion window": (
            f"later steps count when they happen within {window_days} days of the entry (its end "
            "included); with per-step windows, a step must also follow the step before within its"
            " own window."
        ),
        "Still in window": (
            "entrants whose window had not closed by the data's last event: counted apart, left "
            "out of entrants, rates and times (they could still convert)."
        ),
        "Excluded": (
            "entrants who did an exclusion event between the two steps named (the same instant as"
            " a step counts; up to the window's end when the later step never came): dropped from"
            " every count."
        ),
        "Order": (
            "strict: each step's first event at or after the step before (other events may come "
            "between; the same instant counts); any: every step after the first, in any order."
        ),
        "Conversion from previous / first": (
            "entrants of the step ÷ entrants of the step before / of the first step."
        ),
        "Drop-off": "entrants of the step before − entrants of the step.",
        "Time to convert": (
            "time from the previous step, and from entry to the last step (end to end), among "
            "those who reached the step: median and 90th percentile (exact)."
        ),
        "Time to convert over time": (
            "the same median and 90th percentile per week (or month) of entry, over the entrants "
            "whose window had closed."
        ),
        "Wilson interval": "95% score interval of a proportion (Wilson 1927).",
        "Chi-square test": (
            "Pearson's test that all groups share one conversion rate; pairs of groups are "
            "compared with Holm's correction for the number of pairs."
        ),
        "Avoidable drop-off": (
            "Σ over groups of entrants of the step before × max(0, benchmark − group rate); the "
            "benchmark is the best group's lower 95% bound among groups large enough."
        ),
        "Weekly trend": (
            "conversion of the units that entered in the week, counting only those whose window "
            "had closed by the end of the data; a week with entrants still in their window is "
            "partial (hollow marker, dashed line), and a week with none closed yet is not shown."
        ),
    }
