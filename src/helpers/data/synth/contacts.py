"""Contacts: 1-5 people per account (more for bigger accounts) with name, email, phone and
channel consent; the contacts table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from helpers.data.synth.common import _rank_within
from helpers.data.synth.context import Context
from helpers.data.synth.names import person_records
from helpers.data.synth.writer import Writer


def make_contacts(rng: np.random.Generator, ctx: Context, lo: int, hi: int) -> dict:
    """1-5 contacts per account (more for bigger accounts); contact_id = account_id * 10 + k.
    Consent: email 80 %, SMS 50 %; 8 % of emails and 15 % of phones missing."""
    acc = ctx.accounts
    idx = np.arange(lo, hi)
    owner = np.repeat(idx, acc.n_contacts[idx])
    k = _rank_within(owner)
    cid = acc.account_id[owner] * 10 + k
    names, emails, phones = person_records(rng, cid, acc.chinese[owner])
    n = len(cid)
    return {
        "owner": owner,
        "contact_id": cid,
        "name": names,
        "email": emails,
        "phone": phones,
        "email_missing": rng.random(n) < 0.08,
        "phone_missing": rng.random(n) < 0.15,
        "consent_email": rng.random(n) < 0.80,
        "consent_sms": rng.random(n) < 0.50,
    }


def write_contacts(w: Writer, c: dict, ctx: Context) -> None:
    w.write(
        "contacts",
        {
            "contact_id": c["contact_id"],
            "account_id": ctx.accounts.account_id[c["owner"]],
            "name": pa.array(c["name"], type=pa.string()),
            "email": pa.array(c["email"], type=pa.string(), mask=c["email_missing"]),
            "phone": pa.array(c["phone"], type=pa.string(), mask=c["phone_missing"]),
            "consent_email": c["consent_email"] & ~c["email_missing"],
            "consent_sms": c["consent_sms"] & ~c["phone_missing"],
        },
    )
