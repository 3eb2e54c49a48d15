"""The data model: every table, its columns and types, its keys and the rules its rows obey.

This module is the one place the data model is declared. The generator writes it, the adapters
map real exports into it, and :func:`helpers.data.open_dataset` validates against it.

Types are Ibis type names (``string``, ``int64``, ``float64``, ``boolean``, ``date``,
``timestamp``). Money is in the platform's currency, in units (not cents).

Conventions worth knowing before writing a query:

- ``order_lines.discount`` is a fraction of ``unit_price`` (0.1 = 10 % off), so a line's
  revenue is ``quantity * unit_price * (1 - discount)`` and its cost ``quantity * unit_cost``.
- ``returns`` and extra columns of ``service_tickets`` (first response, reopened, category) go
  beyond the table list in DESIGN.md: the service and cost-to-serve report needs them.
- ``campaigns`` names each campaign and says whether it kept a control group.
- Columns flagged ``pii`` hold personal data: they never appear in a rendered report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WEB_EVENTS = ("visit", "product_view", "add_to_cart", "quote_request", "checkout", "purchase")
CHANNELS = ("sem", "feed_ads", "email", "sms", "organic", "referral", "direct", "sales_outreach")
MARKETING_CHANNELS = ("sem", "feed_ads", "email", "sms")
INDUSTRIES = ("manufacturing", "agriculture", "services", "retail", "construction", "healthcare")
REGIONS = ("east", "north", "south", "west", "central")
SIZE_BANDS = ("micro", "small", "medium", "large")
LEAD_OUTCOMES = ("won", "lost", "open")
SEND_GROUPS = ("treatment", "control")  # the generator's arms; real tests may name more
CONTROL_GROUP = "control"


@dataclass(frozen=True)
class Column:
    """One column: its Ibis type and the checks on its values.

    ``min_value`` rows below it are set aside ("negative price"); ``below`` rows at or above it
    are set aside (an exclusive upper bound: a discount of 3.0, a price of 1e300);
    ``allowed`` lists the values a categorical column may take (None: any);
    ``not_after_today`` flags dates in the future.

    Rules every column gets from its type, beside these: a float that is NaN or infinite, and
    a required (not nullable) text that is empty or only spaces, are set aside.
    """

    dtype: str
    nullable: bool = False
    pii: bool = False
    min_value: float | None = None
    below: float | None = None
    allowed: tuple[str, ...] | None = None
    not_after_today: bool = False
    description: str = ""


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of this table must match ``ref_columns`` of ``ref_table`` (nulls allowed)."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class OrderedPair:
    """``later`` must not come before ``earlier`` when both are set (delivered after shipped)."""

    earlier: str
    later: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, Column]
    key: tuple[str, ...]
    grain: str
    foreign_keys: tuple[ForeignKey, ...] = ()
    ordered: tuple[OrderedPair, ...] = ()
    required: bool = True
    time_column: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def pii_columns(self) -> tuple[str, ...]:
        return tuple(c for c, col in self.columns.items() if col.pii)


def _c(dtype: str, **kw) -> Column:
    return Column(dtype, **kw)


# Plausibility bounds. Every bound here SETS ASIDE the rows beyond it; none merely flags. They
# are not judgments about a business: they sit far beyond any real order (the sample's largest
# unit price is under 1,000, its largest count under 10,000) and catch what is corrupt or in the
# wrong unit: 1e300 prices, 2^62 quantities, cents read as units a million times over. Amounts
# from 1e12 up also stop being exact to the cent in float64. A judgment bound (a price above
# some list price) would be flagged with a count instead; the data model has none so far.
MONEY_BELOW = 1e12  # units of the platform's currency
COUNT_BELOW = 1e12  # impressions, stock on hand, days
QUANTITY_BELOW = 1e9  # units on one order line, purchase order, shipment or return
MONEY = {"min_value": 0.0, "below": MONEY_BELOW}
COUNT = {"min_value": 0, "below": COUNT_BELOW}
QUANTITY = {"min_value": 1, "below": QUANTITY_BELOW}
TS = {"not_after_today": True}
TS_NULL = {"not_after_today": True, "nullable": True}

TABLES: dict[str, Table] = {}


def _table(t: Table) -> Table:
    TABLES[t.name] = t
    return t


_table(
    Table(
        "accounts",
        {
            "account_id": _c("int64"),
            "company_name": _c("string", description="legal name; may be Chinese or English"),
            "industry": _c("string"),
            "region": _c("string"),
            "size_band": _c("string", allowed=(*SIZE_BANDS, "unknown")),
            "signup_date": _c("date", **TS),
            "acquisition_channel": _c("string"),
        },
        key=("account_id",),
        grain="one company that buys on the platform",
        time_column="signup_date",
    )
)
_table(
    Table(
        "contacts",
        {
            "contact_id": _c("int64"),
            "account_id": _c("int64"),
            "name": _c("string", pii=True),
            "email": _c("string", pii=True, nullable=True),
            "phone": _c("string", pii=True, nullable=True),
            "consent_email": _c("boolean"),
            "consent_sms": _c("boolean"),
        },
        key=("contact_id",),
        grain="one person at an account (personal data)",
        foreign_keys=(ForeignKey(("account_id",), "accounts", ("account_id",)),),
    )
)
_table(
    Table(
        "web_events",
        {
            "event_id": _c("int64"),
            "visitor_id": _c("int64"),
            "account_id": _c("int64", nullable=True, description="null for anonymous visitors"),
            "session_id": _c("int64"),
            "ts": _c("timestamp", **TS),
            "event": _c("string", allowed=WEB_EVENTS),
            "channel": _c("string"),
        },
        key=("event_id",),
        grain="one tracked web event",
        foreign_keys=(ForeignKey(("account_id",), "accounts", ("account_id",)),),
        time_column="ts",
    )
)
_table(
    Table(
        "leads",
        {
            "lead_id": _c("int64"),
            # Nullable: a real CRM holds many leads not yet matched to an account.
            "account_id": _c("int64", nullable=True),
            "source": _c("string"),
            "created_at": _c("timestamp", **TS),
            "qualified_at": _c("timestamp", **TS_NULL),
            "opportunity_at": _c("timestamp", **TS_NULL),
            "quote_at": _c("timestamp", **TS_NULL),
            "closed_at": _c("timestamp", **TS_NULL),
            "outcome": _c("string", allowed=LEAD_OUTCOMES),
            "amount": _c("float64", nullable=True, **MONEY),
            "owner": _c("string"),
        },
        key=("lead_id",),
        grain="one sales lead in the CRM pipeline",
        foreign_keys=(ForeignKey(("account_id",), "accounts", ("account_id",)),),
        ordered=(OrderedPair("created_at", "closed_at"),),
        time_column="created_at",
    )
)
_table(
    Table(
        "orders",
        {
            "order_id": _c("int64"),
            "account_id": _c("int64"),
            "order_ts": _c("timestamp", **TS),
            "warehouse_id": _c("string"),
            "promised_delivery": _c("timestamp"),
        },
        key=("order_id",),
        grain="one order placed by an account",
        foreign_keys=(ForeignKey(("account_id",), "accounts", ("account_id",)),),
        ordered=(OrderedPair("order_ts", "promised_delivery"),),
        time_column="order_ts",
    )
)
_table(
    Table(
        "order_lines",
        {
            "order_id": _c("int64"),
            "line_no": _c("int64"),
            "sku": _c("string"),
            "quantity": _c("int64", **QUANTITY),
            "unit_price": _c("float64", **MONEY),
            # Nullable: an export without costs (and no --cost-ratio) has no cost of goods;
            # reports then show margin as unknown, never as 100 %.
            "unit_cost": _c("float64", nullable=True, **MONEY),
            "discount": _c(
                "float64",
                min_value=0.0,
                below=1.0,
                description="fraction of unit_price in [0, 1): 0.1 = 10 % off, never 10",
            ),
        },
        key=("order_id", "line_no"),
        grain="one line of an order",
        foreign_keys=(
            ForeignKey(("order_id",), "orders", ("order_id",)),
            ForeignKey(("sku",), "products", ("sku",)),
        ),
    )
)
_table(
    Table(
        "products",
        {
            "sku": _c("string"),
            "name": _c("string"),
            "category": _c("string"),
            "unit_cost": _c("float64", **MONEY),
            "list_price": _c("float64", **MONEY),
            "supplier_id": _c("string"),
            "lead_time_days": _c("int64", **COUNT),
        },
        key=("sku",),
        grain="one SKU in the catalogue",
        foreign_keys=(ForeignKey(("supplier_id",), "suppliers", ("supplier_id",)),),
    )
)
_table(
    Table(
        "suppliers",
        {
            "supplier_id": _c("string"),
            "name": _c("string"),
            "region": _c("string"),
        },
        key=("supplier_id",),
        grain="one supplier",
    )
)
_table(
    Table(
        "purchase_orders",
        {
            "po_id": _c("int64"),
            "supplier_id": _c("string"),
            "sku": _c("string"),
            "warehouse_id": _c("string"),
            "qty_ordered": _c("int64", **QUANTITY),
            "qty_received": _c("int64", min_value=0, below=QUANTITY_BELOW),
            "ordered_at": _c("timestamp", **TS),
            "promised_at": _c("timestamp"),
            "received_at": _c("timestamp", **TS_NULL),
            "unit_cost": _c("float64", **MONEY),
            "defects": _c("int64", **COUNT),
        },
        key=("po_id",),
        grain="one purchase order line to a supplier",
        foreign_keys=(
            ForeignKey(("supplier_id",), "suppliers", ("supplier_id",)),
            ForeignKey(("sku",), "products", ("sku",)),
        ),
        ordered=(OrderedPair("ordered_at", "received_at"),),
        time_column="ordered_at",
    )
)
_table(
    Table(
        "inventory",
        {
            "date": _c("date", **TS),
            "warehouse_id": _c("string"),
            "sku": _c("string"),
            "on_hand": _c("int64", **COUNT),
        },
        key=("date", "warehouse_id", "sku"),
        grain="one SKU in one warehouse at the end of one day",
        foreign_keys=(ForeignKey(("sku",), "products", ("sku",)),),
        time_column="date",
    )
)
_table(
    Table(
        "shipments",
        {
            "shipment_id": _c("int64"),
            "order_id": _c("int64"),
            "carrier": _c("string"),
            "shipped_at": _c("timestamp", **TS),
            "delivered_at": _c("timestamp", **TS_NULL),
            "qty_shipped": _c("int64", min_value=0, below=QUANTITY_BELOW),
            "cost": _c("float64", **MONEY),
        },
        key=("shipment_id",),
        grain="one delivery of an order",
        foreign_keys=(ForeignKey(("order_id",), "orders", ("order_id",)),),
        ordered=(OrderedPair("shipped_at", "delivered_at"),),
        time_column="shipped_at",
    )
)
_table(
    Table(
        "returns",
        {
            "return_id": _c("int64"),
            "order_id": _c("int64"),
            "sku": _c("string"),
            "quantity": _c("int64", **QUANTITY),
            "returned_at": _c("timestamp", **TS),
            "refund": _c("float64", **MONEY),
            "reason": _c("string"),
        },
        key=("return_id",),
        grain="one returned order line",
        foreign_keys=(
            ForeignKey(("order_id",), "orders", ("order_id",)),
            ForeignKey(("sku",), "products", ("sku",)),
        ),
        time_column="returned_at",
        required=False,
    )
)
_table(
    Table(
        "campaigns",
        {
            "campaign_id": _c("string"),
            "channel": _c("string"),
            "name": _c("string"),
            "start_date": _c("date"),
            "end_date": _c("date"),
            "has_control": _c("boolean"),
        },
        key=("campaign_id",),
        grain="one marketing campaign",
        ordered=(OrderedPair("start_date", "end_date"),),
        required=False,
    )
)
_table(
    Table(
        "marketing_spend",
        {
            "date": _c("date", **TS),
            "channel": _c("string"),
            "campaign_id": _c("string"),
            "spend": _c("float64", **MONEY),
            "impressions": _c("int64", **COUNT),
            "clicks": _c("int64", **COUNT),
        },
        key=("date", "channel", "campaign_id"),
        grain="one campaign on one channel on one day",
        time_column="date",
    )
)
_table(
    Table(
        "campaign_sends",
        {
            "send_id": _c("int64"),
            "campaign_id": _c("string"),
            "account_id": _c("int64"),
            # "control", or the arm's name for A/B/n tests (one lone arm may stay "treatment").
            "group": _c("string", description="'control' or the name of the arm the send is in"),
            "sent_at": _c("timestamp", **TS),
            "opened_at": _c("timestamp", **TS_NULL),
            "clicked_at": _c("timestamp", **TS_NULL),
            "converted_at": _c("timestamp", **TS_NULL),
            "revenue": _c("float64", **MONEY),
        },
        key=("send_id",),
        grain="one targeted message to an account (or its control-group twin)",
        foreign_keys=(ForeignKey(("account_id",), "accounts", ("account_id",)),),
        time_column="sent_at",
    )
)
_table(
    Table(
        "service_tickets",
        {
            "ticket_id": _c("int64"),
            "account_id": _c("int64"),
            "opened_at": _c("timestamp", **TS),
            "first_response_at": _c("timestamp", **TS_NULL),
            "resolved_at": _c("timestamp", **TS_NULL),
            "channel": _c("string"),
            "category": _c("string"),
            "reopened": _c("boolean"),
            "cost": _c("float64", **MONEY),
        },
        key=("ticket_id",),
        grain="one support case",
        foreign_keys=(ForeignKey(("account_id",), "accounts", ("account_id",)),),
        ordered=(OrderedPair("opened_at", "resolved_at"),),
        time_column="opened_at",
    )
)

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
PII_COLUMNS: dict[str, tuple[str, ...]] = {
    name: t.pii_columns for name, t in TABLES.items() if t.pii_columns
}


def markdown() -> str:
    """The data model as Markdown tables (data/README.md embeds it; a test keeps it in step)."""
    out = []
    for t in TABLES.values():
        need = "required" if t.required else "optional"
        out.append(f"### `{t.name}` ({need})\n\nOne row = {t.grain}. Key: `{', '.join(t.key)}`.")
        if t.foreign_keys:
            refs = "; ".join(
                f"`{', '.join(fk.columns)}` → `{fk.ref_table}.{', '.join(fk.ref_columns)}`"
                for fk in t.foreign_keys
            )
            out[-1] += f" References: {refs}."
        rows = ["| column | type | rules |", "|---|---|---|"]
        for name, c in t.columns.items():
            rules = []
            rules.append("nullable" if c.nullable else "required")
            if c.min_value is not None:
                rules.append(f">= {c.min_value:g}")
            if c.below is not None:
                rules.append(f"< {c.below:g}")
            if c.dtype == "float64":
                rules.append("not NaN or infinite")
            if c.dtype == "string" and not c.nullable:
                rules.append("not blank")
            if c.allowed:
                rules.append("one of " + ", ".join(c.allowed))
            if c.not_after_today:
                rules.append("not in the future")
            if c.pii:
                rules.append("**personal data**")
            if c.description:
                rules.append(c.description)
            rows.append(f"| `{name}` | {c.dtype} | {'; '.join(rules)} |")
        for pair in t.ordered:
            rows.append(f"| | | `{pair.later}` not before `{pair.earlier}` |")
        out.append("\n".join(rows))
    return "\n\n".join(out) + "\n"


def arrow_type(dtype: str):
    """The Arrow type a column of Ibis type ``dtype`` is written with (Parquet files of the
    generator and the adapters): timestamps in microseconds without a time zone."""
    import pyarrow as pa  # lazily: the schema itself stays free of heavy imports

    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
    }[dtype]
