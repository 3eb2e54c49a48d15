"""Benchmark steps: the supply-chain report's heavy aggregations (inventory metrics, SKU
classes, OTIF, weekly demand), each on the validated dataset opened before the clock starts."""

_SETUP = (
    "from helpers.data import open_dataset\nfrom helpers import supply_chain as sc\n"
    "ds = open_dataset(data)\nlo, hi = sc.period_bounds(ds)\nTIMER()\n"
)

STEPS = [
    ("supply_chain: inventory turnover", _SETUP + "sc.inventory_turnover(ds, lo, hi)"),
    ("supply_chain: stock health", _SETUP + "sc.stock_health(ds, lo, hi)"),
    ("supply_chain: SKU ABC/XYZ classes", _SETUP + "sc.sku_classes(ds, lo, hi)"),
    ("supply_chain: supplier scorecard", _SETUP + "sc.supplier_scorecard(ds, lo, hi)"),
    ("supply_chain: OTIF by carrier", _SETUP + "sc.otif(ds, 'carrier', lo, hi)"),
    ("supply_chain: weekly category demand", _SETUP + "sc.weekly_category_demand(ds, lo, hi)"),
]
