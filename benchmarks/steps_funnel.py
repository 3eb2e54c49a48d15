"""Benchmark steps: the funnel against the hand-written DuckDB SQL that tests/test_funnel.py
checks it with."""

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"

SETUP = (
    "import sys, ibis\n"
    f"sys.path.insert(0, {str(TESTS)!r})\n"
    "from test_funnel import SQL, STEPS4\n"
    "from helpers import funnel\n"
    "con = ibis.duckdb.connect()\n"
    "ev = con.read_parquet(data + '/web_events/*.parquet', table_name='ev')\n"
)

STEPS = [
    (
        "funnel: funnel_conversion (4 steps, 7 days, by channel)",
        SETUP + "TIMER()\nfunnel.funnel_conversion(ev, STEPS4, '7D', by='channel')",
    ),
    (
        "funnel: hand-written DuckDB SQL (same funnel)",
        SETUP + "TIMER()\ncon.con.sql(SQL).df()",
    ),
]

RATIOS = [
    (
        "funnel_conversion / hand-written SQL",
        "funnel: funnel_conversion (4 steps, 7 days, by channel)",
        "funnel: hand-written DuckDB SQL (same funnel)",
        1.2,  # issue 21
    ),
]
