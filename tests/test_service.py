"""Service and cost-to-serve helpers: hand-made accounts worked out by hand, the planted costly
accounts on generated data, and the same aggregations on DuckDB and Spark."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from tiny import tiny_tables, write_tables

from helpers import service as sv
from helpers.data import open_dataset
from helpers.data.generate import generate

TODAY = dt.date(2026, 11, 25)
T = pd.Timestamp


def _add(df: pd.DataFrame, row: list) -> None:
    df.loc[len(df)] = row


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    """Five accounts (see each test for the hand calculation).

    1 large/manufacturing: order 1 (3 x 100, cost 60, discount 10 %), shipment 12, one unit
      returned (refund 90), phone ticket 25.
    2 small/retail: order 2 (5 x 20, cost 12), shipment 8, email ticket 8 (unresolved,
      reopened), portal ticket 4.
    3 large/services: order 3 (10 x 100, cost 60), shipment 20, no ticket.
    4 micro/retail: order 4 in December 2024 only (1 x 20, cost 12, shipment 5), phone ticket 30
      in March 2025: no order in a period starting 2025-01-01.
    5 small/agriculture: orders 5 and 6 (10 x 10 each, cost 12: negative margin), shipments 6.
    """
    t = tiny_tables()
    acc = t["accounts"]
    for row in (
        [3, "Gamma Services Ltd", "services", "north", "large", T("2024-11-01").date(), "sem"],
        [4, "Delta Retail Ltd", "retail", "south", "micro", T("2024-11-01").date(), "organic"],
        [5, "Epsilon Farms Ltd", "agriculture", "west", "small", T("2024-11-01").date(), "sem"],
    ):
        _add(acc, row)
    for oid, aid, ts in (
        (3, 3, T("2025-03-03 10:00")),
        (4, 4, T("2024-12-01 10:00")),
        (5, 5, T("2025-03-04 10:00")),
        (6, 5, T("2025-03-10 10:00")),
    ):
        _add(t["orders"], [oid, aid, ts, "WH-EAST", ts + pd.Timedelta(days=3)])
    _add(t["order_lines"], [3, 1, "SKU-1", 10, 100.0, 60.0, 0.0])
    _add(t["order_lines"], [4, 1, "SKU-2", 1, 20.0, 12.0, 0.0])
    _add(t["order_lines"], [5, 1, "SKU-2", 10, 10.0, 12.0, 0.0])
    _add(t["order_lines"], [6, 1, "SKU-2", 10, 10.0, 12.0, 0.0])
    for sid, oid, ts, qty, cost in (
        (3, 3, T("2025-03-03 15:00"), 10, 20.0),
        (4, 4, T("2024-12-01 15:00"), 1, 5.0),
        (5, 5, T("2025-03-04 15:00"), 10, 6.0),
        (6, 6, T("2025-03-10 15:00"), 10, 6.0),
    ):
        _add(t["shipments"], [sid, oid, "SF", ts, ts + pd.Timedelta(days=1), qty, cost])
    tk = t["service_tickets"]
    opened3, opened4 = T("2025-03-05 10:00"), T("2025-03-03 10:00")
    _add(tk, [3, 4, opened3, opened3 + pd.Timedelta(hours=6), opened3 + pd.Timedelta(hours=10),
              "phone", "delivery", False, 30.0])  # fmt: skip
    _add(tk, [4, 2, opened4, opened4 + pd.Timedelta(hours=1), opened4 + pd.Timedelta(hours=5),
              "portal", "account", False, 4.0])  # fmt: skip
    tk.loc[0, "resolved_at"] = T("2025-03-04 10:00")  # ticket 1 resolved after 72 h
    tk.loc[0, "cost"] = 25.0
    root = write_tables(t, tmp_path_factory.mktemp("service"))
    return open_dataset(root, today=TODAY)


@pytest.fixture(scope="module")
def costs(ds):
    return sv.account_costs(ds, start="2025-01-01").set_index("account_id")


def test_account_costs_by_hand(costs):
    a = costs.loc[1]  # list 300, discount 30, revenue 270, cogs 180
    assert (a.list_revenue, a.discounts, a.revenue) == pytest.approx((300, 30, 270))
    assert (a.list_margin, a.gross_margin) == pytest.approx((120, 90))
    assert (a.delivery_cost, a.returns_cost, a.ticket_cost) == pytest.approx((12, 90, 25))
    # contribution = 90 - 12 - 90 - 25; discounts are not subtracted twice
    assert a.contribution == pytest.approx(-37) and a.loss_making
    assert a.cost_to_serve == pytest.approx(30 + 12 + 90 + 25)
    assert a.list_margin - a.cost_to_serve == pytest.approx(a.contribution)
    assert costs.loc[2].contribution == pytest.approx(40 - 8 - 12)
    assert costs.loc[2].tickets == 2
    no_ticket = costs.loc[3]  # 400 - 20, no ticket
    assert no_ticket.tickets == 0 and no_ticket.ticket_cost == 0
    assert no_ticket.contribution == pytest.approx(380)
    no_order = costs.loc[4]  # its only order is before the period: the ticket is all there is
    assert no_order.orders == 0 and np.isnan(no_order.aov)
    assert no_order.contribution == pytest.approx(-30)
    negative = costs.loc[5]  # 200 revenue, 240 cogs, 12 delivery
    assert negative.gross_margin == pytest.approx(-40)
    assert negative.contribution == pytest.approx(-52)
    assert sorted(sv.costly_accounts(costs.reset_index()).account_id) == [1, 4, 5]


def test_whole_history_and_return_recovery(ds):
    c = sv.account_costs(ds).set_index("account_id")
    assert c.loc[4].orders == 1 and c.loc[4].contribution == pytest.approx(8 - 5 - 30)
    # the returned unit goes back to stock at its cost (60): returns cost 90 - 60
    r = sv.account_costs(ds, start="2025-01-01", return_recovery=1.0).set_index("account_id")
    assert r.loc[1].returns_cost == pytest.approx(30) and r.loc[1].contribution == pytest.approx(23)


def test_bad_parameters(ds):
    with pytest.raises(ValueError, match="return_recovery"):
        sv.account_costs(ds, return_recovery=1.5)
    with pytest.raises(ValueError, match="no orders and no service tickets"):
        sv.account_costs(ds, start="2026-01-01")
    with pytest.raises(ValueError, match="before 'start'"):
        sv.account_costs(ds, start="2025-03-01", end="2025-02-01")
    with pytest.raises(ValueError, match="first_response_target_hours"):
        sv.service_levels(ds, first_response_target_hours=0)
    with pytest.raises(ValueError, match="cannot break down by 'segment'"):
        sv.by_group(sv.account_costs(ds), "segment")


def test_whale_curve_by_hand(costs):
    w = sv.whale_curve(costs.reset_index())
    # sorted: 3 (380), 2 (20), 4 (-30), 1 (-37), 5 (-52)
    assert w.account_id.tolist() == [3, 2, 4, 1, 5]
    assert w.cumulative_contribution.tolist() == pytest.approx([380, 400, 370, 333, 281])
    s = sv.whale_summary(w)
    assert s["peak_contribution"] == pytest.approx(400) and s["peak_rank"] == 2
    assert s["peak_account_share"] == pytest.approx(0.4)
    assert s["total_contribution"] == pytest.approx(281)
    assert s["peak_share_of_total"] == pytest.approx(400 / 281)
    assert s["destroying_accounts"] == 3 and s["value_destroyed"] == pytest.approx(-119)


def test_whale_curve_when_every_account_loses():
    c = pd.DataFrame({"account_id": [1, 2], "contribution": [-5.0, -1.0]})
    s = sv.whale_summary(sv.whale_curve(c))
    assert s["peak_rank"] == 0 and s["peak_contribution"] == 0
    assert np.isnan(s["peak_share_of_total"]) and s["destroying_accounts"] == 2


def test_loss_drivers_by_hand(costs):
    d = sv.loss_drivers(costs.reset_index()).set_index("account_id")
    # benchmarks from accounts 2 and 3: revenue 1100, delivery 28, tickets 12, list margin 40 %
    a = d.loc[1]
    assert a.excess_tickets == pytest.approx(25 - 12 / 1100 * 270)
    assert a.excess_returns == pytest.approx(90) and a.excess_discounts == pytest.approx(30)
    assert a.main_driver == "returns" and a.drivers == "many returns, deep discounts"
    assert d.loc[4].main_driver == "tickets"
    assert d.loc[5].excess_low_margin == pytest.approx(0.4 * 200 + 40)
    assert d.loc[5].excess_small_orders == pytest.approx(12 - 28 / 1100 * 200)
    assert d.loc[5].main_driver == "low_margin"


def test_group_breakdown_and_ticket_rate(costs):
    g = sv.by_group(costs.reset_index(), "size_band").set_index("size_band")
    assert g.loc["large", "tickets_per_100_orders"] == pytest.approx(50)  # 1 ticket, 2 orders
    assert g.loc["small", "tickets_per_100_orders"] == pytest.approx(200 / 3)
    assert np.isnan(g.loc["micro", "tickets_per_100_orders"])  # no order in the period
    assert g.loc["small", "loss_making"] == 1 and g.loc["small", "loss_share"] == 0.5
    assert g.loc["small", "per_100_ci_low"] < 200 / 3 < g.loc["small", "per_100_ci_high"]
    assert g.contribution.sum() == pytest.approx(281)


def test_service_levels_by_hand(ds):
    s = sv.service_levels(ds, 4, 48, by=None).iloc[0]
    # first response 2, 2, 6, 1 h; resolution 72 h, open (82 h old at the data's end), 10, 5 h
    assert s.tickets == 4 and s.unresolved == 1 and s.reopened == 1
    assert s.fr_median_h == pytest.approx(2) and s.res_median_h == pytest.approx(10)
    assert (s.fr_past_target, s.fr_eligible) == (1, 4)
    assert (s.res_past_target, s.res_eligible) == (2, 4)
    assert s.res_past_rate_low < 0.5 < s.res_past_rate_high
    by = sv.service_levels(ds, 4, 48).set_index("channel")
    assert by.loc["phone", "tickets"] == 2 and by.loc["phone", "cost_per_ticket"] == 27.5
    late = sv.service_levels(ds, 4, 100, by=None).iloc[0]  # the open ticket is not yet late
    assert (late.res_past_target, late.res_eligible) == (0, 3)


def test_monthly_service_and_time_distribution(ds):
    m = sv.monthly_service(ds, 4, 48)
    assert m.tickets.tolist() == [4] and m.orders.tolist() == [5]
    assert m.tickets_per_100_orders.iloc[0] == pytest.approx(80)
    h = sv.time_distribution(ds, "first_response", bins_per_decade=4)
    phone = h[h.channel == "phone"]
    assert phone["bin"].tolist() == [1, 3] and phone.share.tolist() == [0.5, 0.5]
    assert h.tickets.sum() == 4
    with pytest.raises(ValueError, match="measure"):
        sv.time_distribution(ds, "lunch")


def test_recommendations_by_hand(ds, costs):
    # orders below 250: 2 (8 for 5 units) and 5, 6 (6 for 10 units): the fitted intercept (10)
    # is capped at their mean cost
    assert sv.fixed_delivery_cost(ds, 250, start="2025-01-01") == pytest.approx(20 / 3)
    cons = sv.consolidation_savings(ds, [5], 250, start="2025-01-01", saving_per_order=6.0)
    assert cons.orders_saved.tolist() == [1] and cons.margin_recovered.tolist() == [6.0]
    drivers = sv.loss_drivers(costs.reset_index())
    rec, per_acc = sv.recommendations(ds, drivers, 250, 0.5, 0.15, start="2025-01-01")
    rec = rec.set_index("driver")
    # self-service: portal costs 4; half of tickets 25 (account 1) and 30 (account 4)
    tickets = rec.loc["many tickets"]
    assert tickets.accounts == 2 and tickets.margin_recovered == pytest.approx(0.5 * (21 + 26))
    assert rec.loc["many returns", "margin_recovered"] == pytest.approx(0.15 * 90)
    assert rec.loc["low list margin", "accounts_turned_positive"] == 1  # account 5: -52 + 120
    assert rec.loc["small orders (delivery cost)", "margin_recovered"] == pytest.approx(20 / 3)
    assert rec.loc["all drivers", "margin_recovered"] == pytest.approx(per_acc.total.sum())
    with pytest.raises(ValueError, match="no 'kiosk' tickets"):
        sv.self_service_savings(ds, [1], self_service_channel="kiosk")


def test_no_loss_making_account_gives_empty_drivers_and_recommendations(costs):
    fine = costs.reset_index()
    fine = fine[~fine.loss_making]
    drivers = sv.loss_drivers(fine)
    assert drivers.empty and "main_driver" in drivers.columns
    rec, per_acc = sv.recommendations(None, drivers, 250)  # nothing to price: no query runs
    assert rec.empty and per_acc.empty
    with pytest.raises(ValueError, match="no value-creating account"):
        sv.loss_drivers(costs.reset_index().query("loss_making"))


# ----------------------------------------------------------------------------- planted truth


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("service-gen")
    generate(root, scale=0.3, seed=11, progress=False)
    return open_dataset(root), json.loads((root / "truth.json").read_text())


def test_finds_the_planted_costly_accounts(generated):
    ds, truth = generated
    costs = sv.account_costs(ds)
    found = set(costs.account_id[costs.loss_making])
    planted = set(truth["cost_to_serve"]["account_ids"])
    precision = len(found & planted) / len(found)
    recall = len(found & planted) / len(planted)
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)
    # the generator's own contribution rule (returned goods written off) is ours, exactly
    assert found == set(truth["cost_to_serve"]["negative_contribution_ids"])
    # the planted accounts lose money through returns and tickets
    drivers = sv.loss_drivers(costs)
    assert drivers[drivers.account_id.isin(planted)].main_driver.isin(["returns", "tickets"]).all()


def test_planted_service_times(generated):
    ds, truth = generated
    levels = sv.service_levels(ds, by="channel").set_index("channel")
    medians = truth["service"]["first_response_hours_median"]
    for channel, hours in medians.items():
        assert levels.loc[channel, "fr_median_h"] == pytest.approx(hours, rel=0.25)
    cost = truth["service"]["channel_cost"]
    assert levels.loc["phone", "cost_per_ticket"] > levels.loc["portal", "cost_per_ticket"]
    assert set(cost) == set(levels.index)


# ----------------------------------------------------------------------------- spark


def test_duckdb_and_spark_agree(ds, spark):
    """The hand-made accounts on Spark give the DuckDB results (quantiles within tolerance:
    DuckDB interpolates, Spark's percentile_approx returns an observed value)."""
    needed = ["accounts", "orders", "order_lines", "shipments", "returns", "service_tickets"]
    sp = open_dataset(ds.path, engine="spark", spark=spark, today=TODAY, tables=needed)
    a, b = sv.account_costs(ds, start="2025-01-01"), sv.account_costs(sp, start="2025-01-01")
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9)
    as_of = sv.data_as_of(ds)
    assert sv.data_as_of(sp) == as_of
    la = sv.service_levels(ds, as_of=as_of)
    lb = sv.service_levels(sp, as_of=as_of)
    counts = ["channel", "tickets", "resolved", "unresolved", "reopened", "fr_past_target",
              "fr_eligible", "res_past_target", "res_eligible"]  # fmt: skip
    pd.testing.assert_frame_equal(la[counts], lb[counts], check_dtype=False)
    assert la.ticket_cost.tolist() == pytest.approx(lb.ticket_cost.tolist())
    assert la.fr_median_h.tolist() == pytest.approx(lb.fr_median_h.tolist(), rel=0.5)
    ha = sv.time_distribution(ds, "resolution")
    hb = sv.time_distribution(sp, "resolution")
    pd.testing.assert_frame_equal(ha, hb, check_dtype=False)
    assert sv.fixed_delivery_cost(sp, 250, "2025-01-01") == pytest.approx(20 / 3)
