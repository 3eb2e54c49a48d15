"""Where a table's files live in a dataset folder: the one table locator.

Cheap to import (no Ibis, no pandas): the report runner uses it to plan a build, the data layer
to read, the adapters to say which reports an import can build.

Accepted layouts: ``root/name/*.parquet`` (the generator's), ``root/name.parquet``,
``root/name/*.csv``, ``root/name.csv``. Files and folders whose names start with ``.`` or ``_``
(``.DS_Store``, Spark's ``_SUCCESS`` and ``.crc`` files) are hidden: never read, never part of
the data fingerprint. Every other file of a table is read, or the open stops with an error
naming it: a CSV beside Parquet parts in one folder, ``shipments.csv`` beside ``shipments/``, a
file of another kind or a sub-folder in a table folder (:class:`TableLayoutError`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TableLayoutError", "has_table", "is_hidden", "is_url", "table_files"]

FORMATS = ("parquet", "csv")
HIDDEN_PREFIXES = (".", "_")


class TableLayoutError(ValueError):
    """The files of one table cannot all be read as one table; the message names them."""


def is_url(location) -> bool:
    """Whether ``location`` is a connection URL (``duckdb:///x.db``, ``sc://host``), not a
    folder; ``file://`` paths count as folders."""
    text = str(location) if location is not None else ""
    return "://" in text and not text.startswith("file://")


def is_hidden(name: str) -> bool:
    """Whether a file or folder name is hidden from the reader and the fingerprint alike."""
    return name.startswith(HIDDEN_PREFIXES)


def _candidates(root: Path, name: str) -> tuple[list[Path], list[Path]]:
    """(entries of the folder ``root/name`` that are not hidden, the single files
    ``root/name.parquet`` / ``root/name.csv`` that exist)."""
    folder = root / name
    inside = []
    if folder.is_dir():
        inside = sorted(p for p in folder.iterdir() if not is_hidden(p.name))
    single = [root / f"{name}.{fmt}" for fmt in FORMATS if (root / f"{name}.{fmt}").is_file()]
    return inside, single


def _relative(root: Path, paths: list[Path]) -> str:
    return ", ".join(p.relative_to(root).as_posix() for p in paths)


def table_files(root: Path, name: str) -> tuple[str, list[str]] | None:
    """Where table ``name`` lives under ``root``: (format, files), or None if absent.

    Raises :class:`TableLayoutError` when some of its files would not be read: files of two
    layouts or two formats at once, a file that is neither ``.parquet`` nor ``.csv`` or a
    sub-folder inside ``root/name/``.
    """
    root = Path(root)
    inside, single = _candidates(root, name)
    if not inside and not single:
        return None
    odd = [p for p in inside if p.is_dir() or p.suffix.lstrip(".") not in FORMATS]
    if odd:
        raise TableLayoutError(
            f"table '{name}': {_relative(root, odd)} in {name}/ would not be read (only "
            f".parquet or .csv files are): move it out, or start its name with '_' or '.'"
        )
    if inside and single:
        raise TableLayoutError(
            f"table '{name}' is in two places: {_relative(root, single)} and "
            f"{_relative(root, inside)}: keep one of them"
        )
    files = inside or single
    formats = sorted({p.suffix.lstrip(".") for p in files})
    if len(formats) > 1:
        raise TableLayoutError(
            f"table '{name}' mixes formats ({_relative(root, files)}): a table's files must be "
            f"all Parquet or all CSV"
        )
    return formats[0], [str(p) for p in files]


def has_table(root: Path, name: str) -> bool:
    """Whether the dataset folder ``root`` holds files of table ``name`` (not hidden ones).

    Agrees with :func:`table_files`: True exactly when it returns files or raises
    :class:`TableLayoutError` (the table is there, but its open will name the problem)."""
    inside, single = _candidates(Path(root), name)
    return bool(inside or single)
