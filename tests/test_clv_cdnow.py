"""Issue 17 item 4, through the report: the CDNOW sample imported with the ``cdnow`` adapter and
built by the report runner with the paper's calibration (``calibration_end=1997-09-30
holdout_weeks=39``) publishes, in ``clv.json``'s ``calibration_fit``, the BG/NBD estimates of
Fader, Hardie & Lee (2005) to three decimals and the Gamma-Gamma ones within 1 %.

The paper counts repeat transactions per week, one a day per customer (two purchases on one day
are one transaction), over the 39 weeks from 1997-01-01 to 1997-09-30, T from each customer's
first purchase to 1997-09-30; the report's default (``combine_same_day``) does the same.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from helpers.data.adapters import import_data
from helpers.reports.cli import main as reports_main

#: Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2):
#: the 2,357-customer CDNOW sample, 39-week calibration; LL -9582.4.
BGNBD_FHL_2005 = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
#: Fader, Hardie & Lee (2005), "RFM and CLV", JMR 42(4), on the same sample (946 repeat buyers);
#: lifetimes' GammaGammaFitter on cdnow_customers_summary_with_transactions: 6.2489, 3.7443,
#: 15.4472.
GAMMA_GAMMA_FHL_2005 = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _cdnow_sample() -> Path:
    with warnings.catch_warnings():  # lifetimes sets a pandas option that pandas 3 deprecates
        warnings.simplefilter("ignore")
        lifetimes = pytest.importorskip("lifetimes")
    return Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"


@pytest.fixture(scope="module")
def cdnow_report(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cdnow")
    data, out = root / "cdnow", root / "reports"
    import_data("cdnow", [_cdnow_sample()], data)
    code = reports_main(
        ["build", "--force", "--jobs", "1", "--only", "clv", "--data", str(data)]
        + ["--out", str(out)]
        + ["--param", "calibration_end=1997-09-30", "--param", "holdout_weeks=39"]
        + ["--param", f"export_dir={out / 'exports'}"]  # keep reports/exports untouched
    )
    record = json.loads((out / "clv.json").read_text())
    assert code == 0 and record["status"] == "ok", record.get("error")
    return record


def test_calibration_fit_is_the_published_bgnbd(cdnow_report):
    figures = cdnow_report["figures"]
    assert figures["calibration_end"] == "1997-09-30"
    assert figures["holdout_end"] == "1998-06-30"
    assert figures["combine_same_day"] is True
    bgnbd = figures["calibration_fit"]["bgnbd"]
    for name, published in BGNBD_FHL_2005.items():
        assert round(bgnbd[name], 3) == published, (name, bgnbd[name])
        assert 0 < bgnbd[f"{name}_se"] < bgnbd[name]
    assert bgnbd["loglik"] == pytest.approx(-9582.4, abs=0.05)
    assert bgnbd["converged"] and bgnbd["hessian_pd"]


def test_calibration_fit_is_the_published_gamma_gamma(cdnow_report):
    gg = cdnow_report["figures"]["calibration_fit"]["gamma_gamma"]
    for name, published in GAMMA_GAMMA_FHL_2005.items():
        assert gg[name] == pytest.approx(published, rel=0.01), (name, gg[name])
        assert gg[f"{name}_se"] > 0


def test_calibration_fit_has_the_final_fits_keys(cdnow_report):
    figures = cdnow_report["figures"]
    for model in ("bgnbd", "pareto_nbd", "gamma_gamma"):
        assert set(figures["calibration_fit"][model]) == set(figures[model]), model
    assert set(cdnow_report["sections"]["built"]) >= {"historical", "holdout", "predicted"}
