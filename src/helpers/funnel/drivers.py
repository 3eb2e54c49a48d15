"""What goes with converting, and where the ones who dropped went: the funnel's drivers.

Both are counted in the engine (Ibis: DuckDB or Spark) from a table of *units* (one row per
visitor, account or journey that entered the funnel, as :func:`helpers.funnel.unit_paths`
makes it): only one row per property value, per event or per next event reaches pandas.

- :func:`property_counts`, :func:`event_counts` and :func:`driver_table`: conversion drivers.
  For each entry property value (channel = sem, size band = large...) and each event done
  between entry and conversion (or the window's end), the 2 x 2 table of in the group or not
  x converted or not, its odds ratio with a 95 % Woolf interval and Wald p-value
  (:func:`helpers.stats.odds_ratio`), and Benjamini-Hochberg q-values across everything
  tested (:func:`helpers.stats.benjamini_hochberg`). PostHog's correlation analysis is the
  model; it gives odds ratios without an interval or a correction, at person level only.
- :func:`next_events`: for the units that reached a step's previous step and not the step,
  the first event they did next inside their window, and how many did nothing more at all.

Hand-written: no library computes these over an engine table (PostHog's live in its server);
they are a few group-bys and one join.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd

from helpers.stats import benjamini_hochberg, odds_ratio

__all__ = [
    "NOTHING_MORE",
    "driver_table",
    "event_counts",
    "next_events",
    "property_counts",
    "top_drivers",
]

#: The "next event" of a unit that did nothing more inside its window.
NOTHING_MORE = "(nothing more in the window)"


def property_counts(units, attributes: Sequence[str], leave_out=None) -> pd.DataFrame:
    """Units and converted units per value of each of ``attributes`` (columns of ``units``,
    which also has a boolean ``converted``), one engine query. ``leave_out``: ``{attribute:
    value}`` whose units are not in that attribute's comparison at all (anonymous visitors
    have no industry: the industry drivers compare logged-in visitors among themselves).
    Columns: kind ("property"), property, value, units, converted, population,
    population_converted (the attribute's units and converted units, after leaving out)."""
    leave_out = leave_out or {}
    parts = []
    for a in attributes:
        t = units.filter(units[a].notnull())
        if a in leave_out:
            t = t.filter(t[a].cast("string") != leave_out[a])
        g = t.group_by(value=t[a].cast("string")).aggregate(
            units=t.count(), converted=t.converted.sum().cast("int64")
        )
        parts.append(g.mutate(property=ibis.literal(a)))
    if not parts:
        return _empty()
    out = ibis.union(*parts).to_pandas()
    tot = out.groupby("property")[["units", "converted"]].transform("sum")
    out["population"], out["population_converted"] = tot.units, tot.converted
    return out.assign(kind="property")[_COLS]


def event_counts(units, events, id_col: str, *, ts_col="ts", event_col="event", names=()):
    """Units and converted units that did each event of ``names`` between their entry
    (``at_1``) and their ``end`` (columns of ``units``: conversion, or the window's end), both
    included; one engine query. Columns as :func:`property_counts` (kind "event", property =
    the event's column name); population = every unit."""
    names = list(names)
    if not names:
        return _empty()
    e = events.filter(events[event_col].isin(names), events[id_col].notnull())
    e = e.select(_id=e[id_col], _t=e[ts_col], _ev=e[event_col])
    u = units.select(_uid=units[id_col], _at=units.at_1, _end=units.end, _conv=units.converted)
    j = u.join(e, [u._uid == e._id, e._t >= u._at, e._t <= u._end])
    did = j.group_by(["_uid", "_ev"]).aggregate(_conv=j._conv.max())
    out = did.group_by(value=did._ev).aggregate(
        units=did.count(), converted=did._conv.sum().cast("int64")
    )
    out = out.to_pandas()
    tot = units.aggregate(n=units.count(), c=units.converted.sum().cast("int64")).to_pandas()
    out["population"], out["population_converted"] = int(tot.n.iloc[0]), int(tot.c.iloc[0])
    return out.assign(kind="event", property=event_col)[_COLS]


_COLS = ["kind", "property", "value", "units", "converted", "population", "population_converted"]


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="object" if c in _COLS[:3] else "int64") for c in _COLS}
    )


def driver_table(counts: pd.DataFrame, min_support: int = 30, alpha: float = 0.05):
    """Every property value and event of ``counts`` (:func:`property_counts`,
    :func:`event_counts`) as a conversion driver.

    With a = converted in the group, b = in the group and not converted, c = converted outside
    it (in the same population), d = the rest: odds_ratio = (a·d)/(b·c) with its 95 % interval
    and p-value (:func:`helpers.stats.odds_ratio`), rate = a / units, rate_rest = c / (c + d).
    A row is *tested* only when both the group and the rest have at least ``min_support``
    units (tiny groups never lead); q_value is Benjamini-Hochberg across every tested row, and
    ``discovery`` = q <= ``alpha`` (the expected share of false discoveries among them is at
    most ``alpha``). Sorted by odds ratio, largest first.
    """
    t = counts.copy()
    a = t.converted.astype(float)
    b = t.units - a
    rest = (t.population - t.units).astype(float)
    c = (t.population_converted - t.converted).astype(float)
    d = rest - c
    r = odds_ratio(a, b, c, d)
    t = t.assign(
        rate=a / t.units.where(t.units > 0),
        rate_rest=c / rest.where(rest > 0),
        odds_ratio=r["odds_ratio"],
        ci_low=r["ci_low"],
        ci_high=r["ci_high"],
        p_value=r["p_value"],
    )
    t["tested"] = (t.units >= min_support) & (rest >= min_support)
    reject, q = benjamini_hochberg(np.where(t.tested, t.p_value, np.nan), alpha)
    t["q_value"], t["discovery"] = q, reject
    return t.sort_values("odds_ratio", ascending=False, kind="stable").reset_index(drop=True)


def top_drivers(table: pd.DataFrame, top: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the discoveries with the highest odds ratios, those with the lowest), ``top`` each:
    what goes with converting more, and less."""
    found = table[table.discovery]
    up = found[found.odds_ratio > 1].sort_values("odds_ratio", ascending=False).head(top)
    down = found[found.odds_ratio < 1].sort_values("odds_ratio").head(top)
    return up.reset_index(drop=True), down.reset_index(drop=True)


def next_events(dropped, events, id_col: str, *, ts_col="ts", event_col="event"):
    """What the units in ``dropped`` did next (one row per unit: ``id_col``, ``_from`` = the
    time they reached the step before the one they missed, ``_end`` = their window's end).

    next event = the first event (any name) strictly after ``_from`` and at or before
    ``_end``; ties in time go to the smallest event name; :data:`NOTHING_MORE` when there is
    none. ``never_came_back`` counts the units with no event at all after ``_from`` in the
    data. One engine query. Columns: next_event, units, share (of the dropped units), sorted
    by units, largest first; and the number that never came back.
    """
    e = events.filter(events[id_col].notnull())
    e = e.select(_id=e[id_col], _t=e[ts_col], _ev=e[event_col])
    j = dropped.join(e, [dropped[id_col] == e._id, e._t > dropped._from])
    inside = j.filter(j._t <= j._end)
    w = ibis.window(group_by=inside[id_col], order_by=[inside._t, inside._ev])
    ranked = inside.mutate(_rn=ibis.row_number().over(w))
    first = ranked.filter(ranked._rn == 0)
    table = first.group_by(next_event=first._ev).aggregate(units=first.count()).to_pandas()
    came_back = j.select(j[id_col]).distinct().count().to_pandas()
    total = int(dropped.count().to_pandas())
    nothing = total - int(table.units.sum())
    if nothing:
        table = pd.concat(
            [table, pd.DataFrame({"next_event": [NOTHING_MORE], "units": [nothing]})],
            ignore_index=True,
        )
    table["units"] = table.units.astype("int64")
    table["share"] = table.units / total if total else np.nan
    table = table.sort_values(["units", "next_event"], ascending=[False, True])
    return table.reset_index(drop=True), total - int(came_back)
