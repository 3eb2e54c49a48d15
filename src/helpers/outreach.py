"""Acting on a campaign: audiences, message templates, the SMTP sender and its send log.

``python -m helpers.outreach send --campaign ID --segment NAME [--send]``

The sender is a layer below the topic modules: it reads the data (the segments come from
:func:`helpers.data.rfm.rfm`, the same RFM the segmentation and campaigns reports show) and
imports no topic, so a topic may use it and never the reverse (tests/test_imports.py).

1. :func:`build_audience`: the contacts of the segment's accounts who consented to the
   channel, with an address for it, deduplicated on the normalised address.
2. :func:`render_messages`: one personalised message per contact from a Jinja2 template
   (``helpers/templates/campaign_<channel>.txt.j2``, or ``--template FILE``).
3. :func:`prepare_emails` (email): every message is built as the ``email.message`` object the
   real send delivers and checked as it would be (addresses, headers, line length, size); a
   header value holding a line break (a company name with "\n") is cleaned to one line, and a
   message that still cannot be sent is set aside with its contact id and reason. The dry run
   and the real send run this same check, so a dry run that passes is a send that passes.
4. Dry run (default): the messages go to ``reports/exports/`` as a CSV; nothing is sent.
   ``--send`` (email): :func:`send_messages` over SMTP with STARTTLS (never in clear),
   credentials only from the environment (:class:`SmtpSettings`), a rate limit, and a send log
   (JSON lines, one line per delivered message, written and flushed after each delivery) so a
   second run never mails anyone twice. SMS is only ever written as a gateway export file.

The log keys on a SHA-256 of campaign + normalised address: it holds no address itself.
Nothing here prints a name, an address or a credential: only counts and file paths.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import smtplib
import ssl
import sys
import time
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderDefect, HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import pandas as pd

from helpers import validate
from helpers.config import EXPORTS_DIR
from helpers.data.dataset import open_dataset
from helpers.data.rfm import rfm
from helpers.mail import SendError, SmtpSettings  # the SMTP core, shared with the digest
from helpers.mail import start_session as _start_session

__all__ = [
    "CHANNELS",
    "SendError",
    "SmtpSettings",
    "build_audience",
    "build_email",
    "check_address",
    "cli",
    "load_recommended",
    "log_key",
    "message_problem",
    "normalise_address",
    "one_line",
    "prepare_emails",
    "read_send_log",
    "render_messages",
    "run",
    "send_messages",
    "serialise",
    "write_export",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
CHANNELS = ("email", "sms")
#: RFC 5322 2.1.1: a line of a message is at most 998 characters (CRLF excluded).
MAX_LINE = 998
#: Largest message the sender hands to the server (bytes); relays commonly cap at 10 MB.
MAX_MESSAGE_BYTES = 10_000_000
#: The sender address the dry run checks with when HELPERS_SMTP_FROM is not set.
DRY_RUN_SENDER = "campaigns@example.com"


def normalise_address(value: str, channel: str) -> str:
    """Email: trimmed, lower-cased. Phone: digits only, with a leading + kept."""
    value = str(value).strip()
    if channel == "email":
        return value.lower()
    plus = "+" if value.startswith("+") else ""
    return plus + "".join(ch for ch in value if ch.isdigit())


def _slug(name: str) -> str:
    """'At risk', 'at_risk', 'AT-RISK' -> 'at_risk' (how a segment is named on the command line)."""
    return "_".join(str(name).lower().replace("-", " ").replace("_", " ").split())


def build_audience(
    contacts: pd.DataFrame,
    accounts: pd.DataFrame,
    segments: pd.DataFrame,
    segment: str,
    channel: str = "email",
) -> pd.DataFrame:
    """Contacts to reach: accounts in ``segment``, consent for ``channel``, deduplicated.

    ``segments``: account_id, segment (e.g. :func:`helpers.data.rfm.rfm`); ``segment`` matches
    case-insensitively with spaces, ``_`` and ``-`` alike ("at_risk" = "At risk"). A contact is
    kept when its account is in the segment, ``consent_<channel>`` is true and its address
    (email or phone) is present; contacts sharing a normalised address keep the lowest
    contact_id. Returns contact_id, account_id, name, company_name, segment, address.
    Raises ValueError on an unknown channel or segment.
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
    known = sorted(segments["segment"].dropna().unique())
    match = [k for k in known if _slug(k) == _slug(segment)]
    if not match:
        raise ValueError(f"segment {segment!r} not found; known segments: {known}")
    column = "email" if channel == "email" else "phone"
    ids = segments.loc[segments.segment == match[0], ["account_id", "segment"]]
    c = contacts.merge(ids, on="account_id").merge(
        accounts[["account_id", "company_name"]], on="account_id", how="left"
    )
    c = c[c[f"consent_{channel}"].fillna(False).astype(bool) & c[column].notna()]
    c = c[c[column].astype(str).str.strip() != ""].copy()
    c["address"] = [normalise_address(v, channel) for v in c[column]]
    c = c.sort_values("contact_id").drop_duplicates("address", keep="first")
    cols = ["contact_id", "account_id", "name", "company_name", "segment", "address"]
    return c[cols].reset_index(drop=True)


def render_messages(
    audience: pd.DataFrame,
    campaign_id: str,
    channel: str = "email",
    template: str | Path | None = None,
    subject: str = "{{ company_name }}: an offer from campaign {{ campaign_id }}",
    recommended: dict[int, list[dict]] | None = None,
) -> pd.DataFrame:
    """One message per audience row: address, subject (email), body, rendered with Jinja2.

    The template sees name, company_name, segment, campaign_id, contact_id, account_id and
    ``recommended``: the account's own recommended products (:func:`load_recommended`; a
    list of dicts with kind, rank, sku, product_name, reason; empty when it has none);
    an undefined variable is an error (``StrictUndefined``), not a blank. Plain text, so no
    HTML escaping.
    """
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    path = Path(template) if template else TEMPLATES_DIR / f"campaign_{channel}.txt.j2"
    if not path.is_file():
        raise ValueError(f"template {str(path)!r} not found")
    env = Environment(
        loader=FileSystemLoader(str(path.parent)),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text messages: nothing here is HTML
        keep_trailing_newline=True,
    )
    body_t = env.get_template(path.name)
    subject_t = env.from_string(subject)
    rows = []
    for r in audience.itertuples(index=False):
        ctx = {
            "name": r.name,
            "company_name": r.company_name,
            "segment": r.segment,
            "campaign_id": campaign_id,
            "contact_id": int(r.contact_id),
            "account_id": int(r.account_id),
            "recommended": (recommended or {}).get(int(r.account_id), []),
        }
        rows.append(
            {
                "campaign_id": campaign_id,
                "channel": channel,
                "contact_id": int(r.contact_id),
                "account_id": int(r.account_id),
                "address": r.address,
                "subject": subject_t.render(ctx) if channel == "email" else "",
                "body": body_t.render(ctx),
            }
        )
    cols = ["campaign_id", "channel", "contact_id", "account_id", "address", "subject", "body"]
    return pd.DataFrame(rows, columns=cols)


def load_recommended(path: str | Path, products: pd.DataFrame | None = None) -> dict:
    """The recommendations report's export (``<exports>/recommendations/recommendations.csv``:
    account_id, kind, rank, sku, score, reason, model) as ``{account_id: [{kind, rank, sku,
    product_name, reason}, ...]}``, "new" products first, then "again", each by rank;
    ``product_name`` from ``products`` (sku, name) when given, else "". A missing file: ``{}``."""
    path = Path(path)
    if not path.is_file():
        return {}
    recs = pd.read_csv(path, dtype={"sku": str}, encoding="utf-8-sig")
    names = {}
    if products is not None:
        names = dict(zip(products.sku.astype(str), products.name, strict=True))
    recs["product_name"] = recs.sku.map(names).fillna("")
    recs["order"] = (recs.kind != "new").astype(int)
    recs = recs.sort_values(["account_id", "order", "rank"])
    cols = ["kind", "rank", "sku", "product_name", "reason"]
    return {int(a): g[cols].to_dict("records") for a, g in recs.groupby("account_id", sort=False)}


def one_line(value: str) -> str:
    """A header value on one line: every run of whitespace, line breaks (CR, LF, NEL, U+2028)
    included, becomes one space, and the ends are trimmed."""
    return " ".join(str(value).split())


def check_address(address: str, role: str = "recipient") -> str:
    """'' when ``address`` is a plain ASCII addr-spec (local@domain) that an SMTP server without
    SMTPUTF8 accepts, else the reason it is not."""
    text = str(address)
    if any(ch in text for ch in "\r\n"):
        return f"{role} address holds a line break"
    if not text.isascii():
        return f"{role} address is not ASCII (needs SMTPUTF8)"
    try:
        parsed = Address(addr_spec=text)
    except (ValueError, HeaderDefect, HeaderParseError, IndexError):
        return f"{role} address is not a valid address"
    if not parsed.username or "." not in parsed.domain:
        return f"{role} address is not a valid address"
    return ""


def build_email(sender: str, address: str, subject: str, body: str) -> EmailMessage:
    """The message :func:`send_messages` delivers: From, To, Subject and a plain-text body
    (``set_content`` picks the transfer encoding). Raises ValueError on a header value that
    the email package refuses (a line break in it)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = address
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def serialise(msg: EmailMessage) -> bytes:
    """``msg`` as the SMTP client sends it (``policy.SMTP``: CRLF line ends, folded headers)."""
    return msg.as_bytes(policy=policy.SMTP)


def message_problem(msg: EmailMessage, max_bytes: int = MAX_MESSAGE_BYTES) -> str:
    """'' when ``msg`` serialises for SMTP within :data:`MAX_LINE` per line and ``max_bytes``
    in all, else the reason it cannot be sent."""
    try:
        data = serialise(msg)
    except (ValueError, TypeError, UnicodeError) as e:
        return f"message cannot be serialised ({type(e).__name__})"
    if len(data) > max_bytes:
        return f"message is {len(data):,} bytes, over the {max_bytes:,} bytes limit"
    longest = max((len(line) for line in data.split(b"\r\n")), default=0)
    if longest > MAX_LINE:
        return f"a line of the message is {longest:,} characters, over {MAX_LINE}"
    return ""


def prepare_emails(
    messages: pd.DataFrame, sender: str = DRY_RUN_SENDER, max_bytes: int = MAX_MESSAGE_BYTES
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check every email of ``messages`` (:func:`render_messages`) exactly as the real send
    builds and serialises it; returns (sendable, set_aside).

    ``sendable``: the messages with their subject on one line (:func:`one_line`) and a
    ``cleaned`` column ("subject had a line break" or ""). ``set_aside``: contact_id,
    account_id and reason for each message that cannot be sent (an invalid or non-ASCII
    address, a message over the size or line limits). No address appears in the reasons.
    Raises ValueError when the sender address itself is invalid (nothing could be sent).
    """
    problem = check_address(sender, "sender")
    if problem:
        raise ValueError(f"HELPERS_SMTP_FROM: {problem}")
    messages = messages.drop(columns="cleaned", errors="ignore")
    kept, aside = [], []
    for r in messages.itertuples(index=False):
        subject = one_line(r.subject)
        cleaned = "subject had a line break" if subject != str(r.subject).strip() else ""
        reason = check_address(r.address)
        if not reason:
            try:
                reason = message_problem(build_email(sender, r.address, subject, r.body), max_bytes)
            except ValueError as e:
                reason = f"a header was refused ({e})"
        if reason:
            aside.append({"contact_id": int(r.contact_id), "account_id": int(r.account_id),
                          "reason": reason})  # fmt: skip
        else:
            kept.append(r._replace(subject=subject)._asdict() | {"cleaned": cleaned})
    cols = [*messages.columns, "cleaned"]
    return (
        pd.DataFrame(kept, columns=cols),
        pd.DataFrame(aside, columns=["contact_id", "account_id", "reason"]),
    )


def write_export(messages: pd.DataFrame, out_dir: Path, campaign_id: str, segment: str) -> Path:
    """Write the messages to ``<out_dir>/campaign-<id>-<segment>-<channel>.csv``; returns it.
    For SMS this file is the hand-over to the SMS gateway (address = phone)."""
    channel = messages.channel.iloc[0] if len(messages) else "email"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in f"{campaign_id}-{segment}")
    path = out_dir / f"campaign-{safe}-{channel}.csv"
    messages.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return path


def log_key(campaign_id: str, address: str) -> str:
    """SHA-256 of ``campaign_id`` + NUL + normalised address: the send log's key."""
    return hashlib.sha256(f"{campaign_id}\0{address}".encode()).hexdigest()


def read_send_log(path: Path) -> set[str]:
    """Keys of every message the log records as delivered (a missing log is empty)."""
    path = Path(path)
    if not path.exists():
        return set()
    keys = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                keys.add(json.loads(line)["key"])
    return keys


def _log_entry(r) -> dict:
    """The send log's line for one delivered message: no address, only its key."""
    return {
        "key": log_key(r.campaign_id, r.address),
        "campaign_id": r.campaign_id,
        "contact_id": int(r.contact_id),
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def send_messages(
    messages: pd.DataFrame,
    settings: SmtpSettings,
    log_path: Path,
    rate_per_second: float = 5.0,
    sleep=time.sleep,
) -> int:
    """Deliver the messages not yet in the send log over SMTP + STARTTLS; returns how many.

    The messages are first checked by :func:`prepare_emails` (subjects put on one line); when
    any cannot be sent, nothing is sent and :class:`SendError` names their contact ids, so a
    send never stops part-way on a bad message.

    Each delivery appends one JSON line (key, campaign_id, contact_id, sent_at) to
    ``log_path``, flushed and fsynced before the next, so a failure part-way keeps every
    entry of what was delivered. At most ``rate_per_second`` messages per second. A server
    that refuses the connection, lacks STARTTLS or rejects the login raises
    :class:`SendError` (its message names host and port, never the credentials).
    """
    validate.positive("rate_per_second", rate_per_second)
    messages, aside = prepare_emails(messages, settings.sender)
    if len(aside):
        ids = ", ".join(str(i) for i in aside.contact_id)
        raise SendError(
            f"{len(aside)} message(s) cannot be sent (contact id(s) {ids}): set them aside "
            "first (prepare_emails, as the dry run does)"
        )
    done = read_send_log(log_path)
    todo = [
        r for r in messages.itertuples(index=False) if log_key(r.campaign_id, r.address) not in done
    ]
    if not todo:
        return 0
    where = f"{settings.host}:{settings.port}"
    try:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    except OSError as e:
        raise SendError(f"cannot connect to SMTP server {where}: {e.strerror or e}") from None
    sent = 0
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _start_session(smtp, settings, where)
        interval = 1.0 / rate_per_second
        with log_path.open("a", encoding="utf-8") as log:
            for r in todo:
                started = time.monotonic()
                msg = build_email(settings.sender, r.address, r.subject, r.body)
                smtp.send_message(msg)
                log.write(json.dumps(_log_entry(r)) + "\n")
                log.flush()
                os.fsync(log.fileno())
                sent += 1
                wait = interval - (time.monotonic() - started)
                if wait > 0 and sent < len(todo):
                    sleep(wait)
    except SendError as e:
        e.sent = sent
        raise
    except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
        raise SendError(
            f"SMTP delivery via {where} stopped after {sent} message(s): {type(e).__name__}",
            sent,
        ) from None
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
    return sent


def _segments_for(ds) -> pd.DataFrame:
    return rfm(ds)[["account_id", "segment"]]


def _channel_of(ds, campaign_id: str, default: str) -> str:
    cp = ds.campaigns
    found = cp.filter(cp.campaign_id == campaign_id).select("channel").to_pandas()
    return str(found.channel.iloc[0]) if len(found) else default


def run(
    campaign_id: str,
    segment: str,
    data_dir=None,
    channel: str | None = None,
    template: str | None = None,
    out_dir: Path | None = None,
    send: bool = False,
    rate_per_second: float = 5.0,
    log_path: Path | None = None,
    environ=None,
    recommendations: str | Path | None = None,
) -> dict:
    """The ``send`` command: audience → messages → export file, and with ``send`` delivery.
    ``recommendations``: the recommendations report's CSV the templates' ``recommended``
    comes from (default ``<out>/recommendations/recommendations.csv``, when it exists).
    Returns counts and paths only (no personal data)."""
    ds = open_dataset(data_dir)
    if channel is None:
        channel = _channel_of(ds, campaign_id, "email")
    if channel not in CHANNELS:
        raise ValueError(f"campaign {campaign_id!r} is on channel {channel!r}: only email/sms")
    audience = build_audience(
        ds.contacts.to_pandas(), ds.accounts.to_pandas(), _segments_for(ds), segment, channel
    )
    rec_path = Path(recommendations or Path(out_dir or EXPORTS_DIR) / "recommendations")
    rec_path = rec_path / "recommendations.csv" if rec_path.is_dir() else rec_path
    if recommendations and not rec_path.is_file():
        raise ValueError(f"recommendations file {str(rec_path)!r} not found")
    products = ds.products.to_pandas() if "products" in ds else None
    recommended = load_recommended(rec_path, products)
    messages = render_messages(audience, campaign_id, channel, template, recommended=recommended)
    if send and channel != "email":
        raise ValueError("--send delivers email only; SMS goes to the gateway export file")
    settings = SmtpSettings.from_env(environ) if send else None
    out_dir = Path(out_dir or EXPORTS_DIR)
    result = {"channel": channel, "audience": len(audience), "sent": 0}
    if channel == "email":  # the dry run checks each message as the real send would
        env = os.environ if environ is None else environ
        sender = settings.sender if settings else env.get("HELPERS_SMTP_FROM") or DRY_RUN_SENDER
        messages, aside = prepare_emails(messages, sender)
        result.update(
            cleaned=int((messages.cleaned != "").sum()),
            set_aside=len(aside),
            set_aside_ids=[int(i) for i in aside.contact_id],
        )
    path = write_export(messages, out_dir, campaign_id, segment)
    result["export"] = str(path)
    if result.get("set_aside"):  # contact ids and reasons only, no address
        aside_path = path.with_name(f"{path.stem}-set-aside.csv")
        aside.to_csv(aside_path, index=False)
        result["set_aside_file"] = str(aside_path)
    if send:
        log = Path(log_path or out_dir / "send_log.jsonl")
        result["sent"] = send_messages(messages, settings, log, rate_per_second)
        result["log"] = str(log)
    return result


def cli(argv: list[str] | None = None) -> int:
    """``send --campaign ID --segment NAME [--channel] [--template] [--out] [--send] [--rate]``"""
    p = argparse.ArgumentParser(prog="python -m helpers.outreach")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send", help="build the audience and write (or with --send, deliver)")
    s.add_argument("--campaign", required=True, help="campaign id (new or from campaigns)")
    s.add_argument("--segment", required=True, help="RFM segment name, e.g. at_risk")
    s.add_argument("--channel", choices=CHANNELS, help="default: the campaign's, else email")
    s.add_argument("--data", default=None, help="dataset folder (default data/sample)")
    s.add_argument("--template", default=None, help="Jinja2 template file")
    s.add_argument("--out", default=None, help="export folder (default reports/exports)")
    s.add_argument("--send", action="store_true", help="deliver over SMTP (default: dry run)")
    s.add_argument("--rate", type=float, default=5.0, help="messages per second at most")
    s.add_argument("--log", default=None, help="send log (default <out>/send_log.jsonl)")
    s.add_argument(
        "--recommendations",
        default=None,
        help="the recommendations report's CSV (default <out>/recommendations/recommendations.csv)",
    )
    a = p.parse_args(argv)
    try:
        r = run(
            a.campaign,
            a.segment,
            data_dir=a.data,
            channel=a.channel,
            template=a.template,
            out_dir=a.out,
            send=a.send,
            rate_per_second=a.rate,
            log_path=a.log,
            recommendations=a.recommendations,
        )
    except (ValueError, SendError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    mode = "sent" if a.send else "dry run, nothing sent"
    print(
        f"{a.campaign} / {a.segment}: {r['audience']} contact(s) on {r['channel']}; "
        f"{r['sent']} message(s) {mode}; messages written to {r['export']}"
    )
    if r.get("cleaned"):
        print(f"{r['cleaned']} subject(s) held a line break and were put on one line")
    if r.get("set_aside"):
        ids = ", ".join(map(str, r["set_aside_ids"]))
        print(
            f"{r['set_aside']} contact(s) set aside, not sent (contact id(s) {ids}); "
            f"reasons in {r['set_aside_file']}"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(cli())
