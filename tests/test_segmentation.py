"""Segmentation: RFM scores and segments by hand, migration, exports, clusters against the
generator's planted clusters, and the RFM table on DuckDB against Spark."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from tiny import tiny_tables, write_tables

from helpers import segmentation as seg
from helpers.data import open_dataset, tables
from helpers.data import rfm as rfm_data

TODAY = dt.date(2026, 11, 25)


# ----------------------------------------------------------------------------- scores by hand


def test_quantile_scores_give_ties_one_score_whatever_the_order():
    v = pd.Series([1, 1, 1, 2, 3], name="frequency")
    # min ranks 1, 1, 1, 4, 5 -> 1 + floor(5 (rank - 1) / 5)
    assert seg.quantile_scores(v, 5).tolist() == [1, 1, 1, 4, 5]
    shuffled = v.iloc[[4, 0, 3, 1, 2]]
    assert seg.quantile_scores(shuffled, 5).tolist() == [5, 1, 4, 1, 1]
    rec = pd.Series([10, 10, 20, 30, 40], name="recency_days")
    # lower recency is better: goodness ranks 4, 4, 3, 2, 1
    assert seg.quantile_scores(rec, 5, higher_is_better=False).tolist() == [4, 4, 3, 2, 1]
    # 3 bins over 6 distinct values: 1 + floor(3 (r - 1) / 6)
    assert seg.quantile_scores(pd.Series(range(6)), 3).tolist() == [1, 1, 2, 2, 3, 3]


def test_quantile_scores_reject_bad_input():
    with pytest.raises(ValueError, match="n_bins"):
        seg.quantile_scores(pd.Series([1.0, 2.0]), 1)
    with pytest.raises(ValueError, match="'monetary' has missing values"):
        seg.quantile_scores(pd.Series([1.0, None], name="monetary"), 5)


def test_segment_grid_covers_every_score_pair_once():
    names = {seg._segment_of(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert names == set(seg.SEGMENTS) and len(seg.SEGMENTS) == 11
    for name, rs, fms, _, _ in seg.SEGMENT_RULES:  # each rule's own cells map to it
        for r in rs:
            for fm in fms:
                expected = "Lost" if (r, fm) == (1, 1) else name
                assert seg._segment_of(r, fm) == expected
    cases = {
        (5, 5): "Champions",
        (4, 5): "Loyal",
        (5, 2): "Potential loyalists",
        (5, 1): "New",
        (4, 1): "Promising",
        (3, 3): "Need attention",
        (3, 2): "About to sleep",
        (2, 4): "At risk",
        (1, 5): "Cannot lose them",
        (2, 1): "Hibernating",
        (1, 2): "Hibernating",
        (1, 1): "Lost",
    }
    for (r, fm), name in cases.items():
        assert seg._segment_of(r, fm) == name
    rules = seg.segment_rules()
    assert list(rules.segment) == list(seg.SEGMENTS)
    assert rules.set_index("segment").loc["Champions", ["R", "FM"]].tolist() == ["5", "4–5"]


def test_score_rfm_by_hand():
    df = pd.DataFrame(
        {
            "account_id": [5, 4, 3, 2, 1],
            "recency_days": [400, 200, 30, 30, 5],
            "frequency": [9, 1, 1, 2, 6],
            "monetary": [9000.0, 50.0, 80.0, 300.0, 2000.0],
        }
    )
    s = seg.score_rfm(df, 5).set_index("account_id")
    # R: recency 5 -> rank 5 -> 5; 30, 30 tie -> rank 3 -> 3; 200 -> 2; 400 -> 1
    assert s.R.to_dict() == {1: 5, 2: 3, 3: 3, 4: 2, 5: 1}
    # F: 1, 1 tie -> 1; 2 -> 3; 6 -> 4; 9 -> 5.  M: 50 -> 1, 80 -> 2, 300 -> 3, 2000 -> 4, 9000 -> 5
    assert s.F.to_dict() == {1: 4, 2: 3, 3: 1, 4: 1, 5: 5}
    assert s.M.to_dict() == {1: 4, 2: 3, 3: 2, 4: 1, 5: 5}
    # FM = floor((F + M) / 2 + 1/2): account 3 (1 + 2) / 2 = 1.5 -> 2 (half rounds up)
    assert s.FM.to_dict() == {1: 4, 2: 3, 3: 2, 4: 1, 5: 5}
    assert s.segment.to_dict() == {
        1: "Champions",
        2: "Need attention",
        3: "About to sleep",
        4: "Hibernating",
        5: "Cannot lose them",
    }


def test_three_bins_are_read_on_the_five_point_grid():
    df = pd.DataFrame(
        {
            "account_id": [1, 2, 3],
            "recency_days": [1, 50, 300],
            "frequency": [5, 3, 1],
            "monetary": [900.0, 300.0, 10.0],
        }
    )
    s = seg.score_rfm(df, 3).set_index("account_id")
    assert s.R.tolist() == [3, 2, 1]
    # ceil(score x 5 / 3): 3 -> 5, 2 -> 4, 1 -> 2; FM from (F5 + M5) / 2
    assert s.FM.tolist() == [5, 4, 2]
    assert s.segment.tolist() == ["Champions", "Loyal", "Hibernating"]


# ----------------------------------------------------------------------------- tiny dataset


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny data (accounts 1 and 2) plus a repeat order by account 1 on 2025-04-10."""
    t = tiny_tables()
    t["orders"].loc[2] = [
        3,
        1,
        pd.Timestamp("2025-04-10 09:00"),
        "WH-EAST",
        pd.Timestamp("2025-04-12"),
    ]
    t["order_lines"].loc[2] = [3, 1, "SKU-2", 10, 20.0, 12.0, 0.5]
    t["order_lines"].loc[3] = [3, 2, "SKU-1", 1, 100.0, 60.0, 0.0]
    return open_dataset(write_tables(t, tmp_path_factory.mktemp("seg")), today=TODAY)


def test_rfm_on_a_tiny_dataset_by_hand(tiny):
    s = seg.rfm(tiny, "2025-05-01", lookback_days=365).set_index("account_id")
    # account 1: orders 2025-03-01 10:00 (3 x 100 x 0.9 = 270) and 2025-04-10 09:00
    # (10 x 20 x 0.5 + 100 = 200); account 2: 2025-03-02 10:00 (5 x 20 = 100)
    assert s.frequency.to_dict() == {1: 2, 2: 1}
    assert s.monetary.to_dict() == pytest.approx({1: 470.0, 2: 100.0})
    assert s.recency_days.to_dict() == {1: 20, 2: 59}  # 20.6 and 59.6 days, floored
    assert s.tenure_days.to_dict() == {1: 60, 2: 59}
    # two accounts: the better one ranks 2 -> 1 + floor(5 x 1 / 2) = 3
    assert s.R.to_dict() == {1: 3, 2: 1} and s.FM.to_dict() == {1: 3, 2: 1}
    assert s.segment.to_dict() == {1: "Need attention", 2: "Lost"}


def test_window_excludes_the_analysis_day_and_old_orders(tiny):
    # lookback of 30 days before 2025-04-11: only the April order of account 1
    s = seg.rfm(tiny, "2025-04-11", lookback_days=30)
    assert s.account_id.tolist() == [1]
    assert s.frequency.tolist() == [1] and s.monetary.tolist() == pytest.approx([200.0])
    s = seg.rfm(tiny, "2025-04-10", lookback_days=60)  # the April order is on the analysis day
    assert s.set_index("account_id").frequency.to_dict() == {1: 1, 2: 1}


def test_single_purchase_accounts_share_the_lowest_frequency_score(tiny):
    s = seg.rfm(tiny, "2025-03-10", lookback_days=30)
    assert s.frequency.tolist() == [1, 1] and s.F.tolist() == [1, 1]


def test_empty_window_is_a_clear_error(tiny):
    with pytest.raises(ValueError, match="table 'orders' has no order between 2019"):
        seg.rfm(tiny, "2020-01-01", lookback_days=365)
    with pytest.raises(ValueError, match="no account to cluster"):
        seg.account_features(tiny, "2020-01-01", lookback_days=365)
    with pytest.raises(ValueError, match="lookback_days"):
        seg.rfm(tiny, "2025-05-01", lookback_days=0)


def test_default_analysis_date_is_the_day_after_the_last_order(tiny):
    start, end = seg.resolve_window(tiny, None, 10)
    assert end == pd.Timestamp("2025-04-11") and start == pd.Timestamp("2025-04-01")


def test_account_features_category_mix(tiny):
    f = seg.account_features(tiny, "2025-05-01", 365).set_index("account_id")
    # account 1: parts 270 + 100, fasteners 100 -> 370 / 470 and 100 / 470
    assert f.loc[1, "mix_parts"] == pytest.approx(370 / 470)
    assert f.loc[1, "mix_fasteners"] == pytest.approx(100 / 470)
    assert f.loc[2, "mix_fasteners"] == pytest.approx(1.0)
    assert f.loc[1, "avg_order_value"] == pytest.approx(235.0)
    assert f.loc[1, "industry"] == "manufacturing"


def test_feature_spec_and_k_range_are_checked(tiny):
    f = seg.account_features(tiny, "2025-05-01", 365)
    spec = seg.feature_spec(["frequency", "category_mix", "region"], f)
    assert spec.numeric == ["frequency"] and spec.categorical == ["region"]
    assert spec.mix == ["mix_fasteners", "mix_parts"]
    with pytest.raises(ValueError, match="unknown cluster feature 'colour'"):
        seg.feature_spec(["colour"], f)
    with pytest.raises(ValueError, match="cluster_features is empty"):
        seg.feature_spec([], f)
    with pytest.raises(ValueError, match="k_range"):
        seg.choose_k(f, spec, [1, 2])
    with pytest.raises(ValueError, match="only 2 accounts"):
        seg.choose_k(f, spec, [2, 3])


def test_export_keeps_only_consented_channels(tiny, tmp_path):
    s = seg.rfm(tiny, "2025-05-01", lookback_days=365)
    counts = seg.export_actions(tiny, s, tmp_path).set_index("segment")
    assert counts.loc["Need attention", "accounts"] == 1
    assert counts.loc["Lost", "contacts_with_consent"] == 1
    folder = tmp_path / "segmentation"
    assert counts.accounts.sum() == 2 and len(list(folder.glob("*.csv"))) == 11
    assert len(list(folder.glob("*.xlsx"))) == 11
    assert counts.loc["Need attention", "file"] == "need_attention.csv"
    need = pd.read_csv(folder / "need_attention.csv")
    # contact 1 consented to email only: email kept, phone dropped
    assert need.email.tolist() == ["zw@example.cn"] and need.phone.isna().all()
    assert need.suggested_action.iloc[0] == seg.ACTIONS["Need attention"]
    lost = pd.read_csv(folder / "lost.csv")
    # contact 2 consented to SMS only: the email must not be exported
    assert lost.email.isna().all() and "jane@example.com" not in lost.to_csv()
    assert pd.read_csv(folder / "champions.csv").empty


def test_action_lists_one_row_per_account_with_every_consenting_contact():
    """Two consenting contacts of one account are one row, joined in contact_id order; the
    lead owner is the latest lead's; a Lost account that ordered twice is to be tested, not
    excluded."""
    scored = pd.DataFrame(
        {
            "account_id": [1, 2, 3],
            "recency_days": [5, 400, 420],
            "frequency": [9, 2, 1],
            "monetary": [900.0, 80.0, 20.0],
            "tenure_days": [700, 700, 700],
            "R": [5, 1, 1],
            "F": [5, 1, 1],
            "M": [5, 1, 1],
            "FM": [5, 1, 1],
            "segment": ["Champions", "Lost", "Lost"],
        }
    )
    accounts = pd.DataFrame({"account_id": [1, 2, 3], "company_name": ["A", "B", "C"]})
    contacts = pd.DataFrame(
        {
            "contact_id": [11, 10, 12],
            "account_id": [1, 1, 2],
            "name": ["Zoe", "Yan", "Xi"],
            "email": ["z@a", "y@a", "x@b"],
            "phone": ["1", "2", "3"],
            "consent_email": [True, True, False],
            "consent_sms": [False, True, True],
        }
    )
    leads = pd.DataFrame(
        {
            "lead_id": [1, 2, 3],
            "account_id": [1, 1, None],
            "created_at": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-04-01"]),
            "owner": ["REP-1", "REP-2", "REP-3"],
        }
    )
    ds = _FakeDs(accounts=accounts, contacts=contacts, leads=leads)
    lists, counts = seg.action_lists(ds, scored)
    champions = lists["Champions"].iloc[0]
    assert champions.company_name == "A" and champions.lead_owner == "REP-2"
    assert champions["name"] == "Yan; Zoe" and champions.email == "y@a; z@a"
    assert champions.phone == "2; " and champions.contacts_with_consent == 2
    lost = lists["Lost"].set_index("account_id")
    assert lost.index.tolist() == [2, 3]  # highest revenue first
    assert lost.suggested_action.to_dict() == {
        2: rfm_data.LOST_OCCASIONAL_ACTION,
        3: rfm_data.LOST_ONCE_ONLY_ACTION,
    }
    assert pd.isna(lost.loc[2, "email"]) and lost.loc[2, "contacts_with_consent"] == 1
    assert pd.isna(lost.loc[3, "lead_owner"]) and lost.loc[3, "contacts_with_consent"] == 0
    assert counts.set_index("segment").loc["Lost"].tolist() == [2, 1, 1]
    assert rfm_data.lost_split(scored) == {"lost": 2, "once_only": 1, "occasional": 1}


class _FakeDs:
    """Just enough of a dataset for :func:`seg.action_lists`: named Ibis memtables."""

    def __init__(self, **frames):
        import ibis

        self.tables = {name: ibis.memtable(df) for name, df in frames.items()}

    def __contains__(self, name):
        return name in self.tables

    def __getattr__(self, name):
        try:
            return self.__dict__["tables"][name]
        except KeyError:
            raise AttributeError(name) from None


# ----------------------------------------------------------------------------- migration


def test_migration_matrix_and_who_moved_into_at_risk():
    before = pd.DataFrame(
        {"account_id": [1, 2, 3, 4], "segment": ["Loyal", "Loyal", "At risk", "Champions"]}
    )
    after = pd.DataFrame(
        {"account_id": [1, 2, 3, 5], "segment": ["At risk", "Loyal", "At risk", "New"]}
    )
    m = seg.migration(before, after)
    assert m.shape == (12, 12) and m.values.sum() == 5
    assert m.loc["Loyal", "At risk"] == 1 and m.loc["Loyal", "Loyal"] == 1
    assert m.loc["At risk", "At risk"] == 1
    assert m.loc["Champions", seg.NO_SEGMENT] == 1 and m.loc[seg.NO_SEGMENT, "New"] == 1
    came = seg.moved_into(m, "At risk")
    row = came.iloc[0]
    assert (row.from_segment, row.accounts, row.of) == ("Loyal", 1, 2)
    assert row.rate == 0.5 and row.ci_low < 0.5 < row.ci_high
    assert "At risk" not in set(came.from_segment)
    with pytest.raises(ValueError, match="segment 'Gone'"):
        seg.moved_into(m, "Gone")


def test_segment_summary_shares():
    scored = pd.DataFrame(
        {
            "segment": ["Champions", "Champions", "Lost", "Lost"],
            "monetary": [600.0, 200.0, 100.0, 100.0],
            "recency_days": [1, 3, 300, 500],
            "frequency": [5, 3, 1, 1],
        }
    )
    s = seg.segment_summary(scored).set_index("segment")
    assert len(s) == 11 and s.loc["Loyal", "accounts"] == 0
    assert s.loc["Champions", "revenue_share"] == pytest.approx(0.8)
    assert s.loc["Lost", "account_share"] == 0.5
    assert s.loc["Lost", "mean_recency_days"] == 400
    assert s.loc["Champions", "ci_low"] < 0.5 < s.loc["Champions", "ci_high"]


# ----------------------------------------------------------------------------- planted truth


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from helpers.data.generate import generate

    root = tmp_path_factory.mktemp("seg-gen") / "data"
    generate(root, scale=0.5, seed=3, progress=False)
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    return open_dataset(root), truth


def test_clusters_recover_the_planted_clusters(generated):
    from sklearn.metrics import adjusted_rand_score

    ds, truth = generated
    features = seg.account_features(ds, None, lookback_days=730)
    notebook_default = ["category_mix", "industry", "region"]
    spec = seg.feature_spec(notebook_default, features)
    scores = seg.choose_k(features, spec, range(2, 9), seed=42)
    k = int(scores.loc[scores.best, "k"].iloc[0])
    assert k == len(truth["clusters"]["names"])  # the silhouette finds the planted number
    # on a random half of the accounts (the sampled silhouette of large datasets) it still does,
    # and a sample as large as the data is the exact silhouette
    half = seg.choose_k(features, spec, range(2, 9), seed=42, silhouette_sample=len(features) // 2)
    assert int(half.loc[half.best, "k"].iloc[0]) == k
    assert not np.allclose(half.silhouette, scores.silhouette, rtol=0, atol=1e-12)
    whole = seg.choose_k(features, spec, range(2, 9), seed=42, silhouette_sample=len(features))
    pd.testing.assert_frame_equal(whole, scores)
    pipe, labels = seg.fit_clusters(features, spec, k, seed=42)
    planted = pd.DataFrame(truth["accounts"]).set_index("account_id").cluster
    ari = adjusted_rand_score(planted.loc[features.account_id], labels)
    print(f"ARI against the planted clusters: {ari:.3f} (k = {k}, {len(features)} accounts)")
    assert ari >= 0.9
    # each cluster's description names its planted industry and preferred category
    profiles = seg.cluster_profiles(features, labels, spec)
    text = " ".join(seg.describe_clusters(profiles, features))
    for p in truth["clusters"]["profiles"].values():
        assert p["industry"] in text and p["preferred_category"] in text
    xy, explained = seg.pca_map(pipe, features, labels)
    assert len(xy) == len(features) and 0 < explained.sum() <= 1
    z = seg.standardised_means(features, labels, spec)
    assert z.shape[0] == k and np.isfinite(z.values).all()


def test_rfm_scores_track_the_planted_purchase_rate(generated):
    ds, truth = generated
    s = seg.rfm(ds, None, lookback_days=730).set_index("account_id")
    acc = pd.DataFrame(truth["accounts"]).set_index("account_id").loc[s.index]
    # accounts still alive at the end are more recent than those that dropped out
    assert s.R[acc.alive_at_end].mean() > s.R[~acc.alive_at_end].mean() + 1
    # Champions and Loyal buy at a higher planted rate than Hibernating and Lost accounts
    lam = acc["lambda"].groupby(s.segment).median()
    assert lam["Champions"] > 1.3 * acc["lambda"].median()
    assert min(lam["Champions"], lam["Loyal"]) > 1.3 * max(lam["Hibernating"], lam["Lost"])


# ----------------------------------------------------------------------------- DuckDB vs Spark


def test_rfm_is_identical_on_duckdb_and_spark(small_sample, spark):
    duck = open_dataset(small_sample)
    sprk = open_dataset(small_sample, engine="spark", spark=spark)
    a = seg.rfm(duck, None, lookback_days=365)
    b = seg.rfm(sprk, None, lookback_days=365)
    assert len(a) > 50
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, check_dtype=False)
    assert (a[["R", "F", "M", "FM", "segment"]] == b[["R", "F", "M", "FM", "segment"]]).all().all()


# ----------------------------------------------------------------------------- imported data


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The tiny data as an import might have it: no contacts, no products (and none of the
    other tables), plus a guest account −1 (sales without a customer) with one order."""
    t = tiny_tables()
    t = {name: t[name] for name in ("accounts", "orders", "order_lines")}
    acc = t["accounts"]
    acc.loc[2] = [-1, "guest checkout (France)", "unknown", "France", "unknown"] + [
        acc.signup_date.iloc[0],
        "guest",
    ]
    t["orders"].loc[2] = [3, -1, pd.Timestamp("2025-04-10 09:00"), "unknown", pd.NaT]
    t["order_lines"].loc[2] = [3, 1, "SKU-2", 10, 20.0, 12.0, 0.0]
    root = write_tables(t, tmp_path_factory.mktemp("imported"))
    return root


def test_open_tables_opens_what_the_folder_has(imported, tiny):
    ds = seg.open_tables(imported, today=TODAY)
    assert sorted(ds) == ["accounts", "order_lines", "orders"]
    assert tables.missing_optional(ds, seg.OPTIONAL_TABLES) == seg.OPTIONAL_TABLES
    assert tables.missing_optional(tiny, seg.OPTIONAL_TABLES) == {}
    with pytest.raises(Exception, match="table 'orders' is missing"):
        seg.open_tables(imported.parent, today=TODAY)


def test_guest_accounts_are_left_out(imported, tiny):
    ds = seg.open_tables(imported, today=TODAY)
    customers, n = tables.customers_only(ds)
    assert n == 1
    assert sorted(customers.accounts.account_id.to_pandas()) == [1, 2]
    s = seg.rfm(customers, "2025-05-01", lookback_days=365)
    assert s.account_id.tolist() == [1, 2]  # the guest's 200 of revenue is not scored
    assert s.monetary.tolist() == pytest.approx([270.0, 100.0])
    assert tables.customers_only(tiny) == (tiny, 0)


def test_features_and_exports_without_products_or_contacts(imported, tmp_path):
    customers, _ = tables.customers_only(seg.open_tables(imported, today=TODAY))
    f = seg.account_features(customers, "2025-05-01", 365)
    assert not [c for c in f.columns if c.startswith(seg.MIX_PREFIX)]
    assert f.account_id.tolist() == [1, 2]
    s = seg.rfm(customers, "2025-05-01", lookback_days=365)
    counts = seg.export_actions(customers, s, tmp_path)
    assert counts.columns.tolist() == ["segment", "accounts", "file"]
    folder = tmp_path / "segmentation"
    assert counts.accounts.sum() == 2 and len(list(folder.glob("*.csv"))) == 11
    # account 2 (100 on 2025-03-02) is more recent, account 1 (270 on 2025-03-01) spent more:
    # account 2: R 3, F 1, M 1 -> FM 1 -> About to sleep; account 1: R 1, F 1, M 3 -> FM 2 ->
    # Hibernating
    assert s.set_index("account_id").segment.to_dict() == {1: "Hibernating", 2: "About to sleep"}
    sleep = pd.read_csv(folder / "about_to_sleep.csv")
    assert sleep.columns.tolist() == [c for c in seg.ACCOUNT_COLUMNS if c != "lead_owner"]
    assert sleep.account_id.tolist() == [2] and sleep.company_name.tolist() == ["Acme Tools Ltd"]


def test_informative_features_drop_single_valued_ones():
    table = pd.DataFrame(
        {
            "industry": ["unknown"] * 3,
            "region": ["uk", "fr", "uk"],
            "mix_unknown": [1.0] * 3,
            "frequency": [1, 2, 3],
        }
    )
    kept, dropped = seg.informative_features(["category_mix", "industry", "region"], table)
    assert kept == ["region", "recency_days", "frequency", "monetary"]
    assert dropped == {
        "category_mix": "one product category",
        "industry": "every account has the value 'unknown'",
    }
    kept, dropped = seg.informative_features(["frequency", "industry"], table)
    assert kept == ["frequency"] and list(dropped) == ["industry"]  # numbers asked: none added
    kept, dropped = seg.informative_features(["category_mix"], table.drop(columns="mix_unknown"))
    assert dropped == {"category_mix": "no products table"}
    assert seg.informative_features(["region"], table) == (["region"], {})


def test_profiles_skip_a_firmographic_with_one_value():
    table = pd.DataFrame(
        {
            "recency_days": [1, 2, 30, 40],
            "frequency": [5, 6, 1, 1],
            "monetary": [500.0, 600.0, 10.0, 20.0],
            "tenure_days": [100, 100, 50, 50],
            "avg_order_value": [100.0, 100.0, 10.0, 20.0],
            "industry": ["unknown"] * 4,
            "region": ["uk", "uk", "fr", "uk"],
            "size_band": ["unknown"] * 4,
            "mix_music": [1.0] * 4,
        }
    )
    spec = seg.feature_spec(["frequency", "monetary"], table)  # overall median monetary 260
    profiles = seg.cluster_profiles(table, [0, 0, 1, 1], spec)
    assert [c for c in profiles.columns if c.startswith("top_")] == [
        "top_region",
        "top_region_share",
    ]
    text = seg.describe_clusters(profiles, table)
    assert text[0] == "2 accounts; mostly uk region (100%); median spend 2.1× the median account"
    assert "unknown" not in " ".join(text) and "music" not in " ".join(text)
