"""A cheap fingerprint of a dataset folder (imports nothing heavy: the report runner uses it
on every build to decide what is stale, and reports print it in their data-quality section)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SHORT = 12


def short(digest: str) -> str:
    return digest[:SHORT]


def data_fingerprint(data_dir: Path) -> str:
    """A short hex id of a dataset folder, fast even for gigabytes of data.

    ``sha256`` over ``(relative path, size, mtime_ns)`` of every file under ``data_dir``
    (hidden files and folders skipped), plus the content of ``data_dir/manifest.json`` if it
    exists. File contents are never read: touching a file counts as a change.
    """
    data_dir = Path(data_dir)
    h = hashlib.sha256()
    for root, dirs, files in os.walk(data_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
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
