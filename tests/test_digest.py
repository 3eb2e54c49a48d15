"""The Monday digest: digest.html / digest.txt from hand-made records, the dry-run e-mail
(.eml), a real send over STARTTLS to an SMTP server on loopback, recipients never from the
repository, and ``weekly`` end to end on a tiny report (build, PDF, digest)."""

from __future__ import annotations

import email
import json
import os
import shutil
import ssl
from email import policy
from pathlib import Path

import pytest
from smtptls import free_port, self_signed_cert
from test_history import CELLS, YML
from test_reports import make_project

from helpers.config import PROJ_ROOT
from helpers.reports import changes as ch
from helpers.reports import digest
from helpers.reports.cli import main
from helpers.reports.config import ReportSpec

NOISE = [100, 97, 104, 99, 102, 95, 101, 106, 98, 103, 100, 96, 105, 99, 102, 97, 101, 104, 98]


def _series(last: float) -> dict:
    values = [*NOISE, last]
    return {"freq": "week", "values": {f"2026-W{i + 1:02d}": v for i, v in enumerate(values)}}


@pytest.fixture
def out(tmp_path: Path) -> tuple[Path, list[ReportSpec]]:
    """Two reports' records: one with a planted jump and changes since a build, one steady."""
    found = {"figures": {"gmv": 1100.0, "orders": 9}, "series": {"last_week_gmv": _series(180)}}
    prev = {"figures": {"gmv": 1000.0, "orders": 10}, "built_at": "2026-10-26T07:00:00+00:00"}
    steady = {"figures": {"tickets": 40}, "series": {"tickets_week": _series(100)}}
    records = {
        "sales": {**found, "changes": ch.build_changes("sales", found, prev)},
        "service": {**steady, "changes": ch.build_changes("service", steady, None)},
    }
    specs = []
    for name, rec in records.items():
        base = {"name": name, "title": name.title(), "status": "ok", "html": f"{name}.html"}
        base["finding"] = "Acme Ltd's buyer ann@example.com called"  # never in the digest
        (tmp_path / f"{name}.json").write_text(json.dumps({**base, **rec}))
        specs.append(ReportSpec(name=name, notebook=tmp_path / "x.ipynb", title=name.title()))
    return tmp_path, specs


def test_digest_lists_the_flags_and_every_headline_change(out) -> None:
    folder, specs = out
    html, txt, data = digest.write_digest(folder, specs)
    text = txt.read_text()
    assert text.index("Worth a look (1)") < text.index("Sales (ok)")
    assert "GMV, last complete week, 2026-W20: 180" in text
    assert "GMV: 1,100  ▲ +100 (+10.0%)" in text and "Orders: 9  ▼ −1 (−10.0%)" in text
    assert "Service tickets: 40" in text and "(no earlier build)" in text
    page = html.read_text()
    assert "Worth a look" in page and "chg good" in page and "chg bad" in page
    for shown in (text, page):
        assert "@" not in shown and "Acme" not in shown  # no finding text, no address
    assert [f["key"] for f in data["worth_a_look"]] == ["last_week_gmv"]


def test_dry_run_writes_the_message_it_would_send(out, tmp_path: Path) -> None:
    folder, specs = out
    _, _, data = digest.write_digest(folder, specs)
    pdf = tmp_path / "sales.pdf"
    pdf.write_bytes(b"%PDF-1.4 tiny")
    env = {digest.RECIPIENTS_ENV: "ops@platform.example, lead@platform.example"}
    said, eml = digest.send_digest(folder, data, attachments=[pdf], environ=env)
    assert said.startswith("dry run: 2 recipient(s)") and eml == folder / "exports" / "digest.eml"
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "ops@platform.example, lead@platform.example"
    assert msg["Subject"].endswith(": 1 worth a look")
    assert "GMV: 1,100" in msg.get_body(("plain",)).get_content()
    assert "<h1>Reports digest" in msg.get_body(("html",)).get_content()
    assert [p.get_filename() for p in msg.iter_attachments()] == ["sales.pdf"]


def test_recipients_from_a_file_outside_the_repo_or_the_environment(tmp_path: Path) -> None:
    listed = tmp_path / "to.txt"
    listed.write_text("# the ops team\nops@platform.example\n\nlead@platform.example  # lead\n")
    assert digest.read_recipients(listed, {}) == ["ops@platform.example", "lead@platform.example"]
    assert digest.read_recipients(None, {digest.RECIPIENTS_ENV: "a@b.example"}) == ["a@b.example"]
    assert digest.read_recipients(None, {}) == []
    with pytest.raises(ValueError, match="outside the repository"):
        digest.read_recipients(PROJ_ROOT / "reports.yml", {})
    with pytest.raises(ValueError, match="number 2 "):
        digest.read_recipients(None, {digest.RECIPIENTS_ENV: "a@b.example not-an-address"})
    with pytest.raises(ValueError, match="no recipients"):
        digest.send_digest(tmp_path, {"worth_a_look": []}, send=True, environ={})


# ------------------------------------------------------------------ real SMTP on loopback

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class _Collect:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server(tmp_path: Path):
    crt, key = self_signed_cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    port = free_port()
    handler = _Collect()
    server = aiosmtpd_controller.Controller(
        handler, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True
    )
    server.start()
    yield handler, port, crt
    server.stop()


def test_send_delivers_the_digest_over_starttls(out, smtp_server) -> None:
    folder, specs = out
    handler, port, crt = smtp_server
    _, _, data = digest.write_digest(folder, specs)
    env = {
        "HELPERS_SMTP_HOST": "127.0.0.1",
        "HELPERS_SMTP_PORT": str(port),
        "HELPERS_SMTP_FROM": "reports@platform.example",
        "HELPERS_SMTP_CAFILE": str(crt),
        digest.RECIPIENTS_ENV: "ops@platform.example",
    }
    said, eml = digest.send_digest(folder, data, send=True, environ=env)
    assert said == "sent to 1 recipient(s)" and eml is None
    assert not (folder / "exports" / "digest.eml").exists()
    [(rcpt, content)] = handler.received
    assert rcpt == ["ops@platform.example"]
    msg = email.message_from_bytes(content, policy=policy.default)
    assert "Worth a look (1)" in msg.get_body(("plain",)).get_content()


# ------------------------------------------------------------------ weekly, end to end

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium")


@pytest.mark.skipif(not CHROMIUM, reason="no Chromium to print PDFs (make browser)")
def test_weekly_builds_prints_and_writes_the_digest(tmp_path: Path, capsys) -> None:
    paths = make_project(tmp_path, YML, {"sales": CELLS})
    (paths["data"] / "orders.csv").write_text(
        "order_id,order_ts\n1,2026-05-10 10:00:00\n2,2026-05-19 09:30:00\n"
    )
    args = ["--config", str(paths["config"]), "--data", str(paths["data"])]
    code = main(["weekly", *args, "--out", str(paths["out"])])
    assert code == 0, capsys.readouterr().err
    record = json.loads((paths["out"] / "sales.json").read_text())
    assert record["parameters"]["end"] == "2026-05-17"  # the Sunday before Tuesday the 19th
    pdf = paths["out"] / "pdf" / "sales.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "Tiny sales (ok)" in (paths["out"] / "digest.txt").read_text()
    assert (paths["out"] / "digest.html").is_file()
    eml = email.message_from_bytes((paths["out"] / "exports" / "digest.eml").read_bytes())
    assert eml["To"] == "undisclosed-recipients:;"  # no recipients set: a dry run all the same
    assert len(json.loads((paths["out"] / "index.json").read_text())["reports"]) == 1
    assert "history/" in capsys.readouterr().err


def test_makefile_has_a_weekly_target() -> None:
    makefile = (PROJ_ROOT / "Makefile").read_text()
    assert "## weekly: " in makefile and "-m helpers.reports weekly" in makefile
