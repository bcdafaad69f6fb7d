"""The personal-data registry: one place that knows every table holding data about a person.

Each feature's repository registers itself as a :class:`PersonalDataSource` naming its tables.
``/privacy`` export and delete, circle leave, the daily retention job and the purge of a server
the bot was removed from all go through :class:`PersonalDataRegistry`, and
:func:`uncovered_tables` lets a test fail when a new table with a person column is not covered.

Naming convention (checked by that test): a column that identifies a person is called
``user_id`` or ends in ``_user_id``, ``user_hash`` or ``user_enc`` (keyed hash / encrypted id).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

PERSON_COLUMN = re.compile(r"(^|_)user_(id|hash|enc)$")

ExportRows = dict[str, list[dict[str, Any]]]


class PersonalDataSource(Protocol):
    """A repository that stores data about people. Every method is scoped to one server."""

    name: str
    tables: tuple[str, ...]
    summary: str
    """One plain-language line for /about and /privacy: what is kept, and for how long."""

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        """Every row about this person in this server, by table name."""
        ...

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        """Erase (or unlink) everything about this person in this server; return rows affected."""
        ...

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        """Erase what is about this person in one circle (when they leave it)."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Delete what has passed its retention period; return rows affected."""
        ...

    async def delete_guild(self, guild_id: int) -> int:
        """Delete everything this source keeps for a server."""
        ...


class PersonalDataRegistry:
    def __init__(self) -> None:
        self._sources: dict[str, PersonalDataSource] = {}

    def register(self, source: PersonalDataSource) -> None:
        if source.name in self._sources:
            raise ValueError(f"A personal-data source named {source.name!r} is already registered")
        self._sources[source.name] = source

    @property
    def sources(self) -> list[PersonalDataSource]:
        return list(self._sources.values())

    def covered_tables(self) -> set[str]:
        return {table for source in self._sources.values() for table in source.tables}

    def summaries(self) -> list[str]:
        return [s.summary for s in self._sources.values() if s.summary]

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        export: ExportRows = {}
        for source in self._sources.values():
            for table, rows in (await source.export_user(guild_id, user_id)).items():
                export.setdefault(table, []).extend(rows)
        return export

    async def delete_user(self, guild_id: int, user_id: int) -> dict[str, int]:
        return {name: await source.delete_user(guild_id, user_id) for name, source in self._sources.items()}

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> dict[str, int]:
        return {
            name: await source.delete_user_in_circle(guild_id, circle_id, user_id)
            for name, source in self._sources.items()
        }

    async def purge_expired(self, now: datetime) -> dict[str, int]:
        return {name: await source.purge_expired(now) for name, source in self._sources.items()}

    async def delete_guild(self, guild_id: int) -> dict[str, int]:
        return {name: await source.delete_guild(guild_id) for name, source in self._sources.items()}


def person_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if PERSON_COLUMN.search(c)]


def uncovered_tables(schema: Mapping[str, list[str]], registry: PersonalDataRegistry) -> list[str]:
    """Tables with a person column that no registered source covers."""
    covered = registry.covered_tables()
    return sorted(t for t, cols in schema.items() if person_columns(cols) and t not in covered)
