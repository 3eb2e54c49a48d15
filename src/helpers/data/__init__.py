"""Data access: the data model, opening and validating a dataset, the sample generator.

>>> from helpers.data import open_dataset
>>> ds = open_dataset("data/sample")          # DuckDB in-process; engine="spark" for Spark
>>> ds.orders.count().execute()
"""

from helpers.data.dataset import (
    Dataset,
    DataValidationError,
    data_fingerprint,
    open_dataset,
    pandera_schema,
    spark_session,
)
from helpers.data.schema import TABLE_NAMES, TABLES

__all__ = [
    "TABLES",
    "TABLE_NAMES",
    "DataValidationError",
    "Dataset",
    "data_fingerprint",
    "open_dataset",
    "pandera_schema",
    "spark_session",
]
