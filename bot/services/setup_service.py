"""Server setup: validated settings changes, each described for the audit line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.errors import InvalidInput
from bot.services.access import AccessService, Actor
from bot.services.timezones import validate_timezone
from bot.storage.guilds import GuildSettings, GuildSettingsRepository

RETENTION_RANGE = (1, 3650)
PURGE_RANGE = (1, 365)

RegionLookup = Callable[[str], str | None]
"""Given an ISO country code, its display name if crisis resources exist for it."""


@dataclass(frozen=True, slots=True)
class SettingChange:
    field: str
    old: Any
    new: Any
    description: str


LABELS = {
    "timezone": "the time zone",
    "region": "the country for crisis resources",
    "mod_channel_id": "the moderation channel",
    "coordinator_role_id": "the coordinator role",
    "retention_days": "how long circle data is kept (days)",
    "purge_after_days": "how long data is kept after the bot is removed (days)",
}


def _shown(field: str, value: Any) -> str:
    if value is None:
        return "not set"
    if field == "mod_channel_id":
        return f"<#{value}>"
    if field == "coordinator_role_id":
        return f"<@&{value}>"
    return str(value)


class SetupService:
    def __init__(
        self, settings: GuildSettingsRepository, access: AccessService, regions: RegionLookup, clock: Clock
    ) -> None:
        self.settings = settings
        self.access = access
        self.regions = regions
        self.clock = clock

    async def current(self, guild_id: int) -> GuildSettings:
        return await self.settings.get(guild_id)

    def region_name(self, code: str | None) -> str | None:
        return self.regions(code) if code else None

    async def apply(
        self,
        guild_id: int,
        actor: Actor,
        *,
        timezone: str | None = None,
        region: str | None = None,
        mod_channel_id: int | None = None,
        coordinator_role_id: int | None = None,
        retention_days: int | None = None,
        purge_after_days: int | None = None,
    ) -> tuple[GuildSettings, list[SettingChange]]:
        """Validate everything first, then store; nothing is stored if any value is wrong."""
        self.access.require_admin(actor)
        wanted: dict[str, Any] = {}
        if timezone is not None:
            wanted["timezone"] = validate_timezone(timezone)
        if region is not None:
            code = region.strip().upper()
            if self.regions(code) is None:
                raise InvalidInput(
                    f"I don't have crisis resources for “{region[:40]}”. Pick a country from the list; "
                    "people can always choose another country in /resources."
                )
            wanted["region"] = code
        if mod_channel_id is not None:
            wanted["mod_channel_id"] = mod_channel_id
        if coordinator_role_id is not None:
            wanted["coordinator_role_id"] = coordinator_role_id
        for name, value, (low, high) in (
            ("retention_days", retention_days, RETENTION_RANGE),
            ("purge_after_days", purge_after_days, PURGE_RANGE),
        ):
            if value is None:
                continue
            if not low <= value <= high:
                raise InvalidInput(f"{LABELS[name].capitalize()} must be between {low} and {high}.")
            wanted[name] = value
        before = await self.settings.get(guild_id)
        changed = {k: v for k, v in wanted.items() if getattr(before, k) != v}
        after = await self.settings.update(guild_id, self.clock.now(), **changed)
        changes = [
            SettingChange(
                name,
                getattr(before, name),
                value,
                f"changed {LABELS[name]} from {_shown(name, getattr(before, name))} to {_shown(name, value)}",
            )
            for name, value in changed.items()
        ]
        return after, changes
