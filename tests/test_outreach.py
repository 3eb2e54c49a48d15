"""Audience, templates and the SMTP sender, end to end against a real SMTP server on loopback."""

from __future__ import annotations

import ssl
import subprocess

import pandas as pd
import pytest
from smtptls import free_port, self_signed_cert

from helpers import outreach

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult  # noqa: E402

USER, PASSWORD = "mailer", "s3cret-Pa55"


def _contacts():
    return pd.DataFrame(
        {
            "contact_id": [1, 2, 3, 4, 5, 6],
            "account_id": [10, 10, 11, 12, 13, 11],
            "name": ["Ann A", "Ann Dup", "Bob B", "Cy C", "Di D", "No Mail"],
            "email": [
                "ann@example.com",
                " ANN@example.com ",  # the same address as contact 1
                "bob@example.com",
                "cy@example.com",  # no consent
                "di@example.com",  # another segment
                None,  # no address
            ],
            "phone": ["+1 555 0100", None, "+1-555-0101", None, None, "+15550102"],
            "consent_email": [True, True, True, False, True, True],
            "consent_sms": [True, False, False, True, True, True],
        }
    )


def _accounts():
    return pd.DataFrame(
        {"account_id": [10, 11, 12, 13], "company_name": ["Acme", "Bolt", "Cog", "Dyn"]}
    )


def _segments():
    return pd.DataFrame({"account_id": [10, 11, 12, 13], "segment": ["At risk"] * 3 + ["Lost"]})


def test_audience_consent_and_dedup():
    a = outreach.build_audience(_contacts(), _accounts(), _segments(), "at_risk", "email")
    # contact 2 duplicates 1, 4 has no consent, 5 is in another segment, 6 has no email
    assert a.contact_id.tolist() == [1, 3]
    assert a.address.tolist() == ["ann@example.com", "bob@example.com"]
    s = outreach.build_audience(_contacts(), _accounts(), _segments(), "At risk", "sms")
    assert s.contact_id.tolist() == [1, 6]  # 4 consents to SMS but has no phone
    assert s.address.tolist() == ["+15550100", "+15550102"]


def test_audience_errors():
    with pytest.raises(ValueError, match="segment 'vip' not found"):
        outreach.build_audience(_contacts(), _accounts(), _segments(), "vip")
    with pytest.raises(ValueError, match="channel"):
        outreach.build_audience(_contacts(), _accounts(), _segments(), "lost", "fax")


def test_render_personalised_and_strict(tmp_path):
    a = outreach.build_audience(_contacts(), _accounts(), _segments(), "at_risk")
    m = outreach.render_messages(a, "EM-T-1")
    assert "Dear Ann A," in m.body[0] and "Acme" in m.subject[0]
    assert "Dear Bob B," in m.body[1] and "Bolt" in m.subject[1]
    bad = tmp_path / "bad.txt.j2"
    bad.write_text("Hi {{ nickname }}")
    with pytest.raises(Exception, match="nickname"):
        outreach.render_messages(a, "EM-T-1", template=bad)
    path = outreach.write_export(m, tmp_path, "EM-T-1", "At risk")
    assert path.name == "campaign-EM-T-1-At_risk-email.csv"
    assert len(pd.read_csv(path)) == 2


def test_settings_from_env_only():
    with pytest.raises(ValueError, match="HELPERS_SMTP_HOST"):
        outreach.SmtpSettings.from_env({})
    s = outreach.SmtpSettings.from_env(
        {
            "HELPERS_SMTP_HOST": "h",
            "HELPERS_SMTP_FROM": "f@x",
            "HELPERS_SMTP_USER": USER,
            "HELPERS_SMTP_PASSWORD": PASSWORD,
        }
    )
    assert s.port == 587 and PASSWORD not in repr(s)
    with pytest.raises(ValueError, match="both"):
        outreach.SmtpSettings.from_env(
            {"HELPERS_SMTP_HOST": "h", "HELPERS_SMTP_FROM": "f", "HELPERS_SMTP_USER": "u"}
        )


# ------------------------------------------------------------------ real SMTP on loopback


class _Collect:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8")))
        return "250 OK"


def _auth(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    # handled=False: aiosmtpd then answers a failure with 535 itself; with its default (True)
    # it answers nothing and the client waited out its 30 s timeout
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(cert):
    crt, key = cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    handler = _Collect()
    port = free_port()
    c = aiosmtpd_controller.Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=_auth,
        auth_require_tls=True,
    )
    c.start()
    yield handler, port, crt
    c.stop()


def _env(port, crt):
    return {
        "HELPERS_SMTP_HOST": "127.0.0.1",
        "HELPERS_SMTP_PORT": str(port),
        "HELPERS_SMTP_FROM": "campaigns@platform.example",
        "HELPERS_SMTP_USER": USER,
        "HELPERS_SMTP_PASSWORD": PASSWORD,
        "HELPERS_SMTP_CAFILE": str(crt),
    }


def _messages():
    a = outreach.build_audience(_contacts(), _accounts(), _segments(), "at_risk")
    return outreach.render_messages(a, "EM-T-1")


def test_send_end_to_end_once(server, tmp_path, capsys):
    handler, port, crt = server
    settings = outreach.SmtpSettings.from_env(_env(port, crt))
    log = tmp_path / "send_log.jsonl"
    naps = []
    sent = outreach.send_messages(_messages(), settings, log, rate_per_second=4, sleep=naps.append)
    assert sent == 2
    by_rcpt = {r[0][0]: r[1] for r in handler.received}
    assert sorted(by_rcpt) == ["ann@example.com", "bob@example.com"]  # one each
    assert "Dear Ann A," in by_rcpt["ann@example.com"]
    assert "Dear Bob B," in by_rcpt["bob@example.com"]
    assert "cy@example.com" not in by_rcpt and "di@example.com" not in by_rcpt
    assert len(naps) == 1 and 0 < naps[0] <= 0.25  # rate limit: 4 per second
    # a second run sends nothing new
    assert outreach.send_messages(_messages(), settings, log) == 0
    assert len(handler.received) == 2
    text = log.read_text()
    assert len(text.splitlines()) == 2
    assert "@" not in text and PASSWORD not in text  # the log holds hashes, no address
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err


def test_refused_connection_keeps_log(server, tmp_path):
    handler, port, crt = server
    settings = outreach.SmtpSettings.from_env(_env(port, crt))
    log = tmp_path / "send_log.jsonl"
    msgs = _messages()
    assert outreach.send_messages(msgs.iloc[:1], settings, log) == 1
    closed = outreach.SmtpSettings.from_env(_env(free_port(), crt))
    with pytest.raises(outreach.SendError, match="cannot connect to SMTP server 127.0.0.1") as e:
        outreach.send_messages(msgs, closed, log)
    assert PASSWORD not in str(e.value)
    assert len(log.read_text().splitlines()) == 1  # nothing lost
    # when the server is back, only the one not yet sent goes out
    assert outreach.send_messages(msgs, settings, log) == 1
    assert [r[0] for r in handler.received] == [["ann@example.com"], ["bob@example.com"]]


def test_wrong_password_is_a_clear_error(server, tmp_path):
    handler, port, crt = server
    env = _env(port, crt) | {"HELPERS_SMTP_PASSWORD": "wrong-one"}
    settings = outreach.SmtpSettings.from_env(env)
    with pytest.raises(outreach.SendError, match="login") as e:
        outreach.send_messages(_messages(), settings, tmp_path / "log.jsonl")
    assert "wrong-one" not in str(e.value)
    assert handler.received == []


def test_cli_dry_run_and_send(server, small_sample, tmp_path, monkeypatch, capsys):
    handler, port, crt = server
    out = tmp_path / "exports"
    argv = ["send", "--campaign", "EM-NEXT-01", "--segment", "at_risk"]
    argv += ["--data", str(small_sample), "--out", str(out)]
    assert outreach.cli(argv) == 0
    printed = capsys.readouterr().out
    assert "dry run" in printed and "@" not in printed
    export = pd.read_csv(next(out.glob("*.csv")))
    assert handler.received == [] and len(export) > 0
    assert export.address.is_unique
    for k, v in _env(port, crt).items():
        monkeypatch.setenv(k, v)
    assert outreach.cli(argv + ["--send", "--rate", "1000"]) == 0
    assert len(handler.received) == len(export)
    assert outreach.cli(argv + ["--send", "--rate", "1000"]) == 0
    assert len(handler.received) == len(export)  # idempotent
    printed = capsys.readouterr()
    assert PASSWORD not in printed.out + printed.err


# ------------------------------------------------------------------ SMS export and the command


def test_sms_export_file_for_the_gateway(tmp_path):
    a = outreach.build_audience(_contacts(), _accounts(), _segments(), "at_risk", "sms")
    m = outreach.render_messages(a, "SMS-T-1", channel="sms")
    path = outreach.write_export(m, tmp_path, "SMS-T-1", "At risk")
    assert path.name == "campaign-SMS-T-1-At_risk-sms.csv"
    f = pd.read_csv(path, dtype={"address": str})
    # SMS consent only (contact 2 has none, 4 has no phone), phones normalised, no email
    assert f.contact_id.tolist() == [1, 6]
    assert f.address.tolist() == ["+15550100", "+15550102"]
    assert (f.channel == "sms").all() and f.subject.isna().all()  # no subject line
    assert "Acme" in f.body[0] and "STOP" in f.body[0]
    assert not f.astype(str).apply(lambda c: c.str.contains("@")).any().any()


def test_cli_writes_the_sms_export_and_refuses_to_send_it(small_sample, tmp_path, capsys):
    from helpers.data.dataset import open_dataset

    out = tmp_path / "exports"
    argv = ["send", "--campaign", "SMS-NEXT-01", "--segment", "loyal", "--channel", "sms"]
    argv += ["--data", str(small_sample), "--out", str(out)]
    assert outreach.cli(argv) == 0
    assert "dry run" in capsys.readouterr().out
    path = out / "campaign-SMS-NEXT-01-loyal-sms.csv"
    f = pd.read_csv(path, dtype={"address": str})
    assert len(f) > 0 and f.address.is_unique
    assert f.address.str.fullmatch(r"\+?\d+").all()  # phone numbers, not emails
    consent = open_dataset(small_sample).contacts.to_pandas().set_index("contact_id")
    assert consent.loc[f.contact_id, "consent_sms"].all()
    # SMS goes to the gateway file only: --send is refused with a clear error, nothing written
    assert outreach.cli(argv + ["--send"]) == 2
    err = capsys.readouterr().err
    assert "SMS goes to the gateway export file" in err
    assert not (out / "send_log.jsonl").exists()


def test_command_line_help_and_dry_run_in_a_subprocess(small_sample, tmp_path):
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPERS_SMTP_")}
    cmd = [sys.executable, "-m", "helpers.outreach", "send"]
    done = subprocess.run(cmd + ["--help"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    for flag in ("--campaign", "--segment", "--send", "--rate", "--channel"):
        assert flag in done.stdout
    out = tmp_path / "exports"
    args = ["--campaign", "EM-NEXT-02", "--segment", "at_risk", "--data", str(small_sample)]
    done = subprocess.run(
        cmd + args + ["--out", str(out)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "dry run, nothing sent" in done.stdout and "@" not in done.stdout + done.stderr
    assert len(pd.read_csv(out / "campaign-EM-NEXT-02-at_risk-email.csv")) > 0
    assert not (out / "send_log.jsonl").exists()
    # a bad segment is a clear error and a non-zero exit, not a traceback
    done = subprocess.run(
        cmd + ["--campaign", "X", "--segment", "vip", "--data", str(small_sample)]
        + ["--out", str(out)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "segment 'vip' not found" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ dry run = real send checks


def _twenty_nine(bad_address: bool = True):
    """29 contacts; contact 18's company name holds a line break (and a header it would smuggle
    in), contact 25's address a space when ``bad_address``."""
    n = 29
    audience = pd.DataFrame(
        {
            "contact_id": range(1, n + 1),
            "account_id": range(101, 101 + n),
            "name": [f"Buyer {i}" for i in range(1, n + 1)],
            "company_name": [f"Company {i}" for i in range(1, n + 1)],
            "segment": "At risk",
            "address": [f"buyer{i}@example.com" for i in range(1, n + 1)],
        }
    )
    audience.loc[17, "company_name"] = "Evil Corp\nBcc: everyone@example.com"
    if bad_address:
        audience.loc[24, "address"] = "jo e@example.com"
    return outreach.render_messages(audience, "EM-T-29")


def test_dry_run_cleans_headers_and_sets_aside_by_id():
    msgs = _twenty_nine()
    ok, aside = outreach.prepare_emails(msgs)
    assert len(ok) + len(aside) == 29
    assert aside.contact_id.tolist() == [25]
    assert aside.reason.iloc[0] == "recipient address is not a valid address"
    assert "@" not in aside.to_csv()  # reasons name ids, never addresses
    cleaned = ok.set_index("contact_id").loc[18]
    assert cleaned.cleaned == "subject had a line break"
    assert cleaned.subject == "Evil Corp Bcc: everyone@example.com: an offer from campaign EM-T-29"
    assert (ok.cleaned != "").sum() == 1
    # each kept message serialises for SMTP as built by the real send
    for r in ok.itertuples():
        msg = outreach.build_email("f@example.com", r.address, r.subject, r.body)
        assert outreach.message_problem(msg) == ""
        assert "Bcc" not in msg
    with pytest.raises(ValueError, match="HELPERS_SMTP_FROM"):
        outreach.prepare_emails(msgs, sender="not an address")


def test_address_and_size_checks():
    assert outreach.check_address("a@example.com") == ""
    assert "line break" in outreach.check_address("a@example.com\nBcc: b@example.com")
    assert "not ASCII" in outreach.check_address("张伟@example.cn")
    assert "not a valid" in outreach.check_address("no-domain")
    assert "not a valid" in outreach.check_address("a@localhost")
    msg = outreach.build_email("f@example.com", "a@example.com", "Hi", "x " * 400)
    assert outreach.message_problem(msg) == ""
    assert "over the 100 bytes limit" in outreach.message_problem(msg, max_bytes=100)
    long_word = outreach.build_email("f@example.com", "a@example.com", "y" * 2000, "z" * 3000)
    assert outreach.message_problem(long_word) == ""  # folded and encoded within 998


def test_send_never_stops_part_way_on_a_bad_message(server, tmp_path):
    handler, port, crt = server
    settings = outreach.SmtpSettings.from_env(_env(port, crt))
    log = tmp_path / "send_log.jsonl"
    # a message that cannot be sent: nothing goes out, the contact is named by id
    with pytest.raises(outreach.SendError, match=r"contact id\(s\) 25"):
        outreach.send_messages(_twenty_nine(), settings, log, rate_per_second=1000)
    assert handler.received == [] and not log.exists()
    # what the dry run keeps is exactly what the real send delivers: all 28, the line break
    # cleaned (it stopped the send after 17 of 29 before)
    ok, _ = outreach.prepare_emails(_twenty_nine(), settings.sender)
    assert outreach.send_messages(ok, settings, log, rate_per_second=1000) == 28
    assert len(handler.received) == 28
    evil = [body for rcpt, body in handler.received if rcpt == ["buyer18@example.com"]][0]
    assert "Subject: Evil Corp Bcc: everyone@example.com: an offer" in evil
    headers = evil.split("\r\n\r\n")[0]  # the body may hold the break: it is not a header
    assert "\nBcc:" not in headers and "\nbcc:" not in headers.lower()
    # the same messages unprepared (only the line break, no bad address) also go out whole
    log2 = tmp_path / "log2.jsonl"
    assert outreach.send_messages(_twenty_nine(False), settings, log2, rate_per_second=1000) == 29


def test_cli_dry_run_names_set_aside_contacts(small_sample, tmp_path, capsys, monkeypatch):
    import dataclasses

    from helpers.data.dataset import open_dataset

    real = open_dataset

    def with_bad_company(*args, **kwargs):
        ds = real(*args, **kwargs)
        acc = ds.accounts.mutate(company_name=ds.accounts.company_name + "\nX-Evil: 1")
        return dataclasses.replace(ds, tables={**ds.tables, "accounts": acc})

    monkeypatch.setattr(outreach, "open_dataset", with_bad_company)
    out = tmp_path / "exports"
    argv = ["send", "--campaign", "EM-NEXT-03", "--segment", "at_risk"]
    assert outreach.cli(argv + ["--data", str(small_sample), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "subject(s) held a line break and were put on one line" in printed
    export = pd.read_csv(next(out.glob("*-email.csv")))
    assert not export.subject.str.contains("\n").any()
    assert (export.cleaned == "subject had a line break").all()


# ------------------------------------------------------- the accounts' own recommended products


def test_dry_run_renders_each_accounts_own_recommended_products(small_sample, tmp_path):
    """The recommendations report's export feeds the templates' ``recommended``: each message
    names its own account's products (and no other account's), with their reasons."""
    from helpers.data import open_dataset

    ds = open_dataset(small_sample)
    accounts = ds.accounts.account_id.to_pandas().astype(int).tolist()
    rows = []
    for a in accounts:  # two products per account, unique to it, with a reason naming it
        rows += [(a, "new", 1, f"NEW-{a}", 0.9, f"picked for {a}", "item_knn")]
        rows += [(a, "again", 1, f"AGAIN-{a}", 1.2, f"due for {a}", "own re-order interval")]
    columns = ["account_id", "kind", "rank", "sku", "score", "reason", "model"]
    recs = pd.DataFrame(rows, columns=columns)
    folder = tmp_path / "exports" / "recommendations"
    folder.mkdir(parents=True)
    recs.to_csv(folder / "recommendations.csv", index=False)
    r = outreach.run("EM-REC-01", "at_risk", data_dir=small_sample, out_dir=tmp_path / "exports")
    messages = pd.read_csv(r["export"])
    assert len(messages) > 0
    for m in messages.itertuples():
        a = m.account_id
        assert f"NEW-{a}: picked for {a}" in m.body and f"AGAIN-{a}: due for {a}" in m.body
        others = [b for b in accounts if b != a]
        assert not any(f"NEW-{b}:" in m.body for b in others)
    # without the file, the messages render without the lists (the variable is empty)
    plain = outreach.render_messages(
        outreach.build_audience(_contacts(), _accounts(), _segments(), "at_risk"), "EM-T-2"
    )
    assert "Picked for" not in plain.body[0]
    with pytest.raises(ValueError, match="recommendations file"):
        outreach.run("EM-REC-01", "at_risk", data_dir=small_sample, out_dir=tmp_path,
                     recommendations=tmp_path / "missing.csv")  # fmt: skip
