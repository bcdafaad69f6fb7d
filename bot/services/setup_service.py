"""Server setup: validated settings changes, each described for the audit line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from babel import Locale

from bot import i18n
from bot.clock import Clock
from bot.errors import InvalidInput
from bot.i18n import N_, Msg, msg
from bot.services.access import AccessService, Actor
from bot.services.timezones import validate_timezone
from bot.storage.guilds import GuildSettings, GuildSettingsRepository

RETENTION_RANGE = (1, 3650)
PURGE_RANGE = (1, 365)
SERVER_LOCALE: Final = "discord"
"""The /setup language value that clears the server's language: Discord's server locale again."""

RegionLookup = Callable[[str], str | None]
"""Given an ISO country code, its display name if crisis resources exist for it."""


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One change, said twice: ``yours`` to the admin who made it ("You changed ..."), ``audit``
    after their name in the moderation channel ("changed ...")."""

    field: str
    old: Any
    new: Any
    audit: Msg
    yours: Msg


# Each setting as a change names it ("changed {setting} from {old} to {new}").
LABELS = {
    "timezone": N_("the time zone"),
    "region": N_("the country for crisis resources"),
    "mod_channel_id": N_("the moderation channel"),
    "coordinator_role_id": N_("the coordinator role"),
    "retention_days": N_("how long circle data is kept (days)"),
    "purge_after_days": N_("how long data is kept after the bot is removed (days)"),
    "language": N_("the server's language"),
}

OUT_OF_RANGE = {
    "retention_days": N_("How long circle data is kept (days) must be between {low} and {high}."),
    "purge_after_days": N_("How long data is kept after the bot is removed (days) must be between {low} and {high}."),
}

DISCORDS_LANGUAGE = N_("Discord's server language")


def language_name(language: str) -> str:
    """A language by its own name (CLDR): ``Deutsch``, ``español``, ``português (Brasil)``."""
    return str(Locale.parse(language).display_name or language)


def _shown(field: str, value: Any) -> str | Msg:
    if field == "language":
        return language_name(value) if value else msg(DISCORDS_LANGUAGE)
    if value is None:
        return msg("not set")
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

    async def remember_locales(self, locales: dict[int, str]) -> None:
        """Discord's locale of the servers this process sees (for another process answering a DM
        about one of them: bot.storage.guilds)."""
        await self.settings.remember_locales(locales)

    async def joined(self, guild_id: int, locale: str) -> None:
        """The bot was added to a server: its row exists from now on (whichever listener runs
        first), with Discord's locale."""
        await self.settings.ensure(guild_id, self.clock.now())
        await self.settings.remember_locales({guild_id: locale})

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
        language: str | None = None,
    ) -> tuple[GuildSettings, list[SettingChange]]:
        """Validate everything first, then store; nothing is stored if any value is wrong.

        ``language`` is a shipped language (``de``, ``pt_BR``) or :data:`SERVER_LOCALE` to go back
        to Discord's server locale."""
        self.access.require_admin(actor)
        wanted: dict[str, Any] = {}
        if timezone is not None:
            wanted["timezone"] = validate_timezone(timezone)
        if region is not None:
            code = region.strip().upper()
            if self.regions(code) is None:
                raise InvalidInput(
                    msg(
                        "I don't have crisis resources for “{region}”. Pick a country from the list; "
                        "people can always choose another country in /resources.",
                        region=region[:40],
                    )
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
                raise InvalidInput(msg(OUT_OF_RANGE[name], low=low, high=high))
            wanted[name] = value
        if language is not None:
            if language == SERVER_LOCALE:
                wanted["language"] = None
            elif language in i18n.languages():
                wanted["language"] = language
            else:
                raise InvalidInput(
                    msg("I can't speak “{language}” yet. Pick a language from the list.", language=language[:20])
                )
        before = await self.settings.get(guild_id)
        changed = {k: v for k, v in wanted.items() if getattr(before, k) != v}
        after = await self.settings.update(guild_id, self.clock.now(), **changed)
        changes = []
        for name, value in changed.items():
            setting = msg(LABELS[name])
            old, new = _shown(name, getattr(before, name)), _shown(name, value)
            changes.append(
                SettingChange(
                    name,
                    getattr(before, name),
                    value,
                    # Translators: {setting} is a setting, like "the time zone".
                    msg("changed {setting} from {old} to {new}", setting=setting, old=old, new=new),
                    msg("You changed {setting} from {old} to {new}", setting=setting, old=old, new=new),
                )
            )
        return after, changes
