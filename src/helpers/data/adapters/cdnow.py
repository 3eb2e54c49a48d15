"""The CDNOW transaction log (Fader & Hardie 2001), as distributed with the lifetimes package.

One transaction a line, whitespace separated (a first line of column names, as in lifetimes'
copy of the master file, is recognised and skipped):

- ``CDNOW_master.txt``: customer id, date (YYYYMMDD), number of CDs, dollar value;
- ``CDNOW_sample.txt``: master customer id, sample customer id, date, CDs, dollar value
  (the master id is used, so ids agree with the master file).

Each line is one order of one line (sku ``CD``) by one account. Set aside, with their count: a
line with another number of fields, an id or quantity that is not a whole number (ids are read
as text, exactly) or lies beyond int64, a date that
is not a YYYYMMDD date, a dollar value that is not a number, a zero or negative quantity, a
negative dollar value. Flagged and kept: zero-dollar lines, and lines identical to an earlier
one (CDNOW records each purchase separately, so two equal purchases on one day are real).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers.data.adapters.base import (
    DEFAULT_COST_RATIO,
    UNKNOWN,
    Ledger,
    Staged,
    missing_tables,
    parse_float,
    parse_int,
)

FORMAT = "cdnow"
OUT_OF_RANGE = "out of range (a whole number beyond int64, |n| > 9.2e18)"
SKU = "CD"
FIELDS = ("customer_id", "date", "quantity", "value")


def _is_header(fields: list[str]) -> bool:
    """A first line of names (lifetimes' copy starts ``customer_id date number_of_cds ...``)."""
    return len(fields) in (4, 5) and not any(f.replace(".", "").isdigit() for f in fields)


def _read(path: Path) -> tuple[pd.DataFrame, list[tuple[int, str]], str | None]:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    rows, numbers, malformed, header = [], [], [], None
    with path.open(encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue  # a blank line is no row
            if not rows and not malformed and header is None and _is_header(fields):
                header = line.strip()  # column names, not a transaction
                continue
            if len(fields) == 5:
                fields = [fields[0], *fields[2:]]  # CDNOW_sample: master id, sample id, ...
            if len(fields) != 4:
                malformed.append((line_no, line.strip()))
                continue
            rows.append(fields)
            numbers.append(line_no)
    df = pd.DataFrame(rows, columns=list(FIELDS), dtype="string")
    df.insert(0, "_row", numbers)
    df.insert(0, "_source", path.name)
    return df, malformed, header


def stage(sources: list[str | Path], *, cost_ratio: float = DEFAULT_COST_RATIO) -> Staged:
    """Map CDNOW transaction logs into accounts, orders, order_lines and products."""
    if not 0 <= cost_ratio <= 1:
        raise ValueError(f"cost_ratio must be between 0 and 1, got {cost_ratio}")
    frames, malformed, headers = [], [], {}
    for source in sources:
        df, bad, header = _read(Path(source))
        if header:
            headers[Path(source).name] = header
        frames.append(df)
        malformed += [(Path(source).name, n, text) for n, text in bad]
    raw = pd.concat(frames, ignore_index=True)
    if raw.empty and not malformed:
        raise ValueError(f"{', '.join(map(str, sources))}: no transactions")
    book = Ledger(raw, "cdnow")
    customer, bad, too_large = parse_int(raw["customer_id"])
    book.set_aside(bad, "customer id: not a whole number")
    book.set_aside(too_large, f"customer id: {OUT_OF_RANGE}")
    date = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce").astype("datetime64[us]")
    book.set_aside(date.isna(), "date: not a YYYYMMDD date")
    qty, bad, too_large = parse_int(raw["quantity"])
    book.set_aside(bad, "quantity: not a whole number")
    book.set_aside(too_large, f"quantity: {OUT_OF_RANGE}")
    value, bad = parse_float(raw["value"])
    book.set_aside(bad, "dollar value: not a number")
    book.set_aside(qty <= 0, "quantity: zero or negative")
    book.set_aside(value < 0, "dollar value: negative")

    k = book.kept
    tx = pd.DataFrame(
        {
            "row": raw.index[k],
            "account_id": customer[k].astype("int64"),
            "order_ts": date[k],
            "quantity": qty[k].astype("int64"),
            "value": value[k].astype("float64"),
        }
    ).sort_values(["account_id", "order_ts", "row"], kind="stable")
    tx["order_id"] = np.arange(1, len(tx) + 1, dtype="int64")

    tables = _tables(tx, cost_ratio)
    orders = tables["orders"]

    set_aside = {"malformed line (not 4 or 5 fields)": len(malformed)} if malformed else {}
    set_aside.update(book.counts())
    rows = book.set_aside_rows()
    if malformed:
        bad_rows = pd.DataFrame(malformed, columns=["_source", "_row", "customer_id"])
        bad_rows.insert(0, "_reason", "malformed line (not 4 or 5 fields)")
        rows = pd.concat([bad_rows, rows], ignore_index=True)
    kept_raw = raw[k]
    assumptions = [
        f"unit_cost = {cost_ratio:g} x unit_price (cost_ratio): CDNOW has no costs, so margins "
        "of this dataset are assumed, not measured",
        "orders: one per transaction line, at midnight of its date (CDNOW has no times); "
        "warehouse_id 'unknown'; promised_delivery = order_ts (unknown)",
        "order_lines: one per order, sku 'CD', unit_price = dollar value / number of CDs",
        "accounts: one per customer id; company_name 'customer <id>'; industry, region, "
        "size_band and acquisition_channel 'unknown'; signup_date = date of the first purchase",
        "products: one row, 'CD', list_price = the median price per CD",
    ]
    return Staged(
        format=FORMAT,
        sources=[str(Path(s).resolve()) for s in sources],
        tables=tables,
        rows_read=len(raw) + len(malformed),
        kept={"orders (one per transaction)": len(orders)},
        set_aside=set_aside,
        flagged={
            "zero-dollar transactions (kept)": int((value[k] == 0).sum()),
            "lines identical to an earlier line (kept: separate purchases)": int(
                kept_raw[list(FIELDS)].duplicated().sum()
            ),
        },
        assumptions=assumptions,
        not_written=missing_tables(list(tables), "no such data in the CDNOW log"),
        set_aside_rows={"cdnow": rows},
        details={"cost_ratio": cost_ratio, "header_lines_skipped": headers},
    )


def _tables(tx: pd.DataFrame, cost_ratio: float) -> dict[str, pd.DataFrame]:
    """The model's tables from the kept transactions (order_id, account_id, order_ts,
    quantity, value): one order of one line each; unit_price = value / quantity."""
    orders = tx[["order_id", "account_id", "order_ts"]].copy()
    orders["warehouse_id"] = UNKNOWN
    orders["promised_delivery"] = orders["order_ts"]
    lines = pd.DataFrame(
        {
            "order_id": tx["order_id"],
            "line_no": 1,
            "sku": SKU,
            "quantity": tx["quantity"],
            "unit_price": tx["value"] / tx["quantity"],
            "discount": 0.0,
        }
    )
    lines["unit_cost"] = lines["unit_price"] * cost_ratio
    accounts = tx.groupby("account_id")["order_ts"].min().dt.normalize().rename("signup_date")
    accounts = accounts.reset_index()
    accounts["company_name"] = "customer " + accounts["account_id"].astype(str)
    for column in ("industry", "region", "acquisition_channel"):
        accounts[column] = UNKNOWN
    accounts["size_band"] = UNKNOWN
    price = float(lines["unit_price"].median()) if len(lines) else 0.0
    products = pd.DataFrame(
        {
            "sku": [SKU],
            "name": ["CD (CDNOW)"],
            "category": ["music"],
            "unit_cost": [price * cost_ratio],
            "list_price": [price],
            "supplier_id": [UNKNOWN],
            "lead_time_days": [0],
        }
    )
    return {"accounts": accounts, "orders": orders, "order_lines": lines, "products": products}
