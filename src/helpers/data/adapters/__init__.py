"""Adapters: public and home-made exports mapped into the data model.

>>> from helpers.data.adapters import import_data
>>> report = import_data("online-retail", ["online_retail_II.xlsx"], "data/raw/retail")
>>> report["rows_read"] == report["rows_kept"] + report["rows_set_aside"]
True

Formats: ``online-retail`` (UCI Online Retail / Online Retail II, :mod:`.online_retail`),
``cdnow`` (the CDNOW log, :mod:`.cdnow`), ``csv`` (your CSV files with a YAML mapping,
:mod:`.csv_mapping`). Each writes ``<table>.parquet`` for the tables its source can fill,
``import_report.json`` (rows read, rows written per table, every kind of row set aside or
flagged with its count, the assumptions made, what the data layer sets aside on open, which
reports apply) and ``import_set_aside/`` (the set-aside source rows with their reason).
Command line: ``python -m helpers.data import FORMAT SOURCE --out DIR``. Guide:
docs/bring-your-own-data.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from helpers.data.adapters.base import (
    GUEST_CHANNEL,
    REPORT_FILE,
    SET_ASIDE_DIR,
    Staged,
    write_import,
)

FORMATS = ("online-retail", "cdnow", "csv")

__all__ = ["FORMATS", "GUEST_CHANNEL", "REPORT_FILE", "SET_ASIDE_DIR", "import_data", "stage"]


def stage(fmt: str, sources: Sequence[str | os.PathLike], **options) -> Staged:
    """Read ``sources`` in format ``fmt`` into staged tables (nothing written yet)."""
    sources = [Path(s) for s in sources]
    if not sources:
        raise ValueError("no SOURCE given")
    # Imported here, only the adapter asked for: start-up time (online_retail loads openpyxl).
    if fmt == "online-retail":
        from helpers.data.adapters import online_retail as adapter
    elif fmt == "cdnow":
        from helpers.data.adapters import cdnow as adapter
    elif fmt == "csv":
        from helpers.data.adapters import csv_mapping as adapter
    else:
        raise ValueError(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")
    return adapter.stage(sources, **options)


def import_data(
    fmt: str,
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    force: bool = False,
    **options,
) -> dict:
    """Import ``sources`` into the dataset folder ``out``; returns the import report.

    ``options`` go to the format's ``stage`` function (``cost_ratio``, ``sheets``,
    ``date_format``, ``without_customer``, ``mapping``...). Raises ``ValueError`` with a
    message naming the file, sheet, column or mapping entry at fault.
    """
    return write_import(stage(fmt, sources, **options), out, force=force)
