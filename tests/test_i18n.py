"""The message catalogs and the locale formats of the Chinese reports (helpers.i18n).

The catalog tests fail when any message lacks a Chinese translation, when a translation's
placeholders differ from its English template, or when the catalog and the ``_()`` strings of
the source have drifted apart (``python -m helpers.i18n extract`` brings them in step)."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import i18n, present
from helpers.sections import needs_line


@pytest.fixture
def zh():
    i18n.set_language("zh", "CNY")
    yield
    i18n.set_language("en")


def test_every_message_has_a_chinese_translation_with_the_same_placeholders():
    assert i18n.catalog_problems("zh") == []


def test_the_catalog_holds_exactly_the_messages_of_the_source():
    catalog = set(_catalog_ids())
    source = set(i18n.extract(write=False))
    assert source - catalog == set(), "run: python -m helpers.i18n extract, then translate"
    assert catalog - source == set(), "messages no longer used: python -m helpers.i18n extract"


def _catalog_ids() -> list[str]:
    from babel.messages.pofile import read_po

    with i18n._po_path("zh").open("rb") as handle:
        return [m.id for m in read_po(handle) if m.id]  # obsolete ones are kept apart


def test_placeholder_check_catches_a_renamed_placeholder():
    assert i18n.placeholders("{count} accounts in {month}") == {"count", "month"}
    assert i18n.placeholders("{count} 个账户") != i18n.placeholders("{count} accounts in {month}")


def test_english_keeps_todays_formats():
    assert i18n.language() == "en"
    assert present.money(58_972_338) == "58.97M"
    assert present.money(777_990) == "777.99K"
    assert present.money(950) == "950"
    assert present.pct(0.1234) == "12.3%"
    assert present.count(12345) == "12,345"
    assert i18n.month("2026-10") == "2026-10"
    assert i18n.day(dt.date(2026, 10, 31)) == "2026-10-31"


def test_chinese_numbers_money_and_dates(zh):
    assert i18n.compact(58_972_338) == "5,897.23万"
    assert i18n.compact(123_456_789_012) == "1,234.57亿"
    assert i18n.compact(-25_000) == "-2.5万"
    assert i18n.compact(9_999) == "9,999"
    assert i18n.money(58_972_338) == "¥5,897.23万"
    assert present.count(12345) == "12,345"
    assert i18n.month(dt.date(2026, 10, 1)) == "2026年10月"
    assert i18n.day("2026-10-31") == "2026年10月31日"


def test_messages_are_translated_and_filled(zh):
    line = needs_line({"shipments": ("order_id", "delivered_at")})
    assert (
        line
        == "本节需要 shipments 表（order_id, delivered_at）：参见 docs/bring-your-own-data.md。"
    )
    two = needs_line({"shipments": (), "inventory": ()})
    assert two.startswith("本节需要 shipments 表 和 inventory 表")


def test_english_messages_read_as_before():
    line = needs_line({"shipments": ("order_id", "delivered_at")})
    assert line == (
        "This section needs the shipments table (order_id, delivered_at): "
        "see docs/bring-your-own-data.md."
    )


def test_a_language_or_currency_not_known_is_refused():
    with pytest.raises(ValueError, match="lang"):
        i18n.set_language("fr")
    with pytest.raises(ValueError, match="ISO 4217"):
        i18n.set_language("zh", "yuan")
