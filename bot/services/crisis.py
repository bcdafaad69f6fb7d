"""Crisis resources as plain text sections, shared by /resources and every safety interception."""

from __future__ import annotations

from bot.resources import CountryResources, CrisisDirectory, InternationalResources, Service

OPENING = (
    "## Support, right now\n"
    "You don't have to go through this alone. These services are free, confidential and there to listen."
)


def _service_line(service: Service) -> str:
    parts = []
    if service.phone:
        parts.append(f"call **{service.phone}**")
    if service.text:
        spelled_out = service.text.lower().startswith(("text", "sms", "whatsapp", "caretext"))
        parts.append(service.text if spelled_out else f"text {service.text}")
    if service.hours:
        parts.append(service.hours)
    if service.web:
        parts.append(service.web)
    line = f"- **{service.name}**: " + " · ".join(parts)
    return line + (f"\n  -# {service.notes}" if service.notes else "")


def country_section(country: CountryResources) -> str:
    lines = [f"**{country.country}**", f"In immediate danger? Call **{country.emergency}**."]
    lines.extend(_service_line(s) for s in country.services)
    return "\n".join(lines)


def international_section(international: InternationalResources) -> str:
    lines = ["**Anywhere in the world**"]
    if international.notes:
        lines.append(international.notes)
    lines.extend(_service_line(s) for s in international.services)
    return "\n".join(lines)


class CrisisResources:
    """Text for one person: their chosen country (or the server's), then the international list."""

    def __init__(self, directory: CrisisDirectory | None = None) -> None:
        self.directory = directory or CrisisDirectory.load()

    def sections(self, country_code: str | None, *, chosen: bool = False) -> list[str]:
        country = self.directory.for_country(country_code) if country_code else None
        sections = [OPENING]
        if country is not None:
            sections.append(country_section(country))
        sections.append(international_section(self.directory.international))
        if country is None:
            footer = "Pick your country to see lines near you: /resources country:<name>."
        elif chosen:
            footer = "Another country: /resources country:<name>."
        else:
            footer = f"Showing {country.country} because this server is set to it. Another country: /resources country:<name>."
        sections.append(
            f"-# {footer} If a number doesn't work, findahelpline.com lists current lines. "
            "Peers in this server support each other, but they are not emergency services."
        )
        return sections

    def search(self, query: str) -> list[tuple[str, str]]:
        return [(c.code, c.country) for c in self.directory.search(query)]

    def name_of(self, code: str) -> str | None:
        found = self.directory.for_country(code)
        return found.country if found else None
