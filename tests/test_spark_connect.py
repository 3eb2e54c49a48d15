"""A whole report built through Spark Connect, the way a Spark cluster is reached.

The test starts a Spark Connect server on loopback (a local Spark session with the
SparkConnectPlugin, bound to 127.0.0.1 on a free port), points ``$SPARK_REMOTE`` at it and
builds the overview report with ``engine=spark``: every query of the notebook then runs on the
server, and the report must say so and give the same figures as the DuckDB build.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from helpers.config import PROJ_ROOT

pytest.importorskip("grpc", reason="the Spark Connect client needs pyspark[connect]")

SERVER = textwrap.dedent(
    """
    import sys, time
    from pyspark.sql import SparkSession
    (SparkSession.builder.master("local[2]").appName("helpers-connect-server")
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.address", "127.0.0.1")
        .config("spark.connect.grpc.binding.port", sys.argv[1])
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate())
    print("ready", flush=True)
    while True:
        time.sleep(60)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    env = os.environ | {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its JVM goes with it when the group is killed
        )
    try:
        deadline = time.monotonic() + 180
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Spark Connect server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _build(out, data, env, *extra) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "helpers.reports", "build", "--only", "overview", "--force"]
        + ["--out", str(out), "--data", str(data), *extra],
        capture_output=True,
        text=True,
        cwd=PROJ_ROOT,
        env=env,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return json.loads((out / "overview.json").read_text(encoding="utf-8"))


def test_overview_report_builds_through_spark_connect(connect_url, small_sample, tmp_path):
    env = os.environ | {"SPARK_REMOTE": f"{connect_url}/;user_id=analyst"}
    remote = _build(tmp_path / "connect", small_sample, env, "--param", "engine=spark")
    local_env = {k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"}
    duck = _build(tmp_path / "duckdb", small_sample, local_env)
    assert remote["status"] == duck["status"] == "ok"
    assert remote["parameters"]["engine"] == "spark"
    html = (tmp_path / "connect" / "overview.html").read_text(encoding="utf-8")
    assert f"engine spark (Spark Connect at {connect_url})" in html
    assert "user_id" not in html and "analyst" not in html  # the URL's parameters stay out
    figures, expected = remote["figures"], duck["figures"]
    assert figures.keys() == expected.keys() and len(figures) > 5
    for key, want in expected.items():
        if isinstance(want, float):
            assert figures[key] == pytest.approx(want, rel=1e-9), key
        else:
            assert figures[key] == want, key


def test_spark_session_follows_spark_remote(connect_url):
    """``spark_session()`` is a Spark Connect client when ``$SPARK_REMOTE`` is set (run in a
    fresh process: PySpark allows no remote session beside the local one other tests hold)."""
    code = (
        "from helpers.data.dataset import spark_session\n"
        "s = spark_session('helpers-tests-remote')\n"
        "print(type(s).__module__, s.range(5).count())"
    )
    env = os.environ | {"SPARK_REMOTE": connect_url}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-2:] == ["pyspark.sql.connect.session", "5"]


def test_shown_remote_drops_the_url_parameters():
    from helpers.data.dataset import shown_remote

    assert shown_remote("sc://10.0.0.5:15002/;token=abc;user_id=x") == "sc://10.0.0.5:15002"
    assert shown_remote("sc://spark.example") == "sc://spark.example"
