"""Scale and speed benchmarks: `make bench` (or `python benchmarks/run.py --scales 1 10`).

For each scale it generates the synthetic dataset once (cached under benchmarks/.data, which
git ignores), then times each step in a fresh Python process and reads that process's peak
resident memory, so the steps do not share warm caches or memory. It also times the report
build on the default sample: a forced build and a no-change rebuild. The table is printed and
written to benchmarks/RESULTS.md with the machine, the versions and the date.

Steps are named ``area: what`` and live in ``benchmarks/steps_<topic>.py`` (see load_steps).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".data"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def load_steps() -> tuple[list[tuple[str, str]], list[tuple[str, str, str, float | None]]]:
    """Collect STEPS and RATIOS from every ``benchmarks/steps_*.py``, in file-name order.

    A steps file defines ``STEPS = [(name, code), ...]``: ``code`` runs in a fresh process
    with ``data`` (the dataset folder, a str) defined and ``TIMER()`` available to restart the
    clock after set-up. It may define ``RATIOS = [(label, step_a, step_b, target), ...]``:
    the table then shows seconds(step_a) / seconds(step_b) at each scale against ``target``
    (None for no target).
    """
    steps, ratios = [], []
    for path in sorted((ROOT / "benchmarks").glob("steps_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        steps += list(module.STEPS)
        ratios += list(getattr(module, "RATIOS", []))
    return steps, ratios


# The worker: runs the step's code, timing from the start or from the TIMER() mark (so that
# opening the dataset is not counted twice), and prints seconds and peak RSS as JSON.
WORKER = """
import json, resource, sys, time
data = sys.argv[1]
_t = [time.perf_counter()]
def TIMER():
    _t[0] = time.perf_counter()
exec(compile(sys.argv[2], "<step>", "exec"))
seconds = time.perf_counter() - _t[0]
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))
"""


def run_step(code: str, data: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(data), code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def dataset(scale: float, seed: int = 42) -> tuple[Path, dict | None]:
    """The cached dataset for ``scale``; generates it (timed) when missing."""
    folder = CACHE / f"scale-{scale:g}-seed-{seed}"
    if (folder / "manifest.json").is_file():
        return folder, None
    code = (
        "from helpers.data.generate import generate\n"
        f"generate(data, scale={scale}, seed={seed}, progress=False)"
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    return folder, run_step(code, folder)


def timed_command(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def versions() -> str:
    import duckdb
    import ibis
    import pandas

    return f"python {platform.python_version()}, pandas {pandas.__version__}, " + (
        f"ibis {ibis.__version__}, duckdb {duckdb.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--no-reports", action="store_true", help="skip the report build")
    args = parser.parse_args(argv)

    steps, ratios = load_steps()
    rows = []
    for scale in args.scales:
        folder, generated = dataset(scale)
        if generated:
            rows.append((scale, "data: generate", generated))
        for name, code in steps:
            print(f"scale {scale:g}: {name}", file=sys.stderr, flush=True)
            rows.append((scale, name, run_step(code, folder)))
        manifest = json.loads((folder / "manifest.json").read_text())
        counts = manifest["row_counts"]
        print(
            f"scale {scale:g}: {counts['accounts']:,} accounts, "
            f"{counts['order_lines']:,} order lines, {counts['web_events']:,} web events",
            file=sys.stderr,
        )
    if not args.no_reports:
        build = [sys.executable, "-m", "helpers.reports", "build"]
        rows.append(
            (1, "reports: full build (forced)", {"seconds": timed_command([*build, "--force"])})
        )
        rows.append((1, "reports: no-change rebuild", {"seconds": timed_command(build)}))

    lines = [
        "| scale | step | seconds | peak MiB |",
        "|---:|---|---:|---:|",
    ]
    for scale, name, r in rows:
        peak = r.get("peak_mib", float("nan"))
        peak_text = "" if peak != peak else f"{peak:,.0f}"
        lines.append(f"| {scale:g} | {name} | {r['seconds']:.2f} | {peak_text} |")
    seconds = {(scale, name): r["seconds"] for scale, name, r in rows}
    if ratios:
        lines += ["", "| scale | comparison | ratio | target |", "|---:|---|---:|---:|"]
        for scale in args.scales:
            for label, a, b, target in ratios:
                if (scale, a) in seconds and (scale, b) in seconds:
                    ratio = seconds[scale, a] / seconds[scale, b]
                    goal = "" if target is None else f"≤ {target:g}"
                    lines.append(f"| {scale:g} | {label} | {ratio:.2f} | {goal} |")
    table = "\n".join(lines)
    print(table)
    header = (
        "# Benchmark results\n\n"
        f"Written by `make bench` on {dt.date.today().isoformat()}; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.platform()}; {versions()}.\n"
        "Each step runs in a fresh process; peak MiB is that process's peak resident memory. "
        "Scale 1 = about 2,000 accounts, 100k order lines, 1M web events.\n\n"
    )
    RESULTS.write_text(header + table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
