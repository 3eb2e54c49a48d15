"""Web purchase funnel and B2B sales pipeline: the funnel report's helpers.

The web funnel is computed in the engine (Ibis: DuckDB or Spark); only one row per step (and
group) reaches pandas. The public entry point is :func:`funnel_conversion`::

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
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd

from helpers.stats import chi_square_proportions, pairwise_proportion_tests, wilson_interval

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


def _strict_joins(e, entries, n: int, id_col: str, by: list[str], win, step_wins):
    anchor = entries.select(id_col, entered_at="entered_at")
    cand = e.filter(e._k > 0).select(id_col, "_k", "_t").join(anchor, id_col)
    cand = cand.filter(cand._t >= cand.entered_at, cand._t <= cand.entered_at + win)
    cand = cand.select(id_col, "_k", "_t")
    prev = anchor.select(id_col, _prev="entered_at")
    out = entries.select(id_col, *by, at_1="entered_at")
    for i in range(1, n):
        c = cand.filter(cand._k == i).join(prev, id_col)
        cond = [c._t >= c._prev]
        if step_wins[i] is not None:
            cond.append(c._t <= c._prev + ibis.interval(seconds=step_wins[i]))
        c = c.filter(*cond).group_by(id_col).aggregate(at=c._t.min())
        prev = c.select(id_col, _prev="at")
        c = c.select(_id=c[id_col], **{f"at_{i + 1}": c.at})
        out = out.left_join(c, out[id_col] == c._id).drop("_id")
    return out


def _strict_carry(e, out, n: int, id_col: str, by: list[str], win, step_wins):
    for i in range(1, n):
        c = e.filter(e._k == i).select(_id=e[id_col], _t=e._t)
        cond = [out[id_col] == c._id, c._t >= out[f"at_{i}"], c._t <= out.at_1 + win]
        if step_wins[i] is not None:
            cond.append(c._t <= out[f"at_{i}"] + ibis.interval(seconds=step_wins[i]))
        j = out.left_join(c, cond)
        carried = [*by, *[f"at_{m}" for m in range(1, i + 1)]]
        # the carried columns hold one value per unit: min() passes them through
        out = j.group_by(id_col).aggregate(
            **{c: j[c].min() for c in carried}, **{f"at_{i + 1}": j._t.min()}
        )
    return out


def _any_order(e, out, n: int, id_col: str, by: list[str], win):
    c = e.filter(e._k > 0).select(_id=e[id_col], _t=e._t, _k=e._k)
    j = out.left_join(c, [out[id_col] == c._id, c._t >= out.at_1, c._t <= out.at_1 + win])
    firsts = j.group_by(id_col).aggregate(
        **{c: j[c].min() for c in [*by, "at_1"]},
        **{f"_f{i}": j._t.min(where=j._k == i) for i in range(1, n)},
    )
    cols = {"at_1": firsts.at_1}
    for i in range(1, n):
        before, f = cols[f"at_{i}"], firsts[f"_f{i}"]
        cols[f"at_{i + 1}"] = ibis.ifelse(
            before.notnull() & f.notnull(), ibis.greatest(before, f), ibis.null("timestamp")
        )
    return firsts.select(id_col, *by, **cols)


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
    start, end = _day_bounds(entry_start, entry_end)
    xevents = sorted({x[0] for x in excl})
    codes = [(t[event_col] == s, i) for i, s in enumerate(steps)]
    codes += [(t[event_col] == x, -1 - j) for j, x in enumerate(xevents)]
    k = ibis.cases(*codes, else_=None)
    e = t.filter(t[id_col].notnull(), t[event_col].isin([*steps, *xevents]), t[ts_col].notnull())
    e = e.select(id_col, *by, _t=e[ts_col], _k=k.cast("int8"))
    if start is not None or end is not None:
        # the range selects entries only: later steps may happen after its end
        outside = ibis.literal(False)
        if start is not None:
            outside = outside | (e._t < start)
        if end is not None:
            outside = outside | (e._t >= end)
        e = e.filter(~((e._k == 0) & outside))
    entries = _entries(e, id_col, by)
    out = entries.select(id_col, *by, at_1="entered_at")
    if order == "strict":
        if plan == "auto":
            plan = "joins" if _backend_name(t) == "duckdb" else "carry"
        if plan == "joins":
            out = _strict_joins(e, entries, len(steps), id_col, by, win, step_wins)
        else:
            out = _strict_carry(e, out, len(steps), id_col, by, win, step_wins)
    else:
        out = _any_order(e, out, len(steps), id_col, by, win)
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

    Columns: the ``by`` columns, ``step_index`` (1..n), ``step``, ``entrants`` (units that
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
    paths = funnel_paths(
        events,
        steps,
        window,
        order=order,
        id_col=id_col,
        by=by,
        ts_col=ts_col,
        event_col=event_col,
        plan=plan,
        entry_start=entry_start,
        entry_end=entry_end,
        step_windows=step_windows,
        exclusions=exclusions,
        as_of=as_of,
    )
    keep = _counted(paths, unfinished)
    has_excl = bool(exclusions)
    still = paths.still_in_window & ~paths.excluded if has_excl else paths.still_in_window
    n = len(list(steps))
    metrics = {}
    for i in range(1, n + 1):
        at = paths[f"at_{i}"]
        metrics |= {f"n_{i}": at.count(where=keep), f"s_{i}": at.count(where=still)}
        if has_excl:
            metrics[f"x_{i}"] = at.count(where=paths.excluded)
        if i > 1:
            prev = paths[f"at_{i - 1}"]
            d_prev, d_first = _seconds(at, prev), _seconds(at, paths.at_1)
            # one multi-quantile aggregate per duration (Spark sorts once per percentile call)
            metrics[f"q_{i}"] = d_prev.quantile([0.5, 0.9], where=keep)
            if i > 2:  # from the first step to the second is the time from the previous one
                metrics[f"qf_{i}"] = d_first.quantile([0.5, 0.9], where=keep)
    agg = paths.group_by(by).aggregate(**metrics) if by else paths.aggregate(**metrics)
    wide = agg.to_pandas()
    steps = list(steps)
    if wide.empty or int(wide.n_1.sum() + wide.s_1.sum()) == 0:
        raise ValueError(
            f"no unit entered the funnel: no '{steps[0]}' event with a non-null "
            f"'{id_col}' in the events (and the entry range)"
        )
    if int(wide.n_1.sum()) == 0:
        raise ValueError(
            f"every entrant is excluded or still in its {window} window at the end of the "
            f"data: choose an earlier entry range, or unfinished='include'"
        )
    return _long(wide, steps, by)


def _long(wide: pd.DataFrame, steps: list[str], by: list[str]) -> pd.DataFrame:
    rows = []
    for _, r in wide.iterrows():
        first = int(r["n_1"])
        prev = first
        for i, step in enumerate(steps, start=1):
            n = int(r[f"n_{i}"])
            row = {c: r[c] for c in by}
            row |= {
                "step_index": i,
                "step": step,
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
                key = "q" if i == 2 else key
                q = r[f"{key}_{i}"] if i > 1 else None
                v = q[j] if q is not None and len(q) > j else None
                row[name] = float(v) if v is not None and pd.notna(v) else np.nan
            row["still_in_window"] = int(r[f"s_{i}"])
            row["excluded"] = int(r[f"x_{i}"]) if f"x_{i}" in r else 0
            rows.append(row)
            prev = n
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
    prev = result[result.step_index == k - 1][[group, "entrants"]].rename(
        columns={"entrants": "trials"}
    )
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
    res["_week"] = pd.to_datetime(res["_week"])
    k = steps.index(step) + 1
    at = {i: res[res.step_index == i].set_index("_week") for i in (1, k - 1, k, len(steps))}
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
                "trials": at[k - 1].entrants,
                "still_in_window": at[k - 1].still_in_window,
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
    paths = paths.filter(_counted(paths, unfinished))
    n = len(steps)
    spans = [(i, i - 1, "from previous") for i in range(2, n + 1)] + [(n, 1, "end to end")]
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


# ----------------------------------------------------------------------------- sales pipeline

LEAD_STAGES = ("lead", "qualified", "opportunity", "quote", "won")
_STAGE_TS = {
    "lead": "created_at",
    "qualified": "qualified_at",
    "opportunity": "opportunity_at",
    "quote": "quote_at",
    "won": "closed_at",
}


def _days(later, earlier):
    return later.delta(earlier, unit="second").cast("float64") / 86400.0


def _reached(leads, stage: str):
    if stage == "won":
        return leads.outcome == "won"
    return leads[_STAGE_TS[stage]].notnull()


def _check_leads(leads, extra: Sequence[str] = ()):
    leads = _as_table(leads, "leads")
    need = [*_STAGE_TS.values(), "lead_id", "account_id", "source", "outcome", "amount", *extra]
    missing = [c for c in need if c not in leads.columns]
    if missing:
        raise ValueError(f"leads table has no column(s) {missing}")
    return leads


def _leads_as_of(leads, as_of):
    """``as_of`` as a timestamp, by default the latest timestamp in the leads table."""
    if as_of is not None:
        return pd.Timestamp(as_of)
    m = leads.aggregate(m=ibis.greatest(*[leads[c].max() for c in _STAGE_TS.values()]))
    return pd.Timestamp(m.to_pandas().m.iloc[0])


def _stage_windows(window) -> dict[str, float | None]:
    stages = LEAD_STAGES[1:]
    if window is None:
        return dict.fromkeys(stages)
    if isinstance(window, dict):
        unknown = [s for s in window if s not in stages]
        if unknown:
            raise ValueError(f"window keys {unknown} are not pipeline stages {stages}")
        out = {s: window.get(s) for s in stages}
    else:
        out = dict.fromkeys(stages, window)
    for s, w in out.items():
        if w is not None and (isinstance(w, bool) or not np.isfinite(float(w)) or float(w) <= 0):
            raise ValueError(f"window for stage '{s}' must be a positive number of days, got {w!r}")
    return {s: None if w is None else float(w) for s, w in out.items()}


def typical_stage_days(leads, quantile: float = 0.9) -> dict[str, float]:
    """The ``quantile`` of the days from the stage before to each stage, among leads that
    reached it (exact, in the engine): ``{stage: days}``, a "typical cycle" window for
    :func:`pipeline_stages`."""
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile!r}")
    leads = _check_leads(leads)
    metrics = {}
    for prev, stage in zip(LEAD_STAGES, LEAD_STAGES[1:], strict=False):
        d = _days(leads[_STAGE_TS[stage]], leads[_STAGE_TS[prev]])
        metrics[stage] = d.quantile(quantile, where=_reached(leads, stage))
    row = leads.aggregate(**metrics).to_pandas().iloc[0]
    return {s: float(row[s]) for s in LEAD_STAGES[1:]}


def pipeline_stages(leads, by: str | None = None, *, window=None, as_of=None) -> pd.DataFrame:
    """Stage-to-stage conversion of CRM leads: lead -> qualified -> opportunity -> quote -> won.

    A lead reached a stage when its timestamp is set (won: ``outcome == "won"``, at
    ``closed_at``). Which leads decide a stage k depends on ``window``:

    - ``window=None``: every lead that reached k-1 and then either reached k or was closed;
      an open lead still at k-1 may yet move on, so it is left out (``still_open``).
    - ``window`` = days (one number, or ``{stage: days}``, e.g. from
      :func:`typical_stage_days`): the web funnel's rule (issue #12). A lead that reached
      k-1 converts when it reached k within ``window`` days of it; leads that reached k-1
      less than ``window`` days before ``as_of`` (default: the latest timestamp in the
      table) are *still open*, counted apart and not as lost; the others are decided. The
      whole young cohort is set apart, closed or not: keeping its quick wins and dropping
      only its open leads would flatter the rate. The window closes at its bound: a lead
      whose window ends exactly at ``as_of`` is decided.

    conversion_k = reached_k / decided_k, with a 95 % Wilson interval. conversion_from_lead
    = reached / leads without a window, the product of the stage conversions with one.
    ``median_days`` is the median time from stage k-1 to stage k among leads that reached k.
    One row per stage (and ``by`` group); the "lead" row holds the number of leads.
    """
    leads = _check_leads(leads, [by] if by else [])
    windows = _stage_windows(window)
    windowed = any(w is not None for w in windows.values())
    as_of = _leads_as_of(leads, as_of) if windowed else None
    metrics = {"n_lead": leads.count()}
    for prev, stage in zip(LEAD_STAGES, LEAD_STAGES[1:], strict=False):
        r, rp = _reached(leads, stage), _reached(leads, prev)
        t, tp = leads[_STAGE_TS[stage]], leads[_STAGE_TS[prev]]
        d = _days(t, tp)
        w = windows[stage]
        if w is None:
            decided = rp & (r | (leads.outcome != "open"))
            still = rp & ~r & (leads.outcome == "open")
            conv = r
        else:
            young = tp + ibis.interval(seconds=int(round(w * 86400))) > ibis.literal(as_of)
            still = rp & young
            decided = rp & ~young
            conv = decided & r & (d <= w)
        metrics |= {
            f"n_{stage}": conv.sum(),
            f"dec_{stage}": decided.sum(),
            f"open_{stage}": still.sum(),
            f"med_{stage}": d.quantile(0.5, where=r),
        }
    agg = leads.group_by(by).aggregate(**metrics) if by else leads.aggregate(**metrics)
    wide = agg.to_pandas()
    if wide.empty or int(wide.n_lead.sum()) == 0:
        raise ValueError("the leads table is empty")
    rows = []
    for _, w in wide.iterrows():
        from_lead = 1.0
        for stage in LEAD_STAGES:
            row = {by: w[by]} if by else {}
            n = int(w[f"n_{stage}"])
            dec = int(w[f"dec_{stage}"]) if stage != "lead" else n
            conv = n / dec if dec else np.nan
            if stage != "lead":
                from_lead = from_lead * conv if windowed else n / int(w.n_lead)
            row |= {
                "stage": stage,
                "reached": n,
                "decided": dec,
                "still_open": int(w[f"open_{stage}"]) if stage != "lead" else 0,
                "conversion": conv,
                "conversion_from_lead": from_lead,
                "median_days": float(w[f"med_{stage}"]) if stage != "lead" else np.nan,
                "window_days": windows.get(stage, np.nan) if stage != "lead" else np.nan,
            }
            rows.append(row)
    out = pd.DataFrame(rows)
    out["window_days"] = out.window_days.astype("float64")
    out["ci_low"], out["ci_high"] = wilson_interval(out.reached, out.decided)
    return out


def win_rate(leads, by: str | None = None) -> pd.DataFrame:
    """Win rate = won / (won + lost) over closed leads, with a 95 % Wilson interval."""
    leads = _check_leads(leads, [by] if by else [])
    metrics = {
        "won": (leads.outcome == "won").sum(),
        "closed": (leads.outcome != "open").sum(),
        "open": (leads.outcome == "open").sum(),
    }
    agg = leads.group_by(by).aggregate(**metrics) if by else leads.aggregate(**metrics)
    out = agg.to_pandas()
    out["win_rate"] = out.won / out.closed.where(out.closed > 0)
    out["ci_low"], out["ci_high"] = wilson_interval(out.won, out.closed)
    return out.sort_values("win_rate", ascending=False).reset_index(drop=True)


def leads_with_accounts(ds, columns: Sequence[str] = ("size_band", "industry", "region")):
    """``ds.leads`` with the account's ``columns`` attached."""
    acc = ds.accounts.select("account_id", *columns).rename(_acc="account_id")
    return ds.leads.join(acc, ds.leads.account_id == acc._acc).drop("_acc")


def sales_cycle(leads, by: str = "source") -> pd.DataFrame:
    """Sales-cycle length of won leads, days from ``created_at`` to ``closed_at``, per ``by``:
    won, median_days, mean_days, p90_days (exact quantiles, computed in the engine)."""
    leads = _check_leads(leads, [by])
    won = leads.filter(leads.outcome == "won")
    d = _days(won.closed_at, won.created_at)
    out = won.group_by(by).aggregate(
        won=won.count(), median_days=d.quantile(0.5), mean_days=d.mean(), p90_days=d.quantile(0.9)
    )
    return out.to_pandas().sort_values("median_days").reset_index(drop=True)


def pipeline_velocity(leads, by: str = "source") -> pd.DataFrame:
    """Pipeline velocity per ``by``: open opportunities × win rate × average deal / cycle days.

    open_opportunities = open leads that reached the opportunity stage; win_rate = won /
    closed among leads that reached it; average_deal = mean ``amount`` of won leads;
    cycle_days = mean days from created to closed of won leads. velocity is the expected
    won value per day from the open pipeline (the usual sales-velocity formula).
    """
    leads = _check_leads(leads, [by])
    opp = leads.opportunity_at.notnull()
    won = leads.outcome == "won"
    out = (
        leads.group_by(by)
        .aggregate(
            open_opportunities=(opp & (leads.outcome == "open")).sum(),
            won=(opp & won).sum(),
            closed_opportunities=(opp & (leads.outcome != "open")).sum(),
            average_deal=leads.amount.mean(where=won),
            cycle_days=_days(leads.closed_at, leads.created_at).mean(where=won),
        )
        .to_pandas()
    )
    out["win_rate"] = out.won / out.closed_opportunities.where(out.closed_opportunities > 0)
    out["velocity_per_day"] = (
        out.open_opportunities * out.win_rate * out.average_deal / out.cycle_days
    )
    return out.sort_values("velocity_per_day", ascending=False).reset_index(drop=True)


def _current_stage(leads):
    stage = ibis.cases(
        (leads.quote_at.notnull(), "quote"),
        (leads.opportunity_at.notnull(), "opportunity"),
        (leads.qualified_at.notnull(), "qualified"),
        else_="lead",
    )
    since = ibis.coalesce(
        leads.quote_at, leads.opportunity_at, leads.qualified_at, leads.created_at
    )
    return stage, since


def open_pipeline(leads) -> pd.DataFrame:
    """Open leads by the stage they are at, with their value weighted by the chance to win.

    P(win | stage) = won / closed among closed leads that reached the stage (history);
    weighted_value = Σ amount × P(win | stage) over open leads of the stage with an amount
    (the CRM sets ``amount`` from the opportunity stage on: earlier leads count, unvalued).
    """
    leads = _check_leads(leads)
    stage, _ = _current_stage(leads)
    open_ = leads.filter(leads.outcome == "open").mutate(stage=stage)
    now = (
        open_.group_by("stage")
        .aggregate(open_leads=open_.count(), valued=open_.amount.count(), amount=open_.amount.sum())
        .to_pandas()
    )
    closed = leads.filter(leads.outcome != "open")
    hist = (
        closed.aggregate(
            **{f"c_{s}": _reached(closed, s).sum() for s in LEAD_STAGES[:-1]},
            **{
                f"w_{s}": (_reached(closed, s) & (closed.outcome == "won")).sum()
                for s in LEAD_STAGES[:-1]
            },
        )
        .to_pandas()
        .iloc[0]
    )
    now["p_win"] = [
        hist[f"w_{s}"] / hist[f"c_{s}"] if hist[f"c_{s}"] else np.nan for s in now.stage
    ]
    now["amount"] = now.amount.fillna(0.0)
    now["weighted_value"] = now.amount * now.p_win
    now["stage"] = pd.Categorical(now.stage, LEAD_STAGES[:-1], ordered=True)
    return now.sort_values("stage").reset_index(drop=True)


def stuck_leads(leads, as_of=None, top: int = 5) -> pd.DataFrame:
    """The ``top`` open leads that have waited longest at each stage (ranked in the engine).

    days_in_stage = (as_of − time the lead entered its current stage) in days; ``as_of``
    defaults to the latest timestamp in the leads table. IDs only: lead_id, account_id,
    source, stage, amount, days_in_stage.
    """
    leads = _check_leads(leads)
    if top < 1:
        raise ValueError("top must be at least 1")
    if as_of is None:
        as_of = leads.aggregate(m=ibis.greatest(*[leads[c].max() for c in _STAGE_TS.values()]))
        as_of = pd.Timestamp(as_of.to_pandas().m.iloc[0])
    stage, since = _current_stage(leads)
    open_ = leads.filter(leads.outcome == "open").mutate(stage=stage, since=since)
    open_ = open_.mutate(days_in_stage=_days(ibis.literal(pd.Timestamp(as_of)), open_.since))
    w = ibis.window(group_by="stage", order_by=[ibis.desc("days_in_stage"), "lead_id"])
    ranked = open_.mutate(rank=ibis.row_number().over(w) + 1)
    out = (
        ranked.filter(ranked["rank"] <= top)
        .select("stage", "rank", "lead_id", "account_id", "source", "amount", "days_in_stage")
        .to_pandas()
    )
    out["stage"] = pd.Categorical(out.stage, LEAD_STAGES[:-1], ordered=True)
    return out.sort_values(["stage", "rank"]).reset_index(drop=True)
