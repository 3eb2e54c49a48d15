"""Command line of the report runner::

    python -m helpers.reports build [--only NAME ...] [--param KEY=VALUE ...] [--data DIR]
                                    [--force] [--jobs N] [--config reports.yml] [--out DIR]
    python -m helpers.reports list [--config reports.yml]

Exit codes: 0 all reports ok (or up to date), 1 some report failed, 2 bad config or usage.
Start-up stays light: papermill and nbconvert are imported only when a report runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from helpers import config as project

from .config import ConfigError, load_config

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
        help="output folder (default: reports/ beside the config file)",
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


def _build(args: argparse.Namespace) -> int:
    from .build import build
    from .config import parse_params

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    overrides = parse_params(args.param)
    config = args.config.resolve()
    if args.out:
        out_dir = Path(args.out).resolve()
    elif config == DEFAULT_CONFIG.resolve():
        out_dir = project.REPORTS_DIR
    else:
        out_dir = config.parent / "reports"
    data_dir = project.resolve_data_dir(Path(args.data).resolve() if args.data else None)
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
