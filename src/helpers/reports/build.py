"""Build the reports: plan (what is stale), run stale ones in parallel, write the index.

For each report the runner executes the notebook with papermill into a temporary file in the
reports folder (never in place), renders it to HTML, then moves both into place::

    reports/<name>.html          the page reviewers read (last good build)
    reports/<name>.ipynb         the executed notebook behind it
    reports/<name>.json          status, parameters, figures, finding, provenance
    reports/<name>.failed.html   only while the last build failed: the failing notebook,
    reports/<name>.failed.ipynb  with papermill's error banner
    reports/.cache/<name>.json   what the last good build depended on (for skipping)
    reports/index.html, index.json

A report is skipped when its notebook, the helpers package source, its title, parameters and
the data fingerprint all equal those of its last good build (``force`` rebuilds anyway).
A report whose ``requires:`` names a table the dataset does not have is not run: its
``<name>.json`` says ``not_applicable`` with the reason ("no web_events table"), the index shows
it as such, and it does not make the build fail.
Heavy libraries (papermill, nbconvert) are only imported by a report that actually runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.data.files import has_table

from . import atomic
from .config import ConfigError, ReportSpec, load_config, select
from .fingerprint import cache_key, data_fingerprint, file_sha256, git_commit, source_hash

RUNNER_VERSION = 1
CACHE_DIR = ".cache"

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class Job:
    """Everything a worker process needs to build one report (picklable)."""

    name: str
    title: str
    notebook: str
    notebook_rel: str
    parameters: dict[str, Any]
    kernel: str
    timeout: int | None
    out_dir: str
    key: str
    data_dir: str
    data_fingerprint: str
    git_commit: str


@dataclass
class Result:
    """How one report's build went. ``status`` is ``ok``, ``failed``, ``skipped`` (up to
    date; its files and ``<name>.json`` are those of the last good build) or ``not_applicable``
    (the dataset lacks a table in the report's ``requires``; listed in ``missing``)."""

    name: str
    status: str
    seconds: float = 0.0
    error: str | None = None
    html: str | None = None
    missing: tuple[str, ...] = ()


@dataclass
class Outcome:
    results: list[Result] = field(default_factory=list)
    index: Path | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def status(self, name: str) -> str:
        return next(r.status for r in self.results if r.name == name)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- planning


def not_applicable_reason(missing: Iterable[str]) -> str:
    """``"not applicable: no web_events table"`` (``tables`` when several are missing)."""
    missing = list(missing)
    noun = "table" if len(missing) == 1 else "tables"
    return f"not applicable: no {', '.join(missing)} {noun}"


def plan(
    specs: Iterable[ReportSpec],
    *,
    out_dir: Path,
    data_dir: Path,
    overrides: dict[str, Any],
    force: bool,
    base_dir: Path,
) -> tuple[list[Job], list[Result]]:
    """Split the reports into jobs to run and results of reports that are up to date."""
    specs = list(specs)
    for spec in specs:
        if not spec.notebook.is_file():
            raise ConfigError(f"report {spec.name!r}: notebook {spec.notebook} does not exist")
    if not data_dir.is_dir():
        raise ConfigError(
            f"data folder {data_dir} does not exist (run `make data`, or pass --data DIR)"
        )
    fingerprint = data_fingerprint(data_dir)
    sources = source_hash()
    commit = git_commit(base_dir)
    jobs: list[Job] = []
    skipped: list[Result] = []
    for spec in specs:
        missing = tuple(t for t in spec.requires if not has_table(data_dir, t))
        if missing:
            skipped.append(Result(spec.name, "not_applicable", missing=missing))
            continue
        parameters = {**spec.parameters, **overrides, "data_dir": str(data_dir)}
        key = cache_key(
            {
                "runner": RUNNER_VERSION,
                "notebook": file_sha256(spec.notebook),
                "source": sources,
                "title": spec.title,
                "kernel": spec.kernel,
                "parameters": parameters,
                "data": fingerprint,
            }
        )
        if not force and _up_to_date(out_dir, spec.name, key):
            skipped.append(Result(spec.name, "skipped", html=f"{spec.name}.html"))
            continue
        jobs.append(
            Job(
                name=spec.name,
                title=spec.title,
                notebook=str(spec.notebook),
                notebook_rel=_relative(spec.notebook, base_dir),
                parameters=parameters,
                kernel=spec.kernel,
                timeout=spec.timeout,
                out_dir=str(out_dir),
                key=key,
                data_dir=str(data_dir),
                data_fingerprint=fingerprint,
                git_commit=commit,
            )
        )
    return jobs, skipped


def _up_to_date(out_dir: Path, name: str, key: str) -> bool:
    cache = _read_json(out_dir / CACHE_DIR / f"{name}.json")
    record = _read_json(out_dir / f"{name}.json")
    return bool(
        cache
        and cache.get("key") == key
        and record
        and record.get("status") == "ok"
        and (out_dir / f"{name}.html").is_file()
    )


# --------------------------------------------------------------------------- one report


def _describe(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    if ename is not None:  # papermill.PapermillExecutionError
        count = getattr(exc, "exec_count", None)
        where = f" (in cell [{count}])" if count is not None else ""
        text = f"{ename}: {getattr(exc, 'evalue', '')}{where}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return first if len(first) <= 300 else first[:297] + "..."


def _language(notebook: str) -> str:
    """The notebook's language (papermill needs it to write the parameters cell)."""
    meta = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {})
    return (
        (meta.get("kernelspec") or {}).get("language")
        or (meta.get("language_info") or {}).get("name")
        or "python"
    )


def _execute(job: Job, output: Path) -> None:
    import papermill as pm

    from .kernel import kernel_manager_class

    # papermill's warnings ("Passed unknown parameter: x") name the report they are about
    logger = logging.getLogger("papermill")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(f"  warning {job.name}: %(message)s"))
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        pm.execute_notebook(
            job.notebook,
            str(output),
            parameters=job.parameters,
            kernel_name=job.kernel,
            language=_language(job.notebook),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            cwd=str(Path(job.notebook).parent),
            execution_timeout=job.timeout,
            kernel_manager_class=kernel_manager_class(),
        )
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def run_job(job: Job, log: Log = _stderr) -> Result:
    """Build one report (runs in a worker process). Never raises: a failure is a Result."""
    log(f"  start   {job.name}")
    started = time.perf_counter()
    try:
        return _run_job(job, started, log)
    except Exception as exc:  # a bug or a full disk: still a failed report, not a dead build
        return Result(job.name, "failed", time.perf_counter() - started, _describe(exc))


def _run_job(job: Job, started: float, log: Log) -> Result:
    from .render import render_html

    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "html": out / f"{job.name}.html",
        "ipynb": out / f"{job.name}.ipynb",
        "failed_html": out / f"{job.name}.failed.html",
        "failed_ipynb": out / f"{job.name}.failed.ipynb",
    }
    tmp = atomic.temp_path(files["ipynb"], suffix=".tmp.ipynb")
    error: str | None = None
    found: dict[str, Any] = {"figures": {}, "finding": "", "period": None}
    html: str | None = None
    ipynb: str | None = None
    built_at = now_iso()
    info = {
        "status": "ok",
        "data_fingerprint": job.data_fingerprint,
        "git_commit": job.git_commit,
        "built_at": built_at,
    }
    render = {"title": job.title, "notebook_dir": Path(job.notebook).parent, "info": info}
    try:
        try:
            _execute(job, tmp)
        except Exception as exc:
            error = _describe(exc)
        executed = tmp.is_file() and tmp.stat().st_size > 0
        if error is None:
            try:
                found = render_html(tmp, files["html"], **render)
                atomic.replace(tmp, files["ipynb"])
                html, ipynb = files["html"].name, files["ipynb"].name
                for stale in (files["failed_html"], files["failed_ipynb"]):
                    stale.unlink(missing_ok=True)
            except Exception as exc:
                error = f"rendering failed: {_describe(exc)}"
        if error is not None and not executed:  # nothing ran (no kernel, say): no page
            for stale in (files["failed_html"], files["failed_ipynb"]):
                stale.unlink(missing_ok=True)
        if error is not None and executed:
            info.update(status="failed", error=error)
            try:
                found = render_html(tmp, files["failed_html"], **render)
                html = files["failed_html"].name
            except Exception as exc:
                error += f"; the failed notebook could not be rendered: {_describe(exc)}"
            atomic.replace(tmp, files["failed_ipynb"])
            ipynb = files["failed_ipynb"].name
    finally:
        tmp.unlink(missing_ok=True)
    if found.get("external"):
        urls = ", ".join(found["external"][:3])
        log(f"  warning {job.name}: the page fetches from the network: {urls}")

    seconds = round(time.perf_counter() - started, 2)
    status = "ok" if error is None else "failed"
    period = found.get("period")
    record: dict[str, Any] = {
        "name": job.name,
        "title": job.title,
        "status": status,
        "notebook": job.notebook_rel,
        "html": html,
        "ipynb": ipynb,
        "parameters": job.parameters,
        "data_dir": job.data_dir,
        "data_fingerprint": job.data_fingerprint,
        "period": {"start": period[0], "end": period[1]} if period else None,
        "build_seconds": seconds,
        "git_commit": job.git_commit,
        "built_at": built_at,
        "figures": found.get("figures") or {},
        "finding": found.get("finding") or "",
        "sections": found.get("sections"),
        "error": error,
    }
    cache_path = out / CACHE_DIR / f"{job.name}.json"
    if status == "ok":
        atomic.write_json(out / f"{job.name}.json", record)
        atomic.write_json(cache_path, {"key": job.key, "record": record})
    else:
        last = (_read_json(cache_path) or {}).get("record")
        if last and files["html"].is_file():
            record["last_good"] = {
                "html": files["html"].name,
                "built_at": last.get("built_at"),
                "git_commit": last.get("git_commit"),
            }
        atomic.write_json(out / f"{job.name}.json", record)
    return Result(job.name, status, seconds, error, html)


def _write_not_applicable(
    spec: ReportSpec,
    result: Result,
    *,
    out_dir: Path,
    data_dir: Path,
    overrides: dict[str, Any],
    base_dir: Path,
) -> None:
    """``<name>.json`` of a report that does not apply to this dataset (its pages, if any,
    stay from the last build that ran; the index does not link them)."""
    reason = not_applicable_reason(result.missing)
    record: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "status": "not_applicable",
        "reason": reason,
        "requires": list(spec.requires),
        "missing_tables": list(result.missing),
        "notebook": _relative(spec.notebook, base_dir),
        "html": None,
        "ipynb": None,
        "parameters": {**spec.parameters, **overrides, "data_dir": str(data_dir)},
        "data_dir": str(data_dir),
        "data_fingerprint": data_fingerprint(data_dir),
        "period": None,
        "build_seconds": 0.0,
        "git_commit": git_commit(base_dir),
        "built_at": now_iso(),
        "figures": {},
        "finding": "",
        "error": None,
    }
    atomic.write_json(out_dir / f"{spec.name}.json", record)


# --------------------------------------------------------------------------- the build


def _run_all(jobs: list[Job], workers: int, log: Log) -> Iterable[Result]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield run_job(job, log)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # e.g. a worker killed by the OOM killer
                yield Result(futures[future].name, "failed", 0.0, _describe(exc))


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def build(
    config: Path,
    *,
    out_dir: Path,
    data_dir: Path,
    only: Iterable[str] = (),
    overrides: dict[str, Any] | None = None,
    force: bool = False,
    jobs: int | None = None,
    log: Log = _stderr,
) -> Outcome:
    """Build the selected reports of ``config`` into ``out_dir`` and rewrite the index.

    Raises :class:`ConfigError` for a bad config, an unknown ``--only`` name, a missing
    notebook or data folder; a failing report is a ``failed`` result, never an exception.
    """
    from .index import write_index

    started = time.perf_counter()
    config = Path(config).resolve()
    out_dir = Path(out_dir).resolve()
    data_dir = Path(data_dir).resolve()
    specs = load_config(config)
    chosen = select(specs, only)
    todo, skipped = plan(
        chosen,
        out_dir=out_dir,
        data_dir=data_dir,
        overrides=dict(overrides or {}),
        force=force,
        base_dir=config.parent,
    )
    workers = jobs or default_jobs()
    out_dir.mkdir(parents=True, exist_ok=True)
    total = len(chosen)
    parallel = f", {min(workers, len(todo))} at a time" if todo else ""
    n_na = sum(r.status == "not_applicable" for r in skipped)
    na = f", {n_na} not applicable" if n_na else ""
    log(
        f"reports: {len(todo)} to build, {len(skipped) - n_na} up to date{na}{parallel} "
        f"-> {out_dir}"
    )
    outcome = Outcome()
    by_name = {spec.name: spec for spec in chosen}
    for result in skipped:
        outcome.results.append(result)
        if result.status == "not_applicable":
            _write_not_applicable(
                by_name[result.name],
                result,
                out_dir=out_dir,
                data_dir=data_dir,
                overrides=dict(overrides or {}),
                base_dir=config.parent,
            )
            log(f"  n/a     {result.name:<28} {not_applicable_reason(result.missing)}")
        else:
            log(f"  skip    {result.name:<28} up to date")
    for result in _run_all(todo, workers, log):
        outcome.results.append(result)
        done = len(outcome.results)
        if result.status == "ok":
            log(f"  ok      {result.name:<28} {result.seconds:6.1f}s   [{done}/{total}]")
        else:
            log(
                f"  FAILED  {result.name:<28} {result.seconds:6.1f}s   [{done}/{total}]  "
                f"{result.error}"
            )
    order = {spec.name: i for i, spec in enumerate(chosen)}
    outcome.results.sort(key=lambda r: order.get(r.name, len(order)))
    outcome.index = write_index(out_dir, specs)
    outcome.seconds = time.perf_counter() - started
    statuses = ("ok", "failed", "skipped", "not_applicable")
    counts = {s: sum(r.status == s for r in outcome.results) for s in statuses}
    na = f", {counts['not_applicable']} not applicable" if counts["not_applicable"] else ""
    log(
        f"summary: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped "
        f"(up to date){na} in {outcome.seconds:.1f}s; index: {outcome.index}"
    )
    for result in outcome.failed:
        where = f" -> {out_dir / result.html}" if result.html else ""
        log(f"  failed: {result.name}: {result.error}{where}")
    return outcome
