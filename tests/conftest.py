"""Test-session set-up: a small generated sample that the notebook tests (nbval) run on.

The sample is cached under data/.cache (git-ignored) and made again when the generator's source
(generate.py, the helpers.data.synth package or schema.py) changes. ``HELPERS_DATA_DIR`` points
every notebook kernel at it, since nbval runs notebooks with their default parameters
(``data_dir = None``).
"""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from helpers.config import DATA_DIR, DATA_DIR_ENV, PROJ_ROOT

SMALL_SCALE = 0.1
SMALL_SEED = 7


def _small_sample():
    from helpers.data import generate

    data = PROJ_ROOT / "src/helpers/data"
    sources = [data / "generate.py", data / "schema.py", *sorted((data / "synth").rglob("*.py"))]
    digest = hashlib.sha256()
    for path in sources:  # the whole generator: the run, its package and the data model
        digest.update(path.relative_to(data).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(f"{SMALL_SCALE}/{SMALL_SEED}".encode())
    stamp = digest.hexdigest()[:12]
    out = DATA_DIR / ".cache" / f"test-sample-{stamp}"
    if not (out / "manifest.json").is_file():
        for old in (DATA_DIR / ".cache").glob("test-sample-*"):
            shutil.rmtree(old, ignore_errors=True)
        generate.generate(out, scale=SMALL_SCALE, seed=SMALL_SEED, progress=False)
    return out


#: The test session's Spark JVMs (the in-process session and one per report kernel on Spark)
#: are short-lived and small: the client JIT only (C1) and the serial collector start and
#: warm up faster (a two-report Spark build took 48 s instead of 70 s). Production sessions
#: keep the JVM's defaults, which suit long jobs.
SPARK_TEST_JVM = (
    "--driver-java-options '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto' pyspark-shell"
)


def pytest_configure(config):
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", SPARK_TEST_JVM)
    os.environ.setdefault("MPLBACKEND", "Agg")
    # account lists (exports/<report>/<list>.csv and .xlsx) of test runs: never into reports/exports
    os.environ["HELPERS_EXPORTS_DIR"] = str(DATA_DIR / ".cache" / "test-exports")
    if DATA_DIR_ENV not in os.environ:
        os.environ[DATA_DIR_ENV] = str(_small_sample())


@pytest.fixture(scope="session")
def small_sample():
    """The small generated dataset the notebook tests use (a folder of Parquet tables)."""
    from pathlib import Path

    return Path(os.environ[DATA_DIR_ENV])


@pytest.fixture(scope="session")
def spark():
    """One local Spark session (local[2], loopback) shared by every test that needs Spark."""
    from helpers.data import spark_session

    session = spark_session("helpers-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def small_build(tmp_path_factory, small_sample):
    """Every report in reports.yml built once on the small sample, as ``make reports`` does
    (``python -m helpers.reports build`` in a subprocess): (output folder, the finished
    process). Shared by every test that reads a whole build, which must not change it."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("small-build") / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "helpers.reports", "build", "--force"]
        + ["--out", str(out), "--data", str(small_sample)],
        capture_output=True,
        text=True,
        cwd=PROJ_ROOT,
    )
    return out, run


@pytest.fixture(scope="session")
def spark_connect_url(tmp_path_factory):
    """One Spark Connect server on loopback for the session (tests/sparkconnect.py): its
    ``sc://127.0.0.1:<port>`` URL."""
    pytest.importorskip("grpc", reason="the Spark Connect client needs pyspark[connect]")
    from sparkconnect import serve

    yield from serve(tmp_path_factory.mktemp("connect") / "server.log")
