"""Build the reports: plan (what is stale), run stale ones in parallel, write the index.

For each report the runner executes the notebook with papermill into a temporary file in the
reports folder (never in place), renders it to HTML and writes its record, all as hidden
temporaries, then moves them into place together::

    reports/<name>.html          the page reviewers read (last good build)
    reports/<name>.ipynb         the executed notebook behind it
    reports/<name>.json          status, parameters, figures, finding, provenance
    reports/<name>.failed.html   only while the last build failed: the failing notebook,
    reports/<name>.failed.ipynb  with papermill's error banner
    reports/.cache/<name>.json   what the last good build depended on (for skipping)
    reports/index.html, index.json

A report is skipped when its notebook, the helpers package source, its title, parameters and
the data fingerprint all equal those of its last good build (``force`` rebuilds anyway).
A report whose ``requires:`` names a table the dataset does not have (or that holds none of its
``requires_any:``) is not run: its ``<name>.json`` says ``not_applicable`` with the reason ("no
web_events table"), the index shows it as such, and it does not make the build fail.
A reports folder that cannot be written (disk full, read-only, no permission) stops the build
with one line (:class:`OutputError`, exit code 3): nothing was moved into place, so every page
and record of the last good build stays as it was. A failure's message keeps every line (a
validation error names one table, column and rows a line), clipped to 15 lines.
Heavy libraries (papermill, nbconvert) are only imported by a report that actually runs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import config as project
from helpers.data.files import has_table
from helpers.data.schema import TABLES
from helpers.reports import now_iso

from . import atomic, history
from .changes import build_changes, since_html
from .config import ConfigError, ReportSpec, load_config, load_history_keep, select
from .fingerprint import cache_key, data_fingerprint, file_sha256, git_commit, source_hash
from .index import write_index

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
    (the dataset lacks a table in the report's ``requires``, listed in ``missing``, or holds
    none of its ``requires_any``, listed in ``none_of``). ``output_error``: the report could
    not be written (disk full, read-only folder); its earlier files are untouched."""

    name: str
    status: str
    seconds: float = 0.0
    error: str | None = None
    html: str | None = None
    missing: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    output_error: bool = False

    @property
    def reason(self) -> str:
        return not_applicable_reason(self.missing, self.none_of)


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


def not_applicable_reason(missing: Iterable[str], none_of: Iterable[str] = ()) -> str:
    """``"not applicable: no web_events table"`` (``tables`` when several are missing), and for
    a ``requires_any`` the dataset holds none of: ``"no campaign_sends or marketing_spend
    table"``; both: ``"no orders table, and no campaign_sends or marketing_spend table"``."""
    missing, none_of = list(missing), list(none_of)
    parts = []
    if missing:
        noun = "table" if len(missing) == 1 else "tables"
        parts.append(f"no {', '.join(missing)} {noun}")
    if none_of:
        parts.append(f"no {' or '.join(none_of)} table")
    return "not applicable: " + ", and ".join(parts)


EXPORT_PARAMETER = "export_dir"


def declares(notebook: Path, name: str) -> bool:
    """Whether the notebook's ``parameters`` cell assigns ``name`` (``name = ...``)."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if "parameters" in (cell.get("metadata", {}).get("tags") or []):
            source = "".join(cell.get("source", ""))
            return any(line.split("=")[0].strip() == name for line in source.splitlines())
    return False


def exports_for(out_dir: Path, data_dir: Path) -> Path | None:
    """Where this build's reports write their account lists: None (the notebooks' own default,
    ``reports/exports``) for the default build, the sample into ``reports/``; ``<out>/exports``
    for any other (another dataset, another output folder), so that it never overwrites the
    sample's lists."""
    default = out_dir.resolve() == project.REPORTS_DIR.resolve()
    if default and data_dir.resolve() == project.SAMPLE_DIR.resolve():
        return None
    return out_dir / "exports"


def _parameters(
    spec: ReportSpec,
    overrides: dict[str, Any],
    data_dir: Path,
    exports,
    period_end: str | None = None,
):
    """The parameters injected into one notebook: reports.yml's, the command line's over them,
    ``data_dir``, ``export_dir`` (:func:`exports_for`) when the notebook declares it and
    neither names it, and with ``period_end`` (``--end``) each end parameter the notebook
    declares (:data:`helpers.reports.period.END_PARAMETERS`) unless ``--param`` names it."""
    parameters = {**spec.parameters, **overrides, "data_dir": str(data_dir)}
    if exports is not None and EXPORT_PARAMETER not in parameters:
        if declares(spec.notebook, EXPORT_PARAMETER):
            parameters[EXPORT_PARAMETER] = str(exports)
    if period_end is not None:
        from .period import end_parameters

        for name, value in end_parameters(period_end).items():
            if name not in overrides and declares(spec.notebook, name):
                parameters[name] = value
    return parameters


def plan(
    specs: Iterable[ReportSpec],
    *,
    out_dir: Path,
    data_dir: Path,
    overrides: dict[str, Any],
    force: bool,
    base_dir: Path,
    period_end: str | None = None,
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
    exports = exports_for(out_dir, data_dir)
    for spec in specs:
        missing, none_of = spec.missing(lambda table: has_table(data_dir, table))
        if missing or none_of:
            skipped.append(Result(spec.name, "not_applicable", missing=missing, none_of=none_of))
            continue
        parameters = _parameters(spec, overrides, data_dir, exports, period_end)
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


# --------------------------------------------------------------------------- writing errors

#: ``errno`` values that mean the output folder cannot take the files: a full disk or quota, a
#: read-only file system, no permission. Any of them stops the report with one clear line.
OUTPUT_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "it is on a read-only file system",
    errno.EACCES: "there is no permission to write there",
    errno.EPERM: "there is no permission to write there",
}


class OutputError(Exception):
    """The reports folder cannot be written (disk full, read-only, no permission). Nothing is
    half-written: every page and ``<name>.json`` of earlier builds stays as it was."""

    @classmethod
    def of(cls, folder: Path | str, exc: OSError) -> OutputError:
        return cls(
            f"cannot write the reports to {folder}: {OUTPUT_ERRNOS[exc.errno]} "
            f"([Errno {exc.errno}] {exc.strerror}); the pages of earlier builds are kept"
        )


def _is_output_error(exc: BaseException, folder: Path) -> bool:
    """Whether ``exc`` is a failure to write into ``folder`` (a full disk counts wherever)."""
    if not isinstance(exc, OSError) or exc.errno not in OUTPUT_ERRNOS:
        return False
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or not exc.filename:
        return True
    return Path(str(exc.filename)).resolve().is_relative_to(folder.resolve())


@contextlib.contextmanager
def writing(folder: Path | str) -> Iterator[None]:
    """Turn a failure to write into ``folder`` into an :class:`OutputError`."""
    folder = Path(folder)
    try:
        yield
    except OSError as exc:
        if _is_output_error(exc, folder):
            raise OutputError.of(folder, exc) from exc
        raise


def check_writable(out_dir: Path) -> None:
    """Create ``out_dir`` if needed and write (then remove) a probe file in it, so that a
    read-only or full reports folder stops the build before any report runs."""
    with writing(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic.temp_path(out_dir / ".write-probe").unlink()


# --------------------------------------------------------------------------- one report

#: How much of an error message the log, ``<name>.json`` and the index keep: every line (a
#: validation error names one table, column and rows per line) up to these limits.
MAX_ERROR_LINES = 15
MAX_ERROR_LINE = 300


def _clip(line: str) -> str:
    return line if len(line) <= MAX_ERROR_LINE else line[: MAX_ERROR_LINE - 3] + "..."


def _describe(exc: BaseException) -> str:
    """The error as a reader needs it: ``Type: message (in cell [n])`` on the first line, then
    every further line of the message (a :class:`~helpers.data.DataValidationError` lists one
    problem a line), each clipped to 300 characters, at most 15 lines in all."""
    ename = getattr(exc, "ename", None)
    if ename is not None:  # papermill.PapermillExecutionError
        count = getattr(exc, "exec_count", None)
        where = f" (in cell [{count}])" if count is not None else ""
        name, message = ename, str(getattr(exc, "evalue", ""))
    else:
        where, name, message = "", type(exc).__name__, str(exc)
    lines = [line.rstrip() for line in message.strip().splitlines() if line.strip()]
    first = f"{name}: {lines[0]}{where}" if lines else f"{name}{where}"
    rest = lines[1:]
    if len(rest) > MAX_ERROR_LINES - 1:
        more = len(rest) - (MAX_ERROR_LINES - 2)
        rest = [*rest[: MAX_ERROR_LINES - 2], f"  ... and {more} more lines"]
    return "\n".join(_clip(line) for line in [first, *rest])


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

    from .kernel import kernel_manager_class  # here: papermill and jupyter_client are slow to load

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
    except OutputError as exc:  # disk full, read-only: earlier pages and JSON stay
        seconds = time.perf_counter() - started
        return Result(job.name, "failed", seconds, str(exc), output_error=True)
    except Exception as exc:  # a bug: still a failed report, not a dead build
        return Result(job.name, "failed", time.perf_counter() - started, _describe(exc))


@dataclass(frozen=True)
class _Files:
    """Where one report's files go."""

    out: Path
    html: Path
    ipynb: Path
    failed_html: Path
    failed_ipynb: Path
    record: Path
    cache: Path

    @classmethod
    def of(cls, job: Job) -> _Files:
        out = Path(job.out_dir)
        return cls(
            out=out,
            html=out / f"{job.name}.html",
            ipynb=out / f"{job.name}.ipynb",
            failed_html=out / f"{job.name}.failed.html",
            failed_ipynb=out / f"{job.name}.failed.ipynb",
            record=out / f"{job.name}.json",
            cache=out / CACHE_DIR / f"{job.name}.json",
        )

    def drop_failed(self, keep: set[str | None]) -> None:
        """Remove the failing page and notebook of an earlier build, except those in
        ``keep`` (this build's)."""
        for stale in (self.failed_html, self.failed_ipynb):
            if stale.name not in keep:
                stale.unlink(missing_ok=True)


@dataclass
class _Built:
    """What executing and rendering one notebook gave: the error (None when it built), what
    the notebook published, the page and notebook to link, and the files written so far as
    hidden temporaries beside their targets (``staged``: moved into place together at the
    end, so a build that cannot finish leaves every file of the last one as it was)."""

    error: str | None = None
    found: dict[str, Any] = field(
        default_factory=lambda: {"figures": {}, "finding": "", "period": None}
    )
    html: str | None = None
    ipynb: str | None = None
    staged: list[tuple[Path, Path]] = field(default_factory=list)
    changes: dict[str, Any] | None = None  # against the last good build (changes.py)

    def stage(self, target: Path, suffix: str = atomic.TMP_SUFFIX) -> Path:
        """A fresh temporary file that :meth:`commit` will move over ``target``."""
        tmp = atomic.temp_path(target, suffix=suffix)
        self.staged.append((tmp, target))
        return tmp

    def unstage(self, tmp: Path) -> None:
        self.staged = [(t, target) for t, target in self.staged if t != tmp]
        tmp.unlink(missing_ok=True)

    def commit(self) -> None:
        for tmp, target in self.staged:
            atomic.replace(tmp, target)
        self.staged = []

    def discard(self) -> None:
        for tmp, _ in self.staged:
            tmp.unlink(missing_ok=True)
        self.staged = []


def _run_notebook(job: Job, tmp: Path) -> str | None:
    """Execute the notebook into ``tmp``: None, or the error (a failing cell, no kernel)."""
    try:
        with writing(job.out_dir):
            _execute(job, tmp)
    except OutputError:
        raise
    except Exception as exc:
        return _describe(exc)
    return None


def _render(tmp: Path, target: Path, render: dict[str, Any], built: _Built) -> str | None:
    """Render the executed notebook ``tmp`` into a staged page for ``target``: None, or why
    it could not be rendered."""
    from .render import render_html  # here: nbconvert is slow to load

    page = built.stage(target, ".tmp.html")
    try:
        with writing(target.parent):
            built.found = render_html(tmp, page, **render)
    except OutputError:
        raise
    except Exception as exc:
        built.unstage(page)
        return _describe(exc)
    return None


def _publish_good(tmp: Path, files: _Files, render: dict[str, Any], built: _Built) -> None:
    """Stage ``<name>.html`` and ``<name>.ipynb``; a failed render becomes ``built.error``.
    What the notebook published is compared with the last good build's record
    (:func:`helpers.reports.changes.build_changes`) before the page is rendered, so that the
    page shows it ("Since the last build") and ``<name>.json`` keeps it (``changes``)."""
    previous = (_read_json(files.cache) or {}).get("record")
    name = files.record.stem

    def with_changes(found: dict[str, Any]) -> dict[str, Any]:
        built.changes = build_changes(name, found, previous)
        return {"changes_html": since_html(built.changes)}

    problem = _render(tmp, files.html, {**render, "extra": with_changes}, built)
    if problem is not None:
        built.error = f"rendering failed: {problem}"
        return
    built.staged.append((tmp, files.ipynb))
    built.html, built.ipynb = files.html.name, files.ipynb.name


def _keep_failed(tmp: Path, files: _Files, render: dict[str, Any], built: _Built) -> None:
    """Stage the failing notebook, with papermill's error banner, as ``<name>.failed.html``
    and ``<name>.failed.ipynb``; nothing when the notebook never ran (no kernel, say)."""
    if not (tmp.is_file() and tmp.stat().st_size > 0):
        return
    render["info"].update(status="failed", error=built.error)
    problem = _render(tmp, files.failed_html, render, built)
    if problem is None:
        built.html = files.failed_html.name
    else:
        built.error += f"; the failed notebook could not be rendered: {problem}"
    built.staged.append((tmp, files.failed_ipynb))
    built.ipynb = files.failed_ipynb.name


def _record(job: Job, built: _Built, seconds: float, built_at: str) -> dict[str, Any]:
    """``<name>.json`` of a report that ran."""
    period = built.found.get("period")
    return {
        "name": job.name,
        "title": job.title,
        "status": "ok" if built.error is None else "failed",
        "notebook": job.notebook_rel,
        "html": built.html,
        "ipynb": built.ipynb,
        "parameters": job.parameters,
        "data_dir": job.data_dir,
        "data_fingerprint": job.data_fingerprint,
        "period": {"start": period[0], "end": period[1]} if period else None,
        "build_seconds": seconds,
        "git_commit": job.git_commit,
        "built_at": built_at,
        "figures": built.found.get("figures") or {},
        "finding": built.found.get("finding") or "",
        "sections": built.found.get("sections"),
        "series": built.found.get("series") or {},
        "changes": built.changes,
        "error": built.error,
    }


def _stage_record(job: Job, files: _Files, record: dict[str, Any], built: _Built) -> None:
    """Stage ``<name>.json``; a good build also its cache entry, a failed one links the last
    good page when there is one."""
    if record["status"] == "ok":
        atomic.write_json(built.stage(files.record), record)
        atomic.write_json(built.stage(files.cache), {"key": job.key, "record": record})
        return
    last = (_read_json(files.cache) or {}).get("record")
    if last and files.html.is_file():
        record["last_good"] = {
            "html": files.html.name,
            "built_at": last.get("built_at"),
            "git_commit": last.get("git_commit"),
        }
    atomic.write_json(built.stage(files.record), record)


def _run_job(job: Job, started: float, log: Log) -> Result:
    """Execute, render and record one report, in named steps, then move its files into place
    together; a write that fails for want of space or permission raises
    :class:`OutputError` from any step, before anything was moved."""
    files = _Files.of(job)
    built = _Built()
    with writing(files.out):
        files.cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = atomic.temp_path(files.ipynb, suffix=".tmp.ipynb")
    built_at = now_iso()
    info = {
        "status": "ok",
        "data_fingerprint": job.data_fingerprint,
        "git_commit": job.git_commit,
        "built_at": built_at,
    }
    render = {"title": job.title, "notebook_dir": Path(job.notebook).parent, "info": info}
    try:
        built.error = _run_notebook(job, tmp)
        if built.error is None:
            _publish_good(tmp, files, render, built)
        if built.error is not None:
            _keep_failed(tmp, files, render, built)
        seconds = round(time.perf_counter() - started, 2)
        record = _record(job, built, seconds, built_at)
        with writing(files.out):
            _stage_record(job, files, record, built)
            built.commit()
        files.drop_failed(keep={built.html, built.ipynb})  # a failing page of an older build
    finally:
        built.discard()
        tmp.unlink(missing_ok=True)
    if built.found.get("external"):
        urls = ", ".join(built.found["external"][:3])
        log(f"  warning {job.name}: the page fetches from the network: {urls}")
    return Result(job.name, record["status"], seconds, built.error, built.html)


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
    record: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "status": "not_applicable",
        "reason": result.reason,
        "requires": list(spec.requires),
        "requires_any": list(spec.requires_any),
        "missing_tables": list(result.missing) + list(result.none_of),
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
    with writing(out_dir):
        atomic.write_json(out_dir / f"{spec.name}.json", record)


# --------------------------------------------------------------------------- the build


def prevalidate(data_dir: Path | str) -> list[str]:
    """Open and validate every table the dataset folder has, once, before the kernels start:
    the data layer's validation cache (keyed per table, :func:`helpers.data.dataset.
    _validation_cache`) is then filled, and each kernel's ``open_dataset`` of any of these
    tables finds its row-rule counts there instead of counting them again (at 100x, 38 s cold
    per kernel). Returns the tables validated. A dataset that does not validate raises here;
    :func:`build` then leaves the message to the reports themselves."""
    from helpers.data.dataset import open_dataset  # here: Ibis loads in the spawned process only

    data_dir = Path(data_dir)
    present = [t for t in TABLES if has_table(data_dir, t)]
    if present:
        ds = open_dataset(data_dir, tables=present)
        ds.con.disconnect()
    return present


def _prevalidate(data_dir: Path, log: Log) -> None:
    """:func:`prevalidate` in a fresh process (spawned, so the worker processes forked after
    it never inherit an engine's threads); a failure is left for each report to name."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    if not any(has_table(data_dir, t) for t in TABLES):
        return  # nothing to validate: each report says what it misses
    started = time.perf_counter()
    try:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            tables = pool.submit(prevalidate, str(data_dir)).result()
    except Exception as exc:  # noqa: BLE001 - the reports say what is wrong with the data
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        log(f"  validate: not done ({first}); each report validates for itself")
        return
    log(f"  validated {len(tables)} tables once in {time.perf_counter() - started:.1f}s")


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


def _continued(text: str, pad: int) -> str:
    """A multi-line error for the log: its further lines indented under the first."""
    return text.replace("\n", "\n" + " " * pad)


def _log_result(result: Result, done: int, total: int, log: Log) -> None:
    head = f"{result.name:<28} {result.seconds:6.1f}s   [{done}/{total}]"
    if result.status == "ok":
        log(f"  ok      {head}")
    else:
        log(f"  FAILED  {head}  {_continued(result.error or 'failed', 12)}")


def _log_summary(outcome: Outcome, out_dir: Path, log: Log) -> None:
    statuses = ("ok", "failed", "skipped", "not_applicable")
    counts = {s: sum(r.status == s for r in outcome.results) for s in statuses}
    na = f", {counts['not_applicable']} not applicable" if counts["not_applicable"] else ""
    index = outcome.index or "not written"
    log(
        f"summary: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped "
        f"(up to date){na} in {outcome.seconds:.1f}s; index: {index}"
    )
    for result in outcome.failed:
        where = f" -> {out_dir / result.html}" if result.html else ""
        first = (result.error or "failed").splitlines()[0]
        log(f"  failed: {result.name}: {first}{where}")


def _record_skipped(
    skipped: list[Result], by_name: dict[str, ReportSpec], context: dict[str, Any], log: Log
) -> None:
    """Log the reports not run; write ``<name>.json`` of those that do not apply."""
    for result in skipped:
        if result.status == "not_applicable":
            _write_not_applicable(by_name[result.name], result, **context)
            log(f"  n/a     {result.name:<28} {result.reason}")
        else:
            log(f"  skip    {result.name:<28} up to date")


def _keep_history(
    out_dir: Path,
    specs: list[ReportSpec],
    outcome: Outcome,
    context: dict[str, Any],
    period_end: str | None,
    keep: int | None,
    log: Log,
) -> None:
    """Add this build to ``history/`` when it ran a report (:func:`history.record_build`)."""
    ran = {r.name: r.status for r in outcome.results if r.status in ("ok", "failed")}
    if not ran:
        return
    data_dir = context["data_dir"]
    manifest = {
        "data_dir": str(data_dir),
        "data_fingerprint": data_fingerprint(data_dir),
        "git_commit": git_commit(context["base_dir"]),
        "overrides": context["overrides"],
        "period_end": period_end,
    }
    keep = history.DEFAULT_KEEP if keep is None else keep
    with writing(out_dir):
        folder = history.record_build(out_dir, [s.name for s in specs], ran, manifest, keep)
    if folder is not None:
        log(f"  history {_relative(folder, out_dir)} (last {keep} builds kept)")


def build(
    config: Path,
    *,
    out_dir: Path,
    data_dir: Path,
    only: Iterable[str] = (),
    overrides: dict[str, Any] | None = None,
    force: bool = False,
    jobs: int | None = None,
    validate: bool = True,
    log: Log = _stderr,
    period_end: str | None = None,
    keep_history: int | None = None,
) -> Outcome:
    """Build the selected reports of ``config`` into ``out_dir`` and rewrite the index.

    With ``validate`` (the default), the dataset is validated once before any report runs
    (:func:`prevalidate`), so that no report kernel counts the row rules again.
    Raises :class:`ConfigError` for a bad config, an unknown ``--only`` name, a missing
    notebook or data folder, and :class:`OutputError` when ``out_dir`` cannot be written
    (before any report runs, or at the end when a report or the index could not be written:
    earlier pages are kept); a failing report is a ``failed`` result, never an exception.
    ``period_end`` (an ISO day, :func:`helpers.reports.period.resolve_end`) is injected into
    the notebooks that declare an end parameter. A build that ran a report keeps every
    report's record under ``history/<build time>/`` (:mod:`helpers.reports.history`), the last
    ``keep_history`` builds (default: reports.yml's ``history: {keep: N}``, else 20).
    """

    started = time.perf_counter()
    config = Path(config).resolve()
    out_dir = Path(out_dir).resolve()
    data_dir = Path(data_dir).resolve()
    specs = load_config(config)
    chosen = select(specs, only)
    context = {
        "out_dir": out_dir,
        "data_dir": data_dir,
        "overrides": dict(overrides or {}),
        "base_dir": config.parent,
    }
    todo, skipped = plan(chosen, force=force, period_end=period_end, **context)
    check_writable(out_dir)
    workers = jobs or default_jobs()
    parallel = f", {min(workers, len(todo))} at a time" if todo else ""
    n_na = sum(r.status == "not_applicable" for r in skipped)
    na = f", {n_na} not applicable" if n_na else ""
    log(
        f"reports: {len(todo)} to build, {len(skipped) - n_na} up to date{na}{parallel} "
        f"-> {out_dir}"
    )
    outcome = Outcome(results=list(skipped))
    _record_skipped(skipped, {spec.name: spec for spec in chosen}, context, log)
    if todo and validate:
        _prevalidate(data_dir, log)
    for result in _run_all(todo, workers, log):
        outcome.results.append(result)
        _log_result(result, len(outcome.results), len(chosen), log)
    order = {spec.name: i for i, spec in enumerate(chosen)}
    outcome.results.sort(key=lambda r: order.get(r.name, len(order)))
    unwritten = [r.error for r in outcome.results if r.output_error]
    try:
        with writing(out_dir):
            outcome.index = write_index(out_dir, specs)
    except OutputError as exc:
        unwritten.append(str(exc))
    if not unwritten:
        keep = keep_history if keep_history is not None else load_history_keep(config)
        _keep_history(out_dir, specs, outcome, context, period_end, keep, log)
    outcome.seconds = time.perf_counter() - started
    _log_summary(outcome, out_dir, log)
    if unwritten:
        raise OutputError(unwritten[0])
    return outcome
