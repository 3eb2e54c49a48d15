"""Command line of the report runner::

    python -m helpers.reports build [--only NAME ...] [--param KEY=VALUE ...] [--data DIR]
                                    [--force] [--jobs N] [--config reports.yml] [--out DIR]
                                    [--end last-week|last-month|YYYY-MM-DD] [--keep N]
    python -m helpers.reports list [--config reports.yml]
    python -m helpers.reports history [--out DIR]
    python -m helpers.reports digest [--pdf] [--send] [--to-file FILE] [--attach-pdfs] [--out DIR]
    python -m helpers.reports weekly [build options] [--send] [--to-file FILE] [--attach-pdfs]

``weekly`` is ``build --end last-week`` (the history kept), a PDF of every report
(``<out>/pdf/``, headless Chromium) and the digest (``<out>/digest.html``, ``digest.txt``; by
e-mail with ``--send``, else the message it would send in ``<out>/exports/digest.eml``).

Output: ``reports/`` for the sample (``data/sample``); a build on any other dataset goes to
``reports/<dataset folder name>/`` (``--data data/raw/retail`` -> ``reports/retail/``), so two
datasets never mix in one index; ``--out DIR`` puts it anywhere.

Exit codes: 0 all reports ok (or up to date, or not applicable), 1 some report failed, 2 bad
config or usage, 3 the reports folder cannot be written (disk full, read-only: one line says
so, and the pages of earlier builds are kept).
Start-up stays light: papermill and nbconvert are imported only when a report runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from helpers import config as project

from .build import OutputError, build
from .config import ConfigError, load_config, parse_params

RECIPIENTS_ENV = "HELPERS_DIGEST_TO"  # helpers.reports.digest.RECIPIENTS_ENV (not imported here)

DEFAULT_CONFIG = project.PROJ_ROOT / "reports.yml"
TRUTHY = {"1", "true", "yes", "on"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.reports",
        description="Run the notebooks listed in reports.yml and render them to HTML.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser(
        "build",
        help="build the reports (skipping those that are up to date)",
        description="Execute each report's notebook with papermill, render HTML without code, "
        "and write reports/index.html. Reports whose notebook, helpers source, parameters and "
        "data are unchanged since their last good build are skipped.",
    )
    _build_options(build)
    weekly = sub.add_parser(
        "weekly",
        help="build to the last complete week, print PDFs, write (and send) the digest",
        description="build --end last-week (keeping the history), print every report to "
        "<out>/pdf/ with headless Chromium, write <out>/digest.html and digest.txt; the digest "
        "e-mail is a dry run (<out>/exports/digest.eml) unless --send.",
    )
    _build_options(weekly, end="last-week")
    _mail_options(weekly)
    weekly.add_argument("--no-pdf", action="store_true", help="do not print the PDFs")

    listing = sub.add_parser("list", help="print the report names, one a line")
    _common(listing)
    hist = sub.add_parser("history", help="list the builds kept in <out>/history/, newest first")
    _common(hist)
    _out(hist)
    digest = sub.add_parser(
        "digest", help="write <out>/digest.html and digest.txt from the last build (and mail it)"
    )
    _common(digest)
    _out(digest)
    digest.add_argument("--data", metavar="DIR", help="the dataset whose reports folder to use")
    digest.add_argument("--pdf", action="store_true", help="print every report to PDF first")
    _mail_options(digest)
    return parser


def _out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: reports/ beside the config file for the sample data, "
        "reports/<dataset folder name>/ for any other dataset)",
    )


def _build_options(build: argparse.ArgumentParser, end: str | None = None) -> None:
    build.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="build only this report (or all variants of this reports.yml entry); repeatable",
    )
    build.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a notebook parameter in every built report; VALUE is read as YAML "
        "(3, 0.5, true, north; dates stay ISO strings); repeatable",
    )
    build.add_argument(
        "--data",
        metavar="DIR",
        help=f"dataset folder injected as data_dir (default: ${project.DATA_DIR_ENV} or "
        "data/sample)",
    )
    build.add_argument(
        "--force",
        action="store_true",
        help="rebuild even when up to date (also: environment FORCE=1)",
    )
    build.add_argument(
        "--jobs", type=int, metavar="N", help="reports built in parallel (default: 2)"
    )
    _common(build)
    _out(build)
    build.add_argument(
        "--end",
        default=end,
        metavar="WHEN",
        help="the period's last day, injected into the notebooks that declare an end "
        "parameter (end, analysis_date): last-week (the last complete Monday-to-Sunday week "
        "of the data), last-month, or YYYY-MM-DD" + (f" (default: {end})" if end else ""),
    )
    build.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="builds kept in <out>/history/ (default: reports.yml's history.keep, else 20)",
    )


def _mail_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--send",
        action="store_true",
        help="e-mail the digest over SMTP (HELPERS_SMTP_* settings); default: a dry run that "
        "writes <out>/exports/digest.eml",
    )
    parser.add_argument(
        "--to-file",
        type=Path,
        metavar="FILE",
        help=f"recipients, one a line, in a file outside the repository (default: "
        f"${RECIPIENTS_ENV}, comma separated)",
    )
    parser.add_argument(
        "--attach-pdfs", action="store_true", help="attach the reports' PDFs to the e-mail"
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help="the reports file (default: reports.yml at the project root)",
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            for spec in load_config(args.config):
                print(spec.name)
            return 0
        if args.command == "history":
            return _history(args)
        if args.command == "digest":
            return _digest(args)
        if args.command == "weekly":
            return _weekly(args)
        return _build(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3


#: Names under reports/ that are not a dataset's reports: a dataset folder so named gets a
#: ``data-`` prefix (``reports/data-exports/``).
TAKEN = {project.EXPORTS_DIR.name, ".cache"}


def default_out_dir(config: Path, data_dir: Path) -> Path:
    """``reports/`` (beside a config other than the project's) for the sample dataset;
    ``reports/<dataset folder name>/`` for any other, so that its index, pages and last good
    builds never mix with the sample's."""
    base = project.REPORTS_DIR if config == DEFAULT_CONFIG.resolve() else config.parent / "reports"
    if data_dir.resolve() == project.SAMPLE_DIR.resolve():
        return base
    name = data_dir.resolve().name or "data"
    return base / (f"data-{name}" if name in TAKEN or name.startswith(".") else name)


def _dirs(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    """(config, data folder, output folder) of a command."""
    config = args.config.resolve()
    data = getattr(args, "data", None)
    data_dir = project.resolve_data_dir(Path(data).resolve() if data else None)
    out_dir = Path(args.out).resolve() if args.out else default_out_dir(config, data_dir)
    return config, data_dir, out_dir


def _build(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    if args.keep is not None and args.keep < 0:
        raise ConfigError("--keep must be 0 or more builds")
    overrides = parse_params(args.param)
    config, data_dir, out_dir = _dirs(args)
    force = args.force or os.environ.get("FORCE", "").strip().lower() in TRUTHY
    period_end = None
    if args.end:
        from .period import resolve_end  # here: it may load DuckDB to date the data

        try:
            period_end = resolve_end(args.end, data_dir)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        print(f"reports: period ends {period_end} (--end {args.end})", file=sys.stderr)
    outcome = build(
        config,
        out_dir=out_dir,
        data_dir=data_dir,
        only=args.only,
        overrides=overrides,
        force=force,
        jobs=args.jobs,
        period_end=period_end,
        keep_history=args.keep,
    )
    return outcome.exit_code


def _history(args: argparse.Namespace) -> int:
    from .history import format_builds, list_builds

    _, _, out_dir = _dirs(args)
    print(format_builds(list_builds(out_dir)))
    return 0


def _digest(args: argparse.Namespace, out_dir: Path | None = None) -> int:
    """Print the PDFs (``--pdf``), write the digest, then send it or write the dry run."""
    from . import digest, pdf

    config, _, default_out = _dirs(args)
    out_dir = out_dir or default_out
    specs = load_config(config)
    pdfs: list[Path] = []
    if getattr(args, "pdf", False):
        try:
            pdfs = pdf.print_pdfs(out_dir, [s.name for s in specs], log=_log)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    html, txt, data = digest.write_digest(out_dir, specs)
    _log(f"digest: {html} and {txt} ({len(data['worth_a_look'])} worth a look)")
    attachments = pdfs if args.attach_pdfs else []
    if args.attach_pdfs and not attachments:
        attachments = sorted((out_dir / pdf.PDF_DIR).glob("*.pdf"))
    try:
        said, eml = digest.send_digest(
            out_dir, data, send=args.send, to_file=args.to_file, attachments=attachments
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # helpers.mail.SendError: one line, no credentials
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _log(f"digest e-mail: {said}" + (f"; the message: {eml}" if eml else ""))
    return 0


def _weekly(args: argparse.Namespace) -> int:
    """``build --end last-week``, then the PDFs and the digest of the same output folder."""
    code = _build(args)
    if code != 0:
        _log("weekly: some reports failed; the PDFs and digest cover the pages that built")
    args.pdf = not args.no_pdf
    return max(code, _digest(args))


def _log(line: str) -> None:
    print(line, file=sys.stderr)
