"""Benchmark steps: the CLV report's model fits against lifetimes, the per-account summary and
the monthly cohorts.

The set-up (not timed) opens the dataset and computes the per-account summary the way
notebooks/clv.ipynb does for its final fit: ``clv.summary(measures.order_values(ds), data_end,
time_unit="weeks")`` with ``data_end`` the day of the last order. Each fit then runs on the
same plain arrays (frequency, recency, T in weeks; for the spend model the repeat buyers'
frequency and mean repeat spend, as lifetimes expects) with ours
(``helpers.models.btyd.fit_bgnbd`` / ``fit_pareto_nbd`` / ``fit_gamma_gamma``) and with
lifetimes' ``BetaGeoFitter`` / ``ParetoNBDFitter`` / ``GammaGammaFitter`` (no penalizer, default
options). A fit that raises fails the step (shown as "–"; the error is kept in
benchmarks/.data/last-run.json). Simulated hard shapes are compared in benchmarks/clv_shapes.py.

Each fit is also timed with BLAS limited to one thread (``threadpoolctl.threadpool_limits(1)``
around the fit call, for both libraries): on this shared 2-core machine OpenBLAS's worker
threads cost more than the tiny matrix products of a 3- or 4-parameter fit (measured at 10x:
ours' BG/NBD fit took 0.58 s with the default threads, 0.04 s with one), so the two variants
separate the fit's own cost from thread contention.
"""

_SUMMARY = (
    "import warnings\n"
    "import numpy as np\n"
    "from helpers import clv\n"
    "from helpers.data import measures, open_dataset\n"
    "ds = open_dataset(data)\n"
    "data_end = ds.period('orders')[1].normalize()\n"
    "transactions = measures.order_values(ds)\n"
)

_ARRAYS = (
    _SUMMARY + "s = clv.summary(transactions, data_end, time_unit='weeks')\n"
    "x = s.frequency.to_numpy(float)\n"
    "tx = s.recency.to_numpy(float)\n"
    "T = s['T'].to_numpy(float)\n"
    "rep = x > 0\n"
    "xr, mr = x[rep], s.monetary_value.to_numpy(float)[rep]\n"
)

_OURS = _ARRAYS + "from helpers.models import btyd\n"
_LIFETIMES = (
    _ARRAYS + "warnings.simplefilter('ignore')\n"
    "from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter\n"
)

SUMMARY = "clv: per-account summary (clv.summary, Ibis on DuckDB, weeks)"
BG_OURS = "clv: BG/NBD fit, ours (btyd.fit_bgnbd)"
BG_LT = "clv: BG/NBD fit, lifetimes BetaGeoFitter"
PN_OURS = "clv: Pareto/NBD fit, ours (btyd.fit_pareto_nbd)"
PN_LT = "clv: Pareto/NBD fit, lifetimes ParetoNBDFitter"
GG_OURS = "clv: Gamma-Gamma fit, ours (btyd.fit_gamma_gamma)"
GG_LT = "clv: Gamma-Gamma fit, lifetimes GammaGammaFitter"

_ONE = "from threadpoolctl import threadpool_limits\nTIMER()\nwith threadpool_limits(1):\n    "


def _one(name: str) -> str:
    return name + ", 1 BLAS thread"


STEPS = [
    (SUMMARY, _SUMMARY + "TIMER()\nclv.summary(transactions, data_end, time_unit='weeks')"),
    (BG_OURS, _OURS + "TIMER()\nbtyd.fit_bgnbd(x, tx, T)"),
    (BG_LT, _LIFETIMES + "TIMER()\nBetaGeoFitter(penalizer_coef=0.0).fit(x, tx, T)"),
    (PN_OURS, _OURS + "TIMER()\nbtyd.fit_pareto_nbd(x, tx, T)"),
    (PN_LT, _LIFETIMES + "TIMER()\nParetoNBDFitter(penalizer_coef=0.0).fit(x, tx, T)"),
    (GG_OURS, _OURS + "TIMER()\nbtyd.fit_gamma_gamma(xr, mr)"),
    (GG_LT, _LIFETIMES + "TIMER()\nGammaGammaFitter(penalizer_coef=0.0).fit(xr, mr)"),
    (_one(BG_OURS), _OURS + _ONE + "btyd.fit_bgnbd(x, tx, T)"),
    (_one(BG_LT), _LIFETIMES + _ONE + "BetaGeoFitter(penalizer_coef=0.0).fit(x, tx, T)"),
    (_one(PN_OURS), _OURS + _ONE + "btyd.fit_pareto_nbd(x, tx, T)"),
    (_one(PN_LT), _LIFETIMES + _ONE + "ParetoNBDFitter(penalizer_coef=0.0).fit(x, tx, T)"),
    (_one(GG_OURS), _OURS + _ONE + "btyd.fit_gamma_gamma(xr, mr)"),
    (_one(GG_LT), _LIFETIMES + _ONE + "GammaGammaFitter(penalizer_coef=0.0).fit(xr, mr)"),
    (
        "clv: monthly acquisition cohorts (clv.cohorts)",
        "from helpers import clv\nfrom helpers.data import open_dataset\n"
        "ds = open_dataset(data)\nTIMER()\nclv.cohorts(ds)",
    ),
]

RATIOS = [
    ("BG/NBD fit: ours / lifetimes", BG_OURS, BG_LT, None),
    ("Pareto/NBD fit: ours / lifetimes", PN_OURS, PN_LT, None),
    ("Gamma-Gamma fit: ours / lifetimes", GG_OURS, GG_LT, None),
    ("BG/NBD fit, 1 BLAS thread: ours / lifetimes", _one(BG_OURS), _one(BG_LT), None),
    ("Pareto/NBD fit, 1 BLAS thread: ours / lifetimes", _one(PN_OURS), _one(PN_LT), None),
    ("Gamma-Gamma fit, 1 BLAS thread: ours / lifetimes", _one(GG_OURS), _one(GG_LT), None),
    ("BG/NBD fit, ours: 1 BLAS thread / default threads", _one(BG_OURS), BG_OURS, None),
]
