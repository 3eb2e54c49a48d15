"""Cheap fingerprints that decide whether a report must be rebuilt, and the git commit."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from helpers.data.fingerprint import data_fingerprint, short

__all__ = ["cache_key", "data_fingerprint", "file_sha256", "git_commit", "source_hash"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/helpers


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def source_hash(package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of the helpers package a report runs against: every ``*.py`` under ``src/helpers``
    and every file under ``reports/templates`` (contents and relative paths)."""
    h = hashlib.sha256()
    files = [p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts]
    templates = package_dir / "reports" / "templates"
    files += [p for p in templates.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for path in sorted(set(files)):
        h.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return short(h.hexdigest())


def cache_key(parts: dict[str, Any]) -> str:
    """Stable hash of everything a report's output depends on."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def git_commit(cwd: Path) -> str:
    """Short sha of HEAD, with ``+dirty`` when tracked files have uncommitted changes;
    ``"uncommitted"`` in a repository without commits; ``"no git"`` outside one."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )

    try:
        inside = git("rev-parse", "--is-inside-work-tree")
        if inside.returncode != 0:
            return "no git"
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return "uncommitted"
        sha = head.stdout.strip()
        status = git("status", "--porcelain", "--untracked-files=no")
        return f"{sha}+dirty" if status.returncode == 0 and status.stdout.strip() else sha
    except (OSError, subprocess.SubprocessError):
        return "no git"
