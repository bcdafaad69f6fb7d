"""Which commands a person can use, grouped by the role they play."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.i18n import N_


class Audience(StrEnum):
    MEMBER = "member"
    LISTENER = "listener"
    FACILITATOR = "facilitator"
    ADMIN = "admin"

    @property
    def heading(self) -> str:
        """English, marked for the catalogues: /help shows it in the reader's language."""
        return {
            Audience.MEMBER: N_("For everyone"),
            Audience.LISTENER: N_("For volunteer listeners"),
            Audience.FACILITATOR: N_("For facilitators and coordinators"),
            Audience.ADMIN: N_("For server admins"),
        }[self]


@dataclass(frozen=True, slots=True)
class CommandEntry:
    name: str
    description: str
    audience: Audience


@dataclass(frozen=True, slots=True)
class Viewer:
    """What the bot knows about the person asking: the roles they play here."""

    is_admin: bool = False
    is_facilitator: bool = False
    is_listener: bool = False
    in_server: bool = True

    def can_see(self, audience: Audience) -> bool:
        if audience is Audience.MEMBER:
            return True
        if audience is Audience.LISTENER:
            return self.is_listener or self.is_admin
        if audience is Audience.FACILITATOR:
            return self.is_facilitator or self.is_admin
        return self.is_admin


def group_for(viewer: Viewer, entries: list[CommandEntry]) -> list[tuple[Audience, list[CommandEntry]]]:
    """The entries this viewer may use, grouped in a fixed order, sorted by name."""
    groups: list[tuple[Audience, list[CommandEntry]]] = []
    for audience in Audience:
        if not viewer.can_see(audience):
            continue
        found = sorted((e for e in entries if e.audience is audience), key=lambda e: e.name)
        if found:
            groups.append((audience, found))
    return groups
