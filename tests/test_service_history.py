"""Service history and lists: the weekly ticket backlog against a brute-force count, the
published series (complete periods only, registry keys), the loss-making accounts' list."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import metrics
from helpers import service as sv
from helpers.data.schema import PII_COLUMNS


@pytest.fixture(scope="module")
def sample(small_sample):
    return sv.open_tables(small_sample)


@pytest.fixture(scope="module")
def res(sample):
    return sv.analyse(sample)


def test_backlog_matches_a_brute_force_count(sample):
    b = sv.weekly_backlog(sample)
    t = sample.service_tickets.to_pandas()
    for row in b.sample(n=min(12, len(b)), random_state=1).itertuples():
        week_end = row.week + pd.Timedelta(days=7)  # Sunday 24:00
        still_open = (t.opened_at < week_end) & (t.resolved_at.isna() | (t.resolved_at >= week_end))
        assert row.backlog == int(still_open.sum()), row.iso_week
    assert b.week.is_monotonic_increasing and (b.week.dt.day_of_week == 0).all()


def test_backlog_complete_weeks_only(sample):
    as_of = sv.data_as_of(sample)
    b = sv.weekly_backlog(sample, end="2025-12-31", as_of=as_of)
    done = b[b.complete]
    assert done.iso_week.iloc[-1] == "2025-W52"  # 22-28 December; the next runs into 2026
    assert (done.week + pd.Timedelta(days=6) <= pd.Timestamp("2025-12-31")).all()
    first = pd.Timestamp(sample.service_tickets.opened_at.min().to_pandas()).normalize()
    assert (done.week >= first).all()  # a week starting before the first ticket is partial


def test_series_and_figures(res):
    series = res.facts["series"]
    assert set(series) == {"ticket_backlog", "tickets_per_100_orders"}
    assert series["ticket_backlog"]["freq"] == "week"
    assert series["tickets_per_100_orders"]["freq"] == "month"
    monthly = res.tables["monthly"].set_index(res.tables["monthly"].month.dt.strftime("%Y-%m"))
    for key, one in series.items():
        assert key in metrics.METRICS and "service" in metrics.METRICS[key].reports
        periods = list(one["values"])
        assert periods == sorted(periods)
        assert one["values"][periods[-1]] == pytest.approx(res.figures[key])
    months = series["tickets_per_100_orders"]["values"]
    for month, value in months.items():
        m = monthly.loc[month]
        assert value == pytest.approx(100 * m.tickets / m.orders)
    last = pd.Timestamp(res.facts["as_of"]).normalize()
    assert pd.Timestamp(f"{list(months)[-1]}-01") + pd.offsets.MonthEnd(0) <= last
    assert metrics.unknown_keys("service", res.figures) == []


def test_served_accounts_is_its_own_key(res):
    assert "accounts" not in res.figures
    served, ordering = res.figures["served_accounts"], res.figures["service_active_accounts"]
    assert ordering <= served == len(res.tables["costs"])
    labels = {metrics.label(k) for k in ("served_accounts", "service_active_accounts")}
    assert metrics.label("last_month_active_accounts") not in labels
    assert all("window" in label for label in labels)


def test_loss_making_list(res, sample):
    lst = res.tables["loss_list"]
    assert len(lst) == res.figures["loss_making_accounts"]
    assert lst.contribution.is_monotonic_increasing and (lst.contribution < 0).all()
    names = sample.accounts.to_pandas().set_index("account_id").company_name
    assert lst.company_name.tolist() == names.loc[lst.account_id].tolist()
    assert (lst.drivers != "").all()
    pii = {c for cols in PII_COLUMNS.values() for c in cols}
    assert not pii & set(lst.columns)


def test_loss_making_list_shows_the_account_manager_when_the_data_has_one(res, sample):
    import ibis

    acc = sample.accounts.to_pandas()
    acc["account_manager"] = "am-" + (acc.account_id % 3).astype(str)
    with_manager = type("DS", (), {"accounts": ibis.memtable(acc)})()
    lst = sv.loss_making_list(with_manager, res.tables["losers"])
    assert list(lst.columns[:3]) == ["account_id", "company_name", "account_manager"]
    assert (lst.account_manager == "am-" + (lst.account_id % 3).astype(str)).all()
