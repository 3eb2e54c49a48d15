"""Build history: every build that ran a report keeps the reports' records.

::

    reports/history/<build time>/build.json    when, data fingerprint, commit, parameters,
                                                which reports ran and how they went
    reports/history/<build time>/<name>.json   each report's record after the build

The folder name is the build's local time, ``2026-11-02T07-00-05`` (no colons, so it is a
valid file name everywhere; a second build in the same second gets ``-2``). Only the last
``keep`` builds are kept (``history: {keep: N}`` in reports.yml, or ``--keep N``; default
:data:`DEFAULT_KEEP`). A build that ran nothing (every report up to date) adds no entry.
``python -m helpers.reports history`` lists them, newest first.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import atomic, now_iso

__all__ = ["DEFAULT_KEEP", "HISTORY_DIR", "list_builds", "prune", "record_build"]

HISTORY_DIR = "history"
DEFAULT_KEEP = 20
MANIFEST = "build.json"


def _folder_name(built_at: str) -> str:
    """``2026-11-02T07:00:05+01:00`` -> ``2026-11-02T07-00-05``."""
    return built_at[:19].replace(":", "-")


def _fresh(root: Path, name: str) -> Path:
    path, n = root / name, 1
    while path.exists():
        n += 1
        path = root / f"{name}-{n}"
    return path


def record_build(
    out_dir: Path,
    names: Iterable[str],
    ran: dict[str, str],
    context: dict[str, Any],
    keep: int = DEFAULT_KEEP,
) -> Path | None:
    """Keep the records of ``names`` (every report of the config that has one) under a new
    ``history/<build time>/`` with a ``build.json`` manifest, then drop all but the last
    ``keep`` builds. ``ran`` maps the reports this build ran to their status; when it is
    empty nothing is written (returns None). ``context``: data_dir, data_fingerprint,
    git_commit, overrides, period_end (what the manifest records)."""
    if not ran or keep < 1:
        return None
    out_dir = Path(out_dir)
    built_at = now_iso()
    root = out_dir / HISTORY_DIR
    root.mkdir(parents=True, exist_ok=True)
    folder = _fresh(root, _folder_name(built_at))
    tmp = root / f".{folder.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    reports: dict[str, Any] = {}
    for name in names:
        src = out_dir / f"{name}.json"
        if not src.is_file():
            continue
        shutil.copy2(src, tmp / src.name)
        record = json.loads(src.read_text(encoding="utf-8"))
        reports[name] = {
            "status": record.get("status"),
            "ran": name in ran,
            "built_at": record.get("built_at"),
            "parameters": record.get("parameters"),
            "period": record.get("period"),
        }
    manifest = {"built_at": built_at, **context, "reports": reports}
    atomic.write_json(tmp / MANIFEST, manifest)
    tmp.rename(folder)
    prune(out_dir, keep)
    return folder


def _entries(out_dir: Path) -> list[Path]:
    root = Path(out_dir) / HISTORY_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda p: (json.loads((p / MANIFEST).read_text())["built_at"], p.name))


def prune(out_dir: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` history entries; returns those removed."""
    entries = _entries(out_dir)
    drop = entries[: max(0, len(entries) - keep)]
    for path in drop:
        shutil.rmtree(path, ignore_errors=True)
    return drop


def list_builds(out_dir: Path) -> list[dict[str, Any]]:
    """The history's manifests, newest first, each with ``folder`` (its name)."""
    out = []
    for path in reversed(_entries(out_dir)):
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        out.append({"folder": path.name, **manifest})
    return out


def format_builds(builds: list[dict[str, Any]]) -> str:
    """The ``history`` command's table: folder, data fingerprint, the reports that ran (and
    how), the overrides and the period end injected."""
    if not builds:
        return "no builds in the history yet"
    lines = []
    for b in builds:
        ran = [f"{n}" + ("" if r["status"] == "ok" else f" ({r['status']})")
               for n, r in b["reports"].items() if r.get("ran")]  # fmt: skip
        params = {**(b.get("overrides") or {})}
        if b.get("period_end"):
            params["end"] = b["period_end"]
        shown = " ".join(f"{k}={v}" for k, v in params.items()) or "defaults"
        lines.append(
            f"{b['folder']}  data {b.get('data_fingerprint') or '—'}  "
            f"ran {len(ran)}: {', '.join(ran) or '—'}  parameters: {shown}"
        )
    return "\n".join(lines)
