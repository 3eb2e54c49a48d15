"""CLV helpers: the CDNOW summary computed in the engine, historical CLV by hand, acquisition
and cohorts on hand-made tables, and the planted BG/NBD and Gamma-Gamma truth recovered."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from tiny import tiny_tables, write_tables

from helpers import clv
from helpers.data import open_dataset
from helpers.data.generate import generate

TODAY = dt.date(2026, 11, 25)
MONTHLY_1PCT = 1.01**12 - 1  # an annual rate whose monthly rate is exactly 1 %


# ----------------------------------------------------------------------------- CDNOW


def _lifetimes_data() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifetimes = pytest.importorskip("lifetimes")
    return Path(lifetimes.__file__).parent / "datasets"


def test_summary_reproduces_the_published_cdnow_calibration_summary():
    data = _lifetimes_data()
    raw = pd.read_csv(
        data / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["customer", "id", "date", "quantity", "amount"],
    )
    raw["date"] = pd.to_datetime(raw.date.astype(str), format="%Y%m%d").dt.date
    s = clv.summary(
        ibis.memtable(raw),
        "1997-09-30",
        holdout_end="1998-06-30",
        time_unit="weeks",
        id_col="id",
        date_col="date",
        value_col="amount",
        combine_same_day=True,
    )
    published = pd.read_csv(data / "cdnow_customers_summary_with_transactions.csv")
    published = published.rename(columns={"T": "T_pub"})
    assert len(s) == len(published) == 2357
    m = s.merge(published, left_on="id", right_on="ID")
    assert (m.frequency == m.x).all()
    np.testing.assert_allclose(m.recency.round(2), m.t_x, atol=1e-9)
    np.testing.assert_allclose(m["T"].round(2), m.T_pub, atol=1e-9)
    np.testing.assert_allclose(m.monetary_value, m.zbar, atol=0.005 + 1e-9)  # printed to 2 dp
    assert s.duration_holdout.iloc[0] == pytest.approx(273 / 7)
    assert s.frequency_holdout.sum() > 0


# ----------------------------------------------------------------------------- hand-made


@pytest.fixture(scope="module")
def tiny_ds(tmp_path_factory):
    """Tiny data plus a second order by account 1 in May 2025: 2 x 100, cost 2 x 60."""
    t = tiny_tables()
    t["orders"].loc[2] = [
        3,
        1,
        pd.Timestamp("2025-05-10 09:00"),
        "WH-EAST",
        pd.Timestamp("2025-05-12"),
    ]
    t["order_lines"].loc[2] = [3, 1, "SKU-1", 2, 100.0, 60.0, 0.0]
    root = write_tables(t, tmp_path_factory.mktemp("clv"))
    return open_dataset(root, today=TODAY)


def test_historical_clv_by_hand(tiny_ds):
    h = clv.historical_clv(tiny_ds, MONTHLY_1PCT, "gross_margin").set_index("account_id")
    # account 1: March (t = 0) 3 x 100 x 0.9 - 3 x 60 = 90; May (t = 2) 200 - 120 = 80
    assert h.loc[1, "clv"] == pytest.approx(90 + 80 / 1.01**2)
    assert h.loc[1, "contribution"] == pytest.approx(170.0)
    # account 2: March 5 x 20 - 5 x 12 = 40, undiscounted
    assert h.loc[2, "clv"] == pytest.approx(40.0)
    c = clv.historical_clv(tiny_ds, MONTHLY_1PCT, "contribution").set_index("account_id")
    # minus the March tickets: 25 for account 1, 8 for account 2
    assert c.loc[1, "clv"] == pytest.approx(65 + 80 / 1.01**2)
    assert c.loc[2, "clv"] == pytest.approx(32.0)
    assert set(h.columns) >= {"segment", "industry", "channel", "months"}
    with pytest.raises(ValueError, match="margin_basis"):
        clv.historical_clv(tiny_ds, 0.1, "net")


def test_summary_by_hand(tiny_ds):
    s = clv.summary(
        clv.order_values(tiny_ds), "2025-04-30", holdout_end="2025-06-30", time_unit="days"
    ).set_index("account_id")
    assert s.loc[1, "frequency"] == 0 and s.loc[1, "T"] == 60  # 2025-03-01 .. 2025-04-30
    assert s.loc[1, "frequency_holdout"] == 1 and s.loc[1, "value_holdout"] == 200.0
    s = clv.summary(clv.order_values(tiny_ds), "2025-06-30", time_unit="weeks")
    s = s.set_index("account_id")
    assert s.loc[1, "frequency"] == 1 and s.loc[1, "recency"] == pytest.approx(70 / 7)
    assert s.loc[1, "monetary_value"] == 200.0
    with pytest.raises(ValueError, match="time_unit"):
        clv.summary(clv.order_values(tiny_ds), "2025-06-30", time_unit="months")
    with pytest.raises(ValueError, match="no purchases"):
        clv.summary(clv.order_values(tiny_ds), "2020-01-01")


def test_cac_and_return_by_hand():
    cac = pd.DataFrame(
        {
            "channel": ["sem", "sem", "organic"],
            "month": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-01-01"]),
            "spend": [300.0, 100.0, 0.0],
            "new_accounts": [2, 2, 1],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": [1, 2, 3, 4, 5],
            "channel": ["sem"] * 4 + ["organic"],
            "segment": ["small", "small", "large", "large", "small"],
            "ltv": [50.0, 150.0, 300.0, 300.0, 80.0],
            "monthly_contribution": [10.0, 10.0, 30.0, 30.0, 5.0],
        }
    )
    r = clv.acquisition_return(accounts, cac, "channel").set_index("channel")
    # sem: 400 spend / 4 accounts = CAC 100; mean LTV 200 -> 2:1; ROI (800 - 400) / 400 = 1
    assert r.loc["sem", "cac"] == pytest.approx(100.0)
    assert r.loc["sem", "ltv_cac"] == pytest.approx(2.0)
    assert r.loc["sem", "roi"] == pytest.approx(1.0)
    assert r.loc["sem", "payback_months"] == pytest.approx(100 / 20)
    assert r.loc["sem", "below_3"] and not r.loc["sem", "below_1"]
    assert np.isnan(r.loc["organic", "cac"])  # no spend: no CAC
    seg = clv.acquisition_return(accounts[accounts.channel == "sem"], cac, "segment")
    seg = seg.set_index("segment")
    assert seg.loc["small", "ltv_cac"] == pytest.approx(1.0)
    assert seg.loc["large", "ltv_cac"] == pytest.approx(3.0)


def test_cohorts_by_hand(tiny_ds):
    c = clv.cohorts(tiny_ds).set_index("age")
    # one March cohort of 2 accounts; month 2 (May): account 1 active, 200 more revenue
    assert c.loc[0, "size"] == 2 and c.loc[0, "retention"] == 1.0
    assert c.loc[2, "retention"] == 0.5
    assert c.loc[2, "cum_revenue_per_account"] == pytest.approx((270 + 100 + 200) / 2)


def test_cac_by_month_from_tables(tiny_ds):
    cac = clv.cac_by_month(tiny_ds)
    assert {"channel", "month", "spend", "new_accounts", "cac"} <= set(cac.columns)
    assert cac.new_accounts.sum() == 2


def test_monthly_rate():
    assert clv.monthly_rate(MONTHLY_1PCT) == pytest.approx(0.01)
    with pytest.raises(ValueError):
        clv.monthly_rate(-1.5)


# ----------------------------------------------------------------------------- planted truth


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("clv-gen")
    generate(root, scale=1.0, seed=11, progress=False)
    return open_dataset(root), json.loads((root / "truth.json").read_text())


def test_planted_purchase_process_and_order_values_recovered(generated):
    ds, truth = generated
    end = truth["end_date"]
    s = clv.summary(clv.order_values(ds), end, time_unit="weeks")
    fits = clv.fit_models(s)
    pp, ov = truth["purchase_process"], truth["order_value"]
    assert pp["time_unit"] == "weeks"
    for name in ("r", "alpha", "a", "b"):
        f = fits["bgnbd"]
        assert abs(f.params[name] - pp[name]) < 3.5 * f.stderr[name], (name, f.params, pp)
    for name in ("p", "q", "gamma"):
        f = fits["gamma_gamma"]
        assert abs(f.params[name] - ov[name]) < 3.5 * f.stderr[name], (name, f.params, ov)
    assert all(f.converged for f in fits.values())
    # the frequency-monetary independence the Gamma-Gamma model assumes holds as planted
    assert abs(clv.spend_independence(s)["correlation"]) < 0.1


def test_holdout_validation_on_generated_data(generated):
    ds, truth = generated
    end = pd.Timestamp(truth["end_date"])
    cal_end = end - pd.Timedelta(weeks=26)
    s = clv.summary(clv.order_values(ds), cal_end, holdout_end=end)
    fits = clv.fit_models(s)
    pred = clv.holdout_predictions(s, fits)
    err = clv.holdout_errors(pred)
    # the right model predicts holdout purchases in aggregate to within 10 %
    assert abs(err["bgnbd_total_error"]) < 0.10
    assert clv.choose_model(err) in ("bgnbd", "pareto_nbd")
    buckets = clv.holdout_by_frequency(pred)
    assert buckets.accounts.sum() == len(s)
    out = clv.predictive_clv(s, fits, "bgnbd", 0.3, 12, 0.1, n_draws=50)
    assert (out.p_alive.between(0, 1)).all() and (out.clv >= 0).all()
    assert (out.clv_low <= out.clv + 1e-9).all() and (out.clv <= out.clv_high + 1e-9).all()


def test_summary_agrees_on_duckdb_and_spark(small_sample, spark):
    duck = open_dataset(small_sample)
    sprk = open_dataset(small_sample, engine="spark", spark=spark)
    end = duck.period("orders")[1].normalize()
    cal = end - pd.Timedelta(weeks=13)
    a = clv.summary(clv.order_values(duck), cal, holdout_end=end)
    b = clv.summary(clv.order_values(sprk), cal, holdout_end=end)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9)
