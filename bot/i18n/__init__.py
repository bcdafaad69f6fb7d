"""Every word the bot says, in its reader's language.

The source language is English. A message is written once, in English, as a ``str.format``
template with named fields, where it is used::

    t("Checked in: {mood}.", mood=label)                  # a Speaker, in the Discord layer
    t.n("{n} person was here", "{n} people were here", n)  # plural forms follow the language
    raise InvalidInput(msg("There's no circle called {name}.", name=name))   # a service: lazy

Services never know who reads their words: they return or raise :class:`Msg` (lazy, rendered
later in the reader's language). The Discord layer picks the reader's :class:`Speaker`: the
person's Discord language for a private reply, the server's language for a public post, the
language the person last used for a direct message sent later (see ``bot/ui/language.py``).

Catalogues are gettext ``.po`` files in ``bot/locales/<language>/LC_MESSAGES/peer_circles.po``,
compiled to ``.mo`` (``python -m bot.catalogues compile``), extracted with Babel
(``python -m bot.catalogues extract``). A language is shipped by adding its catalogue: nothing else
lists languages. Dates, times, numbers and "in 3 days" come from Babel's CLDR data.

No Discord import here.
"""

from __future__ import annotations

import contextvars
import functools
import gettext
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.lists import format_list

__all__ = [
    "DOMAIN",
    "LOCALE_DIR",
    "N_",
    "SOURCE",
    "Msg",
    "Speaker",
    "catalogue_digest",
    "language_of",
    "languages",
    "msg",
    "msgs",
    "pN_",
    "set_typing_language",
    "speaker",
    "typing_language",
]

SOURCE: Final = "en"
DOMAIN: Final = "peer_circles"
LOCALE_DIR: Final[Path] = Path(__file__).resolve().parent.parent / "locales"


@functools.lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """English plus every language with a compiled catalogue, e.g. ``("de", "en", "es", "fr", "pt_BR")``."""
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    return tuple(sorted(found | {SOURCE}))


def language_of(tag: str | None) -> str:
    """The shipped language for a locale tag such as Discord's ``pt-BR``, ``es-419`` or ``en-GB``.

    An exact match wins (``pt-BR`` -> ``pt_BR``), then the language alone (``es-419`` -> ``es``,
    ``fr-CA`` -> ``fr``), then English.
    """
    if not tag:
        return SOURCE
    shipped = languages()
    normal = str(tag).replace("-", "_")
    if normal in shipped:
        return normal
    head, _, tail = normal.partition("_")
    if f"{head}_{tail.upper()}" in shipped:
        return f"{head}_{tail.upper()}"
    if head in shipped:
        return head
    regional = sorted(lang for lang in shipped if lang.partition("_")[0] == head)
    return regional[0] if regional else SOURCE


def N_(text: str) -> str:
    """Mark a message for extraction where it is defined; translate it where it is shown."""
    return text


_TYPING: Final[contextvars.ContextVar[str | None]] = contextvars.ContextVar("typing_language", default=None)


def set_typing_language(language: str | None) -> None:
    """The language the person whose interaction is being handled writes in (set by the Discord layer).

    Readers of typed words (days of the week) use it to settle what two languages read differently:
    "Do" is Thursday in German and Sunday in Spanish.
    """
    _TYPING.set(language)


def typing_language() -> str | None:
    return _TYPING.get()


def pN_(context: str, text: str) -> tuple[str, str]:
    """Mark a message with a gettext context for extraction; show it with ``t.p(*marked)``."""
    return context, text


@dataclass(frozen=True, slots=True)
class Msg:
    """A message not yet in anyone's language: rendered by the reader's :class:`Speaker`."""

    text: str
    args: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None
    n: int | None = None

    def __str__(self) -> str:
        """The English text (for logs and tests; never shown to a person who reads another language)."""
        return speaker(SOURCE).render(self)


def msg(text: str, /, **args: Any) -> Msg:
    return Msg(text, args)


def msgs(singular: str, plural: str, n: int, /, **args: Any) -> Msg:
    return Msg(singular, {"n": n, **args}, plural, n)


def _catalogue(language: str) -> gettext.NullTranslations:
    if language == SOURCE:
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    except OSError:
        return gettext.NullTranslations()


class Speaker:
    """Words, dates and numbers in one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.locale = Locale.parse(language)
        self._catalogue = _catalogue(language)

    def __repr__(self) -> str:
        return f"Speaker({self.language!r})"

    # -- words ----------------------------------------------------------------------------

    def __call__(self, text: str, /, **args: Any) -> str:
        translated = self._catalogue.gettext(text)
        return translated.format(**args) if args else translated

    def n(self, singular: str, plural: str, n: int, /, **args: Any) -> str:
        translated = self._catalogue.ngettext(singular, plural, n)
        return translated.format(n=n, **args)

    def p(self, context: str, text: str, /, **args: Any) -> str:
        translated = self._catalogue.pgettext(context, text)
        return translated.format(**args) if args else translated

    def render(self, message: Msg | str) -> str:
        if isinstance(message, str):
            return self(message)
        args = {k: self._value(v) for k, v in message.args.items()}
        if message.plural is not None and message.n is not None:
            return self.n(message.text, message.plural, message.n, **{k: v for k, v in args.items() if k != "n"})
        return self(message.text, **args)

    def _value(self, value: Any) -> Any:
        if isinstance(value, Msg):
            return self.render(value)
        if isinstance(value, tuple):  # a list of things: "A, B and C" as the language writes it
            return self.listing([str(self._value(v)) for v in value])
        return value

    def listing(self, items: Sequence[str]) -> str:
        """``A, B and C`` as the language writes a list (CLDR)."""
        return format_list(list(items), locale=self.locale) if items else ""

    # -- dates, times and numbers (CLDR, through Babel) ----------------------------------

    def date(self, value: date | datetime, form: str = "medium") -> str:
        return babel_dates.format_date(value, form, locale=self.locale)

    def time(self, value: time | datetime, form: str = "short", zone: tzinfo | None = None) -> str:
        return babel_dates.format_time(value, form, tzinfo=zone, locale=self.locale)

    def datetime(self, value: datetime, form: str = "medium", zone: tzinfo | None = None) -> str:
        return babel_dates.format_datetime(value, form, tzinfo=zone, locale=self.locale)

    def weekday(self, index: int, width: str = "wide") -> str:
        """Monday is 0, as in :meth:`datetime.date.weekday`."""
        return str(self.locale.days["format"][width][index])

    def relative(self, delta: timedelta, *, add_direction: bool = True) -> str:
        """ "in 3 days", "2 hours ago" (or "3 days" without ``add_direction``)."""
        return babel_dates.format_timedelta(delta, add_direction=add_direction, locale=self.locale)

    def number(self, value: float) -> str:
        return babel_numbers.format_decimal(value, locale=self.locale)


def catalogue_digest() -> str:
    """A fingerprint of the compiled catalogues (the slash commands are synced again when it changes)."""
    h = hashlib.sha256()
    for path in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")):
        h.update(path.parent.parent.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=16)
def speaker(language: str) -> Speaker:
    return Speaker(language if language in languages() else SOURCE)
