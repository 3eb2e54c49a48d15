"""Tests of helpers.funnel: hand-made event logs worked out by hand, a hand-written DuckDB SQL
query, Spark, and the funnel step probabilities the generator planted."""

from __future__ import annotations

import json
import shutil

import ibis
import numpy as np
import pandas as pd
import pytest

from helpers import funnel
from helpers.data import open_dataset
from helpers.sections import needs_line
from helpers.stats import chi_square_proportions, pairwise_proportion_tests

T = pd.Timestamp("2025-03-03 10:00")
S3 = ["visit", "product_view", "add_to_cart"]


def _t(minutes=0.0, days=0.0, seconds=0.0):
    return (
        T + pd.Timedelta(minutes=minutes) + pd.Timedelta(days=days) + pd.Timedelta(seconds=seconds)
    )


def hand_log() -> pd.DataFrame:
    """Nine visitors, each testing one rule (window 1 day, steps visit > view > cart)."""
    rows = [
        (1, _t(0), "visit", "sem"),  # the plain path: +60 s, +240 s
        (1, _t(1), "product_view", "sem"),
        (1, _t(5), "add_to_cart", "sem"),
        (2, _t(-60), "add_to_cart", "email"),  # out of order: the cart came before the entry
        (2, _t(0), "visit", "email"),
        (2, _t(10), "product_view", "email"),
        (3, _t(-120), "visit", "sem"),  # repeated events: the first of each counts
        (3, _t(-60), "visit", "direct"),
        (3, _t(-30), "product_view", "direct"),
        (3, _t(-20), "product_view", "direct"),
        (3, _t(0), "add_to_cart", "direct"),
        (4, _t(0), "visit", "sem"),  # outside the window by one second
        (4, _t(days=1, seconds=1), "product_view", "direct"),
        (5, _t(0), "visit", "email"),  # exactly at the end of the window: inside
        (5, _t(days=1), "product_view", "email"),
        (6, _t(0), "visit", "sem"),  # skips the product view
        (6, _t(1), "add_to_cart", "sem"),
        (7, _t(0), "visit", "email"),  # cart before the view: strict 2 steps, any order 3
        (7, _t(1), "add_to_cart", "email"),
        (7, _t(2), "product_view", "email"),
        (8, _t(0), "visit", "sem"),  # every step at the same instant
        (8, _t(0), "product_view", "sem"),
        (8, _t(0), "add_to_cart", "sem"),
        (9, _t(0), "product_view", "sem"),  # never visits: not in the funnel
        (9, _t(1), "add_to_cart", "sem"),
        (1, _t(2), "signup", "sem"),  # an event that is not a step is ignored
    ]
    df = pd.DataFrame(rows, columns=["visitor_id", "ts", "event", "channel"])
    df["ts"] = df.ts.astype("datetime64[us]")
    return df


def test_strict_order_by_hand():
    r = funnel.funnel_conversion(hand_log(), S3, "1D").set_index("step")
    # entrants: visit 1-8; view 1,2,3,5,7,8; cart 1,3,8
    assert r.entrants.tolist() == [8, 6, 3]
    assert r.dropoff.tolist() == [0, 2, 3]
    assert r.conversion_from_previous.tolist() == pytest.approx([1, 6 / 8, 3 / 6])
    assert r.conversion_from_first.tolist() == pytest.approx([1, 6 / 8, 3 / 8])
    assert r.dropoff_rate.tolist() == pytest.approx([0, 2 / 8, 3 / 6])
    # view - visit: 60, 600, 5400, 86400, 120, 0 s -> sorted 0 60 120 600 5400 86400
    assert r.loc["product_view", "median_seconds"] == pytest.approx((120 + 600) / 2)
    assert r.loc["product_view", "p90_seconds"] == pytest.approx(5400 + 0.5 * (86400 - 5400))
    # cart - view: 240 (v1), 1800 (v3), 0 (v8); cart - visit: 300, 7200, 0
    assert r.loc["add_to_cart", "median_seconds"] == pytest.approx(240)
    assert r.loc["add_to_cart", "p90_seconds"] == pytest.approx(240 + 0.8 * (1800 - 240))
    assert r.loc["add_to_cart", "median_seconds_from_first"] == pytest.approx(300)
    assert np.isnan(r.loc["visit", "median_seconds"])


def test_any_order_by_hand():
    r = funnel.funnel_conversion(hand_log(), S3, "1D", order="any").set_index("step")
    # visitor 7 now completes (view at +2 min, cart at +1 min: done at +2 min)
    assert r.entrants.tolist() == [8, 6, 4]
    # cart step done - view step done: 240 (v1), 1800 (v3), 0 (v7), 0 (v8)
    assert r.loc["add_to_cart", "median_seconds"] == pytest.approx(120)


def test_breakdown_takes_the_entry_event_and_breaks_ties():
    r = funnel.funnel_conversion(hand_log(), S3, "1D", by="channel")
    wide = r.pivot(index="channel", columns="step_index", values="entrants")
    # entry channels: sem 1,3,4,6,8; email 2,5,7 (visitor 3 entered through sem, not direct)
    assert wide.loc["sem"].tolist() == [5, 3, 3]
    assert wide.loc["email"].tolist() == [3, 3, 0]
    tie = pd.DataFrame(
        {"visitor_id": [1, 1, 1], "ts": [T, T, T + pd.Timedelta(minutes=1)],
         "event": ["visit", "visit", "product_view"], "channel": ["sms", "direct", "sms"]}
    )  # fmt: skip
    r = funnel.funnel_conversion(tie, S3[:2], "1D", by="channel", unfinished="include")
    assert r.channel.unique().tolist() == ["direct"]


def test_ibis_input_other_id_column_and_plans_agree():
    df = hand_log().rename(columns={"visitor_id": "account_id"})
    df.loc[df.account_id == 9, "account_id"] = None
    con = ibis.duckdb.connect()
    t = con.create_table("events", df)
    a = funnel.funnel_conversion(t, S3, "1D", id_col="account_id", plan="joins")
    b = funnel.funnel_conversion(df, S3, pd.Timedelta(days=1), id_col="account_id", plan="carry")
    pd.testing.assert_frame_equal(a, b)
    assert a.entrants.tolist() == [8, 6, 3]


def test_bad_input_is_named():
    df = hand_log()
    with pytest.raises(ValueError, match="no column"):
        funnel.funnel_conversion(df, S3, "1D", id_col="account_id")
    with pytest.raises(ValueError, match="repeat"):
        funnel.funnel_conversion(df, ["visit", "visit"], "1D")
    with pytest.raises(ValueError, match="order"):
        funnel.funnel_conversion(df, S3, "1D", order="loose")
    with pytest.raises(ValueError, match="window"):
        funnel.funnel_conversion(df, S3, "-1D")
    with pytest.raises(ValueError, match="no unit entered"):
        funnel.funnel_conversion(df, ["checkout", "purchase"], "1D")
    with pytest.raises(ValueError, match="timestamp"):
        funnel.funnel_conversion(df.assign(ts=df.ts.astype(str)), S3, "1D")


def test_breakdown_tests_and_avoidable_dropoff():
    rows = []
    for g, n1, n2 in (("a", 1000, 500), ("b", 1000, 400), ("c", 10, 10)):
        rows += [{"g": g, "step_index": 1, "step": "x", "entrants": n1},
                 {"g": g, "step_index": 2, "step": "y", "entrants": n2}]  # fmt: skip
    res = pd.DataFrame(rows)
    cmp = funnel.step_comparison(res, "g", "y")
    assert cmp.g.tolist() == ["c", "a", "b"] and cmp.trials.tolist() == [10, 1000, 1000]
    diff = funnel.group_differences(res, "g", "y")
    assert diff["overall"]["dof"] == 2 and diff["overall"]["p_value"] < 1e-3
    av = funnel.avoidable_dropoff(res, "g", min_trials=30).iloc[0]
    # benchmark: group a's lower Wilson bound (c is too small); b is 1000 x (lo_a - 0.4) short
    lo_a = cmp.set_index("g").loc["a", "ci_low"]
    assert av.benchmark_group == "a"
    assert av.avoidable == pytest.approx(1000 * (lo_a - 0.4))
    assert av.dropoff == 500 + 600


def test_chi_square_and_pairwise_by_hand():
    # 2 x 2: 30/100 vs 50/100 -> pooled 0.4; chi2 = Σ (O-E)^2/E = 4 x 10^2 / (40 or 60)
    res = chi_square_proportions([30, 50], [100, 100])
    assert res["chi2"] == pytest.approx(2 * 100 / 40 + 2 * 100 / 60)
    pairs = pairwise_proportion_tests([30, 50, 31], [100, 100, 100], ["a", "b", "c"])
    assert len(pairs) == 3
    # Holm: the smallest p is multiplied by 3, never below the raw p
    assert (pairs.p_adjusted >= pairs.p_value).all()
    assert pairs.p_adjusted.min() == pytest.approx(min(1.0, 3 * pairs.p_value.min()))


def test_best_and_worst_skip_groups_too_small_to_judge():
    table = pd.DataFrame(
        {"channel": ["sms", "sem", "email", "direct"], "trials": [2, 400, 300, 5],
         "successes": [1, 40, 60, 0]}
    )  # fmt: skip
    table["rate"] = table.successes / table.trials
    best, worst = funnel.best_and_worst(table, min_trials=30)
    assert (best.channel, worst.channel) == ("email", "sem")  # not sms (1 of 2), not direct
    best, worst = funnel.best_and_worst(table[table.trials < 30], min_trials=30)
    assert (best.channel, worst.channel) == ("sms", "direct")  # none large: all groups


def test_weekly_trend_and_histogram_by_hand():
    log = hand_log()
    later = log.assign(visitor_id=log.visitor_id + 100, ts=log.ts + pd.Timedelta(days=21))
    later = later[~later.visitor_id.isin([104, 105])]  # their view a day later ends the data
    tr = funnel.weekly_trend(pd.concat([log, later]), S3, "1D", step="product_view")
    # the data now end at 10:10 on the 24th, before any of that week's 1-day windows closes:
    # its entrants are still in their window, so it has no closed entrant to show; the first
    # week is complete
    whole = tr[tr.metric == "whole funnel"]
    assert whole.week.tolist() == [pd.Timestamp("2025-03-03")] and whole.complete.all()
    assert (whole.successes.iloc[0], whole.trials.iloc[0]) == (3, 8)
    h = funnel.time_to_convert_histogram(log, S3, "1D", bins_per_decade=1)
    cart = h[(h.step == "add_to_cart") & (h.span == "from previous")]
    # 0 s -> [1, 10), 240 s -> [100, 1000), 1800 s
    assert cart.units.tolist() == [1, 1, 1]
    assert cart.low_seconds.tolist() == pytest.approx([1, 100, 1000])


# ----------------------------------------------------------------------------- engines

SQL = """
WITH e AS (SELECT visitor_id, ts, event, channel FROM ev WHERE visitor_id IS NOT NULL),
entry AS (
  SELECT visitor_id, channel, ts AS t1 FROM (
    SELECT visitor_id, channel, ts,
           row_number() OVER (PARTITION BY visitor_id ORDER BY ts, channel) AS rn
    FROM e WHERE event = 'visit') WHERE rn = 1),
s2 AS (SELECT x.visitor_id, min(e.ts) AS t2 FROM entry x JOIN e ON e.visitor_id = x.visitor_id
       AND e.event = 'product_view' AND e.ts >= x.t1 AND e.ts <= x.t1 + INTERVAL 7 DAY
       GROUP BY 1),
s3 AS (SELECT x.visitor_id, min(e.ts) AS t3 FROM entry x JOIN s2 USING (visitor_id) JOIN e
       ON e.visitor_id = x.visitor_id AND e.event = 'add_to_cart' AND e.ts >= s2.t2
       AND e.ts <= x.t1 + INTERVAL 7 DAY GROUP BY 1),
s4 AS (SELECT x.visitor_id, min(e.ts) AS t4 FROM entry x JOIN s3 USING (visitor_id) JOIN e
       ON e.visitor_id = x.visitor_id AND e.event = 'quote_request' AND e.ts >= s3.t3
       AND e.ts <= x.t1 + INTERVAL 7 DAY GROUP BY 1),
paths AS (SELECT *, t1 + INTERVAL 7 DAY > (SELECT max(ts) FROM ev) AS open
          FROM entry LEFT JOIN s2 USING (visitor_id) LEFT JOIN s3 USING (visitor_id)
          LEFT JOIN s4 USING (visitor_id))
SELECT channel,
       count(t1) FILTER (NOT open) AS n1, count(t2) FILTER (NOT open) AS n2,
       count(t3) FILTER (NOT open) AS n3, count(t4) FILTER (NOT open) AS n4,
       count(t1) FILTER (open) AS s1, count(t2) FILTER (open) AS s2,
       count(t3) FILTER (open) AS s3, count(t4) FILTER (open) AS s4,
       quantile_cont(date_diff('microsecond', t1, t2) / 1e6, [0.5, 0.9]) FILTER (NOT open) AS q2,
       quantile_cont(date_diff('microsecond', t2, t3) / 1e6, [0.5, 0.9]) FILTER (NOT open) AS q3,
       quantile_cont(date_diff('microsecond', t3, t4) / 1e6, [0.5, 0.9]) FILTER (NOT open) AS q4,
       quantile_cont(date_diff('microsecond', t1, t3) / 1e6, [0.5, 0.9]) FILTER (NOT open) AS qf3,
       quantile_cont(date_diff('microsecond', t1, t4) / 1e6, [0.5, 0.9]) FILTER (NOT open) AS qf4
FROM paths GROUP BY channel ORDER BY channel
"""
STEPS4 = ["visit", "product_view", "add_to_cart", "quote_request"]


@pytest.fixture(scope="module")
def sample_events(small_sample):
    ds = open_dataset(small_sample, tables=None)
    return ds.web_events.select("visitor_id", "ts", "event", "channel").to_pandas()


def test_agrees_with_hand_written_duckdb_sql(sample_events):
    """Same entrants, still-in-window counts and all the times the helper reports (median and
    90th percentile from the previous and from the first step), exactly."""
    con = ibis.duckdb.connect()
    t = con.create_table("ev", sample_events)
    want = con.con.sql(SQL).df().set_index("channel")
    got = funnel.funnel_conversion(t, STEPS4, "7D", by="channel")
    assert got.still_in_window.sum() > 0  # the last week's entrants
    assert set(got.channel) == set(want.index) and len(want) >= 5  # the same groups, both ways
    byk = got.set_index(["channel", "step_index"])
    for ch in want.index:
        for i in range(1, 5):
            assert byk.loc[(ch, i), "entrants"] == want.loc[ch, f"n{i}"]
            assert byk.loc[(ch, i), "still_in_window"] == want.loc[ch, f"s{i}"]
        for i in range(2, 5):
            cols = [("median_seconds", f"q{i}", 0), ("p90_seconds", f"q{i}", 1)]
            first = f"qf{i}" if i > 2 else "q2"
            cols += [("median_seconds_from_first", first, 0), ("p90_seconds_from_first", first, 1)]
            for col, key, j in cols:
                q = want.loc[ch, key]
                w = np.nan if q is None or q is pd.NA or len(q) <= j or q[j] is None else q[j]
                assert byk.loc[(ch, i), col] == pytest.approx(w, rel=1e-12, nan_ok=True)


def test_spark_agrees_with_duckdb(sample_events, spark, tmp_path):
    sub = sample_events[sample_events.visitor_id % 10 == 0]
    sub.to_parquet(tmp_path / "events.parquet", index=False)
    con = ibis.pyspark.connect(spark)
    st = con.read_parquet(str(tmp_path / "events.parquet"), table_name="funnel_events")
    edges = dict(  # issue #12: entry range, per-step windows, an exclusion, unfinished windows
        entry_start="2026-06-01",
        entry_end="2026-10-29",
        step_windows={"add_to_cart": "1D", "quote_request": "3D"},
        exclusions=[("checkout", "product_view", "quote_request")],
    )
    for order, kw in (("strict", {}), ("any", {}), ("strict", edges)):
        want = funnel.funnel_conversion(sub, STEPS4, "7D", by="channel", order=order, **kw)
        got = funnel.funnel_conversion(st, STEPS4, "7D", by="channel", order=order, **kw)
        pd.testing.assert_frame_equal(got, want, rtol=1e-12)
    assert want.excluded.sum() > 0 and want.still_in_window.sum() > 0


# ----------------------------------------------------------------------------- planted truth


def test_step_conversion_per_channel_matches_planted_truth(small_sample):
    """Anonymous visitors make exactly one journey each (see generate.journey_events), so a
    per-visitor funnel, broken down by the channel of the first visit, with a window long
    enough for return sessions (gaps ~ Exponential(1.5 days), 30 days) measures
    P(step | previous step, first-touch channel). Entries in the last 30 days are left out
    (their journeys are cut by the end of the data). Each of the rates is within 4 standard
    errors of the planted probability."""
    truth = json.loads((small_sample / "truth.json").read_text())["funnel"]
    ds = open_dataset(small_sample)
    ev = ds.web_events.filter(ds.web_events.account_id.isnull())
    end = pd.Timestamp(truth["end_date"]) if "end_date" in truth else None
    last = pd.Timestamp(ev.ts.max().to_pandas()) if end is None else end
    first = ev.group_by("visitor_id").aggregate(first=ev.ts.min())
    keep = first.filter(first["first"] <= last - pd.Timedelta(days=31)).select("visitor_id")
    ev = ev.semi_join(keep, "visitor_id")
    steps = truth["steps"]
    res = funnel.funnel_conversion(ev, steps, "30D", by="channel")
    checked = 0
    for ch, probs in truth["step_probabilities"].items():
        rows = res[res.channel == ch].set_index("step")
        if rows.empty or rows.loc[steps[0], "entrants"] < 500:
            continue  # channels that only bring known visitors (email, sms, sales outreach)
        for prev, step in zip(steps, steps[1:], strict=False):
            n, p = rows.loc[prev, "entrants"], probs[step]
            se = np.sqrt(p * (1 - p) / n)
            got = rows.loc[step, "conversion_from_previous"]
            assert abs(got - p) < 4 * se, (ch, step, got, p, n)
            checked += 1
    assert checked >= 20


def test_breakdown_summaries_on_the_sample(small_sample):
    ds = open_dataset(small_sample)
    ev = funnel.events_with_accounts(ds)
    results = {b: funnel.funnel_conversion(ev, STEPS4, "7D", by=b) for b in ("channel", "region")}
    assert funnel.ANONYMOUS in set(results["region"].region)
    tests = funnel.breakdown_tests(results, "add_to_cart").set_index("breakdown")
    # channels were planted with different add-to-cart probabilities: the test must see it
    assert tests.loc["channel", "p_value"] < 0.001
    for b, res in results.items():  # best and worst among groups of at least 30 trials
        table = funnel.step_comparison(res, b, "add_to_cart")
        big = table[table.trials >= 30]
        assert tests.loc[b, "best"] == big.loc[big.rate.idxmax(), b]
        assert tests.loc[b, "worst"] == big.loc[big.rate.idxmin(), b]
    av = funnel.avoidable_by_breakdown(results).set_index(["breakdown", "step"])
    # worked out again from the group counts: for step k, trials = entrants at k-1 and rate =
    # entrants at k / trials per group; benchmark = the highest lower 95 % Wilson bound among
    # groups of at least 30 trials; avoidable = Σ trials × max(0, benchmark − rate). Every
    # step's drop-off, summed over groups, is the whole funnel's drop-off there.
    z = 1.959963984540054
    whole = funnel.funnel_conversion(ev, STEPS4, "7D").set_index("step")
    want = {}
    for b, res in results.items():
        wide = res.pivot(index=b, columns="step_index", values="entrants")
        for k in range(2, len(STEPS4) + 1):
            n, x = wide[k - 1], wide[k]
            n, x = n[n > 0], x[n > 0]
            p = x / n
            low = (p + z**2 / (2 * n) - z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))) / (
                1 + z**2 / n
            )
            bench = low[n >= 30].max()
            want[(b, STEPS4[k - 1])] = (bench, float((n * (bench - p).clip(lower=0)).sum()))
    assert set(av.index) == set(want)
    for key, (bench, avoidable) in want.items():
        assert av.loc[key, "benchmark_rate"] == pytest.approx(bench, rel=1e-9), key
        assert av.loc[key, "avoidable"] == pytest.approx(avoidable, rel=1e-9), key
        assert av.loc[key, "dropoff"] == whole.loc[key[1], "dropoff"], key
    largest = max(want, key=lambda k: want[k][1])
    assert av.index[0] == largest and want[largest][1] > 0


# ----------------------------------------------------------------------------- analyse()


def test_analyse_on_web_events_only(small_sample, tmp_path, sample_events):
    """The report's core is web_events: a dataset of only web_events builds every section but
    the breakdowns by account attributes, which say they need the accounts table; the funnel
    by channel is the hand-written SQL's, exactly."""
    shutil.copytree(small_sample / "web_events", tmp_path / "web_events")
    ds = funnel.open_tables(tmp_path)
    assert list(ds) == ["web_events"]  # no accounts derived: they would have no attributes
    res = funnel.analyse(ds, steps=STEPS4, window_days=7)
    needs = {"accounts": ("account_id", "industry", "region", "size_band")}
    assert res.skipped == {"account_groups": needs_line(needs)}
    assert res.summary()["total"] == len(funnel.SECTIONS)
    # the account attributes left out; channel within each visitor type (issue 25)
    kinds = ["channel (anonymous)", "channel (logged in)"]
    assert list(res.tables["by_group"]) == kinds
    assert set(res.tables["avoidable"].breakdown) <= set(kinds)
    con = ibis.duckdb.connect()
    con.create_table("ev", sample_events)
    want = con.con.sql(SQL).df().set_index("channel")
    parts = [res.tables["by_group"][k].rename(columns={k: "channel"}) for k in kinds]
    got = pd.concat(parts).groupby(["channel", "step_index"]).entrants.sum()
    for ch in want.index:
        assert [got.loc[(ch, i)] for i in range(1, 5)] == [
            want.loc[ch, f"n{i}"] for i in range(1, 5)
        ]
    whole = funnel.funnel_conversion(sample_events, STEPS4, "7D")
    assert res.figures["entrants"] == whole.entrants.iloc[0] == want.n1.sum()
    assert res.figures["funnel_conversion"] == whole.conversion_from_first.iloc[-1]
    assert res.figures["leakiest_step"] == funnel.leakiest_step(whole).step
    # with the accounts table, the same funnel figures and the account breakdowns
    full = funnel.analyse(funnel.open_tables(small_sample), steps=STEPS4, window_days=7)
    assert full.built_keys == [s.key for s in funnel.SECTIONS]
    assert set(full.tables["account_groups"].breakdown) == set(funnel.ACCOUNT_COLUMNS)
    # anonymous visitors are never a group of an account attribute: logged-in ones only
    assert funnel.ANONYMOUS not in set(full.tables["account_groups"].group)
    kinds = {b.rsplit(" (", 1)[1] for b in full.tables["avoidable"].breakdown}
    assert kinds <= {"anonymous)", "logged in)"}
    tests = full.tables["tests"].set_index("breakdown")
    assert tests.loc["visitor_type", "groups"] == 2
    same = ["entrants", "still_in_window", "purchasers", "funnel_conversion", "leakiest_step"]
    assert {k: full.figures[k] for k in same} == {k: res.figures[k] for k in same}


def test_analyse_says_why_groups_are_left_out(small_sample, tmp_path):
    shutil.copytree(small_sample / "web_events", tmp_path / "web_events")
    ds = funnel.open_tables(tmp_path)
    res = funnel.analyse(ds, steps=STEPS4, window_days=7, breakdowns=["industry"])
    assert "no accounts table" in res.reason("groups")
    assert "largest_avoidable_step" not in res.figures  # figures only for built sections
    big = funnel.analyse(ds, steps=STEPS4, window_days=7, breakdowns=["channel"], min_group=10**9)
    assert "min_group" in big.reason("groups")
    with pytest.raises(ValueError, match="neither web_events columns"):
        funnel.analyse(ds, breakdowns=["colour"])
