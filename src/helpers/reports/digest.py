"""The Monday digest: one page of what moved, as ``digest.html`` and ``digest.txt``, and by
e-mail.

The digest holds the "worth a look" list (:func:`helpers.reports.index.worth_a_look`) and,
per report, every headline figure (registry kind ``metric``) with its change since the last
build, and every series' last period against the one before. Nothing else: no finding text, no
table, so no name, address or other personal data can reach it (a test checks the sample's
contacts never appear).

E-mail (:func:`send_digest`): a dry run by default, which writes the message it would send to
``<out>/exports/digest.eml`` (it names the recipients); ``send=True`` delivers it through
:mod:`helpers.mail` (the SMTP settings of the campaign sender: HELPERS_SMTP_*, from the
environment only). Recipients come from a file outside the repository (one address a line,
``#`` comments) or ``$HELPERS_DIGEST_TO`` (comma separated), never from a file in the
repository. The PDFs (:mod:`helpers.reports.pdf`) may go along as attachments.
"""

from __future__ import annotations

import os
from email.headerregistry import Address
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any

from helpers import config as project
from helpers import metrics

from . import atomic, now_iso
from .changes import change_html, change_text, flag_text, headline
from .config import ReportSpec
from .index import worth_a_look

__all__ = [
    "RECIPIENTS_ENV",
    "compose",
    "digest_data",
    "digest_html",
    "digest_text",
    "read_recipients",
    "send_digest",
    "write_digest",
]

RECIPIENTS_ENV = "HELPERS_DIGEST_TO"
DRY_RUN_SENDER = "reports@example.com"
CSS = (
    "body{font:14px/1.45 system-ui,sans-serif;color:#1f2328;max-width:48rem;margin:1rem auto;"
    "padding:0 1rem}h1{font-size:1.4rem}h2{font-size:1.1rem;margin:1.2rem 0 .3rem}"
    "table{border-collapse:collapse}td,th{padding:.1rem .8rem .1rem 0;text-align:left;"
    "border-bottom:1px solid #eaeef2;font-variant-numeric:tabular-nums}"
    ".worth{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:.4rem 1rem}"
    ".muted{color:#57606a}"
)


def _read(out_dir: Path, name: str) -> dict[str, Any] | None:
    import json

    path = out_dir / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def _fmt(key: str, value: Any) -> str:
    found = metrics.lookup(key)
    return metrics.format_value(found.unit if found else "number", value)


def _figures(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A report's headline figures, each with its value and its change since the last build."""
    changes = record.get("changes") or {}
    since = (changes.get("figures") or {}) if changes.get("since") else {}
    out = []
    for key, value in headline(str(record.get("name")), record.get("figures")).items():
        entry = since.get(key) or {}
        out.append(
            {
                "key": key,
                "label": metrics.label(key),
                "value": value,
                "shown": _fmt(key, value),
                "change": entry.get("change"),
                "relative": entry.get("relative"),
                "tone": entry.get("tone", "neutral"),
            }
        )
    return out


def digest_data(out_dir: Path, specs: list[ReportSpec]) -> dict[str, Any]:
    """What the digest shows, from the ``<name>.json`` of every report of the config."""
    out_dir = Path(out_dir)
    records = [r for s in specs if (r := _read(out_dir, s.name)) is not None]
    reports = []
    for record in records:
        changes = record.get("changes") or {}
        reports.append(
            {
                "name": record.get("name"),
                "title": record.get("title"),
                "status": record.get("status"),
                "html": record.get("html"),
                "built_at": record.get("built_at"),
                "since": (changes.get("since") or {}).get("built_at"),
                "period": record.get("period"),
                "figures": _figures(record) if record.get("status") == "ok" else [],
                "series": changes.get("series") or {},
            }
        )
    return {"generated_at": now_iso(), "worth_a_look": worth_a_look(records), "reports": reports}


def _series_line(key: str, e: dict[str, Any]) -> str:
    text = f"{metrics.label(key)} {e['period']}: {_fmt(key, e['current'])}"
    if e.get("previous") is not None:
        text += f", {change_text(key, e['change'], e['relative'])} on {e['previous_period']}"
    if e.get("year_ago") is not None:
        text += f", {change_text(key, e['year_change'], e['year_relative'])} on a year before"
    return text


def digest_text(data: dict[str, Any]) -> str:
    """The plain-text digest (the e-mail's text part)."""
    lines = [f"Reports digest, {data['generated_at'][:10]}", ""]
    flags = data["worth_a_look"]
    lines.append(f"Worth a look ({len(flags)})" if flags else "Worth a look: nothing flagged")
    lines += [f"  * {f['title']}: {flag_text(f)}" for f in flags]
    for r in data["reports"]:
        lines += ["", f"{r['title']} ({r['status']})"]
        since = f"change since the build of {r['since']}" if r["since"] else "no earlier build"
        if r["figures"]:
            lines.append(f"  figures ({since}):")
        for f in r["figures"]:
            change = change_text(f["key"], f["change"], f["relative"])
            lines.append(f"    {f['label']}: {f['shown']}" + (f"  {change}" if change else ""))
        for key, e in r["series"].items():
            lines.append(f"    {_series_line(key, e)}")
    return "\n".join(lines) + "\n"


def digest_html(data: dict[str, Any]) -> str:
    """The one-page HTML digest (self-contained; the e-mail's HTML part)."""
    flags = data["worth_a_look"]
    parts = [f"<h1>Reports digest, {escape(data['generated_at'][:10])}</h1>"]
    if flags:
        items = "".join(
            f"<li><strong>{escape(str(f['title']))}</strong>: {escape(flag_text(f))}</li>"
            for f in flags
        )
        parts.append(f'<div class="worth"><h2>Worth a look</h2><ul>{items}</ul></div>')
    else:
        parts.append('<p class="muted">Worth a look: nothing outside its usual range.</p>')
    for r in data["reports"]:
        parts.append(
            f"<h2>{escape(str(r['title']))} <small>({escape(str(r['status']))})</small></h2>"
        )
        since = f"change since the build of {r['since']}" if r["since"] else "no earlier build"
        rows = "".join(
            f"<tr><td>{escape(f['label'])}</td><td>{escape(f['shown'])}</td>"
            f"<td>{change_html(f['key'], f['change'], f['relative'], f['tone'])}</td></tr>"
            for f in r["figures"]
        )
        if rows:
            parts.append(
                f"<table><tr><th>Figure</th><th>Value</th><th>{escape(since)}</th></tr>"
                f"{rows}</table>"
            )
        items = "".join(f"<li>{escape(_series_line(k, e))}</li>" for k, e in r["series"].items())
        if items:
            parts.append(f"<ul>{items}</ul>")
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Reports digest'
        f"</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def write_digest(out_dir: Path, specs: list[ReportSpec]) -> tuple[Path, Path, dict[str, Any]]:
    """Write ``<out>/digest.html`` and ``<out>/digest.txt``; returns both and the data."""
    out_dir = Path(out_dir)
    data = digest_data(out_dir, specs)
    html, txt = out_dir / "digest.html", out_dir / "digest.txt"
    atomic.write_text(html, digest_html(data))
    atomic.write_text(txt, digest_text(data))
    return html, txt, data


def _valid(address: str) -> bool:
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError):
        return False
    return bool(parsed.username) and "." in parsed.domain and address.isascii()


def read_recipients(to_file: Path | None = None, environ=None) -> list[str]:
    """The digest's recipients: ``to_file`` (one address a line, ``#`` comments), else
    ``$HELPERS_DIGEST_TO`` (comma or space separated). A file inside the repository is
    refused (the list is personal data: keep it outside, or in the git-ignored ``.env``);
    an invalid address is a ValueError naming its position, not the address."""
    env = os.environ if environ is None else environ
    if to_file is not None:
        path = Path(to_file).resolve()
        if path.is_relative_to(project.PROJ_ROOT.resolve()):
            raise ValueError(
                f"--to-file {to_file}: keep the recipients outside the repository "
                f"(e.g. ~/.config/helpers/digest-to), or set ${RECIPIENTS_ENV}"
            )
        text = path.read_text(encoding="utf-8")
        found = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    else:
        found = env.get(RECIPIENTS_ENV, "").replace(",", " ").split()
    found = [a for a in found if a]
    bad = [i for i, a in enumerate(found, 1) if not _valid(a)]
    if bad:
        raise ValueError(f"recipient(s) number {', '.join(map(str, bad))} are not valid addresses")
    return list(dict.fromkeys(found))


def compose(
    data: dict[str, Any], sender: str, recipients: list[str], attachments: list[Path] = ()
) -> EmailMessage:
    """The digest e-mail: text and HTML alternatives, the PDFs attached when given."""
    msg = EmailMessage()
    n = len(data["worth_a_look"])
    msg["Subject"] = f"Reports digest {data['generated_at'][:10]}: {n} worth a look"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients) if recipients else "undisclosed-recipients:;"
    msg.set_content(digest_text(data))
    msg.add_alternative(digest_html(data), subtype="html")
    for path in attachments:
        msg.add_attachment(
            Path(path).read_bytes(), maintype="application", subtype="pdf", filename=Path(path).name
        )
    return msg


def send_digest(
    out_dir: Path,
    data: dict[str, Any],
    *,
    send: bool = False,
    to_file: Path | None = None,
    attachments: list[Path] = (),
    environ=None,
) -> tuple[str, Path | None]:
    """Dry run (``send=False``): write the message to ``<out>/exports/digest.eml``; returns ("dry
    run", path). ``send=True``: deliver it over SMTP (:func:`helpers.mail.deliver`); returns
    ("sent to N", None). Raises ValueError (no recipients, bad settings) or
    :class:`helpers.mail.SendError`."""
    from helpers import mail

    env = os.environ if environ is None else environ
    recipients = read_recipients(to_file, env)
    if send:
        if not recipients:
            raise ValueError(f"no recipients: pass --to-file FILE or set ${RECIPIENTS_ENV}")
        settings = mail.SmtpSettings.from_env(env)
        mail.deliver(compose(data, settings.sender, recipients, attachments), settings)
        return f"sent to {len(recipients)} recipient(s)", None
    sender = env.get("HELPERS_SMTP_FROM") or DRY_RUN_SENDER
    path = Path(out_dir) / "exports" / "digest.eml"  # it names the recipients: exports only
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_open(path, "wb") as fh:
        fh.write(bytes(compose(data, sender, recipients, attachments)))
    return f"dry run: {len(recipients)} recipient(s), nothing sent", path
