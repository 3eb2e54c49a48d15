"""The CRM campaign calendar: email and SMS campaigns spread over the window, each with or
without a control group (the sends themselves are :mod:`helpers.data.synth.campaigns`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from helpers.data.synth.common import Calendar

CRM_CAMPAIGNS = {"email": 16, "sms": 8}
HAS_CONTROL_PROB = {"email": 0.6, "sms": 0.5}

CAMPAIGN_THEMES = (
    "Spring restock",
    "New catalogue",
    "Safety month",
    "Mid-year deals",
    "Summer cooling",
    "Back to business",
    "Q4 packaging",
    "Year-end clearance",
    "Loyalty rewards",
    "Reactivation offer",
)


@dataclass
class CrmCampaigns:
    campaign_id: list[str]
    channel: np.ndarray  # 0 email, 1 sms
    name: list[str]
    send_day: np.ndarray
    has_control: np.ndarray


def make_crm_campaigns(rng: np.random.Generator, cal: Calendar) -> CrmCampaigns:
    """Email and SMS campaigns spread over the window (sent at least 21 days before the end, so
    every conversion window closes inside it); ``has_control`` ~ Bernoulli per channel."""
    ids, chans, names, days, ctrl = [], [], [], [], []
    last = cal.n_days - 21
    for ci, ch in enumerate(("email", "sms")):
        k = CRM_CAMPAIGNS[ch]
        base = np.linspace(30, last, k + 1)[:-1] + rng.uniform(0, (last - 30) / k, k)
        for i, d in enumerate(np.sort(base.astype(np.int64))):
            day = cal.start + timedelta(days=int(d))
            ids.append(f"{'EM' if ch == 'email' else 'SMS'}-{day:%Y%m}-{i + 1:02d}")
            chans.append(ci)
            theme = CAMPAIGN_THEMES[rng.integers(len(CAMPAIGN_THEMES))]
            names.append(f"{theme} {day:%b %Y} ({ch})")
            days.append(int(d))
            ctrl.append(bool(rng.random() < HAS_CONTROL_PROB[ch]))
        if len(set(ctrl[-k:])) == 1:  # keep both kinds on every channel
            ctrl[-1] = not ctrl[-1]
    return CrmCampaigns(ids, np.array(chans), names, np.array(days), np.array(ctrl))
