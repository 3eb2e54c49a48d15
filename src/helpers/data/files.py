"""Where a table's files live in a dataset folder: the one table locator.

Cheap to import (no Ibis, no pandas): the report runner uses it to plan a build, the data layer
to read, the adapters to say which reports an import can build.

Accepted layouts: ``root/name/*.parquet`` (the generator's), ``root/name.parquet``,
``root/name/*.csv``, ``root/name.csv``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["has_table", "is_url", "table_files"]


def is_url(location) -> bool:
    """Whether ``location`` is a connection URL (``duckdb:///x.db``, ``sc://host``), not a
    folder; ``file://`` paths count as folders."""
    text = str(location) if location is not None else ""
    return "://" in text and not text.startswith("file://")


def table_files(root: Path, name: str) -> tuple[str, list[str]] | None:
    """Where table ``name`` lives under ``root``: (format, files), or None if absent."""
    root = Path(root)
    folder = root / name
    for fmt in ("parquet", "csv"):
        if folder.is_dir():
            files = sorted(str(p) for p in folder.glob(f"*.{fmt}"))
            if files:
                return fmt, files
        single = root / f"{name}.{fmt}"
        if single.is_file():
            return fmt, [str(single)]
    return None


def has_table(root: Path, name: str) -> bool:
    """Whether the dataset folder ``root`` holds table ``name`` in a layout it can be read from."""
    return table_files(Path(root), name) is not None
