"""Cheap fingerprints of a dataset folder (imports nothing heavy: the report runner uses them
on every build to decide what is stale, and reports print them in their data-quality section).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from helpers.data.files import is_hidden

SHORT = 12
SAMPLE_BYTES = 64 * 1024  # the bytes read at each end of a file for its content hash
WHOLE_FILE_BYTES = 4 * 1024 * 1024  # smaller files (and every CSV up to it) are hashed whole


def short(digest: str) -> str:
    return digest[:SHORT]


def data_fingerprint(data_dir: Path) -> str:
    """A short hex id of a dataset folder, fast even for gigabytes of data.

    ``sha256`` over ``(relative path, size, mtime_ns)`` of every file under ``data_dir``
    (hidden files and folders, names starting with ``.`` or ``_``, skipped: the same ones the
    reader skips, :func:`helpers.data.files.is_hidden`), plus the content of
    ``data_dir/manifest.json`` if it exists. File contents are never read: touching a file
    counts as a change.
    """
    data_dir = Path(data_dir)
    h = hashlib.sha256()
    for root, dirs, files in os.walk(data_dir):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d))
        for name in sorted(files):
            if is_hidden(name):
                continue
            path = Path(root, name)
            try:
                st = path.stat()
            except FileNotFoundError:  # removed while we walk
                continue
            rel = path.relative_to(data_dir).as_posix()
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    manifest = data_dir / "manifest.json"
    if manifest.is_file():
        h.update(b"manifest\0")
        h.update(manifest.read_bytes())
    return short(h.hexdigest())


def content_sample(path: Path) -> bytes:
    """A cheap digest of a file's content: all of it up to 4 MiB, else its first and last
    64 KiB (for Parquet the last bytes are its footer: row counts, offsets and statistics of
    every column chunk, so a changed value almost always changes them)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= WHOLE_FILE_BYTES:
            return hashlib.sha256(f.read()).digest()
        head = f.read(SAMPLE_BYTES)
        f.seek(size - SAMPLE_BYTES)
        return hashlib.sha256(head + f.read()).digest()


def files_fingerprint(paths: Iterable[str | os.PathLike]) -> str:
    """A hex id of exactly these files: ``sha256`` over (path, size, mtime_ns, content sample)
    of each, so adding, removing, replacing or touching any of them changes it."""
    h = hashlib.sha256()
    for path in paths:
        st = os.stat(path)
        h.update(f"{Path(path).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        h.update(content_sample(Path(path)))
    return h.hexdigest()
