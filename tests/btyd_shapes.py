"""Simulated hard shapes for the BTYD fits: fixtures of tests/test_btyd_hard.py and of
benchmarks/clv_shapes.py (which puts tests/ on sys.path, as pyproject's ``pythonpath`` does
for pytest). Kept out of the package: no report or user fits them.

The shapes are where lifetimes' users report fits that fail (its issues #405: 289k customers
with mean frequency 177; #332: 2.5M customers; #396, #258, #419): the grid the tests recover
parameters on and the benchmark compares against lifetimes. T ~ Uniform(T_low, T_high) in the
shape's time unit.
"""

from __future__ import annotations

import numpy as np

from helpers.models import btyd

HARD_SHAPES: dict[str, dict] = {
    "heavy buyers": {
        "unit": "weeks",
        "T": (52.0, 156.0),
        "bgnbd": {"r": 4.0, "alpha": 2.0, "a": 0.3, "b": 60.0},
        "pareto_nbd": {"r": 4.0, "alpha": 2.0, "s": 0.5, "beta": 200.0},
        "gamma_gamma": {"p": 6.0, "q": 4.0, "gamma": 15.0},
    },
    "tiny dropout": {
        "unit": "weeks",
        "T": (26.0, 104.0),
        "bgnbd": {"r": 1.0, "alpha": 8.0, "a": 0.2, "b": 40.0},
        "pareto_nbd": {"r": 1.0, "alpha": 8.0, "s": 0.3, "beta": 150.0},
        "gamma_gamma": {"p": 2.0, "q": 8.0, "gamma": 300.0},
    },
    "long T in days": {
        "unit": "days",
        "T": (365.0, 2555.0),
        "bgnbd": {"r": 0.6, "alpha": 20.0, "a": 0.5, "b": 8.0},
        "pareto_nbd": {"r": 0.6, "alpha": 20.0, "s": 0.8, "beta": 600.0},
        "gamma_gamma": {"p": 3.0, "q": 3.0, "gamma": 50.0},
    },
    "CDNOW-like, 1M accounts": {
        "unit": "weeks",
        "T": (27.0, 39.0),
        "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "pareto_nbd": {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67},
        "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
    },
}


def simulate_shape(shape: str, model: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Simulate ``n`` customers of ``HARD_SHAPES[shape]`` under ``model`` ('bgnbd' or
    'pareto_nbd'), with Gamma-Gamma mean spends: a dict of frequency, recency, T and
    monetary_value arrays (one Generator seeded with ``seed`` feeds T, the purchases and the
    spends, in that order)."""
    spec = HARD_SHAPES[shape]
    rng = np.random.default_rng(seed)
    T = rng.uniform(*spec["T"], size=n)
    sim = {"bgnbd": btyd.simulate_bgnbd, "pareto_nbd": btyd.simulate_pareto_nbd}[model]
    x, tx = sim(spec[model], T, rng)
    m = btyd.simulate_gamma_gamma(spec["gamma_gamma"], x, rng)
    return {"frequency": x, "recency": tx, "T": T, "monetary_value": m}
