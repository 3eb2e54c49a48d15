"""Reports in the reader's language: message catalogs and locale-aware numbers and dates.

Every human-readable string a report shows goes through :func:`_` (``gettext`` with named
placeholders): ``_("{count} accounts ordered in {month}", count=..., month=...)``. The English
text is the message id; the Chinese text lives in the gettext catalog
``src/helpers/locale/zh_CN/LC_MESSAGES/helpers.po``, managed with Babel (``python -m
helpers.i18n extract`` collects the ``_()`` / ``N_()`` strings of ``src/helpers`` into the
catalog, keeping translations already made). The catalog is read with Babel and compiled in
memory (no ``.mo`` file in the repository). Nothing is translated by replacing strings in
rendered output.

Numbers, money, percentages and dates are formatted for the language with Babel's CLDR data.
English keeps the project's existing formats (``58.97M``, ``12.3%``, ``2026-10``), so an
English report is unchanged; Chinese writes compact amounts in 万 / 亿 (``5,897.23万``,
``1.23亿``), money with the currency's symbol (CNY as ¥), months as ``2026年10月``.

The language is per process (each report runs in its own kernel): :func:`set_language` at the
top of a notebook. The notebooks' ``lang`` parameter and the zh build variants are the next
step of issue 20; today the data-quality section, the lists' lines and the sections' "this
section needs" line are in the catalog.
"""

from __future__ import annotations

import datetime as _dt
import gettext as _gettext
import io
import re
import string
from functools import cache
from pathlib import Path

__all__ = [
    "LANGUAGES",
    "N_",
    "_",
    "catalog_problems",
    "compact",
    "currency",
    "day",
    "integer",
    "language",
    "money",
    "month",
    "percent",
    "placeholders",
    "set_language",
]

#: Report languages: code -> Babel locale (also the catalog's folder). "en" is the source.
LANGUAGES: dict[str, str] = {"en": "en", "zh": "zh_CN"}
LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "helpers"

_state = {"lang": "en", "currency": ""}


def set_language(lang: str = "en", currency: str = "") -> None:
    """Use ``lang`` ("en" or "zh") for every later :func:`_` and number format in this
    process; ``currency`` is an ISO 4217 code (``CNY``, ``EUR``) shown with money amounts, or
    "" for none (the data's currency, unnamed, as the English reports do today)."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {sorted(LANGUAGES)}, got {lang!r}")
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError(f"currency must be an ISO 4217 code such as CNY, got {currency!r}")
    _state.update(lang=lang, currency=currency)


def language() -> str:
    """The language set by :func:`set_language` ("en" by default)."""
    return _state["lang"]


def currency() -> str:
    """The currency code set by :func:`set_language` ("" when none)."""
    return _state["currency"]


def _locale() -> str:
    return LANGUAGES[_state["lang"]]


# ---------------------------------------------------------------------------- catalogs


def _po_path(lang: str) -> Path:
    return LOCALE_DIR / LANGUAGES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _translations(lang: str) -> _gettext.NullTranslations:
    """The catalog of ``lang``, read from its .po file with Babel and compiled in memory."""
    path = _po_path(lang)
    if lang == "en" or not path.is_file():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalog = read_po(handle, locale=LANGUAGES[lang])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark ``message`` for the catalog without translating it now (a module-level constant,
    translated later by ``_(constant)``)."""
    return message


def _(message: str, /, **values) -> str:
    """``message`` in the current language, its ``{name}`` placeholders filled from
    ``values`` (already formatted strings or numbers). A message with no translation yet is
    shown in English (the test suite fails on any untranslated message)."""
    text = _translations(_state["lang"]).gettext(message)
    return text.format(**values) if values else text


def placeholders(message: str) -> set[str]:
    """The named placeholders of a message template (``{count}``, ``{month}``)."""
    return {name for _text, name, _spec, _conv in string.Formatter().parse(message) if name}


def catalog_problems(lang: str = "zh") -> list[str]:
    """What is wrong with ``lang``'s catalog: messages with no translation, fuzzy ones, and
    translations whose placeholders differ from their English template."""
    from babel.messages.pofile import read_po

    path = _po_path(lang)
    if not path.is_file():
        return [f"no catalog at {path}"]
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=LANGUAGES[lang])
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if not message.string:
            problems.append(f"untranslated: {message.id!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif placeholders(message.id) != placeholders(message.string):
            problems.append(
                f"placeholders differ: {message.id!r} has {sorted(placeholders(message.id))}, "
                f"{message.string!r} has {sorted(placeholders(message.string))}"
            )
    return problems


# ----------------------------------------------------------------------- numbers, dates


def _short_en(x: float) -> str:
    sign = "-" if x < 0 else ""
    x = abs(float(x))
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if x >= size:
            return f"{sign}{x / size:.2f}{suffix}"
    return f"{sign}{x:,.0f}"


def _short_zh(x: float) -> str:
    """Chinese compact amounts: 万 (10^4) and 亿 (10^8) with thousands grouping, two
    decimals at most (5,897.23万, 1.23亿). Babel's own compact format (CLDR) writes the same
    units but without grouping (5897.23万); the grouped form is the one Chinese finance pages
    use, so the unit step is done here and the digits by Babel's ``format_decimal``."""
    from babel.numbers import format_decimal

    size, unit = next(((s, u) for s, u in ((1e8, "亿"), (1e4, "万")) if abs(x) >= s), (1, ""))
    return format_decimal(x / size, "#,##0.##", locale="zh_CN") + unit


def compact(x: float) -> str:
    """A large amount short: en ``58.97M`` (K, M, B), zh ``5,897.23万`` (万, 亿)."""
    return _short_zh(x) if _state["lang"] == "zh" else _short_en(x)


def money(x: float, code: str | None = None) -> str:
    """A money amount, compact, with the currency: en ``58.97M`` (and `` EUR`` after it when a
    currency is set), zh ``¥5,897.23万`` (the symbol Babel knows for the code)."""
    code = currency() if code is None else code
    text = compact(x)
    if not code:
        return text
    if _state["lang"] == "zh":
        from babel.numbers import get_currency_symbol

        return get_currency_symbol(code, locale=_locale()) + text
    return f"{text} {code}"


def percent(x: float, digits: int = 1) -> str:
    """0.1234 -> ``12.3%`` (both languages write the percent sign the same way)."""
    if x is None or x != x:
        return "n/a" if _state["lang"] == "en" else "无"
    return f"{x:.{digits}%}"


def integer(n: float) -> str:
    """12345 -> ``12,345`` (CLDR grouping of the language)."""
    from babel.numbers import format_decimal

    return format_decimal(int(n), locale=_locale())


def month(value) -> str:
    """A month: en ``2026-10``, zh ``2026年10月``."""
    d = _as_date(value)
    if _state["lang"] == "zh":
        from babel.dates import format_date

        return format_date(d, "yyyy年M月", locale="zh_CN")
    return f"{d:%Y-%m}"


def day(value) -> str:
    """A day: en ``2026-10-31`` (ISO, as today), zh ``2026年10月31日``."""
    d = _as_date(value)
    if _state["lang"] == "zh":
        from babel.dates import format_date

        return format_date(d, "yyyy年M月d日", locale="zh_CN")
    return d.isoformat()


def _as_date(value) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp / Period start
        return value.to_pydatetime().date()
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    return _dt.date.fromisoformat(text[:10])


# ------------------------------------------------------------------ catalog maintenance


def extract(write: bool = True) -> list[str]:
    """Collect every ``_("...")`` / ``N_("...")`` literal of ``src/helpers`` with Babel's
    extractor and update each language's catalog: new messages added untranslated, messages
    no longer used made obsolete, translations kept. Returns the message ids found."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po, write_po

    source = Catalog(domain=DOMAIN, project="helpers", copyright_holder="the helpers authors")
    found = extract_from_dir(
        str(LOCALE_DIR.parent),
        method_map=[("**.py", "python")],
        keywords={"_": None, "N_": None},
        comment_tags=("Translators:",),
    )
    for filename, lineno, message, comments, context in found:
        source.add(message, locations=[(filename, lineno)], auto_comments=comments, context=context)
    for lang in LANGUAGES:
        if lang == "en" or not write:
            continue
        path = _po_path(lang)
        if path.is_file():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=LANGUAGES[lang])
        else:
            catalog = Catalog(locale=LANGUAGES[lang], domain=DOMAIN, project="helpers")
        catalog.update(source, no_fuzzy_matching=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            # file names only (no line numbers): an edit elsewhere in a file leaves the catalog be
            write_po(handle, catalog, width=100, sort_output=True, include_lineno=False)
        _translations.cache_clear()
    return [m.id for m in source if m.id]


if __name__ == "__main__":  # python -m helpers.i18n extract
    import sys

    if sys.argv[1:] != ["extract"]:
        sys.exit("usage: python -m helpers.i18n extract")
    ids = extract()
    print(f"{len(ids)} messages in the catalogs under {LOCALE_DIR}")
