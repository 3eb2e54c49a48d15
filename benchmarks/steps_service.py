"""Benchmark steps: the service report's heavy aggregations (cost to serve per account,
service levels per ticket channel), each on the validated dataset opened before the clock."""

_SETUP = (
    "from helpers.data import open_dataset\nfrom helpers import service as sv\n"
    "ds = open_dataset(data)\nTIMER()\n"
)

STEPS = [
    ("service: cost to serve per account", _SETUP + "sv.account_costs(ds)"),
    ("service: service levels by channel", _SETUP + "sv.service_levels(ds, by='channel')"),
    ("service: monthly service levels", _SETUP + "sv.monthly_service(ds)"),
]
