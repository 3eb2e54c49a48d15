"""Opening the tables a report reads when some of them are optional, and leaving out the guest
accounts an import makes: the pieces every report that must run on an import shares.

A report names the tables it cannot run without (its ``requires:`` in reports.yml) and those it
uses when the dataset has them, with what it leaves out without each::

    REQUIRED = ("orders", "order_lines", "accounts")
    OPTIONAL = {"marketing_spend": "CAC, ROI and payback"}
    ds = open_tables(data_dir, REQUIRED, OPTIONAL, engine)
    missing = missing_optional(ds, OPTIONAL)      # {"marketing_spend": "CAC, ROI and payback"}
    customers, n_guests = customers_only(ds)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path


def open_tables(
    data_dir, required: Iterable[str], optional: Iterable[str], engine: str = "duckdb", **options
):
    """``helpers.data.open_dataset`` on ``required`` always (a missing one is the data layer's
    clear error) and on each of ``optional`` the dataset folder has
    (``helpers.reports.build.has_table``, the runner's rule), so an import without them opens.
    A connection URL opens them all (the warehouse holds every table or says which it lacks)."""
    from helpers.config import resolve_data_dir
    from helpers.data import open_dataset
    from helpers.reports.build import has_table

    required, optional = list(required), list(optional)
    tables = [*required, *optional]
    if data_dir is None or "://" not in str(data_dir) or str(data_dir).startswith("file://"):
        root = resolve_data_dir(str(data_dir).removeprefix("file://") if data_dir else None)
        tables = [*required, *(t for t in optional if has_table(Path(root), t))]
        data_dir = root
    return open_dataset(data_dir, engine=engine, tables=tables, **options)


def missing_optional(ds, optional: Mapping[str, str]) -> dict[str, str]:
    """The tables of ``optional`` (table -> what is left out without it) that ``ds`` lacks."""
    return {t: what for t, what in optional.items() if t not in ds}


def customers_only(ds):
    """``ds`` without the guest accounts (``acquisition_channel = 'guest'``, account_id < 0)
    an Online Retail import makes for sales without a customer, and without every row of theirs
    in the other tables that carry an ``account_id`` (orders, tickets, contacts, ...): customer
    analytics are about customers. Returns (dataset, number of guest accounts); the dataset is
    ``ds`` itself when there is none."""
    from helpers.data.adapters.base import GUEST_CHANNEL

    acc = ds.accounts
    guests = acc.filter((acc.acquisition_channel == GUEST_CHANNEL) & (acc.account_id < 0))
    n = int(guests.count().to_pandas())
    if n == 0:
        return ds, 0
    ids = guests.select("account_id")
    tables = {
        name: t.anti_join(ids, "account_id") if "account_id" in t.columns else t
        for name, t in ds.tables.items()
    }
    return dataclasses.replace(ds, tables=tables), n
