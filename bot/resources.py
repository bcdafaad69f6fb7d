"""Crisis-line directory loaded from ``data/crisis_resources.json``.

A pure loader: no discord import, no network. The default file is read on
first use and then cached (see :meth:`CrisisDirectory.load`). The numbers in
the file must be re-verified by the operator. Its ``_verify`` note says how,
and :attr:`CrisisDirectory.verify_note` exposes it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEFAULT_RESOURCES_PATH",
    "MAX_SEARCH_RESULTS",
    "REVERIFY_AFTER_DAYS",
    "CountryResources",
    "CrisisDirectory",
    "Dialable",
    "InternationalResources",
    "ResourceDataError",
    "Service",
    "Source",
    "parse_phone",
    "parse_text",
]

DEFAULT_RESOURCES_PATH: Final[Path] = Path(__file__).resolve().parent.parent / "data" / "crisis_resources.json"
MAX_SEARCH_RESULTS: Final = 25  # Discord's limit for autocomplete choices
REVERIFY_AFTER_DAYS: Final = 183  # six months: `peer-circles resources check` lists older entries

_CODE: Final = re.compile(r"^[A-Z]{2}$")


class ResourceDataError(ValueError):
    """The crisis resources file is malformed."""


@dataclass(frozen=True, slots=True)
class Dialable:
    """One number read out of a ``phone`` or ``text`` value.

    ``digits`` keeps a leading ``+`` and drops every separator; ``keyword`` is the word to
    send (``Text HOME to 741741``); ``channel`` is ``"sms"`` or ``"whatsapp"`` for text lines;
    ``qualifier`` is the bracketed note after a number, such as ``landline``.
    """

    digits: str
    shown: str
    qualifier: str | None = None
    keyword: str | None = None
    channel: str | None = None


# A number as written: digits with spaces, dots, hyphens or brackets, 3 to 15 digits in all.
_NUMBER: Final = r"\+?\(?\d[\d ().-]*\d\)?"
_PHONE_ITEM: Final = re.compile(rf"^(?P<number>{_NUMBER})(?:\s+\((?P<qualifier>[^()]+)\))?$")
_PHONE_SPLIT: Final = re.compile(r",\s*(?:or\s+)?|\s+or\s+")
_TEXT_KEYWORD: Final = re.compile(rf"^(?:Text|SMS)\s+(?P<keyword>[A-Z0-9]+)\s+to\s+(?P<number>{_NUMBER})$")
_TEXT_CHANNEL: Final = re.compile(
    rf"^(?:(?P<sms>SMS)|(?P<whatsapp>(?:[A-Z][A-Za-z]+ on )?WhatsApp:?))\s+(?P<number>{_NUMBER})$"
)
_TEXT_BARE: Final = re.compile(rf"^(?P<number>{_NUMBER})$")


def _digits(number: str, where: str) -> str:
    digits = re.sub(r"[^\d]", "", number)
    if not 3 <= len(digits) <= 15:
        raise ResourceDataError(f"{where}: {number!r} is not a phone number (3 to 15 digits)")
    if number.count("(") != number.count(")"):
        raise ResourceDataError(f"{where}: {number!r} has unbalanced brackets")
    return ("+" if number.startswith("+") else "") + digits


def parse_phone(value: str, where: str = "phone") -> tuple[Dialable, ...]:
    """Read ``"0800 111 0 111, 0800 111 0 222 or 116 123"`` into its numbers.

    Raises :class:`ResourceDataError` when any part is not a number (with an optional
    bracketed qualifier), so a typo in the directory fails at load, not in front of a person.
    """
    found: list[Dialable] = []
    for part in _PHONE_SPLIT.split(value.strip()):
        m = _PHONE_ITEM.match(part.strip())
        if m is None:
            raise ResourceDataError(f"{where}: {part!r} is not a phone number")
        found.append(Dialable(_digits(m["number"], where), m["number"], qualifier=m["qualifier"]))
    return tuple(found)


def parse_text(value: str, where: str = "text") -> Dialable:
    """Read a text line: ``"Text HOME to 741741"``, ``"SMS 31393"``, ``"WhatsApp +65 6669 1771"`` or a number."""
    text = value.strip()
    if m := _TEXT_KEYWORD.match(text):
        return Dialable(_digits(m["number"], where), m["number"], keyword=m["keyword"], channel="sms")
    if m := _TEXT_CHANNEL.match(text):
        channel = "whatsapp" if m["whatsapp"] else "sms"
        return Dialable(_digits(m["number"], where), m["number"], channel=channel)
    if m := _TEXT_BARE.match(text):
        return Dialable(_digits(m["number"], where), m["number"], channel="sms")
    raise ResourceDataError(
        f"{where}: {value!r} is not a text line (write 'Text WORD to NUMBER', 'SMS NUMBER', 'WhatsApp NUMBER' or a number)"
    )


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    phone: str | None = None
    text: str | None = None
    web: str | None = None
    hours: str | None = None
    notes: str | None = None
    verified: dt.date | None = None


@dataclass(frozen=True, slots=True)
class CountryResources:
    code: str
    country: str
    emergency: str
    services: tuple[Service, ...]
    aliases: tuple[str, ...] = ()
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class InternationalResources:
    name: str
    services: tuple[Service, ...]
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    url: str | None = None


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def _opt_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ResourceDataError(f"{where}.{key}: expected a non-empty string or null")
    return value.strip()


def _req_str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = _opt_str(raw, key, where)
    if value is None:
        raise ResourceDataError(f"{where}.{key}: required")
    return value


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ResourceDataError(f"{where}: expected an object")
    return value


def _services(value: object, where: str) -> tuple[Service, ...]:
    if not isinstance(value, list) or not value:
        raise ResourceDataError(f"{where}.services: expected a non-empty list")
    services: list[Service] = []
    for i, item in enumerate(value):
        w = f"{where}.services[{i}]"
        raw = _obj(item, w)
        verified_raw = _opt_str(raw, "verified", w)
        try:
            verified = dt.date.fromisoformat(verified_raw) if verified_raw else None
        except ValueError:
            raise ResourceDataError(f"{w}.verified: expected a date like 2026-12-05") from None
        service = Service(
            name=_req_str(raw, "name", w),
            phone=_opt_str(raw, "phone", w),
            text=_opt_str(raw, "text", w),
            web=_opt_str(raw, "web", w),
            hours=_opt_str(raw, "hours", w),
            notes=_opt_str(raw, "notes", w),
            verified=verified,
        )
        if service.phone is not None:
            parse_phone(service.phone, f"{w}.phone")
        if service.text is not None:
            parse_text(service.text, f"{w}.text")
        if not (service.phone or service.text or service.web):
            raise ResourceDataError(f"{w}: needs at least one of phone, text or web")
        if service.web is not None and not service.web.startswith("https://"):
            raise ResourceDataError(f"{w}.web: must be an https:// URL")
        services.append(service)
    return tuple(services)


@dataclass(frozen=True)
class CrisisDirectory:
    """All country entries plus the international fallback."""

    entries: tuple[CountryResources, ...]
    international: InternationalResources
    sources: tuple[Source, ...] = ()
    updated: str | None = None
    verify_note: str | None = None
    _by_code: Mapping[str, CountryResources] = field(init=False, repr=False, compare=False)
    _by_alias: Mapping[str, CountryResources] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code: dict[str, CountryResources] = {}
        by_alias: dict[str, CountryResources] = {}
        for entry in self.entries:
            if entry.code in by_code:
                raise ResourceDataError(f"duplicate country code {entry.code}")
            by_code[entry.code] = entry
            for alias in entry.aliases:
                by_alias.setdefault(_fold(alias), entry)
        object.__setattr__(self, "_by_code", by_code)
        object.__setattr__(self, "_by_alias", by_alias)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> CrisisDirectory:
        """Load a directory. ``None`` means the bundled file, read once and cached."""
        if path is None:
            return _load_default()
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return cls.from_dict(_obj(data, "root"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CrisisDirectory:
        countries = _obj(data.get("countries"), "countries")
        entries: list[CountryResources] = []
        for code, value in countries.items():
            if not isinstance(code, str) or not _CODE.match(code):
                raise ResourceDataError(f"countries: {code!r} is not an ISO 3166-1 alpha-2 code")
            where = f"countries.{code}"
            raw = _obj(value, where)
            aliases = raw.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
                raise ResourceDataError(f"{where}.aliases: expected a list of strings")
            entries.append(
                CountryResources(
                    code=code,
                    country=_req_str(raw, "country", where),
                    emergency=_req_str(raw, "emergency", where),
                    services=_services(raw.get("services"), where),
                    aliases=tuple(a.strip() for a in aliases),
                    notes=_opt_str(raw, "notes", where),
                )
            )
        intl_raw = _obj(data.get("international"), "international")
        international = InternationalResources(
            name=_opt_str(intl_raw, "name", "international") or "International",
            services=_services(intl_raw.get("services"), "international"),
            notes=_opt_str(intl_raw, "notes", "international"),
        )
        sources: list[Source] = []
        raw_sources = data.get("_sources", [])
        if not isinstance(raw_sources, list):
            raise ResourceDataError("_sources: expected a list")
        for i, item in enumerate(raw_sources):
            raw = _obj(item, f"_sources[{i}]")
            sources.append(Source(_req_str(raw, "name", f"_sources[{i}]"), _opt_str(raw, "url", f"_sources[{i}]")))
        return cls(
            entries=tuple(sorted(entries, key=lambda e: _fold(e.country))),
            international=international,
            sources=tuple(sources),
            updated=_opt_str(data, "_updated", "root"),
            verify_note=_opt_str(data, "_verify", "root"),
        )

    # ------------------------------------------------------------------ queries

    def services(self) -> list[tuple[str, Service]]:
        """Every service with the code of its country (``"international"`` for the fallback list)."""
        listed = [("international", s) for s in self.international.services]
        listed.extend((e.code, s) for e in self.entries for s in e.services)
        return listed

    def stale(self, today: dt.date, *, max_age_days: int = REVERIFY_AFTER_DAYS) -> list[tuple[str, Service]]:
        """Services never verified, or verified more than ``max_age_days`` before ``today``, oldest first."""
        cutoff = today - dt.timedelta(days=max_age_days)
        found = [(code, s) for code, s in self.services() if s.verified is None or s.verified < cutoff]
        return sorted(found, key=lambda item: (item[1].verified or dt.date.min, item[0], item[1].name))

    def countries(self) -> list[tuple[str, str]]:
        """``(code, name)`` pairs sorted by country name."""
        return [(e.code, e.country) for e in self.entries]

    def for_country(self, code: str) -> CountryResources | None:
        """Look up by ISO code (case-insensitive) or by an alias such as ``UK``."""
        key = code.strip()
        return self._by_code.get(key.upper()) or self._by_alias.get(_fold(key))

    def search(
        self, prefix: str, limit: int = MAX_SEARCH_RESULTS, names: Mapping[str, str] | None = None
    ) -> list[CountryResources]:
        """Autocomplete: entries whose code, name, alias or any word of them starts with ``prefix``.
        ``names``: each country's name in the searcher's language (by code), matched like the name.

        The match ignores case and accents. Results are ranked by exact code,
        then name prefix, then alias prefix, then word prefix, then
        alphabetically. At most ``limit`` entries are returned, capped at 25.
        """
        limit = max(0, min(limit, MAX_SEARCH_RESULTS))
        needle = _fold(prefix)
        if not needle:
            return list(self.entries[:limit])
        ranked: list[tuple[int, int, CountryResources]] = []
        for index, entry in enumerate(self.entries):
            rank = self._rank(entry, needle, (names or {}).get(entry.code))
            if rank is not None:
                ranked.append((rank, index, entry))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [entry for _, _, entry in ranked[:limit]]

    @staticmethod
    def _rank(entry: CountryResources, needle: str, local: str | None = None) -> int | None:
        code = entry.code.casefold()
        name = _fold(entry.country)
        aliases: Sequence[str] = [_fold(a) for a in entry.aliases]
        if local:
            aliases = [_fold(local), *aliases]
        if needle == code:
            return 0
        if name.startswith(needle) or (local and _fold(local).startswith(needle)):
            return 1
        if any(a.startswith(needle) for a in aliases):
            return 2
        if code.startswith(needle):
            return 3
        words = [w for text in (name, *aliases) for w in re.split(r"[\s\-/,()]+", text) if w]
        if any(w.startswith(needle) for w in words):
            return 4
        return None


@functools.lru_cache(maxsize=1)
def _load_default() -> CrisisDirectory:
    with open(DEFAULT_RESOURCES_PATH, encoding="utf-8") as fh:
        data = json.load(fh)
    return CrisisDirectory.from_dict(_obj(data, "root"))
