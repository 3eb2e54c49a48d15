"""Tests of the synthetic data generator: layout, types, keys, coherence, planted truth, CLI.

One small dataset (scale 0.05, ~100 accounts, ~50k web events) is generated once per session;
the determinism and CLI tests generate two more at scale 0.02.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

from helpers.data import generate as gen
from helpers.data import schema
from helpers.models.btyd import bgnbd_expected_purchases

SCALE, SEED = 0.05, 7
ARROW = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


@pytest.fixture(scope="session")
def sample(tmp_path_factory) -> Path:
    """Small chunks and day blocks, so the cross-chunk paths (ids, stock allocation) are tested."""
    out = tmp_path_factory.mktemp("gen") / "sample"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gen, "CHUNK_ACCOUNTS", 30)
        mp.setattr(gen, "ANON_JOURNEYS_PER_BLOCK", 5000)
        gen.generate(out, scale=SCALE, seed=SEED, progress=False)
    return out


@pytest.fixture(scope="session")
def tables(sample) -> dict[str, pd.DataFrame]:
    return {t: pq.read_table(sample / t).to_pandas() for t in schema.TABLE_NAMES}


@pytest.fixture(scope="session")
def truth(sample) -> dict:
    return json.loads((sample / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def window(truth) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of the window as timestamps (end = midnight after end_date)."""
    start = pd.Timestamp(truth["start_date"])
    return start, pd.Timestamp(truth["end_date"]) + pd.Timedelta(days=1)


# --- layout, types, manifest ----------------------------------------------------------------
def test_every_table_has_parts_with_schema_types(sample):
    assert len(list((sample / "orders").iterdir())) == 4  # 100 accounts in chunks of 30
    for name, table in schema.TABLES.items():
        parts = sorted((sample / name).iterdir())
        assert parts, name
        assert all(re.fullmatch(r"part-\d{5}\.parquet", p.name) for p in parts), parts
        expected = [(c, ARROW[col.dtype]) for c, col in table.columns.items()]
        for p in parts:
            got = [(f.name, f.type) for f in pq.read_schema(p)]
            assert got == expected, (name, p.name)


def test_manifest_matches_parquet_row_counts(sample, truth):
    manifest = json.loads((sample / "manifest.json").read_text())
    assert manifest["scale"] == SCALE and manifest["seed"] == SEED
    assert manifest["start_date"] == truth["start_date"] == "2024-11-01"
    assert manifest["end_date"] == truth["end_date"] == "2026-10-31"
    assert manifest["generator_version"] == gen.GENERATOR_VERSION
    assert set(manifest["row_counts"]) == set(schema.TABLE_NAMES)
    for name in schema.TABLE_NAMES:
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (sample / name).iterdir())
        assert manifest["row_counts"][name] == rows, name
    assert not any(p.name.startswith(".") for p in sample.parent.iterdir())  # no temp folders


def test_sizes_are_in_the_expected_range(tables):
    n_acc = len(tables["accounts"])
    assert n_acc == round(2000 * SCALE)
    assert 4 <= len(tables["orders"]) / n_acc <= 25  # heavy-tailed at ~100 accounts
    assert 3.5 <= len(tables["order_lines"]) / len(tables["orders"]) <= 6.5
    assert 0.5e6 * SCALE <= len(tables["web_events"]) <= 2e6 * SCALE
    assert set(tables["inventory"]["warehouse_id"]) == set(gen.WAREHOUSES)


# --- keys, nulls, value rules ---------------------------------------------------------------
def test_keys_are_unique(tables):
    for name, table in schema.TABLES.items():
        df = tables[name]
        assert not df.duplicated(list(table.key)).any(), name


def test_foreign_keys_hold(tables):
    for name, table in schema.TABLES.items():
        for fk in table.foreign_keys:
            child = tables[name][list(fk.columns)].dropna()
            parent = tables[fk.ref_table][list(fk.ref_columns)].drop_duplicates()
            parent.columns = list(fk.columns)
            merged = child.merge(parent, how="left", indicator=True)
            assert (merged["_merge"] == "both").all(), (name, fk)


def test_extra_references_hold(tables):
    t = tables
    lines = t["order_lines"][["order_id", "sku"]].drop_duplicates()
    assert not t["order_lines"].duplicated(["order_id", "sku"]).any()
    ret = t["returns"].merge(lines, how="left", indicator=True)
    assert (ret["_merge"] == "both").all()
    campaigns = set(t["campaigns"]["campaign_id"])
    assert set(t["campaign_sends"]["campaign_id"]) <= campaigns
    assert set(t["marketing_spend"]["campaign_id"]) <= campaigns
    assert set(t["purchase_orders"]["warehouse_id"]) <= set(gen.WAREHOUSES)
    assert set(t["orders"]["warehouse_id"]) <= set(gen.WAREHOUSES)
    po = t["purchase_orders"].merge(t["products"][["sku", "supplier_id"]], on="sku")
    assert (po["supplier_id_x"] == po["supplier_id_y"]).all()
    known = t["web_events"].dropna(subset=["account_id"])
    assert set(known["visitor_id"]) <= set(t["contacts"]["contact_id"])
    vis = known.merge(t["contacts"], left_on="visitor_id", right_on="contact_id")
    assert (vis["account_id_x"] == vis["account_id_y"]).all()


def test_nulls_allowed_values_and_minimums(tables):
    for name, table in schema.TABLES.items():
        df = tables[name]
        for col, spec in table.columns.items():
            if not spec.nullable:
                assert df[col].notna().all(), (name, col)
            if spec.allowed is not None:
                assert set(df[col].dropna()) <= set(spec.allowed), (name, col)
            if spec.min_value is not None:
                assert (df[col].dropna() >= spec.min_value).all(), (name, col)
    assert set(tables["web_events"]["channel"]) <= set(schema.CHANNELS)
    assert set(tables["accounts"]["acquisition_channel"]) <= set(schema.CHANNELS)
    assert set(tables["marketing_spend"]["channel"]) <= set(schema.MARKETING_CHANNELS)
    assert set(tables["accounts"]["industry"]) <= set(schema.INDUSTRIES)
    assert set(tables["accounts"]["region"]) <= set(schema.REGIONS)


def test_dates_are_inside_the_window(tables, window):
    start, end = window
    for name, table in schema.TABLES.items():
        for col, spec in table.columns.items():
            if spec.dtype not in ("date", "timestamp") or not spec.not_after_today:
                continue
            values = pd.to_datetime(tables[name][col].dropna())
            assert (values >= start).all() and (values < end).all(), (name, col)
    campaigns = tables["campaigns"]
    assert (pd.to_datetime(campaigns["end_date"]) < end).all()


def test_ordered_pairs_hold(tables):
    for name, table in schema.TABLES.items():
        for pair in table.ordered:
            df = tables[name].dropna(subset=[pair.earlier, pair.later])
            assert (df[pair.later] >= df[pair.earlier]).all(), (name, pair)


# --- coherence between tables ---------------------------------------------------------------
def test_orders_follow_signup_and_shipments_follow_orders(tables):
    t = tables
    o = t["orders"].merge(t["accounts"][["account_id", "signup_date"]], on="account_id")
    assert (o["order_ts"] >= pd.to_datetime(o["signup_date"])).all()
    first = o.groupby("account_id").agg(first=("order_ts", "min"), signup=("signup_date", "first"))
    assert (first["first"].dt.normalize() == pd.to_datetime(first["signup"])).all()
    s = t["shipments"].merge(t["orders"], on="order_id")
    assert (s["shipped_at"] > s["order_ts"]).all()
    assert not t["shipments"]["order_id"].duplicated().any()


def test_returns_follow_delivery_and_never_exceed_the_line(tables):
    t = tables
    r = t["returns"].merge(t["shipments"], on="order_id")
    assert r["delivered_at"].notna().all()
    assert (r["returned_at"] > r["delivered_at"]).all()
    r = t["returns"].merge(t["order_lines"], on=["order_id", "sku"], suffixes=("", "_line"))
    assert (r["quantity"] <= r["quantity_line"]).all()
    net = r["quantity"] * r["unit_price"] * (1 - r["discount"])
    assert np.allclose(r["refund"], net, atol=0.011)


def test_shipped_quantity_never_exceeds_the_order(tables):
    ordered = tables["order_lines"].groupby("order_id")["quantity"].sum()
    s = tables["shipments"].set_index("order_id")
    assert (s["qty_shipped"] <= ordered.loc[s.index]).all()
    assert (s["qty_shipped"] > 0).all()


def test_inventory_moves_with_receipts_and_shipments(tables, truth):
    t = tables
    inv = t["inventory"]
    assert (inv["on_hand"] >= 0).all()
    n_days = inv["date"].nunique()
    assert len(inv) == n_days * len(gen.WAREHOUSES) * len(t["products"])  # dense grid
    total = inv.groupby(["warehouse_id", "date"])["on_hand"].sum().unstack(0).sort_index()
    po = t["purchase_orders"].dropna(subset=["received_at"])
    po = po.assign(date=po["received_at"].dt.normalize(), usable=po["qty_received"] - po["defects"])
    received = po.groupby(["date", "warehouse_id"])["usable"].sum().unstack(fill_value=0)
    s = t["shipments"].merge(t["orders"][["order_id", "warehouse_id"]], on="order_id")
    s = s.assign(date=s["shipped_at"].dt.normalize())
    shipped = s.groupby(["date", "warehouse_id"])["qty_shipped"].sum().unstack(fill_value=0)
    total.index = pd.to_datetime(total.index)
    received = received.reindex(total.index, fill_value=0).reindex(
        columns=total.columns, fill_value=0
    )
    shipped = shipped.reindex(total.index, fill_value=0).reindex(
        columns=total.columns, fill_value=0
    )
    change = total.diff().iloc[1:]
    expected = (received - shipped).iloc[1:]
    assert (change.to_numpy() == expected.to_numpy()).all()
    # per SKU: stock never grows by more than what was received
    per_sku = inv.pivot_table(index="date", columns=["warehouse_id", "sku"], values="on_hand")
    po_sku = po.groupby(["date", "warehouse_id", "sku"])["usable"].sum().unstack([1, 2])
    po_sku.index = pd.to_datetime(po_sku.index)
    per_sku.index = pd.to_datetime(per_sku.index)
    po_sku = po_sku.reindex(index=per_sku.index, columns=per_sku.columns, fill_value=0).fillna(0)
    assert (per_sku.diff().iloc[1:] <= po_sku.iloc[1:]).all().all()
    assert truth["supply"]["fill_rate_units"] <= 1.0


def test_stockouts_happen_and_short_shipments_match_truth(tables, truth):
    ordered = tables["order_lines"].groupby("order_id")["quantity"].sum()
    s = tables["shipments"].set_index("order_id")
    short = (s["qty_shipped"] < ordered.loc[s.index]).mean()
    assert short == pytest.approx(truth["supply"]["orders_short_shipped_share"], abs=1e-5)
    assert (tables["inventory"]["on_hand"] == 0).any()


def test_purchase_orders_follow_the_supplier_truth(tables, truth):
    po = tables["purchase_orders"]
    assert (po["qty_received"] <= po["qty_ordered"]).all()
    assert (po["defects"] <= po["qty_received"]).all()
    assert (po.loc[po["received_at"].isna(), "qty_received"] == 0).all()
    assert set(truth["supply"]["suppliers"]) == set(tables["suppliers"]["supplier_id"])
    prod = tables["products"].set_index("sku")
    lead = prod["lead_time_days"]
    quoted = {k: v["quoted_lead_days"] for k, v in truth["supply"]["suppliers"].items()}
    assert (lead == prod["supplier_id"].map(quoted)).all()


def test_marketing_spend_matches_campaign_sends(tables):
    t = tables
    ms = t["marketing_spend"]
    assert (ms["clicks"] <= ms["impressions"]).all()
    sends = t["campaign_sends"]
    treat = sends[sends["group"] == "treatment"]
    per = treat.groupby("campaign_id").agg(
        n=("send_id", "size"), sent_clicks=("clicked_at", "count")
    )
    crm = ms[ms["channel"].isin(["email", "sms"])].groupby("campaign_id")
    agg = crm.agg(spend=("spend", "sum"), clicks=("clicks", "sum"), channel=("channel", "first"))
    agg = agg.join(per)
    cost = agg["channel"].map(gen.COST_PER_SEND)
    assert np.allclose(agg["spend"], agg["n"] * cost, atol=0.02)
    assert (agg["clicks"] == agg["sent_clicks"]).all()


def test_campaign_groups_follow_has_control(tables):
    sends = tables["campaign_sends"].merge(tables["campaigns"], on="campaign_id")
    assert (sends.loc[~sends["has_control"], "group"] == "treatment").all()
    control = sends[sends["group"] == "control"]
    assert control["opened_at"].isna().all() and control["clicked_at"].isna().all()
    assert sends.loc[sends["channel"] == "sms", "opened_at"].isna().all()
    conv = sends["converted_at"].notna()
    assert (sends.loc[conv, "revenue"] > 0).all() and (sends.loc[~conv, "revenue"] == 0).all()
    assert (sends.loc[conv, "converted_at"] > sends.loc[conv, "sent_at"]).all()


def test_leads_stages_are_consistent(tables):
    ld = tables["leads"]
    stages = ["created_at", "qualified_at", "opportunity_at", "quote_at"]
    for a, b in zip(stages, stages[1:], strict=False):
        assert (ld[b].isna() | (ld[b] >= ld[a])).all()
        assert (ld[a].notna() | ld[b].isna()).all()  # no stage without the one before
    won = ld[ld["outcome"] == "won"]
    assert won[["quote_at", "closed_at", "amount"]].notna().all().all()
    assert ld.loc[ld["outcome"] == "open", "closed_at"].isna().all()
    assert ld.loc[ld["outcome"] != "open", "closed_at"].notna().all()
    acc = ld.merge(tables["accounts"], on="account_id")
    assert (acc["created_at"] >= pd.to_datetime(acc["signup_date"])).all()


# --- planted truth --------------------------------------------------------------------------
def test_truth_has_the_documented_sections(truth):
    for key in (
        "purchase_process",
        "order_value",
        "segments",
        "size_band",
        "accounts",
        "funnel",
        "leads",
        "campaigns",
        "marketing",
        "supply",
        "seasonality",
        "cost_to_serve",
        "service",
        "returns",
    ):
        assert key in truth, key
    pp = truth["purchase_process"]
    assert pp["time_unit"] == "weeks" and {"r", "alpha", "a", "b"} <= set(pp)
    assert {"p", "q", "gamma"} <= set(truth["order_value"])
    accounts = truth["accounts"]
    n = len(accounts["account_id"])
    assert all(len(v) == n for v in accounts.values())
    assert set(truth["funnel"]["step_probabilities"]) == set(schema.CHANNELS)
    assert all(0 < v["b"] < 1 for v in truth["marketing"]["response"].values())
    assert set(truth["segments"]["archetypes"]) >= set(accounts["archetype"])
    assert set(truth["campaigns"]["uplift"]) == set(truth["segments"]["archetypes"])


def test_truth_accounts_match_the_orders(tables, truth, window):
    acc = pd.DataFrame(truth["accounts"]).set_index("account_id")
    assert set(acc.index) == set(tables["accounts"]["account_id"])
    orders = tables["orders"]
    counts = orders.groupby("account_id").size()
    assert (counts.reindex(acc.index, fill_value=0) == acc["n_orders"]).all()
    assert (acc["dropout_date"].isna() == acc["alive_at_end"]).all()
    dead = acc[~acc["alive_at_end"]]
    last = orders.groupby("account_id")["order_ts"].max().dt.normalize()
    # a dropped-out account has no orders after its drop-out date (the day of its last order)
    assert (last.loc[dead.index] == pd.to_datetime(dead["dropout_date"])).all()
    start, end = window
    assert (pd.to_datetime(dead["dropout_date"]) < end).all()


def test_archetypes_follow_the_rule(tables, truth):
    acc = pd.DataFrame(truth["accounts"]).set_index("account_id")
    rule, seg = truth["segments"]["rule"], truth["segments"]
    end = pd.Timestamp(truth["end_date"])
    accounts = tables["accounts"].set_index("account_id")
    tenure = (end - pd.to_datetime(accounts["signup_date"])).dt.days
    last = tables["orders"].groupby("account_id")["order_ts"].max().dt.normalize()
    recency = (end - last).dt.days
    for aid, row in acc.iterrows():
        if tenure[aid] < rule["new_tenure_days"]:
            want = "new"
        elif not row["alive_at_end"]:
            if recency[aid] > rule["lost_recency_days"]:
                want = "lost"
            else:
                want = "at_risk" if row["lambda"] >= seg["lambda_q50"] else "hibernating"
        elif row["lambda"] >= seg["lambda_q75"]:
            want = "champion"
        else:
            want = "loyal" if row["lambda"] >= seg["lambda_q50"] else "occasional"
        assert row["archetype"] == want, aid


def test_mean_orders_match_the_bgnbd_expectation(tables, truth):
    pp = truth["purchase_process"]
    acc = pd.DataFrame(truth["accounts"]).set_index("account_id")
    first = tables["orders"].groupby("account_id")["order_ts"].min()
    end = pd.Timestamp(truth["end_date"]) + pd.Timedelta(days=1)
    t_weeks = ((end - first) / pd.Timedelta(weeks=1)).loc[acc.index].to_numpy()
    repeats = acc["n_orders"].to_numpy() - 1
    expected = gen.bgnbd_expected_repeats(t_weeks, pp["r"], pp["alpha"], pp["a"], pp["b"])
    assert repeats.mean() == pytest.approx(expected.mean(), rel=0.6)
    # given each account's own lambda and p: E[X(T) | lambda, p] = (1 - exp(-lambda p T)) / p
    lam, p = acc["lambda"].to_numpy(), acc["p"].to_numpy()
    conditional = (1 - np.exp(-lam * p * t_weeks)) / p
    assert repeats.sum() == pytest.approx(conditional.sum(), rel=0.3)


def test_bgnbd_process_recovers_its_parameters():
    """4,000 accounts straight from the process (no files): means and an MLE fit."""
    cal = gen.make_calendar(gen.DEFAULT_END_DATE, 2)
    media = gen.simulate_paid_media(gen._rng(3, 2), cal, 2.0)
    weights = gen.signup_weights(cal, media, gen.unpaid_journeys_per_day(cal, 2.0))
    acc, book = gen.make_accounts(gen._rng(3, 3), cal, 4000, weights)
    t_weeks = (cal.end_us - acc.first_order_us) / gen.US_WEEK
    x = acc.n_orders - 1
    expected = gen.bgnbd_expected_repeats(t_weeks, **gen.BGNBD)
    assert x.mean() == pytest.approx(expected.mean(), rel=0.10)
    assert 8 <= acc.n_orders.mean() <= 12  # ~10 orders per account over the window
    last_ts = book.ts[book.starts + acc.n_orders - 1]
    first_day = acc.first_order_us // gen.US_DAY
    tx = (last_ts // gen.US_DAY - first_day) / 7.0
    big_t = (cal.end_us // gen.US_DAY - first_day) / 7.0

    def nll(theta):
        r, alpha, a, b = np.exp(theta)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + big_t)
        safe = np.maximum(b + x - 1, 1e-9)
        a4 = np.where(x > 0, np.log(a) - np.log(safe) - (r + x) * np.log(alpha + tx), -np.inf)
        return -(a1 + a2 + np.logaddexp(a3, a4)).sum()

    fit = minimize(nll, np.zeros(4), method="Nelder-Mead", options={"maxiter": 3000})
    r, alpha, a, b = np.exp(fit.x)
    assert r == pytest.approx(gen.BGNBD["r"], rel=0.15)
    assert alpha == pytest.approx(gen.BGNBD["alpha"], rel=0.2)
    assert a / (a + b) == pytest.approx(gen.BGNBD["a"] / (gen.BGNBD["a"] + gen.BGNBD["b"]), rel=0.3)


def _expected_repeats_direct(t, r, alpha, a, b):
    """FHL 2005 eq. 9 as printed (the generator's formula before the Euler transform)."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


@pytest.mark.parametrize(
    "params",
    [
        gen.BGNBD,
        {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43},  # FHL 2005's CDNOW estimates
        {"r": 2.0, "alpha": 10.0, "a": 3.0, "b": 5.0},
        {"r": 0.5, "alpha": 1.0, "a": 1.5, "b": 40.0},
    ],
)
def test_expected_repeats_stable_form_matches_the_direct_form(params):
    """On ordinary parameters and spans the Euler-transformed form equals the printed one; it
    also agrees with the model layer's own implementation (written independently)."""
    t = np.array([0.0, 0.5, 1.0, 13.0, 52.0, 104.0, 260.0])
    stable = gen.bgnbd_expected_repeats(t, **params)
    np.testing.assert_allclose(stable, _expected_repeats_direct(t, **params), rtol=1e-9, atol=0)
    np.testing.assert_allclose(stable, bgnbd_expected_purchases(params, t), rtol=1e-12)


def test_expected_repeats_stay_finite_where_the_direct_form_breaks():
    """Far out (z = t / (alpha + t) rounds to 1) the printed form is inf * 0; the stable one
    approaches its limit E[1/p] = (a + b - 1) / (a - 1)."""
    params = {"r": 0.85, "alpha": 2.4, "a": 1.2, "b": 14.0}
    t = np.array([1e12, 1e15, 1e17, 1e20])
    with np.errstate(all="ignore"):
        direct = _expected_repeats_direct(t, **params)
    stable = gen.bgnbd_expected_repeats(t, **params)
    limit = (params["a"] + params["b"] - 1) / (params["a"] - 1)
    assert not np.all(np.isfinite(direct))
    assert np.all(np.isfinite(stable)) and np.all(np.diff(stable) >= 0)
    assert stable[-1] == pytest.approx(limit, rel=1e-12)


def test_generator_modules_stay_small():
    """One module per simulated process, none over 400 lines; no function over 80 lines."""
    root = Path(gen.__file__).parent / "synth"
    for path in sorted(root.glob("*.py")) + [Path(gen.__file__)]:
        text = path.read_text(encoding="utf-8")
        if path.parent == root:
            assert text.count("\n") <= 400, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                assert node.end_lineno - node.lineno + 1 <= 80, f"{path.name}:{node.name}"


def test_order_revenue_tracks_the_drawn_value(tables, truth):
    err = truth["order_value"]["relative_error"]
    assert err["share_within_5pct"] > 0.95
    lines = tables["order_lines"]
    revenue = (
        (lines["quantity"] * lines["unit_price"] * (1 - lines["discount"]))
        .groupby(lines["order_id"])
        .sum()
    )
    ov = truth["order_value"]
    assert revenue.mean() == pytest.approx(ov["mean_order_value"], rel=0.5)
    size = tables["orders"].merge(tables["accounts"], on="account_id").set_index("order_id")
    by_band = revenue.groupby(size.loc[revenue.index, "size_band"]).mean()
    assert by_band["large"] > by_band["micro"]


def test_funnel_step_rates_match_the_truth(tables, truth):
    ev = tables["web_events"]
    anon = ev[ev["account_id"].isna()]
    first = anon.sort_values(["ts", "event_id"]).groupby("visitor_id").first()
    cutoff = pd.Timestamp(truth["end_date"]) - pd.Timedelta(days=30)
    keep = first.index[first["ts"] <= cutoff]
    anon = anon[anon["visitor_id"].isin(keep)]
    reached = pd.crosstab(anon["visitor_id"], anon["event"]) > 0
    channel = first.loc[reached.index, "channel"]
    steps = truth["funnel"]["steps"]
    checked = 0
    for ch, probs in truth["funnel"]["step_probabilities"].items():
        sub = reached[channel == ch]
        for prev, step in zip(steps, steps[1:], strict=False):
            n = int(sub[prev].sum()) if prev in sub else 0
            if n < 30:
                continue
            k = int(sub[step].sum()) if step in sub else 0
            p = probs[step]
            tol = 4 * np.sqrt(p * (1 - p) / n) + 0.01
            assert abs(k / n - p) <= tol, (ch, step, k, n, p)
            checked += 1
    assert checked >= 15


def test_known_visitors_have_one_account(tables):
    ev = tables["web_events"].dropna(subset=["account_id"])
    assert (ev.groupby("visitor_id")["account_id"].nunique() == 1).all()
    sess = ev.groupby("session_id")["visitor_id"].nunique()
    assert (sess == 1).all()
    # every session starts with a visit
    first = tables["web_events"].sort_values(["ts", "event_id"]).groupby("session_id").first()
    assert (first["event"] == "visit").all()


def test_cost_to_serve_accounts_lose_money(tables, truth):
    t = tables
    lines = t["order_lines"].merge(t["orders"][["order_id", "account_id"]], on="order_id")
    net = lines["quantity"] * (lines["unit_price"] * (1 - lines["discount"]) - lines["unit_cost"])
    contribution = net.groupby(lines["account_id"]).sum()
    ret = t["returns"].merge(t["orders"][["order_id", "account_id"]], on="order_id")
    ship = t["shipments"].merge(t["orders"][["order_id", "account_id"]], on="order_id")
    for df, col in ((ret, "refund"), (ship, "cost"), (t["service_tickets"], "cost")):
        contribution = contribution.sub(df.groupby("account_id")[col].sum(), fill_value=0)
    acc = pd.DataFrame(truth["accounts"]).set_index("account_id")
    assert np.allclose(contribution.reindex(acc.index, fill_value=0), acc["contribution"], atol=0.5)
    planted = truth["cost_to_serve"]["account_ids"]
    assert planted == acc.index[acc["cost_to_serve"]].tolist()
    if planted:
        assert (contribution.loc[planted] < 0).mean() >= 0.7
    others = contribution.drop(planted)
    assert (others < 0).mean() <= 0.05


def test_tickets_are_coherent(tables, truth):
    tk = tables["service_tickets"]
    assert (tk["first_response_at"].isna() | (tk["first_response_at"] >= tk["opened_at"])).all()
    assert (tk["resolved_at"].isna() | (tk["resolved_at"] >= tk["first_response_at"])).all()
    assert set(tk["channel"]) <= set(truth["service"]["channel_cost"])
    acc = tk.merge(tables["accounts"], on="account_id")
    assert (acc["opened_at"] >= pd.to_datetime(acc["signup_date"])).all()


def test_chinese_and_english_names_survive_parquet(tables, tmp_path):
    names = tables["accounts"]["company_name"]
    cjk = names.str.contains(r"[\u4e00-\u9fff]")
    assert 0.1 <= cjk.mean() <= 0.55
    assert names[cjk].str.endswith("公司").all()
    path = tmp_path / "names.parquet"
    pq.write_table(pa.table({"name": pa.array(names.tolist(), type=pa.string())}), path)
    assert pq.read_table(path)["name"].to_pylist() == names.tolist()
    emails = tables["contacts"]["email"].dropna()
    assert emails.str.fullmatch(r"[a-z.]+\d*@example\.(com|cn)").all()
    assert tables["contacts"]["name"].str.contains(r"[\u4e00-\u9fff]").any()


# --- determinism, CLI, atomic writes --------------------------------------------------------
def _digest(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_cli_and_determinism(tmp_path):
    api = tmp_path / "api"
    cli = tmp_path / "cli"
    other = tmp_path / "other"
    gen.generate(api, scale=0.02, seed=1, progress=False)
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    cmd = [sys.executable, "-m", "helpers.data", "generate", "--scale", "0.02", "--seed", "1"]
    done = subprocess.run(
        [*cmd, "--out", str(cli)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stderr
    assert (cli / "manifest.json").exists()
    assert _digest(api) == _digest(cli)  # same bytes, parquet and truth.json
    for name in schema.TABLE_NAMES:
        assert pq.read_table(api / name).equals(pq.read_table(cli / name)), name
    gen.generate(other, scale=0.02, seed=2, progress=False)
    assert not pq.read_table(api / "orders").equals(pq.read_table(other / "orders"))
    assert (api / "truth.json").read_bytes() != (other / "truth.json").read_bytes()


def test_generate_refuses_foreign_folders_and_cleans_up(tmp_path, monkeypatch):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        gen.generate(foreign, scale=0.02, progress=False)
    assert (foreign / "keep.txt").exists()

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(gen, "simulate_inventory", boom)
    with pytest.raises(RuntimeError):
        gen.generate(tmp_path / "crash", scale=0.02, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_invalid_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError):
        gen.generate(tmp_path / "x", scale=0)
    with pytest.raises(SystemExit):
        from helpers.data.__main__ import main

        main(["generate", "--scale", "abc"])
