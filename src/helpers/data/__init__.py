"""Data access: the data model, opening and validating a dataset, the sample generator.

>>> from helpers.data import open_dataset
>>> ds = open_dataset("data/sample")          # DuckDB in-process; engine="spark" for Spark
>>> ds.orders.count().execute()

Names are imported lazily, so that ``helpers.data.fingerprint`` and ``helpers.data.schema``
stay cheap to import (the report runner uses them without loading Ibis).
"""

from importlib import import_module

_EXPORTS = {
    "DataValidationError": "helpers.data.dataset",
    "Dataset": "helpers.data.dataset",
    "open_dataset": "helpers.data.dataset",
    "pandera_schema": "helpers.data.dataset",
    "spark_session": "helpers.data.dataset",
    "data_fingerprint": "helpers.data.fingerprint",
    "TABLES": "helpers.data.schema",
    "TABLE_NAMES": "helpers.data.schema",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'helpers.data' has no attribute {name!r}")
