"""Tests of helpers.pipeline: hand-made leads worked out by hand (stage conversion, still-open
leads, win rate, velocity, open and stuck leads), the stage probabilities the generator planted,
and the report's analyse() on a leads-only dataset and on leads not matched to an account."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from tiny import tiny_tables, write_tables

from helpers import pipeline
from helpers.data import open_dataset
from helpers.sections import needs_line

T = pd.Timestamp("2025-03-03 10:00")
STAGE_COLUMNS = ["created_at", "qualified_at", "opportunity_at", "quote_at", "closed_at"]


def _frame(rows, cols) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=cols).assign(account_id=lambda x: x.lead_id + 100)
    for c in STAGE_COLUMNS:
        df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
    return df


def hand_leads() -> pd.DataFrame:
    d = lambda n: T + pd.Timedelta(days=n)  # noqa: E731
    nat = pd.NaT
    rows = [  # lead, source, created, qualified, opportunity, quote, closed, outcome, amount
        (1, "sem", d(0), d(1), d(3), d(6), d(10), "won", 1000.0),
        (2, "sem", d(0), d(2), nat, nat, d(5), "lost", None),
        (3, "referral", d(0), d(1), d(2), nat, nat, "open", 500.0),
        (4, "referral", d(0), nat, nat, nat, nat, "open", None),
        (5, "referral", d(0), d(1), d(4), d(5), d(8), "lost", 2000.0),
        (6, "referral", d(0), d(1), d(2), d(3), d(6), "won", 3000.0),
    ]
    return _frame(rows, ["lead_id", "source", *STAGE_COLUMNS, "outcome", "amount"])


def windowed_leads() -> pd.DataFrame:
    """as_of = day 40 (the latest timestamp). Window 10 days for every stage."""
    d = lambda n: T + pd.Timedelta(days=n)  # noqa: E731
    nat = pd.NaT
    rows = [  # lead, created, qualified, opportunity, quote, closed, outcome, amount
        (1, d(0), d(2), d(5), d(8), d(11), "won", 1000.0),
        (2, d(0), d(15), nat, nat, nat, "open", None),  # qualified late: not within 10 days
        (3, d(35), nat, nat, nat, nat, "open", None),  # young: still open, not lost
        (4, d(36), d(37), nat, nat, d(38), "lost", None),  # young too (cohort, not outcome)
        (5, d(0), nat, nat, nat, nat, "open", None),  # 40 days open: counted as not qualified
        (6, d(10), d(12), d(30), nat, d(40), "lost", None),  # opportunity 18 days on: late
    ]
    return _frame(rows, ["lead_id", *STAGE_COLUMNS, "outcome", "amount"]).assign(source="sem")


def test_pipeline_stages_by_hand():
    st = pipeline.pipeline_stages(hand_leads()).set_index("stage")
    assert st.reached.tolist() == [6, 5, 4, 3, 2]
    # decided: open leads still at the previous stage are left out (lead 4, then lead 3)
    assert st.decided.tolist() == [6, 5, 5, 3, 3]
    assert st.conversion.tolist() == pytest.approx([1, 1, 0.8, 1, 2 / 3])
    assert st.median_days.iloc[1:].tolist() == pytest.approx([1, 1.5, 1, 3.5])


def test_win_rate_velocity_open_value_and_stuck_by_hand():
    leads = hand_leads()
    wr = pipeline.win_rate(leads)
    assert (wr.won.iloc[0], wr.closed.iloc[0]) == (2, 4)
    v = pipeline.pipeline_velocity(leads).set_index("source").loc["referral"]
    # 1 open opportunity x win rate 1/2 x average won deal 3000 / cycle 6 days
    assert v.velocity_per_day == pytest.approx(250)
    cyc = pipeline.sales_cycle(leads).set_index("source")
    assert cyc.loc["sem", "median_days"] == pytest.approx(10)
    op = pipeline.open_pipeline(leads).set_index("stage")
    assert op.loc["opportunity", "weighted_value"] == pytest.approx(500 * 2 / 3)
    assert op.loc["lead", "open_leads"] == 1
    stuck = pipeline.stuck_leads(leads, top=3)
    assert stuck.lead_id.tolist() == [4, 3]
    assert stuck.days_in_stage.tolist() == pytest.approx([10, 8])
    with pytest.raises(ValueError, match="no column"):
        pipeline.pipeline_stages(leads.drop(columns="quote_at"))


def test_pipeline_still_open_leads_are_not_lost():
    st = pipeline.pipeline_stages(windowed_leads(), window=10).set_index("stage")
    # qualified: leads 1, 2, 5, 6 decided (created at least 10 days before day 40); 3, 4 open
    assert st.loc["qualified", "still_open"] == 2 and st.loc["qualified", "decided"] == 4
    assert st.loc["qualified", "reached"] == 2  # 1 and 6 (2 qualified after 15 days)
    # opportunity: qualified at least 10 days before: 1 (day 2), 2 (day 15), 6 (day 12); 4 open
    assert st.loc["opportunity", "decided"] == 3 and st.loc["opportunity", "still_open"] == 1
    assert st.loc["opportunity", "reached"] == 1
    # quote: leads 1 (opportunity day 5, quote 3 days on) and 6 (opportunity day 30: its
    # window closes exactly at day 40, the data's end, so it is decided); won: lead 1
    assert st.loc["quote", ["reached", "decided"]].tolist() == [1, 2]
    assert st.loc["won", ["reached", "decided"]].tolist() == [1, 1]
    # from lead: the product of the stage conversions
    assert st.conversion_from_lead.tolist() == pytest.approx([1, 0.5, 1 / 6, 1 / 12, 1 / 12])
    # without a window: the old rule (open leads at the stage before are undecided)
    old = pipeline.pipeline_stages(windowed_leads()).set_index("stage")
    assert old.loc["qualified", ["reached", "decided"]].tolist() == [4, 4]
    assert "still_open" in old.columns and old.still_open.iloc[1] == 2
    w = pipeline.typical_stage_days(windowed_leads(), quantile=0.5)
    assert w["qualified"] == pytest.approx(2)  # days to qualify: 2, 15, 1, 2 -> median 2


def test_lead_stage_conversion_matches_planted_truth(small_sample):
    """Each lead passes each stage with the planted probability for its source; pooled over
    sources (weights are the decided leads), the measured stage conversion is within 4
    standard errors of the planted mix."""
    truth = json.loads((small_sample / "truth.json").read_text())["leads"]
    ds = open_dataset(small_sample)
    st = pipeline.pipeline_stages(ds.leads, by="source")
    checked = 0
    for stage in truth["stages"]:
        rows = st[st.stage == stage]
        rows = rows[rows.decided > 0]
        n = rows.decided.sum()
        assert n >= 30, (stage, n)  # enough decided leads for the test to mean something
        planted = {src: probs[stage] for src, probs in truth["stage_probabilities"].items()}
        p = (rows.decided * rows.source.map(planted)).sum() / n
        se = np.sqrt(p * (1 - p) / n)
        got = rows.reached.sum() / n
        assert abs(got - p) < 4 * se, (stage, got, p, n)
        checked += 1
    assert checked >= 4  # qualified, opportunity, quote, won


# ----------------------------------------------------------------------------- analyse()


def test_analyse_on_leads_only(small_sample, tmp_path):
    """The report's core is leads: a dataset of only leads builds every section but the
    breakdowns by account, which says it needs the accounts table."""
    shutil.copytree(small_sample / "leads", tmp_path / "leads")
    ds = pipeline.open_tables(tmp_path)
    assert list(ds) == ["leads"]  # no accounts derived: they would have no attributes
    res = pipeline.analyse(ds)
    needs = {"accounts": ("account_id", "industry", "size_band")}
    assert res.skipped["by_account"] == needs_line(needs)
    raw = pd.read_parquet(small_sample / "leads")
    # the small sample's leads are all closed: the sections about open leads say so
    open_sections = ["velocity", "open_pipeline", "stuck"]
    if (raw.outcome == "open").any():
        assert res.built_keys == ["stages", "wins", *open_sections]
    else:
        assert res.built_keys == ["stages", "wins"]
        assert {res.reason(k) for k in open_sections} == {
            "No lead is open: every lead is won or lost."
        }
    won, lost = (raw.outcome == "won").sum(), (raw.outcome == "lost").sum()
    assert res.figures["lead_win_rate"] == won / (won + lost)
    assert res.figures["leads"] == len(raw) and res.figures["closed_leads"] == won + lost
    assert res.summary()["total"] == len(pipeline.SECTIONS)
    assert not any(k.startswith("wins_industry") for k in res.tables)


def crm_export(tmp_path, with_accounts: bool):
    """Six hand-made leads, three not matched to an account (null account_id): won 2, lost 3,
    open 1. Accounts 101 (large) and 102 (small) when ``with_accounts``."""
    t = tiny_tables()
    base = t["leads"].iloc[[0]]
    d = lambda n: T + pd.Timedelta(days=n)  # noqa: E731
    rows = [  # lead, account, outcome, qualified day, closed day, amount
        (1, 1, "won", 1, 5, 1000.0),
        (2, None, "won", 2, 9, 3000.0),
        (3, None, "lost", 1, 4, None),
        (4, 2, "lost", None, 3, None),
        (5, None, "lost", 1, 7, None),
        (6, 1, "open", 2, None, 500.0),
    ]
    leads = pd.concat([base] * len(rows), ignore_index=True)
    leads["lead_id"] = [r[0] for r in rows]
    leads["account_id"] = pd.array([r[1] for r in rows], dtype="Int64")
    leads["outcome"] = [r[2] for r in rows]
    leads["created_at"] = pd.Series([d(0)] * 6).astype("datetime64[us]")
    for col, i in (("qualified_at", 3), ("closed_at", 4)):
        leads[col] = pd.Series([pd.NaT if r[i] is None else d(r[i]) for r in rows])
        leads[col] = leads[col].astype("datetime64[us]")
    leads["opportunity_at"] = leads["quote_at"] = pd.Series([pd.NaT] * 6, dtype="datetime64[us]")
    leads["amount"] = [r[5] for r in rows]
    tables = {"leads": leads} | ({"accounts": t["accounts"]} if with_accounts else {})
    return write_tables(tables, tmp_path / "crm")


@pytest.mark.parametrize("with_accounts", [False, True])
def test_leads_without_an_account_count_everywhere(tmp_path, with_accounts):
    ds = pipeline.open_tables(crm_export(tmp_path, with_accounts))
    assert int(ds.leads.count().to_pandas()) == 6  # none set aside for a null account id
    res = pipeline.analyse(ds)
    assert res.figures["lead_win_rate"] == 2 / (2 + 3)  # won / (won + lost), by hand
    assert res.figures["unmatched_leads"] == 3
    assert "3 of 6 leads (50.0%) are not matched to an account" in res.notes[0]
    assert res.tables["wins_source"].closed.sum() == 5
    # no lead reached the opportunity stage: velocity says why instead of a table of zeros
    assert "opportunity_at is empty" in res.reason("velocity")
    stuck = res.tables["stuck"]
    assert stuck.account_id.tolist() == [1]  # lead 6, qualified, account 1
    owners = ds.leads.to_pandas().set_index("lead_id").owner
    assert stuck.owner.tolist() == [owners.loc[6]]  # the lead owner is shown
    if with_accounts:  # the company's name beside its id (business data, shown)
        names = ds.accounts.to_pandas().set_index("account_id").company_name
        assert stuck.company_name.tolist() == [names.loc[1]]
    else:
        assert "company_name" not in stuck
    if not with_accounts:
        assert not res.built("by_account")
        return
    assert res.built("by_account")
    size = res.tables["wins_size_band"].set_index("size_band")
    # accounts 1 (large): lead 1 won, lead 6 open; 2 (small): lead 4 lost; the rest unmatched
    assert size.loc[pipeline.UNMATCHED, ["won", "closed", "open"]].tolist() == [1, 3, 0]
    assert size.loc["large", ["won", "closed", "open"]].tolist() == [1, 1, 1]
    assert size.closed.sum() == 5 and size.open.sum() == 1  # no lead dropped by the join
    cycle = res.tables["cycle_size_band"].set_index("size_band")
    assert cycle.loc[pipeline.UNMATCHED, "median_days"] == pytest.approx(9)


def test_analyse_skips_what_the_leads_cannot_show(tmp_path):
    """A CRM export with only created and closed times and no open lead: no stage conversion,
    no open pipeline, each with its reason; the win rate still builds."""
    root = crm_export(tmp_path, False)
    leads = pd.read_parquet(root / "leads")
    leads = leads[leads.outcome != "open"].assign(qualified_at=pd.NaT)
    leads["qualified_at"] = leads.qualified_at.astype("datetime64[us]")
    leads.to_parquet(root / "leads" / "part-00000.parquet", index=False)
    res = pipeline.analyse(pipeline.open_tables(root))
    assert res.built_keys == ["wins"]
    assert "qualified_at, opportunity_at" in res.reason("stages")
    assert res.reason("open_pipeline") == "No lead is open: every lead is won or lost."
    assert res.figures["lead_win_rate"] == 2 / 5


def test_monthly_win_rate_and_the_three_win_rates_by_hand():
    """Three measures, three names (issue 25): the win rate of closed leads (won / won + lost),
    the win rate from lead (won / all leads) and of closed opportunities (won / closed leads
    that reached the opportunity stage)."""
    leads = hand_leads()  # closed on days 10 (won), 5 (lost), 8 (lost), 6 (won)
    leads.loc[leads.lead_id == 1, "closed_at"] = T + pd.Timedelta(days=40)
    m = pipeline.monthly_win_rate(leads, as_of=T + pd.Timedelta(days=45))
    first, second = T.to_period("M").start_time, (T + pd.Timedelta(days=40)).to_period("M")
    assert m.month.tolist()[0] == first
    assert m[["won", "closed"]].values.tolist() == [[1, 3], [1, 1]]  # lead 1 closes a month on
    assert m.win_rate.tolist() == pytest.approx([1 / 3, 1])
    # the second month ends after as_of: not complete, not in the series
    assert m.complete.tolist() == [True, second.end_time <= T + pd.Timedelta(days=45)]
    v = pipeline.pipeline_velocity(hand_leads()).set_index("source")
    assert "win_rate" not in v.columns  # the velocity's rate has its own name
    # referral opportunities 3, 5, 6: closed 5 (lost), 6 (won) -> 1/2; sem 1 won -> 1
    assert v.opportunity_win_rate.to_dict() == {"referral": 0.5, "sem": 1.0}
    st = pipeline.pipeline_stages(hand_leads())
    assert st.conversion_from_lead.iloc[-1] == pytest.approx(2 / 6)  # won / all leads
