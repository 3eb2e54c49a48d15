"""Scale and speed benchmarks: `make bench` (or `python benchmarks/run.py --scales 1 10`).

For each scale (default 1, 10 and 100 times the default sample) it uses the synthetic dataset
cached under benchmarks/.data (git-ignored; generated, and timed, only when missing; otherwise
the generation time recorded in its manifest.json is shown), then:

- times each benchmark step in a fresh Python process and reads that process's peak resident
  memory (getrusage), so steps share no warm caches or memory; a step that takes under
  ``--repeat-below`` seconds is run ``--repeat`` times and the fastest run is kept (the machine
  is shared: the minimum is the least disturbed measurement);
- builds every report of reports.yml on that dataset (``python -m helpers.reports build
  --force --jobs 2 --data FOLDER --out TMPDIR``, as ``make reports`` does) while sampling the
  resident memory of the whole process tree (runner, worker processes, Jupyter kernels) with
  psutil, and reads each report's build time (``<name>.json``) and the slowest notebook cells
  (papermill's per-cell durations in the executed ``<name>.ipynb``). At the smallest scale it
  also times a no-change rebuild (every report up to date).

It prints the tables and writes benchmarks/RESULTS.md (machine, versions, date and load),
benchmarks/scaling.png (log-log time against scale, when two or more scales were measured)
and the raw numbers to benchmarks/.data/last-run.json. ``--merge`` keeps what that last run
measured and this run does not: other scales (to add the 100x scale to an earlier 1x + 10x
run, say) and, at a scale both measured, the other steps.

A full run (no ``--only``) then runs benchmarks/clv_shapes.py (BTYD fits on hard simulated
shapes, ours against lifetimes: fit time and success rate), which writes
benchmarks/RESULTS-clv-shapes.md; RESULTS.md links to it when it exists.

Steps are named ``area: what`` and live in ``benchmarks/steps_<topic>.py`` (see load_steps).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".data"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
CHART = ROOT / "benchmarks" / "scaling.png"
RAW = CACHE / "last-run.json"
CLV_SHAPES = ROOT / "benchmarks" / "RESULTS-clv-shapes.md"

GENERATE = "data: generate"
BUILD = "reports: full build (forced, 2 jobs)"
REBUILD = "reports: no-change rebuild"
SPARK_BUILD = "reports: full build on Spark (forced, 2 jobs, local[2] per kernel)"

# Targets of issue 21, checked (not asserted) in RESULTS.md.
TARGET_SAMPLE_BUILD_S = 25  # every report at 1x
TARGET_TEN_BUILD_S = 40  # every report at 10x
TARGET_REBUILD_S = 0.5
TARGET_BIG_BUILD_S = 300  # every report at 100x, 2 jobs
TARGET_BIG_PEAK_MIB = 4 * 1024


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


def best_of(code: str, data: Path, repeat: int, below: float) -> dict:
    """Run a step; while it is fast (under ``below`` s) run it up to ``repeat`` times in all.
    Keeps the fastest run's seconds and the largest peak memory; ``runs`` says how many."""
    first = run_step(code, data)
    runs = [first]
    while len(runs) < repeat and first["seconds"] < below:
        runs.append(run_step(code, data))
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "peak_mib": max(r["peak_mib"] for r in runs), "runs": len(runs)}


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


# --------------------------------------------------------------------------- report builds


class TreeMemory:
    """Samples the total resident memory of a process and all its descendants (psutil) every
    ``interval`` seconds in a thread; ``peak_mib`` is the largest total seen, ``largest_mib``
    the largest single process seen. Short spikes between samples can be missed."""

    def __init__(self, pid: int, interval: float = 0.25):
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_mib = 0.0
        self.largest_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            self.largest_mib = max(self.largest_mib, rss / 2**20)
        self.peak_mib = max(self.peak_mib, total / 2**20)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def kill_tree(pid: int) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


def slowest_cells(ipynb: Path, n: int = 3) -> list[dict]:
    """The ``n`` slowest code cells of an executed notebook (papermill's durations)."""
    try:
        nb = json.loads(ipynb.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    cells = []
    for i, cell in enumerate(nb.get("cells", [])):
        duration = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
        if cell.get("cell_type") == "code" and duration is not None:
            source = "".join(cell.get("source", ""))
            lines = [x.strip() for x in source.splitlines() if x.strip()]
            cells.append({"cell": i, "seconds": float(duration), "source": " / ".join(lines)})
    cells.sort(key=lambda c: c["seconds"], reverse=True)
    return cells[:n]


def build_reports(
    data: Path, out: Path, *, force: bool, timeout: float, extra: tuple[str, ...] = ()
) -> dict:
    """Run the report runner on ``data`` into ``out`` (``extra``: more runner arguments, such
    as ``--param engine=spark``): wall seconds, peak memory of the process tree, per-report
    status and seconds, the slowest cells, and the runner's log tail."""
    args = [sys.executable, "-m", "helpers.reports", "build", "--jobs", "2", *extra]
    args += ["--data", str(data), "--out", str(out)] + (["--force"] if force else [])
    log = out.parent / f"{out.name}.log"
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as sink:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
        with TreeMemory(proc.pid) as memory:
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
                proc.wait()
                code = "timeout"
    seconds = time.perf_counter() - start
    reports = {}
    for record in sorted(out.glob("*.json")):
        if record.name.startswith("index"):
            continue
        r = json.loads(record.read_text(encoding="utf-8"))
        if not isinstance(r, dict) or "name" not in r:
            continue  # not a report's record (the index's, say)
        reports[r["name"]] = {
            "status": r.get("status"),
            "seconds": r.get("build_seconds"),
            "error": r.get("error"),
            "cells": slowest_cells(out / (r.get("ipynb") or f"{r['name']}.ipynb")),
        }
    return {
        "seconds": seconds,
        "peak_mib": memory.peak_mib,
        "largest_mib": memory.largest_mib,
        "exit": code,
        "reports": reports,
        "log": log.read_text(encoding="utf-8")[-3000:],
    }


def no_change_rebuild(data: Path, out: Path, attempts: int = 4) -> dict:
    """Time a build where every report is up to date. Other developers may change
    src/helpers while the forced build runs (which makes reports stale), so the rebuild is
    repeated until the runner reports nothing to build; ``attempts`` says how many it took."""
    for attempt in range(1, attempts + 1):
        _say(f"  {REBUILD}, attempt {attempt}")
        result = build_reports(data, out, force=False, timeout=1800)
        if "0 to build" in result["log"]:
            break
    result["attempts"] = attempt
    result["up_to_date"] = "0 to build" in result["log"]
    return result


# --------------------------------------------------------------------------- the run


def versions() -> str:
    import duckdb
    import ibis
    import pandas

    return f"python {platform.python_version()}, pandas {pandas.__version__}, " + (
        f"ibis {ibis.__version__}, duckdb {duckdb.__version__}"
    )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def measure(args: argparse.Namespace) -> dict:
    steps, _ = load_steps()
    run: dict = {"scales": {}, "load_start": load_average(), "started": _now()}
    what = (
        "x, ".join(f"{s:g}" for s in args.scales)
        + "x"
        + (f" (steps matching {' '.join(args.only)})" if args.only else "")
    )
    run["parts"] = [{"started": run["started"], "what": what, "load_start": run["load_start"]}]
    for scale in args.scales:
        folder, generated = dataset(scale)
        manifest = json.loads((folder / "manifest.json").read_text())
        rec: dict = {"folder": str(folder), "rows": manifest["row_counts"], "steps": {}}
        if generated:
            rec["steps"][GENERATE] = {**generated, "note": "timed in this run"}
        elif manifest.get("elapsed_seconds") is not None:
            rec["steps"][GENERATE] = {
                "seconds": float(manifest["elapsed_seconds"]),
                "note": "recorded in manifest.json when generated",
            }
        counts = manifest["row_counts"]
        _say(
            f"scale {scale:g}: {counts['accounts']:,} accounts, {counts['order_lines']:,} "
            f"order lines, {counts['web_events']:,} web events"
        )
        for name, code in steps:
            if args.only and not any(s in name for s in args.only):
                continue
            _say(f"scale {scale:g}: {name}")
            try:
                rec["steps"][name] = best_of(code, folder, args.repeat, args.repeat_below)
            except RuntimeError as exc:
                _say(str(exc))
                rec["steps"][name] = {"seconds": math.nan, "error": str(exc)[-500:]}
        if not args.no_reports:
            with tempfile.TemporaryDirectory(prefix=f"bench-reports-{scale:g}-") as tmp:
                out = Path(tmp) / "reports"
                _say(f"scale {scale:g}: {BUILD} -> {out}")
                rec["build"] = build_reports(folder, out, force=True, timeout=args.build_timeout)
                _say(f"  {rec['build']['seconds']:.1f} s, peak {rec['build']['peak_mib']:.0f} MiB")
                if scale == min(args.scales):
                    rec["rebuild"] = no_change_rebuild(folder, out)
                if args.spark:
                    out = Path(tmp) / "spark"
                    _say(f"scale {scale:g}: {SPARK_BUILD} -> {out}")
                    rec["spark_build"] = build_reports(
                        folder, out, force=True, timeout=args.build_timeout,
                        extra=("--param", "engine=spark"),
                    )  # fmt: skip
                    b = rec["spark_build"]
                    _say(f"  {b['seconds']:.1f} s, peak {b['peak_mib']:.0f} MiB")
        run["scales"][f"{scale:g}"] = rec
    run["load_end"] = load_average()
    run["parts"][0] |= {"finished": _now(), "load_end": run["load_end"]}
    run["finished"] = _now()
    return run


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the write-up


def _fmt_s(s: float | None) -> str:
    if s is None or s != s:
        return "–"
    return f"{s:.2f}" if s < 10 else f"{s:,.0f}" if s >= 100 else f"{s:.1f}"


def _fmt_mib(m: float | None) -> str:
    return "" if m is None or m != m else f"{m:,.0f}"


def _ordered(keys_per_item) -> list[str]:
    """Every key, in first-seen order."""
    names: list[str] = []
    for keys in keys_per_item:
        for name in keys:
            if name not in names:
                names.append(name)
    return names


def _steps_table(scales: list[str], recs: list[dict]) -> list[str]:
    head = "| step | " + " | ".join(f"{s}x s (peak MiB)" for s in scales) + " |"
    lines = ["## Steps", "", head, "|---|" + "---:|" * len(scales)]
    for name in _ordered(rec["steps"] for rec in recs):
        cells = []
        for rec in recs:
            r = rec["steps"].get(name)
            if r is None:
                cells.append("")
                continue
            peak = _fmt_mib(r.get("peak_mib"))
            cells.append(_fmt_s(r["seconds"]) + (f" ({peak})" if peak else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for label, key in ((BUILD, "build"), (SPARK_BUILD, "spark_build"), (REBUILD, "rebuild")):
        cells = [_build_cell(rec.get(key), key) for rec in recs]
        if any(cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    rows = " | ".join(
        f"{r['rows']['accounts']:,} accounts, {r['rows']['order_lines']:,} lines, "
        f"{r['rows']['web_events']:,} events"
        for r in recs
    )
    lines[4:4] = [f"| rows | {rows} |"]
    return lines


def _build_cell(b: dict | None, key: str) -> str:
    if b is None:
        return ""
    status = "" if b["exit"] == 0 else f" [exit {b['exit']}]"
    if key == "rebuild" and not b.get("up_to_date", True):
        status += " [still stale: src/helpers kept changing]"
    return f"{_fmt_s(b['seconds'])} ({_fmt_mib(b['peak_mib'])}){status}"


def _ratios_table(scales: list[str], recs: list[dict], ratios: list) -> list[str]:
    lines = ["", "## Comparisons (seconds of a / seconds of b)", ""]
    lines += ["| comparison | " + " | ".join(f"{s}x" for s in scales) + " | target |"]
    lines += ["|---|" + "---:|" * (len(scales) + 1)]
    for label, a, b, target in ratios:
        cells = []
        for rec in recs:
            ra, rb = rec["steps"].get(a), rec["steps"].get(b)
            ok = ra and rb and ra["seconds"] == ra["seconds"] and rb["seconds"] > 0
            cells.append(f"{ra['seconds'] / rb['seconds']:.2f}" if ok else "")
        goal = "" if target is None else f"≤ {target:g}"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {goal} |")
    return lines


def _report_cell(r: dict | None) -> str:
    if r is None:
        return ""
    if r["status"] == "ok":
        return _fmt_s(r["seconds"])
    return f"{r['status']}: {r.get('error') or ''}"[:120]


def _builds_table(scales: list[str], built: list) -> list[str]:
    lines = ["", "## Report build times (seconds, from each report's `<name>.json`)", ""]
    lines += ["| report | " + " | ".join(f"{s}x" for s in scales) + " |"]
    lines += ["|---|" + "---:|" * len(scales)]
    for name in _ordered((b or {}).get("reports", {}) for b in built):
        cells = [_report_cell((b or {}).get("reports", {}).get(name)) for b in built]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "| whole build, wall clock (2 reports at a time) | "
        + " | ".join(_fmt_s(b["seconds"]) if b else "" for b in built)
        + " |",
        "| peak memory of the build's process tree, MiB | "
        + " | ".join(_fmt_mib(b["peak_mib"]) if b else "" for b in built)
        + " |",
        "| largest single process, MiB | "
        + " | ".join(_fmt_mib(b["largest_mib"]) if b else "" for b in built)
        + " |",
    ]
    return lines


def _slowest_cells(run: dict, scales: list[str], built: list) -> list[str]:
    big = max((s for s, b in zip(scales, built, strict=True) if b), key=float)
    b = run["scales"][big]["build"]
    lines = ["", f"## Slowest notebook cells at {big}x (papermill's per-cell durations)", ""]
    lines += ["| report | cell | seconds | code |", "|---|---:|---:|---|"]
    for name, r in sorted(b["reports"].items(), key=lambda kv: -(kv[1]["seconds"] or 0)):
        for c in r["cells"]:
            code = c["source"].replace("|", "\\|")
            code = code if len(code) <= 110 else code[:107] + "..."
            lines.append(f"| {name} | {c['cell']} | {c['seconds']:.1f} | `{code}` |")
    return lines


def render(run: dict, ratios: list) -> str:
    """RESULTS.md's tables: steps, comparisons, report builds with the targets, slowest cells."""
    scales = sorted(run["scales"], key=float)
    recs = [run["scales"][s] for s in scales]
    lines = _steps_table(scales, recs)
    if ratios:
        lines += _ratios_table(scales, recs, ratios)
    built = [rec.get("build") for rec in recs]
    if any(built):
        lines += _builds_table(scales, built)
        lines += _targets(scales, recs)
        lines += _slowest_cells(run, scales, built)
    return "\n".join(lines)


def _targets(scales: list[str], recs: list[dict]) -> list[str]:
    out = ["", "## Targets (issue 21; measured, not asserted)", ""]
    out += ["| target | measured | met |", "|---|---:|:---:|"]

    def row(text: str, value: float | None, limit: float, unit: str) -> None:
        if value is None:
            return
        shown = f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"
        out.append(f"| {text} | {shown} | {'yes' if value <= limit else '**no**'} |")

    def build_row(scale: str, limit: float) -> None:
        b = recs[scales.index(scale)].get("build") if scale in scales else None
        if not b:
            return
        failed = [n for n, r in b.get("reports", {}).items() if r["status"] != "ok"]
        note = f" ({', '.join(failed)} failed)" if failed else ""
        if b["exit"] == "timeout":
            note = " (stopped at the time limit)"
        row(f"every report at {scale}x, 2 jobs, <= {limit:g} s{note}", b["seconds"], limit, "s")
        if scale == "100":
            row("peak memory of the 100x build <= 4 GiB", b["peak_mib"], TARGET_BIG_PEAK_MIB, "MiB")

    build_row("1", TARGET_SAMPLE_BUILD_S)
    build_row("10", TARGET_TEN_BUILD_S)
    build_row("100", TARGET_BIG_BUILD_S)
    rebuild = next((r["rebuild"] for r in recs if r.get("rebuild")), None)
    if rebuild:
        row(f"no-change rebuild <= {TARGET_REBUILD_S} s", rebuild["seconds"], TARGET_REBUILD_S, "s")
    return out


def chart(run: dict, path: Path) -> bool:
    """Log-log time against scale: the aggregation steps (left), the report builds (right).
    Needs two scales or more: otherwise draws nothing, removes a stale chart and returns False."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = sorted(run["scales"], key=float)
    if len(scales) < 2:
        path.unlink(missing_ok=True)
        return False
    xs = [float(s) for s in scales]
    recs = [run["scales"][s] for s in scales]
    builds = any(r.get("build") for r in recs)
    if builds:
        fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6.5), sharey=True)
    else:  # no report build measured (--no-reports): the steps alone
        fig, left = plt.subplots(1, 1, figsize=(9, 6.5))
        right = None
    names = [
        n
        for n in recs[-1]["steps"]
        if all(
            n in r["steps"] and r["steps"][n]["seconds"] == r["steps"][n]["seconds"] for r in recs
        )
    ]
    names.sort(key=lambda n: -recs[-1]["steps"][n]["seconds"])
    cmap = plt.get_cmap("tab20")
    for i, name in enumerate(names):
        ys = [r["steps"][name]["seconds"] for r in recs]
        style = "--" if name.startswith(("data:",)) else "-"
        left.plot(xs, ys, style, marker="o", color=cmap(i % 20), label=name, lw=1.4)
    left.set_title("Benchmark steps measured at every scale (each in a fresh process)")
    reports = sorted({n for r in recs for n in (r.get("build") or {}).get("reports", {})})
    for i, name in enumerate(reports if builds else []):
        pts = [
            (x, r["build"]["reports"][name]["seconds"])
            for x, r in zip(xs, recs, strict=True)
            if r.get("build")
            and name in r["build"]["reports"]
            and r["build"]["reports"][name]["status"] == "ok"
        ]
        if pts:
            right.plot(*zip(*pts, strict=True), marker="o", color=cmap(i % 20), label=name)
    pts = [(x, r["build"]["seconds"]) for x, r in zip(xs, recs, strict=True) if r.get("build")]
    if pts:
        right.plot(*zip(*pts, strict=True), "k-", marker="s", lw=2.5, label="whole build (wall)")
    if builds:
        right.set_title("Report builds (papermill + HTML), per report and whole")
    for ax in (left, right) if builds else (left,):
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo = min(xs)
        ref = [0.1 * x / lo for x in xs]
        ax.plot(xs, ref, ":", color="grey", label="linear growth (slope 1)")
        ax.set_xlabel("dataset scale (1 = 2,000 accounts, 100k order lines, 1M web events)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    left.set_ylabel("seconds (log scale)")
    fig.suptitle("How time grows with data size (log-log)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(run: dict, ratios: list, has_chart: bool = False) -> str:
    body = render(run, ratios)
    uname = platform.uname()
    header = (
        "# Benchmark results\n\n"
        f"Written by `make bench` (`benchmarks/run.py`) on {run['finished'][:10]}, run from "
        f"{run['started']} to {run['finished']} (UTC). Machine: {uname.machine}, "
        f"{os.cpu_count()} cores, {_memory()}, {platform.platform()}; {versions()}.\n\n"
        f"**Load**: the machine is shared with other developers' jobs; {_loads(run)}, so "
        "absolute times carry some noise (a step under 20 s is run three times, fastest "
        "kept).\n\n"
        "Each step runs in a fresh process; seconds exclude imports and the set-up before the "
        "step's `TIMER()` (usually opening the dataset); peak MiB is that process's peak "
        "resident memory. For report builds, peak MiB is the largest total resident memory of "
        "the runner's whole process tree (workers and Jupyter kernels), sampled every 0.25 s "
        "with psutil. The data generation time is the one recorded in each dataset's "
        "manifest.json when it was generated (a separate, earlier run on the same machine).\n\n"
    )
    if has_chart:
        header += f"![time against scale, log-log]({CHART.name})\n\n"
    if CLV_SHAPES.is_file():
        header += (
            "BTYD fits on hard simulated shapes (heavy buyers, tiny dropout, years of history, "
            "a million accounts), ours against lifetimes, fit time and success rate: "
            f"[{CLV_SHAPES.name}]({CLV_SHAPES.name}) (`python benchmarks/clv_shapes.py`)"
        )
        one = CLV_SHAPES.with_name(CLV_SHAPES.stem + "-1-thread.md")
        if one.is_file():
            header += (
                f"; the same with BLAS limited to one thread: [{one.name}]({one.name}) "
                f"(`python benchmarks/clv_shapes.py --blas-threads 1 --out benchmarks/{one.name}`)"
            )
        header += ".\n\n"
    text = header + body + "\n"
    return text


def _loads(run: dict) -> str:
    """The load averages of the run, or of each run that ``--merge`` combined (later runs
    replace the steps they measured again)."""
    parts = run.get("parts") or []
    if len(parts) <= 1:
        return (
            f"load average (1, 5, 15 min) was {run['load_start']} at the start and "
            f"{run['load_end']} at the end of the run"
        )
    each = "; ".join(
        f"{p['started'][11:16]}-{p['finished'][11:16]} UTC, {p['what']}: "
        f"{p['load_start']} at the start"
        + (f", {p['load_end']} at the end" if p.get("load_end") else "")
        for p in parts
    )
    return (
        f"this table merges {len(parts)} runs (`--merge`; a later run replaces the steps it "
        f"measures again), with load averages (1, 5, 15 min): {each}"
    )


def _memory() -> str:
    try:
        import psutil

        return f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        return "RAM unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10, 100])
    parser.add_argument("--no-reports", action="store_true", help="skip the report builds")
    parser.add_argument(
        "--spark", action="store_true", help="also build every report on Spark (engine=spark)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of a fast step (best kept)")
    parser.add_argument("--repeat-below", type=float, default=20.0, metavar="SECONDS")
    parser.add_argument("--build-timeout", type=float, default=3600.0, metavar="SECONDS")
    parser.add_argument("--only", nargs="+", metavar="TEXT", help="steps whose name has TEXT")
    parser.add_argument(
        "--merge", action="store_true", help="keep the other scales of the last run"
    )
    parser.add_argument(
        "--render", action="store_true", help="only rewrite RESULTS.md from the last run"
    )
    parser.add_argument(
        "--clv-shapes",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run benchmarks/clv_shapes.py too (default: on a full run, without --only)",
    )
    args = parser.parse_args(argv)

    _, ratios = load_steps()
    if args.render:
        run = json.loads(RAW.read_text(encoding="utf-8"))
    else:
        run = measure(args)
        if args.merge and RAW.is_file():
            last = json.loads(RAW.read_text(encoding="utf-8"))
            merged = {**last["scales"], **run["scales"]}
            for scale, rec in run["scales"].items():
                old = last["scales"].get(scale)
                if old:  # keep the steps (and builds) of the last run that this one skipped
                    merged[scale] = {**old, **rec, "steps": {**old["steps"], **rec["steps"]}}
            run["scales"] = merged
            run["parts"] = last.get("parts", []) + run["parts"]
            run["started"] = last["started"]
        CACHE.mkdir(parents=True, exist_ok=True)
        RAW.write_text(json.dumps(run, indent=1), encoding="utf-8")
    if args.clv_shapes is None:
        args.clv_shapes = not args.render and not args.only
    if args.clv_shapes:
        _say("BTYD fits on hard shapes: benchmarks/clv_shapes.py")
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "clv_shapes.py")], cwd=ROOT, check=False
        )
    text = write(run, ratios, has_chart=chart(run, CHART))
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
