"""User-facing text in the station's language: one gettext catalogue, Chinese by default.

Every word a courier, a sorter or a station manager reads on a page (maps, sort sheets,
labels, report) goes through :class:`Text`: English message ids in the code, their Chinese in
``courier/messages.zh_CN.po`` (edited with any PO editor or ``pybabel``).
The catalogue is read with Babel and compiled in memory, so there is no build step and no
``.mo`` file to go stale; ``tests/test_i18n.py`` extracts every message id from the package
(as ``pybabel extract`` does) and fails when one has no translation.

Placeholders are ``str.format`` fields (``"Trip {n}"``), so a translation may move them.
Numbers are formatted by Babel for the locale; clock times stay ``HH:MM`` in both languages.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

__all__ = ["LANGS", "ZH", "Lang", "Text", "catalogue_path", "text_for"]

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

# Our language codes -> (Babel locale, HTML lang attribute).
_LOCALES: dict[str, tuple[str, str]] = {"zh": ("zh_CN", "zh-CN"), "en": ("en", "en")}


def catalogue_path(lang: str) -> Path:
    """The PO file that holds ``lang``'s translations (English is the message ids)."""
    locale = _LOCALES[lang][0]
    return Path(__file__).with_name(f"messages.{locale}.po")


@functools.cache
def _translations(lang: str) -> NullTranslations:
    if lang == "en":
        return NullTranslations()
    with catalogue_path(lang).open("rb") as fh:
        catalog = read_po(fh, locale=_LOCALES[lang][0])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return Translations(buffer)


@dataclass(frozen=True, slots=True)
class Text:
    """Translate and format for one language: ``t("Trip {n}", n=2)`` -> ``"第2趟"``."""

    lang: Lang = "zh"

    def __call__(self, message: str, /, **fields: object) -> str:
        text = _translations(self.lang).gettext(message)
        return text.format(**fields) if fields else text

    def n(self, singular: str, plural: str, count: int, /, **fields: object) -> str:
        """The singular or plural message for ``count`` (Chinese has one form); ``{n}`` is
        the count."""
        text = _translations(self.lang).ngettext(singular, plural, count)
        return text.format(n=self.num(count, 0), **fields)

    def num(self, value: float, decimals: int = 1) -> str:
        """``value`` with grouping and ``decimals`` places, as the locale writes numbers."""
        return _num(value, decimals, _LOCALES[self.lang][0])

    @property
    def html_lang(self) -> str:
        """The page's ``<html lang>``: ``zh-CN`` or ``en``."""
        return _LOCALES[self.lang][1]


# The default of every page writer: Chinese first.
ZH = Text("zh")


def text_for(lang: str) -> Text:
    """Return the :class:`Text` for ``lang``.

    Raises
    ------
    ValueError
        ``lang`` is not one of :data:`LANGS`.
    """
    if lang not in _LOCALES:
        raise ValueError(f"unknown language {lang!r}; allowed: {', '.join(LANGS)}")
    return Text(lang)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1 << 16)
def _num(value: float, decimals: int, locale: str) -> str:
    # Babel parses the pattern and looks the locale up on every call (0.1 ms; a 20k plan's
    # pages format 8,000 numbers, most of them the same few).
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(value, format=pattern, locale=locale)
