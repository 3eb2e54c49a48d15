"""service.analyse(): on service tickets alone (accounts derived), on tickets and orders, on
lines without costs, and on the full small sample, section by section."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from helpers import service as sv

TICKET_SECTIONS = ["volumes", "times", "reopened", "trends"]
TICKET_FIGURES = {
    "tickets",
    "cost_per_ticket",
    "fr_past_rate",
    "res_past_rate",
    "reopened_rate",
    "unresolved",
    "ticket_backlog",
}
#: With orders: accounts ordering in the window and the last complete month's ticket rate.
ORDER_FIGURES = {"service_active_accounts", "tickets_per_100_orders"}
COST_FIGURES = {
    "served_accounts",
    "loss_making_accounts",
    "loss_making_share",
    "gross_margin",
    "serving_cost",
    "value_destroyed",
    "total_contribution",
    "peak_contribution",
    "peak_account_share",
    "min_order_value",
    "margin_recoverable",
}


def copy_tables(src, dst, names):
    for name in names:
        shutil.copytree(src / name, dst / name)
    return dst


def test_tickets_only(small_sample, tmp_path):
    ds = sv.open_tables(copy_tables(small_sample, tmp_path, sv.CORE))
    assert sorted(ds) == ["accounts", "service_tickets"]
    res = sv.analyse(ds)
    assert res.built_keys == TICKET_SECTIONS
    assert set(res.figures) == TICKET_FIGURES
    assert res.reason("ticket_rate") == (
        "This section needs the orders table (order_id, account_id, order_ts): "
        "see docs/bring-your-own-data.md."
    )
    assert "shipments table" in res.reason("cost_to_serve")
    assert res.facts["period_table"] == "service_tickets"
    assert "orders" not in res.tables["monthly"].columns
    assert res.facts["ticket_accounts"] == len(res.tables["activity"])
    assert "Gross margin" not in sv.definitions(res)


def test_tickets_and_orders_give_the_ticket_rate(small_sample, tmp_path):
    ds = sv.open_tables(copy_tables(small_sample, tmp_path, ["service_tickets", "orders"]))
    res = sv.analyse(ds)
    assert res.built_keys == ["volumes", "ticket_rate", *TICKET_SECTIONS[1:]]
    assert res.figures["service_active_accounts"] == int((res.tables["activity"].orders > 0).sum())
    size = res.tables["size"]
    assert size.orders.sum() > 0 and size.tickets.sum() == res.figures["tickets"]
    assert set(res.tables["volume_by"].breakdown) == set(sv.FIRMOGRAPHICS)


def test_lines_without_costs_skip_the_cost_sections(small_sample, tmp_path):
    root = copy_tables(small_sample, tmp_path, ["service_tickets", "orders", "shipments"])
    lines = pd.read_parquet(small_sample / "order_lines")
    lines.loc[lines.index[::10], "unit_cost"] = float("nan")  # an export with some costs
    (root / "order_lines").mkdir()
    lines.to_parquet(root / "order_lines" / "part-00000.parquet", index=False)
    res = sv.analyse(sv.open_tables(root))
    for key in sv.COST_SECTIONS:
        assert "order_lines.unit_cost" in res.reason(key)
    assert set(res.figures) == TICKET_FIGURES | ORDER_FIGURES


def test_full_small_sample(small_sample):
    res = sv.analyse(sv.open_tables(small_sample))
    assert res.summary()["built"] == [s.key for s in sv.SECTIONS]
    assert set(res.figures) == TICKET_FIGURES | COST_FIGURES | ORDER_FIGURES
    costs = res.tables["costs"]
    # the ticket-rate activity counts the same accounts, orders and tickets as cost to serve
    act = res.tables["activity"].set_index("account_id")
    pd.testing.assert_frame_equal(
        act[["orders", "tickets"]], costs.set_index("account_id")[["orders", "tickets"]]
    )
    assert res.figures["served_accounts"] == len(costs)
    assert res.figures["service_active_accounts"] == int((costs.orders > 0).sum())
    assert (res.tables["losers"].drivers != "").all()


def test_missing_self_service_channel_drops_only_that_lever(small_sample):
    res = sv.analyse(sv.open_tables(small_sample), self_service_channel="kiosk")
    assert res.built("recommendations")
    assert "self-service" not in " ".join(res.tables["recs"].action)
    assert any("'kiosk'" in n for n in res.notes)


@pytest.mark.parametrize("channel", [None, "portal"])
def test_recommendations_without_the_ticket_lever(small_sample, channel):
    ds = sv.open_tables(small_sample)
    drivers = sv.loss_drivers(sv.account_costs(ds))
    recs, per = sv.recommendations(ds, drivers, 1000, self_service_channel=channel)
    has = recs.driver.eq("many tickets").any()
    assert has == (channel is not None)
    if channel is None:
        assert (per["tickets"] == 0).all()
