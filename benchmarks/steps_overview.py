"""Benchmark steps: opening the dataset and the overview report's aggregations.

``open_dataset`` keeps the row-rule counts of a dataset between opens (data/.cache/validation,
keyed by the data fingerprint and the date). "cold" ignores what that cache holds, so every row
rule is evaluated over every table, as on the first open of new data (and then writes the cache,
so that the later steps and the report build open warm); "cached" is what every report after
the first one pays.
"""

_OPEN = "from helpers.data import open_dataset\n"

STEPS = [
    (
        "data: open and validate (cold: every row rule evaluated)",
        _OPEN + "import helpers.data.dataset as _d\n_d._read_cache = lambda path: {}\n"
        "TIMER()\nds = open_dataset(data)",
    ),
    (
        "data: open and validate (rule counts cached)",
        _OPEN + "open_dataset(data)\nTIMER()\nds = open_dataset(data)",
    ),
    (
        "overview: monthly KPIs",
        _OPEN + "from helpers import overview\nds = open_dataset(data)\nTIMER()\n"
        "overview.monthly_kpis(ds)",
    ),
    (
        "overview: on-time delivery",
        _OPEN + "from helpers import overview\nds = open_dataset(data)\nTIMER()\n"
        "overview.on_time_delivery(ds)",
    ),
]
