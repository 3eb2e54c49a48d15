"""A Spark Connect server on loopback for the tests (started once per test session by the
``spark_connect_url`` fixture in conftest.py): a local Spark session with the
SparkConnectPlugin, bound to 127.0.0.1 on a free port, the way a Spark cluster is reached."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def serve(log: Path) -> Iterator[str]:
    """Start the server, yield its ``sc://`` URL, stop it (its whole process group). The
    server keeps the JVM's own flags (the tests' client-JIT flags suit short JVMs only)."""
    port = _free_port()
    env = os.environ | {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    env.pop("PYSPARK_SUBMIT_ARGS", None)
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
