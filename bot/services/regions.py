"""Countries with crisis resources, for autocomplete and validation."""

from __future__ import annotations

from typing import Protocol


class RegionDirectory(Protocol):
    def name_of(self, code: str) -> str | None:
        """The country's name if crisis resources exist for it."""
        ...

    def search(self, query: str) -> list[tuple[str, str]]:
        """Up to 25 (code, name) pairs matching the query."""
        ...


class CrisisRegions:
    """Countries that have crisis resources in ``data/crisis_resources.json``."""

    def __init__(self) -> None:
        from bot.resources import CrisisDirectory

        self._directory = CrisisDirectory.load()

    def name_of(self, code: str) -> str | None:
        found = self._directory.for_country(code.strip().upper())
        return found.country if found else None

    def search(self, query: str) -> list[tuple[str, str]]:
        return [(c.code, c.country) for c in self._directory.search(query)][:25]
