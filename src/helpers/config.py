"""Project paths and settings. Secrets come from the environment (a git-ignored ``.env`` is
read if present), never from a file in the repository."""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

PROJ_ROOT = Path(__file__).resolve().parents[2]
load_dotenv(PROJ_ROOT / ".env", override=False)

DATA_DIR = PROJ_ROOT / "data"
SAMPLE_DIR = DATA_DIR / "sample"
RAW_DIR = DATA_DIR / "raw"
REPORTS_DIR = PROJ_ROOT / "reports"
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"

DATA_DIR_ENV = "HELPERS_DATA_DIR"
EXPORTS_DIR_ENV = "HELPERS_EXPORTS_DIR"


def exports_dir() -> Path:
    """Where the reports write their lists of accounts (CSV, personal data):
    ``$HELPERS_EXPORTS_DIR`` if set (relative paths from the project root), else
    ``reports/exports``. The test session points it at a temporary folder, so a test never
    overwrites the lists of a real build."""
    path = Path(os.environ.get(EXPORTS_DIR_ENV) or REPORTS_DIR / "exports")
    return path if path.is_absolute() else PROJ_ROOT / path


#: Read once, when helpers.config is first imported (each report kernel imports it afresh).
EXPORTS_DIR = exports_dir()


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The dataset folder a notebook should read.

    An explicit ``data_dir`` wins (relative paths are taken from the project root); ``None``
    means ``$HELPERS_DATA_DIR`` if set, else ``data/sample``.
    """
    if data_dir in (None, ""):
        data_dir = os.environ.get(DATA_DIR_ENV) or SAMPLE_DIR
    path = Path(data_dir)
    return path if path.is_absolute() else PROJ_ROOT / path
