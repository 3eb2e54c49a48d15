"""Who our accounts are, which carry the revenue, which are slipping away: the segmentation
report's helpers.

- **RFM** (Hughes 1994, *Strategic Database Marketing*): per-account recency, frequency and
  monetary value in a lookback window, aggregated as Ibis expressions (DuckDB or Spark); only
  the one-row-per-account result reaches pandas, where the quantile scores and the named
  segments (the usual 11-segment grid on R and the mean of F and M) are assigned.
- **Migration**: the segments at two dates one period apart, as a transition matrix.
- **Clustering**: a scikit-learn Pipeline (log + standard scaling of the RFM numbers, the
  product-category revenue mix as proportions, one-hot firmographics, KMeans), k chosen by the
  silhouette (Rousseeuw 1987) with the elbow (inertia) shown beside it.
- **Actions**: per segment, the accounts (company name, lead owner), their contacts who
  consented, and a suggested action (Lost split into once-only and occasional buyers), shown
  by the report as lists people act on (``present.todo_list``: the first rows on the page, the
  whole list with the contacts' personal data in ``<exports>/segmentation/<segment>.csv`` and
  ``.xlsx``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from helpers import validate
from helpers.data import measures, tables
from helpers.data.rfm import (  # the RFM of a date lives in the data layer (campaigns use it)
    ACTIONS,
    CONTACT_LIST_COLUMNS,
    SEGMENT_RULES,
    SEGMENTS,
    _segment_of,  # noqa: F401  (tests check the grid through it)
    account_owners,
    contacts_per_account,
    lost_split,
    quantile_scores,
    resolve_window,
    rfm,
    rfm_expr,
    score_rfm,
    suggested_actions,
    to_five,  # noqa: F401
)
from helpers.exports import write_list
from helpers.sections import Analysis, Section
from helpers.stats import wilson_interval

__all__ = [
    "ACTIONS",
    "CORE",
    "NO_SEGMENT",
    "OPTIONAL_TABLES",
    "RFM_NUMERIC",
    "SECTIONS",
    "SEGMENTS",
    "SEGMENT_RULES",
    "SILHOUETTE_SAMPLE",
    "account_features",
    "action_lists",
    "analyse",
    "choose_k",
    "cluster_profiles",
    "describe_clusters",
    "export_actions",
    "feature_spec",
    "fit_clusters",
    "informative_features",
    "list_name",
    "migration",
    "migration_fit",
    "moved_into",
    "open_tables",
    "pca_map",
    "quantile_scores",
    "resolve_window",
    "rfm",
    "rfm_expr",
    "score_rfm",
    "segment_rules",
    "segment_summary",
    "standardised_means",
]

# ----------------------------------------------------------------------------- RFM

NO_SEGMENT = "No orders in window"


def segment_rules() -> pd.DataFrame:
    """The named-segment grid as a table (segment, R scores, FM scores, meaning, action)."""

    def span(v: tuple[int, ...]) -> str:
        return str(v[0]) if len(v) == 1 else f"{v[0]}–{v[-1]}"

    rows = []
    for name, rs, fms, text, action in SEGMENT_RULES:
        fm = span(fms) + (", except R 1 with FM 1 (Lost)" if name == "Hibernating" else "")
        rows.append({"segment": name, "R": span(rs), "FM": fm, "meaning": text, "action": action})
    return pd.DataFrame(rows)


def segment_summary(scored: pd.DataFrame) -> pd.DataFrame:
    """Per segment (grid order): accounts, share of accounts with a 95 % Wilson interval,
    revenue, revenue share = segment monetary / total monetary, mean recency/frequency."""
    total_n, total_rev = len(scored), float(scored.monetary.sum())
    g = scored.groupby("segment")
    out = pd.DataFrame(
        {
            "accounts": g.size(),
            "revenue": g.monetary.sum(),
            "mean_recency_days": g.recency_days.mean(),
            "mean_frequency": g.frequency.mean(),
        }
    ).reindex(list(SEGMENTS))
    out["accounts"] = out.accounts.fillna(0).astype("int64")
    out["revenue"] = out.revenue.fillna(0.0)
    out["account_share"] = out.accounts / total_n
    out["ci_low"], out["ci_high"] = wilson_interval(out.accounts, np.full(len(out), total_n))
    out["revenue_share"] = out.revenue / total_rev if total_rev > 0 else np.nan
    return out.rename_axis("segment").reset_index()


# ----------------------------------------------------------------------------- migration


def migration(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Transition matrix of counts: rows = segment at the earlier date, columns = segment at the
    later one; an account with no order in a window is in ``NO_SEGMENT`` there."""
    both = pd.merge(
        previous[["account_id", "segment"]],
        current[["account_id", "segment"]],
        on="account_id",
        how="outer",
        suffixes=("_before", "_after"),
    ).fillna({"segment_before": NO_SEGMENT, "segment_after": NO_SEGMENT})
    order = [*SEGMENTS, NO_SEGMENT]
    m = pd.crosstab(both.segment_before, both.segment_after)
    return m.reindex(index=order, columns=order, fill_value=0).astype("int64")


def moved_into(matrix: pd.DataFrame, segment: str) -> pd.DataFrame:
    """Where the accounts now in ``segment`` came from (excluding those already in it): per
    earlier segment, accounts that moved in, the earlier segment's size, and the rate
    moved / size with a 95 % Wilson interval. Sorted by accounts moved, largest first."""
    if segment not in matrix.columns:
        raise ValueError(f"segment {segment!r} is not in the transition matrix")
    moved = matrix[segment].drop(segment)
    size = matrix.sum(axis=1).drop(segment)
    out = pd.DataFrame({"from_segment": moved.index, "accounts": moved.values, "of": size.values})
    out = out[out.of > 0]
    out["rate"] = out.accounts / out.of
    out["ci_low"], out["ci_high"] = wilson_interval(out.accounts, out.of)
    return out.sort_values("accounts", ascending=False, kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- clustering

RFM_NUMERIC = ("recency_days", "frequency", "monetary", "tenure_days", "avg_order_value")
FIRMOGRAPHICS = ("industry", "region", "size_band", "acquisition_channel")
CATEGORY_MIX = "category_mix"
MIX_PREFIX = "mix_"


def account_features(ds, analysis_date=None, lookback_days: int = 365) -> pd.DataFrame:
    """One row per account with an order in the window: the RFM numbers, avg_order_value =
    monetary / frequency, the revenue share of each product category in the window
    (``mix_<category>``, summing to 1 per account; none when ``ds`` has no ``products``), and
    the firmographics of ``accounts``."""
    start, end = resolve_window(ds, analysis_date, lookback_days)
    base = rfm_expr(ds, start, end).to_pandas()
    if base.empty:
        raise ValueError(
            f"table 'orders' has no order between {start:%Y-%m-%d} and {end:%Y-%m-%d}: "
            "no account to cluster"
        )
    mix = pd.DataFrame(index=pd.Index([], name="account_id", dtype="int64"))
    if "products" in ds:  # without it, no category mix (an import may not have one)
        lines, orders, products = ds.order_lines, ds.orders, ds.products
        o = orders.filter(
            (orders.order_ts >= ibis.timestamp(start)) & (orders.order_ts < ibis.timestamp(end))
        )
        j = lines.join(o, "order_id").join(products, "sku")
        mix = (
            j.group_by([j.account_id, j.category])
            .aggregate(revenue=measures.line_revenue(j).sum())
            .to_pandas()
            .pivot_table(index="account_id", columns="category", values="revenue", fill_value=0.0)
        )
        mix = mix.div(mix.sum(axis=1).where(lambda s: s > 0), axis=0).fillna(0.0)
        mix.columns = [f"{MIX_PREFIX}{c}" for c in mix.columns]
    acc = ds.accounts.select("account_id", *FIRMOGRAPHICS).to_pandas()
    out = base.merge(mix.reset_index(), on="account_id", how="left").merge(acc, on="account_id")
    mix_cols = [c for c in out.columns if c.startswith(MIX_PREFIX)]
    out[mix_cols] = out[mix_cols].fillna(0.0)
    out["avg_order_value"] = out.monetary / out.frequency
    return out.sort_values("account_id").reset_index(drop=True)


@dataclass
class _FeatureSpec:
    """Which columns feed the clustering, by how they are transformed."""

    numeric: list[str]
    mix: list[str]
    categorical: list[str]

    @property
    def names(self) -> list[str]:
        return [*self.numeric, *self.mix, *self.categorical]


def feature_spec(features: list[str], table: pd.DataFrame) -> _FeatureSpec:
    """Split the ``features`` parameter into numeric RFM columns, the category mix (the word
    ``category_mix`` stands for every ``mix_`` column) and categorical firmographics."""
    if not features:
        raise ValueError("parameter cluster_features is empty: name at least one feature")
    numeric, mix, categorical = [], [], []
    for f in features:
        if f in RFM_NUMERIC:
            numeric.append(f)
        elif f == CATEGORY_MIX:
            mix = sorted(c for c in table.columns if c.startswith(MIX_PREFIX))
        elif f in FIRMOGRAPHICS:
            categorical.append(f)
        else:
            allowed = ", ".join([*RFM_NUMERIC, CATEGORY_MIX, *FIRMOGRAPHICS])
            raise ValueError(
                f"unknown cluster feature {f!r} (parameter cluster_features): use {allowed}"
            )
    return _FeatureSpec(numeric, mix, categorical)


def _cluster_pipeline(spec: _FeatureSpec, k: int, seed: int = 0):
    """scikit-learn Pipeline: numeric RFM columns → log1p → StandardScaler (they are heavily
    right-skewed); category-mix shares kept as proportions (already on one 0–1 scale;
    standardising would blow up the noise of rare categories); firmographics → OneHotEncoder;
    then KMeans(k, n_init=10, random_state=seed) (Lloyd's algorithm, k-means++ start)."""
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    parts = []
    if spec.numeric:
        log = FunctionTransformer(np.log1p, feature_names_out="one-to-one")
        parts.append(("numeric", make_pipeline(log, StandardScaler()), spec.numeric))
    if spec.mix:
        parts.append(("mix", "passthrough", spec.mix))
    if spec.categorical:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append(("firmographics", onehot, spec.categorical))
    return Pipeline(
        [
            ("prepare", ColumnTransformer(parts)),
            ("kmeans", KMeans(n_clusters=int(k), n_init=10, random_state=seed)),
        ]
    )


SILHOUETTE_SAMPLE = 10_000


def choose_k(
    table: pd.DataFrame,
    spec: _FeatureSpec,
    k_range,
    seed: int = 0,
    silhouette_sample: int = SILHOUETTE_SAMPLE,
) -> pd.DataFrame:
    """For each k: inertia (within-cluster sum of squares, the elbow) and the mean silhouette
    s = mean over accounts of (b − a) / max(a, b) (Rousseeuw 1987; sklearn
    ``silhouette_score``). The chosen k has the highest silhouette (``best`` column).

    The silhouette needs every pairwise distance (n² / 2: 20 billion at 200k accounts), so
    above ``silhouette_sample`` accounts it is the mean over a random sample of that many
    (sklearn's ``sample_size``, drawn with ``seed``); KMeans itself always uses every account.
    """
    from sklearn.metrics import silhouette_score

    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 2:
        raise ValueError(f"parameter k_range needs values of at least 2, got {list(k_range)}")
    if ks[-1] >= len(table):
        raise ValueError(f"k_range goes up to {ks[-1]} but only {len(table)} accounts to cluster")
    sample = int(silhouette_sample) if len(table) > silhouette_sample else None
    rows = []
    for k in ks:
        pipe = _cluster_pipeline(spec, k, seed)
        labels = pipe.fit_predict(table)
        x = pipe[:-1].transform(table)
        rows.append(
            {
                "k": k,
                "inertia": pipe[-1].inertia_,
                "silhouette": silhouette_score(x, labels, sample_size=sample, random_state=seed),
            }
        )
    out = pd.DataFrame(rows)
    out["best"] = out.silhouette == out.silhouette.max()
    return out


def fit_clusters(table: pd.DataFrame, spec: _FeatureSpec, k: int, seed: int = 0):
    """Fit the pipeline with ``k`` clusters; returns (fitted pipeline, labels 0..k−1 ordered by
    descending cluster size, so cluster 0 is the largest; ties broken by the KMeans label)."""
    if len(table) <= k:
        raise ValueError(f"{len(table)} accounts cannot make {k} clusters")
    pipe = _cluster_pipeline(spec, k, seed)
    raw = pipe.fit_predict(table)
    sizes = np.bincount(raw, minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], c))
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    return pipe, relabel[raw]


def cluster_profiles(table: pd.DataFrame, labels, spec: _FeatureSpec) -> pd.DataFrame:
    """Per cluster: accounts, revenue share, medians of the numeric RFM columns, the mean
    category mix, and the most common value of each firmographic with its share (skipping a
    firmographic with one value for every account, which says nothing about a cluster)."""
    t = table.assign(cluster=np.asarray(labels))
    g = t.groupby("cluster")
    out = pd.DataFrame({"accounts": g.size(), "revenue_share": g.monetary.sum() / t.monetary.sum()})
    for c in RFM_NUMERIC:
        out[f"median_{c}"] = g[c].median()
    mix = [c for c in t.columns if c.startswith(MIX_PREFIX)]
    for c in mix:
        out[c] = g[c].mean()
    for c in spec.categorical or list(FIRMOGRAPHICS[:3]):
        if t[c].nunique(dropna=False) < 2:
            continue  # one value for every account ('unknown' on an import): no profile
        top = g[c].agg(lambda s: s.value_counts().sort_index().idxmax())
        out[f"top_{c}"] = top
        out[f"top_{c}_share"] = [(t.loc[t.cluster == k, c] == v).mean() for k, v in top.items()]
    return out.reset_index()


def standardised_means(table: pd.DataFrame, labels, spec: _FeatureSpec) -> pd.DataFrame:
    """Heat-map matrix: rows = clusters, columns = features, value = (cluster mean − overall
    mean) / overall standard deviation, on the transformed numeric columns (log1p), the mix
    shares and each one-hot firmographic level (``industry=retail``)."""
    cols = {}
    for c in spec.numeric:
        cols[c] = np.log1p(table[c])
    for c in spec.mix:
        cols[c.removeprefix(MIX_PREFIX)] = table[c]
    for c in spec.categorical:
        for v in sorted(table[c].unique()):
            cols[f"{c}={v}"] = (table[c] == v).astype(float)
    x = pd.DataFrame(cols)
    sd = x.std(ddof=0).replace(0, np.nan)
    z = (x.groupby(np.asarray(labels)).mean() - x.mean()) / sd
    return z.fillna(0.0).rename_axis("cluster")


def describe_clusters(profiles: pd.DataFrame, table: pd.DataFrame) -> pd.Series:
    """One computed sentence per cluster: size, dominant firmographics (shown when ≥ 50 % of
    the cluster), the largest category of its revenue mix, and its median monetary value
    against the median of all accounts."""
    overall = float(table.monetary.median())
    mix = [c for c in profiles.columns if c.startswith(MIX_PREFIX)]
    out = {}
    for _, p in profiles.iterrows():
        parts = [f"{int(p.accounts)} accounts"]
        firmo = [
            f"{p[f'top_{c}']} {c.replace('_', ' ')} ({p[f'top_{c}_share']:.0%})"
            for c in FIRMOGRAPHICS
            if f"top_{c}" in p and p[f"top_{c}_share"] >= 0.5
        ]
        if firmo:
            parts.append("mostly " + ", ".join(firmo))
        if len(mix) > 1:  # with one category, its 100 % says nothing
            top = max(mix, key=lambda c: p[c])
            parts.append(f"{p[top]:.0%} of revenue in {top.removeprefix(MIX_PREFIX)}")
        ratio = p.median_monetary / overall if overall > 0 else math.nan
        parts.append(f"median spend {ratio:.1f}× the median account")
        out[int(p.cluster)] = "; ".join(parts)
    return pd.Series(out, name="description").rename_axis("cluster")


def pca_map(pipe, table: pd.DataFrame, labels) -> tuple[pd.DataFrame, np.ndarray]:
    """2-D PCA of the pipeline's transformed features (sklearn PCA): (frame of pc1, pc2,
    cluster; explained variance ratio of the two components)."""
    from sklearn.decomposition import PCA

    x = pipe[:-1].transform(table)
    pca = PCA(n_components=2, random_state=0).fit(x)
    xy = pca.transform(x)
    frame = pd.DataFrame({"pc1": xy[:, 0], "pc2": xy[:, 1], "cluster": np.asarray(labels)})
    return frame, pca.explained_variance_ratio_


# ----------------------------------------------------------------------------- exports

#: The columns of the per-segment action lists about the account (``lead_owner`` only when the
#: dataset has leads: the owner of the account's latest lead).
ACCOUNT_COLUMNS = (
    "account_id",
    "company_name",
    "segment",
    "lead_owner",
    "R",
    "F",
    "M",
    "recency_days",
    "frequency",
    "monetary",
    "suggested_action",
)
#: The contact columns of a list when the dataset has contacts: how many consented, and their
#: names, e-mails and phones joined by "; " (personal data: in the files, never on the page).
CONTACT_COLUMNS = CONTACT_LIST_COLUMNS
#: The report name the lists are filed under (``<exports>/segmentation/<list>.csv``).
REPORT = "segmentation"


def list_name(segment: str) -> str:
    """The file name of a segment's action list: 'Need attention' -> 'need_attention'."""
    return re.sub(r"[^a-z0-9]+", "_", segment.lower()).strip("_")


def action_lists(ds, scored: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """One list per segment (grid order, keyed by segment): each account with company name,
    lead owner (when ``ds`` has leads: :func:`helpers.data.rfm.account_owners`), scores and
    suggested action (:func:`helpers.data.rfm.suggested_actions`: Lost splits into once-only
    and occasional buyers), and, when ``ds`` has contacts, its consenting contacts
    (:data:`CONTACT_COLUMNS`); highest revenue first. With it a table of counts per segment
    (accounts, accounts_with_contact, contacts_with_consent when there are contacts)."""
    with_contacts, with_owner = "contacts" in ds, "leads" in ds
    names = ds.accounts.select("account_id", "company_name").to_pandas()
    acc = scored.merge(names, on="account_id", how="left")
    acc["suggested_action"] = suggested_actions(acc).to_numpy()
    if with_owner:
        acc = acc.merge(account_owners(ds), on="account_id", how="left")
    columns = [c for c in ACCOUNT_COLUMNS if c != "lead_owner" or with_owner]
    if with_contacts:
        acc = acc.merge(contacts_per_account(ds), on="account_id", how="left")
        acc["contacts_with_consent"] = acc.contacts_with_consent.fillna(0).astype("int64")
        columns += list(CONTACT_COLUMNS)
    acc = acc.sort_values(["monetary", "account_id"], ascending=[False, True])
    lists, rows = {}, []
    for segment in SEGMENTS:
        one = acc.loc[acc.segment == segment, columns].reset_index(drop=True)
        lists[segment] = one
        row = {"segment": segment, "accounts": len(one)}
        if with_contacts:
            row["accounts_with_contact"] = int((one.contacts_with_consent > 0).sum())
            row["contacts_with_consent"] = int(one.contacts_with_consent.sum())
        rows.append(row)
    return lists, pd.DataFrame(rows)


def export_actions(ds, scored: pd.DataFrame, out_dir=None) -> pd.DataFrame:
    """Write each segment's :func:`action_lists` list in full to
    ``<out_dir>/segmentation/<list_name>.csv`` and ``.xlsx`` (:func:`helpers.exports.write_list`;
    ``out_dir`` None: ``helpers.config.EXPORTS_DIR``), as the report's ``present.todo_list``
    does; returns the counts per segment with the file written. Personal data: these files
    never go into a report page. Without a ``contacts`` table the lists hold accounts only."""
    lists, counts = action_lists(ds, scored)
    files = [write_list(lists[s], REPORT, list_name(s), out_dir).csv.name for s in counts.segment]
    return counts.assign(file=files)


# ----------------------------------------------------------------------------- tables

#: The report's core: it builds from these alone (``requires:`` in reports.yml); an
#: ``accounts`` table is derived from the order ids' accounts when the dataset has none.
CORE = ("orders", "order_lines")
REQUIRED_TABLES = CORE
#: Tables used when the dataset has them, with what is left out without them (no section is
#: skipped for their lack: the clusters lose the category mix, the action lists the contacts).
OPTIONAL_TABLES = {
    "products": "the clusters' product-category mix",
    "contacts": "the contacts in the action lists (they list accounts only)",
    "leads": "the lead owner in the action lists (the owner of each account's latest lead)",
}
#: The report's sections; none needs a table beyond the core (see :data:`OPTIONAL_TABLES`).
#: Segment migration is skipped when the history is too short for ``migration_days``.
SECTIONS = (
    Section("rfm", "RFM segments"),
    Section("migration", "Segment migration"),
    Section("clusters", "Clusters"),
    Section("actions", "Actions and exports"),
)


def open_tables(data_dir=None, engine: str = "duckdb", **options):
    """``helpers.data.tables.open_tables`` on this report's tables: :data:`CORE` and
    ``accounts`` (derived from the orders' account ids when the folder has none), and each of
    :data:`OPTIONAL_TABLES` the dataset folder has, so an import without contacts or products
    opens."""
    return tables.open_tables(data_dir, (*CORE, "accounts"), OPTIONAL_TABLES, engine, **options)


def informative_features(
    features: list[str], table: pd.DataFrame
) -> tuple[list[str], dict[str, str]]:
    """The ``cluster_features`` that can separate accounts, and those dropped with the reason:
    a firmographic with a single value over all accounts, a category mix with a single category
    (or none: no ``products`` table), a numeric column with a single value. When one is dropped
    and no numeric RFM column was asked for, the RFM numbers (recency_days, frequency,
    monetary) are added, so an import whose firmographics are all 'unknown' still clusters."""
    kept, dropped = [], {}
    for f in features:
        if f == CATEGORY_MIX:
            mix = [c for c in table.columns if c.startswith(MIX_PREFIX)]
            if len(mix) < 2:
                dropped[f] = "one product category" if mix else "no products table"
                continue
        elif f in table.columns and table[f].nunique(dropna=False) < 2:
            dropped[f] = f"every account has the value '{table[f].iloc[0]}'"
            continue
        kept.append(f)
    if dropped and not any(f in RFM_NUMERIC for f in kept):
        kept += ["recency_days", "frequency", "monetary"]
    return kept, dropped


# ----------------------------------------------------------------------------- analyse

#: The notebook's default clustering features.
DEFAULT_FEATURES = ("category_mix", "industry", "region")
DAY = pd.Timedelta(days=1)


def migration_fit(first_order, end, migration_days: int) -> str:
    """Whether the history before ``end`` can show a migration over ``migration_days``: ''
    when the orders span at least 2 × migration_days days up to ``end`` (the earlier
    snapshot, migration_days before ``end``, then has as much history behind it as the
    period compared), else the reason, naming migration_days and the data's span."""
    days = validate.positive_int("migration_days", migration_days)
    first, end = pd.Timestamp(first_order).normalize(), pd.Timestamp(end).normalize()
    span = (end - first).days
    if span >= 2 * days:
        return ""
    fits = span // 2
    advice = (
        f"set migration_days to {fits} or less to see it"
        if fits >= 1
        else "the history is too short for any migration"
    )
    return (
        f"Segment migration compares the segments with those migration_days = {days} days "
        f"earlier, which needs at least {2 * days} days of orders (as much history before the "
        f"earlier date as the period compared); the orders here span {span} day{'s' * (span != 1)} "
        f"({first:%Y-%m-%d} to {end - DAY:%Y-%m-%d}): {advice}."
    )


def analyse(
    ds,
    analysis_date=None,
    lookback_days: int = 730,
    rfm_bins: int = 5,
    migration_days: int = 91,
    k_range=range(2, 9),
    k: int | None = None,
    cluster_features=DEFAULT_FEATURES,
    seed: int = 42,
) -> Analysis:
    """The segmentation report: RFM segments as of ``analysis_date`` (exclusive; None: the day
    after the last order) over ``lookback_days``, their migration from ``migration_days``
    earlier, KMeans clusters on ``cluster_features`` (k by silhouette over ``k_range`` unless
    ``k`` is given) and one action list per segment (:func:`action_lists`; the notebook shows
    and files them with ``present.todo_list``).

    Guest accounts of an import are left out (:func:`helpers.data.tables.customers_only`);
    a dataset without ``accounts`` gets one derived from the orders. Migration is skipped when
    the history is shorter than 2 × migration_days (:func:`migration_fit`); clusters when there
    are no more accounts than the smallest k.
    Tables, figures and facts are named in each step below.
    """
    if "accounts" not in ds:
        ds = tables.derive_accounts(ds)
    result = Analysis.start("segmentation", SECTIONS, ds)
    customers, n_guests = tables.customers_only(ds)
    start, end = resolve_window(customers, analysis_date, lookback_days)
    missing = tables.missing_optional(ds, OPTIONAL_TABLES)
    result.facts.update(
        start=start,
        end=end,
        last_day=end - DAY,
        lookback_days=int(lookback_days),
        rfm_bins=int(rfm_bins),
        migration_days=int(migration_days),
        guest_accounts=n_guests,
        missing=missing,
        with_contacts="contacts" in ds,
    )
    result.notes.extend(_data_notes(n_guests, missing))
    scored = _rfm_section(result, customers, start, end, lookback_days, rfm_bins)
    _migration_section(result, customers, scored, migration_days)
    _cluster_section(result, customers, k_range, k, cluster_features, seed)
    _actions_section(result, customers, scored)
    return result


def _data_notes(n_guests: int, missing: dict[str, str]) -> list[str]:
    notes = []
    if n_guests:
        s = "s" if n_guests > 1 else ""
        notes.append(
            f"{n_guests:,} guest account{s} (sales without a customer, kept by the import for "
            "revenue totals) and their orders are left out of the segments, clusters and "
            "action lists below."
        )
    if missing:
        notes.append(
            "This dataset has no "
            + "; no ".join(
                f"`{t}` table, so the report leaves out {what}" for t, what in missing.items()
            )
            + "."
        )
    return notes


def _rfm_section(result: Analysis, customers, start, end, lookback_days, rfm_bins):
    """Tables scored, summary, rules; figures accounts_scored, scored_accounts_revenue,
    champions_loyal_revenue_share, at_risk_accounts (the RFM segment At risk); facts
    slipping_accounts = At risk + Cannot lose them (their parts at_risk_segment and
    cannot_lose_segment), lost_* (:func:`helpers.data.rfm.lost_split`)."""
    scored = rfm(customers, end, lookback_days, rfm_bins)
    summary = segment_summary(scored)
    by = summary.set_index("segment")
    core, slipping = by.loc[["Champions", "Loyal"]], by.loc[["At risk", "Cannot lose them"]]
    result.tables.update(scored=scored, summary=summary, rules=segment_rules())
    result.facts.update(
        accounts=len(scored),
        revenue=float(scored.monetary.sum()),
        core_account_share=float(core.account_share.sum()),
        core_accounts=int(core.accounts.sum()),
        core_revenue_share=float(core.revenue_share.sum()),
        slipping_accounts=int(slipping.accounts.sum()),
        at_risk_segment=int(by.loc["At risk", "accounts"]),
        cannot_lose_segment=int(by.loc["Cannot lose them", "accounts"]),
        slipping_revenue_share=float(slipping.revenue_share.sum()),
        single_order_share=float((scored.frequency == 1).mean()),
        top_segment=summary.sort_values("revenue_share", ascending=False).iloc[0],
        **{f"lost_{k}": v for k, v in lost_split(scored).items()},
    )
    result.figures.update(
        accounts_scored=len(scored),
        scored_accounts_revenue=float(scored.monetary.sum()),
        champions_loyal_revenue_share=float(core.revenue_share.sum()),
        at_risk_accounts=int(by.loc["At risk", "accounts"]),
    )
    return scored


def _migration_section(result: Analysis, customers, scored, migration_days) -> None:
    """Tables matrix, came (accounts that moved into At risk, by earlier segment); figure
    became_at_risk; facts before_day, stayed, became_at_risk."""
    end = result.facts["end"]
    first, _ = customers.period("orders")
    reason = migration_fit(first, end, migration_days)
    if reason:
        result.skip("migration", reason)
    if not result.built("migration"):
        return
    f = result.facts
    before = end - pd.Timedelta(days=int(migration_days))
    try:
        previous = rfm(customers, before, f["lookback_days"], f["rfm_bins"])
    except ValueError as e:  # a gap: no order in the earlier lookback window
        result.skip("migration", f"Segment migration has no earlier segments to compare: {e}.")
        return
    matrix = migration(previous, scored)
    into_risk = moved_into(matrix, "At risk")
    came = into_risk[into_risk.accounts > 0]
    result.tables.update(matrix=matrix, came=came)
    f.update(
        before_day=before - DAY,
        stayed=int(sum(matrix.loc[s, s] for s in SEGMENTS)),
        became_at_risk=int(into_risk.accounts.sum()),
    )
    result.figures["became_at_risk"] = int(into_risk.accounts.sum())


def _cluster_section(result: Analysis, customers, k_range, k, cluster_features, seed) -> None:
    """Tables features, k_scores, profiles, descriptions, z (standardised means), xy (PCA);
    figures clusters, silhouette; facts chosen_k, used_features, dropped, spec, explained."""
    f = result.facts
    features = account_features(customers, f["end"], f["lookback_days"])
    n = len(features)
    ks = sorted({int(x) for x in k_range if 2 <= int(x) < n})
    if not ks or (k and int(k) >= n):
        asked = f"k = {k}" if k else f"k_range {list(k_range)}"
        result.skip(
            "clusters",
            f"Clustering needs more accounts than clusters: {asked}, and {n:,} "
            f"account{'s were' if n != 1 else ' was'} scored in the window.",
        )
        return
    used, dropped = informative_features(list(cluster_features), features)
    spec = feature_spec(used, features)
    k_scores = choose_k(features, spec, ks, seed)
    chosen = int(k) if k else int(k_scores.loc[k_scores.best, "k"].iloc[0])
    pipe, labels = fit_clusters(features, spec, chosen, seed)
    profiles = cluster_profiles(features, labels, spec)
    descriptions = describe_clusters(profiles, features)
    xy, explained = pca_map(pipe, features, labels)
    silhouette = float(k_scores.set_index("k").loc[chosen].silhouette)
    result.tables.update(
        features=features,
        k_scores=k_scores,
        profiles=profiles,
        descriptions=descriptions,
        z=standardised_means(features, labels, spec),
        xy=xy,
    )
    f.update(
        chosen_k=chosen,
        k_fixed=bool(k),
        silhouette=silhouette,
        used_features=used,
        dropped=dropped,
        rfm_added=bool(dropped) and not any(x in RFM_NUMERIC for x in cluster_features),
        spec=spec,
        explained=explained,
    )
    result.figures.update(clusters=chosen, silhouette=silhouette)


def _actions_section(result: Analysis, customers, scored) -> None:
    """Tables action_lists (segment -> its list, :func:`action_lists`) and exports (counts per
    segment); figure consented_contacts (None without a contacts table)."""
    lists, counts = action_lists(customers, scored)
    with_contacts = result.facts["with_contacts"]
    result.tables.update(action_lists=lists, exports=counts)
    result.facts.update(
        exported_accounts=int(counts.accounts.sum()),
        consented_contacts=int(counts.contacts_with_consent.sum()) if with_contacts else None,
        accounts_with_contact=int(counts.accounts_with_contact.sum()) if with_contacts else None,
        with_owner="leads" in customers,
    )
    result.figures["consented_contacts"] = result.facts["consented_contacts"]
