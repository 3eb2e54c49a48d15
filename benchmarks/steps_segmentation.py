"""Benchmark steps: the segmentation report's RFM table, and the per-account RFM summary
against the alternatives the issue names.

Four ways to the same per-account summary (recency_days, frequency and monetary over the
365 days before the analysis date, tenure_days over the whole history):

- ours: ``segmentation.rfm_expr`` (an Ibis expression) over the raw Parquet, executed on
  DuckDB and fetched into pandas; the same input as the SQL query, so the ratio measures the
  cost of the Ibis layer alone;
- a hand-written DuckDB SQL query over the same Parquet, fetched into pandas;
- a plain pandas ``read_parquet`` + merge + groupby;
- ``lifetimes.utils.summary_data_from_transaction_data`` on the per-order transactions, which
  pandas first reads and sums from the same Parquet (timed, as every path starts from the
  files); it computes its own flavour of the summary (frequency = repeat purchase days,
  recency and T in days, over the whole history).

Every path is timed from the Parquet files on disk to a pandas frame with one row per account
(imports are set-up, not timed).

Plus the report's own call, ``segmentation.rfm`` on the validated dataset (RFM + scores +
named segments), with the dataset opened before the clock starts.
"""

_WINDOW = (
    "import json, pandas as pd\n"
    "_m = json.load(open(data + '/manifest.json'))\n"
    "END = pd.Timestamp(_m['end_date']) + pd.Timedelta(days=1)\n"
    "START = END - pd.Timedelta(days=365)\n"
)

_RAW_IBIS = (
    _WINDOW + "import types, ibis\n"
    "from helpers import segmentation as seg\n"
    "con = ibis.duckdb.connect()\n"
    "raw = types.SimpleNamespace(\n"
    "    orders=con.read_parquet(data + '/orders/*.parquet', table_name='orders'),\n"
    "    order_lines=con.read_parquet(data + '/order_lines/*.parquet', table_name='order_lines'),\n"
    ")\n"
)

SQL = """
WITH per_order AS (
    SELECT order_id, SUM(quantity * unit_price * (1 - discount)) AS revenue
    FROM read_parquet('{data}/order_lines/*.parquet') GROUP BY order_id
), ov AS (
    SELECT o.account_id, o.order_id, o.order_ts, p.revenue
    FROM read_parquet('{data}/orders/*.parquet') o JOIN per_order p USING (order_id)
), first_order AS (
    SELECT account_id, MIN(order_ts) AS first_ts FROM ov GROUP BY account_id
), win AS (
    SELECT account_id, MAX(order_ts) AS last_ts, COUNT(DISTINCT order_id) AS frequency,
           SUM(revenue) AS monetary
    FROM ov WHERE order_ts >= TIMESTAMP '{start}' AND order_ts < TIMESTAMP '{end}'
    GROUP BY account_id
)
SELECT account_id,
       CAST(FLOOR((epoch(TIMESTAMP '{end}') - epoch(last_ts)) / 86400) AS BIGINT) AS recency_days,
       frequency, monetary,
       CAST(FLOOR((epoch(TIMESTAMP '{end}') - epoch(first_ts)) / 86400) AS BIGINT) AS tenure_days
FROM win JOIN first_order USING (account_id)
"""

_SQL_SETUP = (
    _WINDOW + "import duckdb\n"
    f"SQL = {SQL!r}.format(data=data, start=START, end=END)\n"
    "con = duckdb.connect()\n"
)

_PANDAS_READ = (
    "orders = pd.read_parquet(data + '/orders', columns=['order_id', 'account_id', "
    "'order_ts'])\n"
    "lines = pd.read_parquet(data + '/order_lines', columns=['order_id', 'quantity', "
    "'unit_price', 'discount'])\n"
)

_PANDAS_RFM = """
lines['revenue'] = lines.quantity * lines.unit_price * (1 - lines.discount)
per_order = lines.groupby('order_id', as_index=False).revenue.sum()
ov = orders.merge(per_order, on='order_id')
first = ov.groupby('account_id').order_ts.min()
w = ov[(ov.order_ts >= START) & (ov.order_ts < END)]
agg = w.groupby('account_id').agg(
    last_ts=('order_ts', 'max'), frequency=('order_id', 'nunique'), monetary=('revenue', 'sum'))
agg['recency_days'] = (END - agg.last_ts).dt.days
agg['tenure_days'] = (END - first.reindex(agg.index)).dt.days
agg = agg.reset_index()
"""

_LIFETIMES = (
    _PANDAS_READ
    + "lines['revenue'] = lines.quantity * lines.unit_price * (1 - lines.discount)\n"
    + "tx = orders.merge(lines.groupby('order_id', as_index=False).revenue.sum(), on='order_id')\n"
    + "tx = tx[tx.order_ts < END]\n"
)

OURS = "segmentation: RFM summary, ours (Ibis rfm_expr on DuckDB)"
SQL_STEP = "segmentation: RFM summary, hand-written DuckDB SQL"
PANDAS_STEP = "segmentation: RFM summary, plain pandas read + groupby"
LIFETIMES_STEP = "segmentation: RFM summary, lifetimes helper (pandas read + summary_data_from_...)"

STEPS = [
    (OURS, _RAW_IBIS + "TIMER()\nseg.rfm_expr(raw, START, END).to_pandas()"),
    (SQL_STEP, _SQL_SETUP + "TIMER()\ncon.sql(SQL).df()"),
    (PANDAS_STEP, _WINDOW + "TIMER()\n" + _PANDAS_READ + _PANDAS_RFM),
    (
        LIFETIMES_STEP,
        _WINDOW
        + "from lifetimes.utils import summary_data_from_transaction_data\nTIMER()\n"
        + _LIFETIMES
        + "summary_data_from_transaction_data(tx, 'account_id', "
        "'order_ts', monetary_value_col='revenue', observation_period_end=END - "
        "pd.Timedelta(days=1), freq='D')",
    ),
    (
        "segmentation: RFM table with scores and segments (seg.rfm, validated data)",
        "from helpers.data import open_dataset\nfrom helpers import segmentation as seg\n"
        "ds = open_dataset(data)\nTIMER()\nseg.rfm(ds)",
    ),
    (
        "segmentation: account features for clustering (seg.account_features)",
        "from helpers.data import open_dataset\nfrom helpers import segmentation as seg\n"
        "ds = open_dataset(data)\nTIMER()\nseg.account_features(ds)",
    ),
]

RATIOS = [
    ("RFM summary: ours / hand-written DuckDB SQL", OURS, SQL_STEP, 1.2),
    ("RFM summary: ours / plain pandas groupby", OURS, PANDAS_STEP, None),
    ("RFM summary: ours / lifetimes helper", OURS, LIFETIMES_STEP, None),
]
