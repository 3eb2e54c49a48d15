"""Benchmark steps: opening the dataset and the overview report's aggregations."""

STEPS = [
    (
        "data: open and validate",
        "from helpers.data import open_dataset\nds = open_dataset(data)",
    ),
    (
        "overview: monthly KPIs",
        "from helpers.data import open_dataset\nfrom helpers import overview\n"
        "ds = open_dataset(data)\nTIMER()\noverview.monthly_kpis(ds)",
    ),
    (
        "overview: on-time delivery",
        "from helpers.data import open_dataset\nfrom helpers import overview\n"
        "ds = open_dataset(data)\nTIMER()\noverview.on_time_delivery(ds)",
    ),
]
