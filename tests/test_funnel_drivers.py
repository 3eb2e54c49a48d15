"""Tests of the funnel's optional steps, repeat journeys, conversion drivers and after-drop-off
paths: hand-made logs, hand-written DuckDB SQL, a planted driver and a false-discovery
simulation."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from helpers import funnel
from helpers.funnel import drivers

T = pd.Timestamp("2025-03-03 10:00")
LATER = "2030-01-01"  # as_of: every window closed
OPT = ["visit", "product_view", "add_to_cart", "purchase"]


def _log(rows, cols=("visitor_id", "minutes", "event")) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(cols))
    df["ts"] = (T + pd.to_timedelta(df.pop("minutes"), unit="min")).astype("datetime64[us]")
    return df


def optional_log() -> pd.DataFrame:
    """Visitors for the optional product_view of visit > (product_view) > add_to_cart > purchase."""
    day = 24 * 60
    return _log(
        [
            (1, 0, "visit"), (1, 1, "product_view"), (1, 2, "add_to_cart"), (1, 3, "purchase"),
            (2, 0, "visit"), (2, 2, "add_to_cart"), (2, 3, "purchase"),  # skips the view
            (3, 0, "visit"), (3, 2, "add_to_cart"), (3, 4, "product_view"),  # view after cart
            (4, 0, "visit"), (4, 1, "product_view"),
            (5, 0, "visit"), (5, 1, "product_view"), (5, 5, "purchase"),  # no cart
            (6, 0, "visit"), (6, 2 * day, "add_to_cart"),  # cart outside the 1-day window
            (7, 0, "visit"), (7, 3, "purchase"), (7, 9, "add_to_cart"),  # purchase before cart
        ]
    )  # fmt: skip


SQL_OPTIONAL = """
with entry as (select visitor_id, min(ts) t1 from ev where event = 'visit' group by 1),
s2 as (  -- optional: at or after the visit (the last required step), inside the window
  select n.visitor_id, min(e.ts) t2 from entry n join ev e on e.visitor_id = n.visitor_id
  and e.event = 'product_view' and e.ts >= n.t1 and e.ts <= n.t1 + interval 1 day group by 1),
s3 as (  -- found from the visit too: a view is not needed
  select n.visitor_id, min(e.ts) t3 from entry n join ev e on e.visitor_id = n.visitor_id
  and e.event = 'add_to_cart' and e.ts >= n.t1 and e.ts <= n.t1 + interval 1 day group by 1),
s4 as (
  select n.visitor_id, min(e.ts) t4 from entry n join s3 using (visitor_id)
  join ev e on e.visitor_id = n.visitor_id and e.event = 'purchase' and e.ts >= s3.t3
  and e.ts <= n.t1 + interval 1 day group by 1)
select count(*) n1, count(t2) n2, count(t3) n3, count(t4) n4,
  median(epoch(t3) - epoch(t1)) med3
from entry left join s2 using (visitor_id) left join s3 using (visitor_id)
left join s4 using (visitor_id)
"""


def test_optional_step_agrees_with_hand_written_sql():
    con = ibis.duckdb.connect()
    t = con.create_table("ev", optional_log())
    want = con.con.sql(SQL_OPTIONAL).df().iloc[0]
    # by hand: views 1, 3, 4, 5; carts 1, 2, 3, 7 (7's after its purchase); purchases 1, 2
    assert want[["n1", "n2", "n3", "n4"]].tolist() == [7, 4, 4, 2]
    for plan in ("joins", "carry"):
        got = funnel.funnel_conversion(
            t, OPT, "1D", optional=["product_view"], as_of=LATER, plan=plan
        ).set_index("step")
        assert got.entrants.tolist() == want[["n1", "n2", "n3", "n4"]].tolist()
        assert got.loc["add_to_cart", "previous_step"] == "visit"
        assert got.loc["add_to_cart", "conversion_from_previous"] == pytest.approx(4 / 7)
        assert got.loc["add_to_cart", "dropoff"] == 3
        assert got.loc["purchase", "conversion_from_previous"] == pytest.approx(2 / 4)
        assert got.loc["add_to_cart", "median_seconds"] == pytest.approx(want.med3)
    # without the optional step, the skippers (2, 3) leave the funnel at the view
    plain = funnel.funnel_conversion(t, OPT, "1D", as_of=LATER).entrants.tolist()
    assert plain == [7, 4, 1, 1]


def test_optional_step_in_any_order_and_bad_input():
    log = optional_log()
    got = funnel.funnel_conversion(log, OPT, "1D", order="any", optional="product_view",
                                   as_of=LATER).entrants.tolist()  # fmt: skip
    # any order: 7 has cart and purchase (either order) -> n4 = 1, 2, 7
    assert got == [7, 4, 4, 3]
    with pytest.raises(ValueError, match="optional"):
        funnel.funnel_conversion(log, OPT, "1D", optional=["visit"])
    with pytest.raises(ValueError, match="optional"):
        funnel.funnel_conversion(log, OPT, "1D", optional=["purchase"])


# ----------------------------------------------------------------------------- journeys


def test_repeat_journeys_count_every_visit():
    log = _log(
        [
            (1, 0, "visit"), (1, 1, "product_view"),
            (1, 60, "visit"), (1, 61, "product_view"), (1, 62, "add_to_cart"),
            (1, 120, "visit"),  # a third journey with no view
            (2, 0, "product_view"), (2, 5, "visit"),  # the view before the visit is no one's
        ]
    )  # fmt: skip
    steps = ["visit", "product_view", "add_to_cart"]
    first = funnel.funnel_conversion(log, steps, "1D", as_of=LATER).entrants.tolist()
    assert first == [2, 1, 1]  # visitor 1's first visit, its view and its cart an hour later
    ev = funnel.journey_events(log, "visit")
    assert ev.journey_id.isnull().sum().to_pandas() == 1
    rep = funnel.funnel_conversion(ev, steps, "1D", id_col="journey_id", as_of=LATER)
    assert rep.entrants.tolist() == [4, 2, 1]  # each journey ends at the next visit


# ----------------------------------------------------------------------------- drivers


def planted_log(odds_ratio: float = 2.0, n: int = 6000, seed: int = 3) -> pd.DataFrame:
    """Visitors with a channel (sem: a quarter of them) and a purchase with probability p0,
    sem's odds = odds_ratio x the others'; a non-step event 'compare' done at random."""
    rng = np.random.default_rng(seed)
    p0 = 0.10
    odds1 = odds_ratio * p0 / (1 - p0)
    p1 = odds1 / (1 + odds1)
    channel = rng.choice(["sem", "direct", "organic", "referral"], size=n)
    buys = rng.random(n) < np.where(channel == "sem", p1, p0)
    compare = rng.random(n) < 0.3
    rows = []
    for v in range(n):
        rows.append((v, 0.0, "visit", channel[v]))
        if compare[v]:
            rows.append((v, 1.0, "compare", channel[v]))
        if buys[v]:
            rows.append((v, 2.0, "purchase", channel[v]))
    return _log(rows, ("visitor_id", "minutes", "event", "channel"))


def test_a_planted_channel_is_found_with_an_interval_that_covers_it():
    log = planted_log()
    steps = ["visit", "purchase"]
    paths = funnel.unit_paths(log, steps, "1D", attributes=["channel"], as_of=LATER)
    table = funnel.conversion_drivers(paths, log, steps, "1D", attributes=["channel"])
    sem = table.set_index(["property", "value"]).loc[("channel", "sem")]
    assert sem.discovery and sem.ci_low < 2.0 < sem.ci_high
    # the same counts from pandas
    units = log[log.event == "visit"].set_index("visitor_id").channel
    bought = log[log.event == "purchase"].visitor_id.unique()
    a = ((units == "sem") & units.index.isin(bought)).sum()
    assert sem.units == (units == "sem").sum() and sem.converted == a
    ev = table.set_index(["property", "value"]).loc[("event", "compare")]
    assert not ev.discovery and ev.units == log[log.event == "compare"].visitor_id.nunique()
    up, down = drivers.top_drivers(table)
    assert up.value.iloc[0] == "sem" and set(down.value) <= {"direct", "organic", "referral"}


def test_tiny_groups_are_never_tested():
    counts = pd.DataFrame(
        {"kind": "property", "property": "channel", "value": ["big", "tiny", "rest"],
         "units": [500, 5, 1000], "converted": [50, 5, 100]}
    )  # fmt: skip
    counts["population"], counts["population_converted"] = 1505, 155
    t = drivers.driver_table(counts, min_support=30).set_index("value")
    assert not t.loc["tiny", "tested"] and not t.loc["tiny", "discovery"]
    assert np.isnan(t.loc["tiny", "q_value"]) and t.loc["big", "tested"]
    assert drivers.top_drivers(t.reset_index())[0].empty


def test_with_no_driver_bh_keeps_false_discoveries_near_the_rate():
    """300 simulated funnels with no driver at all: 4 properties of 6 values each and 6
    events, every one independent of converting. Under this global null any discovery is
    false, so the false-discovery rate is the share of runs with one: near alpha = 10 %
    (uncorrected tests at 10 % would find one in almost every run)."""
    rng = np.random.default_rng(11)
    n, alpha, runs, hits, raw = 3000, 0.10, 300, 0, 0
    for _ in range(runs):
        conv = rng.random(n) < 0.2
        parts = []
        for prop in range(4):
            value = rng.integers(0, 6, size=n)
            for v in range(6):
                g = value == v
                parts.append(("property", f"p{prop}", str(v), g.sum(), (g & conv).sum()))
        for e in range(6):
            g = rng.random(n) < 0.3
            parts.append(("event", "event", f"e{e}", g.sum(), (g & conv).sum()))
        counts = pd.DataFrame(parts, columns=drivers._COLS[:5])
        counts["population"], counts["population_converted"] = n, conv.sum()
        t = drivers.driver_table(counts, alpha=alpha)
        hits += t.discovery.any()
        raw += (t.p_value < alpha).any()
    assert hits / runs <= alpha + 0.04
    assert raw / runs > 0.9


# ----------------------------------------------------------------------------- after drop-off


def dropoff_log() -> pd.DataFrame:
    day = 24 * 60
    return _log(
        [
            (1, 0, "visit"), (1, 1, "product_view"), (1, 2, "add_to_cart"),  # went on
            (2, 0, "visit"), (2, 1, "product_view"), (2, 3, "product_view"),  # viewed again
            (3, 0, "visit"), (3, 1, "product_view"), (3, 4, "visit"),  # came back to visit
            (4, 0, "visit"), (4, 1, "product_view"),  # nothing more, ever
            (5, 0, "visit"), (5, 1, "product_view"), (5, 3 * day, "visit"),  # back, too late
            (6, 0, "visit"), (6, 1, "product_view"), (6, 2, "visit"), (6, 2, "signup"),  # tie
            (7, 0, "visit"),  # never reached the view: not a drop-out of the cart step
        ]
    )  # fmt: skip


SQL_DROPOFF = """
with entry as (select visitor_id, min(ts) t1 from ev where event = 'visit' group by 1),
s2 as (select n.visitor_id, n.t1, min(e.ts) t2 from entry n join ev e
  on e.visitor_id = n.visitor_id and e.event = 'product_view' and e.ts >= n.t1
  and e.ts <= n.t1 + interval 1 day group by 1, 2),
s3 as (select s2.visitor_id from s2 join ev e on e.visitor_id = s2.visitor_id
  and e.event = 'add_to_cart' and e.ts >= s2.t2 and e.ts <= s2.t1 + interval 1 day group by 1),
dropped as (select * from s2 where visitor_id not in (select visitor_id from s3)),
nxt as (select d.visitor_id, e.event, row_number() over (partition by d.visitor_id
  order by e.ts, e.event) rn from dropped d join ev e on e.visitor_id = d.visitor_id
  and e.ts > d.t2 and e.ts <= d.t1 + interval 1 day)
select coalesce(n.event, '(nothing more in the window)') next_event, count(*) units
from dropped d left join nxt n on n.visitor_id = d.visitor_id and n.rn = 1
group by 1 order by units desc, next_event
"""


def test_after_dropoff_agrees_with_hand_written_sql():
    log = dropoff_log()
    con = ibis.duckdb.connect()
    t = con.create_table("ev", log)
    want = con.con.sql(SQL_DROPOFF).df()
    steps = ["visit", "product_view", "add_to_cart"]
    paths = funnel.unit_paths(t, steps, "1D", as_of=LATER)
    got, never = funnel.after_dropoff(paths, t, steps, "add_to_cart", "1D")
    assert got[["next_event", "units"]].values.tolist() == want.values.tolist()
    # by hand: 2 product_view; 3 visit; 6 signup (a tie in time goes to the smaller name);
    # 4 and 5 nothing more inside the window; only 4 never came back
    assert dict(zip(got.next_event, got.units, strict=True)) == {
        "product_view": 1, "visit": 1, "signup": 1, drivers.NOTHING_MORE: 2}  # fmt: skip
    assert never == 1 and got.share.sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="after the first"):
        funnel.after_dropoff(paths, t, steps, "visit", "1D")
