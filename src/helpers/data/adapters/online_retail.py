"""The UCI Online Retail (2010-2011) and Online Retail II (2009-2011) exports.

Sources: the workbook (``.xlsx``, one sheet in Online Retail, two in Online Retail II: "Year
2009-2010" and "Year 2010-2011"; all sheets are read unless ``sheets`` names some) or CSV
exports of it. Columns, matched loosely (case, spaces): Invoice/InvoiceNo, StockCode,
Description, Quantity, InvoiceDate, Price/UnitPrice, Customer ID/CustomerID, Country.

Each source line gets one fate, checked in this order (the first rule a line breaks is its
reason, and ``import_report.json`` counts each):

1. set aside: a CSV line with the wrong number of fields; a missing invoice or stock code; a
   date, quantity, price or customer id that does not parse, or a whole number beyond int64
   (ids are read as text, exactly: ``12346.0`` is 12346, a 19-digit id keeps every digit);
2. set aside: an exact duplicate of an earlier line (all columns equal);
3. set aside: a non-product code (postage, carriage, manual, discount, samples, bank charges,
   fees, adjustments, gift vouchers, tests), counted per kind and per code, with its value;
4. set aside: a zero or negative price (free items, "adjust bad debt");
5. cancellations (invoice ``C...``): kept as ``returns`` when they have a customer and that
   customer bought the same stock code earlier in the file (linked to the latest such order);
   otherwise set aside, with which of the two was missing;
6. sales: kept as ``order_lines``; a zero or negative quantity outside a cancellation, an
   invoice number that is not a number, or an invoice whose lines name two customers is set
   aside. Lines without a customer are kept for product and revenue totals under one guest
   account per country (``account_id < 0``, ``acquisition_channel = 'guest'``): customer
   analytics must leave those out (or import with ``without_customer='set-aside'``).

Tables written: accounts, orders, order_lines, products, returns. Everything else in the data
model has no source here and is not written.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.data.adapters.base import (
    DEFAULT_COST_RATIO,
    GUEST_CHANNEL,
    LINE_BREAK,
    UNKNOWN,
    Ledger,
    Staged,
    clean_text,
    missing_tables,
    normalise,
    parse_float,
    parse_int,
    parse_timestamp,
    read_text_table,
)

FORMAT = "online-retail"
MALFORMED = "malformed CSV line (wrong number of fields)"
OUT_OF_RANGE = "out of range (a whole number beyond int64, |n| > 9.2e18)"
US_DATE_FORMAT = "%m/%d/%Y %H:%M"  # "12/1/2010 8:26", the UCI CSV's style

COLUMNS = {  # model name -> accepted source names (normalised)
    "invoice": ("invoice", "invoiceno"),
    "stock_code": ("stockcode",),
    "description": ("description",),
    "quantity": ("quantity",),
    "invoice_date": ("invoicedate",),
    "price": ("price", "unitprice"),
    "customer_id": ("customerid",),
    "country": ("country",),
}
OPTIONAL = {"description", "country"}
SOURCE_NAMES = {  # how the columns are called in messages (Online Retail II names)
    "invoice": "Invoice",
    "stock_code": "StockCode",
    "description": "Description",
    "quantity": "Quantity",
    "invoice_date": "InvoiceDate",
    "price": "Price",
    "customer_id": "Customer ID",
    "country": "Country",
}

#: Stock codes that are not products, by kind. Matched case-insensitively after stripping.
NON_PRODUCT_CODES = {
    "POST": "postage",
    "DOT": "postage",
    "C2": "carriage",
    "M": "manual",
    "D": "discount",
    "S": "samples",
    "B": "adjustment",
    "ADJUST": "adjustment",
    "ADJUST2": "adjustment",
    "PADS": "adjustment",
    "BANK CHARGES": "bank charges",
    "AMAZONFEE": "fees",
    "CRUK": "fees",
}
NON_PRODUCT_PATTERNS = (
    (re.compile(r"^GIFT_\d+_\d+$", re.I), "gift voucher"),
    (re.compile(r"^TEST\d*$", re.I), "test"),
)


def non_product_kind(code: str, extra: dict[str, str] | None = None) -> str | None:
    """The kind of non-product ``code`` (``"postage"`` for POST) or None for a product."""
    key = code.strip().upper()
    table = {**NON_PRODUCT_CODES, **{k.upper(): v for k, v in (extra or {}).items()}}
    if key in table:
        return table[key]
    for pattern, kind in NON_PRODUCT_PATTERNS:
        if pattern.match(key):
            return kind
    return None


# ----------------------------------------------------------------------------- reading


def _read_xlsx(path: Path, sheets: list[str] | None) -> list[tuple[str, pd.DataFrame, list]]:
    try:
        import openpyxl  # noqa: F401  (pandas' reader for .xlsx)
    except ImportError:
        raise ValueError(
            f"{path}: reading .xlsx needs the openpyxl package (pip install openpyxl), "
            "or export the sheet(s) as CSV and import those"
        ) from None
    with pd.ExcelFile(path, engine="openpyxl") as book:
        names = list(book.sheet_names)
        wanted = sheets or names
        unknown = [s for s in wanted if s not in names]
        if unknown:
            raise ValueError(
                f"{path.name}: no sheet named {unknown[0]!r} (sheets: {', '.join(names)})"
            )
        parts = []
        for sheet in wanted:
            df = pd.read_excel(book, sheet_name=sheet, dtype=object)
            df = clean_text(df.astype("string"))
            numbers = list(range(2, len(df) + 2))  # row 1 is the header
            breaks = int(df.apply(lambda c: c.str.contains(LINE_BREAK)).any(axis=1).sum())
            parts.append((f"{path.name}[{sheet}]", df, numbers, breaks))
    return parts


def _read(path: Path, sheets: list[str] | None, encoding: str | None):
    """(label, text frame, row numbers) per sheet/file, plus the malformed CSV lines."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return _read_xlsx(path, sheets), []
    if sheets:
        raise ValueError(f"{path.name}: --sheet only applies to .xlsx workbooks")
    table = read_text_table(path, ",", encoding)
    malformed = [(path.name, line, text) for line, text in table.malformed]
    return [(path.name, table.frame(), table.line_numbers, table.line_breaks)], malformed


def _columns(label: str, df: pd.DataFrame) -> pd.DataFrame:
    """Rename the source's columns to the adapter's names; a clear error if one is missing."""
    found = {normalise(c): c for c in df.columns}
    rename, missing = {}, []
    for name, aliases in COLUMNS.items():
        match = next((found[a] for a in aliases if a in found), None)
        if match is None:
            if name not in OPTIONAL:
                missing.append(SOURCE_NAMES[name])
            continue
        rename[match] = name
    if missing:
        raise ValueError(
            f"{label}: column(s) {', '.join(missing)} missing; an Online Retail export has "
            f"Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, "
            f"Country (found: {', '.join(map(str, df.columns))})"
        )
    out = df[list(rename)].rename(columns=rename)
    for name in OPTIONAL:
        if name not in out.columns:
            out[name] = pd.Series(pd.NA, index=out.index, dtype="string")
    return out[list(COLUMNS)]


# ----------------------------------------------------------------------------- the adapter


def stage(
    sources: list[str | Path],
    *,
    sheets: list[str] | None = None,
    cost_ratio: float = DEFAULT_COST_RATIO,
    date_format: str = US_DATE_FORMAT,
    without_customer: str = "keep",
    non_product: dict[str, str] | None = None,
    encoding: str | None = None,
) -> Staged:
    """Map Online Retail exports into the data model (see the module docstring)."""
    if without_customer not in {"keep", "set-aside"}:
        raise ValueError(
            f"without_customer must be 'keep' or 'set-aside', got {without_customer!r}"
        )
    if not 0 <= cost_ratio <= 1:
        raise ValueError(f"cost_ratio must be between 0 and 1, got {cost_ratio}")
    try:
        pd.to_datetime(pd.Series(["2000-01-02"]), format=date_format, errors="coerce")
    except ValueError as exc:
        raise ValueError(f"date_format {date_format!r} is not a strptime format ({exc})") from None
    raw, malformed, parts = _read_all(sources, sheets, encoding)
    book = Ledger(raw, "online_retail")
    parsed, non_product_detail = _apply_rules(raw, book, date_format, non_product)
    if without_customer == "set-aside":
        book.set_aside(
            parsed["sale"] & parsed["customer"].isna(),
            "sale without a customer (without_customer=set-aside)",
        )
    lines, filled, guest_id = _sales_lines(raw, book, parsed)
    returns = _returns(book, parsed, lines)

    tables = _tables(lines, returns, cost_ratio, guest_id)
    kept = {"order_lines (sales)": len(lines), "returns (cancellations)": len(returns)}
    set_aside = {MALFORMED: len(malformed)} if malformed else {}
    set_aside.update(book.counts())
    set_aside_rows = book.set_aside_rows()
    if malformed:
        bad_rows = pd.DataFrame(malformed, columns=["_source", "_row", "invoice"])
        bad_rows.insert(0, "_reason", MALFORMED)
        set_aside_rows = pd.concat([bad_rows, set_aside_rows], ignore_index=True)
    countries = lines[lines["customer"].notna()].groupby("account_id")["country"].nunique()
    flagged = {
        "sales lines without a customer (kept under guest accounts, account_id < 0)": int(
            (lines["account_id"] < 0).sum()
        ),
        "sales lines without a customer on an invoice that names one (given that customer)": (
            filled
        ),
        "customers seen in more than one country (region: their most frequent)": int(
            (countries > 1).sum()
        ),
        "lines with a line break inside a field (kept; each break read as one space)": sum(
            part[3] for part in parts
        ),
    }
    return Staged(
        format=FORMAT,
        sources=[str(Path(s).resolve()) for s in sources],
        tables=tables,
        rows_read=len(raw) + len(malformed),
        kept=kept,
        set_aside=set_aside,
        flagged=flagged,
        assumptions=_assumptions(cost_ratio, len(guest_id)),
        not_written=missing_tables(list(tables), "no such data in an Online Retail export"),
        set_aside_rows={"online_retail": set_aside_rows},
        details={
            "non_product_codes": non_product_detail,
            "sheets_or_files": [label for label, *_ in parts],
            "cost_ratio": cost_ratio,
            "guest_account_ids": {c: i for c, i in guest_id.items()},
        },
    )


def _read_all(sources, sheets, encoding) -> tuple[pd.DataFrame, list, list]:
    """Every source as one text frame in the adapter's column names, with ``_source`` and
    ``_row``; plus the malformed CSV lines and the parts read (label, frame, rows, breaks)."""
    parts, malformed = [], []
    for source in sources:
        got, bad = _read(Path(source), sheets, encoding)
        parts += got
        malformed += bad
    frames = []
    for label, df, numbers, _ in parts:
        frame = _columns(label, df)
        frame.insert(0, "_row", numbers)
        frame.insert(0, "_source", label)
        frames.append(frame)
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if raw.empty and not malformed:
        raise ValueError(f"{', '.join(map(str, sources))}: no data rows")
    return raw, malformed, parts


def _apply_rules(raw: pd.DataFrame, book: Ledger, date_format: str, non_product) -> tuple:
    """Rules 1 to 6 of the module docstring, in order, on ``book``; returns the parsed
    columns (ts, qty, price, customer, code, invoice, invoice_no, cancel, sale) and the
    non-product detail per kind (codes, lines, value)."""
    reasons = book.set_aside
    names = SOURCE_NAMES

    # 1. what does not parse
    reasons(raw["invoice"].isna(), f"{names['invoice']}: missing")
    reasons(raw["stock_code"].isna(), f"{names['stock_code']}: missing")
    ts, bad = parse_timestamp(raw["invoice_date"], date_format)
    reasons(raw["invoice_date"].isna(), f"{names['invoice_date']}: missing")
    reasons(bad, f"{names['invoice_date']}: does not parse as a date")
    qty, bad, too_large = parse_int(raw["quantity"])
    reasons(raw["quantity"].isna(), f"{names['quantity']}: missing")
    reasons(bad, f"{names['quantity']}: not a whole number")
    reasons(too_large, f"{names['quantity']}: {OUT_OF_RANGE}")
    price, bad = parse_float(raw["price"])
    reasons(raw["price"].isna(), f"{names['price']}: missing")
    reasons(bad, f"{names['price']}: not a number")
    customer, bad, too_large = parse_int(raw["customer_id"])
    reasons(bad, f"{names['customer_id']}: not a whole number")
    reasons(too_large, f"{names['customer_id']}: {OUT_OF_RANGE}")

    # 2. exact duplicates (all source columns; the first occurrence is kept)
    reasons(raw[list(COLUMNS)].duplicated(keep="first"), "exact duplicate of an earlier line")

    # 3. non-product codes
    code = raw["stock_code"].fillna("")
    kind_of = {c: non_product_kind(c, non_product) for c in code.unique() if c}
    kinds = code.map(kind_of)
    value = (qty.astype("Float64") * price).astype("Float64")
    non_product_detail = {}
    for kind in sorted(kinds.dropna().unique()):
        mask = (kinds == kind) & book.kept
        codes = sorted(code[mask].str.upper().unique())
        n = reasons(mask, f"non-product code: {kind}")
        if n:
            non_product_detail[kind] = {
                "codes": codes,
                "lines": n,
                "value": round(float(value[mask].fillna(0).sum()), 2),
            }

    # 4. prices
    reasons(price <= 0, f"{names['price']}: zero or negative")

    invoice = raw["invoice"].fillna("")
    cancel = invoice.str.upper().str.startswith("C")

    # 5a. cancellations that cannot be returns
    reasons(cancel & (qty >= 0), "cancellation with zero or positive quantity")
    reasons(cancel & customer.isna(), "cancellation without a customer (cannot be linked)")

    # 6. sales
    sale = ~cancel
    numeric = invoice.str.fullmatch(r"\d+")
    reasons(sale & ~numeric, "invoice number is not a number")
    invoice_no, _, too_large = parse_int(invoice.where(sale & numeric))
    reasons(too_large, f"{names['invoice']}: {OUT_OF_RANGE}")
    reasons(sale & (qty <= 0), "zero or negative quantity on a sale (not a cancellation)")
    parsed = {
        "ts": ts,
        "qty": qty,
        "price": price,
        "customer": customer,
        "code": code,
        "invoice": invoice,
        "invoice_no": invoice_no,
        "cancel": cancel,
        "sale": sale,
    }
    return parsed, non_product_detail


def _sales_lines(raw: pd.DataFrame, book: Ledger, p: dict) -> tuple[pd.DataFrame, int, dict]:
    """The kept sales lines with their ``account_id``: an invoice belongs to its first named
    customer (a line naming another is set aside), an invoice without any customer to its
    country's guest account (-1, -2, ... in country order). Returns (lines, lines given
    their invoice's customer, guest id per country)."""
    s = book.kept & p["sale"]
    lines = pd.DataFrame(
        {
            "order_id": p["invoice_no"][s].astype("int64"),
            "customer": p["customer"][s],
            "country": raw["country"].fillna(UNKNOWN)[s],
            "order_ts": p["ts"][s],
            "sku": p["code"][s],
            "quantity": p["qty"][s].astype("int64"),
            "unit_price": p["price"][s].astype("float64"),
            "description": raw["description"][s],
        }
    )
    first = lines.groupby("order_id")["customer"].transform("first")
    clash = lines["customer"].notna() & first.notna() & (lines["customer"] != first)
    book.set_aside(
        pd.Series(clash, index=lines.index).reindex(raw.index), "invoice names two customers"
    )
    lines = lines[~clash]
    filled = int((lines["customer"].isna() & first[~clash].notna()).sum())
    lines["customer"] = first[~clash]

    guest_lines = lines["customer"].isna()
    guest_countries = sorted(lines.loc[guest_lines, "country"].unique())
    guest_id = {c: -(i + 1) for i, c in enumerate(guest_countries)}
    lines["account_id"] = lines["customer"].astype("Int64")
    lines.loc[guest_lines, "account_id"] = lines.loc[guest_lines, "country"].map(guest_id)
    lines["account_id"] = lines["account_id"].astype("int64")
    return lines, filled, guest_id


def _returns(book: Ledger, p: dict, lines: pd.DataFrame) -> pd.DataFrame:
    """Rule 5b: kept cancellations as returns, each linked to its customer's latest order of
    that stock code at or before it; a cancellation with no such order is set aside."""
    c = book.kept & p["cancel"]
    cancels = pd.DataFrame(
        {
            "row": book.source.index[c],
            "account_id": p["customer"][c].astype("int64"),
            "sku": p["code"][c],
            "returned_at": p["ts"][c],
            "quantity": -p["qty"][c].astype("int64"),
            "refund": (-p["qty"][c] * p["price"][c]).astype("float64"),
            "reason": "cancellation " + p["invoice"][c],
        }
    ).sort_values("returned_at", kind="stable")
    bought = (
        lines[["account_id", "sku", "order_ts", "order_id"]]
        .drop_duplicates(["account_id", "sku", "order_ts", "order_id"])
        .sort_values("order_ts", kind="stable")
    )
    matched = pd.merge_asof(
        cancels,
        bought,
        left_on="returned_at",
        right_on="order_ts",
        by=["account_id", "sku"],
        direction="backward",
    )
    unmatched = matched["order_id"].isna()
    book.set_aside(
        book.source.index.isin(matched.loc[unmatched, "row"]),
        "cancellation with no earlier purchase of that stock code by that customer",
    )
    returns = matched[~unmatched].sort_values("row", kind="stable").reset_index(drop=True)
    returns.insert(0, "return_id", np.arange(1, len(returns) + 1, dtype="int64"))
    returns["order_id"] = returns["order_id"].astype("int64")
    return returns


def _assumptions(cost_ratio: float, guests: int) -> list[str]:
    return [
        f"unit_cost = {cost_ratio:g} x unit_price (cost_ratio): the source has no costs, so "
        "margins of this dataset are assumed, not measured",
        "accounts: one per Customer ID; company_name 'customer <id>'; region = Country; "
        "industry, size_band and acquisition_channel 'unknown'; "
        "signup_date = date of the first order",
        "guest accounts: sales without a Customer ID are kept under one account per country "
        f"(account_id < 0, acquisition_channel 'guest'): {guests} such accounts",
        "orders: one per invoice; order_ts = InvoiceDate; warehouse_id 'unknown'; "
        "promised_delivery = order_ts (unknown)",
        "products: one per stock code; name = its most frequent Description; category and "
        "supplier_id 'unknown'; list_price = median unit price; lead_time_days 0 (unknown)",
        "order_lines.discount = 0 (prices are net)",
        "returns: refund = -Quantity x Price of the cancellation line; linked to the "
        "customer's latest order of that stock code at or before the cancellation",
    ]


def _mode(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Per ``key``, the most frequent non-missing ``column`` value (ties: the first in sort
    order; ``unknown`` when all are missing), indexed by ``key``."""
    counts = frame.groupby([key, column]).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", column], ascending=[True, False, True])
    best = counts.drop_duplicates(key).set_index(key)[column]
    keys = pd.Index(frame[key].unique()).sort_values()
    return best.reindex(keys).fillna(UNKNOWN).astype(str).rename_axis(key)


def _tables(lines: pd.DataFrame, returns: pd.DataFrame, cost_ratio: float, guest_id: dict):
    lines = lines.copy()
    lines["line_no"] = lines.groupby("order_id").cumcount().astype("int64") + 1
    lines["unit_cost"] = lines["unit_price"] * cost_ratio
    lines["discount"] = 0.0
    orders = (
        lines.groupby("order_id", sort=True)
        .agg(account_id=("account_id", "first"), order_ts=("order_ts", "min"))
        .reset_index()
    )
    orders["warehouse_id"] = UNKNOWN
    orders["promised_delivery"] = orders["order_ts"]

    per_account = lines.groupby("account_id")
    accounts = pd.DataFrame(
        {
            "region": _mode(lines, "account_id", "country"),
            "signup_date": per_account["order_ts"].min().dt.normalize(),
        }
    ).reset_index()
    guest = accounts["account_id"] < 0
    names = {i: c for c, i in guest_id.items()}
    accounts["company_name"] = np.where(
        guest,
        accounts["account_id"].map(lambda i: f"guest checkout ({names.get(i, UNKNOWN)})"),
        "customer " + accounts["account_id"].astype(str),
    )
    accounts["industry"] = UNKNOWN
    accounts["size_band"] = UNKNOWN
    accounts["acquisition_channel"] = np.where(guest, GUEST_CHANNEL, UNKNOWN)

    per_sku = lines.groupby("sku")
    products = pd.DataFrame(
        {
            "name": _mode(lines, "sku", "description"),
            "list_price": per_sku["unit_price"].median(),
        }
    ).reset_index()
    products["unit_cost"] = products["list_price"] * cost_ratio
    products["category"] = UNKNOWN
    products["supplier_id"] = UNKNOWN
    products["lead_time_days"] = 0
    tables = {
        "accounts": accounts,
        "orders": orders,
        "order_lines": lines,
        "products": products,
    }
    if len(returns):
        tables["returns"] = returns
    return tables
