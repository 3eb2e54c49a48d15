"""Spark Connect, the way a Spark cluster is reached: ``spark_session()`` follows
``$SPARK_REMOTE``, and a report shows the server without the URL's parameters. (The whole build
through the session's Connect server, every figure against the DuckDB build's, is
tests/test_spark_build.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("grpc", reason="the Spark Connect client needs pyspark[connect]")


def test_spark_session_follows_spark_remote(spark_connect_url):
    """``spark_session()`` is a Spark Connect client when ``$SPARK_REMOTE`` is set (run in a
    fresh process: PySpark allows no remote session beside the local one other tests hold)."""
    code = (
        "from helpers.data.dataset import spark_session\n"
        "s = spark_session('helpers-tests-remote')\n"
        "print(type(s).__module__, s.range(5).count())"
    )
    env = os.environ | {"SPARK_REMOTE": spark_connect_url}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-2:] == ["pyspark.sql.connect.session", "5"]


def test_shown_remote_drops_the_url_parameters():
    from helpers.data.dataset import shown_remote

    assert shown_remote("sc://10.0.0.5:15002/;token=abc;user_id=x") == "sc://10.0.0.5:15002"
    assert shown_remote("sc://spark.example") == "sc://spark.example"
