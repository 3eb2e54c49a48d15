"""Command line for the data layer: ``python -m helpers.data <command> ...``.

Commands
--------
generate   write the deterministic synthetic sample dataset (see :mod:`helpers.data.generate`)
import     map an export (online-retail, cdnow, csv + mapping) into the data model
           (see :mod:`helpers.data.adapters` and docs/bring-your-own-data.md)

Each command registers itself with an ``_add_<command>`` function below, so new commands (e.g.
``import``) slot in without touching the others.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

# The command's own modules are imported inside the functions that use them: start-up time
# (``--help`` and one subcommand should not load the generator, Ibis and every adapter).


def _add_generate(sub: argparse._SubParsersAction) -> None:
    from helpers.config import SAMPLE_DIR
    from helpers.data.generate import DEFAULT_END_DATE

    p = sub.add_parser(
        "generate",
        help="write the synthetic sample dataset (Parquet + truth.json + manifest.json)",
        description="Generate the deterministic synthetic B2B dataset. The same --seed and "
        "--scale always give the same data; the folder is replaced atomically.",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="size multiplier: 1 = ~2,000 accounts, ~100k order lines, ~1M web events",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=str(SAMPLE_DIR), help=f"output folder (default {SAMPLE_DIR})")
    p.add_argument(
        "--end-date",
        default=DEFAULT_END_DATE,
        help=f"last day of history, YYYY-MM-DD (default {DEFAULT_END_DATE})",
    )
    p.add_argument("--years", type=int, default=2, help="years of history (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from helpers.data.generate import generate

    t0 = time.perf_counter()
    manifest = generate(
        args.out,
        scale=args.scale,
        seed=args.seed,
        end_date=args.end_date,
        years=args.years,
        progress=not args.quiet,
    )
    rows = manifest["row_counts"]
    width = max(map(len, rows))
    lines = [f"  {name:<{width}} {n:>12,}" for name, n in rows.items()]
    print(
        f"wrote {args.out} (scale {args.scale}, seed {args.seed}, "
        f"{manifest['start_date']}..{manifest['end_date']}) in {time.perf_counter() - t0:.1f} s",
        *lines,
        sep="\n",
        file=sys.stderr,
    )
    return 0


def _add_import(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="map an export into the data model (online-retail, cdnow, csv)",
        description="Convert SOURCE into the data model's tables (Parquet) in --out, with "
        "import_report.json: rows read, rows written per table, every kind of row set aside "
        "or flagged with its count (rows read = rows kept + rows set aside), the assumptions "
        "made. Set-aside rows are written to import_set_aside/ with their reason.",
        epilog="formats: online-retail = UCI Online Retail / Online Retail II (.xlsx with one "
        "or two sheets, or .csv); cdnow = the CDNOW transaction log (whitespace separated: "
        "customer id, YYYYMMDD, CDs, dollars); csv = your CSV files, folder SOURCE, columns "
        "mapped by --mapping FILE.yml. Guide: docs/bring-your-own-data.md",
    )
    p.add_argument(
        "format",
        choices=["online-retail", "cdnow", "csv"],
        metavar="FORMAT",
        help="online-retail, cdnow or csv",
    )
    p.add_argument(
        "source",
        nargs="+",
        metavar="SOURCE",
        help="the file(s) to import (csv: the folder holding the CSV files)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    p.add_argument("--force", action="store_true", help="replace --out if it is not empty")
    p.add_argument("--mapping", metavar="FILE", help="csv: the YAML mapping file")
    p.add_argument(
        "--sheet",
        action="append",
        metavar="NAME",
        help="online-retail .xlsx: read only this sheet (repeatable; default all)",
    )
    p.add_argument(
        "--cost-ratio",
        type=float,
        metavar="R",
        help="unit_cost = R x unit_price, stated in the import report as an assumption. "
        "online-retail, cdnow: the sources have no costs (default 0.6); csv: fills the "
        "order_lines.unit_cost the mapping leaves out or empty (no default: without it "
        "those costs stay unknown and margins are shown as unknown)",
    )
    p.add_argument(
        "--date-format",
        metavar="FMT",
        help="online-retail: strptime format for dates that are not ISO 8601 "
        "(default %%m/%%d/%%Y %%H:%%M, the UCI CSV's)",
    )
    p.add_argument(
        "--without-customer",
        choices=["keep", "set-aside"],
        help="online-retail: sales without a Customer ID are kept under guest "
        "accounts per country (keep, the default) or set aside",
    )
    p.add_argument(
        "--non-product",
        action="append",
        metavar="CODE=KIND",
        help="online-retail: one more stock code that is not a product, e.g. "
        "FREIGHT=carriage (repeatable)",
    )
    p.add_argument(
        "--encoding",
        metavar="NAME",
        help="online-retail CSV: text encoding (default: UTF-8, else cp1252)",
    )
    p.set_defaults(func=_run_import)


def _import_options(args: argparse.Namespace) -> dict:
    given = {
        "mapping": args.mapping,
        "sheets": args.sheet,
        "cost_ratio": args.cost_ratio,
        "date_format": args.date_format,
        "without_customer": args.without_customer,
        "encoding": args.encoding,
    }
    if args.non_product:
        pairs = [item.partition("=") for item in args.non_product]
        bad = [code for code, sep, kind in pairs if not sep or not code or not kind]
        if bad:
            raise ValueError(f"--non-product expects CODE=KIND, got {args.non_product}")
        given["non_product"] = {code: kind for code, _, kind in pairs}
    allowed = {
        "online-retail": {
            "sheets",
            "cost_ratio",
            "date_format",
            "without_customer",
            "non_product",
            "encoding",
        },
        "cdnow": {"cost_ratio"},
        "csv": {"mapping", "cost_ratio"},
    }[args.format]
    options = {k: v for k, v in given.items() if v is not None}
    wrong = sorted(set(options) - allowed)
    if wrong:
        flag = "--" + wrong[0].replace("_", "-").removesuffix("s")
        raise ValueError(f"{flag} does not apply to the {args.format} format")
    return options


def _run_import(args: argparse.Namespace) -> int:
    from helpers.data.adapters import REPORT_FILE, import_data

    t0 = time.perf_counter()
    try:
        report = import_data(
            args.format, args.source, args.out, force=args.force, **_import_options(args)
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max(map(len, [*report["tables_written"], *report["set_aside"], "x"]))
    lines = [f"  {name:<{width}} {n:>12,}" for name, n in report["tables_written"].items()]
    aside = [f"  {name:<{width}} {n:>12,}" for name, n in report["set_aside"].items()]
    na = [f"  {name}: {why}" for name, why in report["reports"].items() if why != "applies"]
    print(
        f"imported {args.format} into {args.out} in {time.perf_counter() - t0:.1f} s: "
        f"{report['balance']}",
        "tables written:",
        *lines,
        *(["set aside:", *aside] if aside else []),
        f"set aside by the data layer on open: {report['on_open']['rows_set_aside']:,}",
        *(["reports:", *na] if na else []),
        *_cost_lines(report),
        f"details: {args.out}/{REPORT_FILE}",
        sep="\n",
        file=sys.stderr,
    )
    return 0


def _cost_lines(report: dict) -> list[str]:
    """A csv import's line about costs left unknown (margins will be unknown), if any."""
    costs = report.get("details", {}).get("costs", {}).get("order_lines", {})
    if not costs.get("cost_unknown"):
        return []
    return [
        f"costs: unit_cost unknown on {costs['cost_unknown']:,} of {costs['lines']:,} order "
        "lines: their orders' margins will be unknown (--cost-ratio R assumes R x unit_price)"
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.data", description="Data layer commands."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_generate(sub)
    _add_import(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
