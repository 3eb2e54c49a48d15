"""Catalogue: suppliers (each specialised in one category, with planted reliability) and
products (list price, unit cost, supplier, popularity), the products and suppliers tables, and
the catalogue's part of the truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy import stats

from helpers.data import schema
from helpers.data.synth.accounts import CLUSTERS
from helpers.data.synth.common import _choice, _labels, _lognormal_median, _money, _rank_within
from helpers.data.synth.names import CN_BRANDS, CN_CITIES, EN_PREFIXES, EN_SUFFIXES
from helpers.data.synth.writer import Writer

CATEGORIES = (
    "fasteners",
    "tools",
    "safety",
    "electrical",
    "packaging",
    "hvac",
    "agri_supplies",
    "office",
    "lab_medical",
)
# median list price, log-sd of list price, base share of demand, return probability per line
CATEGORY_SPEC = {
    "fasteners": (14.0, 0.8, 0.16, 0.015),
    "tools": (95.0, 0.9, 0.13, 0.030),
    "safety": (35.0, 0.7, 0.13, 0.025),
    "electrical": (60.0, 1.0, 0.13, 0.035),
    "packaging": (25.0, 0.7, 0.12, 0.010),
    "hvac": (260.0, 0.8, 0.07, 0.040),
    "agri_supplies": (70.0, 0.9, 0.08, 0.020),
    "office": (20.0, 0.8, 0.10, 0.020),
    "lab_medical": (120.0, 1.0, 0.05, 0.030),
}
# industry -> category demand multipliers (unlisted: 1)
INDUSTRY_AFFINITY = {
    "manufacturing": {"fasteners": 2.0, "tools": 1.8, "electrical": 1.6, "packaging": 1.4},
    "agriculture": {"agri_supplies": 6.0, "tools": 1.3, "hvac": 0.5, "lab_medical": 0.3},
    "services": {"office": 3.0, "safety": 1.2, "fasteners": 0.4, "agri_supplies": 0.2},
    "retail": {"packaging": 3.0, "office": 1.6, "agri_supplies": 0.3, "lab_medical": 0.3},
    "construction": {"fasteners": 2.2, "tools": 2.0, "safety": 2.0, "hvac": 1.5, "office": 0.4},
    "healthcare": {"lab_medical": 6.0, "safety": 1.6, "office": 1.2, "agri_supplies": 0.1},
}
# Demand seasonality per category (months Jan..Dec)
CATEGORY_MONTHLY = {
    "fasteners": (0.8, 0.7, 1.2, 1.3, 1.2, 1.0, 0.9, 0.9, 1.1, 1.1, 1.0, 0.8),
    "tools": (0.8, 0.7, 1.2, 1.2, 1.1, 1.0, 0.9, 0.9, 1.1, 1.1, 1.1, 0.9),
    "safety": (1.0, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1),
    "electrical": (0.9, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1, 1.1, 1.0),
    "packaging": (0.9, 0.6, 0.8, 0.8, 0.9, 0.9, 0.9, 1.0, 1.3, 1.5, 1.7, 1.0),
    "hvac": (0.6, 0.5, 0.7, 0.9, 1.4, 1.9, 2.0, 1.6, 0.9, 0.7, 0.8, 0.9),
    "agri_supplies": (0.6, 1.0, 2.0, 2.2, 1.6, 1.0, 0.8, 0.7, 0.9, 1.1, 0.7, 0.4),
    "office": (1.4, 0.6, 1.0, 0.9, 0.9, 0.9, 0.8, 1.2, 1.4, 1.0, 0.9, 1.0),
    "lab_medical": (1.3, 1.0, 1.0, 0.9, 0.8, 0.8, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3),
}
PRODUCT_NOUNS = {
    "fasteners": ("Hex bolt", "Machine screw", "Wood screw", "Flat washer", "Lock nut", "Anchor"),
    "tools": ("Cordless drill", "Angle grinder", "Torque wrench", "Socket set", "Laser level"),
    "safety": ("Safety gloves", "Hard hat", "Safety goggles", "Hi-vis vest", "Ear defenders"),
    "electrical": ("Cable 3x2.5mm", "Circuit breaker", "LED panel", "Junction box", "Contactor"),
    "packaging": ("Carton box", "Stretch film", "Packing tape", "Bubble wrap", "Pallet"),
    "hvac": ("Split AC unit", "Exhaust fan", "Air filter", "Dehumidifier", "Duct fan"),
    "agri_supplies": ("Drip irrigation kit", "Seed tray", "Fertiliser NPK", "Sprayer", "Shade net"),
    "office": ("A4 paper", "Toner cartridge", "Office chair", "File folder", "Label printer"),
    "lab_medical": ("Nitrile gloves", "Face masks", "Thermometer", "First aid kit", "Sample tubes"),
}
# Planted product affinities, which the recommendations report recovers (truth["catalogue"]
# ["affinities"]). Pairs bought together: in every category PAIRS_PER_CATEGORY anchors, drawn
# from its ANCHOR_TOP most popular SKUs, each with a companion from its less popular half; an
# order line of an anchor brings its companion into the same order with probability PAIR_PROB.
# Cluster favourites: each planted account cluster (accounts.CLUSTERS: firmographic groups that
# keep their taste, unlike the lifecycle archetypes an account moves through) has
# FAVOURITES_PREFERRED SKUs in its preferred category and FAVOURITES_OTHER in other categories,
# from the less popular halves; a line an account of the cluster draws in one of those
# categories is one of the cluster's favourites there with probability FAVOURITE_PROB.
PAIRS_PER_CATEGORY, ANCHOR_TOP, PAIR_PROB = 2, 3, 0.5
FAVOURITES_PREFERRED, FAVOURITES_OTHER, FAVOURITE_PROB = 2, 2, 0.5
SUPPLIER_WORDS_CN = tuple(
    "五金制造 工具 劳保用品 电气 包装材料 暖通设备 农资 办公用品 医疗用品".split()
)
SUPPLIER_WORDS_EN = (
    "Fastener Works",
    "Tool Manufacturing",
    "Safety Products",
    "Electric",
    "Packaging",
    "Climate Systems",
    "Agri Inputs",
    "Office Supply",
    "Medical Supplies",
)


@dataclass
class Catalogue:
    """Suppliers and products, with the planted supplier reliability."""

    supplier_id: list[str]
    supplier_name: list[str]
    supplier_region: np.ndarray
    supplier_category: np.ndarray
    on_time_prob: np.ndarray
    in_full_prob: np.ndarray
    lead_mean: np.ndarray
    lead_sd: np.ndarray
    quoted_lead: np.ndarray
    defect_rate: np.ndarray
    price_sd: np.ndarray
    sku: list[str]
    product_name: list[str]
    category: np.ndarray
    list_price: np.ndarray
    unit_cost: np.ndarray
    supplier: np.ndarray
    popularity: np.ndarray  # within-category choice weights
    companion: np.ndarray  # per SKU: the SKU its orders bring along (planted pair), or -1
    favourites: np.ndarray  # (clusters, categories, FAVOURITES) SKU indices, padded with -1

    @property
    def n_sku(self) -> int:
        return len(self.sku)


def make_catalogue(rng: np.random.Generator, n_suppliers: int, n_products: int) -> Catalogue:
    """Suppliers (each specialised in one category) and SKUs.

    Supplier reliability: lead time ``max(1, round(Normal(mean, sd)))`` days with mean
    ~ U(5, 25) and sd = mean * U(0.1, 0.35); the quoted lead time is ``round(mean + z sd)``
    with z ~ U(-0.4, 1.6), so ``on_time_prob = Phi((quoted + 0.5 - mean) / sd)``;
    ``in_full_prob ~ Beta(18, 2)``; ``defect_rate ~ Beta(1.2, 80)`` (two planted bad suppliers
    get 5-8 %); price_sd ~ U(0.01, 0.08). List prices are LogNormal per category; unit cost is
    list price x U(0.55, 0.80); within a category SKU popularity is Zipf-like (1/rank^0.9).
    Last, the planted product affinities (:func:`_plant_affinities`).
    """
    n_cat = len(CATEGORIES)
    sup_cat = np.arange(n_suppliers) % n_cat
    sup_cat[n_cat:] = rng.integers(0, n_cat, size=max(0, n_suppliers - n_cat))
    lead_mean = rng.uniform(5, 25, n_suppliers)
    lead_sd = lead_mean * rng.uniform(0.10, 0.35, n_suppliers)
    quoted = np.maximum(1, np.round(lead_mean + rng.uniform(-0.4, 1.6, n_suppliers) * lead_sd))
    on_time = stats.norm.cdf((quoted + 0.5 - lead_mean) / lead_sd)
    defect = rng.beta(1.2, 80, n_suppliers)
    bad = rng.choice(n_suppliers, size=2, replace=False)
    defect[bad] = rng.uniform(0.05, 0.08, 2)
    in_full = rng.beta(18, 2, n_suppliers)
    price_sd = rng.uniform(0.01, 0.08, n_suppliers)
    sup_region = rng.integers(0, len(schema.REGIONS), n_suppliers)
    chinese = rng.random(n_suppliers) < 0.6
    sup_names = _supplier_names(rng, sup_region, sup_cat, chinese)
    products = _make_products(rng, n_products, sup_cat)
    return Catalogue(
        supplier_id=[f"SUP-{i + 1:03d}" for i in range(n_suppliers)],
        supplier_name=sup_names,
        supplier_region=sup_region,
        supplier_category=sup_cat,
        on_time_prob=on_time,
        in_full_prob=in_full,
        lead_mean=lead_mean,
        lead_sd=lead_sd,
        quoted_lead=quoted.astype(np.int64),
        defect_rate=defect,
        price_sd=price_sd,
        sku=[f"SKU-{i + 1:05d}" for i in range(n_products)],
        **products,
        **_plant_affinities(rng, products["category"], products["popularity"]),
    )


def _supplier_names(
    rng: np.random.Generator, region: np.ndarray, category: np.ndarray, chinese: np.ndarray
) -> list[str]:
    """City of the region + brand + the category's trade + 有限公司, or English prefix + trade +
    suffix ("Apex Fastener Works Ltd.")."""
    names = []
    for i in range(len(region)):
        if chinese[i]:
            cities = CN_CITIES[schema.REGIONS[region[i]]]
            names.append(
                cities[rng.integers(len(cities))]
                + CN_BRANDS[rng.integers(len(CN_BRANDS))]
                + SUPPLIER_WORDS_CN[category[i]]
                + "有限公司"
            )
        else:
            names.append(
                f"{EN_PREFIXES[rng.integers(len(EN_PREFIXES))]} {SUPPLIER_WORDS_EN[category[i]]} "
                f"{EN_SUFFIXES[rng.integers(len(EN_SUFFIXES))]}"
            )
    return names


def _make_products(rng: np.random.Generator, n_products: int, sup_cat: np.ndarray) -> dict:
    """The product columns of :class:`Catalogue` (name, category, prices, supplier,
    popularity)."""
    n_cat = len(CATEGORIES)
    shares = np.array([CATEGORY_SPEC[c][2] for c in CATEGORIES])
    cat = np.sort(
        np.concatenate([np.arange(n_cat), _choice(rng, n_products - n_cat, shares)])
    )  # every category has at least one SKU
    median = np.array([CATEGORY_SPEC[c][0] for c in CATEGORIES])[cat]
    sigma = np.array([CATEGORY_SPEC[c][1] for c in CATEGORIES])[cat]
    list_price = _money(np.maximum(0.5, _lognormal_median(rng, median, sigma)))
    unit_cost = _money(list_price * rng.uniform(0.55, 0.80, n_products))
    supplier = np.empty(n_products, dtype=np.int64)
    for k in range(n_cat):
        mine = np.flatnonzero(sup_cat == k)
        rows = np.flatnonzero(cat == k)
        supplier[rows] = mine[rng.integers(0, len(mine), len(rows))]
    shuffled = np.lexsort((rng.random(n_products), cat))  # popularity rank, shuffled per category
    rank = np.empty(n_products, dtype=np.int64)
    rank[shuffled] = _rank_within(cat[shuffled]) + 1
    popularity = 1.0 / rank**0.9
    names = []
    for i in range(n_products):
        nouns = PRODUCT_NOUNS[CATEGORIES[cat[i]]]
        noun = nouns[rng.integers(len(nouns))]
        names.append(f"{noun} {CATEGORIES[cat[i]][:2].upper()}-{100 + rng.integers(900)}")
    return {
        "product_name": names,
        "category": cat,
        "list_price": list_price,
        "unit_cost": unit_cost,
        "supplier": supplier,
        "popularity": popularity,
    }


def _plant_affinities(rng: np.random.Generator, cat: np.ndarray, popularity: np.ndarray) -> dict:
    """Pairs bought together and cluster favourites (see PAIRS_PER_CATEGORY, FAVOURITE_PROB).

    Companions and favourites are drawn without replacement from each category's less popular
    half (popularity below the category's median), so that popularity alone does not find them;
    when a small category's half runs out, from the whole half again."""
    n_cat, n_fav = len(CATEGORIES), FAVOURITES_PREFERRED + FAVOURITES_OTHER
    companion = np.full(len(cat), -1, dtype=np.int64)
    pools, halves, anchors = [], [], set()
    for k in range(n_cat):
        rows = np.flatnonzero(cat == k)
        by_pop = rows[np.argsort(-popularity[rows], kind="stable")]
        half = by_pop[len(by_pop) // 2 :] if len(by_pop) > 1 else by_pop
        halves.append(half)
        pools.append(list(rng.permutation(half)))
        top = by_pop[: min(ANCHOR_TOP, len(by_pop))]
        mine = rng.choice(top, size=min(PAIRS_PER_CATEGORY, len(top)), replace=False)
        anchors.update(int(a) for a in mine)
        for anchor in mine:
            mate = _take(rng, pools[k], halves[k], exclude=anchors)
            if mate >= 0:
                companion[anchor] = mate
    favourites = np.full((len(CLUSTERS), n_cat, n_fav), -1, dtype=np.int64)
    for j, (_, _, _, preferred) in enumerate(CLUSTERS.values()):
        pk = CATEGORIES.index(preferred)
        others = rng.choice([k for k in range(n_cat) if k != pk], FAVOURITES_OTHER, replace=False)
        for slot, k in enumerate([pk] * FAVOURITES_PREFERRED + list(others)):
            favourites[j, k, slot] = _take(rng, pools[k], halves[k], exclude=anchors)
    favourites = -np.sort(-favourites, axis=2)  # each (cluster, category)'s SKUs first, then -1
    return {"companion": companion, "favourites": favourites}


def _take(rng: np.random.Generator, pool: list, half: np.ndarray, exclude: set) -> int:
    """The next SKU of a shuffled pool (refilled from ``half`` when empty), none of
    ``exclude`` (the anchors); -1 when the category has no other SKU."""
    choices = [int(s) for s in half if s not in exclude]
    if not choices:
        return -1
    if not [s for s in pool if s not in exclude]:
        pool.extend(rng.permutation(choices))
    i = next(i for i, s in enumerate(pool) if s not in exclude)
    return int(pool.pop(i))


def sku_sampler(cat: Catalogue) -> np.ndarray:
    """Keys for inverse-CDF SKU draws: category index + cumulative share within the category."""
    keys = np.empty(cat.n_sku)
    for k in range(len(CATEGORIES)):
        rows = np.flatnonzero(cat.category == k)
        c = np.cumsum(cat.popularity[rows])
        c /= c[-1]
        c[-1] = 1.0
        keys[rows] = k + c
    return keys


def write_products_and_suppliers(w: Writer, cat: Catalogue) -> None:
    w.write(
        "products",
        {
            "sku": pa.array(cat.sku, type=pa.string()),
            "name": pa.array(cat.product_name, type=pa.string()),
            "category": _labels(CATEGORIES, cat.category),
            "unit_cost": cat.unit_cost,
            "list_price": cat.list_price,
            "supplier_id": _labels(cat.supplier_id, cat.supplier),
            "lead_time_days": cat.quoted_lead[cat.supplier],
        },
    )
    w.write(
        "suppliers",
        {
            "supplier_id": pa.array(cat.supplier_id, type=pa.string()),
            "name": pa.array(cat.supplier_name, type=pa.string()),
            "region": _labels(schema.REGIONS, cat.supplier_region),
        },
    )


def catalogue_truth(cat: Catalogue | None = None) -> dict:
    """The categories, their return probability per line, the industry affinities and, given
    the catalogue, the planted product affinities (pairs bought together, cluster favourites)."""
    truth = {
        "categories": CATEGORIES,
        "return_prob_per_line": {c: CATEGORY_SPEC[c][3] for c in CATEGORIES},
        "industry_affinity": INDUSTRY_AFFINITY,
    }
    if cat is not None:
        truth["affinities"] = affinities_truth(cat)
    return truth


def affinities_truth(cat: Catalogue) -> dict:
    """The planted pairs (anchor -> companion SKU) and each cluster's favourite SKUs."""
    anchors = np.flatnonzero(cat.companion >= 0)
    return {
        "pairs": [
            {
                "anchor": cat.sku[a],
                "companion": cat.sku[cat.companion[a]],
                "category": CATEGORIES[cat.category[a]],
            }
            for a in anchors
        ],
        "pair_prob": PAIR_PROB,
        "cluster_favourites": {
            name: [cat.sku[s] for s in np.sort(cat.favourites[j].ravel()) if s >= 0]
            for j, name in enumerate(CLUSTERS)
        },
        "favourite_prob": FAVOURITE_PROB,
        "rule": (
            "an order line of an anchor brings its companion into the same order with "
            "probability pair_prob; a line an account of a cluster draws in a category where "
            "the cluster has favourites is one of them (uniformly) with probability "
            "favourite_prob; companions and favourites come from their category's less "
            "popular half; clusters are truth['accounts']['cluster']"
        ),
    }
