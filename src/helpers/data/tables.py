"""Opening the tables a report reads when some of them are optional, and leaving out the guest
accounts an import makes: the pieces every report that must run on an import shares.

A report names the tables it cannot run without (its core, ``requires:`` in reports.yml) and its
sections name the tables they read beyond it (:class:`helpers.sections.Section`)::

    ds = open_tables(data_dir, CORE, {t for s in SECTIONS for t in s.tables}, engine)
    customers, n_guests = customers_only(ds)

Where the dataset has no ``accounts`` table, :func:`open_tables` derives one row per account id
seen (:func:`derive_accounts`) and says so in ``ds.notes``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path

import ibis

from helpers.config import resolve_data_dir
from helpers.data.adapters.base import GUEST_CHANNEL
from helpers.data.dataset import open_dataset
from helpers.data.files import has_table, is_url
from helpers.data.schema import TABLES

__all__ = ["customers_only", "derive_accounts", "missing_optional", "open_tables"]

#: Tables whose rows name an account, with the time that shows the account was active.
_ACTIVITY = {
    "orders": "order_ts",
    "leads": "created_at",
    "web_events": "ts",
    "campaign_sends": "sent_at",
    "service_tickets": "opened_at",
}
UNKNOWN = "unknown"


def open_tables(
    data_dir,
    required: Iterable[str],
    optional: Iterable[str] = (),
    engine: str = "duckdb",
    *,
    derive: bool = True,
    **options,
):
    """``helpers.data.open_dataset`` on ``required`` always (a missing one is the data layer's
    clear error) and on each of ``optional`` the dataset folder has
    (:func:`helpers.data.files.has_table`, the runner's rule), so an import without them opens.
    A connection URL opens them all (the warehouse holds every table or says which it lacks).
    With ``derive`` (the default), a dataset without ``accounts`` gets one derived from the
    account ids its other tables hold (:func:`derive_accounts`)."""
    required, optional = list(dict.fromkeys(required)), list(dict.fromkeys(optional))
    optional = [t for t in optional if t not in required]
    tables = [*required, *optional]
    if data_dir is None or not is_url(data_dir):
        root = resolve_data_dir(str(data_dir).removeprefix("file://") if data_dir else None)
        present = [t for t in tables if t in required or has_table(Path(root), t)]
        if derive and "accounts" in required and not has_table(Path(root), "accounts"):
            present.remove("accounts")  # derived below instead of reported missing
        tables, data_dir = present, root
    ds = open_dataset(data_dir, engine=engine, tables=tables, **options)
    if derive and "accounts" not in ds and "accounts" in {*required, *optional}:
        ds = derive_accounts(ds)
    return ds


def derive_accounts(ds):
    """``ds`` with an ``accounts`` table made from the account ids its other tables hold: one
    row per id, ``signup_date`` the date of its first activity (first order, lead, visit, send
    or ticket), every other attribute ``"unknown"``. ``ds.notes`` says so."""
    if "accounts" in ds:
        return ds
    parts = []
    for name, ts in _ACTIVITY.items():
        if name in ds and "account_id" in ds[name].columns:
            t = ds[name]
            parts.append(
                t.filter(t.account_id.notnull()).select(
                    account_id=t.account_id.cast("int64"), ts=t[ts].cast("timestamp")
                )
            )
    if not parts:
        raise ValueError(
            "no accounts table, and no table with account ids to derive one from "
            f"(looked in {', '.join(_ACTIVITY)})"
        )
    seen = ibis.union(*parts) if len(parts) > 1 else parts[0]
    columns = TABLES["accounts"].columns
    derived = seen.group_by("account_id").aggregate(signup_date=seen.ts.min().cast("date"))
    derived = derived.select(
        **{
            c: derived[c] if c in derived.columns else ibis.literal(UNKNOWN, type=col.dtype)
            for c, col in columns.items()
        }
    )
    n = int(derived.count().to_pandas())
    sources = [name for name in _ACTIVITY if name in ds]
    note = (
        f"The dataset has no accounts table: {n:,} accounts were derived from the account ids in "
        f"{', '.join(sources)} (signup date = first activity; industry, region, size band and "
        "acquisition channel unknown)."
    )
    return dataclasses.replace(
        ds, tables={**ds.tables, "accounts": derived}, notes=[*ds.notes, note]
    )


def missing_optional(ds, optional: Mapping[str, str]) -> dict[str, str]:
    """The tables of ``optional`` (table -> what is left out without it) that ``ds`` lacks."""
    return {t: what for t, what in optional.items() if t not in ds}


def customers_only(ds):
    """``ds`` without the guest accounts (``acquisition_channel = 'guest'``, account_id < 0)
    an Online Retail import makes for sales without a customer, and without every row of theirs
    in the other tables that carry an ``account_id`` (orders, tickets, contacts, ...): customer
    analytics are about customers. Returns (dataset, number of guest accounts); the dataset is
    ``ds`` itself when there is none."""
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
