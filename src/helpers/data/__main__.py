"""Command line for the data layer: ``python -m helpers.data <command> ...``.

Commands
--------
generate   write the deterministic synthetic sample dataset (see :mod:`helpers.data.generate`)

Each command registers itself with an ``_add_<command>`` function below, so new commands (e.g.
``import``) slot in without touching the others.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.data", description="Data layer commands."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_generate(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
