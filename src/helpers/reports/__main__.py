"""``python -m helpers.reports build|list`` (see :mod:`helpers.reports.cli`)."""

from .cli import main

if __name__ == "__main__":  # guard: spawn/forkserver workers re-import the main module
    raise SystemExit(main())
