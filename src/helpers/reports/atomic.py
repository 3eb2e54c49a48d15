"""Atomic file writes: write to a temporary file in the same folder, then ``os.replace`` it over
the target, so a crash never leaves a half-written file over a good one."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TMP_SUFFIX = ".tmp"


def temp_path(path: Path, suffix: str = TMP_SUFFIX) -> Path:
    """A fresh, unused hidden path beside ``path`` (same folder, so ``os.replace`` is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it replaces ``path``,
    on an exception it is removed and ``path`` is left as it was."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text(path: Path, text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_open(path) as fh:
        fh.write(text)


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON to ``path``."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def replace(src: Path, dst: Path) -> None:
    """Move a finished temporary file over ``dst`` (atomic within one folder)."""
    os.chmod(src, 0o644)
    os.replace(src, dst)
