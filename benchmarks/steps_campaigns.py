"""Benchmark steps: the campaigns report's heavy aggregations (channel economics over spend,
web events, leads and orders; weekly channel metrics; per-send outcomes and the uplift model's
features as of each campaign's start), each on the validated dataset opened before the clock."""

_SETUP = (
    "from helpers.data import open_dataset\nfrom helpers import campaigns\n"
    "ds = open_dataset(data)\nTIMER()\n"
)

STEPS = [
    ("campaigns: channel economics", _SETUP + "campaigns.channel_economics(ds)"),
    ("campaigns: weekly channel metrics", _SETUP + "campaigns.weekly_channel(ds)"),
    ("campaigns: send outcomes", _SETUP + "campaigns.send_outcomes(ds)"),
    ("campaigns: uplift features as of each send", _SETUP + "campaigns.send_features(ds)"),
]
