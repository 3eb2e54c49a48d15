"""Command line of the report runner::

    python -m helpers.reports build [--only NAME ...] [--param KEY=VALUE ...] [--data DIR]
                                    [--force] [--jobs N] [--config reports.yml] [--out DIR]
    python -m helpers.reports list [--config reports.yml]

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
import sys
from pathlib import Path

from helpers import config as project

from .build import OutputError, build
from .config import ConfigError, load_config, parse_params

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
    build.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: reports/ beside the config file for the sample data, "
        "reports/<dataset folder name>/ for any other dataset)",
    )

    listing = sub.add_parser("list", help="print the report names, one a line")
    _common(listing)
    return parser


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


def _build(args: argparse.Namespace) -> int:

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    overrides = parse_params(args.param)
    config = args.config.resolve()
    data_dir = project.resolve_data_dir(Path(args.data).resolve() if args.data else None)
    out_dir = Path(args.out).resolve() if args.out else default_out_dir(config, data_dir)
    force = args.force or os.environ.get("FORCE", "").strip().lower() in TRUTHY
    outcome = build(
        config,
        out_dir=out_dir,
        data_dir=data_dir,
        only=args.only,
        overrides=overrides,
        force=force,
        jobs=args.jobs,
    )
    return outcome.exit_code
