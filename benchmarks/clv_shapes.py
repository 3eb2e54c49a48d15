"""BTYD fits on hard simulated shapes, ours against lifetimes (issue 13): fit time and success.

``python benchmarks/clv_shapes.py`` (also run by ``make bench``, through benchmarks/run.py).

For each shape of ``HARD_SHAPES`` (tests/btyd_shapes.py: heavy buyers, tiny dropout, long T
in days, CDNOW-like) and each model (BG/NBD, Pareto/NBD, Gamma-Gamma), for ``--seeds`` seeds,
the customers are simulated from the shape's true parameters with ``simulate_shape(shape,
model, n, seed)`` of the same file (Gamma-Gamma: spends of the customers simulated under
BG/NBD, repeat buyers only, as lifetimes expects) and fitted on the same arrays by ours
(``btyd.fit_bgnbd``, ``fit_pareto_nbd``, ``fit_gamma_gamma``) and by lifetimes
(``BetaGeoFitter``, ``ParetoNBDFitter``, ``GammaGammaFitter``; no penalizer, default options,
no weights). Plus one run of a million CDNOW-like accounts under BG/NBD.

A fit counts as a **success** only if it returns (no exception, within the time limit) finite,
positive parameters that all lie within 3 standard errors of the truth on the log scale,
|log θ̂ − log θ| < 3 se(log θ̂) (the band tests/test_btyd_hard.py uses). The standard error is
the library's own where it reports a finite one (ours: ``FitResult.log_se``; lifetimes:
``standard_errors_ / params_``, BG/NBD and Gamma-Gamma), else ours' on the same data (lifetimes'
Pareto/NBD reports none). Warnings are recorded, not counted as failures: the table shows how
many runs emitted a RuntimeWarning. Each fit runs in a forked worker process so a fit that
hangs can be stopped at ``--timeout`` seconds; its time is the fit call alone (lifetimes' time
includes the Hessian it computes for its standard errors, as ours includes its check).

``--blas-threads 1`` limits BLAS to one thread in the fit (threadpoolctl, both libraries): on
a shared 2-core machine OpenBLAS's threads can cost more than a 4-parameter fit itself.

Writes benchmarks/RESULTS-clv-shapes.md (linked from benchmarks/RESULTS.md; ``--out`` to
change) and the raw runs to benchmarks/.data/<that file's name>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the shapes are test fixtures: tests/btyd_shapes.py
OUT = ROOT / "benchmarks" / "RESULTS-clv-shapes.md"
BIG_SHAPE = "CDNOW-like, 1M accounts"
MODELS = ("bgnbd", "pareto_nbd", "gamma_gamma")
NAMES = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma"}
LIBS = ("ours", "lifetimes")
K = 3.0  # success band, in standard errors of the log-parameter


def simulate(shape: str, model: str, n: int, seed: int) -> dict[str, np.ndarray]:
    """The arrays both libraries fit (deterministic in shape, model, n and seed)."""
    from btyd_shapes import simulate_shape

    d = simulate_shape(shape, "bgnbd" if model == "gamma_gamma" else model, n, seed=seed)
    if model == "gamma_gamma":
        rep = d["frequency"] > 0
        return {"frequency": d["frequency"][rep], "monetary_value": d["monetary_value"][rep]}
    return d


def fit_once(lib: str, model: str, shape: str, n: int, seed: int, threads: int | None) -> dict:
    """Simulate, then fit with ``lib``; times the fit call alone. Runs in a worker process."""
    if threads:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(threads, user_api="blas"):
            return fit_once(lib, model, shape, n, seed, None)
    d = simulate(shape, model, n, seed)
    out: dict = {"rows": int(len(d["frequency"]))}
    sink = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(sink):
        warnings.simplefilter("always")
        try:
            if lib == "ours":
                from helpers.models import btyd

                fit = {
                    "bgnbd": btyd.fit_bgnbd,
                    "pareto_nbd": btyd.fit_pareto_nbd,
                    "gamma_gamma": btyd.fit_gamma_gamma,
                }[model]
                args = (
                    (d["frequency"], d["monetary_value"])
                    if model == "gamma_gamma"
                    else (d["frequency"], d["recency"], d["T"])
                )
                t0 = time.perf_counter()
                res = fit(*args)
                out["seconds"] = time.perf_counter() - t0
                out["params"] = dict(res.params)
                out["log_se"] = dict(res.log_se)
            else:
                from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

                if model == "gamma_gamma":
                    f = GammaGammaFitter(penalizer_coef=0.0)
                    t0 = time.perf_counter()
                    f.fit(d["frequency"], d["monetary_value"])
                else:
                    f = {"bgnbd": BetaGeoFitter, "pareto_nbd": ParetoNBDFitter}[model](
                        penalizer_coef=0.0
                    )
                    t0 = time.perf_counter()
                    f.fit(d["frequency"], d["recency"], d["T"])
                out["seconds"] = time.perf_counter() - t0
                params = {("gamma" if k == "v" else k): float(v) for k, v in f.params_.items()}
                out["params"] = params
                se = getattr(f, "standard_errors_", None)
                if se is not None:
                    out["log_se"] = {
                        ("gamma" if k == "v" else k): float(v) / params["gamma" if k == "v" else k]
                        for k, v in se.items()
                    }
        except Exception as exc:  # noqa: BLE001 - every failure is a result here
            out["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    out["runtime_warnings"] = len(runtime)
    out["first_runtime_warning"] = str(runtime[0].message)[:160] if runtime else None
    out["other_warnings"] = len(caught) - len(runtime)
    return out


def run_with_timeout(task: tuple, timeout: float) -> dict:
    """``fit_once(*task)`` in a fresh forked process, stopped after ``timeout`` seconds."""
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        job = pool.apply_async(fit_once, task)
        try:
            return job.get(timeout=timeout)
        except mp.TimeoutError:
            pool.terminate()
            return {"error": f"timeout: no result after {timeout:g} s", "timeout": True}
        except Exception as exc:  # noqa: BLE001 - e.g. the worker was killed (memory)
            return {"error": f"worker failed: {type(exc).__name__}: {exc}"[:300]}


def judge(run: dict, truth: dict, fallback_se: dict | None) -> None:
    """Sets run['success'], run['z'] (per parameter) and run['se_source'] in place."""
    run["success"] = False
    params = run.get("params")
    if not params:
        return
    if not all(math.isfinite(params[p]) and params[p] > 0 for p in truth):
        run["failure"] = "non-finite or non-positive parameters"
        return
    own = run.get("log_se") or {}
    if own and all(math.isfinite(own.get(p, math.nan)) and own[p] > 0 for p in truth):
        se, run["se_source"] = own, "own"
    elif fallback_se:
        se, run["se_source"] = fallback_se, "ours"
    else:
        run["failure"] = "no standard error to judge by"
        return
    run["z"] = {p: (math.log(params[p]) - math.log(v)) / se[p] for p, v in truth.items()}
    run["success"] = all(abs(z) < K for z in run["z"].values())
    if not run["success"]:
        run["failure"] = f"off by more than {K:g} se"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> dict:
    from btyd_shapes import HARD_SHAPES

    n_for = {"bgnbd": args.n_bgnbd, "pareto_nbd": args.n_pareto, "gamma_gamma": args.n_gg}
    cases = [
        (shape, model, n_for[model], seed)
        for shape in HARD_SHAPES
        for model in MODELS
        for seed in range(1, args.seeds + 1)
    ]
    if args.big:
        cases.append((BIG_SHAPE, "bgnbd", args.big, 1))
    runs = []
    for shape, model, n, seed in cases:
        truth = HARD_SHAPES[shape][model]
        limit = args.timeout * (1 if n <= 100_000 else args.big_timeout_factor)
        pair = {}
        for lib in LIBS:
            r = run_with_timeout((lib, model, shape, n, seed, args.blas_threads), limit)
            r.update(lib=lib, shape=shape, model=model, n=n, seed=seed, timeout_s=limit)
            pair[lib] = r
        judge(pair["ours"], truth, None)
        judge(pair["lifetimes"], truth, pair["ours"].get("log_se"))
        for lib in LIBS:
            r = pair[lib]
            _say(
                f"{shape} / {model} / n={n:,} / seed {seed} / {lib}: "
                + (f"{r['seconds']:.2f} s" if "seconds" in r else "no result")
                + (" ok" if r["success"] else f" FAILED ({r.get('failure') or r.get('error')})")
            )
            runs.append(r)
    return {"runs": runs}


def _cell_time(rs: list[dict]) -> str:
    secs = [r["seconds"] for r in rs if "seconds" in r]
    timeouts = sum(1 for r in rs if r.get("timeout"))
    text = f"{statistics.median(secs):.2f}" if secs else "–"
    if timeouts:
        text += f" ({timeouts} stopped at {rs[0]['timeout_s']:g} s)"
    return text


def _problems(rs: list[dict]) -> str:
    notes = []
    errors: dict[str, int] = {}
    for r in rs:
        if "error" in r:
            key = r["error"].split(":")[0] if not r.get("timeout") else "timeout"
            errors[key] = errors.get(key, 0) + 1
    notes += [f"{v}× {k}" for k, v in errors.items()]
    off = [r for r in rs if r.get("failure", "").startswith("off by")]
    if off:
        worst = max(max(abs(z) for z in r["z"].values()) for r in off)
        notes.append(f"{len(off)}× off by > {K:g} se (worst |z| {worst:.3g})")
    bad = sum(1 for r in rs if r.get("failure") == "non-finite or non-positive parameters")
    if bad:
        notes.append(f"{bad}× non-finite parameters")
    warned = sum(1 for r in rs if r.get("runtime_warnings"))
    if warned:
        notes.append(f"RuntimeWarning in {warned}")
    fallback = sum(1 for r in rs if r.get("se_source") == "ours")
    if fallback and rs[0]["lib"] == "lifetimes":
        notes.append("judged with ours' se" if fallback == len(rs) else f"{fallback}× ours' se")
    return "; ".join(notes) or "–"


def render(result: dict) -> str:
    runs = result["runs"]
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for r in runs:
        groups.setdefault((r["shape"], r["model"], r["n"]), {}).setdefault(r["lib"], []).append(r)
    lines = [
        "| shape | model | customers | seeds | ours: success | ours: median s | "
        "lifetimes: success | lifetimes: median s | lifetimes s / ours s | ours: problems | "
        "lifetimes: problems |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    totals = {lib: [0, 0] for lib in LIBS}
    for (shape, model, n), by in groups.items():
        ours, lt = by["ours"], by["lifetimes"]
        for lib, rs in by.items():
            totals[lib][0] += sum(r["success"] for r in rs)
            totals[lib][1] += len(rs)
        so = [r["seconds"] for r in ours if "seconds" in r]
        sl = [r["seconds"] for r in lt if "seconds" in r]
        speed = f"{statistics.median(sl) / statistics.median(so):.1f}" if so and sl else "–"
        rows = ours[0]["rows"] if "rows" in ours[0] else n
        who = f"{rows:,}" + (" repeat buyers" if model == "gamma_gamma" else "")
        lines.append(
            f"| {shape} | {NAMES[model]} | {who} | {len(ours)} | "
            f"{sum(r['success'] for r in ours)}/{len(ours)} | {_cell_time(ours)} | "
            f"{sum(r['success'] for r in lt)}/{len(lt)} | {_cell_time(lt)} | {speed} | "
            f"{_problems(ours)} | {_problems(lt)} |"
        )
    lines += [
        "",
        f"In all: ours {totals['ours'][0]}/{totals['ours'][1]} fits succeeded, lifetimes "
        f"{totals['lifetimes'][0]}/{totals['lifetimes'][1]}.",
    ]
    return "\n".join(lines)


def versions() -> str:
    from importlib.metadata import version

    pkgs = ("numpy", "scipy", "pandas", "lifetimes", "autograd")
    return f"python {platform.python_version()}, " + ", ".join(f"{p} {version(p)}" for p in pkgs)


def write(result: dict, args: argparse.Namespace) -> str:
    uname = platform.uname()
    by_make = " (as `make bench` runs it)" if result["command"].endswith(".py") else ""
    header = f"""# BTYD fits on hard shapes: ours against lifetimes

Written by `{result["command"]}`{by_make} from {result["started"]} to
{result["finished"]} (UTC), {result["wall_seconds"] / 60:.1f} min in all. Machine: {uname.machine},
{os.cpu_count()} cores, {platform.platform()}; {versions()}.

**Load**: the machine is shared with other developers' jobs (test suites); load average
(1, 5, 15 min) was {result["load_start"]} at the start and {result["load_end"]} at the end, so
the times carry noise; the success counts do not depend on it (except a fit stopped at the time
limit).

Data: `simulate_shape(shape, model, n, seed)` for each shape of `HARD_SHAPES`
(tests/btyd_shapes.py), seeds 1 to {args.seeds}, {args.n_bgnbd:,} customers for BG/NBD,
{args.n_pareto:,} for Pareto/NBD, and the repeat buyers among {args.n_gg:,} customers
simulated under BG/NBD for Gamma-Gamma; plus one run of {args.big:,} CDNOW-like customers
under BG/NBD (seed 1). Both libraries fit the same arrays: ours with `btyd.fit_bgnbd` /
`fit_pareto_nbd` / `fit_gamma_gamma`, lifetimes with `BetaGeoFitter` / `ParetoNBDFitter` /
`GammaGammaFitter` (no penalizer, default options).

**Success** = the fit returns finite parameters, each within {K:g} standard errors of the truth
on the log scale (|log θ̂ − log θ| < {K:g} se(log θ̂)), with the library's own standard error
where it reports one (lifetimes' Pareto/NBD does not: ours' on the same data is used). A
RuntimeWarning is recorded under "problems" but does not fail a fit. Times are of the fit call
alone (median over the runs that returned), each in a fresh forked process; a fit is stopped
after {args.timeout:g} s ({args.timeout * args.big_timeout_factor:g} s for the 1M run).
BLAS threads: {
        "the libraries' defaults (OpenBLAS: one per core)"
        if not args.blas_threads
        else f"limited to {args.blas_threads} in the fit (threadpoolctl), for both libraries"
    }.

"""
    return header + render(result) + "\n"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-bgnbd", type=int, default=20_000)
    parser.add_argument("--n-pareto", type=int, default=8_000)
    parser.add_argument("--n-gg", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=1_000_000, help="0 skips the 1M run")
    parser.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS")
    parser.add_argument("--big-timeout-factor", type=float, default=4.0)
    parser.add_argument("--blas-threads", type=int, default=None, metavar="N")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--render", action="store_true", help="only rewrite from the last run")
    args = parser.parse_args(argv)
    raw = ROOT / "benchmarks" / ".data" / (Path(args.out).stem + ".json")

    if args.render:
        result = json.loads(raw.read_text(encoding="utf-8"))
        args = argparse.Namespace(**{**vars(args), **result["args"], "render": True})
    else:
        t0 = time.perf_counter()
        started, load_start = dt.datetime.now(dt.UTC), load_average()
        result = measure(args)
        result.update(
            command="python benchmarks/clv_shapes.py "
            + " ".join(sys.argv[1:] if not argv else argv),
            started=started.isoformat(timespec="seconds"),
            finished=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            wall_seconds=time.perf_counter() - t0,
            load_start=load_start,
            load_end=load_average(),
            args={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        )
        result["command"] = result["command"].strip()
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_text(json.dumps(result, indent=1), encoding="utf-8")
    text = write(result, args)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
