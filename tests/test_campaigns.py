"""Channel economics, experiments and uplift by segment: hand-made tables and planted truth."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from helpers import campaigns
from helpers.data.dataset import open_dataset


def _inputs():
    return pd.DataFrame(
        {
            "channel": ["sem", "idle", "blind", "dud", "organic"],
            "spend": [1000.0, 0.0, 50.0, 200.0, 0.0],
            "impressions": [10_000, 0, 0, 500, 0],
            "clicks": [400, 0, 0, 20, 0],
            "conversions": [20, 0, 0, 0, 7],
            "new_customers": [4, 0, 0, 0, 3],
            "customer_revenue": [6000.0, 0.0, 0.0, 0.0, 900.0],
            "customer_margin": [2000.0, 0.0, 0.0, 0.0, 300.0],
            "campaign_revenue": [0.0, 0.0, 0.0, 100.0, 0.0],
        }
    )


def test_economics_by_hand():
    e = campaigns.economics(_inputs()).set_index("channel")
    sem = e.loc["sem"]
    assert sem.ctr == pytest.approx(0.04)
    assert sem.cvr == pytest.approx(0.05)
    assert sem.cpa == pytest.approx(50.0)
    assert sem.cac == pytest.approx(250.0)
    assert sem.revenue == pytest.approx(6000.0)
    assert sem.roas == pytest.approx(6.0)
    assert sem.roi == pytest.approx((2000 - 1000) / 1000)
    assert sem.margin_per_customer == pytest.approx(500.0)
    assert not sem.cac_exceeds_ltv
    assert sem.ctr_lo < 0.04 < sem.ctr_hi
    # dud: spend 200, no conversions, 100 of CRM revenue
    dud = e.loc["dud"]
    assert dud.roi == pytest.approx((100 - 200) / 200)
    assert math.isnan(dud.cpa) and dud.cpa_note == "n/a: no conversions"
    assert math.isnan(dud.cac) and dud.cac_note == "n/a: no new customers"


def test_zero_spend_and_zero_clicks_are_na_with_reason():
    e = campaigns.economics(_inputs()).set_index("channel")
    idle = e.loc["idle"]
    for m, why in [("ctr", "no impressions"), ("cvr", "no clicks"), ("roas", "no spend")]:
        assert math.isnan(idle[m]) and idle[f"{m}_note"] == f"n/a: {why}"
    assert math.isnan(idle.roi) and idle.roi_note == "n/a: no spend"
    blind = e.loc["blind"]  # spend but no impressions or clicks
    assert math.isnan(blind.ctr) and math.isnan(blind.cvr) and blind.cvr_note == "n/a: no clicks"
    assert blind.roi == pytest.approx(-1.0)
    organic = e.loc["organic"]  # customers but no recorded spend: CAC unknown, not 0
    assert math.isnan(organic.cac) and organic.cac_note == "n/a: no spend recorded"
    assert pd.isna(organic.cac_exceeds_ltv)
    num = e.select_dtypes("number").to_numpy(dtype=float)
    assert not np.isinf(num).any()


def test_economics_flags_cac_above_margin():
    df = _inputs().iloc[:1].copy()
    df["customer_margin"] = 800.0  # 200 per customer < CAC 250
    assert bool(campaigns.economics(df).cac_exceeds_ltv.iloc[0])


def test_economics_rejects_bad_input():
    with pytest.raises(ValueError, match="missing column"):
        campaigns.economics(_inputs().drop(columns="clicks"))
    bad = _inputs()
    bad.loc[0, "spend"] = -1
    with pytest.raises(ValueError, match=">= 0"):
        campaigns.economics(bad)


def _sends(k_t, n_t, k_c, n_c, rev_t=100.0, rev_c=100.0):
    g = ["treatment"] * n_t + ["control"] * n_c
    conv = [1] * k_t + [0] * (n_t - k_t) + [1] * k_c + [0] * (n_c - k_c)
    rev = [rev_t if x else 0.0 for x in conv[:n_t]] + [rev_c if x else 0.0 for x in conv[n_t:]]
    return pd.DataFrame({"group": g, "converted": conv, "revenue": rev})


def test_experiment_by_hand():
    r = campaigns.experiment(_sends(30, 200, 10, 200))
    assert r["lift"] == pytest.approx(0.15 - 0.05)
    assert r["lift_lo"] < 0.10 < r["lift_hi"] and r["lift_lo"] > 0
    assert r["p_value"] < 0.01
    assert r["rev_lift"] == pytest.approx(15.0 - 5.0)
    assert r["rev_lift_lo"] < 10 < r["rev_lift_hi"]
    # Cohen's h = 2 asin(sqrt 0.15) - 2 asin(sqrt 0.05) = 0.3444; per group, equal sizes:
    # n = (1.95996 + 0.84162)^2 * (1 + 1) / h^2 = 132.4 -> 133
    assert r["needed_per_group"] == 133


def test_experiment_without_control_is_reported_as_such():
    r = campaigns.experiment(_sends(30, 200, 0, 0))
    assert not r["has_control"]
    assert r["note"] == "no control group: lift cannot be estimated"
    assert all(math.isnan(r[k]) for k in ("lift", "lift_lo", "p_value", "rev_lift"))
    assert r["cr_treated"] == pytest.approx(0.15)


def test_experiment_zero_conversions():
    r = campaigns.experiment(_sends(0, 50, 0, 50))
    assert r["lift"] == 0 and math.isnan(r["p_value"])
    assert "no variation" in r["note"]
    assert math.isnan(r["needed_per_group"])
    r = campaigns.experiment(_sends(5, 50, 0, 50))  # control with no conversion still works
    assert r["lift"] == pytest.approx(0.1) and np.isfinite(r["needed_per_group"])


def test_uplift_by_segment_by_hand():
    o = pd.concat(
        [
            _sends(20, 100, 10, 100).assign(account_id=1),
            _sends(5, 100, 5, 100).assign(account_id=2),
            _sends(9, 10, 0, 0).assign(account_id=3),  # segment with no control
        ]
    ).assign(has_control=True)
    seg = pd.DataFrame({"account_id": [1, 2, 3], "segment": ["a", "b", "c"]})
    u = campaigns.uplift_by_segment(o, seg).set_index("segment")
    assert u.loc["a", "uplift"] == pytest.approx(0.1)
    assert u.loc["b", "uplift"] == pytest.approx(0.0)
    assert math.isnan(u.loc["c", "uplift"]) and u.loc["c", "note"].startswith("n/a")
    with pytest.raises(ValueError, match="no send"):
        campaigns.uplift_by_segment(o.assign(has_control=False), seg)


def test_audience_roles_by_hand():
    u = pd.DataFrame(
        {
            "segment": ["p", "dog", "sure", "none", "tiny", "nan"],
            "uplift": [0.05, -0.04, 0.01, 0.0, 0.3, np.nan],
            "uplift_lo": [0.01, -0.07, -0.02, -0.01, 0.1, np.nan],
            "uplift_hi": [0.09, -0.01, 0.04, 0.01, 0.5, np.nan],
            "cr_control": [0.02, 0.20, 0.15, 0.01, 0.0, np.nan],
            "control": [100, 100, 100, 100, 5, 0],
        }
    )
    r = campaigns.audience_roles(u).set_index("segment")
    assert r.role.to_dict() == {
        "p": "persuadable",
        "dog": "sleeping dog",
        "sure": "would buy anyway",
        "none": "no measurable effect",
        "tiny": "not measured",
        "nan": "not measured",
    }
    assert r.target.sum() == 1 and r.target["p"]


def test_qini_curve_by_hand():
    # treated: scores 4, 3 (both convert); control: scores 2, 1 (none converts)
    c = campaigns.qini_curve([4, 3, 2, 1], [1, 1, 0, 0], [1, 1, 0, 0])
    assert c.qini.tolist() == [0, 0, 0, 2 - 0 * 2 / 1, 2 - 0]
    assert c.random.iloc[-1] == 2
    # mixed: order t(y=1), c(y=1), t(y=0), c(y=0): after 2, 1 - 1*1/1 = 0;
    # after 3, 1 - 1*2/1 = -1; after 4, 1 - 1*2/2 = 0
    c = campaigns.qini_curve([4, 3, 2, 1], [1, 0, 1, 0], [1, 1, 0, 0])
    assert c.qini.tolist() == [0, 0, 0, -1, 0]
    # first curve: qini 0,0,0,2,2 vs random 0,.5,1,1.5,2 -> gaps 0,-.5,-1,.5,0;
    # trapezoids of width .25: (-.25 - .75 - .25 + .25) * .25 = -0.25
    first = campaigns.qini_curve([4, 3, 2, 1], [1, 1, 0, 0], [1, 1, 0, 0])
    assert campaigns.qini_coefficient(first) == pytest.approx(-0.25)
    with pytest.raises(ValueError, match="same length"):
        campaigns.qini_curve([1], [1, 0], [1])


# ------------------------------------------------------------------ against the planted truth


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from helpers.data import generate

    out = {}
    for seed in (11, 12, 13):
        d = tmp_path_factory.mktemp(f"gen{seed}")
        generate.generate(d, scale=0.4, seed=seed, progress=False)
        out[seed] = d
    return out


def test_uplift_by_segment_covers_planted_truth(generated):
    covered, total = 0, 0
    for d in generated.values():
        truth = json.loads((d / "truth.json").read_text())
        seg = pd.DataFrame(
            {
                "account_id": truth["accounts"]["account_id"],
                "segment": truth["accounts"]["archetype"],
            }
        )
        u = campaigns.uplift_by_segment(campaigns.send_outcomes(open_dataset(d)), seg)
        u = u.dropna(subset=["uplift"])
        planted = u.segment.map(truth["campaigns"]["uplift"])
        covered += int(((u.uplift_lo <= planted) & (planted <= u.uplift_hi)).sum())
        total += len(u)
    assert total >= 15
    assert covered / total >= 0.8, f"{covered}/{total} intervals cover the planted uplift"


def test_experiments_on_generated_data(generated):
    d = generated[11]
    truth = json.loads((d / "truth.json").read_text())
    planned = {c["campaign_id"]: c["has_control"] for c in truth["campaigns"]["crm_campaigns"]}
    x = campaigns.experiments(open_dataset(d))
    assert set(x.campaign_id) <= set(planned)
    for r in x.itertuples():
        assert r.has_control == planned[r.campaign_id] == r.planned_control
        if not r.has_control:
            assert math.isnan(r.lift) and "no control" in r.note
    ds = open_dataset(d)
    e = campaigns.channel_economics(ds)
    ms = ds.marketing_spend.to_pandas()
    assert e.spend.sum() == pytest.approx(ms.spend.sum())
    assert e.clicks.sum() == ms.clicks.sum()
    acc = ds.accounts.to_pandas()
    paid = e.set_index("channel").loc["sem"]
    lo, hi = ms.date.min(), ms.date.max()
    n_sem = ((acc.acquisition_channel == "sem") & acc.signup_date.between(lo, hi)).sum()
    assert paid.new_customers == n_sem
    assert paid.cac == pytest.approx(paid.spend / n_sem)
    w = campaigns.weekly_channel(ds)
    assert w.spend.sum() == pytest.approx(ms.spend.sum())


def test_duckdb_and_spark_agree(generated, spark):
    d = generated[12]
    tables = ["marketing_spend", "leads", "web_events", "accounts", "orders", "order_lines"]
    tables += ["campaign_sends", "campaigns"]
    duck = campaigns.channel_inputs(open_dataset(d, tables=tables))
    sp = campaigns.channel_inputs(open_dataset(d, engine="spark", spark=spark, tables=tables))
    pd.testing.assert_frame_equal(
        duck.sort_values("channel").reset_index(drop=True),
        sp.sort_values("channel").reset_index(drop=True),
        check_dtype=False,
        rtol=1e-9,
    )


def test_two_model_uplift_ranks_planted_persuadables(generated):
    d = generated[11]
    truth = json.loads((d / "truth.json").read_text())
    arche = pd.DataFrame(
        {"account_id": truth["accounts"]["account_id"], "a": truth["accounts"]["archetype"]}
    )
    o = campaigns.send_outcomes(open_dataset(d))
    o = o[o.has_control].merge(arche, on="account_id")
    x = pd.get_dummies(o.a, dtype=float)  # archetypes: test-only features
    score = campaigns.two_model_uplift(x, o.group == "treatment", o.converted, seed=1)
    by_arch = pd.Series(score).groupby(o.a.to_numpy()).mean()
    assert by_arch["at_risk"] > by_arch["champion"]  # planted +0.07 vs -0.03
    curve = campaigns.qini_curve(score, o.group == "treatment", o.converted)
    assert campaigns.qini_coefficient(curve) > 0


# ------------------------------------------------------------------ weekly trends, CAC vs LTV


def test_weekly_metrics_zero_clicks_and_impressions_are_na_with_reason():
    w = pd.DataFrame(
        {
            "week": ["2025-03-03", "2025-03-03", "2025-03-10", "2025-03-10"],
            "channel": ["sem", "sms", "sem", "feed_ads"],
            "spend": [100.0, 20.0, 0.0, 50.0],
            "impressions": [1000, 0, 0, 400],
            "clicks": [40, 0, 0, 0],
        }
    )
    m = campaigns.weekly_metrics(w).set_index(["week", "channel"])
    sem = m.loc[(pd.Timestamp("2025-03-03"), "sem")]
    assert sem.ctr == pytest.approx(0.04) and sem.cpc == pytest.approx(2.5)
    assert sem.ctr_note == "" and sem.cpc_note == ""
    sms = m.loc[(pd.Timestamp("2025-03-03"), "sms")]  # spend but nothing shown or clicked
    assert math.isnan(sms.ctr) and sms.ctr_note == "n/a: no impressions"
    assert math.isnan(sms.cpc) and sms.cpc_note == "n/a: no clicks"
    feed = m.loc[(pd.Timestamp("2025-03-10"), "feed_ads")]  # shown, never clicked
    assert feed.ctr == 0 and math.isnan(feed.cpc) and feed.cpc_note == "n/a: no clicks"
    idle = m.loc[(pd.Timestamp("2025-03-10"), "sem")]  # nothing at all
    assert math.isnan(idle.ctr) and math.isnan(idle.cpc)
    assert not np.isinf(m.select_dtypes("number").to_numpy(float)).any()
    with pytest.raises(ValueError, match="missing column"):
        campaigns.weekly_metrics(w.drop(columns="clicks"))
    bad = w.assign(clicks=[-1, 0, 0, 0])
    with pytest.raises(ValueError, match=">= 0"):
        campaigns.weekly_metrics(bad)


def test_cac_against_ltv_by_hand():
    econ = campaigns.economics(_inputs())
    values = pd.DataFrame(
        {
            "account_id": range(1, 11),
            "channel": ["sem"] * 4 + ["organic"] * 3 + ["sem", "sem", "dud"],
            "signup_date": pd.to_datetime(["2025-02-01"] * 7 + ["2024-01-01"] + ["2025-02-01"] * 2),
            "clv": [400.0, 500.0, 600.0, 500.0, 10.0, 20.0, 30.0, 9999.0, 100.0, 5.0],
        }
    )
    t = campaigns.cac_against_ltv(econ, values, "2025-01-01", "2025-12-31", seed=1)
    t = t.set_index("channel")
    sem = t.loc["sem"]
    # the account signed up before the spend period (9999) is not one sem acquired
    assert sem.customers_valued == 5 and sem.ltv == pytest.approx(420.0)
    assert sem.ltv_lo < 420 < sem.ltv_hi
    assert sem.cac == pytest.approx(250.0) and sem.ltv_cac == pytest.approx(420 / 250)
    assert not sem.cac_exceeds_ltv and sem.verdict == "pays back"
    assert t.loc["organic", "verdict"] == "n/a: no spend recorded"
    assert pd.isna(t.loc["organic", "cac_exceeds_ltv"]) and math.isnan(t.loc["organic", "ltv_cac"])
    assert t.loc["dud", "verdict"] == "n/a: no new customers"
    assert t.loc["idle", "verdict"] == "n/a: no spend recorded"
    # CAC above the whole interval: does not pay back
    cheap = values.assign(clv=values.clv / 10)
    t2 = campaigns.cac_against_ltv(econ, cheap, "2025-01-01", "2025-12-31").set_index("channel")
    assert t2.loc["sem", "verdict"] == "does not pay back" and t2.loc["sem", "cac_exceeds_ltv"]
    # a channel with CAC but no valued customer
    none = campaigns.cac_against_ltv(
        econ, values[values.channel != "sem"], "2025-01-01", "2025-12-31"
    )
    assert none.set_index("channel").loc["sem", "verdict"] == "n/a: no acquired customer to value"
    assert not np.isinf(t.select_dtypes("number").to_numpy(float)).any()
    with pytest.raises(ValueError, match="missing column"):
        campaigns.cac_against_ltv(econ, values.drop(columns="clv"), "2025-01-01", "2025-12-31")
