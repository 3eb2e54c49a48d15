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
from helpers.data import measures, open_dataset, tables
from helpers.data.generate import generate
from helpers.models import btyd

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


def test_recent_margin_by_hand(tiny_ds):
    """Account 1: margin 90 in March, 80 in May; account 2: 40 in March (both first order in
    March): the newcomers' part is what a forecast of the accounts to date cannot have."""
    two = clv.recent_margin(tiny_ds, "gross_margin", "2025-05-31", months=2)  # April, May
    assert two["margin"] == pytest.approx(80.0) and two["new_accounts_margin"] == 0.0
    assert two["new_accounts"] == 0 and (two["first_month"], two["last_month"]) == (
        "2025-04",
        "2025-05",
    )
    three = clv.recent_margin(tiny_ds, "gross_margin", "2025-05-31", months=3)  # March to May
    assert three["margin"] == pytest.approx(210.0)
    assert three["new_accounts_margin"] == pytest.approx(210.0) and three["new_accounts"] == 2


def test_at_risk_list_names_company_owner_and_contacts(tiny_ds):
    risk = pd.DataFrame(
        {
            "account_id": [2, 1],
            "size_band": ["small", "large"],
            "industry": ["retail", "manufacturing"],
            "channel": ["email", "sem"],
            "value": [40.0, 168.4],
            "predicted_clv": [1.0, 2.0],
            "p_alive": [0.2, 0.3],
        }
    )
    summary = pd.DataFrame({"account_id": [1, 2], "T": [12.0, 13.0], "recency": [10.0, 0.0]})
    out = clv.at_risk_list(tiny_ds, risk, summary, {"time_unit": "weeks"})
    assert out.account_id.tolist() == [1, 2]  # highest historical value first
    assert out.columns.tolist() == [
        *clv.AT_RISK_COLUMNS,
        "contacts_with_consent",
        "name",
        "email",
        "phone",
    ]
    one, two = out.iloc[0], out.iloc[1]
    assert one.company_name == "华东精密机械有限公司" and one.lead_owner == "rep-1"
    assert one.historical_clv == 168.4 and one.days_since_last_purchase == 14  # 2 weeks
    assert two.days_since_last_purchase == 91 and two.lead_owner == "rep-2"
    # contact 1 consented to e-mail only, contact 2 to SMS only (and has no phone)
    assert one.email == "zw@example.cn" and pd.isna(one.phone)
    assert pd.isna(two.email) and pd.isna(two.phone) and two["name"] == "Jane Roe"


def test_summary_by_hand(tiny_ds):
    s = clv.summary(
        measures.order_values(tiny_ds), "2025-04-30", holdout_end="2025-06-30", time_unit="days"
    ).set_index("account_id")
    assert s.loc[1, "frequency"] == 0 and s.loc[1, "T"] == 60  # 2025-03-01 .. 2025-04-30
    assert s.loc[1, "frequency_holdout"] == 1 and s.loc[1, "value_holdout"] == 200.0
    s = clv.summary(measures.order_values(tiny_ds), "2025-06-30", time_unit="weeks")
    s = s.set_index("account_id")
    assert s.loc[1, "frequency"] == 1 and s.loc[1, "recency"] == pytest.approx(70 / 7)
    assert s.loc[1, "monetary_value"] == 200.0
    with pytest.raises(ValueError, match="time_unit"):
        clv.summary(measures.order_values(tiny_ds), "2025-06-30", time_unit="months")
    with pytest.raises(ValueError, match="no purchases"):
        clv.summary(measures.order_values(tiny_ds), "2020-01-01")


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
            "size_band": ["small", "small", "large", "large", "small"],
            "ltv_with_forecast": [50.0, 150.0, 300.0, 300.0, 80.0],
            "monthly_contribution": [10.0, 10.0, 30.0, 30.0, 5.0],
        }
    )
    r = clv.acquisition_return(accounts, cac, "channel").set_index("channel")
    # sem: 400 spend / 4 accounts = CAC 100; mean LTV 200 -> 2:1; ROI (800 - 400) / 400 = 1
    assert r.loc["sem", "cac"] == pytest.approx(100.0)
    assert r.loc["sem", "ltv_with_forecast"] == pytest.approx(200.0)
    assert r.loc["sem", "ltv_cac_with_forecast"] == pytest.approx(2.0)
    assert r.loc["sem", "roi_on_discounted_ltv"] == pytest.approx(1.0)
    assert r.loc["sem", "payback_months"] == pytest.approx(100 / 20)
    assert r.loc["sem", "below_3"] and not r.loc["sem", "below_1"]
    assert np.isnan(r.loc["organic", "cac"])  # no spend: no CAC
    band = clv.acquisition_return(accounts[accounts.channel == "sem"], cac, "size_band")
    band = band.set_index("size_band")
    assert band.loc["small", "ltv_cac_with_forecast"] == pytest.approx(1.0)
    assert band.loc["large", "ltv_cac_with_forecast"] == pytest.approx(3.0)


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


def test_holdout_spend_by_frequency_by_hand():
    pred = pd.DataFrame(
        {
            "frequency": [0, 0, 1, 9, 12],
            "frequency_holdout": [0, 1, 2, 3, 5],
            "value_holdout": [0.0, 50.0, 120.0, 300.0, 500.0],
            "pred_bgnbd": [0.2, 0.2, 1.0, 4.0, 6.0],
            "pred_value_bgnbd": [10.0, 20.0, 100.0, 400.0, 600.0],
        }
    )
    spend = clv.holdout_spend_by_frequency(pred).set_index("label")
    assert list(spend.index) == ["0", "1", "7+"]  # 9 and 12 repeat purchases: the 7+ bucket
    assert list(spend.accounts) == [2, 1, 2]
    assert spend.loc["0", "actual"] == pytest.approx(25.0)  # (0 + 50) / 2
    assert spend.loc["0", "bgnbd"] == pytest.approx(15.0)  # (10 + 20) / 2
    assert spend.loc["7+", "actual"] == pytest.approx(400.0)
    assert spend.loc["7+", "bgnbd"] == pytest.approx(500.0)
    assert "pareto_nbd" not in spend  # a model that did not fit has no column
    counts = clv.holdout_by_frequency(pred).set_index("label")
    assert counts.loc["7+", "actual"] == pytest.approx(4.0)
    assert counts.loc["7+", "bgnbd"] == pytest.approx(5.0)
    err = clv.holdout_errors(pred)
    # spend: Σ predicted 1130 vs Σ actual 970; MAE (10 + 30 + 20 + 100 + 100) / 5 = 52
    assert err["bgnbd_spend_error"] == pytest.approx(1130 / 970 - 1)
    assert err["bgnbd_spend_mae"] == pytest.approx(52.0)
    assert "pareto_nbd_mae" not in err
    assert clv.choose_model(err) == "bgnbd"
    assert clv.choose_model(err, fits={"pareto_nbd": None}) is None  # not fitted on all data
    table = clv.error_table(err)
    assert list(table.model) == ["BG/NBD"]
    assert table["total spend error"].iloc[0] == pytest.approx(1130 / 970 - 1)


def test_holdout_errors_without_holdout_purchases_are_nan_not_a_warning():
    pred = pd.DataFrame(
        {"frequency": [0, 1], "frequency_holdout": [0, 0], "value_holdout": [0.0, 0.0]}
    ).assign(pred_bgnbd=[0.1, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = clv.holdout_errors(pred)
    assert np.isnan(err["bgnbd_total_error"])


def _fit_result(model: str, params: dict, **checks) -> btyd.FitResult:
    k = len(params)
    return btyd.FitResult(
        model=model,
        params=params,
        stderr={p: 0.1 * v for p, v in params.items()},
        loglik=-100.0,
        converged=True,
        grad_norm=checks.get("grad_norm", 1e-9),
        n=50,
        iterations=10,
        message="ok",
        log_cov=np.eye(k) * 0.01,
        hessian_pd=True,
        min_eigenvalue=checks.get("min_eigenvalue", 0.02),
        newton_step=checks.get("newton_step", 1e-6),
    )


FITS = {
    "bgnbd": _fit_result("bgnbd", {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}),
    "pareto_nbd": _fit_result(
        "pareto_nbd", {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}, newton_step=2e-5
    ),
    "gamma_gamma": _fit_result(
        "gamma_gamma", {"p": 6.25, "q": 3.74, "gamma": 15.4}, min_eigenvalue=0.005
    ),
}


def test_published_figures_carry_parameters_errors_checks_and_the_model_chosen():
    errors = {"bgnbd_mae": 1.2, "pareto_nbd_mae": 1.1, "actual_purchases": 40.0}
    fig = clv.published_figures(FITS, errors, "pareto_nbd")
    check_keys = {"grad_norm", "hessian_pd", "min_eigenvalue", "newton_step", "converged"}
    for model, names in (
        ("bgnbd", ["r", "alpha", "a", "b"]),
        ("pareto_nbd", ["r", "alpha", "s", "beta"]),
        ("gamma_gamma", ["p", "q", "gamma"]),
    ):
        group = fig[model]
        suffixes = ("", "_se", "_ci_low", "_ci_high")
        assert {p + x for p in names for x in suffixes} | check_keys | {"loglik"} == set(group)
        for p in names:
            assert group[p] == FITS[model].params[p]
            assert group[f"{p}_se"] == FITS[model].stderr[p]
            assert group[f"{p}_ci_low"] < group[p] < group[f"{p}_ci_high"]
        assert group["hessian_pd"] is True and group["converged"] is True
    assert fig["pareto_nbd"]["newton_step"] == 2e-5
    assert fig["holdout"] == errors
    assert fig["model_chosen"] == "pareto_nbd"
    assert fig["checks_passed"] is True and "fit_failures" not in fig
    # every value is one the report JSON can carry (one level of grouping, scalars)
    from helpers.reports import report_payload

    assert json.dumps(report_payload(fig))
    failed = clv.published_figures(
        {"bgnbd": FITS["bgnbd"]}, {}, None, {"gamma_gamma": "too few repeat buyers"}
    )
    assert failed["model_chosen"] == "none" and failed["checks_passed"] is False
    assert failed["fit_failures"] == {"gamma_gamma": "too few repeat buyers"}


def test_fit_table_checks_and_their_narrative():
    table = clv.fit_table(FITS)
    assert len(table) == 11 and (table.ci_low < table.estimate).all()
    assert (table.estimate < table.ci_high).all()
    ci = FITS["bgnbd"].interval(0.95)["r"]
    row = table[(table.model == "BG/NBD") & (table.parameter == "r")].iloc[0]
    assert (row.ci_low, row.ci_high) == pytest.approx(ci)
    checks = clv.fit_checks(FITS)
    assert list(checks.model) == ["BG/NBD", "Pareto/NBD", "Gamma-Gamma"]
    assert checks.hessian_pd.all() and checks.min_eigenvalue.min() == 0.005
    text = clv.checks_narrative(FITS)
    assert text.startswith("All three fits passed their checks: gradient norm at most 1.0e-09")
    assert "smallest eigenvalue at least 0.005" in text and "at most 2e-05 standard" in text
    text = clv.checks_narrative({"bgnbd": FITS["bgnbd"]}, {"gamma_gamma": "q ran to its edge."})
    assert text.startswith("The BG/NBD fit passed its checks")
    assert text.endswith("Gamma-Gamma could not be fitted: q ran to its edge.")


def test_fit_each_reports_a_failed_fit_instead_of_raising():
    rng = np.random.default_rng(0)
    x, tx = btyd.simulate_bgnbd({"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}, np.full(500, 40.0))
    s = pd.DataFrame({"frequency": x, "recency": tx, "T": 40.0})
    s["monetary_value"] = np.where(x > 0, 25.0, 0.0)  # every spend the same: no Gamma-Gamma
    s["monetary_value"] += np.where(x > 0, rng.normal(0, 1e-9, len(s)), 0.0)
    fits, failed = clv.fit_each(s)
    assert {"bgnbd", "pareto_nbd"} <= set(fits)
    assert set(failed) == {"gamma_gamma"} and "fit_gamma_gamma" in failed["gamma_gamma"]


# ----------------------------------------------------------------------------- optional tables


def test_an_import_without_spend_or_tickets_opens_without_guests(tmp_path):
    t = tiny_tables()
    guest = t["accounts"].iloc[[0]].assign(account_id=-1, acquisition_channel="guest")
    t["accounts"] = pd.concat([t["accounts"], guest], ignore_index=True)
    t["orders"].loc[2] = [
        3,
        -1,
        pd.Timestamp("2025-03-20 10:00"),
        "WH-EAST",
        pd.Timestamp("2025-03-22"),
    ]
    t["order_lines"].loc[2] = [3, 1, "SKU-1", 1, 100.0, 60.0, 0.0]
    for table in ("marketing_spend", "service_tickets"):
        t.pop(table, None)
    root = write_tables(t, tmp_path)
    ds = clv.open_tables(root, today=TODAY)
    missing = tables.missing_optional(ds, clv.OPTIONAL_TABLES)
    assert set(missing) == {"marketing_spend", "service_tickets"}
    customers, guests = tables.customers_only(ds)
    assert guests == 1
    assert customers.accounts.count().to_pandas() == ds.accounts.count().to_pandas() - 1
    assert -1 not in set(measures.order_values(customers).to_pandas().account_id)
    assert clv.usable_margin_basis(customers, "contribution") == "gross_margin"
    assert clv.usable_margin_basis(customers, "gross_margin") == "gross_margin"
    hist = clv.historical_clv(customers, 0.1, "gross_margin")
    assert -1 not in set(hist.account_id)
    values = clv.account_values(hist, None, "2025-06-30")
    assert (values.predicted_clv == 0).all() and values.p_alive.isna().all()


def test_reports_yml_requires_only_what_clv_cannot_do_without():
    import yaml

    from helpers.config import PROJ_ROOT

    spec = next(
        r
        for r in yaml.safe_load((PROJ_ROOT / "reports.yml").read_text())["reports"]
        if r["name"] == "clv"
    )
    assert tuple(spec["requires"]) == clv.REQUIRED_TABLES


# ----------------------------------------------------------------------------- planted truth


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("clv-gen")
    generate(root, scale=1.0, seed=11, progress=False)
    return open_dataset(root), json.loads((root / "truth.json").read_text())


def test_planted_purchase_process_and_order_values_recovered(generated):
    ds, truth = generated
    end = truth["end_date"]
    s = clv.summary(measures.order_values(ds), end, time_unit="weeks")
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
    s = clv.summary(measures.order_values(ds), cal_end, holdout_end=end)
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
    a = clv.summary(measures.order_values(duck), cal, holdout_end=end)
    b = clv.summary(measures.order_values(sprk), cal, holdout_end=end)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9)


# ----------------------------------------------------------------------------- analyse


def test_same_day_orders_are_one_transaction_unless_asked_otherwise():
    tx = ibis.memtable(
        {
            "account_id": [1, 1, 1, 2],
            "order_date": pd.to_datetime(["2025-01-01", "2025-01-08", "2025-01-08", "2025-01-01"]),
            "revenue": [10.0, 20.0, 30.0, 5.0],
        }
    )
    combined = clv.summary(tx, "2025-01-29", date_col="order_date").set_index("account_id")
    assert combined.loc[1, "frequency"] == 1 and combined.loc[1, "monetary_value"] == 50.0
    apart = clv.summary(tx, "2025-01-29", date_col="order_date", combine_same_day=False)
    apart = apart.set_index("account_id")
    assert apart.loc[1, "frequency"] == 2 and apart.loc[1, "monetary_value"] == 25.0
    assert clv.same_day_combined(tx, date_col="order_date") == 1


def test_holdout_window_fits_or_says_why():
    cal, end, why = clv.holdout_window("2024-01-01", "2024-12-31", None, 26)
    assert cal == pd.Timestamp("2024-12-31") - pd.Timedelta(weeks=26) and end == pd.Timestamp(
        "2024-12-31"
    )
    assert why == ""
    cal, end, why = clv.holdout_window("1997-01-01", "1998-06-30", "1997-09-30", 39)
    assert (cal, end, why) == (pd.Timestamp("1997-09-30"), pd.Timestamp("1998-06-30"), "")
    _, _, why = clv.holdout_window("2010-12-01", "2010-12-03", None, 26)
    assert "holdout_weeks = 26" in why and "span 0.3 weeks" in why and "2010-12-01" in why
    _, _, why = clv.holdout_window("2024-01-01", "2024-06-30", None, 26)
    assert "at most 12" in why
    _, _, why = clv.holdout_window("2024-01-01", "2024-06-30", "2024-07-15", 26)
    assert "calibration_end 2024-07-15 leaves no holdout" in why
    with pytest.raises(ValueError, match="holdout_weeks"):
        clv.holdout_window("2024-01-01", "2024-06-30", None, 0)


def _copy_tables(src: Path, dst: Path, names) -> Path:
    import shutil

    for name in names:
        shutil.copytree(src / name, dst / name)
    return dst


def test_analyse_on_the_core_tables_only(small_sample, tmp_path):
    root = _copy_tables(small_sample, tmp_path / "core", clv.CORE)
    ds = clv.open_tables(root)
    assert any("derived" in note for note in ds.notes)
    res = clv.analyse(ds, n_draws=20)
    built = set(res.summary()["built"])
    assert {"historical", "models", "holdout", "predicted", "cohorts", "at_risk"} <= built
    assert "marketing_spend table" in res.reason("acquisition")
    f = res.figures
    assert f["valued_accounts"] == len(res.tables["values"]) > 0
    assert f["historical_clv_total"] > 0 and f["margin_basis"] == "gross_margin"
    assert set(f["calibration_fit"]) == {"bgnbd", "pareto_nbd", "gamma_gamma"}
    assert set(f["calibration_fit"]["bgnbd"]) == set(f["bgnbd"])
    assert "r_se" in f["calibration_fit"]["bgnbd"]
    assert f["acquisition_shown"] is False and "predicted_clv_total" in f
    listed = res.tables["at_risk_list"]
    assert len(listed) == f["high_value_at_risk_accounts"] == len(res.tables["risk"])
    # core tables only: no leads, no contacts, so neither owner nor contact columns
    assert listed.columns.tolist() == [c for c in clv.AT_RISK_COLUMNS if c != "lead_owner"]
    assert listed.historical_clv.is_monotonic_decreasing
    assert (listed.historical_clv >= res.facts["value_threshold"]).all()
    assert (listed.p_alive < 0.5).all() and (listed.days_since_last_purchase >= 0).all()
    recent = res.facts["recent"]
    assert 0 < recent["new_accounts_margin"] < recent["margin"]
    assert len(clv.key_findings(res)) >= 3 and "holdout" in clv.data_text(res)


GUIDE_EXPORT = [  # docs/bring-your-own-data.md, "A worked example"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom",
    "536366,POST,POSTAGE,1,12/1/2010 8:28,18.00,17850,United Kingdom",
    "536368,22633,HAND WARMER UNION JACK,6,12/1/2010 8:34,1.85,,France",
    "C536370,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,12/2/2010 9:00,2.55,17850,United Kingdom",
    "536372,22633,HAND WARMER UNION JACK,1,12/3/2010 9:00,0,13047,United Kingdom",
]


def test_the_guides_short_export_shows_historical_value_only(tmp_path):
    from test_adapters import write_retail_csv

    from helpers.data.adapters import import_data

    import_data("online-retail", [write_retail_csv(tmp_path, GUIDE_EXPORT)], tmp_path / "retail")
    res = clv.analyse(clv.open_tables(tmp_path / "retail"))
    for key in ("holdout", "predicted", "at_risk"):
        assert "holdout_weeks = 26" in res.reason(key) and "the orders span" in res.reason(key)
    assert {"historical", "models", "cohorts"} <= set(res.summary()["built"])
    assert res.figures["historical_clv_total"] > 0
    assert not {"predicted_clv_total", "calibration_fit", "holdout"} & set(res.figures)
    assert res.figures["guest_accounts_left_out"] == 1
    assert "at_risk_list" not in res.tables
    assert any("No predicted value" in line for line in clv.key_findings(res))


def test_without_unit_costs_values_are_revenue_and_say_so(small_sample, tmp_path):
    root = _copy_tables(small_sample, tmp_path / "nocost", [*clv.CORE, "accounts"])
    _copy_tables(small_sample, root, ["marketing_spend"])
    lines = next((root / "order_lines").glob("*.parquet"))
    df = pd.read_parquet(lines)
    df["unit_cost"] = pd.Series([None] * len(df), dtype="float64")
    df.to_parquet(lines)
    res = clv.analyse(clv.open_tables(root), n_draws=20)
    f = res.figures
    assert f["margin_basis"] == "revenue" and f["costs_known"] is False
    assert f["margin_rate"] is None
    assert f["historical_revenue_value_total"] > 0 and "historical_clv_total" not in f
    assert "unit_cost" in res.reason("acquisition")
    assert any("no unit cost" in note for note in res.notes)
    assert res.facts["value_label"] == "revenue value"
    assert clv.key_findings(res)[0].startswith("Historical revenue value (discounted revenue")
