"""The whole build on Spark (issue 21): every report built with ``--param engine=spark`` on the
small sample publishes the figures of the DuckDB build, key by key (floats to a relative 1e-9).

The build runs through the session's Spark Connect server (``$SPARK_REMOTE``, the way a
cluster is reached), so every report kernel is a thin client of one warm JVM instead of
starting its own local Spark (about 50 s less on 2 cores), and the Connect path, which a local
session does not exercise (a cached table, say), is checked on every report. The local Spark
session is checked per topic against DuckDB (tests/test_spark_topics.py and each topic's
tests). SPARK_REPORTS names the reports built; figures that differ for reasons outside the
runner would be listed in KNOWN with the difference.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from helpers.reports.build import build
from helpers.reports.cli import DEFAULT_CONFIG
from helpers.reports.config import load_config

#: The reports built on both engines: every report in reports.yml (see the module docstring
#: for the cost).
SPARK_REPORTS = tuple(spec.name for spec in load_config(DEFAULT_CONFIG))
#: (report, figure key) -> why the engines differ there (not a failure of this test).
KNOWN: dict[tuple[str, str], str] = {}
REL = 1e-9


def flat(value, prefix: str = ""):
    """Every leaf of a figures dict as (dotted key, value); lists by index."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flat(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from flat(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def same(a, b) -> bool:
    """Equal; floats (and a float beside an int) to a relative 1e-9, NaN equal to NaN."""
    number = (int, float)
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, number) and isinstance(b, number)) or isinstance(a, bool):
            return a == b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= REL * max(abs(a), abs(b))
    return a == b


def differences(duck: dict, spark: dict) -> list[tuple[str, object, object]]:
    a, b = dict(flat(duck)), dict(flat(spark))
    missing = "<absent>"
    return [
        (k, a.get(k, missing), b.get(k, missing))
        for k in sorted(set(a) | set(b))
        if not same(a.get(k, missing), b.get(k, missing))
    ]


@pytest.fixture(scope="module")
def builds(small_sample, small_build, spark_connect_url, tmp_path_factory) -> dict[str, Path]:
    """The session's DuckDB build of every report (tests/conftest.py) beside one on Spark,
    through Spark Connect (a URL with a parameter, which no page may show)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    duck, run = small_build
    assert run.returncode == 0, run.stderr[-3000:]
    outs = {"duckdb": duck, "spark": tmp_path_factory.mktemp("spark-build") / "spark"}
    before = os.environ.get("SPARK_REMOTE")
    os.environ["SPARK_REMOTE"] = f"{spark_connect_url}/;user_id=analyst"  # kernels inherit it
    try:
        outcome = build(
            DEFAULT_CONFIG,
            out_dir=outs["spark"],
            data_dir=small_sample,
            only=SPARK_REPORTS,
            overrides={"engine": "spark"},
            force=True,
            log=lambda line: None,
        )
    finally:
        if before is None:
            os.environ.pop("SPARK_REMOTE", None)
        else:
            os.environ["SPARK_REMOTE"] = before
    failed = {r.name: r.error for r in outcome.failed}
    assert not failed, f"spark build failed: {failed}"
    return outs


@pytest.mark.parametrize("name", SPARK_REPORTS)
def test_spark_build_publishes_the_duckdb_figures(builds, name):
    duck, spark = (
        json.loads((builds[e] / f"{name}.json").read_text(encoding="utf-8")) for e in builds
    )
    assert duck["status"] == spark["status"] == "ok"
    assert duck["parameters"].get("engine", "duckdb") == "duckdb"  # the notebooks' default
    assert spark["parameters"]["engine"] == "spark"
    assert len(duck["figures"]) > 0
    diffs = differences(duck["figures"], spark["figures"])
    unexpected = [d for d in diffs if (name, d[0]) not in KNOWN]
    assert not unexpected, f"{name}: figures differ on Spark (key, duckdb, spark): {unexpected}"
    assert duck.get("sections") == spark.get("sections")


def test_pages_name_the_connect_server_without_its_parameters(builds, spark_connect_url):
    for name in SPARK_REPORTS:
        html = (builds["spark"] / f"{name}.html").read_text(encoding="utf-8")
        assert f"engine spark (Spark Connect at {spark_connect_url})" in html, name
        assert "user_id" not in html and "analyst" not in html, name
