"""A tiny, hand-made, fully valid dataset (two rows a table) for data-layer tests.

Tests copy it, break one thing, write it out and check that the data layer notices.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.data.schema import TABLES

TS = pd.Timestamp("2025-03-01 10:00")


def tiny_tables() -> dict[str, pd.DataFrame]:
    ts = pd.to_datetime([TS, TS + pd.Timedelta(days=1)])
    later = ts + pd.Timedelta(days=3)
    d = ts.normalize().date
    ids = [1, 2]
    frames = {
        "accounts": {
            "account_id": ids,
            "company_name": ["华东精密机械有限公司", "Acme Tools Ltd"],
            "industry": ["manufacturing", "retail"],
            "region": ["east", "west"],
            "size_band": ["large", "small"],
            "signup_date": d,
            "acquisition_channel": ["sem", "email"],
        },
        "contacts": {
            "contact_id": ids,
            "account_id": ids,
            "name": ["张伟", "Jane Roe"],
            "email": ["zw@example.cn", "jane@example.com"],
            "phone": ["+86 138 0000 0000", None],
            "consent_email": [True, False],
            "consent_sms": [False, True],
        },
        "web_events": {
            "event_id": ids,
            "visitor_id": [10, 11],
            "account_id": [1, None],
            "session_id": [100, 101],
            "ts": ts,
            "event": ["visit", "product_view"],
            "channel": ["sem", "organic"],
        },
        "leads": {
            "lead_id": ids,
            "account_id": ids,
            "source": ["sem", "referral"],
            "created_at": ts,
            "qualified_at": later,
            "opportunity_at": [later[0], pd.NaT],
            "quote_at": [later[0], pd.NaT],
            "closed_at": [later[0], pd.NaT],
            "outcome": ["won", "open"],
            "amount": [5000.0, None],
            "owner": ["rep-1", "rep-2"],
        },
        "orders": {
            "order_id": ids,
            "account_id": ids,
            "order_ts": ts,
            "warehouse_id": ["WH-EAST", "WH-NORTH"],
            "promised_delivery": later,
        },
        "order_lines": {
            "order_id": ids,
            "line_no": [1, 1],
            "sku": ["SKU-1", "SKU-2"],
            "quantity": [3, 5],
            "unit_price": [100.0, 20.0],
            "unit_cost": [60.0, 12.0],
            "discount": [0.1, 0.0],
        },
        "products": {
            "sku": ["SKU-1", "SKU-2"],
            "name": ["Bearing 6204", "螺丝 M6"],
            "category": ["parts", "fasteners"],
            "unit_cost": [60.0, 12.0],
            "list_price": [100.0, 20.0],
            "supplier_id": ["SUP-1", "SUP-2"],
            "lead_time_days": [7, 14],
        },
        "suppliers": {
            "supplier_id": ["SUP-1", "SUP-2"],
            "name": ["Supplier One", "供应商二"],
            "region": ["east", "south"],
        },
        "purchase_orders": {
            "po_id": ids,
            "supplier_id": ["SUP-1", "SUP-2"],
            "sku": ["SKU-1", "SKU-2"],
            "warehouse_id": ["WH-EAST", "WH-NORTH"],
            "qty_ordered": [100, 200],
            "qty_received": [100, 180],
            "ordered_at": ts,
            "promised_at": later,
            "received_at": later,
            "unit_cost": [60.0, 12.5],
            "defects": [0, 2],
        },
        "inventory": {
            "date": d,
            "warehouse_id": ["WH-EAST", "WH-NORTH"],
            "sku": ["SKU-1", "SKU-2"],
            "on_hand": [40, 0],
        },
        "shipments": {
            "shipment_id": ids,
            "order_id": ids,
            "carrier": ["SF", "JD"],
            "shipped_at": ts + pd.Timedelta(hours=5),
            "delivered_at": later,
            "qty_shipped": [3, 5],
            "cost": [12.0, 8.0],
        },
        "returns": {
            "return_id": [1],
            "order_id": [1],
            "sku": ["SKU-1"],
            "quantity": [1],
            "returned_at": [later[0] + pd.Timedelta(days=2)],
            "refund": [90.0],
            "reason": ["damaged"],
        },
        "campaigns": {
            "campaign_id": ["C1", "C2"],
            "channel": ["email", "sem"],
            "name": ["Spring email", "Brand search"],
            "start_date": d,
            "end_date": later.date,
            "has_control": [True, False],
        },
        "marketing_spend": {
            "date": d,
            "channel": ["email", "sem"],
            "campaign_id": ["C1", "C2"],
            "spend": [50.0, 300.0],
            "impressions": [1000, 20000],
            "clicks": [40, 400],
        },
        "campaign_sends": {
            "send_id": ids,
            "campaign_id": ["C1", "C1"],
            "account_id": ids,
            "group": ["treatment", "control"],
            "sent_at": ts,
            "opened_at": [later[0], pd.NaT],
            "clicked_at": [later[0], pd.NaT],
            "converted_at": [pd.NaT, pd.NaT],
            "revenue": [0.0, 0.0],
        },
        "service_tickets": {
            "ticket_id": ids,
            "account_id": ids,
            "opened_at": ts,
            "first_response_at": ts + pd.Timedelta(hours=2),
            "resolved_at": [later[0], pd.NaT],
            "channel": ["phone", "email"],
            "category": ["delivery", "billing"],
            "reopened": [False, True],
            "cost": [25.0, 8.0],
        },
    }
    assert set(frames) == set(TABLES), set(TABLES) ^ set(frames)
    out = {}
    for name, cols in frames.items():
        df = pd.DataFrame(cols)
        spec = TABLES[name]
        for c, column in spec.columns.items():
            if column.dtype == "int64":
                df[c] = df[c].astype("Int64" if column.nullable else "int64")
            elif column.dtype == "timestamp":
                df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
            elif column.dtype == "date":
                df[c] = pd.to_datetime(df[c]).dt.date
            elif column.dtype == "float64":
                df[c] = df[c].astype("float64")
        out[name] = df[list(spec.columns)]
    return out


def write_tables(tables: dict[str, pd.DataFrame], root: Path, fmt: str = "parquet") -> Path:
    """Write each table as ``root/<table>/part-00000.<fmt>`` (the generator's layout)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        folder = root / name
        folder.mkdir(exist_ok=True)
        if fmt == "parquet":
            df.to_parquet(folder / "part-00000.parquet", index=False)
        else:
            df.to_csv(folder / "part-00000.csv", index=False)
    return root
