"""Crisis resources as plain text sections, shared by /resources and every safety interception.

In the reader's language: the words around the numbers come from the catalogues, the directory's
notes, hours and emergency numbers too (``bot/catalogues.py`` extracts them from
``data/crisis_resources.json``), country names from CLDR; service names stay as published.
"""

from __future__ import annotations

from bot.i18n import SOURCE, Speaker
from bot.resources import CountryResources, CrisisDirectory, InternationalResources, Service


def opening(t: Speaker) -> str:
    return (
        t("## Support, right now")
        + "\n"
        + t("You don't have to go through this alone. These services are free, confidential and there to listen.")
    )


def _service_line(service: Service, t: Speaker) -> str:
    parts = []
    if service.phone:
        parts.append(t("call **{number}**", number=service.phone))
    if service.text:
        spelled_out = service.text.lower().startswith(("text", "sms", "whatsapp", "caretext"))
        parts.append(t(service.text) if spelled_out else t("text {number}", number=service.text))
    if service.hours:
        parts.append(t(service.hours))
    if service.web:
        parts.append(service.web)
    line = f"- **{service.name}**: " + " · ".join(parts)
    return line + (f"\n  -# {t(service.notes)}" if service.notes else "")


def country_name(country: CountryResources, t: Speaker) -> str:
    """The country's name in the reader's language (CLDR), as the directory spells it in English."""
    if t.language == SOURCE:
        return country.country
    return str(t.locale.territories.get(country.code, country.country))


def country_section(country: CountryResources, t: Speaker) -> str:
    lines = [
        f"**{country_name(country, t)}**",
        t("In immediate danger? Call **{number}**.", number=t(country.emergency)),
    ]
    lines.extend(_service_line(s, t) for s in country.services)
    return "\n".join(lines)


def international_section(international: InternationalResources, t: Speaker) -> str:
    lines = ["**" + t("Anywhere in the world") + "**"]
    if international.notes:
        lines.append(t(international.notes))
    lines.extend(_service_line(s, t) for s in international.services)
    return "\n".join(lines)


class CrisisResources:
    """Text for one person: their chosen country (or the server's), then the international list."""

    def __init__(self, directory: CrisisDirectory | None = None) -> None:
        self.directory = directory or CrisisDirectory.load()

    def sections(self, country_code: str | None, *, t: Speaker, chosen: bool = False) -> list[str]:
        country = self.directory.for_country(country_code) if country_code else None
        sections = [opening(t)]
        if country is not None:
            sections.append(country_section(country, t))
        sections.append(international_section(self.directory.international, t))
        if country is None:
            footer = t("Pick your country to see lines near you: /resources country:<name>.")
        elif chosen:
            footer = t("Another country: /resources country:<name>.")
        else:
            footer = t(
                "Showing {country} because this server is set to it. Another country: /resources country:<name>.",
                country=country_name(country, t),
            )
        sections.append(
            "-# "
            + footer
            + " "
            + t(
                "If a number doesn't work, findahelpline.com lists current lines. "
                "Peers in this server support each other, but they are not emergency services."
            )
        )
        return sections

    def search(self, query: str, t: Speaker | None = None) -> list[tuple[str, str]]:
        """Countries matching what was typed: their code, English name, aliases, endonyms and, with
        ``t``, their name in the searcher's language (a German types "Österreich" or "Schweiz")."""
        names = None
        if t is not None and t.language != SOURCE:
            names = {e.code: str(t.locale.territories.get(e.code, e.country)) for e in self.directory.entries}
        return [(c.code, c.country) for c in self.directory.search(query, names=names)]

    def name_of(self, code: str) -> str | None:
        found = self.directory.for_country(code)
        return found.country if found else None
