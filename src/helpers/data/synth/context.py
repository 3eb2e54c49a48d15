"""The run's shared state: what every process stage reads (calendar, catalogue, accounts, the
order book, the CRM calendar, samplers, id counters) and the accumulators stage one fills for
the later stages (daily demand, CRM sends / opens / clicks, order-value errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.data.synth.accounts import Accounts
from helpers.data.synth.catalogue import Catalogue
from helpers.data.synth.common import Calendar, _Ids
from helpers.data.synth.crm import CrmCampaigns
from helpers.data.synth.purchases import OrderBook


@dataclass
class Context:
    """What every stage needs to read."""

    cal: Calendar
    seed: int
    scale: float
    cat: Catalogue
    accounts: Accounts
    book: OrderBook
    crm: CrmCampaigns
    sku_keys: np.ndarray
    cat_cum: np.ndarray
    ids: _Ids
    work: Path
    demand: np.ndarray  # (days, warehouses, skus) units to ship per day
    crm_sends: np.ndarray  # (campaigns, days)
    crm_opens: np.ndarray
    crm_clicks: np.ndarray
    value_errors: list = field(default_factory=list)
