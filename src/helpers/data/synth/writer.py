"""The Parquet writer: ``<root>/<table>/part-NNNNN.parquet`` with the Arrow types of
:mod:`helpers.data.schema`, one part per call, an empty part for a table that got no rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.data import schema


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of ``table`` as written by the generator (column order of the schema)."""
    cols = schema.TABLES[table].columns
    return pa.schema([pa.field(name, schema.arrow_type(col.dtype)) for name, col in cols.items()])


class Writer:
    """Writes ``<root>/<table>/part-NNNNN.parquet`` with the schema's Arrow types."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rows = {t: 0 for t in schema.TABLE_NAMES}
        self.parts = {t: 0 for t in schema.TABLE_NAMES}
        for t in schema.TABLE_NAMES:
            (root / t).mkdir(parents=True, exist_ok=True)

    def write(self, table: str, cols: dict[str, Any], allow_empty: bool = False) -> None:
        spec = schema.TABLES[table].columns
        if list(cols) != list(spec):
            raise ValueError(f"{table}: columns {list(cols)} != schema {list(spec)}")
        target = arrow_schema(table)
        arrays = []
        for (name, col), field_ in zip(spec.items(), target, strict=True):
            v = cols[name]
            if not isinstance(v, pa.Array):
                v = pa.array(np.asarray(v), type=field_.type)
            if v.type != field_.type:
                raise TypeError(f"{table}.{name}: {v.type} != {field_.type} ({col.dtype})")
            arrays.append(v)
        tbl = pa.Table.from_arrays(arrays, schema=target)
        if tbl.num_rows == 0 and not allow_empty:
            return
        path = self.root / table / f"part-{self.parts[table]:05d}.parquet"
        pq.write_table(tbl, path, compression="zstd", row_group_size=1 << 20)
        self.parts[table] += 1
        self.rows[table] += tbl.num_rows

    def finish(self) -> None:
        """Tables that got no rows still get an empty part with the right schema."""
        for t in schema.TABLE_NAMES:
            if self.parts[t] == 0:
                empty = {
                    c: pa.array([], type=f.type)
                    for c, f in zip(schema.TABLES[t].columns, arrow_schema(t), strict=True)
                }
                self.write(t, empty, allow_empty=True)
