"""Issue 24 (campaigns part): sample-ratio check, CUPED, always-valid intervals; issue 25:
the verdict counts conversion and revenue lift, the budget values LTV, CAC per month."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import campaigns
from helpers.models import experiments as ex
from helpers.models.response import reallocate

# ----------------------------------------------------------------------- sample-ratio check


def test_intended_shares():
    assert ex.intended_shares(["control", "a", "b"]) == pytest.approx(
        {"control": 1 / 3, "a": 1 / 3, "b": 1 / 3}
    )
    assert ex.intended_shares(["control", "a", "b"], {"control": 0.2}) == pytest.approx(
        {"control": 0.2, "a": 0.4, "b": 0.4}
    )
    with pytest.raises(ValueError):
        ex.intended_shares(["control", "a"], {"control": 0.6, "a": 0.6})


def test_sample_ratio_by_hand():
    r = ex.sample_ratio_test({"control": 900, "treatment": 1100})
    assert r["chi2"] == pytest.approx(100**2 / 1000 * 2)  # Σ (n − e)² / e
    assert r["p_value"] == pytest.approx(stats.chi2.sf(20, 1))
    assert r["mismatch"] and r["df"] == 1


def test_planted_45_55_is_flagged_and_a_true_50_50_at_the_stated_rate():
    rng = np.random.default_rng(1)
    n = 4000
    planted = [ex.sample_ratio_test({"c": k, "t": n - k}) for k in rng.binomial(n, 0.45, 200)]
    assert np.mean([r["mismatch"] for r in planted]) > 0.99
    fair = [
        ex.sample_ratio_test({"c": k, "t": n - k})["p_value"] for k in rng.binomial(n, 0.5, 4000)
    ]
    fair = np.array(fair)
    assert (fair < ex.SRM_ALPHA).sum() <= 12  # expected 4 of 4,000 at p < 0.001
    assert abs((fair < 0.05).mean() - 0.05) < 0.015  # p-values uniform under a fair split


def test_experiments_flag_a_mismatched_campaign_and_honour_a_declared_split():
    rng = np.random.default_rng(3)
    rows = []
    for cid, n_c, n_t in (("OK", 200, 800), ("BAD", 450, 550)):
        for g, n in (("control", n_c), ("treatment", n_t)):
            conv = rng.random(n) < 0.05
            rows.append(pd.DataFrame({
                "campaign_id": cid, "channel": "email", "has_control": True,
                "account_id": range(n), "group": g, "converted": conv.astype(int),
                "revenue": np.where(conv, 100.0, 0.0),
            }))  # fmt: skip
    o = pd.concat(rows, ignore_index=True)
    x = campaigns.experiments(o, split={"control": 0.2}).set_index("campaign_id")
    assert not x.loc["OK", "srm_mismatch"] and x.loc["OK", "trusted"]
    assert x.loc["BAD", "srm_mismatch"] and not x.loc["BAD", "trusted"]
    assert x.loc["BAD", "note"].startswith("sample-ratio mismatch")
    equal = campaigns.experiments(o).set_index("campaign_id")  # equal by default: 20/80 fails
    assert equal.loc["OK", "srm_mismatch"] and not equal.loc["BAD", "srm_mismatch"]
    per = campaigns.experiments(o, split={"OK": {"control": 0.2}}).set_index("campaign_id")
    assert not per.loc["OK", "srm_mismatch"] and not per.loc["BAD", "srm_mismatch"]
    rec = campaigns.experiment_records(x.reset_index())
    assert all("srm_p_value" in r and r["srm_p_value"] is not None for r in rec)


# ----------------------------------------------------------------------------------- CUPED


def _draw(rng, n, effect, rho=0.7):
    x = rng.gamma(2.0, 50.0, size=n)
    noise = rng.normal(0, 40.0, size=n)
    y = 20 + rho * (x - 100) + noise
    return y, x


def test_cuped_by_hand():
    rng = np.random.default_rng(0)
    y_t, x_t = _draw(rng, 300, 0)
    y_c, x_c = _draw(rng, 300, 0)
    r = ex.cuped(y_t, x_t, y_c, x_c)
    x, y = np.r_[x_t, x_c], np.r_[y_t, y_c]
    theta = np.cov(x, y)[0, 1] / x.var(ddof=1)
    adj_t, adj_c = y_t - theta * (x_t - x.mean()), y_c - theta * (x_c - x.mean())
    assert r["theta"][0] == pytest.approx(theta)
    assert r["diff_adjusted"] == pytest.approx(adj_t.mean() - adj_c.mean())
    se = np.sqrt(adj_t.var(ddof=1) / 300 + adj_c.var(ddof=1) / 300)
    assert r["se_adjusted"] == pytest.approx(se)
    assert r["variance_reduction"] > 0.3  # x explains much of y
    assert r["hi_adjusted"] - r["lo_adjusted"] < r["hi"] - r["lo"]


def test_cuped_coverage_over_seeds_near_95_percent():
    rng = np.random.default_rng(7)
    effect, covered, narrower = 5.0, 0, 0
    runs = 400
    for _ in range(runs):
        y_t, x_t = _draw(rng, 200, effect)
        y_c, x_c = _draw(rng, 200, 0)
        r = ex.cuped(y_t + effect, x_t, y_c, x_c)
        covered += r["lo_adjusted"] <= effect <= r["hi_adjusted"]
        narrower += (r["hi_adjusted"] - r["lo_adjusted"]) < (r["hi"] - r["lo"])
    assert 0.92 <= covered / runs <= 0.975
    assert narrower / runs > 0.95


def test_cuped_with_a_useless_covariate_changes_little():
    rng = np.random.default_rng(2)
    y_t, y_c = rng.normal(1, 1, 500), rng.normal(0, 1, 500)
    r = ex.cuped(y_t, rng.normal(size=500), y_c, rng.normal(size=500))
    assert abs(r["variance_reduction"]) < 0.02
    assert ex.cuped(y_t, np.ones(500), y_c, np.ones(500))["theta"] == [0.0]


# --------------------------------------------------------------------- confidence sequence


def test_confidence_sequence_is_wider_and_valid_at_every_look():
    se, n = 0.01, 4000
    lo, hi = ex.confidence_sequence(0.0, se, n)
    assert hi - lo > 2 * 1.96 * se  # the price of looking whenever you like
    rho2 = ex.cs_rho(0.05, 5000) ** 2
    half = (
        se
        * np.sqrt(n)
        * np.sqrt(2 * (n * rho2 + 1) / (n**2 * rho2) * np.log(np.sqrt(n * rho2 + 1) / 0.05))
    )
    assert hi == pytest.approx(half)
    # peeking at 40 looks: the fixed interval errs far more often than alpha, the sequence not
    rng = np.random.default_rng(5)
    looks = np.arange(100, 4001, 100)
    fixed_err = seq_err = 0
    for _ in range(300):
        x = rng.normal(0, 1, looks[-1])
        s = np.cumsum(x)[looks - 1]
        means, ses = s / looks, 1 / np.sqrt(looks)
        fixed_err += bool((np.abs(means) > 1.96 * ses).any())
        seq = [
            ex.confidence_sequence(m, e, int(k)) for m, e, k in zip(means, ses, looks, strict=True)
        ]
        seq_err += any(a > 0 or b < 0 for a, b in seq)
    assert fixed_err / 300 > 0.15
    assert seq_err / 300 <= 0.06


def test_a_running_campaign_gets_always_valid_intervals():
    rng = np.random.default_rng(4)
    conv = (rng.random(1000) < 0.08).astype(int)
    o = pd.DataFrame({"campaign_id": "RUN", "channel": "email", "has_control": True,
                      "account_id": range(1000), "group": ["control"] * 200 + ["treatment"] * 800,
                      "converted": conv, "revenue": conv * 90.0})  # fmt: skip
    fixed = campaigns.experiments(o).iloc[0]
    live = campaigns.experiments(o, running=["RUN"]).iloc[0]
    assert live.interval.startswith("always-valid") and fixed.interval == "fixed sample"
    assert live.lift_lo < fixed.lift_lo and live.lift_hi > fixed.lift_hi
    assert live.rev_lift_hi - live.rev_lift_lo > fixed.rev_lift_hi - fixed.rev_lift_lo
    assert np.isnan(live.p_value) and "still running" in live.note


# ---------------------------------------------------------------- on the generated sample


@pytest.fixture(scope="module")
def sample_result(small_sample):
    ds = campaigns.open_data(small_sample)
    return ds, campaigns.analyse(ds, split={"control": 0.2}, qini_draws=20)


def test_sample_records_and_the_planted_revenue_uplift(sample_result, small_sample):
    ds, res = sample_result
    recs = res.figures["experiments"]
    fields = ("srm_p_value", "revenue_lift_adjusted", "revenue_lift_ci_low_adjusted",
              "revenue_lift_ci_high_adjusted", "adjustment")  # fmt: skip
    assert all(set(fields) <= set(r) for r in recs)
    truth = json.loads((small_sample / "truth.json").read_text())
    acc = pd.DataFrame(truth["accounts"])[["account_id", "archetype", "nu"]]
    o = res.tables["outcomes"].merge(acc, on="account_id")
    gg_p = truth["order_value"]["p"]
    planted = (
        (o.archetype.map(truth["campaigns"]["uplift"]) * gg_p / o.nu).groupby(o.campaign_id).mean()
    )
    c = res.tables["controlled"]
    assert c.rev_lift_adj.notna().all()
    inside = (c.rev_lift_adj_lo <= c.campaign_id.map(planted)) & (
        c.campaign_id.map(planted) <= c.rev_lift_adj_hi
    )
    assert inside.mean() >= 0.8, f"{inside.sum()} of {len(c)} adjusted intervals cover"
    assert res.figures["campaigns_with_sample_ratio_mismatch"] == 0  # the planned 20 % control
    g = res.figures
    assert g["campaigns_with_lift"] >= max(
        g["campaigns_with_positive_lift"], g["campaigns_with_revenue_lift"]
    )


def test_verdict_counts_conversion_and_revenue_lift(sample_result):
    _, res = sample_result
    c = res.tables["controlled"]
    conv = set(c.campaign_id[c.lift_lo > 0])
    helped = c.rev_variance_reduction > 0
    rev = set(c.campaign_id[c.rev_lift_adj_lo.where(helped, c.rev_lift_lo) > 0])
    assert res.figures["campaigns_with_lift"] == len(conv | rev)
    text = campaigns.experiments_verdict(res)
    assert f"**{len(conv | rev)}** of them show a lift" in text
    assert f"{len(rev)} in revenue per recipient" in text
    assert "conversion or revenue lift" in res.facts["finding"]


def test_monthly_cac_series(sample_result):
    ds, res = sample_result
    ms = ds.marketing_spend.to_pandas()
    ms = ms[~ms.channel.isin(campaigns.CRM_CHANNELS)]
    acc = ds.accounts.to_pandas()
    acc = acc[acc.acquisition_channel.isin(ms.channel.unique())]
    month = pd.to_datetime(ms.date).dt.strftime("%Y-%m")
    spend = ms.spend.groupby(month).sum()
    new = acc.account_id.groupby(pd.to_datetime(acc.signup_date).dt.strftime("%Y-%m")).nunique()
    series = res.facts["series"]["paid_cac"]
    assert series["freq"] == "month" and list(series["values"]) == sorted(series["values"])
    for m, v in series["values"].items():
        assert v == pytest.approx(spend[m] / new[m])
    first = pd.Timestamp(ms.date.min())
    assert all(pd.Timestamp(m + "-01") >= first for m in series["values"])  # complete months


def test_budget_values_ltv_and_names_its_rule(sample_result):
    _, res = sample_result
    if not res.facts.get("can_reallocate"):
        pytest.skip("the small sample has no two usable response curves")
    assert res.facts["budget_unit"] == "LTV to date of the accounts acquired"
    assert "budget_ltv_gain" in res.figures and "budget_gain" not in res.figures
    assert "acquisition" in res.facts["budget_rule"] or "signup" in res.facts["budget_rule"]


def test_reallocate_worth_scales_the_objective():
    rng = np.random.default_rng(0)
    rows = []
    for ch, a, b in (("x", 2.0, 0.6), ("y", 3.0, 0.5)):
        s = rng.uniform(50, 150, 60)
        rows.append(pd.DataFrame({"channel": ch, "spend": s, "clicks": rng.poisson(a * s**b)}))
    rows = pd.concat(rows, ignore_index=True)
    from helpers.models.response import fit_response

    fit = fit_response(rows)
    conv = pd.DataFrame({"channel": ["x", "y"], "conversions": [50, 50], "clicks": [5000, 5000]})
    _, plain = reallocate(rows, fit, conv, n_draws=200)
    _, worth = reallocate(rows, fit, conv, n_draws=200, worth={"x": 10.0, "y": 10.0}, unit="value")
    assert worth["current_expected"] == pytest.approx(10 * plain["current_expected"])
    assert worth["gain"] == pytest.approx(10 * plain["gain"], rel=1e-6)
    assert worth["unit"] == "value"
    t, lop = reallocate(rows, fit, conv, n_draws=200, worth={"x": 100.0, "y": 1.0})
    assert t.set_index("channel").change["x"] > 0  # worth more per conversion: gets budget


def test_response_figure_has_its_legend_outside_the_panels(sample_result):
    _, res = sample_result
    if res.tables.get("fitted") is None:
        pytest.skip("no response curve on the small sample")
    fig = campaigns.response_figure(res, title="t", xlabel="x", ylabel="y")
    assert all(ax.get_legend() is None for ax in fig.axes) and fig.legends
