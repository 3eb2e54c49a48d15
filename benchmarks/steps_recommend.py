"""Benchmark steps: the recommendations report's engine work (the account x product summary
and the same-order co-purchase self-join) and the whole analyse (holdout fits of the three
models, both lists with reasons), each on the validated dataset opened before the clock."""

_SETUP = "from helpers import recommend as rc\nds = rc.open_tables(data)\nTIMER()\n"

STEPS = [
    ("recommend: account x product summary", _SETUP + "rc.account_products(ds)"),
    ("recommend: co-purchase counts", _SETUP + "rc.co_purchases(ds)"),
    ("recommend: analyse (holdout + lists)", _SETUP + "rc.analyse(ds, n_boot=200)"),
]
