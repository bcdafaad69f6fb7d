"""Fake catalogues for tests of *who reads which language*, independent of real translations.

With :func:`marked_catalogues`, every shipped language "translates" a message by prefixing it
with its code (``[de] Checked in.``), so a test can assert which reader a text was written for.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import bot.i18n as i18n
from bot.sandbox.actors import Person

FAKE_LANGUAGES = ("de", "en", "es", "fr", "pt_BR")


class Marked(gettext.NullTranslations):
    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language

    def gettext(self, message: str) -> str:
        return f"[{self.language}] {message}"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return f"[{self.language}] {msgid1 if n == 1 else msgid2}"

    def pgettext(self, context: str, message: str) -> str:
        return f"[{self.language}] {message}"


@contextmanager
def marked_catalogues(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def catalogue(language: str) -> gettext.NullTranslations:
        return gettext.NullTranslations() if language == i18n.SOURCE else Marked(language)

    monkeypatch.setattr(i18n, "_catalogue", catalogue)
    monkeypatch.setattr(i18n, "languages", lambda: FAKE_LANGUAGES)
    i18n.speaker.cache_clear()
    try:
        yield
    finally:
        i18n.speaker.cache_clear()


def marked(language: str, text: str) -> str:
    return f"[{language}] {text}"


def as_seen_by(person: Person, text: str, context: str | None = None) -> str:
    """``text`` as ``person`` reads it with the real catalogues (their Discord language)."""
    words = i18n.speaker(i18n.language_of(person.user.locale))
    return words.p(context, text) if context else words(text)
